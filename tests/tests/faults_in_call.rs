//! Faults during a call: the call survives what it should survive.

use std::time::Duration;

use seatphone_tests::host::{signal, Options, Seatphone};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
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
        .find(|f| f["notify"] == 1009)
        .expect("registration re-sent");
    assert_eq!(status["param"]["register_state"], 3);
    let call = caught_up
        .iter()
        .find(|f| f["param"]["callId"] == call_id)
        .expect("the call re-sent");
    assert_eq!(call["param"]["callInfo"]["callState"], 3, "{call}");
    let end = page
        .request(67539, "tsdk_end_call", json!({"callId": call_id}))
        .await;
    assert_eq!(end["result"], 0, "{end}");
    page.event(2007, T).await;
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
    page.event(2005, T).await;

    // Frozen: no RTP, no BYE, as a peer whose network or process died.
    signal(callee.pid(), "STOP");
    let started = tokio::time::Instant::now();
    let ended = page.event(2007, Duration::from_secs(15)).await;
    let waited = started.elapsed();
    assert_eq!(ended["param"]["callInfo"]["reasonCode"], 408, "{ended}");
    assert!(
        waited >= Duration::from_secs(2),
        "ended after {waited:?}: before the timeout"
    );
    signal(callee.pid(), "CONT");
    callee.stop();
}
