//! The join handshake: the server's challenge nonce, the exact bytes a tab signs to
//! prove it holds the key behind its peer id, and the check the server makes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tabchain_core::keys::ParseError;
use tabchain_core::{KeyError, NodeId, PublicKey, SecretKey, Signature};

use crate::{ClientMessage, RoomName};

/// What every signed challenge starts with, so that a signature made for the signaling
/// server can never be replayed as a transaction or a peer-protocol handshake.
pub const DOMAIN: &str = "tabchain-signal/v1";

/// The server's fresh random challenge for one connection; hex on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce(pub [u8; 32]);

impl Serialize for Nonce {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::text::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for Nonce {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::text::deserialize(d)
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", hex::encode(&self.0[..4]))
    }
}

impl FromStr for Nonce {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        tabchain_core::keys::parse_hex(s).map(Nonce)
    }
}

/// The bytes a tab signs to join `room` after the server sent `nonce`:
/// the ASCII of [`DOMAIN`], then the room name, then the nonce as its 64 lowercase hex
/// digits (the very text of the `challenge` message).
///
/// The nonce is last and of fixed length, so no two (room, nonce) pairs give the same
/// bytes. Hex text rather than raw bytes lets a JavaScript client build the message by
/// joining three strings.
pub fn challenge_bytes(room: &RoomName, nonce: &Nonce) -> Vec<u8> {
    let nonce = nonce.to_string();
    let mut bytes = Vec::with_capacity(DOMAIN.len() + room.as_str().len() + nonce.len());
    bytes.extend_from_slice(DOMAIN.as_bytes());
    bytes.extend_from_slice(room.as_str().as_bytes());
    bytes.extend_from_slice(nonce.as_bytes());
    bytes
}

/// The `hello` a tab with `key` answers the challenge with.
pub fn hello(key: &SecretKey, room: &RoomName, nonce: &Nonce) -> ClientMessage {
    ClientMessage::Hello {
        public_key: key.public_key(),
        signature: key.sign(&challenge_bytes(room, nonce)),
    }
}

/// The server's check of a `hello`: the peer id it proves, or why it proves nothing.
pub fn verify_hello(
    room: &RoomName,
    nonce: &Nonce,
    public_key: &PublicKey,
    signature: &Signature,
) -> Result<NodeId, KeyError> {
    public_key.verify(&challenge_bytes(room, nonce), signature)?;
    Ok(NodeId::of(public_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        name.parse().unwrap()
    }

    #[test]
    fn the_signed_bytes_are_domain_room_and_hex_nonce() {
        let nonce = Nonce([0xab; 32]);
        let bytes = challenge_bytes(&room("class1"), &nonce);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            format!("tabchain-signal/v1class1{}", "ab".repeat(32))
        );
    }

    #[test]
    fn a_hello_proves_the_id_of_its_key_for_its_room_and_nonce_only() {
        let key = SecretKey::from_seed([9; 32]);
        let nonce = Nonce([1; 32]);
        let ClientMessage::Hello {
            public_key,
            signature,
        } = hello(&key, &room("a"), &nonce)
        else {
            panic!("hello builds a hello");
        };
        assert_eq!(
            verify_hello(&room("a"), &nonce, &public_key, &signature),
            Ok(key.public_key().node_id())
        );
        assert_eq!(
            verify_hello(&room("b"), &nonce, &public_key, &signature),
            Err(KeyError::BadSignature)
        );
        assert_eq!(
            verify_hello(&room("a"), &Nonce([2; 32]), &public_key, &signature),
            Err(KeyError::BadSignature)
        );
    }

    #[test]
    fn nonce_text_round_trips() {
        let nonce = Nonce([0x5a; 32]);
        assert_eq!(nonce.to_string().parse::<Nonce>(), Ok(nonce));
        assert_eq!(
            "00".parse::<Nonce>(),
            Err(ParseError::BadLength { expected: 64 })
        );
        assert_eq!(
            serde_json::to_string(&nonce).unwrap(),
            format!("\"{}\"", "5a".repeat(32))
        );
    }
}
