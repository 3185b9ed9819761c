//! Registration and pool fail-over as a sans-IO state machine.
//!
//! The machine never touches a socket or a clock: the driver feeds it `now`
//! and the outcome of each REGISTER / OPTIONS it asked for, and drains
//! [`RegAction`]s. This is what lets "fail over within one retry interval" be
//! tested exactly, on simulated time.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use seatphone_protocol::{result, Refusal};

use crate::params::Transport;

/// `register_state` values of notify 1009 (PROTOCOL.md).
pub mod reg_state {
    pub const UNREGISTERED: u8 = 0;
    pub const REGISTERING: u8 = 1;
    pub const DEREGISTERING: u8 = 2;
    pub const REGISTERED: u8 = 3;
    pub const DEREGISTERED: u8 = 4;

    /// The state's name in `/health`.
    pub fn name(state: u8) -> &'static str {
        match state {
            REGISTERING => "registering",
            DEREGISTERING => "deregistering",
            REGISTERED => "registered",
            DEREGISTERED => "deregistered",
            _ => "unregistered",
        }
    }
}

/// How many of the `configured` servers a login registers with: the
/// primary alone, or with `pool` the whole list (failing over in order).
/// Result 3 when the page configured none yet.
pub fn servers_for_login(configured: usize, pool: bool) -> Result<usize, Refusal> {
    match (configured, pool) {
        (0, _) => Err(Refusal::new(
            result::WRONG_STATE,
            "no SIP server configured: call config with networkInfo.serverAddr first",
        )),
        (n, true) => Ok(n),
        (_, false) => Ok(1),
    }
}

/// The SIP status we report when a server did not answer at all.
pub const NO_ANSWER: u16 = 408;

/// Timing policy. Defaults suit production; tests shrink them.
#[derive(Debug, Clone)]
pub struct RegTiming {
    /// Expires we ask for.
    pub expires: u32,
    /// How long we wait for any answer to one REGISTER or OPTIONS.
    pub request_timeout: Duration,
    /// Keep-alive period while registered (OPTIONS on UDP, a CRLF ping on
    /// TCP/TLS): a dead server is noticed within `keepalive +
    /// request_timeout`, well inside one retry interval.
    pub keepalive: Duration,
    /// After every server failed, wait this long and start over.
    pub retry_interval: Duration,
}

impl RegTiming {
    /// How long a TCP/TLS flow may stay silent before the stack closes it.
    /// The server answers every CRLF ping with a CRLF pong, so a healthy
    /// flow never stays silent for a whole keep-alive period; two missed
    /// pongs (plus the time to answer) mean the server or the path to it is
    /// gone, and the closed flow makes the next keep-alive register anew.
    pub fn flow_idle_timeout(&self) -> Duration {
        self.keepalive * 2 + self.request_timeout
    }
}

impl Default for RegTiming {
    fn default() -> Self {
        Self {
            expires: 3600,
            request_timeout: Duration::from_secs(4),
            keepalive: Duration::from_secs(25),
            retry_interval: Duration::from_secs(30),
        }
    }
}

/// What came back for one request the machine asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A final response; `expires` is what the registrar granted (2xx only).
    Final { status: u16, expires: Option<u32> },
    /// No answer, or the transport failed (connection refused, ICMP).
    NoAnswer,
    /// A CRLF ping went out on the registration's flow, which is still open.
    FlowUp,
    /// The registration's flow (TCP/TLS connection) is closed.
    FlowClosed,
}

impl Outcome {
    /// A final response to a REGISTER: what the registrar granted
    /// (`granted`) counts on a 2xx only.
    pub fn answered(status: u16, granted: u32) -> Self {
        Self::Final {
            status,
            expires: (200..300).contains(&status).then_some(granted),
        }
    }

    /// Whether the TCP/TLS flow a REGISTER asking for `expires` went over
    /// is kept to be pinged (RFC 5626 §4.4.1): it registered us, a 2xx to
    /// a REGISTER that was not a removal (`expires` 0).
    pub fn keeps_flow(&self, expires: u32) -> bool {
        expires > 0
            && matches!(
                self,
                Self::Final {
                    status: 200..=299,
                    ..
                }
            )
    }
}

/// How a registration is kept alive: RFC 5626 §4.4.1 CRLF pings on a
/// connection (TCP/TLS), OPTIONS on UDP, where it also tells a pool whether
/// the server still answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeepAlive {
    #[default]
    Options,
    Crlf,
}

