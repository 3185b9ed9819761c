//! Figure 4: CPU per minute of an Opus and a G.711 call, and figure 2's
//! PSS during the Opus call.

use std::time::{Duration, Instant};

use seatphone_tests::measure::{self, BenchBaresip};

use crate::calls::{
    bare_caller, bare_dial, bare_hangup, callee_spec, media_files, pump_ctrl, pump_page, seat,
    seat_dial, seat_first, seat_hangup, side_name, tail, Kam, CALLEE,
};
use crate::metric::Metric;

const CPU_CALL: Duration = Duration::from_secs(20);

pub async fn figure4_cpu(kam: Kam, rounds: usize) -> Vec<Metric> {
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
