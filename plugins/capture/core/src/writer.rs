//! A recording's own thread: frames come in through a bounded queue (the
//! media threads never wait: a full queue drops the frame, and the
//! recording then waits for the next keyframe), fragments go to the file
//! and are made durable as they close. A slow or full disk stalls only
//! this thread.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use crate::folder::explain;
use crate::recording::{Recording, Stop};
use crate::sound::{Encoder, Mixer};
use crate::track::VideoFrame;

/// Frames waiting for the writer; beyond this, frames are dropped.
const QUEUE: usize = 256;
/// How often the writer looks at the clock when nothing arrives.
const TICK: Duration = Duration::from_millis(100);

/// Where the file goes.
pub enum Target {
    /// A file in the capture folder (already created, empty).
    File { path: PathBuf, file: File },
    /// Memory, for a base64 clip (the recording's size limit bounds it).
    Memory,
}

/// What a finished recording left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub why: Stop,
    /// The file's path (`Target::File`).
    pub path: Option<PathBuf>,
    /// The file's bytes (`Target::Memory`).
    pub bytes: Option<Vec<u8>>,
    /// Pictures in the file.
    pub pictures: u64,
    /// No keyframe came: the file holds nothing (and was removed).
    pub empty: bool,
}

/// Interleaved PCM of one direction of the call's sound.
pub struct Pcm {
    /// 0: what the peer says, 1: what we say (any order will do: they are mixed).
    pub direction: usize,
    pub pts_us: u64,
    pub rate: u32,
    pub channels: u16,
    pub samples: Vec<i16>,
}

/// The two directions of a call.
pub const DIRECTIONS: usize = 2;

enum Input {
    Video(VideoFrame, bool),
    Sound(Pcm),
    Stop(Stop),
}

/// The handle the plugin keeps; cheap calls from any thread.
pub struct Recorder {
    queue: SyncSender<Input>,
    lost: AtomicBool,
}

/// What the writer calls back: `keyframe` when the peer should be asked
/// for one, `done` once, when the file is complete.
pub struct Callbacks {
    /// Microseconds, the clock the frames' times are on.
    pub clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    pub log: Box<dyn Fn(&str) + Send>,
    pub keyframe: Box<dyn Fn() + Send>,
    pub done: Box<dyn FnOnce(Outcome) + Send>,
}

impl Recorder {
    pub fn start(
        recording: Recording,
        target: Target,
        callbacks: Callbacks,
    ) -> Result<Recorder, String> {
        let (queue, inputs) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || run(recording, target, inputs, callbacks))
            .map_err(|e| format!("recording thread: {e}"))?;
        Ok(Recorder {
            queue,
            lost: AtomicBool::new(false),
        })
    }

    /// A picture of the remote video; never blocks.
    pub fn video(&self, frame: VideoFrame) {
        let lost = self.lost.swap(false, Ordering::Relaxed);
        if let Err(TrySendError::Full(_)) = self.queue.try_send(Input::Video(frame, lost)) {
            self.lost.store(true, Ordering::Relaxed);
        }
    }

    /// Sound of one direction; never blocks (sound dropped on a full
    /// queue becomes silence).
    pub fn sound(&self, pcm: Pcm) {
        let _ = self.queue.try_send(Input::Sound(pcm));
    }

    /// Ends the recording; `Callbacks::done` follows. Waits for room in
    /// the queue (off the media threads: the page's command or the call's
    /// end), so the stop is never lost.
    pub fn stop(&self, why: Stop) {
        let _ = self.queue.send(Input::Stop(why));
    }
}

/// The sound track's making, when the recording has one.
struct Sound {
    mixer: Mixer,
    encoder: Encoder,
}

impl Sound {
    /// Encodes the blocks complete at `now` (all of them at the end)
    /// into the recording.
    fn drain(&mut self, end: bool, now: u64, recording: &mut Recording) -> Result<(), String> {
        let blocks = match end {
            true => self.mixer.flush(now),
            false => self.mixer.pull(now),
        };
        for (pts, block) in blocks {
            let packet = self.encoder.encode(&block)?;
            recording.audio(pts, packet);
        }
        Ok(())
    }
}

