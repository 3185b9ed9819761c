//! A phone's files in the page cache, as the bench leaves them before
//! starting it. How much of a mapped file a process holds resident depends
//! on how the file sits in the cache: a fault maps up to 64 KiB around it
//! of what is cached, so a binary just built, copied or read by an earlier
//! run reads ~1 MiB more PSS than the same binary paged in on demand
//! (bench/README.md, "The page cache"). By default both phones start cold,
//! as after a boot, whatever ran before; `BENCH_PAGE_CACHE=warm` starts
//! them with their files wholly cached, as just installed or run before.

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How a phone's files sit in the page cache when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Dropped (`posix_fadvise(DONTNEED)`): as after a boot.
    Cold,
    /// Read whole: as just installed, copied or run before.
    Warm,
}

impl State {
    /// `BENCH_PAGE_CACHE` (`cold`, the default, or `warm`).
    pub fn from_env() -> Result<State, String> {
        match std::env::var("BENCH_PAGE_CACHE").as_deref() {
            Err(_) | Ok("cold") => Ok(State::Cold),
            Ok("warm") => Ok(State::Warm),
            Ok(other) => Err(format!("BENCH_PAGE_CACHE={other}: cold or warm")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Cold => "cold",
            State::Warm => "warm",
        }
    }
}

/// Leaves `files` and the libraries they load as `BENCH_PAGE_CACHE`
/// says: a phone's whole code, before it starts. The files that could
/// not be dropped or read, as the error.
pub fn prepare_phone(files: &[PathBuf]) -> Result<(), String> {
    let files = with_libraries(files);
    let errors = match State::from_env()? {
        State::Cold => evict(&files),
        State::Warm => read_whole(&files),
    };
    match errors[..] {
        [] => Ok(()),
        _ => Err(format!("page cache: {}", errors.join("; "))),
    }
}

/// `files` and the shared libraries they load (as `ldd` resolves them).
fn with_libraries(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut all: BTreeSet<PathBuf> = files.iter().cloned().collect();
    if let Ok(out) = Command::new("ldd").args(files).output() {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` or
            // `/lib64/ld-linux-x86-64.so.2 (0x…)`; `file:` headers and
            // `linux-vdso.so.1 (0x…)` name no file.
            let path = line.split("=>").last().unwrap_or("").trim();
            let path = path.split(" (").next().unwrap_or("");
            if path.starts_with('/') && !path.ends_with(':') {
                all.insert(path.into());
            }
        }
    }
    all.into_iter().collect()
}

/// Drops the cached pages of `files` that no process maps
/// (`posix_fadvise(POSIX_FADV_DONTNEED)`; no privilege needed). Dirty
/// pages (a plugin just copied) are written back first, or they would
/// stay. The files that could not be opened, as errors.
fn evict(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter_map(|f| evict_one(f).err().map(|e| format!("{}: {e}", f.display())))
        .collect()
}

/// Reads `files` whole, so that every page of them is cached.
fn read_whole(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter_map(|f| {
            let read = std::fs::File::open(f)
                .and_then(|mut file| std::io::copy(&mut file, &mut std::io::sink()));
            read.err().map(|e| format!("{}: {e}", f.display()))
        })
        .collect()
}

fn evict_one(path: &Path) -> std::io::Result<()> {
    let file = std::fs::File::open(path)?;
    file.sync_data()?;
    // SAFETY: a plain system call on a descriptor `file` owns.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_names_the_libraries_not_the_headers() {
        let sh = PathBuf::from("/bin/sh");
        let all = with_libraries(std::slice::from_ref(&sh));
        assert!(all.contains(&sh));
        assert!(
            all.iter().any(|p| p.to_string_lossy().contains("libc.so")),
            "{all:?}"
        );
        assert!(all.iter().all(|p| p.is_absolute() && p.exists()), "{all:?}");
    }

    #[test]
    fn evicted_pages_leave_read_ones_come_back_a_missing_file_is_named() {
        // Beside the test's executable: on the file system the binaries
        // live on (a tmpfs /tmp keeps its pages whatever it is advised).
        let exe = std::env::current_exe().unwrap();
        let dir = tempfile::tempdir_in(exe.parent().unwrap()).unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, vec![7u8; 1 << 20]).unwrap();
        let missing = dir.path().join("missing");
        let errors = evict(&[f.clone(), missing]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("missing"), "{errors:?}");
        assert_eq!(resident_pages(&f).0, 0);
        assert_eq!(read_whole(std::slice::from_ref(&f)), Vec::<String>::new());
        let (resident, pages) = resident_pages(&f);
        assert_eq!(resident, pages);
    }

    /// Pages of `path` in the page cache (`mincore` over a mapping), and
    /// of the whole file.
    fn resident_pages(path: &Path) -> (usize, usize) {
        let file = std::fs::File::open(path).unwrap();
        let len = file.metadata().unwrap().len() as usize;
        // SAFETY: sysconf only reads.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let mut vec = vec![0u8; len.div_ceil(page)];
        // SAFETY: a read-only shared mapping of `len` bytes of a file we
        // hold open, unmapped before return; `vec` has a byte per page.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            assert_eq!(libc::mincore(p, len, vec.as_mut_ptr()), 0);
            libc::munmap(p, len);
        }
        (vec.iter().filter(|b| *b & 1 == 1).count(), vec.len())
    }
}
