//! Two streams on simulated time, joined by a simulated network: every
//! test runs in milliseconds and meets the same network every run.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::netem::{Netem, NetemConfig};
use crate::payload::{Assembled, Frame, FrameAssembler, Packetizer, VideoCodec};
use crate::srtp::Suite;

const MS: Duration = Duration::from_millis(1);
const FRAME: Duration = Duration::from_millis(20);

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Audio as a G.711 call has it: 8 kHz, PT 0, telephone-event 101.
fn audio_params(remote_port: u16) -> StreamParams {
    StreamParams {
        clock_rate: 8000,
        send_pt: 0,
        recv_pts: vec![0],
        events_send: Some((101, 8000)),
        events_recv: vec![101],
        remote_rtp: addr(remote_port),
        remote_rtcp: addr(remote_port + 1),
        direction: Direction::SendRecv,
        srtp: None,
    }
}

fn options(ssrc: u32, receive: ReceivePolicy) -> StreamOptions {
    StreamOptions {
        ssrc,
        first_seq: 65_500,
        timestamp_base: u32::MAX - 4000,
        ntp_start: 1 << 40,
        rtp_timeout: Duration::from_secs(3),
        report_interval: Duration::from_secs(5),
        cname: "test".into(),
        receive,
    }
}

const PLAYOUT: ReceivePolicy = ReceivePolicy::Playout { packet: FRAME };

/// One end: its stream, its addresses, what came out of it.
struct Side {
    stream: MediaStream,
    rtp: SocketAddr,
    rtcp: SocketAddr,
    wake: Instant,
    events: Vec<(Duration, Event)>,
    played: Vec<Playout>,
    sent: Vec<Transmit>,
    /// Media time of the next frame written, in clock units.
    time: u32,
    talking: bool,
}

type Datagram = (Port, SocketAddr, Vec<u8>);

impl Side {
    fn new(t0: Instant, port: u16, stream: MediaStream) -> Self {
        Self {
            stream,
            rtp: addr(port),
            rtcp: addr(port + 1),
            wake: t0,
            events: Vec::new(),
            played: Vec::new(),
            sent: Vec::new(),
            time: 0,
            talking: true,
        }
    }

    fn drain(&mut self, t0: Instant, now: Instant, net: &mut Netem<Datagram>) {
        loop {
            match self.stream.poll_output() {
                Output::Transmit(t) => {
                    let from = if t.port == Port::Rtp {
                        self.rtp
                    } else {
                        self.rtcp
                    };
                    net.send(now, (t.port, from, t.data.clone()));
                    self.sent.push(t);
                }
                Output::Event(e) => self.events.push((now - t0, e)),
                Output::Timeout(at) => {
                    assert!(at >= now || at == self.wake, "a timeout in the past");
                    self.wake = at;
                    return;
                }
            }
        }
    }

    /// One 20 ms frame of the device clock: play one, record one (a
    /// payload that names the frame).
    fn tick(&mut self, now: Instant) {
        let p = self.stream.playout(now);
        self.played.push(p);
        if self.talking {
            let n = self.time / 160;
            self.stream.write(now, self.time, &n.to_be_bytes(), n == 0);
        }
        self.time = self.time.wrapping_add(160);
    }

    fn events(&self) -> Vec<&Event> {
        self.events.iter().map(|(_, e)| e).collect()
    }

    fn reports(&self) -> Vec<Qos> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Report(q) => Some(*q),
                _ => None,
            })
            .collect()
    }

    /// Frame numbers played, in order.
    fn frames(&self) -> Vec<u32> {
        self.played
            .iter()
            .filter_map(|p| match p {
                Playout::Frame(b) => Some(u32::from_be_bytes(b[..4].try_into().ok()?)),
                _ => None,
            })
            .collect()
    }
}

