//! The host's config file (TOML). Every key is optional; a bad file is refused
//! at start with the file, line and key named.
//!
//! Without `--config`, two files apply (`install::locations`): the
//! administrator's `/etc/seatphone/seatphone.toml`, then the user's
//! `$XDG_CONFIG_HOME/seatphone/seatphone.toml`. They are merged key by key:
//! a key the user's file sets replaces the same key of the system file
//! (a list is replaced whole, not appended to); sections and keys it does
//! not mention keep the system file's values. Relative paths are relative
//! to the folder of the file that wrote them.
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
    /// The files read, lowest precedence first (empty: defaults only).
    #[serde(skip)]
    pub sources: Vec<PathBuf>,
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
    /// PEM certificate chain and key: the page ports also serve `wss://`.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
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
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl ApiConfig {
    /// The TLS setup of the page ports, if configured; the error names the
    /// file that cannot be used.
    pub fn tls(&self) -> Result<Option<std::sync::Arc<rustls::ServerConfig>>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => crate::api::tls::server_config(cert, key).map(Some),
            _ => Ok(None),
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
    /// Sources whose SIP requests are taken besides the configured servers:
    /// addresses, CIDR ranges, or `"any"`.
    pub accept_from: Vec<String>,
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
            accept_from: Vec::new(),
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
            dir: crate::install::locations::state_dir(),
            level: "info".into(),
        }
    }
}

impl Config {
    /// Reads `path` alone, or without one the standard files (system, then
    /// user; the defaults when neither exists).
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        match path {
            Some(path) => Self::load_files(&[path.to_path_buf()]),
            None => Self::load_files(&crate::install::locations::standard_config_files()),
        }
    }

    /// Reads the files in order, each one's keys over the previous ones'.
    pub fn load_files(files: &[PathBuf]) -> Result<Self, String> {
        let mut merged = toml::Table::new();
        for path in files {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
            // Each file on its own first, so an error names its file and line.
            let mut layer = Self::parse_unchecked(&text)
                .and_then(|_| toml::from_str::<toml::Table>(&text).map_err(|e| e.to_string()))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            resolve_paths(&mut layer, path.parent().unwrap_or(Path::new(".")));
            merge(&mut merged, layer);
        }
        let mut config: Self = merged.try_into().map_err(|e: toml::de::Error| {
            format!("{}: {}", Self::describe(files), e.message().trim_end())
        })?;
        config
            .validate()
            .map_err(|e| format!("{}: {e}", Self::describe(files)))?;
        config.sources = files.to_vec();
        Ok(config)
    }

    /// Parses TOML text; the error names the line, column and key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config = Self::parse_unchecked(text)?;
        config.validate()?;
        Ok(config)
    }

    fn parse_unchecked(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| describe_toml_error(text, &e))
    }

    /// Where this config came from, for logs and `doctor`.
    pub fn describe_sources(&self) -> String {
        match self.sources.as_slice() {
            [] => "no config file: the defaults".into(),
            files => Self::describe(files),
        }
    }

    fn describe(files: &[PathBuf]) -> String {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        names.join(" overridden by ")
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
        seatphone_sip::admission::AcceptFrom::parse(&self.sip.accept_from)?;
        if self.api.port != 0 && self.api.port == self.api.daemon_port {
            return Err("[api] port and daemon_port must differ".into());
        }
        if self.api.tls_cert.is_some() != self.api.tls_key.is_some() {
            return Err("[api] tls_cert and tls_key go together: give both or neither".into());
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

    /// The plugin folder: configured, or the default for this executable
    /// (`install::locations::plugin_dir_for`).
    pub fn plugin_dir(&self) -> PathBuf {
        self.plugins.dir.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .map(|exe| crate::install::locations::plugin_dir_for(&exe))
                .unwrap_or_else(|_| PathBuf::from("."))
        })
    }

    /// The plugin sections as JSON, for `Host::settings`.
    pub fn plugin_settings_json(&self) -> String {
        serde_json::to_string(&self.plugin_sections).unwrap_or_else(|_| "{}".into())
    }
}

/// The keys that hold paths: `(section, key)`; a string or a list of strings.
const PATH_KEYS: &[(&str, &str)] = &[
    ("log", "dir"),
    ("plugins", "dir"),
    ("api", "page_paths"),
    ("api", "tls_cert"),
    ("api", "tls_key"),
    ("capture", "dir"),
];

