//! Draws an [`Arrangement`] into the window's pixels (32-bit `0x00RRGGBB`,
//! what a 24-bit X visual takes): pictures scaled to their place, black
//! elsewhere, the control bar with its buttons.

use super::layout::{button_rects, Arrangement, Button, Placed};
use crate::picture::Picture;

/// The bar's background.
pub const BAR_COLOUR: u32 = 0x30_30_30;

/// The window's pixels, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u32>,
}

/// What the bar's buttons show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BarState {
    pub camera_off: bool,
    pub muted: bool,
}

impl Canvas {
    pub fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![0; width as usize * height as usize],
        }
    }

    pub fn pixel(&self, x: u32, y: u32) -> u32 {
        self.pixels[(y * self.width + x) as usize]
    }

    fn fill(&mut self, x: i32, y: i32, w: u32, h: u32, colour: u32) {
        let (x0, y0) = (x.max(0) as u32, y.max(0) as u32);
        let x1 = ((x + w as i32).max(0) as u32).min(self.width);
        let y1 = ((y + h as i32).max(0) as u32).min(self.height);
        for row in y0..y1 {
            let at = (row * self.width) as usize;
            self.pixels[at + x0 as usize..at + x1 as usize].fill(colour);
        }
    }
}

/// BT.601 limited range to RGB, in integers.
fn rgb(y: u8, u: u8, v: u8) -> u32 {
    let c = 298 * (i32::from(y) - 16);
    let (d, e) = (i32::from(u) - 128, i32::from(v) - 128);
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u32;
    clamp(c + 409 * e) << 16 | clamp(c - 100 * d - 208 * e) << 8 | clamp(c + 516 * d)
}

/// One picture, nearest-neighbour scaled from `p.src` to `p.dst`.
fn draw(canvas: &mut Canvas, pic: &Picture, p: Placed) {
    let (w, h) = (pic.width as usize, pic.height as usize);
    let (u0, v0) = (w * h, w * h + w * h / 4);
    let (cw, ch) = (canvas.width as i32, canvas.height as i32);
    for dy in 0..p.dst.h as i32 {
        let y = p.dst.y + dy;
        if y < 0 || y >= ch {
            continue;
        }
        let sy = (p.src.y + (i64::from(dy) * i64::from(p.src.h) / i64::from(p.dst.h)) as i32)
            .clamp(0, h as i32 - 1) as usize;
        let row = (y * cw) as usize;
        for dx in 0..p.dst.w as i32 {
            let x = p.dst.x + dx;
            if x < 0 || x >= cw {
                continue;
            }
            let sx = (p.src.x + (i64::from(dx) * i64::from(p.src.w) / i64::from(p.dst.w)) as i32)
                .clamp(0, w as i32 - 1) as usize;
            let c = (sy / 2) * (w / 2) + sx / 2;
            canvas.pixels[row + x as usize] =
                rgb(pic.i420[sy * w + sx], pic.i420[u0 + c], pic.i420[v0 + c]);
        }
    }
}

/// The button colours: what a glance tells.
pub fn button_colour(b: Button, state: BarState) -> u32 {
    match b {
        Button::Camera if state.camera_off => 0x60_60_60,
        Button::Camera => 0x2a_6f_db,
        Button::Mute if state.muted => 0xe0_a0_00,
        Button::Mute => 0x80_80_80,
        Button::HangUp => 0xd3_2f_2f,
        Button::Swap => 0xee_ee_ee,
    }
}

/// The whole window: black, the pictures in their places, the bar.
pub fn compose(
    canvas: &mut Canvas,
    arr: &Arrangement,
    remote: Option<&Picture>,
    local: Option<&Picture>,
    state: BarState,
) {
    canvas.pixels.fill(0);
    if let (Some(pic), Some(p)) = (remote, arr.remote) {
        draw(canvas, pic, p);
    }
    if let (Some(pic), Some(p)) = (local, arr.local) {
        draw(canvas, pic, p);
    }
    if let Some(bar) = arr.bar {
        canvas.fill(bar.x, bar.y, bar.w, bar.h, BAR_COLOUR);
        for (b, r) in button_rects(bar) {
            canvas.fill(r.x, r.y, r.w, r.h, button_colour(b, state));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::{arrange, Fit, Scene};
    use super::*;
    use crate::camera::pattern::BARS;
    use crate::picture::{to_rgb, Picture};

    fn packed((r, g, b): (u8, u8, u8)) -> u32 {
        u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b)
    }

    fn close(a: u32, b: u32) -> bool {
        (0..3).all(|i| ((a >> (8 * i)) & 0xff).abs_diff((b >> (8 * i)) & 0xff) <= 2)
    }

    #[test]
    fn a_letterboxed_picture_has_black_bars_and_a_cropped_one_none() {
        let mut pic = Picture::filled(640, 480, BARS[1]);
        pic.fill_rect(0, 0, 10, 480, BARS[5]); // a red left edge
        let mut scene = Scene {
            window: (400, 150),
            remote: Some((640, 480)),
            ..Scene::default()
        };
        let mut c = Canvas::new(400, 150);
        compose(
            &mut c,
            &arrange(&scene),
            Some(&pic),
            None,
            BarState::default(),
        );
        // 4:3 in 400×150: 200 wide, bars of 100 either side.
        assert_eq!(c.pixel(50, 75), 0);
        assert_eq!(c.pixel(350, 75), 0);
        assert!(close(c.pixel(200, 75), packed(to_rgb(BARS[1]))));
        assert!(
            close(c.pixel(101, 75), packed(to_rgb(BARS[5]))),
            "left edge shown"
        );
        scene.fit = Fit::Crop;
        compose(
            &mut c,
            &arrange(&scene),
            Some(&pic),
            None,
            BarState::default(),
        );
        assert!(c.pixels.iter().all(|p| *p != 0), "crop leaves no black");
        assert!(
            close(c.pixel(0, 75), packed(to_rgb(BARS[5]))),
            "left edge kept"
        );
    }

    #[test]
    fn the_bar_shows_its_buttons() {
        let scene = Scene {
            window: (720, 480),
            ..Scene::default()
        };
        let arr = arrange(&scene);
        let mut c = Canvas::new(720, 480);
        let state = BarState {
            camera_off: true,
            muted: true,
        };
        compose(&mut c, &arr, None, None, state);
        assert_eq!(c.pixel(2, 478), BAR_COLOUR);
        for (b, r) in button_rects(arr.bar.unwrap()) {
            assert_eq!(
                c.pixel(r.x as u32 + 3, r.y as u32 + 3),
                button_colour(b, state)
            );
        }
    }
}
