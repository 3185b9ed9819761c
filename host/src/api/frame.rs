//! Page frames, sans-IO: text in, a checked request or the error response out;
//! responses and events out as text. See PROTOCOL.md "Frames".

use std::borrow::Cow;
use std::fmt;
use std::io::Write as _;

use seatphone_protocol::{result, Event, Request, Response};
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Frames over this are refused (answered with result 2, socket kept).
pub const MAX_FRAME: usize = 1 << 20;

/// A well-formed request: description and cmd present, param an object.
/// It keeps the page's text: a plugin reads the request from that text
/// itself, so the host does not write it again.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    pub text: &'a str,
    pub cmd: u32,
    pub description: String,
    pub seq: Option<Value>,
    /// `{}` when the page sent none (or null).
    pub param: Value,
    /// The page's text carries `param` as an object.
    param_sent: bool,
}

impl Incoming<'_> {
    /// The request as the host's own handlers take it.
    pub fn request(&self) -> Request {
        Request {
            cmd: self.cmd,
            description: self.description.clone(),
            param: self.param.clone(),
        }
    }

    /// The request as a plugin reads it (`wire::Request`, which ignores
    /// `seq` and other keys): the page's own text when it has a `param`
    /// object, else the request written afresh with an empty one.
    pub fn plugin_text(&self) -> Cow<'_, str> {
        if self.param_sent {
            Cow::Borrowed(self.text)
        } else {
            Cow::Owned(serde_json::to_string(&self.request()).unwrap_or_default())
        }
    }
}

/// A frame that cannot be routed; becomes a result-2 response.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub description: String,
    pub rsp: u32,
    pub seq: Option<Value>,
    pub err_msg: String,
}

impl Rejection {
    pub fn into_frame(self) -> String {
        response_frame(
            &self.description,
            self.rsp,
            self.seq.as_ref(),
            &Response::error(result::INVALID, self.err_msg),
        )
    }
}

/// The routing fields of a frame, each as sent; the rest is skipped.
/// Null counts as absent.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    seq: Option<&'a RawValue>,
    #[serde(borrow)]
    cmd: Option<&'a RawValue>,
    #[serde(borrow)]
    description: Option<&'a RawValue>,
    #[serde(borrow)]
    param: Option<&'a RawValue>,
}

impl<'a> Head<'a> {
    fn read(text: &'a str) -> serde_json::Result<Self> {
        serde_json::from_str(text)
    }

    fn cmd(&self) -> Option<u32> {
        self.cmd.and_then(|c| serde_json::from_str(c.get()).ok())
    }

    fn description(&self) -> Option<String> {
        self.description
            .and_then(|d| serde_json::from_str(d.get()).ok())
    }

    /// `Err` when present but not a number.
    fn seq(&self) -> Result<Option<Value>, ()> {
        match self.seq.map(|s| serde_json::from_str::<Value>(s.get())) {
            None => Ok(None),
            Some(Ok(seq)) if seq.is_number() => Ok(Some(seq)),
            Some(_) => Err(()),
        }
    }
}

pub fn parse_request(text: &str) -> Result<Incoming<'_>, Rejection> {
    let reject = |err_msg: String| Rejection {
        description: "invalid_request".into(),
        rsp: 0,
        seq: None,
        err_msg,
    };
    if text.len() > MAX_FRAME {
        let err_msg = format!(
            "frame of {} bytes refused: the limit is {MAX_FRAME} bytes",
            text.len()
        );
        return Err(oversized(text, err_msg));
    }
    if !text.trim_start().starts_with('{') {
        return Err(reject(match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => "frame must be a JSON object".into(),
            Err(e) => format!("frame is not valid JSON: {e}"),
        }));
    }
    let head = Head::read(text).map_err(|e| reject(format!("frame is not valid JSON: {e}")))?;

    // What we can echo back, even when the rest is wrong.
    let cmd = head.cmd();
    let description = head.description();
    // Built only on failure: the accepted frame is the hot path.
    let fail = |description: Option<String>, seq: Option<Value>, err_msg: &str| Rejection {
        description: description.unwrap_or_else(|| "invalid_request".into()),
        rsp: cmd.unwrap_or(0),
        seq,
        err_msg: err_msg.to_owned(),
    };

    let Ok(seq) = head.seq() else {
        return Err(fail(description, None, "seq must be a number"));
    };
    let Some(description) = description else {
        return Err(fail(None, seq, "description is missing or not a string"));
    };
    let Some(cmd) = cmd else {
        return Err(fail(
            Some(description),
            seq,
            "cmd is missing or not a non-negative integer",
        ));
    };
    // Read here, not only skipped: what the plugin reads must be what we checked.
    let param = match head.param.map(|p| serde_json::from_str(p.get())) {
        None => Value::Object(Map::new()),
        Some(Ok(p @ Value::Object(_))) => p,
        Some(Ok(_)) => return Err(fail(Some(description), seq, "param must be a JSON object")),
        Some(Err(e)) => {
            let err_msg = format!("param is not readable: {e}");
            return Err(fail(Some(description), seq, &err_msg));
        }
    };
    Ok(Incoming {
        text,
        cmd,
        description,
        seq,
        param,
        param_sent: head.param.is_some(),
    })
}

