//! Our re-INVITE met with 491 Request Pending, on the wire: the call
//! table says whether and when it goes out again (`calls::glare`); here the
//! offer waits, goes out again, and its answer is reported as the first
//! one's would have been.

use std::time::Instant;

use rsipstack::sip as rsip;

use crate::engine::Engine;

/// Which re-INVITE of ours, so its answer reaches the right handler.
#[derive(Debug, Clone)]
pub(crate) enum Reoffer {
    /// Hold (`true`) or unhold.
    Hold(bool),
    /// addVideo / delVideo.
    Video,
    /// A plugin's own stream of this kind.
    Stream(String),
}

/// Our re-INVITE that met 491, until it goes out again.
pub(in crate::engine) struct Waiting {
    what: Reoffer,
    sdp: String,
    /// The 491, reported if ours is given up.
    response: rsip::Response,
}

impl Engine {
    /// Our re-INVITE `what` with `sdp` ended with `response` (`None`:
    /// nothing came).
    pub(in crate::engine) fn on_reinvite_done(
        &mut self,
        now: Instant,
        call: u32,
        what: Reoffer,
        sdp: String,
        response: Option<rsip::Response>,
    ) {
        let glare = response
            .as_ref()
            .filter(|r| r.status_code.code() == 491 && self.calls.contains_key(&call));
        if let Some(r) = glare {
            if self.table.request_pending(now, call, rand::random()) {
                tracing::info!("call {call}: our re-INVITE met 491; it goes out again");
                let waiting = Waiting {
                    what,
                    sdp,
                    response: r.clone(),
                };
                if let Some(io) = self.calls.get_mut(&call) {
                    io.waiting_reoffer = Some(waiting);
                }
                return;
            }
        }
        self.report_reinvite(now, call, what, response);
    }

    fn report_reinvite(
        &mut self,
        now: Instant,
        call: u32,
        what: Reoffer,
        response: Option<rsip::Response>,
    ) {
        match what {
            Reoffer::Hold(hold) => self.on_hold_done(now, call, hold, response),
            Reoffer::Video => self.on_video_done(now, call, response),
            Reoffer::Stream(kind) => self.on_stream_done(now, call, &kind, response),
        }
    }

    /// The wait after a 491 is over: the same offer goes out again.
    pub(in crate::engine) fn reoffer(&mut self, call: u32) {
        let Some(w) = self.take_waiting(call) else {
            return;
        };
        tracing::info!("call {call}: sending our re-INVITE again after 491");
        self.send_reinvite(call, w.sdp, w.what);
    }

    /// The peer offered before ours went out again: ours ends with its 491.
    pub(super) fn give_up_reoffer(&mut self, now: Instant, call: u32) {
        let Some(w) = self.take_waiting(call) else {
            return;
        };
        tracing::info!("call {call}: the peer's offer came first; ours is given up");
        self.report_reinvite(now, call, w.what, Some(w.response));
    }

    fn take_waiting(&mut self, call: u32) -> Option<Waiting> {
        self.calls
            .get_mut(&call)
            .and_then(|io| io.waiting_reoffer.take())
    }
}
