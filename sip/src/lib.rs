#![forbid(unsafe_code)]
pub mod calls;
pub mod events;
pub mod registration;
