//! Seatphone side by side with baresip 1.0, in one run, alternating rounds.
//! `bench/run.sh` builds and runs this; see bench/README.md for what each
//! figure measures and how.
//!
//!     bench [--rounds N] [--figures 1,2,3,4,5,6] [--out DIR]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use seatphone_tests::host::{frame_text, plugin_library, Command, Event, Page, WORKSPACE_PLUGINS};
use seatphone_tests::measure::{
    self, median, percentile, BaresipSpec, BenchBaresip, BenchHost, Ctrl, HostSpec,
};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::pulse::{read_raw_s16, Pulse, PulseClient};
use serde_json::{json, Value};

/// One figure's numbers: a sample per round (or per call) for each side.
struct Metric {
    figure: u32,
    key: &'static str,
    name: &'static str,
    unit: &'static str,
    lower_is_better: bool,
    seatphone: Vec<f64>,
    baresip: Vec<f64>,
    /// Why a side could not be measured (printed and written; never a number).
    missing: Vec<String>,
    note: String,
}

impl Metric {
    fn new(
        figure: u32,
        key: &'static str,
        name: &'static str,
        unit: &'static str,
        lower: bool,
    ) -> Self {
        Metric {
            figure,
            key,
            name,
            unit,
            lower_is_better: lower,
            seatphone: Vec::new(),
            baresip: Vec::new(),
            missing: Vec::new(),
            note: String::new(),
        }
    }

    fn miss(&mut self, why: impl Into<String>) {
        let why = why.into();
        eprintln!("  [{}] missing: {why}", self.key);
        if !self.missing.contains(&why) {
            self.missing.push(why);
        }
    }

    fn complete(&self) -> bool {
        !self.seatphone.is_empty() && !self.baresip.is_empty()
    }

    fn ratio(&self) -> Option<f64> {
        if !self.complete() {
            return None;
        }
        let (s, b) = (median(&self.seatphone)?, median(&self.baresip)?);
        (b != 0.0).then_some(s / b)
    }

    fn to_json(&self) -> Value {
        json!({
            "figure": self.figure,
            "key": self.key,
            "name": self.name,
            "unit": self.unit,
            "lower_is_better": self.lower_is_better,
            "seatphone": {"median": median(&self.seatphone), "samples": self.seatphone},
            "baresip": {"median": median(&self.baresip), "samples": self.baresip},
            "ratio": self.ratio(),
            "status": if self.complete() { "measured" } else { "missing" },
            "missing": self.missing,
            "note": self.note,
        })
    }
}

struct Args {
    rounds: usize,
    figures: Vec<u32>,
    out: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        rounds: 5,
        figures: vec![1, 2, 3, 4, 5, 6],
        out: seatphone_tests::host::repo_root().join("bench/results"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--rounds" => a.rounds = it.next().and_then(|s| s.parse().ok()).unwrap_or(5).max(1),
            "--figures" => {
                a.figures = it
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|s| s.trim().parse().ok())
                    .collect()
            }
            "--out" => a.out = it.next().map(PathBuf::from).unwrap_or(a.out),
            other => {
                eprintln!("unknown argument {other}; usage: bench [--rounds N] [--figures 1,2,..] [--out DIR]");
                std::process::exit(2);
            }
        }
    }
    a
}

const T: Duration = Duration::from_secs(10);

/// The run's Kamailio, as the figures need it (its port).
#[derive(Clone, Copy)]
struct Kam {
    port: u16,
}
/// Users registered at the bench Kamailio: 1001 Seatphone, 1002 baresip
/// caller, 1010 the auto-answering callee.
const SEAT_USER: &str = "1001";
const BARE_USER: &str = "1002";

fn main() {
    // The binaries this benchmark measures sit beside it (target/dist).
    if std::env::var_os("SEATPHONE_BUILD_DIR").is_none() {
        std::env::set_var("SEATPHONE_BUILD_DIR", measure::exe_dir());
    }
    let args = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(run(args));
    std::process::exit(code);
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// How many functions of the recorded link order (`link-order/`) the
/// binaries under test still have: a list gone stale with a dependency or
/// toolchain update costs idle memory (`scripts/link-order.sh` renews it).
fn link_order_coverage() -> String {
    let list = seatphone_tests::host::repo_root().join("link-order/functions.txt");
    let Ok(list) = std::fs::read_to_string(list) else {
        return "no link-order/functions.txt".into();
    };
    let build = seatphone_tests::host::build_dir();
    let mut present = std::collections::HashSet::new();
    let plugins = WORKSPACE_PLUGINS.iter().map(|p| plugin_library(p));
    for file in std::iter::once(build.join("seatphone")).chain(plugins) {
        let symbols = command_output("nm", &["--defined-only", &file.display().to_string()]);
        present.extend(
            symbols
                .lines()
                .filter_map(|l| l.split_whitespace().nth(2))
                .map(str::to_owned),
        );
    }
    let recorded: Vec<&str> = list.lines().collect();
    let found = recorded.iter().filter(|f| present.contains(**f)).count();
    format!("{found} of {} recorded functions present", recorded.len())
}

async fn run(args: Args) -> i32 {
    let started = command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]);
    let load_before = loadavg();
    let link_order = link_order_coverage();
    eprintln!(
        "bench: {} rounds, figures {:?}, load {load_before}; link order: {link_order}",
        args.rounds, args.figures
    );
    let users = (1001..=1020)
        .map(|n| (n.to_string(), format!("pass{n}")))
        .collect();
    let kam = match Kamailio::start(KamailioConfig {
        users,
        ..Default::default()
    }) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("bench: Kamailio did not start: {e}");
            return 1;
        }
    };
    let mut metrics: Vec<Metric> = Vec::new();
    let k = Kam { port: kam.port };
    let rounds = args.rounds;
    for f in args.figures.iter().copied() {
        eprintln!("== figure {f}");
        // Each figure in a task of its own: a panic in one (a harness
        // assertion) marks that figure missing and the run goes on.
        let ms = tokio::spawn(async move {
            match f {
                1 => figure1_round_trip(k, rounds).await,
                2 => figure2_memory(k, rounds).await,
                3 => figure3_call_setup(k, rounds).await,
                4 => figure4_cpu(k, rounds).await,
                5 => figure5_latency(k, rounds).await,
                6 => figure6_endurance(k, rounds).await,
                _ => Vec::new(),
            }
        })
        .await
        .unwrap_or_else(|e| {
            let mut m = Metric::new(f, "panicked", "figure stopped", "", true);
            m.miss(format!("figure {f} stopped with a panic: {e}"));
            vec![m]
        });
        for m in &ms {
            print_metric(m);
        }
        metrics.extend(ms);
    }
    drop(kam);
    // Statics are never dropped: remove the WAV folder here.
    if let Some((dir, _, _)) = FILES.get() {
        let _ = std::fs::remove_dir_all(dir.path());
    }

    println!();
    println!(
        "{:<44} {:>14} {:>14} {:>9}",
        "figure (median)", "Seatphone", "baresip", "S/b"
    );
    for m in &metrics {
        print_metric(m);
    }
    metrics.sort_by_key(|m| m.figure);
    let mut all: Vec<Value> = metrics
        .iter()
        .map(|m| {
            let mut v = m.to_json();
            v["run_started"] = json!(started);
            v
        })
        .collect();
    // Figures not run this time keep their numbers from the previous run
    // (each metric says when it was measured).
    let previous: Option<Value> = std::fs::read_to_string(args.out.join("results.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    if let Some(prev) = previous {
        for m in prev["metrics"].as_array().into_iter().flatten() {
            let fig = m["figure"].as_u64().unwrap_or(0) as u32;
            if !args.figures.contains(&fig) {
                println!(
                    "kept from an earlier run ({}): {}. {}",
                    m["run_started"].as_str().unwrap_or("?"),
                    fig,
                    m["name"].as_str().unwrap_or("")
                );
                all.push(m.clone());
            }
        }
    }
    all.sort_by_key(|m| m["figure"].as_u64().unwrap_or(0));
    let json = json!({
        "started": started,
        "finished": command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "rounds": args.rounds,
        "figures_this_run": args.figures,
        "machine": {
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
            "kernel": command_output("uname", &["-r"]),
        },
        "seatphone": command_output("git", &["-C", &seatphone_tests::host::repo_root().display().to_string(), "describe", "--always", "--dirty"]),
        "baresip": command_output("dpkg-query", &["-W", "-f", "${Version}", "baresip-core"]),
        "link_order": link_order,
        "metrics": all,
    });
    if let Err(e) = std::fs::create_dir_all(&args.out).and_then(|_| {
        std::fs::write(
            args.out.join("results.json"),
            serde_json::to_string_pretty(&json).unwrap_or_default() + "\n",
        )
    }) {
        eprintln!("bench: cannot write results: {e}");
        return 1;
    }
    println!("\nwrote {}", args.out.join("results.json").display());
    0
}

