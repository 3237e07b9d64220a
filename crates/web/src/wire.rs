//! What tabs of one browser say on the room's BroadcastChannel ([`Broadcast`]): who is
//! here, and the link manager's [`Signal`]s between them. JSON, like every route's.

use serde::{Deserialize, Serialize};
use tabchain_node::link::Signal;

/// A message on the room's BroadcastChannel, seen by every tab of this browser in the
/// room. Node ids are hex strings; a message whose ids do not parse is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Broadcast {
    /// A tab arrived; everyone answers `Here`.
    Hello {
        from: String,
    },
    Here {
        from: String,
    },
    /// A tab is closing.
    Bye {
        from: String,
    },
    Signal {
        from: String,
        to: String,
        signal: Signal,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

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
