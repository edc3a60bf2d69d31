//! The file-drop client for the OQS terminal (資格確認端末): a request XML is
//! written into the terminal's request folder (write to a temporary name, then
//! rename, so the terminal never reads half a file), and the response with the
//! same `ArbitraryFileIdentifier` is awaited in the response folder. A response
//! saying "processing" (`SegmentOfResult` 2) is asked again after a pause; no
//! answer within the timeout is a temporary failure; an unreadable answer is
//! kept for inspection.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::domain::eps::messages::{Request, Response, Segment};

/// Folders and timings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub request_dir: PathBuf,
    pub response_dir: PathBuf,
    /// Where unreadable responses are moved (kept for inspection).
    pub quarantine_dir: PathBuf,
    pub timeout: Duration,
    pub poll_interval: Duration,
    /// Pause before asking again after "processing".
    pub processing_retry: Duration,
    /// How many "processing" answers are accepted before giving up (temporary).
    pub max_processing: u32,
}

/// Why a call did not produce a usable response.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("no answer from the national services terminal within {0:?}")]
    Timeout(Duration),
    #[error("the national services are still processing after {0} attempts")]
    StillProcessing(u32),
    #[error("unreadable response ({message}); kept as {kept}")]
    Malformed {
        message: String,
        kept: String,
        raw: Vec<u8>,
    },
    #[error("terminal folder: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot write the request: {0}")]
    Request(String),
}

impl GatewayError {
    /// Worth retrying later (terminal or service down), as opposed to a broken answer.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            GatewayError::Timeout(_) | GatewayError::StillProcessing(_) | GatewayError::Io(_)
        )
    }
}

/// File names: `<id>_req.xml` and `<id>_res.xml` (ids are ASCII, see [`safe_id`]).
pub fn request_file(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}_req.xml"))
}

/// See [`request_file`].
pub fn response_file(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}_res.xml"))
}

/// Whether an id is safe as part of a file name.
pub fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_file(path, bytes, true)
}

/// As [`write_atomic`] without the fsync, for request and response files: a lost
/// one is asked again (same `ArbitraryFileIdentifier`, same answer), so they need to
/// be whole when seen but not to survive a power cut.
pub fn write_transient(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_file(path, bytes, false)
}

fn write_file(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, path)
}

/// The client.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub config: GatewayConfig,
}

impl Gateway {
    /// A client over `config`'s folders (created if missing).
    pub fn new(config: GatewayConfig) -> std::io::Result<Gateway> {
        for d in [
            &config.request_dir,
            &config.response_dir,
            &config.quarantine_dir,
        ] {
            std::fs::create_dir_all(d)?;
        }
        Ok(Gateway { config })
    }

    /// Sends `req` and waits for its response. Blocking: run off the async executor.
    pub fn call(&self, req: &Request) -> Result<Response, GatewayError> {
        if !safe_id(&req.file_id) {
            return Err(GatewayError::Request(format!(
                "file id `{}` is not safe",
                req.file_id
            )));
        }
        let bytes = req.to_xml().map_err(GatewayError::Request)?;
        let mut processing = 0;
        loop {
            let res_path = response_file(&self.config.response_dir, &req.file_id);
            write_transient(
                &request_file(&self.config.request_dir, &req.file_id),
                &bytes,
            )?;
            let raw = self.wait_for(&res_path)?;
            let _ = std::fs::remove_file(&res_path);
            let response = match Response::parse(&raw) {
                Ok(r) if r.file_id == req.file_id => r,
                Ok(r) => {
                    return Err(self.quarantine(
                        &req.file_id,
                        raw,
                        format!("answer for `{}`", r.file_id),
                    ));
                }
                Err(e) => return Err(self.quarantine(&req.file_id, raw, e)),
            };
            if response.segment != Some(Segment::Processing) {
                return Ok(response);
            }
            processing += 1;
            if processing >= self.config.max_processing {
                return Err(GatewayError::StillProcessing(processing));
            }
            std::thread::sleep(self.config.processing_retry);
        }
    }