impl KeepAlive {
    pub fn for_transport(transport: Transport) -> Self {
        match transport {
            Transport::Udp => Self::Options,
            Transport::Tcp | Transport::Tls => Self::Crlf,
        }
    }
}

/// What the driver must do, or tell the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegAction {
    /// Send REGISTER to `servers[server]`; report back with `attempt`.
    Register {
        attempt: u64,
        server: usize,
        expires: u32,
    },
    /// Keep the registration with `servers[server]` alive the `kind` way.
    KeepAlive {
        attempt: u64,
        server: usize,
        kind: KeepAlive,
    },
    /// Notify 1009 with `register_state`, `reason_code` and the server index.
    Status {
        state: u8,
        reason: u16,
        server: usize,
    },
    /// Notify 1004.
    LoginSuccess,
    /// Notify 1005.
    LoginFailed { reason: u16 },
    /// Notify 1006.
    LogoutSuccess,
    /// Notify 1007.
    LogoutFailed { reason: u16 },
    /// Notify 1008: the server dropped us while registered.
    ForceLogout { reason: u16 },
}

/// Where the registration is. One exhaustive `match` per input.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Idle,
    /// Waiting for an answer to REGISTER; `first` = this is the initial
    /// login (a refusal is 1005), not a refresh (a refusal is 1008).
    Registering {
        server: usize,
        deadline: Instant,
        first: bool,
    },
    Registered {
        server: usize,
        refresh_at: Instant,
        keepalive_at: Instant,
    },
    /// Keep-alive sent while registered.
    Probing {
        server: usize,
        refresh_at: Instant,
        deadline: Instant,
    },
    Deregistering {
        server: usize,
        deadline: Instant,
    },
    /// Every server failed; start over at `at`.
    Waiting {
        at: Instant,
    },
}

/// The registration of one account against an ordered list of servers
/// (one server, or a pool of up to four).
#[derive(Debug)]
pub struct Registration {
    servers: usize,
    timing: RegTiming,
    keepalive: KeepAlive,
    phase: Phase,
    attempt: u64,
    /// Whether the current cycle has reached "registered" once: a pool that
    /// loses its server fails over silently instead of sending 1005.
    ever_registered: bool,
    /// The address the Contact of our last REGISTER named.
    contact_ip: Option<IpAddr>,
    actions: VecDeque<RegAction>,
}

impl Registration {
    pub fn new(servers: usize, timing: RegTiming) -> Self {
        Self {
            servers: servers.max(1),
            timing,
            keepalive: KeepAlive::Options,
            phase: Phase::Idle,
            attempt: 0,
            ever_registered: false,
            contact_ip: None,
            actions: VecDeque::new(),
        }
    }

    /// The transport the REGISTERs go over (it may change with `config`
    /// between two of them); it decides the kind of keep-alive.
    pub fn set_transport(&mut self, transport: Transport) {
        self.keepalive = KeepAlive::for_transport(transport);
    }

    /// `register_state` as notify 1009 would say it now.
    pub fn state(&self) -> u8 {
        match self.phase {
            Phase::Idle => reg_state::UNREGISTERED,
            Phase::Registering { .. } | Phase::Waiting { .. } => reg_state::REGISTERING,
            Phase::Registered { .. } | Phase::Probing { .. } => reg_state::REGISTERED,
            Phase::Deregistering { .. } => reg_state::DEREGISTERING,
        }
    }

    /// The server index in use (or last tried).
    pub fn server(&self) -> usize {
        match self.phase {
            Phase::Registering { server, .. }
            | Phase::Registered { server, .. }
            | Phase::Probing { server, .. }
            | Phase::Deregistering { server, .. } => server,
            Phase::Idle | Phase::Waiting { .. } => 0,
        }
    }

    pub fn is_registered(&self) -> bool {
        self.state() == reg_state::REGISTERED
    }

    /// Nothing registered and nothing under way (never logged in, or
    /// logged out): a shutdown need not wait for it.
    pub fn is_idle(&self) -> bool {
        matches!(
            self.state(),
            reg_state::UNREGISTERED | reg_state::DEREGISTERED
        )
    }

    /// Start (or restart) registering with the first server.
    pub fn login(&mut self, now: Instant) {
        self.ever_registered = false;
        self.register_with(now, 0, true);
    }

