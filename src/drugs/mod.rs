//! The national drug master: products with their codes, ingredients, route and
//! regulatory and handling flags; lookup by any code a prescription may carry and
//! search by name. Delisted products stay resolvable for old prescriptions.

pub mod clinical;
pub mod curated;
pub mod import;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{drug_ingredients, drug_products};
use crate::db::DbConnection;
use crate::domain::drug_master::{is_yj_code, nfkc, Flag, Route};

/// A product.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Product {
    /// 薬価基準収載医薬品コード (YJ)
    pub yj_code: String,
    /// レセ電コード (9 digits)
    pub receipt_code: Option<String>,
    /// 一般名コード
    pub general_name_code: Option<String>,
    pub general_name: Option<String>,
    pub name: String,
    pub name_kana: Option<String>,
    /// 成分名 as listed
    pub ingredient_text: String,
    pub ingredients: Vec<String>,
    pub standard: String,
    pub category: String,
    pub route: Route,
    pub maker: String,
    pub price: String,
    pub narcotic: Flag,
    pub psychotropic: Flag,
    pub psychotropic_class: Option<String>,
    pub stimulant_precursor: Flag,
    pub poison: Flag,
    pub powerful: Flag,
    pub refrigerated: Flag,
    pub storage_min_c: Option<i32>,
    pub storage_max_c: Option<i32>,
    pub transitional_until: Option<NaiveDate>,
    pub delisted_edition: Option<String>,
}

type Row = (
    (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
    ),
    (String, String, String, String, String, String),
    (
        String,
        String,
        Option<String>,
        String,
        String,
        String,
        String,
    ),
    (Option<i32>, Option<i32>, Option<NaiveDate>, Option<String>),
);

macro_rules! product_columns {
    () => {
        (
            (
                drug_products::yj_code,
                drug_products::receipt_code,
                drug_products::general_name_code,
                drug_products::general_name,
                drug_products::name,
                drug_products::name_kana,
            ),
            (
                drug_products::ingredient_text,
                drug_products::standard,
                drug_products::category,
                drug_products::route,
                drug_products::maker,
                drug_products::price,
            ),
            (
                drug_products::narcotic,
                drug_products::psychotropic,
                drug_products::psychotropic_class,
                drug_products::stimulant_precursor,
                drug_products::poison,
                drug_products::powerful,
                drug_products::refrigerated,
            ),
            (
                drug_products::storage_min_c,
                drug_products::storage_max_c,
                drug_products::transitional_until,
                drug_products::delisted_edition,
            ),
        )
    };
}

fn to_product(r: Row, ingredients: Vec<String>) -> Product {
    let ((yj_code, receipt_code, general_name_code, general_name, name, name_kana), a, b, c) = r;
    let (ingredient_text, standard, category, route, maker, price) = a;
    let (narcotic, psychotropic, psychotropic_class, stimulant, poison, powerful, refrigerated) = b;
    let (storage_min_c, storage_max_c, transitional_until, delisted_edition) = c;
    Product {
        yj_code,
        receipt_code,
        general_name_code,
        general_name,
        name,
        name_kana,
        ingredient_text,
        ingredients,
        standard,
        category,
        route: Route::parse(&route).unwrap_or(Route::Oral),
        maker,
        price,
        narcotic: Flag::parse(&narcotic),
        psychotropic: Flag::parse(&psychotropic),
        psychotropic_class,
        stimulant_precursor: Flag::parse(&stimulant),
        poison: Flag::parse(&poison),
        powerful: Flag::parse(&powerful),
        refrigerated: Flag::parse(&refrigerated),
        storage_min_c,
        storage_max_c,
        transitional_until,
        delisted_edition,
    }
}

fn with_ingredients(conn: &mut DbConnection, rows: Vec<Row>) -> QueryResult<Vec<Product>> {
    let codes: Vec<String> = rows.iter().map(|r| r.0 .0.clone()).collect();
    let ings: Vec<(String, String)> = drug_ingredients::table
        .filter(drug_ingredients::yj_code.eq_any(&codes))
        .order((
            drug_ingredients::yj_code.asc(),
            drug_ingredients::position.asc(),
        ))
        .select((drug_ingredients::yj_code, drug_ingredients::name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine = ings
                .iter()
                .filter(|(c, _)| *c == r.0 .0)
                .map(|(_, n)| n.clone())
                .collect();
            to_product(r, mine)
        })
        .collect())
}

/// Finds products by any code a prescription may carry: a 12-character YJ /
/// 薬価基準 code, a 9-digit レセ電 code, or a 一般名コード (which may match several
/// products of the same ingredient and form).
pub fn lookup(conn: &mut DbConnection, code: &str) -> QueryResult<Vec<Product>> {
    let code = nfkc(code).to_uppercase();
    let rows: Vec<Row> = if code.len() == 9 && code.chars().all(|c| c.is_ascii_digit()) {
        drug_products::table
            .filter(drug_products::receipt_code.eq(&code))
            .select(product_columns!())
            .load(conn)?
    } else if is_yj_code(&code) {
        let by_yj: Vec<Row> = drug_products::table
            .filter(drug_products::yj_code.eq(&code))
            .select(product_columns!())
            .load(conn)?;
        if by_yj.is_empty() {
            drug_products::table
                .filter(drug_products::general_name_code.eq(&code))
                .order(drug_products::yj_code.asc())
                .select(product_columns!())
                .load(conn)?
        } else {
            by_yj
        }
    } else {
        Vec::new()
    };
    with_ingredients(conn, rows)
}

/// Searches by name, kana or ingredient (partial; full-width and half-width alike).
pub fn search(conn: &mut DbConnection, query: &str, limit: i64) -> QueryResult<Vec<Product>> {
    let q = crate::domain::text::hiragana_to_katakana(&nfkc(query));
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = drug_products::table
        .filter(
            drug_products::search_text
                .like(format!("%{}%", crate::audit::escape_like(&q)))
                .escape('\\'),
        )
        .order((
            drug_products::delisted_edition.is_not_null(),
            drug_products::name.asc(),
        ))
        .limit(limit.clamp(1, 200))
        .select(product_columns!())
        .load(conn)?;
    with_ingredients(conn, rows)
}

/// The text a product is found by: name, kana, ingredients and 一般名, normalised.
pub fn search_text(
    name: &str,
    kana: Option<&str>,
    ingredient_text: &str,
    general_name: Option<&str>,
) -> String {
    let joined = [Some(name), kana, Some(ingredient_text), general_name]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    crate::domain::text::hiragana_to_katakana(&nfkc(&joined))
}

/// Counts (products, narcotics) — for reports and tests.
pub fn counts(conn: &mut DbConnection) -> QueryResult<(i64, i64)> {
    let total = drug_products::table.count().get_result(conn)?;
    let narcotic = drug_products::table
        .filter(drug_products::narcotic.eq("yes"))
        .count()
        .get_result(conn)?;
    Ok((total, narcotic))
}

/// Loads products by YJ code in two queries (history resolution).
pub fn by_yj_codes(
    conn: &mut DbConnection,
    codes: &[String],
) -> QueryResult<std::collections::HashMap<String, Product>> {
    if codes.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<Row> = drug_products::table
        .filter(drug_products::yj_code.eq_any(codes))
        .select(product_columns!())
        .load(conn)?;
    Ok(with_ingredients(conn, rows)?
        .into_iter()
        .map(|p| (p.yj_code.clone(), p))
        .collect())
}

/// The engine's view of a product.
pub fn engine_drug(p: &Product) -> crate::domain::checks::Drug {
    clinical::RULES.drug(&p.yj_code, &p.name, p.route, &p.ingredients)
}
