//! Hostile SIP at the host's port: the RFC 4475 torture messages, malformed
//! datagrams and an INVITE flood leave the host running and serving, and no
//! malformed request reaches the page as a call. Run inside a private network
//! namespace: the torture messages' Via headers name other hosts.
//! Hostile framing on the registration's own TCP and TLS flows (a
//! Content-Length near 2^64 from the server's side) closes that flow only.

use std::path::PathBuf;
use std::time::Duration;

use seatphone_tests::host::{
    events_of, is_event, repo_root, Command, Event, Options, Page, Seatphone,
};
use seatphone_tests::netns;
use seatphone_tests::peers::free_port;
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::relay::Relay;
use seatphone_tests::peers::tls_relay::TlsRelay;
use seatphone_tests::peers::wait_until;
use serde_json::{json, Value};
use tokio::net::UdpSocket;

/// Requests RFC 4475 says a UA must refuse: none may become a call.
const MUST_REFUSE: &[&str] = &[
    "badinv01",
    "clerr",
    "ncl",
    "scalar02",
    "badvers",
    "mismatch01",
    "mismatch02",
    "insuf",
    "multi01",
    "mcl01",
];

fn torture_dir() -> PathBuf {
    repo_root().join("tests/data/sip-torture")
}

struct Torture {
    name: String,
    bytes: Vec<u8>,
}

fn torture_messages() -> Vec<Torture> {
    let index = std::fs::read_to_string(torture_dir().join("index.tsv"))
        .expect("tests/data/sip-torture/index.tsv");
    index
        .lines()
        .skip(1)
        .map(|line| {
            let name = line.split('\t').next().unwrap().to_owned();
            let bytes =
                std::fs::read(torture_dir().join("msgs").join(format!("{name}.dat"))).unwrap();
            Torture { name, bytes }
        })
        .collect()
}

/// A host on a known SIP port, its engine's pid and a page on its call socket.
struct Target {
    host: Seatphone,
    sip_port: u16,
    engine: u32,
    page: Page,
}

impl Target {
    async fn start() -> Target {
        let sip_port = free_port(1);
        // Every source let in: the messages must reach the parser and the
        // call table, not stop at the door (sip_admission.rs tests the door).
        let host = Seatphone::start(Options {
            sip_port,
            sip_toml: "accept_from = [\"any\"]".into(),
            ..Default::default()
        })
        .await;
        let engine = host.engine_pid().expect("engine");
        let mut page = host.call_page().await;
        page.forget(Duration::from_millis(300)).await;
        Target {
            host,
            sip_port,
            engine,
            page,
        }
    }

    /// Page frames until `quiet` passes without one.
    async fn page_frames(&mut self, quiet: Duration) -> Vec<Value> {
        self.page.forget(quiet).await
    }

    /// Same engine process (no crash, no restart), `/health` and the page API answer.
    async fn assert_still_serving(&mut self) {
        assert_eq!(
            self.host.engine_pid(),
            Some(self.engine),
            "the engine restarted: it crashed"
        );
        assert_eq!(
            self.host.health().await["version"],
            env!("CARGO_PKG_VERSION")
        );
        self.page.ok(Command::GetMicVolume, json!({})).await;
    }

    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.engine))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

#[tokio::test]
async fn rfc4475_torture_messages_leave_the_host_serving_and_the_page_untroubled() {
    if !netns::isolated(
        module_path!(),
        "rfc4475_torture_messages_leave_the_host_serving_and_the_page_untroubled",
    ) {
        return;
    }
    let mut t = Target::start().await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let messages = torture_messages();
    assert_eq!(messages.len(), 49);
    let mut reached_the_page = Vec::new();
    for m in &messages {
        socket
            .send_to(&m.bytes, ("127.0.0.1", t.sip_port))
            .await
            .unwrap();
        let frames = t.page_frames(Duration::from_millis(150)).await;
        if MUST_REFUSE.contains(&m.name.as_str())
            && events_of(&frames).contains(&Event::CallIncoming)
        {
            reached_the_page.push(m.name.clone());
        }
    }
    assert!(
        reached_the_page.is_empty(),
        "malformed requests reached the page as calls: {reached_the_page:?}"
    );
    t.assert_still_serving().await;
}

