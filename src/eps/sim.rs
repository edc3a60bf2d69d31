//! `pharmacy eps-sim`: a stand-in for the OQS terminal and the national
//! e-prescription service, answering request files in the same XML format from a
//! store of its own (`DIR/store/`, one JSON file per prescription). It answers like the real service:
//! unknown code, code/insurance mismatch, accepted by another pharmacy, cancelled
//! by the prescriber, expired, processing (answer later), malformed request.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::gateway::{response_file, write_atomic, write_transient};
use crate::domain::eps::messages::{
    CheckEntry, ErrorKind, Operation, Request, Response, Segment, Verify,
};

/// One prescription registered with the simulated service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimPrescription {
    pub id: String,
    /// 引換番号 (6 digits)
    pub access_code: String,
    pub insurer_number: String,
    pub insured_number: String,
    pub insured_branch: String,
    /// 未受付, 調剤中, 調剤済, 回収済 or 取消
    pub status: String,
    pub reception_pharmacy_code: Option<String>,
    pub reception_pharmacy_name: Option<String>,
    /// The CSV payload.
    pub csv: String,
    pub issue_date: NaiveDate,
    pub expiry_date: Option<NaiveDate>,
    /// The prescriber's signature verifies.
    pub signature_ok: bool,
    /// Answers "processing" this many more times before answering.
    pub processing_rounds: u32,
    /// The patient consented to show which past drug matched in checks.
    pub consent_past_drugs: bool,
    /// EPS's own check results for this prescription (code, message, past drug).
    pub checks: Vec<(String, String, String)>,
    /// The registered dispensing result (CSV), if any.
    pub result: Option<String>,
    /// Answers given about this prescription, by `ArbitraryFileIdentifier`: a
    /// re-sent request (a lost answer) gets the same answer.
    #[serde(default)]
    pub answers: std::collections::BTreeMap<String, String>,
}

/// The simulator's store: one JSON file per prescription in `DIR/store/`, so an
/// answer rewrites only the prescription it changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Store {
    pub prescriptions: Vec<SimPrescription>,
    /// Prescriptions changed since the last save (indexes).
    #[serde(skip)]
    dirty: std::collections::BTreeSet<usize>,
}

/// The store as last read or written by this process, with the store folder's
/// stamp, so a busy simulator does not re-read it for every batch (another
/// process, e.g. `eps-sim issue`, adding or replacing a file changes the stamp).
#[derive(Default)]
pub struct Cached {
    store: Store,
    stamp: Option<std::time::SystemTime>,
}

fn stamp(dir: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(dir.join("store")).ok()?.modified().ok()
}

impl Store {
    /// Loads `DIR/store/*.json` (empty when absent).
    pub fn load(dir: &Path) -> std::io::Result<Store> {
        let mut store = Store::default();
        let entries = match std::fs::read_dir(dir.join("store")) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(store),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|x| x == "json") {
                let bytes = std::fs::read(&path)?;
                store
                    .prescriptions
                    .push(serde_json::from_slice(&bytes).map_err(std::io::Error::other)?);
            }
        }
        store.prescriptions.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(store)
    }

    fn write(dir: &Path, p: &SimPrescription) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(p).map_err(std::io::Error::other)?;
        write_atomic(&dir.join("store").join(format!("{}.json", p.id)), &bytes)
    }

    /// Saves every prescription (durably).
    pub fn save(&mut self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir.join("store"))?;
        for p in &self.prescriptions {
            Self::write(dir, p)?;
        }
        self.dirty.clear();
        Ok(())
    }

    /// Saves the prescriptions changed since the last save.
    pub fn save_changed(&mut self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir.join("store"))?;
        for &i in &self.dirty {
            if let Some(p) = self.prescriptions.get(i) {
                Self::write(dir, p)?;
            }
        }
        self.dirty.clear();
        Ok(())
    }

    /// The prescription a request is about.
    fn index_of(&self, req: &Request) -> Option<usize> {
        match (req.field("AccessCode"), req.field("PrescriptionId")) {
            (Some(code), _) => self
                .prescriptions
                .iter()
                .position(|p| p.access_code == code),
            (None, Some(id)) => self.prescriptions.iter().position(|p| p.id == id),
            _ => None,
        }
    }

    fn knows(&self, req: &Request) -> bool {
        self.index_of(req).is_some()
            || (req.field("AccessCode").is_none() && req.field("PrescriptionId").is_none())
    }

    /// Registers a prescription; returns its 引換番号.
    pub fn issue(&mut self, mut p: SimPrescription) -> String {
        loop {
            let b = crate::auth::random_bytes::<4>();
            let code = format!("{:06}", u32::from_le_bytes(b) % 1_000_000);
            if !self.prescriptions.iter().any(|x| x.access_code == code) {
                p.access_code = code.clone();
                p.id = format!("RX-{}", uuid::Uuid::now_v7().simple());
                self.prescriptions.push(p);
                self.dirty.insert(self.prescriptions.len() - 1);
                return code;
            }
        }
    }
}

