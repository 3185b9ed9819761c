//! The video plugin: the `m=video` section of calls (VP8 and H.264, both
//! ways, with the camera or test pattern as source), and the native video
//! window. Cameras, codecs, sessions and the window are in
//! `seatphone-video-core`; this is the plugin's face to the host.
//!
//! Commands: the catalogue's `video` capability (`PluginInfo::capability`
//! declares them), answered here:
//!
//! | catalogue | what it does |
//! |---|---|
//! | `SetVideoRect` | `posX, posY, width, height`: where the window goes (kept until changed; shown while a video call is up) |
//! | `SetVideoLayoutMode` | `layoutMode` 0 picture-in-picture, 1 side by side |
//! | `SetVideoDisplayMode` | `displayMode` 1 letterbox, 2 crop |
//! | `ControlCamera` | `callId` (-1: the next calls), `open`: send the camera or black |
//! | `GetDevices` | `deviceType` 2 (the host routes only cameras here): the V4L2 cameras, by the index `[video] camera` takes; an empty list when there are none |
//!
//! Adding and removing video in a call (`AddVideo`, `ReplyAddVideo`,
//! `DelVideo`, events 2009 / 2011 / 2012) is the host's renegotiation: this
//! plugin sees it as a new offer or answer, `media_start` and `media_stop`.
//!
//! Events: 3101 `VIDEO_EVT_WINDOW_BUTTON` (`callId`, `button`: `camera`,
//! `mute`, `hangup`, `swap`) when the agent clicks the window's control
//! bar; the page decides what mute and hang-up do.

mod calls;
mod slides;

use std::sync::{Arc, Mutex};

use seatphone_plugin_api::param::{flag, int};
use seatphone_plugin_api::{
    export_plugin, result, topics, AnswerRequest, AnswerResponse, CallEvent, Capability, Command,
    ConfigureOutcome, FrameSubscription, Host, MediaFrame, OfferRequest, OfferResponse, Plugin,
    PluginInfo, Reply, Request, StartRequest, StopRequest, FRAME_I420,
};
use seatphone_video_core::camera::{self, CameraInfo};
use seatphone_video_core::config::VideoConfig;
use seatphone_video_core::negotiate::{Preferences, Srtp};
use seatphone_video_core::picture::Picture;
use seatphone_video_core::window::controller::{VideoWindow, WindowEvents};
use seatphone_video_core::window::layout::{Button, Fit, Layout, Rect};
use seatphone_video_core::window::x11::X11Window;
use serde_json::{json, Value};

use calls::Calls;
use slides::{Route, Slides};

/// This plugin's own event, beside the catalogue's.
pub const EVT_WINDOW_BUTTON: u32 = 3101;

const EVENTS: &[(u32, &str)] = &[(EVT_WINDOW_BUTTON, "VIDEO_EVT_WINDOW_BUTTON")];

pub struct Video {
    host: Host,
    config: VideoConfig,
    srtp: Mutex<Srtp>,
    calls: Arc<Calls>,
    /// The shared screen as a second stream, where the peer takes one.
    slides: Arc<Slides>,
    /// Another plugin (capture) asks for a peer's keyframe.
    _keyframe_requests: FrameSubscription,
    /// The host (a page showing what we send) asks for one of ours.
    _local_keyframe_requests: FrameSubscription,
    /// The share plugin's pictures, sent in place of the camera.
    _shares: FrameSubscription,
}

/// Reads `[video]`; opens no device, display or codec.
fn new(host: Host) -> Result<Video, String> {
    let config = VideoConfig::from_value(&host.settings("video"))?;
    let calls = Arc::new(Calls::new(host.clone()));
    let asked = calls.clone();
    let keyframe_requests = host.subscribe(
        &topics::every_call(topics::KEYFRAME_REQUEST),
        move |topic, _| {
            if let Some(id) = topics::call_id(topic) {
                asked.ask_keyframe(id);
            }
        },
    );
    let asked = calls.clone();
    let local_keyframe_requests = host.subscribe(
        &topics::every_call(topics::LOCAL_KEYFRAME_REQUEST),
        move |topic, _| {
            if let Some(id) = topics::call_id(topic) {
                asked.send_keyframe(id);
            }
        },
    );
    let slides = Arc::new(Slides::new(host.clone()));
    let (shared, to_slides) = (calls.clone(), slides.clone());
    let shares = host.subscribe(&topics::every_call(topics::SHARE), move |topic, frame| {
        share_frame(&shared, &to_slides, topic, frame)
    });
    Ok(Video {
        calls,
        slides,
        host,
        config,
        srtp: Mutex::new(Srtp::default()),
        _keyframe_requests: keyframe_requests,
        _local_keyframe_requests: local_keyframe_requests,
        _shares: shares,
    })
}

