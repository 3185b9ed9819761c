//! Who may talk to the host: the Origin allow-list for WebSocket handshakes
//! (a page elsewhere must not drive the softphone, cf. CVE-2019-13450) and
//! the Host-header check for HTTP (defeats DNS rebinding).

use crate::config::ApiConfig;

#[derive(Debug, Clone)]
pub struct AccessPolicy {
    origins: Vec<String>,
    hosts: Vec<String>,
}

impl AccessPolicy {
    pub fn new(api: &ApiConfig) -> Self {
        let port = api.port;
        let mut origins: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .flat_map(|h| [format!("http://{h}:{port}"), format!("https://{h}:{port}")])
            .collect();
        origins.extend(api.allowed_origins.iter().map(|o| normalize_origin(o)));
        let mut hosts: Vec<String> = vec!["127.0.0.1".into(), "localhost".into(), "[::1]".into()];
        hosts.extend(api.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()));
        if !api.bind.is_unspecified() {
            hosts.push(match api.bind {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            });
        }
        Self { origins, hosts }
    }

    /// `None`: no Origin header, i.e. not a browser (browsers always send it
    /// on WebSocket handshakes). `"null"` passes only when configured.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(o) => self.origins.contains(&normalize_origin(o)),
        }
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

fn normalize_origin(o: &str) -> String {
    o.trim().trim_end_matches('/').to_ascii_lowercase()
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
    fn host_header_must_name_a_local_or_configured_host() {
        let p = policy(&[]);
        assert!(p.host_allowed(Some("127.0.0.1:7684")));
        assert!(p.host_allowed(Some("localhost")));
        assert!(p.host_allowed(Some("[::1]:7684")));
        assert!(!p.host_allowed(Some("rebind.evil.example:7684")));
        assert!(!p.host_allowed(None));
    }
}
