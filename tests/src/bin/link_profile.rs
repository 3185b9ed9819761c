//! Records which functions of Seatphone's executable and plugins run while
//! it starts, registers and idles (past the first keep-alive), and then
//! during a call, so the linker can place them side by side
//! (`link-order/functions.txt`, one `<binary> <symbol>` a line, read by
//! `link-order/apply.rs`): the kernel maps code in 64 KiB windows around
//! each page touched, so code run at start-up scattered over the whole
//! binary makes most of it resident. Run by `scripts/link-order.sh`.
//!
//!     link_profile --exe target/release/seatphone --plugins target/release --out FILE
//!
//! The host runs under callgrind (valgrind); Kamailio registers it, and
//! it makes four calls, the microphone a 440 Hz tone (a WAV file, as the
//! bench's calls have it): first to SIPp echoing our own Opus back (the
//! bench's callee: we decode what our encoder makes, SILK at a voice
//! bitrate), then to baresips (auto-answer), Opus (baresip sends CELT)
//! and G.711 (PCMA); last a VP8 video call to a baresip sending video, as
//! the bench's video call has it (test pattern, 640x480, no window). The
//! harness's default baresip offers G.711 only, and a call that never ran
//! the Opus codec left all of it out of the list; one that never decoded
//! SILK left out what the bench's call runs most; without the video call
//! nearly all of the video plugin's code was resident in one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use seatphone_tests::audio_check::write_sine_wav;
use seatphone_tests::host::{
    plugin_file_name, Command, Event, Options, Page, Seatphone, WORKSPACE_PLUGINS as PLUGINS,
};
use seatphone_tests::measure::video_toml;
use seatphone_tests::peers::baresip::{AnswerMode, Baresip, BaresipOptions};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::sipp::Sipp;
use tokio::process::Command as Process;

/// Generous: everything runs about 50 times slower under callgrind.
const SLOW: Duration = Duration::from_secs(120);
/// Long enough for the first keep-alive (25 s) to have run.
const IDLE: Duration = Duration::from_secs(30);

