//! What the figures share: the run's Kamailio and users, the order of the
//! sides in a round, each side's caller set up, dialled and hung up the same
//! way, the callee and the media files.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use seatphone_tests::host::{Command, Event, Page};
use seatphone_tests::measure::{self, BenchHost, BenchSipp, HostSpec};
use seatphone_tests::page_cache;
use seatphone_tests::peers::baresip::{AnswerMode, Baresip, BaresipOptions, Ctrl};
use serde_json::json;

pub const T: Duration = Duration::from_secs(10);

/// The run's Kamailio, as the figures need it (its port).
#[derive(Clone, Copy)]
pub struct Kam {
    pub port: u16,
}
/// Users registered at the bench Kamailio: 1001 Seatphone, 1002 baresip
/// caller, 1010 the auto-answering callee.
pub const SEAT_USER: &str = "1001";
pub const BARE_USER: &str = "1002";

/// Round `r` runs Seatphone first when even, baresip first when odd.
pub fn seat_first(r: usize) -> bool {
    r.is_multiple_of(2)
}

/// The audio modules baresip loads in every benchmark: the codecs both sides
/// offer, and the file and sine sources.
pub const BARESIP_AUDIO_MODULES: &[&str] =
    &["opus.so", "g722.so", "g711.so", "aufile.so", "ausine.so"];

/// baresip as every figure has it (a figure changes the codecs, the
/// source, adds modules).
pub fn baresip_options() -> BaresipOptions {
    BaresipOptions {
        answer: AnswerMode::Manual,
        audio_codecs: "opus/48000/2,G722/16000/1,PCMU/8000/1,PCMA/8000/1".into(),
        // A tone baresip generates itself: free of file I/O like
        // Seatphone's `null` mic (figures 1-3, 6), and the tone Seatphone
        // reads from a WAV in figure 4.
        audio_source: format!("ausine,{TONE_HZ}"),
        modules: BARESIP_AUDIO_MODULES
            .iter()
            .map(|m| m.to_string())
            .collect(),
        config:
            "auplay_srate\t\t48000\nauplay_channels\t\t1\nptime\t\t\t20\nopus_bitrate\t\t32000\n"
                .into(),
        max_calls: 4,
        ..BaresipOptions::default()
    }
}

/// baresip registered as [`BARE_USER`] with `options`, its executable,
/// modules and their libraries in the page cache as `BENCH_PAGE_CACHE`
/// says (out of it by default), as every seat's (`measure::BenchHost::start`).
pub fn bare_phone(kam: Kam, options: &BaresipOptions) -> Result<Baresip, String> {
    page_cache::prepare_phone(&options.files())?;
    Baresip::start_with(BARE_USER, kam.port, options).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------- calls

/// The callee of figures 3 and 4, the same for both phones: SIPp registered
/// at Kamailio as `1010`, answering Opus (or PCMA) and echoing RTP.
pub const CALLEE: &str = "1010";
/// The tone both phones send in figure 4: baresip's `ausine` generates it,
/// Seatphone reads it from a WAV (it has no tone source).
pub const TONE_HZ: u32 = 440;

/// Files the call figures use, made once per run: Seatphone's tone
/// (figure 4) and the clicks (figure 5).
pub static FILES: std::sync::OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> =
    std::sync::OnceLock::new();

pub fn media_files() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    FILES.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("bench-media")
            .tempdir()
            .expect("temp dir");
        let tone = dir.path().join("tone-48k.wav");
        let clicks = dir.path().join("clicks-48k.wav");
        measure::write_wav(&tone, 48000, &measure::tone(48000, 60, TONE_HZ)).expect("tone.wav");
        measure::write_wav(&clicks, 48000, &measure::clicks(48000, 30, 48000, 24000))
            .expect("clicks.wav");
        (dir, tone, clicks)
    })
}

const CALLEE_XML: &str = include_str!("../sipp/callee.xml");
const REGISTER_XML: &str = include_str!("../sipp/register.xml");

/// Starts [`CALLEE`] and registers it at Kamailio; it answers until dropped.
pub async fn callee(kam: Kam) -> Result<BenchSipp, String> {
    callee_as(kam, CALLEE, ("callee.xml", CALLEE_XML), &[]).await
}

