//! Audio ⇄ video in a call that is up, the table's side: our re-INVITE
//! adding or removing video (`addVideo`, `delVideo`), one re-INVITE at a
//! time; a peer's re-INVITE adding video, held for the page's
//! `replyAddVideo` (2009) and answered audio-only by itself after
//! [`VIDEO_REPLY_LIMIT`]. 2012 / 2011 follow the SDP (`set_video`).

use std::time::{Duration, Instant};

use seatphone_protocol::{result, Refusal};

use super::{Call, CallAction, CallState, CallTable};
use crate::{events, requests};

/// How long a peer's video request waits for the page. RFC 3261 lets the
/// UAS take its time once it sent 100 Trying; peers and proxies give up on
/// an INVITE left without a final answer after 32 s or more (Timer B, C),
/// so this leaves room.
pub const VIDEO_REPLY_LIMIT: Duration = Duration::from_secs(20);

/// `addVideo` needs a loaded plugin that serves video (`kinds`: the media
/// kinds the loaded plugins serve); result 4 when none does.
pub fn video_plugin_loaded(kinds: &[String]) -> Result<(), Refusal> {
    if kinds.iter().any(|k| k == "video") {
        return Ok(());
    }
    Err(Refusal::new(
        result::NOT_LOADED,
        "addVideo needs the video capability, and no video plugin is loaded",
    ))
}

/// startCall asked for video (`asked`) and our offer carries it
/// (`offered`) or not: a call that goes out audio-only though video was
/// asked says why in its errMsg, beside result 0.
pub fn audio_only_note(asked: bool, offered: bool) -> Option<&'static str> {
    (asked && !offered).then_some("no loaded plugin serves video: the call is audio-only")
}

/// What a peer's offer in a call that is up comes to, as far as video goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerVideo {
    /// It adds no video, or no loaded plugin serves video (the answer
    /// refuses it anyway): answered as any offer.
    NotAsked,
    /// An UPDATE adding video: answered at once (RFC 3311 §5.2 leaves no
    /// room to ask the user), with video turned down.
    AnswerWithout,
    /// A re-INVITE adding video: it waits for the page (2009), see
    /// [`CallTable::peer_offers_video`].
    AskPage,
}

/// `adds_video`: the peer's offer brings video the call does not carry;
/// `reinvite`: it came in a re-INVITE (else an UPDATE).
pub fn peer_video(serves_video: bool, adds_video: bool, reinvite: bool) -> PeerVideo {
    match (serves_video && adds_video, reinvite) {
        (false, _) => PeerVideo::NotAsked,
        (true, false) => PeerVideo::AnswerWithout,
        (true, true) => PeerVideo::AskPage,
    }
}

/// What becomes of a plugin's request for a stream of its own (the
/// share's slides), before the table looks at the call
/// ([`CallTable::plugin_stream`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamAsk {
    /// The call already carries the stream (`on`), or does not (off):
    /// nothing to do.
    AsAsked,
    /// No loaded plugin serves the kind, so no offer could carry it:
    /// ignored (and logged: the asking plugin is at fault).
    NotServed,
    /// A re-INVITE adding or removing it, if the call allows one now.
    Renegotiate,
}

/// `carried`: the call's SDP has the stream now; `served`: a loaded
/// plugin serves its kind; `on`: added (else removed).
pub fn stream_ask(carried: bool, served: bool, on: bool) -> StreamAsk {
    if carried == on {
        StreamAsk::AsAsked
    } else if !served {
        StreamAsk::NotServed
    } else {
        StreamAsk::Renegotiate
    }
}

/// What the peer's re-INVITE adding video hears while the page decides
/// (our SDP answer comes after `replyAddVideo`, or its expiry). The
/// driver sends [`PeerVideoAsk::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerVideoAsk {
    /// 2009 went to the page: 100 Trying, so the peer stops sending the
    /// re-INVITE again meanwhile (RFC 3261 §17.1.1.2).
    Waiting,
    /// A re-INVITE of ours is under way (or the call is not up): 491
    /// Request Pending (RFC 3261 §14.2); the peer may try again.
    Crossing,
}

impl PeerVideoAsk {
    /// A waiting re-INVITE whose call ends before the page answered: 487
    /// Request Terminated (RFC 3261 §15.1.2).
    pub const CALL_ENDED: u16 = 487;

