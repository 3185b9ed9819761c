use super::*;

pub(super) fn drain(t: &mut CallTable) -> Vec<CallAction> {
    std::iter::from_fn(|| t.poll_action()).collect()
}

pub(super) fn notifies(actions: &[CallAction]) -> Vec<Event> {
    actions
        .iter()
        .filter_map(|a| match a {
            CallAction::Page(e) => e.event(),
            _ => None,
        })
        .collect()
}

pub(super) fn sip(actions: &[CallAction]) -> Vec<CallAction> {
    actions
        .iter()
        .filter(|a| !matches!(a, CallAction::Page(_) | CallAction::Media(_)))
        .cloned()
        .collect()
}

fn peer() -> Peer {
    Peer {
        number: "1002".into(),
        display_name: "Bob".into(),
    }
}

fn ended_reason(actions: &[CallAction]) -> Option<u64> {
    actions.iter().find_map(|a| match a {
        CallAction::Page(e) if e.event() == Some(Event::CallEnded) => {
            e.param["callInfo"]["reasonCode"].as_u64()
        }
        _ => None,
    })
}

#[test]
fn outgoing_call_rings_connects_and_ends_by_remote_bye() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.outgoing(7, peer(), false);
    let a = drain(&mut t);
    assert_eq!(notifies(&a), vec![Event::CallOutgoing]);
    let CallAction::Page(e) = &a[0] else { panic!() };
    assert_eq!(e.param["call_id"], 7);
    assert_eq!(e.param["callInfo"]["callState"], 2);
    assert_eq!(e.param["callInfo"]["isCaller"], 1);
    assert_eq!(e.param["callInfo"]["sipAccountID"], 0);
    t.ringing(7, false);
    assert_eq!(notifies(&drain(&mut t)), vec![Event::CallRingback]);
    t.connected(t0, 7);
    let a = drain(&mut t);
    assert_eq!(notifies(&a), vec![Event::CallConnected]);
    assert!(a.contains(&CallAction::Media(CallEvent::Connected { call_id: 7 })));
    t.media_up(7);
    t.media_up(7);
    assert_eq!(
        notifies(&drain(&mut t)),
        vec![Event::CallRtpCreated],
        "RTP created once"
    );
    t.ended(7, 0);
    let a = drain(&mut t);
    assert_eq!(notifies(&a), vec![Event::CallEnded]);
    assert_eq!(ended_reason(&a), Some(0));
    assert!(t.is_empty());
}

#[test]
fn busy_callee_ends_with_486() {
    let mut t = CallTable::new(2);
    t.outgoing(1, peer(), false);
    t.ended(1, 486);
    let a = drain(&mut t);
    assert_eq!(ended_reason(&a), Some(486));
}

#[test]
fn page_ends_each_state_with_the_fitting_sip_action() {
    let t0 = Instant::now();
    let mut t = CallTable::new(4);
    t.outgoing(1, peer(), false);
    t.incoming(t0, 2, peer(), false, None);
    t.outgoing(3, peer(), false);
    t.connected(t0, 3);
    drain(&mut t);
    t.end(1).unwrap();
    let a = drain(&mut t);
    assert_eq!(sip(&a), vec![CallAction::Cancel(1)]);
    assert_eq!(ended_reason(&a), Some(487));
    t.end(2).unwrap();
    assert_eq!(sip(&drain(&mut t)), vec![CallAction::Reject(2, 486)]);
    t.end(3).unwrap();
    let a = drain(&mut t);
    assert_eq!(sip(&a), vec![CallAction::Bye(3)]);
    assert_eq!(ended_reason(&a), Some(0));
}

#[test]
fn ending_an_unknown_call_is_not_found_plus_2022() {
    let mut t = CallTable::new(2);
    let err = t.end(99).unwrap_err();
    assert_eq!(err.result, result::NOT_FOUND);
    let a = drain(&mut t);
    let CallAction::Page(e) = &a[0] else { panic!() };
    assert_eq!(e.event(), Some(Event::EndCallFailed));
    assert_eq!(e.param["result"], 50_331_670u64);
}

