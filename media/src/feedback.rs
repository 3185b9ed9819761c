//! RTCP feedback for video: picture loss (PLI, RFC 4585), full intra
//! request (FIR, RFC 5104), generic NACK (RFC 4585), and the FIR of
//! RFC 2032 (packet type 192) that older phones send when the SDP carries no
//! `a=rtcp-fb` (baresip 1.0 does).
//!
//! The RFC 4585/5104 messages are read and written by the `rtcp` crate;
//! this module walks a compound packet, hands it the feedback parts, and
//! handles RFC 2032's 8-byte FIR itself (the crate does not know type 192).
//! Feedback must travel in a compound packet after a report
//! (RFC 4585 §3.1): append what these builders return to [`crate::rtcp::build`].

use bytes::Bytes;
use rtcp::packet::Packet;
use rtcp::payload_feedbacks::full_intra_request::{FirEntry, FullIntraRequest};
use rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtcp::transport_feedbacks::transport_layer_nack::{
    nack_pairs_from_sequence_numbers, TransportLayerNack,
};

/// RFC 2032's FIR.
const PT_FIR_2032: u8 = 192;
/// Transport-layer feedback (RFC 4585): NACK is format 1.
const PT_RTPFB: u8 = 205;
/// Payload-specific feedback (RFC 4585): PLI is format 1, FIR format 4.
const PT_PSFB: u8 = 206;

/// One feedback message read from a compound packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// The receiver lost pictures: send a keyframe.
    PictureLoss { sender_ssrc: u32, media_ssrc: u32 },
    /// Send a keyframe now (RFC 5104). `seq` repeats for a retransmitted
    /// request, which must not bring a second keyframe.
    FullIntra {
        sender_ssrc: u32,
        media_ssrc: u32,
        seq: u8,
    },
    /// RFC 2032's FIR: send a keyframe. `ssrc` is the stream's (ours).
    FullIntraLegacy { ssrc: u32 },
    /// These packets of `media_ssrc` were lost.
    Nack {
        sender_ssrc: u32,
        media_ssrc: u32,
        lost: Vec<u16>,
    },
}

impl Feedback {
    /// Whether the peer asks for a keyframe.
    pub fn wants_keyframe(&self) -> bool {
        !matches!(self, Feedback::Nack { .. })
    }
}

/// The feedback messages of a compound RTCP packet, in order. Reports and
/// other parts are skipped (read them with [`crate::rtcp::parse`]); a
/// feedback part that does not parse is an error naming it.
pub fn parse(buf: &[u8]) -> Result<Vec<Feedback>, String> {
    let mut out = Vec::new();
    let mut rest = buf;
    while rest.len() >= 4 {
        if rest[0] >> 6 != 2 {
            return Err("not RTCP (version)".into());
        }
        let pt = rest[1];
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        let part = rest
            .get(..len)
            .ok_or_else(|| format!("RTCP length {len} past the end ({})", rest.len()))?;
        match pt {
            PT_FIR_2032 => {
                let ssrc = part
                    .get(4..8)
                    .ok_or("RFC 2032 FIR without an SSRC")?
                    .try_into()
                    .map(u32::from_be_bytes)
                    .map_err(|_| "RFC 2032 FIR without an SSRC")?;
                out.push(Feedback::FullIntraLegacy { ssrc });
            }
            PT_RTPFB | PT_PSFB => out.extend(typed(part)?),
            _ => {}
        }
        rest = &rest[len..];
    }
    Ok(out)
}

/// One RFC 4585 part through the `rtcp` crate; formats we have no use for
/// (REMB, SLI, transport-cc …) are skipped.
fn typed(part: &[u8]) -> Result<Option<Feedback>, String> {
    let fmt = part[0] & 0x1f;
    let packets = rtcp::packet::unmarshal(&mut Bytes::copy_from_slice(part))
        .map_err(|e| format!("RTCP feedback (type {}, format {fmt}): {e}", part[1]))?;
    let Some(p) = packets.first() else {
        return Ok(None);
    };
    let any = p.as_any();
    if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
        return Ok(Some(Feedback::PictureLoss {
            sender_ssrc: pli.sender_ssrc,
            media_ssrc: pli.media_ssrc,
        }));
    }
    if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
        // One entry per stream asked; ours is found by the caller's SSRC.
        return Ok(fir.fir.first().map(|e| Feedback::FullIntra {
            sender_ssrc: fir.sender_ssrc,
            media_ssrc: e.ssrc,
            seq: e.sequence_number,
        }));
    }
    if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
        let lost = nack.nacks.iter().flat_map(|n| n.packet_list()).collect();
        return Ok(Some(Feedback::Nack {
            sender_ssrc: nack.sender_ssrc,
            media_ssrc: nack.media_ssrc,
            lost,
        }));
    }
    Ok(None)
}

