//! Snapshots and recordings of the peer's video (the capture plugin): the
//! `seatphone` host calls baresip through Kamailio with video; baresip
//! sends ffmpeg's testsrc2 (six colour bars under moving shapes). The
//! snapshots must show those bars; the recordings must play (per ffprobe)
//! with the peer's codec, for as long as they were recorded, and hold the
//! call's sound: baresip's 440 Hz tone and the host's microphone (a WAV
//! of 1 kHz), mixed.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use crate::REAL_TIME;
use seatphone_tests::audio_check::{rms_dbfs, tone_power, write_sine_wav, Recording};
use seatphone_tests::host::{plugin_library, signal, Command, Event, Options, Page, Seatphone};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip, BaresipOptions};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::plugins;
use seatphone_tests::xvfb::Xvfb;
use serde_json::{json, Value};

/// What baresip (`ausine`) and the host's microphone (a WAV) send.
const PEER_HZ: f64 = 440.0;
const MIC_HZ: f64 = 1000.0;

/// A video call up between the host (its capture folder `dir`) and baresip.
struct VideoCall {
    page: Page,
    call_id: Value,
    host: Seatphone,
    peer: Baresip,
    _kam: Kamailio,
    _x: Xvfb,
    _mic: tempfile::TempDir,
}

impl VideoCall {
    /// Also answers what the page got when it asked, before calling, for a
    /// snapshot and a recording.
    async fn start(codec: &str, dir: &Path) -> (VideoCall, Vec<Value>) {
        let x = Xvfb::start();
        let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
        let peer = Baresip::start_with(
            "1002",
            kam.port,
            &BaresipOptions {
                audio_source: format!("ausine,{PEER_HZ}"),
                ..BaresipOptions::answering(AnswerMode::Auto)
            }
            .video(codec),
        )
        .expect("baresip");
        let mic_dir = tempfile::tempdir().unwrap();
        let mic = mic_dir.path().join("mic.wav");
        write_sine_wav(&mic, 48_000, 1, MIC_HZ, 0.3, 5.0).unwrap();
        let host = Seatphone::start(Options {
            extra_toml: format!(
                "[video]\ncamera = \"test\"\nwidth = 320\nheight = 240\nfps = 15\nbitrate = 300\n\
                 codecs = [\"{codec}\"]\ndisplay = \"{}\"\n[capture]\ndir = \"{}\"\n\
                 [audio]\ninput = \"file:{}\"\noutput = \"null\"\n",
                x.display,
                dir.display(),
                mic.display()
            ),
            ..Options::default()
        })
        .await;
        let mut page = host.registered_page(kam.port, "1001").await;
        // Before any call: nothing to capture, said so.
        let before = vec![
            page.request(Command::ScreenShot, json!({"format": "path"}))
                .await,
            page.request(Command::CatchVideo, json!({"operation": 0}))
                .await,
        ];
        let call_id = Seatphone::video_call(&mut page, "1002").await;
        let call = VideoCall {
            page,
            call_id,
            host,
            peer,
            _kam: kam,
            _x: x,
            _mic: mic_dir,
        };
        (call, before)
    }

    /// Snapshots until the first picture has come (or 10 s).
    async fn first_snapshot(&mut self, format: &str) -> Value {
        for _ in 0..40 {
            let r = self
                .page
                .request(Command::ScreenShot, json!({"format": format}))
                .await;
            let waiting = r["errMsg"]
                .as_str()
                .is_some_and(|e| e.contains("no picture") || e.contains("no video call"));
            if !waiting {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "no picture came for a snapshot\nbaresip:\n{}\nseatphone:\n{}",
            self.peer.log(),
            self.host.all_logs()
        );
    }

    /// A base64 snapshot, decoded into `dir`, shows testsrc2's bars.
    async fn base64_snapshot_shows_bars(&mut self, dir: &Path) {
        let r = self
            .page
            .request(Command::ScreenShot, json!({"format": "base64"}))
            .await;
        let png = dir.join("snapshot.png");
        base64_to_file(top_level(&r, "base64"), &png);
        assert_shows_bars(&png);
    }

    async fn catch(&mut self, param: Value) -> Value {
        self.page.request(Command::CatchVideo, param).await
    }

    async fn end(&mut self) {
        Seatphone::hang_up(&mut self.page, &self.call_id).await;
    }
}

/// A failure the page can act on: result 1 and an errMsg saying `what`.
fn assert_failed(r: &Value, what: &str) {
    assert_eq!(r["result"], 1, "{r}");
    let msg = r["errMsg"].as_str().unwrap_or_default();
    assert!(msg.contains(what), "errMsg should say {what:?}: {r}");
}

/// The reference's success: no `result`, the value at the top level.
fn top_level<'a>(r: &'a Value, key: &str) -> &'a str {
    assert!(r.get("result").is_none(), "success has no result: {r}");
    assert!(r["rsp"].is_u64() && r["description"].is_string(), "{r}");
    r[key]
        .as_str()
        .unwrap_or_else(|| panic!("no top-level {key}: {r}"))
}

