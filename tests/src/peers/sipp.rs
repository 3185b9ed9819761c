//! SIPp scenarios from `tests/peers/sipp/`: a UAS that the user agent
//! calls through Kamailio (which relays requests for other ports of
//! 127.0.0.1 as they are), or a UAC that calls the user agent directly.
//! Success is SIPp's exit status 0.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{free_port, stop_child, templates};

pub struct Sipp {
    /// SIPp's SIP port.
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
    status: Option<ExitStatus>,
    /// A failure message carried the logs already.
    logs_shown: AtomicBool,
}

impl Sipp {
    /// SIPp waits for one call on a free port (`sip:<user>@127.0.0.1:<port>`).
    pub fn uas(scenario: &str) -> std::io::Result<Self> {
        Self::uas_with(scenario, &[])
    }

    /// [`Sipp::uas`] with more SIPp arguments (`-key name value`, or a
    /// longer `-timeout` than the 40 s default: later arguments win).
    pub fn uas_with(scenario: &str, extra: &[&str]) -> std::io::Result<Self> {
        let port = free_port(1);
        Self::spawn(scenario, port, extra, None)
    }

    /// SIPp calls `target` (`127.0.0.1:port`) once.
    pub fn uac(scenario: &str, target: &str) -> std::io::Result<Self> {
        Self::uac_from(scenario, target, free_port(1), &[])
    }

    /// [`Sipp::uac`] from a port chosen beforehand (one the user agent
    /// was configured to take as its server), with more SIPp arguments
    /// (`-s 1001 -au 1002 -ap pass1002` to call through the proxy).
    pub fn uac_from(
        scenario: &str,
        target: &str,
        port: u16,
        extra: &[&str],
    ) -> std::io::Result<Self> {
        Self::spawn(scenario, port, extra, Some(target))
    }

    fn spawn(
        scenario: &str,
        port: u16,
        extra: &[&str],
        target: Option<&str>,
    ) -> std::io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("seatphone-sipp")
            .tempdir()?;
        for entry in std::fs::read_dir(templates().join("sipp"))? {
            let entry = entry?;
            std::fs::copy(entry.path(), dir.path().join(entry.file_name()))?;
        }
        // SIPp's RTP echo binds -mp and -mp + 2 (its video echo), with
        // RTCP beside each: four ports, or the next peer's port is taken.
        let media = free_port(4);
        let out = std::fs::File::create(dir.path().join("sipp.out"))?;
        let mut cmd = Command::new("sipp");
        cmd.current_dir(dir.path())
            .args(["-sf", scenario, "-i", "127.0.0.1", "-mi", "127.0.0.1"])
            .args(["-p", &port.to_string(), "-mp", &media.to_string()])
            .args(["-m", "1", "-nostdin", "-trace_err", "-trace_msg"])
            .args([
                "-recv_timeout",
                "15000",
                "-timeout",
                "40s",
                "-timeout_error",
            ])
            .args(extra);
        if let Some(t) = target {
            cmd.arg(t);
        }
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn()?;
        let sipp = Self {
            port,
            child,
            dir,
            status: None,
            logs_shown: AtomicBool::new(false),
        };
        // SIPp binds at once; give it a moment before anyone sends to it.
        std::thread::sleep(Duration::from_millis(300));
        Ok(sipp)
    }

    /// `127.0.0.1:port`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Waits for SIPp to finish: `Some(true)` when the scenario passed.
    pub async fn finished(&mut self, timeout: Duration) -> Option<bool> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
                return Some(status.success());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// The message trace and error log, for failure messages.
    pub fn logs(&self) -> String {
        self.logs_shown.store(true, Ordering::Relaxed);
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".log") || name == "sipp.out" {
                    let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                    let tail: String = text
                        .chars()
                        .rev()
                        .take(6000)
                        .collect::<String>()
                        .chars()
                        .rev()
                        .collect();
                    out.push_str(&format!("==== {name}\n{tail}\n"));
                }
            }
        }
        out
    }

    /// Messages SIPp sent and received.
    pub fn messages(&self) -> String {
        std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with("_messages.log"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect()
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        // A test that failed on the page's side (an event that never came)
        // shows why SIPp gave up too: a scenario error ends SIPp early.
        if std::thread::panicking() && !self.logs_shown.load(Ordering::Relaxed) {
            eprintln!("SIPp, at the test's failure:\n{}", self.logs());
        }
        if self.status.is_none() {
            stop_child(&mut self.child, Duration::from_secs(1));
        }
    }
}
