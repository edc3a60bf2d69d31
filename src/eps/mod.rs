//! The national services (電子処方箋管理サービス) through the OQS terminal's file drop:
//! the gateway client, the simulator, accepting prescriptions by 引換番号 and
//! registering dispensing results through the durable job queue.

pub mod demo;
pub mod gateway;
pub mod intake;
pub mod lifecycle;
pub mod results;
pub mod sim;
pub mod sim_qual;

use diesel::prelude::*;

use crate::context::Denied;
use crate::db::schema::eps_messages;
use crate::db::DbConnection;
use crate::domain::eps::messages::ErrorKind;
use crate::domain::fields::FieldErrors;
use crate::prescriptions::PrescriptionError;
use gateway::GatewayError;

/// Why an e-prescription operation failed. Every variant leaves the pharmacy's
/// records as they were.
#[derive(Debug, thiserror::Error)]
pub enum EpsError {
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    #[error("電子処方箋の連携が設定されていません ([eps] request_dir is not configured)")]
    NotConfigured,
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    #[error("処方箋が見つかりません (prescription not found)")]
    NotFound,
    #[error("この引換番号は {by} さんが受付処理中です（{since} から） (being accepted by {by})")]
    InProgress { by: String, since: String },
    #[error("この引換番号は {by} さんが受付済みです（処方箋 {prescription_id}） (already accepted by {by})")]
    AlreadyAccepted { by: String, prescription_id: String },
    /// The national service refused; the message is what the pharmacist reads.
    #[error("{message} ({code})")]
    Refused {
        kind: ErrorKind,
        code: String,
        message: String,
    },
    #[error("電子処方箋管理サービスに接続できません。時間をおいて再度お試しください (national services unavailable: {0})")]
    Unavailable(String),
    #[error("電子処方箋管理サービスの応答を読めませんでした。原文を保存しました (unreadable response: {message}; kept as {kept})")]
    BadMessage { message: String, kept: String },
    #[error("処方箋データを読めませんでした。原文を保存し、受付を取り消しました (unreadable prescription payload: {0})")]
    BadPayload(String),
    #[error("処方箋の患者情報で患者登録できません。患者を選んで受け付けてください (payload patient cannot be registered: {0})")]
    PatientData(FieldErrors),
    #[error("この状態ではできません (not possible while {0})")]
    WrongState(String),
    #[error(transparent)]
    Prescription(#[from] PrescriptionError),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

impl From<Denied> for EpsError {
    fn from(d: Denied) -> Self {
        EpsError::Forbidden(d)
    }
}

impl EpsError {
    /// From a gateway failure (the raw text of an unreadable answer is kept by the caller).
    pub fn from_gateway(e: &GatewayError) -> EpsError {
        match e {
            GatewayError::Malformed { message, kept, .. } => EpsError::BadMessage {
                message: message.clone(),
                kept: kept.clone(),
            },
            other => EpsError::Unavailable(other.to_string()),
        }
    }

    /// From a refusal of the service.
    pub fn refused(kind: ErrorKind, pharmacy: Option<&str>) -> EpsError {
        let message = match (kind, pharmacy) {
            (ErrorKind::AcceptedElsewhere, Some(name)) => {
                format!("{}（{name}）", kind.message())
            }
            _ => kind.message().to_string(),
        };
        EpsError::Refused {
            kind,
            code: kind.code().into(),
            message,
        }
    }
}

/// A message kept for inspection (unreadable answer or payload).
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = eps_messages)]
pub struct KeptMessage {
    pub id: String,
    pub operation: String,
    pub file_id: String,
    pub error: String,
    pub raw: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::NaiveDateTime,
}

/// Keeps an unreadable message (its own row: it must survive the failed use case).
pub(crate) fn keep_message(
    conn: &mut DbConnection,
    pharmacy_id: &str,
    operation: &str,
    file_id: &str,
    error: &str,
    raw: &[u8],
    now: chrono::NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(eps_messages::table)
        .values((
            eps_messages::pharmacy_id.eq(pharmacy_id),
            eps_messages::id.eq(uuid::Uuid::now_v7().to_string()),
            eps_messages::operation.eq(operation),
            eps_messages::file_id.eq(file_id),
            eps_messages::error.eq(error),
            eps_messages::raw.eq(String::from_utf8_lossy(raw).to_string()),
            eps_messages::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The kept messages of a pharmacy, newest first (audited read).
pub fn kept_messages(
    conn: &mut DbConnection,
    ctx: &crate::context::Ctx,
    pharmacy_id: &str,
) -> Result<Vec<KeptMessage>, EpsError> {
    crate::authz::require::<EpsError>(
        conn,
        ctx,
        pharmacy_id,
        crate::domain::role::Permission::Dispense,
        "eps.messages_listed",
        None,
    )?;
    let rows = eps_messages::table
        .filter(eps_messages::pharmacy_id.eq(pharmacy_id))
        .order(eps_messages::id.desc())
        .limit(100)
        .select(KeptMessage::as_select())
        .load(conn)?;
    crate::audit::record_alone(
        conn,
        ctx,
        crate::audit::Event::ok(Some(pharmacy_id), "eps.messages_listed"),
    )?;
    Ok(rows)
}
