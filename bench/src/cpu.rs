//! Figure 4: CPU per minute of an Opus and a G.711 call, and figure 2's
//! PSS during the Opus call.

use std::time::{Duration, Instant};

use seatphone_tests::measure;

use crate::calls::{
    bare_caller, bare_dial, bare_hangup, callee, media_files, pump_ctrl, pump_page, seat,
    seat_dial, seat_first, seat_hangup, side_name, tail, Kam, CALLEE, TONE_HZ,
};
use crate::metric::Metric;
use crate::sharing;

/// CPU time counts from this long after the call is up ...
const CALL_SETTLE: Duration = Duration::from_secs(2);
/// ... for this long.
const CPU_CALL: Duration = Duration::from_secs(20);
/// PSS is read this long after the call is up (within the CPU window).
const PSS_AT: Duration = Duration::from_secs(20);

/// What one call gave: CPU s/min, PSS at [`PSS_AT`], and what else
/// shared its pages then.
type CallReading = (f64, measure::Mem, Vec<String>);

pub async fn figure4_cpu(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut opus = Metric::new(4, "cpu_opus", "CPU per minute, Opus call", "s/min", true);
    let mut g711 = Metric::new(4, "cpu_g711", "CPU per minute, G.711 call", "s/min", true);
    let mut pss = Metric::new(2, "pss_call", "PSS during an Opus call", "MiB", true);
    let note = format!("The caller under test calls SIPp {CALLEE} (registered at Kamailio, answering at once, echoing RTP; the same for both) through Kamailio, offering one codec; both send a {TONE_HZ} Hz tone (Seatphone: a 48 kHz mono WAV of it, [audio] input = file:, output = null; baresip: ausine,{TONE_HZ}, no player module), 20 ms packets. utime+stime of all the caller's processes over {} s from {} s after the call is up, scaled to a minute.", CPU_CALL.as_secs(), CALL_SETTLE.as_secs());
    opus.note = format!("{note} Opus (baresip opus_bitrate 32000, mono).");
    g711.note = format!("{note} PCMA.");
    pss.note = format!(
        "Seatphone daemon + engine (audio-only) vs baresip, {} s into the Opus call of figure 4 (same callee, same tone).",
        PSS_AT.as_secs()
    );
    let _callee = match callee(kam).await {
        Ok(c) => c,
        Err(e) => {
            for m in [&mut opus, &mut g711, &mut pss] {
                m.miss(e.clone());
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
                    Ok((cpu, mem, others)) => {
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
                            pss.warn(others);
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

async fn seat_cpu(kam: Kam, codec: &str) -> Result<CallReading, String> {
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
    let mut ended = pump_page(&mut s.page, CALL_SETTLE).await;
    let c0 = measure::cpu_of(&s.host.pids());
    let t0 = Instant::now();
    ended |= pump_page(&mut s.page, PSS_AT - CALL_SETTLE).await;
    let mem = measure::mem_of(&s.host.pids());
    measure::dump_smaps_if_asked(&s.host.pids(), s.host.dir.path());
    let others = sharing::others(&s.host.pids());
    ended |= pump_page(&mut s.page, CPU_CALL + CALL_SETTLE - PSS_AT).await;
    let c1 = measure::cpu_of(&s.host.pids());
    let per_min = (c1 - c0) / t0.elapsed().as_secs_f64() * 60.0;
    // The call must still be up at the end, or the figure measured nothing.
    if ended {
        return Err("the call ended before the measurement did".into());
    }
    seat_hangup(&mut s.page, id).await?;
    Ok((per_min, mem, others))
}

async fn bare_cpu(kam: Kam, codec: &str) -> Result<CallReading, String> {
    let b = bare_caller(kam, codec)?;
    let mut ctrl = b.ctrl().await.map_err(|e| e.to_string())?;
    bare_dial(&mut ctrl, CALLEE).await?;
    let mut ended = pump_ctrl(&mut ctrl, CALL_SETTLE).await;
    let c0 = measure::cpu_of(&b.pids());
    let t0 = Instant::now();
    ended |= pump_ctrl(&mut ctrl, PSS_AT - CALL_SETTLE).await;
    let mem = measure::mem_of(&b.pids());
    measure::dump_smaps_if_asked(&b.pids(), b.dir());
    let others = sharing::others(&b.pids());
    ended |= pump_ctrl(&mut ctrl, CPU_CALL + CALL_SETTLE - PSS_AT).await;
    let c1 = measure::cpu_of(&b.pids());
    let per_min = (c1 - c0) / t0.elapsed().as_secs_f64() * 60.0;
    if ended {
        return Err("the call ended before the measurement did".into());
    }
    bare_hangup(&mut ctrl).await?;
    Ok((per_min, mem, others))
}
