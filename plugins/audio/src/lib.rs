//! The audio plugin: everything an audio call needs — devices, codecs,
//! RTP/SRTP, jitter buffer, DTMF, volume and mute.
//!
//! Commands and events: the catalogue's `audio` capability
//! (`PluginInfo::capability` declares them), answered here:
//!
//! | catalogue | what it does |
//! |---|---|
//! | `SendDtmf` | a digit as RFC 4733 events or an in-band tone (the host keeps INFO) |
//! | `MuteMic` | `callId, isMute` 1/0: that call's stream goes on, silent (unknown call: result 5) |
//! | `GetDevices` | `deviceType` 0 mic / 1 speaker (2 camera: result 4, the video plugin's) |
//! | `SetMicIndex` / `GetMicIndex` | `index` into the mic list (result 5 if absent) |
//! | `SetSpeakIndex` / `GetSpeakIndex` | `index` into the speaker list |
//! | `SetSpeakVolume` / `GetSpeakVolume` | `volume` 0–100 |
//! | `SetMicVolume` / `GetMicVolume` | `volume` 0–100 |
//! | event `LocalQos` | QoS every 5 s in a call |
//!
//! and two events of its own:
//!
//! | notify | description | what it says |
//! |---|---|---|
//! | 3001 | `AUDIO_EVT_DTMF_RECEIVED` | `callId, tone, method` ("rfc4733" / "inband") |
//! | 3002 | `AUDIO_EVT_DEVICE_FALLBACK` | `deviceType, index, deviceName, reason` |
//!
//! Lists and devices: `[audio] input`, `output`, `ring` of the host's config
//! name virtual devices (`file:/x.wav`, `null`, or a sound device's name);
//! they come first in the lists, then cpal's devices, then `null`. Nothing is
//! opened until a call needs it. `[audio] rtp_timeout_s` (default 30) is how
//! long a call may stay silent before the host hears `MediaTimeout`.
//!
//! Media: `media_offer`/`media_answer` bind an RTP/RTCP port pair and write
//! the audio section (codecs in the page's `audio_codec` order, telephone-event,
//! `a=crypto` as `media.trans_mode` asks); `media_start` runs the call on a
//! thread of its own (`session`) around the media core
//! (`seatphone_media::stream`), and a second `media_start` updates it
//! (hold, new address, new codec). The host's calls never wait on media:
//! stopping wakes the thread, which closes its devices on its own.
//!
//! Frame bus: each call's sound, both directions, 20 ms frames of 48 kHz
//! mono `FRAME_PCM16` on the host's media clock: `remote-audio/<callId>`
//! (the peer, decoded, before the speaker's volume) and
//! `local-audio/<callId>` (what is sent, after mute and volume); nothing
//! is copied while nobody subscribes.
//!
//! | module | holds |
//! |---|---|
//! | `calls` | the call table: sockets, sections, sessions, tones |
//! | `negotiate` | offer, answer, and what both sections agree on |
//! | `session` | one call's thread: sockets, poll and waker, the 20 ms device clock, codec and devices around the media core, its sound on the bus |
//! | `codecs` | Opus, G.722, G.711 A/µ, G.729 behind `AudioCodec` |
//! | `io`, `devices`, `controls` | WAV/null/cpal devices, lists, selection, volume, mute |
//! | `dtmf`, `tones`, `voice`, `resample` | DTMF, ring tones, AEC/ANR/AGC, rate conversion |
//! | `realtime` | real-time scheduling of the threads that carry sound |

mod calls;
mod codecs;
mod commands;
mod controls;
mod devices;
mod dtmf;
mod io;
mod negotiate;
mod page_config;
mod realtime;
mod resample;
mod session;
mod tones;
mod voice;

pub use session::HELD_AT_MOST;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use seatphone_plugin_api::{
    export_plugin, result, AnswerRequest, AnswerResponse, CallEvent, Capability, Command,
    ConfigureOutcome, Host, OfferRequest, OfferResponse, Plugin, PluginInfo, Reply, Request,
    StartRequest, StopRequest,
};
use serde_json::{json, Value};

use calls::Calls;
use controls::Controls;
use devices::{DeviceKind, Direction};
use page_config::PageConfig;

/// This plugin's own events, beside the catalogue's (PROTOCOL.md "Audio plugin events").
pub const EVT_DTMF_RECEIVED: u32 = 3001;
pub const EVT_DEVICE_FALLBACK: u32 = 3002;

const EVENTS: &[(u32, &str)] = &[
    (EVT_DTMF_RECEIVED, "AUDIO_EVT_DTMF_RECEIVED"),
    (EVT_DEVICE_FALLBACK, "AUDIO_EVT_DEVICE_FALLBACK"),
];

pub struct Audio {
    host: Host,
    controls: Arc<Controls>,
    config: Mutex<PageConfig>,
    calls: Calls,
}

/// Reads `[audio]` of the host's config; opens nothing.
pub fn new(host: Host) -> Result<Audio, String> {
    let settings = host.settings("audio");
    let device = |key: &str| {
        settings
            .get(key)
            .and_then(Value::as_str)
            .and_then(DeviceKind::from_setting)
    };
    let controls = Arc::new(Controls::new(
        device("input"),
        device("output"),
        device("ring"),
    ));
    let rtp_timeout = match settings.get("rtp_timeout_s") {
        None => Duration::from_secs(30),
        Some(v) => match v.as_f64() {
            Some(s) if s > 0.0 && s <= 3600.0 => Duration::from_secs_f64(s),
            _ => {
                return Err(format!(
                    "[audio] rtp_timeout_s must be a number of seconds (0–3600], got {v}"
                ))
            }
        },
    };
    Ok(Audio {
        calls: Calls::new(host.clone(), controls.clone(), rtp_timeout),
        host,
        controls,
        config: Mutex::new(PageConfig::default()),
    })
}

