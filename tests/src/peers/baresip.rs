//! baresip as a peer phone, registered at a Kamailio, driven through its
//! `ctrl_tcp` socket (netstring JSON commands in, events out).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::kamailio::Kamailio;
use super::{free_port, stop_child, templates, wait_until};

/// How baresip answers calls (`answermode=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerMode {
    Manual,
    Auto,
}

/// baresip's config for video calls with `codec` ("VP8" or "H264"):
/// testsrc2 (moving, 320×240 at 15 fps) as its camera, a display module
/// (without one it makes video sendonly) and snapshots. The codec module
/// goes first: `vp8.so` or `avcodec.so` (H.264; an account's
/// `video_codecs=H264` would keep only one of its two packetization modes,
/// so the codec is chosen by the module loaded instead).
pub fn video_config(codec: &str) -> String {
    let module = if codec == "VP8" {
        "vp8.so"
    } else {
        "avcodec.so"
    };
    format!(
        "module\t\t\t{module}\n\
         module\t\t\tavformat.so\n\
         module\t\t\tfakevideo.so\n\
         module\t\t\tsnapshot.so\n\
         video_source\t\tavformat,lavfi,testsrc2=size=320x240:rate=15\n\
         video_display\t\tfakevideo,nil\n\
         video_size\t\t320x240\n\
         video_bitrate\t\t300000\n\
         video_fps\t\t15\n"
    )
}

pub struct Baresip {
    pub user: String,
    pub port: u16,
    child: Child,
    ctrl: TcpStream,
    events: Arc<Mutex<Vec<Value>>>,
    dir: tempfile::TempDir,
}

impl Baresip {
    /// Starts baresip registering `user` (password `pass<user>`) at `kam`,
    /// and waits until Kamailio holds its contact.
    pub fn start(user: &str, kam: &Kamailio, mode: AnswerMode) -> std::io::Result<Self> {
        Self::start_with(user, kam, mode, "", "")
    }

    /// As [`Baresip::start`], with `config` lines appended to the config
    /// (modules, video settings) and `account` parameters to the account
    /// line (`;video_codecs=VP8`).
    pub fn start_with(
        user: &str,
        kam: &Kamailio,
        mode: AnswerMode,
        config: &str,
        account: &str,
    ) -> std::io::Result<Self> {
        let (extra_config, extra_account) = (config, account);
        let registrar_port = kam.port;
        let port = free_port(2);
        let ctrl_port = free_port(1);
        let rtp = free_port(40);
        let dir = tempfile::Builder::new()
            .prefix("seatphone-baresip")
            .tempdir()?;
        let t = templates().join("baresip");
        let config = std::fs::read_to_string(t.join("config"))?
            .replace("@PORT@", &port.to_string())
            .replace("@CTRL@", &ctrl_port.to_string())
            .replace("@RTP_LO@", &rtp.to_string())
            .replace("@RTP_HI@", &(rtp + 39).to_string())
            + extra_config;
        let accounts = std::fs::read_to_string(t.join("accounts"))?
            .replace("@USER@", user)
            .replace("@PASS@", &format!("pass{user}"))
            .replace("@REGPORT@", &registrar_port.to_string())
            .replace(
                "@ANSWERMODE@",
                match mode {
                    AnswerMode::Manual => "manual",
                    AnswerMode::Auto => "auto",
                },
            )
            .trim_end()
            .to_owned()
            + extra_account
            + "\n";
        std::fs::write(dir.path().join("config"), config)?;
        std::fs::write(dir.path().join("accounts"), accounts)?;
        std::fs::write(dir.path().join("contacts"), "")?;
        let log = std::fs::File::create(dir.path().join("baresip.log"))?;
        let mut cmd = Command::new("baresip");
        cmd.arg("-f")
            .arg(dir.path())
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
            child,
            ctrl,
            events,
            dir,
        };
        // Registration may have finished before we connected: ask.
        if !b.wait_event(Duration::from_secs(2), "REGISTER_OK") {
            b.command("reginfo", "");
            let ok = wait_until(Duration::from_secs(8), || {
                b.log().contains("OK") || b.has_event("REGISTER_OK")
            });
            if !ok {
                return Err(std::io::Error::other(format!(
                    "baresip did not register:\n{}",
                    b.log()
                )));
            }
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

    pub fn wait_event(&self, timeout: Duration, kind: &str) -> bool {
        wait_until(timeout, || self.has_event(kind))
    }

    /// How many events of `kind` arrived.
    pub fn count(&self, kind: &str) -> usize {
        self.events().iter().filter(|e| e["type"] == kind).count()
    }

    /// The folder baresip runs in (its config, log, snapshots).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// The process id (to freeze it: a peer that vanishes without a BYE).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(&mut self) {
        // It un-registers on SIGTERM; a second signal cuts the wait short.
        stop_child(&mut self.child, Duration::from_secs(2));
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads baresip's `ctrl_tcp` netstrings (JSON events) into `sink` until the socket closes.
pub fn read_netstrings(mut stream: TcpStream, sink: Arc<Mutex<Vec<Value>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        while let Some(colon) = buf.iter().position(|b| *b == b':') {
            let Some(len) = std::str::from_utf8(&buf[..colon])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            else {
                buf.clear();
                break;
            };
            if buf.len() < colon + 1 + len + 1 {
                break;
            }
            let body = &buf[colon + 1..colon + 1 + len];
            if let Ok(v) = serde_json::from_slice::<Value>(body) {
                if let Ok(mut s) = sink.lock() {
                    s.push(v);
                }
            }
            buf.drain(..colon + 1 + len + 1);
        }
    }
}
