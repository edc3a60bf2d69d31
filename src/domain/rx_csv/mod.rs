//! The e-prescription CSV (電子処方箋 / JAHIS 院外処方箋2次元シンボル record system):
//! a format/version header line, then one record per line `number,field,...`.
//! [`parse_document`] keeps every line exactly, so [`write_document`] reproduces
//! the input byte for byte (unknown records included); [`interpret`] reads the
//! records into typed values, each error naming its line and field.

#[cfg(test)]
mod tests;
mod typed;

pub use typed::{
    interpret, Doctor, Institution, Insurance, Item, Narcotic, Patient, PublicExpense, Remark, Rp,
    RxData, Usage,
};

/// A problem in the payload, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    /// 1-based line (the header is line 1).
    pub line: usize,
    /// Record number, when known.
    pub record: Option<u16>,
    /// Field name (Japanese term), when the problem is in one field.
    pub field: Option<&'static str>,
    pub message: String,
}

impl std::fmt::Display for CsvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(r) = self.record {
            write!(f, ", record {r}")?;
        }
        if let Some(field) = self.field {
            write!(f, ", {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// One record line as it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub line: usize,
    pub number: u16,
    /// The fields after the record number, unquoted.
    pub fields: Vec<String>,
    /// The line exactly as read (without its terminator).
    pub text: String,
}

/// A whole payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The format/version line (e.g. `JAHIS10`).
    pub header: String,
    pub records: Vec<RawRecord>,
    /// `\r\n` or `\n`, as the input used.
    pub line_ending: &'static str,
    pub trailing_newline: bool,
}

/// Splits one CSV line into fields (double quotes with `""` escapes).
fn split_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (true, other) => cur.push(other),
            (false, '"') if cur.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            (false, '"') => return Err("a quote inside an unquoted field".into()),
            (false, other) => {
                if was_quoted {
                    return Err("text after a closing quote".into());
                }
                cur.push(other)
            }
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    fields.push(cur);
    Ok(fields)
}

/// Formats fields as one CSV line (quoting only where needed).
pub fn join_line(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads a payload into lines and records. Only structure is checked here (a
/// header, record numbers, CSV quoting); field contents are checked by [`interpret`].
pub fn parse_document(text: &str) -> Result<Document, Vec<CsvError>> {
    let line_ending = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let trailing_newline = text.ends_with(line_ending);
    let body = text.strip_suffix(line_ending).unwrap_or(text);
    let mut lines = body.split(line_ending);
    let header = lines.next().unwrap_or_default().to_string();
    let mut errors = Vec::new();
    if header.trim().is_empty() {
        errors.push(CsvError {
            line: 1,
            record: None,
            field: None,
            message: "the format/version header line is missing".into(),
        });
    }
    let mut records = Vec::new();
    for (i, l) in lines.enumerate() {
        let line = i + 2;
        let fields = match split_line(l) {
            Ok(f) => f,
            Err(message) => {
                errors.push(CsvError {
                    line,
                    record: None,
                    field: None,
                    message,
                });
                continue;
            }
        };
        let Some(number) = fields.first().and_then(|n| n.trim().parse::<u16>().ok()) else {
            errors.push(CsvError {
                line,
                record: None,
                field: Some("レコード番号"),
                message: format!(
                    "`{}` is not a record number",
                    fields.first().cloned().unwrap_or_default()
                ),
            });
            continue;
        };
        records.push(RawRecord {
            line,
            number,
            fields: fields[1..].to_vec(),
            text: l.to_string(),
        });
    }
    if errors.is_empty() {
        Ok(Document {
            header,
            records,
            line_ending,
            trailing_newline,
        })
    } else {
        Err(errors)
    }
}

/// Writes a document back; a document from [`parse_document`] round-trips exactly.
pub fn write_document(doc: &Document) -> String {
    let mut out = doc.header.clone();
    for r in &doc.records {
        out.push_str(doc.line_ending);
        out.push_str(&r.text);
    }
    if doc.trailing_newline {
        out.push_str(doc.line_ending);
    }
    out
}

impl RawRecord {
    /// A new record (for writers), its text formatted from the fields.
    pub fn new(number: u16, fields: Vec<String>) -> RawRecord {
        let mut all = vec![number.to_string()];
        all.extend(fields.iter().cloned());
        RawRecord {
            line: 0,
            number,
            text: join_line(&all),
            fields,
        }
    }
}

/// A realistic payload for tests elsewhere in the crate.
#[cfg(test)]
pub fn tests_sample() -> String {
    tests::SAMPLE.to_string()
}
