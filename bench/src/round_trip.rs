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
/// The driver alternates between the two phones every this many timed
/// round trips, each turn opened by `TURN_WARMUP` untimed ones (the first
/// requests after a switch find the caches holding the other phone): this
/// VM switches between a fast and a slow state (a p50 of ~13 or ~19 µs,
/// for either phone) every second or so, so a phone timed alone drew its
/// round's state at random; turns of a few milliseconds time both in the
/// same states. Throughput is not cut into turns (a pipelined run that
/// drains its window waits on baresip's Nagle and the driver's delayed
/// ACK, 40 ms, once per run): each phone's one run of ~0.1 s follows the
/// other's.
const RT_BATCH: usize = 200;
const TURN_WARMUP: usize = 10;
/// Both phones idle this long between start-up and the first request:
/// measured straight after Seatphone started (its engine and plugins
/// still settling) while baresip had 300 ms of quiet, half of Seatphone's
/// rounds ran with client and server on two vCPUs (p99 ~70 µs), none
/// after a second's quiet.
const RT_QUIET: Duration = Duration::from_secs(1);
const TP_WINDOW: usize = 16;

/// A phone's control connection: Seatphone's call WebSocket
/// (`tsdk_get_mic_volume`) or baresip's ctrl_tcp (`listcalls`).
enum Client {
    Seat { page: Box<Page>, seq: u64 },
    Bare(Ctrl),
}

