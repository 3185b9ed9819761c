//! Calls on the wire: INVITE out and in, answers, CANCEL/BYE, hold
//! re-INVITEs, INFO DTMF, and what the dialogs report back.

use std::time::Instant;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::DialogState;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{self as rsip, Header, HeadersExt, StatusCode};
use rsipstack::transport::SipAddr;
use seatphone_plugin_api::{result, CallEvent, Response};

use super::stack::{header, reason_code};
use super::{session::Session, CallIo, Engine, Input};
use crate::calls::{CallState, Peer};
use crate::params;
use crate::sdp::Direction;

type Refusal = (u32, String);

impl Engine {
    /// Sends the INVITE of a new outgoing call.
    pub(super) fn place_call(
        &mut self,
        id: u32,
        callee: &str,
        video: bool,
        anonymous: bool,
    ) -> Result<(), Refusal> {
        let account = self
            .account
            .as_ref()
            .ok_or((result::WRONG_STATE, "not registered".to_owned()))?;
        let login = account.login.clone();
        let server = self
            .settings
            .servers
            .get(account.reg.server())
            .cloned()
            .ok_or((result::WRONG_STATE, "no SIP server".to_owned()))?;
        let domain = login.domain.clone().unwrap_or_else(|| server.to_string());
        let target = if callee.contains('@') {
            format!("sip:{callee}")
        } else {
            format!("sip:{callee}@{domain}")
        };
        let callee_uri = rsip::Uri::try_from(target.as_str())
            .map_err(|_| (result::INVALID, format!("{callee} is not a SIP address")))?;
        let mut session = Session::new(&self.local_ip().to_string(), u64::from(id));
        let kinds: &[&str] = if video {
            &["audio", "video"]
        } else {
            &["audio"]
        };
        session
            .make_offer(self.media.as_ref(), id, kinds)
            .map_err(|e| (result::NOT_LOADED, e))?;
        let contact = self.contact_for(&login.user, self.settings.transport);
        let mut headers = vec![Header::Other("Allow".into(), ALLOW.into())];
        let caller = if anonymous {
            headers.push(Header::Other("Privacy".into(), "id".into()));
            headers.push(Header::Other(
                "P-Preferred-Identity".into(),
                format!("<sip:{}@{}>", login.user, domain),
            ));
            rsip::Uri::try_from("sip:anonymous@anonymous.invalid").unwrap_or_default()
        } else {
            rsip::Uri::try_from(format!("sip:{}@{}", login.user, domain).as_str()).map_err(
                |_| {
                    (
                        result::INVALID,
                        "the account is not a SIP address".to_owned(),
                    )
                },
            )?
        };
        // The INVITE goes to the registrar/proxy over the configured transport.
        let transport = match self.settings.transport {
            params::Transport::Udp => rsip::Transport::Udp,
            params::Transport::Tcp => rsip::Transport::Tcp,
            params::Transport::Tls => rsip::Transport::Tls,
        };
        let destination = format!("{}:{}", server.host, server.port)
            .parse::<std::net::SocketAddr>()
            .ok()
            .map(|a| SipAddr {
                r#type: Some(transport),
                addr: a.into(),
            });
        let opt = InviteOption {
            caller_display_name: anonymous.then(|| "Anonymous".to_owned()),
            caller,
            callee: callee_uri,
            destination,
            content_type: Some("application/sdp".into()),
            offer: Some(session.sdp().into_bytes()),
            contact,
            credential: Some(Credential {
                username: login.user.clone(),
                password: login.password.clone(),
                realm: None,
                auth_username: Some(login.auth_user.clone()),
            }),
            headers: Some(headers),
            support_prack: true,
            ..Default::default()
        };
        let (dialog, done) = self
            .stack
            .dialogs
            .do_invite_async(opt, self.states.clone())
            .map_err(|e| (result::FAILED, format!("cannot send the INVITE: {e}")))?;
        self.by_sip_id.insert(dialog.id().call_id.clone(), id);
        self.calls.insert(
            id,
            CallIo {
                dialog,
                session,
                awaiting_ack_answer: false,
                answered: false,
            },
        );
        let input = self.input.clone();
        tokio::spawn(async move {
            let response = match done.await {
                Ok(Ok((_, resp))) => resp,
                _ => None,
            };
            let _ = input.send(Input::InviteDone { call: id, response });
        });
        Ok(())
    }

    pub(super) fn on_invite_done(&mut self, call: u32, response: Option<rsip::Response>) {
        let status = response
            .as_ref()
            .map(|r| r.status_code.code())
            .unwrap_or(408);
        if (200..300).contains(&status) {
            if let Some(resp) = response.as_ref() {
                self.take_final_answer(call, resp);
            }
            self.table.connected(Instant::now(), call);
        } else {
            self.finish(call, status);
        }
    }

