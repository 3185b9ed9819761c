//! Calls on the wire: INVITE out and in, answers, CANCEL/BYE, hold
//! re-INVITEs, INFO DTMF, and what the dialogs report back.

use std::time::{Duration, Instant};

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::DialogState;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{self as rsip, Header, HeadersExt, StatusCode};
use rsipstack::transport::SipAddr;
use seatphone_protocol::{result, CallEvent, Refusal, Response};

use super::stack::{header, reason_code};
use super::{challenge, session::Session, CallIo, Engine, Input};
use crate::admission::Trust;
use crate::calls::{CallState, InviteFailure, Peer, MIN_SESSION_EXPIRES, SESSION_EXPIRES};
use crate::params;
use crate::sdp::Direction;
use crate::session_timer::{self, parse_min_se, Role, SessionExpires};

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
            .ok_or_else(|| Refusal::new(result::WRONG_STATE, "not registered"))?;
        let login = account.login.clone();
        let server = self
            .settings
            .servers
            .get(account.reg.server())
            .cloned()
            .ok_or_else(|| Refusal::new(result::WRONG_STATE, "no SIP server"))?;
        let domain = login.domain.clone().unwrap_or_else(|| server.to_string());
        let target = if callee.contains('@') {
            format!("sip:{callee}")
        } else {
            format!("sip:{callee}@{domain}")
        };
        let callee_uri = rsip::Uri::try_from(target.as_str())
            .map_err(|_| Refusal::new(result::INVALID, format!("{callee} is not a SIP address")))?;
        let ip = self.local_ip();
        let mut session = Session::new(&ip.to_string(), u64::from(id));
        let kinds: &[&str] = if video {
            &["audio", "video"]
        } else {
            &["audio"]
        };
        session
            .make_offer(self.media.as_ref(), id, kinds)
            .map_err(|e| Refusal::new(result::NOT_LOADED, e))?;
        let contact = self.contact_for(&login.user, ip, self.settings.transport);
        let mut headers = vec![Header::Other("Allow".into(), ALLOW.into())];
        // One Supported header (some peers read only the first), so not
        // rsipstack's `support_prack`, which adds its own.
        headers.push(Header::Supported("100rel, timer".into()));
        headers.extend(timer_offer(SESSION_EXPIRES, MIN_SESSION_EXPIRES));
        let caller = if anonymous {
            headers.push(Header::Other("Privacy".into(), "id".into()));
            headers.push(Header::Other(
                "P-Preferred-Identity".into(),
                format!("<sip:{}@{}>", login.user, domain),
            ));
            rsip::Uri::try_from("sip:anonymous@anonymous.invalid").unwrap_or_default()
        } else {
            rsip::Uri::try_from(format!("sip:{}@{}", login.user, domain).as_str())
                .map_err(|_| Refusal::new(result::INVALID, "the account is not a SIP address"))?
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
            ..Default::default()
        };
        self.send_invite(id, opt, session)
            .map_err(|e| Refusal::new(result::FAILED, format!("cannot send the INVITE: {e}")))
    }

    /// Sends an INVITE and waits for its end in the background. When it
    /// cannot be sent, the media the session prepared is freed.
    fn send_invite(
        &mut self,
        id: u32,
        opt: InviteOption,
        mut session: Session,
    ) -> Result<(), String> {
        let (dialog, done) = match self
            .stack
            .dialogs
            .do_invite_async(opt.clone(), self.states.clone())
        {
            Ok(sent) => sent,
            Err(e) => {
                session.stop(self.media.as_ref(), id);
                return Err(e.to_string());
            }
        };
        self.by_sip_id.insert(dialog.id().call_id.clone(), id);
        self.calls.insert(
            id,
            CallIo {
                dialog,
                session,
                awaiting_ack_answer: false,
                answered: false,
                invite: Some(opt),
                retry_auth: Vec::new(),
                accept_video: false,
                peer_update: false,
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

    /// Sends the INVITE of an outgoing call again, same Call-ID, higher
    /// CSeq: with Session-Expires and Min-SE raised to `se` (after a 422),
    /// and the credentials for every realm that challenged so far.
    pub(super) fn retry_invite(&mut self, call: u32, se: Option<u32>) {
        let Some(io) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(mut opt) = io.invite.take() else {
            return;
        };
        let prev = io.dialog.initial_request();
        let auth = if io.retry_auth.is_empty() {
            challenge::carried(&prev)
        } else {
            std::mem::take(&mut io.retry_auth)
        };
        let session = std::mem::take(&mut io.session);
        let mut headers: Vec<Header> = opt
            .headers
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter(|h| se.is_none() || !is_timer_header(h))
            .collect();
        if let Some(se) = se {
            headers.extend(timer_offer(se, se));
        }
        headers.extend(auth);
        opt.headers = Some(headers);
        opt.call_id = prev.call_id_header().ok().map(|c| c.value().to_owned());
        // RFC 3261 §22.3: the CSeq goes up; rsipstack's layer counter may be
        // behind the dialog's (which answered the proxy's challenge).
        let last = prev
            .cseq_header()
            .ok()
            .and_then(|c| c.seq().ok())
            .unwrap_or(0);
        for _ in 0..64 {
            if self.stack.dialogs.increment_last_seq() >= last {
                break;
            }
        }
        tracing::info!("call {call}: sending the INVITE again (Session-Expires {se:?})");
        if let Err(e) = self.send_invite(call, opt, session) {
            tracing::warn!("call {call}: INVITE not sent again: {e}");
            self.finish(call, 500);
        }
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
            let now = Instant::now();
            self.table.connected(now, call);
            if let Some(resp) = response.as_ref() {
                if let Some(io) = self.calls.get_mut(&call) {
                    io.peer_update = allows_update(&resp.headers);
                }
                // RFC 4028 §7.2: the 2xx says who refreshes.
                if let Some(t) = session_timer::agreed(session_expires(&resp.headers), Role::Uac) {
                    self.run_timer(now, call, t);
                }
            }
            return;
        }
        let why = match (status, response.as_ref()) {
            (422, Some(resp)) => InviteFailure::TooSmall(
                header(&resp.headers, "Min-SE").and_then(|v| parse_min_se(&v)),
            ),
            (401 | 407, Some(resp)) => self.second_challenge(call, resp),
            _ => InviteFailure::Final,
        };
        self.table.invite_failed(call, status, why);
        if !self.table.contains(call) {
            self.drop_io(call);
        }
    }

    /// A final 401/407 for a realm our INVITE did not answer (the callee
    /// behind the proxy): the credentials for sending it again.
    fn second_challenge(&mut self, call: u32, resp: &rsip::Response) -> InviteFailure {
        let Some(login) = self.account.as_ref().map(|a| a.login.clone()) else {
            return InviteFailure::Final;
        };
        let Some(io) = self.calls.get_mut(&call) else {
            return InviteFailure::Final;
        };
        let sent = io.dialog.initial_request();
        if !challenge::fresh(&sent, resp) {
            return InviteFailure::Final;
        }
        io.retry_auth = challenge::retry_headers(&sent, resp, &login.auth_user, &login.password);
        InviteFailure::NewChallenge
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
        self.sync_video(call);
    }

    /// Whether the call's SDP (as it stands) carries video.
    pub(super) fn carries_video(&self, call: u32) -> bool {
        self.calls
            .get(&call)
            .is_some_and(|io| io.session.carries("video"))
    }

    /// `callInfo.isVideoCall` follows the SDP: our offer, the peer's
    /// answer (`m=video 0` refuses), a re-INVITE, the page's acceptCall.
    fn sync_video(&mut self, call: u32) {
        let video = self.carries_video(call);
        self.table.set_video(call, video);
    }

    /// The page accepts a ringing call, with or without video: without, a
    /// video offer is answered audio-only (`m=video 0`) and the video
    /// plugin frees what it prepared. Runs before the queued answer goes out.
    pub(super) fn accept_media(&mut self, call: u32, video: bool) {
        if let Some(io) = self.calls.get_mut(&call) {
            io.accept_video = video;
            if !video && io.session.refuse_kind(self.media.as_ref(), call, "video") {
                tracing::info!("call {call}: accepted without video, answering m=video 0");
            }
        }
        self.sync_video(call);
    }

    /// A new INVITE: the call table decides (DND, max_calls), the page rings.
    pub(super) fn on_incoming(
        &mut self,
        dialog: InviteDialog,
        request: rsip::Request,
        trust: Trust,
    ) {
        if self.by_sip_id.contains_key(&dialog.id().call_id) {
            // RFC 3261 §8.2.2.2: a new INVITE with the Call-ID of a call we
            // have (our own looped back, or someone guessing it) changes nothing.
            tracing::info!("an INVITE reused the Call-ID of a call in progress: 482");
            let _ = dialog.reject(Some(StatusCode::LoopDetected), None);
            return;
        }
        let id = self.table.new_id();
        let peer = peer_of(&request);
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let answer_after = platform_answer_after(&request).filter(|_| {
            let refusal = match trust {
                _ if !self.settings.platform_auto_answer => {
                    "the page has not enabled call.platform_auto_answer"
                }
                Trust::Server => return true,
                _ => "only a configured SIP server may ask for that",
            };
            tracing::info!("call {id}: the caller asked for auto-answer; ignored: {refusal}");
            false
        });
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
        // Video we could take (the offer has it and the video plugin
        // answered it): 2002's maybeVideoCall and isVideoCall.
        let is_video = session.carries("video");
        self.by_sip_id.insert(dialog.id().call_id.clone(), id);
        let ringing = dialog.clone();
        self.calls.insert(
            id,
            CallIo {
                dialog,
                session,
                awaiting_ack_answer: false,
                answered: false,
                invite: None,
                retry_auth: Vec::new(),
                accept_video: false,
                peer_update: allows_update(&request.headers),
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
            let kinds: &[&str] = if io.accept_video {
                &["audio", "video"]
            } else {
                &["audio"]
            };
            if let Err(e) = io.session.make_offer(media.as_ref(), call, kinds) {
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
        let req = io.dialog.initial_request();
        let timer = session_timer::answer_invite(
            session_expires(&req.headers),
            supports_timer(&req.headers),
        );
        if let Some(t) = timer {
            headers.push(Header::Other(
                "Session-Expires".into(),
                t.session_expires.value(),
            ));
            if t.require_timer {
                headers.push(Header::Other("Require".into(), "timer".into()));
            }
        }
        if let Err(e) = io.dialog.accept(Some(headers), Some(sdp.into_bytes())) {
            tracing::warn!("call {call}: 200 OK not sent: {e}");
            self.finish(call, 500);
            return;
        }
        if !io.awaiting_ack_answer {
            io.session.start(media.as_ref(), call);
        }
        if let Some(t) = timer {
            self.run_timer(Instant::now(), call, t.agreed);
        }
    }

    /// Refreshes the session (RFC 4028 §7.4, §8): UPDATE without SDP when
    /// the peer allows it, else a re-INVITE with our unchanged offer (same
    /// SDP version, RFC 3264 §8).
    pub(super) fn refresh(&mut self, call: u32) {
        let Some(io) = self.calls.get(&call) else {
            return;
        };
        let mut headers = self.timer_headers(call);
        let dialog = io.dialog.clone();
        let by_update = io.peer_update;
        let sdp = io.session.sdp();
        let input = self.input.clone();
        tokio::spawn(async move {
            let response = if by_update {
                dialog.update(Some(headers), None).await
            } else {
                headers.push(Header::ContentType("application/sdp".into()));
                dialog.reinvite(Some(headers), Some(sdp.into_bytes())).await
            };
            let _ = input.send(Input::RefreshDone {
                call,
                response: response.ok().flatten(),
            });
        });
    }

    pub(super) fn on_refresh_done(&mut self, call: u32, response: Option<rsip::Response>) {
        let now = Instant::now();
        match response {
            Some(r) if r.status_code.kind() == rsip::StatusCodeKind::Successful => {
                self.renegotiated(now, call, &r.headers, Role::Uac);
            }
            Some(r) => self.table.refresh_failed(call, r.status_code.code()),
            None => self.table.refresh_failed(call, 408),
        }
    }

    /// A refresh went through (either way): the timer starts again, with
    /// the interval and refresher the message names. `us`: the role we had
    /// in that transaction.
    fn renegotiated(&mut self, now: Instant, call: u32, headers: &rsip::Headers, us: Role) {
        match session_timer::agreed(session_expires(headers), us) {
            Some(agreed) => self.run_timer(now, call, agreed),
            None => self.table.session_refreshed(now, call),
        }
    }

    fn run_timer(&mut self, now: Instant, call: u32, agreed: session_timer::Agreed) {
        let interval = Duration::from_secs(u64::from(agreed.secs));
        self.table
            .session_timer(now, call, interval, agreed.we_refresh);
    }

    /// Session-Expires and Supported for a request we send in the dialog
    /// (refresh or hold), naming the refresher as negotiated.
    fn timer_headers(&self, call: u32) -> Vec<Header> {
        let Some((interval, we_refresh)) = self.table.session(call) else {
            return Vec::new();
        };
        let agreed = session_timer::Agreed {
            secs: u32::try_from(interval.as_secs()).unwrap_or(u32::MAX),
            we_refresh,
        };
        vec![
            Header::Other("Supported".into(), "timer".into()),
            Header::Other(
                "Session-Expires".into(),
                session_timer::in_dialog_value(agreed).value(),
            ),
        ]
    }

    pub(super) fn reject(&mut self, call: u32, code: u16) {
        if let Some(mut io) = self.take_io(call) {
            let _ = io.dialog.reject(Some(StatusCode::from(code)), None);
            io.session.stop(self.media.as_ref(), call);
        }
    }

    /// CANCEL (unanswered outgoing) or BYE; the table already ended the call.
    pub(super) fn hang_up(&mut self, call: u32, cancel: bool) {
        let Some(mut io) = self.take_io(call) else {
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
        let mut headers = self.timer_headers(call);
        tokio::spawn(async move {
            headers.push(Header::ContentType("application/sdp".into()));
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
            self.sync_video(call);
            // Any re-INVITE that succeeds refreshes the session (RFC 4028 §1).
            if let Some(resp) = response.as_ref() {
                self.renegotiated(Instant::now(), call, &resp.headers, Role::Uac);
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
                    self.sync_video(call);
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
                self.sync_video(call);
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
                // The peer's re-INVITE or UPDATE refreshes the session; the
                // answer names the refresher it asked for (RFC 4028 §9).
                let mut headers = vec![Header::ContentType("application/sdp".into())];
                if let Some(c) = call {
                    self.sync_video(c);
                }
                if let (Some(c), Some(_)) = (call, answer.as_ref()) {
                    self.renegotiated(Instant::now(), c, &req.headers, Role::Uas);
                    if let Some(se) = session_timer::answer_refresh(session_expires(&req.headers)) {
                        headers.push(Header::Other("Session-Expires".into(), se.value()));
                    }
                }
                tokio::spawn(async move {
                    let _ = match answer {
                        Some(sdp) => {
                            handle
                                .respond(StatusCode::OK, Some(headers), Some(sdp.into_bytes()))
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
                    let current = self
                        .calls
                        .get(&call)
                        .is_none_or(|io| io.dialog.id().local_tag == id.local_tag);
                    // An outgoing call's INVITE ends with InviteDone, which
                    // may send it again (422, a second challenge); an old
                    // dialog of a call sent again is not the call.
                    let unanswered = self.table.state(call) == Some(CallState::Outgoing);
                    if current && !unanswered {
                        self.finish(call, reason_code(&reason));
                    }
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
        self.drop_io(call);
        self.table.ended(call, reason);
    }

    /// Forgets the SIP side of a call and stops its media.
    fn drop_io(&mut self, call: u32) {
        if let Some(mut io) = self.take_io(call) {
            io.session.stop(self.media.as_ref(), call);
        }
    }

    /// Removes a call's SIP side from both maps: the dialog's later events
    /// (its Terminated) then find no call, which has already ended.
    fn take_io(&mut self, call: u32) -> Option<CallIo> {
        let io = self.calls.remove(&call)?;
        self.by_sip_id.retain(|_, c| *c != call);
        Some(io)
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

/// `Session-Expires` (compact `x`) of a message.
fn session_expires(headers: &rsip::Headers) -> Option<SessionExpires> {
    header(headers, "Session-Expires")
        .or_else(|| header(headers, "x"))
        .and_then(|v| SessionExpires::parse(&v))
}

/// Whether a header lists `token` (Supported, Allow), any case.
fn lists(headers: &rsip::Headers, name: &str, token: &str) -> bool {
    headers.iter().any(|h| {
        let text = h.to_string();
        text.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case(name)
                && v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))
        })
    })
}

fn supports_timer(headers: &rsip::Headers) -> bool {
    lists(headers, "Supported", "timer") || lists(headers, "k", "timer")
}

fn allows_update(headers: &rsip::Headers) -> bool {
    lists(headers, "Allow", "UPDATE")
}

/// The timer headers of our INVITE (RFC 4028 §7.1, beside `Supported:
/// timer`): the interval we ask for and the smallest we accept; the callee
/// picks the refresher.
fn timer_offer(se: u32, min_se: u32) -> Vec<Header> {
    vec![
        Header::Other("Session-Expires".into(), se.to_string()),
        Header::Other("Min-SE".into(), min_se.to_string()),
    ]
}

fn is_timer_header(h: &Header) -> bool {
    let text = h.to_string();
    let name = text.split(':').next().unwrap_or("").trim();
    name.eq_ignore_ascii_case("Session-Expires") || name.eq_ignore_ascii_case("Min-SE")
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
