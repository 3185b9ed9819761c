use super::*;
use serde_json::json;

fn server(host: &str, port: u16) -> Server {
    Server {
        host: host.into(),
        port,
    }
}

#[test]
fn config_takes_primary_pool_and_transport() {
    let p = json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": 5070, "sipTransportMode": 2,
        "poolServers": [{"serverAddr": "127.0.0.2", "sipServerPort": "5080"}]},
        "audio": {"dtmf_mode": 4}, "unknown": 1});
    let s = config(&p, &SipSettings::default()).unwrap();
    assert_eq!(s.servers.len(), 2);
    assert_eq!(s.servers[0].to_string(), "127.0.0.1:5070");
    assert_eq!(s.servers[1].to_string(), "127.0.0.2:5080");
    assert_eq!(s.transport, Transport::Tcp);
    assert_eq!(s.dtmf_mode, 4);
    let s = config(&json!({"sip": {"trans_mode": 1}}), &s).unwrap();
    assert_eq!(s.transport, Transport::Tls);
    assert_eq!(s.servers.len(), 2, "keys not sent keep their value");
}

#[test]
fn platform_auto_answer_is_off_until_the_page_turns_it_on() {
    let d = SipSettings::default();
    assert!(!d.platform_auto_answer);
    let on = config(&json!({"call": {"platform_auto_answer": 1}}), &d).unwrap();
    assert!(on.platform_auto_answer);
    let kept = config(&json!({"call": {"call_ipcall_enable": 0}}), &on).unwrap();
    assert!(
        kept.platform_auto_answer,
        "a config without the key keeps it"
    );
    let off = config(&json!({"call": {"platform_auto_answer": "0"}}), &on).unwrap();
    assert!(!off.platform_auto_answer);
    assert!(config(&json!({"call": {"platform_auto_answer": 2}}), &d).is_err());
    assert!(config(&json!({"call": []}), &d).is_err());
}

#[test]
fn config_refuses_wrong_types_and_ranges() {
    let d = SipSettings::default();
    assert!(config(&json!([]), &d).is_err());
    assert!(config(&json!({"networkInfo": {"sipServerPort": 70000}}), &d).is_err());
    assert!(config(&json!({"networkInfo": {"serverAddr": 5}}), &d).is_err());
    assert!(config(&json!({"networkInfo": {"sipTransportMode": 3}}), &d).is_err());
    assert!(config(&json!({"networkInfo": {"poolServers": {}}}), &d).is_err());
    assert!(config(&json!({"audio": {"dtmf_mode": "x"}}), &d).is_err());
}

#[test]
fn login_splits_aor_and_digest_name() {
    let l = login(&json!({"sipNum": "1001@example.org", "sipName": "auth1001@example.org", "sipPwd": "pw", "sipMode": 5})).unwrap();
    assert_eq!(l.user, "1001");
    assert_eq!(l.domain.as_deref(), Some("example.org"));
    assert_eq!(l.auth_user, "auth1001");
    assert!(l.pool);
    let l = login(&json!({"sipNum": "1001", "sipPwd": "pw", "sipMode": 1})).unwrap();
    assert_eq!(l.auth_user, "1001");
    assert_eq!(l.domain, None);
    assert!(!l.pool);
    assert!(
        !format!("{l:?}").contains("pw"),
        "Debug never shows the password"
    );
    assert!(login(&json!({"sipNum": "10 01"})).is_err());
    assert!(login(&json!({"sipNum": 1001})).is_err());
    assert!(login(&json!({"sipNum": "1001", "sipMode": 3})).is_err());
}

#[test]
fn call_params_are_checked() {
    assert_eq!(callee(&json!({"calleeNumber": "1002"})).unwrap(), "1002");
    assert_eq!(
        callee(&json!({"calleeNumber": "sip:1002@127.0.0.1:5060"})).unwrap(),
        "1002@127.0.0.1:5060"
    );
    assert!(callee(&json!({"calleeNumber": ""})).is_err());
    assert!(callee(&json!({"calleeNumber": "a b"})).is_err());
    assert_eq!(is_video(&json!({"isVideo": 1})), Ok(true));
    assert_eq!(is_video(&json!({})), Ok(false));
    assert!(is_video(&json!({"isVideo": "yes"})).is_err());
    assert_eq!(call_id(&json!({"callId": 5})), Ok(5));
    assert!(call_id(&json!({"callId": -1})).is_err());
    assert!(call_id(&json!({"callId": 1e12})).is_err());
    assert_eq!(any_call_id(&json!({"callId": -1})), Some(-1));
    assert_eq!(any_call_id(&json!({"callId": " -7 "})), Some(-7));
    assert_eq!(any_call_id(&json!({"callId": "x"})), None);
    assert_eq!(tone(&json!({"tone": 11})), Ok(11));
    assert!(tone(&json!({"tone": 17})).is_err());
}

