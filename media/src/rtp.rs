//! RTP packets (through the `rtp` crate) and the bookkeeping of one RTP
//! session: our sequence numbers and timestamps, and the receive statistics
//! of RFC 3550 appendix A (extended sequence, loss, interarrival jitter).

use std::time::Instant;

use bytes::Bytes;
use webrtc_util::marshal::{Marshal, Unmarshal};

pub use rtp::header::Header;
pub use rtp::packet::Packet;

/// Binds an RTP port and the RTCP port above it (RFC 3550 §11: RTP even,
/// RTCP the odd port above) through the caller's `bind` (port 0: any free
/// port) and `port` (the port a socket got): the plugins own the sockets.
/// A first port that comes out odd is kept as RTCP with RTP below it,
/// rather than closed and drawn again. `Ok(None)` when `tries` draws found
/// no pair; a failed draw of a free port, or its port unread, is an error.
pub fn bind_pair<S, E>(
    tries: usize,
    mut bind: impl FnMut(u16) -> Result<S, E>,
    port: impl Fn(&S) -> Result<u16, E>,
) -> Result<Option<(S, S)>, E> {
    for _ in 0..tries {
        let first = bind(0)?;
        let drawn = port(&first)?;
        let Some((rtp, rtcp)) = port_pair(drawn) else {
            continue;
        };
        if drawn == rtp {
            if let Ok(other) = bind(rtcp) {
                return Ok(Some((first, other)));
            }
        } else if let Ok(other) = bind(rtp) {
            return Ok(Some((other, first)));
        }
    }
    Ok(None)
}

/// The RTP and RTCP ports that go with a port a socket drew at random,
/// whichever of the two it is; `None` for port 1, which has no even port
/// below it.
fn port_pair(first: u16) -> Option<(u16, u16)> {
    if first.is_multiple_of(2) {
        // Even, so below u16::MAX: the port above exists.
        Some((first, first + 1))
    } else {
        (first > 1).then(|| (first - 1, first))
    }
}

/// Parses one RTP packet; anything that is not RTP version 2 is an error.
pub fn parse(buf: &[u8]) -> Result<Packet, String> {
    if buf.len() < 12 || buf[0] >> 6 != 2 {
        return Err(format!("not RTP ({} bytes)", buf.len()));
    }
    // RTCP shares the port under rtcp-mux: packet types 192–223 are RTP
    // payload types 64–95 with the marker (RFC 5761 §4), RFC 2032 FIR included.
    if (192..=223).contains(&buf[1]) {
        return Err("an RTCP packet".into());
    }
    // rtp 0.17 panics on an RFC 8285 extension element that runs past the packet.
    if !extension_elements_fit(buf) {
        return Err("bad RTP packet: header extension element past its block".into());
    }
    let mut b = buf;
    Packet::unmarshal(&mut b).map_err(|e| format!("bad RTP packet: {e}"))
}

/// Whether every RFC 8285 one- or two-byte extension element lies inside
/// the extension block. A block that does not fit the packet is left to the
/// `rtp` crate, which refuses it.
pub(crate) fn extension_elements_fit(buf: &[u8]) -> bool {
    if buf[0] & 0x10 == 0 {
        return true;
    }
    let start = 12 + 4 * usize::from(buf[0] & 0x0f);
    let Some(head) = buf.get(start..start + 4) else {
        return true;
    };
    let profile = u16::from_be_bytes([head[0], head[1]]);
    let len = 4 * usize::from(u16::from_be_bytes([head[2], head[3]]));
    let Some(block) = buf.get(start + 4..start + 4 + len) else {
        return true;
    };
    let mut i = 0;
    while i < block.len() {
        let b = block[i];
        i += 1;
        if b == 0 {
            continue; // padding
        }
        let element = match profile {
            0xbede if b >> 4 == 15 => return true, // reserved id: stop reading
            0xbede => usize::from(b & 0x0f) + 1,
            0x1000 => match block.get(i) {
                Some(&l) => {
                    i += 1;
                    usize::from(l)
                }
                None => return false,
            },
            _ => return true,
        };
        i += element;
        if i > block.len() {
            return false;
        }
    }
    true
}

/// Our side of a session: SSRC, sequence numbers, counters for the SR.
#[derive(Debug, Clone)]
pub struct RtpSender {
    pub ssrc: u32,
    seq: u16,
    /// Random, as RFC 3550 asks; the caller adds its sample clock.
    pub timestamp_base: u32,
    pub packets: u64,
    pub octets: u64,
    /// The last timestamp sent (for the SR's RTP time).
    pub last_timestamp: u32,
}

impl RtpSender {
    pub fn new(ssrc: u32, first_seq: u16, timestamp_base: u32) -> Self {
        Self {
            ssrc,
            seq: first_seq,
            timestamp_base,
            packets: 0,
            octets: 0,
            last_timestamp: timestamp_base,
        }
    }

