//! `signal-bench`: many tabs in rooms of 30, each relaying signals through a real
//! signaling server, and what that costs.
//!
//! The server runs in a child process (this binary re-run with `--serve`), so its
//! memory and CPU are measured apart from the clients'. The clients, all in this
//! process, join over loopback, then send signals to peers of their room at a fixed
//! total rate; each signal carries its send time, so the receiver measures the relay
//! latency (client to server to client, on one machine).
//!
//! ```text
//! cargo run --release -p tabchain-signaling --bin signal-bench -- --clients 10000
//! ```

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tabchain_core::{NodeId, SecretKey};
use tabchain_signal::{hello, ClientMessage, RoomName, ServerMessage};
use tabchain_signaling::{serve, Config, Limits};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::{timeout, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async_with_config, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Benchmark the signaling server: N tabs in rooms, relaying signals.
#[derive(Debug, Parser)]
struct Args {
    /// Concurrent clients.
    #[arg(long, default_value_t = 1000)]
    clients: u32,
    /// Clients per room.
    #[arg(long, default_value_t = 30)]
    room_size: u32,
    /// Signals per second, all clients together.
    #[arg(long, default_value_t = 5000)]
    rate: u32,
    /// Seconds of measured relaying, after a warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of relaying before the measurement starts.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Bytes of padding in each signal's payload (an ICE candidate is ~200 bytes).
    #[arg(long, default_value_t = 200)]
    payload: usize,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Run as the server child: print the address, serve until stdin closes.
    #[arg(long, hide = true)]
    serve: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Every connection is a descriptor on both sides; the soft limit is often 1024.
    if let Err(err) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("could not raise the open-file limit: {err}");
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    if args.serve {
        runtime.block_on(run_server(&args));
        return ExitCode::SUCCESS;
    }
    let mut server = match ServerProcess::start(&args) {
        Ok(server) => server,
        Err(err) => {
            eprintln!("cannot start the server process: {err}");
            return ExitCode::FAILURE;
        }
    };
    let report = runtime.block_on(run_clients(&args, &server));
    server.stop();
    report.print(&args);
    if report.joined == args.clients && report.held == args.clients {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The child: a server with limits sized for the run, until the parent closes stdin.
async fn run_server(args: &Args) {
    tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::stderr)
        .init();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("{}", listener.local_addr().expect("an address"));
    let (closed, stdin_closed) = tokio::sync::oneshot::channel();
    // A thread, since waiting for end of input is a blocking read.
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        let _ = closed.send(());
    });
    let limits = Limits {
        max_connections: args.clients as usize + 100,
        // Every client connects from 127.0.0.1.
        max_per_address: args.clients as usize + 100,
        max_rooms: args.clients as usize,
        max_peers_per_room: args.room_size as usize,
        max_room_peers_per_address: args.room_size as usize,
        // Thousands of handshakes queue up behind each other on two cores.
        header_timeout: Duration::from_secs(60),
        handshake_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let config = Config {
        limits,
        ..Config::default()
    };
    serve(listener, config, async {
        let _ = stdin_closed.await;
    })
    .await
    .expect("the server runs");
}

struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(args: &Args) -> std::io::Result<ServerProcess> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--serve", "--clients", &args.clients.to_string()])
            .args(["--room-size", &args.room_size.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .parse()
            .map_err(|_| std::io::Error::other(format!("the server printed {line:?}")))?;
        Ok(ServerProcess { child, addr })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes the child's stdin, which shuts it down gracefully.
    fn stop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// CPU time a process has used, in seconds (user + system).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after its closing parenthesis
    // start at field 3, so utime (14) and stime (15) are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // USER_HZ is 100 on every Linux this runs on.
    (ticks(11) + ticks(12)) / 100.0
}

#[derive(Debug, Default)]
struct Report {
    joined: u32,
    join_seconds: f64,
    held: u32,
    rss_start: u64,
    rss_joined: u64,
    rss_after: u64,
    relayed: u64,
    window: f64,
    server_cpu: f64,
    clients_cpu: f64,
    latencies_us: Vec<u32>,
    errors: u64,
}

impl Report {
    fn print(&self, args: &Args) {
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let per_connection = |rss: u64| {
            rss.saturating_sub(self.rss_start) as f64 / 1024.0 / f64::from(self.joined.max(1))
        };
        println!(
            "clients {} in rooms of {}: {} joined in {:.1} s, {} held to the end",
            args.clients, args.room_size, self.joined, self.join_seconds, self.held
        );
        println!(
            "server memory: {:.1} MiB idle, {:.1} MiB with every client joined ({:.1} KiB per connection), {:.1} MiB after relaying ({:.1} KiB per connection)",
            mib(self.rss_start),
            mib(self.rss_joined),
            per_connection(self.rss_joined),
            mib(self.rss_after),
            per_connection(self.rss_after),
        );
        let mut latencies = self.latencies_us.clone();
        latencies.sort_unstable();
        let quantile = |q: f64| -> f64 {
            if latencies.is_empty() {
                return f64::NAN;
            }
            let index = ((latencies.len() - 1) as f64 * q).round() as usize;
            f64::from(latencies[index]) / 1000.0
        };
        println!(
            "relayed {} signals in {:.1} s: {:.0} msgs/s (target {}); latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            self.relayed,
            self.window,
            self.relayed as f64 / self.window,
            args.rate,
            quantile(0.5),
            quantile(0.99),
            quantile(0.999),
            quantile(1.0),
        );
        println!(
            "CPU while relaying: server {:.0}%, clients {:.0}% of one core; errors from the server: {}",
            100.0 * self.server_cpu / self.window,
            100.0 * self.clients_cpu / self.window,
            self.errors
        );
    }
}

/// What one client saw.
#[derive(Debug, Default)]
struct ClientStats {
    latencies_us: Vec<u32>,
    errors: u64,
    /// Whether the socket was still open when the run ended.
    held: bool,
}

/// What the clients are doing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Joining,
    /// Send signals, on a schedule that starts at `since`.
    Relaying {
        since: Instant,
    },
    /// Stop sending, keep reading what is in flight.
    Draining,
}

async fn run_clients(args: &Args, server: &ServerProcess) -> Report {
    let mut report = Report {
        rss_start: rss(server.pid()),
        ..Report::default()
    };
    let base = Instant::now();
    let (phase_tx, phase) = watch::channel(Phase::Joining);
    let measure = Arc::new(std::sync::OnceLock::<(u64, u64)>::new());
    let permits = Arc::new(Semaphore::new(args.connect_concurrency));
    let url = format!("ws://{}/ws", server.addr);
    let pad = "x".repeat(args.payload);
    // Each client sends every `period`; the clients' first sends are spread over it.
    let period = Duration::from_secs_f64(f64::from(args.clients) / f64::from(args.rate));

    let (joined_tx, mut joined_rx) = tokio::sync::mpsc::unbounded_channel();
    let tasks: Vec<_> = (0..args.clients)
        .map(|n| {
            let ctx = ClientContext {
                url: url.clone(),
                room: format!("bench-{}", n / args.room_size)
                    .parse()
                    .expect("a room name"),
                key: SecretKey::from_seed(seed(n)),
                permits: permits.clone(),
                phase: phase.clone(),
                measure: measure.clone(),
                base,
                period,
                offset: period.mul_f64(f64::from(n) / f64::from(args.clients)),
                pad: pad.clone(),
                joined: joined_tx.clone(),
            };
            tokio::spawn(ctx.run())
        })
        .collect();

    // Joining: wait until every client joined or gave up.
    for _ in 0..args.clients {
        let ok = joined_rx.recv().await.expect("every client reports");
        report.joined += u32::from(ok);
    }
    report.join_seconds = base.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    report.rss_joined = rss(server.pid());

    // Relaying: warm up, then measure a window.
    let _ = phase_tx.send(Phase::Relaying {
        since: Instant::now(),
    });
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    let from = base.elapsed().as_micros() as u64;
    let cpu_before = cpu_seconds(server.pid());
    let clients_cpu_before = cpu_seconds(std::process::id());
    let window = Duration::from_secs(args.seconds);
    let _ = measure.set((from, from + window.as_micros() as u64));
    tokio::time::sleep(window).await;
    report.server_cpu = cpu_seconds(server.pid()) - cpu_before;
    report.clients_cpu = cpu_seconds(std::process::id()) - clients_cpu_before;
    report.window = window.as_secs_f64();
    let _ = phase_tx.send(Phase::Draining);
    tokio::time::sleep(Duration::from_secs(1)).await;
    report.rss_after = rss(server.pid());
    drop(phase_tx);

    for task in tasks {
        if let Ok(stats) = task.await {
            report.relayed += stats.latencies_us.len() as u64;
            report.latencies_us.extend(stats.latencies_us);
            report.errors += stats.errors;
            report.held += u32::from(stats.held);
        }
    }
    report
}

fn seed(n: u32) -> [u8; 32] {
    let mut seed = [0x5e; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    seed
}

struct ClientContext {
    url: String,
    room: RoomName,
    key: SecretKey,
    permits: Arc<Semaphore>,
    phase: watch::Receiver<Phase>,
    measure: Arc<std::sync::OnceLock<(u64, u64)>>,
    base: Instant,
    period: Duration,
    offset: Duration,
    pad: String,
    joined: tokio::sync::mpsc::UnboundedSender<bool>,
}

impl ClientContext {
    async fn run(mut self) -> ClientStats {
        let joined = {
            let _permit = self
                .permits
                .acquire()
                .await
                .expect("the semaphore stays open");
            timeout(
                Duration::from_secs(60),
                join(&self.url, &self.room, &self.key),
            )
            .await
        };
        let (mut ws, mut peers) = match joined {
            Ok(Ok(joined)) => joined,
            Ok(Err(err)) => {
                eprintln!("a client could not join: {err}");
                let _ = self.joined.send(false);
                return ClientStats::default();
            }
            Err(_) => {
                eprintln!("a client could not join within 60 s");
                let _ = self.joined.send(false);
                return ClientStats::default();
            }
        };
        let _ = self.joined.send(true);
        let mut stats = ClientStats::default();
        let mut next_peer = 0;
        // Made when relaying starts, so that the clients' sends stay spread evenly over
        // each period instead of all falling due at once.
        let mut ticker = None;
        loop {
            let phase = *self.phase.borrow();
            if let (Phase::Relaying { since }, None) = (phase, &ticker) {
                let mut interval = tokio::time::interval_at(since + self.offset, self.period);
                interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
                ticker = Some(interval);
            }
            let sending = matches!(phase, Phase::Relaying { .. }) && !peers.is_empty();
            tokio::select! {
                changed = self.phase.changed() => {
                    if changed.is_err() {
                        // The run is over.
                        stats.held = true;
                        let _ = ws.close(None).await;
                        return stats;
                    }
                }
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => match ServerMessage::parse(&text) {
                        Ok(ServerMessage::Signal { payload, .. }) => {
                            let sent = payload["t"].as_u64().unwrap_or(0);
                            if let Some(&(from, to)) = self.measure.get() {
                                if (from..to).contains(&sent) {
                                    let now = self.base.elapsed().as_micros() as u64;
                                    let latency = now.saturating_sub(sent);
                                    stats.latencies_us.push(u32::try_from(latency).unwrap_or(u32::MAX));
                                }
                            }
                        }
                        Ok(ServerMessage::PeerJoined { peer_id }) => peers.push(peer_id),
                        Ok(ServerMessage::PeerLeft { peer_id }) => peers.retain(|p| *p != peer_id),
                        Ok(ServerMessage::Error { code, message }) => {
                            stats.errors += 1;
                            eprintln!("server error {}: {message}", code.as_str());
                        }
                        Ok(_) | Err(_) => {}
                    },
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        eprintln!("a client lost its connection");
                        return stats;
                    }
                },
                () = tick(&mut ticker), if sending => {
                    next_peer = (next_peer + 1) % peers.len();
                    let signal = ClientMessage::Signal {
                        to: peers[next_peer],
                        payload: serde_json::json!({
                            "t": self.base.elapsed().as_micros() as u64,
                            "candidate": self.pad,
                        }),
                    };
                    if ws.send(Message::text(signal.to_json())).await.is_err() {
                        eprintln!("a client lost its connection");
                        return stats;
                    }
                }
            }
        }
    }
}