    /// Unregister (Expires: 0). Returns false when there is nothing to undo.
    pub fn logout(&mut self, now: Instant) -> bool {
        match self.phase {
            Phase::Idle => false,
            Phase::Waiting { .. } => {
                self.phase = Phase::Idle;
                self.push_status(reg_state::DEREGISTERED, 0, 0);
                self.actions.push_back(RegAction::LogoutSuccess);
                true
            }
            Phase::Registering { server, .. }
            | Phase::Registered { server, .. }
            | Phase::Probing { server, .. }
            | Phase::Deregistering { server, .. } => {
                self.attempt += 1;
                self.phase = Phase::Deregistering {
                    server,
                    deadline: now + self.timing.request_timeout,
                };
                self.push_status(reg_state::DEREGISTERING, 0, server);
                self.actions.push_back(RegAction::Register {
                    attempt: self.attempt,
                    server,
                    expires: 0,
                });
                true
            }
        }
    }

    /// The answer to request `attempt`. Stale attempts are ignored.
    pub fn on_outcome(&mut self, now: Instant, attempt: u64, outcome: Outcome) {
        if attempt != self.attempt {
            return;
        }
        match (self.phase.clone(), outcome) {
            (Phase::Registering { server, .. }, Outcome::Final { status, expires })
                if (200..300).contains(&status) =>
            {
                let granted = expires.unwrap_or(self.timing.expires).max(1);
                self.phase = Phase::Registered {
                    server,
                    refresh_at: now + refresh_after(granted),
                    keepalive_at: now + self.timing.keepalive,
                };
                self.ever_registered = true;
                self.push_status(reg_state::REGISTERED, 0, server);
                self.actions.push_back(RegAction::LoginSuccess);
            }
            // 503 says this server cannot serve now (overloaded, or the
            // stack's own answer when the flow to it broke under the
            // request), 408 that it did not answer in time: the next
            // server, not a refusal (RFC 3263 §4.3).
            (
                Phase::Registering { server, .. },
                Outcome::Final {
                    status: status @ (408 | 503),
                    ..
                },
            ) => self.fail_over(now, server, status),
            (Phase::Registering { server, first, .. }, Outcome::Final { status, .. }) => {
                // A refusal (401/403 after our credentials, 404 …) is final:
                // retrying with the same password cannot help.
                self.phase = Phase::Idle;
                self.push_status(reg_state::UNREGISTERED, status, server);
                if first && !self.ever_registered {
                    self.actions
                        .push_back(RegAction::LoginFailed { reason: status });
                } else {
                    self.actions
                        .push_back(RegAction::ForceLogout { reason: status });
                }
            }
            (Phase::Registering { server, .. }, Outcome::NoAnswer) => {
                self.fail_over(now, server, NO_ANSWER)
            }
            (
                Phase::Probing {
                    server, refresh_at, ..
                },
                Outcome::Final { .. } | Outcome::FlowUp,
            ) => {
                // Any answer, even 404 or 405, proves the server is alive.
                self.phase = Phase::Registered {
                    server,
                    refresh_at,
                    keepalive_at: now + self.timing.keepalive,
                };
            }
            (Phase::Probing { server, .. }, Outcome::NoAnswer) => {
                self.fail_over(now, server, NO_ANSWER)
            }
            // RFC 5626 §4.5: a failed flow is replaced by registering again
            // (on a new connection) at once; if the server does not answer
            // that, the pool fails over as for a silent keep-alive.
            (Phase::Probing { server, .. }, Outcome::FlowClosed) => {
                self.register_with(now, server, false)
            }
            (Phase::Deregistering { .. }, Outcome::Final { status, .. })
                if (200..300).contains(&status) =>
            {
                self.finish_logout(None)
            }
            (Phase::Deregistering { .. }, Outcome::Final { status, .. }) => {
                self.finish_logout(Some(status))
            }
            (Phase::Deregistering { .. }, Outcome::NoAnswer) => self.finish_logout(Some(NO_ANSWER)),
            _ => {}
        }
    }

    /// The flow to `servers[server]` closed between two keep-alives (the
    /// server went away, or stopped answering pings): register again at
    /// once if it carried the registration, as a failed ping would.
    pub fn on_flow_closed(&mut self, now: Instant, server: usize) {
        if let Phase::Registered { server: s, .. } | Phase::Probing { server: s, .. } = self.phase {
            if s == server {
                self.register_with(now, server, false);
            }
        }
    }

