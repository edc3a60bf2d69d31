//! The national services' messages as exchanged through the OQS terminal's file
//! drop, and the project's own names for them. The official message ids and
//! error codes are vendor-only: this module is the one place that defines ours,
//! so they are easy to change.
//!
//! | operation | MessageType |
//! |---|---|
//! | fetch and accept by 引換番号 + insurance | `EPS-ACCEPT` |
//! | fetch and accept by confirmed マイナ保険証 qualification | `EPS-ACCEPT-QUAL` |
//! | cancel acceptance | `EPS-ACCEPT-CANCEL` |
//! | status query | `EPS-STATUS` |
//! | duplicate-medication check | `EPS-CHECK` |
//! | register dispensing result | `EPS-RESULT` |
//! | change dispensing result | `EPS-RESULT-CHANGE` |
//! | cancel dispensing result | `EPS-RESULT-CANCEL` |
//! | bulk eligibility of consented patients: request (→ 受付番号) | `OQS-ELIG-REQ` |
//! | bulk eligibility: fetch the result by 受付番号 | `OQS-ELIG-GET` |
//! | the patient's drug information (薬剤情報), inside the viewing consent | `OQS-DRUGINFO` |
//!
//! Error codes (`ErrorCode` with `SegmentOfResult` 9, or `ProcessingResultCode`
//! with `ProcessingResultStatus` 2) are listed in [`ErrorKind`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::xml::{self, Element};

/// What a request asks the national service to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Accept,
    AcceptByQualification,
    CancelAcceptance,
    Status,
    DuplicateCheck,
    RegisterResult,
    ChangeResult,
    CancelResult,
    EligibilityRequest,
    EligibilityFetch,
    DrugInformation,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 11] = [
        Operation::Accept,
        Operation::AcceptByQualification,
        Operation::CancelAcceptance,
        Operation::Status,
        Operation::DuplicateCheck,
        Operation::RegisterResult,
        Operation::ChangeResult,
        Operation::CancelResult,
        Operation::EligibilityRequest,
        Operation::EligibilityFetch,
        Operation::DrugInformation,
    ];

    /// The online-qualification side (not about one prescription).
    pub fn is_qualification(self) -> bool {
        matches!(
            self,
            Operation::EligibilityRequest
                | Operation::EligibilityFetch
                | Operation::DrugInformation
        )
    }

    /// Our `MessageType`.
    pub fn message_type(self) -> &'static str {
        match self {
            Operation::Accept => "EPS-ACCEPT",
            Operation::AcceptByQualification => "EPS-ACCEPT-QUAL",
            Operation::CancelAcceptance => "EPS-ACCEPT-CANCEL",
            Operation::Status => "EPS-STATUS",
            Operation::DuplicateCheck => "EPS-CHECK",
            Operation::RegisterResult => "EPS-RESULT",
            Operation::ChangeResult => "EPS-RESULT-CHANGE",
            Operation::CancelResult => "EPS-RESULT-CANCEL",
            Operation::EligibilityRequest => "OQS-ELIG-REQ",
            Operation::EligibilityFetch => "OQS-ELIG-GET",
            Operation::DrugInformation => "OQS-DRUGINFO",
        }
    }

    /// From a `MessageType`.
    pub fn parse(s: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.message_type() == s)
    }
}

/// Errors the services answer with, and what the pharmacy is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    UnknownCode,
    InsuranceMismatch,
    AcceptedElsewhere,
    CancelledByPrescriber,
    Expired,
    MalformedRequest,
    ResultExists,
    NoResult,
    NotAccepted,
    AlreadyDispensed,
    /// No viewing consent for this pharmacy covers today.
    NoConsent,
    /// No such 受付番号.
    UnknownReceipt,
    Other,
}