struct Args {
    exe: PathBuf,
    plugins: PathBuf,
    out: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut exe, mut plugins, mut out) = (None, None, None);
    while let Some(a) = it.next() {
        let value = it.next().map(PathBuf::from);
        match a.as_str() {
            "--exe" => exe = value,
            "--plugins" => plugins = value,
            "--out" => out = value,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    match (exe, plugins, out) {
        (Some(exe), Some(plugins), Some(out)) => {
            // The config lives in a temporary folder: relative paths would not do.
            let absolute = |p: PathBuf| {
                p.canonicalize()
                    .map_err(|e| format!("{}: {e}", p.display()))
            };
            Ok(Args {
                exe: absolute(exe)?,
                plugins: absolute(plugins)?,
                out,
            })
        }
        _ => Err("usage: link_profile --exe SEATPHONE --plugins DIR --out FILE".into()),
    }
}

#[tokio::main]
async fn main() {
    let args = args().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let profiles = tempfile::Builder::new()
        .prefix("link-profile")
        .tempdir()
        .expect("temp folder");

    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let tone = profiles.path().join("tone-48k.wav");
    write_sine_wav(&tone, 48000, 1, 440.0, 0.3, 10.0).expect("write the tone");
    let host = start_host(&args, profiles.path(), &tone, false).await;

    eprintln!("link_profile: start-up, registration and idle");
    let mut page = host.registered_page(kam.port, "1001").await;
    for _ in 0..3 {
        page.request(Command::GetMicVolume, serde_json::json!({}))
            .await;
    }
    dump("start-up").await;
    // Then idle past the first keep-alive (an OPTIONS 25 s after
    // registering: `RegTiming::keepalive`), the page answering the
    // engine's pings as the bench's does. A part of its own, so that what
    // only a later moment runs lies after start-up's code, not among it:
    // placed among the call's code, the keep-alive made ~0.25 MiB more of
    // the binary resident by 40 s (recorded in one part with start-up it
    // read about the same as in a part of its own: bench/README.md).
    page.forget(IDLE).await;
    dump("idle").await;

    // The bench's call: the page's settings as the bench's seat has them
    // (`measure::BenchHost::register`: its codec list, AEC/ANR/AGC off,
    // plain RTP), then SIPp (through Kamailio) answers with Opus and
    // echoes our RTP. Its receive timeout is stretched for callgrind, and
    // the call lasts long enough for RTCP under callgrind's pace.
    page.ok(
        Command::SetConfigParam,
        serde_json::json!({"media": {"trans_mode": 0},
                           "audio": {"audio_codec": "112,9,8,0", "audio_aec": 0, "audio_anr": 0, "audio_agc": 0}}),
    )
    .await;
    eprintln!("link_profile: a call (opus, echoed by SIPp)");
    let mut sipp = Sipp::uas_with(
        "uas_echoes_opus.xml",
        &["-rtp_echo", "-recv_timeout", "120000", "-timeout", "300s"],
    )
    .expect("sipp");
    let id = Seatphone::call(&mut page, &format!("2000@{}", sipp.addr())).await;
    hang_up_after(&mut page, &id, Duration::from_secs(8)).await;
    assert_eq!(
        sipp.finished(SLOW).await,
        Some(true),
        "SIPp:\n{}",
        sipp.logs()
    );

    // Then baresips with the default media setting (SRTP when the peer
    // takes it), Opus first (the page's default order), then G.711: each
    // callee offers only its codec.
    page.ok(
        Command::SetConfigParam,
        serde_json::json!({"media": {"trans_mode": 1}}),
    )
    .await;
    for (user, codecs, module) in [
        ("1002", "opus/48000/2", "opus.so"),
        ("1003", "PCMA/8000/1", "g711.so"),
    ] {
        eprintln!("link_profile: a call ({codecs})");
        let options = BaresipOptions {
            audio_codecs: codecs.into(),
            modules: vec![module.into(), "ausine.so".into()],
            ..BaresipOptions::answering(AnswerMode::Auto)
        };
        let callee = Baresip::start_with(user, kam.port, &options).expect("baresip");
        let id = Seatphone::call(&mut page, user).await;
        hang_up_after(&mut page, &id, Duration::from_secs(5)).await;
        drop(callee);
    }
    drop(page);
    dump("call").await;

    // SIGTERM: the daemon closes the engine's stdin and both exit;
    // callgrind writes what ran since the call's part as they do.
    host.stop_within(SLOW).await;

    // Then a video call as the bench's (figure 7) to a baresip that sends
    // video too: our VP8 encoder and decoder, packetising, the camera. A
    // host of its own with `[video]` set, not dumped: what it runs comes
    // after the calls' part, and the start-up and idle parts stay what
    // the bench's idle seat (no `[video]`) runs.
    eprintln!("link_profile: a video call (VP8)");
    let host = start_host(&args, profiles.path(), &tone, true).await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let options = BaresipOptions::answering(AnswerMode::Auto).video("VP8");
    let callee = Baresip::start_with("1004", kam.port, &options).expect("baresip");
    let id = Seatphone::video_call(&mut page, "1004").await;
    hang_up_after(&mut page, &id, Duration::from_secs(15)).await;
    drop(callee);
    drop(page);
    host.stop_within(SLOW).await;

    let mut ours: Vec<String> = vec![args.exe.file_name().unwrap().to_string_lossy().into()];
    ours.extend(PLUGINS.iter().map(|p| plugin_file_name(p)));
    let order = function_order(profiles.path(), &ours);
    std::fs::write(&args.out, order.join("\n") + "\n").expect("write the order file");
    eprintln!(
        "link_profile: {} functions written to {}",
        order.len(),
        args.out.display()
    );
}

/// The harness's host (its own folder, a copy of each plugin, free
/// ports), with the deployment's log level, under callgrind; the engine
/// it starts is profiled too. `video`: with the bench's `[video]`.
async fn start_host(args: &Args, profiles: &Path, tone: &Path, video: bool) -> Seatphone {
    Seatphone::start(Options {
        exe: args.exe.clone(),
        plugins: PLUGINS
            .iter()
            .map(|p| args.plugins.join(plugin_file_name(p)))
            .collect(),
        under: vec![
            "valgrind".into(),
            "--tool=callgrind".into(),
            "--trace-children=yes".into(),
            format!("--callgrind-out-file={}/cg.%p", profiles.display()),
            "--dump-instr=no".into(),
            "--compress-strings=no".into(),
            "--demangle=no".into(),
        ],
        // The bench's [sip] settings (`measure::HostSpec`) beside a
        // timeout for callgrind's pace: parsing what a config has runs
        // code too.
        sip_toml: "request_timeout = 30\nmax_calls = 2\naccept_from = []".into(),
        // With video: the bench's video call (figure 7), no window.
        extra_toml: format!(
            "[audio]\ninput = \"file:{}\"\noutput = \"null\"\n{}",
            tone.display(),
            if video {
                video_toml("test", None, "VP8")
            } else {
                String::new()
            }
        ),
        log_level: "info".into(),
        dir_prefix: "link-profile".into(),
        ready_within: SLOW,
        ..Options::default()
    })
    .await
}

/// Lets the call run `talk`, then hangs up and waits for its end.
async fn hang_up_after(page: &mut Page, id: &serde_json::Value, talk: Duration) {
    tokio::time::sleep(talk).await;
    page.ok(Command::EndCall, serde_json::json!({ "callId": id }))
        .await;
    page.event(Event::CallEnded, SLOW).await;
}

/// Ends a part of every running profile (the daemon's and the engine's).
async fn dump(part: &str) {
    let status = Process::new("callgrind_control")
        .args(["--dump", part])
        .stdout(Stdio::null())
        .status()
        .await
        .expect("callgrind_control");
    assert!(status.success(), "callgrind_control --dump failed");
}

/// The functions of our own objects that ran, part by part (every
/// process's start-up part first, then idle, the call, the last parts
/// last), each once, as `<binary> <mangled name>`: each binary is linked
/// with its own.
fn function_order(profiles: &Path, ours: &[String]) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(profiles)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    // cg.<pid>.1 is a process's first part (start-up and registration),
    // cg.<pid>.2 the idle, cg.<pid>.3 the call, cg.<pid> its last (what
    // ran until it exited).
    files.sort_by_key(|f| {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let part = match name.splitn(3, '.').nth(2) {
            Some(n) => n.parse().unwrap_or(u32::MAX),
            None => u32::MAX,
        };
        (part, name)
    });
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let mut in_ours = None;
        for line in text.lines() {
            if let Some(object) = line.strip_prefix("ob=") {
                in_ours = ours.iter().find(|o| object.ends_with(o.as_str()));
            } else if let Some(function) = line.strip_prefix("fn=") {
                // callgrind names a recursion level `name'2`; unnamed code
                // is `0x…` or `(below main)`: not symbols the linker knows.
                let function = function.split('\'').next().unwrap_or(function);
                let symbol = !function.starts_with("0x") && !function.starts_with('(');
                if let Some(binary) = in_ours.filter(|_| symbol) {
                    let entry = format!("{binary} {function}");
                    if seen.insert(entry.clone()) {
                        order.push(entry);
                    }
                }
            }
        }
    }
    order
}
