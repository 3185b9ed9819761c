//! The session SDP around the plugins' media sections.
//!
//! Plugins own their media sections whole (each with its own `c=` line); the
//! host only adds the session lines and splits a peer's SDP per `m=` line.
//! That is plain line work, so it is done here on text rather than through a
//! typed SDP model that would re-serialise (and possibly reorder) what the
//! plugins wrote.

/// The kind of a video section marked `a=content:slides` (RFC 4796): a
/// second video stream for screen content, which a plugin serves apart
/// from the camera's `video`.
pub const SLIDES: &str = "slides";

/// One `m=` section of a remote SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSection {
    /// `audio`, `video`, `application` … ([`kind_of`]: `slides` for screen
    /// content)
    pub kind: String,
    pub port: u16,
    /// The section's lines, CRLF-ended, with a `c=` line (the session-level
    /// one copied in when the section had none).
    pub text: String,
}

/// Builds a complete SDP from media sections.
pub fn session(local_ip: &str, session_id: u64, version: u64, sections: &[String]) -> String {
    let family = if local_ip.contains(':') { "IP6" } else { "IP4" };
    let mut sdp = format!(
        "v=0\r\no=seatphone {session_id} {version} IN {family} {local_ip}\r\ns=Seatphone\r\nc=IN {family} {local_ip}\r\nt=0 0\r\n"
    );
    for section in sections {
        for line in section.lines() {
            let line = line.trim_end_matches('\r');
            if !line.is_empty() {
                sdp.push_str(line);
                sdp.push_str("\r\n");
            }
        }
    }
    sdp
}

/// Splits an SDP into its media sections. `None` when it is not SDP at all.
pub fn split(sdp: &str) -> Option<Vec<RemoteSection>> {
    let mut session_c: Option<String> = None;
    let mut sections: Vec<(String, u16, Vec<String>)> = Vec::new();
    let mut saw_version = false;
    for raw in sdp.lines() {
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with("v=") {
            saw_version = true;
        }
        if let Some(m) = line.strip_prefix("m=") {
            let mut parts = m.split_whitespace();
            let kind = parts.next().unwrap_or("").to_owned();
            let port = parts
                .next()
                .and_then(|p| p.split('/').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            sections.push((kind, port, vec![line.to_owned()]));
        } else if let Some((_, _, lines)) = sections.last_mut() {
            lines.push(line.to_owned());
        } else if line.starts_with("c=") {
            session_c = Some(line.to_owned());
        }
    }
    if !saw_version {
        return None;
    }
    Some(
        sections
            .into_iter()
            .map(|(kind, port, mut lines)| {
                if !lines.iter().any(|l| l.starts_with("c=")) {
                    if let Some(c) = &session_c {
                        lines.insert(1, c.clone());
                    }
                }
                let mut text = lines.join("\r\n");
                text.push_str("\r\n");
                let kind = if is_slides(&text) {
                    SLIDES.to_owned()
                } else {
                    kind
                };
                RemoteSection { kind, port, text }
            })
            .collect(),
    )
}

/// The answer line that refuses a section (RFC 3264 §6: port 0, same format).
pub fn refuse(section: &RemoteSection) -> String {
    disabled(&section.text)
}

/// A section's `m=` line with port 0 and nothing else (but its
/// `a=content:slides`, so the place is known as the slides' when the
/// stream comes back): a stream refused, or removed from a session (RFC
/// 3264 §8.2), that keeps its place.
pub fn disabled(section: &str) -> String {
    let first = section.lines().next().unwrap_or("");
    let mut parts = first.trim_start_matches("m=").split_whitespace();
    let kind = parts.next().unwrap_or("audio");
    let _port = parts.next();
    let proto = parts.next().unwrap_or("RTP/AVP");
    let fmt = parts.next().unwrap_or("0");
    let content = if is_slides(section) {
        "a=content:slides\r\n"
    } else {
        ""
    };
    format!("m={kind} 0 {proto} {fmt}\r\n{content}")
}

/// The media kind of a section (`audio` of `m=audio 4000 RTP/AVP 0`), and
/// [`SLIDES`] for a video section marked `a=content:slides`.
pub fn kind_of(section: &str) -> &str {
    let first = section.lines().next().unwrap_or("");
    let kind = first
        .trim_start_matches("m=")
        .split_whitespace()
        .next()
        .unwrap_or("");
    if kind == "video" && is_slides(section) {
        SLIDES
    } else {
        kind
    }
}

/// Whether a video section carries screen content (RFC 4796 `a=content`,
/// whose value is a list: `a=content:slides,main` counts).
fn is_slides(section: &str) -> bool {
    section.starts_with("m=video")
        && section.lines().any(|l| {
            l.trim()
                .strip_prefix("a=content:")
                .is_some_and(|v| v.split(',').any(|c| c.trim() == "slides"))
        })
}

/// Media direction of a section, as the peer means it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn attr(self) -> &'static str {
        match self {
            Self::SendRecv => "a=sendrecv",
            Self::SendOnly => "a=sendonly",
            Self::RecvOnly => "a=recvonly",
            Self::Inactive => "a=inactive",
        }
    }
}

