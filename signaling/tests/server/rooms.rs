//! Joining, relaying and leaving, as well-behaved tabs see it.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tabchain_signal::{hello, ClientMessage, ErrorCode, Nonce, ServerMessage};
use tabchain_signaling::Limits;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::common::{
    expect_refusal, http_get, key, read_to_close, room_name, send, TestServer, Ws, PATIENCE,
};

#[tokio::test]
async fn joiners_get_the_peer_list_and_the_room_hears_of_them() {
    let server = TestServer::start(Default::default()).await;
    let mut a = server.join("class", &key(1)).await;
    assert!(a.peers.is_empty());
    let mut b = server.join("class", &key(2)).await;
    assert_eq!(b.peers, [a.id]);
    assert_eq!(a.recv().await, ServerMessage::PeerJoined { peer_id: b.id });
    let c = server.join("class", &key(3)).await;
    let mut listed = c.peers.clone();
    listed.sort();
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(a.recv().await, ServerMessage::PeerJoined { peer_id: c.id });
    assert_eq!(b.recv().await, ServerMessage::PeerJoined { peer_id: c.id });

    // Another room is another network: nobody here hears of it.
    let other = server.join("other-room", &key(4)).await;
    assert!(other.peers.is_empty());
    server.await_gauges(4.0, 2.0, 4.0).await;
}

#[tokio::test]
async fn signals_are_relayed_both_ways_with_any_json_payload() {
    let server = TestServer::start(Default::default()).await;
    let mut a = server.join("r", &key(1)).await;
    let mut b = server.join("r", &key(2)).await;
    a.recv().await; // b joined

    let offer = json!({"type": "offer", "sdp": "v=0\r\n..."});
    a.signal(b.id, offer.clone()).await;
    b.expect_signal(a.id, offer).await;

    let answer = json!({"type": "answer", "sdp": "v=0"});
    b.signal(a.id, answer.clone()).await;
    a.expect_signal(b.id, answer).await;

    for payload in [
        json!(null),
        json!(42),
        json!("candidate:1 1 udp"),
        json!([1, {"x": []}]),
    ] {
        a.signal(b.id, payload.clone()).await;
        b.expect_signal(a.id, payload).await;
    }
    let metrics = server.metrics().await;
    assert_eq!(metrics["tabchain_signaling_messages_relayed_total"], 6.0);
}

#[tokio::test]
async fn from_is_set_by_the_server_and_cannot_be_forged() {
    let server = TestServer::start(Default::default()).await;
    let mut a = server.join("r", &key(1)).await;
    let mut b = server.join("r", &key(2)).await;
    let c = server.join("r", &key(3)).await;
    a.recv().await;
    a.recv().await;
    b.recv().await;

    // Tried: a signal carrying its own "from" naming c. The field is not part of a
    // client's signal; b must see a as the sender.
    a.send_text(&format!(
        r#"{{"type":"signal","to":"{}","from":"{}","payload":"hi"}}"#,
        b.id, c.id
    ))
    .await;
    b.expect_signal(a.id, json!("hi")).await;

    // Tried: the server's own message shape (from, no to): refused, nothing relayed.
    a.send_text(&format!(
        r#"{{"type":"signal","from":"{}","payload":"hi"}}"#,
        c.id
    ))
    .await;
    a.expect_error(ErrorCode::InvalidMessage).await;
    a.signal(b.id, json!("after")).await;
    b.expect_signal(a.id, json!("after")).await;
}

#[tokio::test]
async fn a_signal_to_an_unknown_peer_is_an_error_and_the_connection_stays() {
    let server = TestServer::start(Default::default()).await;
    let mut a = server.join("r", &key(1)).await;
    let mut b = server.join("r", &key(2)).await;
    let elsewhere = server.join("other", &key(3)).await;
    a.recv().await;

    // Tried: a peer id nobody has, and a peer in another room.
    a.signal(key(99).public_key().node_id(), json!(1)).await;
    a.expect_error(ErrorCode::UnknownPeer).await;
    a.signal(elsewhere.id, json!(1)).await;
    a.expect_error(ErrorCode::UnknownPeer).await;

    a.signal(b.id, json!("still here")).await;
    b.expect_signal(a.id, json!("still here")).await;
}

