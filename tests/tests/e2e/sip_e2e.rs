//! The SIP user agent through the real `seatphone` binary, driven over
//! WebSocket as a page drives it, against Kamailio and baresip.
//! (Build the workspace first: the test starts `target/<profile>/seatphone`.)

use std::time::Duration;

use seatphone_tests::host::{Command, Event, Options, Page, Seatphone};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip};
use seatphone_tests::peers::kamailio::{Digest, Kamailio, KamailioConfig};
use seatphone_tests::peers::wait_until;
use serde_json::{json, Value};

const SECS: Duration = Duration::from_secs(10);

async fn host(sip_toml: &str) -> Seatphone {
    Seatphone::start(Options {
        sip_toml: sip_toml.into(),
        ..Options::audio_only()
    })
    .await
}

fn call_id_of(v: &Value) -> u64 {
    v["param"]["callId"].as_u64().unwrap_or(0)
}

async fn registered(kam: &Kamailio, user: &str) -> (Seatphone, Page) {
    let host = host("").await;
    let page = host.registered_page(kam.port, user).await;
    (host, page)
}

async fn register_and_deregister(digest: Digest) {
    let kam = Kamailio::start(KamailioConfig {
        digest,
        ..KamailioConfig::default()
    })
    .expect("kamailio");
    let (host, mut page) = registered(&kam, "1001").await;
    assert_eq!(kam.contacts("1001").len(), 1, "{}", kam.ul_dump());
    let health = host.health().await;
    assert!(health.to_string().contains("registered"), "{health}");
    assert!(!health.to_string().contains("pass1001"));
    page.ok(Command::Logout, json!({"sipNum": "1001"})).await;
    let out = page.event(Event::LogoutSuccess, SECS).await;
    assert_eq!(out["param"]["register_state"], 4);
    assert!(wait_until(Duration::from_secs(3), || kam
        .contacts("1001")
        .is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_e2e_page_registers_md5_and_deregisters() {
    register_and_deregister(Digest::Md5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_e2e_page_registers_sha256_and_deregisters() {
    register_and_deregister(Digest::Sha256).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_e2e_wrong_password_is_1005_once() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let host = host("").await;
    let mut page = host.call_page().await;
    Seatphone::configure(&mut page, kam.port).await;
    let login = json!({"sipNum": "1001", "sipName": "1001", "sipPwd": "nope", "sipMode": 4});
    page.ok(Command::Login, login).await;
    let failed = page.event(Event::LoginFailed, SECS).await;
    let code = failed["param"]["reason_code"].as_u64().unwrap_or(0);
    assert!(code == 401 || code == 403, "{failed}");
    page.never(Event::LoginFailed, Duration::from_millis(1500))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_e2e_pool_fails_over_when_the_first_server_dies() {
    let mut first = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let second = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let host = host("request_timeout = 1\nkeepalive_interval = 1\nretry_interval = 5\n").await;
    let mut page = host.call_page().await;
    let config = json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": first.port,
        "poolServers": [{"serverAddr": "127.0.0.1", "sipServerPort": second.port}]}});
    page.ok(Command::SetConfigParam, config).await;
    let login = json!({"sipNum": "1001", "sipName": "1001", "sipPwd": "pass1001", "sipMode": 5});
    page.ok(Command::Login, login).await;
    page.event(Event::LoginSuccess, SECS).await;
    assert_eq!(first.contacts("1001").len(), 1);
    first.stop();
    let moved = page
        .registered(Duration::from_secs(6), |f| {
            f["param"]["server"] == second.addr()
        })
        .await;
    assert!(
        moved.is_some(),
        "registered on the second server within one retry interval"
    );
    assert_eq!(second.contacts("1001").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_e2e_page_calls_baresip_and_hangs_up() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Auto).expect("baresip");
    let (_host, mut page) = registered(&kam, "1001").await;
    let r = page
        .ok(
            Command::StartCall,
            json!({"calleeNumber": "1002", "isVideo": false}),
        )
        .await;
    let id = r["param"]["callId"].as_u64().expect("callId");
    assert_eq!(r["param"]["call_id"], id);
    assert_eq!(call_id_of(&page.event(Event::CallOutgoing, SECS).await), id);
    let up = page.event(Event::CallConnected, SECS).await;
    assert_eq!(call_id_of(&up), id);
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
    page.ok(Command::EndCall, json!({"callId": id})).await;
    let end = page.event(Event::CallEnded, SECS).await;
    assert_eq!(end["param"]["callInfo"]["reasonCode"], 0);
    assert!(bob.wait_event(SECS, "CALL_CLOSED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_e2e_baresip_calls_the_page_which_accepts() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Manual).expect("baresip");
    let (_host, mut page) = registered(&kam, "1001").await;
    bob.dial("sip:1001@127.0.0.1");
    let inc = page.event(Event::CallIncoming, SECS).await;
    assert_eq!(inc["param"]["callInfo"]["peerNumber"], "1002");
    let id = call_id_of(&inc);
    page.ok(Command::AcceptCall, json!({"callId": id, "isVideo": false}))
        .await;
    page.event(Event::CallConnected, SECS).await;
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
    bob.hangup();
    let end = page.event(Event::CallEnded, SECS).await;
    assert_eq!(end["param"]["callInfo"]["reasonCode"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_e2e_end_of_unknown_call_is_result_5_and_2022() {
    let host = host("").await;
    let mut page = host.call_page().await;
    let r = page
        .request(Command::EndCall, json!({"callId": 12345}))
        .await;
    assert_eq!(r["result"], 5, "{r}");
    let ev = page.event(Event::EndCallFailed, SECS).await;
    assert_eq!(ev["param"]["result"], 50331670u64);
    assert_eq!(ev["param"]["callId"], 12345);
}

/// A negative id (pages use -1 for "no call") is no call either: one
/// result 5, and the EndCallFailed names the id as sent, not wrapped to 2^64 - 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_e2e_end_of_a_negative_call_id_is_result_5_and_2022_with_that_id() {
    let host = host("").await;
    let mut page = host.call_page().await;
    for sent in [json!(-1), json!("-1")] {
        let r = page
            .request(Command::EndCall, json!({ "callId": sent }))
            .await;
        assert_eq!(r["result"], 5, "{r}");
        assert_eq!(r["errMsg"], "no call -1", "{r}");
        let ev = page.event(Event::EndCallFailed, SECS).await;
        assert_eq!(ev["param"]["callId"], -1, "{ev}");
        assert_eq!(ev["param"]["call_id"], -1, "{ev}");
    }
    let r = page
        .request(Command::EndCall, json!({"callId": "none"}))
        .await;
    assert_eq!(r["result"], 2, "{r}");
    // No EndCallFailed for a callId that is not a number.
    page.never(Event::EndCallFailed, Duration::from_millis(300))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_e2e_rtp_created_hold_and_unhold_with_baresip() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Auto).expect("baresip");
    let (_host, mut page) = registered(&kam, "1001").await;
    let call = Seatphone::call(&mut page, "1002").await;
    let id = call.as_u64().expect("callId");
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
    // baresip sends a tone: the audio plugin reports its RTP up.
    assert_eq!(
        call_id_of(&page.event(Event::CallRtpCreated, SECS).await),
        id
    );
    page.ok(Command::HoldCall, json!({"callId": id})).await;
    assert_eq!(call_id_of(&page.event(Event::HoldSuccess, SECS).await), id);
    page.ok(Command::UnholdCall, json!({"callId": id})).await;
    assert_eq!(
        call_id_of(&page.event(Event::UnholdSuccess, SECS).await),
        id
    );
    Seatphone::hang_up(&mut page, &call).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_e2e_answer_modes_auto_answer_and_do_not_disturb() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Manual).expect("baresip");
    let (_host, mut page) = registered(&kam, "1001").await;
    let r = page
        .ok(
            Command::SetAnswerWay,
            json!({"answerWay": "2", "times": "0"}),
        )
        .await;
    assert!(r.get("errMsg").is_some(), "errMsg always present: {r}");
    bob.dial("sip:1001@127.0.0.1");
    let inc = page.event(Event::CallIncoming, SECS).await;
    assert_eq!(inc["param"]["callInfo"]["isAutoAnswer"], 1);
    page.event(Event::CallConnected, SECS).await;
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
    bob.hangup();
    page.event(Event::CallEnded, SECS).await;

    page.ok(
        Command::SetAnswerWay,
        json!({"answerWay": "4", "times": "0"}),
    )
    .await;
    let closed_before = bob.count("CALL_CLOSED");
    bob.dial("sip:1001@127.0.0.1");
    assert!(wait_until(SECS, || bob.count("CALL_CLOSED") > closed_before));
    page.never(Event::CallIncoming, Duration::from_millis(300))
        .await;
    let r = page
        .request(Command::SetAnswerWay, json!({"answerWay": "7"}))
        .await;
    assert_eq!(r["result"], 2, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_e2e_anonymous_call_reaches_baresip_as_anonymous() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Auto).expect("baresip");
    let (_host, mut page) = registered(&kam, "1001").await;
    page.ok(Command::StartAnonymousCall, json!({"calleeNumber": "1002"}))
        .await;
    page.event(Event::CallConnected, SECS).await;
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
    let seen = bob.incoming();
    assert!(seen.to_string().contains("anonymous"), "{seen}");
    assert!(wait_until(SECS, || kam.log().contains("privacy=id")));
}
