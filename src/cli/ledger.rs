//! `pharmacy ledger verify`: checks every controlled-drug ledger chain and names
//! the first altered, deleted or inserted entry (exit status 1 when one is found).

use std::process::ExitCode;

use clap::Subcommand;
use diesel::prelude::*;

use super::open_pool;
use crate::config::Validated;
use crate::db::schema::pharmacies;

/// `pharmacy ledger ...`
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Verify the hash chains (one pharmacy by id or 薬局コード, or all).
    Verify {
        #[arg(long)]
        pharmacy: Option<String>,
    },
}

/// Runs `pharmacy ledger ...`: 0 intact, 1 broken, 2 cannot check.
pub fn ledger(settings: &Validated, cmd: LedgerCommand) -> ExitCode {
    let LedgerCommand::Verify { pharmacy } = cmd;
    let run = || -> Result<bool, String> {
        let pool = open_pool(settings)?;
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let pid = match &pharmacy {
            None => None,
            Some(p) => Some(
                pharmacies::table
                    .filter(pharmacies::id.eq(p).or(pharmacies::code.eq(p)))
                    .select(pharmacies::id)
                    .first::<String>(&mut conn)
                    .optional()
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no pharmacy `{p}`"))?,
            ),
        };
        let reports = crate::ledger::verify::verify_chains(&mut conn, pid.as_deref())
            .map_err(|e| e.to_string())?;
        let mut intact = true;
        for r in &reports {
            match &r.broken {
                None => println!(
                    "ok      {} {} ({} entries)",
                    r.pharmacy_id, r.product, r.entries
                ),
                Some(b) => {
                    intact = false;
                    println!(
                        "BROKEN  {} {} at entry #{}: {}",
                        r.pharmacy_id, r.product, b.seq, b.reason
                    );
                }
            }
        }
        println!("{} chain(s) checked", reports.len());
        Ok(intact)
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
