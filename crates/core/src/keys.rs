//! ed25519 keys and signatures, and the two fingerprints of a public key: the
//! [`NodeId`] that names a tab on the network and the [`Address`] that coins are paid to.
//!
//! The key types hold plain bytes so that anything can be decoded from the wire; a key
//! is only parsed as a curve point when a signature is checked, and a malformed one is
//! a [`KeyError`], not a panic.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hash::Hash;

/// Why a signature does not check out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the public key is not a valid ed25519 point")]
    BadPublicKey,
    #[error("the signature does not match the key and message")]
    BadSignature,
}

/// Why a string is not a key, signature, id or address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("expected {expected} hex digits")]
    BadLength { expected: usize },
    #[error("not hex")]
    NotHex,
    #[error("an address starts with \"{}\"", Address::PREFIX)]
    BadPrefix,
    #[error("the address checksum does not match: a character is mistyped")]
    BadChecksum,
}

/// Exactly `N` bytes written as `2N` hex digits.
pub fn parse_hex<const N: usize>(s: &str) -> Result<[u8; N], ParseError> {
    if s.len() != 2 * N {
        return Err(ParseError::BadLength { expected: 2 * N });
    }
    let mut out = [0; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| ParseError::NotHex)?;
    Ok(out)
}

/// An ed25519 public key, as its 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Checks `signature` over `message` (strict verification: no malleable encodings).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), KeyError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::BadPublicKey)?;
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(message, &signature)
            .map_err(|_| KeyError::BadSignature)
    }

    pub fn node_id(&self) -> NodeId {
        NodeId::of(self)
    }

    pub fn address(&self) -> Address {
        Address::of(self)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(&self.0[..4]))
    }
}

impl FromStr for PublicKey {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex(s).map(PublicKey)
    }
}

/// An ed25519 signature, as its 64 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// A placeholder in a transaction that is about to be signed.
    pub const EMPTY: Signature = Signature([0; 64]);
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(&self.0[..4]))
    }
}

impl FromStr for Signature {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex(s).map(Signature)
    }
}

// serde implements arrays only up to 32 elements; two 32-byte halves keep the encoding
// a fixed 64 bytes in postcard.
impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (a, b) = self.0.split_at(32);
        let a: [u8; 32] = a.try_into().expect("64 = 32 + 32");
        let b: [u8; 32] = b.try_into().expect("64 = 32 + 32");
        (a, b).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (a, b) = <([u8; 32], [u8; 32])>::deserialize(deserializer)?;
        let mut bytes = [0; 64];
        bytes[..32].copy_from_slice(&a);
        bytes[32..].copy_from_slice(&b);
        Ok(Signature(bytes))
    }
}

/// A secret ed25519 key: a tab's identity on the network and its wallet.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A new key from the caller's cryptographic RNG (the core has no randomness of its own).
    pub fn generate(rng: &mut impl CryptoRngCore) -> SecretKey {
        SecretKey(SigningKey::generate(rng))
    }

    /// The key with this 32-byte seed, e.g. one kept in a tab's storage.
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(&seed))
    }

    /// The 32-byte seed, to store and restore the key with [`SecretKey::from_seed`].
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl Clone for SecretKey {
    fn clone(&self) -> Self {
        SecretKey::from_seed(self.seed())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(for {:?})", self.public_key())
    }
}

/// A node's name on the network: the first 16 bytes of SHA-256 of its public key,
/// written as 32 lowercase hex digits. The signaling server and every node use this
/// one definition.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId(pub [u8; 16]);

impl NodeId {
    pub fn of(key: &PublicKey) -> NodeId {
        let digest = Hash::digest(&key.0);
        let mut id = [0; 16];
        id.copy_from_slice(&digest.0[..16]);
        NodeId(id)
    }

    /// Six hex digits, to show in a crowded list.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..3])
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.short())
    }
}

impl FromStr for NodeId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ParseError::NotHex);
        }
        parse_hex(s).map(NodeId)
    }
}

