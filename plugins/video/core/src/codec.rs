//! H.264 and VP8, done by the codec library (`libseatphone_videocodec.so`,
//! crate `plugins/video/codec`) beside this plugin's own file.
//!
//! The library holds OpenH264 and links libvpx and libstdc++: it is loaded
//! by the first encoder or decoder a video call makes, never at plugin
//! load, so an idle or audio-only seat never maps it. Loaded once and kept;
//! a missing or broken library is remembered too, and each video call then
//! fails to start with the reason.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::OnceLock;

pub use seatphone_media::payload::VideoCodec;

use crate::picture::Picture;

/// The version of the codec library's C ABI this plugin speaks
/// (`seatphone_videocodec::ABI_VERSION`).
const ABI_VERSION: u32 = 1;

/// `seatphone_videocodec::ErrBuf`.
#[repr(C)]
struct ErrBuf {
    ptr: *mut u8,
    cap: usize,
    len: usize,
}

/// `seatphone_videocodec::EncoderConfig`.
#[repr(C)]
struct EncoderConfig {
    codec: u32,
    width: u32,
    height: u32,
    fps: u32,
    bitrate: u32,
}

type AbiVersion = unsafe extern "C" fn() -> u32;
type EncoderNew =
    unsafe extern "C" fn(*const EncoderConfig, *const u8, usize, *mut ErrBuf) -> *mut c_void;
type Encode = unsafe extern "C" fn(
    *mut c_void,
    *const u8,
    usize,
    u32,
    u32,
    u8,
    *mut *const u8,
    *mut usize,
    *mut u8,
    *mut ErrBuf,
) -> i32;
type EncoderRate = unsafe extern "C" fn(*mut c_void, u32, u32, *mut ErrBuf) -> i32;
type Free = unsafe extern "C" fn(*mut c_void);
type DecoderNew = unsafe extern "C" fn(u32, *const u8, usize, *mut ErrBuf) -> *mut c_void;
type Decode = unsafe extern "C" fn(
    *mut c_void,
    *const u8,
    usize,
    *mut *const u8,
    *mut usize,
    *mut u32,
    *mut u32,
    *mut ErrBuf,
) -> i32;

/// The codec library's entry points, valid while `_lib` is loaded.
struct Library {
    encoder_new: EncoderNew,
    screen_encoder_new: EncoderNew,
    encode: Encode,
    encoder_rate: EncoderRate,
    encoder_free: Free,
    decoder_new: DecoderNew,
    decode: Decode,
    decoder_free: Free,
    _lib: libloading::Library,
}

impl Library {
    fn open(path: &Path) -> Result<Library, String> {
        let shown = path.display();
        // SAFETY: the library's constructors are Rust's, OpenH264's and
        // libvpx's, run once; its ABI version is checked before any other
        // symbol is called.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| format!("cannot load {shown}: {e}"))?;
        unsafe {
            let version = *lib
                .get::<AbiVersion>(b"seatphone_videocodec_abi_version\0")
                .map_err(|e| format!("{shown} is not a Seatphone codec library: {e}"))?;
            let version = version();
            if version != ABI_VERSION {
                return Err(format!(
                    "{shown} speaks codec ABI {version}, this video plugin {ABI_VERSION}: install the library built with this plugin"
                ));
            }
            let get = |name: &str| -> Result<*const c_void, String> {
                let symbol = format!("seatphone_videocodec_{name}\0");
                lib.get::<*const c_void>(symbol.as_bytes())
                    .map(|s| *s)
                    .map_err(|_| format!("{shown} lacks seatphone_videocodec_{name}"))
            };
            Ok(Library {
                encoder_new: std::mem::transmute::<*const c_void, EncoderNew>(get("encoder_new")?),
                screen_encoder_new: std::mem::transmute::<*const c_void, EncoderNew>(get(
                    "screen_encoder_new",
                )?),
                encode: std::mem::transmute::<*const c_void, Encode>(get("encode")?),
                encoder_rate: std::mem::transmute::<*const c_void, EncoderRate>(get(
                    "encoder_rate",
                )?),
                encoder_free: std::mem::transmute::<*const c_void, Free>(get("encoder_free")?),
                decoder_new: std::mem::transmute::<*const c_void, DecoderNew>(get("decoder_new")?),
                decode: std::mem::transmute::<*const c_void, Decode>(get("decode")?),
                decoder_free: std::mem::transmute::<*const c_void, Free>(get("decoder_free")?),
                _lib: lib,
            })
        }
    }
}

