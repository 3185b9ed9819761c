//! The engine: loads plugins, serves the page API, runs SIP. One process,
//! restarted by the daemon when it dies (a plugin may abort it).

mod router;
pub mod serve;
mod signalling;

use std::path::PathBuf;
use std::sync::Arc;

use seatphone_plugin_api::{Request, Response, Signal};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::api::access::AccessPolicy;
use crate::api::frame::event_frame;
use crate::api::pages::{ConnId, Pages};
use crate::config::Config;
use crate::plugins::host_impl::HostShared;
use crate::plugins::quarantine::Quarantine;
use crate::plugins::Plugins;

pub use signalling::Unwired;

/// The one answer to a command, from whichever thread finishes it.
pub type ReplyFn = Box<dyn FnOnce(Response) + Send>;

/// An event for the page, produced by the host itself.
#[derive(Debug, Clone, PartialEq)]
pub struct PageEvent {
    pub notify: u32,
    pub description: String,
    pub param: Value,
}

/// The host-owned commands (SIP signalling, answer modes). The host routes
/// them here; the implementation must call `reply` before emitting any event
/// the command causes.
pub trait Signalling: Send + Sync {
    fn command(&self, request: Request, reply: ReplyFn);
    /// What a newly connected page needs to catch up (1009, each call's latest event).
    fn snapshot(&self) -> Vec<PageEvent>;
    /// For `/health`: registration state, never secrets.
    fn health(&self) -> Value;
    /// A plugin told the host something (media up, media timeout).
    fn signal(&self, signal: Signal);
    fn shutdown(&self) {}
}

pub struct Engine {
    pub config: Config,
    pub pages: Arc<Pages>,
    pub plugins: Plugins,
    pub signalling: Arc<dyn Signalling>,
    pub access: AccessPolicy,
}

impl Engine {
    /// Loads the plugins. The signals they send are delivered by `run_signals`.
    pub fn new(config: Config) -> (Arc<Engine>, mpsc::UnboundedReceiver<Signal>) {
        let pages = Arc::new(Pages::default());
        let (signals_tx, signals_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(HostShared {
            pages: pages.clone(),
            bus: Default::default(),
            settings_json: config.plugin_settings_json(),
            signals: signals_tx,
        });
        let dir: PathBuf = config.plugin_dir();
        tracing::info!("loading plugins from {}", dir.display());
        let quarantine = Quarantine::new(&config.log.dir);
        let plugins = Plugins::load_dir(&dir, config.plugins.load.as_deref(), &shared, &quarantine);
        let access = AccessPolicy::new(&config.api);
        let engine = Engine {
            config,
            pages,
            plugins,
            signalling: Arc::new(Unwired),
            access,
        };
        (Arc::new(engine), signals_rx)
    }

    pub async fn run_signals(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Signal>) {
        while let Some(signal) = rx.recv().await {
            self.signalling.signal(signal);
        }
    }

    /// A page took the call socket: bring it up to date.
    pub fn page_connected(&self, conn: ConnId) {
        for e in self.signalling.snapshot() {
            self.pages
                .send_to(conn, event_frame(e.notify, &e.description, &e.param));
        }
    }

    pub fn health(&self) -> Value {
        let (loaded, skipped) = self.plugins.health();
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "plugins": loaded,
            "skipped": skipped,
            "registration": self.signalling.health(),
        })
    }

    pub fn version_info(&self) -> Value {
        json!({ "version": env!("CARGO_PKG_VERSION"), "plugins": self.plugins.versions() })
    }

    pub fn shutdown(&self) {
        self.signalling.shutdown();
        self.plugins.shutdown();
    }
}
