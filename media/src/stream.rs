//! The sans-IO core of one media stream: one m-line of a call, one SSRC of
//! ours, the peer's media coming back. It holds every decision about the
//! stream — where to send (symmetric RTP), SRTP, what to accept, the
//! jitter buffer or the reorder buffer, DTMF events, RTCP reports and
//! keyframe requests, the RTP timeout — and no socket, thread or clock.
//!
//! A media plugin's thread keeps only the sockets, its poll and the
//! devices, and drives the stream with `now` (str0m's contract: after
//! every input, drain [`MediaStream::poll_output`] until it says
//! [`Output::Timeout`]):
//!
//! ```
//! use std::time::{Duration, Instant};
//! use seatphone_media::sdp::Direction;
//! use seatphone_media::stream::{
//!     Event, MediaStream, Output, Port, ReceivePolicy, StreamOptions, StreamParams,
//! };
//!
//! let now = Instant::now();
//! let params = StreamParams {
//!     clock_rate: 90_000,
//!     send_pt: 96,
//!     recv_pts: vec![96],
//!     events_send: None,
//!     events_recv: vec![],
//!     remote_rtp: "127.0.0.1:40000".parse().unwrap(),
//!     remote_rtcp: "127.0.0.1:40001".parse().unwrap(),
//!     direction: Direction::SendRecv,
//!     srtp: None,
//! };
//! let options = StreamOptions::new(ReceivePolicy::Reorder {
//!     max_wait: Duration::from_millis(100),
//! });
//! let mut stream = MediaStream::new(now, params, options).unwrap();
//!
//! // The encoder made a frame of two packets (a payloader split it): the
//! // marker goes on the last; both carry the frame's capture time.
//! stream.write(now, 0, &[1, 2, 3], false);
//! stream.write(now, 0, &[4, 5], true);
//!
//! // A datagram from a socket: `stream.handle_receive(now, Port::Rtp, from, &buf)`.
//! // A timer that fired: `stream.handle_timeout(now)`.
//! let wake_at = loop {
//!     match stream.poll_output() {
//!         // `rtp_socket.send_to(&t.data, t.to)` (or the RTCP socket, per `t.port`).
//!         Output::Transmit(t) => assert_eq!(t.port, Port::Rtp),
//!         // In sequence order: into `payload::FrameAssembler`, then decode and show.
//!         Output::Event(Event::Packet(packet)) => {}
//!         Output::Event(Event::KeyframeRequest) => { /* the encoder's next frame: a keyframe */ }
//!         Output::Event(_) => {}
//!         Output::Timeout(at) => break at,
//!     }
//! };
//! // Wait on the sockets (and the plugin's waker) until `wake_at`, then go round again.
//! assert!(wake_at > now);
//! ```
//!
//! Audio asks for [`ReceivePolicy::Playout`] instead and pulls one frame
//! per period from [`MediaStream::playout`] on its device clock; video
//! gets its packets in order as [`Event::Packet`], rebuilds frames with
//! `payload::FrameAssembler`, and asks for a keyframe with
//! [`MediaStream::request_keyframe`] when the assembler says so.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::feedback::{self, Feedback};
use crate::jitter::{JitterBuffer, JitterStats, Playout};
use crate::reorder::{OrderedPacket, ReorderBuffer};
use crate::rtcp::{self, ReportBlock, SenderInfo};
use crate::rtp::{self, ReceiverStats, RtpSender};
use crate::sdp::Direction;
use crate::srtp::{Crypto, SrtpSession};
use crate::telephone_event::{EventReceiver, EventSender, EventStep};

mod latch;
#[cfg(test)]
mod tests;

use latch::{Latch, Verdict};

