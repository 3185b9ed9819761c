//! A recording on its own thread, as the plugin runs it: pictures and
//! both directions of sound in, a file (or memory) out, checked by ffprobe
//! and ffmpeg.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::Duration;

use common::{
    assert_decodes_cleanly, encoded, mean_volume, mean_volume_between, probe, sound_onset,
};
use seatphone_capture_core::recording::{Limits, Recording, Stop};
use seatphone_capture_core::track::{Tracks, VideoCodec, VideoFrame};
use seatphone_capture_core::writer::{Callbacks, Outcome, Pcm, Recorder, Target};

fn tone(frequency: f32, rate: u32, start: usize, n: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| {
            ((i as f32 * frequency * std::f32::consts::TAU / rate as f32).sin() * 6000.0) as i16
        })
        .collect()
}

/// Records 3 s of pictures and of sound (the peer at 48 kHz, us at 8 kHz,
/// as an Opus and a G.711 leg would deliver) on a simulated clock.
fn record(codec: VideoCodec, target: Target) -> Outcome {
    record_frames(codec, target, encoded(codec, (320, 240), 3.0, 50))
}

/// As [`record`], with these pictures (25 a second).
fn record_frames(codec: VideoCodec, target: Target, frames: Vec<VideoFrame>) -> Outcome {
    record_with_sound_from(codec, target, frames, 0)
}

/// As [`record_frames`], the call's sound coming from picture
/// `sound_from` on (before it, none at all).
fn record_with_sound_from(
    codec: VideoCodec,
    target: Target,
    frames: Vec<VideoFrame>,
    sound_from: usize,
) -> Outcome {
    let clock = Arc::new(AtomicU64::new(5_000_000));
    let now = clock.clone();
    let (done, outcome) = channel();
    let recording = Recording::new(
        codec,
        Tracks { audio: true },
        Limits {
            max_length: Duration::from_secs(60),
            max_bytes: u64::MAX,
        },
    );
    let recorder = Recorder::start(
        recording,
        target,
        Callbacks {
            clock: Arc::new(move || now.load(Ordering::Relaxed)),
            log: Box::new(|m| eprintln!("{m}")),
            keyframe: Box::new(|| {}),
            done: Box::new(move |o| done.send(o).unwrap()),
        },
    )
    .unwrap();
    for (i, mut f) in frames.into_iter().enumerate() {
        let t = 5_000_000 + i as u64 * 40_000;
        f.pts_us = t;
        // Two 20 ms sound frames a picture, each direction.
        for k in (0..2u64).filter(|_| i >= sound_from) {
            let at = t + k * 20_000;
            let n = i * 2 + k as usize;
            recorder.sound(Pcm {
                direction: 0,
                pts_us: at,
                rate: 48_000,
                channels: 1,
                samples: tone(440.0, 48_000, n * 960, 960),
            });
            recorder.sound(Pcm {
                direction: 1,
                pts_us: at,
                rate: 8_000,
                channels: 1,
                samples: tone(300.0, 8_000, n * 160, 160),
            });
        }
        clock.store(t, Ordering::Relaxed);
        recorder.video(f);
        // Paced, so the queue never fills (a full one is another test).
        std::thread::sleep(Duration::from_millis(2));
    }
    recorder.stop(Stop::Asked);
    outcome.recv_timeout(Duration::from_secs(20)).unwrap()
}

fn with_sound(codec: VideoCodec) {
    let outcome = record(codec, Target::Memory);
    assert_eq!(outcome.why, Stop::Asked);
    assert_eq!(outcome.pictures, 75);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("sound.{}", codec.extension()));
    std::fs::write(&path, outcome.bytes.unwrap()).unwrap();
    let p = probe(&path);
    assert!(p.ok, "{}", p.stderr);
    assert_eq!(p.codecs[1], "opus", "{:?}", p.codecs);
    assert_eq!(p.frames.len(), 75);
    let audio_end = p.audio_end.unwrap();
    assert!(
        (audio_end - 3.0).abs() < 0.1,
        "sound lasts as long as the pictures: {audio_end}"
    );
    let volume = mean_volume(&path);
    assert!(volume > -30.0, "the sound is not silent: {volume} dB");
}

#[test]
fn mp4_recordings_hold_both_directions_of_sound() {
    with_sound(VideoCodec::H264);
}

#[test]
fn webm_recordings_hold_both_directions_of_sound() {
    with_sound(VideoCodec::Vp8);
}