/// A picture on `share/<callId>` goes out on the call's slides stream, or
/// in place of its camera while there is none (the first one asks for
/// it); an empty frame (0×0) ends the share. Anything else is ignored.
fn share_frame(calls: &Calls, slides: &Slides, topic: &str, frame: MediaFrame<'_>) {
    let Some(call_id) = topics::call_id(topic) else {
        return;
    };
    if frame.width == 0 || frame.height == 0 {
        let _routing = slides.routing();
        slides.share(call_id, None);
        calls.share(call_id, None);
    } else if frame.format == FRAME_I420 && calls.carries_video(call_id) {
        if let Ok(p) = Picture::from_i420(frame.width, frame.height, frame.data.to_vec()) {
            let _routing = slides.routing();
            if slides.share(call_id, Some(p.clone())) == Route::Camera {
                calls.share(call_id, Some(p));
            }
        }
    }
}

export_plugin!(new);

/// Window buttons to the page.
struct ButtonEvents {
    host: Host,
    calls: Arc<Calls>,
}

impl WindowEvents for ButtonEvents {
    fn button(&mut self, button: Button) {
        let name = match button {
            Button::Camera => "camera",
            Button::Mute => "mute",
            Button::HangUp => "hangup",
            Button::Swap => "swap",
        };
        self.host.emit(
            EVT_WINDOW_BUTTON,
            "VIDEO_EVT_WINDOW_BUTTON",
            &json!({ "button": name }),
        );
        let _ = &self.calls;
    }

    fn log(&mut self, message: &str) {
        self.host.warn(&format!("video: {message}"));
    }
}

impl Video {
    fn prefs(&self) -> Preferences {
        Preferences {
            codecs: self.config.codecs.clone(),
            srtp: *self.srtp.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// The window, made on first use (its thread; the display itself opens
    /// when a call with a rectangle is up).
    fn window(&self) -> Arc<VideoWindow> {
        let mut w = self.calls.window.lock().unwrap_or_else(|p| p.into_inner());
        w.get_or_insert_with(|| {
            let window = Arc::new(VideoWindow::new(
                Box::new(X11Window::new(self.config.display.clone())),
                Box::new(ButtonEvents {
                    host: self.host.clone(),
                    calls: self.calls.clone(),
                }),
            ));
            if self.calls.any_up() {
                window.call_up(true);
            }
            window
        })
        .clone()
    }
}

/// Input from a peer must never unwind across the plugin boundary.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err("the video plugin failed on this request".into()))
}

/// `getMediaDevices(2)`'s answer, in the reference's fields.
fn camera_list(cameras: &[CameraInfo]) -> Value {
    let info: Vec<Value> = cameras
        .iter()
        .map(|c| {
            json!({
                "cameraOrient": 0,
                "deviceId": c.index,
                "deviceName": c.name,
                "index": c.index,
            })
        })
        .collect();
    json!({ "deviceInfo": info, "deviceType": 2, "num": cameras.len() })
}

impl Plugin for Video {
    fn info(&self) -> PluginInfo {
        PluginInfo::new("video", env!("CARGO_PKG_VERSION"))
            .capability(Capability::Video.name())
            .media("video")
            .media(slides::KIND)
            .events(EVENTS)
    }

    fn configure(&self, config: &Value) -> ConfigureOutcome {
        let mut warnings = Vec::new();
        if let Some(m) = config.get("media").and_then(|m| m.get("trans_mode")) {
            let mode = m
                .as_i64()
                .or_else(|| m.as_str().and_then(|s| s.parse().ok()));
            let srtp = match mode {
                Some(0) => Some(Srtp::Off),
                Some(1) => Some(Srtp::BestEffort),
                Some(2) => Some(Srtp::Required),
                _ => None,
            };
            match srtp {
                Some(s) => *self.srtp.lock().unwrap_or_else(|p| p.into_inner()) = s,
                None => warnings.push(format!(
                    "video: media.trans_mode {m} is not 0, 1 or 2; keeping the previous mode"
                )),
            }
        }
        ConfigureOutcome { warnings }
    }

    fn call_event(&self, event: CallEvent) {
        if let CallEvent::Ended { call_id, .. } = event {
            self.calls.stop(call_id);
            self.slides.forget(call_id);
        }
    }

    fn media_offer(&self, request: OfferRequest) -> Result<OfferResponse, String> {
        guarded(|| {
            let section = if request.kind == slides::KIND {
                self.slides
                    .offer(&self.prefs(), request.call_id, &request.local_ip)?
            } else {
                self.calls
                    .offer(&self.prefs(), request.call_id, &request.local_ip)?
            };
            Ok(OfferResponse {
                sections: vec![section],
            })
        })
    }

    fn media_answer(&self, request: AnswerRequest) -> Result<AnswerResponse, String> {
        guarded(|| {
            let section = if request.kind == slides::KIND {
                self.slides.answer(
                    &self.prefs(),
                    request.call_id,
                    &request.local_ip,
                    &request.remote,
                )?
            } else {
                self.calls.answer(
                    &self.prefs(),
                    request.call_id,
                    &request.local_ip,
                    &request.remote,
                )?
            };
            Ok(AnswerResponse { section })
        })
    }

