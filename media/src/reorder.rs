//! Packets back in sequence order, for media whose frames span several
//! packets (video): what `payload::FrameAssembler` needs in front of it.
//! A gap is waited for up to `max_wait` after a later packet arrived, then
//! skipped: the packets after it come out, and the assembler sees the jump
//! in sequence numbers as the loss it is.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One packet, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedPacket {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReorderStats {
    /// Packets that came after their place was passed (given up or played).
    pub late: u64,
    pub duplicates: u64,
    /// Gaps skipped after waiting.
    pub gaps: u64,
}

/// Memory bound: a keyframe is rarely over a few hundred packets.
const MAX_PACKETS: usize = 4096;

pub struct ReorderBuffer {
    max_wait: Duration,
    /// Packets by extended sequence number, with when each came.
    packets: BTreeMap<u64, (Instant, OrderedPacket)>,
    highest: Option<u64>,
    /// The sequence number that comes out next.
    next: Option<u64>,
    pub stats: ReorderStats,
}

impl ReorderBuffer {
    pub fn new(max_wait: Duration) -> Self {
        Self {
            max_wait,
            packets: BTreeMap::new(),
            highest: None,
            next: None,
            stats: ReorderStats::default(),
        }
    }

    fn extend(&mut self, seq: u16) -> u64 {
        let ext = match self.highest {
            // Start high, so a packet just before the first stays positive.
            None => (1 << 32) + u64::from(seq),
            Some(h) => h.wrapping_add_signed(i64::from(seq.wrapping_sub(h as u16) as i16)),
        };
        if self.highest.is_none_or(|h| ext > h) {
            self.highest = Some(ext);
        }
        ext
    }

    /// A packet arrived at `now`.
    pub fn push(&mut self, now: Instant, packet: OrderedPacket) {
        let ext = self.extend(packet.seq);
        if self.next.is_some_and(|n| ext < n) {
            self.stats.late += 1;
            return;
        }
        if self.packets.insert(ext, (now, packet)).is_some() {
            self.stats.duplicates += 1;
        }
        while self.packets.len() > MAX_PACKETS {
            self.packets.pop_first();
        }
    }

    /// The next packet in order, if it is here, or if the gap before the
    /// first one here has been waited for long enough; call until `None`.
    pub fn pop(&mut self, now: Instant) -> Option<OrderedPacket> {
        let (&first, (arrived, _)) = self.packets.iter().next()?;
        let in_order = self.next.is_none_or(|n| n == first);
        if !in_order {
            // The wait runs from the oldest packet held behind the gap.
            let oldest = self
                .packets
                .values()
                .map(|(t, _)| *t)
                .min()
                .unwrap_or(*arrived);
            if now.saturating_duration_since(oldest) < self.max_wait {
                return None;
            }
            self.stats.gaps += 1;
        }
        self.next = Some(first + 1);
        self.packets.remove(&first).map(|(_, p)| p)
    }

    /// When a gap will be given up, while one holds packets back.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let first = *self.packets.keys().next()?;
        if self.next.is_none_or(|n| n == first) {
            return None;
        }
        let oldest = self.packets.values().map(|(t, _)| *t).min()?;
        Some(oldest + self.max_wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_millis(100);

    fn packet(seq: u16) -> OrderedPacket {
        OrderedPacket {
            seq,
            timestamp: u32::from(seq) / 3,
            marker: seq % 3 == 2,
            payload: seq.to_be_bytes().to_vec(),
        }
    }

    fn drain(r: &mut ReorderBuffer, now: Instant) -> Vec<u16> {
        std::iter::from_fn(|| r.pop(now)).map(|p| p.seq).collect()
    }

    #[test]
    fn reordered_packets_come_out_in_order_across_the_wrap() {
        let t0 = Instant::now();
        let mut r = ReorderBuffer::new(WAIT);
        let mut out = Vec::new();
        for seq in [65534u16, 0, 65535, 2, 1, 1] {
            r.push(t0, packet(seq));
            out.extend(drain(&mut r, t0));
        }
        assert_eq!(out, vec![65534, 65535, 0, 1, 2]);
        assert_eq!(r.stats.duplicates + r.stats.late, 1);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn a_gap_is_waited_for_then_skipped_and_a_late_packet_dropped() {
        let t0 = Instant::now();
        let mut r = ReorderBuffer::new(WAIT);
        for seq in [10u16, 11, 13, 14] {
            r.push(t0, packet(seq));
        }
        assert_eq!(drain(&mut r, t0), vec![10, 11]);
        assert_eq!(r.poll_timeout(), Some(t0 + WAIT));
        assert!(drain(&mut r, t0 + WAIT - Duration::from_millis(1)).is_empty());
        assert_eq!(drain(&mut r, t0 + WAIT), vec![13, 14]);
        assert_eq!(r.stats.gaps, 1);
        r.push(t0 + WAIT, packet(12));
        assert_eq!(r.stats.late, 1);
        assert!(drain(&mut r, t0 + WAIT).is_empty());
    }
}
