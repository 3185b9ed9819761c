//! One call's media: a thread of its own that keeps the call's sockets,
//! its poll and its devices, and drives the media core
//! (`seatphone_media::stream`), which decides everything else. The host's
//! threads only send it messages and wake it: nothing here waits for the
//! thread, so a call stops without holding up the SIP task.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seatphone_media::rtp;
use seatphone_media::stream::{MediaStream, ReceivePolicy, StreamOptions};
use seatphone_plugin_api::{Host, LogLevel, Signal};

use crate::controls::Controls;
use crate::negotiate::Negotiated;
use crate::page_config::DtmfMode;

mod audio;
mod bus;
mod devices;
mod events;
mod thread;

use thread::{MediaThread, WAKE};

/// The device clock: one 20 ms frame played and one recorded per tick.
const TICK: Duration = Duration::from_millis(20);

/// The longest a held call thread waits for [`Session::release`]: should
/// the host not tell the plugin of the call's state (a path not foreseen),
/// media starts this late rather than never.
pub const HELD_AT_MOST: Duration = Duration::from_millis(200);

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
    /// This call's mute (`tsdk_mute_mic`), set before or during the media.
    pub muted: Arc<AtomicBool>,
    pub dtmf_mode: DtmfMode,
    pub rtp_timeout: Duration,
    /// `audio_aec`, `audio_anr`, `audio_agc`.
    pub voice: (bool, u8, bool),
}

/// The handle the plugin keeps for a running call.
pub struct Session {
    tx: Sender<Control>,
    waker: Arc<mio::Waker>,
    /// A held thread waits on this (see [`Session::start`]).
    release: Option<Sender<()>>,
    pub negotiated: Negotiated,
}

impl Session {
    /// Starts the call's thread; `Err` (keys that make no SRTP context, no
    /// thread) means the call has no media. The codec, the sockets' poll
    /// and the call's buffers are made on the new thread, not on the
    /// caller's (the SIP task, which tells the page the call is connected
    /// once this returns); one that cannot be made ends the call as a
    /// failed engine does (`Signal::MediaFailed`).
    ///
    /// `held`: the thread waits for [`Session::release`] (at most
    /// [`HELD_AT_MOST`]) before it makes any of that and sends its first
    /// frame. An outgoing call's media starts on the SIP task just before
    /// it tells the page the call is connected (2006) and then the plugin
    /// (`CallEvent::Connected`): on a busy machine the new thread's set-up
    /// and first encoded frame took the CPU from the SIP task and held up
    /// the page's 2006 by about as long (issue 20).
    pub fn start(
        ctx: CallContext,
        rtp: UdpSocket,
        rtcp: UdpSocket,
        negotiated: Negotiated,
        held: bool,
    ) -> Result<Self, String> {
        let mut options = StreamOptions::new(ReceivePolicy::Playout { packet: TICK });
        options.rtp_timeout = ctx.rtp_timeout;
        let stream = MediaStream::new(Instant::now(), negotiated.stream_params(), options)?;
        let poll = mio::Poll::new().map_err(|e| e.to_string())?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE).map_err(|e| e.to_string())?);
        let (tx, rx) = mpsc::channel();
        let (host, call_id) = (ctx.host.clone(), ctx.call_id);
        let n = negotiated.clone();
        let (release, released) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name(format!("audio-call-{call_id}"))
            .spawn(move || {
                if held {
                    match released.recv_timeout(HELD_AT_MOST) {
                        Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                        // The session was dropped: the call ended first.
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                // A bug here must end this call's media, not the engine.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    MediaThread::new(ctx, rtp, rtcp, poll, stream, n).map(|media| media.run(rx))
                }));
                let reason = match run {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => {
                        host.log(
                            LogLevel::Error,
                            &format!("audio call {call_id}: media cannot start: {e}"),
                        );
                        e
                    }
                    Err(_) => {
                        host.log(
                            LogLevel::Error,
                            &format!("audio call {call_id}: media engine failed"),
                        );
                        "the audio engine failed".into()
                    }
                };
                host.signal(&Signal::MediaFailed {
                    call_id,
                    kind: "audio".into(),
                    reason,
                });
            })
            .map_err(|e| format!("cannot start the call's media thread: {e}"))?;
        Ok(Self {
            tx,
            waker,
            release: Some(release),
            negotiated,
        })
    }

    /// Lets a held thread begin (see [`Session::start`]); once.
    pub fn release(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
    }

    fn tell(&self, control: Control) {
        // A thread that already ended has nothing to be told.
        if self.tx.send(control).is_ok() {
            let _ = self.waker.wake();
        }
    }

    pub fn update(&mut self, negotiated: Negotiated) {
        self.negotiated = negotiated.clone();
        self.tell(Control::Update(Box::new(negotiated)));
    }

    pub fn dtmf(&self, tone: u8) {
        self.tell(Control::Dtmf(tone));
    }
}

impl Drop for Session {
    /// Wakes the thread to stop; it closes its devices and sockets on its
    /// own, while the caller (the SIP task) goes on.
    fn drop(&mut self) {
        self.tell(Control::Stop);
    }
}

/// Binds an RTP port and the RTCP port above it on `ip` (`rtp::bind_pair`).
pub fn bind_pair(ip: std::net::IpAddr) -> Result<(UdpSocket, UdpSocket), String> {
    let bind = |port| UdpSocket::bind(SocketAddr::new(ip, port));
    rtp::bind_pair(50, bind, |s| s.local_addr().map(|a| a.port()))
        .map_err(|e| format!("cannot bind RTP on {ip}: {e}"))?
        .ok_or_else(|| format!("no free RTP/RTCP port pair on {ip}"))
}
