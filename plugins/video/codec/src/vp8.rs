//! VP8 through libvpx: one-pass CBR tuned for real time (no lag, error
//! resilient, no periodic keyframe: the call asks for them with PLI/FIR).

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::ptr::null_mut;

use vpx_sys::*;

use std::time::Instant;

use crate::{pack_i420, Content, Encoded, EncoderConfig, Picture};

fn describe(ctx: *mut vpx_codec_ctx_t, e: vpx_codec_err_t) -> String {
    // SAFETY: libvpx returns static strings (or null) for both.
    unsafe {
        let text = |p: *const std::os::raw::c_char| {
            (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
        };
        let what = text(vpx_codec_err_to_string(e)).unwrap_or_else(|| format!("{e:?}"));
        match text(vpx_codec_error_detail(ctx)) {
            Some(detail) => format!("{what}: {detail}"),
            None => what,
        }
    }
}

fn check(ctx: *mut vpx_codec_ctx_t, e: vpx_codec_err_t, doing: &str) -> Result<(), String> {
    if e == vpx_codec_err_t::VPX_CODEC_OK {
        Ok(())
    } else {
        Err(format!("libvpx {doing}: {}", describe(ctx, e)))
    }
}

fn frame_duration(fps: u32) -> u64 {
    90_000 / u64::from(fps.max(1))
}

pub struct Encoder {
    /// Boxed: libvpx keeps pointers into the context.
    ctx: Box<vpx_codec_ctx_t>,
    cfg: vpx_codec_enc_cfg_t,
    pts: i64,
    /// One picture's duration in the 90 kHz timebase.
    duration: u64,
    content: Content,
    /// Screen content: pictures come when the screen changed, so each
    /// one's duration is the time since the one before (from this clock).
    clock: Instant,
    out: Vec<u8>,
}

/// A screen picture's duration in the 90 kHz timebase: the time since the
/// last picture, between a 30th of a second and one second (a long still
/// spell must not hand one picture the budget of minutes).
fn screen_duration(since_last: std::time::Duration) -> u64 {
    (since_last.as_micros() as u64 * 9 / 100).clamp(3_000, 90_000)
}

// SAFETY: the context is owned by this value and used through `&mut self`.
unsafe impl Send for Encoder {}

impl Encoder {
    pub fn new(cfg: EncoderConfig, content: Content) -> Result<Encoder, String> {
        // SAFETY: libvpx fills the config and context it is given; the
        // context is destroyed in Drop only after a successful init.
        unsafe {
            let mut c = MaybeUninit::<vpx_codec_enc_cfg_t>::zeroed().assume_init();
            check(
                null_mut(),
                vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &mut c, 0),
                "default config",
            )?;
            c.g_w = cfg.width;
            c.g_h = cfg.height;
            c.g_timebase = vpx_rational {
                num: 1,
                den: 90_000,
            };
            c.g_threads = 1;
            c.g_lag_in_frames = 0;
            c.g_error_resilient = 1; // VPX_ERROR_RESILIENT_DEFAULT
            c.rc_end_usage = vpx_rc_mode::VPX_CBR;
            c.rc_target_bitrate = cfg.bitrate / 1000;
            c.rc_min_quantizer = 4;
            c.rc_max_quantizer = 56;
            c.rc_undershoot_pct = 100;
            c.rc_overshoot_pct = 15;
            c.rc_buf_sz = 1000;
            c.rc_buf_initial_sz = 500;
            c.rc_buf_optimal_sz = 600;
            c.rc_dropframe_thresh = 0;
            c.kf_mode = vpx_kf_mode::VPX_KF_DISABLED;
            let mut ctx = Box::new(MaybeUninit::<vpx_codec_ctx_t>::zeroed().assume_init());
            check(
                null_mut(),
                vpx_codec_enc_init_ver(
                    &mut *ctx,
                    vpx_codec_vp8_cx(),
                    &c,
                    0,
                    VPX_ENCODER_ABI_VERSION as i32,
                ),
                "encoder init",
            )?;
            let mut enc = Encoder {
                ctx,
                cfg: c,
                pts: 0,
                duration: frame_duration(cfg.fps),
                content,
                clock: Instant::now(),
                out: Vec::new(),
            };
            // Speed over quality, as for any real-time VP8 sender.
            let speed: std::os::raw::c_int = -6;
            let e = vpx_codec_control_(
                &mut *enc.ctx,
                vp8e_enc_control_id::VP8E_SET_CPUUSED as i32,
                speed,
            );
            check(&mut *enc.ctx, e, "cpu-used")?;
            if content == Content::Screen {
                // libvpx's screen-content tools: sharper text and edges,
                // cheap static areas.
                let e = vpx_codec_control_(
                    &mut *enc.ctx,
                    vp8e_enc_control_id::VP8E_SET_SCREEN_CONTENT_MODE as i32,
                    1 as std::os::raw::c_uint,
                );
                check(&mut *enc.ctx, e, "screen content mode")?;
            }
            Ok(enc)
        }
    }

    pub fn encode(
        &mut self,
        i420: &[u8],
        width: u32,
        height: u32,
        force_keyframe: bool,
    ) -> Result<Option<Encoded<'_>>, String> {
        if (width, height) != (self.cfg.g_w, self.cfg.g_h) {
            // libvpx cannot grow a stream past its first size: start anew
            // (the first picture of an encoder is a keyframe).
            *self = Encoder::new(
                EncoderConfig {
                    codec: crate::Codec::Vp8 as u32,
                    width,
                    height,
                    fps: (90_000 / self.duration.max(1)) as u32,
                    bitrate: self.cfg.rc_target_bitrate * 1000,
                },
                self.content,
            )?;
        }
        let duration = match self.content {
            Content::Camera => self.duration,
            Content::Screen => {
                let now = Instant::now();
                let d = screen_duration(now.duration_since(self.clock));
                self.clock = now;
                d
            }
        };
        // SAFETY: `img` wraps `i420` (read only by the encoder, which copies
        // it before returning); packets are read before the next call.
        unsafe {
            let mut img = MaybeUninit::<vpx_image_t>::zeroed().assume_init();
            let wrapped = vpx_img_wrap(
                &mut img,
                vpx_img_fmt::VPX_IMG_FMT_I420,
                width,
                height,
                1,
                i420.as_ptr().cast_mut(),
            );
            if wrapped.is_null() {
                return Err("libvpx could not wrap the picture".into());
            }
            let flags = if force_keyframe {
                VPX_EFLAG_FORCE_KF as vpx_enc_frame_flags_t
            } else {
                0
            };
            let e = vpx_codec_encode(
                &mut *self.ctx,
                &img,
                self.pts,
                duration,
                flags,
                VPX_DL_REALTIME.into(),
            );
            check(&mut *self.ctx, e, "encode")?;
            self.pts += duration as i64;
            self.out.clear();
            let mut keyframe = false;
            let mut iter: vpx_codec_iter_t = std::ptr::null();
            loop {
                let pkt = vpx_codec_get_cx_data(&mut *self.ctx, &mut iter);
                let Some(pkt) = pkt.as_ref() else { break };
                if pkt.kind != vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                    continue;
                }
                let frame = pkt.data.frame;
                self.out.extend_from_slice(std::slice::from_raw_parts(
                    frame.buf as *const u8,
                    frame.sz as usize,
                ));
                keyframe |= frame.flags & VPX_FRAME_IS_KEY != 0;
            }
            if self.out.is_empty() {
                return Ok(None);
            }
            Ok(Some(Encoded {
                data: &self.out,
                keyframe,
            }))
        }
    }

    pub fn set_rate(&mut self, bitrate: u32, fps: u32) -> Result<(), String> {
        self.duration = frame_duration(fps);
        self.cfg.rc_target_bitrate = bitrate / 1000;
        // SAFETY: a live context and a config it was made from.
        let e = unsafe { vpx_codec_enc_config_set(&mut *self.ctx, &self.cfg) };
        check(&mut *self.ctx, e, "rate change")
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe {
            vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

pub struct Decoder {
    ctx: Box<vpx_codec_ctx_t>,
    out: Vec<u8>,
}

// SAFETY: as the encoder.
unsafe impl Send for Decoder {}

impl Decoder {
    pub fn new() -> Result<Decoder, String> {
        // SAFETY: as the encoder's init.
        unsafe {
            let mut ctx = Box::new(MaybeUninit::<vpx_codec_ctx_t>::zeroed().assume_init());
            let cfg = vpx_codec_dec_cfg_t {
                threads: 1,
                w: 0,
                h: 0,
            };
            check(
                null_mut(),
                vpx_codec_dec_init_ver(
                    &mut *ctx,
                    vpx_codec_vp8_dx(),
                    &cfg,
                    0,
                    VPX_DECODER_ABI_VERSION as i32,
                ),
                "decoder init",
            )?;
            Ok(Decoder {
                ctx,
                out: Vec::new(),
            })
        }
    }

    pub fn decode(&mut self, data: &[u8]) -> Result<Option<Picture<'_>>, String> {
        let len = u32::try_from(data.len()).map_err(|_| "access unit too large")?;
        // SAFETY: `data` is read during the call; the image returned stays
        // valid until the next decode and is copied out at once.
        unsafe {
            let e = vpx_codec_decode(&mut *self.ctx, data.as_ptr(), len, null_mut(), 0);
            check(&mut *self.ctx, e, "decode")?;
            let mut iter: vpx_codec_iter_t = std::ptr::null();
            let mut got = None;
            loop {
                let img = vpx_codec_get_frame(&mut *self.ctx, &mut iter);
                let Some(img) = img.as_ref() else { break };
                got = Some(*img);
            }
            let Some(img) = got else { return Ok(None) };
            if img.fmt != vpx_img_fmt::VPX_IMG_FMT_I420 {
                return Err(format!("libvpx decoded {:?}, not I420", img.fmt));
            }
            let (w, h) = (img.d_w as usize, img.d_h as usize);
            let plane = |i: usize, rows: usize| {
                let stride = img.stride[i] as usize;
                (
                    std::slice::from_raw_parts(img.planes[i] as *const u8, stride * rows),
                    stride,
                )
            };
            // Odd sizes are rounded down to even: I420 as this library
            // hands it out has even sizes only.
            let (w, h) = (w & !1, h & !1);
            pack_i420(
                &mut self.out,
                (w, h),
                [plane(0, h), plane(1, h / 2), plane(2, h / 2)],
            )?;
            Ok(Some(Picture {
                i420: &self.out,
                width: w as u32,
                height: h as u32,
            }))
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe {
            vpx_codec_destroy(&mut *self.ctx);
        }
    }
}
