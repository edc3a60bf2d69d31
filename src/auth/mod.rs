//! Staff authentication: password hashing, TOTP second factor and recovery codes,
//! server-side sessions, sign-in with failure limits.

pub mod enroll;
pub mod hashing;
pub mod login;
pub mod session;
pub mod totp;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};

/// `n` random bytes from the operating system's CSPRNG (ring).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // SystemRandom only fails if the OS has no entropy source at all; there is no
    // safe way to continue without one.
    SystemRandom::new()
        .fill(&mut buf)
        .expect("operating system random number generator unavailable");
    buf
}

/// A random token of `N` bytes, base64url-encoded.
pub fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// SHA-256 of a secret token, hex-encoded: what the database stores instead of it.
pub fn token_hash(token: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

/// Compares two secrets without an early exit (via their hashes, of equal length).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    let (ha, hb) = (
        ring::digest::digest(&ring::digest::SHA256, a.as_bytes()),
        ring::digest::digest(&ring::digest::SHA256, b.as_bytes()),
    );
    ha.as_ref()
        .iter()
        .zip(hb.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_128_bits_or_more() {
        let a = random_token::<16>();
        let b = random_token::<16>();
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 16);
        assert_eq!(token_hash("x").len(), 64);
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
    }
}