#[test]
fn dtmf_relay_bodies_round_trip() {
    for t in 0..=16u8 {
        let body = format!("Signal={}\r\nDuration=160\r\n", tone_char(t));
        assert_eq!(dtmf_relay(&body), Some(t), "tone {t}");
    }
    assert_eq!(dtmf_relay("Signal=11\r\n"), Some(11));
    assert_eq!(dtmf_relay("5"), Some(5));
    assert_eq!(dtmf_relay("Signal=xyz"), None);
    assert_eq!(dtmf_relay(""), None);
}

#[test]
fn network_is_the_references_name_for_network_info() {
    let d = SipSettings::default();
    let s = config(
        &json!({"network": {"serverAddr": "127.0.0.3", "sipServerPort": 5070, "sipTransportMode": 2}}),
        &d,
    )
    .unwrap();
    assert_eq!(s.servers[0].to_string(), "127.0.0.3:5070");
    assert_eq!(s.transport, Transport::Tcp);
    let e = config(&json!({"network": []}), &d).unwrap_err();
    assert!(e.contains("network must be an object"), "{e}");
}

#[test]
fn a_server_without_a_port_is_on_5061_over_tls_and_5060_otherwise() {
    let d = SipSettings::default();
    let udp = config(&json!({"networkInfo": {"serverAddr": "10.1.1.1"}}), &d).unwrap();
    assert_eq!(udp.servers[0].port, 5060);
    let tls = config(&json!({"networkInfo": {"sipTransportMode": 1}}), &udp).unwrap();
    assert_eq!(tls.servers[0].port, 5061, "the transport may come later");
    let tcp = config(&json!({"sip": {"trans_mode": 2}}), &tls).unwrap();
    assert_eq!(tcp.servers[0].port, 5060);
    let mut given = config(
        &json!({"networkInfo": {"serverAddr": "10.1.1.1", "sipServerPort": 5070, "sipTransportMode": 1,
            "poolServers": [{"serverAddr": "10.1.1.2"}]}}),
        &d,
    )
    .unwrap();
    let ports: Vec<u16> = given.servers.iter().map(|s| s.port).collect();
    assert_eq!(ports, [5070, 5061], "a port given stays");
    given.set_transport(Transport::Udp);
    let ports: Vec<u16> = given.servers.iter().map(|s| s.port).collect();
    assert_eq!(ports, [5070, 5060]);
}

#[test]
fn tls_trusts_the_pages_roots_else_the_systems_and_falls_back_to_udp() {
    let d = SipSettings::default();
    assert_eq!(d.tls_trust(), None, "UDP needs no trust");
    let mut tls = config(
        &json!({"networkInfo": {"serverAddr": "10.1.1.1", "sipTransportMode": 1}}),
        &d,
    )
    .unwrap();
    assert_eq!(tls.tls_trust(), Some(TlsTrust::Roots(SYSTEM_ROOTS.into())));
    let own = config(&json!({"sip": {"tls_rootcertpath": "/p/ca.pem"}}), &tls).unwrap();
    assert_eq!(own.tls_trust(), Some(TlsTrust::Roots("/p/ca.pem".into())));
    let anon = config(&json!({"sip": {"tls_anonymous_enable": 1}}), &own).unwrap();
    assert_eq!(anon.tls_trust(), Some(TlsTrust::Anonymous));
    let warning = tls.tls_failed("cannot read /x.pem: not found");
    assert_eq!(warning, "cannot read /x.pem: not found: using UDP");
    assert_eq!(tls.transport, Transport::Udp);
    assert_eq!(tls.servers[0].port, 5060, "the server moves to UDP's port");
    assert_eq!(tls.tls_trust(), None);
}

