//! Real audio calls: the `seatphone` host with its audio plugin (a 440 Hz
//! WAV as microphone, a WAV file as speaker) calls baresip through Kamailio;
//! baresip answers, plays a 1 kHz sine and records what it hears. Each side
//! must hear the other's tone at about the level it was sent, for every
//! codec, with SRTP, and DTMF must cross both ways.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::REAL_TIME;
use seatphone_audio::{EVT_DEVICE_FALLBACK, EVT_DTMF_RECEIVED};
use seatphone_tests::audio_check::{
    dominant_frequency, gaps, rms_dbfs, write_sine_wav, Gap, Recording,
};
use seatphone_tests::host::{plugin_library, Command, Event, Options, Page, Seatphone};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip, BaresipOptions};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::wait_until;
use seatphone_tests::pulse::{read_raw_s16, Pulse, PulseClient};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(10);

/// The host's microphone: 440 Hz at −9 dBFS.
const HOST_HZ: f64 = 440.0;
const HOST_AMPLITUDE: f64 = 0.5;
/// baresip's tone.
const PEER_HZ: f64 = 1000.0;

/// baresip answering automatically with `codec`, sending `ausine` at
/// 1 kHz, recording what it encodes and decodes; SRTP as `srtp` says.
fn tone_peer(kam: &Kamailio, codec: &str, srtp: Option<&str>) -> Baresip {
    let mut options = BaresipOptions {
        answer: AnswerMode::Auto,
        audio_codecs: codec.into(),
        audio_source: format!("ausine,{PEER_HZ}"),
        modules: ["g711.so", "g722.so", "opus.so", "ausine.so"]
            .map(String::from)
            .to_vec(),
        record: true,
        ..BaresipOptions::default()
    };
    if let Some(mediaenc) = srtp {
        options = options.srtp(mediaenc);
    }
    Baresip::start_with("1002", kam.port, &options).expect("baresip")
}

/// What `peer` recorded: `enc` what it sent, `dec` what it heard.
fn recording(peer: &Baresip, which: &str) -> Recording {
    let path = peer.recording(which).unwrap_or_else(|| {
        panic!(
            "no {which} recording of baresip in {}",
            peer.dir().display()
        )
    });
    Recording::read(&path).unwrap()
}

/// The host with only the audio plugin, files as devices.
async fn host_with_files(dir: &Path) -> (Seatphone, PathBuf) {
    let mic = dir.join("mic-440.wav");
    write_sine_wav(&mic, 16000, 1, HOST_HZ, HOST_AMPLITUDE, 3.0).unwrap();
    let speaker = dir.join("speaker.wav");
    let options = Options {
        plugins: vec![plugin_library("audio")],
        extra_toml: format!(
            "[audio]\ninput = \"file:{}\"\noutput = \"file:{}\"\n",
            mic.display(),
            speaker.display()
        ),
        ..Options::default()
    };
    (Seatphone::start(options).await, speaker)
}

async fn configure(page: &mut Page, registrar: u16, codecs: &str, trans_mode: u32) {
    let config = json!({
        "networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": registrar, "sipTransportMode": 0},
        "media": {"trans_mode": trans_mode},
        "audio": {"audio_codec": codecs, "dtmf_mode": 1},
    });
    page.ok(Command::SetConfigParam, config).await;
}

fn assert_tone(rec: &Recording, hz: f64, sent_dbfs: f64, what: &str) {
    assert!(
        rec.seconds() > 2.5,
        "{what}: only {:.2} s recorded",
        rec.seconds()
    );
    let part = rec.slice(1.0, rec.seconds() - 0.3);
    let f = dominant_frequency(part, rec.rate);
    assert!(
        (f - hz).abs() <= 10.0,
        "{what}: dominant {f:.1} Hz, expected {hz}"
    );
    let level = rms_dbfs(part);
    assert!(
        (level - sent_dbfs).abs() <= 6.0,
        "{what}: level {level:.1} dBFS, sent {sent_dbfs:.1} dBFS"
    );
}

