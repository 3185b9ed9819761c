//! Opened devices: where a call's microphone frames come from and where its
//! speaker frames go. Everything runs at 48 kHz mono f32 in 20 ms frames
//! (960 samples); sound devices are converted from their own format.

use std::fs::File;
use std::io::{BufReader, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cpal::traits::{DeviceTrait, StreamTrait};

use crate::devices::{self, DeviceKind, Direction};
use crate::resample::RateConverter;

mod queue;

use queue::Queue;

pub const RATE: u32 = 48000;
pub const FRAME: usize = 960;

pub trait Mic: Send {
    /// Fills one 20 ms frame.
    fn read(&mut self, frame: &mut [f32]);

    /// Why the device stopped working, once it has (unplugged, server gone).
    fn failure(&self) -> Option<String> {
        None
    }
}

pub trait Speaker: Send {
    /// Plays one 20 ms frame.
    fn write(&mut self, frame: &[f32]);

    /// Why the device stopped working, once it has.
    fn failure(&self) -> Option<String> {
        None
    }

    /// How often the device found nothing to play once it had started
    /// (each one a hole the listener hears).
    fn ran_dry(&self) -> u64 {
        0
    }

    /// How often the device's own thread came too late for the sound
    /// server, which played silence meanwhile (an xrun: the machine held
    /// the thread up past the device's buffer).
    fn underruns(&self) -> u64 {
        0
    }
}

pub fn open_mic(kind: &DeviceKind) -> Result<Box<dyn Mic>, String> {
    match kind {
        DeviceKind::Null => Ok(Box::new(NullMic)),
        DeviceKind::File(path) => Ok(Box::new(WavMic::open(path)?)),
        DeviceKind::Sound { .. } => Ok(Box::new(SoundMic::open(kind)?)),
    }
}

pub fn open_speaker(kind: &DeviceKind) -> Result<Box<dyn Speaker>, String> {
    match kind {
        DeviceKind::Null => Ok(Box::new(NullSpeaker)),
        DeviceKind::File(path) => Ok(Box::new(WavSpeaker::create(path)?)),
        DeviceKind::Sound { .. } => Ok(Box::new(SoundSpeaker::open(kind)?)),
    }
}

pub struct NullMic;

impl Mic for NullMic {
    fn read(&mut self, frame: &mut [f32]) {
        frame.fill(0.0);
    }
}

pub struct NullSpeaker;

impl Speaker for NullSpeaker {
    fn write(&mut self, _frame: &[f32]) {}
}

/// A WAV file played in a loop: any rate, any channel count (mixed to mono).
/// Read from the file 20 ms at a time rather than held in memory: a minute
/// of 48 kHz audio as f32 would be 11 MiB resident for the whole call.
pub struct WavMic {
    path: String,
    reader: hound::WavReader<BufReader<File>>,
    channels: usize,
    /// Factor from the file's integer samples to [-1, 1); `None` for float files.
    int_scale: Option<f32>,
    /// To 48 kHz, for files at another rate; fed across the loop's seam
    /// without a break, so the loop has no hole there.
    converter: Option<RateConverter>,
    /// 20 ms of mono samples at the file's rate, on their way to the converter.
    chunk: Vec<f32>,
    /// The file stopped yielding samples (truncated to nothing, gone): silence.
    dead: bool,
}

/// Mono samples from the reader's position into `out`, mixing channels;
/// stops early at the end of the data or at a sample that cannot be read
/// (a truncated file).
fn read_mono<S: hound::Sample>(
    reader: &mut hound::WavReader<BufReader<File>>,
    channels: usize,
    to_f32: impl Fn(S) -> f32,
    out: &mut [f32],
) -> usize {
    let mut samples = reader.samples::<S>();
    for (n, o) in out.iter_mut().enumerate() {
        let mut sum = 0.0;
        for _ in 0..channels {
            match samples.next() {
                Some(Ok(s)) => sum += to_f32(s),
                _ => return n,
            }
        }
        *o = sum / channels as f32;
    }
    out.len()
}

fn open_wav(path: &str) -> Result<hound::WavReader<BufReader<File>>, String> {
    hound::WavReader::open(path).map_err(|e| format!("cannot read {path} as WAV: {e}"))
}

impl WavMic {
    pub fn open(path: &str) -> Result<Self, String> {
        let reader = open_wav(path)?;
        let spec = reader.spec();
        if !(1000..=384_000).contains(&spec.sample_rate) {
            return Err(format!("{path}: unsupported rate {} Hz", spec.sample_rate));
        }
        let int_scale = match spec.sample_format {
            hound::SampleFormat::Float => None,
            hound::SampleFormat::Int => {
                Some(1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32)
            }
        };
        let converter =
            (spec.sample_rate != RATE).then(|| RateConverter::new(spec.sample_rate, RATE));
        let mut mic = Self {
            path: path.to_owned(),
            reader,
            channels: usize::from(spec.channels.max(1)),
            int_scale,
            converter,
            chunk: vec![0.0; spec.sample_rate as usize / 50],
            dead: false,
        };
        if mic.read_file(&mut [0.0]) == 0 {
            return Err(format!("{path} holds no audio"));
        }
        mic.rewind();
        // The converter's own delay comes out as zeros first: drop it, so
        // the call hears the file from its first sample.
        if let Some(delay) = mic.converter.as_ref().map(RateConverter::delay) {
            mic.convert_at_least(delay);
            if let Some(c) = mic.converter.as_mut() {
                c.pull(delay);
            }
        }
        Ok(mic)
    }

    fn read_file(&mut self, out: &mut [f32]) -> usize {
        let channels = self.channels;
        match self.int_scale {
            Some(scale) => read_mono(&mut self.reader, channels, |s: i32| s as f32 * scale, out),
            None => read_mono(&mut self.reader, channels, |s: f32| s, out),
        }
    }

    /// Back to the first sample by opening the file afresh: the reader may
    /// have stopped mid-sample at a read error, and hound's `seek` assumes
    /// samples as wide as their bits (not so for 24 bits in 4 bytes).
    fn rewind(&mut self) {
        match open_wav(&self.path) {
            Ok(r) => self.reader = r,
            Err(_) => self.dead = true,
        }
    }

    /// Fills `out` with the file's mono samples at its own rate, looping.
    fn fill(&mut self, out: &mut [f32]) {
        let mut done = 0;
        let mut rewound = false;
        while done < out.len() && !self.dead {
            let n = self.read_file(&mut out[done..]);
            done += n;
            if done == out.len() {
                break;
            }
            // A pass that yields nothing after a rewind: nothing left to play.
            if rewound && n == 0 {
                self.dead = true;
                break;
            }
            self.rewind();
            rewound = true;
        }
        out[done..].fill(0.0);
    }

    /// Feeds the converter until `n` samples are ready: about 20 ms of
    /// output a chunk, so a few chunks; bounded in case it makes none.
    fn convert_at_least(&mut self, n: usize) {
        let mut chunk = std::mem::take(&mut self.chunk);
        for _ in 0..n / FRAME + 16 {
            match self.converter.as_ref() {
                Some(c) if c.available() < n && !self.dead => {}
                _ => break,
            }
            self.fill(&mut chunk);
            if let Some(c) = self.converter.as_mut() {
                c.push(&chunk);
            }
        }
        self.chunk = chunk;
    }
}

impl Mic for WavMic {
    fn read(&mut self, frame: &mut [f32]) {
        if self.converter.is_none() {
            self.fill(frame);
            return;
        }
        self.convert_at_least(frame.len());
        if let Some(c) = self.converter.as_mut() {
            frame.copy_from_slice(&c.pull(frame.len()));
        }
    }
}

/// 16-bit mono 48 kHz WAV whose header is rewritten after every frame, so
/// the file is valid while the call goes on and after a crash.
pub struct WavSpeaker {
    file: File,
    data_bytes: u32,
}

fn wav_header(data_bytes: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    let byte_rate = RATE * 2;
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data_bytes).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&1u16.to_le_bytes());
    h[24..28].copy_from_slice(&RATE.to_le_bytes());
    h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    h
}