#[test]
fn incoming_call_is_offered_to_the_page_and_accepted() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    assert!(t.incoming(t0, 5, peer(), true, None));
    let a = drain(&mut t);
    let CallAction::Page(e) = &a[0] else { panic!() };
    assert_eq!(e.event(), Some(Event::CallIncoming));
    assert_eq!(e.param["maybeVideoCall"], 1);
    assert_eq!(e.param["callInfo"]["peerNumber"], "1002");
    assert_eq!(e.param["callInfo"]["peerDisplayName"], "Bob");
    assert_eq!(e.param["callInfo"]["callState"], 1);
    t.accept(5).unwrap();
    assert_eq!(sip(&drain(&mut t)), vec![CallAction::Answer(5)]);
    t.connected(t0, 5);
    assert_eq!(notifies(&drain(&mut t)), vec![Event::CallConnected]);
    assert_eq!(t.accept(5).unwrap_err().result, result::WRONG_STATE);
    assert_eq!(t.accept(6).unwrap_err().result, result::NOT_FOUND);
}

#[test]
fn auto_answer_answers_after_the_set_seconds() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.set_mode(AnswerMode::AutoAnswer(3));
    t.incoming(t0, 5, peer(), false, None);
    let a = drain(&mut t);
    let CallAction::Page(e) = &a[0] else { panic!() };
    assert_eq!(e.param["callInfo"]["isAutoAnswer"], 1);
    assert_eq!(e.param["callInfo"]["autoAnswerReason"], "answerWay");
    assert!(a.contains(&CallAction::Media(CallEvent::Incoming {
        call_id: 5,
        auto_answer: true
    })));
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(3)));
    t.handle_timeout(t0 + Duration::from_millis(2999));
    assert!(drain(&mut t).is_empty());
    t.handle_timeout(t0 + Duration::from_secs(3));
    assert_eq!(sip(&drain(&mut t)), vec![CallAction::Answer(5)]);
}

#[test]
fn platform_answer_after_is_honoured_without_answer_mode() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.incoming(t0, 5, peer(), false, Some(0));
    let a = drain(&mut t);
    let CallAction::Page(e) = &a[0] else { panic!() };
    assert_eq!(e.param["callInfo"]["isAutoAnswer"], 1);
    assert_eq!(e.param["callInfo"]["autoAnswerReason"], "platform");
    t.handle_timeout(t0);
    let a = drain(&mut t);
    assert_eq!(sip(&a), vec![CallAction::Answer(5)]);
    t.connected(t0, 5);
    let a = drain(&mut t);
    let CallAction::Page(up) = &a[0] else {
        panic!()
    };
    assert_eq!(up.notify, 2006);
    assert_eq!(
        up.param["callInfo"]["autoAnswerReason"], "platform",
        "the connected call still says why it was answered"
    );
}

#[test]
fn a_call_the_agent_answers_has_no_auto_answer_reason() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.incoming(t0, 5, peer(), false, None);
    let a = drain(&mut t);
    let CallAction::Page(e) = &a[0] else { panic!() };
    assert_eq!(e.param["callInfo"]["isAutoAnswer"], 0);
    assert_eq!(e.param["callInfo"]["autoAnswerReason"], "");
    assert_eq!(t.poll_timeout(), None, "nothing answers it by itself");
}

#[test]
fn auto_hangup_ends_the_call_after_the_set_seconds_of_talk() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.set_mode(AnswerMode::AutoHangup(10));
    t.incoming(t0, 5, peer(), false, None);
    t.accept(5).unwrap();
    let t1 = t0 + Duration::from_secs(4);
    t.connected(t1, 5);
    drain(&mut t);
    assert_eq!(t.poll_timeout(), Some(t1 + Duration::from_secs(10)));
    t.handle_timeout(t1 + Duration::from_secs(10));
    let a = drain(&mut t);
    assert_eq!(sip(&a), vec![CallAction::Bye(5)]);
    assert_eq!(notifies(&a), vec![Event::CallEnded]);
}

