//! In-band DTMF: dual tones generated into and detected in 48 kHz audio
//! (Goertzel filters). RFC 4733 events are the media core's
//! (`seatphone_media::telephone_event`).

use seatphone_media::telephone_event::{GAP_MS, KEY_MS};

/// Tone numbers as `tsdk_send_dtmf` has them: 0–9, 10 `*`, 11 `#`, 12–15 A–D,
/// 16 flash. RFC 4733 event codes are the same numbers.
pub fn tone_char(tone: u8) -> Option<char> {
    "0123456789*#ABCD!".chars().nth(usize::from(tone))
}

const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// The row and column frequencies of a key (flash has none).
fn key_freqs(tone: u8) -> Option<(f32, f32)> {
    let (r, c) = match tone {
        1 => (0, 0),
        2 => (0, 1),
        3 => (0, 2),
        12 => (0, 3),
        4 => (1, 0),
        5 => (1, 1),
        6 => (1, 2),
        13 => (1, 3),
        7 => (2, 0),
        8 => (2, 1),
        9 => (2, 2),
        14 => (2, 3),
        10 => (3, 0),
        0 => (3, 1),
        11 => (3, 2),
        15 => (3, 3),
        _ => return None,
    };
    Some((ROWS[r], COLS[c]))
}

fn tone_of(row: usize, col: usize) -> u8 {
    const GRID: [[u8; 4]; 4] = [[1, 2, 3, 12], [4, 5, 6, 13], [7, 8, 9, 14], [10, 0, 11, 15]];
    GRID[row][col]
}

/// Generates a key's dual tone (KEY_MS on, GAP_MS off) into 48 kHz frames.
#[derive(Debug, Clone)]
pub struct ToneSender {
    freqs: Option<(f32, f32)>,
    n: u32,
}

impl ToneSender {
    pub fn new(tone: u8) -> Self {
        Self {
            freqs: key_freqs(tone),
            n: 0,
        }
    }

    /// Overwrites `frame` (48 kHz) with the tone; false when done.
    pub fn fill(&mut self, frame: &mut [f32]) -> bool {
        let on = 48 * KEY_MS;
        let total = 48 * (KEY_MS + GAP_MS);
        if self.n >= total {
            return false;
        }
        for s in frame.iter_mut() {
            *s = match self.freqs {
                Some((a, b)) if self.n < on => {
                    let t = self.n as f32 / 48000.0;
                    // About -10 dBFS per tone: loud enough through any codec.
                    0.25 * ((std::f32::consts::TAU * a * t).sin()
                        + (std::f32::consts::TAU * b * t).sin())
                }
                _ => 0.0,
            };
            self.n += 1;
        }
        true
    }
}

fn goertzel(x: &[f32], rate: f32, freq: f32) -> f32 {
    let w = std::f32::consts::TAU * freq / rate;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for v in x {
        let s = v + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2).max(0.0)
}

/// Finds keys in audio: 20 ms blocks, a key must hold for two blocks and is
/// reported once until it stops.
#[derive(Debug)]
pub struct ToneDetector {
    rate: f32,
    candidate: Option<u8>,
    held: u32,
    reported: Option<u8>,
    quiet: u32,
}

impl ToneDetector {
    pub fn new(rate: u32) -> Self {
        Self {
            rate: rate as f32,
            candidate: None,
            held: 0,
            reported: None,
            quiet: 0,
        }
    }

    fn classify(&self, block: &[f32]) -> Option<u8> {
        let energy: f32 = block.iter().map(|v| v * v).sum();
        // Below about -40 dBFS: nothing.
        if energy / (block.len() as f32) < 1e-4 {
            return None;
        }
        let rows: Vec<f32> = ROWS
            .iter()
            .map(|f| goertzel(block, self.rate, *f))
            .collect();
        let cols: Vec<f32> = COLS
            .iter()
            .map(|f| goertzel(block, self.rate, *f))
            .collect();
        let best = |v: &[f32]| {
            let mut idx: Vec<usize> = (0..v.len()).collect();
            idx.sort_by(|a, b| v[*b].total_cmp(&v[*a]));
            (idx[0], v[idx[0]], v[idx[1]])
        };
        let (r, rp, r2) = best(&rows);
        let (c, cp, c2) = best(&cols);
        // Each winner clearly above its neighbours, twist within 8 dB, and the
        // two tones carrying most of the block's energy.
        let n = block.len() as f32;
        let tone_energy = 2.0 * (rp + cp) / n;
        let clear = rp > 6.0 * r2 && cp > 6.0 * c2;
        let twist = rp / cp;
        (clear && (0.16..6.3).contains(&twist) && tone_energy > 0.6 * energy).then(|| tone_of(r, c))
    }

    /// Feeds one block (20 ms is right); returns a key when one is recognised.
    pub fn block(&mut self, block: &[f32]) -> Option<u8> {
        let key = self.classify(block);
        match key {
            Some(k) if self.candidate == Some(k) => self.held += 1,
            Some(k) => {
                self.candidate = Some(k);
                self.held = 1;
            }
            None => {
                self.candidate = None;
                self.held = 0;
            }
        }
        if key.is_none() {
            self.quiet += 1;
            if self.quiet >= 2 {
                self.reported = None;
            }
        } else {
            self.quiet = 0;
        }
        if self.held >= 2 && self.reported != key {
            self.reported = key;
            return key;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_generated_is_detected_once() {
        for tone in 0..16u8 {
            let mut tx = ToneSender::new(tone);
            let mut rx = ToneDetector::new(48000);
            let mut found = Vec::new();
            let mut frame = vec![0.0f32; 960];
            for _ in 0..3 {
                let mut again = ToneSender::new(tone);
                while tx.fill(&mut frame) {
                    found.extend(rx.block(&frame));
                }
                std::mem::swap(&mut tx, &mut again);
            }
            assert_eq!(found, vec![tone; 3], "key {:?}", tone_char(tone));
        }
    }

    #[test]
    fn speech_like_tones_are_not_keys() {
        let mut rx = ToneDetector::new(48000);
        for f in [440.0f32, 1000.0, 697.0] {
            let frame: Vec<f32> = (0..960)
                .map(|i| 0.5 * (std::f32::consts::TAU * f * i as f32 / 48000.0).sin())
                .collect();
            for _ in 0..10 {
                assert_eq!(rx.block(&frame), None, "{f} Hz");
            }
        }
    }
}
