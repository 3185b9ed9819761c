//! Stopping a call never waits for its media thread: the host calls
//! `media_stop` from its SIP task, which must not stall on a device.

mod common;

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::TestHost;
use seatphone_audio as audio;
use seatphone_plugin_api::{AnswerRequest, Plugin, StartRequest, StopRequest};
use serde_json::json;

const CALL: u32 = 7;

/// The kernel's word for where a thread named `name` of this process
/// sleeps, for each such thread.
fn wait_channels(name: &str) -> Vec<String> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc");
    tasks
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .filter_map(|t| std::fs::read_to_string(t.path().join("wchan")).ok())
        .collect()
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < end, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_call_stops_while_its_thread_is_stuck_opening_a_device() {
    let dir = std::env::temp_dir().join(format!("seatphone-stop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A speaker that is a FIFO nobody reads: opening it blocks.
    let fifo = dir.join("speaker.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let host = TestHost::with_audio(json!({
        "input": "null",
        "output": format!("file:{}", fifo.display()),
    }));
    let plugin = audio::new(host.host()).unwrap();
    plugin.configure(&json!({"audio": {"audio_codec": "0"}}));
    let remote = "m=audio 9 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:0 PCMU/8000\r\n";
    let local = plugin
        .media_answer(AnswerRequest {
            call_id: CALL,
            kind: "audio".into(),
            local_ip: "127.0.0.1".into(),
            remote: remote.into(),
        })
        .unwrap()
        .section;
    plugin
        .media_start(StartRequest {
            call_id: CALL,
            kind: "audio".into(),
            local,
            remote: remote.into(),
        })
        .unwrap();
    let thread = format!("audio-call-{CALL}");
    until(
        "the call's thread waits for a reader of its speaker",
        || {
            wait_channels(&thread)
                .iter()
                .any(|w| w == "wait_for_partner")
        },
    );

    // The host's SIP task stops the call: it returns, the thread still stuck.
    let (done, stopped) = mpsc::channel();
    let plugin = std::sync::Arc::new(plugin);
    let p = plugin.clone();
    std::thread::spawn(move || {
        p.media_stop(StopRequest {
            call_id: CALL,
            kind: "audio".into(),
        });
        let _ = done.send(());
    });
    assert!(
        stopped.recv_timeout(Duration::from_secs(10)).is_ok(),
        "media_stop waited for the call's thread"
    );
    assert_eq!(wait_channels(&thread), vec!["wait_for_partner"]);

    // Once the device opens, the thread sees the stop and ends on its own.
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || std::io::copy(&mut std::fs::File::open(&fifo)?, &mut std::io::sink())
    });
    until("the call's thread ends", || {
        wait_channels(&thread).is_empty()
    });
    assert!(host
        .logs
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("media stops: ")));
    let _ = reader.join();
    remove(&dir);
}

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}
