//! E-mail templates (askama, `templates/email/<kind>/`): a subject, a text part and
//! an HTML part sharing one base layout with the pharmacy's name, address and phone
//! and a line saying the mail is automatic. Notices say what happened and give the
//! pharmacy's phone; they never carry drug names, diagnoses or prescription contents.

use askama::Template;

use crate::pharmacies::Pharmacy;

/// The pharmacy block at the foot of every notice.
#[derive(Debug, Clone)]
pub struct Letterhead {
    pub name: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
}

impl Letterhead {
    /// From a pharmacy record.
    pub fn of(p: &Pharmacy) -> Letterhead {
        Letterhead {
            name: p.name.clone(),
            postal_code: p.postal_code.clone(),
            address: p.address.clone(),
            phone: crate::domain::text::format_phone(&p.phone),
        }
    }
}

/// A notice ready to store: what was rendered, and from which template.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub kind: &'static str,
    pub template: &'static str,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachments: Vec<NewAttachment>,
}

/// An attachment (e.g. an `.ics` appointment).
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// Rendering failed (a template bug; never user input).
#[derive(Debug, thiserror::Error)]
#[error("rendering notice template {template}: {message}")]
pub struct RenderError {
    pub template: &'static str,
    pub message: String,
}

fn render(t: &impl Template, template: &'static str) -> Result<String, RenderError> {
    t.render().map_err(|e| RenderError {
        template,
        message: e.to_string(),
    })
}

#[derive(Template)]
#[template(path = "email/test/subject.txt")]
struct TestSubject<'a> {
    letterhead: &'a Letterhead,
}

#[derive(Template)]
#[template(path = "email/test/body.txt")]
struct TestText<'a> {
    letterhead: &'a Letterhead,
    sent_at: &'a str,
}

#[derive(Template)]
#[template(path = "email/test/body.html")]
struct TestHtml<'a> {
    letterhead: &'a Letterhead,
    sent_at: &'a str,
}

/// The test notice (`pharmacy notices send-test`, the console's test button).
pub fn test_notice(letterhead: &Letterhead, sent_at: &str) -> Result<Rendered, RenderError> {
    const T: &str = "email/test";
    Ok(Rendered {
        kind: "test",
        template: T,
        subject: render(&TestSubject { letterhead }, T)?.trim().to_string(),
        text: render(
            &TestText {
                letterhead,
                sent_at,
            },
            T,
        )?,
        html: render(
            &TestHtml {
                letterhead,
                sent_at,
            },
            T,
        )?,
        attachments: Vec::new(),
    })
}

/// One prescription in a request for originals: initials and issue date only.
#[derive(Debug, Clone)]
pub struct OriginalRequestRow {
    pub initials: String,
    pub issue_date: String,
}

#[derive(Template)]
#[template(path = "email/original_request/subject.txt")]
struct OriginalRequestSubject<'a> {
    letterhead: &'a Letterhead,
}

#[derive(Template)]
#[template(path = "email/original_request/body.txt")]
struct OriginalRequestText<'a> {
    letterhead: &'a Letterhead,
    clinic_name: &'a str,
    rows: &'a [OriginalRequestRow],
}

#[derive(Template)]
#[template(path = "email/original_request/body.html")]
struct OriginalRequestHtml<'a> {
    letterhead: &'a Letterhead,
    clinic_name: &'a str,
    rows: &'a [OriginalRequestRow],
}

/// A request to a clinic for originals not yet received (処方箋原本の送付依頼): the
/// patients' initials and issue dates, nothing more.
pub fn original_request(
    letterhead: &Letterhead,
    clinic_name: &str,
    rows: &[OriginalRequestRow],
) -> Result<Rendered, RenderError> {
    const T: &str = "email/original_request";
    Ok(Rendered {
        kind: "original_request",
        template: T,
        subject: render(&OriginalRequestSubject { letterhead }, T)?
            .trim()
            .to_string(),
        text: render(
            &OriginalRequestText {
                letterhead,
                clinic_name,
                rows,
            },
            T,
        )?,
        html: render(
            &OriginalRequestHtml {
                letterhead,
                clinic_name,
                rows,
            },
            T,
        )?,
        attachments: Vec::new(),
    })
}

