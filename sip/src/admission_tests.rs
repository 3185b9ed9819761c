use super::*;

fn at(addr: &str, link: Link) -> Origin {
    Origin {
        addr: addr.parse().unwrap(),
        link,
    }
}

fn registrar() -> Admission {
    let mut a = Admission::new(AcceptFrom::default());
    assert!(a
        .set_servers(&[("127.0.0.1".into(), 5060), ("10.0.0.2".into(), 5070)])
        .is_empty());
    a
}

#[test]
fn only_the_configured_servers_are_trusted_by_default() {
    let mut a = registrar();
    let t0 = Instant::now();
    let server = at("127.0.0.1:5060", Link::Datagram);
    assert_eq!(a.admit(t0, &server, false), Verdict::Admit(Trust::Server));
    let pool = at("10.0.0.2:5070", Link::Opened);
    assert_eq!(a.admit(t0, &pool, false), Verdict::Admit(Trust::Server));
    // Same address, another port: a stranger on the registrar's machine.
    let neighbour = at("127.0.0.1:40000", Link::Datagram);
    assert!(matches!(a.admit(t0, &neighbour, false), Verdict::Drop(_)));
    assert!(matches!(
        a.admit(t0, &at("192.0.2.9:5060", Link::Datagram), false),
        Verdict::Drop(_)
    ));
    assert_eq!(a.dropped(), 2);
}

#[test]
fn a_connection_opened_to_us_is_never_the_server() {
    let mut a = registrar();
    let inbound = at("127.0.0.1:5060", Link::Accepted);
    assert_eq!(a.trust(&inbound), Trust::Stranger);
    assert!(matches!(
        a.admit(Instant::now(), &inbound, false),
        Verdict::Drop(_)
    ));
    assert_eq!(a.trust(&at("127.0.0.1:5060", Link::Opened)), Trust::Server);
}

#[test]
fn accept_from_lets_addresses_and_ranges_in_but_never_as_a_server() {
    let accept = AcceptFrom::parse(&["192.168.1.0/24", "2001:db8::7", " 10.1.2.3 "]).unwrap();
    let mut a = Admission::new(accept);
    a.set_servers(&[("127.0.0.1".into(), 5060)]);
    let t0 = Instant::now();
    for ok in [
        "192.168.1.77:5060",
        "[2001:db8::7]:5062",
        "10.1.2.3:1",
        "[::ffff:192.168.1.5]:5060",
    ] {
        assert_eq!(
            a.admit(t0, &at(ok, Link::Accepted), false),
            Verdict::Admit(Trust::Allowed),
            "{ok}"
        );
    }
    assert!(matches!(
        a.admit(t0, &at("192.168.2.1:5060", Link::Datagram), false),
        Verdict::Drop(_)
    ));
    let any = Admission::new(AcceptFrom::parse(&["ANY"]).unwrap());
    assert_eq!(
        any.trust(&at("203.0.113.1:5060", Link::Datagram)),
        Trust::Allowed
    );
}

#[test]
fn bad_accept_from_entries_are_named() {
    let err = AcceptFrom::parse(&["10.0.0.0/8", "10.0.0.300"]).unwrap_err();
    assert!(
        err.contains("10.0.0.300") && err.contains("accept_from"),
        "{err}"
    );
    assert!(AcceptFrom::parse(&["10.0.0.0/33"]).is_err());
    assert!(AcceptFrom::parse::<&str>(&[]).unwrap().is_empty());
    assert!(!AcceptFrom::any().is_empty());
}

#[test]
fn a_stranger_inside_a_dialog_we_have_is_let_in() {
    let mut a = registrar();
    let peer = at("198.51.100.4:5060", Link::Datagram);
    assert_eq!(
        a.admit(Instant::now(), &peer, true),
        Verdict::Admit(Trust::Stranger)
    );
    assert_eq!(a.dropped(), 0);
}

