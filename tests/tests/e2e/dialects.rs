//! Pages written for Huawei's older local clients, against the real
//! `seatphone` binary, Kamailio and baresip. Each test client sends exactly
//! what its SDK sends — its sub-protocols, frames without `seq`, its
//! numbers and field spellings — and routes what comes back as the SDK
//! does: answers by `rsp & mask`, events by `notify & mask` (TUP 0x7fff,
//! CloudEC 0xffff). (Build the workspace first.)
//!
//! The SDKs' numbers and descriptions are written out here on purpose, not
//! taken from `seatphone_protocol::dialect`'s tables: they are what the
//! SDKs' JavaScript sends, a witness independent of the tables under test,
//! so a wrong row fails here.

use std::time::Duration;

use seatphone_tests::host::{Options, Page, Seatphone, CALL};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::wait_until;
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(10);

async fn host() -> Seatphone {
    Seatphone::start(Options::audio_only()).await
}

/// A page as an SDK drives it: no `seq`; answers matched by the SDK's mask.
struct SdkPage {
    page: Page,
    mask: u32,
    /// Frames that arrived while waiting for something else.
    queued: Vec<Value>,
}

impl SdkPage {
    async fn connect(url: &str, protocol: &str, mask: u32) -> Self {
        let page = Page::connect(url, Some(protocol), None)
            .await
            .unwrap_or_else(|e| panic!("{protocol}: {e}"));
        assert_eq!(page.protocol.as_deref(), Some(protocol));
        Self {
            page,
            mask,
            queued: Vec::new(),
        }
    }

    /// Sends `{cmd, description, param}` and returns the frame whose
    /// `rsp & mask` is `cmd & mask`.
    async fn send(&mut self, cmd: u32, description: &str, param: Value) -> Value {
        self.send_cmd(json!(cmd), description, param).await
    }

    /// As [`SdkPage::send`], with `cmd` as the SDK writes it (a number, or
    /// a string for TUP's `setAECParams`).
    async fn send_cmd(&mut self, cmd: Value, description: &str, param: Value) -> Value {
        let index = match &cmd {
            Value::String(s) => u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap(),
            n => n.as_u64().unwrap() as u32,
        } & self.mask;
        let frame = json!({"cmd": cmd, "description": description, "param": param});
        self.page.send_text(&frame.to_string()).await;
        let mask = self.mask;
        self.wait(|f| f["rsp"].as_u64().is_some_and(|r| r as u32 & mask == index))
            .await
            .unwrap_or_else(|| panic!("no answer to {description}; queued {:?}", self.queued))
    }

    /// The event whose `notify & mask` is `index`.
    async fn event(&mut self, index: u32) -> Value {
        let mask = self.mask;
        self.wait(|f| {
            f["notify"]
                .as_u64()
                .is_some_and(|n| n as u32 & mask == index)
        })
        .await
        .unwrap_or_else(|| panic!("no event {index:#x}; queued {:?}", self.queued))
    }

    async fn wait(&mut self, mut wanted: impl FnMut(&Value) -> bool) -> Option<Value> {
        if let Some(i) = self.queued.iter().position(&mut wanted) {
            return Some(self.queued.remove(i));
        }
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.page.next_frame(left).await?;
            assert!(
                frame.get("seq").is_none(),
                "an answer echoes no seq the SDK did not send: {frame}"
            );
            if wanted(&frame) {
                return Some(frame);
            }
            self.queued.push(frame);
        }
    }

    /// Frames that arrived and were not asked for.
    async fn unasked(&mut self, quiet: Duration) -> Vec<Value> {
        let mut all = std::mem::take(&mut self.queued);
        while let Some(f) = self.page.next_frame(quiet).await {
            all.push(f);
        }
        all
    }
}

fn ok(answer: &Value) {
    assert_eq!(answer["result"], 0, "{answer}");
}

/// baresip's DTMF, as it reports the keys it received.
fn dtmf_heard(bob: &Baresip) -> String {
    bob.events()
        .iter()
        .filter(|e| e["type"] == "CALL_DTMF_START")
        .filter_map(|e| e["param"].as_str().map(str::to_owned))
        .collect()
}

// ---- TUP (CloudIPCC_SDK.js) ----

const TUP_MASK: u32 = 0x7fff;
/// TUP's event indexes (`notify & 0x7fff`).
const TUP_REG: u32 = 1;
const TUP_INCOMING: u32 = 3;
const TUP_OUTGOING: u32 = 4;
const TUP_RINGBACK: u32 = 5;
const TUP_CONNECTED: u32 = 6;
const TUP_ENDED: u32 = 7;
const TUP_RTP: u32 = 9;

