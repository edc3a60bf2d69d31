//! Reading the national drug master files (pure): the MHLW 薬価基準収載品目リスト
//! (CSV with a header; UTF-8 or CP932) and the SSK レセ電 医薬品マスター ("y master":
//! CP932, no header). Text is NFKC-normalised; each malformed row becomes an error
//! naming its line, and the valid rows still come through.

use chrono::NaiveDate;
use ring::digest::{digest, SHA256};
use unicode_normalization::UnicodeNormalization;

/// A regulatory or handling property: known yes, known no, or not known. Unknown
/// is never treated as no.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    Yes,
    No,
    Unknown,
}

impl Flag {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Yes => "yes",
            Flag::No => "no",
            Flag::Unknown => "unknown",
        }
    }

    /// Parses a stored value; anything else is unknown.
    pub fn parse(s: &str) -> Flag {
        match s {
            "yes" => Flag::Yes,
            "no" => Flag::No,
            _ => Flag::Unknown,
        }
    }
}

/// 投与経路 as far as the master tells it (from 区分).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// 内用薬
    Oral,
    /// 注射薬
    Injection,
    /// 外用薬
    External,
    /// 歯科用薬剤
    Dental,
    /// 坐剤 (外用薬 whose YJ code marks a suppository): absorbed systemically.
    Rectal,
}

impl Route {
    /// From the MHLW 区分.
    pub fn from_category(c: &str) -> Option<Route> {
        match c {
            "内用薬" => Some(Route::Oral),
            "注射薬" => Some(Route::Injection),
            "外用薬" => Some(Route::External),
            "歯科用薬剤" => Some(Route::Dental),
            _ => None,
        }
    }

    /// From 区分 and the dosage form in the YJ code (8th character `J`: 坐剤).
    pub fn from_master(category: &str, yj_code: &str) -> Option<Route> {
        let route = Route::from_category(category)?;
        if route == Route::External && yj_code.chars().nth(7) == Some('J') {
            return Some(Route::Rectal);
        }
        Some(route)
    }

    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Oral => "oral",
            Route::Injection => "injection",
            Route::External => "external",
            Route::Dental => "dental",
            Route::Rectal => "rectal",
        }
    }

    /// Parses a stored value.
    pub fn parse(s: &str) -> Option<Route> {
        match s {
            "oral" => Some(Route::Oral),
            "injection" => Some(Route::Injection),
            "external" => Some(Route::External),
            "dental" => Some(Route::Dental),
            "rectal" => Some(Route::Rectal),
            _ => None,
        }
    }
}

/// NFKC and trimmed.
pub fn nfkc(s: &str) -> String {
    s.nfkc().collect::<String>().trim().to_string()
}

/// Decodes a master file: UTF-8 (with or without BOM) when valid, else CP932
/// (Shift_JIS). Returns the text and the encoding's name.
pub fn decode(bytes: &[u8]) -> (String, &'static str) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), "UTF-8"),
        Err(_) => {
            let (text, _, _) = encoding_rs::SHIFT_JIS.decode(bytes);
            (text.into_owned(), "CP932")
        }
    }
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// One product of the MHLW list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MhlwRow {
    pub line: usize,
    pub category: String,
    pub route: Route,
    pub yj_code: String,
    pub ingredient_text: String,
    pub standard: String,
    pub narcotic: bool,
    pub name: String,
    pub maker: String,
    pub price: String,
    pub transitional_until: Option<NaiveDate>,
    /// SHA-256 over the fields above: unchanged rows are skipped on re-import.
    pub hash: String,
}

fn hash_fields(fields: &[&str]) -> String {
    hex::encode(digest(&SHA256, fields.join("\u{1f}").as_bytes()).as_ref())
}

/// Whether `code` looks like a 薬価基準収載医薬品コード / YJ code: 12 ASCII
/// alphanumerics starting with four digits.
pub fn is_yj_code(code: &str) -> bool {
    code.len() == 12
        && code.chars().all(|c| c.is_ascii_alphanumeric())
        && code[..4].chars().all(|c| c.is_ascii_digit())
}

/// A 和暦 date such as `R8.3.31まで` or `H31.3.31`.
pub fn parse_wareki(s: &str) -> Option<NaiveDate> {
    let s = nfkc(s).replace("まで", "");
    let s = s.trim();
    let (era, rest) = s.split_at(s.char_indices().nth(1)?.0);
    let base = match era {
        "R" | "令" => 2018,
        "H" | "平" => 1988,
        _ => return None,
    };
    let mut parts = rest.split(['.', '/', '-']);
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    NaiveDate::from_ymd_opt(base + y, m, d)
}

