//! An adaptive jitter buffer, sans-IO: `push` packets as they arrive with
//! the time they arrived, `pop` once per frame period. It holds playout back
//! by a target delay sized from the measured interarrival jitter, conceals
//! lost packets (telling the codec which packet follows, for FEC), stretches
//! on underrun and drops a frame when it has grown too deep.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What to play for one frame period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Decode this payload.
    Frame(Vec<u8>),
    /// A packet is missing (lost or late): conceal it. `next` is the packet
    /// after it, when already here (for in-band FEC).
    Conceal { next: Option<Vec<u8>> },
    /// Nothing to play (before the first packet, or between talk spurts).
    Silence,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub played: u64,
    pub concealed: u64,
    /// Arrived after their playout time.
    pub late: u64,
    /// Dropped to bring the delay back down.
    pub dropped: u64,
    pub duplicates: u64,
}

/// Underrun stretches this many frames before the buffer starts over.
const MAX_STALL: u32 = 5;
/// Too deep for this many pops in a row: drop a frame.
const DEEP_POPS: u32 = 10;
/// Memory bound.
const MAX_PACKETS: usize = 500;
/// The least playout delay: two 20 ms frames absorb a sender's and our own
/// scheduling jitter on a clean path; a jittery one raises the target.
const MIN_DELAY: Duration = Duration::from_millis(40);

pub struct JitterBuffer {
    clock_rate: u32,
    frame_ts: u64,
    min_delay: Duration,
    max_delay: Duration,
    /// Payloads by extended timestamp, with the time each arrived.
    packets: BTreeMap<u64, (Instant, Vec<u8>)>,
    last_ext: Option<u64>,
    next_ts: Option<u64>,
    first_arrival: Option<Instant>,
    epoch: Option<Instant>,
    prev_transit: Option<f64>,
    jitter_ts: f64,
    stall: u32,
    deep: u32,
    /// Sequence number and timestamp of the latest packet pushed with one.
    last_pushed: Option<(u16, u32)>,
    /// When the packet the latest pop played arrived (none: it played none).
    played_arrival: Option<Instant>,
    /// A packet duration seen between consecutive packets, and how often in a row.
    candidate: (u64, u32),
    pub stats: JitterStats,
}

impl JitterBuffer {
    /// `frame` is the packet duration (20 ms usually).
    pub fn new(clock_rate: u32, frame: Duration) -> Self {
        let clock_rate = clock_rate.max(1);
        let frame_ts = ((frame.as_secs_f64() * f64::from(clock_rate)) as u64).max(1);
        Self {
            clock_rate,
            frame_ts,
            min_delay: (frame * 2).max(MIN_DELAY),
            max_delay: Duration::from_millis(300),
            packets: BTreeMap::new(),
            last_ext: None,
            next_ts: None,
            first_arrival: None,
            epoch: None,
            prev_transit: None,
            jitter_ts: 0.0,
            stall: 0,
            deep: 0,
            last_pushed: None,
            played_arrival: None,
            candidate: (0, 0),
            stats: JitterStats::default(),
        }
    }

    fn ts_to_duration(&self, ts: f64) -> Duration {
        Duration::from_secs_f64(ts.max(0.0) / f64::from(self.clock_rate))
    }

    /// Measured interarrival jitter (RFC 3550 A.8).
    pub fn jitter(&self) -> Duration {
        self.ts_to_duration(self.jitter_ts)
    }

    /// How long playout is held back: three times the jitter above one frame.
    pub fn target_delay(&self) -> Duration {
        let frame = self.ts_to_duration(self.frame_ts as f64);
        (frame + self.jitter() * 3).clamp(self.min_delay, self.max_delay)
    }

    /// Media buffered ahead of the playout point.
    pub fn depth(&self) -> Duration {
        match (self.next_ts, self.packets.keys().next_back()) {
            (Some(next), Some(&last)) => {
                self.ts_to_duration((last + self.frame_ts).saturating_sub(next) as f64)
            }
            (None, Some(_)) => {
                self.ts_to_duration((self.packets.len() as u64 * self.frame_ts) as f64)
            }
            _ => Duration::ZERO,
        }
    }

    fn unwrap_ts(&mut self, ts: u32) -> u64 {
        let ext = match self.last_ext {
            // Start high so that a timestamp slightly before the first cannot go negative.
            None => (1u64 << 40) + u64::from(ts),
            Some(last) => {
                let delta = ts.wrapping_sub(last as u32) as i32;
                last.wrapping_add_signed(i64::from(delta))
            }
        };
        if self.last_ext.is_none_or(|l| ext > l) {
            self.last_ext = Some(ext);
        }
        ext
    }

