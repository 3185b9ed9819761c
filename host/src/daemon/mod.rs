//! The daemon: owns the daemon port, runs the engine as a child process and
//! restarts it with back-off when it dies, telling pages on the daemon socket
//! (notify 1 startup, 2 shutdown, 3 recover, 4 version). Nothing else lives here.
//!
//! It runs on plain threads, without the async runtime the engine uses: it
//! idles for the whole session beside the engine, and every page of code it
//! keeps resident counts in the seat's memory (issue 20). The daemon socket
//! is in `socket`.

mod socket;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use seatphone_protocol::Event;
use serde_json::{json, Value};
use signal_hook::consts::{SIGCHLD, SIGINT, SIGTERM};

use crate::api::access::AccessPolicy;
use crate::api::frame::standard_event_frame;
use crate::config::Config;
use crate::engine::serve::READY_MARK;
use crate::plugins::quarantine::Quarantine;
use socket::Outbox;

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// An engine that ran this long is healthy again: back-off starts over.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// Once its stdin is closed the engine stops by itself (it unregisters,
/// flushes); a kill follows if it takes longer.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What pages on the daemon socket are told.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineState {
    Starting,
    Running { recovered: bool },
    Down { reason: String },
}

struct Inner {
    state: EngineState,
    version: Option<Value>,
    pages: Vec<(u64, Arc<Outbox>)>,
    next_page: u64,
}

/// The engine's state and the pages that hear about it.
struct Daemon {
    inner: Mutex<Inner>,
}

impl Daemon {
    fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                state: EngineState::Starting,
                version: None,
                pages: Vec::new(),
                next_page: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The frames that describe the current state to a page.
    fn state_frames(inner: &Inner) -> Vec<String> {
        let mut frames = Vec::new();
        match &inner.state {
            EngineState::Starting => {}
            EngineState::Running { recovered: false } => {
                frames.push(standard_event_frame(Event::ServiceStartup, &json!({})))
            }
            EngineState::Running { recovered: true } => {
                frames.push(standard_event_frame(Event::ServiceRecover, &json!({})))
            }
            EngineState::Down { reason } => frames.push(standard_event_frame(
                Event::ServiceShutdown,
                &json!({ "reason": reason }),
            )),
        }
        if let (EngineState::Running { .. }, Some(v)) = (&inner.state, &inner.version) {
            frames.push(standard_event_frame(Event::VersionInfo, v));
        }
        frames
    }

    /// Under the lock, so that every page sees the states in order.
    fn set(&self, state: EngineState, version: Option<Value>) {
        let mut inner = self.lock();
        inner.state = state;
        if version.is_some() {
            inner.version = version;
        }
        let frames = Self::state_frames(&inner);
        for (_, outbox) in &inner.pages {
            for f in &frames {
                outbox.push(f.clone());
            }
        }
    }

    /// A page's socket is open: it is told the state, then every change.
    fn page_opened(&self, outbox: Arc<Outbox>) -> u64 {
        let mut inner = self.lock();
        let mut frames = Self::state_frames(&inner);
        // A page connecting after a recovery learns the engine is up: startup.
        if matches!(inner.state, EngineState::Running { recovered: true }) {
            frames[0] = standard_event_frame(Event::ServiceStartup, &json!({}));
        }
        for f in frames {
            outbox.push(f);
        }
        inner.next_page += 1;
        let id = inner.next_page;
        inner.pages.push((id, outbox));
        id
    }

    fn page_closed(&self, id: u64) {
        self.lock().pages.retain(|(page, _)| *page != id);
    }
}

