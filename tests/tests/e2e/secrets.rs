//! The SIP password never appears in logs, `/health`, events or errors —
//! neither does a digest response. Real host, real Kamailio.

use std::time::Duration;

use seatphone_tests::host::{Command, Event, Options, Seatphone};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use serde_json::{json, Value};

const SECRET: &str = "Zq7-very-secret-pw";
const T: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_password_appears_nowhere_the_host_writes() {
    let kam = Kamailio::start(KamailioConfig {
        users: vec![("1001".into(), SECRET.into())],
        ..KamailioConfig::default()
    })
    .expect("kamailio");
    let host = Seatphone::start(Options::default()).await;
    let mut page = host.call_page().await;
    let config = json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": kam.port, "sipTransportMode": 0}});
    page.ok(Command::SetConfigParam, config).await;

    let mut seen: Vec<Value> = Vec::new();
    let login = json!({"sipNum": "1001", "sipName": "1001", "sipPwd": SECRET, "sipMode": 4});
    seen.push(page.request(Command::Login, login).await);
    seen.push(page.event(Event::LoginSuccess, T).await);
    seen.push(
        page.request(Command::Logout, json!({"sipNum": "1001"}))
            .await,
    );
    seen.push(page.event(Event::LogoutSuccess, T).await);
    let wrong = json!({"sipNum": "1001", "sipName": "1001", "sipPwd": format!("{SECRET}-wrong"), "sipMode": 4});
    seen.push(page.request(Command::Login, wrong).await);
    seen.push(page.event(Event::LoginFailed, T).await);
    while let Some(f) = page.next_frame(Duration::from_millis(500)).await {
        seen.push(f);
    }
    seen.push(host.health().await);

    let everything = format!(
        "{}\n{}",
        serde_json::to_string(&seen).unwrap(),
        host.all_logs()
    );
    assert!(
        everything.contains("REGISTER"),
        "the SIP message log is among the logs read"
    );
    assert!(!everything.contains(SECRET), "the password leaked");
    for line in everything.lines().filter(|l| l.contains("response=")) {
        let after = line.split("response=").nth(1).unwrap_or("");
        let value: String = after
            // `response="…"`, or `response=\"…\"` in a line that quotes a message.
            .trim_start_matches(['\\', '"'])
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        assert!(value.len() < 32, "a digest response was logged: {line}");
    }
}
