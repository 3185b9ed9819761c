//! Plugins built outside the workspace, into `target/test-plugins`, so they
//! never land beside `seatphone` in the folder a deployment loads: the hello
//! example (a third-party plugin) and the deliberately broken fixtures.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use crate::host::repo_root;

static BUILD: Mutex<()> = Mutex::new(());

/// Builds the crate at `manifest` (relative to the repo) and returns the
/// library `lib<name>.so`.
pub fn build(manifest: &str, name: &str) -> PathBuf {
    let _once = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let target = repo_root().join("target/test-plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(repo_root().join(manifest))
        .arg("--target-dir")
        .arg(&target)
        // As a plugin's author builds it: scripts/test.sh lints the
        // workspace's own crates through this wrapper, not these.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("run cargo");
    assert!(status.success(), "building {manifest} failed");
    target.join("release").join(format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

pub fn hello() -> PathBuf {
    build("examples/plugins/hello/Cargo.toml", "seatphone_hello")
}

/// A plugin whose root module was built against plugin API 2.0.0, with another layout.
pub fn incompatible() -> PathBuf {
    build(
        "tests/fixtures/incompatible/Cargo.toml",
        "seatphone_incompatible",
    )
}

/// The same root module built as plugin API 1.99.0, a minor version no
/// host speaks yet.
pub fn newer_minor() -> PathBuf {
    build(
        "tests/fixtures/newer-minor/Cargo.toml",
        "seatphone_newer_minor",
    )
}

/// A plugin built against plugin API 1.0.0 as released (`tests/fixtures/frozen`).
pub fn frozen() -> PathBuf {
    build("tests/fixtures/frozen/Cargo.toml", "seatphone_frozen")
}

/// Stands in for the video plugin: `pictures_publish` puts a picture of
/// any size on the bus as a call's remote video.
pub fn pictures() -> PathBuf {
    build("tests/fixtures/pictures/Cargo.toml", "seatphone_pictures")
}

/// A shared library that exports no Seatphone root module.
pub fn not_a_plugin() -> PathBuf {
    build("tests/fixtures/not-a-plugin/Cargo.toml", "not_a_plugin")
}

/// A plugin that aborts the process in its constructor.
pub fn aborting() -> PathBuf {
    build("tests/fixtures/aborting/Cargo.toml", "seatphone_aborting")
}
