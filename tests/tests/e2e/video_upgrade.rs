//! Audio ⇄ video in a call that is up (re-INVITE), with the real host and
//! its video plugin (the test pattern as camera): started by the page
//! against baresip through Kamailio (addVideo, hold with both streams,
//! delVideo, addVideo again), refused by a phone without video, and asked
//! by the peer (a SIPp re-INVITE) with the page accepting or refusing.

use std::time::Duration;

use crate::REAL_TIME;
use seatphone_tests::host::{event_of, events_of, Command, Event, Options, Page, Seatphone};
use seatphone_tests::peers::baresip::{AnswerMode, Baresip, BaresipOptions};
use seatphone_tests::peers::kamailio::{Kamailio, KamailioConfig};
use seatphone_tests::peers::sipp::Sipp;
use seatphone_tests::video::peer_sees_our_pattern;
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(10);

fn host_options() -> Options {
    Options {
        extra_toml: "[video]\ncamera = \"test\"\nwidth = 320\nheight = 240\nfps = 15\n\
                     bitrate = 300\ncodecs = [\"VP8\"]\n"
            .into(),
        ..Options::default()
    }
}

/// The page places an audio call to `callee`; returns its id once connected
/// (isVideoCall 0).
async fn audio_call(page: &mut Page, callee: &str) -> Value {
    let start = json!({"calleeNumber": callee, "isVideo": false});
    let r = page.ok(Command::StartCall, start).await;
    let connected = page.event(Event::CallConnected, T).await;
    assert_eq!(
        connected["param"]["callInfo"]["isVideoCall"], 0,
        "{connected}"
    );
    r["param"]["callId"].clone()
}