    pub fn status(self) -> u16 {
        match self {
            Self::Waiting => 100,
            Self::Crossing => 491,
        }
    }
}

/// What is under way about a call's video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum VideoChange {
    #[default]
    None,
    /// Our re-INVITE adding (`add`) or removing video waits for the peer.
    Ours { add: bool },
    /// The peer's re-INVITE offers video; it waits for the page until then.
    PeerAsks { until: Instant },
    /// Our re-INVITE for a plugin's own stream (the slides) waits for the
    /// peer.
    Plugin,
}

/// Why a plugin's request for a stream cannot go out now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotNow {
    /// Another re-INVITE (or a peer's video request) is under way: asked
    /// again when it ends.
    Busy,
    /// Not in this call as it is (ringing, on hold, ended): refused.
    Refused(String),
}

impl VideoChange {
    pub(super) fn deadline(self) -> Option<Instant> {
        match self {
            Self::PeerAsks { until } => Some(until),
            _ => None,
        }
    }
}

/// How our video re-INVITE ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoOutcome {
    /// A 2xx; `video`: the call carries video now, as the answer says.
    Answered { video: bool },
    /// A final status other than 2xx (and 408): the call goes on as it was.
    Refused(u16),
    /// No answer (or 408).
    NoAnswer,
    /// No re-INVITE went out: the plugin could not make a video section.
    NotOffered(String),
}

impl VideoOutcome {
    /// Our video re-INVITE got no 2xx: `status`, its final one as
    /// `requests::final_status` has it (408, what a proxy or the stack
    /// answers for silence, when nothing came).
    pub fn failed(status: u16) -> Self {
        match status {
            requests::NO_ANSWER => Self::NoAnswer,
            code => Self::Refused(code),
        }
    }
}

impl Call {
    /// One re-INVITE at a time (RFC 3261 §14.1): hold and video wait for
    /// each other.
    pub(super) fn not_renegotiating(&self, id: u32) -> Result<(), Refusal> {
        match self.video_change {
            VideoChange::None => Ok(()),
            _ => Err(Refusal::new(
                result::WRONG_STATE,
                format!("call {id}: adding or removing video is under way"),
            )),
        }
    }

    fn ready_for_video_change(&self, id: u32) -> Result<(), Refusal> {
        if self.hold_pending {
            return Err(Refusal::new(
                result::WRONG_STATE,
                format!("call {id}: a hold or unhold is under way"),
            ));
        }
        self.not_renegotiating(id)
    }
}

impl CallTable {
    /// `addVideo`: a live call (not held) without video offers it.
    pub fn add_video(&mut self, id: u32) -> Result<(), Refusal> {
        let call = self.live_or_held(id)?;
        if call.state != CallState::Live {
            return Err(Refusal::new(
                result::WRONG_STATE,
                format!(
                    "call {id} is not live: video is added to a connected call that is not on hold"
                ),
            ));
        }
        if call.is_video {
            return Err(Refusal::new(
                result::WRONG_STATE,
                format!("call {id} carries video already"),
            ));
        }
        call.ready_for_video_change(id)?;
        call.video_change = VideoChange::Ours { add: true };
        self.actions.push_back(CallAction::AddVideo(id));
        Ok(())
    }

    /// `delVideo`: a call with video (live or held) goes on audio-only.
    pub fn del_video(&mut self, id: u32) -> Result<(), Refusal> {
        let call = self.live_or_held(id)?;
        if !matches!(call.state, CallState::Live | CallState::Hold) || !call.is_video {
            return Err(Refusal::new(
                result::WRONG_STATE,
                format!("call {id} carries no video"),
            ));
        }
        call.ready_for_video_change(id)?;
        call.video_change = VideoChange::Ours { add: false };
        self.actions.push_back(CallAction::DelVideo(id));
        Ok(())
    }

