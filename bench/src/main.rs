//! Seatphone side by side with baresip 1.0, in one run, alternating rounds.
//! `bench/run.sh` builds and runs this; see bench/README.md for what each
//! figure measures and how. One module per figure; [`calls`] holds what the
//! call figures share, [`metric`] the numbers and their printing. Processes
//! are started and measured with the end-to-end harness (`seatphone-tests`:
//! `host`, `peers`, `measure`).
//!
//!     bench [--rounds N] [--figures 1,2,3,4,5,6,7,8,9,10] [--out DIR]

mod call_setup;
mod calls;
mod cpu;
mod endurance;
mod glass;
mod in_page;
mod latency;
mod memory;
mod metric;
mod mirror;
mod round_trip;
mod screen_share;
mod sharing;
mod video_call;
mod video_calls;

use std::path::PathBuf;

use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::{measure, page_cache};
use serde_json::{json, Value};

use calls::{Kam, FILES};
use metric::{print_metric, Metric};

struct Args {
    rounds: usize,
    figures: Vec<u32>,
    out: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        rounds: 5,
        figures: vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
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
            "--help" | "-h" => {
                println!(
                    "usage: bench [--rounds N] [--figures 1,2,..] [--out DIR]; see bench/README.md"
                );
                std::process::exit(0);
            }
            other => {
                eprintln!("unknown argument {other}; usage: bench [--rounds N] [--figures 1,2,..] [--out DIR]");
                std::process::exit(2);
            }
        }
    }
    a
}

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
/// binaries under test still have, as `scripts/link-order-check.sh` counts
/// them (exactly, or without the hashes a dependency or toolchain update
/// renames): code gone since the recording costs idle memory
/// (`scripts/link-order.sh` renews it).
fn link_order_coverage() -> String {
    let root = seatphone_tests::host::repo_root();
    let build = seatphone_tests::host::build_dir();
    // Relative to the checkout (the script works from there), so the
    // committed results name no machine's folders.
    let build = build.strip_prefix(&root).unwrap_or(&build);
    let report = command_output(
        &root
            .join("scripts/link-order-check.sh")
            .display()
            .to_string(),
        &[&build.display().to_string()],
    );
    report
        .lines()
        .find(|l| l.contains("recorded functions found"))
        .map(|l| l.trim_start_matches("link order: ").to_owned())
        .unwrap_or_else(|| "not counted (scripts/link-order-check.sh)".into())
}

async fn run(args: Args) -> i32 {
    let started = command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]);
    let load_before = loadavg();
    let link_order = link_order_coverage();
    let page_cache = match page_cache::State::from_env() {
        Ok(state) => state.name(),
        Err(e) => {
            eprintln!("bench: {e}");
            return 2;
        }
    };
    eprintln!(
        "bench: {} rounds, figures {:?}, load {load_before}; link order: {link_order}; phones start with their files {page_cache} in the page cache",
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
                1 => round_trip::figure1_round_trip(k, rounds).await,
                2 => memory::figure2_memory(k, rounds).await,
                3 => call_setup::figure3_call_setup(k, rounds).await,
                4 => cpu::figure4_cpu(k, rounds).await,
                5 => latency::figure5_latency(k, rounds).await,
                6 => endurance::figure6_endurance(k, rounds).await,
                7 => video_call::figure7_video(k, rounds).await,
                8 => glass::figure8_glass(k, rounds).await,
                9 => screen_share::figure9_share(k, rounds).await,
                10 => in_page::figure10_in_page(k, rounds).await,
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
        "page_cache": page_cache,
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
