//! The thin tokio driver: one task owns the registration and call-table
//! state machines, feeds them what rsipstack reports, and executes their
//! actions. Everything slow (a REGISTER, an INVITE, a BYE) runs in a spawned
//! task that reports back through [`Input`], so the SIP task never blocks.

mod anonymous_tls;
mod commands;
pub(crate) mod dialogs;
mod gate;
mod media_failure;
mod register;
mod route_probe;
pub(crate) mod stack;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rsipstack::dialog::dialog::DialogStateSender;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip as rsip;
use tokio::sync::{mpsc, oneshot};

use crate::admission::Trust;
use crate::calls::{CallAction, CallTable};
use crate::challenge;
use crate::events::{self, PageEvent};
use crate::params::{Login, SipSettings};
use crate::registration::{Outcome, Registration};
use crate::route;
use crate::{EventSink, Health, HostInput, Media, Published, Reply, SipConfig};

use crate::session::Session;
use route_probe::RouteProbe;
use stack::Stack;

/// Everything the SIP task reacts to.
pub(crate) enum Input {
    Host(HostInput),
    RegOutcome {
        attempt: u64,
        outcome: Outcome,
    },
    Incoming {
        dialog: InviteDialog,
        request: rsip::Request,
        /// What its source may do (only a server may ask for auto-answer).
        trust: Trust,
    },
    /// A configured server's name resolved to these addresses.
    ServerResolved {
        host: String,
        port: u16,
        addrs: Vec<SocketAddr>,
    },
    /// The INVITE transaction of an outgoing call ended: the final response,
    /// or `None` when nothing came.
    InviteDone {
        call: u32,
        response: Option<rsip::Response>,
    },
    /// The TCP/TLS connection the registration with `servers[server]`
    /// went over closed.
    FlowClosed {
        server: usize,
    },
    /// Our session refresh (RFC 4028) finished.
    RefreshDone {
        call: u32,
        response: Option<rsip::Response>,
    },
    /// Our re-INVITE (`what`, offering `sdp`) finished.
    ReinviteDone {
        call: u32,
        what: dialogs::Reoffer,
        sdp: String,
        response: Option<rsip::Response>,
    },
}

/// The SIP side of one call.
struct CallIo {
    dialog: InviteDialog,
    session: Session,
    /// We answered an INVITE without SDP: the peer's answer comes in the ACK.
    awaiting_ack_answer: bool,
    /// The 2xx answer to our INVITE was taken (it is reported twice).
    answered: bool,
    /// Our INVITE as sent, for sending it again (422, a second challenge).
    invite: Option<rsipstack::dialog::invitation::InviteOption>,
    /// Credentials for the INVITE sent again after a second challenge.
    retry_auth: Vec<rsip::Header>,
    /// The peer allows UPDATE: session refreshes go without SDP.
    peer_update: bool,
    /// The page accepted with video: an INVITE without SDP gets our offer
    /// of audio and video.
    accept_video: bool,
    /// The peer's re-INVITE offering video, unanswered until the page's
    /// replyAddVideo (2009).
    held_offer: Option<dialogs::HeldOffer>,
    /// Our re-INVITE that met 491, until it goes out again.
    waiting_reoffer: Option<dialogs::Waiting>,
}

struct Account {
    login: Login,
    reg: Registration,
    /// Our proxy's last challenge, answered ahead by the next INVITE.
    kept: challenge::Kept,
}

