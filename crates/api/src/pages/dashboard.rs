//! The dashboard for managers and HR (issue 6): `/dashboard` (the teams a reader
//! may read, each with its latest headline), `/dashboard/teams/{id}` (trend charts,
//! change, trend, item detail, comments and a conversation guide per dimension, and
//! the team's action plan from [`super::action_plans`], whose commitments mark the
//! charts) and `/dashboard/rounds/{id}/heatmap` (teams × dimensions of one round).
//!
//! Every figure comes from [`build_team_report`] and [`build_heatmap`], the same
//! functions behind the JSON API: they get releases only through the store's
//! release gate (who reads what, DESIGN §3, with its viewer rule) and carry no
//! figure for a suppressed node. These pages only
//! format; they never query answers and never combine releases into new numbers
//! (the overview names a team's *lowest* released dimension rather than averaging
//! dimensions). Each view is written to the audit log, as the API's are.
//!
//! In English and German ([`super::language`]): the reader's stored locale, else
//! their browser's. Round labels, dates and decimals follow the page's language;
//! the JSON API and the downloads stay English.

use safepulse_store::entities::round::RoundStatus;
use std::collections::{HashMap, HashSet};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use safepulse_anonymizer::{
    ConfidenceInterval, DimensionChange, DimensionFigures, ReleasedFigures,
};
use safepulse_domain::access::AccessNode;
use safepulse_domain::{Dimension, NodeId, RoundId, SurveyId, TeamId, TimeZone};
use safepulse_mailer::messages::dimension_label;
use safepulse_store::audit::{self, AuditEvent};
use safepulse_store::entities::{action_commitment, round, survey, team};
use safepulse_store::org;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::action_plans;
use super::chart::{self, ChartPoint, PointValue, TrendChart};
use super::guides::{self, Guide};
use super::language::Text;
use super::session::{
    Notice, Session, html_response, notice_page, redirect_to_sign_in, server_error,
};
use crate::access::Reader;
use crate::error::ApiError;
use crate::routes::reports::{
    ChangeView, DimensionTrend, HeatmapRow, LabelZones, ReadVia, ReleaseView, RoundReport,
    TeamReport, build_heatmap, build_team_report, heatmap_table, record_heatmap_view,
    record_team_report_view,
};
use crate::spreadsheet::ExportFormat;
use crate::state::AppState;
use safepulse_anonymizer::RoundedFigures;

/// Closed rounds listed on the overview, newest first.
const RECENT_ROUNDS: u64 = 12;
/// Hierarchy depth the heatmap indents (deeper teams share the last indent).
const MAX_INDENT: usize = 5;

/// The signed-in reader, or the response that replaces the page.
async fn reader_of(
    request: &HttpRequest,
    state: &AppState,
) -> Result<(Session, Reader), HttpResponse> {
    let session = match Session::of(request, state).await {
        Ok(Some(session)) => session,
        Ok(None) => return Err(redirect_to_sign_in()),
        Err(error) => return Err(server_error(&error, None)),
    };
    match Reader::resolve(&session.caller, state.store.connection()).await {
        Ok(reader) => Ok((session, reader)),
        Err(ApiError::Forbidden) => Err(notice_page(
            StatusCode::FORBIDDEN,
            Notice::NothingToRead,
            Some(&session),
        )),
        Err(error) => Err(api_error_page(&error, &session)),
    }
}

fn api_error_page(error: &ApiError, session: &Session) -> HttpResponse {
    match error {
        ApiError::Forbidden => notice_page(StatusCode::FORBIDDEN, Notice::Forbidden, Some(session)),
        ApiError::NotFound | ApiError::Conflict { .. } => {
            notice_page(StatusCode::NOT_FOUND, Notice::NotFound, Some(session))
        }
        other => server_error(other, Some(session)),
    }
}

// ---------------------------------------------------------------------------------
// Overview

/// One team of the overview's tree, in depth-first order. The template writes
/// the nesting from `opens_list`, `has_children` and `closes` (askama has no
/// recursion), so screen readers get real nested lists with their levels.
#[derive(Debug)]
struct TeamLine {
    id: TeamId,
    name: String,
    headline: Headline,
    /// "clearly lower than last time in Trust", "no clear change since last time".
    change: Option<String>,
    /// "8 of 10 answered", or how many have answered an open pulse so far.
    answered: Option<String>,
    /// The first child of its parent: a nested list starts before it.
    opens_list: bool,
    has_children: bool,
    /// Nested lists that end after this team (when it has no children).
    closes: usize,
}

#[derive(Debug)]
enum Headline {
    Released {
        round: String,
        lowest: String,
        lowest_mean: String,
    },
    Hidden {
        round: String,
    },
    NoResults,
}

#[derive(Debug)]
struct RoundLine {
    id: RoundId,
    label: String,
    closed_on: String,
}

#[derive(Debug, Template)]
#[template(path = "dashboard/overview.html")]
struct OverviewPage<'a> {
    t: Text,
    session: Option<&'a Session>,
    is_hr: bool,
    teams: Vec<TeamLine>,
    rounds: Vec<RoundLine>,
}

/// `GET /dashboard`.
pub async fn overview(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (session, reader) = match reader_of(&request, &state).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match overview_page(&state, &session, &reader).await {
        Ok(response) => response,
        Err(error) => api_error_page(&error, &session),
    }
}

/// What the overview shows of releases: each node's row in the latest closed round
/// of each survey (the newest such round wins), from [`build_heatmap`].
#[derive(Debug)]
pub struct OverviewReleases {
    /// The most recent closed rounds, newest first.
    pub closed: Vec<round::Model>,
    /// Node → its headline round and its row there.
    pub headlines: HashMap<NodeId, (round::Model, HeatmapRow)>,
}

pub async fn overview_releases(
    state: &AppState,
    reader: &Reader,
) -> Result<OverviewReleases, ApiError> {
    let closed = round::Entity::find()
        .filter(round::Column::Status.eq(RoundStatus::Closed))
        .order_by_desc(round::Column::ClosedAt)
        .limit(RECENT_ROUNDS)
        .all(state.store.connection())
        .await
        .map_err(safepulse_store::StoreError::from)?;
    let mut headlines: HashMap<NodeId, (round::Model, HeatmapRow)> = HashMap::new();
    let mut seen_surveys = Vec::new();
    for round in &closed {
        if seen_surveys.contains(&round.survey_id) {
            continue;
        }
        seen_surveys.push(round.survey_id);
        let rows = match build_heatmap(state, reader, round.id).await {
            Ok(rows) => rows,
            Err(ApiError::Forbidden) => continue,
            Err(error) => return Err(error),
        };
        for row in rows {
            headlines
                .entry(row.node_id)
                .or_insert_with(|| (round.clone(), row));
        }
    }
    Ok(OverviewReleases { closed, headlines })
}