#[test]
fn do_not_disturb_refuses_with_486_silently() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.set_mode(AnswerMode::DoNotDisturb);
    assert!(!t.incoming(t0, 5, peer(), false, None));
    assert_eq!(drain(&mut t), vec![CallAction::Reject(5, 486)]);
    assert!(t.is_empty());
}

#[test]
fn calls_beyond_max_calls_are_refused_with_486() {
    let t0 = Instant::now();
    let mut t = CallTable::new(1);
    t.outgoing(1, peer(), false);
    drain(&mut t);
    assert!(!t.incoming(t0, 2, peer(), false, None));
    assert_eq!(drain(&mut t), vec![CallAction::Reject(2, 486)]);
}

#[test]
fn dtmf_goes_to_a_call_we_have() {
    let mut t = CallTable::new(2);
    t.outgoing(1, peer(), false);
    assert_eq!(t.may_send_dtmf(1), Ok(()));
    let none = t.may_send_dtmf(2).unwrap_err();
    assert_eq!(
        (none.result, none.message.as_str()),
        (result::NOT_FOUND, "no call 2")
    );
}

#[test]
fn a_dialog_ending_ends_the_call_unless_our_invite_is_unanswered() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.outgoing(1, peer(), false);
    assert!(!t.ends_with_dialog(1), "the INVITE may go out again");
    t.connected(t0, 1);
    assert!(t.ends_with_dialog(1));
    t.incoming(t0, 2, peer(), false, None);
    assert!(t.ends_with_dialog(2), "a ringing call ends with its dialog");
}

#[test]
fn a_call_is_placed_only_registered_and_below_max_calls() {
    let mut t = CallTable::new(1);
    let refused = t.may_place(false).unwrap_err();
    assert_eq!(refused.result, result::WRONG_STATE);
    assert_eq!(refused.message, "not registered: call register first");
    assert_eq!(t.may_place(true), Ok(()));
    t.outgoing(1, peer(), false);
    let full = t.may_place(true).unwrap_err();
    assert_eq!(full.result, result::WRONG_STATE);
    assert_eq!(full.message, "already 1 calls (max_calls)");
}

#[test]
fn waiting_call_accept_holds_the_live_call_first() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.set_mode(AnswerMode::AutoAnswer(0));
    t.incoming(t0, 1, peer(), false, None);
    t.handle_timeout(t0);
    t.connected(t0, 1);
    drain(&mut t);
    // A second call rings as call waiting, never auto-answered.
    t.incoming(t0, 2, peer(), false, None);
    let a = drain(&mut t);
    assert_eq!(notifies(&a), vec![Event::CallIncoming]);
    assert!(a.contains(&CallAction::Media(CallEvent::Incoming {
        call_id: 2,
        auto_answer: false
    })));
    t.accept(2).unwrap();
    assert_eq!(
        sip(&drain(&mut t)),
        vec![CallAction::Hold(1), CallAction::Answer(2)]
    );
    assert!(t.hold_done(1, true, 200).is_ok());
    assert_eq!(notifies(&drain(&mut t)), vec![Event::HoldSuccess]);
    assert_eq!(t.state(1), Some(CallState::Hold));
}

#[test]
fn unanswered_waiting_call_ends_after_30_s_with_480() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.outgoing(1, peer(), false);
    t.connected(t0, 1);
    t.incoming(t0, 2, peer(), false, None);
    drain(&mut t);
    t.handle_timeout(t0 + Duration::from_secs(29));
    assert!(drain(&mut t).is_empty());
    t.handle_timeout(t0 + WAITING_LIMIT);
    let a = drain(&mut t);
    assert_eq!(sip(&a), vec![CallAction::Reject(2, 480)]);
    assert_eq!(ended_reason(&a), Some(480));
    assert_eq!(t.state(1), Some(CallState::Live));
}

