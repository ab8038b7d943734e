//! The answer page, `/r/{token}` (DESIGN §2 "Submit" and "Logs, metrics, links";
//! §3 for what the page promises). This is where a team member decides whether to
//! trust safepulse, so it is plain HTML that works without JavaScript, in the
//! person's language, and keeps these rules:
//!
//! - **GET writes nothing and always shows the form.** Mail scanners open links, and
//!   the operator of the embedded default holds every `.eml` file: opening a link
//!   must neither burn it nor tell anyone whether it was used. Only the POST says
//!   "already answered".
//! - **One page for every link that leads nowhere.** Unknown, malformed and closed
//!   links get the same page, status and headers, so the page never reveals whether
//!   a token existed.
//! - **CSRF without state.** The form carries `HMAC(csrf key, token)` ([`form_csrf`],
//!   a purpose key derived from the master key), so nothing is written on GET; the
//!   POST also refuses cross-site requests by `Sec-Fetch-Site`, or by `Origin` where a
//!   browser sends no fetch metadata. (The page's `Referrer-Policy: no-referrer` makes
//!   browsers send `Origin: null` with the form, which is therefore no evidence.)
//! - **Strict form parsing.** Every item of the round answered exactly once and on
//!   its scale, a comment of at most 2,000 characters of valid UTF-8, nothing else.
//!   A crafted or broken request gets a friendly 4xx page; answers a person can fix
//!   come back as the form with the problems marked (422).
//! - **The submit path reads no person.** The POST learns the page's language from a
//!   hidden field of the form (the GET read it from the person), and
//!   [`answers::submit`] stores the answer by its ballot alone.
//! - **Nothing about a respondent in a log.** The request middleware does not log
//!   `/r/*` at all (it counts it); this module logs only server errors, without the
//!   token, the answers or the comment.
//! - Every response sends `Cache-Control: no-store`, `Referrer-Policy: no-referrer`,
//!   and a Content-Security-Policy that allows nothing but the page's own inline
//!   style sheet (by hash) and posting the form to itself: no third-party asset.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use safepulse_domain::keys::{LinkToken, Purpose};
use safepulse_domain::{ItemId, Locale, Scale, TimeZone};
use safepulse_mailer::messages::local_date_time;
use safepulse_store::answers::{self, AnswerPageRound, SubmitOutcome, ValidAnswer};
use sha2::{Digest, Sha256};

use super::language::accepted_locale;
use crate::error::RETRY_UNAVAILABLE_AFTER_SECONDS;
use crate::metrics::Metrics;
use crate::request_context::current_request_id;
use crate::secrets::Secrets;
use crate::state::AppState;

/// The page's only style sheet, inlined into every page (see the CSP below).
pub const STYLE: &str = include_str!("../../templates/answer/answer.css");

/// Longest comment, in characters (Unicode scalar values) after line endings are
/// normalised. The textarea's `maxlength` is the same number; browsers count UTF-16
/// units there, which is never fewer.
pub const MAX_COMMENT_CHARS: usize = 2_000;

/// Largest form body accepted: a maximal comment, percent-encoded, fits several times.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Allows the inline style sheet by its hash and posting the form to this origin;
/// nothing else (no script, image, font, frame or third-party request).
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let style_hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{style_hash}'; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'"
    )
});

/// The CSRF field of the answer form: `HMAC(csrf key, token)` with the active master
/// key's [`Purpose::AnswerFormCsrf`] key. Derived, never stored.
pub fn form_csrf(secrets: &Secrets, token: &LinkToken) -> String {
    secrets
        .active_master_key()
        .purpose_key(Purpose::AnswerFormCsrf)
        .sign(token.as_bytes())
}

/// Any master key may have signed the form (the active one can rotate in between).
fn csrf_is_valid(secrets: &Secrets, token: &LinkToken, given: &str) -> bool {
    secrets.master_keys.iter().any(|key| {
        key.purpose_key(Purpose::AnswerFormCsrf)
            .verify(token.as_bytes(), given)
    })
}

