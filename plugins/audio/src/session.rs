//! One call's media: a thread of its own that, every 20 ms, takes in what
//! the network sent (RTP/SRTP, RTCP), plays a frame from the jitter buffer,
//! and sends a frame of the microphone (or a DTMF key). The host's threads
//! only send it messages.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use seatphone_media::codec::AudioCodec;
use seatphone_media::jitter::{JitterBuffer, Playout};
use seatphone_media::rtp::{self, ReceiverStats, RtpSender};
use seatphone_media::srtp::SrtpSession;
use seatphone_plugin_api::{Host, LogLevel, Signal};
use serde_json::json;

use crate::controls::Controls;
use crate::devices::{DeviceKind, Direction as DeviceDirection};
use crate::dtmf::{ToneDetector, ToneSender};
use crate::io::{self, Mic, Speaker, FRAME};
use crate::negotiate::Negotiated;
use crate::page_config::DtmfMode;
use crate::resample::{to_f32, to_i16, RateConverter};
use crate::voice::VoiceProcessing;
use crate::{codecs, EVT_DTMF_RECEIVED};
use seatphone_media::telephone_event::{EventReceiver, EventSender, EventStep};

mod devices;
mod reports;

use devices::open_with_fallback;

const TICK: Duration = Duration::from_millis(20);
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// What the host's threads tell a running call.
pub enum Control {
    Update(Box<Negotiated>),
    Dtmf(u8),
    Stop,
}

/// Everything a call's thread needs from the plugin.
#[derive(Clone)]
pub struct CallContext {
    pub call_id: u32,
    pub host: Host,
    pub controls: Arc<Controls>,
    pub dtmf_mode: DtmfMode,
    pub rtp_timeout: Duration,
    /// `audio_aec`, `audio_anr`, `audio_agc`.
    pub voice: (bool, u8, bool),
}

/// The handle the plugin keeps for a running call.
pub struct Session {
    tx: Sender<Control>,
    thread: Option<JoinHandle<()>>,
    pub negotiated: Negotiated,
}

impl Session {
    pub fn start(
        ctx: CallContext,
        rtp: UdpSocket,
        rtcp: UdpSocket,
        negotiated: Negotiated,
    ) -> Result<Self, String> {
        rtp.set_nonblocking(true).map_err(|e| e.to_string())?;
        rtcp.set_nonblocking(true).map_err(|e| e.to_string())?;
        let media = Media::new(ctx.clone(), rtp, rtcp, negotiated.clone())?;
        let (tx, rx) = mpsc::channel();
        let (host, call_id) = (ctx.host.clone(), ctx.call_id);
        let thread = std::thread::Builder::new()
            .name(format!("audio-call-{}", ctx.call_id))
            .spawn(move || {
                // A bug here must end this call's media, not the engine.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| media.run(rx)));
                if run.is_err() {
                    host.log(
                        LogLevel::Error,
                        &format!("audio call {call_id}: media engine failed"),
                    );
                    host.signal(&Signal::MediaFailed {
                        call_id,
                        kind: "audio".into(),
                        reason: "the audio engine failed".into(),
                    });
                }
            })
            .map_err(|e| format!("cannot start the call's media thread: {e}"))?;
        Ok(Self {
            tx,
            thread: Some(thread),
            negotiated,
        })
    }

    pub fn update(&mut self, negotiated: Negotiated) {
        self.negotiated = negotiated.clone();
        let _ = self.tx.send(Control::Update(Box::new(negotiated)));
    }