struct Engine {
    cfg: SipConfig,
    media: Arc<dyn Media>,
    events: EventSink,
    published: Arc<Mutex<Published>>,
    stack: Stack,
    input: mpsc::UnboundedSender<Input>,
    states: DialogStateSender,
    settings: SipSettings,
    account: Option<Account>,
    table: CallTable,
    calls: HashMap<u32, CallIo>,
    /// SIP Call-ID → our call id.
    by_sip_id: HashMap<String, u32>,
    /// Replies of hold/unhold commands: answered when the peer answers the
    /// re-INVITE (0, 7 refused, 6 no answer), before 2018–2021.
    hold_replies: HashMap<u32, Reply>,
    /// Replies of addVideo/delVideo, answered the same way.
    video_replies: HashMap<u32, Reply>,
    /// Plugins' stream requests (call, kind, on) waiting for a
    /// renegotiation under way to end.
    waiting_streams: Vec<(u32, String, bool)>,
    /// Local Contact for dialogs, shared with the incoming loop.
    contact: Arc<Mutex<Option<rsip::Uri>>>,
    register: register::Registrations,
    account_status: Option<Arc<PageEvent>>,
    shutdown: Option<oneshot::Sender<()>>,
    /// What the plugins are told of the calls (`CallAction::Media`), in
    /// order, once the page's socket task had its turn (see `run`).
    media_events: Vec<seatphone_protocol::CallEvent>,
    /// Outgoing calls whose 2xx came: their media starts once the page's
    /// socket task had its turn, before `media_events` (see `run`).
    media_starts: Vec<u32>,
    /// Who may talk to us (shared with the transport's gate).
    admission: gate::SharedAdmission,
    /// Asks the routing table which address reaches a server.
    probe: RouteProbe,
}

pub(crate) async fn start(
    cfg: SipConfig,
    media: Arc<dyn Media>,
    events: EventSink,
    published: Arc<Mutex<Published>>,
    admission: gate::SharedAdmission,
) -> std::io::Result<mpsc::UnboundedSender<Input>> {
    let (stack, incoming) = stack::build(
        cfg.bind,
        cfg.local_port,
        &cfg.user_agent,
        cfg.msg_log_dir.clone(),
        admission.clone(),
    )
    .await?;
    let (input_tx, input_rx) = mpsc::unbounded_channel::<Input>();
    let (states_tx, states_rx) = stack.dialogs.new_dialog_state_channel();
    let contact = Arc::new(Mutex::new(None));
    tokio::spawn(stack::incoming_loop(
        stack.dialogs.clone(),
        incoming,
        states_tx.clone(),
        input_tx.clone(),
        contact.clone(),
        admission.clone(),
        stack.local,
    ));
    let engine = Engine {
        table: CallTable::new(cfg.max_calls).starting_at(first_call_id()),
        register: register::Registrations::default(),
        cfg,
        media,
        events,
        published,
        stack,
        input: input_tx.clone(),
        states: states_tx,
        settings: SipSettings::default(),
        account: None,
        calls: HashMap::new(),
        by_sip_id: HashMap::new(),
        hold_replies: HashMap::new(),
        video_replies: HashMap::new(),
        waiting_streams: Vec::new(),
        contact,
        account_status: None,
        shutdown: None,
        media_events: Vec::new(),
        media_starts: Vec::new(),
        admission,
        probe: RouteProbe::new(),
    };
    engine.publish();
    tokio::spawn(engine.run(input_rx, states_rx));
    Ok(input_tx)
}

/// Call ids look like the reference's (large, not 1, 2, 3), so a page
/// never mistakes an index for an id.
fn first_call_id() -> u32 {
    0x4000_0000 | (rand::random::<u32>() & 0x0fff_0000)
}

impl Engine {
    async fn run(
        mut self,
        mut input: mpsc::UnboundedReceiver<Input>,
        mut states: rsipstack::dialog::dialog::DialogStateReceiver,
    ) {
        loop {
            let deadline = self.next_deadline();
            // The clock is read once per input: its handler and the actions
            // it leads to (a keep-alive, an answer) see the same instant.
            let now = tokio::select! {
                msg = input.recv() => {
                    let Some(msg) = msg else { break };
                    let now = Instant::now();
                    self.handle(now, msg);
                    now
                }
                Some(state) = states.recv() => {
                    let now = Instant::now();
                    self.on_dialog_state(now, state);
                    now
                }
                _ = sleep_until(deadline) => {
                    let now = Instant::now();
                    self.on_timeout(now);
                    now
                }
            };
            self.settle(now);
            // The plugins' turn, after the page's: as long as the table has
            // something for them (a start that failed ends its call, which
            // they hear of in the next round).
            while !self.media_starts.is_empty() || !self.media_events.is_empty() {
                self.tell_plugins().await;
                self.settle(Instant::now());
            }
            if self.finished_shutdown() {
                break;
            }
        }
        self.stack.cancel.cancel();
    }

