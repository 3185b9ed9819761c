//! Seatphone's SIP user agent.
//!
//! The host runs one [`Sip`]: it registers the page's account, places and
//! answers calls, and asks the host's plugins (through [`Media`]) for the
//! media sections of each call. It speaks the SIP commands and events of
//! PROTOCOL.md directly: [`Sip::command`] takes the page's request and
//! answers it, and every event goes to the `events` callback.
//!
//! Shape (the quinn-proto / str0m way):
//! - [`registration`] and [`calls`] are plain state machines that take
//!   `now` and inputs and return actions; they are unit-tested on simulated
//!   time and never touch a socket. [`admission`] is the policy of who may
//!   talk to the seat (and ask for auto-answer), fed the same way.
//! - `engine` is the thin tokio driver: one task owns both machines, feeds
//!   them what the SIP stack (rsipstack: transport, transactions, dialogs,
//!   digest) reports and executes their actions.
//! - [`sdp`], [`params`] and [`events`] are small pure helpers, and so are
//!   [`session_timer`] (RFC 4028 negotiation) and [`invite_retry`] (what our
//!   INVITE sent again carries), [`requests`] (the status for a request no
//!   call decides: by method, and 482 for a reused Call-ID).
//!   [`route`] says where our requests go (registrar, outbound proxy,
//!   a call's Request-URI).
//! - `session` (one call's SDP: the plugins' sections, offer/answer and
//!   re-offers), `challenge` (credentials for a second digest challenge),
//!   `early` (the early dialog's PRACK target), `sanity` (RFC 3261 §8.2
//!   checks), `headers` (what the dialogs read of a message) and `digest`
//!   (digest algorithm names, credentials blanked for the log) are pure as
//!   well: `engine` calls them, they never call it.
//!
//! Ordering guarantee: a command's `reply` is always called before any event
//! the command causes, from the same task.
//!
//! Transports: UDP and TCP on the same local port; TLS as a client
//! (`sipTransportMode` 1; trust from `sip.tls_rootcertpath`, else the system
//! roots; `tls_anonymous_enable` skips the certificate check, with a warning).
//! Keep-alive is an OPTIONS to the registrar on UDP and an RFC 5626 CRLF
//! ping on the TCP/TLS flow the registration went over (the kind and the
//! timing are [`registration`]'s; `engine::register` sends).
//!
//! Where rsipstack (0.7.14) falls short, the gap is closed in this crate and
//! marked `rsipstack gap:` in a comment:
//! - SHA-256 digest: it parses and writes the algorithm as `SHA256`, not
//!   RFC 7616's `SHA-256`, so a SHA-256 challenge failed (`digest`).
//! - PRACK of a reliable 183 went to the wrong Request-URI without the
//!   route set of the early dialog (`early`).
//! - `Registration::register` waits up to Timer F (32 s) and has no
//!   keep-alive: our machine keeps its own timeouts and sends OPTIONS or
//!   CRLF pings (`engine::register`).
//! - It numbers an INVITE sent again below the CSeq its dialog used after
//!   a challenge ([`invite_retry`] catches the counter up).
//! - Its re-INVITE retry after 491 sleeps inside the request with one
//!   backoff for both sides (RFC 3261 §14.1 gives the Call-ID's owner
//!   2.1–4 s and the other side 0–2 s): ours is the call table's timer
//!   (`calls::glare`).
//! - Its TLS transport cannot skip certificate checks (`engine::anonymous_tls`).
//! - `get_via(None)` names UDP for requests sent over TCP/TLS.
//! - No session timers (RFC 4028): negotiated in [`session_timer`] (as UAC
//!   and UAS), run by the call table.
#![forbid(unsafe_code)]

pub mod admission;
pub mod calls;
mod challenge;
pub(crate) mod digest;
pub mod dtmf;
mod early;
mod engine;
pub mod events;
mod headers;
pub mod invite_retry;
pub mod params;
pub mod registration;
pub mod requests;
pub mod route;
mod sanity;
pub mod sdp;
mod session;
pub mod session_timer;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seatphone_protocol::{
    AnswerRequest, AnswerResponse, CallEvent, Capability, OfferRequest, OfferResponse, Request,
    Response, StartRequest, StopRequest,
};
use tokio::sync::{mpsc, oneshot};

pub use events::PageEvent;