/// What both SDP sections agreed on, whatever the codec.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamParams {
    /// The RTP clock of the media payloads.
    pub clock_rate: u32,
    /// The payload type we send media with (the peer's number).
    pub send_pt: u8,
    /// Payload types accepted as media.
    pub recv_pts: Vec<u8>,
    /// The peer's telephone-event payload type and its clock (RFC 4733).
    pub events_send: Option<(u8, u32)>,
    /// Payload types accepted as telephone-events.
    pub events_recv: Vec<u8>,
    pub remote_rtp: SocketAddr,
    /// The same as `remote_rtp` under rtcp-mux.
    pub remote_rtcp: SocketAddr,
    pub direction: Direction,
    /// (ours, theirs) keys when SRTP is on.
    pub srtp: Option<(Crypto, Crypto)>,
}

/// How received media comes out of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceivePolicy {
    /// One payload a packet, played on the device's clock: an adaptive
    /// jitter buffer the plugin pulls one packet's worth from every period
    /// ([`MediaStream::playout`]); `packet` is the duration it expects.
    Playout { packet: Duration },
    /// Frames of several packets: the packets in sequence order as
    /// [`Event::Packet`], a gap waited for up to `max_wait`.
    Reorder { max_wait: Duration },
}

/// What the stream is made with besides the SDP: our identity on the
/// wire and the policies. [`StreamOptions::new`] draws the identity at
/// random and reads the wall clock; tests set them.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    pub ssrc: u32,
    pub first_seq: u16,
    pub timestamp_base: u32,
    /// NTP time (32.32) at the `now` the stream is made with.
    pub ntp_start: u64,
    /// No packet from the peer for this long, while it should send: [`Event::Timeout`].
    pub rtp_timeout: Duration,
    pub report_interval: Duration,
    pub cname: String,
    pub receive: ReceivePolicy,
}

impl StreamOptions {
    /// Random SSRC, sequence and timestamp base (RFC 3550), the wall
    /// clock's NTP time, a 30 s RTP timeout, reports every 5 s.
    pub fn new(receive: ReceivePolicy) -> Self {
        let ids = RtpSender::random();
        Self {
            ssrc: ids.ssrc,
            first_seq: ids.next_seq(),
            timestamp_base: ids.timestamp_base,
            ntp_start: rtcp::ntp_now(),
            rtp_timeout: Duration::from_secs(30),
            report_interval: Duration::from_secs(5),
            cname: "seatphone@127.0.0.1".into(),
            receive,
        }
    }
}

/// Which of the stream's two sockets (both are the RTP one under rtcp-mux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Rtp,
    Rtcp,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub port: Port,
    pub to: SocketAddr,
    pub data: Vec<u8>,
}

/// The figures of a report, as the page's QoS event (2028) shows them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Qos {
    pub sent_packets: u64,
    pub received_packets: u64,
    pub lost_packets: u64,
    pub jitter_ms: f64,
    pub rtt_ms: Option<f64>,
}

/// What happened on the stream that its plugin acts on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The peer's first packet was accepted (once).
    MediaUp,
    /// Nothing came from the peer for `silent` while it should send
    /// (once, until new parameters).
    Timeout { silent: Duration },
    /// The peer pressed a key (RFC 4733): told once per key.
    Dtmf { key: u8 },
    /// The next packet in sequence order ([`ReceivePolicy::Reorder`]).
    Packet(OrderedPacket),
    /// The peer asks for a keyframe (PLI or FIR about our SSRC).
    KeyframeRequest,
    /// The peer's report about what we send: the fraction of our packets
    /// it lost since its last report (out of 256), for rate adaptation.
    PeerLoss { fraction_lost: u8 },
    /// A report went out (every `report_interval`).
    Report(Qos),
    /// We send to a new address: the peer's media comes from there.
    PeerMoved { to: SocketAddr },
    /// A packet was refused; the first five and every 500th are told,
    /// `count` is how many so far.
    Dropped { why: String, count: u32 },
}

#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Output {
    Transmit(Transmit),
    Event(Event),
    /// Nothing more until then: call [`MediaStream::handle_timeout`] at
    /// that time, or earlier with any input.
    Timeout(Instant),
}

