//! Two re-INVITEs crossing (RFC 3261 §14): the peer's offer while ours is
//! under way gets 491 Request Pending; ours met with 491 goes out again,
//! once, after a random while — 2.1–4 s when we own the Call-ID (we placed
//! the call), 0–2 s otherwise, in steps of 10 ms — so that the two sides do
//! not collide again. Meanwhile the hold, video change or plugin stream
//! stays under way (nothing else goes out); a second 491 is the failure the
//! page would have had, and so is an offer of the peer's that comes first.

use std::time::{Duration, Instant};

use super::video::VideoChange;
use super::{Call, CallAction, CallTable};

/// Where our re-INVITE under way stands with 491.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Glare {
    /// Not met with 491.
    #[default]
    None,
    /// Met with 491: goes out again at `at`.
    Waiting { at: Instant },
    /// Went out again: another 491 is final.
    Retried,
}

impl Glare {
    pub(super) fn deadline(self) -> Option<Instant> {
        match self {
            Self::Waiting { at } => Some(at),
            _ => None,
        }
    }
}

/// What becomes of the peer's offer (a re-INVITE or UPDATE with SDP) in a
/// call that is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerOffer {
    /// Answer it as usual.
    Answer,
    /// Our re-INVITE is in flight: 491, the peer tries again later (§14.2).
    Pending,
    /// Ours waits to go out again after a 491: the peer's goes first, and
    /// ours is given up (reported failed with that 491) before the answer.
    AnswerGivingUpOurs,
}

/// How long our re-INVITE met with 491 waits (RFC 3261 §14.1): `owner`,
/// we generated the Call-ID; `random`, any value of a random source.
pub fn backoff(owner: bool, random: u32) -> Duration {
    let tens_of_ms = if owner {
        210 + random % 191
    } else {
        random % 201
    };
    Duration::from_millis(u64::from(tens_of_ms) * 10)
}

impl Call {
    /// A re-INVITE of ours (hold, unhold, video, a plugin's stream) is
    /// under way, waiting for its answer or to go out again.
    fn ours_under_way(&self) -> bool {
        self.hold_pending
            || matches!(
                self.video_change,
                VideoChange::Ours { .. } | VideoChange::Plugin
            )
    }
}

impl CallTable {
    /// Our re-INVITE under way got 491. `true`: [`CallAction::Reoffer`]
    /// comes after [`backoff`], the driver sends the same offer again and
    /// reports its answer as it would have reported this one. `false`:
    /// report the 491 as any failure (the retry met one too, or nothing of
    /// ours is under way).
    pub fn request_pending(&mut self, now: Instant, id: u32, random: u32) -> bool {
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        if !call.ours_under_way() || call.glare != Glare::None {
            return false;
        }
        call.glare = Glare::Waiting {
            at: now + backoff(call.is_caller, random),
        };
        true
    }

    /// The peer offers (re-INVITE or UPDATE with SDP): see [`PeerOffer`].
    pub fn peer_offer(&mut self, id: u32) -> PeerOffer {
        let Some(call) = self.calls.get_mut(&id) else {
            return PeerOffer::Answer;
        };
        match call.glare {
            Glare::Waiting { .. } => {
                call.glare = Glare::None;
                PeerOffer::AnswerGivingUpOurs
            }
            _ if call.ours_under_way() => PeerOffer::Pending,
            _ => PeerOffer::Answer,
        }
    }

