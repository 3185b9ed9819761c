//! Logs go to stderr and to a file under `[log] dir`. Nothing logged anywhere
//! carries a password or a digest response: handlers log command names, not
//! their parameters.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

/// Keep the guard alive for the life of the process: it flushes the file.
pub fn init(dir: &Path, level: &str, file_name: &str) -> Option<WorkerGuard> {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|e| {
        eprintln!("[log] level {level:?} is not a valid filter ({e}); using info");
        EnvFilter::new("info")
    });
    let stderr = fmt::layer().with_writer(std::io::stderr).with_target(false);
    let (file_layer, guard) = match std::fs::create_dir_all(dir) {
        Ok(()) => {
            let (writer, guard) =
                tracing_appender::non_blocking(tracing_appender::rolling::never(dir, file_name));
            (
                Some(
                    fmt::layer()
                        .with_writer(writer)
                        .with_ansi(false)
                        .with_target(false),
                ),
                Some(guard),
            )
        }
        Err(e) => {
            eprintln!(
                "log folder {} cannot be created ({e}); logging to stderr only",
                dir.display()
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
