//! Figure 7: CPU per minute and PSS of a 640×480 25 fps VP8 video call,
//! and what the callee got (pictures a second, size, bitrate).
//!
//! Three feeds, each call once per side and round:
//! - **file**: both read the same Y4M file of Seatphone's test pattern
//!   (Seatphone `[video] camera = "file:…"`, baresip `avformat`): the same
//!   pictures to encode, the CPU figure that compares like with like.
//! - **file, H.264**: the same in an H.264 call (Seatphone OpenH264,
//!   baresip `avcodec`: libx264 `ultrafast`/`zerolatency`), CPU only
//!   (baresip's `avcodec` maps libavcodec in any case).
//! - **generated**: each its own generator (Seatphone the test pattern,
//!   moving bars; baresip `fakevideo`, a still picture): neither maps a
//!   file reader's libraries (baresip's `avformat` maps libavformat and
//!   libavcodec), the PSS figure. Its CPU is printed too, but a still
//!   picture costs the encoder next to nothing: not like for like.

use std::path::Path;

use crate::calls::{seat_first, side_name, Kam};
use crate::metric::Metric;
use crate::mirror::{check_rate, mirrored_callee, video_callee, Codec, Mirror};
use crate::video_calls::{
    bare_video_config, measure, seat_video_toml, write_pattern_y4m, BareFeed, Caller, Reading,
    SeatFeed, FPS, KBPS, SIZE,
};

/// The callee of this figure (SIPp + the mirror), and the one for H.264
/// calls (another SIPp scenario, the same mirror).
const CALLEE: &str = "1011";
const CALLEE_H264: &str = "1014";
/// The file source lasts longer than a call: baresip's `avformat` pauses
/// a second before it rewinds.
const FILE_SECONDS: u32 = 32;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Feed {
    File,
    FileH264,
    Generated,
}

pub async fn figure7_video(kam: Kam, rounds: usize) -> Vec<Metric> {
    let mut cpu = Metric::new(
        7,
        "cpu_video",
        "CPU per minute, VP8 video call",
        "s/min",
        true,
    );
    let mut pss = Metric::new(7, "pss_video", "PSS during a VP8 video call", "MiB", true);
    let mut cpu_gen = Metric::new(
        7,
        "cpu_video_generated",
        "CPU/min, video call, own generators",
        "s/min",
        true,
    );
    let mut fps = Metric::new(7, "video_fps", "pictures/s the callee got", "fps", false);
    let mut kbps = Metric::new(
        7,
        "video_kbps",
        "video bitrate the callee got",
        "kbit/s",
        true,
    );
    let (w, h) = SIZE;
    let common = format!(
        "The caller calls {CALLEE} through Kamailio: SIPp answering (PCMA audio echoed, the figure 4 tone sent by both) whose answer names the driver's mirror for video, which sends each RTP packet back (each phone decodes its own pictures) and counts them. VP8 {w}x{h} at {FPS} pictures/s, {KBPS} kbit/s (Seatphone [video]; baresip video_size/video_fps/video_bitrate, vp8 module), pictures received shown nowhere (Seatphone: no window; baresip: fakevideo display)."
    );
    cpu.note = format!("{common} Both read the same Y4M of Seatphone's test pattern (Seatphone file: camera, baresip avformat). utime+stime of all the caller's processes over 20 s from 2 s after the call is up, scaled to a minute.");
    cpu_gen.note = format!("{common} Seatphone's test pattern (moving bars) against baresip's fakevideo (a still picture, nearly free to encode): not like for like, shown for the record.");
    pss.note = format!("{common} Each with its own generator (test pattern, fakevideo), so that neither maps a file reader; 20 s into the call. Seatphone daemon + engine (audio, video plugins) vs baresip.");
    fps.note = "Pictures (RTP marker bits) a second that reached the callee over the CPU window of the file-fed call; the size is checked from the VP8 keyframes (a warning says when it is not as asked).".into();
    kbps.note = "RTP bytes (headers included) a second that reached the callee over the CPU window of the file-fed call.".into();
    let mut h264 = Metric::new(
        7,
        "cpu_video_h264",
        "CPU per minute, H.264 video call",
        "s/min",
        true,
    );
    h264.note = format!("{} The same in an H.264 call to {CALLEE_H264} (packetization-mode 1; Seatphone OpenH264, baresip avcodec: libx264 ultrafast, zerolatency).", cpu.note);
    let mut ms = [cpu, pss, cpu_gen, fps, kbps, h264];
    let prepared = async {
        let dir = tempfile::Builder::new()
            .prefix("bench-video")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let y4m = dir.path().join("pattern.y4m");
        write_pattern_y4m(&y4m, FILE_SECONDS).map_err(|e| format!("pattern file: {e}"))?;
        let (mirror, callee) = mirrored_callee(kam, CALLEE).await?;
        let h264_callee = video_callee(kam, CALLEE_H264, &mirror, Codec::H264).await?;
        Ok::<_, String>((dir, y4m, mirror, [callee, h264_callee]))
    };
    match prepared.await {
        Ok((_dir, y4m, mirror, _callees)) => {
            video_rounds(kam, rounds, &y4m, &mirror, &mut ms).await
        }
        Err(e) => {
            for m in &mut ms {
                m.miss(e.clone());
            }
        }
    }
    ms.into()
}

