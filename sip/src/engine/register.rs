//! Executing the registration machine's actions with rsipstack.
//!
//! rsipstack gap: `Registration::register` waits for its transaction to end
//! (up to Timer F, 32 s, on UDP) and has no keep-alive. The machine keeps its
//! own, shorter request timeout, so a silent server is left within seconds;
//! keep-alives are built here: OPTIONS transactions on UDP, RFC 5626 CRLF
//! pings on the TCP/TLS flow the registration went over.
//!
//! rsipstack gap: its stream reader swallows the CRLF pong
//! (`SipCodecType::KeepaliveResponse => {}`), so we cannot time it. Liveness
//! of a flow is judged instead by (1) the write of the ping succeeding on a
//! flow rsipstack still has open, and (2) rsipstack's stream idle timeout,
//! which every received byte resets, pongs included: we set it to
//! [`RegTiming::flow_idle_timeout`] (two keep-alive periods and a request
//! timeout), so a server that stops answering pings gets its flow closed.
//! A closed flow (server gone, FIN/RST, or that timeout) is seen at once by
//! a watcher on the connection's cancel token, and by the next ping: the
//! machine then registers again on a new flow, or fails over in a pool.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::registration::Registration as StackRegistration;
use rsipstack::sip::{self as rsip, Header, Param, SipMessage};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::{make_tag, Transaction};
use rsipstack::transport::connection::KEEPALIVE_REQUEST;
use rsipstack::transport::stream::StreamConnection;
use rsipstack::transport::{SipAddr, SipConnection};
use tokio::sync::{mpsc, Mutex};

use super::{Engine, Input};
use crate::events;
use crate::params::{TlsTrust, Transport};
use crate::registration::{KeepAlive, Outcome, RegAction};
use crate::route::{self, server_uri, sip_transport};

/// One rsipstack registration (Call-ID, CSeq) per server, so refreshes
/// reuse the Call-ID as RFC 3261 §10.2.4 asks.
#[derive(Default)]
pub struct Registrations {
    by_server: HashMap<String, Arc<Mutex<StackRegistration>>>,
    /// The TCP/TLS connection each server index's registration went over.
    flows: Flows,
}

type Flows = Arc<std::sync::Mutex<HashMap<usize, Flow>>>;

/// A registration's flow (RFC 5626): the connection CRLF pings go on.
#[derive(Clone)]
struct Flow {
    conn: SipConnection,
    /// `local remote`: tells two connections to one server apart.
    id: String,
}

impl Registrations {
    pub fn clear(&mut self) {
        self.by_server.clear();
        if let Ok(mut f) = self.flows.lock() {
            f.clear();
        }
    }

    fn flow(&self, server: usize) -> Option<SipConnection> {
        let flows = self.flows.lock().ok()?;
        flows.get(&server).map(|f| f.conn.clone())
    }
}

impl Engine {
    pub(super) fn on_reg_action(&mut self, now: Instant, action: RegAction) {
        let user = self.user();
        match action {
            RegAction::Register {
                attempt,
                server,
                expires,
            } => self.send_register(attempt, server, expires),
            RegAction::KeepAlive {
                attempt,
                server,
                kind,
            } => {
                let ip = self.route_from(now, server);
                match kind {
                    KeepAlive::Options => self.send_keepalive(attempt, server, ip),
                    KeepAlive::Crlf => self.send_ping(attempt, server),
                }
            }
            RegAction::Status {
                state,
                reason,
                server,
            } => self.account_event(state, reason, server),
            RegAction::LoginSuccess => {
                let pool = self.account.as_ref().is_some_and(|a| a.login.pool);
                self.emit(events::login_success(&user, pool))
            }
            RegAction::LoginFailed { reason } => self.emit(events::login_failed(&user, reason)),
            RegAction::LogoutSuccess => self.emit(events::logout_success(&user)),
            RegAction::LogoutFailed { reason } => self.emit(events::logout_failed(&user, reason)),
            RegAction::ForceLogout { reason } => self.emit(events::force_logout(&user, reason)),
        }
    }