/// Relative paths in a config file are relative to the file's folder.
fn resolve_paths(layer: &mut toml::Table, base: &Path) {
    let fix = |v: &mut toml::Value| {
        if let toml::Value::String(s) = v {
            if Path::new(s.as_str()).is_relative() {
                *s = base.join(&*s).to_string_lossy().into_owned();
            }
        }
    };
    for (section, key) in PATH_KEYS {
        let Some(toml::Value::Table(t)) = layer.get_mut(*section) else {
            continue;
        };
        match t.get_mut(*key) {
            Some(toml::Value::Array(list)) => list.iter_mut().for_each(fix),
            Some(v) => fix(v),
            None => {}
        }
    }
}

/// `over`'s keys replace `base`'s; tables are merged key by key.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
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
    fn accept_from_takes_addresses_ranges_and_any_and_names_a_bad_entry() {
        let c = Config::parse("[sip]\naccept_from = [\"10.0.0.0/8\", \"::1\", \"any\"]\n").unwrap();
        assert_eq!(c.sip.accept_from.len(), 3);
        assert!(Config::parse("").unwrap().sip.accept_from.is_empty());
        let err = Config::parse("[sip]\naccept_from = [\"10.0.0.0/8\", \"lan\"]\n").unwrap_err();
        assert!(err.contains("accept_from") && err.contains("lan"), "{err}");
    }

    #[test]
    fn plugin_sections_pass_through() {
        let c = Config::parse("[audio]\ninput = \"file:/x.wav\"\nfoo = 3\n").unwrap();
        let json: serde_json::Value = serde_json::from_str(&c.plugin_settings_json()).unwrap();
        assert_eq!(json["audio"]["input"], "file:/x.wav");
        assert_eq!(json["audio"]["foo"], 3);
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "etc/seatphone.toml",
            "[log]\ndir = \"logs\"\n[plugins]\ndir = \"/abs\"\n[api]\npage_paths = [\"rec\", \"/srv\"]\n",
        );
        let c = Config::load_files(&[file]).unwrap();
        assert_eq!(c.log.dir, dir.path().join("etc/logs"));
        assert_eq!(c.plugins.dir, Some(PathBuf::from("/abs")));
        assert_eq!(
            c.api.page_paths,
            vec![dir.path().join("etc/rec"), PathBuf::from("/srv")]
        );
    }

    #[test]
    fn the_user_file_overrides_the_system_file_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let system = write(
            dir.path(),
            "etc/seatphone.toml",
            "[api]\nport = 9000\nallowed_origins = [\"https://*.example.com\"]\n\
             [sip]\nmax_calls = 3\n[audio]\ninput = \"a\"\noutput = \"b\"\n[log]\ndir = \"/var/log/x\"\n",
        );
        let user = write(
            dir.path(),
            "home/.config/seatphone/seatphone.toml",
            "[api]\nallowed_origins = [\"https://agent.example.org\"]\n[audio]\noutput = \"c\"\n[log]\ndir = \"state\"\n",
        );
        let c = Config::load_files(&[system.clone(), user.clone()]).unwrap();
        assert_eq!(
            c.api.port, 9000,
            "a key the user does not set keeps the system value"
        );
        assert_eq!(
            c.api.allowed_origins,
            vec!["https://agent.example.org"],
            "a list is replaced whole"
        );
        assert_eq!(c.sip.max_calls, 3);
        let settings: serde_json::Value = serde_json::from_str(&c.plugin_settings_json()).unwrap();
        assert_eq!(
            settings["audio"],
            serde_json::json!({"input": "a", "output": "c"})
        );
        assert_eq!(c.log.dir, dir.path().join("home/.config/seatphone/state"));
        assert_eq!(c.sources, vec![system.clone(), user.clone()]);
        assert!(c.describe_sources().contains(" overridden by "));
    }

    #[test]
    fn an_error_in_either_file_names_that_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let system = write(dir.path(), "system.toml", "[api]\nport = 9000\n");
        let user = write(dir.path(), "user.toml", "[api]\n\nprot = 1\n");
        let err = Config::load_files(&[system.clone(), user.clone()]).unwrap_err();
        assert!(
            err.contains("user.toml") && err.contains("line 3") && err.contains("prot"),
            "{err}"
        );
        // Rules across keys are checked on the merged result.
        let user = write(dir.path(), "user2.toml", "[api]\ndaemon_port = 9000\n");
        let err = Config::load_files(&[system, user]).unwrap_err();
        assert!(err.contains("must differ"), "{err}");
    }

    #[test]
    fn no_file_gives_the_defaults() {
        let c = Config::load_files(&[]).unwrap();
        assert_eq!(c.api.port, 7684);
        assert_eq!(c.describe_sources(), "no config file: the defaults");
    }
}
