//! Patient records (患者) of one pharmacy. Every read is audited; a record is only
//! ever shown in the pharmacy that owns it, whatever the URL says.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{self, escape_like, Event};
use crate::context::{Ctx, Denied};
use crate::db::schema::patients;
use crate::db::{write_transaction, DbConnection};
use crate::domain::fields::FieldErrors;
use crate::domain::patient::{PatientDraft, PatientInput, PatientSearch, PublicExpense, Sex};
use crate::domain::role::Permission;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = patients)]
struct PatientRow {
    pharmacy_id: String,
    id: String,
    name_kanji: String,
    name_kana: String,
    birth_date: NaiveDate,
    sex: String,
    postal_code: Option<String>,
    address: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    insurer_number: Option<String>,
    insured_symbol: Option<String>,
    insured_number: Option<String>,
    insured_branch: Option<String>,
    public_expenses: String,
    allergies: String,
    notes: String,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    email_allowed: bool,
}

/// A patient record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Patient {
    pub id: String,
    pub pharmacy_id: String,
    /// 氏名 (漢字)
    pub name_kanji: String,
    /// 氏名 (カナ)
    pub name_kana: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// The patient agreed to be contacted by e-mail.
    pub email_allowed: bool,
    /// 保険者番号
    pub insurer_number: Option<String>,
    /// 記号
    pub insured_symbol: Option<String>,
    /// 番号
    pub insured_number: Option<String>,
    /// 枝番
    pub insured_branch: Option<String>,
    /// 公費
    pub public_expenses: Vec<PublicExpense>,
    pub allergies: String,
    pub notes: String,
    /// Increases with every change; send it back when updating.
    pub version: i32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
}

