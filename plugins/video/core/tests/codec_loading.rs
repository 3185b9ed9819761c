//! The codec library is mapped by the first codec a call makes, not
//! before (an idle or audio-only seat never maps OpenH264 or libvpx), and
//! both codecs work through it. One test in its own process: what is
//! mapped is the process's.

use seatphone_video_core::camera::pattern::{read_stamp, TestPattern};
use seatphone_video_core::codec::{Decoder, Encoder, VideoCodec};

fn mapped(name: &str) -> bool {
    std::fs::read_to_string("/proc/self/maps").is_ok_and(|m| m.contains(name))
}

#[test]
fn the_codec_library_is_mapped_by_the_first_codec_only() {
    let mut pattern = TestPattern::new(320, 240);
    let first = pattern.next_picture(1000);
    assert!(
        !mapped("libseatphone_videocodec"),
        "mapped before any codec"
    );
    assert!(!mapped("libvpx"), "libvpx mapped before any codec");
    for codec in [VideoCodec::Vp8, VideoCodec::H264] {
        let mut enc = Encoder::new(codec, (320, 240), 25, 500_000, &None).unwrap();
        let mut dec = Decoder::new(codec, &None).unwrap();
        let unit = enc.encode(&first, false).unwrap().expect("a first picture");
        assert!(unit.keyframe);
        let pic = dec.decode(&unit.data).unwrap().expect("a decoded picture");
        assert_eq!(read_stamp(&pic).map(|s| s.unix_ms), Some(1000), "{codec:?}");
    }
    assert!(mapped("libseatphone_videocodec") && mapped("libvpx"));
    // Cisco's library is only taken from a file that is Cisco's.
    let e = Decoder::new(VideoCodec::H264, &Some("/etc/hostname".into()))
        .err()
        .unwrap();
    assert!(
        e.contains("H264 decoder") && e.contains("/etc/hostname not loaded"),
        "{e}"
    );
}
