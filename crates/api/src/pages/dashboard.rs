//! The dashboard for managers and HR (issue 6): `/dashboard` (the teams a reader
//! may read, each with its latest headline), `/dashboard/teams/{id}` (trend charts,
//! change, trend, item detail, comments and a conversation guide per dimension) and
//! `/dashboard/rounds/{id}/heatmap` (teams × dimensions of one round).
//!
//! Every figure comes from [`build_team_report`] and [`build_heatmap`], the same
//! functions behind the JSON API: they get releases only through the store's
//! release gate (who reads what, DESIGN §3, with its viewer rule) and carry no
//! figure for a suppressed node. These pages only
//! format; they never query answers and never combine releases into new numbers
//! (the overview names a team's *lowest* released dimension rather than averaging
//! dimensions). Each view is written to the audit log, as the API's are.
//!
//! English only: the people who read reports configure safepulse too, and the
//! settings and API are English; respondents' pages and emails are bilingual.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use safepulse_anonymizer::{ConfidenceInterval, ReleasedFigures};
use safepulse_domain::Dimension;
use safepulse_domain::access::{AccessNode, NodeKind};
use safepulse_mailer::messages::dimension_label;
use safepulse_store::audit::{self, AuditEvent};
use safepulse_store::entities::{round, survey, team};
use safepulse_store::org;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;
use uuid::Uuid;

use super::chart::{self, ChartPoint, PointValue, TrendChart};
use super::guides::{self, Guide};
use super::session::{
    Notice, Session, html_response, notice_page, redirect_to_sign_in, server_error,
};
use crate::access::Reader;
use crate::error::ApiError;
use crate::routes::reports::{
    ChangeView, HeatmapRow, ReadVia, ReleaseView, RoundReport, TeamReport, build_heatmap,
    build_team_report, heatmap_table, record_heatmap_view, record_team_report_view,
};
use crate::spreadsheet::ExportFormat;
use crate::state::AppState;
use safepulse_anonymizer::RoundedFigures;

/// Closed rounds listed on the overview, newest first.
const RECENT_ROUNDS: u64 = 12;
/// Hierarchy depth the overview indents (deeper teams share the last indent).
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

#[derive(Debug)]
struct TeamLine {
    id: Uuid,
    name: String,
    indent: usize,
    headline: Headline,
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
    id: Uuid,
    label: String,
    closed_on: String,
}

#[derive(Debug, Template)]
#[template(path = "dashboard/overview.html")]
struct OverviewPage<'a> {
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
    pub headlines: HashMap<Uuid, (round::Model, HeatmapRow)>,
}