    /// After any input: calls whose media failed end, the table's actions
    /// are carried out, and the page hears the events.
    fn settle(&mut self, now: Instant) {
        self.end_calls_without_media();
        self.drain(now);
        self.retry_waiting_streams();
        self.drain(now);
        self.publish();
    }

    /// The plugins start an outgoing call's media and hear of the calls
    /// (connected, ended, …) after this task yields once: the page's
    /// socket task, woken by the events just queued for it, writes them
    /// first. Started or told before the page's 2006 was written, the
    /// plugin's set-up (sockets, poll, the call's thread) and first frame
    /// stood between the 200 and the 2006 (issue 20). Nothing else runs
    /// on this task meanwhile, so the page's next command still finds the
    /// media started.
    async fn tell_plugins(&mut self) {
        tokio::task::yield_now().await;
        for call in std::mem::take(&mut self.media_starts) {
            if let Some(io) = self.calls.get_mut(&call) {
                io.session.start(self.media.as_ref(), call);
            }
        }
        for event in std::mem::take(&mut self.media_events) {
            self.media.call_event(event);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let reg = self.account.as_ref().and_then(|a| a.reg.poll_timeout());
        [reg, self.table.poll_timeout()].into_iter().flatten().min()
    }

    fn on_timeout(&mut self, now: Instant) {
        if let Some(a) = self.account.as_mut() {
            a.reg.handle_timeout(now);
        }
        self.table.handle_timeout(now);
    }

    fn handle(&mut self, now: Instant, msg: Input) {
        match msg {
            Input::Host(HostInput::Command(req, reply)) => self.command(now, req, reply),
            Input::Host(HostInput::MediaUp(call)) => self.table.media_up(call),
            Input::Host(HostInput::MediaTimeout(call)) => {
                if self.table.contains(call) {
                    tracing::info!("call {call}: no media received, hanging up");
                    self.table.media_timeout(call);
                }
            }
            Input::Host(HostInput::MediaFailed(call, reason)) => self.media_failed(call, &reason),
            Input::Host(HostInput::Stream { call, kind, on }) => self.plugin_stream(call, kind, on),
            Input::Host(HostInput::Shutdown(done)) => self.begin_shutdown(now, done),
            Input::RegOutcome { attempt, outcome } => {
                if let Some(a) = self.account.as_mut() {
                    a.reg.on_outcome(now, attempt, outcome);
                }
            }
            Input::FlowClosed { server } => self.on_flow_closed(now, server),
            Input::Incoming {
                dialog,
                request,
                trust,
            } => self.on_incoming(now, dialog, request, trust),
            Input::ServerResolved { host, port, addrs } => {
                if let Ok(mut a) = self.admission.lock() {
                    a.resolved(&host, port, &addrs);
                }
            }
            Input::InviteDone { call, response } => self.on_invite_done(now, call, response),
            Input::RefreshDone { call, response } => self.on_refresh_done(now, call, response),
            Input::ReinviteDone {
                call,
                what,
                sdp,
                response,
            } => self.on_reinvite_done(now, call, what, sdp, response),
        }
    }

    /// Executes every action the state machines queued, in order.
    fn drain(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(action) = self.account.as_mut().and_then(|a| a.reg.poll_action()) {
                progressed = true;
                self.on_reg_action(now, action);
            }
            while let Some(action) = self.table.poll_action() {
                progressed = true;
                self.on_call_action(now, action);
            }
            if !progressed {
                break;
            }
        }
    }

