use super::*;
use crate::params::Transport;

fn timing() -> RegTiming {
    RegTiming {
        expires: 60,
        request_timeout: Duration::from_secs(4),
        keepalive: Duration::from_secs(10),
        retry_interval: Duration::from_secs(30),
    }
}

fn drain(r: &mut Registration) -> Vec<RegAction> {
    std::iter::from_fn(|| r.poll_action()).collect()
}

fn last_attempt(actions: &[RegAction]) -> u64 {
    actions
        .iter()
        .rev()
        .find_map(|a| match a {
            RegAction::Register { attempt, .. } | RegAction::KeepAlive { attempt, .. } => {
                Some(*attempt)
            }
            _ => None,
        })
        .expect("a request was asked for")
}

/// What a (re-)registration attempt starts with: "registering" in 1009,
/// then the REGISTER (the test timing's 60 s expiry).
fn registering(attempt: u64, server: usize) -> Vec<RegAction> {
    vec![
        RegAction::Status {
            state: 1,
            reason: 0,
            server,
        },
        RegAction::Register {
            attempt,
            server,
            expires: 60,
        },
    ]
}

fn ok(expires: u32) -> Outcome {
    Outcome::Final {
        status: 200,
        expires: Some(expires),
    }
}

#[test]
fn login_registers_and_reports_registering_then_registered() {
    let t0 = Instant::now();
    let mut r = Registration::new(1, timing());
    r.login(t0);
    let a = drain(&mut r);
    assert_eq!(a, registering(1, 0));
    r.on_outcome(t0, 1, ok(60));
    assert_eq!(
        drain(&mut r),
        vec![
            RegAction::Status {
                state: 3,
                reason: 0,
                server: 0
            },
            RegAction::LoginSuccess
        ]
    );
    assert!(r.is_registered());
}

#[test]
fn wrong_password_fails_once_without_retry_loop() {
    let t0 = Instant::now();
    let mut r = Registration::new(1, timing());
    r.login(t0);
    let n = last_attempt(&drain(&mut r));
    r.on_outcome(
        t0,
        n,
        Outcome::Final {
            status: 401,
            expires: None,
        },
    );
    assert_eq!(
        drain(&mut r),
        vec![
            RegAction::Status {
                state: 0,
                reason: 401,
                server: 0
            },
            RegAction::LoginFailed { reason: 401 }
        ]
    );
    assert_eq!(r.poll_timeout(), None, "no timer: nothing retries");
    r.handle_timeout(t0 + Duration::from_secs(3600));
    assert!(drain(&mut r).is_empty());
}

#[test]
fn refresh_happens_at_half_the_granted_expiry() {
    let t0 = Instant::now();
    let mut t = timing();
    t.keepalive = Duration::from_secs(1000);
    let mut r = Registration::new(1, t);
    r.login(t0);
    let n = last_attempt(&drain(&mut r));
    r.on_outcome(t0, n, ok(20));
    drain(&mut r);
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    r.handle_timeout(t0 + Duration::from_secs(9));
    assert!(drain(&mut r).is_empty());
    r.handle_timeout(t0 + Duration::from_secs(10));
    let a = drain(&mut r);
    assert!(matches!(
        a[1],
        RegAction::Register {
            server: 0,
            expires: 60,
            ..
        }
    ));
    let n = last_attempt(&a);
    r.on_outcome(t0 + Duration::from_secs(10), n, ok(20));
    // A refresh is reported as registered again, and 1004 again.
    assert!(drain(&mut r).contains(&RegAction::Status {
        state: 3,
        reason: 0,
        server: 0
    }));
}

