//! Dialects: pages written for Huawei's older local clients, in front of the
//! same engine.
//!
//! A page picks its dialect with the WebSocket sub-protocol it offers
//! ([`SUB_PROTOCOLS`]). OpenEye (`OpenEye_SDK.js`) is the catalogue itself.
//! TUP (`CloudIPCC_SDK.js`) and CloudEC (`CloudEC-SDK.js`) are tables beside
//! it ([`tup`], [`cloudec`]): each row names a command as that SDK sends it
//! (number, description, parameter spellings) and what it becomes — one or
//! more standard requests, or an answer given here (accepted with a note, or
//! not supported). Events go the other way: a standard event becomes the
//! dialect's number, description and fields, or is not sent.
//!
//! Everything here is sans-IO: text and JSON in, requests, responses and
//! frames out. The host asks the engine and writes the frames; the engine
//! never learns which dialect a page speaks.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::catalogue::{Command, Event};
use crate::wire::{Refusal, Request, Response};

pub mod cloudec;
pub mod tup;

/// The interface a page's SDK speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// `OpenEye_SDK.js`: the standard catalogue, unchanged.
    OpenEye,
    /// `CloudIPCC_SDK.js` (TUP era): `tup_*` commands, events 0x18000 + n.
    Tup,
    /// `CloudEC-SDK.js` (TSDK era): `tsdk_*` commands, one socket for login and calls.
    CloudEc,
}

impl Dialect {
    pub const fn name(self) -> &'static str {
        match self {
            Self::OpenEye => "OpenEye",
            Self::Tup => "TUP (CloudIPCC_SDK.js)",
            Self::CloudEc => "CloudEC (CloudEC-SDK.js)",
        }
    }

    /// The translation table; `None` for OpenEye, which needs none.
    pub fn table(self) -> Option<&'static Table> {
        match self {
            Self::OpenEye => None,
            Self::Tup => Some(&tup::TABLE),
            Self::CloudEc => Some(&cloudec::TABLE),
        }
    }

    /// A standard event frame (`{"description","notify","param"}`) as this
    /// dialect's pages get it; `None` when the dialect has no such event
    /// (its pages would not know it). OpenEye gets the frame unchanged.
    pub fn event<'a>(self, frame: &'a str) -> Option<Cow<'a, str>> {
        match self.table() {
            None => Some(Cow::Borrowed(frame)),
            Some(table) => table.event(frame).map(Cow::Owned),
        }
    }
}

/// Which socket a sub-protocol opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// On the daemon port: service startup, shutdown, recovery.
    Daemon,
    /// On the engine port: local-IP query (TUP), health.
    Login,
    /// On the engine port: commands and call events.
    Call,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubProtocol {
    pub name: &'static str,
    pub dialect: Dialect,
    pub role: Role,
}

const fn sp(name: &'static str, dialect: Dialect, role: Role) -> SubProtocol {
    SubProtocol {
        name,
        dialect,
        role,
    }
}

/// Every sub-protocol the host accepts, in the order it prefers them when
/// a page offers several. The TUP SDK's daemon socket uses the OpenEye
/// name: the daemon's frames are the same for both.
pub const SUB_PROTOCOLS: &[SubProtocol] = &[
    sp("protocol_ws_deamon_service", Dialect::OpenEye, Role::Daemon),
    sp(
        "tsdk_ws_ec_service_deamon_protocol",
        Dialect::CloudEc,
        Role::Daemon,
    ),
    sp(
        "openeye_login_service_protocol",
        Dialect::OpenEye,
        Role::Login,
    ),
    sp("tup_login_service_protocol", Dialect::Tup, Role::Login),
    sp(
        "openeye_call_service_protocol",
        Dialect::OpenEye,
        Role::Call,
    ),
    sp("tup_call_service_protocol", Dialect::Tup, Role::Call),
    sp("tsdk_ws_ec_service_protocol", Dialect::CloudEc, Role::Call),
];

/// The first of `roles`' sub-protocols (in [`SUB_PROTOCOLS`] order) that
/// the page offered.
pub fn choose<'a>(
    offered: impl IntoIterator<Item = &'a str> + Clone,
    roles: &[Role],
) -> Option<&'static SubProtocol> {
    SUB_PROTOCOLS
        .iter()
        .filter(|p| roles.contains(&p.role))
        .find(|p| offered.clone().into_iter().any(|o| o == p.name))
}