#[test]
fn hold_and_unhold_report_success_and_failure() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.outgoing(1, peer(), false);
    assert_eq!(t.hold(1).unwrap_err().result, result::WRONG_STATE);
    t.connected(t0, 1);
    drain(&mut t);
    assert_eq!(t.unhold(1).unwrap_err().result, result::WRONG_STATE);
    t.hold(1).unwrap();
    assert_eq!(sip(&drain(&mut t)), vec![CallAction::Hold(1)]);
    assert_eq!(
        t.hold(1).unwrap_err().result,
        result::WRONG_STATE,
        "one at a time"
    );
    assert!(t.hold_done(1, true, 488).is_err());
    assert_eq!(notifies(&drain(&mut t)), vec![Event::HoldFailed]);
    assert_eq!(t.state(1), Some(CallState::Live));
    t.hold(1).unwrap();
    assert!(t.hold_done(1, true, 200).is_ok());
    let a = drain(&mut t);
    assert_eq!(notifies(&a), vec![Event::HoldSuccess]);
    assert!(a.contains(&CallAction::Media(CallEvent::Held { call_id: 1 })));
    t.unhold(1).unwrap();
    assert!(t.hold_done(1, false, 200).is_ok());
    assert_eq!(notifies(&drain(&mut t)), vec![Event::UnholdSuccess]);
    assert_eq!(t.state(1), Some(CallState::Live));
    t.hold(1).unwrap();
    assert!(t.hold_done(1, true, 200).is_ok());
    t.unhold(1).unwrap();
    assert!(t.hold_done(1, false, 488).is_err());
    assert_eq!(notifies(&drain(&mut t))[1], Event::UnholdFailed);
}

#[test]
fn the_page_hears_why_a_hold_failed() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.outgoing(1, peer(), false);
    t.connected(t0, 1);
    t.hold(1).unwrap();
    let refused = t.hold_done(1, true, 488).unwrap_err();
    assert_eq!(refused.result, result::REFUSED);
    assert!(refused.message.contains("488"), "{}", refused.message);
    t.hold(1).unwrap();
    let silent = t.hold_done(1, true, 408).unwrap_err();
    assert_eq!(silent.result, result::TIMED_OUT, "a proxy's 408 is silence");
    t.hold(1).unwrap();
    assert_eq!(
        t.hold_done(1, true, requests::final_status(None))
            .unwrap_err()
            .result,
        result::TIMED_OUT
    );
    t.hold(1).unwrap();
    t.end(1).unwrap();
    let gone = t.hold_done(1, true, 200).unwrap_err();
    assert_eq!(gone.result, result::FAILED, "the call ended meanwhile");
}

#[test]
fn snapshot_has_the_latest_event_of_each_call() {
    let t0 = Instant::now();
    let mut t = CallTable::new(3);
    t.outgoing(1, peer(), false);
    t.ringing(1, true);
    t.incoming(t0, 2, peer(), false, None);
    let s = t.snapshot();
    assert_eq!(
        s.iter().filter_map(|e| e.event()).collect::<Vec<_>>(),
        vec![Event::CallRingback, Event::CallIncoming]
    );
}

#[test]
fn snapshot_keeps_the_life_cycle_event_not_rtp_created() {
    let mut t = CallTable::new(3);
    t.outgoing(1, peer(), false);
    t.connected(Instant::now(), 1);
    t.media_up(1);
    let s = t.snapshot();
    assert_eq!(
        s.iter().filter_map(|e| e.event()).collect::<Vec<_>>(),
        vec![Event::CallConnected]
    );
    assert_eq!(s[0].param["callInfo"]["callState"], 3);
}

