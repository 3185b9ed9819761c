//! One call's video stream on its own thread: the sockets, the camera and
//! the codecs, driving the sans-IO stream core (`seatphone_media::stream`)
//! with `now`. Pictures out of the decoder (and the camera, for the
//! preview) go to a [`Sink`]; the thread keeps no policy of its own beyond
//! "a lost frame asks for a keyframe, a peer's request gets one".

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use seatphone_media::payload::{Assembled, FrameAssembler, Packetizer, VideoCodec, DEFAULT_MTU};
use seatphone_media::rtp;
use seatphone_media::stream::{
    Event, MediaStream, Output, Port, ReceivePolicy, StreamOptions, StreamParams,
};

use crate::camera::{Camera, CameraSetting};
use crate::codec::{Decoder, Encoder, OpenH264};
use crate::picture::Picture;
use crate::rate::{half, RateControl};

/// Where a session's pictures and news go (the window, the frame bus, the
/// log). Called on the session's thread: return quickly.
pub trait Sink: Send {
    /// A picture decoded from the peer; `timestamp` is its RTP time.
    fn remote(&mut self, picture: &Picture, timestamp: u32);
    /// A picture of the peer as received, before decoding (H.264 Annex B
    /// or a VP8 frame), for recordings that keep it as it is.
    fn remote_encoded(&mut self, _frame: &seatphone_media::payload::Frame) {}
    /// A picture from our camera, as sent.
    fn local(&mut self, picture: &Picture);
    /// What we send, as encoded (camera or shared screen), for a page
    /// that shows it itself.
    fn local_encoded(&mut self, _unit: &crate::codec::Encoded) {}
    /// Something worth a line in the log.
    fn log(&mut self, message: &str);
}

/// What the session is made with.
pub struct Setup {
    pub codec: VideoCodec,
    pub params: StreamParams,
    /// Bound by the caller (its port is in our SDP).
    pub rtp: UdpSocket,
    /// `None` under rtcp-mux.
    pub rtcp: Option<UdpSocket>,
    pub camera: CameraSetting,
    /// What we send: size, frame rate, target bit/s.
    pub size: (u32, u32),
    pub fps: u32,
    pub bitrate: u32,
    /// A keyframe at least this often (for a peer that never asks).
    pub keyframe_every: Duration,
    pub openh264: OpenH264,
    /// The peer's limit for what we send (`b=TIAS`/`b=AS`), bit/s.
    pub peer_max_bps: Option<u32>,
}

/// What a finished session did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub pictures_sent: u64,
    pub keyframes_sent: u64,
    pub pictures_received: u64,
    pub keyframe_requests_received: u64,
    pub keyframes_asked: u64,
    pub frames_dropped: u64,
    /// Rate changes made after the peer's loss reports.
    pub rate_changes: u64,
    /// Pictures of a shared screen sent in place of the camera.
    pub share_pictures_sent: u64,
}

enum Control {
    Stop,
    Camera(bool),
    Params(Box<StreamParams>),
    Keyframe,
    AskKeyframe,
    /// A shared screen's new picture, or `None`: the share ended.
    Share(Option<Picture>),
}

/// The running session; stopped (and its thread joined) on drop.
pub struct Session {
    control: Sender<Control>,
    waker: Arc<mio::Waker>,
    thread: Option<JoinHandle<Stats>>,
}

const RTP: mio::Token = mio::Token(0);
const RTCP: mio::Token = mio::Token(1);
const WAKE: mio::Token = mio::Token(2);