fn base64_to_file(text: &str, path: &Path) {
    use std::io::Write;
    let mut child = Process::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(path).unwrap())
        .spawn()
        .expect("base64");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "the base64 decodes");
}

/// An image's size and its pixels as RGB, through ffprobe and ffmpeg.
fn rgb(image: &Path) -> (usize, usize, Vec<u8>) {
    let v = ffprobe(image, &["-show_entries", "stream=width,height"]);
    let (w, h) = (
        v["streams"][0]["width"].as_u64().unwrap() as usize,
        v["streams"][0]["height"].as_u64().unwrap() as usize,
    );
    let out = Process::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(image)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg");
    assert_eq!(out.stdout.len(), w * h * 3, "{image:?} decodes");
    (w, h, out.stdout)
}

/// testsrc2's six vertical bars, left to right, as (R, G, B) high or low.
const BARS: [(&str, [bool; 3]); 6] = [
    ("red", [true, false, false]),
    ("green", [false, true, false]),
    ("yellow", [true, true, false]),
    ("blue", [false, false, true]),
    ("magenta", [true, false, true]),
    ("cyan", [false, true, true]),
];

/// The picture shows testsrc2's bars: down the middle of each bar, the
/// median colour (the moving shapes cover less than half) is the bar's,
/// with room for the codec and limited-range YUV.
fn assert_shows_bars(image: &Path) {
    let (w, h, px) = rgb(image);
    assert_eq!((w, h), (320, 240), "the frame's own resolution");
    for (i, (name, want)) in BARS.iter().enumerate() {
        let x = w * (2 * i + 1) / 12;
        let mut column: Vec<[u8; 3]> = (0..h)
            .map(|y| {
                let p = (y * w + x) * 3;
                [px[p], px[p + 1], px[p + 2]]
            })
            .collect();
        let median: Vec<u8> = (0..3)
            .map(|c| {
                column.sort_by_key(|p| p[c]);
                column[h / 2][c]
            })
            .collect();
        let got = [0, 1, 2].map(|c| median[c] >= 128);
        let clear = median.iter().all(|v| *v >= 170 || *v <= 85);
        assert!(
            got == *want && clear,
            "bar {i} ({name}) at x={x} has median {median:?} in {image:?}"
        );
    }
}