    /// Our video re-INVITE ended. Returns the answer for the page's
    /// `addVideo` / `delVideo` (sent before the 2012 / 2011 this queues).
    pub fn video_reinvite_done(&mut self, id: u32, outcome: VideoOutcome) -> Result<(), Refusal> {
        self.reinvite_over(id);
        let Some(call) = self.calls.get_mut(&id) else {
            return Err(Refusal::new(
                result::FAILED,
                format!("call {id} ended before the peer answered"),
            ));
        };
        let add = !matches!(call.video_change, VideoChange::Ours { add: false });
        call.video_change = VideoChange::None;
        let goes_on = if call.is_video {
            "the call goes on with video"
        } else {
            "the call goes on audio-only"
        };
        match outcome {
            VideoOutcome::Answered { video } => {
                self.set_video(id, video);
                match (add, video) {
                    (true, false) => Err(Refusal::new(
                        result::REFUSED,
                        "the peer answered without video (m=video 0): the call goes on audio-only",
                    )),
                    (false, true) => Err(Refusal::new(
                        result::REFUSED,
                        "the peer's answer kept video: the call goes on with video",
                    )),
                    _ => Ok(()),
                }
            }
            VideoOutcome::Refused(status) => Err(Refusal::new(
                result::REFUSED,
                format!("the peer refused the re-INVITE ({status}): {goes_on}"),
            )),
            VideoOutcome::NoAnswer => Err(Refusal::new(
                result::TIMED_OUT,
                format!("the peer did not answer the re-INVITE in time: {goes_on}"),
            )),
            VideoOutcome::NotOffered(why) => Err(Refusal::new(
                result::FAILED,
                format!("no video section could be made ({why}): {goes_on}"),
            )),
        }
    }

    /// The peer's re-INVITE offers video the call does not carry: 2009
    /// goes to the page and the offer waits for `replyAddVideo`, unless a
    /// re-INVITE of ours is under way.
    pub fn peer_offers_video(&mut self, now: Instant, id: u32) -> PeerVideoAsk {
        let Some(call) = self.calls.get_mut(&id) else {
            return PeerVideoAsk::Crossing;
        };
        if call.ready_for_video_change(id).is_err()
            || !matches!(call.state, CallState::Live | CallState::Hold)
        {
            return PeerVideoAsk::Crossing;
        }
        call.video_change = VideoChange::PeerAsks {
            until: now + VIDEO_REPLY_LIMIT,
        };
        self.page(id, events::open_video_request(id));
        PeerVideoAsk::Waiting
    }

    /// `replyAddVideo`: the page takes (`accept`) or turns down the video
    /// the peer offered.
    pub fn reply_add_video(&mut self, id: u32, accept: bool) -> Result<(), Refusal> {
        let call = self.live_or_held(id)?;
        if call.video_change.deadline().is_none() {
            return Err(Refusal::new(
                result::WRONG_STATE,
                format!("call {id}: the peer is not asking for video (no 2009 waiting)"),
            ));
        }
        call.video_change = VideoChange::None;
        self.actions
            .push_back(CallAction::AnswerVideoOffer(id, accept));
        Ok(())
    }

    /// A plugin asks for a stream of its own (the share's slides) to be
    /// added (`on`: a live call, not on hold) or removed (live or held).
    /// `Ok`: the re-INVITE goes out now; report with `plugin_stream_done`.
    pub fn plugin_stream(&mut self, id: u32, on: bool) -> Result<(), NotNow> {
        let call = self
            .calls
            .get_mut(&id)
            .ok_or_else(|| NotNow::Refused(format!("no call {id}")))?;
        let up = if on {
            call.state == CallState::Live
        } else {
            matches!(call.state, CallState::Live | CallState::Hold)
        };
        if !up {
            return Err(NotNow::Refused(format!(
                "call {id} is not connected and off hold"
            )));
        }
        if call.hold_pending || call.video_change != VideoChange::None {
            return Err(NotNow::Busy);
        }
        call.video_change = VideoChange::Plugin;
        Ok(())
    }

    /// Whether a re-INVITE (ours or the peer's video request) is under way.
    pub fn renegotiating(&self, id: u32) -> bool {
        self.calls
            .get(&id)
            .is_some_and(|c| c.hold_pending || c.video_change != VideoChange::None)
    }

    /// A plugin's stream re-INVITE ended (whatever the peer said).
    pub fn plugin_stream_done(&mut self, id: u32) {
        self.reinvite_over(id);
        if let Some(call) = self.calls.get_mut(&id) {
            if call.video_change == VideoChange::Plugin {
                call.video_change = VideoChange::None;
            }
        }
    }

