//! Contact details as people type them: postal codes, phone numbers, e-mail.

use super::text;

/// Japanese postal code, stored as `123-4567`.
pub fn parse_postal_code(input: &str) -> Result<String, String> {
    let n = text::digits(input, &[7])?;
    Ok(format!("{}-{}", &n[..3], &n[3..]))
}

/// Telephone number: 10 or 11 digits, stored without separators.
pub fn parse_phone(input: &str) -> Result<String, String> {
    let n = text::digits(input, &[10, 11])?;
    if !n.starts_with('0') {
        return Err("0から始まる電話番号を入力してください (must start with 0)".into());
    }
    Ok(n)
}

/// An e-mail address in its common form (local@domain.tld), lower-cased domain.
pub fn parse_email(input: &str) -> Result<String, String> {
    let n = text::normalize(input);
    let invalid = || "メールアドレスの形式が正しくありません (invalid e-mail address)".to_string();
    if n.len() > 254 || n.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = n.rsplit_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && local.is_ascii()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !domain_ok || !local_ok {
        return Err(invalid());
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_details_are_normalised() {
        assert_eq!(parse_postal_code("１６０－００２２").unwrap(), "160-0022");
        assert_eq!(parse_phone("03-1234-5678").unwrap(), "0312345678");
        assert!(parse_phone("1234567890").is_err());
        assert_eq!(parse_email("Taro@Example.JP").unwrap(), "Taro@example.jp");
        for bad in [
            "no-at",
            "a@b",
            "a b@c.jp",
            "a@.jp",
            "a..b@c.jp",
            "山田@example.jp",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }
}
