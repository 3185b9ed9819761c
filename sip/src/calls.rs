//! The call table: each call's state, answer modes and "several calls", as a
//! sans-IO state machine. The driver reports what SIP did (`ringing`,
//! `connected`, `ended` …) and what the page asked (`accept`, `end` …); the
//! table answers with [`CallAction`]s — page events, media life-cycle events
//! and SIP work to do. Timers (auto-answer, auto hang-up, the 30 s limit of a
//! waiting call, RFC 4028 session timers) run on the `now` the driver passes in.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seatphone_protocol::{result, CallEvent, Event, Refusal};
use serde_json::{json, Value};

use crate::events::{self, PageEvent};
use crate::requests;

mod glare;
mod video;

use glare::Glare;
pub use glare::{backoff, PeerOffer};
use video::VideoChange;
pub use video::{
    audio_only_note, peer_video, stream_ask, video_plugin_loaded, NotNow, PeerVideo, PeerVideoAsk,
    StreamAsk, VideoOutcome, VIDEO_REPLY_LIMIT,
};

/// `callState` of `callInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    Incoming = 1,
    Outgoing = 2,
    Live = 3,
    Hold = 4,
    Ended = 5,
}

/// `SetAnswerWay`: what the host does with calls on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnswerMode {
    #[default]
    Off,
    /// "1": hang up after this many seconds of talk.
    AutoHangup(u32),
    /// "2": answer after this many seconds.
    AutoAnswer(u32),
    /// "4": refuse every call with 486.
    DoNotDisturb,
}

impl AnswerMode {
    /// Parses `answerWay` and `times` as the page sends them (strings or numbers).
    pub fn parse(way: &Value, times: &Value) -> Result<Self, String> {
        let way = match way {
            Value::String(s) => s.trim().parse::<u32>().ok(),
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            _ => None,
        }
        .ok_or("answerWay must be \"0\", \"1\", \"2\" or \"4\"")?;
        let secs = match times {
            Value::Null => Some(0),
            Value::String(s) if s.trim().is_empty() => Some(0),
            Value::String(s) => s.trim().parse::<u32>().ok(),
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            _ => None,
        }
        .filter(|s| *s <= 86_400)
        .ok_or("times must be a number of seconds from 0 to 86400")?;
        match way {
            0 => Ok(Self::Off),
            1 => Ok(Self::AutoHangup(secs)),
            2 => Ok(Self::AutoAnswer(secs)),
            4 => Ok(Self::DoNotDisturb),
            _ => Err("answerWay must be \"0\", \"1\", \"2\" or \"4\"".to_owned()),
        }
    }
}

/// Why a call is answered without the agent (`autoAnswerReason` of
/// `callInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoAnswer {
    /// A configured server asked (Call-Info `answer-after`, Alert-Info) and
    /// the page allows it (`call.platform_auto_answer`).
    Platform,
    /// The page's answer mode (`SetAnswerWay` "2").
    AnswerWay,
}

impl AutoAnswer {
    fn name(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::AnswerWay => "answerWay",
        }
    }
}

/// Who is on the other side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    /// User part of the peer's URI.
    pub number: String,
    pub display_name: String,
}

/// SIP work the driver must do for the table.
#[derive(Debug, Clone, PartialEq)]
pub enum CallAction {
    Page(PageEvent),
    Media(CallEvent),
    /// Send 200 OK with our answer (or offer) to the incoming call.
    Answer(u32),
    /// Send this final status to the incoming call.
    Reject(u32, u16),
    Cancel(u32),
    Bye(u32),
    /// re-INVITE with our media `sendonly` / `sendrecv`.
    Hold(u32),
    Unhold(u32),
    /// Refresh the session (RFC 4028): re-INVITE with our unchanged offer,
    /// or UPDATE when the peer allows it; report with `session_refreshed` or
    /// `refresh_failed`.
    Refresh(u32),
    /// Send the INVITE of an outgoing call again, with this Session-Expires
    /// and Min-SE (after a 422), or with the credentials of a new challenge
    /// (after a 401/407 from a further hop): `None`.
    RetryInvite(u32, Option<u32>),
    /// re-INVITE offering our video beside the call's other streams
    /// (`addVideo`); report with `video_reinvite_done`.
    AddVideo(u32),
    /// re-INVITE with the video section at port 0 (`delVideo`).
    DelVideo(u32),
    /// Answer the peer's re-INVITE that offered video, held since 2009:
    /// with our video section (`true`) or `m=video 0`.
    AnswerVideoOffer(u32, bool),
    /// Send our re-INVITE that met 491 again, the same offer
    /// (`request_pending`).
    Reoffer(u32),
}

