//! `seatphone` runs the daemon, which runs the engine (`seatphone engine`,
//! this same binary) as its child; `seatphone launch LINK` is what the
//! page's launch link runs; `seatphone doctor` checks the seat. See
//! `cli::USAGE`.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use seatphone::cli::{self, Command};
use seatphone::install::{launch_link, running_as_root, single_instance};
use seatphone::{config::Config, daemon, engine, logging};

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut notes = Vec::new();
    match &args.command {
        Command::Help => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("seatphone {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::ProbePlugins => return seatphone::doctor::probe_child(),
        Command::Launch { links } => {
            for text in links {
                let link = launch_link::parse(text);
                notes.push(match link {
                    l if l.foreign => {
                        "started with an argument that is not a Seatphone link; ignored".to_owned()
                    }
                    l => format!(
                        "started from a launch link (mode {}); {} other item(s) in it ignored",
                        l.mode.map_or("none".into(), |m| m.to_string()),
                        l.ignored
                    ),
                });
            }
        }
        _ => {}
    }
    if let Some(mode) = args.mode {
        notes.push(format!(
            "start mode {mode}: Seatphone has no window in any mode"
        ));
    }
    let doctor = matches!(args.command, Command::Doctor { .. });
    let supervised = matches!(args.command, Command::Engine { supervised: true });
    if args.config.is_none() && !doctor && running_as_root() {
        eprintln!(
            "seatphone runs as the desktop user, not as root (it uses their sound devices \
             and display); start it from the user's session, or give --config FILE to run \
             it as root anyway (tests, containers)"
        );
        return ExitCode::FAILURE;
    }
    let config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("seatphone: bad config: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Doctor { sip } = &args.command {
        return seatphone::doctor::run(&config, sip.as_deref());
    }
    if let Err(e) = config.api.tls() {
        eprintln!("seatphone: bad config: {e}");
        return ExitCode::from(2);
    }
    // The daemon holds the instance lock for itself and its engine.
    let _instance = if supervised {
        None
    } else {
        let about = format!(
            "pid {}, pages connect to {}:{} and :{}",
            std::process::id(),
            config.api.bind,
            config.api.daemon_port,
            config.api.port
        );
        match single_instance::Instance::acquire(&config.log.dir, &about) {
            Ok(instance) => Some(instance),
            Err(single_instance::Refused::Running { holder }) => {
                println!("Seatphone is already running for this user ({holder}); nothing to do.");
                return ExitCode::SUCCESS;
            }
            Err(single_instance::Refused::Io(e)) => {
                eprintln!("seatphone: {e}; starting without the one-instance check");
                None
            }
        }
    };
    let is_engine = matches!(args.command, Command::Engine { .. });
    let log_file = if is_engine {
        "engine.log"
    } else {
        "daemon.log"
    };
    let _guard = logging::init(&config.log.dir, &config.log.level, log_file, is_engine);
    for note in &notes {
        tracing::info!("{note}");
    }
    tracing::info!("config: {}", config.describe_sources());
    if !is_engine {
        let engine = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => {
                eprintln!("seatphone: cannot find my own executable: {e}");
                return ExitCode::FAILURE;
            }
        };
        return finish(daemon::run(config, args.config, &engine));
    }
    finish(engine::serve::run(config, supervised))
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("seatphone: {e}");
            ExitCode::FAILURE
        }
    }
}
