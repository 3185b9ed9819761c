//! Answer modes (`SetAnswerWay`) with baresip calling in through Kamailio.

use std::time::{Duration, Instant};

use seatphone_tests::host::{Command, Event};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::ua::{call_id, Ua};
use serde_json::json;

const SECS: Duration = Duration::from_secs(10);

async fn setup() -> (Kamailio, Baresip, Ua) {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Manual).expect("baresip");
    let mut ua = Ua::start().await;
    ua.register(kam.port, "1001").await;
    (kam, bob, ua)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_auto_answer_after_the_set_seconds() {
    let (_kam, bob, mut ua) = setup().await;
    let r = ua
        .ok(
            Command::SetAnswerWay,
            json!({"answerWay": "2", "times": "1"}),
        )
        .await;
    assert!(r.err_msg.is_some(), "errMsg always present");
    bob.dial("sip:1001@127.0.0.1");
    let inc = ua.wait(Event::CallIncoming, 10).await;
    let rang = Instant::now();
    assert_eq!(inc.param["callInfo"]["isAutoAnswer"], 1);
    let up = ua.wait(Event::CallConnected, 10).await;
    assert_eq!(call_id(&up), call_id(&inc));
    assert!(
        rang.elapsed() >= Duration::from_millis(800),
        "answered after about 1 s"
    );
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_do_not_disturb_refuses_with_486_without_ringing_the_page() {
    let (_kam, bob, mut ua) = setup().await;
    ua.ok(
        Command::SetAnswerWay,
        json!({"answerWay": "4", "times": "0"}),
    )
    .await;
    bob.dial("sip:1001@127.0.0.1");
    assert!(bob.wait_event(SECS, "CALL_CLOSED"));
    let closed = bob.event("CALL_CLOSED").unwrap_or_default();
    assert!(closed.to_string().contains("486"), "{closed}");
    ua.never(Event::CallIncoming, 300).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_auto_hang_up_after_the_set_seconds_of_talk() {
    let (_kam, bob, mut ua) = setup().await;
    ua.ok(Command::SetAnswerWay, json!({"answerWay": "1", "times": 1}))
        .await;
    bob.dial("sip:1001@127.0.0.1");
    let id = call_id(&ua.wait(Event::CallIncoming, 10).await);
    ua.ok(Command::AcceptCall, json!({"callId": id})).await;
    ua.wait(Event::CallConnected, 10).await;
    let talk = Instant::now();
    let end = ua.wait(Event::CallEnded, 5).await;
    assert_eq!(call_id(&end), id);
    assert!(talk.elapsed() >= Duration::from_millis(800));
    assert!(bob.wait_event(SECS, "CALL_CLOSED"), "BYE reached baresip");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_answer_way_off_and_bad_values() {
    let mut ua = Ua::start().await;
    ua.ok(Command::SetAnswerWay, json!({"answerWay": "0"}))
        .await;
    for bad in [
        json!({"answerWay": "3"}),
        json!({"answerWay": "2", "times": "x"}),
        json!({"answerWay": true}),
    ] {
        let r = ua.command(Command::SetAnswerWay, bad.clone()).await;
        assert_eq!(r.result, 2, "{bad}");
        assert!(!r.err_msg.unwrap_or_default().is_empty());
    }
}
