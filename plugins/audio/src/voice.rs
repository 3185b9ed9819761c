//! Echo cancellation, noise suppression and gain control (`audio_aec`,
//! `audio_anr`, `audio_agc`), done by the voice library
//! (`libseatphone_voice.so`, crate `plugins/audio/voice`) beside this
//! plugin's own file.
//!
//! The library links WebRTC's C++ module and so libstdc++ (~1.1 MiB PSS):
//! it is loaded on the first call that turns a feature on, never at plugin
//! load, so an engine whose calls keep all three off never maps them. Loaded
//! once and kept (libstdc++ cannot be unloaded); a missing or broken library
//! is remembered too, and each call that wants processing goes on without it
//! and says why in the log.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::OnceLock;

/// The version of the voice library's C ABI this plugin speaks
/// (`seatphone_voice::ABI_VERSION`).
const ABI_VERSION: u32 = 1;

type AbiVersion = unsafe extern "C" fn() -> u32;
type Create = unsafe extern "C" fn(u8, u8, u8, *mut u8, usize, *mut usize) -> *mut c_void;
type Render = unsafe extern "C" fn(*mut c_void, *const f32, usize);
type Capture = unsafe extern "C" fn(*mut c_void, *mut f32, usize);
type Destroy = unsafe extern "C" fn(*mut c_void);

/// The voice library's entry points, valid while `_lib` is loaded.
struct Library {
    create: Create,
    render: Render,
    capture: Capture,
    destroy: Destroy,
    _lib: libloading::Library,
}

impl Library {
    fn open(path: &Path) -> Result<Library, String> {
        let shown = path.display();
        // SAFETY: the voice library's constructors are Rust's and WebRTC's,
        // run once; the symbols are checked for the ABI version below before
        // any other is called.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| format!("cannot load {shown}: {e}"))?;
        unsafe {
            let version = *lib
                .get::<AbiVersion>(b"seatphone_voice_abi_version\0")
                .map_err(|e| format!("{shown} is not a Seatphone voice library: {e}"))?;
            let version = version();
            if version != ABI_VERSION {
                return Err(format!(
                    "{shown} speaks voice ABI {version}, this audio plugin {ABI_VERSION}: install the library built with this plugin"
                ));
            }
            Ok(Library {
                create: entry(&lib, path, b"seatphone_voice_create\0")?,
                render: entry(&lib, path, b"seatphone_voice_render\0")?,
                capture: entry(&lib, path, b"seatphone_voice_capture\0")?,
                destroy: entry(&lib, path, b"seatphone_voice_destroy\0")?,
                _lib: lib,
            })
        }
    }
}

/// The function `name` (nul-terminated) of `lib`, or which one is missing.
///
/// # Safety
/// `T` must be the function's true type.
unsafe fn entry<T: Copy>(lib: &libloading::Library, path: &Path, name: &[u8]) -> Result<T, String> {
    lib.get::<T>(name).map(|f| *f).map_err(|_| {
        let name = name.strip_suffix(b"\0").unwrap_or(name);
        format!("{} lacks {}", path.display(), String::from_utf8_lossy(name))
    })
}

/// The library beside this plugin, loaded by the first call that needs it.
fn library() -> Result<&'static Library, String> {
    static LIBRARY: OnceLock<Result<Library, String>> = OnceLock::new();
    LIBRARY
        .get_or_init(|| Library::open(&library_path()?))
        .as_ref()
        .map_err(Clone::clone)
}

/// `libseatphone_voice.so` in the folder this plugin's own file is in.
fn library_path() -> Result<PathBuf, String> {
    seatphone_media::helper::beside_plugin("seatphone_voice")
}

/// One call's processor, in the voice library.
pub struct VoiceProcessing {
    lib: &'static Library,
    handle: NonNull<c_void>,
}

// SAFETY: the handle is the library's `Voice`, which owns its WebRTC
// processor (Send) and is used by one thread at a time through `&mut self`.
unsafe impl Send for VoiceProcessing {}