#[test]
fn refused_refresh_is_a_forced_logout() {
    let t0 = Instant::now();
    let mut r = Registration::new(1, timing());
    r.login(t0);
    let n = last_attempt(&drain(&mut r));
    r.on_outcome(t0, n, ok(60));
    drain(&mut r);
    let t1 = t0 + Duration::from_secs(30);
    // Keep-alives answered on the way.
    while r.poll_timeout().expect("timer") < t1 {
        let at = r.poll_timeout().expect("timer");
        r.handle_timeout(at);
        let n = last_attempt(&drain(&mut r));
        r.on_outcome(
            at,
            n,
            Outcome::Final {
                status: 200,
                expires: None,
            },
        );
        drain(&mut r);
    }
    r.handle_timeout(t1);
    let n = last_attempt(&drain(&mut r));
    r.on_outcome(
        t1,
        n,
        Outcome::Final {
            status: 403,
            expires: None,
        },
    );
    assert_eq!(
        drain(&mut r),
        vec![
            RegAction::Status {
                state: 0,
                reason: 403,
                server: 0
            },
            RegAction::ForceLogout { reason: 403 }
        ]
    );
}

#[test]
fn pool_skips_a_silent_first_server() {
    let t0 = Instant::now();
    let mut r = Registration::new(2, timing());
    r.login(t0);
    drain(&mut r);
    let t1 = t0 + Duration::from_secs(4);
    r.handle_timeout(t1);
    let a = drain(&mut r);
    assert_eq!(a, registering(2, 1));
    r.on_outcome(t1, 2, ok(60));
    assert!(drain(&mut r).contains(&RegAction::Status {
        state: 3,
        reason: 0,
        server: 1
    }));
    assert_eq!(r.server(), 1);
}

#[test]
fn pool_fails_over_within_one_retry_interval_when_server_dies() {
    let t0 = Instant::now();
    let timing = timing();
    let retry = timing.retry_interval;
    let mut r = Registration::new(3, timing);
    r.login(t0);
    let n = last_attempt(&drain(&mut r));
    r.on_outcome(t0, n, ok(3600));
    drain(&mut r);
    // The server dies right after registering: keep-alive times out.
    let ka = r.poll_timeout().expect("keep-alive timer");
    r.handle_timeout(ka);
    assert!(matches!(
        drain(&mut r)[..],
        [RegAction::KeepAlive { server: 0, .. }]
    ));
    let dead = r.poll_timeout().expect("deadline");
    r.handle_timeout(dead);
    let a = drain(&mut r);
    assert!(a.contains(&RegAction::Status {
        state: 1,
        reason: 0,
        server: 1
    }));
    let n = last_attempt(&a);
    r.on_outcome(dead, n, ok(3600));
    let a = drain(&mut r);
    assert!(a.contains(&RegAction::Status {
        state: 3,
        reason: 0,
        server: 1
    }));
    assert!(dead - t0 <= retry, "failed over in {:?}", dead - t0);
}

#[test]
fn all_servers_silent_reports_408_and_retries_later() {
    let t0 = Instant::now();
    let mut r = Registration::new(2, timing());
    r.login(t0);
    drain(&mut r);
    r.handle_timeout(t0 + Duration::from_secs(4));
    drain(&mut r);
    let t2 = t0 + Duration::from_secs(8);
    r.handle_timeout(t2);
    assert_eq!(
        drain(&mut r),
        vec![
            RegAction::Status {
                state: 0,
                reason: 408,
                server: 1
            },
            RegAction::LoginFailed { reason: 408 }
        ]
    );
    assert_eq!(r.poll_timeout(), Some(t2 + Duration::from_secs(30)));
    r.handle_timeout(t2 + Duration::from_secs(30));
    assert!(matches!(
        drain(&mut r)[1],
        RegAction::Register { server: 0, .. }
    ));
}

