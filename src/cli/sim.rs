//! `pharmacy eps-sim`: runs the national-services simulator on a folder.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::CliResult;
use crate::clock::{Clock, SystemClock};
use crate::eps::sim::{serve_once, SimPrescription, Store};

/// Options of `pharmacy eps-sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// The terminal folder (requests in DIR/req, answers in DIR/res, store DIR/state.json).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Answer latency in milliseconds (the real service takes about 2 s).
    #[arg(long, default_value_t = 2000)]
    pub latency_ms: u64,
    #[command(subcommand)]
    pub command: Option<SimCommand>,
}

/// What to do (default: serve requests until stopped).
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Register a prescription from a CSV payload file; prints its 引換番号.
    Issue {
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// 保険者番号, 被保険者証の番号 and 枝番 the pharmacy must present.
        #[arg(long)]
        insurer: String,
        #[arg(long)]
        number: String,
        #[arg(long, default_value = "")]
        branch: String,
        /// The patient consented to show which past drug matched.
        #[arg(long)]
        consent: bool,
    },
    /// Answer the requests waiting now, then exit.
    Once,
}

/// Runs the simulator command.
pub fn run(args: SimArgs) -> CliResult<()> {
    let dir = args.dir;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    match args.command {
        Some(SimCommand::Issue {
            csv,
            insurer,
            number,
            branch,
            consent,
        }) => {
            let text =
                std::fs::read_to_string(&csv).map_err(|e| format!("{}: {e}", csv.display()))?;
            let doc = crate::domain::rx_csv::parse_document(&text).map_err(|e| {
                e.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
            let data = crate::domain::rx_csv::interpret(&doc).map_err(|e| {
                e.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
            let mut store = Store::load(&dir).map_err(|e| e.to_string())?;
            let code = store.issue(SimPrescription {
                id: String::new(),
                access_code: String::new(),
                insurer_number: insurer,
                insured_number: number,
                insured_branch: branch,
                status: "未受付".into(),
                reception_pharmacy_code: None,
                reception_pharmacy_name: None,
                csv: text,
                issue_date: data
                    .issue_date
                    .unwrap_or_else(|| SystemClock.now().date_naive()),
                expiry_date: data.expiry_date,
                signature_ok: true,
                processing_rounds: 0,
                consent_past_drugs: consent,
                checks: Vec::new(),
                result: None,
            });
            store.save(&dir).map_err(|e| e.to_string())?;
            println!("{code}");
            Ok(())
        }
        Some(SimCommand::Once) => {
            let today = SystemClock
                .now()
                .with_timezone(&chrono_tz::Asia::Tokyo)
                .date_naive();
            let n = serve_once(&dir, Duration::from_millis(args.latency_ms), today)
                .map_err(|e| e.to_string())?;
            println!("answered {n} request(s)");
            Ok(())
        }
        None => {
            eprintln!(
                "eps-sim: watching {} (latency {} ms); stop with Ctrl-C",
                dir.display(),
                args.latency_ms
            );
            loop {
                let today = SystemClock
                    .now()
                    .with_timezone(&chrono_tz::Asia::Tokyo)
                    .date_naive();
                match serve_once(&dir, Duration::from_millis(args.latency_ms), today) {
                    Ok(0) => std::thread::sleep(Duration::from_millis(50)),
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("eps-sim: {e}");
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
            }
        }
    }
}