/// The m-lines of the last re-INVITE (an INVITE carrying a To tag) we sent.
fn our_last_reinvite(host: &Seatphone) -> Vec<String> {
    let invite = host
        .sip_messages(true)
        .into_iter()
        .rev()
        .find(|m| {
            m.starts_with("INVITE ")
                && m.lines()
                    .any(|l| l.to_ascii_lowercase().starts_with("to:") && l.contains("tag="))
        })
        .unwrap_or_default();
    invite
        .lines()
        .filter(|l| {
            l.starts_with("m=") || l.starts_with("a=sendonly") || l.starts_with("a=sendrecv")
        })
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// The call events about video, and the call's end.
const VIDEO_EVENTS: [Event; 4] = [
    Event::OpenVideoReq,
    Event::CloseVideoInd,
    Event::OpenVideoInd,
    Event::CallEnded,
];

/// Call events of `id` that are about video or its end, in order, up to
/// the first `until` (other frames are dropped).
async fn video_events_until(page: &mut Page, until: Event) -> Vec<Event> {
    let frames = page.frames_until(until, T).await;
    events_of(&frames)
        .into_iter()
        .filter(|e| VIDEO_EVENTS.contains(e))
        .collect()
}

/// The kind and port of each m-line, and how many sections are held.
fn shape(lines: &[String]) -> (Vec<String>, usize) {
    let m = lines
        .iter()
        .filter(|l| l.starts_with("m="))
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .map(|l| {
            if l.ends_with(" 0") {
                l
            } else {
                format!("{} port", l.split(' ').next().unwrap_or(""))
            }
        })
        .collect();
    let held = lines.iter().filter(|l| l.starts_with("a=sendonly")).count();
    (m, held)
}

/// addVideo in an audio call with baresip: the response, then OpenVideoInd, and
/// baresip decodes our test pattern; holdCall holds both streams and
/// unholdCall brings the pictures back; delVideo: CloseVideoInd, the video
/// section at port 0 in its place; addVideo again takes that place back.
#[tokio::test(flavor = "multi_thread")]
async fn audio_call_upgraded_to_video_and_back_by_the_page_against_baresip() {
    let _serial = REAL_TIME.lock().await;
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let options = BaresipOptions::answering(AnswerMode::Auto).video("VP8");
    let peer = Baresip::start_with("1002", kam.port, &options).expect("baresip");
    let host = Seatphone::start(host_options()).await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let id = audio_call(&mut page, "1002").await;
    let call = json!({"callId": id});
    let with_video = vec!["m=audio port".to_owned(), "m=video port".to_owned()];

    page.ok(Command::AddVideo, call.clone()).await;
    assert_eq!(
        video_events_until(&mut page, Event::OpenVideoInd).await,
        [Event::OpenVideoInd]
    );
    assert_eq!(shape(&our_last_reinvite(&host)), (with_video.clone(), 0));
    let first = peer_sees_our_pattern(&peer);
    assert!(
        first.is_some(),
        "baresip shows our pattern after addVideo\nbaresip:\n{}\nseatphone:\n{}",
        peer.log(),
        host.all_logs()
    );
    let r = page.request(Command::AddVideo, call.clone()).await;
    assert_eq!(r["result"], 3, "video is there already: {r}");

    // Hold: both streams sendonly in one re-INVITE; unhold: the pictures
    // go on.
    page.ok(Command::HoldCall, call.clone()).await;
    page.event(Event::HoldSuccess, T).await;
    assert_eq!(shape(&our_last_reinvite(&host)), (with_video.clone(), 2));
    page.ok(Command::UnholdCall, call.clone()).await;
    page.event(Event::UnholdSuccess, T).await;
    assert_eq!(shape(&our_last_reinvite(&host)), (with_video.clone(), 0));
    let later = peer_sees_our_pattern(&peer).expect("pictures after unhold");
    assert!(
        later > first.unwrap(),
        "our counter moves: {first:?} then {later}"
    );

    // delVideo: CloseVideoInd, and the video section stays as m=video 0.
    page.ok(Command::DelVideo, call.clone()).await;
    assert_eq!(
        video_events_until(&mut page, Event::CloseVideoInd).await,
        [Event::CloseVideoInd]
    );
    let (m, _) = shape(&our_last_reinvite(&host));
    assert_eq!(m, ["m=audio port", "m=video 0"]);
    let r = page.request(Command::DelVideo, call.clone()).await;
    assert_eq!(r["result"], 3, "no video left to remove: {r}");

    // Added again: in the same place, and baresip sees us again.
    page.ok(Command::AddVideo, call.clone()).await;
    assert_eq!(
        video_events_until(&mut page, Event::OpenVideoInd).await,
        [Event::OpenVideoInd]
    );
    assert_eq!(shape(&our_last_reinvite(&host)), (with_video, 0));
    assert!(peer_sees_our_pattern(&peer).is_some(), "video again");

    let ended = Seatphone::hang_up(&mut page, &id).await;
    assert_eq!(ended["param"]["callInfo"]["isVideoCall"], 1, "{ended}");
}

/// addVideo to a phone without video: the peer's answer refuses it, the
/// page hears why (result 7, errMsg), no OpenVideoInd comes, and the call
/// goes on.
#[tokio::test(flavor = "multi_thread")]
async fn video_upgrade_refused_by_a_phone_without_video_keeps_the_audio_call() {
    let _serial = REAL_TIME.lock().await;
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let peer = Baresip::start("1002", &kam, AnswerMode::Auto).expect("baresip");
    let host = Seatphone::start(host_options()).await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let id = audio_call(&mut page, "1002").await;
    let call = json!({"callId": id});

    let r = page.request(Command::AddVideo, call.clone()).await;
    assert_eq!(r["result"], 7, "refused: {r}");
    let why = r["errMsg"].as_str().unwrap_or_default();
    assert!(why.contains("audio-only"), "{r}");
    // The call goes on: a hold works, and no video event came before its
    // HoldSuccess.
    page.ok(Command::HoldCall, call.clone()).await;
    let seen = video_events_until(&mut page, Event::HoldSuccess).await;
    assert!(seen.is_empty(), "no video event: {seen:?}");
    assert!(
        !host.all_logs().contains("kbit/s over"),
        "no video stream started:\n{}",
        host.all_logs()
    );
    drop(peer);
}

/// SIPp (through Kamailio) answers our audio call, then sends a
/// re-INVITE adding video and, once answered, one removing it, and hangs
/// up. `accept`: the page's replyAddVideo. SIPp checks our answers
/// (a video port, or `m=video 0`).
async fn peer_adds_video(accept: bool) -> (Vec<Event>, Seatphone) {
    let _serial = REAL_TIME.lock().await;
    let kam = Kamailio::start(KamailioConfig::default()).expect("kamailio");
    let scenario = if accept {
        "uas_peer_adds_video.xml"
    } else {
        "uas_peer_adds_video_refused.xml"
    };
    // SIPp echoes the RTP it gets (video on its media port + 2).
    let mut sipp = Sipp::uas_with(scenario, &["-rtp_echo"]).expect("sipp");
    let host = Seatphone::start(host_options()).await;
    let mut page = host.registered_page(kam.port, "1001").await;
    let id = audio_call(&mut page, &format!("2000@{}", sipp.addr())).await;

    let mut seen = Vec::new();
    while let Some(f) = page.next_frame(T).await {
        let event = event_of(&f);
        seen.extend(event.filter(|e| VIDEO_EVENTS.contains(e)));
        if event == Some(Event::OpenVideoReq) {
            assert_eq!(f["param"]["callId"], id, "{f}");
            let reply = json!({"callId": id, "accept": accept});
            page.ok(Command::ReplyAddVideo, reply.clone()).await;
            let r = page.request(Command::ReplyAddVideo, reply).await;
            assert_eq!(r["result"], 3, "answered already: {r}");
        }
        if event == Some(Event::CallEnded) {
            break;
        }
    }
    let passed = sipp.finished(Duration::from_secs(20)).await;
    assert_eq!(passed, Some(true), "SIPp scenario failed:\n{}", sipp.logs());
    (seen, host)
}

/// The peer adds video and the page accepts: OpenVideoReq, OpenVideoInd
/// (our answer has a video port and our video runs), then CloseVideoInd
/// when the peer removes it.
#[tokio::test(flavor = "multi_thread")]
async fn peer_adds_video_the_page_accepts_then_the_peer_removes_it() {
    let (seen, host) = peer_adds_video(true).await;
    assert_eq!(
        seen,
        [
            Event::OpenVideoReq,
            Event::OpenVideoInd,
            Event::CloseVideoInd,
            Event::CallEnded
        ]
    );
    let logs = host.all_logs();
    assert!(logs.contains("kbit/s over RTP"), "video started:\n{logs}");
}

/// The peer adds video and the page refuses: OpenVideoReq and nothing more until
/// the call ends; our answer is `m=video 0` (SIPp checks it).
#[tokio::test(flavor = "multi_thread")]
async fn peer_adds_video_the_page_refuses() {
    let (seen, host) = peer_adds_video(false).await;
    assert_eq!(seen, [Event::OpenVideoReq, Event::CallEnded]);
    let logs = host.all_logs();
    assert!(!logs.contains("kbit/s over"), "no video stream:\n{logs}");
}
