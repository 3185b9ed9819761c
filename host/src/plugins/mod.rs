//! Loading plugins and finding the one that answers.
//!
//! Every library in the plugin folder is tried, in name order. Its export
//! table is read first (`exports`): only plugins are loaded, a plugin's helper
//! library is left alone. One that is not a Seatphone plugin, was built
//! against an incompatible API, fails to start, or collides with one already
//! loaded is skipped with a log line, and `/health` lists it with the reason;
//! the host keeps running.

mod admission;
pub mod bus;
mod exports;
pub mod host_impl;
pub mod quarantine;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use abi_stable::library::lib_header_from_path;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, RResult};
use seatphone_plugin_api::abi::{PluginBox, RawHost_TO};
use seatphone_plugin_api::load::{self, LoadRefusal};
use seatphone_plugin_api::PluginInfo;
use serde_json::{json, Value};

pub use admission::admit;
use host_impl::{Declared, HostShared, PluginHost};
use quarantine::Quarantine;

pub struct Loaded {
    pub info: PluginInfo,
    pub file: PathBuf,
    pub raw: PluginBox,
    /// The plugin API version the plugin was built against.
    pub api: String,
}

#[derive(Debug, Clone)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
}

#[derive(Default)]
pub struct Plugins {
    pub loaded: Vec<Loaded>,
    pub skipped: Vec<Skipped>,
}

impl Plugins {
    /// Loads the plugin libraries of `dir` (those named in `only`, if given).
    /// Libraries in `quarantine` killed an earlier engine while loading and
    /// are skipped.
    pub fn load_dir(
        dir: &Path,
        only: Option<&[String]>,
        shared: &Arc<HostShared>,
        quarantine: &Quarantine,
    ) -> Plugins {
        let mut plugins = Plugins::default();
        let quarantined = quarantine.recover();
        let mut files = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_library(p))
                .collect::<Vec<_>>(),
            Err(e) => {
                tracing::warn!(
                    "plugin folder {} cannot be read: {e}; no plugins loaded",
                    dir.display()
                );
                return plugins;
            }
        };
        files.sort();
        for file in files {
            if let Some(only) = only {
                if !only.iter().any(|name| name_matches(name, &file)) {
                    continue;
                }
            }
            let shown = file.display().to_string();
            match exports::classify(&file) {
                exports::Kind::Plugin => {}
                exports::Kind::Helper => {
                    tracing::debug!(file = %shown, "a plugin's helper library: left to its plugin");
                    continue;
                }
                exports::Kind::Foreign(reason) => {
                    plugins.skip(shown, format!("not a Seatphone plugin: {reason}"));
                    continue;
                }
            }
            if quarantined.contains(&shown) {
                plugins.skip(shown, "it killed the engine while loading (panic or abort in its constructor); fix it and restart seatphone".into());
                continue;
            }
            quarantine.loading(&shown);
            plugins.load_one(&file, shared);
            quarantine.done();
        }
        plugins
    }

    fn load_one(&mut self, file: &Path, shared: &Arc<HostShared>) {
        let shown = file.display().to_string();
        let declared = Arc::new(OnceLock::new());
        let host = PluginHost {
            shared: shared.clone(),
            declared: declared.clone(),
            file: shown.clone().into(),
        };
        let result = instantiate(file, host).and_then(|(raw, api)| {
            let info = serde_json::from_str::<PluginInfo>(raw.info().as_str())
                .map_err(|e| format!("its info is not valid plugin info: {e}"));
            let info = match info {
                Ok(info) => info,
                Err(e) => {
                    raw.shutdown();
                    return Err(e);
                }
            };
            let others: Vec<&PluginInfo> = self.loaded.iter().map(|l| &l.info).collect();
            if let Err(e) = admit(&others, &info) {
                raw.shutdown();
                return Err(e);
            }
            Ok((raw, info, api))
        });
        match result {
            Ok((raw, info, api)) => {
                let _ = declared.set(Declared {
                    name: info.name.clone(),
                    events: info.events.iter().map(|e| e.notify).collect::<HashSet<_>>(),
                });
                tracing::info!(
                    plugin = %info.name,
                    version = %info.version,
                    api = %api,
                    file = %shown,
                    "plugin loaded: capabilities {:?}, {} commands, {} events",
                    info.capabilities,
                    info.commands.len(),
                    info.events.len()
                );
                self.loaded.push(Loaded {
                    info,
                    file: file.to_path_buf(),
                    raw,
                    api,
                });
            }
            Err(reason) => self.skip(shown, reason),
        }
    }

    /// Logs and lists (in `/health`) a library that was not loaded.
    fn skip(&mut self, file: String, reason: String) {
        tracing::warn!(file = %file, "plugin skipped: {reason}");
        self.skipped.push(Skipped { file, reason });
    }

    /// The plugin declaring the command `description`, and the number it declared.
    pub fn command_owner(&self, description: &str) -> Option<(&Loaded, u32)> {
        self.loaded.iter().find_map(|l| {
            l.info
                .commands
                .iter()
                .find(|c| c.description == description)
                .map(|c| (l, c.cmd))
        })
    }

    pub fn with_capability(&self, capability: &str) -> Option<&Loaded> {
        self.loaded
            .iter()
            .find(|l| l.info.capabilities.iter().any(|c| c == capability))
    }

    pub fn serving_media(&self, kind: &str) -> Option<&Loaded> {
        self.loaded
            .iter()
            .find(|l| l.info.media.iter().any(|m| m == kind))
    }

    pub fn versions(&self) -> Value {
        Value::Array(
            self.loaded
                .iter()
                .map(|l| json!({ "name": l.info.name, "version": l.info.version }))
                .collect(),
        )
    }

    pub fn health(&self) -> (Value, Value) {
        let loaded = self
            .loaded
            .iter()
            .map(|l| {
                json!({
                    "name": l.info.name,
                    "version": l.info.version,
                    "api": l.api,
                    "file": l.file.display().to_string(),
                    "capabilities": l.info.capabilities,
                    "media": l.info.media,
                    "commands": l.info.commands,
                    "events": l.info.events,
                })
            })
            .collect();
        let skipped = self
            .skipped
            .iter()
            .map(|s| json!({ "file": s.file, "reason": s.reason }))
            .collect();
        (Value::Array(loaded), Value::Array(skipped))
    }

    pub fn shutdown(&self) {
        for l in &self.loaded {
            l.raw.shutdown();
        }
    }
}

