//! A datagram at a media port: RTP, RTCP (rtcp-mux shares the port) and
//! SRTP/SRTCP with a fixed SDES key; then the same bytes read as a burst
//! of packets with arrival gaps, through the receive statistics, the
//! jitter buffer and the RTCP report built from them.
//!
//! Oracle: no panic; what we protect we can unprotect; a report we build
//! parses back to what we put in.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use seatphone_media::jitter::JitterBuffer;
use seatphone_media::rtcp::{self, ReportBlock};
use seatphone_media::rtp::{self, ReceiverStats, RtpSender};
use seatphone_media::srtp::{Crypto, SrtpSession, Suite};

fn crypto(suite: Suite) -> Crypto {
    let mut key_salt = [0u8; 30];
    for (i, b) in key_salt.iter_mut().enumerate() {
        *b = i as u8 * 7 + 1;
    }
    Crypto {
        tag: 1,
        suite,
        key_salt,
    }
}

fn session(suite: Suite) -> SrtpSession {
    let c = crypto(suite);
    SrtpSession::new(&c, &c).expect("fixed key")
}

fn one_datagram(data: &[u8]) {
    let suite = if data.len().is_multiple_of(2) {
        Suite::AesCm128HmacSha1_80
    } else {
        Suite::AesCm128HmacSha1_32
    };
    let rtp = rtp::parse(data).ok();
    let rtcp = rtcp::parse(data).ok();
    if let Some(report) = &rtcp {
        for b in &report.blocks {
            let _ = rtcp::rtt_ms(b, rtcp::ntp_now());
        }
    }

    let mut rx = session(suite);
    let _ = rx.unprotect_rtp(data);
    let _ = rx.unprotect_rtcp(data);

    // Past the authentication tag: what we send (our own RtpSender packets
    // and reports, never a peer's bytes), protected and unprotected again.
    if let Some(p) = rtp {
        let h = &p.header;
        let mut sender = RtpSender::new(h.ssrc, h.sequence_number, 0);
        let ours = sender.packet(h.payload_type, h.marker, h.timestamp, &p.payload);
        let protected = session(suite).protect_rtp(&ours).expect("protect RTP");
        let plain = session(suite)
            .unprotect_rtp(&protected)
            .expect("unprotect what we protected");
        assert_eq!(plain, ours);
    }
    if let Some(r) = rtcp {
        let ours = rtcp::build(r.ssrc, r.sender, &r.blocks, "fuzz@192.0.2.1");
        let protected = session(suite).protect_rtcp(&ours).expect("protect RTCP");
        let plain = session(suite)
            .unprotect_rtcp(&protected)
            .expect("unprotect what we protected");
        assert_eq!(plain, ours);
    }
}

/// `[gap ms][length][packet]…`: a burst at one port.
fn burst(mut data: &[u8]) {
    let start = Instant::now();
    let mut now = start;
    let mut stats = ReceiverStats::new(8000);
    let mut jitter = JitterBuffer::new(8000, Duration::from_millis(20));
    while let [gap, len, rest @ ..] = data {
        let len = usize::from(*len).min(rest.len());
        let (packet, tail) = rest.split_at(len);
        data = tail;
        now += Duration::from_millis(u64::from(*gap));
        if let Ok(p) = rtp::parse(packet) {
            let h = &p.header;
            stats.update(now, h.ssrc, h.sequence_number, h.timestamp);
            jitter.push(now, h.timestamp, p.payload.to_vec());
        }
        for _ in 0..gap / 20 {
            let _ = jitter.pop(now);
        }
        let _ = jitter.depth();
    }
    let block = ReportBlock {
        ssrc: stats.ssrc.unwrap_or(0),
        fraction_lost: stats.fraction_lost_since_last(),
        cumulative_lost: stats.lost().min(0x7f_ffff) as u32,
        extended_max_seq: stats.extended_max(),
        jitter: stats.jitter_units(),
        last_sr: 0,
        delay_since_last_sr: 0,
    };
    let _ = stats.jitter_ms();
    let built = rtcp::build(1, None, &[block], "fuzz@192.0.2.1");
    let report = rtcp::parse(&built).expect("our report parses");
    assert_eq!(report.blocks, vec![block]);
}

fuzz_target!(|data: &[u8]| {
    one_datagram(data);
    burst(data);
});
