//! SIPp scenarios: the corners baresip does not exercise (100rel/PRACK,
//! early media, peer re-INVITE hold, INFO, delayed offer, platform
//! auto-answer, session timers both ways, a callee that challenges (401 or
//! 407) behind a proxy that challenged, messages lost on the way).

use std::time::Duration;

use seatphone_sip::PageEvent;
use seatphone_tests::host::{Command, Event};
use seatphone_tests::peers::free_port;
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::sipp::Sipp;
use seatphone_tests::peers::ua::{call_id, Ua};
use serde_json::json;

/// Kamailio and a user agent registered at it. Kamailio refuses a nonce
/// count used before (replay protection, as deployments set it): every
/// request sent again with credentials must count on.
async fn registered() -> (Kamailio, Ua) {
    let kam = Kamailio::start(KamailioConfig {
        nonce_count: true,
        ..KamailioConfig::default()
    })
    .expect("kamailio");
    let mut ua = Ua::start().await;
    ua.register(kam.port, "1001").await;
    (kam, ua)
}

/// The call placed to SIPp connects (rather than ends); its connected event.
async fn connected(ua: &mut Ua, sipp: &Sipp) -> PageEvent {
    let up = ua
        .wait_where(10, |e| {
            matches!(e.event(), Some(Event::CallConnected | Event::CallEnded))
        })
        .await;
    let up = up.unwrap_or_else(|| panic!("{:?}\n{}", ua.notified(), sipp.logs()));
    assert_eq!(
        up.event(),
        Some(Event::CallConnected),
        "{up:?}\n{}",
        sipp.logs()
    );
    up
}

async fn passed(sipp: &mut Sipp) {
    let ok = sipp.finished(Duration::from_secs(20)).await;
    assert_eq!(ok, Some(true), "SIPp scenario failed:\n{}", sipp.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_reliable_183_is_pracked_and_early_media_starts() {
    let (_kam, mut ua) = registered().await;
    let mut sipp = Sipp::uas("uas_100rel.xml").expect("sipp");
    let callee = format!("2000@{}", sipp.addr());
    let id = ua.call(&callee).await;
    ua.wait(Event::CallRingback, 10).await;
    ua.wait(Event::CallConnected, 10).await;
    let entries = ua.media.entries();
    assert!(
        entries
            .iter()
            .any(|e| e.contains("\"ringing\"") && e.contains("\"earlyMedia\":true")),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .filter(|e| e.starts_with(&format!("start {id} audio")))
            .count()
            >= 1
    );
    ua.ok(Command::EndCall, json!({"callId": id})).await;
    passed(&mut sipp).await;
}

/// The user agent takes `127.0.0.1:port` as its server (without
/// registering) and honours that server's auto-answer requests: the
/// platform's role, which SIPp plays when it calls directly.
async fn platform_at(ua: &mut Ua, port: u16) {
    ua.ok(
        Command::SetConfigParam,
        json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": port},
                   "call": {"platform_auto_answer": 1}}),
    )
    .await;
}

/// SIPp calls the user agent directly, as its configured server.
async fn platform_calls(ua: &mut Ua, scenario: &str) -> Sipp {
    let port = free_port(1);
    platform_at(ua, port).await;
    Sipp::uac_from(scenario, &local(ua), port, &[]).expect("sipp")
}

