//! A page's text frame, as the host's socket hands it to the engine: the
//! frame parser, the response and rejection frames built from what it
//! returns, and the SIP parameter checks a request's `param` goes through.
//!
//! Oracle: no panic; an accepted frame is a JSON object whose `description`
//! and `cmd` are the request's and whose `param` is an object, and a plugin
//! reads the same request from the text it is handed; every frame we write
//! back is JSON that carries the routing fields we meant.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seatphone::api::frame::{answer_frame, event_frame, parse_request};
use seatphone_plugin_api::{Request, Response};
use seatphone_sip::params;
use serde_json::Value;

/// Equal, floats within a few ulps: without its `float_roundtrip` feature
/// serde_json's float parsing is not correctly rounded, and a plugin may be
/// built without it. Integers must come back exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            let d = (x - y).abs();
            d <= f64::EPSILON * 4.0 * x.abs().max(y.abs()) || d <= f64::MIN_POSITIVE
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    // WebSocket text frames are UTF-8 by the time the handler sees them.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_request(text) {
        Ok(incoming) => {
            let req = &incoming.request();
            // A key no one reads may hold what serde_json will not read into
            // a Value (a lone surrogate escape): JSON syntax, skipped.
            if let Ok(sent) = serde_json::from_str::<Value>(text) {
                assert_eq!(sent["description"].as_str(), Some(req.description.as_str()));
                assert_eq!(sent["cmd"].as_u64(), Some(u64::from(req.cmd)));
            }
            assert!(req.param.is_object(), "param is an object");
            if let Some(seq) = &incoming.seq {
                assert!(seq.is_number(), "seq is a number");
            }

            // A plugin that echoes the page's keys at the top level must not
            // displace the routing fields.
            let mut resp = Response::with_param(req.param.clone());
            if let Value::Object(obj) = &req.param {
                resp.top = obj.clone();
                // The body's own fields are the plugin's business, not ours.
                for own in ["result", "errMsg", "param"] {
                    resp.top.remove(own);
                }
            }
            // As a plugin answers: the response as JSON, spliced into the frame.
            let answer = serde_json::to_string(&resp).expect("response serialises");
            let frame = answer_frame(&req.description, req.cmd, incoming.seq.as_ref(), &answer)
                .expect("a serialised response is a readable answer");
            let back: Value = serde_json::from_str(&frame).expect("response frame is JSON");
            assert_eq!(back["description"].as_str(), Some(req.description.as_str()));
            assert_eq!(back["rsp"].as_u64(), Some(u64::from(req.cmd)));
            // Echoed exactly, fractions too (PROTOCOL.md "seq").
            if incoming.seq.is_some() {
                assert_eq!(back.get("seq"), incoming.seq.as_ref());
            }
            assert!(same(&back["param"], &req.param), "param changed");

            // The request crosses the plugin boundary as the page's text
            // (or written afresh); the plugin reads the same request.
            let wire = incoming.plugin_text();
            let again: Request = serde_json::from_str(&wire).expect("a plugin reads the request");
            assert_eq!((again.cmd, &again.description), (req.cmd, &req.description));
            assert!(same(&again.param, &req.param), "param changed");

            let event = event_frame(req.cmd, &req.description, &req.param);
            serde_json::from_str::<Value>(&event).expect("event frame is JSON");

            // What the SIP commands read out of `param`.
            let p = &req.param;
            let _ = params::config(p, &params::SipSettings::default());
            let _ = params::login(p);
            let _ = params::callee(p);
            let _ = params::is_video(p);
            let _ = params::call_id(p);
            if let Ok(t) = params::tone(p) {
                let _ = params::tone_char(t);
            }
        }
        Err(rejection) => {
            let frame = rejection.into_frame();
            let back: Value = serde_json::from_str(&frame).expect("rejection is JSON");
            assert_eq!(back["result"], 2);
            assert!(back["errMsg"].is_string());
            assert!(back["description"].is_string());
            assert!(back["rsp"].is_u64());
        }
    }
});
