//! Figure 9: sharing a 1280×720 window in a video call, still and
//! changing: CPU per minute, and the bitrate and pictures a second the
//! callee got.
//!
//! The window is the share tests' (`seatphone_tests::window`), at the top
//! left of a 1280×720 Xvfb screen: eight colour bars on the left half, a
//! blue right half; while it "changes" the driver moves the bars 8 pixels
//! and repaints the right half (blue/green) every 40 ms. Seatphone
//! shares it with `setShareWindow` + `startShareWindow` (the share plugin;
//! the shared screen goes in place of the camera, `black`); baresip 1.0 has
//! no share of its own, its way to send a screen is the `x11grab` video
//! source, which takes the screen's top left at `video_size`: the same
//! window. Both at VP8 800 kbit/s, baresip at 15 pictures a second (the
//! share's ceiling in Seatphone, which sends a still screen again once a
//! second). The callee is the figure 7 one (SIPp + the mirror).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seatphone_tests::host::{Command, Page};
use seatphone_tests::window::{TestWindow, BLUE, GREEN};
use seatphone_tests::xvfb::Xvfb;
use serde_json::json;

use crate::calls::{seat_first, side_name, Kam, T};
use crate::metric::Metric;
use crate::mirror::{mirrored_callee, Codec, Mirror};
use crate::video_calls::{
    bare_video_config, measure, seat_video_toml, BareFeed, Caller, SeatFeed, KBPS,
};

const CALLEE: &str = "1013";
const SCREEN: (u32, u32) = (1280, 720);
/// baresip's x11grab rate: the share's ceiling in Seatphone.
const BARE_FPS: u32 = 15;
/// The changing window is repainted this often ...
const REPAINT: Duration = Duration::from_millis(40);
/// ... its bars moved this many pixels each time.
const BAR_STEP: u16 = 8;
/// The share plugin's own event (docs/PROTOCOL.md, "Share plugin").
const SHARE_STARTED: u32 = 3201;

pub async fn figure9_share(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut cpu_still = Metric::new(
        9,
        "cpu_share_still",
        "CPU/min, sharing a still window",
        "s/min",
        true,
    );
    let mut cpu_moving = Metric::new(
        9,
        "cpu_share_moving",
        "CPU/min, sharing a changing window",
        "s/min",
        true,
    );
    let mut kbps_still = Metric::new(
        9,
        "kbps_share_still",
        "bitrate, sharing a still window",
        "kbit/s",
        true,
    );
    let mut kbps_moving = Metric::new(
        9,
        "kbps_share_moving",
        "bitrate, sharing a changing window",
        "kbit/s",
        true,
    );
    let mut fps_still = Metric::new(
        9,
        "fps_share_still",
        "pictures/s, sharing a still window",
        "fps",
        true,
    );
    let mut fps_moving = Metric::new(
        9,
        "fps_share_moving",
        "pictures/s, sharing a changing window",
        "fps",
        false,
    );
    let (w, h) = SCREEN;
    let common = format!("A {w}x{h} window (eight colour bars on the left half, a flat right half) at the top left of a {w}x{h} Xvfb screen, shared in a VP8 video call ({KBPS} kbit/s) to {CALLEE} (SIPp + the mirror, which sends the video back: each phone decodes its own share). Seatphone: the share plugin (setShareWindow, startShareWindow; camera black, no video window); baresip: the x11grab video source at {BARE_FPS} pictures/s (its only way to send a screen). From 2 s after the share is under way (Seatphone: event 3201; baresip: the call up), for 20 s.");
    cpu_still.note = format!("{common} The window does not change. utime+stime of all the caller's processes, scaled to a minute.");
    cpu_moving.note = format!(
        "{common} The driver moves the left half's bars by {BAR_STEP} px and repaints the right half (blue/green) every {} ms.",
        REPAINT.as_millis()
    );
    kbps_still.note =
        "RTP bytes a second (headers included) that reached the callee, still window.".into();
    kbps_moving.note = "RTP bytes a second that reached the callee, changing window.".into();
    fps_still.note =
        "Pictures (RTP marker bits) a second that reached the callee, still window.".into();
    fps_moving.note = "Pictures a second that reached the callee, changing window (higher: changes reach the far end sooner).".into();
    let mut ms = [
        cpu_still,
        cpu_moving,
        kbps_still,
        kbps_moving,
        fps_still,
        fps_moving,
    ];
    let x = Xvfb::start_sized(w, h);
    let window = TestWindow::open(
        &x.display,
        "Seatphone bench share",
        (0, 0, w as u16, h as u16),
    );
    match mirrored_callee(kam, CALLEE).await {
        Ok((mirror, _callee)) => share_rounds(kam, rounds, &x, window, &mirror, &mut ms).await,
        Err(e) => {
            for m in &mut ms {
                m.miss(e.clone());
            }
        }
    }
    ms.into()
}

