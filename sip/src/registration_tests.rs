use super::*;

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
    assert_eq!(
        a,
        vec![
            RegAction::Status {
                state: 1,
                reason: 0,
                server: 0
            },
            RegAction::Register {
                attempt: 1,
                server: 0,
                expires: 60
            },
        ]
    );
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
    assert_eq!(
        a,
        vec![
            RegAction::Status {
                state: 1,
                reason: 0,
                server: 1
            },
            RegAction::Register {
                attempt: 2,
                server: 1,
                expires: 60
            },
        ]
    );
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
    let t0 = Instant::now();
    let mut r = Registration::new(1, timing());
    r.refresh_now(t0);
    assert!(drain(&mut r).is_empty());
    r.login(t0);
    let n = last_attempt(&drain(&mut r));
    r.refresh_now(t0);
    assert!(
        drain(&mut r).is_empty(),
        "still registering: nothing to redo"
    );
    r.on_outcome(t0, n, ok(3600));
    drain(&mut r);
    let t1 = t0 + Duration::from_secs(1);
    r.refresh_now(t1);
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
    r.on_outcome(t1, last_attempt(&a), ok(3600));
    assert!(r.is_registered());
}
