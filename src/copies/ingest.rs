//! Receiving copies: a raw e-mail (from the MTA pipe or the API; fax gateways
//! arrive this way too) or a scanned file uploaded in the console. The raw bytes
//! and every file are stored first (content-addressed); then one transaction
//! records the copy, its files and the audit row. A message that cannot be
//! accepted is recorded in quarantine with its reason, and nothing else is created.
//! Redelivery (same Message-ID, or the same bytes) returns the copy already stored.

use diesel::prelude::*;

use super::files::{sha256_hex, FileStore};
use super::{detail, CopyDetail, CopyError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::backend::is_unique_violation;
use crate::db::schema::{clinics, copy_attachments, prescription_copies};
use crate::db::{write_transaction, DbConnection};
use crate::domain::mail::{normalize_fax, parse_mail, CopyFileKind, InboundMail, MailLimits};
use crate::domain::role::Permission;

/// The result of receiving a message: the copy, and whether it is new.
#[derive(Debug, Clone)]
pub struct Received {
    pub copy: CopyDetail,
    pub created: bool,
}

/// A file about to be recorded.
struct NewFile {
    filename: String,
    media_type: &'static str,
    sha256: String,
    size: i64,
    inline: bool,
}

/// Everything recorded for a new copy.
struct NewCopy<'a> {
    channel: &'a str,
    status: &'a str,
    reason: Option<String>,
    message_id: Option<String>,
    raw_sha256: String,
    raw_size: i64,
    from_address: Option<String>,
    fax_number: Option<String>,
    subject: String,
    body_text: String,
    sent_at: Option<chrono::NaiveDateTime>,
    clinic_id: Option<String>,
    files: Vec<NewFile>,
}

fn existing_by(
    c: &mut DbConnection,
    pharmacy_id: &str,
    raw_sha: &str,
    message_id: Option<&str>,
) -> QueryResult<Option<String>> {
    let by_raw = prescription_copies::table
        .filter(prescription_copies::pharmacy_id.eq(pharmacy_id))
        .filter(prescription_copies::raw_sha256.eq(raw_sha))
        .select(prescription_copies::id)
        .first::<String>(c)
        .optional()?;
    if by_raw.is_some() {
        return Ok(by_raw);
    }
    match message_id {
        Some(m) => prescription_copies::table
            .filter(prescription_copies::pharmacy_id.eq(pharmacy_id))
            .filter(prescription_copies::message_id.eq(m))
            .select(prescription_copies::id)
            .first::<String>(c)
            .optional(),
        None => Ok(None),
    }
}

/// The clinic a message comes from: by fax number for faxes, else by address.
fn match_clinic(
    c: &mut DbConnection,
    pharmacy_id: &str,
    from: Option<&str>,
    fax: Option<&str>,
) -> QueryResult<Option<String>> {
    let rows: Vec<(String, Option<String>, Option<String>, String)> = clinics::table
        .filter(clinics::pharmacy_id.eq(pharmacy_id))
        .select((
            clinics::id,
            clinics::fax,
            clinics::email,
            clinics::sender_addresses,
        ))
        .load(c)?;
    if let Some(fax) = fax {
        let hit = rows
            .iter()
            .find(|r| r.1.as_deref().and_then(normalize_fax).as_deref() == Some(fax));
        return Ok(hit.map(|r| r.0.clone()));
    }
    let Some(from) = from else { return Ok(None) };
    Ok(rows
        .iter()
        .find(|r| {
            r.2.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(from))
                || r.3.lines().any(|l| l.trim().eq_ignore_ascii_case(from))
        })
        .map(|r| r.0.clone()))
}

fn store_file(store: &FileStore, bytes: &[u8]) -> Result<String, CopyError> {
    store
        .put(bytes)
        .map_err(|e| CopyError::Storage(e.to_string()))
}

