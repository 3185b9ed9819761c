//! Digest credentials for our INVITEs beyond what rsipstack does.
//!
//! rsipstack answers one digest challenge per INVITE, and drops the
//! credentials it sent when it answers. Behind a proxy that challenges (and
//! consumes its credentials), a callee that challenges too gets no answer
//! and the call fails with 401/407. RFC 3261 §22.3: the retried request
//! carries credentials for every realm that challenged. [`fresh`] tells
//! whether a final 401/407 names a realm the INVITE did not answer, and
//! [`retry_headers`] builds the credentials for the INVITE sent again (the
//! proxy's from the last INVITE, its nonce counted once more, plus the new
//! realm's).
//!
//! And it starts every call unauthenticated, so each INVITE costs a round
//! trip to the proxy for its 407. [`Kept`] answers the proxy of our own
//! domain ahead of its challenge, from the last one it made.

use rsipstack::sip::headers::auth::{Algorithm, AuthQop, Qop};
use rsipstack::sip::prelude::ToTypedHeader;
use rsipstack::sip::typed::{Authorization, ProxyAuthorization};
use rsipstack::sip::{self as rsip, DigestGenerator, Header};

/// A challenge of a response: (proxy?, realm, nonce, opaque, algorithm, qop).
#[derive(Debug, Clone, PartialEq)]
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
/// realms not challenged anew, counted on (`Kept::again`), and answers to
/// every challenge of `resp`.
pub fn retry_headers(
    req: &rsip::Request,
    resp: &rsip::Response,
    kept: &mut Kept,
    user: &str,
    password: &str,
) -> Vec<Header> {
    let new = challenges(resp);
    let mut out: Vec<Header> = credentials(req)
        .into_iter()
        .filter(|(realm, _)| !new.iter().any(|c| c.realm == *realm))
        .map(|(_, h)| kept.again(&h, &req.method, &req.uri, user, password))
        .collect();
    for c in new {
        let qop = c.qop.as_ref().map(|_| AuthQop::Auth {
            cnonce: cnonce(),
            nc: 1,
        });
        out.push(answer(&c, qop, &req.method, &req.uri, user, password));
    }
    out
}

fn cnonce() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The credentials answering `c` for `method uri`.
fn answer(
    c: &Challenge,
    qop: Option<AuthQop>,
    method: &rsip::Method,
    uri: &rsip::Uri,
    user: &str,
    password: &str,
) -> Header {
    let algorithm = c.algorithm.unwrap_or(Algorithm::Md5);
    let response = DigestGenerator {
        username: user,
        password,
        nonce: &c.nonce,
        uri,
        realm: &c.realm,
        method,
        qop: qop.as_ref(),
        algorithm,
    }
    .compute();
    let auth = Authorization {
        scheme: Default::default(),
        username: user.to_owned(),
        realm: c.realm.clone(),
        nonce: c.nonce.clone(),
        uri: uri.clone(),
        response,
        algorithm: Some(algorithm),
        opaque: c.opaque.clone(),
        qop,
    };
    if c.proxy {
        // The same fields, under the other name.
        Header::ProxyAuthorization(rsip::headers::ProxyAuthorization::new(auth.to_string()))
    } else {
        auth.into()
    }
}

/// The challenge a credentials header answered, and its nonce count (0
/// without qop). `None` for any other header, and for auth-int, whose
/// digest covers the body.
fn answered(h: &Header) -> Option<(Challenge, u8)> {
    let (proxy, value) = match h {
        Header::ProxyAuthorization(p) => (true, p.value()),
        Header::Authorization(a) => (false, a.value()),
        _ => return None,
    };
    // The same fields under either name.
    let t = Authorization::parse(value).ok()?;
    let (qop, nc) = match t.qop {
        None => (None, 0),
        Some(AuthQop::Auth { nc, .. }) => (Some(Qop::Auth), nc),
        Some(AuthQop::AuthInt { .. }) => return None,
    };
    let challenge = Challenge {
        proxy,
        realm: t.realm,
        nonce: t.nonce,
        opaque: t.opaque,
        algorithm: t.algorithm,
        qop,
    };
    Some((challenge, nc))
}

/// The proxy's challenge a Proxy-Authorization answered, and its count.
fn answered_proxy(h: &Header) -> Option<(Challenge, u8)> {
    answered(h).filter(|(c, _)| c.proxy)
}

