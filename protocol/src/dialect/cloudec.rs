//! CloudEC, as `CloudEC-SDK.js` (Huawei's eSDK EC / CloudLink JavaScript
//! SDK, the TSDK over WebSocket) speaks it: the daemon socket
//! `tsdk_ws_ec_service_deamon_protocol` (`TsdkServiceDaemonSocket`, port
//! 7682) and one socket for login and calls, `tsdk_ws_ec_service_protocol`
//! (`TsdkServiceSocket`, port 7684).
//!
//! Numbers are the SDK's: each module's `prototype` functions send
//! `cmd` = the module's base + the function's index — `TsdkManager` 0x10000,
//! `TsdkLogin` 0x103e8, `TsdkCall` 0x107d0, `TsdkConf` 0x10bb8, `TsdkCtd`
//! 0x10fa0, `TsdkEaddr` 0x11388, `TsdkUiPlugin` 0x12710 — and route the
//! answer by `rsp & 0xffff`. Events keep the TSDK numbers the standard
//! catalogue already uses (1004–1009, 2002–2028), routed by `notify` as
//! is; parameters are camelCase as in the standard catalogue.
//!
//! The differences in shape: the SIP server comes with `tsdk_login`
//! (`loginParam.serverAddr`, `serverPort`), not with the config; 1009
//! carries `voipAccountInfo.number` and 1008 `forceLogoutInfo.reason`, which
//! `TsdkClientAdapt` reads; `hangup()` sends `tsdk_end_call` with
//! `callId: ""` when the page has no call.

use super::{answer, ask, event, field, pass, step, Action, AnswerStyle, Area, Conv};
use super::{Dialect, DialectCommand, DialectEvent, EventParam, Field, Table};
use crate::catalogue::{Command, Event};

pub static TABLE: Table = Table {
    dialect: Dialect::CloudEc,
    commands: COMMANDS,
    areas: AREAS,
    events: EVENTS,
    answers: AnswerStyle::Same,
};

const CALL_ID: Field = field("callId", "callId").conv(Conv::CallId).required();

/// `TsdkClientAdapt.initConfig`'s `serviceSecurityParam`: `sipTransportMode`
/// (0 UDP, 1 TLS, 2 TCP) and `mediaSrtpMode` (0 off, 1 optional, 2 forced)
/// number them as the standard config does. Its other keys (log, proxy, the
/// meeting UI's `baseInfoParam`, `frameParam`, `visibleInfo`,
/// `displayInfo`) are ignored, as the standard config ignores unknown keys.
const CONFIG: &[Field] = &[
    field(
        "networkInfo.sipTransportMode",
        "serviceSecurityParam.sipTransportMode",
    ),
    field("media.trans_mode", "serviceSecurityParam.mediaSrtpMode"),
];

/// `tsdk_login`'s `loginParam`: the server first (as a config), then the
/// account. `userName` is the SIP account, `password` its password.
const LOGIN: &[super::Step] = &[
    step(
        Command::SetConfigParam,
        &[
            field("networkInfo.serverAddr", "loginParam.serverAddr")
                .conv(Conv::NonEmpty)
                .required(),
            field("networkInfo.sipServerPort", "loginParam.serverPort"),
        ],
    ),
    step(
        Command::Login,
        &[
            field("sipNum", "loginParam.userName")
                .conv(Conv::NonEmpty)
                .required(),
            field("sipName", "loginParam.userName"),
            field("sipPwd", "loginParam.password"),
        ],
    ),
];

const fn not_here(cmd: u32, description: &'static str, what: &'static str) -> DialectCommand {
    answer(cmd, description, Action::Unsupported(what))
}

const VIDEO_WINDOWS: &str =
    "placing video in the page's windows (Seatphone draws its own video window)";

