//! Operator commands for data: e-mail notices and the national drug master.

use clap::Subcommand;

use super::admin::{ctx, pharmacy_id};
use super::CliResult;
use crate::clock::SystemClock;
use crate::config::Validated;
use crate::pharmacies;

/// `pharmacy notices ...`
#[derive(Debug, Subcommand)]
pub enum NoticesCommand {
    /// Queue the test notice to ADDRESS and send it now through the configured
    /// transport; prints the outcome.
    SendTest {
        #[arg(long)]
        to: String,
        /// 薬局コード of the pharmacy whose letterhead is used (default: the first).
        #[arg(long)]
        pharmacy: Option<String>,
    },
    /// Counts of outbound jobs by status.
    Status,
}

/// Runs a `notices` subcommand.
pub fn notices(settings: &Validated, cmd: NoticesCommand) -> CliResult<()> {
    let pool = super::migrate(settings)?;
    let state = crate::web::AppState::new(
        pool.clone(),
        settings.clone(),
        std::sync::Arc::new(SystemClock),
        false,
    );
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot open the database: {e}"))?;
    match cmd {
        NoticesCommand::SendTest { to, pharmacy } => {
            let pid = match pharmacy {
                Some(code) => pharmacy_id(&mut conn, &code)?,
                None => pharmacies::list_all(&mut conn)
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .next()
                    .map(|p| p.id)
                    .ok_or("no pharmacy registered yet (pharmacy pharmacy add ...)")?,
            };
            let n = crate::notices::send_test(
                &mut conn,
                &ctx(),
                &state.outbox,
                settings.time_zone,
                &pid,
                &to,
            )
            .map_err(|e| e.to_string())?;
            println!("queued test notice {} ({})", n.id, n.message_id);
            let worker = state.worker().map_err(|e| e.to_string())?;
            worker.run_until_idle().map_err(|e| e.to_string())?;
            let d =
                crate::notices::get(&mut conn, &ctx(), &pid, &n.id).map_err(|e| e.to_string())?;
            let last = d
                .attempts
                .last()
                .map(|a| a.detail.clone())
                .unwrap_or_default();
            println!("status: {} ({last})", d.notification.status);
            if d.notification.status == "sent" {
                Ok(())
            } else {
                Err(format!(
                    "the test notice was not sent: {}",
                    d.notification.last_error.unwrap_or_default()
                ))
            }
        }
        NoticesCommand::Status => {
            for (status, n) in crate::jobs::counts(&mut conn).map_err(|e| e.to_string())? {
                println!("{status}\t{n}");
            }
            Ok(())
        }
    }
}

/// `pharmacy drugs ...`
#[derive(Debug, Subcommand)]
pub enum DrugsCommand {
    /// Import a national master file: the MHLW 薬価基準収載品目リスト (--mhlw, CSV
    /// in UTF-8 or CP932) and/or the レセ電 医薬品マスター (--y-master, CP932, no
    /// header). Prints counts and every rejected line; re-importing changes nothing.
    Import {
        #[arg(long, value_name = "FILE")]
        mhlw: Option<std::path::PathBuf>,
        #[arg(long = "y-master", value_name = "FILE")]
        y_master: Option<std::path::PathBuf>,
        /// Load the curated master of ~100 common products shipped with the
        /// project (and its handling flags).
        #[arg(long)]
        curated: bool,
        /// Edition label (default: the date in the file name).
        #[arg(long)]
        edition: Option<String>,
    },
    /// Look a product up by YJ/薬価基準 code, レセ電 code or 一般名コード.
    Lookup { code: String },
    /// Search products by name, kana or ingredient.
    Search { query: String },
}

/// Runs a `drugs` subcommand.
pub fn drugs(settings: &Validated, cmd: DrugsCommand) -> CliResult<()> {
    let pool = super::migrate(settings)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot open the database: {e}"))?;
    match cmd {
        DrugsCommand::Import {
            mhlw,
            y_master,
            curated,
            edition,
        } => {
            if mhlw.is_none() && y_master.is_none() && !curated {
                return Err("give --mhlw FILE, --y-master FILE and/or --curated".into());
            }
            for (path, is_mhlw) in [(mhlw, true), (y_master, false)] {
                let Some(path) = path else { continue };
                let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                let started = std::time::Instant::now();
                let report = if is_mhlw {
                    crate::drugs::import::import_mhlw(
                        &mut conn,
                        &ctx(),
                        &name,
                        &bytes,
                        edition.as_deref(),
                    )
                } else {
                    crate::drugs::import::import_y_master(
                        &mut conn,
                        &ctx(),
                        &name,
                        &bytes,
                        edition.as_deref(),
                    )
                }
                .map_err(|e| format!("{}: {e}", path.display()))?;
                for e in &report.errors {
                    eprintln!("{}: rejected {e}", path.display());
                }
                println!(
                    "{}: {report} in {:.2}s",
                    path.display(),
                    started.elapsed().as_secs_f64()
                );
            }
            if curated {
                let r = crate::drugs::import::import_curated(&mut conn, &ctx())
                    .map_err(|e| e.to_string())?;
                println!("curated master: {r}");
            }
            let (total, narcotic) = crate::drugs::counts(&mut conn).map_err(|e| e.to_string())?;
            println!("master now holds {total} products ({narcotic} narcotics)");
            Ok(())
        }
        DrugsCommand::Lookup { code } => {
            let found = crate::drugs::lookup(&mut conn, &code).map_err(|e| e.to_string())?;
            if found.is_empty() {
                return Err(format!("no product with code {code}"));
            }
            for p in found {
                print_product(&p);
            }
            Ok(())
        }
        DrugsCommand::Search { query } => {
            for p in crate::drugs::search(&mut conn, &query, 50).map_err(|e| e.to_string())? {
                print_product(&p);
            }
            Ok(())
        }
    }
}

fn print_product(p: &crate::drugs::Product) {
    println!(
        "{}\t{}\t{}\t{}\t{}\t成分: {}\t麻薬:{} 向精神薬:{} 毒薬:{} 覚醒剤原料:{}{}",
        p.yj_code,
        p.receipt_code.as_deref().unwrap_or("-"),
        p.name,
        p.standard,
        p.route.as_str(),
        p.ingredients.join("・"),
        p.narcotic.as_str(),
        p.psychotropic.as_str(),
        p.poison.as_str(),
        p.stimulant_precursor.as_str(),
        p.delisted_edition
            .as_ref()
            .map(|e| format!("\t(delisted since {e})"))
            .unwrap_or_default()
    );
}