/// What a guidance notice says (booking confirmation, reminder, move, cancel).
#[derive(Debug, Clone)]
pub struct GuidanceFacts {
    /// booked, moved, cancelled, reminder or invite (a booking link)
    pub what: &'static str,
    /// For reminders: 1週間前 / 前日 / まもなく.
    pub when_label: String,
    pub patient_name: String,
    /// Start, Japan time, e.g. `2026年11月30日(月) 09:20`.
    pub starts_local: String,
    pub pharmacist_name: String,
    /// The pharmacy's マイナ在宅受付Web URL.
    pub qualification_url: String,
    /// The page to test camera, microphone and connection before the session.
    pub connection_test_url: String,
    /// The patient's signed portal link (may be empty).
    pub portal_url: String,
    pub reason: String,
    /// The calendar entry (booked, moved, cancelled).
    pub appointment: Option<crate::domain::ics::Appointment>,
}

#[derive(Template)]
#[template(path = "email/guidance/subject.txt")]
struct GuidanceSubject<'a> {
    letterhead: &'a Letterhead,
    what: &'a str,
    when_label: &'a str,
}

#[derive(Template)]
#[template(path = "email/guidance/body.txt")]
struct GuidanceText<'a> {
    letterhead: &'a Letterhead,
    what: &'a str,
    when_label: &'a str,
    patient_name: &'a str,
    starts_local: &'a str,
    pharmacist_name: &'a str,
    qualification_url: &'a str,
    connection_test_url: &'a str,
    portal_url: &'a str,
    reason: &'a str,
}

#[derive(Template)]
#[template(path = "email/guidance/body.html")]
struct GuidanceHtml<'a> {
    letterhead: &'a Letterhead,
    what: &'a str,
    when_label: &'a str,
    patient_name: &'a str,
    starts_local: &'a str,
    pharmacist_name: &'a str,
    qualification_url: &'a str,
    connection_test_url: &'a str,
    portal_url: &'a str,
    reason: &'a str,
}

/// A guidance notice to the patient, with an `.ics` when the time is set or changed.
pub fn guidance_notice(
    letterhead: &Letterhead,
    f: &GuidanceFacts,
) -> Result<Rendered, RenderError> {
    const T: &str = "email/guidance";
    let kind = match f.what {
        "booked" => "guidance_booked",
        "moved" => "guidance_moved",
        "cancelled" => "guidance_cancelled",
        "invite" => "guidance_invite",
        _ => "guidance_reminder",
    };
    let text = GuidanceText {
        letterhead,
        what: f.what,
        when_label: &f.when_label,
        patient_name: &f.patient_name,
        starts_local: &f.starts_local,
        pharmacist_name: &f.pharmacist_name,
        qualification_url: &f.qualification_url,
        connection_test_url: &f.connection_test_url,
        portal_url: &f.portal_url,
        reason: &f.reason,
    };
    let html = GuidanceHtml {
        letterhead,
        what: f.what,
        when_label: &f.when_label,
        patient_name: &f.patient_name,
        starts_local: &f.starts_local,
        pharmacist_name: &f.pharmacist_name,
        qualification_url: &f.qualification_url,
        connection_test_url: &f.connection_test_url,
        portal_url: &f.portal_url,
        reason: &f.reason,
    };
    Ok(Rendered {
        kind,
        template: T,
        subject: render(
            &GuidanceSubject {
                letterhead,
                what: f.what,
                when_label: &f.when_label,
            },
            T,
        )?
        .trim()
        .to_string(),
        text: render(&text, T)?,
        html: render(&html, T)?,
        attachments: f
            .appointment
            .as_ref()
            .map(|a| NewAttachment {
                filename: "guidance.ics".into(),
                content_type: "text/calendar; charset=utf-8; method=REQUEST".into(),
                content: crate::domain::ics::calendar(a).into_bytes(),
            })
            .into_iter()
            .collect(),
    })
}

/// Facts a feature may know when it sends a notice, including sensitive ones that
/// must never appear in it. Used by the privacy check over every template.
#[derive(Debug, Clone, Default)]
pub struct SensitiveFacts {
    pub drug_names: Vec<String>,
    pub diagnoses: Vec<String>,
}

impl SensitiveFacts {
    /// Every term that must not appear.
    pub fn terms(&self) -> Vec<String> {
        self.drug_names
            .iter()
            .chain(self.diagnoses.iter())
            .map(|s| s.trim().to_string())
            .filter(|s| s.chars().count() >= 2)
            .collect()
    }
}

