//! The contract between the Seatphone host and its plugins.
//!
//! Only a handful of `#[repr(C)]` types cross the library boundary (see [`abi`]):
//! the root module, the plugin object, the reply handle, the host handle and
//! media frames. Everything else crosses as JSON text, described by the serde
//! types in [`wire`] (from `seatphone-protocol`, re-exported here with the
//! standard [`catalogue`]), so the ABI stays small and new fields never break it.
//!
//! A plugin implements the plain Rust trait [`Plugin`] and exports it with
//! [`export_plugin!`]; the host loads it with [`abi::PluginModRef`]. Its
//! `Cargo.toml` names both this crate and `abi_stable` (see
//! [`abi_stable`] below for why).
//!
//! This crate's version is the plugin API's, apart from the product's; what
//! a minor version may change and what needs a major one is in [`abi`].

pub mod abi;
mod adapter;
mod host;
pub mod load;
pub mod param;
pub mod topics;

pub use seatphone_protocol::{catalogue, wire};
pub use seatphone_protocol::{
    Capability, Command, Event, Owner, Socket, StandardCommand, StandardEvent,
};

pub use abi::{
    MediaFrame, FRAME_H264, FRAME_I420, FRAME_KEYFRAME, FRAME_PCM16, FRAME_RGBA, FRAME_VP8,
};
pub use adapter::{into_raw_plugin, reply_from_fn, Plugin, Reply};
pub use host::{FrameSubscription, Host, LogLevel};
pub use wire::*;

/// Re-exported for [`export_plugin!`]. A plugin must still depend on
/// `abi_stable` itself (the version this crate uses, 0.11): the attribute
/// the macro writes expands to code that names the `abi_stable` crate.
pub use abi_stable;

/// The plugin API version this crate is (not the product's): what a plugin
/// built against it is built against, and what the host speaks.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Exports `$ctor: fn(Host) -> Result<impl Plugin, String>` as this library's
/// Seatphone plugin. Use it once, at the crate root of a `cdylib`.
#[macro_export]
macro_rules! export_plugin {
    ($ctor:path) => {
        #[$crate::abi_stable::export_root_module]
        pub fn seatphone_root_module() -> $crate::abi::PluginModRef {
            use $crate::abi_stable::prefix_type::PrefixTypeTrait;
            $crate::abi::PluginMod {
                new: seatphone_new_plugin,
            }
            .leak_into_prefix()
        }

        #[$crate::abi_stable::sabi_extern_fn]
        fn seatphone_new_plugin(
            host: $crate::abi::HostBox,
        ) -> $crate::abi_stable::std_types::RResult<
            $crate::abi::PluginBox,
            $crate::abi_stable::std_types::RString,
        > {
            match $ctor($crate::Host::from_raw(host)) {
                Ok(plugin) => {
                    $crate::abi_stable::std_types::RResult::ROk($crate::into_raw_plugin(plugin))
                }
                Err(e) => $crate::abi_stable::std_types::RResult::RErr(e.to_string().into()),
            }
        }
    };
}
