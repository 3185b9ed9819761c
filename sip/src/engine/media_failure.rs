//! A call whose media cannot run ends, and the page hears why: a stream
//! that did not start (the peer's answer has no codec we offered, keys
//! that make no SRTP context), or a plugin that says its media failed.
//! The decision (BYE, CANCEL or 488, and status 488 with the reason) is
//! the call table's.

use super::Engine;

impl Engine {
    /// Ends every call a stream of which could not start since last asked.
    pub(super) fn end_calls_without_media(&mut self) {
        let failed: Vec<(u32, String)> = self
            .calls
            .iter_mut()
            .filter_map(|(id, io)| io.session.take_failure().map(|why| (*id, why)))
            .collect();
        for (call, why) in failed {
            self.media_failed(call, &why);
        }
    }

    /// A plugin's media for `call` failed; `why` names the stream.
    pub(super) fn media_failed(&mut self, call: u32, why: &str) {
        if self.table.contains(call) {
            tracing::warn!("call {call}: media failed ({why}): ending the call");
            self.table.media_failed(call, why);
        }
    }
}
