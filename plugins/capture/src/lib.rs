//! The capture plugin: snapshots and recordings of the remote video of a
//! call, from the frames the video plugin puts on the frame bus (and the
//! call's sound, when the audio plugin puts it there). What it does is in
//! `seatphone-capture-core`; this is its face to the host.
//!
//! Commands: the catalogue's `capture` capability.
//!
//! | command | what it does |
//! |---|---|
//! | `OEScreenShot` | `format` "path" (default) / "base64": the current video call's latest picture as PNG; success has no `result`, a top-level `path` or `base64` |
//! | `OECatchVideo` | `operation` 0 start / 1 stop (`true`/`false`; 2/3 = base64 start/stop), `format`, `time` 1–10 s for base64 |
//!
//! and an event of its own: 3301 `CAPTURE_EVT_RECORDING_ENDED`
//! (`callId, reason, path, errMsg, frames`), whenever a recording ends.
//!
//! Frames: the remote video's pictures (decoded, for snapshots; encoded,
//! for recordings) all the time; the call's sound (`remote-audio`,
//! `local-audio`) only while one of its recordings runs.

use std::sync::Arc;
use std::time::Duration;

use seatphone_capture_core::commands;
use seatphone_capture_core::config::CaptureConfig;
use seatphone_capture_core::service::{Answer, Answerer, Capture, Ended, Env, SoundSink};
use seatphone_capture_core::track::VideoCodec;
use seatphone_capture_core::writer::Pcm;
use seatphone_plugin_api::abi_stable::std_types::RSlice;
use seatphone_plugin_api::{
    export_plugin, result, topics, CallEvent, Capability, Command, FrameSubscription, Host,
    MediaFrame, Plugin, PluginInfo, Reply, Request, Response, FRAME_H264, FRAME_I420,
    FRAME_KEYFRAME, FRAME_PCM16, FRAME_VP8,
};

/// This plugin's own event (PROTOCOL.md "Capture plugin").
pub const EVT_RECORDING_ENDED: u32 = 3301;
const EVENTS: &[(u32, &str)] = &[(EVT_RECORDING_ENDED, "CAPTURE_EVT_RECORDING_ENDED")];

pub struct CapturePlugin {
    service: Arc<Capture>,
    _subscriptions: Vec<FrameSubscription>,
}

/// Reads `[capture]` and listens to the bus; writes nothing until asked.
fn new(host: Host) -> Result<CapturePlugin, String> {
    let config = CaptureConfig::from_value(&host.settings("capture"))?;
    let (clock_host, log_host, ask_host, sound_host, event_host) = (
        host.clone(),
        host.clone(),
        host.clone(),
        host.clone(),
        host.clone(),
    );
    let service = Arc::new(Capture::new(
        config,
        Env {
            // The media clock the audio and video plugins stamp frames on.
            clock: Arc::new(move || clock_host.clock_us()),
            log: Arc::new(move |m| log_host.info(&format!("capture: {m}"))),
            ask_keyframe: Arc::new(move |call_id| {
                let topic = topics::for_call(topics::KEYFRAME_REQUEST, call_id);
                ask_host.publish(&topic, empty_frame());
            }),
            listen_sound: Arc::new(move |call_id, sink| {
                Box::new(listen_sound(&sound_host, call_id, sink))
            }),
            ended: Arc::new(move |e| ended(&event_host, e)),
        },
    ));
    let subscriptions = vec![
        listen(&host, topics::REMOTE_VIDEO, &service, |s, id, f| {
            if f.format == FRAME_I420 {
                s.picture(id, f.width, f.height, f.data.as_slice());
            }
        }),
        listen(&host, topics::REMOTE_VIDEO_ENCODED, &service, |s, id, f| {
            let codec = match f.format & !FRAME_KEYFRAME {
                FRAME_H264 => VideoCodec::H264,
                FRAME_VP8 => VideoCodec::Vp8,
                _ => return,
            };
            let key = f.format & FRAME_KEYFRAME != 0;
            s.encoded(id, codec, key, f.pts_us, f.data.as_slice());
        }),
    ];
    Ok(CapturePlugin {
        service,
        _subscriptions: subscriptions,
    })
}

export_plugin!(new);

