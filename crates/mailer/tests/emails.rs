//! What the four emails say, in both languages, and what they must never contain.

use chrono::{DateTime, TimeZone as _, Utc};
use lettre::Message;
use safepulse_domain::keys::{KeyId, LinkToken, MasterKey};
use safepulse_domain::{Dimension, Email, InvitationId, Locale, RoundId, TimeZone};
use safepulse_mailer::messages::{SIGN_IN_LINK_VALID_MINUTES, dimension_label};
use safepulse_mailer::{
    DigestCommitment, DigestFigure, DigestTeam, DigestTeamResult, InvitationEmail, LinkError,
    ManagerDigestEmail, MessageError, MessageHeaders, MessageId, PublicBaseUrl, Recipient,
    ReminderEmail, SecretLink, SignInEmail, local_date, local_day_and_month, pulse_label,
};

fn token() -> LinkToken {
    let master = MasterKey::new(KeyId::parse("test").unwrap(), vec![5; 32]).unwrap();
    master
        .round_key(RoundId::random(), &[2; 32])
        .link_token(InvitationId::random())
}

fn base_url() -> PublicBaseUrl {
    PublicBaseUrl::parse("https://pulse.example.org/").unwrap()
}

fn closes_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 16, 0, 0).unwrap()
}

fn headers(locale: Locale, time_zone: &str, message_id: &MessageId) -> MessageHeaders {
    MessageHeaders {
        from: "safepulse <pulse@example.org>".parse().unwrap(),
        to: Recipient {
            address: Email::parse("ada@example.com").unwrap(),
            locale,
            time_zone: TimeZone::parse(time_zone).unwrap(),
        },
        message_id: message_id.clone(),
        date: Utc.with_ymd_and_hms(2026, 11, 16, 8, 0, 0).unwrap(),
    }
}

fn invitation(answer_link: SecretLink) -> InvitationEmail {
    InvitationEmail {
        survey_name: "Team pulse".into(),
        team_name: "Platform".into(),
        led_teams: Vec::new(),
        answer_link,
        question_count: 8,
        min_group_size: 5,
        closes_at: closes_at(),
    }
}

/// The raw message split into its top-level headers, plain-text part and HTML part.
struct Rendered {
    headers: String,
    plain_text: String,
    html: String,
}

