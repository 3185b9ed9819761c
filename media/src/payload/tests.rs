use super::*;

fn nal(header: u8, len: usize) -> Vec<u8> {
    let mut n = vec![header];
    n.extend((1..len).map(|i| (i * 7 % 251) as u8 | 1));
    n
}

fn annex_b(nals: &[Vec<u8>]) -> Vec<u8> {
    nals.iter()
        .flat_map(|n| [&[0, 0, 0, 1][..], n].concat())
        .collect()
}

/// The NAL units of an Annex B stream, whatever the start code length.
fn split_nals(data: &[u8]) -> Vec<Vec<u8>> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let mut end = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
            while end > s && data[end - 1] == 0 {
                end -= 1;
            }
            data[s..end].to_vec()
        })
        .collect()
}

/// Feeds payloads as consecutive packets of one frame from `seq`.
/// A VP8 key frame of `len` bytes: frame tag, start code, then filler.
fn vp8_key(len: usize) -> Vec<u8> {
    let mut f = vec![0x10, 0, 0, 0x9d, 0x01, 0x2a];
    f.extend((6..len).map(|i| (i % 253) as u8));
    f
}

fn feed(a: &mut FrameAssembler, seq: &mut u16, ts: u32, payloads: &[Bytes]) -> Vec<Assembled> {
    payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let out = a.push(*seq, ts, i + 1 == payloads.len(), p);
            *seq = seq.wrapping_add(1);
            out
        })
        .collect()
}