    /// The page did not answer 2009 in time: the offer is answered
    /// audio-only, and 2011 tells the page the request is gone.
    pub(super) fn video_request_expired(&mut self, id: u32) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.video_change = VideoChange::None;
            self.actions
                .push_back(CallAction::AnswerVideoOffer(id, false));
            self.page(id, events::video_changed(id, false));
        }
    }
}

#[cfg(test)]
mod tests {
    use seatphone_protocol::Event;

    use super::*;
    use crate::calls::tests::{drain, notifies as events_of, sip as sip_of};
    use crate::calls::Peer;

    fn live(now: Instant) -> (CallTable, u32) {
        let mut t = CallTable::new(2);
        let id = t.new_id();
        t.outgoing(id, Peer::default(), false);
        t.connected(now, id);
        drain(&mut t);
        (t, id)
    }

    #[test]
    fn a_call_asked_with_video_that_goes_out_without_says_so() {
        let note = audio_only_note(true, false).unwrap();
        assert!(note.contains("audio-only"), "{note}");
        assert_eq!(audio_only_note(true, true), None, "video offered");
        assert_eq!(audio_only_note(false, false), None, "audio asked");
    }

    #[test]
    fn only_a_re_invite_adding_video_we_serve_asks_the_page() {
        assert_eq!(peer_video(true, true, true), PeerVideo::AskPage);
        assert_eq!(peer_video(true, true, false), PeerVideo::AnswerWithout);
        for reinvite in [true, false] {
            assert_eq!(peer_video(false, true, reinvite), PeerVideo::NotAsked);
            assert_eq!(peer_video(true, false, reinvite), PeerVideo::NotAsked);
        }
    }

    #[test]
    fn a_plugin_stream_is_renegotiated_only_when_it_changes_and_is_served() {
        assert_eq!(stream_ask(false, true, true), StreamAsk::Renegotiate);
        assert_eq!(stream_ask(true, true, false), StreamAsk::Renegotiate);
        for served in [true, false] {
            assert_eq!(stream_ask(true, served, true), StreamAsk::AsAsked);
            assert_eq!(stream_ask(false, served, false), StreamAsk::AsAsked);
        }
        assert_eq!(stream_ask(false, false, true), StreamAsk::NotServed);
        assert_eq!(stream_ask(true, false, false), StreamAsk::NotServed);
    }

    #[test]
    fn add_video_without_a_video_plugin_is_result_4() {
        let audio = ["audio".to_owned()];
        let refused = video_plugin_loaded(&audio).unwrap_err();
        assert_eq!(refused.result, result::NOT_LOADED);
        let both = ["audio".to_owned(), "video".to_owned()];
        assert_eq!(video_plugin_loaded(&both), Ok(()));
    }

    #[test]
    fn a_plugin_stream_waits_for_a_renegotiation_under_way_and_holds_off_others() {
        let now = Instant::now();
        let (mut t, id) = live(now);
        t.add_video(id).unwrap();
        assert_eq!(t.plugin_stream(id, true), Err(NotNow::Busy));
        t.video_reinvite_done(id, VideoOutcome::Answered { video: true })
            .unwrap();
        drain(&mut t);
        assert_eq!(t.plugin_stream(id, true), Ok(()));
        // One re-INVITE at a time: hold, video and a second request wait.
        assert!(t.hold(id).is_err());
        assert!(t.del_video(id).is_err());
        assert_eq!(t.plugin_stream(id, false), Err(NotNow::Busy));
        t.plugin_stream_done(id);
        assert!(
            sip_of(&drain(&mut t)).is_empty(),
            "no SIP of the table's own"
        );
        assert_eq!(t.plugin_stream(id, false), Ok(()));
        t.plugin_stream_done(id);
        // A call on hold takes no new stream, but may drop one.
        t.hold(id).unwrap();
        assert!(t.hold_done(id, true, 200).is_ok());
        assert!(matches!(t.plugin_stream(id, true), Err(NotNow::Refused(_))));
        assert_eq!(t.plugin_stream(id, false), Ok(()));
        t.plugin_stream_done(id);
        assert!(matches!(
            t.plugin_stream(999, false),
            Err(NotNow::Refused(_))
        ));
    }