/// The refusal of an oversized frame still names its command and `seq`,
/// so the page can tell which request failed: those fields are read while
/// the rest is skipped, nothing of it kept.
fn oversized(text: &str, err_msg: String) -> Rejection {
    let head = Head::read(text).ok();
    Rejection {
        description: head
            .as_ref()
            .and_then(Head::description)
            .unwrap_or_else(|| "invalid_request".into()),
        rsp: head.as_ref().and_then(Head::cmd).unwrap_or(0),
        seq: head.and_then(|h| h.seq().ok().flatten()),
        err_msg,
    }
}

/// A response from the host's own handlers.
pub fn response_frame(
    description: &str,
    rsp: u32,
    seq: Option<&Value>,
    response: &Response,
) -> String {
    let answer = serde_json::to_string(response).unwrap_or_default();
    answer_frame(description, rsp, seq, &answer).unwrap_or_default()
}

/// A response frame around an answer as a plugin writes it (`wire::Response`
/// as JSON): the routing fields, which are the host's, then the answer's
/// own keys as written, less those named like a routing field or already
/// written. A success marked `withoutResult` goes out without its `result`
/// (the reference's `OEScreenShot` shape); the marker itself never goes out.
/// `None` when the answer is not an object with a numeric `result`.
pub fn answer_frame(
    description: &str,
    rsp: u32,
    seq: Option<&Value>,
    answer: &str,
) -> Option<String> {
    const ROUTING: [&str; 3] = ["description", "rsp", "seq"];
    const WITHOUT_RESULT: &str = "withoutResult";
    let Entries(entries) = serde_json::from_str(answer).ok()?;
    let result = entries.iter().find(|(k, _)| k == "result")?.1;
    let result = serde_json::from_str::<u32>(result.get()).ok()?;
    let without_result = result == result::SUCCESS
        && entries
            .iter()
            .find(|(k, _)| k == WITHOUT_RESULT)
            .is_some_and(|(_, v)| v.get() == "true");

    // Bytes, so serde_json writes keys and values in place; every piece
    // is valid UTF-8 (our strings, serde_json's escapes, the answer's text).
    let mut out = Vec::with_capacity(answer.len() + description.len() + 40);
    out.extend_from_slice(b"{\"description\":");
    push_json(&mut out, description);
    let _ = write!(out, ",\"rsp\":{rsp}");
    if let Some(seq) = seq {
        out.extend_from_slice(b",\"seq\":");
        push_json(&mut out, seq);
    }
    for (i, (key, value)) in entries.iter().enumerate() {
        let hidden = key == WITHOUT_RESULT || (without_result && key == "result");
        if hidden || ROUTING.contains(&key.as_ref()) || entries[..i].iter().any(|(k, _)| k == key) {
            continue;
        }
        out.push(b',');
        push_json(&mut out, key.as_ref());
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    out.push(b'}');
    String::from_utf8(out).ok()
}

fn push_json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    // Writing to a Vec fails only if serialising fails: strings and numbers do not.
    let _ = serde_json::to_writer(out, value);
}

/// A JSON object's members in order, values as written.
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some((Key(k), v)) = map.next_entry()? {
                    entries.push((k, v));
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(Members)
    }
}

/// An object key, borrowed unless it had escapes.
#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

/// `{"description", "notify", "param"}`, written straight from `param`:
/// `json!` would serialize it into a copy first (most of the work of each
/// call event the page gets; issue 20).
pub fn event_frame(notify: u32, description: &str, param: &Value) -> String {
    #[derive(serde::Serialize)]
    struct Frame<'a> {
        description: &'a str,
        notify: u32,
        param: &'a Value,
    }
    let frame = Frame {
        description,
        notify,
        param,
    };
    // Serializing strings, numbers and a Value cannot fail.
    serde_json::to_string(&frame).unwrap_or_default()
}

