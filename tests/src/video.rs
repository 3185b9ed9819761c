//! What the video and share tests look at: an Xvfb screen of their own
//! (`crate::xvfb`), and the pictures baresip receives (its
//! `snapshot` module's PNGs, read back through ffmpeg).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use seatphone_video_core::camera::pattern::read_stamp_luma;

use crate::peers::baresip::Baresip;

pub use crate::xvfb::Xvfb;

/// A PNG's pixels at `w`×`h` in ffmpeg's `pix_fmt` (`gray`: one byte a
/// pixel, `rgb24`: three).
pub fn png_pixels(png: &Path, (w, h): (u32, u32), pix_fmt: &str) -> Option<Vec<u8>> {
    let bytes = if pix_fmt == "rgb24" { 3 } else { 1 };
    let out = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(png)
        .args([
            "-vf",
            &format!("scale={w}:{h}"),
            "-f",
            "rawvideo",
            "-pix_fmt",
            pix_fmt,
            "-",
        ])
        .output()
        .ok()?;
    (out.stdout.len() == (w * h) as usize * bytes).then_some(out.stdout)
}

/// Asks baresip for snapshots of what it receives until `done` says yes
/// to one (at 320×240 in `pix_fmt`), or 20 s.
pub fn peer_snapshot_in_until(peer: &Baresip, pix_fmt: &str, done: impl Fn(&[u8]) -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let path = std::env::temp_dir().join(format!("sb{}-{n}.png", std::process::id()));
        peer.command("snapshot_recv", path.to_str().unwrap());
        std::thread::sleep(Duration::from_millis(500));
        if let Some(g) = png_pixels(&path, (320, 240), pix_fmt) {
            let _ = std::fs::remove_file(&path);
            if done(&g) {
                return true;
            }
        }
    }
    false
}

/// [`peer_snapshot_in_until`] in grey.
pub fn peer_snapshot_until(peer: &Baresip, done: impl Fn(&[u8]) -> bool) -> bool {
    peer_snapshot_in_until(peer, "gray", done)
}

/// Asks baresip for snapshots of what it receives until one carries our
/// test pattern's stamp; returns the stamp's counter.
pub fn peer_sees_our_pattern(peer: &Baresip) -> Option<u32> {
    let seen = std::cell::Cell::new(None);
    peer_snapshot_until(peer, |g| {
        seen.set(read_stamp_luma(320, 240, |x, y| g[y * 320 + x]).map(|s| s.counter));
        seen.get().is_some()
    });
    seen.get()
}

/// ffmpeg receiving one RTP video stream (an SDP file of its own, no SIP):
/// every picture it decodes, scaled to 320×240 in `pix_fmt`, appended to
/// a file the test reads the latest picture from. A stand-in for a peer
/// that takes a stream baresip does not (the slides).
pub struct RtpVideoReceiver {
    pub port: u16,
    pix_fmt: &'static str,
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl RtpVideoReceiver {
    /// Listens on `port` (RTP; RTCP on `port + 1`) for `codec`
    /// (`VP8/90000` as in an rtpmap) with payload type `pt`.
    pub fn start(port: u16, pt: u8, codec: &str, pix_fmt: &'static str) -> RtpVideoReceiver {
        let dir = tempfile::Builder::new()
            .prefix("seatphone-rtp-rx")
            .tempdir()
            .expect("temp dir");
        let sdp = dir.path().join("in.sdp");
        std::fs::write(
            &sdp,
            format!(
                "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=rx\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=video {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {codec}\r\n"
            ),
        )
        .expect("sdp file");
        let log = std::fs::File::create(dir.path().join("ffmpeg.log")).expect("log");
        let child = Command::new("ffmpeg")
            .current_dir(dir.path())
            .args(["-nostdin", "-loglevel", "warning"])
            .args(["-protocol_whitelist", "file,udp,rtp"])
            // A still shared screen sends about one picture a second:
            // no probing for a frame rate, and each picture as it comes.
            .args(["-probesize", "32", "-analyzeduration", "0"])
            .args(["-fflags", "+discardcorrupt", "-i", "in.sdp"])
            .args(["-vf", "scale=320:240", "-fps_mode", "passthrough"])
            .args(["-flush_packets", "1", "-f", "rawvideo"])
            .args(["-pix_fmt", pix_fmt, "-y", "frames.raw"])
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("ffmpeg (scripts/install-deps.sh installs it)");
        RtpVideoReceiver {
            port,
            pix_fmt,
            child,
            dir,
        }
    }

    fn frame_bytes(&self) -> usize {
        320 * 240 * if self.pix_fmt == "rgb24" { 3 } else { 1 }
    }

    /// Pictures decoded so far.
    pub fn frames(&self) -> usize {
        std::fs::metadata(self.dir.path().join("frames.raw"))
            .map(|m| m.len() as usize / self.frame_bytes())
            .unwrap_or(0)
    }

    /// The latest picture decoded, if any.
    pub fn latest(&self) -> Option<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let n = self.frames();
        if n == 0 {
            return None;
        }
        let size = self.frame_bytes();
        let mut f = std::fs::File::open(self.dir.path().join("frames.raw")).ok()?;
        f.seek(SeekFrom::Start(((n - 1) * size) as u64)).ok()?;
        let mut picture = vec![0; size];
        f.read_exact(&mut picture).ok()?;
        Some(picture)
    }

    /// Waits up to `within` for a picture that `done` says yes to.
    pub fn until(&self, within: Duration, done: impl Fn(&[u8]) -> bool) -> bool {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if self.latest().is_some_and(|p| done(&p)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// ffmpeg's own words, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ffmpeg.log")).unwrap_or_default()
    }
}

impl Drop for RtpVideoReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
