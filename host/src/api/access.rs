//! Who may talk to the host: the Origin allow-list for WebSocket handshakes
//! (a page elsewhere must not drive the softphone, cf. CVE-2019-13450) and
//! the Host-header check for HTTP (defeats DNS rebinding).
//!
//! An allowed origin is written as the browser sends it (`https://agent.example.com`,
//! `http://10.0.0.5:8080`) or as a wildcard for a company's subdomains
//! (`https://*.example.com`). Both sides are parsed as URLs and compared
//! part by part (scheme, host, port), never as strings: a wildcard matches
//! one or more whole labels in front of the given domain, so
//! `https://example.com.evil.test` and `https://evil-example.com` do not
//! match `https://*.example.com`, and neither does `https://example.com`
//! itself (list it too if it hosts the portal).

use url::Url;

use crate::config::ApiConfig;

#[derive(Debug, Clone)]
pub struct AccessPolicy {
    origins: Vec<OriginPattern>,
    hosts: Vec<String>,
    /// The allow-list as written, for log lines.
    described: String,
}

/// One entry of the allow-list.
#[derive(Debug, Clone, PartialEq)]
pub enum OriginPattern {
    /// `"null"`: file:// pages and sandboxed frames, only when listed.
    Null,
    Exact(Origin),
    /// `scheme://*.domain[:port]`: any host ending in `.domain`.
    Subdomains {
        scheme: String,
        domain: String,
        port: u16,
    },
}

/// A tuple origin: scheme, host (lower case, IDNA, IPv6 in brackets), port.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses an `Origin` header value; `None` for anything that is not a
    /// plain `scheme://host[:port]` of http or https.
    pub fn parse(text: &str) -> Option<Origin> {
        let url = Url::parse(text.trim()).ok()?;
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return None;
        }
        Some(Origin {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_owned(),
            port: url.port_or_known_default()?,
        })
    }
}

impl OriginPattern {
    /// Parses an `[api] allowed_origins` entry; the error says what is wrong.
    pub fn parse(text: &str) -> Result<OriginPattern, String> {
        let t = text.trim();
        if t == "null" {
            return Ok(OriginPattern::Null);
        }
        let bad = |why: &str| {
            Err(format!(
                "[api] allowed_origins: {text:?} {why} (write \"https://agent.example.com\" or \"https://*.example.com\")"
            ))
        };
        let Some((scheme, rest)) = t.split_once("://") else {
            return bad("is not an origin");
        };
        let Some(domain_and_port) = rest.strip_prefix("*.") else {
            if rest.contains('*') {
                return bad("has a * that is not the whole first label");
            }
            return match Origin::parse(t) {
                Some(o) => Ok(OriginPattern::Exact(o)),
                None => bad("is not an http(s) origin without path"),
            };
        };
        if domain_and_port.contains('*') {
            return bad("has more than one *");
        }
        // The URL parser checks and normalises the rest as if the wildcard
        // were one ordinary label.
        let Some(probe) = Origin::parse(&format!("{scheme}://wildcard.{domain_and_port}")) else {
            return bad("is not an http(s) origin without path");
        };
        let Some(domain) = probe.host.strip_prefix("wildcard.") else {
            return bad("is not a domain name after *.");
        };
        if !domain.contains('.')
            || domain.starts_with('[')
            || domain.parse::<std::net::Ipv4Addr>().is_ok()
        {
            return bad("must name a domain of at least two labels after *.");
        }
        Ok(OriginPattern::Subdomains {
            scheme: probe.scheme,
            domain: domain.to_owned(),
            port: probe.port,
        })
    }

    fn matches(&self, header: &str, origin: Option<&Origin>) -> bool {
        match (self, origin) {
            (OriginPattern::Null, _) => header.trim() == "null",
            (OriginPattern::Exact(o), Some(origin)) => o == origin,
            (
                OriginPattern::Subdomains {
                    scheme,
                    domain,
                    port,
                },
                Some(origin),
            ) => {
                origin.scheme == *scheme
                    && origin.port == *port
                    && origin
                        .host
                        .strip_suffix(domain.as_str())
                        .is_some_and(|label| label.len() > 1 && label.ends_with('.'))
            }
            (_, None) => false,
        }
    }
}

