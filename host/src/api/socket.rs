//! One WebSocket connection: frames in to a handler, the connection's queue
//! out, ping/pong liveness. A page that stops answering for 15 s is dropped
//! and its call-socket slot freed.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use seatphone_protocol::Dialect;
use tokio::time::Instant;

use super::frame::Rejection;
use super::pages::{Admitted, ConnId, Outbound, SocketKind};

const PING_EVERY: Duration = Duration::from_secs(5);
const DEAD_AFTER: Duration = Duration::from_secs(15);

/// What a socket does with the frames it receives and when it opens.
pub trait FrameHandler: Send + Sync + 'static {
    fn opened(&self, conn: ConnId, kind: SocketKind);
    /// A text frame from a page speaking `dialect`.
    fn frame(&self, conn: ConnId, dialect: Dialect, text: &str);
}

/// The socket as its handshake chose it.
#[derive(Debug, Clone, Copy)]
pub struct Opened {
    pub kind: SocketKind,
    pub dialect: Dialect,
    pub takeover: bool,
}

/// Serves a socket its handshake admitted (`admitted`, from
/// [`Pages::admit`]) until it closes.
pub async fn run(
    socket: WebSocket,
    admitted: Admitted,
    opened: Opened,
    handler: Arc<dyn FrameHandler>,
) {
    let Opened { kind, dialect, .. } = opened;
    let (conn, outbox) = (admitted.id, &admitted.outbox);
    let (mut sink, mut stream) = socket.split();

    if admitted.refused {
        let (code, reason) = super::pages::CLOSE_ANOTHER_PAGE;
        tracing::info!("a second page was refused the call socket (4001)");
        let _ = sink.send(close(code, reason)).await;
        return;
    }
    tracing::info!(conn, ?kind, dialect = dialect.name(), "page socket open");
    handler.opened(conn, kind);

    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut out = VecDeque::new();
    loop {
        let wake = {
            // Listening for pushes starts before the queue is read, so none
            // is missed, and ends before a frame is handled, so a handler
            // answering on this task does not wake it: its answer is read here
            // next time round.
            let mut pushed = pin!(outbox.pushed());
            if pushed.as_mut().enable() {
                // The permit of a push this read finds: spent, listen afresh.
                pushed.set(outbox.pushed());
                pushed.as_mut().enable();
            }
            outbox.take(&mut out);
            if !out.is_empty() && !write_out(&mut sink, &mut out, conn).await {
                break;
            }
            tokio::select! {
                incoming = stream.next() => Wake::Incoming(incoming),
                () = pushed => Wake::Pushed,
                _ = ping.tick() => Wake::Ping,
            }
        };
        match wake {
            Wake::Incoming(incoming) => {
                let Some(Ok(message)) = incoming else { break };
                last_heard = Instant::now();
                match message {
                    Message::Text(text) => handler.frame(conn, dialect, text.as_str()),
                    Message::Binary(_) => outbox.push(Outbound::Text(
                        Rejection {
                            description: "invalid_request".into(),
                            rsp: 0,
                            seq: None,
                            err_msg: "binary frames are not understood: send JSON text frames"
                                .into(),
                        }
                        .into_frame(),
                    )),
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            Wake::Pushed => {}
            Wake::Ping => {
                if last_heard.elapsed() > DEAD_AFTER {
                    tracing::info!(conn, "page stopped answering pings: dropped");
                    break;
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }
    drop(admitted);
    tracing::info!(conn, ?kind, "page socket closed");
}

enum Wake {
    Incoming(Option<Result<Message, axum::Error>>),
    Pushed,
    Ping,
}

/// Writes `out` in order with one flush at the end; false when the socket
/// is done (closed by us or broken).
async fn write_out(
    sink: &mut SplitSink<WebSocket, Message>,
    out: &mut VecDeque<Outbound>,
    conn: ConnId,
) -> bool {
    while let Some(next) = out.pop_front() {
        match next {
            Outbound::Text(text) => {
                if sink.feed(Message::Text(text.into())).await.is_err() {
                    return false;
                }
            }
            Outbound::Close(code, reason) => {
                tracing::info!(conn, code, reason, "closing page socket");
                let _ = sink.send(close(code, reason)).await;
                return false;
            }
        }
    }
    sink.flush().await.is_ok()
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