#[test]
fn logout_sends_expires_zero_then_1006() {
    let t0 = Instant::now();
    let mut r = Registration::new(1, timing());
    r.login(t0);
    let n = last_attempt(&drain(&mut r));
    r.on_outcome(t0, n, ok(60));
    drain(&mut r);
    assert!(r.logout(t0));
    let a = drain(&mut r);
    assert_eq!(
        a[0],
        RegAction::Status {
            state: 2,
            reason: 0,
            server: 0
        }
    );
    assert!(matches!(a[1], RegAction::Register { expires: 0, .. }));
    r.on_outcome(t0, last_attempt(&a), ok(0));
    assert_eq!(
        drain(&mut r),
        vec![
            RegAction::Status {
                state: 4,
                reason: 0,
                server: 0
            },
            RegAction::LogoutSuccess
        ]
    );
    assert!(!r.logout(t0), "nothing left to undo");
}

#[test]
fn logout_without_answer_is_1007() {
    let t0 = Instant::now();
    let mut r = Registration::new(1, timing());
    r.login(t0);
    let n = last_attempt(&drain(&mut r));
    r.on_outcome(t0, n, ok(60));
    drain(&mut r);
    r.logout(t0);
    drain(&mut r);
    r.handle_timeout(t0 + Duration::from_secs(4));
    assert!(drain(&mut r).contains(&RegAction::LogoutFailed { reason: 408 }));
    assert_eq!(r.state(), reg_state::UNREGISTERED);
}

#[test]
fn stale_outcomes_are_ignored() {
    let t0 = Instant::now();
    let mut r = Registration::new(2, timing());
    r.login(t0);
    drain(&mut r);
    r.handle_timeout(t0 + Duration::from_secs(4));
    drain(&mut r);
    // The first server answers late: too late, we moved on.
    r.on_outcome(t0 + Duration::from_secs(5), 1, ok(60));
    assert!(drain(&mut r).is_empty());
    assert_eq!(r.state(), reg_state::REGISTERING);
}

#[test]
fn address_change_registers_again_at_once_and_only_when_registered() {
    let home = IpAddr::from([192, 0, 2, 10]);
    let vpn = IpAddr::from([10, 8, 0, 2]);
    let t0 = Instant::now();
    let mut r = Registration::new(1, timing());
    assert!(!r.local_address(t0, vpn), "no REGISTER sent yet");
    assert!(drain(&mut r).is_empty());
    r.login(t0);
    let n = last_attempt(&drain(&mut r));
    r.contact_sent(home);
    assert!(!r.local_address(t0, vpn));
    assert!(
        drain(&mut r).is_empty(),
        "still registering: nothing to redo"
    );
    r.on_outcome(t0, n, ok(3600));
    drain(&mut r);
    let t1 = t0 + Duration::from_secs(1);
    assert!(!r.local_address(t1, home), "the same address");
    assert!(drain(&mut r).is_empty());
    assert!(r.local_address(t1, vpn));
    let a = drain(&mut r);
    assert!(
        matches!(
            a[1],
            RegAction::Register {
                server: 0,
                expires: 60,
                ..
            }
        ),
        "{a:?}"
    );
    r.contact_sent(vpn);
    r.on_outcome(t1, last_attempt(&a), ok(3600));
    assert!(r.is_registered());
    drain(&mut r);
    assert!(!r.local_address(t1, vpn), "registered from the new address");
    assert!(drain(&mut r).is_empty());
}

#[test]
fn each_keep_alive_is_a_moment_to_look_at_the_address() {
    // The driver looks at the route on every KeepAlive it is asked for: a
    // change found then registers again (and the ping's answer is stale).
    let t0 = Instant::now();
    let mut r = registered(1, Transport::Udp, t0);
    r.contact_sent(IpAddr::from([192, 0, 2, 10]));
    let t1 = t0 + Duration::from_secs(10);
    r.handle_timeout(t1);
    let ping = last_attempt(&drain(&mut r));
    assert!(r.local_address(t1, IpAddr::from([10, 8, 0, 2])));
    let again = last_attempt(&drain(&mut r));
    assert!(again > ping);
    r.on_outcome(t1, ping, Outcome::NoAnswer);
    assert!(drain(&mut r).is_empty(), "the ping's answer is stale");
    r.on_outcome(t1, again, ok(3600));
    assert!(r.is_registered());
}

