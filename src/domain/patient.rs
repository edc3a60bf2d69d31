//! Patient identity and insurance data (患者情報), parsed from what staff type:
//! digits normalised from full width, lengths and check digits verified, every
//! problem reported against its field.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::contact::{parse_email, parse_phone, parse_postal_code};
use super::fields::FieldErrors;
use super::insurance::{parse_insurer_number, parse_public_payer_number};
use super::text;

/// 性別. The e-prescription CSV codes are 1 (male) and 2 (female).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
    Other,
    Unknown,
}

impl Sex {
    /// Parses `male`/`female`/`other`/`unknown`, the CSV codes `1`/`2`, or 男/女.
    pub fn parse(input: &str) -> Result<Sex, String> {
        match text::normalize(input).to_lowercase().as_str() {
            "male" | "1" | "男" | "男性" => Ok(Sex::Male),
            "female" | "2" | "女" | "女性" => Ok(Sex::Female),
            "other" | "その他" => Ok(Sex::Other),
            "unknown" | "不明" => Ok(Sex::Unknown),
            "" => Err("入力してください (required)".into()),
            _ => Err(
                "male, female, other, unknown のいずれか (one of male, female, other, unknown)"
                    .into(),
            ),
        }
    }

    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }

    /// Japanese label for the console.
    pub fn label(self) -> &'static str {
        match self {
            Sex::Male => "男性",
            Sex::Female => "女性",
            Sex::Other => "その他",
            Sex::Unknown => "不明",
        }
    }
}

/// 生年月日 from `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD`, not in the future.
pub fn parse_birth_date(input: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let n = text::normalize(input).replace('/', "-");
    if n.is_empty() {
        return Err("入力してください (required)".into());
    }
    let date = NaiveDate::parse_from_str(&n, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(&n, "%Y%m%d"))
        .map_err(|_| "日付は YYYY-MM-DD で入力してください (date as YYYY-MM-DD)".to_string())?;
    let earliest = NaiveDate::from_ymd_opt(1880, 1, 1).unwrap_or(NaiveDate::MIN);
    if date > today {
        return Err("未来の日付です (date is in the future)".into());
    }
    if date < earliest {
        return Err("1880年以降の日付を入力してください (date before 1880)".into());
    }
    Ok(date)
}

fn bounded(input: &str, max: usize) -> Result<String, String> {
    let n = input.trim().to_string();
    if n.chars().count() > max {
        return Err(format!(
            "{max}文字以内で入力してください (at most {max} characters)"
        ));
    }
    Ok(n)
}

/// 氏名 (漢字). Not NFKC-normalised: compatibility ideographs in names must stay as
/// written. Spaces are unified to one ideographic space.
pub fn parse_kanji_name(input: &str) -> Result<String, String> {
    let n = input
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("\u{3000}");
    if n.is_empty() {
        return Err("入力してください (required)".into());
    }
    bounded(&n, 100)
}

/// 氏名 (カナ): katakana after normalisation.
pub fn parse_kana_name(input: &str) -> Result<String, String> {
    let n = text::normalize_kana(input);
    if n.is_empty() {
        return Err("入力してください (required)".into());
    }
    if !text::is_katakana_name(&n) {
        return Err("カタカナで入力してください (katakana only)".into());
    }
    bounded(&n, 100)
}

/// One 公費 (public expense programme) entry: 負担者番号 and 受給者番号.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublicExpense {
    /// 公費負担者番号 (8 digits)
    pub payer_number: String,
    /// 公費受給者番号 (7 digits; absent for some programmes)
    #[serde(default)]
    pub recipient_number: Option<String>,
}

/// Patient data as submitted (API JSON or console form), before validation.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct PatientInput {
    /// 氏名 (漢字)
    pub name_kanji: String,
    /// 氏名 (カナ)
    pub name_kana: String,
    /// 生年月日 (YYYY-MM-DD)
    pub birth_date: String,
    /// male, female, other or unknown
    pub sex: String,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// The patient agreed to be contacted by e-mail (メール連絡の同意).
    pub email_allowed: bool,
    /// 保険者番号 (6 or 8 digits)
    pub insurer_number: Option<String>,
    /// 被保険者証の記号
    pub insured_symbol: Option<String>,
    /// 被保険者証の番号
    pub insured_number: Option<String>,
    /// 枝番 (2 digits)
    pub insured_branch: Option<String>,
    /// 公費 entries (at most four)
    pub public_expenses: Vec<PublicExpense>,
    pub allergies: Option<String>,
    pub notes: Option<String>,
}