/// The TUP call socket, configured and registered as `CloudIPCC_SDK.js`
/// does it: log start, config, register; waits for `register_state` 3.
async fn tup_registered(host: &Seatphone, kam: &Kamailio, user: &str) -> SdkPage {
    let mut call = SdkPage::connect(&host.url("/"), "tup_call_service_protocol", TUP_MASK).await;
    let r = call
        .send(
            0x1004C,
            "tup_call_log_start",
            json!({"log_level": 3, "max_size": 1024, "file_count": 2, "log_path": "/tmp"}),
        )
        .await;
    ok(&r);
    let config = json!({
        "network": {"proxy_addr": "127.0.0.1", "proxy_port": kam.port, "sip_svr_addr": "127.0.0.1", "sip_svr_port": kam.port},
        "sip": {"trans_mode": 0},
        "audio": {"audio_codec": "0,8", "dtmf_mode": 1},
    });
    ok(&call.send(0x10001, "tup_call_config", config).await);
    let reg = json!({"number": user, "name": user, "pwd": format!("pass{user}")});
    let r = call.send(0x10002, "tup_call_register", reg).await;
    ok(&r);
    assert_eq!(r["rsp"].as_u64().unwrap() as u32 & TUP_MASK, 2, "{r}");
    loop {
        let e = call.event(TUP_REG).await;
        assert_eq!(e["notify"], 0x18001, "{e}");
        assert_eq!(e["param"]["user_number"], user, "{e}");
        match e["param"]["register_state"].as_u64() {
            Some(3) => break,
            Some(1) => continue,
            other => panic!("register_state {other:?}: {e}"),
        }
    }
    call
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tup_page_registers_calls_baresip_sends_dtmf_mutes_sets_volume_and_hangs_up() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Manual).expect("baresip");
    let host = host().await;

    // The login socket answers the local-IP query with top-level local_ip.
    let mut login = SdkPage::connect(&host.url("/"), "tup_login_service_protocol", TUP_MASK).await;
    let r = login
        .send(
            0x50018,
            "tup_login_get_local_ip",
            json!({"server": "127.0.0.1"}),
        )
        .await;
    ok(&r);
    assert_eq!(r["local_ip"], "127.0.0.1", "{r}");
    assert_eq!(r["rsp"].as_u64().unwrap() as u32 & TUP_MASK, 24);

    let mut call = tup_registered(&host, &kam, "1001").await;
    assert_eq!(kam.contacts("1001").len(), 1, "{}", kam.ul_dump());

    let r = call
        .send(
            0x10004,
            "tup_call_start_call",
            json!({"callee_num": "1002", "call_type": 0}),
        )
        .await;
    ok(&r);
    let id = r["param"]["call_id"].as_u64().expect("param.call_id");
    assert!(
        r["param"].get("callId").is_none(),
        "TUP answers snake_case: {r}"
    );
    let out = call.event(TUP_OUTGOING).await;
    assert_eq!(out["notify"], 0x18004);
    assert_eq!(out["description"], "CALL_E_EVT_CALL_OUTGOING");
    assert_eq!(out["param"]["call_id"], id);
    assert_eq!(out["param"]["tel_num"], "1002");
    assert_eq!(out["param"]["is_in"], 0);
    assert!(bob.wait_event(T, "CALL_INCOMING"), "{:?}", bob.events());
    let ring = call.event(TUP_RINGBACK).await;
    assert_eq!(ring["param"], json!({"call_id": id}));
    bob.accept();
    let up = call.event(TUP_CONNECTED).await;
    assert_eq!(up["notify"], 0x18006);
    assert_eq!(up["param"]["call_id"], id);
    assert_eq!(up["param"]["call_state"], 3);
    let rtp = call.event(TUP_RTP).await;
    assert_eq!(rtp["param"]["call_id"], id);

    for tone in [1, 2, 10, 11] {
        ok(&call
            .send(
                0x10007,
                "tup_call_dtmf",
                json!({"call_id": id, "dtmf_tone": tone}),
            )
            .await);
    }
    assert!(
        wait_until(T, || dtmf_heard(&bob).len() >= 4),
        "baresip heard {:?}",
        dtmf_heard(&bob)
    );
    assert_eq!(dtmf_heard(&bob), "12*#");

    ok(&call
        .send(
            0x10008,
            "tup_call_media_mute_mic",
            json!({"call_id": id, "is_on": 1}),
        )
        .await);
    ok(&call
        .send(
            0x10008,
            "tup_call_media_mute_mic",
            json!({"call_id": id, "is_on": 0}),
        )
        .await);
    ok(&call
        .send(
            0x1000d,
            "tup_call_media_set_speak_volume",
            json!({"volume": 40}),
        )
        .await);
    let r = call
        .send(0x1000c, "tup_call_media_get_speak_volume", json!({}))
        .await;
    ok(&r);
    assert_eq!(r["param"]["volume"], 40, "{r}");

    // setAECParams sends its cmd as a string; it is answered too.
    let r = call
        .send_cmd(json!("0x1011A"), "tup_call_set_AEC_params", json!({}))
        .await;
    assert_eq!(r["result"], 1, "{r}");
    assert!(
        r["errMsg"].as_str().unwrap().contains("not supported"),
        "{r}"
    );

    ok(&call
        .send(0x10006, "tup_call_end_call", json!({"call_id": id}))
        .await);
    let end = call.event(TUP_ENDED).await;
    assert_eq!(end["notify"], 0x18007);
    assert_eq!(end["param"]["call_id"], id);
    assert!(bob.wait_event(T, "CALL_CLOSED"), "BYE reached baresip");

    ok(&call
        .send(0x10003, "tup_call_deregister", json!({"number": "1001"}))
        .await);
    assert!(wait_until(Duration::from_secs(3), || kam
        .contacts("1001")
        .is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tup_page_answers_a_call_from_baresip() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Manual).expect("baresip");
    let host = host().await;
    let mut call = tup_registered(&host, &kam, "1001").await;
    bob.dial("sip:1001@127.0.0.1");
    let inc = call.event(TUP_INCOMING).await;
    assert_eq!(inc["notify"], 0x18003);
    assert_eq!(inc["description"], "CALL_E_EVT_CALL_INCOMMING");
    assert_eq!(inc["param"]["call_type"], 0, "{inc}");
    assert_eq!(inc["param"]["tel_num"], "1002");
    assert_eq!(inc["param"]["is_in"], 1);
    let id = inc["param"]["call_id"].as_u64().expect("call_id");
    ok(&call
        .send(
            0x10005,
            "tup_call_accept_call",
            json!({"call_id": id, "is_video": 0}),
        )
        .await);
    let up = call.event(TUP_CONNECTED).await;
    assert_eq!(up["param"]["call_id"], id);
    assert!(bob.wait_event(T, "CALL_ESTABLISHED"), "{:?}", bob.events());
    bob.hangup();
    let end = call.event(TUP_ENDED).await;
    assert_eq!(end["param"]["call_id"], id);
    // No standard-only event leaked to the TUP page in OpenEye numbers.
    let rest = call.unasked(Duration::from_millis(300)).await;
    for f in &rest {
        if let Some(n) = f["notify"].as_u64() {
            assert!(n >= 0x18000, "an event the TUP SDK cannot route: {f}");
        }
    }
}