fn records(text: &str, has_headers: bool) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(has_headers)
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// Parses the MHLW list (columns found by their header names).
pub fn parse_mhlw(text: &str) -> Result<(Vec<MhlwRow>, Vec<RowError>), String> {
    let mut rdr = records(text, true);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("cannot read the header: {e}"))?
        .iter()
        .map(nfkc)
        .collect();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("column `{name}` missing from the header"))
    };
    let (c_cat, c_yj, c_ing, c_std, c_narc, c_name, c_maker, c_price, c_trans) = (
        col("区分")?,
        col("薬価基準収載医薬品コード")?,
        col("成分名")?,
        col("規格")?,
        col("麻薬")?,
        col("品名")?,
        col("メーカー名")?,
        col("薬価")?,
        col("経過措置による使用期限")?,
    );
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line,
                    message: format!("unreadable CSV: {e}"),
                });
                continue;
            }
        };
        let get = |c: usize| rec.get(c).map(nfkc).unwrap_or_default();
        if rec.len() < headers.len() {
            errors.push(RowError {
                line,
                message: format!("{} fields, expected {}", rec.len(), headers.len()),
            });
            continue;
        }
        let category = get(c_cat);
        let yj_code = get(c_yj);
        let Some(route) = Route::from_master(&category, &yj_code) else {
            errors.push(RowError {
                line,
                message: format!("unknown 区分 `{category}`"),
            });
            continue;
        };
        if !is_yj_code(&yj_code) {
            errors.push(RowError {
                line,
                message: format!("invalid 薬価基準収載医薬品コード `{yj_code}`"),
            });
            continue;
        }
        let name = get(c_name);
        let ingredient_text = get(c_ing);
        if name.is_empty() || ingredient_text.is_empty() {
            errors.push(RowError {
                line,
                message: "品名 or 成分名 is empty".into(),
            });
            continue;
        }
        let price = get(c_price);
        if price.parse::<f64>().is_err() {
            errors.push(RowError {
                line,
                message: format!("invalid 薬価 `{price}`"),
            });
            continue;
        }
        let narcotic_field = get(c_narc);
        let trans = get(c_trans);
        let transitional_until = if trans.is_empty() {
            None
        } else {
            match parse_wareki(&trans) {
                Some(d) => Some(d),
                None => {
                    errors.push(RowError {
                        line,
                        message: format!("invalid 経過措置による使用期限 `{trans}`"),
                    });
                    continue;
                }
            }
        };
        let standard = get(c_std);
        let maker = get(c_maker);
        let hash = hash_fields(&[
            &category,
            &yj_code,
            &ingredient_text,
            &standard,
            &narcotic_field,
            &name,
            &maker,
            &price,
            &trans,
        ]);
        rows.push(MhlwRow {
            line,
            category,
            route,
            narcotic: narcotic_field == "麻",
            yj_code,
            ingredient_text,
            standard,
            name,
            maker,
            price,
            transitional_until,
            hash,
        });
    }
    Ok((rows, errors))
}

/// 麻薬・毒薬・覚醒剤原料・向精神薬 (y master column 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlClass {
    None,
    Narcotic,
    Poison,
    StimulantPrecursor,
    Psychotropic,
}

/// One product of the y master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YRow {
    pub line: usize,
    pub receipt_code: String,
    pub name: String,
    pub name_kana: String,
    pub control: ControlClass,
    pub yj_code: Option<String>,
    pub general_name_code: Option<String>,
    pub general_name: Option<String>,
    pub hash: String,
}

/// Parses the y master (42 columns, no header; a header line, as in the shared
/// sample, is recognised and skipped).
pub fn parse_y_master(text: &str) -> (Vec<YRow>, Vec<RowError>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, rec) in records(text, false).records().enumerate() {
        let line = i + 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line,
                    message: format!("unreadable CSV: {e}"),
                });
                continue;
            }
        };
        let get = |n: usize| rec.get(n - 1).map(nfkc).unwrap_or_default();
        if line == 1 && !get(1).chars().all(|c| c.is_ascii_digit()) {
            continue; // a header line
        }
        if rec.len() < 38 {
            errors.push(RowError {
                line,
                message: format!("{} fields, expected at least 38", rec.len()),
            });
            continue;
        }
        if get(2) != "Y" {
            errors.push(RowError {
                line,
                message: format!("マスター種別 `{}` is not Y", get(2)),
            });
            continue;
        }
        let receipt_code = get(3);
        if receipt_code.len() != 9 || !receipt_code.chars().all(|c| c.is_ascii_digit()) {
            errors.push(RowError {
                line,
                message: format!("invalid 医薬品コード `{receipt_code}`"),
            });
            continue;
        }
        let control = match get(14).as_str() {
            "0" => ControlClass::None,
            "1" => ControlClass::Narcotic,
            "2" => ControlClass::Poison,
            "3" => ControlClass::StimulantPrecursor,
            "5" => ControlClass::Psychotropic,
            other => {
                errors.push(RowError {
                    line,
                    message: format!("unknown 麻薬・毒薬・覚醒剤原料・向精神薬 code `{other}`"),
                });
                continue;
            }
        };
        let opt = |s: String| Some(s).filter(|v| !v.is_empty() && v != "0");
        let yj_code = opt(get(32));
        if let Some(y) = &yj_code {
            if !is_yj_code(y) {
                errors.push(RowError {
                    line,
                    message: format!("invalid 薬価基準収載医薬品コード `{y}`"),
                });
                continue;
            }
        }
        let fields: Vec<String> = (1..=rec.len()).map(get).collect();
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        rows.push(YRow {
            line,
            name: get(5),
            name_kana: get(7),
            control,
            yj_code,
            general_name_code: opt(get(37)),
            general_name: opt(get(38)),
            hash: hash_fields(&refs),
            receipt_code,
        });
    }
    (rows, errors)
}