    fn restart(&mut self) {
        self.next_ts = None;
        self.first_arrival = None;
        self.stall = 0;
        self.deep = 0;
    }

    /// When the packet that the latest [`JitterBuffer::pop`] played
    /// arrived; `None` when that pop played none (silence, concealment).
    /// Playout is that packet's arrival plus the time it was held, so a
    /// receiver that stamps what it plays by arrival (to line it up with
    /// media that is not held back, such as pictures) reads it here.
    pub fn played_arrival(&self) -> Option<Instant> {
        self.played_arrival
    }

    /// The packet duration in timestamp units: the one given at creation
    /// until consecutive packets show another (a peer with `ptime` 30 or 60).
    pub fn frame_ts(&self) -> u64 {
        self.frame_ts
    }

    /// As [`JitterBuffer::push`], learning the packet duration from
    /// consecutive sequence numbers (once playout runs, three alike in a row
    /// change it).
    pub fn push_packet(&mut self, now: Instant, seq: u16, ts: u32, payload: Vec<u8>) {
        if let Some((prev_seq, prev_ts)) = self.last_pushed {
            if seq == prev_seq.wrapping_add(1) {
                let d = u64::from(ts.wrapping_sub(prev_ts));
                // 2.5 ms to 120 ms at this clock.
                let plausible = d * 400 >= u64::from(self.clock_rate)
                    && d * 25 <= u64::from(self.clock_rate) * 3;
                if plausible && d != self.frame_ts {
                    if self.candidate.0 == d {
                        self.candidate.1 += 1;
                    } else {
                        self.candidate = (d, 1);
                    }
                    // Before playout starts one is enough; later, three alike.
                    if self.candidate.1 >= 3 || self.next_ts.is_none() {
                        self.frame_ts = d;
                        self.candidate = (0, 0);
                    }
                } else if d == self.frame_ts {
                    self.candidate = (0, 0);
                }
            }
        }
        self.last_pushed = Some((seq, ts));
        self.push(now, ts, payload);
    }

    /// A packet arrived at `now` with RTP timestamp `ts`.
    pub fn push(&mut self, now: Instant, ts: u32, payload: Vec<u8>) {
        let ext = self.unwrap_ts(ts);
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = now.duration_since(epoch).as_secs_f64() * f64::from(self.clock_rate);
        let transit = arrival - ext as f64;
        if let Some(prev) = self.prev_transit {
            let d = (transit - prev).abs();
            // Ignore talk-spurt jumps (DTX) when estimating jitter.
            if d < f64::from(self.clock_rate) {
                self.jitter_ts += (d - self.jitter_ts) / 16.0;
            }
        }
        self.prev_transit = Some(transit);

        if let Some(next) = self.next_ts {
            if ext < next {
                self.stats.late += 1;
                return;
            }
            if ext > next + u64::from(self.clock_rate) * 5 {
                // Five seconds ahead: the sender jumped; start over.
                self.packets.clear();
                self.restart();
            }
        }
        if self.packets.insert(ext, (now, payload)).is_some() {
            self.stats.duplicates += 1;
        }
        while self.packets.len() > MAX_PACKETS {
            self.packets.pop_first();
        }
        if self.next_ts.is_none() && self.first_arrival.is_none() {
            self.first_arrival = Some(now);
        }
    }

    /// What to play for the frame period starting at `now`.
    pub fn pop(&mut self, now: Instant) -> Playout {
        self.played_arrival = None;
        let next = match self.next_ts {
            Some(n) => n,
            None => {
                // Pops come once per frame on a timer that wanders by a
                // fraction of a millisecond: round the hold to the nearest
                // pop, or a hold of exactly N frames waits N + 1 half the time.
                let half_frame = self.ts_to_duration(self.frame_ts as f64 / 2.0);
                let ready = self
                    .first_arrival
                    .is_some_and(|t| now.duration_since(t) + half_frame >= self.target_delay());
                match self.packets.keys().next() {
                    Some(&first) if ready => {
                        self.next_ts = Some(first);
                        first
                    }
                    _ => return Playout::Silence,
                }
            }
        };

        // Every packet played for a while was held more than half a frame
        // beyond the target (a slow start, a burst): drop a frame to cut the
        // delay. One packet that came late enough resets the count.
        let held = self
            .packets
            .get(&next)
            .map(|(arrived, _)| now.saturating_duration_since(*arrived));
        let slack = self.ts_to_duration(self.frame_ts as f64 / 2.0);
        if held.is_some_and(|h| h > self.target_delay() + slack) {
            self.deep += 1;
            if self.deep >= DEEP_POPS {
                self.deep = 0;
                if self.packets.remove(&next).is_some() {
                    self.stats.dropped += 1;
                }
                return self.pop_at(next + self.frame_ts);
            }
        } else {
            self.deep = 0;
        }
        self.pop_at(next)
    }

