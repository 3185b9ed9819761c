//! Digest credentials in message text. rsipstack gap: it parses and
//! writes SHA-256 digest as `SHA256`, where RFC 7616 (and Kamailio) spell
//! it `SHA-256`; the names are swapped on the way in and out (the
//! algorithm token is not part of the hashed values, so this is safe).
//! And the SIP message log blanks credentials: a digest response is a
//! password equivalent for replay within the nonce's life.

/// `algorithm=SHA-256` (RFC 7616) → the `SHA256` rsipstack understands.
pub fn incoming_algorithm(value: &str) -> String {
    replace_algorithm(
        value,
        &[
            ("SHA-512-256", "SHA512"),
            ("SHA-256-sess", "SHA256-sess"),
            ("SHA-256", "SHA256"),
            ("SHA-512", "SHA512"),
        ],
    )
}

/// rsipstack's `SHA256` → `SHA-256` on the wire.
pub fn outgoing_algorithm(value: &str) -> String {
    replace_algorithm(
        value,
        &[
            ("SHA256-sess", "SHA-256-sess"),
            ("SHA256", "SHA-256"),
            ("SHA512", "SHA-512"),
        ],
    )
}

fn replace_algorithm(value: &str, table: &[(&str, &str)]) -> String {
    let lower = value.to_ascii_lowercase();
    let Some(pos) = lower.find("algorithm=") else {
        return value.to_owned();
    };
    let start = pos + "algorithm=".len();
    let rest = &value[start..];
    let quoted = rest.starts_with('"');
    let token_start = start + usize::from(quoted);
    let token_len = value[token_start..]
        .find([',', '"', ' ', ';'])
        .unwrap_or(value.len() - token_start);
    let token = &value[token_start..token_start + token_len];
    match table
        .iter()
        .find(|(from, _)| token.eq_ignore_ascii_case(from))
    {
        Some((_, to)) => format!(
            "{}{}{}",
            &value[..token_start],
            to,
            &value[token_start + token_len..]
        ),
        None => value.to_owned(),
    }
}

/// An Authorization or Proxy-Authorization header: what [`redact`] blanks.
pub fn is_credential(h: &rsipstack::sip::Header) -> bool {
    use rsipstack::sip::Header;
    matches!(h, Header::Authorization(_) | Header::ProxyAuthorization(_))
}

/// Blanks the values of Authorization and Proxy-Authorization headers.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    redact_into(&mut out, text);
    out
}

/// [`redact`], appended to `out`. Lines split at each LF (`memchr`: a
/// `"\r\n"` pattern's substring search was 6 % of the engine's work on
/// the way to a call's INVITE, issue 20), their endings kept.
pub fn redact_into(out: &mut String, text: &str) {
    for line in text.split_inclusive('\n') {
        let named = |name: &str| {
            line.as_bytes()
                .get(..name.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(name.as_bytes()))
        };
        if named("authorization:") || named("proxy-authorization:") {
            let name = line.split(':').next().unwrap_or("");
            let ending = line.trim_end_matches(['\r', '\n']).len();
            out.push_str(name);
            out.push_str(": <redacted>");
            out.push_str(&line[ending..]);
        } else {
            out.push_str(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_renamed_both_ways_and_md5_untouched() {
        let ch = "Digest realm=\"x\", nonce=\"n\", qop=\"auth\", algorithm=SHA-256";
        assert_eq!(
            incoming_algorithm(ch),
            "Digest realm=\"x\", nonce=\"n\", qop=\"auth\", algorithm=SHA256"
        );
        let q = "Digest algorithm=\"SHA-256\", realm=\"x\"";
        assert_eq!(
            incoming_algorithm(q),
            "Digest algorithm=\"SHA256\", realm=\"x\""
        );
        let au = "Digest username=\"1001\", algorithm=SHA256, response=\"r\"";
        assert_eq!(
            outgoing_algorithm(au),
            "Digest username=\"1001\", algorithm=SHA-256, response=\"r\""
        );
        assert_eq!(
            incoming_algorithm("Digest algorithm=MD5"),
            "Digest algorithm=MD5"
        );
        assert_eq!(incoming_algorithm("Digest algorithm="), "Digest algorithm=");
        assert_eq!(incoming_algorithm("algorithm=\""), "algorithm=\"");
    }

    #[test]
    fn redaction_hides_digest_credentials() {
        let m = "REGISTER sip:x SIP/2.0\r\nAuthorization: Digest response=\"abc\"\r\nproxy-authorization: Digest x\r\nTo: <sip:x>";
        let r = redact(m);
        assert!(!r.contains("abc"));
        assert!(r.contains("Authorization: <redacted>"));
        assert!(r.contains("proxy-authorization: <redacted>"));
        assert!(r.contains("To: <sip:x>"));
        assert_eq!(
            r,
            "REGISTER sip:x SIP/2.0\r\nAuthorization: <redacted>\r\n\
             proxy-authorization: <redacted>\r\nTo: <sip:x>"
        );
        // Everything else as it was, line ends included.
        let plain = "SIP/2.0 200 OK\r\nVia: x\r\n\r\nv=0\r\n";
        assert_eq!(redact(plain), plain);
        assert_eq!(redact("Authorizationx: y"), "Authorizationx: y");
        assert_eq!(redact("Ünïcode: é\r\nAuth"), "Ünïcode: é\r\nAuth");
    }
}