/// The user agent's SIP address (`127.0.0.1:port`).
fn local(ua: &Ua) -> String {
    ua.sip.health()["local"]
        .as_str()
        .expect("local address")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_peer_hold_by_reinvite_and_update_and_info_dtmf_both_ways() {
    let (kam, mut ua) = registered().await;
    ua
        .ok(Command::SetConfigParam,
            json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": kam.port}, "audio": {"dtmf_mode": 4}}),
        )
        .await;
    let mut sipp = Sipp::uas("uas_peer_hold_info.xml").expect("sipp");
    let callee = format!("2000@{}", sipp.addr());
    let id = ua.call(&callee).await;
    ua.wait(Event::CallConnected, 10).await;
    // The peer's INFO reaches the media side as a DTMF event.
    let mut got = false;
    for _ in 0..100 {
        if ua
            .media
            .entries()
            .iter()
            .any(|e| e.contains("\"dtmf\"") && e.contains("\"tone\":5"))
        {
            got = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(got, "{:?}\n{}", ua.media.entries(), sipp.logs());
    ua.ok(Command::SendDtmf, json!({"callId": id, "tone": 7}))
        .await;
    let end = ua.wait(Event::CallEnded, 10).await;
    assert_eq!(end.param["callInfo"]["reasonCode"], 0);
    passed(&mut sipp).await;
    let remote_hold = ua.media.entries().iter().any(|e| e.contains("a=sendonly"));
    assert!(
        remote_hold,
        "media was told of the peer's hold: {:?}",
        ua.media.entries()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_delayed_offer_with_call_info_auto_answer() {
    let mut ua = Ua::start().await;
    let mut sipp = platform_calls(&mut ua, "uac_delayed_offer.xml").await;
    let inc = ua.wait(Event::CallIncoming, 10).await;
    assert_eq!(inc.param["callInfo"]["isAutoAnswer"], 1);
    assert_eq!(inc.param["callInfo"]["autoAnswerReason"], "platform");
    assert_eq!(inc.param["callInfo"]["peerDisplayName"], "Queue 7");
    assert_eq!(inc.param["callInfo"]["peerNumber"], "queue");
    let id = call_id(&inc);
    let up = ua.wait(Event::CallConnected, 10).await;
    assert_eq!(call_id(&up), id);
    let end = ua.wait(Event::CallEnded, 10).await;
    assert_eq!(end.param["callInfo"]["reasonCode"], 0);
    passed(&mut sipp).await;
    let entries = ua.media.entries();
    assert!(
        entries.iter().any(|e| e == &format!("offer {id} audio")),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e.starts_with(&format!("start {id} audio remote=m=audio"))),
        "media started with the answer from the ACK: {entries:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_session_timer_is_accepted_and_refresh_answered() {
    let mut ua = Ua::start().await;
    let mut sipp = platform_calls(&mut ua, "uac_session_timer.xml").await;
    let inc = ua.wait(Event::CallIncoming, 10).await;
    assert_eq!(
        inc.param["callInfo"]["isAutoAnswer"], 1,
        "Alert-Info auto-answer"
    );
    ua.wait(Event::CallConnected, 10).await;
    ua.wait(Event::CallEnded, 10).await;
    passed(&mut sipp).await;
}

/// SIPp loses (`lost="100"`) our 200 OK for 1.2 s and then our BYE for
/// 1.2 s: the call only completes if both are sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_lost_200_and_lost_bye_are_retransmitted() {
    let mut ua = Ua::start().await;
    let mut sipp = platform_calls(&mut ua, "uac_lost_200.xml").await;
    let inc = ua.wait(Event::CallIncoming, 10).await;
    let id = call_id(&inc);
    if ua
        .wait_where(10, |e| e.notify == Event::CallConnected.notify())
        .await
        .is_none()
    {
        panic!("not connected: {:?}\n{}", ua.notified(), sipp.logs());
    }
    ua.ok(Command::EndCall, json!({"callId": id})).await;
    let end = ua.wait(Event::CallEnded, 10).await;
    assert_eq!(end.param["callInfo"]["reasonCode"], 0);
    passed(&mut sipp).await;
    // The log holds lost messages too: two BYEs and two 200s for the
    // INVITE (beside SIPp's own 200 for the BYE) were sent by us.
    let log = sipp.messages();
    let byes = log.matches("BYE sip:").count();
    let oks = log.matches("SIP/2.0 200 OK").count();
    assert!(byes >= 2 && oks >= 3, "{byes} BYE, {oks} 200 OK:\n{log}");
    assert!(log.contains("message lost"), "SIPp lost messages:\n{log}");
    assert!(ua
        .media
        .entries()
        .iter()
        .any(|e| e.starts_with(&format!("start {id}"))));
}

/// Places a call from `ua` to the SIPp UAS and returns its id.
async fn call_sipp(ua: &mut Ua, sipp: &Sipp) -> u64 {
    let callee = format!("2000@{}", sipp.addr());
    ua.call(&callee).await
}

/// SIPp (callee, behind Kamailio) loses every ACK of the first second and
/// repeats its 200: the call stands only if we ACK the repeated 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_repeated_200_is_acked_again_when_the_ack_was_lost() {
    let (_kam, mut ua) = registered().await;
    let mut sipp = Sipp::uas("uas_lost_ack.xml").expect("sipp");
    let id = call_sipp(&mut ua, &sipp).await;
    ua.wait(Event::CallConnected, 10).await;
    // SIPp loses the ACKs of the first second (for the 200 and its repeat
    // at 0.5 s) and takes the one for the repeat at 1.5 s: hang up after it.
    let mut acked = false;
    for _ in 0..60 {
        if sipp.messages().matches("ACK sip:").count() >= 3 {
            acked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(acked, "no third ACK:\n{}", sipp.logs());
    ua.ok(Command::EndCall, json!({"callId": id})).await;
    passed(&mut sipp).await;
    let log = sipp.messages();
    assert!(log.contains("message lost"), "SIPp lost an ACK:\n{log}");
}

/// The callee behind Kamailio challenges too (401): the INVITE goes again
/// with Kamailio's credentials and the callee's, and SIPp's `verifyauth`
/// checks the digest against the right password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_callee_challenge_behind_the_proxy_is_answered() {
    let (kam, mut ua) = registered().await;
    let mut sipp = Sipp::uas_with("uas_auth.xml", &["-key", "password", "pass1001"]).expect("sipp");
    call_sipp(&mut ua, &sipp).await;
    let up = connected(&mut ua, &sipp).await;
    let id = call_id(&up);
    ua.ok(Command::EndCall, json!({"callId": id})).await;
    passed(&mut sipp).await;
    // Kamailio's nonce counted on in the INVITE sent again: no 407 more.
    assert_eq!(invites_at(&kam), (3, 2), "{}", sipp.logs());
}

/// A far side that challenges like a proxy (407, another realm) behind
/// Kamailio's own 407: the INVITE goes once more with Proxy-Authorization
/// for that realm, and the call connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_407_from_the_far_side_is_answered_with_proxy_authorization() {
    let (kam, mut ua) = registered().await;
    let mut sipp = Sipp::uas("uas_proxy_auth.xml").expect("sipp");
    call_sipp(&mut ua, &sipp).await;
    let up = connected(&mut ua, &sipp).await;
    ua.ok(Command::EndCall, json!({"callId": call_id(&up)}))
        .await;
    passed(&mut sipp).await;
    // Kamailio's nonce counted on in the INVITE sent again: no 407 more.
    assert_eq!(invites_at(&kam), (3, 2), "{}", sipp.logs());
}

/// INVITEs Kamailio received, and those it took (authenticated), by its
/// script's log lines.
fn invites_at(kam: &Kamailio) -> (usize, usize) {
    let log = kam.log();
    let received = log
        .lines()
        .filter(|l| l.contains("INVITE sip:2000@") && l.contains(" over "));
    let taken = log
        .lines()
        .filter(|l| l.contains("INVITE sip:2000@") && l.contains("privacy="));
    (received.count(), taken.count())
}

/// One call to SIPp that connects, and its hang-up.
/// The page hears CallEnded as it hangs up, before the BYE is out: this
/// waits until SIPp has the BYE too, so that the ACK and the BYE are not
/// still in Kamailio's queue when a test stops it.
async fn call_and_hang_up(ua: &mut Ua, sipp: &Sipp) {
    let byes = || sipp.messages().matches("BYE sip:").count();
    let before = byes();
    call_sipp(ua, sipp).await;
    let up = connected(ua, sipp).await;
    ua.ok(Command::EndCall, json!({"callId": call_id(&up)}))
        .await;
    ua.wait(Event::CallEnded, 10).await;
    for _ in 0..50 {
        if byes() > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("SIPp has no BYE for the call:\n{}", sipp.logs());
}

/// RFC 3261 §22.3: after one challenge, each INVITE answers Kamailio's
/// challenge ahead (the nonce counted on) and is taken without a 407. A
/// restarted Kamailio (a new secret) refuses the kept nonce: that call is
/// challenged, answered and connects, and the next goes ahead again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_the_proxys_challenge_is_answered_ahead_until_it_refuses() {
    let port = seatphone_tests::peers::free_port(1);
    let cfg = || KamailioConfig {
        port,
        nonce_count: true,
        ..KamailioConfig::default()
    };
    let mut kam = Kamailio::start(cfg()).expect("kamailio");
    let dir = tempfile::tempdir().expect("tempdir");
    let log_dir = dir.path().to_path_buf();
    let mut ua = Ua::start_with(|c| c.msg_log_dir = Some(log_dir)).await;
    ua.register(kam.port, "1001").await;
    let mut sipp = Sipp::uas_with("uas_answers_pcmu.xml", &["-m", "5"]).expect("sipp");
    let ours = || std::fs::read_to_string(dir.path().join("sip-messages.log")).unwrap_or_default();
    call_and_hang_up(&mut ua, &sipp).await;
    assert_eq!(
        invites_at(&kam),
        (2, 1),
        "the first is challenged:\n{}",
        ours()
    );
    call_and_hang_up(&mut ua, &sipp).await;
    call_and_hang_up(&mut ua, &sipp).await;
    assert_eq!(
        invites_at(&kam),
        (4, 3),
        "no 407 after the first:\n{}",
        ours()
    );
    kam.stop();
    let kam = Kamailio::start(cfg()).expect("kamailio again");
    call_and_hang_up(&mut ua, &sipp).await;
    assert_eq!(
        invites_at(&kam),
        (2, 1),
        "the old nonce refused:\n{}",
        ours()
    );
    call_and_hang_up(&mut ua, &sipp).await;
    assert_eq!(invites_at(&kam), (3, 2), "the new nonce kept:\n{}", ours());
    passed(&mut sipp).await;
}

/// The callee refuses our credentials (it expects another password): the
/// call fails once with the callee's 403, and no third INVITE goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_callee_refusing_our_credentials_fails_the_call_once() {
    let (_kam, mut ua) = registered().await;
    let mut sipp =
        Sipp::uas_with("uas_auth.xml", &["-key", "password", "not-pass1001"]).expect("sipp");
    call_sipp(&mut ua, &sipp).await;
    let end = ua.wait(Event::CallEnded, 10).await;
    assert_eq!(end.param["callInfo"]["reasonCode"], 403, "{end:?}");
    assert!(!ua.notified().contains(&Event::CallConnected.notify()));
    // The scenario fails on a third INVITE within 1.5 s of its 403.
    passed(&mut sipp).await;
    let invites = sipp.messages().matches("INVITE sip:").count();
    assert_eq!(invites, 2, "the INVITE and its one retry:\n{}", sipp.logs());
}

/// 422 Session Interval Too Small with Min-SE 3600: the INVITE goes again
/// (same Call-ID) with Session-Expires and Min-SE 3600; the page sees one
/// call that connects. The INVITE sent again counts Kamailio's nonce on,
/// and Kamailio takes it without a second challenge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_session_interval_too_small_is_retried_with_min_se() {
    let (kam, mut ua) = registered().await;
    let mut sipp = Sipp::uas("uas_session_422.xml").expect("sipp");
    let id = call_sipp(&mut ua, &sipp).await;
    let up = connected(&mut ua, &sipp).await;
    assert_eq!(call_id(&up), id);
    ua.ok(Command::EndCall, json!({"callId": id})).await;
    passed(&mut sipp).await;
    assert_eq!(invites_at(&kam), (3, 2), "the 422's retry taken at once");
}

/// RFC 4028 as caller, refresher=uac: our refresh re-INVITE (unchanged
/// offer) reaches SIPp before the 90 s interval ends (it comes at 45 s, so
/// this test takes about 50 s), and its 200 is acknowledged. The page hangs
/// up only after that ACK: a BYE sent while the 200 is still on its way
/// would overtake the ACK, and the scenario expects them in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_caller_refreshes_the_session_by_reinvite() {
    let (_kam, mut ua) = registered().await;
    let mut sipp = Sipp::uas_with("uas_session_refresh.xml", &["-timeout", "120s"]).expect("sipp");
    let id = call_sipp(&mut ua, &sipp).await;
    ua.wait(Event::CallConnected, 10).await;
    let mut refreshed = false;
    for _ in 0..700 {
        let log = sipp.messages();
        if log.matches("INVITE sip:").count() >= 2
            && log.contains("X-Refresh")
            && log.matches("ACK sip:").count() >= 2
        {
            refreshed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refreshed, "no refresh:\n{}", sipp.logs());
    assert!(
        !ua.notified().contains(&Event::CallEnded.notify()),
        "the call lives on: {:?}",
        ua.notified()
    );
    ua.ok(Command::EndCall, json!({"callId": id})).await;
    passed(&mut sipp).await;
}

/// RFC 4028 as caller, refresher=uas, and the callee never refreshes: we
/// end the call with a BYE at 90 - 30 = 60 s, and the page hears CallEnded
/// with reasonCode 408 (this test takes about a minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_session_without_refresh_is_ended_before_it_expires() {
    let (_kam, mut ua) = registered().await;
    let mut sipp = Sipp::uas_with("uas_session_expires.xml", &["-timeout", "120s"]).expect("sipp");
    call_sipp(&mut ua, &sipp).await;
    ua.wait(Event::CallConnected, 10).await;
    let end = ua.wait(Event::CallEnded, 80).await;
    assert_eq!(end.param["callInfo"]["reasonCode"], 408, "{end:?}");
    passed(&mut sipp).await;
}

