//! Video RTP payload formats: H.264 (RFC 6184, packetization-mode 1:
//! single NAL units, STAP-A, FU-A) and VP8 (RFC 7741), both ways.
//!
//! The packetizers and depacketizers of the `rtp` crate do the format work;
//! this module adds what a call needs around them: access units split to an
//! MTU with the marker on the last packet, and a [`FrameAssembler`] that
//! rebuilds access units from packets in sequence order, drops a frame with
//! a gap, and holds delta frames back until a keyframe after a loss (asking
//! for one, once per loss). Input from the network is checked before the
//! crate sees it (its STAP-A reader indexes past a truncated length field).

use bytes::Bytes;
use rtp::codecs::h264::{H264Packet, H264Payloader};
use rtp::codecs::vp8::{Vp8Packet, Vp8Payloader};
use rtp::packetizer::{Depacketizer, Payloader};

/// The video codecs a call can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    Vp8,
    H264,
}

impl VideoCodec {
    /// The SDP encoding name (`a=rtpmap:<pt> <name>/90000`).
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "VP8",
            VideoCodec::H264 => "H264",
        }
    }

    pub fn from_name(name: &str) -> Option<VideoCodec> {
        [VideoCodec::Vp8, VideoCodec::H264]
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

/// RTP payload bytes per packet: 1200 keeps a packet with IP, UDP, RTP and
/// SRTP headers well under a 1500-byte Ethernet MTU, and under most VPNs'.
pub const DEFAULT_MTU: usize = 1200;

/// Splits encoded access units into RTP payloads.
pub struct Packetizer {
    payloader: Box<dyn Payloader + Send + Sync>,
    mtu: usize,
}

impl Packetizer {
    pub fn new(codec: VideoCodec, mtu: usize) -> Packetizer {
        let payloader: Box<dyn Payloader + Send + Sync> = match codec {
            VideoCodec::H264 => Box::new(H264Payloader::default()),
            VideoCodec::Vp8 => {
                let mut vp8 = Vp8Payloader::default();
                vp8.enable_picture_id = true;
                Box::new(vp8)
            }
        };
        Packetizer { payloader, mtu }
    }

    /// The payloads of one access unit (H.264: Annex B; VP8: one frame), in
    /// order; all share one RTP timestamp and the last carries the marker.
    pub fn packetize(&mut self, access_unit: &[u8]) -> Vec<Bytes> {
        self.payloader
            .payload(self.mtu, &Bytes::copy_from_slice(access_unit))
            .unwrap_or_default()
    }
}

/// A complete access unit rebuilt from packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// H.264: Annex B with start codes; VP8: the frame.
    pub data: Vec<u8>,
    pub timestamp: u32,
    pub keyframe: bool,
}

/// What one packet completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembled {
    /// Nothing yet (a frame in progress, or a delta frame dropped while
    /// waiting for a keyframe).
    Pending,
    /// A frame to decode.
    Frame(Frame),
    /// Packets were lost (or the stream starts without a keyframe): the
    /// frame is dropped and the caller should ask the sender for a keyframe
    /// (PLI or FIR). Said once per loss; frames resume at the next keyframe.
    NeedKeyframe,
}

/// Counters for the call's statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssemblerStats {
    pub frames: u64,
    pub keyframes: u64,
    /// Frames dropped because a packet was missing or unreadable.
    pub dropped: u64,
    /// Delta frames dropped while waiting for a keyframe.
    pub skipped: u64,
    pub keyframes_asked: u64,
}

/// Rebuilds access units from one stream's packets, in sequence order
/// (the caller's jitter buffer reorders; an older packet here is late and
/// ignored).
pub struct FrameAssembler {
    codec: VideoCodec,
    last_seq: Option<u16>,
    /// The frame being gathered: its timestamp and payloads.
    current: Option<(u32, Vec<Bytes>)>,
    /// A packet of the current frame was lost or unreadable.
    broken: bool,
    /// Delta frames cannot be decoded until the next keyframe.
    waiting_for_key: bool,
    /// `NeedKeyframe` already said for the present loss.
    asked: bool,
    pub stats: AssemblerStats,
}

impl FrameAssembler {
    pub fn new(codec: VideoCodec) -> FrameAssembler {
        FrameAssembler {
            codec,
            last_seq: None,
            current: None,
            broken: false,
            waiting_for_key: true,
            asked: false,
            stats: AssemblerStats::default(),
        }
    }

