//! Echo cancellation, noise suppression and gain control (`audio_aec`,
//! `audio_anr`, `audio_agc`) with WebRTC's audio processing module, at the
//! audio plugin's 48 kHz mono in 10 ms frames.
//!
//! A library of its own because WebRTC's module is C++: linking it maps
//! `libwebrtc_audio_processing` and `libstdc++` (~1.1 MiB PSS) into every
//! engine, though most seats never turn these features on. The audio plugin
//! loads this file (`libseatphone_voice.so`, beside its own) on the first call
//! that needs it, through the small C ABI below:
//!
//! | symbol | what it does |
//! |---|---|
//! | `seatphone_voice_abi_version() -> u32` | [`ABI_VERSION`]; the plugin refuses another |
//! | `seatphone_voice_create(aec, anr, agc, err, err_cap, err_len) -> handle` | a processor, or null with the reason in `err` |
//! | `seatphone_voice_render(handle, ptr, len)` | the far end's samples (what the speaker plays) |
//! | `seatphone_voice_capture(handle, ptr, len)` | the microphone's samples, cleaned in place |
//! | `seatphone_voice_destroy(handle)` | frees the processor |
//! | `seatphone_plugin_helper()` | marks a plugin's helper: the host neither loads nor lists it |
//!
//! Samples are f32 in −1…1; only whole 10 ms frames (480 samples) are
//! processed, a shorter tail is left as it is.

use std::panic::{catch_unwind, AssertUnwindSafe};

use webrtc_audio_processing::{
    Config, EchoCancellation, EchoCancellationSuppressionLevel, GainControl, GainControlMode,
    InitializationConfig, NoiseSuppression, NoiseSuppressionLevel, Processor,
    NUM_SAMPLES_PER_FRAME,
};

/// Bumped whenever a symbol's signature or meaning changes.
pub const ABI_VERSION: u32 = 1;

const FRAME: usize = NUM_SAMPLES_PER_FRAME as usize;

/// One call's processor.
pub struct Voice {
    ap: Processor,
    /// WebRTC's render call wants a mutable frame; the caller's is shared.
    scratch: Vec<f32>,
}

impl Voice {
    /// `anr`: 0 off, 1 low … 4 very high.
    pub fn new(aec: bool, anr: u8, agc: bool) -> Result<Self, String> {
        let init = InitializationConfig {
            num_capture_channels: 1,
            num_render_channels: 1,
            ..InitializationConfig::default()
        };
        let mut ap = Processor::new(&init).map_err(|e| e.to_string())?;
        ap.set_config(Config {
            echo_cancellation: aec.then_some(EchoCancellation {
                suppression_level: EchoCancellationSuppressionLevel::High,
                enable_extended_filter: true,
                enable_delay_agnostic: true,
                stream_delay_ms: None,
            }),
            noise_suppression: (anr > 0).then_some(NoiseSuppression {
                suppression_level: match anr {
                    1 => NoiseSuppressionLevel::Low,
                    2 => NoiseSuppressionLevel::Moderate,
                    3 => NoiseSuppressionLevel::High,
                    _ => NoiseSuppressionLevel::VeryHigh,
                },
            }),
            gain_control: agc.then_some(GainControl {
                mode: GainControlMode::AdaptiveDigital,
                target_level_dbfs: 6,
                compression_gain_db: 9,
                enable_limiter: true,
            }),
            enable_high_pass_filter: true,
            ..Config::default()
        });
        Ok(Self {
            ap,
            scratch: vec![0.0; FRAME],
        })
    }

    /// What the speaker plays (the far end), so the echo can be removed.
    pub fn render(&mut self, frame: &[f32]) {
        for chunk in frame.chunks_exact(FRAME) {
            self.scratch.copy_from_slice(chunk);
            let _ = self.ap.process_render_frame(&mut self.scratch);
        }
    }

    /// The microphone's frame, cleaned in place.
    pub fn capture(&mut self, frame: &mut [f32]) {
        for chunk in frame.chunks_exact_mut(FRAME) {
            let _ = self.ap.process_capture_frame(chunk);
        }
    }
}

// ---------------------------------------------------------------- C ABI

#[no_mangle]
pub extern "C" fn seatphone_voice_abi_version() -> u32 {
    ABI_VERSION
}

/// Present only so that the host's loader, reading the export table, knows
/// this library belongs to a plugin: it is neither loaded nor listed as a
/// skipped plugin (README, "What the host loads from the plugin folder").
#[no_mangle]
pub extern "C" fn seatphone_plugin_helper() {}

/// A processor with the features asked for, or null with the reason written
/// to `err` (UTF-8, at most `err_cap` bytes, the length in `*err_len`).
///
/// # Safety
/// `err` must be valid for `err_cap` bytes of writes (or null), `err_len`
/// valid for one write (or null).
#[no_mangle]
pub unsafe extern "C" fn seatphone_voice_create(
    aec: u8,
    anr: u8,
    agc: u8,
    err: *mut u8,
    err_cap: usize,
    err_len: *mut usize,
) -> *mut Voice {
    let made = catch_unwind(|| Voice::new(aec != 0, anr, agc != 0))
        .unwrap_or_else(|_| Err("WebRTC audio processing panicked while starting".into()));
    match made {
        Ok(voice) => Box::into_raw(Box::new(voice)),
        Err(reason) => {
            let n = reason.len().min(err_cap);
            if !err.is_null() {
                std::ptr::copy_nonoverlapping(reason.as_ptr(), err, n);
            }
            if !err_len.is_null() {
                *err_len = n;
            }
            std::ptr::null_mut()
        }
    }
}

