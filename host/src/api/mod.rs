//! The page-facing side: frames, access checks, sockets and HTTP.

pub mod access;
pub mod frame;
pub mod pages;
pub mod refused_handshake;
pub mod server;
pub mod socket;
pub mod tls;
pub mod video;