    /// One RTP packet's sequence number, timestamp, marker and payload.
    pub fn push(&mut self, seq: u16, timestamp: u32, marker: bool, payload: &[u8]) -> Assembled {
        if let Some(last) = self.last_seq {
            let delta = seq.wrapping_sub(last);
            if delta == 0 || delta >= 0x8000 {
                return Assembled::Pending; // duplicate or late
            }
            if delta > 1 {
                // Packets lost: whatever frame they belonged to is gone,
                // and pictures after it refer to it.
                self.loss();
            }
        }
        self.last_seq = Some(seq);
        match &mut self.current {
            Some((ts, _)) if *ts != timestamp => {
                // A new frame began before the last one's marker: its end
                // was lost.
                self.loss();
                self.current = Some((timestamp, Vec::new()));
            }
            None => self.current = Some((timestamp, Vec::new())),
            Some(_) => {}
        }
        if let Some((_, parts)) = &mut self.current {
            parts.push(Bytes::copy_from_slice(payload));
        }
        if !marker {
            return Assembled::Pending;
        }
        let (timestamp, parts) = self.current.take().unwrap_or_default();
        let broken = std::mem::take(&mut self.broken);
        let frame = if broken {
            None
        } else {
            self.depacketize(&parts)
        };
        match frame {
            Some(data) => self.complete(Frame {
                keyframe: self.is_keyframe(&data),
                data,
                timestamp,
            }),
            None => {
                self.stats.dropped += 1;
                self.waiting_for_key = true;
                self.ask()
            }
        }
    }

    fn loss(&mut self) {
        self.broken = true;
        self.waiting_for_key = true;
        self.asked = false;
    }

    fn ask(&mut self) -> Assembled {
        if self.asked {
            return Assembled::Pending;
        }
        self.asked = true;
        self.stats.keyframes_asked += 1;
        Assembled::NeedKeyframe
    }

    fn complete(&mut self, frame: Frame) -> Assembled {
        if frame.keyframe {
            self.waiting_for_key = false;
            self.asked = false;
            self.stats.keyframes += 1;
        } else if self.waiting_for_key {
            self.stats.skipped += 1;
            return self.ask();
        }
        self.stats.frames += 1;
        Assembled::Frame(frame)
    }

    /// The access unit of a frame's payloads, or `None` if one is malformed.
    fn depacketize(&self, parts: &[Bytes]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        match self.codec {
            VideoCodec::H264 => {
                // One reader per frame: FU-A fragments are joined in it.
                let mut d = H264Packet::default();
                for p in parts {
                    if !h264_payload_ok(p) {
                        return None;
                    }
                    out.extend_from_slice(&d.depacketize(p).ok()?);
                }
            }
            VideoCodec::Vp8 => {
                for (i, p) in parts.iter().enumerate() {
                    // A fresh descriptor reader each time: the crate keeps
                    // the previous packet's extension bits otherwise.
                    let mut d = Vp8Packet::default();
                    let data = d.depacketize(p).ok()?;
                    // The first packet starts partition 0 (S=1, PID=0).
                    if i == 0 && (d.s != 1 || d.pid != 0) {
                        return None;
                    }
                    out.extend_from_slice(&data);
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }

    fn is_keyframe(&self, data: &[u8]) -> bool {
        match self.codec {
            // VP8 frame tag (RFC 6386 §9.1): bit 0 of the first byte is 0
            // for a key frame, whose header goes on with a start code.
            VideoCodec::Vp8 => {
                data.first().is_some_and(|b| b & 1 == 0)
                    && data.get(3..6) == Some(&[0x9d, 0x01, 0x2a][..])
            }
            VideoCodec::H264 => nal_types(data).any(|t| t == 5),
        }
    }
}

/// The NAL unit types of an Annex B stream.
pub fn nal_types(annex_b: &[u8]) -> impl Iterator<Item = u8> + '_ {
    annex_b
        .windows(4)
        .filter(|w| w[..3] == [0, 0, 1])
        .map(|w| w[3] & 0x1f)
}

/// Whether an H.264 RTP payload is one the `rtp` crate reads without
/// running past its end: STAP-A lengths are walked here first.
fn h264_payload_ok(p: &[u8]) -> bool {
    match p.first().map(|b| b & 0x1f) {
        None | Some(0) => false,
        Some(24) => {
            let mut i = 1;
            while i < p.len() {
                let Some(len) = p.get(i..i + 2) else {
                    return false;
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                i += 2 + len;
                if len == 0 || i > p.len() {
                    return false;
                }
            }
            true
        }
        // FU-A: indicator, header and at least one byte.
        Some(28) => p.len() > 2,
        // Single NAL units; STAP-B, MTAPs and FU-B are not mode 1's.
        Some(t) => t <= 23,
    }
}

#[cfg(test)]
mod tests;
