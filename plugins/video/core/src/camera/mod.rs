//! Where the pictures we send come from: `[video] camera` names a V4L2
//! camera (by index in `getMediaDevices(2)`'s list, or by path), the
//! built-in test pattern (`test`), a looped Y4M file (`file:/x.y4m`) or
//! `black`. A camera that cannot be opened leaves the call with black
//! pictures and the reason for the log.

mod convert;
pub mod pattern;
pub mod v4l2;
mod y4m;

use std::path::PathBuf;

use crate::picture::{Picture, BLACK};
pub use pattern::{read_stamp, Stamp, TestPattern};
pub use v4l2::CameraInfo;

/// What `[video] camera` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraSetting {
    /// The n-th V4L2 camera (0 = the first, the default).
    Index(usize),
    /// A V4L2 device node.
    Device(PathBuf),
    /// The built-in moving colour bars.
    Pattern,
    /// A Y4M file, looped.
    File(PathBuf),
    Black,
}

impl Default for CameraSetting {
    fn default() -> Self {
        CameraSetting::Index(0)
    }
}

impl std::str::FromStr for CameraSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        Ok(match s {
            "test" | "pattern" => CameraSetting::Pattern,
            "black" => CameraSetting::Black,
            _ if s.starts_with("file:") && s.len() > 5 => CameraSetting::File(s[5..].into()),
            _ if s.starts_with("/dev/") => CameraSetting::Device(s.into()),
            _ => CameraSetting::Index(s.parse().map_err(|_| {
                format!(
                    "camera {s:?}: expected an index (0 = first camera), a /dev/video path, \"test\", \"black\" or \"file:/path.y4m\""
                )
            })?),
        })
    }
}

/// An open picture source.
pub enum Camera {
    Pattern(TestPattern),
    File(y4m::Y4mCamera),
    V4l2(Box<v4l2::V4l2Camera>),
    Black(Picture),
}

impl Camera {
    /// Opens what `setting` asks at about `width`×`height`; a camera that
    /// cannot be opened gives black pictures of that size and the reason.
    pub fn open(setting: &CameraSetting, width: u32, height: u32) -> (Camera, Option<String>) {
        let opened = match setting {
            CameraSetting::Pattern => Ok(Camera::Pattern(TestPattern::new(width, height))),
            CameraSetting::Black => Ok(Camera::black(width, height)),
            CameraSetting::File(path) => y4m::Y4mCamera::open(path).map(Camera::File),
            CameraSetting::Device(path) => {
                v4l2::V4l2Camera::open(path, width, height).map(|c| Camera::V4l2(Box::new(c)))
            }
            CameraSetting::Index(i) => match v4l2::list().into_iter().nth(*i) {
                Some(info) => v4l2::V4l2Camera::open(&info.path, width, height)
                    .map(|c| Camera::V4l2(Box::new(c))),
                None => Err(format!("no camera {i} (V4L2 lists {})", v4l2::list().len())),
            },
        };
        match opened {
            Ok(camera) => (camera, None),
            Err(why) => (
                Camera::black(width, height),
                Some(format!("{why}: sending black pictures")),
            ),
        }
    }

    fn black(width: u32, height: u32) -> Camera {
        Camera::Black(Picture::filled(width.max(2), height.max(2), BLACK))
    }

    /// The next picture; `unix_ms` stamps the test pattern's. An error
    /// means the camera stopped (unplugged): the caller logs it and opens
    /// black instead.
    pub fn next_picture(&mut self, unix_ms: u64) -> Result<Picture, String> {
        match self {
            Camera::Pattern(p) => Ok(p.next_picture(unix_ms)),
            Camera::File(f) => f.next_picture(),
            Camera::V4l2(c) => c.next_picture(),
            Camera::Black(p) => Ok(p.clone()),
        }
    }
}

/// The cameras `getMediaDevices(2)` lists.
pub fn list() -> Vec<CameraInfo> {
    v4l2::list()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse() {
        let p = |s: &str| s.parse::<CameraSetting>();
        assert_eq!(p("test"), Ok(CameraSetting::Pattern));
        assert_eq!(p(" 1 "), Ok(CameraSetting::Index(1)));
        assert_eq!(
            p("file:/a/b.y4m"),
            Ok(CameraSetting::File("/a/b.y4m".into()))
        );
        assert_eq!(
            p("/dev/video2"),
            Ok(CameraSetting::Device("/dev/video2".into()))
        );
        assert_eq!(p("black"), Ok(CameraSetting::Black));
        assert!(p("webcam").unwrap_err().contains("expected an index"));
        assert!(p("file:").is_err());
    }

    /// A camera that is not there (none exists on this machine) leaves
    /// black pictures of the size asked, and says why.
    #[test]
    fn a_missing_camera_gives_black_and_a_reason() {
        if std::path::Path::new("/dev/video0").exists() {
            return;
        }
        let (mut cam, why) = Camera::open(&CameraSetting::Index(0), 640, 480);
        let why = why.expect("a reason");
        assert!(
            why.contains("no camera 0") && why.contains("black"),
            "{why}"
        );
        let p = cam.next_picture(0).unwrap();
        assert_eq!((p.width, p.height, p.yuv(320, 240)), (640, 480, BLACK));
        let (_, why) = Camera::open(&CameraSetting::File("/nonexistent.y4m".into()), 320, 240);
        assert!(why.unwrap().contains("cannot open /nonexistent.y4m"));
    }

    #[test]
    fn the_pattern_camera_stamps_its_pictures() {
        let (mut cam, why) = Camera::open(&CameraSetting::Pattern, 320, 240);
        assert!(why.is_none());
        cam.next_picture(5).unwrap();
        let p = cam.next_picture(77).unwrap();
        assert_eq!(
            read_stamp(&p),
            Some(Stamp {
                counter: 1,
                unix_ms: 77
            })
        );
    }
}
