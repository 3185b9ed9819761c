//! Offer/answer of the audio section: which codecs, payload types, DTMF,
//! SRTP keys and direction, and what a started call uses from the local
//! and remote sections.

use std::net::{IpAddr, SocketAddr};

use seatphone_media::agree;
use seatphone_media::sdp::{Direction, MediaSection, RtpMap};
use seatphone_media::srtp::{Crypto, Suite};
use seatphone_media::stream::StreamParams;

use crate::codecs::{self, CodecParams, CodecSpec};
use crate::page_config::{PageConfig, SrtpMode};

/// telephone-event payload types we offer: one for 8 kHz codecs, one for Opus.
pub const TE_8K: u8 = 101;
pub const TE_48K: u8 = 102;

/// Our offer: every configured codec, telephone-event, keys as the SRTP mode asks.
pub fn offer(config: &PageConfig, address: IpAddr, port: u16) -> MediaSection {
    let proto = if config.srtp == SrtpMode::Required {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    let mut s = MediaSection::new("audio", port, proto, address);
    for c in &config.codecs {
        s.add_format(c.rtpmap(), c.fmtp);
    }
    if config.codecs.iter().any(|c| c.clock_rate == 48000) {
        s.add_format(
            RtpMap::new(TE_48K, "telephone-event", 48000, 1),
            Some("0-16"),
        );
    }
    s.add_format(RtpMap::new(TE_8K, "telephone-event", 8000, 1), Some("0-16"));
    if config.srtp != SrtpMode::Off {
        s.crypto
            .push(Crypto::generate(1, Suite::AesCm128HmacSha1_80));
        s.crypto
            .push(Crypto::generate(2, Suite::AesCm128HmacSha1_32));
    }
    s.rtcp_port = Some(port.wrapping_add(1));
    s.ptime = Some(20);
    s
}

/// Our answer to `remote`, or why we refuse it.
pub fn answer(
    config: &PageConfig,
    remote: &MediaSection,
    address: IpAddr,
    port: u16,
) -> Result<MediaSection, String> {
    if remote.media != "audio" {
        return Err(format!(
            "the audio plugin cannot answer {} media",
            remote.media
        ));
    }
    let mut s = MediaSection::new("audio", port, &remote.proto, address);
    // Our priority decides among what the peer offers.
    let chosen = config
        .codecs
        .iter()
        .find_map(|ours| {
            remote.formats.iter().find_map(|pt| {
                let map = remote.rtpmap(*pt)?;
                (codecs::by_rtpmap(&map) == Some(*ours)).then_some((*ours, map))
            })
        })
        .ok_or_else(|| {
            let offered: Vec<String> = remote
                .formats
                .iter()
                .filter_map(|pt| remote.rtpmap(*pt).map(|m| m.name))
                .collect();
            format!(
                "no common audio codec: the peer offers [{}], the page allows [{}]",
                offered.join(", "),
                config
                    .codecs
                    .iter()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let (spec, map) = chosen;
    // Answer with the peer's payload type number (RFC 3264 §6.1 allows either; same is safest).
    s.add_format(
        RtpMap::new(map.payload_type, spec.name, spec.clock_rate, spec.channels),
        spec.fmtp,
    );
    if let Some(te) = pick_telephone_event(remote, spec.clock_rate) {
        let clock = remote.rtpmap(te).map_or(8000, |m| m.clock_rate);
        s.add_format(RtpMap::new(te, "telephone-event", clock, 1), Some("0-16"));
    }
    let key = agree::answer_key(
        config.srtp == SrtpMode::Off,
        config.srtp == SrtpMode::Required,
        remote,
    )?;
    s.crypto.extend(key);
    s.direction = remote.direction.reversed();
    if remote.is_silent() {
        s.direction = Direction::Inactive;
    }
    s.rtcp_port = Some(port.wrapping_add(1));
    s.ptime = Some(remote.ptime.unwrap_or(20));
    Ok(s)
}

/// The encoding names of a section's formats, telephone-event aside.
fn codec_names(s: &MediaSection) -> String {
    s.formats
        .iter()
        .filter_map(|pt| s.rtpmap(*pt))
        .filter(|m| !m.name.eq_ignore_ascii_case("telephone-event"))
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prefer the telephone-event whose clock matches the codec's.
fn pick_telephone_event(s: &MediaSection, clock: u32) -> Option<u8> {
    s.telephone_event(clock).or_else(|| s.telephone_event(8000))
}

/// What a started call uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Negotiated {
    pub codec: CodecSpec,
    pub params: CodecParams,
    /// The payload type we send the codec with (the peer's number).
    pub send_pt: u8,
    /// Payload types we accept as the codec.
    pub recv_pts: Vec<u8>,
    /// The peer's telephone-event payload type and its clock.
    pub te_send: Option<(u8, u32)>,
    pub te_recv: Vec<u8>,
    pub remote_rtp: SocketAddr,
    pub remote_rtcp: SocketAddr,
    pub direction: Direction,
    /// (ours, theirs) keys when SRTP is on.
    pub srtp: Option<(Crypto, Crypto)>,
}

impl Negotiated {
    /// What the media core needs of it (everything but the codec).
    pub fn stream_params(&self) -> StreamParams {
        StreamParams {
            clock_rate: self.codec.clock_rate,
            send_pt: self.send_pt,
            recv_pts: self.recv_pts.clone(),
            events_send: self.te_send,
            events_recv: self.te_recv.clone(),
            remote_rtp: self.remote_rtp,
            remote_rtcp: self.remote_rtcp,
            direction: self.direction,
            srtp: self.srtp.clone(),
        }
    }
}

/// The call's parameters from both sections (ours, theirs), whoever offered.
pub fn negotiated(
    config: &PageConfig,
    local: &MediaSection,
    remote: &MediaSection,
) -> Result<Negotiated, String> {
    // The first of the peer's formats that we also listed.
    let (codec, send_pt) = remote
        .formats
        .iter()
        .find_map(|pt| {
            let spec = codecs::by_rtpmap(&remote.rtpmap(*pt)?)?;
            let ours = local
                .formats
                .iter()
                .any(|l| local.rtpmap(*l).and_then(|m| codecs::by_rtpmap(&m)) == Some(spec));
            ours.then_some((spec, *pt))
        })
        .ok_or_else(|| {
            format!(
                "no common audio codec: the peer's section has [{}], ours [{}]",
                codec_names(remote),
                codec_names(local)
            )
        })?;
    let mut recv_pts = vec![send_pt];
    recv_pts.extend(
        local
            .formats
            .iter()
            .copied()
            .filter(|pt| local.rtpmap(*pt).and_then(|m| codecs::by_rtpmap(&m)) == Some(codec)),
    );
    let te_send = pick_telephone_event(remote, codec.clock_rate)
        .map(|pt| (pt, remote.rtpmap(pt).map_or(8000, |m| m.clock_rate)));
    let mut te_recv: Vec<u8> = te_send.iter().map(|(pt, _)| *pt).collect();
    te_recv.extend(local.formats.iter().copied().filter(|pt| {
        local
            .rtpmap(*pt)
            .is_some_and(|m| m.name.eq_ignore_ascii_case("telephone-event"))
    }));
    let (remote_rtp, remote_rtcp) = agree::remote_addresses(local, remote)?;
    let srtp = agree::srtp(local, remote, config.srtp == SrtpMode::Required)?;
    let direction = agree::direction(local, remote);
    Ok(Negotiated {
        codec,
        params: CodecParams::from_fmtp(remote.fmtp(send_pt)),
        send_pt,
        recv_pts,
        te_send,
        te_recv,
        remote_rtp,
        remote_rtcp,
        direction,
        srtp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page_config::DtmfMode;

    fn config(srtp: SrtpMode, codecs: &[CodecSpec]) -> PageConfig {
        PageConfig {
            codecs: codecs.to_vec(),
            srtp,
            dtmf: DtmfMode::Rfc4733Auto,
            ..PageConfig::default()
        }
    }

    const LO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn offer_then_answer_then_both_sides_agree() {
        let a_cfg = config(SrtpMode::BestEffort, &[codecs::OPUS, codecs::PCMA]);
        let b_cfg = config(SrtpMode::BestEffort, &[codecs::PCMA, codecs::OPUS]);
        let offer = offer(&a_cfg, LO, 4000);
        let text = offer.to_sdp();
        assert!(
            text.starts_with("m=audio 4000 RTP/AVP 111 8 102 101\r\n"),
            "{text}"
        );
        let parsed = MediaSection::parse(&text).unwrap();
        let ans = answer(&b_cfg, &parsed, LO, 5000).unwrap();
        // B prefers PCMA.
        assert_eq!(ans.formats, vec![8, 101]);
        assert_eq!(ans.crypto.len(), 1);
        let ans = MediaSection::parse(&ans.to_sdp()).unwrap();
        let a = negotiated(&a_cfg, &parsed, &ans).unwrap();
        let b = negotiated(&b_cfg, &ans, &parsed).unwrap();
        assert_eq!(a.codec, codecs::PCMA);
        assert_eq!(b.codec, codecs::PCMA);
        assert_eq!(a.remote_rtp, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(a.remote_rtcp, "127.0.0.1:5001".parse().unwrap());
        assert_eq!(a.te_send, Some((101, 8000)));
        assert_eq!(b.te_send, Some((101, 8000)));
        let (a_ours, a_theirs) = a.srtp.clone().unwrap();
        let (b_ours, b_theirs) = b.srtp.clone().unwrap();
        assert_eq!(a_ours, b_theirs);
        assert_eq!(a_theirs, b_ours);
        assert_eq!(a.direction, Direction::SendRecv);
    }

    #[test]
    fn opus_uses_the_48k_telephone_event_when_offered() {
        let cfg = config(SrtpMode::Off, &[codecs::OPUS]);
        let o = offer(&cfg, LO, 4000);
        assert!(o.crypto.is_empty());
        let ans = answer(&cfg, &o, LO, 5000).unwrap();
        assert_eq!(ans.formats, vec![111, 102]);
        let n = negotiated(&cfg, &o, &ans).unwrap();
        assert_eq!(n.te_send, Some((102, 48000)));
        assert!(n.params.fec && n.params.dtx);
    }

    #[test]
    fn srtp_modes_refuse_what_they_must() {
        let required = config(SrtpMode::Required, &[codecs::PCMU]);
        let off = config(SrtpMode::Off, &[codecs::PCMU]);
        let best = config(SrtpMode::BestEffort, &[codecs::PCMU]);
        let savp = offer(&required, LO, 4000);
        assert_eq!(savp.proto, "RTP/SAVP");
        assert!(answer(&off, &savp, LO, 5000).unwrap_err().contains("SRTP"));
        let plain = offer(&off, LO, 4000);
        assert!(answer(&required, &plain, LO, 5000)
            .unwrap_err()
            .contains("crypto"));
        // Best effort answered without crypto: plain RTP.
        let ours = offer(&best, LO, 4000);
        let theirs = answer(&off, &ours, LO, 5000).unwrap();
        assert!(theirs.crypto.is_empty());
        assert_eq!(negotiated(&best, &ours, &theirs).unwrap().srtp, None);
        // Required and answered without crypto: refused at start.
        let ours = offer(&required, LO, 4000);
        let mut theirs = answer(&required, &ours, LO, 5000).unwrap();
        theirs.crypto.clear();
        assert!(negotiated(&required, &ours, &theirs).is_err());
    }

    #[test]
    fn no_common_codec_is_explained() {
        let a = offer(&config(SrtpMode::Off, &[codecs::OPUS]), LO, 4000);
        let e = answer(&config(SrtpMode::Off, &[codecs::PCMU]), &a, LO, 5000).unwrap_err();
        assert!(e.contains("opus") && e.contains("PCMU"), "{e}");
        // An answer with a codec we never offered (SIPp's default UAS).
        let pcmu = offer(&config(SrtpMode::Off, &[codecs::PCMU]), LO, 5000);
        let e = negotiated(&config(SrtpMode::Off, &[codecs::OPUS]), &a, &pcmu).unwrap_err();
        assert_eq!(
            e,
            "no common audio codec: the peer's section has [PCMU], ours [opus]"
        );
    }

    #[test]
    fn hold_directions() {
        let cfg = config(SrtpMode::Off, &[codecs::PCMU]);
        let mut o = offer(&cfg, LO, 4000);
        o.direction = Direction::SendOnly;
        let a = answer(&cfg, &o, LO, 5000).unwrap();
        assert_eq!(a.direction, Direction::RecvOnly);
        assert_eq!(
            negotiated(&cfg, &o, &a).unwrap().direction,
            Direction::SendOnly
        );
        assert_eq!(
            negotiated(&cfg, &a, &o).unwrap().direction,
            Direction::RecvOnly
        );
        let mut o = offer(&cfg, LO, 4000);
        o.address = Some("0.0.0.0".parse().unwrap());
        let a = answer(&cfg, &o, LO, 5000).unwrap();
        assert_eq!(a.direction, Direction::Inactive);
        assert_eq!(
            negotiated(&cfg, &a, &o).unwrap().direction,
            Direction::Inactive
        );
    }
}
