//! Originals of copy-based prescriptions (処方箋原本): the fields compared between
//! the copy that was dispensed and the original that arrived by mail, the
//! reconciliation state machine, due and escalation dates, retention, and what
//! blocks the handover of a narcotic dispensed from a copy.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

use super::rx_csv::RxData;

mod state;
pub use state::{
    handover_blockers, initials, overdue, retention_until, OriginalPolicy, OriginalState, Overdue,
};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
