//! `pharmacy demo`: a fresh database under `var/demo/` with two pharmacies of one
//! chain, one account per role and sample patients, served on localhost. Demo
//! accounts may skip second-factor enrolment (only here) and every page shows a
//! DEMO banner.

use std::net::TcpListener;
use std::sync::Arc;

use crate::auth::hashing::hash_password;
use crate::cli::{migrate, run_server, CliResult};
use crate::clock::{Clock, SystemClock};
use crate::config::Validated;
use crate::context::Ctx;
use crate::db::{DatabaseUrl, DbConnection};
use crate::domain::clinic::ClinicInput;
use crate::domain::patient::{PatientInput, PublicExpense};
use crate::domain::pharmacy::PharmacyInput;
use crate::domain::role::Role;
use crate::web::AppState;
use crate::{patients, pharmacies, users};

/// Password of every demo account.
pub const DEMO_PASSWORD: &str = "kusuri-demo-2026";

/// Demo accounts: (username, display name, role in the main pharmacy).
pub const DEMO_USERS: [(&str, &str, Role); 4] = [
    ("admin", "管理 花子", Role::Admin),
    ("pharmacist", "薬師 太郎", Role::Pharmacist),
    ("clerk", "事務 次郎", Role::Clerk),
    ("courier", "配送 三郎", Role::Courier),
];

fn pharmacy(code: &str, name: &str, address: &str, phone: &str) -> PharmacyInput {
    PharmacyInput {
        code: code.into(),
        name: name.into(),
        postal_code: "160-0022".into(),
        address: address.into(),
        phone: phone.into(),
        email: "info@sakura-pharmacy.example".into(),
        founder: "株式会社さくら薬局".into(),
    }
}

fn patient(
    kanji: &str,
    kana: &str,
    birth: &str,
    sex: &str,
    insurer: &str,
    number: &str,
) -> PatientInput {
    PatientInput {
        name_kanji: kanji.into(),
        name_kana: kana.into(),
        birth_date: birth.into(),
        sex: sex.into(),
        postal_code: Some("160-0022".into()),
        address: Some("東京都新宿区新宿1-2-3".into()),
        phone: Some("090-1234-5678".into()),
        insurer_number: Some(insurer.into()),
        insured_symbol: Some("12".into()),
        insured_number: Some(number.into()),
        insured_branch: Some("01".into()),
        ..PatientInput::default()
    }
}