    /// The driver sent a REGISTER whose Contact names `ip`.
    pub fn contact_sent(&mut self, ip: IpAddr) {
        self.contact_ip = Some(ip);
    }

    /// Where the route to the server leaves from now (the driver looks at
    /// each keep-alive). Another address than the Contact's while registered
    /// (new interface, VPN, Wi-Fi): register again at once, so the registrar
    /// routes calls to the new Contact instead of waiting for the refresh.
    /// True when it does.
    pub fn local_address(&mut self, now: Instant, ip: IpAddr) -> bool {
        if self.contact_ip.is_none_or(|sent| sent == ip) {
            return false;
        }
        match self.phase {
            Phase::Registered { server, .. } | Phase::Probing { server, .. } => {
                self.register_with(now, server, false);
                true
            }
            _ => false,
        }
    }

    /// The earliest instant at which [`Registration::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Idle => None,
            Phase::Registering { deadline, .. }
            | Phase::Deregistering { deadline, .. }
            | Phase::Probing { deadline, .. } => Some(deadline),
            Phase::Registered {
                refresh_at,
                keepalive_at,
                ..
            } => Some(refresh_at.min(keepalive_at)),
            Phase::Waiting { at } => Some(at),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase.clone() {
            Phase::Registering { deadline, .. }
            | Phase::Probing { deadline, .. }
            | Phase::Deregistering { deadline, .. }
                if now >= deadline =>
            {
                let attempt = self.attempt;
                self.on_outcome(now, attempt, Outcome::NoAnswer);
            }
            Phase::Registered {
                server, refresh_at, ..
            } if now >= refresh_at => self.register_with(now, server, false),
            Phase::Registered {
                server,
                refresh_at,
                keepalive_at,
            } if now >= keepalive_at => {
                self.attempt += 1;
                self.phase = Phase::Probing {
                    server,
                    refresh_at,
                    deadline: now + self.timing.request_timeout,
                };
                self.actions.push_back(RegAction::KeepAlive {
                    attempt: self.attempt,
                    server,
                    kind: self.keepalive,
                });
            }
            Phase::Waiting { at } if now >= at => self.register_with(now, 0, !self.ever_registered),
            _ => {}
        }
    }

    #[must_use]
    pub fn poll_action(&mut self) -> Option<RegAction> {
        self.actions.pop_front()
    }

    fn register_with(&mut self, now: Instant, server: usize, first: bool) {
        self.attempt += 1;
        self.phase = Phase::Registering {
            server,
            deadline: now + self.timing.request_timeout,
            first,
        };
        self.push_status(reg_state::REGISTERING, 0, server);
        self.actions.push_back(RegAction::Register {
            attempt: self.attempt,
            server,
            expires: self.timing.expires,
        });
    }

    /// `server` did not answer (`reason`: 408, or its 503): try the next
    /// one in order, or wait and start over when the list is exhausted.
    fn fail_over(&mut self, now: Instant, server: usize, reason: u16) {
        if server + 1 < self.servers {
            let first = !self.ever_registered;
            self.register_with(now, server + 1, first);
            return;
        }
        self.attempt += 1;
        self.phase = Phase::Waiting {
            at: now + self.timing.retry_interval,
        };
        self.push_status(reg_state::UNREGISTERED, reason, server);
        if self.ever_registered {
            self.actions.push_back(RegAction::ForceLogout { reason });
        } else {
            self.actions.push_back(RegAction::LoginFailed { reason });
        }
        // Once reported, a later success is a fresh login for the page.
        self.ever_registered = false;
    }

    fn finish_logout(&mut self, failure: Option<u16>) {
        let server = self.server();
        self.phase = Phase::Idle;
        self.attempt += 1;
        self.push_status(reg_state::DEREGISTERED, failure.unwrap_or(0), server);
        match failure {
            None => self.actions.push_back(RegAction::LogoutSuccess),
            Some(reason) => self.actions.push_back(RegAction::LogoutFailed { reason }),
        }
    }

    fn push_status(&mut self, state: u8, reason: u16, server: usize) {
        self.actions.push_back(RegAction::Status {
            state,
            reason,
            server,
        });
    }
}

/// Refresh well before expiry, at half the granted time: a lost REGISTER
/// still leaves room for the retry and a fail-over before the binding ends.
pub fn refresh_after(granted: u32) -> Duration {
    Duration::from_secs(u64::from((granted / 2).max(1)))
}

#[cfg(test)]
#[path = "registration_tests.rs"]
mod tests;
