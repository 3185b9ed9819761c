//! Two video sessions over loopback with a relay that drops 5 % of one
//! direction's packets: the receiver drops the frames with gaps, asks for
//! keyframes (PLI), the sender answers with keyframes, and pictures keep
//! coming, the sender's stamps readable and in order.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seatphone_media::payload::VideoCodec;
use seatphone_media::sdp::Direction;
use seatphone_media::stream::StreamParams;
use seatphone_video_core::camera::pattern::read_stamp;
use seatphone_video_core::camera::CameraSetting;
use seatphone_video_core::picture::Picture;
use seatphone_video_core::session::{bind_pair, Session, Setup, Sink, Stats};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The stamps of the pictures decoded, and the keyframe flags of the
/// frames received (what a recording gets).
#[derive(Clone, Default)]
struct Counters(Arc<Mutex<Vec<u32>>>, Arc<Mutex<Vec<bool>>>);

impl Sink for Counters {
    fn remote(&mut self, picture: &Picture, _timestamp: u32) {
        if let Some(s) = read_stamp(picture) {
            self.0.lock().unwrap().push(s.counter);
        }
    }
    fn remote_encoded(&mut self, frame: &seatphone_media::payload::Frame) {
        assert!(!frame.data.is_empty());
        self.1.lock().unwrap().push(frame.keyframe);
    }
    fn local(&mut self, _picture: &Picture) {}
    fn log(&mut self, _message: &str) {}
}

fn params(rtp: u16, rtcp: u16, direction: Direction) -> StreamParams {
    StreamParams {
        clock_rate: 90_000,
        send_pt: 96,
        recv_pts: vec![96],
        events_send: None,
        events_recv: vec![],
        remote_rtp: SocketAddr::new(LOCALHOST, rtp),
        remote_rtcp: SocketAddr::new(LOCALHOST, rtcp),
        direction,
        srtp: None,
    }
}

fn setup(
    codec: VideoCodec,
    params: StreamParams,
    (rtp, rtcp): (UdpSocket, Option<UdpSocket>),
) -> Setup {
    Setup {
        codec,
        params,
        rtp,
        rtcp,
        camera: CameraSetting::Pattern,
        size: (320, 240),
        fps: 25,
        bitrate: 600_000,
        // Only requests bring keyframes after the first.
        keyframe_every: Duration::from_secs(600),
        openh264: None,
        peer_max_bps: None,
    }
}

/// Runs A → relay → B with every `drop_every`-th packet dropped until
/// `done(pictures B decoded, packets dropped)`, or 30 s.
fn lossy_link(
    codec: VideoCodec,
    drop_every: u64,
    done: impl Fn(usize, u64) -> bool,
) -> (Vec<u32>, u64, Stats, Stats) {
    let a = bind_pair(LOCALHOST, true).unwrap();
    let b = bind_pair(LOCALHOST, true).unwrap();
    let port = |s: &UdpSocket| s.local_addr().unwrap().port();
    let (a_rtp, a_rtcp) = (port(&a.0), port(a.1.as_ref().unwrap()));
    let (b_rtp, b_rtcp) = (port(&b.0), port(b.1.as_ref().unwrap()));
    // A's media goes through the relay, which drops every 20th packet. A
    // only sends and B only receives: media from B would make A latch onto
    // B's address and go round the relay.
    let relay = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    relay
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let relay_port = relay.local_addr().unwrap().port();
    let (stop, dropped) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let relay_thread = {
        let (stop, dropped) = (stop.clone(), dropped.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if let Ok((len, _)) = relay.recv_from(&mut buf) {
                    n += 1;
                    if n.is_multiple_of(drop_every) {
                        dropped.fetch_add(1, Ordering::Relaxed);
                    } else {
                        let _ = relay.send_to(&buf[..len], (LOCALHOST, b_rtp));
                    }
                }
            }
        })
    };
    let seen_by_b = Counters::default();
    let sender = Session::start(
        setup(codec, params(relay_port, b_rtcp, Direction::SendOnly), a),
        Box::new(Counters::default()),
    )
    .unwrap();
    let receiver = Session::start(
        setup(codec, params(a_rtp, a_rtcp, Direction::RecvOnly), b),
        Box::new(seen_by_b.clone()),
    )
    .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until
        && !done(
            seen_by_b.0.lock().unwrap().len(),
            dropped.load(Ordering::Relaxed),
        )
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (tx, rx) = (sender.stop(), receiver.stop());
    stop.store(true, Ordering::Relaxed);
    relay_thread.join().unwrap();
    let counters = seen_by_b.0.lock().unwrap().clone();
    (counters, dropped.load(Ordering::Relaxed), tx, rx)
}

