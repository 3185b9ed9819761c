//! One decoded picture of the remote video as a PNG, at its own size.
//!
//! Pictures on the frame bus are I420 in BT.601 limited range (Y 16–235,
//! U/V 16–240), as cameras and decoders deliver them; a PNG is full-range
//! RGB, so the levels are expanded here.

/// A decoded picture: Y plane `width*height`, then U and V at half
/// resolution (rounded up for odd sizes), rows packed.
#[derive(Clone, PartialEq, Eq)]
pub struct I420 {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for I420 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "I420({}x{})", self.width, self.height)
    }
}

fn chroma_size(width: u32, height: u32) -> (usize, usize) {
    (width.div_ceil(2) as usize, height.div_ceil(2) as usize)
}

impl I420 {
    /// Takes packed I420 bytes, checking that they make a picture.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Result<I420, String> {
        if width == 0 || height == 0 || width > 16384 || height > 16384 {
            return Err(format!("a {width}x{height} picture cannot be saved"));
        }
        let (cw, ch) = chroma_size(width, height);
        let want = width as usize * height as usize + 2 * cw * ch;
        if data.len() != want {
            return Err(format!(
                "not a {width}x{height} I420 picture ({} bytes, {want} expected)",
                data.len()
            ));
        }
        Ok(I420 {
            width,
            height,
            data,
        })
    }

    /// Full-range RGB, three bytes a pixel, rows packed.
    pub fn to_rgb(&self) -> Vec<u8> {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = chroma_size(self.width, self.height);
        let (luma, chroma) = self.data.split_at(w * h);
        let (u_plane, v_plane) = chroma.split_at(cw * ch);
        let mut rgb = Vec::with_capacity(w * h * 3);
        for row in 0..h {
            let luma_row = &luma[row * w..(row + 1) * w];
            let chroma_row = (row / 2) * cw;
            for (col, &y) in luma_row.iter().enumerate() {
                let at = chroma_row + col / 2;
                rgb.extend_from_slice(&limited_to_rgb(y, u_plane[at], v_plane[at]));
            }
        }
        rgb
    }
}

/// BT.601 limited range to full-range RGB, in 8.8 fixed point.
fn limited_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let luma = 298 * (i32::from(y) - 16) + 128;
    let (cb, cr) = (i32::from(u) - 128, i32::from(v) - 128);
    let to_byte = |x: i32| (x >> 8).clamp(0, 255) as u8;
    [
        to_byte(luma + 409 * cr),
        to_byte(luma - 100 * cb - 208 * cr),
        to_byte(luma + 516 * cb),
    ]
}

/// The picture as a PNG file's bytes.
pub fn png(picture: &I420) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, picture.width, picture.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder
        .write_header()
        .map_err(|e| format!("PNG header: {e}"))?;
    writer
        .write_image_data(&picture.to_rgb())
        .map_err(|e| format!("PNG data: {e}"))?;
    writer.finish().map_err(|e| format!("PNG end: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture whose left half is one colour and right half another.
    fn halves(w: u32, h: u32, left: (u8, u8, u8), right: (u8, u8, u8)) -> I420 {
        let (cw, ch) = chroma_size(w, h);
        let mut data = Vec::new();
        for _ in 0..h {
            for x in 0..w {
                data.push(if x < w / 2 { left.0 } else { right.0 });
            }
        }
        for plane in [1, 2] {
            for _ in 0..ch {
                for x in 0..cw {
                    let c = if x < cw / 2 { left } else { right };
                    data.push(if plane == 1 { c.1 } else { c.2 });
                }
            }
        }
        I420::new(w, h, data).unwrap()
    }

    fn decode(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    #[test]
    fn limited_range_black_white_and_primaries_become_full_range() {
        assert_eq!(limited_to_rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(limited_to_rgb(235, 128, 128), [255, 255, 255]);
        // BT.601 limited-range red, green and blue, within rounding.
        let near = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 3);
        assert!(near(limited_to_rgb(81, 90, 240), [255, 0, 0]));
        assert!(near(limited_to_rgb(145, 54, 34), [0, 255, 0]));
        assert!(near(limited_to_rgb(41, 240, 110), [0, 0, 255]));
    }

    #[test]
    fn a_picture_becomes_a_png_of_its_own_size_and_colours() {
        let picture = halves(64, 48, (81, 90, 240), (41, 240, 110));
        let (info, rgb) = decode(&png(&picture).unwrap());
        assert_eq!((info.width, info.height), (64, 48));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let at = |x: usize, y: usize| &rgb[(y * 64 + x) * 3..(y * 64 + x) * 3 + 3];
        assert!(at(5, 5)[0] > 240 && at(5, 5)[2] < 15, "left is red");
        assert!(at(60, 40)[2] > 240 && at(60, 40)[0] < 15, "right is blue");
    }

    #[test]
    fn odd_sizes_are_saved_and_short_data_is_refused() {
        let (w, h) = (5, 3);
        let picture = I420::new(w, h, vec![128; 15 + 2 * 3 * 2]).unwrap();
        let (info, _) = decode(&png(&picture).unwrap());
        assert_eq!((info.width, info.height), (5, 3));
        assert!(I420::new(4, 4, vec![0; 10]).is_err());
        assert!(I420::new(0, 4, vec![]).is_err());
    }
}
