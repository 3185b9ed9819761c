//! The built-in test-pattern camera: eight colour bars that move, with the
//! frame counter and the wall-clock time burnt in twice — as digits a person
//! reads, and as a block code [`read_stamp`] reads back from a decoded
//! picture (for glass-to-glass latency: the time it was made against the
//! time it is shown).

use crate::picture::{Picture, Yuv, BLACK, WHITE};

/// White, yellow, cyan, green, magenta, red, blue, black (BT.601, limited
/// range), as a camera test chart orders them.
pub const BARS: [Yuv; 8] = [
    (235, 128, 128),
    (210, 16, 146),
    (170, 166, 16),
    (145, 54, 34),
    (106, 202, 222),
    (81, 90, 240),
    (41, 240, 110),
    (16, 128, 128),
];

/// Blocks per row of the code; two rows hold 88 bits: counter (32),
/// Unix time in ms (48), a check byte (8).
const BLOCKS: usize = 44;

/// What a pattern picture says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Pictures made before this one.
    pub counter: u32,
    /// When it was made, ms since 1970.
    pub unix_ms: u64,
}

/// Makes the pattern's pictures, one per call.
pub struct TestPattern {
    width: u32,
    height: u32,
    counter: u32,
}

impl TestPattern {
    pub fn new(width: u32, height: u32) -> TestPattern {
        TestPattern {
            width: width.max(64) & !1,
            height: height.max(48) & !1,
            counter: 0,
        }
    }

    /// The next picture, stamped with `unix_ms` (the caller's clock).
    pub fn next_picture(&mut self, unix_ms: u64) -> Picture {
        let stamp = Stamp {
            counter: self.counter,
            unix_ms,
        };
        self.counter = self.counter.wrapping_add(1);
        draw(self.width, self.height, stamp)
    }
}

/// The band heights: bars on top, then the digits, then the code.
fn bands(h: usize) -> (usize, usize) {
    let code = (h / 8) & !1;
    let text = (h / 8) & !1;
    (h - code - text, text)
}

fn draw(width: u32, height: u32, stamp: Stamp) -> Picture {
    let (w, h) = (width as usize, height as usize);
    let mut p = Picture::filled(width, height, BLACK);
    let (bars_h, text_h) = bands(h);
    // Moves a whole picture width every 100 pictures (4 s at 25 fps).
    let shift = (stamp.counter as usize % 100) * w / 100;
    let bar_w = w.div_ceil(8);
    for (i, colour) in BARS.iter().enumerate() {
        let x = (i * bar_w + w - shift) % w;
        p.fill_rect(x, 0, bar_w, bars_h, *colour);
        if x + bar_w > w {
            p.fill_rect(0, 0, x + bar_w - w, bars_h, *colour);
        }
    }
    let secs = stamp.unix_ms / 1000;
    let text = format!(
        "{:06} {:02}:{:02}:{:02}.{:03}",
        stamp.counter % 1_000_000,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        stamp.unix_ms % 1000
    );
    draw_text(&mut p, &text, bars_h, text_h);
    let bits = encode(stamp);
    let code_y = bars_h + text_h;
    let row_h = (h - code_y) / 2;
    for (i, bit) in bits.iter().enumerate() {
        let (row, col) = (i / BLOCKS, i % BLOCKS);
        let (x0, x1) = (col * w / BLOCKS, (col + 1) * w / BLOCKS);
        if *bit {
            p.fill_rect(x0, code_y + row * row_h, x1 - x0, row_h, WHITE);
        }
    }
    p
}

fn encode(stamp: Stamp) -> Vec<bool> {
    let mut bytes = stamp.counter.to_be_bytes().to_vec();
    bytes.extend(&stamp.unix_ms.to_be_bytes()[2..]);
    bytes.push(check(&bytes));
    bytes
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| b >> i & 1 == 1))
        .collect()
}

fn check(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0x5a, |acc, b| acc.rotate_left(1) ^ b)
}

/// The stamp of a test-pattern picture after any scaling and lossy coding
/// that keeps its blocks apart; `None` for any other picture.
pub fn read_stamp(p: &Picture) -> Option<Stamp> {
    let luma = |x: usize, y: usize| p.y(x, y);
    read_stamp_luma(p.width as usize, p.height as usize, luma)
}

