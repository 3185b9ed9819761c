//! The page events of PROTOCOL.md (1004–1009, 2002–2022), built in one place
//! so that every `param` has exactly the documented shape.

use serde_json::{json, Value};

/// One event for the page: `{"description", "notify", "param"}` on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct PageEvent {
    pub notify: u32,
    pub description: String,
    pub param: Value,
}

impl PageEvent {
    fn new(notify: u32, description: &str, param: Value) -> Self {
        Self {
            notify,
            description: description.to_owned(),
            param,
        }
    }
}

/// The reference's value for "the call to end does not exist" (notify 2022).
pub const ENDCALL_UNKNOWN: u64 = 50_331_670;

/// `pool`: registered in pool mode (serviceAccountType 5, "UAP pool"),
/// else 4 ("UAP"), as the reference gives them.
pub fn login_success(user: &str, pool: bool) -> PageEvent {
    PageEvent::new(
        1004,
        "TSDK_E_LOGIN_EVT_LOGIN_SUCCESS",
        json!({
            "loginSuccessInfo": {"confEnvType": 0},
            "serviceAccountType": if pool { 5 } else { 4 },
            "userId": 0,
            "user_number": user,
            "register_state": 3,
        }),
    )
}

pub fn login_failed(user: &str, reason: u16) -> PageEvent {
    PageEvent::new(
        1005,
        "TSDK_E_LOGIN_EVT_LOGIN_FAILED",
        json!({
            "loginFailedInfo": {"reasonCode": reason, "reasonDescription": reason_text(reason)},
            "user_number": user,
            "register_state": 0,
            "reason_code": reason,
        }),
    )
}

pub fn logout_success(user: &str) -> PageEvent {
    PageEvent::new(
        1006,
        "TSDK_E_LOGIN_EVT_LOGOUT_SUCCESS",
        json!({"user_number": user, "register_state": 4}),
    )
}

pub fn logout_failed(user: &str, reason: u16) -> PageEvent {
    PageEvent::new(
        1007,
        "TSDK_E_LOGIN_EVT_LOGOUT_FAILED",
        json!({"user_number": user, "reason_code": reason}),
    )
}

pub fn force_logout(user: &str, reason: u16) -> PageEvent {
    PageEvent::new(
        1008,
        "TSDK_E_LOGIN_EVT_FORCE_LOGOUT",
        json!({"user_number": user, "reason_code": reason}),
    )
}

pub fn account_status(user: &str, state: u8, reason: u16, server: &str) -> PageEvent {
    PageEvent::new(
        1009,
        "TSDK_E_LOGIN_EVT_VOIP_ACCOUNT_STATUS",
        json!({"user_number": user, "register_state": state, "reason_code": reason, "server": server}),
    )
}

pub fn call_incoming(id: u32, info: Value, maybe_video: bool) -> PageEvent {
    PageEvent::new(
        2002,
        "TSDK_E_CALL_EVT_CALL_INCOMING",
        json!({"callId": id, "call_id": id, "callInfo": info, "maybeVideoCall": u8::from(maybe_video)}),
    )
}

pub fn call_outgoing(id: u32, info: Value) -> PageEvent {
    with_info(2003, "TSDK_E_CALL_EVT_CALL_OUTGOING", id, info)
}

pub fn call_ringback(id: u32) -> PageEvent {
    bare(2004, "TSDK_E_CALL_EVT_CALL_RINGBACK", id)
}

pub fn rtp_created(id: u32) -> PageEvent {
    bare(2005, "TSDK_E_CALL_EVT_CALL_RTP_CREATED", id)
}

pub fn call_connected(id: u32, info: Value) -> PageEvent {
    with_info(2006, "TSDK_E_CALL_EVT_CALL_CONNECTED", id, info)
}

pub fn call_ended(id: u32, info: Value) -> PageEvent {
    with_info(2007, "TSDK_E_CALL_EVT_CALL_ENDED", id, info)
}

pub fn hold_result(id: u32, ok: bool) -> PageEvent {
    if ok {
        bare(2018, "TSDK_E_CALL_EVT_HOLD_SUCCESS", id)
    } else {
        bare(2019, "TSDK_E_CALL_EVT_HOLD_FAILED", id)
    }
}

pub fn unhold_result(id: u32, ok: bool) -> PageEvent {
    if ok {
        bare(2020, "TSDK_E_CALL_EVT_UNHOLD_SUCCESS", id)
    } else {
        bare(2021, "TSDK_E_CALL_EVT_UNHOLD_FAILED", id)
    }
}

/// Notify 2022 for `endCall` of a call that does not exist.
pub fn endcall_failed(id: u64) -> PageEvent {
    PageEvent::new(
        2022,
        "TSDK_E_CALL_EVT_ENDCALL_FAILED",
        json!({"callId": id, "call_id": id, "result": ENDCALL_UNKNOWN}),
    )
}

fn bare(notify: u32, description: &str, id: u32) -> PageEvent {
    PageEvent::new(notify, description, json!({"callId": id, "call_id": id}))
}

fn with_info(notify: u32, description: &str, id: u32, info: Value) -> PageEvent {
    PageEvent::new(
        notify,
        description,
        json!({"callId": id, "call_id": id, "callInfo": info}),
    )
}

/// A short English reason for a SIP status, for `reasonDescription`.
/// `reasonDescription`: empty for a normal end, as the reference shows.
pub fn reason_text(status: u16) -> &'static str {
    match status {
        0 => "",
        401 | 407 => "authentication failed",
        403 => "forbidden",
        404 => "not found",
        408 => "timed out: no answer from the server or the peer",
        480 => "temporarily unavailable",
        486 => "busy here",
        487 => "request terminated",
        488 => "not acceptable here",
        500..=599 => "server error",
        600 => "busy everywhere",
        603 => "declined",
        _ => "failed",
    }
}