/// The rounds of figure 9 into `ms` (CPU, bitrate, pictures a second; still
/// and changing each).
async fn share_rounds(
    kam: Kam,
    rounds: usize,
    x: &Xvfb,
    window: TestWindow,
    mirror: &Mirror,
    ms: &mut [Metric; 6],
) {
    let (w, h) = SCREEN;
    let [cpu_still, cpu_moving, kbps_still, kbps_moving, fps_still, fps_moving] = ms;
    let window = Arc::new(window);
    for r in 0..rounds {
        for seat in [seat_first(r), !seat_first(r)] {
            for moving in [false, true] {
                // Every call starts from the same picture.
                window.draw_bars(0);
                window.paint_right(BLUE);
                mirror.reset(Codec::Vp8);
                let started = if seat {
                    seat_share(kam, &x.display, window.win).await
                } else {
                    Caller::bare(
                        kam,
                        CALLEE,
                        &BareFeed {
                            modules: ["vp8.so", "x11grab.so", "fakevideo.so"]
                                .map(String::from)
                                .to_vec(),
                            config: bare_video_config(
                                &format!("x11grab,{}", x.display),
                                SCREEN,
                                BARE_FPS,
                            ),
                        },
                    )
                    .await
                };
                let stop = Arc::new(AtomicBool::new(false));
                let painter = moving.then(|| {
                    let (window, stop) = (window.clone(), stop.clone());
                    std::thread::spawn(move || repaint(&window, &stop))
                });
                let reading = match started {
                    Ok(mut c) => measure(&mut c, mirror).await,
                    Err(e) => Err(e),
                };
                stop.store(true, Ordering::Relaxed);
                if let Some(p) = painter {
                    let _ = p.join();
                }
                let side = side_name(seat);
                let what = if moving { "changing" } else { "still" };
                let (cpu, kbps, fps) = if moving {
                    (&mut *cpu_moving, &mut *kbps_moving, &mut *fps_moving)
                } else {
                    (&mut *cpu_still, &mut *kbps_still, &mut *fps_still)
                };
                match reading {
                    Ok(x) => {
                        eprintln!(
                            "  round {r} {side} {what}: {:.3} CPU s/min, callee got {:.1} pictures/s of {:?}, {:.0} kbit/s",
                            x.cpu, x.rate.fps, x.rate.size, x.rate.kbps
                        );
                        if x.rate.size != Some((w as u16, h as u16)) {
                            cpu.warn([format!(
                                "{side} ({what}) sent pictures of {:?} to the callee, not {w}x{h}",
                                x.rate.size
                            )]);
                        }
                        for (m, v) in [(cpu, x.cpu), (kbps, x.rate.kbps), (fps, x.rate.fps)] {
                            if seat {
                                m.seatphone.push(v);
                            } else {
                                m.baresip.push(v);
                            }
                        }
                    }
                    Err(e) => cpu.miss(format!("{side} ({what}): {e}")),
                }
            }
        }
    }
}

/// Seatphone in a video call to [`CALLEE`], sharing `win`.
async fn seat_share(kam: Kam, display: &str, win: u32) -> Result<Caller, String> {
    let feed = SeatFeed {
        plugins: ["audio", "video", "share"].map(String::from).to_vec(),
        toml: seat_video_toml("black", Some(display), Codec::Vp8),
        page_setup: Vec::new(),
    };
    let mut c = Caller::seat(kam, CALLEE, &feed).await?;
    if let Caller::Seat { page, .. } = &mut c {
        let r = page
            .request(Command::ShareSetShareApp, json!({"hwnd": win}))
            .await;
        if r["result"] != 0 {
            return Err(format!("setShareWindow: {r}"));
        }
        // The share plugin takes a call for a video call once its first
        // picture is on the frame bus: ask again until then.
        let deadline = Instant::now() + T;
        loop {
            let r = page.request(Command::ShareStartWindow, json!({})).await;
            if r["result"] == 0 {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("startShareWindow: {r}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if !share_started(page).await {
            return Err("no share-started event (3201)".into());
        }
    }
    Ok(c)
}

async fn share_started(page: &mut Page) -> bool {
    let deadline = Instant::now() + T;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match page.next_frame(left).await {
            Some(f) if f["notify"] == SHARE_STARTED => return true,
            Some(_) => {}
            None => return false,
        }
    }
    false
}

/// Moves the bars on the left half and repaints the right half until
/// `stop`, every [`REPAINT`].
fn repaint(window: &TestWindow, stop: &AtomicBool) {
    let mut n = 0u16;
    while !stop.load(Ordering::Relaxed) {
        n = n.wrapping_add(1);
        window.draw_bars(n.wrapping_mul(BAR_STEP));
        window.paint_right(if n.is_multiple_of(2) { BLUE } else { GREEN });
        std::thread::sleep(REPAINT);
    }
}
