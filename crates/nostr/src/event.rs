//! NIP-01, as much as a tab needs: signed events, the three messages a client sends
//! (`EVENT`, `REQ`, `CLOSE`) and the five a relay answers with.

use k256::schnorr::SigningKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The kind of every tabchain event: in NIP-01's ephemeral range (20000-29999), which
/// relays pass on to subscribers and do not store.
pub const KIND: u16 = 24_133;

/// A Nostr event as relays carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// SHA-256 of the event's canonical serialization, hex.
    pub id: String,
    /// The x-only secp256k1 key that signed it, hex.
    pub pubkey: String,
    pub created_at: u64,
    pub kind: u16,
    pub tags: Vec<Vec<String>>,
    pub content: String,
    /// BIP-340 Schnorr signature over `id`, hex.
    pub sig: String,
}

impl Event {
    /// An event by `key` at `created_at` (Unix seconds); `aux` is BIP-340's auxiliary
    /// randomness.
    pub fn sign(
        key: &SigningKey,
        created_at: u64,
        tags: Vec<Vec<String>>,
        content: String,
        aux: &[u8; 32],
    ) -> Event {
        let pubkey = hex::encode(key.verifying_key().to_bytes());
        let id = event_id(&pubkey, created_at, KIND, &tags, &content);
        let sig = key
            .sign_raw(&id, aux)
            .expect("signing 32 bytes cannot fail");
        Event {
            id: hex::encode(id),
            pubkey,
            created_at,
            kind: KIND,
            tags,
            content,
            sig: hex::encode(sig.to_bytes()),
        }
    }

    /// The first value of the tag named `name`.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|tag| tag.first().is_some_and(|n| n == name))
            .and_then(|tag| tag.get(1))
            .map(String::as_str)
    }
}

/// NIP-01's id: SHA-256 of `[0,pubkey,created_at,kind,tags,content]` as compact JSON.
fn event_id(
    pubkey: &str,
    created_at: u64,
    kind: u16,
    tags: &[Vec<String>],
    content: &str,
) -> [u8; 32] {
    let canonical = json!([0, pubkey, created_at, kind, tags, content]).to_string();
    Sha256::digest(canonical.as_bytes()).into()
}

/// `["EVENT", event]`: publish.
pub fn publish(event: &Event) -> String {
    json!(["EVENT", event]).to_string()
}

/// `["REQ", id, {"kinds":[KIND],"#t":[topic],"since":since}]`: this room's events from
/// `since` (Unix seconds) on.
pub fn subscribe(id: &str, topic: &str, since: u64) -> String {
    json!(["REQ", id, {"kinds": [KIND], "#t": [topic], "since": since}]).to_string()
}

/// What a relay says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayMessage {
    Event {
        subscription: String,
        event: Event,
    },
    /// Whether it took our event `id`, and why not.
    Ok {
        id: String,
        accepted: bool,
        message: String,
    },
    /// Stored events are over; what follows is live.
    EndOfStored {
        subscription: String,
    },
    /// It ended our subscription.
    Closed {
        subscription: String,
        message: String,
    },
    Notice {
        message: String,
    },
}

/// Why a relay's frame was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayMessageError {
    #[error("not a JSON array: {0}")]
    Json(String),
    #[error("not a NIP-01 relay message")]
    Shape,
}

impl RelayMessage {
    pub fn parse(text: &str) -> Result<RelayMessage, RelayMessageError> {
        let value: Vec<Value> =
            serde_json::from_str(text).map_err(|err| RelayMessageError::Json(err.to_string()))?;
        let text_at = |i: usize| value.get(i).and_then(Value::as_str).map(str::to_owned);
        let shape = RelayMessageError::Shape;
        Ok(match (text_at(0).as_deref(), value.len()) {
            (Some("EVENT"), 3) => RelayMessage::Event {
                subscription: text_at(1).ok_or(shape)?,
                event: serde_json::from_value(value[2].clone())
                    .map_err(|_| RelayMessageError::Shape)?,
            },
            (Some("OK"), 4) => RelayMessage::Ok {
                id: text_at(1).ok_or(shape.clone())?,
                accepted: value[2].as_bool().ok_or(shape.clone())?,
                message: text_at(3).ok_or(shape)?,
            },
            (Some("EOSE"), 2) => RelayMessage::EndOfStored {
                subscription: text_at(1).ok_or(shape)?,
            },
            (Some("CLOSED"), 3) => RelayMessage::Closed {
                subscription: text_at(1).ok_or(shape.clone())?,
                message: text_at(2).ok_or(shape)?,
            },
            (Some("NOTICE"), 2) => RelayMessage::Notice {
                message: text_at(1).ok_or(shape)?,
            },
            _ => return Err(shape),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::schnorr::{Signature, VerifyingKey};

    #[test]
    fn events_are_signed_as_nip_01_says() {
        let key = SigningKey::from_bytes(&[3; 32]).unwrap();
        let tags = vec![vec!["t".to_owned(), "abc".to_owned()]];
        let event = Event::sign(&key, 1_700_000_000, tags, "hi \"there\"\n".into(), &[0; 32]);
        // The id is the digest of the canonical form, escapes and all.
        let canonical = format!(
            r#"[0,"{}",1700000000,24133,[["t","abc"]],"hi \"there\"\n"]"#,
            event.pubkey
        );
        assert_eq!(event.id, hex::encode(Sha256::digest(canonical.as_bytes())));
        let pubkey = VerifyingKey::from_bytes(&hex::decode(&event.pubkey).unwrap()).unwrap();
        let sig = Signature::try_from(hex::decode(&event.sig).unwrap().as_slice()).unwrap();
        pubkey
            .verify_raw(&hex::decode(&event.id).unwrap(), &sig)
            .unwrap();
        assert_eq!(event.tag("t"), Some("abc"));
        let published: Value = serde_json::from_str(&publish(&event)).unwrap();
        assert_eq!(published[0], "EVENT");
        assert_eq!(published[1]["id"], event.id);
    }

    #[test]
    fn relay_messages_parse_and_garbage_is_named() {
        let ok = RelayMessage::parse(r#"["OK","ab",false,"rate-limited: slow down"]"#).unwrap();
        assert_eq!(
            ok,
            RelayMessage::Ok {
                id: "ab".into(),
                accepted: false,
                message: "rate-limited: slow down".into()
            }
        );
        assert_eq!(
            RelayMessage::parse(r#"["EOSE","s"]"#).unwrap(),
            RelayMessage::EndOfStored {
                subscription: "s".into()
            }
        );
        assert_eq!(
            RelayMessage::parse(r#"["NOTICE","too fast"]"#).unwrap(),
            RelayMessage::Notice {
                message: "too fast".into()
            }
        );
        // Tried: not JSON, an object, an unknown verb, a short OK, an event that is not one.
        assert!(matches!(
            RelayMessage::parse("{"),
            Err(RelayMessageError::Json(_))
        ));
        for garbage in [
            r#"{"a":1}"#,
            r#"["AUTH","x"]"#,
            r#"["OK","ab",true]"#,
            r#"["EVENT","s",{"id":1}]"#,
        ] {
            assert!(RelayMessage::parse(garbage).is_err(), "{garbage}");
        }
    }
}
