//! Real video calls: the `seatphone` host with its video plugin (the test
//! pattern as camera, the window on an Xvfb screen) calls baresip through
//! Kamailio. baresip sends ffmpeg's moving testsrc2 and shows what it gets
//! to its `snapshot` module: its snapshot carries our pattern's stamp, and
//! our window shows its moving picture where the page put it, until the
//! call ends.

use std::time::Duration;

use crate::REAL_TIME;
use seatphone_tests::host::{Command, Event, Options, Page, Seatphone};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip, BaresipOptions};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::video::{peer_sees_our_pattern, peer_snapshot_until};
use seatphone_tests::xvfb::{region, Xvfb};
use seatphone_video_core::camera::pattern::read_stamp_luma;
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(10);

/// Who places a video call.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// The page: `startCall(n, true)`.
    Us,
    /// The page: `startAnonymousCall(n, true)`.
    UsAnonymously,
    /// baresip, and the page accepts with video.
    Peer,
}

async fn video_call(codec: &str, srtp: bool, caller: Caller) {
    let we_call = caller != Caller::Peer;
    let _serial = REAL_TIME.lock().await;
    let x = Xvfb::start();
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let mut options = BaresipOptions::answering(AnswerMode::Auto).video(codec);
    if srtp {
        options = options.srtp("srtp");
    }
    let peer = Baresip::start_with("1002", kam.port, &options).expect("baresip");
    let host = Seatphone::start(Options {
        extra_toml: format!(
            "[video]\ncamera = \"test\"\nwidth = 320\nheight = 240\nfps = 15\nbitrate = 300\n\
             codecs = [\"{codec}\"]\ndisplay = \"{}\"\n",
            x.display
        ),
        ..Options::default()
    })
    .await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let rect = json!({"posX": 100, "posY": 80, "width": 320, "height": 240});
    page.ok(Command::SetVideoRect, rect).await;
    let call_id = if we_call {
        let start = json!({"calleeNumber": "1002", "isVideo": true});
        let command = match caller {
            Caller::UsAnonymously => Command::StartAnonymousCall,
            _ => Command::StartCall,
        };
        let r = page.ok(command, start).await;
        assert!(r.get("errMsg").is_none(), "a video call as asked: {r}");
        assert_eq!(
            video_flag(&mut page, Event::CallOutgoing).await,
            1,
            "CallOutgoing"
        );
        r["param"]["callId"].clone()
    } else {
        // baresip calls with video: CallIncoming says it may be a video call, and
        // the page accepts with video.
        peer_calls_us(&mut page, &peer, 1, 1).await
    };
    assert_eq!(
        video_flag(&mut page, Event::CallConnected).await,
        1,
        "CallConnected"
    );
    if caller == Caller::UsAnonymously {
        assert!(peer.wait_event(T, "CALL_ESTABLISHED"));
        let seen = peer.incoming();
        assert!(seen.to_string().contains("anonymous"), "{seen}");
    }

    // baresip decodes our test pattern: its snapshot carries our stamp.
    let first = peer_sees_our_pattern(&peer);
    assert!(
        first.is_some(),
        "{codec}: no snapshot of baresip's carried our stamp\nbaresip:\n{}\nseatphone:\n{}",
        peer.log(),
        host.all_logs()
    );
    let later = peer_sees_our_pattern(&peer).unwrap();
    assert!(
        later > first.unwrap(),
        "our counter moves: {first:?} then {later}"
    );

    // Our window shows baresip's moving testsrc2, inside the rectangle
    // (white root around it).
    let area = (100, 80, 320, 240);
    let (a, b) = (region(&x.grab(), area), {
        std::thread::sleep(Duration::from_secs(1));
        region(&x.grab(), area)
    });
    let white = [255, 255, 255];
    assert!(
        a.iter().filter(|p| **p != white).count() > a.len() / 2,
        "{codec}: window not shown"
    );
    assert_ne!(a, b, "{codec}: the peer's picture moves");
    let outside = region(&x.grab(), (90, 70, 5, 5));
    assert!(
        outside.iter().all(|p| *p == white),
        "nothing outside the rectangle"
    );

    if codec == "VP8" && !srtp && caller == Caller::Us {
        // closeCamera: black goes out instead (no stamp); openCamera: the
        // pattern again.
        let camera = |open: bool| json!({"callId": call_id, "open": open});
        page.ok(Command::ControlCamera, camera(false)).await;
        let black = peer_snapshot_until(&peer, |g| {
            g.iter().map(|v| u32::from(*v)).sum::<u32>() / g.len() as u32 <= 40
                && read_stamp_luma(320, 240, |x, y| g[y * 320 + x]).is_none()
        });
        assert!(black, "closeCamera: baresip gets black pictures");
        page.ok(Command::ControlCamera, camera(true)).await;
        assert!(
            peer_sees_our_pattern(&peer).is_some(),
            "openCamera: the pattern again"
        );
        let r = page
            .request(Command::ControlCamera, json!({"callId": 99, "open": true}))
            .await;
        assert_eq!(r["result"], 5, "no such video call: {r}");
    }
    let wanted = if srtp {
        "kbit/s over SRTP"
    } else {
        "kbit/s over RTP"
    };
    assert!(
        host.all_logs().contains(wanted),
        "{codec}: the call's video went {wanted}"
    );

    // Hang up: the window goes.
    page.ok(Command::EndCall, json!({"callId": call_id})).await;
    let gone = (0..40).any(|_| {
        std::thread::sleep(Duration::from_millis(250));
        region(&x.grab(), area).iter().all(|p| *p == white)
    });
    let left: std::collections::BTreeMap<[u8; 3], usize> = region(&x.grab(), area)
        .into_iter()
        .fold(Default::default(), |mut m, p| {
            *m.entry(p).or_default() += 1;
            m
        });
    assert!(gone, "{codec}: the window is gone after hang-up: {left:?}");
    drop(host);
}