/// 5 % lost: frames with gaps are dropped, keyframes asked and answered,
/// and pictures keep coming.
fn lossy_link_recovers(codec: VideoCodec) {
    let before = std::sync::Mutex::new(None);
    let (counters, _, tx, rx) = lossy_link(codec, 20, |got, dropped| {
        let mut at = before.lock().unwrap();
        match *at {
            None if dropped >= 10 => {
                *at = Some(got);
                false
            }
            Some(n) => got >= n + 100,
            None => false,
        }
    });
    let at = before
        .lock()
        .unwrap()
        .expect("the relay dropped 10 packets");
    assert!(
        counters.len() >= at + 100,
        "{codec:?}: {} pictures, {at} before the losses; sender {tx:?}, receiver {rx:?}",
        counters.len()
    );
    assert!(
        rx.keyframes_asked >= 1 && tx.keyframe_requests_received >= 1,
        "{tx:?} {rx:?}"
    );
    assert!(
        tx.keyframes_sent >= 2,
        "keyframes answered the requests: {tx:?}"
    );
    assert!(counters.windows(2).all(|w| w[1] > w[0]), "stamps in order");
}

/// 20 % lost: the receiver's reports make the sender lower its rate.
#[test]
fn heavy_loss_lowers_the_rate() {
    // Reports go every 5 s: three of them.
    let start = Instant::now();
    let (_, dropped, tx, _) = lossy_link(VideoCodec::Vp8, 5, |_, _| {
        start.elapsed() > Duration::from_secs(16)
    });
    assert!(dropped > 0);
    assert!(tx.rate_changes >= 1, "{tx:?}");
}

#[test]
fn vp8_recovers_from_loss_with_keyframe_requests() {
    lossy_link_recovers(VideoCodec::Vp8);
}

#[test]
fn h264_recovers_from_loss_with_keyframe_requests() {
    lossy_link_recovers(VideoCodec::H264);
}

/// A recording starting mid-call asks the peer for a keyframe: the
/// receiving session sends a PLI, the sender answers with a keyframe, and
/// the frames as received (before decoding) say which are keyframes.
#[test]
fn asking_for_a_keyframe_brings_one() {
    for codec in [VideoCodec::Vp8, VideoCodec::H264] {
        let a = bind_pair(LOCALHOST, true).unwrap();
        let b = bind_pair(LOCALHOST, true).unwrap();
        let port = |s: &UdpSocket| s.local_addr().unwrap().port();
        let (a_ports, b_ports) = (
            (port(&a.0), port(a.1.as_ref().unwrap())),
            (port(&b.0), port(b.1.as_ref().unwrap())),
        );
        let seen = Counters::default();
        let sender = Session::start(
            setup(codec, params(b_ports.0, b_ports.1, Direction::SendOnly), a),
            Box::new(Counters::default()),
        )
        .unwrap();
        let receiver = Session::start(
            setup(codec, params(a_ports.0, a_ports.1, Direction::RecvOnly), b),
            Box::new(seen.clone()),
        )
        .unwrap();
        let frames = || seen.1.lock().unwrap().clone();
        let wait_for = |n: usize| {
            let until = Instant::now() + Duration::from_secs(20);
            while frames().len() < n && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        wait_for(30);
        let before = frames().iter().filter(|k| **k).count();
        assert_eq!(before, 1, "{codec:?}: only the first frame is a keyframe");
        receiver.ask_keyframe();
        let asked_at = frames().len();
        wait_for(asked_at + 30);
        let (tx, _) = (sender.stop(), receiver.stop());
        let after = frames()[asked_at..].iter().filter(|k| **k).count();
        assert!(
            after >= 1,
            "{codec:?}: a keyframe came after the request ({tx:?})"
        );
        assert!(tx.keyframe_requests_received >= 1, "{tx:?}");
    }
}

#[test]
fn rtp_takes_an_even_port_and_rtcp_the_one_above() {
    for _ in 0..20 {
        let (rtp, rtcp) = bind_pair(LOCALHOST, true).unwrap();
        let port = rtp.local_addr().unwrap().port();
        assert_eq!(port % 2, 0, "RTP on odd port {port}");
        let rtcp = rtcp.expect("an RTCP socket").local_addr().unwrap().port();
        assert_eq!(rtcp, port + 1);
    }
}
