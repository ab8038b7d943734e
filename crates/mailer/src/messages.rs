//! The emails safepulse sends, as lettre [`Message`]s: [`InvitationEmail`],
//! [`ReminderEmail`], [`ManagerDigestEmail`] and [`SignInEmail`].
//!
//! Every email is `multipart/alternative` (plain text, then HTML) in the
//! recipient's language, rendered from the askama templates in `templates/`.
//! No images, no remote resources, no tracking: the only URLs are the ones the
//! reader is meant to click. Bodies are sent as 7bit or 8bit text (lines up to
//! SMTP's 998 octets), so an `.eml` file reads as written and links are never
//! broken by quoted-printable soft line breaks.
//!
//! The Message-ID is chosen by the caller ([`MessageId::random`], stored on the
//! outbox row and reused on every retry) and is never derived from a link token.
//! Answer and sign-in links are [`SecretLink`]s, whose `Debug` output hides them,
//! so logging an email's input never logs a token.

use std::fmt;
use std::time::SystemTime;

use askama::Template;
use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use safepulse_domain::keys::LinkToken;
use safepulse_domain::{Dimension, Email, Locale, TimeZone};

use crate::sign_in::SignInToken;

/// How long a sign-in link works. The API enforces it; the email states it.
pub const SIGN_IN_LINK_VALID_MINUTES: u32 = 15;

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    // The address is left out on purpose: errors get logged, and an address next to
    // a survey's context is what the privacy design keeps out of logs.
    #[error("the recipient's address cannot be used in an email header")]
    UnusableRecipientAddress,
    #[error("rendering the {template} template failed: {source}")]
    Template {
        template: &'static str,
        source: askama::Error,
    },
    #[error("assembling the email failed: {0}")]
    Assembly(#[from] lettre::error::Error),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error(
        "a public base URL starts with https:// or http://, has a host, and no query, fragment or spaces"
    )]
    MalformedBaseUrl,
    #[error("a link must be an http(s) URL without spaces")]
    MalformedLink,
    #[error("a Message-ID host may only use letters, digits, '-' and '.'")]
    MalformedMessageIdHost,
    #[error("a stored Message-ID must look like <id@host>")]
    MalformedMessageId,
}

