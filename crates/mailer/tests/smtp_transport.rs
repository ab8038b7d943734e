//! The real `MailTransport::Smtp` (lettre, pooled) against the scriptable SMTP sink
//! the black-box tests use, plus the sink's own protocol behaviour.

#[path = "../../../tests/support/smtp_sink.rs"]
mod smtp_sink;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use lettre::Message;
use safepulse_domain::keys::{KeyId, MasterKey};
use safepulse_domain::{Email, InvitationId, Locale, RoundId, TimeZone};
use safepulse_mailer::{
    InvitationEmail, MailTransport, MessageHeaders, MessageId, PublicBaseUrl, Recipient, SendError,
    SmtpConfig, SmtpTls, TransportConfigError,
};
use smtp_sink::{Reply, Script, SmtpSink, Transaction};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const PATIENCE: Duration = Duration::from_secs(10);

fn transport_to(port: u16, pool_size: u32) -> MailTransport {
    MailTransport::smtp(&SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        pool_size,
        timeout_seconds: 5,
        message_timeout_seconds: 10,
        from: None,
    })
    .unwrap()
}

/// A real invitation (German, so the body is 8-bit) to `recipient`.
fn invitation(recipient: &str, message_id: &MessageId) -> Message {
    let master = MasterKey::new(KeyId::parse("test").unwrap(), vec![9; 32]).unwrap();
    let token = master
        .round_key(RoundId::random(), &[1; 32])
        .link_token(InvitationId::random());
    let content = InvitationEmail {
        survey_name: "Teampuls".into(),
        team_name: "Plattform".into(),
        led_teams: Vec::new(),
        answer_link: PublicBaseUrl::parse("https://pulse.example.org")
            .unwrap()
            .answer_link(&token),
        question_count: 8,
        min_group_size: 5,
        closes_at: Utc.with_ymd_and_hms(2026, 11, 20, 16, 0, 0).unwrap(),
    };
    let headers = MessageHeaders {
        from: "safepulse <pulse@example.org>".parse().unwrap(),
        to: Recipient {
            address: Email::parse(recipient).unwrap(),
            locale: Locale::De,
            time_zone: TimeZone::parse("Europe/Berlin").unwrap(),
        },
        message_id: message_id.clone(),
        date: Utc.with_ymd_and_hms(2026, 11, 16, 8, 0, 0).unwrap(),
    };
    content.to_message(&headers).unwrap()
}

fn new_message_id() -> MessageId {
    MessageId::random("example.org").unwrap()
}

#[tokio::test]
async fn a_configured_envelope_sender_takes_the_bounces_and_the_from_header_stays() {
    let sink = SmtpSink::start(Script::accept_all()).await;
    let transport = MailTransport::smtp(&SmtpConfig {
        host: "127.0.0.1".into(),
        port: sink.port(),
        tls: SmtpTls::None,
        username: None,
        password: None,
        pool_size: 1,
        timeout_seconds: 5,
        message_timeout_seconds: 10,
        from: Some("safepulse bounces <bounces@example.org>".into()),
    })
    .unwrap();

    transport
        .send(&invitation("ada@example.com", &new_message_id()))
        .await
        .unwrap();

    let received = sink.wait_for(1, PATIENCE).await.unwrap();
    assert_eq!(received[0].mail_from, "bounces@example.org");
    assert_eq!(received[0].recipients, ["ada@example.com"]);
    assert_eq!(
        received[0].header("From").as_deref(),
        Some("safepulse <pulse@example.org>")
    );
}

#[tokio::test]
async fn an_envelope_sender_that_is_not_an_address_is_refused_when_the_transport_is_built() {
    let refused = MailTransport::smtp(&SmtpConfig {
        host: "127.0.0.1".into(),
        port: 25,
        tls: SmtpTls::None,
        username: None,
        password: None,
        pool_size: 1,
        timeout_seconds: 5,
        message_timeout_seconds: 10,
        from: Some("not an address".into()),
    });
    assert!(matches!(
        refused,
        Err(TransportConfigError::MalformedEnvelopeSender)
    ));
}

