//! baresip as a peer phone, registered at a Kamailio: the one launcher of
//! the tests and the bench. What differs between them (modules, audio
//! source, codecs, video, extra account parameters) is [`BaresipOptions`];
//! the config is written here whole. Driven through `ctrl_tcp`: netstring
//! JSON commands in, events out, either by the harness's own connection
//! ([`Baresip::command`], [`Baresip::events`]) or an async [`Ctrl`].

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::kamailio::Kamailio;
use super::{free_port, keep_if_asked, stop_child, wait_until};

/// Where Debian's baresip keeps its modules.
const MODULE_PATH: &str = "/usr/lib/baresip/modules";
/// The modules every baresip here loads besides [`BaresipOptions::modules`]:
/// the account and its UUID, the menu and the control socket.
const CONTROL_MODULES: [(&str, &str); 4] = [
    ("module_tmp", "uuid.so"),
    ("module_tmp", "account.so"),
    ("module_app", "menu.so"),
    ("module_app", "ctrl_tcp.so"),
];

/// How baresip answers calls (`answermode=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerMode {
    Manual,
    Auto,
}

/// What a test or a benchmark wants of its baresip.
#[derive(Debug, Clone)]
pub struct BaresipOptions {
    pub answer: AnswerMode,
    /// The account's `audio_codecs=` (`PCMU/8000/1,PCMA/8000/1`).
    pub audio_codecs: String,
    /// `audio_source` (`ausine,440`, `aufile,/x.wav`, `pulse,micsrc`).
    pub audio_source: String,
    /// Modules (file names) loaded besides the control ones
    /// (`account`, `uuid`, `menu`, `ctrl_tcp`), in this order.
    pub modules: Vec<String>,
    /// Config lines appended (`audio_player …`, `snd_path …`, video settings).
    pub config: String,
    /// Parameters appended to the account line (`;mediaenc=srtp`).
    pub account: String,
    /// `call_max_calls`.
    pub max_calls: u32,
    /// Extra environment (`PULSE_SERVER` for the `pulse` module).
    pub env: Vec<(String, String)>,
    /// Record what it encodes and decodes (the `sndfile` module, into
    /// `rec/` of its folder): [`Baresip::recording`].
    pub record: bool,
}

impl Default for BaresipOptions {
    /// A phone answering by hand, offering G.711 and sending a 440 Hz sine;
    /// no audio device (no player module).
    fn default() -> Self {
        Self {
            answer: AnswerMode::Manual,
            audio_codecs: "PCMU/8000/1,PCMA/8000/1".into(),
            audio_source: "ausine,440".into(),
            modules: vec!["g711.so".into(), "ausine.so".into()],
            config: String::new(),
            account: String::new(),
            max_calls: 4,
            env: Vec::new(),
            record: false,
        }
    }
}

impl BaresipOptions {
    pub fn answering(answer: AnswerMode) -> Self {
        Self {
            answer,
            ..Self::default()
        }
    }

    /// Video calls with `codec` ("VP8" or "H264"): testsrc2 (moving,
    /// 320×240 at 15 fps) as its camera, a display module (without one it
    /// makes video sendonly) and snapshots. The codec is chosen by the
    /// module loaded, `vp8.so` or `avcodec.so` (H.264): an account's
    /// `video_codecs=H264` would keep only one of its two packetization modes.
    pub fn video(mut self, codec: &str) -> Self {
        let module = if codec == "VP8" {
            "vp8.so"
        } else {
            "avcodec.so"
        };
        for m in [module, "avformat.so", "fakevideo.so", "snapshot.so"] {
            self.modules.push(m.into());
        }
        self.config.push_str(
            "video_source\t\tavformat,lavfi,testsrc2=size=320x240:rate=15\n\
             video_display\t\tfakevideo,nil\n\
             video_size\t\t320x240\n\
             video_bitrate\t\t300000\n\
             video_fps\t\t15\n",
        );
        self
    }

    /// SRTP as `mediaenc` says (`srtp`: best effort, `srtp-mand`: required).
    pub fn srtp(mut self, mediaenc: &str) -> Self {
        self.modules.push("srtp.so".into());
        self.account.push_str(&format!(";mediaenc={mediaenc}"));
        self
    }

