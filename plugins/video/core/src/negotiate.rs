//! Offer/answer of the video section: VP8 and H.264 (packetization-mode 1,
//! constrained baseline) in the configured preference order, keyframe
//! feedback (`a=rtcp-fb` nack, pli, ccm fir), the peer's bandwidth limit
//! (`b=AS` / `b=TIAS`), SRTP keys and direction, and the stream parameters
//! a started call uses.

use std::net::IpAddr;

use seatphone_media::agree;
use seatphone_media::payload::VideoCodec;
use seatphone_media::sdp::{Direction, MediaSection, RtpMap};
use seatphone_media::srtp::{Crypto, Suite};
use seatphone_media::stream::StreamParams;

/// Our payload types (dynamic; each m-line numbers its own).
const PT_VP8: u8 = 96;
const PT_H264: u8 = 97;

/// What we send as H.264: constrained baseline, level 3.1, mode 1.
pub const H264_FMTP: &str = "profile-level-id=42e01f;packetization-mode=1";

/// The feedback we understand (RFC 4585, RFC 5104).
const RTCP_FB: [&str; 3] = ["* nack", "* nack pli", "* ccm fir"];

/// SRTP as the page's `media.trans_mode` sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Srtp {
    /// RTP only.
    Off,
    /// SRTP when the peer offers it.
    #[default]
    BestEffort,
    /// SRTP or no call.
    Required,
}

/// What offers and answers are made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    /// In order of preference; at least one.
    pub codecs: Vec<VideoCodec>,
    pub srtp: Srtp,
}

fn pt_of(codec: VideoCodec) -> u8 {
    match codec {
        VideoCodec::Vp8 => PT_VP8,
        VideoCodec::H264 => PT_H264,
    }
}

fn add_codec(s: &mut MediaSection, codec: VideoCodec, pt: u8) {
    let fmtp = (codec == VideoCodec::H264).then_some(H264_FMTP);
    s.add_format(RtpMap::new(pt, codec.name(), 90_000, 1), fmtp);
}

fn add_feedback(s: &mut MediaSection) {
    s.other
        .extend(RTCP_FB.iter().map(|fb| format!("rtcp-fb:{fb}")));
}

/// The codec a payload type of `s` carries, if one we can use: H.264 only
/// in packetization-mode 1 (mode 0 forbids the FU-A we send).
fn codec_of(s: &MediaSection, pt: u8) -> Option<VideoCodec> {
    let map = s.rtpmap(pt)?;
    if map.clock_rate != 90_000 {
        return None;
    }
    let codec = VideoCodec::from_name(&map.name)?;
    if codec == VideoCodec::H264 {
        let fmtp = s.fmtp(pt).unwrap_or("");
        let mode1 = fmtp
            .split(';')
            .any(|p| p.trim().eq_ignore_ascii_case("packetization-mode=1"));
        if !mode1 {
            return None;
        }
    }
    Some(codec)
}

