//! Executing the registration machine's actions with rsipstack.
//!
//! rsipstack gap: `Registration::register` waits for its transaction to end
//! (up to Timer F, 32 s, on UDP) and has no keep-alive. The machine keeps its
//! own, shorter request timeout, so a silent server is left within seconds;
//! keep-alives are plain OPTIONS transactions built here.

use std::collections::HashMap;
use std::sync::Arc;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::registration::Registration as StackRegistration;
use rsipstack::sip::{self as rsip, Header, Param, SipMessage};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::{make_tag, Transaction};
use rsipstack::transport::SipAddr;
use tokio::sync::Mutex;

use super::{Engine, Input};
use crate::events;
use crate::params::{Server, Transport};
use crate::registration::{Outcome, RegAction};

/// One rsipstack registration (Call-ID, CSeq) per server, so refreshes
/// reuse the Call-ID as RFC 3261 §10.2.4 asks.
#[derive(Default)]
pub struct Registrations {
    by_server: HashMap<String, Arc<Mutex<StackRegistration>>>,
}

impl Registrations {
    pub fn clear(&mut self) {
        self.by_server.clear();
    }
}

/// `sip:host:port` (with `;transport=` for TCP/TLS).
pub fn server_uri(server: &Server, transport: Transport, user: Option<&str>) -> Option<rsip::Uri> {
    let host = if server.host.contains(':') {
        format!("[{}]", server.host)
    } else {
        server.host.clone()
    };
    let user = user.map(|u| format!("{u}@")).unwrap_or_default();
    let (scheme, param) = match transport {
        Transport::Udp => ("sip", ""),
        Transport::Tcp => ("sip", ";transport=tcp"),
        Transport::Tls => ("sips", ";transport=tls"),
    };
    rsip::Uri::try_from(format!("{scheme}:{user}{host}:{}{param}", server.port).as_str()).ok()
}

impl Engine {
    pub(super) fn on_reg_action(&mut self, action: RegAction) {
        let user = self.user();
        match action {
            RegAction::Register {
                attempt,
                server,
                expires,
            } => self.send_register(attempt, server, expires),
            RegAction::KeepAlive { attempt, server } => self.send_keepalive(attempt, server),
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
        // An AOR in another domain: REGISTER names the domain and goes to
        // the configured server as outbound proxy.
        let proxy = login
            .domain
            .as_ref()
            .and_then(|_| format!("{server}").parse::<std::net::SocketAddr>().ok());
        let registrar_server = match (&login.domain, proxy) {
            (Some(domain), Some(_)) => Server {
                host: domain.clone(),
                port: server.port,
            },
            _ => server.clone(),
        };
        let Some(registrar) = server_uri(&registrar_server, transport, None) else {
            let _ = self.input.send(Input::RegOutcome {
                attempt,
                outcome: Outcome::NoAnswer,
            });
            return;
        };
        let contact = self.contact_for(&login.user, transport);
        self.registered_ip = Some(self.local_ip());
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
        let anonymous_tls = (transport == Transport::Tls && self.settings.tls_anonymous)
            .then(|| {
                format!("{}:{}", server.host, server.port)
                    .parse::<std::net::SocketAddr>()
                    .ok()
                    .map(|a| SipAddr {
                        r#type: Some(rsip::Transport::Tls),
                        addr: a.into(),
                    })
            })
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
                    fresh = StackRegistration::new(endpoint, None);
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
            reg.outbound_proxy = proxy;
            reg.contact = Some(rsip::typed::Contact {
                display_name: None,
                uri: contact,
                params,
            });
            let outcome = match reg.register(registrar, Some(expires)).await {
                Ok(resp) => {
                    let status = resp.status_code.code();
                    Outcome::Final {
                        status,
                        expires: (200..300).contains(&status).then(|| reg.expires()),
                    }
                }
                Err(e) => {
                    tracing::debug!("REGISTER: {e}");
                    Outcome::NoAnswer
                }
            };
            let _ = tx.send(Input::RegOutcome { attempt, outcome });
        });
    }

    fn send_keepalive(&mut self, attempt: u64, index: usize) {
        let Some(server) = self.settings.servers.get(index) else {
            return;
        };
        let Some(uri) = server_uri(server, self.settings.transport, None) else {
            return;
        };
        let from_uri = self.contact_for(&self.user(), self.settings.transport);
        let endpoint = self.stack.endpoint.inner.clone();
        let tx = self.input.clone();
        let via_addr = SipAddr {
            r#type: Some(match self.settings.transport {
                Transport::Udp => rsip::Transport::Udp,
                Transport::Tcp => rsip::Transport::Tcp,
                Transport::Tls => rsip::Transport::Tls,
            }),
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
    pub(super) fn contact_for(&self, user: &str, transport: Transport) -> rsip::Uri {
        let ip = self.local_ip();
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
