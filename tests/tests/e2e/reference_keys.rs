//! The reference's `config` and call keys, honoured by the real `seatphone`
//! binary against Kamailio: `log_path` moves the SIP message log (inside
//! `[api] page_paths`), unknown keys are listed in the log, `network` is
//! the reference's name for `networkInfo`, a TLS server without a port is
//! on 5061, and `deRegister(sip_num)` deregisters only the number
//! registered here.

use std::time::Duration;

use seatphone_tests::host::{Command, Event, Options, Page, Seatphone};
use seatphone_tests::netns;
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::wait_until;
use serde_json::{json, Value};

const SECS: Duration = Duration::from_secs(10);

/// A host with the audio plugin on silent devices; `api_toml` for
/// `page_paths`.
async fn host(api_toml: String) -> Seatphone {
    Seatphone::start(Options {
        api_toml,
        ..Options::audio_only()
    })
    .await
}

async fn config(page: &mut Page, param: Value) -> Value {
    let r = page.ok(Command::SetConfigParam, param).await;
    r
}

fn udp_server(kam: &Kamailio) -> Value {
    json!({"serverAddr": "127.0.0.1", "sipServerPort": kam.port, "sipTransportMode": 0})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_path_puts_the_sip_message_log_in_the_pages_folder() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let pages = tempfile::tempdir().unwrap();
    let host = host(format!("page_paths = [\"{}\"]", pages.path().display())).await;
    let mut page = host.call_page().await;
    let folder = pages.path().join("siplog");
    let r = config(
        &mut page,
        json!({"networkInfo": udp_server(&kam), "log_path": folder.to_str().unwrap()}),
    )
    .await;
    assert!(r.get("errMsg").is_none(), "{r}");
    Seatphone::register(&mut page, "1001", "pass1001").await;
    let ours = || std::fs::read_to_string(folder.join("sip-messages.log")).unwrap_or_default();
    let hosts = || {
        std::fs::read_to_string(host.dir.path().join("log/sip-messages.log")).unwrap_or_default()
    };
    assert!(ours().contains("REGISTER sip:"), "{}", ours());
    assert!(ours().contains("SIP/2.0 200 OK"), "{}", ours());
    assert!(
        !hosts().contains("REGISTER sip:"),
        "the host's folder got it too: {}",
        hosts()
    );
    // An empty log_path puts it back where the host keeps it: the REGISTER
    // that ends the registration is written there.
    config(&mut page, json!({"log_path": ""})).await;
    let before = ours();
    page.ok(Command::Logout, json!({"sipNum": "1001"})).await;
    page.event(Event::LogoutSuccess, SECS).await;
    assert!(hosts().contains("REGISTER sip:"), "{}", hosts());
    assert_eq!(ours(), before, "nothing more in the page's folder");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_path_outside_page_paths_writes_nothing_there() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let allowed = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let host = host(format!("page_paths = [\"{}\"]", allowed.path().display())).await;
    let mut page = host.call_page().await;
    let r = config(
        &mut page,
        json!({"networkInfo": udp_server(&kam), "log_path": elsewhere.path().to_str().unwrap()}),
    )
    .await;
    assert!(
        r["errMsg"].as_str().unwrap_or("").contains("page_paths"),
        "{r}"
    );
    Seatphone::register(&mut page, "1001", "pass1001").await;
    assert!(!elsewhere.path().join("sip-messages.log").exists());
    let hosts = std::fs::read_to_string(host.dir.path().join("log/sip-messages.log"))
        .expect("the host's message log");
    assert!(hosts.contains("REGISTER sip:"), "{hosts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_config_keys_are_listed_in_the_log_and_the_rest_applies() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let host = host(String::new()).await;
    let mut page = host.call_page().await;
    config(
        &mut page,
        json!({"networkInfo": udp_server(&kam), "colour": "red", "sip": {"tans_mode": 2}}),
    )
    .await;
    assert!(
        wait_until(SECS, || {
            let logs = host.all_logs();
            logs.lines().any(|l| {
                l.contains("unknown keys ignored")
                    && l.contains("colour")
                    && l.contains("sip.tans_mode")
            })
        }),
        "{}",
        host.all_logs()
    );
    Seatphone::register(&mut page, "1001", "pass1001").await;
    assert_eq!(host.health().await["registration"]["transport"], "udp");
    assert_eq!(kam.contacts("1001").len(), 1, "{}", kam.ul_dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_names_the_server_as_network_info_does() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let host = host(String::new()).await;
    let mut page = host.call_page().await;
    config(&mut page, json!({"network": udp_server(&kam)})).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    assert_eq!(kam.contacts("1001").len(), 1, "{}", kam.ul_dump());
    let server = format!("127.0.0.1:{}", kam.port);
    assert_eq!(
        host.health().await["registration"]["server"],
        server.as_str()
    );
}

/// Kamailio's TLS on 5061 (free in a namespace of its own); the page names
/// the server and TLS, no port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_server_without_a_port_is_reached_on_5061() {
    if !netns::isolated(
        module_path!(),
        "a_tls_server_without_a_port_is_reached_on_5061",
    ) {
        return;
    }
    let kam = Kamailio::start(KamailioConfig {
        tls: true,
        tls_port: 5061,
        ..KamailioConfig::default()
    })
    .expect("kamailio with tls on 5061");
    let ca = kam.ca_cert();
    let folder = ca.parent().expect("folder").display().to_string();
    let host = host(format!("page_paths = [\"{folder}\"]")).await;
    let mut page = host.call_page().await;
    config(
        &mut page,
        json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipTransportMode": 1},
               "sip": {"tls_rootcertpath": ca.display().to_string()}}),
    )
    .await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    let reg = &host.health().await["registration"];
    assert_eq!(reg["server"], "127.0.0.1:5061", "{reg}");
    assert_eq!(reg["transport"], "tls", "{reg}");
    assert_eq!(kam.contacts("1001").len(), 1, "{}", kam.ul_dump());
    let dump = kam.ul_dump();
    assert!(dump.contains("tls:127.0.0.1:5061"), "{dump}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn de_register_of_another_number_changes_nothing_and_of_ours_deregisters() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let host = host(String::new()).await;
    let mut page = host.call_page().await;
    config(&mut page, json!({"networkInfo": udp_server(&kam)})).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    for other in ["1002", "1001@example.org", "1002@127.0.0.1"] {
        let r = page
            .request(Command::Logout, json!({ "sipNum": other }))
            .await;
        assert_eq!(r["result"], 5, "{other}: {r}");
        assert!(
            r["errMsg"]
                .as_str()
                .unwrap()
                .contains("not registered here"),
            "{r}"
        );
    }
    let r = page.request(Command::Logout, json!({"sipNum": 1001})).await;
    assert_eq!(r["result"], 2, "a number that is not a string: {r}");
    page.never(Event::LogoutSuccess, Duration::from_millis(500))
        .await;
    assert_eq!(host.health().await["registration"]["state"], "registered");
    assert_eq!(kam.contacts("1001").len(), 1, "{}", kam.ul_dump());
    // The demo page's form: user@server.
    page.ok(Command::Logout, json!({"sipNum": "1001@127.0.0.1"}))
        .await;
    page.event(Event::LogoutSuccess, SECS).await;
    assert!(
        wait_until(SECS, || kam.contacts("1001").is_empty()),
        "{}",
        kam.ul_dump()
    );
}
