//! STUN and TURN on `--turn IP:PORT`: Debian's coturn (`turnserver`) run as a child
//! process, and the short-lived credentials every joined tab finds in its `welcome`.
//!
//! Why coturn and not an in-process crate: tabs on a school network need TURN over TCP
//! when UDP is blocked, and the server must not be an open relay. coturn has the TCP
//! listener, the TURN REST API credentials, per-credential and total allocation quotas,
//! bandwidth caps and peer-address denial; the `turn` crate has no TCP listener and not
//! all of those limits. coturn is a well-kept server packaged by Debian.
//!
//! Credentials follow the TURN REST API convention: the username is
//! `<unix expiry seconds>:<peer id>` and the password is base64(HMAC-SHA1(secret,
//! username)), so coturn checks them with the shared secret alone, and this server
//! never tells coturn who joined. The secret is random at each start and reaches coturn
//! in a 0600 file in a private temporary directory, not on its command line.
//!
//! What keeps it from being an open relay is spelled out on `config_file`.

use std::collections::VecDeque;
use std::fmt;
use std::fs::Permissions;
use std::io::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha1::Sha1;
use tabchain_core::NodeId;
use tabchain_signal::IceServer;
use tempfile::TempDir;
use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, BufReader,
};
use tokio::net::{TcpStream, UdpSocket};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};

/// coturn's realm: part of the long-term credential key, the same for every tab.
const REALM: &str = "tabchain";

/// How long coturn may take to answer its first STUN binding request.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest lifetime of an allocation between two refreshes: a tab that vanishes frees
/// its relay ports and its quota within this time. Browsers refresh well before it.
const MAX_ALLOCATE_LIFETIME: Duration = Duration::from_secs(600);

/// How long a nonce stays valid; after it a client must authenticate anew.
const STALE_NONCE: Duration = Duration::from_secs(600);

/// coturn's last log lines kept for the error when it fails to start.
const LOG_TAIL: usize = 12;

/// Special-purpose peer ranges a relay may never send to, in coturn's `first-last`
/// form (coturn 4.6.1 takes no CIDR). coturn itself already refuses 127.0.0.0/8, ::1,
/// 0.0.0.0/8 and :: (and, with `no-multicast-peers`, 224.0.0.0 and above and ff00::/8);
/// loopback and "this network" are listed again so this list alone says what is
/// denied. Private ranges are allowed on purpose: a classroom's LAN is one.
///
/// No IPv6 range may start at `::`: coturn treats a range starting at the any
/// address as open below and compares an IPv4 peer with an IPv6 bound by family
/// alone, so `::-::ffff:ffff` denied every IPv4 peer.
const DENIED_PEER_RANGES: [&str; 5] = [
    // "This network": Linux routes 0.0.0.0 to the machine itself.
    "0.0.0.0-0.255.255.255",
    "127.0.0.0-127.255.255.255",
    // Link-local, which holds cloud metadata services (169.254.169.254).
    "169.254.0.0-169.254.255.255",
    // IPv4-mapped addresses: coturn 4.6.1 checks loopback on the IPv6 form only, so
    // ::ffff:127.0.0.1 would pass its own check.
    "::ffff:0.0.0.0-::ffff:255.255.255.255",
    "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
];

/// What `--turn` and its limits configure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnConfig {
    /// Where coturn listens (UDP and TCP) and relays from: the address tabs reach, so
    /// never 0.0.0.0 or ::.
    pub addr: SocketAddr,
    /// The shared secret of the credentials; random at each start of the binary.
    pub secret: TurnSecret,
    /// How long a credential can start allocations.
    pub ttl: Duration,
    /// Allocations one credential (one tab) may hold at once.
    pub user_quota: u32,
    /// Allocations the whole server may hold at once.
    pub total_quota: u32,
    /// Bytes per second one allocation may relay, each direction.
    pub max_bps: u64,
    /// Bytes per second all allocations together may relay; coturn reserves `max_bps`
    /// of it for each allocation and refuses one when none is left.
    pub capacity_bps: u64,
    /// The UDP ports relay addresses are taken from.
    pub relay_ports: PortRange,
}

