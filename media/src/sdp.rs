//! One SDP media section (`m=` line, its `c=` line and attributes), parsed
//! from and written to CRLF text, as the host and plugins exchange them.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::srtp::Crypto;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// What we answer to a peer that offers `self`.
    pub fn reversed(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// `a=rtpmap:<pt> <name>/<clock>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub name: String,
    pub clock_rate: u32,
    pub channels: u8,
}

impl RtpMap {
    pub fn new(payload_type: u8, name: &str, clock_rate: u32, channels: u8) -> Self {
        Self {
            payload_type,
            name: name.into(),
            clock_rate,
            channels,
        }
    }

    /// The static payload types RFC 3551 defines, which need no rtpmap.
    pub fn static_type(payload_type: u8) -> Option<Self> {
        let (name, clock) = match payload_type {
            0 => ("PCMU", 8000),
            3 => ("GSM", 8000),
            8 => ("PCMA", 8000),
            9 => ("G722", 8000),
            13 => ("CN", 8000),
            18 => ("G729", 8000),
            _ => return None,
        };
        Some(Self::new(payload_type, name, clock, 1))
    }

    fn parse(value: &str) -> Option<Self> {
        let (pt, rest) = value.split_once(' ')?;
        let mut it = rest.trim().split('/');
        let name = it.next()?.to_owned();
        let clock_rate = it.next()?.parse().ok()?;
        let channels = match it.next() {
            // Zero channels is no format; written back it would read as one.
            Some(c) => c.parse().ok().filter(|c| *c > 0)?,
            None => 1,
        };
        Some(Self {
            payload_type: pt.parse().ok()?,
            name,
            clock_rate,
            channels,
        })
    }

    pub fn is(&self, name: &str, clock_rate: u32) -> bool {
        self.name.eq_ignore_ascii_case(name) && self.clock_rate == clock_rate
    }
}

/// A media section, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSection {
    pub media: String,
    pub port: u16,
    pub proto: String,
    /// Payload types in the order of the `m=` line (the sender's preference).
    pub formats: Vec<u8>,
    /// The `c=` address; 0.0.0.0 means on hold (RFC 2543 style).
    pub address: Option<IpAddr>,
    pub rtpmaps: Vec<RtpMap>,
    pub fmtps: Vec<(u8, String)>,
    pub direction: Direction,
    pub crypto: Vec<Crypto>,
    pub ptime: Option<u32>,
    /// `a=rtcp:<port>`.
    pub rtcp_port: Option<u16>,
    pub rtcp_mux: bool,
    /// Attributes kept as they were (`a=` stripped).
    pub other: Vec<String>,
}

impl MediaSection {
    pub fn new(media: &str, port: u16, proto: &str, address: IpAddr) -> Self {
        Self {
            media: media.into(),
            port,
            proto: proto.into(),
            formats: Vec::new(),
            address: Some(address),
            rtpmaps: Vec::new(),
            fmtps: Vec::new(),
            direction: Direction::SendRecv,
            crypto: Vec::new(),
            ptime: None,
            rtcp_port: None,
            rtcp_mux: false,
            other: Vec::new(),
        }
    }

    /// Adds a payload type with its rtpmap (and fmtp, when given).
    pub fn add_format(&mut self, map: RtpMap, fmtp: Option<&str>) {
        self.formats.push(map.payload_type);
        if let Some(f) = fmtp {
            self.fmtps.push((map.payload_type, f.to_owned()));
        }
        self.rtpmaps.push(map);
    }

    /// The rtpmap of a payload type, falling back to the static table.
    pub fn rtpmap(&self, payload_type: u8) -> Option<RtpMap> {
        self.rtpmaps
            .iter()
            .find(|m| m.payload_type == payload_type)
            .cloned()
            .or_else(|| RtpMap::static_type(payload_type))
    }

    pub fn fmtp(&self, payload_type: u8) -> Option<&str> {
        self.fmtps
            .iter()
            .find(|(pt, _)| *pt == payload_type)
            .map(|(_, f)| f.as_str())
    }

    /// The payload type of `telephone-event/<clock>`, if offered.
    pub fn telephone_event(&self, clock_rate: u32) -> Option<u8> {
        self.formats.iter().copied().find(|pt| {
            self.rtpmap(*pt)
                .is_some_and(|m| m.is("telephone-event", clock_rate))
        })
    }

    pub fn is_secure_proto(&self) -> bool {
        self.proto.contains("SAVP")
    }

    /// On hold by address (`c=IN IP4 0.0.0.0`) or port 0 (rejected).
    pub fn is_silent(&self) -> bool {
        self.port == 0 || self.address.is_some_and(|a| a.is_unspecified())
    }

