//! Hold answers with the peer's verdict: the response to holdCall comes when
//! the peer has answered the re-INVITE — 0, 7 with the SIP status when it
//! refuses, 6 when it never answers — and before the hold event (HoldFailed).
//! Real host, Kamailio, SIPp.

use std::time::Duration;

use seatphone_tests::host::{assert_error, is_event, Command, Event, Options, Page, Seatphone};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::sipp::Sipp;
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(10);

/// A live call from the host to a SIPp callee playing `scenario`.
struct LiveCall {
    _kam: Kamailio,
    sipp: Sipp,
    host: Seatphone,
    page: Page,
    id: Value,
}

/// SIPp sends no RTP: keep the audio plugin's RTP timeout out of the way.
async fn live_call(scenario: &str) -> LiveCall {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let sipp = Sipp::uas(scenario).expect("sipp");
    let host = Seatphone::start(Options {
        extra_toml: "[audio]\nrtp_timeout_s = 120\n".into(),
        ..Options::default()
    })
    .await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let id = Seatphone::call(&mut page, &format!("2000@{}", sipp.addr())).await;
    page.forget(Duration::from_millis(300)).await;
    LiveCall {
        _kam: kam,
        sipp,
        host,
        page,
        id,
    }
}

impl LiveCall {
    /// holdCall, and the first two frames after it (QoS reports aside):
    /// the response, then the event.
    async fn hold(&mut self, wait: Duration) -> (Value, Value) {
        let seq = self
            .page
            .send(Command::HoldCall, json!({"callId": self.id}))
            .await;
        let first = self.next_non_qos(wait).await;
        let second = self.next_non_qos(T).await;
        assert_eq!(
            first["seq"], seq,
            "the response comes before the hold event: {first}"
        );
        (first, second)
    }

    async fn next_non_qos(&mut self, wait: Duration) -> Value {
        loop {
            let f = self.page.next_frame(wait).await.expect("a frame");
            if !is_event(&f, Event::LocalQos) {
                return f;
            }
        }
    }

    /// endCall. The call keeps Kamailio and the host up: the response can
    /// reach the page before Kamailio has relayed the BYE SIPp waits for.
    async fn hang_up(&mut self) {
        self.page
            .ok(Command::EndCall, json!({"callId": self.id}))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_refused_by_the_peer_answers_7_then_hold_failed() {
    let mut call = live_call("uas_refuses_hold.xml").await;
    let (response, event) = call.hold(T).await;
    assert_error(&response, 7);
    assert!(
        response["errMsg"].as_str().unwrap().contains("488"),
        "{response}"
    );
    assert_eq!(event["notify"], Event::HoldFailed.notify(), "{event}");
    call.hang_up().await;
    let sipp = &mut call.sipp;
    assert_eq!(sipp.finished(T).await, Some(true), "SIPp:\n{}", sipp.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_the_peer_never_answers_times_out_with_6_then_hold_failed() {
    let mut call = live_call("uas_ignores_hold.xml").await;
    // RFC 3261 Timer B: 64 × T1 = 32 s without an answer.
    let (response, event) = call.hold(Duration::from_secs(45)).await;
    assert_error(&response, 6);
    assert_eq!(event["notify"], Event::HoldFailed.notify(), "{event}");
    // SIPp itself gave up waiting long before: only the host's side counts here.
    call.hang_up().await;
}

/// The peer answers our hold re-INVITE with 491 Request Pending (its own
/// re-INVITE crossed ours): the same offer goes out again after 2.1–4 s
/// (we placed the call, so the Call-ID is ours: RFC 3261 §14.1), with a
/// higher CSeq, and the page hears only the outcome of the retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_met_with_491_is_sent_again_after_a_while_and_succeeds() {
    let mut call = live_call("uas_glare_hold.xml").await;
    let asked = std::time::Instant::now();
    let (response, event) = call.hold(T).await;
    let waited = asked.elapsed();
    assert_eq!(response["result"], 0, "{response}");
    assert_eq!(event["notify"], Event::HoldSuccess.notify(), "{event}");
    assert!(
        waited >= Duration::from_millis(2100) && waited < Duration::from_secs(6),
        "the retry waited 2.1–4 s: {waited:?}"
    );
    let reinvites: Vec<String> = call
        .host
        .sip_messages(true)
        .into_iter()
        .filter(|m| m.starts_with("INVITE ") && m.contains("a=sendonly"))
        .collect();
    assert_eq!(reinvites.len(), 2, "{reinvites:?}");
    let line = |m: &str, start: &str| {
        m.lines()
            .find(|l| l.to_ascii_lowercase().starts_with(start))
            .unwrap_or_default()
            .to_owned()
    };
    let cseq = |m: &str| -> u32 {
        let l = line(m, "cseq:");
        l.split_whitespace()
            .nth(1)
            .unwrap_or("0")
            .parse()
            .unwrap_or(0)
    };
    assert!(cseq(&reinvites[1]) > cseq(&reinvites[0]), "{reinvites:?}");
    assert_eq!(
        line(&reinvites[0], "o="),
        line(&reinvites[1], "o="),
        "the same offer"
    );
    call.hang_up().await;
    let sipp = &mut call.sipp;
    assert_eq!(sipp.finished(T).await, Some(true), "SIPp:\n{}", sipp.logs());
}
