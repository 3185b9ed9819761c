//! A host double: records events, signals and logs; serves a settings object.
#![allow(dead_code)]

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seatphone_plugin_api::abi::{FrameSinkBox, RawHost};
use seatphone_plugin_api::abi_stable::std_types::{RStr, RString};
use seatphone_plugin_api::{reply_from_fn, Command, Host, MediaFrame, Plugin, Request};
use serde_json::{json, Value};

/// A frame the plugin put on the media bus: topic, `pts_us`, 16-bit samples.
pub type BusFrame = (String, u64, Vec<i16>);

#[derive(Clone, Default)]
pub struct TestHost {
    pub settings: Arc<Value>,
    pub events: Arc<Mutex<Vec<(u32, Value)>>>,
    pub signals: Arc<Mutex<Vec<Value>>>,
    pub logs: Arc<Mutex<Vec<String>>>,
    /// What went on the media bus.
    pub frames: Arc<Mutex<Vec<BusFrame>>>,
}

impl RawHost for TestHost {
    fn emit(&self, notify: u32, _description: RStr<'_>, param: RStr<'_>) {
        let param = serde_json::from_str(param.as_str()).unwrap_or(Value::Null);
        self.events.lock().unwrap().push((notify, param));
    }
    fn log(&self, _level: u8, message: RStr<'_>) {
        eprintln!("[plugin] {message}");
        self.logs.lock().unwrap().push(message.to_string());
    }
    fn settings(&self) -> RString {
        self.settings.to_string().into()
    }
    fn signal(&self, signal: RStr<'_>) {
        let v = serde_json::from_str(signal.as_str()).unwrap_or(Value::Null);
        self.signals.lock().unwrap().push(v);
    }
    fn publish(&self, topic: RStr<'_>, frame: MediaFrame<'_>) {
        let samples = frame
            .data
            .as_slice()
            .chunks_exact(2)
            .map(|b| i16::from_ne_bytes([b[0], b[1]]))
            .collect();
        self.frames
            .lock()
            .unwrap()
            .push((topic.to_string(), frame.pts_us, samples));
    }
    fn subscribe(&self, _topic: RStr<'_>, _sink: FrameSinkBox) -> u64 {
        0
    }
    fn unsubscribe(&self, _id: u64) {}
}

impl TestHost {
    pub fn with_audio(settings: Value) -> Self {
        Self {
            settings: Arc::new(json!({ "audio": settings })),
            ..Self::default()
        }
    }

    pub fn host(&self) -> Host {
        Host::new(self.clone())
    }

    pub fn events_of(&self, notify: u32) -> Vec<Value> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|(n, _)| *n == notify)
            .map(|(_, p)| p.clone())
            .collect()
    }
}

/// Sends one command and waits for its response (as JSON).
pub fn call(plugin: &impl Plugin, command: Command, param: Value) -> Value {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let reply = reply_from_fn(move |r| {
        let _ = tx.lock().unwrap().send(r.to_owned());
    });
    let request = Request {
        cmd: command.cmd(),
        description: command.description().into(),
        param,
    };
    plugin.command(request, seatphone_plugin_api::Reply::from_raw(reply));
    let text = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no response within 20 s");
    serde_json::from_str(&text).unwrap()
}
