//! Can the SIP server be resolved and reached: one OPTIONS over UDP (RFC
//! 3261 §11), retransmitted as a client transaction would, and any answer
//! (200, 404, 405 …) counts, since it proves a SIP server is there. Its
//! `Date` header, if any, is handed to the clock check.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use super::{Report, Status};

/// `host`, `host:port`, `[v6]:port`, or a SIP URI (`sip:host:port;transport=udp`).
pub fn parse_target(text: &str) -> Option<(String, u16)> {
    let t = text.trim();
    let t = t.strip_prefix("sip:").unwrap_or(t);
    let t = t.split([';', '?']).next()?;
    let t = t.rsplit_once('@').map_or(t, |(_, h)| h);
    if let Some(rest) = t.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 5060,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match t.split_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_owned(), port.parse().ok()?)),
        Some(_) => None,
        None if !t.is_empty() => Some((t.to_owned(), 5060)),
        None => None,
    }
}

/// Checks `server`; returns the server's clock if it sent one.
pub fn check(report: &mut Report, server: &str, timeout: Duration) -> Option<SystemTime> {
    let Some((host, port)) = parse_target(server) else {
        report.add(
            Status::Fail,
            "sip",
            format!("{server:?} is not a SIP server address (HOST[:PORT])"),
        );
        return None;
    };
    let addr = match (host.as_str(), port)
        .to_socket_addrs()
        .map(|mut a| a.next())
    {
        Ok(Some(addr)) => addr,
        Ok(None) | Err(_) => {
            report.add(
                Status::Fail,
                "sip",
                format!(
                    "{host} cannot be resolved (DNS): check the server name and this machine's DNS"
                ),
            );
            return None;
        }
    };
    report.add(
        Status::Ok,
        "sip",
        format!("{host} resolves to {}", addr.ip()),
    );
    match options(addr, &host, timeout) {
        Ok(answer) => {
            report.add(
                Status::Ok,
                "sip",
                format!("{addr} answers OPTIONS over UDP: {}", answer.status_line),
            );
            answer.date
        }
        Err(why) => {
            report.add(
                Status::Fail,
                "sip",
                format!("{addr} is unreachable over UDP: {why}"),
            );
            None
        }
    }
}

#[derive(Debug, PartialEq)]
pub struct Answer {
    pub status_line: String,
    pub date: Option<SystemTime>,
}

fn options(addr: SocketAddr, host: &str, timeout: Duration) -> Result<Answer, String> {
    let any: SocketAddr = match addr.ip() {
        IpAddr::V4(_) => "0.0.0.0:0".parse().expect("literal"),
        IpAddr::V6(_) => "[::]:0".parse().expect("literal"),
    };
    let socket = UdpSocket::bind(any).map_err(|e| format!("no local UDP socket: {e}"))?;
    socket
        .connect(addr)
        .map_err(|e| format!("cannot route to it: {e}"))?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let token = token();
    let request = options_request(host, addr.port(), local, &token);
    let deadline = Instant::now() + timeout;
    let mut wait = Duration::from_millis(500);
    let mut buf = [0u8; 4096];
    loop {
        socket
            .send(request.as_bytes())
            .map_err(|e| format!("cannot send: {e}"))?;
        let resend_at = (Instant::now() + wait).min(deadline);
        loop {
            let left = resend_at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket
                .set_read_timeout(Some(left))
                .map_err(|e| e.to_string())?;
            match socket.recv(&mut buf) {
                Ok(n) => {
                    if let Some(answer) = parse_answer(&String::from_utf8_lossy(&buf[..n]), &token)
                    {
                        return Ok(answer);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err("port unreachable: nothing listens there for SIP".into())
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no answer to OPTIONS in {} s (a firewall, or the wrong address or port)",
                timeout.as_secs()
            ));
        }
        wait = (wait * 2).min(Duration::from_secs(4));
    }
}

fn options_request(host: &str, port: u16, local: SocketAddr, token: &str) -> String {
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    format!(
        "OPTIONS sip:{target} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{token};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:doctor@{local}>;tag={token}\r\n\
         To: <sip:{target}>\r\n\
         Call-ID: {token}@seatphone-doctor\r\n\
         CSeq: 1 OPTIONS\r\n\
         User-Agent: Seatphone/{} doctor\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// A response to our request (its Call-ID), or `None` for anything else.
pub fn parse_answer(text: &str, token: &str) -> Option<Answer> {
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?.trim();
    if !status_line.starts_with("SIP/2.0 ") {
        return None;
    }
    let mut ours = false;
    let mut date = None;
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        match name.as_str() {
            "call-id" | "i" => ours = value == format!("{token}@seatphone-doctor"),
            "date" => date = httpdate::parse_http_date(value).ok(),
            _ => {}
        }
    }
    ours.then(|| Answer {
        status_line: status_line.to_owned(),
        date,
    })
}

/// Unique enough for one transaction: the process id and the clock.
fn token() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_are_read_in_the_forms_admins_write() {
        let t = |s: &str| parse_target(s);
        assert_eq!(t("pbx.example.com"), Some(("pbx.example.com".into(), 5060)));
        assert_eq!(t("10.0.0.1:5080"), Some(("10.0.0.1".into(), 5080)));
        assert_eq!(t("[2001:db8::1]:5062"), Some(("2001:db8::1".into(), 5062)));
        assert_eq!(
            t("sip:pbx.example.com:5070;transport=udp"),
            Some(("pbx.example.com".into(), 5070))
        );
        assert_eq!(
            t("sip:1001@pbx.example.com"),
            Some(("pbx.example.com".into(), 5060))
        );
        assert_eq!(t(""), None);
        assert_eq!(t("host:port"), None);
    }

    #[test]
    fn only_the_answer_to_our_request_counts_and_its_date_is_read() {
        let answer =
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4\r\nCall-ID: abc@seatphone-doctor\r\n\
                      Date: Thu, 26 Nov 2026 10:00:00 GMT\r\nContent-Length: 0\r\n\r\n";
        let a = parse_answer(answer, "abc").unwrap();
        assert_eq!(a.status_line, "SIP/2.0 200 OK");
        assert_eq!(
            a.date,
            httpdate::parse_http_date("Thu, 26 Nov 2026 10:00:00 GMT").ok()
        );
        assert_eq!(parse_answer(answer, "other"), None);
        assert_eq!(parse_answer("OPTIONS sip:x SIP/2.0\r\n\r\n", "abc"), None);
    }

    #[test]
    fn a_closed_udp_port_is_reported_unreachable() {
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let mut report = Report::default();
        check(
            &mut report,
            &format!("127.0.0.1:{port}"),
            Duration::from_secs(2),
        );
        let last = report.checks.last().unwrap();
        assert_eq!(last.status, Status::Fail, "{last:?}");
        assert!(last.text.contains("unreachable"), "{last:?}");
    }
}
