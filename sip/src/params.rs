//! Checking the page's command parameters (PROTOCOL.md). Every function
//! returns either typed values or a sentence for `errMsg` (result 2).

use serde_json::{Map, Value};

use crate::route;

/// SIP transport, as `sipTransportMode` / `sip.trans_mode` number it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    #[default]
    Udp,
    Tls,
    Tcp,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tls => "tls",
            Self::Tcp => "tcp",
        }
    }

    /// The server port when the page names none (the reference: UDP 5060,
    /// TLS 5061; TCP as UDP, RFC 3261 §19.1.2).
    pub fn default_port(self) -> u16 {
        match self {
            Self::Tls => 5061,
            Self::Udp | Self::Tcp => 5060,
        }
    }
}

/// One registrar/proxy, `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What `tsdk_set_config_param` says about SIP.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SipSettings {
    /// The primary first, then `poolServers` (at most four in all).
    pub servers: Vec<Server>,
    pub transport: Transport,
    /// `audio.dtmf_mode`: 4 = SIP INFO; anything else goes to the audio plugin.
    pub dtmf_mode: u32,
    pub tls_anonymous: bool,
    /// `sip.tls_rootcertpath`: PEM file of the CAs to trust for TLS (the host
    /// has checked it against `[api] page_paths`).
    pub tls_root: Option<String>,
    /// `call.platform_auto_answer`: honour a configured server's request to
    /// answer a call by itself (Call-Info `answer-after`, Alert-Info). Off
    /// unless the page turns it on.
    pub platform_auto_answer: bool,
    /// `log_path`: the folder of the SIP message log; `None` is the host's
    /// `[log] dir` (the host has checked it against `[api] page_paths`).
    pub log_path: Option<String>,
    /// The servers as the page named them, with the port it gave (none:
    /// the transport's, 5060 or 5061 for TLS); `servers` follows from it.
    asked: Vec<(String, Option<u16>)>,
}

/// The `config` keys we know: the reference's, and this project's
/// `call.platform_auto_answer`. Others are listed in the log.
const KNOWN_KEYS: &[(&str, &[&str])] = &[
    ("log_path", &[]),
    (
        "networkInfo",
        &[
            "serverAddr",
            "sipServerPort",
            "sipTransportMode",
            "httpPort",
            "poolServers",
        ],
    ),
    (
        "network",
        &[
            "serverAddr",
            "sipServerPort",
            "sipTransportMode",
            "httpPort",
            "poolServers",
        ],
    ),
    ("call", &["call_ipcall_enable", "platform_auto_answer"]),
    (
        "sip",
        &[
            "user_type",
            "tls_anonymous_enable",
            "tls_rootcertpath",
            "trans_mode",
        ],
    ),
    ("media", &["trans_mode"]),
    (
        "audio",
        &[
            "audio_codec",
            "dtmf_mode",
            "audio_anr",
            "audio_aec",
            "audio_agc",
        ],
    ),
    ("account", &["account_pwd_type"]),
];

/// The keys of a `config` object that nobody reads (`sip.tans_mode`, `foo`).
pub fn unknown_keys(param: &Value) -> Vec<String> {
    let Some(obj) = param.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in obj {
        match KNOWN_KEYS.iter().find(|(k, _)| k == key) {
            None => out.push(key.clone()),
            Some((_, inner)) => {
                if let Some(section) = value.as_object() {
                    out.extend(
                        section
                            .keys()
                            .filter(|k| !inner.contains(&k.as_str()))
                            .map(|k| format!("{key}.{k}")),
                    );
                }
            }
        }
    }
    out
}

