//! DTMF as RFC 4733 telephone-event payloads: sending one key (growing
//! durations, then the end packet three times) and reporting each key the
//! peer sends once. In-band tones are audio and stay with the audio plugin.

/// One RFC 4733 event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    pub duration: u16,
}

impl TelephoneEvent {
    pub fn parse(payload: &[u8]) -> Option<Self> {
        if payload.len() < 4 {
            return None;
        }
        Some(Self {
            event: payload[0],
            end: payload[1] & 0x80 != 0,
            volume: payload[1] & 0x3f,
            duration: u16::from_be_bytes([payload[2], payload[3]]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }
}

/// Sends one key as RFC 4733 packets, one per 20 ms frame: growing
/// durations, then the end packet three times (RFC 4733 §2.5.1.4).
#[derive(Debug, Clone)]
pub struct EventSender {
    pub event: u8,
    /// Clock rate of the negotiated telephone-event.
    clock: u32,
    frames_on: u32,
    frame: u32,
}

/// How long a key is held, and the pause after it.
pub const KEY_MS: u32 = 100;
pub const GAP_MS: u32 = 60;

impl EventSender {
    pub fn new(event: u8, clock: u32) -> Self {
        Self {
            event,
            clock,
            frames_on: KEY_MS / 20,
            frame: 0,
        }
    }

    /// What the next 20 ms frame carries.
    pub fn next_frame(&mut self) -> EventStep {
        let i = self.frame;
        self.frame += 1;
        let per_frame = self.clock / 50;
        let gap_frames = GAP_MS / 20;
        if i < self.frames_on {
            let ev = TelephoneEvent {
                event: self.event,
                end: false,
                volume: 10,
                duration: ((i + 1) * per_frame) as u16,
            };
            EventStep::Packet {
                event: ev,
                marker: i == 0,
            }
        } else if i < self.frames_on + 3 {
            let ev = TelephoneEvent {
                event: self.event,
                end: true,
                volume: 10,
                duration: (self.frames_on * per_frame) as u16,
            };
            EventStep::Packet {
                event: ev,
                marker: false,
            }
        } else if i < self.frames_on + 3 + gap_frames {
            EventStep::Gap
        } else {
            EventStep::Done
        }
    }
}

/// One frame of an [`EventSender`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStep {
    /// Send this event payload instead of audio.
    Packet {
        event: TelephoneEvent,
        marker: bool,
    },
    /// The pause after a key: send audio again.
    Gap,
    Done,
}

/// Reports each received event once (events repeat in several packets,
/// identified by their RTP timestamp).
#[derive(Debug, Default)]
pub struct EventReceiver {
    last_timestamp: Option<u32>,
}

impl EventReceiver {
    /// The key pressed, when this packet starts a new event.
    pub fn packet(&mut self, timestamp: u32, payload: &[u8]) -> Option<u8> {
        let ev = TelephoneEvent::parse(payload)?;
        if ev.event > 16 || self.last_timestamp == Some(timestamp) {
            return None;
        }
        self.last_timestamp = Some(timestamp);
        Some(ev.event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4733_payload_round_trips_and_repeats_are_reported_once() {
        let ev = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 800,
        };
        assert_eq!(TelephoneEvent::parse(&ev.to_bytes()), Some(ev));
        assert_eq!(TelephoneEvent::parse(&[1, 2]), None);
        let mut tx = EventSender::new(5, 8000);
        let mut rx = EventReceiver::default();
        let mut got = Vec::new();
        let mut markers = 0;
        let mut ends = 0;
        loop {
            let (ev, marker) = match tx.next_frame() {
                EventStep::Packet { event, marker } => (event, marker),
                EventStep::Gap => continue,
                EventStep::Done => break,
            };
            markers += usize::from(marker);
            ends += usize::from(ev.end);
            got.extend(rx.packet(1000, &ev.to_bytes()));
        }
        assert_eq!(got, vec![5]);
        assert_eq!((markers, ends), (1, 3));
        assert_eq!(
            rx.packet(2000, &[17, 0, 0, 0]),
            None,
            "events above 16 are not keys"
        );
        assert_eq!(rx.packet(3000, &[16, 0, 0, 0]), Some(16));
    }
}
