//! Frames the `ws_frame` fuzz target (`fuzz/`) once failed on, replayed
//! from `fuzz/regressions/ws_frame/`.

use std::path::PathBuf;

use seatphone::api::frame::{parse_request, response_frame};
use seatphone_plugin_api::Response;
use serde_json::Value;

fn regressions() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/ws_frame")
}

fn echoed_seq(frame: &str) -> Value {
    let i = parse_request(frame).unwrap();
    let out = response_frame(&i.description, i.cmd, i.seq.as_ref(), &Response::ok());
    serde_json::from_str::<Value>(&out).unwrap()["seq"].clone()
}

#[test]
fn every_regression_frame_is_answered() {
    for entry in std::fs::read_dir(regressions()).unwrap() {
        let text = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(text) = std::str::from_utf8(&text) {
            match parse_request(text) {
                Ok(i) => assert!(i.request().param.is_object()),
                Err(r) => assert!(serde_json::from_str::<Value>(&r.into_frame()).is_ok()),
            }
        }
    }
}

#[test]
fn a_fractional_seq_is_echoed_as_the_number_sent() {
    // serde_json without float_roundtrip read this one ulp off (…07775), so
    // the page could not match the response to its request.
    let frame = std::fs::read_to_string(regressions().join("seq-fraction-echoed-exactly")).unwrap();
    let sent = "1.777777777770777777777777777777777777777777777777777777777775";
    assert!(frame.contains(sent));
    assert_eq!(
        echoed_seq(&frame).as_f64(),
        Some(sent.parse::<f64>().unwrap())
    );
}
