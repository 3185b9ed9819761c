//! Opened devices: where a call's microphone frames come from and where its
//! speaker frames go. Everything runs at 48 kHz mono f32 in 20 ms frames
//! (960 samples); sound devices are converted from their own format.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cpal::traits::{DeviceTrait, StreamTrait};

use crate::devices::{self, DeviceKind, Direction};
use crate::resample::RateConverter;

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
pub struct WavMic {
    samples: Vec<f32>,
    pos: usize,
}

impl WavMic {
    pub fn open(path: &str) -> Result<Self, String> {
        let mut reader =
            hound::WavReader::open(path).map_err(|e| format!("cannot read {path} as WAV: {e}"))?;
        let spec = reader.spec();
        let channels = usize::from(spec.channels.max(1));
        let interleaved: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Float => reader.samples::<f32>().filter_map(Result::ok).collect(),
            hound::SampleFormat::Int => {
                let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
                reader
                    .samples::<i32>()
                    .filter_map(Result::ok)
                    .map(|s| s as f32 * scale)
                    .collect()
            }
        };
        let mono: Vec<f32> = interleaved
            .chunks(channels)
            .map(|c| c.iter().sum::<f32>() / channels as f32)
            .collect();
        if mono.is_empty() {
            return Err(format!("{path} holds no audio"));
        }
        let samples = if spec.sample_rate == RATE {
            mono
        } else {
            let mut rc = RateConverter::new(spec.sample_rate, RATE);
            rc.push(&mono);
            // Push silence through so the converter's delay and last partial
            // chunk come out, then keep exactly the converted file: a loop
            // with no hole at its seam.
            rc.push(&vec![0.0; spec.sample_rate as usize / 5]);
            let out_len =
                (mono.len() as u64 * u64::from(RATE) / u64::from(spec.sample_rate)) as usize;
            let delay = rc.delay();
            let all = rc.pull(rc.available());
            all.iter()
                .skip(delay)
                .take(out_len.max(1))
                .copied()
                .collect()
        };
        Ok(Self { samples, pos: 0 })
    }
}