impl TurnConfig {
    /// A configuration with the flags' defaults and a fresh random secret.
    pub fn new(addr: SocketAddr) -> TurnConfig {
        TurnConfig {
            addr,
            secret: TurnSecret::random(),
            ttl: Duration::from_secs(3600),
            user_quota: 24,
            total_quota: 1000,
            max_bps: 100_000,
            capacity_bps: 100_000_000,
            relay_ports: PortRange {
                first: 49152,
                last: 65535,
            },
        }
    }

    /// The `iceServers` for the tab `peer`, with a credential that expires `ttl` after
    /// `now` (seconds since the Unix epoch).
    pub fn ice_servers(&self, peer: &NodeId, now: u64) -> Vec<IceServer> {
        let addr = self.addr;
        let credential =
            TurnCredential::new(&self.secret, peer, now.saturating_add(ttl_secs(self.ttl)));
        vec![
            IceServer {
                urls: vec![format!("stun:{addr}")],
                username: None,
                credential: None,
            },
            IceServer {
                urls: vec![
                    format!("turn:{addr}?transport=udp"),
                    format!("turn:{addr}?transport=tcp"),
                ],
                username: Some(credential.username),
                credential: Some(credential.credential),
            },
        ]
    }
}

/// Whole seconds, rounded up, so a short ttl never yields a credential that has
/// already expired.
fn ttl_secs(ttl: Duration) -> u64 {
    ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0)
}

/// Seconds since the Unix epoch. TURN REST API expiry times are wall-clock times, and
/// coturn compares them with the clock of this same machine.
#[expect(
    clippy::disallowed_methods,
    reason = "the ban keeps the sans-IO core off the clock; a credential's expiry is wall-clock time"
)]
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The shared secret between this server and coturn.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnSecret(String);

impl TurnSecret {
    /// 256 random bits as 64 hex digits; coturn uses the text itself as the HMAC key.
    pub fn random() -> TurnSecret {
        let mut bytes = [0; 32];
        // As for the challenge nonces: the OS random source does not fail on the
        // systems this server runs on, and without it no credential could be trusted.
        getrandom::fill(&mut bytes).expect("the OS random source works");
        TurnSecret(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TurnSecret(..)")
    }
}

/// One tab's TURN username and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnCredential {
    /// `<unix expiry seconds>:<peer id>`.
    pub username: String,
    /// base64(HMAC-SHA1(secret, username)).
    pub credential: String,
}

impl TurnCredential {
    pub fn new(secret: &TurnSecret, peer: &NodeId, expires: u64) -> TurnCredential {
        let username = format!("{expires}:{peer}");
        let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_str().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(username.as_bytes());
        let credential =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        TurnCredential {
            username,
            credential,
        }
    }
}

/// The UDP ports relay addresses come from, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

/// Why a port range does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortRangeError {
    #[error("expected FIRST-LAST, e.g. 49152-65535")]
    Malformed,
    #[error("the first port must be at least 1024 and at most the last")]
    Order,
}

impl FromStr for PortRange {
    type Err = PortRangeError;

