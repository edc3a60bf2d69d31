//! Importing the national masters into `drug_products` in one transaction:
//! unchanged rows (same content hash) are skipped, so re-importing a file changes
//! nothing; products missing from a new MHLW edition are marked delisted but kept.

use std::collections::HashMap;

use diesel::prelude::*;

use super::{curated, search_text};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{drug_ingredients, drug_master_imports, drug_products};
use crate::db::{write_transaction, DbConnection};
use crate::domain::drug_master::{
    decode, parse_mhlw, parse_y_master, split_ingredients, ControlClass, MhlwRow, RowError, YRow,
};

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub encoding: &'static str,
    pub edition: String,
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub delisted: usize,
    pub rejected: usize,
    /// The rejected rows, by line.
    pub errors: Vec<RowError>,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "edition {} ({}): added {}, changed {}, unchanged {}, delisted {}, rejected {}",
            self.edition,
            self.encoding,
            self.added,
            self.changed,
            self.unchanged,
            self.delisted,
            self.rejected
        )
    }
}

/// Why an import stopped without changing anything.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(String),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

/// The edition label: `--edition`, else the first 8-digit run in the file name
/// (`mhlw_yakka_20250716.csv` → `20250716`), else the file's hash prefix.
pub fn edition_of(file_name: &str, sha: &str, given: Option<&str>) -> String {
    if let Some(g) = given {
        return g.to_string();
    }
    let digits: Vec<&str> = file_name
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| s.len() == 8)
        .collect();
    digits
        .first()
        .map(|s| s.to_string())
        .unwrap_or_else(|| sha[..12].to_string())
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