impl ErrorKind {
    /// Our code.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::UnknownCode => "EPS-E001",
            ErrorKind::InsuranceMismatch => "EPS-E002",
            ErrorKind::AcceptedElsewhere => "EPS-E003",
            ErrorKind::CancelledByPrescriber => "EPS-E004",
            ErrorKind::Expired => "EPS-E005",
            ErrorKind::MalformedRequest => "EPS-E006",
            ErrorKind::ResultExists => "EPS-E007",
            ErrorKind::NoResult => "EPS-E008",
            ErrorKind::NotAccepted => "EPS-E009",
            ErrorKind::AlreadyDispensed => "EPS-E010",
            ErrorKind::NoConsent => "OQS-E101",
            ErrorKind::UnknownReceipt => "OQS-E102",
            ErrorKind::Other => "EPS-E999",
        }
    }

    /// From a code; unknown codes are [`ErrorKind::Other`].
    pub fn parse(code: &str) -> ErrorKind {
        use ErrorKind::*;
        [
            UnknownCode,
            InsuranceMismatch,
            AcceptedElsewhere,
            CancelledByPrescriber,
            Expired,
            MalformedRequest,
            ResultExists,
            NoResult,
            NotAccepted,
            AlreadyDispensed,
            NoConsent,
            UnknownReceipt,
        ]
        .into_iter()
        .find(|k| k.code() == code)
        .unwrap_or(Other)
    }

    /// What the pharmacist reads (Japanese).
    pub fn message(self) -> &'static str {
        match self {
            ErrorKind::UnknownCode => {
                "引換番号に該当する処方箋がありません。番号を確認してください"
            }
            ErrorKind::InsuranceMismatch => {
                "引換番号と保険情報が一致しません。被保険者証の情報を確認してください"
            }
            ErrorKind::AcceptedElsewhere => "この処方箋は他の薬局で受付済みです",
            ErrorKind::CancelledByPrescriber => "この処方箋は医療機関により取り消されています",
            ErrorKind::Expired => "この処方箋は使用期限を過ぎています",
            ErrorKind::MalformedRequest => "要求の形式が正しくありません（システムの不具合）",
            ErrorKind::ResultExists => "調剤結果が登録済みのため受付を取り消せません",
            ErrorKind::NoResult => "取り消す調剤結果がありません",
            ErrorKind::NotAccepted => "この薬局で受付していない処方箋です",
            ErrorKind::AlreadyDispensed => "この処方箋は調剤済みです",
            ErrorKind::NoConsent => "薬剤情報の閲覧同意がありません（期間外を含む）",
            ErrorKind::UnknownReceipt => "受付番号に該当する照会がありません",
            ErrorKind::Other => "電子処方箋管理サービスでエラーが発生しました",
        }
    }
}

/// `SegmentOfResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// 1: normal
    Normal,
    /// 2: still processing — ask again later
    Processing,
    /// 9: abnormal
    Abnormal,
}

/// A request file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub operation: Operation,
    /// 医療機関コード of the pharmacy (10 digits).
    pub institution_code: String,
    /// Client-chosen id, echoed back: correlation and idempotency.
    pub file_id: String,
    /// Body fields in order (name, value).
    pub body: Vec<(String, String)>,
}

impl Request {
    /// The XML document.
    pub fn to_xml(&self) -> Result<Vec<u8>, String> {
        let mut body = Element::new("MessageBody");
        for (k, v) in &self.body {
            body = body.with(k, v.clone());
        }
        xml::write(
            &Element::new("XmlMsg")
                .child(
                    Element::new("MessageHeader")
                        .with("MessageType", self.operation.message_type())
                        .with("MedicalInstitutionCode", self.institution_code.clone())
                        .with("ArbitraryFileIdentifier", self.file_id.clone()),
                )
                .child(body),
        )
    }

