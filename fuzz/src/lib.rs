//! The bodies of tabchain's fuzz targets: one function per decoder that takes bytes from
//! outside the node (a peer, the signaling server or a tab, another tab of the browser,
//! a mining worker, IndexedDB), each named as its target in [`TARGETS`].
//!
//! Each body runs the decoder exactly as the node does and, where the bytes decode,
//! checks a property: the message re-encodes and decodes back to itself, and whatever
//! validates it next (the chain, the mempool, the link manager, the handshake, the SDP
//! check) answers with a named error or an accepted result, never a panic. A broken
//! property is a panic, which libFuzzer reports as a crash.
//!
//! The same functions run twice: under libFuzzer (`fuzz/libfuzzer`, nightly features,
//! `scripts/fuzz.sh`) and over the committed corpus `fuzz/corpus/<target>/` by this
//! crate's test on stable, so CI replays every target without nightly. [`samples`]
//! holds valid inputs made with the real encoders; they seed the corpus.

#![forbid(unsafe_code)]

use std::sync::OnceLock;

use serde_json::Value;
use tabchain_core::{
    Accepted, Address, Block, Header, Ledger, NodeId, Params, SecretKey, Signatures, Timestamp,
    Transaction,
};
use tabchain_miner::{FromMiner, Job, SearchPath, ToMiner};
use tabchain_node::compact::{CompactBlock, PushKey};
use tabchain_node::link::sdp;
use tabchain_node::link::{Links, Route, Signal};
use tabchain_node::message::SignedSignal;
use tabchain_node::{Message, MessageKind, PROTOCOL_VERSION};
use tabchain_signal::{ClientMessage, RoomName, ServerMessage};
use tabchain_web::wire::Broadcast;
use tabchain_web::{record, wire};

/// A target's body: it takes libFuzzer's input and panics when a property breaks.
pub type Body = fn(&[u8]);

/// Every target: its name (the libfuzzer binary, the corpus directory) and its body.
pub const TARGETS: [(&str, Body); 11] = [
    ("peer_frame", peer_frame),
    ("block", block),
    ("transaction", transaction),
    ("signal_client", signal_client),
    ("signal_server", signal_server),
    ("worker", worker),
    ("broadcast", broadcast),
    ("record", record),
    ("link_signal", link_signal),
    ("relay", relay),
    ("header", header),
];

/// The body of the target `name`.
pub fn target(name: &str) -> Option<Body> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

// The world the decoded messages land in.

/// The room of the fuzzed chain: test parameters, so every hash meets difficulty 1.
const ROOM: &str = "fuzz";

/// The receiver's clock: a minute after the last block of [`base`].
fn now() -> Timestamp {
    Timestamp(tabchain_core::params::GENESIS_TIME.0 + 10 * 60_000)
}

/// The key the base chain's coinbases pay: fuzzed payments signed with it can spend.
fn owner() -> &'static SecretKey {
    static KEY: OnceLock<SecretKey> = OnceLock::new();
    KEY.get_or_init(|| SecretKey::from_seed([7; 32]))
}

/// A ledger of test parameters with a few blocks paying [`owner`], built once with the
/// real template code; each input gets a clone.
fn base() -> &'static Ledger {
    static BASE: OnceLock<Ledger> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut ledger = Ledger::new(Params::for_tests(ROOM));
        let pay_to = owner().public_key().address();
        // Enough blocks after the first for its coinbase to mature, so payments can spend it.
        let maturity = ledger.chain().params().coinbase_maturity;
        for i in 1..=3 + maturity {
            let time = Timestamp(tabchain_core::params::GENESIS_TIME.0 + i * 10_000);
            let block = ledger.template(pay_to, time);
            ledger
                .submit_block(block, time)
                .expect("a template on the tip is accepted");
        }
        ledger
    })
}

/// The node id of the receiving node in link and broadcast targets.
fn me() -> NodeId {
    SecretKey::from_seed([1; 32]).public_key().node_id()
}

// Helpers for properties.

/// JSON values equal up to the last bits of floats: serde_json (without its
/// `float_roundtrip` feature) may read a printed float back one unit off.
fn json_same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            _ if x == y => true,
            (Some(x), Some(y)) if x.is_finite() && y.is_finite() => {
                (x - y).abs() <= f64::EPSILON * 4.0 * x.abs().max(y.abs())
            }
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && json_same(vx, vy))
        }
        _ => a == b,
    }
}