#[test]
fn drops_are_noted_once_a_minute_per_source_address() {
    let mut a = registrar();
    let t0 = Instant::now();
    let scanner = at("192.0.2.1:5060", Link::Datagram);
    let other_port = at("192.0.2.1:5999", Link::Datagram);
    let other = at("192.0.2.2:5060", Link::Datagram);
    assert_eq!(
        a.admit(t0, &scanner, false),
        Verdict::Drop(Some(DropNote {
            source: scanner.addr,
            unnoted: 0
        }))
    );
    for s in 1..=30 {
        assert_eq!(
            a.admit(t0 + Duration::from_secs(s), &scanner, false),
            Verdict::Drop(None)
        );
    }
    assert_eq!(
        a.admit(t0 + Duration::from_secs(31), &other_port, false),
        Verdict::Drop(None),
        "one note per address, whatever the port"
    );
    assert!(matches!(
        a.admit(t0 + Duration::from_secs(31), &other, false),
        Verdict::Drop(Some(_))
    ));
    assert_eq!(
        a.admit(t0 + NOTE_EVERY, &scanner, false),
        Verdict::Drop(Some(DropNote {
            source: scanner.addr,
            unnoted: 31
        }))
    );
    assert_eq!(a.dropped(), 34);
}

#[test]
fn a_scan_from_many_addresses_keeps_the_limiter_bounded() {
    let mut a = registrar();
    let t0 = Instant::now();
    let mut noted = 0;
    for i in 0..(MAX_NOTED_SOURCES as u32 + 100) {
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
        let o = Origin {
            addr: SocketAddr::new(ip.into(), 5060),
            link: Link::Datagram,
        };
        if matches!(a.admit(t0, &o, false), Verdict::Drop(Some(_))) {
            noted += 1;
        }
    }
    assert_eq!(noted, MAX_NOTED_SOURCES);
    assert_eq!(a.dropped(), MAX_NOTED_SOURCES as u64 + 100);
    // A minute on, old sources are forgotten and new ones noted again.
    let late = Origin {
        addr: "10.200.0.1:5060".parse().unwrap(),
        link: Link::Datagram,
    };
    assert!(matches!(
        a.admit(t0 + NOTE_EVERY, &late, false),
        Verdict::Drop(Some(_))
    ));
    assert!(a.noted.len() <= MAX_NOTED_SOURCES);
}

#[test]
fn names_are_trusted_once_resolved_and_only_while_configured() {
    let mut a = Admission::new(AcceptFrom::default());
    let names = a.set_servers(&[("sip.example.com".into(), 5061), ("127.0.0.1".into(), 5060)]);
    assert_eq!(names, vec![("sip.example.com".to_owned(), 5061)]);
    let server = at("192.0.2.10:5061", Link::Opened);
    assert_eq!(a.trust(&server), Trust::Stranger, "not resolved yet");
    a.resolved("sip.example.com", 5061, &[server.addr]);
    assert_eq!(a.trust(&server), Trust::Server);
    a.set_servers(&[("127.0.0.1".into(), 5060)]);
    a.resolved("sip.example.com", 5061, &[server.addr]);
    assert_eq!(
        a.trust(&server),
        Trust::Stranger,
        "a late answer for an old server"
    );
}

#[test]
fn a_server_is_located_by_its_address_or_once_its_name_resolved() {
    let mut a = Admission::new(AcceptFrom::default());
    a.set_servers(&[("sip.example.com".into(), 5061), ("::1".into(), 5060)]);
    assert_eq!(a.address_of("::1", 5060), "[::1]:5060".parse().ok());
    assert_eq!(a.address_of("sip.example.com", 5061), None);
    let found: Vec<SocketAddr> = vec![
        "[2001:db8::5]:5061".parse().unwrap(),
        "192.0.2.5:5061".parse().unwrap(),
    ];
    a.resolved("sip.example.com", 5061, &found);
    assert_eq!(a.address_of("sip.example.com", 5061), Some(found[0]));
    assert_eq!(a.address_of("sip.example.com", 5060), None, "another port");
    a.set_servers(&[("::1".into(), 5060)]);
    assert_eq!(
        a.address_of("sip.example.com", 5061),
        None,
        "no longer configured"
    );
}

#[test]
fn ipv4_mapped_sources_match_ipv4_servers() {
    let a = registrar();
    assert_eq!(
        a.trust(&at("[::ffff:127.0.0.1]:5060", Link::Datagram)),
        Trust::Server
    );
}

#[test]
fn only_a_server_may_ask_for_auto_answer_and_only_when_the_page_enabled_it() {
    assert_eq!(Trust::Server.may_auto_answer(true), Ok(()));
    let off = Trust::Server.may_auto_answer(false).unwrap_err();
    assert!(off.contains("platform_auto_answer"), "{off}");
    for trust in [Trust::Allowed, Trust::Stranger] {
        let why = trust.may_auto_answer(true).unwrap_err();
        assert!(why.contains("server"), "{trust:?}: {why}");
        assert!(trust.may_auto_answer(false).is_err());
    }
}
