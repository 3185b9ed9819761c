//! Sharing the screen: windows drawn by the test on an Xvfb screen are
//! listed by `getAppList` (without a window manager, under an EWMH one and
//! under a plain reparenting one), and one is shared in a video call with
//! baresip through Kamailio: baresip's snapshots show the window's
//! colours in place of our camera, a region exactly, and our camera again
//! when the share stops; every refusal and stop is answered and evented
//! as PROTOCOL.md says, and the call goes on. A peer that takes a second
//! video stream (SIPp, with ffmpeg receiving each stream) gets the window
//! as `a=content:slides` while our camera goes on beside it.

use std::process::{Child, Command as Process};
use std::time::{Duration, Instant};

use crate::REAL_TIME;
use seatphone_tests::host::{
    assert_error, events_of, is_event, Command, Event, Options, Page, Seatphone,
};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip, BaresipOptions};
use seatphone_tests::peers::free_port;
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::sipp::Sipp;
use seatphone_tests::video::{peer_snapshot_in_until, RtpVideoReceiver, Xvfb};
use seatphone_tests::window::{TestWindow, BLUE, GREEN, RED};
use seatphone_video_core::camera::pattern::read_stamp_luma;
use serde_json::{json, Value};
use x11rb::connection::Connection;

const T: Duration = Duration::from_secs(10);
/// The share plugin's own command and events (PROTOCOL.md, "Share plugin").
/// The share plugin's own command and events.
const SET_REGION: (u32, &str) = seatphone_share_core::SET_REGION;
const EVT_STARTED: u32 = seatphone_share_core::EVT_STARTED.0;
const EVT_STOPPED: u32 = seatphone_share_core::EVT_STOPPED.0;

const TITLE: &str = "Seatphone share test";
/// The test window: 320×240 at (200, 150), its left half red and its
/// right half blue.
const AREA: (i16, i16, u16, u16) = (200, 150, 320, 240);

/// A window manager on the display, stopped on drop.
struct Wm(Child);

impl Wm {
    fn start(program: &str, display: &str) -> Wm {
        let child = Process::new(program)
            .env("DISPLAY", display)
            .env("HOME", std::env::temp_dir())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e} (scripts/install-deps.sh installs it)"));
        Wm(child)
    }
}

impl Drop for Wm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn app_list(page: &mut Page) -> serde_json::Map<String, Value> {
    let r = page.ok(Command::ShareGetAppList, json!({})).await;
    r["param"].as_object().cloned().expect("an object")
}

