//! The codecs this build has, behind `seatphone_media::codec::AudioCodec`,
//! and how each appears in SDP. The page names codecs by the payload types
//! of its `audio_codec` list (112 Opus, 98 iLBC, 18 G.729, 9 G.722, 8 PCMA,
//! 0 PCMU).

use seatphone_media::codec::{AudioCodec, CodecError, RepeatPlc};
use seatphone_media::sdp::RtpMap;

/// One codec we can offer: its page number, SDP identity and fmtp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecSpec {
    /// The number the page uses in `audio_codec`.
    pub page_id: u8,
    /// The payload type we offer it with.
    pub payload_type: u8,
    pub name: &'static str,
    pub clock_rate: u32,
    pub channels: u8,
    pub fmtp: Option<&'static str>,
}

impl CodecSpec {
    pub fn rtpmap(&self) -> RtpMap {
        RtpMap::new(self.payload_type, self.name, self.clock_rate, self.channels)
    }
}

pub const OPUS: CodecSpec = CodecSpec {
    page_id: 112,
    payload_type: 111,
    name: "opus",
    clock_rate: 48000,
    channels: 2,
    fmtp: Some("minptime=10;useinbandfec=1;usedtx=1"),
};
pub const G729: CodecSpec = CodecSpec {
    page_id: 18,
    payload_type: 18,
    name: "G729",
    clock_rate: 8000,
    channels: 1,
    fmtp: Some("annexb=no"),
};
pub const G722: CodecSpec = CodecSpec {
    page_id: 9,
    payload_type: 9,
    name: "G722",
    clock_rate: 8000,
    channels: 1,
    fmtp: None,
};
pub const PCMA: CodecSpec = CodecSpec {
    page_id: 8,
    payload_type: 8,
    name: "PCMA",
    clock_rate: 8000,
    channels: 1,
    fmtp: None,
};
pub const PCMU: CodecSpec = CodecSpec {
    page_id: 0,
    payload_type: 0,
    name: "PCMU",
    clock_rate: 8000,
    channels: 1,
    fmtp: None,
};

pub const ALL: [CodecSpec; 5] = [OPUS, G729, G722, PCMA, PCMU];

/// The page's iLBC: no Rust iLBC library exists.
pub const ILBC_PAGE_ID: u8 = 98;

pub fn by_page_id(id: u8) -> Option<CodecSpec> {
    ALL.iter().copied().find(|c| c.page_id == id)
}

/// Our spec for an rtpmap the peer used (matched by name and clock).
pub fn by_rtpmap(map: &RtpMap) -> Option<CodecSpec> {
    ALL.iter().copied().find(|c| map.is(c.name, c.clock_rate))
}

/// Settings negotiated in fmtp that change how we encode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodecParams {
    /// The peer can use in-band FEC (Opus `useinbandfec=1`).
    pub fec: bool,
    /// The peer accepts discontinuous transmission (Opus `usedtx=1`).
    pub dtx: bool,
}

impl CodecParams {
    pub fn from_fmtp(fmtp: Option<&str>) -> Self {
        let has = |key: &str| {
            fmtp.is_some_and(|f| {
                f.split(';')
                    .any(|p| p.trim().eq_ignore_ascii_case(&format!("{key}=1")))
            })
        };
        Self {
            fec: has("useinbandfec"),
            dtx: has("usedtx"),
        }
    }
}

/// A fresh codec instance.
pub fn make(spec: &CodecSpec, params: CodecParams) -> Result<Box<dyn AudioCodec>, CodecError> {
    Ok(match spec.name {
        "opus" => Box::new(Opus::new(params)?),
        "G722" => Box::new(G722Codec::new()),
        "PCMA" => Box::new(G711 {
            alaw: true,
            plc: RepeatPlc::default(),
        }),
        "PCMU" => Box::new(G711 {
            alaw: false,
            plc: RepeatPlc::default(),
        }),
        "G729" => Box::new(G729Codec::new()),
        other => return Err(CodecError(format!("no codec {other} in this build"))),
    })
}

struct G711 {
    alaw: bool,
    plc: RepeatPlc,
}