/// The names `roles` accept, for a refusal's log line.
pub fn accepted(roles: &[Role]) -> Vec<&'static str> {
    SUB_PROTOCOLS
        .iter()
        .filter(|p| roles.contains(&p.role))
        .map(|p| p.name)
        .collect()
}

/// One dialect's tables.
#[derive(Debug)]
pub struct Table {
    pub dialect: Dialect,
    pub commands: &'static [DialectCommand],
    /// Whole SDK modules this softphone does not offer (conferences, IM …):
    /// any command numbered in one is answered "not supported".
    pub areas: &'static [Area],
    pub events: &'static [DialectEvent],
    /// How answers' `param` is spelled.
    pub answers: AnswerStyle,
}

/// A command as the dialect's SDK sends it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DialectCommand {
    pub cmd: u32,
    pub description: &'static str,
    pub action: Action,
}

/// What a dialect command becomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// These standard requests, in order; the page gets the last one's
    /// answer, or the first failure.
    Ask(&'static [Step]),
    /// Answered here with result 0 and this note as `errMsg`: nothing to do.
    Accepted(&'static str),
    /// Answered here with result 1: "`<what>` is not supported by this softphone".
    Unsupported(&'static str),
    /// The host's own address towards the server named by this parameter,
    /// as top-level `local_ip`.
    LocalIp(&'static str),
    /// The host's version, as `param.version`.
    Version,
}

/// One standard request of an [`Action::Ask`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub command: Command,
    /// `None`: the page's `param` as it is.
    pub fields: Option<&'static [Field]>,
}

/// A value copied from the page's (or the standard event's) object to the
/// other, by dotted path (`network.proxy_addr`). Absent sources are skipped,
/// unless `required`; later fields overwrite earlier ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub to: &'static str,
    pub from: &'static str,
    pub conv: Conv,
    pub required: bool,
}

/// How a copied value changes on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv {
    Same,
    /// Skipped when it is an empty string.
    NonEmpty,
    /// A call id; `""` (the SDK's "no call") becomes 0, which no call has.
    CallId,
    /// 0/1 (or a boolean) as a boolean.
    Bool,
    /// The opposite flag: 0/1 as 1/0, a boolean negated.
    Not,
    /// The opposite flag as a boolean.
    NotBool,
}

/// A range of command numbers answered "not supported".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub first: u32,
    pub last: u32,
    pub what: &'static str,
}

