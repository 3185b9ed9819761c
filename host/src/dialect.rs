//! Pages that speak another dialect than OpenEye (TUP, CloudEC; see
//! `seatphone_protocol::dialect`). Their frames are translated by the
//! dialect's table, the engine is asked in standard terms (`Engine::ask`),
//! and the answer goes back in the dialect's terms, on the page's socket.
//! Events are translated where the pages are kept (`api::pages`).

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use seatphone_protocol::dialect::{Ask, Asked, Echo};
use seatphone_protocol::{result, Dialect, Refusal, Request, Response};
use serde_json::json;
use tokio::runtime::Handle;

use crate::api::frame::{response_frame, MAX_FRAME};
use crate::api::pages::{ConnId, Pages};
use crate::engine::Engine;

/// How long finding the address towards a server may take (a name to resolve).
const LOOKUP: Duration = Duration::from_secs(3);

/// One frame from a page speaking `dialect`.
pub fn handle(engine: &Arc<Engine>, conn: ConnId, dialect: Dialect, text: &str) {
    let Some(table) = dialect.table() else {
        return engine.handle_frame(conn, text);
    };
    let Asked { echo, ask } = if text.len() > MAX_FRAME {
        let msg = format!(
            "frame of {} bytes refused: the limit is {MAX_FRAME} bytes",
            text.len()
        );
        Asked {
            echo: Echo {
                description: "invalid_request".into(),
                rsp: 0,
                seq: None,
                style: table.answers,
            },
            ask: Ask::Answer(Refusal::invalid(msg).into()),
        }
    } else {
        table.request(text)
    };
    tracing::debug!(
        dialect = dialect.name(),
        description = %echo.description,
        rsp = echo.rsp,
        "request"
    );
    let answer = Answer {
        pages: engine.pages.clone(),
        conn,
        echo,
    };
    match ask {
        Ask::Answer(response) => answer.send(response),
        Ask::Version => answer.send(Response::with_param(
            json!({ "version": env!("CARGO_PKG_VERSION") }),
        )),
        Ask::LocalIp(server) => {
            tokio::spawn(async move { answer.send(local_ip(&server).await) });
        }
        Ask::Engine(requests) => Chain {
            engine: engine.clone(),
            runtime: Handle::current(),
            requests: requests.into(),
            answer,
        }
        .next(),
    }
}

/// Where the answer goes and what it echoes.
struct Answer {
    pages: Arc<Pages>,
    conn: ConnId,
    echo: Echo,
}

impl Answer {
    fn send(&self, response: Response) {
        let response = self.echo.answer(response);
        let echo = &self.echo;
        let frame = response_frame(&echo.description, echo.rsp, echo.seq.as_ref(), &response);
        self.pages.send_to(self.conn, frame);
    }
}

/// Standard requests asked one after the other; the page gets the first
/// failure or the last answer.
struct Chain {
    engine: Arc<Engine>,
    /// The next request is asked from the runtime, not from inside the
    /// previous one's reply (which may run on a plugin's thread).
    runtime: Handle,
    requests: VecDeque<Request>,
    answer: Answer,
}

impl Chain {
    fn next(mut self) {
        let Some(request) = self.requests.pop_front() else {
            return;
        };
        let engine = self.engine.clone();
        engine.ask(
            request,
            Box::new(move |response: Response| {
                if response.result != result::SUCCESS || self.requests.is_empty() {
                    return self.answer.send(response);
                }
                let runtime = self.runtime.clone();
                runtime.spawn(async move { self.next() });
            }),
        );
    }
}

/// This computer's address on the way to `server` (a host name or address,
/// with or without a port): the source address the system would pick for a
/// UDP datagram there. Nothing is sent.
async fn local_ip(server: &str) -> Response {
    let refusal = match tokio::time::timeout(LOOKUP, route_source(server)).await {
        Ok(Ok(ip)) => return Response::ok().top("local_ip", ip.to_string()),
        Ok(Err(e)) => Refusal::new(
            result::FAILED,
            format!("cannot find this computer's address towards {server}: {e}"),
        ),
        Err(_) => Refusal::new(
            result::TIMED_OUT,
            format!("cannot find this computer's address towards {server}: the name did not resolve within {LOOKUP:?}"),
        ),
    };
    refusal.into()
}

async fn route_source(server: &str) -> std::io::Result<IpAddr> {
    let target: SocketAddr = match server.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, 5060),
        Err(_) => {
            let with_port = if server.contains(':') {
                server.to_owned()
            } else {
                format!("{server}:5060")
            };
            tokio::net::lookup_host(with_port)
                .await?
                .next()
                .ok_or_else(|| std::io::Error::other("the name has no address"))?
        }
    };
    let any = match target {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = tokio::net::UdpSocket::bind(SocketAddr::new(any, 0)).await?;
    socket.connect(target).await?;
    Ok(socket.local_addr()?.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_address_towards_loopback_is_loopback() {
        let r = local_ip("127.0.0.1").await;
        assert_eq!(r.result, 0, "{r:?}");
        assert_eq!(r.top["local_ip"], "127.0.0.1");
        let r = local_ip("localhost:5070").await;
        assert_eq!(r.result, 0, "{r:?}");
        let r = local_ip("no such host.invalid").await;
        assert_ne!(r.result, 0);
        assert!(r.err_msg.unwrap().contains("no such host.invalid"));
    }
}
