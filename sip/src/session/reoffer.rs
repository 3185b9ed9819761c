//! Changing the streams of a call that is up (RFC 3264 §8): our re-offers
//! that add or remove a stream, their answer or failure, and whether a
//! peer's re-offer asks the page for a stream. The m-lines never move: a
//! removed stream stays as `m=<kind> 0 …`, and a stream added again takes
//! back its old place.

use seatphone_protocol::{OfferRequest, StopRequest};

use super::Session;
use crate::sdp;
use crate::Media;

impl Session {
    /// Our re-offer with a stream of `kind` added: the plugin's section
    /// takes the place of an old `m=<kind> 0` line, else goes last.
    pub fn offer_adding(
        &mut self,
        media: &dyn Media,
        call_id: u32,
        kind: &str,
    ) -> Result<String, String> {
        if !media.kinds().iter().any(|k| k == kind) {
            return Err(format!("no loaded plugin serves {kind}"));
        }
        let offer = media.offer(OfferRequest {
            call_id,
            kind: kind.to_owned(),
            local_ip: self.local_ip.clone(),
        })?;
        let mut sections = offer.sections.into_iter();
        let mut local = self.local.clone();
        for slot in local
            .iter_mut()
            .filter(|(k, text)| k.is_none() && sdp::kind_of(text) == kind)
        {
            match sections.next() {
                Some(s) => *slot = (Some(kind.to_owned()), s),
                None => break,
            }
        }
        local.extend(sections.map(|s| (Some(kind.to_owned()), s)));
        self.declined.retain(|k| k != kind);
        Ok(self.reoffer(local))
    }

    /// Our re-offer with every stream of `kind` at port 0.
    pub fn offer_removing(&mut self, kind: &str) -> String {
        let local = self
            .local
            .iter()
            .map(|(k, text)| match k.as_deref() {
                Some(k) if k == kind => (None, sdp::disabled(text)),
                _ => (k.clone(), text.clone()),
            })
            .collect();
        self.reoffer(local)
    }

    /// A new version of our SDP with these sections; the old ones are
    /// kept until the answer.
    pub(super) fn reoffer(&mut self, local: Vec<(Option<String>, String)>) -> String {
        let before = std::mem::replace(&mut self.local, local);
        self.before_reoffer.get_or_insert(before);
        self.version += 1;
        self.sdp()
    }

    /// The 2xx answer to our re-offer: a section it refuses (port 0) stays
    /// in its place as `m=<kind> 0`, every stream the call no longer
    /// carries stops, and the others start (or update).
    pub fn settle(&mut self, media: &dyn Media, call_id: u32, answer: &str) {
        self.before_reoffer = None;
        if !self.take_answer(answer) {
            return;
        }
        let mut stopping: Vec<String> = Vec::new();
        for (i, (kind, text)) in self.local.iter_mut().enumerate() {
            let refused = self.remote.get(i).is_none_or(|r| r.port == 0);
            if let (Some(k), true) = (kind.as_ref(), refused) {
                stopping.push(k.clone());
                *kind = None;
                *text = sdp::disabled(text);
            }
        }
        let carried = self.kinds_carried();
        stopping.extend(
            self.started
                .iter()
                .filter(|k| !carried.contains(*k))
                .cloned(),
        );
        stopping.sort();
        stopping.dedup();
        for kind in stopping.into_iter().filter(|k| !carried.contains(k)) {
            self.started.retain(|k| *k != kind);
            media.stop(StopRequest { call_id, kind });
        }
        self.start(media, call_id);
    }

    /// Our re-offer got no 2xx: the session is as before it, and the
    /// plugin frees what it made for a stream the re-offer added.
    pub fn revert(&mut self, media: &dyn Media, call_id: u32) {
        let Some(before) = self.before_reoffer.take() else {
            return;
        };
        let had = |kind: &String| before.iter().any(|(k, _)| k.as_ref() == Some(kind));
        let mut added: Vec<String> = self
            .local
            .iter()
            .filter_map(|(k, _)| k.clone())
            .filter(|k| !had(k) && !self.started.contains(k))
            .collect();
        added.dedup();
        self.local = before;
        for kind in added {
            media.stop(StopRequest { call_id, kind });
        }
    }

