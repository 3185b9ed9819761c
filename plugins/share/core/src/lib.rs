//! What the share plugin does, apart from the plugin ABI: what can be
//! shared ([`list`]), grabbing it when it changed ([`grab`]), turning the
//! screen's pixels into pictures ([`convert`]), and how often ([`pacer`]).
//! An rlib of its own so the plugin stays a lone `cdylib` while all of this
//! is tested here.

pub mod convert;
pub mod grab;
pub mod list;
pub mod pacer;

/// The plugin's own command and events, beside the catalogue's (PROTOCOL.md
/// "Share plugin"): here rather than in the `cdylib`, so that the tests
/// read them too.
pub const SET_REGION: (u32, &str) = (3250, "share_set_region");
pub const EVT_STARTED: (u32, &str) = (3201, "SHARE_EVT_STARTED");
pub const EVT_STOPPED: (u32, &str) = (3202, "SHARE_EVT_STOPPED");

/// A rectangle in screen pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    /// The part of `self` inside `other`, if any.
    pub fn clip(&self, other: &Rect) -> Option<Rect> {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.w as i32).min(other.x + other.w as i32);
        let y1 = (self.y + self.h as i32).min(other.y + other.h as i32);
        (x1 > x0 && y1 > y0).then(|| Rect::new(x0, y0, (x1 - x0) as u32, (y1 - y0) as u32))
    }

    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.w as i32 && y < self.y + self.h as i32
    }
}

/// What is shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The whole screen (the root window).
    Desktop,
    /// One monitor (a RandR CRTC) of several.
    Monitor { crtc: u32, rect: Rect },
    /// A top-level window, wherever it is on the screen.
    Window(u32),
    /// A fixed rectangle of the screen.
    Region(Rect),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectangles_clip() {
        let screen = Rect::new(0, 0, 800, 600);
        assert_eq!(
            Rect::new(-10, 590, 100, 100).clip(&screen),
            Some(Rect::new(0, 590, 90, 10))
        );
        assert_eq!(Rect::new(800, 0, 10, 10).clip(&screen), None);
        assert!(screen.contains(0, 0) && !screen.contains(800, 10));
    }
}
