//! A recording TCP relay to put between the user agent and a server: it
//! forwards bytes both ways unchanged and keeps what each connection
//! carried, so a test can see what travels on a flow (SIP messages, RFC 5626
//! CRLF pings and pongs, TLS records) without touching either end.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one relayed connection carried so far.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Client → server bytes, in order.
    pub to_server: Vec<u8>,
    /// Server → client bytes, in order.
    pub to_client: Vec<u8>,
    /// The client closed its side of the connection.
    pub client_closed: bool,
}

impl Recorded {
    /// The SIP messages the client sent (start line and headers).
    pub fn requests(&self) -> Vec<String> {
        split_stream(&self.to_server).0
    }

    /// The SIP messages the server sent.
    pub fn responses(&self) -> Vec<String> {
        split_stream(&self.to_client).0
    }

    /// Double-CRLF keep-alive pings (RFC 5626 §4.4.1) the client sent
    /// between SIP messages.
    pub fn pings(&self) -> usize {
        split_stream(&self.to_server).1 / 2
    }

    /// Single-CRLF pongs the server sent between SIP messages.
    pub fn pongs(&self) -> usize {
        split_stream(&self.to_client).1
    }
}

pub struct Relay {
    pub port: u16,
    connections: Arc<Mutex<Vec<Arc<Mutex<Recorded>>>>>,
    /// Both sockets of every relayed connection, for [`Relay::cut`].
    sockets: Arc<Mutex<Vec<(TcpStream, TcpStream)>>>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    /// Listens on a free port of 127.0.0.1 and relays every connection to
    /// `target`.
    pub fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let connections: Arc<Mutex<Vec<Arc<Mutex<Recorded>>>>> = Arc::default();
        let sockets: Arc<Mutex<Vec<(TcpStream, TcpStream)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (conns, socks, halt) = (connections.clone(), sockets.clone(), stop.clone());
        std::thread::spawn(move || {
            while !halt.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(server) = TcpStream::connect(target) else {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        };
                        let rec = Arc::new(Mutex::new(Recorded::default()));
                        if let Ok(mut c) = conns.lock() {
                            c.push(rec.clone());
                        }
                        if let (Ok(a), Ok(b), Ok(mut s)) =
                            (client.try_clone(), server.try_clone(), socks.lock())
                        {
                            s.push((a, b));
                        }
                        pump(&client, &server, rec.clone(), true, halt.clone());
                        pump(&server, &client, rec, false, halt.clone());
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(_) => break,
                }
            }
        });
        Ok(Self {
            port,
            connections,
            sockets,
            stop,
        })
    }

    /// Closes every connection relayed so far, both ways (as a NAT or a
    /// restarted server would), and keeps accepting new ones.
    pub fn cut(&self) {
        if let Ok(mut s) = self.sockets.lock() {
            for (a, b) in s.drain(..) {
                let _ = a.shutdown(Shutdown::Both);
                let _ = b.shutdown(Shutdown::Both);
            }
        }
    }

    /// Writes `bytes` to the client of the latest connection, as if the
    /// server had sent them (a broken or hostile server).
    pub fn send_to_client(&self, bytes: &[u8]) -> std::io::Result<()> {
        let sockets = self
            .sockets
            .lock()
            .map_err(|_| std::io::Error::other("relay poisoned"))?;
        let (client, _) = sockets
            .last()
            .ok_or_else(|| std::io::Error::other("no connection relayed yet"))?;
        (&*client).write_all(bytes)
    }

    /// What each connection carried, in the order they were accepted.
    pub fn connections(&self) -> Vec<Recorded> {
        self.connections
            .lock()
            .map(|c| {
                c.iter()
                    .filter_map(|r| r.lock().ok().map(|r| r.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` → `to` on a thread, recording; when `from` ends, ends `to`.
fn pump(
    from: &TcpStream,
    to: &TcpStream,
    rec: Arc<Mutex<Recorded>>,
    to_server: bool,
    stop: Arc<AtomicBool>,
) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    let _ = from.set_read_timeout(Some(Duration::from_millis(100)));
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while !stop.load(Ordering::SeqCst) {
            match from.read(&mut buf) {
                Ok(0) => {
                    if let (true, Ok(mut r)) = (to_server, rec.lock()) {
                        r.client_closed = true;
                    }
                    break;
                }
                Ok(n) => {
                    if let Ok(mut r) = rec.lock() {
                        let side = if to_server {
                            &mut r.to_server
                        } else {
                            &mut r.to_client
                        };
                        side.extend_from_slice(&buf[..n]);
                    }
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        let _ = to.shutdown(Shutdown::Write);
        let _ = from.shutdown(Shutdown::Read);
    });
}

/// Splits a SIP byte stream (RFC 3261 §18.3 framing) into its messages'
/// heads and the number of CRLFs found between messages (keep-alives).
/// An incomplete message at the end is left out.
pub fn split_stream(stream: &[u8]) -> (Vec<String>, usize) {
    let mut messages = Vec::new();
    let mut crlfs = 0;
    let mut rest = stream;
    loop {
        if rest.starts_with(b"\r\n") {
            crlfs += 1;
            rest = &rest[2..];
            continue;
        }
        let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let body = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                let name = name.trim();
                (name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l"))
                    .then(|| value.trim().parse::<usize>().ok())
                    .flatten()
            })
            .unwrap_or(0);
        let total = end + 4 + body;
        if rest.len() < total {
            break;
        }
        messages.push(head);
        rest = &rest[total..];
    }
    (messages, crlfs)
}

/// The (content type, length) of each whole TLS record in a TLS byte
/// stream; 23 is application data.
pub fn tls_records(stream: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    let mut rest = stream;
    while rest.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if rest.len() < 5 + len {
            break;
        }
        out.push((rest[0], len));
        rest = &rest[5 + len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_pongs_and_messages_are_told_apart() {
        let client = b"REGISTER sip:x SIP/2.0\r\nContent-Length: 2\r\n\r\nab\r\n\r\n\r\n\r\nOPTIONS sip:x SIP/2.0\r\nl: 0\r\n\r\nINV";
        let (messages, crlfs) = split_stream(client);
        assert_eq!(messages.len(), 2);
        assert!(messages[1].starts_with("OPTIONS"));
        assert_eq!(crlfs, 4, "two pings");
        let server = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n\r\n\r\n";
        assert_eq!(
            split_stream(server),
            (vec!["SIP/2.0 200 OK\r\nContent-Length: 0".into()], 2)
        );
    }

    #[test]
    fn tls_records_are_listed_whole() {
        let s = [23, 3, 3, 0, 2, 9, 9, 22, 3, 3, 0, 1, 7, 23, 3, 3, 0, 5, 1];
        assert_eq!(tls_records(&s), vec![(23, 2), (22, 1)]);
    }
}
