//! Faults the host survives without losing anything.

use std::time::Duration;

use seatphone_tests::host::{Options, Seatphone};
use seatphone_tests::plugins;
use serde_json::json;

#[tokio::test]
async fn plugin_aborting_at_load_is_skipped_by_the_restarted_engine_and_named_in_health() {
    let mut options = Options::default();
    options.plugins.push(plugins::aborting());
    let host = Seatphone::start(options).await;
    let health = host.health().await;
    let skipped = health["skipped"].as_array().unwrap();
    let entry = skipped
        .iter()
        .find(|s| s["file"].as_str().unwrap().contains("seatphone_aborting"))
        .unwrap_or_else(|| panic!("aborting plugin not named: {health}"));
    assert!(
        entry["reason"]
            .as_str()
            .unwrap()
            .contains("killed the engine"),
        "{entry}"
    );
    let names: Vec<_> = health["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            json!("audio"),
            json!("capture"),
            json!("share"),
            json!("video")
        ]
    );

    let mut daemon = host.daemon_page().await;
    let state = daemon.next_frame(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        state["notify"], 1,
        "a page arriving after the recovery sees the engine up: {state}"
    );
    let mut page = host.call_page().await;
    assert_eq!(
        page.request(67578, "tsdk_get_mic_volume", json!({})).await["result"],
        0
    );
}