    fn from_str(text: &str) -> Result<PortRange, PortRangeError> {
        let (first, last) = text.split_once('-').ok_or(PortRangeError::Malformed)?;
        let port = |p: &str| p.parse::<u16>().map_err(|_| PortRangeError::Malformed);
        let (first, last) = (port(first)?, port(last)?);
        if first < 1024 || first > last {
            return Err(PortRangeError::Order);
        }
        Ok(PortRange { first, last })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// Why coturn did not start.
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error(
        "turnserver (coturn) is not installed: install it with `apt-get install coturn` \
         (scripts/setup.sh does), or run without --turn"
    )]
    NotInstalled,
    #[error(
        "{addr} is taken ({transport}): another TURN server? Debian's coturn service \
         starts one on 3478 (`systemctl disable --now coturn`)"
    )]
    AddressInUse {
        addr: SocketAddr,
        transport: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot list this machine's addresses")]
    Interfaces(#[source] io::Error),
    #[error("cannot write coturn's configuration")]
    Config(#[source] io::Error),
    #[error("cannot start turnserver through setpriv (util-linux)")]
    Spawn(#[source] io::Error),
    #[error("turnserver exited at start ({status}); its last lines:\n{log}")]
    Exited { status: ExitStatus, log: String },
    #[error("turnserver did not answer a STUN binding request on {addr} within {timeout:?}; its last lines:\n{log}")]
    NoAnswer {
        addr: SocketAddr,
        timeout: Duration,
        log: String,
    },
}

/// The running coturn. Dropping it, or [`TurnServer::stop`], ends it.
#[derive(Debug)]
pub struct TurnServer {
    stop: Option<oneshot::Sender<()>>,
    watch: JoinHandle<()>,
}

impl TurnServer {
    /// Starts coturn on `config.addr` and returns once it answers STUN over UDP and TCP.
    pub async fn start(config: &TurnConfig) -> Result<TurnServer, TurnError> {
        let program = find_in_path("turnserver").ok_or(TurnError::NotInstalled)?;
        // coturn binds with SO_REUSEPORT, so a second coturn of the same user on the
        // same port would share it silently and answer half the tabs with another
        // secret. A plain bind fails on a taken port, whoever holds it.
        check_free(config.addr)?;
        let own = if_addrs::get_if_addrs().map_err(TurnError::Interfaces)?;
        let own: Vec<IpAddr> = own.iter().map(|i| i.ip()).collect();

        let dir = tempfile::Builder::new()
            .prefix("tabchain-turn-")
            .permissions(Permissions::from_mode(0o700))
            .tempdir()
            .map_err(TurnError::Config)?;
        let conf = dir.path().join("turnserver.conf");
        write_private(&conf, &config_file(config, &own, dir.path())).map_err(TurnError::Config)?;

        // setpriv (util-linux, in every Debian) makes the kernel kill coturn when this
        // process dies, even by SIGKILL; otherwise an orphan would hold the port. The
        // kernel watches the thread that spawned it: the binary starts coturn from its
        // main thread, which lives as long as the process.
        let mut child = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "--"])
            .arg(&program)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(TurnError::Spawn)?;
        let log = Log::default();
        if let Some(out) = child.stdout.take() {
            tokio::spawn(log.clone().forward(out));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(log.clone().forward(err));
        }

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(TurnError::Exited {
                    status,
                    log: log.tail(),
                });
            }
            if stun_binding_udp(config.addr).await && stun_binding_tcp(config.addr).await {
                break;
            }
            if Instant::now() >= deadline {
                return Err(TurnError::NoAnswer {
                    addr: config.addr,
                    timeout: START_TIMEOUT,
                    log: log.tail(),
                });
            }
            sleep(Duration::from_millis(50)).await;
        }

        let (stop, stopped) = oneshot::channel();
        let watch = tokio::spawn(watch(child, dir, stopped));
        Ok(TurnServer {
            stop: Some(stop),
            watch,
        })
    }

    /// Ends coturn and waits until it is gone.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.watch).await;
    }
}

/// Owns coturn while it runs: reports it if it dies, kills it when told to (or when
/// the [`TurnServer`] is dropped, which drops the sender).
async fn watch(mut child: Child, dir: TempDir, stopped: oneshot::Receiver<()>) {
    tokio::select! {
        status = child.wait() => {
            tracing::error!(?status, "turnserver exited: tabs get no TURN relay until a restart");
        }
        _ = stopped => {
            let _ = child.kill().await;
        }
    }
    // coturn read its configuration at start; the directory can go now.
    drop(dir);
}

