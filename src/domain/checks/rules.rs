//! The curated rule types the engine runs with (groups, contraindicated pairs) and
//! the product view it compares: active moieties with precomputed memberships.

use crate::domain::drug_master::Route;

/// A therapeutic group for class-duplicate checks.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    pub id: &'static str,
    /// Japanese name shown to pharmacists.
    pub name: &'static str,
    /// Ingredient base names (an ingredient belongs when its moiety starts with one).
    pub members: &'static [&'static str],
    /// Routes where membership counts (systemic use).
    pub routes: &'static [Route],
    pub source: &'static str,
}

/// One side of a contraindicated pair.
#[derive(Debug, Clone, Copy)]
pub struct Side {
    pub ingredients: &'static [&'static str],
    /// Routes the contraindication applies to (empty: any).
    pub routes: &'static [Route],
}

/// A contraindicated combination (併用禁忌) from package-insert text.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub id: &'static str,
    pub a: Side,
    pub b: Side,
    /// Why (mechanism / consequence), Japanese.
    pub reason: &'static str,
    /// Package insert(s) and section the pair is taken from.
    pub source: &'static str,
    /// Where the insert text was checked, and the revision or page date seen.
    pub checked: &'static str,
}

/// The curated rules a check runs against.
#[derive(Debug, Clone, Copy)]
pub struct RuleSet {
    pub version: &'static str,
    pub groups: &'static [Group],
    pub pairs: &'static [Pair],
}

/// Salt and hydrate words removed to compare active moieties (ロキソプロフェン
/// ナトリウム水和物 → ロキソプロフェン; モルヒネ塩酸塩水和物 and モルヒネ硫酸塩水和物
/// are both モルヒネ).
const SALT_SUFFIXES: &[&str] = &[
    "水和物",
    "塩酸塩",
    "硫酸塩",
    "臭化水素酸塩",
    "酒石酸塩",
    "マレイン酸塩",
    "フマル酸塩",
    "コハク酸塩",
    "クエン酸塩",
    "リン酸塩",
    "メシル酸塩",
    "ベシル酸塩",
    "トシル酸塩",
    "メタンスルホン酸塩",
    "安息香酸塩",
    "酢酸塩",
    "硝酸塩",
    "シュウ酸塩",
    "ナトリウム",
    "カリウム",
    "カルシウム",
    "マグネシウム",
    "エルブミン",
];

/// The active moiety of an ingredient name (see [`SALT_SUFFIXES`]). A remainder
/// shorter than three characters (塩化カリウム) is left whole.
pub fn moiety(ingredient: &str) -> String {
    let mut s = ingredient.replace([' ', '\u{3000}'], "");
    loop {
        let before = s.clone();
        for suf in SALT_SUFFIXES {
            if let Some(rest) = s.strip_suffix(suf) {
                if rest.chars().count() >= 3 && !rest.ends_with('化') {
                    s = rest.to_string();
                }
            }
        }
        if s == before {
            return s;
        }
    }
}

/// A product as the engine sees it: its route and active moieties, with the
/// curated groups and pair sides precomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drug {
    pub code: String,
    pub name: String,
    pub route: Route,
    pub moieties: Vec<String>,
    pub groups: Vec<&'static str>,
    /// (pair index, side 0 = a / 1 = b)
    pub pair_sides: Vec<(usize, u8)>,
}

fn matches(moiety: &str, names: &[&str]) -> bool {
    names.iter().any(|n| moiety.starts_with(n))
}

impl RuleSet {
    /// Prepares a product for checking. `ingredients` are the master's names.
    pub fn drug(&self, code: &str, name: &str, route: Route, ingredients: &[String]) -> Drug {
        let moieties: Vec<String> = ingredients.iter().map(|i| moiety(i)).collect();
        let groups = self
            .groups
            .iter()
            .filter(|g| g.routes.contains(&route) && moieties.iter().any(|m| matches(m, g.members)))
            .map(|g| g.id)
            .collect();
        let mut pair_sides = Vec::new();
        for (i, p) in self.pairs.iter().enumerate() {
            for (side, s) in [(0u8, &p.a), (1u8, &p.b)] {
                let route_ok = s.routes.is_empty() || s.routes.contains(&route);
                if route_ok && moieties.iter().any(|m| matches(m, s.ingredients)) {
                    pair_sides.push((i, side));
                }
            }
        }
        Drug {
            code: code.to_string(),
            name: name.to_string(),
            route,
            moieties,
            groups,
            pair_sides,
        }
    }
}
