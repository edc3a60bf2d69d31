//! Text normalisation for Japanese input: full-width digits and letters become
//! ASCII (NFKC), half-width katakana becomes full-width, hiragana is accepted for
//! katakana fields, and search keys ignore spacing.

use unicode_normalization::UnicodeNormalization;

/// NFKC-normalises and trims: `"０３－１２３４"` → `"03-1234"`, `"ｱｲ"` → `"アイ"`.
/// Also maps the dash look-alikes people type in numbers to `-`.
pub fn normalize(input: &str) -> String {
    input
        .nfkc()
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FF0D}' => '-',
            other => other,
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Normalises a field that must contain only digits, allowing hyphens and spaces as
/// separators (removed). Returns an error message naming the rule.
pub fn digits(input: &str, allowed_lengths: &[usize]) -> Result<String, String> {
    let n: String = normalize(input)
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | 'ー'))
        .collect();
    if n.is_empty() {
        return Err("入力してください (required)".into());
    }
    if !n.chars().all(|c| c.is_ascii_digit()) {
        return Err("数字のみで入力してください (digits only)".into());
    }
    if !allowed_lengths.contains(&n.chars().count()) {
        let lens: Vec<String> = allowed_lengths.iter().map(|l| l.to_string()).collect();
        return Err(format!(
            "{}桁で入力してください ({} digits)",
            lens.join("または"),
            lens.join(" or ")
        ));
    }
    Ok(n)
}

/// Converts hiragana to katakana (ぁ-ゖ → ァ-ヶ).
pub fn hiragana_to_katakana(input: &str) -> String {
    input
        .chars()
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            other => other,
        })
        .collect()
}

/// Normalises a カナ name: NFKC (half-width to full-width), hiragana to katakana,
/// runs of spaces (ASCII or full-width) to one ideographic space.
pub fn normalize_kana(input: &str) -> String {
    let n = hiragana_to_katakana(&normalize(input));
    n.split_whitespace().collect::<Vec<_>>().join("\u{3000}")
}

/// Whether a normalised カナ name consists of katakana, the long-vowel mark, middle
/// dot and spaces only.
pub fn is_katakana_name(input: &str) -> bool {
    !input.is_empty()
        && input.chars().all(|c| {
            matches!(
                c,
                '\u{30A1}'..='\u{30FA}' | '\u{30FC}' | '\u{30FB}' | '\u{3000}' | ' '
            )
        })
}

/// Search key for a カナ name: normalised, without spaces or middle dots.
pub fn kana_key(input: &str) -> String {
    normalize_kana(input)
        .chars()
        .filter(|c| !matches!(c, '\u{3000}' | ' ' | '\u{30FB}'))
        .collect()
}

/// Trims and NFKC-normalises free text; `None` when empty.
pub fn optional(input: Option<&str>) -> Option<String> {
    input.map(normalize).filter(|s| !s.is_empty())
}

/// Formats a stored phone number (digits) for people: 03-1234-5678,
/// 090-1234-5678, 045-123-4567. Unknown shapes are returned unchanged.
pub fn format_phone(digits: &str) -> String {
    let d = digits;
    if !d.chars().all(|c| c.is_ascii_digit()) {
        return d.to_string();
    }
    match d.len() {
        11 => format!("{}-{}-{}", &d[..3], &d[3..7], &d[7..]),
        10 if d.starts_with("03") || d.starts_with("06") => {
            format!("{}-{}-{}", &d[..2], &d[2..6], &d[6..])
        }
        10 => format!("{}-{}-{}", &d[..3], &d[3..6], &d[6..]),
        _ => d.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_digits_and_dashes_are_normalised() {
        assert_eq!(normalize("０３－１２３４－５６７８"), "03-1234-5678");
        assert_eq!(digits("０１１３００１２", &[8]).unwrap(), "01130012");
        assert_eq!(digits("090-1234-5678", &[10, 11]).unwrap(), "09012345678");
    }

    #[test]
    fn digit_fields_reject_letters_and_wrong_lengths() {
        assert!(digits("12a4", &[4]).unwrap_err().contains("digits only"));
        assert!(digits("123", &[6, 8]).unwrap_err().contains("6 or 8"));
        assert!(digits("  ", &[6]).unwrap_err().contains("required"));
    }

    #[test]
    fn phone_numbers_are_formatted_for_people() {
        assert_eq!(format_phone("0312345678"), "03-1234-5678");
        assert_eq!(format_phone("09012345678"), "090-1234-5678");
        assert_eq!(format_phone("0451234567"), "045-123-4567");
        assert_eq!(format_phone("123"), "123");
    }

    #[test]
    fn kana_is_normalised_from_half_width_and_hiragana() {
        assert_eq!(normalize_kana("ﾔﾏﾀﾞ ﾀﾛｳ"), "ヤマダ\u{3000}タロウ");
        assert_eq!(normalize_kana("やまだ　たろう"), "ヤマダ\u{3000}タロウ");
        assert!(is_katakana_name(&normalize_kana("ヤマダ タロー")));
        assert!(!is_katakana_name(&normalize_kana("山田")));
        assert_eq!(kana_key("ヤマダ　タロウ"), "ヤマダタロウ");
    }
}
