//! The video figures' callee, the same for both phones: SIPp registered
//! at Kamailio answers the call and echoes the audio (as for figures 3 and
//! 4), and its answer names this mirror for the video: a UDP port pair of
//! the driver's that sends each RTP packet back to where it came from and
//! counts what it got (bytes, pictures by the RTP marker bit, the picture
//! size of VP8 keyframes and H.264 sequence parameter sets). So the callee sees what each phone really sends,
//! and each phone decodes its own pictures coming back, as it would the
//! far end's. RTCP is read and dropped (SIPp echoes none for audio either).

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use seatphone_tests::measure::BenchSipp;
use seatphone_tests::peers::free_port;

use crate::calls::{callee_as, Kam};

const VIDEO_CALLEE_XML: &str = include_str!("../sipp/video_callee.xml");
const VIDEO_CALLEE_H264_XML: &str = include_str!("../sipp/video_callee_h264.xml");

/// The video codec of the calls a callee answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    #[default]
    Vp8,
    H264,
}

/// What the mirror got so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub packets: u64,
    /// RTP packets' bytes (header and payload; no UDP/IP).
    pub bytes: u64,
    /// Pictures: packets with the marker bit.
    pub pictures: u64,
    pub keyframes: u64,
    /// The size the last keyframe (VP8) or sequence parameter set
    /// (H.264) gave.
    pub size: Option<(u16, u16)>,
    pub rtcp_packets: u64,
    /// How the payload is read.
    pub codec: Codec,
}

/// What was sent between two [`Counts`] `dt` apart.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub fps: f64,
    pub kbps: f64,
    pub size: Option<(u16, u16)>,
}

impl Counts {
    pub fn since(&self, before: &Counts, dt: Duration) -> Rate {
        let s = dt.as_secs_f64().max(1e-3);
        Rate {
            fps: (self.pictures - before.pictures) as f64 / s,
            kbps: (self.bytes - before.bytes) as f64 * 8.0 / s / 1000.0,
            size: self.size,
        }
    }
}

pub struct Mirror {
    /// The RTP port (RTCP on the next).
    pub port: u16,
    counts: Arc<Mutex<Counts>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Mirror {
    pub fn start() -> std::io::Result<Mirror> {
        let port = free_port(2);
        let rtp = UdpSocket::bind(("127.0.0.1", port))?;
        let rtcp = UdpSocket::bind(("127.0.0.1", port + 1))?;
        for s in [&rtp, &rtcp] {
            s.set_read_timeout(Some(Duration::from_millis(100)))?;
        }
        let counts = Arc::new(Mutex::new(Counts::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, halt) = (counts.clone(), stop.clone());
        let echo = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !halt.load(Ordering::Relaxed) {
                let Ok((n, from)) = rtp.recv_from(&mut buf) else {
                    continue;
                };
                let _ = rtp.send_to(&buf[..n], from);
                let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
                count(&mut c, &buf[..n]);
            }
        });
        let (c, halt) = (counts.clone(), stop.clone());
        let drain = std::thread::spawn(move || {
            let mut buf = vec![0u8; 2048];
            while !halt.load(Ordering::Relaxed) {
                if rtcp.recv_from(&mut buf).is_ok() {
                    c.lock().unwrap_or_else(|e| e.into_inner()).rtcp_packets += 1;
                }
            }
        });
        Ok(Mirror {
            port,
            counts,
            stop,
            threads: vec![echo, drain],
        })
    }

