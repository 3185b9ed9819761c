//! What V4L2 cameras deliver, as I420: packed YUYV (4:2:2) and MJPEG
//! (JPEG's full-range YCbCr, decoded by zune-jpeg).

use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use crate::picture::Picture;

/// YUYV (Y0 U Y1 V per two pixels) to I420: chroma of the two rows of each
/// 2×2 block averaged. Odd sizes lose their last column or row.
pub fn yuyv_to_i420(data: &[u8], width: u32, height: u32) -> Result<Picture, String> {
    let (w, h) = (width as usize, height as usize);
    if data.len() < w * h * 2 {
        return Err(format!(
            "a {width}x{height} YUYV picture has {} bytes, got {}",
            w * h * 2,
            data.len()
        ));
    }
    let (ew, eh) = (w & !1, h & !1);
    let mut out = Vec::with_capacity(ew * eh * 3 / 2);
    for row in 0..eh {
        let line = &data[row * w * 2..];
        out.extend((0..ew).map(|x| line[x * 2]));
    }
    for plane in [1usize, 3] {
        for row in (0..eh).step_by(2) {
            let (a, b) = (&data[row * w * 2..], &data[(row + 1) * w * 2..]);
            out.extend((0..ew / 2).map(|cx| {
                let i = cx * 4 + plane;
                (u16::from(a[i]) + u16::from(b[i])).div_ceil(2) as u8
            }));
        }
    }
    Picture::from_i420(ew as u32, eh as u32, out)
}

/// A JPEG (a V4L2 MJPEG frame) to I420, full range mapped to limited.
pub fn mjpeg_to_i420(data: &[u8]) -> Result<Picture, String> {
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::YCbCr);
    let mut d = JpegDecoder::new_with_options(data, options);
    let ycc = d.decode().map_err(|e| format!("MJPEG frame: {e:?}"))?;
    let info = d.info().ok_or("MJPEG frame without a size")?;
    let (w, h) = (usize::from(info.width), usize::from(info.height));
    let channels = ycc.len() / (w * h).max(1);
    if channels < 3 || w < 2 || h < 2 {
        return Err(format!("MJPEG frame {w}x{h} in {channels} channels"));
    }
    let (ew, eh) = (w & !1, h & !1);
    let luma = |v: u8| (16 + u32::from(v) * 219 / 255) as u8;
    let chroma = |v: u32| (128 + (v as i32 - 128) * 224 / 255) as u8;
    let px = |x: usize, y: usize, c: usize| u32::from(ycc[(y * w + x) * channels + c]);
    let mut out = Vec::with_capacity(ew * eh * 3 / 2);
    for y in 0..eh {
        out.extend((0..ew).map(|x| luma(ycc[(y * w + x) * channels])));
    }
    for c in [1, 2] {
        for y in (0..eh).step_by(2) {
            out.extend((0..ew).step_by(2).map(|x| {
                chroma(
                    (px(x, y, c) + px(x + 1, y, c) + px(x, y + 1, c) + px(x + 1, y + 1, c) + 2) / 4,
                )
            }));
        }
    }
    Picture::from_i420(ew as u32, eh as u32, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_becomes_i420() {
        // 4×2: left half (Y 50, U 60, V 70), right half (Y 200, U 90, V 100).
        let row = [50, 60, 50, 70, 200, 90, 200, 100];
        let data = [row, row].concat();
        let p = yuyv_to_i420(&data, 4, 2).unwrap();
        assert_eq!(p.yuv(0, 0), (50, 60, 70));
        assert_eq!(p.yuv(3, 1), (200, 90, 100));
        assert!(yuyv_to_i420(&data[..10], 4, 2).is_err());
    }

    /// A JPEG of solid colour bars made by ffmpeg comes out with the bars'
    /// colours in limited range.
    #[test]
    fn mjpeg_becomes_i420() {
        let dir = std::env::temp_dir().join(format!("seatphone-mjpeg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bars.jpg");
        let ok = std::process::Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg("color=c=0xff0000:s=64x48")
            .args(["-frames:v", "1", "-q:v", "2"])
            .arg(&path)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "ffmpeg made no JPEG");
        let jpeg = std::fs::read(&path).unwrap();
        let p = mjpeg_to_i420(&jpeg).unwrap();
        assert_eq!((p.width, p.height), (64, 48));
        let (y, u, v) = p.yuv(32, 24);
        // Red in BT.601 limited range: Y 81, U 90, V 240.
        assert!(
            y.abs_diff(81) < 8 && u.abs_diff(90) < 8 && v.abs_diff(240) < 8,
            "{:?}",
            (y, u, v)
        );
        assert!(mjpeg_to_i420(&jpeg[..100]).is_err());
        assert!(mjpeg_to_i420(b"not a jpeg").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