/// Two sides and a path each way, stepped 1 ms at a time.
struct Pair {
    t0: Instant,
    now: Instant,
    a: Side,
    b: Side,
    ab: Netem<Datagram>,
    ba: Netem<Datagram>,
    /// The devices' 20 ms clock runs (else only timers and packets).
    ticking: bool,
}

impl Pair {
    fn audio(net: NetemConfig) -> Self {
        let t0 = Instant::now();
        let a = MediaStream::new(t0, audio_params(5000), options(0xa, PLAYOUT)).unwrap();
        let b = MediaStream::new(t0, audio_params(4000), options(0xb, PLAYOUT)).unwrap();
        Self::new(t0, a, b, net)
    }

    fn new(t0: Instant, a: MediaStream, b: MediaStream, net: NetemConfig) -> Self {
        Self {
            t0,
            now: t0,
            a: Side::new(t0, 4000, a),
            b: Side::new(t0, 5000, b),
            ab: Netem::new(net),
            ba: Netem::new(NetemConfig {
                seed: net.seed + 1,
                ..net
            }),
            ticking: true,
        }
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step();
        }
    }

    fn step(&mut self) {
        let now = self.now;
        for (net, side) in [(&mut self.ab, &mut self.b), (&mut self.ba, &mut self.a)] {
            while let Some((_, (port, from, data))) = net.poll_receive(now) {
                let to = if port == Port::Rtp {
                    side.rtp
                } else {
                    side.rtcp
                };
                if to == side.rtp || to == side.rtcp {
                    side.stream.handle_receive(now, port, from, &data);
                }
            }
        }
        let tick = self.ticking && (now - self.t0).as_millis().is_multiple_of(20);
        for (side, net) in [(&mut self.a, &mut self.ab), (&mut self.b, &mut self.ba)] {
            if tick {
                side.tick(now);
            }
            if now >= side.wake {
                side.stream.handle_timeout(now);
            }
            side.drain(self.t0, now, net);
        }
        self.now += MS;
    }
}

#[test]
fn media_flows_both_ways_in_order_and_is_up_once() {
    let mut p = Pair::audio(NetemConfig::default());
    p.run(Duration::from_secs(2));
    for side in [&p.a, &p.b] {
        let f = side.frames();
        assert!(f.len() >= 95, "{}", f.len());
        assert_eq!(f, (0..f.len() as u32).collect::<Vec<_>>());
        let ups = side
            .events()
            .iter()
            .filter(|e| ***e == Event::MediaUp)
            .count();
        assert_eq!(ups, 1);
    }
    // The first packet of the talk spurt has the marker, and the
    // timestamps run on across the 32-bit wrap.
    let first = rtp::parse(&p.a.sent[0].data).unwrap();
    assert!(first.header.marker);
    assert_eq!(first.header.ssrc, 0xa);
    assert_eq!(first.header.timestamp, u32::MAX - 4000);
}

#[test]
fn loss_jitter_and_reordering_are_played_through_and_reported() {
    let net = NetemConfig {
        delay: 30 * MS,
        jitter: 40 * MS,
        loss: 0.05,
        // Duplicates count as received in RFC 3550's loss figure: none here.
        duplicate: 0.0,
        seed: 7,
    };
    let mut p = Pair::audio(net);
    p.run(Duration::from_secs(30));
    let f = p.b.frames();
    // Played in order, nothing twice, about 95 % of what was sent.
    assert!(f.windows(2).all(|w| w[0] < w[1]), "out of order or twice");
    let sent = p.a.time / 160;
    assert!(
        f.len() as f64 > f64::from(sent) * 0.9,
        "{} of {sent}",
        f.len()
    );
    // No silence in the middle of the stream: losses are concealed.
    let start =
        p.b.played
            .iter()
            .position(|x| matches!(x, Playout::Frame(_)))
            .unwrap();
    let silent = p.b.played[start..f.len() + start]
        .iter()
        .filter(|x| matches!(x, Playout::Silence))
        .count();
    assert_eq!(silent, 0);
    // B counts what the path lost (the path also lost a report or so),
    // and sees its jitter; the reports go every 5 s.
    let q = p.b.stream.qos();
    let lost_on_path = p.ab.lost;
    assert!(
        q.lost_packets.abs_diff(lost_on_path) <= 3,
        "reported {} lost, the path lost {lost_on_path}",
        q.lost_packets
    );
    assert!(q.jitter_ms > 5.0, "{}", q.jitter_ms);
    assert_eq!(p.b.reports().len(), 5);
    assert!(p.b.reports()[4].lost_packets > 0);
}

