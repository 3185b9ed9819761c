//! One WebSocket connection: frames in to a handler, the connection's queue
//! out, ping/pong liveness. A page that stops answering for 15 s is dropped
//! and its call-socket slot freed.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::frame::Rejection;
use super::pages::{ConnId, Outbound, Pages, SocketKind};

const PING_EVERY: Duration = Duration::from_secs(5);
const DEAD_AFTER: Duration = Duration::from_secs(15);

/// What a socket does with the frames it receives and when it opens.
pub trait FrameHandler: Send + Sync + 'static {
    fn opened(&self, conn: ConnId, kind: SocketKind);
    fn frame(&self, conn: ConnId, text: &str);
}

pub async fn run(
    socket: WebSocket,
    kind: SocketKind,
    takeover: bool,
    pages: Arc<Pages>,
    handler: Arc<dyn FrameHandler>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn = pages.connect(kind, tx.clone());
    let (mut sink, mut stream) = socket.split();

    if kind == SocketKind::Call && !pages.claim_call_slot(conn, takeover) {
        let (code, reason) = super::pages::CLOSE_ANOTHER_PAGE;
        tracing::info!("a second page was refused the call socket (4001)");
        let _ = sink.send(close(code, reason)).await;
        pages.disconnect(conn);
        return;
    }
    tracing::info!(conn, ?kind, "page socket open");
    handler.opened(conn, kind);

    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(Ok(message)) = incoming else { break };
                last_heard = Instant::now();
                match message {
                    Message::Text(text) => handler.frame(conn, text.as_str()),
                    Message::Binary(_) => pages.send_to(conn, Rejection {
                        description: "invalid_request".into(),
                        rsp: 0,
                        seq: None,
                        err_msg: "binary frames are not understood: send JSON text frames".into(),
                    }.into_frame()),
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            outgoing = rx.recv() => match outgoing {
                Some(Outbound::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() { break; }
                }
                Some(Outbound::Close(code, reason)) => {
                    tracing::info!(conn, code, reason, "closing page socket");
                    let _ = sink.send(close(code, reason)).await;
                    break;
                }
                None => break,
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    tracing::info!(conn, "page stopped answering pings: dropped");
                    break;
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() { break; }
            }
        }
    }
    pages.disconnect(conn);
    tracing::info!(conn, ?kind, "page socket closed");
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
