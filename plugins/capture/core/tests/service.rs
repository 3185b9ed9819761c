//! The capture service as the plugin drives it: frames of a call in,
//! the page's commands, answers out (snapshots, recordings, timed clips,
//! the call's end, the errors a page can meet).

mod common;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use common::{encoded, mean_volume, probe};
use seatphone_capture_core::commands::{Catch, Format};
use seatphone_capture_core::config::CaptureConfig;
use seatphone_capture_core::service::{Answer, Answerer, Capture, Ended, Env, SoundSink};
use seatphone_capture_core::track::{VideoCodec, VideoFrame};
use seatphone_capture_core::writer::Pcm;

/// Stands for the bus subscriptions of a call's sound: counts itself.
struct Listening(Arc<AtomicUsize>);

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Seat {
    capture: Capture,
    clock: Arc<AtomicU64>,
    keyframes: Arc<AtomicUsize>,
    /// The sink of the latest call whose sound was asked for.
    sound: Arc<Mutex<Option<(u32, SoundSink)>>>,
    /// Sound subscriptions alive.
    listening: Arc<AtomicUsize>,
    /// The recordings' ends, as the page hears of them.
    ended: Arc<Mutex<Vec<Ended>>>,
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
}

fn seat() -> Seat {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("Seatphone");
    let clock = Arc::new(AtomicU64::new(1_000_000));
    let keyframes = Arc::new(AtomicUsize::new(0));
    let (c, k) = (clock.clone(), keyframes.clone());
    let sound = Arc::new(Mutex::new(None));
    let listening = Arc::new(AtomicUsize::new(0));
    let (sound_in, live) = (sound.clone(), listening.clone());
    let ended = Arc::new(Mutex::new(Vec::new()));
    let ended_in = ended.clone();
    let config = CaptureConfig {
        dir: Some(dir.clone()),
        ..CaptureConfig::default()
    };
    let capture = Capture::new(
        config,
        Env {
            clock: Arc::new(move || c.load(Ordering::Relaxed)),
            log: Arc::new(|m| eprintln!("{m}")),
            ask_keyframe: Arc::new(move |_| {
                k.fetch_add(1, Ordering::Relaxed);
            }),
            listen_sound: Arc::new(move |call, sink| {
                *sound_in.lock().unwrap() = Some((call, sink));
                live.fetch_add(1, Ordering::Relaxed);
                Box::new(Listening(live.clone()))
            }),
            ended: Arc::new(move |e| ended_in.lock().unwrap().push(e)),
        },
    );
    Seat {
        capture,
        clock,
        keyframes,
        sound,
        listening,
        ended,
        _dir: tmp,
        dir,
    }
}

fn answerer() -> (Answerer, Receiver<Answer>) {
    let (tx, rx) = channel();
    (Box::new(move |a| tx.send(a).unwrap()), rx)
}

fn wait(rx: &Receiver<Answer>) -> Answer {
    rx.recv_timeout(Duration::from_secs(20)).expect("an answer")
}

/// A grey 64x48 picture with a white left half.
fn picture() -> Vec<u8> {
    let mut y = vec![0u8; 64 * 48];
    for (i, p) in y.iter_mut().enumerate() {
        *p = if i % 64 < 32 { 235 } else { 126 };
    }
    y.extend(vec![128u8; 2 * 32 * 24]);
    y
}