impl Session {
    pub fn start(setup: Setup, sink: Box<dyn Sink>) -> Result<Session, String> {
        let poll = mio::Poll::new().map_err(|e| format!("poll: {e}"))?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE).map_err(|e| e.to_string())?);
        let (control, commands) = channel();
        let thread = std::thread::Builder::new()
            .name("video".into())
            .spawn(move || run(setup, sink, poll, commands))
            .map_err(|e| format!("video thread: {e}"))?;
        Ok(Session {
            control,
            waker,
            thread: Some(thread),
        })
    }

    fn send(&self, c: Control) {
        let _ = self.control.send(c);
        let _ = self.waker.wake();
    }

    /// Camera on (pictures sent) or off (black sent, the stream stays).
    pub fn set_camera(&self, on: bool) {
        self.send(Control::Camera(on));
    }

    /// New parameters after a re-negotiation.
    pub fn update(&self, params: StreamParams) {
        self.send(Control::Params(Box::new(params)));
    }

    /// A picture of a shared screen (the share plugin's), sent in place of
    /// the camera when it changed; `None` ends the share and the camera
    /// comes back.
    pub fn share(&self, picture: Option<Picture>) {
        self.send(Control::Share(picture));
    }

    /// Send a keyframe now.
    pub fn keyframe(&self) {
        self.send(Control::Keyframe);
    }

    /// Ask the peer for a keyframe (PLI), as a lost frame would: a
    /// recording starts on one.
    pub fn ask_keyframe(&self) {
        self.send(Control::AskKeyframe);
    }

    /// Stops the thread (promptly: it is woken) and says what it did.
    pub fn stop(mut self) -> Stats {
        self.finish()
    }

    fn finish(&mut self) -> Stats {
        self.send(Control::Stop);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.finish();
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The sending half: camera, encoder, packetizer.
struct Sending {
    camera: Camera,
    camera_on: bool,
    /// The size black pictures are made at (not one kept: 460 KB a call
    /// for a camera that is rarely closed).
    black_size: (u32, u32),
    encoder: Option<Encoder>,
    packetizer: Packetizer,
    frame_every: Duration,
    next_frame: Instant,
    keyframe_every: Duration,
    last_keyframe: Option<Instant>,
    keyframe_wanted: bool,
    rate: RateControl,
    codec: VideoCodec,
    openh264: OpenH264,
    /// A shared screen, sent instead of the camera while it lasts.
    share: Option<Share>,
}

impl Sending {
    fn black(&self) -> Picture {
        let (w, h) = self.black_size;
        Picture::filled(w, h, crate::picture::BLACK)
    }
}

/// A shared screen in place of the camera: its own encoder (tuned for
/// text), fed when the screen changed, not on the camera's clock.
struct Share {
    encoder: Option<Encoder>,
    latest: Picture,
    /// `latest` has not been sent yet.
    fresh: bool,
    sent_at: Option<Instant>,
}

/// A still shared screen is sent again this often (an unchanged picture
/// costs a few bytes): receivers that wait for a new picture (a snapshot,
/// a late joiner) get one, and a lost picture is replaced.
const SHARE_REFRESH: Duration = Duration::from_secs(1);

/// The largest picture we send, in 16×16 macroblocks: H.264 level 3.1, as
/// our `profile-level-id` says (1280×720); VP8 up to 1920×1080.
fn max_macroblocks(codec: VideoCodec) -> usize {
    match codec {
        VideoCodec::H264 => 3600,
        VideoCodec::Vp8 => 8160,
    }
}

/// Halves a shared picture until it fits what the call negotiated.
fn fit(mut picture: Picture, codec: VideoCodec) -> Picture {
    let mbs = |p: &Picture| (p.width as usize).div_ceil(16) * (p.height as usize).div_ceil(16);
    while mbs(&picture) > max_macroblocks(codec) && picture.width >= 4 && picture.height >= 4 {
        picture = half(&picture);
    }
    picture
}

/// A shared screen's frame rate ceiling (the share plugin paces below it).
const SHARE_FPS: u32 = 15;

/// The receiving half: assembler, decoder.
struct Receiving {
    assembler: FrameAssembler,
    decoder: Option<Decoder>,
}

fn run(
    setup: Setup,
    mut sink: Box<dyn Sink>,
    mut poll: mio::Poll,
    commands: Receiver<Control>,
) -> Stats {
    let mut stats = Stats::default();
    let start = Instant::now();
    let mut stream = match MediaStream::new(
        start,
        setup.params.clone(),
        StreamOptions::new(ReceivePolicy::Reorder {
            max_wait: Duration::from_millis(60),
        }),
    ) {
        Ok(s) => s,
        Err(e) => {
            sink.log(&format!("video stream not started: {e}"));
            return stats;
        }
    };
    // mio wants non-blocking sockets.
    for s in std::iter::once(&setup.rtp).chain(setup.rtcp.as_ref()) {
        let _ = s.set_nonblocking(true);
    }
    let mut rtp = mio::net::UdpSocket::from_std(setup.rtp);
    let mut rtcp = setup.rtcp.map(mio::net::UdpSocket::from_std);
    let registered = poll
        .registry()
        .register(&mut rtp, RTP, mio::Interest::READABLE)
        .and_then(|()| match rtcp.as_mut() {
            Some(s) => poll.registry().register(s, RTCP, mio::Interest::READABLE),
            None => Ok(()),
        });
    if let Err(e) = registered {
        sink.log(&format!("video sockets not polled: {e}"));
        return stats;
    }
    let (w, h) = setup.size;
    let (camera, why) = Camera::open(&setup.camera, w, h);
    if let Some(why) = why {
        sink.log(&format!("camera: {why}"));
    }
    let encoder = Encoder::new(
        setup.codec,
        setup.size,
        setup.fps,
        setup.bitrate,
        &setup.openh264,
    )
    .map_err(|e| sink.log(&format!("no video sent: {e}")))
    .ok();
    let decoder = Decoder::new(setup.codec, &setup.openh264)
        .map_err(|e| sink.log(&format!("no video shown: {e}")))
        .ok();
    let mut tx = Sending {
        camera,
        camera_on: true,
        black_size: (w, h),
        encoder,
        packetizer: Packetizer::new(setup.codec, DEFAULT_MTU),
        frame_every: Duration::from_secs(1) / setup.fps.max(1),
        next_frame: start,
        keyframe_every: setup.keyframe_every,
        last_keyframe: None,
        keyframe_wanted: true,
        rate: RateControl::new(setup.bitrate, setup.fps, setup.peer_max_bps),
        codec: setup.codec,
        openh264: setup.openh264.clone(),
        share: None,
    };
    let first = tx.rate.rate();
    if let Some(e) = tx.encoder.as_mut() {
        if first.bitrate != setup.bitrate {
            let _ = e.set_rate(first.bitrate, first.fps);
        }
    }
    let mut rx = Receiving {
        assembler: FrameAssembler::new(setup.codec),
        decoder,
    };
    let mut events = mio::Events::with_capacity(8);
    let mut buf = vec![0u8; 2048];
    let mut wake_at = start;
    loop {
        let now = Instant::now();
        let wait = wake_at.min(tx.next_frame).saturating_duration_since(now);
        if let Err(e) = poll.poll(&mut events, Some(wait)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                sink.log(&format!("video poll failed: {e}"));
                break;
            }
        }
        while let Ok(c) = commands.try_recv() {
            match c {
                Control::Stop => return finish(stats, &rx),
                Control::Camera(on) => tx.camera_on = on,
                Control::Keyframe => tx.keyframe_wanted = true,
                Control::AskKeyframe => stream.request_keyframe(Instant::now(), false),
                Control::Params(p) => {
                    if let Err(e) = stream.update(Instant::now(), *p) {
                        sink.log(&format!("video stream update refused: {e}"));
                    }
                }
                Control::Share(picture) => share_picture(&mut tx, &mut *sink, picture),
            }
        }
        for (socket, port) in [(Some(&rtp), Port::Rtp), (rtcp.as_ref(), Port::Rtcp)] {
            let Some(socket) = socket else { continue };
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                stream.handle_receive(Instant::now(), port, from, &buf[..n]);
            }
        }
        let now = Instant::now();
        send_share(&mut tx, &mut stream, &mut *sink, &mut stats, now, start);
        if now >= tx.next_frame {
            send_picture(&mut tx, &mut stream, &mut *sink, &mut stats, now, start);
            tx.next_frame += tx.frame_every;
            if tx.next_frame < now {
                // Fell behind (a slow camera or encoder): skip, not burst.
                tx.next_frame = now + tx.frame_every;
            }
        }
        stream.handle_timeout(Instant::now());
        wake_at = drain(
            &mut stream,
            &rtp,
            rtcp.as_ref(),
            &mut tx,
            &mut rx,
            &mut *sink,
            &mut stats,
        );
    }
    finish(stats, &rx)
}

