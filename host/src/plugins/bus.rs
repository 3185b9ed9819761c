//! The media bus: plugins publish decoded frames by topic and subscribe to
//! topics, without knowing each other. A subscription to `prefix/*` receives
//! every topic under `prefix/`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use seatphone_plugin_api::abi::FrameSinkBox;
use seatphone_plugin_api::MediaFrame;

#[derive(Default)]
pub struct Bus {
    next_id: AtomicU64,
    subs: RwLock<Vec<Subscription>>,
}

struct Subscription {
    id: u64,
    pattern: String,
    sink: FrameSinkBox,
}

fn matches(pattern: &str, topic: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => topic.starts_with(prefix),
        None => pattern == topic,
    }
}

impl Bus {
    pub fn publish(&self, topic: &str, frame: MediaFrame<'_>) {
        let subs = self.subs.read().unwrap_or_else(|e| e.into_inner());
        for s in subs.iter().filter(|s| matches(&s.pattern, topic)) {
            s.sink.frame(topic.into(), frame);
        }
    }

    pub fn subscribe(&self, pattern: &str, sink: FrameSinkBox) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut subs = self.subs.write().unwrap_or_else(|e| e.into_inner());
        subs.push(Subscription {
            id,
            pattern: pattern.to_owned(),
            sink,
        });
        id
    }

    pub fn unsubscribe(&self, id: u64) {
        let mut subs = self.subs.write().unwrap_or_else(|e| e.into_inner());
        subs.retain(|s| s.id != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::sabi_trait::TD_Opaque;
    use abi_stable::std_types::{RSlice, RStr};
    use seatphone_plugin_api::abi::{RawFrameSink, RawFrameSink_TO};
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    struct Collect(Seen);
    impl RawFrameSink for Collect {
        fn frame(&self, topic: RStr<'_>, frame: MediaFrame<'_>) {
            self.0
                .lock()
                .unwrap()
                .push((topic.to_string(), frame.data.to_vec()));
        }
    }

    #[test]
    fn frames_reach_exact_and_prefix_subscribers_until_unsubscribed() {
        let bus = Bus::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let id = bus.subscribe(
            "remote-video/*",
            RawFrameSink_TO::from_value(Collect(seen.clone()), TD_Opaque),
        );
        let frame = |d: &'static [u8]| MediaFrame {
            format: 1,
            width: 2,
            height: 2,
            pts_us: 0,
            data: RSlice::from_slice(d),
        };
        bus.publish("remote-video/7", frame(b"ab"));
        bus.publish("local-video", frame(b"cd"));
        bus.unsubscribe(id);
        bus.publish("remote-video/7", frame(b"ef"));
        assert_eq!(
            *seen.lock().unwrap(),
            vec![("remote-video/7".to_string(), b"ab".to_vec())]
        );
    }
}
