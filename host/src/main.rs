//! `seatphone [--config PATH]` runs the daemon, which runs the engine
//! (`seatphone engine [--config PATH]`, this same binary) as its child.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use seatphone::{config::Config, daemon, engine, logging};

const USAGE: &str =
    "usage: seatphone [--config PATH]          run the daemon (and the engine under it)
       seatphone engine [--config PATH]   run the engine alone
       seatphone --version | --help";

struct Args {
    engine: bool,
    supervised: bool,
    config: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        engine: false,
        supervised: false,
        config: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "engine" => args.engine = true,
            "--supervised" => args.supervised = true,
            "--config" | "-c" => {
                args.config = Some(it.next().ok_or("--config needs a path")?.into());
            }
            "--version" | "-V" => {
                println!("seatphone {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("seatphone: bad config: {e}");
            return ExitCode::from(2);
        }
    };
    let log_file = if args.engine {
        "engine.log"
    } else {
        "daemon.log"
    };
    let _guard = logging::init(&config.log.dir, &config.log.level, log_file, args.engine);
    // The daemon only watches its child and serves a few page sockets: one
    // thread does, without worker threads (their stacks and malloc arenas).
    let runtime = if args.engine {
        tokio::runtime::Runtime::new()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("seatphone: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if args.engine {
        runtime.block_on(engine::serve::serve(config, args.supervised))
    } else {
        runtime.block_on(daemon::run(config, args.config))
    };
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("seatphone: {e}");
            ExitCode::FAILURE
        }
    }
}
