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