/// Records a copy (or a quarantined message) with its files and audit row.
fn insert(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    new: NewCopy<'_>,
) -> Result<Received, CopyError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = ctx.now.naive_utc();
    let outcome = write_transaction(
        conn,
        |c| -> Result<Result<(), String>, diesel::result::Error> {
            if let Some(existing) =
                existing_by(c, pharmacy_id, &new.raw_sha256, new.message_id.as_deref())?
            {
                return Ok(Err(existing));
            }
            // A file already received in another copy: possibly sent twice.
            let mut duplicate_of = None;
            for f in &new.files {
                duplicate_of = copy_attachments::table
                    .filter(copy_attachments::pharmacy_id.eq(pharmacy_id))
                    .filter(copy_attachments::sha256.eq(&f.sha256))
                    .select(copy_attachments::copy_id)
                    .first::<String>(c)
                    .optional()?;
                if duplicate_of.is_some() {
                    break;
                }
            }
            diesel::insert_into(prescription_copies::table)
                .values((
                    prescription_copies::pharmacy_id.eq(pharmacy_id),
                    prescription_copies::id.eq(&id),
                    prescription_copies::channel.eq(new.channel),
                    prescription_copies::status.eq(new.status),
                    prescription_copies::reason.eq(&new.reason),
                    prescription_copies::message_id.eq(&new.message_id),
                    prescription_copies::raw_sha256.eq(&new.raw_sha256),
                    prescription_copies::raw_size.eq(new.raw_size),
                    prescription_copies::from_address.eq(&new.from_address),
                    prescription_copies::fax_number.eq(&new.fax_number),
                    prescription_copies::subject.eq(&new.subject),
                    prescription_copies::body_text.eq(&new.body_text),
                    prescription_copies::sent_at.eq(new.sent_at),
                    prescription_copies::clinic_id.eq(&new.clinic_id),
                    prescription_copies::duplicate_of.eq(&duplicate_of),
                    prescription_copies::received_by.eq(&ctx.actor.name),
                    prescription_copies::received_at.eq(now),
                    prescription_copies::version.eq(1),
                ))
                .execute(c)?;
            for (i, f) in new.files.iter().enumerate() {
                diesel::insert_into(copy_attachments::table)
                    .values((
                        copy_attachments::pharmacy_id.eq(pharmacy_id),
                        copy_attachments::copy_id.eq(&id),
                        copy_attachments::position.eq(i as i32),
                        copy_attachments::filename.eq(&f.filename),
                        copy_attachments::media_type.eq(f.media_type),
                        copy_attachments::sha256.eq(&f.sha256),
                        copy_attachments::size.eq(f.size),
                        copy_attachments::inline.eq(f.inline),
                    ))
                    .execute(c)?;
            }
            let action = if new.status == "quarantined" {
                "copy.quarantined"
            } else {
                "copy.received"
            };
            audit::record(
                c,
                ctx,
                Event::ok(Some(pharmacy_id), action)
                    .subject("copy", &id)
                    .detail(format!(
                        "{} {}; files: {}; status: {}{}",
                        new.channel,
                        new.fax_number
                            .as_deref()
                            .or(new.from_address.as_deref())
                            .unwrap_or("-"),
                        new.files.len(),
                        new.status,
                        new.reason
                            .as_deref()
                            .map(|r| format!("; {r}"))
                            .unwrap_or_default()
                    )),
            )?;
            Ok(Ok(()))
        },
    );
    let existing = match outcome {
        Ok(Ok(())) => {
            return Ok(Received {
                copy: detail(conn, pharmacy_id, &id)?,
                created: true,
            })
        }
        Ok(Err(existing)) => existing,
        // Two deliveries of one message at once: the other one stored it.
        Err(e) if is_unique_violation(&e) => existing_by(
            conn,
            pharmacy_id,
            &new.raw_sha256,
            new.message_id.as_deref(),
        )?
        .ok_or(CopyError::NotFound)?,
        Err(e) => return Err(e.into()),
    };
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "copy.redelivered")
            .subject("copy", &existing)
            .detail("same Message-ID or content: stored once"),
    )?;
    Ok(Received {
        copy: detail(conn, pharmacy_id, &existing)?,
        created: false,
    })
}

/// Why a parsed message goes to triage instead of the inbox.
fn triage_reasons(mail: &InboundMail, clinic: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(f) = &mail.authentication_failure {
        out.push(format!(
            "送信元の認証に失敗しています（{f}）。なりすましの可能性 (sender authentication failed)"
        ));
    }
    if clinic.is_none() {
        out.push(match &mail.fax_number {
            Some(f) => format!("登録されていないFAX番号 {f} から (unknown fax number)"),
            None => format!(
                "登録されていない送信元 {} から。誤送信・なりすましの可能性 (unknown sender)",
                mail.from
            ),
        });
    }
    if mail.files.is_empty() {
        out.push("処方箋の画像・PDFが添付されていません (no attachment)".into());
    }
    out
}

