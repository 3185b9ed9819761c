//! Where our requests go: the registrar a REGISTER names and the outbound
//! proxy it is sent to, the domain of our address of record, and the
//! Request-URI of a call. The driver builds the messages from these.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use rsipstack::sip as rsip;
use rsipstack::transport::SipAddr;

use crate::params::{Server, Transport};

/// Where a REGISTER goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRoute {
    /// Named in the Request-URI (RFC 3261 §10.2: the registrar's domain).
    pub registrar: Server,
    /// Where it is sent instead of the registrar's address, if anywhere.
    pub outbound_proxy: Option<SocketAddr>,
}

/// An AOR in a domain of its own (`aor_domain`) registers with that
/// domain as registrar, through the configured server as outbound proxy
/// (RFC 3261 §8.1.2). rsipstack takes the proxy as a socket address, so
/// only a server given as a literal address can be one; otherwise (and
/// without a domain) the server is the registrar.
pub fn register(server: &Server, aor_domain: Option<&str>) -> RegisterRoute {
    match (aor_domain, server_addr(server)) {
        (Some(domain), Some(proxy)) => RegisterRoute {
            registrar: Server {
                host: domain.to_owned(),
                port: server.port,
            },
            outbound_proxy: Some(proxy),
        },
        _ => RegisterRoute {
            registrar: server.clone(),
            outbound_proxy: None,
        },
    }
}

/// The domain of our address of record (From, and a callee given without
/// one): the login's, else the server's `host:port`.
pub fn aor_domain(server: &Server, login_domain: Option<&str>) -> String {
    login_domain
        .map(str::to_owned)
        .unwrap_or_else(|| server.to_string())
}

/// Whether `asked` (the domain of a number the page sent) is the domain
/// of our address of record: the login's when it has one (any case),
/// else the server we use now, named by host or `host:port` (an IPv6
/// host with or without brackets).
pub fn is_aor_domain(asked: &str, server: &Server, login_domain: Option<&str>) -> bool {
    if let Some(domain) = login_domain {
        return asked.eq_ignore_ascii_case(domain);
    }
    let bare = asked
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(asked);
    bare.eq_ignore_ascii_case(&server.host) || asked.eq_ignore_ascii_case(&server.to_string())
}

/// A call's Request-URI: a callee that names its host as given, a number
/// at our domain.
pub fn callee_uri(callee: &str, domain: &str) -> String {
    if callee.contains('@') {
        format!("sip:{callee}")
    } else {
        format!("sip:{callee}@{domain}")
    }
}

/// Who our call says it is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The From URI.
    pub uri: String,
    pub display_name: Option<String>,
    /// Headers the INVITE carries for it, (name, value).
    pub headers: Vec<(&'static str, String)>,
}

/// `user` at `domain`, or, for an anonymous call, the anonymous From of
/// RFC 3323 §4.1.1.3 with `Privacy: id` and our identity in
/// `P-Preferred-Identity` for the proxy that asserts it (RFC 3325 §9.2,
/// §9.3): the callee sees neither.
pub fn caller(user: &str, domain: &str, anonymous: bool) -> Caller {
    let ours = format!("sip:{user}@{domain}");
    if !anonymous {
        return Caller {
            uri: ours,
            display_name: None,
            headers: Vec::new(),
        };
    }
    Caller {
        uri: "sip:anonymous@anonymous.invalid".into(),
        display_name: Some("Anonymous".into()),
        headers: vec![
            ("Privacy", "id".into()),
            ("P-Preferred-Identity", format!("<{ours}>")),
        ],
    }
}

/// The server as a socket address when it is given as one (an IPv6 host
/// in brackets); `None` for a name.
pub fn server_addr(server: &Server) -> Option<SocketAddr> {
    server.to_string().parse().ok()
}

/// The address we signal from when no route to the server is known (no
/// server, a name not yet resolved, or no route): loopback, of the
/// server's family, so an IPv6 server is never named an IPv4 Contact.
pub fn unrouted(server: Option<SocketAddr>) -> IpAddr {
    match server {
        Some(SocketAddr::V6(_)) => Ipv6Addr::LOCALHOST.into(),
        _ => Ipv4Addr::LOCALHOST.into(),
    }
}

/// Where a request to `server` over `transport` is sent: the server's
/// address when it is given as one; `None` lets the stack resolve the
/// Request-URI.
pub fn destination(server: &Server, transport: Transport) -> Option<SipAddr> {
    server_addr(server).map(|addr| SipAddr {
        r#type: Some(sip_transport(transport)),
        addr: addr.into(),
    })
}

/// `sip:host:port` (with `;transport=` for TCP/TLS).
pub fn server_uri(server: &Server, transport: Transport, user: Option<&str>) -> Option<rsip::Uri> {
    let host = if server.host.contains(':') {
        format!("[{}]", server.host)
    } else {
        server.host.clone()
    };
    let user = user.map(|u| format!("{u}@")).unwrap_or_default();
    let (scheme, param) = match transport {
        Transport::Udp => ("sip", ""),
        Transport::Tcp => ("sip", ";transport=tcp"),
        Transport::Tls => ("sips", ";transport=tls"),
    };
    rsip::Uri::try_from(format!("{scheme}:{user}{host}:{}{param}", server.port).as_str()).ok()
}