/// The first sensitive term found in the subject, text, HTML or attachments.
pub fn leaked_term<'a>(r: &Rendered, terms: &'a [String]) -> Option<&'a str> {
    let haystacks: Vec<std::borrow::Cow<'_, str>> =
        [r.subject.as_str(), r.text.as_str(), r.html.as_str()]
            .into_iter()
            .map(std::borrow::Cow::Borrowed)
            .chain(
                r.attachments
                    .iter()
                    .map(|a| String::from_utf8_lossy(&a.content)),
            )
            .collect();
    terms
        .iter()
        .find(|t| haystacks.iter().any(|h| h.contains(t.as_str())))
        .map(String::as_str)
}

/// One rendering of every notice kind, built the way its feature builds it from
/// `facts` (the privacy test renders these with real drug names).
pub fn every_kind(
    letterhead: &Letterhead,
    _facts: &SensitiveFacts,
) -> Result<Vec<Rendered>, RenderError> {
    Ok(vec![
        test_notice(letterhead, "2026-11-21 10:00")?,
        guidance_notice(
            letterhead,
            &GuidanceFacts {
                what: "booked",
                when_label: String::new(),
                patient_name: "山田 太郎".into(),
                starts_local: "2026年11月30日(月) 09:20".into(),
                pharmacist_name: "佐藤 花子".into(),
                qualification_url: "https://example.jp/zaitaku".into(),
                connection_test_url: "https://pharmacy.example/portal/connection-test".into(),
                portal_url: String::new(),
                reason: String::new(),
                appointment: None,
            },
        )?,
        guidance_notice(
            letterhead,
            &GuidanceFacts {
                what: "invite",
                when_label: String::new(),
                patient_name: "山田 太郎".into(),
                starts_local: String::new(),
                pharmacist_name: String::new(),
                qualification_url: "https://example.jp/zaitaku".into(),
                connection_test_url: "https://pharmacy.example/portal/connection-test".into(),
                portal_url: "https://pharmacy.example/portal/t".into(),
                reason: String::new(),
                appointment: None,
            },
        )?,
        original_request(
            letterhead,
            "テストクリニック",
            &[OriginalRequestRow {
                initials: crate::domain::originals::initials("ヤマダ タロウ"),
                issue_date: "2026-11-10".into(),
            }],
        )?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letterhead() -> Letterhead {
        Letterhead {
            name: "さくら薬局 新宿本店".into(),
            postal_code: "160-0022".into(),
            address: "東京都新宿区新宿3-1-1".into(),
            phone: "03-1234-5678".into(),
        }
    }

    #[test]
    fn test_notice_has_both_parts_and_the_letterhead() {
        let r = test_notice(&letterhead(), "2026-11-21 10:00").unwrap();
        assert_eq!(r.subject, "【さくら薬局 新宿本店】テスト送信のお知らせ");
        for part in [&r.text, &r.html] {
            assert!(part.contains("東京都新宿区新宿3-1-1"));
            assert!(part.contains("03-1234-5678"));
            assert!(part.contains("自動で送信"));
        }
        assert!(r.html.contains("<html"));
        assert!(!r.text.contains("<p>"));
    }

    #[test]
    fn html_escapes_pharmacy_data() {
        let mut l = letterhead();
        l.name = "<b>薬局</b>".into();
        let r = test_notice(&l, "now").unwrap();
        assert!(!r.html.contains("<b>薬局</b>"));
        assert!(
            r.text.contains("<b>薬局</b>"),
            "text parts are not HTML-escaped"
        );
    }

    #[test]
    fn no_template_carries_drug_names_or_diagnoses() {
        let facts = SensitiveFacts {
            drug_names: vec![
                "ロキソプロフェンナトリウム錠60mg".into(),
                "ワーファリン錠1mg".into(),
                "ヒューマログ注ミリオペン".into(),
                "オキシコンチンTR錠5mg".into(),
            ],
            diagnoses: vec!["2型糖尿病".into(), "心房細動".into()],
        };
        let terms = facts.terms();
        for r in every_kind(&letterhead(), &facts).unwrap() {
            assert_eq!(
                leaked_term(&r, &terms),
                None,
                "template {} leaks",
                r.template
            );
        }
        // The check itself finds a leak.
        let mut leaky = test_notice(&letterhead(), "x").unwrap();
        leaky.text.push_str("ワーファリン錠1mg");
        assert_eq!(leaked_term(&leaky, &terms), Some("ワーファリン錠1mg"));
    }
}
