//! What the benchmarks (`bench/src/`) measure with: memory (PSS/RSS)
//! and CPU time of a process tree from `/proc`, open file descriptors,
//! medians and percentiles, a Seatphone started with a config the benchmark
//! writes whole (log level, `[audio]` devices, fixed SIP port), and the WAV
//! files and click onsets of the audio-path latency. baresip is the tests'
//! own (`peers::baresip`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::host::{
    plugin_library, stderr_of, wait_healthy, Command, Event, Launch, Options, Page, CALL,
};
use crate::page_cache;
use crate::peers::{free_port, keep_if_asked, stop_child};

// ---------------------------------------------------------------- /proc

/// The direct children of `pid` (every thread's children).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|s| s.parse::<u32>().ok()),
            );
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// `pid` and all its descendants.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() && out.len() < 256 {
        let kids = children(out[i]);
        out.extend(kids);
        i += 1;
    }
    out
}

/// Memory of a set of processes, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mem {
    pub pss_kb: u64,
    pub rss_kb: u64,
}

fn rollup_field(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(key)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0)
}

/// PSS and RSS of one process from `/proc/<pid>/smaps_rollup`.
pub fn mem(pid: u32) -> Option<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    Some(Mem {
        pss_kb: rollup_field(&text, "Pss"),
        rss_kb: rollup_field(&text, "Rss"),
    })
}

/// Summed PSS and RSS of `pids` (PSS sums honestly; RSS double-counts shared pages).
pub fn mem_of(pids: &[u32]) -> Mem {
    pids.iter()
        .filter_map(|p| mem(*p))
        .fold(Mem::default(), |a, m| Mem {
            pss_kb: a.pss_kb + m.pss_kb,
            rss_kb: a.rss_kb + m.rss_kb,
        })
}