/// Postcard's encoding of `value` decodes back to it.
fn postcard_round_trip<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes = postcard::to_stdvec(value).expect("a decoded value encodes");
    let again: T = postcard::from_bytes(&bytes).expect("an encoding decodes");
    assert_eq!(&again, value, "postcard round trip");
}

// Peer frames.

/// A data-channel frame from a peer: `Message::decode`. A message that decodes
/// re-encodes within its kind's cap to a frame that decodes to itself, and what it
/// carries goes through the checks the node runs on it.
pub fn peer_frame(data: &[u8]) {
    let Ok(message) = Message::decode(data) else {
        return;
    };
    assert_eq!(MessageKind::of_frame(data), Some(message.kind()));
    let frame = message.encode();
    assert!(
        frame.len() <= data.len(),
        "the canonical frame is never longer than one that decoded"
    );
    assert_eq!(
        Message::decode(&frame).as_ref(),
        Ok(&message),
        "frame round trip"
    );
    match message {
        Message::Version(version) => {
            let ledger = base();
            let _ = version.check(
                version.public_key.node_id(),
                &owner().public_key(),
                ledger.chain().genesis_hash(),
                b"binding",
            );
        }
        Message::Block(block) => {
            assert_eq!(Message::block_frame(&block), frame);
            submit_block(block);
        }
        Message::Tx(tx) => {
            assert_eq!(Message::tx_frame(&tx), frame);
            submit_tx(tx);
        }
        Message::CompactBlock(compact) => {
            let ledger = base();
            if let Ok(block) = compact.rebuild(ledger.chain(), ledger.mempool()) {
                submit_block(block);
            }
        }
        Message::Headers(headers) => {
            let chain = base().chain();
            for header in &headers {
                let _ = chain.check_header(header, now());
            }
        }
        Message::GetHeaders { locator, stop } => {
            let _ =
                base()
                    .chain()
                    .headers_after(&locator, stop, tabchain_node::message::MAX_HEADERS);
        }
        Message::Relay { to, from, payload } => open_relay(&payload, from, to),
        _ => {}
    }
}

// Blocks.

/// Sends a block to a clone of the base ledger: it is stored, an orphan, a duplicate or
/// a named [`tabchain_core::BlockError`]; a stored block is known to the chain.
fn submit_block(block: Block) -> Option<Accepted> {
    let mut ledger = base().clone();
    let hash = block.hash();
    let accepted = ledger.submit_block(block, now()).ok()?;
    if matches!(accepted, Accepted::Stored { .. }) {
        assert!(ledger.chain().knows(&hash), "a stored block is known");
    }
    Some(accepted)
}

/// A block as a `Block` frame carries it (after the version and kind bytes). The first
/// input byte chooses repairs, so the fuzzer gets past the checks it cannot solve
/// (hashes) to the contextual and UTXO rules: bit 0 sets the merkle root, bit 1 the
/// parent (the tip), bit 2 the difficulty the chain requires, bit 3 a time it takes.
/// Every variant goes to the ledger.
pub fn block(data: &[u8]) {
    let Some((&repairs, body)) = data.split_first() else {
        return;
    };
    let mut frame = vec![PROTOCOL_VERSION, MessageKind::Block.tag()];
    frame.extend_from_slice(body);
    let Ok(Message::Block(mut block)) = Message::decode(&frame) else {
        return;
    };
    postcard_round_trip(&block);
    let _ = block.check();
    submit_block(block.clone());
    if repairs & 0x0f == 0 {
        return;
    }
    let chain = base().chain();
    if repairs & 1 != 0 {
        block.header.merkle_root = Block::merkle_root_of(&block.transactions);
    }
    if repairs & 2 != 0 {
        block.header.prev = chain.tip();
    }
    if repairs & 4 != 0 {
        if let Some(difficulty) = chain.next_difficulty(&block.header.prev) {
            block.header.difficulty = difficulty;
        }
    }
    if repairs & 8 != 0 {
        if let Some(median) = chain.median_time_past(&block.header.prev) {
            block.header.time = median.saturating_add(1 + block.header.time.0 % 60_000);
        }
    }
    submit_block(block);
}

