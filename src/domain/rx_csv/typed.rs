//! Reading e-prescription CSV records into typed values (record table in
//! DOMAIN.md §3). Unknown record numbers are kept as they are. Refill data uses
//! record 53 (リフィル: 総使用回数, 今回の使用回数) — a project-defined mapping
//! (assumed; the official layout is vendor-only), kept here in one place.

use chrono::NaiveDate;
use serde::Serialize;

use super::{CsvError, Document, RawRecord};

/// 医療機関 (records 1-4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Institution {
    /// 1 医科, 3 歯科
    pub code_kind: String,
    pub code: String,
    pub prefecture: String,
    pub name: String,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub department: Option<String>,
}

/// 医師 (record 5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Doctor {
    pub code: String,
    pub name_kana: String,
    pub name_kanji: String,
}

/// 患者 (records 11-14).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Patient {
    pub code: String,
    pub name_kanji: String,
    pub name_kana: String,
    /// 1 男, 2 女
    pub sex: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub copay_class: Option<String>,
}

/// 保険 (records 21-25).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Insurance {
    /// 1 医保, 2 国保, 7 後期高齢者
    pub kind: Option<String>,
    pub insurer_number: Option<String>,
    pub symbol: Option<String>,
    pub number: Option<String>,
    /// 1 被保険者, 2 被扶養者
    pub relation: Option<String>,
    pub branch: Option<String>,
    pub patient_rate: Option<String>,
    pub benefit_rate: Option<String>,
    pub occupational: Option<String>,
}

/// 公費 (records 27-30).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicExpense {
    /// 1-4: 第一, 第二, 第三, 特殊
    pub order: u8,
    pub payer: String,
    pub recipient: Option<String>,
}

/// 麻薬施用 (record 60).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Narcotic {
    pub license_number: String,
    pub patient_address: String,
    pub patient_phone: String,
}

/// 備考 (record 81).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remark {
    pub seq: String,
    pub kind: String,
    pub text: String,
}

/// 用法 (records 111, 181).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub code_kind: String,
    pub code: String,
    pub name: String,
    pub times_per_day: Option<String>,
    pub supplements: Vec<String>,
}

/// 薬品 (record 201 and its 211-281 companions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Item {
    pub seq: u32,
    pub info_class: String,
    /// 薬品コード種別
    pub code_kind: String,
    pub code: String,
    pub name: String,
    pub amount: String,
    pub potency_flag: String,
    pub unit: String,
    pub conversion: Option<String>,
    pub uneven: Vec<String>,
    pub public_burden: Option<String>,
    /// 1回服用量, 1日回数
    pub per_dose: Option<(String, String)>,
    pub supplements: Vec<String>,
}

/// One RP (剤, record 101 with its usage and items).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rp {
    pub number: u32,
    /// 1 内服, 2 頓服, 3 外用, 4 内服滴剤, 5 注射, 6 医療材料
    pub form_class: String,
    pub form_name: String,
    /// 調剤数量 (days or times)
    pub quantity: u32,
    pub usage: Option<Usage>,
    pub items: Vec<Item>,
}

/// Everything read from a payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RxData {
    pub version: String,
    pub institution: Institution,
    pub doctor: Doctor,
    pub patient: Patient,
    pub insurance: Insurance,
    pub public_expenses: Vec<PublicExpense>,
    pub receipt_kind: Option<String>,
    pub issue_date: Option<NaiveDate>,
    /// 使用期限 (record 52), when the prescriber wrote one.
    pub expiry_date: Option<NaiveDate>,
    pub narcotic: Option<Narcotic>,
    pub leftover_flag: Option<String>,
    pub remarks: Vec<Remark>,
    /// 引換番号 (record 82)
    pub redemption_code: Option<String>,
    /// リフィル: (total uses, this use) — record 53, see the module doc.
    pub refill: Option<(u32, u32)>,
    pub rps: Vec<Rp>,
    pub clinical_info: Vec<Vec<String>>,
    pub lab_values: Vec<Vec<String>>,
    /// Records this reader does not know, kept as they are.
    #[serde(skip)]
    pub unknown: Vec<RawRecord>,
}

