//! The handshake: each side sends a [`Version`] naming its chain and proving its
//! identity on this very link, and accepts the other's with `Verack`.
//!
//! The driver says which node it believes it reached (from the signaling server or the
//! mesh) and passes bytes that only this link has: in the browser, the two DTLS
//! fingerprints sorted and joined. A `Version` is accepted only if its key hashes to
//! that node id and signs those bytes, so neither the signaling server nor a relaying
//! peer can pose as someone else, and a `Version` cannot be replayed on another link.

use serde::{Deserialize, Serialize};
use tabchain_core::{Address, Hash, NodeId, PublicKey, SecretKey, Signature};

use crate::message::PROTOCOL_VERSION;

/// Separates handshake signatures from every other use of a node's key.
const DOMAIN: &[u8] = b"tabchain-link/v1";
/// Separates a wallet's claim of its node from every other use of a wallet key.
const PAYEE_DOMAIN: &[u8] = b"tabchain-payee/v1";

/// The opening message of a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub protocol: u8,
    /// Genesis hash: the room. Peers of another room are refused.
    pub genesis: Hash,
    /// The sender's active chain, so the receiver knows at once whether to sync.
    pub best_height: u64,
    pub best_hash: Hash,
    /// What the sender does for the room. Bits this node does not know are kept and
    /// ignored: a later role must not cut a newer node off from older ones.
    pub roles: Roles,
    /// Where the node's mining rewards go, so peers can name the miner of a block.
    pub payee: Option<Payee>,
    pub public_key: PublicKey,
    /// Over the domain tag `tabchain-link/v1`, `genesis` and the link's binding bytes.
    pub signature: Signature,
}

/// A node's wallet address, proven by the wallet key's signature over the node's own
/// key: it cannot be copied into another node's `Version`, so no one can have another
/// student's blocks shown under their name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payee {
    pub key: PublicKey,
    pub signature: Signature,
}

impl Payee {
    pub fn new(wallet: &SecretKey, node: &PublicKey) -> Payee {
        Payee {
            key: wallet.public_key(),
            signature: wallet.sign(&payee_bytes(node)),
        }
    }

    pub fn address(&self) -> Address {
        self.key.address()
    }

    fn check(&self, node: &PublicKey) -> bool {
        self.key.verify(&payee_bytes(node), &self.signature).is_ok()
    }
}

fn payee_bytes(node: &PublicKey) -> Vec<u8> {
    [PAYEE_DOMAIN, node.0.as_slice()].concat()
}

/// A node's roles, as a bitfield: what a peer may expect of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Roles(pub u8);

impl Roles {
    /// It mines blocks.
    pub const MINER: Roles = Roles(1);
    /// It checks every block and transaction and keeps the whole chain.
    pub const FULL: Roles = Roles(1 << 1);
    /// It stays in the room to keep the chain for whoever comes later (a native node).
    pub const KEEPER: Roles = Roles(1 << 2);
    /// It keeps headers and checks payments by merkle proof (not built yet).
    pub const LIGHT: Roles = Roles(1 << 3);
    /// What a tab is.
    pub const TAB: Roles = Roles(Roles::MINER.0 | Roles::FULL.0);

    const NAMES: [(Roles, &'static str); 4] = [
        (Roles::MINER, "miner"),
        (Roles::FULL, "full"),
        (Roles::KEEPER, "keeper"),
        (Roles::LIGHT, "light"),
    ];

    pub fn with(self, other: Roles) -> Roles {
        Roles(self.0 | other.0)
    }

    pub fn has(self, role: Roles) -> bool {
        self.0 & role.0 == role.0
    }

    /// The names of the roles this node knows, in bit order; unknown bits are left out.
    pub fn names(self) -> Vec<&'static str> {
        Roles::NAMES
            .iter()
            .filter(|(role, _)| self.has(*role))
            .map(|(_, name)| *name)
            .collect()
    }
}

/// Why a link was refused before it carried anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("protocol version {theirs}, this node speaks {ours}")]
    ProtocolVersion { ours: u8, theirs: u8 },
    #[error("the peer is on another chain (another room)")]
    WrongGenesis,
    #[error("the link leads back to this node")]
    SelfConnection,
    #[error("the peer's key does not match the node id it was reached as")]
    IdentityMismatch,
    #[error("the peer's signature over this link does not verify")]
    BadSignature,
    #[error("the peer claims a wallet address its wallet key did not sign for it")]
    BadPayee,
    #[error("already linked to this node")]
    DuplicateConnection,
    #[error("the peer is banned for misbehaving")]
    Banned,
    #[error("this node has all the links it takes")]
    TooManyPeers,
    #[error("the handshake did not finish in time")]
    Timeout,
    /// A `Verack` before the `Version`. Seen from honest tabs while both ends of a new
    /// link set it up under load, so it ends the link without a ban (a ban would keep
    /// two tabs of a classroom apart for ten minutes); the dial is tried again.
    #[error("the peer's handshake came out of order")]
    OutOfOrder,
}

impl HandshakeError {
    /// Whether the refusal shows the peer lying about who it is, rather than a
    /// mismatch an honest peer can run into.
    pub fn is_forgery(self) -> bool {
        matches!(
            self,
            HandshakeError::IdentityMismatch
                | HandshakeError::BadSignature
                | HandshakeError::BadPayee
        )
    }
}