    fn wait_for(&self, path: &Path) -> Result<Vec<u8>, GatewayError> {
        let started = Instant::now();
        loop {
            match std::fs::read(path) {
                Ok(b) => return Ok(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            if started.elapsed() >= self.config.timeout {
                return Err(GatewayError::Timeout(self.config.timeout));
            }
            std::thread::sleep(self.config.poll_interval);
        }
    }

    fn quarantine(&self, id: &str, raw: Vec<u8>, message: String) -> GatewayError {
        let kept = self.config.quarantine_dir.join(format!("{id}_res.xml"));
        let _ = std::fs::write(&kept, &raw);
        GatewayError::Malformed {
            message,
            kept: kept.display().to_string(),
            raw,
        }
    }

    /// Removes request and response files older than `age` (left by crashes or
    /// answers nobody waited for). Returns how many were removed.
    pub fn cleanup(&self, age: Duration) -> std::io::Result<usize> {
        let mut n = 0;
        for dir in [&self.config.request_dir, &self.config.response_dir] {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|d| d >= age);
                if old && entry.file_name().to_string_lossy().ends_with(".xml") {
                    std::fs::remove_file(entry.path())?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::eps::messages::Operation;

    fn gateway(dir: &Path, timeout_ms: u64) -> Gateway {
        Gateway::new(GatewayConfig {
            request_dir: dir.join("req"),
            response_dir: dir.join("res"),
            quarantine_dir: dir.join("bad"),
            timeout: Duration::from_millis(timeout_ms),
            poll_interval: Duration::from_millis(5),
            processing_retry: Duration::from_millis(10),
            max_processing: 5,
        })
        .unwrap()
    }

    fn request(id: &str) -> Request {
        Request {
            operation: Operation::Status,
            institution_code: "1341234567".into(),
            file_id: id.into(),
            body: vec![("PrescriptionId".into(), "RX-1".into())],
        }
    }

    /// A stand-in terminal: answers each request file with `answer(request, nth)`.
    fn terminal(dir: PathBuf, answers: Vec<Vec<u8>>) -> std::thread::JoinHandle<usize> {
        std::thread::spawn(move || {
            let mut served = 0;
            let deadline = Instant::now() + Duration::from_secs(5);
            while served < answers.len() && Instant::now() < deadline {
                for e in std::fs::read_dir(dir.join("req")).unwrap().flatten() {
                    let name = e.file_name().to_string_lossy().to_string();
                    if let Some(id) = name.strip_suffix("_req.xml") {
                        let req = Request::parse(&std::fs::read(e.path()).unwrap()).unwrap();
                        assert_eq!(req.file_id, id);
                        std::fs::remove_file(e.path()).unwrap();
                        write_atomic(&response_file(&dir.join("res"), id), &answers[served])
                            .unwrap();
                        served += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            served
        })
    }

    fn answer(id: &str, segment: Segment) -> Vec<u8> {
        Response {
            message_type: "EPS-STATUS".into(),
            file_id: id.into(),
            segment: Some(segment),
            ok: true,
            prescription_status: Some("調剤済".into()),
            ..Response::default()
        }
        .to_xml()
        .unwrap()
    }

    #[test]
    fn a_processing_answer_is_asked_again() {
        let dir = tempfile::tempdir().unwrap();
        let g = gateway(dir.path(), 2000);
        let t = terminal(
            dir.path().to_path_buf(),
            vec![
                answer("q1", Segment::Processing),
                answer("q1", Segment::Normal),
            ],
        );
        let r = g.call(&request("q1")).unwrap();
        assert_eq!(r.prescription_status.as_deref(), Some("調剤済"));
        assert_eq!(t.join().unwrap(), 2);
        assert_eq!(
            std::fs::read_dir(dir.path().join("res")).unwrap().count(),
            0,
            "response consumed"
        );
    }

    #[test]
    fn no_answer_is_a_temporary_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let g = gateway(dir.path(), 50);
        let e = g.call(&request("q2")).unwrap_err();
        assert!(matches!(e, GatewayError::Timeout(_)) && e.is_temporary());
        assert!(
            request_file(&dir.path().join("req"), "q2").exists(),
            "the request waits for the terminal"
        );
        assert_eq!(g.cleanup(Duration::ZERO).unwrap(), 1);
    }

    #[test]
    fn a_malformed_answer_is_kept_for_inspection() {
        let dir = tempfile::tempdir().unwrap();
        let g = gateway(dir.path(), 2000);
        let t = terminal(dir.path().to_path_buf(), vec![b"<XmlMsg><Broken>".to_vec()]);
        let e = g.call(&request("q3")).unwrap_err();
        t.join().unwrap();
        match e {
            GatewayError::Malformed { raw, kept, .. } => {
                assert_eq!(raw, b"<XmlMsg><Broken>");
                assert_eq!(std::fs::read(kept).unwrap(), raw);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            gateway(dir.path(), 10).call(&request("../evil")),
            Err(GatewayError::Request(_))
        ));
    }
}
