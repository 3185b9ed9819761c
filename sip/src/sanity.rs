//! Checks of RFC 3261 §8.2 that the stack's parser does not make: a request
//! that fails them is answered 400 and never reaches the call table (RFC 4475
//! §3.1.2: a negative Content-Length is read as 0 by the parser; a CSeq
//! method that contradicts the request line; missing mandatory headers).

use rsipstack::sip::{self as rsip, Header, HeadersExt};

/// `Err(reason)` for a request to refuse with 400.
pub fn check(req: &rsip::Request) -> Result<(), &'static str> {
    for header in req.headers.iter() {
        if let Header::ContentLength(cl) = header {
            match cl.value().trim().parse::<usize>() {
                Ok(n) if n <= req.body.len() => {}
                Ok(_) => return Err("Content-Length larger than the body"),
                Err(_) => return Err("Content-Length is not a non-negative integer"),
            }
        }
    }
    if req.call_id_header().is_err() || req.from_header().is_err() || req.to_header().is_err() {
        return Err("missing Call-ID, From or To");
    }
    if req.via_header().is_err() {
        return Err("missing Via");
    }
    let cseq = req.cseq_header().map_err(|_| "missing CSeq")?;
    if cseq.method().map_err(|_| "malformed CSeq")? != req.method {
        return Err("CSeq method does not match the request line");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> rsip::Request {
        rsip::Request::try_from(text.as_bytes().to_vec()).expect("parses")
    }

    const GOOD: &str =
        "INVITE sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
        From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:1@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\
        Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn a_well_formed_request_passes() {
        assert_eq!(check(&parse(GOOD)), Ok(()));
    }

    #[test]
    fn negative_content_length_and_cseq_mismatch_are_refused() {
        let ncl = GOOD.replace("Content-Length: 0", "Content-Length: -999");
        assert!(check(&parse(&ncl)).is_err());
        let mismatch = GOOD.replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS");
        assert!(check(&parse(&mismatch)).is_err());
        let no_call_id = GOOD.replace("Call-ID: c1\r\n", "");
        assert!(check(&parse(&no_call_id)).is_err());
    }
}
