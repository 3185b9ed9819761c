//! What the capture plugin does, apart from the plugin ABI: a snapshot of
//! the remote video as PNG, and recordings of what arrived — H.264 into
//! fragmented MP4, VP8 into WebM, never re-encoded — written fragment by
//! fragment so a crash or a power cut leaves a file that plays. An rlib of
//! its own so the plugin stays a lone `cdylib` while all of this is tested
//! here.

#![forbid(unsafe_code)]

pub mod commands;
pub mod config;
pub mod fmp4;
pub mod folder;
pub mod recording;
pub mod service;
pub mod snapshot;
pub mod sound;
pub mod track;
pub mod webm;
pub mod writer;
