//! A wallet's backup code: what a student copies (or scans as a QR code) to take their
//! coins to another browser. It is the wallet key's 32-byte seed, in hex, behind a
//! version tag and ahead of a checksum, so that a mistyped or cut code is refused by
//! name instead of opening an empty wallet.
//!
//! `tcw1` ‖ 64 hex digits of the seed ‖ 8 hex digits of SHA-256(seed); spaces and dashes
//! in a typed code are ignored, and case does not matter.

use sha2::{Digest, Sha256};

const TAG: &str = "tcw1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    #[error("not a tabchain wallet code (they start with tcw1)")]
    NotACode,
    #[error("the code has {0} characters where 76 were expected: a part is missing or doubled")]
    Length(usize),
    #[error("the code has a character that is not a hex digit")]
    NotHex,
    #[error("the code's checksum does not match: a character was mistyped")]
    Checksum,
}

fn checksum(seed: &[u8; 32]) -> [u8; 4] {
    let digest = Sha256::digest(seed);
    [digest[0], digest[1], digest[2], digest[3]]
}

pub fn encode(seed: &[u8; 32]) -> String {
    format!("{TAG}{}{}", hex::encode(seed), hex::encode(checksum(seed)))
}

pub fn decode(code: &str) -> Result<[u8; 32], BackupError> {
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    let body = code.strip_prefix(TAG).ok_or(BackupError::NotACode)?;
    if body.len() != 72 {
        return Err(BackupError::Length(code.len()));
    }
    let bytes = hex::decode(body).map_err(|_| BackupError::NotHex)?;
    let seed: [u8; 32] = bytes[..32].try_into().expect("72 hex digits are 36 bytes");
    if bytes[32..] != checksum(&seed) {
        return Err(BackupError::Checksum);
    }
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_brings_back_its_seed_and_mistakes_are_named() {
        let seed = [0xa7; 32];
        let code = encode(&seed);
        assert_eq!(code.len(), 76);
        assert_eq!(decode(&code), Ok(seed));
        // Typed with spaces, dashes and capitals.
        let typed = format!("{} - {}", &code[..40].to_uppercase(), &code[40..]);
        assert_eq!(decode(&typed), Ok(seed));
        // Tried: one digit changed, a digit missing, a letter that is not hex, an address.
        let mut mistyped = code.clone().into_bytes();
        mistyped[10] = if mistyped[10] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            decode(std::str::from_utf8(&mistyped).unwrap()),
            Err(BackupError::Checksum)
        );
        assert_eq!(decode(&code[..75]), Err(BackupError::Length(75)));
        assert_eq!(
            decode(&format!("tcw1{}", "g".repeat(72))),
            Err(BackupError::NotHex)
        );
        assert_eq!(decode("tc1f00d"), Err(BackupError::NotACode));
    }
}
