//! Plugins that killed the engine while loading. A panic cannot unwind across
//! the plugin ABI, so a plugin that panics or aborts in its constructor takes
//! the engine down; the daemon restarts it, and this record makes the next
//! engine skip that library (and say so in `/health`) instead of dying again.
//!
//! Two files in the log folder: `plugin-loading` names the library being
//! loaded right now; `plugin-quarantine` lists those that died loading. The
//! daemon clears both when it starts, so a fixed plugin gets another chance.

use std::path::{Path, PathBuf};

pub struct Quarantine {
    loading: PathBuf,
    list: PathBuf,
}

impl Quarantine {
    pub fn new(dir: &Path) -> Self {
        Self {
            loading: dir.join("plugin-loading"),
            list: dir.join("plugin-quarantine"),
        }
    }

    /// At daemon start: every plugin gets a fresh chance.
    pub fn reset(&self) {
        let _ = std::fs::remove_file(&self.loading);
        let _ = std::fs::remove_file(&self.list);
    }

    /// At engine start: a marker left behind means the last engine died
    /// loading that library. Returns every quarantined library.
    pub fn recover(&self) -> Vec<String> {
        let mut list = self.read_list();
        if let Ok(file) = std::fs::read_to_string(&self.loading) {
            let file = file.trim().to_owned();
            if !file.is_empty() && !list.contains(&file) {
                tracing::error!(file = %file, "the last engine died while loading this plugin: it is skipped");
                list.push(file);
                let _ = std::fs::write(&self.list, list.join("\n"));
            }
            let _ = std::fs::remove_file(&self.loading);
        }
        list
    }

    pub fn loading(&self, file: &str) {
        if let Err(e) = std::fs::write(&self.loading, file) {
            tracing::warn!("cannot record which plugin is loading ({e}): a crashing plugin would not be skipped");
        }
    }

    pub fn done(&self) {
        let _ = std::fs::remove_file(&self.loading);
    }

    fn read_list(&self) -> Vec<String> {
        std::fs::read_to_string(&self.list)
            .map(|t| {
                t.lines()
                    .map(str::to_owned)
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_left_behind_quarantines_that_library_until_reset() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::new(dir.path());
        assert!(q.recover().is_empty());
        q.loading("/p/libgood.so");
        q.done();
        q.loading("/p/libbad.so");
        // The engine dies here; the next one starts.
        assert_eq!(q.recover(), vec!["/p/libbad.so".to_string()]);
        assert_eq!(q.recover(), vec!["/p/libbad.so".to_string()]);
        q.reset();
        assert!(q.recover().is_empty());
    }
}