fn finish(mut stats: Stats, rx: &Receiving) -> Stats {
    stats.keyframes_asked = rx.assembler.stats.keyframes_asked;
    stats.frames_dropped = rx.assembler.stats.dropped + rx.assembler.stats.skipped;
    stats
}

fn send_picture(
    tx: &mut Sending,
    stream: &mut MediaStream,
    sink: &mut dyn Sink,
    stats: &mut Stats,
    now: Instant,
    start: Instant,
) {
    let picture = match tx.camera.next_picture(unix_ms()) {
        Ok(p) => p,
        Err(e) => {
            sink.log(&format!("camera stopped ({e}): sending black pictures"));
            tx.camera = Camera::Black(tx.black());
            tx.black()
        }
    };
    let picture = if tx.camera_on { picture } else { tx.black() };
    sink.local(&picture);
    if tx.share.is_some() {
        // The shared screen goes out instead (send_share).
        return;
    }
    // Under heavy loss the picture goes at half size (the encoder restarts
    // at a new size with a keyframe).
    let picture = if tx.rate.rate().divide == 2 {
        half(&picture)
    } else {
        picture
    };
    let Some(encoder) = tx.encoder.as_mut() else {
        return;
    };
    let due = tx
        .last_keyframe
        .is_none_or(|t| now.duration_since(t) >= tx.keyframe_every);
    let force = std::mem::take(&mut tx.keyframe_wanted) || due;
    let unit = match encoder.encode(&picture, force) {
        Ok(Some(unit)) => unit,
        Ok(None) => return,
        Err(e) => {
            sink.log(&format!("video encoder: {e}"));
            return;
        }
    };
    send_unit(tx, stream, sink, stats, unit, now, start);
}