    pub fn dtmf(&self, tone: u8) {
        let _ = self.tx.send(Control::Dtmf(tone));
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.tx.send(Control::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sending side of the codec: device frames in, payloads out.
struct Encoder {
    codec: Box<dyn AudioCodec>,
    to_codec: RateConverter,
    from_codec: RateConverter,
    jitter: JitterBuffer,
    stats: ReceiverStats,
}

impl Encoder {
    fn new(n: &Negotiated) -> Result<Self, String> {
        let codec = codecs::make(&n.codec, n.params).map_err(|e| e.to_string())?;
        let rate = codec.sample_rate();
        Ok(Self {
            to_codec: RateConverter::new(io::RATE, rate),
            from_codec: RateConverter::new(rate, io::RATE),
            jitter: JitterBuffer::new(codec.clock_rate(), TICK),
            stats: ReceiverStats::new(codec.clock_rate()),
            codec,
        })
    }
}

struct Media {
    ctx: CallContext,
    rtp: UdpSocket,
    /// The RTP socket again, for waiting on between ticks.
    rtp_in: mio::net::UdpSocket,
    poll: mio::Poll,
    events: mio::Events,
    rtcp: UdpSocket,
    n: Negotiated,
    coder: Encoder,
    srtp: Option<SrtpSession>,
    sender: RtpSender,
    /// Samples of the codec clock since the start.
    clock: u32,
    first_packet: bool,
    mic: Box<dyn Mic>,
    speaker: Box<dyn Speaker>,
    generation: u64,
    dtmf_queue: VecDeque<u8>,
    event: Option<(EventSender, u32)>,
    tone: Option<ToneSender>,
    events_in: EventReceiver,
    tones_in: ToneDetector,
    started: Instant,
    last_rx: Option<Instant>,
    media_up: bool,
    timed_out: bool,
    /// Middle bits of the last SR's NTP time and when it came.
    last_sr: Option<(u32, Instant)>,
    rtt_ms: Option<f64>,
    next_report: Instant,
    dropped_logged: u32,
    voice: Option<VoiceProcessing>,
    /// The devices opened (as selected), to reopen only what changed.
    mic_kind: Option<DeviceKind>,
    speaker_kind: Option<DeviceKind>,
    /// Where the peer's SDP says it sends from.
    signalled_rtp: SocketAddr,
    /// Media arrived from there: other sources are dropped.
    heard_signalled: bool,
}

impl Media {
    fn new(
        ctx: CallContext,
        rtp: UdpSocket,
        rtcp: UdpSocket,
        n: Negotiated,
    ) -> Result<Self, String> {
        let coder = Encoder::new(&n)?;
        let srtp = srtp_for(&n)?;
        let poll = mio::Poll::new().map_err(|e| e.to_string())?;
        let mut rtp_in = mio::net::UdpSocket::from_std(rtp.try_clone().map_err(|e| e.to_string())?);
        poll.registry()
            .register(&mut rtp_in, mio::Token(0), mio::Interest::READABLE)
            .map_err(|e| e.to_string())?;
        // Devices open on the call's own thread, at its first frame: opening
        // (and listing) sound devices may take a while.
        let (mic, speaker): (Box<dyn Mic>, Box<dyn Speaker>) =
            (Box::new(io::NullMic), Box::new(io::NullSpeaker));
        let now = Instant::now();
        let (aec, anr, agc) = ctx.voice;
        let voice = match VoiceProcessing::new(aec, anr, agc) {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                // The call goes on, unprocessed; the log says why.
                ctx.host.warn(&format!(
                    "audio call {}: voice processing (AEC/ANR/AGC) unavailable, the call goes on without it: {e}",
                    ctx.call_id
                ));
                None
            }
            None => None,
        };
        Ok(Self {
            signalled_rtp: n.remote_rtp,
            mic_kind: None,
            speaker_kind: None,
            heard_signalled: false,
            voice,
            generation: u64::MAX,
            ctx,
            rtp,
            rtp_in,
            poll,
            events: mio::Events::with_capacity(4),
            rtcp,
            coder,
            srtp,
            sender: RtpSender::random(),
            clock: 0,
            first_packet: true,
            mic,
            speaker,
            dtmf_queue: VecDeque::new(),
            event: None,
            tone: None,
            events_in: EventReceiver::default(),
            tones_in: ToneDetector::new(io::RATE),
            started: now,
            last_rx: None,
            media_up: false,
            timed_out: false,
            last_sr: None,
            rtt_ms: None,
            next_report: now + REPORT_EVERY,
            dropped_logged: 0,
            n,
        })
    }

    fn log(&self, level: LogLevel, msg: &str) {
        self.ctx
            .host
            .log(level, &format!("audio call {}: {msg}", self.ctx.call_id));
    }

    fn run(mut self, rx: Receiver<Control>) {
        self.log(
            LogLevel::Info,
            &format!(
                "media starts: {} to {} ({}, {:?})",
                self.n.codec.name,
                self.n.remote_rtp,
                if self.srtp.is_some() { "SRTP" } else { "RTP" },
                self.n.direction
            ),
        );
        let mut deadline = Instant::now();
        loop {
            loop {
                match rx.try_recv() {
                    Ok(Control::Stop) | Err(TryRecvError::Disconnected) => {
                        self.log(LogLevel::Info, "media stops");
                        return;
                    }
                    Ok(Control::Update(n)) => self.update(*n),
                    Ok(Control::Dtmf(tone)) => self.dtmf_queue.push_back(tone),
                    Err(TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            self.check_devices();
            self.receive_rtcp(now);
            self.play(now);
            self.send();
            self.check_timeout(now);
            if now >= self.next_report {
                self.next_report = now + REPORT_EVERY;
                self.report(now);
            }
            deadline += TICK;
            let now = Instant::now();
            if now.saturating_duration_since(deadline) > TICK * 10 {
                // Far behind (machine stalled): do not burst to catch up.
                deadline = now;
            }
            self.receive_rtp_until(deadline);
        }
    }

    fn update(&mut self, n: Negotiated) {
        if n.codec != self.n.codec || n.params != self.n.params {
            match Encoder::new(&n) {
                Ok(c) => self.coder = c,
                Err(e) => self.log(LogLevel::Warn, &format!("codec change failed: {e}")),
            }
        }
        if n.srtp != self.n.srtp {
            match srtp_for(&n) {
                Ok(s) => self.srtp = s,
                Err(e) => self.log(LogLevel::Warn, &e),
            }
        }
        self.log(
            LogLevel::Info,
            &format!(
                "media updated: {} to {} ({:?})",
                n.codec.name, n.remote_rtp, n.direction
            ),
        );
        if n.remote_rtp != self.signalled_rtp {
            self.signalled_rtp = n.remote_rtp;
            self.heard_signalled = false;
        }
        self.n = n;
        self.last_rx = Some(Instant::now());
        self.timed_out = false;
    }

    fn check_devices(&mut self) {
        let g = self.ctx.controls.generation.load(Ordering::Acquire);
        if g != self.generation {
            self.generation = g;
            // Only the side whose selection changed is reopened (a WAV speaker
            // would start over otherwise).
            let mic_kind = self.ctx.controls.current(DeviceDirection::Input);
            if self.mic_kind.as_ref() != Some(&mic_kind) {
                self.mic = Box::new(io::NullMic);
                self.mic =
                    open_with_fallback(&self.ctx, DeviceDirection::Input, io::open_mic, || {
                        Box::new(io::NullMic)
                    });
                self.mic_kind = Some(mic_kind);
            }
            let speaker_kind = self.ctx.controls.current(DeviceDirection::Output);
            if self.speaker_kind.as_ref() != Some(&speaker_kind) {
                self.speaker = Box::new(io::NullSpeaker);
                self.speaker = open_with_fallback(
                    &self.ctx,
                    DeviceDirection::Output,
                    io::open_speaker,
                    || Box::new(io::NullSpeaker),
                );
                self.speaker_kind = Some(speaker_kind);
            }
            return;
        }
        // A device that vanished mid-call: reopen what is selected, else fall back.
        if let Some(why) = self.mic.failure() {
            self.log(LogLevel::Warn, &format!("microphone failed: {why}"));
            self.mic = Box::new(io::NullMic);
            self.mic = open_with_fallback(&self.ctx, DeviceDirection::Input, io::open_mic, || {
                Box::new(io::NullMic)
            });
        }
        if let Some(why) = self.speaker.failure() {
            self.log(LogLevel::Warn, &format!("speaker failed: {why}"));
            self.speaker = Box::new(io::NullSpeaker);
            self.speaker =
                open_with_fallback(&self.ctx, DeviceDirection::Output, io::open_speaker, || {
                    Box::new(io::NullSpeaker)
                });
        }
    }

    fn drop_packet(&mut self, why: &str) {
        // The first few, then every 500th: a flood must not flood the log.
        self.dropped_logged += 1;
        if self.dropped_logged <= 5 || self.dropped_logged.is_multiple_of(500) {
            self.log(LogLevel::Debug, &format!("dropped a packet: {why}"));
        }
    }

    /// Takes RTP as it arrives until `deadline`: stamped at the next tick
    /// instead, every packet would be held up to a frame longer than the
    /// jitter buffer asks.
    fn receive_rtp_until(&mut self, deadline: Instant) {
        let mut buf = [0u8; 2048];
        // A flood must not keep the thread from its tick: past this many,
        // the rest wait in the socket (and the kernel drops what overflows).
        let mut budget = 200;
        loop {
            // Drain first: readiness is edge-triggered.
            while budget > 0 {
                budget -= 1;
                match self.rtp_in.recv_from(&mut buf) {
                    Ok((len, from)) => self.receive_rtp(&buf[..len], from, Instant::now()),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    // An ICMP error (a peer not listening yet) is reported
                    // once; datagrams may still wait behind it.
                    Err(_) => continue,
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            if budget == 0
                || self
                    .poll
                    .poll(&mut self.events, Some(deadline - now))
                    .is_err()
            {
                std::thread::sleep(deadline - now);
                return;
            }
        }
    }

    fn receive_rtp(&mut self, raw: &[u8], from: SocketAddr, now: Instant) {
        if raw.len() >= 2 && (200..=206).contains(&raw[1]) {
            self.handle_rtcp(raw, now);
            return;
        }
        let plain;
        let data = match self.srtp.as_mut() {
            Some(s) => match s.unprotect_rtp(raw) {
                Ok(p) => {
                    plain = p;
                    &plain[..]
                }
                Err(e) => {
                    self.drop_packet(&format!("SRTP: {e}"));
                    return;
                }
            },
            None => raw,
        };
        let packet = match rtp::parse(data) {
            Ok(p) => p,
            Err(e) => {
                self.drop_packet(&e);
                return;
            }
        };
        let h = &packet.header;
        let known =
            self.n.recv_pts.contains(&h.payload_type) || self.n.te_recv.contains(&h.payload_type);
        if from == self.signalled_rtp {
            // The address the peer signalled always wins.
            self.heard_signalled |= known;
            self.n.remote_rtp = from;
        } else if self.heard_signalled || !known {
            self.drop_packet(&format!("RTP from {from}, not the peer"));
            return;
        } else {
            // Symmetric RTP (a peer behind NAT): follow where its media comes
            // from until anything arrives from the signalled address.
            self.n.remote_rtp = from;
        }
        self.last_rx = Some(now);
        if !self.media_up {
            self.media_up = true;
            self.ctx.host.signal(&Signal::MediaUp {
                call_id: self.ctx.call_id,
                kind: "audio".into(),
            });
        }
        if self.n.te_recv.contains(&h.payload_type) {
            self.coder
                .stats
                .update(now, h.ssrc, h.sequence_number, h.timestamp);
            if let Some(tone) = self.events_in.packet(h.timestamp, &packet.payload) {
                self.dtmf_received(tone, "rfc4733");
            }
        } else if self.n.recv_pts.contains(&h.payload_type) {
            self.coder
                .stats
                .update(now, h.ssrc, h.sequence_number, h.timestamp);
            self.coder.jitter.push_packet(
                now,
                h.sequence_number,
                h.timestamp,
                packet.payload.to_vec(),
            );
        } else if h.payload_type != 13 {
            self.drop_packet(&format!("payload type {} not negotiated", h.payload_type));
        }
    }

    fn dtmf_received(&self, tone: u8, method: &str) {
        let key = crate::dtmf::tone_char(tone).unwrap_or('?');
        self.log(LogLevel::Info, &format!("DTMF {key} received ({method})"));
        self.ctx.host.emit(
            EVT_DTMF_RECEIVED,
            "AUDIO_EVT_DTMF_RECEIVED",
            &json!({ "callId": self.ctx.call_id, "call_id": self.ctx.call_id, "tone": tone, "method": method }),
        );
    }

    /// Decodes until one device frame is ready, then plays it.
    fn play(&mut self, now: Instant) {
        let c = &mut self.coder;
        // One packet's worth of samples (the peer's ptime, as the buffer learned it).
        let codec_frame = (c.jitter.frame_ts() * u64::from(c.codec.sample_rate())
            / u64::from(c.codec.clock_rate().max(1))) as usize;
        let mut pops = 0;
        while c.from_codec.available() < FRAME && pops < 4 {
            pops += 1;
            let mut pcm = Vec::with_capacity(codec_frame);
            match c.jitter.pop(now) {
                Playout::Frame(payload) => {
                    if c.codec.decode(&payload, &mut pcm).is_err() {
                        c.codec.conceal(None, codec_frame, &mut pcm);
                    }
                }
                Playout::Conceal { next } => {
                    c.codec.conceal(next.as_deref(), codec_frame, &mut pcm)
                }
                Playout::Silence => pcm.resize(codec_frame, 0),
            }
            c.from_codec.push(&to_f32(&pcm));
        }
        // More than 100 ms decoded ahead (a peer's long packets): trim.
        if c.from_codec.available() > FRAME * 5 {
            c.from_codec.pull(c.from_codec.available() - FRAME * 2);
        }
        let mut frame = c.from_codec.pull(FRAME);
        if self.n.te_send.is_none() || self.ctx.dtmf_mode == DtmfMode::InBand {
            if let Some(tone) = self.tones_in.block(&frame) {
                self.dtmf_received(tone, "inband");
            }
        }
        let gain = self.ctx.controls.speaker_gain();
        if gain != 1.0 {
            frame.iter_mut().for_each(|s| *s *= gain);
        }
        if let Some(v) = self.voice.as_mut() {
            v.render(&frame);
        }
        self.speaker.write(&frame);
    }

    fn send(&mut self) {
        let step = self.coder.codec.clock_rate() / 50;
        let ts = self.sender.timestamp_base.wrapping_add(self.clock);
        self.clock = self.clock.wrapping_add(step);
        let mut frame = vec![0.0f32; FRAME];
        self.mic.read(&mut frame);
        if let Some(v) = self.voice.as_mut() {
            v.capture(&mut frame);
        }
        let gain = self.ctx.controls.mic_gain();
        if gain != 1.0 {
            frame.iter_mut().for_each(|s| *s *= gain);
        }
        if !self.n.direction.sends() {
            return;
        }
        if self.event.is_none() && self.tone.is_none() {
            if let Some(tone) = self.dtmf_queue.pop_front() {
                match (self.n.te_send, self.ctx.dtmf_mode) {
                    (Some((_, clock)), m) if m != DtmfMode::InBand => {
                        self.event = Some((EventSender::new(tone, clock), ts));
                    }
                    _ => self.tone = Some(ToneSender::new(tone)),
                }
            }
        }
        if let Some(t) = self.tone.as_mut() {
            if !t.fill(&mut frame) {
                self.tone = None;
            }
        }
        if let Some((ev, start_ts)) = self.event.as_mut() {
            let start_ts = *start_ts;
            match ev.next_frame() {
                EventStep::Packet { event, marker } => {
                    if let Some((pt, _)) = self.n.te_send {
                        let p = self.sender.packet(pt, marker, start_ts, &event.to_bytes());
                        self.transmit(p);
                    }
                    // Keep the encoder's state moving with the audio it did not send.
                    self.coder.to_codec.push(&frame);
                    let _ = self
                        .coder
                        .to_codec
                        .pull(self.coder.codec.sample_rate() as usize / 50);
                    return;
                }
                EventStep::Gap => {}
                EventStep::Done => self.event = None,
            }
        }
        let c = &mut self.coder;
        c.to_codec.push(&frame);
        let pcm = to_i16(&c.to_codec.pull(c.codec.sample_rate() as usize / 50));
        let mut payload = Vec::with_capacity(256);
        if let Err(e) = c.codec.encode(&pcm, &mut payload) {
            return self.log(LogLevel::Warn, &format!("encode: {e}"));
        }
        // Opus in DTX sends nothing for silence (it returns 1–2 bytes).
        if self.n.params.dtx && payload.len() <= 2 {
            return;
        }
        let marker = std::mem::take(&mut self.first_packet);
        let p = self.sender.packet(self.n.send_pt, marker, ts, &payload);
        self.transmit(p);
    }

    fn transmit(&mut self, packet: Vec<u8>) {
        let out = match self.srtp.as_mut() {
            Some(s) => match s.protect_rtp(&packet) {
                Ok(p) => p,
                Err(e) => return self.log(LogLevel::Warn, &format!("SRTP protect: {e}")),
            },
            None => packet,
        };
        let _ = self.rtp.send_to(&out, self.n.remote_rtp);
    }

    fn check_timeout(&mut self, now: Instant) {
        if self.timed_out || !self.n.direction.receives() {
            return;
        }
        let since = self.last_rx.unwrap_or(self.started);
        let silent = now.duration_since(since);
        if silent >= self.ctx.rtp_timeout {
            self.timed_out = true;
            self.log(
                LogLevel::Warn,
                &format!("no RTP for {} ms", silent.as_millis()),
            );
            self.ctx.host.signal(&Signal::MediaTimeout {
                call_id: self.ctx.call_id,
                kind: "audio".into(),
                silent_ms: silent.as_millis() as u64,
            });
        }
    }
}

fn srtp_for(n: &Negotiated) -> Result<Option<SrtpSession>, String> {
    n.srtp
        .as_ref()
        .map(|(ours, theirs)| SrtpSession::new(ours, theirs))
        .transpose()
}

/// Binds an RTP port and the RTCP port above it on `ip`.
pub fn bind_pair(ip: std::net::IpAddr) -> Result<(UdpSocket, UdpSocket), String> {
    for _ in 0..50 {
        let rtp = UdpSocket::bind(SocketAddr::new(ip, 0))
            .map_err(|e| format!("cannot bind RTP on {ip}: {e}"))?;
        let port = rtp.local_addr().map_err(|e| e.to_string())?.port();
        if port % 2 == 1 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, port + 1)) {
            return Ok((rtp, rtcp));
        }
    }
    Err(format!("no free RTP/RTCP port pair on {ip}"))
}