/// Headers as `Headers` frames carry them, checked in place on the base chain; the
/// first byte, as in [`block`], can set the parent (bit 1) and difficulty (bit 2).
pub fn header(data: &[u8]) {
    let Some((&repairs, body)) = data.split_first() else {
        return;
    };
    let Ok(mut header) = postcard::from_bytes::<Header>(body) else {
        return;
    };
    postcard_round_trip(&header);
    let chain = base().chain();
    let _ = chain.check_header(&header, now());
    if repairs & 2 != 0 {
        header.prev = chain.tip();
    }
    if repairs & 4 != 0 {
        if let Some(difficulty) = chain.next_difficulty(&header.prev) {
            header.difficulty = difficulty;
        }
    }
    if chain.check_header(&header, now()).is_ok() {
        assert!(
            header.meets_difficulty(),
            "a header that checks meets its pow"
        );
    }
}

// Transactions.

/// Offers a transaction to a clone of the base ledger's mempool. One it accepts must be
/// minable: the next template carries it, and the chain takes that block.
fn submit_tx(tx: Transaction) {
    let mut ledger = base().clone();
    let Ok(txid) = ledger.submit_tx(tx) else {
        return;
    };
    assert!(ledger.mempool().contains(&txid));
    let template = ledger.template(Address([9; 20]), now());
    assert!(
        template.transactions.iter().any(|tx| tx.id() == txid),
        "an accepted transaction goes in the template"
    );
    match ledger.submit_block(template, now()) {
        Ok(Accepted::Stored { .. }) => {}
        other => panic!("a template with an accepted transaction is refused: {other:?}"),
    }
}

/// A transaction as a `Tx` frame carries it. Bit 0 of the first byte signs every input
/// with the key that owns the base chain's coins, so spends get past the signature
/// check to the value and double-spend rules.
pub fn transaction(data: &[u8]) {
    let Some((&repairs, body)) = data.split_first() else {
        return;
    };
    let mut frame = vec![PROTOCOL_VERSION, MessageKind::Tx.tag()];
    frame.extend_from_slice(body);
    let Ok(Message::Tx(mut tx)) = Message::decode(&frame) else {
        return;
    };
    postcard_round_trip(&tx);
    let _ = tx.check();
    if repairs & 1 != 0 {
        tx.sign_all(owner(), &base().chain().genesis_hash());
    }
    submit_tx(tx);
}

// Signaling.

/// A text frame a tab sends the server: `ClientMessage::parse`. A message re-serializes
/// to JSON that parses back to it, and a `hello` is checked as the server checks it.
pub fn signal_client(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let message = match ClientMessage::parse(text) {
        Ok(message) => message,
        Err(err) => {
            let _ = err.code().as_str();
            return;
        }
    };
    let again = ClientMessage::parse(&message.to_json()).expect("a serialized message parses");
    match (&message, &again) {
        (
            ClientMessage::Signal { to, payload },
            ClientMessage::Signal {
                to: to2,
                payload: payload2,
            },
        ) => {
            assert_eq!(to, to2);
            assert!(json_same(payload, payload2), "payload round trip");
        }
        _ => assert_eq!(message, again, "client message round trip"),
    }
    if let ClientMessage::Hello {
        public_key,
        signature,
    } = &message
    {
        let room: RoomName = ROOM.parse().expect("a valid room name");
        let nonce = tabchain_signal::Nonce([3; 32]);
        let _ = tabchain_signal::verify_hello(&room, &nonce, public_key, signature);
    }
}

/// A text frame the server sends a tab: `ServerMessage::parse`. A message re-serializes
/// to JSON that parses back to it; a relayed `signal` payload is read as the tab reads
/// it, a link [`Signal`].
pub fn signal_server(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(message) = ServerMessage::parse(text) else {
        return;
    };
    let again = ServerMessage::parse(&message.to_json()).expect("a serialized message parses");
    match (&message, &again) {
        (
            ServerMessage::Signal { from, payload },
            ServerMessage::Signal {
                from: from2,
                payload: payload2,
            },
        ) => {
            assert_eq!(from, from2);
            assert!(json_same(payload, payload2), "payload round trip");
            if let Ok(signal) = serde_json::from_value::<Signal>(payload.clone()) {
                handle_signal(*from, Route::Server, signal);
            }
        }
        _ => assert_eq!(message, again, "server message round trip"),
    }
}

// Links.

