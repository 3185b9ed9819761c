//! SIPp scenarios: the corners baresip does not exercise (100rel/PRACK,
//! early media, peer re-INVITE hold, INFO, delayed offer, platform
//! auto-answer, session timers, retransmissions).

use std::time::Duration;

use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::sipp::Sipp;
use seatphone_tests::peers::ua::{call_id, Ua};
use serde_json::json;

/// Kamailio and a user agent registered at it.
async fn registered() -> (Kamailio, Ua) {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let mut ua = Ua::start().await;
    ua.register(kam.port, "1001").await;
    (kam, ua)
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
    let r = ua
        .command("tsdk_start_call", json!({"calleeNumber": callee}))
        .await;
    assert_eq!(r.result, 0, "{r:?}");
    let id = r.param.as_ref().expect("param")["callId"]
        .as_u64()
        .expect("id");
    ua.wait(2004, 10).await;
    ua.wait(2006, 10).await;
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
    assert_eq!(
        ua.command("tsdk_end_call", json!({"callId": id}))
            .await
            .result,
        0
    );
    passed(&mut sipp).await;
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
    let r = ua
        .command(
            "tsdk_set_config_param",
            json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": kam.port}, "audio": {"dtmf_mode": 4}}),
        )
        .await;
    assert_eq!(r.result, 0);
    let mut sipp = Sipp::uas("uas_peer_hold_info.xml").expect("sipp");
    let callee = format!("2000@{}", sipp.addr());
    let r = ua
        .command("tsdk_start_call", json!({"calleeNumber": callee}))
        .await;
    let id = r.param.as_ref().expect("param")["callId"]
        .as_u64()
        .expect("id");
    ua.wait(2006, 10).await;
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
    let r = ua
        .command("tsdk_send_dtmf", json!({"callId": id, "tone": 7}))
        .await;
    assert_eq!(r.result, 0, "{r:?}");
    let end = ua.wait(2007, 10).await;
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
    let mut sipp = Sipp::uac("uac_delayed_offer.xml", &local(&ua)).expect("sipp");
    let inc = ua.wait(2002, 10).await;
    assert_eq!(inc.param["callInfo"]["isAutoAnswer"], 1);
    assert_eq!(inc.param["callInfo"]["peerDisplayName"], "Queue 7");
    assert_eq!(inc.param["callInfo"]["peerNumber"], "queue");
    let id = call_id(&inc);
    let up = ua.wait(2006, 10).await;
    assert_eq!(call_id(&up), id);
    let end = ua.wait(2007, 10).await;
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
    let mut sipp = Sipp::uac("uac_session_timer.xml", &local(&ua)).expect("sipp");
    let inc = ua.wait(2002, 10).await;
    assert_eq!(
        inc.param["callInfo"]["isAutoAnswer"], 1,
        "Alert-Info auto-answer"
    );
    ua.wait(2006, 10).await;
    ua.wait(2007, 10).await;
    passed(&mut sipp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_sipp_lost_200_is_retransmitted_until_the_ack() {
    let mut ua = Ua::start().await;
    let mut sipp = Sipp::uac("uac_lost_200.xml", &local(&ua)).expect("sipp");
    let inc = ua.wait(2002, 10).await;
    let id = call_id(&inc);
    if ua.wait_where(10, |e| e.notify == 2006).await.is_none() {
        panic!("no 2006: {:?}\n{}", ua.notified(), sipp.logs());
    }
    ua.wait(2007, 10).await;
    passed(&mut sipp).await;
    let oks = sipp.messages().matches("SIP/2.0 200 OK").count();
    assert!(
        oks >= 3,
        "the 200 OK was retransmitted until the ACK came ({oks} seen)"
    );
    assert!(ua
        .media
        .entries()
        .iter()
        .any(|e| e.starts_with(&format!("start {id}"))));
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
    ua.wait(2002, 2).await;
    ua.settle(300).await;
    let incoming = ua.seen.iter().filter(|e| e.notify == 2002).count();
    assert_eq!(
        incoming,
        1,
        "one call for a retransmitted INVITE: {:?}",
        ua.notified()
    );
}