/// Comfort noise (RFC 3389) is accepted and played as nothing.
const COMFORT_NOISE: u8 = 13;
/// Telephone-event packets go out at this pace (RFC 4733 §2.5.1.2).
const EVENT_PACKET_EVERY: Duration = Duration::from_millis(20);
/// Keyframe requests no closer than this: one lost frame in a burst is
/// enough to ask, and the encoder needs a moment to answer.
const KEYFRAME_REQUEST_GAP: Duration = Duration::from_millis(300);

enum Receive {
    Playout(JitterBuffer),
    Reorder(ReorderBuffer),
}

impl Receive {
    fn new(policy: ReceivePolicy, clock_rate: u32) -> Self {
        match policy {
            ReceivePolicy::Playout { packet } => {
                Self::Playout(JitterBuffer::new(clock_rate, packet))
            }
            ReceivePolicy::Reorder { max_wait } => Self::Reorder(ReorderBuffer::new(max_wait)),
        }
    }
}

/// The key being sent as RFC 4733 events.
struct Key {
    sender: EventSender,
    timestamp: u32,
    next_at: Instant,
    /// Event packets replace the media packets now (not in the pause after).
    on: bool,
}

pub struct MediaStream {
    params: StreamParams,
    options: StreamOptions,
    started: Instant,
    srtp: Option<SrtpSession>,
    sender: RtpSender,
    /// The media time of the latest frame written, and when.
    last_write: Option<(Instant, u32)>,
    rtp_to: Latch,
    rtcp_to: Latch,
    stats: ReceiverStats,
    receive: Receive,
    events_in: EventReceiver,
    keys: VecDeque<u8>,
    key: Option<Key>,
    last_rx: Option<Instant>,
    media_up: bool,
    timed_out: bool,
    /// Middle bits of the peer's last SR's NTP time and when it came.
    last_sr: Option<(u32, Instant)>,
    rtt_ms: Option<f64>,
    next_report: Instant,
    dropped: u32,
    last_keyframe_request: Option<Instant>,
    /// A keyframe request waiting for its turn (`true`: a FIR).
    keyframe_wanted: Option<bool>,
    fir_seq: u8,
    /// The last FIR of the peer, so a repeat is not a second request.
    fir_in: Option<u8>,
    out: VecDeque<Output>,
}

impl MediaStream {
    pub fn new(now: Instant, params: StreamParams, options: StreamOptions) -> Result<Self, String> {
        let srtp = srtp_for(&params)?;
        Ok(Self {
            started: now,
            srtp,
            sender: RtpSender::new(options.ssrc, options.first_seq, options.timestamp_base),
            last_write: None,
            rtp_to: Latch::new(params.remote_rtp),
            rtcp_to: Latch::new(params.remote_rtcp),
            stats: ReceiverStats::new(params.clock_rate),
            receive: Receive::new(options.receive, params.clock_rate),
            events_in: EventReceiver::default(),
            keys: VecDeque::new(),
            key: None,
            last_rx: None,
            media_up: false,
            timed_out: false,
            last_sr: None,
            rtt_ms: None,
            next_report: now + options.report_interval,
            dropped: 0,
            last_keyframe_request: None,
            keyframe_wanted: None,
            fir_seq: 0,
            fir_in: None,
            out: VecDeque::new(),
            params,
            options,
        })
    }

    pub fn params(&self) -> &StreamParams {
        &self.params
    }

    pub fn ssrc(&self) -> u32 {
        self.sender.ssrc
    }

    /// Where media goes now (the signalled address, or where the peer's
    /// media comes from).
    pub fn remote_rtp(&self) -> SocketAddr {
        self.rtp_to.current
    }

