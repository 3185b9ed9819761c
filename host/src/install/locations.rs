//! Where an installed Seatphone finds its files.
//!
//! - config: `/etc/seatphone/seatphone.toml` (the administrator's, shipped
//!   by the package), then `$XDG_CONFIG_HOME/seatphone/seatphone.toml` (the
//!   user's; `~/.config/…`), the second overriding the first key by key;
//!   `--config FILE` replaces both;
//! - state (logs, the SIP instance id, plugin quarantine, the instance
//!   lock): `$XDG_STATE_HOME/seatphone` (`~/.local/state/seatphone`);
//! - plugins: `../lib/seatphone/plugins` from an executable in a `bin`
//!   folder (`/usr/bin/seatphone` → `/usr/lib/seatphone/plugins`), else the
//!   executable's own folder (a build tree: `target/release`).

use std::path::{Path, PathBuf};

/// The administrator's config file. `SEATPHONE_SYSTEM_CONFIG` names another
/// one (tests; a packager's relocation).
pub fn system_config() -> PathBuf {
    std::env::var_os("SEATPHONE_SYSTEM_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/seatphone/seatphone.toml"))
}

/// The user's config file, whether it exists or not; `None` without a home.
pub fn user_config() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("seatphone").join("seatphone.toml"))
}

/// The config files that apply without `--config`, lowest precedence first.
pub fn standard_config_files() -> Vec<PathBuf> {
    std::iter::once(system_config())
        .chain(user_config())
        .filter(|p| p.is_file())
        .collect()
}

/// The default `[log] dir`: the user's state folder.
pub fn state_dir() -> PathBuf {
    xdg_dir("XDG_STATE_HOME", ".local/state")
        .map(|d| d.join("seatphone"))
        .unwrap_or_else(|| PathBuf::from("./log"))
}

/// The default plugin folder for an executable at `exe`.
pub fn plugin_dir_for(exe: &Path) -> PathBuf {
    let dir = exe.parent().unwrap_or(Path::new("."));
    match (dir.file_name(), dir.parent()) {
        (Some(name), Some(prefix)) if name == "bin" => prefix.join("lib/seatphone/plugins"),
        _ => dir.to_path_buf(),
    }
}

/// `$VAR` if it is an absolute path (the XDG spec ignores relative ones),
/// else `$HOME/fallback`.
fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(fallback))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installed_executable_finds_the_plugins_under_lib() {
        assert_eq!(
            plugin_dir_for(Path::new("/usr/bin/seatphone")),
            PathBuf::from("/usr/lib/seatphone/plugins")
        );
        assert_eq!(
            plugin_dir_for(Path::new("/usr/local/bin/seatphone")),
            PathBuf::from("/usr/local/lib/seatphone/plugins")
        );
    }

    #[test]
    fn a_build_tree_executable_finds_the_plugins_beside_it() {
        assert_eq!(
            plugin_dir_for(Path::new("/src/target/release/seatphone")),
            PathBuf::from("/src/target/release")
        );
    }
}