/// coturn's configuration for `config`. `own` are this machine's addresses: every one
/// but the relay address is denied as a peer.
///
/// Not an open relay:
/// - credentials: `use-auth-secret` with a secret only this server knows, and an expiry
///   in each username; coturn refuses a credential past it for new allocations. An
///   allocation already made lives on while its tab refreshes it (coturn 4.6.1 checks
///   the expiry when it first learns a session's key, not on refreshes).
/// - `user-quota` allocations per credential, `total-quota` in all, `max-bps` per
///   allocation and `bps-capacity` in all; `max-allocate-lifetime` frees what a
///   vanished tab held.
/// - peers: coturn refuses loopback, 0.0.0.0/8 and ::, `no-multicast-peers` the
///   multicast and reserved ranges, and `denied-peer-ip` the ranges of
///   [`DENIED_PEER_RANGES`] and this machine's other addresses. coturn checks a
///   peer's address, never its port (`good_peer_addr`), and relay-to-relay between
///   two tabs goes to this server's own relay address, so that address stays allowed.
/// - ports: `no-tcp-relay` refuses TCP allocations (RFC 6062), which browsers never
///   ask for, so no relay reaches a TCP port at all: not the signaling HTTP port, nor
///   coturn's own TCP listener. A UDP relay can still send to any UDP port of the
///   relay address, including coturn's listener; what it gets there is what any
///   client gets, and a TURN request through it needs a credential and counts against
///   the same quotas.
/// - no TLS, DTLS, CLI or web admin listeners, no version in responses.
fn config_file(config: &TurnConfig, own: &[IpAddr], dir: &Path) -> String {
    let ip = config.addr.ip();
    let mut text = String::from(
        "# Written by tabchain-signaling for one run (signaling/src/turn.rs explains it).\n",
    );
    let mut line = |line: &str| {
        text.push_str(line);
        text.push('\n');
    };
    line(&format!("listening-ip={ip}"));
    line(&format!("listening-port={}", config.addr.port()));
    line(&format!("relay-ip={ip}"));
    line(&format!("min-port={}", config.relay_ports.first));
    line(&format!("max-port={}", config.relay_ports.last));
    line(&format!("realm={REALM}"));
    line("use-auth-secret");
    line(&format!("static-auth-secret={}", config.secret.as_str()));
    line(&format!("user-quota={}", config.user_quota));
    line(&format!("total-quota={}", config.total_quota));
    line(&format!("max-bps={}", config.max_bps));
    line(&format!("bps-capacity={}", config.capacity_bps));
    line(&format!(
        "max-allocate-lifetime={}",
        MAX_ALLOCATE_LIFETIME.as_secs()
    ));
    line(&format!("stale-nonce={}", STALE_NONCE.as_secs()));
    line("fingerprint");
    line("no-tcp-relay");
    line("no-multicast-peers");
    for range in DENIED_PEER_RANGES {
        line(&format!("denied-peer-ip={range}"));
    }
    let mut others: Vec<IpAddr> = own
        .iter()
        .copied()
        .filter(|addr| *addr != ip && !addr.is_unspecified())
        .collect();
    others.sort();
    others.dedup();
    for addr in others {
        line(&format!("denied-peer-ip={addr}"));
    }
    line("no-tls");
    line("no-dtls");
    line("no-cli");
    line("no-software-attribute");
    // Logs go to our stdout pipe; the database and pid file stay in the private
    // directory instead of /var/lib/turn and /var/run, which need root.
    line("log-file=stdout");
    line("simple-log");
    line(&format!("userdb={}", dir.join("turndb").display()));
    line(&format!("pidfile={}", dir.join("turnserver.pid").display()));
    text
}

/// Writes `text` to a new file only its owner can read.
fn write_private(path: &Path, text: &str) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

