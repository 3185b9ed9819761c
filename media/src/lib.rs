//! What Seatphone's media plugins share: the sans-IO core of a media
//! stream (`stream`: how a plugin drives it is shown there), and what it
//! is made of — RTP sessions and their RTCP reports, SRTP with SDES keys,
//! SDP media sections, an adaptive jitter buffer, a reorder buffer,
//! RFC 4733 DTMF events — the codec trait, and for video the RTP payload
//! formats and RTCP feedback; `netem` is a simulated network for tests on
//! simulated time.
//!
//! Everything here is sans-IO: functions take bytes and `now` and return
//! bytes and decisions; the plugins own sockets, threads and clocks. Input
//! from the network is never trusted: malformed packets and sections come
//! back as errors, never as panics.

#![forbid(unsafe_code)]

pub mod agree;
pub mod codec;
pub mod feedback;
pub mod helper;
pub mod jitter;
pub mod netem;
pub mod payload;
pub mod reorder;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
pub mod srtp;
pub mod stream;
pub mod telephone_event;