/// `GET /r/{token}`: the form, in the invited person's language. Writes nothing.
pub async fn show_form(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let fallback_locale = accepted_locale(&request);
    let Some(token) = path_token(&request) else {
        return outcome_page(
            StatusCode::NOT_FOUND,
            fallback_locale,
            &Outcome::Unavailable,
        );
    };
    let (round, language) = match answers::answer_form_round(state.store.connection(), &token).await
    {
        Ok(Some(found)) => found,
        Ok(None) => {
            return outcome_page(
                StatusCode::NOT_FOUND,
                fallback_locale,
                &Outcome::Unavailable,
            );
        }
        Err(error) => {
            return store_error_page(fallback_locale, error, Outcome::TryAgainSoon);
        }
    };
    let locale = Locale::parse(&language.locale).unwrap_or(fallback_locale);
    let time_zone = language
        .time_zone
        .and_then(|name| TimeZone::parse(&name).ok())
        .unwrap_or_else(utc);
    let view = FormView::new(
        &state,
        &round,
        locale,
        time_zone,
        form_csrf(&state.secrets, &token),
        &Checked::blank(round.item_ids.len()),
    );
    form_page(StatusCode::OK, locale, &view)
}

/// The form of `round` exactly as a respondent in `locale` gets it (same templates,
/// style sheet and headers), for the admin console's preview: marked as a preview,
/// its button disabled, its CSRF field empty. Reads and writes nothing.
pub fn preview_page(
    state: &AppState,
    round: &AnswerPageRound,
    locale: Locale,
    time_zone: TimeZone,
) -> HttpResponse {
    let mut view = FormView::new(
        state,
        round,
        locale,
        time_zone,
        String::new(),
        &Checked::blank(round.item_ids.len()),
    );
    view.preview = true;
    form_page(StatusCode::OK, locale, &view)
}

