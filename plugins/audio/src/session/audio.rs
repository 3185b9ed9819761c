//! A call's sound, one 20 ms frame a tick: decode what the core's jitter
//! buffer plays out and send it to the speaker; read the microphone,
//! encode, and hand the payload to the core (or a key's in-band tone).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use seatphone_media::codec::AudioCodec;
use seatphone_media::jitter::Playout;
use seatphone_plugin_api::LogLevel;

use super::bus::{BusAudio, Side};
use super::devices::open_with_fallback;
use super::thread::MediaThread;
use super::CallContext;
use crate::codecs;
use crate::devices::{DeviceKind, Direction as DeviceDirection};
use crate::dtmf::{ToneDetector, ToneSender};
use crate::io::{self, Mic, Speaker, FRAME, RATE};
use crate::negotiate::Negotiated;
use crate::page_config::DtmfMode;
use crate::resample::{to_f32, to_i16, RateConverter};
use crate::voice::VoiceProcessing;

/// One device frame's duration (µs).
const FRAME_US: u64 = FRAME as u64 * 1_000_000 / RATE as u64;

/// The codec and the rate conversions on either side of it.
pub(super) struct Coder {
    codec: Box<dyn AudioCodec>,
    to_codec: RateConverter,
    from_codec: RateConverter,
}

impl Coder {
    fn new(n: &Negotiated) -> Result<Self, String> {
        let codec = codecs::make(&n.codec, n.params).map_err(|e| e.to_string())?;
        let rate = codec.sample_rate();
        Ok(Self {
            to_codec: RateConverter::new(io::RATE, rate),
            from_codec: RateConverter::new(rate, io::RATE),
            codec,
        })
    }
}

/// The call's devices and what is made of their frames.
pub(super) struct Audio {
    coder: Coder,
    /// Media time of the next frame, in codec clock units.
    time: u32,
    first_packet: bool,
    mic: Box<dyn Mic>,
    pub(super) speaker: Box<dyn Speaker>,
    /// The devices opened (as selected), to reopen only what changed.
    mic_kind: Option<DeviceKind>,
    speaker_kind: Option<DeviceKind>,
    generation: u64,
    voice: Option<VoiceProcessing>,
    /// Keys to play as in-band tones, and the one playing.
    inband: VecDeque<u8>,
    tone: Option<ToneSender>,
    tones_in: ToneDetector,
    /// Both directions' frames on the media bus.
    bus: BusAudio,
    /// When the sound last decoded arrived (its packet's receipt, or
    /// where a packet on time would have arrived, for concealment and
    /// silence): what the peer's sound on the bus is stamped by.
    arrival: Option<Instant>,
}

impl Audio {
    pub(super) fn new(n: &Negotiated, ctx: &CallContext) -> Result<Self, String> {
        Ok(Self {
            coder: Coder::new(n)?,
            time: 0,
            first_packet: true,
            // Devices open on the call's own thread, at its first frame:
            // opening (and listing) sound devices may take a while.
            mic: Box::new(io::NullMic),
            speaker: Box::new(io::NullSpeaker),
            mic_kind: None,
            speaker_kind: None,
            generation: u64::MAX,
            voice: None,
            inband: VecDeque::new(),
            tone: None,
            tones_in: ToneDetector::new(io::RATE),
            bus: BusAudio::new(ctx.host.clone(), ctx.call_id),
            arrival: None,
        })
    }

    pub(super) fn open_voice(&mut self, ctx: &CallContext) {
        let (aec, anr, agc) = ctx.voice;
        self.voice = match VoiceProcessing::new(aec, anr, agc) {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                // The call goes on, unprocessed; the log says why.
                ctx.host.warn(&format!(
                    "audio call {}: voice processing (AEC/ANR/AGC) unavailable, the call goes on without it: {e}",
                    ctx.call_id
                ));
                None
            }
            None => None,
        };
    }
}

