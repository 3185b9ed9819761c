//! What the video figures (7–9) share: each phone started as the caller
//! of a video call to the mirror callee ([`crate::mirror`]), fed as the
//! figure asks, and one measured stretch of that call (CPU, PSS, what the
//! callee got).

use std::path::Path;
use std::time::{Duration, Instant};

use seatphone_tests::host::{Command, Page};
use seatphone_tests::measure::{self, BenchHost, HostSpec};
use seatphone_tests::peers::baresip::{Baresip, BaresipOptions, Ctrl};
use seatphone_video_core::camera::TestPattern;
use serde_json::Value;

use crate::calls::{
    bare_dial, bare_hangup, bare_phone, baresip_options, media_files, pump_ctrl, pump_page,
    seat_dial_as, seat_hangup, tail, Kam, SEAT_USER,
};
use crate::mirror::{Codec, Mirror, Rate};
use crate::sharing;

/// What both phones send in figures 7 and 8 (`measure::VIDEO_SIZE` …).
pub use seatphone_tests::measure::{VIDEO_FPS as FPS, VIDEO_KBPS as KBPS, VIDEO_SIZE as SIZE};
/// The audio both send beside the video: PCMA, the figure 4 tone.
const SEAT_AUDIO: &str = "8";
const BARE_AUDIO: &str = "PCMA/8000/1";

/// CPU time counts from this long after the call is up ...
pub const SETTLE: Duration = Duration::from_secs(2);
/// ... for this long.
pub const SPAN: Duration = Duration::from_secs(20);
/// PSS is read this long after the call is up (within the span).
const PSS_AT: Duration = Duration::from_secs(20);

/// Seatphone's side of a video figure: its plugins and `[video]` (and
/// `[share]`) sections, and commands the page sends before it dials (the
/// window's place).
pub struct SeatFeed {
    pub plugins: Vec<String>,
    pub toml: String,
    pub page_setup: Vec<(Command, Value)>,
}

/// baresip's side: its video modules and config lines.
pub struct BareFeed {
    pub modules: Vec<String>,
    pub config: String,
}

/// `[video]` sending `camera` at [`SIZE`], [`FPS`], [`KBPS`], `codec`
/// only, the window on `display` (none: no window).
pub fn seat_video_toml(camera: &str, display: Option<&str>, codec: Codec) -> String {
    let codec = match codec {
        Codec::Vp8 => "VP8",
        Codec::H264 => "H264",
    };
    measure::video_toml(camera, display, codec)
}

/// baresip's video lines: `source`, pictures shown nowhere (`fakevideo`
/// display: a display module is needed to receive), `size` at `fps`,
/// [`KBPS`].
pub fn bare_video_config(source: &str, size: (u32, u32), fps: u32) -> String {
    format!(
        "video_source\t\t{source}\nvideo_display\t\tfakevideo,nil\nvideo_size\t\t{}x{}\n\
         video_fps\t\t{fps}\nvideo_bitrate\t\t{}\n",
        size.0,
        size.1,
        KBPS * 1000
    )
}

/// A phone in a video call, as the driver holds it.
pub enum Caller {
    Seat {
        host: BenchHost,
        page: Box<Page>,
        call: u64,
    },
    Bare {
        phone: Baresip,
        ctrl: Ctrl,
    },
}