/// Receives one raw RFC 5322 message for a pharmacy. A message over the limits or
/// unreadable is kept in quarantine and answered with [`CopyError::Rejected`].
pub fn receive_mail(
    conn: &mut DbConnection,
    store: &FileStore,
    ctx: &Ctx,
    pharmacy_id: &str,
    raw: &[u8],
    limits: &MailLimits,
) -> Result<Received, CopyError> {
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "copy.received",
        None,
    )?;
    let raw_sha = sha256_hex(raw);
    // Raw first: whatever happens next, the message is not lost.
    store_file(store, raw)?;
    let mail = match parse_mail(raw, limits) {
        Ok(m) => m,
        Err(rejection) => {
            let reason = rejection.to_string();
            let got = insert(
                conn,
                ctx,
                pharmacy_id,
                NewCopy {
                    channel: "email",
                    status: "quarantined",
                    reason: Some(reason.clone()),
                    message_id: None,
                    raw_sha256: raw_sha,
                    raw_size: raw.len() as i64,
                    from_address: None,
                    fax_number: None,
                    subject: String::new(),
                    body_text: String::new(),
                    sent_at: None,
                    clinic_id: None,
                    files: Vec::new(),
                },
            )?;
            return Err(CopyError::Rejected {
                reason,
                copy_id: got.copy.copy.id,
            });
        }
    };
    // Redelivered: nothing to store again.
    if let Some(existing) = existing_by(conn, pharmacy_id, &raw_sha, mail.message_id.as_deref())? {
        audit::record_alone(
            conn,
            ctx,
            Event::ok(Some(pharmacy_id), "copy.redelivered")
                .subject("copy", &existing)
                .detail("same Message-ID or content: stored once"),
        )?;
        return Ok(Received {
            copy: detail(conn, pharmacy_id, &existing)?,
            created: false,
        });
    }
    let mut files = Vec::with_capacity(mail.files.len());
    for f in &mail.files {
        files.push(NewFile {
            sha256: store_file(store, &f.content)?,
            filename: f.filename.clone(),
            media_type: f.kind.media_type(),
            size: f.content.len() as i64,
            inline: f.inline,
        });
    }
    let clinic = match_clinic(
        conn,
        pharmacy_id,
        Some(&mail.from),
        mail.fax_number.as_deref(),
    )?;
    let reasons = triage_reasons(&mail, clinic.as_deref());
    let mut body_text = mail.body_text.clone();
    if !mail.skipped.is_empty() {
        body_text.push_str(&format!(
            "\n\n[保存しなかった添付: {}]",
            mail.skipped.join(", ")
        ));
    }
    insert(
        conn,
        ctx,
        pharmacy_id,
        NewCopy {
            channel: if mail.fax_number.is_some() {
                "fax"
            } else {
                "email"
            },
            status: if reasons.is_empty() { "new" } else { "triage" },
            reason: (!reasons.is_empty()).then(|| reasons.join(" / ")),
            message_id: mail.message_id.clone(),
            raw_sha256: raw_sha,
            raw_size: raw.len() as i64,
            from_address: Some(mail.from.clone()),
            fax_number: mail.fax_number.clone(),
            subject: mail.subject.clone(),
            body_text,
            sent_at: mail.sent_at,
            clinic_id: clinic,
            files,
        },
    )
}

/// Receives a scanned copy uploaded by staff (PDF, TIFF, PNG or JPEG). Without a
/// clinic it waits in triage until someone names the sender.
#[allow(clippy::too_many_arguments)]
pub fn receive_upload(
    conn: &mut DbConnection,
    store: &FileStore,
    ctx: &Ctx,
    pharmacy_id: &str,
    filename: &str,
    bytes: &[u8],
    clinic_id: Option<&str>,
    limits: &MailLimits,
) -> Result<Received, CopyError> {
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "copy.received",
        None,
    )?;
    let Some(kind) = CopyFileKind::sniff(bytes) else {
        return Err(CopyError::invalid(
            "file",
            "PDF・TIFF・PNG・JPEG のファイルを選んでください (PDF, TIFF, PNG or JPEG only)",
        ));
    };
    if bytes.len() > limits.max_attachment_bytes {
        return Err(CopyError::invalid(
            "file",
            format!(
                "ファイルが大きすぎます（上限 {} バイト） (too large)",
                limits.max_attachment_bytes
            ),
        ));
    }
    let clinic = clinic_id.filter(|c| !c.trim().is_empty());
    if let Some(cid) = clinic {
        let n: i64 = clinics::table
            .find((pharmacy_id, cid))
            .count()
            .get_result(conn)?;
        if n == 0 {
            return Err(CopyError::invalid(
                "clinic_id",
                "医療機関が見つかりません (unknown clinic)",
            ));
        }
    }
    let name: String = crate::domain::text::normalize(filename)
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | '"'))
        .take(120)
        .collect();
    let name = if name.is_empty() {
        format!("scan.{}", kind.extension())
    } else {
        name
    };
    let sha = store_file(store, bytes)?;
    insert(
        conn,
        ctx,
        pharmacy_id,
        NewCopy {
            channel: "upload",
            status: if clinic.is_some() { "new" } else { "triage" },
            reason: clinic
                .is_none()
                .then(|| "送信元の医療機関が未選択です (clinic not chosen)".to_string()),
            message_id: None,
            raw_sha256: sha.clone(),
            raw_size: bytes.len() as i64,
            from_address: None,
            fax_number: None,
            subject: name.clone(),
            body_text: String::new(),
            sent_at: None,
            clinic_id: clinic.map(str::to_string),
            files: vec![NewFile {
                filename: name,
                media_type: kind.media_type(),
                sha256: sha,
                size: bytes.len() as i64,
                inline: false,
            }],
        },
    )
}
