//! Parsing real-world-shaped messages (the fixtures in tests/fixtures/mail).

use super::*;

const SIMPLE: &[u8] = b"From: Clinic <rx@clinic.example>\r\nTo: rx@pharmacy.example\r\nSubject: test\r\nMessage-ID: <abc@clinic.example>\r\nDate: Sat, 21 Nov 2026 10:00:00 +0900\r\nContent-Type: multipart/mixed; boundary=\"B1\"\r\n\r\n--B1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--B1\r\nContent-Type: application/pdf; name=\"rx.pdf\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"rx.pdf\"\r\n\r\nJVBERi0xLjQKJcTl8uXrCg==\r\n--B1--\r\n";

#[test]
fn reads_sender_ids_and_pdf() {
    let m = parse_mail(SIMPLE, &MailLimits::default()).unwrap();
    assert_eq!(m.from, "rx@clinic.example");
    assert_eq!(m.message_id.as_deref(), Some("abc@clinic.example"));
    assert_eq!(m.files.len(), 1);
    assert_eq!(m.files[0].kind, CopyFileKind::Pdf);
    assert_eq!(m.files[0].filename, "rx.pdf");
    assert_eq!(
        m.sent_at.unwrap().to_string(),
        "2026-11-21 01:00:00",
        "Date is stored in UTC"
    );
}

#[test]
fn truncated_multipart_is_rejected() {
    let cut = &SIMPLE[..SIMPLE.len() - 12];
    match parse_mail(cut, &MailLimits::default()) {
        Err(MailRejection::Malformed(m)) => assert!(m.contains("B1"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn size_limits_are_stated() {
    let limits = MailLimits {
        max_message_bytes: 100,
        ..MailLimits::default()
    };
    assert!(matches!(
        parse_mail(SIMPLE, &limits),
        Err(MailRejection::TooLarge { limit: 100, .. })
    ));
    let limits = MailLimits {
        max_attachment_bytes: 4,
        ..MailLimits::default()
    };
    assert!(matches!(
        parse_mail(SIMPLE, &limits),
        Err(MailRejection::AttachmentTooLarge { .. })
    ));
}

#[test]
fn no_sender_or_no_body_is_malformed() {
    assert!(parse_mail(b"Subject: x\r\n\r\nbody", &MailLimits::default()).is_err());
    assert!(parse_mail(b"From: a@b.example\r\nSubject: x", &MailLimits::default()).is_err());
    assert!(parse_mail(b"   ", &MailLimits::default()).is_err());
}

#[test]
fn fax_numbers_from_headers_or_lines() {
    assert_eq!(
        normalize_fax("+81 3-1234-5678").as_deref(),
        Some("0312345678")
    );
    assert_eq!(
        normalize_fax("０３（１２３４）５６７８").as_deref(),
        Some("0312345678")
    );
    assert_eq!(normalize_fax("12345"), None);
    let h = vec![("X-Fax-From".to_string(), "03-1111-2222".to_string())];
    assert_eq!(find_fax_number(&h, "", "").as_deref(), Some("0311112222"));
    assert_eq!(
        find_fax_number(&[], "FAX受信 送信元: 045-222-3333 (2枚)", "").as_deref(),
        Some("0452223333")
    );
    assert_eq!(find_fax_number(&[], "お知らせ", "電話 03-1111-2222"), None);
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/mail/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read(name: &str) -> InboundMail {
    parse_mail(&fixture(name), &MailLimits::default()).unwrap()
}

#[test]
fn fixture_pdf_with_japanese_filename() {
    let m = read("pdf_attachment.eml");
    assert_eq!(m.subject, "処方箋送付（オンライン診療）");
    assert!(m.body_text.contains("山田太郎様"), "{}", m.body_text);
    assert_eq!(m.files.len(), 1);
    assert_eq!(m.files[0].filename, "処方箋_山田.pdf");
    assert!(!m.files[0].inline);
}

#[test]
fn fixture_iso_2022_jp_subject_and_body() {
    let m = read("iso2022jp_subject.eml");
    assert_eq!(m.subject, "【処方箋】オンライン診療分の送付");
    assert!(m.body_text.contains("オンライン対応"), "{}", m.body_text);
    assert_eq!(m.files[0].kind, CopyFileKind::Png);
}

#[test]
fn fixture_shift_jis_quoted_printable_body() {
    let m = read("shift_jis_body.eml");
    assert_eq!(m.subject, "処方箋の写し");
    assert!(
        m.body_text.contains("備考：オンライン対応"),
        "{}",
        m.body_text
    );
    assert_eq!(m.files[0].kind, CopyFileKind::Jpeg);
}

#[test]
fn fixture_nested_message_attachment_is_found() {
    let m = read("nested_multipart.eml");
    assert!(m.body_text.contains("転送します"));
    assert_eq!(m.files.len(), 1, "{:?}", m.skipped);
    assert_eq!(m.files[0].filename, "fwd.pdf");
}

#[test]
fn fixture_inline_images_are_kept_as_inline() {
    let m = read("inline_images.eml");
    assert_eq!(m.files.len(), 2);
    assert!(m
        .files
        .iter()
        .all(|f| f.inline && f.kind == CopyFileKind::Png));
    assert_eq!(m.files[0].filename, "page1.png");
    assert_eq!(m.files[1].filename, "attachment-2.png");
}

#[test]
fn fixture_fax_gateway_gives_the_sending_number() {
    let m = read("fax_gateway.eml");
    assert_eq!(m.fax_number.as_deref(), Some("0333331112"));
    assert_eq!(m.from, "fax-gw@faxservice.example");
    assert_eq!(m.files[0].kind, CopyFileKind::Tiff);
}

#[test]
fn fixture_without_attachment_and_spoofed() {
    let m = read("no_attachment.eml");
    assert!(m.files.is_empty());
    assert_eq!(m.subject, "処方箋（添付忘れ）");
    let m = read("unknown_sender.eml");
    assert_eq!(m.authentication_failure.as_deref(), Some("dmarc=fail"));
}

#[test]
fn fixture_truncated_is_rejected() {
    let e = parse_mail(&fixture("truncated.eml"), &MailLimits::default()).unwrap_err();
    assert!(matches!(e, MailRejection::Malformed(_)), "{e}");
}

#[test]
fn declared_types_are_not_trusted() {
    assert_eq!(CopyFileKind::sniff(b"MZ\x90\0"), None);
    assert_eq!(CopyFileKind::sniff(b"II*\0rest"), Some(CopyFileKind::Tiff));
}