#[tokio::test]
async fn garbage_oversized_and_truncated_datagrams_are_dropped() {
    if !netns::isolated(
        module_path!(),
        "garbage_oversized_and_truncated_datagrams_are_dropped",
    ) {
        return;
    }
    let mut t = Target::start().await;
    let huge_header = format!(
        "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(60_000)
    );
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0u8; 1],
        (0..=255u8).cycle().take(4000).collect(),
        b"INVITE".to_vec(),
        b"INVITE sip:1@127.0.0.1 SIP/2.0\r\n".to_vec(),
        b"SIP/2.0 200\r\n\r\n".to_vec(),
        b"FOO sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKq\r\nContent-Length: 99999\r\n\r\nx".to_vec(),
        huge_header.into_bytes(),
        "\u{feff}INVITE sip:\u{0}@127.0.0.1 SIP/2.0\r\n\r\n".as_bytes().to_vec(),
    ];
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for g in &garbage {
        socket.send_to(g, ("127.0.0.1", t.sip_port)).await.unwrap();
    }
    t.page
        .never(Event::CallIncoming, Duration::from_millis(500))
        .await;
    t.assert_still_serving().await;
}

#[tokio::test]
async fn invite_flood_beyond_max_calls_is_refused_with_486_and_the_page_sees_only_max_calls() {
    if !netns::isolated(
        module_path!(),
        "invite_flood_beyond_max_calls_is_refused_with_486_and_the_page_sees_only_max_calls",
    ) {
        return;
    }
    let mut t = Target::start().await;
    let fds_before = t.open_fds();
    let trace = t.host.dir.path().join("sipp-messages.log");
    // 200 INVITEs at 200/s from a peer nobody registered.
    let status = tokio::process::Command::new("sipp")
        .args([
            "-sn",
            "uac",
            "-r",
            "200",
            "-m",
            "200",
            "-l",
            "200",
            "-i",
            "127.0.0.1",
            "-p",
        ])
        .arg(free_port(1).to_string())
        .args([
            "-s",
            "1001",
            "-recv_timeout",
            "3000",
            "-timeout",
            "30s",
            "-timeout_error",
            "-nostdin",
        ])
        .args(["-trace_msg", "-message_file"])
        .arg(&trace)
        .arg(format!("127.0.0.1:{}", t.sip_port))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .expect("run sipp (sip-tester)");
    assert!(
        !status.success(),
        "SIPp's calls cannot all succeed: most must be refused"
    );
    let messages = std::fs::read_to_string(&trace).expect("SIPp message trace");
    let busy = messages.matches("SIP/2.0 486").count();
    let mut statuses: Vec<&str> = messages
        .lines()
        .filter(|l| l.starts_with("SIP/2.0 "))
        .collect();
    statuses.sort();
    statuses.dedup();
    assert!(
        busy >= 190,
        "INVITEs beyond max_calls are refused with 486 (saw {busy}; statuses {statuses:?})"
    );

    let frames = t.page_frames(Duration::from_millis(500)).await;
    let incoming = frames
        .iter()
        .filter(|f| is_event(f, Event::CallIncoming))
        .count();
    assert!(
        incoming <= 2,
        "the page saw {incoming} incoming calls; max_calls is 2"
    );
    t.assert_still_serving().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fds_after = t.open_fds();
    assert!(
        fds_after <= fds_before + 8,
        "file descriptors grew from {fds_before} to {fds_after}"
    );
}

