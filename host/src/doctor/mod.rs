//! `seatphone doctor`: what a help desk asks when "the phone doesn't work",
//! answered in one short report. Each check says ok, warn (worth knowing,
//! not fatal: no camera on an audio seat) or FAIL (Seatphone cannot work so);
//! the exit code is 1 when any check failed.
//!
//! It changes nothing: ports are tried and let go, plugins are loaded in a
//! child process (one that crashes takes the probe down, not the report),
//! the SIP server gets one OPTIONS request.

mod devices;
mod plugins;
pub use plugins::probe_child;
pub mod ports;
pub mod sip;

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::config::Config;
use crate::install::single_instance::{Instance, Refused};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub status: Status,
    pub topic: String,
    pub text: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    fn add(&mut self, status: Status, topic: impl Into<String>, text: impl Into<String>) {
        self.checks.push(Check {
            status,
            topic: topic.into(),
            text: text.into(),
        });
    }

    pub fn failed(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .collect()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let mark = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            out.push_str(&format!("{mark}  {:<10} {}\n", c.topic, c.text));
        }
        match self.failed().as_slice() {
            [] => out.push_str("all checks passed\n"),
            failed => {
                let names: Vec<String> = failed
                    .iter()
                    .map(|c| format!("{}: {}", c.topic, c.text))
                    .collect();
                out.push_str(&format!(
                    "{} check(s) failed:\n  {}\n",
                    failed.len(),
                    names.join("\n  ")
                ));
            }
        }
        out
    }
}

/// Runs every check and prints the report.
pub fn run(config: &Config, sip_server: Option<&str>) -> ExitCode {
    println!(
        "Seatphone {} doctor, {}",
        env!("CARGO_PKG_VERSION"),
        utc_now()
    );
    let report = check(config, sip_server);
    print!("{}", report.render());
    if report.failed().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub fn check(config: &Config, sip_server: Option<&str>) -> Report {
    let mut report = Report::default();
    report.add(Status::Ok, "config", config.describe_sources());

    let running = running_instance(&config.log.dir);
    match &running {
        Some(holder) => report.add(Status::Ok, "instance", format!("running ({holder})")),
        None => report.add(Status::Ok, "instance", "not running"),
    }
    let health = running.as_ref().and_then(|_| running_health(config));

    let api = &config.api;
    for (port, what) in [
        (api.daemon_port, "[api] daemon_port"),
        (api.port, "[api] port"),
    ] {
        ports::check_tcp(&mut report, api.bind, port, what, running.is_some());
    }
    if config.sip.local_port != 0 {
        ports::check_udp(
            &mut report,
            config.sip.bind,
            config.sip.local_port,
            "[sip] local_port",
            running.is_some(),
        );
    }

    match (config.api.tls(), &api.tls_cert) {
        (Ok(Some(_)), Some(cert)) => report.add(
            Status::Ok,
            "tls",
            format!("wss:// served on both ports with {}", cert.display()),
        ),
        (Ok(_), _) => report.add(Status::Ok, "tls", "not configured: ws:// only"),
        (Err(e), _) => report.add(Status::Fail, "tls", e),
    }

    match &health {
        Some(h) => plugins::report_health(&mut report, &config.plugin_dir(), h),
        None => plugins::probe(&mut report, config),
    }
    devices::sound(&mut report, config);
    devices::cameras(&mut report);
    devices::display(&mut report);

    let registered_with = health
        .as_ref()
        .and_then(|h| h["registration"]["server"].as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let server = sip_server.map(str::to_owned).or(registered_with);
    let date = match server {
        Some(server) => sip::check(&mut report, &server, Duration::from_secs(4)),
        None => {
            report.add(
                Status::Warn,
                "sip",
                "no SIP server to try: the page configures it; give --sip HOST[:PORT]",
            );
            None
        }
    };
    clock(&mut report, date);
    report
}

/// Who holds the instance lock, if anyone (the lock is let go at once).
fn running_instance(state_dir: &Path) -> Option<String> {
    if !state_dir.exists() {
        return None;
    }
    match Instance::acquire(state_dir, "doctor") {
        Ok(_probe) => None,
        Err(Refused::Running { holder }) => Some(holder),
        Err(Refused::Io(_)) => None,
    }
}

/// The running engine's own account of its plugins and registration.
fn running_health(config: &Config) -> Option<Value> {
    let host = if config.api.bind.is_unspecified() {
        std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
    } else {
        config.api.bind
    };
    let body = ports::http_get(std::net::SocketAddr::new(host, config.api.port), "/health")?;
    serde_json::from_str(&body).ok()
}

/// The clock against the installed binary's date and the SIP server's
/// `Date` header: TLS certificates and registrations need a sane clock.
fn clock(report: &mut Report, server_date: Option<SystemTime>) {
    let now = SystemTime::now();
    let installed = std::env::current_exe()
        .and_then(std::fs::metadata)
        .and_then(|m| m.modified())
        .ok();
    if let Some(installed) = installed {
        if now + Duration::from_secs(86_400) < installed {
            report.add(
                Status::Fail,
                "clock",
                format!(
                    "the clock says {}, before this program was installed: set the time (TLS will fail)",
                    utc_now()
                ),
            );
            return;
        }
    }
    match server_date {
        Some(date) => {
            let skew = match now.duration_since(date) {
                Ok(d) => d.as_secs() as i64,
                Err(e) => -(e.duration().as_secs() as i64),
            };
            let text = format!("{skew:+} s from the SIP server's clock");
            let status = match skew.unsigned_abs() {
                0..=60 => Status::Ok,
                61..=300 => Status::Warn,
                _ => Status::Fail,
            };
            report.add(status, "clock", text);
        }
        None => report.add(
            Status::Ok,
            "clock",
            format!("{} (no server clock to compare with)", utc_now()),
        ),
    }
}

/// The time as an HTTP/SIP date (`Thu, 26 Nov 2026 10:00:00 GMT`).
fn utc_now() -> String {
    httpdate::fmt_http_date(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_every_failed_check_at_the_end() {
        let mut r = Report::default();
        r.add(Status::Ok, "config", "defaults");
        r.add(Status::Warn, "camera", "none");
        r.add(Status::Fail, "port 7684", "taken by python3 (pid 9)");
        let text = r.render();
        assert!(text.contains("FAIL  port 7684"), "{text}");
        assert!(
            text.ends_with("1 check(s) failed:\n  port 7684: taken by python3 (pid 9)\n"),
            "{text}"
        );
        assert_eq!(r.failed().len(), 1);
    }
}
