//! Password policy (MHLW 安全管理ガイドライン / OWASP ASVS): at least 12 characters
//! with a second factor, 13 without, and none of the 10,000 most common passwords.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The 10,000 most common passwords (Django's list, from breach corpora), lower-case.
const COMMON: &str = include_str!("../auth/common_passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Minimum length for an account that uses a second factor.
pub const MIN_LEN_WITH_2FA: usize = 12;
/// Minimum length for an account without a second factor.
pub const MIN_LEN_WITHOUT_2FA: usize = 13;
/// Maximum length accepted (bounds hashing work).
pub const MAX_LEN: usize = 128;

/// Checks a new password. `has_second_factor` selects the length rule.
pub fn check_policy(password: &str, has_second_factor: bool) -> Result<(), String> {
    let min = if has_second_factor {
        MIN_LEN_WITH_2FA
    } else {
        MIN_LEN_WITHOUT_2FA
    };
    let len = password.chars().count();
    if len < min {
        return Err(format!(
            "パスワードは{min}文字以上にしてください (at least {min} characters)"
        ));
    }
    if len > MAX_LEN {
        return Err(format!(
            "パスワードは{MAX_LEN}文字以内にしてください (at most {MAX_LEN} characters)"
        ));
    }
    if common().contains(password.to_lowercase().as_str()) {
        return Err("よく使われるパスワードは使えません (this password is too common)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_has_ten_thousand_entries() {
        assert_eq!(common().len(), 10_000);
    }

    #[test]
    fn length_depends_on_second_factor() {
        assert!(check_policy("kusuri-12345", true).is_ok());
        assert!(check_policy("kusuri-12345", false).is_err());
        assert!(check_policy("kusuri-123456", false).is_ok());
        assert!(check_policy(&"x".repeat(129), true).is_err());
    }

    #[test]
    fn common_passwords_are_refused_case_insensitively() {
        // Both are long enough and in the common list.
        assert!(check_policy("QwertyUiop123", false)
            .unwrap_err()
            .contains("common"));
        assert!(check_policy("megaparol12345", false)
            .unwrap_err()
            .contains("common"));
    }
}
