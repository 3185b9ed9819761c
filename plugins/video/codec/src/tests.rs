use super::*;

/// Vertical colour bars that move `n` pixels right per picture, with a
/// noisy band so that rate control has work to do.
fn picture(width: u32, height: u32, n: u32) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let mut out = vec![0u8; i420_len(width, height).unwrap()];
    // Y, U, V of white, yellow, cyan, green, magenta, red, blue, black.
    const BARS: [(u8, u8, u8); 8] = [
        (235, 128, 128),
        (210, 16, 146),
        (170, 166, 16),
        (145, 54, 34),
        (106, 202, 222),
        (81, 90, 240),
        (41, 240, 110),
        (16, 128, 128),
    ];
    let bar = |x: usize| BARS[((x + n as usize * 4) * 8 / w) % 8];
    let mut seed = n.wrapping_mul(2_654_435_761);
    let (y, chroma) = out.split_at_mut(w * h);
    let (u, v) = chroma.split_at_mut(w * h / 4);
    for row in 0..h {
        for x in 0..w {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = if row > h * 3 / 4 {
                (seed >> 28) as u8
            } else {
                0
            };
            y[row * w + x] = bar(x).0.wrapping_add(noise);
        }
    }
    for row in 0..h / 2 {
        for x in 0..w / 2 {
            u[row * w / 2 + x] = bar(x * 2).1;
            v[row * w / 2 + x] = bar(x * 2).2;
        }
    }
    out
}

/// Mean absolute difference of the luma planes, above the noisy band.
fn luma_error(a: &[u8], b: &[u8], width: u32, height: u32) -> f64 {
    let (w, h) = (width as usize, height as usize * 3 / 4);
    let sum: u64 = (0..w * h).map(|i| u64::from(a[i].abs_diff(b[i]))).sum();
    sum as f64 / (w * h) as f64
}

fn encoder(codec: Codec, width: u32, height: u32, bitrate: u32) -> Encoder {
    Encoder::new(
        EncoderConfig {
            codec: codec as u32,
            width,
            height,
            fps: 25,
            bitrate,
        },
        &H264Source::BuiltIn,
    )
    .unwrap()
}

/// What [`round_trip`] saw: per picture the encoded size and keyframe flag,
/// and the last decoded picture with its size.
type Trip = (Vec<usize>, Vec<bool>, Option<(Vec<u8>, u32, u32)>);

/// Encodes pictures `frames` and decodes each.
fn round_trip(
    enc: &mut Encoder,
    dec: &mut Decoder,
    (width, height): (u32, u32),
    frames: std::ops::Range<u32>,
    force_at: Option<u32>,
) -> Trip {
    let (mut sizes, mut keys, mut last) = (Vec::new(), Vec::new(), None);
    for n in frames {
        let pic = picture(width, height, n);
        let Some(unit) = enc
            .encode(&pic, width, height, force_at == Some(n))
            .unwrap()
        else {
            sizes.push(0);
            keys.push(false);
            continue;
        };
        sizes.push(unit.data.len());
        keys.push(unit.keyframe);
        let data = unit.data.to_vec();
        if let Some(p) = dec.decode(&data).unwrap() {
            last = Some((p.i420.to_vec(), p.width, p.height));
        }
    }
    (sizes, keys, last)
}

fn codec_round_trip(codec: Codec) {
    let mut enc = encoder(codec, 320, 240, 800_000);
    let mut dec = Decoder::new(codec, &H264Source::BuiltIn).unwrap();
    let (_, keys, last) = round_trip(&mut enc, &mut dec, (320, 240), 0..10, Some(6));
    assert!(keys[0], "{codec:?}: the first picture is a keyframe");
    assert_eq!(
        keys.iter().filter(|k| **k).count(),
        2,
        "{codec:?}: keyframes only first and when forced: {keys:?}"
    );
    assert!(keys[6], "{codec:?}: the forced keyframe: {keys:?}");
    let (pixels, w, h) = last.expect("a decoded picture");
    assert_eq!((w, h), (320, 240));
    let err = luma_error(&pixels, &picture(320, 240, 9), w, h);
    assert!(
        err < 6.0,
        "{codec:?}: decoded picture off by {err:.1} on average"
    );
}