/// The functions that read hostile input, for the fuzz targets (`fuzz/`).
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::digest::{incoming_algorithm, redact};
    pub use crate::headers::{parse_name_addr, platform_answer_after};
    pub use crate::sanity::check as sanity_check;
}
pub use registration::RegTiming;

/// What the host's config file says about SIP; the server and account come
/// from the page (`config`, `register`).
#[derive(Debug, Clone)]
pub struct SipConfig {
    /// Local address to bind; unspecified (0.0.0.0) = all interfaces.
    pub bind: IpAddr,
    /// SIP port; 0 = any free port.
    pub local_port: u16,
    pub user_agent: String,
    /// Calls beyond this are refused with 486 (PROTOCOL.md "Several calls").
    pub max_calls: usize,
    /// `urn:uuid:…`, stable per machine, sent as `+sip.instance` (RFC 5626)
    /// so a restarted engine replaces its own stale contact.
    pub instance_id: String,
    /// Where SIP messages are logged (digest credentials redacted).
    pub msg_log_dir: Option<PathBuf>,
    /// Registration timing; tests shrink it.
    pub reg_timing: RegTiming,
    /// `[sip] accept_from`: sources let in besides the configured servers.
    pub accept_from: admission::AcceptFrom,
}

impl Default for SipConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            local_port: 5060,
            user_agent: format!("Seatphone/{}", env!("CARGO_PKG_VERSION")),
            max_calls: 2,
            instance_id: String::new(),
            msg_log_dir: None,
            reg_timing: RegTiming::default(),
            accept_from: admission::AcceptFrom::default(),
        }
    }
}

/// Implemented by the host over the loaded plugins
/// (see `seatphone_protocol::wire` for the types). Every method must
/// return quickly: it is called from the SIP task.
pub trait Media: Send + Sync + 'static {
    /// Media kinds some loaded plugin serves (`audio`, `video`).
    fn kinds(&self) -> Vec<String>;
    /// Warnings for the config response's `errMsg`.
    fn configure(&self, page_config: &serde_json::Value) -> Vec<String>;
    fn offer(&self, req: OfferRequest) -> Result<OfferResponse, String>;
    /// `Err` rejects that m-line with port 0.
    fn answer(&self, req: AnswerRequest) -> Result<AnswerResponse, String>;
    fn start(&self, req: StartRequest) -> Result<(), String>;
    fn stop(&self, req: StopRequest);
    fn call_event(&self, ev: CallEvent);
    /// Sends a command to the plugin owning `capability` (the catalogue's
    /// `forwarded_to`: DTMF when `dtmf_mode` is not 4 goes to `audio`);
    /// result 4 when no loaded plugin has it.
    fn forward(
        &self,
        capability: Capability,
        request: Request,
        reply: Box<dyn FnOnce(Response) + Send>,
    );
}

/// The callback that carries events to the page.
pub type EventSink = Arc<dyn Fn(PageEvent) + Send + Sync>;

/// The answer callback of one command.
pub type Reply = Box<dyn FnOnce(Response) + Send>;

/// What the SIP task publishes for the synchronous getters, after every
/// input: the events shared, not copied, and `/health`'s facts as the
/// engine has them, written out as JSON only when asked (issue 20: made
/// afresh each time, this was a quarter of the engine's instructions).
#[derive(Debug, Default)]
pub(crate) struct Published {
    pub account_status: Option<Arc<PageEvent>>,
    pub calls: Vec<Arc<PageEvent>>,
    pub health: Health,
}

/// `/health`'s facts (see [`Sip::health`]).
#[derive(Debug, Default, Clone)]
pub(crate) struct Health {
    pub state: u8,
    /// The server the account uses (the first before a login).
    pub server: Option<params::Server>,
    pub user: String,
    pub transport: &'static str,
    pub local: Option<std::net::SocketAddr>,
    pub calls: usize,
}

/// Inputs of the SIP task from the host.
pub(crate) enum HostInput {
    Command(Request, Reply),
    MediaUp(u32),
    MediaTimeout(u32),
    MediaFailed(u32, String),
    /// A plugin asks for a stream of its own in a call (`on`) or its end.
    Stream {
        call: u32,
        kind: String,
        on: bool,
    },
    Shutdown(oneshot::Sender<()>),
}

