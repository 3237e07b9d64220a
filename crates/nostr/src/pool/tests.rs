//! The pool against relays played by the test: frames are moved by hand, so every
//! event's path is visible.

use super::*;
use serde_json::{json, Value};
use tabchain_core::Params;

const T0: Timestamp = Timestamp(1_800_000_000_000);

fn room(name: &str, secret: &str) -> RoomKey {
    RoomKey::derive(Params::new(name).genesis().hash(), secret)
}

fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed([seed; 32])
}

fn urls(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("ws://relay{i}.test")).collect()
}

fn pool(room: &RoomKey, seed: u8, relays: usize) -> Pool {
    let mut pool = Pool::new(room.clone(), key(seed), &urls(relays), [seed; 32]);
    pool.start();
    pool
}

/// Opens every relay the pool asks for; returns what it then sends.
fn open_all(pool: &mut Pool, now: Timestamp) -> Vec<(usize, String)> {
    let mut sent = Vec::new();
    for action in drain(pool) {
        match action {
            PoolAction::Connect { relay, .. } => {
                pool.opened(now, relay);
                pool.received(now, relay, r#"["EOSE","tabchain"]"#);
            }
            PoolAction::Send { relay, text } => sent.push((relay, text)),
            other => panic!("unexpected {other:?}"),
        }
    }
    sent.extend(sends(pool));
    sent
}

fn drain(pool: &mut Pool) -> Vec<PoolAction> {
    std::iter::from_fn(|| pool.poll_action()).collect()
}

fn sends(pool: &mut Pool) -> Vec<(usize, String)> {
    drain(pool)
        .into_iter()
        .filter_map(|action| match action {
            PoolAction::Send { relay, text } => Some((relay, text)),
            _ => None,
        })
        .collect()
}

fn heard(pool: &mut Pool) -> Vec<Note> {
    drain(pool)
        .into_iter()
        .filter_map(|action| match action {
            PoolAction::Heard(note) => Some(note),
            _ => None,
        })
        .collect()
}

/// The event of a published `["EVENT", event]` frame.
fn event_of(text: &str) -> Value {
    let frame: Value = serde_json::from_str(text).unwrap();
    assert_eq!(frame[0], "EVENT", "{text}");
    frame[1].clone()
}

/// What relay `relay` sends its subscribers for a published frame.
fn relayed(text: &str) -> String {
    json!(["EVENT", "tabchain", event_of(text)]).to_string()
}

#[test]
fn opening_a_relay_subscribes_to_the_room_topic_and_says_hello() {
    let lobby = room("lobby", "");
    let mut a = pool(&lobby, 1, 1);
    let sent = open_all(&mut a, T0);
    let req: Value = serde_json::from_str(&sent[0].1).unwrap();
    assert_eq!(req[0], "REQ");
    assert_eq!(req[2]["#t"][0], lobby.topic());
    assert_eq!(req[2]["kinds"][0], KIND);
    let hello = event_of(&sent[1].1);
    assert_eq!(hello["kind"], KIND);
    assert_eq!(hello["tags"][0][1], lobby.topic());
    let note = open(&lobby, hello["content"].as_str().unwrap()).unwrap();
    assert_eq!(note.body, Body::Hello);
    // The event key is a throwaway, not the node's.
    assert_ne!(hello["pubkey"], key(1).public_key().to_string());
    assert_eq!(a.status()[0].state, RelayState::Answering);
}

#[test]
fn a_hello_is_answered_and_both_tabs_learn_of_each_other() {
    let lobby = room("lobby", "");
    let (mut a, mut b) = (pool(&lobby, 1, 1), pool(&lobby, 2, 1));
    open_all(&mut b, T0);
    let a_hello = open_all(&mut a, T0)[1].1.clone();
    b.received(T0, 0, &relayed(&a_hello));
    let notes = heard(&mut b);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].from, key(1).public_key().node_id());
    assert_eq!(notes[0].body, Body::Hello);
    b.handle_timeout(T0);
    let answer = sends(&mut b);
    assert_eq!(answer.len(), 1);
    a.received(T0, 0, &relayed(&answer[0].1));
    let notes = heard(&mut a);
    assert_eq!(notes[0].from, key(2).public_key().node_id());
    assert_eq!(notes[0].body, Body::Here);
}

