//! Audio ⇄ video in a call that is up, on the wire: our re-INVITE adding
//! or removing video (the page's addVideo / delVideo), and the peer's
//! re-INVITE adding video, held with 100 Trying until the page's
//! replyAddVideo. The policy (what may happen when, 2009 / 2011 / 2012) is
//! the call table's; the SDP is the session's.

use rsipstack::dialog::dialog::TransactionHandle;
use rsipstack::sip::{self as rsip, Method, StatusCode};
use seatphone_protocol::Response;
use std::time::Instant;

use super::Reoffer;
use crate::calls::{peer_video, PeerVideo, PeerVideoAsk, VideoOutcome};
use crate::engine::Engine;
use crate::requests;
use crate::session_timer::Role;

/// The peer's re-INVITE that waits for the page.
pub(in crate::engine) struct HeldOffer {
    request: rsip::Request,
    handle: TransactionHandle,
}

impl HeldOffer {
    /// The call ends before the page answered.
    pub(super) fn terminated(self) {
        reply(self.handle, PeerVideoAsk::CALL_ENDED);
    }
}

impl Engine {
    /// Sends our re-INVITE with video added (`add`) or at port 0.
    pub(in crate::engine) fn reinvite_video(&mut self, call: u32, add: bool) {
        let media = self.media.clone();
        let Some(io) = self.calls.get_mut(&call) else {
            return;
        };
        let sdp = if add {
            io.session.offer_adding(media.as_ref(), call, "video")
        } else {
            Ok(io.session.offer_removing("video"))
        };
        let sdp = match sdp {
            Ok(sdp) => sdp,
            Err(e) => return self.video_done(call, VideoOutcome::NotOffered(e)),
        };
        tracing::info!(
            "call {call}: re-INVITE {} video",
            if add { "adding" } else { "removing" }
        );
        self.send_reinvite(call, sdp, Reoffer::Video);
    }

    /// The peer answered our video re-INVITE (or did not).
    pub(in crate::engine) fn on_video_done(
        &mut self,
        now: Instant,
        call: u32,
        response: Option<rsip::Response>,
    ) {
        let media = self.media.clone();
        let status = requests::final_status(response.as_ref());
        let outcome = match (self.calls.get_mut(&call), response.as_ref()) {
            (Some(io), Some(r)) if r.status_code.kind() == rsip::StatusCodeKind::Successful => {
                io.session
                    .settle(media.as_ref(), call, &String::from_utf8_lossy(&r.body));
                VideoOutcome::Answered {
                    video: io.session.carries("video"),
                }
            }
            (Some(io), _) => {
                io.session.revert(media.as_ref(), call);
                VideoOutcome::failed(status)
            }
            (None, _) => VideoOutcome::NoAnswer,
        };
        if let (Some(r), VideoOutcome::Answered { .. }) = (response.as_ref(), &outcome) {
            // Any re-INVITE that succeeds refreshes the session (RFC 4028 §1).
            self.renegotiated(now, call, &r.headers, Role::Uac);
        }
        self.video_done(call, outcome);
    }

    /// The page's addVideo / delVideo is answered, before the 2012 / 2011
    /// the table queued.
    fn video_done(&mut self, call: u32, outcome: VideoOutcome) {
        let answer = self.table.video_reinvite_done(call, outcome);
        if let Some(reply) = self.video_replies.remove(&call) {
            reply(match answer {
                Ok(()) => Response::ok(),
                Err(refusal) => refusal.into(),
            });
        } else if let Err(refusal) = answer {
            tracing::info!("call {call}: {}", refusal.message);
        }
    }

    /// The peer's re-INVITE offers video the call does not carry: the
    /// table says whether the page is asked (2009) while the re-INVITE
    /// waits, or it is turned away, and what it hears. `false`: not such
    /// an offer (answered as any other).
    pub(super) fn peer_asks_for_video(
        &mut self,
        now: Instant,
        call: u32,
        req: &rsip::Request,
        handle: &TransactionHandle,
    ) -> bool {
        let serves_video = self.media.kinds().iter().any(|k| k == "video");
        let body = String::from_utf8_lossy(&req.body);
        let Some(io) = self.calls.get_mut(&call) else {
            return false;
        };
        let adds_video = io.session.offer_adds(&body, "video");
        match peer_video(serves_video, adds_video, req.method == Method::Invite) {
            PeerVideo::NotAsked => return false,
            PeerVideo::AnswerWithout => {
                tracing::info!("call {call}: the peer's UPDATE adds video; answered without it");
                io.session.allow("video", false);
                return false;
            }
            PeerVideo::AskPage => {}
        }
        let ask = self.table.peer_offers_video(now, call);
        reply(handle.clone(), ask.status());
        match ask {
            PeerVideoAsk::Crossing => {
                tracing::info!(
                    "call {call}: the peer's video re-INVITE crosses ours: {}",
                    ask.status()
                );
            }
            PeerVideoAsk::Waiting => {
                tracing::info!("call {call}: the peer asks for video; waiting for the page");
                io.held_offer = Some(HeldOffer {
                    request: req.clone(),
                    handle: handle.clone(),
                });
            }
        }
        true
    }

    /// The page answered 2009 (or it expired): the held re-INVITE gets our
    /// answer, with our video section or `m=video 0`.
    pub(in crate::engine) fn answer_held_offer(&mut self, now: Instant, call: u32, accept: bool) {
        let Some(io) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(held) = io.held_offer.take() else {
            return;
        };
        io.session.allow("video", accept);
        self.answer_peer_offer(now, Some(call), &held.request, held.handle);
    }
}

/// Answers the peer's re-INVITE with `status`, in the background.
fn reply(handle: TransactionHandle, status: u16) {
    tokio::spawn(async move {
        let _ = handle.reply(StatusCode::from(status)).await;
    });
}