    #[test]
    fn our_upgrade_and_downgrade_report_2012_then_2011() {
        let now = Instant::now();
        let (mut t, id) = live(now);
        t.add_video(id).unwrap();
        assert_eq!(sip_of(&drain(&mut t)), [CallAction::AddVideo(id)]);
        let busy = t.add_video(id).unwrap_err();
        assert_eq!(busy.result, result::WRONG_STATE);
        assert_eq!(t.hold(id).unwrap_err().result, result::WRONG_STATE);
        let answered = VideoOutcome::Answered { video: true };
        assert_eq!(t.video_reinvite_done(id, answered), Ok(()));
        assert_eq!(events_of(&drain(&mut t)), [Event::OpenVideoInd]);
        assert_eq!(t.info(id)["isVideoCall"], 1);

        assert_eq!(t.add_video(id).unwrap_err().result, result::WRONG_STATE);
        t.del_video(id).unwrap();
        assert_eq!(sip_of(&drain(&mut t)), [CallAction::DelVideo(id)]);
        let answered = VideoOutcome::Answered { video: false };
        assert_eq!(t.video_reinvite_done(id, answered), Ok(()));
        assert_eq!(events_of(&drain(&mut t)), [Event::CloseVideoInd]);
        assert_eq!(t.info(id)["isVideoCall"], 0);
        assert_eq!(t.del_video(id).unwrap_err().result, result::WRONG_STATE);
    }

    #[test]
    fn a_refused_upgrade_keeps_the_call_audio_only_and_says_why() {
        let now = Instant::now();
        let (mut t, id) = live(now);
        t.add_video(id).unwrap();
        drain(&mut t);
        let r = t
            .video_reinvite_done(id, VideoOutcome::Answered { video: false })
            .unwrap_err();
        assert_eq!(r.result, result::REFUSED);
        assert!(r.message.contains("m=video 0"), "{}", r.message);
        assert!(events_of(&drain(&mut t)).is_empty(), "no 2012, no 2011");

        t.add_video(id).unwrap();
        drain(&mut t);
        let r = t
            .video_reinvite_done(id, VideoOutcome::Refused(488))
            .unwrap_err();
        assert_eq!(r.result, result::REFUSED);
        assert!(r.message.contains("488") && r.message.contains("audio-only"));
        t.add_video(id).unwrap();
        drain(&mut t);
        let r = t
            .video_reinvite_done(id, VideoOutcome::NoAnswer)
            .unwrap_err();
        assert_eq!(r.result, result::TIMED_OUT);
        assert_eq!(t.state(id), Some(CallState::Live), "the call goes on");
        // And the next change may start.
        assert_eq!(t.hold(id), Ok(()));
    }

    #[test]
    fn a_video_re_invite_without_2xx_is_refused_or_unanswered() {
        assert_eq!(VideoOutcome::failed(488), VideoOutcome::Refused(488));
        assert_eq!(VideoOutcome::failed(491), VideoOutcome::Refused(491));
        assert_eq!(VideoOutcome::failed(408), VideoOutcome::NoAnswer);
        let nothing_came = requests::final_status(None);
        assert_eq!(VideoOutcome::failed(nothing_came), VideoOutcome::NoAnswer);
    }

    #[test]
    fn only_a_live_call_takes_video_and_unknown_calls_are_not_found() {
        let now = Instant::now();
        let (mut t, id) = live(now);
        assert_eq!(t.add_video(id + 1).unwrap_err().result, result::NOT_FOUND);
        assert_eq!(t.del_video(id).unwrap_err().result, result::WRONG_STATE);
        assert_eq!(
            t.reply_add_video(id, true).unwrap_err().result,
            result::WRONG_STATE
        );
        t.hold(id).unwrap();
        assert_eq!(t.add_video(id).unwrap_err().result, result::WRONG_STATE);
        assert!(t.hold_done(id, true, 200).is_ok());
        assert_eq!(t.add_video(id).unwrap_err().result, result::WRONG_STATE);
        drain(&mut t);
        assert!(drain(&mut t).is_empty());
    }