fn refuse(req: &Request, kind: ErrorKind, extra: impl FnOnce(&mut Response)) -> Response {
    let mut r = Response {
        message_type: req.operation.message_type().into(),
        file_id: req.file_id.clone(),
        segment: Some(Segment::Normal),
        ok: false,
        result_code: Some(kind.code().into()),
        result_message: Some(kind.message().into()),
        ..Response::default()
    };
    extra(&mut r);
    r
}

fn ok(req: &Request, p: &SimPrescription) -> Response {
    Response {
        message_type: req.operation.message_type().into(),
        file_id: req.file_id.clone(),
        segment: Some(Segment::Normal),
        ok: true,
        prescription_id: Some(p.id.clone()),
        access_code: Some(p.access_code.clone()),
        prescription_status: Some(p.status.clone()),
        reception_pharmacy_code: p.reception_pharmacy_code.clone(),
        reception_pharmacy_name: p.reception_pharmacy_name.clone(),
        issue_type: Some("1".into()),
        ..Response::default()
    }
}

/// Answers one request against the store (`today` decides expiry).
pub fn handle(store: &mut Store, req: &Request, today: NaiveDate) -> Response {
    let pharmacy = req.institution_code.clone();
    let find = |s: &mut Store| -> Option<usize> {
        if let Some(code) = req.field("AccessCode") {
            s.prescriptions.iter().position(|p| p.access_code == code)
        } else {
            req.field("PrescriptionId")
                .and_then(|id| s.prescriptions.iter().position(|p| p.id == id))
        }
    };
    let Some(i) = find(store) else {
        return refuse(req, ErrorKind::UnknownCode, |_| {});
    };
    store.dirty.insert(i);
    let p = &mut store.prescriptions[i];
    if p.processing_rounds > 0 {
        p.processing_rounds -= 1;
        return Response {
            message_type: req.operation.message_type().into(),
            file_id: req.file_id.clone(),
            segment: Some(Segment::Processing),
            ok: true,
            ..Response::default()
        };
    }
    let mine = p.reception_pharmacy_code.as_deref() == Some(pharmacy.as_str());
    match req.operation {
        Operation::Accept | Operation::AcceptByQualification => {
            if req.operation == Operation::Accept {
                let matches = req.field("InsurerNumber") == Some(p.insurer_number.as_str())
                    && req.field("InsuredNumber") == Some(p.insured_number.as_str())
                    && req.field("InsuredBranch").unwrap_or("") == p.insured_branch;
                if !matches {
                    return refuse(req, ErrorKind::InsuranceMismatch, |_| {});
                }
            }
            if p.status == "取消" {
                return refuse(req, ErrorKind::CancelledByPrescriber, |_| {});
            }
            if p.status == "調剤済" || p.status == "回収済" {
                return refuse(req, ErrorKind::AlreadyDispensed, |_| {});
            }
            if p.status != "未受付" && !mine {
                let name = p.reception_pharmacy_name.clone();
                return refuse(req, ErrorKind::AcceptedElsewhere, |r| {
                    r.reception_pharmacy_name = name
                });
            }
            let last = p
                .expiry_date
                .unwrap_or(p.issue_date + chrono::Duration::days(3));
            if today > last {
                return refuse(req, ErrorKind::Expired, |_| {});
            }
            p.status = "調剤中".into();
            p.reception_pharmacy_code = Some(pharmacy);
            p.reception_pharmacy_name = req.field("PharmacyName").map(str::to_string);
            let mut r = ok(req, p);
            r.csv = Some(p.csv.clone());
            r.verify = vec![Verify {
                status: if p.signature_ok {
                    "OK".into()
                } else {
                    "NG".into()
                },
                sign_id: format!("SIG-{}", p.id),
                failure_reasons: if p.signature_ok {
                    String::new()
                } else {
                    "署名検証に失敗しました".into()
                },
            }];
            r.checks = checks_of(p);
            r
        }
        Operation::CancelAcceptance => {
            if !mine {
                return refuse(req, ErrorKind::NotAccepted, |_| {});
            }
            if p.result.is_some() {
                return refuse(req, ErrorKind::ResultExists, |_| {});
            }
            p.status = "未受付".into();
            p.reception_pharmacy_code = None;
            p.reception_pharmacy_name = None;
            ok(req, p)
        }
        Operation::Status => ok(req, p),
        Operation::DuplicateCheck => {
            let mut r = ok(req, p);
            r.checks = checks_of(p);
            r
        }
        Operation::RegisterResult | Operation::ChangeResult => {
            if !mine {
                return refuse(req, ErrorKind::NotAccepted, |_| {});
            }
            if req.operation == Operation::ChangeResult && p.result.is_none() {
                return refuse(req, ErrorKind::NoResult, |_| {});
            }
            p.result = Some(
                req.field("DispensingResultCsv")
                    .unwrap_or_default()
                    .to_string(),
            );
            p.status = "調剤済".into();
            ok(req, p)
        }
        Operation::EligibilityRequest
        | Operation::EligibilityFetch
        | Operation::DrugInformation => refuse(req, ErrorKind::MalformedRequest, |_| {}),
        Operation::CancelResult => {
            if !mine {
                return refuse(req, ErrorKind::NotAccepted, |_| {});
            }
            if p.result.take().is_none() {
                return refuse(req, ErrorKind::NoResult, |_| {});
            }
            p.status = "調剤中".into();
            ok(req, p)
        }
    }
}

