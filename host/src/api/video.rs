//! The video socket (`/video` on the engine port): a page shows a call's
//! video in its own `<canvas>` or `<video>`. The host sends the pictures
//! the call already has encoded (`remote-video-encoded` / `local-video-encoded`
//! on the media bus) as binary WebSocket messages; the page decodes them
//! with WebCodecs. Nothing is decoded or encoded again here.
//!
//! Admission is the API's: the Host and Origin checks of `server.rs`, the
//! same allow-list. A slow page never holds up the call: the bus hands
//! pictures to this socket's sink without waiting, the sink puts them in a
//! short queue without waiting, and when the queue is full the page loses
//! pictures up to the next keyframe, which is asked for at once.
//!
//! Wire format (PROTOCOL.md "Video in the page"): a 16-byte header, then
//! the access unit as the call carries it (H.264 Annex B, or a VP8 frame).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RSlice, RStr};
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use seatphone_plugin_api::abi::{RawFrameSink, RawFrameSink_TO};
use seatphone_plugin_api::{topics, MediaFrame, FRAME_H264, FRAME_KEYFRAME, FRAME_VP8};
use tokio::sync::mpsc;

use crate::plugins::host_impl::HostShared;

pub const PATH: &str = "/video";
/// The sub-protocol the SDK offers; a client offering none is taken too.
pub const SUB_PROTOCOL: &str = "seatphone_video";

pub const HEADER_LEN: usize = 16;
pub const VERSION: u8 = 1;
pub const FLAG_KEYFRAME: u8 = 1;
pub const CODEC_VP8: u8 = 1;
pub const CODEC_H264: u8 = 2;

/// Pictures waiting for the page's socket: a tenth of a second at 25 fps.
/// A page further behind than that loses pictures up to the next keyframe.
pub const QUEUE: usize = 3;
/// Video sockets open at once (each holds a bus subscription and its thread).
pub const MAX_SOCKETS: usize = 8;
/// Keyframe requests for one socket at most this often.
const ASK_GAP: Duration = Duration::from_millis(500);
/// Following "the" video call (no `callId`): another call's pictures are
/// taken once the followed call has sent none for this long.
const SWITCH_AFTER: Duration = Duration::from_secs(1);

const PING_EVERY: Duration = Duration::from_secs(5);
const DEAD_AFTER: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The peer's pictures, as received.
    Remote,
    /// Ours, as sent.
    Local,
}

impl Stream {
    fn topic_kind(self) -> &'static str {
        match self {
            Stream::Remote => topics::REMOTE_VIDEO_ENCODED,
            Stream::Local => topics::LOCAL_VIDEO_ENCODED,
        }
    }

    fn keyframe_kind(self) -> &'static str {
        match self {
            Stream::Remote => topics::KEYFRAME_REQUEST,
            Stream::Local => topics::LOCAL_KEYFRAME_REQUEST,
        }
    }

    fn wire(self) -> u8 {
        match self {
            Stream::Remote => 0,
            Stream::Local => 1,
        }
    }
}

/// What a page asked for in the socket's query: `stream` (`remote`, the
/// default, or `local`) and `callId` (absent: whichever call has video).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    pub stream: Stream,
    pub call_id: Option<u32>,
}

impl Want {
    /// The error is the sentence the 400 answer carries.
    pub fn from_query(query: &HashMap<String, String>) -> Result<Want, String> {
        let stream = match query.get("stream").map(String::as_str) {
            None | Some("remote") => Stream::Remote,
            Some("local") => Stream::Local,
            Some(other) => {
                return Err(format!(
                    "stream must be \"remote\" or \"local\", got {:?}",
                    other.chars().take(40).collect::<String>()
                ))
            }
        };
        let call_id = match query.get("callId") {
            None => None,
            Some(id) => Some(id.parse::<u32>().map_err(|_| {
                format!(
                    "callId must be a call's number, got {:?}",
                    id.chars().take(40).collect::<String>()
                )
            })?),
        };
        Ok(Want { stream, call_id })
    }

    fn pattern(&self) -> String {
        match self.call_id {
            Some(id) => topics::for_call(self.stream.topic_kind(), id),
            None => topics::every_call(self.stream.topic_kind()),
        }
    }
}

/// The codec byte of a bus frame's format; `None` for anything not encoded.
pub fn codec_of(format: u32) -> Option<u8> {
    match format & !FRAME_KEYFRAME {
        FRAME_VP8 => Some(CODEC_VP8),
        FRAME_H264 => Some(CODEC_H264),
        _ => None,
    }
}

