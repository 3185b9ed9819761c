//! The plugin's calls: sockets bound at offer/answer time, the section we
//! sent, the running media session and any tone playing. Every method
//! returns quickly: sessions and tones stop on their own threads, woken,
//! never joined.
//!
//! The next call's sockets are bound ahead, when a call's media starts or
//! ends: binding them on the way to the INVITE cost ~50 µs of each call's
//! set-up, most of it the first `socket` call after an idle spell (issue 20).

use std::collections::HashMap;
use std::net::{IpAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use seatphone_media::sdp::MediaSection;
use seatphone_plugin_api::{
    result, AnswerRequest, CallEvent, Host, OfferRequest, Refusal, StartRequest,
};
use serde_json::Value;

use crate::commands::int_param;
use crate::controls::Controls;
use crate::devices::Direction;
use crate::negotiate;
use crate::page_config::{DtmfMode, PageConfig};
use crate::session::{self, CallContext, Session};
use crate::tones::{Player, Tone};

struct Call {
    /// `tsdk_mute_mic` for this call; its session reads it every frame.
    muted: Arc<AtomicBool>,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    local: Option<MediaSection>,
    session: Option<Session>,
    /// An outgoing call the host has not yet said is connected or has
    /// early media: a session started now holds its thread until it says
    /// so (`CallEvent::Connected`, `Ringing` with early media), which the
    /// host does right after telling the page (see `Session::start`).
    hold: bool,
}

pub struct Calls {
    host: Host,
    controls: Arc<Controls>,
    rtp_timeout: Duration,
    calls: Mutex<HashMap<u32, Call>>,
    tones: Mutex<HashMap<u32, Player>>,
    /// An RTP/RTCP pair bound ahead on the address of the last call.
    spare: Mutex<Option<Spare>>,
}

/// Datagrams read off a spare pair's sockets when it is taken, at most.
const STALE_AT_MOST: usize = 64;

struct Spare {
    ip: IpAddr,
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

impl Calls {
    pub fn new(host: Host, controls: Arc<Controls>, rtp_timeout: Duration) -> Self {
        Self {
            host,
            controls,
            rtp_timeout,
            calls: Mutex::new(HashMap::new()),
            tones: Mutex::new(HashMap::new()),
            spare: Mutex::new(None),
        }
    }

    fn calls(&self) -> MutexGuard<'_, HashMap<u32, Call>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn parse_ip(local_ip: &str) -> Result<IpAddr, String> {
        local_ip
            .parse()
            .map_err(|_| format!("localIp {local_ip:?} is not an IP address"))
    }

    fn spare(&self) -> MutexGuard<'_, Option<Spare>> {
        self.spare.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The pair bound ahead on `ip`, emptied of anything that reached it
    /// while it waited; `None` when there is none for `ip`.
    fn take_spare(&self, ip: IpAddr) -> Option<(UdpSocket, UdpSocket)> {
        let spare = self.spare().take_if(|s| s.ip == ip)?;
        let mut buf = [0u8; 2048];
        for socket in [&spare.rtp, &spare.rtcp] {
            socket.set_nonblocking(true).ok()?;
            // Bounded: a peer sending as fast as we read must not hold
            // the offer here (what is left is stray input the stream
            // refuses like any other).
            for _ in 0..STALE_AT_MOST {
                if socket.recv(&mut buf).is_err() {
                    break;
                }
            }
        }
        Some((spare.rtp, spare.rtcp))
    }

    /// Binds the next call's pair on `ip` unless one waits already.
    fn bind_spare(&self, ip: IpAddr) {
        if self.spare().as_ref().is_some_and(|s| s.ip == ip) {
            return;
        }
        // A failure here only means the next call binds its own.
        if let Ok((rtp, rtcp)) = session::bind_pair(ip) {
            *self.spare() = Some(Spare { ip, rtp, rtcp });
        }
    }

    /// The call's sockets, taken from the spare or bound on first use.
    fn ensure_call<'a>(
        &self,
        calls: &'a mut HashMap<u32, Call>,
        call_id: u32,
        ip: IpAddr,
    ) -> Result<&'a mut Call, String> {
        match calls.entry(call_id) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(v) => {
                let (rtp, rtcp) = match self.take_spare(ip) {
                    Some(pair) => pair,
                    None => session::bind_pair(ip)?,
                };
                Ok(v.insert(Call {
                    muted: Arc::default(),
                    rtp,
                    rtcp,
                    local: None,
                    session: None,
                    hold: false,
                }))
            }
        }
    }

    pub fn offer(&self, config: &PageConfig, req: &OfferRequest) -> Result<String, String> {
        if req.kind != "audio" {
            return Err(format!(
                "the audio plugin does not offer {} media",
                req.kind
            ));
        }
        let ip = Self::parse_ip(&req.local_ip)?;
        let mut calls = self.calls();
        let call = self.ensure_call(&mut calls, req.call_id, ip)?;
        let port = call.rtp.local_addr().map_err(|e| e.to_string())?.port();
        let mut section = negotiate::offer(config, ip, port);
        // A re-offer keeps the keys it had, so media never stops for a re-key.
        if let Some(prev) = &call.local {
            if !prev.crypto.is_empty() && !section.crypto.is_empty() {
                section.crypto = prev.crypto.clone();
            }
        }
        let text = section.to_sdp();
        call.local = Some(section);
        Ok(text)
    }

    pub fn answer(&self, config: &PageConfig, req: &AnswerRequest) -> Result<String, String> {
        let remote = MediaSection::parse(&req.remote)?;
        let ip = Self::parse_ip(&req.local_ip)?;
        let mut calls = self.calls();
        let call = self.ensure_call(&mut calls, req.call_id, ip)?;
        let port = call.rtp.local_addr().map_err(|e| e.to_string())?.port();
        let mut section = negotiate::answer(config, &remote, ip, port)?;
        if let (Some(prev), Some(new)) = (call.local.as_ref(), section.crypto.first_mut()) {
            if let Some(same) = prev
                .crypto
                .iter()
                .find(|c| c.suite == new.suite && c.tag == new.tag)
            {
                *new = same.clone();
            }
        }
        let text = section.to_sdp();
        call.local = Some(section);
        Ok(text)
    }

    pub fn start(&self, config: &PageConfig, req: &StartRequest) -> Result<(), String> {
        let local = MediaSection::parse(&req.local)?;
        let remote = MediaSection::parse(&req.remote)?;
        let negotiated = negotiate::negotiated(config, &local, &remote)?;
        self.stop_tone(req.call_id);
        let mut calls = self.calls();
        let call = calls
            .get_mut(&req.call_id)
            .ok_or_else(|| format!("call {} has no audio offer or answer to start", req.call_id))?;
        let mut first = None;
        match call.session.as_mut() {
            Some(s) => s.update(negotiated),
            None => {
                first = call.rtp.local_addr().ok().map(|a| a.ip());
                let ctx = CallContext {
                    call_id: req.call_id,
                    host: self.host.clone(),
                    controls: self.controls.clone(),
                    muted: call.muted.clone(),
                    dtmf_mode: config.dtmf,
                    rtp_timeout: self.rtp_timeout,
                    voice: (config.aec, config.anr, config.agc),
                };
                let rtp = call.rtp.try_clone().map_err(|e| e.to_string())?;
                let rtcp = call.rtcp.try_clone().map_err(|e| e.to_string())?;
                call.session = Some(Session::start(ctx, rtp, rtcp, negotiated, call.hold)?);
            }
        }
        call.local = Some(local);
        drop(calls);
        // The page has heard the call connect: the next call's pair now.
        if let Some(ip) = first {
            self.bind_spare(ip);
        }
        Ok(())
    }

    pub fn stop(&self, call_id: u32) {
        let call = self.calls().remove(&call_id);
        self.stop_tone(call_id);
        let ip = call
            .as_ref()
            .and_then(|c| c.rtp.local_addr().ok())
            .map(|a| a.ip());
        // Outside the lock: the session's sockets close here.
        drop(call);
        // A call that ended before its media started took the spare too.
        if let Some(ip) = ip {
            self.bind_spare(ip);
        }
    }

    pub fn stop_all(&self) {
        let all: Vec<Call> = self.calls().drain().map(|(_, c)| c).collect();
        let tones: Vec<Player> = self
            .tones
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, t)| t)
            .collect();
        let spare = self.spare().take();
        drop(all);
        drop(tones);
        drop(spare);
    }

    fn stop_tone(&self, call_id: u32) {
        let player = self
            .tones
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&call_id);
        drop(player);
    }

    fn play_tone(&self, call_id: u32, tone: Tone) {
        let controls = self.controls.clone();
        let player = Player::start(tone, move || match tone {
            Tone::Ring => controls
                .ring
                .clone()
                .unwrap_or_else(|| controls.current(Direction::Output)),
            _ => controls.current(Direction::Output),
        });
        let old = self
            .tones
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(call_id, player);
        drop(old);
    }

    pub fn call_event(&self, event: &CallEvent) {
        match *event {
            CallEvent::Incoming {
                call_id,
                auto_answer,
            } => self.play_tone(call_id, if auto_answer { Tone::Zip } else { Tone::Ring }),
            CallEvent::Ringing {
                call_id,
                early_media: false,
            } => self.play_tone(call_id, Tone::Ringback),
            CallEvent::Ringing {
                call_id,
                early_media: true,
            }
            | CallEvent::Connected { call_id }
            | CallEvent::Held { call_id }
            | CallEvent::Resumed { call_id } => {
                self.release(call_id);
                self.stop_tone(call_id);
            }
            CallEvent::Ended { call_id, .. } => self.stop(call_id),
            CallEvent::Outgoing { call_id } => {
                if let Some(call) = self.calls().get_mut(&call_id) {
                    call.hold = true;
                }
            }
            CallEvent::Dtmf { .. } => {}
        }
    }

    /// The host said the call is connected (or has early media): its
    /// media goes from now on.
    fn release(&self, call_id: u32) {
        if let Some(call) = self.calls().get_mut(&call_id) {
            call.hold = false;
            if let Some(session) = call.session.as_mut() {
                session.release();
            }
        }
    }

    /// `tsdk_mute_mic`: the named call's microphone, silent or back; the
    /// stream goes on. Other calls, and calls that start later, keep theirs.
    pub fn mute(&self, call_id: i64, muted: bool) -> Result<(), Refusal> {
        let calls = self.calls();
        let call = u32::try_from(call_id)
            .ok()
            .and_then(|id| calls.get(&id))
            .ok_or_else(|| {
                Refusal::new(result::NOT_FOUND, format!("no call {call_id} with audio"))
            })?;
        call.muted.store(muted, Ordering::Release);
        Ok(())
    }

    /// `tsdk_send_dtmf` as the host forwards it when `dtmf_mode` is not INFO.
    pub fn send_dtmf(&self, config: &PageConfig, param: &Value) -> Result<(), Refusal> {
        let invalid = |e: String| Refusal::new(result::INVALID, e);
        let call_id = int_param(param, "callId").map_err(invalid)?;
        let tone = int_param(param, "tone").map_err(invalid)?;
        let tone = u8::try_from(tone)
            .ok()
            .filter(|t| *t <= 16)
            .ok_or_else(|| invalid(format!("param.tone must be 0–16, got {tone}")))?;
        if config.dtmf == DtmfMode::Info {
            return Err(Refusal::new(
                result::FAILED,
                "dtmf_mode 4 sends DTMF as SIP INFO, which the host does",
            ));
        }
        let calls = self.calls();
        let session = u32::try_from(call_id)
            .ok()
            .and_then(|id| calls.get(&id))
            .ok_or_else(|| {
                Refusal::new(result::NOT_FOUND, format!("no call {call_id} with audio"))
            })?
            .session
            .as_ref()
            .ok_or_else(|| {
                Refusal::new(
                    result::WRONG_STATE,
                    format!("call {call_id} has no media yet"),
                )
            })?;
        let events = session.negotiated.te_send.is_some();
        match config.dtmf {
            DtmfMode::Rfc4733 if !events => {
                return Err(Refusal::new(
                    result::FAILED,
                    "dtmf_mode 2 needs RFC 4733 and the peer did not negotiate telephone-event",
                ))
            }
            DtmfMode::InBand | DtmfMode::Rfc4733Auto
                if tone == 16 && !(events && config.dtmf != DtmfMode::InBand) =>
            {
                return Err(Refusal::new(
                    result::FAILED,
                    "flash (16) has no in-band tone",
                ))
            }
            _ => {}
        }
        session.dtmf(tone);
        Ok(())
    }
}
