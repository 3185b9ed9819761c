//! H.264 and VP8 encoders and decoders for the video plugin.
//!
//! A library of its own, like the audio plugin's voice library: OpenH264
//! (~1 MiB of code, built from source) and libvpx (a system library) are
//! mapped only by an engine that carries a video call, never by an idle or
//! audio-only seat. The video plugin loads this file
//! (`libseatphone_videocodec.so`, beside its own) on the first video call,
//! through the C ABI below.
//!
//! | symbol | what it does |
//! |---|---|
//! | `seatphone_videocodec_abi_version() -> u32` | [`ABI_VERSION`]; the plugin refuses another |
//! | `seatphone_videocodec_encoder_new(cfg, h264_lib, h264_lib_len, err) -> handle` | an encoder, or null with the reason in `err` |
//! | `seatphone_videocodec_encode(enc, i420, len, w, h, force_key, out, out_len, key, err) -> i32` | one picture in; 1 and an access unit out, 0 when the encoder skipped it, -1 on error |
//! | `seatphone_videocodec_screen_encoder_new(cfg, h264_lib, h264_lib_len, err) -> handle` | an encoder tuned for screen content (text stays sharp; pictures come when the screen changes, so its rate control follows the clock, not `fps`) |
//! | `seatphone_videocodec_encoder_rate(enc, bitrate, fps, err) -> i32` | new target bitrate (bit/s) and frame rate, 0 or -1 |
//! | `seatphone_videocodec_encoder_free(enc)` | frees it |
//! | `seatphone_videocodec_decoder_new(codec, h264_lib, h264_lib_len, err) -> handle` | a decoder, or null |
//! | `seatphone_videocodec_decode(dec, data, len, out, out_len, w, h, err) -> i32` | one access unit in; 1 and an I420 picture out, 0 when none is ready, -1 on error |
//! | `seatphone_videocodec_decoder_free(dec)` | frees it |
//! | `seatphone_plugin_helper()` | marks a plugin's helper: the host neither loads nor lists it |
//!
//! Pictures are I420, planes back to back without padding (Y `w*h`, then U
//! and V `w/2*h/2` each), even width and height. H.264 access units are an
//! Annex B byte stream (start codes; SPS and PPS before each IDR),
//! constrained baseline, for RTP packetization-mode 1. VP8 access units are
//! one frame. An output pointer stays valid until the next call on the same
//! handle. `h264_lib`: empty for the OpenH264 built into this library, or the
//! path of Cisco's prebuilt `libopenh264` (checked against the hashes of
//! Cisco's releases before it is loaded).

use std::panic::{catch_unwind, AssertUnwindSafe};

mod h264;
mod vp8;

/// Bumped whenever a symbol's signature or meaning changes.
pub const ABI_VERSION: u32 = 1;

/// The codecs, as the C ABI numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Vp8 = 1,
    H264 = 2,
}

impl Codec {
    pub fn from_abi(n: u32) -> Result<Codec, String> {
        match n {
            1 => Ok(Codec::Vp8),
            2 => Ok(Codec::H264),
            _ => Err(format!("unknown video codec number {n}")),
        }
    }
}

/// Where OpenH264 comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H264Source {
    /// Compiled into this library from source.
    BuiltIn,
    /// Cisco's prebuilt library at this path.
    Cisco(std::path::PathBuf),
}

/// What an encoder is tuned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// A camera: a steady frame rate, natural pictures.
    Camera,
    /// A shared screen or window: sharp edges and text, pictures only when
    /// something changed (each picture's duration is read from the clock).
    Screen,
}

/// What an encoder starts with.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderConfig {
    /// [`Codec`] as a number.
    pub codec: u32,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Target bit/s.
    pub bitrate: u32,
}

/// One encoded access unit.
pub struct Encoded<'a> {
    pub data: &'a [u8],
    pub keyframe: bool,
}

/// A decoded picture (I420, planes back to back).
pub struct Picture<'a> {
    pub i420: &'a [u8],
    pub width: u32,
    pub height: u32,
}

