//! The daemon port: one WebSocket route, `/`, with the same checks as the
//! engine port (Host, sub-protocol, Origin; `ws://` and `wss://` side by
//! side), served by a thread per page. Pages are told the engine's state;
//! any frame they send is answered with a rejection. A page that stops
//! answering pings for 15 s is dropped.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use seatphone_protocol::dialect::{accepted, choose, Role};
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{Role as WsRole, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use super::Daemon;
use crate::api::access::AccessPolicy;
use crate::api::frame::Rejection;
use crate::api::refused_handshake;

const PING_EVERY: Duration = Duration::from_secs(5);
const DEAD_AFTER: Duration = Duration::from_secs(15);
/// A client that says nothing, or never finishes its handshake, is dropped
/// after this long (per read).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A TLS record starts with its content type; 22 is a handshake.
const TLS_HANDSHAKE: u8 = 0x16;
/// The request head a page may send (browsers send under 2 KiB).
const MAX_REQUEST: usize = 16 << 10;
/// Pages send no commands here; a frame is only read to be refused.
const TRANSPORT_LIMIT: usize = 1 << 20;
const DAEMON_ROLES: &[Role] = &[Role::Daemon];

const SOCKET: Token = Token(0);
const WAKE: Token = Token(1);

/// A page's queue of frames, and how its thread is woken to send them.
pub struct Outbox {
    queue: Mutex<VecDeque<String>>,
    waker: Waker,
}

impl Outbox {
    pub fn push(&self, frame: String) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(frame);
        let _ = self.waker.wake();
    }

    fn take(&self) -> VecDeque<String> {
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Accepts pages on a thread of its own.
pub(super) fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    access: AccessPolicy,
    daemon: Arc<Daemon>,
) -> Result<(), String> {
    let shared = Arc::new((tls, access, daemon));
    let accept = move || {
        for stream in listener.incoming() {
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!("accepting a page connection failed: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            let shared = shared.clone();
            let page = move || {
                let (tls, access, daemon) = &*shared;
                if let Err(e) = page(stream, tls.as_ref(), access, daemon) {
                    tracing::debug!("daemon socket: {e}");
                }
            };
            if let Err(e) = std::thread::Builder::new()
                .name("daemon-page".into())
                .spawn(page)
            {
                tracing::warn!("cannot serve a page on the daemon port: {e}");
            }
        }
    };
    std::thread::Builder::new()
        .name("daemon-port".into())
        .spawn(accept)
        .map(drop)
        .map_err(|e| format!("cannot start the daemon port's thread: {e}"))
}

/// One connection: handshake, then the page's socket until it closes.
fn page(
    tcp: TcpStream,
    tls: Option<&Arc<ServerConfig>>,
    access: &AccessPolicy,
    daemon: &Daemon,
) -> io::Result<()> {
    // A notify is one small write the page waits for: no Nagle.
    let _ = tcp.set_nodelay(true);
    tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut first = [0u8; 1];
    if tcp.peek(&mut first)? == 0 {
        return Ok(());
    }
    let mut io = match tls {
        Some(config) if first[0] == TLS_HANDSHAKE => {
            let mut tls = StreamOwned::new(
                ServerConnection::new(config.clone()).map_err(io::Error::other)?,
                tcp,
            );
            while tls.conn.is_handshaking() {
                tls.conn.complete_io(&mut tls.sock)?;
            }
            Io::Tls(Box::new(tls))
        }
        _ => Io::Plain(tcp),
    };
    let (head, rest) = read_head(&mut io)?;
    let (protocol, key) = match check(&head, access) {
        Ok(accepted) => accepted,
        Err((status, body)) => {
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            io.write_all(reply.as_bytes())?;
            return io.flush();
        }
    };
    let mut reply = format!(
        "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-accept: {}\r\n",
        derive_accept_key(key.as_bytes())
    );
    if let Some(p) = protocol {
        reply.push_str(&format!("sec-websocket-protocol: {p}\r\n"));
    }
    reply.push_str("\r\n");
    io.write_all(reply.as_bytes())?;
    io.flush()?;

    let mut io = io.into_mio()?;
    let poll = Poll::new()?;
    poll.registry()
        .register(io.tcp(), SOCKET, Interest::READABLE | Interest::WRITABLE)?;
    let outbox = Arc::new(Outbox {
        queue: Mutex::default(),
        waker: Waker::new(poll.registry(), WAKE)?,
    });
    let config = WebSocketConfig::default()
        .max_message_size(Some(TRANSPORT_LIMIT))
        .max_frame_size(Some(TRANSPORT_LIMIT));
    let ws = WebSocket::from_partially_read(io, rest, WsRole::Server, Some(config));
    let id = daemon.page_opened(outbox.clone());
    tracing::info!(conn = id, "daemon socket open");
    let result = run(ws, poll, &outbox);
    daemon.page_closed(id);
    tracing::info!(conn = id, "daemon socket closed");
    result
}

/// The request head, and any bytes read past it.
fn read_head(io: &mut impl Read) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    loop {
        let n = io.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_REQUEST {
            return Err(io::Error::other("request head too large"));
        }
    }
}

type Refused = (&'static str, String);

/// The handshake as the engine port checks it: the sub-protocol chosen (if
/// the page offered one) and the page's key, or the status and text refusing it.
fn check(head: &[u8], access: &AccessPolicy) -> Result<(Option<&'static str>, String), Refused> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    if !matches!(request.parse(head), Ok(httparse::Status::Complete(_))) {
        return Err(("400 Bad Request", "bad request".into()));
    }
    let path = request.path.unwrap_or("");
    if path.split('?').next() != Some("/") {
        return Err(("404 Not Found", String::new()));
    }
    if !matches!(request.method, Some("GET" | "HEAD")) {
        return Err(("405 Method Not Allowed", String::new()));
    }
    let headers: &[httparse::Header] = request.headers;
    let values = |name: &'static str| header_values(headers, name);
    let one = |name: &'static str| values(name).next();
    if !access.host_allowed(one("host")) {
        return Err((
            "421 Misdirected Request",
            "unknown Host: use 127.0.0.1 or localhost".into(),
        ));
    }
    let has_token = |name: &'static str, token: &str| {
        values(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let key = one("sec-websocket-key").map(str::trim);
    let (true, true, true, Some(key)) = (
        request.method == Some("GET"),
        has_token("connection", "upgrade") && has_token("upgrade", "websocket"),
        one("sec-websocket-version").map(str::trim) == Some("13"),
        key,
    ) else {
        return Err((
            "400 Bad Request",
            "the daemon port takes WebSocket connections".into(),
        ));
    };
    let offered: Vec<String> = values("sec-websocket-protocol")
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let chosen = choose(offered.iter().map(String::as_str), DAEMON_ROLES);
    if chosen.is_none() && !offered.is_empty() {
        refused_handshake::sub_protocol("daemon", &offered, DAEMON_ROLES);
        let accepted = accepted(DAEMON_ROLES).join(", ");
        return Err((
            "400 Bad Request",
            format!("offer one of the sub-protocols {accepted}"),
        ));
    }
    let protocol = chosen.map(|p| p.name);
    let origin = one("origin");
    if !access.origin_allowed(origin) {
        refused_handshake::origin(origin.unwrap_or(""), protocol, access.allowed_origins());
        return Err((
            "403 Forbidden",
            "this page's origin may not use the softphone".into(),
        ));
    }
    Ok((protocol, key.to_owned()))
}

/// Every value of the header `name`, as text.
fn header_values<'a>(
    headers: &'a [httparse::Header<'a>],
    name: &'static str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .filter_map(|h| std::str::from_utf8(h.value).ok())
}