/// With `BENCH_KEEP` set, copies `/proc/<pid>/smaps` of `pids` into `dir`
/// (`smaps-<pid>`, the folder made if missing), to see afterwards where
/// memory went.
pub fn dump_smaps_if_asked(pids: &[u32], dir: &Path) {
    if std::env::var_os("BENCH_KEEP").is_none() || std::fs::create_dir_all(dir).is_err() {
        return;
    }
    for p in pids {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{p}/smaps")) {
            let _ = std::fs::write(dir.join(format!("smaps-{p}")), text);
        }
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times.
pub fn clock_ticks() -> f64 {
    Process::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of one process, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces: state is field 3.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// Summed CPU seconds of `pids`.
pub fn cpu_of(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|p| cpu_seconds(*p)).sum()
}

/// Open file descriptors of `pids`, summed.
pub fn fds_of(pids: &[u32]) -> usize {
    proc_entries(pids, "fd")
}

/// Threads of `pids`, summed.
pub fn threads_of(pids: &[u32]) -> usize {
    proc_entries(pids, "task")
}

/// The entries of `/proc/<pid>/<folder>` of `pids`, summed (a process gone
/// counts none).
fn proc_entries(pids: &[u32], folder: &str) -> usize {
    pids.iter()
        .map(|p| {
            std::fs::read_dir(format!("/proc/{p}/{folder}"))
                .map(|d| d.count())
                .unwrap_or(0)
        })
        .sum()
}

// ---------------------------------------------------------------- statistics

/// The `p`-th percentile (0–100) by nearest rank; `None` when empty.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// The median (mean of the two middle values for an even count).
pub fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

// ---------------------------------------------------------------- Seatphone

/// What both phones send in the bench's video calls (figures 7 and 8):
/// 640×480, 25 pictures a second, 800 kbit/s (Seatphone's default).
pub const VIDEO_SIZE: (u32, u32) = (640, 480);
pub const VIDEO_FPS: u32 = 25;
pub const VIDEO_KBPS: u32 = 800;

/// The bench seat's `[video]`: `camera` at [`VIDEO_SIZE`], [`VIDEO_FPS`],
/// [`VIDEO_KBPS`], `codec` (`VP8`, `H264`) only, the window on `display`
/// (none: no window). `link_profile` records the same call.
pub fn video_toml(camera: &str, display: Option<&str>, codec: &str) -> String {
    let mut t = format!(
        "[video]\ncamera = \"{camera}\"\nwidth = {}\nheight = {}\nfps = {VIDEO_FPS}\nbitrate = {VIDEO_KBPS}\ncodecs = [\"{codec}\"]\n",
        VIDEO_SIZE.0, VIDEO_SIZE.1
    );
    if let Some(d) = display {
        t.push_str(&format!("display = \"{d}\"\n"));
    }
    t
}

/// What a benchmark wants of the host: the whole config is written here, so
/// the log level is the deployment's (`info`), not the tests' `debug`.
pub struct HostSpec {
    /// Plugin names (`audio`, `video` …) copied into the plugin folder.
    pub plugins: Vec<String>,
    /// SIP port; 0 = any free port.
    pub sip_port: u16,
    pub max_calls: u32,
    pub log_level: String,
    /// `[audio] input` / `output` (`file:/x.wav`, `null`, `pulse`).
    pub audio_input: Option<String>,
    pub audio_output: Option<String>,
    /// Extra environment (`PULSE_SERVER` of the benchmark's PulseAudio).
    pub env: Vec<(String, String)>,
    /// `[sip] accept_from`: callers let in besides the registrar (SIPp
    /// calling the seat directly).
    pub accept_from: Vec<String>,
    /// More sections, appended to the config whole (`[video]` …).
    pub extra_toml: String,
}

impl Default for HostSpec {
    fn default() -> Self {
        Self {
            plugins: vec!["audio".into()],
            sip_port: 0,
            max_calls: 2,
            log_level: "info".into(),
            audio_input: None,
            audio_output: None,
            env: Vec::new(),
            accept_from: Vec::new(),
            extra_toml: String::new(),
        }
    }
}

impl HostSpec {
    /// The harness launcher's options for this spec (`host::Launch`).
    pub fn options(&self) -> Options {
        let mut audio = String::from("[audio]\n");
        if let Some(i) = &self.audio_input {
            audio.push_str(&format!("input = \"{i}\"\n"));
        }
        if let Some(o) = &self.audio_output {
            audio.push_str(&format!("output = \"{o}\"\n"));
        }
        // `BENCH_UNDER="valgrind --tool=callgrind --trace-children=yes …"`:
        // the seat runs under that program, to count where its
        // instructions go in a figure (bench/README.md).
        let under = bench_under();
        Options {
            plugins: self.plugins.iter().map(|n| plugin_library(n)).collect(),
            api_toml: String::new(),
            sip_port: self.sip_port,
            sip_toml: format!(
                "max_calls = {}\naccept_from = {:?}",
                self.max_calls, self.accept_from
            ),
            extra_toml: format!("{audio}{}", self.extra_toml),
            env: self.env.clone(),
            log_level: self.log_level.clone(),
            dir_prefix: "seatphone-bench".into(),
            // Under a program (callgrind: ~50 times slower) the seat may
            // take far longer to answer `/health`.
            ready_within: if under.is_empty() {
                Options::default().ready_within
            } else {
                Duration::from_secs(120)
            },
            under,
            ..Options::default()
        }
    }
}

/// Every seat starts with its binary, its plugins (just copied, so
/// wholly cached unless dropped) and their libraries in the page cache
/// as `BENCH_PAGE_CACHE` says (out of it by default), as baresip does
/// (`bench/src/calls.rs`): see [`page_cache`].
fn prepare_seat(exe: &Path, plugin_dir: &Path) -> std::io::Result<()> {
    let mut files = vec![exe.to_path_buf()];
    for entry in std::fs::read_dir(plugin_dir)? {
        files.push(entry?.path());
    }
    page_cache::prepare_phone(&files).map_err(std::io::Error::other)
}

fn bench_under() -> Vec<String> {
    std::env::var("BENCH_UNDER")
        .map(|u| u.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// A `seatphone` daemon (and its engine) started for a benchmark.
pub struct BenchHost {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub daemon_port: u16,
    pub sip_port: u16,
}

impl BenchHost {
    /// Started by the harness's launcher (`host::Launch`) in a process group
    /// of its own, so that `stop` reaches the engine too.
    pub async fn start(spec: &HostSpec) -> std::io::Result<BenchHost> {
        let options = spec.options();
        let Launch {
            dir,
            daemon_port,
            port,
            mut command,
        } = Launch::prepare(&options)?;
        prepare_seat(&options.exe, &dir.path().join("plugins"))?;
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn()?;
        let mut host = BenchHost {
            child,
            dir,
            port,
            daemon_port,
            sip_port: spec.sip_port,
        };
        if wait_healthy(port, options.ready_within).await {
            return Ok(host);
        }
        let err = host.stderr();
        host.stop();
        Err(std::io::Error::other(format!(
            "seatphone did not come up:\n{err}"
        )))
    }

    pub fn stderr(&self) -> String {
        stderr_of(self.dir.path())
    }

    pub fn daemon_pid(&self) -> u32 {
        self.child.id()
    }

    /// The daemon, the engine and anything they started.
    pub fn pids(&self) -> Vec<u32> {
        tree(self.child.id())
    }

    pub async fn call_page(&self) -> std::io::Result<Page> {
        Page::connect(&format!("ws://127.0.0.1:{}/", self.port), Some(CALL), None)
            .await
            .map_err(std::io::Error::other)
    }

    /// `config` (UDP to `registrar_port`, `audio_codec` e.g. "112,9,8,0",
    /// AEC/ANR/AGC off, plain RTP), `register` as `user`/`pass<user>`, wait for LoginSuccess.
    pub async fn register(
        page: &mut Page,
        registrar_port: u16,
        user: &str,
        audio_codec: &str,
    ) -> Result<(), String> {
        let config = json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": registrar_port, "sipTransportMode": 0},
                            "media": {"trans_mode": 0},
                            "audio": {"audio_codec": audio_codec, "audio_aec": 0, "audio_anr": 0, "audio_agc": 0}});
        let r = page.request(Command::SetConfigParam, config).await;
        if r["result"] != 0 {
            return Err(format!("config: {r}"));
        }
        let login =
            json!({"sipNum": user, "sipName": user, "sipPwd": format!("pass{user}"), "sipMode": 4});
        let r = page.request(Command::Login, login).await;
        if r["result"] != 0 {
            return Err(format!("register: {r}"));
        }
        page.event_within(Event::LoginSuccess, Duration::from_secs(10))
            .await
            .map(|_| ())
            .ok_or_else(|| format!("no login success (registered) for {user}"))
    }

    /// SIGTERM to the group, then SIGKILL after 5 s.
    pub fn stop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(5));
    }
}