#[test]
fn a_storm_of_hellos_gets_one_answer_per_gap() {
    // Tried: 40 tabs say hello within one second.
    let lobby = room("lobby", "");
    let mut b = pool(&lobby, 2, 1);
    open_all(&mut b, T0);
    b.set_looking(false);
    let (mut answers, mut hellos) = (0, 0);
    let mut count = |b: &mut Pool| {
        for action in drain(b) {
            match action {
                PoolAction::Send { .. } => answers += 1,
                PoolAction::Heard(_) => hellos += 1,
                _ => {}
            }
        }
    };
    for seed in 10..50 {
        let mut other = pool(&lobby, seed, 1);
        let hello = open_all(&mut other, T0)[1].1.clone();
        let now = T0.saturating_add(u64::from(seed) * 20);
        b.received(now, 0, &relayed(&hello));
        b.handle_timeout(now);
        count(&mut b);
    }
    let mut now = T0.saturating_add(1_000);
    while now < T0.saturating_add(HERE_GAP_MS * 2) {
        b.handle_timeout(now);
        count(&mut b);
        now = now.saturating_add(100);
    }
    assert_eq!(hellos, 40, "every tab is heard");
    assert!(answers <= 2, "{answers} answers in two gaps");
}

#[test]
fn signals_for_one_link_go_in_one_note_to_every_relay_and_are_taken_once() {
    let lobby = room("lobby", "");
    let (mut a, mut b) = (pool(&lobby, 1, 2), pool(&lobby, 2, 2));
    open_all(&mut a, T0);
    open_all(&mut b, T0);
    let to = key(2).public_key().node_id();
    let offer = Signal::Offer {
        session: 4,
        sdp: "v=0".into(),
    };
    a.send_signal(T0, to, offer.clone()).unwrap();
    for i in 0..3 {
        let candidate = tabchain_node::link::Candidate {
            candidate: format!("candidate:{i}"),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
        };
        a.send_signal(
            T0.saturating_add(10),
            to,
            Signal::Candidate {
                session: 4,
                candidate,
            },
        )
        .unwrap();
    }
    a.handle_timeout(T0.saturating_add(50));
    assert!(sends(&mut a).is_empty(), "the batch waits for the rest");
    a.handle_timeout(T0.saturating_add(COALESCE_MS));
    let sent = sends(&mut a);
    assert_eq!(sent.iter().map(|(r, _)| *r).collect::<Vec<_>>(), [0, 1]);
    // Both relays pass it on: b takes it once.
    for (relay, text) in &sent {
        b.received(T0.saturating_add(200), *relay, &relayed(text));
    }
    let notes = heard(&mut b);
    assert_eq!(notes.len(), 1);
    let Body::Signals { signals } = &notes[0].body else {
        panic!("{notes:?}")
    };
    assert_eq!(signals.len(), 4);
    assert_eq!(signals[0], offer);
}

#[test]
fn replays_copies_strangers_mail_and_our_own_echo_are_dropped() {
    let lobby = room("lobby", "");
    let (mut a, mut b) = (pool(&lobby, 1, 1), pool(&lobby, 2, 1));
    open_all(&mut b, T0);
    let hello = open_all(&mut a, T0)[1].1.clone();
    // Tried: the hello replayed a minute and a bit later, by a relay or any client.
    b.received(T0.saturating_add(FRESH_MS + 1), 0, &relayed(&hello));
    assert!(heard(&mut b).is_empty(), "a stale note is dropped");
    b.received(T0, 0, &relayed(&hello));
    assert_eq!(heard(&mut b).len(), 1);
    // Tried: the same content re-published in a new event by another client.
    let mut copy = event_of(&hello);
    copy["id"] = json!("00".repeat(32));
    copy["pubkey"] = json!("11".repeat(32));
    b.received(T0, 0, &json!(["EVENT", "tabchain", copy]).to_string());
    assert!(heard(&mut b).is_empty(), "a copy is the same note");
    // Our own hello coming back is not a peer.
    a.received(T0, 0, &relayed(&hello));
    assert!(heard(&mut a).is_empty());
    // Signals for a third tab are not ours to take.
    let c = key(3).public_key().node_id();
    a.send_signal(
        T0,
        c,
        Signal::Answer {
            session: 1,
            sdp: "x".into(),
        },
    )
    .unwrap();
    a.handle_timeout(T0.saturating_add(COALESCE_MS));
    let to_c = sends(&mut a);
    b.received(T0, 0, &relayed(&to_c[0].1));
    assert!(heard(&mut b).is_empty());
}

