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

/// `pharmacy audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk every pharmacy's hash chain; exit non-zero naming the first row that
    /// does not match (altered, deleted or inserted rows are all detected).
    Verify,
}

pub(super) fn ctx() -> Ctx {
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

pub(super) fn pharmacy_id(conn: &mut DbConnection, code: &str) -> CliResult<String> {
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