    /// New parameters from a re-negotiation (hold, new address, new codec,
    /// new keys). Keys that do not make an SRTP context are refused and
    /// the old ones kept; everything else applies.
    pub fn update(&mut self, now: Instant, params: StreamParams) -> Result<(), String> {
        let mut result = Ok(());
        if params.srtp != self.params.srtp {
            match srtp_for(&params) {
                Ok(s) => self.srtp = s,
                Err(e) => result = Err(e),
            }
        }
        if params.clock_rate != self.params.clock_rate || params.recv_pts != self.params.recv_pts {
            self.receive = Receive::new(self.options.receive, params.clock_rate);
            self.stats = ReceiverStats::new(params.clock_rate);
        }
        self.rtp_to.signal(params.remote_rtp);
        self.rtcp_to.signal(params.remote_rtcp);
        let srtp = std::mem::replace(&mut self.params, params).srtp;
        if result.is_err() {
            self.params.srtp = srtp;
        }
        self.last_rx = Some(now);
        self.timed_out = false;
        result
    }

    /// A datagram that came in on `port` from `from`.
    pub fn handle_receive(&mut self, now: Instant, port: Port, from: SocketAddr, data: &[u8]) {
        // RFC 5761 §4: packet types 192–223 are RTCP (under rtcp-mux too).
        if data.len() >= 2 && (192..=223).contains(&data[1]) {
            return self.receive_rtcp(now, port, from, data);
        }
        if port == Port::Rtcp {
            return self.drop_packet(format!("not RTCP on the RTCP port, from {from}"));
        }
        let plain;
        let data = match self.srtp.as_mut() {
            Some(s) => match s.unprotect_rtp(data) {
                Ok(p) => {
                    plain = p;
                    &plain[..]
                }
                Err(e) => return self.drop_packet(format!("SRTP: {e}")),
            },
            None => data,
        };
        let packet = match rtp::parse(data) {
            Ok(p) => p,
            Err(e) => return self.drop_packet(e),
        };
        let h = &packet.header;
        let media = self.params.recv_pts.contains(&h.payload_type);
        let event = self.params.events_recv.contains(&h.payload_type);
        match self.rtp_to.packet(from, media || event) {
            Verdict::Refuse => return self.drop_packet(format!("RTP from {from}, not the peer")),
            Verdict::Moved => self.event(Event::PeerMoved { to: from }),
            Verdict::Accept => {}
        }
        self.last_rx = Some(now);
        if !self.media_up {
            self.media_up = true;
            self.event(Event::MediaUp);
        }
        if event {
            self.stats
                .update(now, h.ssrc, h.sequence_number, h.timestamp);
            if let Some(key) = self.events_in.packet(h.timestamp, &packet.payload) {
                self.event(Event::Dtmf { key });
            }
        } else if media {
            self.stats
                .update(now, h.ssrc, h.sequence_number, h.timestamp);
            let payload = packet.payload.to_vec();
            match &mut self.receive {
                Receive::Playout(jb) => {
                    jb.push_packet(now, h.sequence_number, h.timestamp, payload)
                }
                Receive::Reorder(packets) => {
                    let packet = OrderedPacket {
                        seq: h.sequence_number,
                        timestamp: h.timestamp,
                        marker: h.marker,
                        payload,
                    };
                    packets.push(now, packet);
                    self.pop_reordered(now);
                }
            }
        } else if h.payload_type != COMFORT_NOISE {
            self.drop_packet(format!("payload type {} not negotiated", h.payload_type));
        }
    }

