//! What a prescription looks like when read back: header, items, findings.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{
    check_findings, dispensed_items, eps_prescriptions, prescription_items, prescriptions,
};
use crate::domain::eps::intake::Stage;
use crate::domain::eps::messages::Verify;

/// A prescription item.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = prescription_items)]
pub struct Item {
    pub id: String,
    pub rp_number: i32,
    pub seq: i32,
    pub drug_code: String,
    pub drug_name: String,
    pub yj_code: Option<String>,
    pub dose: String,
    pub usage: String,
    pub days: i32,
    pub as_needed: bool,
}

/// A stored finding with its resolution.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = check_findings)]
pub struct StoredFinding {
    pub id: String,
    pub kind: String,
    pub severity: String,
    pub item_id: String,
    pub item_name: String,
    pub other_source: Option<String>,
    pub other_id: Option<String>,
    pub other_name: Option<String>,
    pub rule: String,
    pub rule_source: String,
    pub message: String,
    /// open, acknowledged, inquired or superseded
    pub status: String,
    pub reason: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub inquiry_at: Option<NaiveDateTime>,
    pub inquiry_method: Option<String>,
    pub inquiry_contact: Option<String>,
    pub inquiry_question: Option<String>,
    pub inquiry_answer: Option<String>,
    pub inquiry_outcome: Option<String>,
    pub resolved_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<NaiveDateTime>,
}

/// A prescription header.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = prescriptions)]
pub struct Header {
    pub pharmacy_id: String,
    pub id: String,
    pub patient_id: String,
    pub source: String,
    pub institution_name: String,
    pub prescriber_name: String,
    pub issue_date: NaiveDate,
    /// checked, dispensed or cancelled
    pub status: String,
    pub rules_version: String,
    #[schema(value_type = String, format = DateTime)]
    pub checked_at: NaiveDateTime,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub dispensed_at: Option<NaiveDateTime>,
    pub version: i32,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    /// Why it was cancelled or rejected.
    pub closed_reason: Option<String>,
    /// 交付: when the drugs were handed over, and by whom.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub handed_over_at: Option<NaiveDateTime>,
    pub handed_over_by: Option<String>,
}

/// What was given for one item (調剤実績).
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = dispensed_items)]
pub struct DispensedRow {
    pub item_id: String,
    /// The product given.
    pub drug_code: String,
    pub drug_name: String,
    pub yj_code: Option<String>,
    /// What the prescription said, when a generic was substituted.
    pub prescribed_code: Option<String>,
    pub substituted: bool,
    pub quantity: String,
    pub lot_number: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub lot_expiry: Option<NaiveDate>,
    #[schema(value_type = String, format = Date)]
    pub dispensed_on: NaiveDate,
}

/// An e-prescription's record of the national service (stored row).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = eps_prescriptions)]
pub struct EpsRecord {
    pub prescription_id: String,
    pub eps_id: String,
    pub access_code: String,
    pub issue_type: String,
    pub eps_status: String,
    pub state: String,
    pub signature_ok: bool,
    pub signature_detail: String,
    pub valid_until: NaiveDate,
    pub refill_total: Option<i32>,
    pub refill_use: Option<i32>,
    pub narcotic: bool,
    pub payload: String,
    pub message_to_prescriber: Option<String>,
    pub result_job_id: Option<String>,
    pub result_error: Option<String>,
    pub registered_at: Option<NaiveDateTime>,
    pub accepted_by: String,
    pub accepted_at: NaiveDateTime,
}

/// The national service's side of an e-prescription, as shown to staff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EpsView {
    /// 処方箋ID at the service
    pub eps_id: String,
    /// 引換番号
    pub access_code: String,
    /// 1 electronic, 2 paper (控え)
    pub issue_type: String,
    /// 未受付, 調剤中, 調剤済, 回収済 or 取消, as last reported
    pub eps_status: String,
    /// accepted, result_pending, registered, registration_failed, acceptance_cancelled, rejected
    pub state: String,
    pub signature_ok: bool,
    #[schema(value_type = Vec<Object>)]
    pub signature: Vec<Verify>,
    #[schema(value_type = String, format = Date)]
    pub valid_until: NaiveDate,
    /// リフィル: allowed uses
    pub refill_total: Option<i32>,
    /// リフィル: this use
    pub refill_use: Option<i32>,
    /// 麻薬 prescription (record 61 present)
    pub narcotic: bool,
    /// The CSV as received.
    pub payload: String,
    pub message_to_prescriber: Option<String>,
    pub result_error: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub registered_at: Option<NaiveDateTime>,
    pub accepted_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub accepted_at: NaiveDateTime,
}

impl EpsRecord {
    /// The stored signature results.
    pub fn signature(&self) -> Vec<Verify> {
        serde_json::from_str(&self.signature_detail).unwrap_or_default()
    }

    /// As shown.
    pub fn view(&self) -> EpsView {
        EpsView {
            eps_id: self.eps_id.clone(),
            access_code: self.access_code.clone(),
            issue_type: self.issue_type.clone(),
            eps_status: self.eps_status.clone(),
            state: self.state.clone(),
            signature_ok: self.signature_ok,
            signature: self.signature(),
            valid_until: self.valid_until,
            refill_total: self.refill_total,
            refill_use: self.refill_use,
            narcotic: self.narcotic,
            payload: self.payload.clone(),
            message_to_prescriber: self.message_to_prescriber.clone(),
            result_error: self.result_error.clone(),
            registered_at: self.registered_at,
            accepted_by: self.accepted_by.clone(),
            accepted_at: self.accepted_at,
        }
    }
}

/// One step in a prescription's history (from the audit trail).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelineEntry {
    #[schema(value_type = String, format = DateTime)]
    pub at: NaiveDateTime,
    pub action: String,
    pub actor: String,
    pub outcome: String,
    pub detail: String,
}

/// A prescription with its items and current findings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Prescription {
    #[serde(flatten)]
    pub header: Header,
    pub items: Vec<Item>,
    /// Findings of the latest check (superseded ones are left out).
    pub findings: Vec<StoredFinding>,
    pub open_findings: usize,
    /// "Not in the checked list" — never "no interaction".
    pub disclaimer: String,
    /// Where it stands.
    pub stage: Stage,
    pub stage_label: String,
    /// What stops dispensing now (signature, 使用期限), in words.
    pub blockers: Vec<String>,
    /// What was given, once dispensed.
    pub dispensed: Vec<DispensedRow>,
    /// The national service's side, for e-prescriptions.
    pub eps: Option<EpsView>,
    /// The copy and its original, for prescriptions received as fax / e-mail copies.
    pub copy: Option<crate::copies::originals::CopyView>,
    /// What stops the handover (交付) now, in words (e.g. a narcotic whose original
    /// has not arrived).
    pub handover_blockers: Vec<String>,
    /// History, oldest first (filled when one prescription is read).
    pub timeline: Vec<TimelineEntry>,
}
