//! Figure 3: call setup, dial → connected.

use std::time::Duration;

use seatphone_tests::measure::median;

use crate::calls::{
    bare_caller, bare_dial, bare_hangup, callee, seat, seat_dial, seat_first, seat_hangup,
    side_name, Kam, CALLEE, TONE_HZ,
};
use crate::metric::Metric;

const SETUP_CALLS: usize = 10;

pub async fn figure3_call_setup(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut m = Metric::new(3, "call_setup", "call setup, dial → connected", "ms", true);
    m.note = format!("Seatphone: WS startCall → connected (host + audio plugin, mic and speaker `null`); baresip: ctrl_tcp dial → CALL_ESTABLISHED (mic `ausine,{TONE_HZ}`, no player): both mics free of file I/O. Both offer Opus first; Kamailio challenges every INVITE without valid credentials (407): baresip's every call, Seatphone's warm-up call only, since each later INVITE answers that challenge ahead (RFC 3261 §22.3; the proxy still checks every INVITE's credentials); the callee is the same for both, SIPp {CALLEE} registered at Kamailio, answering Opus at once and echoing RTP. {SETUP_CALLS} calls per side per round after one warm-up call; samples pooled.");
    let _callee = match callee(kam).await {
        Ok(c) => c,
        Err(e) => {
            m.miss(e);
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
    let b = bare_caller(kam, "opus/48000/2,G722/16000/1,PCMU/8000/1,PCMA/8000/1")?;
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
