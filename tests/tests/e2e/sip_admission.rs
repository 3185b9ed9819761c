//! Who may make the phone ring or answer, through the real `seatphone`
//! binary registered at Kamailio: a stranger on another port of 127.0.0.1
//! gets no answer at all, whatever it asks and in every answer mode; the
//! same auto-answer request relayed by the registrar rings, and is answered
//! by itself only where the page enabled it; `[sip] accept_from` lets a peer
//! ring but never auto-answer; requests with a guessed Call-ID change
//! nothing in a live call. Every message names 127.0.0.1 only.

use std::time::Duration;

use seatphone_tests::host::{event_of, Command, Event, Options, Page, Seatphone};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip};
use seatphone_tests::peers::free_port;
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::sipp::Sipp;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const SECS: Duration = Duration::from_secs(10);
/// How long a sender waits for an answer that must not come.
const QUIET: Duration = Duration::from_millis(1000);

/// A seat (audio plugin, silent devices) on a known SIP port, registered as
/// 1001 at `kam` over UDP, with the platform's auto-answer requests
/// honoured (`call.platform_auto_answer`) when `platform` is set.
async fn seat(kam: &Kamailio, sip_toml: &str, platform: bool) -> (Seatphone, Page, u16) {
    let sip_port = free_port(1);
    let host = Seatphone::start(Options {
        sip_port,
        sip_toml: sip_toml.into(),
        ..Options::audio_only()
    })
    .await;
    let mut page = host.call_page().await;
    Seatphone::configure(&mut page, kam.port).await;
    platform_auto_answer(&mut page, platform).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    (host, page, sip_port)
}

async fn platform_auto_answer(page: &mut Page, on: bool) {
    page.ok(
        Command::SetConfigParam,
        json!({"call": {"platform_auto_answer": u8::from(on)}}),
    )
    .await;
}

async fn answer_way(page: &mut Page, way: &str) {
    page.ok(
        Command::SetAnswerWay,
        json!({"answerWay": way, "times": "0"}),
    )
    .await;
}

fn call_id_of(v: &Value) -> u64 {
    v["param"]["callId"].as_u64().unwrap_or(0)
}

async fn dropped(host: &Seatphone) -> u64 {
    host.health().await["registration"]["dropped_requests"]
        .as_u64()
        .expect("/health counts dropped requests")
}

const SDP: &str = "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// A request to the seat from `transport` 127.0.0.1:`me`; `to_tag` and
/// `call_id` for requests that pretend to belong to a dialog.
struct Forged<'a> {
    method: &'a str,
    transport: &'a str,
    me: u16,
    seat: u16,
    call_id: &'a str,
    to_tag: Option<&'a str>,
    /// Ask for auto-answer (Call-Info answer-after=0 and Alert-Info).
    auto_answer: bool,
    sdp: bool,
}

impl Forged<'_> {
    fn text(&self) -> String {
        let Forged {
            method,
            transport,
            me,
            seat,
            call_id,
            ..
        } = self;
        let to_tag = self.to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let seq = if *method == "CANCEL" { 1 } else { 7 };
        let mut head = format!(
            "{method} sip:1001@127.0.0.1:{seat} SIP/2.0\r\n\
             Via: SIP/2.0/{transport} 127.0.0.1:{me};branch=z9hG4bK-{method}-{me};rport\r\n\
             From: \"Queue 7\" <sip:queue@127.0.0.1:{me}>;tag=stranger{me}\r\n\
             To: <sip:1001@127.0.0.1:{seat}>{to_tag}\r\n\
             Call-ID: {call_id}\r\nCSeq: {seq} {method}\r\n\
             Contact: <sip:queue@127.0.0.1:{me};transport={}>\r\nMax-Forwards: 70\r\n",
            transport.to_ascii_lowercase()
        );
        if self.auto_answer {
            head.push_str("Call-Info: <sip:127.0.0.1>;answer-after=0\r\n");
            head.push_str("Alert-Info: <http://127.0.0.1/>;info=alert-autoanswer\r\n");
        }
        let body = if self.sdp { SDP } else { "" };
        if self.sdp {
            head.push_str("Content-Type: application/sdp\r\n");
        }
        format!("{head}Content-Length: {}\r\n\r\n{body}", body.len())
    }
}

