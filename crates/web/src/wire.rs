//! What tabs say to each other before they have a data channel: WebRTC offers, answers
//! and ICE candidates ([`Signal`]), carried by the signaling server, by the mesh
//! (`Node::send_signal`) or between tabs of one browser by BroadcastChannel
//! ([`Broadcast`]). All JSON, since the server relays JSON.

use serde::{Deserialize, Serialize};

/// One step of setting up a link. `session` tells apart the attempts of one pair of
/// tabs, so a late answer or candidate never lands on a newer connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    Offer {
        session: u64,
        sdp: String,
    },
    Answer {
        session: u64,
        sdp: String,
    },
    Candidate {
        session: u64,
        candidate: String,
        sdp_mid: Option<String>,
        sdp_m_line_index: Option<u16>,
    },
}

impl Signal {
    pub fn session(&self) -> u64 {
        match self {
            Signal::Offer { session, .. }
            | Signal::Answer { session, .. }
            | Signal::Candidate { session, .. } => *session,
        }
    }
}

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
    fn signals_are_tagged_json() {
        let offer = Signal::Offer {
            session: 7,
            sdp: "v=0".into(),
        };
        let json = serde_json::to_string(&offer).unwrap();
        assert_eq!(json, r#"{"kind":"offer","session":7,"sdp":"v=0"}"#);
        assert_eq!(serde_json::from_str::<Signal>(&json).unwrap(), offer);
        assert!(serde_json::from_str::<Signal>(r#"{"kind":"offer"}"#).is_err());
    }
}
