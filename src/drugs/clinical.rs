//! Curated clinical rules shipped with the project: therapeutic groups for
//! class-duplicate checks and contraindicated pairs (併用禁忌) taken from the
//! 【併用禁忌】 sections of package inserts (添付文書). Each entry names its source.
//!
//! No public, redistributable 併用禁忌 dataset exists: this is a curated list and
//! the product says "not in the checked list", never "no interaction". The
//! insert sections cited were compiled by the team from the inserts as known to
//! it; their revision dates could not be checked against PMDA from this
//! environment and are marked as to be confirmed (`REVISION_NOTE`).

use crate::domain::checks::{Group, Pair, RuleSet, Side};
use crate::domain::drug_master::Route::{self, External, Injection, Oral, Rectal};

/// Version of this curated data (bump on every change).
pub const VERSION: &str = "2026.11.1";

/// Revision status of the cited inserts.
pub const REVISION_NOTE: &str =
    "添付文書改訂日は未照合 (revision dates to be confirmed against PMDA)";

const SYSTEMIC: &[Route] = &[Oral, Injection];
const SYSTEMIC_AND_RECTAL: &[Route] = &[Oral, Injection, Rectal];
const SYSTEMIC_AND_PATCH: &[Route] = &[Oral, Injection, Rectal, External];
const ORAL: &[Route] = &[Oral];
const ANY: &[Route] = &[];

