//! Topic names on the media bus, per call. A subscription to `prefix/*`
//! receives every call's frames of that kind; [`call_id`] reads the call
//! back from a topic.
//!
//! | topic | published by | frames |
//! |---|---|---|
//! | `remote-video/<callId>` | video | the peer's pictures, decoded: `FRAME_I420` (BT.601, limited range) |
//! | `remote-video-encoded/<callId>` | video | the peer's pictures as received: `FRAME_H264` or `FRAME_VP8`, with `FRAME_KEYFRAME` or'ed in for keyframes |
//! | `local-video/<callId>` | video | the call's camera, as the call's video sends it when nothing is shared: `FRAME_I420`; its presence tells that the call carries video |
//! | `local-video-encoded/<callId>` | video | what the call sends, as encoded (camera or shared screen): `FRAME_H264` or `FRAME_VP8`, with `FRAME_KEYFRAME` for keyframes |
//! | `share/<callId>` | share | a shared screen, to send in place of the camera: `FRAME_I420` when it changed (at most 15 a second); an empty frame (0×0) ends the share and the camera comes back |
//! | `keyframe-request/<callId>` | anyone (capture, host) | an empty frame: the video plugin asks the peer for a keyframe (PLI) |
//! | `remote-audio/<callId>` | audio | what the peer says, decoded as played (before the speaker's volume): `FRAME_PCM16`, 20 ms frames at 48 kHz mono, stamped when it arrived (see below) |
//! | `local-audio/<callId>` | audio | what is sent to the peer (after mute, volume, voice processing, in-band keys): the same; nothing while the call does not send |
//! | `local-keyframe-request/<callId>` | anyone (host) | an empty frame: the video plugin sends a keyframe on `local-video-encoded` (and to the peer) |
//!
//! Times (`pts_us`) are the host's media clock (`Host::clock_us`) when the
//! frame is published, for pictures and sound alike, except the peer's
//! sound: it is published when played, after the jitter buffer held it,
//! and stamped with when it arrived (its first sample's place, by the
//! arrival of the packet that brought it), as the peer's pictures are,
//! so the two line up.
//!
//! A publisher never waits for its subscribers, and while nobody
//! subscribes to a topic it pays only a look at the subscription list (no
//! copy): publishing every frame is fine. Each subscription has its
//! own thread in the host and a queue of a few frames (8): the sink gets
//! the frames one at a time, in order, each borrowed for the call (copy what
//! you keep). A sink slower than its publisher loses frames; after losing
//! an encoded frame it gets nothing of that topic before the next keyframe,
//! so what it receives always decodes (ask for one on `keyframe-request`).
//! A frame already handed over may still arrive just after unsubscribing.

pub const REMOTE_VIDEO: &str = "remote-video";
pub const REMOTE_VIDEO_ENCODED: &str = "remote-video-encoded";
pub const KEYFRAME_REQUEST: &str = "keyframe-request";
pub const LOCAL_VIDEO: &str = "local-video";
pub const LOCAL_VIDEO_ENCODED: &str = "local-video-encoded";
pub const LOCAL_KEYFRAME_REQUEST: &str = "local-keyframe-request";
pub const SHARE: &str = "share";
pub const REMOTE_AUDIO: &str = "remote-audio";
pub const LOCAL_AUDIO: &str = "local-audio";

/// `kind/<callId>`.
pub fn for_call(kind: &str, call_id: u32) -> String {
    format!("{kind}/{call_id}")
}

/// `kind/*`: every call's.
pub fn every_call(kind: &str) -> String {
    format!("{kind}/*")
}

/// The call a topic is about.
pub fn call_id(topic: &str) -> Option<u32> {
    topic.rsplit_once('/')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_name_their_call() {
        assert_eq!(for_call(REMOTE_VIDEO, 7), "remote-video/7");
        assert_eq!(every_call(KEYFRAME_REQUEST), "keyframe-request/*");
        assert_eq!(call_id("remote-video-encoded/12"), Some(12));
        assert_eq!(call_id("remote-video/x"), None);
        assert_eq!(call_id("local-video"), None);
    }
}