fn ffprobe(file: &Path, args: &[&str]) -> Value {
    let out = Process::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(file)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {file:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe's JSON")
}

/// What ffprobe finds in a recording: the video's codec, its frames and
/// the time they span, and the sound's codec.
struct Probe {
    codec: String,
    frames: usize,
    seconds: f64,
    audio: Option<String>,
}

fn probe(file: &Path) -> Probe {
    let v = ffprobe(
        file,
        &[
            "-show_entries",
            "stream=codec_type,codec_name:packet=pts_time,stream_index",
        ],
    );
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let video = streams
        .iter()
        .position(|s| s["codec_type"] == "video")
        .unwrap_or_else(|| panic!("{file:?} has a video stream: {v}"));
    let times: Vec<f64> = v["packets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["stream_index"] == video)
        .filter_map(|p| p["pts_time"].as_str()?.parse().ok())
        .collect();
    let span = |f: fn(f64, f64) -> f64, init| times.iter().copied().fold(init, f);
    Probe {
        codec: streams[video]["codec_name"]
            .as_str()
            .unwrap_or_default()
            .into(),
        frames: times.len(),
        seconds: span(f64::max, f64::MIN) - span(f64::min, f64::MAX),
        audio: streams
            .iter()
            .find(|s| s["codec_type"] == "audio")
            .and_then(|s| Some(s["codec_name"].as_str()?.to_string())),
    }
}

/// A recording's sound as ffmpeg decodes it (mono, 48 kHz).
fn sound(file: &Path) -> Recording {
    let out = Process::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args([
            "-vn",
            "-ac",
            "1",
            "-ar",
            "48000",
            "-c:a",
            "pcm_s16le",
            "-f",
            "wav",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{file:?}'s sound decodes: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Recording::parse(&out.stdout).expect("ffmpeg's WAV")
}

/// The recording holds the call's sound as Opus: both sides are heard
/// (the peer's tone and the microphone's, each far above a frequency
/// nobody sent), at a level a person hears.
fn assert_hears_the_call(file: &Path, p: &Probe) {
    assert_eq!(p.audio.as_deref(), Some("opus"), "{file:?} has sound");
    let r = sound(file);
    assert!(
        r.seconds() >= 1.5,
        "{:.2} s of sound in {file:?}",
        r.seconds()
    );
    let middle = r.slice(0.5, r.seconds() - 0.5);
    let level = rms_dbfs(middle);
    assert!(level > -30.0, "the sound is not silent: {level:.1} dBFS");
    let floor = tone_power(middle, r.rate, 700.0);
    for hz in [PEER_HZ, MIC_HZ] {
        let power = tone_power(middle, r.rate, hz);
        assert!(
            power > 1e-3 && power > floor * 1000.0,
            "{hz} Hz in {file:?}: {power:e} (700 Hz: {floor:e})"
        );
    }
}

fn ffprobe_codec(codec: &str) -> &'static str {
    if codec == "VP8" {
        "vp8"
    } else {
        "h264"
    }
}

fn extension(codec: &str) -> &'static str {
    if codec == "VP8" {
        "webm"
    } else {
        "mp4"
    }
}

fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect()
}

/// Everything the page can capture of one video call, in the reference's
/// shapes.
async fn capture_a_video_call(codec: &str) {
    let _serial = REAL_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("evidence");
    let (mut call, before) = VideoCall::start(codec, &folder).await;
    for r in &before {
        assert_failed(r, "no video call");
    }

    // Snapshot to a file: a PNG in the capture folder showing the bars.
    let r = call.first_snapshot("path").await;
    let path = PathBuf::from(top_level(&r, "path"));
    assert_eq!(path.parent(), Some(folder.as_path()), "{r}");
    assert_eq!(path.extension().unwrap(), "png");
    assert_shows_bars(&path);

    // … and as base64: the same picture.
    call.base64_snapshot_shows_bars(dir.path()).await;

    // Record 3 s to a file; a second start is refused while it runs.
    let r = call.catch(json!({"operation": 0, "format": "path"})).await;
    assert!(r.get("result").is_none(), "start: {r}");
    let twice = call.catch(json!({"operation": true})).await;
    assert_failed(&twice, "already being recorded");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = call.catch(json!({"operation": 1, "format": "path"})).await;
    let recording = PathBuf::from(top_level(&r, "path"));
    assert_eq!(recording.parent(), Some(folder.as_path()), "{r}");
    assert_eq!(recording.extension().unwrap(), extension(codec));
    let p = probe(&recording);
    assert_eq!(p.codec, ffprobe_codec(codec), "{recording:?}");
    assert!(
        (2.5..=3.6).contains(&p.seconds) && p.frames >= 30,
        "3 s recorded: {} frames over {:.2} s",
        p.frames,
        p.seconds
    );
    assert_hears_the_call(&recording, &p);
    let stopped = call.catch(json!({"operation": 1})).await;
    assert_failed(&stopped, "no recording is running");

    // A timed base64 clip, received in the start's own answer.
    let r = call.catch(json!({"operation": 2, "time": 2})).await;
    let clip = dir.path().join(format!("clip.{}", extension(codec)));
    base64_to_file(top_level(&r, "base64"), &clip);
    let p = probe(&clip);
    assert_eq!(p.codec, ffprobe_codec(codec));
    assert!(
        (1.5..=2.6).contains(&p.seconds) && p.frames >= 20,
        "a 2 s clip: {} frames over {:.2} s",
        p.frames,
        p.seconds
    );
    assert_eq!(p.audio.as_deref(), Some("opus"), "the clip has sound");

    // A clip of 8 s stopped after about 2: the stop's answer carries it
    // (and so does the start's).
    let seq = call
        .page
        .send(
            Command::CatchVideo,
            json!({"operation": 0, "format": "base64", "time": 8}),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stop = call
        .catch(json!({"operation": 1, "format": "base64", "time": 0}))
        .await;
    let start = call.page.response_for(seq).await;
    let cut = dir.path().join(format!("cut.{}", extension(codec)));
    base64_to_file(top_level(&stop, "base64"), &cut);
    assert_eq!(top_level(&start, "base64"), top_level(&stop, "base64"));
    let p = probe(&cut);
    assert!(
        p.seconds < 4.0 && p.frames >= 10,
        "stopped after about 2 s of 8: {} frames over {:.2} s",
        p.frames,
        p.seconds
    );

    // Out of range: said so, nothing started.
    let r = call
        .catch(json!({"operation": 0, "format": "base64", "time": 11}))
        .await;
    assert_eq!(r["result"], 2, "{r}");
    assert!(r["errMsg"].as_str().unwrap().contains("1 to 10"), "{r}");

    // A recording the call's end finalises: the next stop answers its path.
    let r = call.catch(json!({"operation": 0})).await;
    assert!(r.get("result").is_none(), "start: {r}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    call.end().await;
    let r = call.catch(json!({"operation": 1})).await;
    let last = PathBuf::from(top_level(&r, "path"));
    assert_ne!(last, recording);
    let p = probe(&last);
    assert!(p.frames >= 15, "{} frames until the call ended", p.frames);
    assert_hears_the_call(&last, &p);

    // No call any more: said so.
    let r = call
        .page
        .request(Command::ScreenShot, json!({"format": "base64"}))
        .await;
    assert_failed(&r, "no video call");
    let mut made = files_in(&folder, "png");
    made.extend(files_in(&folder, extension(codec)));
    assert_eq!(made.len(), 3, "one snapshot, two recordings: {made:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_and_recordings_of_a_vp8_video_call() {
    capture_a_video_call("VP8").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_and_recordings_of_an_h264_video_call() {
    capture_a_video_call("H264").await;
}

/// The engine is killed 4 s into a recording: the file plays (fragments
/// reach the disk as they close) and holds at least 3 s; the daemon
/// brings the engine back.
async fn recording_survives_a_killed_engine(codec: &str) {
    let _serial = REAL_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut call, _) = VideoCall::start(codec, dir.path()).await;
    call.first_snapshot("base64").await;
    let mut daemon = call.host.daemon_page().await;
    let r = call.catch(json!({"operation": 0})).await;
    assert!(r.get("result").is_none(), "start: {r}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    signal(call.host.engine_pid().unwrap(), "KILL");
    daemon
        .event(Event::ServiceRecover, Duration::from_secs(20))
        .await;

    let files = files_in(dir.path(), extension(codec));
    assert_eq!(files.len(), 1, "{files:?}");
    let p = probe(&files[0]);
    assert_eq!(p.codec, ffprobe_codec(codec));
    assert!(
        p.seconds >= 3.0 && p.frames >= 40,
        "killed 4 s in: {} frames over {:.2} s",
        p.frames,
        p.seconds
    );
    assert_hears_the_call(&files[0], &p);
}

#[tokio::test(flavor = "multi_thread")]
async fn vp8_recording_survives_a_killed_engine() {
    recording_survives_a_killed_engine("VP8").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn h264_recording_survives_a_killed_engine() {
    recording_survives_a_killed_engine("H264").await;
}

/// A capture folder that cannot be made (its parent is a file): the page
/// is told where and why; base64 still works, and so does the call.
#[tokio::test(flavor = "multi_thread")]
async fn a_capture_folder_that_cannot_be_made_is_named_and_base64_still_works() {
    let _serial = REAL_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let folder = file.join("evidence");
    let (mut call, _) = VideoCall::start("VP8", &folder).await;
    let r = call.first_snapshot("path").await;
    assert_failed(&r, &folder.display().to_string());
    let r = call.catch(json!({"operation": 0})).await;
    assert_failed(&r, &folder.display().to_string());
    call.base64_snapshot_shows_bars(dir.path()).await;
    call.end().await;
}

/// The capture plugin's own event (docs/PROTOCOL.md, "Capture plugin").
const EVT_RECORDING_ENDED: u32 = 3301;

/// A timed clip of the longest time a page may ask for (10 s) arrives by
/// itself, in the start's own answer, with 10 s of pictures and the call's
/// sound; the page is told it ended by its length. 11 s is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_ten_second_clip_is_the_longest_and_comes_by_itself() {
    let _serial = REAL_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut call, _) = VideoCall::start("H264", dir.path()).await;
    call.first_snapshot("base64").await;
    let r = call.catch(json!({"operation": 2, "time": 11})).await;
    assert_eq!(r["result"], 2, "{r}");
    assert!(r["errMsg"].as_str().unwrap().contains("1 to 10"), "{r}");

    // Sent as is: its answer comes after the clip, beyond a request's wait.
    let seq = call
        .page
        .send(Command::CatchVideo, json!({"operation": 2, "time": 10}))
        .await;
    let ended = call
        .page
        .event(EVT_RECORDING_ENDED, Duration::from_secs(30))
        .await;
    assert_eq!(ended["param"]["reason"], "length", "{ended}");
    assert_eq!(ended["param"]["callId"], call.call_id, "{ended}");
    let r = call.page.response_for(seq).await;
    let clip = dir.path().join("ten.mp4");
    base64_to_file(top_level(&r, "base64"), &clip);
    let p = probe(&clip);
    assert_eq!(p.codec, "h264");
    assert!(
        (9.5..=10.05).contains(&p.seconds) && p.frames >= 100,
        "a 10 s clip: {} frames over {:.2} s",
        p.frames,
        p.seconds
    );
    assert_hears_the_call(&clip, &p);
    call.end().await;
}

/// A tmpfs of a test's own (the tests run as root, as the network
/// namespace ones do): a disk that fills up.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let status = Process::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("seatphone-small-disk")
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(
            status.success(),
            "mount a tmpfs of {size} on {:?} (needs root)",
            dir.path()
        );
        SmallDisk(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Process::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// The capture folder's disk fills up during a recording: the recording
/// stops at once and the page is told (event 3301, and the next stop's
/// answer) that the disk is full and where what was recorded is; that
/// file plays; the call goes on (its pictures still come, a clip in
/// memory still works).
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_stops_the_recording_and_the_call_goes_on() {
    let _serial = REAL_TIME.lock().await;
    let disk = SmallDisk::mount("160k");
    let (mut call, _) = VideoCall::start("VP8", disk.path()).await;
    call.first_snapshot("base64").await;
    let r = call.catch(json!({"operation": 0})).await;
    assert!(r.get("result").is_none(), "start: {r}");
    // 160 KiB hold a few seconds of 300 kbit/s.
    let ended = call
        .page
        .event(EVT_RECORDING_ENDED, Duration::from_secs(60))
        .await;
    let e = &ended["param"];
    assert_eq!(e["reason"], "failed", "{ended}");
    assert_eq!(e["callId"], call.call_id, "{ended}");
    let file = PathBuf::from(e["path"].as_str().expect("the file is named"));
    let err = e["errMsg"].as_str().unwrap_or_default();
    assert!(
        err.contains("is full")
            && err.contains(&disk.path().display().to_string())
            && err.contains(&file.display().to_string()),
        "says the disk is full and where the recording is: {ended}"
    );
    let p = probe(&file);
    assert_eq!(p.codec, "vp8");
    assert!(
        p.frames >= 15,
        "{} frames before the disk was full",
        p.frames
    );
    let decode = Process::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&file)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        decode.status.success() && decode.stderr.is_empty(),
        "what was written decodes cleanly: {}",
        String::from_utf8_lossy(&decode.stderr)
    );
    let r = call.catch(json!({"operation": 1})).await;
    assert_failed(&r, "is full");

    // The call goes on: its pictures still come (testsrc2 moves, so two
    // snapshots a second apart differ), a clip in memory still works.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut shots = Vec::new();
    for n in 0..2 {
        let r = call
            .page
            .request(Command::ScreenShot, json!({"format": "base64"}))
            .await;
        let png = elsewhere.path().join(format!("after-{n}.png"));
        base64_to_file(top_level(&r, "base64"), &png);
        let (w, h, px) = rgb(&png);
        assert_eq!((w, h), (320, 240));
        shots.push(px);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_ne!(shots[0], shots[1], "the peer's pictures still come");
    let r = call.catch(json!({"operation": 2, "time": 1})).await;
    top_level(&r, "base64");
    call.end().await;
}

/// A snapshot whose PNG is over the 8 MiB of file a base64 answer carries
/// (docs/PROTOCOL.md, "Capture plugin"): the page gets result 1 saying so
/// and what to do (format "path"), and nothing else changes: no file is
/// written, "path" still saves that picture, a smaller one still comes as
/// base64, the host still serves. The pictures come from a plugin that
/// stands in for the video plugin on the bus (no peer sends 2560x1440 of
/// noise cheaply; the capture plugin is the real one).
#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_too_big_for_a_base64_answer_is_refused_and_nothing_else_changes() {
    let _serial = REAL_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("evidence");
    let host = Seatphone::start(Options {
        plugins: vec![plugin_library("capture"), plugins::pictures()],
        extra_toml: format!("[capture]\ndir = \"{}\"\n", folder.display()),
        ..Options::default()
    })
    .await;
    let mut page = host.call_page().await;
    let publish = |width: u32, height: u32, noise: bool| json!({"callId": 7, "width": width, "height": height, "noise": noise});
    // The bus hands a picture to the capture plugin's own thread after
    // the publish returns: ask until the answer shows the new picture.
    async fn base64_until(page: &mut Page, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..50 {
            let r = page
                .request(Command::ScreenShot, json!({"format": "base64"}))
                .await;
            if done(&r) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the snapshot never showed the picture published");
    }
    let small = publish(64, 48, false);
    let r = page
        .request_raw(90301, "pictures_publish", small.clone())
        .await;
    assert_eq!(r["result"], 0, "{r}");
    let r = base64_until(&mut page, |r| r.get("base64").is_some()).await;
    assert!(!top_level(&r, "base64").is_empty());

    // 2560x1440 of noise: about 11 MB of PNG.
    let r = page
        .request_raw(90301, "pictures_publish", publish(2560, 1440, true))
        .await;
    assert_eq!(r["result"], 0, "{r}");
    let r = base64_until(&mut page, |r| r.get("base64").is_none()).await;
    assert_failed(&r, "more than the 8 MiB a base64 answer carries");
    assert_failed(&r, "format \"path\"");
    assert!(r.get("base64").is_none(), "{r}");
    assert!(
        files_in(&folder, "png").is_empty(),
        "a refused base64 snapshot writes nothing"
    );

    // What the error says to do works: the same picture as a file.
    let r = page
        .request(Command::ScreenShot, json!({"format": "path"}))
        .await;
    let path = PathBuf::from(top_level(&r, "path"));
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 8 << 20, "the PNG is {size} bytes");
    let v = ffprobe(&path, &["-show_entries", "stream=width,height"]);
    assert_eq!(v["streams"][0]["width"], 2560, "{v}");

    // A picture that fits comes as base64 again; the host serves on.
    let r = page.request_raw(90301, "pictures_publish", small).await;
    assert_eq!(r["result"], 0, "{r}");
    let r = base64_until(&mut page, |r| r.get("base64").is_some()).await;
    let png = dir.path().join("small.png");
    base64_to_file(top_level(&r, "base64"), &png);
    let (w, h, _) = rgb(&png);
    assert_eq!((w, h), (64, 48));
    assert_eq!(host.health().await["plugins"].as_array().unwrap().len(), 2);
    assert_eq!(files_in(&folder, "png").len(), 1, "the one path snapshot");
}