#[tokio::test]
async fn an_accepted_message_is_recorded_with_its_envelope_and_exact_body() {
    let sink = SmtpSink::start(Script::accept_all()).await;
    let transport = transport_to(sink.port(), 2);
    let message_id = new_message_id();
    let message = invitation("ada@example.com", &message_id);

    transport.send(&message).await.unwrap();

    let received = sink.wait_for(1, PATIENCE).await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].mail_from, "pulse@example.org");
    assert_eq!(received[0].recipients, ["ada@example.com"]);
    assert_eq!(
        received[0].message_id().as_deref(),
        Some(message_id.as_str())
    );
    // lettre sends CRLF.CRLF after the message's own final CRLF, so one empty line more arrives.
    let expected = format!("{}\r\n", String::from_utf8(message.formatted()).unwrap());
    assert_eq!(received[0].text(), expected, "byte for byte, dot-unstuffed");
    assert!(
        received[0]
            .text()
            .contains("Ihre Antworten werden nur zusammengefasst gezeigt")
    );
    assert_eq!(
        received[0].header("subject").as_deref(),
        message.headers().get_raw("Subject")
    );
}

#[tokio::test]
async fn a_421_reply_is_transient_and_the_retry_with_the_same_message_id_is_delivered() {
    let sink = SmtpSink::start(Script::replies_in_order(vec![Reply::TempFail {
        code: 421,
    }]))
    .await;
    let transport = transport_to(sink.port(), 2);
    let message_id = new_message_id();
    let message = invitation("ada@example.com", &message_id);

    let error = transport.send(&message).await.unwrap_err();
    assert!(
        matches!(
            error,
            SendError::Transient {
                smtp_code: Some(421),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(sink.messages().is_empty());

    transport.send(&message).await.unwrap();
    let received = sink.wait_for(1, PATIENCE).await.unwrap();
    assert_eq!(
        received[0].message_id().as_deref(),
        Some(message_id.as_str())
    );
    let attempts = sink.attempts();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].reply, Reply::TempFail { code: 421 });
    assert!(
        attempts
            .iter()
            .all(|attempt| attempt.message_id().as_deref() == Some(message_id.as_str()))
    );
}

#[tokio::test]
async fn a_451_reply_is_transient() {
    let sink = SmtpSink::start(Script::replies_in_order(vec![Reply::TempFail {
        code: 451,
    }]))
    .await;
    let transport = transport_to(sink.port(), 1);
    let error = transport
        .send(&invitation("ada@example.com", &new_message_id()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            SendError::Transient {
                smtp_code: Some(451),
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_550_reply_is_permanent_and_carries_the_servers_message() {
    let sink = SmtpSink::start(Script::from_fn(|transaction| {
        if transaction.recipient == "gone@example.com" {
            Reply::PermFail
        } else {
            Reply::Accept
        }
    }))
    .await;
    let transport = transport_to(sink.port(), 2);

    let error = transport
        .send(&invitation("gone@example.com", &new_message_id()))
        .await
        .unwrap_err();
    match &error {
        SendError::Permanent {
            smtp_code,
            server_message,
        } => {
            assert_eq!(*smtp_code, 550);
            assert!(
                server_message.contains("mailbox unavailable"),
                "{server_message}"
            );
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
    assert!(!error.is_transient());

    // The pool recovers: the next recipient is delivered.
    transport
        .send(&invitation("ada@example.com", &new_message_id()))
        .await
        .unwrap();
    let received = sink.wait_for(1, PATIENCE).await.unwrap();
    assert_eq!(received[0].recipients, ["ada@example.com"]);
    assert_eq!(sink.attempts()[0].reply, Reply::PermFail);
}

#[tokio::test]
async fn a_connection_dropped_during_data_is_transient_and_the_retry_keeps_the_message_id() {
    let sink = SmtpSink::start(Script::replies_in_order(vec![Reply::DropDuringData])).await;
    let transport = transport_to(sink.port(), 2);
    let message_id = new_message_id();
    let message = invitation("ada@example.com", &message_id);

    let error = transport.send(&message).await.unwrap_err();
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
    assert!(sink.messages().is_empty());
    let dropped = &sink.attempts()[0];
    assert_eq!(dropped.reply, Reply::DropDuringData);
    assert_eq!(
        dropped.message_id().as_deref(),
        Some(message_id.as_str()),
        "the headers arrived before the drop"
    );

    transport.send(&message).await.unwrap();
    let received = sink.wait_for(1, PATIENCE).await.unwrap();
    assert_eq!(
        received[0].message_id().as_deref(),
        Some(message_id.as_str())
    );
}

/// SMTP settings whose every command may take 5 s but a whole message only 2 s.
fn transport_with_message_timeout(port: u16, pool_size: u32) -> MailTransport {
    MailTransport::smtp(&SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        pool_size,
        timeout_seconds: 5,
        message_timeout_seconds: 2,
        from: None,
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_slow_in_every_command_is_cut_off_after_the_message_timeout() {
    // Each reply 1 s late: every command is well within the 5 s command timeout,
    // but RCPT, DATA and the end of the message together take 3 s.
    let sink = SmtpSink::start(Script::replies_in_order(vec![Reply::AcceptSlowly {
        per_reply: Duration::from_secs(1),
    }]))
    .await;
    let transport = transport_with_message_timeout(sink.port(), 1);

    let started = std::time::Instant::now();
    let error = transport
        .send(&invitation("ada@example.com", &new_message_id()))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(2_900),
        "the whole message is bounded by its 2 s, not by 3 × 1 s of commands: {took:?}"
    );
    assert!(
        matches!(&error, SendError::Transient { smtp_code: None, reason } if reason.contains("longer than 2 s")),
        "{error:?}"
    );

    // The abandoned connection is not reused: the next message gets a fresh one
    // and the server's late replies to the first cannot be read as its own.
    let message_id = new_message_id();
    transport
        .send(&invitation("grace@example.com", &message_id))
        .await
        .unwrap();
    let accepted = sink.wait_for(1, PATIENCE).await.unwrap();
    assert_eq!(
        accepted.len(),
        1,
        "the first message was abandoned before its data was sent"
    );
    assert_eq!(accepted[0].recipients, ["grace@example.com"]);
    assert_eq!(
        accepted[0].message_id(),
        Some(message_id.as_str().to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_dropped_midway_takes_its_connection_with_it() {
    let sink = SmtpSink::start(Script::replies_in_order(vec![Reply::AcceptSlowly {
        per_reply: Duration::from_millis(700),
    }]))
    .await;
    let transport = transport_to(sink.port(), 1);
    let abandoned = tokio::time::timeout(
        Duration::from_millis(1_000),
        transport.send(&invitation("ada@example.com", &new_message_id())),
    )
    .await;
    assert!(abandoned.is_err(), "the caller gave up before the reply");

    let message_id = new_message_id();
    transport
        .send(&invitation("grace@example.com", &message_id))
        .await
        .unwrap();
    let attempts = sink.attempts();
    let second = attempts
        .iter()
        .find(|attempt| attempt.transaction.recipient == "grace@example.com")
        .expect("the second message reached the sink");
    assert_eq!(second.reply, Reply::Accept);
    assert_eq!(second.message_id(), Some(message_id.as_str().to_owned()));
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let unused_port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let transport = transport_to(unused_port, 1);
    let error = transport
        .send(&invitation("ada@example.com", &new_message_id()))
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_sends_through_the_pool_all_arrive_once() {
    let sink = SmtpSink::start(Script::accept_all()).await;
    let transport = transport_to(sink.port(), 8);
    let mut sends = tokio::task::JoinSet::new();
    let mut expected_ids = HashSet::new();
    for number in 0..200 {
        let message_id = new_message_id();
        expected_ids.insert(message_id.as_str().to_owned());
        let message = invitation(&format!("person{number}@example.com"), &message_id);
        let transport = transport.clone();
        sends.spawn(async move { transport.send(&message).await });
    }
    while let Some(result) = sends.join_next().await {
        result.unwrap().unwrap();
    }
    let received = sink.wait_for(200, PATIENCE).await.unwrap();
    assert_eq!(received.len(), 200);
    let received_ids: HashSet<String> = received
        .iter()
        .filter_map(|message| message.message_id())
        .collect();
    assert_eq!(received_ids, expected_ids);
}

#[tokio::test]
async fn a_script_can_fail_each_recipients_first_attempt() {
    let sink = SmtpSink::start(Script::from_fn(|transaction: &Transaction| {
        if transaction.earlier_attempts_for_recipient == 0 {
            Reply::TempFail { code: 451 }
        } else {
            Reply::Accept
        }
    }))
    .await;
    let transport = transport_to(sink.port(), 2);
    for recipient in ["a@example.com", "b@example.com"] {
        let message = invitation(recipient, &new_message_id());
        assert!(transport.send(&message).await.unwrap_err().is_transient());
        transport.send(&message).await.unwrap();
    }
    let received = sink.wait_for(2, PATIENCE).await.unwrap();
    assert_eq!(received.len(), 2);
    let numbers: Vec<usize> = sink
        .attempts()
        .iter()
        .map(|attempt| attempt.transaction.number)
        .collect();
    assert_eq!(numbers, [0, 1, 2, 3]);
}

#[tokio::test]
async fn waiting_for_more_messages_than_arrive_times_out_with_the_count() {
    let sink = SmtpSink::start(Script::accept_all()).await;
    let error = sink
        .wait_for(1, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!((error.wanted, error.received), (1, 0));
    assert!(error.to_string().contains("received 0"), "{error}");
}

/// Drives the sink by hand: one reply line (or a multi-line reply's last line).
async fn send_command(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: &mut tokio::net::tcp::OwnedWriteHalf,
    command: &str,
) -> String {
    writer.write_all(command.as_bytes()).await.unwrap();
    read_reply(reader).await
}

async fn read_reply(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
    loop {
        let mut line = String::new();
        tokio::time::timeout(PATIENCE, reader.read_line(&mut line))
            .await
            .expect("the sink replies within the patience")
            .unwrap();
        // Multi-line replies continue with "250-"; the last line has "250 ".
        if line.as_bytes().get(3) != Some(&b'-') {
            return line;
        }
    }
}

#[tokio::test]
async fn the_sink_speaks_smtp_and_unstuffs_leading_dots() {
    let sink = SmtpSink::start(Script::accept_all()).await;
    let (reader, mut writer) = TcpStream::connect(("127.0.0.1", sink.port()))
        .await
        .unwrap()
        .into_split();
    let mut reader = BufReader::new(reader);
    assert!(read_reply(&mut reader).await.starts_with("220 "));
    assert!(
        send_command(&mut reader, &mut writer, "MAIL FROM:<a@example.org>\r\n")
            .await
            .starts_with("503 ")
    );
    assert!(
        send_command(&mut reader, &mut writer, "HELO client\r\n")
            .await
            .starts_with("250 ")
    );
    assert!(
        send_command(&mut reader, &mut writer, "NOOP\r\n")
            .await
            .starts_with("250 ")
    );
    assert!(
        send_command(&mut reader, &mut writer, "RCPT TO:<b@example.org>\r\n")
            .await
            .starts_with("503 ")
    );
    assert!(
        send_command(
            &mut reader,
            &mut writer,
            "MAIL FROM:<dropped@example.org>\r\n"
        )
        .await
        .starts_with("250 ")
    );
    assert!(
        send_command(&mut reader, &mut writer, "RSET\r\n")
            .await
            .starts_with("250 ")
    );
    assert!(
        send_command(&mut reader, &mut writer, "DATA\r\n")
            .await
            .starts_with("503 "),
        "RSET ended the transaction"
    );
    assert!(
        send_command(&mut reader, &mut writer, "EHLO client\r\n")
            .await
            .starts_with("250 ")
    );
    assert!(
        send_command(
            &mut reader,
            &mut writer,
            "mail from:<a@example.org> BODY=8BITMIME\r\n"
        )
        .await
        .starts_with("250 ")
    );
    assert!(
        send_command(&mut reader, &mut writer, "RCPT TO:<b@example.org>\r\n")
            .await
            .starts_with("250 ")
    );
    assert!(
        send_command(&mut reader, &mut writer, "RCPT TO:<c@example.org>\r\n")
            .await
            .starts_with("250 ")
    );
    assert!(
        send_command(&mut reader, &mut writer, "DATA\r\n")
            .await
            .starts_with("354 ")
    );
    let reply = send_command(
        &mut reader,
        &mut writer,
        "Subject: dots\r\n\r\n..leading dot\r\n...\r\nlast\r\n.\r\n",
    )
    .await;
    assert!(reply.starts_with("250 "), "{reply}");
    assert!(
        send_command(&mut reader, &mut writer, "WHAT\r\n")
            .await
            .starts_with("500 ")
    );
    assert!(
        send_command(&mut reader, &mut writer, "QUIT\r\n")
            .await
            .starts_with("221 ")
    );

    let received = sink.wait_for(1, PATIENCE).await.unwrap();
    assert_eq!(received[0].mail_from, "a@example.org");
    assert_eq!(received[0].recipients, ["b@example.org", "c@example.org"]);
    assert_eq!(
        received[0].text(),
        "Subject: dots\r\n\r\n.leading dot\r\n..\r\nlast\r\n"
    );
    assert_eq!(received[0].header("SUBJECT").as_deref(), Some("dots"));
}

/// Opens a connection and runs one transaction up to the end of DATA.
async fn transaction_until_end_of_data(
    port: u16,
) -> (
    BufReader<tokio::net::tcp::OwnedReadHalf>,
    tokio::net::tcp::OwnedWriteHalf,
    String,
) {
    let (reader, mut writer) = TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap()
        .into_split();
    let mut reader = BufReader::new(reader);
    read_reply(&mut reader).await;
    for command in [
        "EHLO client\r\n",
        "MAIL FROM:<a@example.org>\r\n",
        "RCPT TO:<b@example.org>\r\n",
        "DATA\r\n",
    ] {
        send_command(&mut reader, &mut writer, command).await;
    }
    let reply = send_command(&mut reader, &mut writer, "Subject: x\r\n\r\nbody\r\n.\r\n").await;
    (reader, writer, reply)
}

#[tokio::test]
async fn a_421_closes_the_connection_like_a_real_server_and_a_451_keeps_it() {
    let sink = SmtpSink::start(Script::replies_in_order(vec![
        Reply::TempFail { code: 421 },
        Reply::TempFail { code: 451 },
    ]))
    .await;

    let (mut reader, _writer, reply) = transaction_until_end_of_data(sink.port()).await;
    assert!(reply.starts_with("421 "), "{reply}");
    let mut rest = String::new();
    let closed = tokio::time::timeout(PATIENCE, reader.read_line(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "closed after 421, got {closed:?}"
    );

    let (mut reader, mut writer, reply) = transaction_until_end_of_data(sink.port()).await;
    assert!(reply.starts_with("451 "), "{reply}");
    assert!(
        send_command(&mut reader, &mut writer, "NOOP\r\n")
            .await
            .starts_with("250 "),
        "still open after 451"
    );
    assert!(sink.messages().is_empty());
}