async fn overview_page(
    state: &AppState,
    session: &Session,
    reader: &Reader,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.connection();
    let teams = org::all_teams(db).await?;
    let nodes: Vec<AccessNode> = teams
        .iter()
        .map(|team| AccessNode::team(team.id, team.parent_id))
        .collect();
    let readable = reader.led_teams_read(&nodes);
    let survey_names: HashMap<SurveyId, String> = survey::Entity::find()
        .all(db)
        .await
        .map_err(safepulse_store::StoreError::from)?
        .into_iter()
        .map(|survey| (survey.id, survey.name))
        .collect();
    let OverviewReleases { closed, headlines } = overview_releases(state, reader).await?;
    audit::record_committed(
        &state.store,
        state.clock.now(),
        AuditEvent {
            actor: &reader.subject,
            action: "dashboard.viewed",
            team_id: None,
            target: None,
            details: serde_json::json!({
                "nodes": headlines.keys().collect::<Vec<_>>()
            }),
        },
    )
    .await?;
    let t = session.text();
    let zones = LabelZones::load(state).await?;
    let mut headlines: HashMap<NodeId, Headline> = headlines
        .into_iter()
        .map(|(node, (round, row))| {
            let label = zones.label_in(round.opened_at, Some(TeamId::of_team_node(node)), t.locale);
            (node, headline_of(state, &row, &label, t))
        })
        .collect();
    let lines = team_lines(state, reader, &teams, &readable, &mut headlines, t).await?;
    let rounds = closed
        .iter()
        .map(|round| RoundLine {
            id: round.id,
            label: round_label(&survey_names, &zones, round, t),
            closed_on: round
                .closed_at
                .map(|at| t.local_day(at, zones.of(None)))
                .unwrap_or_default(),
        })
        .collect();
    Ok(html_response(
        StatusCode::OK,
        OverviewPage {
            t,
            session: Some(session),
            is_hr: reader.is_hr(),
            teams: lines,
            rounds,
        }
        .render(),
    ))
}

/// The overview's tree: each readable team in hierarchy order, with its
/// headline, change and participation.
async fn team_lines(
    state: &AppState,
    reader: &Reader,
    teams: &[team::Model],
    readable: &HashSet<TeamId>,
    headlines: &mut HashMap<NodeId, Headline>,
    t: Text,
) -> Result<Vec<TeamLine>, ApiError> {
    let readable_teams: Vec<(&team::Model, usize)> = in_tree_order(teams)
        .into_iter()
        .filter(|(team, _)| readable.contains(&team.id))
        .map(|(team, _)| (team, readable_depth(teams, readable, team)))
        .collect();
    let mut lines = Vec::with_capacity(readable_teams.len());
    for (position, (team, depth)) in readable_teams.iter().enumerate() {
        let next_depth = readable_teams
            .get(position + 1)
            .map_or(0, |(_, depth)| *depth);
        let previous_depth = position
            .checked_sub(1)
            .map(|previous| readable_teams[previous].1);
        let (change, answered) =
            match build_team_report(state, reader, NodeId::of_team(team.id)).await {
                Ok(report) => glance(&report, t),
                Err(ApiError::Forbidden | ApiError::NotFound) => (None, None),
                Err(error) => return Err(error),
            };
        lines.push(TeamLine {
            id: team.id,
            name: team.name.clone(),
            headline: headlines
                .remove(&NodeId::of_team(team.id))
                .unwrap_or(Headline::NoResults),
            change,
            answered,
            opens_list: previous_depth.is_some_and(|previous| *depth > previous),
            has_children: next_depth > *depth,
            closes: depth.saturating_sub(next_depth),
        });
    }
    Ok(lines)
}

/// "Pulse of 7 Dec 2026 (Team pulse)": a round on pages about the whole round.
fn round_label(
    survey_names: &HashMap<SurveyId, String>,
    zones: &LabelZones,
    round: &round::Model,
    t: Text,
) -> String {
    let label = zones.label_in(round.opened_at, None, t.locale);
    match survey_names.get(&round.survey_id) {
        Some(name) => format!("{label} ({name})"),
        None => label,
    }
}

/// The released dimension with the lowest mean (the recommendation item aside: it
/// is on another scale), named with its scale.
fn headline_of(state: &AppState, row: &HeatmapRow, period: &str, t: Text) -> Headline {
    let rounded = match row.status.as_str() {
        "released" => false,
        "rounded" => true,
        _ => {
            return Headline::Hidden {
                round: period.to_owned(),
            };
        }
    };
    let lowest = row
        .cells
        .iter()
        .filter(|cell| cell.dimension != Dimension::Recommendation.as_str())
        .min_by(|a, b| a.mean.total_cmp(&b.mean));
    match lowest.and_then(|cell| Some((cell, Dimension::parse(&cell.dimension)?))) {
        Some((cell, dimension)) => Headline::Released {
            round: period.to_owned(),
            lowest: dimension_label(dimension, t.locale).to_owned(),
            lowest_mean: if rounded {
                t.tr2(
                    "about {} of {} (rounded to protect anonymity)",
                    t.decimal(cell.mean),
                    scale_max_of(state, dimension),
                )
            } else {
                t.tr2(
                    "{} of {}",
                    t.decimal(cell.mean),
                    scale_max_of(state, dimension),
                )
            },
        },
        None => Headline::Hidden {
            round: period.to_owned(),
        },
    }
}

/// The top of a dimension's answer scale, from the item bank.
fn scale_max_of(state: &AppState, dimension: Dimension) -> u8 {
    state
        .bank
        .items_of(dimension)
        .next()
        .map_or(7, |item| item.meta().scale.max())
}

fn scale_min_of(state: &AppState, dimension: Dimension) -> u8 {
    state
        .bank
        .items_of(dimension)
        .next()
        .map_or(1, |item| item.meta().scale.min())
}

/// How many of `team`'s ancestors the reader reads: its level in their tree.
fn readable_depth(teams: &[team::Model], readable: &HashSet<TeamId>, team: &team::Model) -> usize {
    let mut depth = 0;
    let mut current = team.parent_id;
    while let Some(parent) = current {
        if readable.contains(&parent) {
            depth += 1;
        }
        current = teams
            .iter()
            .find(|candidate| candidate.id == parent)
            .and_then(|parent| parent.parent_id);
    }
    depth
}

/// A team's latest change and participation in a few words, for the overview.
fn glance(report: &TeamReport, t: Text) -> (Option<String>, Option<String>) {
    let latest = report.rounds.last();
    let change = latest.and_then(|round| match &round.change {
        Some(ChangeView::Compared { dimensions, .. }) => {
            let moved: Vec<String> = dimensions
                .iter()
                .filter(|change| change.significant)
                .map(|change| {
                    let name = dimension_label(change.dimension, t.locale);
                    if change.difference < 0.0 {
                        t.tr1("{} clearly lower", name)
                    } else {
                        t.tr1("{} clearly higher", name)
                    }
                })
                .collect();
            Some(if moved.is_empty() {
                t.tr("no clear change since last time").to_owned()
            } else {
                t.tr1("{} than last time", moved.join(", "))
            })
        }
        Some(ChangeView::NotComparable { .. }) => {
            Some(t.tr("team changed, not compared").to_owned())
        }
        None => None,
    });
    let answered = match report.open_rounds.last() {
        Some(open) => Some(t.tr1(
            "open: at least {} answered so far",
            open.respondents_at_least,
        )),
        None => latest.and_then(|round| {
            let respondents = released_figures(round)
                .map(|figures| figures.respondents)
                .or(rounded_figures(round).map(|rounded| rounded.respondents))?;
            Some(match round.invited {
                Some(invited) => t.tr2("{} of {} answered", respondents, invited),
                None => t.tr1("{} answered", respondents),
            })
        }),
    };
    (change, answered)
}

/// Teams depth first, siblings by name, with their depth.
fn in_tree_order(teams: &[team::Model]) -> Vec<(&team::Model, usize)> {
    let mut children: HashMap<Option<TeamId>, Vec<&team::Model>> = HashMap::new();
    for team in teams {
        let parent = team
            .parent_id
            .filter(|parent| teams.iter().any(|other| other.id == *parent));
        children.entry(parent).or_default().push(team);
    }
    for siblings in children.values_mut() {
        siblings.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let mut ordered = Vec::with_capacity(teams.len());
    let mut stack: Vec<(&team::Model, usize)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|team| (*team, 0)).collect())
        .unwrap_or_default();
    while let Some((team, depth)) = stack.pop() {
        ordered.push((team, depth));
        if let Some(below) = children.get(&Some(team.id)) {
            stack.extend(below.iter().rev().map(|child| (*child, depth + 1)));
        }
    }
    ordered
}

