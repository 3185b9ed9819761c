//! The screen's pixels as pictures to send: the X server's 32-bit pixels
//! (B, G, R, pad in memory) averaged down to the size sent and turned into
//! I420 (BT.601, limited range, as the video plugin's codecs take it), with
//! the mouse pointer drawn in first.
//!
//! Written here rather than taken from a crate: one pass that averages
//! each output pixel's whole source box (text stays legible when shrunk,
//! where a bilinear pick of four pixels loses thin strokes) and converts
//! in the same breath, in integers; the colour-conversion crates convert
//! at one size only, and a resize crate on top would mean a second copy of
//! every frame.

use seatphone_video_core::picture::Picture;

/// The size a `w`×`h` source is sent at: its own, or smaller to fit within
/// `max` (aspect kept), always even and at least 2×2.
pub fn fit_size((w, h): (u32, u32), (max_w, max_h): (u32, u32)) -> (u32, u32) {
    let (w, h) = (u64::from(w.max(2)), u64::from(h.max(2)));
    let (mw, mh) = (u64::from(max_w.max(2)), u64::from(max_h.max(2)));
    let (ow, oh) = if w <= mw && h <= mh {
        (w, h)
    } else if w * mh > h * mw {
        (mw, (h * mw / w).max(2))
    } else {
        ((w * mh / h).max(2), mh)
    };
    ((ow as u32) & !1, (oh as u32) & !1)
}

/// `src`: `sw`×`sh` pixels of 4 bytes (B, G, R, pad), rows `stride` bytes
/// apart. Each output pixel is the average of the source pixels it covers.
pub fn bgrx_to_i420(
    src: &[u8],
    stride: usize,
    (sw, sh): (u32, u32),
    (ow, oh): (u32, u32),
) -> Picture {
    let (sw, sh, ow, oh) = (sw as usize, sh as usize, ow as usize & !1, oh as usize & !1);
    let mut out = Picture::filled(ow as u32, oh as u32, (16, 128, 128));
    if sw == 0 || sh == 0 || ow == 0 || oh == 0 || src.len() < stride * (sh - 1) + sw * 4 {
        return out;
    }
    // Source columns of each output column, computed once.
    let cols: Vec<(usize, usize)> = (0..ow)
        .map(|x| (x * sw / ow, ((x + 1) * sw / ow).max(x * sw / ow + 1)))
        .collect();
    // RGB of each output pixel of one output row pair (for chroma).
    let mut rgb = vec![[0u32; 3]; ow * 2];
    let (ysize, csize) = (ow * oh, ow * oh / 4);
    for y in 0..oh {
        let (r0, r1) = (y * sh / oh, ((y + 1) * sh / oh).max(y * sh / oh + 1));
        let row_rgb = &mut rgb[(y % 2) * ow..(y % 2 + 1) * ow];
        for (x, &(c0, c1)) in cols.iter().enumerate() {
            let mut sum = [0u32; 3];
            for r in r0..r1 {
                let line = &src[r * stride + c0 * 4..r * stride + c1 * 4];
                for px in line.chunks_exact(4) {
                    sum[0] += u32::from(px[2]);
                    sum[1] += u32::from(px[1]);
                    sum[2] += u32::from(px[0]);
                }
            }
            let n = ((r1 - r0) * (c1 - c0)) as u32;
            let avg = sum.map(|s| (s + n / 2) / n);
            row_rgb[x] = avg;
            out.i420[y * ow + x] = luma(avg);
        }
        if y % 2 == 1 {
            let cy = y / 2;
            for cx in 0..ow / 2 {
                let mut sum = [0u32; 3];
                for p in [
                    rgb[2 * cx],
                    rgb[2 * cx + 1],
                    rgb[ow + 2 * cx],
                    rgb[ow + 2 * cx + 1],
                ] {
                    for c in 0..3 {
                        sum[c] += p[c];
                    }
                }
                let avg = sum.map(|s| (s + 2) / 4);
                let (u, v) = chroma(avg);
                out.i420[ysize + cy * (ow / 2) + cx] = u;
                out.i420[ysize + csize + cy * (ow / 2) + cx] = v;
            }
        }
    }
    out
}

fn luma([r, g, b]: [u32; 3]) -> u8 {
    ((66 * r + 129 * g + 25 * b + 128) / 256 + 16) as u8
}

fn chroma([r, g, b]: [u32; 3]) -> (u8, u8) {
    let (r, g, b) = (r as i32, g as i32, b as i32);
    let u = (-38 * r - 74 * g + 112 * b + 128) / 256 + 128;
    let v = (112 * r - 94 * g - 18 * b + 128) / 256 + 128;
    (u.clamp(0, 255) as u8, v.clamp(0, 255) as u8)
}

/// The mouse pointer as XFixes gives it: premultiplied ARGB, its top-left
/// corner at `x`, `y` on the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub argb: Vec<u32>,
}

