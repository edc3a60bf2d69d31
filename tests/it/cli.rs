//! The command line as a real process.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::TestDb;

fn pharmacy(db: Option<&str>, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pharmacy"));
    cmd.args(args)
        .env("PHARMACY__LOG__FILTER", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = db {
        cmd.env("PHARMACY__DATABASE__URL", url);
    }
    let mut child = cmd.spawn().expect("spawn");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn help_explains_each_command() {
    let (ok, out) = pharmacy(None, &["--help"], None);
    assert!(ok);
    for c in ["serve", "migrate", "demo", "user", "pharmacy", "audit"] {
        assert!(out.contains(c), "{c} missing from help:\n{out}");
    }
    let (ok, out) = pharmacy(None, &["user", "--help"], None);
    assert!(ok);
    for c in ["add", "disable", "reset-2fa"] {
        assert!(out.contains(c), "{out}");
    }
}

#[test]
fn bad_configuration_names_the_key_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = pharmacy(Some("mysql://localhost/x"), &["migrate"], None);
    assert!(!ok);
    assert!(out.contains("database.url"), "{out}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pharmacy"));
    let out = cmd
        .args(["migrate"])
        .current_dir(dir.path())
        .env("PHARMACY__SERVER__LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.listen"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file created"
    );
}

#[test]
fn operator_sets_up_a_pharmacy_and_staff_from_the_command_line() {
    let db = TestDb::new();
    let url = Some(db.url.as_str());
    assert!(pharmacy(url, &["migrate"], None).0);
    let (ok, out) = pharmacy(
        url,
        &[
            "pharmacy",
            "add",
            "--code",
            "1341234567",
            "--name",
            "本店",
            "--postal-code",
            "1600022",
            "--address",
            "東京都新宿区",
            "--phone",
            "0312345678",
            "--email",
            "a@example.jp",
            "--founder",
            "株式会社テスト",
        ],
        None,
    );
    assert!(ok, "{out}");
    let (ok, out) = pharmacy(
        url,
        &[
            "user",
            "add",
            "--pharmacy",
            "1341234567",
            "--username",
            "pharm1",
            "--name",
            "薬師",
            "--role",
            "pharmacist",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!ok && out.contains("password"), "{out}");
    let (ok, out) = pharmacy(
        url,
        &[
            "user",
            "add",
            "--pharmacy",
            "1341234567",
            "--username",
            "pharm1",
            "--name",
            "薬師",
            "--role",
            "pharmacist",
        ],
        None,
    );
    assert!(ok, "{out}");
    assert!(out.contains("initial password"), "{out}");
    let (ok, out) = pharmacy(url, &["user", "reset-2fa", "--username", "pharm1"], None);
    assert!(ok, "{out}");
    assert!(pharmacy(url, &["user", "disable", "--username", "pharm1"], None).0);
    let (ok, out) = pharmacy(url, &["user", "disable", "--username", "ghost"], None);
    assert!(!ok && out.contains("no user"), "{out}");
    let (ok, out) = pharmacy(url, &["audit", "verify"], None);
    assert!(ok, "{out}");
    assert!(out.contains("intact"));
}
