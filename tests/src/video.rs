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
