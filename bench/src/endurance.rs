//! Figure 6: endurance (sequential SIPp calls: failures, PSS and fd growth)
//! and an INVITE flood against `max_calls` 2, both phones at once.

use std::time::Duration;

use seatphone_tests::host::Command;
use seatphone_tests::measure::{self, BenchHost, HostSpec};
use seatphone_tests::peers::baresip::{AnswerMode, BaresipOptions};
use seatphone_tests::peers::free_port;
use serde_json::json;

use crate::calls::{bare_phone, baresip_options, side_name, Kam, BARE_USER, SEAT_USER};
use crate::metric::Metric;

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

pub async fn figure6_endurance(kam: Kam, _rounds: usize) -> Vec<Metric> {
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
    let sip_port = free_port(1);
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
    let b = bare_phone(
        kam,
        &BaresipOptions {
            answer: AnswerMode::Auto,
            max_calls: 2,
            ..baresip_options()
        },
    )?;
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