    fn send_register(&mut self, attempt: u64, index: usize, expires: u32) {
        let (Some(account), Some(server)) = (&self.account, self.settings.servers.get(index))
        else {
            let _ = self.input.send(Input::RegOutcome {
                attempt,
                outcome: Outcome::NoAnswer,
            });
            return;
        };
        let login = account.login.clone();
        let transport = self.settings.transport;
        if let Some(a) = self.account.as_mut() {
            a.reg.set_transport(transport);
        }
        // The flow this REGISTER goes over, to ping it once registered.
        let flow_target = match transport {
            Transport::Udp => None,
            Transport::Tcp | Transport::Tls => {
                // Missed pongs close the flow (see the module doc); set
                // before the REGISTER opens the connection, which keeps it.
                let idle = self.cfg.reg_timing.flow_idle_timeout();
                self.stack
                    .endpoint
                    .inner
                    .transport_layer
                    .set_stream_idle_timeout(idle);
                server_uri(server, transport, None).and_then(|u| SipAddr::try_from(&u).ok())
            }
        };
        let flows = self.register.flows.clone();
        let route = route::register(server, login.domain.as_deref());
        let Some(registrar) = server_uri(&route.registrar, transport, None) else {
            let _ = self.input.send(Input::RegOutcome {
                attempt,
                outcome: Outcome::NoAnswer,
            });
            return;
        };
        let ip = self.local_ip(index);
        if let Some(a) = self.account.as_mut() {
            a.reg.contact_sent(ip);
        }
        let contact = self.contact_for(&login.user, ip, transport);
        if let Ok(mut c) = self.contact.lock() {
            *c = Some(contact.clone());
        }
        let key = server.to_string();
        let shared = self
            .register
            .by_server
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Mutex::new(StackRegistration::new(
                    self.stack.endpoint.inner.clone(),
                    None,
                )))
            })
            .clone();
        let endpoint = self.stack.endpoint.inner.clone();
        let instance = self.cfg.instance_id.clone();
        let tx = self.input.clone();
        let anonymous_tls = (self.settings.tls_trust() == Some(TlsTrust::Anonymous))
            .then(|| route::destination(server, Transport::Tls))
            .flatten();
        tokio::spawn(async move {
            if let Some(target) = anonymous_tls {
                let transport = &endpoint.transport_layer;
                let cached = transport.lookup(&target, None).await.is_ok();
                if !cached {
                    tracing::warn!(
                        "TLS to {target} without a certificate check (tls_anonymous_enable)"
                    );
                    if let Err(e) = super::anonymous_tls::dial(transport, &target).await {
                        tracing::info!("{e}");
                    }
                }
            }
            // A REGISTER to this server still in flight (a silent server
            // keeps its transaction for 32 s): use a fresh registration.
            let mut fresh;
            let mut guard;
            let reg: &mut StackRegistration = match shared.try_lock() {
                Ok(g) => {
                    guard = g;
                    &mut guard
                }
                Err(_) => {
                    fresh = StackRegistration::new(endpoint.clone(), None);
                    &mut fresh
                }
            };
            reg.credential = Some(Credential {
                username: login.user.clone(),
                password: login.password.clone(),
                realm: None,
                auth_username: Some(login.auth_user.clone()),
            });
            let mut params = Vec::new();
            if !instance.is_empty() {
                params.push(Param::Other(
                    "+sip.instance".into(),
                    Some(format!("\"<{instance}>\"").into()),
                ));
                // RFC 5626: one flow per instance; with the instance it lets
                // the registrar replace a restarted engine's stale contact.
                params.push(Param::Other("reg-id".into(), Some("1".into())));
            }
            reg.outbound_proxy = route.outbound_proxy;
            reg.contact = Some(rsip::typed::Contact {
                display_name: None,
                uri: contact,
                params,
            });
            let outcome = match reg.register(registrar, Some(expires)).await {
                Ok(resp) => Outcome::answered(resp.status_code.code(), reg.expires()),
                Err(e) => {
                    tracing::debug!("REGISTER: {e}");
                    Outcome::NoAnswer
                }
            };
            if let Some(target) = flow_target {
                if outcome.keeps_flow(expires) {
                    remember_flow(&endpoint, &target, &flows, index, &tx).await;
                } else if let Ok(mut f) = flows.lock() {
                    f.remove(&index);
                }
            }
            let _ = tx.send(Input::RegOutcome { attempt, outcome });
        });
    }

    /// Where the route to `servers[server]` leaves from now. Another
    /// address than our Contact's makes the registration register again
    /// (its call: `Registration::local_address`). Each keep-alive looks, and
    /// so does each call set up meanwhile, whose SDP needs the address anyway
    /// (a probe is a few microseconds; an address learnt at the last
    /// keep-alive may be a period old).
    pub(super) fn route_from(&mut self, now: Instant, server: usize) -> IpAddr {
        let ip = self.local_ip(server);
        if let Some(a) = self.account.as_mut() {
            if a.reg.local_address(now, ip) {
                tracing::info!("local address changed to {ip}: registering again");
            }
        }
        ip
    }

    /// RFC 5626 §4.4.1: a double-CRLF ping on the registration's flow.
    fn send_ping(&mut self, attempt: u64, index: usize) {
        let flow = self.register.flow(index);
        let tx = self.input.clone();
        tokio::spawn(async move {
            let outcome = match flow {
                Some(conn) => ping(&conn).await,
                None => Outcome::FlowClosed,
            };
            let _ = tx.send(Input::RegOutcome { attempt, outcome });
        });
    }

    /// The flow to `servers[server]` closed (see [`remember_flow`]).
    pub(super) fn on_flow_closed(&mut self, now: Instant, server: usize) {
        tracing::info!("the connection to {} closed", self.server_name(server));
        if let Some(a) = self.account.as_mut() {
            a.reg.on_flow_closed(now, server);
        }
    }

    fn send_keepalive(&mut self, attempt: u64, index: usize, ip: IpAddr) {
        let Some(server) = self.settings.servers.get(index) else {
            return;
        };
        let Some(uri) = server_uri(server, self.settings.transport, None) else {
            return;
        };
        let from_uri = self.contact_for(&self.user(), ip, self.settings.transport);
        let endpoint = self.stack.endpoint.inner.clone();
        let tx = self.input.clone();
        let via_addr = SipAddr {
            r#type: Some(sip_transport(self.settings.transport)),
            addr: self.stack.local.into(),
        };
        tokio::spawn(async move {
            let outcome = match options(endpoint, uri, from_uri, via_addr).await {
                Some(status) => Outcome::Final {
                    status,
                    expires: None,
                },
                None => Outcome::NoAnswer,
            };
            let _ = tx.send(Input::RegOutcome { attempt, outcome });
        });
    }

    /// Our Contact URI: the account's user at the address we signal from.
    pub(super) fn contact_for(&self, user: &str, ip: IpAddr, transport: Transport) -> rsip::Uri {
        let port = self.stack.local.port();
        let host = if ip.is_ipv6() {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        let param = match transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        };
        let user = if user.is_empty() { "seatphone" } else { user };
        rsip::Uri::try_from(format!("sip:{user}@{host}:{port}{param}").as_str()).unwrap_or_default()
    }
}