/// Bytes of an I420 picture, or why these dimensions are refused.
pub fn i420_len(width: u32, height: u32) -> Result<usize, String> {
    if width == 0
        || height == 0
        || width % 2 == 1
        || height % 2 == 1
        || width > 4096
        || height > 4096
    {
        return Err(format!(
            "picture size {width}x{height} refused: width and height must be even, 2 to 4096"
        ));
    }
    let (w, h) = (width as usize, height as usize);
    Ok(w * h + 2 * (w / 2) * (h / 2))
}

pub enum Encoder {
    /// Boxed too: the two sizes differ a lot, and one box per call is nothing.
    Vp8(Box<vp8::Encoder>),
    /// Boxed: OpenH264's per-frame bitstream info is large.
    H264(Box<h264::Encoder>),
}

impl Encoder {
    pub fn new(cfg: EncoderConfig, h264: &H264Source) -> Result<Encoder, String> {
        Encoder::for_content(cfg, h264, Content::Camera)
    }

    pub fn for_content(
        cfg: EncoderConfig,
        h264: &H264Source,
        content: Content,
    ) -> Result<Encoder, String> {
        i420_len(cfg.width, cfg.height)?;
        if cfg.fps == 0 || cfg.fps > 120 || cfg.bitrate < 10_000 {
            return Err(format!(
                "encoder refused: {} fps (1-120), {} bit/s (at least 10000)",
                cfg.fps, cfg.bitrate
            ));
        }
        Ok(match Codec::from_abi(cfg.codec)? {
            Codec::Vp8 => Encoder::Vp8(Box::new(vp8::Encoder::new(cfg, content)?)),
            Codec::H264 => Encoder::H264(Box::new(h264::Encoder::new(cfg, h264, content)?)),
        })
    }

    /// Encodes one picture; a size other than the last one restarts the
    /// encoder at that size (with a keyframe). `Ok(None)`: the encoder
    /// dropped this picture to keep its rate.
    pub fn encode(
        &mut self,
        i420: &[u8],
        width: u32,
        height: u32,
        force_keyframe: bool,
    ) -> Result<Option<Encoded<'_>>, String> {
        let want = i420_len(width, height)?;
        if i420.len() != want {
            return Err(format!(
                "a {width}x{height} I420 picture has {want} bytes, got {}",
                i420.len()
            ));
        }
        match self {
            Encoder::Vp8(e) => e.encode(i420, width, height, force_keyframe),
            Encoder::H264(e) => e.encode(i420, width, height, force_keyframe),
        }
    }

    /// A new target bitrate (bit/s) and frame rate, kept across keyframes.
    pub fn set_rate(&mut self, bitrate: u32, fps: u32) -> Result<(), String> {
        if fps == 0 || fps > 120 || bitrate < 10_000 {
            return Err(format!("rate refused: {fps} fps, {bitrate} bit/s"));
        }
        match self {
            Encoder::Vp8(e) => e.set_rate(bitrate, fps),
            Encoder::H264(e) => e.set_rate(bitrate, fps),
        }
    }
}

pub enum Decoder {
    Vp8(vp8::Decoder),
    H264(Box<h264::Decoder>),
}

impl Decoder {
    pub fn new(codec: Codec, h264: &H264Source) -> Result<Decoder, String> {
        Ok(match codec {
            Codec::Vp8 => Decoder::Vp8(vp8::Decoder::new()?),
            Codec::H264 => Decoder::H264(Box::new(h264::Decoder::new(h264)?)),
        })
    }

    /// Decodes one access unit. `Ok(None)`: no picture yet (H.264 parameter
    /// sets alone, or a decoder waiting for a keyframe).
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<Picture<'_>>, String> {
        if data.is_empty() {
            return Err("empty access unit".into());
        }
        match self {
            Decoder::Vp8(d) => d.decode(data),
            Decoder::H264(d) => d.decode(data),
        }
    }
}