#[test]
fn vp8_encodes_and_decodes_with_forced_keyframes() {
    codec_round_trip(Codec::Vp8);
}

#[test]
fn h264_encodes_and_decodes_with_forced_keyframes() {
    codec_round_trip(Codec::H264);
}

/// H.264 access units are Annex B with SPS and PPS before each IDR, so a
/// receiver that joins at a keyframe can decode it alone.
#[test]
fn h264_keyframes_carry_parameter_sets() {
    let mut enc = encoder(Codec::H264, 320, 240, 500_000);
    let unit = enc
        .encode(&picture(320, 240, 0), 320, 240, false)
        .unwrap()
        .unwrap();
    assert!(unit.data.starts_with(&[0, 0, 0, 1]) || unit.data.starts_with(&[0, 0, 1]));
    let types: Vec<u8> = unit
        .data
        .windows(4)
        .filter(|w| w[..3] == [0, 0, 1])
        .map(|w| w[3] & 0x1f)
        .collect();
    assert!(
        types.contains(&7) && types.contains(&8) && types.contains(&5),
        "{types:?}"
    );
    // Constrained baseline: profile_idc 66 with constraint_set1.
    let sps = unit
        .data
        .windows(4)
        .position(|w| w == [0, 0, 1, 0x67])
        .unwrap()
        + 4;
    assert_eq!(unit.data[sps], 66);
    assert_ne!(unit.data[sps + 1] & 0x40, 0, "constraint_set1_flag");
    // A fresh decoder given only a later forced keyframe shows a picture.
    for n in 1..5 {
        enc.encode(&picture(320, 240, n), 320, 240, false).unwrap();
    }
    let key = enc
        .encode(&picture(320, 240, 5), 320, 240, true)
        .unwrap()
        .unwrap();
    assert!(key.keyframe);
    let key = key.data.to_vec();
    let mut late = Decoder::new(Codec::H264, &H264Source::BuiltIn).unwrap();
    let p = late
        .decode(&key)
        .unwrap()
        .expect("a picture from the keyframe");
    assert_eq!((p.width, p.height), (320, 240));
}

/// A new size restarts the stream at that size with a keyframe.
#[test]
fn a_new_picture_size_restarts_with_a_keyframe() {
    for codec in [Codec::Vp8, Codec::H264] {
        let mut enc = encoder(codec, 320, 240, 500_000);
        let mut dec = Decoder::new(codec, &H264Source::BuiltIn).unwrap();
        round_trip(&mut enc, &mut dec, (320, 240), 0..3, None);
        let (_, keys, last) = round_trip(&mut enc, &mut dec, (640, 480), 3..5, None);
        assert!(keys[0], "{codec:?}: {keys:?}");
        let (_, w, h) = last.unwrap();
        assert_eq!((w, h), (640, 480), "{codec:?}");
    }
}

/// A lower target rate makes smaller pictures.
#[test]
fn a_lower_bitrate_makes_smaller_pictures() {
    for codec in [Codec::Vp8, Codec::H264] {
        let mut enc = encoder(codec, 320, 240, 1_500_000);
        let mut dec = Decoder::new(codec, &H264Source::BuiltIn).unwrap();
        let (high, _, _) = round_trip(&mut enc, &mut dec, (320, 240), 0..50, None);
        enc.set_rate(100_000, 25).unwrap();
        let (low, _, _) = round_trip(&mut enc, &mut dec, (320, 240), 50..100, None);
        let (high, low): (usize, usize) = (high[10..].iter().sum(), low[10..].iter().sum());
        assert!(
            low * 3 < high,
            "{codec:?}: 40 pictures took {high} bytes at 1.5 Mbit/s, {low} at 100 kbit/s"
        );
        assert!(enc.set_rate(5, 25).is_err());
    }
}

