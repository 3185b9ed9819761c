//! I420 pictures (BT.601, limited range, as cameras and codecs deliver
//! them), the one format that flows between cameras, codecs, the window and
//! the frame bus.

/// One picture: Y plane `width*height`, then U and V `width/2*height/2`.
/// Width and height are even.
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub i420: Vec<u8>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Picture({}x{})", self.width, self.height)
    }
}

/// Y, U, V of a colour in BT.601 limited range.
pub type Yuv = (u8, u8, u8);

pub const BLACK: Yuv = (16, 128, 128);
pub const WHITE: Yuv = (235, 128, 128);

impl Picture {
    /// A picture filled with one colour; odd sizes are rounded down.
    pub fn filled(width: u32, height: u32, colour: Yuv) -> Picture {
        let (w, h) = ((width & !1) as usize, (height & !1) as usize);
        let mut i420 = vec![colour.0; w * h];
        i420.resize(w * h + w * h / 4, colour.1);
        i420.resize(w * h + w * h / 2, colour.2);
        Picture {
            width: w as u32,
            height: h as u32,
            i420,
        }
    }

    /// Takes tight I420 bytes, checking the length.
    pub fn from_i420(width: u32, height: u32, i420: Vec<u8>) -> Result<Picture, String> {
        let (w, h) = (width as usize, height as usize);
        if width % 2 == 1 || height % 2 == 1 || i420.len() != w * h + w * h / 2 {
            return Err(format!(
                "not a {width}x{height} I420 picture ({} bytes)",
                i420.len()
            ));
        }
        Ok(Picture {
            width,
            height,
            i420,
        })
    }

    fn w(&self) -> usize {
        self.width as usize
    }

    fn h(&self) -> usize {
        self.height as usize
    }

    pub fn y(&self, x: usize, y: usize) -> u8 {
        self.i420[y * self.w() + x]
    }

    /// The colour at a pixel (chroma of its 2×2 block).
    pub fn yuv(&self, x: usize, y: usize) -> Yuv {
        let (w, h) = (self.w(), self.h());
        let c = (y / 2) * (w / 2) + x / 2;
        (
            self.i420[y * w + x],
            self.i420[w * h + c],
            self.i420[w * h + w * h / 4 + c],
        )
    }

    /// Paints a rectangle (clipped to the picture); chroma is painted for
    /// every 2×2 block whose top-left pixel is inside.
    pub fn fill_rect(&mut self, x: usize, y: usize, rw: usize, rh: usize, c: Yuv) {
        let (w, h) = (self.w(), self.h());
        let (x1, y1) = ((x + rw).min(w), (y + rh).min(h));
        if x >= x1 || y >= y1 {
            return;
        }
        for row in y..y1 {
            self.i420[row * w + x..row * w + x1].fill(c.0);
        }
        let (cx0, cy0, cx1, cy1) = (x.div_ceil(2), y.div_ceil(2), x1.div_ceil(2), y1.div_ceil(2));
        let (u0, v0) = (w * h, w * h + w * h / 4);
        for row in cy0..cy1 {
            let at = row * (w / 2);
            self.i420[u0 + at + cx0..u0 + at + cx1].fill(c.1);
            self.i420[v0 + at + cx0..v0 + at + cx1].fill(c.2);
        }
    }
}

/// RGB of a BT.601 limited-range colour, as a display shows it.
pub fn to_rgb((y, u, v): Yuv) -> (u8, u8, u8) {
    let c = (f32::from(y) - 16.0) * 1.164;
    let (d, e) = (f32::from(u) - 128.0, f32::from(v) - 128.0);
    let clamp = |x: f32| x.round().clamp(0.0, 255.0) as u8;
    (
        clamp(c + 1.596 * e),
        clamp(c - 0.392 * d - 0.813 * e),
        clamp(c + 2.017 * d),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_and_read_back() {
        let mut p = Picture::filled(8, 6, BLACK);
        assert_eq!(p.i420.len(), 8 * 6 * 3 / 2);
        p.fill_rect(2, 2, 4, 2, WHITE);
        assert_eq!(p.yuv(3, 3), WHITE);
        assert_eq!(p.yuv(0, 0), BLACK);
        p.fill_rect(6, 4, 100, 100, (81, 90, 240)); // clipped
        assert_eq!(p.yuv(7, 5), (81, 90, 240));
        assert!(Picture::from_i420(3, 2, vec![0; 9]).is_err());
        assert_eq!(to_rgb(WHITE), (255, 255, 255));
        assert_eq!(to_rgb(BLACK), (0, 0, 0));
    }
}
