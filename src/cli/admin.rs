//! Operator commands: staff accounts, pharmacies, audit verification. Every change
//! is audited with the operator (`cli:<os user>`) as actor.

use std::io::Read;

use clap::Subcommand;

use super::{open_pool, CliResult};
use crate::auth::hashing::hash_password;
use crate::clock::{Clock, SystemClock};
use crate::config::Validated;
use crate::context::Ctx;
use crate::db::DbConnection;
use crate::domain::pharmacy::PharmacyInput;
use crate::domain::role::Role;
use crate::{pharmacies, users};

/// `pharmacy user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a staff account with a role in one pharmacy. The initial password is
    /// read from standard input with --password-stdin, otherwise generated and printed.
    Add {
        /// 薬局コード of the pharmacy.
        #[arg(long)]
        pharmacy: String,
        #[arg(long)]
        username: String,
        /// Display name (氏名).
        #[arg(long)]
        name: String,
        /// admin, pharmacist, clerk or courier.
        #[arg(long)]
        role: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give an existing account a role in another pharmacy (or change it).
    Grant {
        #[arg(long)]
        pharmacy: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        role: String,
    },
    /// Disable an account; all its sessions end at once.
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Re-enable a disabled account.
    Enable {
        #[arg(long)]
        username: String,
    },
    /// Remove an account's second factor and recovery codes (lost phone); the
    /// user enrols again at the next sign-in.
    #[command(name = "reset-2fa")]
    Reset2fa {
        #[arg(long)]
        username: String,
    },
}

/// `pharmacy pharmacy ...`
#[derive(Debug, Subcommand)]
pub enum PharmacyCommand {
    /// Register a pharmacy.
    Add {
        /// 薬局コード (10 digits).
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        postal_code: String,
        #[arg(long)]
        address: String,
        #[arg(long)]
        phone: String,
        #[arg(long)]
        email: String,
        /// 開設者 (the licence holder).
        #[arg(long)]
        founder: String,
    },
    /// List pharmacies.
    List,
}

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

/// `pharmacy audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk every pharmacy's hash chain; exit non-zero naming the first row that
    /// does not match (altered, deleted or inserted rows are all detected).
    Verify,
}

fn ctx() -> Ctx {
    Ctx::operator(SystemClock.now())
}

fn with_conn<T>(
    settings: &Validated,
    f: impl FnOnce(&mut DbConnection) -> CliResult<T>,
) -> CliResult<T> {
    let pool = open_pool(settings)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot open the database: {e}"))?;
    f(&mut conn)
}

fn pharmacy_id(conn: &mut DbConnection, code: &str) -> CliResult<String> {
    pharmacies::find_by_code(conn, code)
        .map_err(|e| e.to_string())?
        .map(|p| p.id)
        .ok_or_else(|| format!("no pharmacy with code {code}"))
}

fn user_id(conn: &mut DbConnection, username: &str) -> CliResult<(String, String)> {
    let id = users::find_id(conn, username)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {username}"))?;
    let pharmacy = users::pharmacies_of(conn, &id)
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or_else(|| format!("user {username} belongs to no pharmacy"))?;
    Ok((id, pharmacy))
}

fn read_password() -> CliResult<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| format!("reading the password from standard input: {e}"))?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

