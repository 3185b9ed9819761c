//! The host as a plugin sees it: typed wrappers over [`RawHost`].

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RArc, RStr},
};
use serde_json::Value;

use crate::abi::{HostBox, MediaFrame, RawFrameSink, RawFrameSink_TO, RawHost, RawHost_TO};
use crate::wire::Signal;
use crate::Event;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

/// Given to a plugin when it is created; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Host(HostBox);

impl Host {
    pub fn from_raw(raw: HostBox) -> Self {
        Self(raw)
    }

    /// Wraps a host implementation (the engine's, or a test double).
    pub fn new(host: impl RawHost + 'static) -> Self {
        Self(RawHost_TO::from_ptr(RArc::new(host), TD_Opaque))
    }

    pub fn into_raw(self) -> HostBox {
        self.0
    }

    /// An event to the page; `notify` must be one the plugin declared.
    pub fn emit(&self, notify: u32, description: &str, param: &Value) {
        let param = param.to_string();
        self.0
            .emit(notify, RStr::from_str(description), RStr::from_str(&param));
    }

    /// A standard event this plugin's capability sends (the catalogue's
    /// `sent_by`, e.g. `Event::LocalQos` for `audio`).
    pub fn emit_standard(&self, event: Event, param: &Value) {
        self.emit(event.notify(), event.description(), param);
    }

    pub fn log(&self, level: LogLevel, message: &str) {
        self.0.log(level as u8, RStr::from_str(message));
    }

    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, message);
    }

    pub fn warn(&self, message: &str) {
        self.log(LogLevel::Warn, message);
    }

    /// This plugin's section of the host's config file (`[audio]` for the
    /// plugin named `audio`), or an empty object.
    pub fn settings(&self, section: &str) -> Value {
        serde_json::from_str::<Value>(self.0.settings().as_str())
            .ok()
            .and_then(|mut v| v.get_mut(section).map(Value::take))
            .unwrap_or_else(|| Value::Object(Default::default()))
    }

    pub fn signal(&self, signal: &Signal) {
        let json = serde_json::to_string(signal).unwrap_or_default();
        self.0.signal(RStr::from_str(&json));
    }

    /// The media clock for `MediaFrame::pts_us`: microseconds on one
    /// monotonic clock of the host's, shared by every plugin (plugin API 1.1).
    pub fn clock_us(&self) -> u64 {
        self.0.clock_us()
    }

    /// A frame for the subscribers of `topic` (see [`crate::topics`]).
    /// Returns at once: the host copies the frame for the subscribers that
    /// have room for it.
    pub fn publish(&self, topic: &str, frame: MediaFrame<'_>) {
        self.0.publish(RStr::from_str(topic), frame);
    }

    /// Frames of `topic` (or of every topic under `prefix/` for
    /// `prefix/*`) go to `sink` until the subscription is dropped, on a
    /// thread of the host's, one at a time; a slow sink loses frames rather
    /// than slowing the publisher (see [`crate::topics`]). The frame is
    /// borrowed for the call: copy what you keep.
    pub fn subscribe(
        &self,
        topic: &str,
        sink: impl Fn(&str, MediaFrame<'_>) + Send + Sync + 'static,
    ) -> FrameSubscription {
        let sink = RawFrameSink_TO::from_value(FnSink(sink), TD_Opaque);
        let id = self.0.subscribe(RStr::from_str(topic), sink);
        FrameSubscription {
            host: self.clone(),
            id,
        }
    }
}

struct FnSink<F>(F);

impl<F: Fn(&str, MediaFrame<'_>) + Send + Sync> RawFrameSink for FnSink<F> {
    fn frame(&self, topic: RStr<'_>, frame: MediaFrame<'_>) {
        (self.0)(topic.as_str(), frame)
    }
}

/// Unsubscribes when dropped.
pub struct FrameSubscription {
    host: Host,
    id: u64,
}

impl Drop for FrameSubscription {
    fn drop(&mut self) {
        self.host.0.unsubscribe(self.id);
    }
}
