//! Where the route to the server leaves from: the local address Contact,
//! Via and SDP name. The kernel's routing table answers it without a
//! datagram sent: a UDP socket connected to the server is given the source
//! address the route would use.
//!
//! One socket per address family serves the engine's whole life (the
//! keep-alives ask every period). Each probe connects it, reads its local
//! address and dissolves the association (a connect to `AF_UNSPEC`). The
//! dissolving is what keeps the answer fresh: Linux fixes a UDP socket's
//! source address at its first connect and keeps it through later ones
//! (`__ip4_datagram_connect` and its IPv6 twin only fill an unset source),
//! so a socket connected again would go on naming the old address after
//! the network changed, or fail with EINVAL once that address no longer
//! reaches the server. Seen on Linux 6.18: connected to 127.0.0.1, then to
//! 198.51.100.7, a socket stays at 127.0.0.1 and the second connect fails;
//! with a connect to `AF_UNSPEC` between the two it reports the outgoing
//! interface's address, as a fresh socket does. IPv6 is worse: connected
//! to ::1, then to an on-link fd00::7, the second connect succeeds and the
//! socket still says ::1. The disconnect also
//! releases the ephemeral port the connect took, since the socket is bound
//! to no address or port of its own.
//!
//! What a new address means (register again) is `Registration::local_address`'s.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

pub(super) struct RouteProbe {
    v4: Option<UdpSocket>,
    /// `None` where the host has no IPv6.
    v6: Option<UdpSocket>,
}

impl RouteProbe {
    pub(super) fn new() -> Self {
        Self {
            v4: open(Ipv4Addr::UNSPECIFIED.into()),
            v6: open(Ipv6Addr::UNSPECIFIED.into()),
        }
    }

    /// The local address a datagram to `target` would leave from; `None`
    /// when no route leads there.
    pub(super) fn source_for(&self, target: SocketAddr) -> Option<IpAddr> {
        let socket = match target {
            SocketAddr::V4(_) => self.v4.as_ref(),
            SocketAddr::V6(_) => self.v6.as_ref(),
        }?;
        let source = socket
            .connect(target)
            .and_then(|()| socket.local_addr())
            .map(|a| a.ip());
        dissolve(socket);
        source.ok()
    }
}

/// A UDP socket of `any`'s family, holding no address or port.
fn open(any: IpAddr) -> Option<UdpSocket> {
    let socket = UdpSocket::bind((any, 0)).ok()?;
    dissolve(&socket);
    Some(socket)
}

/// Forgets the socket's peer, source address and port. BSDs report an
/// error even when the disconnect worked, and a failed connect leaves the
/// socket as it was, so the result says nothing useful.
fn dissolve(socket: &UdpSocket) {
    let _ = rustix::net::connect_unspec(socket);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a socket made for this one question answers.
    fn fresh(target: SocketAddr) -> Option<IpAddr> {
        let any: IpAddr = match target {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let socket = UdpSocket::bind((any, 0)).ok()?;
        socket.connect(target).ok()?;
        socket.local_addr().ok().map(|a| a.ip())
    }

    /// Connects send nothing, so the documentation ranges are safe
    /// targets; where the host has no route to them both answers are
    /// `None`. On a host with a default route, loopback first and then an
    /// outside address is the case a socket merely connected again gets
    /// wrong (it keeps 127.0.0.1).
    #[test]
    fn the_kept_sockets_answer_as_a_fresh_socket_would_each_time() {
        let probe = RouteProbe::new();
        let targets = [
            "127.0.0.1:5060",
            "198.51.100.7:5060",
            "127.0.0.1:5060",
            "198.51.100.7:5060",
            "[::1]:5060",
            "[2001:db8::7]:5060",
            "[::1]:5060",
        ];
        for t in targets {
            let target: SocketAddr = t.parse().unwrap();
            assert_eq!(probe.source_for(target), fresh(target), "towards {t}");
        }
    }

    #[test]
    fn loopback_is_reached_from_loopback_in_either_family() {
        let probe = RouteProbe::new();
        let v4: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        assert_eq!(probe.source_for(v4), Some(IpAddr::from([127, 0, 0, 1])));
        let v6: SocketAddr = "[::1]:5060".parse().unwrap();
        if fresh(v6).is_some() {
            assert_eq!(probe.source_for(v6), Some(Ipv6Addr::LOCALHOST.into()));
        }
    }

    /// Between probes the socket holds no port.
    #[test]
    fn a_probe_leaves_the_socket_unbound() {
        let probe = RouteProbe::new();
        probe.source_for("127.0.0.1:5060".parse().unwrap());
        let v4 = probe.v4.as_ref().unwrap();
        assert_eq!(v4.local_addr().unwrap().port(), 0);
        assert!(v4.peer_addr().is_err(), "not connected");
    }
}