impl AudioCodec for G711 {
    fn name(&self) -> &'static str {
        if self.alaw {
            "PCMA"
        } else {
            "PCMU"
        }
    }
    fn sample_rate(&self) -> u32 {
        8000
    }
    fn clock_rate(&self) -> u32 {
        8000
    }
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        if self.alaw {
            out.extend(pcm.iter().map(|s| ezk_g711::alaw::encode(*s)));
        } else {
            out.extend(pcm.iter().map(|s| ezk_g711::mulaw::encode(*s)));
        }
        Ok(())
    }
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        let start = out.len();
        if self.alaw {
            out.extend(payload.iter().map(|b| ezk_g711::alaw::decode(*b)));
        } else {
            out.extend(payload.iter().map(|b| ezk_g711::mulaw::decode(*b)));
        }
        self.plc.good(&out[start..]);
        Ok(())
    }
    fn conceal(&mut self, _next: Option<&[u8]>, samples: usize, out: &mut Vec<i16>) {
        self.plc.conceal(samples, out);
    }
}

struct G722Codec {
    enc: ezk_g722::libg722::encoder::Encoder,
    dec: ezk_g722::libg722::decoder::Decoder,
    plc: RepeatPlc,
}

impl G722Codec {
    fn new() -> Self {
        use ezk_g722::libg722::Bitrate;
        Self {
            enc: ezk_g722::libg722::encoder::Encoder::new(Bitrate::Mode1_64000, false, false),
            dec: ezk_g722::libg722::decoder::Decoder::new(Bitrate::Mode1_64000, false, false),
            plc: RepeatPlc::default(),
        }
    }
}

impl AudioCodec for G722Codec {
    fn name(&self) -> &'static str {
        "G722"
    }
    fn sample_rate(&self) -> u32 {
        16000
    }
    fn clock_rate(&self) -> u32 {
        8000
    }
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend(self.enc.encode(pcm));
        Ok(())
    }
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        let pcm = self.dec.decode(payload);
        self.plc.good(&pcm);
        out.extend(pcm);
        Ok(())
    }
    fn conceal(&mut self, _next: Option<&[u8]>, samples: usize, out: &mut Vec<i16>) {
        self.plc.conceal(samples, out);
    }
}

struct G729Codec {
    enc: audio_codec::g729::G729Encoder,
    dec: audio_codec::g729::G729Decoder,
    plc: RepeatPlc,
}

impl G729Codec {
    fn new() -> Self {
        Self {
            enc: audio_codec::g729::G729Encoder::new(),
            dec: audio_codec::g729::G729Decoder::new(),
            plc: RepeatPlc::default(),
        }
    }
}

impl AudioCodec for G729Codec {
    fn name(&self) -> &'static str {
        "G729"
    }
    fn sample_rate(&self) -> u32 {
        8000
    }
    fn clock_rate(&self) -> u32 {
        8000
    }
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        use audio_codec::Encoder;
        out.extend(self.enc.encode(pcm));
        Ok(())
    }
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        use audio_codec::Decoder;
        // 10-byte frames; a 2-byte SID (annex B) carries nothing we play.
        if !payload.len().is_multiple_of(10) {
            return Err(CodecError(format!(
                "G.729 payload of {} bytes",
                payload.len()
            )));
        }
        let pcm = self.dec.decode(payload);
        self.plc.good(&pcm);
        out.extend(pcm);
        Ok(())
    }
    fn conceal(&mut self, _next: Option<&[u8]>, samples: usize, out: &mut Vec<i16>) {
        self.plc.conceal(samples, out);
    }
}

/// Opus at 48 kHz, mono in and out (a stereo peer is downmixed by libopus).
struct Opus {
    enc: opus::Encoder,
    dec: opus::Decoder,
    buf: Vec<u8>,
}

impl Opus {
    fn new(params: CodecParams) -> Result<Self, CodecError> {
        let err = |e: opus::Error| CodecError(format!("opus: {e}"));
        let mut enc = opus::Encoder::new(48000, opus::Channels::Mono, opus::Application::Voip)
            .map_err(err)?;
        enc.set_inband_fec(params.fec).map_err(err)?;
        if params.fec {
            enc.set_packet_loss_perc(10).map_err(err)?;
        }
        enc.set_dtx(params.dtx).map_err(err)?;
        enc.set_bitrate(opus::Bitrate::Bits(32000)).map_err(err)?;
        let dec = opus::Decoder::new(48000, opus::Channels::Mono).map_err(err)?;
        Ok(Self {
            enc,
            dec,
            buf: vec![0; 1500],
        })
    }
}

