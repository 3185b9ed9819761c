//! Faults during a call: the call survives what it should survive.

use std::time::Duration;

use seatphone_tests::host::{events_of, is_event, signal, Command, Event, Options, Seatphone};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::sipp::Sipp;
use seatphone_tests::peers::wait_until;
use serde_json::json;

const T: Duration = Duration::from_secs(10);

#[tokio::test]
async fn page_socket_dropping_mid_call_leaves_the_call_up_and_the_next_page_learns_of_it() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let mut callee = Baresip::start("1002", &kam, AnswerMode::Auto).expect("baresip");
    let host = Seatphone::start(Options::default()).await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let call_id = Seatphone::call(&mut page, "1002").await;
    drop(page);

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !callee.has_event("CALL_CLOSED"),
        "the call must go on without a page: {:?}",
        callee.events()
    );
    let mut page = host.call_page().await;
    let caught_up = page.forget(Duration::from_millis(500)).await;
    let status = caught_up
        .iter()
        .find(|f| is_event(f, Event::AccountStatus))
        .expect("registration re-sent");
    assert_eq!(status["param"]["register_state"], 3);
    let call = caught_up
        .iter()
        .find(|f| f["param"]["callId"] == call_id)
        .expect("the call re-sent");
    assert_eq!(call["param"]["callInfo"]["callState"], 3, "{call}");
    Seatphone::hang_up(&mut page, &call_id).await;
    assert!(
        wait_until(T, || callee.has_event("CALL_CLOSED")),
        "{:?}",
        callee.events()
    );
    callee.stop();
}

#[tokio::test]
async fn peer_that_vanishes_mid_call_is_hung_up_after_the_rtp_timeout_with_reason_408() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let mut callee = Baresip::start("1002", &kam, AnswerMode::Auto).expect("baresip");
    let host = Seatphone::start(Options {
        extra_toml: "[audio]\nrtp_timeout_s = 3\n".into(),
        ..Options::default()
    })
    .await;
    let mut page = host.registered_page(kam.port, "1001").await;
    Seatphone::call(&mut page, "1002").await;
    page.event(Event::CallRtpCreated, T).await;

    // Frozen: no RTP, no BYE, as a peer whose network or process died.
    signal(callee.pid(), "STOP");
    let started = tokio::time::Instant::now();
    let ended = page.event(Event::CallEnded, Duration::from_secs(15)).await;
    let waited = started.elapsed();
    assert_eq!(ended["param"]["callInfo"]["reasonCode"], 408, "{ended}");
    assert!(
        waited >= Duration::from_secs(2),
        "ended after {waited:?}: before the timeout"
    );
    signal(callee.pid(), "CONT");
    callee.stop();
}

/// Calls SIPp's default UAS (it answers PCMU over plain RTP, whatever was
/// offered) with the page's `audio` and `media` config; the frames the page
/// sees up to the end of the call, and that end.
async fn call_sipp_default_uas(
    audio: serde_json::Value,
    trans_mode: u32,
) -> (Vec<serde_json::Value>, serde_json::Value) {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let mut sipp = Sipp::uas("uas_answers_pcmu.xml").expect("sipp");
    let host = Seatphone::start(Options::default()).await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let config = json!({
        "networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": kam.port, "sipTransportMode": 0},
        "media": {"trans_mode": trans_mode},
        "audio": audio,
    });
    page.ok(Command::SetConfigParam, config).await;
    let callee = format!("2000@{}", sipp.addr());
    page.ok(
        Command::StartCall,
        json!({"calleeNumber": callee, "isVideo": false}),
    )
    .await;
    let mut seen = page.frames_until(Event::CallEnded, T).await;
    let ended = seen.pop().expect("the call ends");
    // SIPp had its BYE (and answered it): the call is over on both sides.
    let ok = sipp.finished(Duration::from_secs(20)).await;
    assert_eq!(ok, Some(true), "SIPp scenario failed:\n{}", sipp.logs());
    (seen, ended)
}

#[tokio::test]
async fn an_answer_with_no_codec_we_offered_ends_the_call_with_the_reason_for_the_page() {
    // Opus only; SIPp answers PCMU.
    let (seen, ended) = call_sipp_default_uas(json!({"audio_codec": "112"}), 0).await;
    assert!(
        !events_of(&seen).contains(&Event::CallRtpCreated),
        "no media came up: {seen:?}"
    );
    let info = &ended["param"]["callInfo"];
    assert_eq!(info["reasonCode"], 488, "{ended}");
    assert_eq!(
        info["reasonDescription"],
        "media failed: audio: no common audio codec: the peer's section has [PCMU], ours [opus]",
        "{ended}"
    );
}

#[tokio::test]
async fn a_stream_that_cannot_start_ends_the_call_with_the_reason_for_the_page() {
    // SRTP required (trans_mode 2); SIPp answers plain RTP without keys.
    let (seen, ended) = call_sipp_default_uas(json!({"audio_codec": "0"}), 2).await;
    assert!(
        !events_of(&seen).contains(&Event::CallRtpCreated),
        "no media came up: {seen:?}"
    );
    let info = &ended["param"]["callInfo"];
    assert_eq!(info["reasonCode"], 488, "{ended}");
    let why = info["reasonDescription"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("media failed: audio: ") && why.contains("SRTP"),
        "{ended}"
    );
}