impl WavSpeaker {
    pub fn create(path: &str) -> Result<Self, String> {
        let mut file = File::create(path).map_err(|e| format!("cannot write {path}: {e}"))?;
        file.write_all(&wav_header(0))
            .map_err(|e| format!("cannot write {path}: {e}"))?;
        Ok(Self {
            file,
            data_bytes: 0,
        })
    }
}

impl Speaker for WavSpeaker {
    fn write(&mut self, frame: &[f32]) {
        // 4 GiB is the format's limit: stop growing there (about 12 hours).
        if self.data_bytes > u32::MAX - 44 - 2 * frame.len() as u32 {
            return;
        }
        let bytes: Vec<u8> = frame
            .iter()
            .flat_map(|s| ((s * 32768.0).clamp(-32768.0, 32767.0) as i16).to_le_bytes())
            .collect();
        if self.file.write_all(&bytes).is_ok() {
            self.data_bytes += bytes.len() as u32;
            let _ = self.file.write_at(&(36 + self.data_bytes).to_le_bytes(), 4);
            let _ = self.file.write_at(&self.data_bytes.to_le_bytes(), 40);
        }
    }
}

/// Samples between a cpal callback and the call's thread.
struct Fifo(Mutex<Queue>);

/// What a reader keeps in hand beyond the chunk it takes: against a late
/// writer (the call's 20 ms tick, a device period), not more, since it is
/// delay on every sample.
const KEEP_MS: u32 = 10;