#[test]
fn answer_way_parses_strings_and_numbers_and_refuses_the_rest() {
    let p = |w: Value, n: Value| AnswerMode::parse(&w, &n);
    assert_eq!(p(json!("2"), json!("3")), Ok(AnswerMode::AutoAnswer(3)));
    assert_eq!(p(json!(1), json!(10)), Ok(AnswerMode::AutoHangup(10)));
    assert_eq!(p(json!("4"), Value::Null), Ok(AnswerMode::DoNotDisturb));
    assert_eq!(p(json!("0"), json!("")), Ok(AnswerMode::Off));
    assert!(p(json!("3"), json!(1)).is_err());
    assert!(p(json!("x"), json!(1)).is_err());
    assert!(p(json!("2"), json!(-1)).is_err());
    assert!(p(json!("2"), json!("abc")).is_err());
    assert!(p(json!([]), json!(1)).is_err());
}

#[test]
fn session_timer_ends_a_call_the_peer_stopped_refreshing() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.incoming(t0, 5, peer(), false, None);
    t.accept(5).unwrap();
    t.connected(t0, 5);
    t.session_timer(t0, 5, Duration::from_secs(90), false);
    drain(&mut t);
    // RFC 4028 §10: the non-refresher gives up min(32, SE/3) = 30 s early.
    let t1 = t0 + Duration::from_secs(50);
    t.session_refreshed(t1, 5);
    t.handle_timeout(t0 + Duration::from_secs(60));
    assert!(drain(&mut t).is_empty(), "refreshed in time");
    assert_eq!(t.poll_timeout(), Some(t1 + Duration::from_secs(60)));
    t.handle_timeout(t1 + Duration::from_secs(59));
    assert!(drain(&mut t).is_empty());
    t.handle_timeout(t1 + Duration::from_secs(60));
    let a = drain(&mut t);
    assert_eq!(sip(&a), vec![CallAction::Bye(5)]);
    assert_eq!(notifies(&a), vec![Event::CallEnded]);
    assert_eq!(ended_reason(&a), Some(408));
    assert!(t.is_empty());
}

#[test]
fn long_session_intervals_give_up_32_s_early_and_short_ones_are_raised_to_90() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.outgoing(1, peer(), false);
    t.connected(t0, 1);
    t.session_timer(t0, 1, Duration::from_secs(1800), false);
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(1768)));
    t.session_timer(t0, 1, Duration::from_secs(10), false);
    assert_eq!(t.session(1), Some((Duration::from_secs(90), false)));
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(60)));
}

#[test]
fn the_refresher_refreshes_every_half_interval_and_one_at_a_time() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.outgoing(1, peer(), false);
    t.connected(t0, 1);
    t.session_timer(t0, 1, Duration::from_secs(90), true);
    drain(&mut t);
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(45)));
    t.handle_timeout(t0 + Duration::from_secs(44));
    assert!(drain(&mut t).is_empty());
    let t1 = t0 + Duration::from_secs(45);
    t.handle_timeout(t1);
    assert_eq!(drain(&mut t), vec![CallAction::Refresh(1)]);
    // Under way: no second refresh, only the expiry is left.
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    t.handle_timeout(t1 + Duration::from_secs(1));
    assert!(drain(&mut t).is_empty());
    let t2 = t1 + Duration::from_secs(2);
    t.session_refreshed(t2, 1);
    assert_eq!(t.poll_timeout(), Some(t2 + Duration::from_secs(45)));
    t.handle_timeout(t2 + Duration::from_secs(45));
    assert_eq!(drain(&mut t), vec![CallAction::Refresh(1)]);
    assert_eq!(t.state(1), Some(CallState::Live), "the call goes on");
}

#[test]
fn a_refresh_waits_for_a_hold_under_way() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.outgoing(1, peer(), false);
    t.connected(t0, 1);
    t.session_timer(t0, 1, Duration::from_secs(90), true);
    t.hold(1).unwrap();
    drain(&mut t);
    let t1 = t0 + Duration::from_secs(45);
    t.handle_timeout(t1);
    assert!(drain(&mut t).is_empty(), "no re-INVITE beside the hold");
    assert!(t.hold_done(1, true, 200).is_ok());
    drain(&mut t);
    t.handle_timeout(t1 + Duration::from_secs(1));
    assert_eq!(drain(&mut t), vec![CallAction::Refresh(1)]);
}