/// The rounds of figure 7 into `ms` (CPU, PSS, CPU generated, pictures
/// a second, bitrate, CPU H.264).
async fn video_rounds(kam: Kam, rounds: usize, y4m: &Path, mirror: &Mirror, ms: &mut [Metric; 6]) {
    let (w, h) = SIZE;
    let [cpu, pss, cpu_gen, fps, kbps, h264] = ms;
    let file_camera = format!("file:{}", y4m.display());
    for r in 0..rounds {
        for seat in [seat_first(r), !seat_first(r)] {
            for feed in [Feed::File, Feed::FileH264, Feed::Generated] {
                let (codec, callee) = if feed == Feed::FileH264 {
                    (Codec::H264, CALLEE_H264)
                } else {
                    (Codec::Vp8, CALLEE)
                };
                mirror.reset(codec);
                let caller = if seat {
                    let camera = match feed {
                        Feed::File | Feed::FileH264 => file_camera.as_str(),
                        Feed::Generated => "test",
                    };
                    Caller::seat(
                        kam,
                        callee,
                        &SeatFeed {
                            plugins: vec!["audio".into(), "video".into()],
                            toml: seat_video_toml(camera, None, codec),
                            page_setup: Vec::new(),
                        },
                    )
                    .await
                } else {
                    let (modules, source) = match feed {
                        Feed::File => (
                            vec!["vp8.so", "avformat.so", "fakevideo.so"],
                            format!("avformat,{}", y4m.display()),
                        ),
                        Feed::FileH264 => (
                            vec!["avcodec.so", "avformat.so", "fakevideo.so"],
                            format!("avformat,{}", y4m.display()),
                        ),
                        Feed::Generated => (vec!["vp8.so", "fakevideo.so"], "fakevideo,nil".into()),
                    };
                    Caller::bare(
                        kam,
                        callee,
                        &BareFeed {
                            modules: modules.into_iter().map(String::from).collect(),
                            config: bare_video_config(&source, SIZE, FPS),
                        },
                    )
                    .await
                };
                let reading = match caller {
                    Ok(mut c) => measure(&mut c, mirror).await,
                    Err(e) => Err(e),
                };
                let side = side_name(seat);
                let feed_name = match feed {
                    Feed::File => "file",
                    Feed::FileH264 => "file, H.264",
                    Feed::Generated => "generated",
                };
                let Reading {
                    cpu: c,
                    mem,
                    others,
                    rate,
                } = match reading {
                    Ok(x) => x,
                    Err(e) => {
                        let m = match feed {
                            Feed::File => &mut *cpu,
                            Feed::FileH264 => &mut *h264,
                            Feed::Generated => &mut *pss,
                        };
                        m.miss(format!("{side} ({feed_name}): {e}"));
                        continue;
                    }
                };
                eprintln!(
                    "  round {r} {side} {feed_name}: {c:.3} CPU s/min, PSS {} KiB, callee got {:.1} pictures/s of {:?}, {:.0} kbit/s",
                    mem.pss_kb, rate.fps, rate.size, rate.kbps
                );
                let warning = check_rate(side, &rate, (w as u16, h as u16), f64::from(FPS));
                let pick = |m: &mut Metric, v: f64| {
                    if seat {
                        m.seatphone.push(v)
                    } else {
                        m.baresip.push(v)
                    }
                };
                match feed {
                    Feed::File => {
                        pick(cpu, c);
                        pick(fps, rate.fps);
                        pick(kbps, rate.kbps);
                        cpu.warn(warning);
                    }
                    Feed::FileH264 => {
                        pick(h264, c);
                        h264.warn(warning);
                    }
                    Feed::Generated => {
                        pick(cpu_gen, c);
                        pick(pss, mem.pss_kb as f64 / 1024.0);
                        pss.warn(others);
                        cpu_gen.warn(warning);
                    }
                }
            }
        }
    }
}
