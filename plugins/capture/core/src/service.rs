//! What the capture plugin does with the frames the bus brings and the
//! page's commands, without the plugin ABI: the latest picture of each
//! call (for snapshots), its encoded stream (for recordings), its sound
//! while a recording runs; one recording per call at a time, ended by the
//! page, a limit, or the call's end. Answers go to the page through [`Answerer`]s, from
//! whichever thread finishes the work; nothing here blocks a caller on a
//! disk.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;

use crate::commands::{Catch, Format};
use crate::config::{CaptureConfig, BASE64_MAX_BYTES, CLIP_MAX_BYTES};
use crate::folder::{base_name, Folder};
use crate::recording::{Limits, Recording, Stop};
use crate::snapshot::{png, I420};
use crate::track::{Tracks, VideoCodec, VideoFrame};
use crate::writer::{Callbacks, Outcome, Pcm, Recorder, Target};

/// What the page is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Success with nothing to add (a path recording started).
    Done,
    Path(PathBuf),
    Base64(String),
    /// Result 1, with what to do about it.
    Failed(String),
}

pub type Answerer = Box<dyn FnOnce(Answer) + Send>;

/// Where the frames of a call's sound go (both directions).
pub type SoundSink = Arc<dyn Fn(Pcm) + Send + Sync>;

/// What the service needs from its surroundings.
#[derive(Clone)]
pub struct Env {
    /// Microseconds on the media clock the frames' times are on.
    pub clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    pub log: Arc<dyn Fn(&str) + Send + Sync>,
    /// Ask the peer of a call for a keyframe (PLI).
    pub ask_keyframe: Arc<dyn Fn(u32) + Send + Sync>,
    /// The sound of a call, both directions, to the sink until the guard
    /// it returns is dropped: a recording listens only while it runs, so
    /// the call's sound costs nothing the rest of the time.
    pub listen_sound: Arc<dyn Fn(u32, SoundSink) -> Box<dyn Send> + Send + Sync>,
    /// Every recording's end, however it came (the page's own stop too).
    pub ended: Arc<dyn Fn(Ended) + Send + Sync>,
}

/// A recording ended, for `CAPTURE_EVT_RECORDING_ENDED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub call_id: u32,
    /// `stopped` (the page's stop or the engine's), `callEnded`, `length`
    /// (its time or `[capture] max_minutes`), `size`, `failed`.
    pub reason: &'static str,
    /// The file, when one was kept (a path recording).
    pub path: Option<PathBuf>,
    /// Why it failed, as the page's stop is told.
    pub error: Option<String>,
    pub pictures: u64,
}

/// A frame whose time is further than this from the clock was stamped on
/// another clock (a plugin of API 1.0): it is timed by its arrival.
const CLOCK_SLACK_US: u64 = 10_000_000;

#[derive(Default)]
struct CallMedia {
    picture: Option<I420>,
    codec: Option<VideoCodec>,
    /// When a picture (decoded or encoded) last came.
    last_video: Option<u64>,
    /// The running recording's id.
    recording: Option<u64>,
}

struct Active {
    call_id: u32,
    recorder: Arc<Recorder>,
    /// The call's sound flows to the recorder while this lives.
    sound: Box<dyn Send>,
    waiters: Vec<Answerer>,
    /// A stop of the page waits for it (else its end is kept for one).
    stop_waits: bool,
}

#[derive(Default)]
struct State {
    calls: HashMap<u32, CallMedia>,
    recordings: HashMap<u64, Active>,
    next_id: u64,
    /// A recording that ended without a stop of the page (a limit, the
    /// call's end, a timed clip's time): the next stop gets it.
    left: Option<Answer>,
    /// Calls that ended lately: a picture still on its way from the
    /// video plugin must not bring one back as the current video call.
    ended: VecDeque<u32>,
}

/// How many ended calls are remembered (ids are not reused sooner).
const ENDED_KEPT: usize = 32;

impl State {
    /// A call's media, unless the call has ended.
    fn live(&mut self, call_id: u32) -> Option<&mut CallMedia> {
        if self.ended.contains(&call_id) {
            return None;
        }
        Some(self.calls.entry(call_id).or_default())
    }
}