pub async fn overview_releases(
    state: &AppState,
    reader: &Reader,
) -> Result<OverviewReleases, ApiError> {
    let closed = round::Entity::find()
        .filter(round::Column::Status.eq("closed"))
        .order_by_desc(round::Column::ClosedAt)
        .limit(RECENT_ROUNDS)
        .all(state.store.connection())
        .await
        .map_err(safepulse_store::StoreError::from)?;
    let mut headlines: HashMap<Uuid, (round::Model, HeatmapRow)> = HashMap::new();
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
        .map(|team| AccessNode {
            id: team.id,
            parent: team.parent_id,
            kind: NodeKind::Team,
        })
        .collect();
    let readable = reader.led_teams_read(&nodes);
    let survey_names: HashMap<Uuid, String> = survey::Entity::find()
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
    let mut headlines: HashMap<Uuid, Headline> = headlines
        .into_iter()
        .map(|(node, (round, row))| (node, headline_of(state, &row, &round.period_key)))
        .collect();

    let lines = in_tree_order(&teams)
        .into_iter()
        .filter(|(team, _)| readable.contains(&team.id))
        .map(|(team, depth)| TeamLine {
            id: team.id,
            name: team.name.clone(),
            indent: depth.min(MAX_INDENT),
            headline: headlines.remove(&team.id).unwrap_or(Headline::NoResults),
        })
        .collect();
    let rounds = closed
        .iter()
        .map(|round| RoundLine {
            id: round.id,
            label: round_label(&survey_names, round),
            closed_on: round
                .closed_at
                .map(|at| at.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
        })
        .collect();
    Ok(html_response(
        StatusCode::OK,
        OverviewPage {
            session: Some(session),
            is_hr: reader.is_hr(),
            teams: lines,
            rounds,
        }
        .render(),
    ))
}

fn round_label(survey_names: &HashMap<Uuid, String>, round: &round::Model) -> String {
    match survey_names.get(&round.survey_id) {
        Some(name) => format!("{name}, {}", round.period_key),
        None => round.period_key.clone(),
    }
}

/// The released dimension with the lowest mean (the recommendation item aside: it
/// is on another scale), named with its scale.
fn headline_of(state: &AppState, row: &HeatmapRow, period: &str) -> Headline {
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
            lowest: dimension_label(dimension, safepulse_domain::Locale::En).to_owned(),
            lowest_mean: if rounded {
                format!(
                    "about {:.1} of {} (rounded to protect anonymity)",
                    cell.mean,
                    scale_max_of(state, dimension)
                )
            } else {
                format!("{:.1} of {}", cell.mean, scale_max_of(state, dimension))
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

/// Teams depth first, siblings by name, with their depth.
fn in_tree_order(teams: &[team::Model]) -> Vec<(&team::Model, usize)> {
    let mut children: HashMap<Option<Uuid>, Vec<&team::Model>> = HashMap::new();
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

#[derive(Debug)]
struct RoundRow {
    label: String,
    closed_on: String,
    status: &'static str,
    respondents: Option<u32>,
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
    chart: TrendChart,
    rows: Vec<DataRow>,
    change: String,
    trend: String,
    noise: Option<String>,
    agreement: Option<String>,
    items: Vec<ItemLine>,
    guide: Option<&'static Guide>,
}

#[derive(Debug, Template)]
#[template(path = "dashboard/team.html")]
struct TeamPage<'a> {
    session: Option<&'a Session>,
    name: String,
    parent: Option<(Uuid, String)>,
    rounds: Vec<RoundRow>,
    /// The latest round is hidden or rounded to protect anonymity.
    latest_protected: bool,
    latest_rounded: bool,
    latest_label: Option<String>,
    latest_not_comparable: bool,
    latest_team_changed: bool,
    latest_membership_changed: bool,
    detail_released: bool,
    sections: Vec<DimensionSection>,
    comments: Vec<String>,
    comments_round: Option<String>,
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
    let Ok(node_id) = id.parse::<Uuid>() else {
        return api_error_page(&ApiError::NotFound, &session);
    };
    let report = match build_team_report(&state, &reader, node_id).await {
        Ok(report) => report,
        Err(error) => return api_error_page(&error, &session),
    };
    let db = state.store.connection();
    if let Err(error) = record_team_report_view(&state, &reader, &report, ReadVia::Dashboard).await
    {
        return server_error(&error, Some(&session));
    }
    let parent = match org::get_team(db, node_id).await {
        Ok(team) => match team.parent_id {
            Some(parent_id) => org::get_team(db, parent_id)
                .await
                .ok()
                .map(|parent| (parent.id, parent.name)),
            None => None,
        },
        Err(_) => None,
    };
    html_response(
        StatusCode::OK,
        team_view(&state, &session, &report, parent).render(),
    )
}

fn released_figures(round: &RoundReport) -> Option<ReleasedFigures> {
    match &round.release {
        ReleaseView::Released { figures, .. } => ReleasedFigures::deserialize(figures).ok(),
        ReleaseView::Rounded { .. } | ReleaseView::Suppressed { .. } => None,
    }
}

fn rounded_figures(round: &RoundReport) -> Option<RoundedFigures> {
    match &round.release {
        ReleaseView::Rounded { figures, .. } => RoundedFigures::deserialize(figures).ok(),
        ReleaseView::Released { .. } | ReleaseView::Suppressed { .. } => None,
    }
}

fn band_of(interval: &ConfidenceInterval) -> Option<(f64, f64)> {
    match *interval {
        ConfidenceInterval::Team { low, high } | ConfidenceInterval::OrgLevel { low, high } => {
            Some((low, high))
        }
        ConfidenceInterval::NoBand => None,
    }
}

fn interval_text(interval: &ConfidenceInterval) -> String {
    match band_of(interval) {
        Some((low, high)) => format!("{low:.1}–{high:.1}"),
        None => "–".to_owned(),
    }
}

fn team_view<'a>(
    state: &AppState,
    session: &'a Session,
    report: &TeamReport,
    parent: Option<(Uuid, String)>,
) -> TeamPage<'a> {
    let figures: Vec<Option<ReleasedFigures>> =
        report.rounds.iter().map(released_figures).collect();
    let rounded: Vec<Option<RoundedFigures>> = report.rounds.iter().map(rounded_figures).collect();
    let latest = report.rounds.last();
    let latest_released = report
        .rounds
        .iter()
        .zip(&figures)
        .rev()
        .find_map(|(round, figures)| figures.as_ref().map(|figures| (round, figures)));
    let dimensions: Vec<Dimension> = Dimension::ALL
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
        .collect();
    let sections = dimensions
        .into_iter()
        .map(|dimension| {
            dimension_section(
                state,
                report,
                &figures,
                &rounded,
                latest_released,
                dimension,
            )
        })
        .collect();
    let (comments, comments_round) = report
        .rounds
        .iter()
        .rev()
        .find(|round| !round.comments.is_empty())
        .map_or((Vec::new(), None), |round| {
            (round.comments.clone(), Some(round.period_key.clone()))
        });
    TeamPage {
        session: Some(session),
        name: report.name.clone(),
        parent,
        rounds: report
            .rounds
            .iter()
            .zip(figures.iter().zip(&rounded))
            .map(|(round, (figures, rounded))| RoundRow {
                label: round.period_key.clone(),
                closed_on: round
                    .closed_at
                    .map(|at| at.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
                status: match (figures, rounded) {
                    (Some(_), _) => "released",
                    (None, Some(_)) => "rounded to protect anonymity",
                    (None, None) => "hidden to protect anonymity",
                },
                respondents: figures
                    .as_ref()
                    .map(|figures| figures.respondents)
                    .or(rounded.as_ref().map(|rounded| rounded.respondents)),
                team_changed: round.team_changed,
                membership_changed: round.membership_changed_before,
            })
            .collect(),
        latest_protected: latest.is_some_and(|round| released_figures(round).is_none()),
        latest_rounded: latest.is_some_and(|round| rounded_figures(round).is_some()),
        latest_label: latest.map(|round| round.period_key.clone()),
        latest_not_comparable: latest
            .is_some_and(|round| matches!(round.change, Some(ChangeView::NotComparable { .. }))),
        latest_team_changed: latest.is_some_and(|round| round.team_changed),
        latest_membership_changed: latest.is_some_and(|round| round.membership_changed_before),
        detail_released: latest_released.is_some_and(|(_, figures)| figures.detail),
        sections,
        comments,
        comments_round,
        width: chart::WIDTH,
        height: chart::HEIGHT,
        plot_left: chart::PLOT_LEFT,
        plot_right: chart::PLOT_RIGHT,
        plot_top: chart::PLOT_TOP,
        plot_bottom: chart::PLOT_BOTTOM,
    }
}

fn dimension_section(
    state: &AppState,
    report: &TeamReport,
    figures: &[Option<ReleasedFigures>],
    rounded: &[Option<RoundedFigures>],
    latest_released: Option<(&RoundReport, &ReleasedFigures)>,
    dimension: Dimension,
) -> DimensionSection {
    let label = dimension_label(dimension, safepulse_domain::Locale::En);
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
                        mean: format!("about {:.1}", figure.mean),
                        interval: "rounded to protect anonymity".to_owned(),
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
                        mean: format!("{:.1}", figure.mean),
                        interval: interval_text(&figure.confidence_interval),
                        favourable: format!("{:.0}%", figure.favourability_percent),
                    })),
                ),
                None => (PointValue::NotAsked, Some(None)),
            },
        };
        points.push(ChartPoint {
            label: round.period_key.clone(),
            value,
        });
        rows.push(DataRow {
            label: round.period_key.clone(),
            figure,
        });
    }
    let scale_min = f64::from(scale_min_of(state, dimension));
    let scale_max = f64::from(scale_max_of(state, dimension));
    let change = change_text(report, dimension);
    let trend = match report
        .trends
        .iter()
        .find(|trend| trend.dimension == dimension.as_str())
    {
        Some(trend) => {
            let slope = trend.trend.slope;
            let direction = if slope.abs() < 0.005 {
                "flat".to_owned()
            } else if slope > 0.0 {
                format!("rising by {slope:.2} per round")
            } else {
                format!("falling by {:.2} per round", -slope)
            };
            let evidence = match &trend.trend.slope_test {
                Some(test) if test.p_value < 0.05 => {
                    format!("a clear trend (p = {:.3})", test.p_value)
                }
                Some(test) => format!("could be noise (p = {:.2})", test.p_value),
                None => "exactly on a line".to_owned(),
            };
            format!(
                "Trend over {} released rounds: {direction}, {evidence}.",
                trend.trend.points
            )
        }
        None => "Trend: shown once three rounds are released.".to_owned(),
    };
    let noise = report
        .noise
        .iter()
        .find(|noise| noise.dimension == dimension.as_str())
        .map(|noise| {
            format!(
                "At this team's size, changes smaller than {:.1} between two rounds are within noise.",
                noise.minimum_detectable_change
            )
        });
    let latest_figure = latest_released.and_then(|(_, figures)| {
        figures
            .dimensions
            .iter()
            .find(|figure| figure.dimension == dimension)
    });
    let agreement = latest_figure
        .and_then(|figure| figure.detail.as_ref())
        .map(|detail| {
            let word = if detail.rwg >= 0.7 {
                "the team largely agrees"
            } else if detail.rwg_lindell < 0.0 {
                "answers are split: some see it very differently from others"
            } else {
                "answers vary a lot"
            };
            format!(
                "Agreement rwg(j) {:.2}: {word}. Standard deviation {:.2}.",
                detail.rwg, detail.sd
            )
        });
    let items = latest_released
        .map(|(_, figures)| {
            figures
                .items
                .iter()
                .filter(|item| item.dimension == dimension)
                .map(|item| ItemLine {
                    text: state
                        .bank
                        .text(&item.item, safepulse_domain::Locale::En)
                        .unwrap_or(item.item.0.as_str())
                        .to_owned(),
                    mean: format!("{:.1}", item.mean),
                    interval: interval_text(&item.confidence_interval),
                    favourable: format!("{:.0}%", item.favourability_percent),
                    enps: item.enps.map(|enps| format!("{enps:+.0}")),
                    sd: item
                        .detail
                        .as_ref()
                        .map(|detail| format!("{:.2}", detail.sd)),
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
        .unwrap_or_default();
    DimensionSection {
        id: dimension.as_str(),
        label,
        chart: chart::trend_chart(label, &points, scale_min, scale_max),
        rows,
        change,
        trend,
        noise,
        agreement,
        items,
        guide: guides::guide(dimension),
    }
}

/// The change of the latest round against the previous released one.
fn change_text(report: &TeamReport, dimension: Dimension) -> String {
    let Some(latest) = report.rounds.last() else {
        return "No round yet.".to_owned();
    };
    match &latest.change {
        None if matches!(latest.release, ReleaseView::Suppressed { .. }) => {
            format!(
                "Change: none shown, {} is hidden to protect anonymity.",
                latest.period_key
            )
        }
        None if matches!(latest.release, ReleaseView::Rounded { .. }) => {
            format!(
                "Change: none shown, {} is rounded to protect anonymity.",
                latest.period_key
            )
        }
        None => "Change: no earlier released round to compare with.".to_owned(),
        Some(ChangeView::NotComparable { .. }) => format!(
            "Change: not comparable. The team changed since the last released round before {}, so the two rounds describe different groups.",
            latest.period_key
        ),
        Some(ChangeView::Compared { dimensions, .. }) => {
            match dimensions
                .iter()
                .find(|change| change.dimension == dimension)
            {
                Some(change) => {
                    let verdict = if change.significant {
                        "a meaningful change"
                    } else if change.welch.is_some() {
                        "within what chance alone could produce"
                    } else {
                        "significance not tested at this size"
                    };
                    // Rounded to a tenth, a tiny fall would read "-0.0".
                    let difference = if change.difference.abs() < 0.05 {
                        0.0
                    } else {
                        change.difference
                    };
                    format!(
                        "Change since the previous round: {difference:+.1} (from {:.1} to {:.1}), {verdict}.",
                        change.previous_mean, change.current_mean
                    )
                }
                None => "Change: not asked in both rounds.".to_owned(),
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Heatmap

#[derive(Debug)]
struct HeatmapLine {
    node_id: Uuid,
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
    words: &'static str,
    /// What the step covers on a 1–7 scale, for the legend.
    range: &'static str,
}

/// The diverging scale of the heatmap, from well below to well above the
/// organisation. The steps are a 24th and a 12th of the scale's width (0.25 and 0.5
/// on a 1–7 scale): about the smallest change the conversation guides call worth
/// a talk, and twice that.
const SCALE: [ScaleStep; 5] = [
    ScaleStep {
        level: "far-below",
        symbol: "▼▼",
        words: "well below the organisation",
        range: "0.5 or more below",
    },
    ScaleStep {
        level: "below",
        symbol: "▼",
        words: "below the organisation",
        range: "0.25 to 0.5 below",
    },
    ScaleStep {
        level: "near",
        symbol: "=",
        words: "close to the organisation",
        range: "within 0.25",
    },
    ScaleStep {
        level: "above",
        symbol: "▲",
        words: "above the organisation",
        range: "0.25 to 0.5 above",
    },
    ScaleStep {
        level: "far-above",
        symbol: "▲▲",
        words: "well above the organisation",
        range: "0.5 or more above",
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
    session: Option<&'a Session>,
    round_id: Uuid,
    label: String,
    columns: Vec<&'static str>,
    rows: Vec<HeatmapLine>,
    /// The organisation's name when its figure is among the rows.
    organisation: Option<String>,
    /// Its figure is rounded to protect anonymity: compared with the rounded means.
    organisation_rounded: bool,
    scale: &'static [ScaleStep],
}

/// `GET /dashboard/rounds/{id}/heatmap`.
pub async fn heatmap_page(
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
    let Ok(round_id) = id.parse::<Uuid>() else {
        return api_error_page(&ApiError::NotFound, &session);
    };
    let rows = match build_heatmap(&state, &reader, round_id).await {
        Ok(rows) => rows,
        Err(error) => return api_error_page(&error, &session),
    };
    if let Err(error) =
        record_heatmap_view(&state, &reader, round_id, &rows, ReadVia::Dashboard, None).await
    {
        return server_error(&error, Some(&session));
    }
    let label = match heatmap_label(&state, round_id).await {
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
    let lines = rows
        .iter()
        .map(|row| {
            let is_organisation = organisation.is_some_and(|top| top.node_id == row.node_id);
            HeatmapLine {
                node_id: row.node_id,
                name: match row.kind.as_str() {
                    "leadership" => "Leadership group".to_owned(),
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
                                    heat_cell(&state, *dimension, cell, is_organisation && compared)
                                })
                        })
                        .collect()
                }),
            }
        })
        .collect();
    html_response(
        StatusCode::OK,
        HeatmapPage {
            session: Some(&session),
            round_id,
            label,
            columns: dimensions
                .iter()
                .map(|dimension| dimension_label(*dimension, safepulse_domain::Locale::En))
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

/// One cell: the absolute figures, and where the mean stands against the
/// organisation's (the baseline row is marked as such).
fn heat_cell(
    state: &AppState,
    dimension: Dimension,
    cell: &crate::routes::reports::HeatmapCell,
    baseline: bool,
) -> HeatCell {
    let Some(favourable) = cell.favourability_percent else {
        // A rounded row: its mean on the grid, no favourability, no comparison.
        return HeatCell {
            mean: format!("≈{:.1}", cell.mean),
            favourable: "rounded".to_owned(),
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
                    difference: format!("{shown:+.1}").replace('-', "−"),
                    symbol: step.symbol,
                    words: step.words,
                }),
            )
        }
        None if baseline => ("baseline", None),
        None => ("plain", None),
    };
    HeatCell {
        mean: format!("{:.1}", cell.mean),
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
    let (session, reader) = match reader_of(&request, &state).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Ok(round_id) = id.parse::<Uuid>() else {
        return api_error_page(&ApiError::NotFound, &session);
    };
    let rows = match build_heatmap(&state, &reader, round_id).await {
        Ok(rows) => rows,
        Err(error) => return api_error_page(&error, &session),
    };
    if let Err(error) = record_heatmap_view(
        &state,
        &reader,
        round_id,
        &rows,
        ReadVia::Dashboard,
        Some(format),
    )
    .await
    {
        return server_error(&error, Some(&session));
    }
    match heatmap_table(&rows).download(format, &format!("heatmap-{round_id}")) {
        Ok(response) => response,
        Err(error) => server_error(&error, Some(&session)),
    }
}

async fn heatmap_label(state: &AppState, round_id: Uuid) -> Result<String, ApiError> {
    let db = state.store.connection();
    let round = safepulse_store::surveys::get_round(db, round_id).await?;
    let names: HashMap<Uuid, String> = survey::Entity::find_by_id(round.survey_id)
        .all(db)
        .await
        .map_err(safepulse_store::StoreError::from)?
        .into_iter()
        .map(|survey| (survey.id, survey.name))
        .collect();
    Ok(round_label(&names, &round))
}

/// `GET /reports`: where the managers' digest email links to.
pub async fn reports_redirect() -> HttpResponse {
    super::session::see_other("/dashboard")
}
