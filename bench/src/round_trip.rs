//! Figure 1: the command round trip (p50/p99) and throughput, as
//! scheduled and with the driver and the server pinned to one CPU.

use std::time::{Duration, Instant};

use seatphone_tests::host::{frame_text, Command, Page};
use seatphone_tests::measure::{percentile, BenchHost, HostSpec};
use seatphone_tests::peers::baresip::Ctrl;

use crate::calls::{bare_phone, baresip_options, seat_first, Kam, T};
use crate::metric::Metric;

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

pub async fn figure1_round_trip(kam: Kam, rounds: usize) -> Vec<Metric> {
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
    let b = bare_phone(kam, &baresip_options())?;
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
