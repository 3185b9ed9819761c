//! Calls through Kamailio with baresip on the other side: outgoing and
//! incoming, BYE from each side, cancel, busy, anonymous, hold and call
//! waiting.

use std::time::Duration;

use seatphone_tests::host::{Command, Event};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::ua::{call_id, Ua};
use seatphone_tests::peers::wait_until;
use serde_json::json;

const SECS: Duration = Duration::from_secs(10);

async fn setup(mode: AnswerMode) -> (Kamailio, Baresip, Ua) {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, mode).expect("baresip");
    let mut ua = Ua::start().await;
    ua.register(kam.port, "1001").await;
    (kam, bob, ua)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_call_out_to_baresip_and_hang_up_here() {
    let (_kam, bob, mut ua) = setup(AnswerMode::Auto).await;
    let r = ua
        .ok(
            Command::StartCall,
            json!({"calleeNumber": "1002", "isVideo": false}),
        )
        .await;
    let id = r.param.as_ref().expect("param")["callId"]
        .as_u64()
        .expect("callId");
    assert_eq!(r.param.as_ref().expect("param")["call_id"], id);
    let out = ua.wait(Event::CallOutgoing, 2).await;
    assert_eq!(call_id(&out), id);
    assert_eq!(out.param["callInfo"]["peerNumber"], "1002");
    let up = ua.wait(Event::CallConnected, 10).await;
    assert_eq!(up.param["callInfo"]["callState"], 3);
    assert!(
        bob.wait_event(SECS, "CALL_ESTABLISHED"),
        "{:?}",
        bob.events()
    );
    let start = format!("start {id} audio");
    assert!(
        ua.media.wait_entry(2, |e| e.starts_with(&start)).await,
        "{:?}",
        ua.media.entries()
    );
    ua.ok(Command::EndCall, json!({"callId": id})).await;
    let end = ua.wait(Event::CallEnded, 2).await;
    assert_eq!(end.param["callInfo"]["reasonCode"], 0);
    assert!(bob.wait_event(SECS, "CALL_CLOSED"), "BYE reached baresip");
    assert!(ua
        .media
        .entries()
        .iter()
        .any(|e| e == &format!("stop {id} audio")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_call_out_ended_by_baresip_bye() {
    let (_kam, bob, mut ua) = setup(AnswerMode::Auto).await;
    ua.ok(Command::StartCall, json!({"calleeNumber": "1002"}))
        .await;
    ua.wait(Event::CallConnected, 10).await;
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
    bob.hangup();
    let end = ua.wait(Event::CallEnded, 10).await;
    assert_eq!(end.param["callInfo"]["reasonCode"], 0);
    assert_eq!(end.param["callInfo"]["callState"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_call_in_from_baresip_accepted_then_bye_from_baresip() {
    let (_kam, bob, mut ua) = setup(AnswerMode::Manual).await;
    bob.dial("sip:1001@127.0.0.1");
    let inc = ua.wait(Event::CallIncoming, 10).await;
    assert_eq!(inc.param["callInfo"]["peerNumber"], "1002");
    assert_eq!(inc.param["callInfo"]["isCaller"], 0);
    assert_eq!(inc.param["maybeVideoCall"], 0);
    let id = call_id(&inc);
    assert!(
        bob.wait_event(SECS, "CALL_RINGING"),
        "180 reached baresip: {:?}",
        bob.events()
    );
    ua.ok(Command::AcceptCall, json!({"callId": id, "isVideo": false}))
        .await;
    ua.wait(Event::CallConnected, 10).await;
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
    bob.hangup();
    let end = ua.wait(Event::CallEnded, 10).await;
    assert_eq!(end.param["callInfo"]["reasonCode"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_call_in_rejected_here_is_486_at_baresip() {
    let (_kam, bob, mut ua) = setup(AnswerMode::Manual).await;
    bob.dial("sip:1001@127.0.0.1");
    let id = call_id(&ua.wait(Event::CallIncoming, 10).await);
    ua.ok(Command::EndCall, json!({"callId": id})).await;
    let end = ua.wait(Event::CallEnded, 2).await;
    assert_eq!(end.param["callInfo"]["reasonCode"], 486);
    assert!(bob.wait_event(SECS, "CALL_CLOSED"));
    let closed = bob.event("CALL_CLOSED").unwrap_or_default();
    assert!(closed.to_string().contains("486"), "{closed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_call_in_cancelled_by_baresip_ends_with_487() {
    let (_kam, bob, mut ua) = setup(AnswerMode::Manual).await;
    bob.dial("sip:1001@127.0.0.1");
    ua.wait(Event::CallIncoming, 10).await;
    bob.hangup();
    let end = ua.wait(Event::CallEnded, 10).await;
    assert_eq!(end.param["callInfo"]["reasonCode"], 487);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_call_out_cancelled_before_answer() {
    let (_kam, bob, mut ua) = setup(AnswerMode::Manual).await;
    let id = ua.call("1002").await;
    ua.wait(Event::CallRingback, 10).await;
    assert!(bob.wait_event(SECS, "CALL_INCOMING"));
    ua.ok(Command::EndCall, json!({"callId": id})).await;
    let end = ua.wait(Event::CallEnded, 2).await;
    assert_eq!(end.param["callInfo"]["reasonCode"], 487);
    assert!(
        bob.wait_event(SECS, "CALL_CLOSED"),
        "CANCEL reached baresip: {:?}",
        bob.events()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_call_out_to_busy_callee_ends_with_486() {
    let (kam, bob, mut ua) = setup(AnswerMode::Manual).await;
    ua.command(Command::StartCall, json!({"calleeNumber": "1002"}))
        .await;
    assert!(
        bob.wait_event(SECS, "CALL_INCOMING"),
        "{}\n{}",
        kam.log(),
        bob.log()
    );
    // baresip's hangup of a ringing incoming call answers 486 Busy Here.
    bob.hangup();
    let end = ua.wait(Event::CallEnded, 10).await;
    assert_eq!(end.param["callInfo"]["reasonCode"], 486, "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_anonymous_call_reaches_baresip_with_privacy_id() {
    let (kam, bob, mut ua) = setup(AnswerMode::Auto).await;
    ua.ok(Command::StartAnonymousCall, json!({"calleeNumber": "1002"}))
        .await;
    ua.wait(Event::CallConnected, 10).await;
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
    let inc = bob.incoming();
    assert!(inc.to_string().contains("anonymous"), "{inc}");
    assert!(
        wait_until(SECS, || kam.log().contains("privacy=id")),
        "Kamailio saw Privacy: id:\n{}",
        kam.log()
    );
    assert!(kam.log().contains("ppi=<sip:1001@"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_hold_and_unhold_with_baresip() {
    let (_kam, bob, mut ua) = setup(AnswerMode::Auto).await;
    let id = ua.call("1002").await;
    ua.wait(Event::CallConnected, 10).await;
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
    ua.ok(Command::HoldCall, json!({"callId": id})).await;
    assert_eq!(call_id(&ua.wait(Event::HoldSuccess, 10).await), id);
    assert_eq!(
        ua.command(Command::HoldCall, json!({"callId": id}))
            .await
            .result,
        3
    );
    ua.ok(Command::UnholdCall, json!({"callId": id})).await;
    assert_eq!(call_id(&ua.wait(Event::UnholdSuccess, 10).await), id);
    let starts = ua
        .media
        .entries()
        .iter()
        .filter(|e| e.starts_with(&format!("start {id}")))
        .count();
    assert!(
        starts >= 3,
        "media updated on hold and unhold: {:?}",
        ua.media.entries()
    );
    assert!(ua.media.entries().iter().any(|e| e.contains("\"held\"")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_call_waiting_accept_holds_the_live_call() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Auto).expect("bob");
    let carol = Baresip::start("1003", &kam, AnswerMode::Manual).expect("carol");
    let mut ua = Ua::start().await;
    ua.register(kam.port, "1001").await;
    let first = ua.call("1002").await;
    ua.wait(Event::CallConnected, 10).await;
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
    carol.dial("sip:1001@127.0.0.1");
    let waiting = ua.wait(Event::CallIncoming, 10).await;
    let second = call_id(&waiting);
    assert_ne!(first, second);
    assert_eq!(waiting.param["callInfo"]["isAutoAnswer"], 0);
    ua.ok(Command::AcceptCall, json!({"callId": second})).await;
    // The hold re-INVITE and the answer run side by side: either may finish first.
    let held = ua
        .wait_where(10, |e| e.notify == Event::HoldSuccess.notify())
        .await
        .expect("hold success");
    assert_eq!(call_id(&held), first, "the live call went on hold");
    assert!(
        ua.seen
            .iter()
            .any(|e| e.notify == Event::CallConnected.notify() && call_id(e) == second)
            || ua
                .wait_where(10, |e| e.notify == Event::CallConnected.notify()
                    && call_id(e) == second)
                .await
                .is_some(),
        "the waiting call connected: {:?}",
        ua.notified()
    );
    assert!(carol.wait_event(SECS, "CALL_ESTABLISHED"));
    assert_eq!(ua.sip.snapshot().len(), 3, "account status + two calls");
}

/// Logged in: registered, with a Contact over `transport` ("tcp", "tls").
async fn registered_over(kam: &Kamailio, ua: &mut Ua, transport: &str) {
    ua.wait(Event::LoginSuccess, 10).await;
    let contacts = kam.contacts("1001");
    assert!(
        contacts[0]
            .to_lowercase()
            .contains(&format!("transport={transport}")),
        "{contacts:?}"
    );
}

/// A call out to `bob` that he ends, then one from him that rings here.
async fn calls_both_ways(bob: &Baresip, ua: &mut Ua) {
    ua.ok(Command::StartCall, json!({"calleeNumber": "1002"}))
        .await;
    ua.wait(Event::CallConnected, 10).await;
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
    bob.hangup();
    ua.wait(Event::CallEnded, 10).await;
    bob.dial("sip:1001@127.0.0.1");
    ua.wait(Event::CallIncoming, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_over_tcp_registers_and_calls_both_ways() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Auto).expect("baresip");
    let mut ua = Ua::start().await;
    let r = ua
        .ok(Command::SetConfigParam,
            json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": kam.port, "sipTransportMode": 2}}),
        )
        .await;
    assert!(r.err_msg.is_none(), "TCP is supported: {r:?}");
    assert_eq!(ua.login("1001", "pass1001", 4).await.result, 0);
    registered_over(&kam, &mut ua, "tcp").await;
    assert!(
        kam.ul_dump().to_lowercase().contains("tcp"),
        "{}",
        kam.ul_dump()
    );
    calls_both_ways(&bob, &mut ua).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_over_tls_registers_and_calls_both_ways() {
    let kam = Kamailio::start_tls();
    let tls_port = kam.tls_port.expect("tls port");
    let bob = Baresip::start("1002", &kam, AnswerMode::Auto).expect("baresip");
    let mut ua = Ua::start().await;
    let r = ua
        .ok(Command::SetConfigParam,
            json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": tls_port, "sipTransportMode": 1},
                   "sip": {"tls_rootcertpath": kam.ca_cert().display().to_string()}}),
        )
        .await;
    assert!(r.err_msg.is_none(), "TLS is supported: {r:?}");
    assert_eq!(ua.login("1001", "pass1001", 4).await.result, 0);
    registered_over(&kam, &mut ua, "tls").await;
    calls_both_ways(&bob, &mut ua).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_over_tls_refuses_a_server_it_cannot_verify() {
    let kam = Kamailio::start_tls();
    let mut ua = Ua::start().await;
    // The system's roots do not include the test CA.
    ua
        .ok(Command::SetConfigParam,
            json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": kam.tls_port, "sipTransportMode": 1}}),
        )
        .await;
    assert_eq!(ua.login("1001", "pass1001", 4).await.result, 0);
    let failed = ua.wait(Event::LoginFailed, 15).await;
    assert_eq!(failed.param["reason_code"], 408, "{failed:?}");
    assert!(kam.contacts("1001").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_over_tls_anonymous_skips_the_certificate_check_when_asked() {
    let kam = Kamailio::start_tls();
    let mut ua = Ua::start().await;
    ua
        .ok(Command::SetConfigParam,
            json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": kam.tls_port, "sipTransportMode": 1},
                   "sip": {"tls_anonymous_enable": 1}}),
        )
        .await;
    assert_eq!(ua.login("1001", "pass1001", 4).await.result, 0);
    ua.wait(Event::LoginSuccess, 10).await;
    assert!(kam.contacts("1001")[0]
        .to_lowercase()
        .contains("transport=tls"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_calls_beyond_max_calls_get_486_without_the_page() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Auto).expect("bob");
    let carol = Baresip::start("1003", &kam, AnswerMode::Manual).expect("carol");
    let mut ua = Ua::start_with(|c| c.max_calls = 1).await;
    ua.register(kam.port, "1001").await;
    ua.ok(Command::StartCall, json!({"calleeNumber": "1002"}))
        .await;
    ua.wait(Event::CallConnected, 10).await;
    carol.dial("sip:1001@127.0.0.1");
    assert!(
        carol.wait_event(SECS, "CALL_CLOSED"),
        "{:?}",
        carol.events()
    );
    let closed = carol.event("CALL_CLOSED").unwrap_or_default();
    assert!(closed.to_string().contains("486"), "{closed}");
    ua.never(Event::CallIncoming, 300).await;
    assert!(bob.count("CALL_CLOSED") == 0, "the live call goes on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_without_an_audio_plugin_a_call_fails_with_a_clear_error() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let mut ua = Ua::start().await;
    ua.register(kam.port, "1001").await;
    ua.media
        .audio
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let r = ua
        .command(Command::StartCall, json!({"calleeNumber": "1002"}))
        .await;
    assert_eq!(r.result, 4, "{r:?}");
    assert!(r.err_msg.unwrap_or_default().contains("audio"));
    ua.settle(200).await;
    assert!(!ua.notified().contains(&Event::CallOutgoing.notify()));
}