/// A stranger's INVITE asking to be answered at once.
fn auto_answer_invite(transport: &str, me: u16, seat: u16) -> Forged<'_> {
    Forged {
        method: "INVITE",
        transport,
        me,
        seat,
        call_id: "",
        to_tag: None,
        auto_answer: true,
        sdp: true,
    }
}

/// A UDP socket on a new port of 127.0.0.1.
async fn udp() -> (UdpSocket, u16) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let port = sock.local_addr().expect("addr").port();
    (sock, port)
}

/// Status lines that reach `sock` until `quiet` passes without one.
async fn answers(sock: &UdpSocket, quiet: Duration) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    while let Ok(Ok((n, _))) = tokio::time::timeout(quiet, sock.recv_from(&mut buf)).await {
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        got.push(text.lines().next().unwrap_or_default().to_owned());
    }
    got
}

/// Sends one forged request over UDP from a new port; what came back.
async fn udp_stranger(seat: u16, forge: impl Fn(u16) -> String) -> Vec<String> {
    let (sock, me) = udp().await;
    sock.send_to(forge(me).as_bytes(), ("127.0.0.1", seat))
        .await
        .expect("send");
    answers(&sock, QUIET).await
}

/// Opens a TCP connection to the seat and sends one forged request; the
/// bytes that came back before `QUIET` passed.
async fn tcp_stranger(seat: u16, forge: impl Fn(u16) -> String) -> Vec<u8> {
    let mut conn = TcpStream::connect(("127.0.0.1", seat))
        .await
        .expect("the seat listens on TCP");
    let me = conn.local_addr().expect("addr").port();
    conn.write_all(forge(me).as_bytes()).await.expect("send");
    let mut back = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(QUIET, conn.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        back.extend_from_slice(&buf[..n]);
    }
    back
}

fn no_call_reached_the_page(frames: &[Value]) {
    assert!(
        frames.iter().all(|f| !matches!(
            event_of(f),
            Some(Event::CallIncoming | Event::CallConnected)
        )),
        "{frames:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_auto_answer_invite_gets_no_answer_in_any_answer_mode() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let (host, mut page, seat) = seat(&kam, "", true).await;
    let engine = host.engine_pid().expect("engine");
    let before = dropped(&host).await;
    let mut sent = 0;
    for way in ["0", "1", "2", "4"] {
        answer_way(&mut page, way).await;
        for transport in ["UDP", "TCP"] {
            let forge = |me| {
                let id = format!("stranger-{way}-{me}@127.0.0.1");
                let mut f = auto_answer_invite(transport, me, seat);
                f.call_id = &id;
                f.text()
            };
            let back = if transport == "UDP" {
                udp_stranger(seat, forge).await
            } else {
                let bytes = tcp_stranger(seat, forge).await;
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .map(str::to_owned)
                    .collect()
            };
            sent += 1;
            assert!(
                back.is_empty(),
                "answer way {way}, {transport}: the stranger got {back:?}"
            );
        }
    }
    // A scanner's probe learns nothing either.
    let probe = udp_stranger(seat, |me| {
        Forged {
            method: "OPTIONS",
            transport: "UDP",
            me,
            seat,
            call_id: "scan@127.0.0.1",
            to_tag: None,
            auto_answer: false,
            sdp: false,
        }
        .text()
    })
    .await;
    sent += 1;
    assert!(probe.is_empty(), "{probe:?}");

    no_call_reached_the_page(&page.forget(Duration::from_millis(300)).await);
    assert_eq!(host.engine_pid(), Some(engine), "the engine restarted");
    let health = host.health().await;
    assert_eq!(health["registration"]["state"], "registered", "{health}");
    assert_eq!(dropped(&host).await, before + sent, "{health}");
    // All from 127.0.0.1 within a minute: noted once.
    let log = std::fs::read_to_string(host.dir.path().join("log/engine.log")).expect("engine log");
    let notes: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("dropped a SIP"))
        .collect();
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert!(notes[0].contains("127.0.0.1"), "{notes:#?}");
}