#[test]
fn a_refresh_answered_408_or_481_ends_the_call_other_refusals_wait_for_expiry() {
    let t0 = Instant::now();
    let mut t = CallTable::new(3);
    for id in [1, 2] {
        t.outgoing(id, peer(), false);
        t.connected(t0, id);
        t.session_timer(t0, id, Duration::from_secs(90), true);
    }
    drain(&mut t);
    t.handle_timeout(t0 + Duration::from_secs(45));
    drain(&mut t);
    t.refresh_failed(1, 481);
    let a = drain(&mut t);
    assert_eq!(sip(&a), vec![CallAction::Bye(1)]);
    assert_eq!(ended_reason(&a), Some(481));
    t.refresh_failed(2, 500);
    assert!(drain(&mut t).is_empty(), "the session may still live");
    t.handle_timeout(t0 + Duration::from_secs(60));
    let a = drain(&mut t);
    assert_eq!(sip(&a), vec![CallAction::Bye(2)]);
    assert_eq!(ended_reason(&a), Some(408));
    t.refresh_failed(2, 408);
    assert!(drain(&mut t).is_empty(), "an ended call is left alone");
}

#[test]
fn a_422_is_retried_once_with_the_peers_min_se() {
    let mut t = CallTable::new(2);
    t.outgoing(1, peer(), false);
    drain(&mut t);
    assert_eq!(t.invite_session_expires(1), SESSION_EXPIRES);
    t.invite_failed(1, 422, InviteFailure::TooSmall(Some(3600)));
    assert_eq!(drain(&mut t), vec![CallAction::RetryInvite(1, Some(3600))]);
    assert_eq!(t.invite_session_expires(1), 3600);
    assert_eq!(
        t.state(1),
        Some(CallState::Outgoing),
        "still ringing for the page"
    );
    t.invite_failed(1, 422, InviteFailure::TooSmall(Some(7200)));
    let a = drain(&mut t);
    assert_eq!(sip(&a), vec![], "once only");
    assert_eq!(ended_reason(&a), Some(422));
}

#[test]
fn a_422_without_a_larger_min_se_ends_the_call() {
    let mut t = CallTable::new(3);
    t.outgoing(1, peer(), false);
    t.outgoing(2, peer(), false);
    drain(&mut t);
    t.invite_failed(1, 422, InviteFailure::TooSmall(None));
    assert_eq!(ended_reason(&drain(&mut t)), Some(422));
    t.invite_failed(2, 422, InviteFailure::TooSmall(Some(SESSION_EXPIRES)));
    assert_eq!(ended_reason(&drain(&mut t)), Some(422));
}

#[test]
fn a_second_challenge_is_answered_once_then_the_call_fails() {
    let mut t = CallTable::new(2);
    t.outgoing(1, peer(), false);
    drain(&mut t);
    t.invite_failed(1, 401, InviteFailure::NewChallenge);
    assert_eq!(drain(&mut t), vec![CallAction::RetryInvite(1, None)]);
    t.invite_failed(1, 401, InviteFailure::NewChallenge);
    let a = drain(&mut t);
    assert_eq!(sip(&a), vec![]);
    assert_eq!(notifies(&a), vec![Event::CallEnded]);
    assert_eq!(ended_reason(&a), Some(401));
    t.invite_failed(1, 403, InviteFailure::Final);
    assert!(drain(&mut t).is_empty(), "an ended call is left alone");
}

#[test]
fn media_timeout_hangs_up_a_live_call_with_reason_408() {
    let mut t = CallTable::new(3);
    t.outgoing(1, peer(), false);
    t.connected(Instant::now(), 1);
    drain(&mut t);
    t.media_timeout(1);
    let actions = drain(&mut t);
    assert!(actions.iter().any(|a| matches!(a, CallAction::Bye(1))));
    let ended = actions
        .iter()
        .find_map(|a| match a {
            CallAction::Page(e) if e.event() == Some(Event::CallEnded) => Some(e.clone()),
            _ => None,
        })
        .expect("call ended");
    assert_eq!(ended.param["callInfo"]["reasonCode"], 408);
}

