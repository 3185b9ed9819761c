//! The share's own thread: it owns the display connection (opened by the
//! first command that needs it, never when the plugin loads), answers the
//! commands that need the display, and while a share runs grabs what
//! changed, at the pacer's pace, onto the media bus.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seatphone_plugin_api::abi_stable::std_types::RSlice;
use seatphone_plugin_api::{result, topics, Host, MediaFrame, Reply, FRAME_I420};
use seatphone_share_core::grab::{Change, Grabber};
use seatphone_share_core::list::{self, Shareable};
use seatphone_share_core::pacer::{Pacer, STILL_FPS};
use seatphone_share_core::{Rect, Source};
use serde_json::{json, Map, Value};

use crate::{Calls, EVT_STARTED, EVT_STOPPED};

/// A call whose video the bus has not shown for this long carries none.
pub const VIDEO_GONE_AFTER: Duration = Duration::from_secs(3);
/// How often a running share looks at the display.
const TICK: Duration = Duration::from_millis(30);
/// How often it looks where the pointer is (its moves draw nothing).
const POINTER_EVERY: Duration = Duration::from_millis(200);

/// `[share]` of the config file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub enabled: bool,
    /// `None`: `[video] display`, else `$DISPLAY`.
    pub display: Option<String>,
    /// The largest picture sent (aspect kept).
    pub max: (u32, u32),
}

impl Settings {
    pub fn from_host(host: &Host) -> Result<Settings, String> {
        let s = host.settings("share");
        let Value::Object(map) = &s else {
            return Err("[share] must be a table".into());
        };
        for key in map.keys() {
            if !["enabled", "display", "max_width", "max_height"].contains(&key.as_str()) {
                return Err(format!("[share]: unknown key {key:?}"));
            }
        }
        let size = |key: &str, default: u64| -> Result<u32, String> {
            match s.get(key) {
                None => Ok(default as u32),
                Some(v) => v
                    .as_u64()
                    .filter(|n| (64..=4096).contains(n))
                    .map(|n| (n as u32) & !1)
                    .ok_or_else(|| format!("[share] {key} = {v}: must be 64 to 4096")),
            }
        };
        let enabled = match s.get("enabled") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(v) => return Err(format!("[share] enabled = {v}: must be true or false")),
        };
        let display = match s.get("display") {
            None => host
                .settings("video")
                .get("display")
                .and_then(Value::as_str)
                .map(str::to_owned),
            Some(Value::String(d)) => Some(d.clone()),
            Some(v) => return Err(format!("[share] display = {v}: must be a string")),
        };
        Ok(Settings {
            enabled,
            display,
            max: (size("max_width", 1920)?, size("max_height", 1080)?),
        })
    }
}

pub enum Msg {
    List(Reply),
    Select(u32, Reply),
    Region(Rect, Reply),
    Start(u32, Reply),
    Stop(Reply),
    /// `shareControl(false)`.
    Disabled,
    CallEnded(u32),
    Shutdown,
}

/// The thread's handle; the thread starts with the first message.
pub struct Worker {
    tx: Mutex<Option<Sender<Msg>>>,
    host: Host,
    settings: Settings,
    calls: Arc<Mutex<Calls>>,
}

impl Worker {
    pub fn new(host: Host, settings: Settings, calls: Arc<Mutex<Calls>>) -> Worker {
        Worker {
            tx: Mutex::new(None),
            host,
            settings,
            calls,
        }
    }

    pub fn send(&self, msg: Msg) {
        let mut tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        if tx.is_none() {
            if matches!(msg, Msg::Shutdown | Msg::CallEnded(_) | Msg::Disabled) {
                return; // nothing to stop
            }
            let (sender, rx) = channel();
            let mut thread = Thread {
                host: self.host.clone(),
                settings: self.settings.clone(),
                calls: self.calls.clone(),
                grabber: None,
                chosen: None,
                active: None,
            };
            let spawned = std::thread::Builder::new()
                .name("share".into())
                .spawn(move || thread.run(rx));
            if spawned.is_err() {
                self.host.warn("share: no thread for the share");
                return;
            }
            *tx = Some(sender);
        }
        if let Some(tx) = tx.as_ref() {
            let _ = tx.send(msg);
        }
    }
}

/// What the page chose to share.
#[derive(Debug, Clone)]
struct Chosen {
    id: u32,
    title: String,
    source: Source,
}

/// A running share.
struct Active {
    call_id: u32,
    topic: String,
    chosen: Chosen,
    pacer: Pacer,
    started: Instant,
    frames: u64,
    /// Where the shared area was at the last grab.
    rect: Option<Rect>,
    pointer: Option<(i32, i32)>,
    pointer_looked: Option<Instant>,
    /// The last picture, to tell a change where the display cannot.
    last: Option<(u32, u32, Vec<u8>)>,
    announced: bool,
}