impl Mic for WavMic {
    fn read(&mut self, frame: &mut [f32]) {
        for s in frame.iter_mut() {
            *s = self.samples[self.pos];
            self.pos = (self.pos + 1) % self.samples.len();
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

/// Samples between a cpal callback and the call's thread, bounded to 200 ms.
#[derive(Default)]
struct Fifo(Mutex<VecDeque<f32>>);

impl Fifo {
    fn push(&self, x: impl IntoIterator<Item = f32>, limit: usize) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.extend(x);
        let excess = q.len().saturating_sub(limit);
        q.drain(..excess);
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn pop_into(&self, out: &mut [f32]) -> usize {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = out.len().min(q.len());
        for (o, s) in out.iter_mut().zip(q.drain(..n)) {
            *o = s;
        }
        n
    }
}

/// Runs a cpal stream on a thread of its own (cpal streams are not `Send`
/// everywhere) until the handle is dropped.
struct StreamThread {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    health: Arc<Health>,
}

/// What the device's callbacks tell the call's thread.
struct Health {
    error: Mutex<Option<String>>,
    started: std::time::Instant,
    /// Milliseconds after `started` of the latest callback.
    last_callback_ms: std::sync::atomic::AtomicU64,
}

impl Health {
    fn beat(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_callback_ms.store(ms, Ordering::Release);
    }
}

impl StreamThread {
    /// An error from the device, or a second without any callback.
    fn failure(&self) -> Option<String> {
        if let Some(e) = self
            .health
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Some(e);
        }
        let now = self.health.started.elapsed().as_millis() as u64;
        let last = self.health.last_callback_ms.load(Ordering::Acquire);
        // The first callback may take a while; after that, a second of silence is a failure.
        let allowed = if last == 0 { 3000 } else { 1000 };
        (now > last + allowed).then(|| format!("the device went silent for {} ms", now - last))
    }
}

impl Drop for StreamThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run_stream(
    direction: Direction,
    kind: &DeviceKind,
    fifo: Arc<Fifo>,
) -> Result<(StreamThread, u32), String> {
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
    // 20 ms periods where the device allows it (the pulse plugin's default is far longer).
    if let cpal::SupportedBufferSize::Range { min, max } = config.buffer_size() {
        let want = rate / 50;
        if (*min..=*max).contains(&want) {
            stream_config.buffer_size = cpal::BufferSize::Fixed(want);
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let stop2 = stop.clone();
    let health = Arc::new(Health {
        error: Mutex::new(None),
        started: std::time::Instant::now(),
        last_callback_ms: std::sync::atomic::AtomicU64::new(0),
    });
    let (h_err, h_in, h_out) = (health.clone(), health.clone(), health.clone());
    let name = kind.to_string();
    let limit = rate as usize * 3 / 10;
    let prime = rate as usize / 10;
    let mut primed = false;
    let thread = std::thread::Builder::new()
        .name("audio-device".into())
        .spawn(move || {
            let err_fn = move |e: cpal::Error| {
                *h_err.error.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("device error: {e}"));
            };
            let stream = match direction {
                Direction::Input => device.build_input_stream(
                    stream_config,
                    move |data: &[f32], _: &cpal::InputCallbackInfo| {
                        h_in.beat();
                        fifo.push(
                            data.chunks(channels)
                                .map(|c| c.iter().sum::<f32>() / channels as f32),
                            limit,
                        );
                    },
                    err_fn,
                    None,
                ),
                Direction::Output => device.build_output_stream(
                    stream_config,
                    move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
                        h_out.beat();
                        let mut mono = vec![0.0f32; data.len() / channels];
                        // Start (and restart after running dry) only with 100 ms
                        // in hand, so a late frame is a delay, not a click.
                        if !primed && fifo.len() >= mono.len().max(prime) {
                            primed = true;
                        }
                        let n = if primed { fifo.pop_into(&mut mono) } else { 0 };
                        if n < mono.len() {
                            primed = false;
                        }
                        mono[n..].fill(0.0);
                        for (frame, s) in data.chunks_mut(channels).zip(mono) {
                            frame.fill(s);
                        }
                    },
                    err_fn,
                    None,
                ),
            };
            let stream = match stream.and_then(|s| s.play().map(|_| s)) {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("{name}: {e}")));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            while !stop2.load(Ordering::Acquire) {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            drop(stream);
        })
        .map_err(|e| e.to_string())?;
    let handle = StreamThread {
        stop,
        thread: Some(thread),
        health,
    };
    match ready_rx.recv_timeout(std::time::Duration::from_secs(5)) {
        Ok(Ok(())) => Ok((handle, rate)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("{kind} did not start within 5 s")),
    }
}

pub struct SoundMic {
    fifo: Arc<Fifo>,
    rate: u32,
    converter: RateConverter,
    stream: StreamThread,
}

impl SoundMic {
    fn open(kind: &DeviceKind) -> Result<Self, String> {
        let fifo = Arc::new(Fifo::default());
        let (stream, rate) = run_stream(Direction::Input, kind, fifo.clone())?;
        Ok(Self {
            fifo,
            rate,
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
        let mut raw = vec![0.0f32; self.rate as usize / 50];
        // Short of samples (device slower than our clock): zeros fill in.
        self.fifo.pop_into(&mut raw);
        self.converter.push(&raw);
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
        let fifo = Arc::new(Fifo::default());
        let (stream, rate) = run_stream(Direction::Output, kind, fifo.clone())?;
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
        self.fifo.push(out, self.rate as usize / 5);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // One second of 8 kHz becomes one second of 48 kHz.
        assert!(
            (mic.samples.len() as i64 - 48000).abs() < 100,
            "{}",
            mic.samples.len()
        );
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
}