// ---- CloudEC (CloudEC-SDK.js) ----

const EC_MASK: u32 = 0xffff;
const EC_LOGIN_SUCCESS: u32 = 1004;
const EC_ACCOUNT: u32 = 1009;
const EC_INCOMING: u32 = 2002;
const EC_OUTGOING: u32 = 2003;
const EC_RINGBACK: u32 = 2004;
const EC_CONNECTED: u32 = 2006;
const EC_ENDED: u32 = 2007;

/// The daemon socket and the one login+call socket, logged in as `user`
/// the way `CloudEC-SDK.js` does it: set config, login with the server.
async fn cloudec_logged_in(host: &Seatphone, kam: &Kamailio, user: &str) -> SdkPage {
    let daemon = Page::connect(
        &format!("ws://127.0.0.1:{}/", host.daemon_port),
        Some("tsdk_ws_ec_service_deamon_protocol"),
        None,
    )
    .await
    .expect("the CloudEC daemon socket");
    assert_eq!(
        daemon.protocol.as_deref(),
        Some("tsdk_ws_ec_service_deamon_protocol")
    );
    let mut ec = SdkPage::connect(&host.url("/"), "tsdk_ws_ec_service_protocol", EC_MASK).await;
    let config = json!({"serviceSecurityParam": {"sipTransportMode": 0, "mediaSrtpMode": 0}});
    let r = ec.send(65537, "tsdk_set_config_param", config).await;
    ok(&r);
    assert_eq!(r["rsp"], 65537);
    let login = json!({"loginParam": {"userName": user, "password": format!("pass{user}"),
        "serverAddr": "127.0.0.1", "serverPort": kam.port}});
    let r = ec.send(66537, "tsdk_login", login).await;
    ok(&r);
    assert_eq!(r["rsp"], 66537);
    ec.event(EC_LOGIN_SUCCESS).await;
    ec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudec_page_logs_in_calls_baresip_holds_mutes_and_hangs_up() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Manual).expect("baresip");
    let host = host().await;
    let mut ec = cloudec_logged_in(&host, &kam, "1001").await;
    let account = loop {
        let e = ec.event(EC_ACCOUNT).await;
        if e["param"]["register_state"] == 3 {
            break e;
        }
    };
    assert_eq!(
        account["param"]["voipAccountInfo"]["number"], "1001",
        "{account}"
    );
    assert_eq!(kam.contacts("1001").len(), 1, "{}", kam.ul_dump());

    // hangup() with no call sends callId "": answered, not an argument error.
    let r = ec.send(67539, "tsdk_end_call", json!({"callId": ""})).await;
    assert_ne!(r["result"], 2, "{r}");

    let r = ec
        .send(
            67537,
            "tsdk_start_call",
            json!({"calleeNumber": "1002", "isVideo": false}),
        )
        .await;
    ok(&r);
    let id = r["param"]["callId"].as_u64().expect("param.callId");
    let out = ec.event(EC_OUTGOING).await;
    assert_eq!(out["param"]["callId"], id);
    assert!(bob.wait_event(T, "CALL_INCOMING"), "{:?}", bob.events());
    ec.event(EC_RINGBACK).await;
    bob.accept();
    let up = ec.event(EC_CONNECTED).await;
    assert_eq!(up["param"]["callId"], id);

    // The key reaches the call's media (in-band: CloudEC's config has no
    // dtmf_mode, and baresip reports RFC 4733 keys only; the TUP test
    // checks that keys arrive); another call id is refused as unknown.
    ok(&ec
        .send(67540, "tsdk_send_dtmf", json!({"callId": id, "tone": 5}))
        .await);
    let r = ec
        .send(
            67540,
            "tsdk_send_dtmf",
            json!({"callId": id + 100, "tone": 5}),
        )
        .await;
    assert_eq!(r["result"], 5, "{r}");
    ok(&ec
        .send(
            67547,
            "tsdk_mute_mic",
            json!({"callId": id, "isMute": true}),
        )
        .await);
    ok(&ec
        .send(0x107f5, "tsdk_set_mic_volume", json!({"volume": 60}))
        .await);
    let r = ec.send(0x107f6, "tsdk_get_mic_volume", json!({})).await;
    ok(&r);
    assert_eq!(r["param"]["volume"], 60, "{r}");

    ok(&ec
        .send(0x107eb, "tsdk_hold_call", json!({"callId": id}))
        .await);
    ec.event(2018).await;
    ok(&ec
        .send(0x107ec, "tsdk_unhold_call", json!({"callId": id}))
        .await);
    ec.event(2020).await;

    // A conference command: not supported, said so.
    let r = ec
        .send(0x10bb9, "tsdk_book_conference", json!({"bookConfInfo": {}}))
        .await;
    assert_eq!(r["result"], 1, "{r}");
    assert!(
        r["errMsg"]
            .as_str()
            .unwrap()
            .contains("not supported by this softphone"),
        "{r}"
    );

    ok(&ec.send(67539, "tsdk_end_call", json!({"callId": id})).await);
    let end = ec.event(EC_ENDED).await;
    assert_eq!(end["param"]["callId"], id);
    assert!(bob.wait_event(T, "CALL_CLOSED"), "BYE reached baresip");

    ok(&ec.send(66538, "tsdk_logout", json!({})).await);
    assert!(wait_until(Duration::from_secs(3), || kam
        .contacts("1001")
        .is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudec_page_answers_a_call_from_baresip() {
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let bob = Baresip::start("1002", &kam, AnswerMode::Manual).expect("baresip");
    let host = host().await;
    let mut ec = cloudec_logged_in(&host, &kam, "1001").await;
    bob.dial("sip:1001@127.0.0.1");
    let inc = ec.event(EC_INCOMING).await;
    assert_eq!(inc["param"]["callInfo"]["peerNumber"], "1002");
    let id = inc["param"]["callId"].as_u64().expect("callId");
    ok(&ec
        .send(
            67538,
            "tsdk_accept_call",
            json!({"callId": id, "isVideo": false}),
        )
        .await);
    ec.event(EC_CONNECTED).await;
    assert!(bob.wait_event(T, "CALL_ESTABLISHED"), "{:?}", bob.events());
    bob.hangup();
    let end = ec.event(EC_ENDED).await;
    assert_eq!(end["param"]["callId"], id);
}

// ---- Handshakes ----

#[tokio::test]
async fn a_refused_sub_protocol_is_logged_once_with_what_is_accepted() {
    let host = host().await;
    for _ in 0..3 {
        assert!(
            Page::connect(&host.url("/"), Some("tsdk_no_such_protocol"), None)
                .await
                .is_err()
        );
    }
    // OpenEye pages are unaffected, on the same host.
    let page = Page::connect(&host.url("/"), Some(CALL), None)
        .await
        .unwrap();
    assert_eq!(page.protocol.as_deref(), Some(CALL));
    let log = host.stderr();
    let warned: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("tsdk_no_such_protocol"))
        .collect();
    assert_eq!(warned.len(), 1, "{log}");
    assert!(
        warned[0].contains("tsdk_ws_ec_service_protocol"),
        "{}",
        warned[0]
    );
    assert!(
        warned[0].contains("tup_call_service_protocol"),
        "{}",
        warned[0]
    );
}