/// Seeds a migrated, empty database. Returns the main pharmacy's id.
pub fn seed(conn: &mut DbConnection, iterations: u32) -> CliResult<String> {
    let ctx = Ctx::operator(SystemClock.now());
    let main = pharmacies::create(
        conn,
        &ctx,
        &pharmacy(
            "1341234567",
            "さくら薬局 新宿本店",
            "東京都新宿区新宿3-1-1",
            "03-1234-5678",
        ),
    )
    .map_err(|e| e.to_string())?;
    let branch = pharmacies::create(
        conn,
        &ctx,
        &pharmacy(
            "1341234575",
            "さくら薬局 駅前店",
            "東京都新宿区西新宿1-1-1",
            "03-2345-6789",
        ),
    )
    .map_err(|e| e.to_string())?;
    crate::drugs::import::import_curated(conn, &ctx).map_err(|e| e.to_string())?;
    let hash = hash_password(DEMO_PASSWORD, iterations);
    for (username, name, role) in DEMO_USERS {
        let id = users::add(conn, &ctx, &main.id, username, name, role, &hash)
            .map_err(|e| e.to_string())?;
        if role == Role::Admin {
            users::set_role(conn, &ctx, &branch.id, &id, Role::Admin, true)
                .map_err(|e| e.to_string())?;
        }
    }
    let mut samples = vec![
        patient(
            "山田 太郎",
            "ヤマダ タロウ",
            "1958-04-12",
            "male",
            "01130012",
            "1001",
        ),
        patient(
            "佐藤 花子",
            "サトウ ハナコ",
            "1972-11-03",
            "female",
            "06130017",
            "2002",
        ),
        patient(
            "鈴木 一郎",
            "スズキ イチロウ",
            "1945-01-30",
            "male",
            "39131016",
            "3003",
        ),
        patient(
            "高橋 美咲",
            "タカハシ ミサキ",
            "1990-07-21",
            "female",
            "01130012",
            "4004",
        ),
        patient(
            "田中 健",
            "タナカ ケン",
            "2015-05-05",
            "male",
            "138057",
            "5005",
        ),
        patient(
            "伊藤 さくら",
            "イトウ サクラ",
            "1983-03-15",
            "female",
            "06130017",
            "6006",
        ),
    ];
    samples[2].allergies = Some("ペニシリン系抗菌薬で発疹".into());
    samples[1].email = Some("hanako.sato@example.jp".into());
    samples[1].email_allowed = true;
    samples[3].email = Some("misaki.t@example.jp".into());
    samples[4].public_expenses = vec![PublicExpense {
        payer_number: "88136015".into(),
        recipient_number: Some("1234566".into()),
    }];
    let mut ids = Vec::new();
    for p in &samples {
        ids.push(
            patients::create(conn, &ctx, &main.id, p)
                .map_err(|e| e.to_string())?
                .id,
        );
    }
    seed_clinical(conn, &ctx, &main.id, &ids[0])?;
    // Narcotic stock received from the wholesaler (麻薬帳簿), so the demo's
    // narcotic prescription can be dispensed.
    for (product, quantity) in [("8119002G5020", 200), ("8114004G1027", 100)] {
        crate::ledger::record(
            conn,
            &ctx,
            &main.id,
            &crate::ledger::EntryInput {
                product: product.into(),
                kind: "received".into(),
                quantity,
                unit: "錠".into(),
                lot: "DEMO-LOT-1".into(),
                reference: "卸伝票 DEMO-0001".into(),
                ..crate::ledger::EntryInput::default()
            },
        )
        .map_err(|e| e.to_string())?;
    }
    for clinic in [
        ClinicInput {
            name: "新宿内科クリニック".into(),
            institution_code: Some("1312345678".into()),
            phone: Some("03-3333-1111".into()),
            fax: Some("03-3333-1112".into()),
            email: Some("info@shinjuku-naika.example".into()),
            email_allowed: true,
            notes: Some("オンライン診療あり。処方箋はFAXで送付、原本は郵送。".into()),
            sender_addresses: Some("rx@shinjuku-naika.example".into()),
        },
        ClinicInput {
            name: "西新宿整形外科".into(),
            institution_code: Some("1312345679".into()),
            phone: Some("03-3333-2221".into()),
            fax: Some("03-3333-2222".into()),
            ..ClinicInput::default()
        },
    ] {
        crate::clinics::create(conn, &ctx, &main.id, &clinic).map_err(|e| e.to_string())?;
    }
    patients::create(
        conn,
        &ctx,
        &branch.id,
        &patient(
            "渡辺 直子",
            "ワタナベ ナオコ",
            "1966-09-09",
            "female",
            "01130012",
            "7007",
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok(main.id)
}

/// A dispensed prescription, a declared medicine from another pharmacy, and a new
/// prescription whose check shows a duplicate and a contraindicated pair.
fn seed_clinical(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    patient_id: &str,
) -> CliResult<()> {
    use crate::domain::prescription::{ItemInput, PrescriptionInput};
    let policy = crate::domain::checks::CurrencyPolicy::default();
    let item = |rp: i32, code: &str, dose: &str, usage: &str, days: i32| ItemInput {
        rp,
        drug_code: code.into(),
        dose: dose.into(),
        usage: usage.into(),
        days,
        as_needed: false,
    };
    let rx = |items: Vec<ItemInput>| PrescriptionInput {
        patient_id: patient_id.into(),
        institution_name: "新宿内科クリニック".into(),
        prescriber_name: "内科 一郎".into(),
        issue_date: ctx.today().to_string(),
        items,
    };
    let first = crate::prescriptions::create_manual(
        conn,
        ctx,
        pharmacy_id,
        &rx(vec![
            item(1, "2325003F1024", "1錠", "1日2回朝夕食後", 28),
            item(2, "2171022F2041", "1錠", "1日1回朝食後", 28),
        ]),
        &policy,
    )
    .map_err(|e| e.to_string())?;
    if first.open_findings == 0 {
        crate::prescriptions::dispense(
            conn,
            ctx,
            pharmacy_id,
            &first.header.id,
            &Default::default(),
            &crate::prescriptions::DispenseSettings {
                result_dead_after: chrono::Duration::hours(24),
                originals: Default::default(),
            },
        )
        .map_err(|e| e.to_string())?;
    }
    crate::medications::declare(
        conn,
        ctx,
        pharmacy_id,
        patient_id,
        &crate::medications::DeclaredInput {
            drug_code: Some("6290003X1039".into()),
            drug_name: "フロリードゲル経口用2%".into(),
            origin: "other_pharmacy".into(),
            start_date: (ctx.today() - chrono::Duration::days(3)).to_string(),
            days: Some(14),
            as_needed: false,
            note: "歯科で処方（お薬手帳より）".into(),
        },
    )
    .map_err(|e| e.to_string())?;
    crate::prescriptions::create_manual(
        conn,
        ctx,
        pharmacy_id,
        &rx(vec![
            item(1, "2325003F2020", "1錠", "1日1回夕食後", 14),
            item(2, "3332001D1023", "1g", "1日1回朝食後", 14),
        ]),
        &policy,
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Messages that arrive as prescription copies in the demo: a clinic's e-mail
/// with a PDF, a fax through a fax-to-e-mail gateway, a message from an unknown
/// and unauthenticated sender (triage) and a message cut off in transit
/// (quarantine). They are the test suite's fixtures.
const DEMO_COPIES: [&[u8]; 4] = [
    include_bytes!("../tests/fixtures/mail/pdf_attachment.eml"),
    include_bytes!("../tests/fixtures/mail/fax_gateway.eml"),
    include_bytes!("../tests/fixtures/mail/unknown_sender.eml"),
    include_bytes!("../tests/fixtures/mail/truncated.eml"),
];

/// Files the demo copies into the main pharmacy's inbox.
fn seed_copies(conn: &mut DbConnection, settings: &Validated, pharmacy_id: &str) -> CliResult<()> {
    let store = crate::copies::FileStore::new(&settings.raw.copies.files_dir);
    let ctx = Ctx::operator(SystemClock.now());
    for raw in DEMO_COPIES {
        match crate::copies::ingest::receive_mail(
            conn,
            &store,
            &ctx,
            pharmacy_id,
            raw,
            &settings.raw.copies.limits(),
        ) {
            Ok(_) | Err(crate::copies::CopyError::Rejected { .. }) => {}
            Err(e) => return Err(format!("demo copies: {e}")),
        }
    }
    Ok(())
}

/// Runs the demo.
pub fn run(mut settings: Validated, listen: &str) -> CliResult<()> {
    let dir = std::path::Path::new("var/demo");
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    settings.database = DatabaseUrl::Sqlite(dir.join("pharmacy.db"));
    settings.listen = listen
        .parse()
        .map_err(|_| format!("--listen: `{listen}` is not an address like 127.0.0.1:8080"))?;
    if !settings.listen.ip().is_loopback() {
        return Err("the demo only serves on a loopback address".into());
    }
    settings.raw.server.cookie_secure = false;
    settings.raw.server.public_url = String::new();
    settings.tls = None;
    settings.raw.mail.transport = "file".into();
    settings.raw.mail.file_dir = dir.join("mail").display().to_string();
    settings.raw.copies.files_dir = dir.join("files").display().to_string();
    // The national services: a simulator on a folder next to the database.
    let terminal = dir.join("eps-terminal");
    settings.raw.eps.request_dir = terminal.join("req").display().to_string();
    settings.raw.eps.response_dir = terminal.join("res").display().to_string();
    settings.raw.eps.quarantine_dir = terminal.join("quarantine").display().to_string();
    let today = SystemClock
        .now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive();
    let seeded = crate::eps::demo::seed(&terminal, today)
        .map_err(|e| format!("cannot seed the national-services simulator: {e}"))?;
    crate::eps::demo::run_in_background(&terminal, std::time::Duration::from_secs(2))
        .map_err(|e| format!("cannot start the national-services simulator: {e}"))?;

    let pool = migrate(&settings)?;
    let guidance_at;
    {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let main = seed(&mut conn, settings.raw.security.pbkdf2_iterations)?;
        seed_copies(&mut conn, &settings, &main)?;
        let outbox = AppState::new(pool.clone(), settings.clone(), Arc::new(SystemClock), true)
            .outbox
            .clone();
        guidance_at = crate::guidance::demo::seed(
            &mut conn,
            &Ctx::operator(SystemClock.now()),
            &outbox,
            &main,
            "1341234567",
            &terminal,
            today,
        )
        .map_err(|e| format!("cannot seed online guidance: {e}"))?;
        crate::deliveries::demo::seed(
            &mut conn,
            &Ctx::operator(SystemClock.now()),
            &outbox,
            &main,
            today,
        )
        .map_err(|e| format!("cannot seed deliveries: {e}"))?;
    }
    let listener = TcpListener::bind(settings.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    let url = settings.public_url();
    println!();
    println!("  DEMO: pharmacy console at {url}/");
    println!("  Sign in with any of these accounts (password: {DEMO_PASSWORD}):");
    for (username, _, role) in DEMO_USERS {
        println!("    {username:<11} {} ({})", role.as_str(), role.label());
    }
    println!("  Second-factor enrolment is optional in the demo only.");
    println!("  Data: var/demo/pharmacy.db (recreated at every start). Stop with Ctrl-C.");
    println!();
    println!("  Outgoing e-mail is written to var/demo/mail/ as .eml files.");
    println!();
    println!("  Online guidance (服薬指導): 佐藤 花子 is booked with 薬師 太郎 on {guidance_at}");
    println!("  (Japan time) with her consents; the simulator holds her drug information.");
    println!();
    println!("  Home delivery (配送): 山田 太郎's parcel is with the courier. Sign in as");
    println!("  `courier` for the phone page at /courier; the handover code is in the");
    println!("  shipped notice (お知らせ, to be passed on by phone: he has no e-mail).");
    println!();
    println!("  E-prescriptions (電子処方箋): a simulator of the national services answers");
    println!("  in var/demo/eps-terminal/ (about 2 s per answer, like the real service).");
    println!("  Accept these at 電子処方箋 (保険者番号 / 番号 / 枝番 01):");
    for s in &seeded {
        println!(
            "    引換番号 {}  {} / {} / {}  {}",
            s.access_code, s.insurer, s.number, s.branch, s.label
        );
    }
    println!(
        "  Issue more with: pharmacy eps-sim --dir var/demo/eps-terminal issue --csv FILE ..."
    );
    println!();
    println!("  Copies by fax / e-mail (写し受付): four messages are in the inbox (an e-mail");
    println!("  copy, a gateway fax, a suspicious sender in triage, a cut-off message in");
    println!("  quarantine). Feed more with:");
    println!("    PHARMACY__DATABASE__URL=sqlite://var/demo/pharmacy.db \\");
    println!("    PHARMACY__COPIES__FILES_DIR=var/demo/files \\");
    println!("    pharmacy mail ingest --pharmacy 1341234567 < FILE.eml");
    let state = AppState::new(pool, settings, Arc::new(SystemClock), true);
    crate::cli::start_worker(&state)?;
    run_server(state, listener)
}
