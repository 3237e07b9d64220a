//! What two nodes say to each other before they have a data channel: the WebRTC offer,
//! answer and ICE candidates of one link attempt. The same JSON travels every route
//! (the signaling server relays JSON; the mesh and BroadcastChannel carry it as is).

use serde::{Deserialize, Serialize};

/// One step of setting up a link. `session` tells apart the attempts of one pair of
/// nodes, so a late answer or candidate never lands on a newer connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    Offer { session: u64, sdp: String },
    Answer { session: u64, sdp: String },
    Candidate { session: u64, candidate: Candidate },
}

/// An ICE candidate as `RTCIceCandidateInit` has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub candidate: String,
    pub sdp_mid: Option<String>,
    pub sdp_m_line_index: Option<u16>,
}

impl Signal {
    pub fn session(&self) -> u64 {
        match self {
            Signal::Offer { session, .. }
            | Signal::Answer { session, .. }
            | Signal::Candidate { session, .. } => *session,
        }
    }

    /// The bytes that go through the mesh ([`crate::Node::send_signal`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a signal always encodes")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Signal, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
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
        let json = String::from_utf8(offer.to_bytes()).unwrap();
        assert_eq!(json, r#"{"kind":"offer","session":7,"sdp":"v=0"}"#);
        assert_eq!(Signal::from_bytes(json.as_bytes()).unwrap(), offer);
        assert!(Signal::from_bytes(br#"{"kind":"offer"}"#).is_err());
    }
}
