//! The clinics directory (医療機関) of a pharmacy: admins maintain it; staff read
//! it. Notices to clinics (requests for originals) use its e-mail address only
//! when the clinic agreed to e-mail.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::schema::clinics;
use crate::db::{write_transaction, DbConnection};
use crate::domain::clinic::ClinicInput;
use crate::domain::fields::FieldErrors;
use crate::domain::role::Permission;

/// A clinic as stored.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = clinics)]
pub struct Clinic {
    pub pharmacy_id: String,
    pub id: String,
    pub name: String,
    /// 医療機関コード
    pub institution_code: Option<String>,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub email: Option<String>,
    pub email_allowed: bool,
    pub notes: String,
    /// Further addresses copies come from, one per line.
    pub sender_addresses: String,
    pub version: i32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
}

/// Why a clinic operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClinicError {
    #[error("invalid clinic data: {0}")]
    Invalid(FieldErrors),
    #[error("医療機関が見つかりません (clinic not found)")]
    NotFound,
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    #[error("他の人が先に更新しました (changed by someone else; current version {current})")]
    VersionConflict { current: i32 },
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

fn load(conn: &mut DbConnection, pharmacy_id: &str, id: &str) -> Result<Clinic, ClinicError> {
    clinics::table
        .find((pharmacy_id, id))
        .select(Clinic::as_select())
        .first(conn)
        .optional()?
        .ok_or(ClinicError::NotFound)
}

/// Adds a clinic (admins).
pub fn create(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    input: &ClinicInput,
) -> Result<Clinic, ClinicError> {
    crate::authz::require::<ClinicError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ManagePharmacy,
        "clinic.created",
        None,
    )?;
    let d = input.parse().map_err(ClinicError::Invalid)?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        diesel::insert_into(clinics::table)
            .values((
                clinics::pharmacy_id.eq(pharmacy_id),
                clinics::id.eq(&id),
                clinics::name.eq(&d.name),
                clinics::institution_code.eq(&d.institution_code),
                clinics::phone.eq(&d.phone),
                clinics::fax.eq(&d.fax),
                clinics::email.eq(&d.email),
                clinics::email_allowed.eq(d.email_allowed),
                clinics::notes.eq(&d.notes),
                clinics::sender_addresses.eq(&d.sender_addresses),
                clinics::version.eq(1),
                clinics::created_at.eq(now),
                clinics::updated_at.eq(now),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "clinic.created").subject("clinic", &id),
        )?;
        load(c, pharmacy_id, &id)
    })
}

/// Updates a clinic if `expected_version` is current (admins).
pub fn update(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    expected_version: i32,
    input: &ClinicInput,
) -> Result<Clinic, ClinicError> {
    crate::authz::require::<ClinicError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ManagePharmacy,
        "clinic.updated",
        None,
    )?;
    let d = input.parse().map_err(ClinicError::Invalid)?;
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let current = load(c, pharmacy_id, id)?;
        let n = diesel::update(
            clinics::table
                .find((pharmacy_id, id))
                .filter(clinics::version.eq(expected_version)),
        )
        .set((
            clinics::name.eq(&d.name),
            clinics::institution_code.eq(&d.institution_code),
            clinics::phone.eq(&d.phone),
            clinics::fax.eq(&d.fax),
            clinics::email.eq(&d.email),
            clinics::email_allowed.eq(d.email_allowed),
            clinics::notes.eq(&d.notes),
            clinics::sender_addresses.eq(&d.sender_addresses),
            clinics::version.eq(expected_version + 1),
            clinics::updated_at.eq(now),
        ))
        .execute(c)?;
        if n == 0 {
            return Err(ClinicError::VersionConflict {
                current: current.version,
            });
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "clinic.updated").subject("clinic", id),
        )?;
        load(c, pharmacy_id, id)
    })
}

/// One clinic (staff).
pub fn get(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
) -> Result<Clinic, ClinicError> {
    crate::authz::require::<ClinicError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "clinic.read",
        None,
    )?;
    load(conn, pharmacy_id, id)
}

/// The directory, by name (staff).
pub fn list(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
) -> Result<Vec<Clinic>, ClinicError> {
    crate::authz::require::<ClinicError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "clinic.listed",
        None,
    )?;
    Ok(clinics::table
        .filter(clinics::pharmacy_id.eq(pharmacy_id))
        .order(clinics::name.asc())
        .select(Clinic::as_select())
        .load(conn)?)
}

impl From<Denied> for ClinicError {
    fn from(d: Denied) -> Self {
        ClinicError::Forbidden(d)
    }
}
