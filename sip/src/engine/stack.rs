//! The rsipstack side: endpoint, transport, the incoming-request loop and
//! the SIP message log.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rsipstack::dialog::dialog::DialogStateSender;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::{self as rsip, HasHeaders, Header, HeadersExt, SipMessage};
use rsipstack::transaction::endpoint::MessageInspector;
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transport::{udp::UdpConnection, SipAddr, TransportLayer};
use rsipstack::EndpointBuilder;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::gate::{self, Gate, SharedAdmission};
use super::Input;
use crate::digest::{incoming_algorithm, is_credential, outgoing_algorithm, redact_into};
use crate::requests::{self, OutOfDialog};

/// The SIP stack as the engine uses it.
pub struct Stack {
    pub endpoint: rsipstack::transaction::Endpoint,
    pub dialogs: Arc<DialogLayer>,
    pub local: SocketAddr,
    pub cancel: CancellationToken,
    /// The SIP message log (the page may move it: `log_path`).
    pub log: Arc<MessageLog>,
}

pub async fn build(
    bind: IpAddr,
    port: u16,
    user_agent: &str,
    log_dir: Option<PathBuf>,
    admission: SharedAdmission,
) -> std::io::Result<(Stack, TransactionReceiver)> {
    let cancel = CancellationToken::new();
    let transport = TransportLayer::new(cancel.clone());
    let udp = UdpConnection::create_connection(
        SocketAddr::new(bind, port),
        None,
        Some(cancel.child_token()),
    )
    .await
    .map_err(|e| std::io::Error::other(format!("cannot bind SIP UDP {bind}:{port}: {e}")))?;
    let local = udp
        .get_addr()
        .get_socketaddr()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    transport.add_transport(udp.into());
    // TCP on the same address and port, for `sipTransportMode` 2 and for
    // proxies that open connections towards our Contact.
    match rsipstack::transport::TcpListenerConnection::new(local, None).await {
        Ok(tcp) => transport.add_transport(tcp.into()),
        Err(e) => tracing::warn!("no SIP over TCP on {local}: {e}"),
    }
    let mut builder = EndpointBuilder::new();
    builder
        .with_cancel_token(cancel.clone())
        .with_transport_layer(transport)
        .with_user_agent(user_agent);
    let log = Arc::new(MessageLog::new(log_dir));
    builder.with_inspector(Box::new(Wire {
        log: log.clone(),
        early: crate::early::EarlyDialogs::default(),
    }));
    let dialogs_cell = Arc::new(OnceLock::new());
    builder.with_transport_inspector(Box::new(Gate {
        admission,
        listener: local,
        dialogs: dialogs_cell.clone(),
    }));
    let endpoint = builder.build();
    let incoming = endpoint
        .incoming_transactions()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
    let _ = dialogs_cell.set(Arc::downgrade(&dialogs));
    let serve = endpoint.inner.clone();
    tokio::spawn(async move {
        if let Err(e) = serve.serve().await {
            tracing::warn!("SIP endpoint stopped: {e}");
        }
    });
    Ok((
        Stack {
            endpoint,
            dialogs,
            local,
            cancel,
            log,
        },
        incoming,
    ))
}

/// Reads requests that open a transaction (those the [`Gate`] let in):
/// INVITEs become calls, in-dialog requests go to their dialog, OPTIONS is
/// answered, the rest refused.
pub async fn incoming_loop(
    dialogs: Arc<DialogLayer>,
    mut incoming: TransactionReceiver,
    states: DialogStateSender,
    engine: mpsc::UnboundedSender<Input>,
    contact: Arc<Mutex<Option<rsip::Uri>>>,
    admission: SharedAdmission,
    listener: SocketAddr,
) {
    while let Some(mut tx) = incoming.recv().await {
        if let Err(reason) = crate::sanity::check(&tx.original) {
            tracing::debug!(
                "malformed {} refused with 400: {reason}",
                tx.original.method
            );
            if let Some(status) = requests::malformed(tx.original.method) {
                let _ = tx.reply(status).await;
            }
            continue;
        }
        let has_to_tag = tx
            .original
            .to_header()
            .ok()
            .and_then(|t| t.tag().ok().flatten())
            .is_some();
        if has_to_tag {
            match dialogs.match_dialog(&tx) {
                Some(mut dialog) => {
                    tokio::spawn(async move {
                        if let Err(e) = dialog.handle(&mut tx).await {
                            tracing::debug!("in-dialog request: {e}");
                        }
                    });
                }
                None => {
                    let _ = tx.reply(requests::unknown_dialog()).await;
                }
            }
            continue;
        }
        match requests::out_of_dialog(tx.original.method) {
            OutOfDialog::NewCall => {
                let local_contact = contact.lock().ok().and_then(|c| c.clone());
                match dialogs.get_or_create_server_invite(&tx, states.clone(), None, local_contact)
                {
                    Ok(dialog) => {
                        let request = tx.original.clone();
                        let trust = gate::trust_of(&admission, tx.connection.as_ref(), listener);
                        let mut d = dialog.clone();
                        tokio::spawn(async move {
                            if let Err(e) = d.handle(&mut tx).await {
                                tracing::debug!("incoming INVITE: {e}");
                            }
                        });
                        let _ = engine.send(Input::Incoming {
                            dialog,
                            request,
                            trust,
                        });
                    }
                    Err(e) => {
                        tracing::debug!("cannot make a dialog of an INVITE: {e}");
                        let _ = tx.reply(requests::no_dialog()).await;
                    }
                }
            }
            OutOfDialog::Answer(status) => {
                let _ = tx.reply(status).await;
            }
            OutOfDialog::Ignore => {}
        }
    }
}