impl VoiceProcessing {
    /// `None` when every feature is off (the signal is left alone, and the
    /// library is not loaded); an error names why processing is unavailable.
    pub fn new(aec: bool, anr: u8, agc: bool) -> Option<Result<Self, String>> {
        if !aec && anr == 0 && !agc {
            return None;
        }
        Some(library().and_then(|lib| Self::with(lib, aec, anr, agc)))
    }

    fn with(lib: &'static Library, aec: bool, anr: u8, agc: bool) -> Result<Self, String> {
        let mut err = [0u8; 256];
        let mut len = 0usize;
        // SAFETY: `err` is writable for its length, `len` for one usize.
        let handle = unsafe {
            (lib.create)(
                u8::from(aec),
                anr,
                u8::from(agc),
                err.as_mut_ptr(),
                err.len(),
                &mut len,
            )
        };
        NonNull::new(handle)
            .map(|handle| Self { lib, handle })
            .ok_or_else(|| {
                format!(
                    "WebRTC audio processing did not start: {}",
                    String::from_utf8_lossy(&err[..len.min(err.len())])
                )
            })
    }

    /// What the speaker plays (the far end), so the echo can be removed.
    pub fn render(&mut self, frame: &[f32]) {
        // SAFETY: a live handle; `frame` is readable for its length.
        unsafe { (self.lib.render)(self.handle.as_ptr(), frame.as_ptr(), frame.len()) }
    }

    /// The microphone's frame, cleaned in place.
    pub fn capture(&mut self, frame: &mut [f32]) {
        // SAFETY: a live handle; `frame` is writable for its length.
        unsafe { (self.lib.capture)(self.handle.as_ptr(), frame.as_mut_ptr(), frame.len()) }
    }
}

impl Drop for VoiceProcessing {
    fn drop(&mut self) {
        // SAFETY: the handle came from `create` and is not used after this.
        unsafe { (self.lib.destroy)(self.handle.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(name: &str) -> bool {
        std::fs::read_to_string("/proc/self/maps").is_ok_and(|m| m.contains(name))
    }

    /// The test executable sits in `target/<profile>/deps`, where cargo also
    /// builds the voice cdylib (a dev-dependency): the library is found as
    /// the engine finds it, beside "the plugin", and does the work.
    #[test]
    fn processing_runs_through_the_loaded_voice_library() {
        assert!(VoiceProcessing::new(false, 0, false).is_none());
        let mut vp = VoiceProcessing::new(false, 4, true)
            .expect("a feature is on")
            .expect("the voice library loads");
        assert!(mapped("libseatphone_voice"), "voice library not mapped");
        let mut seed = 7u32;
        let mut mic: Vec<f32> = (0..960 * 20 + 100)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seed >> 16) as f32 / 65536.0 - 0.5
            })
            .collect();
        let original = mic.clone();
        vp.render(&vec![0.0; 960]);
        vp.capture(&mut mic);
        assert_ne!(mic[..960 * 20], original[..960 * 20], "nothing processed");
        assert_eq!(
            mic[960 * 20..],
            original[960 * 20..],
            "a partial frame changed"
        );
    }

    #[test]
    fn a_missing_library_is_an_error_naming_the_file() {
        let e = Library::open(Path::new("/nonexistent/libseatphone_voice.so"))
            .err()
            .expect("no such file");
        assert!(
            e.contains("cannot load /nonexistent/libseatphone_voice.so"),
            "{e}"
        );
    }

    /// A library without the voice ABI (here libc) is refused by name before
    /// any of its functions is called.
    #[test]
    fn a_library_without_the_voice_abi_is_refused() {
        let libc = std::fs::read_to_string("/proc/self/maps")
            .ok()
            .and_then(|m| {
                m.lines()
                    .filter_map(|l| l.split_whitespace().nth(5))
                    .find(|p| p.contains("/libc.so"))
                    .map(PathBuf::from)
            })
            .expect("libc mapped");
        let e = Library::open(&libc)
            .err()
            .expect("libc is no voice library");
        assert!(e.contains("is not a Seatphone voice library"), "{e}");
    }
}
