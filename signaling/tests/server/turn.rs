//! `--turn`: a real coturn started by the server, the credentials in `welcome`, and
//! what coturn accepts and refuses with them. Everything stays on 127.0.0.1, so these
//! run in a network namespace that has only `lo`. coturn (`turnserver`, with
//! `turnutils_uclient`) must be installed: scripts/setup.sh installs it.

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha1::Sha1;
use tabchain_signal::IceServer;
use tabchain_signaling::turn::unix_now;
use tabchain_signaling::{Config, TurnConfig, TurnCredential, TurnSecret};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::{sleep, timeout, Instant};

use crate::common::{join, key, TestServer, PATIENCE};
use crate::stun::{Transport, TurnClient};

/// A port free on 127.0.0.1 for both UDP and TCP, as coturn listens on both.
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Relay ports above Linux's ephemeral ports (32768-60999), so that no relay of one
/// test takes the port `free_port` just found for another test's coturn.
const TEST_RELAY_PORTS: &str = "61000-65535";

fn turn_config() -> TurnConfig {
    TurnConfig {
        relay_ports: TEST_RELAY_PORTS.parse().unwrap(),
        ..TurnConfig::new(SocketAddr::from(([127, 0, 0, 1], free_port())))
    }
}

async fn turn_server(turn: TurnConfig) -> TestServer {
    TestServer::start(Config {
        turn: Some(turn),
        ..Config::default()
    })
    .await
}

/// The TURN username and password of a welcome's ICE servers.
fn turn_credential(servers: &[IceServer]) -> (String, String) {
    let turn = servers
        .iter()
        .find(|s| s.urls.iter().any(|u| u.starts_with("turn:")))
        .expect("a TURN server");
    (
        turn.username.clone().unwrap(),
        turn.credential.clone().unwrap(),
    )
}

#[tokio::test]
async fn the_welcome_carries_stun_and_turn_with_a_credential_for_the_joined_id() {
    let turn = TurnConfig {
        ttl: Duration::from_secs(600),
        ..turn_config()
    };
    let (addr, secret) = (turn.addr, turn.secret.clone());
    let server = turn_server(turn).await;
    let joined_at = unix_now();
    let a = server.join("class", &key(1)).await;

    assert_eq!(a.ice_servers.len(), 2);
    assert_eq!(a.ice_servers[0].urls, [format!("stun:{addr}")]);
    assert_eq!(a.ice_servers[0].username, None);
    assert_eq!(
        a.ice_servers[1].urls,
        [
            format!("turn:{addr}?transport=udp"),
            format!("turn:{addr}?transport=tcp")
        ]
    );
    let (username, credential) = turn_credential(&a.ice_servers);
    let (expires, id) = username.split_once(':').unwrap();
    assert_eq!(id, a.id.to_string(), "the credential names the joined id");
    let expires: u64 = expires.parse().unwrap();
    assert!(
        (joined_at + 600..=unix_now() + 600).contains(&expires),
        "expires after the ttl: {expires} for a join at {joined_at}"
    );
    // Checked by hand, as coturn does: base64(HMAC-SHA1(secret, username)).
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_str().as_bytes()).unwrap();
    mac.update(username.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(credential, expected);

    // Each tab its own.
    let b = server.join("class", &key(2)).await;
    assert_ne!(turn_credential(&b.ice_servers), (username, credential));
    let metrics = server.metrics().await;
    assert_eq!(metrics["tabchain_signaling_turn_enabled"], 1.0);
    assert_eq!(
        metrics["tabchain_signaling_turn_credentials_issued_total"],
        2.0
    );
    server.stop().await;
}

#[tokio::test]
async fn without_turn_the_welcome_has_no_ice_servers() {
    let server = TestServer::start(Config::default()).await;
    let a = server.join("class", &key(1)).await;
    assert!(a.ice_servers.is_empty());
    let metrics = server.metrics().await;
    assert_eq!(metrics["tabchain_signaling_turn_enabled"], 0.0);
    assert_eq!(
        metrics["tabchain_signaling_turn_credentials_issued_total"],
        0.0
    );
}

#[tokio::test]
async fn the_welcome_credential_allocates_a_relay_over_udp_and_tcp() {
    let turn = turn_config();
    let (addr, ports) = (turn.addr, turn.relay_ports);
    let server = turn_server(turn).await;
    let a = server.join("class", &key(1)).await;
    let (username, password) = turn_credential(&a.ice_servers);
    for transport in [Transport::Udp, Transport::Tcp] {
        let mut client = TurnClient::connect(addr, transport).await;
        let relayed = client.allocate(&username, &password).await;
        let relayed = relayed.unwrap_or_else(|code| panic!("{transport:?}: error {code}"));
        assert_eq!(relayed.ip(), addr.ip(), "{transport:?}");
        assert!((ports.first..=ports.last).contains(&relayed.port()));
        client.release().await;
    }
    server.stop().await;
}

