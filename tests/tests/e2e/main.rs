//! The end-to-end tests: the `seatphone` binary and its plugins against
//! real peers (Kamailio, baresip, SIPp), a module per subject, all in one
//! test binary so that the harness, tokio, serde and tungstenite are
//! compiled and linked once rather than once per file.
//!
//! `scripts/test.sh` runs each module in a `cargo test` of its own: the
//! modules that only exchange signalling three at a time, the real-time
//! ones (audio and video judged by their timing) alone, one after the
//! other. A new module goes in one of its two lists (it stops the run
//! otherwise). One module or test by hand:
//!
//! ```text
//! cargo test --release --workspace --test e2e -- sip_sipp::
//! ```

mod api;
mod audio_calls;
mod capture;
mod dialects;
mod doctor;
mod faults;
mod faults_in_call;
mod free_port;
mod hold_verdict;
mod hostile_sip;
mod launch_link;
mod reference_keys;
mod secrets;
mod share;
mod sip_admission;
mod sip_answer_modes;
mod sip_calls;
mod sip_e2e;
mod sip_pool;
mod sip_register;
mod sip_sipp;
mod video_calls;
mod video_upgrade;
mod voice;

/// Real-time calls (audio and video judged by their timing) run one at a
/// time, whichever module they are in: each is real-time work for several
/// processes, and two cores shared by two of them would measure the
/// machine. (A run of the whole binary still runs signalling tests beside
/// them; scripts/test.sh does not, and runs one sound and one video module
/// at once, in processes of their own, the video one at a lower priority.)
static REAL_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