fn fmt(v: Option<f64>) -> String {
    match v {
        None => "MISSING".into(),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.3}"),
    }
}

fn print_metric(m: &Metric) {
    let side = |v: &[f64]| {
        if v.is_empty() {
            "MISSING".to_owned()
        } else {
            format!("{} {}", fmt(median(v)), m.unit)
        }
    };
    println!(
        "{:<44} {:>14} {:>14} {:>9}",
        format!("{}. {}", m.figure, m.name),
        side(&m.seatphone),
        side(&m.baresip),
        m.ratio().map(|r| format!("{r:.2}")).unwrap_or("-".into())
    );
    for why in &m.missing {
        println!("      missing: {why}");
    }
}

/// Round `r` runs Seatphone first when even, baresip first when odd.
fn seat_first(r: usize) -> bool {
    r.is_multiple_of(2)
}

fn baresip_spec(user: &str, registrar_port: u16) -> BaresipSpec {
    BaresipSpec {
        user: user.into(),
        registrar_port,
        auto_answer: false,
        codecs: "opus/48000/2,G722/16000/1,PCMU/8000/1,PCMA/8000/1".into(),
        source: format!("aufile,{}", media_files().1.display()),
        extra_modules: Vec::new(),
        extra_config: String::new(),
        max_calls: 4,
        env: Vec::new(),
    }
}

// ---------------------------------------------------------------- figure 1

const RT_WARMUP: usize = 200;
const RT_SAMPLES: usize = 2000;
const TP_REQUESTS: usize = 10000;
/// Both phones idle this long between start-up and the first request:
/// measured straight after Seatphone started (its engine and plugins
/// still settling) while baresip had 300 ms of quiet, half of Seatphone's
/// rounds ran with client and server on two vCPUs (p99 ~70 µs), none
/// after a second's quiet.
const RT_QUIET: Duration = Duration::from_secs(1);
const TP_WINDOW: usize = 16;

