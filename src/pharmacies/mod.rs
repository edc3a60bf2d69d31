//! Pharmacies (店舗) of a chain. Created by the operator on the command line;
//! each pharmacy's admins may edit its details.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::backend::is_unique_violation;
use crate::db::schema::{audit_chain_heads, pharmacies};
use crate::db::{write_transaction, DbConnection};
use crate::domain::audit::GENESIS_HASH;
use crate::domain::fields::FieldErrors;
use crate::domain::pharmacy::PharmacyInput;
use crate::domain::role::Permission;

/// A pharmacy as stored.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = pharmacies)]
pub struct Pharmacy {
    pub id: String,
    /// 薬局コード
    pub code: String,
    pub name: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub email: String,
    /// 開設者
    pub founder: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
}

/// Why a pharmacy operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PharmacyError {
    #[error("invalid pharmacy data: {0}")]
    Invalid(FieldErrors),
    #[error("薬局コード {0} は登録済みです (pharmacy code already registered)")]
    DuplicateCode(String),
    #[error("薬局が見つかりません (pharmacy not found)")]
    NotFound,
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

/// The columns a draft sets (a macro: diesel's value types are not nameable).
macro_rules! draft_values {
    ($d:expr, $now:expr) => {
        (
            pharmacies::code.eq(&$d.code),
            pharmacies::name.eq(&$d.name),
            pharmacies::postal_code.eq(&$d.postal_code),
            pharmacies::address.eq(&$d.address),
            pharmacies::phone.eq(&$d.phone),
            pharmacies::email.eq(&$d.email),
            pharmacies::founder.eq(&$d.founder),
            pharmacies::updated_at.eq($now),
        )
    };
}

/// Registers a pharmacy (operator only) and opens its audit chain.
pub fn create(
    conn: &mut DbConnection,
    ctx: &Ctx,
    input: &PharmacyInput,
) -> Result<Pharmacy, PharmacyError> {
    if !ctx.actor.operator {
        return Err(PharmacyError::Forbidden(Denied::NotMember));
    }
    let draft = input.parse().map_err(PharmacyError::Invalid)?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let inserted = diesel::insert_into(pharmacies::table)
            .values((
                pharmacies::id.eq(&id),
                pharmacies::created_at.eq(now),
                draft_values!(draft, now),
            ))
            .execute(c);
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(PharmacyError::DuplicateCode(draft.code.clone()))
            }
            other => other?,
        };
        diesel::insert_into(audit_chain_heads::table)
            .values((
                audit_chain_heads::chain_key.eq(&id),
                audit_chain_heads::seq.eq(0i64),
                audit_chain_heads::hash.eq(GENESIS_HASH),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(&id), "pharmacy.created").subject("pharmacy", &id),
        )?;
        Ok(pharmacies::table
            .find(&id)
            .select(Pharmacy::as_select())
            .first(c)?)
    })
}

/// Updates a pharmacy's details (its admins).
pub fn update(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    input: &PharmacyInput,
) -> Result<Pharmacy, PharmacyError> {
    crate::authz::require::<PharmacyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ManagePharmacy,
        "pharmacy.updated",
        Some(("pharmacy", pharmacy_id)),
    )?;
    let draft = input.parse().map_err(PharmacyError::Invalid)?;
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let n = diesel::update(pharmacies::table.find(pharmacy_id))
            .set(draft_values!(draft, now))
            .execute(c);
        match n {
            Err(e) if is_unique_violation(&e) => {
                return Err(PharmacyError::DuplicateCode(draft.code.clone()))
            }
            Ok(0) => return Err(PharmacyError::NotFound),
            other => other?,
        };
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "pharmacy.updated").subject("pharmacy", pharmacy_id),
        )?;
        Ok(pharmacies::table
            .find(pharmacy_id)
            .select(Pharmacy::as_select())
            .first(c)?)
    })
}

/// A pharmacy the actor belongs to (or any, for the operator).
pub fn get(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
) -> Result<Pharmacy, PharmacyError> {
    if !ctx.actor.operator && ctx.actor.role_in(pharmacy_id).is_none() {
        return Err(PharmacyError::NotFound);
    }
    pharmacies::table
        .find(pharmacy_id)
        .select(Pharmacy::as_select())
        .first(conn)
        .optional()?
        .ok_or(PharmacyError::NotFound)
}

/// Finds a pharmacy by its 薬局コード (command line).
pub fn find_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<Pharmacy>> {
    pharmacies::table
        .filter(pharmacies::code.eq(code))
        .select(Pharmacy::as_select())
        .first(conn)
        .optional()
}

/// Every pharmacy (operator listing).
pub fn list_all(conn: &mut DbConnection) -> QueryResult<Vec<Pharmacy>> {
    pharmacies::table
        .order(pharmacies::code.asc())
        .select(Pharmacy::as_select())
        .load(conn)
}

impl From<Denied> for PharmacyError {
    fn from(d: Denied) -> Self {
        PharmacyError::Forbidden(d)
    }
}