impl AudioCodec for Opus {
    fn name(&self) -> &'static str {
        "opus"
    }
    fn sample_rate(&self) -> u32 {
        48000
    }
    fn clock_rate(&self) -> u32 {
        48000
    }
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let n = self
            .enc
            .encode(pcm, &mut self.buf)
            .map_err(|e| CodecError(format!("opus encode: {e}")))?;
        out.extend_from_slice(&self.buf[..n]);
        Ok(())
    }
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        // Up to 120 ms per packet.
        let mut pcm = vec![0i16; 5760];
        let n = self
            .dec
            .decode(payload, &mut pcm, false)
            .map_err(|e| CodecError(format!("opus decode: {e}")))?;
        out.extend_from_slice(&pcm[..n]);
        Ok(())
    }
    fn conceal(&mut self, next: Option<&[u8]>, samples: usize, out: &mut Vec<i16>) {
        let mut pcm = vec![0i16; samples];
        // FEC from the next packet when it is here, else libopus's own PLC.
        let n = match next {
            Some(next) => self.dec.decode(next, &mut pcm, true),
            None => self.dec.decode(&[], &mut pcm, false),
        };
        let n = n.unwrap_or(0).min(samples);
        out.extend_from_slice(&pcm[..n]);
        out.resize(out.len() + samples - n, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, freq: f32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                ((i as f32 * freq * std::f32::consts::TAU / rate as f32).sin() * 8000.0) as i16
            })
            .collect()
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    #[test]
    fn every_codec_round_trips_a_tone_near_its_level() {
        for spec in ALL {
            let mut c = make(
                &spec,
                CodecParams {
                    fec: true,
                    dtx: false,
                },
            )
            .unwrap();
            let frame = c.sample_rate() as usize / 50;
            let input = tone(c.sample_rate(), 440.0, frame * 50);
            let mut decoded = Vec::new();
            for chunk in input.chunks(frame) {
                let mut payload = Vec::new();
                c.encode(chunk, &mut payload).unwrap();
                assert!(!payload.is_empty(), "{}", spec.name);
                c.decode(&payload, &mut decoded).unwrap();
            }
            assert_eq!(decoded.len(), input.len(), "{}", spec.name);
            let (a, b) = (rms(&input[frame * 10..]), rms(&decoded[frame * 10..]));
            let db = 20.0 * (b / a).log10();
            assert!(db.abs() < 3.0, "{}: level {db:.1} dB", spec.name);
            let mut concealed = Vec::new();
            c.conceal(None, frame, &mut concealed);
            assert_eq!(concealed.len(), frame, "{}", spec.name);
        }
    }

    #[test]
    fn opus_recovers_a_lost_packet_from_the_next_ones_fec() {
        let mut c = make(
            &OPUS,
            CodecParams {
                fec: true,
                dtx: false,
            },
        )
        .unwrap();
        let input = tone(48000, 440.0, 960 * 40);
        let packets: Vec<Vec<u8>> = input
            .chunks(960)
            .map(|f| {
                let mut p = Vec::new();
                c.encode(f, &mut p).unwrap();
                p
            })
            .collect();
        let mut d = make(
            &OPUS,
            CodecParams {
                fec: true,
                dtx: false,
            },
        )
        .unwrap();
        let mut out = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            if i == 30 {
                // Lost: recovered from packet 31's redundancy.
                d.conceal(Some(&packets[31]), 960, &mut out);
            } else {
                d.decode(p, &mut out).unwrap();
            }
        }
        let recovered = &out[960 * 30..960 * 31];
        let level = 20.0 * (rms(recovered) / rms(&input[960 * 30..960 * 31])).log10();
        assert!(
            level.abs() < 6.0,
            "the recovered frame is {level:.1} dB off"
        );
    }

    #[test]
    fn garbage_payloads_do_not_panic() {
        for spec in ALL {
            let mut c = make(&spec, CodecParams::default()).unwrap();
            let mut out = Vec::new();
            for junk in [
                &[][..],
                &[0xff; 3][..],
                &[0x00; 1000][..],
                &[0xfc, 0xff, 0xfe][..],
            ] {
                let _ = c.decode(junk, &mut out);
            }
        }
    }

    #[test]
    fn fmtp_flags() {
        let p = CodecParams::from_fmtp(Some("stereo=1; useinbandfec=1;usedtx=1"));
        assert!(p.fec && p.dtx);
        assert_eq!(CodecParams::from_fmtp(None), CodecParams::default());
        assert!(by_page_id(ILBC_PAGE_ID).is_none());
        assert_eq!(by_rtpmap(&RtpMap::new(96, "OPUS", 48000, 2)), Some(OPUS));
    }
}