/// Credentials for our own domain's realm, kept from one INVITE for the
/// next. RFC 3261 §22.3: a UA configured with the realm of its outbound
/// proxy may cache that realm's credentials across dialogs; the proxy we
/// register with and send every INVITE to names its realm after our
/// domain (Kamailio's and OpenSIPS's scripts, FreeSWITCH by default).
/// Only answers to a proxy's challenge (407) are kept: a proxy takes its
/// credentials off the request, where those for a 401 travel on to the
/// callee. Credentials for any other realm, or for a 401 that named ours
/// (a callee can), stay with their call: sent with other calls they would
/// hand digests of our password to other callees. A nonce the proxy no
/// longer takes is challenged as before (rsipstack answers once), and the
/// answer to that challenge is kept instead.
#[derive(Debug, Default)]
pub struct Kept(Vec<(Challenge, u8)>);

impl Kept {
    /// `req` got a final answer other than a 401/407 for its realms: the
    /// proxy credentials it carried for a realm `ours` names are good; kept.
    pub fn learn(&mut self, req: &rsip::Request, ours: impl Fn(&str) -> bool) {
        for (c, nc) in req.headers.iter().filter_map(answered_proxy) {
            if !ours(&c.realm) {
                continue;
            }
            match self.0.iter_mut().find(|(k, _)| k.realm == c.realm) {
                // Calls overlap: the nonce count only goes up.
                Some((k, n)) if k.nonce == c.nonce => *n = (*n).max(nc),
                Some(kept) => *kept = (c, nc),
                None => self.0.push((c, nc)),
            }
        }
    }

    /// Our credentials were refused: the next INVITE waits for a challenge.
    pub fn forget(&mut self) {
        self.0.clear();
    }

    /// Credentials `h` that go again on a request sent again (`method
    /// uri`): the same nonce counted once more, with a new cnonce (RFC 7616
    /// §3.4: a server that checks the count takes a repeated one for a
    /// replay). Where the nonce is kept, the count goes on from the kept
    /// one (calls overlap). Without qop nothing counts: `h` as it was; and
    /// so for a nonce counted to the end (the server challenges anew).
    pub fn again(
        &mut self,
        h: &Header,
        method: &rsip::Method,
        uri: &rsip::Uri,
        user: &str,
        password: &str,
    ) -> Header {
        let Some((c, nc)) = answered(h).filter(|(c, _)| c.qop.is_some()) else {
            return h.clone();
        };
        // Only the proxy's credentials are kept (`learn`).
        let kept = self
            .0
            .iter_mut()
            .find(|(k, _)| c.proxy && k.realm == c.realm && k.nonce == c.nonce);
        let last = kept.as_ref().map_or(nc, |(_, n)| (*n).max(nc));
        let Some(next) = last.checked_add(1) else {
            return h.clone();
        };
        if let Some((_, n)) = kept {
            *n = next;
        }
        let qop = AuthQop::Auth {
            cnonce: cnonce(),
            nc: next,
        };
        answer(&c, Some(qop), method, uri, user, password)
    }