/// Copies planes with strides into `out` as tight I420.
pub(crate) fn pack_i420(
    out: &mut Vec<u8>,
    (width, height): (usize, usize),
    planes: [(&[u8], usize); 3],
) -> Result<(), String> {
    out.clear();
    for (i, (plane, stride)) in planes.into_iter().enumerate() {
        let (w, h) = if i == 0 {
            (width, height)
        } else {
            (width / 2, height / 2)
        };
        for row in 0..h {
            let line = plane
                .get(row * stride..row * stride + w)
                .ok_or("decoded plane shorter than its size")?;
            out.extend_from_slice(line);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- C ABI

/// Where a failing call writes its reason (UTF-8, cut to `cap` bytes).
#[repr(C)]
pub struct ErrBuf {
    pub ptr: *mut u8,
    pub cap: usize,
    pub len: usize,
}

/// # Safety
/// `err` is null or points to an `ErrBuf` whose `ptr` is writable for `cap`.
unsafe fn fail(err: *mut ErrBuf, reason: &str) {
    if let Some(err) = err.as_mut() {
        let n = reason.len().min(err.cap);
        if !err.ptr.is_null() {
            std::ptr::copy_nonoverlapping(reason.as_ptr(), err.ptr, n);
        }
        err.len = n;
    }
}

/// # Safety
/// `ptr` is null or valid for `len` bytes.
unsafe fn h264_source(ptr: *const u8, len: usize) -> Result<H264Source, String> {
    if ptr.is_null() || len == 0 {
        return Ok(H264Source::BuiltIn);
    }
    let bytes = std::slice::from_raw_parts(ptr, len);
    let path = std::str::from_utf8(bytes).map_err(|_| "OpenH264 path is not UTF-8")?;
    Ok(H264Source::Cisco(path.into()))
}

/// Runs `f`, turning a panic into an error: a panic must not cross the C
/// boundary (it would abort the engine).
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(format!("{what} panicked")))
}

#[no_mangle]
pub extern "C" fn seatphone_videocodec_abi_version() -> u32 {
    ABI_VERSION
}

/// Present only so that the host's loader, reading the export table, knows
/// this library belongs to a plugin: it is neither loaded nor listed as a
/// skipped plugin (README, "What the host loads from the plugin folder").
#[no_mangle]
pub extern "C" fn seatphone_plugin_helper() {}

/// # Safety
/// `cfg` valid for a read; `h264_lib` null or valid for `h264_lib_len`
/// bytes; `err` as [`ErrBuf`] says.
#[no_mangle]
pub unsafe extern "C" fn seatphone_videocodec_encoder_new(
    cfg: *const EncoderConfig,
    h264_lib: *const u8,
    h264_lib_len: usize,
    err: *mut ErrBuf,
) -> *mut Encoder {
    new_encoder(cfg, h264_lib, h264_lib_len, err, Content::Camera)
}

/// # Safety
/// As [`seatphone_videocodec_encoder_new`].
#[no_mangle]
pub unsafe extern "C" fn seatphone_videocodec_screen_encoder_new(
    cfg: *const EncoderConfig,
    h264_lib: *const u8,
    h264_lib_len: usize,
    err: *mut ErrBuf,
) -> *mut Encoder {
    new_encoder(cfg, h264_lib, h264_lib_len, err, Content::Screen)
}

/// # Safety
/// As [`seatphone_videocodec_encoder_new`].
unsafe fn new_encoder(
    cfg: *const EncoderConfig,
    h264_lib: *const u8,
    h264_lib_len: usize,
    err: *mut ErrBuf,
    content: Content,
) -> *mut Encoder {
    let Some(cfg) = cfg.as_ref().copied() else {
        fail(err, "no encoder config");
        return std::ptr::null_mut();
    };
    let made = h264_source(h264_lib, h264_lib_len).and_then(|src| {
        guarded("starting the encoder", || {
            Encoder::for_content(cfg, &src, content)
        })
    });
    match made {
        Ok(enc) => Box::into_raw(Box::new(enc)),
        Err(reason) => {
            fail(err, &reason);
            std::ptr::null_mut()
        }
    }
}

/// # Safety
/// `enc` a live encoder used by one thread at a time; `i420` valid for `len`
/// bytes; `out`, `out_len`, `key` valid for one write; `err` as above.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn seatphone_videocodec_encode(
    enc: *mut Encoder,
    i420: *const u8,
    len: usize,
    width: u32,
    height: u32,
    force_keyframe: u8,
    out: *mut *const u8,
    out_len: *mut usize,
    key: *mut u8,
    err: *mut ErrBuf,
) -> i32 {
    let (Some(enc), false) = (
        enc.as_mut(),
        i420.is_null() || out.is_null() || out_len.is_null(),
    ) else {
        fail(err, "null encoder or buffer");
        return -1;
    };
    let picture = std::slice::from_raw_parts(i420, len);
    match guarded("encoding", || {
        enc.encode(picture, width, height, force_keyframe != 0)
            .map(|o| o.map(|e| (e.data.as_ptr(), e.data.len(), e.keyframe)))
    }) {
        Ok(Some((ptr, n, keyframe))) => {
            *out = ptr;
            *out_len = n;
            if !key.is_null() {
                *key = u8::from(keyframe);
            }
            1
        }
        Ok(None) => 0,
        Err(reason) => {
            fail(err, &reason);
            -1
        }
    }
}

