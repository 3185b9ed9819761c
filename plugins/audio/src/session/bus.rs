//! The call's sound on the media bus, for whoever records or analyses it:
//! what the peer says as it is played (`remote-audio/<callId>`) and what
//! is sent to the peer (`local-audio/<callId>`), one 20 ms frame each per
//! tick, 48 kHz mono `FRAME_PCM16`, stamped on the host's media clock:
//! what is sent when it is sent, what the peer says when it arrived (as
//! the peer's pictures are), not when it is played after the jitter
//! buffer's hold, so a recording lines the peer's sound up with its
//! pictures.
//!
//! Cheap when nobody listens: the topics are named once per call and the
//! samples converted into one reused buffer; the bus then only looks at
//! its subscription list and copies nothing. Publishing never waits (the
//! bus drops a frame for a subscriber that has no room).

use std::time::Instant;

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

/// One 20 ms frame (µs).
const FRAME_US: u64 = 20_000;
/// A stamp further than this from where the frames so far put it is
/// taken as it is (the stream started over), not eased towards.
const RESTAMP_US: u64 = 200_000;

/// The peer's sound's stamps: each frame 20 ms after the one before, as
/// they are played, eased towards when the frame's sound arrived by a
/// sixteenth of the difference each frame. Arrival times carry the
/// network's jitter (a burst after a stall brings several frames at
/// once); the frames themselves are contiguous, and their stamps stay so.
#[derive(Default)]
struct Stamps {
    last: Option<u64>,
}

impl Stamps {
    fn next(&mut self, arrived: u64) -> u64 {
        let pts = match self.last {
            Some(last) => {
                let expected = last + FRAME_US;
                if arrived.abs_diff(expected) > RESTAMP_US {
                    arrived
                } else {
                    let diff = arrived as i64 - expected as i64;
                    expected.saturating_add_signed(diff / 16)
                }
            }
            None => arrived,
        };
        self.last = Some(pts);
        pts
    }
}

pub(super) struct BusAudio {
    host: Host,
    remote_stamps: Stamps,
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
            remote_stamps: Stamps::default(),
            remote: topics::for_call(topics::REMOTE_AUDIO, call_id),
            local: topics::for_call(topics::LOCAL_AUDIO, call_id),
            bytes: Vec::new(),
        }
    }

    /// One frame of `side` at the device rate, heard or sent now.
    pub(super) fn publish(&mut self, side: Side, frame: &[f32]) {
        let now = self.host.clock_us();
        self.publish_at(side, frame, now);
    }

    /// One frame of the peer's sound whose first sample arrived at
    /// `heard` (on the media clock: its now, less how long ago that was).
    pub(super) fn publish_heard(&mut self, frame: &[f32], heard: Instant) {
        let ago = Instant::now().saturating_duration_since(heard);
        let arrived = self
            .host
            .clock_us()
            .saturating_sub(u64::try_from(ago.as_micros()).unwrap_or(u64::MAX));
        let pts = self.remote_stamps.next(arrived);
        self.publish_at(Side::Remote, frame, pts);
    }

    fn publish_at(&mut self, side: Side, frame: &[f32], pts_us: u64) {
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
                pts_us,
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

    #[test]
    fn stamps_stay_20_ms_apart_and_follow_arrival_slowly() {
        let mut s = Stamps::default();
        assert_eq!(s.next(1_000_000), 1_000_000);
        // Steady: each frame's sound arrived 20 ms after the last's.
        assert_eq!(s.next(1_020_000), 1_020_000);
        // A burst: five frames' sound all arrived at once, 60 ms late:
        // still about 20 ms apart (a sixteenth of the lateness off).
        let burst: Vec<u64> = (0..5).map(|_| s.next(1_100_000)).collect();
        for w in burst.windows(2) {
            assert!((17_000..=23_000).contains(&(w[1] - w[0])), "{burst:?}");
        }
        // A steady lateness is followed: within 1 ms after two seconds.
        let mut t = 1_200_000;
        for _ in 0..100 {
            t += 20_000;
            s.next(t + 30_000);
        }
        assert!(s.next(t + 50_000).abs_diff(t + 50_000) < 1_000);
        // The stream starting over elsewhere: taken as it is.
        assert_eq!(s.next(9_000_000), 9_000_000);
    }
}
