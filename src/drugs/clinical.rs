//! Curated clinical rules shipped with the project: therapeutic groups for
//! class-duplicate checks and contraindicated pairs (併用禁忌) taken from the
//! 【併用禁忌】 sections of package inserts (添付文書). Each entry names its source.
//!
//! No public, redistributable 併用禁忌 dataset exists: this is a curated list and
//! the product says "not in the checked list", never "no interaction". Each pair
//! records in `checked` where its insert text was read (2026-11) and the revision
//! or page date seen; a few were confirmed only from the partner drug's insert or a
//! secondary source, which `checked` says. A pair found to be only 併用注意
//! (simvastatin × ritonavir) was removed.

use crate::domain::checks::{Group, Pair, RuleSet, Side};
use crate::domain::drug_master::Route::{self, External, Injection, Oral, Rectal};

/// Version of this curated data (bump on every change).
pub const VERSION: &str = "2026.11.2";

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
        checked: "2026-11: フロリードゲル経口用・オラビ錠口腔用 2.2/10.1 (medpeer 最終更新 2023-04-06; オラビ 2024年4月改訂第4版); ワーファリン【禁忌】(2016年10月改訂); 外用・腟剤は対象外",
    },
    Pair {
        id: "CI-002",
        a: side(&["ワルファリン"], ORAL),
        b: side(&["イグラチモド"], ORAL),
        reason: "ワルファリンの作用が増強し重篤な出血のおそれ",
        source: "ケアラム錠 添付文書 10.1 併用禁忌; ワーファリン錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: ケアラム 2.5/10.1 (電子添文 2022年8月改訂第1版, エーザイFAQ 2024年9月); ワーファリン【禁忌】",
    },
    Pair {
        id: "CI-003",
        a: side(&["ワルファリン"], ORAL),
        b: side(&["メナテトレノン"], ORAL),
        reason: "骨粗鬆症治療用ビタミンK2製剤がワルファリンの効果を減弱",
        source: "ワーファリン錠 添付文書 10.1 併用禁忌 (メナテトレノン グラケー); グラケーカプセル 添付文書 10.1",
        checked: "2026-11: ワーファリン【禁忌】7 (骨粗鬆症治療用ビタミンK2製剤のみ); エーザイFAQ",
    },
    Pair {
        id: "CI-004",
        a: side(&["シンバスタチン"], ORAL),
        b: side(&["イトラコナゾール", "ポサコナゾール"], SYSTEMIC),
        reason: "CYP3A4阻害によりシンバスタチンの血中濃度が上昇し横紋筋融解症のおそれ",
        source: "リポバス錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: シンバスタチン 禁忌 (治療薬マニュアル); イトラコナゾール 2.1/10.1 (medpeer 2024-04-05)",
    },
    Pair {
        id: "CI-005",
        a: side(&["シンバスタチン"], ORAL),
        b: side(&["ミコナゾール"], SYSTEMIC),
        reason: "CYP3A4阻害によりシンバスタチンの血中濃度が上昇し横紋筋融解症のおそれ",
        source: "リポバス錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: シンバスタチン 禁忌; フロリードゲル 2.2, オラビ 2.2 (2024年4月第4版)",
    },
    Pair {
        id: "CI-007",
        a: side(&["アトルバスタチン"], ORAL),
        b: side(&["グレカプレビル"], ORAL),
        reason: "アトルバスタチンの血中濃度が上昇し横紋筋融解症等のおそれ",
        source: "マヴィレット配合錠 添付文書 10.1 併用禁忌; リピトール錠 添付文書 10.1",
        checked: "2026-11: アトーゼット配合錠 2.4/10.1; アトルバスタチン錠「日医工」 (マヴィレット側は未確認)",
    },
    Pair {
        id: "CI-008",
        a: side(&["ロスバスタチン"], ORAL),
        b: side(&["シクロスポリン"], SYSTEMIC),
        reason: "ロスバスタチンの血中濃度が上昇し横紋筋融解症等のおそれ",
        source: "クレストール錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: ロスバスタチン「三和」10.1 (2023年7月改訂第2版); シクロスポリン 10.1 (KEGG)",
    },
    Pair {
        id: "CI-009",
        a: side(&["ピタバスタチン"], ORAL),
        b: side(&["シクロスポリン"], SYSTEMIC),
        reason: "ピタバスタチンの血中濃度が上昇し横紋筋融解症等のおそれ",
        source: "リバロ錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: リバロOD錠 10.1 (2023年7月改訂第5版)",
    },
    Pair {
        id: "CI-010",
        a: side(&["トリアゾラム"], ORAL),
        b: side(AZOLES_STRONG, SYSTEMIC),
        reason: "CYP3A4阻害によりトリアゾラムの血中濃度が上昇し作用が増強・延長",
        source: "ハルシオン錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: ハルシオン 2.4/10.1 (2023年6月改訂第4版; ポサコナゾールは2022年7月追加)",
    },
    Pair {
        id: "CI-011",
        a: side(&["トリアゾラム"], ORAL),
        b: side(&["ミコナゾール", "リトナビル"], SYSTEMIC),
        reason: "CYP3A4阻害によりトリアゾラムの血中濃度が上昇し作用が増強・延長",
        source: "ハルシオン錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: ハルシオン 2.4; フロリードゲル 10.1; ノービア 禁忌 (medpeer 2024-07-05)",
    },
    Pair {
        id: "CI-012",
        a: side(&["スボレキサント"], ORAL),
        b: side(&["イトラコナゾール", "ボリコナゾール", "ポサコナゾール", "クラリスロマイシン", "リトナビル"], SYSTEMIC),
        reason: "CYP3A強阻害によりスボレキサントの作用が著しく増強",
        source: "ベルソムラ錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: ベルソムラ 10.1 (2023年8月改訂第2版)",
    },
    Pair {
        id: "CI-013",
        a: side(&["チザニジン"], ORAL),
        b: side(&["フルボキサミン"], ORAL),
        reason: "CYP1A2阻害によりチザニジンの血中濃度が著しく上昇し血圧低下・傾眠等",
        source: "テルネリン錠 添付文書 10.1 併用禁忌; ルボックス錠 添付文書 10.1",
        checked: "2026-11: テルネリン 2.2/10.1 (2024年7月改訂第2版)",
    },
    Pair {
        id: "CI-014",
        a: side(&["チザニジン"], ORAL),
        b: side(&["シプロフロキサシン"], SYSTEMIC),
        reason: "CYP1A2阻害によりチザニジンの血中濃度が著しく上昇",
        source: "テルネリン錠 添付文書 10.1 併用禁忌; シプロキサン錠 添付文書 10.1",
        checked: "2026-11: テルネリン 10.1 (2024年7月改訂第2版)",
    },
    Pair {
        id: "CI-015",
        a: side(&["ラメルテオン"], ORAL),
        b: side(&["フルボキサミン"], ORAL),
        reason: "CYP1A2阻害によりラメルテオンの血中濃度が著しく上昇",
        source: "ロゼレム錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: ロゼレム 禁忌 (武田 製品情報); ラメルテオン「サワイ」",
    },
    Pair {
        id: "CI-016",
        a: side(&["シルデナフィル"], ORAL),
        b: side(NITRATES, ANY),
        reason: "硝酸剤・NO供与剤との併用で降圧作用が増強し過度の血圧低下",
        source: "バイアグラ錠・レバチオ錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: ニトロダーム 10.1 (バイアグラ・レバチオ記載, KEGG); 硝酸剤・NO供与剤の分類として (ニコランジル・一硝酸イソソルビドはPDE5阻害剤側の本文で未確認)",
    },
    Pair {
        id: "CI-017",
        a: side(&["タダラフィル"], ORAL),
        b: side(NITRATES, ANY),
        reason: "硝酸剤・NO供与剤との併用で降圧作用が増強し過度の血圧低下",
        source: "シアリス錠・アドシルカ錠・ザルティア錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: アドシルカ 禁忌 (ニコランジルを明記); ニトロダーム 10.1 (シアリス・ザルティア)",
    },
    Pair {
        id: "CI-018",
        a: side(&["シルデナフィル", "タダラフィル"], ORAL),
        b: side(&["リオシグアト"], ORAL),
        reason: "sGC刺激剤との併用で症候性低血圧のおそれ",
        source: "アデムパス錠 添付文書 10.1 併用禁忌 (PDE5阻害剤)",
        checked: "2026-11: アドシルカ 禁忌 3) (リオシグアト); バイアグラ 併用禁忌表 (二次資料)",
    },
    Pair {
        id: "CI-019",
        a: side(&["シルデナフィル"], ORAL),
        b: side(&["アミオダロン"], ORAL),
        reason: "QTc延長作用が増強するおそれ",
        source: "バイアグラ錠 添付文書 10.1 併用禁忌 (アミオダロン塩酸塩 経口剤)",
        checked: "2026-11: バイアグラ 併用禁忌 アミオダロン(経口剤) (二次資料・キッセイ患者向け資料; 添付文書本文は未確認)",
    },
    Pair {
        id: "CI-020",
        a: side(&["エプレレノン"], ORAL),
        b: side(&["イトラコナゾール", "リトナビル"], ORAL),
        reason: "CYP3A4阻害によりエプレレノンの血中濃度が上昇し高カリウム血症のおそれ",
        source: "セララ錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: セララ 2.6 (イトラコナゾール、リトナビル含有製剤); イトラコナゾール側 medpeer 2024-04-05",
    },
    Pair {
        id: "CI-021",
        a: side(&["エプレレノン"], ORAL),
        b: side(&["塩化カリウム"], ORAL),
        reason: "高カリウム血症のおそれ（高血圧症の患者）",
        source: "セララ錠 添付文書 2.禁忌〈高血圧症〉・10.1 併用禁忌 (カリウム製剤)",
        checked: "2026-11: セララ 禁忌〈高血圧症〉カリウム製剤 (closedi)",
    },
    Pair {
        id: "CI-035",
        a: side(&["エプレレノン"], ORAL),
        b: side(&["スピロノラクトン"], ORAL),
        reason: "高カリウム血症のおそれ",
        source: "セララ錠 添付文書 2.5〈効能共通〉・10.1 併用禁忌 (カリウム保持性利尿薬及びミネラルコルチコイド受容体拮抗薬)",
        checked: "2026-11: セララ 禁忌〈効能共通〉2.5 カリウム保持性利尿薬及びミネラルコルチコイド受容体拮抗薬",
    },
    Pair {
        id: "CI-022",
        a: side(&["シプロフロキサシン"], SYSTEMIC),
        b: side(&["ケトプロフェン"], &[Injection, Rectal]),
        reason: "中枢神経のGABA抑制作用が増強し痙攣のおそれ",
        source: "シプロキサン錠 添付文書 2.2・10.1 併用禁忌 (ケトプロフェン 注射剤、坐剤)",
        checked: "2026-11: シプロキサン錠 2.2/10.1 ケトプロフェン(注射剤、坐剤) (2022年9月改訂第1版)",
    },
    Pair {
        id: "CI-023",
        a: side(&["セレギリン", "ラサギリン"], ORAL),
        b: side(&["トラマドール", "ペチジン", "タペンタドール"], SYSTEMIC),
        reason: "セロトニン症候群・高度の興奮等のおそれ",
        source: "エフピーOD錠・アジレクト錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: エフピー 2./10.1 (DSU No.324, 2024年3月); アジレクト 10.1 (2022年9月改訂第2版)",
    },
    Pair {
        id: "CI-024",
        a: side(&["セレギリン", "ラサギリン"], ORAL),
        b: side(SSRIS, ORAL),
        reason: "セロトニン症候群のおそれ",
        source: "エフピーOD錠・アジレクト錠 添付文書 10.1 併用禁忌; パロキセチン・フルボキサミン・セルトラリン・エスシタロプラム各添付文書 10.1 (MAO阻害剤)",
        checked: "2026-11: エフピー 禁忌 選択的セロトニン再取り込み阻害剤(フルボキサミン等) (DSU No.324); アジレクト (二次資料)",
    },
    Pair {
        id: "CI-025",
        a: side(TRIPTANS, ANY),
        b: side(&["エルゴタミン"], ORAL),
        reason: "血管収縮作用が増強するおそれ",
        source: "イミグラン・ゾーミッグ・マクサルト・レルパックス・アマージ 添付文書 10.1 併用禁忌",
        checked: "2026-11: レルパックス 2.7/10.1 (medpeer 2024-08-07); マクサルト 2.8 (2024年7月改訂第3版); ゾルミトリプタンOD「タカタ」10.1; クリアミン側 5-HT1B/1D受容体作動薬",
    },
    Pair {
        id: "CI-026",
        a: side(&["スマトリプタン", "ゾルミトリプタン", "リザトリプタン"], ANY),
        b: side(&["セレギリン", "ラサギリン"], ORAL),
        reason: "MAO阻害によりトリプタンの血中濃度が上昇するおそれ",
        source: "マクサルト錠 添付文書 2.9・10.1; イミグラン・ゾーミッグ 添付文書 10.1 併用禁忌 (MAO阻害剤); エレトリプタン・ナラトリプタンは該当しない",
        checked: "2026-11: マクサルト 2.9 (2024年7月第3版); イミグラン・ゾーミッグは二次資料; エレトリプタン・ナラトリプタンはMAO阻害剤を禁忌としない",
    },
    Pair {
        id: "CI-027",
        a: side(&["リザトリプタン"], ORAL),
        b: side(&["プロプラノロール"], ORAL),
        reason: "リザトリプタンの血中濃度が上昇",
        source: "マクサルト錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: マクサルトRPD 2.10 (2024年7月改訂第3版)",
    },
    Pair {
        id: "CI-028",
        a: side(&["エルゴタミン"], ORAL),
        b: side(&["クラリスロマイシン", "イトラコナゾール", "ボリコナゾール", "ポサコナゾール", "リトナビル"], SYSTEMIC),
        reason: "CYP3A4阻害によりエルゴタミンの血中濃度が上昇し血管攣縮等の重篤な副作用",
        source: "クリアミン配合錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: クリアミン 禁忌/10.1 (クラリスロマイシン, HIVプロテアーゼ阻害剤, アゾール系); ノクサフィル・ブイフェンド・イトラコナゾール側で確認",
    },
    Pair {
        id: "CI-029",
        a: side(&["ダビガトラン"], ORAL),
        b: side(&["イトラコナゾール"], ORAL),
        reason: "P糖蛋白阻害によりダビガトランの血中濃度が上昇し出血のおそれ",
        source: "プラザキサカプセル 添付文書 10.1 併用禁忌 (イトラコナゾール 経口剤)",
        checked: "2026-11: プラザキサ 2.6/10.1 イトラコナゾール(経口剤) (medpeer 2024-04-05; 2023年11月改訂)",
    },
    Pair {
        id: "CI-030",
        a: side(&["リバーロキサバン"], ORAL),
        b: side(&["イトラコナゾール", "ボリコナゾール", "ポサコナゾール", "ミコナゾール", "リトナビル"], SYSTEMIC),
        reason: "CYP3A4・P糖蛋白阻害によりリバーロキサバンの血中濃度が上昇し出血のおそれ",
        source: "イグザレルト錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: イグザレルト 10.1 (経口又は注射剤のアゾール系; DSU No.322, 2023年12月)",
    },
    Pair {
        id: "CI-031",
        a: side(&["アゼルニジピン"], ORAL),
        b: side(&["イトラコナゾール", "ミコナゾール", "リトナビル"], SYSTEMIC),
        reason: "CYP3A4阻害によりアゼルニジピンの血中濃度が上昇",
        source: "カルブロック錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: カルブロック 2.3/10.1 アゾール系抗真菌剤(経口剤,注射剤) (medpeer 2024-04-05)",
    },
    Pair {
        id: "CI-032",
        a: side(&["ボリコナゾール"], SYSTEMIC),
        b: side(&["リファンピシン"], ORAL),
        reason: "リファンピシンのCYP誘導によりボリコナゾールの血中濃度が著しく低下",
        source: "ブイフェンド錠 添付文書 10.1 併用禁忌",
        checked: "2026-11: ブイフェンド 2.1/10.1 (medpeer 2024-07-05; 2023年8月改訂第5版)",
    },
    Pair {
        id: "CI-033",
        a: side(&["ブロナンセリン"], ANY),
        b: side(&["イトラコナゾール", "ボリコナゾール", "ポサコナゾール", "ミコナゾール", "リトナビル"], SYSTEMIC),
        reason: "CYP3A4阻害によりブロナンセリンの血中濃度が上昇",
        source: "ロナセン錠・ロナセンテープ 添付文書 10.1 併用禁忌",
        checked: "2026-11: ロナセンテープ 2./10.1 (DSU No.331, 2024年12月); ミコナゾールは経口剤・口腔用剤・注射剤",
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
    fn pairs_found_to_be_only_precautions_are_not_listed() {
        // シンバスタチン × リトナビル is 併用注意 (パキロビッド 10.2), not 禁忌.
        let simva = RULES.drug("x", "x", Oral, &["シンバスタチン".to_string()]);
        let rtv = RULES.drug("y", "y", Oral, &["リトナビル".to_string()]);
        assert!(!simva
            .pair_sides
            .iter()
            .any(|(i, s)| rtv.pair_sides.contains(&(*i, 1 - s))));
        // Eletriptan has no MAO-inhibitor contraindication.
        let ele = RULES.drug("z", "z", Oral, &["エレトリプタン臭化水素酸塩".to_string()]);
        let sel = RULES.drug("w", "w", Oral, &["セレギリン塩酸塩".to_string()]);
        assert!(!ele
            .pair_sides
            .iter()
            .any(|(i, s)| sel.pair_sides.contains(&(*i, 1 - s))));
    }

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
