//! Figure 2, idle: PSS and RSS of a registered phone with its control
//! client connected (the in-call PSS is taken by figure 4's call).

use std::time::Duration;

use seatphone_tests::host::WORKSPACE_PLUGINS;
use seatphone_tests::measure::{self, BenchHost, HostSpec};

use crate::calls::{bare_phone, baresip_options, seat_first, Kam, SEAT_USER};
use crate::metric::Metric;
use crate::sharing;

/// PSS is read this long after the phone registered (both phones).
const SETTLE: Duration = Duration::from_secs(2);

/// PSS/RSS and what else shared the pages then.
type IdleReading = (measure::Mem, Vec<String>);

pub async fn figure2_memory(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut pss_all = Metric::new(2, "pss_idle_all", "PSS idle, all plugins", "MiB", true);
    let mut rss_all = Metric::new(2, "rss_idle_all", "RSS idle, all plugins", "MiB", true);
    let mut pss_audio = Metric::new(2, "pss_idle_audio", "PSS idle, audio-only", "MiB", true);
    pss_all.note = "Seatphone daemon + engine with every plugin the workspace builds, registered, a page connected; baresip with its audio modules (opus, g722, g711, aufile, ausine), registered, ctrl_tcp connected; both read 2 s after registration. PSS summed over all processes. PSS splits shared pages among every process mapping them: the warnings list other processes that did.".into();
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
                        Ok((m, others)) => {
                            pss.warn(others);
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
                    Ok((m, others)) => {
                        eprintln!(
                            "  round {r} baresip: PSS {} KiB, RSS {} KiB",
                            m.pss_kb, m.rss_kb
                        );
                        for x in [&mut pss_all, &mut pss_audio] {
                            x.baresip.push(m.pss_kb as f64 / 1024.0);
                            x.warn(others.clone());
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

async fn seat_idle_mem(kam: Kam, plugins: &[&str]) -> Result<IdleReading, String> {
    let host = BenchHost::start(&HostSpec {
        plugins: plugins.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut page = host.call_page().await.map_err(|e| e.to_string())?;
    BenchHost::register(&mut page, kam.port, SEAT_USER, "112,9,8,0").await?;
    tokio::time::sleep(SETTLE).await;
    let mem = measure::mem_of(&host.pids());
    Ok((mem, sharing::others(&host.pids())))
}

async fn bare_idle_mem(kam: Kam) -> Result<IdleReading, String> {
    let b = bare_phone(kam, &baresip_options())?;
    let _ctrl = b.ctrl().await.map_err(|e| e.to_string())?;
    tokio::time::sleep(SETTLE).await;
    let mem = measure::mem_of(&b.pids());
    Ok((mem, sharing::others(&b.pids())))
}
