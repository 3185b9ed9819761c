use std::collections::HashSet;

use serde_json::{json, Value};

use super::*;
use crate::wire::result;

fn tup() -> &'static Table {
    Dialect::Tup.table().unwrap()
}

fn cloudec() -> &'static Table {
    Dialect::CloudEc.table().unwrap()
}

fn engine(asked: &Asked) -> &[Request] {
    match &asked.ask {
        Ask::Engine(r) => r,
        other => panic!("not for the engine: {other:?}"),
    }
}

fn answered(asked: &Asked) -> &Response {
    match &asked.ask {
        Ask::Answer(r) => r,
        other => panic!("not answered here: {other:?}"),
    }
}

#[test]
fn every_table_names_each_command_and_event_once_and_numbers_fit_the_sdks_masks() {
    for table in [tup(), cloudec()] {
        let names: HashSet<_> = table.commands.iter().map(|c| c.description).collect();
        let cmds: HashSet<_> = table.commands.iter().map(|c| c.cmd).collect();
        assert_eq!(names.len(), table.commands.len(), "{:?}", table.dialect);
        assert_eq!(cmds.len(), table.commands.len(), "{:?}", table.dialect);
        let events: HashSet<_> = table.events.iter().map(|e| e.event).collect();
        assert_eq!(events.len(), table.events.len());
        for c in table.commands {
            let in_area = table
                .areas
                .iter()
                .any(|a| (a.first..=a.last).contains(&c.cmd));
            assert!(!in_area, "{} lies in an unsupported area", c.description);
        }
    }
    // TUP routes by `& 0x7fff`, CloudEC by `& 0xffff`: no two commands of
    // one socket may meet there.
    let tup_index: HashSet<_> = tup().commands.iter().map(|c| c.cmd & 0x7fff).collect();
    assert_eq!(tup_index.len(), tup().commands.len());
    let tup_events: HashSet<_> = tup().events.iter().map(|e| e.notify & 0x7fff).collect();
    assert_eq!(tup_events.len(), tup().events.len());
    let ec_index: HashSet<_> = cloudec().commands.iter().map(|c| c.cmd & 0xffff).collect();
    assert_eq!(ec_index.len(), cloudec().commands.len());
}

#[test]
fn sub_protocols_choose_dialect_and_socket() {
    let p = choose(["tsdk_ws_ec_service_protocol"], &[Role::Login, Role::Call]).unwrap();
    assert_eq!((p.dialect, p.role), (Dialect::CloudEc, Role::Call));
    let p = choose(["tup_login_service_protocol"], &[Role::Login, Role::Call]).unwrap();
    assert_eq!((p.dialect, p.role), (Dialect::Tup, Role::Login));
    let p = choose(
        ["x", "openeye_call_service_protocol"],
        &[Role::Login, Role::Call],
    )
    .unwrap();
    assert_eq!((p.dialect, p.role), (Dialect::OpenEye, Role::Call));
    assert!(choose(
        ["tsdk_ws_ec_service_deamon_protocol"],
        &[Role::Login, Role::Call]
    )
    .is_none());
    let d = choose(["tsdk_ws_ec_service_deamon_protocol"], &[Role::Daemon]).unwrap();
    assert_eq!(d.dialect, Dialect::CloudEc);
    assert_eq!(
        accepted(&[Role::Daemon]),
        [
            "protocol_ws_deamon_service",
            "tsdk_ws_ec_service_deamon_protocol"
        ]
    );
}

#[test]
fn a_tup_request_without_seq_becomes_the_standard_one_with_its_fields_renamed() {
    let asked = tup().request(
        r#"{"cmd":65540,"description":"tup_call_start_call","param":{"callee_num":"1002","call_type":0}}"#,
    );
    assert_eq!(
        asked.echo,
        Echo {
            description: "tup_call_start_call".into(),
            rsp: 0x10004,
            seq: None,
            style: AnswerStyle::SnakeCase
        }
    );
    let r = engine(&asked);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].cmd, Command::StartCall.cmd());
    assert_eq!(r[0].description, Command::StartCall.description());
    assert_eq!(r[0].param, json!({"calleeNumber": "1002", "isVideo": 0}));
    // And the answer comes back in TUP's spelling.
    let answer = asked
        .echo
        .answer(Response::with_param(json!({"callId": 7, "call_id": 7})));
    assert_eq!(answer.param, Some(json!({"call_id": 7})));
}

