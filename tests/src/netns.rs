//! Private network namespaces for tests whose traffic must not leave the
//! machine even by mistake (hostile SIP names 192.0.2.x in its Via headers,
//! and a compliant UA answers there).

use std::process::Command;

const INSIDE: &str = "SEATPHONE_IN_NETNS";

/// Runs the test `name` of the module `module` (its `module_path!()`) of
/// the current test binary again, inside a new network namespace where only
/// loopback exists, and asserts it passed. Returns `true` when called from
/// inside: the caller then runs the body.
///
/// ```ignore
/// #[test] fn t() { if !netns::isolated(module_path!(), "t") { return; } /* body */ }
/// ```
pub fn isolated(module: &str, name: &str) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let name = &test_name(module, name);
    let exe = std::env::current_exe().expect("test executable");
    let status = Command::new("unshare")
        .args([
            "--net",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$@\"",
            "sh",
        ])
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .status()
        .expect("run unshare (util-linux; needs root)");
    assert!(
        status.success(),
        "{name} failed inside its network namespace"
    );
    false
}

/// The name libtest gives the test function `name` of the module whose
/// `module_path!()` is `module`: its path without the crate's name
/// (`e2e::hostile_sip` and `t` give `hostile_sip::t`), as `--exact` wants it
/// when a test runs itself again in a child process.
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{name}"),
        None => name.to_owned(),
    }
}
