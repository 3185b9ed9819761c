//! Figure 5: the audio path's added latency, both phones on one private
//! PulseAudio server, a burst every second through the phone and SIPp's
//! RTP echo.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use seatphone_tests::measure::{self, median, percentile, BenchHost, HostSpec};
use seatphone_tests::peers::baresip::BaresipOptions;
use seatphone_tests::pulse::{read_raw_s16, Pulse, PulseClient};

use crate::calls::{
    bare_dial, bare_hangup, bare_phone, baresip_options, media_files, pump_ctrl, pump_page,
    seat_dial, seat_first, seat_hangup, side_name, tail, Kam, SEAT_USER,
};
use crate::metric::Metric;

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

pub async fn figure5_latency(kam: Kam, rounds: usize) -> Vec<Metric> {
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
    let mut options = BaresipOptions {
        audio_codecs: "PCMU/8000/1".into(),
        audio_source: "pulse,micsrc".into(),
        env: pulse.env(),
        ..baresip_options()
    };
    options.modules.push("pulse.so".into());
    options.config.push_str("audio_player\t\tpulse,spk\n");
    let b = bare_phone(kam, &options)?;
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