struct Thread {
    host: Host,
    settings: Settings,
    calls: Arc<Mutex<Calls>>,
    grabber: Option<Grabber>,
    chosen: Option<Chosen>,
    active: Option<Active>,
}

impl Thread {
    fn run(&mut self, rx: Receiver<Msg>) {
        loop {
            let msg = if self.active.is_some() {
                match rx.recv_timeout(TICK) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => break,
                }
            };
            match msg {
                Some(Msg::Shutdown) => {
                    self.stop("shutdown");
                    break;
                }
                Some(m) => self.handle(m),
                None => {}
            }
            if self.active.is_some() {
                self.step(Instant::now());
            }
        }
    }

    fn grabber(&mut self) -> Result<&mut Grabber, String> {
        if self.grabber.is_none() {
            let g = Grabber::open(self.settings.display.as_deref())?;
            if !g.tells_changes() {
                self.host.warn(
                    "share: the display has no XDamage: shared pictures are compared to find changes",
                );
            }
            self.grabber = Some(g);
        }
        self.grabber.as_mut().ok_or_else(|| "no X display".into())
    }

    fn list(&mut self) -> Result<Vec<Shareable>, String> {
        let g = self.grabber()?;
        list::list(g.conn(), g.root())
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::List(reply) => match self.list() {
                Ok(items) => {
                    let map: Map<String, Value> = items
                        .into_iter()
                        .map(|s| (s.id.to_string(), Value::String(s.title)))
                        .collect();
                    reply.ok_with(Value::Object(map));
                }
                Err(e) => reply.error(result::FAILED, format!("nothing to list: {e}")),
            },
            Msg::Select(id, reply) => match self.list() {
                Ok(items) => match items.into_iter().find(|s| s.id == id) {
                    Some(s) => {
                        reply.ok();
                        self.choose(Chosen {
                            id: s.id,
                            title: s.title,
                            source: s.source,
                        });
                    }
                    None => reply.error(
                        result::NOT_FOUND,
                        format!("no window {id} to share: getAppList lists what can be shared now"),
                    ),
                },
                Err(e) => reply.error(result::FAILED, format!("cannot look for window {id}: {e}")),
            },
            Msg::Region(rect, reply) => {
                let screen = match self.grabber() {
                    Ok(g) => g.screen(),
                    Err(e) => {
                        return reply.error(result::FAILED, format!("no region to share: {e}"))
                    }
                };
                if rect.clip(&screen) != Some(rect) {
                    return reply.error(
                        result::INVALID,
                        format!(
                            "the region {}x{} at {},{} is not inside the screen ({}x{})",
                            rect.w, rect.h, rect.x, rect.y, screen.w, screen.h
                        ),
                    );
                }
                reply.ok();
                self.choose(Chosen {
                    id: 0,
                    title: format!("Region {}x{} at {},{}", rect.w, rect.h, rect.x, rect.y),
                    source: Source::Region(rect),
                });
            }
            Msg::Start(call_id, reply) => self.start(call_id, reply),
            Msg::Stop(reply) => {
                if self.active.is_some() {
                    reply.ok();
                    self.stop("stopped");
                } else {
                    reply.error(result::WRONG_STATE, "nothing is being shared");
                }
            }
            Msg::Disabled => self.stop("disabled"),
            Msg::CallEnded(id) => {
                if self.active.as_ref().is_some_and(|a| a.call_id == id) {
                    self.stop("callEnded");
                }
            }
            Msg::Shutdown => {}
        }
    }

    /// The page's choice; a running share switches to it at once.
    fn choose(&mut self, chosen: Chosen) {
        let window = match chosen.source {
            Source::Window(w) => Some(w),
            _ => None,
        };
        if let Some(a) = self.active.as_mut() {
            a.chosen = chosen.clone();
            a.pacer = Pacer::new();
            a.rect = None;
            if let Some(g) = self.grabber.as_mut() {
                g.watch(window);
            }
        }
        self.chosen = Some(chosen);
    }

    fn start(&mut self, call_id: u32, reply: Reply) {
        let Some(chosen) = self.chosen.clone() else {
            return reply.error(
                result::WRONG_STATE,
                "choose what to share first (setShareWindow or share_set_region)",
            );
        };
        if let Some(a) = &self.active {
            if a.call_id == call_id {
                return reply.ok();
            }
            self.stop("callChanged");
        }
        let window = match chosen.source {
            Source::Window(w) => Some(w),
            _ => None,
        };
        let g = match self.grabber() {
            Ok(g) => g,
            Err(e) => return reply.error(result::FAILED, format!("cannot share: {e}")),
        };
        if let Some(w) = window {
            if list::window_rect(g.conn(), g.root(), w).is_none() {
                return reply.error(
                    result::NOT_FOUND,
                    format!("window {w} ({}) is gone", chosen.title),
                );
            }
        }
        g.watch(window);
        reply.ok();
        self.active = Some(Active {
            call_id,
            topic: topics::for_call(topics::SHARE, call_id),
            chosen,
            pacer: Pacer::new(),
            started: Instant::now(),
            frames: 0,
            rect: None,
            pointer: None,
            pointer_looked: None,
            last: None,
            announced: false,
        });
    }

    /// Ends the share: the video plugin gets an empty frame (the camera
    /// comes back) and the page an event saying why.
    fn stop(&mut self, reason: &str) {
        let Some(a) = self.active.take() else {
            return;
        };
        self.host.publish(
            &a.topic,
            MediaFrame {
                format: FRAME_I420,
                width: 0,
                height: 0,
                pts_us: a.started.elapsed().as_micros() as u64,
                data: RSlice::from_slice(&[]),
            },
        );
        if let Some(g) = self.grabber.as_mut() {
            g.watch(None);
        }
        self.host.info(&format!(
            "share: stopped sharing {} in call {} ({reason}, {} pictures)",
            a.chosen.title, a.call_id, a.frames
        ));
        self.host.emit(
            EVT_STOPPED,
            "SHARE_EVT_STOPPED",
            &json!({"callId": a.call_id, "call_id": a.call_id, "hwnd": a.chosen.id,
                    "reason": reason, "frames": a.frames}),
        );
    }

    /// One look at the display while sharing.
    fn step(&mut self, now: Instant) {
        let Some(call_id) = self.active.as_ref().map(|a| a.call_id) else {
            return;
        };
        let has_video = self
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .has_video(call_id, now);
        if !has_video {
            return self.stop("videoStopped");
        }
        let (Some(g), Some(a)) = (self.grabber.as_mut(), self.active.as_mut()) else {
            return;
        };
        let changes = match g.changes() {
            Ok(c) => c,
            Err(e) => {
                self.host
                    .warn(&format!("share: the display went away ({e})"));
                self.grabber = None;
                return self.stop("displayLost");
            }
        };
        let mut gone = false;
        for c in changes {
            match c {
                Change::Drawn(r) => {
                    if a.rect.is_none_or(|shared| r.clip(&shared).is_some()) {
                        a.pacer.changed(now);
                    }
                }
                Change::WindowGone(w) => {
                    gone |= list::window_rect(g.conn(), g.root(), w).is_none();
                }
            }
        }
        if gone {
            return self.stop("windowClosed");
        }
        let look = a
            .pointer_looked
            .is_none_or(|t| now.duration_since(t) >= POINTER_EVERY);
        if look {
            a.pointer_looked = Some(now);
            let p = g.pointer();
            let inside =
                |p: Option<(i32, i32)>| p.zip(a.rect).is_some_and(|((x, y), r)| r.contains(x, y));
            if p != a.pointer && (inside(p) || inside(a.pointer)) {
                a.pacer.changed(now);
            }
            a.pointer = p;
            if !g.tells_changes() {
                // Without XDamage: look at the pixels at the slow pace.
                a.pacer.changed(now);
            }
        }
        if !a.pacer.due(now) {
            return;
        }
        a.pacer.grabbed(now);
        let rect = match a.chosen.source {
            Source::Desktop => Some(g.screen()),
            Source::Monitor { rect, .. } | Source::Region(rect) => Some(rect),
            Source::Window(w) => list::window_rect(g.conn(), g.root(), w),
        };
        let Some(rect) = rect else {
            return self.stop("windowClosed");
        };
        a.rect = Some(rect);
        let picture = match g.grab(rect, self.settings.max) {
            Ok(p) => p,
            Err(e) => {
                self.host.warn(&format!("share: {e}"));
                return;
            }
        };
        let same = a.last.as_ref().is_some_and(|(w, h, px)| {
            (*w, *h) == (picture.width, picture.height) && *px == picture.i420
        });
        if same && a.announced {
            return;
        }
        self.host.publish(
            &a.topic,
            MediaFrame {
                format: FRAME_I420,
                width: picture.width,
                height: picture.height,
                pts_us: now.duration_since(a.started).as_micros() as u64,
                data: RSlice::from_slice(&picture.i420),
            },
        );
        a.frames += 1;
        if !a.announced {
            a.announced = true;
            self.host.info(&format!(
                "share: sharing {} ({}x{}) in call {call_id}, at most {STILL_FPS} pictures a second while still",
                a.chosen.title, picture.width, picture.height
            ));
            self.host.emit(
                EVT_STARTED,
                "SHARE_EVT_STARTED",
                &json!({"callId": call_id, "call_id": call_id, "hwnd": a.chosen.id,
                        "title": a.chosen.title, "width": picture.width, "height": picture.height}),
            );
        }
        a.last = (!g.tells_changes()).then_some((picture.width, picture.height, picture.i420));
    }
}