fn set_ingredients(
    conn: &mut DbConnection,
    yj: &str,
    ingredient_text: &str,
    name: &str,
) -> QueryResult<()> {
    diesel::delete(drug_ingredients::table.filter(drug_ingredients::yj_code.eq(yj)))
        .execute(conn)?;
    let (list, is_curated): (Vec<String>, bool) = match curated::components(ingredient_text, name) {
        Some(c) => (c.iter().map(|s| s.to_string()).collect(), true),
        None => (split_ingredients(ingredient_text), false),
    };
    for (i, ing) in list.iter().enumerate() {
        diesel::insert_into(drug_ingredients::table)
            .values((
                drug_ingredients::yj_code.eq(yj),
                drug_ingredients::position.eq(i as i32),
                drug_ingredients::name.eq(ing),
                drug_ingredients::curated.eq(is_curated),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn record_import(
    conn: &mut DbConnection,
    ctx: &Ctx,
    source: &str,
    file_name: &str,
    sha: &str,
    r: &ImportReport,
) -> QueryResult<()> {
    diesel::insert_into(drug_master_imports::table)
        .values((
            drug_master_imports::id.eq(uuid::Uuid::now_v7().to_string()),
            drug_master_imports::source.eq(source),
            drug_master_imports::file_name.eq(file_name),
            drug_master_imports::file_sha256.eq(sha),
            drug_master_imports::edition.eq(&r.edition),
            drug_master_imports::imported_at.eq(ctx.now.naive_utc()),
            drug_master_imports::added.eq(r.added as i32),
            drug_master_imports::changed.eq(r.changed as i32),
            drug_master_imports::unchanged.eq(r.unchanged as i32),
            drug_master_imports::delisted.eq(r.delisted as i32),
            drug_master_imports::rejected.eq(r.rejected as i32),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        Event::ok(None, "drugs.imported")
            .subject("drug_master", source)
            .detail(format!("{file_name}: {r}")),
    )
}

/// Imports the MHLW 薬価基準収載品目リスト.
pub fn import_mhlw(
    conn: &mut DbConnection,
    ctx: &Ctx,
    file_name: &str,
    bytes: &[u8],
    edition: Option<&str>,
) -> Result<ImportReport, ImportError> {
    let sha = sha256(bytes);
    let (text, encoding) = decode(bytes);
    let (rows, errors) = parse_mhlw(&text).map_err(ImportError::File)?;
    let mut report = ImportReport {
        encoding,
        edition: edition_of(file_name, &sha, edition),
        rejected: errors.len(),
        errors,
        ..ImportReport::default()
    };
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let existing: HashMap<String, (Option<String>, Option<String>)> = drug_products::table
            .select((
                drug_products::yj_code,
                drug_products::mhlw_hash,
                drug_products::delisted_edition,
            ))
            .load::<(String, Option<String>, Option<String>)>(c)?
            .into_iter()
            .map(|(k, h, d)| (k, (h, d)))
            .collect();
        let mut seen = std::collections::HashSet::with_capacity(rows.len());
        for r in &rows {
            if !seen.insert(r.yj_code.clone()) {
                report.rejected += 1;
                report.errors.push(RowError {
                    line: r.line,
                    message: format!("duplicate 薬価基準収載医薬品コード {}", r.yj_code),
                });
                continue;
            }
            match existing.get(&r.yj_code) {
                None => {
                    insert_mhlw(c, r, &report.edition, now)?;
                    report.added += 1;
                }
                Some((hash, delisted))
                    if hash.as_deref() == Some(r.hash.as_str()) && delisted.is_none() =>
                {
                    report.unchanged += 1;
                }
                Some(_) => {
                    update_mhlw(c, r, &report.edition, now)?;
                    report.changed += 1;
                }
            }
        }
        for (code, (hash, delisted)) in &existing {
            if hash.is_some() && delisted.is_none() && !seen.contains(code) {
                diesel::update(drug_products::table.find(code))
                    .set((
                        drug_products::delisted_edition.eq(Some(&report.edition)),
                        drug_products::updated_at.eq(now),
                    ))
                    .execute(c)?;
                report.delisted += 1;
            }
        }
        record_import(c, ctx, "mhlw", file_name, &sha, &report)?;
        Ok::<_, ImportError>(())
    })?;
    Ok(report)
}

fn insert_mhlw(
    c: &mut DbConnection,
    r: &MhlwRow,
    edition: &str,
    now: chrono::NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(drug_products::table)
        .values((
            drug_products::yj_code.eq(&r.yj_code),
            drug_products::name.eq(&r.name),
            drug_products::ingredient_text.eq(&r.ingredient_text),
            drug_products::standard.eq(&r.standard),
            drug_products::category.eq(&r.category),
            drug_products::route.eq(r.route.as_str()),
            drug_products::maker.eq(&r.maker),
            drug_products::price.eq(&r.price),
            drug_products::search_text.eq(search_text(&r.name, None, &r.ingredient_text, None)),
            drug_products::narcotic.eq(if r.narcotic { "yes" } else { "no" }),
            // Not in the MHLW list: unknown until the y master or curation says.
            drug_products::psychotropic.eq("unknown"),
            drug_products::stimulant_precursor.eq("unknown"),
            drug_products::poison.eq("unknown"),
            drug_products::powerful.eq("unknown"),
            drug_products::refrigerated.eq("unknown"),
            drug_products::transitional_until.eq(r.transitional_until),
            drug_products::first_edition.eq(edition),
            drug_products::last_edition.eq(edition),
            drug_products::source.eq("mhlw"),
            drug_products::mhlw_hash.eq(&r.hash),
            drug_products::updated_at.eq(now),
        ))
        .execute(c)?;
    set_ingredients(c, &r.yj_code, &r.ingredient_text, &r.name)
}

fn update_mhlw(
    c: &mut DbConnection,
    r: &MhlwRow,
    edition: &str,
    now: chrono::NaiveDateTime,
) -> QueryResult<()> {
    let kana: Option<String> = drug_products::table
        .find(&r.yj_code)
        .select(drug_products::name_kana)
        .first(c)?;
    diesel::update(drug_products::table.find(&r.yj_code))
        .set((
            drug_products::name.eq(&r.name),
            drug_products::ingredient_text.eq(&r.ingredient_text),
            drug_products::standard.eq(&r.standard),
            drug_products::category.eq(&r.category),
            drug_products::route.eq(r.route.as_str()),
            drug_products::maker.eq(&r.maker),
            drug_products::price.eq(&r.price),
            drug_products::search_text.eq(search_text(
                &r.name,
                kana.as_deref(),
                &r.ingredient_text,
                None,
            )),
            drug_products::narcotic.eq(if r.narcotic { "yes" } else { "no" }),
            drug_products::transitional_until.eq(r.transitional_until),
            drug_products::delisted_edition.eq(None::<String>),
            drug_products::last_edition.eq(edition),
            drug_products::mhlw_hash.eq(&r.hash),
            drug_products::updated_at.eq(now),
        ))
        .execute(c)?;
    set_ingredients(c, &r.yj_code, &r.ingredient_text, &r.name)
}

/// Imports the レセ電 医薬品マスター: receipt codes, 一般名コード, kana names and
/// the 麻薬/毒薬/覚醒剤原料/向精神薬 class, onto products known by their YJ code.
/// Rows without a known YJ code are rejected (the MHLW list comes first).
pub fn import_y_master(
    conn: &mut DbConnection,
    ctx: &Ctx,
    file_name: &str,
    bytes: &[u8],
    edition: Option<&str>,
) -> Result<ImportReport, ImportError> {
    let sha = sha256(bytes);
    let (text, encoding) = decode(bytes);
    let (rows, errors) = parse_y_master(&text);
    let mut report = ImportReport {
        encoding,
        edition: edition_of(file_name, &sha, edition),
        rejected: errors.len(),
        errors,
        ..ImportReport::default()
    };
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let existing: HashMap<String, Option<String>> = drug_products::table
            .select((drug_products::yj_code, drug_products::y_hash))
            .load::<(String, Option<String>)>(c)?
            .into_iter()
            .collect();
        for r in &rows {
            let Some(yj) = &r.yj_code else {
                report.rejected += 1;
                report.errors.push(RowError {
                    line: r.line,
                    message: format!("{} has no 薬価基準収載医薬品コード", r.receipt_code),
                });
                continue;
            };
            match existing.get(yj) {
                None => {
                    report.rejected += 1;
                    report.errors.push(RowError {
                        line: r.line,
                        message: format!("{yj} is not in the MHLW list (import it first)"),
                    });
                }
                Some(Some(h)) if *h == r.hash => report.unchanged += 1,
                Some(previous) => {
                    apply_y(c, yj, r, now)?;
                    if previous.is_none() {
                        report.added += 1;
                    } else {
                        report.changed += 1;
                    }
                }
            }
        }
        record_import(c, ctx, "y_master", file_name, &sha, &report)?;
        Ok::<_, ImportError>(())
    })?;
    Ok(report)
}

fn apply_y(
    c: &mut DbConnection,
    yj: &str,
    r: &YRow,
    now: chrono::NaiveDateTime,
) -> QueryResult<()> {
    let (name, ingredient_text, narcotic): (String, String, String) = drug_products::table
        .find(yj)
        .select((
            drug_products::name,
            drug_products::ingredient_text,
            drug_products::narcotic,
        ))
        .first(c)?;
    let is = |class: ControlClass| if r.control == class { "yes" } else { "no" };
    // A narcotic in either master stays a narcotic.
    let narcotic = if narcotic == "yes" || r.control == ControlClass::Narcotic {
        "yes"
    } else {
        "no"
    };
    diesel::update(drug_products::table.find(yj))
        .set((
            drug_products::receipt_code.eq(Some(&r.receipt_code)),
            drug_products::general_name_code.eq(&r.general_name_code),
            drug_products::general_name.eq(&r.general_name),
            drug_products::name_kana.eq(Some(&r.name_kana)),
            drug_products::search_text.eq(search_text(
                &name,
                Some(&r.name_kana),
                &ingredient_text,
                r.general_name.as_deref(),
            )),
            drug_products::narcotic.eq(narcotic),
            drug_products::psychotropic.eq(is(ControlClass::Psychotropic)),
            drug_products::poison.eq(is(ControlClass::Poison)),
            drug_products::stimulant_precursor.eq(is(ControlClass::StimulantPrecursor)),
            drug_products::y_hash.eq(Some(&r.hash)),
            drug_products::updated_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

/// The curated master of ~100 common products shipped with the project (real
/// codes and names from the MHLW list, edition 2025-07-16, edited: regulatory and
/// storage flags added by the team where known, `unknown` elsewhere).
pub const CURATED_PRODUCTS: &str = include_str!("data/curated_products.csv");

/// Loads the curated master: inserts missing products and sets the curated
/// handling flags (劇薬, storage range) on products already imported.
pub fn import_curated(conn: &mut DbConnection, ctx: &Ctx) -> Result<ImportReport, ImportError> {
    let mut rdr = csv::Reader::from_reader(CURATED_PRODUCTS.as_bytes());
    let mut report = ImportReport {
        encoding: "UTF-8",
        edition: format!("curated-{}", super::clinical::VERSION),
        ..ImportReport::default()
    };
    let now = ctx.now.naive_utc();
    let records: Vec<csv::StringRecord> = rdr
        .records()
        .collect::<Result<_, _>>()
        .map_err(|e| ImportError::File(format!("curated master: {e}")))?;
    write_transaction(conn, |c| {
        for r in &records {
            let f = |i: usize| r.get(i).unwrap_or_default().to_string();
            let opt = |i: usize| Some(f(i)).filter(|s| !s.is_empty());
            let num = |i: usize| f(i).parse::<i32>().ok();
            let yj = f(0);
            let exists: i64 = drug_products::table.find(&yj).count().get_result(c)?;
            let hash = sha256(r.iter().collect::<Vec<_>>().join(",").as_bytes());
            if exists == 0 {
                let route = crate::domain::drug_master::Route::from_master(&f(4), &yj)
                    .ok_or_else(|| ImportError::File(format!("curated master: 区分 {}", f(4))))?;
                diesel::insert_into(drug_products::table)
                    .values((
                        drug_products::yj_code.eq(&yj),
                        drug_products::receipt_code.eq(opt(1)),
                        drug_products::general_name_code.eq(opt(2)),
                        drug_products::general_name.eq(opt(3)),
                        drug_products::category.eq(f(4)),
                        drug_products::route.eq(route.as_str()),
                        drug_products::ingredient_text.eq(f(5)),
                        drug_products::standard.eq(f(6)),
                        drug_products::name.eq(f(7)),
                        drug_products::maker.eq(f(8)),
                        drug_products::price.eq(f(9)),
                        drug_products::search_text.eq(search_text(
                            &f(7),
                            None,
                            &f(5),
                            opt(3).as_deref(),
                        )),
                        drug_products::narcotic.eq(f(10)),
                        drug_products::psychotropic.eq(f(11)),
                        drug_products::psychotropic_class.eq(opt(12)),
                        drug_products::stimulant_precursor.eq(f(13)),
                        drug_products::poison.eq(f(14)),
                        drug_products::powerful.eq(f(15)),
                        drug_products::refrigerated.eq(f(16)),
                        drug_products::storage_min_c.eq(num(17)),
                        drug_products::storage_max_c.eq(num(18)),
                        drug_products::first_edition.eq(&report.edition),
                        drug_products::last_edition.eq(&report.edition),
                        drug_products::source.eq("curated"),
                        drug_products::y_hash.eq(Some(&hash)),
                        drug_products::updated_at.eq(now),
                    ))
                    .execute(c)?;
                set_ingredients(c, &yj, &f(5), &f(7))?;
                report.added += 1;
            } else {
                // Keep what the national masters said; add only what they lack.
                diesel::update(drug_products::table.find(&yj))
                    .set((
                        drug_products::powerful.eq(f(15)),
                        drug_products::refrigerated.eq(f(16)),
                        drug_products::storage_min_c.eq(num(17)),
                        drug_products::storage_max_c.eq(num(18)),
                        drug_products::updated_at.eq(now),
                    ))
                    .execute(c)?;
                report.unchanged += 1;
            }
        }
        record_import(
            c,
            ctx,
            "curated",
            "curated_products.csv",
            &report.edition.clone(),
            &report,
        )?;
        Ok::<_, ImportError>(())
    })?;
    Ok(report)
}