#[test]
fn tup_config_takes_the_proxy_as_server_and_keeps_the_standard_sections() {
    let page = json!({
        "sip": {"user_type": 0, "tls_anonymous_enable": 1, "trans_mode": 0},
        "call": {"call_ipcall_enable": 0},
        "account": {"account_pwd_type": 0},
        "network": {"sip_svr_addr": "example.com", "sip_svr_port": 5060, "local_ipv4": "10.0.0.2",
                    "local_sip_port": 5062, "user_agent": "Huawei TE Desktop",
                    "proxy_addr": "10.1.1.1", "proxy_port": 5070},
        "media": {"srtp_mode": 1},
        "audio": {"audio_codec": "112,98,18,9,8,0", "dtmf_mode": 0}
    });
    let text = json!({"cmd": 0x10001, "description": "tup_call_config", "param": page}).to_string();
    let asked = tup().request(&text);
    let r = &engine(&asked)[0];
    assert_eq!(r.description, "tsdk_set_config_param");
    assert_eq!(
        r.param,
        json!({
            "networkInfo": {"serverAddr": "10.1.1.1", "sipServerPort": 5070},
            "sip": page["sip"], "call": page["call"], "account": page["account"],
            "audio": page["audio"], "media": {"trans_mode": 1}
        })
    );
    // Without a proxy, the SIP server; an empty proxy counts as none.
    let page =
        json!({"network": {"sip_svr_addr": "10.2.2.2", "sip_svr_port": 5060, "proxy_addr": ""}});
    let text = json!({"cmd": 0x10001, "description": "tup_call_config", "param": page}).to_string();
    let asked = tup().request(&text);
    assert_eq!(
        engine(&asked)[0].param,
        json!({"networkInfo": {"serverAddr": "10.2.2.2", "sipServerPort": 5060}})
    );
}

