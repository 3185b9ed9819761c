//! Two audio plugins in one process, each with a host double and WAV files
//! as devices, negotiate on 127.0.0.1 and talk: what each side records must
//! be the other's tone, at its level, for every codec.

mod common;

#[path = "../../../tests/src/audio_check.rs"]
#[allow(dead_code)]
mod audio_check;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use audio_check::{dominant_frequency, longest_gap_ms, rms_dbfs, write_sine_wav, Recording};
use common::{call, TestHost};
use seatphone_audio as audio;
use seatphone_plugin_api::{
    AnswerRequest, Command, Event, OfferRequest, Plugin, StartRequest, StopRequest,
};
use serde_json::{json, Value};

/// Each side's microphone: A says 440 Hz, B says 1 kHz, both at −9 dBFS.
const A_HZ: f64 = 440.0;
const B_HZ: f64 = 1000.0;
const AMPLITUDE: f64 = 0.5;

/// Calls run one at a time: each is real-time work, and two cores shared by
/// a dozen media threads would measure the machine, not the plugin.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

struct Side {
    host: TestHost,
    plugin: audio::Audio,
    speaker: PathBuf,
    call_id: u32,
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seatphone-loopback-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn side(
    dir: &Path,
    name: &str,
    hz: f64,
    rate: u32,
    channels: u16,
    call_id: u32,
    page: &Value,
) -> Side {
    let mic = dir.join(format!("{name}-mic.wav"));
    write_sine_wav(&mic, rate, channels, hz, AMPLITUDE, 2.0).unwrap();
    side_with_mic(dir, name, &mic, call_id, page)
}

/// A side whose microphone is the WAV file `mic` (looped).
fn side_with_mic(dir: &Path, name: &str, mic: &Path, call_id: u32, page: &Value) -> Side {
    let speaker = dir.join(format!("{name}-speaker.wav"));
    let host = TestHost::with_audio(json!({
        "input": format!("file:{}", mic.display()),
        "output": format!("file:{}", speaker.display()),
        "rtp_timeout_s": 30,
    }));
    let plugin = audio::new(host.host()).unwrap();
    let outcome = plugin.configure(page);
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    Side {
        host,
        plugin,
        speaker,
        call_id,
    }
}

/// A offers, B answers; both start. `rewrite_answer` lets a test put a relay in between.
fn connect(a: &Side, b: &Side, rewrite_answer: impl FnOnce(String) -> String) -> (String, String) {
    connect_via(a, b, |s| s.to_owned(), rewrite_answer)
}

/// As [`connect`], with what B sees of the offer rewritten too.
fn connect_via(
    a: &Side,
    b: &Side,
    rewrite_offer: impl Fn(&str) -> String,
    rewrite_answer: impl FnOnce(String) -> String,
) -> (String, String) {
    let offer = a
        .plugin
        .media_offer(OfferRequest {
            call_id: a.call_id,
            kind: "audio".into(),
            local_ip: "127.0.0.1".into(),
        })
        .unwrap()
        .sections
        .remove(0);
    let answer = b
        .plugin
        .media_answer(AnswerRequest {
            call_id: b.call_id,
            kind: "audio".into(),
            local_ip: "127.0.0.1".into(),
            remote: rewrite_offer(&offer),
        })
        .unwrap()
        .section;
    let seen_by_a = rewrite_answer(answer.clone());
    a.plugin
        .media_start(StartRequest {
            call_id: a.call_id,
            kind: "audio".into(),
            local: offer.clone(),
            remote: seen_by_a,
        })
        .unwrap();
    let seen_by_b = rewrite_offer(&offer);
    b.plugin
        .media_start(StartRequest {
            call_id: b.call_id,
            kind: "audio".into(),
            local: answer.clone(),
            remote: seen_by_b,
        })
        .unwrap();
    (offer, answer)
}

fn hang_up(s: &Side) {
    s.plugin.media_stop(StopRequest {
        call_id: s.call_id,
        kind: "audio".into(),
    });
}

fn page(codecs: &str, trans_mode: i64, dtmf_mode: i64) -> Value {
    json!({"audio": {"audio_codec": codecs, "dtmf_mode": dtmf_mode}, "media": {"trans_mode": trans_mode}})
}

/// The steady part of a recording: after the jitter buffer filled, before hang-up.
fn steady(path: &Path) -> Recording {
    let r = Recording::read(path).unwrap();
    assert!(
        r.seconds() > 2.0,
        "{} holds only {:.2} s",
        path.display(),
        r.seconds()
    );
    r
}

fn assert_hears(rec: &Recording, hz: f64, what: &str) {
    let part = rec.slice(1.0, rec.seconds() - 0.2);
    let f = dominant_frequency(part, rec.rate);
    assert!(
        (f - hz).abs() <= 10.0,
        "{what}: dominant {f:.1} Hz, expected {hz} Hz"
    );
    let sent = 20.0 * (AMPLITUDE / 2f64.sqrt()).log10();
    let level = rms_dbfs(part);
    assert!(
        (level - sent).abs() <= 6.0,
        "{what}: level {level:.1} dBFS, sent {sent:.1} dBFS"
    );
}

fn talk(codecs: &str, trans_mode: i64) -> (String, String) {
    talk_with(
        &format!("{}-{trans_mode}", codecs.replace(',', "_")),
        page(codecs, trans_mode, 1),
    )
}

fn talk_with(name: &str, p: Value) -> (String, String) {
    let codecs = p["audio"]["audio_codec"].as_str().unwrap_or("").to_owned();
    let dir = tempdir(name);
    let a = side(&dir, "a", A_HZ, 16000, 2, 11, &p);
    let b = side(&dir, "b", B_HZ, 8000, 1, 22, &p);
    let sdp = connect(&a, &b, |s| s);
    std::thread::sleep(Duration::from_millis(3000));
    hang_up(&a);
    hang_up(&b);
    assert_hears(&steady(&a.speaker), B_HZ, &format!("{codecs}: A hears B"));
    assert_hears(&steady(&b.speaker), A_HZ, &format!("{codecs}: B hears A"));
    for s in [&a, &b] {
        let logs = s.host.logs.lock().unwrap();
        assert!(
            !logs.iter().any(|l| l.contains("voice processing")),
            "{codecs}: {logs:?}"
        );
        let signals = s.host.signals.lock().unwrap();
        assert!(
            signals
                .iter()
                .any(|v| v["signal"] == "media_up" && v["callId"] == s.call_id),
            "no media_up: {signals:?}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
    sdp
}

#[test]
fn opus_carries_both_tones() {
    let _serial = serial();
    let (offer, answer) = talk("112", 0);
    assert!(answer.contains("opus/48000/2"), "{answer}");
    assert!(!offer.contains("a=crypto"));
}

#[test]
fn echo_cancellation_on_still_carries_both_tones() {
    let _serial = serial();
    let mut p = page("112", 0, 1);
    p["audio"]["audio_aec"] = json!(1);
    p["audio"]["audio_agc"] = json!(1);
    talk_with("aec", p);
    // Both sides processed through the voice library, loaded from beside
    // "the plugin" (this test's folder, where cargo builds it too).
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    assert!(
        maps.contains("libseatphone_voice"),
        "voice library not loaded"
    );
}

#[test]
fn g722_carries_both_tones() {
    let _serial = serial();
    let (_, answer) = talk("9", 0);
    assert!(
        answer.starts_with("m=audio ") && answer.contains(" RTP/AVP 9 "),
        "{answer}"
    );
}

#[test]
fn pcma_carries_both_tones() {
    let _serial = serial();
    talk("8", 0);
}

#[test]
fn pcmu_carries_both_tones() {
    let _serial = serial();
    talk("0", 0);
}

#[test]
fn g729_carries_both_tones() {
    let _serial = serial();
    let (_, answer) = talk("18", 0);
    assert!(answer.contains("G729/8000"), "{answer}");
}

#[test]
fn srtp_required_carries_both_tones() {
    let _serial = serial();
    let (offer, answer) = talk("8", 2);
    assert!(
        offer.contains("RTP/SAVP") && offer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80"),
        "{offer}"
    );
    assert!(
        answer.contains("RTP/SAVP") && answer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80"),
        "{answer}"
    );
}

#[test]
fn srtp_best_effort_uses_srtp_when_answered_with_crypto() {
    let _serial = serial();
    let (offer, answer) = talk("0", 1);
    assert!(
        offer.contains("RTP/AVP") && offer.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_32"),
        "{offer}"
    );
    assert!(answer.contains("a=crypto:1"), "{answer}");
}

/// Where tone bursts start in a side's frames of `topic` on the bus, on
/// the media clock (µs): a sample past a quarter of the tone's amplitude
/// at least 100 ms after the last such sample.
fn onsets(s: &Side, topic: &str) -> Vec<f64> {
    let frames = s.host.frames.lock().unwrap();
    let loud = AMPLITUDE * 32767.0 / 4.0;
    let mut since_loud = 0usize;
    let mut found = Vec::new();
    for (_, pts, samples) in frames.iter().filter(|f| f.0 == topic) {
        for (i, v) in samples.iter().enumerate() {
            since_loud += 1;
            if f64::from(*v).abs() > loud {
                if since_loud >= 4800 {
                    found.push(*pts as f64 + i as f64 * 1e6 / 48_000.0);
                }
                since_loud = 0;
            }
        }
    }
    found
}

/// The peer's sound goes on the bus stamped by when it arrived, as its
/// pictures are, not when it is played (the jitter buffer's hold, 40 ms
/// or more, later): a recording lines them up. A sends bursts of tone
/// (its microphone: half a second of silence, half a second of tone);
/// each burst's start as B publishes it (`remote-audio`) must be where A
/// published it (`local-audio`, stamped when sent), on the one media
/// clock of this process, within what the two sides' stamps mean:
/// A stamps a frame when its 20 ms have been captured, B by the arrival
/// of the packet less its 20 ms, so B reads up to 20 ms earlier; A's
/// 48 → 8 kHz conversion delays the burst by about 5 ms (PCMU). Stamped
/// at playout instead, B reads 40 ms or more later.
#[test]
fn the_peers_sound_is_stamped_when_it_arrived_not_when_it_is_played() {
    let _serial = serial();
    let dir = tempdir("stamps");
    let mic = dir.join("bursts.wav");
    write_sine_wav(&mic, 48_000, 1, A_HZ, AMPLITUDE, 1.0).unwrap();
    let mut wav = std::fs::read(&mic).unwrap();
    // The first half second silent: 24000 samples after the 44-byte header.
    wav[44..44 + 48_000].fill(0);
    std::fs::write(&mic, wav).unwrap();
    let p = page("0", 0, 1);
    let a = side_with_mic(&dir, "a", &mic, 11, &p);
    let b = side(&dir, "b", B_HZ, 8000, 1, 22, &p);
    connect(&a, &b, |s| s);
    std::thread::sleep(Duration::from_millis(3500));
    hang_up(&a);
    hang_up(&b);
    let sent = onsets(&a, "local-audio/11");
    let heard = onsets(&b, "remote-audio/22");
    assert!(
        sent.len() >= 3 && heard.len() >= 3,
        "bursts sent {sent:?}, heard {heard:?}"
    );
    // Past the first burst, which the jitter buffer's start may cut.
    let offsets: Vec<f64> = heard[1..]
        .iter()
        .map(|h| {
            let nearest = sent
                .iter()
                .min_by(|x, y| (*x - h).abs().total_cmp(&(*y - h).abs()))
                .unwrap();
            (h - nearest) / 1000.0
        })
        .collect();
    eprintln!("bursts heard, ms after they were sent: {offsets:?}");
    assert!(
        offsets.iter().all(|o| (-40.0..=15.0).contains(o)),
        "each burst heard (ms after it was sent, by the stamps): {offsets:?}"
    );
}

/// The events a side's page saw.
fn dtmf_events(s: &Side) -> Vec<(u64, String)> {
    s.host
        .events_of(audio::EVT_DTMF_RECEIVED)
        .iter()
        .map(|e| {
            (
                e["tone"].as_u64().unwrap(),
                e["method"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn send_keys(a: &Side, b: &Side, keys: &[u8]) {
    let start = Instant::now();
    for k in keys {
        let r = call(
            &a.plugin,
            Command::SendDtmf,
            json!({ "callId": a.call_id, "tone": k }),
        );
        assert_eq!(r["result"], 0, "{r}");
    }
    // Each key takes 160 ms on the wire.
    while dtmf_events(b).len() < keys.len() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn dtmf_keys_arrive_as_rfc4733_events_and_qos_is_reported() {
    let _serial = serial();
    let dir = tempdir("dtmf4733");
    let p = page("112,0", 0, 1);
    let a = side(&dir, "a", A_HZ, 48000, 1, 1, &p);
    let b = side(&dir, "b", B_HZ, 48000, 1, 2, &p);
    connect(&a, &b, |s| s);
    std::thread::sleep(Duration::from_millis(300));
    let keys: Vec<u8> = (0..12).collect();
    send_keys(&a, &b, &keys);
    let got = dtmf_events(&b);
    assert_eq!(got.iter().map(|(t, _)| *t as u8).collect::<Vec<_>>(), keys);
    assert!(got.iter().all(|(_, m)| m == "rfc4733"), "{got:?}");
    // Wrong values are refused; unknown calls are not found.
    let r = call(
        &a.plugin,
        Command::SendDtmf,
        json!({ "callId": 1, "tone": 17 }),
    );
    assert_eq!(r["result"], 2);
    let r = call(
        &a.plugin,
        Command::SendDtmf,
        json!({ "callId": 99, "tone": 1 }),
    );
    assert_eq!(r["result"], 5);
    // QoS comes every 5 s.
    let deadline = Instant::now() + Duration::from_secs(8);
    while a.host.events_of(Event::LocalQos.notify()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    hang_up(&a);
    hang_up(&b);
    let qos = a.host.events_of(Event::LocalQos.notify());
    let q = qos.first().expect("a QoS event within 8 s");
    assert_eq!(q["callId"], 1);
    assert_eq!(q["codec"], "opus");
    assert!(q["sendPackets"].as_u64().unwrap() > 100, "{q}");
    assert!(q["recvPackets"].as_u64().unwrap() > 100, "{q}");
    assert_eq!(q["lostPackets"], 0, "{q}");
    for k in ["jitterMs", "rttMs"] {
        assert!(q[k].is_u64(), "{k} in {q}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn in_band_dtmf_is_sent_and_detected() {
    let _serial = serial();
    let dir = tempdir("dtmfinband");
    let p = page("0", 0, 0);
    let a = side(&dir, "a", A_HZ, 8000, 1, 1, &p);
    let b = side(&dir, "b", B_HZ, 8000, 1, 2, &p);
    connect(&a, &b, |s| s);
    std::thread::sleep(Duration::from_millis(300));
    let keys = [1u8, 5, 9, 0, 10, 11];
    send_keys(&a, &b, &keys);
    hang_up(&a);
    hang_up(&b);
    let got = dtmf_events(&b);
    assert_eq!(
        got.iter().map(|(t, _)| *t as u8).collect::<Vec<_>>(),
        keys,
        "{got:?}"
    );
    assert!(got.iter().all(|(_, m)| m == "inband"), "{got:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn mute_silences_the_peer_and_unmute_brings_it_back() {
    let _serial = serial();
    let dir = tempdir("mute");
    let p = page("8", 0, 1);
    let a = side(&dir, "a", A_HZ, 8000, 1, 1, &p);
    let b = side(&dir, "b", B_HZ, 8000, 1, 2, &p);
    connect(&a, &b, |s| s);
    std::thread::sleep(Duration::from_millis(1000));
    let r = call(
        &a.plugin,
        Command::MuteMic,
        json!({ "callId": 1, "isMute": 1 }),
    );
    assert_eq!(r["result"], 0);
    std::thread::sleep(Duration::from_millis(1000));
    let r = call(
        &a.plugin,
        Command::MuteMic,
        json!({ "callId": 1, "isMute": 0 }),
    );
    assert_eq!(r["result"], 0);
    std::thread::sleep(Duration::from_millis(1000));
    hang_up(&a);
    hang_up(&b);
    let rec = steady(&b.speaker);
    // B's recording: tone, then ~1 s of silence, then tone again.
    let muted = rec.slice(1.3, 1.8);
    assert!(
        rms_dbfs(muted) < -60.0,
        "muted part at {:.1} dBFS",
        rms_dbfs(muted)
    );
    let after = rec.slice(2.4, rec.seconds() - 0.1);
    assert!((dominant_frequency(after, rec.rate) - A_HZ).abs() < 10.0);
    assert!(rms_dbfs(after) > -15.0);
    let _ = std::fs::remove_dir_all(dir);
}

/// A media relay between A and B: A talks to `to_a`'s socket, B to
/// `to_b`'s. What A sends reaches B with `loss` dropped and each packet
/// delayed by 0–`jitter`; what B sends reaches A untouched.
struct Relay {
    facing_a: UdpSocket,
    facing_b: UdpSocket,
}

impl Relay {
    fn new() -> Self {
        let s = || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_nonblocking(true).unwrap();
            s
        };
        Self {
            facing_a: s(),
            facing_b: s(),
        }
    }

    fn port_facing(&self, side: &str) -> u16 {
        let s = if side == "a" {
            &self.facing_a
        } else {
            &self.facing_b
        };
        s.local_addr().unwrap().port()
    }

    fn run(
        self,
        a: std::net::SocketAddr,
        b: std::net::SocketAddr,
        loss: f64,
        jitter: Duration,
        run_for: Duration,
    ) -> std::thread::JoinHandle<u64> {
        std::thread::spawn(move || {
            let mut seed = 12345u64;
            let mut rand = move || {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 11) as f64 / (1u64 << 53) as f64
            };
            let mut queue: Vec<(Instant, Vec<u8>)> = Vec::new();
            let mut dropped = 0;
            let end = Instant::now() + run_for;
            let mut buf = [0u8; 2048];
            while Instant::now() < end {
                while let Ok((n, _)) = self.facing_a.recv_from(&mut buf) {
                    if rand() < loss {
                        dropped += 1;
                    } else {
                        queue.push((Instant::now() + jitter.mul_f64(rand()), buf[..n].to_vec()));
                    }
                }
                while let Ok((n, _)) = self.facing_b.recv_from(&mut buf) {
                    let _ = self.facing_a.send_to(&buf[..n], a);
                }
                let now = Instant::now();
                queue.sort_by_key(|(t, _)| *t);
                while queue.first().is_some_and(|(t, _)| *t <= now) {
                    let (_, p) = queue.remove(0);
                    let _ = self.facing_b.send_to(&p, b);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            dropped
        })
    }
}

fn rtp_addr(section: &str) -> std::net::SocketAddr {
    let sec = seatphone_media::sdp::MediaSection::parse(section).unwrap();
    std::net::SocketAddr::new(sec.address.unwrap(), sec.port)
}

fn with_port(section: &str, port: u16) -> String {
    let old = rtp_addr(section).port();
    section.replacen(&format!("m=audio {old} "), &format!("m=audio {port} "), 1)
}

fn survives_loss_and_jitter(codecs: &str) {
    let dir = tempdir(&format!("netem-{codecs}"));
    let p = page(codecs, 0, 1);
    let a = side(&dir, "a", A_HZ, 48000, 1, 1, &p);
    let b = side(&dir, "b", B_HZ, 48000, 1, 2, &p);
    let relay = Relay::new();
    let (port_a, port_b) = (relay.port_facing("a"), relay.port_facing("b"));
    let (offer, answer) = connect_via(
        &a,
        &b,
        |o| with_port(o, port_b),
        |ans| with_port(&ans, port_a),
    );
    let relay = relay.run(
        rtp_addr(&offer),
        rtp_addr(&answer),
        0.05,
        Duration::from_millis(30),
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_millis(4500));
    hang_up(&a);
    hang_up(&b);
    let dropped = relay.join().unwrap();
    assert!(dropped > 5, "the relay dropped only {dropped} packets");
    let rec = steady(&b.speaker);
    let part = rec.slice(1.0, rec.seconds() - 0.2);
    let gap = longest_gap_ms(part, rec.rate, -40.0);
    assert!(
        gap <= 60.0,
        "{codecs}: a gap of {gap:.0} ms in what B heard"
    );
    assert!((dominant_frequency(part, rec.rate) - A_HZ).abs() <= 10.0);
    // A heard B through the relay's clean direction.
    assert_hears(&steady(&a.speaker), B_HZ, "A hears B through the relay");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn opus_stays_continuous_through_5_percent_loss_and_30ms_jitter() {
    let _serial = serial();
    survives_loss_and_jitter("112");
}

#[test]
fn pcmu_stays_continuous_through_5_percent_loss_and_30ms_jitter() {
    let _serial = serial();
    survives_loss_and_jitter("0");
}

#[test]
fn silence_from_the_peer_signals_media_timeout() {
    let _serial = serial();
    let dir = tempdir("timeout");
    let p = page("0", 0, 1);
    let mic = dir.join("mic.wav");
    write_sine_wav(&mic, 8000, 1, A_HZ, AMPLITUDE, 1.0).unwrap();
    let host = TestHost::with_audio(
        json!({ "input": format!("file:{}", mic.display()), "output": "null", "rtp_timeout_s": 1 }),
    );
    let a = audio::new(host.host()).unwrap();
    a.configure(&p);
    let offer = a
        .media_offer(OfferRequest {
            call_id: 5,
            kind: "audio".into(),
            local_ip: "127.0.0.1".into(),
        })
        .unwrap()
        .sections
        .remove(0);
    // A peer that answers and never sends.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let answer = format!(
        "m=audio {} RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\na=sendrecv\r\n",
        silent.local_addr().unwrap().port()
    );
    a.media_start(StartRequest {
        call_id: 5,
        kind: "audio".into(),
        local: offer,
        remote: answer,
    })
    .unwrap();
    let timed_out = || {
        host.signals
            .lock()
            .unwrap()
            .iter()
            .any(|s| s["signal"] == "media_timeout")
    };
    std::thread::sleep(Duration::from_millis(600));
    assert!(!timed_out(), "too early");
    let deadline = Instant::now() + Duration::from_secs(3);
    while !timed_out() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let signals = host.signals.lock().unwrap().clone();
    let s = signals
        .iter()
        .find(|s| s["signal"] == "media_timeout")
        .expect("media_timeout within 3 s");
    assert_eq!(s["callId"], 5);
    assert!(s["silentMs"].as_u64().unwrap() >= 1000);
    // What A sent did arrive: the stream went on while the peer was silent.
    silent
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 1500];
    assert!(silent.recv_from(&mut buf).is_ok());
    a.media_stop(StopRequest {
        call_id: 5,
        kind: "audio".into(),
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// Waits (up to 5 s) until the WAV at `path` holds at least `seconds` of audio.
fn wait_for_audio(path: &Path, seconds: f64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if Recording::read(path).is_ok_and(|r| r.seconds() >= seconds) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn ringtone_plays_on_the_ring_device_until_the_call_connects() {
    let _serial = serial();
    use seatphone_plugin_api::CallEvent;
    let dir = tempdir("ring");
    let ring = dir.join("ring.wav");
    let host = TestHost::with_audio(
        json!({ "ring": format!("file:{}", ring.display()), "output": "null" }),
    );
    let a = audio::new(host.host()).unwrap();
    a.call_event(CallEvent::Incoming {
        call_id: 9,
        auto_answer: false,
    });
    assert!(wait_for_audio(&ring, 0.5), "no ringtone");
    a.call_event(CallEvent::Connected { call_id: 9 });
    let len = std::fs::metadata(&ring).unwrap().len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        std::fs::metadata(&ring).unwrap().len(),
        len,
        "the ringtone went on after connect"
    );
    let rec = Recording::read(&ring).unwrap();
    assert!(
        (0.5..1.0).contains(&rec.seconds()),
        "{} s of ringing",
        rec.seconds()
    );
    let f = dominant_frequency(rec.slice(0.1, rec.seconds()), rec.rate);
    assert!(
        (f - 440.0).abs() < 10.0 || (f - 480.0).abs() < 10.0,
        "ringtone at {f} Hz"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn switching_the_speaker_mid_call_and_a_broken_device_falls_back() {
    let _serial = serial();
    let dir = tempdir("switch");
    let p = page("8", 0, 1);
    let a = side(&dir, "a", A_HZ, 8000, 1, 1, &p);
    // B's speaker cannot be created: the call goes on with B on a fallback, and B's page hears of it.
    let mic = dir.join("b-mic.wav");
    write_sine_wav(&mic, 8000, 1, B_HZ, AMPLITUDE, 1.0).unwrap();
    let b_host = TestHost::with_audio(json!({
        "input": format!("file:{}", mic.display()),
        "output": "file:/nonexistent-dir/out.wav",
    }));
    let b_plugin = audio::new(b_host.host()).unwrap();
    b_plugin.configure(&p);
    let b = Side {
        host: b_host,
        plugin: b_plugin,
        speaker: dir.join("unused.wav"),
        call_id: 2,
    };
    connect(&a, &b, |s| s);
    std::thread::sleep(Duration::from_millis(1500));
    let fallbacks = b.host.events_of(audio::EVT_DEVICE_FALLBACK);
    assert_eq!(fallbacks.len(), 1, "{fallbacks:?}");
    assert_eq!(fallbacks[0]["deviceType"], 1);
    assert!(fallbacks[0]["reason"]
        .as_str()
        .unwrap()
        .contains("nonexistent-dir"));
    // A picks a microphone (the same one): its speaker file goes on, not anew.
    let before = std::fs::metadata(&a.speaker).unwrap().len();
    let r = call(&a.plugin, Command::SetMicIndex, json!({ "index": 0 }));
    assert_eq!(r["result"], 0);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        std::fs::metadata(&a.speaker).unwrap().len() > before,
        "the speaker started over"
    );
    // A moves its speaker to silence (the last entry): its file stops growing.
    let list = call(&a.plugin, Command::GetDevices, json!({ "deviceType": 1 }));
    let null_index = list["param"]["num"].as_u64().unwrap() - 1;
    assert_eq!(
        list["param"]["deviceInfo"][null_index as usize]["deviceName"],
        "null (silence)"
    );
    let r = call(
        &a.plugin,
        Command::SetSpeakIndex,
        json!({ "index": null_index }),
    );
    assert_eq!(r["result"], 0);
    std::thread::sleep(Duration::from_millis(200));
    let len = std::fs::metadata(&a.speaker).unwrap().len();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        std::fs::metadata(&a.speaker).unwrap().len(),
        len,
        "the old speaker still plays"
    );
    hang_up(&a);
    hang_up(&b);
    let rec = Recording::read(&a.speaker).unwrap();
    assert!((dominant_frequency(rec.slice(0.8, rec.seconds()), rec.rate) - B_HZ).abs() < 10.0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn garbage_on_the_media_ports_and_in_sections_changes_nothing() {
    let _serial = serial();
    garbage_run("garbage-srtp", 2);
}

#[test]
fn plain_rtp_from_a_stranger_does_not_take_the_call_over() {
    let _serial = serial();
    garbage_run("garbage-rtp", 0);
}

fn garbage_run(name: &str, trans_mode: i64) {
    let dir = tempdir(name);
    let p = page("0", trans_mode, 1);
    let a = side(&dir, "a", A_HZ, 8000, 1, 1, &p);
    let b = side(&dir, "b", B_HZ, 8000, 1, 2, &p);
    for bad in [
        "",
        "m=audio x",
        "m=audio 5 RTP/AVP 0\r\nc=IN IP4 999.0.0.1\r\n",
        "v=0\r\n\u{0}\u{ff}",
    ] {
        let r = b.plugin.media_answer(AnswerRequest {
            call_id: 77,
            kind: "audio".into(),
            local_ip: "127.0.0.1".into(),
            remote: bad.into(),
        });
        assert!(r.is_err(), "{bad:?} was answered");
    }
    let (offer, answer) = connect(&a, &b, |s| s);
    // Junk sprayed at both of A's ports while the call runs (SRTP is on).
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    let a_rtp = rtp_addr(&offer);
    let a_rtcp = std::net::SocketAddr::new(a_rtp.ip(), a_rtp.port() + 1);
    let mut seed = 7u64;
    for i in 0..2000u32 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = (seed >> 54) as usize % 200;
        let mut pkt: Vec<u8> = (0..len).map(|k| (seed >> (k % 56)) as u8).collect();
        if i % 3 == 0 && pkt.len() > 2 {
            pkt[0] = 0x80; // looks like RTP
            pkt[1] = if i % 2 == 0 { 0 } else { 200 };
        }
        let _ = junk.send_to(&pkt, if i % 2 == 0 { a_rtp } else { a_rtcp });
        if i % 100 == 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    std::thread::sleep(Duration::from_millis(1000));
    hang_up(&a);
    hang_up(&b);
    assert_eq!(answer.contains("RTP/SAVP"), trans_mode == 2);
    assert_hears(&steady(&a.speaker), B_HZ, "A hears B through the junk");
    assert_hears(
        &steady(&b.speaker),
        A_HZ,
        "B still hears A: A kept sending to B",
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn ringback_plays_on_the_speaker_while_the_callee_rings_and_zip_on_auto_answer() {
    use seatphone_plugin_api::CallEvent;
    let _serial = serial();
    let dir = tempdir("ringback");
    let speaker = dir.join("speaker.wav");
    let host = TestHost::with_audio(json!({ "output": format!("file:{}", speaker.display()) }));
    let a = audio::new(host.host()).unwrap();
    a.call_event(CallEvent::Outgoing { call_id: 3 });
    a.call_event(CallEvent::Ringing {
        call_id: 3,
        early_media: false,
    });
    assert!(wait_for_audio(&speaker, 0.5), "no ringback");
    a.call_event(CallEvent::Ended {
        call_id: 3,
        reason_code: 486,
    });
    let rec = Recording::read(&speaker).unwrap();
    assert!(
        (0.5..1.0).contains(&rec.seconds()),
        "{} s of ringback",
        rec.seconds()
    );
    assert!((dominant_frequency(rec.slice(0.05, rec.seconds()), rec.rate) - 425.0).abs() < 10.0);
    // With early media there is no local ringback.
    a.call_event(CallEvent::Ringing {
        call_id: 4,
        early_media: true,
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        Recording::read(&speaker).unwrap().samples.len(),
        rec.samples.len()
    );
    // Auto-answer: a short zip tone, which ends on its own.
    a.call_event(CallEvent::Incoming {
        call_id: 5,
        auto_answer: true,
    });
    assert!(wait_for_audio(&speaker, 0.2), "no zip tone");
    std::thread::sleep(Duration::from_millis(800));
    let zip = Recording::read(&speaker).unwrap();
    assert!(zip.seconds() < 0.5, "{} s of zip tone", zip.seconds());
    assert!((dominant_frequency(&zip.samples, zip.rate) - 880.0).abs() < 10.0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn volumes_scale_the_signal_both_ways() {
    let _serial = serial();
    let dir = tempdir("volume");
    let p = page("8", 0, 1);
    let a = side(&dir, "a", A_HZ, 8000, 1, 1, &p);
    let b = side(&dir, "b", B_HZ, 8000, 1, 2, &p);
    // A's mic at 50 (−6 dB to B), A's speaker at 25 (−12 dB of what B sends).
    let r = call(&a.plugin, Command::SetMicVolume, json!({ "volume": 50 }));
    assert_eq!(r["result"], 0);
    let r = call(&a.plugin, Command::SetSpeakVolume, json!({ "volume": 25 }));
    assert_eq!(r["result"], 0);
    connect(&a, &b, |s| s);
    std::thread::sleep(Duration::from_millis(2500));
    hang_up(&a);
    hang_up(&b);
    let sent = 20.0 * (AMPLITUDE / 2f64.sqrt()).log10();
    let at_b = steady(&b.speaker);
    let level_b = rms_dbfs(at_b.slice(1.0, at_b.seconds() - 0.2));
    assert!(
        (level_b - (sent - 6.0)).abs() < 1.5,
        "B hears A at {level_b:.1} dBFS, sent {sent:.1}"
    );
    let at_a = steady(&a.speaker);
    let level_a = rms_dbfs(at_a.slice(1.0, at_a.seconds() - 0.2));
    assert!(
        (level_a - (sent - 12.0)).abs() < 1.5,
        "A hears B at {level_a:.1} dBFS, sent {sent:.1}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
