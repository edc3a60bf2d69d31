//! Turning a prescription copy (fax / e-mail) into a prescription: the form a
//! pharmacist fills beside the copy, or that the copy's JAHIS 2D symbol fills, and
//! the validity of a paper prescription (4 days including the issue date unless a
//! 使用期限 is written).

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::eps::intake::items_from_payload;
use super::fields::FieldErrors;
use super::prescription::{parse_items, ItemDraft, ItemInput};
use super::rx_csv::{self, RxData};
use super::text;

/// A transcription as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct TranscriptionInput {
    /// The patient (chosen by staff). May be empty when `symbol` is given: the
    /// patient is then matched by insurance and birth date, or registered.
    pub patient_id: String,
    /// The clinic of the directory that sent the copy (defaults to the copy's).
    pub clinic_id: Option<String>,
    /// 医療機関名
    pub institution_name: String,
    /// 医療機関コード (10 digits), if written.
    pub institution_code: String,
    /// 処方医
    pub prescriber_name: String,
    /// 交付年月日 (YYYY-MM-DD)
    pub issue_date: String,
    /// 使用期限 (YYYY-MM-DD), only when the prescriber wrote one.
    pub expiry_date: String,
    /// 備考 as written.
    pub remarks: String,
    pub items: Vec<ItemInput>,
    /// The 2D symbol's text (JAHIS e-prescription CSV), when read by a scanner.
    pub symbol: Option<String>,
}

/// A validated transcription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptionDraft {
    pub patient_id: Option<String>,
    pub clinic_id: Option<String>,
    pub institution_name: String,
    pub institution_code: String,
    pub prescriber_name: String,
    pub issue_date: NaiveDate,
    pub expiry_date: Option<NaiveDate>,
    pub remarks: String,
    pub items: Vec<ItemDraft>,
    /// 備考 carries 「オンライン対応」.
    pub online_marked: bool,
    /// The parsed 2D symbol, if one was given.
    pub symbol: Option<RxData>,
}

impl TranscriptionDraft {
    /// The last day it may be dispensed (使用期限, else issue date + 3 days).
    pub fn valid_until(&self) -> NaiveDate {
        valid_until(self.issue_date, self.expiry_date)
    }
}

/// 使用期限, else the issue date plus three days (4 days including the issue date).
pub fn valid_until(issue_date: NaiveDate, expiry: Option<NaiveDate>) -> NaiveDate {
    expiry.unwrap_or(issue_date + Duration::days(3))
}

/// Whether 備考 carries the online-care mark.
pub fn online_marked(remarks: &str) -> bool {
    text::normalize(remarks).contains("オンライン対応")
}

fn date(e: &mut FieldErrors, field: &str, v: &str, required: bool) -> Option<NaiveDate> {
    let t = text::normalize(v).replace('/', "-");
    if t.is_empty() {
        if required {
            e.add(field, "入力してください (required)");
        }
        return None;
    }
    match NaiveDate::parse_from_str(&t, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            e.add(field, "日付は YYYY-MM-DD (date as YYYY-MM-DD)");
            None
        }
    }
}

/// Reads a 2D symbol's text (the e-prescription CSV); the error names line and record.
pub fn read_symbol(text: &str) -> Result<RxData, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("2次元シンボルの内容が空です (empty symbol text)".into());
    }
    let doc = rx_csv::parse_document(t).map_err(join_errors)?;
    rx_csv::interpret(&doc).map_err(join_errors)
}

