//! What Seatphone's media plugins share: RTP sessions and their RTCP
//! reports, SRTP with SDES keys, SDP media sections, an adaptive jitter
//! buffer, the codec trait, and for video the RTP payload formats and
//! RTCP feedback.
//!
//! Everything here is sans-IO: functions take bytes and `now` and return
//! bytes and decisions; the plugins own sockets, threads and clocks. Input
//! from the network is never trusted: malformed packets and sections come
//! back as errors, never as panics.

#![forbid(unsafe_code)]

pub mod codec;
pub mod feedback;
pub mod jitter;
pub mod payload;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
pub mod srtp;
