//! The engine: loads plugins, serves the page API, runs SIP. One process,
//! restarted by the daemon when it dies (a plugin may abort it).

mod media;
mod page_paths;
mod router;
pub mod serve;
mod signalling;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use seatphone_protocol::{Response, Signal};
use seatphone_sip::admission::AcceptFrom;
use seatphone_sip::{RegTiming, Sip, SipConfig};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::api::access::AccessPolicy;
use crate::api::frame::event_frame;
use crate::api::pages::{ConnId, Pages};
use crate::api::video::VideoSockets;
use crate::config::Config;
use crate::plugins::host_impl::HostShared;
use crate::plugins::quarantine::Quarantine;
use crate::plugins::Plugins;
use media::PluginMedia;
pub use signalling::Signalling;
use signalling::Unavailable;

/// The one answer to a command, from whichever thread finishes it.
pub type ReplyFn = Box<dyn FnOnce(Response) + Send>;

pub struct Engine {
    pub config: Config,
    pub pages: Arc<Pages>,
    pub plugins: Arc<Plugins>,
    pub signalling: Box<dyn Signalling>,
    pub access: AccessPolicy,
    /// Pages showing a call's video themselves (the bus's encoded pictures).
    pub video: Arc<VideoSockets>,
}

impl Engine {
    /// Loads the plugins and starts SIP. The signals plugins send are
    /// delivered by `run_signals`.
    pub async fn start(config: Config) -> (Arc<Engine>, mpsc::UnboundedReceiver<Signal>) {
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
        let plugins = Arc::new(Plugins::load_dir(
            &dir,
            config.plugins.load.as_deref(),
            &shared,
            &quarantine,
        ));

        let signalling = start_sip(&config, plugins.clone(), pages.clone()).await;
        let access = AccessPolicy::new(&config.api);
        let engine = Engine {
            config,
            pages,
            plugins,
            signalling,
            access,
            video: VideoSockets::new(shared),
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
                .send_event_to(conn, event_frame(e.notify, &e.description, &e.param));
        }
    }

    pub fn health(&self) -> Value {
        let (loaded, skipped) = self.plugins.health();
        let registration = self.signalling.health();
        let available = registration["state"] != "unavailable";
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "plugin_api": seatphone_plugin_api::API_VERSION,
            "plugins": loaded,
            "skipped": skipped,
            "registration": registration,
            "sip": { "available": available },
        })
    }

    pub fn version_info(&self) -> Value {
        json!({ "version": env!("CARGO_PKG_VERSION"), "plugins": self.plugins.versions() })
    }

    pub async fn shutdown(&self) {
        self.signalling.shutdown().await;
        self.plugins.shutdown();
    }
}

async fn start_sip(
    config: &Config,
    plugins: Arc<Plugins>,
    pages: Arc<Pages>,
) -> Box<dyn Signalling> {
    let sip = &config.sip;
    let sip_config = SipConfig {
        bind: sip.bind,
        local_port: sip.local_port,
        user_agent: sip.user_agent.clone(),
        max_calls: sip.max_calls,
        instance_id: instance_id(&config.log.dir),
        msg_log_dir: Some(config.log.dir.clone()),
        reg_timing: RegTiming {
            expires: sip.register_expires,
            request_timeout: Duration::from_secs(sip.request_timeout),
            keepalive: Duration::from_secs(sip.keepalive_interval),
            retry_interval: Duration::from_secs(sip.retry_interval),
        },
        // Checked when the config was read.
        accept_from: AcceptFrom::parse(&sip.accept_from).unwrap_or_default(),
    };
    if !sip_config.accept_from.is_empty() {
        tracing::warn!(
            "SIP requests are also taken from {:?} ([sip] accept_from); only the configured servers may ask for auto-answer",
            sip.accept_from
        );
    }
    let media = Arc::new(PluginMedia { plugins });
    let events = Arc::new(move |e: seatphone_sip::PageEvent| {
        pages.send_event(event_frame(e.notify, &e.description, &e.param));
    });
    match Sip::start(sip_config, media, events).await {
        Ok(sip) => Box::new(sip),
        Err(e) => {
            let reason = format!("cannot use SIP port {}:{} ({e})", sip.bind, sip.local_port);
            tracing::error!("{reason}");
            Box::new(Unavailable(reason))
        }
    }
}

/// `+sip.instance` (RFC 5626): the same across engine restarts, so the
/// registrar replaces our stale contact instead of forking calls to it.
/// Kept beside the logs; made once from the kernel's random UUID source.
fn instance_id(dir: &Path) -> String {
    let path = dir.join("sip-instance-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if id.starts_with("urn:uuid:") {
            return id.to_owned();
        }
    }
    let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map(|u| u.trim().to_owned())
        .unwrap_or_else(|_| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let n = format!("{:032x}", nanos ^ u128::from(std::process::id()) << 64);
            format!(
                "{}-{}-4{}-8{}-{}",
                &n[0..8],
                &n[8..12],
                &n[13..16],
                &n[17..20],
                &n[20..32]
            )
        });
    let id = format!("urn:uuid:{uuid}");
    let _ = std::fs::write(&path, &id);
    id
}