/// Splits a 成分名 into ingredients on 「・」 (combination products).
pub fn split_ingredients(ingredient_text: &str) -> Vec<String> {
    nfkc(ingredient_text)
        .split('・')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MHLW: &str = "区分,薬価基準収載医薬品コード,成分名,規格,日本薬局方,麻薬,業者名追記,品名,メーカー名,診療報酬において加算等の算定対象となる後発医薬品,先発医薬品,同一剤形・規格の後発医薬品がある先発医薬品,薬価,経過措置による使用期限,備考
内用薬,2325003B1022,ファモチジン,１０％１ｇ,,,,ガスター散１０％,ＬＴＬファーマ,,先発品,,25.5,,
内用薬,8114004G3020,モルヒネ硫酸塩水和物,６０ｍｇ１錠,,麻,,ＭＳコンチン錠６０ｍｇ,シオノギファーマ,,,,1288.1,,
内用薬,NOT-A-CODE,壊れた行,,,,,x,,,,,1,,
注射薬,3332001X1000,ワルファリンカリウム,1mg,,,,テスト,,,,,abc,,
内用薬,1180107D1131,非ピリン系感冒剤,１ｇ,,,,ＰＬ配合顆粒,シオノギファーマ,,,,6.5,R8.3.31まで,
";

    #[test]
    fn mhlw_rows_are_normalised_and_bad_rows_named_by_line() {
        let (rows, errors) = parse_mhlw(MHLW).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].standard, "10%1g");
        assert_eq!(rows[0].name, "ガスター散10%");
        assert_eq!(rows[0].route, Route::Oral);
        assert!(rows[1].narcotic && !rows[0].narcotic);
        assert_eq!(
            rows[2].transitional_until,
            NaiveDate::from_ymd_opt(2026, 3, 31)
        );
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].line, 4);
        assert!(errors[0].message.contains("NOT-A-CODE"));
        assert_eq!(errors[1].line, 5);
        assert!(errors[1].message.contains("薬価"));
    }

    #[test]
    fn cp932_is_detected() {
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(MHLW);
        let (text, enc) = decode(&bytes);
        assert_eq!(enc, "CP932");
        assert_eq!(parse_mhlw(&text).unwrap().0.len(), 3);
        assert_eq!(decode(MHLW.as_bytes()).1, "UTF-8");
    }

    #[test]
    fn a_missing_column_is_a_file_error() {
        assert!(parse_mhlw("区分,品名\n内用薬,x\n")
            .unwrap_err()
            .contains("薬価基準収載医薬品コード"));
    }

    #[test]
    fn y_master_rows_carry_codes_and_control_class() {
        let sample = "0,Y,610406079,7,ガスター散２％,09,ｶﾞｽﾀｰｻﾝ2%,33,1,ｇ,1,9.50,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,1,,20260401,99999999,2325003B2029,001413000,0,ガスター散２％,0,2325003B2ZZZ,【般】ファモチジン散２％,2,0,0,1
0,Y,610406378,11,ＭＳコンチン錠６０ｍｇ,14,MSｺﾝﾁﾝｼﾞｮｳ60MG,16,1,錠,1,1288.10,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,1,,20260401,99999999,8114004G3020,001068000,0,ＭＳコンチン錠６０ｍｇ,0,,,0,0,0,0
0,Y,12345,x
0,Y,610406387,10,ハイペン錠１００ｍｇ,14,ﾊｲﾍﾟﾝ,16,1,錠,1,6.80,0,9,0,0,0,0,0,0,0,0,0,0,0,0,0,1,,20260401,99999999,1149032F1027,004457000,0,ハイペン,0,,,2,0,0,1
";
        let (rows, errors) = parse_y_master(sample);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].receipt_code, "610406079");
        assert_eq!(rows[0].name_kana, "ガスターサン2%");
        assert_eq!(rows[0].general_name_code.as_deref(), Some("2325003B2ZZZ"));
        assert_eq!(rows[1].control, ControlClass::Narcotic);
        assert_eq!(rows[1].general_name_code, None);
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn suppositories_are_rectal() {
        assert_eq!(
            Route::from_master("外用薬", "1147700J1040"),
            Some(Route::Rectal)
        );
        assert_eq!(
            Route::from_master("外用薬", "1147700S1040"),
            Some(Route::External)
        );
        assert_eq!(
            Route::from_master("内用薬", "1147002F1040"),
            Some(Route::Oral)
        );
    }

    #[test]
    fn ingredients_split_and_wareki_dates() {
        assert_eq!(
            split_ingredients("サリチルアミド・アセトアミノフェン･無水カフェイン"),
            ["サリチルアミド", "アセトアミノフェン", "無水カフェイン"]
        );
        assert_eq!(
            parse_wareki("H31.3.31"),
            NaiveDate::from_ymd_opt(2019, 3, 31)
        );
        assert_eq!(parse_wareki("someday"), None);
    }
}