/// # Safety
/// `voice` is a live handle from `seatphone_voice_create` used by one thread
/// at a time; `samples` is valid for `len` f32 reads.
#[no_mangle]
pub unsafe extern "C" fn seatphone_voice_render(
    voice: *mut Voice,
    samples: *const f32,
    len: usize,
) {
    if voice.is_null() || samples.is_null() {
        return;
    }
    let (voice, frame) = (&mut *voice, std::slice::from_raw_parts(samples, len));
    // A panic must not cross the C boundary (it would abort the engine).
    let _ = catch_unwind(AssertUnwindSafe(|| voice.render(frame)));
}

/// # Safety
/// As [`seatphone_voice_render`], with `samples` valid for `len` f32 writes.
#[no_mangle]
pub unsafe extern "C" fn seatphone_voice_capture(voice: *mut Voice, samples: *mut f32, len: usize) {
    if voice.is_null() || samples.is_null() {
        return;
    }
    let (voice, frame) = (&mut *voice, std::slice::from_raw_parts_mut(samples, len));
    let _ = catch_unwind(AssertUnwindSafe(|| voice.capture(frame)));
}

/// # Safety
/// `voice` is null or a handle from `seatphone_voice_create`, not used after.
#[no_mangle]
pub unsafe extern "C" fn seatphone_voice_destroy(voice: *mut Voice) {
    if !voice.is_null() {
        drop(Box::from_raw(voice));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms_db(x: &[f32]) -> f64 {
        let ms = x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64;
        10.0 * ms.max(1e-20).log10()
    }

    /// The far end's voice comes out of the speaker and back into the mic
    /// 30 ms later at half its level; with AEC on, what we would send
    /// carries that echo at least 20 dB quieter.
    #[test]
    fn echo_of_the_far_end_is_attenuated_by_20_db() {
        let mut vp = Voice::new(true, 0, false).unwrap();
        let mut seed = 99u64;
        let mut noise = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.6
        };
        let delay = 48 * 30;
        let mut far: Vec<f32> = Vec::new();
        let (mut before, mut after) = (Vec::new(), Vec::new());
        for n in 0..500 {
            // Speech-like: noise bursts of 300 ms on, 200 ms off.
            let on = (n * 20) % 500 < 300;
            let frame: Vec<f32> = (0..960).map(|_| if on { noise() } else { 0.0 }).collect();
            vp.render(&frame);
            far.extend_from_slice(&frame);
            let start = far.len() - 960;
            let mut mic: Vec<f32> = (0..960)
                .map(|i| {
                    if start + i >= delay {
                        far[start + i - delay] * 0.5
                    } else {
                        0.0
                    }
                })
                .collect();
            if n >= 400 {
                before.extend_from_slice(&mic);
            }
            vp.capture(&mut mic);
            if n >= 400 {
                after.extend_from_slice(&mic);
            }
        }
        let attenuation = rms_db(&before) - rms_db(&after);
        assert!(
            attenuation >= 20.0,
            "echo attenuated by only {attenuation:.1} dB"
        );
    }

    #[test]
    fn noise_and_gain_alone_keep_the_frame_length() {
        let mut vp = Voice::new(false, 2, true).unwrap();
        let mut frame = vec![0.1f32; 960];
        vp.capture(&mut frame);
        assert_eq!(frame.len(), 960);
    }

    /// The C entry points: a handle that processes, a tail shorter than a
    /// frame left alone, null handles ignored.
    #[test]
    fn c_abi_processes_whole_frames_and_ignores_null() {
        unsafe {
            let (mut err, mut len) = ([0u8; 64], 0usize);
            let h = seatphone_voice_create(0, 4, 0, err.as_mut_ptr(), err.len(), &mut len);
            assert!(!h.is_null(), "{}", String::from_utf8_lossy(&err[..len]));
            let far = vec![0.2f32; 960];
            seatphone_voice_render(h, far.as_ptr(), far.len());
            // Loud noise, then a 100-sample tail that must stay as it is.
            let mut seed = 7u32;
            let mut mic: Vec<f32> = (0..FRAME * 20 + 100)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as f32 / 65536.0 - 0.5
                })
                .collect();
            let original = mic.clone();
            seatphone_voice_capture(h, mic.as_mut_ptr(), mic.len());
            assert_ne!(mic[..FRAME * 20], original[..FRAME * 20]);
            assert_eq!(mic[FRAME * 20..], original[FRAME * 20..]);
            seatphone_voice_capture(std::ptr::null_mut(), mic.as_mut_ptr(), mic.len());
            seatphone_voice_destroy(h);
            seatphone_voice_destroy(std::ptr::null_mut());
        }
        assert_eq!(seatphone_voice_abi_version(), ABI_VERSION);
    }
}
