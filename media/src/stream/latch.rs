//! Where to send to, when the peer's packets come from somewhere else than
//! its SDP says (symmetric RTP, RFC 4961: a peer behind NAT).

use std::net::SocketAddr;

/// One destination (RTP or RTCP) and what was heard from where.
#[derive(Debug, Clone)]
pub(super) struct Latch {
    /// What the peer's SDP says.
    signalled: SocketAddr,
    /// Where we send now.
    pub(super) current: SocketAddr,
    /// Valid media came from the signalled address: others are refused.
    heard_signalled: bool,
}

/// What to do with a packet from some address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Accept,
    /// Accepted, and we send there from now on.
    Moved,
    Refuse,
}

impl Latch {
    pub(super) fn new(signalled: SocketAddr) -> Self {
        Self {
            signalled,
            current: signalled,
            heard_signalled: false,
        }
    }

    /// New SDP from the peer: a new address starts over.
    pub(super) fn signal(&mut self, signalled: SocketAddr) {
        if signalled != self.signalled {
            *self = Self::new(signalled);
        }
    }

    /// A packet from `from`; `valid`: it authenticated (SRTP) and carries a
    /// negotiated payload. The signalled address always wins; until valid
    /// media comes from it, we follow where valid media comes from.
    pub(super) fn packet(&mut self, from: SocketAddr, valid: bool) -> Verdict {
        let moved = |l: &mut Self| {
            let was = std::mem::replace(&mut l.current, from);
            if was == from {
                Verdict::Accept
            } else {
                Verdict::Moved
            }
        };
        if from == self.signalled {
            self.heard_signalled |= valid;
            moved(self)
        } else if self.heard_signalled || !valid {
            Verdict::Refuse
        } else {
            moved(self)
        }
    }
}
