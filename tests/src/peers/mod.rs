//! Real SIP peers on 127.0.0.1 for the SIP tests: Kamailio (registrar +
//! proxy), baresip (a phone) and SIPp (scripted UAC/UAS). Each starts on
//! free ports with a config generated from a template under `tests/peers/`,
//! waits until it answers, and is stopped by its `Drop` even when a test
//! fails.

pub mod baresip;
pub mod kamailio;
pub mod relay;
pub mod sipp;
pub mod tls_relay;
pub mod ua;

use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// The folder of the config templates.
pub fn templates() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers")
}

static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// A port free for both UDP and TCP on 127.0.0.1, with `span` free ports
/// from it (baresip takes port and port + 1). Ports come from 20000–32000,
/// below the kernel's ephemeral range (32768–60999), so a port handed out
/// here is not taken meanwhile by some process's outgoing socket; each test
/// process starts at its own offset so parallel test binaries rarely meet.
pub fn free_port(span: u16) -> u16 {
    const LOW: u16 = 20000;
    const HIGH: u16 = 32000;
    if NEXT_PORT.load(Ordering::SeqCst) == 0 {
        let base = LOW + (std::process::id() % 300) as u16 * 40;
        let _ = NEXT_PORT.compare_exchange(0, base, Ordering::SeqCst, Ordering::SeqCst);
    }
    loop {
        let step = span.max(1) + 1;
        let mut port = NEXT_PORT.fetch_add(step, Ordering::SeqCst);
        if port + step > HIGH {
            port = LOW + port % (HIGH - LOW - 64);
            NEXT_PORT.store(port + step, Ordering::SeqCst);
        }
        if (port..port + span.max(1)).all(port_is_free) {
            return port;
        }
    }
}

fn port_is_free(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok() && TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Sends an OPTIONS to `port` until something answers 200, or `timeout`.
pub fn wait_for_options(port: u16, timeout: Duration) -> bool {
    let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let local = sock.local_addr().map(|a| a.port()).unwrap_or(0);
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + timeout;
    let mut n = 0;
    while Instant::now() < deadline {
        n += 1;
        let msg = format!(
            "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKprobe{n};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=probe\r\nTo: <sip:127.0.0.1:{port}>\r\n\
             Call-ID: probe-{port}-{n}@127.0.0.1\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        let _ = sock.send_to(msg.as_bytes(), ("127.0.0.1", port));
        let mut buf = [0u8; 4096];
        if let Ok((len, _)) = sock.recv_from(&mut buf) {
            if String::from_utf8_lossy(&buf[..len]).starts_with("SIP/2.0 200") {
                return true;
            }
        }
    }
    false
}

/// Polls `check` every 50 ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM to the process group of `child` (peers are started as
/// group leaders, so their workers go too), waits up to `grace`, then
/// SIGKILL. Only the group we started.
pub fn stop_child(child: &mut Child, grace: Duration) {
    let group = format!("-{}", child.id());
    if let Ok(Some(_)) = child.try_wait() {
        kill(&["-KILL", "--", &group]);
        return;
    }
    kill(&["-TERM", "--", &group]);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(&["-KILL", "--", &group]);
    let _ = child.kill();
    let _ = child.wait();
}

/// kill(1), quietly: the group may already be gone.
fn kill(args: &[&str]) {
    let _ = std::process::Command::new("kill")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}