/// A validated patient record, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientDraft {
    pub name_kanji: String,
    pub name_kana: String,
    pub name_kana_key: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub email_allowed: bool,
    pub insurer_number: Option<String>,
    pub insured_symbol: Option<String>,
    pub insured_number: Option<String>,
    pub insured_branch: Option<String>,
    pub public_expenses: Vec<PublicExpense>,
    pub allergies: String,
    pub notes: String,
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl PatientInput {
    /// Validates every field; returns all problems at once.
    pub fn parse(&self, today: NaiveDate) -> Result<PatientDraft, FieldErrors> {
        let mut e = FieldErrors::new();
        let name_kanji = e.check("name_kanji", parse_kanji_name(&self.name_kanji));
        let name_kana = e.check("name_kana", parse_kana_name(&self.name_kana));
        let birth_date = e.check("birth_date", parse_birth_date(&self.birth_date, today));
        let sex = e.check("sex", Sex::parse(&self.sex));
        let mut opt =
            |field: &str, v: &Option<String>, f: &dyn Fn(&str) -> Result<String, String>| {
                present(v).and_then(|s| e.check(field, f(s)))
            };
        let postal_code = opt("postal_code", &self.postal_code, &parse_postal_code);
        let address = opt("address", &self.address, &|s| bounded(s, 200));
        let phone = opt("phone", &self.phone, &parse_phone);
        let email = opt("email", &self.email, &parse_email);
        let insurer_number = opt(
            "insurer_number",
            &self.insurer_number,
            &parse_insurer_number,
        );
        let insured_symbol = opt("insured_symbol", &self.insured_symbol, &|s| {
            bounded(&text::normalize(s), 38)
        });
        let insured_number = opt("insured_number", &self.insured_number, &|s| {
            bounded(&text::normalize(s), 38)
        });
        let insured_branch = opt("insured_branch", &self.insured_branch, &|s| {
            text::digits(s, &[2])
        });
        let allergies = opt("allergies", &self.allergies, &|s| bounded(s, 2000));
        let notes = opt("notes", &self.notes, &|s| bounded(s, 4000));

        if present(&self.insurer_number).is_some() && present(&self.insured_number).is_none() {
            e.add(
                "insured_number",
                "保険者番号がある場合は番号も入力してください (required with an insurer number)",
            );
        }
        if present(&self.insured_number).is_some() && present(&self.insurer_number).is_none() {
            e.add(
                "insurer_number",
                "番号がある場合は保険者番号も入力してください (required with an insured number)",
            );
        }
        if self.email_allowed && present(&self.email).is_none() {
            e.add(
                "email",
                "メール連絡に同意する場合はメールアドレスを入力してください (required when e-mail contact is permitted)",
            );
        }
        if self.public_expenses.len() > 4 {
            e.add("public_expenses", "公費は4件までです (at most four)");
        }
        let mut public_expenses = Vec::new();
        for (i, pe) in self.public_expenses.iter().enumerate().take(4) {
            if pe.payer_number.trim().is_empty() && present(&pe.recipient_number).is_none() {
                continue;
            }
            let payer = e.check(
                &format!("public_expenses[{i}].payer_number"),
                parse_public_payer_number(&pe.payer_number),
            );
            let recipient = match present(&pe.recipient_number) {
                Some(r) => e.check(
                    &format!("public_expenses[{i}].recipient_number"),
                    text::digits(r, &[7]),
                ),
                None => None,
            };
            if let Some(payer_number) = payer {
                public_expenses.push(PublicExpense {
                    payer_number,
                    recipient_number: recipient,
                });
            }
        }

        let (Some(name_kanji), Some(name_kana), Some(birth_date), Some(sex)) =
            (name_kanji, name_kana, birth_date, sex)
        else {
            return Err(e);
        };
        e.into_result(|| PatientDraft {
            name_kana_key: text::kana_key(&name_kana),
            name_kanji,
            name_kana,
            birth_date,
            sex,
            postal_code,
            address,
            phone,
            email,
            email_allowed: self.email_allowed,
            insurer_number,
            insured_symbol,
            insured_number,
            insured_branch,
            public_expenses,
            allergies: allergies.unwrap_or_default(),
            notes: notes.unwrap_or_default(),
        })
    }
}

/// How staff search the patient list. Each present criterion narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientSearch {
    /// Prefix of the カナ name, spacing ignored.
    pub kana: Option<String>,
    pub birth_date: Option<NaiveDate>,
    /// 被保険者証の番号 or 保険者番号, exact.
    pub insurance_number: Option<String>,
}

