//! Seatphone installed on a desktop: where its files are (config layers,
//! state folder, plugin folder), one instance per user, and the launch link
//! a portal page opens (`OpenEyeWebApiShell://-mode,2/`).

pub mod launch_link;
pub mod locations;
pub mod single_instance;

/// Seatphone runs as the desktop user (their sound devices, their display).
/// `/proc/self` belongs to the process's effective user.
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