/// Cross-checks with coturn's own client, which shares no code with ours: an
/// allocation and a channel to a peer over UDP and over TCP, no data sent (`-n 0`).
/// The peer is a documentation address (no packet goes to it) since loopback peers
/// are refused.
#[tokio::test]
async fn coturns_own_client_allocates_with_the_welcome_credential() {
    let turn = turn_config();
    let addr = turn.addr;
    let server = turn_server(turn).await;
    let a = server.join("class", &key(1)).await;
    let (username, password) = turn_credential(&a.ice_servers);
    for tcp in [false, true] {
        let mut uclient = tokio::process::Command::new("turnutils_uclient");
        if tcp {
            uclient.arg("-t");
        }
        uclient
            .args(["-c", "-n", "0", "-X", "-e", "198.51.100.7", "-p"])
            .arg(addr.port().to_string())
            .args(["-u", &username, "-w", &password, "127.0.0.1"])
            .kill_on_drop(true);
        let output = timeout(Duration::from_secs(20), uclient.output())
            .await
            .expect("uclient ends")
            .expect("turnutils_uclient is installed with coturn");
        assert!(
            output.status.success(),
            "tcp: {tcp}\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn forged_and_expired_credentials_are_refused() {
    let turn = turn_config();
    let (addr, secret) = (turn.addr, turn.secret.clone());
    let server = turn_server(turn).await;
    let a = server.join("class", &key(1)).await;
    let b = server.join("class", &key(2)).await;
    let (username, password) = turn_credential(&a.ice_servers);
    let expires: u64 = username.split_once(':').unwrap().0.parse().unwrap();

    let forged = [
        // Signed with another secret.
        TurnCredential::new(&TurnSecret::random(), &a.id, expires),
        // Another peer's username with a's password.
        TurnCredential {
            username: format!("{expires}:{}", b.id),
            credential: password.clone(),
        },
        // A later expiry with a's password.
        TurnCredential {
            username: format!("{}:{}", expires + 3600, a.id),
            credential: password.clone(),
        },
        // Correctly signed, but expired a minute ago.
        TurnCredential::new(&secret, &a.id, unix_now() - 60),
    ];
    for credential in forged {
        let mut client = TurnClient::connect(addr, Transport::Udp).await;
        assert_eq!(
            client
                .allocate(&credential.username, &credential.credential)
                .await,
            Err(401),
            "{credential:?}"
        );
    }
    // The genuine one still works after all that.
    let mut client = TurnClient::connect(addr, Transport::Tcp).await;
    client.allocate(&username, &password).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn allocations_are_bounded_per_credential_and_in_total() {
    let turn = TurnConfig {
        user_quota: 2,
        total_quota: 3,
        ..turn_config()
    };
    let addr = turn.addr;
    let server = turn_server(turn).await;
    let a = server.join("class", &key(1)).await;
    let b = server.join("class", &key(2)).await;
    let (a_user, a_password) = turn_credential(&a.ice_servers);
    let (b_user, b_password) = turn_credential(&b.ice_servers);

    let mut held = Vec::new();
    for _ in 0..2 {
        let mut client = TurnClient::connect(addr, Transport::Udp).await;
        client.allocate(&a_user, &a_password).await.unwrap();
        held.push(client);
    }
    let mut third = TurnClient::connect(addr, Transport::Udp).await;
    assert_eq!(
        third.allocate(&a_user, &a_password).await,
        Err(486),
        "user quota"
    );

    let mut client = TurnClient::connect(addr, Transport::Udp).await;
    client.allocate(&b_user, &b_password).await.unwrap();
    held.push(client);
    let mut fourth = TurnClient::connect(addr, Transport::Udp).await;
    assert_eq!(
        fourth.allocate(&b_user, &b_password).await,
        Err(486),
        "total quota"
    );

    // Releasing one frees its place, once coturn's timer has deleted it.
    held[0].release().await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut again = TurnClient::connect(addr, Transport::Udp).await;
        match again.allocate(&a_user, &a_password).await {
            Ok(_) => break,
            Err(486) if Instant::now() < deadline => sleep(Duration::from_millis(50)).await,
            Err(code) => panic!("error {code} after a release"),
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn relaying_to_loopback_and_special_addresses_is_refused() {
    let turn = turn_config();
    let addr = turn.addr;
    let server = turn_server(turn).await;
    let a = server.join("class", &key(1)).await;
    let (username, password) = turn_credential(&a.ice_servers);
    let mut client = TurnClient::connect(addr, Transport::Udp).await;
    // The relay is on 127.0.0.1 here, so this also refuses the server's own ports:
    // its TURN listener, its relays and the signaling HTTP port.
    client.allocate(&username, &password).await.unwrap();
    for peer in [
        "127.0.0.1",
        "127.1.2.3",
        "0.0.0.0",
        "0.1.2.3",
        "169.254.169.254",
        "224.0.0.251",
        "255.255.255.255",
    ] {
        let peer: IpAddr = peer.parse().unwrap();
        assert_eq!(client.create_permission(peer).await, Err(403), "{peer}");
    }
    // Other addresses are allowed (a permission sends nothing): the refusals above
    // are the deny list, not a broken client.
    let own: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap()
        .iter()
        .map(|i| i.ip())
        .collect();
    for peer in ["198.51.100.7", "203.0.113.9"] {
        let peer: IpAddr = peer.parse().unwrap();
        assert!(!own.contains(&peer), "pick another documentation address");
        assert_eq!(client.create_permission(peer).await, Ok(()), "{peer}");
    }
    // This machine's other addresses are refused too. In a network namespace with
    // only `lo` (the test command's) there are none to try.
    for peer in own
        .into_iter()
        .filter(|ip| ip.is_ipv4() && !ip.is_loopback())
    {
        assert_eq!(client.create_permission(peer).await, Err(403), "{peer}");
    }
    server.stop().await;
}

/// Runs the real binary; its log goes to stdout.
fn binary(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tabchain-signaling"));
    command
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn the_binary_refuses_an_unspecified_turn_address_and_explains_a_missing_coturn() {
    let output = binary(&["--turn", "0.0.0.0:3478"]).output().await.unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the address tabs reach"), "{stderr}");

    let port = free_port().to_string();
    let turn = format!("127.0.0.1:{}", free_port());
    let mut missing = binary(&["--bind", &format!("127.0.0.1:{port}"), "--turn", &turn]);
    missing.env("PATH", "/nonexistent");
    let output = timeout(PATIENCE, missing.output()).await.unwrap().unwrap();
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("apt-get install coturn"), "{stdout}");
}

/// Waits until something listens on `addr` again, or nothing does any more.
async fn until_port_state(addr: SocketAddr, free: bool) {
    let deadline = Instant::now() + PATIENCE;
    while UdpSocket::bind(addr).is_ok() != free {
        assert!(Instant::now() < deadline, "{addr} free: {}", !free);
        sleep(Duration::from_millis(20)).await;
    }
}

/// The server binary with TURN on free ports and a join URL (the page's address plus
/// `query`): the child, its stdout by lines, its bind address, the TURN address and the
/// URL.
fn binary_with_turn(
    query: &str,
) -> (
    tokio::process::Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    String,
    SocketAddr,
    String,
) {
    let bind = format!("127.0.0.1:{}", free_port());
    let turn: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let url = format!("http://{bind}/{query}");
    let mut child = binary(&[
        "--bind",
        &bind,
        "--turn",
        &turn.to_string(),
        "--join-url",
        &url,
        "--turn-ports",
        TEST_RELAY_PORTS,
    ])
    .spawn()
    .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, stdout, bind, turn, url)
}

#[tokio::test]
async fn the_binary_serves_turn_prints_the_join_url_and_stops_coturn_on_sigterm() {
    let (mut child, mut stdout, bind, turn, url) = binary_with_turn("?room=class");
    let mut seen = Vec::new();
    let found = timeout(PATIENCE, async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            let done = line == format!("Join: {url}");
            seen.push(line);
            if done {
                return;
            }
        }
    })
    .await;
    assert!(found.is_ok(), "no join URL in {seen:#?}");
    // The QR code follows, in half blocks.
    let _blank = stdout.next_line().await.unwrap();
    let qr = stdout.next_line().await.unwrap().unwrap();
    assert!(qr.chars().all(|c| c == '\u{2588}'), "{qr}");

    // Ready means ready: a tab joins and its credential allocates at once.
    let a = join(bind.parse().unwrap(), "class", &key(1)).await;
    let (username, password) = turn_credential(&a.ice_servers);
    let mut client = TurnClient::connect(turn, Transport::Udp).await;
    client.allocate(&username, &password).await.unwrap();

    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    until_port_state(turn, true).await;
}

#[tokio::test]
async fn coturn_dies_with_a_killed_server() {
    let (mut child, mut stdout, _, turn, _) = binary_with_turn("");
    timeout(PATIENCE, async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if line.starts_with("Join: ") {
                return;
            }
        }
    })
    .await
    .expect("the server comes up");
    until_port_state(turn, false).await;
    // SIGKILL: no drop, no shutdown; only the parent-death signal can end coturn.
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    until_port_state(turn, true).await;
    // Nor could the server remove coturn's private directory; this test does.
    let port = format!("listening-port={}", turn.port());
    for entry in std::fs::read_dir(std::env::temp_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let conf = std::fs::read_to_string(dir.join("turnserver.conf")).unwrap_or_default();
        if dir.to_string_lossy().contains("tabchain-turn-") && conf.lines().any(|l| l == port) {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
