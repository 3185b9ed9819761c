//! Logs go to stderr and to a file under `[log] dir`. Nothing logged anywhere
//! carries a password or a digest response: handlers log command names, not
//! their parameters, and the SIP stack's own message dumps are filtered out.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

/// Lines the file writer may lag behind before lines are dropped (32 bytes
/// a slot, all written at start: 32 KiB resident). A call's set-up logs a
/// few dozen lines; the writer drains them as they come.
const LOG_QUEUE_LINES: usize = 1024;

/// rsipstack's transports log every SIP message whole at info level, the
/// digest credentials of a REGISTER or INVITE included, and a call's set-up
/// waited on formatting each into the log (issue 20). The SIP message log
/// (`sip-messages.log`) has every message, credentials blanked; these
/// modules log only their warnings, whatever `[log] level` says.
const SIP_TRANSPORT_MODULES: [&str; 3] = [
    "rsipstack::transport::udp",
    "rsipstack::transport::stream",
    "rsipstack::transport::websocket",
];

/// Keep the guard alive for the life of the process: it flushes the file.
///
/// `queued`: lines go to the file through a writer thread, so a busy
/// process never waits on the disk (the engine). Otherwise each line is
/// written as it comes (the daemon, which logs a few lines an hour and so
/// saves the thread and its queue).
pub fn init(dir: &Path, level: &str, file_name: &str, queued: bool) -> Option<WorkerGuard> {
    let mut filter = EnvFilter::try_new(level).unwrap_or_else(|e| {
        eprintln!("[log] level {level:?} is not a valid filter ({e}); using info");
        EnvFilter::new("info")
    });
    for quiet in SIP_TRANSPORT_MODULES {
        if let Ok(directive) = format!("{quiet}=warn").parse() {
            filter = filter.add_directive(directive);
        }
    }
    let stderr = fmt::layer().with_writer(std::io::stderr).with_target(false);
    // A plain file opened for appending: tracing-appender's rolling
    // appender (even with `never`) parses a date format with the `time`
    // crate at start and reads the clock through it for every line; that
    // code was resident in both processes for nothing (issue 20).
    let opened = std::fs::create_dir_all(dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(file_name))
    });
    let (file_layer, guard) = match opened {
        Ok(file) => {
            let (writer, guard) = if queued {
                // tracing-appender's default queue holds 128,000 lines in a
                // channel whose slots are all written at creation: 4 MiB
                // resident before anything is logged.
                let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                    .buffered_lines_limit(LOG_QUEUE_LINES)
                    .finish(file);
                (BoxMakeWriter::new(writer), Some(guard))
            } else {
                // Each line is formatted whole and written in one call.
                (BoxMakeWriter::new(std::sync::Arc::new(file)), None)
            };
            (
                Some(
                    fmt::layer()
                        .with_writer(writer)
                        .with_ansi(false)
                        .with_target(false),
                ),
                guard,
            )
        }
        Err(e) => {
            eprintln!(
                "log file {} cannot be opened ({e}); logging to stderr only",
                dir.join(file_name).display()
            );
            (None, None)
        }
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file_layer)
        .init();
    guard
}
