//! What was actually dispensed (調剤実績): per prescribed item, the product given
//! (a different code is a generic substitution, 後発品への変更), the quantity, lot
//! and lot expiry; plus the 伝達事項 for the prescriber. And the dispensing-result
//! payload sent to the national service.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::fields::FieldErrors;
use super::rx_csv::join_line;
use super::text;

/// One dispensed line as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct DispensedLineInput {
    /// The prescribed item this line fulfils.
    pub item_id: String,
    /// The product given, when not the prescribed code (generic substitution).
    pub drug_code: Option<String>,
    /// Quantity given, as written (e.g. `28錠`).
    pub quantity: Option<String>,
    /// ロット番号
    pub lot_number: Option<String>,
    /// The lot's 使用期限 (YYYY-MM-DD).
    pub lot_expiry: Option<String>,
}

/// A dispensing as submitted. Items left out are dispensed as prescribed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct DispenseInput {
    pub items: Vec<DispensedLineInput>,
    /// 伝達事項: a note to the prescriber sent with the dispensing result.
    pub message_to_prescriber: Option<String>,
}

/// A validated line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispensedLine {
    pub item_id: String,
    pub drug_code: Option<String>,
    pub quantity: String,
    pub lot_number: Option<String>,
    pub lot_expiry: Option<NaiveDate>,
}

/// A validated dispensing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispenseDraft {
    pub lines: Vec<DispensedLine>,
    pub message_to_prescriber: Option<String>,
}

impl DispenseDraft {
    /// The line for an item, if one was given.
    pub fn line(&self, item_id: &str) -> Option<&DispensedLine> {
        self.lines.iter().find(|l| l.item_id == item_id)
    }
}

impl DispenseInput {
    /// Validates: known item ids are checked by the service; here formats, no
    /// duplicates, and no lot past its expiry on the day of dispensing.
    pub fn parse(&self, today: NaiveDate) -> Result<DispenseDraft, FieldErrors> {
        let mut e = FieldErrors::new();
        let mut seen = HashSet::new();
        let mut lines = Vec::new();
        for (i, l) in self.items.iter().enumerate() {
            let f = |name: &str| format!("items[{i}].{name}");
            if l.item_id.trim().is_empty() {
                e.add(&f("item_id"), "入力してください (required)");
            } else if !seen.insert(l.item_id.trim().to_string()) {
                e.add(
                    &f("item_id"),
                    "同じ薬品が二度指定されています (listed twice)",
                );
            }
            let code = text::optional(l.drug_code.as_deref());
            if let Some(c) = &code {
                if !(c.len() == 9 || c.len() == 12) || !c.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    e.add(
                        &f("drug_code"),
                        "YJコード（12桁）またはレセ電コード（9桁）で入力してください (YJ or receipt code)",
                    );
                }
            }
            let lot = text::optional(l.lot_number.as_deref());
            if lot.as_ref().is_some_and(|s| s.chars().count() > 40) {
                e.add(&f("lot_number"), "40文字以内で入力してください (too long)");
            }
            let expiry = match text::optional(l.lot_expiry.as_deref()) {
                None => None,
                Some(s) => match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
                    Ok(d) if d < today => {
                        e.add(
                            &f("lot_expiry"),
                            "使用期限切れのロットは調剤できません (lot expired)",
                        );
                        None
                    }
                    Ok(d) => Some(d),
                    Err(_) => {
                        e.add(&f("lot_expiry"), "YYYY-MM-DD で入力してください (date)");
                        None
                    }
                },
            };
            let quantity = text::optional(l.quantity.as_deref()).unwrap_or_default();
            if quantity.chars().count() > 40 {
                e.add(&f("quantity"), "40文字以内で入力してください (too long)");
            }
            lines.push(DispensedLine {
                item_id: l.item_id.trim().to_string(),
                drug_code: code,
                quantity,
                lot_number: lot,
                lot_expiry: expiry,
            });
        }
        let message = text::optional(self.message_to_prescriber.as_deref());
        if message.as_ref().is_some_and(|m| m.chars().count() > 1000) {
            e.add(
                "message_to_prescriber",
                "1000文字以内で入力してください (too long)",
            );
        }
        e.into_result(|| DispenseDraft {
            lines,
            message_to_prescriber: message,
        })
    }
}

/// Whether `dispensed` may be given for `prescribed` without asking the
/// prescriber: the first nine characters of the YJ code (成分, 剤形, 規格) must
/// match. An unknown product on either side is refused (fail closed).
pub fn substitution_allowed(
    prescribed_yj: Option<&str>,
    dispensed_yj: Option<&str>,
) -> Result<(), String> {
    match (prescribed_yj, dispensed_yj) {
        (Some(p), Some(d)) if p.len() >= 9 && d.len() >= 9 && p[..9] == d[..9] => Ok(()),
        (Some(_), Some(_)) => Err(
            "成分・剤形・規格が異なる薬品には変更できません（疑義照会が必要です） (different ingredient, form or strength)".into(),
        ),
        (None, _) => Err(
            "処方薬がマスターにないため変更の可否を確認できません (prescribed product unknown)".into(),
        ),
        (_, None) => Err("変更後の薬品がマスターにありません (dispensed product unknown)".into()),
    }
}

