//! Parser tests: a realistic payload, exact round trips, located errors, and a
//! property test over generated documents (the project's stand-in for a fuzz target).

use chrono::NaiveDate;

use super::*;

pub const SAMPLE: &str = "JAHIS10\r\n\
1,1,1312345678,13,新宿内科クリニック\r\n\
2,1600022,東京都新宿区新宿3-1-1\r\n\
3,03-3333-1111,03-3333-1112,\r\n\
4,1,01,内科\r\n\
5,,ナイカ イチロウ,内科 一郎\r\n\
11,P0001,山田 太郎,ヤマダ タロウ\r\n\
12,1\r\n\
13,19580412\r\n\
21,1\r\n\
22,01130012\r\n\
23,12,1001,1,01\r\n\
24,030,070\r\n\
27,54136015,1234566\r\n\
51,20261120\r\n\
53,3,1\r\n\
62,1\r\n\
81,1,1,オンライン対応\r\n\
82,1,123456\r\n\
101,1,1,内服,14\r\n\
111,1,1,1013044400000000,1日2回朝夕食後,2\r\n\
201,1,1,1,2,610406079,ガスター散２％,1,1,g\r\n\
241,1,1,0.5,2\r\n\
101,2,2,頓服,5\r\n\
111,2,1,,疼痛時,\r\n\
201,2,1,1,4,1149019F1ZZZ,【般】ロキソプロフェンＮａ錠６０ｍｇ,1,1,錠\r\n\
281,2,1,1,\"痛みが強いとき, 6時間以上あけて\"\r\n\
999,extension,kept as is\r\n";

#[test]
fn a_realistic_payload_is_read_into_typed_values() {
    let doc = parse_document(SAMPLE).unwrap();
    let d = interpret(&doc).unwrap();
    assert_eq!(d.version, "JAHIS10");
    assert_eq!(d.institution.code, "1312345678");
    assert_eq!(d.institution.name, "新宿内科クリニック");
    assert_eq!(d.institution.fax.as_deref(), Some("03-3333-1112"));
    assert_eq!(d.doctor.name_kanji, "内科 一郎");
    assert_eq!(d.patient.birth_date, NaiveDate::from_ymd_opt(1958, 4, 12));
    assert_eq!(d.insurance.insurer_number.as_deref(), Some("01130012"));
    assert_eq!(d.insurance.branch.as_deref(), Some("01"));
    assert_eq!(d.public_expenses[0].payer, "54136015");
    assert_eq!(d.issue_date, NaiveDate::from_ymd_opt(2026, 11, 20));
    assert_eq!(
        d.valid_until(),
        NaiveDate::from_ymd_opt(2026, 11, 23),
        "4 days including the issue date"
    );
    assert_eq!(d.refill, Some((3, 1)));
    assert!(d.online_marked());
    assert_eq!(d.redemption_code.as_deref(), Some("123456"));
    assert_eq!(d.rps.len(), 2);
    assert_eq!(d.rps[0].quantity, 14);
    assert_eq!(d.rps[0].usage.as_ref().unwrap().name, "1日2回朝夕食後");
    assert_eq!(d.rps[0].items[0].code, "610406079");
    assert_eq!(d.rps[0].items[0].per_dose, Some(("0.5".into(), "2".into())));
    assert_eq!(
        d.rps[1].items[0].supplements,
        ["痛みが強いとき, 6時間以上あけて"]
    );
    assert_eq!(d.unknown.len(), 1);
    assert_eq!(d.unknown[0].number, 999);
}

#[test]
fn round_trips_are_exact() {
    for text in [
        SAMPLE.to_string(),
        SAMPLE.replace("\r\n", "\n"),
        SAMPLE.trim_end().to_string(),
    ] {
        let doc = parse_document(&text).unwrap();
        assert_eq!(write_document(&doc), text);
    }
}

#[test]
fn errors_name_the_line_and_the_field() {
    let bad = SAMPLE
        .replace("13,19580412", "13,1958041")
        .replace("22,01130012", "22,0113")
        .replace("12,1\r\n", "12,9\r\n");
    let errs = interpret(&parse_document(&bad).unwrap()).unwrap_err();
    let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert!(
        shown
            .iter()
            .any(|e| e.starts_with("line 8, record 12, 性別")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.starts_with("line 9, record 13, 生年月日")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.starts_with("line 11, record 22, 保険者番号")),
        "{shown:?}"
    );

    let structure = parse_document("JAHIS10\nx,1\n1,\"unterminated\n").unwrap_err();
    assert_eq!(structure.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 3]);
    assert!(parse_document("\n1,1").is_err(), "a header is required");

    let orphan = "JAHIS10\n1,1,1312345678,13,x\n5,,,医師\n11,,患者,\n51,20261120\n201,9,1,1,2,610406079,x,1,1,g\n";
    let errs = interpret(&parse_document(orphan).unwrap()).unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.field == Some("RP番号") && e.line == 6),
        "{errs:?}"
    );
    assert!(errs.iter().any(|e| e.message.contains("no RP")));
}

#[test]
fn refill_counts_are_checked() {
    let bad = SAMPLE.replace("53,3,1", "53,2,3");
    let errs = interpret(&parse_document(&bad).unwrap()).unwrap_err();
    assert!(errs.iter().any(|e| e.field == Some("リフィル今回使用回数")));
}

/// A tiny deterministic generator (xorshift) for the property test.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

#[test]
fn property_any_generated_document_round_trips_and_never_panics() {
    let pieces = [
        "",
        "1",
        "ガスター",
        "a,b",
        "say \"hi\"",
        "２０２６",
        " ",
        "【般】",
        "\"",
        ",,",
        "x\"y",
    ];
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2_000 {
        let lines = 1 + g.next() % 12;
        let mut doc = Document {
            header: "JAHIS10".into(),
            records: Vec::new(),
            line_ending: if g.next() % 2 == 0 { "\r\n" } else { "\n" },
            trailing_newline: g.next() % 2 == 0,
        };
        for _ in 0..lines {
            let number = [1u16, 5, 11, 13, 51, 101, 111, 201, 281, 999][(g.next() % 10) as usize];
            let n = g.next() % 6;
            let fields: Vec<String> = (0..n).map(|_| g.pick(&pieces).to_string()).collect();
            doc.records.push(RawRecord::new(number, fields));
        }
        let text = write_document(&doc);
        let parsed = parse_document(&text).expect("generated documents are well-formed");
        assert_eq!(write_document(&parsed), text);
        for (a, b) in parsed.records.iter().zip(&doc.records) {
            assert_eq!(a.fields, b.fields, "fields survive quoting");
        }
        // Interpreting arbitrary content reports errors; it never panics.
        let _ = interpret(&parsed);
    }
    // Arbitrary bytes-as-text never panic either.
    for _ in 0..2_000 {
        let len = g.next() % 40;
        let s: String = (0..len)
            .map(|_| g.pick(&["1", ",", "\"", "\n", "\r\n", "あ", "9"]))
            .collect();
        if let Ok(d) = parse_document(&s) {
            let _ = interpret(&d);
            assert_eq!(write_document(&d), s);
        }
    }
}
