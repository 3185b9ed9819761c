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

use std::sync::Arc;
use std::time::{Duration, Instant};

use seatphone_capture_core::commands;
use seatphone_capture_core::config::CaptureConfig;
use seatphone_capture_core::service::{Answer, Answerer, Capture, Env};
use seatphone_capture_core::track::VideoCodec;
use seatphone_plugin_api::abi_stable::std_types::RSlice;
use seatphone_plugin_api::{
    export_plugin, result, topics, CallEvent, Capability, Command, FrameSubscription, Host,
    MediaFrame, Plugin, PluginInfo, Reply, Request, Response, FRAME_H264, FRAME_I420,
    FRAME_KEYFRAME, FRAME_PCM16, FRAME_VP8,
};

pub struct CapturePlugin {
    service: Arc<Capture>,
    _subscriptions: Vec<FrameSubscription>,
}

/// Reads `[capture]` and listens to the bus; writes nothing until asked.
fn new(host: Host) -> Result<CapturePlugin, String> {
    let config = CaptureConfig::from_value(&host.settings("capture"))?;
    let epoch = Instant::now();
    let (log_host, ask_host) = (host.clone(), host.clone());
    let service = Arc::new(Capture::new(
        config,
        Env {
            clock: Arc::new(move || epoch.elapsed().as_micros() as u64),
            log: Arc::new(move |m| log_host.info(&format!("capture: {m}"))),
            ask_keyframe: Arc::new(move |call_id| {
                let topic = topics::for_call(topics::KEYFRAME_REQUEST, call_id);
                ask_host.publish(&topic, empty_frame());
            }),
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
            s.encoded(id, codec, f.format & FRAME_KEYFRAME != 0, f.data.as_slice());
        }),
        listen(&host, topics::REMOTE_AUDIO, &service, |s, id, f| {
            sound(s, id, 0, f)
        }),
        listen(&host, topics::LOCAL_AUDIO, &service, |s, id, f| {
            sound(s, id, 1, f)
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

fn sound(service: &Capture, call_id: u32, direction: usize, f: MediaFrame<'_>) {
    if f.format != FRAME_PCM16 || f.width == 0 {
        return;
    }
    let pcm: Vec<i16> = f
        .data
        .as_slice()
        .chunks_exact(2)
        .map(|b| i16::from_ne_bytes([b[0], b[1]]))
        .collect();
    let channels = u16::try_from(f.height).unwrap_or(1).max(1);
    service.sound(call_id, direction, f.width, channels, &pcm);
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
        PluginInfo::new("capture", env!("CARGO_PKG_VERSION")).capability(Capability::Capture.name())
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