    /// The files baresip runs from with these options: the executable
    /// and every module it loads (the bench sets how they sit in the page
    /// cache before it starts a phone, `page_cache`).
    pub fn files(&self) -> Vec<PathBuf> {
        let exe = std::env::var_os("PATH")
            .and_then(|path| {
                std::env::split_paths(&path)
                    .map(|d| d.join("baresip"))
                    .find(|p| p.is_file())
            })
            .unwrap_or_else(|| "/usr/bin/baresip".into());
        let record = self.record.then_some("sndfile.so");
        let modules = self.modules.iter().map(String::as_str).chain(record);
        std::iter::once(exe)
            .chain(
                modules
                    .chain(CONTROL_MODULES.iter().map(|(_, m)| *m))
                    .map(|m| Path::new(MODULE_PATH).join(m)),
            )
            .collect()
    }

    /// The config file for SIP on `port`, `ctrl_tcp` on `ctrl`, RTP on
    /// `rtp`..`rtp + 39` and recordings in `rec`.
    fn config_file(&self, port: u16, ctrl: u16, rtp: u16, rec: &Path) -> String {
        let mut modules: String = self
            .modules
            .iter()
            .map(|m| format!("module\t\t\t{m}\n"))
            .collect();
        if self.record {
            modules.push_str(&format!(
                "module\t\t\tsndfile.so\nsnd_path\t\t{}\n",
                rec.display()
            ));
        }
        format!(
            "poll_method\t\tepoll\ncall_local_timeout\t120\ncall_max_calls\t\t{}\n\
             sip_listen\t\t127.0.0.1:{port}\nnet_interface\t\t127.0.0.1\ndns_server\t\t127.0.0.1:53\n\
             audio_source\t\t{}\naudio_alert\t\tausine,440\nausrc_srate\t\t48000\nausrc_channels\t\t{}\n\
             audio_buffer\t\t20-160\nrtp_ports\t\t{rtp}-{}\nrtcp_mux\t\tno\njitter_buffer_delay\t5-10\n\
             module_path\t\t{MODULE_PATH}\n{modules}{}\
             ctrl_tcp_listen\t\t127.0.0.1:{ctrl}\n{}",
            self.max_calls,
            self.audio_source,
            // baresip 1.0's ausine makes stereo only ("supports only 2
            // channels"); a mono codec gets it mixed down.
            if self.audio_source.starts_with("ausine") {
                2
            } else {
                1
            },
            rtp + 39,
            CONTROL_MODULES
                .iter()
                .map(|(key, m)| format!("{key}\t\t{m}\n"))
                .collect::<String>(),
            self.config,
        )
    }

    /// The accounts file: `user` (password `pass<user>`) at the registrar
    /// on 127.0.0.1:`registrar`, through it as outbound proxy.
    fn accounts_file(&self, user: &str, registrar: u16) -> String {
        let answer = match self.answer {
            AnswerMode::Manual => "manual",
            AnswerMode::Auto => "auto",
        };
        format!(
            "<sip:{user}@127.0.0.1:{registrar}>;auth_pass=pass{user};outbound=\"sip:127.0.0.1:{registrar}\";\
             answermode={answer};audio_codecs={};regint=600{}\n",
            self.audio_codecs, self.account
        )
    }
}

pub struct Baresip {
    pub user: String,
    /// Its SIP port (it takes this one and the next, TLS).
    pub port: u16,
    ctrl_port: u16,
    child: Child,
    ctrl: TcpStream,
    events: Arc<Mutex<Vec<Value>>>,
    dir: tempfile::TempDir,
}

impl Baresip {
    /// Starts baresip registering `user` (password `pass<user>`) at `kam`,
    /// and waits until it is registered.
    pub fn start(user: &str, kam: &Kamailio, mode: AnswerMode) -> std::io::Result<Self> {
        Self::start_with(user, kam.port, &BaresipOptions::answering(mode))
    }