fn signed_bytes(genesis: &Hash, binding: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(DOMAIN.len() + 32 + 8 + binding.len());
    bytes.extend_from_slice(DOMAIN);
    bytes.extend_from_slice(genesis.as_bytes());
    bytes.extend_from_slice(&(binding.len() as u64).to_le_bytes());
    bytes.extend_from_slice(binding);
    bytes
}

impl Version {
    /// Our `Version` for a link with these binding bytes.
    pub fn new(
        key: &SecretKey,
        genesis: Hash,
        best_height: u64,
        best_hash: Hash,
        roles: Roles,
        payee: Option<Payee>,
        binding: &[u8],
    ) -> Version {
        Version {
            protocol: PROTOCOL_VERSION,
            genesis,
            best_height,
            best_hash,
            roles,
            payee,
            public_key: key.public_key(),
            signature: key.sign(&signed_bytes(&genesis, binding)),
        }
    }

    /// Checks a peer's `Version`, cheapest first: it must speak our protocol, be on our
    /// chain, not be us, own the id `peer` we reached, and sign this link's `binding`.
    pub fn check(
        &self,
        peer: NodeId,
        own_key: &PublicKey,
        genesis: Hash,
        binding: &[u8],
    ) -> Result<(), HandshakeError> {
        if self.protocol != PROTOCOL_VERSION {
            return Err(HandshakeError::ProtocolVersion {
                ours: PROTOCOL_VERSION,
                theirs: self.protocol,
            });
        }
        if self.genesis != genesis {
            return Err(HandshakeError::WrongGenesis);
        }
        if self.public_key == *own_key {
            return Err(HandshakeError::SelfConnection);
        }
        if self.public_key.node_id() != peer {
            return Err(HandshakeError::IdentityMismatch);
        }
        self.public_key
            .verify(&signed_bytes(&genesis, binding), &self.signature)
            .map_err(|_| HandshakeError::BadSignature)?;
        match &self.payee {
            Some(payee) if !payee.check(&self.public_key) => Err(HandshakeError::BadPayee),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_checks_only_on_its_own_link_chain_and_id() {
        let (a, b) = (SecretKey::from_seed([1; 32]), SecretKey::from_seed([2; 32]));
        let (ga, gb) = (Hash::digest(b"room a"), Hash::digest(b"room b"));
        let a_id = a.public_key().node_id();
        let v = Version::new(&a, ga, 0, ga, Roles::TAB, None, b"fingerprints");
        let ours = b.public_key();
        assert_eq!(v.check(a_id, &ours, ga, b"fingerprints"), Ok(()));
        assert_eq!(
            v.check(a_id, &ours, ga, b"other link"),
            Err(HandshakeError::BadSignature)
        );
        assert_eq!(
            v.check(a_id, &ours, gb, b"fingerprints"),
            Err(HandshakeError::WrongGenesis)
        );
        assert_eq!(
            v.check(b.public_key().node_id(), &ours, ga, b"fingerprints"),
            Err(HandshakeError::IdentityMismatch)
        );
        assert_eq!(
            v.check(a_id, &a.public_key(), ga, b"fingerprints"),
            Err(HandshakeError::SelfConnection)
        );
        let old = Version { protocol: 0, ..v };
        assert_eq!(
            old.check(a_id, &ours, ga, b"fingerprints"),
            Err(HandshakeError::ProtocolVersion { ours: 1, theirs: 0 })
        );
    }

    #[test]
    fn a_payee_holds_only_for_the_node_its_wallet_signed_for() {
        let (a, b) = (SecretKey::from_seed([1; 32]), SecretKey::from_seed([2; 32]));
        let wallet = SecretKey::from_seed([3; 32]);
        let g = Hash::digest(b"room");
        let payee = Payee::new(&wallet, &a.public_key());
        assert_eq!(payee.address(), wallet.public_key().address());
        let honest = Version::new(&a, g, 0, g, Roles::TAB, Some(payee.clone()), b"link");
        let a_id = a.public_key().node_id();
        assert_eq!(honest.check(a_id, &b.public_key(), g, b"link"), Ok(()));
        // Tried: B copies A's proven address into its own Version, to have A's blocks
        // shown as B's.
        let copied = Version::new(&b, g, 0, g, Roles::TAB, Some(payee), b"link");
        let refused = copied.check(b.public_key().node_id(), &a.public_key(), g, b"link");
        assert_eq!(refused, Err(HandshakeError::BadPayee));
        assert!(HandshakeError::BadPayee.is_forgery());
    }

    #[test]
    fn unknown_role_bits_are_ignored_not_refused() {
        let a = SecretKey::from_seed([1; 32]);
        let b = SecretKey::from_seed([2; 32]);
        let g = Hash::digest(b"room");
        let future = Roles(0b1010_0110);
        let v = Version::new(&a, g, 0, g, future, None, b"link");
        assert_eq!(
            v.check(a.public_key().node_id(), &b.public_key(), g, b"link"),
            Ok(())
        );
        assert_eq!(future.names(), ["full", "keeper"]);
        assert_eq!(
            Roles::TAB.with(Roles::KEEPER).names(),
            ["miner", "full", "keeper"]
        );
    }
}