#[test]
fn other_rooms_secrets_garbage_and_forgeries_are_ignored() {
    let lobby = room("lobby", "");
    let mut b = pool(&lobby, 2, 1);
    open_all(&mut b, T0);
    // Tried: the same room name with another secret, published under our topic.
    let mut outsider = pool(&room("lobby", "other"), 1, 1);
    let hello = open_all(&mut outsider, T0)[1].1.clone();
    let mut event = event_of(&hello);
    event["tags"] = json!([["t", lobby.topic()]]);
    b.received(T0, 0, &json!(["EVENT", "tabchain", event]).to_string());
    // Tried: frames that are not JSON, not NIP-01, a megabyte of it, an event of another
    // kind, and content that is not base64.
    for garbage in [
        "\u{0}\u{1}".to_owned(),
        format!("[\"NOTICE\",\"{}\"]", "x".repeat(1 << 20)),
        r#"["EVENT"]"#.to_owned(),
        json!(["EVENT", "tabchain", {"id":"", "pubkey":"", "created_at":0, "kind":1,
            "tags":[["t", lobby.topic()]], "content":"", "sig":""}])
        .to_string(),
        json!(["EVENT", "tabchain", {"id":"", "pubkey":"", "created_at":0, "kind":KIND,
            "tags":[["t", lobby.topic()]], "content":"!!", "sig":""}])
        .to_string(),
    ] {
        b.received(T0, 0, &garbage);
    }
    assert!(heard(&mut b).is_empty());
    assert_eq!(
        b.status()[0].state,
        RelayState::Answering,
        "garbage is not a failure"
    );
}

#[test]
fn a_relay_that_asks_us_to_slow_down_gets_nothing_for_a_while() {
    let lobby = room("lobby", "");
    let mut a = pool(&lobby, 1, 2);
    open_all(&mut a, T0);
    a.received(T0, 1, r#"["NOTICE","you are sending too fast"]"#);
    assert_eq!(a.status()[1].state, RelayState::Paused);
    let to = key(2).public_key().node_id();
    a.send_signal(
        T0,
        to,
        Signal::Answer {
            session: 1,
            sdp: "x".into(),
        },
    )
    .unwrap();
    a.handle_timeout(T0.saturating_add(COALESCE_MS));
    let relays: Vec<usize> = sends(&mut a).iter().map(|(r, _)| *r).collect();
    assert_eq!(relays, [0], "the paused relay is skipped");
    a.handle_timeout(T0.saturating_add(PAUSE_FIRST_MS));
    assert_eq!(a.status()[1].state, RelayState::Answering);
    // A refusal that says rate-limited pauses too, and longer the second time.
    a.received(T0, 0, r#"["OK","ab",false,"rate-limited: slow down"]"#);
    assert_eq!(a.status()[0].state, RelayState::Paused);
}

#[test]
fn a_relay_that_fails_is_tried_again_later_and_signals_need_one_up() {
    let lobby = room("lobby", "");
    let mut a = pool(&lobby, 1, 1);
    let Some(PoolAction::Connect { relay, .. }) = a.poll_action() else {
        panic!()
    };
    a.closed(T0, relay, "refused".into());
    assert_eq!(a.status()[0].state, RelayState::Down);
    let to = key(2).public_key().node_id();
    assert!(a
        .send_signal(
            T0,
            to,
            Signal::Answer {
                session: 1,
                sdp: "x".into()
            }
        )
        .is_err());
    let retry = a.poll_timeout().unwrap();
    assert!(retry.since(T0) >= RETRY_FIRST_MS * 3 / 4 && retry.since(T0) <= RETRY_FIRST_MS);
    a.handle_timeout(retry);
    assert!(matches!(
        a.poll_action(),
        Some(PoolAction::Connect { relay: 0, .. })
    ));
    // A relay that ends our subscription is dropped and retried the same way.
    a.opened(retry, 0);
    drain(&mut a);
    a.received(retry, 0, r#"["CLOSED","tabchain","error: shutting down"]"#);
    assert_eq!(drain(&mut a), [PoolAction::Disconnect { relay: 0 }]);
    assert_eq!(a.status()[0].state, RelayState::Down);
}

#[test]
fn presence_is_repeated_modestly_and_says_hello_only_while_looking() {
    let lobby = room("lobby", "");
    let mut a = pool(&lobby, 1, 1);
    open_all(&mut a, T0);
    let mut bodies = Vec::new();
    let mut now = T0;
    for _ in 0..4 {
        now = a.poll_timeout().unwrap();
        a.handle_timeout(now);
        for (_, text) in sends(&mut a) {
            let event = event_of(&text);
            bodies.push(
                open(&lobby, event["content"].as_str().unwrap())
                    .unwrap()
                    .body,
            );
        }
        a.set_looking(false);
    }
    assert_eq!(now.since(T0), 4 * PRESENCE_MS);
    assert_eq!(bodies, [Body::Hello, Body::Here, Body::Here, Body::Here]);
    // Bytes per minute at this pace, with one relay: two presences and nothing else.
    let per_minute = a.bytes_published() * 60_000 / now.since(T0);
    assert!(per_minute < 2_500, "{per_minute} bytes a minute");
}
