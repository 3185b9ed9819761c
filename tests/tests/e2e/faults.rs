//! Faults the host survives without losing anything.

use std::time::Duration;

use seatphone_tests::host::{Command, Event, Options, Seatphone};
use seatphone_tests::plugins;
use serde_json::{json, Value};

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
    // Every real plugin of the build loaded; only the aborting one is out.
    assert_eq!(
        names,
        [
            json!("audio"),
            json!("capture"),
            json!("share"),
            json!("video")
        ]
    );

    // The engine answers health as soon as it serves; the daemon learns it
    // is up a moment later, from its output. A page arriving in between is
    // told of the crash (then of the recovery): arrive again until then.
    let mut state = Value::Null;
    for _ in 0..100 {
        let mut daemon = host.daemon_page().await;
        state = daemon.next_frame(Duration::from_secs(5)).await.unwrap();
        if state["notify"] != Event::ServiceShutdown.notify() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        state["notify"],
        Event::ServiceStartup.notify(),
        "a page arriving after the recovery sees the engine up: {state}"
    );
    let mut page = host.call_page().await;
    assert_eq!(
        page.request(Command::GetMicVolume, json!({})).await["result"],
        0
    );
}

mod with_peers {
    use std::time::Duration;

    use seatphone_tests::host::{signal, Event, Options, Seatphone};
    use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
    use seatphone_tests::peers::wait_until;

    const T: Duration = Duration::from_secs(10);

    fn fast_registration() -> Options {
        Options {
            sip_toml: "keepalive_interval = 1\nrequest_timeout = 1\nretry_interval = 2\nregister_expires = 60".into(),
            ..Options::default()
        }
    }

    #[tokio::test]
    async fn registrar_that_disappears_and_returns_is_registered_again_and_the_page_told() {
        let mut kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
        let port = kam.port;
        let host = Seatphone::start(fast_registration()).await;
        let mut page = host.registered_page(port, "1001").await;
        page.forget(Duration::from_millis(300)).await;

        kam.stop();
        let lost = loop {
            let e = page
                .event(Event::AccountStatus, Duration::from_secs(15))
                .await;
            if e["param"]["register_state"] != 3 {
                break e;
            }
        };
        assert!(
            [0, 1].contains(&lost["param"]["register_state"].as_u64().unwrap()),
            "the page hears the registration is gone: {lost}"
        );

        let kam = Kamailio::start(KamailioConfig {
            port,
            ..KamailioConfig::default()
        })
        .expect("kamailio again");
        loop {
            let e = page
                .event(Event::AccountStatus, Duration::from_secs(20))
                .await;
            if e["param"]["register_state"] == 3 {
                break;
            }
        }
        assert!(
            wait_until(T, || kam.contacts("1001").len() == 1),
            "{}",
            kam.ul_dump()
        );
    }

    #[tokio::test]
    async fn killed_engine_comes_back_and_re_registering_replaces_its_own_contact() {
        let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
        let host = Seatphone::start(Options::default()).await;
        let mut daemon = host.daemon_page().await;
        daemon.event(Event::ServiceStartup, T).await;
        let mut page = host.registered_page(kam.port, "1001").await;
        assert_eq!(kam.contacts("1001").len(), 1);

        signal(host.engine_pid().unwrap(), "KILL");
        assert!(
            page.closes_within(T).await.is_some(),
            "the call socket closes with the engine"
        );
        daemon.event(Event::ServiceShutdown, T).await;
        daemon.event(Event::ServiceRecover, T).await;

        // As the reference tells pages: after SERVICE_RECOVER, configure and register again.
        host.registered_page(kam.port, "1001").await;
        let contacts = kam.contacts("1001");
        assert_eq!(
            contacts.len(),
            1,
            "the stale contact was replaced (+sip.instance): {}",
            kam.ul_dump()
        );
    }
}