impl Audio {
    fn config(&self) -> PageConfig {
        self.config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

export_plugin!(new);

impl Plugin for Audio {
    fn info(&self) -> PluginInfo {
        PluginInfo::new("audio", env!("CARGO_PKG_VERSION"))
            .capability(Capability::Audio.name())
            .media("audio")
            .events(EVENTS)
    }

    fn configure(&self, config: &Value) -> ConfigureOutcome {
        let mut c = self.config.lock().unwrap_or_else(|p| p.into_inner());
        let warnings = c.apply(config);
        for w in &warnings {
            self.host.warn(w);
        }
        ConfigureOutcome { warnings }
    }

    fn call_event(&self, event: CallEvent) {
        self.calls.call_event(&event);
    }

    fn media_offer(&self, request: OfferRequest) -> Result<OfferResponse, String> {
        guarded(|| {
            let section = self.calls.offer(&self.config(), &request)?;
            Ok(OfferResponse {
                sections: vec![section],
            })
        })
    }

    fn media_answer(&self, request: AnswerRequest) -> Result<AnswerResponse, String> {
        guarded(|| {
            let section = self.calls.answer(&self.config(), &request)?;
            Ok(AnswerResponse { section })
        })
    }

    fn media_start(&self, request: StartRequest) -> Result<(), String> {
        guarded(|| self.calls.start(&self.config(), &request))
    }

    fn media_stop(&self, request: StopRequest) {
        self.calls.stop(request.call_id);
    }

    fn shutdown(&self) {
        self.calls.stop_all();
    }

    fn command(&self, request: Request, reply: Reply) {
        let c = &self.controls;
        match Command::from_cmd(request.cmd) {
            Some(Command::MuteMic) => match commands::mute_params(&request) {
                Ok((call_id, muted)) => match self.calls.mute(call_id, muted) {
                    Ok(()) => reply.ok(),
                    Err(refusal) => reply.refuse(refusal),
                },
                Err(e) => reply.error(result::INVALID, e),
            },
            Some(Command::SetSpeakVolume) => commands::set_volume(c, &request, reply, false),
            Some(Command::GetSpeakVolume) => commands::get_volume(c, reply, false),
            Some(Command::SetMicVolume) => commands::set_volume(c, &request, reply, true),
            Some(Command::GetMicVolume) => commands::get_volume(c, reply, true),
            // Listing asks the sound system, which may be slow: off the host's thread.
            Some(
                command @ (Command::GetDevices
                | Command::SetMicIndex
                | Command::GetMicIndex
                | Command::SetSpeakIndex
                | Command::GetSpeakIndex),
            ) => {
                let controls = self.controls.clone();
                let host = self.host.clone();
                std::thread::spawn(move || {
                    device_command(&host, &controls, command, &request, reply)
                });
            }
            Some(Command::SendDtmf) => match self.calls.send_dtmf(&self.config(), &request.param) {
                Ok(()) => reply.ok(),
                Err(r) => reply.refuse(r),
            },
            _ => reply.error(
                result::INVALID,
                format!("the audio plugin has no command {}", request.cmd),
            ),
        }
    }
}

/// Input from a peer must never unwind across the plugin boundary (that
/// aborts the engine): a bug on such a path refuses the one request.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err("the audio plugin failed on this request".into()))
}

fn device_command(
    host: &Host,
    controls: &Controls,
    command: Command,
    request: &Request,
    reply: Reply,
) {
    let direction = match command {
        Command::GetDevices => match commands::device_type(&request.param) {
            Ok(d) => d,
            Err(r) => return reply.refuse(r),
        },
        Command::SetMicIndex | Command::GetMicIndex => Direction::Input,
        _ => Direction::Output,
    };
    let list = controls.list(direction);
    match command {
        Command::GetDevices => reply.ok_with(commands::device_list_param(direction, &list)),
        Command::SetMicIndex | Command::SetSpeakIndex => {
            let index = match commands::index_param(&request.param) {
                Ok(i) => i,
                Err(e) => return reply.error(result::INVALID, e),
            };
            match controls.select(direction, &list, index) {
                Some(kind) => {
                    host.info(&format!("audio: {direction:?} device {index}: {kind}"));
                    reply.ok();
                }
                None => reply.error(
                    result::NOT_FOUND,
                    format!("no device with index {index}: there are {}", list.len()),
                ),
            }
        }
        _ => {
            let (index, fell_back) = controls.index_in(direction, &list);
            reply.ok_with(json!({ "index": index }));
            if fell_back {
                emit_fallback(
                    host,
                    direction,
                    index,
                    &list,
                    "the selected device vanished",
                );
            }
        }
    }
}

fn emit_fallback(
    host: &Host,
    direction: Direction,
    index: usize,
    list: &[DeviceKind],
    reason: &str,
) {
    let name = list
        .get(index)
        .map(DeviceKind::display_name)
        .unwrap_or_default();
    host.emit(
        EVT_DEVICE_FALLBACK,
        "AUDIO_EVT_DEVICE_FALLBACK",
        &json!({
            "deviceType": match direction { Direction::Input => 0, Direction::Output => 1 },
            "index": index,
            "deviceName": name,
            "reason": reason,
        }),
    );
}