/// A caller that lost our 100 Trying sends its INVITE again (every 0.4 s
/// here, until the 200): one call, the 180 repeated, the 200 still sent.
/// (Raw UDP: SIPp turns a repeated 180 into an endless INVITE/180 ping-pong.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_retransmitted_invite_makes_one_call_that_is_answered() {
    let mut ua = Ua::start().await;
    let target = local(&ua);
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let me = sock.local_addr().expect("addr").port();
    platform_at(&mut ua, me).await;
    let sdp = "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
    let invite = format!(
        "INVITE sip:1001@{target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-lost100\r\n\
         From: <sip:x@127.0.0.1:{me}>;tag=lost100\r\nTo: <sip:1001@{target}>\r\nCall-ID: lost100@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1:{me}>\r\nCall-Info: <sip:127.0.0.1>;answer-after=1\r\n\
         Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    let mut ringing = 0;
    let mut ok = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !ok && tokio::time::Instant::now() < deadline {
        sock.send_to(invite.as_bytes(), &target)
            .await
            .expect("send");
        let until = tokio::time::Instant::now() + Duration::from_millis(400);
        let mut buf = vec![0u8; 4096];
        while let Ok(Ok((n, _))) = tokio::time::timeout_at(until, sock.recv_from(&mut buf)).await {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            ringing += usize::from(text.starts_with("SIP/2.0 180"));
            ok |= text.starts_with("SIP/2.0 200");
        }
    }
    assert!(ok, "the 200 OK went out");
    assert!(ringing >= 2, "the 180 was repeated for the retransmission");
    ua.wait(Event::CallIncoming, 2).await;
    ua.settle(300).await;
    let incoming = ua
        .seen
        .iter()
        .filter(|e| e.notify == Event::CallIncoming.notify())
        .count();
    assert_eq!(
        incoming,
        1,
        "one call for a retransmitted INVITE: {:?}",
        ua.notified()
    );
}
