//! Recordings of real H.264 and VP8 (ffmpeg's encoders, as a peer sends
//! them) through our muxers, checked by ffprobe: the codec, every picture
//! decoded, the length, and what a cut file still holds.

mod common;

use std::time::Duration;

use common::{assert_decodes_cleanly, encoded, probe};
use seatphone_capture_core::recording::{Limits, Recording, Step, Stop};
use seatphone_capture_core::track::{Tracks, VideoCodec, VideoFrame};

const NO_LIMITS: Limits = Limits {
    max_length: Duration::from_secs(3600),
    max_bytes: u64::MAX,
};

fn video_only() -> Tracks {
    Tracks { audio: false }
}

/// Feeds frames, collecting the file and the steps' news.
struct Run {
    rec: Recording,
    file: Vec<u8>,
    asks: usize,
    finished: Option<Stop>,
    /// File length after each write: where a cut could fall.
    writes: Vec<usize>,
}

impl Run {
    fn new(rec: Recording) -> Run {
        Run {
            rec,
            file: Vec::new(),
            asks: 0,
            finished: None,
            writes: Vec::new(),
        }
    }

    fn take(&mut self, step: Step) {
        if !step.bytes.is_empty() {
            self.file.extend(step.bytes);
            self.writes.push(self.file.len());
        }
        self.asks += usize::from(step.ask_keyframe);
        if step.finished.is_some() {
            self.finished = step.finished;
        }
    }

    fn feed(&mut self, frames: impl IntoIterator<Item = VideoFrame>) {
        for f in frames {
            let step = self.rec.video(f, false);
            self.take(step);
        }
    }

    fn finish(&mut self) {
        let step = self.rec.finish(Stop::Asked);
        self.take(step);
    }

    fn save(&self, name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &self.file).unwrap();
        (dir, path)
    }
}

fn three_seconds(codec: VideoCodec) {
    let frames = encoded(codec, (320, 240), 3.0, 50);
    let count = frames.len();
    let mut run = Run::new(Recording::new(codec, video_only(), NO_LIMITS));
    run.feed(frames);
    run.finish();
    assert_eq!(run.finished, Some(Stop::Asked));
    assert!(
        run.writes.len() >= 6,
        "written a fragment at a time: {:?}",
        run.writes
    );
    let (_dir, path) = run.save(&format!("three.{}", codec.extension()));
    let p = probe(&path);
    assert!(p.ok, "ffprobe: {}", p.stderr);
    let want = match codec {
        VideoCodec::H264 => "h264",
        VideoCodec::Vp8 => "vp8",
    };
    assert_eq!(p.codecs, [want]);
    assert_eq!(p.frames.len(), count, "every picture decodes");
    assert!(
        (p.video_seconds() - 2.96).abs() < 0.05,
        "{}",
        p.video_seconds()
    );
    assert!(p.frames.iter().all(|f| (f.1, f.2) == (320, 240)));
}

#[test]
fn h264_into_fragmented_mp4_plays_every_picture() {
    three_seconds(VideoCodec::H264);
}

#[test]
fn vp8_into_webm_plays_every_picture() {
    three_seconds(VideoCodec::Vp8);
}

/// A file cut at any write (a SIGKILL or a power cut between two
/// fragments), or in the middle of one, plays up to what it holds.
fn cut_anywhere(codec: VideoCodec) {
    let frames = encoded(codec, (320, 240), 3.0, 25);
    let mut run = Run::new(Recording::new(codec, video_only(), NO_LIMITS));
    run.feed(frames);
    // No finish: the process died.
    let whole = run.file.clone();
    let last = *run.writes.last().unwrap();
    for (n, &end) in run.writes.iter().enumerate().skip(1) {
        for cut in [end, end + (whole.len().min(end + 3000) - end) / 2] {
            let mut cut_run = Run::new(Recording::new(codec, video_only(), NO_LIMITS));
            cut_run.file = whole[..cut.min(last)].to_vec();
            let (_dir, path) = cut_run.save(&format!("cut.{}", codec.extension()));
            let p = probe(&path);
            assert!(p.ok, "cut after write {n} at {cut}: {}", p.stderr);
            assert!(!p.frames.is_empty(), "cut after write {n}: pictures");
        }
    }
    let (_dir, path) = run.save(&format!("killed.{}", codec.extension()));
    let p = probe(&path);
    assert!(p.ok, "{}", p.stderr);
    // Only the last, unfinished fragment is missing: under a second.
    assert!(p.video_seconds() > 2.0, "{}", p.video_seconds());
}

#[test]
fn a_cut_mp4_plays_up_to_its_last_fragment() {
    cut_anywhere(VideoCodec::H264);
}

