//! Our INVITE sent again, as plain functions of what was sent and what came
//! back: which final answer is worth a retry, what the retried INVITE
//! carries, and the CSeq it must go above (RFC 3261 §22.3, RFC 4028 §7.4).
//! Whether to retry at all (once per call) is the call table's word; the
//! driver only sends.

use rsipstack::sip::{self as rsip, Header, HeadersExt};

use crate::calls::InviteFailure;
use crate::digest::is_credential;
use crate::session_timer::parse_min_se;

/// A final non-2xx `status` to our INVITE, as far as a retry goes.
/// `min_se`: the response's Min-SE header value; `challenged_anew`: a
/// 401/407 challenges for a realm our INVITE did not answer (a hop behind
/// the proxy, see `challenge::fresh`).
pub fn failure(status: u16, min_se: Option<&str>, challenged_anew: bool) -> InviteFailure {
    match status {
        422 => InviteFailure::TooSmall(min_se.and_then(parse_min_se)),
        401 | 407 if challenged_anew => InviteFailure::NewChallenge,
        _ => InviteFailure::Final,
    }
}

/// The timer headers of our INVITE (RFC 4028 §7.1, beside `Supported:
/// timer`): the interval we ask for and the smallest we accept; the callee
/// picks the refresher.
pub fn timer_offer(se: u32, min_se: u32) -> Vec<Header> {
    vec![
        Header::Other("Session-Expires".into(), se.to_string()),
        Header::Other("Min-SE".into(), min_se.to_string()),
    ]
}

fn is_timer_header(h: &Header) -> bool {
    let text = h.to_string();
    let name = text.split(':').next().unwrap_or("").trim();
    name.eq_ignore_ascii_case("Session-Expires") || name.eq_ignore_ascii_case("Min-SE")
}

/// What the INVITE sent again carries beyond the first one's options.
#[derive(Debug, Clone)]
pub struct Retry {
    /// The Call-ID of the INVITE that failed: a retry is the same call.
    pub call_id: Option<String>,
    /// Our own headers, then the credentials.
    pub headers: Vec<Header>,
    /// The CSeq of the INVITE that failed: the retry must go above it.
    pub last_cseq: u32,
}

/// The INVITE `sent` failed; `ours` are the headers we gave it. After a 422
/// (`se`), Session-Expires and Min-SE become `se`. Credentials: answers to
/// a new challenge (`fresh`, RFC 3261 §22.3), else those `sent` carried,
/// still good for the proxy's nonce, each as `again` makes it (its nonce
/// counted once more: `Kept::again`).
pub fn retry(
    sent: &rsip::Request,
    ours: Vec<Header>,
    se: Option<u32>,
    fresh: Vec<Header>,
    again: impl FnMut(&Header) -> Header,
) -> Retry {
    let mut headers: Vec<Header> = ours
        .into_iter()
        // Credentials sent ahead are among `sent`'s, or answered anew.
        .filter(|h| !is_credential(h))
        .filter(|h| se.is_none() || !is_timer_header(h))
        .collect();
    if let Some(se) = se {
        headers.extend(timer_offer(se, se));
    }
    if fresh.is_empty() {
        headers.extend(carried_credentials(sent).iter().map(again));
    } else {
        headers.extend(fresh);
    }
    Retry {
        call_id: sent.call_id_header().ok().map(|c| c.value().to_owned()),
        headers,
        last_cseq: sent
            .cseq_header()
            .ok()
            .and_then(|c| c.seq().ok())
            .unwrap_or(0),
    }
}

fn carried_credentials(req: &rsip::Request) -> Vec<Header> {
    req.headers
        .iter()
        .filter(|h| is_credential(h))
        .cloned()
        .collect()
}

/// rsipstack gap: it numbers a new INVITE from its dialog layer's counter,
/// which stays behind the CSeq a dialog used when it answered the proxy's
/// challenge itself. `bump` moves that counter on and returns its new
/// value; it is moved until it reaches `last`, so the INVITE it numbers
/// next goes above. `false` when 64 bumps were not enough (nothing sane
/// is that far behind).
pub fn catch_up(last: u32, mut bump: impl FnMut() -> u32) -> bool {
    (0..64).any(|_| bump() >= last)
}

#[cfg(test)]
mod tests {
    use rsipstack::sip::SipMessage;

    use super::*;

    fn sent(extra: &str) -> rsip::Request {
        let text = format!(
            "INVITE sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK1\r\n\
             From: <sip:1001@h>;tag=1\r\nTo: <sip:2000@h>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\n\
             {extra}Content-Length: 0\r\n\r\n"
        );
        match SipMessage::try_from(text.as_str()).expect("request") {
            SipMessage::Request(r) => r,
            _ => panic!("not a request"),
        }
    }