fn checks_of(p: &SimPrescription) -> Vec<CheckEntry> {
    p.checks
        .iter()
        .map(|(code, message, past)| CheckEntry {
            code: code.clone(),
            // Without consent the service says that something matched, not which drug.
            message: if p.consent_past_drugs {
                format!("{message}（{past}）")
            } else {
                message.clone()
            },
        })
        .collect()
}

/// Answers every request file in `DIR/req` once; returns how many were answered.
pub fn serve_once(dir: &Path, latency: Duration, today: NaiveDate) -> std::io::Result<usize> {
    serve_cached(dir, latency, today, &mut Cached::default())
}

/// As [`serve_once`], re-reading the store only when it changed on disk.
pub fn serve_cached(
    dir: &Path,
    latency: Duration,
    today: NaiveDate,
    cache: &mut Cached,
) -> std::io::Result<usize> {
    let req_dir = dir.join("req");
    let res_dir = dir.join("res");
    std::fs::create_dir_all(&req_dir)?;
    std::fs::create_dir_all(&res_dir)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&req_dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("_req.xml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Ok(0);
    }
    if cache.stamp.is_none() || cache.stamp != stamp(dir) {
        cache.store = Store::load(dir)?;
        cache.stamp = stamp(dir);
    }
    let store = &mut cache.store;
    let mut answers = Vec::with_capacity(files.len());
    for path in &files {
        let bytes = std::fs::read(path)?;
        let id = path
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches("_req.xml").to_string())
            .unwrap_or_default();
        let answer = match Request::parse(&bytes) {
            Ok(req) if req.operation.is_qualification() => {
                super::sim_qual::answer_file(dir, &req, today)?
            }
            Ok(req) => {
                if !store.knows(&req) {
                    // Issued by another process since the last look (this
                    // batch's changes are saved first).
                    store.save_changed(dir)?;
                    *store = Store::load(dir)?;
                }
                let at = store.index_of(&req);
                let prev = at
                    .filter(|_| req.operation != Operation::Status)
                    .and_then(|i| store.prescriptions[i].answers.get(&req.file_id).cloned());
                match prev {
                    // The same request again (a lost answer): the same answer.
                    Some(prev) => prev.into_bytes(),
                    None => {
                        let r = handle(store, &req, today);
                        let xml = r.to_xml().map_err(std::io::Error::other)?;
                        if let (Some(i), true) = (at, r.segment != Some(Segment::Processing)) {
                            store.prescriptions[i]
                                .answers
                                .insert(req.file_id.clone(), String::from_utf8_lossy(&xml).into());
                            store.dirty.insert(i);
                        }
                        xml
                    }
                }
            }
            Err(e) => Response {
                message_type: String::new(),
                file_id: id.clone(),
                segment: Some(Segment::Abnormal),
                error_code: Some(ErrorKind::MalformedRequest.code().into()),
                error_message: Some(format!("{}: {e}", ErrorKind::MalformedRequest.message())),
                ..Response::default()
            }
            .to_xml()
            .map_err(std::io::Error::other)?,
        };
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }
        answers.push((path, id, answer));
    }
    // The store (with the answers given) is durable before any answer is visible.
    store.save_changed(dir)?;
    cache.stamp = stamp(dir);
    for (path, id, answer) in answers {
        write_transient(&response_file(&res_dir, &id), &answer)?;
        std::fs::remove_file(path)?;
    }
    Ok(files.len())
}