/// A link manager that has never seen `from` takes the signal; then the actions it asks
/// for are drained. Offers and answers are checked as the browser checks a remote SDP.
fn handle_signal(from: NodeId, route: Route, signal: Signal) {
    let again = Signal::from_bytes(&signal.to_bytes()).expect("an encoded signal decodes");
    assert_eq!(again, signal, "signal round trip");
    if let Signal::Offer { sdp, .. } | Signal::Answer { sdp, .. } = &signal {
        let _ = sdp::check_remote(sdp);
    }
    let mut links = Links::new(me(), 1);
    links.dial(now(), from);
    links.handle_signal(now(), from, route, signal);
    while links.poll_action().is_some() {}
}

/// Opens a `Relay` payload as the node does (`SignedSignal::open`). An envelope that
/// opens was signed by `from` for `to` and for no one else, re-encodes to one that opens
/// the same, and its signal goes on as the driver reads it ([`link_signal`]).
fn open_relay(payload: &[u8], from: NodeId, to: NodeId) {
    let Some(signed) = SignedSignal::open(payload, &from, &to) else {
        return;
    };
    assert_eq!(signed.public_key.node_id(), from);
    assert_eq!(
        SignedSignal::open(&signed.encode(), &from, &to).as_ref(),
        Some(&signed),
        "envelope round trip"
    );
    let other = SecretKey::from_seed([4; 32]).public_key().node_id();
    assert!(
        SignedSignal::open(payload, &from, &other).is_none(),
        "an envelope opens only for its addressee"
    );
    link_signal(&signed.signal);
}

/// A `Relay` payload addressed to this node from a peer: the signed envelope, opened as
/// the node opens it. Bit 0 of the first byte instead re-signs what decodes with the
/// sender's real key: an honestly signed envelope must open, and its signal goes on to
/// the link manager. (One signature check per input at most, but for envelopes that
/// open: they cost tens of microseconds each.)
pub fn relay(data: &[u8]) {
    let Some((&repairs, payload)) = data.split_first() else {
        return;
    };
    let sender = SecretKey::from_seed([2; 32]);
    let from = sender.public_key().node_id();
    if repairs & 1 == 0 {
        open_relay(payload, from, me());
        return;
    }
    let Ok(decoded) = postcard::from_bytes::<SignedSignal>(payload) else {
        return;
    };
    let signed = SignedSignal::sign(&sender, &me(), decoded.expires, decoded.signal);
    assert_eq!(
        SignedSignal::open(&signed.encode(), &from, &me()).as_ref(),
        Some(&signed),
        "an honestly signed envelope opens"
    );
    link_signal(&signed.signal);
}

/// A signaling payload relayed through the mesh (the signal in a `Relay`'s envelope, as
/// the driver reads it): `Signal::from_bytes`. The signal re-encodes to itself and the
/// link manager takes it.
pub fn link_signal(data: &[u8]) {
    let Ok(signal) = Signal::from_bytes(data) else {
        return;
    };
    let from = SecretKey::from_seed([2; 32]).public_key().node_id();
    handle_signal(from, Route::Mesh, signal);
}

/// The nonce this tab said `hello` with, in the broadcast target.
const HELLO_NONCE: [u8; 32] = [5; 32];

