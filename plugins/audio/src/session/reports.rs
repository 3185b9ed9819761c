//! RTCP in and out, and the QoS event the page sees every 5 s.

use std::time::Instant;

use seatphone_media::rtcp::{self, ReportBlock, SenderInfo};
use serde_json::json;

use super::Media;
use crate::EVT_QOS;

impl Media {
    pub(super) fn receive_rtcp(&mut self, now: Instant) {
        let mut buf = [0u8; 2048];
        for _ in 0..20 {
            match self.rtcp.recv_from(&mut buf) {
                Ok((len, _)) => {
                    let packet = buf[..len].to_vec();
                    self.handle_rtcp(&packet, now);
                }
                Err(_) => break,
            }
        }
    }

    pub(super) fn handle_rtcp(&mut self, raw: &[u8], now: Instant) {
        let data = match self.srtp.as_mut() {
            Some(s) => match s.unprotect_rtcp(raw) {
                Ok(p) => p,
                Err(e) => return self.drop_packet(&format!("SRTCP: {e}")),
            },
            None => raw.to_vec(),
        };
        match rtcp::parse(&data) {
            Ok(report) => {
                // Reports keep a call alive too (a peer in DTX sends little RTP).
                self.last_rx = Some(now);
                if let Some(sr) = report.sender {
                    self.last_sr = Some((rtcp::ntp_middle(sr.ntp), now));
                }
                let ours = self.sender.ssrc;
                if let Some(b) = report.blocks.iter().find(|b| b.ssrc == ours) {
                    if let Some(rtt) = rtcp::rtt_ms(b, rtcp::ntp_now()) {
                        self.rtt_ms = Some(rtt);
                    }
                }
            }
            Err(e) => self.drop_packet(&e),
        }
    }

    /// RTCP report to the peer, QoS event to the page.
    pub(super) fn report(&mut self, now: Instant) {
        let stats = &mut self.coder.stats;
        let mut blocks = Vec::new();
        if let Some(ssrc) = stats.ssrc {
            let (last_sr, dlsr) = match self.last_sr {
                Some((mid, at)) => (mid, (now.duration_since(at).as_secs_f64() * 65536.0) as u32),
                None => (0, 0),
            };
            blocks.push(ReportBlock {
                ssrc,
                fraction_lost: stats.fraction_lost_since_last(),
                cumulative_lost: stats.lost() as u32,
                extended_max_seq: stats.extended_max(),
                jitter: stats.jitter_units(),
                last_sr,
                delay_since_last_sr: dlsr,
            });
        }
        let sender = (self.sender.packets > 0).then(|| SenderInfo {
            ntp: rtcp::ntp_now(),
            rtp_timestamp: self.sender.last_timestamp,
            packets: self.sender.packets as u32,
            octets: self.sender.octets as u32,
        });
        let packet = rtcp::build(self.sender.ssrc, sender, &blocks, "seatphone@127.0.0.1");
        let packet = match self.srtp.as_mut() {
            Some(s) => s.protect_rtcp(&packet).unwrap_or_default(),
            None => packet,
        };
        if !packet.is_empty() && self.n.direction != seatphone_media::sdp::Direction::Inactive {
            let _ = self.rtcp.send_to(&packet, self.n.remote_rtcp);
        }
        let stats = &self.coder.stats;
        self.ctx.host.emit(
            EVT_QOS,
            "TSDK_E_CALL_EVT_STATISTIC_LOCAL_QOS",
            &json!({
                "callId": self.ctx.call_id,
                "call_id": self.ctx.call_id,
                "codec": self.n.codec.name,
                "sendPackets": self.sender.packets,
                "recvPackets": stats.received,
                "lostPackets": stats.lost(),
                "jitterMs": stats.jitter_ms().round() as u64,
                "rttMs": self.rtt_ms.map_or(0, |r| r.round() as u64),
            }),
        );
    }
}
