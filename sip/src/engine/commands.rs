//! The page's SIP commands: check parameters, act, reply — then (back in
//! `run`) the events the command caused go out, after the reply.

use std::time::Instant;

use seatphone_protocol::{result, Command, Refusal, Request, Response};
use serde_json::json;

use super::{Account, Engine, Input};
use crate::calls::{self, video_plugin_loaded, AnswerMode, Peer};
use crate::registration::{servers_for_login, Registration};
use crate::Reply;
use crate::{dtmf, params};

fn invalid(reply: Reply, msg: impl Into<String>) {
    reply(Response::error(result::INVALID, msg));
}

impl Engine {
    pub(super) fn command(&mut self, now: Instant, req: Request, reply: Reply) {
        let p = &req.param;
        let Some(command) = Command::from_description(&req.description) else {
            return invalid(reply, format!("{} is not a SIP command", req.description));
        };
        match command {
            Command::SetConfigParam => self.cmd_config(&req, reply),
            Command::Login => match params::login(p) {
                Ok(login) => self.cmd_login(now, login, reply),
                Err(e) => invalid(reply, e),
            },
            Command::Logout => match params::logout_number(p) {
                Ok(number) => self.cmd_logout(now, number, reply),
                Err(e) => invalid(reply, e),
            },
            Command::StartCall | Command::StartAnonymousCall => {
                let anonymous = command == Command::StartAnonymousCall;
                match (params::callee(p), params::is_video(p)) {
                    (Ok(callee), Ok(video)) => {
                        self.cmd_start_call(now, callee, video, anonymous, reply)
                    }
                    (Err(e), _) | (_, Err(e)) => invalid(reply, e),
                }
            }
            Command::AcceptCall => match (params::call_id(p), params::is_video(p)) {
                (Ok(call), Ok(video)) => {
                    let accepted = self.table.accept(call);
                    if accepted.is_ok() {
                        self.accept_media(call, video);
                    }
                    refusal_or_ok(reply, accepted)
                }
                (Err(e), _) | (_, Err(e)) => invalid(reply, e),
            },
            Command::EndCall => match params::call_id(p) {
                Ok(call) => refusal_or_ok(reply, self.table.end(call)),
                // An id out of range is still "no such call" for 2022.
                Err(e) => {
                    if let Some(id) = params::any_call_id(p) {
                        reply(Response::error(result::NOT_FOUND, format!("no call {id}")));
                        self.emit(crate::events::endcall_failed(id));
                    } else {
                        invalid(reply, e)
                    }
                }
            },
            Command::HoldCall | Command::UnholdCall => match params::call_id(p) {
                Ok(call) => {
                    let started = if command == Command::HoldCall {
                        self.table.hold(call)
                    } else {
                        self.table.unhold(call)
                    };
                    match started {
                        // Answered by on_hold_done, with the peer's answer.
                        Ok(()) => {
                            self.hold_replies.insert(call, reply);
                        }
                        Err(r) => reply(r.into()),
                    }
                }
                Err(e) => invalid(reply, e),
            },
            Command::AddVideo | Command::DelVideo => match params::call_id(p) {
                Ok(call) => self.cmd_change_video(call, command == Command::AddVideo, reply),
                Err(e) => invalid(reply, e),
            },
            Command::ReplyAddVideo => match (params::call_id(p), params::accept(p)) {
                (Ok(call), Ok(accept)) => {
                    refusal_or_ok(reply, self.table.reply_add_video(call, accept))
                }
                (Err(e), _) | (_, Err(e)) => invalid(reply, e),
            },
            Command::SendDtmf => match (params::call_id(p), params::tone(p)) {
                (Ok(call), Ok(tone)) => self.cmd_dtmf(req.clone(), call, tone, reply),
                (Err(e), _) | (_, Err(e)) => invalid(reply, e),
            },
            Command::SetAnswerWay => {
                let way = p.get("answerWay").cloned().unwrap_or_default();
                let times = p.get("times").cloned().unwrap_or_default();
                match AnswerMode::parse(&way, &times) {
                    Ok(mode) => {
                        self.table.set_mode(mode);
                        let mut r = Response::ok();
                        r.err_msg = Some(String::new());
                        reply(r);
                    }
                    Err(e) => invalid(reply, e),
                }
            }
            other => invalid(
                reply,
                format!("{} is not a SIP command", other.description()),
            ),
        }
    }

    fn cmd_config(&mut self, req: &Request, reply: Reply) {
        let unknown = params::unknown_keys(&req.param);
        if !unknown.is_empty() {
            tracing::warn!("config: unknown keys ignored: {}", unknown.join(", "));
        }
        match params::config(&req.param, &self.settings) {
            Ok(mut settings) => {
                let mut warnings = Vec::new();
                if settings.log_path != self.settings.log_path {
                    let to = settings.log_path.as_deref().map(std::path::Path::new);
                    if let Err(e) = self.stack.log.move_to(to) {
                        warnings.push(e);
                        settings.log_path = self.settings.log_path.clone();
                    }
                }
                if settings.tls_trust() == Some(params::TlsTrust::Anonymous) {
                    tracing::warn!("TLS certificate verification is off (tls_anonymous_enable)");
                }
                let changed_servers = settings.servers != self.settings.servers
                    || settings.transport != self.settings.transport;
                self.settings = settings;
                if changed_servers {
                    self.register.clear();
                }
                self.trust_servers();
                warnings.extend(self.media.configure(&req.param));
                if let Some(params::TlsTrust::Roots(path)) = self.settings.tls_trust() {
                    if let Err(e) = self.load_tls_roots(&path) {
                        warnings.push(self.settings.tls_failed(&e));
                    }
                }
                let mut r = Response::ok()
                    .top("local_ip", self.local_ip(self.current_server()).to_string());
                if !warnings.is_empty() {
                    r.err_msg = Some(warnings.join("; "));
                }
                reply(r);
            }
            Err(e) => invalid(reply, e),
        }
    }

