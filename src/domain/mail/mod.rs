//! A raw e-mail (RFC 5322) that may carry a prescription copy: a clinic's e-mail,
//! or a fax that a fax-to-e-mail gateway turned into one. MIME is parsed by
//! `mail-parser` (multipart, base64 / quoted-printable, ISO-2022-JP / Shift_JIS /
//! UTF-8 headers and bodies); this module decides what is kept and what makes a
//! message unacceptable. Pure: bytes in, a value or a stated rejection out.

use chrono::NaiveDateTime;
use mail_parser::{MessageParser, MimeHeaders, PartType};
use unicode_normalization::UnicodeNormalization;

/// Size limits for an incoming message.
#[derive(Debug, Clone, Copy)]
pub struct MailLimits {
    /// A larger message is rejected (and kept in quarantine).
    pub max_message_bytes: usize,
    /// A larger attachment makes the message rejected.
    pub max_attachment_bytes: usize,
    /// More files than this make the message rejected.
    pub max_attachments: usize,
}

impl Default for MailLimits {
    fn default() -> Self {
        MailLimits {
            max_message_bytes: 25 * 1024 * 1024,
            max_attachment_bytes: 15 * 1024 * 1024,
            max_attachments: 20,
        }
    }
}

/// Why a message is not accepted as a copy (it is kept in quarantine).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailRejection {
    #[error("メールが大きすぎます（{size} バイト、上限 {limit} バイト） (message too large: {size} bytes, limit {limit})")]
    TooLarge { size: usize, limit: usize },
    #[error("添付ファイル「{name}」が大きすぎます（{size} バイト、上限 {limit} バイト） (attachment too large)")]
    AttachmentTooLarge {
        name: String,
        size: usize,
        limit: usize,
    },
    #[error("添付ファイルが多すぎます（{count} 件、上限 {limit} 件） (too many attachments)")]
    TooManyAttachments { count: usize, limit: usize },
    #[error("メールの形式が正しくありません: {0} (malformed message)")]
    Malformed(String),
}

/// The file kinds a copy may come as (PDF, TIFF, PNG, JPEG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFileKind {
    Pdf,
    Tiff,
    Png,
    Jpeg,
}

impl CopyFileKind {
    /// The kind the bytes really are (by their signature), whatever was declared.
    pub fn sniff(bytes: &[u8]) -> Option<CopyFileKind> {
        if bytes.starts_with(b"%PDF-") {
            Some(CopyFileKind::Pdf)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(CopyFileKind::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(CopyFileKind::Jpeg)
        } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
            Some(CopyFileKind::Tiff)
        } else {
            None
        }
    }

    /// From a stored media type.
    pub fn from_media_type(m: &str) -> Option<CopyFileKind> {
        Some(match m {
            "application/pdf" => CopyFileKind::Pdf,
            "image/tiff" => CopyFileKind::Tiff,
            "image/png" => CopyFileKind::Png,
            "image/jpeg" => CopyFileKind::Jpeg,
            _ => return None,
        })
    }

    /// The media type served for it.
    pub fn media_type(self) -> &'static str {
        match self {
            CopyFileKind::Pdf => "application/pdf",
            CopyFileKind::Tiff => "image/tiff",
            CopyFileKind::Png => "image/png",
            CopyFileKind::Jpeg => "image/jpeg",
        }
    }

    /// A file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            CopyFileKind::Pdf => "pdf",
            CopyFileKind::Tiff => "tif",
            CopyFileKind::Png => "png",
            CopyFileKind::Jpeg => "jpg",
        }
    }
}

/// A file found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFile {
    pub filename: String,
    pub kind: CopyFileKind,
    pub content: Vec<u8>,
    /// Shown inside the message body (`Content-Disposition: inline` / related).
    pub inline: bool,
}

/// What was read from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMail {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// The From address, lower case.
    pub from: String,
    pub subject: String,
    /// Date header, UTC.
    pub sent_at: Option<NaiveDateTime>,
    /// The text body (HTML converted to text when there is no text part).
    pub body_text: String,
    /// The sending fax number (digits), for gateway-converted faxes.
    pub fax_number: Option<String>,
    /// Sender authentication reported as failed by the receiving server (SPF,
    /// DKIM or DMARC): a sign of spoofing.
    pub authentication_failure: Option<String>,
    /// PDF / TIFF / PNG / JPEG files, nested messages included.
    pub files: Vec<MailFile>,
    /// Parts not kept as files (kind, name), listed for staff.
    pub skipped: Vec<String>,
}

