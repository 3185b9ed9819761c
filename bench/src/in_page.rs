//! Figure 10: what a page showing the call's video itself costs the host
//! (`sdk.attachVideo`, the host's `/video` socket), and how late the
//! pictures reach the page.
//!
//! Seatphone calls a mirrored callee (SIPp + the driver's mirror, as figure
//! 8) with its test-pattern camera, VP8 640×480 25 fps: the peer's pictures
//! are its own, stamped with the time they were made. The call runs
//! [`SPAN`] without a page on `/video`, then [`SPAN`] with one (a client in
//! the driver, reading as a page does): the host's CPU in each, the
//! difference per minute. The client decodes each picture (libvpx, the
//! codec library the video plugin uses) and reads its stamp: made → at the
//! page's socket, which takes in encoding, the loopback round trip, the
//! jitter buffer and the host's socket path, but not the browser's own
//! decoding and drawing (WebCodecs, a few ms: not measured here, no browser
//! in the driver). Figure 8 is the same path to the native window.
//!
//! The mirror drops RTCP, so the keyframe request a page's socket makes
//! (a PLI to the peer) reaches no encoder here: the driver asks our own
//! encoder for one through a moment's `/video?stream=local` socket (which
//! asks `local-keyframe-request`), and that keyframe comes back through
//! the mirror as the page's first picture.
//!
//! baresip has no page API: Seatphone's figure stands alone.

use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use seatphone_media::payload::VideoCodec;
use seatphone_tests::measure::{self, percentile};
use seatphone_video_core::camera::pattern::read_stamp_luma;
use seatphone_video_core::codec::{Decoder, OpenH264};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};

use crate::calls::Kam;
use crate::metric::Metric;
use crate::mirror::{mirrored_callee, Codec};
use crate::video_calls::{seat_video_toml, Caller, SeatFeed, FPS, KBPS, SETTLE, SIZE};

const CALLEE: &str = "1014";
/// Each half of a call: without a page, then with one.
const SPAN: Duration = Duration::from_secs(10);
/// The video socket's header (PROTOCOL.md "Video in the page").
const HEADER: usize = 16;

const NO_BARESIP: &str =
    "baresip has no API for a web page to show its video: Seatphone's figure stands alone.";

pub async fn figure10_in_page(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut cpu = Metric::new(
        10,
        "cpu_in_page_video",
        "host CPU added by a page showing the video",
        "s/min",
        true,
    );
    let mut late = Metric::new(
        10,
        "in_page_video_latency",
        "picture made → at the page's video socket",
        "ms",
        true,
    );
    let mut fps = Metric::new(
        10,
        "in_page_video_fps",
        "pictures/s the page got",
        "fps",
        false,
    );
    let (w, h) = SIZE;
    cpu.note = format!("Seatphone (audio + video plugins, test-pattern camera, VP8 {w}x{h} {FPS} fps {KBPS} kbit/s) calls {CALLEE} (SIPp + the mirror, which sends its video back). utime+stime of daemon + engine over {} s without a client on /video, then {} s with one reading remote pictures as the SDK does (from {} s after the call is up); the difference, per minute. The browser's own decoding is the browser's CPU, not counted. {NO_BARESIP}", SPAN.as_secs(), SPAN.as_secs(), SETTLE.as_secs());
    late.note = "Median per call of (arrival at the page's socket − the stamp the camera burnt into the picture), the picture decoded by the driver with the video plugin's libvpx to read the stamp. Includes encoding, the loopback round trip through the mirror, the jitter buffer and the host's bus and socket; not the browser's WebCodecs decoding and drawing. Compare figure 8 (the same to the native window, drawn).".into();
    fps.note =
        "Pictures a second that reached the page's socket, over the second half of the call."
            .into();
    let (_mirror, _callee) = match mirrored_callee(kam, CALLEE).await {
        Ok(m) => m,
        Err(e) => {
            for m in [&mut cpu, &mut late, &mut fps] {
                m.miss(e.clone());
            }
            return vec![cpu, late, fps];
        }
    };
    let feed = SeatFeed {
        plugins: vec!["audio".into(), "video".into()],
        toml: seat_video_toml("test", None, Codec::Vp8),
        page_setup: Vec::new(),
    };
    for r in 0..rounds {
        match round(kam, &feed).await {
            Ok((added, seen)) if seen.latencies.len() >= 10 => {
                let p50 = percentile(&seen.latencies, 50.0).unwrap_or(0.0);
                let p90 = percentile(&seen.latencies, 90.0).unwrap_or(0.0);
                let rate = seen.pictures as f64 / SPAN.as_secs_f64();
                eprintln!(
                    "  round {r} Seatphone: +{added:.3} CPU s/min with a page; {} pictures ({rate:.1}/s), {} stamps read: made → socket median {p50:.1} ms, p90 {p90:.1} ms",
                    seen.pictures,
                    seen.latencies.len()
                );
                cpu.seatphone.push(added);
                late.seatphone.push(p50);
                fps.seatphone.push(rate);
            }
            Ok((_, seen)) => late.miss(format!(
                "Seatphone: {} pictures came, only {} stamps read",
                seen.pictures,
                seen.latencies.len()
            )),
            Err(e) => cpu.miss(format!("Seatphone: {e}")),
        }
    }
    for m in [&mut cpu, &mut late, &mut fps] {
        m.miss(format!("baresip: {NO_BARESIP}"));
    }
    vec![cpu, late, fps]
}