pub const COMMANDS: &[DialectCommand] = &[
    // TsdkManager (0x10000 + n)
    ask(
        0x10001,
        "tsdk_set_config_param",
        &[step(Command::SetConfigParam, CONFIG)],
    ),
    answer(
        0x10002,
        "tsdk_init",
        Action::Accepted("Seatphone is ready without tsdk_init; appInfo is not used"),
    ),
    answer(
        0x10003,
        "tsdk_uninit",
        Action::Accepted("Seatphone keeps running; log out with tsdk_logout"),
    ),
    answer(0x10004, "tsdk_get_version", Action::Version),
    // TsdkLogin (0x103e8 + n)
    answer(0x103e9, "tsdk_login", Action::Ask(LOGIN)),
    ask(0x103ea, "tsdk_logout", &[pass(Command::Logout)]),
    not_here(0x103eb, "tsdk_set_push_service", "mobile push"),
    not_here(
        0x103ec,
        "tsdk_modify_password",
        "changing the account's password",
    ),
    // TsdkCall (0x107d0 + n)
    ask(
        0x107d1,
        "tsdk_start_call",
        &[step(
            Command::StartCall,
            &[
                field("calleeNumber", "calleeNumber").required(),
                field("isVideo", "isVideo"),
            ],
        )],
    ),
    ask(
        0x107d2,
        "tsdk_accept_call",
        &[step(
            Command::AcceptCall,
            &[CALL_ID, field("isVideo", "isVideo")],
        )],
    ),
    ask(
        0x107d3,
        "tsdk_end_call",
        &[step(Command::EndCall, &[CALL_ID])],
    ),
    ask(
        0x107d4,
        "tsdk_send_dtmf",
        &[step(Command::SendDtmf, &[CALL_ID, field("tone", "tone")])],
    ),
    not_here(0x107d5, "tsdk_set_video_window", VIDEO_WINDOWS),
    ask(
        0x107d6,
        "tsdk_add_video",
        &[step(Command::AddVideo, &[CALL_ID])],
    ),
    ask(
        0x107d7,
        "tsdk_del_video",
        &[step(Command::DelVideo, &[CALL_ID])],
    ),
    ask(
        0x107d8,
        "tsdk_reply_add_video",
        &[step(
            Command::ReplyAddVideo,
            &[CALL_ID, field("accept", "isAccept").conv(Conv::Bool)],
        )],
    ),
    not_here(0x107d9, "tsdk_video_control", "conference video control"),
    not_here(
        0x107da,
        "tsdk_set_video_orient",
        "video orientation (mobile)",
    ),
    ask(
        0x107db,
        "tsdk_mute_mic",
        &[step(
            Command::MuteMic,
            &[CALL_ID, field("isMute", "isMute")],
        )],
    ),
    not_here(0x107dc, "tsdk_start_play_media", "playing a sound file"),
    not_here(0x107dd, "tsdk_stop_play_media", "playing a sound file"),
    ask(0x107de, "tsdk_get_devices", &[pass(Command::GetDevices)]),
    ask(0x107df, "tsdk_set_mic_index", &[pass(Command::SetMicIndex)]),
    ask(0x107e0, "tsdk_get_mic_index", &[pass(Command::GetMicIndex)]),
    ask(
        0x107e1,
        "tsdk_set_speak_index",
        &[pass(Command::SetSpeakIndex)],
    ),
    ask(
        0x107e2,
        "tsdk_get_speak_index",
        &[pass(Command::GetSpeakIndex)],
    ),
    not_here(
        0x107e3,
        "tsdk_set_video_index",
        "choosing the camera from the page (Seatphone's config names it: [video] camera)",
    ),
    not_here(
        0x107e4,
        "tsdk_get_video_index",
        "choosing the camera from the page (Seatphone's config names it: [video] camera)",
    ),
    ask(
        0x107e5,
        "tsdk_set_speak_volume",
        &[pass(Command::SetSpeakVolume)],
    ),
    ask(
        0x107e6,
        "tsdk_get_speak_volume",
        &[pass(Command::GetSpeakVolume)],
    ),
    not_here(0x107e7, "tsdk_open_video_preview", "a camera preview"),
    not_here(0x107e8, "tsdk_close_video_preview", "a camera preview"),
    not_here(
        0x107e9,
        "tsdk_set_mobile_audio_route",
        "mobile audio routes",
    ),
    not_here(
        0x107ea,
        "tsdk_get_mobile_audio_route",
        "mobile audio routes",
    ),
    ask(
        0x107eb,
        "tsdk_hold_call",
        &[step(Command::HoldCall, &[CALL_ID])],
    ),
    ask(
        0x107ec,
        "tsdk_unhold_call",
        &[step(Command::UnholdCall, &[CALL_ID])],
    ),
    not_here(0x107ed, "tsdk_divert_call", "diverting a call"),
    not_here(0x107ee, "tsdk_blind_transfer", "transferring a call"),
    not_here(
        0x107ef,
        "tsdk_set_ipt_service",
        "server call services (forwarding, do-not-disturb on the server)",
    ),
    not_here(0x107f0, "tsdk_set_video_render", VIDEO_WINDOWS),
    not_here(
        0x107f1,
        "tsdk_set_capture_rotation",
        "rotating the camera picture",
    ),
    not_here(
        0x107f2,
        "tsdk_set_display_rotation",
        "rotating the video display",
    ),
    not_here(
        0x107f3,
        "tsdk_set_camera_picture",
        "a still picture instead of the camera",
    ),
    not_here(0x107f4, "tsdk_mute_speaker", "muting the speaker"),
    ask(
        0x107f5,
        "tsdk_set_mic_volume",
        &[pass(Command::SetMicVolume)],
    ),
    ask(
        0x107f6,
        "tsdk_get_mic_volume",
        &[pass(Command::GetMicVolume)],
    ),
    not_here(0x107f7, "tsdk_set_svc_video_window", VIDEO_WINDOWS),
    not_here(
        0x107f8,
        "tsdk_get_call_statistic_info",
        "call statistics on request (Seatphone sends them every 5 s as notify 2028)",
    ),
    not_here(
        0x107f9,
        "tsdk_set_camera_info",
        "camera settings from the page",
    ),
    not_here(
        0x107fa,
        "tsdk_get_hardware_accelerate_cap",
        "hardware acceleration queries",
    ),
    not_here(0x107fb, "tsdk_remove_svc_video_window", VIDEO_WINDOWS),
];