/// Merges a `config` object into `current` (every key optional).
pub fn config(param: &Value, current: &SipSettings) -> Result<SipSettings, String> {
    let obj = param.as_object().ok_or("config param must be an object")?;
    let mut out = current.clone();
    // `network` is the reference's name for it (its config table).
    for name in ["networkInfo", "network"] {
        let Some(net) = obj.get(name) else {
            continue;
        };
        let net = net
            .as_object()
            .ok_or_else(|| format!("{name} must be an object"))?;
        let port = opt_u32(net, "sipServerPort", 1, 65535)?.map(|p| p as u16);
        if let Some(addr) = opt_str(net, "serverAddr")? {
            let addr = addr.trim();
            if addr.is_empty() || addr.contains(char::is_whitespace) {
                return Err(format!("{name}.serverAddr must be a host name or address"));
            }
            out.asked = vec![(addr.trim_matches(['[', ']']).to_owned(), port)];
        }
        if let Some(mode) = opt_u32(net, "sipTransportMode", 0, 2)? {
            out.transport = transport(mode);
        }
        if let Some(pool) = net.get("poolServers") {
            let pool = pool.as_array().ok_or("poolServers must be an array")?;
            for entry in pool {
                let entry = entry
                    .as_object()
                    .ok_or("poolServers entries must be objects")?;
                let host = opt_str(entry, "serverAddr")?
                    .ok_or("each poolServers entry needs serverAddr")?;
                let port = opt_u32(entry, "sipServerPort", 1, 65535)?.map(|p| p as u16);
                let server = (host.trim().trim_matches(['[', ']']).to_owned(), port);
                if !out.asked.contains(&server) {
                    out.asked.push(server);
                }
            }
        }
    }
    if let Some(path) = obj.get("log_path") {
        let path = path
            .as_str()
            .ok_or("log_path must be a folder (a string)")?;
        out.log_path = (!path.trim().is_empty()).then(|| path.trim().to_owned());
    }
    if let Some(sip) = obj.get("sip") {
        let sip = sip.as_object().ok_or("sip must be an object")?;
        if let Some(mode) = opt_u32(sip, "trans_mode", 0, 2)? {
            out.transport = transport(mode);
        }
        if let Some(anon) = opt_u32(sip, "tls_anonymous_enable", 0, 1)? {
            out.tls_anonymous = anon == 1;
        }
        if let Some(path) = opt_str(sip, "tls_rootcertpath")? {
            out.tls_root = (!path.trim().is_empty()).then(|| path.trim().to_owned());
        }
    }
    if let Some(call) = obj.get("call") {
        let call = call.as_object().ok_or("call must be an object")?;
        if let Some(on) = opt_u32(call, "platform_auto_answer", 0, 1)? {
            out.platform_auto_answer = on == 1;
        }
    }
    if let Some(audio) = obj.get("audio") {
        let audio = audio.as_object().ok_or("audio must be an object")?;
        if let Some(mode) = opt_u32(audio, "dtmf_mode", 0, 10)? {
            out.dtmf_mode = mode;
        }
    }
    out.place_servers();
    if out.servers.len() > 4 {
        return Err("at most 4 servers (primary and pool) are supported".into());
    }
    Ok(out)
}

/// The CAs TLS trusts when the page names none (Debian's bundle).
pub const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What a TLS connection to the server checks its certificate against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsTrust {
    /// `tls_anonymous_enable`: no certificate check at all.
    Anonymous,
    /// The CAs of this PEM file: `tls_rootcertpath`, else [`SYSTEM_ROOTS`].
    Roots(String),
}

impl SipSettings {
    /// Another transport (TLS that cannot start falls back to UDP); the
    /// servers without a port of their own move to its default port.
    pub fn set_transport(&mut self, transport: Transport) {
        self.transport = transport;
        self.place_servers();
    }

    /// The trust TLS needs loaded; `None` when the transport is not TLS.
    pub fn tls_trust(&self) -> Option<TlsTrust> {
        if self.transport != Transport::Tls {
            return None;
        }
        Some(if self.tls_anonymous {
            TlsTrust::Anonymous
        } else {
            TlsTrust::Roots(
                self.tls_root
                    .clone()
                    .unwrap_or_else(|| SYSTEM_ROOTS.to_owned()),
            )
        })
    }

    /// TLS cannot start (`why`: its trust could not be loaded): signalling
    /// goes over UDP instead, and the sentence for the config's `errMsg`
    /// says so.
    pub fn tls_failed(&mut self, why: &str) -> String {
        self.set_transport(Transport::Udp);
        format!("{why}: using UDP")
    }

