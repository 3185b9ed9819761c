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
    let r = ua.command("tsdk_start_call", json!({"calleeNumber": callee})).await;
    assert_eq!(r.result, 0, "{r:?}");
    let id = r.param.as_ref().expect("param")["callId"].as_u64().expect("id");
    ua.wait(2004, 10).await;
    ua.wait(2006, 10).await;
    let entries = ua.media.entries();
    assert!(
        entries.iter().any(|e| e.contains("\"ringing\"") && e.contains("\"earlyMedia\":true")),
        "{entries:?}"
    );
    assert!(entries.iter().filter(|e| e.starts_with(&format!("start {id} audio"))).count() >= 1);
    assert_eq!(ua.command("tsdk_end_call", json!({"callId": id})).await.result, 0);
    passed(&mut sipp).await;
}