#[tokio::test(flavor = "multi_thread")]
async fn vp8_video_call_with_baresip_both_ways() {
    video_call("VP8", false, Caller::Us).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn h264_video_call_with_baresip_both_ways() {
    video_call("H264", false, Caller::Us).await;
}

/// SDES-SRTP on both streams (baresip's `mediaenc=srtp`): the pictures
/// still cross both ways.
#[tokio::test(flavor = "multi_thread")]
async fn vp8_video_call_over_srtp() {
    video_call("VP8", true, Caller::Us).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn h264_video_call_over_srtp() {
    video_call("H264", true, Caller::Us).await;
}

/// baresip calls us with video and the page accepts it with video.
#[tokio::test(flavor = "multi_thread")]
async fn vp8_video_call_from_baresip_accepted_with_video() {
    video_call("VP8", false, Caller::Peer).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn h264_video_call_from_baresip_accepted_with_video() {
    video_call("H264", false, Caller::Peer).await;
}

/// baresip 1002 sending VP8 video.
fn vp8_peer(kam: &Kamailio) -> Baresip {
    Baresip::start_with(
        "1002",
        kam.port,
        &BaresipOptions::answering(AnswerMode::Auto).video("VP8"),
    )
    .expect("baresip")
}

/// The next `event` of the call socket; its `callInfo.isVideoCall`.
async fn video_flag(page: &mut Page, event: Event) -> u64 {
    let frame = page.event(event, T).await;
    frame["param"]["callInfo"]["isVideoCall"]
        .as_u64()
        .unwrap_or_else(|| panic!("no isVideoCall in {frame}"))
}

/// baresip dials us: CallIncoming says `offered` (maybeVideoCall and isVideoCall),
/// and the page accepts with `isVideo` `accept`. Returns the call id.
async fn peer_calls_us(page: &mut Page, peer: &Baresip, offered: u8, accept: u8) -> Value {
    peer.dial("sip:1001@127.0.0.1");
    let incoming = page.event(Event::CallIncoming, T).await;
    assert_eq!(incoming["param"]["maybeVideoCall"], offered, "{incoming}");
    let info = &incoming["param"]["callInfo"];
    assert_eq!(info["isVideoCall"], offered, "{incoming}");
    let id = incoming["param"]["callId"].clone();
    page.ok(
        Command::AcceptCall,
        json!({"callId": id, "isVideo": accept}),
    )
    .await;
    id
}

/// startAnonymousCall(n, true): a video call that hides who calls.
#[tokio::test(flavor = "multi_thread")]
async fn anonymous_vp8_video_call() {
    video_call("VP8", false, Caller::UsAnonymously).await;
}

/// The last SIP message with SDP the host sent (`sent`) or received whose
/// start line begins with `start`.
fn sdp_message(host: &Seatphone, sent: bool, start: &str) -> String {
    host.sip_messages(sent)
        .into_iter()
        .rev()
        .find(|m| m.starts_with(start) && m.contains("\nm=audio "))
        .unwrap_or_default()
}

/// The line of `message` that starts with `prefix`, if any.
fn line<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.lines().find(|l| l.starts_with(prefix))
}

/// Our video ran in this call (the video plugin logs its start).
fn video_started(host: &Seatphone) -> bool {
    host.all_logs().contains("kbit/s over")
}

fn video_host_options() -> Options {
    Options {
        extra_toml: "[video]\ncamera = \"test\"\nwidth = 320\nheight = 240\nfps = 15\n\
                     bitrate = 300\ncodecs = [\"VP8\"]\n"
            .into(),
        ..Options::default()
    }
}

/// baresip offers video and the page answers acceptCall(id, 0): CallIncoming says
/// video was offered, our 200 refuses it (`m=video 0`) and keeps the
/// audio, CallConnected says isVideoCall 0, and no video stream starts.
#[tokio::test(flavor = "multi_thread")]
async fn video_offer_accepted_audio_only() {
    let _serial = REAL_TIME.lock().await;
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = vp8_peer(&kam);
    let host = Seatphone::start(video_host_options()).await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let id = peer_calls_us(&mut page, &peer, 1, 0).await;
    assert_eq!(
        video_flag(&mut page, Event::CallConnected).await,
        0,
        "CallConnected"
    );
    assert!(peer.wait_event(T, "CALL_ESTABLISHED"), "{}", peer.log());

    let ours = sdp_message(&host, true, "SIP/2.0 200");
    let video = line(&ours, "m=video ").unwrap_or_default();
    assert!(video.starts_with("m=video 0 "), "video refused:\n{ours}");
    let audio = line(&ours, "m=audio ").unwrap_or_default();
    assert!(!audio.starts_with("m=audio 0 "), "audio kept:\n{ours}");
    assert!(
        !video_started(&host),
        "no video stream:\n{}",
        host.all_logs()
    );
    page.ok(Command::EndCall, json!({"callId": id})).await;
    assert_eq!(video_flag(&mut page, Event::CallEnded).await, 0, "ended");
}

/// startCall(n, true) to a phone without video: baresip's answer refuses
/// the video section, and from CallConnected on callInfo says audio-only.
#[tokio::test(flavor = "multi_thread")]
async fn video_call_to_a_phone_without_video_is_audio_only() {
    let _serial = REAL_TIME.lock().await;
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = Baresip::start("1002", &kam, AnswerMode::Auto).expect("baresip");
    let host = Seatphone::start(video_host_options()).await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let start = json!({"calleeNumber": "1002", "isVideo": true});
    page.ok(Command::StartCall, start).await;
    assert_eq!(
        video_flag(&mut page, Event::CallOutgoing).await,
        1,
        "offered"
    );
    assert_eq!(
        video_flag(&mut page, Event::CallConnected).await,
        0,
        "CallConnected"
    );
    let theirs = sdp_message(&host, false, "SIP/2.0 200");
    let video = line(&theirs, "m=video ").unwrap_or_default();
    assert!(
        video.starts_with("m=video 0 "),
        "baresip refused video:\n{theirs}"
    );
    assert!(
        !video_started(&host),
        "no video stream:\n{}",
        host.all_logs()
    );
    drop(peer);
}

/// Without the video plugin, startCall(n, true) places an audio call and
/// says so (result 0, errMsg), callInfo says audio-only, and a peer's video
/// offer is answered `m=video 0` with maybeVideoCall 0.
#[tokio::test(flavor = "multi_thread")]
async fn without_the_video_plugin_calls_are_audio_only_and_say_so() {
    let _serial = REAL_TIME.lock().await;
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = vp8_peer(&kam);
    let host = Seatphone::start(Options {
        plugins: vec![seatphone_tests::host::plugin_library("audio")],
        ..Options::default()
    })
    .await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let start = json!({"calleeNumber": "1002", "isVideo": true});
    let r = page.ok(Command::StartCall, start).await;
    let why = r["errMsg"].as_str().unwrap_or_default();
    assert!(why.contains("audio-only"), "{r}");
    assert_eq!(
        video_flag(&mut page, Event::CallOutgoing).await,
        0,
        "CallOutgoing"
    );
    assert_eq!(
        video_flag(&mut page, Event::CallConnected).await,
        0,
        "CallConnected"
    );
    let invite = sdp_message(&host, true, "INVITE ");
    assert!(
        line(&invite, "m=video").is_none(),
        "no video offered:\n{invite}"
    );
    let id = r["param"]["callId"].clone();
    Seatphone::hang_up(&mut page, &id).await;

    peer_calls_us(&mut page, &peer, 0, 1).await;
    assert_eq!(
        video_flag(&mut page, Event::CallConnected).await,
        0,
        "CallConnected"
    );
    let ours = sdp_message(&host, true, "SIP/2.0 200");
    let video = line(&ours, "m=video ").unwrap_or_default();
    assert!(video.starts_with("m=video 0 "), "video refused:\n{ours}");
}

/// closeCamera(-1) with no call up: the next video call sends black from
/// its start; openCamera(-1): the call after sends the camera (here the
/// test pattern) again.
#[tokio::test(flavor = "multi_thread")]
async fn camera_setting_for_the_next_calls() {
    let _serial = REAL_TIME.lock().await;
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = vp8_peer(&kam);
    let host = Seatphone::start(video_host_options()).await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let camera = |open: bool| json!({"callId": -1, "open": open});
    for open in [false, true] {
        page.ok(Command::ControlCamera, camera(open)).await;
        let start = json!({"calleeNumber": "1002", "isVideo": true});
        let r = page.ok(Command::StartCall, start).await;
        let id = r["param"]["callId"].clone();
        assert_eq!(
            video_flag(&mut page, Event::CallConnected).await,
            1,
            "CallConnected"
        );
        if open {
            assert!(
                peer_sees_our_pattern(&peer).is_some(),
                "openCamera(-1): the next call sends the pattern\n{}",
                host.all_logs()
            );
        } else {
            let black = peer_snapshot_until(&peer, |g| {
                g.iter().map(|v| u32::from(*v)).sum::<u32>() / g.len() as u32 <= 40
                    && read_stamp_luma(320, 240, |x, y| g[y * 320 + x]).is_none()
            });
            assert!(black, "closeCamera(-1): the next call sends black");
        }
        Seatphone::hang_up(&mut page, &id).await;
    }
}
