//! Content-addressed file store for raw messages and attachments: a file's name is
//! its SHA-256, so a redelivered file is stored once and a stored file can be
//! checked against its name. Files are written to a temporary name, synced, then
//! renamed, so a crash never leaves a partial file under a final name.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The store's root folder.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

/// SHA-256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

impl FileStore {
    /// A store under `root` (created when first written).
    pub fn new(root: impl Into<PathBuf>) -> FileStore {
        FileStore { root: root.into() }
    }

    fn path_of(&self, sha: &str) -> Option<PathBuf> {
        // Only names this store made: 64 lower-case hex digits.
        if sha.len() != 64
            || !sha
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return None;
        }
        Some(self.root.join(&sha[..2]).join(sha))
    }

    /// Stores `bytes` (once) and returns their SHA-256.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let sha = sha256_hex(bytes);
        let path = self
            .path_of(&sha)
            .ok_or_else(|| std::io::Error::other("bad digest"))?;
        if path.exists() {
            return Ok(sha);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{sha}.{}.tmp", uuid::Uuid::new_v4().simple()));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(sha)
    }

    /// The stored bytes, verified against their name (`None` when missing).
    pub fn get(&self, sha: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(path) = self.path_of(sha) else {
            return Ok(None);
        };
        match std::fs::read(&path) {
            Ok(b) if sha256_hex(&b) == sha => Ok(Some(b)),
            Ok(_) => Err(std::io::Error::other(format!(
                "stored file {sha} does not match its digest"
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_once_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStore::new(dir.path());
        let a = s.put(b"hello").unwrap();
        assert_eq!(a, s.put(b"hello").unwrap());
        assert_eq!(s.get(&a).unwrap().unwrap(), b"hello");
        assert!(s.get(&"0".repeat(64)).unwrap().is_none());
        assert!(s.get("../../etc/passwd").unwrap().is_none());
        std::fs::write(dir.path().join(&a[..2]).join(&a), b"changed").unwrap();
        assert!(s.get(&a).is_err(), "a changed file is detected");
    }
}
