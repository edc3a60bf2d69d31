//! A prescription as entered by a pharmacist (minimal model: patient, prescriber,
//! issue date, RPs with items, usage and days) and the resolution of a check
//! finding (an acknowledged decision, or a 疑義照会 with its outcome).

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::fields::FieldErrors;
use super::text;

/// One item as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct ItemInput {
    /// RP number (剤グループ), from 1.
    pub rp: i32,
    /// YJ / 薬価基準 code, 9-digit レセ電 code or 一般名コード.
    pub drug_code: String,
    /// 分量 as written, e.g. `1錠`.
    pub dose: String,
    /// 用法, e.g. `1日2回朝夕食後`.
    pub usage: String,
    /// 日数 (or times for 頓服).
    pub days: i32,
    /// 頓服
    pub as_needed: bool,
}

/// A prescription as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct PrescriptionInput {
    pub patient_id: String,
    /// 医療機関名
    pub institution_name: String,
    /// 処方医
    pub prescriber_name: String,
    /// 交付年月日 (YYYY-MM-DD)
    pub issue_date: String,
    pub items: Vec<ItemInput>,
}

/// A validated item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemDraft {
    pub rp: i32,
    pub drug_code: String,
    pub dose: String,
    pub usage: String,
    pub days: i32,
    pub as_needed: bool,
}

/// A validated prescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrescriptionDraft {
    pub patient_id: String,
    pub institution_name: String,
    pub prescriber_name: String,
    pub issue_date: NaiveDate,
    pub items: Vec<ItemDraft>,
}

fn required(e: &mut FieldErrors, field: &str, v: &str, max: usize) -> String {
    let n = text::normalize(v);
    if n.is_empty() {
        e.add(field, "入力してください (required)");
    } else if n.chars().count() > max {
        e.add(field, format!("{max}文字以内 (at most {max} characters)"));
    }
    n
}

/// Validates the items (also used when a pharmacist edits them).
pub fn parse_items(items: &[ItemInput], e: &mut FieldErrors) -> Vec<ItemDraft> {
    if items.is_empty() {
        e.add("items", "薬品を1つ以上入力してください (at least one item)");
    }
    if items.len() > 50 {
        e.add("items", "50品目以内 (at most 50 items)");
    }
    items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let f = |name: &str| format!("items[{i}].{name}");
            let code = text::normalize(&it.drug_code)
                .to_uppercase()
                .replace([' ', '-'], "");
            if code.is_empty() {
                e.add(&f("drug_code"), "薬品コードを入力してください (required)");
            } else if !code.chars().all(|c| c.is_ascii_alphanumeric())
                || !(9..=12).contains(&code.len())
            {
                e.add(
                    &f("drug_code"),
                    "YJコード(12桁)・レセ電コード(9桁)・一般名コードを入力してください",
                );
            }
            if !(1..=365).contains(&it.days) {
                e.add(&f("days"), "1〜365 (days 1-365)");
            }
            if !(1..=99).contains(&it.rp) {
                e.add(&f("rp"), "RP番号は1〜99 (1-99)");
            }
            let dose = required(e, &f("dose"), &it.dose, 50);
            let usage = required(e, &f("usage"), &it.usage, 200);
            ItemDraft {
                rp: it.rp,
                drug_code: code,
                dose,
                usage,
                days: it.days,
                as_needed: it.as_needed,
            }
        })
        .collect()
}

impl PrescriptionInput {
    /// Validates every field; `today` bounds the issue date.
    pub fn parse(&self, today: NaiveDate) -> Result<PrescriptionDraft, FieldErrors> {
        let mut e = FieldErrors::new();
        if self.patient_id.trim().is_empty() {
            e.add("patient_id", "患者を選択してください (required)");
        }
        let institution_name = required(&mut e, "institution_name", &self.institution_name, 100);
        let prescriber_name = required(&mut e, "prescriber_name", &self.prescriber_name, 60);
        let issue_date = match NaiveDate::parse_from_str(
            &text::normalize(&self.issue_date).replace('/', "-"),
            "%Y-%m-%d",
        ) {
            Ok(d) if d > today => {
                e.add("issue_date", "未来の日付です (in the future)");
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                e.add("issue_date", "日付は YYYY-MM-DD (date as YYYY-MM-DD)");
                None
            }
        };
        let items = parse_items(&self.items, &mut e);
        match issue_date {
            Some(issue_date) if e.is_empty() => Ok(PrescriptionDraft {
                patient_id: self.patient_id.trim().to_string(),
                institution_name,
                prescriber_name,
                issue_date,
                items,
            }),
            _ => Err(e),
        }
    }
}

/// How a pharmacist resolves a finding, as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct ResolutionInput {
    /// `acknowledge` (a decision with a reason) or `inquiry` (疑義照会).
    pub action: String,
    /// acknowledge: why (e.g. the prescriber's intent is known).
    pub reason: String,
    /// inquiry: when the prescriber was contacted (YYYY-MM-DDTHH:MM, Japan time).
    pub inquired_at: String,
    /// inquiry: phone, fax or other.
    pub method: String,
    /// inquiry: who was contacted.
    pub contact: String,
    pub question: String,
    pub answer: String,
    /// inquiry: changed, unchanged or cancelled.
    pub outcome: String,
}

