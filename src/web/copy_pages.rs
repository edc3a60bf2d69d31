//! Console page models for prescription copies and originals: the intake inbox,
//! the copy screen (viewer, triage, transcription), the originals awaited, the
//! reconciliation screen and staff tasks.

use std::collections::HashMap;

use askama::Template;

use super::pages::Layout;
use crate::copies::originals::{AwaitedOriginal, CopyView};
use crate::copies::{CopyDetail, CopyRow};
use crate::domain::fields::FieldErrors;
use crate::domain::prescription::ItemInput;
use crate::domain::transcription::TranscriptionInput;

/// Item rows on the transcription and original forms.
pub const ITEM_ROWS: usize = 8;

/// The intake inbox.
#[derive(Template)]
#[template(path = "console/copies.html")]
pub struct CopiesPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub new: Vec<(CopyRow, Option<String>)>,
    pub triage: Vec<(CopyRow, Option<String>)>,
    pub quarantined: Vec<(CopyRow, Option<String>)>,
    pub done: Vec<(CopyRow, Option<String>)>,
    pub clinics: Vec<crate::clinics::Clinic>,
    pub error: Option<String>,
}

/// One item row as typed.
#[derive(Debug, Clone, Default)]
pub struct ItemRow {
    pub rp: String,
    pub code: String,
    pub dose: String,
    pub usage: String,
    pub days: String,
    pub as_needed: bool,
}

/// The transcription form as typed (strings), with its item rows.
#[derive(Debug, Clone, Default)]
pub struct TranscriptionForm {
    pub patient_id: String,
    pub clinic_id: String,
    pub institution_name: String,
    pub institution_code: String,
    pub prescriber_name: String,
    pub issue_date: String,
    pub expiry_date: String,
    pub remarks: String,
    pub symbol: String,
    pub items: Vec<ItemRow>,
    pub patient_q: String,
    pub drug_q: String,
}

impl TranscriptionForm {
    /// From posted fields.
    pub fn from_fields(f: &HashMap<String, String>) -> TranscriptionForm {
        let g = |k: &str| f.get(k).cloned().unwrap_or_default();
        let items = (0..ITEM_ROWS)
            .map(|i| ItemRow {
                rp: g(&format!("rp_{i}")),
                code: g(&format!("code_{i}")),
                dose: g(&format!("dose_{i}")),
                usage: g(&format!("usage_{i}")),
                days: g(&format!("days_{i}")),
                as_needed: f.contains_key(&format!("prn_{i}")),
            })
            .collect();
        TranscriptionForm {
            patient_id: g("patient_id"),
            clinic_id: g("clinic_id"),
            institution_name: g("institution_name"),
            institution_code: g("institution_code"),
            prescriber_name: g("prescriber_name"),
            issue_date: g("issue_date"),
            expiry_date: g("expiry_date"),
            remarks: g("remarks"),
            symbol: g("symbol"),
            items,
            patient_q: g("patient_q"),
            drug_q: g("drug_q"),
        }
    }

    /// An empty form with the clinic preset.
    pub fn blank(clinic_id: Option<&str>) -> TranscriptionForm {
        TranscriptionForm {
            clinic_id: clinic_id.unwrap_or_default().to_string(),
            items: vec![ItemRow::default(); ITEM_ROWS],
            ..TranscriptionForm::default()
        }
    }

    /// As filled from an input (e.g. the 2D symbol); the patient typed is kept.
    pub fn fill_from(&mut self, i: &TranscriptionInput) {
        self.institution_name = i.institution_name.clone();
        self.institution_code = i.institution_code.clone();
        self.prescriber_name = i.prescriber_name.clone();
        self.issue_date = i.issue_date.clone();
        self.expiry_date = i.expiry_date.clone();
        self.remarks = i.remarks.clone();
        self.items = (0..ITEM_ROWS.max(i.items.len()))
            .map(|n| match i.items.get(n) {
                Some(it) => ItemRow {
                    rp: it.rp.to_string(),
                    code: it.drug_code.clone(),
                    dose: it.dose.clone(),
                    usage: it.usage.clone(),
                    days: it.days.to_string(),
                    as_needed: it.as_needed,
                },
                None => ItemRow::default(),
            })
            .collect();
    }

    /// The service input (rows without a drug code are left out).
    pub fn to_input(&self) -> TranscriptionInput {
        let some = |s: &str| Some(s.to_string()).filter(|v| !v.trim().is_empty());
        TranscriptionInput {
            patient_id: self.patient_id.clone(),
            clinic_id: some(&self.clinic_id),
            institution_name: self.institution_name.clone(),
            institution_code: self.institution_code.clone(),
            prescriber_name: self.prescriber_name.clone(),
            issue_date: self.issue_date.clone(),
            expiry_date: self.expiry_date.clone(),
            remarks: self.remarks.clone(),
            items: self
                .items
                .iter()
                .filter(|r| !r.code.trim().is_empty())
                .map(|r| ItemInput {
                    rp: r.rp.trim().parse().unwrap_or(1),
                    drug_code: r.code.clone(),
                    dose: r.dose.clone(),
                    usage: r.usage.clone(),
                    days: r.days.trim().parse().unwrap_or(0),
                    as_needed: r.as_needed,
                })
                .collect(),
            symbol: some(&self.symbol),
        }
    }
}

/// The copy screen: viewer, triage and transcription.
#[derive(Template)]
#[template(path = "console/copy.html")]
pub struct CopyPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub d: CopyDetail,
    pub clinics: Vec<crate::clinics::Clinic>,
    pub can_transcribe: bool,
    pub form: TranscriptionForm,
    pub error: Option<String>,
    pub field_errors: FieldErrors,
    pub patients_found: Vec<crate::patients::PatientSummary>,
    pub drugs_found: Vec<crate::drugs::Product>,
}

/// The originals awaited.
#[derive(Template)]
#[template(path = "console/originals.html")]
pub struct OriginalsPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub rows: Vec<AwaitedOriginal>,
}

/// The reconciliation screen of one prescription.
#[derive(Template)]
#[template(path = "console/original.html")]
pub struct OriginalPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub rx_id: String,
    pub patient_name: String,
    pub v: CopyView,
    pub can_resolve: bool,
    pub error: Option<String>,
    /// (label, copy value, original value, differs)
    pub side_by_side: Vec<(String, String, String, bool)>,
}

/// Staff tasks.
#[derive(Template)]
#[template(path = "console/tasks.html")]
pub struct TasksPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub tasks: Vec<crate::tasks::StaffTask>,
}
