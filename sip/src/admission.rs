//! Who may talk to the seat, as a sans-IO policy.
//!
//! A softphone that answers anyone who reaches its SIP port hands the
//! agent's microphone to whoever asks. So requests are taken only from the
//! servers the page configured (the registrar and the pool, resolved; on
//! TCP/TLS only over connections we opened to them) and from the addresses
//! the host's config lets in (`[sip] accept_from`). Anything else is dropped
//! without an answer (a 4xx would tell a scanner a phone is there), counted,
//! and noted in the log at most once a minute per source address.
//!
//! A request inside a dialog we have (Call-ID and both tags match) is taken
//! from wherever it comes: a proxy that does not record-route leaves the
//! peer's BYE to come straight from the peer, and a stranger cannot guess
//! the tags.
//!
//! Only the configured servers may ask for a call to be answered by itself
//! (`Call-Info: …;answer-after`, `Alert-Info`): [`Trust::Server`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ipnet::IpNet;

/// A dropped source is noted in the log at most this often.
pub const NOTE_EVERY: Duration = Duration::from_secs(60);

/// How many sources the note limiter remembers; beyond this (a scan from
/// many addresses) drops are still counted but not noted one by one.
const MAX_NOTED_SOURCES: usize = 4096;

/// `[sip] accept_from`: addresses and CIDR ranges let in besides the
/// configured servers, or every address (`"any"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptFrom {
    any: bool,
    nets: Vec<IpNet>,
}

impl AcceptFrom {
    /// `["192.168.1.0/24", "10.0.0.5", "::1"]`, or `["any"]`.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut out = Self::default();
        for entry in entries {
            let text = entry.as_ref().trim();
            if text.eq_ignore_ascii_case("any") {
                out.any = true;
            } else if let Ok(net) = text.parse::<IpNet>() {
                out.nets.push(net.trunc());
            } else if let Ok(ip) = text.parse::<IpAddr>() {
                out.nets.push(IpNet::from(ip));
            } else {
                return Err(format!(
                    "[sip] accept_from: {text:?} is not an address, a CIDR range (10.0.0.0/8) or \"any\""
                ));
            }
        }
        Ok(out)
    }

    /// Every address.
    pub fn any() -> Self {
        Self {
            any: true,
            nets: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.any && self.nets.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.any || self.nets.iter().any(|n| n.contains(&ip))
    }
}

/// How a request reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// A UDP datagram.
    Datagram,
    /// A TCP/TLS connection we opened.
    Opened,
    /// A TCP connection someone opened to our port.
    Accepted,
}

/// The source of a request, as the transport saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub addr: SocketAddr,
    pub link: Link,
}

/// What a source may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// A configured server: may also ask for auto-answer.
    Server,
    /// Let in by `[sip] accept_from`.
    Allowed,
    /// Anyone else.
    Stranger,
}

impl Trust {
    /// Whether a caller of this trust may have its call answered by itself
    /// (`answer-after`) when the page enabled that or not
    /// (`call.platform_auto_answer`); `Err` says why not, for the log.
    pub fn may_auto_answer(self, page_enabled: bool) -> Result<(), &'static str> {
        match self {
            _ if !page_enabled => Err("the page has not enabled call.platform_auto_answer"),
            Trust::Server => Ok(()),
            Trust::Allowed | Trust::Stranger => {
                Err("only a configured SIP server may ask for that")
            }
        }
    }
}

/// The fate of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admit(Trust),
    /// Dropped without an answer; `Some` when the log should say so now.
    Drop(Option<DropNote>),
}

/// A log line about dropped requests from one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropNote {
    pub source: SocketAddr,
    /// Requests dropped from this address since the last note, not counting
    /// this one.
    pub unnoted: u64,
}

/// One configured server: its name as the page gave it, and the addresses
/// it resolved to (none yet while a name is being resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Server {
    host: String,
    port: u16,
    addrs: Vec<SocketAddr>,
}

#[derive(Debug, Clone, Copy)]
struct Noted {
    at: Instant,
    unnoted: u64,
}