/// A message on the room's BroadcastChannel, as the driver reads it (serde_json). It
/// re-serializes to itself; ids are read as the driver reads them (and print back the
/// same); a `hello` in this tab's name gets the signed `taken` the driver posts, which
/// proves the id; a `taken` in its name proves it only with this tab's signature over its
/// own nonce; a signal goes to the link manager.
pub fn broadcast(data: &[u8]) {
    let Ok(message) = serde_json::from_slice::<Broadcast>(data) else {
        return;
    };
    let json = serde_json::to_vec(&message).expect("a broadcast serializes");
    let again: Broadcast = serde_json::from_slice(&json).expect("a serialized broadcast parses");
    assert_eq!(again, message, "broadcast round trip");
    let parse = |id: &str| {
        let parsed = id.parse::<NodeId>().ok();
        if let Some(parsed) = parsed {
            assert_eq!(parsed.to_string(), id, "an id that parses prints the same");
        }
        parsed
    };
    let key = SecretKey::from_seed([1; 32]);
    let proven = |nonce: &str, signature: &str| {
        nonce == tabchain_core::Hash(HELLO_NONCE).to_string()
            && signature
                .parse::<tabchain_core::Signature>()
                .is_ok_and(|signature| {
                    key.public_key()
                        .verify(&wire::taken_bytes(&HELLO_NONCE), &signature)
                        .is_ok()
                })
    };
    match message {
        Broadcast::Hello { from, nonce } if parse(&from) == Some(me()) => {
            if let Ok(bytes) = tabchain_core::keys::parse_hex::<32>(&nonce) {
                let signature = key.sign(&wire::taken_bytes(&bytes)).to_string();
                assert_eq!(
                    bytes == HELLO_NONCE,
                    proven(&nonce, &signature),
                    "our own taken proves the id for our nonce only"
                );
            }
        }
        Broadcast::Taken {
            from,
            nonce,
            signature,
        } if parse(&from) == Some(me()) => {
            if proven(&nonce, &signature) {
                let ours = key.sign(&wire::taken_bytes(&HELLO_NONCE));
                assert_eq!(
                    signature.parse::<tabchain_core::Signature>().ok(),
                    Some(ours),
                    "only this tab's own signature proves its id is taken"
                );
            }
        }
        Broadcast::Hello { from, .. }
        | Broadcast::Here { from }
        | Broadcast::Bye { from }
        | Broadcast::Taken { from, .. } => {
            if let Some(peer) = parse(&from) {
                let mut links = Links::new(me(), 1);
                links.local_here(peer);
                links.local_gone(peer);
                while links.poll_action().is_some() {}
            }
        }
        Broadcast::Signal { from, to, signal } => {
            if let (Some(peer), Some(_)) = (parse(&from), parse(&to)) {
                handle_signal(peer, Route::Local, signal);
            }
        }
    }
}

// Workers.

/// A message between the page and a mining worker, read by both decoders. A `Mine` is
/// searched for a few small chunks as the worker would; every report stays in its range.
pub fn worker(data: &[u8]) {
    if let Ok(message) = FromMiner::decode(data) {
        assert_eq!(FromMiner::decode(&message.encode()), Ok(message));
    }
    let Ok(message) = ToMiner::decode(data) else {
        return;
    };
    assert_eq!(ToMiner::decode(&message.encode()).as_ref(), Ok(&message));
    if let ToMiner::Mine {
        job,
        header,
        nonces,
    } = message
    {
        // Both searches a worker may run report alike, chunk by chunk.
        let mut scalar = Job::new(job, &header, nonces.clone(), SearchPath::Scalar);
        let mut lanes = Job::new(job, &header, nonces.clone(), SearchPath::Lanes);
        for _ in 0..4 {
            let report = scalar.step(8);
            assert_eq!(
                lanes.step(8),
                report,
                "the lanes report as the scalar search"
            );
            match report {
                None => break,
                Some(FromMiner::Found { nonce, hashes, .. }) => {
                    assert!(nonces.contains(&nonce));
                    assert!(hashes <= 8);
                    let mut solved = header;
                    solved.nonce = nonce;
                    assert!(solved.meets_difficulty(), "a found nonce solves the header");
                }
                Some(FromMiner::Progress { hashes, .. } | FromMiner::Exhausted { hashes, .. }) => {
                    assert!(hashes <= 8)
                }
                Some(FromMiner::Ready { .. }) => panic!("a job never reports Ready"),
            }
        }
    }
}

// Storage.

/// A stored block record: `record::decode(key, value)`. The input is the key, a newline,
/// then the value; bit 0 of the first byte instead files the value under the hash it
/// would decode to, so good records reach the chain. A record that reads back
/// re-encodes to a record that reads back the same, and is loaded as the driver loads
/// it (`load_stored`): stored, or refused with a reason, never both.
pub fn record(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (key, value) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (
            String::from_utf8_lossy(&rest[..at]).into_owned(),
            &rest[at + 1..],
        ),
        None => (String::new(), rest),
    };
    let key = if mode & 1 != 0 {
        match postcard::from_bytes::<Block>(value) {
            Ok(block) => record::key_of(&block),
            Err(_) => key,
        }
    } else {
        key
    };
    let Ok((hash, block)) = record::decode(&key, value) else {
        return;
    };
    let stored = block.encode();
    assert_eq!(
        record::decode(&key, &stored),
        Ok((hash, block.clone())),
        "record round trip"
    );
    let mut ledger = base().clone();
    let report = ledger.load_stored(vec![(hash, block)], now(), Signatures::Trust);
    let refused = report.refused.iter().any(|(key, _)| *key == hash);
    assert!(!(refused && report.stored.contains(&hash)), "{report:?}");
    for stored in &report.stored {
        assert!(ledger.chain().block(stored).is_some(), "{report:?}");
    }
}

