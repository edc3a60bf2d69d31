//! The `pharmacy` command line (clap): serve, migrate, demo, staff accounts,
//! pharmacies, audit verification.

mod admin;
mod copies;
mod data;
mod ledger;
mod sim;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::clock::SystemClock;
use crate::config::{Settings, Validated};
use crate::db::{self, Pool, PoolOptions};
use crate::web::AppState;

/// Prescription intake, dispensing checks, online medication guidance and home
/// delivery for Japanese pharmacies.
#[derive(Debug, Parser)]
#[command(name = "pharmacy", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file layered over the embedded defaults (environment
    /// variables PHARMACY__SECTION__KEY override both).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service from configuration (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a fresh demo database under var/demo/, seed it with two pharmacies,
    /// staff and patients, and serve it on 127.0.0.1:8080 (second factor not
    /// enforced, DEMO banner shown).
    Demo {
        /// Address to serve the demo on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Manage staff accounts.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Manage pharmacies (店舗) of the chain.
    #[command(subcommand)]
    Pharmacy(admin::PharmacyCommand),
    /// Audit trail tools.
    #[command(subcommand)]
    Audit(admin::AuditCommand),
    /// The national drug master: import, lookup, search.
    #[command(subcommand)]
    Drugs(data::DrugsCommand),
    /// The national e-prescription service simulator (stands in for the OQS
    /// terminal's file drop): `pharmacy eps-sim --dir DIR`, `... issue`, `... once`.
    EpsSim(sim::SimArgs),
    /// Benchmarks that print their figures (build with --release for real numbers).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// E-mail notices (outbox).
    #[command(subcommand)]
    Notices(data::NoticesCommand),
    /// Prescription copies arriving by e-mail (and fax gateways).
    #[command(subcommand)]
    Mail(copies::MailCommand),
    /// Originals of copy-based prescriptions.
    #[command(subcommand)]
    Originals(copies::OriginalsCommand),
    /// The controlled-drug ledger (麻薬帳簿).
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Run only the background job worker (sending notices, ...), without HTTP:
    /// for dedicated worker instances. `serve` runs one in-process when
    /// jobs.enabled is true.
    Worker,
}

/// `pharmacy bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The medication check engine in process: a 10-item prescription against
    /// 100, 1,500 and 10,000 history items (p50/p99).
    Checks {
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
    },
    /// The check through the HTTP API with the database (temp SQLite, or the
    /// configured PostgreSQL): sign in, then POST 10-item checks for a patient
    /// with a 5-year history.
    CheckApi {
        #[arg(long, default_value_t = 1500)]
        history: usize,
        #[arg(long, default_value_t = 300)]
        requests: usize,
    },
    /// E-prescription intake end to end with the simulator at latency 0: the
    /// p50/p99 of one accept, sustained accept-check-dispense throughput from
    /// several threads, result registration by the job worker, and the database's
    /// raw durable commit rate (temp SQLite, or the configured PostgreSQL).
    Eps {
        #[arg(long, default_value_t = 200)]
        sequential: usize,
        #[arg(long, default_value_t = 1000)]
        concurrent: usize,
        #[arg(long, default_value_t = 4)]
        threads: usize,
    },
    /// Temperature-logger readings through the HTTP API in JSON batches (temp
    /// SQLite, or the configured PostgreSQL), and the raw insert rate beside it.
    Readings {
        #[arg(long, default_value_t = 200_000)]
        readings: usize,
        #[arg(long, default_value_t = 5_000)]
        batch: usize,
    },
    /// Importing the full MHLW list into a fresh database (the configured
    /// PostgreSQL when PHARMACY__DATABASE__URL names one, else a temp SQLite file).
    Import {
        #[arg(long, value_name = "FILE")]
        mhlw: PathBuf,
    },
}