#[derive(Debug, Default)]
pub struct Admission {
    accept_from: AcceptFrom,
    servers: Vec<Server>,
    dropped: u64,
    noted: HashMap<IpAddr, Noted>,
}

impl Admission {
    pub fn new(accept_from: AcceptFrom) -> Self {
        Self {
            accept_from,
            ..Self::default()
        }
    }

    /// The servers the page configured, `(host, port)`. Literal addresses
    /// count at once; the names returned need resolving (then [`Self::resolved`]).
    pub fn set_servers(&mut self, servers: &[(String, u16)]) -> Vec<(String, u16)> {
        let mut names = Vec::new();
        self.servers = servers
            .iter()
            .map(|(host, port)| {
                let addrs = match host.parse::<IpAddr>() {
                    Ok(ip) => vec![SocketAddr::new(ip.to_canonical(), *port)],
                    Err(_) => {
                        names.push((host.clone(), *port));
                        Vec::new()
                    }
                };
                Server {
                    host: host.clone(),
                    port: *port,
                    addrs,
                }
            })
            .collect();
        names
    }

    /// A server name resolved; ignored when that server is no longer configured.
    pub fn resolved(&mut self, host: &str, port: u16, addrs: &[SocketAddr]) {
        for s in self
            .servers
            .iter_mut()
            .filter(|s| s.host == host && s.port == port)
        {
            s.addrs = addrs
                .iter()
                .map(|a| SocketAddr::new(a.ip().to_canonical(), a.port()))
                .collect();
        }
    }

    /// Where the configured server `host:port` is: its address, or the
    /// first its name resolved to (the resolver's preferred one); `None`
    /// for a name not resolved yet.
    pub fn address_of(&self, host: &str, port: u16) -> Option<SocketAddr> {
        self.servers
            .iter()
            .find(|s| s.host == host && s.port == port)
            .and_then(|s| s.addrs.first().copied())
    }

    /// What a request from `origin` may do.
    pub fn trust(&self, origin: &Origin) -> Trust {
        let addr = SocketAddr::new(origin.addr.ip().to_canonical(), origin.addr.port());
        let server = self.servers.iter().any(|s| s.addrs.contains(&addr));
        // A server reached over TCP/TLS speaks on the connection we opened;
        // a connection opened to us is not the server's, whatever its port.
        if server && origin.link != Link::Accepted {
            Trust::Server
        } else if self.accept_from.contains(addr.ip()) {
            Trust::Allowed
        } else {
            Trust::Stranger
        }
    }

    /// Decides on one incoming request. `in_dialog`: it names a dialog we
    /// have, Call-ID and both tags.
    pub fn admit(&mut self, now: Instant, origin: &Origin, in_dialog: bool) -> Verdict {
        match self.trust(origin) {
            Trust::Stranger if in_dialog => Verdict::Admit(Trust::Stranger),
            Trust::Stranger => {
                self.dropped += 1;
                Verdict::Drop(self.note(now, origin.addr))
            }
            trust => Verdict::Admit(trust),
        }
    }

    /// Requests dropped since start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn note(&mut self, now: Instant, source: SocketAddr) -> Option<DropNote> {
        let ip = source.ip().to_canonical();
        if let Some(n) = self.noted.get_mut(&ip) {
            if now.saturating_duration_since(n.at) < NOTE_EVERY {
                n.unnoted += 1;
                return None;
            }
            let unnoted = std::mem::take(&mut n.unnoted);
            n.at = now;
            return Some(DropNote { source, unnoted });
        }
        if self.noted.len() >= MAX_NOTED_SOURCES {
            self.noted
                .retain(|_, n| now.saturating_duration_since(n.at) < NOTE_EVERY);
            if self.noted.len() >= MAX_NOTED_SOURCES {
                return None;
            }
        }
        self.noted.insert(
            ip,
            Noted {
                at: now,
                unnoted: 0,
            },
        );
        Some(DropNote { source, unnoted: 0 })
    }
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