#[test]
fn rtcp_reports_go_every_interval_and_measure_the_round_trip() {
    let net = NetemConfig {
        delay: 25 * MS,
        ..NetemConfig::default()
    };
    let t0 = Instant::now();
    let a = MediaStream::new(t0, audio_params(5000), options(0xa, PLAYOUT)).unwrap();
    // B reports at 3, 6 and 9 s: its report at 6 s answers A's SR of 5 s.
    let b_options = StreamOptions {
        report_interval: Duration::from_secs(3),
        ..options(0xb, PLAYOUT)
    };
    let b = MediaStream::new(t0, audio_params(4000), b_options).unwrap();
    let mut p = Pair::new(t0, a, b, net);
    p.run(Duration::from_millis(10_100));
    let at: Vec<Duration> =
        p.a.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Report(_)))
            .map(|(t, _)| *t)
            .collect();
    assert_eq!(at, vec![Duration::from_secs(5), Duration::from_secs(10)]);
    // An SR went out each time, to the peer's RTCP port, with an SDES.
    let reports: Vec<&Transmit> = p.a.sent.iter().filter(|t| t.port == Port::Rtcp).collect();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].to, addr(5001));
    let sr = rtcp::parse(&reports[1].data).unwrap();
    assert_eq!(sr.ssrc, 0xa);
    assert!(sr.sender.is_some());
    assert_eq!(sr.blocks[0].ssrc, 0xb);
    // A's SR at 5 s came back in B's report at 6 s: 2 × 25 ms.
    assert_eq!(p.a.reports()[0].rtt_ms, None);
    let rtt = p.a.reports()[1].rtt_ms.unwrap();
    assert!((rtt - 50.0).abs() < 1.0, "{rtt}");
    let q = *p.b.reports().last().unwrap();
    assert!(q.received_packets >= 445 && q.lost_packets == 0, "{q:?}");
}

#[test]
fn a_silent_peer_times_out_once_after_the_rtp_timeout() {
    let mut p = Pair::audio(NetemConfig::default());
    p.b.talking = false;
    // B's reports keep A's call alive: only a peer that is gone times out.
    p.ba = Netem::new(NetemConfig {
        loss: 1.0,
        ..NetemConfig::default()
    });
    p.run(Duration::from_secs(10));
    let timeouts: Vec<&(Duration, Event)> =
        p.a.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Timeout { .. }))
            .collect();
    assert_eq!(
        timeouts,
        vec![&(
            Duration::from_secs(3),
            Event::Timeout {
                silent: Duration::from_secs(3)
            }
        )]
    );
    // B hears A all along, and says nothing.
    assert!(!p
        .b
        .events()
        .iter()
        .any(|e| matches!(e, Event::Timeout { .. })));
}

#[test]
fn a_call_on_hold_does_not_time_out_and_new_parameters_restart_the_clock() {
    let mut p = Pair::audio(NetemConfig::default());
    p.ba = Netem::new(NetemConfig {
        loss: 1.0,
        ..NetemConfig::default()
    });
    // We put the call on hold: the peer sends nothing (a=sendonly for us).
    let mut held = audio_params(5000);
    held.direction = Direction::SendOnly;
    p.a.stream.update(p.now, held).unwrap();
    p.run(Duration::from_secs(10));
    assert!(!p
        .a
        .events()
        .iter()
        .any(|e| matches!(e, Event::Timeout { .. })));
    // Off hold at 10 s: the peer has 3 s again from then.
    p.a.stream.update(p.now, audio_params(5000)).unwrap();
    p.run(Duration::from_secs(4));
    let t: Vec<Duration> =
        p.a.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Timeout { .. }))
            .map(|(t, _)| *t)
            .collect();
    assert_eq!(t, vec![Duration::from_secs(13)]);
}

