//! `--keep`: a keeper for each room a tab joined, up to the bound, that joins the room
//! through the server like a tab and dials it; and its chain as JSON.

use std::time::Duration;

use serde_json::Value;
use tabchain_core::SecretKey;
use tabchain_signal::ServerMessage;
use tabchain_signaling::{Config, KeepConfig};
use tokio::time::{sleep, timeout};

use crate::common::*;

async fn chain(server: &TestServer, room: &str) -> (u16, Option<Value>) {
    let response = http_get(server.addr, &format!("/rooms/{room}/chain"), &[]).await;
    (response.status, serde_json::from_slice(&response.body).ok())
}

#[tokio::test]
async fn a_joined_room_gets_a_keeper_that_dials_its_tabs_up_to_the_bound() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(Config {
        keep: Some(KeepConfig {
            data: data.path().to_owned(),
            max_rooms: 1,
            hosts: vec![[127, 0, 0, 1].into()],
        }),
        ..Config::default()
    })
    .await;
    // Tried: a connection that never proves a key; it starts no keeper.
    let (_idle, _) = server.challenge("idle").await;
    let mut tab = server.join("kept", &SecretKey::from_seed([1; 32])).await;

    let ServerMessage::PeerJoined { peer_id: keeper } = timeout(PATIENCE, tab.recv())
        .await
        .expect("the keeper joins")
    else {
        panic!("the keeper's arrival comes first");
    };
    // It dials the tab through the server, with a real WebRTC offer.
    let ServerMessage::Signal { from, payload } = timeout(PATIENCE, tab.recv())
        .await
        .expect("the keeper dials")
    else {
        panic!("an offer comes next");
    };
    assert_eq!(from, keeper);
    assert_eq!(payload["kind"], "offer");
    assert!(payload["sdp"]
        .as_str()
        .unwrap()
        .contains("a=fingerprint:sha-256 "));

    let (status, summary) = chain(&server, "kept").await;
    assert_eq!(status, 200);
    let summary = summary.expect("JSON");
    assert_eq!(summary["keeper"], keeper.to_string());
    assert_eq!(summary["height"], 0);
    assert_eq!(summary["roles"], serde_json::json!(["full", "keeper"]));
    assert_eq!(summary["recent"][0]["height"], 0);
    assert!(
        data.path().read_dir().unwrap().count() == 1,
        "one room's directory"
    );

    // Tried: more rooms than the bound; a room nobody proved a key in; a bad name.
    let _other = server.join("second", &SecretKey::from_seed([2; 32])).await;
    sleep(Duration::from_millis(300)).await;
    assert_eq!(chain(&server, "second").await.0, 404);
    assert_eq!(chain(&server, "idle").await.0, 404);
    assert_eq!(chain(&server, "not%20a%20room").await.0, 400);
    server.stop().await;
}
