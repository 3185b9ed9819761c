//! `seatphone doctor` on a healthy seat (free ports, plugins, a real
//! Kamailio answering OPTIONS) and on three broken ones, each named in the
//! report a help desk reads: a port taken by another program, the SIP
//! server unreachable, the plugin folder empty.

use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Output};

use seatphone_tests::host::{build_dir, Launch, Options};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};

/// A seat's folder, plugins and config as the harness's launcher writes
/// them (audio without sound devices, free ports), not started.
struct Seat {
    launch: Launch,
}

impl Seat {
    /// With these plugin libraries copied into its plugin folder.
    fn new(plugins: Vec<PathBuf>) -> Seat {
        let launch = Launch::prepare(&Options {
            plugins,
            ..Options::audio_only()
        })
        .expect("prepare the seat");
        Seat { launch }
    }

    fn port(&self) -> u16 {
        self.launch.port
    }

    fn daemon_port(&self) -> u16 {
        self.launch.daemon_port
    }

    fn plugin_dir(&self) -> PathBuf {
        self.launch.dir.path().join("plugins")
    }

    fn doctor(&self, sip: &str) -> (Output, String) {
        let out = Command::new(build_dir().join("seatphone"))
            .arg("doctor")
            .arg("--config")
            .arg(self.launch.dir.path().join("seatphone.toml"))
            .args(["--sip", sip])
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        (out, report)
    }
}

/// A healthy seat: the audio plugin (and its voice library) in its plugin folder.
fn healthy() -> Seat {
    Seat::new(Options::audio_only().plugins)
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
    let seat = healthy();
    let (out, report) = seat.doctor(&kam.addr());
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        line(&report, "ok    config").contains("seatphone.toml"),
        "{report}"
    );
    assert!(
        line(&report, &format!("ok    port {}", seat.port())).contains("free"),
        "{report}"
    );
    assert!(line(&report, &format!("ok    port {}", seat.daemon_port())).contains("free"));
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
    let seat = healthy();
    let squatter = TcpListener::bind(("127.0.0.1", seat.port())).unwrap();
    let (out, report) = seat.doctor(&kam.addr());
    drop(squatter);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let fail = line(&report, &format!("FAIL  port {}", seat.port()));
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
    let seat = healthy();
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
    let seat = Seat::new(Vec::new());
    let (out, report) = seat.doctor(&kam.addr());
    assert_eq!(out.status.code(), Some(1), "{report}");
    let fail = line(&report, "FAIL  plugins");
    assert!(
        fail.contains(&format!("{} is empty", seat.plugin_dir().display())),
        "{fail}"
    );
}
