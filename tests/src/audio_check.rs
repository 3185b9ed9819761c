//! What a person would check by ear, measured: the dominant frequency of a
//! recording, its level, and the longest silence inside it. Used by the
//! audio plugin's loopback test and the end-to-end audio tests.

use std::path::Path;

/// A recording, mixed to mono, samples in −1.0..1.0.
#[derive(Debug, Clone)]
pub struct Recording {
    pub rate: u32,
    pub samples: Vec<f32>,
}

impl Recording {
    pub fn read(path: impl AsRef<Path>) -> Result<Self, String> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads a RIFF/WAVE file (PCM 8/16/24/32-bit or float 32), taking the
    /// data chunk's length from the header but never past the file's end.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
            return Err("not a WAV file".into());
        }
        let le16 = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]);
        let le32 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let mut pos = 12;
        let mut fmt: Option<(u16, u16, u32, u16)> = None;
        while pos + 8 <= bytes.len() {
            let id = &bytes[pos..pos + 4];
            let len = le32(&bytes[pos + 4..]) as usize;
            let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
            if id == b"fmt " && body.len() >= 16 {
                fmt = Some((
                    le16(body),
                    le16(&body[2..]),
                    le32(&body[4..]),
                    le16(&body[14..]),
                ));
            } else if id == b"data" {
                let (format, channels, rate, bits) = fmt.ok_or("data before fmt")?;
                let channels = usize::from(channels.max(1));
                let width = usize::from(bits / 8).max(1);
                let frame = width * channels;
                let mut samples = Vec::with_capacity(body.len() / frame);
                for f in body.chunks_exact(frame) {
                    let mut sum = 0.0f32;
                    for c in f.chunks_exact(width) {
                        sum += match (format, bits) {
                            (3, 32) => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                            (_, 8) => (f32::from(c[0]) - 128.0) / 128.0,
                            (_, 16) => f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0,
                            (_, 24) => {
                                (i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8) as f32
                                    / 8_388_608.0
                            }
                            (_, 32) => {
                                i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32
                                    / 2_147_483_648.0
                            }
                            _ => {
                                return Err(format!("unsupported WAV format {format}/{bits} bits"))
                            }
                        };
                    }
                    samples.push(sum / channels as f32);
                }
                return Ok(Self { rate, samples });
            }
            pos += 8 + len + (len & 1);
        }
        Err("no data chunk".into())
    }

    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.rate.max(1))
    }

    /// The part from `from` to `to` seconds (clamped to the recording).
    pub fn slice(&self, from: f64, to: f64) -> &[f32] {
        let a = ((from * f64::from(self.rate)) as usize).min(self.samples.len());
        let b = ((to * f64::from(self.rate)) as usize).clamp(a, self.samples.len());
        &self.samples[a..b]
    }
}

/// Power of `freq` in `x` (Goertzel), normalised to a sine's amplitude².
pub fn tone_power(x: &[f32], rate: u32, freq: f64) -> f64 {
    let w = std::f64::consts::TAU * freq / f64::from(rate);
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for v in x {
        let s = f64::from(*v) + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let p = (s1 * s1 + s2 * s2 - c * s1 * s2).max(0.0);
    4.0 * p / (x.len().max(1) as f64).powi(2)
}

/// The frequency (50 Hz – 8 kHz) holding most power, to a fraction of a Hz.
/// At most one second of `x` is examined (its middle).
pub fn dominant_frequency(x: &[f32], rate: u32) -> f64 {
    let n = x.len().min(rate as usize);
    let start = (x.len() - n) / 2;
    let x = &x[start..start + n];
    let top = (f64::from(rate) / 2.0 - 10.0).min(8000.0);
    let best_in = |from: f64, to: f64, step: f64| {
        let mut best = (from, -1.0);
        let mut f = from;
        while f <= to {
            let p = tone_power(x, rate, f);
            if p > best.1 {
                best = (f, p);
            }
            f += step;
        }
        best.0
    };
    let coarse = best_in(50.0, top, 5.0);
    best_in(coarse - 5.0, coarse + 5.0, 0.25)
}

/// RMS level in dB relative to full scale (a full-scale sine is −3 dBFS).
pub fn rms_dbfs(x: &[f32]) -> f64 {
    let ms = x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len().max(1) as f64;
    10.0 * ms.max(1e-20).log10()
}

/// The longest run, in ms, of 5 ms windows quieter than `threshold_dbfs`,
/// between the first and the last window louder than it.
pub fn longest_gap_ms(x: &[f32], rate: u32, threshold_dbfs: f64) -> f64 {
    gaps_ms(x, rate, threshold_dbfs)
        .into_iter()
        .fold(0.0, f64::max)
}

/// Every run, in ms, of 5 ms windows quieter than `threshold_dbfs`
/// between the first and the last window louder than it, in order; all of
/// `x` as one run when no window is louder.
pub fn gaps_ms(x: &[f32], rate: u32, threshold_dbfs: f64) -> Vec<f64> {
    gaps(x, rate, threshold_dbfs)
        .into_iter()
        .map(|g| g.ms)
        .collect()
}

/// A quiet run inside a recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gap {
    /// Where it starts, in ms from the recording's start.
    pub at_ms: f64,
    pub ms: f64,
}

