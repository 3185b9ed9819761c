//! Driving a `seatphone_sip::Sip` in-process, as the host would: a test
//! media side that answers a static audio section, commands in, page events
//! out through a channel.

use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seatphone_protocol::{
    AnswerRequest, AnswerResponse, CallEvent, Capability, Command, Event, OfferRequest,
    OfferResponse, Request, Response, StartRequest, StopRequest,
};
use seatphone_sip::{Media, PageEvent, RegTiming, Sip, SipConfig};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// A media side with one audio "plugin": a real UDP port (so peers that send
/// RTP get no ICMP), PCMU/PCMA and telephone-event.
pub struct TestMedia {
    rtp: UdpSocket,
    /// Serve audio (false: as if no audio plugin were loaded).
    pub audio: std::sync::atomic::AtomicBool,
    pub log: Mutex<Vec<String>>,
}

impl TestMedia {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            rtp: UdpSocket::bind("127.0.0.1:0").expect("rtp port"),
            audio: std::sync::atomic::AtomicBool::new(true),
            log: Mutex::new(Vec::new()),
        })
    }

    fn section(&self, ip: &str) -> String {
        let port = self.rtp.local_addr().map(|a| a.port()).unwrap_or(0);
        format!(
            "m=audio {port} RTP/AVP 0 8 101\r\nc=IN IP4 {ip}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
        )
    }

    fn note(&self, s: String) {
        if let Ok(mut l) = self.log.lock() {
            l.push(s);
        }
    }

    /// What the SIP side told the media side, in order.
    pub fn entries(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Whether an entry `pred` accepts comes within `secs`. The media side
    /// hears of a call just after the page does (the SIP task yields in
    /// between), so a test that saw the page's event may still be early.
    pub async fn wait_entry(&self, secs: u64, pred: impl Fn(&str) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if self.entries().iter().any(|e| pred(e)) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Media for TestMedia {
    fn kinds(&self) -> Vec<String> {
        if self.audio.load(std::sync::atomic::Ordering::SeqCst) {
            vec!["audio".into()]
        } else {
            Vec::new()
        }
    }
    fn configure(&self, _page_config: &Value) -> Vec<String> {
        Vec::new()
    }
    fn offer(&self, req: OfferRequest) -> Result<OfferResponse, String> {
        self.note(format!("offer {} {}", req.call_id, req.kind));
        Ok(OfferResponse {
            sections: vec![self.section(&req.local_ip)],
        })
    }
    fn answer(&self, req: AnswerRequest) -> Result<AnswerResponse, String> {
        self.note(format!("answer {} {}", req.call_id, req.kind));
        Ok(AnswerResponse {
            section: self.section(&req.local_ip),
        })
    }
    fn start(&self, req: StartRequest) -> Result<(), String> {
        self.note(format!(
            "start {} {} remote={}",
            req.call_id,
            req.kind,
            req.remote.replace("\r\n", "|")
        ));
        Ok(())
    }
    fn stop(&self, req: StopRequest) {
        self.note(format!("stop {} {}", req.call_id, req.kind));
    }
    fn call_event(&self, ev: CallEvent) {
        self.note(format!(
            "event {}",
            serde_json::to_string(&ev).unwrap_or_default()
        ));
    }
    fn forward(
        &self,
        capability: Capability,
        request: Request,
        reply: Box<dyn FnOnce(Response) + Send>,
    ) {
        self.note(format!("forward {capability} {}", request.description));
        reply(Response::ok());
    }
}

/// One user agent under test.
pub struct Ua {
    pub sip: Sip,
    pub media: Arc<TestMedia>,
    events: mpsc::UnboundedReceiver<PageEvent>,
    /// Every event seen so far, in order.
    pub seen: Vec<PageEvent>,
}

/// Fast registration timing for tests.
pub fn test_timing() -> RegTiming {
    RegTiming {
        expires: 60,
        request_timeout: Duration::from_secs(2),
        keepalive: Duration::from_secs(2),
        retry_interval: Duration::from_secs(6),
    }
}

impl Ua {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut SipConfig)) -> Self {
        let mut cfg = SipConfig {
            bind: "127.0.0.1".parse().expect("ip"),
            local_port: 0,
            user_agent: "Seatphone-test".into(),
            max_calls: 2,
            instance_id: "urn:uuid:00000000-0000-4000-8000-000000000001".into(),
            // Set SEATPHONE_SIP_LOG=/some/dir to see every message of a test.
            msg_log_dir: std::env::var_os("SEATPHONE_SIP_LOG").map(Into::into),
            reg_timing: test_timing(),
            accept_from: Default::default(),
        };
        tune(&mut cfg);
        let media = TestMedia::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let sink: seatphone_sip::EventSink = Arc::new(move |e| {
            let _ = tx.send(e);
        });
        let sip = Sip::start(cfg, media.clone(), sink)
            .await
            .expect("sip starts");
        Self {
            sip,
            media,
            events: rx,
            seen: Vec::new(),
        }
    }

    /// Sends a command and returns its response.
    pub async fn command(&mut self, command: Command, param: Value) -> Response {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.sip.command(
            Request {
                cmd: command.cmd(),
                description: command.description().into(),
                param,
            },
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .expect("a response within 5 s")
            .expect("reply called")
    }

    /// Sends a command that must succeed (result 0); returns its response.
    pub async fn ok(&mut self, command: Command, param: Value) -> Response {
        let r = self.command(command, param).await;
        assert_eq!(r.result, 0, "{}: {r:?}", command.description());
        r
    }

    /// `startCall` to `callee` (audio), which must be accepted; the call's id.
    pub async fn call(&mut self, callee: &str) -> u64 {
        let r = self
            .ok(
                Command::StartCall,
                json!({"calleeNumber": callee, "isVideo": false}),
            )
            .await;
        r.param.as_ref().expect("param")["callId"]
            .as_u64()
            .expect("callId")
    }

    /// `config` with one server (and pool servers).
    pub async fn configure(&mut self, server_port: u16, pool: &[u16]) -> Response {
        let pool: Vec<Value> = pool
            .iter()
            .map(|p| json!({"serverAddr": "127.0.0.1", "sipServerPort": p}))
            .collect();
        self.command(Command::SetConfigParam,
            json!({"networkInfo": {"serverAddr": "127.0.0.1", "sipServerPort": server_port, "sipTransportMode": 0, "poolServers": pool}}),
        )
        .await
    }

    pub async fn login(&mut self, user: &str, password: &str, mode: u32) -> Response {
        self.command(
            Command::Login,
            json!({"sipNum": user, "sipName": user, "sipPwd": password, "sipMode": mode}),
        )
        .await
    }

    /// Waits for the next `event` (skipping others), up to `secs`.
    pub async fn wait(&mut self, event: Event, secs: u64) -> PageEvent {
        self.wait_where(secs, |e| e.event() == Some(event))
            .await
            .unwrap_or_else(|| {
                // The last event's parameters say why (a 1005's reason).
                panic!(
                    "no event {event:?} within {secs} s; seen: {:?}; the last: {:?}",
                    self.notified(),
                    self.seen.last().map(|e| &e.param)
                )
            })
    }

    /// Waits for an event matching `pred`.
    pub async fn wait_where(
        &mut self,
        secs: u64,
        pred: impl Fn(&PageEvent) -> bool,
    ) -> Option<PageEvent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => {
                    self.seen.push(e.clone());
                    if pred(&e) {
                        return Some(e);
                    }
                }
                _ => return None,
            }
        }
    }

    /// Collects events for `ms` milliseconds.
    pub async fn settle(&mut self, ms: u64) {
        let _ = self.wait_where(0, |_| false).await;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            self.seen.push(e);
        }
    }

    /// Collects events for `ms` milliseconds and asserts that `event` has
    /// not been seen at all.
    pub async fn never(&mut self, event: Event, ms: u64) {
        self.settle(ms).await;
        assert!(
            !self.notified().contains(&event.notify()),
            "{event:?} came: {:?}",
            self.notified()
        );
    }

    /// The latest `event` seen so far.
    pub fn last_seen(&self, event: Event) -> PageEvent {
        let e = self.seen.iter().rev().find(|e| e.event() == Some(event));
        e.unwrap_or_else(|| panic!("no {event:?} in {:?}", self.notified()))
            .clone()
    }

    /// `notify` numbers seen so far.
    pub fn notified(&self) -> Vec<u32> {
        self.seen.iter().map(|e| e.notify).collect()
    }

    /// Registers `user` on `server_port` and waits for "login success".
    pub async fn register(&mut self, server_port: u16, user: &str) {
        assert_eq!(self.configure(server_port, &[]).await.result, 0);
        assert_eq!(self.login(user, &format!("pass{user}"), 4).await.result, 0);
        self.wait(Event::LoginSuccess, 10).await;
    }
}

/// `callId` of a call event.
pub fn call_id(e: &PageEvent) -> u64 {
    e.param["callId"].as_u64().unwrap_or(0)
}
