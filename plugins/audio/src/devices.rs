//! Device lists: the virtual devices of the host's `[audio]` config, the
//! sound devices cpal finds, and silence. Nothing here opens a device:
//! listing only asks cpal for names, so the plugin loads without a sound card.

use std::fmt;

use cpal::traits::{DeviceTrait, HostTrait};

/// Which way a device goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Input,
    Output,
}

/// What a device is, independent of its place in a list (so a selection
/// survives devices appearing or vanishing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKind {
    /// A WAV file: the microphone plays it in a loop, the speaker writes it.
    File(String),
    /// Silence in, nothing out.
    Null,
    /// A sound device, by cpal's id (`alsa:pulse`) and its name.
    Sound { id: String, name: String },
}

impl DeviceKind {
    /// A virtual device from the config: `file:<path>`, `null`, or a sound
    /// device's name or id.
    pub fn from_setting(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.is_empty() {
            None
        } else if let Some(path) = value.strip_prefix("file:") {
            Some(Self::File(path.to_owned()))
        } else if value == "null" {
            Some(Self::Null)
        } else {
            Some(Self::Sound {
                id: value.to_owned(),
                name: value.to_owned(),
            })
        }
    }

    pub fn display_name(&self) -> String {
        match self {
            Self::File(path) => format!("file:{path}"),
            Self::Null => "null (silence)".to_owned(),
            Self::Sound { name, .. } => name.clone(),
        }
    }

    /// Same device, matching a configured sound device by id or by name.
    pub fn same_as(&self, other: &DeviceKind) -> bool {
        match (self, other) {
            (Self::Sound { id: a, name: n }, Self::Sound { id: b, name: m }) => {
                let suffix = |long: &str, short: &str| long.ends_with(&format!(":{short}"));
                a == b || n == m || a == m || n == b || suffix(a, b) || suffix(b, a)
            }
            _ => self == other,
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_name())
    }
}

/// The devices of one direction, in the order the page sees them.
pub fn list(direction: Direction, configured: Option<&DeviceKind>) -> Vec<DeviceKind> {
    let mut devices = Vec::new();
    if let Some(kind) = configured {
        devices.push(kind.clone());
    }
    for found in sound_devices(direction) {
        if !devices.iter().any(|d| d.same_as(&found)) {
            devices.push(found);
        }
    }
    if !devices.contains(&DeviceKind::Null) {
        devices.push(DeviceKind::Null);
    }
    devices
}

/// The sound devices cpal sees, the default first.
fn sound_devices(direction: Direction) -> Vec<DeviceKind> {
    let host = cpal::default_host();
    let default = match direction {
        Direction::Input => host.default_input_device(),
        Direction::Output => host.default_output_device(),
    };
    let all = match direction {
        Direction::Input => host.input_devices().map(|d| d.collect::<Vec<_>>()),
        Direction::Output => host.output_devices().map(|d| d.collect::<Vec<_>>()),
    };
    let mut out: Vec<DeviceKind> = Vec::new();
    for device in default.into_iter().chain(all.unwrap_or_default()) {
        let Some(kind) = describe(&device) else {
            continue;
        };
        if matches!(&kind, DeviceKind::Sound { id, .. } if !is_listed(id)) {
            continue;
        }
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    out
}

/// ALSA lists its converter and routing plugins beside real devices; a
/// person picking a microphone wants none of them (and `null` is ours).
const NOT_DEVICES: &[&str] = &[
    "lavrate",
    "samplerate",
    "speexrate",
    "jack",
    "oss",
    "speex",
    "upmix",
    "vdownmix",
    "a52",
    "usbstream",
    "null",
];

fn is_listed(id: &str) -> bool {
    let pcm = id.strip_prefix("alsa:").unwrap_or(id);
    let base = pcm.split([':', ',']).next().unwrap_or(pcm);
    !NOT_DEVICES.contains(&base)
}

fn describe(device: &cpal::Device) -> Option<DeviceKind> {
    let id = device.id().ok()?.to_string();
    let name = device
        .description()
        .map(|d| d.name().to_owned())
        .unwrap_or_else(|_| id.clone());
    Some(DeviceKind::Sound { id, name })
}

/// Finds the cpal device for a sound device entry.
pub fn open_sound(direction: Direction, wanted: &DeviceKind) -> Option<cpal::Device> {
    let host = cpal::default_host();
    let all = match direction {
        Direction::Input => host.input_devices().ok()?.collect::<Vec<_>>(),
        Direction::Output => host.output_devices().ok()?.collect::<Vec<_>>(),
    };
    all.into_iter()
        .find(|d| describe(d).is_some_and(|k| k.same_as(wanted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_virtual_devices() {
        assert_eq!(
            DeviceKind::from_setting("file:/tmp/a.wav"),
            Some(DeviceKind::File("/tmp/a.wav".into()))
        );
        assert_eq!(DeviceKind::from_setting("null"), Some(DeviceKind::Null));
        assert_eq!(DeviceKind::from_setting("  "), None);
        assert!(matches!(
            DeviceKind::from_setting("pulse"),
            Some(DeviceKind::Sound { .. })
        ));
    }

    #[test]
    fn alsa_plugins_are_not_listed_as_devices() {
        assert!(!is_listed("alsa:speexrate"));
        assert!(!is_listed("alsa:null"));
        assert!(!is_listed("alsa:upmix:CARD=x"));
        assert!(is_listed("alsa:pulse"));
        assert!(is_listed("alsa:default"));
        assert!(is_listed("alsa:hw:CARD=PCH,DEV=0"));
    }

    #[test]
    fn a_configured_name_matches_the_host_qualified_id_both_ways() {
        let configured = DeviceKind::from_setting("pulse").unwrap();
        let found = DeviceKind::Sound {
            id: "alsa:pulse".into(),
            name: "PulseAudio Sound Server".into(),
        };
        assert!(configured.same_as(&found));
        assert!(found.same_as(&configured));
        assert!(!found.same_as(&DeviceKind::from_setting("default").unwrap()));
    }

    #[test]
    fn list_puts_configured_first_and_always_has_silence() {
        let file = DeviceKind::File("/tmp/x.wav".into());
        let mics = list(Direction::Input, Some(&file));
        assert_eq!(mics[0], file);
        assert!(mics.contains(&DeviceKind::Null));
        let speakers = list(Direction::Output, Some(&DeviceKind::Null));
        assert_eq!(speakers[0], DeviceKind::Null);
        assert_eq!(
            speakers.iter().filter(|d| **d == DeviceKind::Null).count(),
            1
        );
    }
}
