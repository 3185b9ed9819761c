//! One recording, sans-IO: frames in (with their times), bytes of the file
//! out, in order, a fragment at a time, plus "ask the peer for a keyframe"
//! and "finished, because …". The writer thread does the I/O.
//!
//! - The file starts on a keyframe (an H.264 one with its SPS and PPS);
//!   until one arrives, frames are dropped and a keyframe is asked for.
//! - A fragment closes before a keyframe and before it would pass
//!   [`FRAGMENT`], so what a cut loses is under a second.
//! - Frames lost before reaching us (a full queue) leave the picture
//!   frozen until the next keyframe, never a broken reference chain.
//! - Sound (Opus packets of 20 ms) is laid by its time from the first
//!   picture on, contiguous: packets from before it are dropped, a hole
//!   is filled with silence. A recording with a sound track declares it
//!   in its first fragment, with silence when the call's sound has not
//!   come yet, so sound that starts late still has a track to go to.

use std::time::Duration;

use shiguredo_mp4::bitstream::h264::{parse_annexb_nal_units, H264NalUnitType};

use crate::sound::silence_packet;
use crate::track::{
    muxer, Fragment, Muxer, Sample, Tracks, VideoCodec, VideoFrame, AUDIO_PACKET_US,
};
use crate::webm::vp8_keyframe_size;

/// The longest a fragment (MP4) or cluster (WebM) runs before it is written.
pub const FRAGMENT: Duration = Duration::from_millis(500);
/// How often a keyframe is asked for while none has come.
const KEYFRAME_ASK_EVERY: u64 = 1_000_000;
/// The last picture's duration when nothing follows it.
const DEFAULT_INTERVAL: u64 = 40_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_length: Duration,
    pub max_bytes: u64,
}

/// Why a recording ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The page asked (or the engine is stopping).
    Asked,
    /// The call ended.
    CallEnded,
    /// `max_length` reached (a timed clip's `time`).
    Length,
    /// `max_bytes` reached.
    Size,
    /// The muxer refused the input.
    Failed(String),
}

/// What one input led to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Append these bytes to the file (and make them durable).
    pub bytes: Vec<u8>,
    /// Ask the peer for a keyframe (PLI).
    pub ask_keyframe: bool,
    /// The recording is complete: nothing more will be written.
    pub finished: Option<Stop>,
}

pub struct Recording {
    codec: VideoCodec,
    tracks: Tracks,
    muxer: Box<dyn Muxer>,
    limits: Limits,
    /// The first picture's time: the recording's zero.
    origin: Option<u64>,
    last_pts: u64,
    /// The newest picture, whose duration the next one tells.
    pending: Option<Sample>,
    fragment: Fragment,
    fragment_start: u64,
    /// Where the next sound packet goes.
    audio_next: u64,
    /// 20 ms of silence in Opus, for the sound track's holes (with a
    /// sound track only).
    silence: Vec<u8>,
    /// Whether the file's first fragment (and header) is out.
    header_out: bool,
    /// Dropping pictures until a keyframe (at the start, or after a loss).
    resync: bool,
    last_ask: Option<u64>,
    interval: u64,
    written: u64,
    pictures: u64,
    done: bool,
}

/// Whether a frame can start a file: a keyframe that decodes on its own.
pub fn starts_file(codec: VideoCodec, frame: &VideoFrame) -> bool {
    match codec {
        VideoCodec::Vp8 => vp8_keyframe_size(&frame.data).is_some(),
        VideoCodec::H264 => {
            let Ok(nals) = parse_annexb_nal_units(&frame.data) else {
                return false;
            };
            let has = |t| nals.iter().any(|n| n.nal_unit_type == t);
            has(H264NalUnitType::Sps) && has(H264NalUnitType::Pps) && has(H264NalUnitType::IdrSlice)
        }
    }
}

impl Recording {
    pub fn new(codec: VideoCodec, tracks: Tracks, limits: Limits) -> Recording {
        // No silence to fill with, no sound track (libopus failing is the
        // only way; the pictures still get recorded).
        let silence = match tracks.audio {
            true => silence_packet().unwrap_or_default(),
            false => Vec::new(),
        };
        let tracks = Tracks {
            audio: tracks.audio && !silence.is_empty(),
        };
        Recording {
            codec,
            tracks,
            silence,
            header_out: false,
            muxer: muxer(codec, tracks),
            limits,
            origin: None,
            last_pts: 0,
            pending: None,
            fragment: Fragment::default(),
            fragment_start: 0,
            audio_next: 0,
            resync: true,
            last_ask: None,
            interval: DEFAULT_INTERVAL,
            written: 0,
            pictures: 0,
            done: false,
        }
    }

    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    pub fn tracks(&self) -> Tracks {
        self.tracks
    }

    /// Pictures in the file so far (written or about to be).
    pub fn pictures(&self) -> u64 {
        self.pictures
    }

