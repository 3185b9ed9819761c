//! The call's sound for a recording: both directions (what the customer
//! says, what the agent says) mixed into one mono track at 48 kHz and
//! encoded as Opus, 20 ms a packet, with no hole: a direction that falls
//! silent or late is filled with silence, so the track keeps time with
//! the pictures. Before any sound has come in (a call whose sound starts
//! late, or is never published) the blocks are silence, made as time
//! passes: the track is there from the file's first fragment and the
//! sound, when it comes, lands at its time. Runs on the recording's
//! thread, never a media thread.

use crate::track::{AUDIO_PACKET_SAMPLES, AUDIO_PACKET_US, AUDIO_RATE};

/// How long the mixer waits for a late direction before it counts as
/// silent.
const PATIENCE_US: u64 = 300_000;
/// A direction whose frames jump by more than this against the samples
/// it has sent is placed anew by its time (a gap, or a drifting clock).
const RESYNC_US: u64 = 80_000;

const BLOCK: usize = AUDIO_PACKET_SAMPLES as usize;

/// One direction's samples from the mixer's next block on.
#[derive(Default)]
struct Direction {
    /// Samples at 48 kHz, the first at the mixer's cursor.
    samples: Vec<i16>,
    /// Where the next frame of this direction is expected (µs), once it
    /// has sent one.
    next_us: Option<u64>,
}

/// PCM from any number of directions in, 20 ms mixed blocks out.
pub struct Mixer {
    /// The time of the first block.
    base_us: u64,
    /// Blocks handed out so far.
    blocks: u64,
    directions: Vec<Direction>,
}

fn to_mono_48k(rate: u32, channels: u16, pcm: &[i16]) -> Vec<i16> {
    let channels = usize::from(channels.max(1));
    let mono: Vec<i32> = pcm
        .chunks(channels)
        .map(|c| c.iter().map(|&s| i32::from(s)).sum::<i32>() / channels as i32)
        .collect();
    if rate == AUDIO_RATE || mono.is_empty() {
        return mono.into_iter().map(|s| s as i16).collect();
    }
    // Linear interpolation: the rates a call carries (8, 16, 24 kHz) go
    // up to 48 kHz, where this is plenty for a recorded conversation.
    let out_len = mono.len() as u64 * u64::from(AUDIO_RATE) / u64::from(rate.max(1));
    (0..out_len)
        .map(|i| {
            let pos = i * u64::from(rate);
            let (at, frac) = (
                (pos / u64::from(AUDIO_RATE)) as usize,
                pos % u64::from(AUDIO_RATE),
            );
            let a = mono[at.min(mono.len() - 1)];
            let b = mono[(at + 1).min(mono.len() - 1)];
            (a + (b - a) * frac as i32 / AUDIO_RATE as i32) as i16
        })
        .collect()
}

impl Mixer {
    /// Blocks from `base_us` on.
    pub fn new(base_us: u64, directions: usize) -> Mixer {
        Mixer {
            base_us,
            blocks: 0,
            directions: (0..directions).map(|_| Direction::default()).collect(),
        }
    }

    fn cursor_us(&self) -> u64 {
        self.base_us + self.blocks * AUDIO_PACKET_US
    }

    /// A frame of `direction`: interleaved PCM at `rate` Hz.
    pub fn push(&mut self, direction: usize, pts_us: u64, rate: u32, channels: u16, pcm: &[i16]) {
        let cursor = self.cursor_us();
        let Some(d) = self.directions.get_mut(direction) else {
            return;
        };
        if rate == 0 || pcm.is_empty() {
            return;
        }
        let mut samples = to_mono_48k(rate, channels, pcm);
        let duration = samples.len() as u64 * 1_000_000 / u64::from(AUDIO_RATE);
        // Where it goes: right after the last frame, unless its time says
        // otherwise by more than jitter.
        let at = match d.next_us {
            Some(next) if pts_us.abs_diff(next) <= RESYNC_US => next,
            _ => pts_us,
        };
        d.next_us = Some(at + duration);
        let end = at + duration;
        if end <= cursor {
            return;
        }
        if at < cursor {
            let skip = ((cursor - at) * u64::from(AUDIO_RATE) / 1_000_000) as usize;
            samples.drain(..skip.min(samples.len()));
        }
        let offset = (at.saturating_sub(cursor) * u64::from(AUDIO_RATE) / 1_000_000) as usize;
        if d.samples.len() < offset {
            d.samples.resize(offset, 0);
        }
        // A frame overlapping what is there (a resync backwards) replaces it.
        d.samples.truncate(offset);
        d.samples.extend_from_slice(&samples);
    }