// ---------------------------------------------------------------------------------
// Team page
//
// Summary first (issue 13): the latest pulse in a few plain sentences, how many
// answered, the suggested conversation and the comments; then one folded section
// per dimension; the statistics behind the words under "For analysts". The plain
// text never says "significant", "p", "rwg" or a period key: those words are for
// analysts, and the period key names a cadence slot nobody says aloud.

#[derive(Debug)]
struct RoundRow {
    label: String,
    closed_on: String,
    status: &'static str,
    /// "8 of 10", or "8" when nobody's count of invitees is known.
    answered: Option<String>,
    team_changed: bool,
    membership_changed: bool,
}

#[derive(Debug)]
struct DataRow {
    label: String,
    /// `None`: hidden to protect anonymity; `Some(None)`: released, not asked.
    figure: Option<Option<FigureCells>>,
}

#[derive(Debug)]
struct FigureCells {
    mean: String,
    interval: String,
    favourable: String,
}

#[derive(Debug)]
struct ItemLine {
    text: String,
    mean: String,
    interval: String,
    favourable: String,
    enps: Option<String>,
    sd: Option<String>,
    distribution: Option<String>,
}

#[derive(Debug)]
struct DimensionSection {
    id: &'static str,
    label: &'static str,
    /// What the folded section says before it is opened: "5.1 of 7 · within
    /// normal variation".
    headline: String,
    chart: TrendChart,
    rows: Vec<DataRow>,
    /// Plain sentences: change, trend, what counts as noise, agreement.
    facts: Vec<String>,
    /// The statistics behind those sentences.
    analyst: Vec<String>,
    items: Vec<ItemLine>,
    guide: Option<&'static Guide>,
}

/// The latest pulse in words.
#[derive(Debug)]
struct Summary {
    label: String,
    sentences: Vec<String>,
    /// "8 of 10 people answered (80%)."
    answered: Option<String>,
}

/// The conversation suggested for the weakest dimension.
#[derive(Debug)]
struct Talk {
    id: &'static str,
    label: &'static str,
    guide: &'static Guide,
}

#[derive(Debug, Template)]
#[template(path = "dashboard/team.html")]
struct TeamPage<'a> {
    t: Text,
    session: Option<&'a Session>,
    name: String,
    parent: Option<(TeamId, String)>,
    /// Rounds still open, with how many have answered so far.
    open_rounds: Vec<String>,
    summary: Option<Summary>,
    rounds: Vec<RoundRow>,
    /// The latest round is hidden or rounded to protect anonymity.
    latest_protected: bool,
    latest_rounded: bool,
    latest_label: Option<String>,
    /// The nearest larger group shown (exactly or rounded) in the latest pulse
    /// that the reader may read, when the latest pulse is hidden or rounded here.
    nearest: Option<(NodeId, String)>,
    /// An earlier pulse is hidden or rounded (the page then explains why, once).
    earlier_protected: bool,
    latest_not_comparable: bool,
    latest_team_changed: bool,
    latest_membership_changed: bool,
    detail_released: bool,
    talk: Option<Talk>,
    sections: Vec<DimensionSection>,
    comments: Vec<String>,
    comments_round: Option<String>,
    /// The team's action plan, for its leaders (with the forms) and hr.
    plan: Option<action_plans::PlanSection>,
    width: f64,
    height: f64,
    plot_left: f64,
    plot_right: f64,
    plot_top: f64,
    plot_bottom: f64,
}

/// `GET /dashboard/teams/{id}`.
pub async fn team_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let (session, reader) = match reader_of(&request, &state).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    // Parsed here, not by the extractor, so a mistyped address gets this page and
    // not the API's problem+json.
    let Ok(node_id) = id.parse::<NodeId>() else {
        return api_error_page(&ApiError::NotFound, &session);
    };
    render_team_page(&state, &session, &reader, node_id, None, StatusCode::OK).await
}

/// A team page; with `attempt`, again after a refused action plan form, its
/// problems named next to the form.
pub async fn render_team_page(
    state: &AppState,
    session: &Session,
    reader: &Reader,
    node_id: NodeId,
    attempt: Option<action_plans::Attempt>,
    status: StatusCode,
) -> HttpResponse {
    let mut report = match build_team_report(state, reader, node_id).await {
        Ok(report) => report,
        Err(error) => return api_error_page(&error, session),
    };
    let db = state.store.connection();
    if let Err(error) = record_team_report_view(state, reader, &report, ReadVia::Dashboard).await {
        return server_error(&error, Some(session));
    }
    let zones = match LabelZones::load(state).await {
        Ok(zones) => zones,
        Err(error) => return server_error(&error, Some(session)),
    };
    // The team the node stands for; a synthetic node stands for none.
    let (parent, team_id) = match org::get_team(db, TeamId::of_team_node(node_id)).await {
        Ok(team) => (
            match team.parent_id {
                Some(parent_id) => org::get_team(db, parent_id)
                    .await
                    .ok()
                    .map(|parent| (parent.id, parent.name)),
                None => None,
            },
            Some(team.id),
        ),
        Err(_) => (None, None),
    };
    let zone = zones.of(team_id);
    // The API's labels are English; the page names rounds in the reader's language.
    let locale = session.locale;
    for round in &mut report.rounds {
        round.label = zones.label_in(round.opened_at, team_id, locale);
    }
    for open in &mut report.open_rounds {
        open.label = zones.label_in(open.opened_at, team_id, locale);
    }
    let nearest = match report.rounds.last() {
        Some(latest) if released_figures(latest).is_none() => {
            nearest_shown_group(state, reader, latest.round_id, node_id).await
        }
        _ => None,
    };
    // The team's action plan, for its leaders and hr (the API's rule).
    let plan = match team_id {
        Some(team_id) => match action_plans::readable_plan(state, &session.caller, team_id).await {
            Ok(plan) => plan.map(|rows| (team_id, rows)),
            Err(error) => return server_error(&error, Some(session)),
        },
        None => None,
    };
    let commitments = plan.as_ref().map_or(&[][..], |(_, rows)| rows.as_slice());
    let mut page = team_view(state, session, &report, parent, zone, commitments);
    page.nearest = nearest;
    if let Some((team_id, rows)) = &plan {
        let suggested = page.talk.as_ref().map(|talk| talk.id);
        match action_plans::plan_section(state, session, *team_id, rows, &zones, suggested, attempt)
            .await
        {
            Ok(section) => page.plan = Some(section),
            Err(error) => return server_error(&error, Some(session)),
        }
    }
    html_response(status, page.render())
}

/// The nearest group above `node_id` whose results of `round_id` were shown
/// (exactly or rounded) and that `reader` may read; `None` when there is none or
/// it cannot be read now (the page then simply names no group).
async fn nearest_shown_group(
    state: &AppState,
    reader: &Reader,
    round_id: RoundId,
    node_id: NodeId,
) -> Option<(NodeId, String)> {
    let rows = build_heatmap(state, reader, round_id).await.ok()?;
    let row_of = |id: NodeId| rows.iter().find(|row| row.node_id == id);
    let mut current = row_of(node_id)?.parent_node_id;
    while let Some(id) = current {
        let row = row_of(id)?;
        if row.status != "suppressed" && row.kind == "team" {
            return Some((row.node_id, row.name.clone()));
        }
        current = row.parent_node_id;
    }
    None
}