/// A request whose Content-Length is near 2^64 (rsipstack 0.7.14 added it
/// to the header length unchecked: patches/README.md).
const HUGE_CONTENT_LENGTH: &[u8] = b"OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\n\
    Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKhuge\r\n\
    From: <sip:server@127.0.0.1>;tag=huge\r\nTo: <sip:1001@127.0.0.1>\r\n\
    Call-ID: huge@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\
    l: 18446744073709551610\r\n\r\n";

/// A seat (audio plugin, silent devices) registered as 1001 with `config`
/// naming its server and transport; its engine's pid and page.
async fn seat_registered(api_toml: String, config: Value) -> (Seatphone, u32, Page) {
    let host = Seatphone::start(Options {
        api_toml,
        ..Options::audio_only()
    })
    .await;
    let engine = host.engine_pid().expect("engine");
    let mut page = host.call_page().await;
    page.ok(Command::SetConfigParam, config).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    // The first registration's account statuses, so that the next one is news.
    page.forget(Duration::from_millis(500)).await;
    (host, engine, page)
}

/// Until an account status says registered again.
async fn registered_again(page: &mut Page) -> bool {
    page.registered(Duration::from_secs(15), |_| true)
        .await
        .is_some()
}

/// The same engine, registered, with one contact at the registrar.
async fn still_registered(host: &Seatphone, engine: u32, kam: &Kamailio) {
    assert_eq!(host.engine_pid(), Some(engine), "the engine restarted");
    let health = host.health().await;
    assert_eq!(health["registration"]["state"], "registered", "{health}");
    assert_eq!(kam.contacts("1001").len(), 1, "{}", kam.ul_dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_content_length_on_the_tcp_flow_closes_it_and_the_seat_registers_again() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let relay = Relay::start(([127, 0, 0, 1], kam.port).into()).expect("relay");
    let config = json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": relay.port, "sipTransportMode": 2}});
    let (host, engine, mut page) = seat_registered(String::new(), config).await;
    assert_eq!(relay.connections().len(), 1);
    relay.send_to_client(HUGE_CONTENT_LENGTH).expect("inject");
    assert!(
        wait_until(Duration::from_secs(10), || relay.connections()[0]
            .client_closed),
        "the seat closed the flow that carried it"
    );
    assert!(
        registered_again(&mut page).await,
        "no account status \"registered\" again"
    );
    let conns = relay.connections();
    assert_eq!(conns.len(), 2, "one new flow");
    assert!(conns[1].requests()[0].starts_with("REGISTER "), "{conns:?}");
    still_registered(&host, engine, &kam).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_content_length_on_the_tls_flow_closes_it_and_the_seat_registers_again() {
    let kam = Kamailio::start_tls();
    let (cert, key) = kam.tls_identity();
    let relay = TlsRelay::start(([127, 0, 0, 1], kam.port).into(), &cert, &key)
        .await
        .expect("tls relay");
    let ca = kam.ca_cert();
    let folder = ca.parent().expect("folder").display().to_string();
    let config = json!({
        "networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": relay.port, "sipTransportMode": 1},
        "sip": {"tls_rootcertpath": ca.display().to_string()}
    });
    let (host, engine, mut page) =
        seat_registered(format!("page_paths = [\"{folder}\"]"), config).await;
    assert_eq!(relay.flows().len(), 1);
    relay.send_to_client(HUGE_CONTENT_LENGTH).expect("inject");
    assert!(
        wait_until(Duration::from_secs(10), || relay.flows()[0].client_closed),
        "the seat closed the flow that carried it"
    );
    assert!(
        registered_again(&mut page).await,
        "no account status \"registered\" again"
    );
    let flows = relay.flows();
    assert_eq!(flows.len(), 2, "one new flow");
    assert!(
        flows[1].from_client.starts_with(b"REGISTER "),
        "{}",
        String::from_utf8_lossy(&flows[1].from_client)
    );
    still_registered(&host, engine, &kam).await;
}
