//! The native video window: placed borderless at the screen rectangle the
//! page gives (`setVideoWindowParam`), showing the remote picture and the
//! local preview as the layout and display modes say, with a control bar
//! from 480×360 up. The arithmetic ([`layout`]) and the drawing
//! ([`compose`]) are pure; a [`Backend`] puts the pixels on a screen (X11
//! with shared memory on Linux, [`x11`]). The display is opened on first
//! use, never when the plugin loads.

pub mod compose;
pub mod controller;
pub mod layout;
pub mod x11;

use layout::Rect;

/// What a platform's window does; Windows and macOS backends can follow.
pub trait Backend: Send {
    /// Shows the window at `rect` (screen pixels), or moves and resizes it.
    fn show(&mut self, rect: Rect) -> Result<(), String>;
    /// Puts `pixels` (`0x00RRGGBB`, row by row, the window's size) on it.
    fn present(&mut self, width: u32, height: u32, pixels: &[u32]) -> Result<(), String>;
    /// Takes the window off the screen.
    fn hide(&mut self);
    /// Clicks since the last call, in window pixels.
    fn clicks(&mut self) -> Vec<(i32, i32)>;
    /// The screen lost the window's pixels since the last call (a picture
    /// drawn before the window was mapped, or the window uncovered): the
    /// last picture is drawn again, since a still share may send no other.
    fn exposed(&mut self) -> bool;
}
