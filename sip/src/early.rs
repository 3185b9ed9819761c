//! rsipstack gap: on a reliable provisional response (100rel) it takes the
//! remote tag but neither the remote target (Contact) nor the route set
//! (Record-Route) of the early dialog, so its PRACK goes out with the wrong
//! Request-URI and no Route header, and a proxy in the path answers 404.
//! [`EarlyDialogs`] remembers both from each reliable 1xx and rewrites the
//! PRACK on its way out (RFC 3261 §12.1.2, §12.2.1.1).

use std::collections::HashMap;
use std::sync::Mutex;

use rsipstack::sip::{self as rsip, Header, HeadersExt, SipMessage};

/// Call-ID → (remote target, route set in UAC order).
#[derive(Default)]
pub struct EarlyDialogs {
    targets: Mutex<HashMap<String, (String, Vec<String>)>>,
}

/// Enough for every early dialog of a softphone; older ones are dropped.
const LIMIT: usize = 64;

impl EarlyDialogs {
    pub fn on_received(&self, msg: &SipMessage) {
        let SipMessage::Response(resp) = msg else {
            return;
        };
        let code = resp.status_code.code();
        if !(101..200).contains(&code) {
            return;
        }
        let reliable = resp.headers.iter().any(|h| match h {
            Header::Require(r) => r.value().to_ascii_lowercase().contains("100rel"),
            _ => false,
        });
        let Ok(call_id) = resp.call_id_header().map(|c| c.value().to_owned()) else {
            return;
        };
        if !reliable {
            return;
        }
        let contact = resp.headers.iter().find_map(|h| match h {
            Header::Contact(c) => Some(uri_of(c.value())),
            _ => None,
        });
        let Some(contact) = contact.filter(|c| !c.is_empty()) else {
            return;
        };
        // Record-Route as received, reversed: the UAC's route set (§12.1.2).
        let mut routes: Vec<String> = resp
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::RecordRoute(r) => Some(r.value().to_owned()),
                _ => None,
            })
            .flat_map(|v| split_list(&v))
            .collect();
        routes.reverse();
        if let Ok(mut t) = self.targets.lock() {
            if t.len() >= LIMIT {
                t.clear();
            }
            t.insert(call_id, (contact, routes));
        }
    }

    pub fn before_send(&self, msg: &mut SipMessage) {
        let SipMessage::Request(req) = msg else {
            return;
        };
        if req.method != rsip::Method::PRack {
            return;
        }
        let Ok(call_id) = req.call_id_header().map(|c| c.value().to_owned()) else {
            return;
        };
        let Some((contact, routes)) = self
            .targets
            .lock()
            .ok()
            .and_then(|t| t.get(&call_id).cloned())
        else {
            return;
        };
        let Ok(target) = rsip::Uri::try_from(contact.as_str()) else {
            return;
        };
        req.uri = target;
        req.headers.retain(|h| !matches!(h, Header::Route(_)));
        for route in routes {
            req.headers.push(Header::Route(route.into()));
        }
    }
}

/// `<sip:x@y>;p` or `sip:x@y` → `sip:x@y`.
fn uri_of(value: &str) -> String {
    let v = value.trim();
    match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => v[a + 1..b].to_owned(),
        _ => v.split(';').next().unwrap_or("").trim().to_owned(),
    }
}

/// Splits a comma-separated list of name-addrs (commas inside <> kept).
fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in value.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth <= 0 => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_owned());
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_and_list_parsing() {
        assert_eq!(uri_of("<sip:a@127.0.0.1:5>;expires=3"), "sip:a@127.0.0.1:5");
        assert_eq!(uri_of("sip:a@h;x"), "sip:a@h");
        assert_eq!(
            split_list("<sip:p1;lr>, <sip:p2;lr;x=a,b>"),
            vec!["<sip:p1;lr>".to_owned(), "<sip:p2;lr;x=a,b>".to_owned()]
        );
        assert!(split_list("").is_empty());
    }

    #[test]
    fn prack_gets_target_and_route_from_the_reliable_183() {
        let resp = "SIP/2.0 183 Session Progress\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK1\r\n\
            From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c1\r\nCSeq: 2 INVITE\r\n\
            Record-Route: <sip:127.0.0.1:9;lr>\r\nContact: <sip:b@127.0.0.1:7>\r\nRequire: 100rel\r\nRSeq: 1\r\nContent-Length: 0\r\n\r\n";
        let early = EarlyDialogs::default();
        early.on_received(&SipMessage::try_from(resp).expect("response"));
        let prack = "PRACK sip:127.0.0.1:9 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK2\r\n\
            From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c1\r\nCSeq: 3 PRACK\r\nRAck: 1 2 INVITE\r\nContent-Length: 0\r\n\r\n";
        let mut msg = SipMessage::try_from(prack).expect("request");
        early.before_send(&mut msg);
        let text = msg.to_string();
        assert!(
            text.starts_with("PRACK sip:b@127.0.0.1:7 SIP/2.0"),
            "{text}"
        );
        assert!(text.contains("Route: <sip:127.0.0.1:9;lr>"), "{text}");
    }
}
