//! The video window as the page and the call drive it: the commands set
//! where it goes and how it shows (answered at once), the call's start and
//! end show and hide it, pictures arrive from the call's thread. A thread
//! of its own owns the [`Backend`]; the display is opened the first time a
//! call with a window rectangle is up, never before. Without a display the
//! window is off, the log says so once, and everything else goes on.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::compose::{compose, BarState, Canvas};
use super::layout::{arrange, button_at, Button, Fit, Layout, Rect, Scene};
use super::Backend;
use crate::picture::Picture;

enum Msg {
    Rect(Rect),
    Layout(Layout),
    Fit(Fit),
    CallUp(bool),
    Remote(Picture),
    Local(Picture),
    Bar(BarState),
    Stop,
}

/// What the window tells its owner.
pub trait WindowEvents: Send {
    /// A control-bar button was clicked.
    fn button(&mut self, button: Button);
    fn log(&mut self, message: &str);
}

/// The window, driven from any thread.
pub struct VideoWindow {
    tx: Sender<Msg>,
    thread: Option<JoinHandle<()>>,
}

/// At most this many redraws a second: pictures from two streams at 25 to
/// 30 fps each need no more.
const REDRAW_EVERY: Duration = Duration::from_millis(20);
/// Clicks are looked for this often while shown.
const CLICK_POLL: Duration = Duration::from_millis(50);

impl VideoWindow {
    pub fn new(backend: Box<dyn Backend>, events: Box<dyn WindowEvents>) -> VideoWindow {
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("video-window".into())
            .spawn(move || run(backend, events, rx))
            .ok();
        VideoWindow { tx, thread }
    }

    fn send(&self, m: Msg) {
        let _ = self.tx.send(m);
    }

    /// `setVideoWindowParam`: screen position and size; kept until changed.
    pub fn set_rect(&self, rect: Rect) {
        self.send(Msg::Rect(rect));
    }

    pub fn set_layout(&self, layout: Layout) {
        self.send(Msg::Layout(layout));
    }

    pub fn set_fit(&self, fit: Fit) {
        self.send(Msg::Fit(fit));
    }

    /// A video call is up (shown) or over (hidden).
    pub fn call_up(&self, up: bool) {
        self.send(Msg::CallUp(up));
    }

    pub fn remote(&self, picture: Picture) {
        self.send(Msg::Remote(picture));
    }

    pub fn local(&self, picture: Picture) {
        self.send(Msg::Local(picture));
    }

    pub fn bar(&self, state: BarState) {
        self.send(Msg::Bar(state));
    }
}

impl Drop for VideoWindow {
    fn drop(&mut self) {
        self.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct State {
    rect: Option<Rect>,
    scene: Scene,
    bar: BarState,
    up: bool,
    remote: Option<Picture>,
    local: Option<Picture>,
    /// On screen at this rectangle.
    shown: Option<Rect>,
    /// The display failed: off until the rectangle changes.
    off: bool,
    dirty: bool,
}

fn run(mut backend: Box<dyn Backend>, mut events: Box<dyn WindowEvents>, rx: Receiver<Msg>) {
    let mut s = State {
        rect: None,
        scene: Scene::default(),
        bar: BarState::default(),
        up: false,
        remote: None,
        local: None,
        shown: None,
        off: false,
        dirty: false,
    };
    let mut canvas = Canvas::new(1, 1);
    let mut last_draw = Instant::now() - REDRAW_EVERY;
    loop {
        let wait = if s.shown.is_some() {
            CLICK_POLL
        } else {
            Duration::from_secs(3600)
        };
        match rx.recv_timeout(wait) {
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(m) => apply(&mut s, m),
            Err(RecvTimeoutError::Timeout) => {}
        }
        while let Ok(m) = rx.try_recv() {
            if matches!(m, Msg::Stop) {
                backend.hide();
                return;
            }
            apply(&mut s, m);
        }
        let want = if s.up && !s.off { s.rect } else { None };
        if want != s.shown {
            match want {
                None => backend.hide(),
                Some(r) => {
                    if let Err(e) = backend.show(r) {
                        events.log(&format!("the video window is off: {e}"));
                        s.off = true;
                        s.shown = None;
                        continue;
                    }
                }
            }
            s.shown = want;
            s.dirty = true;
        }
        let Some(r) = s.shown else { continue };
        let scene = Scene {
            window: (r.w, r.h),
            remote: s.remote.as_ref().map(|p| (p.width, p.height)),
            local: s.local.as_ref().map(|p| (p.width, p.height)),
            ..s.scene
        };
        let arrangement = arrange(&scene);
        for (x, y) in backend.clicks() {
            if let Some(b) = button_at(&arrangement, x, y) {
                if b == Button::Swap {
                    s.scene.swapped = !s.scene.swapped;
                    s.dirty = true;
                }
                events.button(b);
            }
        }
        if backend.exposed() {
            s.dirty = true;
        }
        if s.dirty && last_draw.elapsed() >= REDRAW_EVERY {
            if (canvas.width, canvas.height) != (r.w, r.h) {
                canvas = Canvas::new(r.w, r.h);
            }
            compose(
                &mut canvas,
                &arrangement,
                s.remote.as_ref(),
                s.local.as_ref(),
                s.bar,
            );
            if let Err(e) = backend.present(r.w, r.h, &canvas.pixels) {
                events.log(&format!("the video window could not draw: {e}"));
            }
            s.dirty = false;
            last_draw = Instant::now();
        }
    }
    backend.hide();
}

fn apply(s: &mut State, m: Msg) {
    match m {
        Msg::Rect(r) => {
            s.off = false;
            s.rect = Some(r);
        }
        Msg::Layout(l) => s.scene.layout = l,
        Msg::Fit(f) => s.scene.fit = f,
        Msg::CallUp(up) => {
            s.up = up;
            if !up {
                s.remote = None;
                s.local = None;
                s.scene.swapped = false;
            }
        }
        Msg::Remote(p) => s.remote = Some(p),
        Msg::Local(p) => s.local = Some(p),
        Msg::Bar(b) => s.bar = b,
        Msg::Stop => {}
    }
    s.dirty = true;
}
