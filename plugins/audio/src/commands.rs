//! Handlers of the page's device, volume and mute commands. Each checks its
//! parameters first: a wrong type or range is result 2 and changes nothing.

use std::sync::atomic::Ordering;

use seatphone_plugin_api::{result, Refusal, Reply, Request};
use serde_json::{json, Value};

use crate::controls::Controls;
use crate::devices::{DeviceKind, Direction};

/// An integer parameter, or the result-2 message naming it.
pub fn int_param(param: &Value, name: &str) -> Result<i64, String> {
    match param.get(name) {
        None => Err(format!("param.{name} is missing")),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| format!("param.{name} must be an integer, got {v}")),
    }
}

fn volume_param(param: &Value) -> Result<u8, String> {
    let v = int_param(param, "volume")?;
    u8::try_from(v)
        .ok()
        .filter(|v| *v <= 100)
        .ok_or_else(|| format!("param.volume must be 0–100, got {v}"))
}

/// `device` is optional (the reference always sends 1), but typed.
fn check_device_param(param: &Value) -> Result<(), String> {
    match param.get("device") {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.is_i64() => Ok(()),
        Some(v) => Err(format!("param.device must be an integer, got {v}")),
    }
}

pub fn set_volume(controls: &Controls, request: &Request, reply: Reply, mic: bool) {
    let checked = check_device_param(&request.param).and_then(|_| volume_param(&request.param));
    match checked {
        Err(e) => reply.error(result::INVALID, e),
        Ok(v) => {
            let slot = if mic {
                &controls.mic_volume
            } else {
                &controls.speaker_volume
            };
            slot.store(v, Ordering::Release);
            reply.ok();
        }
    }
}

pub fn get_volume(controls: &Controls, reply: Reply, mic: bool) {
    let slot = if mic {
        &controls.mic_volume
    } else {
        &controls.speaker_volume
    };
    reply.ok_with(json!({ "volume": slot.load(Ordering::Acquire) }));
}

/// `callId` (an integer) and `isMute` 1/0 (or a boolean) of `tsdk_mute_mic`.
pub fn mute_params(request: &Request) -> Result<(i64, bool), String> {
    let call_id = int_param(&request.param, "callId")?;
    let muted = match request.param.get("isMute") {
        None => return Err("param.isMute is missing".into()),
        Some(Value::Bool(b)) => *b,
        Some(v) => match v.as_i64() {
            Some(0) => false,
            Some(1) => true,
            _ => return Err(format!("param.isMute must be 1 or 0, got {v}")),
        },
    };
    Ok((call_id, muted))
}

/// `deviceType` 0 mic, 1 speaker; 2 (camera) is the video plugin's.
pub fn device_type(param: &Value) -> Result<Direction, Refusal> {
    match int_param(param, "deviceType").map_err(|e| Refusal::new(result::INVALID, e))? {
        0 => Ok(Direction::Input),
        1 => Ok(Direction::Output),
        2 => Err(Refusal::new(
            result::NOT_LOADED,
            "cameras are listed by the video plugin, which is not loaded",
        )),
        t => Err(Refusal::new(
            result::INVALID,
            format!("param.deviceType must be 0 (mic), 1 (speaker) or 2 (camera), got {t}"),
        )),
    }
}

pub fn device_list_param(direction: Direction, list: &[DeviceKind]) -> Value {
    let info: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({ "cameraOrient": 0, "deviceId": i, "deviceName": d.display_name(), "index": i })
        })
        .collect();
    json!({
        "deviceInfo": info,
        "deviceType": match direction { Direction::Input => 0, Direction::Output => 1 },
        "num": list.len(),
    })
}

pub fn index_param(param: &Value) -> Result<usize, String> {
    let i = int_param(param, "index")?;
    usize::try_from(i).map_err(|_| format!("param.index must be 0 or more, got {i}"))
}