/// Where coins are paid: the first 20 bytes of SHA-256 of an ed25519 public key.
///
/// Printed as `tc` + 48 hex digits: the 20 bytes and a 4-byte checksum, so a mistyped
/// address is refused instead of paying coins that nobody can spend.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Address(pub [u8; 20]);

impl Address {
    pub const PREFIX: &'static str = "tc";

    pub fn of(key: &PublicKey) -> Address {
        let digest = Hash::digest(&key.0);
        let mut address = [0; 20];
        address.copy_from_slice(&digest.0[..20]);
        Address(address)
    }

    fn checksum(bytes: &[u8; 20]) -> [u8; 4] {
        let digest = Hash::digest_parts(&[b"tabchain-address", bytes]);
        [digest.0[0], digest.0[1], digest.0[2], digest.0[3]]
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            Self::PREFIX,
            hex::encode(self.0),
            hex::encode(Self::checksum(&self.0))
        )
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", hex::encode(&self.0[..4]))
    }
}

impl FromStr for Address {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let body = s.strip_prefix(Self::PREFIX).ok_or(ParseError::BadPrefix)?;
        let bytes: [u8; 24] = parse_hex(&body.to_ascii_lowercase())?;
        let mut address = [0; 20];
        address.copy_from_slice(&bytes[..20]);
        if bytes[20..] != Self::checksum(&address) {
            return Err(ParseError::BadChecksum);
        }
        Ok(Address(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SecretKey {
        SecretKey::from_seed([n; 32])
    }

    #[test]
    fn signatures_verify_only_for_their_key_and_message() {
        let (a, b) = (key(1), key(2));
        let sig = a.sign(b"hello");
        assert_eq!(a.public_key().verify(b"hello", &sig), Ok(()));
        assert_eq!(
            a.public_key().verify(b"hellO", &sig),
            Err(KeyError::BadSignature)
        );
        assert_eq!(
            b.public_key().verify(b"hello", &sig),
            Err(KeyError::BadSignature)
        );
    }

    #[test]
    fn a_public_key_that_is_not_a_curve_point_is_refused() {
        // y = 2 has no x on the curve, so these bytes decode to no point.
        let mut bytes = [0; 32];
        bytes[0] = 2;
        let sig = key(1).sign(b"m");
        assert_eq!(
            PublicKey(bytes).verify(b"m", &sig),
            Err(KeyError::BadPublicKey)
        );
    }

    #[test]
    fn seed_round_trips() {
        let k = key(7);
        assert_eq!(SecretKey::from_seed(k.seed()).public_key(), k.public_key());
    }

    #[test]
    fn node_id_is_the_first_16_bytes_of_sha256_of_the_key() {
        let pk = key(3).public_key();
        let id = pk.node_id();
        assert_eq!(id.0[..], Hash::digest(&pk.0).0[..16]);
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(text.parse::<NodeId>(), Ok(id));
        assert_eq!(
            text.to_uppercase().parse::<NodeId>(),
            Err(ParseError::NotHex)
        );
    }

    #[test]
    fn a_mistyped_address_is_refused() {
        let address = key(4).public_key().address();
        let text = address.to_string();
        assert_eq!(text.parse::<Address>(), Ok(address));
        for i in Address::PREFIX.len()..text.len() {
            let mut typo = text.clone().into_bytes();
            typo[i] = if typo[i] == b'0' { b'1' } else { b'0' };
            let typo = String::from_utf8(typo).unwrap();
            assert_eq!(
                typo.parse::<Address>(),
                Err(ParseError::BadChecksum),
                "{typo}"
            );
        }
        assert_eq!(text[2..].parse::<Address>(), Err(ParseError::BadPrefix));
        assert_eq!(
            "tc00".parse::<Address>(),
            Err(ParseError::BadLength { expected: 48 })
        );
    }

    #[test]
    fn signature_encodes_as_64_bytes() {
        let sig = key(5).sign(b"x");
        let bytes = postcard::to_stdvec(&sig).unwrap();
        assert_eq!(bytes.len(), 64);
        assert_eq!(postcard::from_bytes::<Signature>(&bytes).unwrap(), sig);
    }
}
