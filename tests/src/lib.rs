//! Harness for Seatphone's end-to-end tests: real processes, real sockets.
//!
//! - [`host`]: start the built `seatphone` with a temporary config and talk
//!   to it as a page does.
//! - [`plugins`]: build the plugins that must never sit beside `seatphone`
//!   (the hello example, broken fixtures) into their own target folder.
//! - [`netns`]: run a test inside a private network namespace.
//! - [`page_cache`]: a phone's files cold or warm in the page cache before
//!   the bench starts it.
//! - [`pulse`]: a PulseAudio server of a test's own (null sinks as devices).
//! - [`xvfb`]: an X server of a test's own, for the video window; [`window`]:
//!   a window of a test's own on it, to share.

pub mod audio_check;
pub mod host;
pub mod measure;
pub mod netns;
pub mod page_cache;
pub mod peers;
pub mod plugins;
pub mod pulse;
pub mod video;
pub mod window;
pub mod xvfb;
