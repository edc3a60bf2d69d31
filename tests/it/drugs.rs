//! The national drug master: full import from the shared folder, CP932, bad rows,
//! re-import, delisting, lookup by every code.

use pharmacy::domain::drug_master::Flag;
use pharmacy::drugs::{self, import};

use crate::common::TestApp;

/// The real MHLW list (not part of the project; beside it in CI).
pub fn shared(file: &str) -> Vec<u8> {
    let path = format!(
        "{}/../shared/data/drug-master/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{path}: {e} (the shared drug master must be beside the project)")
    })
}

fn y_sample_cp932() -> Vec<u8> {
    let text = String::from_utf8(shared("y_master_format_sample.csv")).unwrap();
    let body: Vec<&str> = text.lines().skip(1).collect();
    encoding_rs::SHIFT_JIS
        .encode(&body.join("\r\n"))
        .0
        .into_owned()
}

#[actix_web::test]
async fn the_full_mhlw_list_imports_with_its_narcotics_and_reimport_changes_nothing() {
    let app = TestApp::spawn().await;
    let bytes = shared("mhlw_yakka_20250716.csv");
    let r = import::import_mhlw(
        &mut app.conn(),
        &app.operator(),
        "mhlw_yakka_20250716.csv",
        &bytes,
        None,
    )
    .unwrap();
    assert_eq!(
        (r.added, r.rejected, r.edition.as_str()),
        (12_434, 0, "20250716")
    );
    assert_eq!(drugs::counts(&mut app.conn()).unwrap(), (12_434, 177));
    let again = import::import_mhlw(
        &mut app.conn(),
        &app.operator(),
        "mhlw_yakka_20250716.csv",
        &bytes,
        None,
    )
    .unwrap();
    assert_eq!(
        (again.added, again.changed, again.delisted, again.unchanged),
        (0, 0, 0, 12_434)
    );

    // The y master (CP932, no header) adds receipt codes, 一般名コード and classes.
    let y = import::import_y_master(
        &mut app.conn(),
        &app.operator(),
        "y.csv",
        &y_sample_cp932(),
        None,
    )
    .unwrap();
    assert_eq!((y.encoding, y.added, y.rejected), ("CP932", 3, 0));
    let ms = drugs::lookup(&mut app.conn(), "610406378").unwrap();
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].yj_code, "8114004G3020");
    assert_eq!(ms[0].narcotic, Flag::Yes);
    assert_eq!(ms[0].psychotropic, Flag::No);
    let by_yj = drugs::lookup(&mut app.conn(), "2325003B2029").unwrap();
    assert_eq!(by_yj[0].receipt_code.as_deref(), Some("610406079"));
    assert_eq!(by_yj[0].name_kana.as_deref(), Some("ガスターサン2%"));
    let by_general = drugs::lookup(&mut app.conn(), "2325003b2zzz").unwrap();
    assert_eq!(by_general.len(), 1);
    // Flags the masters do not give stay unknown, never no.
    let famotidine = drugs::lookup(&mut app.conn(), "2325003B1014").unwrap();
    assert_eq!(famotidine[0].psychotropic, Flag::Unknown);
    assert_eq!(famotidine[0].refrigerated, Flag::Unknown);
    // Combination products: split names and curated hidden components.
    let pl = drugs::lookup(&mut app.conn(), "1180107D1131").unwrap();
    assert!(pl[0]
        .ingredients
        .contains(&"アセトアミノフェン".to_string()));
    let found = drugs::search(&mut app.conn(), "ろきそにん", 50).unwrap();
    assert!(found.iter().any(|p| p.name.starts_with("ロキソニン")));
    let found = drugs::search(&mut app.conn(), "ﾌｧﾓﾁｼﾞﾝ", 50).unwrap();
    assert!(found.len() >= 10, "half-width kana finds the ingredient");
    assert!(drugs::lookup(&mut app.conn(), "999999999")
        .unwrap()
        .is_empty());
}

#[actix_web::test]
async fn cp932_files_bad_rows_and_delisting() {
    let app = TestApp::spawn().await;
    let text = String::from_utf8(shared("mhlw_yakka_20250716.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().take(201).collect();
    lines.insert(5, "内用薬,NOT-A-CODE,壊れた行,,,,,x,,,,,1,,");
    lines.insert(9, "内用薬,1121001X1018,短い行");
    let cp932 = encoding_rs::SHIFT_JIS
        .encode(&lines.join("\r\n"))
        .0
        .into_owned();
    let r = import::import_mhlw(
        &mut app.conn(),
        &app.operator(),
        "list_20250101.csv",
        &cp932,
        None,
    )
    .unwrap();
    assert_eq!(r.encoding, "CP932");
    assert_eq!(r.added, 200);
    assert_eq!(r.rejected, 2);
    assert_eq!(r.errors.iter().map(|e| e.line).collect::<Vec<_>>(), [6, 10]);

    // A later edition without the first ten products: delisted, still resolvable.
    let mut newer: Vec<&str> = vec![lines[0]];
    newer.extend(text.lines().skip(11).take(190));
    let r = import::import_mhlw(
        &mut app.conn(),
        &app.operator(),
        "list_20250401.csv",
        newer.join("\n").as_bytes(),
        None,
    )
    .unwrap();
    assert_eq!(
        (r.added, r.changed, r.delisted, r.unchanged),
        (0, 0, 10, 190)
    );
    let first_code = text.lines().nth(1).unwrap().split(',').nth(1).unwrap();
    let old = drugs::lookup(&mut app.conn(), first_code).unwrap();
    assert_eq!(old[0].delisted_edition.as_deref(), Some("20250401"));
    assert_eq!(app.audit("drugs.imported").len(), 2);
}

#[actix_web::test]
async fn an_unreadable_file_changes_nothing() {
    let app = TestApp::spawn().await;
    let r = import::import_mhlw(
        &mut app.conn(),
        &app.operator(),
        "x.csv",
        b"no,header,here\n1,2,3\n",
        None,
    );
    assert!(matches!(r, Err(import::ImportError::File(_))));
    assert_eq!(drugs::counts(&mut app.conn()).unwrap(), (0, 0));
}