    /// Reads a request (the simulator's side).
    pub fn parse(bytes: &[u8]) -> Result<Request, String> {
        let root = xml::parse(&xml::decode(bytes)?)?;
        if root.name != "XmlMsg" {
            return Err(format!("root element `{}` is not XmlMsg", root.name));
        }
        let op = root
            .text_at("MessageHeader/MessageType")
            .ok_or("MessageType missing")?;
        let operation =
            Operation::parse(&op).ok_or_else(|| format!("unknown MessageType `{op}`"))?;
        Ok(Request {
            operation,
            institution_code: root
                .text_at("MessageHeader/MedicalInstitutionCode")
                .ok_or("MedicalInstitutionCode missing")?,
            file_id: root
                .text_at("MessageHeader/ArbitraryFileIdentifier")
                .ok_or("ArbitraryFileIdentifier missing")?,
            body: root
                .get("MessageBody")
                .map(|b| {
                    b.children
                        .iter()
                        .map(|c| (c.name.clone(), c.text.trim().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// A body field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.body
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// One signature verification result (`VerifyResultList`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verify {
    /// e.g. `OK` or `NG`
    pub status: String,
    pub sign_id: String,
    pub failure_reasons: String,
}

/// One check result (`CsvCheckResultList` / EPS duplicate check results).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckEntry {
    pub code: String,
    pub message: String,
}

/// A response file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub message_type: String,
    pub file_id: String,
    pub segment: Option<Segment>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// `ProcessingResultStatus`: 1 ok, 2 error
    pub ok: bool,
    pub result_code: Option<String>,
    pub result_message: Option<String>,
    pub prescription_id: Option<String>,
    pub access_code: Option<String>,
    /// 未受付, 調剤中, 調剤済, 回収済 or 取消
    pub prescription_status: Option<String>,
    pub reception_pharmacy_code: Option<String>,
    pub reception_pharmacy_name: Option<String>,
    /// 1 electronic, 2 paper
    pub issue_type: Option<String>,
    /// The prescription CSV (decoded from base64).
    pub csv: Option<String>,
    pub checks: Vec<CheckEntry>,
    pub verify: Vec<Verify>,
    /// 受付番号 of a bulk eligibility request.
    pub receipt_number: Option<String>,
    /// Result lines of the qualification side (`ResultList/Result`), each as
    /// (field, value) pairs in order.
    pub records: Vec<Vec<(String, String)>>,
}

/// A field of a result line.
pub fn record_field<'a>(record: &'a [(String, String)], name: &str) -> Option<&'a str> {
    record
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl Response {
    /// Reads a response (the gateway's side). The caller keeps the raw bytes.
    pub fn parse(bytes: &[u8]) -> Result<Response, String> {
        let root = xml::parse(&xml::decode(bytes)?)?;
        if root.name != "XmlMsg" {
            return Err(format!("root element `{}` is not XmlMsg", root.name));
        }
        let h = |p: &str| root.text_at(&format!("MessageHeader/{p}"));
        let b = |p: &str| root.text_at(&format!("MessageBody/{p}"));
        let segment = match h("SegmentOfResult").as_deref() {
            Some("1") => Some(Segment::Normal),
            Some("2") => Some(Segment::Processing),
            Some("9") => Some(Segment::Abnormal),
            Some(other) => return Err(format!("SegmentOfResult `{other}` is not 1, 2 or 9")),
            None => return Err("SegmentOfResult missing".into()),
        };
        let csv = match b("PrescriptionCsv") {
            Some(text) => {
                let raw = STANDARD
                    .decode(text.split_whitespace().collect::<String>())
                    .map_err(|e| format!("PrescriptionCsv is not base64: {e}"))?;
                let enc = h("CharacterCodeIdentifier")
                    .unwrap_or_default()
                    .to_lowercase();
                Some(
                    if enc.contains("shift") || enc.contains("sjis") || enc.contains("932") {
                        encoding_rs::SHIFT_JIS.decode(&raw).0.into_owned()
                    } else {
                        String::from_utf8(raw)
                            .map_err(|e| format!("PrescriptionCsv is not UTF-8: {e}"))?
                    },
                )
            }
            None => None,
        };
        let body = root.get("MessageBody");
        let list = |list: &str, item: &str| -> Vec<&Element> {
            body.and_then(|b| b.get(list))
                .map(|l| l.all(item))
                .unwrap_or_default()
        };
        let checks = list("CsvCheckResultList", "CsvCheckResult")
            .into_iter()
            .chain(list("CheckResultList", "CheckResult"))
            .map(|e| CheckEntry {
                code: e.text_at("ResultCode").unwrap_or_default(),
                message: e.text_at("ResultMessage").unwrap_or_default(),
            })
            .collect();
        let verify = list("VerifyResultList", "VerifyResult")
            .into_iter()
            .map(|e| Verify {
                status: e.text_at("Status").unwrap_or_default(),
                sign_id: e.text_at("SignId").unwrap_or_default(),
                failure_reasons: e.text_at("FailureReasons").unwrap_or_default(),
            })
            .collect();
        let records = list("ResultList", "Result")
            .into_iter()
            .map(|e| {
                e.children
                    .iter()
                    .map(|c| (c.name.clone(), c.text.trim().to_string()))
                    .collect()
            })
            .collect();
        Ok(Response {
            receipt_number: b("ReceiptNumber"),
            records,
            message_type: h("MessageType").unwrap_or_default(),
            file_id: h("ArbitraryFileIdentifier").ok_or("ArbitraryFileIdentifier missing")?,
            segment,
            error_code: h("ErrorCode"),
            error_message: h("ErrorMessage"),
            ok: b("ProcessingResultStatus").as_deref() == Some("1"),
            result_code: b("ProcessingResultCode"),
            result_message: b("ProcessingResultMessage"),
            prescription_id: b("PrescriptionId"),
            access_code: b("AccessCode"),
            prescription_status: b("PrescriptionStatus"),
            reception_pharmacy_code: b("ReceptionPharmacyCode"),
            reception_pharmacy_name: b("ReceptionPharmacyName"),
            issue_type: b("IssueType"),
            csv,
            checks,
            verify,
        })
    }

    /// The error, when the service refused: from the header (segment 9) or the
    /// body (status 2).
    pub fn error(&self) -> Option<ErrorKind> {
        if self.segment == Some(Segment::Abnormal) {
            return Some(
                self.error_code
                    .as_deref()
                    .map(ErrorKind::parse)
                    .unwrap_or(ErrorKind::Other),
            );
        }
        if self.segment == Some(Segment::Normal) && !self.ok {
            return Some(
                self.result_code
                    .as_deref()
                    .map(ErrorKind::parse)
                    .unwrap_or(ErrorKind::Other),
            );
        }
        None
    }

    /// Writes a response (the simulator's side), CSV as base64 UTF-8.
    pub fn to_xml(&self) -> Result<Vec<u8>, String> {
        let seg = match self.segment {
            Some(Segment::Normal) | None => "1",
            Some(Segment::Processing) => "2",
            Some(Segment::Abnormal) => "9",
        };
        let mut header = Element::new("MessageHeader")
            .with("MessageType", self.message_type.clone())
            .with("ArbitraryFileIdentifier", self.file_id.clone())
            .with("SegmentOfResult", seg)
            .with("CharacterCodeIdentifier", "UTF-8");
        if let Some(c) = &self.error_code {
            header = header.with("ErrorCode", c.clone());
        }
        if let Some(m) = &self.error_message {
            header = header.with("ErrorMessage", m.clone());
        }
        let mut body = Element::new("MessageBody")
            .with("ProcessingResultStatus", if self.ok { "1" } else { "2" });
        let opt = |b: Element, name: &str, v: &Option<String>| match v {
            Some(v) => b.with(name, v.clone()),
            None => b,
        };
        body = opt(body, "ProcessingResultCode", &self.result_code);
        body = opt(body, "ProcessingResultMessage", &self.result_message);
        body = opt(body, "PrescriptionId", &self.prescription_id);
        body = opt(body, "AccessCode", &self.access_code);
        body = opt(body, "PrescriptionStatus", &self.prescription_status);
        body = opt(body, "ReceptionPharmacyCode", &self.reception_pharmacy_code);
        body = opt(body, "ReceptionPharmacyName", &self.reception_pharmacy_name);
        body = opt(body, "IssueType", &self.issue_type);
        body = opt(body, "ReceiptNumber", &self.receipt_number);
        if !self.records.is_empty() {
            let mut l = Element::new("ResultList");
            for r in &self.records {
                let mut e = Element::new("Result");
                for (k, v) in r {
                    e = e.with(k, v.clone());
                }
                l = l.child(e);
            }
            body = body.child(l);
        }
        if let Some(csv) = &self.csv {
            body = body.with("PrescriptionCsv", STANDARD.encode(csv.as_bytes()));
        }
        if !self.checks.is_empty() {
            let mut l = Element::new("CheckResultList");
            for c in &self.checks {
                l = l.child(
                    Element::new("CheckResult")
                        .with("ResultCode", c.code.clone())
                        .with("ResultMessage", c.message.clone()),
                );
            }
            body = body.child(l);
        }
        if !self.verify.is_empty() {
            let mut l = Element::new("VerifyResultList");
            for v in &self.verify {
                l = l.child(
                    Element::new("VerifyResult")
                        .with("Status", v.status.clone())
                        .with("SignId", v.sign_id.clone())
                        .with("FailureReasons", v.failure_reasons.clone()),
                );
            }
            body = body.child(l);
        }
        xml::write(&Element::new("XmlMsg").child(header).child(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_name_their_operation() {
        let r = Request {
            operation: Operation::Accept,
            institution_code: "1341234567".into(),
            file_id: "f-1".into(),
            body: vec![
                ("AccessCode".into(), "123456".into()),
                ("InsurerNumber".into(), "01130012".into()),
            ],
        };
        let back = Request::parse(&r.to_xml().unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.field("AccessCode"), Some("123456"));
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.message_type()), Some(op));
        }
        assert!(Request::parse(b"<Other/>").is_err());
    }

    #[test]
    fn responses_round_trip_with_csv_checks_and_signatures() {
        let r = Response {
            message_type: "EPS-ACCEPT".into(),
            file_id: "f-1".into(),
            segment: Some(Segment::Normal),
            ok: true,
            prescription_id: Some("RX-1".into()),
            access_code: Some("123456".into()),
            prescription_status: Some("調剤中".into()),
            issue_type: Some("1".into()),
            csv: Some("JAHIS10\r\n1,1,1312345678,13,新宿内科\r\n".into()),
            checks: vec![CheckEntry {
                code: "W01".into(),
                message: "重複投薬の可能性".into(),
            }],
            verify: vec![Verify {
                status: "OK".into(),
                sign_id: "S1".into(),
                failure_reasons: String::new(),
            }],
            ..Response::default()
        };
        let back = Response::parse(&r.to_xml().unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.error(), None);
    }

    #[test]
    fn qualification_answers_round_trip_with_receipts_and_result_lines() {
        let r = Response {
            message_type: Operation::EligibilityFetch.message_type().into(),
            file_id: "q-1".into(),
            segment: Some(Segment::Normal),
            ok: true,
            receipt_number: Some("R0001".into()),
            records: vec![
                vec![
                    ("InsurerNumber".into(), "01130012".into()),
                    ("Eligible".into(), "1".into()),
                ],
                vec![("InsurerNumber".into(), "06130016".into())],
            ],
            ..Response::default()
        };
        let back = Response::parse(&r.to_xml().unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(record_field(&back.records[0], "Eligible"), Some("1"));
        assert_eq!(record_field(&back.records[1], "Eligible"), None);
        assert!(Operation::DrugInformation.is_qualification());
        assert!(!Operation::Accept.is_qualification());
        assert_eq!(ErrorKind::parse("OQS-E101"), ErrorKind::NoConsent);
    }

    #[test]
    fn errors_come_from_the_header_or_the_body() {
        let refused = Response {
            message_type: "EPS-ACCEPT".into(),
            file_id: "f".into(),
            segment: Some(Segment::Normal),
            ok: false,
            result_code: Some(ErrorKind::AcceptedElsewhere.code().into()),
            reception_pharmacy_name: Some("駅前薬局".into()),
            ..Response::default()
        };
        let back = Response::parse(&refused.to_xml().unwrap()).unwrap();
        assert_eq!(back.error(), Some(ErrorKind::AcceptedElsewhere));
        let abnormal = Response {
            segment: Some(Segment::Abnormal),
            error_code: Some("X".into()),
            ..refused.clone()
        };
        assert_eq!(
            Response::parse(&abnormal.to_xml().unwrap())
                .unwrap()
                .error(),
            Some(ErrorKind::Other)
        );
        let processing = Response {
            segment: Some(Segment::Processing),
            ..refused
        };
        assert_eq!(
            Response::parse(&processing.to_xml().unwrap())
                .unwrap()
                .segment,
            Some(Segment::Processing)
        );
        assert!(Response::parse(
            b"<XmlMsg><MessageHeader><SegmentOfResult>5</SegmentOfResult></MessageHeader></XmlMsg>"
        )
        .is_err());
    }
}