/// The open socket: queued frames out, frames in (refused), pings.
fn run(
    mut ws: WebSocket<Io<mio::net::TcpStream>>,
    mut poll: Poll,
    outbox: &Outbox,
) -> io::Result<()> {
    let mut events = Events::with_capacity(4);
    let mut last_heard = Instant::now();
    let mut next_ping = last_heard + PING_EVERY;
    loop {
        for frame in outbox.take() {
            if !written(ws.write(Message::text(frame))) {
                return Ok(());
            }
        }
        loop {
            match ws.read() {
                Ok(message) => {
                    last_heard = Instant::now();
                    let refusal = match message {
                        Message::Text(_) => {
                            "the daemon socket takes no commands; use the call socket"
                        }
                        Message::Binary(_) => {
                            "binary frames are not understood: send JSON text frames"
                        }
                        Message::Close(_) => {
                            let _ = ws.flush();
                            return Ok(());
                        }
                        _ => continue,
                    };
                    let frame = Rejection {
                        description: "invalid_request".into(),
                        rsp: 0,
                        seq: None,
                        err_msg: refusal.into(),
                    }
                    .into_frame();
                    if !written(ws.write(Message::text(frame))) {
                        return Ok(());
                    }
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Ok(()),
            }
        }
        if !written(ws.flush()) {
            return Ok(());
        }
        let now = Instant::now();
        if now >= next_ping {
            if last_heard.elapsed() > DEAD_AFTER {
                tracing::info!("a page on the daemon socket stopped answering pings: dropped");
                return Ok(());
            }
            if !written(ws.send(Message::Ping(Default::default()))) {
                return Ok(());
            }
            next_ping = now + PING_EVERY;
        }
        match poll.poll(&mut events, Some(next_ping.saturating_duration_since(now))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// False when the socket is done; a write that would block is kept by
/// tungstenite and goes out when the socket is writable again.
fn written(result: tungstenite::Result<()>) -> bool {
    match result {
        Ok(()) => true,
        Err(tungstenite::Error::Io(e)) => e.kind() == io::ErrorKind::WouldBlock,
        Err(_) => false,
    }
}

/// A page's connection: plain, or TLS over it.
enum Io<S: Read + Write> {
    Plain(S),
    Tls(Box<StreamOwned<ServerConnection, S>>),
}

impl Io<TcpStream> {
    /// The same connection, non-blocking, for the socket's event loop.
    fn into_mio(self) -> io::Result<Io<mio::net::TcpStream>> {
        let mio = |tcp: TcpStream| -> io::Result<mio::net::TcpStream> {
            tcp.set_nonblocking(true)?;
            Ok(mio::net::TcpStream::from_std(tcp))
        };
        Ok(match self {
            Io::Plain(tcp) => Io::Plain(mio(tcp)?),
            Io::Tls(tls) => {
                let StreamOwned { conn, sock } = *tls;
                Io::Tls(Box::new(StreamOwned::new(conn, mio(sock)?)))
            }
        })
    }
}

impl Io<mio::net::TcpStream> {
    fn tcp(&mut self) -> &mut mio::net::TcpStream {
        match self {
            Io::Plain(tcp) => tcp,
            Io::Tls(tls) => &mut tls.sock,
        }
    }
}

impl<S: Read + Write> Read for Io<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(buf),
            Io::Tls(s) => s.read(buf),
        }
    }
}

impl<S: Read + Write> Write for Io<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.write(buf),
            Io::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Io::Plain(s) => s.flush(),
            Io::Tls(s) => s.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiConfig;

    fn request(extra: &str) -> Vec<u8> {
        format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:7682\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
        )
        .into_bytes()
    }

    fn status(head: &[u8]) -> &'static str {
        match check(head, &AccessPolicy::new(&ApiConfig::default())) {
            Ok(_) => "101",
            Err((status, _)) => &status[..3],
        }
    }

    #[test]
    fn a_daemon_handshake_is_checked_as_the_engine_port_checks_its_own() {
        let access = AccessPolicy::new(&ApiConfig::default());
        let daemon = accepted(DAEMON_ROLES)[0];
        let ok = check(
            &request(&format!("Sec-WebSocket-Protocol: chat, {daemon}\r\n")),
            &access,
        );
        assert_eq!(ok, Ok((Some(daemon), "dGhlIHNhbXBsZSBub25jZQ==".into())));
        assert_eq!(
            check(&request(""), &access),
            Ok((None, "dGhlIHNhbXBsZSBub25jZQ==".into()))
        );
        assert_eq!(status(&request("Sec-WebSocket-Protocol: chat\r\n")), "400");
        assert_eq!(status(&request("Origin: https://evil.example\r\n")), "403");
        assert_eq!(status(&request("Origin: http://127.0.0.1:7684\r\n")), "101");
        let rebound = String::from_utf8(request(""))
            .unwrap()
            .replace("127.0.0.1:7682", "rebind.evil");
        assert_eq!(status(rebound.as_bytes()), "421");
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), "400");
        assert_eq!(status(b"GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n"), "404");
    }
}
