//! One call's media session: which plugin sections we sent, what the peer
//! sent, and the start/stop calls to the plugins that follow.

use seatphone_protocol::{result, AnswerRequest, OfferRequest, Refusal, StartRequest, StopRequest};

use crate::sdp::{self, Direction, RemoteSection};
use crate::Media;

mod reoffer;

/// The kinds our offer asks the plugins for: audio, and video when the
/// page asked for it (a video call placed, or a call accepted with video
/// whose INVITE had no SDP: our offer goes in the 200, RFC 3261 §13.2.1).
/// A kind no loaded plugin serves is left out by [`Session::make_offer`].
pub fn offered_kinds(video: bool) -> &'static [&'static str] {
    if video {
        &["audio", "video"]
    } else {
        &["audio"]
    }
}

/// No media to offer, or nothing of a peer's offer we can take, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoMedia(pub String);

impl NoMedia {
    /// What the peer hears: 488 Not Acceptable Here, for an INVITE
    /// (RFC 3261 §13.3.1.1) as for a re-INVITE or UPDATE (§14.2, RFC 3311
    /// §5.2); the call it would have made ends with this reason.
    pub const STATUS: u16 = 488;
}

impl std::fmt::Display for NoMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the page's startCall hears: result 4, no plugin to make it with.
impl From<NoMedia> for Refusal {
    fn from(e: NoMedia) -> Self {
        Refusal::new(result::NOT_LOADED, e.0)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Session {
    pub local_ip: String,
    id: u64,
    version: u64,
    /// Our sections in m-line order, with the kind each belongs to; `None`
    /// kind = a refused section (port 0).
    local: Vec<(Option<String>, String)>,
    remote: Vec<RemoteSection>,
    started: Vec<String>,
    /// Kinds the page declined (acceptCall without video): a later offer
    /// of them (the peer's re-INVITE) is refused too, not taken silently.
    declined: Vec<String>,
    /// A stream that could not start, and why (taken by the engine, which
    /// ends the call).
    failure: Option<String>,
    /// Our sections before a re-offer of ours that is not answered yet:
    /// a refused re-offer leaves the session as it was (RFC 3264 §8).
    before_reoffer: Option<Vec<(Option<String>, String)>>,
}

impl Session {
    pub fn new(local_ip: &str, id: u64) -> Self {
        Self {
            local_ip: local_ip.to_owned(),
            id,
            version: 1,
            ..Self::default()
        }
    }

    /// Asks the plugins for an offer of `kinds`.
    pub fn make_offer(
        &mut self,
        media: &dyn Media,
        call_id: u32,
        kinds: &[&str],
    ) -> Result<(), NoMedia> {
        let served = media.kinds();
        let mut local = Vec::new();
        for kind in kinds {
            if !served.iter().any(|k| k == kind) {
                if *kind == "audio" {
                    return Err(NoMedia(
                        "no loaded plugin serves audio: cannot make an audio call".into(),
                    ));
                }
                continue;
            }
            let offer = media
                .offer(OfferRequest {
                    call_id,
                    kind: (*kind).to_owned(),
                    local_ip: self.local_ip.clone(),
                })
                .map_err(NoMedia)?;
            for section in offer.sections {
                local.push((Some((*kind).to_owned()), section));
            }
        }
        if local.is_empty() {
            return Err(NoMedia("no media section to offer".into()));
        }
        self.local = local;
        Ok(())
    }

    /// Answers a peer's offer section by section. `Err` when not one
    /// section could be accepted (the peer hears [`NoMedia::STATUS`]).
    pub fn answer_offer(
        &mut self,
        media: &dyn Media,
        call_id: u32,
        offer: &str,
    ) -> Result<(), NoMedia> {
        let mut remote = sdp::split(offer).ok_or_else(|| NoMedia("the offer is not SDP".into()))?;
        self.known_places(&mut remote);
        let served = media.kinds();
        let mut local = Vec::new();
        for section in &remote {
            let answer = if section.port == 0
                || !served.contains(&section.kind)
                || self.declined.contains(&section.kind)
            {
                None
            } else {
                media
                    .answer(AnswerRequest {
                        call_id,
                        kind: section.kind.clone(),
                        local_ip: self.local_ip.clone(),
                        remote: section.text.clone(),
                    })
                    .map_err(|e| tracing::info!("call {call_id}: {} refused: {e}", section.kind))
                    .ok()
            };
            match answer {
                Some(a) => {
                    // RFC 3264 §6.1: a sendonly offer gets a recvonly answer
                    // and so on, whatever direction the plugin wrote.
                    let section_text = match sdp::direction(&section.text) {
                        Direction::SendRecv => a.section,
                        Direction::SendOnly => sdp::with_direction(&a.section, Direction::RecvOnly),
                        Direction::RecvOnly => sdp::with_direction(&a.section, Direction::SendOnly),
                        Direction::Inactive => sdp::with_direction(&a.section, Direction::Inactive),
                    };
                    local.push((Some(section.kind.clone()), section_text))
                }
                None => local.push((None, sdp::refuse(section))),
            }
        }
        if !local.iter().any(|(k, _)| k.is_some()) {
            return Err(NoMedia("no media of the offer could be accepted".into()));
        }
        if !self.local.is_empty() {
            self.version += 1;
        }
        let before: Vec<String> = self.kinds_carried();
        self.local = local;
        self.remote = remote;
        // The peer's new offer drops a stream (`m=video 0`): it stops now,
        // not at the end of the call.
        for kind in before {
            if !self.carries(&kind) {
                self.started.retain(|k| *k != kind);
                media.stop(StopRequest { call_id, kind });
            }
        }
        Ok(())
    }

    /// A peer's re-offer need not repeat `a=content:slides` (RFC 4796 makes
    /// it informative): a video section in the place of our slides is still
    /// the slides'.
    fn known_places(&self, remote: &mut [RemoteSection]) {
        for (section, (_, ours)) in remote.iter_mut().zip(&self.local) {
            if section.kind == "video" && sdp::kind_of(ours) == sdp::SLIDES {
                section.kind = sdp::SLIDES.to_owned();
            }
        }
    }

    /// A 180/183 to our INVITE: whether it brings early media (RFC 3960),
    /// an SDP answer this session took. Without a body, or with one it
    /// cannot take, the session is as it was and the call only rings.
    pub fn take_early_answer(&mut self, body: &[u8]) -> bool {
        self.take_answer(&String::from_utf8_lossy(body))
    }

    /// Takes the peer's answer to our offer.
    pub fn take_answer(&mut self, answer: &str) -> bool {
        match sdp::split(answer) {
            Some(remote) if !remote.is_empty() => {
                self.remote = remote;
                true
            }
            _ => false,
        }
    }

    /// Whether the call carries `kind`: we offered or accepted a section
    /// of it, and the peer's answer (once there is one) did not refuse it.
    pub fn carries(&self, kind: &str) -> bool {
        self.local.iter().enumerate().any(|(i, (k, _))| {
            k.as_deref() == Some(kind)
                && (self.remote.is_empty() || self.remote.get(i).is_some_and(|r| r.port != 0))
        })
    }

    fn kinds_carried(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .local
            .iter()
            .filter_map(|(k, _)| k.clone())
            .filter(|k| self.carries(k))
            .collect();
        kinds.dedup();
        kinds
    }

    /// Turns our accepted sections of `kind` into refusals (port 0, RFC
    /// 3264 §6) before the answer goes out, and lets the plugin free what
    /// it prepared for them. `false` when no section of `kind` was accepted.
    pub fn refuse_kind(&mut self, media: &dyn Media, call_id: u32, kind: &str) -> bool {
        let mut refused = false;
        for (i, (k, text)) in self.local.iter_mut().enumerate() {
            let Some(remote) = self.remote.get(i) else {
                continue;
            };
            if k.as_deref() == Some(kind) {
                *k = None;
                *text = sdp::refuse(remote);
                refused = true;
            }
        }
        if !self.declined.iter().any(|k| k == kind) {
            self.declined.push(kind.to_owned());
        }
        if refused {
            media.stop(StopRequest {
                call_id,
                kind: kind.to_owned(),
            });
        }
        refused
    }

    pub fn has_remote(&self) -> bool {
        !self.remote.is_empty()
    }

    /// Our SDP as it stands.
    pub fn sdp(&self) -> String {
        let sections: Vec<String> = self.local.iter().map(|(_, s)| s.clone()).collect();
        sdp::session(&self.local_ip, self.id, self.version, &sections)
    }

    /// Our re-offer with every accepted section in `dir` (but the slides,
    /// which we only ever send: sendonly held or not). Like any re-offer
    /// of ours it is taken with `settle`, or undone with `revert`: a hold
    /// the peer refused leaves the streams as they were.
    pub fn redirected(&mut self, dir: Direction) -> String {
        let local = self
            .local
            .iter()
            .map(|(kind, section)| match kind.as_deref() {
                Some(k) if k != sdp::SLIDES => (kind.clone(), sdp::with_direction(section, dir)),
                _ => (kind.clone(), section.clone()),
            })
            .collect();
        self.reoffer(local)
    }

    /// Starts (or updates) every kind both sides agreed on.
    pub fn start(&mut self, media: &dyn Media, call_id: u32) {
        for (i, (kind, local)) in self.local.iter().enumerate() {
            let (Some(kind), Some(remote)) = (kind, self.remote.get(i)) else {
                continue;
            };
            if remote.port == 0 {
                continue;
            }
            let req = StartRequest {
                call_id,
                kind: kind.clone(),
                local: local.clone(),
                remote: remote.text.clone(),
            };
            match media.start(req) {
                Ok(()) => {
                    if !self.started.contains(kind) {
                        self.started.push(kind.clone());
                    }
                }
                Err(e) => {
                    tracing::warn!("call {call_id}: {kind} media did not start: {e}");
                    self.failure.get_or_insert(format!("{kind}: {e}"));
                }
            }
        }
    }

    /// Why a stream of the call could not start, once.
    pub fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }

    /// Every kind a plugin prepared holds its sockets, started or not: a call
    /// refused (486 beyond max_calls) or cancelled before media started must
    /// free them too.
    pub fn stop(&mut self, media: &dyn Media, call_id: u32) {
        let mut kinds: Vec<String> = self.local.iter().filter_map(|(k, _)| k.clone()).collect();
        kinds.append(&mut self.started);
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            media.stop(StopRequest { call_id, kind });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use seatphone_protocol::{
        AnswerResponse, CallEvent, Capability, OfferResponse, Request, Response,
    };

    use super::*;

    /// Audio and video "plugins" that accept everything, and remember
    /// what they were asked.
    #[derive(Default)]
    pub(super) struct Both {
        asked: Mutex<Vec<String>>,
    }

    impl Both {
        fn section(kind: &str) -> String {
            match kind {
                "audio" => "m=audio 4000 RTP/AVP 96\r\nc=IN IP4 127.0.0.1\r\na=sendrecv\r\n",
                "slides" => {
                    "m=video 4004 RTP/AVP 96\r\nc=IN IP4 127.0.0.1\r\n\
                             a=content:slides\r\na=sendonly\r\n"
                }
                _ => "m=video 4002 RTP/AVP 96\r\nc=IN IP4 127.0.0.1\r\na=sendrecv\r\n",
            }
            .to_owned()
        }
        fn note(&self, s: String) {
            self.asked.lock().unwrap().push(s);
        }
        pub(super) fn asked(&self) -> Vec<String> {
            self.asked.lock().unwrap().clone()
        }
    }

    impl Media for Both {
        fn kinds(&self) -> Vec<String> {
            vec!["audio".into(), "video".into(), "slides".into()]
        }
        fn configure(&self, _: &serde_json::Value) -> Vec<String> {
            Vec::new()
        }
        fn offer(&self, req: OfferRequest) -> Result<OfferResponse, String> {
            self.note(format!("offer {}", req.kind));
            Ok(OfferResponse {
                sections: vec![Both::section(&req.kind)],
            })
        }
        fn answer(&self, req: AnswerRequest) -> Result<AnswerResponse, String> {
            self.note(format!("answer {}", req.kind));
            Ok(AnswerResponse {
                section: Both::section(&req.kind),
            })
        }
        fn start(&self, req: StartRequest) -> Result<(), String> {
            self.note(format!("start {}", req.kind));
            Ok(())
        }
        fn stop(&self, req: StopRequest) {
            self.note(format!("stop {}", req.kind));
        }
        fn call_event(&self, _: CallEvent) {}
        fn forward(&self, _: Capability, _: Request, reply: Box<dyn FnOnce(Response) + Send>) {
            reply(Response::ok());
        }
    }

    pub(super) const VIDEO_OFFER: &str =
        "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
        m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
        m=video 5002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";

    #[test]
    fn a_video_offer_answered_audio_only_refuses_video_now_and_later() {
        let media = Both::default();
        let mut s = Session::new("127.0.0.1", 7);
        s.answer_offer(&media, 1, VIDEO_OFFER).unwrap();
        assert!(s.carries("video") && s.carries("audio"));
        assert!(s.refuse_kind(&media, 1, "video"));
        assert!(!s.carries("video") && s.carries("audio"));
        let sdp = s.sdp();
        assert!(sdp.contains("m=audio 4000 "), "{sdp}");
        assert!(sdp.contains("m=video 0 RTP/AVP 96\r\n"), "{sdp}");
        assert_eq!(
            media.asked(),
            ["answer audio", "answer video", "stop video"]
        );
        // The peer's re-INVITE offers video again: refused, not taken.
        s.answer_offer(&media, 1, VIDEO_OFFER).unwrap();
        assert!(!s.carries("video"));
        assert!(s.sdp().contains("m=video 0 "));
        assert_eq!(media.asked().last().unwrap(), "answer audio");
        // Nothing of video is left to stop at the end.
        s.stop(&media, 1);
        assert_eq!(media.asked().last().unwrap(), "stop audio");
        assert!(!s.refuse_kind(&media, 1, "video"), "no video to refuse");
    }

    /// The peer's re-INVITE drops video (`m=video 0`): the video stream
    /// stops then, audio goes on.
    #[test]
    fn a_re_offer_without_video_stops_the_video_stream() {
        let media = Both::default();
        let mut s = Session::new("127.0.0.1", 7);
        s.answer_offer(&media, 1, VIDEO_OFFER).unwrap();
        s.start(&media, 1);
        let dropped = VIDEO_OFFER.replace("m=video 5002", "m=video 0");
        s.answer_offer(&media, 1, &dropped).unwrap();
        assert!(!s.carries("video") && s.carries("audio"));
        let asked = media.asked();
        assert_eq!(asked.last().unwrap(), "stop video", "{asked:?}");
        assert!(!asked.contains(&"stop audio".to_owned()));
        // The same offer again stops nothing more.
        let n = media.asked().len();
        s.answer_offer(&media, 1, &dropped).unwrap();
        assert!(!media.asked()[n..].iter().any(|a| a.starts_with("stop")));
    }

    #[test]
    fn we_offer_video_only_when_the_page_asked_for_it() {
        assert_eq!(offered_kinds(false), ["audio"]);
        assert_eq!(offered_kinds(true), ["audio", "video"]);
        let media = Both::default();
        let mut s = Session::new("127.0.0.1", 7);
        s.make_offer(&media, 1, offered_kinds(false)).unwrap();
        assert!(s.carries("audio") && !s.carries("video"));
        let nothing = s.make_offer(&media, 1, &[]).unwrap_err();
        assert_eq!(nothing, NoMedia("no media section to offer".into()));
    }

    /// RFC 3264 §6: an offer none of whose streams we take is refused
    /// whole (488), and so is a body that is not SDP.
    #[test]
    fn an_offer_with_nothing_we_take_is_not_acceptable() {
        let media = Both::default();
        let mut s = Session::new("127.0.0.1", 7);
        let app = "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
            m=application 5000 UDP/BFCP *\r\n";
        assert!(s.answer_offer(&media, 1, app).is_err());
        let no_audio = VIDEO_OFFER.replace("m=audio 5000", "m=audio 0");
        let no_audio = no_audio.replace("m=video 5002", "m=video 0");
        assert!(s.answer_offer(&media, 1, &no_audio).is_err());
        assert!(s.answer_offer(&media, 1, "hello").is_err());
        assert_eq!(NoMedia::STATUS, 488);
        assert!(!s.has_remote(), "a refused offer leaves nothing behind");
        let refusal = Refusal::from(NoMedia("no audio".into()));
        assert_eq!(refusal.result, result::NOT_LOADED);
    }

    #[test]
    fn a_provisional_response_is_early_media_only_when_its_sdp_is_taken() {
        let media = Both::default();
        let mut s = Session::new("127.0.0.1", 7);
        s.make_offer(&media, 1, &["audio"]).unwrap();
        assert!(!s.take_early_answer(b""), "a 180 without a body rings");
        assert!(!s.take_early_answer(b"hello"), "a body that is not SDP");
        assert!(!s.has_remote(), "nothing was taken");
        let audio = VIDEO_OFFER.split("m=video").next().unwrap();
        assert!(s.take_early_answer(audio.as_bytes()));
        assert!(s.has_remote() && s.carries("audio"));
    }

    #[test]
    fn our_video_offer_counts_until_the_answer_refuses_it() {
        let media = Both::default();
        let mut s = Session::new("127.0.0.1", 7);
        s.make_offer(&media, 1, &["audio", "video"]).unwrap();
        assert!(s.carries("video"), "offered, not answered yet");
        let refused = VIDEO_OFFER.replace("m=video 5002", "m=video 0");
        assert!(s.take_answer(&refused));
        assert!(!s.carries("video") && s.carries("audio"));
        assert!(s.take_answer(VIDEO_OFFER));
        assert!(s.carries("video"));
        // An answer missing the video section does not carry it either.
        let audio_only = VIDEO_OFFER.split("m=video").next().unwrap().to_owned();
        assert!(s.take_answer(&audio_only));
        assert!(!s.carries("video"));
    }
}
