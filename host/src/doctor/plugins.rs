//! Which plugins load, and why others do not. A running Seatphone says so
//! itself (`/health`); otherwise a child process (`seatphone probe-plugins`)
//! loads them as the engine would and reports, so a plugin that aborts while
//! loading takes down the probe, not the report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Report, Status};
use crate::config::Config;
use crate::plugins::host_impl::HostShared;
use crate::plugins::quarantine::Quarantine;
use crate::plugins::Plugins;

/// What the probe child is asked to load (JSON on its stdin).
#[derive(Serialize, Deserialize)]
pub struct ProbeRequest {
    pub dir: PathBuf,
    pub load: Option<Vec<String>>,
    pub settings_json: String,
    /// Where the probe keeps its loading marker (not the user's state folder).
    pub scratch: PathBuf,
}

/// The probe child: loads, prints `{"plugins": [...], "skipped": [...]}`.
pub fn probe_child() -> std::process::ExitCode {
    let request: ProbeRequest = match serde_json::from_reader(std::io::stdin()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("probe-plugins: bad request on stdin: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let (signals, _rx) = tokio::sync::mpsc::unbounded_channel();
    let shared = Arc::new(HostShared {
        pages: Default::default(),
        bus: Default::default(),
        settings_json: request.settings_json,
        signals,
    });
    let quarantine = Quarantine::new(&request.scratch);
    let plugins = Plugins::load_dir(&request.dir, request.load.as_deref(), &shared, &quarantine);
    let (loaded, skipped) = plugins.health();
    plugins.shutdown();
    println!("{}", json!({ "plugins": loaded, "skipped": skipped }));
    std::process::ExitCode::SUCCESS
}

pub fn probe(report: &mut Report, config: &Config) {
    let dir = config.plugin_dir();
    let scratch = std::env::temp_dir().join(format!("seatphone-doctor-{}", std::process::id()));
    let outcome = run_probe(config, &dir, &scratch);
    match outcome {
        Ok(health) => report_health(report, &dir, &health),
        Err(why) => report.add(Status::Fail, "plugins", why),
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

fn run_probe(config: &Config, dir: &Path, scratch: &Path) -> Result<Value, String> {
    std::fs::create_dir_all(scratch)
        .map_err(|e| format!("no scratch folder for the probe: {e}"))?;
    let request = serde_json::to_vec(&ProbeRequest {
        dir: dir.to_path_buf(),
        load: config.plugins.load.clone(),
        settings_json: config.plugin_settings_json(),
        scratch: scratch.to_path_buf(),
    })
    .map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own executable: {e}"))?;
    let mut child = Command::new(exe)
        .arg("probe-plugins")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the plugin probe: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&request);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("the plugin probe could not be watched: {e}"))?;
    if !out.status.success() {
        let culprit = std::fs::read_to_string(scratch.join("plugin-loading")).unwrap_or_default();
        let culprit = culprit.trim();
        return Err(if culprit.is_empty() {
            format!(
                "the plugin probe failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
        } else {
            format!(
                "{culprit} kills the process that loads it ({}): Seatphone skips it after the first crash",
                out.status
            )
        });
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("the plugin probe said nothing readable: {e}"))
}

/// `health`: `/health`'s `plugins` and `skipped`, from the engine or the probe.
pub fn report_health(report: &mut Report, dir: &Path, health: &Value) {
    let loaded: Vec<&Value> = health["plugins"].as_array().into_iter().flatten().collect();
    let skipped: Vec<&Value> = health["skipped"].as_array().into_iter().flatten().collect();
    for s in &skipped {
        report.add(
            Status::Warn,
            "plugins",
            format!(
                "skipped {}: {}",
                s["file"].as_str().unwrap_or("?"),
                s["reason"].as_str().unwrap_or("?")
            ),
        );
    }
    if loaded.is_empty() {
        let why = match std::fs::read_dir(dir).map(Iterator::count) {
            Err(e) => format!("the plugin folder {} cannot be read: {e}", dir.display()),
            Ok(0) => format!("the plugin folder {} is empty", dir.display()),
            Ok(_) => format!("no plugin loaded from {}", dir.display()),
        };
        report.add(
            Status::Fail,
            "plugins",
            format!("{why}: calls cannot carry audio ([plugins] dir)"),
        );
        return;
    }
    let names: Vec<String> = loaded
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["name"].as_str().unwrap_or("?"),
                p["version"].as_str().unwrap_or("?")
            )
        })
        .collect();
    report.add(
        Status::Ok,
        "plugins",
        format!("{} loaded from {}", names.join(", "), dir.display()),
    );
    let has_audio = loaded.iter().any(|p| {
        p["capabilities"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c == "audio"))
    });
    if !has_audio {
        report.add(
            Status::Warn,
            "plugins",
            "no audio plugin: calls will have no sound",
        );
    }
}
