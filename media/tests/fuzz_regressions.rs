//! Inputs the fuzz targets (`fuzz/`) once crashed on, replayed through the
//! same parsers: `fuzz/regressions/rtp_rtcp/` and `fuzz/regressions/sdp/`.

use std::path::PathBuf;

use seatphone_media::payload::{FrameAssembler, VideoCodec};
use seatphone_media::sdp::MediaSection;
use seatphone_media::srtp::{Crypto, SrtpSession, Suite};
use seatphone_media::{feedback, rtcp, rtp};

fn regressions(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target)
}

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = regressions(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no inputs in {}", dir.display());
    out
}

#[test]
fn hostile_datagrams_are_errors_not_panics() {
    let c = Crypto {
        tag: 1,
        suite: Suite::AesCm128HmacSha1_80,
        key_salt: [7; 30],
    };
    for (name, data) in inputs("rtp_rtcp") {
        let _ = rtp::parse(&data);
        let _ = rtcp::parse(&data);
        let _ = feedback::parse(&data);
        if let Ok(p) = rtp::parse(&data) {
            for codec in [VideoCodec::H264, VideoCodec::Vp8] {
                let h = &p.header;
                FrameAssembler::new(codec).push(h.sequence_number, h.timestamp, true, &p.payload);
            }
        }
        let mut s = SrtpSession::new(&c, &c).unwrap();
        // Refused before webrtc-srtp could panic (its catch_unwind guard is
        // the last resort, and no help in a panic=abort build).
        for result in [s.unprotect_rtp(&data), s.unprotect_rtcp(&data)] {
            if let Err(e) = result {
                assert!(!e.contains("SRTP library failed"), "{name}: {e}");
            }
        }
    }
}

#[test]
fn extension_element_past_the_packet_is_refused() {
    // One-byte header extension (0xBEDE), one word, whose element claims
    // 9 bytes: the rtp crate read past the packet and panicked.
    let path = regressions("rtp_rtcp").join("rtp-extension-element-past-packet");
    let data = std::fs::read(path).unwrap();
    assert!(rtp::parse(&data).unwrap_err().contains("extension"));
    let c = Crypto::generate(1, Suite::AesCm128HmacSha1_80);
    let mut s = SrtpSession::new(&c, &c).unwrap();
    assert!(s.unprotect_rtp(&data).unwrap_err().contains("extension"));
    // The same element inside a block long enough for it still parses.
    let mut fits = data[..12].to_vec();
    fits[0] = 0x90; // no padding
    fits.extend([0xbe, 0xde, 0, 3, 0x18]);
    fits.extend([0xaa; 9]);
    fits.extend([0, 0]);
    let p = rtp::parse(&fits).unwrap();
    assert_eq!(p.header.extensions.len(), 1);
}

#[test]
fn sections_read_back_as_written() {
    for (name, data) in inputs("sdp") {
        let text = String::from_utf8_lossy(&data);
        let Ok(s) = MediaSection::parse(&text) else {
            continue;
        };
        let back = MediaSection::parse(&s.to_sdp()).unwrap();
        for pt in &s.formats {
            assert_eq!(back.rtpmap(*pt), s.rtpmap(*pt), "{name}");
        }
    }
    // Zero channels is refused like any malformed rtpmap.
    let zero = "m=audio 5 RTP/AVP 96\r\na=rtpmap:96 opus/48000/0\r\n";
    assert!(MediaSection::parse(zero).is_err());
}