    /// Tells the gate which servers the page configured. Names are resolved
    /// in the background; until then nothing from them is let in.
    fn trust_servers(&mut self) {
        let servers: Vec<(String, u16)> = self
            .settings
            .servers
            .iter()
            .map(|s| (s.host.clone(), s.port))
            .collect();
        let Ok(names) = self.admission.lock().map(|mut a| a.set_servers(&servers)) else {
            return;
        };
        for (host, port) in names {
            let input = self.input.clone();
            tokio::spawn(async move {
                let found: std::io::Result<Vec<_>> = tokio::net::lookup_host((host.as_str(), port))
                    .await
                    .map(Iterator::collect);
                match found {
                    Ok(addrs) => {
                        let _ = input.send(Input::ServerResolved { host, port, addrs });
                    }
                    Err(e) => tracing::warn!("cannot resolve the SIP server {host}: {e}"),
                }
            });
        }
    }

    /// Trust for SIP over TLS: the CAs of `path` (`params::TlsTrust`).
    /// With `tls_anonymous_enable` nothing is loaded: the connection is
    /// dialled without a certificate check (see `anonymous_tls`).
    fn load_tls_roots(&mut self, path: &str) -> Result<(), String> {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        self.stack
            .endpoint
            .inner
            .transport_layer
            .set_tls_config(rsipstack::transport::TlsConfig {
                ca_certs: Some(pem),
                ..Default::default()
            });
        Ok(())
    }

    fn cmd_login(&mut self, now: Instant, login: params::Login, reply: Reply) {
        let servers = match servers_for_login(self.settings.servers.len(), login.pool) {
            Ok(n) => n,
            Err(r) => return reply(r.into()),
        };
        tracing::info!(
            "registering {} (digest user {}) with {}",
            login.user,
            login.auth_user,
            self.settings.servers[0]
        );
        self.register.clear();
        let mut reg = Registration::new(servers, self.cfg.reg_timing.clone());
        reg.login(now);
        self.account = Some(Account {
            login,
            reg,
            kept: Default::default(),
        });
        reply(Response::ok());
    }

    /// `number` (`sipNum`, `user` or `user@domain`) must name the account
    /// registered here; without one, that account.
    fn cmd_logout(&mut self, now: Instant, number: Option<(String, Option<String>)>, reply: Reply) {
        if let (Some(asked), Some(account)) = (&number, &self.account) {
            let login = &account.login;
            if let Err(e) = params::logout_names(
                asked,
                &login.user,
                login.domain.as_deref(),
                &self.settings.servers,
                account.reg.server(),
            ) {
                return reply(Response::error(result::NOT_FOUND, e));
            }
        }
        let started = self.account.as_mut().is_some_and(|a| a.reg.logout(now));
        if started {
            reply(Response::ok());
        } else {
            reply(Response::error(result::WRONG_STATE, "not registered"));
        }
    }

    fn cmd_start_call(
        &mut self,
        now: Instant,
        callee: String,
        video: bool,
        anonymous: bool,
        reply: Reply,
    ) {
        let registered = self.account.as_ref().is_some_and(|a| a.reg.is_registered());
        if let Err(r) = self.table.may_place(registered) {
            return reply(r.into());
        }
        let id = self.table.new_id();
        match self.place_call(now, id, &callee, video, anonymous) {
            Ok(()) => {
                let offered = self.carries_video(id);
                let mut response = Response::with_param(json!({"callId": id, "call_id": id}));
                response.err_msg = calls::audio_only_note(video, offered).map(Into::into);
                reply(response);
                let number = callee.split('@').next().unwrap_or("").to_owned();
                self.table.outgoing(
                    id,
                    Peer {
                        number,
                        display_name: String::new(),
                    },
                    offered,
                );
            }
            Err(r) => reply(r.into()),
        }
    }

    /// addVideo / delVideo: answered when the peer answered the re-INVITE
    /// (0, 7 refused, 6 no answer), before 2012 / 2011.
    fn cmd_change_video(&mut self, call: u32, add: bool, reply: Reply) {
        if add {
            if let Err(r) = video_plugin_loaded(&self.media.kinds()) {
                return reply(r.into());
            }
        }
        let started = if add {
            self.table.add_video(call)
        } else {
            self.table.del_video(call)
        };
        match started {
            Ok(()) => {
                self.video_replies.insert(call, reply);
            }
            Err(r) => reply(r.into()),
        }
    }

    fn cmd_dtmf(&mut self, req: Request, call: u32, tone: u8, reply: Reply) {
        if let Err(r) = self.table.may_send_dtmf(call) {
            return reply(r.into());
        }
        match dtmf::route(self.settings.dtmf_mode) {
            dtmf::Route::Forward(capability) => self.media.forward(capability, req, reply),
            dtmf::Route::Info => {
                self.send_info_dtmf(call, tone);
                reply(Response::ok());
            }
        }
    }
}

fn refusal_or_ok(reply: Reply, r: Result<(), Refusal>) {
    match r {
        Ok(()) => reply(Response::ok()),
        Err(r) => reply(r.into()),
    }
}
