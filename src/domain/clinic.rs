//! A clinic (医療機関) in a pharmacy's directory: who prescribes, how to reach them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::contact::{parse_email, parse_phone};
use super::fields::FieldErrors;
use super::text;

/// 医療機関コード: 10 digits (都道府県 2, 点数表 1: 1 医科 or 3 歯科, 7 digits).
pub fn parse_institution_code(input: &str) -> Result<String, String> {
    let n = text::digits(input, &[10])?;
    if !matches!(&n[2..3], "1" | "3") {
        return Err(
            "3桁目は点数表番号 1 (医科) または 3 (歯科) です (third digit must be 1 or 3)".into(),
        );
    }
    let prefecture: u32 = n[..2].parse().unwrap_or(0);
    if !(1..=47).contains(&prefecture) {
        return Err("都道府県番号が正しくありません (prefecture 01-47)".into());
    }
    Ok(n)
}

/// Clinic data as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct ClinicInput {
    pub name: String,
    /// 医療機関コード (10 digits)
    pub institution_code: Option<String>,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub email: Option<String>,
    /// The clinic agreed to be contacted by e-mail.
    pub email_allowed: bool,
    pub notes: Option<String>,
    /// Further addresses the clinic sends prescription copies from (one per line
    /// or comma-separated); its fax number and main address also match.
    pub sender_addresses: Option<String>,
}

/// A validated clinic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClinicDraft {
    pub name: String,
    pub institution_code: Option<String>,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub email: Option<String>,
    pub email_allowed: bool,
    pub notes: String,
    /// Lower case, one per line.
    pub sender_addresses: String,
}

impl ClinicInput {
    /// Validates every field.
    pub fn parse(&self) -> Result<ClinicDraft, FieldErrors> {
        let mut e = FieldErrors::new();
        let name = text::normalize(&self.name);
        if name.is_empty() || name.chars().count() > 100 {
            e.add("name", "1〜100文字で入力してください (1-100 characters)");
        }
        let present = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let institution_code = present(&self.institution_code)
            .and_then(|v| e.check("institution_code", parse_institution_code(&v)));
        let phone = present(&self.phone).and_then(|v| e.check("phone", parse_phone(&v)));
        let fax = present(&self.fax).and_then(|v| e.check("fax", parse_phone(&v)));
        let email = present(&self.email).and_then(|v| e.check("email", parse_email(&v)));
        if self.email_allowed && present(&self.email).is_none() {
            e.add("email", "メール連絡可の場合はメールアドレスを入力してください (required when e-mail is permitted)");
        }
        let mut senders = Vec::new();
        for a in self
            .sender_addresses
            .as_deref()
            .unwrap_or_default()
            .split(|c: char| c == ',' || c == '\n' || c.is_whitespace())
            .filter(|a| !a.trim().is_empty())
        {
            match parse_email(a) {
                Ok(v) => senders.push(v.to_ascii_lowercase()),
                Err(m) => e.add("sender_addresses", format!("{a}: {m}")),
            }
        }
        if senders.len() > 20 {
            e.add("sender_addresses", "20件まで (at most 20)");
        }
        let notes = present(&self.notes).unwrap_or_default();
        if notes.chars().count() > 2000 {
            e.add("notes", "2000文字以内 (at most 2000 characters)");
        }
        e.into_result(|| ClinicDraft {
            name,
            institution_code,
            phone,
            fax,
            email,
            email_allowed: self.email_allowed,
            notes,
            sender_addresses: senders.join("\n"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn institution_codes_are_checked() {
        assert_eq!(
            parse_institution_code("１３１２３４５６７８").unwrap(),
            "1312345678"
        );
        assert!(parse_institution_code("1332345678").is_ok());
        assert!(parse_institution_code("1342345678").is_err());
        assert!(parse_institution_code("131234567").is_err());
    }

    #[test]
    fn email_consent_needs_an_address_and_addresses_are_validated() {
        let c = ClinicInput {
            name: "新宿内科クリニック".into(),
            email_allowed: true,
            ..Default::default()
        };
        assert!(c.parse().unwrap_err().get("email").is_some());
        let c = ClinicInput {
            name: "新宿内科クリニック".into(),
            email: Some("bad".into()),
            fax: Some("03-1111-2222".into()),
            ..Default::default()
        };
        let e = c.parse().unwrap_err();
        assert!(e.get("email").is_some() && e.get("fax").is_none());
    }
}