/// A shared screen's picture arrived (or the share ended).
fn share_picture(tx: &mut Sending, sink: &mut dyn Sink, picture: Option<Picture>) {
    let Some(picture) = picture else {
        if tx.share.take().is_some() {
            sink.log("share ended: the camera again");
            // The camera's encoder refers to pictures the peer no longer has.
            tx.keyframe_wanted = true;
        }
        return;
    };
    let picture = fit(picture, tx.codec);
    match tx.share.as_mut() {
        Some(share) => {
            share.latest = picture;
            share.fresh = true;
        }
        None => {
            let rate = tx.rate.rate();
            let size = (picture.width, picture.height);
            let encoder = Encoder::screen(tx.codec, size, SHARE_FPS, rate.bitrate, &tx.openh264)
                .map_err(|e| sink.log(&format!("no screen encoder, the share is not sent: {e}")))
                .ok();
            sink.log(&format!(
                "sharing a screen of {}x{} in place of the camera",
                size.0, size.1
            ));
            tx.share = Some(Share {
                encoder,
                latest: picture,
                fresh: true,
                sent_at: None,
            });
            tx.keyframe_wanted = true;
        }
    }
}

/// Sends the shared screen's picture when it changed, or when a keyframe
/// is asked for or due, or a second went by (the same picture again).
fn send_share(
    tx: &mut Sending,
    stream: &mut MediaStream,
    sink: &mut dyn Sink,
    stats: &mut Stats,
    now: Instant,
    start: Instant,
) {
    let due = tx
        .last_keyframe
        .is_none_or(|t| now.duration_since(t) >= tx.keyframe_every);
    let Some(share) = tx.share.as_mut() else {
        return;
    };
    let refresh = share
        .sent_at
        .is_none_or(|t| now.duration_since(t) >= SHARE_REFRESH);
    if !(share.fresh || tx.keyframe_wanted || due || refresh) {
        return;
    }
    let Some(encoder) = share.encoder.as_mut() else {
        return;
    };
    share.fresh = false;
    share.sent_at = Some(now);
    let force = std::mem::take(&mut tx.keyframe_wanted) || due;
    let picture = if tx.rate.rate().divide == 2 {
        half(&share.latest)
    } else {
        share.latest.clone()
    };
    match encoder.encode(&picture, force) {
        Ok(Some(unit)) => {
            stats.share_pictures_sent += 1;
            send_unit(tx, stream, sink, stats, unit, now, start);
        }
        Ok(None) => {}
        Err(e) => sink.log(&format!("screen encoder: {e}")),
    }
}

