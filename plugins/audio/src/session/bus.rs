//! The call's sound on the media bus, for whoever records or analyses it:
//! what the peer says as it is played (`remote-audio/<callId>`) and what
//! is sent to the peer (`local-audio/<callId>`), one 20 ms frame each per
//! tick, 48 kHz mono `FRAME_PCM16`, stamped on the host's media clock.
//!
//! Cheap when nobody listens: the topics are named once per call and the
//! samples converted into one reused buffer; the bus then only looks at
//! its subscription list and copies nothing. Publishing never waits (the
//! bus drops a frame for a subscriber that has no room).

use seatphone_plugin_api::abi_stable::std_types::RSlice;
use seatphone_plugin_api::{topics, Host, MediaFrame, FRAME_PCM16};

use crate::io::RATE;

/// Which direction of the call's sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// The peer's voice, decoded, before the speaker's volume.
    Remote,
    /// What is sent: the microphone after mute, volume, voice processing
    /// and in-band keys.
    Local,
}

pub(super) struct BusAudio {
    host: Host,
    remote: String,
    local: String,
    /// Native-endian 16-bit samples, reused every frame.
    bytes: Vec<u8>,
}

/// `frame` (−1.0..1.0) as native-endian 16-bit samples into `out`.
fn to_pcm16(frame: &[f32], out: &mut Vec<u8>) {
    out.clear();
    out.extend(
        frame
            .iter()
            .flat_map(|s| ((s * 32768.0).clamp(-32768.0, 32767.0) as i16).to_ne_bytes()),
    );
}

impl BusAudio {
    pub(super) fn new(host: Host, call_id: u32) -> Self {
        Self {
            host,
            remote: topics::for_call(topics::REMOTE_AUDIO, call_id),
            local: topics::for_call(topics::LOCAL_AUDIO, call_id),
            bytes: Vec::new(),
        }
    }

    /// One frame of `side` at the device rate, heard or sent now.
    pub(super) fn publish(&mut self, side: Side, frame: &[f32]) {
        to_pcm16(frame, &mut self.bytes);
        let topic = match side {
            Side::Remote => &self.remote,
            Side::Local => &self.local,
        };
        self.host.publish(
            topic,
            MediaFrame {
                format: FRAME_PCM16,
                width: RATE,
                height: 1,
                pts_us: self.host.clock_us(),
                data: RSlice::from_slice(&self.bytes),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_become_native_endian_pcm16_clipped_at_full_scale() {
        let mut out = vec![9u8; 3];
        to_pcm16(&[0.0, 0.5, -1.0, 1.5], &mut out);
        let back: Vec<i16> = out
            .chunks_exact(2)
            .map(|b| i16::from_ne_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(back, [0, 16384, -32768, 32767]);
    }
}
