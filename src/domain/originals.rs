//! Originals of copy-based prescriptions (処方箋原本): the fields compared between
//! the copy that was dispensed and the original that arrived by mail, the
//! reconciliation state machine, due and escalation dates, retention, and what
//! blocks the handover of a narcotic dispensed from a copy.

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

use super::rx_csv::RxData;

/// One item as written on a prescription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RxItemFields {
    pub rp: i32,
    pub drug_code: String,
    pub drug_name: String,
    /// 用量 as written, e.g. `1錠`.
    pub dose: String,
    /// 用法
    pub usage: String,
    pub days: i32,
}

/// What a prescription says, field by field (the copy's side is recorded at
/// transcription; the original's when it is registered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RxFields {
    /// 患者氏名
    pub patient_name: String,
    /// 生年月日 (YYYY-MM-DD)
    pub patient_birth_date: String,
    /// 保険者番号
    pub insurer_number: String,
    /// 記号
    pub insured_symbol: String,
    /// 番号
    pub insured_number: String,
    /// 医療機関コード
    pub institution_code: String,
    /// 医療機関名
    pub institution_name: String,
    /// 処方医
    pub prescriber_name: String,
    /// 交付年月日 (YYYY-MM-DD)
    pub issue_date: String,
    /// 備考
    pub remarks: String,
    pub items: Vec<RxItemFields>,
}

impl RxFields {
    /// From a 2D symbol / e-prescription CSV.
    pub fn from_rx(data: &RxData) -> RxFields {
        let mut items = Vec::new();
        for rp in &data.rps {
            let usage = rp
                .usage
                .as_ref()
                .map(|u| u.name.clone())
                .unwrap_or_default();
            for it in &rp.items {
                items.push(RxItemFields {
                    rp: rp.number as i32,
                    drug_code: it.code.clone(),
                    drug_name: it.name.clone(),
                    dose: format!("{}{}", it.amount, it.unit),
                    usage: usage.clone(),
                    days: rp.quantity.max(1) as i32,
                });
            }
        }
        RxFields {
            patient_name: data.patient.name_kanji.clone(),
            patient_birth_date: data
                .patient
                .birth_date
                .map(|d| d.to_string())
                .unwrap_or_default(),
            insurer_number: data.insurance.insurer_number.clone().unwrap_or_default(),
            insured_symbol: data.insurance.symbol.clone().unwrap_or_default(),
            insured_number: data.insurance.number.clone().unwrap_or_default(),
            institution_code: data.institution.code.clone(),
            institution_name: data.institution.name.clone(),
            prescriber_name: data.doctor.name_kanji.clone(),
            issue_date: data.issue_date.map(|d| d.to_string()).unwrap_or_default(),
            remarks: data
                .remarks
                .iter()
                .map(|r| r.text.clone())
                .collect::<Vec<_>>()
                .join("\n"),
            items,
        }
    }
}

impl RxFields {
    /// Every field with its label, `items` item rows (empty beyond this side's
    /// items) so that two sides line up for a side-by-side display.
    pub fn labeled(&self, items: usize) -> Vec<(String, String)> {
        let mut out = vec![
            ("患者氏名".to_string(), self.patient_name.clone()),
            ("生年月日".into(), self.patient_birth_date.clone()),
            ("保険者番号".into(), self.insurer_number.clone()),
            ("記号".into(), self.insured_symbol.clone()),
            ("番号".into(), self.insured_number.clone()),
            ("医療機関コード".into(), self.institution_code.clone()),
            ("医療機関名".into(), self.institution_name.clone()),
            ("処方医".into(), self.prescriber_name.clone()),
            ("交付年月日".into(), self.issue_date.clone()),
            ("備考".into(), self.remarks.clone()),
        ];
        for i in 0..items {
            let it = self.items.get(i);
            let v = |f: &dyn Fn(&RxItemFields) -> String| it.map(f).unwrap_or_default();
            out.push((
                format!("薬品{} 薬品", i + 1),
                v(&|x| format!("{} {}", x.drug_code, x.drug_name)),
            ));
            out.push((format!("薬品{} 用量", i + 1), v(&|x| x.dose.clone())));
            out.push((format!("薬品{} 用法", i + 1), v(&|x| x.usage.clone())));
            out.push((format!("薬品{} 日数", i + 1), v(&|x| x.days.to_string())));
        }
        out
    }
}

