//! TUP, as `CloudIPCC_SDK.js` (Huawei's CloudIPCC agent-portal SDK, "TUP
//! V600R006") speaks it: the daemon socket `protocol_ws_deamon_service`, a
//! login socket `tup_login_service_protocol` and a call socket
//! `tup_call_service_protocol`.
//!
//! Numbers are the SDK's: `TUPCall.prototype.*` sends `cmd` 0x10000 + n
//! and routes the answer by `rsp & 0x7fff` (n); `TUPLogin.setGetBestLocalIp`
//! sends 0x50018 (`rsp & 0x7fff` = 24). Events are 0x18000 + the TUP call
//! component's event index (`CALL_E_CALL_EVENT` in TUP's `call_def.h`), and
//! the SDK routes them by `notify & 0x7fff`: `TUPCall.register` listens on 1
//! (registration) and 131 (forced unregistration), `setBasicCallEvent` on 3
//! (incoming), 4 (outgoing), 5 (ringback), 6 (connected), 7 (ended),
//! 9 (RTP created) and 43 (end-call failed). `setAECParams` sends its `cmd`
//! as the string `"0x1011A"`.
//!
//! Parameter and event field names are snake_case as the SDK and the portals
//! built on it spell them (`call_id`, `call_type`, `register_state`,
//! `reason_code`); the others follow the members of TUP's
//! `CALL_S_CALL_STATE_INFO` (`tel_num`, `display_name`, `is_in`).

use super::{answer, ask, event, field, pass, step, Action, AnswerStyle, Conv, DialectCommand};
use super::{Dialect, DialectEvent, EventParam, Field, Table};
use crate::catalogue::{Command, Event};

pub static TABLE: Table = Table {
    dialect: Dialect::Tup,
    commands: COMMANDS,
    areas: &[],
    events: EVENTS,
    answers: AnswerStyle::SnakeCase,
};

/// `tup_call_config`: the TUP page's `network` section names the server
/// (the proxy when it gives one, as SIP goes there); `sip`, `call`,
/// `account` and `audio` are the standard sections already; `media.srtp_mode`
/// (0 off, 1 optional, 2 mandatory) is the standard `media.trans_mode`.
/// `network.local_ipv4`, `local_sip_port` and `user_agent` are the host
/// config's (`[sip]`), so they are not taken from the page.
const CONFIG: &[Field] = &[
    field("networkInfo.serverAddr", "network.sip_svr_addr").conv(Conv::NonEmpty),
    field("networkInfo.serverAddr", "network.proxy_addr").conv(Conv::NonEmpty),
    field("networkInfo.sipServerPort", "network.sip_svr_port").conv(Conv::NonEmpty),
    field("networkInfo.sipServerPort", "network.proxy_port").conv(Conv::NonEmpty),
    field("sip", "sip"),
    field("call", "call"),
    field("account", "account"),
    field("audio", "audio"),
    field("media.trans_mode", "media.srtp_mode"),
    field("log_path", "log_path"),
];

const CALL_ID: Field = field("callId", "call_id").required();

pub const COMMANDS: &[DialectCommand] = &[
    // TUPLogin.prototype.setGetBestLocalIp, on the login socket.
    answer(0x50018, "tup_login_get_local_ip", Action::LocalIp("server")),
    // TUPCall.prototype.logStart
    answer(
        0x1004C,
        "tup_call_log_start",
        Action::Accepted(
            "Seatphone writes its logs where its own config says ([log] dir); log_path, log_level, max_size and file_count are not used",
        ),
    ),
    // TUPCall.prototype.config
    ask(0x10001, "tup_call_config", &[step(Command::SetConfigParam, CONFIG)]),
    // TUPCall.prototype.register(sip_num, sip_name, sip_pwd)
    ask(
        0x10002,
        "tup_call_register",
        &[step(
            Command::Login,
            &[
                field("sipNum", "number").required(),
                field("sipName", "name"),
                field("sipPwd", "pwd"),
            ],
        )],
    ),
    // TUPCall.prototype.deRegister(sip_num)
    ask(
        0x10003,
        "tup_call_deregister",
        &[step(Command::Logout, &[field("sipNum", "number")])],
    ),
    // TUPCall.prototype.startCall(callee_num, is_video_call)
    ask(
        0x10004,
        "tup_call_start_call",
        &[step(
            Command::StartCall,
            &[
                field("calleeNumber", "callee_num").required(),
                field("isVideo", "call_type"),
            ],
        )],
    ),
    // TUPCall.prototype.acceptCall(callid, is_video_call)
    ask(
        0x10005,
        "tup_call_accept_call",
        &[step(
            Command::AcceptCall,
            &[CALL_ID, field("isVideo", "is_video")],
        )],
    ),
    // TUPCall.prototype.endCall(callid)
    ask(
        0x10006,
        "tup_call_end_call",
        &[step(Command::EndCall, &[CALL_ID])],
    ),
    // TUPCall.prototype.dtmf(callid, keyTone): 0-9, 10 *, 11 #
    ask(
        0x10007,
        "tup_call_dtmf",
        &[step(
            Command::SendDtmf,
            &[CALL_ID, field("tone", "dtmf_tone").required()],
        )],
    ),
    // TUPCall.prototype.operateMic(callid, to_mute)
    ask(
        0x10008,
        "tup_call_media_mute_mic",
        &[step(
            Command::MuteMic,
            &[CALL_ID, field("isMute", "is_on").required()],
        )],
    ),
    // TUPCall.prototype.getMicVol / setMicVol(volume, device) / getSpkVol / setSpkVol
    ask(
        0x1000a,
        "tup_call_media_get_mic_volume",
        &[pass(Command::GetMicVolume)],
    ),
    ask(
        0x1000b,
        "tup_call_media_set_mic_volume",
        &[pass(Command::SetMicVolume)],
    ),
    ask(
        0x1000c,
        "tup_call_media_get_speak_volume",
        &[pass(Command::GetSpeakVolume)],
    ),
    ask(
        0x1000d,
        "tup_call_media_set_speak_volume",
        &[pass(Command::SetSpeakVolume)],
    ),
    // TUPCall.prototype.alertingCall(callid)
    answer(
        0x10010,
        "tup_call_alerting_call",
        Action::Accepted("Seatphone sends 180 Ringing for every incoming call by itself"),
    ),
    // TUPCall.prototype.startPlayMediaFile / stopPlayMediaFile
    answer(
        0x10025,
        "tup_call_media_startplay",
        Action::Unsupported("playing a sound file"),
    ),
    answer(
        0x10027,
        "tup_call_media_stopplay",
        Action::Unsupported("playing a sound file"),
    ),
    // TUPCall.prototype.mediaMuteVideo(callid, is_on): is_on 1 stops the camera.
    ask(
        0x10022,
        "tup_call_media_mute_video",
        &[step(
            Command::ControlCamera,
            &[CALL_ID, field("open", "is_on").conv(Conv::NotBool).required()],
        )],
    ),
    // TUPCall.prototype.setMicIndex / setSpeakIndex(idx), mediaGetMicIndex / mediaGetSpeakIndex
    ask(
        0x10028,
        "tup_call_media_set_mic_index",
        &[pass(Command::SetMicIndex)],
    ),
    ask(
        0x10029,
        "tup_call_media_set_speak_index",
        &[pass(Command::SetSpeakIndex)],
    ),
    ask(
        0x1002B,
        "tup_call_media_get_mic_index",
        &[pass(Command::GetMicIndex)],
    ),
    ask(
        0x1002C,
        "tup_call_media_get_speak_index",
        &[pass(Command::GetSpeakIndex)],
    ),
    // TUPCall.prototype.getMediaDevices(type): 0 mic, 1 speaker, 2 camera
    ask(
        0x10032,
        "tup_call_media_get_devices",
        &[step(
            Command::GetDevices,
            &[field("deviceType", "device_type").required()],
        )],
    ),
    // TUPCall.prototype.setAECParams: cmd sent as the string "0x1011A".
    answer(
        0x1011A,
        "tup_call_set_AEC_params",
        Action::Unsupported(
            "setting echo-cancellation parameters (turn it on or off with audio.audio_aec in tup_call_config)",
        ),
    ),
];

