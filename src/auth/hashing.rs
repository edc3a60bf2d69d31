//! Password hashes: PBKDF2-HMAC-SHA256 (ring) with a 16-byte random salt; the
//! iteration count is stored with the hash so it can be raised later (hashes are
//! upgraded at the next sign-in). Hashing is CPU-heavy, so it runs on blocking
//! threads behind a semaphore: a login flood queues instead of starving the server.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use ring::pbkdf2;
use tokio::sync::Semaphore;

const ALGORITHM: pbkdf2::Algorithm = pbkdf2::PBKDF2_HMAC_SHA256;
const PREFIX: &str = "pbkdf2-sha256";

/// Hashes `password` with `iterations`: `pbkdf2-sha256$ITER$SALT$HASH` (base64).
pub fn hash_password(password: &str, iterations: u32) -> String {
    let iterations = NonZeroU32::new(iterations.max(1)).unwrap_or(NonZeroU32::MIN);
    let salt = super::random_bytes::<16>();
    let mut out = [0u8; 32];
    pbkdf2::derive(ALGORITHM, iterations, &salt, password.as_bytes(), &mut out);
    format!(
        "{PREFIX}${}${}${}",
        iterations,
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    )
}

/// Result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password (or an unreadable stored hash).
    No,
    /// Right password.
    Yes {
        /// The stored hash uses fewer iterations than configured now.
        needs_rehash: bool,
    },
}

/// Checks `password` against `stored` in constant time (ring's verify).
pub fn verify_password(password: &str, stored: &str, wanted_iterations: u32) -> Verified {
    let parts: Vec<&str> = stored.split('$').collect();
    let [PREFIX, iter, salt, hash] = parts.as_slice() else {
        return Verified::No;
    };
    let (Ok(iter), Ok(salt), Ok(hash)) = (
        iter.parse::<u32>(),
        STANDARD_NO_PAD.decode(salt),
        STANDARD_NO_PAD.decode(hash),
    ) else {
        return Verified::No;
    };
    let Some(iterations) = NonZeroU32::new(iter) else {
        return Verified::No;
    };
    match pbkdf2::verify(ALGORITHM, iterations, &salt, password.as_bytes(), &hash) {
        Ok(()) => Verified::Yes {
            needs_rehash: iter < wanted_iterations,
        },
        Err(_) => Verified::No,
    }
}

/// Bounded, off-executor password hashing shared by all requests.
#[derive(Debug, Clone)]
pub struct Hasher {
    pub iterations: u32,
    permits: Arc<Semaphore>,
    /// A hash of nothing in particular, verified when the account does not exist so
    /// that unknown and known names take the same time.
    dummy: Arc<String>,
}

/// Hashing could not be done in time (too many concurrent sign-ins).
#[derive(Debug, thiserror::Error)]
#[error("too many sign-ins in progress; please retry")]
pub struct Busy;

impl Hasher {
    /// `concurrency` simultaneous computations (0 = number of CPU cores).
    pub fn new(iterations: u32, concurrency: usize) -> Hasher {
        let n = if concurrency == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        } else {
            concurrency
        };
        Hasher {
            iterations,
            permits: Arc::new(Semaphore::new(n)),
            dummy: Arc::new(hash_password("dummy password for timing", iterations)),
        }
    }

    async fn bounded<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = tokio::time::timeout(Duration::from_secs(10), self.permits.acquire())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let out = tokio::task::spawn_blocking(f).await.map_err(|_| Busy)?;
        drop(permit);
        Ok(out)
    }

    /// Verifies against `stored`, or against a dummy hash when `stored` is `None`
    /// (always [`Verified::No`]).
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<Verified, Busy> {
        let wanted = self.iterations;
        let (stored, real) = match stored {
            Some(s) => (s, true),
            None => (self.dummy.as_ref().clone(), false),
        };
        let v = self
            .bounded(move || verify_password(&password, &stored, wanted))
            .await?;
        Ok(if real { v } else { Verified::No })
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: String) -> Result<String, Busy> {
        let iterations = self.iterations;
        self.bounded(move || hash_password(&password, iterations))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trip_and_format() {
        let h = hash_password("correct horse battery", 1000);
        assert!(h.starts_with("pbkdf2-sha256$1000$"));
        assert_eq!(
            verify_password("correct horse battery", &h, 1000),
            Verified::Yes {
                needs_rehash: false
            }
        );
        assert_eq!(verify_password("wrong", &h, 1000), Verified::No);
        assert_eq!(verify_password("x", "garbage", 1000), Verified::No);
    }

    #[test]
    fn salts_differ_and_raised_iterations_ask_for_rehash() {
        assert_ne!(hash_password("same", 1000), hash_password("same", 1000));
        let h = hash_password("pw", 1000);
        assert_eq!(
            verify_password("pw", &h, 600_000),
            Verified::Yes { needs_rehash: true }
        );
    }

    #[test]
    fn production_strength_is_600k_iterations() {
        let h = hash_password("pw", crate::config::MIN_PBKDF2_ITERATIONS);
        assert!(h.starts_with("pbkdf2-sha256$600000$"));
        let salt = STANDARD_NO_PAD
            .decode(h.split('$').nth(2).unwrap())
            .unwrap();
        assert_eq!(salt.len(), 16);
    }
}
