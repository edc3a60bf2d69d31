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
    /// The terminal folder (requests in DIR/req, answers in DIR/res, store in DIR/store/, one JSON file per prescription).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Answer latency in milliseconds (the real service takes about 2 s).
    #[arg(long, default_value_t = 2000)]
    pub latency_ms: u64,
    /// How often an idle simulator looks for requests, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub poll_ms: u64,
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
        /// The prescriber's signature does not verify (NG).
        #[arg(long)]
        signature_ng: bool,
        /// Answer "processing" this many times before answering.
        #[arg(long, default_value_t = 0)]
        processing: u32,
        /// The service's own check result, `CODE:MESSAGE:PAST DRUG` (repeatable).
        #[arg(long = "check", value_name = "CODE:MESSAGE:PAST")]
        checks: Vec<String>,
        /// Register the file as it is, without reading it (to test unreadable payloads).
        #[arg(long)]
        raw: bool,
    },
    /// The prescriber cancels a prescription (取消).
    Cancel {
        #[arg(long)]
        code: String,
    },
    /// Prints a prescription's status (and whether a result is registered).
    Status {
        #[arg(long)]
        code: String,
    },
    /// A patient registers a viewing consent for a pharmacy on マイナ在宅受付Web
    /// (the qualification side: eligibility and drug information).
    Consent {
        /// 医療機関コード of the pharmacy.
        #[arg(long)]
        pharmacy: String,
        #[arg(long)]
        insurer: String,
        #[arg(long)]
        number: String,
        #[arg(long, default_value = "")]
        branch: String,
        /// YYYY-MM-DD
        #[arg(long)]
        birth: chrono::NaiveDate,
        #[arg(long)]
        name: String,
        /// YYYY-MM-DD (default today)
        #[arg(long)]
        consent_date: Option<chrono::NaiveDate>,
        /// The guidance date the consent runs until (YYYY-MM-DD).
        #[arg(long)]
        visit_date: chrono::NaiveDate,
        /// The insurance is no longer valid.
        #[arg(long)]
        ineligible: bool,
        /// A drug in the national records, `YJ:NAME:YYYY-MM-DD:DAYS:INSTITUTION` (repeatable).
        #[arg(long = "drug", value_name = "YJ:NAME:DATE:DAYS:INSTITUTION")]
        drugs: Vec<String>,
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
            signature_ng,
            processing,
            checks,
            raw,
        }) => {
            let text =
                std::fs::read_to_string(&csv).map_err(|e| format!("{}: {e}", csv.display()))?;
            let (issue_date, expiry_date) = if raw {
                (None, None)
            } else {
                let data = read(&text)?;
                (data.issue_date, data.expiry_date)
            };
            let checks = checks
                .iter()
                .map(|c| {
                    let mut parts = c.splitn(3, ':');
                    match (parts.next(), parts.next(), parts.next()) {
                        (Some(a), Some(b), Some(c)) => Ok((a.into(), b.into(), c.into())),
                        _ => Err(format!("--check `{c}` is not CODE:MESSAGE:PAST")),
                    }
                })
                .collect::<Result<Vec<_>, String>>()?;
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
                issue_date: issue_date.unwrap_or_else(jst_today),
                expiry_date,
                signature_ok: !signature_ng,
                processing_rounds: processing,
                consent_past_drugs: consent,
                checks,
                result: None,
                answers: Default::default(),
            });
            store.save(&dir).map_err(|e| e.to_string())?;
            println!("{code}");
            Ok(())
        }
        Some(SimCommand::Cancel { code }) => {
            let mut store = Store::load(&dir).map_err(|e| e.to_string())?;
            let p = store
                .prescriptions
                .iter_mut()
                .find(|p| p.access_code == code)
                .ok_or_else(|| format!("no prescription with 引換番号 {code}"))?;
            p.status = "取消".into();
            store.save(&dir).map_err(|e| e.to_string())?;
            println!("cancelled {code}");
            Ok(())
        }
        Some(SimCommand::Status { code }) => {
            let store = Store::load(&dir).map_err(|e| e.to_string())?;
            let p = store
                .prescriptions
                .iter()
                .find(|p| p.access_code == code)
                .ok_or_else(|| format!("no prescription with 引換番号 {code}"))?;
            println!(
                "{} {} result={}",
                p.id,
                p.status,
                if p.result.is_some() { "yes" } else { "no" }
            );
            Ok(())
        }
        Some(SimCommand::Consent {
            pharmacy,
            insurer,
            number,
            branch,
            birth,
            name,
            consent_date,
            visit_date,
            ineligible,
            drugs,
        }) => {
            let drugs = drugs
                .iter()
                .map(|d| {
                    let parts: Vec<&str> = d.splitn(5, ':').collect();
                    let bad = || format!("--drug `{d}` is not YJ:NAME:YYYY-MM-DD:DAYS:INSTITUTION");
                    if parts.len() != 5 {
                        return Err(bad());
                    }
                    Ok(crate::eps::sim_qual::SimDrug {
                        code: parts[0].into(),
                        name: parts[1].into(),
                        dispensed_on: parts[2].parse().map_err(|_| bad())?,
                        days: parts[3].parse().map_err(|_| bad())?,
                        institution: parts[4].into(),
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            crate::eps::sim_qual::register_consent(
                &dir,
                crate::eps::sim_qual::SimConsent {
                    pharmacy_code: pharmacy,
                    insurer_number: insurer,
                    insured_number: number,
                    insured_branch: branch,
                    birth_date: birth,
                    name,
                    consent_date: consent_date.unwrap_or_else(jst_today),
                    visit_date,
                    eligible: !ineligible,
                    drugs,
                },
            )
            .map_err(|e| e.to_string())?;
            println!("consent registered");
            Ok(())
        }
        Some(SimCommand::Once) => {
            let today = jst_today();
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
            let never = std::sync::atomic::AtomicBool::new(false);
            crate::eps::sim::serve_until(
                &dir,
                Duration::from_millis(args.latency_ms),
                Duration::from_millis(args.poll_ms.max(1)),
                &never,
            );
            Ok(())
        }
    }
}

fn jst_today() -> chrono::NaiveDate {
    SystemClock
        .now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive()
}

fn read(text: &str) -> CliResult<crate::domain::rx_csv::RxData> {
    let join = |e: Vec<crate::domain::rx_csv::CsvError>| {
        e.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let doc = crate::domain::rx_csv::parse_document(text).map_err(join)?;
    crate::domain::rx_csv::interpret(&doc).map_err(join)
}
