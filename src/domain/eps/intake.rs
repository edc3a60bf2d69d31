//! Receiving an e-prescription: what the pharmacist enters (the 引換番号 with the
//! insurance identification, or a confirmed マイナ保険証 qualification), what the
//! payload becomes (items for the checks, a patient for quick registration), what
//! blocks dispensing (signature, 使用期限) and the stage shown to staff.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::messages::Verify;
use crate::domain::fields::FieldErrors;
use crate::domain::insurance::parse_insurer_number;
use crate::domain::patient::PatientInput;
use crate::domain::prescription::ItemDraft;
use crate::domain::rx_csv::RxData;
use crate::domain::text;

/// 引換番号: the six digits on the patient's 処方内容（控え）.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedemptionCode(String);

impl RedemptionCode {
    /// Accepts full-width digits and separators; exactly six digits.
    pub fn parse(input: &str) -> Result<RedemptionCode, String> {
        text::digits(input, &[6]).map(RedemptionCode)
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An acceptance request as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct AcceptInput {
    /// 引換番号 (6 digits)
    pub access_code: String,
    /// 保険者番号 (not needed with a confirmed マイナ保険証 qualification)
    pub insurer_number: Option<String>,
    /// 被保険者証の記号
    pub insured_symbol: Option<String>,
    /// 被保険者証の番号
    pub insured_number: Option<String>,
    /// 枝番 (2 digits)
    pub insured_branch: Option<String>,
    /// The patient's qualification was confirmed with their マイナ保険証 at the counter.
    pub qualification_confirmed: bool,
    /// An existing patient of this pharmacy; when absent the payload's patient is
    /// matched by insurance and birth date, or registered.
    pub patient_id: Option<String>,
}

/// How the patient is identified to the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identification {
    /// 保険者番号, 記号, 番号, 枝番 from the insurance card.
    Insurance {
        insurer_number: String,
        symbol: Option<String>,
        number: String,
        branch: String,
    },
    /// Confirmed online with the マイナ保険証.
    Qualification,
}

/// A validated acceptance request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptDraft {
    pub code: RedemptionCode,
    pub identification: Identification,
    pub patient_id: Option<String>,
}

impl AcceptInput {
    /// Validates every field, reporting all problems at once.
    pub fn parse(&self) -> Result<AcceptDraft, FieldErrors> {
        let mut e = FieldErrors::new();
        let code = e.check("access_code", RedemptionCode::parse(&self.access_code));
        let filled = |v: &Option<String>| text::optional(v.as_deref());
        let identification = if self.qualification_confirmed {
            Some(Identification::Qualification)
        } else {
            let insurer = match filled(&self.insurer_number) {
                Some(v) => e.check("insurer_number", parse_insurer_number(&v)),
                None => {
                    e.add(
                        "insurer_number",
                        "保険者番号を入力するか、マイナ保険証で資格確認してください (insurer number or confirmed qualification required)",
                    );
                    None
                }
            };
            let number = match filled(&self.insured_number) {
                Some(v) if v.chars().count() <= 20 => Some(v),
                Some(_) => {
                    e.add("insured_number", "20文字以内で入力してください (too long)");
                    None
                }
                None => {
                    e.add(
                        "insured_number",
                        "被保険者証の番号を入力してください (required)",
                    );
                    None
                }
            };
            let branch = match filled(&self.insured_branch) {
                Some(v) => e.check("insured_branch", text::digits(&v, &[2])),
                None => Some(String::new()),
            };
            match (insurer, number, branch) {
                (Some(insurer_number), Some(number), Some(branch)) => {
                    Some(Identification::Insurance {
                        insurer_number,
                        symbol: filled(&self.insured_symbol),
                        number,
                        branch,
                    })
                }
                _ => None,
            }
        };
        let patient_id = filled(&self.patient_id);
        match (code, identification) {
            (Some(code), Some(identification)) if e.is_empty() => Ok(AcceptDraft {
                code,
                identification,
                patient_id,
            }),
            _ => Err(e),
        }
    }
}

impl AcceptDraft {
    /// The request body fields for `EPS-ACCEPT` / `EPS-ACCEPT-QUAL`.
    pub fn request_body(&self, pharmacy_name: &str) -> Vec<(String, String)> {
        let mut body = vec![("AccessCode".to_string(), self.code.as_str().to_string())];
        if let Identification::Insurance {
            insurer_number,
            symbol,
            number,
            branch,
        } = &self.identification
        {
            body.push(("InsurerNumber".into(), insurer_number.clone()));
            body.push(("InsuredSymbol".into(), symbol.clone().unwrap_or_default()));
            body.push(("InsuredNumber".into(), number.clone()));
            body.push(("InsuredBranch".into(), branch.clone()));
        } else {
            body.push(("QualificationConfirmed".into(), "1".into()));
        }
        body.push(("PharmacyName".into(), pharmacy_name.to_string()));
        body
    }
}