    pub fn counts(&self) -> Counts {
        *self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets what earlier calls sent; the next call sends `codec`.
    pub fn reset(&self, codec: Codec) {
        *self.counts.lock().unwrap_or_else(|e| e.into_inner()) = Counts {
            codec,
            ..Counts::default()
        };
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn count(c: &mut Counts, packet: &[u8]) {
    let Some((marker, payload)) = rtp_payload(packet) else {
        return;
    };
    c.packets += 1;
    c.bytes += packet.len() as u64;
    if marker {
        c.pictures += 1;
    }
    let size = match c.codec {
        Codec::Vp8 => vp8_keyframe_size(payload),
        Codec::H264 => h264_sps_size(payload),
    };
    if let Some(size) = size {
        c.keyframes += 1;
        c.size = Some(size);
    }
}

/// The marker bit and payload of an RTP packet (RFC 3550 §5.1).
fn rtp_payload(p: &[u8]) -> Option<(bool, &[u8])> {
    if p.len() < 12 || p[0] >> 6 != 2 {
        return None;
    }
    let marker = p[1] & 0x80 != 0;
    let mut at = 12 + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        let ext = p.get(at + 2..at + 4)?;
        at += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    let mut end = p.len();
    if p[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*p.last()?))?;
    }
    Some((marker, p.get(at..end)?))
}

/// The width and height of a VP8 keyframe whose first packet this is
/// (RFC 7741 §4.2 payload descriptor, then RFC 6386 §9.1 frame header).
fn vp8_keyframe_size(p: &[u8]) -> Option<(u16, u16)> {
    let b0 = *p.first()?;
    let mut at = 1;
    if b0 & 0x80 != 0 {
        let x = *p.get(at)?;
        at += 1;
        if x & 0x80 != 0 {
            at += if *p.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1;
        }
        if x & 0x30 != 0 {
            at += 1;
        }
    }
    // Only the start of partition 0 carries the frame header.
    if b0 & 0x10 == 0 || b0 & 0x07 != 0 {
        return None;
    }
    let h = p.get(at..at + 10)?;
    if h[0] & 1 != 0 || h[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u16::from_le_bytes([h[6], h[7]]) & 0x3fff;
    let ht = u16::from_le_bytes([h[8], h[9]]) & 0x3fff;
    Some((w, ht))
}

/// A SIPp callee registered as `user` that echoes audio and names `mirror`
/// for video, answering `codec` calls (bench/sipp/video_callee*.xml).
pub async fn video_callee(
    kam: Kam,
    user: &str,
    mirror: &Mirror,
    codec: Codec,
) -> Result<BenchSipp, String> {
    let args = ["-key", "video_port", &mirror.port.to_string()].map(String::from);
    let scenario = match codec {
        Codec::Vp8 => ("video_callee.xml", VIDEO_CALLEE_XML),
        Codec::H264 => ("video_callee_h264.xml", VIDEO_CALLEE_H264_XML),
    };
    callee_as(kam, user, scenario, &args).await
}

/// A [`Mirror`] and a VP8 [`video_callee`] naming it: a video figure's
/// callee.
pub async fn mirrored_callee(kam: Kam, user: &str) -> Result<(Mirror, BenchSipp), String> {
    let mirror = Mirror::start().map_err(|e| format!("mirror: {e}"))?;
    let callee = video_callee(kam, user, &mirror, Codec::Vp8).await?;
    Ok((mirror, callee))
}

/// Whether `rate` is what was asked of the sender, as a warning if not.
pub fn check_rate(who: &str, rate: &Rate, size: (u16, u16), fps: f64) -> Option<String> {
    let ok_size = rate.size == Some(size);
    let ok_fps = rate.fps >= fps * 0.9 && rate.fps <= fps * 1.1;
    (!(ok_size && ok_fps)).then(|| {
        format!(
            "{who} sent {:.1} pictures/s of {} to the callee, not {fps} of {}x{}",
            rate.fps,
            rate.size
                .map(|(w, h)| format!("{w}x{h}"))
                .unwrap_or_else(|| "no keyframe".into()),
            size.0,
            size.1
        )
    })
}

/// The width and height an H.264 sequence parameter set gives, if this
/// payload (RFC 6184: a single NAL unit or a STAP-A) carries one.
fn h264_sps_size(p: &[u8]) -> Option<(u16, u16)> {
    match p.first()? & 0x1f {
        7 => sps_size(&p[1..]),
        24 => {
            // STAP-A: 16-bit sizes, each before its NAL unit.
            let mut at = 1;
            while let Some(len) = p.get(at..at + 2) {
                let n = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let nal = p.get(at + 2..at + 2 + n)?;
                if nal.first().is_some_and(|b| b & 0x1f == 7) {
                    return sps_size(&nal[1..]);
                }
                at += 2 + n;
            }
            None
        }
        _ => None,
    }
}

/// Reads bits of an RBSP (emulation prevention bytes removed).
struct Bits {
    data: Vec<u8>,
    at: usize,
}

impl Bits {
    fn new(escaped: &[u8]) -> Bits {
        let mut data = Vec::with_capacity(escaped.len());
        let mut zeros = 0;
        for &b in escaped {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            data.push(b);
        }
        Bits { data, at: 0 }
    }

    fn bit(&mut self) -> Option<u32> {
        let b = self.data.get(self.at / 8)? >> (7 - self.at % 8) & 1;
        self.at += 1;
        Some(u32::from(b))
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0, |v, _| Some(v << 1 | self.bit()?))
    }

    /// Exp-Golomb, unsigned (H.264 §9.1).
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }
}

