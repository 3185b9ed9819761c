//! Figure 2, idle: PSS and RSS of a registered phone with its control
//! client connected (the in-call PSS is taken by figure 4's call).

use std::time::Duration;

use seatphone_tests::host::WORKSPACE_PLUGINS;
use seatphone_tests::measure::{self, BenchHost, HostSpec};

use crate::calls::{bare_phone, baresip_options, seat_first, Kam, SEAT_USER};
use crate::metric::Metric;
use crate::sharing;

/// PSS is read this long after the phone registered (both phones), as
/// issue 20's independent run read it.
const SETTLE: Duration = Duration::from_secs(2);
/// And again this long after: an idle phone goes on running code it had
/// not run by 2 s (Seatphone's first keep-alive at 25 s; with the link
/// order recorded past it, its PSS no longer grows, nor baresip's), so
/// this reading is the idle state a user's tools would see.
const STEADY: Duration = Duration::from_secs(40);

/// PSS/RSS at `SETTLE` and at `STEADY`, and what else shared the pages.
type IdleReading = (measure::Mem, measure::Mem, Vec<String>);

pub async fn figure2_memory(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut pss_all = Metric::new(2, "pss_idle_all", "PSS idle, all plugins", "MiB", true);
    let mut rss_all = Metric::new(2, "rss_idle_all", "RSS idle, all plugins", "MiB", true);
    let mut pss_audio = Metric::new(2, "pss_idle_audio", "PSS idle, audio-only", "MiB", true);
    let mut steady_all = Metric::new(
        2,
        "pss_steady_all",
        "PSS idle 40 s, all plugins",
        "MiB",
        true,
    );
    let mut steady_audio = Metric::new(
        2,
        "pss_steady_audio",
        "PSS idle 40 s, audio-only",
        "MiB",
        true,
    );
    pss_all.note = "Seatphone daemon + engine with every plugin the workspace builds, registered, a page connected; baresip with its audio modules (opus, g722, g711, aufile, ausine), registered, ctrl_tcp connected; both read 2 s after registration. PSS summed over all processes. PSS splits shared pages among every process mapping them: the warnings list other processes that did.".into();
    rss_all.note = "As PSS idle; RSS summed over processes (counts shared pages twice for Seatphone's two processes).".into();
    pss_audio.note =
        "Seatphone host + audio plugin only (the audio-only deployment), same baresip.".into();
    steady_all.note = "As PSS idle, all plugins, read again 40 s after registration (both phones): the idle state after keep-alives and timers have run.".into();
    steady_audio.note = "As PSS idle, audio-only, read again 40 s after registration.".into();
    for r in 0..rounds {
        for seat in [seat_first(r), !seat_first(r)] {
            if seat {
                for (plugins, pss, steady, rss) in [
                    (
                        WORKSPACE_PLUGINS.to_vec(),
                        &mut pss_all,
                        &mut steady_all,
                        Some(&mut rss_all),
                    ),
                    (vec!["audio"], &mut pss_audio, &mut steady_audio, None),
                ] {
                    match seat_idle_mem(kam, &plugins).await {
                        Ok((m, later, others)) => {
                            pss.warn(others.clone());
                            steady.warn(others);
                            eprintln!(
                                "  round {r} Seatphone {plugins:?}: PSS {} KiB, RSS {} KiB; 40 s: PSS {} KiB",
                                m.pss_kb, m.rss_kb, later.pss_kb
                            );
                            pss.seatphone.push(m.pss_kb as f64 / 1024.0);
                            steady.seatphone.push(later.pss_kb as f64 / 1024.0);
                            if let Some(rss) = rss {
                                rss.seatphone.push(m.rss_kb as f64 / 1024.0);
                            }
                        }
                        Err(e) => {
                            pss.miss(format!("Seatphone: {e}"));
                            steady.miss(format!("Seatphone: {e}"));
                        }
                    }
                }
            } else {
                match bare_idle_mem(kam).await {
                    Ok((m, later, others)) => {
                        eprintln!(
                            "  round {r} baresip: PSS {} KiB, RSS {} KiB; 40 s: PSS {} KiB",
                            m.pss_kb, m.rss_kb, later.pss_kb
                        );
                        for x in [&mut pss_all, &mut pss_audio] {
                            x.baresip.push(m.pss_kb as f64 / 1024.0);
                            x.warn(others.clone());
                        }
                        for x in [&mut steady_all, &mut steady_audio] {
                            x.baresip.push(later.pss_kb as f64 / 1024.0);
                            x.warn(others.clone());
                        }
                        rss_all.baresip.push(m.rss_kb as f64 / 1024.0);
                    }
                    Err(e) => {
                        for x in [
                            &mut pss_all,
                            &mut pss_audio,
                            &mut rss_all,
                            &mut steady_all,
                            &mut steady_audio,
                        ] {
                            x.miss(format!("baresip: {e}"));
                        }
                    }
                }
            }
        }
    }
    vec![pss_all, rss_all, pss_audio, steady_all, steady_audio]
}

async fn seat_idle_mem(kam: Kam, plugins: &[&str]) -> Result<IdleReading, String> {
    let host = BenchHost::start(&HostSpec {
        plugins: plugins.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut page = host.call_page().await.map_err(|e| e.to_string())?;
    BenchHost::register(&mut page, kam.port, SEAT_USER, "112,9,8,0").await?;
    // The page reads meanwhile, answering the engine's pings as a
    // browser does (unanswered, the engine drops the page after 15 s).
    page.forget(SETTLE).await;
    let first = read(&host.pids(), &host.dir.path().join("settled"));
    page.forget(STEADY - SETTLE).await;
    Ok(both(
        first,
        read(&host.pids(), &host.dir.path().join("steady")),
    ))
}

async fn bare_idle_mem(kam: Kam) -> Result<IdleReading, String> {
    let b = bare_phone(kam, &baresip_options())?;
    let _ctrl = b.ctrl().await.map_err(|e| e.to_string())?;
    tokio::time::sleep(SETTLE).await;
    let first = read(&b.pids(), &b.dir().join("settled"));
    tokio::time::sleep(STEADY - SETTLE).await;
    Ok(both(first, read(&b.pids(), &b.dir().join("steady"))))
}

/// PSS/RSS of `pids` now, and what else shares their pages; with
/// `BENCH_KEEP`, their smaps into `dir`.
fn read(pids: &[u32], dir: &std::path::Path) -> (measure::Mem, Vec<String>) {
    measure::dump_smaps_if_asked(pids, dir);
    (measure::mem_of(pids), sharing::others(pids))
}

/// The two readings, and what shared the pages at either, each named once.
fn both(first: (measure::Mem, Vec<String>), later: (measure::Mem, Vec<String>)) -> IdleReading {
    let mut others = first.1;
    others.extend(later.1);
    others.sort();
    others.dedup();
    (first.0, later.0, others)
}