    /// With random SSRC, first sequence number and timestamp base.
    pub fn random() -> Self {
        Self::new(
            rand::random(),
            rand::random::<u16>() & 0x7fff,
            rand::random(),
        )
    }

    /// One packet with the next sequence number; `timestamp` is absolute.
    pub fn packet(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let packet = Packet {
            header: Header {
                version: 2,
                marker,
                payload_type,
                sequence_number: self.seq,
                timestamp,
                ssrc: self.ssrc,
                ..Header::default()
            },
            payload: Bytes::copy_from_slice(payload),
        };
        self.seq = self.seq.wrapping_add(1);
        self.packets += 1;
        self.octets += payload.len() as u64;
        self.last_timestamp = timestamp;
        packet.marshal().map(|b| b.to_vec()).unwrap_or_default()
    }

    pub fn next_seq(&self) -> u16 {
        self.seq
    }
}

/// Receive statistics of one remote SSRC (RFC 3550 A.1, A.3, A.8).
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    clock_rate: u32,
    pub ssrc: Option<u32>,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    pub received: u64,
    expected_prior: u64,
    received_prior: u64,
    transit: Option<i64>,
    /// Interarrival jitter in RTP timestamp units (RFC 3550 A.8).
    jitter: f64,
    epoch: Option<Instant>,
}

/// A sequence number this far ahead is a restart, not loss.
const MAX_DROPOUT: u16 = 3000;