    /// Credentials for a new request `method uri`, each nonce counted once
    /// more (RFC 7616 §3.4: the count goes up with every request that
    /// uses the nonce; rsipstack's is one byte, so a nonce serves 255).
    pub fn ahead(
        &mut self,
        method: &rsip::Method,
        uri: &rsip::Uri,
        user: &str,
        password: &str,
    ) -> Vec<Header> {
        self.0.retain(|(c, nc)| c.qop.is_none() || *nc < u8::MAX);
        self.0
            .iter_mut()
            .map(|(c, nc)| {
                let qop = c.qop.as_ref().map(|_| {
                    *nc += 1;
                    AuthQop::Auth {
                        cnonce: cnonce(),
                        nc: *nc,
                    }
                });
                answer(c, qop, method, uri, user, password)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::is_credential;
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
        let headers = retry_headers(&r, &challenge, &mut Kept::default(), "1001", "secret");
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

    /// The proxy's credentials of an INVITE the proxy took.
    fn taken(nonce: &str, nc: &str) -> rsip::Request {
        req(&format!(
            "Proxy-Authorization: Digest username=\"1001\", realm=\"h\", nonce=\"{nonce}\", \
             uri=\"sip:2000@127.0.0.1:7000\", response=\"00112233445566778899aabbccddeeff\", \
             algorithm=MD5, opaque=\"o\", qop=auth, nc={nc}, cnonce=\"c\"\r\n"
        ))
    }

    fn ours(realm: &str) -> bool {
        realm == "h"
    }

    /// `ahead`'s credentials for a call to 3000, parsed, checked against
    /// the password as a proxy checks them.
    fn ahead_parsed(kept: &mut Kept) -> Vec<ProxyAuthorization> {
        let uri = rsip::Uri::try_from("sip:3000@h").expect("uri");
        let invite = rsip::Method::Invite;
        let headers = kept.ahead(&invite, &uri, "1001", "pass1001");
        headers
            .iter()
            .map(|h| {
                let Header::ProxyAuthorization(p) = h else {
                    panic!("not Proxy-Authorization: {h}");
                };
                let auth = ProxyAuthorization::parse(p.value()).expect("parses");
                assert_eq!(auth.uri, uri, "the new request's URI");
                let as_www = Authorization::parse(p.value()).expect("parses");
                let check = DigestGenerator::from(&as_www, "pass1001", &invite);
                assert!(check.verify(&auth.response), "{h}");
                auth
            })
            .collect()
    }

    fn nc(auth: &ProxyAuthorization) -> u8 {
        match auth.qop {
            Some(AuthQop::Auth { nc, .. }) => nc,
            ref other => panic!("{other:?}"),
        }
    }

    /// Known answers (Python's hashlib) for a proxy's MD5 and SHA-256
    /// challenges: the response field is the digest, lower-case hex.
    #[test]
    fn the_answer_is_the_known_digest() {
        let uri = rsip::Uri::try_from("sip:3000@h").expect("uri");
        for (algorithm, expected) in [
            (Algorithm::Md5, "c59469f12ef42da3eaf01526d6f52235"),
            (
                Algorithm::Sha256,
                "df8bcf2471afc2448ab8a14cfc66178b06bca23803df2ed093cdbf47ca1d3a76",
            ),
        ] {
            let c = Challenge {
                proxy: true,
                realm: "h".into(),
                nonce: "n1".into(),
                opaque: None,
                algorithm: Some(algorithm),
                qop: Some(Qop::Auth),
            };
            let qop = AuthQop::Auth {
                cnonce: "c".into(),
                nc: 2,
            };
            let h = answer(
                &c,
                Some(qop),
                &rsip::Method::Invite,
                &uri,
                "1001",
                "pass1001",
            );
            let Header::ProxyAuthorization(p) = &h else {
                panic!("not Proxy-Authorization: {h}");
            };
            let auth = ProxyAuthorization::parse(p.value()).expect("parses");
            assert_eq!(auth.response, expected, "{algorithm:?}");
        }
    }

    #[test]
    fn the_proxys_credentials_answer_the_next_invite_with_the_nonce_counted_on() {
        let mut kept = Kept::default();
        kept.learn(&taken("n1", "00000001"), ours);
        for expected in 2..=12u8 {
            let got = ahead_parsed(&mut kept);
            assert_eq!(got.len(), 1);
            let auth = &got[0];
            assert_eq!((auth.realm.as_str(), auth.nonce.as_str()), ("h", "n1"));
            assert_eq!(auth.opaque.as_deref(), Some("o"));
            // Past 9 the count is hex on the wire (RFC 7616 §3.4): the
            // digest must be computed over the same 8 digits.
            assert_eq!(nc(auth), expected);
        }
    }

    #[test]
    fn only_our_realm_is_kept_and_a_refusal_forgets_it() {
        let mut kept = Kept::default();
        kept.learn(&taken("n1", "00000001"), |realm| realm == "callee");
        assert!(ahead_parsed(&mut kept).is_empty(), "another realm's");
        kept.learn(&taken("n1", "00000001"), ours);
        kept.forget();
        assert!(ahead_parsed(&mut kept).is_empty());
        let no_credentials = req("");
        kept.learn(&no_credentials, ours);
        assert!(ahead_parsed(&mut kept).is_empty());
        // A 401's answer in our realm: the callee's, whoever it claims to be.
        let callee = "Authorization: Digest username=\"1001\", realm=\"h\", nonce=\"n1\", \
            uri=\"sip:2000@127.0.0.1:7000\", response=\"00112233445566778899aabbccddeeff\"\r\n";
        kept.learn(&req(callee), ours);
        assert!(
            ahead_parsed(&mut kept).is_empty(),
            "a 401's answer is not kept"
        );
    }

    #[test]
    fn an_overlapping_call_never_counts_back_and_a_new_nonce_starts_over() {
        let mut kept = Kept::default();
        kept.learn(&taken("n1", "00000005"), ours);
        kept.learn(&taken("n1", "00000002"), ours);
        assert_eq!(nc(&ahead_parsed(&mut kept)[0]), 6);
        kept.learn(&taken("n2", "00000001"), ours);
        let got = ahead_parsed(&mut kept);
        assert_eq!((got[0].nonce.as_str(), nc(&got[0])), ("n2", 2));
    }

    #[test]
    fn a_nonce_counted_to_the_end_is_dropped() {
        let mut kept = Kept::default();
        kept.learn(&taken("n1", "000000fe"), ours);
        assert_eq!(nc(&ahead_parsed(&mut kept)[0]), 255);
        assert!(
            ahead_parsed(&mut kept).is_empty(),
            "the next waits for a challenge"
        );
    }

    /// `h` sent again on the INVITE of `req()`, checked as a server checks it.
    fn again_checked(kept: &mut Kept, h: &Header) -> (Header, Authorization) {
        let r = req("");
        let got = kept.again(h, &r.method, &r.uri, "1001", "pass1001");
        let (Header::ProxyAuthorization(_) | Header::Authorization(_)) = &got else {
            panic!("no credentials: {got}");
        };
        let value = got.to_string();
        let value = value.split_once(": ").expect("a header").1;
        let auth = Authorization::parse(value).expect("parses");
        let check = DigestGenerator::from(&auth, "pass1001", &r.method);
        assert!(check.verify(&auth.response), "{got}");
        (got, auth)
    }

    fn count(auth: &Authorization) -> (u8, String) {
        match &auth.qop {
            Some(AuthQop::Auth { nc, cnonce }) => (*nc, cnonce.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn credentials_sent_again_count_their_nonce_on_from_the_kept_count() {
        let mut kept = Kept::default();
        kept.learn(&taken("n1", "00000005"), ours);
        // An INVITE that carried nc 3 (another call counted on since).
        let sent = taken("n1", "00000003");
        let carried = sent
            .headers
            .iter()
            .find_map(|h| answered_proxy(h).map(|_| h));
        let (got, auth) = again_checked(&mut kept, carried.expect("credentials"));
        assert!(matches!(got, Header::ProxyAuthorization(_)), "{got}");
        let (counted, cnonce) = count(&auth);
        assert_eq!((auth.nonce.as_str(), counted), ("n1", 6));
        assert_ne!(cnonce, "c", "a new cnonce");
        assert_eq!(nc(&ahead_parsed(&mut kept)[0]), 7, "the next call goes on");
    }

    #[test]
    fn a_callees_credentials_sent_again_are_counted_on_and_not_kept() {
        let mut kept = Kept::default();
        let callee = Header::Authorization(rsip::headers::Authorization::new(
            "Digest username=\"1001\", realm=\"callee\", nonce=\"m\", uri=\"sip:2000@127.0.0.1:7000\", \
             response=\"00112233445566778899aabbccddeeff\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c\"",
        ));
        let (got, auth) = again_checked(&mut kept, &callee);
        assert!(matches!(got, Header::Authorization(_)), "{got}");
        assert_eq!(count(&auth).0, 2);
        assert!(ahead_parsed(&mut kept).is_empty(), "not kept");
    }

    #[test]
    fn credentials_without_qop_or_counted_to_the_end_go_again_as_they_were() {
        let mut kept = Kept::default();
        let plain = req(PROXY)
            .headers
            .iter()
            .find(|h| is_credential(h))
            .cloned();
        let plain = plain.expect("credentials");
        let r = req("");
        assert_eq!(kept.again(&plain, &r.method, &r.uri, "1001", "x"), plain);
        let spent = taken("n1", "000000ff");
        let spent = spent
            .headers
            .iter()
            .find(|h| is_credential(h))
            .expect("credentials");
        assert_eq!(&kept.again(spent, &r.method, &r.uri, "1001", "x"), spent);
    }

    #[test]
    fn without_qop_the_nonce_is_used_again_as_it_is() {
        let mut kept = Kept::default();
        kept.learn(&req(PROXY), |realm| realm == "proxy");
        for _ in 0..3 {
            let got = ahead_parsed(&mut kept);
            assert_eq!(got.len(), 1);
            assert_eq!((got[0].nonce.as_str(), &got[0].qop), ("n1", &None));
        }
    }
}