/// Our offer.
pub fn offer(prefs: &Preferences, address: IpAddr, port: u16) -> MediaSection {
    let proto = if prefs.srtp == Srtp::Required {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    let mut s = MediaSection::new("video", port, proto, address);
    for c in &prefs.codecs {
        add_codec(&mut s, *c, pt_of(*c));
    }
    add_feedback(&mut s);
    if prefs.srtp != Srtp::Off {
        s.crypto
            .push(Crypto::generate(1, Suite::AesCm128HmacSha1_80));
        s.crypto
            .push(Crypto::generate(2, Suite::AesCm128HmacSha1_32));
    }
    s.rtcp_port = Some(port.wrapping_add(1));
    s
}

/// Our answer to `remote`, or why we refuse it (the caller then answers
/// the section with port 0).
pub fn answer(
    prefs: &Preferences,
    remote: &MediaSection,
    address: IpAddr,
    port: u16,
) -> Result<MediaSection, String> {
    if remote.media != "video" {
        return Err(format!(
            "the video plugin cannot answer {} media",
            remote.media
        ));
    }
    let (codec, pt) = prefs
        .codecs
        .iter()
        .find_map(|ours| {
            remote
                .formats
                .iter()
                .find(|pt| codec_of(remote, **pt) == Some(*ours))
                .map(|pt| (*ours, *pt))
        })
        .ok_or_else(|| {
            let offered: Vec<String> = remote
                .formats
                .iter()
                .filter_map(|pt| remote.rtpmap(*pt).map(|m| m.name))
                .collect();
            format!(
                "no common video codec: the peer offers [{}], we allow [{}]",
                offered.join(", "),
                prefs
                    .codecs
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let mut s = MediaSection::new("video", port, &remote.proto, address);
    // The peer's payload type number, as the audio plugin does.
    add_codec(&mut s, codec, pt);
    if remote.other.iter().any(|a| a.starts_with("rtcp-fb:")) {
        add_feedback(&mut s);
    }
    let key = agree::answer_key(
        prefs.srtp == Srtp::Off,
        prefs.srtp == Srtp::Required,
        remote,
    )?;
    s.crypto.extend(key);
    s.direction = remote.direction.reversed();
    if remote.is_silent() {
        s.direction = Direction::Inactive;
    }
    s.rtcp_port = Some(port.wrapping_add(1));
    Ok(s)
}

/// What a started call uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Negotiated {
    pub codec: VideoCodec,
    pub stream: StreamParams,
    /// The peer's limit for what we send, bit/s (`b=TIAS`, else `b=AS`).
    pub max_send_bps: Option<u32>,
}

/// The call's parameters from both sections (ours, theirs), whoever
/// offered. `remote_text` is the peer's section as text, for its `b=` lines
/// (the shared section type keeps none).
pub fn negotiated(
    prefs: &Preferences,
    local: &MediaSection,
    remote: &MediaSection,
    remote_text: &str,
) -> Result<Negotiated, String> {
    let (codec, send_pt) = remote
        .formats
        .iter()
        .find_map(|pt| {
            let codec = codec_of(remote, *pt)?;
            let ours = local
                .formats
                .iter()
                .any(|l| codec_of(local, *l) == Some(codec));
            ours.then_some((codec, *pt))
        })
        .ok_or("no common video codec between the two sections")?;
    let mut recv_pts = vec![send_pt];
    recv_pts.extend(
        local
            .formats
            .iter()
            .copied()
            .filter(|pt| codec_of(local, *pt) == Some(codec) && *pt != send_pt),
    );
    let (remote_rtp, remote_rtcp) = agree::remote_addresses(local, remote)?;
    Ok(Negotiated {
        codec,
        stream: StreamParams {
            clock_rate: 90_000,
            send_pt,
            recv_pts,
            events_send: None,
            events_recv: vec![],
            remote_rtp,
            remote_rtcp,
            direction: agree::direction(local, remote),
            srtp: agree::srtp(local, remote, prefs.srtp == Srtp::Required)?,
        },
        max_send_bps: bandwidth_bps(remote_text),
    })
}

/// The section's bandwidth limit in bit/s: `b=TIAS` (RFC 3890, bit/s) over
/// `b=AS` (kbit/s).
pub fn bandwidth_bps(section: &str) -> Option<u32> {
    let value = |kind: &str| {
        section.lines().find_map(|l| {
            l.trim()
                .strip_prefix("b=")?
                .strip_prefix(kind)?
                .strip_prefix(':')?
                .trim()
                .parse::<u32>()
                .ok()
        })
    };
    value("TIAS").or_else(|| value("AS").map(|kbps| kbps.saturating_mul(1000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn prefs(codecs: &[VideoCodec]) -> Preferences {
        Preferences {
            codecs: codecs.to_vec(),
            srtp: Srtp::BestEffort,
        }
    }

    #[test]
    fn our_offer_lists_both_codecs_and_feedback() {
        let s = offer(
            &prefs(&[VideoCodec::H264, VideoCodec::Vp8]),
            LOCALHOST,
            40000,
        );
        let text = s.to_sdp();
        assert!(
            text.starts_with("m=video 40000 RTP/AVP 97 96\r\n"),
            "{text}"
        );
        assert!(text.contains(
            "a=rtpmap:97 H264/90000\r\na=fmtp:97 profile-level-id=42e01f;packetization-mode=1\r\n"
        ));
        assert!(text.contains("a=rtpmap:96 VP8/90000\r\n"));
        assert!(
            text.contains("a=rtcp-fb:* nack pli\r\n") && text.contains("a=rtcp-fb:* ccm fir\r\n")
        );
        assert_eq!(s.crypto.len(), 2);
    }

    /// baresip 1.0's video offer: no rtcp-fb, H.264 in both modes, VP8.
    const BARESIP: &str = "m=video 10006 RTP/AVP 96 97 98\r\n\
        c=IN IP4 127.0.0.1\r\n\
        b=AS:300\r\n\
        a=rtpmap:96 H264/90000\r\n\
        a=fmtp:96 packetization-mode=0\r\n\
        a=rtpmap:97 H264/90000\r\n\
        a=fmtp:97 packetization-mode=1\r\n\
        a=rtpmap:98 VP8/90000\r\n\
        a=sendrecv\r\n";

    #[test]
    fn we_answer_with_our_preference_among_what_is_offered() {
        let remote = MediaSection::parse(BARESIP).unwrap();
        let a = answer(
            &prefs(&[VideoCodec::H264, VideoCodec::Vp8]),
            &remote,
            LOCALHOST,
            5000,
        )
        .unwrap();
        assert_eq!(a.formats, [97], "mode 0 skipped");
        assert!(
            a.other.is_empty(),
            "no rtcp-fb for a peer that offered none"
        );
        let a = answer(&prefs(&[VideoCodec::Vp8]), &remote, LOCALHOST, 5000).unwrap();
        assert_eq!(a.formats, [98]);
        let n = negotiated(&prefs(&[VideoCodec::Vp8]), &a, &remote, BARESIP).unwrap();
        assert_eq!(n.codec, VideoCodec::Vp8);
        assert_eq!(n.stream.send_pt, 98);
        assert_eq!(n.stream.remote_rtp, "127.0.0.1:10006".parse().unwrap());
        assert_eq!(n.stream.remote_rtcp, "127.0.0.1:10007".parse().unwrap());
        assert_eq!(n.stream.direction, Direction::SendRecv);
        assert_eq!(n.max_send_bps, Some(300_000));
    }

    #[test]
    fn nothing_in_common_is_refused_by_name() {
        let vp9 = "m=video 10006 RTP/AVP 100\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:100 VP9/90000\r\n";
        let e = answer(
            &prefs(&[VideoCodec::Vp8]),
            &MediaSection::parse(vp9).unwrap(),
            LOCALHOST,
            1,
        )
        .unwrap_err();
        assert!(e.contains("the peer offers [VP9], we allow [VP8]"), "{e}");
        let audio = MediaSection::parse("m=audio 1 RTP/AVP 0\r\n").unwrap();
        assert!(answer(&prefs(&[VideoCodec::Vp8]), &audio, LOCALHOST, 1).is_err());
    }

    /// Our offer answered: the answer's codec and keys are used, and a
    /// sendonly answer makes us receive only.
    #[test]
    fn an_answer_to_our_offer_is_taken() {
        let p = prefs(&[VideoCodec::Vp8, VideoCodec::H264]);
        let ours = offer(&p, LOCALHOST, 6000);
        let mut theirs = answer(&p, &ours, "127.0.0.2".parse().unwrap(), 7000).unwrap();
        theirs.direction = Direction::SendOnly;
        let text = format!("{}b=TIAS:250000\r\n", theirs.to_sdp());
        let n = negotiated(&p, &ours, &theirs, &text).unwrap();
        assert_eq!((n.codec, n.stream.send_pt), (VideoCodec::Vp8, 96));
        assert_eq!(n.stream.direction, Direction::RecvOnly);
        assert!(n.stream.srtp.is_some());
        assert_eq!(n.max_send_bps, Some(250_000));
    }

    #[test]
    fn srtp_modes() {
        let mut p = prefs(&[VideoCodec::Vp8]);
        let mut savp = offer(
            &Preferences {
                srtp: Srtp::Required,
                ..p.clone()
            },
            LOCALHOST,
            1,
        );
        p.srtp = Srtp::Off;
        assert!(answer(&p, &savp, LOCALHOST, 2)
            .unwrap_err()
            .contains("requires SRTP"));
        p.srtp = Srtp::Required;
        let plain = offer(&prefs(&[VideoCodec::Vp8]), LOCALHOST, 1);
        let mut plain_no_keys = plain.clone();
        plain_no_keys.crypto.clear();
        assert!(answer(&p, &plain_no_keys, LOCALHOST, 2).is_err());
        savp.crypto.clear();
        p.srtp = Srtp::BestEffort;
        assert!(answer(&p, &savp, LOCALHOST, 2).is_err());
    }

    #[test]
    fn bandwidth_lines() {
        assert_eq!(bandwidth_bps("b=AS:512\r\n"), Some(512_000));
        assert_eq!(
            bandwidth_bps("b=AS:512\r\nb=TIAS:400000\r\n"),
            Some(400_000)
        );
        assert_eq!(bandwidth_bps("b=CT:1000\r\n"), None);
        assert_eq!(bandwidth_bps("b=AS:x\r\n"), None);
    }
}
