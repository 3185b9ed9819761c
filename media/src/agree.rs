//! What two SDP media sections (ours and the peer's, whoever offered)
//! agree on, whatever the media: where to send, SRTP keys, direction.
//! The codec choice is each plugin's own.

use std::net::SocketAddr;

use crate::sdp::{Direction, MediaSection};
use crate::srtp::Crypto;

/// The peer's RTP and RTCP addresses (RTCP on the RTP port under rtcp-mux
/// when both sides said so, else `a=rtcp` or the next port).
pub fn remote_addresses(
    local: &MediaSection,
    remote: &MediaSection,
) -> Result<(SocketAddr, SocketAddr), String> {
    let address = remote
        .address
        .ok_or("the remote section has no c= address")?;
    let rtcp_port = if remote.rtcp_mux && local.rtcp_mux {
        remote.port
    } else {
        remote.rtcp_port.unwrap_or(remote.port.wrapping_add(1))
    };
    Ok((
        SocketAddr::new(address, remote.port),
        SocketAddr::new(address, rtcp_port),
    ))
}

/// The (ours, theirs) keys both sections list with the same tag and suite;
/// none is an error when SRTP is `required` or our section is RTP/SAVP.
pub fn srtp(
    local: &MediaSection,
    remote: &MediaSection,
    required: bool,
) -> Result<Option<(Crypto, Crypto)>, String> {
    let keys = remote.crypto.iter().find_map(|theirs| {
        local
            .crypto
            .iter()
            .find(|ours| ours.tag == theirs.tag && ours.suite == theirs.suite)
            .map(|ours| (ours.clone(), theirs.clone()))
    });
    if keys.is_none() && (required || local.is_secure_proto()) {
        return Err("SRTP is required and the sections agree on no crypto key".into());
    }
    Ok(keys)
}

/// Both sides must agree to send in a direction; an on-hold address or
/// port 0 on the peer's side silences us.
pub fn direction(local: &MediaSection, remote: &MediaSection) -> Direction {
    let direction = match (
        local.direction.sends() && remote.direction.receives(),
        local.direction.receives() && remote.direction.sends(),
    ) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    };
    if !remote.is_silent() {
        return direction;
    }
    match direction {
        Direction::SendRecv | Direction::RecvOnly => Direction::RecvOnly,
        _ => Direction::Inactive,
    }
}

/// Our key for an answer to `remote`: one of the same tag and suite as the
/// peer's first, none when SRTP is `off` (refused if the peer requires it),
/// or an error when SRTP is `required` and the peer offers no key.
pub fn answer_key(
    off: bool,
    required: bool,
    remote: &MediaSection,
) -> Result<Option<Crypto>, String> {
    let secure_offer = remote.is_secure_proto();
    match (off, remote.crypto.first()) {
        (true, _) if secure_offer => {
            Err("the peer requires SRTP and media.trans_mode is 0 (RTP only)".into())
        }
        (true, _) => Ok(None),
        (false, Some(theirs)) => Ok(Some(Crypto::generate(theirs.tag, theirs.suite))),
        (false, None) if required => {
            Err("media.trans_mode 2 requires SRTP and the peer offers no crypto".into())
        }
        (false, None) if secure_offer => {
            Err("the peer offers RTP/SAVP without a crypto line we support".into())
        }
        (false, None) => Ok(None),
    }
}
