//! The share plugin: a video call's agent shares a window, a monitor, the
//! whole desktop or a rectangle of the screen, and the peer sees it in
//! place of the camera. What can be shared, grabbing and pacing are in
//! `seatphone-share-core`; this is the plugin's face to the host, and the
//! thread that owns the display ([`worker`]).
//!
//! | cmd | description | what it does |
//! |---|---|---|
//! | 67753 | `tsdk_share_evt_getapplist` | `{"<id>": "<title>"}`: the desktop (the root window's id), each monitor when there are several, each viewable titled top-level window |
//! | 67754 | `tsdk_share_evt_setshareapp` | `hwnd` (number or numeric string): what to share; result 5 when it is not in the list |
//! | 67755 | `tsdk_share_evt_startsharewindow` | shares it into the live video call (result 3 without one, in an audio call, when switched off or nothing chosen) |
//! | 67756 | `tsdk_share_evt_stopsharewindow` | stops; result 3 when nothing is shared |
//! | 67760 | `tsdk_share_evt_sharecontrol` | `enable`: the seat's switch; off stops a share and refuses new ones |
//! | 3250 | `share_set_region` | `x, y, width, height` in screen pixels: share that rectangle |
//!
//! Events: 3201 `SHARE_EVT_STARTED`, 3202 `SHARE_EVT_STOPPED` (with a
//! `reason`). Pictures go to the video plugin on the media bus as
//! `share/<callId>` (an empty frame ends the share); a call carries video
//! when the video plugin publishes `local-video/<callId>`.

mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use seatphone_plugin_api::param::{flag, int};
use seatphone_plugin_api::{
    export_plugin, result, topics, CallEvent, Capability, Command, FrameSubscription, Host, Plugin,
    PluginInfo, Reply, Request,
};
use seatphone_share_core::Rect;
use serde_json::Value;

use worker::{Msg, Worker};

/// This plugin's own command and events (numbers and names in
/// `seatphone-share-core`).
pub const SET_REGION: u32 = seatphone_share_core::SET_REGION.0;
pub const EVT_STARTED: u32 = seatphone_share_core::EVT_STARTED.0;
pub const EVT_STOPPED: u32 = seatphone_share_core::EVT_STOPPED.0;

const COMMANDS: &[(u32, &str)] = &[seatphone_share_core::SET_REGION];

const EVENTS: &[(u32, &str)] = &[
    seatphone_share_core::EVT_STARTED,
    seatphone_share_core::EVT_STOPPED,
];

/// What the plugin knows of calls: which are live (not held, not ended)
/// and when each last showed video on the bus.
#[derive(Default)]
pub struct Calls {
    live: HashMap<u32, Option<Instant>>,
    video: HashMap<u32, Instant>,
}

impl Calls {
    /// The live call carrying video, if any.
    fn video_call(&self, now: Instant) -> Result<u32, String> {
        let live: Vec<u32> = self.live.keys().copied().collect();
        if live.is_empty() {
            return Err("no call is connected: sharing needs a video call".into());
        }
        live.iter()
            .copied()
            .find(|id| self.has_video(*id, now))
            .ok_or_else(|| {
                "the call carries no video (an audio call): sharing needs a video call".into()
            })
    }

    /// Whether the video plugin showed the call's video lately.
    pub fn has_video(&self, call_id: u32, now: Instant) -> bool {
        self.video
            .get(&call_id)
            .is_some_and(|t| now.duration_since(*t) < worker::VIDEO_GONE_AFTER)
    }
}

pub struct Share {
    host: Host,
    calls: Arc<Mutex<Calls>>,
    enabled: Mutex<bool>,
    worker: Worker,
    _video: FrameSubscription,
}

/// Reads `[share]`; opens no display (the worker thread does, on the
/// first command that needs it).
fn new(host: Host) -> Result<Share, String> {
    let settings = worker::Settings::from_host(&host)?;
    let calls = Arc::new(Mutex::new(Calls::default()));
    let video = {
        let calls = calls.clone();
        host.subscribe(
            &topics::every_call(topics::LOCAL_VIDEO),
            move |topic, _frame| {
                if let Some(id) = topics::call_id(topic) {
                    let mut calls = calls.lock().unwrap_or_else(|p| p.into_inner());
                    calls.video.insert(id, Instant::now());
                }
            },
        )
    };
    Ok(Share {
        enabled: Mutex::new(settings.enabled),
        worker: Worker::new(host.clone(), settings, calls.clone()),
        host,
        calls,
        _video: video,
    })
}

