//! What a prescription looks like when read back: header, items, findings.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{check_findings, prescription_items, prescriptions};

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
}