/// One field that differs between the copy and the original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Difference {
    /// Machine name, e.g. `items[1].dose`.
    pub field: String,
    /// Label for staff, e.g. `RP1 薬品2 用量`.
    pub label: String,
    pub copy: String,
    pub original: String,
}

/// Compares for equality: NFKC, no spaces, no hyphens (a full-width 「１錠」 and 「1錠」
/// are the same; 「1錠」 and 「2錠」 are not).
fn norm(s: &str) -> String {
    s.nfkc()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | 'ー' | '‐'))
        .collect()
}

/// Every field that differs. `same_drug` decides whether two drug codes name the
/// same product (e.g. a YJ code and a レセ電 code of one product).
pub fn compare(
    copy: &RxFields,
    original: &RxFields,
    same_drug: impl Fn(&str, &str) -> bool,
) -> Vec<Difference> {
    fn field(out: &mut Vec<Difference>, name: &str, label: &str, a: &str, b: &str) {
        if norm(a) != norm(b) {
            out.push(Difference {
                field: name.into(),
                label: label.into(),
                copy: a.into(),
                original: b.into(),
            });
        }
    }
    let mut out = Vec::new();
    field(
        &mut out,
        "patient_name",
        "患者氏名",
        &copy.patient_name,
        &original.patient_name,
    );
    field(
        &mut out,
        "patient_birth_date",
        "生年月日",
        &copy.patient_birth_date,
        &original.patient_birth_date,
    );
    field(
        &mut out,
        "insurer_number",
        "保険者番号",
        &copy.insurer_number,
        &original.insurer_number,
    );
    field(
        &mut out,
        "insured_symbol",
        "記号",
        &copy.insured_symbol,
        &original.insured_symbol,
    );
    field(
        &mut out,
        "insured_number",
        "番号",
        &copy.insured_number,
        &original.insured_number,
    );
    field(
        &mut out,
        "institution_code",
        "医療機関コード",
        &copy.institution_code,
        &original.institution_code,
    );
    field(
        &mut out,
        "institution_name",
        "医療機関名",
        &copy.institution_name,
        &original.institution_name,
    );
    field(
        &mut out,
        "prescriber_name",
        "処方医",
        &copy.prescriber_name,
        &original.prescriber_name,
    );
    field(
        &mut out,
        "issue_date",
        "交付年月日",
        &copy.issue_date,
        &original.issue_date,
    );
    field(
        &mut out,
        "remarks",
        "備考",
        &copy.remarks,
        &original.remarks,
    );
    let n = copy.items.len().max(original.items.len());
    for i in 0..n {
        let label = |what: &str| format!("薬品{} {what}", i + 1);
        match (copy.items.get(i), original.items.get(i)) {
            (Some(a), Some(b)) => {
                let drug_same = norm(&a.drug_code) == norm(&b.drug_code)
                    || same_drug(&a.drug_code, &b.drug_code);
                if !drug_same {
                    out.push(Difference {
                        field: format!("items[{i}].drug"),
                        label: label("薬品"),
                        copy: format!("{} {}", a.drug_code, a.drug_name),
                        original: format!("{} {}", b.drug_code, b.drug_name),
                    });
                }
                field(
                    &mut out,
                    &format!("items[{i}].dose"),
                    &label("用量"),
                    &a.dose,
                    &b.dose,
                );
                field(
                    &mut out,
                    &format!("items[{i}].usage"),
                    &label("用法"),
                    &a.usage,
                    &b.usage,
                );
                field(
                    &mut out,
                    &format!("items[{i}].days"),
                    &label("日数"),
                    &a.days.to_string(),
                    &b.days.to_string(),
                );
            }
            (Some(a), None) => out.push(Difference {
                field: format!("items[{i}]"),
                label: label("（原本にない）"),
                copy: format!("{} {} {} {}日", a.drug_name, a.dose, a.usage, a.days),
                original: String::new(),
            }),
            (None, Some(b)) => out.push(Difference {
                field: format!("items[{i}]"),
                label: label("（写しにない）"),
                copy: String::new(),
                original: format!("{} {} {} {}日", b.drug_name, b.dose, b.usage, b.days),
            }),
            (None, None) => {}
        }
    }
    out
}

/// Where an original stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OriginalState {
    /// 原本待ち
    Awaiting,
    /// 原本受領・一致 (passes straight on to reconciled)
    Matching,
    /// 原本受領・相違あり: a pharmacist must resolve each difference
    Discrepancies,
    /// 照合済み
    Reconciled,
}

