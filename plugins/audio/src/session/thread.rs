//! The call's thread: its sockets, its poll (with the waker the host's
//! threads ring) and the device clock. Everything it hears goes into the
//! media core with `now`; everything the core says goes out to a socket
//! or to the host.

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use mio::net::UdpSocket as MioSocket;
use mio::{Interest, Token};
use seatphone_media::stream::{MediaStream, Output, Port};
use seatphone_plugin_api::LogLevel;

use super::audio::Audio;
use super::{CallContext, Control, TICK};
use crate::negotiate::Negotiated;

/// The host's threads woke us: a control message waits.
pub(super) const WAKE: Token = Token(0);
const RTP: Token = Token(1);
const RTCP: Token = Token(2);

/// A flood must not keep the thread from its tick: past this many
/// datagrams in a wait, the rest stay in the socket (and the kernel drops
/// what overflows).
const BUDGET: usize = 200;

pub(super) struct MediaThread {
    pub(super) ctx: CallContext,
    rtp: MioSocket,
    rtcp: MioSocket,
    poll: mio::Poll,
    events: mio::Events,
    pub(super) stream: MediaStream,
    /// When the core wants `handle_timeout`.
    wake_at: Instant,
    pub(super) n: Negotiated,
    pub(super) audio: Audio,
}

fn register(poll: &mio::Poll, socket: UdpSocket, token: Token) -> Result<MioSocket, String> {
    socket.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut socket = MioSocket::from_std(socket);
    poll.registry()
        .register(&mut socket, token, Interest::READABLE)
        .map_err(|e| e.to_string())?;
    Ok(socket)
}

impl MediaThread {
    pub(super) fn new(
        ctx: CallContext,
        rtp: UdpSocket,
        rtcp: UdpSocket,
        poll: mio::Poll,
        stream: MediaStream,
        n: Negotiated,
    ) -> Result<Self, String> {
        Ok(Self {
            rtp: register(&poll, rtp, RTP)?,
            rtcp: register(&poll, rtcp, RTCP)?,
            poll,
            events: mio::Events::with_capacity(8),
            stream,
            wake_at: Instant::now(),
            audio: Audio::new(&n, &ctx)?,
            n,
            ctx,
        })
    }

    pub(super) fn log(&self, level: LogLevel, msg: &str) {
        self.ctx
            .host
            .log(level, &format!("audio call {}: {msg}", self.ctx.call_id));
    }

    pub(super) fn run(mut self, rx: Receiver<Control>) {
        // The voice library loads here, not on the host's thread, and before
        // "media starts" is logged: the line says the call's processing is set up.
        self.audio.open_voice(&self.ctx);
        // The device clock must not wait behind the rest of the machine.
        let priority = match crate::realtime::promote_current_thread() {
            Ok(()) => "real-time".to_owned(),
            Err(e) => e,
        };
        self.log(
            LogLevel::Info,
            &format!(
                "media starts: {} to {} ({}, {:?}, {priority})",
                self.n.codec.name,
                self.n.remote_rtp,
                if self.n.srtp.is_some() { "SRTP" } else { "RTP" },
                self.n.direction
            ),
        );
        let mut next_frame = Instant::now();
        // The device clock's worst lateness: past the speaker's margin it
        // is a hole in what the user hears.
        let mut late = Duration::ZERO;
        // Counted after the first second: devices open on this thread.
        let mut ticks = 0u32;
        loop {
            loop {
                match rx.try_recv() {
                    Ok(Control::Stop) | Err(TryRecvError::Disconnected) => {
                        self.log(LogLevel::Info, &self.summary(late));
                        return;
                    }
                    Ok(Control::Update(n)) => self.update(*n),
                    Ok(Control::Dtmf(tone)) => self.dtmf(tone),
                    Err(TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            if now >= next_frame {
                if ticks >= 50 {
                    late = late.max(now - next_frame);
                }
                ticks += 1;
                self.frame(now);
                next_frame += TICK;
                if now.saturating_duration_since(next_frame) > TICK * 10 {
                    // Far behind (machine stalled): do not burst to catch up.
                    next_frame = now + TICK;
                }
            }
            if now >= self.wake_at {
                self.stream.handle_timeout(now);
            }
            self.drain();
            self.wait(next_frame);
        }
    }

    /// The last line of a call's media: what the listener heard of the
    /// peer (holes from the network, from the device, from this thread).
    fn summary(&self, late: Duration) -> String {
        let p = self.stream.playout_stats();
        format!(
            "media stops: {} packets played, {} concealed, {} late, {} dropped; \
             the speaker ran dry {} times and underran {} times; \
             the device clock was at most {} ms late",
            p.played,
            p.concealed,
            p.late,
            p.dropped,
            self.audio.speaker.ran_dry(),
            self.audio.speaker.underruns(),
            late.as_millis()
        )
    }

    /// Sends what the core has to send and acts on what it says, until it
    /// names the time it wants to be called again.
    pub(super) fn drain(&mut self) {
        loop {
            match self.stream.poll_output() {
                Output::Transmit(t) => {
                    let socket = match t.port {
                        Port::Rtp => &self.rtp,
                        Port::Rtcp => &self.rtcp,
                    };
                    let _ = socket.send_to(&t.data, t.to);
                }
                Output::Event(e) => self.on_event(e),
                Output::Timeout(at) => {
                    self.wake_at = at;
                    return;
                }
            }
        }
    }

    /// Takes datagrams as they arrive until the next frame, the core's
    /// timer or a wake: stamped at the next tick instead, every packet
    /// would be held up to a frame longer than the jitter buffer asks.
    fn wait(&mut self, next_frame: Instant) {
        let mut budget = BUDGET;
        loop {
            // Drain first: readiness is edge-triggered.
            budget -= self.receive(Port::Rtp, budget);
            budget -= self.receive(Port::Rtcp, budget);
            self.drain();
            let deadline = next_frame.min(self.wake_at);
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            if budget == 0 {
                std::thread::sleep(deadline - now);
                return;
            }
            if self
                .poll
                .poll(&mut self.events, Some(deadline - now))
                .is_err()
            {
                std::thread::sleep(deadline - now);
                return;
            }
            if self.events.iter().any(|e| e.token() == WAKE) {
                return;
            }
        }
    }

    /// Up to `budget` datagrams of one socket into the core; how many.
    fn receive(&mut self, port: Port, budget: usize) -> usize {
        let mut buf = [0u8; 2048];
        let mut used = 0;
        while used < budget {
            let socket = match port {
                Port::Rtp => &self.rtp,
                Port::Rtcp => &self.rtcp,
            };
            match socket.recv_from(&mut buf) {
                Ok((len, from)) => {
                    self.stream
                        .handle_receive(Instant::now(), port, from, &buf[..len]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                // An ICMP error (a peer not listening yet) is reported
                // once; datagrams may still wait behind it.
                Err(_) => {}
            }
            used += 1;
        }
        used
    }
}
