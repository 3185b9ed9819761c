//! rsipstack gap: it answers one digest challenge per INVITE, and drops the
//! credentials it sent when it answers. Behind a proxy that challenges (and
//! consumes its credentials), a callee that challenges too gets no answer
//! and the call fails with 401/407. RFC 3261 §22.3: the retried request
//! carries credentials for every realm that challenged. [`fresh`] tells
//! whether a final 401/407 names a realm the INVITE did not answer, and
//! [`retry_headers`] builds the credentials for the INVITE sent again (the
//! proxy's from the last INVITE, still valid for its nonce, plus the new
//! realm's).

use rsipstack::sip::headers::auth::{Algorithm, AuthQop, Qop};
use rsipstack::sip::prelude::ToTypedHeader;
use rsipstack::sip::typed::{Authorization, ProxyAuthorization};
use rsipstack::sip::{self as rsip, DigestGenerator, Header};

/// A challenge of a response: (proxy?, realm, nonce, opaque, algorithm, qop).
struct Challenge {
    proxy: bool,
    realm: String,
    nonce: String,
    opaque: Option<String>,
    algorithm: Option<Algorithm>,
    qop: Option<Qop>,
}

fn challenges(resp: &rsip::Response) -> Vec<Challenge> {
    resp.headers
        .iter()
        .filter_map(|h| match h {
            Header::ProxyAuthenticate(p) => p.typed().ok().map(|t| Challenge {
                proxy: true,
                realm: t.realm,
                nonce: t.nonce,
                opaque: t.opaque,
                algorithm: t.algorithm,
                qop: t.qop,
            }),
            Header::WwwAuthenticate(w) => w.typed().ok().map(|t| Challenge {
                proxy: false,
                realm: t.realm,
                nonce: t.nonce,
                opaque: t.opaque,
                algorithm: t.algorithm,
                qop: t.qop,
            }),
            _ => None,
        })
        .collect()
}

/// The credentials a request carries, with their realm.
fn credentials(req: &rsip::Request) -> Vec<(String, Header)> {
    req.headers
        .iter()
        .filter_map(|h| {
            let realm = match h {
                Header::ProxyAuthorization(p) => ProxyAuthorization::parse(p.value()).ok()?.realm,
                Header::Authorization(a) => Authorization::parse(a.value()).ok()?.realm,
                _ => return None,
            };
            Some((realm, h.clone()))
        })
        .collect()
}

/// A 401/407 to `req` that challenges for a realm `req` did not answer.
/// Any other status is no challenge, whatever headers it carries.
pub fn fresh(req: &rsip::Request, resp: &rsip::Response) -> bool {
    if !matches!(resp.status_code.code(), 401 | 407) {
        return false;
    }
    let answered = credentials(req);
    challenges(resp)
        .iter()
        .any(|c| !answered.iter().any(|(realm, _)| *realm == c.realm))
}