#[test]
fn log_path_is_a_folder_or_empty_for_the_hosts() {
    let d = SipSettings::default();
    let s = config(&json!({"log_path": " /tmp/x "}), &d).unwrap();
    assert_eq!(s.log_path.as_deref(), Some("/tmp/x"));
    let kept = config(&json!({"call": {}}), &s).unwrap();
    assert_eq!(kept.log_path.as_deref(), Some("/tmp/x"));
    let back = config(&json!({"log_path": ""}), &s).unwrap();
    assert_eq!(back.log_path, None);
    assert!(config(&json!({"log_path": 5}), &d).is_err());
}

#[test]
fn unknown_config_keys_are_named_with_their_section() {
    let p = json!({"networkInfo": {"serverAddr": "a", "sipServerPrt": 1}, "log_path": "",
        "sip": {"tans_mode": 1, "trans_mode": 0}, "colour": "red", "network": {"httpPort": 0},
        "audio": {"audio_aec": 1}, "media": {"trans_mode": 1}, "account": {"account_pwd_type": 0},
        "call": {"call_ipcall_enable": 0, "platform_auto_answer": 0}});
    let mut unknown = unknown_keys(&p);
    unknown.sort();
    assert_eq!(
        unknown,
        ["colour", "networkInfo.sipServerPrt", "sip.tans_mode"]
    );
    assert!(unknown_keys(&json!([])).is_empty());
}

#[test]
fn the_number_to_deregister_is_checked_like_a_login() {
    assert_eq!(logout_number(&json!({})), Ok(None));
    assert_eq!(logout_number(&Value::Null), Ok(None));
    assert_eq!(
        logout_number(&json!({"sipNum": "sip:1001@127.0.0.1"})),
        Ok(Some(("1001".into(), Some("127.0.0.1".into()))))
    );
    assert_eq!(
        logout_number(&json!({"sipNum": " 1001 "})),
        Ok(Some(("1001".into(), None)))
    );
    assert!(logout_number(&json!({"sipNum": 1001})).is_err());
    assert!(logout_number(&json!({"sipNum": "10 01"})).is_err());
    assert!(logout_number(&json!({"sipNum": "1001@"})).is_err());
}

#[test]
fn logout_names_the_account_here_or_nothing_is_deregistered() {
    let ours = |u: &str, d: Option<&str>| (u.to_owned(), d.map(str::to_owned));
    let pool = [server("127.0.0.1", 5060)];
    let login = Some("sip.example.com");
    assert_eq!(
        logout_names(&ours("1001", None), "1001", login, &pool, 0),
        Ok(())
    );
    assert_eq!(
        logout_names(
            &ours("1001", Some("SIP.example.com")),
            "1001",
            login,
            &pool,
            0
        ),
        Ok(())
    );
    let other = logout_names(&ours("1002", None), "1001", login, &pool, 0).unwrap_err();
    assert_eq!(
        other,
        "1002 is not registered here (1001@sip.example.com is): nothing was deregistered"
    );
    let elsewhere =
        logout_names(&ours("1001", Some("x.org")), "1001", login, &pool, 0).unwrap_err();
    assert!(
        elsewhere.starts_with("1001@x.org is not registered here"),
        "{elsewhere}"
    );
    // Without a login domain, the server (the demo page's user@server).
    assert_eq!(
        logout_names(&ours("1001", Some("127.0.0.1")), "1001", None, &pool, 0),
        Ok(())
    );
    let no_domain = logout_names(&ours("1002", None), "1001", None, &pool, 0).unwrap_err();
    assert!(
        no_domain.contains("(1001@127.0.0.1:5060 is)"),
        "{no_domain}"
    );
}

#[test]
fn after_fail_over_logout_names_the_server_in_use_not_the_first() {
    let ours = |d: &str| ("1001".to_owned(), Some(d.to_owned()));
    let pool = [server("127.0.0.1", 5060), server("127.0.0.2", 5060)];
    assert_eq!(
        logout_names(&ours("127.0.0.2"), "1001", None, &pool, 1),
        Ok(())
    );
    let first = logout_names(&ours("127.0.0.1"), "1001", None, &pool, 1).unwrap_err();
    assert!(first.contains("(1001@127.0.0.2:5060 is)"), "{first}");
    // A login's domain stays ours whichever server is in use.
    let login = Some("example.org");
    assert_eq!(
        logout_names(&ours("example.org"), "1001", login, &pool, 1),
        Ok(())
    );
    assert!(logout_names(&ours("127.0.0.2"), "1001", login, &pool, 1).is_err());
}
