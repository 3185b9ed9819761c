//! The `seatphone` binary under test, started with a temporary config on free
//! ports, and a WebSocket page client speaking PROTOCOL.md.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
pub use seatphone_protocol::{Command, Event};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command as Process};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::peers::free_port;

pub const LOGIN: &str = "openeye_login_service_protocol";
pub const CALL: &str = "openeye_call_service_protocol";
pub const DAEMON: &str = "protocol_ws_deamon_service";

/// Where cargo put the binaries of this build (`target/<profile>`), found
/// from the test executable (`target/<profile>/deps/<test>`).
pub fn build_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SEATPHONE_BUILD_DIR") {
        return dir.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A library built by this workspace, e.g. `plugin_library("audio")`.
pub fn plugin_library(name: &str) -> PathBuf {
    build_dir().join(plugin_file_name(name))
}

/// The file name of a library of this workspace: `libseatphone_audio.so`.
pub fn plugin_file_name(name: &str) -> String {
    format!(
        "{}seatphone_{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// The files a deployment of the plugin `lib` copies: the plugin and the
/// libraries it loads itself from its own folder (the audio plugin's voice
/// library, `plugins/audio/voice`; the video plugin's codec library,
/// `plugins/video/codec`).
pub fn plugin_files(lib: &Path) -> Vec<PathBuf> {
    let mut files = vec![lib.to_path_buf()];
    for (plugin, helper) in [("audio", "voice"), ("video", "videocodec")] {
        if lib.file_name() == plugin_library(plugin).file_name() {
            files.push(lib.with_file_name(plugin_library(helper).file_name().unwrap_or_default()));
        }
    }
    files
}

/// What a test wants of the host.
pub struct Options {
    /// Libraries copied into the plugin folder (the test's own folder).
    pub plugins: Vec<PathBuf>,
    /// Extra lines for the `[api]` section (`allowed_origins = [...]`).
    pub api_toml: String,
    /// The host's SIP port; 0 = any free port.
    pub sip_port: u16,
    /// Extra lines for the `[sip]` section (`keepalive_interval = 1`).
    pub sip_toml: String,
    /// Extra TOML appended to the generated config (other sections).
    pub extra_toml: String,
    /// Extra environment of the host (e.g. `PULSE_SERVER` of a test's own
    /// PulseAudio, `Pulse::env`).
    pub env: Vec<(String, String)>,
    /// `[log] level`: the tests' `debug`; the benchmark asks for the
    /// deployment's `info` (`measure::HostSpec`).
    pub log_level: String,
    /// Name prefix of the host's temporary folder (tempfile's `.tmp` for
    /// the tests; the benchmark's `seatphone-bench`, which `BENCH_KEEP` keeps).
    pub dir_prefix: String,
    /// The host executable: this build's `seatphone` (`build_dir`).
    pub exe: PathBuf,
    /// A program the host runs under, with its arguments (callgrind for
    /// `link_profile`); empty: the host runs by itself.
    pub under: Vec<String>,
    /// How long the host may take to answer `/health` once started (10 s;
    /// far longer under valgrind).
    pub ready_within: Duration,
}

impl Options {
    /// The audio plugin alone, without sound devices (`[audio]` input and
    /// output "null"): the host of the SIP and API tests.
    pub fn audio_only() -> Self {
        Self {
            plugins: vec![plugin_library("audio")],
            extra_toml: "[audio]\ninput = \"null\"\noutput = \"null\"\n".into(),
            ..Self::default()
        }
    }
}

/// Every plugin the workspace builds, by name (`plugin_library`).
pub const WORKSPACE_PLUGINS: &[&str] = &["audio", "capture", "share", "video"];

impl Default for Options {
    /// Every plugin of the workspace.
    fn default() -> Self {
        Self {
            plugins: WORKSPACE_PLUGINS
                .iter()
                .map(|n| plugin_library(n))
                .collect(),
            api_toml: String::new(),
            sip_port: 0,
            sip_toml: String::new(),
            extra_toml: String::new(),
            env: Vec::new(),
            log_level: "debug".into(),
            dir_prefix: ".tmp".into(),
            exe: build_dir().join("seatphone"),
            under: Vec::new(),
            ready_within: READY_WITHIN,
        }
    }
}

/// A host's temporary folder, plugin folder and config, written but not yet
/// started: the one launcher of the tests ([`Seatphone::start`]) and the
/// benchmark (`measure::BenchHost::start`), which spawn `command` each their
/// own way (a tokio child killed on drop; a process group stopped by signal).
pub struct Launch {
    pub dir: tempfile::TempDir,
    pub daemon_port: u16,
    pub port: u16,
    /// `target/<profile>/seatphone --config <dir>/seatphone.toml` (the
    /// options' `exe`, under their `under`), with the options' environment,
    /// stdin and stdout null, stderr to `stderr.log`.
    pub command: std::process::Command,
}

impl Launch {
    pub fn prepare(options: &Options) -> std::io::Result<Launch> {
        let dir = tempfile::Builder::new()
            .prefix(&options.dir_prefix)
            .tempdir()?;
        let plugin_dir = dir.path().join("plugins");
        std::fs::create_dir_all(&plugin_dir)?;
        for lib in options.plugins.iter().flat_map(|l| plugin_files(l)) {
            let name = lib.file_name().unwrap_or_default();
            std::fs::copy(&lib, plugin_dir.join(name)).map_err(|e| {
                std::io::Error::other(format!(
                    "copy plugin {}: {e} (build the workspace first)",
                    lib.display()
                ))
            })?;
        }
        let (daemon_port, port) = (free_port(1), free_port(1));
        let config = format!(
            "[api]\nbind = \"127.0.0.1\"\ndaemon_port = {daemon_port}\nport = {port}\n{}\n\
             [plugins]\ndir = \"{}\"\n[sip]\nbind = \"127.0.0.1\"\nlocal_port = {}\n{}\n[log]\ndir = \"{}\"\nlevel = \"{}\"\n{}\n",
            options.api_toml,
            plugin_dir.display(),
            options.sip_port,
            options.sip_toml,
            dir.path().join("log").display(),
            options.log_level,
            options.extra_toml
        );
        let config_path = dir.path().join("seatphone.toml");
        std::fs::write(&config_path, config)?;
        let mut command = match options.under.split_first() {
            Some((runner, args)) => {
                let mut c = std::process::Command::new(runner);
                c.args(args).arg(&options.exe);
                c
            }
            None => std::process::Command::new(&options.exe),
        };
        command
            .arg("--config")
            .arg(&config_path)
            .envs(options.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log"))?);
        Ok(Launch {
            dir,
            daemon_port,
            port,
            command,
        })
    }
}

/// How long a host may take to answer `/health` ([`Options::ready_within`]).
pub const READY_WITHIN: Duration = Duration::from_secs(10);

/// Whether the engine on `port` answers `/health` with 200 within `within`.
pub async fn wait_healthy(port: u16, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if http_get(port, "/health", "127.0.0.1")
            .await
            .is_ok_and(|(status, _)| status == 200)
        {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The host's standard error, written to `stderr.log` in its folder.
pub fn stderr_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
}

pub struct Seatphone {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub daemon_port: u16,
    pub port: u16,
}

impl Seatphone {
    pub async fn start(options: Options) -> Seatphone {
        let launch = Launch::prepare(&options).unwrap_or_else(|e| panic!("prepare seatphone: {e}"));
        let child = Process::from(launch.command)
            .kill_on_drop(true)
            .spawn()
            .expect("start seatphone (build the workspace first)");
        let host = Seatphone {
            child: Some(child),
            dir: launch.dir,
            daemon_port: launch.daemon_port,
            port: launch.port,
        };
        if !wait_healthy(host.port, options.ready_within).await {
            panic!("seatphone did not come up; stderr:\n{}", host.stderr());
        }
        host
    }

    pub fn stderr(&self) -> String {
        stderr_of(self.dir.path())
    }

    /// Every log line the host wrote (stderr and every file under its log folder).
    pub fn all_logs(&self) -> String {
        fn read_tree(dir: &Path, text: &mut String) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = e.path();
                if path.is_dir() {
                    read_tree(&path, text);
                } else {
                    text.push_str(&String::from_utf8_lossy(
                        &std::fs::read(&path).unwrap_or_default(),
                    ));
                }
            }
        }
        let mut text = self.stderr();
        read_tree(&self.dir.path().join("log"), &mut text);
        text
    }

    /// The SIP messages the host sent (`sent`) or received, in order, from
    /// its message log (each as written: start line, headers, body).
    pub fn sip_messages(&self, sent: bool) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.path().join("log").join("sip-messages.log"))
            .unwrap_or_default();
        let mut messages: Vec<(bool, String)> = Vec::new();
        for line in log.lines() {
            if line.starts_with(">>> ") || line.starts_with("<<< ") {
                messages.push((line.starts_with(">>> "), String::new()));
            } else if let Some((_, text)) = messages.last_mut() {
                text.push_str(line.trim_end_matches('\r'));
                text.push('\n');
            }
        }
        messages
            .into_iter()
            .filter(|(out, _)| *out == sent)
            .map(|(_, text)| text.trim_start().to_owned())
            .collect()
    }

    pub async fn health(&self) -> Value {
        let (status, body) = self.http_get("/health").await.expect("GET /health");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("health is JSON")
    }

    pub async fn http_get(&self, path: &str) -> std::io::Result<(u16, String)> {
        http_get(self.port, path, "127.0.0.1").await
    }

    pub fn daemon_pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(Child::id)
            .expect("daemon running")
    }

    /// The engine process (the daemon's child).
    pub fn engine_pid(&self) -> Option<u32> {
        let pid = self.daemon_pid();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    /// Points the host at a registrar on 127.0.0.1 (`config`, UDP).
    pub async fn configure(page: &mut Page, registrar_port: u16) {
        let config = serde_json::json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": registrar_port, "sipTransportMode": 0}});
        page.ok(Command::SetConfigParam, config).await;
    }

    /// `register` and wait for "login success".
    pub async fn register(page: &mut Page, user: &str, password: &str) -> Value {
        let login =
            serde_json::json!({"sipNum": user, "sipName": user, "sipPwd": password, "sipMode": 4});
        page.ok(Command::Login, login).await;
        page.event(Event::LoginSuccess, Duration::from_secs(10))
            .await
    }

    /// A call page, configured for the registrar on 127.0.0.1:`registrar_port`
    /// and registered as `user` (password `pass<user>`, as the harness's Kamailio has it).
    pub async fn registered_page(&self, registrar_port: u16, user: &str) -> Page {
        let mut page = self.call_page().await;
        Self::configure(&mut page, registrar_port).await;
        Self::register(&mut page, user, &format!("pass{user}")).await;
        page
    }

    /// `startCall` to `callee`; returns the callId once the call is connected.
    pub async fn call(page: &mut Page, callee: &str) -> Value {
        Self::call_with(page, json!({"calleeNumber": callee, "isVideo": false})).await
    }

    /// `startCall` to `callee` with video; the callId once connected.
    pub async fn video_call(page: &mut Page, callee: &str) -> Value {
        Self::call_with(page, json!({"calleeNumber": callee, "isVideo": true})).await
    }

    /// `startCall` with `start` as the page sends it; the callId once connected.
    pub async fn call_with(page: &mut Page, start: Value) -> Value {
        let r = page.ok(Command::StartCall, start).await;
        page.event(Event::CallConnected, Duration::from_secs(10))
            .await;
        r["param"]["callId"].clone()
    }

    /// `endCall` of `call_id`; returns the call-ended event.
    pub async fn hang_up(page: &mut Page, call_id: &Value) -> Value {
        page.ok(Command::EndCall, json!({ "callId": call_id }))
            .await;
        page.event(Event::CallEnded, Duration::from_secs(10)).await
    }

    pub async fn call_page(&self) -> Page {
        Page::connect(&self.url("/"), Some(CALL), None)
            .await
            .expect("call socket")
    }

    pub async fn daemon_page(&self) -> Page {
        Page::connect(
            &format!("ws://127.0.0.1:{}/", self.daemon_port),
            Some(DAEMON),
            None,
        )
        .await
        .expect("daemon socket")
    }

    /// SIGTERM, then wait for the exit status.
    pub async fn stop(self) -> std::process::ExitStatus {
        self.stop_within(Duration::from_secs(10)).await
    }

    /// SIGTERM, then wait up to `within` for the exit status.
    pub async fn stop_within(mut self, within: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        signal(child.id().unwrap(), "TERM");
        tokio::time::timeout(within, child.wait())
            .await
            .unwrap_or_else(|_| panic!("seatphone stops within {within:?}"))
            .unwrap()
    }
}

