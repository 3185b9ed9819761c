//! The small trait every audio codec sits behind, and a plain loss
//! concealment for codecs without their own.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}

/// One direction-agnostic codec instance (an encoder and a decoder).
/// PCM is mono, signed 16-bit, at [`AudioCodec::sample_rate`].
pub trait AudioCodec: Send {
    /// The SDP encoding name (`opus`, `PCMU`, `G722` …).
    fn name(&self) -> &'static str;
    /// The rate of the PCM this codec takes and gives.
    fn sample_rate(&self) -> u32;
    /// The RTP clock rate (8000 for G.722 although it samples at 16 kHz).
    fn clock_rate(&self) -> u32;
    /// Encodes one frame (`sample_rate() * ptime` samples), appending to `out`.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError>;
    /// Decodes one payload, appending samples to `out`.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError>;
    /// Makes up `samples` samples for a lost packet. `next` is the packet
    /// after the lost one when it already arrived (Opus recovers from its FEC).
    fn conceal(&mut self, next: Option<&[u8]>, samples: usize, out: &mut Vec<i16>);
}

/// Loss concealment by repetition: the last good frame again, fading out
/// over a few frames, then silence. Enough for G.711 and G.722 at a few
/// percent of loss (the ear hears a smear, not a click or a hole).
#[derive(Debug, Default, Clone)]
pub struct RepeatPlc {
    last: Vec<i16>,
    lost_in_row: u32,
}

impl RepeatPlc {
    /// Remember a frame that decoded.
    pub fn good(&mut self, frame: &[i16]) {
        self.last.clear();
        self.last.extend_from_slice(frame);
        self.lost_in_row = 0;
    }

    pub fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        self.lost_in_row += 1;
        // 1.0, 0.7, 0.49 … then silence after 5 frames.
        let gain = if self.lost_in_row > 5 {
            0.0
        } else {
            0.7f32.powi(self.lost_in_row as i32 - 1)
        };
        for i in 0..samples {
            let s = self
                .last
                .get(i % self.last.len().max(1))
                .copied()
                .unwrap_or(0);
            out.push((f32::from(s) * gain) as i16);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_plc_fades_to_silence() {
        let mut plc = RepeatPlc::default();
        plc.good(&[1000; 160]);
        let mut out = Vec::new();
        plc.conceal(160, &mut out);
        assert_eq!(out[0], 1000);
        for _ in 0..6 {
            out.clear();
            plc.conceal(160, &mut out);
        }
        assert!(out.iter().all(|s| *s == 0));
        let mut fresh = RepeatPlc::default();
        out.clear();
        fresh.conceal(160, &mut out);
        assert_eq!(out.len(), 160);
        assert!(out.iter().all(|s| *s == 0));
    }
}