    /// Parses one section; a session-level part before `m=` is ignored
    /// except for its `c=` line, which applies when the section has none.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut section: Option<MediaSection> = None;
        let mut session_address = None;
        for raw in text.lines() {
            let line = raw.trim_end_matches('\r').trim();
            if line.is_empty() {
                continue;
            }
            let (kind, value) = line
                .split_once('=')
                .ok_or_else(|| format!("SDP: not a line: {line:.60}"))?;
            match (kind, section.as_mut()) {
                ("m", None) => section = Some(parse_m_line(value)?),
                ("m", Some(_)) => return Err("SDP: more than one m= line".into()),
                ("c", None) => session_address = Some(parse_c_line(value)?),
                ("c", Some(s)) => s.address = Some(parse_c_line(value)?),
                ("a", Some(s)) => s.attribute(value)?,
                _ => {}
            }
        }
        let mut s = section.ok_or("SDP: no m= line")?;
        if s.address.is_none() {
            s.address = session_address;
        }
        Ok(s)
    }

    fn attribute(&mut self, value: &str) -> Result<(), String> {
        let (name, arg) = match value.split_once(':') {
            Some((n, a)) => (n, Some(a.trim())),
            None => (value, None),
        };
        match (name, arg) {
            ("rtpmap", Some(a)) => match RtpMap::parse(a) {
                Some(m) => self.rtpmaps.push(m),
                None => return Err(format!("SDP: bad rtpmap {a:.60}")),
            },
            ("fmtp", Some(a)) => {
                if let Some((pt, params)) = a.split_once(' ') {
                    if let Ok(pt) = pt.parse() {
                        self.fmtps.push((pt, params.trim().to_owned()));
                    }
                }
            }
            ("sendrecv", None) => self.direction = Direction::SendRecv,
            ("sendonly", None) => self.direction = Direction::SendOnly,
            ("recvonly", None) => self.direction = Direction::RecvOnly,
            ("inactive", None) => self.direction = Direction::Inactive,
            // A suite we do not know is skipped: the peer may offer several.
            ("crypto", Some(a)) => {
                if let Ok(c) = Crypto::parse(a) {
                    self.crypto.push(c);
                }
            }
            ("ptime", Some(a)) => self.ptime = a.parse().ok(),
            ("rtcp", Some(a)) => {
                self.rtcp_port = a.split_whitespace().next().and_then(|p| p.parse().ok())
            }
            ("rtcp-mux", None) => self.rtcp_mux = true,
            _ => self.other.push(value.to_owned()),
        }
        Ok(())
    }

    /// The section as CRLF lines.
    pub fn to_sdp(&self) -> String {
        let mut out = String::new();
        let fmts: Vec<String> = self.formats.iter().map(u8::to_string).collect();
        let _ = write!(
            out,
            "m={} {} {} {}\r\n",
            self.media,
            self.port,
            self.proto,
            fmts.join(" ")
        );
        if let Some(addr) = self.address {
            let ver = if addr.is_ipv4() { "IP4" } else { "IP6" };
            let _ = write!(out, "c=IN {ver} {addr}\r\n");
        }
        for pt in &self.formats {
            if let Some(m) = self.rtpmaps.iter().find(|m| m.payload_type == *pt) {
                let _ = write!(
                    out,
                    "a=rtpmap:{} {}/{}",
                    m.payload_type, m.name, m.clock_rate
                );
                if m.channels > 1 {
                    let _ = write!(out, "/{}", m.channels);
                }
                out.push_str("\r\n");
            }
            if let Some(f) = self.fmtp(*pt) {
                let _ = write!(out, "a=fmtp:{pt} {f}\r\n");
            }
        }
        if let Some(p) = self.rtcp_port {
            let _ = write!(out, "a=rtcp:{p}\r\n");
        }
        if self.rtcp_mux {
            out.push_str("a=rtcp-mux\r\n");
        }
        for c in &self.crypto {
            let _ = write!(out, "a=crypto:{}\r\n", c.attribute_value());
        }
        if let Some(p) = self.ptime {
            let _ = write!(out, "a=ptime:{p}\r\n");
        }
        for a in &self.other {
            let _ = write!(out, "a={a}\r\n");
        }
        let _ = write!(out, "a={}\r\n", self.direction.attribute());
        out
    }
}

fn parse_m_line(value: &str) -> Result<MediaSection, String> {
    let mut it = value.split_whitespace();
    let media = it.next().ok_or("SDP: empty m= line")?;
    let port_field = it.next().ok_or("SDP: m= line without port")?;
    // `port/count` is allowed; we use the first port.
    let port = port_field
        .split('/')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(|| format!("SDP: bad port {port_field:.20}"))?;
    let proto = it.next().ok_or("SDP: m= line without protocol")?;
    let formats: Vec<u8> = it.filter_map(|f| f.parse().ok()).collect();
    let mut s = MediaSection::new(media, port, proto, IpAddr::from([0, 0, 0, 0]));
    s.address = None;
    s.formats = formats;
    Ok(s)
}