/// Sends a signal with kill(1): the tests need no unsafe code.
pub fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
    assert!(status.is_ok_and(|s| s.success()), "kill -{name} {pid}");
}

/// A bare HTTP/1.1 GET with a chosen Host header.
pub async fn http_get(port: u16, path: &str, host: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A page's socket: requests matched to responses by `seq`, events queued.
pub struct Page {
    ws: Ws,
    seq: u64,
    /// Frames received while waiting for something else.
    pending: VecDeque<Value>,
    pub protocol: Option<String>,
}

#[derive(Debug)]
pub enum Received {
    Frame(Value),
    Closed(Option<CloseFrame>),
}

impl Page {
    pub async fn connect(
        url: &str,
        protocol: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Page, tokio_tungstenite::tungstenite::Error> {
        let mut request = url.into_client_request()?;
        if let Some(p) = protocol {
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
        }
        if let Some(o) = origin {
            request
                .headers_mut()
                .insert("Origin", HeaderValue::from_str(o).unwrap());
        }
        // Reads as the baresip control client does (8 KiB at a time):
        // tungstenite zeroes its whole read buffer (128 KiB by default)
        // before each read, which would weigh on figure 1's page side.
        let config = WebSocketConfig::default().read_buffer_size(8 << 10);
        // TCP_NODELAY, as browsers set it and as the baresip control client
        // does: with Nagle's algorithm on, the pong answering the host's
        // ping (every 5 s) held the next command back until the host's
        // delayed ACK, ~40 ms (bench figure 3: one setup in ten read 42 ms).
        let (ws, response) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
        let protocol = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Page {
            ws,
            seq: 0,
            pending: VecDeque::new(),
            protocol,
        })
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send frame");
    }

    /// A binary frame, which the API does not speak.
    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.ws
            .send(Message::Binary(bytes.to_vec().into()))
            .await
            .expect("send frame");
    }

    /// Sends a standard command and returns its response; events that
    /// arrive first stay queued for [`Page::event`].
    pub async fn request(&mut self, command: Command, param: Value) -> Value {
        self.request_raw(command.cmd(), command.description(), param)
            .await
    }

    /// Sends a standard command that must succeed (result 0) and returns
    /// its response.
    pub async fn ok(&mut self, command: Command, param: Value) -> Value {
        let r = self.request(command, param).await;
        assert_eq!(r["result"], 0, "{}: {r}", command.description());
        r
    }

    /// Sends a request as written: a plugin's own command, or a number and
    /// description that do not belong together.
    pub async fn request_raw(&mut self, cmd: u32, description: &str, param: Value) -> Value {
        let seq = self.send_raw(cmd, description, param).await;
        self.response_for(seq).await
    }

    /// Sends a standard command without waiting for its answer; returns
    /// its `seq`, for [`Page::response_for`] or to tell its answer among
    /// the frames that follow.
    pub async fn send(&mut self, command: Command, param: Value) -> u64 {
        self.send_raw(command.cmd(), command.description(), param)
            .await
    }

    /// [`Page::send`] of a request as written (see [`Page::request_raw`]).
    pub async fn send_raw(&mut self, cmd: u32, description: &str, param: Value) -> u64 {
        self.seq += 1;
        let seq = self.seq;
        let frame = json!({ "cmd": cmd, "description": description, "param": param, "seq": seq });
        self.send_text(&frame.to_string()).await;
        seq
    }

    /// The response to `seq`, also when it came while waiting for another.
    pub async fn response_for(&mut self, seq: u64) -> Value {
        if let Some(i) = self
            .pending
            .iter()
            .position(|f| f.get("seq") == Some(&json!(seq)))
        {
            return self.pending.remove(i).unwrap();
        }
        loop {
            match self.receive(Duration::from_secs(10)).await {
                Some(Received::Frame(f)) if f.get("seq") == Some(&json!(seq)) => return f,
                Some(Received::Frame(f)) => self.pending.push_back(f),
                other => panic!("no response to seq {seq}: {other:?}"),
            }
        }
    }

    /// Asks `command` of a page the host may have refused: its answer, or
    /// the close the host sent instead (a refused page's frames are never
    /// read, so no answer can come before its close).
    pub async fn answer_or_close(
        &mut self,
        command: Command,
        param: Value,
        timeout: Duration,
    ) -> Result<Value, Option<CloseFrame>> {
        self.seq += 1;
        let seq = self.seq;
        let frame = json!({ "cmd": command.cmd(), "description": command.description(),
                            "param": param, "seq": seq });
        // A refused socket may be closed already: its close frame is still
        // there to read below.
        let _ = self.ws.send(Message::Text(frame.to_string().into())).await;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.receive(left).await {
                Some(Received::Frame(f)) if f.get("seq") == Some(&json!(seq)) => return Ok(f),
                Some(Received::Frame(f)) => self.pending.push_back(f),
                Some(Received::Closed(frame)) => return Err(frame),
                None => panic!(
                    "{}: neither an answer nor a close within {timeout:?}",
                    command.description()
                ),
            }
        }
    }

    /// The next frame (queued first), or `None` after `timeout`.
    pub async fn next_frame(&mut self, timeout: Duration) -> Option<Value> {
        if let Some(f) = self.pending.pop_front() {
            return Some(f);
        }
        match self.receive(timeout).await {
            Some(Received::Frame(f)) => Some(f),
            _ => None,
        }
    }

    /// Forgets what was queued and what arrives until `quiet` passes without a frame.
    pub async fn forget(&mut self, quiet: Duration) -> Vec<Value> {
        let mut gone: Vec<Value> = self.pending.drain(..).collect();
        while let Some(f) = self.next_frame(quiet).await {
            gone.push(f);
        }
        gone
    }

    /// Forgets what was queued and what arrives until `quiet` passes
    /// without a frame, asserting that `event` is not among it; returns
    /// what it forgot.
    pub async fn never(&mut self, event: Event, quiet: Duration) -> Vec<Value> {
        let gone = self.forget(quiet).await;
        assert!(
            !gone.iter().any(|f| is_event(f, event)),
            "{event:?} came: {gone:?}"
        );
        gone
    }

    /// Waits for `event` whose frame passes `pred`; `None` after `timeout`.
    /// Other frames stay queued; the same event failing `pred` is dropped.
    pub async fn event_where(
        &mut self,
        event: Event,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let wanted = |f: &Value| is_event(f, event) && pred(f);
        if let Some(i) = self.pending.iter().position(wanted) {
            return self.pending.remove(i);
        }
        self.pending.retain(|f| !is_event(f, event));
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.receive(left).await {
                Some(Received::Frame(f)) if wanted(&f) => return Some(f),
                Some(Received::Frame(f)) if is_event(&f, event) => {}
                Some(Received::Frame(f)) => self.pending.push_back(f),
                _ => return None,
            }
        }
    }

    /// The frames that come (queued ones first) up to and including the
    /// first `event`; panics if `quiet` passes without a frame before it.
    pub async fn frames_until(&mut self, event: Event, quiet: Duration) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let Some(f) = self.next_frame(quiet).await else {
                panic!("no {event:?} (nothing for {quiet:?}); saw {seen:?}");
            };
            let done = is_event(&f, event);
            seen.push(f);
            if done {
                return seen;
            }
        }
    }

    /// Waits for `event`; `None` after `timeout`. Other frames stay queued.
    pub async fn event_within(&mut self, event: Event, timeout: Duration) -> Option<Value> {
        self.event_where(event, timeout, |_| true).await
    }

    /// Waits for an account status saying "registered" (`register_state`
    /// 3) that passes `pred`; `None` after `timeout`.
    pub async fn registered(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        self.event_where(Event::AccountStatus, timeout, |f| {
            f["param"]["register_state"] == 3 && pred(f)
        })
        .await
    }

    /// Waits for the event `notify` (an [`Event`], or a plugin's own
    /// number), keeping the others queued.
    pub async fn event(&mut self, notify: impl Into<u32>, timeout: Duration) -> Value {
        let notify = notify.into();
        if let Some(i) = self.pending.iter().position(|f| f["notify"] == notify) {
            return self.pending.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.receive(left).await {
                Some(Received::Frame(f)) if f["notify"] == notify => return f,
                Some(Received::Frame(f)) => self.pending.push_back(f),
                other => panic!(
                    "no event {notify} within {timeout:?}: {other:?}; queued {:?}",
                    self.pending
                ),
            }
        }
    }

    /// Reads until the socket closes; returns the close frame.
    pub async fn closed(&mut self, timeout: Duration) -> Option<CloseFrame> {
        self.closes_within(timeout)
            .await
            .unwrap_or_else(|| panic!("socket still open after {timeout:?}"))
    }

    /// `Some(close frame)` if the socket closes within `timeout`, `None` if it stays open.
    pub async fn closes_within(&mut self, timeout: Duration) -> Option<Option<CloseFrame>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.receive(left).await {
                Some(Received::Closed(frame)) => return Some(frame),
                Some(Received::Frame(f)) => self.pending.push_back(f),
                None => return None,
            }
        }
    }

    async fn receive(&mut self, timeout: Duration) -> Option<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some(Received::Closed(None)),
                Ok(Some(Ok(Message::Text(t)))) => {
                    return Some(Received::Frame(
                        serde_json::from_str(t.as_str()).expect("frames are JSON"),
                    ))
                }
                Ok(Some(Ok(Message::Close(frame)))) => return Some(Received::Closed(frame)),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// Asserts a response is an error with `result` and a sentence for the page.
pub fn assert_error(response: &Value, result: u64) {
    assert_eq!(response["result"], result, "{response}");
    let msg = response["errMsg"].as_str().unwrap_or("");
    assert!(msg.len() > 5, "errMsg must say why: {response}");
}

/// Whether `frame` is the standard event `event`.
pub fn is_event(frame: &Value, event: Event) -> bool {
    frame["notify"] == event.notify()
}

/// The standard events among `frames`, in order.
pub fn events_of(frames: &[Value]) -> Vec<Event> {
    frames.iter().filter_map(event_of).collect()
}

/// The standard event a frame the host sent is, if it is one.
pub fn event_of(frame: &Value) -> Option<Event> {
    let notify = frame["notify"].as_u64()?;
    Event::from_notify(notify.try_into().ok()?)
}

/// A request frame of `command` as text, with the rest of its members as
/// written (`,"seq":4`), for tests that send frames by hand.
pub fn frame_text(command: Command, rest: &str) -> String {
    let (cmd, d) = (command.cmd(), command.description());
    format!(r#"{{"cmd":{cmd},"description":"{d}"{rest}}}"#)
}
