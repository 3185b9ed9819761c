//! The device, index, volume and mute commands, through the `Plugin` trait
//! with a host double: no sound card needed.

mod common;

use common::{call, TestHost};
use seatphone_audio as audio;
use seatphone_plugin_api::{Command, Event};
use serde_json::json;

fn plugin_with(settings: serde_json::Value) -> (TestHost, audio::Audio) {
    let host = TestHost::with_audio(settings);
    let plugin = audio::new(host.host()).expect("plugin loads without devices");
    (host, plugin)
}

#[test]
fn lists_configured_file_devices_first_in_the_protocol_shape() {
    let (_h, p) = plugin_with(json!({ "input": "file:/tmp/in.wav", "output": "null" }));
    let r = call(&p, Command::GetDevices, json!({ "deviceType": 0 }));
    assert_eq!(r["result"], 0, "{r}");
    let param = &r["param"];
    assert_eq!(param["deviceType"], 0);
    let list = param["deviceInfo"].as_array().unwrap();
    assert_eq!(param["num"], list.len());
    assert_eq!(list[0]["deviceName"], "file:/tmp/in.wav");
    for (i, d) in list.iter().enumerate() {
        assert_eq!(d["index"], i);
        assert_eq!(d["cameraOrient"], 0);
        assert!(d["deviceId"].is_number());
    }
    let r = call(&p, Command::GetDevices, json!({ "deviceType": 1 }));
    assert_eq!(r["param"]["deviceInfo"][0]["deviceName"], "null (silence)");
    assert_eq!(r["param"]["deviceType"], 1);
}

#[test]
fn cameras_belong_to_video_and_bad_types_are_invalid() {
    let (_h, p) = plugin_with(json!({}));
    let r = call(&p, Command::GetDevices, json!({ "deviceType": 2 }));
    assert_eq!(r["result"], 4);
    assert!(r["errMsg"].as_str().unwrap().contains("video"));
    for bad in [
        json!({ "deviceType": "0" }),
        json!({ "deviceType": 7 }),
        json!({}),
    ] {
        let r = call(&p, Command::GetDevices, bad.clone());
        assert_eq!(r["result"], 2, "{bad} → {r}");
        assert!(r["errMsg"].is_string());
    }
}

#[test]
fn index_must_exist_and_is_kept() {
    let (_h, p) = plugin_with(json!({ "input": "file:/tmp/in.wav" }));
    let r = call(&p, Command::GetMicIndex, json!({}));
    assert_eq!(r["param"]["index"], 0);
    let list = call(&p, Command::GetDevices, json!({ "deviceType": 0 }));
    let num = list["param"]["num"].as_u64().unwrap();
    assert!(num >= 2, "file device plus silence at least");
    let last = num - 1;
    let r = call(&p, Command::SetMicIndex, json!({ "index": last }));
    assert_eq!(r["result"], 0, "{r}");
    let r = call(&p, Command::GetMicIndex, json!({}));
    assert_eq!(r["param"]["index"], last);
    let r = call(&p, Command::SetMicIndex, json!({ "index": num + 5 }));
    assert_eq!(r["result"], 5, "{r}");
    let r = call(&p, Command::SetMicIndex, json!({ "index": -1 }));
    assert_eq!(r["result"], 2, "{r}");
    let r = call(&p, Command::SetSpeakIndex, json!({ "index": "0" }));
    assert_eq!(r["result"], 2, "{r}");
    let r = call(&p, Command::SetSpeakIndex, json!({ "index": 0 }));
    assert_eq!(r["result"], 0, "{r}");
    let r = call(&p, Command::GetSpeakIndex, json!({}));
    assert_eq!(r["param"]["index"], 0);
    // The selection did not move the mic.
    let r = call(&p, Command::GetMicIndex, json!({}));
    assert_eq!(r["param"]["index"], last);
}

#[test]
fn volumes_are_0_to_100_and_kept() {
    let (_h, p) = plugin_with(json!({}));
    let r = call(&p, Command::GetMicVolume, json!({}));
    assert_eq!(r["param"]["volume"], 100);
    let r = call(
        &p,
        Command::SetMicVolume,
        json!({ "volume": 20, "device": 1 }),
    );
    assert_eq!(r["result"], 0);
    let r = call(&p, Command::SetSpeakVolume, json!({ "volume": 80 }));
    assert_eq!(r["result"], 0);
    assert_eq!(
        call(&p, Command::GetMicVolume, json!({}))["param"]["volume"],
        20
    );
    assert_eq!(
        call(&p, Command::GetSpeakVolume, json!({}))["param"]["volume"],
        80
    );
    for bad in [
        json!({ "volume": 101 }),
        json!({ "volume": -1 }),
        json!({ "volume": "50" }),
        json!({ "volume": 50.5 }),
        json!({}),
        json!({ "volume": 5, "device": "x" }),
    ] {
        let r = call(&p, Command::SetSpeakVolume, bad.clone());
        assert_eq!(r["result"], 2, "{bad} → {r}");
    }
    assert_eq!(
        call(&p, Command::GetSpeakVolume, json!({}))["param"]["volume"],
        80
    );
}

/// Mute is the named call's: without that call the parameters are still
/// checked (2), and a well-formed request names no call here (5).
#[test]
fn mute_flag_is_validated() {
    let (_h, p) = plugin_with(json!({}));
    for ok in [
        json!({ "callId": 1, "isMute": 1 }),
        json!({ "callId": 1, "isMute": 0 }),
        json!({ "callId": 1, "isMute": true }),
        json!({ "callId": -1, "isMute": 1 }),
    ] {
        let r = call(&p, Command::MuteMic, ok.clone());
        assert_eq!(r["result"], 5, "{ok} → {r}");
        assert!(r["errMsg"].as_str().unwrap().contains("no call"), "{r}");
    }
    for bad in [
        json!({ "callId": 1, "isMute": 2 }),
        json!({ "callId": 1, "isMute": "1" }),
        json!({ "isMute": 1 }),
        json!({ "callId": 1 }),
    ] {
        let r = call(&p, Command::MuteMic, bad.clone());
        assert_eq!(r["result"], 2, "{bad} → {r}");
    }
}

#[test]
fn info_declares_the_table() {
    use seatphone_plugin_api::Plugin;
    let (_h, p) = plugin_with(json!({}));
    let info = p.info();
    assert_eq!(info.capabilities, vec!["audio"]);
    assert_eq!(info.media, vec!["audio"]);
    let cmds: Vec<u32> = info.commands.iter().map(|c| c.cmd).collect();
    for c in seatphone_plugin_api::Capability::Audio.commands() {
        assert!(cmds.contains(&c.cmd), "{} missing", c.description);
    }
    assert!(cmds.contains(&Command::SendDtmf.cmd()));
    assert!(info
        .events
        .iter()
        .all(|e| e.notify == Event::LocalQos.notify() || (3000..3100).contains(&e.notify)));
}