/// A standard event as the dialect sends it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DialectEvent {
    pub event: Event,
    pub notify: u32,
    pub description: &'static str,
    pub param: EventParam,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventParam {
    /// The standard `param`.
    Same,
    /// The standard `param` with these fields added.
    Add(&'static [Field]),
    /// Only these fields.
    Fresh(&'static [Field]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerStyle {
    /// The standard answer.
    Same,
    /// Keys in snake_case (`callId` and `call_id` become one `call_id`).
    SnakeCase,
}

pub const fn field(to: &'static str, from: &'static str) -> Field {
    Field {
        to,
        from,
        conv: Conv::Same,
        required: false,
    }
}

impl Field {
    pub const fn conv(mut self, conv: Conv) -> Self {
        self.conv = conv;
        self
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

/// A command answered by one standard request.
pub const fn ask(cmd: u32, description: &'static str, steps: &'static [Step]) -> DialectCommand {
    DialectCommand {
        cmd,
        description,
        action: Action::Ask(steps),
    }
}

pub const fn step(command: Command, fields: &'static [Field]) -> Step {
    Step {
        command,
        fields: Some(fields),
    }
}

pub const fn pass(command: Command) -> Step {
    Step {
        command,
        fields: None,
    }
}

pub const fn answer(cmd: u32, description: &'static str, action: Action) -> DialectCommand {
    DialectCommand {
        cmd,
        description,
        action,
    }
}

pub const fn event(
    event: Event,
    notify: u32,
    description: &'static str,
    param: EventParam,
) -> DialectEvent {
    DialectEvent {
        event,
        notify,
        description,
        param,
    }
}

/// What a page's frame asks for, and how to answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct Asked {
    pub echo: Echo,
    pub ask: Ask,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ask {
    /// Ask the engine these, in order; stop at the first failure.
    Engine(Vec<Request>),
    /// Answer this now.
    Answer(Response),
    /// Answer with the host's address towards this server (`local_ip`).
    LocalIp(String),
    /// Answer with the host's version.
    Version,
}

/// The routing fields the answer echoes, as the page sent them, and how
/// the answer's `param` is spelled.
#[derive(Debug, Clone, PartialEq)]
pub struct Echo {
    pub description: String,
    pub rsp: u32,
    pub seq: Option<Value>,
    pub style: AnswerStyle,
}

impl Echo {
    /// The engine's answer as this dialect spells it.
    pub fn answer(&self, mut response: Response) -> Response {
        if self.style == AnswerStyle::SnakeCase {
            response.param = response.param.map(snake_case);
        }
        response
    }
}

impl Table {
    pub fn command(&self, description: &str) -> Option<&'static DialectCommand> {
        self.commands.iter().find(|c| c.description == description)
    }

    pub fn event_for(&self, event: Event) -> Option<&'static DialectEvent> {
        self.events.iter().find(|e| e.event == event)
    }

    /// Reads a page's frame and says what to do with it. Never fails: a
    /// malformed frame is answered with result 2, as the standard parser
    /// answers one.
    pub fn request(&self, text: &str) -> Asked {
        let frame: Value = match serde_json::from_str(text) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return self.refuse(None, None, None, "frame must be a JSON object"),
            Err(e) => {
                let msg = format!("frame is not valid JSON: {e}");
                return self.refuse(None, None, None, &msg);
            }
        };
        let cmd = frame.get("cmd").and_then(command_number);
        let description = frame.get("description").and_then(Value::as_str);
        let seq = match frame.get("seq") {
            None | Some(Value::Null) => None,
            Some(s) if s.is_number() => Some(s.clone()),
            Some(_) => return self.refuse(description, cmd, None, "seq must be a number"),
        };
        let Some(description) = description else {
            return self.refuse(None, cmd, seq, "description is missing or not a string");
        };
        let Some(cmd) = cmd else {
            let msg = "cmd is missing or not a number (or a string holding one)";
            return self.refuse(Some(description), None, seq, msg);
        };
        let echo = Echo {
            description: description.to_owned(),
            rsp: cmd,
            seq,
            style: self.answers,
        };
        let answer = |response| Asked {
            echo: echo.clone(),
            ask: Ask::Answer(response),
        };
        let param = match frame.get("param") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(p @ Value::Object(_)) => p.clone(),
            Some(_) => return answer(Refusal::invalid("param must be a JSON object").into()),
        };
        let Some(row) = self.command(description) else {
            let refusal = match self.areas.iter().find(|a| (a.first..=a.last).contains(&cmd)) {
                Some(area) => Refusal::unsupported(description, area.what),
                None => Refusal::invalid(format!(
                    "unknown command {description:?}: the {} dialect of this softphone does not have it",
                    self.dialect.name()
                )),
            };
            return answer(refusal.into());
        };
        if row.cmd != cmd {
            return answer(Refusal::cmd_mismatch(description, cmd, row.cmd).into());
        }
        let ask = match row.action {
            Action::Accepted(note) => {
                let mut ok = Response::ok();
                ok.err_msg = Some(note.to_owned());
                Ask::Answer(ok)
            }
            Action::Unsupported(what) => {
                Ask::Answer(Refusal::unsupported(description, what).into())
            }
            Action::Version => Ask::Version,
            Action::LocalIp(key) => match get_path(&param, key).and_then(Value::as_str) {
                Some(server) if !server.trim().is_empty() => Ask::LocalIp(server.trim().to_owned()),
                _ => Ask::Answer(
                    Refusal::invalid(format!(
                        "param.{key} must name the server (a host name or address)"
                    ))
                    .into(),
                ),
            },
            Action::Ask(steps) => match requests(steps, &param) {
                Ok(requests) => Ask::Engine(requests),
                Err(refusal) => Ask::Answer(refusal.into()),
            },
        };
        Asked { echo, ask }
    }

    fn refuse(
        &self,
        description: Option<&str>,
        cmd: Option<u32>,
        seq: Option<Value>,
        msg: &str,
    ) -> Asked {
        Asked {
            echo: Echo {
                description: description.unwrap_or("invalid_request").to_owned(),
                rsp: cmd.unwrap_or(0),
                seq,
                style: self.answers,
            },
            ask: Ask::Answer(Refusal::invalid(msg).into()),
        }
    }

    /// A standard event frame in this dialect; `None` when it has no such
    /// event or the frame is not one.
    pub fn event(&self, frame: &str) -> Option<String> {
        let frame: Value = serde_json::from_str(frame).ok()?;
        let notify = u32::try_from(frame.get("notify")?.as_u64()?).ok()?;
        let row = self.event_for(Event::from_notify(notify)?)?;
        let empty = Value::Object(Map::new());
        let standard = frame.get("param").unwrap_or(&empty);
        let param = match row.param {
            EventParam::Same => standard.clone(),
            EventParam::Add(fields) => {
                let mut out = standard.clone();
                copy_fields(fields, standard, &mut out).ok()?;
                out
            }
            EventParam::Fresh(fields) => {
                let mut out = Value::Object(Map::new());
                copy_fields(fields, standard, &mut out).ok()?;
                out
            }
        };
        let out = serde_json::json!({
            "description": row.description,
            "notify": row.notify,
            "param": param,
        });
        Some(out.to_string())
    }
}

