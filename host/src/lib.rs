//! The Seatphone host: the daemon, the engine, the page API and the plugin
//! loader. The `seatphone` binary is a thin `main` over this library, which
//! also serves the fuzz targets (frame parsing) and benchmarks.

#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod dialect;
pub mod doctor;
pub mod engine;
pub mod install;
pub mod logging;
pub mod plugins;