/// The fields of a TUP call event, from the standard event's `callInfo`.
const CALL: &[Field] = &[
    field("call_id", "callId"),
    field("call_type", "callInfo.isVideoCall"),
    field("call_state", "callInfo.callState"),
    field("tel_num", "callInfo.peerNumber"),
    field("display_name", "callInfo.peerDisplayName"),
    field("reason_code", "callInfo.reasonCode"),
    field("is_in", "callInfo.isCaller").conv(Conv::Not),
];

/// An incoming call's `call_type` says whether the offer has video, which
/// the portals hand back to `acceptCall` as `is_video`.
const INCOMING: &[Field] = &[
    field("call_id", "callId"),
    field("call_type", "maybeVideoCall"),
    field("call_state", "callInfo.callState"),
    field("tel_num", "callInfo.peerNumber"),
    field("display_name", "callInfo.peerDisplayName"),
    field("reason_code", "callInfo.reasonCode"),
    field("is_in", "callInfo.isCaller").conv(Conv::Not),
];

const BARE: &[Field] = &[field("call_id", "callId")];

pub const EVENTS: &[DialectEvent] = &[
    // register_state: 0 unregistered, 1 registering, 2 deregistering,
    // 3 registered (TUP's CALL_E_REG_STATE), and Seatphone's 4 deregistered.
    event(
        Event::AccountStatus,
        0x18001,
        "CALL_E_EVT_SIPACCOUNT_INFO",
        EventParam::Fresh(&[
            field("user_number", "user_number"),
            field("tel_num", "user_number"),
            field("register_state", "register_state"),
            field("reason_code", "reason_code"),
            field("server", "server"),
        ]),
    ),
    event(
        Event::ForceLogout,
        0x18083,
        "CALL_E_EVT_FORCEUNREG_INFO",
        EventParam::Fresh(&[
            field("user_number", "user_number"),
            field("reason_code", "reason_code"),
        ]),
    ),
    event(
        Event::CallIncoming,
        0x18003,
        "CALL_E_EVT_CALL_INCOMMING",
        EventParam::Fresh(INCOMING),
    ),
    event(
        Event::CallOutgoing,
        0x18004,
        "CALL_E_EVT_CALL_OUTGOING",
        EventParam::Fresh(CALL),
    ),
    event(
        Event::CallRingback,
        0x18005,
        "CALL_E_EVT_CALL_RINGBACK",
        EventParam::Fresh(BARE),
    ),
    event(
        Event::CallConnected,
        0x18006,
        "CALL_E_EVT_CALL_CONNECTED",
        EventParam::Fresh(CALL),
    ),
    event(
        Event::CallEnded,
        0x18007,
        "CALL_E_EVT_CALL_ENDED",
        EventParam::Fresh(CALL),
    ),
    event(
        Event::CallRtpCreated,
        0x18009,
        "CALL_E_EVT_CALL_RTP_CREATED",
        EventParam::Fresh(BARE),
    ),
    event(
        Event::EndCallFailed,
        0x1802B,
        "CALL_E_EVT_CALL_ENDCALL_FAILED",
        EventParam::Fresh(&[field("call_id", "callId"), field("result", "result")]),
    ),
];
