//! What we send inside a call: BYE/CANCEL, hold and unhold re-INVITEs,
//! INFO DTMF.

use std::time::Instant;

use rsipstack::sip::{self as rsip, Header};
use seatphone_protocol::Response;

use super::Reoffer;
use crate::engine::{Engine, Input};
use crate::sdp::Direction;
use crate::session_timer::Role;
use crate::{dtmf, requests};

impl Engine {
    /// CANCEL (unanswered outgoing) or BYE; the table already ended the call.
    pub(in crate::engine) fn hang_up(&mut self, call: u32, cancel: bool) {
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

    pub(in crate::engine) fn reinvite_hold(&mut self, call: u32, hold: bool) {
        let Some(io) = self.calls.get_mut(&call) else {
            return;
        };
        let dir = if hold {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        };
        let sdp = io.session.redirected(dir);
        self.send_reinvite(call, sdp, Reoffer::Hold(hold));
    }

    /// Sends a re-INVITE with our new `sdp` (and the session timer's
    /// headers) in the background; its final response comes back as
    /// `Input::ReinviteDone`.
    pub(super) fn send_reinvite(&self, call: u32, sdp: String, what: Reoffer) {
        let Some(io) = self.calls.get(&call) else {
            return;
        };
        let dialog = io.dialog.clone();
        let input = self.input.clone();
        let mut headers = self.timer_headers(call);
        tokio::spawn(async move {
            headers.push(Header::ContentType("application/sdp".into()));
            let response = dialog
                .reinvite(Some(headers), Some(sdp.clone().into_bytes()))
                .await
                .ok()
                .flatten();
            let _ = input.send(Input::ReinviteDone {
                call,
                what,
                sdp,
                response,
            });
        });
    }

    pub(in crate::engine) fn on_hold_done(
        &mut self,
        now: Instant,
        call: u32,
        hold: bool,
        response: Option<rsip::Response>,
    ) {
        let ok = response
            .as_ref()
            .is_some_and(|r| r.status_code.kind() == rsip::StatusCodeKind::Successful);
        let media = self.media.clone();
        if let Some(io) = self.calls.get_mut(&call) {
            match response.as_ref() {
                Some(resp) if ok => {
                    let answer = String::from_utf8_lossy(&resp.body);
                    io.session.settle(media.as_ref(), call, &answer);
                }
                // Refused or unanswered: our streams go on as before.
                _ => io.session.revert(media.as_ref(), call),
            }
        }
        if ok {
            self.sync_video(call);
            // Any re-INVITE that succeeds refreshes the session (RFC 4028 §1).
            if let Some(resp) = response.as_ref() {
                self.renegotiated(now, call, &resp.headers, Role::Uac);
            }
        }
        let status = requests::final_status(response.as_ref());
        let answer = self.table.hold_done(call, hold, status);
        if let Some(reply) = self.hold_replies.remove(&call) {
            reply(match answer {
                Ok(()) => Response::ok(),
                Err(refusal) => refusal.into(),
            });
        }
    }

    pub(in crate::engine) fn send_info_dtmf(&mut self, call: u32, tone: u8) {
        let Some(io) = self.calls.get(&call) else {
            return;
        };
        let dialog = io.dialog.clone();
        let body = dtmf::info_body(tone);
        tokio::spawn(async move {
            let headers = vec![Header::ContentType("application/dtmf-relay".into())];
            if let Err(e) = dialog.info(Some(headers), Some(body.into_bytes())).await {
                tracing::info!("call {call}: INFO DTMF failed: {e}");
            }
        });
    }
}