fn released_figures(round: &RoundReport) -> Option<ReleasedFigures> {
    round.release.released_figures().cloned()
}

fn rounded_figures(round: &RoundReport) -> Option<RoundedFigures> {
    round.release.rounded_figures().cloned()
}

fn band_of(interval: &ConfidenceInterval) -> Option<(f64, f64)> {
    match *interval {
        ConfidenceInterval::Team { low, high } | ConfidenceInterval::OrgLevel { low, high } => {
            Some((low, high))
        }
        ConfidenceInterval::NoBand => None,
    }
}

fn interval_text(interval: &ConfidenceInterval, t: Text) -> String {
    match band_of(interval) {
        Some((low, high)) => format!("{}–{}", t.decimal(low), t.decimal(high)),
        None => "–".to_owned(),
    }
}

impl Text {
    /// A round's outcome on the team page (`released`, `rounded`, `hidden`).
    fn release_status(&self, code: &str) -> &'static str {
        match code {
            "released" => self.tr("released"),
            "rounded" => self.tr("rounded to protect anonymity"),
            _ => self.tr("hidden to protect anonymity"),
        }
    }
}

/// A p-value as analysts write it: never "p = 0.000".
fn p_text(p: f64, t: Text) -> String {
    if p < 0.001 {
        t.number("p < 0.001".to_owned())
    } else {
        t.number(format!("p = {p:.3}"))
    }
}

/// "8 of 10 people answered (80%)."
fn answered_text(respondents: u32, invited: Option<u32>, t: Text) -> String {
    match invited.filter(|invited| *invited >= respondents && *invited > 0) {
        Some(invited) => format!(
            "{} ({:.0}%).",
            t.tr2("{} of {} people answered", respondents, invited),
            f64::from(respondents) * 100.0 / f64::from(invited)
        ),
        None => t.tr1("{} people answered.", respondents),
    }
}

fn team_view<'a>(
    state: &AppState,
    session: &'a Session,
    report: &TeamReport,
    parent: Option<(TeamId, String)>,
    zone: TimeZone,
    commitments: &[action_commitment::Model],
) -> TeamPage<'a> {
    let t = session.text();
    let figures: Vec<Option<ReleasedFigures>> =
        report.rounds.iter().map(released_figures).collect();
    let rounded: Vec<Option<RoundedFigures>> = report.rounds.iter().map(rounded_figures).collect();
    let latest = report.rounds.last();
    let latest_figures = figures.last().and_then(Option::as_ref);
    let latest_rounded_figures = rounded.last().and_then(Option::as_ref);
    let latest_released = report
        .rounds
        .iter()
        .zip(&figures)
        .rev()
        .find_map(|(round, figures)| figures.as_ref().map(|figures| (round, figures)));
    let dimensions = dimensions_shown(&figures, &rounded);
    let sections: Vec<DimensionSection> = dimensions
        .iter()
        .map(|dimension| {
            dimension_section(
                state,
                report,
                &figures,
                &rounded,
                latest_released,
                *dimension,
                (t, zone),
                commitments,
            )
        })
        .collect();
    let (summary, talk) =
        summary_and_talk(state, report, latest_figures, latest_rounded_figures, t);
    let (comments, comments_round) = report
        .rounds
        .iter()
        .rev()
        .find(|round| !round.comments.is_empty())
        .map_or((Vec::new(), None), |round| {
            (round.comments.clone(), Some(round.label.clone()))
        });
    let open_rounds = open_round_lines(report, zone, t);
    TeamPage {
        t,
        session: Some(session),
        name: report.name.clone(),
        parent,
        open_rounds,
        summary,
        rounds: round_rows(report, &figures, &rounded, zone, t),
        latest_protected: latest.is_some_and(|round| released_figures(round).is_none()),
        latest_rounded: latest.is_some_and(|round| rounded_figures(round).is_some()),
        latest_label: latest.map(|round| round.label.clone()),
        nearest: None,
        earlier_protected: figures.iter().any(Option::is_none),
        latest_not_comparable: latest
            .is_some_and(|round| matches!(round.change, Some(ChangeView::NotComparable { .. }))),
        latest_team_changed: latest.is_some_and(|round| round.team_changed),
        latest_membership_changed: latest.is_some_and(|round| round.membership_changed_before),
        detail_released: latest_released.is_some_and(|(_, figures)| figures.detail),
        talk,
        sections,
        comments,
        comments_round,
        plan: None,
        width: chart::WIDTH,
        height: chart::HEIGHT,
        plot_left: chart::PLOT_LEFT,
        plot_right: chart::PLOT_RIGHT,
        plot_top: chart::PLOT_TOP,
        plot_bottom: chart::PLOT_BOTTOM,
    }
}

/// The latest pulse in words, and the conversation suggested for its weakest
/// dimension.
fn summary_and_talk(
    state: &AppState,
    report: &TeamReport,
    latest_figures: Option<&ReleasedFigures>,
    latest_rounded_figures: Option<&RoundedFigures>,
    t: Text,
) -> (Option<Summary>, Option<Talk>) {
    let latest = report.rounds.last();
    // The weakest dimension of the latest pulse, exact or rounded: what to talk
    // about first (the recommendation item summarises the others).
    let latest_means = latest_means(latest_figures, latest_rounded_figures);
    let weakest = latest_means
        .iter()
        .filter(|(dimension, _)| *dimension != Dimension::Recommendation)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .copied();
    let summary = latest
        .filter(|_| !latest_means.is_empty())
        .map(|round| Summary {
            label: round.label.clone(),
            sentences: summary_sentences(state, report, weakest, latest_figures.is_none(), t),
            answered: latest_figures
                .map(|figures| figures.respondents)
                .or(latest_rounded_figures.map(|rounded| rounded.respondents))
                .map(|respondents| answered_text(respondents, round.invited, t)),
        });
    let talk = weakest.and_then(|(dimension, _)| {
        Some(Talk {
            id: dimension.as_str(),
            label: dimension_label(dimension, t.locale),
            guide: guides::guide(dimension, t.locale)?,
        })
    });
    (summary, talk)
}

/// The dimensions any round of the report shows, exactly or rounded.
fn dimensions_shown(
    figures: &[Option<ReleasedFigures>],
    rounded: &[Option<RoundedFigures>],
) -> Vec<Dimension> {
    Dimension::ALL
        .into_iter()
        .filter(|dimension| {
            figures.iter().flatten().any(|figures| {
                figures
                    .dimensions
                    .iter()
                    .any(|figure| figure.dimension == *dimension)
            }) || rounded.iter().flatten().any(|figures| {
                figures
                    .dimensions
                    .iter()
                    .any(|figure| figure.dimension == *dimension)
            })
        })
        .collect()
}

/// The latest pulse's mean per dimension, exact or rounded.
fn latest_means(
    latest_figures: Option<&ReleasedFigures>,
    latest_rounded_figures: Option<&RoundedFigures>,
) -> Vec<(Dimension, f64)> {
    match (latest_figures, latest_rounded_figures) {
        (Some(figures), _) => figures
            .dimensions
            .iter()
            .map(|figure| (figure.dimension, figure.mean))
            .collect(),
        (None, Some(rounded)) => rounded
            .dimensions
            .iter()
            .map(|figure| (figure.dimension, figure.mean))
            .collect(),
        (None, None) => Vec::new(),
    }
}

