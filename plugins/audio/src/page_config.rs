//! What the page's `config` object says about audio: codec priority, DTMF
//! mode, SRTP mode and voice processing. Every key is optional; a wrong
//! type keeps the previous value and is reported as a warning.

use serde_json::Value;

use crate::codecs::{self, CodecSpec};

/// `audio.dtmf_mode` of the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfMode {
    /// 0: tones in the audio.
    InBand,
    /// 1: RFC 4733 when the peer negotiated it, else in-band.
    Rfc4733Auto,
    /// 2: RFC 4733 only.
    Rfc4733,
    /// 4: SIP INFO, sent by the host.
    Info,
}

/// `media.trans_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpMode {
    Off,
    BestEffort,
    Required,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PageConfig {
    pub codecs: Vec<CodecSpec>,
    pub dtmf: DtmfMode,
    pub srtp: SrtpMode,
    pub aec: bool,
    /// 0 off, 1–4 stronger.
    pub anr: u8,
    pub agc: bool,
}

impl Default for PageConfig {
    fn default() -> Self {
        Self {
            codecs: vec![codecs::OPUS, codecs::G722, codecs::PCMA, codecs::PCMU],
            dtmf: DtmfMode::InBand,
            srtp: SrtpMode::BestEffort,
            aec: false,
            anr: 0,
            agc: false,
        }
    }
}

impl PageConfig {
    /// Applies the page's config object over `self`, returning warnings.
    pub fn apply(&mut self, config: &Value) -> Vec<String> {
        let mut warnings = Vec::new();
        let audio = config.get("audio");
        let int = |v: Option<&Value>, key: &str, warnings: &mut Vec<String>| -> Option<i64> {
            let v = v?.get(key)?;
            match v.as_i64() {
                Some(i) => Some(i),
                None => {
                    warnings.push(format!("audio: {key} must be a number, got {v}; ignored"));
                    None
                }
            }
        };
        if let Some(list) = audio.and_then(|a| a.get("audio_codec")) {
            match parse_codec_list(list) {
                Ok((specs, skipped)) => {
                    warnings.extend(skipped);
                    if specs.is_empty() {
                        warnings.push("audio: audio_codec names no codec this build has; keeping the previous list".into());
                    } else {
                        self.codecs = specs;
                    }
                }
                Err(e) => warnings.push(e),
            }
        }
        if let Some(m) = int(audio, "dtmf_mode", &mut warnings) {
            self.dtmf = match m {
                0 => DtmfMode::InBand,
                1 => DtmfMode::Rfc4733Auto,
                2 => DtmfMode::Rfc4733,
                4 => DtmfMode::Info,
                other => {
                    warnings.push(format!(
                        "audio: dtmf_mode {other} is not supported; using in-band (0)"
                    ));
                    DtmfMode::InBand
                }
            };
        }
        if let Some(m) = int(config.get("media"), "trans_mode", &mut warnings) {
            self.srtp = match m {
                0 => SrtpMode::Off,
                1 => SrtpMode::BestEffort,
                2 => SrtpMode::Required,
                other => {
                    warnings.push(format!(
                        "media: trans_mode {other} is not 0, 1 or 2; keeping the previous mode"
                    ));
                    self.srtp
                }
            };
        }
        if let Some(v) = int(audio, "audio_aec", &mut warnings) {
            self.aec = v != 0;
        }
        if let Some(v) = int(audio, "audio_anr", &mut warnings) {
            self.anr = v.clamp(0, 4) as u8;
        }
        if let Some(v) = int(audio, "audio_agc", &mut warnings) {
            self.agc = v != 0;
        }
        warnings
    }
}

/// `"112,98,18,9,8,0"` (or an array of numbers) → our codecs in that order,
/// and a warning for each one this build lacks.
fn parse_codec_list(list: &Value) -> Result<(Vec<CodecSpec>, Vec<String>), String> {
    let ids: Vec<String> = match list {
        Value::String(s) => s
            .split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
        Value::Array(a) => a.iter().map(|v| v.to_string()).collect(),
        other => {
            return Err(format!(
                "audio: audio_codec must be a string like \"112,9,8,0\", got {other}"
            ))
        }
    };
    let mut specs = Vec::new();
    let mut warnings = Vec::new();
    for id in ids {
        match id.parse::<u8>() {
            Ok(codecs::ILBC_PAGE_ID) => warnings
                .push("audio: iLBC (98) is skipped: no iLBC library exists for this build".into()),
            Ok(n) => match codecs::by_page_id(n) {
                Some(spec) if !specs.contains(&spec) => specs.push(spec),
                Some(_) => {}
                None => warnings.push(format!("audio: codec {n} is unknown and skipped")),
            },
            Err(_) => warnings.push(format!(
                "audio: codec {id:?} is not a number and is skipped"
            )),
        }
    }
    Ok((specs, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_config_is_understood() {
        let mut c = PageConfig::default();
        let w = c.apply(&json!({
            "media": {"trans_mode": 2},
            "audio": {"audio_codec": "112,98,18,9,8,0", "dtmf_mode": 1, "audio_anr": 3, "audio_aec": 1, "audio_agc": 0}
        }));
        assert_eq!(
            c.codecs,
            vec![
                codecs::OPUS,
                codecs::G729,
                codecs::G722,
                codecs::PCMA,
                codecs::PCMU
            ]
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("iLBC"));
        assert_eq!(c.dtmf, DtmfMode::Rfc4733Auto);
        assert_eq!(c.srtp, SrtpMode::Required);
        assert!(c.aec && !c.agc);
        assert_eq!(c.anr, 3);
    }

    #[test]
    fn bad_values_warn_and_keep_the_rest() {
        let mut c = PageConfig::default();
        let w = c.apply(
            &json!({"audio": {"audio_codec": 5, "dtmf_mode": "1"}, "media": {"trans_mode": 9}}),
        );
        assert_eq!(w.len(), 3, "{w:?}");
        assert_eq!(c, PageConfig::default());
        let w = c.apply(&json!({"audio": {"audio_codec": "98"}}));
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(c.codecs, PageConfig::default().codecs);
        assert!(c.apply(&json!({})).is_empty());
    }
}