export_plugin!(new);

impl Share {
    fn enabled(&self) -> bool {
        *self.enabled.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Share {
    /// `share_set_region`: a rectangle of the screen.
    fn set_region(&self, p: &Value, reply: Reply) {
        let parts = ["x", "y", "width", "height"].map(|k| int(p, k));
        match parts {
            [Ok(x), Ok(y), Ok(w), Ok(h)]
                if (2..=16384).contains(&w)
                    && (2..=16384).contains(&h)
                    && x.abs() <= 32767
                    && y.abs() <= 32767 =>
            {
                let rect = Rect::new(x as i32, y as i32, w as u32, h as u32);
                self.worker.send(Msg::Region(rect, reply));
            }
            [Ok(_), Ok(_), Ok(w), Ok(h)] => reply.error(
                result::INVALID,
                format!("a region of {w}x{h} there is out of range (2-16384, |x|, |y| <= 32767)"),
            ),
            parts => reply.error(
                result::INVALID,
                parts
                    .into_iter()
                    .filter_map(Result::err)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        }
    }
}

impl Plugin for Share {
    fn info(&self) -> PluginInfo {
        PluginInfo::new("share", env!("CARGO_PKG_VERSION"))
            .capability(Capability::Share.name())
            .commands(COMMANDS)
            .events(EVENTS)
    }

    fn call_event(&self, event: CallEvent) {
        match event {
            CallEvent::Connected { call_id } | CallEvent::Resumed { call_id } => {
                self.calls().live.insert(call_id, Some(Instant::now()));
            }
            CallEvent::Held { call_id } => {
                self.calls().live.remove(&call_id);
            }
            CallEvent::Ended { call_id, .. } => {
                let mut calls = self.calls();
                calls.live.remove(&call_id);
                calls.video.remove(&call_id);
                drop(calls);
                self.worker.send(Msg::CallEnded(call_id));
            }
            _ => {}
        }
    }

    fn command(&self, request: Request, reply: Reply) {
        let p = &request.param;
        if request.cmd == SET_REGION {
            return self.set_region(p, reply);
        }
        let Some(command) = Command::from_cmd(request.cmd) else {
            return reply.error(
                result::INVALID,
                format!("the share plugin has no command {}", request.cmd),
            );
        };
        match command {
            Command::ShareGetAppList => self.worker.send(Msg::List(reply)),
            Command::ShareSetShareApp => match int(p, "hwnd") {
                Ok(id) => match u32::try_from(id) {
                    Ok(id) => self.worker.send(Msg::Select(id, reply)),
                    Err(_) => reply.error(result::NOT_FOUND, format!("no window {id} to share")),
                },
                Err(e) => reply.error(result::INVALID, e),
            },
            Command::ShareStartWindow => {
                if !self.enabled() {
                    return reply.error(
                        result::WRONG_STATE,
                        "sharing is switched off (shareControl): switch it on first",
                    );
                }
                let call = self.calls().video_call(Instant::now());
                match call {
                    Ok(call_id) => self.worker.send(Msg::Start(call_id, reply)),
                    Err(e) => reply.error(result::WRONG_STATE, e),
                }
            }
            Command::ShareStopWindow => self.worker.send(Msg::Stop(reply)),
            Command::ShareControl => match flag(p, "enable") {
                Ok(on) => {
                    *self.enabled.lock().unwrap_or_else(|p| p.into_inner()) = on;
                    reply.ok();
                    if !on {
                        self.worker.send(Msg::Disabled);
                    }
                }
                Err(e) => reply.error(result::INVALID, e),
            },
            _ => reply.error(
                result::INVALID,
                format!("the share plugin has no command {}", request.cmd),
            ),
        }
    }

    fn shutdown(&self) {
        self.worker.send(Msg::Shutdown);
        let _ = &self.host;
    }
}