fn check_free(addr: SocketAddr) -> Result<(), TurnError> {
    let taken = |transport| {
        move |source| TurnError::AddressInUse {
            addr,
            transport,
            source,
        }
    };
    std::net::UdpSocket::bind(addr).map_err(taken("UDP"))?;
    std::net::TcpListener::bind(addr).map_err(taken("TCP"))?;
    Ok(())
}

/// coturn's output: every line goes to the log at debug, and the last few are kept
/// for the error if it fails to start.
#[derive(Debug, Clone, Default)]
struct Log(Arc<Mutex<VecDeque<String>>>);

impl Log {
    async fn forward(self, output: impl AsyncRead + Unpin) {
        let mut lines = BufReader::new(output).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let line = line.trim();
            if line.is_empty() || line.ends_with(": :") {
                continue;
            }
            tracing::debug!(target: "turnserver", "{line}");
            let mut tail = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if tail.len() == LOG_TAIL {
                tail.pop_front();
            }
            tail.push_back(line.to_owned());
        }
    }

    fn tail(&self) -> String {
        let tail = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        tail.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// STUN's magic cookie (RFC 5389).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// A STUN binding request and its transaction id.
fn binding_request() -> ([u8; 20], [u8; 12]) {
    let mut id = [0; 12];
    getrandom::fill(&mut id).expect("the OS random source works");
    let mut request = [0; 20];
    request[..2].copy_from_slice(&[0x00, 0x01]);
    request[4..8].copy_from_slice(&MAGIC_COOKIE);
    request[8..].copy_from_slice(&id);
    (request, id)
}

/// Whether `response` starts as a binding success for the transaction `id`.
fn is_binding_success(response: &[u8], id: &[u8; 12]) -> bool {
    response.len() >= 20
        && response[..2] == [0x01, 0x01]
        && response[4..8] == MAGIC_COOKIE
        && response[8..20] == id[..]
}

const PROBE_TIMEOUT: Duration = Duration::from_millis(200);

async fn stun_binding_udp(addr: SocketAddr) -> bool {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
        SocketAddr::V6(_) => ([0u16; 8], 0).into(),
    };
    let Ok(socket) = UdpSocket::bind(local).await else {
        return false;
    };
    let (request, id) = binding_request();
    if socket.send_to(&request, addr).await.is_err() {
        return false;
    }
    let mut buf = [0; 512];
    matches!(
        timeout(PROBE_TIMEOUT, socket.recv_from(&mut buf)).await,
        Ok(Ok((n, from))) if from == addr && is_binding_success(&buf[..n], &id)
    )
}

