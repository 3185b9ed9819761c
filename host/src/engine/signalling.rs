//! The host-owned commands go to the SIP user agent; when it could not start
//! (its port taken, say) they answer honestly why.

use std::future::Future;
use std::pin::Pin;

use seatphone_protocol::{result, Request, Response, Signal};
use seatphone_sip::{PageEvent, Sip};
use serde_json::{json, Value};

use super::ReplyFn;

/// The host-owned commands (SIP signalling, answer modes). The host routes
/// them here; the implementation must call `reply` before emitting any event
/// the command causes.
pub trait Signalling: Send + Sync {
    fn command(&self, request: Request, reply: ReplyFn);
    /// What a newly connected page needs to catch up (1009, each call's latest event).
    fn snapshot(&self) -> Vec<PageEvent>;
    /// For `/health`: registration state, never secrets.
    fn health(&self) -> Value;
    /// A plugin told the host something (media up, media timeout, media
    /// failed, a stream it wants in a call).
    fn signal(&self, signal: Signal);
    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl Signalling for Sip {
    fn command(&self, request: Request, reply: ReplyFn) {
        Sip::command(self, request, reply);
    }

    fn snapshot(&self) -> Vec<PageEvent> {
        Sip::snapshot(self)
    }

    fn health(&self) -> Value {
        Sip::health(self)
    }

    fn signal(&self, signal: Signal) {
        match signal {
            Signal::MediaUp { call_id, .. } => self.media_up(call_id),
            Signal::MediaTimeout {
                call_id,
                kind,
                silent_ms,
            } => {
                tracing::warn!(call_id, %kind, silent_ms, "no media received: ending the call");
                self.media_timeout(call_id);
            }
            Signal::MediaFailed {
                call_id,
                kind,
                reason,
            } => self.media_failed(call_id, format!("{kind}: {reason}")),
            Signal::Stream { call_id, kind, on } => self.stream(call_id, kind, on),
        }
    }

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(Sip::shutdown(self))
    }
}

/// SIP could not start: every host command says why.
pub struct Unavailable(pub String);

impl Signalling for Unavailable {
    fn command(&self, request: Request, reply: ReplyFn) {
        reply(Response::error(
            result::FAILED,
            format!("{}: SIP is unavailable: {}", request.description, self.0),
        ));
    }

    fn snapshot(&self) -> Vec<PageEvent> {
        Vec::new()
    }

    fn health(&self) -> Value {
        json!({ "state": "unavailable", "reason": self.0 })
    }

    fn signal(&self, _signal: Signal) {}

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}
