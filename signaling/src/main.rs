//! `tabchain-signaling`: parses the flags, sets up logging, and serves until SIGTERM or
//! Ctrl-C, after which every tab gets a close frame before the process exits.

use std::error::Error;
use std::process::ExitCode;

use clap::Parser;
use tabchain_signaling::{join, Args, Server};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = args.config();
    if config.limits.max_room_peers_per_address >= config.limits.max_peers_per_room {
        tracing::warn!(
            "--max-room-peers-per-address is not below --max-peers-per-room: \
             identities made up on one address can fill a room"
        );
    }

    // Each connection is a file descriptor; the default soft limit is often 1024.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < config.limits.max_connections as u64 + 64 => tracing::warn!(
            limit,
            max_connections = config.limits.max_connections,
            "the open-file limit is below --max-connections"
        ),
        Ok(_) => {}
        Err(err) => tracing::warn!(%err, "could not raise the open-file limit"),
    }

    let shutdown = match shutdown_signal() {
        Ok(shutdown) => shutdown,
        Err(err) => {
            tracing::error!(%err, "cannot listen for SIGTERM and SIGINT");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(args.bind).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(bind = %args.bind, %err, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let static_dir = config.static_dir.clone();
    let turn = config.turn.as_ref().map(|turn| turn.addr);
    let server = match Server::start(listener, config).await {
        Ok(server) => server,
        Err(err) => {
            tracing::error!("{}", chain(&err));
            return ExitCode::FAILURE;
        }
    };
    match &static_dir {
        Some(dir) => tracing::info!(
            "serving {} and signaling on http://{}/ (WebSocket /ws?room=<name>)",
            dir.display(),
            args.bind
        ),
        None => tracing::info!("signaling on ws://{}/ws?room=<name>", args.bind),
    }
    if let Some(addr) = turn {
        tracing::info!("STUN and TURN (UDP and TCP) on {addr}: joined tabs get credentials");
    }
    if let Some(url) = &args.join_url {
        match join::banner(url) {
            Ok(banner) => println!("\n{banner}"),
            Err(err) => tracing::warn!(%url, "{}", chain(&err)),
        }
    }
    match server.run(shutdown).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!("{}", chain(&err));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, `outer: inner: innermost`.
fn chain(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Ctrl-C, or SIGTERM from a service manager or `docker stop`. The handlers are
/// installed here, before the server announces itself, so that a signal sent as soon
/// as it is up is not lost to the default action (an abrupt exit).
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down: closing every connection");
    })
}
