//! Real-time scheduling for the thread that carries a call's sound (its
//! 20 ms device clock).
//!
//! It holds about 10 ms of margin (the device queue's `KEEP_MS`) plus the
//! device's own buffer: kept that small, it is delay nobody hears, but a
//! thread woken 30 ms late by a busy machine (a browser, a build, the
//! agent's other tools) plays a hole. The sound server runs its threads
//! real-time for the same reason (PulseAudio asks for `SCHED_FIFO`
//! priority 5); ours gets the same, where the system allows it: with
//! `CAP_SYS_NICE`, or up to `RLIMIT_RTPRIO` (`@audio - rtprio 95` in
//! limits.conf, `LimitRTPRIO=` in a systemd unit). Elsewhere it stays at
//! normal priority and the call says so once.
//!
//! A sound device's own thread (cpal's, and the ALSA pulse plug-in's
//! behind it) stays at normal priority: real-time, cpal's starved the
//! plug-in's (holes of 100 ms to 2 s), and both real-time starved the sound
//! server. When the machine holds it up past the server's buffer, the
//! server plays silence; the call's account counts those underruns.
//!
//! The thread sleeps most of each period and never spins, so it takes
//! little from the rest of the machine; the kernel's real-time throttling
//! (`sched_rt_runtime_us`) bounds it anyway. Processes it starts do not
//! inherit the priority (`SCHED_RESET_ON_FORK`).

/// PulseAudio's own real-time priority (`realtime-priority = 5`): the
/// sound server's threads and ours are equals.
#[cfg(target_os = "linux")]
const PRIORITY: libc::c_int = 5;

/// Makes the calling thread real-time; why not when it cannot.
#[cfg(target_os = "linux")]
pub fn promote_current_thread() -> Result<(), String> {
    let set = |priority: libc::c_int| {
        let param = libc::sched_param {
            sched_priority: priority,
        };
        // SAFETY: `param` is a valid sched_param; pid 0 is this thread.
        let rc = unsafe {
            libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    let Err(e) = set(PRIORITY) else {
        return Ok(());
    };
    // Unprivileged, a lower limit may still allow some priority.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit to fill.
    let allowed = if unsafe { libc::getrlimit(libc::RLIMIT_RTPRIO, &mut limit) } == 0 {
        limit.rlim_cur.min(PRIORITY as libc::rlim_t) as libc::c_int
    } else {
        0
    };
    if (1..PRIORITY).contains(&allowed) && set(allowed).is_ok() {
        return Ok(());
    }
    Err(format!(
        "real-time scheduling refused ({e}; RLIMIT_RTPRIO {allowed}): sound may break up on a busy machine"
    ))
}

#[cfg(not(target_os = "linux"))]
pub fn promote_current_thread() -> Result<(), String> {
    Err("real-time scheduling is only asked for on Linux".into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Whichever way it goes, the thread ends up as the answer says, and
    /// a process it starts runs at normal priority.
    #[test]
    fn the_answer_tells_the_threads_policy_and_children_do_not_inherit_it() {
        std::thread::spawn(|| {
            let promoted = promote_current_thread();
            // SAFETY: reads this thread's policy.
            let policy = unsafe { libc::sched_getscheduler(0) } & !libc::SCHED_RESET_ON_FORK;
            assert_eq!(policy == libc::SCHED_FIFO, promoted.is_ok(), "{promoted:?}");
            let child = std::process::Command::new("sh")
                .args(["-c", "cat /proc/self/stat"])
                .output()
                .unwrap();
            let stat = String::from_utf8_lossy(&child.stdout).into_owned();
            // Field 41 is the policy; the comm field (2) has no spaces here.
            let child_policy: i32 = stat.split_whitespace().nth(40).unwrap().parse().unwrap();
            assert_eq!(child_policy, libc::SCHED_OTHER, "{stat}");
        })
        .join()
        .unwrap();
    }
}