/// Draws `cursor` onto `dst` (B, G, R, pad pixels, `dw`×`dh`, rows `stride`
/// bytes apart) whose top-left pixel is at `origin` on the screen.
pub fn draw_cursor(
    dst: &mut [u8],
    stride: usize,
    (dw, dh): (u32, u32),
    origin: (i32, i32),
    cursor: &Cursor,
) {
    if cursor.argb.len() < (cursor.width * cursor.height) as usize {
        return;
    }
    for cy in 0..cursor.height as i32 {
        let y = cursor.y + cy - origin.1;
        if y < 0 || y >= dh as i32 {
            continue;
        }
        for cx in 0..cursor.width as i32 {
            let x = cursor.x + cx - origin.0;
            if x < 0 || x >= dw as i32 {
                continue;
            }
            let p = cursor.argb[(cy as u32 * cursor.width + cx as u32) as usize];
            let a = p >> 24;
            if a == 0 {
                continue;
            }
            let at = y as usize * stride + x as usize * 4;
            let Some(px) = dst.get_mut(at..at + 3) else {
                continue;
            };
            // Premultiplied: out = cursor + screen * (1 - alpha).
            for (i, shift) in [(0, 0), (1, 8), (2, 16)] {
                let c = (p >> shift) & 0xff;
                px[i] = (c + u32::from(px[i]) * (255 - a) / 255).min(255) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatphone_video_core::picture::to_rgb;

    fn bgrx(w: usize, h: usize, f: impl Fn(usize, usize) -> [u8; 3]) -> Vec<u8> {
        let mut v = Vec::with_capacity(w * h * 4);
        for y in 0..h {
            for x in 0..w {
                let [r, g, b] = f(x, y);
                v.extend_from_slice(&[b, g, r, 0]);
            }
        }
        v
    }

    fn near(a: (u8, u8, u8), b: [u8; 3]) -> bool {
        a.0.abs_diff(b[0]) <= 3 && a.1.abs_diff(b[1]) <= 3 && a.2.abs_diff(b[2]) <= 3
    }

    #[test]
    fn sizes_fit_within_the_limit_keeping_the_aspect() {
        assert_eq!(fit_size((800, 600), (1280, 720)), (800, 600));
        assert_eq!(fit_size((1920, 1080), (1280, 720)), (1280, 720));
        assert_eq!(fit_size((1000, 1001), (1280, 720)), (718, 720));
        assert_eq!(fit_size((301, 3), (1280, 720)), (300, 2));
        assert_eq!(fit_size((4000, 10), (1280, 720)), (1280, 2));
    }

    #[test]
    fn colours_survive_at_full_and_half_size() {
        // Left half red, right half blue, a green bottom row band.
        let src = bgrx(64, 32, |x, y| match (x < 32, y < 24) {
            (_, false) => [0, 255, 0],
            (true, true) => [255, 0, 0],
            (false, true) => [0, 0, 255],
        });
        for (ow, oh) in [(64, 32), (32, 16)] {
            let p = bgrx_to_i420(&src, 64 * 4, (64, 32), (ow, oh));
            assert_eq!((p.width, p.height), (ow, oh));
            let at = |x: u32, y: u32| to_rgb(p.yuv(x as usize, y as usize));
            assert!(near(at(2, 2), [255, 0, 0]), "{:?}", at(2, 2));
            assert!(near(at(ow - 3, 2), [0, 0, 255]), "{:?}", at(ow - 3, 2));
            assert!(
                near(at(ow / 2, oh - 1), [0, 255, 0]),
                "{:?}",
                at(ow / 2, oh - 1)
            );
        }
    }

    #[test]
    fn shrinking_averages_thin_strokes_instead_of_losing_them() {
        // One black column in four on white: at a quarter size every
        // output pixel is the same grey.
        let src = bgrx(64, 8, |x, _| if x % 4 == 0 { [0; 3] } else { [255; 3] });
        let p = bgrx_to_i420(&src, 64 * 4, (64, 8), (16, 2));
        let grey = to_rgb(p.yuv(5, 1));
        assert!(grey.0.abs_diff(191) <= 4, "{grey:?}");
        assert!((0..16).all(|x| p.y(x, 0) == p.y(0, 0)));
    }

    #[test]
    fn a_short_buffer_gives_black_not_a_panic() {
        let p = bgrx_to_i420(&[0; 10], 256, (64, 64), (64, 64));
        assert_eq!(to_rgb(p.yuv(1, 1)), (0, 0, 0));
    }

    #[test]
    fn the_cursor_is_drawn_where_it_is_and_clipped() {
        let mut dst = bgrx(8, 8, |_, _| [255, 255, 255]);
        let cursor = Cursor {
            x: 102,
            y: 199,
            width: 2,
            height: 2,
            // Its second row: opaque black, half-transparent black.
            argb: vec![0, 0, 0xff00_0000, 0x8000_0000],
        };
        draw_cursor(&mut dst, 32, (8, 8), (100, 200), &cursor);
        let px = |x: usize, y: usize| {
            [
                dst[y * 32 + x * 4 + 2],
                dst[y * 32 + x * 4 + 1],
                dst[y * 32 + x * 4],
            ]
        };
        assert_eq!(px(2, 0), [0, 0, 0], "row 1 of the cursor, opaque");
        assert_eq!(px(3, 0), [127, 127, 127], "half transparent");
        assert_eq!(px(2, 1), [255, 255, 255], "below the cursor");
        assert_eq!(px(0, 0), [255, 255, 255]);
    }
}
