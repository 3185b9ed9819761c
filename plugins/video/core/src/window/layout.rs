//! Where things go in the video window, as pure arithmetic: the remote
//! picture and the local preview (picture-in-picture or side by side), each
//! letterboxed or cropped — never stretched — and the control bar from
//! 480×360 up.

/// A rectangle in window (or screen) pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    pub fn new(x: i32, y: i32, w: u32, h: u32) -> Rect {
        Rect { x, y, w, h }
    }

    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.w as i32 && y < self.y + self.h as i32
    }
}

/// `setVideoLayoutMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// 0: the remote picture fills the window, the preview sits in a corner.
    #[default]
    PictureInPicture,
    /// 1: remote on the left, preview on the right.
    SideBySide,
}

/// `setVideoDisplayMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fit {
    /// 1: the whole picture, black bars where the shapes differ.
    #[default]
    Letterbox,
    /// 2: the area filled, the picture's overflow cut off.
    Crop,
}

/// The smallest window that gets the control bar (the reference's rule).
pub const BAR_MIN: (u32, u32) = (480, 360);
/// The control bar's height.
pub const BAR_H: u32 = 40;

/// The bar's buttons, left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Camera,
    Mute,
    HangUp,
    Swap,
}

pub const BUTTONS: [Button; 4] = [Button::Camera, Button::Mute, Button::HangUp, Button::Swap];

/// One picture drawn: the part of the source taken (`src`, in the
/// picture's pixels) and where it lands (`dst`, in the window's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub src: Rect,
    pub dst: Rect,
}

/// The whole window's arrangement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Arrangement {
    pub remote: Option<Placed>,
    pub local: Option<Placed>,
    pub bar: Option<Rect>,
}

/// What the window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scene {
    pub window: (u32, u32),
    pub layout: Layout,
    pub fit: Fit,
    /// Sizes of the pictures to show, if any.
    pub remote: Option<(u32, u32)>,
    pub local: Option<(u32, u32)>,
    /// Picture-in-picture with the two swapped (the bar's swap button).
    pub swapped: bool,
}

/// `src` (w, h) fitted into `area`.
pub fn fit(src: (u32, u32), area: Rect, how: Fit) -> Option<Placed> {
    let (sw, sh) = (u64::from(src.0), u64::from(src.1));
    let (aw, ah) = (u64::from(area.w), u64::from(area.h));
    if sw == 0 || sh == 0 || aw == 0 || ah == 0 {
        return None;
    }
    // Compare sw/sh with aw/ah without floating point.
    let wider = sw * ah > aw * sh;
    Some(match how {
        Fit::Letterbox => {
            let (w, h) = if wider {
                (aw, (sh * aw / sw).max(1))
            } else {
                ((sw * ah / sh).max(1), ah)
            };
            Placed {
                src: Rect::new(0, 0, src.0, src.1),
                dst: Rect::new(
                    area.x + ((aw - w) / 2) as i32,
                    area.y + ((ah - h) / 2) as i32,
                    w as u32,
                    h as u32,
                ),
            }
        }
        Fit::Crop => {
            let (cw, ch) = if wider {
                ((aw * sh / ah).max(1), sh)
            } else {
                (sw, (ah * sw / aw).max(1))
            };
            Placed {
                src: Rect::new(
                    ((sw - cw) / 2) as i32,
                    ((sh - ch) / 2) as i32,
                    cw as u32,
                    ch as u32,
                ),
                dst: area,
            }
        }
    })
}

/// Where everything goes.
pub fn arrange(scene: &Scene) -> Arrangement {
    let (w, h) = scene.window;
    let with_bar = w >= BAR_MIN.0 && h >= BAR_MIN.1;
    let video_h = if with_bar { h - BAR_H } else { h };
    let area = Rect::new(0, 0, w, video_h);
    let bar = with_bar.then(|| Rect::new(0, video_h as i32, w, BAR_H));
    let (first, second) = if scene.swapped && scene.layout == Layout::PictureInPicture {
        (scene.local, scene.remote)
    } else {
        (scene.remote, scene.local)
    };
    let (main, other) = match scene.layout {
        Layout::SideBySide => {
            let half = w / 2;
            let left = Rect::new(0, 0, half, video_h);
            let right = Rect::new(half as i32, 0, w - half, video_h);
            (
                first.and_then(|s| fit(s, left, scene.fit)),
                second.and_then(|s| fit(s, right, scene.fit)),
            )
        }
        Layout::PictureInPicture => {
            let main = first.and_then(|s| fit(s, area, scene.fit));
            // A quarter of the width, bottom right, with a margin; always
            // letterboxed in its own box so the whole preview shows.
            let inset = second.and_then(|s| {
                let iw = (w / 4).max(2);
                let ih = (u64::from(iw) * u64::from(s.1) / u64::from(s.0.max(1))) as u32;
                let margin = (w / 64).max(2);
                let ih = ih.min(video_h / 2).max(2);
                let r = Rect::new(
                    (w - iw - margin) as i32,
                    video_h.saturating_sub(ih + margin) as i32,
                    iw,
                    ih,
                );
                fit(s, r, Fit::Letterbox)
            });
            (main, inset)
        }
    };
    let (remote, local) = if scene.swapped && scene.layout == Layout::PictureInPicture {
        (other, main)
    } else {
        (main, other)
    };
    Arrangement { remote, local, bar }
}

