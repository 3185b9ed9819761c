//! Figure 8: glass-to-glass latency of a VP8 video call, from the moment
//! the camera makes a picture to the moment the far end shows it.
//!
//! Seatphone's test-pattern camera burns each picture's counter and the
//! wall-clock time it was made into the picture (a block code). Seatphone
//! calls the figure 7 callee, whose mirror sends the video back, so the
//! far end that decodes and shows the picture is Seatphone's own video
//! window on an Xvfb screen: side by side, the received picture on the
//! left at its own size (1280×520 window: a 640×480 half and the control
//! bar). The driver reads the code band of that half off the screen every
//! few milliseconds (X `GetImage`, on the same clock as the camera's
//! stamp), and for each counter the first reading that shows it gives
//! shown − made, the reading's time taken as halfway since the reading
//! before (± half a reading interval, printed).
//!
//! baresip gets no such figure: see [`NO_BARESIP`].

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use seatphone_tests::host::Command;
use seatphone_tests::measure::percentile;
use seatphone_tests::xvfb::Xvfb;
use seatphone_video_core::camera::pattern::read_stamp_luma;
use serde_json::json;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat};

use crate::calls::Kam;
use crate::metric::Metric;
use crate::mirror::{mirrored_callee, Codec};
use crate::video_calls::{seat_video_toml, Caller, SeatFeed, FPS, KBPS, SETTLE, SIZE};

const CALLEE: &str = "1012";
/// How long each call is read.
const WATCH: Duration = Duration::from_secs(10);
/// The pause between two readings of the screen.
const EVERY: Duration = Duration::from_millis(3);

pub const NO_BARESIP: &str = "baresip 1.0 has no video source that stamps when a picture is made: fakevideo sends one still picture, avformat plays a file or lavfi graph on its own clock (a stamp written into a file says when the file was written), and x11grab samples the screen at its frame rate, which would add up to a picture period (40 ms) that Seatphone's camera does not have. No like-for-like ratio; Seatphone's figure stands alone.";

pub async fn figure8_glass(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut g2g = Metric::new(
        8,
        "glass_to_glass",
        "glass-to-glass latency, VP8 video call",
        "ms",
        true,
    );
    let mut p90 = Metric::new(
        8,
        "glass_to_glass_p90",
        "glass-to-glass latency p90",
        "ms",
        true,
    );
    let (w, h) = SIZE;
    g2g.note = format!("Seatphone's test-pattern camera ({w}x{h}, {FPS} pictures/s, VP8 {KBPS} kbit/s) stamps each picture with the time it is made; the call goes to {CALLEE} (SIPp + the mirror, which sends the video back) and Seatphone shows the returning picture in its video window on Xvfb (side by side, the received picture at its own size); the driver reads the stamp off the screen with X GetImage every ~{} ms. Shown − made per picture, the median per call ({} s of it from {} s after the call is up); includes encoding, the loopback round trip, the jitter buffer, decoding and drawing. {NO_BARESIP}", EVERY.as_millis(), WATCH.as_secs(), SETTLE.as_secs());
    p90.note = "The 90th percentile per call of the same readings.".into();
    let x = Xvfb::start_sized(1280, 720);
    let (_mirror, _callee) = match mirrored_callee(kam, CALLEE).await {
        Ok(m) => m,
        Err(e) => {
            g2g.miss(e.clone());
            p90.miss(e);
            return vec![g2g, p90];
        }
    };
    let feed = SeatFeed {
        plugins: vec!["audio".into(), "video".into()],
        toml: seat_video_toml("test", Some(&x.display), Codec::Vp8),
        page_setup: vec![
            (
                Command::SetVideoRect,
                json!({"posX": 0, "posY": 0, "width": 1280, "height": 520}),
            ),
            (Command::SetVideoLayoutMode, json!({"layoutMode": 1})),
        ],
    };
    for r in 0..rounds {
        let reading = async {
            let mut c = Caller::seat(kam, CALLEE, &feed).await?;
            c.pump(SETTLE).await;
            let display = x.display.clone();
            let watch = tokio::task::spawn_blocking(move || watch(&display, WATCH));
            let ended = c.pump(WATCH + Duration::from_millis(200)).await;
            let seen = watch.await.map_err(|e| e.to_string())??;
            if ended {
                return Err(format!("the call ended early: {}", c.log_tail()));
            }
            c.hang_up().await?;
            Ok::<_, String>(seen)
        };
        match reading.await {
            Ok(seen) if seen.latencies.len() >= 10 => {
                let l = &seen.latencies;
                let (p10, p50, p90_) = (
                    percentile(l, 10.0).unwrap_or(0.0),
                    percentile(l, 50.0).unwrap_or(0.0),
                    percentile(l, 90.0).unwrap_or(0.0),
                );
                eprintln!(
                    "  round {r} Seatphone: {} pictures read ({} readings, one every {:.1} ms): p10 {p10:.0} ms, median {p50:.0} ms, p90 {p90_:.0} ms",
                    l.len(),
                    seen.readings,
                    seen.interval_ms
                );
                g2g.seatphone.push(p50);
                p90.seatphone.push(p90_);
            }
            Ok(seen) => g2g.miss(format!(
                "Seatphone: only {} stamped pictures read off the screen in {} readings",
                seen.latencies.len(),
                seen.readings
            )),
            Err(e) => g2g.miss(format!("Seatphone: {e}")),
        }
    }
    for m in [&mut g2g, &mut p90] {
        m.miss(format!("baresip: {NO_BARESIP}"));
    }
    vec![g2g, p90]
}

