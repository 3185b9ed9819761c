//! The media bus: plugins publish frames by topic and subscribe to topics,
//! without knowing each other. A subscription to `prefix/*` receives every
//! topic under `prefix/`.
//!
//! A publisher never waits for a subscriber. Each subscription has a queue
//! of [`QUEUE`] frames and a thread of its own, started with its first
//! frame, that hands them to the sink in order; `publish` copies the frame
//! once for the subscribers whose queue has room and drops it for the
//! others. A subscriber that lost an
//! encoded frame gets nothing more of that topic until its next keyframe,
//! so what it receives always decodes.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};

use abi_stable::std_types::RSlice;
use seatphone_plugin_api::abi::FrameSinkBox;
use seatphone_plugin_api::{MediaFrame, FRAME_H264, FRAME_KEYFRAME, FRAME_VP8};

/// Frames a subscription may have waiting: enough to ride out a sink's
/// hiccup (160 ms of 20 ms sound, a quarter second of 30 fps pictures)
/// while bounding what a stuck one holds.
pub const QUEUE: usize = 8;

#[derive(Default)]
pub struct Bus {
    next_id: AtomicU64,
    subs: RwLock<Vec<Subscription>>,
}

struct Subscription {
    id: u64,
    pattern: String,
    queue: SyncSender<Owned>,
    /// The queue's far end and the sink, until the first frame starts the
    /// thread that takes them: plugins subscribe when they load, and an
    /// idle seat ran one idle thread per subscription (issue 20: six with
    /// every plugin, their stacks and allocator arenas ~70 KiB).
    waiting: Mutex<Option<(Receiver<Owned>, FrameSinkBox)>>,
    started: AtomicBool,
    /// Topics of encoded frames this subscriber lost one of: skipped until
    /// a keyframe.
    resync: Mutex<HashSet<String>>,
}

/// A frame copied out of the publisher's buffer, shared by its subscribers.
struct Owned {
    topic: Arc<str>,
    format: u32,
    width: u32,
    height: u32,
    pts_us: u64,
    data: Arc<[u8]>,
}

fn matches(pattern: &str, topic: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => topic.starts_with(prefix),
        None => pattern == topic,
    }
}

fn is_encoded(format: u32) -> bool {
    matches!(format & !FRAME_KEYFRAME, FRAME_H264 | FRAME_VP8)
}

impl Subscription {
    /// Whether this frame should be offered to the subscriber: not an
    /// encoded frame after a loss, before the next keyframe.
    fn wants(&self, topic: &str, format: u32) -> bool {
        if !is_encoded(format) {
            return true;
        }
        let resync = self.resync.lock().unwrap_or_else(|e| e.into_inner());
        format & FRAME_KEYFRAME != 0 || !resync.contains(topic)
    }

    /// Starts the delivery thread, once.
    fn start(&self) {
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let waiting = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some((frames, sink)) = waiting else {
            return;
        };
        self.started.store(true, Ordering::Release);
        let spawned = std::thread::Builder::new()
            .name(format!("bus-sub-{}", self.id))
            .spawn(move || deliver(frames, sink));
        if let Err(e) = spawned {
            // Without its thread the subscription gets nothing more (its
            // queue reports disconnected); the plugin goes on without frames.
            tracing::warn!(
                "media bus: no thread for the subscription to {}: {e}",
                self.pattern
            );
        }
    }

    fn delivered(&self, topic: &str, format: u32, sent: bool) {
        if !is_encoded(format) {
            return;
        }
        let mut resync = self.resync.lock().unwrap_or_else(|e| e.into_inner());
        if sent {
            resync.remove(topic);
        } else {
            resync.insert(topic.to_owned());
        }
    }
}

impl Bus {
    pub fn publish(&self, topic: &str, frame: MediaFrame<'_>) {
        let subs = self.subs.read().unwrap_or_else(|e| e.into_inner());
        let mut copy: Option<(Arc<str>, Arc<[u8]>)> = None;
        for s in subs.iter().filter(|s| matches(&s.pattern, topic)) {
            if !s.wants(topic, frame.format) {
                continue;
            }
            let (topic_copy, data) =
                copy.get_or_insert_with(|| (topic.into(), frame.data.as_slice().into()));
            let owned = Owned {
                topic: topic_copy.clone(),
                format: frame.format,
                width: frame.width,
                height: frame.height,
                pts_us: frame.pts_us,
                data: data.clone(),
            };
            let sent = match s.queue.try_send(owned) {
                Ok(()) => {
                    s.start();
                    true
                }
                // Full: this subscriber loses the frame. Disconnected: its
                // thread is gone (it is being unsubscribed).
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            };
            s.delivered(topic, frame.format, sent);
        }
    }

