//! Calls on the wire, one module per seam: placing a call (`outgoing`),
//! a peer's INVITE (`incoming`), what we send inside a call (`in_dialog`,
//! `refresh`), audio ⇄ video (`video`), a plugin's own stream (`streams`), what the peer's dialog reports
//! (`peer_requests`); the headers they read are `crate::headers`'. Here:
//! the bookkeeping of a call's SIP side that all of them use.

mod glare;
mod in_dialog;
mod incoming;
mod outgoing;
mod peer_requests;
mod refresh;
mod streams;
mod video;

pub(crate) use glare::Reoffer;
pub(in crate::engine) use glare::Waiting;
pub(in crate::engine) use video::HeldOffer;

use super::{CallIo, Engine};

impl Engine {
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
        let mut io = self.calls.remove(&call)?;
        self.by_sip_id.retain(|_, c| *c != call);
        if let Some(held) = io.held_offer.take() {
            held.terminated();
        }
        Some(io)
    }
}
