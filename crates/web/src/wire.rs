//! What tabs of one browser say on the room's BroadcastChannel ([`Broadcast`]): who is
//! here, and the link manager's [`Signal`]s between them. JSON, like every route's.

use serde::{Deserialize, Serialize};
use tabchain_node::link::Signal;

/// A message on the room's BroadcastChannel, seen by every tab of this browser in the
/// room, and by any other page of this origin: nothing here is trusted without proof.
/// Node ids are hex strings; a message whose fields do not parse is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Broadcast {
    /// A tab arrived, with a fresh nonce; everyone answers `Here`.
    Hello {
        from: String,
        nonce: String,
    },
    Here {
        from: String,
    },
    /// The id `from` is already open in another tab of this browser (a duplicated tab
    /// copies its sessionStorage, so its key): the older tab proves it holds the key by
    /// signing the newcomer's nonce ([`taken_bytes`]), and only then does the newcomer
    /// take a new identity.
    Taken {
        from: String,
        nonce: String,
        signature: String,
    },
    /// A tab is closing: it is no longer reachable over this channel. (Its links end by
    /// its own `Goodbye` on each of them, never by this unauthenticated message.)
    Bye {
        from: String,
    },
    Signal {
        from: String,
        to: String,
        signal: Signal,
    },
}

/// The bytes a tab signs to say its id is taken: a domain, then the newcomer's nonce.
pub fn taken_bytes(nonce: &[u8; 32]) -> Vec<u8> {
    [b"tabchain-taken/v1".as_slice(), nonce].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_id_is_proven_only_by_its_key_over_the_newcomers_nonce() {
        let key = tabchain_core::SecretKey::from_seed([1; 32]);
        let nonce = [7; 32];
        let signature = key.sign(&taken_bytes(&nonce));
        assert!(key
            .public_key()
            .verify(&taken_bytes(&nonce), &signature)
            .is_ok());
        assert!(key
            .public_key()
            .verify(&taken_bytes(&[8; 32]), &signature)
            .is_err());
        let other = tabchain_core::SecretKey::from_seed([2; 32]);
        assert!(other
            .public_key()
            .verify(&taken_bytes(&nonce), &signature)
            .is_err());
    }

    #[test]
    fn broadcasts_are_tagged_json_and_carry_signals_as_is() {
        let message = Broadcast::Signal {
            from: "a".into(),
            to: "b".into(),
            signal: Signal::Offer {
                session: 7,
                sdp: "v=0".into(),
            },
        };
        let json = serde_json::to_string(&message).unwrap();
        assert_eq!(
            json,
            r#"{"type":"signal","from":"a","to":"b","signal":{"kind":"offer","session":7,"sdp":"v=0"}}"#
        );
        assert_eq!(serde_json::from_str::<Broadcast>(&json).unwrap(), message);
    }
}