#[test]
fn symmetric_rtp_follows_the_peer_until_the_signalled_address_is_heard() {
    let mut p = Pair::audio(NetemConfig::default());
    // A was told B is at 6000 (a NAT in between rewrites nothing in SDP).
    p.a.stream.update(p.t0, audio_params(6000)).unwrap();
    p.run(Duration::from_millis(200));
    // A sent to 6000 first, then to where B's media comes from.
    let to: Vec<SocketAddr> =
        p.a.sent
            .iter()
            .filter(|t| t.port == Port::Rtp)
            .map(|t| t.to)
            .collect();
    assert_eq!(to[0], addr(6000));
    assert_eq!(*to.last().unwrap(), addr(5000));
    assert!(p.a.events().contains(&&Event::PeerMoved { to: addr(5000) }));
    assert!(p.a.frames().len() >= 5);

    // Once media came from the signalled address, a stranger is refused.
    let mut q = Pair::audio(NetemConfig::default());
    q.run(Duration::from_millis(200));
    let stranger = rtp::RtpSender::new(0x99, 1, 0).packet(0, false, 0, &[0xff; 4]);
    for _ in 0..3 {
        q.a.stream
            .handle_receive(q.now, Port::Rtp, addr(7000), &stranger);
    }
    q.run(Duration::from_millis(100));
    assert!(q
        .a
        .events()
        .iter()
        .any(|e| matches!(e, Event::Dropped { why, .. } if why.contains("127.0.0.1:7000"))));
    let to: Vec<SocketAddr> =
        q.a.sent
            .iter()
            .filter(|t| t.port == Port::Rtp)
            .map(|t| t.to)
            .collect();
    assert!(to.iter().all(|t| *t == addr(5000)));
    // Unknown payload types do not move the latch either.
    let mut r = Pair::audio(NetemConfig::default());
    r.a.stream.update(r.t0, audio_params(6000)).unwrap();
    let odd = rtp::RtpSender::new(0x99, 1, 0).packet(77, false, 0, &[0xff; 4]);
    r.a.stream
        .handle_receive(r.now, Port::Rtp, addr(7000), &odd);
    assert_eq!(r.a.stream.remote_rtp(), addr(6000));
}

#[test]
fn dtmf_keys_go_as_events_in_place_of_audio_one_after_the_other() {
    let mut p = Pair::audio(NetemConfig::default());
    p.run(Duration::from_millis(100));
    let t_send = p.now - p.t0;
    p.a.stream.send_dtmf(p.now, 5).unwrap();
    p.a.stream.send_dtmf(p.now, 11).unwrap();
    p.run(Duration::from_millis(600));
    let keys: Vec<u8> =
        p.b.events()
            .iter()
            .filter_map(|e| match e {
                Event::Dtmf { key } => Some(*key),
                _ => None,
            })
            .collect();
    assert_eq!(keys, vec![5, 11]);
    // What A sent from the first key on: 5 events then 3 ends per key,
    // 20 ms apart; no audio while a key is on, audio in the 60 ms pause.
    let packets: Vec<rtp::Packet> =
        p.a.sent
            .iter()
            .filter(|t| t.port == Port::Rtp)
            .map(|t| rtp::parse(&t.data).unwrap())
            .collect();
    let first = packets
        .iter()
        .position(|x| x.header.payload_type == 101)
        .unwrap();
    let kinds: String = packets[first..]
        .iter()
        .take(20)
        .map(|x| match (x.header.payload_type, x.payload.get(1)) {
            (101, Some(f)) if f & 0x80 != 0 => 'E',
            (101, _) => 'k',
            _ => 'a',
        })
        .collect();
    assert_eq!(kinds, "kkkkkEEEaaakkkkkEEEa");
    // A key's packets share the timestamp of the moment it started.
    let k1: Vec<u32> = packets[first..first + 8]
        .iter()
        .map(|x| x.header.timestamp)
        .collect();
    assert!(k1.iter().all(|t| *t == k1[0]));
    let expected = (u32::MAX - 4000).wrapping_add(t_send.as_millis() as u32 * 8);
    assert_eq!(k1[0], expected);
    assert!(packets[first].header.marker);
    // Without telephone-event the stream refuses, and says why.
    let mut plain = audio_params(5000);
    plain.events_send = None;
    p.a.stream.update(p.now, plain).unwrap();
    assert!(p
        .a
        .stream
        .send_dtmf(p.now, 1)
        .unwrap_err()
        .contains("telephone-event"));
}