impl OriginalState {
    /// From the stored text.
    pub fn parse(s: &str) -> Option<OriginalState> {
        Some(match s {
            "awaiting" => OriginalState::Awaiting,
            "matching" => OriginalState::Matching,
            "discrepancies" => OriginalState::Discrepancies,
            "reconciled" => OriginalState::Reconciled,
            _ => return None,
        })
    }

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            OriginalState::Awaiting => "awaiting",
            OriginalState::Matching => "matching",
            OriginalState::Discrepancies => "discrepancies",
            OriginalState::Reconciled => "reconciled",
        }
    }

    /// For staff.
    pub fn label(self) -> &'static str {
        match self {
            OriginalState::Awaiting => "原本待ち",
            OriginalState::Matching => "原本受領・一致",
            OriginalState::Discrepancies => "原本受領・相違あり",
            OriginalState::Reconciled => "照合済み",
        }
    }

    /// Whether the paper original is at the pharmacy.
    pub fn received(self) -> bool {
        self != OriginalState::Awaiting
    }

    /// The state after the original is registered with `differences` found: an
    /// exact match is reconciled at once. Only an awaited original can be registered.
    pub fn on_registered(self, differences: usize) -> Result<OriginalState, String> {
        match self {
            OriginalState::Awaiting if differences == 0 => Ok(OriginalState::Reconciled),
            OriginalState::Awaiting => Ok(OriginalState::Discrepancies),
            other => Err(format!(
                "原本は登録済みです（{}） (original already registered)",
                other.label()
            )),
        }
    }

    /// The state after a difference is resolved with `open_left` still open.
    pub fn on_resolved(self, open_left: usize) -> Result<OriginalState, String> {
        match self {
            OriginalState::Discrepancies if open_left == 0 => Ok(OriginalState::Reconciled),
            OriginalState::Discrepancies => Ok(OriginalState::Discrepancies),
            other => Err(format!(
                "解決する相違はありません（{}） (no discrepancy to resolve)",
                other.label()
            )),
        }
    }
}

/// When an original is due and overdue (DOMAIN.md §2; days configurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginalPolicy {
    /// Overdue this many days after dispensing (default 7).
    pub due_days: i64,
    /// Escalated this many days after dispensing (default 14).
    pub escalate_days: i64,
    /// A clinic is asked again about the same prescription after this many days.
    pub repeat_days: i64,
}

impl Default for OriginalPolicy {
    fn default() -> Self {
        OriginalPolicy {
            due_days: 7,
            escalate_days: 14,
            repeat_days: 7,
        }
    }
}

impl OriginalPolicy {
    /// (due, escalation) dates for a prescription dispensed on `dispensed_on`.
    pub fn dates(&self, dispensed_on: NaiveDate) -> (NaiveDate, NaiveDate) {
        (
            dispensed_on + Duration::days(self.due_days),
            dispensed_on + Duration::days(self.escalate_days),
        )
    }

    /// Whether the clinic should be asked (again) today: overdue, and not asked
    /// within `repeat_days`, or escalated since the last request.
    pub fn should_request(
        &self,
        due_on: NaiveDate,
        escalate_on: NaiveDate,
        last_requested_on: Option<NaiveDate>,
        today: NaiveDate,
    ) -> bool {
        if today <= due_on {
            return false;
        }
        match last_requested_on {
            None => true,
            Some(last) => {
                (today - last).num_days() >= self.repeat_days
                    || (today > escalate_on && last <= escalate_on)
            }
        }
    }
}

/// How overdue an awaited original is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overdue {
    /// Not dispensed yet, or within the due days.
    No,
    /// Past the due date.
    Overdue,
    /// Past the escalation date.
    Escalated,
}

/// The overdue level of an original in `state`.
pub fn overdue(
    state: OriginalState,
    due_on: Option<NaiveDate>,
    escalate_on: Option<NaiveDate>,
    today: NaiveDate,
) -> Overdue {
    if state != OriginalState::Awaiting {
        return Overdue::No;
    }
    match (due_on, escalate_on) {
        (_, Some(e)) if today > e => Overdue::Escalated,
        (Some(d), _) if today > d => Overdue::Overdue,
        _ => Overdue::No,
    }
}