/// rsipstack's name of our transport.
pub fn sip_transport(transport: Transport) -> rsip::Transport {
    match transport {
        Transport::Udp => rsip::Transport::Udp,
        Transport::Tcp => rsip::Transport::Tcp,
        Transport::Tls => rsip::Transport::Tls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &str, port: u16) -> Server {
        Server {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn an_aor_in_its_own_domain_registers_through_the_server_as_proxy() {
        let ip = server("127.0.0.1", 5070);
        let own = register(&ip, Some("example.org"));
        assert_eq!(own.registrar, server("example.org", 5070));
        assert_eq!(own.outbound_proxy, Some("127.0.0.1:5070".parse().unwrap()));
        let plain = register(&ip, None);
        assert_eq!(plain.registrar, ip);
        assert_eq!(plain.outbound_proxy, None);
        // A server name cannot be rsipstack's proxy: the server registers.
        let named = server("sip.example.net", 5060);
        let by_name = register(&named, Some("example.org"));
        assert_eq!(by_name.registrar, named);
        assert_eq!(by_name.outbound_proxy, None);
        let v6 = register(&server("::1", 5060), Some("example.org"));
        assert_eq!(v6.outbound_proxy, Some("[::1]:5060".parse().unwrap()));
    }

    #[test]
    fn a_callee_without_a_host_is_at_our_domain() {
        let s = server("127.0.0.1", 5060);
        assert_eq!(aor_domain(&s, None), "127.0.0.1:5060");
        assert_eq!(aor_domain(&s, Some("example.org")), "example.org");
        assert_eq!(callee_uri("1002", "example.org"), "sip:1002@example.org");
        assert_eq!(
            callee_uri("bob@other.net", "example.org"),
            "sip:bob@other.net"
        );
    }

    #[test]
    fn our_domain_is_the_logins_else_the_server_in_use() {
        let s = server("127.0.0.1", 5060);
        assert!(is_aor_domain("127.0.0.1", &s, None));
        assert!(is_aor_domain("127.0.0.1:5060", &s, None));
        assert!(!is_aor_domain("127.0.0.1:5070", &s, None));
        assert!(!is_aor_domain("127.0.0.2", &s, None));
        let named = server("PBX.example.org", 5060);
        assert!(is_aor_domain("pbx.EXAMPLE.org", &named, None));
        let v6 = server("::1", 5060);
        assert!(is_aor_domain("::1", &v6, None));
        assert!(is_aor_domain("[::1]", &v6, None));
        assert!(is_aor_domain("[::1]:5060", &v6, None));
        // A login's domain is the only one: not the server's.
        assert!(is_aor_domain("Example.org", &s, Some("example.org")));
        assert!(!is_aor_domain("127.0.0.1", &s, Some("example.org")));
    }

    #[test]
    fn an_anonymous_call_hides_the_caller_from_the_callee_only() {
        let named = caller("1001", "example.org", false);
        assert_eq!(named.uri, "sip:1001@example.org");
        assert_eq!((named.display_name, named.headers.len()), (None, 0));
        let anon = caller("1001", "example.org", true);
        assert_eq!(anon.uri, "sip:anonymous@anonymous.invalid");
        assert_eq!(anon.display_name.as_deref(), Some("Anonymous"));
        assert_eq!(
            anon.headers,
            [
                ("Privacy", "id".to_owned()),
                ("P-Preferred-Identity", "<sip:1001@example.org>".to_owned())
            ]
        );
    }

    #[test]
    fn server_uris_name_the_transport() {
        let s = server("::1", 5061);
        let uri = server_uri(&s, Transport::Tls, None).unwrap().to_string();
        assert_eq!(uri, "sips:[::1]:5061;transport=TLS");
        let udp = server_uri(&server("127.0.0.1", 5060), Transport::Udp, Some("1001"));
        assert_eq!(udp.unwrap().to_string(), "sip:1001@127.0.0.1:5060");
        assert_eq!(server_addr(&server("pbx.example.org", 5060)), None);
        // An IPv6 server is reached at its address, over the transport.
        let to = destination(&server("::1", 5060), Transport::Tcp).unwrap();
        assert_eq!(to.r#type, Some(rsip::Transport::Tcp));
        assert_eq!(to.get_socketaddr().unwrap(), "[::1]:5060".parse().unwrap());
        assert!(destination(&server("pbx.example.org", 5060), Transport::Udp).is_none());
    }

    #[test]
    fn without_a_route_we_are_loopback_of_the_servers_family() {
        let v6: SocketAddr = "[2001:db8::1]:5060".parse().unwrap();
        let v4: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        assert_eq!(unrouted(Some(v6)), Ipv6Addr::LOCALHOST);
        assert_eq!(unrouted(Some(v4)), Ipv4Addr::LOCALHOST);
        assert_eq!(unrouted(None), Ipv4Addr::LOCALHOST);
    }
}
