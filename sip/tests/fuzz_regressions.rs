//! Inputs the `sip_message` fuzz target (`fuzz/`) once crashed on, replayed
//! from `fuzz/regressions/sip_message/`.

use std::path::PathBuf;

use rsipstack::sip::SipMessage;
use rsipstack::transport::stream::SipCodec;
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Decoder;

fn regressions() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/sip_message")
}

#[test]
fn every_regression_datagram_is_parsed_or_refused() {
    for entry in std::fs::read_dir(regressions()).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(msg) = SipMessage::try_from(data.as_slice()) {
            let body = String::from_utf8_lossy(match &msg {
                SipMessage::Request(r) => &r.body,
                SipMessage::Response(r) => &r.body,
            });
            let _ = seatphone_sip::sdp::split(&body);
            let _ = seatphone_sip::params::dtmf_relay(&body);
        }
    }
}

/// rsipstack 0.7.14 gap: the TCP/TLS framing codec adds the Content-Length
/// to the header length unchecked (transport/stream.rs:121), so
/// `l: 18446744073709551610` over TCP panics the connection's task where
/// overflow checks are on (debug builds, tests) and misframes the stream
/// where they are off (release). The bytes arrive before any hook of ours;
/// fixed upstream this test passes and can lose its `ignore`.
#[test]
#[ignore = "rsipstack SipCodec overflows on a huge Content-Length (upstream bug)"]
fn huge_content_length_on_a_stream_is_an_error() {
    let data = std::fs::read(regressions().join("stream-content-length-overflow")).unwrap();
    let mut buf = BytesMut::from(data.as_slice());
    assert!(SipCodec::new().decode(&mut buf).is_err());
}
