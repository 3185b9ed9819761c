//! Page frames, sans-IO: text in, a checked request or the error response out;
//! responses and events out as text. See PROTOCOL.md "Frames".

use seatphone_plugin_api::{result, Request, Response};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Frames over this are refused (answered with result 2, socket kept).
pub const MAX_FRAME: usize = 1 << 20;

/// A well-formed request: description and cmd present, param an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub request: Request,
    pub seq: Option<Value>,
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

pub fn parse_request(text: &str) -> Result<Incoming, Rejection> {
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
    let value: Value =
        serde_json::from_str(text).map_err(|e| reject(format!("frame is not valid JSON: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(reject("frame must be a JSON object".into()));
    };

    // What we can echo back, even when the rest is wrong.
    let seq = obj.remove("seq");
    let cmd = obj
        .get("cmd")
        .and_then(Value::as_u64)
        .and_then(|c| u32::try_from(c).ok());
    let description = match obj.remove("description") {
        Some(Value::String(d)) => Some(d),
        _ => None,
    };
    // Built only on failure: the accepted frame is the hot path.
    let fail = |description: Option<String>, seq: Option<Value>, err_msg: &str| Rejection {
        description: description.unwrap_or_else(|| "invalid_request".into()),
        rsp: cmd.unwrap_or(0),
        seq,
        err_msg: err_msg.to_owned(),
    };

    if seq.as_ref().is_some_and(|seq| !seq.is_number()) {
        return Err(fail(description, None, "seq must be a number"));
    }
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
    let param = match obj.remove("param") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(p @ Value::Object(_)) => p,
        Some(_) => return Err(fail(Some(description), seq, "param must be a JSON object")),
    };
    Ok(Incoming {
        request: Request {
            cmd,
            description,
            param,
        },
        seq,
    })
}

/// The refusal of an oversized frame still names its command and `seq`,
/// so the page can tell which request failed: those fields are read while
/// the rest is skipped, nothing of it kept.
fn oversized(text: &str, err_msg: String) -> Rejection {
    #[derive(serde::Deserialize)]
    struct Head {
        seq: Option<Value>,
        cmd: Option<u32>,
        description: Option<String>,
    }
    let head = serde_json::from_str::<Head>(text).ok();
    let head = head.unwrap_or(Head {
        seq: None,
        cmd: None,
        description: None,
    });
    Rejection {
        description: head.description.unwrap_or_else(|| "invalid_request".into()),
        rsp: head.cmd.unwrap_or(0),
        seq: head.seq.filter(Value::is_number),
        err_msg,
    }
}

/// A response: the plugin's or handler's body plus the routing fields, which
/// are the host's: a body key of the same name is dropped.
pub fn response_frame(
    description: &str,
    rsp: u32,
    seq: Option<&Value>,
    response: &Response,
) -> String {
    let frame = ResponseFrame {
        description,
        rsp,
        seq,
        response,
    };
    // Written straight to text: no intermediate `Value` per response.
    serde_json::to_string(&frame).unwrap_or_default()
}

struct ResponseFrame<'a> {
    description: &'a str,
    rsp: u32,
    seq: Option<&'a Value>,
    response: &'a Response,
}

impl Serialize for ResponseFrame<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const OWN: [&str; 6] = ["description", "rsp", "seq", "result", "errMsg", "param"];
        let r = self.response;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("description", self.description)?;
        map.serialize_entry("rsp", &self.rsp)?;
        if let Some(seq) = self.seq {
            map.serialize_entry("seq", seq)?;
        }
        map.serialize_entry("result", &r.result)?;
        if let Some(err_msg) = &r.err_msg {
            map.serialize_entry("errMsg", err_msg)?;
        }
        if let Some(param) = &r.param {
            map.serialize_entry("param", param)?;
        }
        for (key, value) in &r.top {
            if !OWN.contains(&key.as_str()) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

pub fn event_frame(notify: u32, description: &str, param: &Value) -> String {
    serde_json::json!({ "description": description, "notify": notify, "param": param }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rejected(text: &str) -> Value {
        serde_json::from_str(&parse_request(text).unwrap_err().into_frame()).unwrap()
    }

    #[test]
    fn well_formed_request_parses() {
        let i =
            parse_request(r#"{"cmd":67578,"description":"tsdk_get_mic_volume","seq":7}"#).unwrap();
        assert_eq!(i.request.cmd, 67578);
        assert_eq!(i.request.param, json!({}));
        assert_eq!(i.seq, Some(json!(7)));
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
        let r = rejected(r#"{"cmd":67578,"description":"x","param":[1]}"#);
        assert_eq!(r["description"], "x");
        assert_eq!(r["rsp"], 67578);
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
