//! The demo's national-services terminal: a simulator on a folder next to the demo
//! database, seeded with a few realistic prescriptions (an ordinary one for a
//! registered patient, a narcotic and a refrigerated product for new patients).

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;

use super::sim::{serve_until, SimPrescription, Store};

/// One seeded prescription, as printed in the demo banner.
pub struct Seeded {
    pub label: &'static str,
    pub access_code: String,
    pub insurer: &'static str,
    pub number: &'static str,
    pub branch: &'static str,
}

#[allow(clippy::too_many_arguments)]
fn csv(
    today: NaiveDate,
    patient: (&str, &str, &str, &str),
    insurer: &str,
    number: &str,
    extra: &str,
    rps: &str,
) -> String {
    let (kanji, kana, sex, birth) = patient;
    format!(
        "JAHIS10\r\n1,1,1312345678,13,新宿内科クリニック\r\n2,1600022,東京都新宿区新宿3-5-1\r\n\
         3,03-3333-1111,03-3333-1112,\r\n4,1,01,内科\r\n5,,ナイカ イチロウ,内科 一郎\r\n\
         11,P{number},{kanji},{kana}\r\n12,{sex}\r\n13,{birth}\r\n21,1\r\n22,{insurer}\r\n\
         23,12,{number},1,01\r\n24,030,070\r\n51,{}\r\n{extra}{rps}",
        today.format("%Y%m%d")
    )
}

/// Seeds the store in `dir`; returns what was issued.
pub fn seed(dir: &Path, today: NaiveDate) -> std::io::Result<Vec<Seeded>> {
    std::fs::create_dir_all(dir)?;
    let mut store = Store::load(dir)?;
    let examples = [
        (
            "通常（山田 太郎: 登録済みの患者）",
            ("山田 太郎", "ヤマダ タロウ", "1", "19580412"),
            "01130012",
            "1001",
            "",
            "101,1,1,内服,14\r\n111,1,1,1013044400000000,1日2回朝夕食後,2\r\n\
             201,1,1,1,4,2325003F1024,ガスター錠10mg,1,1,錠\r\n\
             101,2,1,内服,14\r\n111,2,1,1013021400000000,1日1回朝食後,1\r\n\
             201,2,1,1,4,2171022F2025,ノルバスク錠5mg,1,1,錠\r\n",
            vec![],
        ),
        (
            "麻薬（オキシコンチン: 新規患者、患者情報から登録）",
            ("伊藤 健二", "イトウ ケンジ", "1", "19510220"),
            "06130017",
            "5005",
            "60,第12345号,東京都新宿区西新宿2-8-1,03-5555-0101\r\n",
            "101,1,1,内服,7\r\n111,1,1,1013021400000000,1日2回12時間毎,2\r\n\
             201,1,1,1,4,8119002G5020,オキシコンチンTR錠5mg,2,1,錠\r\n\
             101,2,2,頓服,10\r\n111,2,1,,疼痛時,\r\n\
             201,2,1,1,4,8119002B2023,オキノーム散2.5mg,1,1,包\r\n",
            vec![],
        ),
        (
            "冷所保存（ランタス注: 新規患者、重複投薬チェック結果あり）",
            ("中村 由美", "ナカムラ ユミ", "2", "19660915"),
            "39131016",
            "6006",
            "",
            "101,1,5,注射,1\r\n111,1,1,,1日1回就寝前 10単位,1\r\n\
             201,1,1,1,4,2492416G2024,ランタス注ソロスター,1,1,キット\r\n",
            vec![(
                "W01".to_string(),
                "他の医療機関で同一成分の処方があります".to_string(),
                "トレシーバ注 フレックスタッチ".to_string(),
            )],
        ),
    ];
    let mut out = Vec::new();
    for (label, patient, insurer, number, extra, rps, checks) in examples {
        let code = store.issue(SimPrescription {
            id: String::new(),
            access_code: String::new(),
            insurer_number: insurer.into(),
            insured_number: number.into(),
            insured_branch: "01".into(),
            status: "未受付".into(),
            reception_pharmacy_code: None,
            reception_pharmacy_name: None,
            csv: csv(today, patient, insurer, number, extra, rps),
            issue_date: today,
            expiry_date: None,
            signature_ok: true,
            processing_rounds: 0,
            consent_past_drugs: true,
            checks,
            result: None,
            answers: Default::default(),
        });
        out.push(Seeded {
            label,
            access_code: code,
            insurer,
            number,
            branch: "01",
        });
    }
    store.save(dir)?;
    Ok(out)
}

/// Runs the simulator on `dir` in a background thread for the life of the process.
pub fn run_in_background(dir: &Path, latency: Duration) -> std::io::Result<()> {
    let dir = dir.to_path_buf();
    std::thread::Builder::new()
        .name("eps-sim".into())
        .spawn(move || {
            let never = std::sync::atomic::AtomicBool::new(false);
            serve_until(&dir, latency, Duration::from_millis(50), &never);
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeded_payloads_read_cleanly() {
        let dir = tempfile_dir();
        let today = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let seeded = seed(&dir, today).unwrap();
        assert_eq!(seeded.len(), 3);
        let store = Store::load(&dir).unwrap();
        let mut narcotic = 0;
        for p in &store.prescriptions {
            let doc = crate::domain::rx_csv::parse_document(&p.csv).unwrap();
            let data = crate::domain::rx_csv::interpret(&doc).unwrap();
            assert!(!data.rps.is_empty());
            assert_eq!(data.valid_until(), Some(today + chrono::Duration::days(3)));
            narcotic += data.narcotic.is_some() as usize;
        }
        assert_eq!(narcotic, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("eps-demo-{}", uuid::Uuid::new_v4().simple()))
    }
}
