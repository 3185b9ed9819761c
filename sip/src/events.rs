//! The page events the SIP user agent sends (the catalogue's login and call
//! events), built in one place so that every `param` has exactly the
//! documented shape.

use seatphone_protocol::Event;
use serde_json::{json, Map, Value};

/// One event for the page: `{"description", "notify", "param"}` on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct PageEvent {
    pub notify: u32,
    pub description: String,
    pub param: Value,
}

impl PageEvent {
    fn new(event: Event, param: Value) -> Self {
        Self {
            notify: event.notify(),
            description: event.description().to_owned(),
            param,
        }
    }

    /// The standard event this is.
    pub fn event(&self) -> Option<Event> {
        Event::from_notify(self.notify)
    }
}

/// The reference's value for "the call to end does not exist" (notify 2022).
pub const ENDCALL_UNKNOWN: u64 = 50_331_670;

/// `pool`: registered in pool mode (serviceAccountType 5, "UAP pool"),
/// else 4 ("UAP"), as the reference gives them.
pub fn login_success(user: &str, pool: bool) -> PageEvent {
    PageEvent::new(
        Event::LoginSuccess,
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
        Event::LoginFailed,
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
        Event::LogoutSuccess,
        json!({"user_number": user, "register_state": 4}),
    )
}

pub fn logout_failed(user: &str, reason: u16) -> PageEvent {
    PageEvent::new(
        Event::LogoutFailed,
        json!({"user_number": user, "reason_code": reason}),
    )
}

pub fn force_logout(user: &str, reason: u16) -> PageEvent {
    PageEvent::new(
        Event::ForceLogout,
        json!({"user_number": user, "reason_code": reason}),
    )
}

pub fn account_status(user: &str, state: u8, reason: u16, server: &str) -> PageEvent {
    PageEvent::new(
        Event::AccountStatus,
        json!({"user_number": user, "register_state": state, "reason_code": reason, "server": server}),
    )
}

pub fn call_incoming(id: u32, info: Value, maybe_video: bool) -> PageEvent {
    let mut param = call_info(id, info);
    param.insert("maybeVideoCall".into(), u8::from(maybe_video).into());
    PageEvent::new(Event::CallIncoming, Value::Object(param))
}

pub fn call_outgoing(id: u32, info: Value) -> PageEvent {
    with_info(Event::CallOutgoing, id, info)
}

pub fn call_ringback(id: u32) -> PageEvent {
    bare(Event::CallRingback, id)
}

pub fn rtp_created(id: u32) -> PageEvent {
    bare(Event::CallRtpCreated, id)
}

pub fn call_connected(id: u32, info: Value) -> PageEvent {
    with_info(Event::CallConnected, id, info)
}

pub fn call_ended(id: u32, info: Value) -> PageEvent {
    with_info(Event::CallEnded, id, info)
}

pub fn hold_result(id: u32, ok: bool) -> PageEvent {
    if ok {
        bare(Event::HoldSuccess, id)
    } else {
        bare(Event::HoldFailed, id)
    }
}

pub fn unhold_result(id: u32, ok: bool) -> PageEvent {
    if ok {
        bare(Event::UnholdSuccess, id)
    } else {
        bare(Event::UnholdFailed, id)
    }
}

/// 2012 when a call's video starts, 2011 when it stops.
pub fn video_changed(id: u32, video: bool) -> PageEvent {
    if video {
        bare(Event::OpenVideoInd, id)
    } else {
        bare(Event::CloseVideoInd, id)
    }
}

/// 2009: the peer asks to add video; the page answers with replyAddVideo.
pub fn open_video_request(id: u32) -> PageEvent {
    bare(Event::OpenVideoReq, id)
}

/// Notify 2022 for `endCall` of a call that does not exist.
/// `id` as the page sent it: a negative one comes back negative, not wrapped.
pub fn endcall_failed(id: i64) -> PageEvent {
    PageEvent::new(
        Event::EndCallFailed,
        json!({"callId": id, "call_id": id, "result": ENDCALL_UNKNOWN}),
    )
}

fn bare(event: Event, id: u32) -> PageEvent {
    PageEvent::new(event, json!({"callId": id, "call_id": id}))
}

fn with_info(event: Event, id: u32, info: Value) -> PageEvent {
    PageEvent::new(event, Value::Object(call_info(id, info)))
}

/// `{"callId", "call_id", "callInfo"}` with `info` moved in: `json!` would
/// serialize it into a copy (a third of a call event's making).
fn call_info(id: u32, info: Value) -> Map<String, Value> {
    let mut param = Map::new();
    param.insert("callId".into(), id.into());
    param.insert("call_id".into(), id.into());
    param.insert("callInfo".into(), info);
    param
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