    fn pop_at(&mut self, next: u64) -> Playout {
        self.next_ts = Some(next);
        if let Some((arrived, payload)) = self.packets.remove(&next) {
            self.played_arrival = Some(arrived);
            self.next_ts = Some(next + self.frame_ts);
            self.stall = 0;
            self.stats.played += 1;
            return Playout::Frame(payload);
        }
        match self.packets.keys().next().copied() {
            Some(first) if first < next => {
                // Behind the playout point: the packet duration changed under
                // us. Play it now and realign on it.
                let payload = match self.packets.remove(&first) {
                    Some((arrived, p)) => {
                        self.played_arrival = Some(arrived);
                        p
                    }
                    None => Vec::new(),
                };
                self.next_ts = Some(first + self.frame_ts);
                self.stall = 0;
                self.stats.played += 1;
                Playout::Frame(payload)
            }
            Some(first) if first > next + 10 * self.frame_ts => {
                // A new talk spurt far ahead: play it now rather than conceal the gap.
                self.pop_at(first)
            }
            Some(_) => {
                self.next_ts = Some(next + self.frame_ts);
                self.stall = 0;
                self.stats.concealed += 1;
                Playout::Conceal {
                    next: self
                        .packets
                        .get(&(next + self.frame_ts))
                        .map(|(_, p)| p.clone()),
                }
            }
            None => {
                // Underrun: stretch (the late packet may still come), then start over.
                self.stall += 1;
                if self.stall > MAX_STALL {
                    self.restart();
                    Playout::Silence
                } else {
                    self.stats.concealed += 1;
                    Playout::Conceal { next: None }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Duration = Duration::from_millis(20);

    fn payload(i: u32) -> Vec<u8> {
        i.to_be_bytes().to_vec()
    }

    /// A tiny deterministic generator, so the network below is the same every run.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Runs a sender of `n` frames through a network that delays each
    /// packet by `delay(i)` (None = lost) and pops every 20 ms.
    fn run(
        n: u32,
        ts0: u32,
        mut delay: impl FnMut(u32) -> Option<Duration>,
    ) -> (Vec<Playout>, JitterBuffer) {
        let t0 = Instant::now();
        let mut arrivals: Vec<(Duration, u32)> = (0..n)
            .filter_map(|i| delay(i).map(|d| (F * i + d, i)))
            .collect();
        arrivals.sort();
        let mut jb = JitterBuffer::new(8000, F);
        let mut out = Vec::new();
        let mut a = 0;
        for tick in 0..(n + 50) {
            let now = F * tick;
            while a < arrivals.len() && arrivals[a].0 <= now {
                let i = arrivals[a].1;
                jb.push(t0 + arrivals[a].0, ts0.wrapping_add(160 * i), payload(i));
                a += 1;
            }
            out.push(jb.pop(t0 + now));
        }
        (out, jb)
    }

    fn frames(out: &[Playout]) -> Vec<u32> {
        out.iter()
            .filter_map(|p| match p {
                Playout::Frame(b) => Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                _ => None,
            })
            .collect()
    }

    /// Concealed frames between the first and the last real frame.
    fn conceals_in_stream(out: &[Playout]) -> usize {
        let start = out
            .iter()
            .position(|p| matches!(p, Playout::Frame(_)))
            .unwrap_or(0);
        let end = out
            .iter()
            .rposition(|p| matches!(p, Playout::Frame(_)))
            .unwrap_or(0);
        out[start..end]
            .iter()
            .filter(|p| matches!(p, Playout::Conceal { .. }))
            .count()
    }

    #[test]
    fn steady_stream_plays_in_order_after_the_target_delay() {
        let (out, jb) = run(100, 0, |_| Some(Duration::from_millis(5)));
        assert_eq!(frames(&out), (0..100).collect::<Vec<_>>());
        let first = out
            .iter()
            .position(|p| matches!(p, Playout::Frame(_)))
            .unwrap();
        // Packet 0 arrives at 5 ms: held 35 ms, the pop nearest the 40 ms floor.
        assert_eq!(first, 2);
        assert_eq!(conceals_in_stream(&out), 0);
        assert_eq!(jb.stats.played, 100);
    }

    #[test]
    fn a_lost_packet_is_concealed_with_the_next_one_for_fec() {
        let (out, jb) = run(50, 0, |i| (i != 20).then_some(Duration::ZERO));
        let f = frames(&out);
        assert!(!f.contains(&20));
        assert_eq!(f.len(), 49);
        let pos = out
            .iter()
            .position(|p| matches!(p, Playout::Conceal { .. }))
            .unwrap();
        assert_eq!(
            out[pos],
            Playout::Conceal {
                next: Some(payload(21))
            }
        );
        assert_eq!(out[pos + 1], Playout::Frame(payload(21)));
        assert_eq!(conceals_in_stream(&out), 1);
        assert!(jb.stats.concealed >= 1);
    }

    #[test]
    fn reordered_packets_come_out_in_order() {
        let (out, _) = run(50, 0, |i| {
            Some(if i % 5 == 0 {
                Duration::from_millis(25)
            } else {
                Duration::ZERO
            })
        });
        assert_eq!(frames(&out), (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn timestamps_wrap() {
        let (out, _) = run(60, u32::MAX - 160 * 30, |_| Some(Duration::ZERO));
        assert_eq!(frames(&out), (0..60).collect::<Vec<_>>());
    }

    #[test]
    fn five_percent_loss_and_30ms_jitter_never_falls_silent() {
        let mut rng = Lcg(7);
        let (out, jb) = run(1500, 1234, |_| {
            let lost = rng.next() < 0.05;
            let d = Duration::from_secs_f64(rng.next() * 0.030);
            (!lost).then_some(d)
        });
        let start = out
            .iter()
            .position(|p| matches!(p, Playout::Frame(_)))
            .unwrap();
        let end = out
            .iter()
            .rposition(|p| matches!(p, Playout::Frame(_)))
            .unwrap();
        let silent = out[start..end]
            .iter()
            .filter(|p| matches!(p, Playout::Silence))
            .count();
        assert_eq!(silent, 0, "the stream fell silent mid-call");
        let played = frames(&out).len() as f64;
        assert!(played > 1500.0 * 0.9, "played {played}");
        assert!(jb.jitter() > Duration::from_millis(3), "{:?}", jb.jitter());
        assert!(
            jb.target_delay() < Duration::from_millis(120),
            "{:?}",
            jb.target_delay()
        );
        // Concealment covers the losses and not much more.
        assert!(jb.stats.concealed < 1500 / 10, "{:?}", jb.stats);
    }

    #[test]
    fn target_delay_grows_with_jitter() {
        let steady = run(200, 0, |_| Some(Duration::ZERO)).1.target_delay();
        let mut rng = Lcg(3);
        let jittery = run(200, 0, |_| Some(Duration::from_secs_f64(rng.next() * 0.08)))
            .1
            .target_delay();
        assert_eq!(steady, MIN_DELAY);
        assert!(jittery > steady + Duration::from_millis(30), "{jittery:?}");
    }

    #[test]
    fn a_silent_spell_restarts_instead_of_concealing_it() {
        // Frames 30–129 were never sent (DTX or hold): 2 s of nothing.
        let (out, _) = run(200, 0, |i| {
            (!(30..130).contains(&i)).then_some(Duration::ZERO)
        });
        let f = frames(&out);
        assert_eq!(f.len(), 100);
        let conceals = conceals_in_stream(&out);
        assert!(conceals <= MAX_STALL as usize, "{conceals}");
        // Frame 130 plays within a few ticks of its arrival.
        let pos = out
            .iter()
            .position(|p| *p == Playout::Frame(payload(130)))
            .unwrap();
        assert!(pos <= 130 + 4, "{pos}");
    }

    #[test]
    fn a_deep_buffer_drops_frames_back_to_target() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(8000, F);
        // A burst of 25 frames (500 ms) at once, then steady.
        for i in 0..25u32 {
            jb.push(t0, 160 * i, payload(i));
        }
        for (i, tick) in (25u32..).zip(0..400u32) {
            let now = t0 + F * tick;
            jb.push(now, 160 * i, payload(i));
            jb.pop(now);
        }
        assert!(jb.stats.dropped > 0);
        assert!(jb.depth() <= jb.target_delay() + F * 2, "{:?}", jb.depth());
    }

    #[test]
    fn a_peer_with_30ms_packets_is_followed() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(8000, F);
        let mut out = Vec::new();
        // 30 ms packets (240 samples), packet 20 lost, popped as they are needed.
        let mut next_pop = Duration::ZERO;
        let mut played_ms = 0u64;
        for i in 0..100u32 {
            let at = Duration::from_millis(30 * u64::from(i));
            if i != 20 {
                jb.push_packet(t0 + at, i as u16, 240 * i, payload(i));
            }
            while next_pop <= at {
                let p = jb.pop(t0 + next_pop);
                let ms = if matches!(p, Playout::Silence) {
                    20
                } else {
                    jb.frame_ts() * 1000 / 8000
                };
                played_ms += ms;
                next_pop = Duration::from_millis(played_ms);
                out.push(p);
            }
        }
        assert_eq!(jb.frame_ts(), 240);
        let f = frames(&out);
        let from_10: Vec<u32> = f.iter().copied().filter(|i| *i >= 10).collect();
        // The last packets are still held back when the stream ends.
        assert_eq!(from_10, (10..98).filter(|i| *i != 20).collect::<Vec<_>>());
        let lost = out
            .iter()
            .position(|p| *p == Playout::Frame(payload(19)))
            .unwrap();
        assert!(
            matches!(out[lost + 1], Playout::Conceal { .. }),
            "{:?}",
            &out[lost..lost + 3]
        );
        assert_eq!(out[lost + 2], Playout::Frame(payload(21)));
    }

    #[test]
    fn a_slow_start_is_trimmed_back_to_the_target() {
        // The first three packets come bunched at 50 ms, then every one
        // 1 ms after it was sent: playout starts late and holds 79 ms.
        let (out, jb) = run(100, 0, |i| {
            Some(if i < 3 {
                Duration::from_millis(50 - 20 * u64::from(i))
            } else {
                Duration::from_millis(1)
            })
        });
        assert_eq!(jb.stats.dropped, 2, "{:?}", jb.stats);
        // Packet 99 arrived at 1981 ms and plays at the pop of 2020 ms.
        assert_eq!(out[101], Playout::Frame(payload(99)));
        assert_eq!(conceals_in_stream(&out), 0);
    }

    #[test]
    fn a_pop_timer_running_a_little_early_does_not_add_a_frame_of_delay() {
        // Packets arrive exactly on the tick; the pops run 0.1 ms early.
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(8000, F);
        let mut first = None;
        for tick in 0..10u32 {
            let now = t0 + F * tick;
            jb.push(now, 160 * tick, payload(tick));
            let early = now + F - Duration::from_micros(100);
            if let Playout::Frame(p) = jb.pop(early) {
                first.get_or_insert((tick, p));
            }
        }
        // Packet 0 (arrived at 0) plays at the pop of 39.9 ms: two frames held.
        assert_eq!(first, Some((1, payload(0))));
    }

    #[test]
    fn each_pop_tells_when_what_it_played_arrived() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(8000, F);
        for i in 0..3u32 {
            jb.push(t0 + F * i, 160 * i, payload(i));
        }
        assert_eq!(jb.pop(t0), Playout::Silence);
        assert_eq!(jb.played_arrival(), None);
        // Held back by the target delay: each plays two frames after it came.
        for i in 0..3u32 {
            let now = t0 + F * (i + 2);
            assert_eq!(jb.pop(now), Playout::Frame(payload(i)));
            assert_eq!(jb.played_arrival(), Some(t0 + F * i));
        }
        // Nothing more came: concealment plays no packet.
        jb.push(t0 + F * 5, 160 * 4, payload(4));
        assert!(matches!(jb.pop(t0 + F * 5), Playout::Conceal { .. }));
        assert_eq!(jb.played_arrival(), None);
    }

    #[test]
    fn duplicates_and_late_packets_are_counted_not_played_twice() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(8000, F);
        jb.push(t0, 0, payload(0));
        jb.push(t0, 0, payload(0));
        assert_eq!(jb.stats.duplicates, 1);
        let p = jb.pop(t0 + Duration::from_millis(60));
        assert_eq!(p, Playout::Frame(payload(0)));
        jb.push(t0, 0, payload(0));
        assert_eq!(jb.stats.late, 1);
    }
}