pub struct Capture {
    config: CaptureConfig,
    folder: Folder,
    env: Env,
    state: Arc<Mutex<State>>,
}

/// A frame's time, or `now` if it was stamped on another clock.
fn stamp(now: u64, pts_us: u64) -> u64 {
    match pts_us.abs_diff(now) > CLOCK_SLACK_US {
        true => now,
        false => pts_us,
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Capture {
    pub fn new(config: CaptureConfig, env: Env) -> Capture {
        Capture {
            folder: Folder::new(config.dir.clone()),
            config,
            env,
            state: Arc::default(),
        }
    }

    fn now(&self) -> u64 {
        (self.env.clock)()
    }

    // ----- frames from the bus (media threads: quick, never waiting on I/O)

    /// A decoded picture of a call's remote video (I420, limited range).
    pub fn picture(&self, call_id: u32, width: u32, height: u32, data: &[u8]) {
        let now = self.now();
        let mut state = lock(&self.state);
        let Some(call) = state.live(call_id) else {
            return;
        };
        call.last_video = Some(now);
        match call.picture.as_mut() {
            // The same size: reuse the buffer.
            Some(p) if p.width == width && p.height == height && p.data.len() == data.len() => {
                p.data.copy_from_slice(data)
            }
            _ => call.picture = I420::new(width, height, data.to_vec()).ok(),
        }
    }

    /// An encoded picture of a call's remote video, as it arrived, with
    /// its time on the media clock.
    pub fn encoded(
        &self,
        call_id: u32,
        codec: VideoCodec,
        keyframe: bool,
        pts_us: u64,
        data: &[u8],
    ) {
        let now = self.now();
        let pts_us = stamp(now, pts_us);
        let mut state = lock(&self.state);
        let Some(call) = state.live(call_id) else {
            return;
        };
        call.last_video = Some(now);
        call.codec = Some(codec);
        let recording = call.recording;
        let state = &*state;
        if let Some(active) = recording.and_then(|id| state.recordings.get(&id)) {
            active.recorder.video(VideoFrame {
                keyframe,
                pts_us,
                data: data.to_vec(),
            });
        }
    }

    /// The call ended: its recording is finished (and kept).
    pub fn call_ended(&self, call_id: u32) {
        let mut state = lock(&self.state);
        if state.ended.len() == ENDED_KEPT {
            state.ended.pop_front();
        }
        state.ended.push_back(call_id);
        if let Some(id) = state.calls.remove(&call_id).and_then(|c| c.recording) {
            if let Some(active) = state.recordings.get(&id) {
                active.recorder.stop(Stop::CallEnded);
            }
        }
    }

    /// The call the page means: the one whose picture came last.
    fn current(state: &State) -> Option<u32> {
        state
            .calls
            .iter()
            .filter_map(|(id, c)| Some((c.last_video?, *id)))
            .max()
            .map(|(_, id)| id)
    }

    // ----- the page's commands

    /// `OEScreenShot`: the current video call's latest picture as PNG.
    pub fn snapshot(&self, format: Format, answer: Answerer) {
        let picked = {
            let state = lock(&self.state);
            Capture::current(&state).map(|id| (id, state.calls[&id].picture.clone()))
        };
        let (call_id, picture) = match picked {
            None => return answer(Answer::Failed(NO_VIDEO_CALL.into())),
            Some((_, None)) => return answer(Answer::Failed(NO_PICTURE.into())),
            Some((id, Some(p))) => (id, p),
        };
        let folder = self.folder.clone();
        let name = base_name(chrono::Local::now(), call_id);
        // PNG and the disk off the caller's thread.
        let work = move || {
            let done = png(&picture).and_then(|bytes| match format {
                Format::Base64 if bytes.len() as u64 > BASE64_MAX_BYTES => {
                    Err(too_big_for_base64(&picture, bytes.len()))
                }
                Format::Base64 => Ok(Answer::Base64(
                    base64::engine::general_purpose::STANDARD.encode(bytes),
                )),
                Format::Path => folder.save(&name, "png", &bytes).map(Answer::Path),
            });
            answer(done.unwrap_or_else(Answer::Failed));
        };
        if let Err(e) = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(work)
        {
            (self.env.log)(&format!("snapshot thread: {e}"));
        }
    }

    /// `OECatchVideo`.
    pub fn catch(&self, catch: Catch, answer: Answerer) {
        match catch {
            Catch::Start { format, seconds } => self.start(format, seconds, answer),
            Catch::Stop => self.stop(answer),
        }
    }

    fn start(&self, format: Format, seconds: Option<u32>, answer: Answerer) {
        let mut state = lock(&self.state);
        let Some(call_id) = Capture::current(&state) else {
            return answer(Answer::Failed(NO_VIDEO_CALL.into()));
        };
        let call = &state.calls[&call_id];
        if call.recording.is_some() {
            return answer(Answer::Failed(format!(
                "call {call_id} is already being recorded: stop that recording first"
            )));
        }
        let Some(codec) = call.codec else {
            return answer(Answer::Failed(NO_PICTURE.into()));
        };
        let (target, limits) = match format {
            Format::Path => {
                let name = base_name(chrono::Local::now(), call_id);
                match self.folder.create(&name, codec.extension()) {
                    Ok((path, file)) => (
                        Target::File { path, file },
                        Limits {
                            max_length: self.config.max_length,
                            max_bytes: self.config.max_bytes,
                        },
                    ),
                    Err(e) => return answer(Answer::Failed(e)),
                }
            }
            Format::Base64 => (
                Target::Memory,
                Limits {
                    max_length: Duration::from_secs(u64::from(seconds.unwrap_or(1))),
                    max_bytes: CLIP_MAX_BYTES,
                },
            ),
        };
        state.next_id += 1;
        let id = state.next_id;
        // A sound track from the first fragment on: the call's sound as
        // the audio plugin publishes it, silence until it comes (a call's
        // sound may start after the first fragment is out, and a track
        // cannot be added to a file once written).
        let recording = Recording::new(codec, Tracks { audio: true }, limits);
        let callbacks = self.callbacks(id, call_id, format);
        let recorder = match Recorder::start(recording, target, callbacks) {
            Ok(r) => Arc::new(r),
            Err(e) => return answer(Answer::Failed(e)),
        };
        let (sink, clock) = (recorder.clone(), self.env.clock.clone());
        let sound = (self.env.listen_sound)(
            call_id,
            Arc::new(move |mut pcm: Pcm| {
                pcm.pts_us = stamp(clock(), pcm.pts_us);
                sink.sound(pcm)
            }),
        );
        let mut active = Active {
            call_id,
            recorder,
            sound,
            waiters: Vec::new(),
            stop_waits: false,
        };
        state.left = None;
        (self.env.log)(&format!(
            "recording call {call_id} ({codec:?}) {}",
            match format {
                Format::Path => "to a file".to_string(),
                Format::Base64 => format!("for {} s, to base64", seconds.unwrap_or(1)),
            }
        ));
        let answer_now = match format {
            Format::Path => Some(answer),
            // A timed clip answers when it is done.
            Format::Base64 => {
                active.waiters.push(answer);
                None
            }
        };
        state.recordings.insert(id, active);
        if let Some(c) = state.calls.get_mut(&call_id) {
            c.recording = Some(id);
        }
        drop(state);
        (self.env.ask_keyframe)(call_id);
        if let Some(answer) = answer_now {
            answer(Answer::Done);
        }
    }

    fn stop(&self, answer: Answerer) {
        let mut state = lock(&self.state);
        let current = Capture::current(&state);
        let running = state
            .recordings
            .iter()
            .map(|(id, a)| (Some(a.call_id) != current, *id))
            .min()
            .map(|(_, id)| id);
        match running {
            Some(id) => {
                if let Some(active) = state.recordings.get_mut(&id) {
                    active.waiters.push(answer);
                    active.stop_waits = true;
                    active.recorder.stop(Stop::Asked);
                }
            }
            None => {
                let left = state.left.take();
                drop(state);
                answer(left.unwrap_or_else(|| {
                    Answer::Failed("no recording is running: start one first".into())
                }));
            }
        }
    }

    fn callbacks(&self, id: u64, call_id: u32, format: Format) -> Callbacks {
        let state = self.state.clone();
        let ask = self.env.ask_keyframe.clone();
        let log = self.env.log.clone();
        let done_log = self.env.log.clone();
        let ended = self.env.ended.clone();
        Callbacks {
            clock: self.env.clock.clone(),
            log: Box::new(move |m| log(&format!("recording of call {call_id}: {m}"))),
            keyframe: Box::new(move || ask(call_id)),
            done: Box::new(move |outcome| {
                done_log(&describe(call_id, &outcome));
                let reason = match &outcome.why {
                    _ if outcome.empty => "failed",
                    Stop::Asked => "stopped",
                    Stop::CallEnded => "callEnded",
                    Stop::Length => "length",
                    Stop::Size => "size",
                    Stop::Failed(_) => "failed",
                };
                let (path, pictures) = (outcome.path.clone(), outcome.pictures);
                let answer = answer_for(format, outcome);
                let event = Ended {
                    call_id,
                    reason,
                    path,
                    error: match &answer {
                        Answer::Failed(e) => Some(e.clone()),
                        _ => None,
                    },
                    pictures,
                };
                let (waiters, sound) = {
                    let mut state = lock(&state);
                    let active = state.recordings.remove(&id);
                    if let Some(c) = state.calls.get_mut(&call_id) {
                        c.recording = None;
                    }
                    if !active.as_ref().is_some_and(|a| a.stop_waits) {
                        state.left = Some(answer.clone());
                    }
                    active.map_or((Vec::new(), None), |a| (a.waiters, Some(a.sound)))
                };
                // The call's sound stops flowing here (off the state's lock).
                drop(sound);
                for w in waiters {
                    w(answer.clone());
                }
                // After the answers: a page hears of its stop first.
                ended(event);
            }),
        }
    }

    /// The engine stops: every recording is finished, for up to `wait`.
    pub fn shutdown(&self, wait: Duration) {
        {
            let state = lock(&self.state);
            for a in state.recordings.values() {
                a.recorder.stop(Stop::Asked);
            }
        }
        let until = std::time::Instant::now() + wait;
        while std::time::Instant::now() < until && !lock(&self.state).recordings.is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

const NO_VIDEO_CALL: &str =
    "no video call: snapshots and recordings need a call that receives video";
const NO_PICTURE: &str = "no picture has come from the peer yet: try again when the video shows";

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A snapshot whose PNG a base64 answer may not carry: what to do instead.
fn too_big_for_base64(picture: &I420, bytes: usize) -> String {
    format!(
        "the {}x{} picture makes a PNG of {}, more than the {} MiB a base64 answer carries: \
         take the snapshot with format \"path\"",
        picture.width,
        picture.height,
        mib(bytes as u64),
        BASE64_MAX_BYTES >> 20
    )
}

fn describe(call_id: u32, o: &Outcome) -> String {
    let why = match &o.why {
        Stop::Asked => "stopped".to_string(),
        Stop::CallEnded => "the call ended".to_string(),
        Stop::Length => "its length limit was reached".to_string(),
        Stop::Size => "its size limit was reached".to_string(),
        Stop::Failed(e) => format!("failed: {e}"),
    };
    format!(
        "recording of call {call_id} ended ({why}), {} pictures{}",
        o.pictures,
        o.path
            .as_ref()
            .map(|p| format!(", in {}", p.display()))
            .unwrap_or_default()
    )
}

fn answer_for(format: Format, o: Outcome) -> Answer {
    if o.empty {
        return Answer::Failed("no keyframe came from the peer, so nothing was recorded".into());
    }
    match (o.why, format) {
        (Stop::Failed(e), _) => Answer::Failed(match &o.path {
            Some(p) => format!("{e} (what was recorded until then is in {})", p.display()),
            None => e,
        }),
        (_, Format::Path) => match o.path {
            Some(p) => Answer::Path(p),
            None => Answer::Failed("the recording has no file".into()),
        },
        (_, Format::Base64) => Answer::Base64(
            base64::engine::general_purpose::STANDARD.encode(o.bytes.unwrap_or_default()),
        ),
    }
}