    fn media_start(&self, request: StartRequest) -> Result<(), String> {
        guarded(|| {
            let (id, local, remote) = (request.call_id, &request.local, &request.remote);
            if request.kind != slides::KIND {
                return self
                    .calls
                    .start(&self.config, &self.prefs(), id, local, remote);
            }
            let _routing = self.slides.routing();
            if self
                .slides
                .start(&self.config, &self.prefs(), id, local, remote)?
            {
                // The share left the camera's stream: the camera again.
                self.calls.share(id, None);
            }
            Ok(())
        })
    }

    fn media_stop(&self, request: StopRequest) {
        let id = request.call_id;
        if request.kind != slides::KIND {
            return self.calls.stop(id);
        }
        let _routing = self.slides.routing();
        if self.slides.stop(id) {
            // No slides stream (refused, or the peer removed it) while the
            // share goes on: in place of the camera.
            if let Some(p) = self.slides.latest_picture(id) {
                self.host.info(&format!(
                    "video, call {id}: no slides stream: the share goes in place of the camera"
                ));
                self.calls.share(id, Some(p));
            }
        }
    }

    fn shutdown(&self) {
        self.slides.forget_all();
        self.calls.stop_all();
        self.calls
            .window
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    fn command(&self, request: Request, reply: Reply) {
        let p = &request.param;
        let bad = |reply: Reply, e: String| reply.error(result::INVALID, e);
        let Some(command) = Command::from_cmd(request.cmd) else {
            return bad(
                reply,
                format!("the video plugin has no command {}", request.cmd),
            );
        };
        match command {
            Command::SetVideoRect => {
                let parts = ["posX", "posY", "width", "height"].map(|k| int(p, k));
                match parts {
                    [Ok(x), Ok(y), Ok(w), Ok(h)]
                        if (1..=8192).contains(&w)
                            && (1..=8192).contains(&h)
                            && x.abs() <= 32767
                            && y.abs() <= 32767 =>
                    {
                        self.window()
                            .set_rect(Rect::new(x as i32, y as i32, w as u32, h as u32));
                        reply.ok();
                    }
                    [Ok(_), Ok(_), Ok(w), Ok(h)] => bad(
                        reply,
                        format!("a window of {w}x{h} at that place is out of range (1-8192, |pos| <= 32767)"),
                    ),
                    parts => bad(
                        reply,
                        parts.into_iter().filter_map(Result::err).collect::<Vec<_>>().join("; "),
                    ),
                }
            }
            Command::SetVideoLayoutMode => match int(p, "layoutMode") {
                Ok(0) => {
                    self.window().set_layout(Layout::PictureInPicture);
                    reply.ok();
                }
                Ok(1) => {
                    self.window().set_layout(Layout::SideBySide);
                    reply.ok();
                }
                Ok(m) => bad(
                    reply,
                    format!("layoutMode {m}: 0 picture-in-picture or 1 side by side"),
                ),
                Err(e) => bad(reply, e),
            },
            Command::SetVideoDisplayMode => match int(p, "displayMode") {
                Ok(1) => {
                    self.window().set_fit(Fit::Letterbox);
                    reply.ok();
                }
                Ok(2) => {
                    self.window().set_fit(Fit::Crop);
                    reply.ok();
                }
                Ok(m) => bad(reply, format!("displayMode {m}: 1 letterbox or 2 crop")),
                Err(e) => bad(reply, e),
            },
            Command::ControlCamera => match (int(p, "callId"), flag(p, "open")) {
                (Ok(-1), Ok(open)) => {
                    *self
                        .calls
                        .camera_off_next
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) = !open;
                    reply.ok();
                }
                (Ok(id), Ok(open)) => {
                    if u32::try_from(id).is_ok_and(|id| self.calls.camera(id, open)) {
                        reply.ok();
                    } else {
                        reply.error(result::NOT_FOUND, format!("call {id} carries no video"));
                    }
                }
                (Err(e), _) | (_, Err(e)) => bad(reply, e),
            },
            Command::GetDevices => match int(p, "deviceType") {
                // Listing opens each device node: off the host's thread.
                Ok(2) => {
                    let spawned = std::thread::Builder::new()
                        .name("video-devices".into())
                        .spawn(move || reply.ok_with(camera_list(&camera::list())));
                    if let Err(e) = spawned {
                        self.host.warn(&format!("video: cannot list cameras: {e}"));
                    }
                }
                Ok(t) => bad(
                    reply,
                    format!("deviceType {t}: the video plugin lists cameras (2) only"),
                ),
                Err(e) => bad(reply, e),
            },
            _ => bad(
                reply,
                format!("the video plugin has no command {}", request.cmd),
            ),
        }
    }
}