/// A validated resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Acknowledged {
        reason: String,
    },
    Inquiry {
        /// In UTC.
        at: NaiveDateTime,
        method: String,
        contact: String,
        question: String,
        answer: String,
        outcome: String,
    },
}

impl ResolutionInput {
    /// Validates; the inquiry time is read in Japan time and must not be in the future.
    pub fn parse(&self, now_utc: NaiveDateTime) -> Result<Resolution, FieldErrors> {
        let mut e = FieldErrors::new();
        match self.action.as_str() {
            "acknowledge" => {
                let reason = required(&mut e, "reason", &self.reason, 500);
                e.into_result(|| Resolution::Acknowledged { reason })
            }
            "inquiry" => {
                use chrono::TimeZone;
                let at = NaiveDateTime::parse_from_str(
                    &text::normalize(&self.inquired_at),
                    "%Y-%m-%dT%H:%M",
                )
                .ok()
                .and_then(|local| {
                    chrono_tz::Asia::Tokyo
                        .from_local_datetime(&local)
                        .earliest()
                })
                .map(|t| t.naive_utc());
                match at {
                    None => e.add("inquired_at", "日時は YYYY-MM-DDTHH:MM (date and time)"),
                    Some(t) if t > now_utc + chrono::Duration::minutes(5) => {
                        e.add("inquired_at", "未来の日時です (in the future)")
                    }
                    _ => {}
                }
                if !matches!(self.method.as_str(), "phone" | "fax" | "other") {
                    e.add("method", "phone, fax, other のいずれか");
                }
                if !matches!(self.outcome.as_str(), "changed" | "unchanged" | "cancelled") {
                    e.add("outcome", "changed, unchanged, cancelled のいずれか");
                }
                let contact = required(&mut e, "contact", &self.contact, 100);
                let question = required(&mut e, "question", &self.question, 1000);
                let answer = required(&mut e, "answer", &self.answer, 1000);
                match at {
                    Some(at) if e.is_empty() => Ok(Resolution::Inquiry {
                        at,
                        method: self.method.clone(),
                        contact,
                        question,
                        answer,
                        outcome: self.outcome.clone(),
                    }),
                    _ => Err(e),
                }
            }
            _ => {
                e.add("action", "acknowledge または inquiry");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    #[test]
    fn prescriptions_are_validated_field_by_field() {
        let ok = PrescriptionInput {
            patient_id: "p1".into(),
            institution_name: "新宿内科".into(),
            prescriber_name: "医師 一郎".into(),
            issue_date: "2026/11/20".into(),
            items: vec![ItemInput {
                rp: 1,
                drug_code: "２３２５００３Ｆ１０２４".into(),
                dose: "1錠".into(),
                usage: "1日1回夕食後".into(),
                days: 14,
                as_needed: false,
            }],
        };
        let d = ok.parse(today()).unwrap();
        assert_eq!(d.items[0].drug_code, "2325003F1024");
        let bad = PrescriptionInput {
            issue_date: "2027-01-01".into(),
            items: vec![ItemInput {
                rp: 0,
                drug_code: "abc".into(),
                days: 0,
                ..Default::default()
            }],
            ..Default::default()
        };
        let e = bad.parse(today()).unwrap_err();
        for f in [
            "patient_id",
            "institution_name",
            "prescriber_name",
            "issue_date",
            "items[0].drug_code",
            "items[0].days",
            "items[0].rp",
            "items[0].dose",
            "items[0].usage",
        ] {
            assert!(e.get(f).is_some(), "{f}: {e}");
        }
    }

    #[test]
    fn resolutions_need_a_reason_or_a_complete_inquiry() {
        let now = NaiveDate::from_ymd_opt(2026, 11, 21)
            .unwrap()
            .and_hms_opt(3, 0, 0)
            .unwrap();
        let ack = ResolutionInput {
            action: "acknowledge".into(),
            reason: "処方意図あり（処方医コメント）".into(),
            ..Default::default()
        };
        assert!(matches!(
            ack.parse(now),
            Ok(Resolution::Acknowledged { .. })
        ));
        assert!(ResolutionInput {
            action: "acknowledge".into(),
            ..Default::default()
        }
        .parse(now)
        .is_err());
        let inq = ResolutionInput {
            action: "inquiry".into(),
            inquired_at: "2026-11-21T11:30".into(),
            method: "phone".into(),
            contact: "新宿内科 山田医師".into(),
            question: "ファモチジン重複の確認".into(),
            answer: "前医分を中止".into(),
            outcome: "changed".into(),
            ..Default::default()
        };
        match inq.parse(now).unwrap() {
            Resolution::Inquiry { at, .. } => assert_eq!(
                at,
                NaiveDate::from_ymd_opt(2026, 11, 21)
                    .unwrap()
                    .and_hms_opt(2, 30, 0)
                    .unwrap()
            ),
            other => panic!("{other:?}"),
        }
        let e = ResolutionInput {
            action: "inquiry".into(),
            outcome: "maybe".into(),
            ..Default::default()
        }
        .parse(now)
        .unwrap_err();
        for f in [
            "inquired_at",
            "method",
            "outcome",
            "contact",
            "question",
            "answer",
        ] {
            assert!(e.get(f).is_some(), "{f}");
        }
    }
}