/// The peer's picture grows mid-call (its encoder restarts at 640×480
/// with a keyframe): a new fragment starts there, every picture decodes at
/// its own size, and the sound goes on across the change without a gap.
fn size_change_with_sound(codec: VideoCodec) {
    let mut frames = encoded(codec, (320, 240), 2.0, 50);
    frames.extend(encoded(codec, (640, 480), 1.0, 50));
    let outcome = record_frames(codec, Target::Memory, frames);
    assert_eq!(outcome.why, Stop::Asked);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("resize.{}", codec.extension()));
    std::fs::write(&path, outcome.bytes.unwrap()).unwrap();
    let p = probe(&path);
    assert!(p.ok, "{}", p.stderr);
    assert_eq!(p.codecs[1], "opus", "{:?}", p.codecs);
    let sizes: Vec<(u32, u32)> = p.frames.iter().map(|f| (f.1, f.2)).collect();
    assert_eq!(sizes.len(), 75, "every picture decodes");
    assert!(sizes[..50].iter().all(|s| *s == (320, 240)), "{sizes:?}");
    assert!(sizes[50..].iter().all(|s| *s == (640, 480)), "{sizes:?}");
    let audio_end = p.audio_end.unwrap();
    assert!(
        (audio_end - 3.0).abs() < 0.1,
        "the sound goes on: {audio_end}"
    );
    assert_decodes_cleanly(&path);
}

#[test]
fn an_mp4_recording_with_sound_follows_a_size_change() {
    size_change_with_sound(VideoCodec::H264);
}

#[test]
fn a_webm_recording_with_sound_follows_a_size_change() {
    size_change_with_sound(VideoCodec::Vp8);
}

/// The call's sound starts 1.2 s into the recording, long after its
/// first fragment (and the file's header) went out: the file still has
/// the sound track, silent up to 1.2 s and the call's sound from there,
/// as long as the pictures, and plays. The sound lands with the picture
/// that has its time on the bus: within 25 ms, as sound goes in 20 ms
/// Opus packets, each in the 20 ms slot its time falls in (half a packet
/// either way), and the Opus decoder's window blurs an onset by a few ms.
fn sound_that_starts_late(codec: VideoCodec) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("late.{}", codec.extension()));
    let file = std::fs::File::create(&path).unwrap();
    let frames = encoded(codec, (320, 240), 2.4, 50);
    let target = Target::File {
        path: path.clone(),
        file,
    };
    let outcome = record_with_sound_from(codec, target, frames, 30);
    assert_eq!(outcome.why, Stop::Asked);
    let p = probe(&path);
    assert!(p.ok, "{}", p.stderr);
    let video = match codec {
        VideoCodec::H264 => "h264",
        VideoCodec::Vp8 => "vp8",
    };
    assert_eq!(p.codecs, [video, "opus"], "both tracks");
    assert_eq!(p.frames.len(), 60);
    let audio_end = p.audio_end.unwrap();
    assert!(
        (audio_end - 2.4).abs() < 0.1,
        "the sound track lasts as long as the pictures: {audio_end}"
    );
    assert_decodes_cleanly(&path);
    let onset = sound_onset(&path, 0.05).expect("the sound is heard");
    let picture = p.frames[30].0;
    assert!(
        (onset - picture).abs() <= 0.025,
        "the sound sent with picture 30 ({picture:.3} s) starts at {onset:.3} s"
    );
    let before = mean_volume_between(&path, 0.1, 1.1);
    let after = mean_volume_between(&path, 1.3, 2.3);
    assert!(
        before < -60.0 && after > -30.0,
        "silence before the sound came ({before} dB), the sound after ({after} dB)"
    );
}

#[test]
fn an_mp4_recording_whose_sound_starts_late_has_its_sound() {
    sound_that_starts_late(VideoCodec::H264);
}

#[test]
fn a_webm_recording_whose_sound_starts_late_has_its_sound() {
    sound_that_starts_late(VideoCodec::Vp8);
}

#[test]
fn a_file_recording_ends_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.webm");
    let file = std::fs::File::create(&path).unwrap();
    let outcome = record(
        VideoCodec::Vp8,
        Target::File {
            path: path.clone(),
            file,
        },
    );
    assert_eq!(outcome.path.as_deref(), Some(path.as_path()));
    assert!(outcome.bytes.is_none());
    let p = probe(&path);
    assert!(p.ok, "{}", p.stderr);
    // The count, when it is not 75, says whether pictures were lost.
    assert_eq!(outcome.pictures, 75, "pictures the recorder took");
    assert_eq!(p.frames.len(), 75, "pictures in the file");
}

#[test]
fn a_full_disk_ends_the_recording_with_a_clear_error() {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let outcome = record(
        VideoCodec::Vp8,
        Target::File {
            path: "/dev/full".into(),
            file,
        },
    );
    match outcome.why {
        Stop::Failed(e) => assert!(e.contains("is full"), "{e}"),
        other => panic!("{other:?}"),
    }
}
