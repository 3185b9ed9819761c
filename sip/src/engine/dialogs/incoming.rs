//! A peer's INVITE: the table decides, the page rings, and the page's
//! answer goes out (200 OK with our SDP, or a refusal).

use std::time::Instant;

use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{self as rsip, Header, StatusCode};

use crate::admission::Trust;
use crate::engine::{CallIo, Engine};
use crate::headers::{
    allows_update, peer_of, platform_answer_after, session_expires, supports_timer,
};
use crate::requests::{self, ALLOW};
use crate::session::{offered_kinds, NoMedia, Session};
use crate::session_timer;

impl Engine {
    /// The page accepts a ringing call, with or without video: without, a
    /// video offer is answered audio-only (`m=video 0`) and the video
    /// plugin frees what it prepared. Runs before the queued answer goes out.
    pub(in crate::engine) fn accept_media(&mut self, call: u32, video: bool) {
        if let Some(io) = self.calls.get_mut(&call) {
            io.accept_video = video;
            if !video && io.session.refuse_kind(self.media.as_ref(), call, "video") {
                tracing::info!("call {call}: accepted without video, answering m=video 0");
            }
        }
        self.sync_video(call);
    }

    /// A new INVITE: the call table decides (DND, max_calls), the page rings.
    pub(in crate::engine) fn on_incoming(
        &mut self,
        now: Instant,
        dialog: InviteDialog,
        request: rsip::Request,
        trust: Trust,
    ) {
        let in_use = self.by_sip_id.contains_key(&dialog.id().call_id);
        if let Err(status) = requests::new_invite(in_use) {
            tracing::info!("an INVITE reused the Call-ID of a call in progress: {status}");
            let _ = dialog.reject(Some(status), None);
            return;
        }
        let id = self.table.new_id();
        let peer = peer_of(&request);
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let answer_after = platform_answer_after(&request).filter(|_| {
            let allowed = trust.may_auto_answer(self.settings.platform_auto_answer);
            if let Err(why) = allowed {
                tracing::info!("call {id}: the caller asked for auto-answer; ignored: {why}");
            }
            allowed.is_ok()
        });
        let ip = self.route_from(now, self.current_server());
        let mut session = Session::new(&ip.to_string(), u64::from(id));
        let offer_ok = if body.trim().is_empty() {
            Ok(())
        } else {
            session.answer_offer(self.media.as_ref(), id, &body)
        };
        if let Err(e) = offer_ok {
            tracing::info!("incoming call refused ({}): {e}", NoMedia::STATUS);
            let _ = dialog.reject(Some(StatusCode::from(NoMedia::STATUS)), None);
            return;
        }
        // Video we could take (the offer has it and the video plugin
        // answered it): 2002's maybeVideoCall and isVideoCall.
        let is_video = session.carries("video");
        self.by_sip_id.insert(dialog.id().call_id.clone(), id);
        let ringing = dialog.clone();
        self.calls.insert(
            id,
            CallIo {
                dialog,
                session,
                awaiting_ack_answer: false,
                answered: false,
                invite: None,
                retry_auth: Vec::new(),
                accept_video: false,
                held_offer: None,
                waiting_reoffer: None,
                peer_update: allows_update(&request.headers),
            },
        );
        if self.table.incoming(now, id, peer, is_video, answer_after) {
            let _ = ringing.ringing(None, None);
        }
    }

    /// Sends 200 OK: our answer, or our offer when the INVITE had none.
    pub(in crate::engine) fn answer(&mut self, now: Instant, call: u32) {
        let media = self.media.clone();
        let Some(io) = self.calls.get_mut(&call) else {
            return;
        };
        if !io.session.has_remote() {
            // Delayed offer: we offer in the 200, the answer comes in the ACK.
            let kinds = offered_kinds(io.accept_video);
            if let Err(e) = io.session.make_offer(media.as_ref(), call, kinds) {
                tracing::warn!("call {call}: {e}");
                let _ = io
                    .dialog
                    .reject(Some(StatusCode::from(NoMedia::STATUS)), None);
                self.finish(call, NoMedia::STATUS);
                return;
            }
            io.awaiting_ack_answer = true;
        }
        let sdp = io.session.sdp();
        let mut headers = vec![
            Header::ContentType("application/sdp".into()),
            Header::Other("Allow".into(), ALLOW.into()),
        ];
        let req = io.dialog.initial_request();
        let timer = session_timer::answer_invite(
            session_expires(&req.headers),
            supports_timer(&req.headers),
        );
        if let Some(t) = timer {
            headers.push(Header::Other(
                "Session-Expires".into(),
                t.session_expires.value(),
            ));
            if t.require_timer {
                headers.push(Header::Other("Require".into(), "timer".into()));
            }
        }
        if let Err(e) = io.dialog.accept(Some(headers), Some(sdp.into_bytes())) {
            tracing::warn!("call {call}: 200 OK not sent: {e}");
            self.finish(call, requests::NOT_SENT);
            return;
        }
        if !io.awaiting_ack_answer {
            io.session.start(media.as_ref(), call);
        }
        if let Some(t) = timer {
            self.run_timer(now, call, t.agreed);
        }
    }

    pub(in crate::engine) fn reject(&mut self, call: u32, code: u16) {
        if let Some(mut io) = self.take_io(call) {
            let _ = io.dialog.reject(Some(StatusCode::from(code)), None);
            io.session.stop(self.media.as_ref(), call);
        }
    }
}
