//! The online-qualification viewing consent (居宅同意取得型): valid from the
//! patient's consent until the end of the day of the booked guidance (Japan time).
//! Moving the booking moves the end; cancelling it ends the consent.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

/// The version of the explanation of online guidance shown to the patient before
/// they consent; a consent records which version they saw. Change both together.
pub const EXPLANATION_VERSION: &str = "2026-11-v1";

/// The explanation (its risks and rules), shown in the console and the portal.
pub const EXPLANATION: &str = "オンライン服薬指導は、映像と音声によるリアルタイムのやりとりで行います。\
通信状態により映像や音声が途切れることがあり、その場合は再接続、日時の変更、または来局での指導に切り替えます。\
対面に比べて得られる情報が限られるため、薬剤師の判断で対面での指導をお願いすることがあります。\
プライバシーが保たれる場所でお受けください。ご本人以外の方が同席する場合は、その都度お申し出ください。\
双方の同意なく録音・録画はしません。本人確認のため、初回は顔写真付きの身分証明書をご用意ください。";

/// What a patient consents to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// To online guidance itself, after the explanation of its risks.
    OnlineGuidance,
    /// To the pharmacy viewing their qualification and drug information (居宅同意取得型).
    QualificationViewing,
}

impl ConsentKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::OnlineGuidance => "online_guidance",
            ConsentKind::QualificationViewing => "qualification_viewing",
        }
    }

    /// From the stored or submitted form.
    pub fn parse(s: &str) -> Option<ConsentKind> {
        match s.trim() {
            "online_guidance" => Some(ConsentKind::OnlineGuidance),
            "qualification_viewing" => Some(ConsentKind::QualificationViewing),
            _ => None,
        }
    }
}

/// Japan is UTC+9 all year.
const JST_OFFSET_HOURS: i64 = 9;

/// When a consent may be used, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentWindow {
    pub from: NaiveDateTime,
    pub until: NaiveDateTime,
}

/// The window for a consent given at `consented_at` (UTC) for guidance on
/// `guidance_date` (local): until 23:59:59 that day, Japan time.
pub fn window(consented_at: NaiveDateTime, guidance_date: NaiveDate) -> ConsentWindow {
    let end_local = guidance_date.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default());
    ConsentWindow {
        from: consented_at,
        until: end_local - Duration::hours(JST_OFFSET_HOURS),
    }
}

/// Why a use of the consent is refused, or nothing when it is allowed at `now`.
pub fn refusal(window: Option<ConsentWindow>, ended: bool, now: NaiveDateTime) -> Option<String> {
    match window {
        None => Some("オンライン資格確認の閲覧同意がありません (no viewing consent)".into()),
        Some(_) if ended => {
            Some("予約の取消により閲覧同意は終了しています (consent ended with the booking)".into())
        }
        Some(w) if now < w.from => Some("閲覧同意の開始前です (before the consent)".into()),
        Some(w) if now > w.until => Some(format!(
            "閲覧同意の期間（服薬指導日まで）を過ぎています (consent expired at {} UTC)",
            w.until
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn the_window_ends_with_the_guidance_day_in_japan() {
        let w = window(
            dt("2026-11-21 01:00:00"),
            NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        );
        assert_eq!(w.until, dt("2026-11-25 14:59:59"));
        assert_eq!(refusal(Some(w), false, dt("2026-11-25 14:59:00")), None);
        assert!(refusal(Some(w), false, dt("2026-11-25 15:00:00")).is_some());
        assert!(refusal(Some(w), false, dt("2026-11-21 00:59:00")).is_some());
        assert!(refusal(Some(w), true, dt("2026-11-22 00:00:00")).is_some());
        assert!(refusal(None, false, dt("2026-11-22 00:00:00")).is_some());
    }
}
