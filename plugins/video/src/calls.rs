//! The video of each call: its sockets from offer or answer until the call
//! starts, then its session; the window shown while any call has video.

use std::collections::HashMap;
use std::net::{IpAddr, UdpSocket};
use std::sync::{Arc, Mutex};

use seatphone_media::payload::{Frame, VideoCodec};
use seatphone_media::sdp::MediaSection;
use seatphone_plugin_api::abi_stable::std_types::RSlice;
use seatphone_plugin_api::{
    topics, Host, MediaFrame, FRAME_H264, FRAME_I420, FRAME_KEYFRAME, FRAME_VP8,
};
use seatphone_video_core::camera::CameraSetting;
use seatphone_video_core::codec::Encoded;
use seatphone_video_core::config::VideoConfig;
use seatphone_video_core::negotiate::{self, Negotiated, Preferences};
use seatphone_video_core::picture::Picture;
use seatphone_video_core::session::{bind_pair, Session, Setup, Sink};
use seatphone_video_core::window::controller::VideoWindow;

/// One call's video.
struct Call {
    port: u16,
    /// Bound at offer or answer, taken by the session at start.
    sockets: Option<(UdpSocket, Option<UdpSocket>)>,
    session: Option<Session>,
}

/// Pictures to the window and the frame bus, lines to the host's log.
/// Their times on the bus are the host's media clock (`Host::clock_us`),
/// the one the call's sound is stamped on too, so a recording lines them up.
struct CallSink {
    host: Host,
    call_id: u32,
    window: Arc<Mutex<Option<Arc<VideoWindow>>>>,
    codec: VideoCodec,
    /// The bus's topics for this call.
    decoded_topic: String,
    encoded_topic: String,
    local_topic: String,
    local_encoded_topic: String,
}

impl CallSink {
    fn window(&self) -> Option<Arc<VideoWindow>> {
        self.window.lock().ok().and_then(|w| w.clone())
    }

    fn publish_encoded(&self, topic: &str, data: &[u8], keyframe: bool) {
        let format = match self.codec {
            VideoCodec::H264 => FRAME_H264,
            VideoCodec::Vp8 => FRAME_VP8,
        };
        let key = if keyframe { FRAME_KEYFRAME } else { 0 };
        self.host.publish(
            topic,
            MediaFrame {
                format: format | key,
                width: 0,
                height: 0,
                pts_us: self.host.clock_us(),
                data: RSlice::from_slice(data),
            },
        );
    }
}

impl Sink for CallSink {
    fn remote(&mut self, picture: &Picture, _timestamp: u32) {
        if let Some(w) = self.window() {
            w.remote(picture.clone());
        }
        self.host.publish(
            &self.decoded_topic,
            MediaFrame {
                format: FRAME_I420,
                width: picture.width,
                height: picture.height,
                pts_us: self.host.clock_us(),
                data: RSlice::from_slice(&picture.i420),
            },
        );
    }

    fn remote_encoded(&mut self, frame: &Frame) {
        self.publish_encoded(&self.encoded_topic, &frame.data, frame.keyframe);
    }

    fn local_encoded(&mut self, unit: &Encoded) {
        self.publish_encoded(&self.local_encoded_topic, &unit.data, unit.keyframe);
    }

    fn local(&mut self, picture: &Picture) {
        if let Some(w) = self.window() {
            w.local(picture.clone());
        }
        self.host.publish(
            &self.local_topic,
            MediaFrame {
                format: FRAME_I420,
                width: picture.width,
                height: picture.height,
                pts_us: self.host.clock_us(),
                data: RSlice::from_slice(&picture.i420),
            },
        );
    }

    fn log(&mut self, message: &str) {
        self.host
            .info(&format!("video, call {}: {message}", self.call_id));
    }
}

/// `local_ip`, the host's address for a section, as an address.
pub(crate) fn local_addr(local_ip: &str) -> Result<IpAddr, String> {
    local_ip
        .parse()
        .map_err(|_| format!("local address {local_ip:?} is not an IP address"))
}