fn run(mut recording: Recording, target: Target, inputs: Receiver<Input>, callbacks: Callbacks) {
    let mut sound = match recording.tracks().audio {
        true => match Encoder::new() {
            Ok(encoder) => Some(Sound {
                mixer: Mixer::new((callbacks.clock)(), DIRECTIONS),
                encoder,
            }),
            Err(e) => {
                (callbacks.log)(&format!("the recording has no sound: {e}"));
                None
            }
        },
        false => None,
    };
    let (path, mut file) = match target {
        Target::File { path, file } => (Some(path), Some(file)),
        Target::Memory => (None, None),
    };
    let in_memory = file.is_none();
    let mut memory = Vec::new();
    // The file's length after its last whole fragment.
    let mut whole = 0u64;
    let mut failed = None;
    // How far the call's media has come, for the sound: the newest input's
    // time while inputs come (a backlog behind a slow disk must not make
    // the mixer give up on sound still in the queue), the clock when the
    // queue ran dry.
    let mut media_now = (callbacks.clock)();
    let finished = loop {
        let step = match inputs.recv_timeout(TICK) {
            Ok(Input::Video(frame, lost)) => {
                media_now = media_now.max(frame.pts_us);
                recording.video(frame, lost)
            }
            Ok(Input::Sound(pcm)) => {
                media_now = media_now.max(pcm.pts_us);
                if let Some(s) = sound.as_mut() {
                    s.mixer.push(
                        pcm.direction,
                        pcm.pts_us,
                        pcm.rate,
                        pcm.channels,
                        &pcm.samples,
                    );
                }
                Default::default()
            }
            Ok(Input::Stop(why)) => {
                // The sound up to the stop, then the last fragment.
                if let Some(s) = sound.as_mut() {
                    let _ = s.drain(true, (callbacks.clock)(), &mut recording);
                }
                recording.finish(why)
            }
            Err(RecvTimeoutError::Timeout) => {
                media_now = media_now.max((callbacks.clock)());
                recording.tick(media_now)
            }
            // The plugin is gone: end the file cleanly.
            Err(RecvTimeoutError::Disconnected) => recording.finish(Stop::Asked),
        };
        if let Some(s) = sound.as_mut() {
            if let Err(e) = s.drain(false, media_now, &mut recording) {
                (callbacks.log)(&format!("the recording goes on without sound: {e}"));
                sound = None;
            }
        }
        if step.ask_keyframe {
            (callbacks.keyframe)();
        }
        if !step.bytes.is_empty() {
            let written = match file.as_mut() {
                Some(f) => match f.write_all(&step.bytes).and_then(|()| f.sync_data()) {
                    Ok(()) => {
                        whole += step.bytes.len() as u64;
                        Ok(())
                    }
                    Err(e) => {
                        // A fragment cut by a full disk goes: the file
                        // ends on a whole one, and the space is freed.
                        let _ = f.set_len(whole).and_then(|()| f.sync_data());
                        Err(e)
                    }
                },
                None => {
                    memory.extend_from_slice(&step.bytes);
                    Ok(())
                }
            };
            if let Err(e) = written {
                let dir = path
                    .as_ref()
                    .and_then(|p| p.parent())
                    .unwrap_or(std::path::Path::new("."));
                failed = Some(explain(dir, &e));
                break recording.finish(Stop::Failed(String::new())).finished;
            }
        }
        if step.finished.is_some() {
            break step.finished;
        }
    };
    let why = match (failed, finished) {
        (Some(e), _) => Stop::Failed(e),
        (None, Some(why)) => why,
        (None, None) => Stop::Asked,
    };
    let empty = !recording.started();
    drop(file);
    if empty {
        if let Some(p) = &path {
            let _ = std::fs::remove_file(p);
        }
    }
    (callbacks.done)(Outcome {
        why,
        path: path.filter(|_| !empty),
        bytes: (!empty && in_memory).then_some(memory),
        pictures: recording.pictures(),
        empty,
    });
}