/// Therapeutic groups.
pub const GROUPS: &[Group] = &[
    Group {
        id: "ppi",
        name: "プロトンポンプ阻害薬・P-CAB",
        members: &["オメプラゾール", "ランソプラゾール", "ラベプラゾール", "エソメプラゾール", "ボノプラザン"],
        routes: SYSTEMIC,
        source: "薬効分類 2329 消化性潰瘍用剤; 各添付文書 薬効分類名「プロトンポンプ・インヒビター」「カリウムイオン競合型アシッドブロッカー」",
    },
    Group {
        id: "h2",
        name: "H2受容体拮抗薬",
        members: &["ファモチジン", "シメチジン", "ニザチジン", "ロキサチジン", "ラフチジン", "ラニチジン"],
        routes: SYSTEMIC,
        source: "薬効分類 2325 H2遮断剤; 各添付文書 薬効分類名「H2受容体拮抗剤」",
    },
    Group {
        id: "bz_hypnotic_anxiolytic",
        name: "ベンゾジアゼピン系・Z薬（睡眠薬・抗不安薬）",
        members: &[
            "トリアゾラム", "ブロチゾラム", "エチゾラム", "アルプラゾラム", "ロラゼパム", "ジアゼパム",
            "フルニトラゼパム", "ニトラゼパム", "エスタゾラム", "クロチアゼパム", "ロフラゼプ酸エチル",
            "リルマザホン", "ロルメタゼパム", "クアゼパム", "フルラゼパム", "ハロキサゾラム", "ブロマゼパム",
            "クロキサゾラム", "オキサゾラム", "メダゼパム", "クロルジアゼポキシド", "フルトプラゼパム",
            "メキサゾラム", "クロナゼパム", "ゾルピデム", "ゾピクロン", "エスゾピクロン",
        ],
        routes: ORAL,
        source: "薬効分類 1124 ベンゾジアゼピン系製剤・1129 その他の催眠鎮静剤; 各添付文書 薬効分類名",
    },
    Group {
        id: "nsaid",
        name: "NSAIDs（全身投与）",
        members: &[
            "ロキソプロフェン", "セレコキシブ", "ジクロフェナク", "イブプロフェン", "メロキシカム", "エトドラク",
            "ナプロキセン", "ザルトプロフェン", "ロルノキシカム", "フルルビプロフェン", "インドメタシン",
            "スリンダク", "アセメタシン", "プラノプロフェン", "チアプロフェン酸", "ナブメトン", "アンピロキシカム",
            "ピロキシカム", "メフェナム酸", "ケトプロフェン",
        ],
        routes: SYSTEMIC_AND_RECTAL,
        source: "薬効分類 1149 その他の解熱鎮痛消炎剤; 各添付文書 薬効分類名「非ステロイド性消炎・鎮痛剤」",
    },
    Group {
        id: "anticoagulant",
        name: "経口抗凝固薬（ワルファリン・DOAC）",
        members: &["ワルファリン", "ダビガトラン", "リバーロキサバン", "アピキサバン", "エドキサバン"],
        routes: ORAL,
        source: "薬効分類 3332 ワルファリン製剤・3339 その他の血液凝固阻止剤; 各添付文書 薬効分類名「抗凝固剤」",
    },
    Group {
        id: "statin",
        name: "HMG-CoA還元酵素阻害薬（スタチン）",
        members: &["アトルバスタチン", "ロスバスタチン", "プラバスタチン", "シンバスタチン", "ピタバスタチン", "フルバスタチン"],
        routes: ORAL,
        source: "薬効分類 2189 その他の高脂血症用剤; 各添付文書 薬効分類名「HMG-CoA還元酵素阻害剤」",
    },
    Group {
        id: "arb",
        name: "アンジオテンシンII受容体拮抗薬（ARB）",
        members: &[
            "カンデサルタン", "オルメサルタン", "テルミサルタン", "バルサルタン", "ロサルタン", "イルベサルタン",
            "アジルサルタン", "サクビトリルバルサルタン",
        ],
        routes: ORAL,
        source: "薬効分類 2149 その他の血圧降下剤; 各添付文書 薬効分類名「持続性アンジオテンシンII受容体拮抗剤」",
    },
    Group {
        id: "acei",
        name: "ACE阻害薬",
        members: &[
            "エナラプリル", "イミダプリル", "リシノプリル", "ペリンドプリル", "テモカプリル", "カプトプリル",
            "キナプリル", "トランドラプリル", "デラプリル", "シラザプリル", "ベナゼプリル", "アラセプリル",
        ],
        routes: ORAL,
        source: "薬効分類 2144 アンジオテンシン変換酵素阻害剤; 各添付文書 薬効分類名",
    },
    Group {
        id: "dpp4",
        name: "DPP-4阻害薬",
        members: &[
            "シタグリプチン", "ビルダグリプチン", "アログリプチン", "リナグリプチン", "テネリグリプチン",
            "アナグリプチン", "サキサグリプチン", "トレラグリプチン", "オマリグリプチン",
        ],
        routes: ORAL,
        source: "薬効分類 3969 その他の糖尿病用剤; 各添付文書 薬効分類名「選択的DPP-4阻害剤」",
    },
    Group {
        id: "sglt2",
        name: "SGLT2阻害薬",
        members: &[
            "ダパグリフロジン", "エンパグリフロジン", "カナグリフロジン", "イプラグリフロジン", "トホグリフロジン",
            "ルセオグリフロジン",
        ],
        routes: ORAL,
        source: "薬効分類 3969 その他の糖尿病用剤; 各添付文書 薬効分類名「選択的SGLT2阻害剤」",
    },
    Group {
        id: "sulfonylurea",
        name: "スルホニルウレア薬",
        members: &["グリメピリド", "グリクラジド", "グリベンクラミド", "トルブタミド"],
        routes: ORAL,
        source: "薬効分類 3961 スルフォニル尿素系製剤",
    },
    Group {
        id: "opioid",
        name: "オピオイド鎮痛薬",
        members: &[
            "モルヒネ", "オキシコドン", "フェンタニル", "ヒドロモルフォン", "タペンタドール", "トラマドール",
            "コデイン", "ジヒドロコデイン", "メサドン", "ブプレノルフィン", "ペチジン",
        ],
        routes: SYSTEMIC_AND_PATCH,
        source: "薬効分類 8114 アヘンアルカロイド系麻薬・8119 その他の合成麻薬・1149 (トラマドール) ほか; 各添付文書 薬効分類名",
    },
];

const AZOLES_STRONG: &[&str] = &["イトラコナゾール", "ボリコナゾール", "ポサコナゾール"];
const NITRATES: &[&str] = &[
    "ニトログリセリン",
    "硝酸イソソルビド",
    "一硝酸イソソルビド",
    "ニコランジル",
];
const SSRIS: &[&str] = &[
    "パロキセチン",
    "フルボキサミン",
    "セルトラリン",
    "エスシタロプラム",
];
const TRIPTANS: &[&str] = &[
    "スマトリプタン",
    "ゾルミトリプタン",
    "リザトリプタン",
    "エレトリプタン",
    "ナラトリプタン",
];