/// Runs a `user` subcommand.
pub fn user(settings: &Validated, cmd: UserCommand) -> CliResult<()> {
    let iterations = settings.raw.security.pbkdf2_iterations;
    match cmd {
        UserCommand::Add {
            pharmacy,
            username,
            name,
            role,
            password_stdin,
        } => {
            let role = Role::parse(&role)?;
            let input = users::NewUserInput {
                username,
                display_name: name,
                role,
                password: if password_stdin {
                    Some(read_password()?)
                } else {
                    None
                },
            };
            let (username, display_name, password) =
                users::validate_new(&input).map_err(|e| e.to_string())?;
            let generated = password.is_none().then(users::generate_password);
            let plain = password.or(generated.clone()).unwrap_or_default();
            with_conn(settings, |conn| {
                let pid = pharmacy_id(conn, &pharmacy)?;
                let hash = hash_password(&plain, iterations);
                let id = users::add(conn, &ctx(), &pid, &username, &display_name, role, &hash)
                    .map_err(|e| e.to_string())?;
                println!(
                    "created user {username} ({id}) as {} in {pharmacy}",
                    role.as_str()
                );
                if let Some(p) = generated {
                    println!("initial password: {p}");
                }
                if role.requires_second_factor() {
                    println!("a second factor (TOTP) must be enrolled at the first sign-in");
                }
                Ok(())
            })
        }
        UserCommand::Grant {
            pharmacy,
            username,
            role,
        } => {
            let role = Role::parse(&role)?;
            with_conn(settings, |conn| {
                let pid = pharmacy_id(conn, &pharmacy)?;
                let id = users::find_id(conn, &username)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no user {username}"))?;
                users::set_role(conn, &ctx(), &pid, &id, role, true).map_err(|e| e.to_string())?;
                println!("{username} is now {} in {pharmacy}", role.as_str());
                Ok(())
            })
        }
        UserCommand::Disable { username } => with_conn(settings, |conn| {
            let (id, pid) = user_id(conn, &username)?;
            users::disable(conn, &ctx(), &pid, &id).map_err(|e| e.to_string())?;
            println!("disabled {username}; all sessions ended");
            Ok(())
        }),
        UserCommand::Enable { username } => with_conn(settings, |conn| {
            let (id, pid) = user_id(conn, &username)?;
            users::enable(conn, &ctx(), &pid, &id).map_err(|e| e.to_string())?;
            println!("enabled {username}");
            Ok(())
        }),
        UserCommand::Reset2fa { username } => with_conn(settings, |conn| {
            let (id, pid) = user_id(conn, &username)?;
            users::reset_second_factor(conn, &ctx(), &pid, &id).map_err(|e| e.to_string())?;
            println!("second factor of {username} removed; enrolment required at next sign-in");
            Ok(())
        }),
    }
}

/// Runs a `pharmacy` subcommand.
pub fn pharmacy(settings: &Validated, cmd: PharmacyCommand) -> CliResult<()> {
    match cmd {
        PharmacyCommand::Add {
            code,
            name,
            postal_code,
            address,
            phone,
            email,
            founder,
        } => with_conn(settings, |conn| {
            let input = PharmacyInput {
                code,
                name,
                postal_code,
                address,
                phone,
                email,
                founder,
            };
            let p = pharmacies::create(conn, &ctx(), &input).map_err(|e| e.to_string())?;
            println!("created pharmacy {} {} ({})", p.code, p.name, p.id);
            Ok(())
        }),
        PharmacyCommand::List => with_conn(settings, |conn| {
            for p in pharmacies::list_all(conn).map_err(|e| e.to_string())? {
                println!("{}\t{}\t{}", p.code, p.name, p.id);
            }
            Ok(())
        }),
    }
}

/// Runs an `audit` subcommand.
pub fn audit(settings: &Validated, cmd: AuditCommand) -> CliResult<()> {
    match cmd {
        AuditCommand::Verify => with_conn(settings, |conn| {
            let reports = crate::audit::verify::verify_all(conn).map_err(|e| e.to_string())?;
            let mut bad = 0;
            for r in &reports {
                match &r.result {
                    Ok(n) => println!("chain {}: {n} rows, intact", r.chain_key),
                    Err(b) => {
                        bad += 1;
                        println!("chain {}: BROKEN at {b}", r.chain_key);
                    }
                }
            }
            if bad > 0 {
                Err(format!("{bad} audit chain(s) failed verification"))
            } else {
                println!("all {} chain(s) intact", reports.len());
                Ok(())
            }
        }),
    }
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