#[test]
fn srtp_on_both_sides_carries_media_and_a_wrong_key_is_dropped() {
    let t0 = Instant::now();
    let ka = Crypto::generate(1, Suite::AesCm128HmacSha1_80);
    let kb = Crypto::generate(1, Suite::AesCm128HmacSha1_80);
    let mut pa = audio_params(5000);
    pa.srtp = Some((ka.clone(), kb.clone()));
    let mut pb = audio_params(4000);
    pb.srtp = Some((kb, ka));
    let a = MediaStream::new(t0, pa.clone(), options(0xa, PLAYOUT)).unwrap();
    let b = MediaStream::new(t0, pb, options(0xb, PLAYOUT)).unwrap();
    let mut p = Pair::new(t0, a, b, NetemConfig::default());
    p.run(Duration::from_millis(5100));
    assert!(p.b.frames().len() > 200);
    assert!(p.a.reports()[0].rtt_ms.is_none() || p.a.reports()[0].received_packets > 0);
    // A's packets are not plain RTP on the wire.
    let wire = &p.a.sent[0].data;
    let plain = rtp::parse(wire).unwrap();
    assert_ne!(&plain.payload[..4], &0u32.to_be_bytes());

    // B re-keyed on its own: A cannot read it, and says so.
    let mut c = Pair::new(
        t0,
        MediaStream::new(t0, pa, options(0xa, PLAYOUT)).unwrap(),
        MediaStream::new(t0, audio_params(4000), options(0xb, PLAYOUT)).unwrap(),
        NetemConfig::default(),
    );
    c.run(Duration::from_millis(200));
    assert!(c.a.frames().is_empty());
    assert!(c
        .a
        .events()
        .iter()
        .any(|e| matches!(e, Event::Dropped { why, .. } if why.contains("SRTP"))));
    assert!(!c.a.events().contains(&&Event::MediaUp));
}

#[test]
fn hostile_datagrams_are_dropped_and_counted_without_harm() {
    let mut p = Pair::audio(NetemConfig::default());
    p.run(Duration::from_millis(100));
    let junk: [&[u8]; 5] = [
        &[],
        &[0x80],
        &[0x80, 200, 0, 99],
        &[
            0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff,
        ],
        &[0xff; 1500],
    ];
    for _ in 0..200 {
        for j in junk {
            p.a.stream.handle_receive(p.now, Port::Rtp, addr(5000), j);
            p.a.stream.handle_receive(p.now, Port::Rtcp, addr(5001), j);
        }
    }
    p.run(Duration::from_millis(500));
    let told: Vec<u32> =
        p.a.events()
            .iter()
            .filter_map(|e| match e {
                Event::Dropped { count, .. } => Some(*count),
                _ => None,
            })
            .collect();
    assert_eq!(told, vec![1, 2, 3, 4, 5, 500, 1000, 1500, 2000]);
    // Media goes on.
    let f = p.a.frames();
    assert_eq!(f, (0..f.len() as u32).collect::<Vec<_>>());
    assert!(f.len() >= 25);
}