impl Client {
    /// Sends one request; `token` tells its answer apart (baresip).
    async fn send(&mut self, token: usize) -> Result<(), String> {
        match self {
            Client::Seat { page, seq } => {
                *seq += 1;
                let frame = frame_text(
                    Command::GetMicVolume,
                    &format!(r#","param":{{}},"seq":{seq}"#),
                );
                page.send_text(&frame).await;
                Ok(())
            }
            Client::Bare(ctrl) => ctrl
                .send("listcalls", "", &format!("rt{token}"))
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Waits for the answer to a request; `Ok(false)` for a frame that is
    /// not one (baresip's events). `last`: it must answer the last request
    /// sent (Seatphone's `seq`), as in a round trip.
    async fn answer(&mut self, last: bool) -> Result<bool, String> {
        match self {
            Client::Seat { page, seq } => {
                let r = page.next_frame(T).await.ok_or("no answer from Seatphone")?;
                let answers = if last {
                    r["seq"] == *seq
                } else {
                    r.get("seq").is_some()
                };
                if r["result"] != 0 || !answers {
                    return Err(format!("unexpected frame {r}"));
                }
                Ok(true)
            }
            Client::Bare(ctrl) => {
                let r = ctrl.next(T).await.ok_or("no answer from baresip")?;
                if r["response"] != true {
                    return Ok(false);
                }
                if r["ok"] != true {
                    return Err(format!("listcalls: {r}"));
                }
                Ok(true)
            }
        }
    }

    /// `n` sequential round trips, in µs.
    async fn round_trips(&mut self, n: usize, times: &mut Vec<f64>) -> Result<(), String> {
        for i in 0..n {
            let t = Instant::now();
            self.send(i).await?;
            while !self.answer(true).await? {}
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        Ok(())
    }

    /// The time `n` requests take with `TP_WINDOW` outstanding.
    async fn throughput(&mut self, n: usize) -> Result<Duration, String> {
        let t = Instant::now();
        let (mut sent, mut got) = (0usize, 0usize);
        while got < n {
            while sent < n && sent - got < TP_WINDOW {
                self.send(sent).await?;
                sent += 1;
            }
            if self.answer(false).await? {
                got += 1;
            }
        }
        Ok(t.elapsed())
    }
}

/// Round-trip times (µs) and requests/s of each phone, timed in turns.
type Timings = [(Vec<f64>, f64); 2];

/// Times both phones, alternating every `RT_BATCH` round trips, then
/// their throughput one after the other; `clients[0]` goes first in even
/// turns.
async fn alternate(clients: &mut [Client; 2]) -> Result<Timings, String> {
    let mut times = [Vec::new(), Vec::new()];
    let mut untimed = Vec::new();
    for c in clients.iter_mut() {
        c.round_trips(RT_WARMUP, &mut untimed).await?;
    }
    let order = |turn: usize| {
        if turn.is_multiple_of(2) {
            [0, 1]
        } else {
            [1, 0]
        }
    };
    for turn in 0..RT_SAMPLES / RT_BATCH {
        for i in order(turn) {
            clients[i].round_trips(TURN_WARMUP, &mut untimed).await?;
            clients[i].round_trips(RT_BATCH, &mut times[i]).await?;
        }
    }
    let mut rates = [0.0; 2];
    for i in order(0) {
        let spent = clients[i].throughput(TP_REQUESTS).await?;
        rates[i] = TP_REQUESTS as f64 / spent.as_secs_f64();
    }
    let [a, b] = times;
    Ok([(a, rates[0]), (b, rates[1])])
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
                "Seatphone: tsdk_get_mic_volume over the call WebSocket (host + audio plugin); baresip: ctrl_tcp `listcalls` (no call). {RT_SAMPLES} sequential requests after {RT_WARMUP} warm-up; throughput with {TP_WINDOW} outstanding, {TP_REQUESTS} requests. Both phones run side by side for the round and the driver alternates between them every {RT_BATCH} timed round trips (each turn opened by {TURN_WARMUP} untimed ones), so both are timed in the same moments: this VM switches between a fast and a slow state every second or so. Throughput: one run each, back to back. {}",
                match placement {
                    Placement::AsScheduled => "Threads where the scheduler puts them.",
                    Placement::OneCpu => "The driver and both servers (all their threads) pinned to CPU 0 for the round: a wake-up across vCPUs costs ~40 µs in this VM and the scheduler's choice of one or two vCPUs lasts hundreds of requests, so this is the server's own figure.",
                }
            );
        }
        for r in 0..rounds {
            match round(kam, placement, seat_first(r)).await {
                Ok(timed) => {
                    for ((times, rate), seat) in timed.into_iter().zip([true, false]) {
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
                        let who = if seat { "Seatphone" } else { "baresip" };
                        eprintln!("  round {r}{label} {who}: p50 {a:.0} µs, p99 {b:.0} µs, {rate:.0} req/s");
                    }
                }
                Err(e) => {
                    for m in [&mut p50, &mut p99, &mut tp] {
                        m.miss(format!("round {r}: {e}"));
                    }
                }
            }
        }
        metrics.extend([p50, p99, tp]);
    }
    metrics
}

/// One round: both phones started and connected side by side, then timed
/// in turns (`alternate`), `seat_first` deciding who opens each pair of
/// turns; Seatphone's timings, then baresip's.
async fn round(kam: Kam, placement: Placement, seat_first: bool) -> Result<Timings, String> {
    let host = BenchHost::start(&HostSpec::default())
        .await
        .map_err(|e| format!("Seatphone: {e}"))?;
    let mut page = host
        .call_page()
        .await
        .map_err(|e| format!("Seatphone: {e}"))?;
    let b = bare_phone(kam, &baresip_options()).map_err(|e| format!("baresip: {e}"))?;
    let mut ctrl = b.ctrl().await.map_err(|e| format!("baresip: {e}"))?;
    // Both quiet for the same second, as the scheduler sees them.
    tokio::join!(page.forget(RT_QUIET), ctrl.forget(RT_QUIET));
    let seat = Client::Seat {
        page: Box::new(page),
        seq: 1_000_000,
    };
    let mut clients = if seat_first {
        [seat, Client::Bare(ctrl)]
    } else {
        [Client::Bare(ctrl), seat]
    };
    let servers: Vec<u32> = host.pids().into_iter().chain(b.pids()).collect();
    let _pinned = Pinned::new(placement, &servers)?;
    let [a, z] = alternate(&mut clients).await?;
    Ok(if seat_first { [a, z] } else { [z, a] })
}

/// The driver and the servers on CPU 0 while it lives (`Placement::OneCpu`);
/// the driver back on every CPU after.
struct Pinned(bool);

impl Pinned {
    fn new(placement: Placement, servers: &[u32]) -> Result<Self, String> {
        if placement == Placement::AsScheduled {
            return Ok(Self(false));
        }
        for pid in servers.iter().copied().chain([std::process::id()]) {
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