impl ReceiverStats {
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            ssrc: None,
            base_seq: 0,
            max_seq: 0,
            cycles: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter: 0.0,
            epoch: None,
        }
    }

    /// Counts one packet arriving at `now`.
    pub fn update(&mut self, now: Instant, ssrc: u32, seq: u16, timestamp: u32) {
        if self.ssrc != Some(ssrc) {
            // A new source (or the first): start over.
            *self = Self::new(self.clock_rate);
            self.ssrc = Some(ssrc);
            self.base_seq = u32::from(seq);
            self.max_seq = seq;
        } else {
            let delta = seq.wrapping_sub(self.max_seq);
            if delta != 0 && delta < MAX_DROPOUT {
                if seq < self.max_seq {
                    self.cycles += 1 << 16;
                }
                self.max_seq = seq;
            } else if (MAX_DROPOUT..=u16::MAX - 100).contains(&delta) {
                // A big jump: the sender restarted; resynchronise.
                self.base_seq = u32::from(seq);
                self.max_seq = seq;
                self.cycles = 0;
                self.received = 0;
                self.expected_prior = 0;
                self.received_prior = 0;
            }
        }
        self.received += 1;
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = (now.duration_since(epoch).as_secs_f64() * f64::from(self.clock_rate)) as i64;
        let transit = arrival - i64::from(timestamp);
        if let Some(prev) = self.transit {
            // Timestamps wrap: take the difference modulo 2^32.
            let d = (transit - prev) as i32 as f64;
            self.jitter += (d.abs() - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    pub fn extended_max(&self) -> u32 {
        self.cycles + u32::from(self.max_seq)
    }

    pub fn expected(&self) -> u64 {
        if self.ssrc.is_none() {
            return 0;
        }
        u64::from(self.extended_max()) + 1 - u64::from(self.base_seq)
    }

    /// Cumulative loss (never negative: duplicates do not count as negative loss).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    pub fn jitter_units(&self) -> u32 {
        self.jitter as u32
    }

    pub fn jitter_ms(&self) -> f64 {
        self.jitter * 1000.0 / f64::from(self.clock_rate)
    }

    /// Fraction lost since the previous call, in 1/256 (for a report block).
    pub fn fraction_lost_since_last(&mut self) -> u8 {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost = expected_interval.saturating_sub(received_interval);
        (lost << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| f.min(255) as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashSet, VecDeque};
    use std::time::Duration;

    #[test]
    fn a_drawn_port_is_kept_as_rtp_or_rtcp_whichever_it_is() {
        assert_eq!(port_pair(40000), Some((40000, 40001)));
        assert_eq!(port_pair(40001), Some((40000, 40001)));
        assert_eq!(port_pair(u16::MAX), Some((u16::MAX - 1, u16::MAX)));
        assert_eq!(port_pair(u16::MAX - 1), Some((u16::MAX - 1, u16::MAX)));
        assert_eq!(port_pair(1), None);
    }

    /// Binds as a kernel would: port 0 takes the next of `draws`, a named
    /// port fails when taken. A "socket" is its port.
    struct Ports {
        draws: VecDeque<u16>,
        taken: HashSet<u16>,
    }

    impl Ports {
        fn new(draws: &[u16], taken: &[u16]) -> Ports {
            Ports {
                draws: draws.iter().copied().collect(),
                taken: taken.iter().copied().collect(),
            }
        }

        fn pair(&mut self, tries: usize) -> Result<Option<(u16, u16)>, String> {
            bind_pair(
                tries,
                |port| {
                    let port = match port {
                        0 => self.draws.pop_front().ok_or("no free port")?,
                        p if self.taken.contains(&p) => return Err("taken".into()),
                        p => p,
                    };
                    self.taken.insert(port);
                    Ok(port)
                },
                |s| Ok(*s),
            )
        }
    }

    #[test]
    fn a_pair_is_rtp_even_and_rtcp_above_whichever_port_is_drawn_first() {
        assert_eq!(Ports::new(&[40000], &[]).pair(5), Ok(Some((40000, 40001))));
        assert_eq!(Ports::new(&[40001], &[]).pair(5), Ok(Some((40000, 40001))));
    }

    #[test]
    fn a_draw_whose_partner_is_taken_or_that_has_none_is_drawn_again() {
        let mut ports = Ports::new(&[40001, 1, 50002], &[40000]);
        assert_eq!(ports.pair(5), Ok(Some((50002, 50003))));
        // Out of tries: no pair, and no error.
        assert_eq!(Ports::new(&[40001, 1], &[40000]).pair(2), Ok(None));
        // A free port that cannot be drawn at all is the caller's error.
        assert!(Ports::new(&[], &[]).pair(5).is_err());
    }

    #[test]
    fn sender_counts_and_wraps_sequence() {
        let mut s = RtpSender::new(0x1234_5678, 0xffff, 1000);
        let a = s.packet(0, true, 1000, &[1, 2, 3]);
        let b = s.packet(0, false, 1160, &[4]);
        let pa = parse(&a).unwrap();
        let pb = parse(&b).unwrap();
        assert_eq!(pa.header.sequence_number, 0xffff);
        assert_eq!(pb.header.sequence_number, 0);
        assert!(pa.header.marker);
        assert_eq!(pa.header.ssrc, 0x1234_5678);
        assert_eq!(&pa.payload[..], &[1, 2, 3]);
        assert_eq!(s.packets, 2);
        assert_eq!(s.octets, 4);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x80; 5]).is_err());
        assert!(parse(&[0x00; 40]).is_err());
        // CSRC count says 15 but no room for them.
        let mut p = vec![0x8f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        p.extend([0; 4]);
        assert!(parse(&p).is_err());
        // Extension bit with a length past the end.
        let mut p = vec![
            0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff,
        ];
        p.extend([0; 4]);
        assert!(parse(&p).is_err());
        // An RTCP SR on the RTP port.
        assert!(parse(&[0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn loss_and_wrap_are_counted() {
        let t0 = Instant::now();
        let mut r = ReceiverStats::new(8000);
        let mut seq: u16 = 65530;
        for i in 0..20u32 {
            if i != 7 && i != 8 {
                r.update(
                    t0 + Duration::from_millis(20 * u64::from(i)),
                    9,
                    seq,
                    160 * i,
                );
            }
            seq = seq.wrapping_add(1);
        }
        assert_eq!(r.expected(), 20);
        assert_eq!(r.received, 18);
        assert_eq!(r.lost(), 2);
        assert_eq!(r.extended_max(), (1 << 16) + 13);
        assert_eq!(r.fraction_lost_since_last(), (2 * 256 / 20) as u8);
        assert_eq!(r.fraction_lost_since_last(), 0);
        // Perfectly paced: no jitter.
        assert!(r.jitter_ms() < 0.01, "{}", r.jitter_ms());
    }

    #[test]
    fn jitter_follows_arrival_variation() {
        let t0 = Instant::now();
        let mut r = ReceiverStats::new(8000);
        for i in 0..400u64 {
            // Every other packet 10 ms late.
            let late = if i % 2 == 1 { 10 } else { 0 };
            r.update(
                t0 + Duration::from_millis(20 * i + late),
                1,
                i as u16,
                160 * i as u32,
            );
        }
        // |D| is 10 ms for every pair: the estimate converges to 10 ms.
        assert!((r.jitter_ms() - 10.0).abs() < 0.5, "{}", r.jitter_ms());
    }

    #[test]
    fn a_new_ssrc_restarts_the_statistics() {
        let t0 = Instant::now();
        let mut r = ReceiverStats::new(8000);
        r.update(t0, 1, 100, 0);
        r.update(t0, 1, 101, 160);
        r.update(t0, 2, 5000, 0);
        assert_eq!(r.ssrc, Some(2));
        assert_eq!(r.received, 1);
        assert_eq!(r.lost(), 0);
    }
}