/// The plugin object and the plugin API version it was built against.
fn instantiate(file: &Path, host: PluginHost) -> Result<(PluginBox, String), String> {
    let header = lib_header_from_path(file).map_err(|e| format!("not a Seatphone plugin: {e}"))?;
    let (module, api) = load::open(header).map_err(describe_refusal)?;
    let new = module.new();
    match new(RawHost_TO::from_ptr(RArc::new(host), TD_Opaque)) {
        RResult::ROk(raw) => Ok((raw, api.to_string())),
        RResult::RErr(e) => Err(format!("the plugin failed to start: {e}")),
    }
}

fn describe_refusal(refusal: LoadRefusal) -> String {
    let host = load::host_version();
    match refusal {
        LoadRefusal::BadVersion(e) => format!("its plugin API version cannot be read: {e}"),
        LoadRefusal::Version { plugin, host } if plugin.major != host.major => format!(
            "built against plugin API {plugin}, this host speaks {host} (another major version): rebuild it against seatphone-plugin-api {}.x",
            host.major
        ),
        LoadRefusal::Version { plugin, host } => format!(
            "built against plugin API {plugin}, newer than this host's {host}: update Seatphone, or rebuild the plugin against seatphone-plugin-api {host}"
        ),
        LoadRefusal::Layout(e) => format!(
            "built against an incompatible plugin API (its types differ from this host's, plugin API {host}): {e}"
        ),
        LoadRefusal::Module(e) => format!("its root module failed: {e}"),
    }
}

fn is_library(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(std::env::consts::DLL_SUFFIX))
}

/// `audio` matches `libseatphone_audio.so`, `seatphone_audio.dll`, `audio.so` …
fn name_matches(name: &str, file: &Path) -> bool {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let stem = stem.strip_prefix("lib").unwrap_or(stem);
    stem == name || stem.strip_prefix("seatphone_") == Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_filter_matches_plugin_names_and_stems() {
        let f = Path::new("/x/libseatphone_audio.so");
        assert!(name_matches("audio", f));
        assert!(name_matches("seatphone_audio", f));
        assert!(!name_matches("video", f));
        assert!(!name_matches("audi", f));
    }
}