/// Registered with `server` of `servers` over `transport` at `t0`.
fn registered(servers: usize, transport: Transport, t0: Instant) -> Registration {
    let mut r = Registration::new(servers, timing());
    r.set_transport(transport);
    r.login(t0);
    let n = last_attempt(&drain(&mut r));
    r.on_outcome(t0, n, ok(3600));
    drain(&mut r);
    r
}

#[test]
fn keep_alive_is_options_on_udp_and_a_crlf_ping_on_tcp_and_tls() {
    let t0 = Instant::now();
    for (transport, kind) in [
        (Transport::Udp, KeepAlive::Options),
        (Transport::Tcp, KeepAlive::Crlf),
        (Transport::Tls, KeepAlive::Crlf),
    ] {
        let mut r = registered(1, transport, t0);
        let ka = r.poll_timeout().expect("keep-alive timer");
        assert_eq!(ka, t0 + Duration::from_secs(10));
        r.handle_timeout(ka);
        assert_eq!(
            drain(&mut r),
            vec![RegAction::KeepAlive {
                attempt: 2,
                server: 0,
                kind
            }],
            "{transport:?}"
        );
        // A ping written on the open flow counts as an answer: the next
        // keep-alive is one period later, with no status change.
        r.on_outcome(ka, 2, Outcome::FlowUp);
        assert!(drain(&mut r).is_empty());
        assert!(r.is_registered());
        assert_eq!(r.poll_timeout(), Some(ka + Duration::from_secs(10)));
    }
}

#[test]
fn the_transport_of_the_last_register_decides_the_keep_alive() {
    let t0 = Instant::now();
    let mut r = registered(1, Transport::Tcp, t0);
    // `config` switched to UDP; the next REGISTER goes over UDP.
    r.set_transport(Transport::Udp);
    let ka = r.poll_timeout().expect("timer");
    r.handle_timeout(ka);
    assert!(matches!(
        drain(&mut r)[..],
        [RegAction::KeepAlive {
            kind: KeepAlive::Options,
            ..
        }]
    ));
}

#[test]
fn a_503_to_a_register_fails_over_instead_of_logging_out() {
    // What the stack answers when a TCP flow breaks under the REGISTER
    // sent on it (the server just stopped), and what an overloaded
    // server answers.
    let t0 = Instant::now();
    let mut r = registered(2, Transport::Tcp, t0);
    let ka = r.poll_timeout().expect("keep-alive timer");
    r.handle_timeout(ka);
    let n = last_attempt(&drain(&mut r));
    r.on_outcome(ka, n, Outcome::FlowClosed);
    assert_eq!(drain(&mut r), registering(n + 1, 0));
    r.on_outcome(
        ka,
        n + 1,
        Outcome::Final {
            status: 503,
            expires: None,
        },
    );
    let a = drain(&mut r);
    assert!(
        a.iter()
            .any(|x| matches!(x, RegAction::Register { server: 1, .. })),
        "{a:?}"
    );
    assert!(!a.iter().any(|x| matches!(
        x,
        RegAction::LoginFailed { .. } | RegAction::ForceLogout { .. }
    )));
}

#[test]
fn a_closed_flow_registers_again_at_once_and_a_pool_then_fails_over() {
    let t0 = Instant::now();
    let retry = timing().retry_interval;
    let mut r = registered(2, Transport::Tcp, t0);
    let ka = r.poll_timeout().expect("keep-alive timer");
    r.handle_timeout(ka);
    let n = last_attempt(&drain(&mut r));
    r.on_outcome(ka, n, Outcome::FlowClosed);
    // A new flow to the same server first, without waiting.
    let a = drain(&mut r);
    assert_eq!(a, registering(n + 1, 0));
    // The server is gone (connection refused): on to the next one, and
    // nothing says "login failed" on the way.
    r.on_outcome(ka, n + 1, Outcome::NoAnswer);
    let a = drain(&mut r);
    assert!(
        matches!(a[1], RegAction::Register { server: 1, .. }),
        "{a:?}"
    );
    assert!(!a.iter().any(|x| matches!(
        x,
        RegAction::LoginFailed { .. } | RegAction::ForceLogout { .. }
    )));
    r.on_outcome(ka, last_attempt(&a), ok(3600));
    assert!(drain(&mut r).contains(&RegAction::Status {
        state: 3,
        reason: 0,
        server: 1
    }));
    assert!(ka - t0 <= retry);
}

