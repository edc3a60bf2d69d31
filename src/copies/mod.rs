//! Paper prescriptions that arrive first as fax or e-mail copies (オンライン対応) and
//! by mail later as originals: intake of copies into an inbox (triage for unknown
//! or suspicious senders, quarantine for unreadable messages, nothing dropped),
//! transcription into a prescription, the original's tracking and reconciliation,
//! and the overdue sweep that asks clinics for missing originals.

pub mod files;
pub mod images;
pub mod ingest;
pub mod originals;
pub mod overdue;
pub mod record;
pub mod transcribe;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::schema::{clinics, copy_attachments, copy_prescriptions, prescription_copies};
use crate::db::{write_transaction, DbConnection};
use crate::domain::fields::FieldErrors;
use crate::domain::role::Permission;
use crate::prescriptions::PrescriptionError;

pub use files::FileStore;

/// Why a copy operation failed. Every variant leaves the records as they were
/// (a rejected message is kept in quarantine by its own transaction first).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    #[error("写しが見つかりません (copy not found)")]
    NotFound,
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    /// The message was kept in quarantine (`copy_id`) and not accepted.
    #[error("{reason} — 隔離して保存しました（{copy_id}） (kept in quarantine)")]
    Rejected { reason: String, copy_id: String },
    #[error("大きすぎるため受け付けられません（上限 {0} バイト） (too large to keep)")]
    TooLarge(usize),
    #[error("この状態ではできません: {0} (not possible in this state)")]
    WrongState(String),
    #[error("ファイル保管庫を使えません: {0} (file store unavailable)")]
    Storage(String),
    #[error(transparent)]
    Prescription(#[from] PrescriptionError),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

impl From<Denied> for CopyError {
    fn from(d: Denied) -> Self {
        CopyError::Forbidden(d)
    }
}

impl CopyError {
    fn invalid(field: &str, message: impl Into<String>) -> CopyError {
        let mut f = FieldErrors::new();
        f.add(field, message);
        CopyError::Invalid(f)
    }
}

/// A received copy (or a quarantined message) as stored.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = prescription_copies)]
pub struct CopyRow {
    pub id: String,
    /// email, fax (gateway) or upload (scanned in the console)
    pub channel: String,
    /// new, triage, quarantined, transcribed or dismissed
    pub status: String,
    /// Why it is in triage or quarantine.
    pub reason: Option<String>,
    pub message_id: Option<String>,
    pub raw_sha256: String,
    pub raw_size: i64,
    pub from_address: Option<String>,
    pub fax_number: Option<String>,
    pub subject: String,
    pub body_text: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<NaiveDateTime>,
    pub clinic_id: Option<String>,
    /// Another copy that carried the same file (a possible double send).
    pub duplicate_of: Option<String>,
    pub received_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub received_at: NaiveDateTime,
    pub handled_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub handled_at: Option<NaiveDateTime>,
    pub handled_note: Option<String>,
    pub version: i32,
}

/// A file of a copy.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = copy_attachments)]
pub struct Attachment {
    pub position: i32,
    pub filename: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub inline: bool,
}

/// A copy with its files, clinic and the prescriptions made from it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CopyDetail {
    #[serde(flatten)]
    pub copy: CopyRow,
    pub clinic_name: Option<String>,
    pub attachments: Vec<Attachment>,
    pub prescriptions: Vec<String>,
}

fn load_row(c: &mut DbConnection, pharmacy_id: &str, id: &str) -> Result<CopyRow, CopyError> {
    prescription_copies::table
        .find((pharmacy_id, id))
        .select(CopyRow::as_select())
        .first(c)
        .optional()?
        .ok_or(CopyError::NotFound)
}

fn detail(c: &mut DbConnection, pharmacy_id: &str, id: &str) -> Result<CopyDetail, CopyError> {
    let copy = load_row(c, pharmacy_id, id)?;
    let attachments = copy_attachments::table
        .filter(copy_attachments::pharmacy_id.eq(pharmacy_id))
        .filter(copy_attachments::copy_id.eq(id))
        .order(copy_attachments::position.asc())
        .select(Attachment::as_select())
        .load(c)?;
    let clinic_name = match &copy.clinic_id {
        Some(cid) => clinics::table
            .find((pharmacy_id, cid))
            .select(clinics::name)
            .first(c)
            .optional()?,
        None => None,
    };
    let prescriptions = copy_prescriptions::table
        .filter(copy_prescriptions::pharmacy_id.eq(pharmacy_id))
        .filter(copy_prescriptions::copy_id.eq(id))
        .select(copy_prescriptions::prescription_id)
        .load(c)?;
    Ok(CopyDetail {
        copy,
        clinic_name,
        attachments,
        prescriptions,
    })
}

/// The intake inbox: copies in `statuses` (all when empty), newest first, with
/// clinic names (audited read: subjects and bodies may name patients).
pub fn list(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    statuses: &[&str],
) -> Result<Vec<(CopyRow, Option<String>)>, CopyError> {
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "copy.listed",
        None,
    )?;
    let mut q = prescription_copies::table
        .left_join(
            clinics::table.on(clinics::pharmacy_id
                .eq(prescription_copies::pharmacy_id)
                .and(clinics::id.nullable().eq(prescription_copies::clinic_id))),
        )
        .filter(prescription_copies::pharmacy_id.eq(pharmacy_id))
        .into_boxed();
    if !statuses.is_empty() {
        q = q.filter(prescription_copies::status.eq_any(statuses.to_vec()));
    }
    let rows = q
        .order((
            prescription_copies::received_at.desc(),
            prescription_copies::id.desc(),
        ))
        .limit(300)
        .select((CopyRow::as_select(), clinics::name.nullable()))
        .load(conn)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "copy.listed").detail(format!("statuses={statuses:?}")),
    )?;
    Ok(rows)
}