    /// The blocks that are complete at `now_us`: every direction has
    /// sent past them, or waiting longer would leave the track behind.
    pub fn pull(&mut self, now_us: u64) -> Vec<(u64, Vec<i16>)> {
        self.blocks_while(|m| {
            let end = m.cursor_us() + AUDIO_PACKET_US;
            m.directions.iter().all(|d| d.samples.len() >= BLOCK) || now_us >= end + PATIENCE_US
        })
    }

    /// At the end: every block up to `now_us` and whatever sound came.
    pub fn flush(&mut self, now_us: u64) -> Vec<(u64, Vec<i16>)> {
        self.blocks_while(|m| {
            m.cursor_us() + AUDIO_PACKET_US <= now_us
                || m.directions.iter().any(|d| !d.samples.is_empty())
        })
    }

    fn blocks_while(&mut self, more: impl Fn(&Mixer) -> bool) -> Vec<(u64, Vec<i16>)> {
        let mut out = Vec::new();
        loop {
            if !more(self) {
                return out;
            }
            let mut block = vec![0i32; BLOCK];
            for d in &mut self.directions {
                let n = d.samples.len().min(BLOCK);
                for (acc, s) in block.iter_mut().zip(d.samples.drain(..n)) {
                    *acc += i32::from(s);
                }
            }
            let mixed = block
                .into_iter()
                .map(|s| s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16)
                .collect();
            out.push((self.cursor_us(), mixed));
            self.blocks += 1;
        }
    }
}

/// 20 ms of silence as an Opus packet (a fresh encoder's, so any
/// decoder state takes it), for a sound track that must have a packet
/// before the call's sound has come.
pub fn silence_packet() -> Result<Vec<u8>, String> {
    Encoder::new()?.encode(&[0; BLOCK])
}

/// Opus for the recording's sound track.
pub struct Encoder {
    opus: opus::Encoder,
}

impl Encoder {
    pub fn new() -> Result<Encoder, String> {
        let mut opus =
            opus::Encoder::new(AUDIO_RATE, opus::Channels::Mono, opus::Application::Voip)
                .map_err(|e| format!("Opus encoder: {e}"))?;
        opus.set_bitrate(opus::Bitrate::Bits(32_000))
            .map_err(|e| format!("Opus bitrate: {e}"))?;
        Ok(Encoder { opus })
    }

    /// One 20 ms block.
    pub fn encode(&mut self, block: &[i16]) -> Result<Vec<u8>, String> {
        self.opus
            .encode_vec(block, 1500)
            .map_err(|e| format!("Opus: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, value: i16) -> Vec<i16> {
        vec![value; n]
    }

    #[test]
    fn both_directions_are_summed_block_by_block() {
        let mut m = Mixer::new(1_000_000, 2);
        m.push(0, 1_000_000, 48_000, 1, &tone(960, 100));
        assert!(
            m.pull(1_000_000).is_empty(),
            "waits for the other direction"
        );
        m.push(1, 1_000_000, 8_000, 1, &tone(160, 50));
        let blocks = m.pull(1_020_000);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].0, 1_000_000);
        assert!(
            blocks[0].1.iter().all(|&s| s == 150),
            "{:?}",
            &blocks[0].1[..4]
        );
    }