    /// Ports follow the transport, which may come in a later config.
    fn place_servers(&mut self) {
        self.servers.clear();
        for (host, port) in &self.asked {
            let server = Server {
                host: host.clone(),
                port: port.unwrap_or(self.transport.default_port()),
            };
            if !self.servers.contains(&server) {
                self.servers.push(server);
            }
        }
    }
}

fn transport(mode: u32) -> Transport {
    match mode {
        1 => Transport::Tls,
        2 => Transport::Tcp,
        _ => Transport::Udp,
    }
}

/// What `tsdk_login` says.
#[derive(Clone, PartialEq)]
pub struct Login {
    /// User part of the address of record.
    pub user: String,
    /// Domain of the AOR; `None` means the server address.
    pub domain: Option<String>,
    /// The digest user name.
    pub auth_user: String,
    pub password: String,
    pub pool: bool,
}

/// Never prints the password.
impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("auth_user", &self.auth_user)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

pub fn login(param: &Value) -> Result<Login, String> {
    let obj = param.as_object().ok_or("login param must be an object")?;
    let num = opt_str(obj, "sipNum")?.ok_or("sipNum is required")?;
    let (user, domain) = sip_number(num)?;
    let name = opt_str(obj, "sipName")?.unwrap_or("").trim();
    let auth_user = match name.split_once('@') {
        Some((u, _)) => u,
        None if name.is_empty() => &user,
        None => name,
    };
    if !auth_user.chars().all(is_user_char) {
        return Err("sipName must be a digest user name".into());
    }
    let password = opt_str(obj, "sipPwd")?.unwrap_or("").to_owned();
    let mode = opt_u32(obj, "sipMode", 0, 10)?.unwrap_or(4);
    if !matches!(mode, 0 | 1 | 4 | 5) {
        return Err("sipMode must be 4 (single server), 5 (pool) or 1".into());
    }
    Ok(Login {
        auth_user: auth_user.to_owned(),
        user,
        domain,
        password,
        pool: mode == 5,
    })
}

fn is_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/%".contains(c)
}

/// `calleeNumber`: a user, `user@host`, or a `sip:` URI.
pub fn callee(param: &Value) -> Result<String, String> {
    let obj = param.as_object().ok_or("param must be an object")?;
    let callee = match obj.get("calleeNumber") {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("calleeNumber must be a string".into()),
    };
    let bare = callee.trim_start_matches("sip:");
    let user = bare.split('@').next().unwrap_or("");
    if user.is_empty()
        || bare.len() > 256
        || !bare.chars().all(|c| is_user_char(c) || "@:[]".contains(c))
    {
        return Err("calleeNumber must be a number or user@host".into());
    }
    Ok(bare.to_owned())
}

/// `isVideo`: a boolean or 0/1; absent means false.
pub fn is_video(param: &Value) -> Result<bool, String> {
    match param.get("isVideo") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(false),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(true),
        _ => Err("isVideo must be a boolean or 0/1".into()),
    }
}

/// `accept` of replyAddVideo: a boolean or 0/1, required.
pub fn accept(param: &Value) -> Result<bool, String> {
    match param.get("accept") {
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(false),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(true),
        _ => Err("accept must be a boolean or 0/1".into()),
    }
}

/// `callId`: a number (or a numeric string) that fits in u32.
pub fn call_id(param: &Value) -> Result<u32, String> {
    match param.get("callId") {
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| "callId must be a call id number".into())
}

/// `sipNum`: `user` or `user@domain` (a `sip:` in front is allowed).
fn sip_number(num: &str) -> Result<(String, Option<String>), String> {
    let num = num.trim();
    let (user, domain) = match num.trim_start_matches("sip:").split_once('@') {
        Some((u, d)) => (u.to_owned(), Some(d.to_owned())),
        None => (num.trim_start_matches("sip:").to_owned(), None),
    };
    if user.is_empty() || !user.chars().all(is_user_char) {
        return Err("sipNum must be a SIP user (letters, digits, -_.!~*'()&=+$,;?/)".into());
    }
    if domain
        .as_deref()
        .is_some_and(|d| d.is_empty() || d.contains(char::is_whitespace))
    {
        return Err("sipNum's domain is not a host name".into());
    }
    Ok((user, domain))
}

