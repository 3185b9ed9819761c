//! Signalling before the SIP user agent is wired in: every host command
//! answers honestly that it is not implemented yet.

use seatphone_plugin_api::{result, Request, Response, Signal};
use serde_json::{json, Value};

use super::{PageEvent, ReplyFn, Signalling};

pub struct Unwired;

impl Signalling for Unwired {
    fn command(&self, request: Request, reply: ReplyFn) {
        reply(Response::error(
            result::FAILED,
            format!(
                "{}: not implemented yet (SIP signalling is not built into this host)",
                request.description
            ),
        ));
    }

    fn snapshot(&self) -> Vec<PageEvent> {
        Vec::new()
    }

    fn health(&self) -> Value {
        json!({ "state": "unavailable" })
    }

    fn signal(&self, _signal: Signal) {}
}