/// What a video section's session (camera or slides) starts with: the
/// negotiated stream on its sockets, sending `camera` as the config says.
pub(crate) fn setup(
    config: &VideoConfig,
    n: &Negotiated,
    (rtp, rtcp): (UdpSocket, Option<UdpSocket>),
    camera: CameraSetting,
) -> Setup {
    Setup {
        codec: n.codec,
        params: n.stream.clone(),
        rtp,
        rtcp,
        camera,
        size: config.size,
        fps: config.fps,
        bitrate: config.bitrate,
        keyframe_every: config.keyframe_interval,
        openh264: config.openh264_library.clone(),
        peer_max_bps: n.max_send_bps,
    }
}

pub struct Calls {
    host: Host,
    calls: Mutex<HashMap<u32, Call>>,
    /// The window, made by the first command or call that needs it.
    pub window: Arc<Mutex<Option<Arc<VideoWindow>>>>,
    /// `closeCamera(-1)`: the next calls start with the camera off.
    pub camera_off_next: Mutex<bool>,
}

fn section_text(sections: &str) -> Result<MediaSection, String> {
    MediaSection::parse(sections)
}

impl Calls {
    pub fn new(host: Host) -> Calls {
        Calls {
            host,
            calls: Mutex::new(HashMap::new()),
            window: Arc::new(Mutex::new(None)),
            camera_off_next: Mutex::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Call>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The RTP/RTCP sockets of a video section (camera or slides) on
    /// `local_ip`, and the RTP port to offer.
    pub(crate) fn bind(local_ip: &str) -> Result<(u16, (UdpSocket, Option<UdpSocket>)), String> {
        let pair = bind_pair(local_addr(local_ip)?, true)?;
        let port = pair.0.local_addr().map_err(|e| e.to_string())?.port();
        Ok((port, pair))
    }

    pub fn offer(
        &self,
        prefs: &Preferences,
        call_id: u32,
        local_ip: &str,
    ) -> Result<String, String> {
        let ip = local_addr(local_ip)?;
        let mut calls = self.lock();
        let port = match calls.get(&call_id) {
            Some(c) => c.port,
            None => {
                let (port, sockets) = Calls::bind(local_ip)?;
                calls.insert(
                    call_id,
                    Call {
                        port,
                        sockets: Some(sockets),
                        session: None,
                    },
                );
                port
            }
        };
        Ok(negotiate::offer(prefs, ip, port).to_sdp())
    }

    pub fn answer(
        &self,
        prefs: &Preferences,
        call_id: u32,
        local_ip: &str,
        remote: &str,
    ) -> Result<String, String> {
        let ip = local_addr(local_ip)?;
        let remote = section_text(remote)?;
        let mut calls = self.lock();
        let (port, new) = match calls.get(&call_id) {
            Some(c) => (c.port, None),
            None => {
                let (port, sockets) = Calls::bind(local_ip)?;
                (port, Some(sockets))
            }
        };
        let answer = negotiate::answer(prefs, &remote, ip, port)?;
        if let Some(sockets) = new {
            calls.insert(
                call_id,
                Call {
                    port,
                    sockets: Some(sockets),
                    session: None,
                },
            );
        }
        Ok(answer.to_sdp())
    }

    pub fn start(
        &self,
        config: &VideoConfig,
        prefs: &Preferences,
        call_id: u32,
        local: &str,
        remote: &str,
    ) -> Result<(), String> {
        let (l, r) = (section_text(local)?, section_text(remote)?);
        let n = negotiate::negotiated(prefs, &l, &r, remote)?;
        let mut calls = self.lock();
        let call = calls
            .get_mut(&call_id)
            .ok_or_else(|| format!("no video section was made for call {call_id}"))?;
        if let Some(s) = &call.session {
            s.update(n.stream);
            return Ok(());
        }
        let secure = if n.stream.srtp.is_some() {
            "SRTP"
        } else {
            "RTP"
        };
        let (rtp, rtcp) = call
            .sockets
            .take()
            .ok_or("the call's video sockets are gone")?;
        let camera_off = *self
            .camera_off_next
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let session = Session::start(
            setup(config, &n, (rtp, rtcp), config.camera.clone()),
            Box::new(CallSink {
                host: self.host.clone(),
                call_id,
                window: self.window.clone(),
                codec: n.codec,
                decoded_topic: topics::for_call(topics::REMOTE_VIDEO, call_id),
                encoded_topic: topics::for_call(topics::REMOTE_VIDEO_ENCODED, call_id),
                local_topic: topics::for_call(topics::LOCAL_VIDEO, call_id),
                local_encoded_topic: topics::for_call(topics::LOCAL_VIDEO_ENCODED, call_id),
            }),
        )?;
        if camera_off {
            session.set_camera(false);
        }
        self.host.info(&format!(
            "video, call {call_id}: {} {}x{} at {} fps, {} kbit/s over {secure}",
            n.codec.name(),
            config.size.0,
            config.size.1,
            config.fps,
            config.bitrate / 1000,
        ));
        call.session = Some(session);
        drop(calls);
        if let Some(w) = self.window.lock().ok().and_then(|w| w.clone()) {
            w.call_up(true);
        }
        Ok(())
    }

    pub fn stop(&self, call_id: u32) {
        let (call, any_left) = {
            let mut calls = self.lock();
            let call = calls.remove(&call_id);
            (call, calls.values().any(|c| c.session.is_some()))
        };
        if let Some(Call {
            session: Some(s), ..
        }) = call
        {
            // media_stop must not wait for the call's thread (README,
            // "Writing a plugin"): it is woken and joined elsewhere.
            let host = self.host.clone();
            let _ = std::thread::Builder::new()
                .name("video-stop".into())
                .spawn(move || {
                    let stats = s.stop();
                    host.info(&format!("video, call {call_id}: ended ({stats:?})"));
                });
        }
        if !any_left {
            if let Some(w) = self.window.lock().ok().and_then(|w| w.clone()) {
                w.call_up(false);
            }
        }
    }

    /// A shared screen's picture for a call (`None`: the share ended);
    /// false when the call carries no video.
    pub fn share(&self, call_id: u32, picture: Option<Picture>) -> bool {
        match self.lock().get(&call_id).and_then(|c| c.session.as_ref()) {
            Some(s) => {
                s.share(picture);
                true
            }
            None => false,
        }
    }

    /// Whether the call's video runs (a session started).
    pub fn carries_video(&self, call_id: u32) -> bool {
        self.lock()
            .get(&call_id)
            .is_some_and(|c| c.session.is_some())
    }

    /// Camera on or off in a running call.
    pub fn camera(&self, call_id: u32, on: bool) -> bool {
        match self.lock().get(&call_id).and_then(|c| c.session.as_ref()) {
            Some(s) => {
                s.set_camera(on);
                true
            }
            None => false,
        }
    }

    /// Ask a call's peer for a keyframe (a recording is starting).
    pub fn ask_keyframe(&self, call_id: u32) {
        if let Some(s) = self.lock().get(&call_id).and_then(|c| c.session.as_ref()) {
            s.ask_keyframe();
        }
    }

    /// Send a keyframe in a call now (a page starts showing what we send).
    pub fn send_keyframe(&self, call_id: u32) {
        if let Some(s) = self.lock().get(&call_id).and_then(|c| c.session.as_ref()) {
            s.keyframe();
        }
    }

    /// Whether any call carries video now.
    pub fn any_up(&self) -> bool {
        self.lock().values().any(|c| c.session.is_some())
    }

    pub fn stop_all(&self) {
        let ids: Vec<u32> = self.lock().keys().copied().collect();
        for id in ids {
            self.stop(id);
        }
    }
}