impl RxData {
    /// 「オンライン対応」 in the 備考.
    pub fn online_marked(&self) -> bool {
        self.remarks
            .iter()
            .any(|r| r.text.contains("オンライン対応"))
    }

    /// The last day the prescription may be dispensed: 使用期限, else the issue
    /// date plus three days (4 days including the issue date).
    pub fn valid_until(&self) -> Option<NaiveDate> {
        self.expiry_date
            .or_else(|| self.issue_date.map(|d| d + chrono::Duration::days(3)))
    }
}

struct At<'a> {
    r: &'a RawRecord,
    errors: &'a mut Vec<CsvError>,
}

impl At<'_> {
    fn err(&mut self, field: Option<&'static str>, message: String) {
        self.errors.push(CsvError {
            line: self.r.line,
            record: Some(self.r.number),
            field,
            message,
        });
    }

    /// Field `i` (0-based after the record number), required.
    fn req(&mut self, i: usize, name: &'static str) -> String {
        match self.r.fields.get(i).map(|s| s.trim()) {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => {
                self.err(Some(name), "required field is empty or missing".into());
                String::new()
            }
        }
    }

    fn opt(&self, i: usize) -> Option<String> {
        self.r
            .fields
            .get(i)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    fn digits(&mut self, i: usize, name: &'static str, lens: &[usize]) -> Option<String> {
        let v = self.opt(i)?;
        if v.chars().all(|c| c.is_ascii_digit()) && lens.contains(&v.len()) {
            Some(v)
        } else {
            self.err(Some(name), format!("`{v}` is not {lens:?} digits"));
            None
        }
    }

    fn one_of(&mut self, i: usize, name: &'static str, allowed: &[&str]) -> Option<String> {
        let v = self.opt(i)?;
        if allowed.contains(&v.as_str()) {
            Some(v)
        } else {
            self.err(Some(name), format!("`{v}` is not one of {allowed:?}"));
            None
        }
    }

    fn date(&mut self, i: usize, name: &'static str) -> Option<NaiveDate> {
        let v = self.opt(i)?;
        match NaiveDate::parse_from_str(&v, "%Y%m%d") {
            Ok(d) if v.len() == 8 => Some(d),
            _ => {
                self.err(Some(name), format!("`{v}` is not a yyyymmdd date"));
                None
            }
        }
    }

    fn number(&mut self, i: usize, name: &'static str) -> u32 {
        let v = self.req(i, name);
        match v.parse::<u32>() {
            Ok(n) => n,
            Err(_) if v.is_empty() => 0,
            Err(_) => {
                self.err(Some(name), format!("`{v}` is not a number"));
                0
            }
        }
    }
}

fn rp_mut<'a>(rps: &'a mut [Rp], number: u32, at: &mut At<'_>) -> Option<&'a mut Rp> {
    let found = rps.iter_mut().find(|r| r.number == number);
    if found.is_none() {
        at.err(
            Some("RP番号"),
            format!("RP {number} has no record 101 before it"),
        );
    }
    found
}

fn item_mut<'a>(rps: &'a mut [Rp], rp: u32, seq: u32, at: &mut At<'_>) -> Option<&'a mut Item> {
    let item = rp_mut(rps, rp, at)?.items.iter_mut().find(|i| i.seq == seq);
    if item.is_none() {
        at.err(
            Some("RP内連番"),
            format!("item {rp}-{seq} has no record 201 before it"),
        );
    }
    item
}

