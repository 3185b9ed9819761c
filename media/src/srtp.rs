//! SRTP with keys exchanged in SDP (SDES, RFC 4568): the `a=crypto` line and
//! a pair of `webrtc-srtp` contexts, one per direction.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

/// The crypto suites we offer and accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl Suite {
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "AES_CM_128_HMAC_SHA1_80" => Some(Suite::AesCm128HmacSha1_80),
            "AES_CM_128_HMAC_SHA1_32" => Some(Suite::AesCm128HmacSha1_32),
            _ => None,
        }
    }

    fn profile(self) -> ProtectionProfile {
        match self {
            Suite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            Suite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        }
    }
}

/// Master key (16 bytes) followed by master salt (14 bytes).
pub const KEY_SALT_LEN: usize = 30;

/// One `a=crypto` attribute.
#[derive(Clone, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub suite: Suite,
    pub key_salt: [u8; KEY_SALT_LEN],
}

impl std::fmt::Debug for Crypto {
    // Keys never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Crypto({} {} inline:…)", self.tag, self.suite.name())
    }
}

impl Crypto {
    /// A fresh random key.
    pub fn generate(tag: u32, suite: Suite) -> Self {
        let mut key_salt = [0u8; KEY_SALT_LEN];
        for b in key_salt.iter_mut() {
            *b = rand::random();
        }
        Self {
            tag,
            suite,
            key_salt,
        }
    }

    /// Parses the value after `a=crypto:` (`1 AES_CM_128_HMAC_SHA1_80 inline:KEY[|lifetime][|mki:len]`).
    /// Unknown suites, MKIs and session parameters are refused.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut parts = value.split_whitespace();
        let tag = parts
            .next()
            .and_then(|t| t.parse::<u32>().ok())
            .ok_or("crypto: bad tag")?;
        let suite_name = parts.next().ok_or("crypto: no suite")?;
        let suite = Suite::from_name(suite_name)
            .ok_or_else(|| format!("crypto: unsupported suite {suite_name}"))?;
        let key_params = parts.next().ok_or("crypto: no key")?;
        if parts.next().is_some() {
            return Err("crypto: session parameters are not supported".into());
        }
        if key_params.contains(';') {
            return Err("crypto: several keys are not supported".into());
        }
        let inline = key_params
            .strip_prefix("inline:")
            .ok_or("crypto: key is not inline")?;
        let mut fields = inline.split('|');
        let b64 = fields.next().unwrap_or_default();
        for f in fields {
            // A lifetime is fine; an MKI is not.
            if f.contains(':') {
                return Err("crypto: MKI is not supported".into());
            }
        }
        let raw = STANDARD
            .decode(b64)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64))
            .map_err(|_| "crypto: key is not base64".to_owned())?;
        let key_salt: [u8; KEY_SALT_LEN] = raw
            .try_into()
            .map_err(|r: Vec<u8>| format!("crypto: key is {} bytes, not 30", r.len()))?;
        Ok(Self {
            tag,
            suite,
            key_salt,
        })
    }

    /// The value after `a=crypto:`.
    pub fn attribute_value(&self) -> String {
        format!(
            "{} {} inline:{}",
            self.tag,
            self.suite.name(),
            STANDARD.encode(self.key_salt)
        )
    }

    fn context(&self) -> Result<Context, String> {
        Context::new(
            &self.key_salt[..16],
            &self.key_salt[16..],
            self.suite.profile(),
            None,
            None,
        )
        .map_err(|e| format!("SRTP context: {e}"))
    }
}

/// Both directions of one SRTP session.
pub struct SrtpSession {
    outbound: Context,
    inbound: Context,
}

impl SrtpSession {
    /// `local` keys what we send, `remote` what the peer sends.
    pub fn new(local: &Crypto, remote: &Crypto) -> Result<Self, String> {
        Ok(Self {
            outbound: local.context()?,
            inbound: remote.context()?,
        })
    }

    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, String> {
        guarded(|| self.outbound.encrypt_rtp(packet))
    }

    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, String> {
        if packet.len() < 12 + 4 {
            return Err("SRTP packet too short".into());
        }
        // webrtc-srtp parses the clear header with the rtp crate, which panics on these.
        if !crate::rtp::extension_elements_fit(packet) {
            return Err("SRTP packet: header extension element past its block".into());
        }
        guarded(|| self.inbound.decrypt_rtp(packet))
    }

    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, String> {
        guarded(|| self.outbound.encrypt_rtcp(packet))
    }

    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, String> {
        // Header and sender SSRC, E flag + index, and the 80-bit tag SRTCP always has:
        // webrtc-srtp does arithmetic on the length before it checks it.
        if packet.len() < 8 + 4 + 10 {
            return Err("SRTCP packet too short".into());
        }
        guarded(|| self.inbound.decrypt_rtcp(packet))
    }
}

