//! The page API of the foundation: sockets, frames, result codes, access
//! rules, the daemon's view of the engine, plugins present or absent.
//! Real `seatphone` processes on free loopback ports.

use std::time::Duration;

use seatphone_protocol::catalogue::{Owner, COMMANDS};
use seatphone_tests::host::{
    assert_error, frame_text, http_get, plugin_library, signal, Command, Event, Options, Page,
    Seatphone, CALL, DAEMON, LOGIN, WORKSPACE_PLUGINS,
};
use seatphone_tests::plugins;
use serde_json::json;

const T: Duration = Duration::from_secs(10);

#[tokio::test]
async fn daemon_tells_a_new_page_the_engine_is_up_and_its_version() {
    let host = Seatphone::start(Options::default()).await;
    let mut daemon = host.daemon_page().await;
    assert_eq!(daemon.protocol.as_deref(), Some(DAEMON));
    let startup = daemon.next_frame(T).await.unwrap();
    let up = Event::ServiceStartup;
    assert_eq!(
        startup,
        json!({"description": up.description(), "notify": up.notify(), "param": {}})
    );
    let version = daemon.next_frame(T).await.unwrap();
    assert_eq!(version["notify"], Event::VersionInfo.notify());
    assert_eq!(version["param"]["version"], env!("CARGO_PKG_VERSION"));
    let names: Vec<&str> = version["param"]["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["audio", "capture", "share", "video"]);
}

#[tokio::test]
async fn killed_engine_is_reported_down_then_recovered_and_answers_again() {
    let host = Seatphone::start(Options::default()).await;
    let mut daemon = host.daemon_page().await;
    daemon.event(Event::ServiceStartup, T).await;
    let engine = host.engine_pid().expect("engine child");
    signal(engine, "KILL");
    let down = daemon.event(Event::ServiceShutdown, T).await;
    assert!(
        down["param"]["reason"].as_str().unwrap().contains("engine"),
        "{down}"
    );
    daemon.event(Event::ServiceRecover, T).await;
    daemon.event(Event::VersionInfo, T).await;
    assert_ne!(host.engine_pid(), Some(engine));
    let mut page = host.call_page().await;
    page.ok(Command::GetMicVolume, json!({})).await;
}

#[tokio::test]
async fn sockets_are_chosen_by_subprotocol_or_path_and_the_protocol_is_echoed() {
    let host = Seatphone::start(Options::default()).await;
    let login = Page::connect(&host.url("/"), Some(LOGIN), None)
        .await
        .unwrap();
    assert_eq!(login.protocol.as_deref(), Some(LOGIN));
    let tup = Page::connect(&host.url("/"), Some("tup_call_service_protocol"), None)
        .await
        .unwrap();
    assert_eq!(tup.protocol.as_deref(), Some("tup_call_service_protocol"));
    drop(tup);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut by_path = Page::connect(&host.url("/call"), None, None).await.unwrap();
    by_path.ok(Command::GetMicVolume, json!({})).await;
    assert!(
        Page::connect(&host.url("/"), None, None).await.is_err(),
        "no sub-protocol, no path: refused"
    );
}

#[tokio::test]
async fn responses_echo_rsp_description_and_seq() {
    let host = Seatphone::start(Options::default()).await;
    let mut page = host.call_page().await;
    let get = Command::GetMicVolume;
    page.send_text(&frame_text(get, r#","seq":41"#)).await;
    page.send_text(&frame_text(get, r#","seq":42"#)).await;
    let a = page.response_for(41).await;
    let b = page.response_for(42).await;
    for r in [&a, &b] {
        assert_eq!(r["rsp"], get.cmd());
        assert_eq!(r["description"], get.description());
        assert_eq!(r["result"], 0);
        assert!(r["param"]["volume"].is_number(), "{r}");
    }
}

#[tokio::test]
async fn malformed_and_ill_typed_frames_get_result_2_and_the_socket_stays_open() {
    let host = Seatphone::start(Options::default()).await;
    let mut page = host.call_page().await;
    let (cmd, desc) = (
        Command::GetMicVolume.cmd(),
        Command::GetMicVolume.description(),
    );
    let expected_cmd = cmd.to_string();
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "JSON"),
        ("[1,2,3]".into(), "object"),
        ("\"text\"".into(), "object"),
        (format!(r#"{{"cmd":{cmd}}}"#), "description"),
        (format!(r#"{{"description":"{desc}"}}"#), "cmd"),
        (
            format!(r#"{{"cmd":"{cmd}","description":"{desc}"}}"#),
            "cmd",
        ),
        (
            frame_text(Command::GetMicVolume, r#","param":"x""#),
            "param",
        ),
        // Not in the catalogue on purpose: an unknown command.
        (
            r#"{"cmd":1,"description":"tsdk_no_such_thing"}"#.into(),
            "unknown",
        ),
        // Another number with this description: the answer names the right one.
        (
            format!(r#"{{"cmd":{},"description":"{desc}"}}"#, cmd + 1),
            &expected_cmd,
        ),
    ];
    for (frame, says) in &cases {
        page.send_text(frame).await;
        let r = page
            .next_frame(T)
            .await
            .unwrap_or_else(|| panic!("no answer to {frame}"));
        assert_error(&r, 2);
        assert!(
            r["errMsg"].as_str().unwrap().contains(says),
            "{frame} → {r}"
        );
    }
    let unknown = page.request_raw(1, "tsdk_no_such_thing", json!({})).await;
    assert_eq!(
        (unknown["rsp"].clone(), unknown["description"].clone()),
        (json!(1), json!("tsdk_no_such_thing"))
    );
    let pad = format!(r#","param":{{"pad":"{}"}}"#, "x".repeat(1 << 20));
    let big = frame_text(Command::GetMicVolume, &pad);
    page.send_text(&big).await;
    let r = page.next_frame(T).await.unwrap();
    assert_error(&r, 2);
    assert!(r["errMsg"].as_str().unwrap().contains("limit"), "{r}");
    page.send_binary(br#"{"cmd":1}"#).await;
    let r = page
        .next_frame(T)
        .await
        .expect("an answer to a binary frame");
    assert_error(&r, 2);
    assert!(r["errMsg"].as_str().unwrap().contains("binary"), "{r}");
    page.ok(Command::GetMicVolume, json!({})).await;
}

#[tokio::test]
async fn audio_commands_validate_ranges_types_and_indexes() {
    let host = Seatphone::start(Options::default()).await;
    let mut page = host.call_page().await;
    page.ok(Command::SetMicVolume, json!({"volume": 35, "device": 0}))
        .await;
    let get = page.request(Command::GetMicVolume, json!({})).await;
    assert_eq!(get["param"]["volume"], 35);
    assert_error(
        &page
            .request(Command::SetMicVolume, json!({"volume": 101}))
            .await,
        2,
    );
    assert_error(
        &page
            .request(Command::SetSpeakVolume, json!({"volume": "loud"}))
            .await,
        2,
    );
    assert_error(
        &page
            .request(Command::SetMicIndex, json!({"index": 999}))
            .await,
        5,
    );
    assert_eq!(
        page.request(Command::GetSpeakVolume, json!({})).await["result"],
        0
    );
    let devices = page.ok(Command::GetDevices, json!({"deviceType": 0})).await;
    let list = devices["param"]["deviceInfo"].as_array().unwrap();
    assert_eq!(devices["param"]["num"], list.len());
    assert_eq!(devices["param"]["deviceType"], 0);
    for d in list {
        for key in ["cameraOrient", "deviceId", "deviceName", "index"] {
            assert!(d.get(key).is_some(), "{key} missing in {d}");
        }
    }
    page.ok(Command::GetMicIndex, json!({})).await;
    page.ok(Command::SetMicIndex, json!({"index": list[0]["index"]}))
        .await;
}

/// Plugins left out of a deployment: the host answers every command of
/// their capabilities itself, result 4, naming the capability.
#[tokio::test]
async fn commands_of_a_capability_no_plugin_provides_answer_4_naming_it() {
    let loaded = ["audio", "video"];
    let host = Seatphone::start(Options {
        plugins: loaded.iter().map(|n| plugin_library(n)).collect(),
        ..Options::default()
    })
    .await;
    let mut page = host.call_page().await;
    let mut asked = 0;
    for row in COMMANDS {
        let Owner::Capability(cap) = row.owner else {
            continue;
        };
        if loaded.contains(&cap.name()) {
            continue;
        }
        let r = page.request(row.command, json!({})).await;
        assert_error(&r, 4);
        assert!(r["errMsg"].as_str().unwrap().contains(cap.name()), "{r}");
        asked += 1;
    }
    assert!(asked >= 7, "share and capture commands: {asked}");
}

/// Audio ⇄ video is the host's (the SIP side renegotiates): without a
/// call, each command says what is wrong, and bad parameters are result 2.
#[tokio::test]
async fn video_upgrade_commands_name_what_is_wrong() {
    let host = Seatphone::start(Options::default()).await;
    let mut page = host.call_page().await;
    for command in [Command::AddVideo, Command::DelVideo] {
        let r = page.request(command, json!({"callId": 1})).await;
        assert_error(&r, 5);
        assert!(r["errMsg"].as_str().unwrap().contains("no call 1"), "{r}");
        let r = page.request(command, json!({"callId": "x"})).await;
        assert_error(&r, 2);
    }
    let r = page
        .request(Command::ReplyAddVideo, json!({"callId": 1, "accept": true}))
        .await;
    assert_error(&r, 5);
    let r = page
        .request(
            Command::ReplyAddVideo,
            json!({"callId": 1, "accept": "yes"}),
        )
        .await;
    assert_error(&r, 2);
    assert!(r["errMsg"].as_str().unwrap().contains("accept"), "{r}");
}

/// getMediaDevices(2) lists the V4L2 cameras in the reference's fields;
/// this machine has none, and the list says so rather than inventing one.
#[tokio::test]
async fn cameras_are_listed_by_the_video_plugin_and_none_is_none() {
    let host = Seatphone::start(Options::default()).await;
    let mut page = host.call_page().await;
    let r = page.ok(Command::GetDevices, json!({"deviceType": 2})).await;
    assert_eq!(r["param"]["deviceType"], 2, "{r}");
    let list = r["param"]["deviceInfo"].as_array().unwrap();
    assert_eq!(r["param"]["num"], list.len(), "{r}");
    let nodes = std::fs::read_dir("/dev")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("video"))
                .count()
        })
        .unwrap_or(0);
    if nodes == 0 {
        assert!(list.is_empty(), "no camera here: {r}");
    }
    for (i, d) in list.iter().enumerate() {
        assert_eq!(d["index"], i, "{d}");
        for key in ["cameraOrient", "deviceId", "deviceName"] {
            assert!(d.get(key).is_some(), "{key} missing in {d}");
        }
    }
    // Microphones and speakers stay the audio plugin's.
    let mics = page
        .request(Command::GetDevices, json!({"deviceType": 0}))
        .await;
    assert_eq!(mics["param"]["deviceType"], 0, "{mics}");
}

#[tokio::test]
async fn audio_only_deployment_answers_audio_and_refuses_video_with_4() {
    let host = Seatphone::start(Options {
        plugins: vec![plugin_library("audio")],
        ..Default::default()
    })
    .await;
    let mut page = host.call_page().await;
    assert_eq!(
        page.request(Command::GetMicVolume, json!({})).await["result"],
        0
    );
    let video = page
        .request(Command::SetVideoLayoutMode, json!({"layoutMode": 0}))
        .await;
    assert_error(&video, 4);
    assert!(
        video["errMsg"].as_str().unwrap().contains("video"),
        "{video}"
    );
    let capture = page
        .request(
            Command::CatchVideo,
            json!({"operation": 0, "format": "path"}),
        )
        .await;
    assert_error(&capture, 4);
    // Cameras are the video plugin's to list; microphones still answer.
    let cameras = page
        .request(Command::GetDevices, json!({"deviceType": 2}))
        .await;
    assert_error(&cameras, 4);
    let health = host.health().await;
    assert_eq!(health["plugins"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn custom_hello_plugin_answers_its_command_then_sends_its_event() {
    let mut options = Options::default();
    options.plugins.push(plugins::hello());
    let host = Seatphone::start(options).await;
    let health = host.health().await;
    let hello = health["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hello")
        .expect("hello loaded");
    assert_eq!(
        hello["commands"],
        json!([{"cmd": 90001, "description": "hello_echo"}])
    );
    assert_eq!(
        hello["events"],
        json!([{"notify": 90101, "description": "HELLO_EVT_ECHOED"}])
    );

    let mut page = host.call_page().await;
    page.send_text(r#"{"cmd":90001,"description":"hello_echo","param":{"text":"hi"},"seq":5}"#)
        .await;
    let first = page.next_frame(T).await.unwrap();
    assert_eq!(
        first,
        json!({"description":"hello_echo","rsp":90001,"seq":5,"result":0,"param":{"text":"hi"}})
    );
    let second = page.next_frame(T).await.unwrap();
    assert_eq!(
        second,
        json!({"description":"HELLO_EVT_ECHOED","notify":90101,"param":{"text":"hi"}})
    );
    assert_error(
        &page
            .request_raw(90001, "hello_echo", json!({"text": 3}))
            .await,
        2,
    );
}

/// A plugin built against plugin API 1.0.0 as released (a frozen copy of
/// the crate) loads in this host of a later 1.x, which appended a method,
/// and answers: its command, its event, and a frame it sends itself over
/// the media bus.
#[tokio::test]
async fn a_plugin_built_against_the_frozen_api_1_0_loads_and_answers() {
    let mut options = Options::default();
    options.plugins.push(plugins::frozen());
    let host = Seatphone::start(options).await;
    let health = host.health().await;
    let frozen = health["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "frozen")
        .unwrap_or_else(|| panic!("frozen not loaded: {health}"));
    assert_eq!(frozen["api"], "1.0.0", "{frozen}");
    let speaks = health["plugin_api"].as_str().unwrap();
    assert!(
        speaks.starts_with("1.") && speaks != "1.0.0",
        "a later 1.x host: {health}"
    );

    let mut page = host.call_page().await;
    let r = page
        .request_raw(91001, "frozen_echo", json!({"text": "still here"}))
        .await;
    assert_eq!(r["result"], 0, "{r}");
    assert_eq!(r["param"]["text"], "still here");
    let echoed = page.event(91101u32, T).await;
    assert_eq!(
        echoed["param"],
        json!({"text": "still here", "keyframe": true, "vp8": true, "pts_us": 40_000})
    );
    assert_error(&page.request_raw(91001, "frozen_echo", json!({})).await, 2);
}

#[tokio::test]
async fn incompatible_or_foreign_libraries_are_skipped_and_the_host_serves() {
    let mut options = Options::default();
    options.plugins.push(plugins::incompatible());
    options.plugins.push(plugins::newer_minor());
    options.plugins.push(plugins::not_a_plugin());
    let host = Seatphone::start(options).await;
    let health = host.health().await;
    let skipped = health["skipped"].as_array().unwrap();
    let reason = |file: &str| -> String {
        skipped
            .iter()
            .find(|s| s["file"].as_str().unwrap().contains(file))
            .map(|s| s["reason"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{file} not listed as skipped: {health}"))
    };
    let incompatible = reason("seatphone_incompatible");
    let speaks = health["plugin_api"].as_str().unwrap();
    assert!(speaks.starts_with("1."), "{health}");
    assert!(
        incompatible.contains("2.0.0") && incompatible.contains(speaks),
        "both versions named: {incompatible}"
    );
    let newer = reason("seatphone_newer_minor");
    assert!(
        newer.contains("1.99.0") && newer.contains(speaks) && newer.contains("newer"),
        "a newer minor version is refused, both named: {newer}"
    );
    assert!(reason("not_a_plugin").contains("not a Seatphone plugin"));
    // Told apart by its export table: never loaded, so none of its code ran.
    let maps = std::fs::read_to_string(format!(
        "/proc/{}/maps",
        host.engine_pid().expect("engine running")
    ))
    .unwrap();
    assert!(
        !maps.contains("not_a_plugin"),
        "the foreign library was loaded"
    );
    // The audio plugin's voice library is no plugin either, but it is its
    // plugin's helper: left alone, not listed.
    assert_eq!(skipped.len(), 3, "{health}");
    assert_eq!(
        health["plugins"].as_array().unwrap().len(),
        WORKSPACE_PLUGINS.len()
    );
    assert!(host.all_logs().contains("plugin skipped"));
    let mut page = host.call_page().await;
    assert_eq!(
        page.request(Command::GetMicVolume, json!({})).await["result"],
        0
    );
}

#[tokio::test]
async fn second_page_gets_4001_and_takeover_closes_the_first_with_4002() {
    let host = Seatphone::start(Options::default()).await;
    let mut first = host.call_page().await;
    let mut second = host.call_page().await;
    let close = second.closed(T).await.expect("close frame");
    assert_eq!(u16::from(close.code), 4001);
    assert_eq!(close.reason.as_str(), "another page holds the softphone");
    assert_eq!(
        first.request(Command::GetMicVolume, json!({})).await["result"],
        0
    );

    let mut third = Page::connect(&host.url("/?takeover=1"), Some(CALL), None)
        .await
        .unwrap();
    let close = first.closed(T).await.expect("close frame");
    assert_eq!(u16::from(close.code), 4002);
    assert_eq!(close.reason.as_str(), "taken over by another page");
    assert_eq!(
        third.request(Command::GetMicVolume, json!({})).await["result"],
        0
    );

    drop(third);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut fourth = host.call_page().await;
    assert_eq!(
        fourth.request(Command::GetMicVolume, json!({})).await["result"],
        0
    );
}

#[tokio::test]
async fn hostile_origin_gets_403_and_own_origin_passes() {
    let host = Seatphone::start(Options::default()).await;
    let err = Page::connect(&host.url("/"), Some(CALL), Some("https://evil.example"))
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("403"), "{err}");
    let err = Page::connect(
        &format!("ws://127.0.0.1:{}/", host.daemon_port),
        Some(DAEMON),
        Some("http://127.0.0.1:1"),
    )
    .await
    .err()
    .expect("refused");
    assert!(err.to_string().contains("403"), "{err}");
    let own = format!("http://127.0.0.1:{}", host.port);
    assert!(Page::connect(&host.url("/"), Some(LOGIN), Some(&own))
        .await
        .is_ok());
    assert!(
        host.all_logs().contains("evil.example"),
        "refusals are logged with the origin"
    );
}

#[tokio::test]
async fn configured_origin_is_allowed_and_null_only_when_configured() {
    let host = Seatphone::start(Options {
        api_toml: "allowed_origins = [\"https://agent.example.com\"]".into(),
        ..Default::default()
    })
    .await;
    assert!(Page::connect(
        &host.url("/"),
        Some(CALL),
        Some("https://agent.example.com")
    )
    .await
    .is_ok());
    let err = Page::connect(&host.url("/"), Some(LOGIN), Some("null"))
        .await
        .err()
        .expect("null refused");
    assert!(err.to_string().contains("403"), "{err}");
}

#[tokio::test]
async fn a_wildcard_origin_admits_the_company_subdomains_and_no_look_alike() {
    let host = Seatphone::start(Options {
        api_toml: "allowed_origins = [\"https://*.example.com\"]".into(),
        ..Default::default()
    })
    .await;
    for origin in ["https://agent.example.com", "https://eu.portal.example.com"] {
        let page = Page::connect(&host.url("/"), Some(LOGIN), Some(origin)).await;
        assert!(page.is_ok(), "{origin}: {:?}", page.err());
    }
    for origin in [
        "https://example.com.evil.test",
        "https://evil-example.com",
        "https://example.com",
        "http://agent.example.com",
    ] {
        let err = Page::connect(&host.url("/"), Some(LOGIN), Some(origin))
            .await
            .err()
            .unwrap_or_else(|| panic!("{origin} was let in"));
        assert!(err.to_string().contains("403"), "{origin}: {err}");
    }
    let err = Page::connect(
        &format!("ws://127.0.0.1:{}/", host.daemon_port),
        Some(DAEMON),
        Some("https://evil-example.com"),
    )
    .await
    .err()
    .expect("the daemon socket checks the same list");
    assert!(err.to_string().contains("403"), "{err}");
}

/// Starts seatphone with `config` as its file (in `dir`); it must refuse to
/// start with exit code 2. Returns what it printed on stderr.
fn refused_start(dir: &std::path::Path, config: &str) -> String {
    let path = dir.join("seatphone.toml");
    std::fs::write(&path, config).unwrap();
    let out = std::process::Command::new(seatphone_tests::host::build_dir().join("seatphone"))
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_malformed_allowed_origin_stops_the_start_with_the_entry_named() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = refused_start(
        dir.path(),
        "[api]\nallowed_origins = [\"https://*example.com\"]\n",
    );
    assert!(stderr.contains("https://*example.com"), "{stderr}");
}

#[test]
fn a_tls_file_that_cannot_be_used_stops_the_start_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("seatphone.pem");
    std::fs::write(&cert, "not a certificate\n").unwrap();
    let stderr = refused_start(
        dir.path(),
        "[api]\ntls_cert = \"seatphone.pem\"\ntls_key = \"missing.key\"\n",
    );
    assert!(
        stderr.contains("tls_cert") && stderr.contains(&cert.display().to_string()),
        "{stderr}"
    );
    let stderr = refused_start(dir.path(), "[api]\ntls_cert = \"seatphone.pem\"\n");
    assert!(stderr.contains("go together"), "{stderr}");
}

#[tokio::test]
async fn http_serves_health_and_the_sdk_with_its_own_ports_and_checks_host() {
    let host = Seatphone::start(Options::default()).await;
    let health = host.health().await;
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert!(health["registration"].is_object());
    let (status, sdk) = host.http_get("/OpenEye_SDK.js").await.unwrap();
    assert_eq!(status, 200);
    let line = sdk
        .lines()
        .find(|l| l.contains("var SEATPHONE_DEFAULTS = "))
        .expect("defaults line");
    assert!(line.contains(&format!("\"port\":{}", host.port)), "{line}");
    assert!(
        line.contains(&format!("\"daemonPort\":{}", host.daemon_port)),
        "{line}"
    );
    let (status, _) = http_get(host.port, "/health", "rebind.evil.example")
        .await
        .unwrap();
    assert_eq!(status, 421);
}

#[tokio::test]
async fn sigterm_stops_daemon_and_engine() {
    let host = Seatphone::start(Options::default()).await;
    let engine = host.engine_pid().unwrap();
    let status = host.stop().await;
    assert!(status.success(), "{status:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !std::path::Path::new(&format!("/proc/{engine}")).exists(),
        "engine still running"
    );
}

#[tokio::test]
async fn bad_config_file_is_refused_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[api]\nport = 7000\nprot = 1\n").unwrap();
    let out = std::process::Command::new(seatphone_tests::host::build_dir().join("seatphone"))
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("line 3") && err.contains("prot"),
        "{err}"
    );
}

#[tokio::test]
async fn a_page_that_stops_answering_pings_loses_the_call_socket() {
    let host = Seatphone::start(Options::default()).await;
    // One answer shows it holds the call socket; then it is never read
    // again, and tungstenite answers pings only while the stream is read.
    let mut silent = host.call_page().await;
    silent.ok(Command::GetMicVolume, json!({})).await;
    let started = tokio::time::Instant::now();
    loop {
        // Each try waits for the host's verdict (an answer or 4001), not
        // for a quiet spell a busy machine can stretch.
        let mut page = host.call_page().await;
        match page
            .answer_or_close(Command::GetMicVolume, json!({}), T)
            .await
        {
            Ok(answer) => {
                assert_eq!(answer["result"], 0, "{answer}");
                break;
            }
            Err(close) => {
                assert_eq!(close.map(|c| u16::from(c.code)), Some(4001));
                assert!(
                    started.elapsed() < Duration::from_secs(40),
                    "the silent page kept the slot"
                );
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let freed_after = started.elapsed();
    assert!(
        freed_after >= Duration::from_secs(10),
        "freed after {freed_after:?}: too early"
    );
}

#[tokio::test]
async fn config_paths_outside_page_paths_are_ignored_and_said_so() {
    let allowed = tempfile::tempdir().unwrap();
    let host = Seatphone::start(Options {
        api_toml: format!("page_paths = [\"{}\"]", allowed.path().display()),
        ..Default::default()
    })
    .await;
    let mut page = host.call_page().await;
    let inside = allowed.path().join("siplog");
    let ok = page
        .ok(
            Command::SetConfigParam,
            json!({"log_path": inside.to_str().unwrap()}),
        )
        .await;
    assert!(
        !ok["errMsg"].as_str().unwrap_or("").contains("page_paths"),
        "{ok}"
    );
    let outside = page
        .ok(
            Command::SetConfigParam,
            json!({"log_path": "/etc", "sip": {"tls_rootcertpath": "/root/ca.pem"}}),
        )
        .await;
    let msg = outside["errMsg"].as_str().unwrap();
    assert!(
        msg.contains("log_path") && msg.contains("tls_rootcertpath") && msg.contains("page_paths"),
        "{msg}"
    );
}

#[tokio::test]
async fn commands_in_the_wrong_state_answer_3() {
    let host = Seatphone::start(Options::default()).await;
    let mut page = host.call_page().await;
    let login = json!({"sipNum": "1001", "sipName": "1001", "sipPwd": "x", "sipMode": 4});
    let r = page.request(Command::Login, login).await;
    assert_error(&r, 3);
    assert!(
        r["errMsg"].as_str().unwrap().contains("config"),
        "says what to do first: {r}"
    );
}
