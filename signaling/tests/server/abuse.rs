//! Tabs that misbehave: each gets an error, past a limit a close with a reason, and a
//! well-behaved tab in the same room notices nothing but the `peer_left`.

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tabchain_signal::{ClientMessage, ErrorCode, ServerMessage};
use tabchain_signaling::Limits;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{key, read_to_close, Client, TestServer};

/// Two good tabs and one that is about to misbehave, all in room "r".
async fn room_of_three(server: &TestServer) -> (Client, Client, Client) {
    let mut a = server.join("r", &key(1)).await;
    let mut b = server.join("r", &key(2)).await;
    let bad = server.join("r", &key(666)).await;
    a.recv().await;
    a.recv().await;
    b.recv().await;
    (a, b, bad)
}

/// The good tabs still reach each other.
async fn still_talking(a: &mut Client, b: &mut Client) {
    a.signal(b.id, json!({"sdp": "offer"})).await;
    b.expect_signal(a.id, json!({"sdp": "offer"})).await;
    b.signal(a.id, json!({"sdp": "answer"})).await;
    a.expect_signal(b.id, json!({"sdp": "answer"})).await;
}

#[tokio::test]
async fn malformed_messages_get_errors_then_a_close() {
    let server = TestServer::with_limits(Limits {
        max_errors: 3,
        ..Limits::default()
    })
    .await;
    let (mut a, mut b, mut bad) = room_of_three(&server).await;

    // Tried: text that is not JSON. An error; the tab stays in the room.
    bad.send_text("{\"type\": \"signal\", ").await;
    bad.expect_error(ErrorCode::MalformedJson).await;
    bad.signal(a.id, json!("still joined")).await;
    a.expect_signal(bad.id, json!("still joined")).await;

    // Tried: a type only the server sends, and one that does not exist.
    bad.send_text(r#"{"type":"welcome","peer_id":"x","peers":[]}"#)
        .await;
    bad.expect_error(ErrorCode::UnknownType).await;
    // Tried: a binary frame.
    bad.ws.send(Message::binary(vec![0u8; 16])).await.unwrap();
    bad.expect_error(ErrorCode::BinaryFrame).await;
    still_talking(&mut a, &mut b).await;

    // Tried: a fourth refused message, one past the limit of three: closed.
    bad.send_text(r#"{"type":"launch_missiles"}"#).await;
    let (errors, frame) = read_to_close(&mut bad.ws).await;
    assert_eq!(errors, [ErrorCode::UnknownType]);
    assert_eq!(frame.unwrap().reason.as_str(), "unknown_type");

    assert_eq!(a.recv().await, ServerMessage::PeerLeft { peer_id: bad.id });
    assert_eq!(b.recv().await, ServerMessage::PeerLeft { peer_id: bad.id });
    still_talking(&mut a, &mut b).await;
    let metrics = server.metrics().await;
    assert_eq!(
        metrics["tabchain_signaling_refusals_total{code=\"unknown_type\"}"],
        2.0
    );
    assert_eq!(
        metrics["tabchain_signaling_refusals_total{code=\"malformed_json\"}"],
        1.0
    );
    assert_eq!(
        metrics["tabchain_signaling_refusals_total{code=\"binary_frame\"}"],
        1.0
    );
}

#[tokio::test]
async fn an_oversized_frame_gets_an_error_and_a_close() {
    let server = TestServer::with_limits(Limits {
        max_frame: 1024,
        ..Limits::default()
    })
    .await;
    let (mut a, mut b, mut bad) = room_of_three(&server).await;

    // Tried: a 1500-byte signal when 1024 bytes are allowed.
    bad.signal(a.id, json!("x".repeat(1500))).await;
    let (errors, frame) = read_to_close(&mut bad.ws).await;
    assert_eq!(errors, [ErrorCode::FrameTooLarge]);
    let frame = frame.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1009);
    assert_eq!(frame.reason.as_str(), "frame_too_large");
    assert_eq!(a.recv().await, ServerMessage::PeerLeft { peer_id: bad.id });
    b.recv().await;

    // Tried: a 1 MiB frame, far past what the server reads at all: the socket is cut
    // (with the error and close frame when the tab is still reading).
    let mut huge = server.join("r", &key(667)).await;
    a.recv().await;
    b.recv().await;
    huge.send_text(&"x".repeat(1 << 20)).await;
    read_to_close(&mut huge.ws).await;
    assert_eq!(a.recv().await, ServerMessage::PeerLeft { peer_id: huge.id });
    b.recv().await;

    // A message of exactly the limit passes.
    let frame = |payload: &str| {
        format!(
            r#"{{"type":"signal","to":"{}","payload":"{payload}"}}"#,
            b.id
        )
    };
    let payload = "y".repeat(1024 - frame("").len());
    assert_eq!(frame(&payload).len(), 1024);
    a.send_text(&frame(&payload)).await;
    b.expect_signal(a.id, json!(payload)).await;
    still_talking(&mut a, &mut b).await;
}

#[tokio::test]
async fn a_flood_is_rate_limited_then_closed() {
    let server = TestServer::with_limits(Limits {
        rate: 20,
        burst: 20,
        max_errors: 5,
        ..Limits::default()
    })
    .await;
    let (mut a, mut b, mut bad) = room_of_three(&server).await;

    // Tried: 300 signals at once to a, with a budget of 20 a second (bursts of 20).
    for n in 0..300 {
        bad.signal(a.id, json!(n)).await;
    }
    let (errors, frame) = read_to_close(&mut bad.ws).await;
    assert!(
        !errors.is_empty() && errors.iter().all(|c| *c == ErrorCode::RateLimited),
        "{errors:?}"
    );
    assert_eq!(frame.unwrap().reason.as_str(), "rate_limited");

    // a got the flooder's first signals, in order, then its departure; nothing more.
    let mut relayed = 0;
    loop {
        match a.recv().await {
            ServerMessage::Signal { from, payload } => {
                assert_eq!((from, payload), (bad.id, json!(relayed)));
                relayed += 1;
            }
            ServerMessage::PeerLeft { peer_id } => {
                assert_eq!(peer_id, bad.id);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!((20..60).contains(&relayed), "{relayed} relayed");
    assert_eq!(b.recv().await, ServerMessage::PeerLeft { peer_id: bad.id });
    still_talking(&mut a, &mut b).await;
}

#[tokio::test]
async fn a_tab_that_does_not_read_is_dropped_not_buffered() {
    let server = TestServer::with_limits(Limits {
        queue: 4,
        queue_timeout: std::time::Duration::from_millis(200),
        ..Limits::default()
    })
    .await;
    let (mut a, mut b, slow) = room_of_three(&server).await;

    // Tried: a tab that never reads while a sends it signals of 60 KB (300 of them
    // would be 18 MB, more than the kernel buffers): once the kernel buffers are full
    // its queue of 4 fills, stays full, and it is dropped. a reads as it sends, as a
    // browser does.
    let payload = json!("z".repeat(60_000));
    let (mut a_tx, mut a_rx) = a.ws.split();
    let mut sent = 0;
    loop {
        let signal = ClientMessage::Signal {
            to: slow.id,
            payload: payload.clone(),
        };
        tokio::select! {
            frame = a_rx.next() => match frame {
                Some(Ok(Message::Text(text))) => match ServerMessage::parse(&text).unwrap() {
                    ServerMessage::PeerLeft { peer_id } => {
                        assert_eq!(peer_id, slow.id);
                        break;
                    }
                    other => panic!("unexpected {other:?}"),
                },
                Some(Ok(_)) => {}
                other => panic!("a lost its socket: {other:?}"),
            },
            result = a_tx.send(Message::text(signal.to_json())), if sent < 300 => {
                result.unwrap();
                sent += 1;
            }
        }
    }
    assert!(sent < 300, "dropped only after all {sent} signals");
    a.ws = a_tx.reunite(a_rx).unwrap();
    assert_eq!(b.recv().await, ServerMessage::PeerLeft { peer_id: slow.id });
    let metrics = server.metrics().await;
    assert_eq!(
        metrics["tabchain_signaling_refusals_total{code=\"slow_consumer\"}"],
        1.0
    );
    // Signals a had in flight when slow left come back as unknown_peer. A marker to b
    // comes after all of them, so b's answer to it comes after their errors.
    a.signal(b.id, json!("marker")).await;
    b.expect_signal(a.id, json!("marker")).await;
    b.signal(a.id, json!("answer")).await;
    loop {
        match a.recv().await {
            ServerMessage::Error {
                code: ErrorCode::UnknownPeer,
                ..
            } => continue,
            message => {
                assert_eq!(
                    message,
                    ServerMessage::Signal {
                        from: b.id,
                        payload: json!("answer")
                    }
                );
                break;
            }
        }
    }
    still_talking(&mut a, &mut b).await;
    drop(slow);
}