fn parse_c_line(value: &str) -> Result<IpAddr, String> {
    let mut it = value.split_whitespace();
    let (net, _ver, addr) = (it.next(), it.next(), it.next());
    if net != Some("IN") {
        return Err(format!("SDP: bad c= line {value:.60}"));
    }
    let addr = addr.ok_or("SDP: c= line without address")?;
    // Multicast TTL suffix (`/127`) is dropped.
    let addr = addr.split('/').next().unwrap_or(addr);
    addr.parse()
        .map_err(|_| format!("SDP: c= address {addr:.40} is not an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BARESIP: &str = "m=audio 10112 RTP/AVP 96 9 0 8 101\r\n\
        c=IN IP4 127.0.0.1\r\n\
        b=AS:128\r\n\
        a=rtpmap:96 opus/48000/2\r\n\
        a=fmtp:96 stereo=1;sprop-stereo=1;useinbandfec=1\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-15\r\n\
        a=rtcp:10113\r\n\
        a=sendrecv\r\n\
        a=label:1\r\n\
        a=ssrc:123 cname:x\r\n";

    #[test]
    fn parses_a_real_peer_section() {
        let s = MediaSection::parse(BARESIP).unwrap();
        assert_eq!(s.media, "audio");
        assert_eq!(s.port, 10112);
        assert_eq!(s.formats, vec![96, 9, 0, 8, 101]);
        assert_eq!(s.address, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(s.rtpmap(96).unwrap(), RtpMap::new(96, "opus", 48000, 2));
        assert_eq!(s.rtpmap(9).unwrap().name, "G722");
        assert_eq!(s.fmtp(96), Some("stereo=1;sprop-stereo=1;useinbandfec=1"));
        assert_eq!(s.telephone_event(8000), Some(101));
        assert_eq!(s.rtcp_port, Some(10113));
        assert_eq!(s.direction, Direction::SendRecv);
        assert!(s.other.contains(&"label:1".to_owned()));
        assert!(!s.is_silent());
    }

    #[test]
    fn builds_crlf_lines_and_reads_them_back() {
        let mut s = MediaSection::new("audio", 4000, "RTP/SAVP", "127.0.0.1".parse().unwrap());
        s.add_format(RtpMap::new(111, "opus", 48000, 2), Some("useinbandfec=1"));
        s.add_format(RtpMap::new(0, "PCMU", 8000, 1), None);
        s.add_format(RtpMap::new(100, "telephone-event", 8000, 1), Some("0-16"));
        s.crypto.push(crate::srtp::Crypto::generate(
            1,
            crate::srtp::Suite::AesCm128HmacSha1_80,
        ));
        s.ptime = Some(20);
        s.direction = Direction::SendOnly;
        let text = s.to_sdp();
        assert!(text.starts_with("m=audio 4000 RTP/SAVP 111 0 100\r\nc=IN IP4 127.0.0.1\r\n"));
        assert!(text.ends_with("a=sendonly\r\n"));
        assert!(text.split("\r\n").all(|l| !l.contains('\n')));
        assert_eq!(MediaSection::parse(&text).unwrap(), s);
    }

    #[test]
    fn hold_and_session_level_address() {
        let s =
            MediaSection::parse("c=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\na=inactive\r\n")
                .unwrap();
        assert_eq!(s.address, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(s.direction, Direction::Inactive);
        let s = MediaSection::parse("m=audio 5004 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n").unwrap();
        assert!(s.is_silent());
        assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
    }

    #[test]
    fn malformed_sections_are_errors() {
        for bad in [
            "",
            "v=0\r\n",
            "m=audio\r\n",
            "m=audio x RTP/AVP 0\r\n",
            "m=audio 70000 RTP/AVP 0\r\n",
            "m=audio 5 RTP/AVP 0\r\nc=IN IP4 999.1.1.1\r\n",
            "m=audio 5 RTP/AVP 0\r\nc=XX\r\n",
            "m=audio 5 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n",
            "m=audio 5 RTP/AVP 0\r\nm=video 6 RTP/AVP 96\r\n",
            "m=audio 5 RTP/AVP 0\r\ngarbage\r\n",
        ] {
            assert!(MediaSection::parse(bad).is_err(), "{bad:?}");
        }
        // Unknown crypto suites are skipped, not fatal.
        let s = MediaSection::parse(
            "m=audio 5 RTP/SAVP 0\r\na=crypto:1 F8_128_HMAC_SHA1_80 inline:x\r\n",
        )
        .unwrap();
        assert!(s.crypto.is_empty());
    }
}
