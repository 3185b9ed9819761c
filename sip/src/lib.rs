#![forbid(unsafe_code)]
pub mod registration;
