//! A peer's SDP, as an INVITE, re-INVITE or answer brings it: the SIP
//! crate splits it per `m=` line and the plugins parse their section with
//! `seatphone_media::sdp::MediaSection`.
//!
//! Oracle: no panic; a section we parsed and write back reads the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seatphone_media::sdp::MediaSection;
use seatphone_media::srtp::Crypto;
use seatphone_sip::sdp::{self, Direction};

fn media_section(text: &str) {
    let Ok(s) = MediaSection::parse(text) else {
        return;
    };
    let _ = s.telephone_event(8000);
    let _ = s.telephone_event(48000);
    let _ = s.is_secure_proto();
    let _ = s.is_silent();
    for pt in &s.formats {
        let _ = s.fmtp(*pt);
    }
    for c in &s.crypto {
        let again = Crypto::parse(&c.attribute_value()).expect("our a=crypto parses");
        assert_eq!(&again, c);
    }

    let written = s.to_sdp();
    let back = MediaSection::parse(&written)
        .unwrap_or_else(|e| panic!("our section does not parse ({e}):\n{written}"));
    assert_eq!(back.media, s.media);
    assert_eq!(back.port, s.port);
    assert_eq!(back.proto, s.proto);
    assert_eq!(back.formats, s.formats);
    assert_eq!(back.address, s.address);
    assert_eq!(back.direction, s.direction);
    assert_eq!(back.crypto, s.crypto);
    assert_eq!(back.rtcp_port, s.rtcp_port);
    assert_eq!(back.rtcp_mux, s.rtcp_mux);
    for pt in &s.formats {
        assert_eq!(back.rtpmap(*pt), s.rtpmap(*pt));
    }
}

fuzz_target!(|data: &[u8]| {
    // Bodies reach the engine through `String::from_utf8_lossy`.
    let text = String::from_utf8_lossy(data);
    let Some(sections) = sdp::split(&text) else {
        media_section(&text);
        return;
    };
    let mut answer = Vec::new();
    for s in &sections {
        let _ = sdp::direction(&s.text);
        let refusal = sdp::refuse(s);
        assert!(refusal.starts_with("m=") && refusal.ends_with("\r\n"));
        media_section(&s.text);
        answer.push(sdp::with_direction(&s.text, Direction::SendOnly));
    }
    let _ = sdp::session("192.0.2.1", 1, 2, &answer);
    media_section(&text);
});
