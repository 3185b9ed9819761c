//! Opening a call's devices, and falling back when one fails.

use serde_json::json;

use super::CallContext;
use crate::devices::{DeviceKind, Direction as DeviceDirection};
use crate::EVT_DEVICE_FALLBACK;

/// Opens the selected device of `direction`. One that fails falls back to
/// the default (index 0), then to silence, and the page hears of it (3002).
pub(super) fn open_with_fallback<T: ?Sized>(
    ctx: &CallContext,
    direction: DeviceDirection,
    open: impl Fn(&DeviceKind) -> Result<Box<T>, String>,
    silence: impl Fn() -> Box<T>,
) -> Box<T> {
    let wanted = ctx.controls.current(direction);
    let first_error = match open(&wanted) {
        Ok(d) => return d,
        Err(e) => e,
    };
    let list = ctx.controls.list(direction);
    let (index, device) = match list.first().filter(|d| **d != wanted).map(|d| (d, open(d))) {
        Some((kind, Ok(d))) => (0, (kind.clone(), d)),
        _ => {
            let i = list
                .iter()
                .position(|d| *d == DeviceKind::Null)
                .unwrap_or(0);
            (i, (DeviceKind::Null, silence()))
        }
    };
    ctx.host
        .warn(&format!("audio: {first_error}; using {} instead", device.0));
    ctx.host.emit(
        EVT_DEVICE_FALLBACK,
        "AUDIO_EVT_DEVICE_FALLBACK",
        &json!({
            "deviceType": match direction { DeviceDirection::Input => 0, DeviceDirection::Output => 1 },
            "index": index,
            "deviceName": device.0.display_name(),
            "reason": first_error,
        }),
    );
    device.1
}