#[tokio::test]
async fn a_wrong_signature_is_refused() {
    let server = TestServer::start(Default::default()).await;
    // Tried: a valid signature, but over another nonce than the one sent.
    let (mut ws, _nonce) = server.challenge("r").await;
    let stale = hello(&key(1), &room_name("r"), &Nonce([7; 32]));
    send(&mut ws, &stale).await;
    expect_refusal(&mut ws, ErrorCode::BadSignature, 1008).await;

    // Tried: a signature made for another room.
    let (mut ws, nonce) = server.challenge("r").await;
    let other_room = hello(&key(1), &room_name("s"), &nonce);
    send(&mut ws, &other_room).await;
    expect_refusal(&mut ws, ErrorCode::BadSignature, 1008).await;

    // Tried: a's key with b's signature.
    let (mut ws, nonce) = server.challenge("r").await;
    let ClientMessage::Hello { signature, .. } = hello(&key(2), &room_name("r"), &nonce) else {
        unreachable!()
    };
    let forged = ClientMessage::Hello {
        public_key: key(1).public_key(),
        signature,
    };
    send(&mut ws, &forged).await;
    expect_refusal(&mut ws, ErrorCode::BadSignature, 1008).await;
    server.await_gauges(0.0, 0.0, 0.0).await;
}