/// One binary message: the header, then the access unit.
pub fn message(
    stream: Stream,
    codec: u8,
    keyframe: bool,
    call_id: u32,
    pts_us: u64,
    data: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + data.len());
    out.push(VERSION);
    out.push(if keyframe { FLAG_KEYFRAME } else { 0 });
    out.push(codec);
    out.push(stream.wire());
    out.extend_from_slice(&call_id.to_be_bytes());
    out.extend_from_slice(&pts_us.to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// Which pictures go to the page, sans-IO: the followed call's, from a
/// keyframe on, and again from the next keyframe after one was lost.
#[derive(Debug)]
pub struct Feed {
    want: Want,
    /// The call whose pictures are sent, and when its last one came.
    following: Option<(u32, Instant)>,
    /// Nothing but a keyframe can be decoded next.
    need_key: bool,
    asked: Option<Instant>,
}

/// What to do with one picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub send: bool,
    /// Ask this call for a keyframe.
    pub ask: Option<u32>,
}

impl Feed {
    pub fn new(want: Want) -> Feed {
        Feed {
            want,
            following: None,
            need_key: true,
            asked: None,
        }
    }

    pub fn offer(&mut self, call: u32, keyframe: bool, now: Instant) -> Decision {
        let skip = Decision {
            send: false,
            ask: None,
        };
        if self.want.call_id.is_some_and(|id| id != call) {
            return skip;
        }
        match self.following {
            Some((followed, last)) if followed != call => {
                if now.duration_since(last) < SWITCH_AFTER {
                    return skip;
                }
                self.following = Some((call, now));
                self.need_key = true;
            }
            _ => self.following = Some((call, now)),
        }
        if self.need_key && !keyframe {
            return Decision {
                send: false,
                ask: self.ask(call, now),
            };
        }
        self.need_key = false;
        Decision {
            send: true,
            ask: None,
        }
    }

    /// A picture that was to be sent found the queue full.
    pub fn lost(&mut self, call: u32, now: Instant) -> Option<u32> {
        self.need_key = true;
        self.ask(call, now)
    }

    /// The page asked for a keyframe (its decoder failed): nothing more
    /// before one; asked for with the next picture.
    pub fn restart(&mut self) {
        self.need_key = true;
        self.asked = None;
    }

    fn ask(&mut self, call: u32, now: Instant) -> Option<u32> {
        if self.asked.is_some_and(|t| now.duration_since(t) < ASK_GAP) {
            return None;
        }
        self.asked = Some(now);
        Some(call)
    }
}

/// How many video sockets are open, bounded by [`MAX_SOCKETS`].
pub struct VideoSockets {
    shared: Arc<HostShared>,
    open: AtomicUsize,
}

/// One open socket's place; given back when dropped.
pub struct Slot(Arc<VideoSockets>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl VideoSockets {
    pub fn new(shared: Arc<HostShared>) -> Arc<VideoSockets> {
        Arc::new(VideoSockets {
            shared,
            open: AtomicUsize::new(0),
        })
    }

    /// `None` when [`MAX_SOCKETS`] are open.
    pub fn claim(self: &Arc<Self>) -> Option<Slot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_SOCKETS).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.clone()))
    }
}

/// The socket's end of the bus: called on the subscription's thread,
/// never waits.
struct PageSink {
    want: Want,
    feed: Mutex<Feed>,
    queue: mpsc::Sender<Bytes>,
    shared: Arc<HostShared>,
}

impl PageSink {
    fn feed(&self) -> std::sync::MutexGuard<'_, Feed> {
        self.feed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ask_keyframe(&self, call: u32) {
        let topic = topics::for_call(self.want.stream.keyframe_kind(), call);
        let empty = MediaFrame {
            format: 0,
            width: 0,
            height: 0,
            pts_us: 0,
            data: RSlice::from_slice(&[]),
        };
        self.shared.bus.publish(&topic, empty);
    }
}

struct SinkRef(Arc<PageSink>);