/// One copy with its files (audited read).
pub fn get(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
) -> Result<CopyDetail, CopyError> {
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "copy.read",
        Some(("copy", id)),
    )?;
    let d = detail(conn, pharmacy_id, id)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "copy.read").subject("copy", id),
    )?;
    Ok(d)
}

/// One file of a copy: (name, media type, bytes), verified against its digest
/// (audited read). The raw message itself is position 0 of quarantined copies'
/// `raw` (see [`raw_message`]).
pub fn file(
    conn: &mut DbConnection,
    store: &FileStore,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    position: i32,
) -> Result<(String, String, Vec<u8>), CopyError> {
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "copy.file_read",
        Some(("copy", id)),
    )?;
    let a: Attachment = copy_attachments::table
        .find((pharmacy_id, id, position))
        .select(Attachment::as_select())
        .first(conn)
        .optional()?
        .ok_or(CopyError::NotFound)?;
    let bytes = store
        .get(&a.sha256)
        .map_err(|e| CopyError::Storage(e.to_string()))?
        .ok_or_else(|| CopyError::Storage(format!("file {} is missing", a.sha256)))?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "copy.file_read")
            .subject("copy", id)
            .detail(format!("position {position}: {}", a.filename)),
    )?;
    Ok((a.filename, a.media_type, bytes))
}

/// The raw message as received (pharmacists inspecting quarantine or triage).
pub fn raw_message(
    conn: &mut DbConnection,
    store: &FileStore,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
) -> Result<Vec<u8>, CopyError> {
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "copy.raw_read",
        Some(("copy", id)),
    )?;
    let row = load_row(conn, pharmacy_id, id)?;
    let bytes = store
        .get(&row.raw_sha256)
        .map_err(|e| CopyError::Storage(e.to_string()))?
        .ok_or_else(|| CopyError::Storage(format!("file {} is missing", row.raw_sha256)))?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "copy.raw_read").subject("copy", id),
    )?;
    Ok(bytes)
}

/// Accepts a triaged copy as coming from `clinic_id` (after checking with the
/// clinic), or dismisses it (misdirected, spoofed, duplicate, unreadable) with a
/// note of what was done. Copies are never deleted.
pub fn decide(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    clinic_id: Option<&str>,
    dismiss: bool,
    note: &str,
) -> Result<CopyDetail, CopyError> {
    let action = if dismiss {
        "copy.dismissed"
    } else {
        "copy.accepted"
    };
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        action,
        Some(("copy", id)),
    )?;
    let note = crate::domain::text::normalize(note);
    if note.is_empty() || note.chars().count() > 500 {
        return Err(CopyError::invalid(
            "note",
            "対応内容を500文字以内で入力してください (what was done, required)",
        ));
    }
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let row = load_row(c, pharmacy_id, id)?;
        let allowed = if dismiss {
            matches!(row.status.as_str(), "new" | "triage" | "quarantined")
        } else {
            row.status == "triage"
        };
        if !allowed {
            return Err(CopyError::WrongState(row.status));
        }
        let clinic = match (dismiss, clinic_id.filter(|c| !c.is_empty())) {
            (true, _) => row.clinic_id.clone(),
            (false, Some(cid)) => {
                let n: i64 = clinics::table
                    .find((pharmacy_id, cid))
                    .count()
                    .get_result(c)?;
                if n == 0 {
                    return Err(CopyError::invalid("clinic_id", "医療機関が見つかりません"));
                }
                Some(cid.to_string())
            }
            (false, None) => {
                return Err(CopyError::invalid(
                    "clinic_id",
                    "送信元の医療機関を選んでください (choose the clinic)",
                ))
            }
        };
        let n = diesel::update(
            prescription_copies::table
                .find((pharmacy_id, id))
                .filter(prescription_copies::version.eq(row.version)),
        )
        .set((
            prescription_copies::status.eq(if dismiss { "dismissed" } else { "new" }),
            prescription_copies::clinic_id.eq(&clinic),
            prescription_copies::handled_by.eq(&ctx.actor.name),
            prescription_copies::handled_at.eq(now),
            prescription_copies::handled_note.eq(&note),
            prescription_copies::version.eq(row.version + 1),
        ))
        .execute(c)?;
        if n == 0 {
            return Err(CopyError::WrongState("changed by someone else".into()));
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), action)
                .subject("copy", id)
                .detail(format!("from {}: {note}", row.status)),
        )?;
        detail(c, pharmacy_id, id)
    })
}

/// The texts of the 2D symbols (QR codes) that can be read from a copy's images
/// (PDF pages are not rasterised; a code scanner reads those). Audited read.
pub fn symbols_in_files(
    conn: &mut DbConnection,
    store: &FileStore,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
) -> Result<Vec<String>, CopyError> {
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "copy.symbol_read",
        Some(("copy", id)),
    )?;
    let d = detail(conn, pharmacy_id, id)?;
    let mut found = Vec::new();
    for a in &d.attachments {
        let Some(kind) = crate::domain::mail::CopyFileKind::from_media_type(&a.media_type) else {
            continue;
        };
        let bytes = store
            .get(&a.sha256)
            .map_err(|e| CopyError::Storage(e.to_string()))?
            .ok_or_else(|| CopyError::Storage(format!("file {} is missing", a.sha256)))?;
        found.extend(images::read_symbols(kind, &bytes));
    }
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "copy.symbol_read")
            .subject("copy", id)
            .detail(format!("symbols found: {}", found.len())),
    )?;
    Ok(found)
}
