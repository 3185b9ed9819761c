//! What the media core says, told to the host: media up, the RTP timeout,
//! keys the peer pressed, and the QoS event the page sees every 5 s.

use seatphone_media::stream::Event;
use seatphone_plugin_api::{Event as PageEvent, LogLevel, Signal};
use serde_json::json;

use super::thread::MediaThread;
use crate::EVT_DTMF_RECEIVED;

impl MediaThread {
    pub(super) fn on_event(&mut self, event: Event) {
        let call_id = self.ctx.call_id;
        match event {
            Event::MediaUp => self.ctx.host.signal(&Signal::MediaUp {
                call_id,
                kind: "audio".into(),
            }),
            Event::Timeout { silent } => {
                self.log(
                    LogLevel::Warn,
                    &format!("no RTP for {} ms", silent.as_millis()),
                );
                self.ctx.host.signal(&Signal::MediaTimeout {
                    call_id,
                    kind: "audio".into(),
                    silent_ms: silent.as_millis() as u64,
                });
            }
            Event::Dtmf { key } => self.dtmf_received(key, "rfc4733"),
            Event::Report(q) => self.ctx.host.emit_standard(
                PageEvent::LocalQos,
                &json!({
                    "callId": call_id,
                    "call_id": call_id,
                    "codec": self.n.codec.name,
                    "sendPackets": q.sent_packets,
                    "recvPackets": q.received_packets,
                    "lostPackets": q.lost_packets,
                    "jitterMs": q.jitter_ms.round() as u64,
                    "rttMs": q.rtt_ms.map_or(0, |r| r.round() as u64),
                }),
            ),
            Event::PeerMoved { to } => self.log(
                LogLevel::Info,
                &format!("the peer's media comes from {to}: sending there"),
            ),
            Event::Dropped { why, count } => self.log(
                LogLevel::Debug,
                &format!("dropped a packet ({count} so far): {why}"),
            ),
            // Video's business.
            _ => {}
        }
    }

    pub(super) fn dtmf_received(&self, tone: u8, method: &str) {
        let key = crate::dtmf::tone_char(tone).unwrap_or('?');
        self.log(LogLevel::Info, &format!("DTMF {key} received ({method})"));
        let call_id = self.ctx.call_id;
        self.ctx.host.emit(
            EVT_DTMF_RECEIVED,
            "AUDIO_EVT_DTMF_RECEIVED",
            &json!({ "callId": call_id, "call_id": call_id, "tone": tone, "method": method }),
        );
    }
}