/// The header/body separator must exist; a message cut before it has no body.
fn has_header_end(raw: &[u8]) -> bool {
    raw.windows(4).any(|w| w == b"\r\n\r\n") || raw.windows(2).any(|w| w == b"\n\n")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Digits of a Japanese phone/fax number (+81 becomes 0); `None` unless it has the
/// shape of one.
pub fn normalize_fax(text: &str) -> Option<String> {
    let t: String = text.nfkc().collect();
    let mut digits: String = t.chars().filter(char::is_ascii_digit).collect();
    if t.trim_start().starts_with('+') {
        if let Some(rest) = digits.strip_prefix("81") {
            digits = format!("0{rest}");
        }
    }
    // Fixed lines have 10 digits; 11 only for 050/070/080/090 numbers.
    let ok = digits.starts_with('0')
        && !digits.starts_with("00")
        && (digits.len() == 10
            || (digits.len() == 11
                && ["050", "070", "080", "090"]
                    .iter()
                    .any(|p| digits.starts_with(p))));
    ok.then_some(digits)
}

/// A fax number in the gateway's headers, or on a subject/body line that names the
/// sending fax (送信元 / FAX / From).
fn find_fax_number(headers: &[(String, String)], subject: &str, body: &str) -> Option<String> {
    for (name, value) in headers {
        let n = name.to_ascii_lowercase();
        if matches!(
            n.as_str(),
            "x-fax-number" | "x-fax-from" | "x-fax-sender" | "x-sender-fax" | "x-fax-csid"
        ) {
            if let Some(f) = normalize_fax(value) {
                return Some(f);
            }
        }
    }
    for line in std::iter::once(subject).chain(body.lines().take(40)) {
        let l: String = line.nfkc().collect();
        let upper = l.to_uppercase();
        if !(upper.contains("FAX") || l.contains("送信元") || l.contains("発信元")) {
            continue;
        }
        // The number is the longest run of digits, hyphens, spaces, brackets and '+'.
        let mut best: Option<String> = None;
        let mut run = String::new();
        for ch in l.chars().chain(std::iter::once('\n')) {
            if ch.is_ascii_digit() || matches!(ch, '-' | '+' | '(' | ')' | ' ') {
                run.push(ch);
            } else {
                // "045-222-3333 (2枚)": try spans of space-separated tokens, widest first.
                let tokens: Vec<&str> = run.split_whitespace().collect();
                'spans: for width in (1..=tokens.len()).rev() {
                    for start in 0..=tokens.len() - width {
                        if let Some(f) = normalize_fax(&tokens[start..start + width].join(" ")) {
                            if best.as_ref().is_none_or(|b| f.len() > b.len()) {
                                best = Some(f);
                            }
                            break 'spans;
                        }
                    }
                }
                run.clear();
            }
        }
        if best.is_some() {
            return best;
        }
    }
    None
}

fn authentication_failure(headers: &[(String, String)]) -> Option<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authentication-results"))
        .find_map(|(_, v)| {
            let v = v.to_ascii_lowercase();
            ["dmarc=fail", "spf=fail", "dkim=fail"]
                .into_iter()
                .find(|k| v.contains(k))
                .map(str::to_string)
        })
}

fn clean_filename(name: Option<&str>, position: usize, kind: CopyFileKind) -> String {
    let base: String = name
        .unwrap_or_default()
        .nfkc()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | '"'))
        .collect::<String>()
        .trim()
        .chars()
        .take(120)
        .collect();
    if base.is_empty() {
        format!("attachment-{}.{}", position + 1, kind.extension())
    } else {
        base
    }
}

