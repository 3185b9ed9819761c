//! The daemon: owns the daemon port, runs the engine as a child process and
//! restarts it with back-off when it dies, telling pages on the daemon socket
//! (notify 1 startup, 2 shutdown, 3 recover, 4 version). Nothing else lives here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use seatphone_protocol::Event;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::api::access::AccessPolicy;
use crate::api::frame::{standard_event_frame, Rejection};
use crate::api::pages::{ConnId, Pages, SocketKind};
use crate::api::server::{daemon_socket, Endpoint};
use crate::api::socket::FrameHandler;
use crate::api::tls::PageListener;
use crate::config::Config;
use crate::engine::serve::{stop_requested, READY_MARK};
use crate::plugins::quarantine::Quarantine;

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// An engine that ran this long is healthy again: back-off starts over.
const STABLE_AFTER: Duration = Duration::from_secs(30);

/// What pages on the daemon socket are told.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineState {
    Starting,
    Running { recovered: bool },
    Down { reason: String },
}

struct Status {
    state: EngineState,
    version: Option<Value>,
}

struct Daemon {
    pages: Arc<Pages>,
    status: Mutex<Status>,
}

impl Daemon {
    fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The frames that describe the current state to a page.
    fn state_frames(status: &Status) -> Vec<String> {
        let mut frames = Vec::new();
        match &status.state {
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
        if let (EngineState::Running { .. }, Some(v)) = (&status.state, &status.version) {
            frames.push(standard_event_frame(Event::VersionInfo, v));
        }
        frames
    }

    fn set(&self, state: EngineState, version: Option<Value>) {
        let frames = {
            let mut status = self.lock();
            status.state = state;
            if version.is_some() {
                status.version = version;
            }
            Self::state_frames(&status)
        };
        for f in frames {
            self.pages.broadcast(SocketKind::Daemon, &f);
        }
    }
}

impl FrameHandler for Daemon {
    fn opened(&self, conn: ConnId, _kind: SocketKind) {
        let frames = {
            let status = self.lock();
            let mut frames = Self::state_frames(&status);
            // A page connecting after a recovery learns the engine is up: startup.
            if matches!(status.state, EngineState::Running { recovered: true }) {
                frames[0] = standard_event_frame(Event::ServiceStartup, &json!({}));
            }
            frames
        };
        for f in frames {
            self.pages.send_to(conn, f);
        }
    }

    fn frame(&self, conn: ConnId, _dialect: seatphone_protocol::Dialect, _text: &str) {
        let rejection = Rejection {
            description: "invalid_request".into(),
            rsp: 0,
            seq: None,
            err_msg: "the daemon socket takes no commands; use the call socket".into(),
        };
        self.pages.send_to(conn, rejection.into_frame());
    }
}

pub async fn run(config: Config, config_path: Option<PathBuf>) -> Result<(), String> {
    let addr = SocketAddr::new(config.api.bind, config.api.daemon_port);
    let listener = PageListener::bind(addr, config.api.tls()?)
        .await
        .map_err(|e| format!("cannot listen on {addr} ([api] bind/daemon_port): {e}"))?;
    Quarantine::new(&config.log.dir).reset();
    let daemon = Arc::new(Daemon {
        pages: Arc::new(Pages::default()),
        status: Mutex::new(Status {
            state: EngineState::Starting,
            version: None,
        }),
    });
    let endpoint = Endpoint {
        access: AccessPolicy::new(&config.api),
        pages: daemon.pages.clone(),
        handler: daemon.clone(),
    };
    let app = axum::Router::new()
        .route("/", get(daemon_socket))
        .with_state(endpoint);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("daemon socket server failed: {e}");
        }
    });
    tracing::info!("daemon listening on {addr}");

    let stop = stop_requested(false);
    tokio::pin!(stop);
    let mut backoff = FIRST_BACKOFF;
    let mut recovered = false;
    loop {
        let mut child = spawn_engine(config_path.as_ref())?;
        // Held open while the engine runs (`Child::wait` would close it):
        // closing it is how the engine is asked to stop.
        let stdin = child.stdin.take();
        let started = Instant::now();
        let ready_watch = watch_ready(&mut child, daemon.clone(), recovered);
        let outcome = tokio::select! {
            status = child.wait() => Some(status),
            why = &mut stop => {
                tracing::info!("daemon stopping ({why}): stopping the engine");
                drop(stdin);
                stop_engine(child).await;
                return Ok(());
            }
        };
        ready_watch.abort();
        let reason = match outcome {
            Some(Ok(status)) => format!("the engine exited ({status})"),
            Some(Err(e)) => format!("the engine could not be watched: {e}"),
            None => "the engine stopped".into(),
        };
        tracing::warn!("{reason}; restarting in {backoff:?}");
        daemon.set(EngineState::Down { reason }, None);
        recovered = true;
        if started.elapsed() > STABLE_AFTER {
            backoff = FIRST_BACKOFF;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            why = &mut stop => {
                tracing::info!("daemon stopping ({why})");
                return Ok(());
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn spawn_engine(config_path: Option<&PathBuf>) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own executable: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("engine").arg("--supervised");
    if let Some(path) = config_path {
        cmd.arg("--config").arg(path);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd.spawn()
        .map_err(|e| format!("cannot start the engine: {e}"))
}

/// Reads the engine's stdout for its ready line; other lines pass through.
fn watch_ready(
    child: &mut Child,
    daemon: Arc<Daemon>,
    recovered: bool,
) -> tokio::task::JoinHandle<()> {
    let stdout = child.stdout.take();
    tokio::spawn(async move {
        let Some(stdout) = stdout else { return };
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            match line.strip_prefix(READY_MARK) {
                Some(info) => {
                    let version = serde_json::from_str(info).ok();
                    tracing::info!("engine ready");
                    daemon.set(EngineState::Running { recovered }, version);
                }
                None => println!("{line}"),
            }
        }
    })
}

/// Once its stdin is closed the engine stops by itself (it unregisters,
/// flushes); a kill follows if it takes too long.
async fn stop_engine(mut child: Child) {
    if tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .is_err()
    {
        tracing::warn!("engine did not stop in 5 s: killing it");
        let _ = child.kill().await;
    }
}
