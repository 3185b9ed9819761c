//! A plugin's own stream in a call that is up (the share's slides,
//! `Signal::Stream`): our re-INVITE adding or removing it. The plugin hears
//! the outcome the way every stream change reaches it: `media_start` of its
//! kind when the peer took the stream, `media_stop` when it did not, was not
//! asked (the call is not up), or the stream ended. A request that meets
//! another re-INVITE under way waits for it to end.

use rsipstack::sip as rsip;
use seatphone_protocol::StopRequest;
use std::time::Instant;

use super::Reoffer;
use crate::calls::{stream_ask, NotNow, StreamAsk};
use crate::engine::Engine;
use crate::session_timer::Role;

impl Engine {
    /// A plugin asks for a stream of `kind` (`on`) or for its end.
    pub(in crate::engine) fn plugin_stream(&mut self, call: u32, kind: String, on: bool) {
        let Some(io) = self.calls.get(&call) else {
            return self.refuse_stream(call, &kind, on, "the call has ended");
        };
        let served = self.media.kinds().contains(&kind);
        match stream_ask(io.session.carries(&kind), served, on) {
            StreamAsk::AsAsked => return,
            StreamAsk::NotServed => {
                return tracing::warn!("call {call}: a plugin asked for {kind}, which none serves")
            }
            StreamAsk::Renegotiate => {}
        }
        match self.table.plugin_stream(call, on) {
            Ok(()) => {}
            Err(NotNow::Busy) => {
                tracing::info!("call {call}: {kind} waits for the renegotiation under way");
                self.waiting_streams.push((call, kind, on));
                return;
            }
            Err(NotNow::Refused(why)) => return self.refuse_stream(call, &kind, on, &why),
        }
        let media = self.media.clone();
        let Some(io) = self.calls.get_mut(&call) else {
            return;
        };
        let sdp = if on {
            io.session.offer_adding(media.as_ref(), call, &kind)
        } else {
            Ok(io.session.offer_removing(&kind))
        };
        let sdp = match sdp {
            Ok(sdp) => sdp,
            Err(e) => {
                self.table.plugin_stream_done(call);
                return self.refuse_stream(call, &kind, on, &e);
            }
        };
        tracing::info!(
            "call {call}: re-INVITE {} {kind} (a plugin asked)",
            if on { "adding" } else { "removing" }
        );
        self.send_reinvite(call, sdp, Reoffer::Stream(kind));
    }

    /// The request cannot be met: a stream not added is told so with
    /// `media_stop` (its plugin may hold sockets for it already).
    fn refuse_stream(&mut self, call: u32, kind: &str, on: bool, why: &str) {
        tracing::info!(
            "call {call}: {} {kind} refused: {why}",
            if on { "adding" } else { "removing" }
        );
        if on {
            self.media.stop(StopRequest {
                call_id: call,
                kind: kind.to_owned(),
            });
        }
    }

    /// The peer answered our stream re-INVITE (or did not): a 2xx settles
    /// the session (the stream starts, or stops; an answer refusing an added
    /// stream stops it), anything else leaves it as it was.
    pub(in crate::engine) fn on_stream_done(
        &mut self,
        now: Instant,
        call: u32,
        kind: &str,
        response: Option<rsip::Response>,
    ) {
        let media = self.media.clone();
        let ok = response
            .as_ref()
            .is_some_and(|r| r.status_code.kind() == rsip::StatusCodeKind::Successful);
        if let Some(io) = self.calls.get_mut(&call) {
            if ok {
                let body = response
                    .as_ref()
                    .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                    .unwrap_or_default();
                io.session.settle(media.as_ref(), call, &body);
            } else {
                io.session.revert(media.as_ref(), call);
            }
            let carried = io.session.carries(kind);
            tracing::info!(
                "call {call}: the peer answered {}: {kind} {}",
                response
                    .as_ref()
                    .map_or("nothing".to_owned(), |r| r.status_code.to_string()),
                if carried { "flows" } else { "is off" }
            );
        }
        if let (true, Some(r)) = (ok, response.as_ref()) {
            self.sync_video(call);
            // Any re-INVITE that succeeds refreshes the session (RFC 4028 §1).
            self.renegotiated(now, call, &r.headers, Role::Uac);
        }
        self.table.plugin_stream_done(call);
    }

    /// Stream requests that waited for a renegotiation go out once it is
    /// over (in the order asked; those of ended calls are refused).
    pub(in crate::engine) fn retry_waiting_streams(&mut self) {
        if self.waiting_streams.is_empty() {
            return;
        }
        for (call, kind, on) in std::mem::take(&mut self.waiting_streams) {
            if self.table.renegotiating(call) {
                self.waiting_streams.push((call, kind, on));
            } else {
                self.plugin_stream(call, kind, on);
            }
        }
    }
}