/// # Safety
/// `enc` a live encoder; `err` as above.
#[no_mangle]
pub unsafe extern "C" fn seatphone_videocodec_encoder_rate(
    enc: *mut Encoder,
    bitrate: u32,
    fps: u32,
    err: *mut ErrBuf,
) -> i32 {
    let Some(enc) = enc.as_mut() else {
        fail(err, "null encoder");
        return -1;
    };
    match guarded("changing the rate", || enc.set_rate(bitrate, fps)) {
        Ok(()) => 0,
        Err(reason) => {
            fail(err, &reason);
            -1
        }
    }
}

/// # Safety
/// `enc` null or from `seatphone_videocodec_encoder_new`, not used after.
#[no_mangle]
pub unsafe extern "C" fn seatphone_videocodec_encoder_free(enc: *mut Encoder) {
    if !enc.is_null() {
        drop(Box::from_raw(enc));
    }
}

/// # Safety
/// As [`seatphone_videocodec_encoder_new`].
#[no_mangle]
pub unsafe extern "C" fn seatphone_videocodec_decoder_new(
    codec: u32,
    h264_lib: *const u8,
    h264_lib_len: usize,
    err: *mut ErrBuf,
) -> *mut Decoder {
    let made = Codec::from_abi(codec).and_then(|codec| {
        let src = h264_source(h264_lib, h264_lib_len)?;
        guarded("starting the decoder", || Decoder::new(codec, &src))
    });
    match made {
        Ok(dec) => Box::into_raw(Box::new(dec)),
        Err(reason) => {
            fail(err, &reason);
            std::ptr::null_mut()
        }
    }
}

/// # Safety
/// `dec` a live decoder used by one thread at a time; `data` valid for `len`
/// bytes; `out`, `out_len`, `width`, `height` valid for one write.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn seatphone_videocodec_decode(
    dec: *mut Decoder,
    data: *const u8,
    len: usize,
    out: *mut *const u8,
    out_len: *mut usize,
    width: *mut u32,
    height: *mut u32,
    err: *mut ErrBuf,
) -> i32 {
    let nulls = data.is_null() || out.is_null() || out_len.is_null();
    let (Some(dec), false) = (dec.as_mut(), nulls || width.is_null() || height.is_null()) else {
        fail(err, "null decoder or buffer");
        return -1;
    };
    let unit = std::slice::from_raw_parts(data, len);
    match guarded("decoding", || {
        dec.decode(unit)
            .map(|p| p.map(|p| (p.i420.as_ptr(), p.i420.len(), p.width, p.height)))
    }) {
        Ok(Some((ptr, n, w, h))) => {
            (*out, *out_len, *width, *height) = (ptr, n, w, h);
            1
        }
        Ok(None) => 0,
        Err(reason) => {
            fail(err, &reason);
            -1
        }
    }
}

/// # Safety
/// `dec` null or from `seatphone_videocodec_decoder_new`, not used after.
#[no_mangle]
pub unsafe extern "C" fn seatphone_videocodec_decoder_free(dec: *mut Decoder) {
    if !dec.is_null() {
        drop(Box::from_raw(dec));
    }
}

#[cfg(test)]
mod tests;