/// `sipNum` of `tsdk_logout`, when the page sent one: (user, domain).
pub fn logout_number(param: &Value) -> Result<Option<(String, Option<String>)>, String> {
    let Some(obj) = param.as_object() else {
        return Ok(None); // no param at all: the one account
    };
    opt_str(obj, "sipNum")?.map(sip_number).transpose()
}

/// Whether `logout`'s `sipNum` (`asked`: user, domain) names the account
/// registered here: `user` at our address of record's domain
/// ([`route::is_aor_domain`]: the login's, else `servers[current]`, the
/// one in use after any fail-over); no domain asked is ours. `Err`: the
/// page's errMsg, nothing deregistered.
pub fn logout_names(
    asked: &(String, Option<String>),
    user: &str,
    login_domain: Option<&str>,
    servers: &[Server],
    current: usize,
) -> Result<(), String> {
    let (asked_user, asked_domain) = asked;
    let server = servers.get(current);
    let same_domain = match (asked_domain.as_deref(), server) {
        (None, _) => true,
        (Some(d), Some(server)) => route::is_aor_domain(d, server, login_domain),
        (Some(d), None) => login_domain.is_some_and(|ours| d.eq_ignore_ascii_case(ours)),
    };
    if asked_user == user && same_domain {
        return Ok(());
    }
    let asked = match asked_domain {
        Some(d) => format!("{asked_user}@{d}"),
        None => asked_user.clone(),
    };
    let domain = match server {
        Some(server) => route::aor_domain(server, login_domain),
        None => login_domain.unwrap_or_default().to_owned(),
    };
    Err(format!(
        "{asked} is not registered here ({user}@{domain} is): nothing was deregistered"
    ))
}

/// A `callId` that is a whole number but no call's (negative, or beyond
/// u32): still "no such call" for `endCall`, echoed as sent.
pub fn any_call_id(param: &Value) -> Option<i64> {
    match param.get("callId") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `tone` of `tsdk_send_dtmf`: 0–16.
pub fn tone(param: &Value) -> Result<u8, String> {
    match param.get("tone") {
        Some(Value::Number(n)) => n.as_u64().filter(|t| *t <= 16).map(|t| t as u8),
        Some(Value::String(s)) => match s.trim() {
            "*" => Some(10),
            "#" => Some(11),
            t => t.parse::<u8>().ok().filter(|t| *t <= 16),
        },
        _ => None,
    }
    .ok_or_else(|| "tone must be 0-9, 10 (*), 11 (#), 12-15 (A-D) or 16 (flash)".into())
}

/// The character a tone stands for in `application/dtmf-relay`.
pub fn tone_char(tone: u8) -> char {
    match tone {
        0..=9 => char::from(b'0' + tone),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + tone - 12),
        _ => '!',
    }
}

/// Parses a received `application/dtmf-relay` or `application/dtmf` body.
pub fn dtmf_relay(body: &str) -> Option<u8> {
    let signal = body
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| body.trim().to_owned());
    if let Ok(n) = signal.parse::<u8>() {
        return (n <= 16).then_some(n);
    }
    let mut chars = signal.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    match c.to_ascii_uppercase() {
        '*' => Some(10),
        '#' => Some(11),
        l @ 'A'..='D' => Some(l as u8 - b'A' + 12),
        '!' => Some(16),
        _ => None,
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

/// A number (or numeric string, as some pages send) within `min..=max`.
fn opt_u32(obj: &Map<String, Value>, key: &str, min: u32, max: u32) -> Result<Option<u32>, String> {
    let v = match obj.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match v {
        Some(v) if v >= u64::from(min) && v <= u64::from(max) => Ok(Some(v as u32)),
        _ => Err(format!("{key} must be a number from {min} to {max}")),
    }
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