    #[test]
    fn a_silent_direction_becomes_silence_after_a_while() {
        let mut m = Mixer::new(0, 2);
        for k in 0..10u64 {
            m.push(0, k * 20_000, 48_000, 1, &tone(960, 7));
        }
        assert!(m.pull(100_000).is_empty());
        let blocks = m.pull(200_000 + PATIENCE_US);
        assert_eq!(blocks.len(), 10);
        assert!(blocks.iter().all(|b| b.1.iter().all(|&s| s == 7)));
        assert_eq!(blocks[9].0, 180_000);
    }

    #[test]
    fn jitter_keeps_frames_contiguous_and_a_gap_is_silence() {
        let mut m = Mixer::new(0, 1);
        m.push(0, 0, 48_000, 1, &tone(960, 1));
        m.push(0, 25_000, 48_000, 1, &tone(960, 2)); // 5 ms late: jitter
        m.push(0, 140_000, 48_000, 1, &tone(960, 3)); // 100 ms later: a gap
        let blocks = m.pull(1_000_000);
        let first: Vec<i16> = blocks.iter().map(|b| b.1[0]).collect();
        assert_eq!(&first[..3], &[1, 2, 0]);
        assert_eq!(blocks[7].1[0], 3, "placed by its time: {first:?}");
    }

    #[test]
    fn stereo_is_folded_and_frames_from_before_the_start_are_cut() {
        let mut m = Mixer::new(10_000, 1);
        let stereo: Vec<i16> = (0..1920)
            .map(|i| if i % 2 == 0 { 10 } else { 30 })
            .collect();
        m.push(0, 0, 48_000, 2, &stereo);
        m.push(0, 20_000, 48_000, 2, &stereo);
        let blocks = m.pull(1_000_000);
        assert_eq!(blocks[0].0, 10_000);
        assert!(blocks[0].1.iter().all(|&s| s == 20));
        // 10 ms of the first frame and all of the second: 30 ms, then silence.
        assert_eq!(blocks[1].1[479], 20);
        assert_eq!(blocks[1].1[480], 0);
    }

    #[test]
    fn before_any_sound_silence_keeps_time_and_late_sound_lands_at_its_time() {
        let mut m = Mixer::new(0, 2);
        // Nothing heard: silence, as far as the patience allows.
        let silent = m.pull(1_000_000);
        assert_eq!(silent.len(), 35, "20 ms blocks up to 1 s - 300 ms");
        assert!(silent.iter().all(|b| b.1.iter().all(|&s| s == 0)));
        assert_eq!(silent[34].0, 680_000);
        // The sound starts at 1.5 s: silence up to it, then the sound.
        m.push(1, 1_500_000, 48_000, 1, &tone(960, 3));
        let blocks = m.flush(1_520_000);
        assert_eq!(blocks.first().map(|b| b.0), Some(700_000));
        let at = |t: u64| blocks.iter().find(|b| b.0 == t).unwrap();
        assert!(at(1_480_000).1.iter().all(|&s| s == 0));
        assert!(at(1_500_000).1.iter().all(|&s| s == 3));
        assert_eq!(blocks.last().unwrap().0, 1_500_000);
    }

    #[test]
    fn a_silence_packet_is_a_small_opus_packet() {
        let p = silence_packet().unwrap();
        // Under the 80 bytes a 20 ms packet of 32 kbit/s sound takes.
        assert!(!p.is_empty() && p.len() < 80, "{} bytes", p.len());
    }

    #[test]
    fn the_end_flushes_what_came_and_no_more() {
        let mut m = Mixer::new(0, 2);
        m.push(0, 0, 48_000, 1, &tone(960 * 3, 5));
        let blocks = m.flush(40_000);
        assert_eq!(blocks.len(), 3, "up to the stop, and the sound that came");
        assert!(blocks.iter().all(|b| b.1.iter().all(|&s| s == 5)));
    }

    #[test]
    fn the_encoder_makes_opus_packets() {
        let mut e = Encoder::new().unwrap();
        let block: Vec<i16> = (0..960)
            .map(|i| ((i as f32 * 0.06).sin() * 8000.0) as i16)
            .collect();
        let packet = e.encode(&block).unwrap();
        assert!(!packet.is_empty() && packet.len() < 400);
    }
}