    /// Whether the first keyframe has come.
    pub fn started(&self) -> bool {
        self.origin.is_some()
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    fn ask(&mut self, now: u64, step: &mut Step) {
        if self.last_ask.is_none_or(|t| now >= t + KEYFRAME_ASK_EVERY) {
            self.last_ask = Some(now);
            step.ask_keyframe = true;
        }
    }

    /// A picture that arrived; `after_loss` when pictures before it were
    /// dropped on their way here.
    pub fn video(&mut self, mut frame: VideoFrame, after_loss: bool) -> Step {
        let mut step = Step::default();
        if self.done {
            return step;
        }
        if self.origin.is_some() && frame.pts_us <= self.last_pts {
            frame.pts_us = self.last_pts + 1_000;
        }
        self.resync |= after_loss;
        if self.resync {
            if !(frame.keyframe && starts_file(self.codec, &frame)) {
                self.ask(frame.pts_us, &mut step);
                return step;
            }
            self.resync = false;
        }
        let origin = *self.origin.get_or_insert(frame.pts_us);
        self.last_pts = frame.pts_us;
        let at = frame.pts_us - origin;
        if at >= self.limits.max_length.as_micros() as u64 && at > 0 {
            return self.end(Stop::Length, Some(at), step);
        }
        if let Some(mut previous) = self.pending.take() {
            previous.duration_us = at - previous.start_us;
            self.interval = previous.duration_us.max(1);
            self.fragment.video.push(previous);
        }
        let fragment_full = at + self.interval > self.fragment_start + FRAGMENT.as_micros() as u64;
        if !self.fragment.video.is_empty() && (frame.keyframe || fragment_full) {
            if let Some(stop) = self.close(at, &mut step) {
                return self.end(stop, None, step);
            }
        }
        self.pending = Some(Sample {
            start_us: at,
            duration_us: 0,
            keyframe: frame.keyframe,
            data: frame.data,
        });
        self.pictures += 1;
        step
    }

    /// One Opus packet of the call's sound (20 ms) that starts at
    /// `pts_us`, in order. It goes in the next 20 ms slot of the track
    /// when its time falls there (within half a packet); a packet whose
    /// slot is taken or before the first picture is dropped; one later
    /// than its slot comes after silence up to its time.
    pub fn audio(&mut self, pts_us: u64, packet: Vec<u8>) -> Step {
        let Some(origin) = self.origin.filter(|_| !self.done && self.tracks.audio) else {
            return Step::default();
        };
        const HALF: u64 = AUDIO_PACKET_US / 2;
        if pts_us + HALF < origin + self.audio_next {
            return Step::default();
        }
        let at = pts_us - origin.min(pts_us);
        while self.audio_next + HALF <= at {
            self.push_audio(self.silence.clone());
        }
        self.push_audio(packet);
        Step::default()
    }

    fn push_audio(&mut self, data: Vec<u8>) {
        self.fragment.audio.push(Sample {
            start_us: self.audio_next,
            duration_us: AUDIO_PACKET_US,
            keyframe: true,
            data,
        });
        self.audio_next += AUDIO_PACKET_US;
    }

    /// Time passes (the writer's clock, on the frames' clock): asks again
    /// for a keyframe that does not come, writes sound when pictures
    /// stopped, ends a recording whose length is reached without pictures.
    pub fn tick(&mut self, now_us: u64) -> Step {
        let mut step = Step::default();
        if self.done {
            return step;
        }
        let Some(origin) = self.origin else {
            self.ask(now_us, &mut step);
            return step;
        };
        if self.resync {
            self.ask(now_us, &mut step);
        }
        let at = now_us.saturating_sub(origin);
        if at >= self.limits.max_length.as_micros() as u64 {
            return self.end(Stop::Length, None, step);
        }
        let overdue = at > self.fragment_start + FRAGMENT.as_micros() as u64 + self.interval;
        if overdue && !self.fragment.is_empty() {
            let boundary = self.pending.as_ref().map_or(at, |p| p.start_us);
            if let Some(stop) = self.close(boundary.max(self.audio_next), &mut step) {
                return self.end(stop, None, step);
            }
        }
        step
    }

    /// Ends the recording: the last picture, the last fragment, the index.
    pub fn finish(&mut self, why: Stop) -> Step {
        if self.done {
            return Step::default();
        }
        self.end(why, None, Step::default())
    }

    /// Writes the fragment up to `boundary` (sound from before it too);
    /// `Some` when that would pass the size limit or the muxer failed.
    fn close(&mut self, boundary: u64, step: &mut Step) -> Option<Stop> {
        let first = !self.header_out && !self.fragment.video.is_empty();
        if first && self.tracks.audio && self.audio_next == 0 {
            // The first fragment declares the sound track, so it needs a
            // packet of it: silence in the first slot (the call's sound,
            // when it comes, goes on from the next one).
            self.push_audio(self.silence.clone());
        }
        let split = self
            .fragment
            .audio
            .iter()
            .position(|s| s.start_us >= boundary)
            .unwrap_or(self.fragment.audio.len());
        let later = self.fragment.audio.split_off(split);
        let fragment = Fragment {
            video: std::mem::take(&mut self.fragment.video),
            audio: std::mem::replace(&mut self.fragment.audio, later),
        };
        self.fragment_start = boundary;
        if fragment.is_empty() {
            return None;
        }
        if self.written + fragment.bytes() as u64 > self.limits.max_bytes {
            return Some(Stop::Size);
        }
        match self.muxer.fragment(&fragment) {
            Ok(bytes) => {
                self.header_out = true;
                self.written += bytes.len() as u64;
                step.bytes.extend_from_slice(&bytes);
                None
            }
            Err(e) => Some(Stop::Failed(e)),
        }
    }

    /// `until`: where the last picture ends, when known.
    fn end(&mut self, why: Stop, until: Option<u64>, mut step: Step) -> Step {
        self.done = true;
        let mut why = why;
        if matches!(why, Stop::Asked | Stop::CallEnded | Stop::Length) {
            if let Some(mut last) = self.pending.take() {
                last.duration_us = until.map_or(self.interval, |u| u - last.start_us);
                let end = last.start_us + last.duration_us;
                self.fragment.video.push(last);
                if let Some(stop) = self.close(end.max(self.audio_next), &mut step) {
                    why = stop;
                }
            }
        }
        if self.origin.is_some() {
            step.bytes.extend(self.muxer.trailer());
        }
        step.finished = Some(why);
        step
    }
}
