//! TOTP second factor (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps) via totp-rs,
//! with one step of clock drift either way. Each code is usable once: the last used
//! step is stored and codes at or before it are refused. Recovery codes are random,
//! stored hashed and single-use.

use qrcode::render::svg;
use qrcode::QrCode;
use totp_rs::{Algorithm, Secret, TOTP};

const STEP: u64 = 30;
const DIGITS: usize = 6;

/// Why a code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("確認コードが正しくありません (wrong code)")]
    Wrong,
    #[error("この確認コードは使用済みです (code already used)")]
    Reused,
    #[error("second factor is misconfigured for this account")]
    BadSecret,
}

fn totp(secret_b32: &str, issuer: &str, account: &str) -> Result<TOTP, TotpError> {
    let bytes = Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|_| TotpError::BadSecret)?;
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP,
        bytes,
        Some(issuer.replace(':', " ")),
        account.replace(':', " "),
    )
    .map_err(|_| TotpError::BadSecret)
}

/// A new random 160-bit secret, base32-encoded.
pub fn new_secret() -> String {
    Secret::Raw(super::random_bytes::<20>().to_vec())
        .to_encoded()
        .to_string()
}

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(secret_b32: &str, issuer: &str, account: &str) -> Result<String, TotpError> {
    Ok(totp(secret_b32, issuer, account)?.get_url())
}

/// The code for `unix_time` (tests and enrolment checks).
pub fn code_at(secret_b32: &str, unix_time: u64) -> Result<String, TotpError> {
    Ok(totp(secret_b32, "x", "x")?.generate(unix_time))
}

/// Verifies `code` at `unix_time`; returns the matched step, which must be stored
/// as the new last-used step. `last_step` is the step of the last accepted code.
pub fn verify(
    secret_b32: &str,
    code: &str,
    unix_time: u64,
    last_step: Option<i64>,
) -> Result<i64, TotpError> {
    let code: String = crate::domain::text::normalize(code)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if code.len() != DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(TotpError::Wrong);
    }
    let t = totp(secret_b32, "x", "x")?;
    let current = (unix_time / STEP) as i64;
    for step in [current - 1, current, current + 1] {
        if step < 0 {
            continue;
        }
        let expected = t.generate(step as u64 * STEP);
        if super::secrets_equal(&expected, &code) {
            if last_step.is_some_and(|last| step <= last) {
                return Err(TotpError::Reused);
            }
            return Ok(step);
        }
    }
    Err(TotpError::Wrong)
}

/// An SVG QR code of `data`, for the enrolment page (rendered inline, no script).
pub fn qr_svg(data: &str) -> String {
    match QrCode::new(data.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// Ten new recovery codes like `k7qm-3xpt-9fhw` (60 bits each).
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..10)
        .map(|_| {
            let bytes = super::random_bytes::<12>();
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect();
            format!(
                "{}-{}-{}",
                chars[0..4].iter().collect::<String>(),
                chars[4..8].iter().collect::<String>(),
                chars[8..12].iter().collect::<String>()
            )
        })
        .collect()
}

/// Normalises a typed recovery code (case, spaces, full width).
pub fn normalize_recovery_code(input: &str) -> String {
    crate::domain::text::normalize(input)
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<Vec<char>>()
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", truncated to 6 digits.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn matches_rfc6238_vectors() {
        assert_eq!(code_at(RFC_SECRET, 59).unwrap(), "287082");
        assert_eq!(code_at(RFC_SECRET, 1111111109).unwrap(), "081804");
        assert_eq!(code_at(RFC_SECRET, 1234567890).unwrap(), "005924");
    }

    #[test]
    fn a_code_is_accepted_once_and_drift_is_one_step() {
        let t = 1_700_000_000u64;
        let code = code_at(RFC_SECRET, t).unwrap();
        let step = verify(RFC_SECRET, &code, t, None).unwrap();
        assert_eq!(step, (t / 30) as i64);
        assert_eq!(
            verify(RFC_SECRET, &code, t, Some(step)),
            Err(TotpError::Reused)
        );
        assert!(verify(RFC_SECRET, &code, t + 30, None).is_ok());
        assert_eq!(
            verify(RFC_SECRET, &code, t + 90, None),
            Err(TotpError::Wrong)
        );
        assert_eq!(verify(RFC_SECRET, "12345", t, None), Err(TotpError::Wrong));
    }

    #[test]
    fn enrolment_material() {
        let s = new_secret();
        let uri = otpauth_uri(&s, "Pharmacy", "alice").unwrap();
        assert!(uri.starts_with("otpauth://totp/"));
        assert!(uri.contains(&s));
        assert!(qr_svg(&uri).contains("<svg"));
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(
            normalize_recovery_code(&codes[0].to_uppercase().replace('-', " ")),
            codes[0]
        );
    }
}
