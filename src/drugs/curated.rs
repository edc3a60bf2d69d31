//! Curated clinical data shipped with the project (versioned with the code, each
//! entry citing its source): components of combination products whose 成分名
//! hides them. Therapeutic groups and contraindicated pairs arrive with the check
//! engine.

/// A combination product whose listed 成分名 does not name its components.
#[derive(Debug, Clone, Copy)]
pub struct Combination {
    /// The 成分名 as listed by MHLW.
    pub ingredient_text: &'static str,
    /// Only products whose 品名 starts with this (when one 成分名 covers several
    /// different compositions).
    pub name_prefix: Option<&'static str>,
    pub components: &'static [&'static str],
    /// Package insert (添付文書) section the composition is taken from.
    pub source: &'static str,
}

/// The curated component table.
pub const COMBINATIONS: &[Combination] = &[
    Combination {
        ingredient_text: "非ピリン系感冒剤",
        name_prefix: None,
        components: &[
            "サリチルアミド",
            "アセトアミノフェン",
            "無水カフェイン",
            "プロメタジンメチレンジサリチル酸塩",
        ],
        source: "PL配合顆粒 添付文書【組成・性状】(1g中 サリチルアミド270mg, アセトアミノフェン150mg, 無水カフェイン60mg, プロメタジンメチレンジサリチル酸塩13.5mg); 同組成の後発品を含む",
    },
    Combination {
        ingredient_text: "ピラゾロン系解熱鎮痛消炎配合剤",
        name_prefix: None,
        components: &[
            "イソプロピルアンチピリン",
            "アセトアミノフェン",
            "アリルイソプロピルアセチル尿素",
            "無水カフェイン",
        ],
        source: "SG配合顆粒 添付文書【組成・性状】(1g中 イソプロピルアンチピリン150mg, アセトアミノフェン250mg, アリルイソプロピルアセチル尿素60mg, 無水カフェイン50mg)",
    },
    Combination {
        ingredient_text: "鎮咳配合剤",
        name_prefix: Some("フスコデ"),
        components: &[
            "ジヒドロコデインリン酸塩",
            "dl-メチルエフェドリン塩酸塩",
            "クロルフェニラミンマレイン酸塩",
        ],
        source: "フスコデ配合錠 添付文書【組成・性状】",
    },
];

/// The components of a product when curated, else `None`.
pub fn components(ingredient_text: &str, name: &str) -> Option<&'static [&'static str]> {
    COMBINATIONS
        .iter()
        .find(|c| {
            c.ingredient_text == ingredient_text
                && c.name_prefix.is_none_or(|p| name.starts_with(p))
        })
        .map(|c| c.components)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pl_granules_contain_acetaminophen() {
        let c = components("非ピリン系感冒剤", "PL配合顆粒").unwrap();
        assert!(c.contains(&"アセトアミノフェン"));
        assert!(components("鎮咳配合剤", "カフコデN配合錠").is_none());
        assert!(components("ファモチジン", "ガスター錠").is_none());
    }
}
