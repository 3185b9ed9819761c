//! One call's media session: which plugin sections we sent, what the peer
//! sent, and the start/stop calls to the plugins that follow.

use seatphone_protocol::{AnswerRequest, OfferRequest, StartRequest, StopRequest};

use crate::sdp::{self, Direction, RemoteSection};
use crate::Media;

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
    /// A stream that could not start, and why (taken by the engine, which
    /// ends the call).
    failure: Option<String>,
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
    ) -> Result<(), String> {
        let served = media.kinds();
        let mut local = Vec::new();
        for kind in kinds {
            if !served.iter().any(|k| k == kind) {
                if *kind == "audio" {
                    return Err("no loaded plugin serves audio: cannot make an audio call".into());
                }
                continue;
            }
            let offer = media.offer(OfferRequest {
                call_id,
                kind: (*kind).to_owned(),
                local_ip: self.local_ip.clone(),
            })?;
            for section in offer.sections {
                local.push((Some((*kind).to_owned()), section));
            }
        }
        if local.is_empty() {
            return Err("no media section to offer".into());
        }
        self.local = local;
        Ok(())
    }

    /// Answers a peer's offer section by section. `Err` when not one
    /// section could be accepted (the caller answers 488).
    pub fn answer_offer(
        &mut self,
        media: &dyn Media,
        call_id: u32,
        offer: &str,
    ) -> Result<(), String> {
        let remote = sdp::split(offer).ok_or("the offer is not SDP")?;
        let served = media.kinds();
        let mut local = Vec::new();
        for section in &remote {
            let answer = if section.port == 0 || !served.contains(&section.kind) {
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
            return Err("no media of the offer could be accepted".into());
        }
        if !self.local.is_empty() {
            self.version += 1;
        }
        self.local = local;
        self.remote = remote;
        Ok(())
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

    pub fn has_remote(&self) -> bool {
        !self.remote.is_empty()
    }

    /// Our SDP as it stands.
    pub fn sdp(&self) -> String {
        let sections: Vec<String> = self.local.iter().map(|(_, s)| s.clone()).collect();
        sdp::session(&self.local_ip, self.id, self.version, &sections)
    }

    /// A new version of our SDP with every accepted section in `dir`.
    pub fn redirected(&mut self, dir: Direction) -> String {
        self.version += 1;
        for (kind, section) in &mut self.local {
            if kind.is_some() {
                *section = sdp::with_direction(section, dir);
            }
        }
        self.sdp()
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
