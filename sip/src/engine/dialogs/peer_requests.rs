//! What rsipstack's dialogs report: the peer's 1xx/2xx, its re-INVITE,
//! UPDATE, INFO and other requests inside a call, and the dialog's end.

use std::time::Instant;

use rsipstack::dialog::dialog::{DialogState, TransactionHandle};
use rsipstack::sip::{self as rsip, Header, Method, StatusCode};
use seatphone_protocol::CallEvent;

use crate::calls::PeerOffer;
use crate::engine::Engine;
use crate::headers::{header, session_expires};
use crate::session::NoMedia;
use crate::session_timer::{self, Role};
use crate::{dtmf, requests};

impl Engine {
    /// What rsipstack's dialogs report.
    pub(in crate::engine) fn on_dialog_state(&mut self, now: Instant, state: DialogState) {
        let call_of = |engine: &Self, id: &rsipstack::dialog::DialogId| {
            engine.by_sip_id.get(&id.call_id).copied()
        };
        match state {
            DialogState::Early(id, resp) => {
                let Some(call) = call_of(self, &id) else {
                    return;
                };
                // Plugins hear of early media only when the session took
                // the 18x's SDP, and then it starts.
                let media = self.media.clone();
                let early = self.calls.get_mut(&call).is_some_and(|io| {
                    let taken = io.session.take_early_answer(&resp.body);
                    if taken {
                        io.session.start(media.as_ref(), call);
                    }
                    taken
                });
                if early {
                    self.sync_video(call);
                }
                self.table.ringing(call, early);
            }
            DialogState::Confirmed(id, resp) => {
                let Some(call) = call_of(self, &id) else {
                    return;
                };
                // Our outgoing call's 2xx may be reported here before the
                // INVITE task ends: media starts after 2006 either way.
                if self.table.awaits_answer(call) {
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
                self.table.connected(now, call);
            }
            DialogState::Updated(id, req, handle) => {
                let call = call_of(self, &id);
                if let Some(c) = call.filter(|_| !req.body.is_empty()) {
                    match self.table.peer_offer(c) {
                        PeerOffer::Answer => {}
                        PeerOffer::Pending => {
                            tracing::info!("call {c}: the peer's offer crosses ours: 491");
                            return reply(handle, StatusCode::RequestPending);
                        }
                        PeerOffer::AnswerGivingUpOurs => self.give_up_reoffer(now, c),
                    }
                }
                if let Some(c) = call {
                    if self.peer_asks_for_video(now, c, &req, &handle) {
                        return;
                    }
                }
                self.answer_peer_offer(now, call, &req, handle);
            }
            DialogState::Info(id, req, handle) => {
                if let Some(call) = call_of(self, &id) {
                    let ctype = header(&req.headers, "Content-Type").unwrap_or_default();
                    if let Some(tone) = dtmf::received(&ctype, &String::from_utf8_lossy(&req.body))
                    {
                        self.media.call_event(CallEvent::Dtmf {
                            call_id: call,
                            tone,
                        });
                    }
                }
                reply(handle, requests::in_dialog(Method::Info));
            }
            DialogState::Options(_, _, handle) => {
                reply(handle, requests::in_dialog(Method::Options))
            }
            DialogState::Notify(_, _, handle) => reply(handle, requests::in_dialog(Method::Notify)),
            DialogState::Refer(_, _, handle) => reply(handle, requests::in_dialog(Method::Refer)),
            DialogState::Message(_, _, handle) => {
                reply(handle, requests::in_dialog(Method::Message))
            }
            DialogState::Publish(_, _, handle) => {
                reply(handle, requests::in_dialog(Method::Publish))
            }
            DialogState::Terminated(id, reason) => {
                if let Some(call) = call_of(self, &id) {
                    let current = self
                        .calls
                        .get(&call)
                        .is_none_or(|io| io.dialog.id().local_tag == id.local_tag);
                    // An old dialog of a call sent again is not the call.
                    if current && self.table.ends_with_dialog(call) {
                        self.finish(call, requests::dialog_ended(&reason));
                    }
                }
                // rsipstack keeps every dialog in its registry until told:
                // without this each call leaked ~16 KiB (found by bench/).
                self.stack.dialogs.remove_dialog(&id);
            }
            DialogState::Calling(_) | DialogState::Trying(_) | DialogState::WaitAck(_, _) => {}
        }
    }

    /// Answers the peer's re-INVITE or UPDATE (an offer, or none for a
    /// refresh) at once: 200 with our answer, or 488 when nothing of it
    /// can be taken.
    pub(super) fn answer_peer_offer(
        &mut self,
        now: Instant,
        call: Option<u32>,
        req: &rsip::Request,
        handle: TransactionHandle,
    ) {
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
            self.renegotiated(now, c, &req.headers, Role::Uas);
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
                None => handle.reply(StatusCode::from(NoMedia::STATUS)).await,
            };
        });
    }
}

/// Answers an in-dialog request with `status`, in the background.
fn reply(handle: TransactionHandle, status: StatusCode) {
    tokio::spawn(async move {
        let _ = handle.reply(status).await;
    });
}