    fn receive_rtcp(&mut self, now: Instant, port: Port, from: SocketAddr, raw: &[u8]) {
        let data = match self.srtp.as_mut() {
            Some(s) => match s.unprotect_rtcp(raw) {
                Ok(p) => p,
                Err(e) => return self.drop_packet(format!("SRTCP: {e}")),
            },
            None => raw.to_vec(),
        };
        let report = match rtcp::parse(&data) {
            Ok(r) => r,
            Err(e) => return self.drop_packet(e),
        };
        // Under rtcp-mux reports come where RTP does, and follow its latch.
        if port == Port::Rtcp && self.rtcp_to.packet(from, true) == Verdict::Refuse {
            return self.drop_packet(format!("RTCP from {from}, not the peer"));
        }
        // Reports keep a call alive too (a peer in DTX sends little RTP).
        self.last_rx = Some(now);
        if let Some(sr) = report.sender {
            self.last_sr = Some((rtcp::ntp_middle(sr.ntp), now));
        }
        let ours = self.sender.ssrc;
        if let Some(b) = report.blocks.iter().find(|b| b.ssrc == ours) {
            if let Some(rtt) = rtcp::rtt_ms(b, self.ntp_at(now)) {
                self.rtt_ms = Some(rtt);
            }
            self.event(Event::PeerLoss {
                fraction_lost: b.fraction_lost,
            });
        }
        let requests = match feedback::parse(&data) {
            Ok(f) => f,
            Err(e) => return self.drop_packet(e),
        };
        for fb in requests {
            let asked = match fb {
                Feedback::PictureLoss { media_ssrc, .. } => media_ssrc == ours,
                Feedback::FullIntra {
                    media_ssrc, seq, ..
                } => media_ssrc == ours && self.fir_in.replace(seq) != Some(seq),
                Feedback::FullIntraLegacy { ssrc } => ssrc == ours,
                // No send history to repeat from: a lost packet stays lost.
                Feedback::Nack { .. } => false,
            };
            if asked {
                self.event(Event::KeyframeRequest);
            }
        }
    }

    /// Sends one packet of media: `time` is its media time in clock units
    /// from the stream's start (the packets of one frame share it),
    /// `marker` as the payload format says (the first packet of a talk
    /// spurt for audio, the last of a frame for video). Not sent while the
    /// direction does not send, nor while a key's events take its place.
    pub fn write(&mut self, now: Instant, time: u32, payload: &[u8], marker: bool) {
        self.last_write = Some((now, time));
        if !self.params.direction.sends() || self.key.as_ref().is_some_and(|k| k.on) {
            return;
        }
        let timestamp = self.sender.timestamp_base.wrapping_add(time);
        let packet = self
            .sender
            .packet(self.params.send_pt, marker, timestamp, payload);
        self.send_rtp(packet);
    }

    /// Queues a key (0–16) to send as RFC 4733 events; keys go one after
    /// the other, each 100 ms on and 60 ms off.
    pub fn send_dtmf(&mut self, now: Instant, key: u8) -> Result<(), String> {
        if self.params.events_send.is_none() {
            return Err("the peer did not negotiate telephone-event".into());
        }
        if key > 16 {
            return Err(format!("DTMF key must be 0–16, got {key}"));
        }
        self.keys.push_back(key);
        self.run_keys(now);
        Ok(())
    }

    /// Asks the peer for a keyframe (PLI, or FIR when `full`), once its
    /// SSRC is known. Requests closer together than 300 ms are one: the
    /// later goes when the 300 ms have passed, so none is lost.
    pub fn request_keyframe(&mut self, now: Instant, full: bool) {
        if self.stats.ssrc.is_none() {
            return;
        }
        let pending = self.keyframe_wanted.get_or_insert(full);
        *pending |= full;
        self.send_keyframe_request(now);
    }

    fn send_keyframe_request(&mut self, now: Instant) {
        let (Some(full), Some(media_ssrc)) = (self.keyframe_wanted, self.stats.ssrc) else {
            return;
        };
        if self
            .last_keyframe_request
            .is_some_and(|t| now < t + KEYFRAME_REQUEST_GAP)
        {
            return;
        }
        self.keyframe_wanted = None;
        self.last_keyframe_request = Some(now);
        let ours = self.sender.ssrc;
        // Feedback travels after a report (RFC 4585 §3.1).
        let mut packet = rtcp::build(ours, None, &[], &self.options.cname);
        if full {
            self.fir_seq = self.fir_seq.wrapping_add(1);
            packet.extend(feedback::full_intra(ours, media_ssrc, self.fir_seq));
        } else {
            packet.extend(feedback::picture_loss(ours, media_ssrc));
        }
        self.send_rtcp(packet);
    }

