//! What the video plugin is made of, apart from the plugin ABI: cameras,
//! the codec library's loader, a call's video session on the media stream
//! core, and the native video window. An rlib of its own so the plugin
//! itself stays a lone `cdylib` (cargo skips LTO for a crate that is also
//! an rlib) while all of this is tested here.

pub mod camera;
pub mod codec;
pub mod config;
pub mod negotiate;
pub mod picture;
pub mod rate;
pub mod session;
pub mod shm;
pub mod window;
