//! Console page models for online guidance: the day view, the booking screen, the
//! session screen (consents, holding the session, the record and its versions,
//! drug information) and the pharmacy's guidance settings.

use askama::Template;

use super::pages::Layout;
use crate::domain::guidance::availability::Span;
use crate::domain::guidance::conduct::IdentityCheck;
use crate::guidance::views::{DayLine, SessionDetail};
use crate::guidance::SettingsInput;

/// A pharmacist's sessions of a day.
#[derive(Template)]
#[template(path = "console/guidance_day.html")]
pub struct GuidanceDayPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub date: String,
    pub pharmacist_id: String,
    pub pharmacists: Vec<(String, String)>,
    pub lines: Vec<DayLine>,
}

/// Booking a session: pick pharmacist and day, then a free slot.
#[derive(Template)]
#[template(path = "console/guidance_book.html")]
pub struct GuidanceBookPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub prescription_id: String,
    pub pharmacist_id: String,
    pub pharmacists: Vec<(String, String)>,
    pub date: String,
    pub slots: Vec<Span>,
    pub error: Option<String>,
    pub invited: bool,
}

/// One session.
#[derive(Template)]
#[template(path = "console/guidance_session.html")]
pub struct GuidanceSessionPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub d: SessionDetail,
    pub can_conduct: bool,
    pub identity_kinds: Vec<(&'static str, &'static str)>,
    pub explanation: &'static str,
    pub explanation_version: &'static str,
    pub error: Option<String>,
}

impl GuidanceSessionPage {
    /// A stored (UTC) time in Japan time, as staff read it.
    pub fn jst(&self, utc: &chrono::NaiveDateTime) -> String {
        crate::context::jst(*utc)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// The identity kinds for the select box.
    pub fn kinds() -> Vec<(&'static str, &'static str)> {
        IdentityCheck::ALL
            .into_iter()
            .map(|k| (k.as_str(), k.label()))
            .collect()
    }
}

/// The controlled-drug ledger (麻薬帳簿).
#[derive(Template)]
#[template(path = "console/ledger.html")]
pub struct LedgerPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    /// The product shown (empty: none).
    pub product: String,
    pub month_start: String,
    pub today: String,
    pub report_year: i32,
    pub stock: Vec<crate::ledger::Stock>,
    pub entries: Vec<crate::ledger::Entry>,
    pub error: Option<String>,
}

impl LedgerPage {
    /// A stored (UTC) time in Japan time.
    pub fn jst(&self, utc: &chrono::NaiveDateTime) -> String {
        crate::context::jst(*utc)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// An entry kind in the ledger's words.
    pub fn kind_label(&self, kind: &str) -> &'static str {
        crate::domain::delivery::ledger::EntryKind::parse(kind)
            .map(|k| k.label())
            .unwrap_or("?")
    }
}

/// The pharmacy's guidance settings and the pharmacists' hours.
#[derive(Template)]
#[template(path = "console/guidance_settings.html")]
pub struct GuidanceSettingsPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub settings: SettingsInput,
    pub qr_svg: String,
    /// Per pharmacist: id, name, hours as text (one `weekday HH:MM-HH:MM` per line).
    pub hours: Vec<(String, String, String)>,
    pub can_admin: bool,
    pub error: Option<String>,
}