    /// As [`Baresip::start`], at the registrar on 127.0.0.1:`registrar`,
    /// configured as `options` say.
    pub fn start_with(
        user: &str,
        registrar: u16,
        options: &BaresipOptions,
    ) -> std::io::Result<Self> {
        let port = free_port(2);
        let ctrl_port = free_port(1);
        let rtp = free_port(40);
        let dir = tempfile::Builder::new()
            .prefix("seatphone-baresip")
            .tempdir()?;
        let rec = dir.path().join("rec");
        std::fs::create_dir_all(&rec)?;
        std::fs::write(
            dir.path().join("config"),
            options.config_file(port, ctrl_port, rtp, &rec),
        )?;
        std::fs::write(
            dir.path().join("accounts"),
            options.accounts_file(user, registrar),
        )?;
        std::fs::write(dir.path().join("contacts"), "")?;
        let log = std::fs::File::create(dir.path().join("baresip.log"))?;
        let mut cmd = Command::new("baresip");
        cmd.arg("-f")
            .arg(dir.path())
            .envs(options.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn()?;
        let mut ctrl = None;
        wait_until(Duration::from_secs(10), || {
            ctrl = TcpStream::connect(("127.0.0.1", ctrl_port)).ok();
            ctrl.is_some()
        });
        let Some(ctrl) = ctrl else {
            stop_child(&mut child, Duration::from_secs(1));
            return Err(std::io::Error::other("baresip's ctrl_tcp did not open"));
        };
        let events = Arc::new(Mutex::new(Vec::new()));
        let reader = ctrl.try_clone()?;
        let sink = events.clone();
        std::thread::spawn(move || read_netstrings(reader, sink));
        let b = Self {
            user: user.to_owned(),
            port,
            ctrl_port,
            child,
            ctrl,
            events,
            dir,
        };
        // The event is missed when registration finished before the
        // control connection was made; the log has the registrar's answer.
        let registered = wait_until(Duration::from_secs(10), || {
            b.has_event("REGISTER_OK") || b.log().contains("200 OK")
        });
        if !registered {
            return Err(std::io::Error::other(format!(
                "baresip did not register:\n{}",
                b.log()
            )));
        }
        Ok(b)
    }

    /// Sends a ctrl_tcp command (`dial`, `accept`, `hangup`, `sndcode` …).
    pub fn command(&self, command: &str, params: &str) {
        let body = json!({"command": command, "params": params, "token": "t"}).to_string();
        let mut w = &self.ctrl;
        let _ = w.write_all(format!("{}:{},", body.len(), body).as_bytes());
    }

    pub fn dial(&self, target: &str) {
        self.command("dial", target);
    }

    pub fn accept(&self) {
        self.command("accept", "");
    }

    pub fn hangup(&self) {
        self.command("hangup", "");
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Value> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    pub fn has_event(&self, kind: &str) -> bool {
        self.events().iter().any(|e| e["type"] == kind)
    }

    /// The first event of `kind`.
    pub fn event(&self, kind: &str) -> Option<Value> {
        self.events().into_iter().find(|e| e["type"] == kind)
    }

    /// The call that reached it: its incoming-call event, or the
    /// established one where it answered before reporting any (`Null`
    /// when neither came).
    pub fn incoming(&self) -> Value {
        self.event("CALL_INCOMING")
            .or_else(|| self.event("CALL_ESTABLISHED"))
            .unwrap_or_default()
    }

    pub fn wait_event(&self, timeout: Duration, kind: &str) -> bool {
        wait_until(timeout, || self.has_event(kind))
    }

    /// How many events of `kind` arrived.
    pub fn count(&self, kind: &str) -> usize {
        self.events().iter().filter(|e| e["type"] == kind).count()
    }

    /// A fresh async ctrl_tcp connection. baresip serves one client at a
    /// time: this one takes over from the harness's own, whose
    /// [`Baresip::command`] and [`Baresip::events`] then go quiet.
    pub async fn ctrl(&self) -> std::io::Result<Ctrl> {
        Ctrl::connect(self.ctrl_port).await
    }

    /// The folder baresip runs in (its config, log, snapshots).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// The newest recording (with [`BaresipOptions::record`]) whose file
    /// name contains `which`: `enc` what it sent, `dec` what it heard.
    pub fn recording(&self, which: &str) -> Option<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("rec"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(which))
            })
            .collect();
        found.sort();
        found.pop()
    }

    /// The process id (to freeze it: a peer that vanishes without a BYE).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process and anything it started (for the bench's readings).
    pub fn pids(&self) -> Vec<u32> {
        crate::measure::tree(self.child.id())
    }

    pub fn stop(&mut self) {
        // It un-registers on SIGTERM; a second signal cuts the wait short.
        stop_child(&mut self.child, Duration::from_secs(2));
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.stop();
        keep_if_asked(&mut self.dir);
    }
}

