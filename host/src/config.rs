//! The host's config file (TOML). Every key is optional; a bad file is refused
//! at start with the file, line and key named.
//!
//! The host's own sections (`[api]`, `[plugins]`, `[sip]`, `[log]`) refuse
//! unknown keys, so a typo does not silently fall back to a default. Any other
//! section belongs to a plugin and is handed to it as is (`Host::settings`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Config {
    pub api: ApiConfig,
    pub plugins: PluginsConfig,
    pub sip: SipSection,
    pub log: LogConfig,
    /// Plugin sections (`[audio]`, `[capture]` …), passed through.
    #[serde(flatten)]
    pub plugin_sections: toml::Table,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub bind: IpAddr,
    pub daemon_port: u16,
    pub port: u16,
    /// Page origins allowed besides the host's own (`https://agent.example.com`,
    /// `https://*.example.com`; see `api::access`).
    pub allowed_origins: Vec<String>,
    /// Host names an HTTP request may name besides 127.0.0.1, localhost and [::1].
    pub allowed_hosts: Vec<String>,
    /// Folders a page may name in `log_path` / `tls_rootcertpath`.
    pub page_paths: Vec<PathBuf>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            daemon_port: 7682,
            port: 7684,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            page_paths: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Default: the folder holding the `seatphone` executable.
    pub dir: Option<PathBuf>,
    /// Only these plugins (by name: `audio`, or file stem `seatphone_audio`).
    pub load: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipSection {
    pub bind: IpAddr,
    /// 0 = any free port.
    pub local_port: u16,
    pub user_agent: String,
    pub max_calls: usize,
    /// Expires asked for in REGISTER, seconds.
    pub register_expires: u32,
    /// How long one REGISTER or OPTIONS may go unanswered, seconds.
    pub request_timeout: u64,
    /// Keep-alive period while registered (OPTIONS on UDP, a CRLF ping on
    /// TCP/TLS), seconds.
    pub keepalive_interval: u64,
    /// After every server failed, wait this long and start over, seconds.
    pub retry_interval: u64,
}

impl Default for SipSection {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            local_port: 5060,
            user_agent: format!("Seatphone/{}", env!("CARGO_PKG_VERSION")),
            max_calls: 2,
            register_expires: 3600,
            request_timeout: 4,
            keepalive_interval: 25,
            retry_interval: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub dir: PathBuf,
    /// A tracing filter: `info`, `debug`, `seatphone=debug,info` …
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./log"),
            level: "info".into(),
        }
    }
}

impl Config {
    /// Reads `path`, or returns the defaults when no path is given.
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        let mut config = Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        Ok(config)
    }

    /// Parses TOML text; the error names the line, column and key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| describe_toml_error(text, &e))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.sip.register_expires < 30
            || self.sip.request_timeout == 0
            || self.sip.keepalive_interval == 0
        {
            return Err("[sip] register_expires must be at least 30, request_timeout and keepalive_interval at least 1".into());
        }
        if self.sip.max_calls == 0 {
            return Err("[sip] max_calls must be at least 1".into());
        }
        if self.api.port != 0 && self.api.port == self.api.daemon_port {
            return Err("[api] port and daemon_port must differ".into());
        }
        for origin in &self.api.allowed_origins {
            crate::api::access::OriginPattern::parse(origin)?;
        }
        for (name, value) in &self.plugin_sections {
            if !value.is_table() {
                return Err(format!(
                    "key `{name}` at the top level: expected a [section]"
                ));
            }
        }
        Ok(())
    }

    /// Relative paths in a config file are relative to the file's folder.
    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.log.dir);
        if let Some(dir) = self.plugins.dir.as_mut() {
            fix(dir);
        }
        self.api.page_paths.iter_mut().for_each(fix);
    }

    /// The plugin folder: configured, or the one holding this executable.
    pub fn plugin_dir(&self) -> PathBuf {
        self.plugins.dir.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from("."))
        })
    }

    /// The plugin sections as JSON, for `Host::settings`.
    pub fn plugin_settings_json(&self) -> String {
        serde_json::to_string(&self.plugin_sections).unwrap_or_else(|_| "{}".into())
    }
}

fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let message = e.message().trim_end();
    match line {
        Some(line) => format!("line {line}: {message}"),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_documented_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.api.daemon_port, 7682);
        assert_eq!(c.api.port, 7684);
        assert_eq!(c.api.bind.to_string(), "127.0.0.1");
        assert_eq!(c.sip.local_port, 5060);
        assert_eq!(c.sip.max_calls, 2);
        assert_eq!(c.sip.bind.to_string(), "0.0.0.0");
    }

    #[test]
    fn unknown_key_in_a_host_section_is_named_with_its_line() {
        let err = Config::parse("[api]\nport = 9000\ndeamon_port = 1\n").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("deamon_port"), "{err}");
    }

    #[test]
    fn wrong_type_is_named_with_its_line() {
        let err = Config::parse("[sip]\n\nmax_calls = \"two\"\n").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn a_malformed_allowed_origin_is_refused_at_start() {
        let err =
            Config::parse("[api]\nallowed_origins = [\"https://*example.com\"]\n").unwrap_err();
        assert!(err.contains("https://*example.com"), "{err}");
        assert!(Config::parse("[api]\nallowed_origins = [\"https://*.example.com\"]\n").is_ok());
    }

    #[test]
    fn plugin_sections_pass_through() {
        let c = Config::parse("[audio]\ninput = \"file:/x.wav\"\nfoo = 3\n").unwrap();
        let json: serde_json::Value = serde_json::from_str(&c.plugin_settings_json()).unwrap();
        assert_eq!(json["audio"]["input"], "file:/x.wav");
        assert_eq!(json["audio"]["foo"], 3);
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let mut c = Config::parse("[log]\ndir = \"logs\"\n[plugins]\ndir = \"/abs\"\n").unwrap();
        c.resolve_paths(Path::new("/etc/seatphone"));
        assert_eq!(c.log.dir, PathBuf::from("/etc/seatphone/logs"));
        assert_eq!(c.plugins.dir, Some(PathBuf::from("/abs")));
    }
}
