//! Delivery rules (DOMAIN.md §7): which method the contents allow — 麻薬 only by
//! pharmacy staff or pickup; 向精神薬, 覚醒剤原料, 毒薬 and any unknown flag need a
//! pharmacist's confirmation of the method; refrigerated products need a
//! temperature logger — and the states a delivery passes through, none skipped.

use serde::{Deserialize, Serialize};

use crate::domain::drug_master::Flag;

/// How the parcel travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Carried by the pharmacy's own staff.
    PharmacyStaff,
    /// A contracted courier company.
    Courier,
    /// The patient or family picks it up at the pharmacy.
    Pickup,
}

impl Method {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::PharmacyStaff => "pharmacy_staff",
            Method::Courier => "courier",
            Method::Pickup => "pickup",
        }
    }

    /// From the stored or submitted form.
    pub fn parse(s: &str) -> Option<Method> {
        [Method::PharmacyStaff, Method::Courier, Method::Pickup]
            .into_iter()
            .find(|m| m.as_str() == s.trim())
    }
}

/// What one product in the parcel is, as far as the master says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentFlags {
    pub name: String,
    pub narcotic: Flag,
    pub psychotropic: Flag,
    pub stimulant_precursor: Flag,
    pub poison: Flag,
    pub refrigerated: Flag,
}

/// What the contents say about a method.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MethodVerdict {
    /// Reasons the method cannot be used at all.
    pub refused: Vec<String>,
    /// Reasons a pharmacist must confirm the method.
    pub needs_confirmation: Vec<String>,
    /// A temperature logger must travel with the parcel.
    pub needs_logger: bool,
}

impl MethodVerdict {
    /// The method may be used (given the confirmation when one is needed).
    pub fn allowed(&self, confirmed_by_pharmacist: bool) -> bool {
        self.refused.is_empty() && (self.needs_confirmation.is_empty() || confirmed_by_pharmacist)
    }
}

/// Judges `method` for `contents`.
pub fn judge(method: Method, contents: &[ContentFlags]) -> MethodVerdict {
    let mut v = MethodVerdict::default();
    for c in contents {
        match c.narcotic {
            Flag::Yes if method == Method::Courier => v
                .refused
                .push(format!("麻薬 {} は薬局職員の配送か来局受取のみ", c.name)),
            Flag::Unknown => v
                .needs_confirmation
                .push(format!("{}: 麻薬区分が不明", c.name)),
            _ => {}
        }
        for (flag, label) in [
            (c.psychotropic, "向精神薬"),
            (c.stimulant_precursor, "覚醒剤原料"),
            (c.poison, "毒薬"),
        ] {
            match flag {
                Flag::Yes => v.needs_confirmation.push(format!("{label} {}", c.name)),
                Flag::Unknown => v
                    .needs_confirmation
                    .push(format!("{}: {label}の区分が不明", c.name)),
                Flag::No => {}
            }
        }
        match c.refrigerated {
            Flag::Yes => v.needs_logger = true,
            Flag::Unknown => {
                v.needs_logger = true;
                v.needs_confirmation
                    .push(format!("{}: 保管温度の区分が不明", c.name));
            }
            Flag::No => {}
        }
    }
    v
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Prepared,
    /// Sealed with a seal number.
    Sealed,
    HandedToCourier,
    OutForDelivery,
    /// Handed over and confirmed.
    Delivered,
    FailedAttempt,
    ReturnedToPharmacy,
}