/// SIPp, as the platform behind Kamailio, calls 1001 (the seat) with the
/// proxy's challenge answered as 1002.
fn platform_via(kam: &Kamailio, scenario: &str) -> Sipp {
    let port = free_port(1);
    Sipp::uac_from(
        scenario,
        &kam.addr(),
        port,
        &["-s", "1001", "-au", "1002", "-ap", "pass1002"],
    )
    .expect("sipp")
}

async fn passed(sipp: &mut Sipp) {
    let ok = sipp.finished(Duration::from_secs(20)).await;
    assert_eq!(ok, Some(true), "SIPp scenario failed:\n{}", sipp.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_request_relayed_by_the_registrar_rings_and_auto_answers_only_when_enabled() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let (_host, mut page, _) = seat(&kam, "", false).await;

    // Not enabled: it rings, and only the agent answers (here: refuses).
    let mut sipp = platform_via(&kam, "uac_platform_refused.xml");
    let inc = page.event(Event::CallIncoming, SECS).await;
    assert_eq!(inc["param"]["callInfo"]["isAutoAnswer"], 0, "{inc}");
    assert_eq!(inc["param"]["callInfo"]["autoAnswerReason"], "", "{inc}");
    page.never(Event::CallConnected, Duration::from_millis(1500))
        .await;
    page.ok(Command::EndCall, json!({"callId": call_id_of(&inc)}))
        .await;
    passed(&mut sipp).await;

    // Enabled: answered by itself, and the page is told why.
    platform_auto_answer(&mut page, true).await;
    let mut sipp = platform_via(&kam, "uac_platform_answered.xml");
    let inc = page.event(Event::CallIncoming, SECS).await;
    assert_eq!(inc["param"]["callInfo"]["isAutoAnswer"], 1, "{inc}");
    assert_eq!(inc["param"]["callInfo"]["autoAnswerReason"], "platform");
    let up = page.event(Event::CallConnected, SECS).await;
    assert_eq!(call_id_of(&up), call_id_of(&inc));
    assert_eq!(up["param"]["callInfo"]["isAutoAnswer"], 1, "{up}");
    assert_eq!(up["param"]["callInfo"]["autoAnswerReason"], "platform");
    page.event(Event::CallEnded, SECS).await;
    passed(&mut sipp).await;

    // Do not disturb wins over the platform's request.
    answer_way(&mut page, "4").await;
    let mut sipp = platform_via(&kam, "uac_platform_refused.xml");
    passed(&mut sipp).await;
    no_call_reached_the_page(&page.forget(Duration::from_millis(300)).await);

    // The page's own auto-answer says so, the platform's being off.
    platform_auto_answer(&mut page, false).await;
    answer_way(&mut page, "2").await;
    let mut sipp = platform_via(&kam, "uac_platform_answered.xml");
    let inc = page.event(Event::CallIncoming, SECS).await;
    assert_eq!(inc["param"]["callInfo"]["autoAnswerReason"], "answerWay");
    page.event(Event::CallConnected, SECS).await;
    page.event(Event::CallEnded, SECS).await;
    passed(&mut sipp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_from_lets_a_peer_ring_but_never_answers_it_by_itself() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let (host, mut page, seat) = seat(&kam, "accept_from = [\"127.0.0.1\"]", true).await;
    let (sock, me) = udp().await;
    let mut invite = auto_answer_invite("UDP", me, seat);
    invite.call_id = "allowed-peer@127.0.0.1";
    sock.send_to(invite.text().as_bytes(), ("127.0.0.1", seat))
        .await
        .expect("send");
    let inc = page.event(Event::CallIncoming, SECS).await;
    assert_eq!(inc["param"]["callInfo"]["isAutoAnswer"], 0, "{inc}");
    assert_eq!(inc["param"]["callInfo"]["peerNumber"], "queue");
    let rang = answers(&sock, QUIET).await;
    assert!(
        rang.iter().any(|l| l.starts_with("SIP/2.0 180")),
        "{rang:?}"
    );
    assert!(
        !rang.iter().any(|l| l.starts_with("SIP/2.0 200")),
        "{rang:?}"
    );
    page.never(Event::CallConnected, Duration::from_millis(300))
        .await;
    page.ok(Command::EndCall, json!({"callId": call_id_of(&inc)}))
        .await;
    let refused = answers(&sock, QUIET).await;
    assert!(
        refused.iter().any(|l| l.starts_with("SIP/2.0 486")),
        "{refused:?}"
    );
    assert_eq!(dropped(&host).await, 0);
}

/// The Call-ID of the INVITE the seat received, from its SIP message log.
fn received_call_id(host: &Seatphone) -> String {
    let log = std::fs::read_to_string(host.dir.path().join("log/sip-messages.log"))
        .expect("SIP message log");
    let mut lines = log.lines();
    let mut last = "";
    while let Some(line) = lines.next() {
        if last.starts_with("<<<") && line.starts_with("INVITE ") {
            for l in lines.by_ref() {
                if let Some(v) = l.strip_prefix("Call-ID:") {
                    return v.trim().to_owned();
                }
            }
        }
        last = line;
    }
    panic!("no INVITE received in the log:\n{log}")
}

/// A live call from baresip (through Kamailio); strangers who know its
/// Call-ID (not its tags) send BYE, a re-INVITE putting it on hold, a
/// CANCEL and a new INVITE with that Call-ID. `open`: the seat takes
/// requests from any address, so they pass the door and meet the dialog
/// check; otherwise the door drops them unanswered. The call goes on.
async fn guessed_call_id_changes_nothing(open: bool) {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Manual).expect("baresip");
    let sip_toml = if open { "accept_from = [\"any\"]" } else { "" };
    let (host, mut page, seat) = seat(&kam, sip_toml, true).await;
    bob.dial("sip:1001@127.0.0.1");
    let inc = page.event(Event::CallIncoming, SECS).await;
    let id = call_id_of(&inc);
    page.ok(Command::AcceptCall, json!({"callId": id, "isVideo": false}))
        .await;
    page.event(Event::CallConnected, SECS).await;
    assert!(bob.wait_event(SECS, "CALL_ESTABLISHED"));
    let call_id = received_call_id(&host);

    let attempts: [(&str, Option<&str>, bool, &str); 4] = [
        ("BYE", Some("guessed"), false, "481"),
        ("INVITE", Some("guessed"), true, "481"),
        ("CANCEL", None, false, "481"),
        ("INVITE", None, true, "482"),
    ];
    for (method, to_tag, sdp, refusal) in attempts {
        let back = udp_stranger(seat, |me| {
            let f = Forged {
                method,
                transport: "UDP",
                me,
                seat,
                call_id: &call_id,
                to_tag,
                auto_answer: method == "INVITE",
                sdp,
            };
            f.text().replace("a=rtpmap", "a=sendonly\r\na=rtpmap")
        })
        .await;
        if open {
            assert!(
                back.iter().any(|l| l.contains(refusal)),
                "{method} (to-tag {to_tag:?}) got {back:?}, not {refusal}"
            );
            assert!(!back.iter().any(|l| l.starts_with("SIP/2.0 2")), "{back:?}");
        } else {
            assert!(back.is_empty(), "{method}: the stranger got {back:?}");
        }
    }
    let frames = page.forget(Duration::from_millis(500)).await;
    assert!(
        frames
            .iter()
            .all(|f| !matches!(event_of(f), Some(Event::CallIncoming | Event::CallEnded))),
        "{frames:?}"
    );
    assert!(!bob.has_event("CALL_CLOSED"), "{:?}", bob.events());
    // The dialog is intact: hold goes through to baresip, then a normal end.
    page.ok(Command::HoldCall, json!({"callId": id})).await;
    assert_eq!(call_id_of(&page.event(Event::HoldSuccess, SECS).await), id);
    page.ok(Command::EndCall, json!({"callId": id})).await;
    let end = page.event(Event::CallEnded, SECS).await;
    assert_eq!(end["param"]["callInfo"]["reasonCode"], 0);
    assert!(bob.wait_event(SECS, "CALL_CLOSED"));
    let expected = if open { 0 } else { 4 };
    assert_eq!(dropped(&host).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_with_a_guessed_call_id_are_dropped_and_the_call_goes_on() {
    guessed_call_id_changes_nothing(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_peers_with_a_guessed_call_id_are_refused_and_the_call_goes_on() {
    guessed_call_id_changes_nothing(true).await;
}