/// Each button's rectangle in the bar.
pub fn button_rects(bar: Rect) -> [(Button, Rect); 4] {
    let size = bar.h - 8;
    let gap = 16;
    let total = 4 * size + 3 * gap;
    let x0 = bar.x + (bar.w.saturating_sub(total) / 2) as i32;
    BUTTONS.map(|b| {
        let i = BUTTONS.iter().position(|x| *x == b).unwrap_or(0) as i32;
        (
            b,
            Rect::new(x0 + i * (size + gap) as i32, bar.y + 4, size, size),
        )
    })
}

/// The button under a click, if any.
pub fn button_at(arr: &Arrangement, x: i32, y: i32) -> Option<Button> {
    let bar = arr.bar?;
    button_rects(bar)
        .into_iter()
        .find(|(_, r)| r.contains(x, y))
        .map(|(b, _)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_keeps_the_shape_and_centres() {
        // 4:3 into 16:9: bars left and right.
        let p = fit((640, 480), Rect::new(0, 0, 1280, 720), Fit::Letterbox).unwrap();
        assert_eq!(p.dst, Rect::new(160, 0, 960, 720));
        assert_eq!(p.src, Rect::new(0, 0, 640, 480));
        // 16:9 into 4:3: bars top and bottom.
        let p = fit((1280, 720), Rect::new(10, 10, 640, 480), Fit::Letterbox).unwrap();
        assert_eq!(p.dst, Rect::new(10, 70, 640, 360));
    }

    #[test]
    fn crop_fills_and_cuts_the_overflow() {
        let p = fit((640, 480), Rect::new(0, 0, 1280, 720), Fit::Crop).unwrap();
        assert_eq!(p.dst, Rect::new(0, 0, 1280, 720));
        assert_eq!(p.src, Rect::new(0, 60, 640, 360));
        let p = fit((1280, 720), Rect::new(0, 0, 640, 480), Fit::Crop).unwrap();
        assert_eq!(p.src, Rect::new(160, 0, 960, 720));
        assert!(fit((0, 480), Rect::new(0, 0, 10, 10), Fit::Crop).is_none());
    }

    #[test]
    fn the_bar_comes_from_480_by_360() {
        let scene = |w, h| Scene {
            window: (w, h),
            remote: Some((640, 480)),
            ..Scene::default()
        };
        let a = arrange(&scene(720, 480));
        assert_eq!(a.bar, Some(Rect::new(0, 440, 720, BAR_H)));
        assert_eq!(a.remote.unwrap().dst.h, 440);
        assert_eq!(arrange(&scene(480, 360)).bar.map(|b| b.y), Some(320));
        assert_eq!(arrange(&scene(479, 360)).bar, None);
        assert_eq!(arrange(&scene(320, 240)).bar, None);
        assert_eq!(
            arrange(&scene(320, 240)).remote.unwrap().dst,
            Rect::new(0, 0, 320, 240)
        );
    }

    #[test]
    fn picture_in_picture_and_side_by_side() {
        let mut scene = Scene {
            window: (640, 480),
            remote: Some((640, 480)),
            local: Some((320, 240)),
            ..Scene::default()
        };
        let a = arrange(&scene);
        let inset = a.local.unwrap().dst;
        assert_eq!((inset.w, inset.h), (160, 120));
        assert!(inset.x > 320 && inset.y > 200, "bottom right: {inset:?}");
        assert!(inset.y + inset.h as i32 <= 440, "above the bar");
        scene.swapped = true;
        let s = arrange(&scene);
        assert_eq!(s.local.unwrap().dst, a.remote.unwrap().dst);
        assert_eq!(s.remote.unwrap().dst, inset);
        scene.layout = Layout::SideBySide;
        let a = arrange(&scene);
        assert_eq!(a.remote.unwrap().dst, Rect::new(0, 100, 320, 240));
        assert_eq!(a.local.unwrap().dst, Rect::new(320, 100, 320, 240));
    }

    #[test]
    fn clicks_find_buttons() {
        let a = arrange(&Scene {
            window: (720, 480),
            ..Scene::default()
        });
        let rects = button_rects(a.bar.unwrap());
        for (b, r) in rects {
            assert_eq!(button_at(&a, r.x + 2, r.y + 2), Some(b));
        }
        assert_eq!(button_at(&a, 5, 5), None);
        let small = arrange(&Scene {
            window: (320, 240),
            ..Scene::default()
        });
        assert_eq!(button_at(&small, 100, 230), None);
    }
}
