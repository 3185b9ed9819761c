//! Running the engine process: bind the API port, tell the daemon it is
//! ready, serve until told to stop.

use std::net::SocketAddr;

use tokio::io::AsyncReadExt;

use super::Engine;
use crate::api::server::engine_router;
use crate::api::tls::PageListener;
use crate::config::Config;

/// The line the daemon waits for on the engine's stdout.
pub const READY_MARK: &str = "SEATPHONE_READY ";

/// Runs [`serve`] on a tokio runtime of its own until it returns.
/// (Here rather than in `main`: `block_on` over this future is what
/// instantiates the engine's async code, which is then compiled once, in
/// this crate, not again in the binary.) One thread runs it: a call's
/// set-up passes between the page's socket, the SIP task and rsipstack's
/// tasks, and each hand-over to another worker is a wake-up that costs
/// more than the work handed over (issue 20); media, plugins and the
/// log writer have threads of their own.
pub fn run(config: Config, supervised: bool) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let result = runtime.block_on(serve(config, supervised));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// `supervised`: started by the daemon, which holds our stdin open; when it
/// closes (the daemon stops or dies) the engine stops too.
pub async fn serve(config: Config, supervised: bool) -> Result<(), String> {
    let addr = SocketAddr::new(config.api.bind, config.api.port);
    let tls = config.api.tls()?;
    let wss = if tls.is_some() { " (ws and wss)" } else { "" };
    let (engine, signals) = Engine::start(config).await;
    let listener = PageListener::bind(addr, tls)
        .await
        .map_err(|e| format!("cannot listen on {addr} ([api] bind/port): {e}"))?;
    tracing::info!("engine serving pages on {addr}{wss}");
    tokio::spawn(engine.clone().run_signals(signals));
    println!("{READY_MARK}{}", engine.version_info());

    let server = axum::serve(listener, engine_router(engine.clone()));
    tokio::select! {
        r = server => r.map_err(|e| format!("API server failed: {e}"))?,
        why = stop_requested(supervised) => tracing::info!("engine stopping: {why}"),
    }
    engine.shutdown().await;
    Ok(())
}

/// SIGTERM, SIGINT, or (supervised) the daemon closing our stdin.
async fn stop_requested(watch_stdin: bool) -> &'static str {
    let stdin_closed = async {
        if !watch_stdin {
            return std::future::pending().await;
        }
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    tokio::select! {
        _ = terminate() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = stdin_closed => "the daemon went away",
    }
}

#[cfg(unix)]
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending().await
}
