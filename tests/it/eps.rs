//! The national-services simulator as a real process, driven through the
//! file-drop gateway client.

use std::process::{Command, Stdio};
use std::time::Duration;

use pharmacy::domain::eps::messages::{ErrorKind, Operation, Request};
use pharmacy::eps::gateway::{Gateway, GatewayConfig};

const CSV: &str = "JAHIS10\r\n1,1,1312345678,13,新宿内科クリニック\r\n5,,ナイカ イチロウ,内科 一郎\r\n11,P1,山田 太郎,ヤマダ タロウ\r\n51,20991231\r\n101,1,1,内服,14\r\n201,1,1,1,2,610406079,ガスター散２％,1,1,g\r\n";

#[test]
fn accept_through_the_simulator_process() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rx.csv");
    std::fs::write(&csv, CSV).unwrap();
    let sim_dir = dir.path().join("terminal");
    let out = Command::new(env!("CARGO_BIN_EXE_pharmacy"))
        .args(["eps-sim", "--dir"])
        .arg(&sim_dir)
        .args([
            "issue",
            "--insurer",
            "01130012",
            "--number",
            "1001",
            "--branch",
            "01",
            "--csv",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(code.len(), 6);

    let mut sim = Command::new(env!("CARGO_BIN_EXE_pharmacy"))
        .args(["eps-sim", "--latency-ms", "0", "--dir"])
        .arg(&sim_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let g = Gateway::new(GatewayConfig {
        request_dir: sim_dir.join("req"),
        response_dir: sim_dir.join("res"),
        quarantine_dir: dir.path().join("bad"),
        timeout: Duration::from_secs(10),
        poll_interval: Duration::from_millis(10),
        processing_retry: Duration::from_millis(50),
        max_processing: 5,
    })
    .unwrap();
    let accept = |code: &str, branch: &str, id: &str| Request {
        operation: Operation::Accept,
        institution_code: "1341234567".into(),
        file_id: id.into(),
        body: vec![
            ("AccessCode".into(), code.into()),
            ("InsurerNumber".into(), "01130012".into()),
            ("InsuredNumber".into(), "1001".into()),
            ("InsuredBranch".into(), branch.into()),
            ("PharmacyName".into(), "さくら薬局".into()),
        ],
    };
    let wrong = g.call(&accept(&code, "02", "t1")).unwrap();
    let ok = g.call(&accept(&code, "01", "t2")).unwrap();
    let unknown = g.call(&accept("000000", "01", "t3"));
    sim.kill().unwrap();
    sim.wait().unwrap();
    assert_eq!(wrong.error(), Some(ErrorKind::InsuranceMismatch));
    assert_eq!(ok.error(), None);
    assert_eq!(ok.prescription_status.as_deref(), Some("調剤中"));
    let payload = ok.csv.unwrap();
    let data = pharmacy::domain::rx_csv::interpret(
        &pharmacy::domain::rx_csv::parse_document(&payload).unwrap(),
    )
    .unwrap();
    assert_eq!(data.rps[0].items[0].code, "610406079");
    let unknown = unknown.unwrap();
    assert!(
        unknown.error() == Some(ErrorKind::UnknownCode) || code == "000000",
        "{unknown:?}"
    );
}

#[test]
fn a_consent_registered_with_the_simulator_process_gives_drug_information() {
    let dir = tempfile::tempdir().unwrap();
    let sim_dir = dir.path().join("terminal");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive();
    let visit = (today + chrono::Duration::days(2)).to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_pharmacy"))
        .args(["eps-sim", "--dir"])
        .arg(&sim_dir)
        .args([
            "consent",
            "--pharmacy",
            "1341234567",
            "--insurer",
            "01130012",
            "--number",
            "1001",
            "--birth",
            "1958-04-12",
            "--name",
            "山田 太郎",
            "--visit-date",
            &visit,
            "--drug",
            "2171022F2041:アムロジン錠5mg:2026-11-01:28:新宿内科クリニック",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_pharmacy"))
        .args(["eps-sim", "--dir"])
        .arg(&sim_dir)
        .args([
            "consent",
            "--pharmacy",
            "1",
            "--insurer",
            "1",
            "--number",
            "1",
            "--birth",
            "1958-04-12",
            "--name",
            "x",
            "--visit-date",
            &visit,
            "--drug",
            "nonsense",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success(), "a malformed --drug is refused");
    let ask = |id: &str, number: &str| Request {
        operation: Operation::DrugInformation,
        institution_code: "1341234567".into(),
        file_id: id.into(),
        body: vec![
            ("InsurerNumber".into(), "01130012".into()),
            ("InsuredNumber".into(), number.into()),
            ("InsuredBranch".into(), String::new()),
            ("BirthDate".into(), "19580412".into()),
        ],
    };
    std::fs::create_dir_all(sim_dir.join("req")).unwrap();
    for (id, number) in [("d1", "1001"), ("d2", "9999")] {
        std::fs::write(
            sim_dir.join("req").join(format!("{id}_req.xml")),
            ask(id, number).to_xml().unwrap(),
        )
        .unwrap();
    }
    let once = Command::new(env!("CARGO_BIN_EXE_pharmacy"))
        .args(["eps-sim", "--latency-ms", "0", "--dir"])
        .arg(&sim_dir)
        .arg("once")
        .output()
        .unwrap();
    assert!(once.status.success());
    let read = |id: &str| {
        pharmacy::domain::eps::messages::Response::parse(
            &std::fs::read(sim_dir.join("res").join(format!("{id}_res.xml"))).unwrap(),
        )
        .unwrap()
    };
    let found = read("d1");
    assert_eq!(found.error(), None);
    assert_eq!(found.records.len(), 1);
    assert_eq!(read("d2").error(), Some(ErrorKind::NoConsent));
}