    fn emit(&self, event: PageEvent) {
        tracing::debug!(notify = event.notify, "page event {}", event.description);
        (self.events)(event);
    }

    fn on_call_action(&mut self, now: Instant, action: CallAction) {
        match action {
            CallAction::Page(ev) => self.emit(ev),
            CallAction::Media(ev) => self.media_events.push(ev),
            CallAction::Answer(call) => self.answer(now, call),
            CallAction::Reject(call, code) => self.reject(call, code),
            CallAction::Cancel(call) => self.hang_up(call, true),
            CallAction::Bye(call) => self.hang_up(call, false),
            CallAction::Hold(call) => self.reinvite_hold(call, true),
            CallAction::Unhold(call) => self.reinvite_hold(call, false),
            CallAction::Refresh(call) => self.refresh(call),
            CallAction::RetryInvite(call, se) => self.retry_invite(call, se),
            CallAction::AddVideo(call) => self.reinvite_video(call, true),
            CallAction::DelVideo(call) => self.reinvite_video(call, false),
            CallAction::AnswerVideoOffer(call, accept) => self.answer_held_offer(now, call, accept),
            CallAction::Reoffer(call) => self.reoffer(call),
        }
    }

    /// The address we reach `servers[server]` from (Contact, Via, SDP,
    /// `local_ip` of `config`): the one we are bound to, else what the
    /// routing table says (`route_probe`) for the server's address, or for
    /// the one its name resolved to (`trust_servers` resolves it; until
    /// then loopback, and the first keep-alive after sees the change).
    fn local_ip(&self, server: usize) -> IpAddr {
        if !self.cfg.bind.is_unspecified() {
            return self.cfg.bind;
        }
        let target = self.settings.servers.get(server).and_then(|s| {
            route::server_addr(s).or_else(|| {
                let admission = self.admission.lock().ok()?;
                admission.address_of(&s.host, s.port)
            })
        });
        target
            .and_then(|t| self.probe.source_for(t))
            .unwrap_or_else(|| route::unrouted(target))
    }

    /// The server the account uses now (the first before a login).
    fn current_server(&self) -> usize {
        self.account.as_ref().map_or(0, |a| a.reg.server())
    }

    fn user(&self) -> String {
        self.account
            .as_ref()
            .map(|a| a.login.user.clone())
            .unwrap_or_default()
    }

    fn server_name(&self, index: usize) -> String {
        self.settings
            .servers
            .get(index)
            .map(|s| s.to_string())
            .unwrap_or_default()
    }

    fn publish(&self) {
        let (state, server) = match &self.account {
            Some(a) => (a.reg.state(), a.reg.server()),
            None => (0, 0),
        };
        let health = Health {
            state,
            server: self.settings.servers.get(server).cloned(),
            user: self.user(),
            transport: self.settings.transport.name(),
            local: Some(self.stack.local),
            calls: self.table.len(),
        };
        if let Ok(mut p) = self.published.lock() {
            p.account_status = self.account_status.clone();
            p.calls = self.table.snapshot();
            p.health = health;
        }
    }

    fn begin_shutdown(&mut self, now: Instant, done: oneshot::Sender<()>) {
        for call in self.table.ids() {
            let _ = self.table.end(call);
        }
        let unregistering = self.account.as_mut().is_some_and(|a| a.reg.logout(now));
        self.shutdown = Some(done);
        if !unregistering {
            self.account = None;
        }
    }

    fn finished_shutdown(&mut self) -> bool {
        if self.shutdown.is_none() {
            return false;
        }
        let idle = self.account.as_ref().is_none_or(|a| a.reg.is_idle());
        if idle {
            if let Some(done) = self.shutdown.take() {
                let _ = done.send(());
            }
            return true;
        }
        false
    }

    fn account_event(&mut self, state: u8, reason: u16, server: usize) {
        let ev = events::account_status(&self.user(), state, reason, &self.server_name(server));
        self.account_status = Some(Arc::new(ev.clone()));
        self.emit(ev);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending::<()>().await,
    }
}