async fn stun_binding_tcp(addr: SocketAddr) -> bool {
    let probe = async {
        let mut stream = TcpStream::connect(addr).await?;
        let (request, id) = binding_request();
        stream.write_all(&request).await?;
        let mut header = [0; 20];
        stream.read_exact(&mut header).await?;
        io::Result::Ok(is_binding_success(&header, &id))
    };
    matches!(timeout(PROBE_TIMEOUT, probe).await, Ok(Ok(true)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::SecretKey;

    fn config() -> TurnConfig {
        TurnConfig {
            secret: TurnSecret("s3cret".into()),
            ..TurnConfig::new("192.0.2.7:3478".parse().unwrap())
        }
    }

    #[test]
    fn credentials_follow_the_turn_rest_api() {
        let peer = SecretKey::from_seed([1; 32]).public_key().node_id();
        let credential = TurnCredential::new(&TurnSecret("s3cret".into()), &peer, 1_700_000_000);
        assert_eq!(credential.username, format!("1700000000:{peer}"));
        // The same HMAC as coturn computes, by hand: `printf %s "$username" |
        // openssl dgst -sha1 -hmac s3cret -binary | base64`.
        let mut mac = Hmac::<Sha1>::new_from_slice(b"s3cret").unwrap();
        mac.update(credential.username.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(credential.credential, expected);
        assert_eq!(credential.credential.len(), 28, "20 bytes in base64");
    }

    #[test]
    fn ice_servers_list_stun_and_turn_over_udp_and_tcp_with_the_credential() {
        let config = TurnConfig {
            ttl: Duration::from_millis(1500),
            ..config()
        };
        let peer = SecretKey::from_seed([2; 32]).public_key().node_id();
        let servers = config.ice_servers(&peer, 1000);
        assert_eq!(servers[0].urls, ["stun:192.0.2.7:3478"]);
        assert_eq!(servers[0].username, None);
        assert_eq!(
            servers[1].urls,
            [
                "turn:192.0.2.7:3478?transport=udp",
                "turn:192.0.2.7:3478?transport=tcp"
            ]
        );
        let expected = TurnCredential::new(&config.secret, &peer, 1002);
        assert_eq!(servers[1].username.as_ref(), Some(&expected.username));
        assert_eq!(servers[1].credential.as_ref(), Some(&expected.credential));

        let v6 = TurnConfig::new("[fd00::2]:3478".parse().unwrap());
        assert_eq!(v6.ice_servers(&peer, 0)[0].urls, ["stun:[fd00::2]:3478"]);
    }

    #[test]
    fn the_config_file_holds_every_limit_and_denies_the_machines_other_addresses() {
        let own: Vec<IpAddr> = ["127.0.0.1", "192.0.2.7", "10.1.2.3", "fd00::2", "10.1.2.3"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let text = config_file(&config(), &own, Path::new("/tmp/x"));
        let lines: Vec<&str> = text.lines().collect();
        for expected in [
            "listening-ip=192.0.2.7",
            "listening-port=3478",
            "relay-ip=192.0.2.7",
            "min-port=49152",
            "max-port=65535",
            "realm=tabchain",
            "use-auth-secret",
            "static-auth-secret=s3cret",
            "user-quota=24",
            "total-quota=1000",
            "max-bps=100000",
            "bps-capacity=100000000",
            "max-allocate-lifetime=600",
            "stale-nonce=600",
            "fingerprint",
            "no-tcp-relay",
            "no-multicast-peers",
            "denied-peer-ip=0.0.0.0-0.255.255.255",
            "denied-peer-ip=::ffff:0.0.0.0-::ffff:255.255.255.255",
            "denied-peer-ip=127.0.0.1",
            "denied-peer-ip=10.1.2.3",
            "denied-peer-ip=fd00::2",
            "no-tls",
            "no-dtls",
            "no-cli",
            "log-file=stdout",
            "userdb=/tmp/x/turndb",
            "pidfile=/tmp/x/turnserver.pid",
        ] {
            assert!(lines.contains(&expected), "{expected} missing in\n{text}");
        }
        // Relay-to-relay goes to the relay address itself.
        assert!(!lines.contains(&"denied-peer-ip=192.0.2.7"));
        assert_eq!(
            lines
                .iter()
                .filter(|l| **l == "denied-peer-ip=10.1.2.3")
                .count(),
            1
        );
    }

    #[test]
    fn port_ranges_parse() {
        assert_eq!(
            "49152-65535".parse(),
            Ok(PortRange {
                first: 49152,
                last: 65535
            })
        );
        assert_eq!(
            "5000-5000".parse::<PortRange>().unwrap().to_string(),
            "5000-5000"
        );
        for text in ["", "5000", "5000-", "a-b", "5000-70000"] {
            assert_eq!(
                text.parse::<PortRange>(),
                Err(PortRangeError::Malformed),
                "{text}"
            );
        }
        assert_eq!("6000-5000".parse::<PortRange>(), Err(PortRangeError::Order));
        assert_eq!("80-5000".parse::<PortRange>(), Err(PortRangeError::Order));
    }

    #[test]
    fn the_secret_is_random_hex_and_kept_out_of_debug_output() {
        let (a, b) = (TurnSecret::random(), TurnSecret::random());
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 64);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(!format!("{a:?}").contains(a.as_str()));
    }
}