    /// Our re-INVITE got its final answer (reported with `hold_done`,
    /// `video_reinvite_done` or `plugin_stream_done`): the next may meet
    /// 491 afresh.
    pub(super) fn reinvite_over(&mut self, id: u32) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.glare = Glare::None;
        }
    }

    /// The wait after a 491 is over: the offer goes out again.
    pub(super) fn glare_over(&mut self, id: u32) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.glare = Glare::Retried;
            self.actions.push_back(CallAction::Reoffer(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::tests::{drain, notifies};
    use crate::calls::{Peer, VideoOutcome};
    use seatphone_protocol::Event;

    /// A live call, placed by us (`caller`) or by the peer.
    fn live(now: Instant, caller: bool) -> (CallTable, u32) {
        let mut t = CallTable::new(2);
        let id = t.new_id();
        if caller {
            t.outgoing(id, Peer::default(), false);
        } else {
            assert!(t.incoming(now, id, Peer::default(), false, None));
            t.accept(id).unwrap();
        }
        t.connected(now, id);
        drain(&mut t);
        (t, id)
    }

    #[test]
    fn the_wait_is_2_1_to_4_s_for_the_call_id_owner_and_0_to_2_s_otherwise() {
        let ms = |owner, r| backoff(owner, r).as_millis();
        assert_eq!(
            (ms(true, 0), ms(true, 190), ms(true, 191)),
            (2100, 4000, 2100)
        );
        assert_eq!(ms(true, u32::MAX), 2100 + (u32::MAX % 191) as u128 * 10);
        assert_eq!((ms(false, 0), ms(false, 200), ms(false, 201)), (0, 2000, 0));
        for r in [1, 7, 12_345, u32::MAX - 3] {
            assert!((2100..=4000).contains(&ms(true, r)));
            assert!(ms(false, r) <= 2000);
            assert_eq!(ms(true, r) % 10, 0, "steps of 10 ms");
        }
    }

    #[test]
    fn our_hold_met_with_491_goes_out_again_once_after_the_owners_wait() {
        let t0 = Instant::now();
        let (mut t, id) = live(t0, true);
        t.hold(id).unwrap();
        assert_eq!(drain(&mut t), [CallAction::Hold(id)]);
        assert!(t.request_pending(t0, id, 0));
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_millis(2100)));
        // Nothing else goes out meanwhile.
        assert!(t.hold(id).is_err() && t.add_video(id).is_err());
        t.handle_timeout(t0 + Duration::from_millis(2099));
        assert!(drain(&mut t).is_empty());
        t.handle_timeout(t0 + Duration::from_millis(2100));
        assert_eq!(drain(&mut t), [CallAction::Reoffer(id)]);
        // The retry meets 491 too: given up, reported as a failed hold.
        assert!(!t.request_pending(t0 + Duration::from_secs(3), id, 0));
        let failed = t.hold_done(id, true, 491).unwrap_err();
        assert!(failed.message.contains("491"), "{}", failed.message);
        assert_eq!(notifies(&drain(&mut t)), [Event::HoldFailed]);
        // The next hold may be retried again.
        t.hold(id).unwrap();
        drain(&mut t);
        assert!(t.request_pending(t0 + Duration::from_secs(4), id, 0));
    }

    #[test]
    fn a_callee_waits_up_to_2_s_and_the_retry_is_answered() {
        let t0 = Instant::now();
        let (mut t, id) = live(t0, false);
        t.add_video(id).unwrap();
        drain(&mut t);
        assert!(t.request_pending(t0, id, 150));
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_millis(1500)));
        t.handle_timeout(t0 + Duration::from_millis(1500));
        assert_eq!(drain(&mut t), [CallAction::Reoffer(id)]);
        let answered = t.video_reinvite_done(id, VideoOutcome::Answered { video: true });
        assert_eq!(answered, Ok(()));
        assert_eq!(notifies(&drain(&mut t)), [Event::OpenVideoInd]);
    }

    #[test]
    fn a_491_with_nothing_of_ours_under_way_is_not_retried() {
        let t0 = Instant::now();
        let (mut t, id) = live(t0, true);
        assert!(!t.request_pending(t0, id, 0), "a refresh is not retried");
        assert!(!t.request_pending(t0, 999, 0), "no such call");
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn the_peers_offer_gets_491_while_ours_is_in_flight_and_wins_while_ours_waits() {
        let t0 = Instant::now();
        let (mut t, id) = live(t0, true);
        assert_eq!(t.peer_offer(id), PeerOffer::Answer);
        assert!(t.plugin_stream(id, true).is_ok());
        assert_eq!(t.peer_offer(id), PeerOffer::Pending);
        assert!(t.request_pending(t0, id, 0));
        assert_eq!(t.peer_offer(id), PeerOffer::AnswerGivingUpOurs);
        // Ours is not sent again.
        t.handle_timeout(t0 + Duration::from_secs(5));
        assert!(drain(&mut t).is_empty());
        assert_eq!(t.poll_timeout(), None);
        t.plugin_stream_done(id);
        assert_eq!(t.peer_offer(id), PeerOffer::Answer);
    }

    #[test]
    fn a_call_that_ends_while_waiting_is_not_sent_again() {
        let t0 = Instant::now();
        let (mut t, id) = live(t0, true);
        t.hold(id).unwrap();
        assert!(t.request_pending(t0, id, 0));
        t.end(id).unwrap();
        drain(&mut t);
        t.handle_timeout(t0 + Duration::from_secs(5));
        assert!(drain(&mut t).is_empty());
    }
}
