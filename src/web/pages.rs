//! Console page templates (askama, under `templates/`) and the shared layout.

use askama::Template;
use chrono::NaiveDateTime;

use crate::audit::AuditRow;
use crate::auth::session::LoadedSession;
use crate::context::Membership;
use crate::domain::fields::FieldErrors;
use crate::domain::role::{Permission, Role};
use crate::patients::{Patient, PatientSummary};
use crate::pharmacies::Pharmacy;
use crate::users::StaffMember;

/// The pharmacy the page is about, for the navigation.
#[derive(Debug, Clone)]
pub struct PharmacyNav {
    pub id: String,
    pub name: String,
    pub role_label: &'static str,
    pub is_admin: bool,
    pub can_patients: bool,
}

/// What the base layout needs.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub title: String,
    /// Display name of the signed-in user.
    pub user: Option<String>,
    pub csrf_token: String,
    pub pharmacy: Option<PharmacyNav>,
    pub memberships: Vec<Membership>,
    pub demo: bool,
    pub flash: Option<String>,
}

impl Layout {
    /// Layout for a signed-in user, optionally inside one pharmacy.
    pub fn for_session(
        title: &str,
        s: &LoadedSession,
        pharmacy_id: Option<&str>,
        demo: bool,
    ) -> Layout {
        let pharmacy = pharmacy_id.and_then(|pid| {
            s.memberships
                .iter()
                .find(|m| m.pharmacy_id == pid)
                .map(|m| PharmacyNav {
                    id: m.pharmacy_id.clone(),
                    name: m.pharmacy_name.clone(),
                    role_label: m.role.label(),
                    is_admin: m.role == Role::Admin,
                    can_patients: m.role.allows(Permission::ReadPatients),
                })
        });
        Layout {
            title: title.to_string(),
            user: Some(s.display_name.clone()),
            csrf_token: s.csrf_token.clone(),
            pharmacy,
            memberships: s.memberships.clone(),
            demo,
            flash: None,
        }
    }

    /// Layout for pages before sign-in completes.
    pub fn anonymous(title: &str, csrf_token: String, demo: bool) -> Layout {
        Layout {
            title: title.to_string(),
            csrf_token,
            demo,
            ..Layout::default()
        }
    }

    /// Adds a one-off message.
    pub fn with_flash(mut self, msg: impl Into<String>) -> Layout {
        self.flash = Some(msg.into());
        self
    }
}

/// Formats a stored UTC time in the display zone.
pub fn fmt_time(t: NaiveDateTime, tz: chrono_tz::Tz) -> String {
    t.and_utc()
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    message: &'a str,
    fields: &'a [String],
}

/// Renders the error page (used by [`crate::error::PageError`]).
pub fn render_error_page(status: u16, message: &str, fields: &[String]) -> String {
    ErrorPage {
        layout: Layout::anonymous("エラー", String::new(), false),
        status,
        message,
        fields,
    }
    .render()
    .unwrap_or_else(|_| format!("error {status}"))
}

#[derive(Template)]
#[template(path = "console/login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub error: Option<String>,
    pub username: String,
}

#[derive(Template)]
#[template(path = "console/second_factor.html")]
pub struct SecondFactorPage {
    pub layout: Layout,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/enroll.html")]
pub struct EnrollPage {
    pub layout: Layout,
    pub error: Option<String>,
    pub qr_svg: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "console/recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub layout: Layout,
    pub codes: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/home.html")]
pub struct HomePage {
    pub layout: Layout,
}

#[derive(Template)]
#[template(path = "console/pharmacy_home.html")]
pub struct PharmacyHomePage {
    pub layout: Layout,
    pub pharmacy: Pharmacy,
    /// Notices needing staff.
    pub attention: i64,
}

/// Japanese label of a notice status.
pub fn notice_status_label(status: &str) -> &'static str {
    match status {
        "pending" => "送信待ち",
        "sending" => "送信中",
        "sent" => "送信済み",
        "failed" => "送信失敗",
        "dead" => "送信断念（要対応）",
        "needs_manual_contact" => "要連絡（メール不可）",
        "contacted" => "連絡済み",
        _ => "不明",
    }
}

/// Every notice status with its label, for filters.
pub const NOTICE_STATUSES: [&str; 7] = [
    "pending",
    "sending",
    "sent",
    "failed",
    "dead",
    "needs_manual_contact",
    "contacted",
];

/// A notice line for the list.
pub struct NoticeLine {
    pub id: String,
    pub created: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub status: String,
    pub status_label: &'static str,
    pub attempts: i32,
    pub last_error: String,
}

#[derive(Template)]
#[template(path = "console/notices.html")]
pub struct NoticesPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub rows: Vec<NoticeLine>,
    pub statuses: Vec<(&'static str, &'static str)>,
    pub q_status: String,
    pub attention: bool,
    pub can_test: bool,
    pub test_error: Option<String>,
}

/// An attempt line.
pub struct AttemptLine {
    pub attempt: i32,
    pub started: String,
    pub finished: String,
    pub outcome: String,
    pub detail: String,
    pub worker: String,
}

#[derive(Template)]
#[template(path = "console/notice_detail.html")]
pub struct NoticePage {
    pub layout: Layout,
    pub n: crate::notices::Notification,
    pub status_label: &'static str,
    pub recipient: String,
    pub patient_link: Option<String>,
    pub created: String,
    pub sent: String,
    pub next_attempt: String,
    pub attachments: Vec<String>,
    pub attempts: Vec<AttemptLine>,
    pub can_resend: bool,
    pub can_contact: bool,
}