#[test]
fn a_flow_closing_between_pings_matters_only_for_the_current_server() {
    let t0 = Instant::now();
    let mut r = registered(2, Transport::Tls, t0);
    let t1 = t0 + Duration::from_secs(3);
    r.on_flow_closed(t1, 1);
    assert!(
        drain(&mut r).is_empty(),
        "not the server we are registered with"
    );
    r.on_flow_closed(t1, 0);
    let a = drain(&mut r);
    assert!(
        matches!(a[1], RegAction::Register { server: 0, .. }),
        "{a:?}"
    );
    r.on_flow_closed(t1, 0);
    assert!(drain(&mut r).is_empty(), "already registering again");
    // The ping of the old flow answering late changes nothing.
    r.on_outcome(t1, last_attempt(&a) - 1, Outcome::FlowUp);
    assert!(drain(&mut r).is_empty());
    assert_eq!(r.state(), reg_state::REGISTERING);
}

#[test]
fn a_healthy_flow_outlives_the_idle_timeout_between_two_pongs() {
    // A pong comes back every keep-alive period (plus the ping's round
    // trip, well under a request timeout); the stack closes a flow only
    // after a longer silence, i.e. after missed pongs.
    let t = timing();
    assert!(t.flow_idle_timeout() > t.keepalive + t.request_timeout);
    assert!(RegTiming::default().flow_idle_timeout() < Duration::from_secs(300));
}

#[test]
fn a_login_registers_with_the_primary_or_the_whole_pool() {
    assert_eq!(servers_for_login(3, false), Ok(1));
    assert_eq!(servers_for_login(3, true), Ok(3));
    let none = servers_for_login(0, true).unwrap_err();
    assert_eq!(none.result, seatphone_protocol::result::WRONG_STATE);
}

#[test]
fn idle_is_before_login_and_after_logout() {
    let t0 = Instant::now();
    let mut r = Registration::new(1, timing());
    assert!(r.is_idle());
    assert_eq!(reg_state::name(r.state()), "unregistered");
    r.login(t0);
    assert!(!r.is_idle());
    assert_eq!(reg_state::name(r.state()), "registering");
    assert_eq!(reg_state::name(reg_state::DEREGISTERED), "deregistered");
    assert_eq!(reg_state::name(reg_state::REGISTERED), "registered");
    assert_eq!(reg_state::name(reg_state::DEREGISTERING), "deregistering");
}

#[test]
fn a_register_answer_grants_expiry_and_keeps_its_flow_only_on_a_2xx() {
    assert_eq!(Outcome::answered(200, 3600), ok(3600));
    assert_eq!(
        Outcome::answered(202, 60),
        Outcome::Final {
            status: 202,
            expires: Some(60)
        }
    );
    let refused = Outcome::answered(403, 3600);
    assert_eq!(
        refused,
        Outcome::Final {
            status: 403,
            expires: None
        }
    );
    assert!(ok(60).keeps_flow(60));
    assert!(!ok(0).keeps_flow(0), "a removal (logout) drops the flow");
    assert!(!refused.keeps_flow(60));
    assert!(!Outcome::answered(401, 60).keeps_flow(60));
    assert!(!Outcome::NoAnswer.keeps_flow(60));
    assert!(!Outcome::FlowUp.keeps_flow(60));
}