/// An event of the standard catalogue.
pub fn standard_event_frame(event: Event, param: &Value) -> String {
    event_frame(event.notify(), event.description(), param)
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatphone_protocol::Command;
    use serde_json::json;

    fn rejected(text: &str) -> Value {
        serde_json::from_str(&parse_request(text).unwrap_err().into_frame()).unwrap()
    }

    /// A frame of `command` with the rest of the text as written.
    fn frame(command: Command, rest: &str) -> String {
        let (cmd, d) = (command.cmd(), command.description());
        format!(r#"{{"cmd":{cmd},"description":"{d}"{rest}}}"#)
    }

    #[test]
    fn an_event_frame_is_its_three_fields() {
        let param = json!({"callId": 7, "callInfo": {"callee": "10\"10"}});
        let text = event_frame(2006, "call \"connected\"", &param);
        assert_eq!(
            text,
            r#"{"description":"call \"connected\"","notify":2006,"param":{"callId":7,"callInfo":{"callee":"10\"10"}}}"#
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["param"], param);
    }

    #[test]
    fn well_formed_request_parses() {
        let text = frame(Command::GetMicVolume, r#","seq":7"#);
        let i = parse_request(&text).unwrap();
        assert_eq!(i.cmd, Command::GetMicVolume.cmd());
        assert_eq!(i.param, json!({}));
        assert_eq!(i.seq, Some(json!(7)));
    }

    #[test]
    fn a_plugin_reads_the_pages_text_or_a_request_written_afresh() {
        let text = frame(Command::GetMicVolume, r#","param":{"a":1},"seq":7"#);
        let i = parse_request(&text).unwrap();
        assert!(matches!(i.plugin_text(), Cow::Borrowed(t) if t == text));
        for text in [
            r#"{"cmd":1,"description":"x"}"#,
            r#"{"cmd":1,"description":"x","param":null}"#,
        ] {
            let i = parse_request(text).unwrap();
            let read: Request = serde_json::from_str(&i.plugin_text()).unwrap();
            assert_eq!(read, i.request());
            assert_eq!(read.param, json!({}));
        }
    }

    #[test]
    fn a_param_a_plugin_could_not_read_is_refused() {
        // A lone surrogate is JSON syntax that serde_json will not read into a string.
        let r = rejected(r#"{"cmd":1,"description":"x","param":{"a":"\ud800"},"seq":2}"#);
        assert_eq!((&r["description"], &r["seq"]), (&json!("x"), &json!(2)));
        assert!(r["errMsg"].as_str().unwrap().contains("param"), "{r}");
        // Elsewhere it is skipped, by the host and by the plugin alike.
        let i = parse_request(r#"{"cmd":1,"description":"x","param":{},"note":"\ud800"}"#).unwrap();
        let read: Request = serde_json::from_str(&i.plugin_text()).unwrap();
        assert_eq!(read, i.request());
    }

    #[test]
    fn a_repeated_routing_field_is_refused() {
        let r = rejected(r#"{"cmd":1,"description":"x","cmd":2}"#);
        assert!(r["errMsg"].as_str().unwrap().contains("duplicate"), "{r}");
    }

    #[test]
    fn an_answer_is_spliced_after_the_routing_fields_in_its_own_order() {
        let answer =
            r#"{"result":0,"param":{"volume": 40},"path":"/x","description":"no","result":9}"#;
        let f = answer_frame("d", 9, Some(&json!(4)), answer).unwrap();
        assert_eq!(
            f,
            r#"{"description":"d","rsp":9,"seq":4,"result":0,"param":{"volume": 40},"path":"/x"}"#
        );
        let escaped = answer_frame("d\"q", 1, None, r#"{"result":1,"err\u004dsg":"a\nb"}"#);
        let back: Value = serde_json::from_str(&escaped.unwrap()).unwrap();
        assert_eq!(
            back,
            json!({"description":"d\"q","rsp":1,"result":1,"errMsg":"a\nb"})
        );
    }

    #[test]
    fn a_success_without_result_goes_out_as_the_reference_shapes_it() {
        let (shot, catch) = (Command::ScreenShot, Command::CatchVideo);
        let answer = Response::ok_without_result().top("path", "/tmp/shot.jpg");
        let text = serde_json::to_string(&answer).unwrap();
        let f = answer_frame(shot.description(), shot.cmd(), None, &text).unwrap();
        let expected = format!(
            r#"{{"description":"{}","rsp":{},"path":"/tmp/shot.jpg"}}"#,
            shot.description(),
            shot.cmd()
        );
        assert_eq!(f, expected);
        let with_seq = response_frame(catch.description(), catch.cmd(), Some(&json!(3)), &answer);
        assert_eq!(
            serde_json::from_str::<Value>(&with_seq).unwrap(),
            json!({"description": catch.description(), "rsp": catch.cmd(), "seq": 3, "path": "/tmp/shot.jpg"})
        );
        // A failure keeps its result, as the reference's failure shape does.
        let mut failed = Response::error(result::FAILED, "no video in this call");
        failed.without_result = true;
        let f = response_frame(shot.description(), shot.cmd(), None, &failed);
        let f: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(
            f,
            json!({"description": shot.description(), "rsp": shot.cmd(), "result": 1, "errMsg": "no video in this call"})
        );
        // Only `true` asks for it; the marker never reaches the page.
        let f = answer_frame("d", 1, None, r#"{"result":0,"withoutResult":"yes"}"#).unwrap();
        assert_eq!(f, r#"{"description":"d","rsp":1,"result":0}"#);
        // Without a numeric result the answer is unreadable, marker or not.
        assert_eq!(
            answer_frame("d", 1, None, r#"{"withoutResult":true}"#),
            None
        );
    }

    #[test]
    fn an_answer_without_a_numeric_result_is_unreadable() {
        for answer in [
            "",
            "[]",
            "{}",
            r#"{"result":"0"}"#,
            r#"{"result":-1}"#,
            r#"{"result":0"#,
        ] {
            assert_eq!(answer_frame("d", 1, None, answer), None, "{answer}");
        }
    }

    #[test]
    fn not_json_is_answered_with_invalid_request() {
        let r = rejected("{nope");
        assert_eq!(r["result"], 2);
        assert_eq!(r["rsp"], 0);
        assert_eq!(r["description"], "invalid_request");
        assert!(r["errMsg"].as_str().unwrap().contains("JSON"));
    }

    #[test]
    fn non_object_and_missing_description_are_refused() {
        assert_eq!(rejected("[1,2]")["result"], 2);
        let r = rejected(r#"{"cmd":5,"seq":3}"#);
        assert_eq!(r["rsp"], 5);
        assert_eq!(r["seq"], 3);
        assert!(r["errMsg"].as_str().unwrap().contains("description"));
    }

    #[test]
    fn wrong_types_echo_what_was_sent() {
        let r = rejected(&frame(Command::GetMicVolume, r#","param":[1]"#));
        assert_eq!(r["description"], Command::GetMicVolume.description());
        assert_eq!(r["rsp"], Command::GetMicVolume.cmd());
        assert!(r["errMsg"].as_str().unwrap().contains("param"));
        assert_eq!(rejected(r#"{"cmd":"1","description":"x"}"#)["rsp"], 0);
        assert!(
            rejected(r#"{"cmd":1,"description":"x","seq":"a"}"#)["errMsg"]
                .as_str()
                .unwrap()
                .contains("seq")
        );
    }

    #[test]
    fn oversized_frame_is_refused_naming_its_command_and_seq() {
        let big = format!(
            r#"{{"description":"x","cmd":1,"param":{{"a":"{}"}},"seq":9}}"#,
            "a".repeat(MAX_FRAME)
        );
        let r = rejected(&big);
        assert!(r["errMsg"].as_str().unwrap().contains("limit"));
        assert_eq!(
            (&r["description"], &r["rsp"], &r["seq"]),
            (&json!("x"), &json!(1), &json!(9))
        );
        let garbage = format!("[{}", " ".repeat(MAX_FRAME));
        assert_eq!(rejected(&garbage)["description"], "invalid_request");
    }

    #[test]
    fn response_frame_carries_routing_fields_and_top_level_extras() {
        let resp = Response::with_param(json!({"volume": 40})).top("local_ip", "127.0.0.1");
        let f: Value =
            serde_json::from_str(&response_frame("d", 9, Some(&json!(4)), &resp)).unwrap();
        assert_eq!(
            f,
            json!({"description":"d","rsp":9,"seq":4,"result":0,"param":{"volume":40},"local_ip":"127.0.0.1"})
        );
    }

    #[test]
    fn body_keys_named_like_routing_fields_do_not_displace_them() {
        let mut resp = Response::error(1, "no");
        for (k, v) in [
            ("description", "x"),
            ("rsp", "x"),
            ("seq", "x"),
            ("result", "x"),
        ] {
            resp.top.insert(k.into(), v.into());
        }
        let text = response_frame("d", 9, None, &resp);
        let f: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            f,
            json!({"description":"d","rsp":9,"result":1,"errMsg":"no"})
        );
        assert_eq!(text.matches("\"description\"").count(), 1, "{text}");
    }
}
