//! The types that cross the library boundary. Everything here is
//! `StableAbi`, checked by abi_stable when the host loads a plugin.
//!
//! # Versions
//!
//! The plugin API has a version of its own (this crate's), not the
//! product's. abi_stable writes it into every plugin. A host of 1.y loads
//! plugins built against 1.0 up to 1.y and refuses one of another major
//! version or a newer minor one, naming both versions (`load`). Within a
//! major version:
//!
//! - compatible (the next minor version): a method appended to a trait
//!   below, after every method there, **with a default body** (the default
//!   runs when the other side was built before the method existed: the host
//!   calls a newer method on an older plugin, or a newer plugin calls a
//!   newer host method on an older host); a new `wire` field with a serde
//!   default; a new JSON message a side may ignore; a new `FRAME_*` format
//!   or flag bit; a new topic on the bus; a new command, event or
//!   capability in the catalogue.
//! - incompatible (the next major version): removing, reordering or
//!   changing a method or its signature, a method appended without a
//!   default body, moving a `last_prefix_field` marker, any change to
//!   `MediaFrame` or another `#[repr(C)]` type, a wire field renamed or
//!   made required, a format or topic given another meaning.
//!
//! The `last_prefix_field` markers stay where 1.0.0 put them until 2.0.0;
//! what 1.x adds comes after them. `tests/fixtures/frozen/api` is 1.0.0 as
//! released, never edited: a plugin built against it must keep loading and
//! answering in every later 1.x host (`tests/tests/e2e/api.rs`).
//!
//! | version | what it added |
//! |---|---|
//! | 1.0.0 | the plugin, reply, frame sink and host traits; `MediaFrame` |
//! | 1.1.0 | `RawHost::clock_us`, the media clock |
//! | 1.2.0 | `Signal::Stream`: a plugin asks for a stream of its own in a call (the host renegotiates) |

// abi_stable's derive macros generate impls inside constants.
#![allow(non_local_definitions)]

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RArc, RBox, RResult, RSlice, RStr, RString},
    StableAbi,
};

/// Frame formats on the media bus (`MediaFrame::format`).
pub const FRAME_I420: u32 = 1;
pub const FRAME_RGBA: u32 = 2;
/// Interleaved signed 16-bit PCM; `width` is the sample rate, `height` the channels.
pub const FRAME_PCM16: u32 = 3;
/// An H.264 access unit as received (Annex B, SPS and PPS before IDRs);
/// `width`/`height` 0 when unknown.
pub const FRAME_H264: u32 = 4;
/// A VP8 frame as received.
pub const FRAME_VP8: u32 = 5;
/// Or'ed into an encoded frame's `format`: it is a keyframe.
pub const FRAME_KEYFRAME: u32 = 1 << 16;

/// A frame published on the media bus. Borrowed: a subscriber copies what
/// it wants to keep.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub struct MediaFrame<'a> {
    pub format: u32,
    pub width: u32,
    pub height: u32,
    /// Presentation time in microseconds, never going back within a topic;
    /// preferably on the host's media clock (`Host::clock_us`, API 1.1).
    pub pts_us: u64,
    pub data: RSlice<'a, u8>,
}

/// The root module every plugin library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// Creates the plugin. Must not open devices: plugins load on machines
    /// without sound cards, cameras or displays.
    #[sabi(last_prefix_field)]
    pub new: extern "C" fn(host: HostBox) -> RResult<PluginBox, RString>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "seatphone_plugin";
    const NAME: &'static str = "seatphone_plugin";
    // The plugin-api crate's own version: abi_stable refuses a library built
    // against an incompatible one and names both versions.
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// A plugin as the host sees it. JSON in, JSON out (see `wire`).
#[sabi_trait]
pub trait RawPlugin: Send + Sync {
    /// `wire::PluginInfo`.
    fn info(&self) -> RString;
    /// The page's `config` object; returns `wire::ConfigureOutcome`.
    fn configure(&self, config: RStr<'_>) -> RString;
    /// `wire::Request`; the plugin answers through `reply`, exactly once,
    /// from any thread, whenever it is done.
    fn command(&self, request: RStr<'_>, reply: ReplyBox);
    /// `wire::CallEvent`.
    fn call_event(&self, event: RStr<'_>);
    /// `wire::OfferRequest` → `wire::OfferResponse`.
    fn media_offer(&self, request: RStr<'_>) -> RResult<RString, RString>;
    /// `wire::AnswerRequest` → `wire::AnswerResponse`.
    fn media_answer(&self, request: RStr<'_>) -> RResult<RString, RString>;
    /// `wire::StartRequest`: both sides agreed, media may flow.
    fn media_start(&self, request: RStr<'_>) -> RResult<(), RString>;
    /// `wire::StopRequest`.
    fn media_stop(&self, request: RStr<'_>);
    /// The engine is stopping: close devices, flush files.
    #[sabi(last_prefix_field)]
    fn shutdown(&self);
}

pub type PluginBox = RawPlugin_TO<'static, RBox<()>>;

/// Where a plugin sends the response to one command.
#[sabi_trait]
pub trait RawReply: Send + Sync {
    /// `wire::Response` as JSON. Only the first call counts.
    #[sabi(last_prefix_field)]
    fn send(&self, response: RStr<'_>);
}

pub type ReplyBox = RawReply_TO<'static, RBox<()>>;

/// Receives frames of a topic a plugin subscribed to.
#[sabi_trait]
pub trait RawFrameSink: Send + Sync {
    #[sabi(last_prefix_field)]
    fn frame(&self, topic: RStr<'_>, frame: MediaFrame<'_>);
}

pub type FrameSinkBox = RawFrameSink_TO<'static, RBox<()>>;

/// What the host offers a plugin.
#[sabi_trait]
pub trait RawHost: Send + Sync + Clone {
    /// An event to the page: `notify` must be one the plugin declared.
    fn emit(&self, notify: u32, description: RStr<'_>, param: RStr<'_>);
    /// `level`: 1 error, 2 warn, 3 info, 4 debug, 5 trace.
    fn log(&self, level: u8, message: RStr<'_>);
    /// The host's config file as a JSON object; a plugin reads its own
    /// section by its name (`settings["audio"]`).
    fn settings(&self) -> RString;
    /// `wire::Signal` for the host itself (media up, media timeout, DTMF …).
    fn signal(&self, signal: RStr<'_>);
    fn publish(&self, topic: RStr<'_>, frame: MediaFrame<'_>);
    /// Returns a subscription id for `unsubscribe`.
    fn subscribe(&self, topic: RStr<'_>, sink: FrameSinkBox) -> u64;
    #[sabi(last_prefix_field)]
    fn unsubscribe(&self, id: u64);

    // 1.1.0

    /// The media clock for `MediaFrame::pts_us`: microseconds on one
    /// monotonic clock of the host's, the same for every plugin, so a call's
    /// sound and pictures line up. A 1.0 host lacks it: then a clock of this
    /// library's own.
    fn clock_us(&self) -> u64 {
        library_clock_us()
    }
}

/// Microseconds since this library first asked.
fn library_clock_us() -> u64 {
    static ZERO: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let zero = ZERO.get_or_init(std::time::Instant::now);
    u64::try_from(zero.elapsed().as_micros()).unwrap_or(u64::MAX)
}

pub type HostBox = RawHost_TO<'static, RArc<()>>;