/// Notes the connection a successful REGISTER to `target` went over, and
/// watches it: when rsipstack closes it (peer closed, write error, or the
/// idle timeout that missing pongs run into), the engine hears of it at once.
async fn remember_flow(
    endpoint: &rsipstack::transaction::endpoint::EndpointInnerRef,
    target: &SipAddr,
    flows: &Flows,
    index: usize,
    tx: &mpsc::UnboundedSender<Input>,
) {
    // rsipstack gap: the transaction does not say which connection it used.
    // The REGISTER's answer arrived on it a moment ago, so it is the cached
    // connection lookup hands out for the server (lookup would open a new
    // one only if that had closed meanwhile; the next ping goes out on it
    // and the refresh re-binds it).
    let Ok((conn, _)) = endpoint.transport_layer.lookup(target, None).await else {
        return;
    };
    let id = match conn.get_remote_addr() {
        Some(remote) => format!("{} {remote}", conn.get_addr()),
        None => return,
    };
    let Some(token) = conn.cancel_token() else {
        return;
    };
    let fresh = match flows.lock() {
        Ok(mut f) => {
            let fresh = f.get(&index).is_none_or(|old| old.id != id);
            f.insert(
                index,
                Flow {
                    conn,
                    id: id.clone(),
                },
            );
            fresh
        }
        Err(_) => false,
    };
    if !fresh {
        return;
    }
    let flows = flows.clone();
    let tx = tx.clone();
    tokio::spawn(async move {
        token.cancelled().await;
        // Only the flow the registration still rides on matters.
        let current = flows.lock().is_ok_and(|mut f| {
            let current = f.get(&index).is_some_and(|f| f.id == id);
            if current {
                f.remove(&index);
            }
            current
        });
        if current {
            let _ = tx.send(Input::FlowClosed { server: index });
        }
    });
}

/// Writes the CRLF ping on `conn`.
async fn ping(conn: &SipConnection) -> Outcome {
    if conn.cancel_token().is_some_and(|t| t.is_cancelled()) {
        return Outcome::FlowClosed;
    }
    let sent = match conn {
        SipConnection::Tcp(c) => c.send_raw(KEEPALIVE_REQUEST).await,
        SipConnection::Tls(c) => c.send_raw(KEEPALIVE_REQUEST).await,
        _ => return Outcome::FlowClosed,
    };
    match sent {
        Ok(()) => Outcome::FlowUp,
        Err(e) => {
            tracing::debug!("CRLF keep-alive: {e}");
            Outcome::FlowClosed
        }
    }
}

/// One OPTIONS transaction; the final status, or `None` without answer.
async fn options(
    endpoint: rsipstack::transaction::endpoint::EndpointInnerRef,
    uri: rsip::Uri,
    from_uri: rsip::Uri,
    via_addr: SipAddr,
) -> Option<u16> {
    // rsipstack gap: get_via(None) names the first transport (UDP) even for
    // a request that goes out over TCP/TLS.
    let via = endpoint.get_via(Some(via_addr), None).ok()?;
    let from = rsip::typed::From {
        display_name: None,
        uri: from_uri,
        params: vec![],
    }
    .with_tag(make_tag());
    let to = rsip::typed::To {
        display_name: None,
        uri: uri.clone(),
        params: vec![],
    };
    let mut req = endpoint.make_request(rsip::Method::Options, uri, via, from, to, 1, None);
    req.headers.push(Header::ContentLength(0.into()));
    let key = TransactionKey::from_request(&req, TransactionRole::Client).ok()?;
    let mut tx = Transaction::new_client(key, req, endpoint, None);
    tx.send().await.ok()?;
    while let Some(msg) = tx.receive().await {
        if let SipMessage::Response(resp) = msg {
            let code = resp.status_code.code();
            if code >= 200 {
                return Some(code);
            }
        }
    }
    None
}
