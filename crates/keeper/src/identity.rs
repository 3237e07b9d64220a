//! The keeper's node key on disk, so that it keeps its id (and its peers' trust in it)
//! across restarts.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use tabchain_core::SecretKey;

const FILE: &str = "node.key";

/// Why the key could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: String, source: io::Error },
    /// Refused rather than replaced: a new key would be a new node to every peer.
    #[error("{path} holds {len} bytes, not a 32-byte key; move it away to start a new node")]
    Malformed { path: String, len: usize },
}

/// The key in `dir/node.key`, or a new random one written there first (readable by
/// its owner only, fsynced, and put in place by a rename, so a crash leaves either no
/// key or a whole one).
pub fn load_or_create(dir: &Path) -> Result<SecretKey, IdentityError> {
    let path = dir.join(FILE);
    let io_error = |source| IdentityError::Io {
        path: path.display().to_string(),
        source,
    };
    match File::open(&path) {
        Ok(mut file) => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).map_err(io_error)?;
            let seed: [u8; 32] =
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| IdentityError::Malformed {
                        path: path.display().to_string(),
                        len: bytes.len(),
                    })?;
            Ok(SecretKey::from_seed(seed))
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|err| io_error(io::Error::other(err)))?;
            let temporary = dir.join(format!("{FILE}.new"));
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temporary)
                .map_err(io_error)?;
            file.write_all(&seed).map_err(io_error)?;
            file.sync_all().map_err(io_error)?;
            fs::rename(&temporary, &path).map_err(io_error)?;
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_error)?;
            Ok(SecretKey::from_seed(seed))
        }
        Err(err) => Err(io_error(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_read_back_after() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        // Tried: a damaged key file. It is refused by name, and left for a person.
        fs::write(dir.path().join(FILE), b"short").unwrap();
        assert!(matches!(
            load_or_create(dir.path()),
            Err(IdentityError::Malformed { len: 5, .. })
        ));
        assert_eq!(fs::read(dir.path().join(FILE)).unwrap(), b"short");
    }
}
