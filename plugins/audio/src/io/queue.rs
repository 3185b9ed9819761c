//! The queue between a sound device's callback and the call's thread, sans-IO.
//!
//! Both ends move the same number of samples a second, so what the queue
//! still holds when its reader is at its lowest is delay that buys nothing:
//! a device that starts late (a sound server busy with its last block, a
//! headset waking up) or a burst of capture would leave it there for the
//! whole call. The queue measures that low-water mark over each second of
//! reading and cuts what lies beyond `keep` (crossfaded, so the cut is no
//! click), as the jitter buffer drops a frame when it runs deep.

use std::collections::VecDeque;

/// Samples blended across a cut (2.5 ms at 48 kHz).
const FADE: usize = 120;

pub struct Queue {
    samples: VecDeque<f32>,
    /// Memory bound: past it the oldest samples go.
    limit: usize,
    /// What the reader should still find beyond its chunk at its lowest: the
    /// margin for a writer that comes late.
    keep: usize,
    /// The low-water mark may exceed `keep` by this much before a cut, so a
    /// queue that is about right is left alone.
    slack: usize,
    /// Reading starts only with a chunk and `keep` in hand, and again after
    /// the queue ran dry (a speaker: a late frame is then a delay, not a
    /// click each period). A microphone's reader takes what is there.
    gated: bool,
    primed: bool,
    /// Samples have been read: from then on a short read is the queue running dry.
    started: bool,
    /// Lowest `len - chunk` the reader met in this window.
    low: usize,
    /// Samples read in this window, and its length.
    read: usize,
    window: usize,
    pub stats: QueueStats,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Reads that found less than a chunk, once reading had started.
    pub short: u64,
    /// Samples cut to bring the delay down.
    pub cut: u64,
}