    pub fn subscribe(&self, pattern: &str, sink: FrameSinkBox) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (queue, frames) = sync_channel(QUEUE);
        let mut subs = self.subs.write().unwrap_or_else(|e| e.into_inner());
        subs.push(Subscription {
            id,
            pattern: pattern.to_owned(),
            queue,
            waiting: Mutex::new(Some((frames, sink))),
            started: AtomicBool::new(false),
            resync: Mutex::default(),
        });
        id
    }

    /// No frame published after this returns reaches the subscription; its
    /// thread ends once it has handed over what was already queued. Never
    /// waits for the sink (a sink may unsubscribe itself).
    pub fn unsubscribe(&self, id: u64) {
        let mut subs = self.subs.write().unwrap_or_else(|e| e.into_inner());
        let gone: Vec<Subscription> = subs.extract_if(.., |s| s.id == id).collect();
        drop(subs);
        // A sink that never got a frame is dropped here, out of the lock:
        // its plugin's drop may call the bus.
        drop(gone);
    }
}

/// A subscription's thread: frames to the sink, one at a time, until the
/// subscription is dropped.
fn deliver(frames: Receiver<Owned>, sink: FrameSinkBox) {
    for f in frames {
        let frame = MediaFrame {
            format: f.format,
            width: f.width,
            height: f.height,
            pts_us: f.pts_us,
            data: RSlice::from_slice(&f.data),
        };
        sink.frame(f.topic.as_ref().into(), frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::sabi_trait::TD_Opaque;
    use abi_stable::std_types::RStr;
    use seatphone_plugin_api::abi::{RawFrameSink, RawFrameSink_TO};
    use seatphone_plugin_api::FRAME_I420;
    use std::sync::mpsc::{channel, Sender};
    use std::time::Duration;

    /// Tells the test what it receives (topic, first byte) as it arrives;
    /// when gated, then waits for a word from the test before returning.
    struct Probe {
        seen: Mutex<Sender<(String, u8)>>,
        gate: Option<Mutex<Receiver<()>>>,
    }

    impl RawFrameSink for Probe {
        fn frame(&self, topic: RStr<'_>, frame: MediaFrame<'_>) {
            let first = frame.data.as_slice().first().copied().unwrap_or(0);
            let _ = self.seen.lock().unwrap().send((topic.to_string(), first));
            if let Some(gate) = &self.gate {
                let _ = gate.lock().unwrap().recv();
            }
        }
    }

    fn probe(bus: &Bus, pattern: &str, gated: bool) -> (u64, Receiver<(String, u8)>, Sender<()>) {
        let (seen_tx, seen) = channel();
        let (open, gate) = channel();
        let sink = Probe {
            seen: Mutex::new(seen_tx),
            gate: gated.then(|| Mutex::new(gate)),
        };
        let id = bus.subscribe(pattern, RawFrameSink_TO::from_value(sink, TD_Opaque));
        (id, seen, open)
    }

    fn frame(format: u32, byte: &[u8; 1]) -> MediaFrame<'_> {
        MediaFrame {
            format,
            width: 2,
            height: 2,
            pts_us: 0,
            data: RSlice::from_slice(byte),
        }
    }

    fn next(seen: &Receiver<(String, u8)>) -> (String, u8) {
        seen.recv_timeout(Duration::from_secs(10)).expect("a frame")
    }

    fn next_byte(seen: &Receiver<(String, u8)>) -> u8 {
        next(seen).1
    }

    #[test]
    fn frames_reach_exact_and_prefix_subscribers_until_unsubscribed() {
        let bus = Bus::default();
        let (id, seen, _) = probe(&bus, "remote-video/*", false);
        bus.publish("remote-video/7", frame(FRAME_I420, b"a"));
        bus.publish("local-video", frame(FRAME_I420, b"c"));
        bus.publish("remote-video/8", frame(FRAME_I420, b"b"));
        assert_eq!(next(&seen), ("remote-video/7".to_string(), b'a'));
        assert_eq!(next(&seen), ("remote-video/8".to_string(), b'b'));
        bus.unsubscribe(id);
        bus.publish("remote-video/7", frame(FRAME_I420, b"e"));
        // The thread ends with the subscription: the channel closes empty.
        assert!(seen.recv().is_err());
    }

    /// A subscription costs no thread until a frame of its own arrives; a
    /// sink that never got one is let go when it is unsubscribed.
    #[test]
    fn a_subscription_starts_its_thread_with_its_first_frame() {
        let bus = Bus::default();
        let started = |bus: &Bus| bus.subs.read().unwrap()[0].started.load(Ordering::Acquire);
        let (id, seen, _) = probe(&bus, "remote-video/*", false);
        bus.publish("local-video", frame(FRAME_I420, b"a"));
        assert!(!started(&bus), "a thread for a frame of another topic");
        bus.publish("remote-video/1", frame(FRAME_I420, b"b"));
        assert!(started(&bus));
        assert_eq!(next(&seen), ("remote-video/1".to_string(), b'b'));
        bus.unsubscribe(id);
        assert!(seen.recv().is_err());

        let (id, seen, _) = probe(&bus, "remote-video/*", false);
        assert!(!started(&bus));
        bus.unsubscribe(id);
        assert!(seen.recv().is_err(), "the unstarted sink was kept");
    }

    /// A sink that does not return does not slow its publisher: a second of
    /// 60 fps pictures is published while it holds the first one; it then
    /// gets what its queue held, in order, and loses the rest.
    #[test]
    fn a_stuck_subscriber_never_stalls_the_publisher_and_loses_what_its_queue_cannot_hold() {
        let bus = Arc::new(Bus::default());
        let (_id, seen, open) = probe(&bus, "call/1/*", true);
        // Published from a thread of its own, so that a bus that made the
        // publisher wait fails the test instead of hanging it.
        let (go, start) = channel::<()>();
        let (done, published) = channel();
        let publisher = bus.clone();
        std::thread::spawn(move || {
            publisher.publish("call/1/pictures", frame(FRAME_I420, &[0]));
            let mut n = 1;
            if start.recv().is_ok() {
                for i in 1..60u8 {
                    publisher.publish("call/1/pictures", frame(FRAME_I420, &[i]));
                    n += 1;
                }
            }
            let _ = done.send(n);
        });
        assert_eq!(next_byte(&seen), 0, "the sink holds the first frame");
        let _ = go.send(());
        assert_eq!(
            published.recv_timeout(Duration::from_secs(30)),
            Ok(60),
            "the publisher was held up by the stuck sink"
        );

        for _ in 0..60 {
            let _ = open.send(());
        }
        let got: Vec<u8> = (0..QUEUE).map(|_| next_byte(&seen)).collect();
        assert_eq!(got, (1..=QUEUE as u8).collect::<Vec<_>>());
        assert!(
            seen.recv_timeout(Duration::from_millis(300)).is_err(),
            "more than the queue held"
        );
    }

    /// After losing an encoded frame a subscriber gets nothing of that
    /// topic before its next keyframe (it could not decode it).
    #[test]
    fn a_subscriber_that_lost_an_encoded_frame_resumes_at_the_next_keyframe() {
        let bus = Bus::default();
        let (_id, seen, open) = probe(&bus, "enc", true);
        let key = FRAME_VP8 | FRAME_KEYFRAME;
        bus.publish("enc", frame(key, &[0]));
        assert_eq!(next_byte(&seen), 0);
        for i in 1..=(QUEUE as u8 + 4) {
            bus.publish("enc", frame(FRAME_VP8, &[i]));
        }
        for _ in 0..=QUEUE {
            let _ = open.send(());
        }
        let got: Vec<u8> = (0..QUEUE).map(|_| next_byte(&seen)).collect();
        assert_eq!(got, (1..=QUEUE as u8).collect::<Vec<_>>());
        // The queue is empty again, but a delta still cannot be decoded:
        // skipped. The keyframe and what follows it arrive.
        let base = QUEUE as u8 + 10;
        bus.publish("enc", frame(FRAME_VP8, &[base]));
        bus.publish("enc", frame(key, &[base + 1]));
        bus.publish("enc", frame(FRAME_VP8, &[base + 2]));
        for _ in 0..2 {
            let _ = open.send(());
        }
        assert_eq!(next_byte(&seen), base + 1);
        assert_eq!(next_byte(&seen), base + 2);
    }
}