#[test]
fn bad_pictures_and_configs_are_errors() {
    let mut enc = encoder(Codec::Vp8, 320, 240, 500_000);
    let e = enc.encode(&[0; 10], 320, 240, false).err().unwrap();
    assert!(e.contains("115200 bytes, got 10"), "{e}");
    let e = enc.encode(&[0; 10], 3, 3, false).err().unwrap();
    assert!(e.contains("must be even"), "{e}");
    let bad = EncoderConfig {
        codec: 9,
        width: 320,
        height: 240,
        fps: 25,
        bitrate: 500_000,
    };
    let e = Encoder::new(bad, &H264Source::BuiltIn).err().unwrap();
    assert!(e.contains("unknown video codec number 9"), "{e}");
    let e = Encoder::new(
        EncoderConfig {
            fps: 0,
            codec: 1,
            ..bad
        },
        &H264Source::BuiltIn,
    )
    .err()
    .unwrap();
    assert!(e.contains("0 fps"), "{e}");
}

/// Garbage from the network is an error or no picture, never a crash, and
/// the decoder still decodes a good keyframe afterwards.
#[test]
fn garbage_access_units_are_survived() {
    for codec in [Codec::Vp8, Codec::H264] {
        let mut dec = Decoder::new(codec, &H264Source::BuiltIn).unwrap();
        let mut seed = 5u32;
        for len in [1usize, 3, 17, 200, 3000] {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            let _ = dec.decode(&junk);
            let mut annexb = vec![0, 0, 0, 1];
            annexb.extend(&junk);
            let _ = dec.decode(&annexb);
        }
        assert!(dec.decode(&[]).is_err());
        let mut enc = encoder(codec, 320, 240, 500_000);
        let (_, _, last) = round_trip(&mut enc, &mut dec, (320, 240), 0..3, None);
        assert!(last.is_some(), "{codec:?} decodes again after garbage");
    }
}

/// Cisco's library is loaded only from the path given, and only if it is
/// one of Cisco's releases; anything else is refused by name.
#[test]
fn cisco_openh264_path_is_checked() {
    let missing = H264Source::Cisco("/nonexistent/libopenh264-2.6.0-linux64.8.so".into());
    let e = Decoder::new(Codec::H264, &missing).err().unwrap();
    assert!(
        e.contains("/nonexistent/libopenh264-2.6.0-linux64.8.so not loaded"),
        "{e}"
    );
    // Any library that is not Cisco's: this test executable itself.
    let not_cisco = H264Source::Cisco(std::env::current_exe().unwrap());
    let e = Encoder::new(
        EncoderConfig {
            codec: Codec::H264 as u32,
            width: 320,
            height: 240,
            fps: 25,
            bitrate: 500_000,
        },
        &not_cisco,
    )
    .err()
    .unwrap();
    assert!(e.contains("not loaded"), "{e}");
}