    /// Whether the peer's re-offer asks for a stream of `kind` the call
    /// does not carry: a section of it with a port, not offered before in
    /// this form (a refresh that repeats what the page turned down does
    /// not ask again).
    pub fn offer_adds(&self, offer: &str, kind: &str) -> bool {
        let Some(sections) = sdp::split(offer) else {
            return false;
        };
        !self.carries(kind)
            && sections.iter().enumerate().any(|(i, s)| {
                s.kind == kind && s.port != 0 && self.remote.get(i).is_none_or(|r| r.text != s.text)
            })
    }

    /// The page's word on the peer's offer of `kind` (replyAddVideo),
    /// before `answer_offer` answers it: refused (port 0) from now on, or
    /// taken.
    pub fn allow(&mut self, kind: &str, allowed: bool) {
        self.declined.retain(|k| k != kind);
        if !allowed {
            self.declined.push(kind.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Both, VIDEO_OFFER};
    use super::*;

    const AUDIO_ANSWER: &str =
        "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
        m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

    fn m_lines(sdp: &str) -> Vec<&str> {
        sdp.lines().filter(|l| l.starts_with("m=")).collect()
    }

    fn version(sdp: &str) -> u64 {
        let o = sdp.lines().find(|l| l.starts_with("o=")).unwrap();
        o.split_whitespace().nth(2).unwrap().parse().unwrap()
    }

    /// A call we placed offering `kinds`, which the peer answered.
    fn answered_call(media: &Both, kinds: &[&str], answer: &str) -> Session {
        let mut s = Session::new("127.0.0.1", 7);
        s.make_offer(media, 1, kinds).unwrap();
        assert!(s.take_answer(answer));
        s.start(media, 1);
        s
    }

    /// An audio call we placed and the peer answered.
    fn audio_call(media: &Both) -> Session {
        answered_call(media, &["audio"], AUDIO_ANSWER)
    }

    #[test]
    fn video_added_removed_and_added_again_keeps_its_m_line() {
        let media = Both::default();
        let mut s = audio_call(&media);
        let v1 = version(&s.sdp());

        let offer = s.offer_adding(&media, 1, "video").unwrap();
        assert_eq!(
            m_lines(&offer),
            ["m=audio 4000 RTP/AVP 96", "m=video 4002 RTP/AVP 96"]
        );
        assert_eq!(version(&offer), v1 + 1);
        s.settle(&media, 1, VIDEO_OFFER);
        assert!(s.carries("video") && s.carries("audio"));
        assert!(media
            .asked()
            .ends_with(&["start audio".into(), "start video".into()]));

        let offer = s.offer_removing("video");
        assert_eq!(
            m_lines(&offer),
            ["m=audio 4000 RTP/AVP 96", "m=video 0 RTP/AVP 96"]
        );
        assert_eq!(version(&offer), v1 + 2);
        let n = media.asked().len();
        s.settle(&media, 1, &VIDEO_OFFER.replace("m=video 5002", "m=video 0"));
        assert!(!s.carries("video") && s.carries("audio"));
        assert_eq!(media.asked()[n..], ["stop video", "start audio"]);

        // Added again: in the old place, not a third m-line.
        let offer = s.offer_adding(&media, 1, "video").unwrap();
        assert_eq!(
            m_lines(&offer),
            ["m=audio 4000 RTP/AVP 96", "m=video 4002 RTP/AVP 96"]
        );
        assert_eq!(version(&offer), v1 + 3);
    }

    #[test]
    fn an_answer_refusing_the_added_stream_frees_it_and_keeps_port_0() {
        let media = Both::default();
        let mut s = audio_call(&media);
        s.offer_adding(&media, 1, "video").unwrap();
        let refused = VIDEO_OFFER.replace("m=video 5002", "m=video 0");
        s.settle(&media, 1, &refused);
        assert!(!s.carries("video"));
        assert!(media.asked().contains(&"stop video".to_owned()));
        assert!(!media.asked().contains(&"start video".to_owned()));
        // The next offer of ours (a refresh) says port 0 for it.
        assert_eq!(m_lines(&s.sdp())[1], "m=video 0 RTP/AVP 96");
    }

    #[test]
    fn a_failed_reoffer_leaves_the_session_as_it_was() {
        let media = Both::default();
        let mut s = audio_call(&media);
        let before = m_lines(&s.sdp()).join("|");
        s.offer_adding(&media, 1, "video").unwrap();
        s.revert(&media, 1);
        assert_eq!(m_lines(&s.sdp()).join("|"), before);
        assert_eq!(
            media.asked().last().unwrap(),
            "stop video",
            "its sockets freed"
        );
        assert!(!s.carries("video"));

        // A failed removal keeps video running.
        s.offer_adding(&media, 1, "video").unwrap();
        s.settle(&media, 1, VIDEO_OFFER);
        s.offer_removing("video");
        let n = media.asked().len();
        s.revert(&media, 1);
        assert!(s.carries("video"));
        assert_eq!(media.asked().len(), n, "nothing stopped");
        // Reverting twice is harmless.
        s.revert(&media, 1);
        assert!(s.carries("video"));
    }

    #[test]
    fn a_refused_hold_leaves_the_streams_as_they_were_and_a_taken_one_stays() {
        let media = Both::default();
        let mut s = audio_call(&media);
        assert!(s
            .redirected(sdp::Direction::SendOnly)
            .contains("a=sendonly"));
        s.revert(&media, 1);
        assert!(!s.sdp().contains("a=sendonly"), "{}", s.sdp());
        assert!(s.carries("audio"));
        // Taken: held until the unhold, which a later failed re-offer
        // does not undo.
        s.redirected(sdp::Direction::SendOnly);
        let n = media.asked().len();
        s.settle(&media, 1, AUDIO_ANSWER);
        assert_eq!(media.asked()[n..], ["start audio"]);
        s.revert(&media, 1);
        assert!(s.sdp().contains("a=sendonly"), "{}", s.sdp());
        s.offer_adding(&media, 1, "video").unwrap();
        s.revert(&media, 1);
        assert!(s.sdp().contains("a=sendonly"), "{}", s.sdp());
    }

    #[test]
    fn hold_with_two_streams_holds_both_and_keeps_a_removed_one_at_port_0() {
        let media = Both::default();
        let mut s = audio_call(&media);
        s.offer_adding(&media, 1, "video").unwrap();
        s.settle(&media, 1, VIDEO_OFFER);
        let held = s.redirected(sdp::Direction::SendOnly);
        assert_eq!(held.matches("a=sendonly").count(), 2, "{held}");
        s.offer_removing("video");
        let held = s.redirected(sdp::Direction::SendOnly);
        assert_eq!(held.matches("a=sendonly").count(), 1, "{held}");
        assert!(held.contains("m=video 0 RTP/AVP 96\r\n"), "{held}");
    }

    const VIDEO_AND_SLIDES_ANSWER: &str =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
        m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
        m=video 5002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n\
        m=video 5004 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=recvonly\r\n";

    /// A video call: our offer of audio and video, answered.
    fn video_call(media: &Both) -> Session {
        answered_call(media, &["audio", "video"], VIDEO_OFFER)
    }

    #[test]
    fn slides_go_third_keep_their_place_and_stay_sendonly_through_a_hold() {
        let media = Both::default();
        let mut s = video_call(&media);
        let offer = s.offer_adding(&media, 1, "slides").unwrap();
        assert_eq!(
            m_lines(&offer),
            [
                "m=audio 4000 RTP/AVP 96",
                "m=video 4002 RTP/AVP 96",
                "m=video 4004 RTP/AVP 96"
            ]
        );
        assert!(offer.contains("a=content:slides\r\n"), "{offer}");
        let n = media.asked().len();
        s.settle(&media, 1, VIDEO_AND_SLIDES_ANSWER);
        assert!(s.carries("slides") && s.carries("video"));
        assert_eq!(
            media.asked()[n..],
            ["start audio", "start video", "start slides"]
        );

        // Hold and unhold leave the slides sendonly (we only send them).
        let held = s.redirected(sdp::Direction::SendOnly);
        assert_eq!(held.matches("a=sendonly").count(), 3, "{held}");
        let resumed = s.redirected(sdp::Direction::SendRecv);
        assert_eq!(resumed.matches("a=sendrecv").count(), 2, "{resumed}");
        assert_eq!(resumed.matches("a=sendonly").count(), 1, "{resumed}");

        // Removed: port 0 in its place, still marked, and only it stops.
        let offer = s.offer_removing("slides");
        assert!(
            offer.ends_with("m=video 0 RTP/AVP 96\r\na=content:slides\r\n"),
            "{offer}"
        );
        let n = media.asked().len();
        s.settle(
            &media,
            1,
            &VIDEO_AND_SLIDES_ANSWER.replace("m=video 5004", "m=video 0"),
        );
        assert!(!s.carries("slides") && s.carries("video"));
        assert_eq!(media.asked()[n..][0], "stop slides");
        assert!(!media.asked()[n..].contains(&"stop video".to_owned()));

        // Added again: the third place again, not a fourth m-line; video
        // added after a delVideo does not take the slides' place either.
        let offer = s.offer_adding(&media, 1, "slides").unwrap();
        assert_eq!(m_lines(&offer).len(), 3);
        assert!(offer.contains("m=video 4004 "), "{offer}");
        s.revert(&media, 1);
        s.offer_removing("video");
        s.settle(&media, 1, &VIDEO_OFFER.replace("m=video 5002", "m=video 0"));
        let offer = s.offer_adding(&media, 1, "video").unwrap();
        assert_eq!(
            m_lines(&offer),
            [
                "m=audio 4000 RTP/AVP 96",
                "m=video 4002 RTP/AVP 96",
                "m=video 0 RTP/AVP 96"
            ]
        );
    }

    #[test]
    fn the_peers_re_offer_without_the_content_mark_keeps_the_slides_place() {
        let media = Both::default();
        let mut s = video_call(&media);
        s.offer_adding(&media, 1, "slides").unwrap();
        s.settle(&media, 1, VIDEO_AND_SLIDES_ANSWER);
        let n = media.asked().len();
        // The peer's refresh: three sections, none marked.
        let reoffer = VIDEO_AND_SLIDES_ANSWER.replace("a=recvonly", "a=sendrecv");
        s.answer_offer(&media, 1, &reoffer).unwrap();
        assert_eq!(
            media.asked()[n..],
            ["answer audio", "answer video", "answer slides"]
        );
        assert!(s.carries("slides"));
    }

    #[test]
    fn a_peer_asks_for_video_once_per_new_offer() {
        let media = Both::default();
        let mut s = audio_call(&media);
        let peer_reoffer = VIDEO_OFFER;
        assert!(s.offer_adds(peer_reoffer, "video"));
        assert!(!s.offer_adds(peer_reoffer, "audio"), "audio is carried");
        assert!(!s.offer_adds(&peer_reoffer.replace("m=video 5002", "m=video 0"), "video"));
        assert!(!s.offer_adds("not sdp", "video"));

        // The page refuses: answered with port 0, and the same offer again
        // (the peer's refresh) is refused without asking.
        s.allow("video", false);
        s.answer_offer(&media, 1, peer_reoffer).unwrap();
        assert!(!s.carries("video"));
        assert!(m_lines(&s.sdp()).contains(&"m=video 0 RTP/AVP 96"));
        assert!(!s.offer_adds(peer_reoffer, "video"));
        // A new offer of video asks again; the page accepts.
        let new_port = peer_reoffer.replace("m=video 5002", "m=video 5004");
        assert!(s.offer_adds(&new_port, "video"));
        s.allow("video", true);
        s.answer_offer(&media, 1, &new_port).unwrap();
        assert!(s.carries("video"));
        assert!(!s.offer_adds(&new_port, "video"), "carried now");
    }
}