fn render(message: &Message) -> Rendered {
    let raw = String::from_utf8(message.formatted()).expect("7bit/8bit bodies are UTF-8");
    let (headers, body) = raw.split_once("\r\n\r\n").unwrap();
    let unfolded = headers.replace("\r\n ", " ").replace("\r\n\t", " ");
    assert!(
        unfolded.contains("Content-Type: multipart/alternative;"),
        "{unfolded}"
    );
    let boundary = unfolded
        .split("boundary=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let mut plain_text = None;
    let mut html = None;
    for part in body.split(&format!("--{boundary}")).skip(1) {
        let Some((part_headers, part_body)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        assert!(
            part_headers.contains("Content-Transfer-Encoding: 7bit")
                || part_headers.contains("Content-Transfer-Encoding: 8bit"),
            "readable encoding: {part_headers}"
        );
        // Line ends are CRLF on the wire; the assertions read better with "\n".
        let part_body = part_body.trim_end_matches("\r\n").replace("\r\n", "\n");
        if part_headers.contains("Content-Type: text/plain; charset=utf-8") {
            plain_text = Some(part_body);
        } else if part_headers.contains("Content-Type: text/html; charset=utf-8") {
            html = Some(part_body);
        }
    }
    let (plain_text, html) = (
        plain_text.expect("a text/plain part"),
        html.expect("a text/html part"),
    );
    assert!(
        body.find("Content-Type: text/plain").unwrap()
            < body.find("Content-Type: text/html").unwrap(),
        "plain first"
    );
    Rendered {
        headers: unfolded,
        plain_text,
        html,
    }
}

/// Every `href="…"`, `src=…` and `url(` of the HTML part.
fn html_references(html: &str) -> Vec<String> {
    assert!(!html.contains("src="), "no images, scripts or frames");
    assert!(!html.contains("url("), "no CSS resources");
    assert!(
        !html.to_ascii_lowercase().contains("<img"),
        "no images at all"
    );
    html.split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[test]
fn the_english_invitation_has_the_link_privacy_promise_closing_time_and_footer() {
    let token = token();
    let link = base_url().answer_link(&token);
    let message_id = MessageId::random("example.org").unwrap();
    let message = invitation(link.clone())
        .to_message(&headers(Locale::En, "Europe/Berlin", &message_id))
        .unwrap();
    let rendered = render(&message);

    let expected_link = format!("https://pulse.example.org/r/{}", token.encode());
    assert_eq!(link.as_str(), expected_link);
    for text in [&rendered.plain_text, &rendered.html] {
        assert!(text.contains(&expected_link));
        assert!(text.contains(
            "Your answers are only ever shown combined, in groups of at least 5 people; \
             nobody — not your manager, not HR — can see yours."
        ));
        assert!(
            text.contains("The pulse closes on Friday, 20 November 2026, 17:00 (Europe/Berlin)."),
            "{text}"
        );
        assert!(text.contains("Why you get this: you are a member of Platform"));
        assert!(text.contains("8 short questions"));
    }
    assert!(
        rendered
            .plain_text
            .contains(&format!("\n{expected_link}\n")),
        "the link has a line of its own"
    );
    assert!(
        rendered
            .headers
            .contains("Subject: Team pulse: your anonymous pulse")
    );
    assert!(
        rendered
            .headers
            .contains(&format!("Message-ID: {message_id}"))
    );
    assert!(rendered.headers.contains("To: ada@example.com"));
    assert!(
        rendered
            .headers
            .contains("Date: Mon, 16 Nov 2026 08:00:00 +0000")
    );
    assert!(rendered.headers.contains("Auto-Submitted: auto-generated"));
    assert!(
        rendered
            .html
            .starts_with("<!DOCTYPE html>\n<html lang=\"en\">")
    );
    assert_eq!(html_references(&rendered.html), [expected_link]);
}

#[test]
fn the_german_invitation_is_complete_and_uses_the_recipients_time_zone() {
    let token = token();
    let message_id = MessageId::random("example.org").unwrap();
    let message = invitation(base_url().answer_link(&token))
        .to_message(&headers(Locale::De, "America/New_York", &message_id))
        .unwrap();
    let rendered = render(&message);
    for text in [&rendered.plain_text, &rendered.html] {
        assert!(text.contains(&token.encode()));
        assert!(text.contains(
            "Ihre Antworten werden nur zusammengefasst gezeigt, in Gruppen von mindestens 5 Personen; \
             niemand – weder Ihre Führungskraft noch HR – kann Ihre Antworten sehen."
        ));
        assert!(
            text.contains(
                "Die Umfrage endet am Freitag, 20. November 2026, 11:00 Uhr (America/New_York)."
            ),
            "{text}"
        );
        assert!(text.contains("Warum Sie diese E-Mail erhalten"));
        for english in ["Hello", "Answer", "Why you get this", "closes"] {
            assert!(!text.contains(english), "untranslated {english:?}");
        }
    }
    assert!(
        rendered
            .headers
            .contains("Subject: Team pulse: Ihr anonymer Puls")
    );
    assert!(rendered.html.contains("<html lang=\"de\">"));
}

#[test]
fn a_team_lead_s_invitation_and_reminder_name_the_teams_they_lead_in_both_languages() {
    let token = token();
    let message_id = MessageId::random("example.org").unwrap();
    let lead = InvitationEmail {
        team_name: "Leadership".into(),
        led_teams: vec!["Kernel".into(), "Platform".into()],
        ..invitation(base_url().answer_link(&token))
    };
    let english = render(
        &lead
            .to_message(&headers(Locale::En, "Europe/Berlin", &message_id))
            .unwrap(),
    );
    let german = render(
        &lead
            .to_message(&headers(Locale::De, "Europe/Berlin", &message_id))
            .unwrap(),
    );
    for text in [&english.plain_text, &english.html] {
        assert!(
            text.contains(
                "You lead Kernel and Platform: your answers count in the leadership group"
            ),
            "{text}"
        );
        assert!(text.contains("you lead Kernel and Platform, and Team pulse goes to everyone"));
        assert!(!text.contains("in Leadership"), "{text}");
    }
    for text in [&german.plain_text, &german.html] {
        assert!(
            text.contains(
                "Sie leiten Kernel und Platform: Ihre Antworten zählen in der Führungsgruppe"
            ),
            "{text}"
        );
        assert!(!text.contains("in Leadership"), "{text}");
    }
    let reminder = ReminderEmail {
        survey_name: "Team pulse".into(),
        team_name: "Leadership".into(),
        led_teams: vec!["Kernel".into()],
        answer_link: base_url().answer_link(&token),
        min_group_size: 6,
        closes_at: closes_at(),
    };
    let english = render(
        &reminder
            .to_message(&headers(Locale::En, "Europe/Berlin", &message_id))
            .unwrap(),
    );
    assert!(
        english
            .plain_text
            .contains("as the lead of Kernel, in the leadership group"),
        "{}",
        english.plain_text
    );
}

#[test]
fn the_message_id_is_the_callers_and_unrelated_to_the_token() {
    let token = token();
    let message_id = MessageId::random("example.org").unwrap();
    let first = invitation(base_url().answer_link(&token))
        .to_message(&headers(Locale::En, "UTC", &message_id))
        .unwrap();
    let retry = invitation(base_url().answer_link(&token))
        .to_message(&headers(
            Locale::En,
            "UTC",
            &MessageId::parse(message_id.as_str()).unwrap(),
        ))
        .unwrap();
    assert_eq!(
        first.headers().get_raw("Message-ID"),
        Some(message_id.as_str())
    );
    assert_eq!(
        retry.headers().get_raw("Message-ID"),
        Some(message_id.as_str()),
        "a retry keeps the stored id"
    );
    assert!(!message_id.as_str().contains(&token.encode()[..8]));
    assert_ne!(
        MessageId::random("example.org").unwrap(),
        message_id,
        "random per row"
    );
    assert!(message_id.as_str().starts_with('<') && message_id.as_str().ends_with("@example.org>"));
}

#[test]
fn message_ids_and_base_urls_are_validated() {
    assert_eq!(
        MessageId::random("exa mple.org"),
        Err(LinkError::MalformedMessageIdHost)
    );
    assert_eq!(
        MessageId::random(""),
        Err(LinkError::MalformedMessageIdHost)
    );
    for bad in [
        "",
        "abc@example.org",
        "<abc>",
        "<@example.org>",
        "<a b@example.org>",
        "<abc@example.org>\r\nBcc: x",
    ] {
        assert_eq!(
            MessageId::parse(bad),
            Err(LinkError::MalformedMessageId),
            "{bad:?}"
        );
    }
    assert_eq!(
        base_url().as_str(),
        "https://pulse.example.org",
        "trailing slash removed"
    );
    assert_eq!(
        PublicBaseUrl::parse("http://localhost:8080")
            .unwrap()
            .as_str(),
        "http://localhost:8080"
    );
    assert!(PublicBaseUrl::parse("https://pulse.example.org/base").is_ok());
    for bad in [
        "pulse.example.org",
        "ftp://x.org",
        "https://",
        "https:///path",
        "https://x.org/?a=1",
        "https://x.org/#f",
        "https://x .org",
    ] {
        assert_eq!(
            PublicBaseUrl::parse(bad),
            Err(LinkError::MalformedBaseUrl),
            "{bad:?}"
        );
    }
    assert_eq!(
        SecretLink::new("javascript:alert(1)".into()),
        Err(LinkError::MalformedLink)
    );
    assert_eq!(
        SecretLink::new("https://x.org/a b".into()),
        Err(LinkError::MalformedLink)
    );
}

#[test]
fn debug_output_of_email_inputs_never_shows_a_link_token() {
    let token = token();
    let email = invitation(base_url().answer_link(&token));
    let debug = format!("{email:?}");
    assert!(!debug.contains(&token.encode()), "{debug}");
    assert!(debug.contains("SecretLink(..)"));
    let sign_in = SignInEmail {
        sign_in_link: SecretLink::new("https://x.org/auth/SECRET".into()).unwrap(),
    };
    assert!(!format!("{sign_in:?}").contains("SECRET"));
}

#[test]
fn names_are_escaped_in_html_and_left_alone_in_plain_text() {
    let mut email = invitation(base_url().answer_link(&token()));
    email.survey_name = "Q&A <script>alert(1)</script>".into();
    let rendered = render(
        &email
            .to_message(&headers(
                Locale::En,
                "UTC",
                &MessageId::random("x.org").unwrap(),
            ))
            .unwrap(),
    );
    assert!(!rendered.html.contains("<script>"));
    assert!(
        rendered.html.contains("Q&#38;A &#60;script&#62;")
            || rendered.html.contains("Q&amp;A &lt;script&gt;"),
        "{}",
        rendered.html
    );
    assert!(
        rendered
            .plain_text
            .contains("Q&A <script>alert(1)</script>")
    );
}

#[test]
fn the_reminder_thanks_those_who_already_answered_in_both_languages() {
    let token = token();
    let reminder = ReminderEmail {
        survey_name: "Team pulse".into(),
        team_name: "Platform".into(),
        led_teams: Vec::new(),
        answer_link: base_url().answer_link(&token),
        min_group_size: 6,
        closes_at: closes_at(),
    };
    let message_id = MessageId::random("example.org").unwrap();
    let english = render(
        &reminder
            .to_message(&headers(Locale::En, "Australia/Sydney", &message_id))
            .unwrap(),
    );
    for text in [&english.plain_text, &english.html] {
        assert!(text.contains("If you have already answered, thank you — no need to open this."));
        assert!(
            text.contains("open until Saturday, 21 November 2026, 03:00 (Australia/Sydney)"),
            "{text}"
        );
        assert!(text.contains("in groups of at least 6 people"));
        assert!(text.contains(&token.encode()));
    }
    assert!(
        english
            .headers
            .contains("Subject: Reminder: Team pulse is open until Saturday, 21 November 2026")
    );
    assert_eq!(
        html_references(&english.html),
        [base_url().answer_link(&token).as_str()]
    );
    let german = render(
        &reminder
            .to_message(&headers(Locale::De, "Europe/Berlin", &message_id))
            .unwrap(),
    );
    for text in [&german.plain_text, &german.html] {
        assert!(text.contains("Wenn Sie schon geantwortet haben: vielen Dank – Sie müssen den Link nicht noch einmal öffnen."));
        assert!(
            text.contains("läuft noch bis Freitag, 20. November 2026, 17:00 Uhr (Europe/Berlin)")
        );
    }
}

fn digest() -> ManagerDigestEmail {
    ManagerDigestEmail {
        survey_name: "Team pulse".into(),
        round_label: "Pulse of 30 Nov 2026".into(),
        report_link: "https://pulse.example.org/reports/surveys/42".into(),
        teams: vec![
            DigestTeam {
                team_name: "Platform".into(),
                result: DigestTeamResult::Released {
                    headline_figures: vec![
                        DigestFigure {
                            label: dimension_label(Dimension::Trust, Locale::En).into(),
                            value: "5.6 of 7".into(),
                        },
                        DigestFigure {
                            label: "Participation".into(),
                            value: "9 of 11".into(),
                        },
                    ],
                    biggest_comparable_change: Some(DigestFigure {
                        label: dimension_label(Dimension::Clarity, Locale::En).into(),
                        value: "+0.8".into(),
                    }),
                },
                commitments: vec![DigestCommitment {
                    dimension: dimension_label(Dimension::Trust, Locale::En).into(),
                    action: "Weekly 1:1s with everyone".into(),
                    due: "7 Jan 2027".into(),
                }],
            },
            DigestTeam {
                team_name: "Design".into(),
                result: DigestTeamResult::HiddenToProtectAnonymity,
                commitments: Vec::new(),
            },
        ],
        next_results_on: None,
    }
}

#[test]
fn the_manager_digest_shows_released_figures_and_only_a_reason_for_hidden_teams() {
    let rendered = render(
        &digest()
            .to_message(&headers(
                Locale::En,
                "Europe/Berlin",
                &MessageId::random("x.org").unwrap(),
            ))
            .unwrap(),
    );
    let plain = &rendered.plain_text;
    assert!(plain.contains("\nPlatform\n  Trust: 5.6 of 7\n  Participation: 9 of 11\n  Biggest change since the last comparable round: Clarity, +0.8\n  You committed to:\n  - Trust: Weekly 1:1s with everyone (due 7 Jan 2027)\n"), "{plain}");
    assert!(
        rendered
            .html
            .contains("<li>Trust: Weekly 1:1s with everyone (due 7 Jan 2027)</li>"),
        "the open commitment in the HTML part"
    );
    assert!(
        plain.contains("\nDesign\n  Hidden to protect anonymity.\n"),
        "{plain}"
    );
    assert!(plain.contains("https://pulse.example.org/reports/surveys/42"));
    assert!(
        rendered
            .html
            .contains("<li>Trust: <strong>5.6 of 7</strong></li>")
    );
    let design_section = rendered
        .html
        .split("Design</h2>")
        .nth(1)
        .unwrap()
        .split("<h2")
        .next()
        .unwrap();
    assert!(design_section.contains("Hidden to protect anonymity."));
    assert!(!design_section.contains("<li>"), "{design_section}");
    assert_eq!(
        html_references(&rendered.html),
        ["https://pulse.example.org/reports/surveys/42"]
    );
    assert!(
        rendered
            .headers
            .contains("Subject: Team pulse: results of the pulse of 30 Nov 2026")
    );
}

#[test]
fn the_german_manager_digest_is_translated() {
    let rendered = render(
        &digest()
            .to_message(&headers(
                Locale::De,
                "Europe/Berlin",
                &MessageId::random("x.org").unwrap(),
            ))
            .unwrap(),
    );
    for text in [&rendered.plain_text, &rendered.html] {
        assert!(text.contains("Zum Schutz der Anonymität ausgeblendet."));
        assert!(text.contains("Größte Veränderung seit der letzten vergleichbaren Runde"));
        assert!(!text.contains("Hidden to protect"));
    }
    assert_eq!(dimension_label(Dimension::Trust, Locale::De), "Vertrauen");
}

/// The line on the next pulse's results, in both languages and both parts, after
/// the teams; left out when no date is known.
#[test]
fn the_manager_digest_says_when_the_next_pulse_s_results_come_when_it_is_known() {
    let message_id = MessageId::random("x.org").unwrap();
    for (locale, date, line) in [
        (
            Locale::En,
            "Monday, 21 December 2026",
            "Results of the next pulse: around Monday, 21 December 2026.",
        ),
        (
            Locale::De,
            "Montag, 21. Dezember 2026",
            "Ergebnisse des nächsten Pulses: voraussichtlich am Montag, 21. Dezember 2026.",
        ),
    ] {
        let with_date = ManagerDigestEmail {
            next_results_on: Some(date.into()),
            ..digest()
        };
        let rendered = render(
            &with_date
                .to_message(&headers(locale, "Europe/Berlin", &message_id))
                .unwrap(),
        );
        for text in [&rendered.plain_text, &rendered.html] {
            let (teams, after) = text.split_once(line).expect(line);
            assert!(teams.contains("Design"), "after the teams: {text}");
            assert!(after.contains(with_date.report_link.as_str()), "{text}");
        }
        assert!(
            rendered.plain_text.contains(&format!("\n\n{line}\n\n")),
            "a paragraph of its own: {}",
            rendered.plain_text
        );
        let without = render(
            &digest()
                .to_message(&headers(locale, "Europe/Berlin", &message_id))
                .unwrap(),
        );
        for text in [&without.plain_text, &without.html] {
            assert!(
                !text.contains("next pulse") && !text.contains("nächsten Pulses"),
                "{text}"
            );
        }
    }
}

/// A round opened by hand on Sunday 6 December 2026, 23:30 in Berlin (22:30 UTC),
/// is the pulse of that Sunday for Berlin and of the 7th for Sydney; never its
/// cadence slot (`2026-W50`) or the day it closed.
#[test]
fn a_round_is_named_by_the_day_it_opened_in_the_team_s_zone_and_language() {
    let opened = Utc.with_ymd_and_hms(2026, 12, 6, 22, 30, 0).unwrap();
    let berlin = TimeZone::parse("Europe/Berlin").unwrap();
    let sydney = TimeZone::parse("Australia/Sydney").unwrap();
    assert_eq!(
        pulse_label(opened, berlin, Locale::En),
        "Pulse of 6 Dec 2026"
    );
    assert_eq!(
        pulse_label(opened, sydney, Locale::En),
        "Pulse of 7 Dec 2026"
    );
    assert_eq!(
        pulse_label(opened, berlin, Locale::De),
        "Puls vom 6. Dez. 2026"
    );
    assert_eq!(local_date(opened, berlin, Locale::De), "6. Dez. 2026");
    assert_eq!(local_day_and_month(opened, sydney, Locale::En), "7 Dec");
    let march = Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).unwrap();
    assert_eq!(local_date(march, berlin, Locale::De), "1. März 2027");
}

#[test]
fn the_sign_in_email_states_its_fifteen_minute_validity() {
    assert_eq!(SIGN_IN_LINK_VALID_MINUTES, 15);
    let link = "https://pulse.example.org/auth/magic/s3cr3t";
    let email = SignInEmail {
        sign_in_link: SecretLink::new(link.into()).unwrap(),
    };
    let english = render(
        &email
            .to_message(&headers(
                Locale::En,
                "UTC",
                &MessageId::random("x.org").unwrap(),
            ))
            .unwrap(),
    );
    for text in [&english.plain_text, &english.html] {
        assert!(text.contains("It works once, for 15 minutes"));
        assert!(text.contains(link));
    }
    assert_eq!(html_references(&english.html), [link]);
    assert!(
        english
            .headers
            .contains("Subject: Your safepulse sign-in link")
    );
    let german = render(
        &email
            .to_message(&headers(
                Locale::De,
                "UTC",
                &MessageId::random("x.org").unwrap(),
            ))
            .unwrap(),
    );
    assert!(
        german
            .plain_text
            .contains("Er funktioniert einmal und 15 Minuten lang")
    );
    assert!(
        german
            .headers
            .contains("Subject: Ihr Anmeldelink =?utf-8?b?"),
        "RFC 2047 for non-ASCII: {}",
        german.headers
    );
}

#[test]
fn an_address_the_domain_accepts_but_smtp_cannot_use_is_an_error_without_the_address() {
    // Consecutive dots pass `Email::parse` but are not a valid SMTP mailbox.
    let message_id = MessageId::random("example.org").unwrap();
    let mut headers = headers(Locale::En, "UTC", &message_id);
    headers.to.address = Email::parse("ada..lovelace@example.com").unwrap();
    let error = invitation(base_url().answer_link(&token()))
        .to_message(&headers)
        .unwrap_err();
    assert!(
        matches!(error, MessageError::UnusableRecipientAddress),
        "{error:?}"
    );
    assert!(
        !error.to_string().contains("lovelace"),
        "errors get logged: no address in them"
    );
}