impl Seat {
    fn feed(&self, call: u32, frames: &[VideoFrame], from_us: u64) {
        for f in frames {
            let at = from_us + f.pts_us;
            self.clock.store(at, Ordering::Relaxed);
            self.capture
                .encoded(call, VideoCodec::Vp8, f.keyframe, at, &f.data);
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The last recording's end the page heard of (it follows the answers).
    fn last_ended(&self) -> Ended {
        for _ in 0..200 {
            if let Some(e) = self.ended.lock().unwrap().last() {
                return e.clone();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no recording ended");
    }

    fn now(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    fn catch(&self, c: Catch) -> Receiver<Answer> {
        let (a, rx) = answerer();
        self.capture.catch(c, a);
        rx
    }
}

#[test]
fn snapshots_need_a_video_call_and_a_picture_then_save_it() {
    let s = seat();
    let (a, rx) = answerer();
    s.capture.snapshot(Format::Path, a);
    assert!(matches!(wait(&rx), Answer::Failed(e) if e.contains("no video call")));
    s.capture.encoded(7, VideoCodec::Vp8, false, s.now(), b"x");
    let (a, rx) = answerer();
    s.capture.snapshot(Format::Path, a);
    assert!(matches!(wait(&rx), Answer::Failed(e) if e.contains("no picture")));

    s.capture.picture(7, 64, 48, &picture());
    let (a, rx) = answerer();
    s.capture.snapshot(Format::Path, a);
    let Answer::Path(path) = wait(&rx) else {
        panic!()
    };
    assert!(path.starts_with(&s.dir));
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with("_call-7.png"), "{name}");
    let file = std::fs::read(&path).unwrap();
    let (a, rx) = answerer();
    s.capture.snapshot(Format::Base64, a);
    let Answer::Base64(b64) = wait(&rx) else {
        panic!()
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(decoded, file, "the same picture both ways");
    let img = png::Decoder::new(std::io::Cursor::new(decoded))
        .read_info()
        .unwrap();
    assert_eq!((img.info().width, img.info().height), (64, 48));
}

#[test]
fn a_recording_to_a_file_runs_until_stopped_once_per_call() {
    let s = seat();
    let frames = encoded(VideoCodec::Vp8, (320, 240), 3.0, 50);
    s.feed(3, &frames[..1], 0);
    let before = s.keyframes.load(Ordering::Relaxed);
    let start = Catch::Start {
        format: Format::Path,
        seconds: None,
    };
    assert_eq!(wait(&s.catch(start)), Answer::Done);
    assert!(
        s.keyframes.load(Ordering::Relaxed) > before,
        "a keyframe asked for"
    );
    assert!(
        matches!(wait(&s.catch(start)), Answer::Failed(e) if e.contains("already being recorded"))
    );
    s.feed(3, &frames, 1_000_000);
    let Answer::Path(path) = wait(&s.catch(Catch::Stop)) else {
        panic!()
    };
    assert!(path.to_string_lossy().ends_with("_call-3.webm"));
    let p = probe(&path);
    assert!(
        p.ok && p.frames.len() == 75,
        "{} {}",
        p.frames.len(),
        p.stderr
    );
    assert!(matches!(wait(&s.catch(Catch::Stop)), Answer::Failed(e) if e.contains("no recording")));
}

#[test]
fn a_timed_clip_answers_its_start_and_a_stop_gets_it_too() {
    let s = seat();
    let frames = encoded(VideoCodec::Vp8, (320, 240), 3.0, 25);
    s.feed(5, &frames[..1], 0);
    let started = s.catch(Catch::Start {
        format: Format::Base64,
        seconds: Some(2),
    });
    s.feed(5, &frames, 1_000_000);
    // The start's own answer: the clip, once two seconds are in.
    let Answer::Base64(clip) = wait(&started) else {
        panic!()
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&clip)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.webm");
    std::fs::write(&path, &bytes).unwrap();
    let p = probe(&path);
    assert!(p.ok, "{}", p.stderr);
    assert_eq!(p.frames.len(), 50, "two seconds at 25 pictures a second");
    // A page that stops afterwards (the reference sample's operation 3).
    assert!(
        wait(&s.catch(Catch::Stop)) == Answer::Base64(clip),
        "the stop gets the clip too"
    );

    // Stopped early: both the start and the stop get the clip.
    let started = s.catch(Catch::Start {
        format: Format::Base64,
        seconds: Some(10),
    });
    s.feed(5, &frames[..30], 4_000_000);
    let stopped = s.catch(Catch::Stop);
    let (a, b) = (wait(&started), wait(&stopped));
    assert!(a == b, "both answers hold the same clip");
    assert!(matches!(a, Answer::Base64(_)));
}

#[test]
fn the_calls_end_finishes_its_recording() {
    let s = seat();
    let frames = encoded(VideoCodec::H264, (320, 240), 2.0, 25);
    for f in &frames[..1] {
        s.capture
            .encoded(9, VideoCodec::H264, f.keyframe, s.now(), &f.data);
    }
    assert_eq!(
        wait(&s.catch(Catch::Start {
            format: Format::Path,
            seconds: None
        })),
        Answer::Done
    );
    for f in &frames {
        let at = 2_000_000 + f.pts_us;
        s.clock.store(at, Ordering::Relaxed);
        s.capture
            .encoded(9, VideoCodec::H264, f.keyframe, at, &f.data);
        std::thread::sleep(Duration::from_millis(1));
    }
    s.capture.call_ended(9);
    // The page asks afterwards: the file of the call that ended.
    let Answer::Path(path) = wait(&s.catch(Catch::Stop)) else {
        panic!()
    };
    assert!(path.to_string_lossy().ends_with("_call-9.mp4"));
    let p = probe(&path);
    assert!(p.ok && p.frames.len() == 50, "{}", p.stderr);
    let ended = s.last_ended();
    assert_eq!((ended.call_id, ended.reason), (9, "callEnded"));
    assert_eq!(ended.path.as_ref(), Some(&path));
    assert_eq!((ended.error, ended.pictures), (None, 50));
    // No call now.
    let start = Catch::Start {
        format: Format::Path,
        seconds: None,
    };
    assert!(matches!(wait(&s.catch(start)), Answer::Failed(e) if e.contains("no video call")));
    // A picture of the ended call still on its way changes nothing.
    s.capture.picture(9, 64, 48, &picture());
    s.capture
        .encoded(9, VideoCodec::H264, true, s.now(), &frames[0].data);
    let (a, rx) = answerer();
    s.capture.snapshot(Format::Base64, a);
    assert!(matches!(wait(&rx), Answer::Failed(e) if e.contains("no video call")));
}

#[test]
fn an_unwritable_folder_is_said_so() {
    let s = seat();
    std::fs::write(&s.dir, b"not a folder").unwrap();
    s.capture.picture(1, 64, 48, &picture());
    s.capture.encoded(1, VideoCodec::Vp8, true, s.now(), b"x");
    let (a, rx) = answerer();
    s.capture.snapshot(Format::Path, a);
    assert!(matches!(wait(&rx), Answer::Failed(e) if e.contains("is not a folder")));
    let start = Catch::Start {
        format: Format::Path,
        seconds: None,
    };
    assert!(matches!(wait(&s.catch(start)), Answer::Failed(e) if e.contains("is not a folder")));
}

/// A recording listens to its call's sound while it runs, and only then;
/// the file holds that sound as a second track.
#[test]
fn a_recording_hears_its_calls_sound_while_it_runs() {
    let s = seat();
    let frames = encoded(VideoCodec::Vp8, (320, 240), 2.0, 25);
    s.feed(4, &frames[..1], 0);
    assert_eq!(s.listening.load(Ordering::Relaxed), 0, "nobody records yet");
    let start = Catch::Start {
        format: Format::Path,
        seconds: None,
    };
    assert_eq!(wait(&s.catch(start)), Answer::Done);
    assert_eq!(s.listening.load(Ordering::Relaxed), 1);
    let (call, sink) = s.sound.lock().unwrap().clone().expect("sound asked for");
    assert_eq!(call, 4);
    let from = 1_000_000;
    for (i, f) in frames.iter().enumerate() {
        let at = from + f.pts_us;
        s.clock.store(at, Ordering::Relaxed);
        s.capture
            .encoded(4, VideoCodec::Vp8, f.keyframe, at, &f.data);
        // Two 20 ms frames of a 440 Hz tone a picture (the peer's side).
        for k in 0..2u64 {
            let first = (i as u64 * 2 + k) * 960;
            let samples = (first..first + 960)
                .map(|n| {
                    ((n as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin() * 8000.0) as i16
                })
                .collect();
            sink(Pcm {
                direction: 0,
                pts_us: at + k * 20_000,
                rate: 48_000,
                channels: 1,
                samples,
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let Answer::Path(path) = wait(&s.catch(Catch::Stop)) else {
        panic!()
    };
    assert_eq!(s.listening.load(Ordering::Relaxed), 0, "stopped listening");
    assert_eq!(s.last_ended().reason, "stopped");
    let p = probe(&path);
    assert!(p.ok, "{}", p.stderr);
    assert_eq!(p.codecs, ["vp8", "opus"]);
    let volume = mean_volume(&path);
    assert!(volume > -30.0, "the sound is not silent: {volume} dB");
}