impl From<PatientRow> for Patient {
    fn from(r: PatientRow) -> Self {
        Patient {
            sex: Sex::parse(&r.sex).unwrap_or(Sex::Unknown),
            public_expenses: serde_json::from_str(&r.public_expenses).unwrap_or_default(),
            id: r.id,
            pharmacy_id: r.pharmacy_id,
            name_kanji: r.name_kanji,
            name_kana: r.name_kana,
            birth_date: r.birth_date,
            postal_code: r.postal_code,
            address: r.address,
            phone: r.phone,
            email: r.email,
            email_allowed: r.email_allowed,
            insurer_number: r.insurer_number,
            insured_symbol: r.insured_symbol,
            insured_number: r.insured_number,
            insured_branch: r.insured_branch,
            allergies: r.allergies,
            notes: r.notes,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Why a patient operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PatientError {
    #[error("invalid patient data: {0}")]
    Invalid(FieldErrors),
    #[error("患者が見つかりません (patient not found)")]
    NotFound,
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    #[error("他の人が先に更新しました。最新の内容を確認してください (changed by someone else; current version {current})")]
    VersionConflict { current: i32 },
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

/// Loads a patient by id and checks that it belongs to `pharmacy_id`. A record of
/// another pharmacy is reported as not found and the attempt is audited in the
/// owning pharmacy's trail.
fn load_owned(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    patient_id: &str,
    action: &str,
) -> Result<PatientRow, PatientError> {
    let row: Option<PatientRow> = patients::table
        .filter(patients::id.eq(patient_id))
        .select(PatientRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        None => Err(PatientError::NotFound),
        Some(r) if r.pharmacy_id != pharmacy_id => {
            audit::record_alone(
                conn,
                ctx,
                Event::denied(Some(&r.pharmacy_id), action)
                    .subject("patient", patient_id)
                    .detail(format!("requested via pharmacy={pharmacy_id}")),
            )?;
            Err(PatientError::NotFound)
        }
        Some(r) => Ok(r),
    }
}

/// The columns a draft sets (a macro: diesel's changeset types are not nameable).
macro_rules! draft_values {
    ($d:expr) => {
        (
            patients::name_kanji.eq(&$d.name_kanji),
            patients::name_kana.eq(&$d.name_kana),
            patients::name_kana_key.eq(&$d.name_kana_key),
            patients::birth_date.eq($d.birth_date),
            patients::sex.eq($d.sex.as_str()),
            patients::postal_code.eq(&$d.postal_code),
            patients::address.eq(&$d.address),
            patients::phone.eq(&$d.phone),
            patients::email.eq(&$d.email),
            patients::email_allowed.eq($d.email_allowed),
            patients::insurer_number.eq(&$d.insurer_number),
            patients::insured_symbol.eq(&$d.insured_symbol),
            patients::insured_number.eq(&$d.insured_number),
            patients::insured_branch.eq(&$d.insured_branch),
            patients::allergies.eq(&$d.allergies),
            patients::notes.eq(&$d.notes),
        )
    };
}

fn public_expenses_json(d: &PatientDraft) -> String {
    serde_json::to_string(&d.public_expenses).unwrap_or_else(|_| "[]".into())
}

/// Registers a patient.
pub fn create(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    input: &PatientInput,
) -> Result<Patient, PatientError> {
    crate::authz::require::<PatientError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "patient.created",
        None,
    )?;
    let draft = input.parse(ctx.today()).map_err(PatientError::Invalid)?;
    write_transaction(conn, |c| Ok(insert_draft(c, ctx, pharmacy_id, &draft)?))
}

/// Stores a validated patient with its audit row, inside the caller's transaction
/// (also used by quick registration from an e-prescription).
pub(crate) fn insert_draft(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    draft: &PatientDraft,
) -> QueryResult<Patient> {
    let id = insert_draft_unaudited(c, ctx, pharmacy_id, draft)?;
    audit::record(
        c,
        ctx,
        Event::ok(Some(pharmacy_id), "patient.created").subject("patient", &id),
    )?;
    let row = patients::table
        .find((pharmacy_id, &id))
        .select(PatientRow::as_select())
        .first(c)?;
    Ok(row.into())
}

/// As [`insert_draft`] without the audit row, returning the new id: the caller records `patient.created`
/// in the same transaction (late, so the audit chain's lock is held briefly).
pub(crate) fn insert_draft_unaudited(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    draft: &PatientDraft,
) -> QueryResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = ctx.now.naive_utc();
    diesel::insert_into(patients::table)
        .values((
            patients::pharmacy_id.eq(pharmacy_id),
            patients::id.eq(&id),
            draft_values!(draft),
            patients::public_expenses.eq(public_expenses_json(draft)),
            patients::version.eq(1),
            patients::created_at.eq(now),
            patients::updated_at.eq(now),
        ))
        .execute(c)?;
    Ok(id)
}

/// Names of the fields that differ (for the audit detail; never the values).
fn changed_fields(old: &PatientRow, d: &PatientDraft) -> Vec<&'static str> {
    let mut f = Vec::new();
    let pe = public_expenses_json(d);
    let checks: [(&'static str, bool); 16] = [
        ("name_kanji", old.name_kanji != d.name_kanji),
        ("name_kana", old.name_kana != d.name_kana),
        ("birth_date", old.birth_date != d.birth_date),
        ("sex", old.sex != d.sex.as_str()),
        ("postal_code", old.postal_code != d.postal_code),
        ("address", old.address != d.address),
        ("phone", old.phone != d.phone),
        ("email", old.email != d.email),
        ("email_allowed", old.email_allowed != d.email_allowed),
        ("insurer_number", old.insurer_number != d.insurer_number),
        ("insured_symbol", old.insured_symbol != d.insured_symbol),
        ("insured_number", old.insured_number != d.insured_number),
        ("insured_branch", old.insured_branch != d.insured_branch),
        ("public_expenses", old.public_expenses != pe),
        ("allergies", old.allergies != d.allergies),
        ("notes", old.notes != d.notes),
    ];
    for (name, changed) in checks {
        if changed {
            f.push(name);
        }
    }
    f
}

/// Updates a patient if `expected_version` is still current (optimistic locking:
/// two clerks editing at once cannot silently overwrite each other).
pub fn update(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    patient_id: &str,
    expected_version: i32,
    input: &PatientInput,
) -> Result<Patient, PatientError> {
    crate::authz::require::<PatientError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "patient.updated",
        None,
    )?;
    let old = load_owned(conn, ctx, pharmacy_id, patient_id, "patient.updated")?;
    let draft = input.parse(ctx.today()).map_err(PatientError::Invalid)?;
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let n = diesel::update(
            patients::table
                .find((pharmacy_id, patient_id))
                .filter(patients::version.eq(expected_version)),
        )
        .set((
            draft_values!(draft),
            patients::public_expenses.eq(public_expenses_json(&draft)),
            patients::version.eq(expected_version + 1),
            patients::updated_at.eq(now),
        ))
        .execute(c)?;
        if n == 0 {
            let current: i32 = patients::table
                .find((pharmacy_id, patient_id))
                .select(patients::version)
                .first(c)?;
            return Err(PatientError::VersionConflict { current });
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "patient.updated")
                .subject("patient", patient_id)
                .detail(format!(
                    "fields: {}",
                    changed_fields(&old, &draft).join(",")
                )),
        )?;
        let row = patients::table
            .find((pharmacy_id, patient_id))
            .select(PatientRow::as_select())
            .first(c)?;
        Ok(row.into())
    })
}