/// The items the checks and dispensing work on, from the payload's RPs. 調剤数量 is
/// days for 内服 and times for 頓服 (as-needed); other forms count as one day.
pub fn items_from_payload(data: &RxData) -> Vec<ItemDraft> {
    let mut out = Vec::new();
    for rp in &data.rps {
        let as_needed = rp.form_class == "2";
        let usage = rp
            .usage
            .as_ref()
            .map(|u| u.name.clone())
            .unwrap_or_default();
        for it in &rp.items {
            out.push(ItemDraft {
                rp: rp.number as i32,
                drug_code: it.code.clone(),
                dose: format!("{}{}", it.amount, it.unit),
                usage: usage.clone(),
                days: rp.quantity.max(1) as i32,
                as_needed,
            });
        }
    }
    out
}

/// The payload's patient records as a registration form (quick registration).
pub fn patient_from_payload(data: &RxData) -> PatientInput {
    let p = &data.patient;
    PatientInput {
        name_kanji: p.name_kanji.clone(),
        name_kana: p.name_kana.clone(),
        birth_date: p
            .birth_date
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        sex: match p.sex.as_deref() {
            Some("1") => "male",
            Some("2") => "female",
            _ => "unknown",
        }
        .into(),
        insurer_number: data.insurance.insurer_number.clone(),
        insured_symbol: data.insurance.symbol.clone(),
        insured_number: data.insurance.number.clone(),
        insured_branch: data.insurance.branch.clone(),
        ..PatientInput::default()
    }
}

/// Whether the prescriber's signature verified: every result `OK`, at least one.
pub fn signature_verdict(results: &[Verify]) -> Result<(), String> {
    if results.is_empty() {
        return Err("電子署名の検証結果がありません (no signature verification result)".into());
    }
    let bad: Vec<String> = results
        .iter()
        .filter(|v| v.status != "OK")
        .map(|v| {
            if v.failure_reasons.is_empty() {
                format!("{}: {}", v.sign_id, v.status)
            } else {
                format!("{}: {}", v.sign_id, v.failure_reasons)
            }
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "電子署名の検証に失敗しました (signature not verified): {}",
            bad.join("; ")
        ))
    }
}

/// What stops an e-prescription from being dispensed today, in words for staff.
/// Electronic prescriptions (`issue_type` 1) need a verified signature; every
/// prescription must be within its 使用期限.
pub fn dispensing_blockers(
    issue_type: &str,
    signature: Result<(), String>,
    valid_until: NaiveDate,
    today: NaiveDate,
) -> Vec<String> {
    let mut out = Vec::new();
    if issue_type == "1" {
        if let Err(reason) = signature {
            out.push(reason);
        }
    }
    if today > valid_until {
        out.push(format!(
            "使用期限（{valid_until}）を過ぎています (expired on {valid_until})"
        ));
    }
    out
}

/// Where a prescription stands, as shown on its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 確認待ち: checked, findings open
    Checked,
    /// 調剤可: findings resolved
    Resolved,
    /// 結果登録待ち: dispensed, result queued for the national service
    ResultPending,
    /// 結果登録失敗: the service refused the result; staff must act
    RegistrationFailed,
    /// 完了
    Complete,
    /// 受付取消
    Cancelled,
    /// 調剤拒否 (with reason)
    Rejected,
}

impl Stage {
    /// Works the stage out from the stored states.
    pub fn of(status: &str, eps_state: Option<&str>, open_findings: usize) -> Stage {
        match (status, eps_state) {
            ("cancelled", Some("rejected")) => Stage::Rejected,
            ("cancelled", _) => Stage::Cancelled,
            ("dispensed", None | Some("registered")) => Stage::Complete,
            ("dispensed", Some("registration_failed")) => Stage::RegistrationFailed,
            ("dispensed", _) => Stage::ResultPending,
            _ if open_findings > 0 => Stage::Checked,
            _ => Stage::Resolved,
        }
    }

