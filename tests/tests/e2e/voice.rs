//! The voice library (AEC/ANR/AGC, `libseatphone_voice.so` beside the audio
//! plugin) through the real `seatphone` binary: the engine maps it, and the
//! C++ libraries it links, only once a call turns a feature on; without it a
//! call goes on unprocessed and the log says why.
//! (Build the workspace first: the test starts `target/<profile>/seatphone`.)

use std::time::Duration;

use seatphone_tests::host::{plugin_library, Command, Options, Page, Seatphone};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::wait_until;
use serde_json::json;

const T: Duration = Duration::from_secs(10);

/// What the voice library brings into a process.
const VOICE_LIBS: [&str; 3] = [
    "libseatphone_voice",
    "libwebrtc_audio_processing",
    "libstdc++",
];

async fn audio_host() -> Seatphone {
    // The harness copies the voice library along with the audio plugin.
    Seatphone::start(Options::audio_only()).await
}

fn engine_maps(host: &Seatphone) -> String {
    let pid = host.engine_pid().expect("engine running");
    std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("engine maps")
}

fn mapped(maps: &str) -> Vec<&'static str> {
    VOICE_LIBS
        .into_iter()
        .filter(|l| maps.contains(l))
        .collect()
}

async fn set_voice(page: &mut Page, aec: u32) {
    let config = json!({"audio": {"audio_aec": aec, "audio_anr": 0, "audio_agc": 0}});
    page.ok(Command::SetConfigParam, config).await;
}

/// Calls baresip 1002 and waits until the audio plugin ran the call's media
/// (it logs "media starts" once the call's processing is set up). Counted in
/// stderr alone: `all_logs` holds each line twice (stderr and the log file).
async fn call_until_media(host: &Seatphone, page: &mut Page, nth: usize) -> serde_json::Value {
    let id = Seatphone::call(page, "1002").await;
    assert!(
        wait_until(T, || host.stderr().matches("media starts").count() >= nth),
        "media of call {nth} did not start"
    );
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_libraries_are_mapped_only_once_a_call_turns_aec_on() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let _bob = Baresip::start("1002", &kam, AnswerMode::Auto).expect("baresip");
    let host = audio_host().await;
    let health = host.health().await;
    assert_eq!(health["plugins"].as_array().unwrap().len(), 1, "{health}");
    assert_eq!(
        health["skipped"],
        json!([]),
        "the voice library is no plugin"
    );
    let logs = host.all_logs();
    assert!(
        !logs
            .lines()
            .any(|l| l.contains("libseatphone_voice") && l.contains("WARN")),
        "{logs}"
    );
    assert_eq!(mapped(&engine_maps(&host)), Vec::<&str>::new(), "idle");

    let mut page = host.registered_page(kam.port, "1001").await;
    set_voice(&mut page, 0).await;
    let id = call_until_media(&host, &mut page, 1).await;
    assert_eq!(
        mapped(&engine_maps(&host)),
        Vec::<&str>::new(),
        "in a call with AEC/ANR/AGC off"
    );
    Seatphone::hang_up(&mut page, &id).await;

    set_voice(&mut page, 1).await;
    let id = call_until_media(&host, &mut page, 2).await;
    assert_eq!(
        mapped(&engine_maps(&host)),
        VOICE_LIBS.to_vec(),
        "in a call with AEC on"
    );
    assert!(!host.all_logs().contains("voice processing"));
    Seatphone::hang_up(&mut page, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_voice_library_an_aec_call_goes_on_and_the_log_says_why() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Auto).expect("baresip");
    let host = audio_host().await;
    // Removed after start: the plugin looks for it only when a call needs it.
    let voice = host
        .dir
        .path()
        .join("plugins")
        .join(plugin_library("voice").file_name().unwrap());
    std::fs::remove_file(&voice).expect("the harness copied the voice library");

    let mut page = host.registered_page(kam.port, "1001").await;
    set_voice(&mut page, 1).await;
    let id = call_until_media(&host, &mut page, 1).await;
    assert!(bob.wait_event(T, "CALL_ESTABLISHED"));
    let logs = host.all_logs();
    let line = logs
        .lines()
        .find(|l| l.contains("voice processing"))
        .unwrap_or_else(|| panic!("no reason logged:\n{logs}"));
    assert!(
        line.contains("goes on without it")
            && line.contains("cannot load")
            && line.contains(&voice.display().to_string()),
        "{line}"
    );
    assert_eq!(mapped(&engine_maps(&host)), Vec::<&str>::new());
    Seatphone::hang_up(&mut page, &id).await;
    assert!(bob.wait_event(T, "CALL_CLOSED"));
}