    /// The 2xx answer to our INVITE: start media, once.
    fn take_final_answer(&mut self, call: u32, resp: &rsip::Response) {
        let media = self.media.clone();
        if let Some(io) = self.calls.get_mut(&call) {
            if !io.answered && io.session.take_answer(&String::from_utf8_lossy(&resp.body)) {
                io.answered = true;
                io.session.start(media.as_ref(), call);
            }
        }
    }

    /// A new INVITE: the call table decides (DND, max_calls), the page rings.
    pub(super) fn on_incoming(&mut self, dialog: InviteDialog, request: rsip::Request) {
        let id = self.next_call;
        self.next_call = self.next_call.wrapping_add(1).max(1);
        let peer = peer_of(&request);
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let is_video = body
            .lines()
            .any(|l| l.starts_with("m=video") && !l.starts_with("m=video 0 "));
        let answer_after = platform_answer_after(&request);
        let mut session = Session::new(&self.local_ip().to_string(), u64::from(id));
        let offer_ok = if body.trim().is_empty() {
            Ok(())
        } else {
            session.answer_offer(self.media.as_ref(), id, &body)
        };
        if let Err(e) = offer_ok {
            tracing::info!("incoming call refused (488): {e}");
            let _ = dialog.reject(Some(StatusCode::NotAcceptableHere), None);
            return;
        }
        self.by_sip_id.insert(dialog.id().call_id.clone(), id);
        let ringing = dialog.clone();
        self.calls.insert(
            id,
            CallIo {
                dialog,
                session,
                awaiting_ack_answer: false,
                answered: false,
            },
        );
        if self
            .table
            .incoming(Instant::now(), id, peer, is_video, answer_after)
        {
            let _ = ringing.ringing(None, None);
        }
    }

    /// Sends 200 OK: our answer, or our offer when the INVITE had none.
    pub(super) fn answer(&mut self, call: u32) {
        let media = self.media.clone();
        let Some(io) = self.calls.get_mut(&call) else {
            return;
        };
        if !io.session.has_remote() {
            // Delayed offer: we offer in the 200, the answer comes in the ACK.
            if let Err(e) = io.session.make_offer(media.as_ref(), call, &["audio"]) {
                tracing::warn!("call {call}: {e}");
                let _ = io.dialog.reject(Some(StatusCode::NotAcceptableHere), None);
                self.finish(call, 488);
                return;
            }
            io.awaiting_ack_answer = true;
        }
        let sdp = io.session.sdp();
        let mut headers = vec![
            Header::ContentType("application/sdp".into()),
            Header::Other("Allow".into(), ALLOW.into()),
        ];
        // RFC 4028 as UAS: accept the caller's interval and let it refresh.
        let timer = session_expires(&io.dialog.initial_request());
        if let Some(secs) = timer {
            headers.push(Header::Other(
                "Session-Expires".into(),
                format!("{secs};refresher=uac"),
            ));
            headers.push(Header::Other("Require".into(), "timer".into()));
        }
        if let Err(e) = io.dialog.accept(Some(headers), Some(sdp.into_bytes())) {
            tracing::warn!("call {call}: 200 OK not sent: {e}");
            self.finish(call, 500);
            return;
        }
        if !io.awaiting_ack_answer {
            io.session.start(media.as_ref(), call);
        }
        if let Some(secs) = timer {
            self.table.session_timer(
                Instant::now(),
                call,
                std::time::Duration::from_secs(u64::from(secs)),
            );
        }
    }

    pub(super) fn reject(&mut self, call: u32, code: u16) {
        if let Some(mut io) = self.calls.remove(&call) {
            let _ = io.dialog.reject(Some(StatusCode::from(code)), None);
            io.session.stop(self.media.as_ref(), call);
        }
    }

    /// CANCEL (unanswered outgoing) or BYE; the table already ended the call.
    pub(super) fn hang_up(&mut self, call: u32, cancel: bool) {
        let Some(mut io) = self.calls.remove(&call) else {
            return;
        };
        io.session.stop(self.media.as_ref(), call);
        let dialog = io.dialog;
        tokio::spawn(async move {
            let r = if cancel {
                dialog.cancel().await
            } else {
                dialog.hangup().await
            };
            if let Err(e) = r {
                tracing::debug!("call {call}: hang-up: {e}");
            }
        });
    }