/// The SDK's modules this softphone does not offer, by their number ranges.
pub const AREAS: &[Area] = &[
    Area {
        first: 0x10bb9,
        last: 0x10f9f,
        what: "conferencing and data conferencing (TsdkConf)",
    },
    Area {
        first: 0x10fa1,
        last: 0x11387,
        what: "server click-to-dial (TsdkCtd)",
    },
    Area {
        first: 0x11389,
        last: 0x1270f,
        what: "the enterprise address book (TsdkEaddr)",
    },
    Area {
        first: 0x12711,
        last: 0x12aff,
        what: "the meeting window plugin (TsdkUiPlugin)",
    },
    Area {
        first: 0x20000,
        last: 0x2ffff,
        what: "instant messaging",
    },
];

/// The standard event, with its number and description, as CloudEC has it.
const fn same(e: Event) -> DialectEvent {
    event(e, e.notify(), e.description(), EventParam::Same)
}

/// The same with fields added.
const fn plus(e: Event, fields: &'static [Field]) -> DialectEvent {
    event(e, e.notify(), e.description(), EventParam::Add(fields))
}

pub const EVENTS: &[DialectEvent] = &[
    same(Event::LoginSuccess),
    same(Event::LoginFailed),
    same(Event::LogoutSuccess),
    same(Event::LogoutFailed),
    plus(
        Event::ForceLogout,
        &[field("forceLogoutInfo.reason", "reason_code")],
    ),
    plus(
        Event::AccountStatus,
        &[
            field("voipAccountInfo.number", "user_number"),
            field("voipAccountInfo.account", "user_number"),
        ],
    ),
    same(Event::CallIncoming),
    same(Event::CallOutgoing),
    same(Event::CallRingback),
    same(Event::CallRtpCreated),
    same(Event::CallConnected),
    same(Event::CallEnded),
    same(Event::OpenVideoReq),
    same(Event::CloseVideoInd),
    same(Event::OpenVideoInd),
    same(Event::HoldSuccess),
    same(Event::HoldFailed),
    same(Event::UnholdSuccess),
    same(Event::UnholdFailed),
    same(Event::EndCallFailed),
    same(Event::LocalQos),
];