impl State {
    /// Every state.
    pub const ALL: [State; 7] = [
        State::Prepared,
        State::Sealed,
        State::HandedToCourier,
        State::OutForDelivery,
        State::Delivered,
        State::FailedAttempt,
        State::ReturnedToPharmacy,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Prepared => "prepared",
            State::Sealed => "sealed",
            State::HandedToCourier => "handed_to_courier",
            State::OutForDelivery => "out_for_delivery",
            State::Delivered => "delivered",
            State::FailedAttempt => "failed_attempt",
            State::ReturnedToPharmacy => "returned_to_pharmacy",
        }
    }

    /// From the stored form.
    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// In the console's words.
    pub fn label(self) -> &'static str {
        match self {
            State::Prepared => "準備済み",
            State::Sealed => "封緘済み",
            State::HandedToCourier => "配送担当へ引渡し",
            State::OutForDelivery => "配送中",
            State::Delivered => "お渡し済み",
            State::FailedAttempt => "不在・持戻り",
            State::ReturnedToPharmacy => "薬局へ返却",
        }
    }

    /// The states that may follow (no step is skipped; no 置き配).
    pub fn next(self) -> &'static [State] {
        match self {
            State::Prepared => &[State::Sealed],
            State::Sealed => &[State::HandedToCourier],
            State::HandedToCourier => &[State::OutForDelivery],
            State::OutForDelivery => &[State::Delivered, State::FailedAttempt],
            State::FailedAttempt => &[State::OutForDelivery, State::ReturnedToPharmacy],
            State::Delivered | State::ReturnedToPharmacy => &[],
        }
    }

    /// Whether `to` may follow.
    pub fn can_go(self, to: State) -> bool {
        self.next().contains(&to)
    }
}

/// Failed handover codes before the code is locked.
pub const MAX_CODE_ATTEMPTS: i32 = 5;

/// Whether `code` has the shape of a handover code (6 digits).
pub fn code_well_formed(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// What a handover code attempt comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeVerdict {
    /// The right code, first use.
    Accepted,
    /// A wrong code; `remaining` attempts are left (0: now locked).
    Wrong { remaining: i32 },
    /// Locked after too many wrong codes: only a new code (or a confirmed proxy) helps.
    Locked,
    /// The code was already used.
    Used,
}

/// Judges a code attempt given the delivery's counters; returns the verdict and
/// the attempt count and lock to store. A locked or used code stays refused even
/// when right, so guessing cannot continue after the lock.
pub fn judge_code(
    attempts: i32,
    locked: bool,
    used: bool,
    right: bool,
) -> (CodeVerdict, i32, bool) {
    if used {
        return (CodeVerdict::Used, attempts, locked);
    }
    if locked || attempts >= MAX_CODE_ATTEMPTS {
        return (CodeVerdict::Locked, attempts, true);
    }
    if right {
        return (CodeVerdict::Accepted, attempts, false);
    }
    let n = attempts + 1;
    (
        CodeVerdict::Wrong {
            remaining: (MAX_CODE_ATTEMPTS - n).max(0),
        },
        n,
        n >= MAX_CODE_ATTEMPTS,
    )
}

/// A pharmacist's decision on a quarantined delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuarantineDecision {
    /// The products may be used: the delivery goes on.
    Use,
    /// The parcel comes back to the pharmacy.
    Return,
    /// The products are destroyed (the parcel comes back first).
    Destroy,
}

impl QuarantineDecision {
    /// From `use`, `return` or `destroy`.
    pub fn parse(s: &str) -> Option<QuarantineDecision> {
        match s.trim() {
            "use" => Some(QuarantineDecision::Use),
            "return" => Some(QuarantineDecision::Return),
            "destroy" => Some(QuarantineDecision::Destroy),
            _ => None,
        }
    }

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineDecision::Use => "use",
            QuarantineDecision::Return => "return",
            QuarantineDecision::Destroy => "destroy",
        }
    }
}

/// Whether a delivery in quarantine state `q` may be handed over.
pub fn quarantine_allows_handover(q: &str) -> bool {
    matches!(q, "none" | "use")
}