/// Keep the original until: 3 years after dispensing, 5 for 公費 patients
/// (DOMAIN.md §8). 29 February falls back to 28 February.
pub fn retention_until(dispensed_on: NaiveDate, public_expense: bool) -> NaiveDate {
    let years = if public_expense { 5 } else { 3 };
    let y = dispensed_on.year() + years;
    dispensed_on
        .with_year(y)
        .or_else(|| NaiveDate::from_ymd_opt(y, dispensed_on.month(), 28))
        .unwrap_or(dispensed_on)
}

/// What stops a copy-based prescription from being handed over (交付): a narcotic
/// (or a product whose narcotic flag is unknown) before its original arrives or
/// while the original's differences are open.
pub fn handover_blockers(
    narcotic: bool,
    narcotic_reason: &str,
    state: OriginalState,
    open_discrepancies: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    if narcotic && !state.received() {
        out.push(format!(
            "原本を受領するまで交付できません（{narcotic_reason}） (handover blocked until the original is received)"
        ));
    }
    if narcotic && open_discrepancies > 0 {
        out.push(format!(
            "原本との相違が{open_discrepancies}件未解決です (open discrepancies with the original)"
        ));
    }
    out
}

const KANA_INITIALS: &[(&str, char)] = &[
    ("アイウエオァィゥェォヴ", 'A'),
    ("カキクケコ", 'K'),
    ("ガギグゲゴ", 'G'),
    ("サスセソ", 'S'),
    ("シ", 'S'),
    ("ザズゼゾ", 'Z'),
    ("ジヂ", 'J'),
    ("タテト", 'T'),
    ("チ", 'C'),
    ("ツ", 'T'),
    ("ダデド", 'D'),
    ("ナニヌネノ", 'N'),
    ("ハヒヘホ", 'H'),
    ("フ", 'F'),
    ("バビブベボ", 'B'),
    ("パピプペポ", 'P'),
    ("マミムメモ", 'M'),
    ("ヤユヨャュョ", 'Y'),
    ("ラリルレロ", 'R'),
    ("ワヲ", 'W'),
    ("ン", 'N'),
];

