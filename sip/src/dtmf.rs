//! DTMF as plain functions: where the page's tones go, and which INFO of
//! the peer's carries one. The driver forwards or sends what this says.

use seatphone_protocol::{Capability, Command};

use crate::params;

/// `audio.dtmf_mode` that sends tones as SIP INFO (`application/dtmf-relay`).
pub const INFO_MODE: u32 = 4;

/// Where a tone of `tsdk_send_dtmf` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To the plugin with this capability, the one the catalogue forwards
    /// DTMF to (RFC 4733 events or in-band tones on its media path;
    /// result 4 when no loaded plugin has it).
    Forward(Capability),
    /// A SIP INFO in the call's dialog.
    Info,
}

/// The route for `dtmf_mode`: INFO in mode 4 (or if the catalogue named
/// no media path), the catalogue's capability otherwise. A capability, not
/// a media kind: which plugin serves the call's `audio` sections says
/// nothing of who sends its tones.
pub fn route(dtmf_mode: u32) -> Route {
    match Command::SendDtmf.forwarded_to() {
        Some(capability) if dtmf_mode != INFO_MODE => Route::Forward(capability),
        _ => Route::Info,
    }
}

/// The body of our INFO for `tone` (`application/dtmf-relay`).
pub fn info_body(tone: u8) -> String {
    format!("Signal={}\r\nDuration=160\r\n", params::tone_char(tone))
}

/// The tone a peer's INFO carries: `application/dtmf-relay` or
/// `application/dtmf` (any case, parameters allowed), else none.
pub fn received(content_type: &str, body: &str) -> Option<u8> {
    content_type
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/dtmf")
        .then(|| params::dtmf_relay(body))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tones_go_to_the_audio_capability_unless_the_mode_is_info() {
        assert_eq!(route(INFO_MODE), Route::Info);
        for mode in [0, 1, 2, 3, 5, 10] {
            assert_eq!(
                route(mode),
                Route::Forward(Capability::Audio),
                "mode {mode}"
            );
        }
    }

    #[test]
    fn our_info_and_the_peers() {
        assert_eq!(info_body(1), "Signal=1\r\nDuration=160\r\n");
        let body = info_body(11);
        assert_eq!(received("application/dtmf-relay", &body), Some(11));
        assert_eq!(received(" Application/DTMF-Relay;x=1", &body), Some(11));
        assert_eq!(received("application/dtmf", "Signal=5\r\n"), Some(5));
        assert_eq!(received("text/plain", &body), None, "not a tone");
        assert_eq!(received("application/dtmf-relay", "nothing"), None);
    }
}
