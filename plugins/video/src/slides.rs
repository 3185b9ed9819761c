//! The shared screen as a second video stream (`a=content:slides`, RFC
//! 4796), beside the camera. When a share starts in a call, this plugin
//! asks the host for a `slides` stream (`Signal::Stream`); until the peer
//! has taken it, and for good when the peer turns it down (baresip 1.0
//! takes one video stream only), the share goes in place of the camera.
//! When the share ends, the stream is removed again.

use std::collections::HashMap;
use std::net::UdpSocket;
use std::sync::Mutex;

use seatphone_media::sdp::{Direction, MediaSection};
use seatphone_plugin_api::{Host, Signal};
use seatphone_video_core::camera::CameraSetting;
use seatphone_video_core::config::VideoConfig;
use seatphone_video_core::negotiate::{self, Preferences};
use seatphone_video_core::picture::Picture;
use seatphone_video_core::session::{Session, Sink};

/// The media kind of the slides (the host's `sdp::SLIDES`).
pub const KIND: &str = "slides";

/// One call's slides stream, from our request to its end.
#[derive(Default)]
struct Stream {
    /// Bound for the offer; the same port in every later offer or answer.
    port: Option<u16>,
    sockets: Option<(UdpSocket, Option<UdpSocket>)>,
    session: Option<Session>,
    /// The host could not get the stream (or it ended while the share
    /// goes on): the share stays in place of the camera, not asked again.
    refused: bool,
}

/// Where the share's pictures go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// In place of the camera (the peer has no slides stream, yet or at all).
    Camera,
    /// Sent on the slides stream.
    Slides,
}

/// The slides of every call, and the share's latest picture for a stream
/// that starts.
pub struct Slides {
    host: Host,
    streams: Mutex<HashMap<u32, Stream>>,
    latest: Mutex<HashMap<u32, Picture>>,
    /// Held while a picture is routed and given to its stream, and while
    /// a stream change moves the share between the camera's stream and the
    /// slides': a picture routed to the camera just before the slides
    /// started must not reach the camera after it was given the camera
    /// back.
    route: Mutex<()>,
}

/// The slides session's news go to the log only: its pictures are the
/// share plugin's, shown nowhere else.
struct SlidesSink {
    host: Host,
    call_id: u32,
}

impl Sink for SlidesSink {
    fn remote(&mut self, _picture: &Picture, _timestamp: u32) {}
    fn local(&mut self, _picture: &Picture) {}
    fn log(&mut self, message: &str) {
        self.host
            .info(&format!("video, call {}, slides: {message}", self.call_id));
    }
}

/// Marks a section as the slides: screen content that we only send.
fn as_slides(mut s: MediaSection) -> String {
    s.other.push("content:slides".into());
    s.direction = match s.direction {
        Direction::SendRecv | Direction::SendOnly => Direction::SendOnly,
        _ => Direction::Inactive,
    };
    s.to_sdp()
}

impl Slides {
    pub fn new(host: Host) -> Slides {
        Slides {
            host,
            streams: Mutex::new(HashMap::new()),
            latest: Mutex::new(HashMap::new()),
            route: Mutex::new(()),
        }
    }