    pub(super) fn reinvite_hold(&mut self, call: u32, hold: bool) {
        let Some(io) = self.calls.get_mut(&call) else {
            return;
        };
        let dir = if hold {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        };
        let sdp = io.session.redirected(dir);
        let dialog = io.dialog.clone();
        let input = self.input.clone();
        tokio::spawn(async move {
            let headers = vec![Header::ContentType("application/sdp".into())];
            let response = dialog
                .reinvite(Some(headers), Some(sdp.into_bytes()))
                .await
                .ok()
                .flatten();
            let _ = input.send(Input::HoldDone {
                call,
                hold,
                response,
            });
        });
    }

    pub(super) fn on_hold_done(&mut self, call: u32, hold: bool, response: Option<rsip::Response>) {
        let ok = response
            .as_ref()
            .is_some_and(|r| r.status_code.kind() == rsip::StatusCodeKind::Successful);
        if let Some(reply) = self.hold_replies.remove(&call) {
            reply(match &response {
                _ if ok => Response::ok(),
                _ if !self.calls.contains_key(&call) => Response::error(
                    result::FAILED,
                    format!("call {call} ended before the peer answered"),
                ),
                // 408 is what a proxy (or the stack) answers for silence.
                Some(r) if u16::from(r.status_code.clone()) != 408 => Response::error(
                    result::REFUSED,
                    format!("the peer refused the re-INVITE: {}", r.status_code),
                ),
                _ => Response::error(
                    result::TIMED_OUT,
                    "the peer did not answer the re-INVITE in time",
                ),
            });
        }
        if ok {
            if let (Some(io), Some(resp)) = (self.calls.get_mut(&call), response.as_ref()) {
                io.session.take_answer(&String::from_utf8_lossy(&resp.body));
                io.session.start(self.media.as_ref(), call);
            }
        }
        self.table.hold_done(call, hold, ok);
    }

    pub(super) fn send_info_dtmf(&mut self, call: u32, tone: u8) {
        let Some(io) = self.calls.get(&call) else {
            return;
        };
        let dialog = io.dialog.clone();
        let body = format!("Signal={}\r\nDuration=160\r\n", params::tone_char(tone));
        tokio::spawn(async move {
            let headers = vec![Header::ContentType("application/dtmf-relay".into())];
            if let Err(e) = dialog.info(Some(headers), Some(body.into_bytes())).await {
                tracing::info!("call {call}: INFO DTMF failed: {e}");
            }
        });
    }

    /// What rsipstack's dialogs report.
    pub(super) fn on_dialog_state(&mut self, state: DialogState) {
        let call_of = |engine: &Self, id: &rsipstack::dialog::DialogId| {
            engine.by_sip_id.get(&id.call_id).copied()
        };
        match state {
            DialogState::Early(id, resp) => {
                let Some(call) = call_of(self, &id) else {
                    return;
                };
                let early = !resp.body.is_empty();
                if early {
                    if let Some(io) = self.calls.get_mut(&call) {
                        if io.session.take_answer(&String::from_utf8_lossy(&resp.body)) {
                            io.session.start(self.media.as_ref(), call);
                        }
                    }
                }
                self.table.ringing(call, early);
            }
            DialogState::Confirmed(id, resp) => {
                let Some(call) = call_of(self, &id) else {
                    return;
                };
                // Our outgoing call's 2xx may be reported here before the
                // INVITE task ends: media starts before 2006 either way.
                if self.table.state(call) == Some(CallState::Outgoing) {
                    self.take_final_answer(call, &resp);
                }
                let media = self.media.clone();
                if let Some(io) = self.calls.get_mut(&call) {
                    if io.awaiting_ack_answer {
                        if let Some(ack) = io.dialog.last_remote_ack() {
                            if io.session.take_answer(&String::from_utf8_lossy(&ack.body)) {
                                io.awaiting_ack_answer = false;
                                io.session.start(media.as_ref(), call);
                            }
                        }
                    }
                }
                if self.table.state(call) == Some(CallState::Incoming)
                    || self.table.state(call) == Some(CallState::Outgoing)
                {
                    self.table.connected(Instant::now(), call);
                }
            }
            DialogState::Updated(id, req, handle) => {
                let call = call_of(self, &id);
                let body = String::from_utf8_lossy(&req.body).into_owned();
                let media = self.media.clone();
                let answer = call.and_then(|c| {
                    let io = self.calls.get_mut(&c)?;
                    if !body.trim().is_empty() {
                        io.session.answer_offer(media.as_ref(), c, &body).ok()?;
                        io.session.start(media.as_ref(), c);
                    }
                    Some(io.session.sdp())
                });
                tokio::spawn(async move {
                    let _ = match answer {
                        Some(sdp) => {
                            let h = vec![Header::ContentType("application/sdp".into())];
                            handle
                                .respond(StatusCode::OK, Some(h), Some(sdp.into_bytes()))
                                .await
                        }
                        None => handle.reply(StatusCode::NotAcceptableHere).await,
                    };
                });
            }
            DialogState::Info(id, req, handle) => {
                if let Some(call) = call_of(self, &id) {
                    let ctype = header(&req.headers, "Content-Type")
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    if ctype.starts_with("application/dtmf") {
                        if let Some(tone) = params::dtmf_relay(&String::from_utf8_lossy(&req.body))
                        {
                            self.media.call_event(CallEvent::Dtmf {
                                call_id: call,
                                tone,
                            });
                        }
                    }
                }
                tokio::spawn(async move {
                    let _ = handle.reply(StatusCode::OK).await;
                });
            }
            DialogState::Options(_, _, handle) => {
                tokio::spawn(async move {
                    let _ = handle.reply(StatusCode::OK).await;
                });
            }
            DialogState::Notify(_, _, handle)
            | DialogState::Refer(_, _, handle)
            | DialogState::Message(_, _, handle)
            | DialogState::Publish(_, _, handle) => {
                tokio::spawn(async move {
                    let _ = handle.reply(StatusCode::NotImplemented).await;
                });
            }
            DialogState::Terminated(id, reason) => {
                if let Some(call) = call_of(self, &id) {
                    self.finish(call, reason_code(&reason));
                }
                // rsipstack keeps every dialog in its registry until told:
                // without this each call leaked ~16 KiB (found by bench/).
                self.stack.dialogs.remove_dialog(&id);
            }
            DialogState::Calling(_) | DialogState::Trying(_) | DialogState::WaitAck(_, _) => {}
        }
    }

