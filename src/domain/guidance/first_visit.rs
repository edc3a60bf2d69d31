//! The first-visit rule of online guidance (DOMAIN.md §6): for a patient the
//! pharmacy does not know yet, a prescription with 麻薬 or 向精神薬, or with 8 days'
//! supply or more, is flagged for a pharmacist's review. A flag that cannot be read
//! (not in the master, unknown 区分) is flagged too: the check fails closed.

use crate::domain::drug_master::Flag;

/// What the rule needs to know of one prescribed item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFacts {
    pub name: String,
    /// None when the product is not in the drug master.
    pub narcotic: Option<Flag>,
    pub psychotropic: Option<Flag>,
    pub days: i32,
}

/// Days of supply from which a first visit needs review.
pub const LONG_SUPPLY_DAYS: i32 = 8;

/// The reasons a pharmacist must review the booking (empty: none). Only a new
/// patient's (first visit's) prescriptions are flagged.
pub fn review_reasons(new_patient: bool, items: &[ItemFacts]) -> Vec<String> {
    if !new_patient {
        return Vec::new();
    }
    let mut out = Vec::new();
    for it in items {
        match (it.narcotic, it.psychotropic) {
            (None, _) | (_, None) => out.push(format!("初診: マスター未収載 {}", it.name)),
            (Some(Flag::Yes), _) => out.push(format!("初診: 麻薬 {}", it.name)),
            (_, Some(Flag::Yes)) => out.push(format!("初診: 向精神薬 {}", it.name)),
            (Some(Flag::Unknown), _) | (_, Some(Flag::Unknown)) => {
                out.push(format!("初診: 麻薬・向精神薬の区分不明 {}", it.name))
            }
            _ => {}
        }
        if it.days >= LONG_SUPPLY_DAYS {
            out.push(format!("初診: {}日分 {}", it.days, it.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, n: Option<Flag>, p: Option<Flag>, days: i32) -> ItemFacts {
        ItemFacts {
            name: name.into(),
            narcotic: n,
            psychotropic: p,
            days,
        }
    }

    #[test]
    fn a_new_patients_controlled_or_long_prescriptions_are_flagged() {
        let plain = item("アムロジン", Some(Flag::No), Some(Flag::No), 7);
        assert!(review_reasons(true, std::slice::from_ref(&plain)).is_empty());
        let long = item("アムロジン", Some(Flag::No), Some(Flag::No), 8);
        assert_eq!(
            review_reasons(true, std::slice::from_ref(&long)),
            ["初診: 8日分 アムロジン"]
        );
        assert!(review_reasons(false, &[long]).is_empty(), "known patient");
        let narcotic = item("オキシコンチン", Some(Flag::Yes), Some(Flag::No), 3);
        assert_eq!(
            review_reasons(true, &[narcotic]),
            ["初診: 麻薬 オキシコンチン"]
        );
        let psy = item("デパス", Some(Flag::No), Some(Flag::Yes), 3);
        assert_eq!(review_reasons(true, &[psy]), ["初診: 向精神薬 デパス"]);
        let unknown = item("X", Some(Flag::Unknown), Some(Flag::No), 3);
        assert_eq!(
            review_reasons(true, &[unknown]).len(),
            1,
            "unknown fails closed"
        );
        let missing = item("Y", None, None, 3);
        assert_eq!(
            review_reasons(true, &[missing]).len(),
            1,
            "not in the master"
        );
    }
}