/// Packetizes an encoded picture onto the stream.
fn send_unit(
    tx: &mut Sending,
    stream: &mut MediaStream,
    sink: &mut dyn Sink,
    stats: &mut Stats,
    unit: crate::codec::Encoded,
    now: Instant,
    start: Instant,
) {
    if unit.keyframe {
        tx.last_keyframe = Some(now);
        stats.keyframes_sent += 1;
    }
    stats.pictures_sent += 1;
    let time = (now.duration_since(start).as_micros() * 9 / 100) as u32;
    let payloads = tx.packetizer.packetize(&unit.data);
    let last = payloads.len().saturating_sub(1);
    for (i, p) in payloads.iter().enumerate() {
        stream.write(now, time, p, i == last);
    }
    sink.local_encoded(&unit);
}

/// Drains the stream's output; returns when it next wants `now`.
fn drain(
    stream: &mut MediaStream,
    rtp: &mio::net::UdpSocket,
    rtcp: Option<&mio::net::UdpSocket>,
    tx: &mut Sending,
    rx: &mut Receiving,
    sink: &mut dyn Sink,
    stats: &mut Stats,
) -> Instant {
    loop {
        match stream.poll_output() {
            Output::Transmit(t) => {
                let socket = match t.port {
                    Port::Rtcp => rtcp.unwrap_or(rtp),
                    Port::Rtp => rtp,
                };
                let _ = socket.send_to(&t.data, t.to);
            }
            Output::Event(Event::Packet(p)) => {
                match rx.assembler.push(p.seq, p.timestamp, p.marker, &p.payload) {
                    Assembled::Frame(frame) => {
                        sink.remote_encoded(&frame);
                        let Some(decoder) = rx.decoder.as_mut() else {
                            continue;
                        };
                        match decoder.decode(&frame.data) {
                            Ok(Some(picture)) => {
                                stats.pictures_received += 1;
                                sink.remote(&picture, frame.timestamp);
                            }
                            Ok(None) => {}
                            Err(_) => stream.request_keyframe(Instant::now(), false),
                        }
                    }
                    Assembled::NeedKeyframe => stream.request_keyframe(Instant::now(), false),
                    Assembled::Pending => {}
                }
            }
            Output::Event(Event::KeyframeRequest) => {
                stats.keyframe_requests_received += 1;
                tx.keyframe_wanted = true;
            }
            Output::Event(Event::PeerLoss { fraction_lost }) => {
                if let Some(r) = tx.rate.report(fraction_lost) {
                    stats.rate_changes += 1;
                    tx.frame_every = Duration::from_secs(1) / r.fps;
                    if let Some(e) = tx.encoder.as_mut() {
                        if let Err(e) = e.set_rate(r.bitrate, r.fps) {
                            sink.log(&format!("video rate change refused: {e}"));
                        }
                    }
                    let share = tx.share.as_mut().and_then(|s| s.encoder.as_mut());
                    if let Some(e) = share {
                        if let Err(e) = e.set_rate(r.bitrate, SHARE_FPS) {
                            sink.log(&format!("screen rate change refused: {e}"));
                        }
                    }
                }
            }
            Output::Event(Event::Timeout { silent }) => {
                sink.log(&format!(
                    "no video from the peer for {} s",
                    silent.as_secs()
                ));
            }
            Output::Event(Event::Dropped { why, count }) => {
                sink.log(&format!("video packet refused ({count} so far): {why}"));
            }
            Output::Event(_) => {}
            Output::Timeout(at) => return at,
        }
    }
}

/// A UDP socket for RTP on `ip`, any free even port, with the next port
/// bound for RTCP when `rtcp` (no rtcp-mux; `rtp::bind_pair`). Both
/// non-blocking.
pub fn bind_pair(
    ip: std::net::IpAddr,
    rtcp: bool,
) -> Result<(UdpSocket, Option<UdpSocket>), String> {
    let bind = |port| UdpSocket::bind(SocketAddr::new(ip, port));
    let nonblocking = |s: &UdpSocket| s.set_nonblocking(true).map_err(|e| e.to_string());
    if !rtcp {
        let rtp = bind(0).map_err(|e| e.to_string())?;
        nonblocking(&rtp)?;
        return Ok((rtp, None));
    }
    let (rtp, rtcp) = rtp::bind_pair(64, bind, |s| s.local_addr().map(|a| a.port()))
        .map_err(|e| e.to_string())?
        .ok_or("no free RTP/RTCP port pair")?;
    nonblocking(&rtp)?;
    nonblocking(&rtcp)?;
    Ok((rtp, Some(rtcp)))
}
