//! Real encoded video for the muxer tests, made by ffmpeg (libx264 and
//! libvpx, as a peer would send), and ffprobe's view of what we wrote.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use seatphone_capture_core::track::{VideoCodec, VideoFrame};

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("ffmpeg/ffprobe runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `seconds` of testsrc2 at `size` and 25 fps, encoded as a peer would
/// (keyframes every `gop` pictures): the frames in order, pts from 0.
pub fn encoded(codec: VideoCodec, size: (u32, u32), seconds: f64, gop: u32) -> Vec<VideoFrame> {
    let src = format!(
        "testsrc2=size={}x{}:rate=25:duration={seconds}",
        size.0, size.1
    );
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-f", "lavfi", "-i", &src]);
    match codec {
        VideoCodec::H264 => {
            cmd.args([
                "-c:v",
                "libx264",
                "-profile:v",
                "baseline",
                "-pix_fmt",
                "yuv420p",
            ]);
            cmd.args(["-g", &gop.to_string(), "-bf", "0"]);
            cmd.args(["-x264-params", "aud=1:repeat-headers=1", "-f", "h264", "-"]);
            split_annexb(&run(&mut cmd))
        }
        VideoCodec::Vp8 => {
            cmd.args(["-c:v", "libvpx", "-g", &gop.to_string(), "-b:v", "500k"]);
            cmd.args(["-f", "ivf", "-"]);
            split_ivf(&run(&mut cmd))
        }
    }
}

/// Access units of an Annex B stream that has an AUD before each.
fn split_annexb(stream: &[u8]) -> Vec<VideoFrame> {
    let aud = [0u8, 0, 0, 1, 9];
    let starts: Vec<usize> = (0..stream.len().saturating_sub(4))
        .filter(|&i| stream[i..i + 5] == aud)
        .collect();
    let mut frames = Vec::new();
    for (n, &s) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(stream.len());
        let au = stream[s..end].to_vec();
        let keyframe = (0..au.len().saturating_sub(4))
            .any(|i| au[i..i + 3] == [0, 0, 1] && au[i + 3] & 0x1f == 5);
        frames.push(VideoFrame {
            keyframe,
            pts_us: n as u64 * 40_000,
            data: au,
        });
    }
    frames
}

fn split_ivf(file: &[u8]) -> Vec<VideoFrame> {
    let mut at = u16::from_le_bytes([file[6], file[7]]) as usize;
    let mut frames = Vec::new();
    while at + 12 <= file.len() {
        let size = u32::from_le_bytes(file[at..at + 4].try_into().unwrap()) as usize;
        let data = file[at + 12..at + 12 + size].to_vec();
        frames.push(VideoFrame {
            keyframe: data[0] & 1 == 0,
            pts_us: frames.len() as u64 * 40_000,
            data,
        });
        at += 12 + size;
    }
    frames
}

/// What ffprobe says about a file's streams and decoded frames.
#[derive(Debug)]
pub struct Probe {
    pub ok: bool,
    pub stderr: String,
    pub codecs: Vec<String>,
    /// Decoded video frames: (pts in seconds, width, height).
    pub frames: Vec<(f64, u32, u32)>,
    /// The last audio packet's end, in seconds.
    pub audio_end: Option<f64>,
}

impl Probe {
    pub fn video_seconds(&self) -> f64 {
        self.frames.last().map_or(0.0, |f| f.0) - self.frames.first().map_or(0.0, |f| f.0)
    }
}

pub fn probe(path: &Path) -> Probe {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:frame=media_type,pts_time,width,height",
        ])
        .args(["-show_entries", "packet=codec_type,pts_time,duration_time"])
        .args(["-of", "json", "-show_frames", "-show_packets"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let codecs = json["streams"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter_map(|s| s["codec_name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let num = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<f64>().ok());
    let both = json["packets_and_frames"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let frames = Some(&both)
        .map(|f| {
            f.iter()
                .filter(|f| f["type"] == "frame" && f["media_type"] == "video")
                .map(|f| {
                    (
                        num(&f["pts_time"]).unwrap_or(-1.0),
                        f["width"].as_u64().unwrap_or(0) as u32,
                        f["height"].as_u64().unwrap_or(0) as u32,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let audio_end = Some(&both).and_then(|p| {
        p.iter()
            .filter(|p| p["type"] == "packet" && p["codec_type"] == "audio")
            .filter_map(|p| Some(num(&p["pts_time"])? + num(&p["duration_time"]).unwrap_or(0.0)))
            .reduce(f64::max)
    });
    Probe {
        ok: out.status.success(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        codecs,
        frames,
        audio_end,
    }
}

/// The mean volume of a file's sound, in dB (ffmpeg's volumedetect).
pub fn mean_volume(path: &Path) -> f64 {
    volumedetect(path, "volumedetect")
}

/// The mean volume of a file's sound from `from` to `to` seconds, in dB.
pub fn mean_volume_between(path: &Path, from: f64, to: f64) -> f64 {
    volumedetect(path, &format!("atrim={from}:{to},volumedetect"))
}

/// The mean volume ffmpeg's audio `filter` (ending in volumedetect) reports.
fn volumedetect(path: &Path, filter: &str) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "info", "-nostats", "-i"])
        .arg(path)
        .args(["-vn", "-af", filter, "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let log = String::from_utf8_lossy(&out.stderr);
    log.lines()
        .find_map(|l| l.split("mean_volume:").nth(1))
        .and_then(|v| v.trim().trim_end_matches(" dB").parse().ok())
        .unwrap_or(f64::NEG_INFINITY)
}

/// Where a file's sound first rises past `level` (of full scale), in
/// seconds on the file's timeline (the sound's start time and the
/// decoded samples before it).
pub fn sound_onset(path: &Path, level: f64) -> Option<f64> {
    let start = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a", "-of", "csv=p=0"])
        .args(["-show_entries", "stream=start_time"])
        .arg(path));
    let start: f64 = String::from_utf8_lossy(&start).trim().parse().ok()?;
    let pcm = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vn", "-ac", "1", "-ar", "48000", "-f", "s16le", "-"]));
    let threshold = level * 32768.0;
    pcm.chunks_exact(2)
        .position(|b| f64::from(i16::from_le_bytes([b[0], b[1]])).abs() > threshold)
        .map(|i| start + i as f64 / 48_000.0)
}

/// ffmpeg decodes the whole file without a word of error.
pub fn assert_decodes_cleanly(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{path:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