impl RawFrameSink for SinkRef {
    fn frame(&self, topic: RStr<'_>, frame: MediaFrame<'_>) {
        let sink = &self.0;
        let (Some(call), Some(codec)) = (topics::call_id(topic.as_str()), codec_of(frame.format))
        else {
            return;
        };
        let keyframe = frame.format & FRAME_KEYFRAME != 0;
        let now = Instant::now();
        let decision = sink.feed().offer(call, keyframe, now);
        let mut ask = decision.ask;
        if decision.send {
            let bytes = message(
                sink.want.stream,
                codec,
                keyframe,
                call,
                frame.pts_us,
                frame.data.as_slice(),
            );
            if let Err(mpsc::error::TrySendError::Full(_)) = sink.queue.try_send(bytes.into()) {
                ask = sink.feed().lost(call, now);
            }
        }
        if let Some(call) = ask {
            sink.ask_keyframe(call);
        }
    }
}

/// Unsubscribes when the socket ends, however it ends.
struct Subscribed<'a>(&'a HostShared, u64);

impl Drop for Subscribed<'_> {
    fn drop(&mut self) {
        self.0.bus.unsubscribe(self.1);
    }
}

pub async fn run(socket: WebSocket, want: Want, slot: Slot) {
    let shared = slot.0.shared.clone();
    let (queue, mut pictures) = mpsc::channel::<Bytes>(QUEUE);
    let sink = Arc::new(PageSink {
        want,
        feed: Mutex::new(Feed::new(want)),
        queue,
        shared: shared.clone(),
    });
    let id = shared.bus.subscribe(
        &want.pattern(),
        RawFrameSink_TO::from_value(SinkRef(sink.clone()), TD_Opaque),
    );
    let _subscribed = Subscribed(&shared, id);
    tracing::info!(?want, "video socket open");

    let (mut out, mut incoming) = socket.split();
    let mut last_heard = tokio::time::Instant::now();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            picture = pictures.recv() => {
                let Some(picture) = picture else { break };
                if out.send(Message::Binary(picture)).await.is_err() {
                    break;
                }
            }
            message = incoming.next() => {
                let Some(Ok(message)) = message else { break };
                last_heard = tokio::time::Instant::now();
                match message {
                    // The page's decoder lost its footing.
                    Message::Text(t) if t.as_str().trim() == "keyframe" => sink.feed().restart(),
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    tracing::info!("video socket: the page stopped answering pings");
                    break;
                }
                if out.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }
    tracing::info!(?want, "video socket closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_query_names_the_stream_and_maybe_the_call() {
        assert_eq!(
            Want::from_query(&query(&[])),
            Ok(Want {
                stream: Stream::Remote,
                call_id: None
            })
        );
        let w = Want::from_query(&query(&[("stream", "local"), ("callId", "42")])).unwrap();
        assert_eq!((w.stream, w.call_id), (Stream::Local, Some(42)));
        assert_eq!(w.pattern(), "local-video-encoded/42");
        assert!(Want::from_query(&query(&[("stream", "both")]))
            .unwrap_err()
            .contains("remote"));
        assert!(Want::from_query(&query(&[("callId", "-1")]))
            .unwrap_err()
            .contains("callId"));
    }

    #[test]
    fn a_message_is_the_header_then_the_access_unit() {
        let m = message(Stream::Local, CODEC_H264, true, 0x0102_0304, 0x55, b"au");
        assert_eq!(
            m,
            [
                &[VERSION, FLAG_KEYFRAME, CODEC_H264, 1, 1, 2, 3, 4][..],
                &0x55u64.to_be_bytes(),
                b"au"
            ]
            .concat()
        );
        assert_eq!(codec_of(FRAME_VP8 | FRAME_KEYFRAME), Some(CODEC_VP8));
        assert_eq!(codec_of(seatphone_plugin_api::FRAME_I420), None);
    }

    fn want(call_id: Option<u32>) -> Want {
        Want {
            stream: Stream::Remote,
            call_id,
        }
    }

    #[test]
    fn pictures_start_at_a_keyframe_which_is_asked_for_once_in_a_while() {
        let mut f = Feed::new(want(Some(7)));
        let t = Instant::now();
        let ms = |n| t + Duration::from_millis(n);
        assert_eq!(
            f.offer(7, false, t),
            Decision {
                send: false,
                ask: Some(7)
            }
        );
        assert_eq!(f.offer(7, false, ms(40)).ask, None, "asked again too soon");
        assert_eq!(f.offer(7, false, ms(600)).ask, Some(7));
        assert!(f.offer(7, true, ms(640)).send);
        assert!(f.offer(7, false, ms(680)).send);
        assert!(!f.offer(8, true, ms(700)).send, "another call's pictures");
    }

    #[test]
    fn after_a_loss_nothing_but_the_next_keyframe() {
        let mut f = Feed::new(want(None));
        let t = Instant::now();
        let ms = |n| t + Duration::from_millis(n);
        assert!(f.offer(3, true, t).send);
        assert_eq!(f.lost(3, ms(40)), Some(3));
        assert!(!f.offer(3, false, ms(80)).send);
        assert!(f.offer(3, true, ms(120)).send);
        f.restart();
        assert_eq!(
            f.offer(3, false, ms(160)),
            Decision {
                send: false,
                ask: Some(3)
            }
        );
    }

    #[test]
    fn without_a_call_id_the_followed_call_is_kept_until_it_goes_quiet() {
        let mut f = Feed::new(want(None));
        let t = Instant::now();
        let ms = |n| t + Duration::from_millis(n);
        assert!(f.offer(1, true, t).send);
        assert!(!f.offer(2, true, ms(500)).send, "call 1 still sends");
        assert!(f.offer(1, false, ms(600)).send);
        assert!(
            !f.offer(2, false, ms(1700)).send,
            "call 2 starts at a keyframe"
        );
        assert!(f.offer(2, true, ms(1740)).send);
        assert!(!f.offer(1, true, ms(1780)).send);
    }

    fn shared() -> Arc<HostShared> {
        let (signals, _) = tokio::sync::mpsc::unbounded_channel();
        Arc::new(HostShared {
            pages: Default::default(),
            bus: Default::default(),
            settings_json: String::new(),
            signals,
        })
    }

    /// Tells the test each topic it gets.
    struct Probe(Mutex<std::sync::mpsc::Sender<String>>);

    impl RawFrameSink for Probe {
        fn frame(&self, topic: RStr<'_>, _: MediaFrame<'_>) {
            let _ = self.0.lock().unwrap().send(topic.to_string());
        }
    }

    /// The bus's thread hands pictures to a page that reads none: the
    /// sink returns at once each time, the page's queue keeps the first
    /// few, a keyframe is asked for, and the page resumes at a keyframe.
    #[test]
    fn a_page_that_does_not_read_never_holds_up_the_bus_and_resumes_at_a_keyframe() {
        let shared = shared();
        let (asked_tx, asked) = std::sync::mpsc::channel();
        shared.bus.subscribe(
            "keyframe-request/5",
            RawFrameSink_TO::from_value(Probe(Mutex::new(asked_tx)), TD_Opaque),
        );
        let want = Want {
            stream: Stream::Remote,
            call_id: Some(5),
        };
        let (queue, mut pictures) = mpsc::channel(QUEUE);
        let sink = SinkRef(Arc::new(PageSink {
            want,
            feed: Mutex::new(Feed::new(want)),
            queue,
            shared: shared.clone(),
        }));
        let picture = |key: bool, byte: u8| {
            let format = FRAME_VP8 | if key { FRAME_KEYFRAME } else { 0 };
            sink.frame(
                "remote-video-encoded/5".into(),
                MediaFrame {
                    format,
                    width: 0,
                    height: 0,
                    pts_us: u64::from(byte),
                    data: RSlice::from_slice(&[byte]),
                },
            );
        };
        picture(true, 0);
        for i in 1..=100 {
            picture(false, i);
        }
        let mut got = Vec::new();
        while let Ok(m) = pictures.try_recv() {
            got.push((m[1], m[HEADER_LEN]));
        }
        assert_eq!(got, [(FLAG_KEYFRAME, 0), (0, 1), (0, 2)]);
        assert_eq!(
            asked.recv_timeout(Duration::from_secs(10)).as_deref(),
            Ok("keyframe-request/5")
        );
        picture(false, 101);
        assert!(pictures.try_recv().is_err(), "a delta after a loss");
        picture(true, 102);
        picture(false, 103);
        let resumed: Vec<u8> = std::iter::from_fn(|| pictures.try_recv().ok())
            .map(|m| m[HEADER_LEN])
            .collect();
        assert_eq!(resumed, [102, 103]);
    }

    #[test]
    fn sockets_are_counted_and_bounded() {
        let hub = VideoSockets::new(shared());
        let slots: Vec<Slot> = (0..MAX_SOCKETS).map(|_| hub.claim().unwrap()).collect();
        assert!(hub.claim().is_none());
        drop(slots);
        assert!(hub.claim().is_some());
    }
}