/// Reads a raw message. Rejects (with the reason) messages that are too large,
/// cut off, without a sender, or with too large or too many files.
pub fn parse_mail(raw: &[u8], limits: &MailLimits) -> Result<InboundMail, MailRejection> {
    if raw.len() > limits.max_message_bytes {
        return Err(MailRejection::TooLarge {
            size: raw.len(),
            limit: limits.max_message_bytes,
        });
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(MailRejection::Malformed(
            "空のメッセージです (empty)".into(),
        ));
    }
    if !has_header_end(raw) {
        return Err(MailRejection::Malformed(
            "ヘッダーの終わり（空行）がありません (no end of headers)".into(),
        ));
    }
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| MailRejection::Malformed("MIME として読めません (not MIME)".into()))?;
    let headers: Vec<(String, String)> = msg
        .headers_raw()
        .map(|(n, v)| (n.to_string(), v.trim().to_string()))
        .collect();
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| a.contains('@'))
        .ok_or_else(|| {
            MailRejection::Malformed("送信者（From）がありません (no sender address)".into())
        })?;
    // A multipart body must end with its closing delimiter; a message cut off in
    // transit (or by a full mailbox) lacks it.
    for part in &msg.parts {
        if let PartType::Multipart(_) = part.body {
            if let Some(b) = part.content_type().and_then(|ct| ct.attribute("boundary")) {
                if !contains(raw, format!("--{b}--").as_bytes()) {
                    return Err(MailRejection::Malformed(format!(
                        "マルチパートの終端（--{b}--）がありません。途中で切れています (truncated multipart)"
                    )));
                }
            }
        }
        if part.is_encoding_problem {
            return Err(MailRejection::Malformed(
                "添付ファイルの符号化が壊れています (broken transfer encoding)".into(),
            ));
        }
    }
    let subject = msg.subject().unwrap_or_default().trim().to_string();
    let body_text: String = msg
        .body_text(0)
        .map(|b| b.into_owned())
        .unwrap_or_default()
        .chars()
        .take(20_000)
        .collect();
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    collect_files(&msg, 0, &mut files, &mut skipped, limits)?;
    if files.len() > limits.max_attachments {
        return Err(MailRejection::TooManyAttachments {
            count: files.len(),
            limit: limits.max_attachments,
        });
    }
    Ok(InboundMail {
        message_id: msg
            .message_id()
            .map(|m| {
                m.trim()
                    .trim_matches(['<', '>'])
                    .chars()
                    .take(250)
                    .collect()
            })
            .filter(|m: &String| !m.is_empty()),
        fax_number: find_fax_number(&headers, &subject, &body_text),
        authentication_failure: authentication_failure(&headers),
        from,
        subject: subject.chars().take(500).collect(),
        sent_at: msg
            .date()
            .and_then(|d| chrono::DateTime::from_timestamp(d.to_timestamp(), 0))
            .map(|d| d.naive_utc()),
        body_text,
        files,
        skipped,
    })
}

fn collect_files(
    msg: &mail_parser::Message<'_>,
    depth: usize,
    files: &mut Vec<MailFile>,
    skipped: &mut Vec<String>,
    limits: &MailLimits,
) -> Result<(), MailRejection> {
    if depth > 5 {
        return Err(MailRejection::Malformed(
            "入れ子のメッセージが深すぎます (messages nested too deep)".into(),
        ));
    }
    for part in &msg.parts {
        let (bytes, inline) = match &part.body {
            PartType::Binary(b) => (b.as_ref(), false),
            PartType::InlineBinary(b) => (b.as_ref(), true),
            PartType::Message(m) => {
                collect_files(m, depth + 1, files, skipped, limits)?;
                continue;
            }
            _ => continue,
        };
        let declared = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
            .unwrap_or_default();
        let Some(kind) = CopyFileKind::sniff(bytes) else {
            skipped.push(format!(
                "{} ({declared}, {} bytes)",
                part.attachment_name().unwrap_or("(名前なし)"),
                bytes.len()
            ));
            continue;
        };
        let filename = clean_filename(part.attachment_name(), files.len(), kind);
        if bytes.len() > limits.max_attachment_bytes {
            return Err(MailRejection::AttachmentTooLarge {
                name: filename,
                size: bytes.len(),
                limit: limits.max_attachment_bytes,
            });
        }
        let inline = inline
            || part
                .content_disposition()
                .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"));
        files.push(MailFile {
            filename,
            kind,
            content: bytes.to_vec(),
            inline,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