// Seeds.

/// Valid inputs for each target, made with the real encoders: the seed corpus.
pub fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let ledger = base();
    let chain = ledger.chain();
    let key = owner();
    let peer = SecretKey::from_seed([2; 32]);
    let genesis = chain.genesis_hash();
    let tip = chain.tip();
    let tip_block = chain.block(&tip).expect("the tip is stored").clone();

    // The next block, and a payment spending the first coinbase.
    let next = ledger.template(key.public_key().address(), now());
    let coin = ledger
        .spendable(&key.public_key().address())
        .into_iter()
        .next()
        .expect("the base chain pays the owner");
    let mut payment = Transaction {
        inputs: vec![tabchain_core::Input {
            prev: coin.0,
            public_key: key.public_key(),
            signature: tabchain_core::Signature::EMPTY,
        }],
        outputs: vec![tabchain_core::Output {
            value: coin.1.output.value - 1,
            address: peer.public_key().address(),
        }],
        height: 0,
    };
    payment.sign_all(key, &genesis);

    let offer = Signal::Offer {
        session: 7,
        sdp: "v=0\r\na=fingerprint:sha-256 AB:CD\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n".into(),
    };
    let answer = Signal::Answer {
        session: 7,
        sdp: "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=fingerprint:sha-256 01:02\r\n".into(),
    };
    let candidate = Signal::Candidate {
        session: 7,
        candidate: tabchain_node::link::Candidate {
            candidate: "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
        },
    };
    let signals = [offer, answer, candidate];

    let mut out = Vec::new();
    let mut add = |target: &'static str, bytes: Vec<u8>| out.push((target, bytes));

    // Relayed signals: each in the envelope its sender signs, plainly and to be re-signed.
    let expires = now().saturating_add(30_000);
    let envelope = SignedSignal::sign(&peer, &me(), expires, signals[0].to_bytes()).encode();
    for signal in &signals {
        let envelope = SignedSignal::sign(&peer, &me(), expires, signal.to_bytes()).encode();
        for repairs in [0u8, 1] {
            let mut bytes = vec![repairs];
            bytes.extend_from_slice(&envelope);
            add("relay", bytes);
        }
    }

    // Peer frames: one of each kind.
    let version = tabchain_node::Version::new(
        &peer,
        genesis,
        chain.height(),
        tip,
        tabchain_node::Roles::TAB,
        None,
        b"binding",
    );
    let messages = vec![
        Message::Version(version),
        Message::Verack,
        Message::Ping { nonce: 1 },
        Message::Pong { nonce: 1 },
        Message::Goodbye,
        Message::Inv(vec![
            tabchain_node::InvItem::Block(tip),
            tabchain_node::InvItem::Tx(payment.id()),
        ]),
        Message::GetData(vec![tabchain_node::InvItem::Block(tip)]),
        Message::NotFound(vec![tabchain_node::InvItem::Tx(payment.id())]),
        Message::Block(next.clone()),
        Message::Tx(payment.clone()),
        Message::GetHeaders {
            locator: chain.locator(),
            stop: None,
        },
        Message::Headers(chain.headers_after(&[genesis], None, 10)),
        Message::GetPeers,
        Message::Peers(vec![peer.public_key().node_id(), me()]),
        Message::Relay {
            to: me(),
            from: peer.public_key().node_id(),
            payload: envelope.clone(),
        },
        Message::FastRelay(true),
        Message::FastRelay(false),
        Message::CompactBlock(CompactBlock::of(&next, |_| false).expect("a coinbase")),
        Message::CompactBlock(CompactBlock::of(&next, |_| true).expect("a coinbase")),
        Message::GetPushed(PushKey::of(&next.header)),
    ];
    for message in &messages {
        add("peer_frame", message.encode());
    }

    // Blocks and headers: the next block, plainly and with every repair asked for.
    for repairs in [0u8, 0x0f] {
        let mut bytes = vec![repairs];
        bytes.extend(next.encode());
        add("block", bytes);
        let mut bytes = vec![repairs];
        bytes.extend(postcard::to_stdvec(&next.header).expect("a header encodes"));
        add("header", bytes);
    }
    let mut bytes = vec![0];
    bytes.extend(tip_block.encode());
    add("block", bytes);

    // Transactions: the payment, signed and to be re-signed; a coinbase.
    for repairs in [0u8, 1] {
        let mut bytes = vec![repairs];
        bytes.extend(payment.encode());
        add("transaction", bytes);
    }
    let mut bytes = vec![0];
    bytes.extend(next.transactions[0].encode());
    add("transaction", bytes);

    // Signaling, both ways.
    let room: RoomName = ROOM.parse().expect("a valid room name");
    let nonce = tabchain_signal::Nonce([3; 32]);
    add(
        "signal_client",
        tabchain_signal::hello(&peer, &room, &nonce)
            .to_json()
            .into_bytes(),
    );
    for signal in &signals {
        let payload: Value = serde_json::from_slice(&signal.to_bytes()).expect("signals are JSON");
        add(
            "signal_client",
            ClientMessage::Signal {
                to: me(),
                payload: payload.clone(),
            }
            .to_json()
            .into_bytes(),
        );
        add(
            "signal_server",
            ServerMessage::Signal {
                from: peer.public_key().node_id(),
                payload,
            }
            .to_json()
            .into_bytes(),
        );
        add("link_signal", signal.to_bytes());
    }
    let server = [
        ServerMessage::Challenge { nonce },
        ServerMessage::Welcome {
            peer_id: me(),
            peers: vec![peer.public_key().node_id()],
            ice_servers: vec![tabchain_signal::IceServer {
                urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
                username: Some("1767225600:id".into()),
                credential: Some("c2VjcmV0".into()),
            }],
        },
        ServerMessage::PeerJoined { peer_id: me() },
        ServerMessage::PeerLeft { peer_id: me() },
        ServerMessage::error(tabchain_signal::ErrorCode::UnknownPeer, "no such peer"),
    ];
    for message in &server {
        add("signal_server", message.to_json().into_bytes());
    }

    // Workers.
    let to_miner = [
        ToMiner::Mine {
            job: 1,
            header: next.header,
            nonces: 0..1_000,
        },
        ToMiner::Stop,
    ];
    for message in &to_miner {
        add("worker", message.encode());
    }
    let from_miner = [
        FromMiner::Ready {
            path: SearchPath::Lanes,
        },
        FromMiner::Progress {
            job: 1,
            hashes: 65_536,
        },
        FromMiner::Found {
            job: 1,
            nonce: 5,
            hashes: 6,
        },
        FromMiner::Exhausted { job: 1, hashes: 9 },
    ];
    for message in &from_miner {
        add("worker", message.encode());
    }

    // The BroadcastChannel.
    let from = peer.public_key().node_id().to_string();
    let hello_nonce = tabchain_core::Hash(HELLO_NONCE).to_string();
    let broadcasts = [
        Broadcast::Hello {
            from: from.clone(),
            nonce: hello_nonce.clone(),
        },
        Broadcast::Hello {
            from: me().to_string(),
            nonce: hello_nonce.clone(),
        },
        Broadcast::Taken {
            from: me().to_string(),
            nonce: hello_nonce,
            signature: SecretKey::from_seed([1; 32])
                .sign(&wire::taken_bytes(&HELLO_NONCE))
                .to_string(),
        },
        Broadcast::Here { from: from.clone() },
        Broadcast::Bye { from: from.clone() },
        Broadcast::Signal {
            from,
            to: me().to_string(),
            signal: signals[0].clone(),
        },
    ];
    for message in &broadcasts {
        add(
            "broadcast",
            serde_json::to_vec(message).expect("a broadcast serializes"),
        );
    }

    // Stored records: key, newline, value; and a value filed under its own hash.
    for block in [&tip_block, &next] {
        let mut bytes = vec![0];
        bytes.extend(record::key_of(block).into_bytes());
        bytes.push(b'\n');
        bytes.extend(block.encode());
        add("record", bytes);
    }
    let mut bytes = vec![1, b'\n'];
    bytes.extend(next.encode());
    add("record", bytes);

    out
}