#[derive(Template)]
#[template(path = "console/patients_list.html")]
pub struct PatientsPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub patients: Vec<PatientSummary>,
    pub q_kana: String,
    pub q_birth_date: String,
    pub q_insurance: String,
    pub base_query: String,
    pub prev_page: Option<i64>,
    pub next_page: Option<i64>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/patient_detail.html")]
pub struct PatientPage {
    pub layout: Layout,
    pub p: Patient,
    pub age: i32,
    pub updated_at: String,
    pub meds: Vec<MedLine>,
    pub prescriptions: Vec<crate::prescriptions::Header>,
    pub can_dispense: bool,
    /// The phone number formatted for people.
    pub phone: String,
}

/// A medication line on the patient page.
pub struct MedLine {
    pub name: String,
    pub source_label: &'static str,
    pub start: chrono::NaiveDate,
    pub days: u32,
    pub as_needed: bool,
    pub current: bool,
    pub unknown_code: bool,
}

#[derive(Template)]
#[template(path = "console/drugs.html")]
pub struct DrugsPage {
    pub layout: Layout,
    pub q: String,
    pub drugs: Vec<crate::drugs::Product>,
}

/// One item row of the prescription form.
#[derive(Debug, Clone, Default)]
pub struct ItemRow {
    pub n: usize,
    pub rp: String,
    pub drug_code: String,
    pub dose: String,
    pub usage: String,
    pub days: String,
    pub as_needed: bool,
}

#[derive(Template)]
#[template(path = "console/prescription_form.html")]
pub struct PrescriptionFormPage {
    pub layout: Layout,
    pub edit: bool,
    pub action: String,
    pub pharmacy_id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub institution_name: String,
    pub prescriber_name: String,
    pub issue_date: String,
    pub version: i32,
    pub rows: Vec<ItemRow>,
    pub errors: FieldErrors,
}

/// The e-prescription desk: 引換番号 entry, results waiting for registration,
/// kept unreadable messages.
#[derive(Template)]
#[template(path = "console/eps.html")]
pub struct EpsPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub configured: bool,
    pub form: crate::domain::eps::intake::AcceptInput,
    pub error: Option<String>,
    pub field_errors: crate::domain::fields::FieldErrors,
    pub pending: Vec<crate::eps::results::PendingResult>,
    pub kept: Vec<crate::eps::KeptMessage>,
}

#[derive(Template)]
#[template(path = "console/prescription.html")]
pub struct PrescriptionPage {
    pub layout: Layout,
    pub p: crate::prescriptions::Prescription,
    pub status_label: &'static str,
    pub can_dispense: bool,
}

/// The patient form's field values (strings, as typed).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct PatientForm {
    pub name_kanji: String,
    pub name_kana: String,
    pub birth_date: String,
    pub sex: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub email: String,
    /// Checkbox: present ("on") when ticked.
    pub email_allowed: Option<String>,
    pub insurer_number: String,
    pub insured_symbol: String,
    pub insured_number: String,
    pub insured_branch: String,
    pub public_payer_1: String,
    pub public_recipient_1: String,
    pub public_payer_2: String,
    pub public_recipient_2: String,
    pub allergies: String,
    pub notes: String,
    pub version: i32,
}

#[derive(Template)]
#[template(path = "console/patient_form.html")]
pub struct PatientFormPage {
    pub layout: Layout,
    pub is_new: bool,
    pub action: String,
    pub version: i32,
    pub f: PatientForm,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "console/users.html")]
pub struct UsersPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub staff: Vec<StaffMember>,
    pub roles: Vec<Role>,
    pub new_password: Option<String>,
    pub errors: FieldErrors,
}

/// An audit row formatted for display.
pub struct AuditLine {
    pub seq: i64,
    pub when: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub outcome: String,
    pub client_addr: String,
    pub detail: String,
}

impl AuditLine {
    /// Formats a row in the display zone.
    pub fn from_row(r: AuditRow, tz: chrono_tz::Tz) -> AuditLine {
        AuditLine {
            seq: r.seq,
            when: fmt_time(r.occurred_at, tz),
            actor: r.actor_name.unwrap_or_default(),
            action: r.action,
            subject: match (r.subject_type, r.subject_id) {
                (Some(t), Some(i)) => format!("{t}:{i}"),
                _ => String::new(),
            },
            outcome: r.outcome,
            client_addr: r.client_addr.unwrap_or_default(),
            detail: r.detail,
        }
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub rows: Vec<AuditLine>,
    pub q_action: String,
    pub q_actor: String,
    pub q_subject: String,
    pub q_outcome: String,
    pub q_from: String,
    pub q_until: String,
    pub base_query: String,
    pub older: Option<i64>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/account.html")]
pub struct AccountPage {
    pub layout: Layout,
    pub username: String,
    pub display_name: String,
    pub has_totp: bool,
    pub errors: FieldErrors,
}

/// Renders a template into an HTML response.
pub fn html(t: &impl Template) -> actix_web::HttpResponse {
    match t.render() {
        Ok(body) => actix_web::HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            actix_web::HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error")
        }
    }
}

#[derive(Template)]
#[template(path = "console/clinics.html")]
pub struct ClinicsPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub clinics: Vec<crate::clinics::Clinic>,
    pub can_edit: bool,
}

/// The clinic form's values, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ClinicForm {
    pub name: String,
    pub institution_code: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub email_allowed: Option<String>,
    pub notes: String,
    #[serde(default)]
    pub sender_addresses: String,
    pub version: i32,
}

#[derive(Template)]
#[template(path = "console/clinic_form.html")]
pub struct ClinicFormPage {
    pub layout: Layout,
    pub is_new: bool,
    pub action: String,
    pub f: ClinicForm,
    pub errors: FieldErrors,
}