/// A packet from the network must never unwind through the plugin boundary,
/// whatever the library underneath does with it.
fn guarded(
    f: impl FnOnce() -> Result<bytes::Bytes, webrtc_srtp::Error>,
) -> Result<Vec<u8>, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(b)) => Ok(b.to_vec()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("SRTP library failed on this packet".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{BlockEncrypt, KeyInit};

    /// RFC 3711 appendix B.3: the master key and salt of the key
    /// derivation test vectors (libsrtp's test packet uses the same pair).
    const MASTER_KEY: &str = "E1F97A0D3E018BE0D64FA32C06DE4139";
    const MASTER_SALT: &str = "0EC675AD498AFEEBB6960B3AABE6";

    fn rfc_crypto(suite: Suite) -> Crypto {
        let mut key_salt = [0u8; 30];
        key_salt[..16].copy_from_slice(&hex::decode(MASTER_KEY).unwrap());
        key_salt[16..].copy_from_slice(&hex::decode(MASTER_SALT).unwrap());
        Crypto {
            tag: 1,
            suite,
            key_salt,
        }
    }

    const PLAIN: &str = "800f1234decafbadcafebabeabababababababababababababababab";

    #[test]
    fn aes_cm_sha1_80_matches_the_reference_packet() {
        // libsrtp's srtp_driver vector for AES_CM_128_HMAC_SHA1_80 with the B.3 keys.
        let c = rfc_crypto(Suite::AesCm128HmacSha1_80);
        let mut s = SrtpSession::new(&c, &c).unwrap();
        let out = s.protect_rtp(&hex::decode(PLAIN).unwrap()).unwrap();
        assert_eq!(
            hex::encode(&out),
            "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb"
        );
        assert_eq!(hex::encode(s.unprotect_rtp(&out).unwrap()), PLAIN);
    }

    #[test]
    fn aes_cm_sha1_32_truncates_the_same_tag() {
        let c = rfc_crypto(Suite::AesCm128HmacSha1_32);
        let mut s = SrtpSession::new(&c, &c).unwrap();
        let out = s.protect_rtp(&hex::decode(PLAIN).unwrap()).unwrap();
        assert_eq!(
            hex::encode(&out),
            "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc"
        );
    }

    /// RFC 3711 B.3 derives the session key and salt; B.2 defines the AES-CM
    /// keystream. The payload of SSRC 0, index 0 encrypted as zeros is that
    /// keystream, computed here independently from the RFC's derived values.
    #[test]
    fn key_derivation_matches_rfc3711_b3() {
        let session_key = hex::decode("C61E7A93744F39EE10734AFE3FF7A087").unwrap();
        let session_salt = hex::decode("30CBBC08863D8C85D49DB34A9AE1").unwrap();
        // IV = salt * 2^16 XOR ssrc * 2^64 XOR index * 2^16; ssrc = index = 0.
        let mut block = [0u8; 16];
        block[..14].copy_from_slice(&session_salt);
        let aes = aes::Aes128::new_from_slice(&session_key).unwrap();
        let mut ks = aes::Block::from(block);
        aes.encrypt_block(&mut ks);

        let c = rfc_crypto(Suite::AesCm128HmacSha1_80);
        let mut s = SrtpSession::new(&c, &c).unwrap();
        let mut plain =
            hex::decode("80000000000000000000000000000000000000000000000000000000").unwrap();
        plain.truncate(12 + 16);
        let out = s.protect_rtp(&plain).unwrap();
        assert_eq!(hex::encode(&out[12..28]), hex::encode(ks));
    }

    #[test]
    fn tampered_and_short_packets_are_refused() {
        let c = Crypto::generate(1, Suite::AesCm128HmacSha1_80);
        let mut a = SrtpSession::new(&c, &c).unwrap();
        let mut out = a.protect_rtp(&hex::decode(PLAIN).unwrap()).unwrap();
        out[20] ^= 1;
        let mut b = SrtpSession::new(&c, &c).unwrap();
        assert!(b.unprotect_rtp(&out).is_err());
        assert!(b.unprotect_rtp(&out[..14]).is_err());
        assert!(b.unprotect_rtp(&[]).is_err());
        assert!(b.unprotect_rtcp(&[0x80, 200, 0, 1]).is_err());
        assert!(b
            .unprotect_rtcp(&[0x80, 200, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0])
            .is_err());
        let mut junk = vec![0x80, 201, 0, 1, 0, 0, 0, 1];
        junk.extend([0xff; 14]);
        assert!(b.unprotect_rtcp(&junk).is_err());
    }

    #[test]
    fn rtcp_round_trips() {
        let c = Crypto::generate(1, Suite::AesCm128HmacSha1_32);
        let mut a = SrtpSession::new(&c, &c).unwrap();
        let rr = crate::rtcp::build(5, None, &[], "x");
        let protected = a.protect_rtcp(&rr).unwrap();
        assert_ne!(protected, rr);
        let mut b = SrtpSession::new(&c, &c).unwrap();
        assert_eq!(b.unprotect_rtcp(&protected).unwrap(), rr);
    }

    #[test]
    fn crypto_attribute_parses_and_builds() {
        let c = Crypto::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20",
        )
        .unwrap();
        assert_eq!(c.tag, 1);
        assert_eq!(c.suite, Suite::AesCm128HmacSha1_80);
        assert_eq!(Crypto::parse(&c.attribute_value()).unwrap(), c);
        assert!(format!("{c:?}").contains("…"));
        for bad in [
            "",
            "x AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
            "1 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
            "1 AES_CM_128_HMAC_SHA1_80 inline:short",
            "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4",
            "1 AES_CM_128_HMAC_SHA1_80 inline:!!!",
            "1 AES_CM_128_HMAC_SHA1_80",
        ] {
            assert!(Crypto::parse(bad).is_err(), "{bad}");
        }
    }
}
