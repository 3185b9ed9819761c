//! Ringtone, ringback and the zip tone of an auto-answered call, each on a
//! thread of its own that stops the moment the handle is dropped.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::devices::DeviceKind;
use crate::io::{self, FRAME, RATE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// An incoming call rings: 2 s of 440+480 Hz... in bursts.
    Ring,
    /// The callee rings (no early media): 425 Hz, 1 s on, 4 s off.
    Ringback,
    /// Auto-answer: two short 880 Hz beeps.
    Zip,
}

/// (frequencies, on, off, repeat) of each tone.
fn cadence(tone: Tone) -> (&'static [f32], Duration, Duration, bool) {
    match tone {
        Tone::Ring => (
            &[440.0, 480.0],
            Duration::from_secs(2),
            Duration::from_secs(4),
            true,
        ),
        Tone::Ringback => (
            &[425.0],
            Duration::from_secs(1),
            Duration::from_secs(4),
            true,
        ),
        Tone::Zip => (
            &[880.0],
            Duration::from_millis(100),
            Duration::from_millis(100),
            false,
        ),
    }
}

/// One frame of `tone` starting at sample `n` (0 when in a pause).
pub fn frame(tone: Tone, n: u64, out: &mut [f32]) -> bool {
    let (freqs, on, off, repeat) = cadence(tone);
    let on_s = on.as_secs_f64() * f64::from(RATE);
    let period = on_s + off.as_secs_f64() * f64::from(RATE);
    let plays = if repeat { u64::MAX } else { 2 };
    let mut any = false;
    for (i, s) in out.iter_mut().enumerate() {
        let k = n + i as u64;
        let cycle = (k as f64 / period) as u64;
        let within = k as f64 - cycle as f64 * period;
        *s = if cycle < plays && within < on_s {
            any = true;
            let t = k as f32 / RATE as f32;
            freqs
                .iter()
                .map(|f| (std::f32::consts::TAU * f * t).sin())
                .sum::<f32>()
                * 0.2
        } else {
            0.0
        };
    }
    any || (repeat || (n as f64) < period * 2.0)
}

/// A tone playing until dropped.
pub struct Player {
    /// Dropping it wakes the tone thread, which stops at once and closes
    /// its device on its own: a call's state change (on the SIP task)
    /// waits for no frame and no device.
    _stop: mpsc::Sender<()>,
}

impl Player {
    /// `device` is called on the tone's own thread (listing devices may be slow).
    pub fn start(tone: Tone, device: impl FnOnce() -> DeviceKind + Send + 'static) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let _ = std::thread::Builder::new()
            .name("audio-tone".into())
            .spawn(move || {
                let Ok(mut speaker) = io::open_speaker(&device()) else {
                    return;
                };
                let mut buf = vec![0.0f32; FRAME];
                let mut n = 0u64;
                let mut deadline = Instant::now();
                loop {
                    if !frame(tone, n, &mut buf) {
                        break;
                    }
                    speaker.write(&buf);
                    n += FRAME as u64;
                    deadline += Duration::from_millis(20);
                    let wait = deadline.saturating_duration_since(Instant::now());
                    if stopped.recv_timeout(wait) != Err(RecvTimeoutError::Timeout) {
                        break;
                    }
                }
            });
        Self { _stop: stop }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadences_have_sound_and_pauses() {
        let mut buf = vec![0.0; FRAME];
        assert!(frame(Tone::Ringback, 0, &mut buf));
        assert!(buf.iter().any(|s| s.abs() > 0.1));
        // 2 s into ringback: the pause.
        assert!(frame(Tone::Ringback, 2 * u64::from(RATE), &mut buf));
        assert!(buf.iter().all(|s| *s == 0.0));
        // The zip tone ends on its own.
        assert!(!frame(Tone::Zip, u64::from(RATE), &mut buf));
    }
}