/// What the supervising loop waits for.
enum Wake {
    /// SIGTERM or SIGINT.
    Stop(&'static str),
    /// SIGCHLD: the engine may have exited.
    Child,
}

/// Runs until SIGTERM or SIGINT; `engine` is the executable started as
/// `engine --supervised`.
pub fn run(config: Config, config_path: Option<PathBuf>, engine: &Path) -> Result<(), String> {
    let addr = SocketAddr::new(config.api.bind, config.api.daemon_port);
    let tls = config.api.tls()?;
    let listener = TcpListener::bind(addr)
        .map_err(|e| format!("cannot listen on {addr} ([api] bind/daemon_port): {e}"))?;
    let wakes = signals()?;
    Quarantine::new(&config.log.dir).reset();
    let daemon = Arc::new(Daemon::new());
    socket::serve(
        listener,
        tls,
        AccessPolicy::new(&config.api),
        daemon.clone(),
    )?;
    tracing::info!("daemon listening on {addr}");

    let mut backoff = FIRST_BACKOFF;
    let mut recovered = false;
    loop {
        let mut child = spawn_engine(engine, config_path.as_deref())?;
        // Held open while the engine runs: closing it is how the engine is
        // asked to stop.
        let stdin = child.stdin.take();
        let started = Instant::now();
        watch_ready(child.stdout.take(), daemon.clone(), recovered);
        let status = loop {
            match wakes.recv() {
                Ok(Wake::Child) => match child.try_wait() {
                    Ok(Some(status)) => break Ok(status),
                    Ok(None) => {}
                    Err(e) => break Err(e),
                },
                Ok(Wake::Stop(why)) => {
                    tracing::info!("daemon stopping ({why}): stopping the engine");
                    drop(stdin);
                    stop_engine(child, &wakes);
                    return Ok(());
                }
                Err(_) => return Err("the daemon's signal thread ended".into()),
            }
        };
        let reason = match status {
            Ok(status) => format!("the engine exited ({status})"),
            Err(e) => format!("the engine could not be watched: {e}"),
        };
        tracing::warn!("{reason}; restarting in {backoff:?}");
        daemon.set(EngineState::Down { reason }, None);
        recovered = true;
        if started.elapsed() > STABLE_AFTER {
            backoff = FIRST_BACKOFF;
        }
        if let Some(why) = sleep_unless_stopped(&wakes, backoff) {
            tracing::info!("daemon stopping ({why})");
            return Ok(());
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// SIGTERM, SIGINT and SIGCHLD as messages, from a thread of their own.
fn signals() -> Result<Receiver<Wake>, String> {
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGCHLD])
        .map_err(|e| format!("cannot watch signals: {e}"))?;
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || forward_signals(&mut signals, &tx))
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(rx)
}

fn forward_signals(signals: &mut signal_hook::iterator::Signals, tx: &Sender<Wake>) {
    for signal in signals.forever() {
        let wake = match signal {
            SIGTERM => Wake::Stop("SIGTERM"),
            SIGINT => Wake::Stop("SIGINT"),
            _ => Wake::Child,
        };
        if tx.send(wake).is_err() {
            return;
        }
    }
}

/// Waits `how_long`; the reason if a stop was asked for meanwhile.
fn sleep_unless_stopped(wakes: &Receiver<Wake>, how_long: Duration) -> Option<&'static str> {
    let until = Instant::now() + how_long;
    loop {
        match wakes.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(Wake::Stop(why)) => return Some(why),
            Ok(Wake::Child) => {}
            Err(RecvTimeoutError::Timeout) => return None,
            Err(RecvTimeoutError::Disconnected) => return Some("signal thread ended"),
        }
    }
}

fn spawn_engine(exe: &Path, config_path: Option<&Path>) -> Result<Child, String> {
    let mut cmd = Command::new(exe);
    cmd.arg("engine").arg("--supervised");
    if let Some(path) = config_path {
        cmd.arg("--config").arg(path);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd.spawn()
        .map_err(|e| format!("cannot start the engine ({}): {e}", exe.display()))
}

/// Reads the engine's stdout for its ready line; other lines pass through.
fn watch_ready(stdout: Option<ChildStdout>, daemon: Arc<Daemon>, recovered: bool) {
    let Some(stdout) = stdout else { return };
    let watch = move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            match line.strip_prefix(READY_MARK) {
                Some(info) => {
                    let version = serde_json::from_str(info).ok();
                    tracing::info!("engine ready");
                    daemon.set(EngineState::Running { recovered }, version);
                }
                None => println!("{line}"),
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("engine-stdout".into())
        .spawn(watch)
    {
        tracing::error!("cannot watch the engine's output: {e}");
    }
}

/// The engine's stdin is closed: it has `STOP_GRACE` to exit, then is killed.
fn stop_engine(mut child: Child, wakes: &Receiver<Wake>) {
    let until = Instant::now() + STOP_GRACE;
    loop {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        match wakes.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => break,
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    tracing::warn!("engine did not stop in 5 s: killing it");
    let _ = child.kill();
    let _ = child.wait();
}