/// Reads baresip's `ctrl_tcp` netstrings (JSON events) into `sink` until the socket closes.
fn read_netstrings(mut stream: TcpStream, sink: Arc<Mutex<Vec<Value>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        while let Some(v) = parse_netstring(&mut buf) {
            if let Ok(mut s) = sink.lock() {
                s.extend(v);
            }
        }
    }
}

/// Takes one netstring off the front of `buf`: `Some(Some(json))`,
/// `Some(None)` for one that is not JSON, `None` until a whole one is there
/// (or, when the length is not a number, never: the buffer is dropped).
fn parse_netstring(buf: &mut Vec<u8>) -> Option<Option<Value>> {
    let colon = buf.iter().position(|b| *b == b':')?;
    let Some(len) = std::str::from_utf8(&buf[..colon])
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    else {
        buf.clear();
        return None;
    };
    if buf.len() < colon + 1 + len + 1 {
        return None;
    }
    let v = serde_json::from_slice::<Value>(&buf[colon + 1..colon + 1 + len]).ok();
    buf.drain(..colon + 1 + len + 1);
    Some(v)
}

/// An async client of baresip's ctrl_tcp, shaped like the page client:
/// requests matched to responses by `token`, events queued.
pub struct Ctrl {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
    seq: u64,
    pending: VecDeque<Value>,
}

impl Ctrl {
    pub async fn connect(port: u16) -> std::io::Result<Ctrl> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        Ok(Ctrl {
            stream,
            buf: Vec::new(),
            seq: 0,
            pending: VecDeque::new(),
        })
    }

    /// Sends a command with `token` and returns without waiting.
    pub async fn send(&mut self, command: &str, params: &str, token: &str) -> std::io::Result<()> {
        let body = json!({"command": command, "params": params, "token": token}).to_string();
        self.stream
            .write_all(format!("{}:{},", body.len(), body).as_bytes())
            .await
    }

    /// Sends a command and returns its response; events that arrive first stay queued.
    pub async fn request(&mut self, command: &str, params: &str) -> Option<Value> {
        self.seq += 1;
        let token = self.seq.to_string();
        self.send(command, params, &token).await.ok()?;
        loop {
            let f = self.receive(Duration::from_secs(10)).await?;
            if f["response"] == true && f["token"] == token.as_str() {
                return Some(f);
            }
            self.pending.push_back(f);
        }
    }

    /// The next message (queued first), or `None` after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Value> {
        if let Some(f) = self.pending.pop_front() {
            return Some(f);
        }
        self.receive(timeout).await
    }

    /// Waits for an event of `kind` (`CALL_ESTABLISHED` …); others are dropped.
    pub async fn event(&mut self, kind: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let f = self.next(left).await?;
            if f["event"] == true && f["type"] == kind {
                return Some(f);
            }
        }
        None
    }

    /// Drops what is queued and what arrives until `quiet` passes without a message.
    pub async fn forget(&mut self, quiet: Duration) {
        self.pending.clear();
        while self.receive(quiet).await.is_some() {}
    }

    async fn receive(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(v) = parse_netstring(&mut self.buf) {
                if v.is_some() {
                    return v;
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_the_modules_the_config_loads() {
        let options = BaresipOptions {
            record: true,
            ..BaresipOptions::default().video("VP8")
        };
        let config = options.config_file(5060, 4444, 10000, Path::new("/tmp/rec"));
        let loaded: Vec<PathBuf> = config
            .lines()
            .filter(|l| l.starts_with("module") && l.ends_with(".so"))
            .map(|l| Path::new(MODULE_PATH).join(l.split_whitespace().last().unwrap()))
            .collect();
        let files = options.files();
        assert!(files[0].ends_with("baresip"), "{files:?}");
        assert_eq!(files[1..], loaded[..]);
    }
}
