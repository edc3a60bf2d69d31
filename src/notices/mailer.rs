//! Turning a stored notice into a MIME message and handing it to a transport
//! (lettre): SMTP with STARTTLS, implicit TLS or (loopback only) plain, with
//! authentication and timeouts; or `.eml` files for the embedded default.

use std::time::Duration;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{FileTransport, Message, SmtpTransport, Transport};

use crate::config::MailSettings;

/// `Auto-Submitted: auto-generated` (RFC 3834): tells mail systems not to auto-reply.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}

/// What to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: String,
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

/// A send that did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth retrying: connection refused, timeout, 4xx reply.
    Temporary(String),
    /// Not worth retrying: 5xx reply, invalid address or message.
    Permanent(String),
}

enum Transport_ {
    Smtp(SmtpTransport),
    File(FileTransport, std::path::PathBuf),
}

/// The configured transport.
pub struct Mailer {
    transport: Transport_,
    from: Mailbox,
}

/// The mail configuration is unusable.
#[derive(Debug, thiserror::Error)]
#[error("mail configuration: {0}")]
pub struct MailerError(String);

impl Mailer {
    /// Builds the transport from `[mail]`.
    pub fn from_settings(m: &MailSettings) -> Result<Mailer, MailerError> {
        let from: Mailbox = m
            .from
            .parse()
            .map_err(|e| MailerError(format!("mail.from: {e}")))?;
        let transport = match m.transport.as_str() {
            "file" => {
                let dir = std::path::PathBuf::from(&m.file_dir);
                Transport_::File(FileTransport::new(&dir), dir)
            }
            "smtp" => {
                let s = &m.smtp;
                let builder = match s.security.as_str() {
                    "tls" => SmtpTransport::relay(&s.host),
                    "starttls" => SmtpTransport::starttls_relay(&s.host),
                    _ => Ok(SmtpTransport::builder_dangerous(&s.host)),
                }
                .map_err(|e| MailerError(format!("mail.smtp: {e}")))?;
                let mut builder = builder
                    .port(s.port)
                    .timeout(Some(Duration::from_secs(s.timeout_secs)));
                if !s.username.is_empty() {
                    builder = builder
                        .credentials(Credentials::new(s.username.clone(), s.password.clone()));
                }
                Transport_::Smtp(builder.build())
            }
            other => return Err(MailerError(format!("mail.transport: unknown `{other}`"))),
        };
        Ok(Mailer { transport, from })
    }

    /// The domain used in Message-IDs (that of the sender address).
    pub fn domain(&self) -> String {
        self.from.email.domain().to_string()
    }

    /// Builds the MIME message: multipart/alternative (text, HTML), inside
    /// multipart/mixed when there are attachments. Subjects and bodies are UTF-8,
    /// encoded by lettre (RFC 2047 words; base64 or quoted-printable parts).
    pub fn build(&self, o: &Outgoing) -> Result<Message, SendError> {
        let to: Mailbox =
            o.to.parse()
                .map_err(|e| SendError::Permanent(format!("invalid recipient address: {e}")))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(o.subject.clone())
            .message_id(Some(o.message_id.clone()))
            .header(AutoSubmitted)
            .date_now();
        let alternative = MultiPart::alternative()
            .singlepart(SinglePart::plain(o.text.clone()))
            .singlepart(SinglePart::html(o.html.clone()));
        let body = if o.attachments.is_empty() {
            alternative
        } else {
            let mut mixed = MultiPart::mixed().multipart(alternative);
            for (name, ctype, content) in &o.attachments {
                let ct = ContentType::parse(ctype).map_err(|e| {
                    SendError::Permanent(format!("attachment content type {ctype}: {e}"))
                })?;
                mixed = mixed.singlepart(Attachment::new(name.clone()).body(content.clone(), ct));
            }
            mixed
        };
        builder
            .multipart(body)
            .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))
    }

    /// Sends; returns the server's reply (or the file written).
    pub fn send(&self, o: &Outgoing) -> Result<String, SendError> {
        let message = self.build(o)?;
        match &self.transport {
            Transport_::Smtp(t) => match t.send(&message) {
                Ok(resp) => Ok(format!(
                    "{} {}",
                    resp.code(),
                    resp.message().collect::<Vec<_>>().join(" ")
                )),
                Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                Err(e) => Err(SendError::Temporary(e.to_string())),
            },
            Transport_::File(t, dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    SendError::Temporary(format!("mail directory {}: {e}", dir.display()))
                })?;
                t.send(&message)
                    .map(|id| format!("written {}/{id}.eml", dir.display()))
                    .map_err(|e| SendError::Temporary(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &str) -> MailSettings {
        MailSettings {
            transport: "file".into(),
            from: "さくら薬局 <no-reply@sakura.example>".into(),
            file_dir: dir.into(),
            smtp: crate::config::SmtpSettings {
                host: "localhost".into(),
                port: 25,
                security: "none".into(),
                username: String::new(),
                password: String::new(),
                timeout_secs: 5,
            },
        }
    }

    fn outgoing() -> Outgoing {
        Outgoing {
            to: "patient@example.jp".into(),
            subject: "【さくら薬局】ご予約を承りました".into(),
            text: "本文です。".into(),
            html: "<p>本文です。</p>".into(),
            message_id: "<n1@sakura.example>".into(),
            attachments: vec![(
                "予約.ics".into(),
                "text/calendar; charset=utf-8; method=REQUEST".into(),
                b"BEGIN:VCALENDAR\r\n".to_vec(),
            )],
        }
    }

    #[test]
    fn messages_are_mime_encoded_with_a_stable_message_id() {
        let dir = tempfile::tempdir().unwrap();
        let m = Mailer::from_settings(&settings(dir.path().to_str().unwrap())).unwrap();
        assert_eq!(m.domain(), "sakura.example");
        let raw = String::from_utf8(m.build(&outgoing()).unwrap().formatted()).unwrap();
        assert!(raw.contains("Message-ID: <n1@sakura.example>"));
        assert!(raw.contains("Auto-Submitted: auto-generated"));
        assert!(raw.contains("Subject: =?utf-8?b?"), "{raw}");
        assert!(raw.contains("multipart/mixed") && raw.contains("multipart/alternative"));
        assert!(raw.contains("text/calendar"));
        assert!(raw.is_ascii(), "8-bit content must be encoded");
    }

    #[test]
    fn invalid_recipients_fail_permanently() {
        let dir = tempfile::tempdir().unwrap();
        let m = Mailer::from_settings(&settings(dir.path().to_str().unwrap())).unwrap();
        let mut o = outgoing();
        o.to = "not an address".into();
        assert!(matches!(m.send(&o), Err(SendError::Permanent(_))));
    }

    #[test]
    fn file_transport_writes_eml_files() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("mail");
        let m = Mailer::from_settings(&settings(sub.to_str().unwrap())).unwrap();
        m.send(&outgoing()).unwrap();
        let files: Vec<_> = std::fs::read_dir(&sub).unwrap().collect();
        assert_eq!(files.len(), 1);
    }
}
