//! The qualification side of the simulator (オンライン資格確認, DOMAIN.md §4): the
//! consents patients registered on マイナ在宅受付Web for a pharmacy (`DIR/qual.json`),
//! bulk eligibility by pharmacy code, consent date and visit date (a request gets a
//! 受付番号, the result is fetched later with it and is "processing" at first), and
//! a patient's drug information (薬剤情報), given only while a consent covers today.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::gateway::write_atomic;
use crate::domain::eps::messages::{ErrorKind, Operation, Request, Response, Segment};

/// One dispensed drug the national records hold for the patient.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimDrug {
    /// YJ code.
    pub code: String,
    pub name: String,
    pub dispensed_on: NaiveDate,
    pub days: i32,
    pub institution: String,
}

/// A viewing consent a patient gave a pharmacy on マイナ在宅受付Web.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimConsent {
    /// 医療機関コード of the pharmacy.
    pub pharmacy_code: String,
    pub insurer_number: String,
    pub insured_number: String,
    pub insured_branch: String,
    pub birth_date: NaiveDate,
    pub name: String,
    pub consent_date: NaiveDate,
    /// The consent runs until this day (the guidance date).
    pub visit_date: NaiveDate,
    /// The insurance is valid.
    pub eligible: bool,
    pub drugs: Vec<SimDrug>,
}

/// A bulk eligibility request.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Receipt {
    number: String,
    pharmacy_code: String,
    consent_date: NaiveDate,
    visit_date: NaiveDate,
    /// "Processing" answers left before the result.
    processing_rounds: u32,
}

/// The qualification store.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct QualStore {
    pub consents: Vec<SimConsent>,
    receipts: Vec<Receipt>,
    /// Answers by `ArbitraryFileIdentifier` (a re-sent request gets the same one).
    answers: BTreeMap<String, String>,
}

fn path(dir: &Path) -> std::path::PathBuf {
    dir.join("qual.json")
}

impl QualStore {
    /// Loads `DIR/qual.json` (empty when absent).
    pub fn load(dir: &Path) -> std::io::Result<QualStore> {
        match std::fs::read(path(dir)) {
            Ok(b) => serde_json::from_slice(&b).map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(QualStore::default()),
            Err(e) => Err(e),
        }
    }

    /// Saves durably.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(&path(dir), &bytes)
    }
}

/// Registers a consent (what the patient does on マイナ在宅受付Web).
pub fn register_consent(dir: &Path, consent: SimConsent) -> std::io::Result<()> {
    let mut store = QualStore::load(dir)?;
    store.consents.push(consent);
    store.save(dir)
}

fn date(req: &Request, name: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(req.field(name)?, "%Y%m%d").ok()
}

fn answer(req: &Request) -> Response {
    Response {
        message_type: req.operation.message_type().into(),
        file_id: req.file_id.clone(),
        segment: Some(Segment::Normal),
        ok: true,
        ..Response::default()
    }
}

fn refuse(req: &Request, kind: ErrorKind) -> Response {
    Response {
        ok: false,
        result_code: Some(kind.code().into()),
        result_message: Some(kind.message().into()),
        ..answer(req)
    }
}