/// The next tick, or never if there is no ticker yet.
async fn tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn join(
    url: &str,
    room: &RoomName,
    key: &SecretKey,
) -> Result<(Ws, Vec<NodeId>), Box<dyn std::error::Error + Send + Sync>> {
    // Browsers set TCP_NODELAY on WebSockets; so do these clients. tungstenite's
    // default 128 KiB read buffer is zeroed on every read: with thousands of clients in
    // one process that memset would be the benchmark's main cost.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut ws, _) =
        connect_async_with_config(format!("{url}?room={room}"), Some(config), true).await?;
    let nonce = match next_message(&mut ws).await? {
        ServerMessage::Challenge { nonce } => nonce,
        other => return Err(format!("expected a challenge, got {other:?}").into()),
    };
    ws.send(Message::text(hello(key, room, &nonce).to_json()))
        .await?;
    match next_message(&mut ws).await? {
        ServerMessage::Welcome { peers, .. } => Ok((ws, peers)),
        other => Err(format!("expected a welcome, got {other:?}").into()),
    }
}

async fn next_message(
    ws: &mut Ws,
) -> Result<ServerMessage, Box<dyn std::error::Error + Send + Sync>> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(ServerMessage::parse(&text)?),
            Some(Ok(_)) => continue,
            Some(Err(err)) => return Err(err.into()),
            None => return Err("the server closed the connection".into()),
        }
    }
}
