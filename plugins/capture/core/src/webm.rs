//! VP8 (and Opus) into WebM: the EBML header, a Segment and Clusters whose
//! sizes are left unknown, so each cluster is written once, as it closes,
//! and a file cut anywhere plays up to its last complete block (sizes
//! patched in at the end would leave a cut file unreadable).
//!
//! EBML is written by `webm-iterable` (its writer can leave a master
//! element's size unknown). The video track's size is the first
//! keyframe's; a VP8 keyframe carries its own size, so a change mid-call
//! starts a cluster at that keyframe and decoders follow it.

use webm_iterable::matroska_spec::{Master, MatroskaSpec as M, SimpleBlock};
use webm_iterable::{WebmWriter, WriteOptions};

use crate::track::{Fragment, Muxer, Sample, Tracks, AUDIO_RATE, OPUS_PRE_SKIP};

const VIDEO_TRACK: u64 = 1;
const AUDIO_TRACK: u64 = 2;

pub struct Webm {
    tracks: Tracks,
    writer: WebmWriter<Vec<u8>>,
    started: bool,
    audio_track: bool,
    cluster_open: bool,
}

/// The size a VP8 keyframe declares (RFC 6386 9.1), if it is one.
pub fn vp8_keyframe_size(frame: &[u8]) -> Option<(u16, u16)> {
    if frame.len() < 10 || frame[0] & 1 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let h = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    Some((w, h))
}

/// `OpusHead` (RFC 7845 5.1), the Opus track's CodecPrivate: mono, 48 kHz.
fn opus_head() -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1);
    head.push(1);
    head.extend_from_slice(&OPUS_PRE_SKIP.to_le_bytes());
    head.extend_from_slice(&AUDIO_RATE.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes());
    head.push(0);
    head
}

fn ms(us: u64) -> u64 {
    us / 1000
}

impl Webm {
    pub fn new(tracks: Tracks) -> Webm {
        Webm {
            tracks,
            writer: WebmWriter::new(Vec::new()),
            started: false,
            audio_track: false,
            cluster_open: false,
        }
    }

    fn write(&mut self, tag: M) -> Result<(), String> {
        self.writer
            .write(&tag)
            .map_err(|e| format!("WebM element: {e}"))
    }

    fn header(&mut self, width: u16, height: u16) -> Result<(), String> {
        self.write(M::Ebml(Master::Full(vec![
            M::EbmlVersion(1),
            M::EbmlReadVersion(1),
            M::EbmlMaxIdLength(4),
            M::EbmlMaxSizeLength(8),
            M::DocType("webm".into()),
            M::DocTypeVersion(4),
            M::DocTypeReadVersion(2),
        ])))?;
        self.writer
            .write_advanced(
                &M::Segment(Master::Start),
                WriteOptions::is_unknown_sized_element(),
            )
            .map_err(|e| format!("WebM segment: {e}"))?;
        let app = format!("Seatphone {}", env!("CARGO_PKG_VERSION"));
        self.write(M::Info(Master::Full(vec![
            M::TimestampScale(1_000_000),
            M::MuxingApp(app.clone()),
            M::WritingApp(app),
        ])))?;
        let mut tracks = vec![M::TrackEntry(Master::Full(vec![
            M::TrackNumber(VIDEO_TRACK),
            M::TrackUID(VIDEO_TRACK),
            M::TrackType(1),
            M::CodecID("V_VP8".into()),
            M::Video(Master::Full(vec![
                M::PixelWidth(u64::from(width)),
                M::PixelHeight(u64::from(height)),
            ])),
        ]))];
        if self.audio_track {
            tracks.push(M::TrackEntry(Master::Full(vec![
                M::TrackNumber(AUDIO_TRACK),
                M::TrackUID(AUDIO_TRACK),
                M::TrackType(2),
                M::CodecID("A_OPUS".into()),
                M::CodecPrivate(opus_head()),
                // Nanoseconds (RFC 7845 / Matroska's Opus mapping).
                M::CodecDelay(u64::from(OPUS_PRE_SKIP) * 1_000_000_000 / u64::from(AUDIO_RATE)),
                M::SeekPreRoll(80_000_000),
                M::Audio(Master::Full(vec![
                    M::SamplingFrequency(f64::from(AUDIO_RATE)),
                    M::Channels(1),
                ])),
            ])));
        }
        self.write(M::Tracks(Master::Full(tracks)))
    }
}

impl Muxer for Webm {
    fn fragment(&mut self, fragment: &Fragment) -> Result<Vec<u8>, String> {
        if !self.started {
            let first = fragment
                .video
                .first()
                .ok_or("a recording starts with a picture")?;
            let (w, h) = vp8_keyframe_size(&first.data)
                .ok_or("a VP8 recording must start with a keyframe")?;
            // Declared from the start: sound that comes later has its track.
            self.audio_track = self.tracks.audio;
            self.header(w, h)?;
            self.started = true;
        }
        let audio: &[Sample] = if self.audio_track {
            &fragment.audio
        } else {
            &[]
        };
        // Blocks in time order across the two tracks.
        let mut blocks: Vec<(&Sample, u64)> = fragment
            .video
            .iter()
            .map(|s| (s, VIDEO_TRACK))
            .chain(audio.iter().map(|s| (s, AUDIO_TRACK)))
            .collect();
        if blocks.is_empty() {
            return Ok(Vec::new());
        }
        blocks.sort_by_key(|(s, track)| (s.start_us, *track));
        let cluster_ms = ms(blocks[0].0.start_us);
        if self.cluster_open {
            // An unknown-size cluster ends where the next one starts.
            self.write(M::Cluster(Master::End))?;
        }
        self.writer
            .write_advanced(
                &M::Cluster(Master::Start),
                WriteOptions::is_unknown_sized_element(),
            )
            .map_err(|e| format!("WebM cluster: {e}"))?;
        self.cluster_open = true;
        self.write(M::Timestamp(cluster_ms))?;
        for (s, track) in blocks {
            let relative = ms(s.start_us) as i64 - cluster_ms as i64;
            let relative = i16::try_from(relative)
                .map_err(|_| format!("a WebM block {relative} ms from its cluster"))?;
            let block = SimpleBlock::new_uncheked(
                &s.data,
                track,
                relative,
                false,
                None,
                false,
                s.keyframe || track == AUDIO_TRACK,
            );
            self.write(block.into())?;
        }
        Ok(std::mem::take(self.writer.get_mut()))
    }
}