/// Romaji initials of a kana name (family and given), e.g. 「ヤマダ タロウ」 → `Y.T.`,
/// used where a clinic must recognise a patient without being told the name.
pub fn initials(name_kana: &str) -> String {
    let n: String = name_kana.nfkc().collect();
    n.split(|c: char| c.is_whitespace() || c == '　')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.chars().next())
        .map(|c| {
            // Hiragana to katakana: the tables are in katakana.
            let c = if ('ぁ'..='ゖ').contains(&c) {
                char::from_u32(c as u32 + 0x60).unwrap_or(c)
            } else {
                c
            };
            let letter = KANA_INITIALS
                .iter()
                .find(|(set, _)| set.contains(c))
                .map(|(_, l)| *l)
                .unwrap_or_else(|| c.to_ascii_uppercase());
            format!("{letter}.")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn fields() -> RxFields {
        RxFields {
            patient_name: "山田 太郎".into(),
            patient_birth_date: "1960-01-02".into(),
            insurer_number: "06130012".into(),
            insured_symbol: "12".into(),
            insured_number: "345".into(),
            institution_code: "1312345678".into(),
            institution_name: "テストクリニック".into(),
            prescriber_name: "佐藤 一郎".into(),
            issue_date: "2026-11-20".into(),
            remarks: "オンライン対応".into(),
            items: vec![RxItemFields {
                rp: 1,
                drug_code: "2149039F1020".into(),
                drug_name: "アムロジピン錠5mg".into(),
                dose: "1錠".into(),
                usage: "1日1回朝食後".into(),
                days: 28,
            }],
        }
    }

    #[test]
    fn identical_and_width_variants_match() {
        let a = fields();
        let mut b = fields();
        b.items[0].dose = "１錠".into();
        b.patient_name = "山田　太郎".into();
        assert!(compare(&a, &b, |_, _| false).is_empty());
    }

    #[test]
    fn a_changed_dose_is_one_difference() {
        let a = fields();
        let mut b = fields();
        b.items[0].dose = "2錠".into();
        let diff = compare(&a, &b, |_, _| false);
        assert_eq!(diff.len(), 1);
        assert_eq!(diff[0].field, "items[0].dose");
        assert_eq!(
            (diff[0].copy.as_str(), diff[0].original.as_str()),
            ("1錠", "2錠")
        );
    }

    #[test]
    fn drug_codes_compare_through_the_resolver_and_extra_items_show() {
        let a = fields();
        let mut b = fields();
        b.items[0].drug_code = "620000001".into();
        assert!(compare(&a, &b, |x, y| x.starts_with("2149") && y == "620000001").is_empty());
        assert_eq!(compare(&a, &b, |_, _| false)[0].field, "items[0].drug");
        b.items.push(a.items[0].clone());
        let diff = compare(&a, &b, |_, _| true);
        assert_eq!(diff.len(), 1);
        assert_eq!(diff[0].field, "items[1]");
        assert!(diff[0].copy.is_empty());
    }

    #[test]
    fn every_header_field_is_compared() {
        let a = fields();
        let mut b = fields();
        b.patient_birth_date = "1960-01-03".into();
        b.insured_number = "346".into();
        b.prescriber_name = "佐藤 二郎".into();
        b.issue_date = "2026-11-19".into();
        b.remarks = String::new();
        let names: Vec<String> = compare(&a, &b, |_, _| false)
            .into_iter()
            .map(|x| x.field)
            .collect();
        assert_eq!(
            names,
            [
                "patient_birth_date",
                "insured_number",
                "prescriber_name",
                "issue_date",
                "remarks"
            ]
        );
    }

    #[test]
    fn state_machine() {
        use OriginalState::*;
        assert_eq!(Awaiting.on_registered(0), Ok(Reconciled));
        assert_eq!(Awaiting.on_registered(2), Ok(Discrepancies));
        assert!(Reconciled.on_registered(0).is_err());
        assert!(Discrepancies.on_registered(0).is_err());
        assert_eq!(Discrepancies.on_resolved(1), Ok(Discrepancies));
        assert_eq!(Discrepancies.on_resolved(0), Ok(Reconciled));
        assert!(Awaiting.on_resolved(0).is_err());
        for s in [Awaiting, Matching, Discrepancies, Reconciled] {
            assert_eq!(OriginalState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn due_overdue_escalation_and_requests() {
        let p = OriginalPolicy::default();
        let (due, esc) = p.dates(d("2026-11-01"));
        assert_eq!((due, esc), (d("2026-11-08"), d("2026-11-15")));
        let st = OriginalState::Awaiting;
        assert_eq!(
            overdue(st, Some(due), Some(esc), d("2026-11-08")),
            Overdue::No
        );
        assert_eq!(
            overdue(st, Some(due), Some(esc), d("2026-11-09")),
            Overdue::Overdue
        );
        assert_eq!(
            overdue(st, Some(due), Some(esc), d("2026-11-16")),
            Overdue::Escalated
        );
        assert_eq!(
            overdue(
                OriginalState::Reconciled,
                Some(due),
                Some(esc),
                d("2026-12-16")
            ),
            Overdue::No
        );
        assert_eq!(overdue(st, None, None, d("2030-01-01")), Overdue::No);
        assert!(!p.should_request(due, esc, None, d("2026-11-08")));
        assert!(p.should_request(due, esc, None, d("2026-11-09")));
        assert!(!p.should_request(due, esc, Some(d("2026-11-09")), d("2026-11-10")));
        assert!(p.should_request(due, esc, Some(d("2026-11-09")), d("2026-11-16")));
        assert!(p.should_request(due, esc, Some(d("2026-11-16")), d("2026-11-23")));
        assert!(!p.should_request(due, esc, Some(d("2026-11-16")), d("2026-11-22")));
    }

    #[test]
    fn retention_three_or_five_years() {
        assert_eq!(retention_until(d("2026-11-21"), false), d("2029-11-21"));
        assert_eq!(retention_until(d("2026-11-21"), true), d("2031-11-21"));
        assert_eq!(retention_until(d("2028-02-29"), false), d("2031-02-28"));
    }

    #[test]
    fn narcotic_handover_needs_the_original() {
        use OriginalState::*;
        assert_eq!(handover_blockers(true, "麻薬", Awaiting, 0).len(), 1);
        assert_eq!(handover_blockers(true, "麻薬", Discrepancies, 1).len(), 1);
        assert!(handover_blockers(true, "麻薬", Reconciled, 0).is_empty());
        assert!(handover_blockers(false, "", Awaiting, 0).is_empty());
    }

    #[test]
    fn initials_from_kana() {
        assert_eq!(initials("ヤマダ タロウ"), "Y.T.");
        assert_eq!(initials("しみず　ちか"), "S.C.");
        assert_eq!(initials("ｽｽﾞｷ ﾊﾅｺ"), "S.H.");
    }
}