fn empty_frame() -> MediaFrame<'static> {
    MediaFrame {
        format: 0,
        width: 0,
        height: 0,
        pts_us: 0,
        data: RSlice::from_slice(&[]),
    }
}

/// Every call's frames of `kind`, to `f` with the call's id.
fn listen(
    host: &Host,
    kind: &str,
    service: &Arc<Capture>,
    f: impl Fn(&Capture, u32, MediaFrame<'_>) + Send + Sync + 'static,
) -> FrameSubscription {
    let service = service.clone();
    host.subscribe(&topics::every_call(kind), move |topic, frame| {
        if let Some(id) = topics::call_id(topic) {
            f(&service, id, frame);
        }
    })
}

/// A call's sound, both directions (0 the peer's, 1 ours), to `sink`
/// while the subscriptions live: only while a recording runs, so the
/// bus copies no sound the rest of the time.
fn listen_sound(host: &Host, call_id: u32, sink: SoundSink) -> Vec<FrameSubscription> {
    [topics::REMOTE_AUDIO, topics::LOCAL_AUDIO]
        .into_iter()
        .enumerate()
        .map(|(direction, kind)| {
            let sink = sink.clone();
            host.subscribe(&topics::for_call(kind, call_id), move |_, f| {
                if let Some(pcm) = pcm(direction, f) {
                    sink(pcm);
                }
            })
        })
        .collect()
}

/// A `FRAME_PCM16` frame: interleaved native-endian samples, `width` the
/// rate, `height` the channels.
fn pcm(direction: usize, f: MediaFrame<'_>) -> Option<Pcm> {
    if f.format != FRAME_PCM16 || f.width == 0 {
        return None;
    }
    let samples = f
        .data
        .as_slice()
        .chunks_exact(2)
        .map(|b| i16::from_ne_bytes([b[0], b[1]]))
        .collect();
    Some(Pcm {
        direction,
        pts_us: f.pts_us,
        rate: f.width,
        channels: u16::try_from(f.height).unwrap_or(1).max(1),
        samples,
    })
}

fn ended(host: &Host, e: Ended) {
    let mut param = serde_json::json!({
        "callId": e.call_id,
        "call_id": e.call_id,
        "reason": e.reason,
        "frames": e.pictures,
    });
    if let Some(p) = e.path {
        param["path"] = p.to_string_lossy().into_owned().into();
    }
    if let Some(error) = e.error {
        param["errMsg"] = error.into();
    }
    host.emit(EVT_RECORDING_ENDED, EVENTS[0].1, &param);
}

/// The reference's shapes: success without `result`, `path` or `base64`
/// at the top level; failure result 1 and an errMsg.
fn answerer(reply: Reply) -> Answerer {
    Box::new(move |answer| {
        reply.send(match answer {
            Answer::Done => Response::ok_without_result(),
            Answer::Path(p) => {
                Response::ok_without_result().top("path", p.to_string_lossy().into_owned())
            }
            Answer::Base64(b) => Response::ok_without_result().top("base64", b),
            Answer::Failed(e) => Response::error(result::FAILED, e),
        })
    })
}

impl Plugin for CapturePlugin {
    fn info(&self) -> PluginInfo {
        PluginInfo::new("capture", env!("CARGO_PKG_VERSION"))
            .capability(Capability::Capture.name())
            .events(EVENTS)
    }

    fn command(&self, request: Request, reply: Reply) {
        let param = request.param.clone();
        match Command::from_cmd(request.cmd) {
            Some(Command::ScreenShot) => match commands::snapshot(&param) {
                Ok(format) => self.service.snapshot(format, answerer(reply)),
                Err(e) => reply.error(result::INVALID, e),
            },
            Some(Command::CatchVideo) => match commands::catch(&param) {
                Ok(catch) => self.service.catch(catch, answerer(reply)),
                Err(e) => reply.error(result::INVALID, e),
            },
            _ => reply.error(
                result::INVALID,
                format!("{}: not a capture command", request.description),
            ),
        }
    }

    fn call_event(&self, event: CallEvent) {
        if let CallEvent::Ended { call_id, .. } = event {
            self.service.call_ended(call_id);
        }
    }

    fn shutdown(&self) {
        // The files' last fragments and indexes.
        self.service.shutdown(Duration::from_secs(2));
    }
}
