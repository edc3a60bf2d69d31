//! A real SMTP server process for tests (tests/smtp_server.py, aiosmtpd), started
//! on a free loopback port; received messages are read back decoded.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The Python that has aiosmtpd (set up by scripts/test.sh).
fn python() -> String {
    if let Ok(p) = std::env::var("PHARMACY_TEST_PYTHON") {
        return p;
    }
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/target/smtp-venv/bin/python");
    if std::path::Path::new(venv).exists() {
        venv.to_string()
    } else {
        "python3".to_string()
    }
}

/// A free loopback port (nothing listens on it afterwards).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The running server.
pub struct SmtpServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    delay: f64,
}

impl SmtpServer {
    /// Starts a server on a free port.
    pub fn start() -> SmtpServer {
        Self::start_on(free_port(), 0.0)
    }

    /// A server that will listen on `port` once [`SmtpServer::resume`] is called.
    pub fn stopped(port: u16) -> SmtpServer {
        SmtpServer {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
            delay: 0.0,
        }
    }

    /// Starts on `port`, delaying each DATA by `delay` seconds.
    pub fn start_on(port: u16, delay: f64) -> SmtpServer {
        let mut s = SmtpServer {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
            delay,
        };
        s.resume();
        s
    }

    /// (Re)starts the process, keeping the message directory.
    pub fn resume(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py");
        let mut child = Command::new(python())
            .arg(script)
            .args(["--port", &self.port.to_string()])
            .args(["--outdir", self.dir.path().to_str().unwrap()])
            .args(["--delay", &self.delay.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the SMTP test server ({}): {e}; run scripts/test.sh",
                    python()
                )
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "READY",
            "SMTP test server did not start (needs aiosmtpd: run scripts/test.sh)"
        );
        self.child = Some(child);
    }

    /// Stops the process (the port refuses connections afterwards).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every message received so far (decoded).
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits until at least `n` messages arrived.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let m = self.messages();
            if m.len() >= n || start.elapsed() > timeout {
                return m;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Environment for an app or worker process sending through this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PHARMACY__MAIL__TRANSPORT", "smtp".into()),
            ("PHARMACY__MAIL__SMTP__HOST", "127.0.0.1".into()),
            ("PHARMACY__MAIL__SMTP__PORT", self.port.to_string()),
            ("PHARMACY__MAIL__SMTP__SECURITY", "none".into()),
            ("PHARMACY__MAIL__SMTP__TIMEOUT_SECS", "5".into()),
            (
                "PHARMACY__MAIL__FROM",
                "さくら薬局 <no-reply@sakura.example>".into(),
            ),
        ]
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