    const PROXY_AUTH: &str = "Proxy-Authorization: Digest username=\"1001\", realm=\"proxy\", \
        nonce=\"n1\", uri=\"sip:2000@127.0.0.1\", response=\"00112233445566778899aabbccddeeff\"\r\n";

    fn ours() -> Vec<Header> {
        let mut h = vec![Header::Supported(crate::requests::SUPPORTED.into())];
        h.extend(timer_offer(1800, 90));
        h
    }

    /// Marks what `retry` handed to its `again`.
    fn again(h: &Header) -> Header {
        Header::Other("X-Again".into(), h.to_string())
    }

    fn text(headers: &[Header]) -> Vec<String> {
        headers.iter().map(|h| h.to_string()).collect()
    }

    #[test]
    fn only_a_usable_422_and_a_new_realm_are_worth_a_retry() {
        assert_eq!(
            failure(422, Some("3600"), false),
            InviteFailure::TooSmall(Some(3600))
        );
        assert_eq!(failure(422, None, false), InviteFailure::TooSmall(None));
        assert_eq!(failure(407, None, true), InviteFailure::NewChallenge);
        assert_eq!(failure(401, None, true), InviteFailure::NewChallenge);
        assert_eq!(
            failure(401, None, false),
            InviteFailure::Final,
            "the same realm again"
        );
        assert_eq!(failure(486, Some("3600"), true), InviteFailure::Final);
    }

    #[test]
    fn after_a_422_the_interval_is_raised_and_the_proxy_credentials_kept() {
        let r = retry(&sent(PROXY_AUTH), ours(), Some(3600), Vec::new(), again);
        assert_eq!(r.call_id.as_deref(), Some("c1"));
        assert_eq!(r.last_cseq, 7);
        let t = text(&r.headers);
        assert_eq!(t[0], "Supported: 100rel, timer");
        assert_eq!(t[1..3], ["Session-Expires: 3600", "Min-SE: 3600"]);
        assert!(
            t[3].starts_with("X-Again: Proxy-Authorization: ") && t[3].contains("nonce=\"n1\""),
            "counted on: {t:?}"
        );
        assert_eq!(t.len(), 4, "{t:?}");
    }

    #[test]
    fn after_a_new_challenge_the_fresh_credentials_replace_the_carried_ones() {
        let fresh = vec![Header::Other(
            "Authorization".into(),
            "Digest realm=\"callee\"".into(),
        )];
        let r = retry(&sent(PROXY_AUTH), ours(), None, fresh, again);
        let t = text(&r.headers);
        assert_eq!(
            t[1..3],
            ["Session-Expires: 1800", "Min-SE: 90"],
            "timer untouched"
        );
        assert_eq!(t[3], "Authorization: Digest realm=\"callee\"");
        assert_eq!(t.len(), 4, "{t:?}");
        // Nothing carried, nothing fresh: no credentials.
        assert_eq!(
            retry(&sent(""), ours(), None, Vec::new(), again)
                .headers
                .len(),
            3
        );
    }

    #[test]
    fn credentials_sent_ahead_go_once_as_the_invite_carried_them() {
        let mut ahead = ours();
        ahead.push(Header::ProxyAuthorization(
            rsip::headers::ProxyAuthorization::new("Digest realm=\"proxy\", nonce=\"n0\""),
        ));
        let r = retry(
            &sent(PROXY_AUTH),
            ahead,
            Some(3600),
            Vec::new(),
            Header::clone,
        );
        let t = text(&r.headers);
        let credentials: Vec<_> = t.iter().filter(|h| h.contains("Authorization")).collect();
        assert_eq!(credentials.len(), 1, "{t:?}");
        assert!(
            credentials[0].contains("nonce=\"n1\""),
            "the one sent: {t:?}"
        );
    }

    #[test]
    fn the_counter_is_caught_up_to_the_last_cseq_and_no_further() {
        let mut counter = 3;
        assert!(catch_up(7, || {
            counter += 1;
            counter
        }));
        assert_eq!(counter, 7, "the next INVITE gets 8");
        // Already ahead: one bump, which is harmless.
        assert!(catch_up(2, || {
            counter += 1;
            counter
        }));
        assert_eq!(counter, 8);
        let mut stuck = 0;
        assert!(!catch_up(1000, || {
            stuck += 1;
            stuck
        }));
        assert_eq!(stuck, 64, "bounded");
    }
}