/// Why an outgoing INVITE failed, as far as a retry is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteFailure {
    /// Any final status we do not retry.
    Final,
    /// 422 Session Interval Too Small, with the peer's Min-SE (seconds).
    TooSmall(Option<u32>),
    /// 401/407 with a challenge of a realm we have not answered yet (a
    /// second hop challenges after the proxy took its credentials).
    NewChallenge,
}

pub use crate::session_timer::{MIN_SESSION_EXPIRES, SESSION_EXPIRES};

/// How long a call waiting beside a live one may ring (PROTOCOL.md).
pub const WAITING_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
struct Call {
    state: CallState,
    is_caller: bool,
    is_video: bool,
    peer: Peer,
    auto_answer: Option<AutoAnswer>,
    reason: u16,
    /// A local hold/unhold re-INVITE is under way.
    hold_pending: bool,
    /// Adding or removing video is under way (ours or the peer's).
    video_change: VideoChange,
    /// Our re-INVITE under way and 491 (RFC 3261 §14.1).
    glare: Glare,
    media_up: bool,
    answer_at: Option<Instant>,
    hangup_at: Option<Instant>,
    give_up_at: Option<Instant>,
    /// RFC 4028 session timer, once negotiated.
    timer: Option<SessionTimer>,
    /// The Session-Expires of our INVITE (raised by a 422).
    invite_se: u32,
    /// The outgoing INVITE was sent again once (422, or a second challenge).
    retried: bool,
    /// The last call event the page saw, re-sent to a reloaded page
    /// (shared: the engine publishes it after every input).
    last_event: Option<Arc<PageEvent>>,
    /// Why the call ended, when a status alone does not say (media failed).
    reason_text: Option<String>,
}

/// A session timer (RFC 4028): the refresher re-INVITEs or UPDATEs every
/// half interval; without a refresh the session expires and we send BYE.
#[derive(Debug, Clone, Copy)]
struct SessionTimer {
    interval: Duration,
    /// We send the refreshes (else the peer does).
    we_refresh: bool,
    /// When our next refresh goes out; `None` while one is under way.
    refresh_at: Option<Instant>,
    /// No refresh by then: the session is dead (§10).
    expires_at: Instant,
}

impl SessionTimer {
    fn new(now: Instant, interval: Duration, we_refresh: bool) -> Self {
        // §10: the side that does not refresh gives up min(32 s, SE/3)
        // before the interval ends, so a late refresh still crosses a BYE.
        let slack = (interval / 3).min(Duration::from_secs(32));
        Self {
            interval,
            we_refresh,
            refresh_at: we_refresh.then(|| now + interval / 2),
            expires_at: now + interval - slack,
        }
    }
}

/// Every call in progress.
#[derive(Debug)]
pub struct CallTable {
    calls: BTreeMap<u32, Call>,
    mode: AnswerMode,
    max_calls: usize,
    /// The id the next call gets (never 0).
    next_id: u32,
    actions: VecDeque<CallAction>,
}

impl CallTable {
    pub fn new(max_calls: usize) -> Self {
        Self {
            calls: BTreeMap::new(),
            mode: AnswerMode::Off,
            max_calls: max_calls.max(1),
            next_id: 1,
            actions: VecDeque::new(),
        }
    }

    /// Call ids counted from `first` (the driver picks it at random, so
    /// ids look like the reference's and are not reused across restarts).
    pub fn starting_at(mut self, first: u32) -> Self {
        self.next_id = first.max(1);
        self
    }