#[test]
fn a_cut_webm_plays_up_to_its_last_cluster() {
    cut_anywhere(VideoCodec::Vp8);
}

/// Pictures before the first keyframe are dropped and a keyframe asked
/// for; the file starts on it.
fn starts_on_a_keyframe(codec: VideoCodec) {
    let frames = encoded(codec, (320, 240), 2.0, 25);
    let mut run = Run::new(Recording::new(codec, video_only(), NO_LIMITS));
    run.feed(frames[5..].to_vec());
    assert!(run.asks >= 1, "a keyframe was asked for");
    assert!(!run.rec.started() || run.rec.pictures() == 25);
    run.finish();
    let (_dir, path) = run.save(&format!("late.{}", codec.extension()));
    let p = probe(&path);
    assert!(p.ok, "{}", p.stderr);
    assert_eq!(p.frames.len(), 25, "from the keyframe at picture 25 on");
}

#[test]
fn h264_recordings_start_on_a_keyframe() {
    starts_on_a_keyframe(VideoCodec::H264);
}

#[test]
fn vp8_recordings_start_on_a_keyframe() {
    starts_on_a_keyframe(VideoCodec::Vp8);
}

/// The peer's picture grows mid-call: the file goes on, and decodes at
/// the new size from the keyframe on.
fn size_change(codec: VideoCodec) {
    let small = encoded(codec, (320, 240), 1.0, 25);
    let big = encoded(codec, (640, 480), 1.0, 25);
    let mut run = Run::new(Recording::new(codec, video_only(), NO_LIMITS));
    run.feed(small.clone());
    run.feed(big.into_iter().map(|mut f| {
        f.pts_us += 1_000_000;
        f
    }));
    run.finish();
    let (_dir, path) = run.save(&format!("resize.{}", codec.extension()));
    let p = probe(&path);
    assert!(p.ok, "{}", p.stderr);
    assert_eq!(p.frames.len(), 50, "{}", p.stderr);
    assert!(p.frames[..25].iter().all(|f| (f.1, f.2) == (320, 240)));
    assert!(p.frames[25..].iter().all(|f| (f.1, f.2) == (640, 480)));
    // Decoding the whole file raises no error either.
    assert_decodes_cleanly(&path);
}

#[test]
fn h264_size_changes_keep_the_file_playable() {
    size_change(VideoCodec::H264);
}

#[test]
fn vp8_size_changes_keep_the_file_playable() {
    size_change(VideoCodec::Vp8);
}

/// Pictures lost on the way (a full queue) freeze the picture until the
/// next keyframe instead of breaking the decoder.
#[test]
fn a_loss_waits_for_the_next_keyframe() {
    for codec in [VideoCodec::H264, VideoCodec::Vp8] {
        let frames = encoded(codec, (320, 240), 3.0, 25);
        let mut run = Run::new(Recording::new(codec, video_only(), NO_LIMITS));
        for (i, f) in frames.into_iter().enumerate() {
            if (30..33).contains(&i) {
                continue;
            }
            let step = run.rec.video(f, i == 33);
            run.take(step);
        }
        assert!(run.asks >= 1);
        run.finish();
        let (_dir, path) = run.save(&format!("loss.{}", codec.extension()));
        let p = probe(&path);
        assert!(p.ok, "{}", p.stderr);
        // 0..30, then from the keyframe at 50 on.
        assert_eq!(p.frames.len(), 30 + 25, "{codec:?}");
        assert!(
            (p.video_seconds() - 2.96).abs() < 0.05,
            "the gap keeps its time"
        );
    }
}

#[test]
fn limits_end_the_recording() {
    let frames = encoded(VideoCodec::Vp8, (320, 240), 3.0, 25);
    let timed = Limits {
        max_length: Duration::from_secs(2),
        max_bytes: u64::MAX,
    };
    let mut run = Run::new(Recording::new(VideoCodec::Vp8, video_only(), timed));
    run.feed(frames.clone());
    assert_eq!(run.finished, Some(Stop::Length));
    let (_dir, path) = run.save("timed.webm");
    let p = probe(&path);
    assert_eq!(p.frames.len(), 50);

    let small = Limits {
        max_length: Duration::from_secs(3600),
        max_bytes: 40_000,
    };
    let mut run = Run::new(Recording::new(VideoCodec::Vp8, video_only(), small));
    run.feed(frames);
    assert_eq!(run.finished, Some(Stop::Size));
    assert!(run.file.len() <= 40_000 + 1_000, "{}", run.file.len());
    let (_dir, path) = run.save("small.webm");
    let p = probe(&path);
    assert!(p.ok && !p.frames.is_empty());
}