/// `POST /r/{token}`: checks the request and the answers, then stores them with
/// [`answers::submit`].
pub async fn submit_answers(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> HttpResponse {
    let (token, form, locale) = match verified_form(&request, payload, &state).await {
        Ok(verified) => verified,
        Err(response) => return response,
    };
    let time_zone = form
        .time_zone
        .as_deref()
        .and_then(|name| TimeZone::parse(name).ok())
        .unwrap_or_else(utc);

    let round = match answers::answer_page_round(state.store.connection(), &token).await {
        Ok(Some(round)) => round,
        Ok(None) => {
            metrics.record_answer(false);
            return outcome_page(StatusCode::NOT_FOUND, locale, &Outcome::Unavailable);
        }
        Err(error) => return store_error_page(locale, error, Outcome::NotSaved),
    };
    let Some(checked) = Checked::check(&form, &round, &state) else {
        metrics.record_answer(false);
        return outcome_page(StatusCode::BAD_REQUEST, locale, &Outcome::Unreadable);
    };
    let Some(answer) = checked.valid_answer() else {
        metrics.record_answer(false);
        let view = FormView::new(
            &state,
            &round,
            locale,
            time_zone,
            form_csrf(&state.secrets, &token),
            &checked,
        );
        return form_page(StatusCode::UNPROCESSABLE_ENTITY, locale, &view);
    };

    let Ok(submitted) = state.submit_queue.submit(token, answer).await else {
        // Only while the process stops: the answer was not stored, the link stays valid.
        return outcome_page(
            StatusCode::SERVICE_UNAVAILABLE,
            locale,
            &Outcome::ServerError,
        );
    };
    submitted_page(submitted, &round, locale, time_zone, &metrics)
}

/// The request's checks before any answer is looked at: a link token, the same
/// site, a form body that parses, and its CSRF field. Returns the token, the form
/// and the page's language (the form's, else the browser's).
async fn verified_form(
    request: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<(LinkToken, SubmittedForm, Locale), HttpResponse> {
    let mut locale = accepted_locale(request);
    let Some(token) = path_token(request) else {
        return Err(outcome_page(
            StatusCode::NOT_FOUND,
            locale,
            &Outcome::Unavailable,
        ));
    };
    if is_cross_site(request, state.config.public_url_trimmed()) {
        return Err(outcome_page(
            StatusCode::FORBIDDEN,
            locale,
            &Outcome::Unverified,
        ));
    }
    if !is_form_content_type(request) {
        return Err(outcome_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            locale,
            &Outcome::Unreadable,
        ));
    }
    let body = match read_body(payload).await {
        Ok(body) => body,
        Err(status) => return Err(outcome_page(status, locale, &Outcome::Unreadable)),
    };
    let Some(form) = SubmittedForm::parse(&body) else {
        return Err(outcome_page(
            StatusCode::BAD_REQUEST,
            locale,
            &Outcome::Unreadable,
        ));
    };
    if let Some(chosen) = form
        .locale
        .as_deref()
        .and_then(|raw| Locale::parse(raw).ok())
    {
        locale = chosen;
    }
    let csrf_ok = form
        .csrf
        .as_deref()
        .is_some_and(|given| csrf_is_valid(&state.secrets, &token, given));
    if !csrf_ok {
        return Err(outcome_page(
            StatusCode::FORBIDDEN,
            locale,
            &Outcome::Unverified,
        ));
    }
    Ok((token, form, locale))
}

/// The page for what the submit queue did with the answer.
fn submitted_page(
    submitted: Result<SubmitOutcome, safepulse_store::StoreError>,
    round: &AnswerPageRound,
    locale: Locale,
    time_zone: TimeZone,
    metrics: &Metrics,
) -> HttpResponse {
    let closes_at = local_date_time(round.closes_at, time_zone, locale);
    match submitted {
        Ok(SubmitOutcome::Accepted) => {
            metrics.record_answer(true);
            outcome_page(
                StatusCode::OK,
                locale,
                &Outcome::Thanks {
                    closes_at,
                    k: round.k,
                },
            )
        }
        Ok(SubmitOutcome::AlreadyAnswered) => {
            metrics.record_answer(false);
            outcome_page(
                StatusCode::CONFLICT,
                locale,
                &Outcome::AlreadyAnswered {
                    closes_at,
                    k: round.k,
                },
            )
        }
        Ok(SubmitOutcome::NotOpen) => {
            metrics.record_answer(false);
            outcome_page(StatusCode::NOT_FOUND, locale, &Outcome::Unavailable)
        }
        Err(error) => store_error_page(locale, error, Outcome::NotSaved),
    }
}

fn utc() -> TimeZone {
    TimeZone::parse("UTC").expect("UTC is a time zone")
}

/// The token from the path, if it is one. The path is never logged or echoed.
fn path_token(request: &HttpRequest) -> Option<LinkToken> {
    request
        .match_info()
        .get("token")
        .and_then(|raw| LinkToken::parse(raw).ok())
}

/// Whether a browser tells us the POST comes from another site. `Sec-Fetch-Site`
/// first (every current browser sends it); else an `Origin` other than `null` must
/// be this server's public origin. Clients sending neither (old browsers, scripts)
/// are left to the CSRF field.
pub(super) fn is_cross_site(request: &HttpRequest, public_url: &str) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    match headers.get(header::ORIGIN).map(HeaderValue::to_str) {
        None | Some(Ok("null")) => false,
        Some(Ok(origin)) => origin != public_origin(public_url),
        Some(Err(_)) => true,
    }
}

/// `scheme://host[:port]` of the configured public URL.
fn public_origin(public_url: &str) -> &str {
    let after_scheme = public_url.find("://").map_or(0, |index| index + 3);
    match public_url[after_scheme..].find('/') {
        Some(slash) => &public_url[..after_scheme + slash],
        None => public_url,
    }
}

