//! The `[video]` section of the config file (the machine's settings; the
//! page chooses per call what the reference lets it choose).
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `camera` | `"0"` | the first V4L2 camera; an index, a `/dev/video` path, `"test"` (the test pattern), `"black"` or `"file:/x.y4m"` |
//! | `width`, `height` | 640, 480 | what we send (even, 64–1920 × 48–1080) |
//! | `fps` | 25 | frames per second we send (1–60) |
//! | `bitrate` | 800 | kbit/s we send at most (64–8000) |
//! | `codecs` | `["VP8", "H264"]` | offered and accepted, in order of preference |
//! | `openh264_library` | none | Cisco's prebuilt `libopenh264` to use instead of the built-in OpenH264 |
//! | `keyframe_interval` | 10 | a keyframe at least every this many seconds |
//! | `display` | `$DISPLAY` | the X display of the video window |

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::camera::CameraSetting;
use seatphone_media::payload::VideoCodec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoConfig {
    pub camera: CameraSetting,
    pub size: (u32, u32),
    pub fps: u32,
    /// bit/s.
    pub bitrate: u32,
    pub codecs: Vec<VideoCodec>,
    pub openh264_library: Option<PathBuf>,
    pub keyframe_interval: Duration,
    pub display: Option<String>,
}

impl Default for VideoConfig {
    fn default() -> Self {
        VideoConfig {
            camera: CameraSetting::default(),
            size: (640, 480),
            fps: 25,
            bitrate: 800_000,
            codecs: vec![VideoCodec::Vp8, VideoCodec::H264],
            openh264_library: None,
            keyframe_interval: Duration::from_secs(10),
            display: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    camera: Option<toml_like::Camera>,
    width: Option<u32>,
    height: Option<u32>,
    fps: Option<u32>,
    bitrate: Option<u32>,
    codecs: Option<Vec<String>>,
    openh264_library: Option<PathBuf>,
    keyframe_interval: Option<u32>,
    display: Option<String>,
}

mod toml_like {
    use serde::Deserialize;

    /// `camera = 1` or `camera = "test"`.
    #[derive(Deserialize)]
    #[serde(untagged)]
    pub enum Camera {
        Index(u64),
        Text(String),
    }
}

fn within(
    key: &str,
    v: Option<u32>,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, String> {
    let v = v.unwrap_or(default);
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "[video] {key} = {v}: must be {} to {}",
            range.start(),
            range.end()
        ))
    }
}

impl VideoConfig {
    /// The section as the host hands it over (JSON of the TOML table);
    /// `null` or an empty table gives the defaults.
    pub fn from_value(v: &serde_json::Value) -> Result<VideoConfig, String> {
        if v.is_null() {
            return Ok(VideoConfig::default());
        }
        let raw: Raw = serde_json::from_value(v.clone()).map_err(|e| format!("[video]: {e}"))?;
        let d = VideoConfig::default();
        let camera = match raw.camera {
            None => d.camera,
            Some(toml_like::Camera::Index(i)) => CameraSetting::Index(i as usize),
            Some(toml_like::Camera::Text(t)) => t.parse().map_err(|e| format!("[video] {e}"))?,
        };
        let width = within("width", raw.width, d.size.0, 64..=1920)?;
        let height = within("height", raw.height, d.size.1, 48..=1080)?;
        if width % 2 == 1 || height % 2 == 1 {
            return Err(format!(
                "[video] {width}x{height}: width and height must be even"
            ));
        }
        let codecs = match raw.codecs {
            None => d.codecs,
            Some(names) => {
                let mut codecs = Vec::new();
                for n in names {
                    let c = VideoCodec::from_name(&n)
                        .ok_or_else(|| format!("[video] codecs: {n:?} is not VP8 or H264"))?;
                    if !codecs.contains(&c) {
                        codecs.push(c);
                    }
                }
                if codecs.is_empty() {
                    return Err("[video] codecs: name at least one of VP8, H264".into());
                }
                codecs
            }
        };
        Ok(VideoConfig {
            camera,
            size: (width, height),
            fps: within("fps", raw.fps, d.fps, 1..=60)?,
            bitrate: within("bitrate", raw.bitrate, d.bitrate / 1000, 64..=8000)? * 1000,
            codecs,
            openh264_library: raw.openh264_library,
            keyframe_interval: Duration::from_secs(u64::from(within(
                "keyframe_interval",
                raw.keyframe_interval,
                10,
                1..=300,
            )?)),
            display: raw.display,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_every_key() {
        assert_eq!(
            VideoConfig::from_value(&json!(null)).unwrap(),
            VideoConfig::default()
        );
        assert_eq!(
            VideoConfig::from_value(&json!({})).unwrap(),
            VideoConfig::default()
        );
        let c = VideoConfig::from_value(&json!({
            "camera": "test", "width": 320, "height": 240, "fps": 15, "bitrate": 300,
            "codecs": ["h264", "VP8", "H264"], "openh264_library": "/opt/libopenh264.so",
            "keyframe_interval": 2, "display": ":5"
        }))
        .unwrap();
        assert_eq!(c.camera, CameraSetting::Pattern);
        assert_eq!((c.size, c.fps, c.bitrate), ((320, 240), 15, 300_000));
        assert_eq!(c.codecs, [VideoCodec::H264, VideoCodec::Vp8]);
        assert_eq!(c.openh264_library, Some("/opt/libopenh264.so".into()));
        assert_eq!(c.keyframe_interval, Duration::from_secs(2));
        assert_eq!(c.display.as_deref(), Some(":5"));
        assert_eq!(
            VideoConfig::from_value(&json!({"camera": 2}))
                .unwrap()
                .camera,
            CameraSetting::Index(2)
        );
    }

    #[test]
    fn bad_values_are_named() {
        let e = |v| VideoConfig::from_value(&v).unwrap_err();
        assert!(e(json!({"fps": 0})).contains("fps = 0"));
        assert!(e(json!({"width": 641})).contains("even"));
        assert!(e(json!({"codecs": ["VP9"]})).contains("\"VP9\""));
        assert!(e(json!({"codecs": []})).contains("at least one"));
        assert!(e(json!({"camera": "webcam"})).contains("expected an index"));
        assert!(e(json!({"colour": 1})).contains("colour"));
        assert!(e(json!({"bitrate": "fast"})).contains("[video]"));
    }
}
