//! What goes on the wire and into the message log is the message as
//! parsed, byte for byte: headers in order, each with its CRLF, the blank
//! line, the body. (The patched rsipstack writes headers straight into
//! the output instead of joining a String per header, issue 20.)

use rsipstack::sip::SipMessage;

const REQUEST: &str = "INVITE sip:1010@127.0.0.1:5060 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK77;rport\r\n\
    Max-Forwards: 70\r\n\
    From: \"Agent\" <sip:1001@example.com>;tag=a1\r\n\
    To: <sip:1010@example.com>\r\n\
    Call-ID: c9@127.0.0.1\r\n\
    CSeq: 2 INVITE\r\n\
    Contact: <sip:1001@127.0.0.1:5062>\r\n\
    Proxy-Authorization: Digest username=\"1001\", realm=\"example.com\", nonce=\"n\", uri=\"sip:1010@127.0.0.1:5060\", response=\"0123456789abcdef0123456789abcdef\"\r\n\
    Session-Expires: 1800;refresher=uac\r\n\
    X-Seat: 7\r\n\
    Content-Type: application/sdp\r\n\
    Content-Length: 11\r\n\
    \r\n\
    v=0\r\no=- \r\n";

const RESPONSE: &str = "SIP/2.0 200 OK\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK77;rport=5062\r\n\
    Record-Route: <sip:127.0.0.1:5060;lr>\r\n\
    From: \"Agent\" <sip:1001@example.com>;tag=a1\r\n\
    To: <sip:1010@example.com>;tag=b2\r\n\
    Call-ID: c9@127.0.0.1\r\n\
    CSeq: 2 INVITE\r\n\
    Content-Length: 0\r\n\
    \r\n";

fn parsed(text: &str) -> SipMessage {
    SipMessage::try_from(text).unwrap_or_else(|e| panic!("{e:?}: {text}"))
}

#[test]
fn a_request_is_written_as_it_was_read() {
    let msg = parsed(REQUEST);
    assert_eq!(String::from_utf8(msg.to_bytes()).unwrap(), REQUEST);
    assert_eq!(msg.to_string(), REQUEST);
}

#[test]
fn a_response_is_written_as_it_was_read() {
    let msg = parsed(RESPONSE);
    assert_eq!(String::from_utf8(msg.to_bytes()).unwrap(), RESPONSE);
    assert_eq!(msg.to_string(), RESPONSE);
}
