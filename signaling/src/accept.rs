//! The accept loop: every socket is counted the moment it is accepted (and closed at
//! once when a limit says no), then served HTTP/1.1 by hyper with a deadline on each
//! request head.
//!
//! `axum::serve` has no header-read timeout and counts nothing, so 300 half-open
//! requests (a request line and never the blank line that ends the head) held 300
//! sockets for as long as their senders liked, unseen by `/metrics`. This loop does
//! what `axum::serve` does (hyper's HTTP/1 connection with upgrades, the router as
//! its service) plus hyper's `header_read_timeout`, which needs a timer that
//! `axum::serve` does not give it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower_service::Service;

use crate::admission::{Address, AdmitError, Admitted};
use crate::Shared;

/// The most a request head (request line and headers) may take in the read buffer.
/// The server's requests are GETs with a handful of headers (a browser's are under
/// 8 KiB, nginx's default `large_client_header_buffers` is 8 KiB); hyper's default,
/// about 400 KiB, would let each connection of an address's share hold that much.
const MAX_HEAD: usize = 16 * 1024;

/// How long to wait after an accept error that is not about one connection (out of
/// file descriptors, say) before accepting again, as `axum::serve` and hyper's
/// examples do: retrying at once would spin on the same error.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// A socket with its place in the counts, which it gives back when it is dropped:
/// when hyper is done with it or, after an upgrade, when the WebSocket ends.
struct Counted {
    stream: TcpStream,
    admitted: Admitted,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Accepts and serves until `shutdown` completes. Each connection runs in a task of
/// `shared.tasks`, and ends gracefully once `shared.shutdown` is cancelled.
pub async fn accept_loop(
    listener: TcpListener,
    app: Router,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_error(err).await;
                    continue;
                }
            },
        };
        let admitted = match shared.connections.admit(Address::of(peer.ip())) {
            Ok(admitted) => admitted,
            Err(err) => {
                match err {
                    AdmitError::ServerFull(_) => shared.metrics.server_full(),
                    AdmitError::AddressFull { .. } => shared.metrics.address_full(),
                }
                // Dropping the socket closes it, before anything is read from it.
                tracing::debug!(%peer, %err, "closing an accepted socket");
                continue;
            }
        };
        // Signals are small and latency-bound: without TCP_NODELAY, Nagle's algorithm
        // and delayed ACKs hold some of them back by 40 ms.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
        let io = Counted { stream, admitted };
        shared
            .tasks
            .spawn(connection(io, app.clone(), shared.clone()));
    }
}

/// Serves one connection's requests until it closes, upgrades to a WebSocket (which
/// then lives on in its own task), or a request head takes longer than
/// `--header-timeout`.
async fn connection(io: Counted, app: Router, shared: Arc<Shared>) {
    let address = io.admitted.address();
    // The WebSocket route reads the client's address from the request, to count its
    // joins per room.
    let service = service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(address);
        app.clone().call(request)
    });
    let mut builder = http1::Builder::new();
    // The timer runs from when hyper starts waiting for a request head: it bounds
    // both a half-open request and a keep-alive connection left idle between requests.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_timeout)
        .max_buf_size(MAX_HEAD);
    let served = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(served);
    let result = tokio::select! {
        result = served.as_mut() => result,
        () = shared.shutdown.cancelled() => {
            // Finish the request in flight, if any, and close; an idle connection
            // closes at once. The shutdown grace bounds the wait.
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(err) = result {
        if err.is_timeout() {
            shared.metrics.header_timeout();
        }
        tracing::debug!(%address, %err, "connection ended");
    }
}

/// Logs an accept error, and waits a moment unless it is about one connection only.
async fn accept_error(err: io::Error) {
    // As `axum::serve` does (`handle_accept_error`): these concern one connection
    // that is already gone, so the next accept may go ahead.
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "cannot accept connections");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}