/// Reads every known record; returns all problems at once.
pub fn interpret(doc: &Document) -> Result<RxData, Vec<CsvError>> {
    let mut d = RxData {
        version: doc.header.trim().to_string(),
        ..RxData::default()
    };
    let mut errors = Vec::new();
    for r in &doc.records {
        let mut at = At {
            r,
            errors: &mut errors,
        };
        match r.number {
            1 => {
                d.institution.code_kind = at
                    .one_of(0, "医療機関コード種別", &["1", "3"])
                    .unwrap_or_default();
                d.institution.code = at.req(1, "医療機関コード");
                d.institution.prefecture = at.req(2, "都道府県コード");
                d.institution.name = at.req(3, "医療機関名称");
            }
            2 => {
                d.institution.postal_code = at.opt(0);
                d.institution.address = at.opt(1);
            }
            3 => {
                d.institution.phone = at.opt(0);
                d.institution.fax = at.opt(1);
            }
            4 => d.institution.department = at.opt(2),
            5 => {
                d.doctor = Doctor {
                    code: at.opt(0).unwrap_or_default(),
                    name_kana: at.opt(1).unwrap_or_default(),
                    name_kanji: at.req(2, "医師漢字氏名"),
                }
            }
            11 => {
                d.patient.code = at.opt(0).unwrap_or_default();
                d.patient.name_kanji = at.req(1, "患者漢字氏名");
                d.patient.name_kana = at.opt(2).unwrap_or_default();
            }
            12 => d.patient.sex = at.one_of(0, "性別", &["1", "2"]),
            13 => d.patient.birth_date = at.date(0, "生年月日"),
            14 => d.patient.copay_class = at.opt(0),
            21 => d.insurance.kind = at.one_of(0, "保険種別", &["1", "2", "7"]),
            22 => d.insurance.insurer_number = at.digits(0, "保険者番号", &[6, 8]),
            23 => {
                d.insurance.symbol = at.opt(0);
                d.insurance.number = at.opt(1);
                d.insurance.relation = at.one_of(2, "被保険者/被扶養者", &["1", "2"]);
                d.insurance.branch = at.digits(3, "枝番", &[2]);
            }
            24 => {
                d.insurance.patient_rate = at.digits(0, "患者負担率", &[3]);
                d.insurance.benefit_rate = at.digits(1, "保険給付率", &[3]);
            }
            25 => d.insurance.occupational = at.opt(0),
            27..=30 => {
                let payer = at.digits(0, "公費負担者番号", &[8]);
                let recipient = at.digits(1, "公費受給者番号", &[7]);
                if let Some(payer) = payer {
                    d.public_expenses.push(PublicExpense {
                        order: (r.number - 26) as u8,
                        payer,
                        recipient,
                    });
                }
            }
            31 => d.receipt_kind = at.opt(0),
            51 => d.issue_date = at.date(0, "処方箋交付年月日"),
            52 => d.expiry_date = at.date(0, "使用期限年月日"),
            53 => {
                let total = at.number(0, "リフィル総使用回数");
                let this = at.number(1, "リフィル今回使用回数");
                if this > total || total > 3 {
                    at.err(
                        Some("リフィル今回使用回数"),
                        format!("use {this} of {total} is not possible (at most 3 uses)"),
                    );
                }
                d.refill = Some((total, this));
            }
            60 => {
                d.narcotic = Some(Narcotic {
                    license_number: at.req(0, "麻薬施用者免許番号"),
                    patient_address: at.opt(1).unwrap_or_default(),
                    patient_phone: at.opt(2).unwrap_or_default(),
                })
            }
            62 => d.leftover_flag = at.one_of(0, "残薬確認対応フラグ", &["1", "2"]),
            81 => d.remarks.push(Remark {
                seq: at.opt(0).unwrap_or_default(),
                kind: at.opt(1).unwrap_or_default(),
                text: at.opt(2).unwrap_or_default(),
            }),
            82 => d.redemption_code = at.digits(1, "引換番号", &[6]),
            101 => {
                let number = at.number(0, "RP番号");
                let form_class = at
                    .one_of(1, "剤形区分", &["1", "2", "3", "4", "5", "6"])
                    .unwrap_or_default();
                let form_name = at.opt(2).unwrap_or_default();
                let quantity = at.number(3, "調剤数量");
                if d.rps.iter().any(|x| x.number == number) {
                    at.err(Some("RP番号"), format!("RP {number} appears twice"));
                }
                d.rps.push(Rp {
                    number,
                    form_class,
                    form_name,
                    quantity,
                    ..Rp::default()
                });
            }
            111 => {
                let rp = at.number(0, "RP番号");
                let usage = Usage {
                    code_kind: at.opt(1).unwrap_or_default(),
                    code: at.opt(2).unwrap_or_default(),
                    name: at.req(3, "用法名称"),
                    times_per_day: at.opt(4),
                    supplements: Vec::new(),
                };
                if let Some(x) = rp_mut(&mut d.rps, rp, &mut at) {
                    x.usage = Some(usage);
                }
            }
            181 => {
                let rp = at.number(0, "RP番号");
                let text = r.fields.last().cloned().unwrap_or_default();
                if let Some(x) = rp_mut(&mut d.rps, rp, &mut at) {
                    x.usage
                        .get_or_insert_with(Usage::default)
                        .supplements
                        .push(text);
                }
            }
            201 => {
                let rp = at.number(0, "RP番号");
                let item = Item {
                    seq: at.number(1, "RP内連番"),
                    info_class: at.opt(2).unwrap_or_default(),
                    code_kind: at.opt(3).unwrap_or_default(),
                    code: at.req(4, "薬品コード"),
                    name: at.req(5, "薬品名称"),
                    amount: at.req(6, "分量"),
                    potency_flag: at.opt(7).unwrap_or_default(),
                    unit: at.opt(8).unwrap_or_default(),
                    ..Item::default()
                };
                if let Some(x) = rp_mut(&mut d.rps, rp, &mut at) {
                    x.items.push(item);
                }
            }
            211 | 221 | 231 | 241 | 281 => {
                let rp = at.number(0, "RP番号");
                let seq = at.number(1, "RP内連番");
                let rest: Vec<String> = r.fields.iter().skip(2).cloned().collect();
                if let Some(item) = item_mut(&mut d.rps, rp, seq, &mut at) {
                    match r.number {
                        211 => item.conversion = rest.first().cloned(),
                        221 => item.uneven = rest,
                        231 => item.public_burden = rest.first().cloned(),
                        241 => {
                            item.per_dose = Some((
                                rest.first().cloned().unwrap_or_default(),
                                rest.get(1).cloned().unwrap_or_default(),
                            ))
                        }
                        _ => item
                            .supplements
                            .push(rest.last().cloned().unwrap_or_default()),
                    }
                }
            }
            301 => d.clinical_info.push(r.fields.clone()),
            302 => d.lab_values.push(r.fields.clone()),
            _ => d.unknown.push(r.clone()),
        }
    }
    for (i, required) in [
        (1u16, "医療機関 (record 1)"),
        (5, "医師 (record 5)"),
        (11, "患者 (record 11)"),
        (51, "処方箋交付年月日 (record 51)"),
    ] {
        if !doc.records.iter().any(|r| r.number == i) {
            errors.push(CsvError {
                line: doc.records.last().map(|r| r.line).unwrap_or(1),
                record: Some(i),
                field: None,
                message: format!("{required} is missing"),
            });
        }
    }
    if d.rps.is_empty() {
        errors.push(CsvError {
            line: doc.records.last().map(|r| r.line).unwrap_or(1),
            record: Some(101),
            field: None,
            message: "no RP (record 101)".into(),
        });
    }
    for rp in &d.rps {
        if rp.items.is_empty() {
            errors.push(CsvError {
                line: doc
                    .records
                    .iter()
                    .find(|r| {
                        r.number == 101
                            && r.fields.first().map(|f| f.trim()) == Some(&rp.number.to_string())
                    })
                    .map(|r| r.line)
                    .unwrap_or(1),
                record: Some(101),
                field: None,
                message: format!("RP {} has no drug (record 201)", rp.number),
            });
        }
    }
    if errors.is_empty() {
        Ok(d)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}