    /// The Japanese label.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Checked => "確認待ち（所見あり）",
            Stage::Resolved => "調剤可",
            Stage::ResultPending => "調剤済・結果登録待ち",
            Stage::RegistrationFailed => "調剤済・結果登録失敗",
            Stage::Complete => "完了",
            Stage::Cancelled => "受付取消",
            Stage::Rejected => "調剤拒否",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn redemption_codes_are_six_digits() {
        assert_eq!(
            RedemptionCode::parse("１２３４５６").unwrap().as_str(),
            "123456"
        );
        assert_eq!(RedemptionCode::parse("123-456").unwrap().as_str(), "123456");
        assert!(RedemptionCode::parse("12345").is_err());
        assert!(RedemptionCode::parse("12345a").is_err());
        assert!(RedemptionCode::parse("").is_err());
    }

    #[test]
    fn acceptance_needs_insurance_or_a_confirmed_qualification() {
        let bad = AcceptInput {
            access_code: "12".into(),
            ..AcceptInput::default()
        }
        .parse()
        .unwrap_err();
        assert!(bad.get("access_code").is_some());
        assert!(bad.get("insurer_number").is_some());
        assert!(bad.get("insured_number").is_some());

        let wrong_digit = AcceptInput {
            access_code: "123456".into(),
            insurer_number: Some("01130013".into()),
            insured_number: Some("1001".into()),
            ..AcceptInput::default()
        }
        .parse()
        .unwrap_err();
        assert!(wrong_digit.get("insurer_number").is_some());

        let ok = AcceptInput {
            access_code: "123456".into(),
            insurer_number: Some("01130012".into()),
            insured_number: Some("1001".into()),
            insured_branch: Some("１".into()),
            ..AcceptInput::default()
        }
        .parse();
        assert!(ok.is_err(), "branch must be two digits");

        let qual = AcceptInput {
            access_code: "123456".into(),
            qualification_confirmed: true,
            ..AcceptInput::default()
        }
        .parse()
        .unwrap();
        assert_eq!(qual.identification, Identification::Qualification);
        assert!(qual
            .request_body("さくら薬局")
            .contains(&("QualificationConfirmed".into(), "1".into())));
    }

    #[test]
    fn payload_items_carry_days_and_as_needed() {
        let doc =
            crate::domain::rx_csv::parse_document(&crate::domain::rx_csv::tests_sample()).unwrap();
        let data = crate::domain::rx_csv::interpret(&doc).unwrap();
        let items = items_from_payload(&data);
        assert!(!items.is_empty());
        let total: usize = data.rps.iter().map(|r| r.items.len()).sum();
        assert_eq!(items.len(), total);
        for (rp, it) in data
            .rps
            .iter()
            .flat_map(|rp| rp.items.iter().map(move |_| rp))
            .zip(&items)
        {
            assert_eq!(it.as_needed, rp.form_class == "2");
            assert_eq!(it.days, rp.quantity.max(1) as i32);
        }
        let patient = patient_from_payload(&data);
        assert_eq!(patient.name_kanji, data.patient.name_kanji);
    }

    #[test]
    fn signature_and_validity_block_dispensing() {
        let ok = vec![Verify {
            status: "OK".into(),
            sign_id: "S1".into(),
            failure_reasons: String::new(),
        }];
        let ng = vec![Verify {
            status: "NG".into(),
            sign_id: "S1".into(),
            failure_reasons: "証明書失効".into(),
        }];
        assert!(signature_verdict(&ok).is_ok());
        assert!(signature_verdict(&ng).unwrap_err().contains("証明書失効"));
        assert!(signature_verdict(&[]).is_err());
        let today = d("2026-11-21");
        assert!(dispensing_blockers("1", signature_verdict(&ok), today, today).is_empty());
        assert_eq!(
            dispensing_blockers("1", signature_verdict(&ng), today, today).len(),
            1
        );
        // A paper prescription's 控え carries no electronic signature.
        assert!(dispensing_blockers("2", signature_verdict(&[]), today, today).is_empty());
        let expired = dispensing_blockers("1", Ok(()), d("2026-11-20"), today);
        assert!(expired[0].contains("2026-11-20"));
    }

    #[test]
    fn stages_follow_the_stored_states() {
        assert_eq!(Stage::of("checked", Some("accepted"), 2), Stage::Checked);
        assert_eq!(Stage::of("checked", Some("accepted"), 0), Stage::Resolved);
        assert_eq!(
            Stage::of("dispensed", Some("result_pending"), 0),
            Stage::ResultPending
        );
        assert_eq!(
            Stage::of("dispensed", Some("registered"), 0),
            Stage::Complete
        );
        assert_eq!(Stage::of("dispensed", None, 0), Stage::Complete);
        assert_eq!(Stage::of("cancelled", Some("rejected"), 0), Stage::Rejected);
        assert_eq!(
            Stage::of("cancelled", Some("acceptance_cancelled"), 0),
            Stage::Cancelled
        );
    }
}