/// The C entry points as the plugin calls them: an encoder and a decoder
/// round trip, errors written to the buffer, null handles refused.
#[test]
fn c_abi_round_trip_and_errors() {
    unsafe {
        let mut text = [0u8; 200];
        let mut err = ErrBuf {
            ptr: text.as_mut_ptr(),
            cap: text.len(),
            len: 0,
        };
        let cfg = EncoderConfig {
            codec: Codec::Vp8 as u32,
            width: 160,
            height: 120,
            fps: 25,
            bitrate: 200_000,
        };
        let enc = seatphone_videocodec_encoder_new(&cfg, std::ptr::null(), 0, &mut err);
        assert!(!enc.is_null());
        let screen = seatphone_videocodec_screen_encoder_new(&cfg, std::ptr::null(), 0, &mut err);
        assert!(!screen.is_null());
        seatphone_videocodec_encoder_free(screen);
        let dec = seatphone_videocodec_decoder_new(1, std::ptr::null(), 0, &mut err);
        assert!(!dec.is_null());
        let pic = picture(160, 120, 0);
        let (mut out, mut out_len, mut key) = (std::ptr::null(), 0usize, 0u8);
        let r = seatphone_videocodec_encode(
            enc,
            pic.as_ptr(),
            pic.len(),
            160,
            120,
            0,
            &mut out,
            &mut out_len,
            &mut key,
            &mut err,
        );
        assert_eq!((r, key), (1, 1));
        let unit = std::slice::from_raw_parts(out, out_len).to_vec();
        let (mut pix, mut pix_len, mut w, mut h) = (std::ptr::null(), 0usize, 0u32, 0u32);
        let r = seatphone_videocodec_decode(
            dec,
            unit.as_ptr(),
            unit.len(),
            &mut pix,
            &mut pix_len,
            &mut w,
            &mut h,
            &mut err,
        );
        assert_eq!((r, w, h, pix_len), (1, 160, 120, pic.len()));
        assert_eq!(
            seatphone_videocodec_encoder_rate(enc, 100_000, 15, &mut err),
            0
        );
        let r = seatphone_videocodec_encode(
            enc,
            pic.as_ptr(),
            7,
            160,
            120,
            0,
            &mut out,
            &mut out_len,
            &mut key,
            &mut err,
        );
        assert_eq!(r, -1);
        assert!(String::from_utf8_lossy(&text[..err.len]).contains("got 7"));
        let bad = seatphone_videocodec_decoder_new(3, std::ptr::null(), 0, &mut err);
        assert!(bad.is_null());
        assert!(String::from_utf8_lossy(&text[..err.len]).contains("codec number 3"));
        let r = seatphone_videocodec_encoder_rate(std::ptr::null_mut(), 1, 1, &mut err);
        assert_eq!(r, -1);
        seatphone_videocodec_encoder_free(enc);
        seatphone_videocodec_decoder_free(dec);
        seatphone_videocodec_encoder_free(std::ptr::null_mut());
        seatphone_videocodec_decoder_free(std::ptr::null_mut());
    }
    assert_eq!(seatphone_videocodec_abi_version(), ABI_VERSION);
}

/// Black strokes on white, as text is: sharp edges everywhere.
fn text_like(width: u32, height: u32) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let mut out = vec![128u8; i420_len(width, height).unwrap()];
    for row in 0..h {
        for x in 0..w {
            let ink = (row / 2) % 7 == 0 || ((x / 3) % 5 == 0 && (row / 12) % 2 == 0);
            out[row * w + x] = if ink { 16 } else { 235 };
        }
    }
    out
}

/// The screen-content encoders (the share in a call): a keyframe first,
/// the same screen again costs almost nothing, and what decodes is the
/// text, sharp.
fn screen_round_trip(codec: Codec) {
    let cfg = EncoderConfig {
        codec: codec as u32,
        width: 320,
        height: 240,
        fps: 5,
        bitrate: 300_000,
    };
    let mut enc = Encoder::for_content(cfg, &H264Source::BuiltIn, Content::Screen).unwrap();
    let mut dec = Decoder::new(codec, &H264Source::BuiltIn).unwrap();
    let pic = text_like(320, 240);
    let mut sizes = Vec::new();
    let mut last = None;
    for i in 0..4 {
        let Some(unit) = enc.encode(&pic, 320, 240, false).unwrap() else {
            continue;
        };
        assert_eq!(unit.keyframe, i == 0, "{codec:?}: picture {i}");
        sizes.push(unit.data.len());
        let data = unit.data.to_vec();
        if let Some(p) = dec.decode(&data).unwrap() {
            last = Some(p.i420.to_vec());
        }
    }
    assert!(
        sizes.len() >= 2 && sizes[1..].iter().all(|s| s * 10 < sizes[0]),
        "{codec:?}: an unchanged screen costs a tenth of the first picture at most: {sizes:?}"
    );
    let err = luma_error(&last.expect("decoded"), &pic, 320, 240);
    assert!(err < 8.0, "{codec:?}: text off by {err:.1} on average");
}

#[test]
fn vp8_screen_content() {
    screen_round_trip(Codec::Vp8);
}

#[test]
fn h264_screen_content() {
    screen_round_trip(Codec::H264);
}