fn pairs(fields: &[(&str, String)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Answers one qualification request against the store (`today` decides the
/// consent windows).
pub fn handle(store: &mut QualStore, req: &Request, today: NaiveDate) -> Response {
    let pharmacy = req.institution_code.as_str();
    match req.operation {
        Operation::EligibilityRequest => {
            let (Some(consent_date), Some(visit_date)) =
                (date(req, "ConsentDate"), date(req, "VisitDate"))
            else {
                return refuse(req, ErrorKind::MalformedRequest);
            };
            let number = format!("R{:08}", store.receipts.len() + 1);
            store.receipts.push(Receipt {
                number: number.clone(),
                pharmacy_code: pharmacy.into(),
                consent_date,
                visit_date,
                processing_rounds: 1,
            });
            Response {
                receipt_number: Some(number),
                ..answer(req)
            }
        }
        Operation::EligibilityFetch => {
            let Some(r) = store.receipts.iter_mut().find(|r| {
                Some(r.number.as_str()) == req.field("ReceiptNumber") && r.pharmacy_code == pharmacy
            }) else {
                return refuse(req, ErrorKind::UnknownReceipt);
            };
            if r.processing_rounds > 0 {
                r.processing_rounds -= 1;
                return Response {
                    segment: Some(Segment::Processing),
                    ..answer(req)
                };
            }
            let (from, visit, number) = (r.consent_date, r.visit_date, r.number.clone());
            let records = store
                .consents
                .iter()
                .filter(|c| {
                    c.pharmacy_code == pharmacy && c.consent_date >= from && c.visit_date == visit
                })
                .map(|c| {
                    pairs(&[
                        ("InsurerNumber", c.insurer_number.clone()),
                        ("InsuredNumber", c.insured_number.clone()),
                        ("InsuredBranch", c.insured_branch.clone()),
                        ("BirthDate", c.birth_date.format("%Y%m%d").to_string()),
                        ("Name", c.name.clone()),
                        ("Eligible", if c.eligible { "1" } else { "0" }.into()),
                        ("ConsentDate", c.consent_date.format("%Y%m%d").to_string()),
                        ("VisitDate", c.visit_date.format("%Y%m%d").to_string()),
                    ])
                })
                .collect();
            Response {
                receipt_number: Some(number),
                records,
                ..answer(req)
            }
        }
        Operation::DrugInformation => {
            let found = store.consents.iter().find(|c| {
                c.pharmacy_code == pharmacy
                    && req.field("InsurerNumber") == Some(c.insurer_number.as_str())
                    && req.field("InsuredNumber") == Some(c.insured_number.as_str())
                    && req.field("InsuredBranch").unwrap_or("") == c.insured_branch
                    && date(req, "BirthDate") == Some(c.birth_date)
                    && c.consent_date <= today
                    && today <= c.visit_date
            });
            match found {
                None => refuse(req, ErrorKind::NoConsent),
                Some(c) => Response {
                    records: c
                        .drugs
                        .iter()
                        .map(|d| {
                            pairs(&[
                                ("DrugCode", d.code.clone()),
                                ("DrugName", d.name.clone()),
                                ("DispensedDate", d.dispensed_on.format("%Y%m%d").to_string()),
                                ("Days", d.days.to_string()),
                                ("Institution", d.institution.clone()),
                            ])
                        })
                        .collect(),
                    ..answer(req)
                },
            }
        }
        _ => refuse(req, ErrorKind::MalformedRequest),
    }
}

/// Answers a qualification request file: the same file id gets the same answer;
/// the store is saved before the answer is given.
pub fn answer_file(dir: &Path, req: &Request, today: NaiveDate) -> std::io::Result<Vec<u8>> {
    let mut store = QualStore::load(dir)?;
    if let Some(prev) = store.answers.get(&req.file_id) {
        return Ok(prev.clone().into_bytes());
    }
    let r = handle(&mut store, req, today);
    let xml = r.to_xml().map_err(std::io::Error::other)?;
    if r.segment != Some(Segment::Processing) {
        store
            .answers
            .insert(req.file_id.clone(), String::from_utf8_lossy(&xml).into());
    }
    store.save(dir)?;
    Ok(xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn req(op: Operation, id: &str, fields: &[(&str, &str)]) -> Request {
        Request {
            operation: op,
            institution_code: "1310000001".into(),
            file_id: id.into(),
            body: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn consent() -> SimConsent {
        SimConsent {
            pharmacy_code: "1310000001".into(),
            insurer_number: "01130012".into(),
            insured_number: "1001".into(),
            insured_branch: "01".into(),
            birth_date: d("1958-04-12"),
            name: "山田 花子".into(),
            consent_date: d("2026-11-20"),
            visit_date: d("2026-11-25"),
            eligible: true,
            drugs: vec![SimDrug {
                code: "2171022F2041".into(),
                name: "アムロジン錠5mg".into(),
                dispensed_on: d("2026-11-01"),
                days: 28,
                institution: "他院".into(),
            }],
        }
    }

    #[test]
    fn eligibility_is_given_by_receipt_after_processing() {
        let mut s = QualStore {
            consents: vec![consent()],
            ..QualStore::default()
        };
        let today = d("2026-11-21");
        let r = handle(
            &mut s,
            &req(
                Operation::EligibilityRequest,
                "a",
                &[("ConsentDate", "20261120"), ("VisitDate", "20261125")],
            ),
            today,
        );
        let number = r.receipt_number.unwrap();
        let get = req(
            Operation::EligibilityFetch,
            "b",
            &[("ReceiptNumber", &number)],
        );
        assert_eq!(
            handle(&mut s, &get, today).segment,
            Some(Segment::Processing)
        );
        let r = handle(&mut s, &get, today);
        assert!(r.ok);
        assert_eq!(r.records.len(), 1);
        let unknown = req(Operation::EligibilityFetch, "c", &[("ReceiptNumber", "R9")]);
        assert_eq!(
            handle(&mut s, &unknown, today).error(),
            Some(ErrorKind::UnknownReceipt)
        );
    }

    #[test]
    fn drug_information_only_inside_the_consent() {
        let mut s = QualStore {
            consents: vec![consent()],
            ..QualStore::default()
        };
        let ask = req(
            Operation::DrugInformation,
            "d",
            &[
                ("InsurerNumber", "01130012"),
                ("InsuredNumber", "1001"),
                ("InsuredBranch", "01"),
                ("BirthDate", "19580412"),
            ],
        );
        assert_eq!(handle(&mut s, &ask, d("2026-11-25")).records.len(), 1);
        assert_eq!(
            handle(&mut s, &ask, d("2026-11-26")).error(),
            Some(ErrorKind::NoConsent)
        );
        assert_eq!(
            handle(&mut s, &ask, d("2026-11-19")).error(),
            Some(ErrorKind::NoConsent)
        );
    }
}
