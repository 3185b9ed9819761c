//! Placing a call: our INVITE, sent again after a 422 or a second
//! challenge, and its final answer.

use std::time::Instant;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::sip::{self as rsip, Header};
use seatphone_protocol::{result, Refusal};

use crate::calls::{InviteFailure, MIN_SESSION_EXPIRES, SESSION_EXPIRES};
use crate::challenge;
use crate::engine::{CallIo, Engine, Input};
use crate::headers::{allows_update, header, session_expires};
use crate::invite_retry::{self, timer_offer};
use crate::requests::{self, ALLOW, SUPPORTED};
use crate::route;
use crate::session::{offered_kinds, Session};
use crate::session_timer::{self, Role};

impl Engine {
    /// Sends the INVITE of a new outgoing call.
    pub(in crate::engine) fn place_call(
        &mut self,
        now: Instant,
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
        let index = account.reg.server();
        let server = self
            .settings
            .servers
            .get(index)
            .cloned()
            .ok_or_else(|| Refusal::new(result::WRONG_STATE, "no SIP server"))?;
        let domain = route::aor_domain(&server, login.domain.as_deref());
        let target = route::callee_uri(callee, &domain);
        let callee_uri = rsip::Uri::try_from(target.as_str())
            .map_err(|_| Refusal::new(result::INVALID, format!("{callee} is not a SIP address")))?;
        let ip = self.route_from(now, index);
        let mut session = Session::new(&ip.to_string(), u64::from(id));
        session.make_offer(self.media.as_ref(), id, offered_kinds(video))?;
        let contact = self.contact_for(&login.user, ip, self.settings.transport);
        let mut headers = vec![Header::Other("Allow".into(), ALLOW.into())];
        // Not rsipstack's `support_prack`, which adds a Supported of its own.
        headers.push(Header::Supported(SUPPORTED.into()));
        headers.extend(timer_offer(SESSION_EXPIRES, MIN_SESSION_EXPIRES));
        let caller = route::caller(&login.user, &domain, anonymous);
        headers.extend(
            caller
                .headers
                .into_iter()
                .map(|(name, value)| Header::Other(name.into(), value)),
        );
        if let Some(a) = self.account.as_mut() {
            let invite = rsip::Method::Invite;
            let (user, password) = (&login.auth_user, &login.password);
            headers.extend(a.kept.ahead(&invite, &callee_uri, user, password));
        }
        let caller_uri = rsip::Uri::try_from(caller.uri.as_str())
            .map_err(|_| Refusal::new(result::INVALID, "the account is not a SIP address"))?;
        // The INVITE goes to the registrar/proxy over the configured transport.
        let destination = route::destination(&server, self.settings.transport);
        let opt = InviteOption {
            caller_display_name: caller.display_name,
            caller: caller_uri,
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
                held_offer: None,
                waiting_reoffer: None,
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

    /// Sends the INVITE of an outgoing call again (the table decided):
    /// what it carries is `invite_retry`'s.
    pub(in crate::engine) fn retry_invite(&mut self, call: u32, se: Option<u32>) {
        let Some(io) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(mut opt) = io.invite.take() else {
            return;
        };
        let ours = opt.headers.take().unwrap_or_default();
        let fresh = std::mem::take(&mut io.retry_auth);
        let sent = io.dialog.initial_request();
        let again = |h: &Header| match self.account.as_mut() {
            Some(a) => {
                let (user, password) = (&a.login.auth_user, &a.login.password);
                a.kept.again(h, &sent.method, &sent.uri, user, password)
            }
            None => h.clone(),
        };
        let retry = invite_retry::retry(&sent, ours, se, fresh, again);
        let session = std::mem::take(&mut io.session);
        opt.headers = Some(retry.headers);
        opt.call_id = retry.call_id;
        let dialogs = &self.stack.dialogs;
        if !invite_retry::catch_up(retry.last_cseq, || dialogs.increment_last_seq()) {
            tracing::warn!("call {call}: the CSeq counter is far behind the last INVITE's");
        }
        tracing::info!("call {call}: sending the INVITE again (Session-Expires {se:?})");
        if let Err(e) = self.send_invite(call, opt, session) {
            tracing::warn!("call {call}: INVITE not sent again: {e}");
            self.finish(call, requests::NOT_SENT);
        }
    }

    pub(in crate::engine) fn on_invite_done(
        &mut self,
        now: Instant,
        call: u32,
        response: Option<rsip::Response>,
    ) {
        let status = requests::final_status(response.as_ref());
        if (200..300).contains(&status) {
            if let Some(resp) = response.as_ref() {
                self.take_final_answer(call, resp);
            }
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
        let why = match response.as_ref() {
            Some(resp) => {
                let anew = self.credentials_after(call, resp);
                let min_se = header(&resp.headers, "Min-SE");
                invite_retry::failure(status, min_se.as_deref(), anew)
            }
            None => InviteFailure::Final,
        };
        self.table.invite_failed(call, status, why);
        if !self.table.contains(call) {
            self.drop_io(call);
        }
    }

    /// The proxy's credentials `sent` carried for our own domain's realm
    /// are kept for the next INVITE (`challenge::Kept`).
    fn keep_credentials(&mut self, sent: &rsip::Request) {
        let Some(account) = self.account.as_mut() else {
            return;
        };
        if let Some(server) = self.settings.servers.get(account.reg.server()) {
            let domain = account.login.domain.as_deref();
            let ours = |realm: &str| route::is_aor_domain(realm, server, domain);
            account.kept.learn(sent, ours);
        }
    }

    /// What a final non-2xx `resp` says of the credentials our INVITE
    /// carried (the INVITE as last sent, rsipstack's answer to a challenge
    /// included). A 401/407 for a realm it did not answer (the callee
    /// behind the proxy; `challenge::fresh` decides) keeps credentials for
    /// sending it again: `true`. A 401/407 for a realm it answered refused
    /// them, and the proxy's kept ones are forgotten; any other answer
    /// took them.
    fn credentials_after(&mut self, call: u32, resp: &rsip::Response) -> bool {
        let Some(sent) = self.calls.get(&call).map(|io| io.dialog.initial_request()) else {
            return false;
        };
        let anew = challenge::fresh(&sent, resp);
        if matches!(resp.status_code.code(), 401 | 407) && !anew {
            if let Some(account) = self.account.as_mut() {
                account.kept.forget();
            }
            return false;
        }
        self.keep_credentials(&sent);
        let (Some(io), Some(account)) = (self.calls.get_mut(&call), self.account.as_mut()) else {
            return false;
        };
        if anew {
            let (user, password) = (&account.login.auth_user, &account.login.password);
            io.retry_auth =
                challenge::retry_headers(&sent, resp, &mut account.kept, user, password);
        }
        anew
    }

    /// The 2xx answer to our INVITE, reported by the dialog's `Confirmed`
    /// or the INVITE's end, whichever comes first: the proxy took the
    /// credentials it carried (kept before the call can end and the next
    /// INVITE go), and media starts, once, after the page heard that the
    /// call is connected (`Engine::tell_plugins`).
    pub(super) fn take_final_answer(&mut self, call: u32, resp: &rsip::Response) {
        if self.table.awaits_answer(call) {
            if let Some(sent) = self.calls.get(&call).map(|io| io.dialog.initial_request()) {
                self.keep_credentials(&sent);
            }
        }
        if let Some(io) = self.calls.get_mut(&call) {
            if !io.answered && io.session.take_answer(&String::from_utf8_lossy(&resp.body)) {
                io.answered = true;
                self.media_starts.push(call);
            }
        }
        self.sync_video(call);
    }
}
