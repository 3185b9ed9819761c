//! A PulseAudio server of a test's (or the benchmark's) own: the sound
//! device of a machine without sound hardware (`../shared/PEERS.md` beside the checkout).
//!
//! It listens on a socket in a folder of its own, not at the user's default
//! socket, so two test binaries (or a test and the benchmark) each have
//! theirs. Its clients find it through `PULSE_SERVER` ([`Pulse::env`]):
//! `pacat`/`parec`/`pactl` started with [`Pulse::command`], the host through
//! `Options::env` or `HostSpec::env` (cpal's ALSA `pulse` device is a
//! libpulse client), baresip's `pulse` module through `BaresipOptions::env`.
//! With `PULSE_SERVER` set no client spawns a server of its own when this
//! one is gone.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::peers::{stop_child, wait_until};

pub struct Pulse {
    child: Child,
    dir: tempfile::TempDir,
}

impl Pulse {
    /// Starts `pulseaudio` with no default script, never exiting when idle,
    /// with `modules` (`-L` arguments, e.g. `module-null-sink sink_name=x`)
    /// and the native protocol on its own socket; returns once it answers.
    pub fn start(modules: &[&str]) -> std::io::Result<Pulse> {
        let dir = tempfile::Builder::new().prefix("pulse").tempdir()?;
        let socket = dir.path().join("native");
        let mut cmd = Command::new("pulseaudio");
        cmd.args([
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
        ]);
        for m in modules {
            cmd.args(["-L", m]);
        }
        cmd.arg("-L").arg(format!(
            "module-native-protocol-unix auth-anonymous=1 socket={}",
            socket.display()
        ));
        // Its runtime and state files stay in the folder too.
        cmd.env("PULSE_RUNTIME_PATH", dir.path())
            .env("PULSE_STATE_PATH", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("pulseaudio.log"))?);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn()?;
        let mut pulse = Pulse { child, dir };
        if !wait_until(Duration::from_secs(10), || pulse.pactl(&["info"])) {
            let log = std::fs::read_to_string(pulse.dir.path().join("pulseaudio.log"))
                .unwrap_or_default();
            pulse.stop();
            return Err(std::io::Error::other(format!(
                "pulseaudio did not come up:\n{log}"
            )));
        }
        Ok(pulse)
    }

    /// The server's address as `PULSE_SERVER` takes it.
    pub fn server(&self) -> String {
        format!("unix:{}", self.dir.path().join("native").display())
    }

    /// What a client's environment needs to reach this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("PULSE_SERVER".into(), self.server())]
    }

    /// `program` as a client of this server, in a process group of its own.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }

    /// `pactl args`; true when it succeeded.
    pub fn pactl(&self, args: &[&str]) -> bool {
        self.command("pactl")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `pactl args`' output, empty on failure.
    pub fn pactl_output(&self, args: &[&str]) -> String {
        self.command("pactl")
            .args(args)
            .stdout(Stdio::piped())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Starts `program args` (a player or a recorder) as a client, its
    /// standard output into `stdout` if given; stopped when dropped.
    pub fn spawn(
        &self,
        program: &str,
        args: &[&str],
        stdout: Option<&Path>,
    ) -> std::io::Result<PulseClient> {
        let mut cmd = self.command(program);
        cmd.args(args);
        if let Some(path) = stdout {
            cmd.stdout(std::fs::File::create(path)?);
        }
        Ok(PulseClient(cmd.spawn()?))
    }

    fn stop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(2));
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A client process of a [`Pulse`] (`pacat`, `parec` …), stopped when dropped.
pub struct PulseClient(Child);

impl PulseClient {
    /// Stops it now (SIGTERM, then SIGKILL): `parec` flushes what it holds.
    pub fn stop(&mut self) {
        stop_child(&mut self.0, Duration::from_secs(1));
    }
}

impl Drop for PulseClient {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Raw interleaved s16le (as `parec --format=s16le` writes it) split into
/// `channels` channels.
pub fn read_raw_s16(path: &Path, channels: usize) -> std::io::Result<Vec<Vec<i16>>> {
    let bytes = std::fs::read(path)?;
    let channels = channels.max(1);
    let mut out = vec![Vec::with_capacity(bytes.len() / 2 / channels); channels];
    for (i, b) in bytes.chunks_exact(2).enumerate() {
        out[i % channels].push(i16::from_le_bytes([b[0], b[1]]));
    }
    Ok(out)
}
