//! Echo cancellation, noise suppression and gain control (`audio_aec`,
//! `audio_anr`, `audio_agc`) with WebRTC's audio processing module, at the
//! plugin's 48 kHz in its 10 ms frames.

use webrtc_audio_processing::{
    Config, EchoCancellation, EchoCancellationSuppressionLevel, GainControl, GainControlMode,
    InitializationConfig, NoiseSuppression, NoiseSuppressionLevel, Processor,
    NUM_SAMPLES_PER_FRAME,
};

pub struct VoiceProcessing {
    ap: Processor,
}

impl VoiceProcessing {
    /// `None` when every feature is off (the signal is left alone).
    pub fn new(aec: bool, anr: u8, agc: bool) -> Option<Result<Self, String>> {
        if !aec && anr == 0 && !agc {
            return None;
        }
        let init = InitializationConfig {
            num_capture_channels: 1,
            num_render_channels: 1,
            ..InitializationConfig::default()
        };
        Some(
            Processor::new(&init)
                .map_err(|e| e.to_string())
                .map(|mut ap| {
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
                    Self { ap }
                }),
        )
    }

    /// What the speaker plays (the far end), so the echo can be removed.
    pub fn render(&mut self, frame: &[f32]) {
        for chunk in frame.chunks(NUM_SAMPLES_PER_FRAME as usize) {
            if chunk.len() == NUM_SAMPLES_PER_FRAME as usize {
                let mut c = chunk.to_vec();
                let _ = self.ap.process_render_frame(&mut c);
            }
        }
    }

    /// The microphone's frame, cleaned in place.
    pub fn capture(&mut self, frame: &mut [f32]) {
        for chunk in frame.chunks_mut(NUM_SAMPLES_PER_FRAME as usize) {
            if chunk.len() == NUM_SAMPLES_PER_FRAME as usize {
                let _ = self.ap.process_capture_frame(chunk);
            }
        }
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
        let mut vp = VoiceProcessing::new(true, 0, false).unwrap().unwrap();
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
    fn off_means_untouched() {
        assert!(VoiceProcessing::new(false, 0, false).is_none());
        let mut vp = VoiceProcessing::new(false, 2, true).unwrap().unwrap();
        let mut frame = vec![0.1f32; 960];
        vp.capture(&mut frame);
        assert_eq!(frame.len(), 960);
    }
}