/// A section's direction; `c=IN IP4 0.0.0.0` (RFC 2543 hold) counts as inactive.
pub fn direction(section: &str) -> Direction {
    let mut dir = Direction::SendRecv;
    for line in section.lines().map(str::trim) {
        match line {
            "a=sendonly" => dir = Direction::SendOnly,
            "a=recvonly" => dir = Direction::RecvOnly,
            "a=inactive" => dir = Direction::Inactive,
            "a=sendrecv" => dir = Direction::SendRecv,
            "c=IN IP4 0.0.0.0" => return Direction::Inactive,
            _ => {}
        }
    }
    dir
}

/// Sets a section's direction attribute (replacing any there was).
pub fn with_direction(section: &str, dir: Direction) -> String {
    let mut out = String::new();
    for line in section.lines().map(|l| l.trim_end_matches('\r')) {
        if matches!(
            line.trim(),
            "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"
        ) || line.trim().is_empty()
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(dir.attr());
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n\
        m=video 4002 RTP/AVP 96\r\nc=IN IP4 127.0.0.2\r\na=sendonly\r\n";

    #[test]
    fn split_copies_the_session_connection_into_sections_without_one() {
        let s = split(OFFER).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].kind, "audio");
        assert_eq!(s[0].port, 4000);
        assert!(s[0].text.contains("c=IN IP4 127.0.0.1\r\n"));
        assert!(s[1].text.contains("c=IN IP4 127.0.0.2"));
        assert!(!s[1].text.contains("127.0.0.1"));
        assert_eq!(direction(&s[1].text), Direction::SendOnly);
        assert_eq!(direction(&s[0].text), Direction::SendRecv);
    }

    #[test]
    fn split_refuses_what_is_not_sdp_and_survives_garbage() {
        assert_eq!(split("hello"), None);
        let s = split("v=0\r\nm=\r\nm=audio x\r\n").unwrap();
        assert_eq!(s[0].port, 0);
        assert_eq!(s[1].kind, "audio");
    }

    #[test]
    fn refusal_keeps_kind_proto_and_a_format() {
        let s = split(OFFER).unwrap();
        assert_eq!(refuse(&s[1]), "m=video 0 RTP/AVP 96\r\n");
        assert_eq!(disabled(&s[0].text), "m=audio 0 RTP/AVP 0\r\n");
        assert_eq!(kind_of(&s[1].text), "video");
        assert_eq!(kind_of(&disabled(&s[1].text)), "video");
        assert_eq!(kind_of(""), "");
    }

    #[test]
    fn a_video_section_marked_slides_is_of_its_own_kind_also_when_disabled() {
        let sdp = format!(
            "{OFFER}m=video 4004 RTP/AVP 96\r\na=content:slides\r\n\
             m=video 4006 RTP/AVP 96\r\na=content:main\r\n"
        );
        let s = split(&sdp).unwrap();
        let kinds: Vec<&str> = s.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, ["audio", "video", SLIDES, "video"]);
        assert_eq!(kind_of(&s[2].text), SLIDES);
        let off = refuse(&s[2]);
        assert_eq!(off, "m=video 0 RTP/AVP 96\r\na=content:slides\r\n");
        assert_eq!(kind_of(&off), SLIDES);
        assert_eq!(kind_of(&refuse(&s[3])), "video");
        assert_eq!(
            kind_of("m=audio 1 RTP/AVP 0\r\na=content:slides\r\n"),
            "audio"
        );
    }

    #[test]
    fn session_wraps_sections_and_direction_is_rewritten() {
        let sec = "m=audio 5000 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\na=sendrecv\r\n";
        let held = with_direction(sec, Direction::SendOnly);
        assert!(held.ends_with("a=sendonly\r\n"));
        assert!(!held.contains("sendrecv"));
        let sdp = session("127.0.0.1", 7, 2, &[held]);
        assert!(sdp.starts_with("v=0\r\no=seatphone 7 2 IN IP4 127.0.0.1\r\n"));
        assert!(sdp.contains("t=0 0\r\nm=audio 5000"));
        assert_eq!(
            direction("m=audio 1 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n"),
            Direction::Inactive
        );
    }
}
