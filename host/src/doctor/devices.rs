//! What the seat has: sound devices (or the files the config plays
//! instead), cameras, a display. Missing ones are warnings: an audio seat
//! needs no camera, and a seat may run its audio from files.

use std::path::{Path, PathBuf};

use super::{Report, Status};
use crate::config::Config;

pub fn sound(report: &mut Report, config: &Config) {
    let audio = config
        .plugin_sections
        .get("audio")
        .and_then(|a| a.as_table());
    let configured = |key: &str| {
        audio
            .and_then(|a| a.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let (input, output) = (configured("input"), configured("output"));
    let virtual_device = |d: &Option<String>| {
        d.as_deref()
            .is_some_and(|d| d.starts_with("file:") || d == "null")
    };
    if virtual_device(&input) && virtual_device(&output) {
        let text = format!(
            "microphone {}, speaker {} (files, from the config)",
            input.unwrap_or_default(),
            output.unwrap_or_default()
        );
        report.add(Status::Ok, "sound", text);
        return;
    }
    let cards = alsa_cards(&std::fs::read_to_string("/proc/asound/cards").unwrap_or_default());
    let server = sound_server();
    let mut seen = Vec::new();
    if !cards.is_empty() {
        seen.push(format!("sound cards: {}", cards.join(", ")));
    }
    if let Some(server) = server {
        seen.push(format!("sound server: {server}"));
    }
    for (what, device) in [("microphone", input), ("speaker", output)] {
        if let Some(d) = device {
            seen.push(format!("{what} {d:?} (config)"));
        }
    }
    if seen.is_empty() {
        report.add(
            Status::Warn,
            "sound",
            "no sound card and no sound server seen: calls will have no audio (run in the user's desktop session?)",
        );
    } else {
        report.add(Status::Ok, "sound", seen.join("; "));
    }
}

/// Card names from `/proc/asound/cards` (` 0 [PCH  ]: HDA-Intel - HDA Intel PCH`).
pub fn alsa_cards(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let (head, name) = l.split_once("]: ")?;
            head.trim_start().split(' ').next()?.parse::<u32>().ok()?;
            Some(name.trim().to_owned())
        })
        .collect()
}

fn sound_server() -> Option<String> {
    if let Some(s) = std::env::var_os("PULSE_SERVER") {
        return Some(format!("PulseAudio at {}", s.to_string_lossy()));
    }
    let runtime = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
    [
        ("pipewire-0", "PipeWire"),
        ("pulse/native", "PulseAudio (or PipeWire's Pulse server)"),
    ]
    .iter()
    .find(|(socket, _)| runtime.join(socket).exists())
    .map(|(socket, name)| format!("{name} at {}", runtime.join(socket).display()))
}

pub fn cameras(report: &mut Report) {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/video4linux")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|d| {
            let name = std::fs::read_to_string(d.path().join("name")).ok()?;
            Some(format!(
                "/dev/{} {}",
                d.file_name().to_string_lossy(),
                name.trim()
            ))
        })
        .collect();
    names.sort();
    if names.is_empty() {
        report.add(
            Status::Warn,
            "cameras",
            "none seen (only video calls need one)",
        );
    } else {
        report.add(Status::Ok, "cameras", names.join(", "));
    }
}

pub fn display(report: &mut Report) {
    let wayland = std::env::var_os("WAYLAND_DISPLAY").map(|w| w.to_string_lossy().into_owned());
    let x11 = std::env::var_os("DISPLAY").map(|d| d.to_string_lossy().into_owned());
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    let mut seen = Vec::new();
    if let (Some(w), Some(r)) = (&wayland, &runtime) {
        let socket = if Path::new(w).is_absolute() {
            PathBuf::from(w)
        } else {
            r.join(w)
        };
        if socket.exists() {
            seen.push(format!("Wayland {w}"));
        }
    }
    if let Some(d) = &x11 {
        // `:0` is served on /tmp/.X11-unix/X0; `host:0` is a network display.
        let local = d.strip_prefix(':').and_then(|n| n.split('.').next());
        match local {
            Some(n) if !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() => {}
            _ => seen.push(format!("X11 {d}")),
        }
    }
    if seen.is_empty() {
        let why = match (wayland, x11) {
            (None, None) => "DISPLAY and WAYLAND_DISPLAY are not set".to_owned(),
            (w, x) => {
                format!("DISPLAY {x:?} / WAYLAND_DISPLAY {w:?} name no display that is there")
            }
        };
        report.add(
            Status::Warn,
            "display",
            format!(
                "none: {why}; audio calls work, video and screen sharing need the user's session"
            ),
        );
    } else {
        report.add(Status::Ok, "display", seen.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alsa_card_names_are_read() {
        let text = " 0 [PCH            ]: HDA-Intel - HDA Intel PCH\n                      HDA Intel PCH at 0xf7f00000 irq 33\n 1 [Loopback       ]: Loopback - Loopback\n                      Loopback 1\n";
        assert_eq!(
            alsa_cards(text),
            vec!["HDA-Intel - HDA Intel PCH", "Loopback - Loopback"]
        );
        assert!(alsa_cards("--- no soundcards ---\n").is_empty());
    }
}
