//! Insurance identifiers on 被保険者証 and 公費 certificates, with their check digits.

use super::text;

/// The check digit used by 保険者番号 and 公費負担者番号: from the right of the body,
/// digits are weighted 2, 1, 2, 1, ...; two-digit products are summed digit by digit;
/// the check digit is (10 - sum mod 10) mod 10.
pub fn check_digit(body: &str) -> Option<u32> {
    let mut sum = 0;
    for (i, c) in body.chars().rev().enumerate() {
        let d = c.to_digit(10)?;
        let p = if i % 2 == 0 { d * 2 } else { d };
        sum += p / 10 + p % 10;
    }
    Some((10 - sum % 10) % 10)
}

fn with_check_digit(field_value: &str, lengths: &[usize], what: &str) -> Result<String, String> {
    let n = text::digits(field_value, lengths)?;
    let (body, last) = n.split_at(n.len() - 1);
    let expected = check_digit(body).ok_or_else(|| "digits only".to_string())?;
    if last.parse::<u32>().ok() != Some(expected) {
        return Err(format!(
            "{what}の検証番号が一致しません (check digit does not match)"
        ));
    }
    Ok(n)
}

/// 保険者番号: 6 digits (国民健康保険) or 8 digits, the last being a check digit.
pub fn parse_insurer_number(input: &str) -> Result<String, String> {
    with_check_digit(input, &[6, 8], "保険者番号")
}

/// 公費負担者番号: 8 digits with a check digit.
pub fn parse_public_payer_number(input: &str) -> Result<String, String> {
    with_check_digit(input, &[8], "公費負担者番号")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_match_real_insurer_numbers() {
        // 全国健康保険協会 東京支部 and 大阪支部; a 国民健康保険 number.
        assert_eq!(check_digit("0113001"), Some(2));
        assert_eq!(check_digit("0127001"), Some(6));
        assert!(parse_insurer_number("01130012").is_ok());
        assert!(parse_insurer_number("138057").is_ok());
        assert!(parse_insurer_number("01130013")
            .unwrap_err()
            .contains("check digit"));
        assert!(parse_public_payer_number("54136015").is_ok());
        assert!(parse_public_payer_number("54136016").is_err());
    }
}