/// As [`gaps_ms`], with where each run starts.
pub fn gaps(x: &[f32], rate: u32, threshold_dbfs: f64) -> Vec<Gap> {
    let win = (rate as usize / 200).max(1);
    let ms = |windows: usize| windows as f64 * win as f64 * 1000.0 / f64::from(rate.max(1));
    let loud: Vec<bool> = x
        .chunks(win)
        .map(|w| rms_dbfs(w) > threshold_dbfs)
        .collect();
    let (Some(first), Some(last)) = (loud.iter().position(|l| *l), loud.iter().rposition(|l| *l))
    else {
        return vec![Gap {
            at_ms: 0.0,
            ms: x.len() as f64 * 1000.0 / f64::from(rate.max(1)),
        }];
    };
    let mut out = Vec::new();
    let mut start = None;
    for (i, l) in loud.iter().enumerate().take(last + 1).skip(first) {
        match (l, start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                out.push(Gap {
                    at_ms: ms(s),
                    ms: ms(i - s),
                });
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// A mono 16-bit WAV of a sine (for microphones of tests).
pub fn write_sine_wav(
    path: impl AsRef<Path>,
    rate: u32,
    channels: u16,
    freq: f64,
    amplitude: f64,
    seconds: f64,
) -> std::io::Result<()> {
    let frames = (f64::from(rate) * seconds) as u32;
    let data_len = frames * u32::from(channels) * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend(b"RIFF");
    out.extend((36 + data_len).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(channels.to_le_bytes());
    out.extend(rate.to_le_bytes());
    out.extend((rate * u32::from(channels) * 2).to_le_bytes());
    out.extend((channels * 2).to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend(data_len.to_le_bytes());
    for i in 0..frames {
        let v = (f64::from(i) * freq * std::f64::consts::TAU / f64::from(rate)).sin() * amplitude;
        let s = (v * 32767.0) as i16;
        for _ in 0..channels {
            out.extend(s.to_le_bytes());
        }
    }
    std::fs::write(path, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, f: f64, amp: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f64 * f * std::f64::consts::TAU / f64::from(rate)).sin() * amp) as f32)
            .collect()
    }

    #[test]
    fn finds_the_tone_and_its_level() {
        let x = sine(8000, 1000.0, 0.5, 8000);
        assert!((dominant_frequency(&x, 8000) - 1000.0).abs() < 1.0);
        let y = sine(48000, 440.0, 0.5, 48000);
        assert!((dominant_frequency(&y, 48000) - 440.0).abs() < 1.0);
        // A sine of amplitude 0.5: RMS 0.354, −9 dBFS.
        assert!((rms_dbfs(&y) - -9.03).abs() < 0.1);
    }

    #[test]
    fn measures_the_longest_gap_inside() {
        let mut x = sine(8000, 440.0, 0.5, 8000);
        x[2000..2800].fill(0.0); // 100 ms hole
        let gap = longest_gap_ms(&x, 8000, -40.0);
        assert!((95.0..=110.0).contains(&gap), "{gap}");
        // Silence before the first sound does not count.
        let mut y = vec![0.0; 4000];
        y.extend(sine(8000, 440.0, 0.5, 4000));
        assert!(longest_gap_ms(&y, 8000, -40.0) < 6.0);
    }

    #[test]
    fn lists_every_gap_inside_in_order() {
        let mut x = sine(8000, 440.0, 0.5, 8000);
        x[2000..2800].fill(0.0); // 100 ms
        x[6000..6200].fill(0.0); // 25 ms
        let gaps = gaps_ms(&x, 8000, -40.0);
        assert_eq!(gaps.len(), 2, "{gaps:?}");
        assert!((95.0..=110.0).contains(&gaps[0]), "{gaps:?}");
        assert!((20.0..=35.0).contains(&gaps[1]), "{gaps:?}");
        let at: Vec<f64> = super::gaps(&x, 8000, -40.0)
            .iter()
            .map(|g| g.at_ms)
            .collect();
        assert!((245.0..=255.0).contains(&at[0]), "{at:?}");
        assert!((745.0..=755.0).contains(&at[1]), "{at:?}");
        assert!(gaps_ms(&sine(8000, 440.0, 0.5, 8000), 8000, -40.0).is_empty());
    }

    #[test]
    fn reads_what_it_writes_and_refuses_junk() {
        let dir = std::env::temp_dir().join(format!("audio-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.wav");
        write_sine_wav(&p, 16000, 2, 1000.0, 0.25, 0.5).unwrap();
        let r = Recording::read(&p).unwrap();
        assert_eq!(r.rate, 16000);
        assert_eq!(r.samples.len(), 8000);
        assert!((dominant_frequency(&r.samples, r.rate) - 1000.0).abs() < 1.0);
        assert!(Recording::parse(b"RIFF0000WAVE").is_err());
        assert!(Recording::parse(b"junk").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