impl MediaThread {
    /// One tick of the device clock.
    pub(super) fn frame(&mut self, now: Instant) {
        self.check_devices();
        self.play(now);
        self.send(now);
    }

    pub(super) fn update(&mut self, n: Negotiated) {
        if n.codec != self.n.codec || n.params != self.n.params {
            match Coder::new(&n) {
                Ok(c) => self.audio.coder = c,
                Err(e) => self.log(LogLevel::Warn, &format!("codec change failed: {e}")),
            }
        }
        if let Err(e) = self.stream.update(Instant::now(), n.stream_params()) {
            self.log(LogLevel::Warn, &e);
        }
        self.log(
            LogLevel::Info,
            &format!(
                "media updated: {} to {} ({:?})",
                n.codec.name, n.remote_rtp, n.direction
            ),
        );
        self.n = n;
    }

    /// A key to send: as RFC 4733 events when the peer takes them and the
    /// page did not ask for tones, else as an in-band tone.
    pub(super) fn dtmf(&mut self, key: u8) {
        let events = self.n.te_send.is_some() && self.ctx.dtmf_mode != DtmfMode::InBand;
        if !events {
            self.audio.inband.push_back(key);
        } else if let Err(e) = self.stream.send_dtmf(Instant::now(), key) {
            self.log(LogLevel::Warn, &format!("DTMF: {e}"));
        }
    }

    fn check_devices(&mut self) {
        let ctx = &self.ctx;
        let a = &mut self.audio;
        let g = ctx.controls.generation.load(Ordering::Acquire);
        if g != a.generation {
            a.generation = g;
            // Only the side whose selection changed is reopened (a WAV speaker
            // would start over otherwise).
            let mic_kind = ctx.controls.current(DeviceDirection::Input);
            if a.mic_kind.as_ref() != Some(&mic_kind) {
                a.mic = Box::new(io::NullMic);
                a.mic = open_with_fallback(ctx, DeviceDirection::Input, io::open_mic, || {
                    Box::new(io::NullMic)
                });
                a.mic_kind = Some(mic_kind);
            }
            let speaker_kind = ctx.controls.current(DeviceDirection::Output);
            if a.speaker_kind.as_ref() != Some(&speaker_kind) {
                a.speaker = Box::new(io::NullSpeaker);
                a.speaker =
                    open_with_fallback(ctx, DeviceDirection::Output, io::open_speaker, || {
                        Box::new(io::NullSpeaker)
                    });
                a.speaker_kind = Some(speaker_kind);
            }
            return;
        }
        // A device that vanished mid-call: reopen what is selected, else fall back.
        if let Some(why) = a.mic.failure() {
            ctx.host.warn(&format!(
                "audio call {}: microphone failed: {why}",
                ctx.call_id
            ));
            a.mic = Box::new(io::NullMic);
            a.mic = open_with_fallback(ctx, DeviceDirection::Input, io::open_mic, || {
                Box::new(io::NullMic)
            });
        }
        if let Some(why) = a.speaker.failure() {
            ctx.host.warn(&format!(
                "audio call {}: speaker failed: {why}",
                ctx.call_id
            ));
            a.speaker = Box::new(io::NullSpeaker);
            a.speaker = open_with_fallback(ctx, DeviceDirection::Output, io::open_speaker, || {
                Box::new(io::NullSpeaker)
            });
        }
    }