#[test]
fn media_that_cannot_run_ends_the_call_with_488_and_the_reason() {
    let mut t = CallTable::new(3);
    t.outgoing(1, peer(), false);
    t.connected(Instant::now(), 1);
    drain(&mut t);
    t.media_failed(
        1,
        "audio: no common audio codec: the answer has [PCMU], we offered [opus]",
    );
    let a = drain(&mut t);
    assert_eq!(sip(&a), vec![CallAction::Bye(1)]);
    assert_eq!(notifies(&a), vec![Event::CallEnded]);
    let e = a
        .iter()
        .find_map(|x| match x {
            CallAction::Page(e) => Some(e),
            _ => None,
        })
        .expect("call ended");
    assert_eq!(e.param["callInfo"]["reasonCode"], 488);
    assert_eq!(
        e.param["callInfo"]["reasonDescription"],
        "media failed: audio: no common audio codec: the answer has [PCMU], we offered [opus]"
    );
    assert!(a.contains(&CallAction::Media(CallEvent::Ended {
        call_id: 1,
        reason_code: 488
    })));
    // Told again (another stream, a late signal): the call is gone already.
    t.media_failed(1, "again");
    assert!(drain(&mut t).is_empty());
    // Early media that cannot start cancels the call still ringing.
    t.outgoing(2, peer(), false);
    drain(&mut t);
    t.media_failed(2, "audio: bad keys");
    assert_eq!(sip(&drain(&mut t)), vec![CallAction::Cancel(2)]);
}

#[test]
fn call_ids_are_never_zero_and_never_one_in_use() {
    let mut t = CallTable::new(4).starting_at(u32::MAX - 1);
    let a = t.new_id();
    t.outgoing(a, peer(), false);
    let b = t.new_id();
    assert_eq!((a, b), (u32::MAX - 1, u32::MAX));
    // Wrapped: 0 is skipped, and so is an id whose call is still up.
    t.outgoing(1, peer(), false);
    assert_eq!(t.new_id(), 2);
    let mut t = CallTable::new(4).starting_at(0);
    assert_eq!(t.new_id(), 1);
}

/// 2002 says what the offer carries; accepted without video, 2006 and
/// 2007 say audio-only.
#[test]
fn is_video_call_follows_the_sdp() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    assert!(t.incoming(t0, 3, peer(), true, None));
    let a = drain(&mut t);
    let CallAction::Page(e) = &a[0] else { panic!() };
    assert_eq!(e.param["maybeVideoCall"], 1);
    assert_eq!(e.param["callInfo"]["isVideoCall"], 1);
    t.accept(3).unwrap();
    t.set_video(3, false);
    t.connected(t0, 3);
    let a = drain(&mut t);
    let connected = a.iter().find_map(|a| match a {
        CallAction::Page(e) if e.event() == Some(Event::CallConnected) => Some(e),
        _ => None,
    });
    assert_eq!(connected.unwrap().param["callInfo"]["isVideoCall"], 0);
    t.set_video(99, true);
    t.ended(3, 0);
    let a = drain(&mut t);
    let CallAction::Page(e) = &a[0] else { panic!() };
    assert_eq!(e.param["callInfo"]["isVideoCall"], 0);
}

#[test]
fn only_our_call_not_yet_connected_awaits_the_answer_of_a_2xx() {
    let t0 = Instant::now();
    let mut t = CallTable::new(2);
    t.outgoing(1, peer(), false);
    assert!(t.awaits_answer(1));
    t.ringing(1, true);
    assert!(t.awaits_answer(1), "early media is no final answer");
    t.connected(t0, 1);
    assert!(!t.awaits_answer(1), "taken once, on the first 2xx");
    t.incoming(t0, 2, peer(), false, None);
    assert!(!t.awaits_answer(2), "we answer an incoming call");
    assert!(!t.awaits_answer(3), "no such call");
}