/// The rounds still open, with how many have answered so far.
fn open_round_lines(report: &TeamReport, zone: TimeZone, t: Text) -> Vec<String> {
    report
        .open_rounds
        .iter()
        .map(|open| {
            format!(
                "{} {}",
                t.tr2(
                    "{} is open until {}.",
                    &open.label,
                    t.local_day(open.closes_at, zone)
                ),
                t.tr2(
                    "At least {} people have answered so far. This count is updated once a day and rounded down to a multiple of {} to protect anonymity, so it reads 0 on the first day by design.",
                    open.respondents_at_least,
                    open.rounded_to
                )
            )
        })
        .collect()
}

/// The table of every round of the report: released, rounded or hidden.
fn round_rows(
    report: &TeamReport,
    figures: &[Option<ReleasedFigures>],
    rounded: &[Option<RoundedFigures>],
    zone: TimeZone,
    t: Text,
) -> Vec<RoundRow> {
    report
        .rounds
        .iter()
        .zip(figures.iter().zip(rounded))
        .map(|(round, (figures, rounded))| RoundRow {
            label: round.label.clone(),
            closed_on: round
                .closed_at
                .map(|at| t.local_day(at, zone))
                .unwrap_or_default(),
            status: match (figures, rounded) {
                (Some(_), _) => "released",
                (None, Some(_)) => "rounded",
                (None, None) => "hidden",
            },
            answered: figures
                .as_ref()
                .map(|figures| figures.respondents)
                .or(rounded.as_ref().map(|rounded| rounded.respondents))
                .map(|respondents| match round.invited {
                    Some(invited) => t.tr2("{} of {}", respondents, invited),
                    None => respondents.to_string(),
                }),
            team_changed: round.team_changed,
            membership_changed: round.membership_changed_before,
        })
        .collect()
}

/// The latest pulse in a few sentences: what went clearly up or down, what has
/// been moving over several pulses, what is lowest, and, when nothing moved, that
/// the rest is within normal variation. Dimensions that moved the same way share a
/// sentence, so the first screen stays short when a team struggles everywhere.
fn summary_sentences(
    state: &AppState,
    report: &TeamReport,
    weakest: Option<(Dimension, f64)>,
    rounded: bool,
    t: Text,
) -> Vec<String> {
    let mut sentences = Vec::new();
    let latest = report.rounds.last();
    let label = |dimension| dimension_label(dimension, t.locale);
    let tested = change_sentences(latest, t, &mut sentences);
    trend_summary_sentences(report, t, &mut sentences);
    let moved = !sentences.is_empty();
    if let Some((dimension, mean)) = weakest {
        let of_scale = if rounded {
            t.tr2(
                "about {} of {} (rounded to protect anonymity)",
                t.decimal(mean),
                scale_max_of(state, dimension),
            )
        } else {
            t.tr2("{} of {}", t.decimal(mean), scale_max_of(state, dimension))
        };
        sentences.push(t.tr2("Lowest: {}, {}.", label(dimension), of_scale));
    }
    closing_sentence(report, moved, tested, rounded, t, &mut sentences);
    sentences
}

/// The dimensions that moved clearly since the previous pulse, lower and higher.
/// Returns whether any change could be tested at all.
fn change_sentences(latest: Option<&RoundReport>, t: Text, sentences: &mut Vec<String>) -> bool {
    let label = |dimension| dimension_label(dimension, t.locale);
    if let Some(ChangeView::Compared { dimensions, .. }) =
        latest.and_then(|round| round.change.as_ref())
    {
        for lower in [true, false] {
            let moved: Vec<String> = dimensions
                .iter()
                .filter(|change| change.significant && (change.difference < 0.0) == lower)
                .map(|change| {
                    format!(
                        "{} ({})",
                        label(change.dimension),
                        t.tr2(
                            "{}, was {}",
                            t.decimal(change.current_mean),
                            t.decimal(change.previous_mean)
                        )
                    )
                })
                .collect();
            if !moved.is_empty() {
                sentences.push(if lower {
                    t.tr1("Clearly lower than last time: {}.", spoken_list(&moved, t))
                } else {
                    t.tr1("Clearly higher than last time: {}.", spoken_list(&moved, t))
                });
            }
        }
        dimensions.iter().any(|change| change.welch.is_some())
    } else {
        false
    }
}

/// The dimensions falling or rising over several pulses.
fn trend_summary_sentences(report: &TeamReport, t: Text, sentences: &mut Vec<String>) {
    let label = |dimension| dimension_label(dimension, t.locale);
    for falling in [true, false] {
        let moving: Vec<&DimensionTrend> = report
            .trends
            .iter()
            .filter(|trend| {
                trend
                    .trend
                    .slope_test
                    .as_ref()
                    .is_some_and(|test| test.p_value < 0.05)
                    && (trend.trend.slope < 0.0) == falling
            })
            .collect();
        let names: Vec<String> = moving
            .iter()
            .filter_map(|trend| Dimension::parse(&trend.dimension).map(|d| label(d).to_owned()))
            .collect();
        if let Some(points) = moving.iter().map(|trend| trend.trend.points).max() {
            sentences.push(if falling {
                t.tr2(
                    "Falling over the last {} released pulses: {}.",
                    points,
                    spoken_list(&names, t),
                )
            } else {
                t.tr2(
                    "Rising over the last {} released pulses: {}.",
                    points,
                    spoken_list(&names, t),
                )
            });
        }
    }
}

/// When nothing moved: whether that means "within normal variation", "too few
/// answers to tell", "not comparable" or "first results".
fn closing_sentence(
    report: &TeamReport,
    moved: bool,
    tested: bool,
    rounded: bool,
    t: Text,
    sentences: &mut Vec<String>,
) {
    let latest = report.rounds.last();
    match latest.and_then(|round| round.change.as_ref()) {
        Some(ChangeView::Compared { .. }) if !moved && tested => {
            sentences.push(
                t.tr("Everything else is within normal variation since last time.")
                    .to_owned(),
            );
        }
        Some(ChangeView::Compared { .. }) if !moved => sentences.push(
            t.tr("With this few answers a change since last time cannot be told apart from chance; the trend over several pulses is the better guide.")
                .to_owned(),
        ),
        Some(ChangeView::NotComparable { .. }) => sentences.push(
            t.tr("The team changed since the last pulse, so this pulse is not compared with it.")
                .to_owned(),
        ),
        None if !rounded
            && report
                .rounds
                .iter()
                .filter(|round| round.change.is_none())
                .count()
                == report.rounds.len() =>
        {
            sentences.push(t.tr("First results: nothing to compare with yet.").to_owned());
        }
        _ => {}
    }
}

