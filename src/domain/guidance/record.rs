//! The guidance record (薬剤服用歴 of an online guidance): a SOAP note, topics
//! covered, adherence and leftover medicine (残薬), side effects and a follow-up
//! date. Signed by the pharmacist and then never changed: a correction is a new
//! version with its reason. Kept 3 years from the last entry (DOMAIN.md §8).

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::domain::fields::FieldErrors;
use crate::domain::text::normalize;

/// How the patient takes the medicine (服薬状況).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Adherence {
    Good,
    Partial,
    Poor,
    Unknown,
}

impl Adherence {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Adherence::Good => "good",
            Adherence::Partial => "partial",
            Adherence::Poor => "poor",
            Adherence::Unknown => "unknown",
        }
    }

    /// From the stored or submitted form.
    pub fn parse(s: &str) -> Option<Adherence> {
        [
            Adherence::Good,
            Adherence::Partial,
            Adherence::Poor,
            Adherence::Unknown,
        ]
        .into_iter()
        .find(|a| a.as_str() == s.trim())
    }
}

/// A record as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RecordInput {
    /// S: what the patient says.
    pub subjective: String,
    /// O: what the pharmacist observed.
    pub objective: String,
    /// A: assessment.
    pub assessment: String,
    /// P: plan.
    pub plan: String,
    /// Topics covered (用法・用量, 副作用, 相互作用, ...).
    pub topics: Vec<String>,
    /// good, partial, poor or unknown
    pub adherence: String,
    /// 残薬: what is left over, or 「なし」.
    pub leftover: String,
    pub side_effects: String,
    /// YYYY-MM-DD
    pub follow_up_on: Option<String>,
    /// Required for a correction (a version after the first).
    pub correction_reason: Option<String>,
}

/// A record that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFields {
    pub subjective: String,
    pub objective: String,
    pub assessment: String,
    pub plan: String,
    pub topics: Vec<String>,
    pub adherence: Adherence,
    pub leftover: String,
    pub side_effects: String,
    pub follow_up_on: Option<NaiveDate>,
    pub correction_reason: Option<String>,
}

/// The longest text accepted in one field.
const MAX_TEXT: usize = 4000;

impl RecordFields {
    /// Validates `input`; `correction` says whether this is a later version (then a
    /// reason is required). `today` bounds the follow-up date.
    pub fn parse(
        input: &RecordInput,
        correction: bool,
        today: NaiveDate,
    ) -> Result<RecordFields, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut text = |field: &str, v: &str, required: bool| {
            let v = normalize(v);
            if required && v.is_empty() {
                errors.add(field, "入力してください (required)");
            } else if v.chars().count() > MAX_TEXT {
                errors.add(
                    field,
                    format!("{MAX_TEXT}文字以内 (at most {MAX_TEXT} characters)"),
                );
            }
            v
        };
        let subjective = text("subjective", &input.subjective, true);
        let objective = text("objective", &input.objective, false);
        let assessment = text("assessment", &input.assessment, true);
        let plan = text("plan", &input.plan, true);
        let leftover = text("leftover", &input.leftover, true);
        let side_effects = text("side_effects", &input.side_effects, false);
        let reason = input
            .correction_reason
            .as_deref()
            .map(normalize)
            .filter(|r| !r.is_empty());
        let topics: Vec<String> = input
            .topics
            .iter()
            .map(|t| normalize(t))
            .filter(|t| !t.is_empty())
            .collect();
        if topics.is_empty() {
            errors.add("topics", "指導した項目を1つ以上 (at least one topic)");
        }
        let adherence = Adherence::parse(&input.adherence);
        if adherence.is_none() {
            errors.add(
                "adherence",
                "good, partial, poor, unknown のいずれか (one of good, partial, poor, unknown)",
            );
        }
        let follow_up_on = match input.follow_up_on.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) if d < today => {
                    errors.add("follow_up_on", "過去の日付です (in the past)");
                    None
                }
                Ok(d) => Some(d),
                Err(_) => {
                    errors.add("follow_up_on", "YYYY-MM-DD");
                    None
                }
            },
        };
        if correction && reason.is_none() {
            errors.add(
                "correction_reason",
                "訂正の理由を入力してください (a correction needs its reason)",
            );
        }
        if !correction && reason.is_some() {
            errors.add(
                "correction_reason",
                "初版に訂正理由は不要です (no reason on the first version)",
            );
        }
        match adherence {
            Some(adherence) if errors.is_empty() => Ok(RecordFields {
                subjective,
                objective,
                assessment,
                plan,
                topics,
                adherence,
                leftover,
                side_effects,
                follow_up_on,
                correction_reason: reason,
            }),
            _ => Err(errors),
        }
    }
}

/// Until when a record is kept: 3 years from the last entry.
pub fn retain_until(last_entry: NaiveDate) -> NaiveDate {
    last_entry
        .checked_add_months(Months::new(36))
        .unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn input() -> RecordInput {
        RecordInput {
            subjective: "夜に飲み忘れることがある".into(),
            objective: "表情良好".into(),
            assessment: "アドヒアランス低下".into(),
            plan: "朝食後への変更を提案".into(),
            topics: vec!["用法・用量".into(), " ".into()],
            adherence: "partial".into(),
            leftover: "5錠".into(),
            side_effects: "なし".into(),
            follow_up_on: Some("2026-12-01".into()),
            correction_reason: None,
        }
    }

    #[test]
    fn a_record_needs_its_soap_topics_and_adherence() {
        let today = d("2026-11-21");
        let ok = RecordFields::parse(&input(), false, today).unwrap();
        assert_eq!(ok.topics, ["用法・用量"]);
        assert_eq!(ok.adherence, Adherence::Partial);
        let mut bad = input();
        bad.subjective.clear();
        bad.topics.clear();
        bad.adherence = "sometimes".into();
        bad.follow_up_on = Some("2026-11-01".into());
        let e = RecordFields::parse(&bad, false, today).unwrap_err();
        for f in ["subjective", "topics", "adherence", "follow_up_on"] {
            assert!(e.to_string().contains(f), "{f}: {e}");
        }
    }

    #[test]
    fn corrections_carry_a_reason_and_first_versions_do_not() {
        let today = d("2026-11-21");
        assert!(RecordFields::parse(&input(), true, today).is_err());
        let mut fix = input();
        fix.correction_reason = Some("残薬数の誤記".into());
        assert_eq!(
            RecordFields::parse(&fix, true, today)
                .unwrap()
                .correction_reason
                .as_deref(),
            Some("残薬数の誤記")
        );
        assert!(RecordFields::parse(&fix, false, today).is_err());
    }

    #[test]
    fn records_are_kept_three_years_from_the_last_entry() {
        assert_eq!(retain_until(d("2026-11-21")), d("2029-11-21"));
        assert_eq!(retain_until(d("2028-02-29")), d("2031-02-28"));
    }
}
