//! The one free-port helper (`peers::free_port`): test processes running at
//! the same time never hand out the same port, even when none of them has
//! bound its ports yet (baresip's RTP range waits for a call).

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Stdio};

use seatphone_tests::netns::test_name;
use seatphone_tests::peers::free_port;

/// Set in the children this test starts.
const CHILD: &str = "SEATPHONE_FREE_PORT_CHILD";
const NAME: &str = "processes_at_once_never_share_a_port";
/// Each child asks for this many spans of `SPAN` ports: several blocks'
/// worth, so that children started one after the other (pids a few apart)
/// would walk into each other's ports without a claim.
const SPANS: usize = 40;
const SPAN: u16 = 10;

#[test]
fn processes_at_once_never_share_a_port() {
    if std::env::var_os(CHILD).is_some() {
        hand_out_and_hold();
        return;
    }
    let exe = std::env::current_exe().expect("test executable");
    let mut children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&exe)
                .arg(test_name(module_path!(), NAME))
                .args(["--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD, "1")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start a child")
        })
        .collect();
    // Every child has handed its ports out before any lets go of them.
    let mut outs: Vec<_> = children
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().expect("stdout")))
        .collect();
    let mut sets: Vec<Vec<u16>> = Vec::new();
    for out in &mut outs {
        let mut line = String::new();
        let ports = loop {
            line.clear();
            let n = out.read_line(&mut line).expect("a child's output");
            assert!(n > 0, "a child ended without printing its ports");
            // libtest's "test name ... " may open the same line.
            if let Some((_, ports)) = line.trim().split_once("PORTS ") {
                break ports.to_owned();
            }
        };
        sets.push(ports.split(',').filter_map(|p| p.parse().ok()).collect());
    }
    for (child, out) in children.iter_mut().zip(&mut outs) {
        drop(child.stdin.take());
        // Read to the end: a child writing into a closed pipe would fail.
        let _ = std::io::copy(out, &mut std::io::sink());
        assert!(child.wait().expect("child ends").success());
    }
    for (i, set) in sets.iter().enumerate() {
        assert_eq!(set.len(), SPANS * usize::from(SPAN), "child {i}'s ports");
        let mut unique = set.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), set.len(), "child {i} handed a port out twice");
        for (j, other) in sets.iter().enumerate().skip(i + 1) {
            let shared: Vec<_> = set.iter().filter(|p| other.contains(p)).collect();
            assert!(
                shared.is_empty(),
                "children {i} and {j} both got {shared:?}"
            );
        }
    }
}

/// A child: hands out the spans, checks they are free, prints them, and
/// holds them (the process lives) until the parent closes stdin.
fn hand_out_and_hold() {
    let mut ports = Vec::new();
    for _ in 0..SPANS {
        let first = free_port(SPAN);
        for port in first..first + SPAN {
            assert!(UdpSocket::bind(("127.0.0.1", port)).is_ok(), "{port} UDP");
            assert!(TcpListener::bind(("127.0.0.1", port)).is_ok(), "{port} TCP");
            ports.push(port.to_string());
        }
    }
    println!("PORTS {}", ports.join(","));
    let _ = std::io::stdin().lines().count();
}