impl AccessPolicy {
    /// Entries that do not parse were refused when the config was loaded
    /// (`Config::validate`); here they are skipped.
    pub fn new(api: &ApiConfig) -> Self {
        let port = api.port;
        let own = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .flat_map(|h| [format!("http://{h}:{port}"), format!("https://{h}:{port}")]);
        let origins = own
            .chain(api.allowed_origins.iter().cloned())
            .filter_map(|o| OriginPattern::parse(&o).ok())
            .collect();
        let described = format!(
            "the host's own pages (http(s)://127.0.0.1, localhost or [::1] on port {port}) and [api] allowed_origins {:?}",
            api.allowed_origins
        );
        let mut hosts: Vec<String> = vec!["127.0.0.1".into(), "localhost".into(), "[::1]".into()];
        hosts.extend(api.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()));
        if !api.bind.is_unspecified() {
            hosts.push(match api.bind {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            });
        }
        Self {
            origins,
            hosts,
            described,
        }
    }

    /// Which origins may connect, in words.
    pub fn allowed_origins(&self) -> &str {
        &self.described
    }

    /// `None`: no Origin header, i.e. not a browser (browsers always send it
    /// on WebSocket handshakes). `"null"` passes only when configured.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        let Some(header) = origin else { return true };
        let parsed = Origin::parse(header);
        self.origins
            .iter()
            .any(|p| p.matches(header, parsed.as_ref()))
    }

    /// The Host header, with or without a port.
    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        let Some(host) = host else { return false };
        let host = host.trim().to_ascii_lowercase();
        let name = if host.starts_with('[') {
            host.split_inclusive(']').next().unwrap_or("")
        } else {
            host.split(':').next().unwrap_or("")
        };
        self.hosts.iter().any(|h| h == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &[&str]) -> AccessPolicy {
        AccessPolicy::new(&ApiConfig {
            port: 7684,
            allowed_origins: extra.iter().map(|s| s.to_string()).collect(),
            ..ApiConfig::default()
        })
    }

    #[test]
    fn own_pages_and_configured_origins_pass() {
        let p = policy(&["https://agent.example.com/"]);
        assert!(p.origin_allowed(Some("http://127.0.0.1:7684")));
        assert!(p.origin_allowed(Some("http://localhost:7684")));
        assert!(p.origin_allowed(Some("https://Agent.Example.com")));
        assert!(p.origin_allowed(Some("https://agent.example.com:443")));
        assert!(p.origin_allowed(None));
    }

    #[test]
    fn other_ports_and_null_are_refused_unless_configured() {
        let p = policy(&[]);
        assert!(!p.origin_allowed(Some("http://127.0.0.1:8080")));
        assert!(!p.origin_allowed(Some("null")));
        assert!(!p.origin_allowed(Some("https://evil.example")));
        assert!(policy(&["null"]).origin_allowed(Some("null")));
    }

    #[test]
    fn an_exact_origin_is_scheme_host_and_port() {
        let p = policy(&["https://agent.example.com"]);
        assert!(!p.origin_allowed(Some("http://agent.example.com")));
        assert!(!p.origin_allowed(Some("https://agent.example.com:8443")));
        assert!(!p.origin_allowed(Some("https://www.agent.example.com")));
        assert!(!p.origin_allowed(Some("https://agent.example.com.evil.test")));
    }

    #[test]
    fn a_wildcard_matches_subdomains_of_its_domain_only() {
        let p = policy(&["https://*.example.com"]);
        for ok in [
            "https://agent.example.com",
            "https://a.b.example.com",
            "https://AGENT.Example.COM",
            "https://agent.example.com:443",
        ] {
            assert!(p.origin_allowed(Some(ok)), "{ok} should pass");
        }
        for refused in [
            "https://example.com",
            "https://example.com.evil.test",
            "https://evil-example.com",
            "https://agent.example.com.evil.test",
            "https://agentexample.com",
            "http://agent.example.com",
            "https://agent.example.com:8443",
            "https://.example.com",
            "https://agent.example.co",
            "https://agent.example.com@evil.test",
            "https://evil.test/.example.com",
            "https://evil.test?.example.com",
            "null",
            "",
            "not an origin",
        ] {
            assert!(
                !p.origin_allowed(Some(refused)),
                "{refused} should be refused"
            );
        }
    }

    #[test]
    fn a_wildcard_with_a_port_matches_that_port() {
        let p = policy(&["https://*.example.test:8443"]);
        assert!(p.origin_allowed(Some("https://portal.example.test:8443")));
        assert!(!p.origin_allowed(Some("https://portal.example.test")));
    }

    #[test]
    fn bad_patterns_are_refused_with_the_entry_named() {
        for bad in [
            "*.example.com",
            "https://*example.com",
            "https://agent.*.example.com",
            "https://*.*.example.com",
            "https://*.com",
            "https://*.10.0.0.1",
            "https://agent.example.com/path",
            "ftp://agent.example.com",
            "https://",
        ] {
            let err = OriginPattern::parse(bad).expect_err(bad);
            assert!(err.contains(bad), "{err}");
        }
        assert!(OriginPattern::parse("https://*.example.com").is_ok());
        assert!(OriginPattern::parse("http://10.0.0.5:8080").is_ok());
    }

    #[test]
    fn host_header_must_name_a_local_or_configured_host() {
        let p = policy(&[]);
        assert!(p.host_allowed(Some("127.0.0.1:7684")));
        assert!(p.host_allowed(Some("localhost")));
        assert!(p.host_allowed(Some("[::1]:7684")));
        assert!(!p.host_allowed(Some("rebind.evil.example:7684")));
        assert!(!p.host_allowed(None));
    }
}