impl PatientSearch {
    /// Parses raw query parameters; a malformed date is a field error.
    pub fn parse(
        kana: Option<&str>,
        birth_date: Option<&str>,
        insurance_number: Option<&str>,
    ) -> Result<PatientSearch, FieldErrors> {
        let mut e = FieldErrors::new();
        let kana = kana.map(text::kana_key).filter(|k| !k.is_empty());
        let birth_date = birth_date
            .map(text::normalize)
            .filter(|s| !s.is_empty())
            .and_then(|s| {
                e.check(
                    "birth_date",
                    NaiveDate::parse_from_str(&s.replace('/', "-"), "%Y-%m-%d")
                        .or_else(|_| NaiveDate::parse_from_str(&s, "%Y%m%d"))
                        .map_err(|_| {
                            "日付は YYYY-MM-DD で入力してください (date as YYYY-MM-DD)".to_string()
                        }),
                )
            });
        let insurance_number = insurance_number
            .map(text::normalize)
            .filter(|s| !s.is_empty());
        e.into_result(|| PatientSearch {
            kana,
            birth_date,
            insurance_number,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    fn valid() -> PatientInput {
        PatientInput {
            name_kanji: "山田 太郎".into(),
            name_kana: "ﾔﾏﾀﾞ ﾀﾛｳ".into(),
            birth_date: "１９８０－０４－０１".into(),
            sex: "1".into(),
            postal_code: Some("１００－０００１".into()),
            phone: Some("03-1234-5678".into()),
            email: Some("Taro@Example.JP".into()),
            insurer_number: Some("０１１３００１２".into()),
            insured_symbol: Some("１２３".into()),
            insured_number: Some("４５６".into()),
            insured_branch: Some("01".into()),
            public_expenses: vec![PublicExpense {
                payer_number: "54136015".into(),
                recipient_number: Some("1234566".into()),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_patient_is_normalised() {
        let d = valid().parse(today()).unwrap();
        assert_eq!(d.name_kanji, "山田\u{3000}太郎");
        assert_eq!(d.name_kana, "ヤマダ\u{3000}タロウ");
        assert_eq!(d.name_kana_key, "ヤマダタロウ");
        assert_eq!(d.birth_date, NaiveDate::from_ymd_opt(1980, 4, 1).unwrap());
        assert_eq!(d.sex, Sex::Male);
        assert_eq!(d.postal_code.as_deref(), Some("100-0001"));
        assert_eq!(d.phone.as_deref(), Some("0312345678"));
        assert_eq!(d.email.as_deref(), Some("Taro@example.jp"));
        assert_eq!(d.insurer_number.as_deref(), Some("01130012"));
        assert_eq!(d.insured_symbol.as_deref(), Some("123"));
        assert_eq!(d.public_expenses.len(), 1);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let input = PatientInput {
            name_kanji: " ".into(),
            name_kana: "山田".into(),
            birth_date: "2030-01-01".into(),
            sex: "x".into(),
            phone: Some("12345".into()),
            email: Some("not-an-address".into()),
            insurer_number: Some("1234567".into()),
            insured_branch: Some("1".into()),
            public_expenses: vec![PublicExpense {
                payer_number: "54136016".into(),
                recipient_number: None,
            }],
            ..Default::default()
        };
        let e = input.parse(today()).unwrap_err();
        for field in [
            "name_kanji",
            "name_kana",
            "birth_date",
            "sex",
            "phone",
            "email",
            "insurer_number",
            "insured_number",
            "insured_branch",
            "public_expenses[0].payer_number",
        ] {
            assert!(e.get(field).is_some(), "missing error for {field}: {e}");
        }
    }

    #[test]
    fn dates_accept_common_forms_and_refuse_nonsense() {
        let t = today();
        assert!(parse_birth_date("1980/04/01", t).is_ok());
        assert!(parse_birth_date("19800401", t).is_ok());
        assert!(parse_birth_date("1980-02-30", t).is_err());
        assert!(parse_birth_date("1879-12-31", t).is_err());
    }

    #[test]
    fn search_normalises_kana_and_rejects_bad_dates() {
        let s = PatientSearch::parse(Some("やまだ "), None, None).unwrap();
        assert_eq!(s.kana.as_deref(), Some("ヤマダ"));
        assert!(PatientSearch::parse(None, Some("yesterday"), None).is_err());
    }
}