fn join_errors(errors: Vec<rx_csv::CsvError>) -> String {
    errors
        .iter()
        .take(5)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl TranscriptionInput {
    /// The form as the 2D symbol fills it (staff check it against the copy).
    pub fn from_symbol(text: &str) -> Result<TranscriptionInput, String> {
        let data = read_symbol(text)?;
        Ok(TranscriptionInput {
            patient_id: String::new(),
            clinic_id: None,
            institution_name: data.institution.name.clone(),
            institution_code: data.institution.code.clone(),
            prescriber_name: data.doctor.name_kanji.clone(),
            issue_date: data.issue_date.map(|d| d.to_string()).unwrap_or_default(),
            expiry_date: data.expiry_date.map(|d| d.to_string()).unwrap_or_default(),
            remarks: data
                .remarks
                .iter()
                .map(|r| r.text.clone())
                .collect::<Vec<_>>()
                .join("\n"),
            items: items_from_payload(&data)
                .into_iter()
                .map(|d| ItemInput {
                    rp: d.rp,
                    drug_code: d.drug_code,
                    dose: d.dose,
                    usage: d.usage,
                    days: d.days,
                    as_needed: d.as_needed,
                })
                .collect(),
            symbol: Some(text.trim().to_string()),
        })
    }

    /// Validates every field; `today` bounds the issue date.
    pub fn parse(&self, today: NaiveDate) -> Result<TranscriptionDraft, FieldErrors> {
        let mut e = FieldErrors::new();
        let symbol = match self.symbol.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(s) => match read_symbol(s) {
                Ok(d) => Some(d),
                Err(m) => {
                    e.add("symbol", m);
                    None
                }
            },
            None => None,
        };
        let patient_id = Some(self.patient_id.trim().to_string()).filter(|p| !p.is_empty());
        if patient_id.is_none() && symbol.is_none() {
            e.add("patient_id", "患者を選択してください (required)");
        }
        let req = |e: &mut FieldErrors, f: &str, v: &str, max: usize| {
            let n = text::normalize(v);
            if n.is_empty() {
                e.add(f, "入力してください (required)");
            } else if n.chars().count() > max {
                e.add(f, format!("{max}文字以内 (at most {max} characters)"));
            }
            n
        };
        let institution_name = req(&mut e, "institution_name", &self.institution_name, 100);
        let prescriber_name = req(&mut e, "prescriber_name", &self.prescriber_name, 60);
        let institution_code = text::normalize(&self.institution_code).replace('-', "");
        if !institution_code.is_empty() {
            if let Err(m) = super::clinic::parse_institution_code(&institution_code) {
                e.add("institution_code", m);
            }
        }
        let issue_date = date(&mut e, "issue_date", &self.issue_date, true);
        if issue_date.is_some_and(|d| d > today) {
            e.add("issue_date", "未来の日付です (in the future)");
        }
        let expiry_date = date(&mut e, "expiry_date", &self.expiry_date, false);
        if let (Some(i), Some(x)) = (issue_date, expiry_date) {
            if x < i {
                e.add(
                    "expiry_date",
                    "交付年月日より前です (before the issue date)",
                );
            }
        }
        let remarks: String = self.remarks.trim().chars().take(2000).collect();
        let items = parse_items(&self.items, &mut e);
        match issue_date {
            Some(issue_date) if e.is_empty() => Ok(TranscriptionDraft {
                patient_id,
                clinic_id: self.clinic_id.clone().filter(|c| !c.trim().is_empty()),
                institution_name,
                institution_code,
                prescriber_name,
                issue_date,
                expiry_date,
                online_marked: online_marked(&remarks),
                remarks,
                items,
                symbol,
            }),
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn input() -> TranscriptionInput {
        TranscriptionInput {
            patient_id: "p1".into(),
            institution_name: "テストクリニック".into(),
            prescriber_name: "佐藤 一郎".into(),
            issue_date: "2026-11-20".into(),
            remarks: "オンライン対応".into(),
            items: vec![ItemInput {
                rp: 1,
                drug_code: "2149039F1020".into(),
                dose: "1錠".into(),
                usage: "1日1回朝食後".into(),
                days: 28,
                as_needed: false,
            }],
            ..TranscriptionInput::default()
        }
    }

    #[test]
    fn validity_is_four_days_including_issue_or_the_written_expiry() {
        let t = input().parse(d("2026-11-21")).unwrap();
        assert_eq!(t.valid_until(), d("2026-11-23"));
        assert!(t.online_marked);
        let mut i = input();
        i.expiry_date = "2026-11-30".into();
        assert_eq!(
            i.parse(d("2026-11-21")).unwrap().valid_until(),
            d("2026-11-30")
        );
    }

    #[test]
    fn missing_mark_and_bad_fields() {
        let mut i = input();
        i.remarks = String::new();
        assert!(!i.parse(d("2026-11-21")).unwrap().online_marked);
        i.patient_id.clear();
        i.issue_date = "2026-12-01".into();
        i.institution_code = "123".into();
        i.expiry_date = "2026-01-01".into();
        let e = i.parse(d("2026-11-21")).unwrap_err();
        for f in ["patient_id", "issue_date", "institution_code"] {
            assert!(e.get(f).is_some(), "{f}: {e:?}");
        }
    }

    #[test]
    fn the_symbol_fills_the_form() {
        let text = rx_csv::tests_sample();
        let i = TranscriptionInput::from_symbol(&text).unwrap();
        assert!(!i.items.is_empty());
        assert!(!i.institution_name.is_empty());
        assert!(!i.issue_date.is_empty());
        let err = TranscriptionInput::from_symbol("1,garbage").unwrap_err();
        assert!(!err.is_empty());
        assert!(read_symbol("  ").is_err());
    }
}