/// Starts a SIPp callee running `scenario` (name, text) with `-rtp_echo`
/// and `args`, and registers it at Kamailio as `user`.
pub async fn callee_as(
    kam: Kam,
    user: &str,
    scenario: (&str, &str),
    args: &[String],
) -> Result<BenchSipp, String> {
    let mut sipp_args = ["-sf", scenario.0, "-rtp_echo"].map(String::from).to_vec();
    sipp_args.extend_from_slice(args);
    let sipp =
        BenchSipp::start(&sipp_args, &[scenario]).map_err(|e| format!("callee SIPp: {e}"))?;
    let contact_port = sipp.port.to_string();
    let pass = format!("pass{user}");
    let registrar = format!("127.0.0.1:{}", kam.port);
    let args = [
        "-sf",
        "register.xml",
        "-m",
        "1",
        "-au",
        user,
        "-ap",
        &pass,
        "-key",
        "user",
        user,
        "-key",
        "contact_port",
        &contact_port,
        &registrar,
    ]
    .map(String::from);
    let mut register = BenchSipp::start(&args, &[("register.xml", REGISTER_XML)])
        .map_err(|e| format!("registering SIPp: {e}"))?;
    match register.wait(T).await {
        Some(0) => Ok(sipp),
        status => Err(format!(
            "the callee did not register (SIPp {status:?}): {}",
            tail(&register.output(), 1500)
        )),
    }
}

/// A Seatphone seat (host + audio plugin), registered as 1001, page open.
pub struct Seat {
    pub host: BenchHost,
    pub page: Page,
}

pub async fn seat(
    kam: Kam,
    codecs: &str,
    input: Option<String>,
    output: Option<String>,
) -> Result<Seat, String> {
    let host = BenchHost::start(&HostSpec {
        audio_input: input,
        audio_output: output,
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut page = host.call_page().await.map_err(|e| e.to_string())?;
    BenchHost::register(&mut page, kam.port, SEAT_USER, codecs).await?;
    Ok(Seat { host, page })
}

/// `startCall` → connected: (milliseconds, callId).
pub async fn seat_dial(page: &mut Page, callee: &str) -> Result<(f64, u64), String> {
    seat_dial_as(page, callee, false).await
}

/// [`seat_dial`], a video call when `video`.
pub async fn seat_dial_as(
    page: &mut Page,
    callee: &str,
    video: bool,
) -> Result<(f64, u64), String> {
    page.forget(Duration::from_millis(1)).await;
    let t = Instant::now();
    let r = page
        .request(
            Command::StartCall,
            json!({"calleeNumber": callee, "isVideo": video}),
        )
        .await;
    if r["result"] != 0 {
        return Err(format!("startCall: {r}"));
    }
    let id = r["param"]["callId"].as_u64().unwrap_or(0);
    page.event_within(Event::CallConnected, T)
        .await
        .ok_or_else(|| "startCall: not connected within 10 s".to_owned())?;
    Ok((t.elapsed().as_secs_f64() * 1e3, id))
}

pub async fn seat_hangup(page: &mut Page, id: u64) -> Result<(), String> {
    let r = page.request(Command::EndCall, json!({"callId": id})).await;
    if r["result"] != 0 {
        return Err(format!("endCall: {r}"));
    }
    page.event_within(Event::CallEnded, T)
        .await
        .map(|_| ())
        .ok_or_else(|| "endCall: no call-ended event".to_owned())
}

/// ctrl_tcp `dial` → CALL_ESTABLISHED, in milliseconds.
pub async fn bare_dial(ctrl: &mut Ctrl, callee: &str) -> Result<f64, String> {
    ctrl.forget(Duration::from_millis(1)).await;
    let uri = if callee.contains('@') {
        format!("sip:{callee}")
    } else {
        format!("sip:{callee}@127.0.0.1")
    };
    let t = Instant::now();
    ctrl.send("dial", &uri, "dial")
        .await
        .map_err(|e| e.to_string())?;
    ctrl.event("CALL_ESTABLISHED", T)
        .await
        .ok_or("dial: no CALL_ESTABLISHED within 10 s")?;
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

pub async fn bare_hangup(ctrl: &mut Ctrl) -> Result<(), String> {
    ctrl.send("hangup", "", "hangup")
        .await
        .map_err(|e| e.to_string())?;
    ctrl.event("CALL_CLOSED", T)
        .await
        .map(|_| ())
        .ok_or_else(|| "hangup: no CALL_CLOSED".to_owned())
}

pub fn bare_caller(kam: Kam, codecs: &str) -> Result<Baresip, String> {
    bare_phone(
        kam,
        &BaresipOptions {
            audio_codecs: codecs.into(),
            ..baresip_options()
        },
    )
}

pub fn tail(text: &str, n: usize) -> String {
    let start = text.len().saturating_sub(n);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_owned()
}

pub fn side_name(seat: bool) -> &'static str {
    if seat {
        "Seatphone"
    } else {
        "baresip"
    }
}

/// Reads the page for `d` (it must answer the host's pings); true if the call ended.
pub async fn pump_page(page: &mut Page, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    let mut ended = false;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(f) = page.next_frame(left).await {
            ended |= f["notify"] == Event::CallEnded.notify();
        }
    }
    ended
}

/// Reads ctrl_tcp for `d`; true if the call closed.
pub async fn pump_ctrl(ctrl: &mut Ctrl, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    let mut ended = false;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(f) = ctrl.next(left).await {
            ended |= f["type"] == "CALL_CLOSED";
        }
    }
    ended
}