/// A cheap handle on the SIP user agent.
#[derive(Clone)]
pub struct Sip {
    /// The SIP task's own queue: a command is one hand-over from the page's
    /// task to the SIP task.
    input: mpsc::UnboundedSender<engine::Input>,
    published: Arc<Mutex<Published>>,
    /// Read live for `/health`: drops happen without the SIP task.
    admission: Arc<Mutex<admission::Admission>>,
}

impl Sip {
    /// Binds the SIP socket and starts the SIP task on the current runtime.
    pub async fn start(
        cfg: SipConfig,
        media: Arc<dyn Media>,
        events: EventSink,
    ) -> std::io::Result<Sip> {
        let published = Arc::new(Mutex::new(Published::default()));
        let admission = Arc::new(Mutex::new(admission::Admission::new(
            cfg.accept_from.clone(),
        )));
        let input = engine::start(cfg, media, events, published.clone(), admission.clone()).await?;
        Ok(Sip {
            input,
            published,
            admission,
        })
    }

    /// The host-owned commands of the catalogue (owner `Host`: config,
    /// register, calls, hold, DTMF, answer modes).
    /// `reply` is called before any event the command causes.
    pub fn command(&self, request: Request, reply: Reply) {
        if let Some(HostInput::Command(_, reply)) = self.send(HostInput::Command(request, reply)) {
            reply(Response::error(
                seatphone_protocol::result::FAILED,
                "the SIP user agent has stopped",
            ));
        }
    }

    /// Hands `input` to the SIP task; gives it back when the task has stopped.
    fn send(&self, input: HostInput) -> Option<HostInput> {
        match self.input.send(engine::Input::Host(input)) {
            Err(mpsc::error::SendError(engine::Input::Host(back))) => Some(back),
            _ => None,
        }
    }

    /// Events a newly connected page needs: the current 1009 and, per call
    /// in progress, its latest call event.
    pub fn snapshot(&self) -> Vec<PageEvent> {
        let Ok(p) = self.published.lock() else {
            return Vec::new();
        };
        p.account_status
            .iter()
            .chain(&p.calls)
            .map(|e| PageEvent::clone(e))
            .collect()
    }

    /// For `GET /health`, never the password:
    /// `{"state": "registered", "server": "127.0.0.1:5060", "user": "1001",
    /// "transport": "udp", "local": "127.0.0.1:5060", "calls": 0,
    /// "dropped_requests": 0}`
    /// (`state`: unregistered, registering, registered, deregistering, deregistered;
    /// `dropped_requests`: requests from sources the seat does not take, dropped unanswered).
    pub fn health(&self) -> serde_json::Value {
        let h = self
            .published
            .lock()
            .map(|p| p.health.clone())
            .unwrap_or_default();
        let dropped = self.admission.lock().map(|a| a.dropped()).unwrap_or(0);
        serde_json::json!({
            "state": registration::reg_state::name(h.state),
            "server": h.server.map(|s| s.to_string()).unwrap_or_default(),
            "user": h.user,
            "transport": h.transport,
            "local": h.local.map(|l| l.to_string()).unwrap_or_default(),
            "calls": h.calls,
            "dropped_requests": dropped,
        })
    }

    /// A plugin reported media of the call up: 2005.
    pub fn media_up(&self, call_id: u32) {
        let _ = self.send(HostInput::MediaUp(call_id));
    }

    /// A plugin received nothing for too long: the call ends (BYE, reason 408).
    pub fn media_timeout(&self, call_id: u32) {
        let _ = self.send(HostInput::MediaTimeout(call_id));
    }

    /// A plugin's media for the call failed (`reason` names the stream):
    /// the call ends (BYE, reason 488 with `reason` for the page).
    pub fn media_failed(&self, call_id: u32, reason: String) {
        let _ = self.send(HostInput::MediaFailed(call_id, reason));
    }

    /// A plugin asks for a stream of `kind` in a call that is up (`on`: a
    /// re-INVITE adding its section) or for its end (port 0). It hears the
    /// outcome as `media_start` (the peer took it) or `media_stop`.
    pub fn stream(&self, call_id: u32, kind: String, on: bool) {
        let _ = self.send(HostInput::Stream {
            call: call_id,
            kind,
            on,
        });
    }

    /// Unregisters (Expires: 0, short timeout) and ends every call.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.send(HostInput::Shutdown(tx)).is_none() {
            let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
        }
    }
}
