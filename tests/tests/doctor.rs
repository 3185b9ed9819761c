//! `seatphone doctor` on a healthy seat (free ports, plugins, a real
//! Kamailio answering OPTIONS) and on three broken ones, each named in the
//! report a help desk reads: a port taken by another program, the SIP
//! server unreachable, the plugin folder empty.

use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Output};

use seatphone_tests::host::build_dir;
use seatphone_tests::peers::free_port;
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};

struct Seat {
    dir: tempfile::TempDir,
    port: u16,
    daemon_port: u16,
}

impl Seat {
    fn new(plugin_dir: &std::path::Path) -> Seat {
        let dir = tempfile::tempdir().unwrap();
        let (port, daemon_port) = (free_port(1), free_port(1));
        let config = format!(
            "[api]\nport = {port}\ndaemon_port = {daemon_port}\n[plugins]\ndir = \"{}\"\n\
             [sip]\nbind = \"127.0.0.1\"\nlocal_port = 0\n[log]\ndir = \"{}\"\n\
             [audio]\ninput = \"null\"\noutput = \"null\"\n",
            plugin_dir.display(),
            dir.path().join("log").display()
        );
        std::fs::write(dir.path().join("seatphone.toml"), config).unwrap();
        Seat {
            dir,
            port,
            daemon_port,
        }
    }

    fn doctor(&self, sip: &str) -> (Output, String) {
        let out = Command::new(build_dir().join("seatphone"))
            .arg("doctor")
            .arg("--config")
            .arg(self.dir.path().join("seatphone.toml"))
            .args(["--sip", sip])
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        (out, report)
    }
}

fn kamailio() -> Kamailio {
    Kamailio::start(KamailioConfig::default()).expect("kamailio starts")
}

fn line<'a>(report: &'a str, start: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{report}"))
}

#[test]
fn a_healthy_seat_passes_every_check() {
    let kam = kamailio();
    let seat = Seat::new(&build_dir());
    let (out, report) = seat.doctor(&kam.addr());
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        line(&report, "ok    config").contains("seatphone.toml"),
        "{report}"
    );
    assert!(
        line(&report, &format!("ok    port {}", seat.port)).contains("free"),
        "{report}"
    );
    assert!(line(&report, &format!("ok    port {}", seat.daemon_port)).contains("free"));
    assert!(line(&report, "ok    plugins").contains("audio"), "{report}");
    assert!(line(&report, "ok    sound").contains("null"), "{report}");
    let sip = report
        .lines()
        .filter(|l| l.starts_with("ok    sip"))
        .collect::<Vec<_>>();
    assert!(
        sip.iter()
            .any(|l| l.contains("answers OPTIONS over UDP: SIP/2.0 200")),
        "{report}"
    );
    assert!(report.contains("all checks passed"), "{report}");
    assert!(!report.contains("FAIL"), "{report}");
}

#[test]
fn a_port_taken_by_another_program_is_named_with_its_holder() {
    let kam = kamailio();
    let seat = Seat::new(&build_dir());
    let squatter = TcpListener::bind(("127.0.0.1", seat.port)).unwrap();
    let (out, report) = seat.doctor(&kam.addr());
    drop(squatter);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let fail = line(&report, &format!("FAIL  port {}", seat.port));
    assert!(
        fail.contains(&format!("pid {}", std::process::id())),
        "the holder is named: {fail}"
    );
    assert!(fail.contains("[api] port"), "{fail}");
    assert!(report.contains("1 check(s) failed"), "{report}");
}

#[test]
fn an_unreachable_sip_server_is_named() {
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let seat = Seat::new(&build_dir());
    let (out, report) = seat.doctor(&dead.to_string());
    assert_eq!(out.status.code(), Some(1), "{report}");
    let fail = line(&report, "FAIL  sip");
    assert!(
        fail.contains(&dead.to_string()) && fail.contains("unreachable"),
        "{fail}"
    );
    let (_, report) = seat.doctor("no-such-host.invalid:5060");
    assert!(
        line(&report, "FAIL  sip").contains("cannot be resolved"),
        "{report}"
    );
}

#[test]
fn an_empty_plugin_folder_is_named() {
    let kam = kamailio();
    let empty = tempfile::tempdir().unwrap();
    let seat = Seat::new(empty.path());
    let (out, report) = seat.doctor(&kam.addr());
    assert_eq!(out.status.code(), Some(1), "{report}");
    let fail = line(&report, "FAIL  plugins");
    assert!(
        fail.contains(&format!("{} is empty", empty.path().display())),
        "{fail}"
    );
}
