//! Rate conversion between devices (48 kHz inside the plugin) and codecs
//! (8, 16 or 48 kHz) with rubato, in 20 ms frames.

use std::collections::VecDeque;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Streams mono f32 from one rate to another. Input of any length goes in;
/// output comes out in whatever frame size the caller asks for, after the
/// resampler's own delay (zeros until then).
pub struct RateConverter {
    inner: Option<Fft<f32>>,
    from: u32,
    to: u32,
    chunk: usize,
    pending: Vec<f32>,
    out: VecDeque<f32>,
}

impl RateConverter {
    pub fn new(from: u32, to: u32) -> Self {
        // 10 ms chunks: rubato's FFT delays by half its output block, so
        // 20 ms chunks cost 10 ms each way; 10 ms ones cost 5 and keep the
        // narrowband passband flat to 3 kHz.
        let chunk = (from / 100) as usize;
        let inner = if from == to {
            None
        } else {
            Fft::<f32>::new(from as usize, to as usize, chunk, 1, FixedSync::Input).ok()
        };
        Self {
            inner,
            from,
            to,
            chunk,
            pending: Vec::new(),
            out: VecDeque::new(),
        }
    }

    pub fn push(&mut self, input: &[f32]) {
        let Some(r) = self.inner.as_mut() else {
            self.out.extend(input);
            return;
        };
        self.pending.extend_from_slice(input);
        while self.pending.len() >= self.chunk {
            let chunk: Vec<f32> = self.pending.drain(..self.chunk).collect();
            if let Ok(adapter) = InterleavedSlice::new(&chunk[..], 1, self.chunk) {
                if let Ok(out) = r.process(&adapter, None) {
                    self.out.extend(out.take_data());
                }
            }
        }
    }

    /// Exactly `n` samples: what is ready, padded with zeros when short.
    pub fn pull(&mut self, n: usize) -> Vec<f32> {
        let take = n.min(self.out.len());
        let mut v: Vec<f32> = self.out.drain(..take).collect();
        v.resize(n, 0.0);
        v
    }

    /// How many output samples an input sample is delayed by.
    pub fn delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    pub fn available(&self) -> usize {
        self.out.len()
    }

    /// How long the newest input sample waits before it is pulled: what
    /// waits for a whole chunk, the resampler's delay, and what is ready
    /// but not pulled yet (µs).
    pub fn latency_us(&self) -> u64 {
        let pending = self.pending.len() as u64 * 1_000_000 / u64::from(self.from.max(1));
        let out = (self.delay() + self.available()) as u64 * 1_000_000 / u64::from(self.to.max(1));
        pending + out
    }
}

pub fn to_f32(pcm: &[i16]) -> Vec<f32> {
    pcm.iter().map(|s| f32::from(*s) / 32768.0).collect()
}

pub fn to_i16(x: &[f32]) -> Vec<i16> {
    x.iter()
        .map(|s| (s * 32768.0).clamp(-32768.0, 32767.0) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, freq: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (i as f64 * freq * std::f64::consts::TAU / f64::from(rate)).sin() as f32 * 0.5)
            .collect()
    }

    /// Goertzel power of `freq` relative to the signal's power.
    fn share_at(x: &[f32], rate: u32, freq: f64) -> f64 {
        let w = std::f64::consts::TAU * freq / f64::from(rate);
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for v in x {
            let s = f64::from(*v) + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let p = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
        let e: f64 = x.iter().map(|v| f64::from(*v).powi(2)).sum();
        2.0 * p / (x.len() as f64 * e)
    }

    #[test]
    fn each_codec_rate_converts_both_ways_keeping_tone_and_level() {
        for (from, to) in [
            (48000, 8000),
            (8000, 48000),
            (48000, 16000),
            (16000, 48000),
            (48000, 48000),
        ] {
            let mut rc = RateConverter::new(from, to);
            let input = tone(from, 1000.0, from as usize);
            let mut out = Vec::new();
            for frame in input.chunks(from as usize / 50) {
                rc.push(frame);
                out.extend(rc.pull(to as usize / 50));
            }
            assert_eq!(out.len(), to as usize, "{from}→{to}");
            let steady = &out[out.len() / 2..];
            let share = share_at(steady, to, 1000.0);
            assert!(
                share > 0.95,
                "{from}→{to}: 1 kHz holds {share:.3} of the power"
            );
            let rms = (steady.iter().map(|v| v * v).sum::<f32>() / steady.len() as f32).sqrt();
            assert!((rms - 0.3535).abs() < 0.03, "{from}→{to}: rms {rms}");
        }
    }

    #[test]
    fn an_impulse_comes_through_within_5_ms() {
        for (from, to) in [(48000, 8000), (8000, 48000), (48000, 16000), (16000, 48000)] {
            let mut rc = RateConverter::new(from, to);
            let frame = from as usize / 50;
            let mut input = vec![0.0f32; frame * 10];
            input[frame * 3] = 1.0;
            let mut out = Vec::new();
            for f in input.chunks(frame) {
                rc.push(f);
                out.extend(rc.pull(to as usize / 50));
            }
            let peak = (0..out.len())
                .max_by(|a, b| out[*a].abs().total_cmp(&out[*b].abs()))
                .unwrap();
            let delay = peak - to as usize / 50 * 3;
            assert!(delay * 200 <= to as usize, "{from}→{to}: {delay} samples");
            assert_eq!(delay, rc.delay(), "{from}→{to}");
        }
    }

    #[test]
    fn sample_conversion_saturates() {
        assert_eq!(to_i16(&[2.0, -2.0, 0.0]), vec![32767, -32768, 0]);
        assert_eq!(to_f32(&[-32768]), vec![-1.0]);
    }
}