impl Queue {
    /// A queue at `rate` samples a second whose reader should keep
    /// `keep_ms` beyond each chunk it takes.
    pub fn new(rate: u32, keep_ms: u32, limit_ms: u32, gated: bool) -> Self {
        let ms = |n: u32| (u64::from(rate) * u64::from(n) / 1000) as usize;
        Self {
            samples: VecDeque::with_capacity(ms(limit_ms)),
            limit: ms(limit_ms).max(1),
            keep: ms(keep_ms),
            slack: ms(keep_ms).max(ms(5)),
            gated,
            primed: false,
            started: false,
            low: usize::MAX,
            read: 0,
            window: rate as usize,
            stats: QueueStats::default(),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn push(&mut self, x: impl IntoIterator<Item = f32>) {
        self.samples.extend(x);
        let excess = self.samples.len().saturating_sub(self.limit);
        self.samples.drain(..excess);
    }

    /// Fills the front of `out` with the oldest samples; how many (the rest
    /// is the caller's to fill, with silence).
    pub fn pop_into(&mut self, out: &mut [f32]) -> usize {
        let len = self.samples.len();
        if self.gated && !self.primed {
            if len < out.len() + self.keep {
                return 0;
            }
            self.primed = true;
            self.restart_window();
        }
        self.low = self.low.min(len.saturating_sub(out.len()));
        let n = out.len().min(len);
        for (o, s) in out.iter_mut().zip(self.samples.drain(..n)) {
            *o = s;
        }
        if n < out.len() {
            // Before anything came the device (or the call) is starting, not running dry.
            if self.started {
                self.stats.short += 1;
            }
            self.primed = false;
        }
        self.started |= n > 0;
        self.read += n;
        if self.read >= self.window {
            if self.low > self.keep + self.slack {
                self.cut(self.low - self.keep);
            }
            self.restart_window();
        }
        n
    }

    fn restart_window(&mut self) {
        self.low = usize::MAX;
        self.read = 0;
    }

    /// Drops `n` samples from the front, blending the samples that would
    /// have played next into those after the gap.
    fn cut(&mut self, n: usize) {
        let n = n.min(self.samples.len());
        let fade = FADE.min(self.samples.len() - n);
        for i in 0..fade {
            let w = (i + 1) as f32 / (fade + 1) as f32;
            let before = self.samples[i];
            let after = &mut self.samples[n + i];
            *after = before * (1.0 - w) + *after * w;
        }
        self.samples.drain(..n);
        self.stats.cut += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48000;
    /// 1 ms at 48 kHz.
    const MS: usize = 48;

    /// A tiny deterministic generator, so the jitter below is the same every run.
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

    /// A writer pushing 20 ms frames every 20 ms, each up to `jitter_ms`
    /// late, and a reader taking `period` samples every period, on one
    /// clock in microseconds, for `seconds`; first the reader alone for
    /// `stall_ms` (a device that starts late). Returns the queue and the
    /// level met by each read after the first ten seconds.
    fn run(
        q: &mut Queue,
        period: usize,
        jitter_ms: f64,
        stall_ms: u64,
        seconds: u64,
    ) -> Vec<usize> {
        let mut rng = Lcg(7);
        let frame_us = 20_000u64;
        let period_us = period as u64 * 1_000_000 / u64::from(RATE);
        let end = seconds * 1_000_000;
        let mut next_write = 0u64;
        let mut writes = 0u64;
        let mut next_read = stall_ms * 1000 + 3_000;
        let mut levels = Vec::new();
        let mut out = vec![0.0; period];
        let mut n = 0u64;
        while next_write.min(next_read) < end {
            if next_write <= next_read {
                q.push((0..960).map(|_| {
                    n += 1;
                    n as f32
                }));
                writes += 1;
                next_write = writes * frame_us + (rng.next() * jitter_ms * 1000.0) as u64;
            } else {
                if next_read > 10_000_000 {
                    levels.push(q.len());
                }
                q.pop_into(&mut out);
                next_read += period_us;
            }
        }
        levels
    }

    #[test]
    fn a_late_device_start_leaves_no_standing_delay() {
        // A speaker whose device starts 1.5 s late: the queue fills to its
        // bound, then comes down to about a chunk and the margin.
        let mut q = Queue::new(RATE, 10, 200, true);
        let levels = run(&mut q, 640, 2.0, 1500, 20);
        let low = *levels.iter().min().unwrap();
        assert!(low >= 640, "ran dry: {low}");
        assert!(low <= 640 + 20 * MS, "still {} ms at its lowest", low / MS);
        assert!(q.stats.cut >= (150 * MS) as u64, "{:?}", q.stats);
        assert_eq!(q.stats.short, 0, "{:?}", q.stats);
    }

    #[test]
    fn a_steady_queue_is_left_alone_and_does_not_run_dry() {
        // Device periods of 13.3 ms, 20 ms writes up to 8 ms late.
        let mut q = Queue::new(RATE, 10, 200, true);
        let levels = run(&mut q, 640, 8.0, 0, 60);
        assert_eq!(q.stats.short, 0, "{:?}", q.stats);
        assert_eq!(q.stats.cut, 0, "{:?}", q.stats);
        let low = *levels.iter().min().unwrap();
        assert!(low <= 640 + 30 * MS, "{} ms at its lowest", low / MS);
    }

    #[test]
    fn a_microphone_burst_is_cut_back() {
        // The reader is the call's thread (20 ms chunks), the writer the
        // device: 300 ms arrive at once, then the device runs in 10 ms periods.
        let mut q = Queue::new(RATE, 10, 300, false);
        q.push(vec![0.5; 300 * MS]);
        let mut out = vec![0.0; 20 * MS];
        let mut lows = Vec::new();
        for tick in 0..500 {
            q.push(vec![0.5; 10 * MS]);
            q.push(vec![0.5; 10 * MS]);
            if tick >= 100 {
                lows.push(q.len());
            }
            assert_eq!(q.pop_into(&mut out), out.len());
        }
        let low = *lows.iter().min().unwrap();
        assert!(low <= 20 * MS + 20 * MS, "{} ms before each read", low / MS);
        assert!(low >= 20 * MS, "{} ms before each read", low / MS);
    }

    #[test]
    fn the_cut_is_crossfaded() {
        // A ramp: the samples on either side of the cut are blended, so no
        // step between consecutive samples is much larger than the ramp's.
        let mut q = Queue::new(RATE, 10, 1000, false);
        q.push((0..48000).map(|i| i as f32 / 48000.0));
        q.cut(24000);
        let mut out = vec![0.0; 24000];
        q.pop_into(&mut out);
        let step = out
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        assert!(step < 0.01, "{step}");
        assert!((out[FADE + 1] - (24000 + FADE + 1) as f32 / 48000.0).abs() < 1e-4);
        assert_eq!(q.stats.cut, 24000);
    }

    #[test]
    fn a_gated_queue_waits_for_a_chunk_and_its_margin() {
        let mut q = Queue::new(RATE, 10, 200, true);
        let mut out = vec![1.0; 640];
        q.push(vec![0.5; 960]);
        assert_eq!(q.pop_into(&mut out), 0, "960 < 640 + 480");
        q.push(vec![0.5; 960]);
        for _ in 0..3 {
            assert_eq!(q.pop_into(&mut out), 640);
        }
        // Dry: it stops, and waits again for a chunk and the margin.
        assert_eq!(q.pop_into(&mut out), 0);
        assert_eq!(q.stats.short, 1);
        q.push(vec![0.5; 960]);
        assert_eq!(q.pop_into(&mut out), 0);
        q.push(vec![0.5; 960]);
        assert_eq!(q.pop_into(&mut out), 640);
    }
}