    #[test]
    fn the_peers_request_waits_for_the_page_then_is_answered_as_it_says() {
        let now = Instant::now();
        let (mut t, id) = live(now);
        let ask = t.peer_offers_video(now, id);
        assert_eq!((ask, ask.status()), (PeerVideoAsk::Waiting, 100));
        assert_eq!(events_of(&drain(&mut t)), [Event::OpenVideoReq]);
        assert_eq!(t.poll_timeout(), Some(now + VIDEO_REPLY_LIMIT));
        // Nothing else re-INVITEs meanwhile.
        assert_eq!(t.add_video(id).unwrap_err().result, result::WRONG_STATE);
        assert_eq!(t.hold(id).unwrap_err().result, result::WRONG_STATE);
        t.reply_add_video(id, true).unwrap();
        assert_eq!(
            sip_of(&drain(&mut t)),
            [CallAction::AnswerVideoOffer(id, true)]
        );
        assert_eq!(t.poll_timeout(), None);
        // The answer went out with video: 2012.
        t.set_video(id, true);
        assert_eq!(events_of(&drain(&mut t)), [Event::OpenVideoInd]);
        // A second reply has nothing to answer.
        assert_eq!(
            t.reply_add_video(id, false).unwrap_err().result,
            result::WRONG_STATE
        );
    }

    #[test]
    fn an_unanswered_request_is_refused_after_the_limit_with_2011() {
        let now = Instant::now();
        let (mut t, id) = live(now);
        assert_eq!(t.peer_offers_video(now, id), PeerVideoAsk::Waiting);
        drain(&mut t);
        t.handle_timeout(now + VIDEO_REPLY_LIMIT - Duration::from_millis(1));
        assert!(drain(&mut t).is_empty());
        t.handle_timeout(now + VIDEO_REPLY_LIMIT);
        let actions = drain(&mut t);
        assert_eq!(sip_of(&actions), [CallAction::AnswerVideoOffer(id, false)]);
        assert_eq!(events_of(&actions), [Event::CloseVideoInd]);
        assert_eq!(
            t.reply_add_video(id, true).unwrap_err().result,
            result::WRONG_STATE
        );
        assert_eq!(t.state(id), Some(CallState::Live));
    }

    #[test]
    fn a_peer_request_crossing_ours_is_turned_away() {
        let now = Instant::now();
        let (mut t, id) = live(now);
        t.add_video(id).unwrap();
        drain(&mut t);
        let ask = t.peer_offers_video(now, id);
        assert_eq!((ask, ask.status()), (PeerVideoAsk::Crossing, 491));
        assert!(events_of(&drain(&mut t)).is_empty());
        assert_eq!(t.peer_offers_video(now, id + 7), PeerVideoAsk::Crossing);
    }

    /// The driver answers the waiting re-INVITE 487 itself; the table
    /// must not answer it later.
    #[test]
    fn a_request_waiting_when_the_call_ends_is_not_answered_later() {
        let now = Instant::now();
        let (mut t, id) = live(now);
        assert_eq!(t.peer_offers_video(now, id), PeerVideoAsk::Waiting);
        drain(&mut t);
        t.end(id).unwrap();
        assert_eq!(sip_of(&drain(&mut t)), [CallAction::Bye(id)]);
        t.handle_timeout(now + VIDEO_REPLY_LIMIT);
        assert!(sip_of(&drain(&mut t)).is_empty());
        assert_eq!(PeerVideoAsk::CALL_ENDED, 487);
    }

    #[test]
    fn a_refresh_waits_for_the_page_to_answer() {
        let now = Instant::now();
        let (mut t, id) = live(now);
        let secs = |s: u64| now + Duration::from_secs(s);
        // We refresh at 45 s; the peer asks at 40 s.
        t.session_timer(now, id, Duration::from_secs(90), true);
        assert_eq!(t.peer_offers_video(secs(40), id), PeerVideoAsk::Waiting);
        drain(&mut t);
        t.handle_timeout(secs(45));
        assert!(
            !drain(&mut t).contains(&CallAction::Refresh(id)),
            "no refresh while the peer's re-INVITE waits"
        );
        t.reply_add_video(id, false).unwrap();
        drain(&mut t);
        t.handle_timeout(secs(46));
        assert!(drain(&mut t).contains(&CallAction::Refresh(id)));
    }
}