/// One call: CPU s/min added by the page, and what the page got.
async fn round(kam: Kam, feed: &SeatFeed) -> Result<(f64, Seen), String> {
    let mut c = Caller::seat(kam, CALLEE, feed).await?;
    let port = match &c {
        Caller::Seat { host, .. } => host.port,
        Caller::Bare { .. } => return Err("not Seatphone".into()),
    };
    let mut ended = c.pump(SETTLE).await;
    let (c0, t0) = (measure::cpu_of(&c.pids()), Instant::now());
    ended |= c.pump(SPAN).await;
    let (ready, opened) = tokio::sync::oneshot::channel();
    let page = std::thread::spawn(move || watch(port, SPAN, ready));
    // The CPU window starts once the page gets pictures.
    match tokio::time::timeout(Duration::from_secs(5), opened).await {
        Ok(Ok(())) => {}
        _ => {
            let why = match page.join() {
                Ok(Err(e)) => e,
                _ => "no picture reached the page in 5 s".into(),
            };
            return Err(why);
        }
    }
    let (c1, t1) = (measure::cpu_of(&c.pids()), Instant::now());
    ended |= c.pump(SPAN).await;
    let (c2, t2) = (measure::cpu_of(&c.pids()), Instant::now());
    let seen = page.join().map_err(|_| "the page thread panicked")??;
    if ended {
        return Err(format!("the call ended early: {}", c.log_tail()));
    }
    c.hang_up().await?;
    let without = (c1 - c0) / (t1 - t0).as_secs_f64() * 60.0;
    let with = (c2 - c1) / (t2 - t1).as_secs_f64() * 60.0;
    Ok((with - without, seen))
}

/// What the page got.
struct Seen {
    pictures: usize,
    /// At the socket − made, ms, one per stamped picture.
    latencies: Vec<f64>,
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

type Socket = tungstenite::WebSocket<TcpStream>;

fn open(port: u16, stream: &str) -> Result<Socket, String> {
    let url = format!("ws://127.0.0.1:{port}/video?stream={stream}");
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("{url}: {e}"))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        tungstenite::http::HeaderValue::from_static("seatphone_video"),
    );
    let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let (ws, _) = tungstenite::client(request, tcp).map_err(|e| format!("handshake: {e}"))?;
    Ok(ws)
}

/// The next picture (header and access unit) within `within`.
fn next_picture(ws: &mut Socket, within: Duration) -> Result<Option<tungstenite::Bytes>, String> {
    let start = Instant::now();
    while start.elapsed() < within {
        match ws.read() {
            Ok(Message::Binary(data)) if data.len() > HEADER => return Ok(Some(data)),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(format!("video socket: {e}")),
        }
    }
    Ok(None)
}

/// Reads `/video?stream=remote` for `span` from its first picture on, as
/// the SDK does; `ready` is told at that first picture.
fn watch(
    port: u16,
    span: Duration,
    ready: tokio::sync::oneshot::Sender<()>,
) -> Result<Seen, String> {
    let mut ws = open(port, "remote")?;
    // Our encoder's keyframe, asked for by a local socket (see above).
    let mut nudge = open(port, "local")?;
    let _ = next_picture(&mut nudge, Duration::from_secs(2))?;
    let _ = nudge.close(None);
    let Some(first) = next_picture(&mut ws, Duration::from_secs(4))? else {
        return Err("no picture reached the page's socket".into());
    };
    let _ = ready.send(());
    let mut decoder = Decoder::new(VideoCodec::Vp8, &OpenH264::default())?;
    let (w, h) = (SIZE.0 as usize, SIZE.1 as usize);
    let mut seen = Seen {
        pictures: 0,
        latencies: Vec::new(),
    };
    let start = Instant::now();
    let mut data = Some(first);
    while start.elapsed() < span {
        let Some(picture) = data.take() else {
            data = next_picture(&mut ws, span.saturating_sub(start.elapsed()))?;
            continue;
        };
        let at = now_ms();
        let data = picture;
        seen.pictures += 1;
        let Ok(Some(picture)) = decoder.decode(&data[HEADER..]) else {
            continue;
        };
        if let Some(stamp) = read_stamp_luma(w, h, |x, y| picture.y(x, y)) {
            seen.latencies.push(at - stamp.unix_ms as f64);
        }
    }
    let _ = ws.close(None);
    Ok(seen)
}