    /// What to play for the period starting at `now` ([`ReceivePolicy::Playout`];
    /// silence otherwise).
    pub fn playout(&mut self, now: Instant) -> Playout {
        match &mut self.receive {
            Receive::Playout(jb) => jb.pop(now),
            Receive::Reorder(_) => Playout::Silence,
        }
    }

    /// When the packet the latest [`MediaStream::playout`] played arrived
    /// (`None`: it played none); see [`JitterBuffer::played_arrival`].
    pub fn played_arrival(&self) -> Option<Instant> {
        match &self.receive {
            Receive::Playout(jb) => jb.played_arrival(),
            Receive::Reorder(_) => None,
        }
    }

    /// What the jitter buffer played, concealed, found late or dropped
    /// ([`ReceivePolicy::Playout`]; zeros otherwise).
    pub fn playout_stats(&self) -> JitterStats {
        match &self.receive {
            Receive::Playout(jb) => jb.stats,
            Receive::Reorder(_) => JitterStats::default(),
        }
    }

    /// The duration of the peer's packets in clock units, as the jitter
    /// buffer learned it (0 for frames).
    pub fn packet_time(&self) -> u64 {
        match &self.receive {
            Receive::Playout(jb) => jb.frame_ts(),
            Receive::Reorder(_) => 0,
        }
    }