// Each argument is one input of the section; a struct of them would only rename it.
#[allow(clippy::too_many_arguments)]
fn dimension_section(
    state: &AppState,
    report: &TeamReport,
    figures: &[Option<ReleasedFigures>],
    rounded: &[Option<RoundedFigures>],
    latest_released: Option<(&RoundReport, &ReleasedFigures)>,
    dimension: Dimension,
    // The page's language and the team's time zone: how its dates are written.
    (t, zone): (Text, TimeZone),
    commitments: &[action_commitment::Model],
) -> DimensionSection {
    let label = dimension_label(dimension, t.locale);
    let (points, rows) =
        dimension_rounds(report, figures, rounded, dimension, (t, zone), commitments);
    let scale_min = f64::from(scale_min_of(state, dimension));
    let scale_max = scale_max_of(state, dimension);
    let mut facts = Vec::new();
    let mut analyst = Vec::new();
    let change = change_words(report, dimension, t);
    facts.push(change.plain);
    analyst.extend(change.analyst);
    trend_sentences(report, dimension, t, &mut facts, &mut analyst);
    let latest_figure = latest_released.and_then(|(_, figures)| {
        figures
            .dimensions
            .iter()
            .find(|figure| figure.dimension == dimension)
    });
    noise_and_agreement_sentences(
        report,
        dimension,
        latest_figure,
        t,
        &mut facts,
        &mut analyst,
    );
    let latest_value = points.last().map(|point| point.value);
    let headline = match latest_value {
        Some(PointValue::Figure { mean, .. }) => format!(
            "{} · {}",
            t.tr2("{} of {}", t.decimal(mean), scale_max),
            change.short
        ),
        Some(PointValue::Rounded { mean }) => format!(
            "{} · {}",
            t.tr1("about {}", t.decimal(mean)),
            t.tr1("of {} · rounded", scale_max)
        ),
        Some(PointValue::Hidden) => t.tr("latest pulse hidden to protect anonymity").to_owned(),
        Some(PointValue::NotAsked) | None => t.tr("not asked in the latest pulse").to_owned(),
    };
    let items = item_lines(state, latest_released, dimension, t);
    DimensionSection {
        id: dimension.as_str(),
        label,
        headline,
        chart: chart::trend_chart(label, &points, scale_min, f64::from(scale_max), t),
        rows,
        facts,
        analyst,
        items,
        guide: guides::guide(dimension, t.locale),
    }
}

/// A dimension's chart points and data rows, one per round of the report.
fn dimension_rounds(
    report: &TeamReport,
    figures: &[Option<ReleasedFigures>],
    rounded: &[Option<RoundedFigures>],
    dimension: Dimension,
    (t, zone): (Text, TimeZone),
    commitments: &[action_commitment::Model],
) -> (Vec<ChartPoint>, Vec<DataRow>) {
    let mut points = Vec::with_capacity(report.rounds.len());
    let mut rows = Vec::with_capacity(report.rounds.len());
    for ((round, figures), rounded) in report.rounds.iter().zip(figures).zip(rounded) {
        let (value, figure) = match (figures, rounded) {
            (None, None) => (PointValue::Hidden, None),
            (None, Some(rounded)) => match rounded
                .dimensions
                .iter()
                .find(|figure| figure.dimension == dimension)
            {
                Some(figure) => (
                    PointValue::Rounded { mean: figure.mean },
                    Some(Some(FigureCells {
                        mean: t.tr1("about {}", t.decimal(figure.mean)),
                        interval: t.tr("rounded to protect anonymity").to_owned(),
                        favourable: "–".to_owned(),
                    })),
                ),
                None => (PointValue::NotAsked, Some(None)),
            },
            (Some(figures), _) => match figures
                .dimensions
                .iter()
                .find(|figure| figure.dimension == dimension)
            {
                Some(figure) => (
                    PointValue::Figure {
                        mean: figure.mean,
                        band: band_of(&figure.confidence_interval),
                    },
                    Some(Some(FigureCells {
                        mean: t.decimal(figure.mean),
                        interval: interval_text(&figure.confidence_interval, t),
                        favourable: format!("{:.0}%", figure.favourability_percent),
                    })),
                ),
                None => (PointValue::NotAsked, Some(None)),
            },
        };
        points.push(ChartPoint {
            label: round.label.clone(),
            tick: safepulse_mailer::local_day_and_month(round.opened_at, zone, t.locale),
            value,
            // The leader's commitments on this dimension after this pulse: a marker.
            commitments: commitments
                .iter()
                .filter(|commitment| {
                    commitment.round_id == round.round_id
                        && commitment.dimension == dimension.as_str()
                })
                .map(|commitment| commitment.action.clone())
                .collect(),
        });
        rows.push(DataRow {
            label: round.label.clone(),
            figure,
        });
    }
    (points, rows)
}

/// The trend over the last released pulses: a sentence and its statistics.
fn trend_sentences(
    report: &TeamReport,
    dimension: Dimension,
    t: Text,
    facts: &mut Vec<String>,
    analyst: &mut Vec<String>,
) {
    match report
        .trends
        .iter()
        .find(|trend| trend.dimension == dimension.as_str())
    {
        Some(trend) => {
            let points = trend.trend.points;
            let slope = trend.trend.slope;
            let steadily = || {
                if slope < 0.0 {
                    t.tr1(
                        "Over the last {} released pulses: falling steadily.",
                        points,
                    )
                } else {
                    t.tr1("Over the last {} released pulses: rising steadily.", points)
                }
            };
            facts.push(match &trend.trend.slope_test {
                Some(test) if test.p_value < 0.05 => steadily(),
                Some(_) => t.tr1(
                    "Over the last {} released pulses: no clear direction.",
                    points,
                ),
                None if slope.abs() < 0.005 => {
                    t.tr1("Over the last {} released pulses: unchanged.", points)
                }
                None => steadily(),
            });
            let slope_text = t.tr2(
                "Trend: least-squares slope {} per pulse over {} pulses",
                t.number(format!("{slope:+.3}")),
                points,
            );
            analyst.push(match &trend.trend.slope_test {
                Some(test) => format!(
                    "{slope_text}, {}, {}.",
                    t.tr2(
                        "t = {} with {} degrees of freedom",
                        t.number(format!("{:.2}", test.t_statistic)),
                        format!("{:.0}", test.degrees_of_freedom),
                    ),
                    p_text(test.p_value, t)
                ),
                None => format!("{slope_text}{}", t.tr(", exactly on a line.")),
            });
        }
        None => facts.push(
            t.tr("A trend is shown from the third released pulse on.")
                .to_owned(),
        ),
    }
}

/// What counts as noise at the team's size, and how much the team agrees.
fn noise_and_agreement_sentences(
    report: &TeamReport,
    dimension: Dimension,
    latest_figure: Option<&DimensionFigures>,
    t: Text,
    facts: &mut Vec<String>,
    analyst: &mut Vec<String>,
) {
    if let Some(noise) = report
        .noise
        .iter()
        .find(|noise| noise.dimension == dimension.as_str())
    {
        facts.push(t.tr1(
            "At this team's size, only changes of {} or more between two pulses stand out from chance.",
            t.decimal(noise.minimum_detectable_change),
        ));
        analyst.push(t.tr1(
            "Minimum detectable change (80% power, two-sided α = .05): {}.",
            t.number(format!("{:.2}", noise.minimum_detectable_change)),
        ));
    }
    if let Some(detail) = latest_figure.and_then(|figure| figure.detail.as_ref()) {
        facts.push(
            if detail.rwg >= 0.7 {
                t.tr("The team largely agrees.")
            } else if detail.rwg_lindell < 0.0 {
                t.tr("Answers are split: some see it very differently from others.")
            } else {
                t.tr("Answers vary a lot.")
            }
            .to_owned(),
        );
        let two = |value: f64| t.number(format!("{value:.2}"));
        analyst.push(format!(
            "{}, {}.",
            t.tr2(
                "Agreement rwg(j) {} (Lindell's r*wg(j) {})",
                two(detail.rwg),
                two(detail.rwg_lindell)
            ),
            t.tr1("standard deviation {}", two(detail.sd))
        ));
    }
}