/// One call of `seconds` with `codec`; both sides checked.
async fn tone_call(host_codecs: &str, peer_codec: &str, trans_mode: u32, peer_srtp: Option<&str>) {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = tone_peer(&kam, peer_codec, peer_srtp);
    let dir = tempfile::tempdir().unwrap();
    let (host, speaker) = host_with_files(dir.path()).await;
    let mut page = host.call_page().await;
    configure(&mut page, kam.port, host_codecs, trans_mode).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    let call_id = Seatphone::call(&mut page, "1002").await;
    page.event(Event::CallRtpCreated, T).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    Seatphone::hang_up(&mut page, &call_id).await;
    assert!(
        wait_until(T, || peer.has_event("CALL_CLOSED")),
        "{:?}",
        peer.events()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    let what_peer_sent = recording(&peer, "enc");
    let peer_level = rms_dbfs(what_peer_sent.slice(0.5, what_peer_sent.seconds()));
    let heard_here = Recording::read(&speaker).unwrap();
    let gap = seatphone_tests::audio_check::longest_gap_ms(
        heard_here.slice(1.0, heard_here.seconds() - 0.3),
        heard_here.rate,
        -40.0,
    );
    assert!(
        gap <= 60.0,
        "{peer_codec}: a {gap:.0} ms hole in what the host heard"
    );
    assert_tone(
        &heard_here,
        PEER_HZ,
        peer_level,
        &format!("{peer_codec}: the host hears baresip"),
    );
    let heard_there = recording(&peer, "dec");
    let gap = seatphone_tests::audio_check::longest_gap_ms(
        heard_there.slice(1.0, heard_there.seconds() - 0.3),
        heard_there.rate,
        -40.0,
    );
    assert!(
        gap <= 60.0,
        "{peer_codec}: a {gap:.0} ms hole in what baresip heard"
    );
    let host_level = 20.0 * (HOST_AMPLITUDE / 2f64.sqrt()).log10();
    assert_tone(
        &heard_there,
        HOST_HZ,
        host_level,
        &format!("{peer_codec}: baresip hears the host"),
    );
    drop(host);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_host_and_baresip_hear_each_other_over_opus() {
    let _serial = REAL_TIME.lock().await;
    tone_call("112,9,8,0", "opus/48000/2", 0, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_host_and_baresip_hear_each_other_over_g722() {
    let _serial = REAL_TIME.lock().await;
    tone_call("9,0", "G722/16000/1", 0, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_host_and_baresip_hear_each_other_over_pcma() {
    let _serial = REAL_TIME.lock().await;
    tone_call("8", "PCMA/8000/1", 0, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_host_and_baresip_hear_each_other_over_pcmu() {
    let _serial = REAL_TIME.lock().await;
    tone_call("0", "PCMU/8000/1", 0, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_srtp_required_against_baresip_with_srtp() {
    let _serial = REAL_TIME.lock().await;
    tone_call("8", "PCMA/8000/1", 2, Some("srtp-mand")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_srtp_best_effort_falls_back_to_rtp_with_a_plain_baresip() {
    let _serial = REAL_TIME.lock().await;
    tone_call("0", "PCMU/8000/1", 1, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_dtmf_crosses_both_ways_as_rfc4733() {
    let _serial = REAL_TIME.lock().await;
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = tone_peer(&kam, "PCMU/8000/1", None);
    let dir = tempfile::tempdir().unwrap();
    let (host, _speaker) = host_with_files(dir.path()).await;
    let mut page = host.call_page().await;
    configure(&mut page, kam.port, "0", 0).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    let call_id = Seatphone::call(&mut page, "1002").await;
    page.event(Event::CallRtpCreated, T).await;
    let keys: Vec<u64> = (0..12).collect();
    for k in &keys {
        page.ok(Command::SendDtmf, json!({"callId": call_id, "tone": k}))
            .await;
    }
    let expected = "0123456789*#";
    let got_there = || -> String {
        peer.events()
            .iter()
            .filter(|e| e["type"] == "CALL_DTMF_START")
            .filter_map(|e| e["param"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(
        wait_until(T, || got_there().len() >= 12),
        "baresip got {:?}: {:?}",
        got_there(),
        peer.events()
    );
    assert_eq!(got_there(), expected);
    // And back: baresip presses 1, 5, #.
    for key in ["1", "5", "#"] {
        peer.command("sndcode", key);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let mut heard = Vec::new();
    for _ in 0..3 {
        let e = page.event(EVT_DTMF_RECEIVED, T).await;
        assert_eq!(e["param"]["callId"], call_id);
        assert_eq!(e["param"]["method"], "rfc4733");
        heard.push(e["param"]["tone"].as_u64().unwrap());
    }
    assert_eq!(heard, vec![1, 5, 11]);
    page.ok(Command::EndCall, json!({"callId": call_id})).await;
    drop(host);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_qos_reaches_the_page_every_5_s_and_mute_silences_the_peer() {
    let _serial = REAL_TIME.lock().await;
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = tone_peer(&kam, "PCMA/8000/1", None);
    let dir = tempfile::tempdir().unwrap();
    let (host, _speaker) = host_with_files(dir.path()).await;
    let mut page = host.call_page().await;
    configure(&mut page, kam.port, "8", 0).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    let call_id = Seatphone::call(&mut page, "1002").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Another call's id mutes nothing here (the recording's first 2 s
    // carry the tone).
    let other = call_id.as_u64().unwrap() + 1;
    let r = page
        .request(Command::MuteMic, json!({"callId": other, "isMute": 1}))
        .await;
    assert_eq!(r["result"], 5, "{r}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    page.ok(Command::MuteMic, json!({"callId": call_id, "isMute": 1}))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    page.ok(Command::MuteMic, json!({"callId": call_id, "isMute": 0}))
        .await;
    let qos = page.event(Event::LocalQos, T).await;
    let p = &qos["param"];
    assert_eq!(p["callId"], call_id);
    assert_eq!(p["codec"], "PCMA");
    assert!(p["recvPackets"].as_u64().unwrap() > 100, "{qos}");
    assert!(p["sendPackets"].as_u64().unwrap() > 100, "{qos}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    Seatphone::hang_up(&mut page, &call_id).await;
    assert!(wait_until(T, || peer.has_event("CALL_CLOSED")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let heard = recording(&peer, "dec");
    // Muted from ~2 s to ~4 s after the answer (allow half a second each side).
    let muted = heard.slice(2.6, 3.6);
    assert!(
        rms_dbfs(muted) < -50.0,
        "muted part at {:.1} dBFS",
        rms_dbfs(muted)
    );
    let before = heard.slice(0.8, 1.8);
    assert!((dominant_frequency(before, heard.rate) - HOST_HZ).abs() < 10.0);
    let after = heard.slice(4.6, heard.seconds() - 0.3);
    assert!(
        rms_dbfs(after) > -20.0,
        "after unmute at {:.1} dBFS",
        rms_dbfs(after)
    );
    drop(host);
}

/// A PulseAudio server of the test's own with two null sinks: `micsink`,
/// whose monitor is the default source (what is played into it is what a
/// microphone hears), and `nullsink`, the default sink (its monitor records
/// what the host plays). Clients reach it with `pulse.env()`.
fn pulse() -> Pulse {
    let pulse = Pulse::start(&[
        "module-null-sink sink_name=nullsink rate=48000",
        "module-null-sink sink_name=micsink rate=48000",
    ])
    .expect("pulseaudio");
    assert!(pulse.pactl(&["set-default-sink", "nullsink"]));
    assert!(pulse.pactl(&["set-default-source", "micsink.monitor"]));
    pulse
}

/// Raw s16le mono 48 kHz, as `parec` writes it.
fn raw_recording(path: &Path) -> Recording {
    let mono = read_raw_s16(path, 1).unwrap().swap_remove(0);
    Recording {
        rate: 48000,
        samples: mono.into_iter().map(|x| f32::from(x) / 32768.0).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_call_on_real_pulseaudio_devices() {
    let _serial = REAL_TIME.lock().await;
    let pulse = pulse();
    let dir = tempfile::tempdir().unwrap();
    // The "microphone": a 440 Hz tone played into micsink for the whole test.
    let tone = dir.path().join("tone.wav");
    write_sine_wav(&tone, 48000, 1, HOST_HZ, HOST_AMPLITUDE, 30.0).unwrap();
    let _player = pulse
        .spawn(
            "paplay",
            &["--device=micsink", tone.to_str().unwrap()],
            None,
        )
        .expect("paplay");
    // The "ear": whatever the host plays into nullsink.
    let heard = dir.path().join("heard.raw");
    let _recorder = record_nullsink(&pulse, &heard);

    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = tone_peer(&kam, "PCMA/8000/1", None);
    let host = Seatphone::start(pulse_devices(&pulse)).await;
    let mut page = host.call_page().await;
    let mics = page
        .request(Command::GetDevices, json!({"deviceType": 0}))
        .await;
    assert_eq!(
        mics["param"]["deviceInfo"][0]["deviceName"], "pulse",
        "{mics}"
    );
    configure(&mut page, kam.port, "8", 0).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    let call_id = Seatphone::call(&mut page, "1002").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    Seatphone::hang_up(&mut page, &call_id).await;
    assert!(wait_until(T, || peer.has_event("CALL_CLOSED")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fallbacks: Vec<Value> = page
        .forget(Duration::from_millis(200))
        .await
        .into_iter()
        .filter(|f| f["notify"] == EVT_DEVICE_FALLBACK)
        .collect();
    assert!(
        fallbacks.is_empty(),
        "the devices fell back: {fallbacks:?}\n{}",
        host.all_logs()
    );

    let there = recording(&peer, "dec");
    let host_level = 20.0 * (HOST_AMPLITUDE / 2f64.sqrt()).log10();
    assert_tone(
        &there,
        HOST_HZ,
        host_level,
        "baresip hears the host's PulseAudio microphone",
    );
    // The null sink's monitor runs only while something plays: the
    // recording is the call. Its middle is measured.
    let here = raw_recording(&heard);
    let part = here.slice(1.0, here.seconds() - 0.5);
    assert!(
        part.len() > 48000,
        "only {:.2} s recorded from nullsink",
        here.seconds()
    );
    let f = dominant_frequency(part, here.rate);
    assert!(
        (f - PEER_HZ).abs() <= 10.0,
        "nullsink carried {f:.1} Hz at {:.1} dBFS ({:.1} s recorded)",
        rms_dbfs(part),
        here.seconds()
    );
    let peer_sent = recording(&peer, "enc");
    let sent = rms_dbfs(peer_sent.slice(0.5, peer_sent.seconds()));
    let level = rms_dbfs(part);
    assert!(
        (level - sent).abs() <= 6.0,
        "nullsink level {level:.1} dBFS, baresip sent {sent:.1}"
    );
    assert_no_dropout(part, "nullsink", &host);
    // The call starts within the null sinks' first block (a fresh sink
    // renders 2 s at once, so new streams wait for its end): devices that
    // start late are waited for, not reopened.
    assert_devices_kept(&host.all_logs());
    drop(host);
}

/// The engine gave up no device during the call (a reopened speaker is
/// silent while its new stream starts, and goes unnoticed by the page).
fn assert_devices_kept(logs: &str) {
    let failed: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("speaker failed") || l.contains("microphone failed"))
        .collect();
    assert!(failed.is_empty(), "devices given up: {failed:#?}");
}

/// What the listener heard has no holes the host made, and few short ones
/// it cannot account for. The host's own account ("media stops") must say
/// its speaker queue never ran dry (its call thread, real-time where the
/// system allows, as root in CI, kept it fed). Past the queue lie cpal's
/// ALSA thread and the pulse plug-in's, at normal priority (real-time they
/// starve the plug-in's own thread: cpal leaves them alone too): a machine
/// busy enough holds them up past the sound server's 20 ms buffer, and CI
/// machines have (holes of 15 to 40 ms, up to four in a 2 s call). Each
/// such hole is an underrun the account counts; beyond those, at most two
/// short holes (60 ms in all) are allowed. A host that runs dry, or makes
/// holes it does not account for, still fails.
fn assert_no_dropout(x: &[f32], what: &str, host: &Seatphone) {
    // The call thread writes its account once it has seen the hang-up.
    wait_until(T, || host.all_logs().contains("media stops"));
    let logs = host.all_logs();
    let media: Vec<&str> = logs.lines().filter(|l| l.contains("media st")).collect();
    let stops: Vec<&&str> = media.iter().filter(|l| l.contains("media stops")).collect();
    assert!(!stops.is_empty(), "no media summary: {media:#?}");
    let mut underruns = 0;
    for stop in &stops {
        assert!(stop.contains("ran dry 0 times"), "{what}: {stop}");
        underruns += stop
            .split("underran ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next()?.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("{what}: no underrun count in {stop}"));
    }
    let mut holes: Vec<Gap> = gaps(x, 48000, -40.0)
        .into_iter()
        .filter(|g| g.ms > 10.0)
        .collect();
    // The underruns account for the longest holes.
    holes.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    let unexplained = &holes[underruns.min(holes.len())..];
    let total: f64 = unexplained.iter().map(|g| g.ms).sum();
    assert!(
        unexplained.len() <= 2 && total <= 60.0,
        "{what}: dropouts (start and length, ms, longest first) {:?}, {underruns} of them \
         underruns\n{media:#?}",
        holes.iter().map(|g| (g.at_ms, g.ms)).collect::<Vec<_>>()
    );
}

/// A speaker whose sink starts late (suspended when the call is answered,
/// as a headset still waking up, running 1.5 s later) is waited for: the
/// engine does not give it up as silent, and once it runs it plays the
/// call from its first moments, without dropouts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_pulseaudio_speaker_starting_late_is_waited_for() {
    let _serial = REAL_TIME.lock().await;
    let pulse = pulse();
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let _peer = tone_peer(&kam, "PCMA/8000/1", None);
    let host = Seatphone::start(pulse_devices(&pulse)).await;
    let mut page = host.call_page().await;
    configure(&mut page, kam.port, "8", 0).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    assert!(pulse.pactl(&["suspend-sink", "nullsink", "1"]));
    // Recorded from a suspended monitor: the recording starts when the sink runs.
    let dir = tempfile::tempdir().unwrap();
    let heard = dir.path().join("heard.raw");
    let mut recorder = record_nullsink(&pulse, &heard);
    let call_id = Seatphone::call(&mut page, "1002").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(pulse.pactl(&["suspend-sink", "nullsink", "0"]));
    tokio::time::sleep(Duration::from_secs(2)).await;
    recorder.stop();
    Seatphone::hang_up(&mut page, &call_id).await;
    let logs = host.all_logs();
    assert_devices_kept(&logs);

    let here = raw_recording(&heard);
    assert!(
        here.seconds() > 1.5,
        "only {:.2} s recorded from nullsink",
        here.seconds()
    );
    // Heard from the start: the first half second already carries the tone.
    let start = here.slice(0.0, 0.5);
    let f = dominant_frequency(start, here.rate);
    assert!(
        (f - PEER_HZ).abs() <= 10.0 && rms_dbfs(start) > -30.0,
        "the sink's first 0.5 s: {f:.1} Hz at {:.1} dBFS",
        rms_dbfs(start)
    );
    assert_no_dropout(here.slice(0.0, here.seconds() - 0.1), "nullsink", &host);
    drop(host);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_incoming_call_from_baresip_is_answered_with_its_opus_offer() {
    let _serial = REAL_TIME.lock().await;
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = tone_peer(&kam, "opus/48000/2,G722/16000/1,PCMU/8000/1", None);
    let dir = tempfile::tempdir().unwrap();
    let (host, speaker) = host_with_files(dir.path()).await;
    let mut page = host.call_page().await;
    configure(&mut page, kam.port, "112,9,0", 0).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    peer.command("dial", "sip:1001@127.0.0.1");
    let incoming = page.event(Event::CallIncoming, T).await;
    let call_id = incoming["param"]["callId"].clone();
    page.ok(
        Command::AcceptCall,
        json!({"callId": call_id, "isVideo": false}),
    )
    .await;
    page.event(Event::CallConnected, T).await;
    page.event(Event::CallRtpCreated, T).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    Seatphone::hang_up(&mut page, &call_id).await;
    assert!(wait_until(T, || peer.has_event("CALL_CLOSED")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        host.all_logs().contains("media starts: opus"),
        "the host did not answer with opus:\n{}",
        host.all_logs()
    );
    let what_peer_sent = recording(&peer, "enc");
    let peer_level = rms_dbfs(what_peer_sent.slice(0.5, what_peer_sent.seconds()));
    assert_tone(
        &Recording::read(&speaker).unwrap(),
        PEER_HZ,
        peer_level,
        "incoming: the host hears baresip",
    );
    let host_level = 20.0 * (HOST_AMPLITUDE / 2f64.sqrt()).log10();
    assert_tone(
        &recording(&peer, "dec"),
        HOST_HZ,
        host_level,
        "incoming: baresip hears the host",
    );
    drop(host);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_g729_between_two_hosts() {
    let _serial = REAL_TIME.lock().await;
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let dir_a = tempfile::tempdir().unwrap();
    let (host_a, speaker_a) = host_with_files(dir_a.path()).await;
    // B says 1 kHz.
    let dir_b = tempfile::tempdir().unwrap();
    let mic_b = dir_b.path().join("mic-1000.wav");
    write_sine_wav(&mic_b, 8000, 1, PEER_HZ, HOST_AMPLITUDE, 3.0).unwrap();
    let speaker_b = dir_b.path().join("speaker.wav");
    let host_b = Seatphone::start(Options {
        plugins: vec![plugin_library("audio")],
        extra_toml: format!(
            "[audio]\ninput = \"file:{}\"\noutput = \"file:{}\"\n",
            mic_b.display(),
            speaker_b.display()
        ),
        ..Options::default()
    })
    .await;
    let mut a = host_a.call_page().await;
    let mut b = host_b.call_page().await;
    configure(&mut a, kam.port, "18", 0).await;
    configure(&mut b, kam.port, "18,0", 0).await;
    Seatphone::register(&mut a, "1001", "pass1001").await;
    Seatphone::register(&mut b, "1003", "pass1003").await;
    let r = a
        .ok(
            Command::StartCall,
            json!({"calleeNumber": "1003", "isVideo": false}),
        )
        .await;
    let call_a = r["param"]["callId"].clone();
    let incoming = b.event(Event::CallIncoming, T).await;
    let call_b = incoming["param"]["callId"].clone();
    b.ok(
        Command::AcceptCall,
        json!({"callId": call_b, "isVideo": false}),
    )
    .await;
    a.event(Event::CallConnected, T).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    Seatphone::hang_up(&mut a, &call_a).await;
    b.event(Event::CallEnded, T).await;
    let level = 20.0 * (HOST_AMPLITUDE / 2f64.sqrt()).log10();
    assert!(host_a.all_logs().contains("media starts: G729"));
    assert_tone(
        &Recording::read(&speaker_a).unwrap(),
        PEER_HZ,
        level,
        "G.729: A hears B",
    );
    assert_tone(
        &Recording::read(&speaker_b).unwrap(),
        HOST_HZ,
        level,
        "G.729: B hears A",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_hold_stops_what_the_host_hears_and_unhold_brings_it_back() {
    let _serial = REAL_TIME.lock().await;
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let _peer = tone_peer(&kam, "PCMU/8000/1", None);
    let dir = tempfile::tempdir().unwrap();
    let (host, speaker) = host_with_files(dir.path()).await;
    let mut page = host.call_page().await;
    configure(&mut page, kam.port, "0", 0).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    let call_id = Seatphone::call(&mut page, "1002").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    page.ok(Command::HoldCall, json!({"callId": call_id})).await;
    page.event(Event::HoldSuccess, T).await;
    let held_at = Recording::read(&speaker).unwrap().seconds();
    tokio::time::sleep(Duration::from_secs(2)).await;
    page.ok(Command::UnholdCall, json!({"callId": call_id}))
        .await;
    page.event(Event::UnholdSuccess, T).await;
    let resumed_at = Recording::read(&speaker).unwrap().seconds();
    tokio::time::sleep(Duration::from_secs(2)).await;
    Seatphone::hang_up(&mut page, &call_id).await;
    let rec = Recording::read(&speaker).unwrap();
    let held = rec.slice(held_at + 0.5, resumed_at - 0.2);
    assert!(
        rms_dbfs(held) < -50.0,
        "on hold the host still heard {:.1} dBFS",
        rms_dbfs(held)
    );
    let after = rec.slice(resumed_at + 0.8, rec.seconds() - 0.3);
    assert!(
        (dominant_frequency(after, rec.rate) - PEER_HZ).abs() < 10.0,
        "after unhold: {:.1} Hz at {:.1} dBFS",
        dominant_frequency(after, rec.rate),
        rms_dbfs(after)
    );
    assert!(rms_dbfs(after) > -30.0);
    drop(host);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_sound_server_vanishing_mid_call_falls_back_and_tells_the_page() {
    let _serial = REAL_TIME.lock().await;
    let pulse = pulse();
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = tone_peer(&kam, "PCMU/8000/1", None);
    let host = Seatphone::start(pulse_devices(&pulse)).await;
    let mut page = host.call_page().await;
    configure(&mut page, kam.port, "0", 0).await;
    Seatphone::register(&mut page, "1001", "pass1001").await;
    let call_id = Seatphone::call(&mut page, "1002").await;
    let early = page.forget(Duration::from_secs(1)).await;
    assert!(
        !early.iter().any(|f| f["notify"] == EVT_DEVICE_FALLBACK),
        "fell back before the server went: {early:?}"
    );
    drop(pulse);
    let mut types = Vec::new();
    for _ in 0..2 {
        let e = page.event(EVT_DEVICE_FALLBACK, T).await;
        assert_eq!(e["description"], "AUDIO_EVT_DEVICE_FALLBACK");
        assert!(e["param"]["reason"].is_string(), "{e}");
        types.push(e["param"]["deviceType"].as_u64().unwrap());
    }
    types.sort();
    assert_eq!(types, vec![0, 1]);
    // The call goes on, and ends normally.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!peer.has_event("CALL_CLOSED"));
    Seatphone::hang_up(&mut page, &call_id).await;
    drop(host);
}

/// Records what the host plays into `nullsink` to `out` (raw s16le mono
/// 48 kHz) until the returned guard stops or drops.
fn record_nullsink(pulse: &Pulse, out: &std::path::Path) -> PulseClient {
    pulse
        .spawn(
            "parec",
            &[
                "--latency-msec=20",
                "--device=nullsink.monitor",
                "--format=s16le",
                "--rate=48000",
                "--channels=1",
            ],
            Some(out),
        )
        .expect("parec")
}

/// The audio plugin alone, on `pulse`'s devices (the null sinks).
fn pulse_devices(pulse: &Pulse) -> Options {
    Options {
        plugins: vec![plugin_library("audio")],
        extra_toml: "[audio]\ninput = \"pulse\"\noutput = \"pulse\"\n".into(),
        env: pulse.env(),
        ..Options::default()
    }
}