impl Caller {
    /// Seatphone registered as 1001, in a video call to `callee`.
    pub async fn seat(kam: Kam, callee: &str, feed: &SeatFeed) -> Result<Caller, String> {
        let host = BenchHost::start(&HostSpec {
            plugins: feed.plugins.clone(),
            audio_input: Some(format!("file:{}", media_files().1.display())),
            audio_output: Some("null".into()),
            extra_toml: feed.toml.clone(),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        let mut page = host.call_page().await.map_err(|e| e.to_string())?;
        BenchHost::register(&mut page, kam.port, SEAT_USER, SEAT_AUDIO).await?;
        for (command, param) in &feed.page_setup {
            let r = page.request(*command, param.clone()).await;
            if r["result"] != 0 {
                return Err(format!("{}: {r}", command.description()));
            }
        }
        match seat_dial_as(&mut page, callee, true).await {
            Ok((_, call)) => Ok(Caller::Seat {
                host,
                page: Box::new(page),
                call,
            }),
            Err(e) => Err(format!("{e}; host log: {}", tail(&host.stderr(), 1500))),
        }
    }

    /// baresip registered as 1002, in a video call to `callee`.
    pub async fn bare(kam: Kam, callee: &str, feed: &BareFeed) -> Result<Caller, String> {
        let mut options = BaresipOptions {
            audio_codecs: BARE_AUDIO.into(),
            ..baresip_options()
        };
        options.modules.extend(feed.modules.iter().cloned());
        options.config.push_str(&feed.config);
        let phone = bare_phone(kam, &options)?;
        let mut ctrl = phone.ctrl().await.map_err(|e| e.to_string())?;
        match bare_dial(&mut ctrl, callee).await {
            Ok(_) => Ok(Caller::Bare { phone, ctrl }),
            Err(e) => Err(format!("{e}; baresip log: {}", tail(&phone.log(), 1500))),
        }
    }

    pub fn pids(&self) -> Vec<u32> {
        match self {
            Caller::Seat { host, .. } => host.pids(),
            Caller::Bare { phone, .. } => phone.pids(),
        }
    }

    /// Reads the control socket for `d`; true if the call ended.
    pub async fn pump(&mut self, d: Duration) -> bool {
        match self {
            Caller::Seat { page, .. } => pump_page(page, d).await,
            Caller::Bare { ctrl, .. } => pump_ctrl(ctrl, d).await,
        }
    }

    pub async fn hang_up(&mut self) -> Result<(), String> {
        match self {
            Caller::Seat { page, call, .. } => seat_hangup(page, *call).await,
            Caller::Bare { ctrl, .. } => bare_hangup(ctrl).await,
        }
    }

    /// The phone's folder (config, logs; `BENCH_KEEP=1` keeps it).
    pub fn dir(&self) -> &Path {
        match self {
            Caller::Seat { host, .. } => host.dir.path(),
            Caller::Bare { phone, .. } => phone.dir(),
        }
    }

    /// The end of the phone's log, for an error.
    pub fn log_tail(&self) -> String {
        match self {
            Caller::Seat { host, .. } => tail(&host.stderr(), 1500),
            Caller::Bare { phone, .. } => tail(&phone.log(), 1500),
        }
    }
}

/// One measured stretch of a call.
pub struct Reading {
    /// CPU seconds per minute, all the phone's processes.
    pub cpu: f64,
    pub mem: measure::Mem,
    /// Who else shared the phone's pages at the PSS reading.
    pub others: Vec<String>,
    /// What the callee got meanwhile.
    pub rate: Rate,
}

/// From [`SETTLE`] on for [`SPAN`]: the phone's CPU, its PSS at
/// [`PSS_AT`], and what `mirror` got; hangs up after.
pub async fn measure(c: &mut Caller, mirror: &Mirror) -> Result<Reading, String> {
    let mut ended = c.pump(SETTLE).await;
    let (c0, m0, t0) = (measure::cpu_of(&c.pids()), mirror.counts(), Instant::now());
    ended |= c.pump(PSS_AT - SETTLE).await;
    let pids = c.pids();
    let mem = measure::mem_of(&pids);
    measure::dump_smaps_if_asked(&pids, c.dir());
    let others = sharing::others(&pids);
    ended |= c.pump(SPAN + SETTLE - PSS_AT).await;
    let (c1, m1, dt) = (measure::cpu_of(&c.pids()), mirror.counts(), t0.elapsed());
    if ended {
        return Err(format!(
            "the call ended before the measurement did: {}",
            c.log_tail()
        ));
    }
    c.hang_up().await?;
    Ok(Reading {
        cpu: (c1 - c0) / dt.as_secs_f64() * 60.0,
        mem,
        others,
        rate: m1.since(&m0, dt),
    })
}

/// Writes `seconds` of the test pattern at [`SIZE`] and [`FPS`] as a Y4M
/// file: the same pictures for both phones' file sources.
pub fn write_pattern_y4m(path: &Path, seconds: u32) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "YUV4MPEG2 W{} H{} F{FPS}:1 Ip A1:1 C420",
        SIZE.0, SIZE.1
    )?;
    let mut pattern = TestPattern::new(SIZE.0, SIZE.1);
    for i in 0..seconds * FPS {
        let p = pattern.next_picture(u64::from(i) * 1000 / u64::from(FPS));
        out.write_all(b"FRAME\n")?;
        out.write_all(&p.i420)?;
    }
    out.flush()
}