/// The SIP message log: every message sent and received, with digest
/// credentials blanked (a digest response is a password equivalent for
/// replay within the nonce's life). `sip-messages.log` in the host's
/// `[log] dir`, or in the folder the page names (`log_path`).
pub struct MessageLog {
    /// The host's folder, where a page's empty `log_path` puts it back.
    default: Option<PathBuf>,
    file: Mutex<Option<(PathBuf, std::fs::File)>>,
}

impl MessageLog {
    fn new(default: Option<PathBuf>) -> Self {
        let file = default.as_ref().and_then(|dir| match open_log(dir) {
            Ok(f) => Some((dir.clone(), f)),
            Err(e) => {
                tracing::warn!("no SIP message log in {}: {e}", dir.display());
                None
            }
        });
        Self {
            default,
            file: Mutex::new(file),
        }
    }

    /// Writes into `dir` from now on (`None`: the host's folder again). On
    /// failure the log stays where it was and the sentence says why.
    pub fn move_to(&self, dir: Option<&Path>) -> Result<(), String> {
        let Some(dir) = dir.or(self.default.as_deref()) else {
            return Ok(());
        };
        let mut file = self.file.lock().map_err(|_| "the message log failed")?;
        if file.as_ref().is_some_and(|(d, _)| d == dir) {
            return Ok(());
        }
        let f = open_log(dir).map_err(|e| {
            format!(
                "log_path {}: {e}; the SIP message log stays where it was",
                dir.display()
            )
        })?;
        tracing::info!("SIP message log: {}", dir.join(LOG_FILE).display());
        *file = Some((dir.to_path_buf(), f));
        Ok(())
    }

    fn write(&self, arrow: &str, peer: Option<&SipAddr>, msg: &SipMessage) {
        use std::fmt::Write as _;
        // One buffer, sized once, one write per message: `writeln!` on the
        // unbuffered file made six system calls of each, and formatting
        // the message was most of the engine's work on the way to a call's
        // INVITE (callgrind, issue 20). Only a message that carries
        // credentials is formatted apart, to be redacted into the entry.
        let mut entry = String::with_capacity(1600);
        entry.push_str(arrow);
        entry.push(' ');
        if let Some(peer) = peer {
            let _ = write!(entry, "{peer}");
        }
        entry.push('\n');
        if msg.headers().iter().any(is_credential) {
            let mut text = String::with_capacity(1536);
            let _ = write!(text, "{msg}");
            redact_into(&mut entry, &text);
        } else {
            let _ = write!(entry, "{msg}");
        }
        entry.push_str("\n\n");
        if let Ok(mut file) = self.file.lock() {
            if let Some((_, f)) = file.as_mut() {
                let _ = f.write_all(entry.as_bytes());
            }
        }
    }
}

const LOG_FILE: &str = "sip-messages.log";

/// The folder is made if missing (as the reference does for `log_path`).
fn open_log(dir: &Path) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(LOG_FILE))
}

/// Sees every message on the wire: fixes the digest algorithm's name and
/// writes the message log.
///
/// (The names and why: `crate::digest`.)
struct Wire {
    log: Arc<MessageLog>,
    early: crate::early::EarlyDialogs,
}

impl MessageInspector for Wire {
    fn before_send(&self, mut msg: SipMessage, _dest: Option<&SipAddr>) -> SipMessage {
        self.early.before_send(&mut msg);
        for h in msg.headers_mut().iter_mut() {
            match h {
                Header::Authorization(a) => a.replace(outgoing_algorithm(a.value())),
                Header::ProxyAuthorization(a) => a.replace(outgoing_algorithm(a.value())),
                _ => {}
            }
        }
        msg
    }

    /// The log entry once the message went out: the peer works on it while
    /// it is formatted and written (issue 20: four outgoing messages on the
    /// path of a call's set-up, ~13 µs each). Still in the sender's turn,
    /// which an answer reaches only after it, so the log is complete when
    /// an event the answer causes reaches the page; the answer's own entry
    /// (written on receipt) can come first only if the sender is held off
    /// the CPU for longer than the peer takes to answer.
    fn after_send(&self, msg: &SipMessage, dest: Option<&SipAddr>) {
        self.log.write(">>>", dest, msg);
    }

    fn after_received(&self, mut msg: SipMessage, from: Option<&SipAddr>) -> SipMessage {
        self.log.write("<<<", from, &msg);
        self.early.on_received(&msg);
        for h in msg.headers_mut().iter_mut() {
            match h {
                Header::WwwAuthenticate(a) => a.replace(incoming_algorithm(a.value())),
                Header::ProxyAuthenticate(a) => a.replace(incoming_algorithm(a.value())),
                _ => {}
            }
        }
        msg
    }
}