/// `cmd` as a number, or as a string holding one (`"0x1011A"`, `"65818"`):
/// the TUP SDK sends one command that way.
fn command_number(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        }
        _ => None,
    }
}

fn requests(steps: &[Step], param: &Value) -> Result<Vec<Request>, Refusal> {
    steps
        .iter()
        .map(|s| {
            let param = match s.fields {
                None => param.clone(),
                Some(fields) => {
                    let mut out = Value::Object(Map::new());
                    copy_fields(fields, param, &mut out)?;
                    out
                }
            };
            Ok(Request {
                cmd: s.command.cmd(),
                description: s.command.description().to_owned(),
                param,
            })
        })
        .collect()
}

/// Applies `fields` from `src` into `out` (an object). `Err` names a
/// required field that is missing.
fn copy_fields(fields: &[Field], src: &Value, out: &mut Value) -> Result<(), Refusal> {
    for f in fields {
        let value = get_path(src, f.from).filter(|v| !v.is_null());
        let Some(value) = value.and_then(|v| convert(v, f.conv)) else {
            if f.required {
                return Err(Refusal::invalid(format!("param.{} is missing", f.from)));
            }
            continue;
        };
        set_path(out, f.to, value);
    }
    Ok(())
}

fn convert(v: &Value, conv: Conv) -> Option<Value> {
    let flag = |v: &Value| match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_u64().map(|n| n != 0),
        Value::String(s) => s.trim().parse::<u64>().ok().map(|n| n != 0),
        _ => None,
    };
    match conv {
        Conv::Same => Some(v.clone()),
        Conv::NonEmpty => match v {
            Value::String(s) if s.trim().is_empty() => None,
            v => Some(v.clone()),
        },
        Conv::CallId => match v {
            Value::String(s) if s.trim().is_empty() => Some(Value::from(0)),
            v => Some(v.clone()),
        },
        // A value that is no flag goes on as it is: the engine says why it is wrong.
        Conv::Bool => Some(flag(v).map_or_else(|| v.clone(), Value::Bool)),
        Conv::NotBool => Some(flag(v).map_or_else(|| v.clone(), |b| Value::Bool(!b))),
        Conv::Not => Some(match (v, flag(v)) {
            (Value::Bool(b), _) => Value::Bool(!b),
            (_, Some(b)) => Value::from(u8::from(!b)),
            (v, None) => v.clone(),
        }),
    }
}

fn get_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

fn set_path(out: &mut Value, path: &str, value: Value) {
    let mut node = out;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        if keys.peek().is_none() {
            map.insert(key.to_owned(), value);
            return;
        }
        node = map
            .entry(key.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Keys in snake_case, recursively; a key that becomes one already there
/// (`callId` beside `call_id`) is dropped.
fn snake_case(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let k = snake(&k);
                if !out.contains_key(&k) {
                    out.insert(k, snake_case(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(snake_case).collect()),
        v => v,
    }
}

fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