    /// The call is over on the SIP side: stop media, tell the table.
    pub(super) fn finish(&mut self, call: u32, reason: u16) {
        if let Some(mut io) = self.calls.remove(&call) {
            io.session.stop(self.media.as_ref(), call);
            self.by_sip_id.retain(|_, c| *c != call);
        }
        self.table.ended(call, reason);
    }
}

const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK";

/// Number and display name of the caller (From).
fn peer_of(req: &rsip::Request) -> Peer {
    let from = req
        .from_header()
        .map(|f| f.value().to_owned())
        .unwrap_or_default();
    parse_name_addr(&from)
}

/// `"Bob" <sip:1002@host>;tag=x` → Peer { number: "1002", display_name: "Bob" }.
pub fn parse_name_addr(value: &str) -> Peer {
    let (display, rest) = match value.find('<') {
        Some(i) => (
            value[..i].trim().trim_matches('"').to_owned(),
            &value[i + 1..],
        ),
        None => (String::new(), value),
    };
    let uri = rest.split(['>', ';']).next().unwrap_or("");
    let uri = uri.split_once(':').map(|(_, u)| u).unwrap_or(uri);
    let number = match uri.split_once('@') {
        Some((user, _)) => user.to_owned(),
        None => String::new(),
    };
    Peer {
        number,
        display_name: display,
    }
}

/// Contact-center auto-answer: `Call-Info: <…>;answer-after=N` or an
/// Alert-Info naming auto answer. `None` when the platform asks nothing.
pub fn platform_answer_after(req: &rsip::Request) -> Option<u32> {
    if let Some(info) = header(&req.headers, "Call-Info") {
        let lower = info.to_ascii_lowercase();
        if let Some(pos) = lower.find("answer-after=") {
            let digits: String = lower[pos + 13..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            return Some(digits.parse::<u32>().unwrap_or(0).min(3600));
        }
    }
    if let Some(alert) = header(&req.headers, "Alert-Info") {
        let lower = alert.to_ascii_lowercase();
        if lower.contains("auto-answer")
            || lower.contains("autoanswer")
            || lower.contains("auto answer")
        {
            return Some(0);
        }
    }
    None
}

/// `Session-Expires` of a request, in seconds (RFC 4028 §4), at least 90.
fn session_expires(req: &rsip::Request) -> Option<u32> {
    let value = header(&req.headers, "Session-Expires").or_else(|| header(&req.headers, "x"))?;
    let secs = value.split(';').next()?.trim().parse::<u32>().ok()?;
    Some(secs.clamp(90, 86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_gives_number_and_display_name() {
        let p = parse_name_addr("\"Bob B\" <sip:1002@127.0.0.1:5060>;tag=abc");
        assert_eq!(p.number, "1002");
        assert_eq!(p.display_name, "Bob B");
        let p = parse_name_addr("sip:1003@example.org;tag=x");
        assert_eq!(p.number, "1003");
        assert_eq!(parse_name_addr("<<<;;").number, "");
        assert_eq!(parse_name_addr("").number, "");
    }
}