#[test]
fn tup_cmd_sent_as_a_string_is_read_and_answered() {
    let asked = tup().request(
        r#"{"cmd":"0x1011A","description":"tup_call_set_AEC_params","param":{"call_s_audio_aec_params":{"cngmode":1}}}"#,
    );
    assert_eq!(asked.echo.rsp, 0x1011A);
    let r = answered(&asked);
    assert_eq!(r.result, result::FAILED);
    assert!(r
        .err_msg
        .as_deref()
        .unwrap()
        .contains("not supported by this softphone"));
    let asked = tup().request(r#"{"cmd":"65537","description":"tup_call_config"}"#);
    assert_eq!(asked.echo.rsp, 65537);
    assert_eq!(engine(&asked)[0].description, "tsdk_set_config_param");
}

#[test]
fn a_missing_required_field_is_refused_naming_the_pages_spelling() {
    let asked = tup().request(r#"{"cmd":65542,"description":"tup_call_end_call","param":{}}"#);
    let r = answered(&asked);
    assert_eq!(r.result, result::INVALID);
    assert!(r.err_msg.as_deref().unwrap().contains("call_id"), "{r:?}");
    assert_eq!(asked.echo.rsp, 0x10006);
}

#[test]
fn unknown_mismatched_and_malformed_frames_get_result_2_with_what_can_be_echoed() {
    let asked = tup().request(r#"{"cmd":65599,"description":"tup_call_transfer"}"#);
    assert_eq!(answered(&asked).result, result::INVALID);
    assert_eq!(asked.echo.description, "tup_call_transfer");
    let asked = tup().request(r#"{"cmd":65541,"description":"tup_call_start_call"}"#);
    assert!(answered(&asked)
        .err_msg
        .as_deref()
        .unwrap()
        .contains("65540"));
    let asked = tup().request("[1]");
    assert_eq!(asked.echo.description, "invalid_request");
    assert_eq!(answered(&asked).result, result::INVALID);
    let asked =
        cloudec().request(r#"{"cmd":67537,"description":"tsdk_start_call","param":[1],"seq":3}"#);
    assert_eq!(answered(&asked).result, result::INVALID);
    assert_eq!(asked.echo.seq, Some(json!(3)));
    let asked = cloudec().request(r#"{"cmd":67537,"description":"tsdk_start_call","param":{}}"#);
    assert!(answered(&asked)
        .err_msg
        .as_deref()
        .unwrap()
        .contains("calleeNumber"));
}

#[test]
fn cloudec_login_is_the_server_then_the_account() {
    let text = json!({"cmd": 0x103e9, "description": "tsdk_login", "param": {"loginParam": {
        "userId": 1, "authType": 0, "userName": "1001", "password": "pass1001",
        "userTicket": "pass1001", "serverType": 0, "serverVersion": "V6R6C00",
        "serverAddr": "127.0.0.1", "serverPort": 5060}}})
    .to_string();
    let asked = cloudec().request(&text);
    assert_eq!(asked.echo.rsp & 0xffff, 1001);
    let r = engine(&asked);
    assert_eq!(r[0].description, Command::SetConfigParam.description());
    assert_eq!(
        r[0].param,
        json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": 5060}})
    );
    assert_eq!(r[1].description, Command::Login.description());
    assert_eq!(
        r[1].param,
        json!({"sipNum": "1001", "sipName": "1001", "sipPwd": "pass1001"})
    );
    let asked = cloudec().request(
        r#"{"cmd":66537,"description":"tsdk_login","param":{"loginParam":{"userName":"1001"}}}"#,
    );
    assert!(answered(&asked)
        .err_msg
        .as_deref()
        .unwrap()
        .contains("serverAddr"));
}

#[test]
fn cloudec_end_call_without_a_call_asks_for_call_0() {
    let asked =
        cloudec().request(r#"{"cmd":67539,"description":"tsdk_end_call","param":{"callId":""}}"#);
    assert_eq!(engine(&asked)[0].param, json!({"callId": 0}));
    assert_eq!(asked.echo.rsp & 0xffff, 2003);
}

#[test]
fn cloudec_numbers_that_differ_from_openeye_reach_the_same_commands() {
    for (cmd, description, command) in [
        (65537, "tsdk_set_config_param", Command::SetConfigParam),
        (66538, "tsdk_logout", Command::Logout),
        (0x107eb, "tsdk_hold_call", Command::HoldCall),
        (0x107ec, "tsdk_unhold_call", Command::UnholdCall),
        (0x107f5, "tsdk_set_mic_volume", Command::SetMicVolume),
        (0x107f6, "tsdk_get_mic_volume", Command::GetMicVolume),
        (0x107d6, "tsdk_add_video", Command::AddVideo),
    ] {
        let text =
            json!({"cmd": cmd, "description": description, "param": {"callId": 1, "volume": 5}});
        let asked = cloudec().request(&text.to_string());
        assert_eq!(engine(&asked)[0].cmd, command.cmd(), "{description}");
        assert_eq!(asked.echo.rsp, cmd);
    }
    let text =
        r#"{"cmd":67544,"description":"tsdk_reply_add_video","param":{"isAccept":1,"callId":4}}"#;
    assert_eq!(
        engine(&cloudec().request(text))[0].param,
        json!({"callId": 4, "accept": true})
    );
}

#[test]
fn cloudec_conference_im_and_meeting_window_commands_are_not_supported() {
    for (cmd, description) in [
        (0x10bb9, "tsdk_book_conference"),
        (0x10c0e, "tsdk_allow_attendee_unmute"),
        (0x12711, "tsdk_ui_plugin_set_button_state"),
        (0x1138c, "tsdk_search_contacts"),
        (0x107ee, "tsdk_blind_transfer"),
    ] {
        let text = json!({"cmd": cmd, "description": description, "param": {}}).to_string();
        let asked = cloudec().request(&text);
        let r = answered(&asked);
        assert_eq!(r.result, result::FAILED, "{description}");
        let msg = r.err_msg.as_deref().unwrap();
        assert!(msg.contains("not supported by this softphone"), "{msg}");
        assert!(msg.starts_with(description), "{msg}");
        assert_eq!(asked.echo.rsp, cmd);
    }
}

#[test]
fn tup_events_take_tup_numbers_and_field_names() {
    let incoming = json!({"description": "TSDK_E_CALL_EVT_CALL_INCOMING", "notify": 2002, "param": {
        "callId": 9, "call_id": 9, "maybeVideoCall": 1, "callInfo": {"callId": 9, "callState": 1,
        "isCaller": 0, "isVideoCall": 0, "peerNumber": "1002", "peerDisplayName": "Bob", "reasonCode": 0}}});
    let f: Value = serde_json::from_str(&tup().event(&incoming.to_string()).unwrap()).unwrap();
    assert_eq!(f["notify"], 0x18003);
    assert_eq!(f["description"], "CALL_E_EVT_CALL_INCOMMING");
    assert_eq!(
        f["param"],
        json!({"call_id": 9, "call_type": 1, "call_state": 1, "tel_num": "1002",
               "display_name": "Bob", "reason_code": 0, "is_in": 1})
    );
    let reg = json!({"description": "x", "notify": 1009, "param": {"user_number": "1001",
        "register_state": 3, "reason_code": 0, "server": "127.0.0.1:5060"}});
    let f: Value = serde_json::from_str(&tup().event(&reg.to_string()).unwrap()).unwrap();
    assert_eq!(f["notify"].as_u64().unwrap() & 0x7fff, 1);
    assert_eq!(f["param"]["register_state"], 3);
    assert_eq!(f["param"]["reason_code"], 0);
    // Events TUP has no number for are not sent to its pages.
    let login = json!({"description": "x", "notify": 1004, "param": {}});
    assert_eq!(tup().event(&login.to_string()), None);
    let plugin = json!({"description": "VIDEO_EVT_WINDOW_BUTTON", "notify": 3101, "param": {}});
    assert_eq!(tup().event(&plugin.to_string()), None);
}

#[test]
fn cloudec_events_keep_the_standard_fields_and_add_what_the_sdk_reads() {
    let reg = json!({"description": "TSDK_E_LOGIN_EVT_VOIP_ACCOUNT_STATUS", "notify": 1009,
        "param": {"user_number": "1001", "register_state": 3, "reason_code": 0, "server": "s"}});
    let f: Value = serde_json::from_str(&cloudec().event(&reg.to_string()).unwrap()).unwrap();
    assert_eq!(f["notify"], 1009);
    assert_eq!(f["param"]["register_state"], 3);
    assert_eq!(f["param"]["voipAccountInfo"]["number"], "1001");
    let forced = json!({"description": "TSDK_E_LOGIN_EVT_FORCE_LOGOUT", "notify": 1008,
        "param": {"user_number": "1001", "reason_code": 403}});
    let f: Value = serde_json::from_str(&cloudec().event(&forced.to_string()).unwrap()).unwrap();
    assert_eq!(f["param"]["forceLogoutInfo"]["reason"], 403);
    assert_eq!(f["param"]["reason_code"], 403);
}

#[test]
fn openeye_events_pass_untouched() {
    let frame =
        r#"{"description":"TSDK_E_CALL_EVT_CALL_RINGBACK","notify":2004,"param":{"callId":1}}"#;
    assert!(matches!(Dialect::OpenEye.event(frame), Some(Cow::Borrowed(f)) if f == frame));
}

#[test]
fn flags_and_paths_convert_as_named() {
    assert_eq!(convert(&json!(1), Conv::Not), Some(json!(0)));
    assert_eq!(convert(&json!(false), Conv::Not), Some(json!(true)));
    assert_eq!(convert(&json!(1), Conv::NotBool), Some(json!(false)));
    assert_eq!(convert(&json!(0), Conv::Bool), Some(json!(false)));
    assert_eq!(convert(&json!(""), Conv::NonEmpty), None);
    assert_eq!(convert(&json!(""), Conv::CallId), Some(json!(0)));
    assert_eq!(convert(&json!(12), Conv::CallId), Some(json!(12)));
    let mut out = json!({});
    set_path(&mut out, "a.b.c", json!(1));
    set_path(&mut out, "a.d", json!(2));
    assert_eq!(out, json!({"a": {"b": {"c": 1}, "d": 2}}));
    assert_eq!(get_path(&out, "a.b.c"), Some(&json!(1)));
    assert_eq!(
        snake_case(json!({"deviceInfo": [{"deviceName": "x", "index": 0}], "num": 1})),
        json!({"device_info": [{"device_name": "x", "index": 0}], "num": 1})
    );
}
