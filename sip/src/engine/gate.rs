//! The door of the SIP port: every request the transport reads passes the
//! [`Admission`] policy before rsipstack sees it, so a dropped request gets
//! no answer at all (not even the 481 rsipstack gives a stray CANCEL).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::DialogId;
use rsipstack::sip::{self as rsip, HeadersExt, SipMessage};
use rsipstack::transaction::endpoint::TransportEventInspector;
use rsipstack::transaction::key::TransactionRole;
use rsipstack::transport::{SipAddr, SipConnection, TransportEvent};

use crate::admission::{Admission, Link, Origin, Trust, Verdict};

/// Shared between the transport's inspector, the incoming loop and the
/// engine (which configures the servers).
pub type SharedAdmission = Arc<Mutex<Admission>>;

pub struct Gate {
    pub admission: SharedAdmission,
    /// Our TCP listener's address: a connection with this local address
    /// was opened to us.
    pub listener: SocketAddr,
    /// Set once the dialog layer exists (it is built on the endpoint that
    /// holds this gate; weak, so the two do not keep each other alive).
    pub dialogs: Arc<OnceLock<Weak<DialogLayer>>>,
}

#[async_trait::async_trait]
impl TransportEventInspector for Gate {
    async fn handle(&self, event: TransportEvent) -> Option<TransportEvent> {
        let TransportEvent::Incoming(SipMessage::Request(req), connection, from) = &event else {
            return Some(event);
        };
        let origin = origin(connection, from, self.listener)?;
        let in_dialog = self.names_our_dialog(req);
        let verdict = self
            .admission
            .lock()
            .ok()?
            .admit(Instant::now(), &origin, in_dialog);
        match verdict {
            Verdict::Admit(_) => Some(event),
            Verdict::Drop(note) => {
                if let Some(n) = note {
                    let more = if n.unnoted > 0 {
                        format!(
                            " ({} more from this address since the last note)",
                            n.unnoted
                        )
                    } else {
                        String::new()
                    };
                    tracing::warn!(
                        "dropped a SIP {} from {}: not a configured server and not in [sip] accept_from{more}; \
                         further drops from this address are noted once a minute",
                        req.method,
                        n.source
                    );
                }
                None
            }
        }
    }
}

impl Gate {
    /// The request's Call-ID and both tags name a dialog we have.
    fn names_our_dialog(&self, req: &rsip::Request) -> bool {
        let has_to_tag = req
            .to_header()
            .ok()
            .and_then(|t| t.tag().ok().flatten())
            .is_some();
        if !has_to_tag {
            return false;
        }
        let Some(dialogs) = self.dialogs.get().and_then(Weak::upgrade) else {
            return false;
        };
        DialogId::try_from((req, TransactionRole::Server))
            .ok()
            .and_then(|id| dialogs.get_dialog(&id))
            .is_some()
    }
}

/// Where a request came from and over what. `None` for a transport we do
/// not run (then the request is dropped).
pub fn origin(connection: &SipConnection, from: &SipAddr, listener: SocketAddr) -> Option<Origin> {
    let addr = from.get_socketaddr().ok()?;
    let link = match connection {
        SipConnection::Udp(_) => Link::Datagram,
        SipConnection::Tcp(_) | SipConnection::Tls(_) => {
            let local = connection.get_addr().get_socketaddr().ok()?;
            if local == listener {
                Link::Accepted
            } else {
                Link::Opened
            }
        }
        _ => return None,
    };
    Some(Origin { addr, link })
}

/// What the source of a transaction's request may do (the INVITE of a new
/// call: only a server may ask for it to be auto-answered).
pub fn trust_of(
    admission: &SharedAdmission,
    connection: Option<&SipConnection>,
    listener: SocketAddr,
) -> Trust {
    let origin = connection.and_then(|c| {
        let from = c.get_remote_addr()?;
        origin(c, from, listener)
    });
    match (origin, admission.lock()) {
        (Some(o), Ok(a)) => a.trust(&o),
        _ => Trust::Stranger,
    }
}
