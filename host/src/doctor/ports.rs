//! Are Seatphone's ports free, and if not, who holds them. The holder is
//! found the way `ss -p` does it: the socket's inode in `/proc/net/*`, then
//! the process with that inode among its open files (only the user's own
//! processes can be seen unless run as root).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use super::{Report, Status};

/// A process holding a socket.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub name: Option<String>,
    pub uid: u32,
}

impl Holder {
    fn describe(&self) -> String {
        match (&self.name, self.pid) {
            (Some(name), Some(pid)) => format!("{name} (pid {pid})"),
            _ => format!("a process of uid {} this user cannot see", self.uid),
        }
    }

    fn is_seatphone(&self) -> bool {
        self.name.as_deref() == Some("seatphone")
    }
}

pub fn check_tcp(report: &mut Report, bind: IpAddr, port: u16, what: &str, running: bool) {
    if port == 0 {
        return;
    }
    let result = TcpListener::bind(SocketAddr::new(bind, port)).map(drop);
    verdict(report, "tcp", bind, port, what, running, result);
}

pub fn check_udp(report: &mut Report, bind: IpAddr, port: u16, what: &str, running: bool) {
    let result = UdpSocket::bind(SocketAddr::new(bind, port)).map(drop);
    verdict(report, "udp", bind, port, what, running, result);
}

fn verdict(
    report: &mut Report,
    proto: &str,
    bind: IpAddr,
    port: u16,
    what: &str,
    running: bool,
    bound: std::io::Result<()>,
) {
    let topic = format!("port {port}");
    let e = match bound {
        Ok(()) => {
            let text = format!("{proto} {bind}:{port} free ({what})");
            report.add(Status::Ok, topic, text);
            return;
        }
        Err(e) => e,
    };
    if e.kind() != std::io::ErrorKind::AddrInUse {
        let text = format!("{proto} {bind}:{port} cannot be used ({what}): {e}");
        report.add(Status::Fail, topic, text);
        return;
    }
    match holders(proto, port).first() {
        Some(h) if running && h.is_seatphone() => report.add(
            Status::Ok,
            topic,
            format!("{proto} {port} in use by Seatphone itself, {}", h.describe()),
        ),
        Some(h) => report.add(
            Status::Fail,
            topic,
            format!(
                "{proto} {port} is taken by {} ({what}): Seatphone cannot use it; stop that program or change {what}",
                h.describe()
            ),
        ),
        None => report.add(
            Status::Fail,
            topic,
            format!("{proto} {port} is taken ({what}), holder unknown"),
        ),
    }
}

/// Processes with a bound socket on `port` (`proto` "tcp" or "udp").
pub fn holders(proto: &str, port: u16) -> Vec<Holder> {
    let mut sockets = Vec::new();
    for table in [proto.to_owned(), format!("{proto}6")] {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/net/{table}")) {
            sockets.extend(bound_sockets(&text, port, proto == "tcp"));
        }
    }
    sockets
        .into_iter()
        .map(|(inode, uid)| {
            let pid = pid_with_socket(inode);
            Holder {
                pid,
                name: pid.and_then(|p| {
                    std::fs::read_to_string(format!("/proc/{p}/comm"))
                        .ok()
                        .map(|n| n.trim().to_owned())
                }),
                uid,
            }
        })
        .collect()
}

/// `(inode, uid)` of the sockets bound to `port` in a `/proc/net/{tcp,udp}[6]`
/// table; TCP only those listening (state 0A).
pub fn bound_sockets(table: &str, port: u16, listening_only: bool) -> Vec<(u64, u32)> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit_once(':')?.1;
            let state = f.get(3)?;
            if u16::from_str_radix(local_port, 16).ok()? != port
                || (listening_only && *state != "0A")
            {
                return None;
            }
            Some((f.get(9)?.parse().ok()?, f.get(7)?.parse().ok()?))
        })
        .collect()
}

fn pid_with_socket(inode: u64) -> Option<u32> {
    let target = format!("socket:[{inode}]");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|proc| {
        let pid: u32 = proc.file_name().to_str()?.parse().ok()?;
        let fds = std::fs::read_dir(proc.path().join("fd")).ok()?;
        fds.flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str()))
            .then_some(pid)
    })
}

/// A plain HTTP GET on the local API port; the body of a 200 answer.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_owned())
        .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1E04 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1E04 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0000000000000000 20 4 30 10 -1
   2: 00000000:13C4 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn listening_sockets_on_the_port_are_found_with_their_owner() {
        assert_eq!(bound_sockets(TCP, 0x1E04, true), vec![(4242, 1000)]);
        assert_eq!(bound_sockets(TCP, 0x13C4, true), vec![(99, 0)]);
        assert_eq!(bound_sockets(TCP, 1, true), vec![]);
        assert_eq!(bound_sockets(TCP, 0x1E04, false).len(), 2);
    }

    #[test]
    fn the_holder_of_a_port_this_process_took_is_this_process() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let found = holders("tcp", port);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid, Some(std::process::id()));
    }
}
