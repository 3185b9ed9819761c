//! A call's RTP and RTCP ports: RTP on an even port, RTCP on the odd one
//! above it, and the next call's pair bound once a call's media starts,
//! so that no socket is bound on the way to the next INVITE (issue 20).

mod common;

use std::collections::HashSet;
use std::net::UdpSocket;

use common::TestHost;
use seatphone_audio as audio;
use seatphone_plugin_api::{OfferRequest, Plugin, StartRequest, StopRequest};
use serde_json::json;

fn plugin() -> (TestHost, impl Plugin) {
    let host = TestHost::with_audio(json!({"input": "null", "output": "null"}));
    let plugin = audio::new(host.host()).unwrap();
    plugin.configure(&json!({"audio": {"audio_codec": "0"}}));
    (host, plugin)
}

/// The offer for `call_id` and the RTP port it names.
fn offer(plugin: &impl Plugin, call_id: u32) -> (String, u16) {
    let sdp = plugin
        .media_offer(OfferRequest {
            call_id,
            kind: "audio".into(),
            local_ip: "127.0.0.1".into(),
        })
        .unwrap()
        .sections
        .remove(0);
    let port = sdp
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no m=audio port in {sdp}"));
    (sdp, port)
}

/// The UDP ports this process has bound (its sockets' inodes, looked up
/// in the kernel's table). The table is read whole in one `read`, three
/// times over: read in pieces, a line can go missing while other tests
/// open and close sockets (a missing line would fail the test, an extra
/// one cannot pass it).
fn ports_bound() -> HashSet<u16> {
    use std::io::Read;
    let inodes: HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_owned)
        })
        .collect();
    let mut ports = HashSet::new();
    for _ in 0..3 {
        let mut table = vec![0u8; 4 << 20];
        let n = std::fs::File::open("/proc/net/udp")
            .and_then(|mut f| f.read(&mut table))
            .unwrap();
        for line in String::from_utf8_lossy(&table[..n]).lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(inode)) = (f.get(1), f.get(9)) else {
                continue;
            };
            let port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if let (Some(port), true) = (port, inodes.contains(*inode)) {
                ports.insert(port);
            }
        }
    }
    ports
}

#[test]
fn rtp_takes_an_even_port_and_rtcp_the_one_above() {
    let (_host, plugin) = plugin();
    for call_id in 1..=20 {
        let (_, port) = offer(&plugin, call_id);
        assert_eq!(port % 2, 0, "RTP on odd port {port}");
        let rtcp = UdpSocket::bind(("127.0.0.1", port + 1));
        assert!(rtcp.is_err(), "RTCP port {} was free", port + 1);
    }
    for call_id in 1..=20 {
        plugin.media_stop(StopRequest {
            call_id,
            kind: "audio".into(),
        });
    }
}

#[test]
fn the_next_call_takes_the_pair_bound_when_the_last_ones_media_started() {
    let (_host, plugin) = plugin();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (local, first) = offer(&plugin, 1);
    let peer_port = peer.local_addr().unwrap().port();
    plugin
        .media_start(StartRequest {
            call_id: 1,
            kind: "audio".into(),
            local,
            remote: format!(
                "m=audio {peer_port} RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:0 PCMU/8000\r\n"
            ),
        })
        .unwrap();
    let before = ports_bound();
    let (_, second) = offer(&plugin, 2);
    assert_ne!(second, first);
    assert!(
        before.contains(&second) && before.contains(&(second + 1)),
        "call 2's pair {second}/{} was not bound before its offer: {before:?}",
        second + 1
    );
    // Once taken, another pair waits for the call after it when one ends.
    plugin.media_stop(StopRequest {
        call_id: 2,
        kind: "audio".into(),
    });
    let waiting = ports_bound();
    let (_, third) = offer(&plugin, 3);
    assert!(waiting.contains(&third), "call 3's port {third} bound late");
    for call_id in [1, 3] {
        plugin.media_stop(StopRequest {
            call_id,
            kind: "audio".into(),
        });
    }
}