const fn side(ingredients: &'static [&'static str], routes: &'static [Route]) -> Side {
    Side {
        ingredients,
        routes,
    }
}

/// Contraindicated pairs (併用禁忌).
pub const PAIRS: &[Pair] = &[
    Pair {
        id: "CI-001",
        a: side(&["ワルファリン"], ORAL),
        b: side(&["ミコナゾール"], SYSTEMIC),
        reason: "ミコナゾールがワルファリンの代謝を阻害し作用が増強、重篤な出血のおそれ",
        source: "ワーファリン錠 添付文書 10.1 併用禁忌; フロリードゲル経口用 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-002",
        a: side(&["ワルファリン"], ORAL),
        b: side(&["イグラチモド"], ORAL),
        reason: "ワルファリンの作用が増強し重篤な出血のおそれ",
        source: "ケアラム錠 添付文書 10.1 併用禁忌; ワーファリン錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-003",
        a: side(&["ワルファリン"], ORAL),
        b: side(&["メナテトレノン"], ORAL),
        reason: "骨粗鬆症治療用ビタミンK2製剤がワルファリンの効果を減弱",
        source: "ワーファリン錠 添付文書 10.1 併用禁忌 (メナテトレノン グラケー); グラケーカプセル 添付文書 10.1",
    },
    Pair {
        id: "CI-004",
        a: side(&["シンバスタチン"], ORAL),
        b: side(&["イトラコナゾール", "ポサコナゾール"], SYSTEMIC),
        reason: "CYP3A4阻害によりシンバスタチンの血中濃度が上昇し横紋筋融解症のおそれ",
        source: "リポバス錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-005",
        a: side(&["シンバスタチン"], ORAL),
        b: side(&["ミコナゾール"], SYSTEMIC),
        reason: "CYP3A4阻害によりシンバスタチンの血中濃度が上昇し横紋筋融解症のおそれ",
        source: "リポバス錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-006",
        a: side(&["シンバスタチン"], ORAL),
        b: side(&["リトナビル"], ORAL),
        reason: "CYP3A4阻害によりシンバスタチンの血中濃度が著しく上昇し横紋筋融解症のおそれ",
        source: "リポバス錠 添付文書 10.1 併用禁忌 (HIVプロテアーゼ阻害剤); パキロビッドパック 添付文書 10.1",
    },
    Pair {
        id: "CI-007",
        a: side(&["アトルバスタチン"], ORAL),
        b: side(&["グレカプレビル"], ORAL),
        reason: "アトルバスタチンの血中濃度が上昇し横紋筋融解症等のおそれ",
        source: "マヴィレット配合錠 添付文書 10.1 併用禁忌; リピトール錠 添付文書 10.1",
    },
    Pair {
        id: "CI-008",
        a: side(&["ロスバスタチン"], ORAL),
        b: side(&["シクロスポリン"], SYSTEMIC),
        reason: "ロスバスタチンの血中濃度が上昇し横紋筋融解症等のおそれ",
        source: "クレストール錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-009",
        a: side(&["ピタバスタチン"], ORAL),
        b: side(&["シクロスポリン"], SYSTEMIC),
        reason: "ピタバスタチンの血中濃度が上昇し横紋筋融解症等のおそれ",
        source: "リバロ錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-010",
        a: side(&["トリアゾラム"], ORAL),
        b: side(AZOLES_STRONG, SYSTEMIC),
        reason: "CYP3A4阻害によりトリアゾラムの血中濃度が上昇し作用が増強・延長",
        source: "ハルシオン錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-011",
        a: side(&["トリアゾラム"], ORAL),
        b: side(&["ミコナゾール", "リトナビル"], SYSTEMIC),
        reason: "CYP3A4阻害によりトリアゾラムの血中濃度が上昇し作用が増強・延長",
        source: "ハルシオン錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-012",
        a: side(&["スボレキサント"], ORAL),
        b: side(&["イトラコナゾール", "ボリコナゾール", "ポサコナゾール", "クラリスロマイシン", "リトナビル"], SYSTEMIC),
        reason: "CYP3A強阻害によりスボレキサントの作用が著しく増強",
        source: "ベルソムラ錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-013",
        a: side(&["チザニジン"], ORAL),
        b: side(&["フルボキサミン"], ORAL),
        reason: "CYP1A2阻害によりチザニジンの血中濃度が著しく上昇し血圧低下・傾眠等",
        source: "テルネリン錠 添付文書 10.1 併用禁忌; ルボックス錠 添付文書 10.1",
    },
    Pair {
        id: "CI-014",
        a: side(&["チザニジン"], ORAL),
        b: side(&["シプロフロキサシン"], SYSTEMIC),
        reason: "CYP1A2阻害によりチザニジンの血中濃度が著しく上昇",
        source: "テルネリン錠 添付文書 10.1 併用禁忌; シプロキサン錠 添付文書 10.1",
    },
    Pair {
        id: "CI-015",
        a: side(&["ラメルテオン"], ORAL),
        b: side(&["フルボキサミン"], ORAL),
        reason: "CYP1A2阻害によりラメルテオンの血中濃度が著しく上昇",
        source: "ロゼレム錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-016",
        a: side(&["シルデナフィル"], ORAL),
        b: side(NITRATES, ANY),
        reason: "硝酸剤・NO供与剤との併用で降圧作用が増強し過度の血圧低下",
        source: "バイアグラ錠・レバチオ錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-017",
        a: side(&["タダラフィル"], ORAL),
        b: side(NITRATES, ANY),
        reason: "硝酸剤・NO供与剤との併用で降圧作用が増強し過度の血圧低下",
        source: "シアリス錠・アドシルカ錠・ザルティア錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-018",
        a: side(&["シルデナフィル", "タダラフィル"], ORAL),
        b: side(&["リオシグアト"], ORAL),
        reason: "sGC刺激剤との併用で症候性低血圧のおそれ",
        source: "アデムパス錠 添付文書 10.1 併用禁忌 (PDE5阻害剤)",
    },
    Pair {
        id: "CI-019",
        a: side(&["シルデナフィル"], ORAL),
        b: side(&["アミオダロン"], ORAL),
        reason: "QTc延長作用が増強するおそれ",
        source: "バイアグラ錠 添付文書 10.1 併用禁忌 (アミオダロン塩酸塩 経口剤)",
    },
    Pair {
        id: "CI-020",
        a: side(&["エプレレノン"], ORAL),
        b: side(&["イトラコナゾール", "リトナビル"], ORAL),
        reason: "CYP3A4阻害によりエプレレノンの血中濃度が上昇し高カリウム血症のおそれ",
        source: "セララ錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-021",
        a: side(&["エプレレノン"], ORAL),
        b: side(&["塩化カリウム", "スピロノラクトン"], ORAL),
        reason: "高カリウム血症のおそれ（高血圧症の患者）",
        source: "セララ錠 添付文書 10.1 併用禁忌 (カリウム製剤・カリウム保持性利尿薬; 高血圧症)",
    },
    Pair {
        id: "CI-022",
        a: side(&["シプロフロキサシン"], SYSTEMIC),
        b: side(&["ケトプロフェン"], &[Injection]),
        reason: "中枢神経のGABA抑制作用が増強し痙攣のおそれ",
        source: "シプロキサン錠 添付文書 10.1 併用禁忌 (ケトプロフェン 皮膚外用剤を除く)",
    },
    Pair {
        id: "CI-023",
        a: side(&["セレギリン", "ラサギリン"], ORAL),
        b: side(&["トラマドール", "ペチジン", "タペンタドール"], SYSTEMIC),
        reason: "セロトニン症候群・高度の興奮等のおそれ",
        source: "エフピーOD錠・アジレクト錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-024",
        a: side(&["セレギリン", "ラサギリン"], ORAL),
        b: side(SSRIS, ORAL),
        reason: "セロトニン症候群のおそれ",
        source: "エフピーOD錠・アジレクト錠 添付文書 10.1 併用禁忌; パロキセチン・フルボキサミン・セルトラリン・エスシタロプラム各添付文書 10.1 (MAO阻害剤)",
    },
    Pair {
        id: "CI-025",
        a: side(TRIPTANS, ANY),
        b: side(&["エルゴタミン"], ORAL),
        reason: "血管収縮作用が増強するおそれ",
        source: "イミグラン・ゾーミッグ・マクサルト・レルパックス・アマージ 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-026",
        a: side(TRIPTANS, ANY),
        b: side(&["セレギリン", "ラサギリン"], ORAL),
        reason: "MAO阻害によりトリプタンの血中濃度が上昇するおそれ",
        source: "イミグラン・ゾーミッグ・マクサルト 添付文書 10.1 併用禁忌 (MAO阻害剤)",
    },
    Pair {
        id: "CI-027",
        a: side(&["リザトリプタン"], ORAL),
        b: side(&["プロプラノロール"], ORAL),
        reason: "リザトリプタンの血中濃度が上昇",
        source: "マクサルト錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-028",
        a: side(&["エルゴタミン"], ORAL),
        b: side(&["クラリスロマイシン", "イトラコナゾール", "ボリコナゾール", "ポサコナゾール", "リトナビル"], SYSTEMIC),
        reason: "CYP3A4阻害によりエルゴタミンの血中濃度が上昇し血管攣縮等の重篤な副作用",
        source: "クリアミン配合錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-029",
        a: side(&["ダビガトラン"], ORAL),
        b: side(&["イトラコナゾール"], ORAL),
        reason: "P糖蛋白阻害によりダビガトランの血中濃度が上昇し出血のおそれ",
        source: "プラザキサカプセル 添付文書 10.1 併用禁忌 (イトラコナゾール 経口剤)",
    },
    Pair {
        id: "CI-030",
        a: side(&["リバーロキサバン"], ORAL),
        b: side(&["イトラコナゾール", "ボリコナゾール", "ポサコナゾール", "ミコナゾール", "リトナビル"], SYSTEMIC),
        reason: "CYP3A4・P糖蛋白阻害によりリバーロキサバンの血中濃度が上昇し出血のおそれ",
        source: "イグザレルト錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-031",
        a: side(&["アゼルニジピン"], ORAL),
        b: side(&["イトラコナゾール", "ミコナゾール", "リトナビル"], SYSTEMIC),
        reason: "CYP3A4阻害によりアゼルニジピンの血中濃度が上昇",
        source: "カルブロック錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-032",
        a: side(&["ボリコナゾール"], SYSTEMIC),
        b: side(&["リファンピシン"], ORAL),
        reason: "リファンピシンのCYP誘導によりボリコナゾールの血中濃度が著しく低下",
        source: "ブイフェンド錠 添付文書 10.1 併用禁忌",
    },
    Pair {
        id: "CI-033",
        a: side(&["ブロナンセリン"], ANY),
        b: side(&["イトラコナゾール", "ボリコナゾール", "ポサコナゾール", "ミコナゾール", "リトナビル"], SYSTEMIC),
        reason: "CYP3A4阻害によりブロナンセリンの血中濃度が上昇",
        source: "ロナセン錠・ロナセンテープ 添付文書 10.1 併用禁忌",
    },
];

/// The rules the check engine runs with.
pub const RULES: RuleSet = RuleSet {
    version: VERSION,
    groups: GROUPS,
    pairs: PAIRS,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_thirty_cited_pairs_and_twelve_groups() {
        let distinct: usize = PAIRS
            .iter()
            .map(|p| p.a.ingredients.len() * p.b.ingredients.len())
            .sum();
        assert!(
            PAIRS.len() >= 30 && distinct >= 30,
            "{} entries, {distinct} pairs",
            PAIRS.len()
        );
        assert!(PAIRS
            .iter()
            .all(|p| p.source.contains("添付文書") && !p.reason.is_empty()));
        let ids: std::collections::HashSet<_> = PAIRS.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), PAIRS.len());
        for g in [
            "ppi",
            "h2",
            "bz_hypnotic_anxiolytic",
            "nsaid",
            "anticoagulant",
            "statin",
            "arb",
            "acei",
            "dpp4",
            "sglt2",
            "sulfonylurea",
            "opioid",
        ] {
            assert!(GROUPS.iter().any(|x| x.id == g), "{g}");
        }
    }
}
