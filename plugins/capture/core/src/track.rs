//! What a recording is made of: the frames that arrive, and the samples a
//! container writes (a frame with its duration, on the recording's clock).

/// The remote video's codec; the container follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// Into fragmented MP4.
    H264,
    /// Into WebM.
    Vp8,
}

impl VideoCodec {
    /// The file name extension of its recordings.
    pub fn extension(self) -> &'static str {
        match self {
            VideoCodec::H264 => "mp4",
            VideoCodec::Vp8 => "webm",
        }
    }
}

/// One encoded video frame as it arrived: an H.264 access unit in Annex B
/// (start codes; SPS and PPS before each IDR), or one VP8 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFrame {
    pub keyframe: bool,
    /// Microseconds on the clock the recording's audio uses too.
    pub pts_us: u64,
    pub data: Vec<u8>,
}

/// A frame placed in the recording: `start_us` from the recording's first
/// picture, lasting until the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub start_us: u64,
    pub duration_us: u64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

/// Opus packets of the recording's sound: 48 kHz, mono, 20 ms each.
pub const AUDIO_RATE: u32 = 48_000;
pub const AUDIO_PACKET_SAMPLES: u32 = 960;
pub const AUDIO_PACKET_US: u64 = 20_000;
/// What the Opus encoder holds back at the start (libopus at 48 kHz).
pub const OPUS_PRE_SKIP: u16 = 312;

/// The samples one fragment (MP4) or cluster (WebM) holds: at most about a
/// second, written and flushed as soon as it closes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fragment {
    pub video: Vec<Sample>,
    /// Contiguous Opus packets, `AUDIO_PACKET_US` each.
    pub audio: Vec<Sample>,
}

impl Fragment {
    pub fn is_empty(&self) -> bool {
        self.video.is_empty() && self.audio.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.video
            .iter()
            .chain(&self.audio)
            .map(|s| s.data.len())
            .sum()
    }
}

/// Turns fragments into the bytes of a file, in order.
pub trait Muxer: Send {
    /// The bytes of a closed fragment; before the first one, the file's
    /// header (which needs the first keyframe's parameters).
    fn fragment(&mut self, fragment: &Fragment) -> Result<Vec<u8>, String>;
    /// Bytes that end the file on a clean stop (an index); the file plays
    /// without them.
    fn trailer(&mut self) -> Vec<u8> {
        Vec::new()
    }
}

/// Whether the recording holds a sound track besides the video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracks {
    pub audio: bool,
}

/// The muxer for a codec's container.
pub fn muxer(codec: VideoCodec, tracks: Tracks) -> Box<dyn Muxer> {
    match codec {
        VideoCodec::H264 => Box::new(crate::fmp4::Fmp4::new(tracks)),
        VideoCodec::Vp8 => Box::new(crate::webm::Webm::new(tracks)),
    }
}