fn frames(out: &[Assembled]) -> Vec<&Frame> {
    out.iter()
        .filter_map(|o| match o {
            Assembled::Frame(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// An IDR access unit (SPS, PPS, a 3000-byte slice) goes out as a STAP-A
/// with the parameter sets and FU-A fragments within the MTU, and comes
/// back as the same NAL units, a keyframe.
#[test]
fn h264_keyframe_goes_as_stap_a_and_fu_a_and_comes_back() {
    let (sps, pps, idr) = (nal(0x67, 12), nal(0x68, 4), nal(0x65, 3000));
    let au = annex_b(&[sps.clone(), pps.clone(), idr.clone()]);
    let mut p = Packetizer::new(VideoCodec::H264, DEFAULT_MTU);
    let payloads = p.packetize(&au);
    let types: Vec<u8> = payloads.iter().map(|p| p[0] & 0x1f).collect();
    assert_eq!(types, [24, 28, 28, 28], "STAP-A then FU-A");
    assert!(payloads.iter().all(|p| p.len() <= DEFAULT_MTU));
    assert_eq!(payloads[1][1] & 0xc0, 0x80, "FU-A start bit");
    assert_eq!(payloads[3][1] & 0xc0, 0x40, "FU-A end bit");
    let mut a = FrameAssembler::new(VideoCodec::H264);
    let mut seq = 100;
    let out = feed(&mut a, &mut seq, 9000, &payloads);
    let got = frames(&out);
    assert_eq!(got.len(), 1, "{out:?}");
    assert!(got[0].keyframe);
    assert_eq!(got[0].timestamp, 9000);
    assert_eq!(split_nals(&got[0].data), vec![sps, pps, idr]);
    // A small delta frame: one single-NAL packet.
    let slice = nal(0x41, 300);
    let payloads = p.packetize(&annex_b(std::slice::from_ref(&slice)));
    assert_eq!(payloads.len(), 1);
    assert_eq!(payloads[0][0] & 0x1f, 1);
    let out = feed(&mut a, &mut seq, 12600, &payloads);
    let got = frames(&out);
    assert!(!got[0].keyframe);
    assert_eq!(split_nals(&got[0].data), vec![slice]);
    assert_eq!(a.stats.frames, 2);
}

/// VP8: a 3000-byte keyframe in three packets with the RFC 7741
/// descriptor (S on the first only, a picture ID on each), back whole.
#[test]
fn vp8_frames_are_split_and_rebuilt() {
    let key = vp8_key(3000);
    let mut p = Packetizer::new(VideoCodec::Vp8, DEFAULT_MTU);
    let payloads = p.packetize(&key);
    assert_eq!(payloads.len(), 3);
    assert_eq!(payloads[0][0] & 0x10, 0x10, "S bit on the first");
    assert_eq!(payloads[1][0] & 0x10, 0, "no S bit after");
    assert!(
        payloads.iter().all(|p| p[0] & 0x80 != 0),
        "picture ID present"
    );
    let mut a = FrameAssembler::new(VideoCodec::Vp8);
    let mut seq = 65534; // wraps inside the frame
    let out = feed(&mut a, &mut seq, 1, &payloads);
    let got = frames(&out);
    assert_eq!(got.len(), 1, "{out:?}");
    assert!(got[0].keyframe);
    assert_eq!(got[0].data, key);
    let delta = vec![0x11u8; 500];
    let out = feed(&mut a, &mut seq, 3601, &p.packetize(&delta));
    assert_eq!(frames(&out)[0].data, delta);
    assert!(!frames(&out)[0].keyframe);
}

/// A lost packet drops its frame and asks for a keyframe once; delta
/// frames after it are held back until the keyframe comes.
#[test]
fn a_gap_drops_the_frame_and_waits_for_a_keyframe() {
    let mut p = Packetizer::new(VideoCodec::Vp8, DEFAULT_MTU);
    let mut a = FrameAssembler::new(VideoCodec::Vp8);
    let mut seq = 10;
    let key = vp8_key(3000);
    let delta = vec![0x11u8; 3000];
    assert_eq!(
        frames(&feed(&mut a, &mut seq, 0, &p.packetize(&key))).len(),
        1
    );
    // The middle packet of a delta frame is lost.
    let parts = p.packetize(&delta);
    let mut out = vec![a.push(seq, 3600, false, &parts[0])];
    out.push(a.push(seq + 2, 3600, true, &parts[2]));
    seq += 3;
    assert_eq!(out, [Assembled::Pending, Assembled::NeedKeyframe]);
    // Two more delta frames: dropped, no second request.
    for ts in [7200, 10800] {
        let out = feed(&mut a, &mut seq, ts, &p.packetize(&delta));
        assert!(out.iter().all(|o| *o == Assembled::Pending), "{out:?}");
    }
    let out = feed(&mut a, &mut seq, 14400, &p.packetize(&key));
    assert!(frames(&out)[0].keyframe);
    let out = feed(&mut a, &mut seq, 18000, &p.packetize(&delta));
    assert_eq!(frames(&out).len(), 1, "delta frames flow again");
    assert_eq!(
        a.stats,
        AssemblerStats {
            frames: 3,
            keyframes: 2,
            dropped: 1,
            skipped: 2,
            keyframes_asked: 1,
        }
    );
}

/// A stream joined mid-GOP asks for a keyframe at its first frame.
#[test]
fn a_stream_starting_without_a_keyframe_asks_for_one() {
    let mut p = Packetizer::new(VideoCodec::H264, DEFAULT_MTU);
    let mut a = FrameAssembler::new(VideoCodec::H264);
    let mut seq = 0;
    let out = feed(
        &mut a,
        &mut seq,
        0,
        &p.packetize(&annex_b(&[nal(0x41, 50)])),
    );
    assert_eq!(out, [Assembled::NeedKeyframe]);
    let idr = annex_b(&[nal(0x67, 8), nal(0x68, 4), nal(0x65, 100)]);
    let out = feed(&mut a, &mut seq, 3000, &p.packetize(&idr));
    assert!(frames(&out)[0].keyframe);
}

/// A frame whose marker packet is lost ends when the next timestamp
/// begins: it is dropped, not glued to the next frame.
#[test]
fn a_lost_marker_drops_the_frame() {
    let mut p = Packetizer::new(VideoCodec::Vp8, DEFAULT_MTU);
    let mut a = FrameAssembler::new(VideoCodec::Vp8);
    let mut seq = 0;
    feed(&mut a, &mut seq, 0, &p.packetize(&vp8_key(100)));
    let parts = p.packetize(&[0x11; 2000]);
    assert_eq!(a.push(seq, 3600, false, &parts[0]), Assembled::Pending);
    seq += 2; // the marker packet is lost
    let key = p.packetize(&vp8_key(100));
    let out = a.push(seq, 7200, true, &key[0]);
    // The keyframe's packet came after a gap: it is dropped too, and a
    // keyframe is asked.
    assert_eq!(out, Assembled::NeedKeyframe);
    assert_eq!(a.stats.frames, 1);
}

#[test]
fn duplicates_and_late_packets_are_ignored() {
    let mut p = Packetizer::new(VideoCodec::Vp8, DEFAULT_MTU);
    let mut a = FrameAssembler::new(VideoCodec::Vp8);
    let parts = p.packetize(&vp8_key(2000));
    assert_eq!(a.push(5, 0, false, &parts[0]), Assembled::Pending);
    assert_eq!(a.push(5, 0, false, &parts[0]), Assembled::Pending);
    assert_eq!(a.push(4, 0, false, &parts[0]), Assembled::Pending);
    assert!(matches!(a.push(6, 0, true, &parts[1]), Assembled::Frame(_)));
}

/// Hostile payloads (truncated STAP-A lengths, bad NAL types, short VP8
/// descriptors, random bytes) drop their frame; nothing panics.
#[test]
fn malformed_payloads_are_dropped_without_panic() {
    let hostile: [&[u8]; 8] = [
        &[24, 0],
        &[24, 0, 9, 1, 2],
        &[24, 0, 1, 0x65, 0],
        &[28],
        &[28, 0x85],
        &[0],
        &[31, 1, 2, 3],
        &[0x80, 0x80],
    ];
    for codec in [VideoCodec::H264, VideoCodec::Vp8] {
        let mut a = FrameAssembler::new(codec);
        for (i, p) in hostile.iter().enumerate() {
            let out = a.push(i as u16, i as u32, true, p);
            assert!(
                !matches!(out, Assembled::Frame(_)),
                "{codec:?} {p:?}: {out:?}"
            );
        }
        let mut seed = 1u32;
        for n in 0..2000u16 {
            let len = (n % 40) as usize;
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            a.push(n.wrapping_add(100), u32::from(n / 3), n % 3 == 2, &junk);
        }
    }
    assert!(!h264_payload_ok(&[24, 0, 0]));
    assert!(h264_payload_ok(&[24, 0, 1, 0x67, 0, 1, 0x68]));
}

#[test]
fn codec_names_match_sdp() {
    assert_eq!(VideoCodec::from_name("h264"), Some(VideoCodec::H264));
    assert_eq!(VideoCodec::from_name("VP8"), Some(VideoCodec::Vp8));
    assert_eq!(VideoCodec::from_name("VP9"), None);
    assert_eq!(VideoCodec::H264.name(), "H264");
}
