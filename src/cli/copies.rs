//! `pharmacy mail ingest` (an MTA's pipe delivery of prescription copies) and
//! `pharmacy originals sweep` (the overdue-originals sweep, run once).

use std::io::Read;
use std::process::ExitCode;

use clap::Subcommand;
use diesel::prelude::*;

use super::{open_pool, CliResult};
use crate::config::Validated;
use crate::context::Ctx;
use crate::copies::{ingest, CopyError, FileStore};
use crate::db::schema::pharmacies;

/// `pharmacy mail ...`
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Read one raw RFC 5322 message on stdin and file it as a prescription copy
    /// of the pharmacy (e.g. an MTA alias `rx-shinjuku: "|pharmacy mail ingest
    /// --pharmacy SHINJUKU"`). Exit status for the MTA: 0 stored (or kept in
    /// quarantine, reason on stderr), 65 too large to keep, 75 try again later
    /// (database or file store unavailable).
    Ingest {
        /// Pharmacy id or code.
        #[arg(long)]
        pharmacy: String,
    },
}

/// `pharmacy originals ...`
#[derive(Debug, Subcommand)]
pub enum OriginalsCommand {
    /// Run the overdue sweep once: tasks for overdue originals and one request per
    /// clinic per day through the notices outbox.
    Sweep,
}

/// sysexits.h: the MTA bounces the message.
const EX_DATAERR: u8 = 65;
/// sysexits.h: the MTA keeps the message and tries again.
const EX_TEMPFAIL: u8 = 75;

/// Runs `pharmacy mail ...`.
pub fn mail(settings: &Validated, cmd: MailCommand) -> ExitCode {
    let MailCommand::Ingest { pharmacy } = cmd;
    let limit = settings.raw.copies.keep_oversized_up_to_bytes;
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin()
        .take(limit as u64 + 1)
        .read_to_end(&mut raw)
    {
        eprintln!("error: reading stdin: {e}");
        return ExitCode::from(EX_TEMPFAIL);
    }
    if raw.len() > limit {
        eprintln!("error: {}", CopyError::TooLarge(limit));
        return ExitCode::from(EX_DATAERR);
    }
    let pool = match open_pool(settings) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    let mut conn = match pool.get() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: database unavailable: {e}");
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    let pid: Option<String> = match pharmacies::table
        .filter(
            pharmacies::id
                .eq(&pharmacy)
                .or(pharmacies::code.eq(&pharmacy)),
        )
        .select(pharmacies::id)
        .first(&mut conn)
        .optional()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: database: {e}");
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    let Some(pid) = pid else {
        eprintln!("error: no pharmacy with id or code {pharmacy}");
        return ExitCode::from(EX_TEMPFAIL);
    };
    let store = FileStore::new(&settings.raw.copies.files_dir);
    let ctx = Ctx::operator(chrono::Utc::now());
    match ingest::receive_mail(
        &mut conn,
        &store,
        &ctx,
        &pid,
        &raw,
        &settings.raw.copies.limits(),
    ) {
        Ok(r) => {
            println!(
                "{} copy {} ({}){}",
                if r.created {
                    "stored"
                } else {
                    "already stored"
                },
                r.copy.copy.id,
                r.copy.copy.status,
                r.copy
                    .copy
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        // Kept: bouncing would only make the sender try again.
        Err(e @ CopyError::Rejected { .. }) => {
            eprintln!("quarantined: {e}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EX_TEMPFAIL)
        }
    }
}

/// Runs `pharmacy originals ...`.
pub fn originals(settings: &Validated, cmd: OriginalsCommand) -> CliResult<()> {
    let OriginalsCommand::Sweep = cmd;
    let pool = open_pool(settings)?;
    let state = crate::web::AppState::new(
        pool,
        settings.clone(),
        std::sync::Arc::new(crate::clock::SystemClock),
        false,
    );
    let mut conn = state.pool.get().map_err(|e| e.to_string())?;
    let r = crate::copies::overdue::sweep(
        &mut conn,
        chrono::Utc::now(),
        &state.outbox,
        &settings.raw.copies.original_policy(),
    )
    .map_err(|e| e.to_string())?;
    println!(
        "overdue originals: {} (escalated {}); tasks created: {}; clinic requests: {}",
        r.overdue, r.escalated, r.tasks_created, r.requests
    );
    Ok(())
}
