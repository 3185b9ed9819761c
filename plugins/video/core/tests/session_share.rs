//! A shared screen in place of the camera: one session sends the test
//! pattern, then a "screen" picture it is handed (at the screen's own
//! size), only when it changes, then the pattern again when the share
//! ends; the other session decodes each in turn.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seatphone_media::payload::VideoCodec;
use seatphone_media::sdp::Direction;
use seatphone_media::stream::StreamParams;
use seatphone_video_core::camera::pattern::read_stamp;
use seatphone_video_core::camera::CameraSetting;
use seatphone_video_core::picture::{Picture, Yuv};
use seatphone_video_core::session::{bind_pair, Session, Setup, Sink};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const ORANGE: Yuv = (150, 60, 190);

/// A decoded picture's size, its centre's colour and whether it carries a stamp.
type Seen = (u32, u32, Yuv, bool);

/// What the receiver decoded last.
#[derive(Clone, Default)]
struct Last(Arc<Mutex<Option<Seen>>>);

impl Sink for Last {
    fn remote(&mut self, p: &Picture, _timestamp: u32) {
        let centre = p.yuv(p.width as usize / 2, p.height as usize / 2);
        *self.0.lock().unwrap() = Some((p.width, p.height, centre, read_stamp(p).is_some()));
    }
    fn local(&mut self, _picture: &Picture) {}
    fn log(&mut self, _message: &str) {}
}

fn setup(
    codec: VideoCodec,
    to: (u16, u16),
    dir: Direction,
    s: (UdpSocket, Option<UdpSocket>),
) -> Setup {
    Setup {
        codec,
        params: StreamParams {
            clock_rate: 90_000,
            send_pt: 96,
            recv_pts: vec![96],
            events_send: None,
            events_recv: vec![],
            remote_rtp: SocketAddr::new(LOCALHOST, to.0),
            remote_rtcp: SocketAddr::new(LOCALHOST, to.1),
            direction: dir,
            srtp: None,
        },
        rtp: s.0,
        rtcp: s.1,
        camera: CameraSetting::Pattern,
        size: (320, 240),
        fps: 25,
        bitrate: 600_000,
        keyframe_every: Duration::from_secs(600),
        openh264: None,
        peer_max_bps: None,
    }
}

fn until(what: &str, last: &Last, ok: impl Fn(u32, u32, Yuv, bool) -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if let Some((w, h, c, stamp)) = *last.0.lock().unwrap() {
            if ok(w, h, c, stamp) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what}: last decoded {:?}", last.0.lock().unwrap());
}

fn close(a: Yuv, b: Yuv) -> bool {
    a.0.abs_diff(b.0) < 12 && a.1.abs_diff(b.1) < 12 && a.2.abs_diff(b.2) < 12
}

fn share_replaces_the_camera(codec: VideoCodec) {
    let a = bind_pair(LOCALHOST, true).unwrap();
    let b = bind_pair(LOCALHOST, true).unwrap();
    let port = |s: &(UdpSocket, Option<UdpSocket>)| {
        let p = |u: &UdpSocket| u.local_addr().unwrap().port();
        (p(&s.0), p(s.1.as_ref().unwrap()))
    };
    let (a_ports, b_ports) = (port(&a), port(&b));
    let last = Last::default();
    let sender = Session::start(
        setup(codec, b_ports, Direction::SendOnly, a),
        Box::new(Last::default()),
    )
    .unwrap();
    let receiver = Session::start(
        setup(codec, a_ports, Direction::RecvOnly, b),
        Box::new(last.clone()),
    )
    .unwrap();
    until("the camera first", &last, |w, h, _, stamp| {
        (w, h) == (320, 240) && stamp
    });

    // A 1920×1080 screen: H.264 level 3.1 takes it at half size.
    let mut screen = Picture::filled(1920, 1080, ORANGE);
    screen.fill_rect(0, 0, 64, 64, (235, 128, 128));
    sender.share(Some(screen.clone()));
    let want = if codec == VideoCodec::H264 {
        (960, 540)
    } else {
        (1920, 1080)
    };
    until("the shared screen", &last, |w, h, c, _| {
        (w, h) == want && close(c, ORANGE)
    });

    // Still for two and a half seconds: sent again once a second only.
    std::thread::sleep(Duration::from_millis(2500));
    // A change goes out.
    screen.fill_rect(0, 0, 1920, 1080, (81, 90, 240));
    sender.share(Some(screen));
    until("the screen's change", &last, |_, _, c, _| {
        close(c, (81, 90, 240))
    });

    sender.share(None);
    until("the camera again", &last, |w, h, _, stamp| {
        (w, h) == (320, 240) && stamp
    });
    let (tx, _) = (sender.stop(), receiver.stop());
    assert!(
        (3..=7).contains(&tx.share_pictures_sent),
        "{codec:?}: the screen was sent when it changed, not on the camera's clock: {tx:?}"
    );
}

#[test]
fn vp8_share_replaces_the_camera_until_it_ends() {
    share_replaces_the_camera(VideoCodec::Vp8);
}

#[test]
fn h264_share_replaces_the_camera_until_it_ends() {
    share_replaces_the_camera(VideoCodec::H264);
}
