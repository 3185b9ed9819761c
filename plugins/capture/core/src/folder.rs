//! The capture folder: every snapshot and recording goes there, named by
//! the local date and time and the call, and nowhere else (the page never
//! names a path). Write errors become sentences a person can act on.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Where captures go (`[capture] dir`).
#[derive(Debug, Clone)]
pub struct Folder {
    dir: Option<PathBuf>,
}

/// `2026-12-04_21-37-52_call-3`: sorts by time, says which call.
pub fn base_name(now: chrono::DateTime<chrono::Local>, call_id: u32) -> String {
    format!("{}_call-{call_id}", now.format("%Y-%m-%d_%H-%M-%S"))
}

/// What a failed write means for the person at the seat.
pub fn explain(dir: &Path, e: &io::Error) -> String {
    let shown = dir.display();
    match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => format!(
            "the disk holding {shown} is full: free some space, or set [capture] dir to a folder on another disk"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "cannot write in {shown} (permission denied): make it writable for this user, or set [capture] dir to a folder that is"
        ),
        io::ErrorKind::ReadOnlyFilesystem => format!(
            "{shown} is on a read-only disk: set [capture] dir to a writable folder"
        ),
        io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => format!(
            "{shown} is not a folder: set [capture] dir to a folder"
        ),
        _ => format!("cannot write in {shown}: {e}"),
    }
}

impl Folder {
    pub fn new(dir: Option<PathBuf>) -> Folder {
        Folder { dir }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn ready(&self) -> Result<&Path, String> {
        let dir = self.dir.as_deref().ok_or_else(|| {
            "no pictures folder is known for this user: set [capture] dir in the config file"
                .to_string()
        })?;
        // Captures are personal data: a folder we make is the user's alone.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| explain(dir, &e))?;
        Ok(dir)
    }

    /// A new, empty file `<base>.<ext>` (or `<base>-2.<ext>` … when taken).
    pub fn create(&self, base: &str, ext: &str) -> Result<(PathBuf, File), String> {
        let dir = self.ready()?;
        for n in 1..=99 {
            let name = match n {
                1 => format!("{base}.{ext}"),
                n => format!("{base}-{n}.{ext}"),
            };
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((path, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(explain(dir, &e)),
            }
        }
        Err(format!(
            "{} already holds 99 captures named {base}: move some away",
            dir.display()
        ))
    }

    /// Writes a whole file (a snapshot) and makes it durable; a file that
    /// could not be written whole is removed.
    pub fn save(&self, base: &str, ext: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        let (path, mut file) = self.create(base, ext)?;
        match file.write_all(bytes).and_then(|()| file.sync_all()) {
            Ok(()) => Ok(path),
            Err(e) => {
                drop(file);
                let _ = std::fs::remove_file(&path);
                Err(explain(self.dir.as_deref().unwrap_or(&path), &e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn names_say_date_time_and_call() {
        let t = chrono::Local
            .with_ymd_and_hms(2026, 12, 4, 21, 7, 2)
            .unwrap();
        assert_eq!(base_name(t, 3), "2026-12-04_21-07-02_call-3");
    }

    #[test]
    fn files_go_into_the_folder_made_private_and_never_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("Pictures/Seatphone");
        let folder = Folder::new(Some(dir.clone()));
        let a = folder.save("x_call-1", "png", b"one").unwrap();
        let b = folder.save("x_call-1", "png", b"two").unwrap();
        assert_eq!(a, dir.join("x_call-1.png"));
        assert_eq!(b, dir.join("x_call-1-2.png"));
        assert_eq!(std::fs::read(&a).unwrap(), b"one");
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn errors_say_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain-file");
        std::fs::write(&file, b"").unwrap();
        let e = Folder::new(Some(file.clone())).save("a", "png", b"x");
        assert!(e.unwrap_err().contains("is not a folder"));
        let e = Folder::new(None).save("a", "png", b"x").unwrap_err();
        assert!(e.contains("set [capture] dir"), "{e}");
        let full = io::Error::from(io::ErrorKind::StorageFull);
        assert!(explain(tmp.path(), &full).contains("is full"));
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(explain(tmp.path(), &denied).contains("permission denied"));
    }
}
