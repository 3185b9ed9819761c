//! Shared by the build scripts of the host and the plugins: hands the
//! linker `link-order/functions.txt`, the functions that run while
//! Seatphone starts, registers and idles (then those of a call), in that
//! order, so they sit side by side in the binary. The kernel maps code in
//! 64 KiB windows around each page touched, so the same functions scattered
//! over the whole text made most of it resident (idle engine: 4.9 of 7 MiB).
//! The list is recorded by `scripts/link-order.sh`, each name with the
//! binary it ran in (`seatphone`, `libseatphone_audio.so` …); a build
//! script passes its binary's names, in order, from `OUT_DIR`.
//!
//! The names carry hashes that any dependency, feature or toolchain change
//! renames, and lld matches them exactly, so the link runs through
//! `link-order/link.sh` (gcc's `-wrapper`), which matches them to the
//! symbols the link defines without their hashes. Names that are gone cost
//! memory, never correctness; `scripts/link-order-check.sh` (run by the
//! test command and the packaging) counts them the same way and fails when
//! too many are.
//!
//! Also packs relative relocations (DT_RELR, glibc 2.36+): the loader reads
//! a few KiB instead of half a MiB of `.rela.dyn` at every start.
//!
//! Only for x86_64 Linux (glibc) builds of the `dist` profile (what ships
//! and what the bench measures), where rustc links with its own LLD through
//! `cc`; `SEATPHONE_LINK_ORDER=0` turns it off. Other profiles build and
//! link exactly as without it.

use std::path::{Path, PathBuf};

/// `binary`: the file this package links (`seatphone`, `libseatphone_audio.so`),
/// as the list names it.
pub fn apply(binary: &str) {
    println!("cargo:rerun-if-env-changed=SEATPHONE_LINK_ORDER");
    let cfg = |key: &str| std::env::var(key).unwrap_or_default();
    let wanted = cfg("CARGO_CFG_TARGET_OS") == "linux"
        && cfg("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && cfg("CARGO_CFG_TARGET_ENV") == "gnu"
        && profile_dir().as_deref() == Some("dist")
        && cfg("SEATPHONE_LINK_ORDER") != "0";
    let Some(dir) = link_order_dir() else { return };
    let list = dir.join("functions.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    println!("cargo:rerun-if-changed={}", dir.join("link.sh").display());
    println!("cargo:rerun-if-changed={}", dir.join("match.awk").display());
    if !wanted {
        return;
    }
    // This binary's names, in the recorded order (`<binary> <symbol>` lines).
    let recorded = std::fs::read_to_string(&list).unwrap_or_default();
    let mut own = String::new();
    for line in recorded.lines() {
        if let Some((b, symbol)) = line.split_once(' ') {
            if b == binary {
                own.push_str(symbol);
                own.push('\n');
            }
        }
    }
    let ordering = PathBuf::from(cfg("OUT_DIR")).join("link-order.txt");
    std::fs::write(&ordering, own).expect("write the link order");
    println!(
        "cargo:rustc-link-arg=-Wl,--symbol-ordering-file={}",
        ordering.display()
    );
    println!("cargo:rustc-link-arg=-Wl,--no-warn-symbol-ordering");
    println!("cargo:rustc-link-arg=-Wl,-z,pack-relative-relocs");
    // gcc runs the link step (collect2) through the matcher; another
    // linker or driver gets the exact names only. (`-wrapper` takes a
    // comma-separated list: a path with a comma cannot be given.)
    let wrapper = dir.join("link.sh").display().to_string();
    if cfg("RUSTC_LINKER").is_empty() && !wrapper.contains(',') && cc_is_gcc() {
        println!("cargo:rustc-link-arg=-wrapper");
        println!("cargo:rustc-link-arg={wrapper}");
    }
}

/// rustc links through `cc`; `-wrapper` is a gcc driver option.
fn cc_is_gcc() -> bool {
    std::process::Command::new("cc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("Free Software Foundation"))
        .unwrap_or(false)
}

/// The profile's folder name (`release`, `dist` …): cargo tells build
/// scripts only whether a profile inherits `release`, not which one it is,
/// so it is read from `OUT_DIR` (`<target>/<profile>/build/<pkg>/out`).
fn profile_dir() -> Option<String> {
    let out = PathBuf::from(std::env::var("OUT_DIR").ok()?);
    let dir = out.ancestors().nth(3)?.file_name()?;
    Some(dir.to_string_lossy().into_owned())
}

/// `link-order/` in the workspace above this package.
fn link_order_dir() -> Option<PathBuf> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").ok()?);
    manifest
        .ancestors()
        .map(|dir| dir.join("link-order"))
        .find(|d| Path::is_file(&d.join("functions.txt")))
}
