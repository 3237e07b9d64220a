//! Room names: which network a tab joins.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a room name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoomNameError {
    #[error("a room name is at least one character long")]
    Empty,
    #[error("a room name is at most {} characters long", RoomName::MAX_LEN)]
    TooLong,
    #[error("a room name uses only A-Z, a-z, 0-9, '_' and '-'")]
    BadCharacter,
}

/// A room name: 1 to 64 characters of `[A-Za-z0-9_-]`.
///
/// The alphabet keeps names safe in URLs, logs and metrics without escaping, and the
/// name goes into the signed challenge as its plain ASCII bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

impl RoomName {
    pub const MAX_LEN: usize = 64;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RoomName {
    type Err = RoomNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(RoomNameError::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(RoomNameError::TooLong);
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(RoomNameError::BadCharacter);
        }
        Ok(RoomName(s.to_owned()))
    }
}

impl TryFrom<String> for RoomName {
    type Error = RoomNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RoomName> for String {
    fn from(room: RoomName) -> String {
        room.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoomName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_allowed_alphabet_and_length_parse() {
        for name in ["a", "class-3B_2026", &"x".repeat(64)] {
            assert_eq!(name.parse::<RoomName>().unwrap().as_str(), name);
        }
    }

    #[test]
    fn other_names_are_refused() {
        assert_eq!("".parse::<RoomName>(), Err(RoomNameError::Empty));
        assert_eq!(
            "x".repeat(65).parse::<RoomName>(),
            Err(RoomNameError::TooLong)
        );
        for name in ["a b", "a/b", "a.b", "é", "a%20b", "a\0"] {
            assert_eq!(
                name.parse::<RoomName>(),
                Err(RoomNameError::BadCharacter),
                "{name:?}"
            );
        }
    }

    #[test]
    fn serde_checks_the_name_too() {
        assert!(serde_json::from_str::<RoomName>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<RoomName>("\"not ok\"").is_err());
        assert_eq!(
            serde_json::to_string(&"ok".parse::<RoomName>().unwrap()).unwrap(),
            "\"ok\""
        );
    }
}