    /// Time has come to `now`: reports, timeouts, DTMF, gaps given up.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.run_keys(now);
        self.pop_reordered(now);
        self.send_keyframe_request(now);
        if let Some(silent) = self.silence(now) {
            self.timed_out = true;
            self.event(Event::Timeout { silent });
        }
        if now >= self.next_report {
            self.next_report = now + self.options.report_interval;
            self.report(now);
        }
    }

    /// The next transmit or event; [`Output::Timeout`] when there is none.
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        let mut at = self.next_report;
        if let Some(k) = &self.key {
            at = at.min(k.next_at);
        }
        if let (Some(_), Some(t)) = (self.keyframe_wanted, self.last_keyframe_request) {
            at = at.min(t + KEYFRAME_REQUEST_GAP);
        }
        if !self.timed_out && self.params.direction.receives() {
            at = at.min(self.last_rx.unwrap_or(self.started) + self.options.rtp_timeout);
        }
        if let Receive::Reorder(r) = &self.receive {
            if let Some(t) = r.poll_timeout() {
                at = at.min(t);
            }
        }
        Output::Timeout(at)
    }

    /// The figures so far.
    pub fn qos(&self) -> Qos {
        Qos {
            sent_packets: self.sender.packets,
            received_packets: self.stats.received,
            lost_packets: self.stats.lost(),
            jitter_ms: self.stats.jitter_ms(),
            rtt_ms: self.rtt_ms,
        }
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn drop_packet(&mut self, why: String) {
        // The first few, then every 500th: a flood must not flood the log.
        self.dropped += 1;
        if self.dropped <= 5 || self.dropped.is_multiple_of(500) {
            let count = self.dropped;
            self.event(Event::Dropped { why, count });
        }
    }

    fn pop_reordered(&mut self, now: Instant) {
        if let Receive::Reorder(packets) = &mut self.receive {
            while let Some(p) = packets.pop(now) {
                self.out.push_back(Output::Event(Event::Packet(p)));
            }
        }
    }

    /// How long the peer has been silent, once that is too long.
    fn silence(&self, now: Instant) -> Option<Duration> {
        if self.timed_out || !self.params.direction.receives() {
            return None;
        }
        let silent = now.saturating_duration_since(self.last_rx.unwrap_or(self.started));
        (silent >= self.options.rtp_timeout).then_some(silent)
    }

    /// The media time at `now`, from the latest frame written.
    fn media_time(&self, now: Instant) -> u32 {
        let (at, time) = self.last_write.unwrap_or((self.started, 0));
        let since = now.saturating_duration_since(at).as_secs_f64();
        time.wrapping_add((since * f64::from(self.params.clock_rate)) as u32)
    }

    fn run_keys(&mut self, now: Instant) {
        // Keys wait while we do not send (on hold).
        let Some((pt, clock)) = self
            .params
            .events_send
            .filter(|_| self.params.direction.sends())
        else {
            return;
        };
        loop {
            if self.key.is_none() {
                let Some(key) = self.keys.pop_front() else {
                    return;
                };
                self.key = Some(Key {
                    sender: EventSender::new(key, clock),
                    timestamp: self.media_time(now),
                    next_at: now,
                    on: true,
                });
            }
            let Some(k) = self.key.as_mut().filter(|k| k.next_at <= now) else {
                return;
            };
            k.next_at += EVENT_PACKET_EVERY;
            match k.sender.next_frame() {
                EventStep::Packet { event, marker } => {
                    k.on = true;
                    let timestamp = self.sender.timestamp_base.wrapping_add(k.timestamp);
                    let p = self.sender.packet(pt, marker, timestamp, &event.to_bytes());
                    self.send_rtp(p);
                }
                EventStep::Gap => k.on = false,
                EventStep::Done => self.key = None,
            }
        }
    }

    /// SRTP's protection when it is on; `None` when it fails (a key
    /// worn out: nothing goes out in the clear).
    fn protect(&mut self, packet: Vec<u8>, rtcp: bool) -> Option<Vec<u8>> {
        match self.srtp.as_mut() {
            Some(s) if rtcp => s.protect_rtcp(&packet).ok(),
            Some(s) => s.protect_rtp(&packet).ok(),
            None => Some(packet),
        }
    }

    fn send_rtp(&mut self, packet: Vec<u8>) {
        let Some(data) = self.protect(packet, false) else {
            return;
        };
        let to = self.rtp_to.current;
        self.out.push_back(Output::Transmit(Transmit {
            port: Port::Rtp,
            to,
            data,
        }));
    }

    fn send_rtcp(&mut self, packet: Vec<u8>) {
        let Some(data) = self.protect(packet, true) else {
            return;
        };
        // rtcp-mux: reports share the RTP socket and its destination.
        let (port, to) = if self.params.remote_rtcp == self.params.remote_rtp {
            (Port::Rtp, self.rtp_to.current)
        } else {
            (Port::Rtcp, self.rtcp_to.current)
        };
        self.out
            .push_back(Output::Transmit(Transmit { port, to, data }));
    }

    /// NTP time (32.32) at `now`.
    fn ntp_at(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.started);
        let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        self.options
            .ntp_start
            .wrapping_add((d.as_secs() << 32) | frac)
    }

    /// An SR (or RR) to the peer, and the figures to the plugin.
    fn report(&mut self, now: Instant) {
        let mut blocks = Vec::new();
        if let Some(ssrc) = self.stats.ssrc {
            let (last_sr, dlsr) = match self.last_sr {
                Some((mid, at)) => (mid, (now.duration_since(at).as_secs_f64() * 65536.0) as u32),
                None => (0, 0),
            };
            blocks.push(ReportBlock {
                ssrc,
                fraction_lost: self.stats.fraction_lost_since_last(),
                cumulative_lost: self.stats.lost() as u32,
                extended_max_seq: self.stats.extended_max(),
                jitter: self.stats.jitter_units(),
                last_sr,
                delay_since_last_sr: dlsr,
            });
        }
        let sender = (self.sender.packets > 0).then(|| SenderInfo {
            ntp: self.ntp_at(now),
            rtp_timestamp: self.sender.last_timestamp,
            packets: self.sender.packets as u32,
            octets: self.sender.octets as u32,
        });
        if self.params.direction != Direction::Inactive {
            let packet = rtcp::build(self.sender.ssrc, sender, &blocks, &self.options.cname);
            self.send_rtcp(packet);
        }
        let qos = self.qos();
        self.event(Event::Report(qos));
    }
}

fn srtp_for(params: &StreamParams) -> Result<Option<SrtpSession>, String> {
    params
        .srtp
        .as_ref()
        .map(|(ours, theirs)| SrtpSession::new(ours, theirs))
        .transpose()
}
