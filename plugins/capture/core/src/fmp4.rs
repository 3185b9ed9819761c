//! H.264 (and Opus) into fragmented MP4: `ftyp` + `moov` once, then a
//! `moof` + `mdat` per fragment. Each fragment is whole on its own, so a
//! file cut anywhere plays up to its last complete fragment (a plain MP4,
//! whose index is written at the end, would not play at all).
//!
//! The boxes come from `shiguredo_mp4`; the sample entry (`avc1` + `avcC`)
//! from the first keyframe's SPS and PPS. SPS and PPS also stay in the
//! samples, so a change of picture size mid-call travels in-band with the
//! keyframe that starts its fragment, and decoders follow it.

use std::num::NonZeroU32;

use shiguredo_mp4::bitstream::h264::{
    annexb_to_length_prefixed, build_avc1_box_from_annexb, H264SampleEntryConfig, LengthSize,
};
use shiguredo_mp4::bitstream::opus::{build_opus_box, ChannelCount, OpusSampleEntryConfig};
use shiguredo_mp4::boxes::SampleEntry;
use shiguredo_mp4::mux::{Fmp4SegmentMuxer, Sample as Mp4Sample};
use shiguredo_mp4::TrackKind;

use crate::track::{
    Fragment, Muxer, Sample, Tracks, AUDIO_PACKET_SAMPLES, AUDIO_RATE, OPUS_PRE_SKIP,
};

const VIDEO_TIMESCALE: u64 = 90_000;

pub struct Fmp4 {
    tracks: Tracks,
    muxer: Option<Fmp4SegmentMuxer>,
    /// Set once the header is written.
    started: bool,
    audio_track: bool,
}

impl Fmp4 {
    pub fn new(tracks: Tracks) -> Fmp4 {
        Fmp4 {
            tracks,
            muxer: Fmp4SegmentMuxer::new().ok(),
            started: false,
            audio_track: false,
        }
    }
}

/// Microseconds to 90 kHz ticks, from the start, so rounding never drifts.
fn ticks(us: u64) -> u64 {
    us * VIDEO_TIMESCALE / 1_000_000
}

fn avc1(keyframe: &[u8]) -> Result<SampleEntry, String> {
    build_avc1_box_from_annexb(
        keyframe,
        &H264SampleEntryConfig {
            length_size: LengthSize::FourBytes,
        },
    )
    .map(SampleEntry::Avc1)
    .map_err(|e| format!("the first keyframe's SPS/PPS: {e}"))
}

fn opus() -> SampleEntry {
    SampleEntry::Opus(build_opus_box(&OpusSampleEntryConfig {
        channel_count: ChannelCount::Mono,
        pre_skip: OPUS_PRE_SKIP,
        input_sample_rate: AUDIO_RATE,
        output_gain: 0,
    }))
}

fn timescale(n: u64) -> NonZeroU32 {
    NonZeroU32::new(n as u32).unwrap_or(NonZeroU32::MIN)
}

impl Muxer for Fmp4 {
    fn fragment(&mut self, fragment: &Fragment) -> Result<Vec<u8>, String> {
        let muxer = self
            .muxer
            .as_mut()
            .ok_or("the MP4 muxer could not be made")?;
        let first = !self.started;
        if first {
            // The file begins with a keyframe carrying SPS and PPS. A
            // track's sample entry travels with its first sample, so the
            // sound track needs a packet in the first fragment (the
            // recording puts silence there when the call's sound has not
            // come yet); without one the file has pictures alone.
            self.audio_track = self.tracks.audio && !fragment.audio.is_empty();
        }
        let mut samples = Vec::new();
        let mut payload = Vec::new();
        let mut push =
            |s: &Sample, entry: Option<SampleEntry>, kind, scale, duration: u64, data: Vec<u8>| {
                samples.push(Mp4Sample {
                    track_kind: kind,
                    timescale: timescale(scale),
                    sample_entry: entry,
                    duration: duration as u32,
                    keyframe: s.keyframe,
                    composition_time_offset: None,
                    data_offset: payload.len() as u64,
                    data_size: data.len(),
                });
                payload.extend_from_slice(&data);
            };
        for (i, s) in fragment.video.iter().enumerate() {
            let entry = if first && i == 0 {
                Some(avc1(&s.data)?)
            } else {
                None
            };
            let data = annexb_to_length_prefixed(&s.data, LengthSize::FourBytes)
                .map_err(|e| format!("an H.264 frame: {e}"))?;
            let duration = ticks(s.start_us + s.duration_us) - ticks(s.start_us);
            push(s, entry, TrackKind::Video, VIDEO_TIMESCALE, duration, data);
        }
        if self.audio_track {
            for (i, s) in fragment.audio.iter().enumerate() {
                let entry = (first && i == 0).then(opus);
                let duration = u64::from(AUDIO_PACKET_SAMPLES);
                push(
                    s,
                    entry,
                    TrackKind::Audio,
                    u64::from(AUDIO_RATE),
                    duration,
                    s.data.clone(),
                );
            }
        }
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let head = muxer
            .create_media_segment_metadata(&samples)
            .map_err(|e| format!("MP4 fragment: {e}"))?;
        let mut out = Vec::with_capacity(head.len() + payload.len() + 1024);
        if first {
            out = muxer
                .init_segment_bytes()
                .map_err(|e| format!("MP4 header: {e}"))?;
            self.started = true;
        }
        out.extend_from_slice(&head);
        out.extend_from_slice(&payload);
        Ok(out)
    }

    fn trailer(&mut self) -> Vec<u8> {
        // The random-access index: players seek without reading every
        // fragment. The file is whole without it.
        match (&self.muxer, self.started) {
            (Some(m), true) => m.mfra_bytes().unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}