fn bench(settings: &Validated, cmd: BenchCommand) -> CliResult<()> {
    match cmd {
        BenchCommand::Checks { iterations } => {
            crate::bench::checks(iterations.max(10));
            Ok(())
        }
        BenchCommand::CheckApi { history, requests } => {
            crate::bench_api::check_api(settings, history, requests.max(10))
        }
        BenchCommand::Eps {
            sequential,
            concurrent,
            threads,
        } => crate::bench_eps::eps(
            settings,
            sequential.max(10),
            concurrent.max(10),
            threads.clamp(1, 32),
        ),
        BenchCommand::Readings { readings, batch } => {
            crate::bench_readings::readings(settings, readings.max(100), batch.clamp(1, 20_000))
        }
        BenchCommand::Import { mhlw } => {
            let bytes = std::fs::read(&mhlw).map_err(|e| format!("{}: {e}", mhlw.display()))?;
            let dir = std::env::temp_dir().join(format!("pharmacy-bench-{}", std::process::id()));
            let mut s = settings.clone();
            if matches!(s.database, db::DatabaseUrl::Sqlite(_)) {
                s.database = db::DatabaseUrl::Sqlite(dir.join("bench.db"));
            }
            let pool = migrate(&s)?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let ctx = crate::context::Ctx::operator(chrono::Utc::now());
            let name = mhlw
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            for round in ["first import", "re-import (unchanged)"] {
                let t = std::time::Instant::now();
                let r = crate::drugs::import::import_mhlw(&mut conn, &ctx, &name, &bytes, None)
                    .map_err(|e| e.to_string())?;
                println!(
                    "import MHLW list, {round} on {}: {:.2} s ({r}); target <= 10 s",
                    s.database.backend(),
                    t.elapsed().as_secs_f64()
                );
            }
            drop(conn);
            drop(pool);
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        }
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()).and_then(Settings::validate) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&settings);
    let result = match cli.command {
        Command::Serve => serve(settings),
        Command::Migrate => migrate(&settings).map(|_| ()),
        Command::Demo { listen } => crate::demo::run(settings, &listen),
        Command::User(c) => admin::user(&settings, c),
        Command::Pharmacy(c) => admin::pharmacy(&settings, c),
        Command::Audit(c) => admin::audit(&settings, c),
        Command::Notices(c) => data::notices(&settings, c),
        Command::Drugs(c) => data::drugs(&settings, c),
        Command::Bench(c) => bench(&settings, c),
        Command::EpsSim(a) => sim::run(a),
        Command::Worker => worker(settings),
        Command::Mail(c) => return copies::mail(&settings, c),
        Command::Originals(c) => copies::originals(&settings, c),
        Command::Ledger(c) => return ledger::ledger(&settings, c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(settings: &Validated) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_new(&settings.raw.log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if settings.raw.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// A command-line failure, shown as `error: ...`.
pub type CliResult<T> = Result<T, String>;

/// Opens the configured database.
pub fn open_pool(settings: &Validated) -> CliResult<Pool> {
    let d = &settings.raw.database;
    db::connect(
        &settings.database,
        &PoolOptions {
            max_size: d.pool_size,
            connect_timeout: std::time::Duration::from_secs(d.connect_timeout_secs),
            sqlite_busy_timeout_ms: d.sqlite_busy_timeout_ms,
        },
    )
    .map_err(|e| e.to_string())
}

/// Opens the database and applies pending migrations.
pub fn migrate(settings: &Validated) -> CliResult<Pool> {
    let pool = open_pool(settings)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let applied = db::run_migrations(&mut conn).map_err(|e| format!("migrations failed: {e}"))?;
    for m in &applied {
        tracing::info!(migration = %m, "applied");
    }
    eprintln!(
        "database ({}) is up to date; {} migration(s) applied",
        settings.database.backend(),
        applied.len()
    );
    drop(conn);
    Ok(pool)
}

/// Serves `state` on the configured address until stopped, with housekeeping.
pub fn run_server(state: AppState, listener: TcpListener) -> CliResult<()> {
    actix_web::rt::System::new().block_on(async move {
        let reminders = state.clone();
        actix_web::rt::spawn(async move {
            // Guidance reminders are due to the minute.
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                let (now, outbox) = (reminders.clock.now(), reminders.outbox.clone());
                match reminders
                    .db(move |conn| {
                        crate::guidance::notify::send_due_reminders(conn, now, &outbox)
                            .map_err(crate::error::AppError::from)
                    })
                    .await
                {
                    Ok(n) if n > 0 => tracing::info!(sent = n, "guidance reminders"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "guidance reminders failed"),
                }
            }
        });
        let housekeeping = state.clone();
        actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
            loop {
                tick.tick().await;
                let now = housekeeping.clock.now();
                match housekeeping
                    .db(move |conn| crate::housekeeping::run(conn, now))
                    .await
                {
                    Ok(removed) => tracing::debug!(?removed, "housekeeping"),
                    Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
                }
                // Originals not received in time: tasks and requests to clinics.
                let (outbox, policy) = (
                    housekeeping.outbox.clone(),
                    housekeeping.settings.raw.copies.original_policy(),
                );
                match housekeeping
                    .db(move |conn| {
                        crate::copies::overdue::sweep(conn, now, &outbox, &policy)
                            .map_err(crate::error::AppError::from)
                    })
                    .await
                {
                    Ok(r) if r.tasks_created + r.requests > 0 => {
                        tracing::info!(?r, "overdue originals")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "overdue originals sweep failed"),
                }
                // Delivered controlled or cold parcels the patient has not confirmed.
                match housekeeping
                    .db(move |conn| {
                        crate::deliveries::followup_sweep(conn, now)
                            .map_err(crate::error::AppError::from)
                    })
                    .await
                {
                    Ok(n) if n > 0 => tracing::info!(tasks = n, "unconfirmed deliveries"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "delivery follow-up sweep failed"),
                }
                // Request and response files nobody will read any more (a crash
                // between writing and reading, an answer after the timeout).
                if let Some(gw) = housekeeping.gateway() {
                    let age = std::time::Duration::from_secs(
                        housekeeping.settings.raw.eps.stale_file_minutes.max(1) * 60,
                    );
                    match actix_web::web::block(move || gw.cleanup(age)).await {
                        Ok(Ok(n)) if n > 0 => {
                            tracing::info!(removed = n, "stale terminal files removed")
                        }
                        Ok(Err(e)) => tracing::warn!(error = %e, "terminal folder cleanup failed"),
                        _ => {}
                    }
                }
            }
        });
        crate::web::server::run(state, listener)
            .await
            .map_err(|e| format!("server: {e}"))
    })
}