impl Fifo {
    fn new(direction: Direction, rate: u32) -> Self {
        Self(Mutex::new(match direction {
            // The call's thread reads, and takes what is there.
            Direction::Input => Queue::new(rate, KEEP_MS, 300, false),
            // The device reads, and starts only with its period and the margin in hand.
            Direction::Output => Queue::new(rate, KEEP_MS, 200, true),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs a cpal stream on a thread of its own (cpal streams are not `Send`
/// everywhere) until the handle is dropped.
struct StreamThread {
    /// Dropped, it wakes the device's thread at once.
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    health: Arc<Health>,
}

/// What the device's callbacks tell the call's thread.
struct Health {
    /// An error the stream does not come back from (device or server gone).
    fatal: Mutex<Option<String>>,
    /// The latest error cpal recovers from by itself (an xrun, the pulse
    /// plug-in's I/O error while a new stream has no timing yet): told
    /// only if the device also goes silent.
    last_error: Mutex<Option<String>>,
    started: std::time::Instant,
    /// Milliseconds after `started`, plus one (0: none yet), of the first
    /// and the latest callback.
    first_callback: AtomicU64,
    last_callback: AtomicU64,
    /// Underruns cpal told of (each a hole the listener heard).
    xruns: AtomicU64,
}

/// A device counts as running once a callback comes this long after the
/// first: a playback stream's first callbacks only fill its buffer, back
/// to back, and say nothing about the device consuming it.
const RUNNING_AFTER_MS: u64 = 20;
/// Silence allowed before a device runs: a sound server still playing out
/// its last block, a headset waking up.
const START_GRACE_MS: u64 = 3000;
/// Silence allowed once it runs.
const SILENCE_MS: u64 = 1000;

impl Health {
    fn new() -> Self {
        Self {
            fatal: Mutex::new(None),
            last_error: Mutex::new(None),
            started: std::time::Instant::now(),
            first_callback: AtomicU64::new(0),
            last_callback: AtomicU64::new(0),
            xruns: AtomicU64::new(0),
        }
    }

    fn beat(&self) {
        let ms = self.started.elapsed().as_millis() as u64 + 1;
        let _ = self
            .first_callback
            .compare_exchange(0, ms, Ordering::AcqRel, Ordering::Acquire);
        self.last_callback.store(ms, Ordering::Release);
    }

    fn error(&self, e: cpal::Error) {
        use cpal::ErrorKind as K;
        let slot = match e.kind() {
            K::DeviceNotAvailable
            | K::HostUnavailable
            | K::StreamInvalidated
            | K::PermissionDenied => &self.fatal,
            // cpal prepares the device again and goes on.
            K::Xrun => {
                self.xruns.fetch_add(1, Ordering::Relaxed);
                return;
            }
            K::RealtimeDenied | K::DeviceChanged => return,
            _ => &self.last_error,
        };
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("device error: {e}"));
    }

    /// Why the device stopped working: an error it does not come back from,
    /// or silence (no callback) for longer than it may take.
    fn failure(&self) -> Option<String> {
        if let Some(e) = self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Some(e);
        }
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let first = self.first_callback.load(Ordering::Acquire);
        let last = self.last_callback.load(Ordering::Acquire);
        let silent = silence(now, first, last)?;
        let why = self
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default();
        Some(format!("the device went silent for {silent} ms{why}"))
    }
}

/// How long a device has been silent, when longer than it may be: times
/// in ms after its stream was opened, plus one (0: no callback yet).
fn silence(now: u64, first: u64, last: u64) -> Option<u64> {
    let running = first > 0 && last >= first + RUNNING_AFTER_MS;
    let (since, allowed) = if running {
        (last, SILENCE_MS)
    } else {
        (1, START_GRACE_MS)
    };
    let silent = now.saturating_sub(since);
    (silent > allowed).then_some(silent)
}

impl StreamThread {
    fn failure(&self) -> Option<String> {
        self.health.failure()
    }
}

impl Drop for StreamThread {
    /// Waits for the stream to close (the device is free again when the
    /// call's thread goes on); only a call's or a tone's thread drops one.
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Opens `kind` and runs it; the queue between it and the call, and its rate.
fn run_stream(
    direction: Direction,
    kind: &DeviceKind,
) -> Result<(StreamThread, Arc<Fifo>, u32), String> {
    let device =
        devices::open_sound(direction, kind).ok_or_else(|| format!("no sound device {kind}"))?;
    let config = match direction {
        Direction::Input => device.default_input_config(),
        Direction::Output => device.default_output_config(),
    }
    .map_err(|e| format!("{kind}: {e}"))?;
    let rate = config.sample_rate();
    let channels = usize::from(config.channels().max(1));
    let mut stream_config: cpal::StreamConfig = config.into();
    // 10 ms periods where the device allows it: cpal buffers two, which the
    // pulse plug-in turns into 20 ms in three periods (about 15 ms of buffer
    // latency, what baresip asks of PulseAudio); its default is far longer.
    if let cpal::SupportedBufferSize::Range { min, max } = config.buffer_size() {
        let want = rate / 100;
        if (*min..=*max).contains(&want) {
            stream_config.buffer_size = cpal::BufferSize::Fixed(want);
        }
    }
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let health = Arc::new(Health::new());
    let (h_err, h_in, h_out) = (health.clone(), health.clone(), health.clone());
    let name = kind.to_string();
    let fifo = Arc::new(Fifo::new(direction, rate));
    let queue = fifo.clone();
    let thread = std::thread::Builder::new()
        .name("audio-device".into())
        .spawn(move || {
            let err_fn = move |e: cpal::Error| h_err.error(e);
            let stream = match direction {
                Direction::Input => device.build_input_stream(
                    stream_config,
                    move |data: &[f32], _: &cpal::InputCallbackInfo| {
                        h_in.beat();
                        queue.lock().push(
                            data.chunks(channels)
                                .map(|c| c.iter().sum::<f32>() / channels as f32),
                        );
                    },
                    err_fn,
                    None,
                ),
                Direction::Output => {
                    // Kept across callbacks: the device's thread does not
                    // allocate while the sound server waits for samples.
                    let mut mono: Vec<f32> = Vec::new();
                    device.build_output_stream(
                        stream_config,
                        move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
                            h_out.beat();
                            mono.resize(data.len() / channels, 0.0);
                            let n = queue.lock().pop_into(&mut mono);
                            mono[n..].fill(0.0);
                            for (frame, s) in data.chunks_mut(channels).zip(&mono) {
                                frame.fill(*s);
                            }
                        },
                        err_fn,
                        None,
                    )
                }
            };
            let stream = match stream.and_then(|s| s.play().map(|_| s)) {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("{name}: {e}")));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            // Until the handle is dropped (the sender with it).
            let _ = stopped.recv();
            drop(stream);
        })
        .map_err(|e| e.to_string())?;
    let handle = StreamThread {
        stop: Some(stop),
        thread: Some(thread),
        health,
    };
    match ready_rx.recv_timeout(std::time::Duration::from_secs(5)) {
        Ok(Ok(())) => Ok((handle, fifo, rate)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("{kind} did not start within 5 s")),
    }
}

pub struct SoundMic {
    fifo: Arc<Fifo>,
    /// One 20 ms frame at the device's rate, reused each read.
    raw: Vec<f32>,
    converter: RateConverter,
    stream: StreamThread,
}

impl SoundMic {
    fn open(kind: &DeviceKind) -> Result<Self, String> {
        let (stream, fifo, rate) = run_stream(Direction::Input, kind)?;
        Ok(Self {
            fifo,
            raw: vec![0.0; rate as usize / 50],
            converter: RateConverter::new(rate, RATE),
            stream,
        })
    }
}

impl Mic for SoundMic {
    fn failure(&self) -> Option<String> {
        self.stream.failure()
    }

    fn read(&mut self, frame: &mut [f32]) {
        // Short of samples (device slower than our clock): zeros fill in.
        let n = self.fifo.lock().pop_into(&mut self.raw);
        self.raw[n..].fill(0.0);
        self.converter.push(&self.raw);
        frame.copy_from_slice(&self.converter.pull(frame.len()));
    }
}

pub struct SoundSpeaker {
    fifo: Arc<Fifo>,
    rate: u32,
    converter: RateConverter,
    stream: StreamThread,
}

impl SoundSpeaker {
    fn open(kind: &DeviceKind) -> Result<Self, String> {
        let (stream, fifo, rate) = run_stream(Direction::Output, kind)?;
        Ok(Self {
            fifo,
            rate,
            converter: RateConverter::new(RATE, rate),
            stream,
        })
    }
}

impl Speaker for SoundSpeaker {
    fn failure(&self) -> Option<String> {
        self.stream.failure()
    }

    fn write(&mut self, frame: &[f32]) {
        self.converter.push(frame);
        let out = self.converter.pull(self.rate as usize / 50);
        self.fifo.lock().push(out);
    }

    fn ran_dry(&self) -> u64 {
        self.fifo.lock().stats.short
    }

    fn underruns(&self) -> u64 {
        self.stream.health.xruns.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_may_start_late_but_not_stop() {
        // Playback: three callbacks fill the buffer at once, then nothing
        // for 1.5 s (the server still playing out its last block): waiting.
        assert_eq!(silence(1500, 3, 4), None);
        assert_eq!(silence(3002, 3, 4), Some(3001));
        // Never a callback at all.
        assert_eq!(silence(2000, 0, 0), None);
        assert_eq!(silence(3500, 0, 0), Some(3499));
        // Running (callbacks 20 ms apart and more), then a second without.
        assert_eq!(silence(900, 3, 40), None);
        assert_eq!(silence(1100, 3, 40), Some(1060));
    }

    #[test]
    fn xruns_are_counted_and_the_device_goes_on() {
        let health = Health::new();
        health.error(cpal::Error::new(cpal::ErrorKind::Xrun));
        health.error(cpal::Error::new(cpal::ErrorKind::Xrun));
        assert_eq!(health.xruns.load(Ordering::Relaxed), 2);
        health.beat();
        assert_eq!(health.failure(), None);
    }

    #[test]
    fn wav_speaker_is_valid_while_it_grows() {
        let dir = std::env::temp_dir().join(format!("seatphone-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.wav");
        let mut spk = WavSpeaker::create(path.to_str().unwrap()).unwrap();
        let frame: Vec<f32> = (0..FRAME).map(|i| (i as f32 / 10.0).sin() * 0.5).collect();
        for n in 1..=3 {
            spk.write(&frame);
            // Read while the writer is still open, as after a crash.
            let r = hound::WavReader::open(&path).unwrap();
            assert_eq!(r.spec().sample_rate, RATE);
            assert_eq!(r.len() as usize, n * FRAME);
        }
        drop(spk);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn wav_mic_loops_and_converts_any_format() {
        let dir = std::env::temp_dir().join(format!("seatphone-mic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..8000 {
            let s = ((i as f32 * 440.0 * std::f32::consts::TAU / 8000.0).sin() * 16000.0) as i16;
            w.write_sample(s).unwrap();
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        let mut mic = WavMic::open(path.to_str().unwrap()).unwrap();
        let mut frame = vec![0.0; FRAME];
        for _ in 0..120 {
            mic.read(&mut frame);
        }
        let rms = (frame.iter().map(|v| v * v).sum::<f32>() / FRAME as f32).sqrt();
        assert!((rms - 0.345).abs() < 0.05, "{rms}");
        // Three passes through the loop: no 5 ms stretch without the tone.
        let mut all = Vec::new();
        for _ in 0..150 {
            mic.read(&mut frame);
            all.extend_from_slice(&frame);
        }
        let quiet = all
            .chunks(240)
            .filter(|w| (w.iter().map(|v| v * v).sum::<f32>() / 240.0).sqrt() < 0.05)
            .count();
        assert_eq!(quiet, 0, "the loop has a hole");
        assert!(WavMic::open(dir.join("missing.wav").to_str().unwrap()).is_err());
        std::fs::write(dir.join("junk.wav"), b"RIFFjunk").unwrap();
        assert!(WavMic::open(dir.join("junk.wav").to_str().unwrap()).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// 20 ms windows of `mic`'s output over `seconds`, as RMS levels.
    fn levels(mic: &mut WavMic, seconds: usize) -> Vec<f32> {
        let mut frame = vec![0.0; FRAME];
        let mut all = Vec::new();
        for _ in 0..seconds * 50 {
            mic.read(&mut frame);
            all.extend_from_slice(&frame);
        }
        all.chunks(240)
            .map(|w| (w.iter().map(|v| v * v).sum::<f32>() / 240.0).sqrt())
            .collect()
    }

    fn write_wav(path: &std::path::Path, rate: u32, samples: impl Iterator<Item = f32>) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for s in samples {
            w.write_sample((s * 16000.0) as i16).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn wav_mic_loop_keeps_the_files_length_and_starts_at_its_first_sample() {
        let dir = std::env::temp_dir().join(format!("seatphone-loop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for rate in [8000u32, 48000] {
            // One second: a 50 ms burst of tone, then silence.
            let path = dir.join(format!("burst-{rate}.wav"));
            let burst = rate as usize / 20;
            write_wav(
                &path,
                rate,
                (0..rate as usize).map(|i| {
                    let on = i < burst;
                    f32::from(u8::from(on))
                        * (i as f32 * 1000.0 * std::f32::consts::TAU / rate as f32).sin()
                }),
            );
            let mut mic = WavMic::open(path.to_str().unwrap()).unwrap();
            let lv = levels(&mut mic, 3);
            // Where each burst begins, in 5 ms windows: one a second, from the start.
            let onsets: Vec<usize> = (0..lv.len())
                .filter(|&i| lv[i] > 0.2 && (i == 0 || lv[i - 1] <= 0.2))
                .collect();
            assert_eq!(onsets.len(), 3, "{rate} Hz: {onsets:?}");
            for (k, o) in onsets.iter().enumerate() {
                assert!(o.abs_diff(k * 200) <= 1, "{rate} Hz: {onsets:?}");
            }
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn wav_mic_plays_a_truncated_file_in_a_loop() {
        let dir = std::env::temp_dir().join(format!("seatphone-cut-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cut.wav");
        write_wav(
            &path,
            48000,
            (0..24000).map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 48000.0).sin()),
        );
        // The header still promises half a second; the data stops mid-sample.
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 4001)
            .unwrap();
        let mut mic = WavMic::open(path.to_str().unwrap()).unwrap();
        let lv = levels(&mut mic, 2);
        let quiet = lv.iter().filter(|l| **l < 0.2).count();
        assert!(quiet <= 4, "{quiet} quiet windows of {}", lv.len());
        // A file cut before its first sample holds no audio.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(44)
            .unwrap();
        assert!(WavMic::open(path.to_str().unwrap()).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
