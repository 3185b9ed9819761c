//! Hold answers with the peer's verdict: the response to holdCall comes when
//! the peer has answered the re-INVITE — 0, or 7 with the SIP status when it
//! refuses — and before the hold event (2018/2019). Real host, Kamailio, SIPp.

use std::time::Duration;

use seatphone_tests::host::{assert_error, Options, Seatphone};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::sipp::Sipp;
use serde_json::json;

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_refused_by_the_peer_answers_7_then_hold_failed() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let mut sipp = Sipp::uas("uas_refuses_hold.xml").expect("sipp");
    let host = Seatphone::start(Options::default()).await;
    let mut page = host.call_page().await;
    Seatphone::configure(&mut page, kam.port).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    let callee = format!("2000@{}", sipp.addr());
    let r = page
        .request(
            67537,
            "tsdk_start_call",
            json!({"calleeNumber": callee, "isVideo": false}),
        )
        .await;
    assert_eq!(r["result"], 0, "{r}");
    let id = r["param"]["callId"].clone();
    page.event(2006, T).await;
    page.forget(Duration::from_millis(300)).await;

    page.send_text(
        &json!({"cmd": 67804, "description": "tsdk_hold_call", "param": {"callId": id}, "seq": 77})
            .to_string(),
    )
    .await;
    let first = page.next_frame(T).await.expect("an answer");
    assert_eq!(
        first["seq"], 77,
        "the response comes before the hold event: {first}"
    );
    assert_error(&first, 7);
    assert!(first["errMsg"].as_str().unwrap().contains("488"), "{first}");
    let failed = page.next_frame(T).await.expect("2019");
    assert_eq!(failed["notify"], 2019, "{failed}");

    let end = page
        .request(67539, "tsdk_end_call", json!({"callId": id}))
        .await;
    assert_eq!(end["result"], 0, "{end}");
    assert_eq!(sipp.finished(T).await, Some(true), "SIPp:\n{}", sipp.logs());
}