    /// See `route`: hold it across routing a picture and handing it on.
    pub fn routing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.route.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn streams(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Stream>> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn latest(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Picture>> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ask(&self, call_id: u32, on: bool) {
        self.host.signal(&Signal::Stream {
            call_id,
            kind: KIND.into(),
            on,
        });
    }

    /// A shared picture for a call that carries video (`None`: the share
    /// ended). The first one asks the host for the slides stream.
    pub fn share(&self, call_id: u32, picture: Option<Picture>) -> Route {
        let Some(picture) = picture else {
            self.latest().remove(&call_id);
            let had = {
                let mut streams = self.streams();
                match streams.get_mut(&call_id) {
                    Some(s) if s.refused && s.session.is_none() => {
                        streams.remove(&call_id);
                        false
                    }
                    // The last picture stays on the slides until they are
                    // taken off.
                    Some(_) => true,
                    None => false,
                }
            };
            if had {
                self.ask(call_id, false);
            }
            return Route::Camera;
        };
        self.latest().insert(call_id, picture.clone());
        let mut streams = self.streams();
        match streams.get(&call_id) {
            Some(Stream {
                session: Some(session),
                ..
            }) => {
                session.share(Some(picture));
                Route::Slides
            }
            Some(_) => Route::Camera,
            None => {
                streams.insert(call_id, Stream::default());
                drop(streams);
                self.host.info(&format!(
                    "video, call {call_id}: a share started: asking for a slides stream"
                ));
                self.ask(call_id, true);
                Route::Camera
            }
        }
    }

    /// Our slides section, offered when we asked for it.
    pub fn offer(
        &self,
        prefs: &Preferences,
        call_id: u32,
        local_ip: &str,
    ) -> Result<String, String> {
        let ip = crate::calls::local_addr(local_ip)?;
        let mut streams = self.streams();
        let stream = streams
            .get_mut(&call_id)
            .ok_or("slides are offered only while a share asks for them")?;
        let port = match stream.port {
            Some(port) => port,
            None => {
                let (port, sockets) = crate::calls::Calls::bind(local_ip)?;
                stream.port = Some(port);
                stream.sockets = Some(sockets);
                port
            }
        };
        Ok(as_slides(negotiate::offer(prefs, ip, port)))
    }

    /// The peer's offer of the slides' place (its re-offer of a stream we
    /// added): the same port again. A peer's own slides are not taken.
    pub fn answer(
        &self,
        prefs: &Preferences,
        call_id: u32,
        local_ip: &str,
        remote: &str,
    ) -> Result<String, String> {
        let ip = crate::calls::local_addr(local_ip)?;
        let port = self
            .streams()
            .get(&call_id)
            .and_then(|s| s.port)
            .ok_or("we take no slides stream of the peer's; ours go out while we share")?;
        let remote = MediaSection::parse(remote)?;
        Ok(as_slides(negotiate::answer(prefs, &remote, ip, port)?))
    }

    /// The peer took the stream (or a re-INVITE updates it): the share's
    /// pictures go on it from now on. `Ok(true)`: it started now.
    pub fn start(
        &self,
        config: &VideoConfig,
        prefs: &Preferences,
        call_id: u32,
        local: &str,
        remote: &str,
    ) -> Result<bool, String> {
        let (l, r) = (MediaSection::parse(local)?, MediaSection::parse(remote)?);
        let n = negotiate::negotiated(prefs, &l, &r, remote)?;
        let mut streams = self.streams();
        let stream = streams
            .get_mut(&call_id)
            .ok_or_else(|| format!("no slides section was made for call {call_id}"))?;
        if let Some(s) = &stream.session {
            s.update(n.stream);
            return Ok(false);
        }
        let Some(latest) = self.latest().get(&call_id).cloned() else {
            // The share ended before the peer took the stream: its removal
            // is on its way, nothing to send meanwhile.
            return Ok(false);
        };
        let (rtp, rtcp) = stream
            .sockets
            .take()
            .ok_or("the slides' sockets are gone")?;
        let session = Session::start(
            // Nothing of the camera: the share's pictures replace black
            // from the first one on.
            crate::calls::setup(config, &n, (rtp, rtcp), CameraSetting::Black),
            Box::new(SlidesSink {
                host: self.host.clone(),
                call_id,
            }),
        )?;
        session.share(Some(latest));
        self.host.info(&format!(
            "video, call {call_id}: slides stream up ({}), the camera goes on beside it",
            n.codec.name()
        ));
        stream.session = Some(session);
        Ok(true)
    }

    /// The stream ended, or was never taken. `true` when a share still
    /// goes on (its pictures go in place of the camera again).
    pub fn stop(&self, call_id: u32) -> bool {
        let sharing = self.latest().contains_key(&call_id);
        let session = {
            let mut streams = self.streams();
            let session = streams.get_mut(&call_id).and_then(|s| s.session.take());
            if sharing {
                let s = streams.entry(call_id).or_default();
                s.refused = true;
                s.sockets = None;
                s.port = None;
            } else {
                streams.remove(&call_id);
            }
            session
        };
        if let Some(s) = session {
            let host = self.host.clone();
            let _ = std::thread::Builder::new()
                .name("slides-stop".into())
                .spawn(move || {
                    let stats = s.stop();
                    host.info(&format!("video, call {call_id}: slides ended ({stats:?})"));
                });
        }
        sharing
    }

    /// The share's latest picture, for the camera stream to take over.
    pub fn latest_picture(&self, call_id: u32) -> Option<Picture> {
        self.latest().get(&call_id).cloned()
    }

    /// The call is over.
    pub fn forget(&self, call_id: u32) {
        self.latest().remove(&call_id);
        self.stop(call_id);
    }

    /// The engine stops.
    pub fn forget_all(&self) {
        let ids: Vec<u32> = self.streams().keys().copied().collect();
        for id in ids {
            self.forget(id);
        }
    }
}