    /// Decodes until one device frame is ready, then plays it.
    fn play(&mut self, now: Instant) {
        let c = &mut self.audio.coder;
        // One packet's worth of samples (the peer's ptime, as the buffer learned it).
        let codec_frame = (self.stream.packet_time() * u64::from(c.codec.sample_rate())
            / u64::from(c.codec.clock_rate().max(1))) as usize;
        let mut pops = 0;
        let packet_us = codec_frame as u64 * 1_000_000 / u64::from(c.codec.sample_rate().max(1));
        while c.from_codec.available() < FRAME && pops < 4 {
            pops += 1;
            let mut pcm = Vec::with_capacity(codec_frame);
            let playout = self.stream.playout(now);
            self.audio.arrival = Some(match self.stream.played_arrival() {
                Some(arrived) => arrived,
                // Nothing arrived for this packet: as if it had, on time.
                None => self
                    .audio
                    .arrival
                    .map_or(now, |a| (a + Duration::from_micros(packet_us)).min(now)),
            });
            match playout {
                Playout::Frame(payload) => {
                    if c.codec.decode(&payload, &mut pcm).is_err() {
                        c.codec.conceal(None, codec_frame, &mut pcm);
                    }
                }
                Playout::Conceal { next } => {
                    c.codec.conceal(next.as_deref(), codec_frame, &mut pcm)
                }
                Playout::Silence => pcm.resize(codec_frame, 0),
            }
            c.from_codec.push(&to_f32(&pcm));
        }
        // More than 100 ms decoded ahead (a peer's long packets): trim.
        if c.from_codec.available() > FRAME * 5 {
            c.from_codec.pull(c.from_codec.available() - FRAME * 2);
        }
        let mut frame = c.from_codec.pull(FRAME);
        // Stamped by arrival, as pictures are, not by playout (which is
        // the jitter buffer's hold later): the newest decoded sample came
        // with the packet that arrived last, and this frame's first sample
        // is what still waits after it, plus the frame itself, before that.
        let behind = Duration::from_micros(c.from_codec.latency_us() + FRAME_US);
        let heard = self.audio.arrival.unwrap_or(now).checked_sub(behind);
        self.audio.bus.publish_heard(&frame, heard.unwrap_or(now));
        if self.n.te_send.is_none() || self.ctx.dtmf_mode == DtmfMode::InBand {
            if let Some(tone) = self.audio.tones_in.block(&frame) {
                self.dtmf_received(tone, "inband");
            }
        }
        let gain = self.ctx.controls.speaker_gain();
        if gain != 1.0 {
            frame.iter_mut().for_each(|s| *s *= gain);
        }
        if let Some(v) = self.audio.voice.as_mut() {
            v.render(&frame);
        }
        self.audio.speaker.write(&frame);
    }

    fn send(&mut self, now: Instant) {
        let a = &mut self.audio;
        let time = a.time;
        a.time = a.time.wrapping_add(a.coder.codec.clock_rate() / 50);
        let mut frame = vec![0.0f32; FRAME];
        a.mic.read(&mut frame);
        if let Some(v) = a.voice.as_mut() {
            v.capture(&mut frame);
        }
        let gain = self
            .ctx
            .controls
            .mic_gain(self.ctx.muted.load(std::sync::atomic::Ordering::Acquire));
        if gain != 1.0 {
            frame.iter_mut().for_each(|s| *s *= gain);
        }
        if !self.n.direction.sends() {
            return;
        }
        if a.tone.is_none() {
            a.tone = a.inband.pop_front().map(ToneSender::new);
        }
        if let Some(t) = a.tone.as_mut() {
            if !t.fill(&mut frame) {
                a.tone = None;
            }
        }
        a.bus.publish(Side::Local, &frame);
        let c = &mut a.coder;
        c.to_codec.push(&frame);
        let pcm = to_i16(&c.to_codec.pull(c.codec.sample_rate() as usize / 50));
        let mut payload = Vec::with_capacity(256);
        if let Err(e) = c.codec.encode(&pcm, &mut payload) {
            return self.log(LogLevel::Warn, &format!("encode: {e}"));
        }
        // Opus in DTX sends nothing for silence (it returns 1–2 bytes).
        if self.n.params.dtx && payload.len() <= 2 {
            return;
        }
        let marker = std::mem::take(&mut a.first_packet);
        self.stream.write(now, time, &payload, marker);
    }
}
