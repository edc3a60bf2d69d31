//! Signed, expiring links for patients (the booking portal: no password). A token
//! carries the pharmacy, the session, the action and an expiry, and is signed with
//! HMAC-SHA256 (ring); a one-time nonce lets the service refuse reuse.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;
use serde::{Deserialize, Serialize};

/// What a link allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// Pharmacy id.
    pub p: String,
    /// Guidance session id.
    pub s: String,
    /// What the link is for: manage (a booked session) or book (a new one).
    pub a: String,
    /// Expiry (Unix seconds).
    pub e: i64,
    /// One-time nonce.
    pub n: String,
    /// Patient id (booking links, which have no session yet).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub u: String,
    /// Prescription id the booking is for (booking links; may be empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub r: String,
}

/// Why a link is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("リンクが正しくありません (malformed link)")]
    Malformed,
    #[error("リンクが改ざんされています (link altered)")]
    Altered,
    #[error("リンクの有効期限が切れています (link expired)")]
    Expired,
}

/// A token for `claims`, signed with `key`.
pub fn sign(key: &[u8], claims: &LinkClaims) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), body.as_bytes());
    format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// The claims of a valid, unexpired token (`now` in Unix seconds). The signature
/// is checked in constant time before anything else is read.
pub fn verify(key: &[u8], token: &str, now: i64) -> Result<LinkClaims, LinkError> {
    let (body, tag) = token.split_once('.').ok_or(LinkError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| LinkError::Malformed)?;
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, key),
        body.as_bytes(),
        &tag,
    )
    .map_err(|_| LinkError::Altered)?;
    let json = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| LinkError::Malformed)?;
    let claims: LinkClaims = serde_json::from_slice(&json).map_err(|_| LinkError::Malformed)?;
    if now > claims.e {
        return Err(LinkError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> LinkClaims {
        LinkClaims {
            p: "p1".into(),
            s: "s1".into(),
            a: "confirm".into(),
            e: 1_000,
            n: "n1".into(),
            u: String::new(),
            r: String::new(),
        }
    }

    #[test]
    fn valid_altered_and_expired_links() {
        let key = b"0123456789abcdef0123456789abcdef";
        let t = sign(key, &claims());
        assert_eq!(verify(key, &t, 999), Ok(claims()));
        assert_eq!(verify(key, &t, 1_001), Err(LinkError::Expired));
        assert_eq!(verify(b"another key", &t, 999), Err(LinkError::Altered));
        let mut forged = claims();
        forged.a = "cancel".into();
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let sig = t.split_once('.').unwrap().1;
        assert_eq!(
            verify(key, &format!("{body}.{sig}"), 999),
            Err(LinkError::Altered)
        );
        assert_eq!(verify(key, "garbage", 999), Err(LinkError::Malformed));
    }
}
