//! Shared by the build scripts of the host and the plugins: hands the
//! linker `link-order/functions.txt`, the functions that run while
//! Seatphone starts, registers and idles (then those of a call), in that
//! order, so they sit side by side in the binary. The kernel maps code in
//! 64 KiB windows around each page touched, so the same functions scattered
//! over the whole text made most of it resident (idle engine: 4.9 of 7 MiB).
//! The list is recorded by `scripts/link-order.sh`; names missing from a
//! build (after a dependency or toolchain change) are skipped by the linker,
//! which costs memory, never correctness, so `scripts/link-order-check.sh`
//! (run by the test command and the packaging) fails when too many are.
//!
//! Also packs relative relocations (DT_RELR, glibc 2.36+): the loader reads
//! a few KiB instead of half a MiB of `.rela.dyn` at every start.
//!
//! Only for x86_64 Linux (glibc) builds of the `dist` profile (what ships
//! and what the bench measures), where rustc links with its own LLD;
//! `SEATPHONE_LINK_ORDER=0` turns it off. The names carry hashes of the
//! build's flags, so the list is recorded on that same profile
//! (`scripts/link-order.sh`) along with what decides them
//! (`link-order/recorded-for.txt`); the bench prints how much of it matches.

use std::path::{Path, PathBuf};

pub fn apply() {
    println!("cargo:rerun-if-env-changed=SEATPHONE_LINK_ORDER");
    let cfg = |key: &str| std::env::var(key).unwrap_or_default();
    let wanted = cfg("CARGO_CFG_TARGET_OS") == "linux"
        && cfg("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && cfg("CARGO_CFG_TARGET_ENV") == "gnu"
        && profile_dir().as_deref() == Some("dist")
        && cfg("SEATPHONE_LINK_ORDER") != "0";
    let Some(list) = functions_file() else { return };
    println!("cargo:rerun-if-changed={}", list.display());
    if !wanted {
        return;
    }
    println!(
        "cargo:rustc-link-arg=-Wl,--symbol-ordering-file={}",
        list.display()
    );
    println!("cargo:rustc-link-arg=-Wl,--no-warn-symbol-ordering");
    println!("cargo:rustc-link-arg=-Wl,-z,pack-relative-relocs");
}

/// The profile's folder name (`release`, `dist` …): cargo tells build
/// scripts only whether a profile inherits `release`, not which one it is,
/// so it is read from `OUT_DIR` (`<target>/<profile>/build/<pkg>/out`).
fn profile_dir() -> Option<String> {
    let out = PathBuf::from(std::env::var("OUT_DIR").ok()?);
    let dir = out.ancestors().nth(3)?.file_name()?;
    Some(dir.to_string_lossy().into_owned())
}

/// `link-order/functions.txt` in the workspace above this package.
fn functions_file() -> Option<PathBuf> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").ok()?);
    manifest
        .ancestors()
        .map(|dir| dir.join("link-order/functions.txt"))
        .find(|f| Path::is_file(f))
}
