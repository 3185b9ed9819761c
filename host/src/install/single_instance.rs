//! One Seatphone per state folder, which is one per user by default
//! (`$XDG_STATE_HOME/seatphone`): the page's launch link may fire on every
//! page load, and a second start must leave the running one alone.
//!
//! The daemon holds an exclusive lock on `instance.lock` in the state folder
//! for its whole life; the kernel drops it when the process ends, however it
//! ends, so a crash leaves no stale lock behind. The file says who holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "instance.lock";

/// Held while this process is the instance; dropping it releases the lock.
#[derive(Debug)]
pub struct Instance {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug)]
pub enum Refused {
    /// Another process holds the lock; what it wrote about itself.
    Running {
        holder: String,
    },
    Io(String),
}

impl Instance {
    /// Takes the lock in `dir` (created if missing) and writes `about` into
    /// it, or says who holds it.
    pub fn acquire(dir: &Path, about: &str) -> Result<Instance, Refused> {
        let io = |what: &str, e: std::io::Error| Refused::Io(format!("{what}: {e}"));
        std::fs::create_dir_all(dir)
            .map_err(|e| io(&format!("cannot create {}", dir.display()), e))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io(&format!("cannot open {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Refused::Running {
                    holder: holder.trim().to_owned(),
                });
            }
            Err(TryLockError::Error(e)) => {
                return Err(io(&format!("cannot lock {}", path.display()), e))
            }
        }
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(about.as_bytes()));
        if let Err(e) = written {
            tracing::debug!("{} not written: {e}", path.display());
        }
        Ok(Instance { _file: file, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_instance_is_refused_and_told_who_runs_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let first = Instance::acquire(dir.path(), "pid 1, daemon port 7682").unwrap();
        match Instance::acquire(dir.path(), "pid 2") {
            Err(Refused::Running { holder }) => assert_eq!(holder, "pid 1, daemon port 7682"),
            other => panic!("second instance not refused: {other:?}"),
        }
        drop(first);
        let again = Instance::acquire(dir.path(), "pid 3").unwrap();
        assert_eq!(std::fs::read_to_string(&again.path).unwrap(), "pid 3");
    }
}
