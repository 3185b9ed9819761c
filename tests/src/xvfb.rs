//! An X server of a test's own (Xvfb, 800×600 unless asked otherwise), for
//! the video window, and what it shows.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command as Process, Stdio};

pub struct Xvfb {
    child: Child,
    pub display: String,
    /// The screen's width and height.
    pub size: (u32, u32),
}

impl Xvfb {
    pub fn start() -> Xvfb {
        Xvfb::start_sized(800, 600)
    }

    /// A screen of `width`×`height` (24-bit colour).
    pub fn start_sized(width: u32, height: u32) -> Xvfb {
        let mut child = Process::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                &format!("{width}x{height}x24"),
                "-wr",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let display = format!(":{}", line.trim());
        Xvfb {
            child,
            display,
            size: (width, height),
        }
    }

    /// The screen as RGB bytes (800×600 for [`Xvfb::start`]'s screen),
    /// without the mouse pointer.
    pub fn grab(&self) -> Vec<u8> {
        let out = Process::new("ffmpeg")
            .args([
                "-loglevel",
                "error",
                "-f",
                "x11grab",
                "-draw_mouse",
                "0",
                "-video_size",
                &format!("{}x{}", self.size.0, self.size.1),
                "-i",
            ])
            .arg(&self.display)
            .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .output()
            .expect("ffmpeg x11grab");
        assert_eq!(
            out.stdout.len(),
            (self.size.0 * self.size.1 * 3) as usize,
            "grab: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pixels of a screen rectangle.
pub fn region(screen: &[u8], (x, y, w, h): (usize, usize, usize, usize)) -> Vec<[u8; 3]> {
    (y..y + h)
        .flat_map(|row| (x..x + w).map(move |col| (row, col)))
        .map(|(row, col)| {
            let i = (row * 800 + col) * 3;
            [screen[i], screen[i + 1], screen[i + 2]]
        })
        .collect()
}
