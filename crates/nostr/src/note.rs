//! What a tab says through the relays, and the envelope that makes it useless to them.
//!
//! A [`Note`] is JSON, signed with the tab's node key (ed25519, over a domain tag, the
//! room's genesis hash and the JSON), then encrypted to the room with
//! XChaCha20-Poly1305 under a random nonce. An event's content is
//! `base64(nonce ‖ ciphertext of (signature ‖ JSON))`. So:
//! - a relay sees a topic, sizes and times: no room name, no node id, no SDP (which
//!   carries addresses);
//! - a tab of the room can read every note, but can only write in its own name: a note
//!   in another's name does not verify, and one from another room or secret does not
//!   decrypt;
//! - a note copied into a new event is the same note (same signature), and is dropped
//!   as already seen; an old one is dropped as stale.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use tabchain_core::{NodeId, PublicKey, SecretKey, Signature, Timestamp};
use tabchain_node::link::Signal;

use crate::room::RoomKey;

/// Separates note signatures from every other use of a node's key.
const DOMAIN: &[u8] = b"tabchain-nostr/v1 note";

/// Most bytes of an event's content we open: a batch of signals for one link (an offer
/// and its candidates) is 2-4 KB; relays commonly cap whole events at 64 KiB.
pub const MAX_CONTENT: usize = 24 * 1024;

/// Most signals in one note.
pub const MAX_SIGNALS: usize = 32;

const NONCE_LEN: usize = 24;
const SIGNATURE_LEN: usize = 64;

/// What a note says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// "I am in the room and looking for peers": tabs that hear it answer [`Body::Here`].
    Hello,
    /// "I am in the room": the periodic presence, and the answer to a hello.
    Here,
    /// "I am leaving": the tab closed.
    Bye,
    /// Signals for the link to the note's addressee.
    Signals { signals: Vec<Signal> },
}

/// A note as the sender signs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Wire {
    /// The sender's node key, hex: its id is the node id.
    from: String,
    /// The addressee's node id, hex; none for the whole room.
    to: Option<String>,
    /// The sender's clock, Unix milliseconds.
    sent: u64,
    body: Body,
}

/// A note that decrypted and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub from: NodeId,
    pub to: Option<NodeId>,
    pub sent: Timestamp,
    pub body: Body,
    /// Tells apart notes (a copy in another event has the same one).
    pub signature: [u8; SIGNATURE_LEN],
}

/// Why an event's content is not a note of this room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("content of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("content is not base64")]
    Base64,
    #[error("does not decrypt: another room, another secret, or altered")]
    Decrypt,
    #[error("the signature does not match the sender")]
    Signature,
    #[error("not a note: {0}")]
    Json(String),
    #[error("more than {MAX_SIGNALS} signals")]
    TooManySignals,
}

fn signed_bytes(room: &RoomKey, json: &[u8]) -> Vec<u8> {
    [DOMAIN, &room.genesis.0, json].concat()
}

fn cipher(room: &RoomKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new((&room.key).into())
}

/// The event content for `body` from the owner of `key` to `to` (or the room).
pub fn seal(
    room: &RoomKey,
    key: &SecretKey,
    to: Option<NodeId>,
    sent: Timestamp,
    body: Body,
    nonce: [u8; NONCE_LEN],
) -> String {
    let wire = Wire {
        from: key.public_key().to_string(),
        to: to.map(|id| id.to_string()),
        sent: sent.millis(),
        body,
    };
    let json = serde_json::to_vec(&wire).expect("a note always encodes");
    let signature = key.sign(&signed_bytes(room, &json));
    let plaintext = [&signature.0[..], &json].concat();
    let ciphertext = cipher(room)
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plaintext,
                aad: DOMAIN,
            },
        )
        .expect("XChaCha20-Poly1305 takes any length we send");
    BASE64.encode([&nonce[..], &ciphertext].concat())
}