/// The picture size of a sequence parameter set (H.264 §7.3.2.1.1), after
/// its NAL header byte.
fn sps_size(rbsp: &[u8]) -> Option<(u16, u16)> {
    let mut b = Bits::new(rbsp);
    let profile = b.bits(8)?;
    b.bits(16)?; // constraint flags, level
    b.ue()?; // seq_parameter_set_id
    if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].contains(&profile) {
        if b.ue()? == 3 {
            b.bit()?;
        }
        b.ue()?;
        b.ue()?;
        b.bit()?;
        if b.bit()? == 1 {
            return None; // scaling matrices: not sent by either phone
        }
    }
    b.ue()?; // log2_max_frame_num_minus4
    match b.ue()? {
        0 => {
            b.ue()?;
        }
        1 => {
            b.bit()?;
            b.ue()?; // offsets are signed, but only skipped here
            b.ue()?;
            for _ in 0..b.ue()? {
                b.ue()?;
            }
        }
        _ => {}
    }
    b.ue()?; // max_num_ref_frames
    b.bit()?;
    let w_mbs = b.ue()? + 1;
    let h_units = b.ue()? + 1;
    let frame_mbs_only = b.bit()?;
    if frame_mbs_only == 0 {
        b.bit()?;
    }
    b.bit()?; // direct_8x8_inference
    let (mut l, mut r, mut t, mut bo) = (0, 0, 0, 0);
    if b.bit()? == 1 {
        (l, r, t, bo) = (b.ue()?, b.ue()?, b.ue()?, b.ue()?);
    }
    let rows = 2 - frame_mbs_only;
    let w = (w_mbs * 16).checked_sub(2 * (l + r))?;
    let h = (rows * h_units * 16).checked_sub(2 * rows * (t + bo))?;
    Some((u16::try_from(w).ok()?, u16::try_from(h).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vp8_keyframe_gives_its_size() {
        // Descriptor with X, I (15-bit picture id), S, PID 0; then a
        // keyframe tag, start code, 640 and 480.
        let p = [
            0x90, 0x80, 0x81, 0x23, 0x50, 0x2a, 0x01, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01,
        ];
        assert_eq!(vp8_keyframe_size(&p), Some((640, 480)));
        let mut inter = p;
        inter[4] |= 1;
        assert_eq!(vp8_keyframe_size(&inter), None);
        let mut later = p;
        later[0] = 0x80;
        assert_eq!(vp8_keyframe_size(&later), None, "not the partition's start");
    }

    #[test]
    fn an_h264_sps_gives_its_size() {
        // Constrained baseline 3.1, 640x480 (40x30 macroblocks); and
        // 1280x720 (80x45), both as x264 writes them.
        let vga = [0x67, 0x42, 0xc0, 0x1f, 0xda, 0x02, 0x80, 0xf6, 0x40];
        assert_eq!(h264_sps_size(&vga), Some((640, 480)));
        let hd = [0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe4];
        assert_eq!(h264_sps_size(&hd), Some((1280, 720)));
        // The same SPS in a STAP-A, after a one-byte NAL unit.
        let mut stap = vec![0x78, 0, 1, 0x09];
        stap.extend([0, vga.len() as u8]);
        stap.extend(vga);
        assert_eq!(h264_sps_size(&stap), Some((640, 480)));
        // 1920x1080: 68 rows of macroblocks, 8 lines cropped (an
        // emulation prevention byte in it).
        let full_hd = [0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0xe0, 0x08, 0x9f, 0x95];
        assert_eq!(h264_sps_size(&full_hd), Some((1920, 1080)));
        assert_eq!(h264_sps_size(&[0x65, 0x88]), None, "an IDR slice");
    }

    #[test]
    fn rtp_payload_skips_csrcs_and_extension() {
        let mut p = vec![0x91, 0xe0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2];
        p.extend([0, 0, 0, 3]); // one CSRC
        p.extend([0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // a one-word extension
        p.extend([9, 9]);
        assert_eq!(rtp_payload(&p), Some((true, &[9u8, 9][..])));
        assert_eq!(rtp_payload(&[0u8; 12]), None, "not version 2");
    }
}
