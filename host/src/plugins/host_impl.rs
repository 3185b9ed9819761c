//! The host handle each plugin gets: its events go to the page (only those it
//! declared), its logs to tracing under its name, its signals to the engine.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use abi_stable::std_types::{RStr, RString};
use seatphone_plugin_api::abi::{FrameSinkBox, RawHost};
use seatphone_plugin_api::{MediaFrame, Signal};
use tokio::sync::mpsc::UnboundedSender;

use super::bus::Bus;
use crate::api::frame::event_frame;
use crate::api::pages::Pages;

/// What all plugin handles share with the engine.
pub struct HostShared {
    pub pages: Arc<Pages>,
    pub bus: Bus,
    pub settings_json: String,
    pub signals: UnboundedSender<Signal>,
}

/// Filled once the plugin's `info` passed the checks.
#[derive(Default)]
pub struct Declared {
    pub name: String,
    pub events: HashSet<u32>,
}

#[derive(Clone)]
pub struct PluginHost {
    pub shared: Arc<HostShared>,
    pub declared: Arc<OnceLock<Declared>>,
    /// The library file, for log lines before the plugin has a name.
    pub file: Arc<str>,
}

impl PluginHost {
    fn name(&self) -> &str {
        self.declared
            .get()
            .map(|d| d.name.as_str())
            .unwrap_or(&self.file)
    }
}

impl RawHost for PluginHost {
    fn emit(&self, notify: u32, description: RStr<'_>, param: RStr<'_>) {
        let Some(declared) = self.declared.get() else {
            tracing::warn!(plugin = %self.file, notify, "event before the plugin was registered: dropped");
            return;
        };
        if !declared.events.contains(&notify) {
            tracing::warn!(plugin = %declared.name, notify, "event the plugin did not declare: dropped");
            return;
        }
        let param = serde_json::from_str(param.as_str()).unwrap_or(serde_json::Value::Null);
        self.shared
            .pages
            .send_event(event_frame(notify, description.as_str(), &param));
    }

    fn log(&self, level: u8, message: RStr<'_>) {
        let (plugin, message) = (self.name(), message.as_str());
        match level {
            0 | 1 => tracing::error!(plugin, "{message}"),
            2 => tracing::warn!(plugin, "{message}"),
            3 => tracing::info!(plugin, "{message}"),
            4 => tracing::debug!(plugin, "{message}"),
            _ => tracing::trace!(plugin, "{message}"),
        }
    }

    fn settings(&self) -> RString {
        self.shared.settings_json.as_str().into()
    }

    fn signal(&self, signal: RStr<'_>) {
        match serde_json::from_str::<Signal>(signal.as_str()) {
            Ok(s) => {
                let _ = self.shared.signals.send(s);
            }
            Err(e) => tracing::warn!(plugin = self.name(), "unreadable signal dropped: {e}"),
        }
    }

    fn publish(&self, topic: RStr<'_>, frame: MediaFrame<'_>) {
        self.shared.bus.publish(topic.as_str(), frame);
    }

    fn subscribe(&self, topic: RStr<'_>, sink: FrameSinkBox) -> u64 {
        self.shared.bus.subscribe(topic.as_str(), sink)
    }

    fn unsubscribe(&self, id: u64) {
        self.shared.bus.unsubscribe(id);
    }

    fn clock_us(&self) -> u64 {
        // One zero for the process, whichever plugin asks first.
        static ZERO: OnceLock<Instant> = OnceLock::new();
        let zero = ZERO.get_or_init(Instant::now);
        u64::try_from(zero.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}