    /// An id for a new call, placed or incoming: never 0, never one in use
    /// (after a wrap, ids of calls still up are skipped).
    pub fn new_id(&mut self) -> u32 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1).max(1);
            if !self.calls.contains_key(&id) {
                return id;
            }
        }
    }

    pub fn set_mode(&mut self, mode: AnswerMode) {
        self.mode = mode;
    }

    pub fn mode(&self) -> AnswerMode {
        self.mode
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    pub fn contains(&self, id: u32) -> bool {
        self.calls.contains_key(&id)
    }

    pub fn state(&self, id: u32) -> Option<CallState> {
        self.calls.get(&id).map(|c| c.state)
    }

    /// Whether a 2xx for `id` carries the answer to our offer, to be
    /// taken: the call is ours and not connected yet. A confirmed dialog
    /// of an incoming call, or of a call already live, brings none.
    pub fn awaits_answer(&self, id: u32) -> bool {
        self.state(id) == Some(CallState::Outgoing)
    }

    pub fn ids(&self) -> Vec<u32> {
        self.calls.keys().copied().collect()
    }

    /// Whether the table takes one more call (`max_calls`).
    pub fn has_room(&self) -> bool {
        self.calls.len() < self.max_calls
    }

    /// `startCall`'s checks before an INVITE is built: the account is
    /// `registered` and the table takes one more call. Result 3 otherwise.
    pub fn may_place(&self, registered: bool) -> Result<(), Refusal> {
        if !registered {
            return Err(Refusal::new(
                result::WRONG_STATE,
                "not registered: call register first",
            ));
        }
        if !self.has_room() {
            return Err(Refusal::new(
                result::WRONG_STATE,
                format!("already {} calls (max_calls)", self.len()),
            ));
        }
        Ok(())
    }

    /// An INVITE arrived. `answer_after` is a platform's auto-answer request
    /// (`Call-Info: …;answer-after=N`) that the driver found allowed (from a
    /// configured server, and the page enabled it). Returns false when the
    /// call was refused (a `Reject` is queued and the page hears nothing).
    pub fn incoming(
        &mut self,
        now: Instant,
        id: u32,
        peer: Peer,
        is_video: bool,
        answer_after: Option<u32>,
    ) -> bool {
        if self.mode == AnswerMode::DoNotDisturb || !self.has_room() {
            self.actions.push_back(CallAction::Reject(id, 486));
            return false;
        }
        let waiting = self.live_call().is_some();
        let after = match (self.mode, answer_after) {
            // Never answer a waiting call by itself: that would hold the
            // agent's live call behind their back.
            _ if waiting => None,
            (_, Some(n)) => Some((n, AutoAnswer::Platform)),
            (AnswerMode::AutoAnswer(n), None) => Some((n, AutoAnswer::AnswerWay)),
            _ => None,
        };
        let call = Call {
            state: CallState::Incoming,
            is_caller: false,
            is_video,
            peer,
            auto_answer: after.map(|(_, why)| why),
            reason: 0,
            hold_pending: false,
            video_change: VideoChange::None,
            glare: Glare::None,
            media_up: false,
            answer_at: after.map(|(n, _)| now + Duration::from_secs(u64::from(n))),
            hangup_at: None,
            give_up_at: waiting.then(|| now + WAITING_LIMIT),
            timer: None,
            invite_se: SESSION_EXPIRES,
            retried: false,
            last_event: None,
            reason_text: None,
        };
        self.calls.insert(id, call);
        let info = self.info(id);
        self.page(id, events::call_incoming(id, info, is_video));
        self.actions
            .push_back(CallAction::Media(CallEvent::Incoming {
                call_id: id,
                auto_answer: after.is_some(),
            }));
        true
    }

    /// The page placed a call (INVITE about to go out).
    pub fn outgoing(&mut self, id: u32, peer: Peer, is_video: bool) {
        let call = Call {
            state: CallState::Outgoing,
            is_caller: true,
            is_video,
            peer,
            auto_answer: None,
            reason: 0,
            hold_pending: false,
            video_change: VideoChange::None,
            glare: Glare::None,
            media_up: false,
            answer_at: None,
            hangup_at: None,
            give_up_at: None,
            timer: None,
            invite_se: SESSION_EXPIRES,
            retried: false,
            last_event: None,
            reason_text: None,
        };
        self.calls.insert(id, call);
        let info = self.info(id);
        self.page(id, events::call_outgoing(id, info));
        self.actions
            .push_back(CallAction::Media(CallEvent::Outgoing { call_id: id }));
    }

    /// 180/183 for an outgoing call.
    pub fn ringing(&mut self, id: u32, early_media: bool) {
        if self.state(id) != Some(CallState::Outgoing) {
            return;
        }
        self.page(id, events::call_ringback(id));
        self.actions
            .push_back(CallAction::Media(CallEvent::Ringing {
                call_id: id,
                early_media,
            }));
    }

    /// The dialog is confirmed (2xx received and ACKed, or our 200 ACKed).
    pub fn connected(&mut self, now: Instant, id: u32) {
        let mode = self.mode;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !matches!(call.state, CallState::Incoming | CallState::Outgoing) {
            return;
        }
        call.state = CallState::Live;
        call.answer_at = None;
        call.give_up_at = None;
        if let AnswerMode::AutoHangup(n) = mode {
            call.hangup_at = Some(now + Duration::from_secs(u64::from(n)));
        }
        let info = self.info(id);
        self.page(id, events::call_connected(id, info));
        self.actions
            .push_back(CallAction::Media(CallEvent::Connected { call_id: id }));
    }

    /// `sendDTMF` needs a call of ours, in any state.
    pub fn may_send_dtmf(&self, id: u32) -> Result<(), Refusal> {
        if self.contains(id) {
            return Ok(());
        }
        Err(no_call(id))
    }

    /// Whether the end of the call's dialog ends the call. Not while our
    /// INVITE is unanswered: its transaction's end (`invite_failed`) says
    /// what happens, and may send it again in a new dialog (422, a second
    /// challenge).
    pub fn ends_with_dialog(&self, id: u32) -> bool {
        self.state(id) != Some(CallState::Outgoing)
    }

    /// Whether the call carries video now, as its SDP says (our offer, the
    /// peer's answer, the page's acceptCall): `callInfo.isVideoCall` from
    /// the next event on.
    /// In a call already up, video starting is 2012 and stopping 2011.
    pub fn set_video(&mut self, id: u32, is_video: bool) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let changed = call.is_video != is_video;
        call.is_video = is_video;
        if changed && matches!(call.state, CallState::Live | CallState::Hold) {
            self.page(id, events::video_changed(id, is_video));
        }
    }

    /// A plugin reported its RTP channel up: 2005, once per call.
    pub fn media_up(&mut self, id: u32) {
        if let Some(call) = self.calls.get_mut(&id) {
            if !call.media_up && call.state != CallState::Ended {
                call.media_up = true;
                self.page(id, events::rtp_created(id));
            }
        }
    }

    /// The call is over on the SIP side (`reason`: the status that ended it,
    /// 0 for a normal BYE).
    pub fn ended(&mut self, id: u32, reason: u16) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        call.state = CallState::Ended;
        call.reason = reason;
        let info = self.info_of(id, &call);
        self.actions
            .push_back(CallAction::Page(events::call_ended(id, info)));
        self.actions.push_back(CallAction::Media(CallEvent::Ended {
            call_id: id,
            reason_code: reason,
        }));
    }

    /// `tsdk_accept_call`. A live call is put on hold first.
    pub fn accept(&mut self, id: u32) -> Result<(), Refusal> {
        match self.state(id) {
            None => return Err(no_call(id)),
            Some(CallState::Incoming) => {}
            Some(_) => {
                return Err(Refusal::new(
                    result::WRONG_STATE,
                    format!("call {id} is not ringing: only an incoming call can be accepted"),
                ))
            }
        }
        if let Some(live) = self.live_call() {
            if let Some(call) = self.calls.get_mut(&live) {
                call.hold_pending = true;
            }
            self.actions.push_back(CallAction::Hold(live));
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.answer_at = None;
            call.give_up_at = None;
        }
        self.actions.push_back(CallAction::Answer(id));
        Ok(())
    }

    /// `tsdk_end_call`: reject, cancel or hang up, whichever fits. The call
    /// ends for the page at once; the SIP side finishes in the background.
    pub fn end(&mut self, id: u32) -> Result<(), Refusal> {
        let Some(call) = self.calls.get(&id) else {
            self.actions
                .push_back(CallAction::Page(events::endcall_failed(i64::from(id))));
            return Err(no_call(id));
        };
        let (action, reason) = match call.state {
            CallState::Incoming => (CallAction::Reject(id, 486), 486),
            CallState::Outgoing => (CallAction::Cancel(id), 487),
            CallState::Live | CallState::Hold | CallState::Ended => (CallAction::Bye(id), 0),
        };
        self.actions.push_back(action);
        self.ended(id, reason);
        Ok(())
    }

    /// The media plugin heard nothing from the peer for too long (it
    /// vanished without a BYE): hang up, and tell the page why (408).
    pub fn media_timeout(&mut self, id: u32) {
        let live = self.calls.get(&id).map(|c| c.state);
        if matches!(live, Some(CallState::Live | CallState::Hold)) {
            self.actions.push_back(CallAction::Bye(id));
            self.ended(id, 408);
        }
    }

    /// A media stream of the call cannot run (the answer has no codec we
    /// offered, keys that make no SRTP context, a plugin's engine failed):
    /// the call ends as the page would end it, with status 488 ("not
    /// acceptable here", what SIP says of unusable media) and `reason` as
    /// the text the page shows.
    pub fn media_failed(&mut self, id: u32, reason: &str) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let action = match call.state {
            CallState::Incoming => CallAction::Reject(id, 488),
            CallState::Outgoing => CallAction::Cancel(id),
            CallState::Live | CallState::Hold | CallState::Ended => CallAction::Bye(id),
        };
        call.reason_text = Some(format!("media failed: {reason}"));
        self.actions.push_back(action);
        self.ended(id, 488);
    }

    /// The session has a timer (RFC 4028): negotiated by the 2xx of our
    /// INVITE, by our 200 to the peer's, or by a refresh. `we_refresh`: we
    /// send the refreshes, every half interval; otherwise the peer does, and
    /// without one the call ends with a BYE, reason 408.
    pub fn session_timer(&mut self, now: Instant, id: u32, interval: Duration, we_refresh: bool) {
        if let Some(call) = self.calls.get_mut(&id) {
            let floor = Duration::from_secs(u64::from(MIN_SESSION_EXPIRES));
            call.timer = Some(SessionTimer::new(now, interval.max(floor), we_refresh));
        }
    }

    /// A refresh succeeded (the peer's re-INVITE or UPDATE, or the 2xx of
    /// ours), with the same interval and refresher as before.
    pub fn session_refreshed(&mut self, now: Instant, id: u32) {
        if let Some(call) = self.calls.get_mut(&id) {
            if let Some(t) = call.timer {
                call.timer = Some(SessionTimer::new(now, t.interval, t.we_refresh));
            }
        }
    }

    /// Our refresh got no 2xx (`status`, 408 when nothing came). §10: a
    /// 408 or 481 means the session is gone; after another refusal the
    /// session lives until it expires (and ends then).
    pub fn refresh_failed(&mut self, id: u32, status: u16) {
        if !matches!(self.state(id), Some(CallState::Live | CallState::Hold)) {
            return;
        }
        if matches!(status, 408 | 481) {
            self.actions.push_back(CallAction::Bye(id));
            self.ended(id, status);
        }
    }

    /// The session timer of a call: (interval, we refresh).
    pub fn session(&self, id: u32) -> Option<(Duration, bool)> {
        let t = self.calls.get(&id)?.timer?;
        Some((t.interval, t.we_refresh))
    }

    /// The Session-Expires our INVITE for this call asks for.
    pub fn invite_session_expires(&self, id: u32) -> u32 {
        self.calls
            .get(&id)
            .map(|c| c.invite_se)
            .unwrap_or(SESSION_EXPIRES)
    }

    /// Our INVITE got a final non-2xx `status`. A 422 with a usable Min-SE
    /// or a challenge from a further hop is retried once (RFC 4028 §7.4,
    /// RFC 3261 §22.3); anything else ends the call with `status`.
    pub fn invite_failed(&mut self, id: u32, status: u16, why: InviteFailure) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.state != CallState::Outgoing {
            return;
        }
        let retry = match why {
            _ if call.retried => None,
            InviteFailure::TooSmall(Some(min_se))
                if min_se > call.invite_se && min_se <= 86_400 =>
            {
                call.invite_se = min_se;
                Some(CallAction::RetryInvite(id, Some(min_se)))
            }
            InviteFailure::NewChallenge => Some(CallAction::RetryInvite(id, None)),
            _ => None,
        };
        match retry {
            Some(action) => {
                call.retried = true;
                self.actions.push_back(action);
            }
            None => self.ended(id, status),
        }
    }

    /// `tsdk_hold_call`.
    pub fn hold(&mut self, id: u32) -> Result<(), Refusal> {
        let call = self.live_or_held(id)?;
        if call.state != CallState::Live || call.hold_pending {
            return Err(Refusal::new(
                result::WRONG_STATE,
                format!("call {id} is not live"),
            ));
        }
        call.not_renegotiating(id)?;
        call.hold_pending = true;
        self.actions.push_back(CallAction::Hold(id));
        Ok(())
    }

    /// `tsdk_unhold_call`.
    pub fn unhold(&mut self, id: u32) -> Result<(), Refusal> {
        let call = self.live_or_held(id)?;
        if call.state != CallState::Hold || call.hold_pending {
            return Err(Refusal::new(
                result::WRONG_STATE,
                format!("call {id} is not on hold"),
            ));
        }
        call.not_renegotiating(id)?;
        call.hold_pending = true;
        self.actions.push_back(CallAction::Unhold(id));
        Ok(())
    }

    /// The peer's final `status` to our hold (`hold` true) or unhold
    /// re-INVITE, as `requests::final_status` has it (408 when nothing
    /// came). Returns the answer to the page's holdCall / unholdCall (sent
    /// before the 2018–2021 this queues): 7 with the status when refused,
    /// 6 when not answered.
    pub fn hold_done(&mut self, id: u32, hold: bool, status: u16) -> Result<(), Refusal> {
        self.reinvite_over(id);
        let Some(call) = self.calls.get_mut(&id) else {
            return Err(Refusal::new(
                result::FAILED,
                format!("call {id} ended before the peer answered"),
            ));
        };
        let ok = (200..300).contains(&status);
        let answer = match status {
            _ if ok => Ok(()),
            // 408 is what a proxy (or the stack) answers for silence.
            s if s != requests::NO_ANSWER => Err(Refusal::new(
                result::REFUSED,
                format!("the peer refused the re-INVITE: {s}"),
            )),
            _ => Err(Refusal::new(
                result::TIMED_OUT,
                "the peer did not answer the re-INVITE in time",
            )),
        };
        call.hold_pending = false;
        if ok {
            call.state = if hold {
                CallState::Hold
            } else {
                CallState::Live
            };
        }
        let event = if hold {
            events::hold_result(id, ok)
        } else {
            events::unhold_result(id, ok)
        };
        self.page(id, event);
        if ok {
            let ev = if hold {
                CallEvent::Held { call_id: id }
            } else {
                CallEvent::Resumed { call_id: id }
            };
            self.actions.push_back(CallAction::Media(ev));
        }
        answer
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls
            .values()
            .flat_map(|c| {
                let refresh = c.timer.and_then(|t| t.refresh_at);
                let expiry = c.timer.map(|t| t.expires_at);
                [
                    c.answer_at,
                    c.hangup_at,
                    c.give_up_at,
                    refresh,
                    expiry,
                    c.video_change.deadline(),
                    c.glare.deadline(),
                ]
            })
            .flatten()
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let ids: Vec<u32> = self.calls.keys().copied().collect();
        for id in ids {
            let Some(c) = self.calls.get_mut(&id) else {
                continue;
            };
            let due = |t: Option<Instant>| t.is_some_and(|t| now >= t);
            if due(c.timer.map(|t| t.expires_at)) {
                // RFC 4028 §10: no refresh in time, the session is over.
                self.actions.push_back(CallAction::Bye(id));
                self.ended(id, 408);
            } else if due(c.give_up_at) {
                self.actions.push_back(CallAction::Reject(id, 480));
                self.ended(id, 480);
            } else if due(c.answer_at) {
                let _ = self.accept(id);
            } else if due(c.hangup_at) {
                self.actions.push_back(CallAction::Bye(id));
                self.ended(id, 0);
            } else if due(c.video_change.deadline()) {
                self.video_request_expired(id);
            } else if due(c.glare.deadline()) {
                self.glare_over(id);
            } else if let Some(t) = c.timer.as_mut().filter(|t| due(t.refresh_at)) {
                if c.hold_pending || c.video_change != VideoChange::None {
                    // One re-INVITE at a time (RFC 3261 §14.1): after the
                    // hold or the video change.
                    t.refresh_at = Some(now + Duration::from_secs(1));
                } else {
                    t.refresh_at = None;
                    self.actions.push_back(CallAction::Refresh(id));
                }
            }
        }
    }

    #[must_use]
    pub fn poll_action(&mut self) -> Option<CallAction> {
        self.actions.pop_front()
    }

    /// The latest call event of every call, for a page that (re)connects.
    pub fn snapshot(&self) -> Vec<Arc<PageEvent>> {
        self.calls
            .values()
            .filter_map(|c| c.last_event.clone())
            .collect()
    }

    /// The call that is live now (one at a time).
    pub fn live_call(&self) -> Option<u32> {
        self.calls
            .iter()
            .find(|(_, c)| c.state == CallState::Live)
            .map(|(id, _)| *id)
    }

    /// `callInfo` of a call in the table (`{}` when unknown).
    pub fn info(&self, id: u32) -> Value {
        self.calls
            .get(&id)
            .map(|c| self.info_of(id, c))
            .unwrap_or_else(|| json!({}))
    }

    fn info_of(&self, id: u32, c: &Call) -> Value {
        json!({
            "callId": id,
            "callState": c.state as u8,
            "confId": "",
            "confPasscode": "",
            // Flags are 0/1 numbers and the account an index, as the
            // reference's pages expect them.
            "isAutoAnswer": u8::from(c.auto_answer.is_some()),
            // Beyond the reference: why the call is answered by itself.
            "autoAnswerReason": c.auto_answer.map(AutoAnswer::name).unwrap_or(""),
            "isCaller": u8::from(c.is_caller),
            "isFocus": 0,
            "isVideoCall": u8::from(c.is_video),
            "peerDisplayName": c.peer.display_name,
            "peerNumber": c.peer.number,
            "reasonCode": c.reason,
            "reasonDescription": c.reason_text.as_deref().unwrap_or(events::reason_text(c.reason)),
            "sipAccountID": 0,
        })
    }

    fn live_or_held(&mut self, id: u32) -> Result<&mut Call, Refusal> {
        self.calls.get_mut(&id).ok_or_else(|| no_call(id))
    }

    fn page(&mut self, id: u32, event: PageEvent) {
        // A reloading page learns the call's state from its latest life-cycle
        // event; RTP-created and QoS reports say nothing of the state.
        // Nor do the video indications (a reload gets 2006, not 2012).
        let carries_state = !matches!(
            event.event(),
            Some(
                Event::CallRtpCreated
                    | Event::LocalQos
                    | Event::OpenVideoReq
                    | Event::OpenVideoInd
                    | Event::CloseVideoInd
            )
        );
        if let Some(call) = self.calls.get_mut(&id).filter(|_| carries_state) {
            call.last_event = Some(Arc::new(event.clone()));
        }
        self.actions.push_back(CallAction::Page(event));
    }
}

/// Result 5 (the page's call id names no call).
fn no_call(id: u32) -> Refusal {
    Refusal::new(result::NOT_FOUND, format!("no call {id}"))
}

#[cfg(test)]
#[path = "calls_tests.rs"]
mod tests;
