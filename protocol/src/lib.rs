//! Seatphone's wire protocol, serde only: what the page, the host and the
//! plugins say to each other as JSON ([`wire`]) and the one catalogue of
//! standard commands and events ([`catalogue`]).
//!
//! The host, the SIP user agent, every plugin (through
//! `seatphone-plugin-api`, which re-exports this crate), the tests and the
//! bench take command and event numbers and descriptions from here.
#![forbid(unsafe_code)]

pub mod catalogue;
pub mod dialect;
pub mod wire;

pub use catalogue::{Capability, Command, Event, Owner, Socket, StandardCommand, StandardEvent};
pub use dialect::Dialect;
pub use wire::*;
