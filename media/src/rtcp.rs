//! RTCP sender and receiver reports (RFC 3550 §6.4) with an SDES CNAME, and
//! the round-trip time a report block tells (LSR/DLSR). Video feedback
//! (PLI, FIR, NACK) is in [`crate::feedback`].

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds between 1900 (NTP) and 1970 (Unix).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// NTP time as 32.32 fixed point.
pub fn ntp_now() -> u64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// The middle 32 bits, as LSR and DLSR use them (1/65536 s).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    pub ssrc: u32,
    pub fraction_lost: u8,
    /// 24 bits, signed in the RFC; we never report negative loss.
    pub cumulative_lost: u32,
    pub extended_max_seq: u32,
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP time, 0 if none.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    pub ntp: u64,
    pub rtp_timestamp: u32,
    pub packets: u32,
    pub octets: u32,
}

/// What one received compound packet said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub ssrc: u32,
    pub sender: Option<SenderInfo>,
    pub blocks: Vec<ReportBlock>,
    pub bye: bool,
}

fn push_block(out: &mut Vec<u8>, b: &ReportBlock) {
    out.extend(b.ssrc.to_be_bytes());
    out.push(b.fraction_lost);
    out.extend(&b.cumulative_lost.min(0x7f_ffff).to_be_bytes()[1..]);
    out.extend(b.extended_max_seq.to_be_bytes());
    out.extend(b.jitter.to_be_bytes());
    out.extend(b.last_sr.to_be_bytes());
    out.extend(b.delay_since_last_sr.to_be_bytes());
}

fn sdes_cname(out: &mut Vec<u8>, ssrc: u32, cname: &str) {
    let name = &cname.as_bytes()[..cname.len().min(255)];
    // SSRC + item (type, len, text) + end + padding to 32 bits.
    let body = 4 + 2 + name.len() + 1;
    let padded = body.div_ceil(4) * 4;
    out.push(0x81);
    out.push(202);
    out.extend(((padded / 4) as u16).to_be_bytes());
    out.extend(ssrc.to_be_bytes());
    out.push(1);
    out.push(name.len() as u8);
    out.extend(name);
    out.resize(out.len() + padded - body + 1, 0);
}

