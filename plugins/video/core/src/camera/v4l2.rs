//! Linux cameras through V4L2 (the `v4l` crate): listing, and capture in
//! MJPEG or YUYV, whichever the camera offers at the size asked.

use std::path::{Path, PathBuf};
use std::time::Duration;

use v4l::buffer::Type;
use v4l::io::traits::CaptureStream;
use v4l::prelude::*;
use v4l::video::Capture;
use v4l::FourCC;

use super::convert::{mjpeg_to_i420, yuyv_to_i420};
use crate::picture::Picture;

/// A camera as `getMediaDevices(2)` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraInfo {
    pub index: usize,
    pub name: String,
    pub path: PathBuf,
}

/// The video capture devices under `/dev` (metadata and output nodes left
/// out), in the kernel's order. Nothing is opened for longer than a query.
pub fn list() -> Vec<CameraInfo> {
    list_nodes(
        v4l::context::enum_devices()
            .iter()
            .map(|n| n.path().to_owned()),
    )
}

fn list_nodes(paths: impl Iterator<Item = PathBuf>) -> Vec<CameraInfo> {
    let mut paths: Vec<PathBuf> = paths.collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let dev = Device::with_path(&path).ok()?;
            let caps = dev.query_caps().ok()?;
            caps.capabilities
                .contains(v4l::capability::Flags::VIDEO_CAPTURE)
                .then_some((path, caps.card))
        })
        .enumerate()
        .map(|(index, (path, name))| CameraInfo { index, name, path })
        .collect()
}

const MJPG: FourCC = FourCC { repr: *b"MJPG" };
const YUYV: FourCC = FourCC { repr: *b"YUYV" };

pub struct V4l2Camera {
    stream: MmapStream<'static>,
    fourcc: FourCC,
    width: u32,
    height: u32,
    /// Kept open for as long as the stream runs.
    _dev: Device,
}

impl V4l2Camera {
    pub fn open(path: &Path, width: u32, height: u32) -> Result<V4l2Camera, String> {
        let shown = path.display();
        let dev =
            Device::with_path(path).map_err(|e| format!("cannot open camera {shown}: {e}"))?;
        let offered: Vec<FourCC> = dev
            .enum_formats()
            .map_err(|e| format!("camera {shown} lists no formats: {e}"))?
            .into_iter()
            .map(|f| f.fourcc)
            .collect();
        let fourcc = [MJPG, YUYV]
            .into_iter()
            .find(|f| offered.contains(f))
            .ok_or_else(|| format!("camera {shown} offers neither MJPEG nor YUYV ({offered:?})"))?;
        let mut fmt = dev.format().map_err(|e| format!("camera {shown}: {e}"))?;
        (fmt.width, fmt.height, fmt.fourcc) = (width, height, fourcc);
        let fmt = dev
            .set_format(&fmt)
            .map_err(|e| format!("camera {shown} refused {width}x{height}: {e}"))?;
        let mut stream = MmapStream::with_buffers(&dev, Type::VideoCapture, 4)
            .map_err(|e| format!("camera {shown} does not stream: {e}"))?;
        stream.set_timeout(Duration::from_secs(2));
        Ok(V4l2Camera {
            stream,
            fourcc: fmt.fourcc,
            width: fmt.width,
            height: fmt.height,
            _dev: dev,
        })
    }

    /// The camera's next picture (waits up to 2 s for it).
    pub fn next_picture(&mut self) -> Result<Picture, String> {
        let (buf, meta) = self
            .stream
            .next()
            .map_err(|e| format!("camera stopped: {e}"))?;
        let data = &buf[..(meta.bytesused as usize).min(buf.len())];
        if self.fourcc == MJPG {
            mjpeg_to_i420(data)
        } else {
            yuyv_to_i420(data, self.width, self.height)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No camera on this machine (and none can be made): listing finds
    /// none, and a node that is no camera is left out, not an error.
    #[test]
    fn no_camera_lists_empty_and_opening_one_says_why() {
        let none = list_nodes(["/dev/null".into(), "/nonexistent/video0".into()].into_iter());
        assert!(none.is_empty());
        if std::path::Path::new("/dev/video0").exists() {
            return; // a machine with a camera: nothing more to check here
        }
        assert!(list().is_empty());
        let e = V4l2Camera::open(Path::new("/dev/video0"), 640, 480)
            .err()
            .unwrap();
        assert!(e.contains("cannot open camera /dev/video0"), "{e}");
    }
}