pub(super) fn is_form_content_type(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

pub(super) async fn read_body(mut payload: web::Payload) -> Result<Vec<u8>, StatusCode> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| StatusCode::BAD_REQUEST)?;
        if body.len() + chunk.len() > MAX_FORM_BYTES {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The fields of a submitted form. `None` from [`SubmittedForm::parse`] for anything a
/// browser would not send from our form: bad percent-encoding, invalid UTF-8, a
/// control field twice.
#[derive(Debug, Default)]
struct SubmittedForm {
    csrf: Option<String>,
    locale: Option<String>,
    time_zone: Option<String>,
    comment: Option<String>,
    /// Every other field, in order: item answers, checked against the round later.
    answers: Vec<(String, String)>,
}

impl SubmittedForm {
    fn parse(body: &[u8]) -> Option<SubmittedForm> {
        let mut form = SubmittedForm::default();
        for pair in body.split(|byte| *byte == b'&') {
            if pair.is_empty() {
                continue;
            }
            let (name, value) = match pair.iter().position(|byte| *byte == b'=') {
                Some(equals) => (&pair[..equals], &pair[equals + 1..]),
                None => (pair, &[][..]),
            };
            let name = decode_form_component(name)?;
            let value = decode_form_component(value)?;
            let slot = match name.as_str() {
                "csrf" => &mut form.csrf,
                "locale" => &mut form.locale,
                "time_zone" => &mut form.time_zone,
                "comment" => &mut form.comment,
                _ => {
                    form.answers.push((name, value));
                    continue;
                }
            };
            if slot.replace(value).is_some() {
                return None;
            }
        }
        Some(form)
    }
}

/// `application/x-www-form-urlencoded` decoding that refuses what lossy decoders
/// would quietly repair: a malformed `%` escape or bytes that are not UTF-8.
pub(super) fn decode_form_component(raw: &[u8]) -> Option<String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut index = 0;
    while index < raw.len() {
        match raw[index] {
            b'+' => {
                bytes.push(b' ');
                index += 1;
            }
            b'%' => {
                let high = hex_value(*raw.get(index + 1)?)?;
                let low = hex_value(*raw.get(index + 2)?)?;
                bytes.push(high << 4 | low);
                index += 3;
            }
            byte => {
                bytes.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(bytes).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// What is wrong with one item's answer, in words a person can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemProblem {
    Missing,
    NotAnOption,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CommentProblem {
    TooLong { characters: usize },
    UnstorableCharacters,
}

/// The answers checked against the round's items: per item (in round order) the
/// chosen value and any problem, and the normalised comment.
#[derive(Debug)]
struct Checked {
    items: Vec<(Option<u8>, Option<ItemProblem>)>,
    comment: String,
    comment_problem: Option<CommentProblem>,
}

impl Checked {
    /// An untouched form.
    fn blank(items: usize) -> Checked {
        Checked {
            items: vec![(None, None); items],
            comment: String::new(),
            comment_problem: None,
        }
    }

    /// `None` when the form holds a field that is not an item of this round, or an
    /// item twice: our form cannot send that, so it is not a person's mistake.
    fn check(form: &SubmittedForm, round: &AnswerPageRound, state: &AppState) -> Option<Checked> {
        let position: HashMap<&str, usize> = round
            .item_ids
            .iter()
            .enumerate()
            .map(|(index, id)| (id.0.as_str(), index))
            .collect();
        let scales: Vec<Scale> = round
            .item_ids
            .iter()
            .map(|id| state.bank.meta(id).map(|meta| meta.scale))
            .collect::<Option<_>>()?;
        let mut raw: Vec<Option<&str>> = vec![None; round.item_ids.len()];
        for (name, value) in &form.answers {
            let index = *position.get(name.as_str())?;
            if raw[index].replace(value.as_str()).is_some() {
                return None;
            }
        }
        let items = raw
            .iter()
            .zip(&scales)
            .map(|(value, scale)| match value {
                None => (None, Some(ItemProblem::Missing)),
                Some(text) => match parse_scale_value(text, *scale) {
                    Some(value) => (Some(value), None),
                    None => (None, Some(ItemProblem::NotAnOption)),
                },
            })
            .collect();
        let comment = normalise_comment(form.comment.as_deref().unwrap_or_default());
        let characters = comment.chars().count();
        let comment_problem = if characters > MAX_COMMENT_CHARS {
            Some(CommentProblem::TooLong { characters })
        } else if comment
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            // NUL and friends: PostgreSQL text cannot hold NUL, and no keyboard types them.
            Some(CommentProblem::UnstorableCharacters)
        } else {
            None
        };
        Some(Checked {
            items,
            comment,
            comment_problem,
        })
    }

    /// The answer to store, when nothing needs fixing.
    fn valid_answer(&self) -> Option<ValidAnswer> {
        if self.comment_problem.is_some() {
            return None;
        }
        let values = self
            .items
            .iter()
            .map(|(value, _)| *value)
            .collect::<Option<Vec<u8>>>()?;
        Some(ValidAnswer {
            values,
            comment: (!self.comment.is_empty()).then(|| self.comment.clone()),
        })
    }
}

/// A decimal number on the item's scale, written as the form writes it.
fn parse_scale_value(text: &str, scale: Scale) -> Option<u8> {
    if text.is_empty() || text.len() > 2 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let value: u8 = text.parse().ok()?;
    scale.contains(value).then_some(value)
}

/// Browsers send line breaks as CRLF; stored comments use LF, and surrounding
/// whitespace is dropped.
fn normalise_comment(raw: &str) -> String {
    raw.replace("\r\n", "\n")
        .replace('\r', "\n")
        .trim()
        .to_owned()
}

/// The words the form needs that depend on the language but not on the template.
#[derive(Debug, Clone, Copy)]
struct Words {
    agreement_low: &'static str,
    agreement_high: &'static str,
    recommendation_low: &'static str,
    recommendation_high: &'static str,
    leadership_group: &'static str,
    errors_title: &'static str,
}

const ENGLISH: Words = Words {
    agreement_low: "Strongly disagree",
    agreement_high: "Strongly agree",
    recommendation_low: "Not at all",
    recommendation_high: "Without hesitation",
    leadership_group: "the Leadership group",
    errors_title: "Please check your answers",
};

const GERMAN: Words = Words {
    agreement_low: "Stimme überhaupt nicht zu",
    agreement_high: "Stimme voll und ganz zu",
    recommendation_low: "Überhaupt nicht",
    recommendation_high: "Ohne Zögern",
    leadership_group: "der Gruppe „Führungskreis“",
    errors_title: "Bitte prüfen Sie Ihre Antworten",
};

fn words(locale: Locale) -> &'static Words {
    match locale {
        Locale::En => &ENGLISH,
        Locale::De => &GERMAN,
    }
}

fn item_problem_text(problem: ItemProblem, number: usize, locale: Locale) -> String {
    match (locale, problem) {
        (Locale::En, ItemProblem::Missing) => {
            format!("Question {number}: please choose an answer.")
        }
        (Locale::En, ItemProblem::NotAnOption) => {
            format!("Question {number}: please choose one of the options.")
        }
        (Locale::De, ItemProblem::Missing) => {
            format!("Frage {number}: Bitte wählen Sie eine Antwort.")
        }
        (Locale::De, ItemProblem::NotAnOption) => {
            format!("Frage {number}: Bitte wählen Sie eine der Antwortmöglichkeiten.")
        }
    }
}

fn comment_problem_text(problem: CommentProblem, locale: Locale) -> String {
    match (locale, problem) {
        (Locale::En, CommentProblem::TooLong { characters }) => format!(
            "Please shorten your comment to 2,000 characters; it has {characters}."
        ),
        (Locale::En, CommentProblem::UnstorableCharacters) => {
            "Your comment contains invisible control characters that cannot be stored; please retype it.".to_owned()
        }
        (Locale::De, CommentProblem::TooLong { characters }) => format!(
            "Bitte kürzen Sie Ihren Kommentar auf 2.000 Zeichen; er hat {characters}."
        ),
        (Locale::De, CommentProblem::UnstorableCharacters) => {
            "Ihr Kommentar enthält unsichtbare Steuerzeichen, die sich nicht speichern lassen; bitte tippen Sie ihn neu.".to_owned()
        }
    }
}

/// Everything the form templates show, already in the reader's language.
#[derive(Debug)]
struct FormView {
    /// The admin console's preview: marked as such, its button disabled.
    preview: bool,
    survey_name: String,
    team_name: String,
    is_leadership: bool,
    invited: u32,
    k: u32,
    k_detail: u32,
    /// Results restricted across rounds are rounded (else hidden).
    rounded_when_restricted: bool,
    closes_at: String,
    time_zone: &'static str,
    csrf: String,
    items: Vec<ItemView>,
    comment: String,
    comment_error: Option<String>,
    errors_title: &'static str,
    errors: Vec<ErrorLink>,
}

#[derive(Debug)]
struct ItemView {
    id: String,
    /// The id of the item's first radio button: where the error summary links to.
    anchor: String,
    number: usize,
    text: String,
    options: Vec<OptionView>,
    low_label: &'static str,
    high_label: &'static str,
    error: Option<String>,
}

#[derive(Debug)]
struct OptionView {
    value: u8,
    checked: bool,
    /// The scale end this option is, spoken by screen readers with the number.
    end_label: Option<&'static str>,
}

#[derive(Debug)]
struct ErrorLink {
    target: String,
    message: String,
}

impl FormView {
    fn new(
        state: &AppState,
        round: &AnswerPageRound,
        locale: Locale,
        time_zone: TimeZone,
        csrf: String,
        checked: &Checked,
    ) -> FormView {
        let words = words(locale);
        let is_leadership = round.node_kind == "leadership";
        let items: Vec<ItemView> = round
            .item_ids
            .iter()
            .zip(&checked.items)
            .enumerate()
            .filter_map(|(index, (id, (chosen, problem)))| {
                let item = state.bank.get(id)?;
                Some(item_view(
                    id,
                    index + 1,
                    item.text(locale),
                    item.meta().scale,
                    *chosen,
                    problem.map(|problem| item_problem_text(problem, index + 1, locale)),
                    words,
                ))
            })
            .collect();
        let comment_error = checked
            .comment_problem
            .map(|problem| comment_problem_text(problem, locale));
        let mut errors: Vec<ErrorLink> = items
            .iter()
            .filter_map(|item| {
                item.error.as_ref().map(|message| ErrorLink {
                    target: item.anchor.clone(),
                    message: message.clone(),
                })
            })
            .collect();
        if let Some(message) = &comment_error {
            errors.push(ErrorLink {
                target: "comment".to_owned(),
                message: message.clone(),
            });
        }
        FormView {
            preview: false,
            survey_name: round.survey_name.clone(),
            team_name: if is_leadership {
                words.leadership_group.to_owned()
            } else {
                round.node_name.clone()
            },
            is_leadership,
            invited: round.node_invited,
            k: round.k,
            k_detail: round.k_detail,
            rounded_when_restricted: round.restricted_release == "rounded",
            closes_at: local_date_time(round.closes_at, time_zone, locale),
            time_zone: time_zone.name(),
            csrf,
            items,
            comment: checked.comment.clone(),
            comment_error,
            errors_title: words.errors_title,
            errors,
        }
    }
}

fn item_view(
    id: &ItemId,
    number: usize,
    text: &str,
    scale: Scale,
    chosen: Option<u8>,
    error: Option<String>,
    words: &Words,
) -> ItemView {
    let (low_label, high_label) = if scale.is_zero_to_ten() {
        (words.recommendation_low, words.recommendation_high)
    } else {
        (words.agreement_low, words.agreement_high)
    };
    ItemView {
        id: id.0.clone(),
        anchor: format!("q-{}", id.0),
        number,
        text: text.to_owned(),
        options: (scale.min()..=scale.max())
            .map(|value| OptionView {
                value,
                checked: chosen == Some(value),
                end_label: if value == scale.min() {
                    Some(low_label)
                } else if value == scale.max() {
                    Some(high_label)
                } else {
                    None
                },
            })
            .collect(),
        low_label,
        high_label,
        error,
    }
}

#[derive(Debug, Template)]
enum FormPage<'a> {
    #[template(path = "answer/form.en.html")]
    English { view: &'a FormView },
    #[template(path = "answer/form.de.html")]
    German { view: &'a FormView },
}

/// Every page but the form.
#[derive(Debug)]
enum Outcome {
    Thanks {
        closes_at: String,
        k: u32,
    },
    AlreadyAnswered {
        closes_at: String,
        k: u32,
    },
    /// Unknown, malformed or closed link: one page for all three.
    Unavailable,
    Unreadable,
    Unverified,
    /// The database cannot be used just now (GET): the link still works.
    TryAgainSoon,
    /// The database could not store the answers just now (POST): the link still works.
    NotSaved,
    ServerError,
}

#[derive(Debug, Template)]
enum OutcomePage<'a> {
    #[template(path = "answer/outcome.en.html")]
    English { outcome: &'a Outcome },
    #[template(path = "answer/outcome.de.html")]
    German { outcome: &'a Outcome },
}

fn form_page(status: StatusCode, locale: Locale, view: &FormView) -> HttpResponse {
    let rendered = match locale {
        Locale::En => FormPage::English { view }.render(),
        Locale::De => FormPage::German { view }.render(),
    };
    html_response(status, rendered)
}

fn outcome_page(status: StatusCode, locale: Locale, outcome: &Outcome) -> HttpResponse {
    let rendered = match locale {
        Locale::En => OutcomePage::English { outcome }.render(),
        Locale::De => OutcomePage::German { outcome }.render(),
    };
    html_response(status, rendered)
}

/// Logs the cause (never the token, answers or comment: none of them is in a store
/// error) and shows a page: `unavailable` with 503 and `Retry-After` when the
/// database cannot be used just now (down, locked, full: the link still works),
/// else the "our fault" page (500).
fn store_error_page(
    locale: Locale,
    error: safepulse_store::StoreError,
    unavailable: Outcome,
) -> HttpResponse {
    let is_unavailable = matches!(error, safepulse_store::StoreError::Unavailable(_));
    let error = format!("{:#}", anyhow::Error::new(error));
    let request_id = current_request_id();
    if is_unavailable {
        tracing::warn!(request_id = %request_id, error, "the answer page could not use the database");
        let mut response = outcome_page(StatusCode::SERVICE_UNAVAILABLE, locale, &unavailable);
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(RETRY_UNAVAILABLE_AFTER_SECONDS),
        );
        return response;
    }
    tracing::error!(request_id = %request_id, error, "the answer page could not use the database");
    outcome_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        locale,
        &Outcome::ServerError,
    )
}

fn html_response(status: StatusCode, rendered: askama::Result<String>) -> HttpResponse {
    super::html_page(status, rendered, CONTENT_SECURITY_POLICY.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_components_decode_strictly() {
        assert_eq!(decode_form_component(b"a+b%20c").as_deref(), Some("a b c"));
        assert_eq!(
            decode_form_component(b"%C3%A4%E2%80%93").as_deref(),
            Some("ä–")
        );
        assert_eq!(decode_form_component(b"%"), None, "truncated escape");
        assert_eq!(decode_form_component(b"%+1"), None, "not a hex digit");
        assert_eq!(decode_form_component(b"%FF"), None, "not UTF-8");
        assert_eq!(decode_form_component(b"%C3"), None, "cut UTF-8 sequence");
    }

    #[test]
    fn a_control_field_sent_twice_makes_the_form_unreadable() {
        assert!(SubmittedForm::parse(b"csrf=a&comment=x&comment=y").is_none());
        let form = SubmittedForm::parse(b"csrf=a&ps-01=3&&ps-01=4").unwrap();
        assert_eq!(form.csrf.as_deref(), Some("a"));
        assert_eq!(
            form.answers.len(),
            2,
            "item duplicates are judged against the round"
        );
    }

    #[test]
    fn scale_values_are_plain_decimal_numbers_on_the_scale() {
        assert_eq!(parse_scale_value("7", Scale::AGREE_7), Some(7));
        assert_eq!(parse_scale_value("10", Scale::ZERO_TO_TEN), Some(10));
        for bad in ["0", "8", "+3", " 3", "3.0", "03x", "", "007"] {
            assert_eq!(parse_scale_value(bad, Scale::AGREE_7), None, "{bad:?}");
        }
    }

    #[test]
    fn comments_keep_their_lines_but_not_crlf_or_surrounding_space() {
        assert_eq!(
            normalise_comment("  one\r\ntwo\rthree \n"),
            "one\ntwo\nthree"
        );
    }

    #[test]
    fn the_origin_of_the_public_url_drops_any_path() {
        assert_eq!(
            public_origin("https://pulse.example.org/base"),
            "https://pulse.example.org"
        );
        assert_eq!(
            public_origin("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn the_content_security_policy_allows_exactly_the_inline_style_sheet() {
        let policy = CONTENT_SECURITY_POLICY.as_str();
        assert!(policy.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(!policy.contains("script-src"));
    }
}
