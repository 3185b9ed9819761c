//! Pool mode with two Kamailios: register with the first that answers, and
//! fail over to the next within one retry interval when it stops answering,
//! over UDP (OPTIONS keep-alives) and TCP (CRLF pings on the flow).

use std::time::{Duration, Instant};

use seatphone_tests::host::{Command, Event};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::ua::{test_timing, Ua};
use seatphone_tests::peers::wait_until;
use serde_json::json;

fn kamailio() -> Kamailio {
    Kamailio::start(KamailioConfig::default()).expect("kamailio")
}

/// `config` for the pool `first`, `pool` over `sipTransportMode` `mode`.
async fn configure(ua: &mut Ua, first: u16, pool: &[u16], mode: u32) {
    let pool: Vec<_> = pool
        .iter()
        .map(|p| json!({"serverAddr": "127.0.0.1", "sipServerPort": p}))
        .collect();
    ua.ok(
        Command::SetConfigParam,
        json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": first,
                                   "sipTransportMode": mode, "poolServers": pool}}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_pool_fails_over_to_the_second_server_within_one_retry_interval() {
    fails_over(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_pool_over_tcp_fails_over_to_the_second_server_within_one_retry_interval() {
    fails_over(2).await;
}

async fn fails_over(mode: u32) {
    let mut first = kamailio();
    let second = kamailio();
    let mut ua = Ua::start().await;
    configure(&mut ua, first.port, &[second.port], mode).await;
    assert_eq!(ua.login("1001", "pass1001", 5).await.result, 0);
    ua.wait(Event::LoginSuccess, 10).await;
    let status = ua.last_seen(Event::AccountStatus);
    assert_eq!(status.param["server"], first.addr());
    assert_eq!(first.contacts("1001").len(), 1);

    first.stop();
    let stopped = Instant::now();
    let moved = ua
        .wait_where(20, |e| {
            e.notify == Event::AccountStatus.notify() && e.param["register_state"] == 3
        })
        .await
        .expect("registered again");
    assert_eq!(moved.param["server"], second.addr(), "{moved:?}");
    let took = stopped.elapsed();
    assert!(
        took <= test_timing().retry_interval + Duration::from_secs(1),
        "failed over in {took:?}"
    );
    assert!(wait_until(Duration::from_secs(2), || second
        .contacts("1001")
        .len()
        == 1));
    assert_eq!(ua.sip.health()["server"], second.addr());
    let transport = if mode == 2 { "tcp" } else { "udp" };
    assert_eq!(ua.sip.health()["transport"], transport);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_pool_registers_with_the_first_server_that_answers() {
    let mut dead = kamailio();
    let alive = kamailio();
    dead.stop();
    let mut ua = Ua::start().await;
    ua.configure(dead.port, &[alive.port]).await;
    assert_eq!(ua.login("1001", "pass1001", 5).await.result, 0);
    ua.wait(Event::LoginSuccess, 10).await;
    let status = ua.last_seen(Event::AccountStatus);
    assert_eq!(status.param["server"], alive.addr());
    assert_eq!(alive.contacts("1001").len(), 1);
    assert!(
        !ua.notified().contains(&Event::LoginFailed.notify()),
        "no failure reported on the way"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_single_server_mode_does_not_use_the_pool() {
    let mut dead = kamailio();
    let alive = kamailio();
    dead.stop();
    let mut ua = Ua::start().await;
    ua.configure(dead.port, &[alive.port]).await;
    assert_eq!(ua.login("1001", "pass1001", 4).await.result, 0);
    let failed = ua.wait(Event::LoginFailed, 10).await;
    assert_eq!(failed.param["reason_code"], 408);
    assert!(alive.contacts("1001").is_empty());
}
