//! Holding the server's sockets and places (issue 10, finding 6): half-open HTTP
//! requests, one address taking every connection or every place in a room, and a tab
//! that keeps its place with refused messages. Each test says what it tried, and what
//! the server did before the fix.

use std::net::IpAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tabchain_signal::{ErrorCode, ServerMessage};
use tabchain_signaling::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{
    connect_from, expect_refusal, hello_from, join_from, key, open_from, read_to_close, TestServer,
    PATIENCE,
};

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// A request line and one header, and never the blank line that ends the head.
async fn half_open(from: IpAddr, server: &TestServer) -> TcpStream {
    let mut stream = connect_from(from, server.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: tabchain\r\n")
        .await
        .unwrap();
    stream
}

/// Waits for the server to close `stream` (end of file or a reset), at most `limit`;
/// whether it did.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0; 1024];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    timeout(limit, read).await.is_ok()
}

/// Scrapes the metrics from `from` until `check` holds on them (or panics after
/// [`PATIENCE`]), and returns them.
async fn metrics_when(
    server: &TestServer,
    from: IpAddr,
    check: impl Fn(&std::collections::HashMap<String, f64>) -> bool,
) -> std::collections::HashMap<String, f64> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let metrics = server.metrics_from(from).await;
        if let Some(metrics) = metrics {
            if check(&metrics) || Instant::now() > deadline {
                return metrics;
            }
        }
        assert!(Instant::now() <= deadline, "no scrape answered from {from}");
        sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn half_open_requests_are_counted_and_closed_after_the_header_timeout() {
    const HALF_OPEN: usize = 300;
    let header_timeout = Duration::from_secs(1);
    let server = TestServer::with_limits(Limits {
        header_timeout,
        ..Limits::default()
    })
    .await;

    // Tried: 300 requests that send a request line and a header and then nothing, and
    // one that trickles its head a byte every 100 ms, which keeps the socket busy but
    // never finishes. Before the fix (axum::serve, no header-read timeout) all 300
    // were still held after 45 s, and tabchain_signaling_connections read 0 (only
    // upgraded WebSockets were counted).
    let start = Instant::now();
    let mut held = Vec::new();
    for _ in 0..HALF_OPEN {
        held.push(half_open(ip(1), &server).await);
    }
    let mut trickle = connect_from(ip(1), server.addr).await.unwrap();
    let trickler = tokio::spawn(async move {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: tabchain\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if trickle.write_all(&[*byte]).await.is_err() {
                return Instant::now();
            }
            sleep(Duration::from_millis(100)).await;
        }
        unreachable!("cycle never ends")
    });

    // While open, every one of them is counted (the scrape from 127.0.0.2 too).
    let open = (HALF_OPEN + 2) as f64;
    let metrics = metrics_when(&server, ip(2), |m| {
        m["tabchain_signaling_connections"] == open
    })
    .await;
    assert_eq!(metrics["tabchain_signaling_connections"], open);
    assert_eq!(metrics["tabchain_signaling_addresses"], 2.0);

    // All are closed once the timeout has passed, and none much later.
    for stream in &mut held {
        assert!(
            closed_within(stream, header_timeout + PATIENCE).await,
            "a half-open request was held past the timeout"
        );
    }
    let all_closed = start.elapsed();
    assert!(
        all_closed >= header_timeout && all_closed < header_timeout + Duration::from_secs(3),
        "closed after {all_closed:?}"
    );
    let trickle_closed = timeout(PATIENCE, trickler).await.unwrap().unwrap();
    assert!(trickle_closed - start < header_timeout + Duration::from_secs(3));

    let metrics = metrics_when(&server, ip(2), |m| {
        m["tabchain_signaling_connections"] == 1.0
    })
    .await;
    assert_eq!(metrics["tabchain_signaling_connections"], 1.0);
    assert_eq!(
        metrics["tabchain_signaling_header_timeouts_total"],
        (HALF_OPEN + 1) as f64
    );
    eprintln!(
        "{HALF_OPEN} half-open requests and a trickler: all counted while open, all \
         closed {all_closed:?} after they began (timeout {header_timeout:?})"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let header_timeout = Duration::from_millis(500);
    let server = TestServer::with_limits(Limits {
        header_timeout,
        ..Limits::default()
    })
    .await;
    // Tried: a complete request on a keep-alive connection, then silence. hyper
    // waits for the next request head under the same timer, so the connection goes
    // after the timeout instead of holding a socket for as long as the client likes.
    let mut stream = connect_from(ip(1), server.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: tabchain\r\n\r\n")
        .await
        .unwrap();
    let mut response = [0; 512];
    let n = timeout(PATIENCE, stream.read(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert!(response[..n].starts_with(b"HTTP/1.1 200"));
    let answered = Instant::now();
    assert!(closed_within(&mut stream, PATIENCE).await);
    assert!(answered.elapsed() >= header_timeout - Duration::from_millis(50));
}

#[tokio::test]
async fn an_oversized_request_head_is_refused() {
    let server = TestServer::with_limits(Limits::default()).await;
    // Tried: a request head of 20 KiB (one header of 20 000 bytes). hyper would read
    // up to about 400 KiB of head per connection; the server takes 16 KiB and answers
    // 431 beyond it, so an address's share of connections holds at most 8 MiB of heads.
    let mut stream = connect_from(ip(1), server.addr).await.unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: tabchain\r\nX-Big: {}\r\n\r\n",
        "x".repeat(20_000)
    );
    // The server may answer and close before it has read it all.
    let _ = stream.write_all(head.as_bytes()).await;
    let mut response = Vec::new();
    let _ = timeout(PATIENCE, stream.read_to_end(&mut response))
        .await
        .expect("an answer in time");
    assert!(
        response.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&response)
    );
}

#[tokio::test]
async fn the_per_address_cap_closes_one_address_while_another_joins() {
    let server = TestServer::with_limits(Limits {
        max_per_address: 3,
        ..Limits::default()
    })
    .await;

    // Tried: 127.0.0.1 takes its 3 connections (two joined tabs and a half-open
    // request), then tries a fourth, a WebSocket and a plain socket. Both are closed
    // at accept, before anything is read, while 127.0.0.2 joins the same room and
    // trades signals. Before the fix there was no per-address cap: one address could
    // take all --max-connections.
    let mut a = join_from(ip(1), server.addr, "class", &key(1)).await;
    let mut b = join_from(ip(1), server.addr, "class", &key(2)).await;
    a.recv().await; // b joined
    let _pending = half_open(ip(1), &server).await;
    // The half-open request is accepted before the next connection is: wait until it
    // is counted.
    metrics_when(&server, ip(3), |m| {
        m["tabchain_signaling_connections"] == 4.0
    })
    .await;

    let refused = timeout(PATIENCE, open_from(ip(1), server.addr, "room=class"))
        .await
        .expect("refused in time");
    assert!(
        refused.is_err(),
        "a fourth connection from 127.0.0.1 was served"
    );
    let mut plain = connect_from(ip(1), server.addr).await.unwrap();
    assert!(closed_within(&mut plain, PATIENCE).await);

    let mut c = join_from(ip(2), server.addr, "class", &key(3)).await;
    assert_eq!(c.peers.len(), 2);
    a.recv().await; // c joined
    b.recv().await;
    c.signal(a.id, json!({"sdp": "offer"})).await;
    a.expect_signal(c.id, json!({"sdp": "offer"})).await;
    a.signal(c.id, json!({"sdp": "answer"})).await;
    c.expect_signal(a.id, json!({"sdp": "answer"})).await;

    let metrics = server.metrics_from(ip(3)).await.unwrap();
    // 127.0.0.1's three, 127.0.0.2's one and this scrape from 127.0.0.3.
    assert_eq!(metrics["tabchain_signaling_connections"], 5.0);
    assert_eq!(metrics["tabchain_signaling_addresses"], 3.0);
    assert_eq!(
        metrics["tabchain_signaling_connections_refused_total{reason=\"address_full\"}"],
        2.0
    );

    // A leave frees a place in the address's share.
    drop(b);
    a.recv().await; // b left
    let again = timeout(PATIENCE, async {
        loop {
            if let Ok(ws) = open_from(ip(1), server.addr, "room=class").await {
                return ws;
            }
            sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(again.is_ok(), "127.0.0.1 got no place back");
}

#[tokio::test]
async fn a_room_filled_by_one_address_still_admits_another_address() {
    let server = TestServer::with_limits(Limits {
        max_peers_per_room: 4,
        max_room_peers_per_address: 3,
        ..Limits::default()
    })
    .await;

    // Tried: one address fills a room of 4 with made-up identities (a key is free);
    // its fourth hello is refused (room_full, with the address's share as the reason),
    // and a classmate from another address still joins. Before the fix the fourth
    // identity took the last place and the classmate got room_full.
    let mut fakes = Vec::new();
    for n in 1..=3 {
        fakes.push(join_from(ip(1), server.addr, "class", &key(100 + n)).await);
    }
    let mut fourth = hello_from(ip(1), server.addr, "class", &key(104)).await;
    let (errors, frame) = read_to_close(&mut fourth).await;
    assert_eq!(errors, [ErrorCode::RoomFull]);
    let frame = frame.expect("a close frame");
    assert_eq!(frame.reason.as_str(), "room_full");
    assert_eq!(u16::from(frame.code), 1013);

    let mut classmate = join_from(ip(2), server.addr, "class", &key(1)).await;
    assert_eq!(classmate.peers.len(), 3);
    // The first fake heard of the other two, then of the classmate.
    for joined in [fakes[1].id, fakes[2].id, classmate.id] {
        assert_eq!(
            fakes[0].recv().await,
            ServerMessage::PeerJoined { peer_id: joined }
        );
    }
    classmate.signal(fakes[0].id, json!("hi")).await;
    fakes[0].expect_signal(classmate.id, json!("hi")).await;

    // The room is now full for everyone alike.
    let mut late = hello_from(ip(3), server.addr, "class", &key(2)).await;
    expect_refusal(&mut late, ErrorCode::RoomFull, 1013).await;
    let metrics = server.metrics_from(ip(4)).await.unwrap();
    assert_eq!(metrics["tabchain_signaling_room_address_full_total"], 1.0);
    assert_eq!(
        metrics["tabchain_signaling_refusals_total{code=\"room_full\"}"],
        2.0
    );
}

#[tokio::test]
async fn a_class_of_30_with_three_tabs_each_fits_behind_one_address_by_default() {
    const TABS: u32 = 90;
    let server = TestServer::with_limits(Limits::default()).await;
    // Tried: 90 tabs from 127.0.0.1 (a school NAT) in one room, with the default
    // limits. All join; the defaults leave the room's last 32 places to other
    // addresses (--max-room-peers-per-address 96 of --max-peers-per-room 128).
    let mut tabs = Vec::new();
    for n in 0..TABS {
        tabs.push(join_from(ip(1), server.addr, "class", &key(n)).await);
    }
    assert_eq!(tabs.last().unwrap().peers.len(), TABS as usize - 1);
    server
        .await_gauges(f64::from(TABS), 1.0, f64::from(TABS))
        .await;
}

#[tokio::test]
async fn refused_messages_do_not_keep_a_tab_from_its_idle_timeout() {
    let idle_timeout = Duration::from_secs(1);
    let server = TestServer::with_limits(Limits {
        idle_timeout,
        max_errors: 1000,
        ..Limits::default()
    })
    .await;
    let mut busy = join_from(ip(1), server.addr, "r", &key(1)).await;
    let junk = join_from(ip(2), server.addr, "r", &key(2)).await;
    busy.recv().await; // junk joined

    // Tried: every 100 ms for 3 s, junk sends a refused message: in turn text that
    // is not JSON, a binary frame and a signal to a peer that is not there (which
    // does not even count against --max-errors). busy sends junk an accepted signal
    // as often. Before the fix every text or binary frame reset the idle timer, so
    // junk kept its place for as long as it liked; now it is closed with
    // idle_timeout about 1 s after it joined, and busy stays.
    let joined = Instant::now();
    let nobody = key(999).public_key().node_id();
    let (mut junk_tx, mut junk_rx) = junk.ws.split();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut sent = 0u32;
    let mut errors = Vec::new();
    let closed_after = loop {
        tokio::select! {
            _ = tick.tick(), if joined.elapsed() < Duration::from_secs(3) => {
                let message = match sent % 3 {
                    0 => Message::text("{\"type\": \"signal\", "),
                    1 => Message::binary(vec![0u8; 8]),
                    _ => Message::text(
                        json!({"type": "signal", "to": nobody.to_string(), "payload": 1})
                            .to_string(),
                    ),
                };
                // The socket may be closing under the last few.
                let _ = junk_tx.send(message).await;
                busy.signal(junk.id, json!(sent)).await;
                sent += 1;
            }
            frame = junk_rx.next() => match frame {
                Some(Ok(Message::Text(text))) => match ServerMessage::parse(&text).unwrap() {
                    ServerMessage::Error { code, .. } => errors.push(code),
                    ServerMessage::Signal { .. } => {}
                    other => panic!("unexpected {other:?}"),
                },
                Some(Ok(Message::Close(frame))) => {
                    assert_eq!(frame.unwrap().reason.as_str(), "idle_timeout");
                    break joined.elapsed();
                }
                Some(Ok(_)) => {}
                other => panic!("junk's socket ended without a close: {other:?}"),
            },
        }
    };
    assert_eq!(errors.last(), Some(&ErrorCode::IdleTimeout), "{errors:?}");
    assert!(errors.contains(&ErrorCode::MalformedJson));
    assert!(errors.contains(&ErrorCode::BinaryFrame));
    assert!(errors.contains(&ErrorCode::UnknownPeer));
    assert!(
        closed_after >= idle_timeout && closed_after < idle_timeout + Duration::from_secs(1),
        "junk was closed {closed_after:?} after joining, having sent {sent} refused messages"
    );
    // busy, whose messages were accepted all along, is still there.
    loop {
        match busy.recv().await {
            ServerMessage::PeerLeft { peer_id } => {
                assert_eq!(peer_id, junk.id);
                break;
            }
            ServerMessage::Error {
                code: ErrorCode::UnknownPeer,
                ..
            } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    busy.signal(nobody, json!("still here")).await;
    busy.expect_error(ErrorCode::UnknownPeer).await;
}