#[tokio::test]
async fn a_malformed_key_is_refused() {
    let server = TestServer::start(Default::default()).await;
    let sig = "00".repeat(64);
    // Tried: a key that is not hex, a key of the wrong length, and 32 bytes that are
    // not a point on the curve (y = 2).
    let mut not_a_point = "02".to_owned();
    not_a_point.push_str(&"00".repeat(31));
    for public_key in ["zz".repeat(32), "ab".repeat(16), not_a_point] {
        let (mut ws, _) = server.challenge("r").await;
        ws_send_text(
            &mut ws,
            &format!(r#"{{"type":"hello","public_key":"{public_key}","signature":"{sig}"}}"#),
        )
        .await;
        expect_refusal(&mut ws, ErrorCode::BadPublicKey, 1008).await;
    }
}

async fn ws_send_text(ws: &mut Ws, text: &str) {
    ws.send(tokio_tungstenite::tungstenite::Message::text(text))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_id_already_in_the_room_is_refused_and_the_first_keeps_its_place() {
    let server = TestServer::start(Default::default()).await;
    let mut first = server.join("r", &key(1)).await;
    let mut b = server.join("r", &key(2)).await;
    first.recv().await;

    // Tried: the same key joining the same room from a second socket.
    let (mut ws, nonce) = server.challenge("r").await;
    send(&mut ws, &hello(&key(1), &room_name("r"), &nonce)).await;
    expect_refusal(&mut ws, ErrorCode::DuplicatePeer, 1008).await;

    b.signal(first.id, json!("to the first")).await;
    first.expect_signal(b.id, json!("to the first")).await;
    // The same key may be in another room.
    server.join("elsewhere", &key(1)).await;
}

#[tokio::test]
async fn a_full_room_and_a_full_server_refuse_newcomers() {
    let server = TestServer::with_limits(Limits {
        max_peers_per_room: 2,
        max_rooms: 2,
        ..Limits::default()
    })
    .await;
    let _a = server.join("r", &key(1)).await;
    let _b = server.join("r", &key(2)).await;
    // Tried: a third peer in a room of two.
    let (mut ws, nonce) = server.challenge("r").await;
    send(&mut ws, &hello(&key(3), &room_name("r"), &nonce)).await;
    expect_refusal(&mut ws, ErrorCode::RoomFull, 1013).await;

    // Tried: a third room when two may be open.
    let _c = server.join("s", &key(3)).await;
    let (mut ws, nonce) = server.challenge("t").await;
    send(&mut ws, &hello(&key(4), &room_name("t"), &nonce)).await;
    expect_refusal(&mut ws, ErrorCode::TooManyRooms, 1013).await;

    // A full server closes a socket as soon as it accepts it (a refusal costs it
    // nothing), so there is no WebSocket to carry an error: the upgrade fails.
    let server = TestServer::with_limits(Limits {
        max_connections: 1,
        ..Limits::default()
    })
    .await;
    let only = server.join("r", &key(1)).await;
    // Tried: a second connection when one is allowed.
    let url = format!("ws://{}/ws?room=r", server.addr);
    let refused = timeout(PATIENCE, connect_async(url))
        .await
        .expect("refused in time");
    assert!(refused.is_err(), "a second WebSocket was upgraded");
    drop(only);
    // Once the first is gone, the scrape fits, and shows the refusal.
    let metrics = timeout(PATIENCE, async {
        loop {
            if let Some(metrics) = server.try_metrics().await {
                return metrics;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the server frees its slot");
    // At least the WebSocket; scrapes tried before the slot was free count too.
    assert!(metrics["tabchain_signaling_connections_refused_total{reason=\"server_full\"}"] >= 1.0);
}

#[tokio::test]
async fn peer_left_reaches_the_room_within_100ms_of_a_close() {
    let server = TestServer::start(Default::default()).await;
    let mut a = server.join("r", &key(1)).await;
    let mut b = server.join("r", &key(2)).await;
    let c = server.join("r", &key(3)).await;
    a.recv().await;
    a.recv().await;
    b.recv().await;

    // A clean close frame...
    let closed_at = Instant::now();
    let mut c_ws = c.ws;
    c_ws.close(None).await.unwrap();
    let left = timeout(Duration::from_millis(100), a.recv()).await;
    assert_eq!(left.ok(), Some(ServerMessage::PeerLeft { peer_id: c.id }));
    assert_eq!(b.recv().await, ServerMessage::PeerLeft { peer_id: c.id });
    assert!(closed_at.elapsed() < Duration::from_millis(100));

    // ...and a socket that just goes away, as when a tab's process is killed.
    drop(b.ws);
    let left = timeout(Duration::from_millis(100), a.recv()).await;
    assert_eq!(left.ok(), Some(ServerMessage::PeerLeft { peer_id: b.id }));
    server.await_gauges(1.0, 1.0, 1.0).await;
}

#[tokio::test]
async fn a_tab_that_stops_answering_pings_is_dropped() {
    let server = TestServer::with_limits(Limits {
        ping_interval: Duration::from_millis(50),
        ping_timeout: Duration::from_millis(200),
        ..Limits::default()
    })
    .await;
    let mut a = server.join("r", &key(1)).await;
    // b never reads its socket again, so it never answers a ping (a frozen tab, a
    // laptop that lost its network without a reset).
    let started = Instant::now();
    let b = server.join("r", &key(2)).await;
    assert_eq!(a.recv().await, ServerMessage::PeerJoined { peer_id: b.id });

    // a keeps reading, so it answers pings and stays; b is dropped, and not before the
    // ping timeout has passed since its hello.
    assert_eq!(a.recv().await, ServerMessage::PeerLeft { peer_id: b.id });
    assert!(started.elapsed() >= Duration::from_millis(200));

    // Now b may read: it finds why it was closed. Meanwhile a, reading (and so
    // answering pings) for longer than the ping timeout, hears nothing and stays.
    let mut b_ws = b.ws;
    let (quiet, (errors, frame)) = tokio::join!(
        timeout(Duration::from_millis(400), a.recv()),
        read_to_close(&mut b_ws)
    );
    assert!(quiet.is_err(), "a got {quiet:?}");
    assert_eq!(errors, [ErrorCode::KeepaliveTimeout]);
    assert_eq!(frame.unwrap().reason.as_str(), "keepalive_timeout");
    server.await_gauges(1.0, 1.0, 1.0).await;
}

#[tokio::test]
async fn a_hello_must_come_first_and_in_time() {
    let server = TestServer::with_limits(Limits {
        handshake_timeout: Duration::from_millis(200),
        ..Limits::default()
    })
    .await;
    // Tried: saying nothing after the challenge.
    let (mut ws, _) = server.challenge("r").await;
    expect_refusal(&mut ws, ErrorCode::HandshakeTimeout, 1008).await;

    // Tried: a signal before the hello.
    let (mut ws, _) = server.challenge("r").await;
    send(
        &mut ws,
        &ClientMessage::Signal {
            to: key(1).public_key().node_id(),
            payload: json!(1),
        },
    )
    .await;
    expect_refusal(&mut ws, ErrorCode::UnexpectedMessage, 1008).await;

    // Tried: a second hello after joining: refused, but the tab keeps its place.
    let mut a = server.join("r", &key(1)).await;
    a.send_text(&hello(&key(1), &room_name("r"), &Nonce([0; 32])).to_json())
        .await;
    a.expect_error(ErrorCode::UnexpectedMessage).await;
    server.await_gauges(1.0, 1.0, 1.0).await;
}

#[tokio::test]
async fn a_bad_room_name_is_refused() {
    let server = TestServer::start(Default::default()).await;
    // Tried: no room, an empty room, a space, a slash, 65 characters.
    let long = format!("room={}", "x".repeat(65));
    for query in ["", "room=", "room=a%20b", "room=a%2Fb", long.as_str()] {
        let mut ws = server.open(query).await;
        expect_refusal(&mut ws, ErrorCode::BadRoom, 1008).await;
    }
}

#[tokio::test]
async fn shutdown_closes_every_socket_with_a_reason() {
    let server = TestServer::start(Default::default()).await;
    let mut a = server.join("r", &key(1)).await;
    let (mut half_way, _) = server.challenge("r").await;
    server.stop().await;
    let (errors, frame) = read_to_close(&mut a.ws).await;
    assert_eq!(errors, [ErrorCode::ShuttingDown]);
    let frame = frame.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Away);
    assert_eq!(frame.reason.as_str(), "shutting_down");
    let (errors, _) = read_to_close(&mut half_way).await;
    assert_eq!(errors, [ErrorCode::ShuttingDown]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tabs_come_and_go_and_leave_nothing_behind() {
    const TABS: u32 = 1000;
    const ROOM: u32 = 30;
    // All the tabs come from 127.0.0.1: the per-address limits are lifted.
    let server = TestServer::with_limits(Limits {
        max_per_address: TABS as usize + 10,
        ..Limits::default()
    })
    .await;
    let runtime = tokio::runtime::Handle::current().metrics();
    // Once the server answered a request (and that connection's task has ended) it
    // runs all its own tasks: what is alive then is the baseline.
    let _ = http_get(server.addr, "/healthz", &[]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let tasks_before = runtime.num_alive_tasks();

    let server = std::sync::Arc::new(server);
    let joins: Vec<_> = (0..TABS)
        .map(|n| {
            let server = server.clone();
            tokio::spawn(async move { server.join(&format!("room-{}", n / ROOM), &key(n)).await })
        })
        .collect();
    let mut clients = Vec::new();
    for join in joins {
        clients.push(join.await.unwrap());
    }
    let rooms = TABS.div_ceil(ROOM);
    server
        .await_gauges(f64::from(TABS), f64::from(rooms), f64::from(TABS))
        .await;

    // Half close cleanly, half just vanish.
    for (n, mut client) in clients.into_iter().enumerate() {
        if n % 2 == 0 {
            tokio::spawn(async move {
                let _ = client.ws.close(None).await;
                while client.ws.next().await.is_some() {}
            });
        }
    }
    server.await_gauges(0.0, 0.0, 0.0).await;
    let settled = timeout(PATIENCE, async {
        while runtime.num_alive_tasks() > tasks_before {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        settled.is_ok(),
        "{} tasks alive, {tasks_before} before",
        runtime.num_alive_tasks()
    );
}