/// The latest detail release's items of a dimension, with their statistics.
fn item_lines(
    state: &AppState,
    latest_released: Option<(&RoundReport, &ReleasedFigures)>,
    dimension: Dimension,
    t: Text,
) -> Vec<ItemLine> {
    latest_released
        .map(|(_, figures)| {
            figures
                .items
                .iter()
                .filter(|item| item.dimension == dimension)
                .map(|item| ItemLine {
                    text: state
                        .bank
                        .text(&item.item, t.locale)
                        .unwrap_or(item.item.0.as_str())
                        .to_owned(),
                    mean: t.decimal(item.mean),
                    interval: interval_text(&item.confidence_interval, t),
                    favourable: format!("{:.0}%", item.favourability_percent),
                    enps: item.enps.map(|enps| format!("{enps:+.0}")),
                    sd: item
                        .detail
                        .as_ref()
                        .map(|detail| t.number(format!("{:.2}", detail.sd))),
                    distribution: item.detail.as_ref().map(|detail| {
                        let first = state
                            .bank
                            .meta(&item.item)
                            .map_or(1, |meta| meta.scale.min());
                        detail
                            .distribution
                            .iter()
                            .enumerate()
                            .map(|(offset, count)| {
                                format!("{}: {count}", usize::from(first) + offset)
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    }),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A dimension's change since the previous released pulse, in words and figures.
struct ChangeWords {
    /// A sentence for everybody.
    plain: String,
    /// A few words for the folded section's headline.
    short: &'static str,
    /// The figures and the test, for analysts.
    analyst: Option<String>,
}

fn change_words(report: &TeamReport, dimension: Dimension, t: Text) -> ChangeWords {
    let plain = |plain: String, short: &'static str| ChangeWords {
        plain,
        short,
        analyst: None,
    };
    let Some(latest) = report.rounds.last() else {
        return plain(
            t.tr("No pulse has closed yet.").to_owned(),
            t.tr("no results yet"),
        );
    };
    match &latest.change {
        None if matches!(latest.release, ReleaseView::Suppressed { .. }) => plain(
            t.tr1(
                "No change shown: {} is hidden to protect anonymity.",
                &latest.label,
            ),
            t.tr("hidden"),
        ),
        None if matches!(latest.release, ReleaseView::Rounded { .. }) => plain(
            t.tr1(
                "No change shown: {} is rounded to protect anonymity.",
                &latest.label,
            ),
            t.tr("rounded"),
        ),
        None => plain(
            t.tr("No earlier released pulse to compare with.").to_owned(),
            t.tr("first results"),
        ),
        Some(ChangeView::NotComparable { .. }) => plain(
            t.tr("Not compared with the last pulse: the team changed since, so the two describe different groups.")
                .to_owned(),
            t.tr("team changed, not compared"),
        ),
        Some(ChangeView::Compared { dimensions, .. }) => {
            let Some(change) = dimensions
                .iter()
                .find(|change| change.dimension == dimension)
            else {
                return plain(
                    t.tr("Not asked in both pulses.").to_owned(),
                    t.tr("not compared"),
                );
            };
            compared_change_words(change, t)
        }
    }
}

/// A dimension's change between two compared pulses: clearly lower or higher,
/// within normal variation, or too few answers to tell, with the test behind it.
fn compared_change_words(change: &DimensionChange, t: Text) -> ChangeWords {
    let short = if change.significant {
        if change.difference < 0.0 {
            t.tr("clearly lower than last time")
        } else {
            t.tr("clearly higher than last time")
        }
    } else if change.welch.is_some() {
        t.tr("within normal variation")
    } else {
        t.tr("too few answers to tell")
    };
    let (current, previous) = (
        t.decimal(change.current_mean),
        t.decimal(change.previous_mean),
    );
    let sentence = if change.welch.is_some() || change.significant {
        format!(
            "{}: {}.",
            capitalised(short),
            t.tr2("{}, was {}", current, previous)
        )
    } else {
        t.tr2(
            "{}, was {} last time: with this few answers a change cannot be told apart from chance.",
            current,
            previous,
        )
    };
    // The difference of the figures as shown, so the three never disagree.
    let (previous, current) = (
        hundredths(change.previous_mean),
        hundredths(change.current_mean),
    );
    let test = match &change.welch {
        Some(welch) => format!(
            "{}, {}; {}",
            t.tr2(
                "Welch's t-test t = {} with {} degrees of freedom",
                t.number(format!("{:.2}", welch.t_statistic)),
                t.number(format!("{:.1}", welch.degrees_of_freedom)),
            ),
            p_text(welch.p_value, t),
            if change.significant {
                t.tr("significant (p < .05 and a change of at least 0.5).")
            } else {
                t.tr("not significant (p < .05 and a change of at least 0.5).")
            }
        ),
        None => t.tr("Significance not tested: that needs spread released in both pulses and at least 8 answers.").to_owned(),
    };
    let two = |value: f64| t.number(format!("{value:.2}"));
    ChangeWords {
        plain: sentence,
        short,
        analyst: Some(format!(
            "{} {} {test}",
            t.tr1("Change {}", t.number(format!("{:+.2}", current - previous))),
            t.tr2("(from {} to {}).", two(previous), two(current)),
        )),
    }
}

/// "A", "A and B", "A, B and C".
fn spoken_list(names: &[String], t: Text) -> String {
    match names {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => t.tr2("{} and {}", init.join(", "), last),
    }
}

/// "Clearly lower than last time" from "clearly lower than last time".
fn capitalised(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// Rounded to two decimals, as the analysts' figures are shown.
fn hundredths(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

// ---------------------------------------------------------------------------------
// Heatmap

#[derive(Debug)]
struct HeatmapLine {
    node_id: NodeId,
    name: String,
    is_team: bool,
    /// The organisation's own row, the one the others are compared with.
    is_organisation: bool,
    /// Indentation class, 0 to [`MAX_INDENT`].
    indent: usize,
    /// One per column; `None` when the row is hidden or the dimension not asked.
    cells: Option<Vec<Option<HeatCell>>>,
}

#[derive(Debug)]
struct HeatCell {
    mean: String,
    favourable: String,
    /// CSS class: a step of the diverging scale, `baseline` (the organisation's
    /// own row), `plain` (nothing to compare with) or `rounded`.
    level: &'static str,
    /// The difference from the organisation as text (`−0.6`) with its symbol and
    /// words, so colour is never the only cue.
    comparison: Option<Comparison>,
}

#[derive(Debug)]
struct Comparison {
    difference: String,
    symbol: &'static str,
    words: &'static str,
}

/// One step of the heatmap's diverging scale: a class, a symbol, words.
#[derive(Debug)]
struct ScaleStep {
    level: &'static str,
    symbol: &'static str,
}

impl ScaleStep {
    /// The step in words.
    fn words(&self, t: &Text) -> &'static str {
        match self.level {
            "far-below" => t.tr("well below the organisation"),
            "below" => t.tr("below the organisation"),
            "above" => t.tr("above the organisation"),
            "far-above" => t.tr("well above the organisation"),
            _ => t.tr("close to the organisation"),
        }
    }

    /// What the step covers on a 1–7 scale, for the legend.
    fn range(&self, t: &Text) -> &'static str {
        match self.level {
            "far-below" => t.tr("0.5 or more below"),
            "below" => t.tr("0.25 to 0.5 below"),
            "above" => t.tr("0.25 to 0.5 above"),
            "far-above" => t.tr("0.5 or more above"),
            _ => t.tr("within 0.25"),
        }
    }
}

/// The diverging scale of the heatmap, from well below to well above the
/// organisation. The steps are a 24th and a 12th of the scale's width (0.25 and 0.5
/// on a 1–7 scale): about the smallest change the conversation guides call worth
/// a talk, and twice that.
const SCALE: [ScaleStep; 5] = [
    ScaleStep {
        level: "far-below",
        symbol: "▼▼",
    },
    ScaleStep {
        level: "below",
        symbol: "▼",
    },
    ScaleStep {
        level: "near",
        symbol: "=",
    },
    ScaleStep {
        level: "above",
        symbol: "▲",
    },
    ScaleStep {
        level: "far-above",
        symbol: "▲▲",
    },
];

/// Where a difference of means falls on [`SCALE`] for a scale `width` points wide.
fn scale_step(difference: f64, width: f64) -> &'static ScaleStep {
    let near = width / 24.0;
    let far = width / 12.0;
    let index = if difference <= -far {
        0
    } else if difference <= -near {
        1
    } else if difference < near {
        2
    } else if difference < far {
        3
    } else {
        4
    };
    &SCALE[index]
}

#[derive(Debug, Template)]
#[template(path = "dashboard/heatmap.html")]
struct HeatmapPage<'a> {
    t: Text,
    session: Option<&'a Session>,
    round_id: RoundId,
    label: String,
    columns: Vec<&'static str>,
    rows: Vec<HeatmapLine>,
    /// The organisation's name when its figure is among the rows.
    organisation: Option<String>,
    /// Its figure is rounded to protect anonymity: compared with the rounded means.
    organisation_rounded: bool,
    scale: &'static [ScaleStep],
}

/// The heatmap of the round in the path as the signed-in reader may read it,
/// audited as a dashboard view (`format`: a download); the page that replaces it
/// otherwise. The id is parsed here, not by the extractor, so a mistyped address
/// gets a page and not the API's problem+json.
async fn audited_heatmap(
    request: &HttpRequest,
    state: &AppState,
    id: &str,
    format: Option<ExportFormat>,
) -> Result<(Session, RoundId, Vec<HeatmapRow>), HttpResponse> {
    let (session, reader) = reader_of(request, state).await?;
    let Ok(round_id) = id.parse::<RoundId>() else {
        return Err(api_error_page(&ApiError::NotFound, &session));
    };
    let rows = match build_heatmap(state, &reader, round_id).await {
        Ok(rows) => rows,
        Err(error) => return Err(api_error_page(&error, &session)),
    };
    if let Err(error) =
        record_heatmap_view(state, &reader, round_id, &rows, ReadVia::Dashboard, format).await
    {
        return Err(server_error(&error, Some(&session)));
    }
    Ok((session, round_id, rows))
}

/// `GET /dashboard/rounds/{id}/heatmap`.
pub async fn heatmap_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let (session, round_id, rows) = match audited_heatmap(&request, &state, &id, None).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let t = session.text();
    let label = match heatmap_label(&state, round_id, t).await {
        Ok(label) => label,
        Err(error) => return server_error(&error, Some(&session)),
    };
    let dimensions: Vec<Dimension> = Dimension::ALL
        .into_iter()
        .filter(|dimension| {
            rows.iter()
                .flat_map(|row| &row.cells)
                .any(|cell| cell.dimension == dimension.as_str())
        })
        .collect();
    // The organisation's row: the top node, compared with when released (exactly
    // or rounded).
    let organisation = rows
        .iter()
        .find(|row| row.parent_node_id.is_none() && row.status != "suppressed");
    let compared = rows
        .iter()
        .flat_map(|row| &row.cells)
        .any(|cell| cell.difference_from_organisation.is_some());
    let lines = heatmap_lines(&state, &rows, &dimensions, organisation, compared, t);
    html_response(
        StatusCode::OK,
        HeatmapPage {
            t,
            session: Some(&session),
            round_id,
            label,
            columns: dimensions
                .iter()
                .map(|dimension| dimension_label(*dimension, t.locale))
                .collect(),
            rows: lines,
            organisation: organisation
                .filter(|_| compared)
                .map(|row| row.name.clone()),
            organisation_rounded: organisation.is_some_and(|row| row.status == "rounded"),
            scale: &SCALE,
        }
        .render(),
    )
}

/// The heatmap's rows in hierarchy order, a cell per dimension for each shown node.
fn heatmap_lines(
    state: &AppState,
    rows: &[HeatmapRow],
    dimensions: &[Dimension],
    organisation: Option<&HeatmapRow>,
    compared: bool,
    t: Text,
) -> Vec<HeatmapLine> {
    rows.iter()
        .map(|row| {
            let is_organisation = organisation.is_some_and(|top| top.node_id == row.node_id);
            HeatmapLine {
                node_id: row.node_id,
                name: match row.kind.as_str() {
                    "leadership" => t.tr("Leadership group").to_owned(),
                    _ => row.name.clone(),
                },
                is_team: row.kind == "team",
                is_organisation,
                indent: (row.depth as usize).min(MAX_INDENT),
                cells: (row.status != "suppressed").then(|| {
                    dimensions
                        .iter()
                        .map(|dimension| {
                            row.cells
                                .iter()
                                .find(|cell| cell.dimension == dimension.as_str())
                                .map(|cell| {
                                    heat_cell(
                                        state,
                                        *dimension,
                                        cell,
                                        is_organisation && compared,
                                        t,
                                    )
                                })
                        })
                        .collect()
                }),
            }
        })
        .collect()
}

/// One cell: the absolute figures, and where the mean stands against the
/// organisation's (the baseline row is marked as such).
fn heat_cell(
    state: &AppState,
    dimension: Dimension,
    cell: &crate::routes::reports::HeatmapCell,
    baseline: bool,
    t: Text,
) -> HeatCell {
    let Some(favourable) = cell.favourability_percent else {
        // A rounded row: its mean on the grid, no favourability, no comparison.
        return HeatCell {
            mean: format!("≈{}", t.decimal(cell.mean)),
            favourable: t.tr("rounded").to_owned(),
            level: "rounded",
            comparison: None,
        };
    };
    let width =
        f64::from(scale_max_of(state, dimension)) - f64::from(scale_min_of(state, dimension));
    let (level, comparison) = match cell.difference_from_organisation {
        Some(difference) => {
            let step = scale_step(difference, width);
            // Rounded to a tenth, a tiny difference would read "-0.0".
            let shown = if difference.abs() < 0.05 {
                0.0
            } else {
                difference
            };
            (
                step.level,
                Some(Comparison {
                    difference: t.number(format!("{shown:+.1}")).replace('-', "−"),
                    symbol: step.symbol,
                    words: step.words(&t),
                }),
            )
        }
        None if baseline => ("baseline", None),
        None => ("plain", None),
    };
    HeatCell {
        mean: t.decimal(cell.mean),
        favourable: format!("{favourable:.0}%"),
        level,
        comparison,
    }
}

/// `GET /dashboard/rounds/{id}/heatmap.csv` and `.xlsx`: the heatmap's download
/// button. The same rows as the page and the API ([`build_heatmap`]), the same table
/// as the API's download ([`heatmap_table`]), audited as a view.
pub async fn heatmap_download(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    format: ExportFormat,
) -> HttpResponse {
    let (session, round_id, rows) = match audited_heatmap(&request, &state, &id, Some(format)).await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    match heatmap_table(&rows).download(format, &format!("heatmap-{round_id}")) {
        Ok(response) => response,
        Err(error) => server_error(&error, Some(&session)),
    }
}

async fn heatmap_label(state: &AppState, round_id: RoundId, t: Text) -> Result<String, ApiError> {
    let db = state.store.connection();
    let round = safepulse_store::surveys::get_round(db, round_id).await?;
    let names: HashMap<SurveyId, String> = survey::Entity::find_by_id(round.survey_id)
        .all(db)
        .await
        .map_err(safepulse_store::StoreError::from)?
        .into_iter()
        .map(|survey| (survey.id, survey.name))
        .collect();
    Ok(round_label(
        &names,
        &LabelZones::load(state).await?,
        &round,
        t,
    ))
}

/// `GET /reports`: where the managers' digest email links to.
pub async fn reports_redirect() -> HttpResponse {
    super::session::see_other("/dashboard")
}
