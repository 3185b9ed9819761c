//! Reading the SIP headers the call dialogs need: the caller, a
//! platform's auto-answer request, session-timer and Allow/Supported
//! tokens. Plain functions of the message, fuzzed (`fuzz/`).

use rsipstack::sip::{self as rsip, Header, HeadersExt};

use crate::calls::Peer;
use crate::session_timer::SessionExpires;

/// The value of the first header called `name` (case-insensitive).
pub(crate) fn header(headers: &rsip::Headers, name: &str) -> Option<String> {
    headers.iter().find_map(|h| header_named(h, name))
}

/// By the header's name and value, not its text: formatting each header
/// of a message to find one was most of the work between a call's 200 and
/// its 2006 (issue 20).
fn header_named(h: &Header, name: &str) -> Option<String> {
    h.name()
        .trim()
        .eq_ignore_ascii_case(name)
        .then(|| h.value().trim().to_owned())
}

/// Number and display name of the caller (From).
pub(crate) fn peer_of(req: &rsip::Request) -> Peer {
    let from = req
        .from_header()
        .map(|f| f.value().to_owned())
        .unwrap_or_default();
    parse_name_addr(&from)
}

/// `"Bob" <sip:1002@host>;tag=x` → Peer { number: "1002", display_name: "Bob" }.
pub fn parse_name_addr(value: &str) -> Peer {
    let (display, rest) = match value.find('<') {
        Some(i) => (
            value[..i].trim().trim_matches('"').to_owned(),
            &value[i + 1..],
        ),
        None => (String::new(), value),
    };
    let uri = rest.split(['>', ';']).next().unwrap_or("");
    let uri = uri.split_once(':').map(|(_, u)| u).unwrap_or(uri);
    let number = match uri.split_once('@') {
        Some((user, _)) => user.to_owned(),
        None => String::new(),
    };
    Peer {
        number,
        display_name: display,
    }
}

/// Contact-center auto-answer: `Call-Info: <…>;answer-after=N` or an
/// Alert-Info naming auto answer. `None` when the platform asks nothing.
pub fn platform_answer_after(req: &rsip::Request) -> Option<u32> {
    if let Some(info) = header(&req.headers, "Call-Info") {
        let lower = info.to_ascii_lowercase();
        if let Some(pos) = lower.find("answer-after=") {
            let digits: String = lower[pos + 13..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            return Some(digits.parse::<u32>().unwrap_or(0).min(3600));
        }
    }
    if let Some(alert) = header(&req.headers, "Alert-Info") {
        let lower = alert.to_ascii_lowercase();
        if lower.contains("auto-answer")
            || lower.contains("autoanswer")
            || lower.contains("auto answer")
        {
            return Some(0);
        }
    }
    None
}

/// `Session-Expires` (compact `x`) of a message.
pub(crate) fn session_expires(headers: &rsip::Headers) -> Option<SessionExpires> {
    header(headers, "Session-Expires")
        .or_else(|| header(headers, "x"))
        .and_then(|v| SessionExpires::parse(&v))
}

/// Whether a header lists `token` (Supported, Allow), any case.
fn lists(headers: &rsip::Headers, name: &str, token: &str) -> bool {
    headers.iter().any(|h| {
        h.name().trim().eq_ignore_ascii_case(name)
            && h.value()
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
    })
}

pub(crate) fn supports_timer(headers: &rsip::Headers) -> bool {
    lists(headers, "Supported", "timer") || lists(headers, "k", "timer")
}

pub(crate) fn allows_update(headers: &rsip::Headers) -> bool {
    lists(headers, "Allow", "UPDATE")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(text: &str) -> rsip::Headers {
        let msg = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK1\r\n\
             From: <sip:1001@h>;tag=1\r\nTo: <sip:2000@h>;tag=2\r\nCall-ID: c1\r\n\
             CSeq: 2 INVITE\r\n{text}Content-Length: 0\r\n\r\n"
        );
        match rsip::SipMessage::try_from(msg.as_str()).expect("response") {
            rsip::SipMessage::Response(r) => r.headers,
            _ => panic!("not a response"),
        }
    }

    #[test]
    fn headers_are_found_by_name_in_any_case_and_compact_form() {
        let h = headers(
            "x: 1800;refresher=uac\r\nsupported: 100rel, Timer\r\nALLOW: INVITE, update\r\n",
        );
        let se = session_expires(&h).expect("compact Session-Expires");
        assert_eq!(
            (se.secs, se.refresher),
            (1800, Some(crate::session_timer::Role::Uac))
        );
        assert!(supports_timer(&h));
        assert!(allows_update(&h));
        assert_eq!(header(&h, "call-id").as_deref(), Some("c1"));
        let h = headers("Session-Expires: 90\r\nSupported: 100rel\r\nAllow: INVITE, ACK\r\n");
        assert_eq!(session_expires(&h).map(|s| s.secs), Some(90));
        assert!(!supports_timer(&h));
        assert!(!allows_update(&h));
        assert_eq!(header(&h, "Min-SE"), None);
    }

    #[test]
    fn name_addr_gives_number_and_display_name() {
        let p = parse_name_addr("\"Bob B\" <sip:1002@127.0.0.1:5060>;tag=abc");
        assert_eq!(p.number, "1002");
        assert_eq!(p.display_name, "Bob B");
        let p = parse_name_addr("sip:1003@example.org;tag=x");
        assert_eq!(p.number, "1003");
        assert_eq!(parse_name_addr("<<<;;").number, "");
        assert_eq!(parse_name_addr("").number, "");
    }
}