/// A compound SR (when `sender` is some) or RR, followed by SDES CNAME.
pub fn build(
    ssrc: u32,
    sender: Option<SenderInfo>,
    blocks: &[ReportBlock],
    cname: &str,
) -> Vec<u8> {
    let blocks = &blocks[..blocks.len().min(31)];
    let mut out = Vec::with_capacity(64);
    let words = 1 + if sender.is_some() { 5 } else { 0 } + 6 * blocks.len();
    out.push(0x80 | blocks.len() as u8);
    out.push(if sender.is_some() { 200 } else { 201 });
    out.extend((words as u16).to_be_bytes());
    out.extend(ssrc.to_be_bytes());
    if let Some(s) = sender {
        out.extend(s.ntp.to_be_bytes());
        out.extend(s.rtp_timestamp.to_be_bytes());
        out.extend(s.packets.to_be_bytes());
        out.extend(s.octets.to_be_bytes());
    }
    for b in blocks {
        push_block(&mut out, b);
    }
    sdes_cname(&mut out, ssrc, cname);
    out
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn parse_block(b: &[u8]) -> ReportBlock {
    ReportBlock {
        ssrc: be32(b),
        fraction_lost: b[4],
        cumulative_lost: u32::from_be_bytes([0, b[5], b[6], b[7]]),
        extended_max_seq: be32(&b[8..]),
        jitter: be32(&b[12..]),
        last_sr: be32(&b[16..]),
        delay_since_last_sr: be32(&b[20..]),
    }
}

/// Reads the SR/RR/BYE parts of a compound packet; other parts are skipped.
pub fn parse(buf: &[u8]) -> Result<Report, String> {
    let mut report = Report::default();
    let mut rest = buf;
    let mut seen = false;
    while rest.len() >= 4 {
        if rest[0] >> 6 != 2 {
            return Err("not RTCP (version)".into());
        }
        let count = usize::from(rest[0] & 0x1f);
        let pt = rest[1];
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        if len > rest.len() {
            return Err(format!("RTCP length {len} past the end ({})", rest.len()));
        }
        let part = &rest[..len];
        match pt {
            200 | 201 => {
                let head = if pt == 200 { 28 } else { 8 };
                if part.len() < head + 24 * count {
                    return Err("RTCP report shorter than its blocks".into());
                }
                report.ssrc = be32(&part[4..]);
                if pt == 200 {
                    report.sender = Some(SenderInfo {
                        ntp: (u64::from(be32(&part[8..])) << 32) | u64::from(be32(&part[12..])),
                        rtp_timestamp: be32(&part[16..]),
                        packets: be32(&part[20..]),
                        octets: be32(&part[24..]),
                    });
                }
                for i in 0..count {
                    report.blocks.push(parse_block(&part[head + 24 * i..]));
                }
                seen = true;
            }
            203 => {
                report.bye = true;
                seen = true;
            }
            // SDES, APP, feedback (RFC 4585) and RFC 2032's FIR (192):
            // read by `feedback::parse`.
            192 | 202 | 204..=207 => seen = true,
            _ => return Err(format!("not RTCP (packet type {pt})")),
        }
        rest = &rest[len..];
    }
    if seen {
        Ok(report)
    } else {
        Err("empty RTCP packet".into())
    }
}

/// Round-trip time from a report block about us, received at `now_ntp`.
pub fn rtt_ms(block: &ReportBlock, now_ntp: u64) -> Option<f64> {
    if block.last_sr == 0 {
        return None;
    }
    let rtt = ntp_middle(now_ntp)
        .wrapping_sub(block.last_sr)
        .wrapping_sub(block.delay_since_last_sr);
    // A value near 2^32 means clocks or packets went wrong: ignore it.
    (rtt < 0x8000_0000).then(|| f64::from(rtt) * 1000.0 / 65536.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_report_round_trips() {
        let block = ReportBlock {
            ssrc: 7,
            fraction_lost: 12,
            cumulative_lost: 300,
            extended_max_seq: 70_000,
            jitter: 42,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        };
        let sender = SenderInfo {
            ntp: 0xdead_beef_0000_0001,
            rtp_timestamp: 9,
            packets: 10,
            octets: 1600,
        };
        let pkt = build(99, Some(sender), &[block], "seatphone@127.0.0.1");
        assert_eq!(pkt.len() % 4, 0);
        let r = parse(&pkt).unwrap();
        assert_eq!(r.ssrc, 99);
        assert_eq!(r.sender, Some(sender));
        assert_eq!(r.blocks, vec![block]);
        let rr = parse(&build(5, None, &[], "x")).unwrap();
        assert_eq!(rr.ssrc, 5);
        assert!(rr.sender.is_none() && rr.blocks.is_empty());
    }

    #[test]
    fn rtt_from_lsr_and_dlsr() {
        let sr_sent: u64 = 1000 << 32;
        let block = ReportBlock {
            last_sr: ntp_middle(sr_sent),
            delay_since_last_sr: 65536 / 2, // the peer held it 500 ms
            ..ReportBlock::default()
        };
        // Back 530 ms after we sent the SR: 30 ms round trip.
        let now = sr_sent + (530u64 << 32) / 1000;
        let rtt = rtt_ms(&block, now).unwrap();
        assert!((rtt - 30.0).abs() < 0.1, "{rtt}");
        assert_eq!(rtt_ms(&ReportBlock::default(), now), None);
    }

    #[test]
    fn malformed_rtcp_is_an_error() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x81, 201, 0, 1, 0, 0, 0, 1]).is_err()); // one block promised, none there
        assert!(parse(&[0x80, 201, 0, 9, 0, 0, 0, 1]).is_err()); // length past the end
        assert!(parse(&[0x80, 96, 0, 1, 0, 0, 0, 1]).is_err()); // an RTP packet
        assert!(parse(&[0x40, 201, 0, 1, 0, 0, 0, 1]).is_err());
    }
}
