//! What crosses the boundaries as JSON: page ⇄ host, and host ⇄ plugin.
//! Field names are the page protocol's where the page sees them
//! (camelCase), so the host forwards without renaming.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalogue::Capability;

/// Result codes of PROTOCOL.md.
pub mod result {
    pub const SUCCESS: u32 = 0;
    /// Tried and did not succeed.
    pub const FAILED: u32 = 1;
    /// Malformed, unknown command, wrong type or range.
    pub const INVALID: u32 = 2;
    /// Not in a state that allows it.
    pub const WRONG_STATE: u32 = 3;
    /// The owning plugin is not loaded.
    pub const NOT_LOADED: u32 = 4;
    /// No such call, device index or window.
    pub const NOT_FOUND: u32 = 5;
    pub const TIMED_OUT: u32 = 6;
    /// The server or peer refused.
    pub const REFUSED: u32 = 7;
}

/// What a plugin brings. Checked at load: numbers must not collide.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    /// Capabilities of the standard catalogue this plugin answers
    /// (`audio`, `video`, `share`, `capture`).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// SDP media kinds it negotiates (`audio`, `video`).
    #[serde(default)]
    pub media: Vec<String>,
    #[serde(default)]
    pub commands: Vec<CommandSpec>,
    #[serde(default)]
    pub events: Vec<EventSpec>,
}

impl PluginInfo {
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            capabilities: Vec::new(),
            media: Vec::new(),
            commands: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Declares a capability. For one of the standard catalogue (`audio`,
    /// `video`, `share`, `capture`) this also declares its standard commands
    /// and the standard events it sends, from the catalogue.
    pub fn capability(mut self, capability: &str) -> Self {
        self.capabilities.push(capability.into());
        if let Some(standard) = Capability::from_name(capability) {
            for c in standard.commands() {
                self = self.commands(&[(c.cmd, c.description)]);
            }
            for e in standard.events() {
                self = self.events(&[(e.notify, e.description)]);
            }
        }
        self
    }

    pub fn media(mut self, kind: &str) -> Self {
        self.media.push(kind.into());
        self
    }

    /// From a `(cmd, description)` table, as a plugin's `lib.rs` shows it.
    /// A row already declared is not declared twice.
    pub fn commands(mut self, table: &[(u32, &str)]) -> Self {
        for &(cmd, d) in table {
            let spec = CommandSpec {
                cmd,
                description: d.into(),
            };
            if !self.commands.contains(&spec) {
                self.commands.push(spec);
            }
        }
        self
    }

    /// From a `(notify, description)` table.
    pub fn events(mut self, table: &[(u32, &str)]) -> Self {
        for &(notify, d) in table {
            let spec = EventSpec {
                notify,
                description: d.into(),
            };
            if !self.events.contains(&spec) {
                self.events.push(spec);
            }
        }
        self
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommandSpec {
    pub cmd: u32,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventSpec {
    pub notify: u32,
    pub description: String,
}

/// One command from the page, already checked to be well-formed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Request {
    pub cmd: u32,
    pub description: String,
    /// Always an object (`{}` when the page sent none).
    #[serde(default = "empty_object")]
    pub param: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// The answer to one command, without the routing fields (`description`,
/// `rsp`, `seq`) that the host adds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Response {
    pub result: u32,
    #[serde(rename = "errMsg", skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<Value>,
    /// The page gets this success without a `result` field, as the
    /// reference shapes `OEScreenShot` and `OECatchVideo`
    /// (`{"description", "rsp", "path"}`). Only for `result` 0: a failure
    /// always carries its `result`. The host reads this key and never
    /// forwards it.
    #[serde(
        rename = "withoutResult",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub without_result: bool,
    /// Fields the protocol puts at the top level (`path`, `base64`, `local_ip`).
    #[serde(flatten)]
    pub top: Map<String, Value>,
}

impl Response {
    pub fn ok() -> Self {
        Self::default()
    }

    pub fn with_param(param: Value) -> Self {
        Self {
            param: Some(param),
            ..Self::default()
        }
    }

    /// A success the page gets without a `result` field (see
    /// [`Response::without_result`]); add its fields with [`Response::top`].
    pub fn ok_without_result() -> Self {
        Self {
            without_result: true,
            ..Self::default()
        }
    }

    pub fn error(result: u32, err_msg: impl Into<String>) -> Self {
        Self {
            result,
            err_msg: Some(err_msg.into()),
            ..Self::default()
        }
    }

    /// Adds a top-level field.
    pub fn top(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.top.insert(key.to_owned(), value.into());
        self
    }
}

/// A command refused: the result code of PROTOCOL.md and the sentence
/// for `errMsg`. Handlers return `Result<_, Refusal>`; it becomes the
/// page's [`Response`] in one place, `From<Refusal> for Response`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub result: u32,
    pub message: String,
}

impl Refusal {
    pub fn new(result: u32, message: impl Into<String>) -> Self {
        Self {
            result,
            message: message.into(),
        }
    }

    /// Result 2: the request itself is wrong.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(result::INVALID, message)
    }

    /// A `cmd` that is not the number of the command its `description` names.
    pub fn cmd_mismatch(description: &str, cmd: u32, expected: u32) -> Self {
        Self::invalid(format!(
            "cmd {cmd} does not match {description:?}, whose cmd is {expected}"
        ))
    }

    /// Result 1: a command this softphone knows of and does not offer.
    pub fn unsupported(description: &str, what: &str) -> Self {
        Self::new(
            result::FAILED,
            format!("{description}: {what} is not supported by this softphone (Seatphone)"),
        )
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (result {})", self.message, self.result)
    }
}

impl std::error::Error for Refusal {}

impl From<Refusal> for Response {
    fn from(r: Refusal) -> Self {
        Response::error(r.result, r.message)
    }
}

/// What `configure` tells the host back: things the page should know, for
/// the `config` response's `errMsg` (e.g. a codec this build lacks).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ConfigureOutcome {
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A call's life, as the host tells plugins.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallEvent {
    Incoming {
        #[serde(rename = "callId")]
        call_id: u32,
        /// The call will be answered without the page (answer mode or platform).
        #[serde(rename = "autoAnswer")]
        auto_answer: bool,
    },
    Outgoing {
        #[serde(rename = "callId")]
        call_id: u32,
    },
    /// The callee rings; `earlyMedia` when the peer sends media before answering.
    Ringing {
        #[serde(rename = "callId")]
        call_id: u32,
        #[serde(rename = "earlyMedia")]
        early_media: bool,
    },
    Connected {
        #[serde(rename = "callId")]
        call_id: u32,
    },
    Held {
        #[serde(rename = "callId")]
        call_id: u32,
    },
    Resumed {
        #[serde(rename = "callId")]
        call_id: u32,
    },
    Ended {
        #[serde(rename = "callId")]
        call_id: u32,
        #[serde(rename = "reasonCode")]
        reason_code: u16,
    },
    /// A DTMF digit received over SIP INFO (`tone` as in `tsdk_send_dtmf`).
    Dtmf {
        #[serde(rename = "callId")]
        call_id: u32,
        tone: u8,
    },
}

