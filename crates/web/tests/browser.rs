//! The browser-only parts against the real browser APIs (run in headless Chromium by
//! `wasm-bindgen-test-runner`, see the README's test command).

#![cfg(target_arch = "wasm32")]

use tabchain_core::{pow, BlockError, Params, Timestamp};
use tabchain_node::link::sdp;
use tabchain_web::store::Store;
use tabchain_web::{record, stats};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{RtcIceGatheringState, RtcPeerConnection, RtcSdpType, RtcSessionDescriptionInit};

wasm_bindgen_test_configure!(run_in_browser);

fn two_blocks() -> Vec<tabchain_core::Block> {
    let params = Params::for_tests("wasm-tests");
    let mut ledger = tabchain_core::Ledger::new(params.clone());
    let pay_to = tabchain_core::SecretKey::from_seed([3; 32])
        .public_key()
        .address();
    (1..=2)
        .map(|n| {
            let time = Timestamp(tabchain_core::params::GENESIS_TIME.millis() + n * 10_000);
            let mut block = ledger.template(pay_to, time);
            assert!(pow::solve(&mut block.header));
            ledger.submit_block(block.clone(), time).unwrap();
            block
        })
        .collect()
}

#[wasm_bindgen_test]
async fn blocks_survive_in_indexeddb_and_a_damaged_record_is_caught() {
    let name = format!("tabchain-test-{}", js_sys::Math::random());
    let blocks = two_blocks();
    {
        let store = Store::open(&name).await.unwrap();
        let records: Vec<(String, Vec<u8>)> = blocks
            .iter()
            .map(|block| (record::key_of(block), block.encode()))
            .collect();
        // The write is done when its transaction has committed.
        store.put_all(&records).await.unwrap();
        // Tried: a record whose bytes were damaged on disk (one flipped byte).
        let mut damaged = blocks[1].encode();
        let last = damaged.len() - 1;
        damaged[last] ^= 0x40;
        store
            .put_all(&[(record::key_of(&blocks[1]), damaged)])
            .await
            .unwrap();
    }
    // A second open, as after a reload, reads what the first one wrote.
    let store = Store::open(&name).await.unwrap();
    let records = store.load().await.unwrap();
    assert_eq!(records.len(), 2);
    let read = |block: &tabchain_core::Block| {
        let key = record::key_of(block);
        let (_, bytes) = records.iter().find(|(k, _)| *k == key).expect("stored");
        record::decode(&key, bytes)
    };
    let (key, intact) = read(&blocks[0]).unwrap();
    assert_eq!(key, blocks[0].hash());
    assert_eq!(intact, blocks[0]);
    assert_eq!(intact.check(), Ok(()));
    // The flipped byte is in the coinbase: the header is intact, so the record decodes
    // and hashes to its key, but the body no longer matches the merkle root, which is
    // what the node checks before it takes a stored block.
    let (_, damaged) = read(&blocks[1]).unwrap();
    assert_ne!(damaged, blocks[1]);
    assert_eq!(damaged.check(), Err(BlockError::BadMerkleRoot));

    let damaged_key = record::key_of(&blocks[1]);
    store.delete(&damaged_key);
    assert_eq!(store.load().await.unwrap().len(), 1);
}

async fn create(pc: &RtcPeerConnection, kind: RtcSdpType) -> String {
    let made = match kind {
        RtcSdpType::Offer => JsFuture::from(pc.create_offer()).await.unwrap(),
        _ => JsFuture::from(pc.create_answer()).await.unwrap(),
    };
    js_sys::Reflect::get(&made, &JsValue::from_str("sdp"))
        .unwrap()
        .as_string()
        .unwrap()
}

async fn set(pc: &RtcPeerConnection, local: bool, kind: RtcSdpType, sdp: &str) {
    let init = RtcSessionDescriptionInit::new(kind);
    init.set_sdp(sdp);
    let promise = if local {
        pc.set_local_description(&init)
    } else {
        pc.set_remote_description(&init)
    };
    JsFuture::from(promise).await.unwrap();
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

/// `pc`'s local description once ICE has gathered every candidate into it, so the
/// other side needs no trickled candidates (which could land before its remote
/// description is set, and be lost).
async fn gathered(pc: &RtcPeerConnection) -> String {
    for _ in 0..400 {
        if pc.ice_gathering_state() == RtcIceGatheringState::Complete {
            return pc.local_description().unwrap().sdp();
        }
        sleep(25).await;
    }
    panic!("ICE gathering did not complete within 10 s");
}

/// Two fresh connections linked on this machine; returns each side's binding, read
/// from the certificates DTLS verified.
async fn bindings() -> (Vec<u8>, Vec<u8>) {
    let a = RtcPeerConnection::new().unwrap();
    let b = RtcPeerConnection::new().unwrap();
    a.create_data_channel("tabchain");
    let offer = create(&a, RtcSdpType::Offer).await;
    set(&a, true, RtcSdpType::Offer, &offer).await;
    set(&b, false, RtcSdpType::Offer, &gathered(&a).await).await;
    let answer = create(&b, RtcSdpType::Answer).await;
    set(&b, true, RtcSdpType::Answer, &answer).await;
    set(&a, false, RtcSdpType::Answer, &gathered(&b).await).await;
    for _ in 0..400 {
        if let (Some(x), Some(y)) = (stats::dtls_binding(&a).await, stats::dtls_binding(&b).await) {
            a.close();
            b.close();
            return (x, y);
        }
        sleep(25).await;
    }
    panic!("no DTLS connection within 10 s");
}

#[wasm_bindgen_test]
async fn both_ends_of_a_real_connection_bind_to_the_same_bytes_and_no_other_link_does() {
    let (a, b) = bindings().await;
    assert_eq!(a, b);
    let (c, _) = bindings().await;
    assert_ne!(a, c, "every connection has fresh certificates");
}

#[wasm_bindgen_test]
async fn chromium_takes_a_second_fingerprint_that_the_node_refuses() {
    // The browser fact behind binding to DTLS rather than to SDP text: an answer with a
    // made-up session-level fingerprint before the real one is applied without error.
    let a = RtcPeerConnection::new().unwrap();
    let b = RtcPeerConnection::new().unwrap();
    a.create_data_channel("tabchain");
    let offer = create(&a, RtcSdpType::Offer).await;
    set(&a, true, RtcSdpType::Offer, &offer).await;
    set(&b, false, RtcSdpType::Offer, &offer).await;
    let answer = create(&b, RtcSdpType::Answer).await;
    let fake = "a=fingerprint:sha-256 ".to_owned() + &["AB"; 32].join(":") + "\r\n";
    let at = answer.find("m=").unwrap();
    let forged = format!("{}{fake}{}", &answer[..at], &answer[at..]);
    set(&a, false, RtcSdpType::Answer, &forged).await;
    assert_eq!(
        sdp::check_remote(&forged),
        Err(sdp::SdpError::SeveralFingerprints(2))
    );
    assert_eq!(sdp::check_remote(&answer), Ok(()));
    a.close();
    b.close();
}
