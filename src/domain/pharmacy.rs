//! A pharmacy (薬局, 店舗) of a chain: identity data printed on receipts and notices.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::contact::{parse_email, parse_phone, parse_postal_code};
use super::fields::FieldErrors;
use super::text;

/// 薬局コード: 10 digits (都道府県番号 2, 点数表番号 1 (4 = 調剤), 薬局コード 7).
pub fn parse_pharmacy_code(input: &str) -> Result<String, String> {
    let n = text::digits(input, &[10])?;
    if &n[2..3] != "4" {
        return Err("3桁目は点数表番号 4 (調剤) です (third digit must be 4)".into());
    }
    let prefecture: u32 = n[..2].parse().unwrap_or(0);
    if !(1..=47).contains(&prefecture) {
        return Err("都道府県番号が正しくありません (prefecture 01-47)".into());
    }
    Ok(n)
}

/// Pharmacy data as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct PharmacyInput {
    /// 薬局コード (10 digits)
    pub code: String,
    pub name: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub email: String,
    /// 開設者
    pub founder: String,
}

/// A validated pharmacy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PharmacyDraft {
    pub code: String,
    pub name: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub email: String,
    pub founder: String,
}

fn required(input: &str, max: usize) -> Result<String, String> {
    let n = text::normalize(input);
    if n.is_empty() {
        return Err("入力してください (required)".into());
    }
    if n.chars().count() > max {
        return Err(format!("{max}文字以内 (at most {max} characters)"));
    }
    Ok(n)
}

impl PharmacyInput {
    /// Validates every field.
    pub fn parse(&self) -> Result<PharmacyDraft, FieldErrors> {
        let mut e = FieldErrors::new();
        let code = e.check("code", parse_pharmacy_code(&self.code));
        let name = e.check("name", required(&self.name, 100));
        let postal_code = e.check("postal_code", parse_postal_code(&self.postal_code));
        let address = e.check("address", required(&self.address, 200));
        let phone = e.check("phone", parse_phone(&self.phone));
        let email = e.check("email", parse_email(&self.email));
        let founder = e.check("founder", required(&self.founder, 100));
        match (code, name, postal_code, address, phone, email, founder) {
            (
                Some(code),
                Some(name),
                Some(postal_code),
                Some(address),
                Some(phone),
                Some(email),
                Some(founder),
            ) if e.is_empty() => Ok(PharmacyDraft {
                code,
                name,
                postal_code,
                address,
                phone,
                email,
                founder,
            }),
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pharmacy_code_is_ten_digits_with_dispensing_table_number() {
        assert_eq!(
            parse_pharmacy_code("１３４１２３４５６７").unwrap(),
            "1341234567"
        );
        assert!(parse_pharmacy_code("1311234567").is_err());
        assert!(parse_pharmacy_code("9941234567").is_err());
        assert!(parse_pharmacy_code("134123456").is_err());
    }

    #[test]
    fn missing_fields_are_all_reported() {
        let e = PharmacyInput::default().parse().unwrap_err();
        for f in [
            "code",
            "name",
            "postal_code",
            "address",
            "phone",
            "email",
            "founder",
        ] {
            assert!(e.get(f).is_some(), "{f}");
        }
    }
}