/// The host asks the plugin serving `kind` for its offer section(s).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OfferRequest {
    #[serde(rename = "callId")]
    pub call_id: u32,
    pub kind: String,
    /// The address the host signals from; media sections should use it.
    #[serde(rename = "localIp")]
    pub local_ip: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OfferResponse {
    /// Complete SDP media sections (`m=` line and its attributes, CRLF-ended),
    /// each with its own `c=` line.
    pub sections: Vec<String>,
}

/// The host hands the remote offer's section of `kind` to its plugin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AnswerRequest {
    #[serde(rename = "callId")]
    pub call_id: u32,
    pub kind: String,
    #[serde(rename = "localIp")]
    pub local_ip: String,
    /// The remote section, with a `c=` line (the session-level one copied in
    /// when the section had none).
    pub remote: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AnswerResponse {
    pub section: String,
}

/// Both sides agreed on `kind`: start (or update, when already started).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StartRequest {
    #[serde(rename = "callId")]
    pub call_id: u32,
    pub kind: String,
    pub local: String,
    pub remote: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StopRequest {
    #[serde(rename = "callId")]
    pub call_id: u32,
    pub kind: String,
}

/// What a plugin tells the host (not the page).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Signal {
    /// Media of `kind` flows (the host sends 2005 for the call).
    MediaUp {
        #[serde(rename = "callId")]
        call_id: u32,
        kind: String,
    },
    /// Nothing received for `silentMs`: the host ends the call.
    MediaTimeout {
        #[serde(rename = "callId")]
        call_id: u32,
        kind: String,
        #[serde(rename = "silentMs")]
        silent_ms: u64,
    },
    /// Media of `kind` failed for good (device gone, socket error).
    MediaFailed {
        #[serde(rename = "callId")]
        call_id: u32,
        kind: String,
        reason: String,
    },
    /// A stream of `kind` (one this plugin serves) should be added to a
    /// call that is up (`on`) or removed from it: the host renegotiates
    /// (a re-INVITE; plugin API 1.2). The plugin hears the outcome as for
    /// any stream: `media_offer` for the new section, then `media_start`
    /// when the peer took it, or `media_stop` when it did not, the call
    /// could not renegotiate (ringing, on hold, ended), or the stream was
    /// removed. A request meeting another renegotiation waits for it; one
    /// asking for what the call already has changes nothing. A host
    /// before 1.2 logs it as unreadable and does nothing.
    Stream {
        #[serde(rename = "callId")]
        call_id: u32,
        kind: String,
        on: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reaches_the_page_as_its_result_and_err_msg() {
        let refused = Refusal::new(result::NOT_FOUND, "no call 7");
        assert_eq!(refused.to_string(), "no call 7 (result 5)");
        let response: Response = refused.into();
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"result": 5, "errMsg": "no call 7"})
        );
    }
}