/// The note in an event's `content`, if it is a genuine one of this room.
pub fn open(room: &RoomKey, content: &str) -> Result<Note, NoteError> {
    if content.len() > MAX_CONTENT {
        return Err(NoteError::TooLarge(content.len()));
    }
    let bytes = BASE64.decode(content).map_err(|_| NoteError::Base64)?;
    if bytes.len() < NONCE_LEN {
        return Err(NoteError::Decrypt);
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let plaintext = cipher(room)
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: DOMAIN,
            },
        )
        .map_err(|_| NoteError::Decrypt)?;
    if plaintext.len() < SIGNATURE_LEN {
        return Err(NoteError::Json("too short".into()));
    }
    let (signature, json) = plaintext.split_at(SIGNATURE_LEN);
    let wire: Wire =
        serde_json::from_slice(json).map_err(|err| NoteError::Json(err.to_string()))?;
    let from: PublicKey = wire
        .from
        .parse()
        .map_err(|_| NoteError::Json("`from` is not a key".into()))?;
    let signature: [u8; SIGNATURE_LEN] = signature.try_into().expect("split at its length");
    from.verify(&signed_bytes(room, json), &Signature(signature))
        .map_err(|_| NoteError::Signature)?;
    let to = match wire.to {
        Some(to) => Some(
            to.parse()
                .map_err(|_| NoteError::Json("`to` is not a node id".into()))?,
        ),
        None => None,
    };
    if matches!(&wire.body, Body::Signals { signals } if signals.len() > MAX_SIGNALS) {
        return Err(NoteError::TooManySignals);
    }
    Ok(Note {
        from: from.node_id(),
        to,
        sent: Timestamp(wire.sent),
        body: wire.body,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::{Hash, Params};

    fn room(name: &str, secret: &str) -> RoomKey {
        RoomKey::derive(Params::new(name).genesis().hash(), secret)
    }

    fn offer() -> Body {
        Body::Signals {
            signals: vec![Signal::Offer {
                session: 9,
                sdp: "v=0 c=IN IP4 192.168.1.20".into(),
            }],
        }
    }

    #[test]
    fn a_note_opens_in_its_room_and_shows_nothing_outside_it() {
        let lobby = room("lobby", "");
        let alice = SecretKey::from_seed([1; 32]);
        let bob = SecretKey::from_seed([2; 32]).public_key().node_id();
        let content = seal(
            &lobby,
            &alice,
            Some(bob),
            Timestamp(5_000),
            offer(),
            [7; 24],
        );
        let note = open(&lobby, &content).unwrap();
        assert_eq!(note.from, alice.public_key().node_id());
        assert_eq!(note.to, Some(bob));
        assert_eq!(note.sent, Timestamp(5_000));
        assert_eq!(note.body, offer());
        // What a relay sees: no address, no id, no key.
        let decoded = BASE64.decode(&content).unwrap();
        for secret in [
            &b"192.168.1.20"[..],
            bob.to_string().as_bytes(),
            alice.public_key().to_string().as_bytes(),
        ] {
            assert!(!decoded.windows(secret.len()).any(|w| w == secret));
        }
        // Tried: the same note opened with another room's key, and with another secret.
        assert_eq!(open(&room("other", ""), &content), Err(NoteError::Decrypt));
        assert_eq!(
            open(&room("lobby", "s3cret"), &content),
            Err(NoteError::Decrypt)
        );
    }

    #[test]
    fn a_room_member_cannot_write_in_anothers_name() {
        // Tried: a tab that knows the room key takes a genuine note, changes its sender
        // to another tab's key (and, separately, its addressee) and re-encrypts it.
        let lobby = room("lobby", "");
        let alice = SecretKey::from_seed([1; 32]);
        let mallory = SecretKey::from_seed([3; 32]);
        let genuine = seal(&lobby, &alice, None, Timestamp(1), Body::Hello, [1; 24]);
        let plaintext = {
            let bytes = BASE64.decode(&genuine).unwrap();
            cipher(&lobby)
                .decrypt(
                    XNonce::from_slice(&bytes[..NONCE_LEN]),
                    Payload {
                        msg: &bytes[NONCE_LEN..],
                        aad: DOMAIN,
                    },
                )
                .unwrap()
        };
        let reseal = |json: String, signature: &[u8]| {
            let plaintext = [signature, json.as_bytes()].concat();
            let ct = cipher(&lobby)
                .encrypt(
                    XNonce::from_slice(&[2; 24]),
                    Payload {
                        msg: &plaintext,
                        aad: DOMAIN,
                    },
                )
                .unwrap();
            BASE64.encode([&[2u8; 24][..], &ct].concat())
        };
        let json = String::from_utf8(plaintext[SIGNATURE_LEN..].to_vec()).unwrap();
        let as_mallory = json.replace(
            &alice.public_key().to_string(),
            &mallory.public_key().to_string(),
        );
        assert_eq!(
            open(&lobby, &reseal(as_mallory, &plaintext[..SIGNATURE_LEN])),
            Err(NoteError::Signature)
        );
        let readdressed = json.replace(
            "\"to\":null",
            &format!("\"to\":\"{}\"", mallory.public_key().node_id()),
        );
        assert_eq!(
            open(&lobby, &reseal(readdressed, &plaintext[..SIGNATURE_LEN])),
            Err(NoteError::Signature)
        );
        // A note signed for another rule set (another genesis) does not verify here.
        let other_rules = RoomKey {
            genesis: Hash([9; 32]),
            ..lobby.clone()
        };
        let foreign = seal(
            &other_rules,
            &alice,
            None,
            Timestamp(1),
            Body::Hello,
            [1; 24],
        );
        assert_eq!(open(&lobby, &foreign), Err(NoteError::Signature));
    }

    #[test]
    fn garbage_is_refused_by_name() {
        let lobby = room("lobby", "");
        assert_eq!(open(&lobby, "not base64!"), Err(NoteError::Base64));
        assert_eq!(open(&lobby, "AAAA"), Err(NoteError::Decrypt));
        assert_eq!(
            open(&lobby, &"A".repeat(MAX_CONTENT + 4)),
            Err(NoteError::TooLarge(MAX_CONTENT + 4))
        );
        let flood = Body::Signals {
            signals: vec![
                Signal::Answer {
                    session: 1,
                    sdp: String::new()
                };
                MAX_SIGNALS + 1
            ],
        };
        let key = SecretKey::from_seed([1; 32]);
        let content = seal(&lobby, &key, None, Timestamp(1), flood, [0; 24]);
        assert_eq!(open(&lobby, &content), Err(NoteError::TooManySignals));
    }
}