/// Reads one patient (audited).
pub fn get(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    patient_id: &str,
) -> Result<Patient, PatientError> {
    crate::authz::require::<PatientError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "patient.read",
        None,
    )?;
    let row = load_owned(conn, ctx, pharmacy_id, patient_id, "patient.read")?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "patient.read").subject("patient", patient_id),
    )?;
    Ok(row.into())
}

/// A line of the patient list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PatientSummary {
    pub id: String,
    pub name_kanji: String,
    pub name_kana: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub insurer_number: Option<String>,
    pub insured_number: Option<String>,
}

/// Searches a pharmacy's patients (audited with the kind of criteria and the number
/// of results, never the search terms, which may be names).
pub fn search(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    criteria: &PatientSearch,
    offset: i64,
    limit: i64,
) -> Result<Vec<PatientSummary>, PatientError> {
    crate::authz::require::<PatientError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "patient.searched",
        None,
    )?;
    let mut q = patients::table
        .filter(patients::pharmacy_id.eq(pharmacy_id))
        .select(PatientRow::as_select())
        .order((patients::name_kana_key.asc(), patients::id.asc()))
        .offset(offset.max(0))
        .limit(limit.clamp(1, 200))
        .into_boxed();
    let mut kinds = Vec::new();
    if let Some(k) = &criteria.kana {
        q = q.filter(
            patients::name_kana_key
                .like(format!("{}%", escape_like(k)))
                .escape('\\'),
        );
        kinds.push("kana");
    }
    if let Some(b) = criteria.birth_date {
        q = q.filter(patients::birth_date.eq(b));
        kinds.push("birth_date");
    }
    if let Some(n) = &criteria.insurance_number {
        q = q.filter(
            patients::insured_number
                .eq(n.clone())
                .or(patients::insurer_number.eq(n.clone())),
        );
        kinds.push("insurance_number");
    }
    let rows: Vec<PatientRow> = q.load(conn)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "patient.searched").detail(format!(
            "criteria: {}; results: {}",
            if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(",")
            },
            rows.len()
        )),
    )?;
    Ok(rows
        .into_iter()
        .map(|r| PatientSummary {
            sex: Sex::parse(&r.sex).unwrap_or(Sex::Unknown),
            id: r.id,
            name_kanji: r.name_kanji,
            name_kana: r.name_kana,
            birth_date: r.birth_date,
            insurer_number: r.insurer_number,
            insured_number: r.insured_number,
        })
        .collect())
}

impl From<Denied> for PatientError {
    fn from(d: Denied) -> Self {
        PatientError::Forbidden(d)
    }
}