/// One dispensed item in the result payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultItem {
    pub rp: i32,
    pub seq: i32,
    pub prescribed_code: String,
    pub dispensed_code: String,
    pub name: String,
    pub quantity: String,
    pub substituted: bool,
    pub lot_number: Option<String>,
    pub lot_expiry: Option<NaiveDate>,
}

/// The dispensing-result payload (project-defined CSV in the style of the
/// prescription CSV, since the official result format is vendor-only):
///
/// ```text
/// RESULT1
/// 1,<処方箋ID>,<調剤日 YYYYMMDD>
/// 201,<RP>,<連番>,<処方コード>,<調剤コード>,<名称>,<数量>,<後発変更 0/1>,<ロット>,<期限 YYYYMMDD>
/// 911,<伝達事項>
/// ```
pub fn result_payload(
    eps_id: &str,
    dispensed_on: NaiveDate,
    items: &[ResultItem],
    message: Option<&str>,
) -> String {
    let mut lines = vec![
        "RESULT1".to_string(),
        join_line(&[
            "1".into(),
            eps_id.into(),
            dispensed_on.format("%Y%m%d").to_string(),
        ]),
    ];
    for it in items {
        lines.push(join_line(&[
            "201".into(),
            it.rp.to_string(),
            it.seq.to_string(),
            it.prescribed_code.clone(),
            it.dispensed_code.clone(),
            it.name.clone(),
            it.quantity.clone(),
            if it.substituted { "1" } else { "0" }.into(),
            it.lot_number.clone().unwrap_or_default(),
            it.lot_expiry
                .map(|d| d.format("%Y%m%d").to_string())
                .unwrap_or_default(),
        ]));
    }
    if let Some(m) = message {
        lines.push(join_line(&["911".into(), m.replace(['\r', '\n'], " ")]));
    }
    lines.join("\r\n") + "\r\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    #[test]
    fn lines_are_checked_field_by_field() {
        let input = DispenseInput {
            items: vec![
                DispensedLineInput {
                    item_id: "a".into(),
                    drug_code: Some("12345".into()),
                    lot_expiry: Some("2026-11-20".into()),
                    ..Default::default()
                },
                DispensedLineInput {
                    item_id: "a".into(),
                    lot_expiry: Some("20261231".into()),
                    ..Default::default()
                },
            ],
            message_to_prescriber: None,
        };
        let e = input.parse(today()).unwrap_err();
        assert!(e.get("items[0].drug_code").is_some());
        assert!(e.get("items[0].lot_expiry").unwrap().contains("期限切れ"));
        assert!(e.get("items[1].item_id").is_some());
        assert!(e.get("items[1].lot_expiry").is_some());

        let ok = DispenseInput {
            items: vec![DispensedLineInput {
                item_id: "a".into(),
                drug_code: Some("2325003F1020".into()),
                quantity: Some(" 28錠 ".into()),
                lot_number: Some("L123".into()),
                lot_expiry: Some("2028-03-31".into()),
            }],
            message_to_prescriber: Some("後発品に変更しました".into()),
        }
        .parse(today())
        .unwrap();
        assert_eq!(ok.lines[0].quantity, "28錠");
        assert_eq!(
            ok.line("a").unwrap().lot_expiry.unwrap().to_string(),
            "2028-03-31"
        );
    }

    #[test]
    fn substitution_keeps_ingredient_form_and_strength() {
        assert!(substitution_allowed(Some("2325003F1020"), Some("2325003F1038")).is_ok());
        assert!(substitution_allowed(Some("2325003F1020"), Some("2325003F2026")).is_err());
        assert!(substitution_allowed(Some("2325003F1020"), Some("2149039F1021")).is_err());
        assert!(substitution_allowed(None, Some("2325003F1038")).is_err());
        assert!(substitution_allowed(Some("2325003F1020"), None).is_err());
    }

    #[test]
    fn the_result_payload_lists_what_was_given() {
        let text = result_payload(
            "RX-1",
            today(),
            &[ResultItem {
                rp: 1,
                seq: 1,
                prescribed_code: "2325003F1020".into(),
                dispensed_code: "2325003F1038".into(),
                name: "ファモチジン錠10mg「サワイ」".into(),
                quantity: "28錠".into(),
                substituted: true,
                lot_number: Some("L1".into()),
                lot_expiry: NaiveDate::from_ymd_opt(2028, 3, 31),
            }],
            Some("後発品に変更,ご確認ください"),
        );
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], "RESULT1");
        assert_eq!(lines[1], "1,RX-1,20261121");
        assert!(lines[2].starts_with("201,1,1,2325003F1020,2325003F1038,"));
        assert!(lines[2].ends_with(",1,L1,20280331"));
        assert_eq!(lines[3], "911,\"後発品に変更,ご確認ください\"");
    }
}