/// Video: frames of several packets at 90 kHz, 30 frames/s.
fn video_pair(net: NetemConfig) -> Pair {
    let t0 = Instant::now();
    let params = |port| StreamParams {
        clock_rate: 90_000,
        send_pt: 96,
        recv_pts: vec![96],
        events_send: None,
        events_recv: vec![],
        ..audio_params(port)
    };
    let reorder = ReceivePolicy::Reorder { max_wait: 100 * MS };
    let a = MediaStream::new(t0, params(5000), options(0xa, reorder)).unwrap();
    let b = MediaStream::new(t0, params(4000), options(0xb, reorder)).unwrap();
    let mut p = Pair::new(t0, a, b, net);
    p.ticking = false;
    p
}

/// A VP8 frame as far as the payload format looks: the frame tag's key
/// bit and a keyframe's start code, then `n`, padded to 1–4 packets' worth.
fn vp8_frame(n: u32, key: bool) -> Vec<u8> {
    let mut f = if key {
        vec![0x00, 0, 0, 0x9d, 0x01, 0x2a]
    } else {
        vec![0x01, 0, 0]
    };
    f.extend(n.to_be_bytes());
    f.resize(f.len() + 100 * (n % 4) as usize, n as u8);
    f
}

fn frame_number(f: &Frame) -> u32 {
    let at = if f.keyframe { 6 } else { 3 };
    u32::from_be_bytes(f.data[at..at + 4].try_into().unwrap())
}

/// What the video plugin's receiver made of the stream.
#[derive(Default)]
struct Video {
    frames: Vec<Frame>,
    /// Keyframe requests by B's assembler; keyframes sent by A.
    asked: u32,
    keyframes_sent: u32,
}

/// A sends `frames` frames (a keyframe first, and when asked); B rebuilds
/// them as the video plugin does and asks for a keyframe after a loss.
fn run_video(p: &mut Pair, frames: u32) -> Video {
    let mut packetizer = Packetizer::new(VideoCodec::Vp8, 120);
    let mut assembler = FrameAssembler::new(VideoCodec::Vp8);
    let mut video = Video::default();
    let (mut seen_a, mut seen_b) = (0, 0);
    let mut key = true;
    for n in 0..frames {
        let data = vp8_frame(n, std::mem::take(&mut key));
        video.keyframes_sent += u32::from(data[0] == 0);
        let packets = packetizer.packetize(&data);
        for (i, payload) in packets.iter().enumerate() {
            p.a.stream
                .write(p.now, n * 3000, payload, i + 1 == packets.len());
        }
        for _ in 0..33 {
            p.step();
            let ordered: Vec<OrderedPacket> = p.b.events[seen_b..]
                .iter()
                .filter_map(|(_, e)| match e {
                    Event::Packet(x) => Some(x.clone()),
                    _ => None,
                })
                .collect();
            seen_b = p.b.events.len();
            for x in ordered {
                match assembler.push(x.seq, x.timestamp, x.marker, &x.payload) {
                    Assembled::Frame(f) => video.frames.push(f),
                    Assembled::NeedKeyframe => {
                        video.asked += 1;
                        p.b.stream.request_keyframe(p.now, false);
                    }
                    Assembled::Pending => {}
                }
            }
            key |= p.a.events[seen_a..]
                .iter()
                .any(|(_, e)| *e == Event::KeyframeRequest);
            seen_a = p.a.events.len();
        }
    }
    video
}