/// The `Message-ID` of one outbox row: random, stored, reused across retries so a
/// retried email is recognisably the same email.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// `<random-uuid@host>`; `host` is typically the domain of the From address.
    pub fn random(host: &str) -> Result<MessageId, LinkError> {
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !host_ok {
            return Err(LinkError::MalformedMessageIdHost);
        }
        Ok(MessageId(format!(
            "<{}@{host}>",
            uuid::Uuid::new_v4().simple()
        )))
    }

    /// A Message-ID read back from an outbox row.
    pub fn parse(stored: &str) -> Result<MessageId, LinkError> {
        let inner = stored
            .strip_prefix('<')
            .and_then(|rest| rest.strip_suffix('>'))
            .ok_or(LinkError::MalformedMessageId)?;
        let well_formed = inner
            .split_once('@')
            .is_some_and(|(left, right)| !left.is_empty() && !right.is_empty())
            && inner
                .chars()
                .all(|c| c.is_ascii_graphic() && !"<>\"\\".contains(c));
        if !well_formed {
            return Err(LinkError::MalformedMessageId);
        }
        Ok(MessageId(stored.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where people reach this safepulse installation, e.g. `https://pulse.example.org`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBaseUrl(String);

impl PublicBaseUrl {
    pub fn parse(raw: &str) -> Result<PublicBaseUrl, LinkError> {
        let trimmed = raw.trim().trim_end_matches('/');
        let host = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"));
        let ok = host.is_some_and(|host| !host.is_empty() && !host.starts_with('/'))
            && !trimmed.contains(['?', '#'])
            && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(LinkError::MalformedBaseUrl);
        }
        Ok(PublicBaseUrl(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<base>/r/{token}`: the respondent's personal answer link.
    pub fn answer_link(&self, token: &LinkToken) -> SecretLink {
        SecretLink(format!("{}/r/{}", self.0, token.encode()))
    }

    /// `<base>/sign-in/{token}`: a manager's or HR's one-time sign-in link.
    pub fn sign_in_link(&self, token: &SignInToken) -> SecretLink {
        SecretLink(format!("{}/sign-in/{}", self.0, token.encode()))
    }
}

/// A URL that works as a credential (answer link, sign-in link). Its `Debug` output
/// is redacted so it cannot end up in a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretLink(String);

impl SecretLink {
    /// A link built elsewhere, e.g. the API's sign-in URL.
    pub fn new(url: String) -> Result<SecretLink, LinkError> {
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(SecretLink(url))
        } else {
            Err(LinkError::MalformedLink)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretLink(..)")
    }
}

/// Who an email goes to, and how to speak to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: Email,
    pub locale: Locale,
    pub time_zone: TimeZone,
}

/// The header fields every safepulse email has; the Subject comes from the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHeaders {
    pub from: Mailbox,
    pub to: Recipient,
    pub message_id: MessageId,
    /// The `Date` header: passed in, like every "now" in safepulse.
    pub date: DateTime<Utc>,
}

/// A new round is open: the personal answer link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationEmail {
    pub survey_name: String,
    pub team_name: String,
    /// The teams the recipient leads, when they answer in the leadership group
    /// (DESIGN §3: viewers are not respondents in what they view); empty otherwise.
    pub led_teams: Vec<String>,
    pub answer_link: SecretLink,
    pub question_count: usize,
    /// The survey's `k`: answers are only shown in groups of at least this many people.
    pub min_group_size: u32,
    pub closes_at: DateTime<Utc>,
}

/// The round is still open. Sent to everyone invited unless the survey opted into
/// non-responder reminders, so it never assumes the reader has not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderEmail {
    pub survey_name: String,
    pub team_name: String,
    /// As on [`InvitationEmail`].
    pub led_teams: Vec<String>,
    pub answer_link: SecretLink,
    pub min_group_size: u32,
    pub closes_at: DateTime<Utc>,
}

/// A round closed: headline figures for the teams a manager reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerDigestEmail {
    pub survey_name: String,
    /// How the round is called on the report, e.g. "November 2026".
    pub round_label: String,
    pub report_link: String,
    pub teams: Vec<DigestTeam>,
    /// When the next pulse's results are expected, e.g. "Monday, 21 December
    /// 2026"; `None` when no round is scheduled (the line is left out).
    pub next_results_on: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestTeam {
    pub team_name: String,
    pub result: DigestTeamResult,
    /// The team's open commitments (its action plan), soonest due first.
    pub commitments: Vec<DigestCommitment>,
}

/// An open commitment as the digest reminds of it: "Trust: Weekly 1:1s", due
/// "7 Jan 2027".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCommitment {
    pub dimension: String,
    pub action: String,
    pub due: String,
}

/// A team's figures exactly as released by the anonymizer, already formatted for
/// display. A hidden team carries no figures at all, so none can leak into a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestTeamResult {
    Released {
        headline_figures: Vec<DigestFigure>,
        biggest_comparable_change: Option<DigestFigure>,
    },
    HiddenToProtectAnonymity,
}

/// One display line, e.g. label "Trust", value "5.6 of 7".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestFigure {
    pub label: String,
    pub value: String,
}

/// A magic sign-in link for managers and HR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInEmail {
    pub sign_in_link: SecretLink,
}

/// What a dimension is called in reports and digests.
pub fn dimension_label(dimension: Dimension, locale: Locale) -> &'static str {
    match (locale, dimension) {
        (Locale::En, Dimension::PsychologicalSafety) => "Psychological safety",
        (Locale::En, Dimension::Trust) => "Trust",
        (Locale::En, Dimension::Empathy) => "Empathy",
        (Locale::En, Dimension::Feedback) => "Feedback",
        (Locale::En, Dimension::Clarity) => "Clarity",
        (Locale::En, Dimension::Rapport) => "Rapport",
        (Locale::En, Dimension::Vulnerability) => "Vulnerability",
        (Locale::En, Dimension::Wellbeing) => "Wellbeing",
        (Locale::En, Dimension::Recommendation) => "Recommendation (eNPS)",
        (Locale::De, Dimension::PsychologicalSafety) => "Psychologische Sicherheit",
        (Locale::De, Dimension::Trust) => "Vertrauen",
        (Locale::De, Dimension::Empathy) => "Empathie",
        (Locale::De, Dimension::Feedback) => "Feedback",
        (Locale::De, Dimension::Clarity) => "Klarheit",
        (Locale::De, Dimension::Rapport) => "Verbundenheit",
        (Locale::De, Dimension::Vulnerability) => "Offenheit für Schwächen",
        (Locale::De, Dimension::Wellbeing) => "Wohlbefinden",
        (Locale::De, Dimension::Recommendation) => "Weiterempfehlung (eNPS)",
    }
}

/// What the pulse templates show; times already in the reader's zone and language.
#[derive(Debug)]
struct PulseView<'a> {
    /// A test send from the admin console: marked in the subject and the body.
    is_test: bool,
    survey_name: &'a str,
    team_name: &'a str,
    /// "Platform and Kernel": the teams a leadership-group member leads.
    led_teams: Option<String>,
    answer_link: &'a str,
    question_count: usize,
    min_group_size: u32,
    closes_at: String,
}

#[derive(Debug, Template)]
enum InvitationText<'a> {
    #[template(path = "invitation.en.txt")]
    English { view: &'a PulseView<'a> },
    #[template(path = "invitation.de.txt")]
    German { view: &'a PulseView<'a> },
}

#[derive(Debug, Template)]
enum InvitationHtml<'a> {
    #[template(path = "invitation.en.html")]
    English { view: &'a PulseView<'a> },
    #[template(path = "invitation.de.html")]
    German { view: &'a PulseView<'a> },
}

#[derive(Debug, Template)]
enum ReminderText<'a> {
    #[template(path = "reminder.en.txt")]
    English { view: &'a PulseView<'a> },
    #[template(path = "reminder.de.txt")]
    German { view: &'a PulseView<'a> },
}

#[derive(Debug, Template)]
enum ReminderHtml<'a> {
    #[template(path = "reminder.en.html")]
    English { view: &'a PulseView<'a> },
    #[template(path = "reminder.de.html")]
    German { view: &'a PulseView<'a> },
}

#[derive(Debug, Template)]
enum DigestText<'a> {
    #[template(path = "digest.en.txt")]
    English { digest: &'a ManagerDigestEmail },
    #[template(path = "digest.de.txt")]
    German { digest: &'a ManagerDigestEmail },
}

#[derive(Debug, Template)]
enum DigestHtml<'a> {
    #[template(path = "digest.en.html")]
    English { digest: &'a ManagerDigestEmail },
    #[template(path = "digest.de.html")]
    German { digest: &'a ManagerDigestEmail },
}

#[derive(Debug, Template)]
enum SignInText<'a> {
    #[template(path = "sign_in.en.txt")]
    English {
        sign_in_link: &'a str,
        valid_minutes: u32,
    },
    #[template(path = "sign_in.de.txt")]
    German {
        sign_in_link: &'a str,
        valid_minutes: u32,
    },
}

#[derive(Debug, Template)]
enum SignInHtml<'a> {
    #[template(path = "sign_in.en.html")]
    English {
        sign_in_link: &'a str,
        valid_minutes: u32,
    },
    #[template(path = "sign_in.de.html")]
    German {
        sign_in_link: &'a str,
        valid_minutes: u32,
    },
}

fn render(template: &impl Template, name: &'static str) -> Result<String, MessageError> {
    template.render().map_err(|source| MessageError::Template {
        template: name,
        source,
    })
}

/// An email's parts as they are sent, for the admin console's preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub plain_text: String,
    pub html: String,
}

impl InvitationEmail {
    pub fn to_message(&self, headers: &MessageHeaders) -> Result<Message, MessageError> {
        let RenderedEmail {
            subject,
            plain_text,
            html,
        } = self.render(headers.to.locale, headers.to.time_zone, false)?;
        assemble(headers, subject, plain_text, html)
    }

    /// The admin console's "send a test email to me": the invitation marked as a
    /// test in its subject and body, its link pointing to the console's preview.
    pub fn to_test_message(&self, headers: &MessageHeaders) -> Result<Message, MessageError> {
        let RenderedEmail {
            subject,
            plain_text,
            html,
        } = self.render(headers.to.locale, headers.to.time_zone, true)?;
        assemble(headers, subject, plain_text, html)
    }

    /// The subject and both parts from the real templates, in `locale`.
    pub fn render(
        &self,
        locale: Locale,
        time_zone: TimeZone,
        is_test: bool,
    ) -> Result<RenderedEmail, MessageError> {
        let view = PulseView {
            is_test,
            survey_name: &self.survey_name,
            team_name: &self.team_name,
            led_teams: spoken_list(&self.led_teams, locale),
            answer_link: self.answer_link.as_str(),
            question_count: self.question_count,
            min_group_size: self.min_group_size,
            closes_at: local_date_time(self.closes_at, time_zone, locale),
        };
        let (subject, plain_text, html) = match locale {
            Locale::En => (
                format!("{}: your anonymous pulse", self.survey_name),
                render(&InvitationText::English { view: &view }, "invitation")?,
                render(&InvitationHtml::English { view: &view }, "invitation")?,
            ),
            Locale::De => (
                format!("{}: Ihr anonymer Puls", self.survey_name),
                render(&InvitationText::German { view: &view }, "invitation")?,
                render(&InvitationHtml::German { view: &view }, "invitation")?,
            ),
        };
        let subject = if is_test {
            format!("[TEST] {subject}")
        } else {
            subject
        };
        Ok(RenderedEmail {
            subject,
            plain_text,
            html,
        })
    }
}

impl ReminderEmail {
    pub fn to_message(&self, headers: &MessageHeaders) -> Result<Message, MessageError> {
        let locale = headers.to.locale;
        let view = PulseView {
            is_test: false,
            survey_name: &self.survey_name,
            team_name: &self.team_name,
            led_teams: spoken_list(&self.led_teams, locale),
            answer_link: self.answer_link.as_str(),
            // Reminders do not repeat the question count; their templates do not use it.
            question_count: 0,
            min_group_size: self.min_group_size,
            closes_at: local_date_time(self.closes_at, headers.to.time_zone, locale),
        };
        let (subject, plain_text, html) = match locale {
            Locale::En => (
                format!(
                    "Reminder: {} is open until {}",
                    self.survey_name, view.closes_at
                ),
                render(&ReminderText::English { view: &view }, "reminder")?,
                render(&ReminderHtml::English { view: &view }, "reminder")?,
            ),
            Locale::De => (
                format!(
                    "Erinnerung: {} läuft noch bis {}",
                    self.survey_name, view.closes_at
                ),
                render(&ReminderText::German { view: &view }, "reminder")?,
                render(&ReminderHtml::German { view: &view }, "reminder")?,
            ),
        };
        assemble(headers, subject, plain_text, html)
    }
}

impl ManagerDigestEmail {
    pub fn to_message(&self, headers: &MessageHeaders) -> Result<Message, MessageError> {
        let (subject, plain_text, html) = match headers.to.locale {
            Locale::En => (
                format!(
                    "{}: results of the {}",
                    self.survey_name,
                    lowercase_first(&self.round_label)
                ),
                render(&DigestText::English { digest: self }, "digest")?,
                render(&DigestHtml::English { digest: self }, "digest")?,
            ),
            Locale::De => (
                format!("{}: Ergebnisse, {}", self.survey_name, self.round_label),
                render(&DigestText::German { digest: self }, "digest")?,
                render(&DigestHtml::German { digest: self }, "digest")?,
            ),
        };
        assemble(headers, subject, plain_text, html)
    }
}

impl SignInEmail {
    pub fn to_message(&self, headers: &MessageHeaders) -> Result<Message, MessageError> {
        let sign_in_link = self.sign_in_link.as_str();
        let valid_minutes = SIGN_IN_LINK_VALID_MINUTES;
        let (subject, plain_text, html) = match headers.to.locale {
            Locale::En => (
                "Your safepulse sign-in link".to_owned(),
                render(
                    &SignInText::English {
                        sign_in_link,
                        valid_minutes,
                    },
                    "sign-in",
                )?,
                render(
                    &SignInHtml::English {
                        sign_in_link,
                        valid_minutes,
                    },
                    "sign-in",
                )?,
            ),
            Locale::De => (
                "Ihr Anmeldelink für safepulse".to_owned(),
                render(
                    &SignInText::German {
                        sign_in_link,
                        valid_minutes,
                    },
                    "sign-in",
                )?,
                render(
                    &SignInHtml::German {
                        sign_in_link,
                        valid_minutes,
                    },
                    "sign-in",
                )?,
            ),
        };
        assemble(headers, subject, plain_text, html)
    }
}

fn assemble(
    headers: &MessageHeaders,
    subject: String,
    plain_text: String,
    html: String,
) -> Result<Message, MessageError> {
    let address: Address = headers
        .to
        .address
        .as_str()
        .parse()
        .map_err(|_| MessageError::UnusableRecipientAddress)?;
    // RFC 3834: tells auto-responders (vacation replies) not to answer.
    let auto_submitted = HeaderValue::new(
        HeaderName::new_from_ascii_str("Auto-Submitted"),
        "auto-generated".to_owned(),
    );
    let message = Message::builder()
        .from(headers.from.clone())
        .to(Mailbox::new(None, address))
        .subject(subject)
        .message_id(Some(headers.message_id.as_str().to_owned()))
        .date(SystemTime::from(headers.date))
        .raw_header(auto_submitted)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(readable_body(plain_text)),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(readable_body(html)),
                ),
        )?;
    Ok(message)
}

/// Longest line SMTP allows (RFC 5321 §4.5.3.1.6), without its CRLF.
const MAX_SMTP_LINE_OCTETS: usize = 998;

/// The text as written, labelled 7bit or 8bit, so `.eml` files stay readable and
/// links are never split by quoted-printable soft breaks. lettre's own choice
/// switches to quoted-printable above 76 characters a line; the real limit is 998.
/// Falls back to lettre's choice only for text that cannot be sent as is.
fn readable_body(text: String) -> Body {
    let with_crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let sendable_as_is = with_crlf
        .split("\r\n")
        .all(|line| line.len() <= MAX_SMTP_LINE_OCTETS && !line.contains(['\r', '\0']));
    if !sendable_as_is {
        return Body::new(text);
    }
    let encoding = if with_crlf.is_ascii() {
        ContentTransferEncoding::SevenBit
    } else {
        ContentTransferEncoding::EightBit
    };
    Body::dangerous_pre_encoded(with_crlf.into_bytes(), encoding)
}

/// What a round is called wherever people read about it (dashboard, emails, the
/// API's `label`): the day it actually opened, in the team's time zone, as people
/// say it: "Pulse of 7 Dec 2026", "Puls vom 7. Dez. 2026". The period key
/// (`2026-W50`) names the cadence's slot, which a round opened by hand on a
/// Sunday can miss; nobody says it aloud.
pub fn pulse_label(opened_at: DateTime<Utc>, time_zone: TimeZone, locale: Locale) -> String {
    match locale {
        Locale::En => format!("Pulse of {}", local_date(opened_at, time_zone, locale)),
        Locale::De => format!("Puls vom {}", local_date(opened_at, time_zone, locale)),
    }
}

/// A day as people write it: "7 Dec 2026", "7. Dez. 2026".
pub fn local_date(at: DateTime<Utc>, time_zone: TimeZone, locale: Locale) -> String {
    calendar_date(at.with_timezone(&time_zone.tz()).date_naive(), locale)
}

/// A calendar day (a due date, no time zone to it) as people write it:
/// "7 Dec 2026", "7. Dez. 2026".
pub fn calendar_date(date: NaiveDate, locale: Locale) -> String {
    let month = date.month0() as usize;
    match locale {
        Locale::En => format!(
            "{} {} {}",
            date.day(),
            ENGLISH_SHORT_MONTHS[month],
            date.year()
        ),
        Locale::De => format!(
            "{}. {} {}",
            date.day(),
            GERMAN_SHORT_MONTHS[month],
            date.year()
        ),
    }
}

/// A day without its year, for chart axes: "7 Dec", "7. Dez.".
pub fn local_day_and_month(at: DateTime<Utc>, time_zone: TimeZone, locale: Locale) -> String {
    let local = at.with_timezone(&time_zone.tz());
    let month = local.month0() as usize;
    match locale {
        Locale::En => format!("{} {}", local.day(), ENGLISH_SHORT_MONTHS[month]),
        Locale::De => format!("{}. {}", local.day(), GERMAN_SHORT_MONTHS[month]),
    }
}

const ENGLISH_SHORT_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Duden's abbreviations; the short months are written out.
const GERMAN_SHORT_MONTHS: [&str; 12] = [
    "Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez.",
];

/// "Pulse of 7 Dec 2026" inside a sentence: "the pulse of 7 Dec 2026".
fn lowercase_first(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_lowercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// "Platform", "Platform and Kernel", "Platform, Kernel und Web"; `None` for no names.
fn spoken_list(names: &[String], locale: Locale) -> Option<String> {
    let and = match locale {
        Locale::En => "and",
        Locale::De => "und",
    };
    match names {
        [] => None,
        [only] => Some(only.clone()),
        [init @ .., last] => Some(format!("{} {and} {last}", init.join(", "))),
    }
}

/// E.g. "Friday, 20 November 2026, 17:00 (Europe/Berlin)" or
/// "Freitag, 20. November 2026, 17:00 Uhr (Europe/Berlin)". Month and day names
/// are spelled out so no reader mistakes 03/04 for the wrong day. The answer page
/// uses it too, so the page and the email name the closing time the same way.
pub fn local_date_time(at: DateTime<Utc>, time_zone: TimeZone, locale: Locale) -> String {
    let local = at.with_timezone(&time_zone.tz());
    let date = long_date(local.date_naive(), locale);
    let hours_minutes = local.format("%H:%M");
    match locale {
        Locale::En => format!("{date}, {hours_minutes} ({time_zone})"),
        Locale::De => format!("{date}, {hours_minutes} Uhr ({time_zone})"),
    }
}

/// A day with its weekday, spelled out: "Monday, 21 December 2026",
/// "Montag, 21. Dezember 2026".
pub fn long_date(date: NaiveDate, locale: Locale) -> String {
    let month_index = date.month0() as usize;
    match locale {
        Locale::En => format!(
            "{}, {} {} {}",
            english_weekday_name(date.weekday()),
            date.day(),
            ENGLISH_MONTHS[month_index],
            date.year()
        ),
        Locale::De => format!(
            "{}, {}. {} {}",
            german_weekday(date.weekday()),
            date.day(),
            GERMAN_MONTHS[month_index],
            date.year()
        ),
    }
}

const ENGLISH_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const GERMAN_MONTHS: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];

/// "Monday" … "Sunday": also how the cadence's errors name a weekday.
pub fn english_weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

fn german_weekday(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "Montag",
        Weekday::Tue => "Dienstag",
        Weekday::Wed => "Mittwoch",
        Weekday::Thu => "Donnerstag",
        Weekday::Fri => "Freitag",
        Weekday::Sat => "Samstag",
        Weekday::Sun => "Sonntag",
    }
}