/// Credentials for `req` sent again after `resp`: those `req` carried for
/// realms not challenged anew, and answers to every challenge of `resp`.
pub fn retry_headers(
    req: &rsip::Request,
    resp: &rsip::Response,
    user: &str,
    password: &str,
) -> Vec<Header> {
    let new = challenges(resp);
    let mut out: Vec<Header> = credentials(req)
        .into_iter()
        .filter(|(realm, _)| !new.iter().any(|c| c.realm == *realm))
        .map(|(_, h)| h)
        .collect();
    for c in new {
        let algorithm = c.algorithm.unwrap_or(Algorithm::Md5);
        let qop = c.qop.map(|_| AuthQop::Auth {
            cnonce: format!("{:016x}", rand::random::<u64>()),
            nc: 1,
        });
        let response = DigestGenerator {
            username: user,
            password,
            nonce: &c.nonce,
            uri: &req.uri,
            realm: &c.realm,
            method: &req.method,
            qop: qop.as_ref(),
            algorithm,
        }
        .compute();
        let auth = Authorization {
            scheme: Default::default(),
            username: user.to_owned(),
            realm: c.realm,
            nonce: c.nonce,
            uri: req.uri.clone(),
            response,
            algorithm: Some(algorithm),
            opaque: c.opaque,
            qop,
        };
        out.push(if c.proxy {
            ProxyAuthorization {
                scheme: auth.scheme,
                username: auth.username,
                realm: auth.realm,
                nonce: auth.nonce,
                uri: auth.uri,
                response: auth.response,
                algorithm: auth.algorithm,
                opaque: auth.opaque,
                qop: auth.qop,
            }
            .into()
        } else {
            auth.into()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsipstack::sip::SipMessage;

    fn req(extra: &str) -> rsip::Request {
        let text = format!(
            "INVITE sip:2000@127.0.0.1:7000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK1\r\n\
             From: <sip:1001@h>;tag=1\r\nTo: <sip:2000@h>\r\nCall-ID: c1\r\nCSeq: 2 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match SipMessage::try_from(text.as_str()).expect("request") {
            SipMessage::Request(r) => r,
            _ => panic!("not a request"),
        }
    }

    fn resp(challenge: &str) -> rsip::Response {
        resp_with("401 Unauthorized", challenge)
    }

    fn resp_with(status: &str, challenge: &str) -> rsip::Response {
        let text = format!(
            "SIP/2.0 {status}\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK1\r\n\
             From: <sip:1001@h>;tag=1\r\nTo: <sip:2000@h>;tag=2\r\nCall-ID: c1\r\nCSeq: 2 INVITE\r\n{challenge}\r\nContent-Length: 0\r\n\r\n"
        );
        match SipMessage::try_from(text.as_str()).expect("response") {
            SipMessage::Response(r) => r,
            _ => panic!("not a response"),
        }
    }

    const PROXY: &str = "Proxy-Authorization: Digest username=\"1001\", realm=\"proxy\", nonce=\"n1\", uri=\"sip:2000@127.0.0.1:7000\", response=\"00112233445566778899aabbccddeeff\", algorithm=MD5\r\n";

    #[test]
    fn a_second_realm_is_answered_beside_the_proxy_credentials() {
        let r = req(PROXY);
        let challenge =
            resp("WWW-Authenticate: Digest realm=\"callee\", nonce=\"abc\", algorithm=MD5");
        assert!(fresh(&r, &challenge));
        let headers = retry_headers(&r, &challenge, "1001", "secret");
        assert_eq!(headers.len(), 2, "{headers:?}");
        let text: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        assert!(text[0].starts_with("Proxy-Authorization:") && text[0].contains("realm=\"proxy\""));
        assert!(text[1].starts_with("Authorization:") && text[1].contains("realm=\"callee\""));
        // RFC 2617 without qop, MD5(MD5(user:realm:pw):nonce:MD5(INVITE:uri)),
        // computed with Python's hashlib.
        let expected = "response=\"3896b731c8bda6fd9d41907cd9a6a2c4\"";
        assert!(text[1].contains(expected), "{} vs {expected}", text[1]);
    }

    #[test]
    fn a_realm_already_answered_is_not_fresh() {
        let r = req(PROXY);
        let again = resp("Proxy-Authenticate: Digest realm=\"proxy\", nonce=\"n2\"");
        assert!(!fresh(&r, &again));
        assert!(!fresh(&r, &resp("Server: x")), "no challenge at all");
    }

    #[test]
    fn only_a_401_or_407_challenges() {
        let r = req(PROXY);
        let callee = "WWW-Authenticate: Digest realm=\"callee\", nonce=\"abc\"";
        let proxy = "Proxy-Authenticate: Digest realm=\"other\", nonce=\"n3\"";
        assert!(fresh(
            &r,
            &resp_with("407 Proxy Authentication Required", proxy)
        ));
        assert!(fresh(&r, &resp_with("401 Unauthorized", callee)));
        for status in ["403 Forbidden", "486 Busy Here", "200 OK"] {
            assert!(!fresh(&r, &resp_with(status, callee)), "{status}");
        }
    }
}
