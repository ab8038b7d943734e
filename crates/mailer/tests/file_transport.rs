//! The embedded default: one complete, readable `.eml` file per message.

use std::path::{Path, PathBuf};

use chrono::{TimeZone as _, Utc};
use lettre::Message;
use safepulse_domain::{Email, Locale, TimeZone};
use safepulse_mailer::{
    MailTransport, MessageHeaders, MessageId, Recipient, SecretLink, SendError, SignInEmail,
    TransportConfigError,
};

/// A fresh directory under the system's temp dir, removed when dropped.
struct ScratchDirectory(PathBuf);

impl ScratchDirectory {
    fn new() -> ScratchDirectory {
        let path = std::env::temp_dir().join(format!(
            "safepulse-mailer-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).unwrap();
        ScratchDirectory(path)
    }
}

impl Drop for ScratchDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sign_in_message(locale: Locale) -> Message {
    SignInEmail {
        sign_in_link: SecretLink::new("https://pulse.example.org/auth/magic/abcDEF123_-xyz".into())
            .unwrap(),
    }
    .to_message(&MessageHeaders {
        from: "safepulse <pulse@example.org>".parse().unwrap(),
        to: Recipient {
            address: Email::parse("juergen.manager@example.org").unwrap(),
            locale,
            time_zone: TimeZone::parse("Europe/Berlin").unwrap(),
        },
        message_id: MessageId::random("example.org").unwrap(),
        date: Utc.with_ymd_and_hms(2026, 11, 16, 8, 0, 0).unwrap(),
    })
    .unwrap()
}

fn directory_entries(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_file_transport_writes_one_complete_eml_per_message_and_nothing_else() {
    let data_dir = ScratchDirectory::new();
    let transport = MailTransport::file_in_data_dir(&data_dir.0).unwrap();
    let mail_dir = data_dir.0.join("mail");
    assert!(matches!(&transport, MailTransport::File(directory) if *directory == mail_dir));

    let messages = [sign_in_message(Locale::En), sign_in_message(Locale::De)];
    for message in &messages {
        transport.send(message).await.unwrap();
    }

    let names = directory_entries(&mail_dir);
    assert_eq!(names.len(), 2, "{names:?}");
    for name in &names {
        let stem = name
            .strip_suffix(".eml")
            .unwrap_or_else(|| panic!("{name} is not an .eml file"));
        assert!(
            stem.len() == 32 && stem.chars().all(|c| c.is_ascii_hexdigit()),
            "random name, got {name}"
        );
    }
    let mut contents: Vec<Vec<u8>> = names
        .iter()
        .map(|name| std::fs::read(mail_dir.join(name)).unwrap())
        .collect();
    let mut expected: Vec<Vec<u8>> = messages.iter().map(Message::formatted).collect();
    contents.sort();
    expected.sort();
    assert_eq!(contents, expected, "exactly the message, byte for byte");
}

#[tokio::test]
async fn an_eml_file_reads_as_written_in_a_text_editor() {
    let data_dir = ScratchDirectory::new();
    let transport = MailTransport::file_in_data_dir(&data_dir.0).unwrap();
    transport.send(&sign_in_message(Locale::De)).await.unwrap();
    let name = directory_entries(&data_dir.0.join("mail")).pop().unwrap();
    let text =
        String::from_utf8(std::fs::read(data_dir.0.join("mail").join(name)).unwrap()).unwrap();
    assert!(
        text.contains("\r\nSubject: "),
        "headers first, CRLF line ends"
    );
    assert!(text.contains("Content-Type: multipart/alternative"));
    assert!(
        text.contains("\nhttps://pulse.example.org/auth/magic/abcDEF123_-xyz\r\n"),
        "the link on its own line, unbroken"
    );
    assert!(
        text.contains("Ohne den Link kann sich niemand anmelden."),
        "German text as UTF-8, not encoded"
    );
    assert!(!text.contains("Content-Transfer-Encoding: base64"));
    assert!(!text.contains("Content-Transfer-Encoding: quoted-printable"));
}

#[tokio::test]
async fn a_failed_write_is_transient_and_leaves_no_partial_file() {
    let data_dir = ScratchDirectory::new();
    let missing = data_dir.0.join("not-created");
    let transport = MailTransport::File(missing.clone());
    let error = transport
        .send(&sign_in_message(Locale::En))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            SendError::Transient {
                smtp_code: None,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!missing.exists());
    assert!(directory_entries(&data_dir.0).is_empty());
}

#[test]
fn the_mail_directory_must_be_creatable() {
    let data_dir = ScratchDirectory::new();
    let a_file = data_dir.0.join("a-file");
    std::fs::write(&a_file, b"not a directory").unwrap();
    assert!(matches!(
        MailTransport::file_in_data_dir(&a_file),
        Err(TransportConfigError::MailDirectory { .. })
    ));
}