#[test]
fn video_frames_of_several_packets_come_out_whole_through_jitter() {
    let net = NetemConfig {
        delay: 20 * MS,
        jitter: 30 * MS,
        duplicate: 0.05,
        ..NetemConfig::default()
    };
    let mut p = video_pair(net);
    let video = run_video(&mut p, 100);
    // 30 ms of jitter at 33 ms a frame reorders packets; every frame is
    // rebuilt whole, in order, and nothing asked for a keyframe again.
    assert_eq!(video.frames.len(), 99, "all but the last, still on its way");
    for (n, f) in video.frames.iter().enumerate() {
        assert_eq!(f.data, vp8_frame(n as u32, n == 0), "frame {n}");
        assert_eq!(f.timestamp, (u32::MAX - 4000).wrapping_add(n as u32 * 3000));
    }
    assert_eq!((video.asked, video.keyframes_sent), (0, 1));
}

#[test]
fn a_lost_packet_costs_frames_until_the_keyframe_the_receiver_asked_for() {
    let net = NetemConfig {
        delay: 20 * MS,
        loss: 0.03,
        seed: 11,
        ..NetemConfig::default()
    };
    let mut p = video_pair(net);
    let video = run_video(&mut p, 150);
    let got = video.frames.len();
    assert!(got < 149 && got > 100, "{got} frames");
    // B asked (requests 300 ms apart at most), A was told (a PLI may be
    // lost too) and sent keyframes, and B went on from them to the end.
    assert!(video.asked >= 2);
    let plis =
        p.b.sent
            .iter()
            .filter(|t| {
                feedback::parse(&t.data).is_ok_and(|f| {
                    f.contains(&Feedback::PictureLoss {
                        sender_ssrc: 0xb,
                        media_ssrc: 0xa,
                    })
                })
            })
            .count();
    assert!(plis >= 2 && plis as u32 <= video.asked, "{plis} PLI");
    assert!(video.keyframes_sent >= 2, "{}", video.keyframes_sent);
    let keyframes_got = video.frames.iter().filter(|f| f.keyframe).count();
    assert!(keyframes_got >= 2, "{keyframes_got}");
    let numbers: Vec<u32> = video.frames.iter().map(frame_number).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    assert!(*numbers.last().unwrap() >= 145, "{numbers:?}");
    assert!(video
        .frames
        .windows(2)
        .all(|w| { (w[1].timestamp.wrapping_sub(w[0].timestamp) as i32) > 0 }));
}

#[test]
fn a_full_intra_request_is_told_once_per_sequence_number() {
    let mut p = video_pair(NetemConfig::default());
    run_video(&mut p, 3);
    p.b.stream.request_keyframe(p.now, true);
    p.run(50 * MS);
    // The same FIR again (a retransmission) is not a new request.
    let fir = p.b.sent.last().unwrap().data.clone();
    p.a.stream
        .handle_receive(p.now, Port::Rtcp, addr(5001), &fir);
    p.run(10 * MS);
    let asked =
        p.a.events()
            .iter()
            .filter(|e| ***e == Event::KeyframeRequest)
            .count();
    assert_eq!(asked, 1);
}

/// The sender hears from the peer's reports what share of its packets the
/// path lost (for rate adaptation): about a fifth here, nothing on a clean
/// path.
#[test]
fn the_peer_reports_tell_the_sender_its_loss() {
    let loss_seen = |loss: f64| {
        let mut p = Pair::audio(NetemConfig {
            loss,
            seed: 3,
            ..NetemConfig::default()
        });
        p.run(Duration::from_secs(16));
        p.a.events()
            .iter()
            .filter_map(|e| match e {
                Event::PeerLoss { fraction_lost } => Some(*fraction_lost),
                _ => None,
            })
            .collect::<Vec<u8>>()
    };
    let lossy = loss_seen(0.2);
    assert!(!lossy.is_empty(), "no report about our stream");
    assert!(
        lossy.iter().all(|f| (25..=80).contains(f)),
        "{lossy:?} of 256"
    );
    let clean = loss_seen(0.0);
    assert!(
        !clean.is_empty() && clean.iter().all(|f| *f == 0),
        "{clean:?}"
    );
}