fn marshal(p: &impl Packet) -> Vec<u8> {
    // Marshalling a well-formed message into a fresh buffer cannot fail.
    p.marshal().map(|b| b.to_vec()).unwrap_or_default()
}

/// A PLI from `sender_ssrc` (ours) about the peer's `media_ssrc`.
pub fn picture_loss(sender_ssrc: u32, media_ssrc: u32) -> Vec<u8> {
    marshal(&PictureLossIndication {
        sender_ssrc,
        media_ssrc,
    })
}

/// An RFC 5104 FIR; `seq` goes up by one for each new request.
pub fn full_intra(sender_ssrc: u32, media_ssrc: u32, seq: u8) -> Vec<u8> {
    marshal(&FullIntraRequest {
        sender_ssrc,
        media_ssrc: 0,
        fir: vec![FirEntry {
            ssrc: media_ssrc,
            sequence_number: seq,
        }],
    })
}

/// RFC 2032's FIR about the peer's `media_ssrc`, for a peer that did not
/// offer `a=rtcp-fb`.
pub fn full_intra_legacy(media_ssrc: u32) -> Vec<u8> {
    let mut out = vec![0x80, PT_FIR_2032, 0, 1];
    out.extend(media_ssrc.to_be_bytes());
    out
}

/// A generic NACK for `lost` packets of `media_ssrc`.
pub fn nack(sender_ssrc: u32, media_ssrc: u32, lost: &[u16]) -> Vec<u8> {
    marshal(&TransportLayerNack {
        sender_ssrc,
        media_ssrc,
        nacks: nack_pairs_from_sequence_numbers(lost),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp;

    /// Each message travels after a receiver report, as RFC 4585 wants,
    /// and reads back as sent; the report parser still reads the report.
    #[test]
    fn feedback_round_trips_inside_a_compound_packet() {
        let messages = [
            (
                picture_loss(1, 2),
                Feedback::PictureLoss {
                    sender_ssrc: 1,
                    media_ssrc: 2,
                },
            ),
            (
                full_intra(1, 2, 7),
                Feedback::FullIntra {
                    sender_ssrc: 1,
                    media_ssrc: 2,
                    seq: 7,
                },
            ),
            (full_intra_legacy(2), Feedback::FullIntraLegacy { ssrc: 2 }),
            (
                nack(1, 2, &[100, 101, 117, 300]),
                Feedback::Nack {
                    sender_ssrc: 1,
                    media_ssrc: 2,
                    lost: vec![100, 101, 117, 300],
                },
            ),
        ];
        for (bytes, want) in messages {
            let mut compound = rtcp::build(1, None, &[], "seatphone@127.0.0.1");
            compound.extend(&bytes);
            assert_eq!(parse(&compound).unwrap(), vec![want.clone()]);
            let report = rtcp::parse(&compound).unwrap();
            assert_eq!(report.ssrc, 1, "{want:?}");
        }
    }

    /// RFC 2032's FIR exactly as baresip 1.0 sends it: V=2, type 192,
    /// length 1, the SSRC of the stream it wants a keyframe of.
    #[test]
    fn rfc_2032_fir_is_read_alone_and_by_the_report_parser() {
        let fir = [0x80, 192, 0, 1, 0xde, 0xad, 0xbe, 0xef];
        assert_eq!(
            parse(&fir).unwrap(),
            vec![Feedback::FullIntraLegacy { ssrc: 0xdead_beef }]
        );
        assert_eq!(full_intra_legacy(0xdead_beef), fir);
        assert!(rtcp::parse(&fir).is_ok(), "a lone FIR is RTCP, not garbage");
    }

    #[test]
    fn only_nack_does_not_ask_for_a_keyframe() {
        assert!(Feedback::FullIntraLegacy { ssrc: 1 }.wants_keyframe());
        assert!(!Feedback::Nack {
            sender_ssrc: 1,
            media_ssrc: 2,
            lost: vec![]
        }
        .wants_keyframe());
    }

    #[test]
    fn malformed_feedback_is_an_error_not_a_panic() {
        assert!(parse(&[0x80, 192, 0, 0]).is_err()); // FIR without SSRC
        assert!(parse(&[0x81, 206, 0, 9, 0, 0, 0, 1]).is_err()); // past the end
        assert!(parse(&[0x81, 206, 0, 0]).is_err()); // PLI without SSRCs
        assert!(parse(&[0x40, 206, 0, 0]).is_err());
        assert_eq!(parse(&[]).unwrap(), vec![]);
        // Formats we have no use for are skipped: an RPSI (format 3).
        let mut rpsi = vec![0x83, 206, 0, 3];
        rpsi.extend([0; 12]);
        assert_eq!(parse(&rpsi).unwrap(), vec![]);
    }
}