impl Drop for BenchHost {
    fn drop(&mut self) {
        self.stop();
        keep_if_asked(&mut self.dir);
    }
}

// ---------------------------------------------------------------- WAV

/// Writes 16-bit PCM mono WAV.
pub fn write_wav(path: &Path, rate: u32, samples: &[i16]) -> std::io::Result<()> {
    let data = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, out)
}

/// Sample indices where `|x|` first rises above `threshold` after at least
/// `gap` quiet samples: the onsets of clicks.
pub fn onsets(samples: &[i16], threshold: i16, gap: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut quiet = gap;
    for (i, s) in samples.iter().enumerate() {
        if s.unsigned_abs() > threshold as u16 {
            if quiet >= gap {
                out.push(i);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    out
}

/// The release folder the benchmark runs from (for [`crate::host::build_dir`]).
pub fn exe_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default()
}

// ---------------------------------------------------------------- SIPp

/// A SIPp run with any arguments, in a folder of its own, with its
/// statistics file (`-trace_stat`) and final screen (`-trace_screen`).
pub struct BenchSipp {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub media_port: u16,
}

impl BenchSipp {
    /// `args` come after SIPp's own address, ports and trace options.
    pub fn start(args: &[String], files: &[(&str, &str)]) -> std::io::Result<BenchSipp> {
        let port = free_port(1);
        let media_port = free_port(4);
        let dir = tempfile::Builder::new().prefix("bench-sipp").tempdir()?;
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text)?;
        }
        let out = std::fs::File::create(dir.path().join("sipp.out"))?;
        let mut cmd = Process::new("sipp");
        cmd.current_dir(dir.path())
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
            .args(["-p", &port.to_string(), "-mp", &media_port.to_string()])
            .args(["-nostdin", "-trace_stat", "-stf", "stats.csv", "-fd", "1"])
            .args(["-trace_screen", "-screen_file", "screen.log"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn()?;
        std::thread::sleep(Duration::from_millis(300));
        Ok(BenchSipp {
            child,
            dir,
            port,
            media_port,
        })
    }

    /// Waits for SIPp to exit; `None` if it did not within `timeout` (then it is stopped).
    pub async fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.stop();
        None
    }

    /// The last row of the statistics file, by column name
    /// (`SuccessfulCall(C)`, `FailedCall(C)` …).
    pub fn stat(&self, column: &str) -> Option<u64> {
        let text = std::fs::read_to_string(self.dir.path().join("stats.csv")).ok()?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines.next()?.split(';').collect();
        let last: Vec<&str> = lines.next_back()?.split(';').collect();
        let i = header.iter().position(|h| *h == column)?;
        last.get(i)?.trim().parse().ok()
    }

    /// The final screen (message counts per scenario line).
    pub fn screen(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("screen.log")).unwrap_or_default()
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sipp.out")).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(2));
    }
}

impl Drop for BenchSipp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A sine of `hz` at half scale, 16-bit mono: the tone baresip's `ausine`
/// plays, for a phone that reads its microphone from a file.
pub fn tone(rate: u32, seconds: u32, hz: u32) -> Vec<i16> {
    let step = std::f64::consts::TAU * f64::from(hz) / f64::from(rate);
    (0..rate * seconds)
        .map(|i| ((f64::from(i) * step).sin() * 16384.0) as i16)
        .collect()
}

/// Silence with a 5 ms 2 kHz burst every `period` samples, starting at `first`.
pub fn clicks(rate: u32, seconds: u32, period: usize, first: usize) -> Vec<i16> {
    let n = (rate * seconds) as usize;
    let mut out = vec![0i16; n];
    let burst = rate as usize / 200;
    let mut at = first;
    while at + burst < n {
        for k in 0..burst {
            let x = (std::f64::consts::TAU * 2000.0 * k as f64 / f64::from(rate)).sin();
            out[at + k] = (x * 20000.0) as i16;
        }
        at += period;
    }
    out
}
