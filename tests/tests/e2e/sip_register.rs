//! Registration against a real Kamailio: success, wrong password,
//! deRegister and refresh, seen in `kamcmd ul.dump`, with MD5 and SHA-256;
//! keep-alives over TCP and TLS, seen on the wire through a relay.

use std::time::Duration;

use seatphone_sip::admission::AcceptFrom;
use seatphone_tests::host::{Command, Event};
use seatphone_tests::peers::kamailio::{Digest, Kamailio, KamailioConfig};
use seatphone_tests::peers::relay::{tls_records, Recorded, Relay};
use seatphone_tests::peers::ua::Ua;
use seatphone_tests::peers::wait_until;
use serde_json::{json, Value};

fn kamailio(digest: Digest, max_expires: u32) -> Kamailio {
    Kamailio::start(KamailioConfig {
        digest,
        max_expires,
        ..KamailioConfig::default()
    })
    .expect("kamailio starts")
}

async fn register_and_deregister(digest: Digest) {
    let kam = kamailio(digest, 3600);
    let mut ua = Ua::start().await;
    let cfg = ua.configure(kam.port, &[]).await;
    assert_eq!(cfg.result, 0, "{cfg:?}");
    assert_eq!(cfg.top["local_ip"], "127.0.0.1");
    assert_eq!(ua.login("1001", "pass1001", 4).await.result, 0);
    let registering = ua.wait(Event::AccountStatus, 5).await;
    assert_eq!(registering.param["register_state"], 1);
    let ok = ua.wait(Event::LoginSuccess, 10).await;
    assert_eq!(ok.param["user_number"], "1001");
    assert_eq!(ok.param["register_state"], 3);
    let status = ua.last_seen(Event::AccountStatus);
    assert_eq!(status.param["register_state"], 3);
    assert_eq!(status.param["server"], kam.addr());
    let contacts = kam.contacts("1001");
    assert_eq!(contacts.len(), 1, "ul.dump: {}", kam.ul_dump());
    assert!(
        contacts[0].starts_with("sip:1001@127.0.0.1:"),
        "{contacts:?}"
    );
    assert!(
        kam.ul_dump()
            .contains("urn:uuid:00000000-0000-4000-8000-000000000001"),
        "+sip.instance stored"
    );
    assert_eq!(ua.sip.health()["state"], "registered");
    assert!(!ua.sip.health().to_string().contains("pass1001"));
    let snap = ua.sip.snapshot();
    assert_eq!(snap[0].notify, Event::AccountStatus.notify());

    ua.ok(Command::Logout, json!({"sipNum": "1001"})).await;
    let out = ua.wait(Event::LogoutSuccess, 10).await;
    assert_eq!(out.param["register_state"], 4);
    assert!(
        wait_until(Duration::from_secs(3), || kam.contacts("1001").is_empty()),
        "{}",
        kam.ul_dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_md5_then_deregister() {
    register_and_deregister(Digest::Md5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_sha256_then_deregister() {
    register_and_deregister(Digest::Sha256).await;
}

async fn wrong_password(digest: Digest) {
    let kam = kamailio(digest, 3600);
    let mut ua = Ua::start().await;
    ua.configure(kam.port, &[]).await;
    assert_eq!(ua.login("1001", "wrong", 4).await.result, 0);
    let failed = ua.wait(Event::LoginFailed, 10).await;
    let code = failed.param["reason_code"].as_u64().unwrap_or(0);
    assert!(code == 401 || code == 403, "{failed:?}");
    assert_eq!(failed.param["loginFailedInfo"]["reasonCode"], code);
    // Never an endless loop: nothing more happens.
    ua.settle(1500).await;
    assert_eq!(
        ua.notified()
            .iter()
            .filter(|n| **n == Event::LoginFailed.notify())
            .count(),
        1,
        "{:?}",
        ua.notified()
    );
    assert!(kam.contacts("1001").is_empty());
    let registers = kam.log().matches("REGISTER").count();
    assert!(registers <= 4, "a bounded number of REGISTERs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_wrong_password_md5_fails_once() {
    wrong_password(Digest::Md5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_wrong_password_sha256_fails_once() {
    wrong_password(Digest::Sha256).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_refresh_is_seen_at_kamailio() {
    // The registrar grants 4 s: we refresh at 2 s, so the binding never lapses.
    let kam = kamailio(Digest::Md5, 4);
    let mut ua = Ua::start().await;
    ua.register(kam.port, "1001").await;
    for _ in 0..3 {
        ua.wait(Event::LoginSuccess, 5).await;
    }
    assert_eq!(kam.contacts("1001").len(), 1, "{}", kam.ul_dump());
    let left = kam.expires_left("1001").unwrap_or(0);
    assert!(left >= 2, "refreshed binding has time left: {left}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_sip_name_with_domain_and_mode_1() {
    let kam = kamailio(Digest::Md5, 3600);
    let mut ua = Ua::start().await;
    ua.configure(kam.port, &[]).await;
    ua.ok(
        Command::Login,
        json!({"sipNum": "1002", "sipName": "1002@127.0.0.1", "sipPwd": "pass1002", "sipMode": 1}),
    )
    .await;
    ua.wait(Event::LoginSuccess, 10).await;
    assert_eq!(kam.contacts("1002").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_bad_params_are_result_2_and_login_needs_config() {
    let mut ua = Ua::start().await;
    let r = ua.login("1001", "x", 4).await;
    assert_eq!(r.result, 3, "{r:?}");
    let r = ua
        .command(
            Command::SetConfigParam,
            json!({"networkInfo": {"sipServerPort": "x"}}),
        )
        .await;
    assert_eq!(r.result, 2);
    assert!(r.err_msg.unwrap_or_default().contains("sipServerPort"));
    let r = ua.command(Command::Login, json!({"sipNum": 5})).await;
    assert_eq!(r.result, 2);
    let r = ua.command(Command::Logout, json!({})).await;
    assert_eq!(r.result, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_a_restarted_engine_replaces_its_stale_contact() {
    let kam = kamailio(Digest::Md5, 3600);
    // The first engine dies without unregistering (its contact stays)…
    let mut first = Ua::start().await;
    first.register(kam.port, "1001").await;
    let stale = kam.contacts("1001");
    assert_eq!(stale.len(), 1);
    // …and the restarted one (same +sip.instance, new port) replaces it.
    let mut second = Ua::start().await;
    second.register(kam.port, "1001").await;
    let now = kam.contacts("1001");
    assert_eq!(now.len(), 1, "{}", kam.ul_dump());
    assert_ne!(now, stale);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_shutdown_unregisters_and_ends_calls() {
    let kam = kamailio(Digest::Md5, 3600);
    let mut ua = Ua::start().await;
    ua.register(kam.port, "1001").await;
    assert_eq!(kam.contacts("1001").len(), 1);
    let started = std::time::Instant::now();
    ua.sip.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(kam.contacts("1001").is_empty(), "{}", kam.ul_dump());
    let r = ua.command(Command::Logout, json!({})).await;
    assert_ne!(r.result, 0, "the stopped agent answers, and says no");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_message_log_has_no_digest_credentials() {
    let kam = kamailio(Digest::Md5, 3600);
    let dir = tempfile::tempdir().expect("tempdir");
    let log_dir = dir.path().to_path_buf();
    let mut ua = Ua::start_with(|c| c.msg_log_dir = Some(log_dir)).await;
    ua.register(kam.port, "1001").await;
    let log = std::fs::read_to_string(dir.path().join("sip-messages.log")).expect("message log");
    assert!(log.contains("REGISTER sip:"), "{log}");
    assert!(log.contains("WWW-Authenticate"), "challenges are logged");
    assert!(log.contains("Authorization: <redacted>"), "{log}");
    assert!(!log.contains("response="), "no digest response in the log");
    assert!(!log.contains("pass1001"));
}

/// Whether an OPTIONS probe from a new port of 127.0.0.1 gets 200 within 3 s.
async fn probe_answered(ua: &Ua) -> bool {
    let local = ua.sip.health()["local"].as_str().expect("local").to_owned();
    let port: u16 = local
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    tokio::task::spawn_blocking(move || {
        seatphone_tests::peers::wait_for_options(port, Duration::from_secs(3))
    })
    .await
    .expect("probe")
}

/// OPTIONS from a source `[sip] accept_from` lets in is answered 200; the
/// same probe from anyone else gets nothing at all (a scanner learns
/// nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_options_out_of_dialog_is_answered_200_only_to_an_allowed_source() {
    let open = Ua::start_with(|c| {
        c.accept_from = AcceptFrom::parse(&["127.0.0.1"]).expect("accept_from");
    })
    .await;
    assert!(probe_answered(&open).await, "OPTIONS gets 200");
    let closed = Ua::start().await;
    assert!(
        !probe_answered(&closed).await,
        "a stranger's OPTIONS gets no answer"
    );
}

/// Registers 1001 through `relay` with `sipTransportMode` `mode` (plus
/// `sip` settings) and waits for LoginSuccess.
async fn register_via(ua: &mut Ua, relay: &Relay, mode: u32, sip: Value) {
    ua
        .ok(Command::SetConfigParam,
            json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": relay.port, "sipTransportMode": mode},
                   "sip": sip}),
        )
        .await;
    assert_eq!(ua.login("1001", "pass1001", 4).await.result, 0);
    ua.wait(Event::LoginSuccess, 10).await;
}

/// What each relayed connection carried, briefly, for failure messages.
fn summary(conns: &[Recorded]) -> String {
    conns
        .iter()
        .map(|c| {
            let firsts: Vec<String> = c
                .requests()
                .iter()
                .map(|r| r.lines().next().unwrap_or("").to_owned())
                .collect();
            format!("{firsts:?} pings={} pongs={}", c.pings(), c.pongs())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Requests of `method` that reached Kamailio over `proto` ("udp", "tcp",
/// "tls"; Kamailio's `$pr`), from the line its route logs for each one.
/// Its readiness probe, OPTIONS over UDP, may be logged late when a slow
/// start made the probe send it twice.
fn logged(kam: &Kamailio, method: &str, proto: &str) -> usize {
    kam.log()
        .lines()
        .filter(|l| l.contains(&format!(" {method} sip")) && l.contains(&format!(" over {proto} ")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_over_tcp_keeps_its_flow_alive_with_crlf_pings_kamailio_answers() {
    let kam = kamailio(Digest::Md5, 3600);
    let relay = Relay::start(([127, 0, 0, 1], kam.port).into()).expect("relay");
    let mut ua = Ua::start().await;
    register_via(&mut ua, &relay, 2, json!({})).await;
    assert_eq!(ua.sip.health()["transport"], "tcp");
    // Keep-alives every 2 s (test timing): three answered pings.
    let answered = wait_until(Duration::from_secs(20), || {
        relay
            .connections()
            .iter()
            .any(|c| c.pings() >= 3 && c.pongs() >= 3)
    });
    let conns = relay.connections();
    assert!(answered, "{}", summary(&conns));
    let flow = conns.iter().find(|c| c.pings() >= 3).expect("pinged flow");
    assert!(
        flow.requests().iter().any(|r| r.starts_with("REGISTER ")),
        "pings go on the registration's flow: {}",
        summary(&conns)
    );
    assert!(
        conns
            .iter()
            .all(|c| !c.requests().iter().any(|r| r.starts_with("OPTIONS "))),
        "no OPTIONS over TCP: {}",
        summary(&conns)
    );
    assert_eq!(logged(&kam, "OPTIONS", "tcp"), 0);
    assert_eq!(ua.sip.health()["state"], "registered");
    assert_eq!(kam.contacts("1001").len(), 1, "{}", kam.ul_dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_over_tcp_replaces_a_dropped_flow_before_the_refresh() {
    let kam = kamailio(Digest::Md5, 3600);
    let relay = Relay::start(([127, 0, 0, 1], kam.port).into()).expect("relay");
    let mut ua = Ua::start().await;
    register_via(&mut ua, &relay, 2, json!({})).await;
    // The connection drops (NAT, server restart): a new flow and a new
    // REGISTER on it, without waiting for the refresh (at 30 s).
    relay.cut();
    let again = ua
        .wait_where(10, |e| {
            e.notify == Event::AccountStatus.notify() && e.param["register_state"] == 3
        })
        .await;
    let conns = relay.connections();
    assert!(again.is_some(), "{:?}\n{}", ua.notified(), summary(&conns));
    assert_eq!(conns.len(), 2, "{}", summary(&conns));
    assert!(conns[1].requests()[0].starts_with("REGISTER "));
    assert!(
        wait_until(Duration::from_secs(10), || relay.connections()[1].pongs()
            >= 1),
        "the new flow is pinged and answered: {}",
        summary(&relay.connections())
    );
    assert_eq!(kam.contacts("1001").len(), 1, "{}", kam.ul_dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_register_over_tls_keeps_its_flow_alive_with_crlf_pings_kamailio_answers() {
    let kam = Kamailio::start_tls();
    let tls_port = kam.tls_port.expect("tls port");
    let relay = Relay::start(([127, 0, 0, 1], tls_port).into()).expect("relay");
    let mut ua = Ua::start().await;
    let ca = kam.ca_cert().display().to_string();
    register_via(&mut ua, &relay, 1, json!({"tls_rootcertpath": ca})).await;
    assert_eq!(ua.sip.health()["transport"], "tls");
    // The relay sees only TLS records. A ping (4 bytes) or a pong (2) makes
    // an application-data record far shorter than any SIP message would.
    let small = |bytes: &[u8]| {
        tls_records(bytes)
            .iter()
            .filter(|(kind, len)| *kind == 23 && *len <= 40)
            .count()
    };
    let answered = wait_until(Duration::from_secs(20), || {
        relay
            .connections()
            .iter()
            .any(|c| small(&c.to_server) >= 3 && small(&c.to_client) >= 3)
    });
    let conns = relay.connections();
    let sizes: Vec<_> = conns
        .iter()
        .map(|c| (tls_records(&c.to_server), tls_records(&c.to_client)))
        .collect();
    assert!(answered, "records (type, length) per connection: {sizes:?}");
    assert_eq!(conns.len(), 1, "one flow: {sizes:?}");
    assert_eq!(logged(&kam, "OPTIONS", "tls"), 0, "no OPTIONS over TLS");
    assert!(logged(&kam, "REGISTER", "tls") >= 1);
    assert_eq!(ua.sip.health()["state"], "registered");
    assert_eq!(kam.contacts("1001").len(), 1, "{}", kam.ul_dump());
}