/// Starts the in-process job worker when configured; returns its stop flag.
pub fn start_worker(state: &AppState) -> CliResult<Option<Arc<AtomicBool>>> {
    if !state.settings.raw.jobs.enabled {
        return Ok(None);
    }
    let worker = state.worker().map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    worker.spawn(stop.clone());
    Ok(Some(stop))
}

fn serve(settings: Validated) -> CliResult<()> {
    let pool = migrate(&settings)?;
    let listener = TcpListener::bind(settings.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    eprintln!("pharmacy listening on {}", settings.public_url());
    let state = AppState::new(pool, settings, Arc::new(SystemClock), false);
    let stop = start_worker(&state)?;
    let result = run_server(state, listener);
    if let Some(s) = stop {
        s.store(true, Ordering::Relaxed);
    }
    result
}

fn worker(settings: Validated) -> CliResult<()> {
    let pool = migrate(&settings)?;
    let state = AppState::new(pool, settings, Arc::new(SystemClock), false);
    let worker = state.worker().map_err(|e| e.to_string())?;
    eprintln!("job worker {} running; stop with Ctrl-C", worker.id);
    let stop = Arc::new(AtomicBool::new(false));
    worker
        .spawn(stop)
        .join()
        .map_err(|_| "the job worker panicked".to_string())
}
