//! H.264 through OpenH264: constrained baseline, one slice per picture,
//! SPS/PPS before every IDR (a receiver joining late needs them), no
//! periodic IDR (the call asks for keyframes with PLI/FIR).

use openh264::decoder::{Decoder as OhDecoder, DecoderConfig};
use openh264::encoder::{
    BitRate, Encoder as OhEncoder, EncoderConfig as OhConfig, FrameRate, FrameType, Profile,
    RateControlMode, SpsPpsStrategy, UsageType,
};
use openh264::formats::{YUVSlices, YUVSource};
use openh264::OpenH264API;
use openh264::Timestamp;
use openh264_sys2::{SBitrateInfo, ENCODER_OPTION_BITRATE, ENCODER_OPTION_FRAME_RATE};

use crate::{pack_i420, Content, Encoded, EncoderConfig, H264Source, Picture};

fn api(source: &H264Source) -> Result<OpenH264API, String> {
    match source {
        H264Source::BuiltIn => Ok(OpenH264API::from_source()),
        // Checked against the SHA-256 of Cisco's releases first: loading
        // any other file through these bindings could be undefined behaviour.
        H264Source::Cisco(path) => OpenH264API::from_blob_path(path)
            .map_err(|e| format!("Cisco's OpenH264 at {} not loaded: {e}", path.display())),
    }
}

pub struct Encoder {
    inner: OhEncoder,
    /// Screen content: each picture's time stamp (from this clock) tells
    /// OpenH264's rate control how long it stood; a camera's need not.
    clock: Option<std::time::Instant>,
    out: Vec<u8>,
}

impl Encoder {
    pub fn new(
        cfg: EncoderConfig,
        source: &H264Source,
        content: Content,
    ) -> Result<Encoder, String> {
        // Screen content: OpenH264's screen tools (sharp text, cheap still
        // areas); its rate control reads each picture's time stamp.
        let usage = match content {
            Content::Camera => UsageType::CameraVideoRealTime,
            Content::Screen => UsageType::ScreenContentRealTime,
        };
        let screen = content == Content::Screen;
        let config = OhConfig::new()
            .profile(Profile::Baseline)
            .usage_type(usage)
            // Not supported for screen content (OpenH264 says so, loudly).
            .adaptive_quantization(!screen)
            .background_detection(!screen)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(cfg.bitrate))
            .max_frame_rate(FrameRate::from_hz(cfg.fps as f32))
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            .skip_frames(true)
            // One thread: the call's media thread is the encoder's pace.
            .num_threads(1);
        let inner = OhEncoder::with_api_config(api(source)?, config)
            .map_err(|e| format!("OpenH264 encoder: {e}"))?;
        Ok(Encoder {
            inner,
            clock: screen.then(std::time::Instant::now),
            out: Vec::new(),
        })
    }

    pub fn encode(
        &mut self,
        i420: &[u8],
        width: u32,
        height: u32,
        force_keyframe: bool,
    ) -> Result<Option<Encoded<'_>>, String> {
        let (w, h) = (width as usize, height as usize);
        let (y, chroma) = i420.split_at(w * h);
        let (u, v) = chroma.split_at(chroma.len() / 2);
        let picture = YUVSlices::new((y, u, v), (w, h), (w, w / 2, w / 2));
        if force_keyframe {
            self.inner.force_intra_frame();
        }
        let at = self.clock.map_or(Timestamp::ZERO, |c| {
            Timestamp::from_millis(c.elapsed().as_millis() as u64)
        });
        let stream = self
            .inner
            .encode_at(&picture, at)
            .map_err(|e| format!("OpenH264 encode: {e}"))?;
        let keyframe = matches!(stream.frame_type(), FrameType::IDR | FrameType::I);
        if matches!(stream.frame_type(), FrameType::Skip | FrameType::Invalid) {
            return Ok(None);
        }
        self.out.clear();
        stream.write_vec(&mut self.out);
        if self.out.is_empty() {
            return Ok(None);
        }
        Ok(Some(Encoded {
            data: &self.out,
            keyframe,
        }))
    }

    pub fn set_rate(&mut self, bitrate: u32, fps: u32) -> Result<(), String> {
        let mut rate = SBitrateInfo {
            iLayer: openh264_sys2::SPATIAL_LAYER_ALL,
            iBitrate: bitrate as i32,
        };
        let mut fps = fps as f32;
        // SAFETY: both options take a pointer to the type given here
        // (OpenH264's codec_app_def.h); the encoder is initialised.
        unsafe {
            let raw = self.inner.raw_api();
            let a = raw.set_option(ENCODER_OPTION_BITRATE, (&raw mut rate).cast());
            let b = raw.set_option(ENCODER_OPTION_FRAME_RATE, (&raw mut fps).cast());
            if a != 0 || b != 0 {
                return Err(format!("OpenH264 refused the rate change ({a}, {b})"));
            }
        }
        Ok(())
    }
}

pub struct Decoder {
    inner: OhDecoder,
    out: Vec<u8>,
}

impl Decoder {
    pub fn new(source: &H264Source) -> Result<Decoder, String> {
        let inner = OhDecoder::with_api_config(api(source)?, DecoderConfig::new())
            .map_err(|e| format!("OpenH264 decoder: {e}"))?;
        Ok(Decoder {
            inner,
            out: Vec::new(),
        })
    }

    pub fn decode(&mut self, data: &[u8]) -> Result<Option<Picture<'_>>, String> {
        let Some(yuv) = self
            .inner
            .decode(data)
            .map_err(|e| format!("OpenH264 decode: {e}"))?
        else {
            return Ok(None);
        };
        let (w, h) = yuv.dimensions();
        let (sy, su, sv) = yuv.strides();
        pack_i420(
            &mut self.out,
            (w, h),
            [(yuv.y(), sy), (yuv.u(), su), (yuv.v(), sv)],
        )?;
        Ok(Some(Picture {
            i420: &self.out,
            width: w as u32,
            height: h as u32,
        }))
    }
}
