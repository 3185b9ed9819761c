//! One datagram (or stream chunk) at the host's SIP port, along the path a
//! real one takes: rsipstack's UDP receive (keep-alive and blank skip,
//! `SipMessage::try_from`, Via `received`/`rport`), the endpoint's
//! transaction and dialog keys, our RFC 3261 sanity check, then what the
//! engine reads out of a request that passes (To tag, SDP body, INFO
//! DTMF body) and the response it builds. The TCP/TLS framing codec gets
//! the same bytes as a stream.
//!
//! Oracle: no panic; a message we serialise parses again.

#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use rsipstack::dialog::DialogId;
use rsipstack::sip::{self as rsip, Header, HeadersExt, SipMessage};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transport::stream::{SipCodec, SipCodecType};
use rsipstack::transport::SipConnection;
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Decoder;

use seatphone_sip::fuzzing::{
    incoming_algorithm, parse_name_addr, platform_answer_after, redact, sanity_check,
};

fn datagram(data: &[u8]) {
    // rsipstack's UDP loop answers or drops these before parsing.
    if data == b"\r\n\r\n" || data == b"\r\n" || data.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let Ok(msg) = SipMessage::try_from(data) else {
        return;
    };
    let peer: SocketAddr = ([192, 0, 2, 7], 5062).into();
    let Ok(msg) = SipConnection::update_msg_received(msg, peer, rsip::Transport::Udp) else {
        return;
    };
    let _ = msg.cseq_header().map(|c| c.value().to_string());
    reparses(&msg);
    match &msg {
        SipMessage::Request(req) => request(req),
        SipMessage::Response(resp) => {
            let _ = TransactionKey::from_response(resp, TransactionRole::Client);
            let _ = resp.cseq_header().and_then(|c| c.method());
        }
    }
}

fn request(req: &rsip::Request) {
    if TransactionKey::from_request(req, TransactionRole::Server).is_err() {
        return; // the endpoint drops it
    }
    let _ = DialogId::try_from((req, TransactionRole::Server));
    if let Ok(from) = req.from_header() {
        let _ = parse_name_addr(from.value());
    }
    let _ = platform_answer_after(req);
    for h in req.headers.iter() {
        let _ = incoming_algorithm(&h.to_string());
    }
    let _ = redact(&req.to_string());
    if sanity_check(req).is_err() {
        reply(req, rsip::StatusCode::BadRequest);
        return;
    }
    let _ = req.to_header().and_then(|t| t.tag());
    let _ = req.from_header().map(|f| f.value().to_owned());
    let body = String::from_utf8_lossy(&req.body);
    if let Some(sections) = seatphone_sip::sdp::split(&body) {
        for s in &sections {
            let _ = seatphone_sip::sdp::refuse(s);
        }
    }
    let _ = seatphone_sip::params::dtmf_relay(&body);
    reply(req, rsip::StatusCode::OK);
}

/// What `Transaction::reply` does: a To tag on final responses, the
/// request's Via, Call-ID, From, To and CSeq copied into the response.
fn reply(req: &rsip::Request, status: rsip::StatusCode) {
    let mut headers = req.headers.clone();
    if let Ok(to) = req.to_header() {
        if matches!(to.tag(), Ok(None)) {
            headers.unique_push(to.clone().with_tag("fuzz".into()).into());
        }
    }
    headers.retain(|h| {
        matches!(
            h,
            Header::Via(_) | Header::CallId(_) | Header::From(_) | Header::To(_) | Header::CSeq(_)
        )
    });
    headers.push(Header::ContentLength(0u32.into()));
    let resp = rsip::Response {
        status_code: status,
        wire_reason: None,
        version: *req.version(),
        headers,
        body: Vec::new(),
    };
    reparses(&resp.into());
}

fn reparses(msg: &SipMessage) {
    let text = msg.to_bytes();
    let _ = msg.to_string();
    if let Err(e) = SipMessage::try_from(text.as_slice()) {
        panic!(
            "our serialisation does not parse ({e}):\n{}",
            String::from_utf8_lossy(&text)
        );
    }
}

/// rsipstack gap (sip/tests/fuzz_regressions.rs): its codec adds the first
/// Content-Length to the header length unchecked. Skipped here so the
/// fuzzer keeps looking past it.
fn content_length_overflows(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let Some(end) = text.find("\r\n\r\n") else {
        return false;
    };
    text[..end].split('\n').any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            matches!(name.to_ascii_lowercase().as_str(), "content-length" | "l")
                && value.trim().parse::<usize>().is_ok_and(|n| n > 1 << 32)
        })
    })
}

/// The TCP/TLS framing: the same bytes as a stream, message by message.
fn stream(data: &[u8]) {
    if content_length_overflows(data) {
        return;
    }
    let mut codec = SipCodec::new();
    let mut buf = BytesMut::from(data);
    for _ in 0..16 {
        match codec.decode(&mut buf) {
            Ok(Some(SipCodecType::Message(msg))) => {
                if let SipMessage::Request(req) = &msg {
                    let _ = sanity_check(req);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    datagram(data);
    stream(data);
});
