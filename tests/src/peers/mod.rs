//! Real SIP peers on 127.0.0.1 for the SIP tests: Kamailio (registrar +
//! proxy), baresip (a phone; the bench's too) and SIPp (scripted UAC/UAS).
//! Each starts on free ports with a config generated from a template under
//! `tests/peers/` (baresip's is written whole by `baresip.rs`), waits until
//! it answers, and is stopped by its `Drop` even when a test fails.

pub mod baresip;
pub mod kamailio;
pub mod relay;
pub mod sipp;
pub mod tls_relay;
pub mod ua;

use std::fs::File;
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The folder of the config templates.
pub fn templates() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// Ports handed out come from here: below the kernel's ephemeral range
/// (32768–60999), which every socket bound to port 0 or connecting out draws
/// from, so nothing takes a port of ours between hand-out and bind by chance.
const PORTS: std::ops::Range<u16> = 20000..32000;
/// A test process claims the range in blocks of this many ports.
const BLOCK: u16 = 100;

/// The block a process hands ports out of, and the lock files of the blocks
/// it claimed (held until the process exits).
struct Claimed {
    next: u16,
    end: u16,
    locks: Vec<File>,
}

static CLAIMED: Mutex<Claimed> = Mutex::new(Claimed {
    next: 0,
    end: 0,
    locks: Vec::new(),
});

/// `span` consecutive ports free for both UDP and TCP on 127.0.0.1 (baresip
/// takes port and port + 1, its RTP a range), never handed out before by
/// any test process on this machine while that process lives: each process
/// claims blocks of [`BLOCK`] ports under an exclusive `flock` on a file in
/// the temp folder, which the kernel releases when the process exits. A
/// port a peer takes only later (baresip's RTP range, bound by a call) is
/// still nobody else's. Panics when every block is claimed.
pub fn free_port(span: u16) -> u16 {
    let span = span.clamp(1, BLOCK);
    let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if claimed.next + span > claimed.end {
            claim_block(&mut claimed);
        }
        let port = claimed.next;
        claimed.next += span;
        if (port..port + span).all(port_is_free) {
            return port;
        }
    }
}

/// Locks the next block nobody holds (this process included: a second
/// open file of a block it holds does not get the lock), starting from one
/// picked by the process id so that parallel processes rarely try the same
/// files.
fn claim_block(claimed: &mut Claimed) {
    let dir = std::env::temp_dir().join("seatphone-test-ports");
    let _ = std::fs::create_dir_all(&dir);
    let blocks = (PORTS.end - PORTS.start) / BLOCK;
    let first = (std::process::id() % u32::from(blocks)) as u16;
    for i in 0..blocks {
        let start = PORTS.start + (first + i) % blocks * BLOCK;
        let Ok(file) = File::create(dir.join(format!("{start}.lock"))) else {
            continue;
        };
        if file.try_lock().is_ok() {
            claimed.locks.push(file);
            claimed.next = start;
            claimed.end = start + BLOCK;
            return;
        }
    }
    panic!(
        "every block of test ports ({PORTS:?}) is held by a running test process (locks in {})",
        dir.display()
    );
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

/// With `BENCH_KEEP` set (the bench's switch), keeps a peer's or host's
/// temporary folder (configs, logs) for a look afterwards.
pub fn keep_if_asked(dir: &mut tempfile::TempDir) {
    if std::env::var_os("BENCH_KEEP").is_some() {
        dir.disable_cleanup(true);
        eprintln!("kept {}", dir.path().display());
    }
}

/// kill(1), quietly: the group may already be gone.
fn kill(args: &[&str]) {
    let _ = std::process::Command::new("kill")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}