/// The library beside this plugin, loaded by the first codec made.
fn library() -> Result<&'static Library, String> {
    static LIBRARY: OnceLock<Result<Library, String>> = OnceLock::new();
    LIBRARY
        .get_or_init(|| {
            Library::open(&seatphone_media::helper::beside_plugin(
                "seatphone_videocodec",
            )?)
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn abi_codec(codec: VideoCodec) -> u32 {
    match codec {
        VideoCodec::Vp8 => 1,
        VideoCodec::H264 => 2,
    }
}

/// Where OpenH264 comes from: `None` for the one built into the codec
/// library, or the path of Cisco's prebuilt library (`[video]
/// openh264_library`).
pub type OpenH264 = Option<PathBuf>;

struct Err256 {
    text: [u8; 256],
    buf: ErrBuf,
}

impl Err256 {
    fn new() -> Box<Err256> {
        let mut e = Box::new(Err256 {
            text: [0; 256],
            buf: ErrBuf {
                ptr: std::ptr::null_mut(),
                cap: 256,
                len: 0,
            },
        });
        e.buf.ptr = e.text.as_mut_ptr();
        e
    }

    fn message(&self) -> String {
        String::from_utf8_lossy(&self.text[..self.buf.len.min(256)]).into_owned()
    }
}

fn h264_path(openh264: &OpenH264) -> (*const u8, usize) {
    match openh264 {
        Some(p) => {
            let s = p.as_os_str().as_encoded_bytes();
            (s.as_ptr(), s.len())
        }
        None => (std::ptr::null(), 0),
    }
}

/// One stream's encoder.
pub struct Encoder {
    lib: &'static Library,
    handle: NonNull<c_void>,
    err: Box<Err256>,
}

// SAFETY: the handle is owned by this value and used through `&mut self`;
// the library's encoders hold no thread affinity.
unsafe impl Send for Encoder {}

/// An encoded access unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub data: Vec<u8>,
    pub keyframe: bool,
}

impl Encoder {
    pub fn new(
        codec: VideoCodec,
        size: (u32, u32),
        fps: u32,
        bitrate: u32,
        openh264: &OpenH264,
    ) -> Result<Encoder, String> {
        Encoder::make(codec, size, fps, bitrate, openh264, false)
    }

    /// An encoder for screen content (a shared window or screen): sharp
    /// text, and pictures only when the screen changed.
    pub fn screen(
        codec: VideoCodec,
        size: (u32, u32),
        fps: u32,
        bitrate: u32,
        openh264: &OpenH264,
    ) -> Result<Encoder, String> {
        Encoder::make(codec, size, fps, bitrate, openh264, true)
    }

    fn make(
        codec: VideoCodec,
        (width, height): (u32, u32),
        fps: u32,
        bitrate: u32,
        openh264: &OpenH264,
        screen: bool,
    ) -> Result<Encoder, String> {
        let lib = library()?;
        let new = if screen {
            lib.screen_encoder_new
        } else {
            lib.encoder_new
        };
        let cfg = EncoderConfig {
            codec: abi_codec(codec),
            width,
            height,
            fps,
            bitrate,
        };
        let mut err = Err256::new();
        let (path, path_len) = h264_path(openh264);
        // SAFETY: every pointer is valid for the call.
        let handle = unsafe { new(&cfg, path, path_len, &mut err.buf) };
        let handle = NonNull::new(handle)
            .ok_or_else(|| format!("{} encoder: {}", codec.name(), err.message()))?;
        Ok(Encoder { lib, handle, err })
    }

    /// Encodes a picture; `None` when the encoder skipped it for its rate.
    pub fn encode(&mut self, pic: &Picture, keyframe: bool) -> Result<Option<Encoded>, String> {
        let (mut out, mut out_len, mut key) = (std::ptr::null(), 0usize, 0u8);
        // SAFETY: a live handle; the output is copied before the next call.
        let r = unsafe {
            (self.lib.encode)(
                self.handle.as_ptr(),
                pic.i420.as_ptr(),
                pic.i420.len(),
                pic.width,
                pic.height,
                u8::from(keyframe),
                &mut out,
                &mut out_len,
                &mut key,
                &mut self.err.buf,
            )
        };
        match r {
            1 if !out.is_null() => Ok(Some(Encoded {
                // SAFETY: the library's buffer, valid until the next call.
                data: unsafe { std::slice::from_raw_parts(out, out_len) }.to_vec(),
                keyframe: key != 0,
            })),
            0 | 1 => Ok(None),
            _ => Err(self.err.message()),
        }
    }

    pub fn set_rate(&mut self, bitrate: u32, fps: u32) -> Result<(), String> {
        // SAFETY: a live handle.
        let r = unsafe {
            (self.lib.encoder_rate)(self.handle.as_ptr(), bitrate, fps, &mut self.err.buf)
        };
        if r == 0 {
            Ok(())
        } else {
            Err(self.err.message())
        }
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: from `encoder_new`, not used after this.
        unsafe { (self.lib.encoder_free)(self.handle.as_ptr()) }
    }
}

/// One stream's decoder.
pub struct Decoder {
    lib: &'static Library,
    handle: NonNull<c_void>,
    err: Box<Err256>,
}

// SAFETY: as the encoder.
unsafe impl Send for Decoder {}

impl Decoder {
    pub fn new(codec: VideoCodec, openh264: &OpenH264) -> Result<Decoder, String> {
        let lib = library()?;
        let mut err = Err256::new();
        let (path, path_len) = h264_path(openh264);
        // SAFETY: every pointer is valid for the call.
        let handle = unsafe { (lib.decoder_new)(abi_codec(codec), path, path_len, &mut err.buf) };
        let handle = NonNull::new(handle)
            .ok_or_else(|| format!("{} decoder: {}", codec.name(), err.message()))?;
        Ok(Decoder { lib, handle, err })
    }

    /// Decodes an access unit; `None` when no picture is ready.
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<Picture>, String> {
        let (mut out, mut out_len, mut w, mut h) = (std::ptr::null(), 0usize, 0u32, 0u32);
        // SAFETY: a live handle; the output is copied before the next call.
        let r = unsafe {
            (self.lib.decode)(
                self.handle.as_ptr(),
                data.as_ptr(),
                data.len(),
                &mut out,
                &mut out_len,
                &mut w,
                &mut h,
                &mut self.err.buf,
            )
        };
        match r {
            1 if !out.is_null() => {
                // SAFETY: the library's buffer, valid until the next call.
                let i420 = unsafe { std::slice::from_raw_parts(out, out_len) }.to_vec();
                Picture::from_i420(w, h, i420).map(Some)
            }
            0 | 1 => Ok(None),
            _ => Err(self.err.message()),
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: from `decoder_new`, not used after this.
        unsafe { (self.lib.decoder_free)(self.handle.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_an_error_naming_the_file() {
        let e = Library::open(Path::new("/nonexistent/libseatphone_videocodec.so"))
            .err()
            .unwrap();
        assert!(
            e.contains("cannot load /nonexistent/libseatphone_videocodec.so"),
            "{e}"
        );
    }

    #[test]
    fn a_library_without_the_codec_abi_is_refused() {
        let libc = std::fs::read_to_string("/proc/self/maps")
            .ok()
            .and_then(|m| {
                m.lines()
                    .filter_map(|l| l.split_whitespace().nth(5))
                    .find(|p| p.contains("/libc.so"))
                    .map(PathBuf::from)
            })
            .unwrap();
        let e = Library::open(&libc).err().unwrap();
        assert!(e.contains("is not a Seatphone codec library"), "{e}");
    }
}