/// [`read_stamp`] over any luma source (a decoded picture, a screen grab,
/// a peer's PNG snapshot converted to grey).
pub fn read_stamp_luma(w: usize, h: usize, luma: impl Fn(usize, usize) -> u8) -> Option<Stamp> {
    if w < 64 || h < 48 {
        return None;
    }
    let (bars_h, text_h) = bands(h);
    let code_y = bars_h + text_h;
    let row_h = (h - code_y) / 2;
    let mut bytes = [0u8; 11];
    for i in 0..BLOCKS * 2 {
        let (row, col) = (i / BLOCKS, i % BLOCKS);
        let (x0, x1) = (col * w / BLOCKS, (col + 1) * w / BLOCKS);
        let (y0, y1) = (code_y + row * row_h, code_y + (row + 1) * row_h);
        // The middle half of the block: edges blur in coding and scaling.
        let (xs, ys) = (
            x0 + (x1 - x0) / 4..x1 - (x1 - x0) / 4,
            y0 + row_h / 4..y1 - row_h / 4,
        );
        let (mut sum, mut n) = (0u32, 0u32);
        for y in ys {
            for x in xs.clone() {
                sum += u32::from(luma(x, y));
                n += 1;
            }
        }
        let mean = sum.checked_div(n)?;
        if mean > 125 {
            bytes[i / 8] |= 0x80 >> (i % 8);
        }
    }
    if check(&bytes[..10]) != bytes[10] {
        return None;
    }
    let mut ms = [0u8; 8];
    ms[2..].copy_from_slice(&bytes[4..10]);
    Some(Stamp {
        counter: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        unix_ms: u64::from_be_bytes(ms),
    })
}

/// 5×7 glyphs of the characters the stamp uses, one row per byte.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        ':' => [0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c],
        _ => [0; 7],
    }
}

fn draw_text(p: &mut Picture, text: &str, y0: usize, band: usize) {
    let w = p.width as usize;
    let chars = text.chars().count();
    // Glyphs 6 cells wide with spacing, 9 high with margins.
    let scale = (band / 9).min(w / (chars * 6 + 2)).max(1);
    let x0 = (w - chars * 6 * scale) / 2;
    let top = y0 + (band - 7 * scale) / 2;
    for (i, c) in text.chars().enumerate() {
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5 {
                if bits >> (4 - col) & 1 == 1 {
                    let x = x0 + (i * 6 + col) * scale;
                    p.fill_rect(x, top + row * scale, scale, scale, WHITE);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_reads_back_and_the_bars_move() {
        let mut pattern = TestPattern::new(640, 480);
        let first = pattern.next_picture(1_764_000_000_123);
        assert_eq!(
            read_stamp(&first),
            Some(Stamp {
                counter: 0,
                unix_ms: 1_764_000_000_123
            })
        );
        // Eight bars across the top at the first picture.
        for (i, bar) in BARS.iter().enumerate() {
            assert_eq!(first.yuv(i * 80 + 40, 100), *bar, "bar {i}");
        }
        let second = pattern.next_picture(1_764_000_000_163);
        assert_eq!(read_stamp(&second).unwrap().counter, 1);
        assert_ne!(first.yuv(79, 100), second.yuv(79, 100), "bars moved");
        // The digits band holds white pixels (the text).
        let (bars_h, text_h) = bands(480);
        let lit = (bars_h..bars_h + text_h)
            .flat_map(|y| (0..640).map(move |x| (x, y)))
            .filter(|&(x, y)| first.y(x, y) == 235)
            .count();
        assert!(lit > 500, "{lit} text pixels");
    }

    #[test]
    fn small_pictures_and_noise_still_read() {
        let mut pattern = TestPattern::new(320, 240);
        pattern.counter = 0xdead_beef;
        let mut p = pattern.next_picture(42);
        // Coding noise of ±40 on every luma sample.
        let mut seed = 3u32;
        for y in p.i420[..320 * 240].iter_mut() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *y = (i32::from(*y) + (seed >> 16) as i32 % 81 - 40).clamp(0, 255) as u8;
        }
        assert_eq!(
            read_stamp(&p),
            Some(Stamp {
                counter: 0xdead_beef,
                unix_ms: 42
            })
        );
    }

    #[test]
    fn other_pictures_have_no_stamp() {
        assert_eq!(read_stamp(&Picture::filled(640, 480, BLACK)), None);
        assert_eq!(read_stamp(&Picture::filled(640, 480, WHITE)), None);
        assert_eq!(read_stamp(&Picture::filled(10, 10, WHITE)), None);
    }
}
