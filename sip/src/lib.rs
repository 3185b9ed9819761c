#![forbid(unsafe_code)]
pub mod calls;
pub mod events;
pub mod params;
pub mod registration;
pub mod sdp;
