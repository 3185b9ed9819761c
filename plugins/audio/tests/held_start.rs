//! An outgoing call's media thread waits, once started, until the host says
//! the call is connected (it says so right after telling the page, 2006):
//! its set-up and first frame must not take the CPU from the SIP task
//! before the page is told (issue 20). It never waits for good.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::TestHost;
use seatphone_audio as audio;
use seatphone_plugin_api::{CallEvent, OfferRequest, Plugin, StartRequest, StopRequest};
use serde_json::json;

/// An outgoing call from `call_id` answered by `peer` (PCMU): the media
/// started, the host not yet having said the call is connected.
fn started(plugin: &impl Plugin, call_id: u32, peer: &UdpSocket) {
    let offer = plugin
        .media_offer(OfferRequest {
            call_id,
            kind: "audio".into(),
            local_ip: "127.0.0.1".into(),
        })
        .unwrap();
    plugin.call_event(CallEvent::Outgoing { call_id });
    let port = peer.local_addr().unwrap().port();
    let answer =
        format!("m=audio {port} RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:0 PCMU/8000\r\n");
    plugin
        .media_start(StartRequest {
            call_id,
            kind: "audio".into(),
            local: offer.sections[0].clone(),
            remote: answer,
        })
        .unwrap();
}

/// When the first RTP datagram reached `peer`, waiting at most 5 s.
fn first_packet(peer: &UdpSocket) -> Option<Instant> {
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 2048];
    peer.recv_from(&mut buf).ok().map(|_| Instant::now())
}

fn plugin() -> (TestHost, impl Plugin) {
    let host = TestHost::with_audio(json!({"input": "null", "output": "null"}));
    let plugin = audio::new(host.host()).unwrap();
    plugin.configure(&json!({"audio": {"audio_codec": "0"}}));
    (host, plugin)
}

#[test]
fn an_outgoing_calls_media_goes_once_the_host_says_connected() {
    let (_host, plugin) = plugin();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    started(&plugin, 41, &peer);
    // Held: nothing is sent (an unheld thread sends its first frame at once).
    peer.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut buf = [0u8; 2048];
    assert!(peer.recv_from(&mut buf).is_err(), "media before Connected");
    let told = Instant::now();
    plugin.call_event(CallEvent::Connected { call_id: 41 });
    let first = first_packet(&peer).expect("media after Connected");
    assert!(
        first - told < audio::HELD_AT_MOST,
        "released by Connected, not by the time limit: {:?}",
        first - told
    );
    plugin.media_stop(StopRequest {
        call_id: 41,
        kind: "audio".into(),
    });
}

#[test]
fn a_held_call_thread_starts_by_itself_when_the_host_never_says() {
    let (_host, plugin) = plugin();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let start = Instant::now();
    started(&plugin, 42, &peer);
    let first = first_packet(&peer).expect("media without Connected");
    assert!(first - start >= audio::HELD_AT_MOST, "{:?}", first - start);
    plugin.media_stop(StopRequest {
        call_id: 42,
        kind: "audio".into(),
    });
}
