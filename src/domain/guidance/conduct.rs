//! How an online guidance session is held (DOMAIN.md §6): the patient's identity
//! is checked (a known patient, or a new one's photo ID or two IDs without a photo),
//! anyone else present is named with their consent, start and end are logged, and
//! the outcome recorded — a failed session says what happens next.

use serde::{Deserialize, Serialize};

/// How the patient was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityCheck {
    /// A patient the pharmacist knows (face and earlier sessions).
    KnownPatient,
    MynumberCard,
    DriverLicence,
    Passport,
    /// Two documents without a photo (e.g. 保険証 and 年金手帳).
    TwoIds,
}

impl IdentityCheck {
    /// Every kind.
    pub const ALL: [IdentityCheck; 5] = [
        IdentityCheck::KnownPatient,
        IdentityCheck::MynumberCard,
        IdentityCheck::DriverLicence,
        IdentityCheck::Passport,
        IdentityCheck::TwoIds,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityCheck::KnownPatient => "known_patient",
            IdentityCheck::MynumberCard => "mynumber_card",
            IdentityCheck::DriverLicence => "driver_licence",
            IdentityCheck::Passport => "passport",
            IdentityCheck::TwoIds => "two_ids",
        }
    }

    /// In words (Japanese).
    pub fn label(self) -> &'static str {
        match self {
            IdentityCheck::KnownPatient => "既知の患者",
            IdentityCheck::MynumberCard => "マイナンバーカード",
            IdentityCheck::DriverLicence => "運転免許証",
            IdentityCheck::Passport => "パスポート",
            IdentityCheck::TwoIds => "顔写真なし身分証2点",
        }
    }

    /// From the stored or submitted form.
    pub fn parse(s: &str) -> Option<IdentityCheck> {
        IdentityCheck::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
    }

    /// Whether this check is enough: a new patient must show documents.
    pub fn enough_for(self, new_patient: bool) -> bool {
        !(new_patient && self == IdentityCheck::KnownPatient)
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    /// The patient did not answer the call.
    NoAnswer,
    /// Video or audio failed.
    ConnectionFailed,
}

impl Outcome {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::NoAnswer => "no_answer",
            Outcome::ConnectionFailed => "connection_failed",
        }
    }

    /// From the stored or submitted form.
    pub fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::Completed,
            Outcome::NoAnswer,
            Outcome::ConnectionFailed,
        ]
        .into_iter()
        .find(|o| o.as_str() == s.trim())
    }
}

/// What happens after a failed session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Call again shortly (the session stays open).
    Retry,
    /// Book another time.
    Reschedule,
    /// The patient comes to the pharmacy.
    InPerson,
}

impl Fallback {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Fallback::Retry => "retry",
            Fallback::Reschedule => "reschedule",
            Fallback::InPerson => "in_person",
        }
    }

    /// From the stored or submitted form.
    pub fn parse(s: &str) -> Option<Fallback> {
        [Fallback::Retry, Fallback::Reschedule, Fallback::InPerson]
            .into_iter()
            .find(|o| o.as_str() == s.trim())
    }
}

/// Why an outcome cannot be recorded as given, or nothing when it can.
/// A completed session was started with an identity check; a failed one names
/// what happens next; a completed one has no fallback.
pub fn outcome_refusal(
    outcome: Outcome,
    fallback: Option<Fallback>,
    started: bool,
    identity_checked: bool,
) -> Option<&'static str> {
    match outcome {
        Outcome::Completed if !started => {
            Some("開始していないセッションは完了できません (not started)")
        }
        Outcome::Completed if !identity_checked => {
            Some("本人確認が記録されていません (identity not checked)")
        }
        Outcome::Completed if fallback.is_some() => Some(
            "完了したセッションに代替手段は指定できません (no fallback for a completed session)",
        ),
        Outcome::NoAnswer | Outcome::ConnectionFailed if fallback.is_none() => {
            Some("再接続・日時変更・来局のいずれかを選んでください (fallback required)")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_patient_must_show_documents() {
        assert!(!IdentityCheck::KnownPatient.enough_for(true));
        assert!(IdentityCheck::KnownPatient.enough_for(false));
        assert!(IdentityCheck::TwoIds.enough_for(true));
        for k in IdentityCheck::ALL {
            assert_eq!(IdentityCheck::parse(k.as_str()), Some(k));
        }
        assert_eq!(IdentityCheck::parse("library_card"), None);
    }

    #[test]
    fn outcomes_need_what_they_imply() {
        use Outcome::*;
        assert!(outcome_refusal(Completed, None, false, true).is_some());
        assert!(outcome_refusal(Completed, None, true, false).is_some());
        assert!(outcome_refusal(Completed, Some(Fallback::Retry), true, true).is_some());
        assert_eq!(outcome_refusal(Completed, None, true, true), None);
        assert!(outcome_refusal(NoAnswer, None, false, false).is_some());
        assert_eq!(
            outcome_refusal(NoAnswer, Some(Fallback::Reschedule), false, false),
            None
        );
        assert_eq!(
            outcome_refusal(ConnectionFailed, Some(Fallback::InPerson), true, true),
            None
        );
    }
}