/// What the screen showed.
struct Seen {
    /// Shown − made, ms, one per picture.
    latencies: Vec<f64>,
    readings: usize,
    /// Mean time between readings, ms.
    interval_ms: f64,
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Reads the code band of the received picture (the window's left half,
/// at the screen's top left) for `span`.
fn watch(display: &str, span: Duration) -> Result<Seen, String> {
    let (conn, n) = x11rb::connect(Some(display)).map_err(|e| format!("X: {e}"))?;
    let root = conn.setup().roots[n].root;
    let (w, h) = (SIZE.0 as usize, SIZE.1 as usize);
    // The block code is the picture's bottom eighth (pattern.rs).
    let band_y = h - h / 8;
    let band_h = h - band_y;
    let mut seen = HashSet::new();
    let mut latencies = Vec::new();
    let (start, mut readings) = (Instant::now(), 0usize);
    let mut before = now_ms();
    let first = before;
    while start.elapsed() < span {
        let image = conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                root,
                0,
                band_y as i16,
                w as u16,
                band_h as u16,
                !0,
            )
            .map_err(|e| format!("GetImage: {e}"))?
            .reply()
            .map_err(|e| format!("GetImage: {e}"))?;
        let at = now_ms();
        readings += 1;
        let data = &image.data;
        // 24-bit depth: four bytes a pixel, blue first.
        let luma = |x: usize, y: usize| -> u8 {
            let i = (y.saturating_sub(band_y) * w + x) * 4;
            match data.get(i..i + 3) {
                Some(p) => {
                    ((u32::from(p[0]) * 29 + u32::from(p[1]) * 150 + u32::from(p[2]) * 77) >> 8)
                        as u8
                }
                None => 0,
            }
        };
        if let Some(stamp) = read_stamp_luma(w, h, luma) {
            // The picture on the screen at the first reading came earlier.
            if seen.insert(stamp.counter) && readings > 1 {
                latencies.push((before + at) / 2.0 - stamp.unix_ms as f64);
            }
        }
        before = at;
        std::thread::sleep(EVERY);
    }
    Ok(Seen {
        latencies,
        readings,
        interval_ms: (before - first) / readings.max(1) as f64,
    })
}
