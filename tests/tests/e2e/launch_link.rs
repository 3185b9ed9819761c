//! The page's launch link, as the desktop runs it: the command of
//! `packaging/seatphone.desktop` (the URL handler the package installs),
//! with the link in place of `%u`, run as a desktop user would (as nobody
//! when the tests run as root: Seatphone refuses root without --config).
//! One link starts one Seatphone; a second link starts none; a link that
//! carries other arguments starts Seatphone with none of them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use seatphone_tests::host::{build_dir, http_get, repo_root};
use seatphone_tests::peers::free_port;

const NOBODY: u32 = 65534;

/// A desktop user's folders and config, in a temp folder.
struct Desktop {
    dir: tempfile::TempDir,
    port: u16,
    daemon_port: u16,
}

impl Desktop {
    fn new() -> Desktop {
        let dir = tempfile::tempdir().unwrap();
        let (port, daemon_port) = (free_port(1), free_port(1));
        let desktop = Desktop {
            dir,
            port,
            daemon_port,
        };
        // The program is copied into the temp folder: nobody may not reach
        // the build folder (a checkout under /root). No plugins are needed here.
        std::fs::create_dir_all(desktop.path("bin")).unwrap();
        std::fs::create_dir_all(desktop.path("plugins")).unwrap();
        std::fs::copy(build_dir().join("seatphone"), desktop.path("bin/seatphone")).unwrap();
        let config = format!(
            "[api]\nport = {port}\ndaemon_port = {daemon_port}\n[plugins]\ndir = \"{}\"\n\
             [sip]\nbind = \"127.0.0.1\"\nlocal_port = 0\n",
            desktop.path("plugins").display()
        );
        desktop.write("config/seatphone/seatphone.toml", &config);
        std::fs::create_dir_all(desktop.path("state")).unwrap();
        desktop.hand_over(desktop.dir.path());
        desktop
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// As root, the folder tree goes to nobody, who runs the link.
    fn hand_over(&self, dir: &Path) {
        if !running_as_root() {
            return;
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // The temp folder's parents (/tmp) let everyone through; check it.
        assert!(dir.ancestors().skip(1).all(|a| a.metadata().is_ok_and(|m| m
            .permissions()
            .mode()
            & 0o001
            != 0)));
        for entry in walk(dir) {
            std::os::unix::fs::chown(&entry, Some(NOBODY), Some(NOBODY)).unwrap();
        }
    }

    /// The desktop entry's command with `link` for `%u`.
    fn link_command(&self, link: &str) -> Command {
        let entry =
            std::fs::read_to_string(repo_root().join("packaging/seatphone.desktop")).unwrap();
        let exec = entry
            .lines()
            .find_map(|l| l.strip_prefix("Exec="))
            .expect("the desktop entry has an Exec line");
        let words: Vec<String> = exec
            .split_whitespace()
            .map(|w| match w {
                "seatphone" => self.path("bin/seatphone").display().to_string(),
                "%u" => link.to_owned(),
                other => other.to_owned(),
            })
            .collect();
        assert!(
            exec.contains("%u"),
            "the browser's link reaches the command: {exec}"
        );
        let mut cmd = if running_as_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
            c.args(&words);
            c
        } else {
            let mut c = Command::new(&words[0]);
            c.args(&words[1..]);
            c
        };
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env(
                "SEATPHONE_SYSTEM_CONFIG",
                self.path("no-system-config.toml"),
            )
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    fn lock_holder(&self) -> String {
        std::fs::read_to_string(self.path("state/seatphone/instance.lock")).unwrap_or_default()
    }

    fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.path("state/seatphone/daemon.log")).unwrap_or_default()
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

fn walk(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap().flatten() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

async fn wait_for_health(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, _)) = http_get(port, "/health", "127.0.0.1").await {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the launched Seatphone exited: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "no /health on {port} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs a command that must end by itself within `secs`.
fn finished(mut cmd: Command, secs: u64) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the second launch did not return within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|t| {
            std::fs::read_to_string(t.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[tokio::test]
async fn a_launch_link_starts_one_seatphone_and_a_second_link_starts_none() {
    let desktop = Desktop::new();
    let mut first = desktop
        .link_command("OpenEyeWebApiShell://-mode,2/")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_health(desktop.port, &mut first).await;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", desktop.daemon_port)).is_ok(),
        "the daemon socket is up on the user's config's port"
    );
    let holder = desktop.lock_holder();
    assert!(
        holder.starts_with(&format!("pid {},", first.id())),
        "{holder}"
    );
    assert!(
        desktop
            .daemon_log()
            .contains("started from a launch link (mode 2); 0 other item(s) in it ignored"),
        "{}",
        desktop.daemon_log()
    );

    let second = finished(desktop.link_command("OpenEyeWebApiShell://-mode,2/"), 15);
    let said = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second.status.code(), Some(0), "{said}");
    assert!(said.contains("already running"), "{said}");
    assert!(first.try_wait().unwrap().is_none(), "the first one runs on");
    assert_eq!(desktop.lock_holder(), holder, "no other instance took over");
    assert_eq!(children(first.id()).len(), 1, "one engine");
    stop(&mut first);
}

#[tokio::test]
async fn a_link_with_other_arguments_starts_seatphone_with_none_of_them() {
    let desktop = Desktop::new();
    // A config a hostile page would like Seatphone to use: other ports.
    let (evil_port, evil_daemon) = (free_port(1), free_port(1));
    desktop.write(
        "evil.toml",
        &format!("[api]\nport = {evil_port}\ndaemon_port = {evil_daemon}\nallowed_origins = [\"https://*.evil.test\"]\n"),
    );
    desktop.hand_over(&desktop.path("evil.toml"));
    let evil = desktop
        .path("evil.toml")
        .display()
        .to_string()
        .replace('/', "%2F");
    let link = format!(
        "OpenEyeWebApiShell://-mode,2,--config,{evil},engine,doctor,--sip,evil.test/../--help?--config=/etc/passwd#x"
    );
    let mut launched = desktop
        .link_command(&link)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_health(desktop.port, &mut launched).await;
    assert!(
        http_get(evil_port, "/health", "127.0.0.1").await.is_err(),
        "nothing listens on the ports of the link's config"
    );
    let log = desktop.daemon_log();
    assert!(
        log.contains("started from a launch link (mode 2); 7 other item(s) in it ignored"),
        "{log}"
    );
    let engines = children(launched.id());
    assert_eq!(engines.len(), 1);
    let engine = cmdline(engines[0]);
    assert_eq!(&engine[1..], ["engine", "--supervised"], "{engine:?}");
    stop(&mut launched);
}