/// The list holds `title` under `id` (within a few seconds: a window
/// manager takes its time to adopt a window).
async fn listed(page: &mut Page, id: u32, title: &str) -> serde_json::Map<String, Value> {
    let until = Instant::now() + T;
    loop {
        let list = app_list(page).await;
        if list.get(&id.to_string()).and_then(Value::as_str) == Some(title)
            || Instant::now() > until
        {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn root_of(display: &str) -> u32 {
    let (conn, n) = x11rb::connect(Some(display)).unwrap();
    conn.setup().roots[n].root
}

fn host_options(display: &str, extra: &str) -> Options {
    Options {
        extra_toml: format!(
            "[video]\ncamera = \"test\"\nwidth = 320\nheight = 240\nfps = 15\nbitrate = 300\n\
             codecs = [\"VP8\"]\ndisplay = \"{display}\"\n{extra}"
        ),
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn app_list_with_and_without_a_window_manager() {
    let _serial = REAL_TIME.lock().await;
    let x = Xvfb::start();
    let host = Seatphone::start(host_options(&x.display, "")).await;
    let mut page = host.call_page().await;
    let w = TestWindow::open(&x.display, TITLE, AREA);
    let root = root_of(&x.display);

    // No window manager: the window tree.
    let list = listed(&mut page, w.win, TITLE).await;
    assert_eq!(
        list.get(&w.win.to_string()),
        Some(&json!(TITLE)),
        "no WM: {list:?}"
    );
    assert_eq!(
        list.get(&root.to_string()),
        Some(&json!("Desktop")),
        "{list:?}"
    );
    assert_eq!(
        list.len(),
        2,
        "only the desktop and the titled window: {list:?}"
    );

    // An EWMH window manager (jwm: _NET_CLIENT_LIST), then a plain
    // reparenting one (twm: WM_STATE in frames).
    for wm in ["jwm", "twm"] {
        let running = Wm::start(wm, &x.display);
        let list = listed(&mut page, w.win, TITLE).await;
        assert_eq!(
            list.get(&w.win.to_string()),
            Some(&json!(TITLE)),
            "{wm}: {list:?}"
        );
        assert_eq!(
            list.get(&root.to_string()),
            Some(&json!("Desktop")),
            "{wm}: {list:?}"
        );
        drop(running);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Choosing: by number or numeric string; unknown ids are 5.
    let choose = |hwnd: Value| json!({ "hwnd": hwnd });
    page.ok(Command::ShareSetShareApp, choose(json!(w.win.to_string())))
        .await;
    page.ok(Command::ShareSetShareApp, choose(json!(root)))
        .await;
    let r = page
        .request(Command::ShareSetShareApp, choose(json!(12345)))
        .await;
    assert_error(&r, 5);
    let r = page
        .request(Command::ShareSetShareApp, choose(json!("window")))
        .await;
    assert_error(&r, 2);
    // A region must lie on the screen.
    let region = |x: i32, w: i32| json!({"x": x, "y": 0, "width": w, "height": 100});
    let r = page
        .request_raw(SET_REGION.0, SET_REGION.1, region(700, 200))
        .await;
    assert_error(&r, 2);
    let r = page
        .request_raw(SET_REGION.0, SET_REGION.1, region(600, 200))
        .await;
    assert_eq!(r["result"], 0, "{r}");
    // No call: nothing to share into.
    let r = page.request(Command::ShareStartWindow, json!({})).await;
    assert_error(&r, 3);
    let r = page.request(Command::ShareStopWindow, json!({})).await;
    assert_error(&r, 3);
    w.close();
}

fn near(p: &[u8], rgb: u32) -> bool {
    let c = [(rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8];
    p.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 40)
}

/// The share of the snapshot (320×240 RGB) near `rgb` in columns `x0..x1`.
fn share_of(snap: &[u8], (x0, x1): (usize, usize), rgb: u32) -> f64 {
    let n = (0..240)
        .flat_map(|y| (x0..x1).map(move |x| (y * 320 + x) * 3))
        .filter(|&i| near(&snap[i..i + 3], rgb))
        .count();
    n as f64 / ((x1 - x0) * 240) as f64
}

fn peer_sees_our_pattern(peer: &Baresip) -> bool {
    peer_snapshot_in_until(peer, "gray", |g| {
        read_stamp_luma(320, 240, |x, y| g[y * 320 + x]).is_some()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn share_a_window_and_a_region_in_a_video_call_with_baresip() {
    let _serial = REAL_TIME.lock().await;
    let x = Xvfb::start();
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = Baresip::start_with(
        "1002",
        kam.port,
        &BaresipOptions::answering(AnswerMode::Auto).video("VP8"),
    )
    .expect("baresip");
    let host = Seatphone::start(host_options(&x.display, "")).await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let w = TestWindow::open(&x.display, TITLE, AREA);
    // Our own video window is on the screen during the call.
    let rect = json!({"posX": 0, "posY": 400, "width": 320, "height": 180});
    page.ok(Command::SetVideoRect, rect).await;
    let start = json!({"calleeNumber": "1002", "isVideo": true});
    let call_id = Seatphone::call_with(&mut page, start).await;
    assert!(
        peer_sees_our_pattern(&peer),
        "baresip gets our camera first"
    );

    // Our video window (on the screen now) is never offered.
    let list = listed(&mut page, w.win, TITLE).await;
    assert_eq!(
        list.len(),
        2,
        "the desktop and the test window only: {list:?}"
    );
    assert!(list.values().all(|t| t != "Seatphone video"), "{list:?}");

    // Share the window: baresip sees its red and blue halves.
    page.ok(Command::ShareSetShareApp, json!({"hwnd": w.win}))
        .await;
    page.ok(Command::ShareStartWindow, json!({})).await;
    let started = page.event(EVT_STARTED, T).await;
    assert_eq!(started["param"]["callId"], call_id, "{started}");
    assert_eq!(
        (
            started["param"]["width"].clone(),
            started["param"]["height"].clone()
        ),
        (json!(320), json!(240))
    );
    let window_seen = peer_snapshot_in_until(&peer, "rgb24", |s| {
        share_of(s, (8, 150), RED) > 0.9 && share_of(s, (170, 312), BLUE) > 0.9
    });
    assert!(
        window_seen,
        "baresip shows the shared window\n{}",
        host.all_logs()
    );

    // A region: the red half exactly (no blue, no root around it).
    let region = json!({"x": 200, "y": 150, "width": 160, "height": 240});
    let r = page.request_raw(SET_REGION.0, SET_REGION.1, region).await;
    assert_eq!(r["result"], 0, "{r}");
    let region_seen = peer_snapshot_in_until(&peer, "rgb24", |s| share_of(s, (2, 318), RED) > 0.97);
    assert!(region_seen, "baresip shows the region, all red");

    // Stop: the camera comes back.
    page.ok(Command::ShareStopWindow, json!({})).await;
    let stopped = page.event(EVT_STOPPED, T).await;
    assert_eq!(stopped["param"]["reason"], "stopped", "{stopped}");
    assert!(
        peer_sees_our_pattern(&peer),
        "the camera again after the share"
    );
    let r = page.request(Command::ShareStopWindow, json!({})).await;
    assert_error(&r, 3);

    // shareControl(false) stops a share and refuses a new one.
    page.ok(Command::ShareSetShareApp, json!({"hwnd": w.win}))
        .await;
    page.ok(Command::ShareStartWindow, json!({})).await;
    page.event(EVT_STARTED, T).await;
    page.ok(Command::ShareControl, json!({"enable": false}))
        .await;
    let stopped = page.event(EVT_STOPPED, T).await;
    assert_eq!(stopped["param"]["reason"], "disabled", "{stopped}");
    let r = page.request(Command::ShareStartWindow, json!({})).await;
    assert_error(&r, 3);
    assert!(
        r["errMsg"].as_str().unwrap().contains("switched off"),
        "{r}"
    );
    page.ok(Command::ShareControl, json!({"enable": true}))
        .await;

    // A still window costs a tenth of a moving one at most (a still
    // screen is not grabbed at all; a moving one up to 15 times a second).
    let frames = |stopped: &Value| stopped["param"]["frames"].as_u64().unwrap();
    let mut counts = Vec::new();
    for moving in [false, true] {
        page.ok(Command::ShareStartWindow, json!({})).await;
        page.event(EVT_STARTED, T).await;
        let until = Instant::now() + Duration::from_secs(6);
        let mut n = 0u32;
        while Instant::now() < until {
            if moving {
                n += 1;
                w.paint_right(if n.is_multiple_of(2) { BLUE } else { GREEN });
            }
            // Reading keeps the page's socket answering pings.
            assert!(page
                .closes_within(Duration::from_millis(40))
                .await
                .is_none());
        }
        page.ok(Command::ShareStopWindow, json!({})).await;
        counts.push(frames(&page.event(EVT_STOPPED, T).await));
    }
    assert!(
        counts[0] * 10 < counts[1] && counts[1] >= 30,
        "pictures sent, still then moving: {counts:?}"
    );

    // The shared window closes mid-share: the share stops, the call goes on.
    page.ok(Command::ShareStartWindow, json!({})).await;
    page.event(EVT_STARTED, T).await;
    w.close();
    let stopped = page.event(EVT_STOPPED, T).await;
    assert_eq!(stopped["param"]["reason"], "windowClosed", "{stopped}");
    assert!(
        peer_sees_our_pattern(&peer),
        "the call goes on with the camera"
    );
    page.ok(Command::EndCall, json!({"callId": call_id})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sharing_is_refused_in_an_audio_call() {
    let _serial = REAL_TIME.lock().await;
    let x = Xvfb::start();
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = Baresip::start("1002", &kam, AnswerMode::Auto).expect("baresip");
    let host = Seatphone::start(host_options(&x.display, "")).await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let root = root_of(&x.display);
    let call_id = Seatphone::call(&mut page, "1002").await;
    page.ok(Command::ShareSetShareApp, json!({"hwnd": root}))
        .await;
    let r = page.request(Command::ShareStartWindow, json!({})).await;
    assert_error(&r, 3);
    assert!(r["errMsg"].as_str().unwrap().contains("audio call"), "{r}");
    // The call goes on.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!peer.has_event("CALL_CLOSED"), "the call goes on");
    page.ok(Command::EndCall, json!({"callId": call_id})).await;
}

/// The test pattern's stamp in a grey 320×240 picture: its counter.
fn stamp_in(g: &[u8]) -> Option<u32> {
    read_stamp_luma(320, 240, |x, y| g[y * 320 + x]).map(|s| s.counter)
}

/// A peer that takes a second video stream (SIPp through Kamailio, each
/// stream's RTP to an ffmpeg of its own): sharing adds a third m-line
/// marked `a=content:slides` in a re-INVITE; the slides receiver decodes
/// the window's red and blue halves while the camera receiver goes on
/// decoding our test pattern (its counter moving, never the window);
/// stopping takes the slides off (port 0, in its place; SIPp checks both
/// re-INVITEs). The page sees 3201 and 3202 and no video event.
#[tokio::test(flavor = "multi_thread")]
async fn share_goes_as_slides_beside_the_camera_to_a_peer_that_takes_two_video_streams() {
    let _serial = REAL_TIME.lock().await;
    let x = Xvfb::start();
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let (cam_port, slides_port) = (free_port(2), free_port(2));
    let camera = RtpVideoReceiver::start(cam_port, 96, "VP8/90000", "gray");
    let slides = RtpVideoReceiver::start(slides_port, 96, "VP8/90000", "rgb24");
    let keys = [
        "-key",
        "cam_port",
        &cam_port.to_string(),
        "-key",
        "slides_port",
        &slides_port.to_string(),
        "-rtp_echo",
        "-timeout",
        "120s",
    ]
    .map(str::to_owned);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut sipp = Sipp::uas_with("uas_takes_slides.xml", &keys).expect("sipp");
    let host = Seatphone::start(host_options(&x.display, "")).await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let w = TestWindow::open(&x.display, TITLE, AREA);
    let start = json!({"calleeNumber": format!("2000@{}", sipp.addr()), "isVideo": true});
    let call_id = Seatphone::call_with(&mut page, start).await;
    let first = std::cell::Cell::new(None);
    let camera_up = camera.until(T, |g| {
        first.set(stamp_in(g));
        first.get().is_some()
    });
    assert!(
        camera_up,
        "the camera's receiver decodes our pattern\nffmpeg: {}\n{}",
        camera.log(),
        host.all_logs()
    );

    page.ok(Command::ShareSetShareApp, json!({"hwnd": w.win}))
        .await;
    page.ok(Command::ShareStartWindow, json!({})).await;
    let started = page.event(EVT_STARTED, T).await;
    assert_eq!(started["param"]["callId"], call_id, "{started}");
    let window_seen = slides.until(Duration::from_secs(15), |s| {
        share_of(s, (8, 150), RED) > 0.9 && share_of(s, (170, 312), BLUE) > 0.9
    });
    assert!(
        window_seen,
        "the slides receiver shows the shared window\nffmpeg: {}\nsipp: {}\n{}",
        slides.log(),
        sipp.logs(),
        host.all_logs()
    );
    // The camera goes on beside it: later stamps, not the window.
    let later = std::cell::Cell::new(None);
    let camera_goes_on = camera.until(T, |g| {
        later.set(stamp_in(g));
        later.get() > first.get()
    });
    assert!(
        camera_goes_on,
        "the camera's stream carries our pattern beside the slides: {:?} then {:?}",
        first.get(),
        later.get()
    );
    let before = slides.frames();

    page.ok(Command::ShareStopWindow, json!({})).await;
    let stopped = page.event(EVT_STOPPED, T).await;
    assert_eq!(stopped["param"]["reason"], "stopped", "{stopped}");
    // The slides stop (the re-INVITE with port 0 went out: SIPp checks
    // it); the camera stays.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = slides.frames();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(slides.frames(), after, "no slides after the stop");
    assert!(after >= before);
    let last = camera.latest().and_then(|g| stamp_in(&g));
    assert!(last > later.get(), "the camera goes on: {last:?}");

    page.ok(Command::EndCall, json!({"callId": call_id})).await;
    let mut seen = Vec::new();
    while let Some(f) = page.next_frame(T).await {
        let ended = is_event(&f, Event::CallEnded);
        seen.push(f);
        if ended {
            break;
        }
    }
    let video_events = [
        Event::OpenVideoReq,
        Event::OpenVideoInd,
        Event::CloseVideoInd,
    ];
    let seen = events_of(&seen);
    assert!(
        !seen.iter().any(|e| video_events.contains(e)),
        "the slides are no video event of the page's: {seen:?}"
    );
    let passed = sipp.finished(Duration::from_secs(20)).await;
    assert_eq!(passed, Some(true), "SIPp scenario failed:\n{}", sipp.logs());
    w.close();
}