/// Round-trip times in µs of `n` sequential requests, then requests/s with
/// `TP_WINDOW` outstanding, over one Seatphone call socket.
async fn ws_round_trips(page: &mut Page) -> Result<(Vec<f64>, f64), String> {
    let get = |seq: u64| {
        frame_text(
            Command::GetMicVolume,
            &format!(r#","param":{{}},"seq":{seq}"#),
        )
    };
    let mut seq = 1_000_000u64;
    let mut times = Vec::with_capacity(RT_SAMPLES);
    for i in 0..RT_WARMUP + RT_SAMPLES {
        seq += 1;
        let t = Instant::now();
        page.send_text(&get(seq)).await;
        let r = page
            .next_frame(T)
            .await
            .ok_or("no response to tsdk_get_mic_volume")?;
        let us = t.elapsed().as_secs_f64() * 1e6;
        if r["seq"] != seq || r["result"] != 0 {
            return Err(format!("unexpected frame {r}"));
        }
        if i >= RT_WARMUP {
            times.push(us);
        }
    }
    let t = Instant::now();
    let (mut sent, mut got) = (0usize, 0usize);
    while got < TP_REQUESTS {
        while sent < TP_REQUESTS && sent - got < TP_WINDOW {
            seq += 1;
            page.send_text(&get(seq)).await;
            sent += 1;
        }
        let r = page.next_frame(T).await.ok_or("throughput: no response")?;
        if r["result"] != 0 {
            return Err(format!("throughput: {r}"));
        }
        got += 1;
    }
    Ok((times, TP_REQUESTS as f64 / t.elapsed().as_secs_f64()))
}

/// The same over baresip's ctrl_tcp with `listcalls`.
async fn ctrl_round_trips(ctrl: &mut Ctrl) -> Result<(Vec<f64>, f64), String> {
    let mut times = Vec::with_capacity(RT_SAMPLES);
    for i in 0..RT_WARMUP + RT_SAMPLES {
        let t = Instant::now();
        let r = ctrl
            .request("listcalls", "")
            .await
            .ok_or("no response to listcalls")?;
        let us = t.elapsed().as_secs_f64() * 1e6;
        if r["ok"] != true {
            return Err(format!("listcalls: {r}"));
        }
        if i >= RT_WARMUP {
            times.push(us);
        }
    }
    let t = Instant::now();
    let (mut sent, mut got) = (0usize, 0usize);
    while got < TP_REQUESTS {
        while sent < TP_REQUESTS && sent - got < TP_WINDOW {
            ctrl.send("listcalls", "", &format!("tp{sent}"))
                .await
                .map_err(|e| e.to_string())?;
            sent += 1;
        }
        let r = ctrl.next(T).await.ok_or("throughput: no response")?;
        if r["response"] == true {
            got += 1;
        }
    }
    Ok((times, TP_REQUESTS as f64 / t.elapsed().as_secs_f64()))
}

/// Where figure 1 runs: where the scheduler puts the threads, or the
/// driver and the server pinned to one CPU. In this VM a wake-up across
/// vCPUs costs ~40 µs, and the scheduler keeps a client and its server
/// on one vCPU or on two for hundreds of requests at a time, at random
/// (perf sched: every slow phase is a split placement, for both phones),
/// so the as-scheduled p99 says more about that draw than about the
/// server; pinned, both phones get the same placement.
#[derive(Clone, Copy, PartialEq)]
enum Placement {
    AsScheduled,
    OneCpu,
}

async fn figure1_round_trip(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut metrics = Vec::new();
    for placement in [Placement::AsScheduled, Placement::OneCpu] {
        let (label, [p50, p99, tp]) = match placement {
            Placement::AsScheduled => (
                "",
                [
                    ("rtt_p50", "command round trip p50"),
                    ("rtt_p99", "command round trip p99"),
                    ("throughput", "command throughput"),
                ],
            ),
            Placement::OneCpu => (
                ", one CPU",
                [
                    ("rtt_p50_one_cpu", "command round trip p50, one CPU"),
                    ("rtt_p99_one_cpu", "command round trip p99, one CPU"),
                    ("throughput_one_cpu", "command throughput, one CPU"),
                ],
            ),
        };
        let mut p50 = Metric::new(1, p50.0, p50.1, "µs", true);
        let mut p99 = Metric::new(1, p99.0, p99.1, "µs", true);
        let mut tp = Metric::new(1, tp.0, tp.1, "req/s", false);
        for m in [&mut p50, &mut p99, &mut tp] {
            m.note = format!(
                "Seatphone: tsdk_get_mic_volume over the call WebSocket (host + audio plugin); baresip: ctrl_tcp `listcalls` (no call). {RT_SAMPLES} sequential requests after {RT_WARMUP} warm-up; throughput with {TP_WINDOW} outstanding, {TP_REQUESTS} requests. {}",
                match placement {
                    Placement::AsScheduled => "Threads where the scheduler puts them.",
                    Placement::OneCpu => "The driver and the server (all their threads) pinned to CPU 0 for the round, the same for both phones: a wake-up across vCPUs costs ~40 µs in this VM and the scheduler's choice of one or two vCPUs lasts hundreds of requests, so this is the server's own figure.",
                }
            );
        }
        for r in 0..rounds {
            for seat in [seat_first(r), !seat_first(r)] {
                let result = if seat {
                    seat_rtt(placement).await
                } else {
                    bare_rtt(kam, placement).await
                };
                let who = if seat { "Seatphone" } else { "baresip" };
                match result {
                    Ok((times, rate)) => {
                        let (a, b) = (
                            percentile(&times, 50.0).unwrap_or(f64::NAN),
                            percentile(&times, 99.0).unwrap_or(f64::NAN),
                        );
                        for (m, v) in [(&mut p50, a), (&mut p99, b), (&mut tp, rate)] {
                            if seat {
                                m.seatphone.push(v);
                            } else {
                                m.baresip.push(v);
                            }
                        }
                        eprintln!("  round {r}{label} {who}: p50 {a:.0} µs, p99 {b:.0} µs, {rate:.0} req/s");
                    }
                    Err(e) => {
                        for m in [&mut p50, &mut p99, &mut tp] {
                            m.miss(format!("{who}: {e}"));
                        }
                    }
                }
            }
        }
        metrics.extend([p50, p99, tp]);
    }
    metrics
}

async fn seat_rtt(placement: Placement) -> Result<(Vec<f64>, f64), String> {
    let host = BenchHost::start(&HostSpec::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut page = host.call_page().await.map_err(|e| e.to_string())?;
    page.forget(RT_QUIET).await;
    let _pinned = Pinned::new(placement, &host.pids())?;
    ws_round_trips(&mut page).await
}

async fn bare_rtt(kam: Kam, placement: Placement) -> Result<(Vec<f64>, f64), String> {
    let b = BenchBaresip::start(&baresip_spec(BARE_USER, kam.port)).map_err(|e| e.to_string())?;
    let mut ctrl = b.ctrl().await.map_err(|e| e.to_string())?;
    ctrl.forget(RT_QUIET).await;
    let _pinned = Pinned::new(placement, &b.pids())?;
    ctrl_round_trips(&mut ctrl).await
}

/// The driver and `server` on CPU 0 while it lives (`Placement::OneCpu`);
/// the driver back on every CPU after.
struct Pinned(bool);

impl Pinned {
    fn new(placement: Placement, server: &[u32]) -> Result<Self, String> {
        if placement == Placement::AsScheduled {
            return Ok(Self(false));
        }
        for pid in server.iter().copied().chain([std::process::id()]) {
            set_affinity(pid, "0")?;
        }
        Ok(Self(true))
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if self.0 {
            let online = std::fs::read_to_string("/sys/devices/system/cpu/online");
            let _ = set_affinity(std::process::id(), online.as_deref().unwrap_or("0").trim());
        }
    }
}

/// Every thread of `pid` on `cpus` (taskset's list syntax).
fn set_affinity(pid: u32, cpus: &str) -> Result<(), String> {
    let status = std::process::Command::new("taskset")
        .args(["--all-tasks", "--cpu-list", "--pid", cpus, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("taskset: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("taskset could not pin {pid} to CPU {cpus}"))
}

// ---------------------------------------------------------------- figure 2

const SETTLE: Duration = Duration::from_secs(3);

async fn figure2_memory(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut pss_all = Metric::new(2, "pss_idle_all", "PSS idle, all plugins", "MiB", true);
    let mut rss_all = Metric::new(2, "rss_idle_all", "RSS idle, all plugins", "MiB", true);
    let mut pss_audio = Metric::new(2, "pss_idle_audio", "PSS idle, audio-only", "MiB", true);
    pss_all.note = "Seatphone daemon + engine with every plugin the workspace builds, registered, a page connected, 3 s after registration; baresip with its audio modules (opus, g722, g711, aufile, ausine), registered, ctrl_tcp connected. PSS summed over all processes.".into();
    rss_all.note = "As PSS idle; RSS summed over processes (counts shared pages twice for Seatphone's two processes).".into();
    pss_audio.note =
        "Seatphone host + audio plugin only (the audio-only deployment), same baresip.".into();
    for r in 0..rounds {
        for seat in [seat_first(r), !seat_first(r)] {
            if seat {
                for (plugins, pss, rss) in [
                    (WORKSPACE_PLUGINS.to_vec(), &mut pss_all, Some(&mut rss_all)),
                    (vec!["audio"], &mut pss_audio, None),
                ] {
                    match seat_idle_mem(kam, &plugins).await {
                        Ok(m) => {
                            eprintln!(
                                "  round {r} Seatphone {plugins:?}: PSS {} KiB, RSS {} KiB",
                                m.pss_kb, m.rss_kb
                            );
                            pss.seatphone.push(m.pss_kb as f64 / 1024.0);
                            if let Some(rss) = rss {
                                rss.seatphone.push(m.rss_kb as f64 / 1024.0);
                            }
                        }
                        Err(e) => pss.miss(format!("Seatphone: {e}")),
                    }
                }
            } else {
                match bare_idle_mem(kam).await {
                    Ok(m) => {
                        eprintln!(
                            "  round {r} baresip: PSS {} KiB, RSS {} KiB",
                            m.pss_kb, m.rss_kb
                        );
                        for x in [&mut pss_all, &mut pss_audio] {
                            x.baresip.push(m.pss_kb as f64 / 1024.0);
                        }
                        rss_all.baresip.push(m.rss_kb as f64 / 1024.0);
                    }
                    Err(e) => {
                        for x in [&mut pss_all, &mut pss_audio, &mut rss_all] {
                            x.miss(format!("baresip: {e}"));
                        }
                    }
                }
            }
        }
    }
    vec![pss_all, rss_all, pss_audio]
}

async fn seat_idle_mem(kam: Kam, plugins: &[&str]) -> Result<measure::Mem, String> {
    let host = BenchHost::start(&HostSpec {
        plugins: plugins.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut page = host.call_page().await.map_err(|e| e.to_string())?;
    BenchHost::register(&mut page, kam.port, SEAT_USER, "112,9,8,0").await?;
    tokio::time::sleep(SETTLE).await;
    Ok(measure::mem_of(&host.pids()))
}

async fn bare_idle_mem(kam: Kam) -> Result<measure::Mem, String> {
    let b = BenchBaresip::start(&baresip_spec(BARE_USER, kam.port)).map_err(|e| e.to_string())?;
    let _ctrl = b.ctrl().await.map_err(|e| e.to_string())?;
    tokio::time::sleep(SETTLE).await;
    Ok(measure::mem_of(&b.pids()))
}

// ---------------------------------------------------------------- calls

/// The auto-answering callee of figures 2–4: baresip `1010` through Kamailio.
const CALLEE: &str = "1010";

/// Files every call figure uses, made once per run.
static FILES: std::sync::OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> =
    std::sync::OnceLock::new();

fn media_files() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    FILES.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("bench-media")
            .tempdir()
            .expect("temp dir");
        let speech = dir.path().join("speech-48k.wav");
        let clicks = dir.path().join("clicks-48k.wav");
        measure::write_wav(&speech, 48000, &measure::speechlike(48000, 60)).expect("speech.wav");
        measure::write_wav(&clicks, 48000, &measure::clicks(48000, 30, 48000, 24000))
            .expect("clicks.wav");
        (dir, speech, clicks)
    })
}

fn callee_spec(kam: Kam) -> BaresipSpec {
    BaresipSpec {
        user: CALLEE.into(),
        auto_answer: true,
        source: format!("aufile,{}", media_files().1.display()),
        ..baresip_spec(CALLEE, kam.port)
    }
}

/// A Seatphone seat (host + audio plugin), registered as 1001, page open.
struct Seat {
    host: BenchHost,
    page: Page,
}

async fn seat(
    kam: Kam,
    codecs: &str,
    input: Option<String>,
    output: Option<String>,
) -> Result<Seat, String> {
    let host = BenchHost::start(&HostSpec {
        audio_input: input,
        audio_output: output,
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut page = host.call_page().await.map_err(|e| e.to_string())?;
    BenchHost::register(&mut page, kam.port, SEAT_USER, codecs).await?;
    Ok(Seat { host, page })
}

/// `startCall` → connected: (milliseconds, callId).
async fn seat_dial(page: &mut Page, callee: &str) -> Result<(f64, u64), String> {
    page.forget(Duration::from_millis(1)).await;
    let t = Instant::now();
    let r = page
        .request(
            Command::StartCall,
            json!({"calleeNumber": callee, "isVideo": false}),
        )
        .await;
    if r["result"] != 0 {
        return Err(format!("startCall: {r}"));
    }
    let id = r["param"]["callId"].as_u64().unwrap_or(0);
    measure::wait_event(page, Event::CallConnected, T)
        .await
        .ok_or_else(|| "startCall: not connected within 10 s".to_owned())?;
    Ok((t.elapsed().as_secs_f64() * 1e3, id))
}

async fn seat_hangup(page: &mut Page, id: u64) -> Result<(), String> {
    let r = page.request(Command::EndCall, json!({"callId": id})).await;
    if r["result"] != 0 {
        return Err(format!("endCall: {r}"));
    }
    measure::wait_event(page, Event::CallEnded, T)
        .await
        .map(|_| ())
        .ok_or_else(|| "endCall: no call-ended event".to_owned())
}

/// ctrl_tcp `dial` → CALL_ESTABLISHED, in milliseconds.
async fn bare_dial(ctrl: &mut Ctrl, callee: &str) -> Result<f64, String> {
    ctrl.forget(Duration::from_millis(1)).await;
    let uri = if callee.contains('@') {
        format!("sip:{callee}")
    } else {
        format!("sip:{callee}@127.0.0.1")
    };
    let t = Instant::now();
    ctrl.send("dial", &uri, "dial")
        .await
        .map_err(|e| e.to_string())?;
    ctrl.event("CALL_ESTABLISHED", T)
        .await
        .ok_or("dial: no CALL_ESTABLISHED within 10 s")?;
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

async fn bare_hangup(ctrl: &mut Ctrl) -> Result<(), String> {
    ctrl.send("hangup", "", "hangup")
        .await
        .map_err(|e| e.to_string())?;
    ctrl.event("CALL_CLOSED", T)
        .await
        .map(|_| ())
        .ok_or_else(|| "hangup: no CALL_CLOSED".to_owned())
}

fn bare_caller(kam: Kam, codecs: &str, source: String) -> Result<BenchBaresip, String> {
    BenchBaresip::start(&BaresipSpec {
        codecs: codecs.into(),
        source,
        ..baresip_spec(BARE_USER, kam.port)
    })
    .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------- figure 3

const SETUP_CALLS: usize = 10;

async fn figure3_call_setup(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut m = Metric::new(3, "call_setup", "call setup, dial → connected", "ms", true);
    m.note = format!("Seatphone: WS startCall → connected (host + audio plugin); baresip: ctrl_tcp dial → CALL_ESTABLISHED; callee baresip {CALLEE} auto-answering through Kamailio (Opus). {SETUP_CALLS} calls per side per round after one warm-up call; samples pooled.");
    let _callee = match BenchBaresip::start(&callee_spec(kam)) {
        Ok(c) => c,
        Err(e) => {
            m.miss(format!("callee baresip: {e}"));
            return vec![m];
        }
    };
    for r in 0..rounds {
        for seat_side in [seat_first(r), !seat_first(r)] {
            let res = if seat_side {
                seat_setups(kam).await
            } else {
                bare_setups(kam).await
            };
            match res {
                Ok(v) => {
                    eprintln!(
                        "  round {r} {}: median {:.1} ms of {}",
                        side_name(seat_side),
                        median(&v).unwrap_or(f64::NAN),
                        v.len()
                    );
                    if seat_side {
                        &mut m.seatphone
                    } else {
                        &mut m.baresip
                    }
                    .extend(v);
                }
                Err(e) => m.miss(format!("{}: {e}", side_name(seat_side))),
            }
        }
    }
    vec![m]
}

fn tail(text: &str, n: usize) -> String {
    let start = text.len().saturating_sub(n);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_owned()
}

fn side_name(seat: bool) -> &'static str {
    if seat {
        "Seatphone"
    } else {
        "baresip"
    }
}

async fn seat_setups(kam: Kam) -> Result<Vec<f64>, String> {
    let mut s = seat(kam, "112,9,8,0", Some("null".into()), Some("null".into())).await?;
    let mut out = Vec::new();
    for i in 0..=SETUP_CALLS {
        let (ms, id) = seat_dial(&mut s.page, CALLEE).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        seat_hangup(&mut s.page, id).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if i > 0 {
            out.push(ms);
        }
    }
    drop(s.host);
    Ok(out)
}

async fn bare_setups(kam: Kam) -> Result<Vec<f64>, String> {
    let b = bare_caller(
        kam,
        "opus/48000/2,G722/16000/1,PCMU/8000/1,PCMA/8000/1",
        format!("aufile,{}", media_files().1.display()),
    )?;
    let mut ctrl = b.ctrl().await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for i in 0..=SETUP_CALLS {
        let ms = bare_dial(&mut ctrl, CALLEE).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        bare_hangup(&mut ctrl).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if i > 0 {
            out.push(ms);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- figure 4 (+ 2 in call)

const CPU_CALL: Duration = Duration::from_secs(20);

async fn figure4_cpu(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut opus = Metric::new(4, "cpu_opus", "CPU per minute, Opus call", "s/min", true);
    let mut g711 = Metric::new(4, "cpu_g711", "CPU per minute, G.711 call", "s/min", true);
    let mut pss = Metric::new(2, "pss_call", "PSS during an Opus call", "MiB", true);
    let note = format!("Caller under test calls baresip {CALLEE} (auto-answer, sends speech-like audio from a WAV) through Kamailio; the caller sends a 48 kHz speech-like WAV (Seatphone [audio] input = file:, output = null; baresip aufile source, no player module), 20 ms packets. utime+stime of all the caller's processes over {} s after 2 s of call, scaled to a minute.", CPU_CALL.as_secs());
    opus.note = format!("{note} Opus (baresip opus_bitrate 32000, mono).");
    g711.note = format!("{note} PCMA.");
    pss.note =
        "Seatphone daemon + engine (audio-only) vs baresip, 10 s into the Opus call of figure 4."
            .into();
    let _callee = match BenchBaresip::start(&callee_spec(kam)) {
        Ok(c) => c,
        Err(e) => {
            for m in [&mut opus, &mut g711, &mut pss] {
                m.miss(format!("callee baresip: {e}"));
            }
            return vec![opus, g711, pss];
        }
    };
    for r in 0..rounds {
        for seat_side in [seat_first(r), !seat_first(r)] {
            for (codec_seat, codec_bare, is_opus) in
                [("112", "opus/48000/2", true), ("8", "PCMA/8000/1", false)]
            {
                let res = if seat_side {
                    seat_cpu(kam, codec_seat).await
                } else {
                    bare_cpu(kam, codec_bare).await
                };
                let m = if is_opus { &mut opus } else { &mut g711 };
                match res {
                    Ok((cpu, mem)) => {
                        eprintln!(
                            "  round {r} {} {}: {cpu:.3} CPU s/min, PSS {} KiB",
                            side_name(seat_side),
                            if is_opus { "Opus" } else { "G.711" },
                            mem.pss_kb
                        );
                        if seat_side {
                            &mut m.seatphone
                        } else {
                            &mut m.baresip
                        }
                        .push(cpu);
                        if is_opus {
                            if seat_side {
                                &mut pss.seatphone
                            } else {
                                &mut pss.baresip
                            }
                            .push(mem.pss_kb as f64 / 1024.0);
                        }
                    }
                    Err(e) => {
                        m.miss(format!("{}: {e}", side_name(seat_side)));
                        if is_opus {
                            pss.miss(format!("{}: {e}", side_name(seat_side)));
                        }
                    }
                }
            }
        }
    }
    vec![opus, g711, pss]
}

/// Reads the page for `d` (it must answer the host's pings); true if the call ended.
async fn pump_page(page: &mut Page, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    let mut ended = false;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(f) = page.next_frame(left).await {
            ended |= f["notify"] == Event::CallEnded.notify();
        }
    }
    ended
}

/// Reads ctrl_tcp for `d`; true if the call closed.
async fn pump_ctrl(ctrl: &mut Ctrl, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    let mut ended = false;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(f) = ctrl.next(left).await {
            ended |= f["type"] == "CALL_CLOSED";
        }
    }
    ended
}

async fn seat_cpu(kam: Kam, codec: &str) -> Result<(f64, measure::Mem), String> {
    let input = format!("file:{}", media_files().1.display());
    let mut s = seat(kam, codec, Some(input), Some("null".into())).await?;
    let (_, id) = match seat_dial(&mut s.page, CALLEE).await {
        Ok(x) => x,
        Err(e) => {
            return Err(format!(
                "{e}; host log tail: {}",
                tail(&s.host.stderr(), 1500)
            ))
        }
    };
    let mut ended = pump_page(&mut s.page, Duration::from_secs(2)).await;
    let c0 = measure::cpu_of(&s.host.pids());
    let t0 = Instant::now();
    ended |= pump_page(&mut s.page, CPU_CALL / 2).await;
    let mem = measure::mem_of(&s.host.pids());
    measure::dump_smaps_if_asked(&s.host.pids(), s.host.dir.path());
    ended |= pump_page(&mut s.page, CPU_CALL / 2).await;
    let c1 = measure::cpu_of(&s.host.pids());
    let per_min = (c1 - c0) / t0.elapsed().as_secs_f64() * 60.0;
    // The call must still be up at the end, or the figure measured nothing.
    if ended {
        return Err("the call ended before the measurement did".into());
    }
    seat_hangup(&mut s.page, id).await?;
    Ok((per_min, mem))
}

async fn bare_cpu(kam: Kam, codec: &str) -> Result<(f64, measure::Mem), String> {
    let b = bare_caller(kam, codec, format!("aufile,{}", media_files().1.display()))?;
    let mut ctrl = b.ctrl().await.map_err(|e| e.to_string())?;
    bare_dial(&mut ctrl, CALLEE).await?;
    let mut ended = pump_ctrl(&mut ctrl, Duration::from_secs(2)).await;
    let c0 = measure::cpu_of(&b.pids());
    let t0 = Instant::now();
    ended |= pump_ctrl(&mut ctrl, CPU_CALL / 2).await;
    let mem = measure::mem_of(&b.pids());
    measure::dump_smaps_if_asked(&b.pids(), b.dir.path());
    ended |= pump_ctrl(&mut ctrl, CPU_CALL / 2).await;
    let c1 = measure::cpu_of(&b.pids());
    let per_min = (c1 - c0) / t0.elapsed().as_secs_f64() * 60.0;
    if ended {
        return Err("the call ended before the measurement did".into());
    }
    bare_hangup(&mut ctrl).await?;
    Ok((per_min, mem))
}

// ---------------------------------------------------------------- figure 5

/// Figure 5's sound devices, one PulseAudio server: a stereo null sink
/// `bus` whose left channel is the microphone and right channel the
/// speaker. The phone under test captures from `micsrc` (the left channel of
/// `bus.monitor`) and plays into `spk` (a mono sink onto the right channel);
/// the driver plays the clicks into `mic` (onto the left channel) and records
/// `bus.monitor`. Both ends of the path are in one recording on one clock:
/// a click's delay is where it comes back on the right minus where it went
/// in on the left, with no process start-up or scheduling of the driver in it.
const FIG5_DEVICES: [&str; 4] = [
    "module-null-sink sink_name=bus rate=48000 channels=2 channel_map=front-left,front-right",
    "module-remap-sink sink_name=mic master=bus channels=1 channel_map=mono master_channel_map=front-left remix=no",
    "module-remap-sink sink_name=spk master=bus channels=1 channel_map=mono master_channel_map=front-right remix=no",
    "module-remap-source source_name=micsrc master=bus.monitor channels=1 channel_map=mono master_channel_map=front-left remix=no",
];
/// The driver's player and recorder ask PulseAudio for this latency.
const FIG5_CLIENT_LATENCY_MS: u32 = 10;

async fn figure5_latency(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut m = Metric::new(5, "audio_latency", "added audio-path latency", "ms", true);
    m.note = format!("Both on PulseAudio (one private server, null sinks): the phone under test (PCMU, as SIPp answers) calls SIPp -sn uas -rtp_echo through Kamailio, capturing from a null sink's monitor and playing into a null sink (Seatphone: [audio] input/output = \"pulse\", cpal's ALSA pulse device, server defaults; baresip: pulse module, audio_source pulse,micsrc, audio_player pulse,spk). The driver plays a 5 ms 2 kHz burst every second into the microphone sink and records the microphone and the speaker as the left and right channel of one stereo sink's monitor (pacat/parec, {FIG5_CLIENT_LATENCY_MS} ms requested), from 2 s after the call is up; each burst's delay from left to right, median per call, minus the wire time (median UDP round trip through SIPp's echo port). Both figures include PulseAudio's buffering of the phone's capture and playback streams (what each asks for: Seatphone 10 ms ALSA periods, a 20 ms buffer, baresip 20 ms fragsize/tlength).");
    let pulse = match Pulse::start(&FIG5_DEVICES) {
        Ok(p) => p,
        Err(e) => {
            m.miss(format!("PulseAudio: {e}"));
            return vec![m];
        }
    };
    // The host's "pulse" device takes the server's defaults.
    if !pulse.pactl(&["set-default-source", "micsrc"]) || !pulse.pactl(&["set-default-sink", "spk"])
    {
        m.miss("PulseAudio: the default source/sink could not be set");
        return vec![m];
    }
    for r in 0..rounds {
        for seat_side in [seat_first(r), !seat_first(r)] {
            let res = if seat_side {
                seat_latency(kam, &pulse).await
            } else {
                bare_latency(kam, &pulse).await
            };
            match res {
                Ok(ms) => {
                    eprintln!("  round {r} {}: {ms:.1} ms", side_name(seat_side));
                    if seat_side {
                        &mut m.seatphone
                    } else {
                        &mut m.baresip
                    }
                    .push(ms);
                }
                Err(e) => m.miss(format!("{}: {e}", side_name(seat_side))),
            }
        }
    }
    m.note.push_str(" Seatphone's jitter buffer holds at least 40 ms (media/src/jitter.rs, MIN_DELAY) and PCMU is resampled 8 ↔ 48 kHz (rubato FFT, 5 ms each way); baresip's jitter buffer is its default jitter_buffer_delay 5-10 (frames) with audio_buffer 20-160 ms before the player.");
    vec![m]
}

/// SIPp answering one call and echoing its RTP, the median UDP round trip
/// through its echo port (the wire time to subtract), and a folder for
/// the recordings.
async fn echo_peer() -> Result<(measure::BenchSipp, f64, tempfile::TempDir), String> {
    let sipp = measure::BenchSipp::start(
        &[
            "-sn",
            "uas",
            "-rtp_echo",
            "-m",
            "1",
            "-recv_timeout",
            "30000",
        ]
        .map(String::from),
        &[],
    )
    .map_err(|e| e.to_string())?;
    let wire = udp_echo_ms(sipp.media_port).await?;
    let dir = tempfile::Builder::new()
        .prefix("bench-lat")
        .tempdir()
        .map_err(|e| e.to_string())?;
    Ok((sipp, wire, dir))
}

/// Clicks played into figure 5's microphone sink while `bus.monitor` is
/// recorded; both stop when dropped. They start before the phone opens its
/// devices, so the server's latencies are settled when it does.
struct Clicks {
    _player: PulseClient,
    recorder: PulseClient,
    path: PathBuf,
    started: Instant,
}

impl Clicks {
    fn start(pulse: &Pulse, dir: &std::path::Path) -> Result<Clicks, String> {
        let latency = format!("--latency-msec={FIG5_CLIENT_LATENCY_MS}");
        let path = dir.join("bus.raw");
        let recorder = pulse
            .spawn(
                "parec",
                &[
                    "--device=bus.monitor",
                    "--format=s16le",
                    "--rate=48000",
                    "--channels=2",
                    &latency,
                ],
                Some(&path),
            )
            .map_err(|e| format!("parec: {e}"))?;
        let clicks = media_files().2.display().to_string();
        let player = pulse
            .spawn(
                "pacat",
                &["--device=mic", "--file-format=wav", &latency, &clicks],
                None,
            )
            .map_err(|e| format!("pacat: {e}"))?;
        Ok(Clicks {
            _player: player,
            recorder,
            path,
            started: Instant::now(),
        })
    }

    /// Stops recording; the delay from the microphone (left) to the
    /// speaker (right), in ms, of each burst played from [`FIG5_SETTLE`]
    /// after `connected` on.
    fn delays(mut self, connected: Instant) -> Result<Vec<f64>, String> {
        self.recorder.stop();
        let ch = read_raw_s16(&self.path, 2).map_err(|e| format!("recording: {e}"))?;
        let at = |x: &[i16]| -> Vec<f64> {
            measure::onsets(x, 3000, 4800)
                .into_iter()
                .map(|o| o as f64 / 48.0)
                .collect()
        };
        // parec's first sample is a few ms after `started`: close enough
        // for a margin of seconds.
        let settled = (connected.duration_since(self.started) + FIG5_SETTLE).as_secs_f64() * 1e3;
        let sent: Vec<f64> = at(&ch[0]).into_iter().filter(|t| *t > settled).collect();
        let back = at(&ch[1]);
        let delays: Vec<f64> = sent
            .iter()
            .filter_map(|t| {
                back.iter()
                    .find(|b| **b > *t && **b < *t + 900.0)
                    .map(|b| b - t)
            })
            .collect();
        if delays.len() < 3 {
            return Err(format!(
                "only {} of {} bursts came back (bursts on the speaker: {})",
                delays.len(),
                sent.len(),
                back.len()
            ));
        }
        eprintln!(
            "    {} bursts, {:.1}–{:.1} ms before the wire time is taken off",
            delays.len(),
            percentile(&delays, 0.0).unwrap_or(f64::NAN),
            percentile(&delays, 100.0).unwrap_or(f64::NAN)
        );
        Ok(delays)
    }
}

/// The phone's own PulseAudio streams as the server sees them: the latency
/// lines of `pactl list sink-inputs` / `source-outputs` of clients other
/// than the driver's pacat/parec (the remap modules' streams are no clients).
fn pulse_streams(pulse: &Pulse) -> String {
    let mut out = Vec::new();
    for kind in ["sink-inputs", "source-outputs"] {
        let text = pulse.pactl_output(&["list", kind]);
        for block in text.split("\n\n") {
            if !block.contains("Driver: protocol-native.c")
                || block.contains("application.process.binary = \"pacat\"")
                || block.contains("application.process.binary = \"parec\"")
            {
                continue;
            }
            let lat: Vec<&str> = block
                .lines()
                .map(str::trim)
                .filter(|l| {
                    l.starts_with("Buffer Latency")
                        || l.starts_with("Sink Latency")
                        || l.starts_with("Source Latency")
                        || l.starts_with("Sample Specification")
                        || l.starts_with("application.name")
                })
                .collect();
            if !lat.is_empty() {
                out.push(format!("{kind}: {}", lat.join(", ")));
            }
        }
    }
    out.join("; ")
}

/// How long figure 5's call lasts.
const FIG5_CALL: Duration = Duration::from_secs(10);
/// Bursts in a call's first seconds are not counted: the jitter buffer and
/// the devices settle (a new stream on an idle null sink waits for the end
/// of the block the sink is rendering, up to 2 s, for either phone).
const FIG5_SETTLE: Duration = Duration::from_secs(2);

async fn seat_latency(kam: Kam, pulse: &Pulse) -> Result<f64, String> {
    let (mut sipp, wire, dir) = echo_peer().await?;
    let host = BenchHost::start(&HostSpec {
        audio_input: Some("pulse".into()),
        audio_output: Some("pulse".into()),
        env: pulse.env(),
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut page = host.call_page().await.map_err(|e| e.to_string())?;
    BenchHost::register(&mut page, kam.port, SEAT_USER, "0,8").await?;
    let clicks = Clicks::start(pulse, dir.path())?;
    let (_, id) = seat_dial(&mut page, &format!("service@127.0.0.1:{}", sipp.port)).await?;
    let connected = Instant::now();
    let mut ended = pump_page(&mut page, FIG5_CALL / 2).await;
    eprintln!("    Seatphone's streams: {}", pulse_streams(pulse));
    ended |= pump_page(&mut page, FIG5_CALL / 2).await;
    let delays = clicks.delays(connected);
    if ended {
        return Err("the call ended before the measurement did".into());
    }
    seat_hangup(&mut page, id).await?;
    let _ = sipp.wait(Duration::from_secs(5)).await;
    let delays =
        delays.map_err(|e| format!("{e}; host log tail: {}", tail(&host.stderr(), 1500)))?;
    Ok(median(&delays).unwrap_or(f64::NAN) - wire)
}

async fn bare_latency(kam: Kam, pulse: &Pulse) -> Result<f64, String> {
    let (mut sipp, wire, dir) = echo_peer().await?;
    let b = BenchBaresip::start(&BaresipSpec {
        codecs: "PCMU/8000/1".into(),
        source: "pulse,micsrc".into(),
        extra_modules: vec!["pulse.so".into()],
        extra_config: "audio_player\t\tpulse,spk".into(),
        env: pulse.env(),
        ..baresip_spec(BARE_USER, kam.port)
    })
    .map_err(|e| e.to_string())?;
    let mut ctrl = b.ctrl().await.map_err(|e| e.to_string())?;
    let clicks = Clicks::start(pulse, dir.path())?;
    bare_dial(&mut ctrl, &format!("service@127.0.0.1:{}", sipp.port)).await?;
    let connected = Instant::now();
    let mut ended = pump_ctrl(&mut ctrl, FIG5_CALL / 2).await;
    eprintln!("    baresip's streams: {}", pulse_streams(pulse));
    ended |= pump_ctrl(&mut ctrl, FIG5_CALL / 2).await;
    let delays = clicks.delays(connected);
    if ended {
        return Err("the call ended before the measurement did".into());
    }
    bare_hangup(&mut ctrl).await?;
    let _ = sipp.wait(Duration::from_secs(5)).await;
    let delays = delays.map_err(|e| format!("{e}; baresip log tail: {}", tail(&b.log(), 1500)))?;
    Ok(median(&delays).unwrap_or(f64::NAN) - wire)
}

/// Median UDP round trip (ms) through an echoing port.
async fn udp_echo_ms(port: u16) -> Result<f64, String> {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..20 {
        let t = Instant::now();
        sock.send_to(&[0x80u8; 172], ("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        if tokio::time::timeout(Duration::from_millis(500), sock.recv_from(&mut buf))
            .await
            .is_ok()
        {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    median(&times).ok_or_else(|| "SIPp's echo port did not answer".into())
}

// ---------------------------------------------------------------- figure 6

fn endurance_calls() -> usize {
    std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

const FLOOD_CALLS: usize = 400;

const FLOOD_XML: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="flood">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="486" optional="true" next="busy"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="5000"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true" next="end"/>
  <label id="busy"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <label id="end"/>
</scenario>
"#;

/// What one side did under SIPp.
#[derive(Default)]
struct Endurance {
    failed: f64,
    pss_growth_mib: f64,
    fd_growth: f64,
    flood_486: f64,
    flood_answered: f64,
    flood_other: f64,
    alive: bool,
}

async fn figure6_endurance(kam: Kam, _rounds: usize) -> Vec<Metric> {
    let n = endurance_calls();
    let mut failed = Metric::new(
        6,
        "endurance_failed",
        "endurance: failed calls",
        "calls",
        true,
    );
    let mut pss = Metric::new(
        6,
        "endurance_pss_growth",
        "endurance: PSS growth",
        "MiB",
        true,
    );
    let mut fds = Metric::new(
        6,
        "endurance_fd_growth",
        "endurance: open fd growth",
        "fds",
        true,
    );
    let mut refused = Metric::new(
        6,
        "flood_486",
        "INVITE flood: refused with 486",
        "calls",
        false,
    );
    let mut other = Metric::new(
        6,
        "flood_other",
        "INVITE flood: neither 200 nor 486",
        "calls",
        true,
    );
    failed.note = format!("{n} sequential calls from SIPp (-sn uac, -l 1, 1 s talk) straight to the callee's SIP port, callee auto-answering (Seatphone: SetAnswerWay 2, audio-only, registered; baresip answermode=auto). Both sides run at the same time (two SIPp instances) so machine noise hits both. PSS/fds: after (5 s after the last call) minus before (after registration, before the first call).");
    refused.note = format!("Then {FLOOD_CALLS} INVITEs at 200/s, each answered call held 5 s, max_calls = 2 on both sides (Seatphone [sip] max_calls, baresip call_max_calls); counts from SIPp's screen.");
    let (seat_res, bare_res) = tokio::join!(seat_endurance(kam, n), bare_endurance(kam, n));
    for (is_seat, res) in [(true, seat_res), (false, bare_res)] {
        match res {
            Ok(e) => {
                eprintln!(
                    "  {}: failed {}, PSS +{:.2} MiB, fds +{}, flood 486 {} answered {} other {}, alive {}",
                    side_name(is_seat), e.failed, e.pss_growth_mib, e.fd_growth, e.flood_486, e.flood_answered, e.flood_other, e.alive
                );
                let pick = |m: &mut Metric, v: f64| {
                    if is_seat {
                        m.seatphone.push(v)
                    } else {
                        m.baresip.push(v)
                    }
                };
                pick(&mut failed, e.failed);
                pick(&mut pss, e.pss_growth_mib);
                pick(&mut fds, e.fd_growth);
                pick(&mut refused, e.flood_486);
                pick(&mut other, e.flood_other);
                if !e.alive {
                    refused.note.push_str(&format!(
                        " {} did not survive the flood.",
                        side_name(is_seat)
                    ));
                }
            }
            Err(e) => {
                for m in [&mut failed, &mut pss, &mut fds, &mut refused, &mut other] {
                    m.miss(format!("{}: {e}", side_name(is_seat)));
                }
            }
        }
    }
    vec![failed, pss, fds, refused, other]
}

async fn run_sipp_uac(
    target: String,
    args: &[&str],
    timeout: Duration,
) -> Result<measure::BenchSipp, String> {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.push(target);
    let files = [("flood.xml", FLOOD_XML)];
    let mut sipp = measure::BenchSipp::start(&all, &files).map_err(|e| e.to_string())?;
    if sipp.wait(timeout).await.is_none() {
        return Err(format!(
            "SIPp did not finish within {timeout:?}: {}",
            sipp.output()
        ));
    }
    Ok(sipp)
}

/// The count of the first scenario line receiving `code` on SIPp's final
/// screen (`486 <----------  398`): for 200 that is the INVITE's.
fn screen_count(screen: &str, code: &str) -> f64 {
    let last = screen.rsplit("Messages").next().unwrap_or(screen);
    last.lines()
        .find_map(|l| {
            let rest = l
                .trim_start()
                .strip_prefix(code)?
                .trim_start()
                .strip_prefix("<----------")?;
            rest.split_whitespace().find_map(|t| t.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

fn endurance_args(n: usize) -> Vec<String> {
    [
        "-sn",
        "uac",
        "-m",
        &n.to_string(),
        "-l",
        "1",
        "-r",
        "50",
        "-d",
        "1000",
        "-recv_timeout",
        "10000",
        "-default_behaviors",
        "all,-abortunexp",
    ]
    .map(String::from)
    .to_vec()
}

const FLOOD_ARGS: [&str; 10] = [
    "-sf",
    "flood.xml",
    "-m",
    "400",
    "-r",
    "200",
    "-recv_timeout",
    "10000",
    "-l",
    "1000",
];

async fn seat_endurance(kam: Kam, n: usize) -> Result<Endurance, String> {
    let sip_port = seatphone_tests::peers::free_port(1);
    let host = BenchHost::start(&HostSpec {
        sip_port,
        max_calls: 2,
        audio_input: Some("null".into()),
        audio_output: Some("null".into()),
        // SIPp calls the seat directly, as it calls baresip (which takes
        // calls from anyone).
        accept_from: vec!["127.0.0.1".into()],
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut page = host.call_page().await.map_err(|e| e.to_string())?;
    BenchHost::register(&mut page, kam.port, SEAT_USER, "112,9,8,0").await?;
    let r = page
        .request(
            Command::SetAnswerWay,
            json!({"answerWay": "2", "times": "0"}),
        )
        .await;
    if r["result"] != 0 {
        return Err(format!("SetAnswerWay: {r}"));
    }
    // The page keeps reading in the background so events never pile up.
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        let mut events = 0usize;
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                f = page.next_frame(Duration::from_millis(200)) => if f.is_some() { events += 1 },
            }
        }
        (page, events)
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = (measure::mem_of(&host.pids()), measure::fds_of(&host.pids()));
    let _ = std::fs::create_dir_all(host.dir.path().join("before"));
    measure::dump_smaps_if_asked(&host.pids(), &host.dir.path().join("before"));
    eprintln!(
        "  Seatphone threads before: {}",
        measure::threads_of(&host.pids())
    );
    let target = format!("127.0.0.1:{sip_port}");
    let args = endurance_args(n);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let sipp = run_sipp_uac(
        target.clone(),
        &args,
        Duration::from_secs(n as u64 * 3 + 60),
    )
    .await?;
    let failed = sipp.stat("FailedCall(C)").ok_or("no SIPp statistics")? as f64;
    let ok = sipp.stat("SuccessfulCall(C)").unwrap_or(0);
    eprintln!("  Seatphone endurance: {ok} successful, {failed} failed");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = (measure::mem_of(&host.pids()), measure::fds_of(&host.pids()));
    let _ = std::fs::create_dir_all(host.dir.path().join("after"));
    measure::dump_smaps_if_asked(&host.pids(), &host.dir.path().join("after"));
    eprintln!(
        "  Seatphone threads after: {}",
        measure::threads_of(&host.pids())
    );
    let flood = run_sipp_uac(target, &FLOOD_ARGS, Duration::from_secs(60)).await?;
    let screen = flood.screen();
    let _ = stop_tx.send(());
    let (mut page, _events) = reader.await.map_err(|e| e.to_string())?;
    let engine_alive = host.pids().len() >= 2;
    let page_ok = page.request(Command::GetMicVolume, json!({})).await["result"] == 0;
    let answered = screen_count(&screen, "200");
    let busy = screen_count(&screen, "486");
    Ok(Endurance {
        failed,
        pss_growth_mib: (after.0.pss_kb as f64 - before.0.pss_kb as f64) / 1024.0,
        fd_growth: after.1 as f64 - before.1 as f64,
        flood_486: busy,
        flood_answered: answered,
        flood_other: FLOOD_CALLS as f64 - busy - answered,
        alive: engine_alive && page_ok,
    })
}

async fn bare_endurance(kam: Kam, n: usize) -> Result<Endurance, String> {
    let b = BenchBaresip::start(&BaresipSpec {
        user: BARE_USER.into(),
        auto_answer: true,
        max_calls: 2,
        ..baresip_spec(BARE_USER, kam.port)
    })
    .map_err(|e| e.to_string())?;
    // ctrl_tcp connected, as a page is on the other side.
    let ctrl = b.ctrl().await.map_err(|e| e.to_string())?;
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        let mut ctrl = ctrl;
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                _ = ctrl.next(Duration::from_millis(200)) => {},
            }
        }
        ctrl
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = (measure::mem_of(&b.pids()), measure::fds_of(&b.pids()));
    let target = format!("127.0.0.1:{}", b.port);
    let mut args = endurance_args(n);
    args.extend(["-s".to_owned(), BARE_USER.to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let sipp = run_sipp_uac(
        target.clone(),
        &args,
        Duration::from_secs(n as u64 * 3 + 60),
    )
    .await?;
    let failed = sipp.stat("FailedCall(C)").ok_or("no SIPp statistics")? as f64;
    let ok = sipp.stat("SuccessfulCall(C)").unwrap_or(0);
    eprintln!("  baresip endurance: {ok} successful, {failed} failed");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = (measure::mem_of(&b.pids()), measure::fds_of(&b.pids()));
    let mut fargs: Vec<&str> = FLOOD_ARGS.to_vec();
    fargs.extend(["-s", BARE_USER]);
    let flood = run_sipp_uac(target, &fargs, Duration::from_secs(60)).await?;
    let screen = flood.screen();
    let _ = stop_tx.send(());
    let mut ctrl = reader.await.map_err(|e| e.to_string())?;
    let alive = ctrl.request("listcalls", "").await.is_some();
    let answered = screen_count(&screen, "200");
    let busy = screen_count(&screen, "486");
    Ok(Endurance {
        failed,
        pss_growth_mib: (after.0.pss_kb as f64 - before.0.pss_kb as f64) / 1024.0,
        fd_growth: after.1 as f64 - before.1 as f64,
        flood_486: busy,
        flood_answered: answered,
        flood_other: FLOOD_CALLS as f64 - busy - answered,
        alive,
    })
}
