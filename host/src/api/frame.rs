//! Page frames, sans-IO: text in, a checked request or the error response out;
//! responses and events out as text. See PROTOCOL.md "Frames".

use seatphone_plugin_api::{result, Request, Response};
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
    let description = obj
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut rejection = reject(String::new());
    rejection.rsp = cmd.unwrap_or(0);
    if let Some(d) = &description {
        rejection.description = d.clone();
    }
    let fail = |err_msg: &str| Rejection {
        err_msg: err_msg.to_owned(),
        ..rejection.clone()
    };

    if let Some(seq) = &seq {
        if !seq.is_number() {
            return Err(Rejection {
                seq: None,
                ..fail("seq must be a number")
            });
        }
    }
    rejection.seq = seq.clone();
    let fail = |err_msg: &str| Rejection {
        err_msg: err_msg.to_owned(),
        ..rejection.clone()
    };

    let Some(description) = description else {
        return Err(fail("description is missing or not a string"));
    };
    let Some(cmd) = cmd else {
        return Err(fail("cmd is missing or not a non-negative integer"));
    };
    let param = match obj.remove("param") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(p @ Value::Object(_)) => p,
        Some(_) => return Err(fail("param must be a JSON object")),
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

/// A response: the plugin's or handler's body plus the routing fields.
pub fn response_frame(
    description: &str,
    rsp: u32,
    seq: Option<&Value>,
    response: &Response,
) -> String {
    let mut obj = match serde_json::to_value(response) {
        Ok(Value::Object(obj)) => obj,
        _ => Map::new(),
    };
    obj.insert("description".into(), description.into());
    obj.insert("rsp".into(), rsp.into());
    if let Some(seq) = seq {
        obj.insert("seq".into(), seq.clone());
    }
    Value::Object(obj).to_string()
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
}