/// The label range a product is checked against in transit: its own stored
/// range; else 2-8 °C for a refrigerated product or one whose storage is unknown
/// (fail closed); else 室温 (1-30 °C).
pub fn transit_range(min_c: Option<i32>, max_c: Option<i32>, refrigerated: Flag) -> String {
    match (min_c, max_c, refrigerated) {
        (Some(a), Some(b), _) if a < b => format!("{a}-{b}"),
        (_, _, Flag::No) => "室温".into(),
        _ => "2-8".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str) -> ContentFlags {
        ContentFlags {
            name: name.into(),
            narcotic: Flag::No,
            psychotropic: Flag::No,
            stimulant_precursor: Flag::No,
            poison: Flag::No,
            refrigerated: Flag::No,
        }
    }

    #[test]
    fn the_contents_restrict_the_method() {
        let plain = item("アムロジン");
        assert!(judge(Method::Courier, std::slice::from_ref(&plain)).allowed(false));
        let narcotic = ContentFlags {
            narcotic: Flag::Yes,
            ..item("オキシコンチン")
        };
        assert!(!judge(Method::Courier, std::slice::from_ref(&narcotic)).allowed(true));
        assert!(judge(Method::PharmacyStaff, std::slice::from_ref(&narcotic)).allowed(false));
        assert!(judge(Method::Pickup, std::slice::from_ref(&narcotic)).allowed(false));
        let psy = ContentFlags {
            psychotropic: Flag::Yes,
            ..item("デパス")
        };
        let v = judge(Method::Courier, &[plain.clone(), psy]);
        assert!(!v.allowed(false) && v.allowed(true));
        let unknown = ContentFlags {
            poison: Flag::Unknown,
            ..item("X")
        };
        assert!(
            !judge(Method::Pickup, &[unknown]).allowed(false),
            "unknown fails closed"
        );
        let cold = ContentFlags {
            refrigerated: Flag::Yes,
            ..item("ランタス")
        };
        let v = judge(Method::Courier, &[cold]);
        assert!(v.needs_logger && v.allowed(false));
        let unsure = ContentFlags {
            refrigerated: Flag::Unknown,
            ..item("Y")
        };
        let v = judge(Method::Courier, &[unsure]);
        assert!(v.needs_logger && !v.allowed(false));
    }

    #[test]
    fn codes_lock_after_the_limit_and_are_used_once() {
        assert!(
            code_well_formed("012345") && !code_well_formed("12345") && !code_well_formed("12345a")
        );
        let (mut attempts, mut locked) = (0, false);
        for i in 1..=MAX_CODE_ATTEMPTS {
            let (v, a, l) = judge_code(attempts, locked, false, false);
            assert_eq!(
                v,
                CodeVerdict::Wrong {
                    remaining: MAX_CODE_ATTEMPTS - i
                }
            );
            (attempts, locked) = (a, l);
        }
        assert!(locked);
        assert_eq!(
            judge_code(attempts, locked, false, true).0,
            CodeVerdict::Locked
        );
        assert_eq!(
            judge_code(2, false, false, true),
            (CodeVerdict::Accepted, 2, false)
        );
        assert_eq!(judge_code(0, false, true, true).0, CodeVerdict::Used);
    }

    #[test]
    fn quarantine_decisions_and_transit_ranges() {
        assert_eq!(
            QuarantineDecision::parse("destroy"),
            Some(QuarantineDecision::Destroy)
        );
        assert_eq!(QuarantineDecision::parse("release"), None);
        assert!(quarantine_allows_handover("none") && quarantine_allows_handover("use"));
        assert!(
            !quarantine_allows_handover("quarantined") && !quarantine_allows_handover("return")
        );
        assert_eq!(transit_range(Some(2), Some(8), Flag::Yes), "2-8");
        assert_eq!(transit_range(None, None, Flag::Unknown), "2-8");
        assert_eq!(transit_range(None, None, Flag::No), "室温");
    }

    #[test]
    fn no_step_is_skipped() {
        use State::*;
        assert!(Prepared.can_go(Sealed) && !Prepared.can_go(HandedToCourier));
        assert!(!Sealed.can_go(OutForDelivery) && !HandedToCourier.can_go(Delivered));
        assert!(OutForDelivery.can_go(Delivered) && OutForDelivery.can_go(FailedAttempt));
        assert!(FailedAttempt.can_go(OutForDelivery) && FailedAttempt.can_go(ReturnedToPharmacy));
        assert!(Delivered.next().is_empty() && ReturnedToPharmacy.next().is_empty());
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
    }
}