/// Serves until `stop` is set, looking for requests every `poll` when idle.
pub fn serve_until(
    dir: &Path,
    latency: Duration,
    poll: Duration,
    stop: &std::sync::atomic::AtomicBool,
) {
    let mut cache = Cached::default();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let today = chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Tokyo)
            .date_naive();
        match serve_cached(dir, latency, today, &mut cache) {
            Ok(0) => std::thread::sleep(poll),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "eps-sim");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    fn rx() -> SimPrescription {
        SimPrescription {
            id: String::new(),
            access_code: String::new(),
            insurer_number: "01130012".into(),
            insured_number: "1001".into(),
            insured_branch: "01".into(),
            status: "未受付".into(),
            reception_pharmacy_code: None,
            reception_pharmacy_name: None,
            csv: crate::domain::rx_csv::tests_sample(),
            issue_date: today(),
            expiry_date: None,
            signature_ok: true,
            processing_rounds: 0,
            consent_past_drugs: false,
            checks: vec![(
                "W01".into(),
                "重複投薬の可能性があります".into(),
                "ガスター錠10mg".into(),
            )],
            result: None,
            answers: Default::default(),
        }
    }

    fn req(op: Operation, pharmacy: &str, fields: &[(&str, &str)]) -> Request {
        Request {
            operation: op,
            institution_code: pharmacy.into(),
            file_id: uuid::Uuid::new_v4().simple().to_string(),
            body: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn accept(code: &str, pharmacy: &str) -> Request {
        req(
            Operation::Accept,
            pharmacy,
            &[
                ("AccessCode", code),
                ("InsurerNumber", "01130012"),
                ("InsuredNumber", "1001"),
                ("InsuredBranch", "01"),
                ("PharmacyName", "さくら薬局"),
            ],
        )
    }

    #[test]
    fn the_service_answers_each_case_like_the_real_one() {
        let mut s = Store::default();
        let code = s.issue(rx());
        let r = handle(
            &mut s,
            &req(Operation::Accept, "A", &[("AccessCode", "000000")]),
            today(),
        );
        assert_eq!(r.error(), Some(ErrorKind::UnknownCode));
        let mut wrong = accept(&code, "A");
        wrong.body[2].1 = "9999".into();
        assert_eq!(
            handle(&mut s, &wrong, today()).error(),
            Some(ErrorKind::InsuranceMismatch)
        );

        let r = handle(&mut s, &accept(&code, "A"), today());
        assert_eq!(r.error(), None);
        assert_eq!(r.prescription_status.as_deref(), Some("調剤中"));
        assert!(r.csv.is_some() && r.verify[0].status == "OK");
        assert_eq!(
            r.checks[0].message, "重複投薬の可能性があります",
            "no past drug without consent"
        );
        let other = handle(&mut s, &accept(&code, "B"), today());
        assert_eq!(other.error(), Some(ErrorKind::AcceptedElsewhere));
        assert_eq!(other.reception_pharmacy_name.as_deref(), Some("さくら薬局"));

        let reg = req(
            Operation::RegisterResult,
            "A",
            &[("AccessCode", &code), ("DispensingResultCsv", "x")],
        );
        assert_eq!(
            handle(&mut s, &reg, today()).prescription_status.as_deref(),
            Some("調剤済")
        );
        let cancel = req(Operation::CancelAcceptance, "A", &[("AccessCode", &code)]);
        assert_eq!(
            handle(&mut s, &cancel, today()).error(),
            Some(ErrorKind::ResultExists)
        );

        let mut cancelled = rx();
        cancelled.status = "取消".into();
        let c2 = s.issue(cancelled);
        assert_eq!(
            handle(&mut s, &accept(&c2, "A"), today()).error(),
            Some(ErrorKind::CancelledByPrescriber)
        );
        let mut old = rx();
        old.issue_date = today() - chrono::Duration::days(4);
        let c3 = s.issue(old);
        assert_eq!(
            handle(&mut s, &accept(&c3, "A"), today()).error(),
            Some(ErrorKind::Expired)
        );
        let mut slow = rx();
        slow.processing_rounds = 1;
        slow.consent_past_drugs = true;
        let c4 = s.issue(slow);
        assert_eq!(
            handle(&mut s, &accept(&c4, "A"), today()).segment,
            Some(Segment::Processing)
        );
        let r = handle(&mut s, &accept(&c4, "A"), today());
        assert_eq!(r.error(), None);
        assert!(
            r.checks[0].message.contains("ガスター錠10mg"),
            "past drug named with consent"
        );
    }

    #[test]
    fn files_are_answered_once_and_malformed_requests_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::default();
        let code = s.issue(rx());
        s.save(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("req")).unwrap();
        let r = accept(&code, "A");
        write_atomic(
            &super::super::gateway::request_file(&dir.path().join("req"), &r.file_id),
            &r.to_xml().unwrap(),
        )
        .unwrap();
        write_atomic(&dir.path().join("req").join("junk_req.xml"), b"not xml").unwrap();
        assert_eq!(serve_once(dir.path(), Duration::ZERO, today()).unwrap(), 2);
        let answer = Response::parse(
            &std::fs::read(response_file(&dir.path().join("res"), &r.file_id)).unwrap(),
        )
        .unwrap();
        assert_eq!(answer.prescription_status.as_deref(), Some("調剤中"));
        let junk = Response::parse(
            &std::fs::read(response_file(&dir.path().join("res"), "junk")).unwrap(),
        )
        .unwrap();
        assert_eq!(junk.error(), Some(ErrorKind::MalformedRequest));
        assert_eq!(
            Store::load(dir.path()).unwrap().prescriptions[0].status,
            "調剤中"
        );
        assert_eq!(serve_once(dir.path(), Duration::ZERO, today()).unwrap(), 0);
    }
}
