//! Session timers inside a call (RFC 4028): our refreshes and the timer
//! that each successful re-INVITE or UPDATE starts again.

use std::time::{Duration, Instant};

use rsipstack::sip::{self as rsip, Header};

use crate::engine::{Engine, Input};
use crate::headers::session_expires;
use crate::requests;
use crate::session_timer::{self, RefreshBy, Role};

impl Engine {
    /// Refreshes the session, by UPDATE or re-INVITE as
    /// `session_timer::refresh_by` says.
    pub(in crate::engine) fn refresh(&mut self, call: u32) {
        let Some(io) = self.calls.get(&call) else {
            return;
        };
        let mut headers = self.timer_headers(call);
        let dialog = io.dialog.clone();
        let by = session_timer::refresh_by(io.peer_update);
        let sdp = io.session.sdp();
        let input = self.input.clone();
        tokio::spawn(async move {
            let response = match by {
                RefreshBy::Update => dialog.update(Some(headers), None).await,
                RefreshBy::Reinvite => {
                    headers.push(Header::ContentType("application/sdp".into()));
                    dialog.reinvite(Some(headers), Some(sdp.into_bytes())).await
                }
            };
            let _ = input.send(Input::RefreshDone {
                call,
                response: response.ok().flatten(),
            });
        });
    }

    pub(in crate::engine) fn on_refresh_done(
        &mut self,
        now: Instant,
        call: u32,
        response: Option<rsip::Response>,
    ) {
        match response {
            Some(r) if r.status_code.kind() == rsip::StatusCodeKind::Successful => {
                self.renegotiated(now, call, &r.headers, Role::Uac);
            }
            _ => self
                .table
                .refresh_failed(call, requests::final_status(response.as_ref())),
        }
    }

    /// A refresh went through (either way): the timer starts again, with
    /// the interval and refresher the message names. `us`: the role we had
    /// in that transaction.
    pub(super) fn renegotiated(
        &mut self,
        now: Instant,
        call: u32,
        headers: &rsip::Headers,
        us: Role,
    ) {
        match session_timer::agreed(session_expires(headers), us) {
            Some(agreed) => self.run_timer(now, call, agreed),
            None => self.table.session_refreshed(now, call),
        }
    }

    pub(super) fn run_timer(&mut self, now: Instant, call: u32, agreed: session_timer::Agreed) {
        let interval = Duration::from_secs(u64::from(agreed.secs));
        self.table
            .session_timer(now, call, interval, agreed.we_refresh);
    }

    /// Session-Expires and Supported for a request we send in the dialog
    /// (refresh or hold), naming the refresher as negotiated.
    pub(super) fn timer_headers(&self, call: u32) -> Vec<Header> {
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
}
