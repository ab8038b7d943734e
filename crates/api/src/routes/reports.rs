//! Reports (managers and hr): a team's released figures per closed round with the
//! change since the previous release and the trend, a round's heatmap, and the HR
//! export. Everything here reads frozen releases; nothing reads an answer, and no
//! figure is computed by summing releases into a new aggregate. Every view is
//! written to the audit log.

use safepulse_store::entities::round::RoundStatus;
use std::collections::{HashMap, HashSet};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use safepulse_anonymizer::{
    DimensionChange, ReleasedFigures, RoundedFigures, StoredForm, Trend, compare_rounds,
    minimum_detectable_change, trend,
};
use safepulse_domain::{Dimension, Locale, NodeId, Role, RoundId, SurveyId, TeamId, TimeZone};
use safepulse_store::audit::{self, AuditEvent};
use safepulse_store::entities::release::{self, ReleaseStatus};
use safepulse_store::releases::{
    self, ReleaseFilter, ReleaseSelection, VisibleRelease, visible_releases,
};
use safepulse_store::reports;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Page, PageQuery, figures};
use crate::access::Reader;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::spreadsheet::{Cell, ExportFormat, FormatParam, FormatQuery, Table, XlsxWorkbook};
use crate::state::AppState;

/// One release as readers see it: figures, rounded figures, or only the public
/// reason. Why a release is hidden or rounded is never said: a small group, a group
/// that changed since the last pulse, and a comparison with earlier rounds that
/// could single someone out all look the same.
///
/// JSON numbers are the anonymizer's figures at full double precision, unrounded
/// (round them for display: means and intervals to 1–2 decimals, percentages to
/// whole numbers); the CSV and XLSX downloads are rounded as their operations say.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReleaseView {
    Released {
        /// Spread, distribution, agreement and comments were released too.
        detail: bool,
        /// The anonymizer's released figures: respondents, per dimension the mean,
        /// its 95% CI (with the SD it used) and favourability; with `detail` also
        /// SD, distribution and agreement (rwg(j)), and the same per item (with
        /// eNPS). A release without detail has no per-item figures.
        #[serde(serialize_with = "figures::serialize_released")]
        #[schema(value_type = figures::ReleasedFiguresView)]
        figures: ReleasedFigures,
    },
    /// Shown on a coarse grid to protect anonymity: respondents, the grid `step`
    /// and each dimension's mean rounded to it, nothing else.
    Rounded {
        /// Always `rounded_to_protect_anonymity`.
        reason: String,
        #[serde(serialize_with = "figures::serialize_rounded")]
        #[schema(value_type = figures::RoundedFiguresView)]
        figures: RoundedFigures,
    },
    Suppressed {
        /// Always `hidden_to_protect_anonymity`.
        reason: String,
    },
}

impl ReleaseView {
    /// The one place a stored release becomes what readers see. Figures that do
    /// not decode (a damaged row) are logged and shown as hidden: never a guess.
    pub fn of(release: &release::Model) -> ReleaseView {
        let suppressed = || ReleaseView::Suppressed {
            reason: "hidden_to_protect_anonymity".into(),
        };
        let Some(bytes) = release.figures.as_deref() else {
            return suppressed();
        };
        let decoded = match release.status {
            ReleaseStatus::Released => {
                ReleasedFigures::from_stored(bytes).map(|figures| ReleaseView::Released {
                    detail: release.detail,
                    figures,
                })
            }
            ReleaseStatus::Rounded => {
                RoundedFigures::from_stored(bytes).map(|figures| ReleaseView::Rounded {
                    reason: "rounded_to_protect_anonymity".into(),
                    figures,
                })
            }
            ReleaseStatus::Suppressed => return suppressed(),
        };
        decoded.unwrap_or_else(|error| {
            tracing::error!(release = %release.id, %error, "a stored release does not decode; shown as hidden");
            suppressed()
        })
    }

    /// The exact figures, when the release has them.
    pub fn released_figures(&self) -> Option<&ReleasedFigures> {
        match self {
            ReleaseView::Released { figures, .. } => Some(figures),
            ReleaseView::Rounded { .. } | ReleaseView::Suppressed { .. } => None,
        }
    }

    /// The rounded figures, when the release was rounded.
    pub fn rounded_figures(&self) -> Option<&RoundedFigures> {
        match self {
            ReleaseView::Rounded { figures, .. } => Some(figures),
            ReleaseView::Released { .. } | ReleaseView::Suppressed { .. } => None,
        }
    }
}

/// The change since the previous released round of the same survey.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChangeView {
    /// Per dimension asked in both rounds; `significant` only where both rounds
    /// were detail-released (Welch's t-test, n ≥ 8, p < .05, |Δ| ≥ 0.5).
    Compared {
        #[schema(value_type = Uuid)]
        previous_round_id: RoundId,
        #[schema(value_type = Vec<Object>)]
        dimensions: Vec<DimensionChange>,
    },
    /// The team changed (people joined, left or were erased) since the previous
    /// released round: the two rounds describe different groups.
    NotComparable {
        #[schema(value_type = Uuid)]
        previous_round_id: RoundId,
    },
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoundReport {
    #[schema(value_type = Uuid)]
    pub round_id: RoundId,
    #[schema(value_type = Uuid)]
    pub survey_id: SurveyId,
    /// What people call the round: the day it opened in the team's time zone,
    /// e.g. "Pulse of 7 Dec 2026" (the dashboard and the emails use the same).
    pub label: String,
    /// The cadence's slot (`2026-W50`, `2026-12`, `manual-…`), kept for clients
    /// that group by it; not meant to be shown.
    pub period_key: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// People invited in this node's subtree when the round opened (the answer
    /// page tells them this number), for the response rate; absent when the
    /// release is suppressed, which shows nothing at all.
    pub invited: Option<u32>,
    pub release: ReleaseView,
    /// Absent for the first released round, and for a hidden or rounded round.
    pub change: Option<ChangeView>,
    /// The team changed since the survey's last pulse: people joined, left or were
    /// erased (decided when the round closed).
    pub team_changed: bool,
    /// Someone joined or left the team in the 14 days before the round opened.
    pub membership_changed_before: bool,
    /// Comments of a detail release, shuffled, without dates.
    pub comments: Vec<String>,
}

/// How many people have answered a round that is still open: shown only for a node
/// with more than 2k invitees, rounded down to a multiple of k, always below the
/// invitee count less k, recomputed at most once a day at a random time (DESIGN §3).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpenRoundParticipation {
    #[schema(value_type = Uuid)]
    pub round_id: RoundId,
    #[schema(value_type = Uuid)]
    pub survey_id: SurveyId,
    /// As on [`RoundReport`]: "Pulse of 7 Dec 2026".
    pub label: String,
    pub period_key: String,
    pub opened_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    /// At least this many have answered (a multiple of k).
    pub respondents_at_least: u32,
    /// The round's k: the step in which `respondents_at_least` moves.
    pub rounded_to: u32,
    /// The day (UTC) the figure was computed; never the time.
    pub as_of: NaiveDate,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DimensionTrend {
    pub dimension: String,
    /// OLS slope per round over the released rounds, with its t-test.
    #[schema(value_type = Object)]
    pub trend: Trend,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DimensionNoise {
    pub dimension: String,
    /// The smallest change between two rounds of this size that a test would
    /// detect (80% power, α = .05); smaller changes are within noise.
    pub minimum_detectable_change: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamReport {
    #[schema(value_type = Uuid)]
    pub node_id: NodeId,
    pub name: String,
    /// Closed rounds this reader may see, oldest first.
    pub rounds: Vec<RoundReport>,
    /// Per dimension, when at least three rounds were released (exact or rounded:
    /// a rounded round counts with its rounded mean).
    pub trends: Vec<DimensionTrend>,
    /// From the latest detail release, per dimension.
    pub noise: Vec<DimensionNoise>,
    /// Rounds still open, with their rounded participation where the team is large
    /// enough to show it.
    pub open_rounds: Vec<OpenRoundParticipation>,
}

/// The time zones rounds are named in ([`safepulse_mailer::pulse_label`]): a
/// team's own; for the synthetic nodes (root, leadership) and pages about a whole
/// round, the organisation's, taken as its first top-level team's (by name).
#[derive(Debug, Clone)]
pub struct LabelZones {
    teams: HashMap<TeamId, TimeZone>,
    organisation: TimeZone,
}

impl LabelZones {
    pub async fn load(state: &AppState) -> Result<LabelZones, ApiError> {
        let teams = safepulse_store::org::all_teams(state.store.connection()).await?;
        let mut tops: Vec<&safepulse_store::entities::team::Model> = teams
            .iter()
            .filter(|team| team.parent_id.is_none())
            .collect();
        tops.sort_by(|a, b| a.name.cmp(&b.name));
        let zone = |name: &str| TimeZone::parse(name).unwrap_or_default();
        Ok(LabelZones {
            organisation: tops
                .first()
                .map_or_else(TimeZone::default, |team| zone(&team.time_zone)),
            teams: teams
                .iter()
                .map(|team| (team.id, zone(&team.time_zone)))
                .collect(),
        })
    }

    /// The zone of `team`, or the organisation's for a synthetic node or a round.
    pub fn of(&self, team: Option<TeamId>) -> TimeZone {
        team.and_then(|team| self.teams.get(&team).copied())
            .unwrap_or(self.organisation)
    }

    /// The round's English label for a node of `team` (see [`RoundReport::label`]).
    pub fn label(&self, opened_at: DateTime<Utc>, team: Option<TeamId>) -> String {
        self.label_in(opened_at, team, Locale::En)
    }

    /// The same label in `locale`, for the dashboard.
    pub fn label_in(
        &self,
        opened_at: DateTime<Utc>,
        team: Option<TeamId>,
        locale: Locale,
    ) -> String {
        safepulse_mailer::pulse_label(opened_at, self.of(team), locale)
    }
}

/// A team's report: every closed round the caller may read, with figures exactly
/// as released; suppressed rounds carry no figures at all.
#[utoipa::path(
    get, path = "/api/v1/reports/teams/{id}", tag = "reports", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TeamReport), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem))
)]
#[get("/api/v1/reports/teams/{id}")]
pub async fn team_report(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<NodeId>,
) -> Result<HttpResponse, ApiError> {
    let reader = Reader::resolve(&caller, state.store.connection()).await?;
    let report = build_team_report(&state, &reader, id.into_inner()).await?;
    record_team_report_view(&state, &reader, &report, ReadVia::Api).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Where a report was read, as the audit log records it.
#[derive(Debug, Clone, Copy)]
pub enum ReadVia {
    Api,
    Dashboard,
}

impl ReadVia {
    fn as_str(self) -> &'static str {
        match self {
            ReadVia::Api => "api",
            ReadVia::Dashboard => "dashboard",
        }
    }
}

/// Writes the audit entry of a team report view (who, which rounds, when).
pub async fn record_team_report_view(
    state: &AppState,
    reader: &Reader,
    report: &TeamReport,
    via: ReadVia,
) -> Result<(), ApiError> {
    audit::record_committed(
        &state.store,
        state.clock.now(),
        AuditEvent {
            actor: &reader.subject,
            action: "report.viewed",
            // The node's id as a team's: a synthetic node's names no team.
            team_id: Some(TeamId::of_team_node(report.node_id)),
            target: Some(report.node_id.to_string()),
            details: serde_json::json!({
                "rounds": report.rounds.iter().map(|round| round.round_id).collect::<Vec<_>>(),
                "via": via.as_str(),
            }),
        },
    )
    .await?;
    Ok(())
}

/// Writes the audit entry of a heatmap view.
pub async fn record_heatmap_view(
    state: &AppState,
    reader: &Reader,
    round_id: RoundId,
    rows: &[HeatmapRow],
    via: ReadVia,
    // `None` for the dashboard's page.
    format: Option<ExportFormat>,
) -> Result<(), ApiError> {
    audit::record_committed(
        &state.store,
        state.clock.now(),
        AuditEvent {
            actor: &reader.subject,
            action: "report.heatmap_viewed",
            team_id: None,
            target: Some(round_id.to_string()),
            details: serde_json::json!({
                "nodes": rows.len(),
                "via": via.as_str(),
                "format": format.map(format_name),
            }),
        },
    )
    .await?;
    Ok(())
}

pub async fn build_team_report(
    state: &AppState,
    reader: &Reader,
    node_id: NodeId,
) -> Result<TeamReport, ApiError> {
    let db = state.store.connection();
    let history = visible_releases(db, reader.releases(), ReleaseSelection::Node(node_id)).await?;
    let visible: Vec<&VisibleRelease> = history.releases.iter().collect();
    // The team the node stands for; a synthetic node stands for none, and the
    // lookups by it below find nothing.
    let team_id = TeamId::of_team_node(node_id);
    let membership_changes = membership_windows(state, team_id, &visible).await?;
    let mut comments_by_round = releases::comments_of_node(db, &history, node_id).await?;
    let name = match history.latest_name_of(node_id) {
        Some(name) => name.to_owned(),
        None => match safepulse_store::org::get_team(db, team_id).await {
            Ok(team) => team.name,
            Err(_) => return Err(ApiError::NotFound),
        },
    };
    if visible.is_empty()
        && !reader.is_hr()
        && !manager_reads_team_now(state, reader, team_id).await?
    {
        return Err(ApiError::Forbidden);
    }

    let zones = LabelZones::load(state).await?;
    let mut rounds = Vec::with_capacity(visible.len());
    let mut walk = ReleaseWalk::default();
    for entry in &visible {
        let release = ReleaseView::of(&entry.release);
        let (change, comments) = walk.step(entry, &release, &mut comments_by_round);
        let invited = match &release {
            ReleaseView::Suppressed { .. } => None,
            _ => Some(subtree_invited(history.snapshot(entry.round.id), node_id)),
        };
        rounds.push(RoundReport {
            round_id: entry.round.id,
            survey_id: entry.round.survey_id,
            label: zones.label(entry.round.opened_at, entry.node.team_id),
            period_key: entry.round.period_key.clone(),
            opened_at: entry.round.opened_at,
            closed_at: entry.round.closed_at,
            invited,
            release,
            change,
            team_changed: entry.release.team_changed,
            membership_changed_before: membership_changes.contains(&entry.round.id),
            comments,
        });
    }
    let trends = trends_of(walk.trend_points);
    let noise = noise_of(walk.latest_detail);
    Ok(TeamReport {
        node_id,
        name,
        rounds,
        trends,
        noise,
        open_rounds: open_round_participation(state, reader, node_id, &zones).await?,
    })
}

/// What the walk over a node's releases, oldest first, carries from one round to
/// the next.
#[derive(Default)]
struct ReleaseWalk<'a> {
    /// Per survey: its latest exact release so far.
    previous_released: HashMap<SurveyId, (&'a VisibleRelease, ReleasedFigures)>,
    /// Per survey: the team changed since its previous exact release.
    changed_since_previous: HashMap<SurveyId, bool>,
    trend_points: HashMap<Dimension, Vec<(f64, f64)>>,
    latest_detail: Option<ReleasedFigures>,
}

impl<'a> ReleaseWalk<'a> {
    /// A round's change since its survey's previous exact release, and its released
    /// comments; its means are kept for the trends.
    fn step(
        &mut self,
        entry: &'a VisibleRelease,
        release: &ReleaseView,
        comments_by_round: &mut HashMap<RoundId, Vec<String>>,
    ) -> (Option<ChangeView>, Vec<String>) {
        let Self {
            previous_released,
            changed_since_previous,
            trend_points,
            latest_detail,
        } = self;
        let figures = release.released_figures().cloned();
        // A rounded round counts in the trend with its rounded means: the trend is
        // then a function of published figures only.
        if let Some(rounded) = release.rounded_figures() {
            for dimension in &rounded.dimensions {
                trend_points
                    .entry(dimension.dimension)
                    .or_default()
                    .push((f64::from(entry.round.round_index), dimension.mean));
            }
        }
        let changed = changed_since_previous
            .entry(entry.round.survey_id)
            .or_default();
        *changed |= entry.release.team_changed;
        let mut change = None;
        let mut comments = Vec::new();
        if let Some(figures) = &figures {
            if let Some((previous, previous_figures)) =
                previous_released.get(&entry.round.survey_id)
            {
                change = Some(if *changed {
                    ChangeView::NotComparable {
                        previous_round_id: previous.round.id,
                    }
                } else {
                    ChangeView::Compared {
                        previous_round_id: previous.round.id,
                        dimensions: compare_rounds(previous_figures, figures, entry.round.k as u32),
                    }
                });
            }
            *changed = false;
            for dimension in &figures.dimensions {
                trend_points
                    .entry(dimension.dimension)
                    .or_default()
                    .push((f64::from(entry.round.round_index), dimension.mean));
            }
            if figures.detail {
                comments = comments_by_round
                    .remove(&entry.round.id)
                    .unwrap_or_default();
                *latest_detail = Some(figures.clone());
            }
            previous_released.insert(entry.round.survey_id, (entry, figures.clone()));
        }
        (change, comments)
    }
}

/// The trend of each dimension released (exactly or rounded) in at least three rounds.
fn trends_of(trend_points: HashMap<Dimension, Vec<(f64, f64)>>) -> Vec<DimensionTrend> {
    let mut trends: Vec<DimensionTrend> = trend_points
        .into_iter()
        .filter(|(_, points)| points.len() >= 3)
        .filter_map(|(dimension, points)| {
            trend(&points).map(|trend| DimensionTrend {
                dimension: dimension.as_str().to_owned(),
                trend,
            })
        })
        .collect();
    trends.sort_by(|a, b| a.dimension.cmp(&b.dimension));
    trends
}

/// The minimum detectable change per dimension at the latest detail release.
fn noise_of(latest_detail: Option<ReleasedFigures>) -> Vec<DimensionNoise> {
    latest_detail
        .map(|figures| {
            figures
                .dimensions
                .iter()
                .filter_map(|dimension| {
                    let sd = dimension.detail.as_ref()?.sd;
                    Some(DimensionNoise {
                        dimension: dimension.dimension.as_str().to_owned(),
                        minimum_detectable_change: minimum_detectable_change(
                            figures.respondents,
                            sd,
                        )?,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// People invited in `node_id`'s subtree of a round's snapshot.
fn subtree_invited(
    snapshot: &[safepulse_store::entities::round_node::Model],
    node_id: NodeId,
) -> u32 {
    let mut total = 0;
    let mut below = vec![node_id];
    while let Some(parent) = below.pop() {
        for node in snapshot {
            if node.node_id == parent {
                total += u32::try_from(node.invited).unwrap_or(0);
            }
            if node.parent_node_id == Some(parent) {
                below.push(node.node_id);
            }
        }
    }
    total
}

/// The node's rounded participation in open rounds the reader may read.
async fn open_round_participation(
    state: &AppState,
    reader: &Reader,
    node_id: NodeId,
    zones: &LabelZones,
) -> Result<Vec<OpenRoundParticipation>, ApiError> {
    let db = state.store.connection();
    let open = safepulse_store::participation::open_rounds_of_node(db, node_id).await?;
    let round_ids: Vec<RoundId> = open.iter().map(|(round, _)| round.id).collect();
    let readable = releases::readable_nodes_in_rounds(db, reader.releases(), &round_ids).await?;
    Ok(open
        .into_iter()
        .filter(|(round, _)| {
            readable
                .get(&round.id)
                .is_some_and(|nodes| nodes.contains(&node_id))
        })
        .map(|(round, row)| OpenRoundParticipation {
            round_id: round.id,
            survey_id: round.survey_id,
            label: zones.label(round.opened_at, Some(TeamId::of_team_node(node_id))),
            period_key: round.period_key,
            opened_at: round.opened_at,
            closes_at: round.closes_at,
            respondents_at_least: u32::try_from(row.respondents).unwrap_or(0),
            rounded_to: u32::try_from(round.k).unwrap_or(0),
            as_of: row.computed_at.date_naive(),
        })
        .collect())
}

/// A manager may ask for a team they read today even before it has a release.
async fn manager_reads_team_now(
    state: &AppState,
    reader: &Reader,
    team_id: TeamId,
) -> Result<bool, ApiError> {
    let db = state.store.connection();
    let teams = safepulse_store::org::all_teams(db).await?;
    let nodes: Vec<safepulse_domain::access::AccessNode> = teams
        .iter()
        .map(|team| safepulse_domain::access::AccessNode::team(team.id, team.parent_id))
        .collect();
    Ok(reader.led_teams_read(&nodes).contains(&team_id))
}

/// The rounds with a membership change in the 14 days before they opened.
async fn membership_windows(
    state: &AppState,
    team_id: TeamId,
    rounds: &[&VisibleRelease],
) -> Result<HashSet<RoundId>, ApiError> {
    let (Some(first), Some(last)) = (rounds.first(), rounds.last()) else {
        return Ok(HashSet::new());
    };
    let window = Duration::days(14);
    let changes = reports::membership_changes(
        state.store.connection(),
        team_id,
        first.round.opened_at - window,
        last.round.opened_at,
    )
    .await?;
    Ok(rounds
        .iter()
        .filter(|entry| {
            let opened = entry.round.opened_at;
            changes
                .iter()
                .any(|at| *at >= opened - window && *at <= opened)
        })
        .map(|entry| entry.round.id)
        .collect())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeatmapCell {
    pub dimension: String,
    /// Exact, or on the row's grid when the row is `rounded`.
    pub mean: f64,
    /// Absent when the row is `rounded`.
    pub favourability_percent: Option<f64>,
    /// This mean less the organisation's for the same dimension in the same round
    /// (the round's top node, released exactly or rounded, and read by the caller),
    /// at full precision. Absent for the organisation's own row, a `rounded` row,
    /// and when the caller does not read the organisation's figure.
    pub difference_from_organisation: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeatmapRow {
    #[schema(value_type = Uuid)]
    pub node_id: NodeId,
    pub name: String,
    /// `team`, `leadership` or `root`.
    pub kind: String,
    #[schema(value_type = Option<Uuid>)]
    pub parent_node_id: Option<NodeId>,
    /// How deep the node sits below the first row of its tree in this list: rows
    /// come depth first as the round's hierarchy had them (siblings by name, the
    /// Leadership group last), and a row whose parent the caller does not read
    /// starts a tree at depth 0.
    pub depth: u32,
    /// `released`, `rounded` (means on a coarse grid, no favourability) or
    /// `suppressed` (no cells).
    pub status: String,
    pub cells: Vec<HeatmapCell>,
}

/// A closed round's teams × dimensions, for the nodes the caller may read.
///
/// **Formats.** JSON by default (full precision). `Accept: text/csv` or
/// `?format=csv` gives CSV, the XLSX media type or `?format=xlsx` a workbook: one
/// row per node in the order of the JSON (the hierarchy, depth first), columns
/// `node_id, node_name, node_kind, parent_node_id, depth, status`, then per
/// dimension of the round `<dimension>_mean` (2 decimals),
/// `<dimension>_favourable_percent` (1 decimal) and
/// `<dimension>_difference_from_organisation` (2 decimals); a hidden node's cells
/// are empty. Any other `Accept` is `406` (`not_acceptable`).
#[utoipa::path(
    get, path = "/api/v1/reports/rounds/{id}/heatmap", tag = "reports", security(("bearer" = [])),
    params(FormatQuery, ("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The round's rows",
         content((Vec<HeatmapRow> = "application/json"),
                 (String = "text/csv"),
                 (inline(XlsxWorkbook) = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 406, body = Problem, description = "`Accept` names no type this operation writes (`not_acceptable`)"))
)]
#[get("/api/v1/reports/rounds/{id}/heatmap")]
pub async fn round_heatmap(
    caller: Caller,
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<RoundId>,
    query: web::Query<FormatQuery>,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.connection();
    let reader = Reader::resolve(&caller, db).await?;
    let format = ExportFormat::negotiate(query.into_inner().format, accept_of(&request))?;
    let round_id = id.into_inner();
    let rows = build_heatmap(&state, &reader, round_id).await?;
    record_heatmap_view(&state, &reader, round_id, &rows, ReadVia::Api, Some(format)).await?;
    if format == ExportFormat::Json {
        return Ok(HttpResponse::Ok().json(rows));
    }
    heatmap_table(&rows).download(format, &format!("heatmap-{round_id}"))
}

/// The heatmap's rows as a table, one row per node, two columns per dimension.
pub fn heatmap_table(rows: &[HeatmapRow]) -> Table {
    let dimensions: Vec<Dimension> = Dimension::ALL
        .into_iter()
        .filter(|dimension| {
            rows.iter()
                .flat_map(|row| &row.cells)
                .any(|cell| cell.dimension == dimension.as_str())
        })
        .collect();
    let mut header: Vec<String> = [
        "node_id",
        "node_name",
        "node_kind",
        "parent_node_id",
        "depth",
        "status",
    ]
    .map(str::to_owned)
    .to_vec();
    for dimension in &dimensions {
        header.push(format!("{}_mean", dimension.as_str()));
        header.push(format!("{}_favourable_percent", dimension.as_str()));
        header.push(format!(
            "{}_difference_from_organisation",
            dimension.as_str()
        ));
    }
    let lines = rows
        .iter()
        .map(|row| {
            let mut line = vec![
                Cell::text(row.node_id.to_string()),
                Cell::text(row.name.clone()),
                Cell::text(row.kind.clone()),
                row.parent_node_id
                    .map_or(Cell::Empty, |id| Cell::text(id.to_string())),
                Cell::Integer(i64::from(row.depth)),
                Cell::text(row.status.clone()),
            ];
            for dimension in &dimensions {
                let cell = row
                    .cells
                    .iter()
                    .find(|cell| cell.dimension == dimension.as_str());
                line.push(Cell::number(cell.map(|cell| cell.mean), 2));
                line.push(Cell::number(
                    cell.and_then(|cell| cell.favourability_percent),
                    1,
                ));
                line.push(Cell::number(
                    cell.and_then(|cell| cell.difference_from_organisation),
                    2,
                ));
            }
            line
        })
        .collect();
    Table {
        sheet_name: "Heatmap",
        header,
        rows: lines,
    }
}

pub async fn build_heatmap(
    state: &AppState,
    reader: &Reader,
    round_id: RoundId,
) -> Result<Vec<HeatmapRow>, ApiError> {
    let db = state.store.connection();
    let round = safepulse_store::surveys::get_round(db, round_id).await?;
    if round.status != RoundStatus::Closed {
        return Err(ApiError::Conflict {
            code: "round_not_closed",
            detail: "a round's results appear when it closes".into(),
        });
    }
    let visible =
        visible_releases(db, reader.releases(), ReleaseSelection::Round(round_id)).await?;
    if visible.releases.is_empty() {
        return Err(ApiError::Forbidden);
    }
    let mut rows: Vec<HeatmapRow> = visible
        .releases
        .iter()
        .map(|VisibleRelease { node, release, .. }| {
            let view = ReleaseView::of(release);
            let (status, cells) = match (view.released_figures(), view.rounded_figures()) {
                (Some(figures), _) => (
                    "released",
                    figures
                        .dimensions
                        .iter()
                        .map(|dimension| HeatmapCell {
                            dimension: dimension.dimension.as_str().to_owned(),
                            mean: dimension.mean,
                            favourability_percent: Some(dimension.favourability_percent),
                            difference_from_organisation: None,
                        })
                        .collect(),
                ),
                (None, Some(figures)) => (
                    "rounded",
                    figures
                        .dimensions
                        .iter()
                        .map(|dimension| HeatmapCell {
                            dimension: dimension.dimension.as_str().to_owned(),
                            mean: dimension.mean,
                            favourability_percent: None,
                            difference_from_organisation: None,
                        })
                        .collect(),
                ),
                (None, None) => ("suppressed", Vec::new()),
            };
            HeatmapRow {
                node_id: node.node_id,
                name: node.name.clone(),
                kind: node.kind.clone(),
                parent_node_id: node.parent_node_id,
                depth: 0,
                status: status.into(),
                cells,
            }
        })
        .collect();
    compare_with_organisation(&mut rows);
    Ok(in_hierarchy_order(rows))
}

/// Sets each exactly released cell's difference from the organisation: the row of
/// the round's top node (no parent), when it is among the rows and released, exactly
/// or rounded (then its means on their grid). Both figures are releases this reader
/// reads; the difference adds nothing to them.
fn compare_with_organisation(rows: &mut [HeatmapRow]) {
    let Some(organisation) = rows
        .iter()
        .find(|row| row.parent_node_id.is_none() && row.status != "suppressed")
    else {
        return;
    };
    let organisation_id = organisation.node_id;
    let means: HashMap<String, f64> = organisation
        .cells
        .iter()
        .map(|cell| (cell.dimension.clone(), cell.mean))
        .collect();
    for row in rows
        .iter_mut()
        .filter(|row| row.status == "released" && row.node_id != organisation_id)
    {
        for cell in &mut row.cells {
            cell.difference_from_organisation =
                means.get(&cell.dimension).map(|mean| cell.mean - mean);
        }
    }
}

/// The rows depth first as the round's hierarchy had them: siblings by name with
/// the Leadership group last; a row whose parent is not among them starts a tree.
fn in_hierarchy_order(rows: Vec<HeatmapRow>) -> Vec<HeatmapRow> {
    let present: HashSet<NodeId> = rows.iter().map(|row| row.node_id).collect();
    let mut children: HashMap<Option<NodeId>, Vec<HeatmapRow>> = HashMap::new();
    for row in rows {
        let parent = row.parent_node_id.filter(|parent| present.contains(parent));
        children.entry(parent).or_default().push(row);
    }
    for siblings in children.values_mut() {
        siblings.sort_by(|a, b| {
            (a.kind == "leadership", &a.name, a.node_id).cmp(&(
                b.kind == "leadership",
                &b.name,
                b.node_id,
            ))
        });
        // Popped from the end below: reversed, the first sibling comes out first.
        siblings.reverse();
    }
    let mut ordered = Vec::with_capacity(present.len());
    let mut stack: Vec<(Option<NodeId>, u32)> = vec![(None, 0)];
    // Each stack entry is a parent whose children are still to be emitted.
    while let Some((parent, depth)) = stack.pop() {
        let Some(mut row) = children.get_mut(&parent).and_then(Vec::pop) else {
            continue;
        };
        stack.push((parent, depth));
        row.depth = depth;
        stack.push((Some(row.node_id), depth + 1));
        ordered.push(row);
    }
    ordered
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReleaseQuery {
    pub cursor: Option<Uuid>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    #[param(value_type = Option<Uuid>)]
    pub round_id: Option<RoundId>,
    /// e.g. `2026-W48`, `2026-11` or `manual-2026-11-30T09:00:00.000Z`.
    #[param(pattern = r"^[0-9A-Za-z:.-]{1,40}$")]
    pub period_key: Option<String>,
    /// A team's id (or a synthetic node's).
    #[param(value_type = Option<Uuid>)]
    pub team_id: Option<NodeId>,
    /// `json` (default), `csv` or `xlsx`; overrides the `Accept` header.
    #[param(inline)]
    pub format: Option<FormatParam>,
}

/// One row of the HR export. Stable schema: fields are only ever added.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReleaseRow {
    pub id: Uuid,
    #[schema(value_type = Uuid)]
    pub round_id: RoundId,
    #[schema(value_type = Uuid)]
    pub survey_id: SurveyId,
    /// As on the team report: "Pulse of 7 Dec 2026", in the team's time zone.
    pub label: String,
    pub period_key: String,
    pub closed_at: Option<DateTime<Utc>>,
    #[schema(value_type = Uuid)]
    pub node_id: NodeId,
    /// Present for team nodes.
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<TeamId>,
    pub node_name: String,
    /// `team`, `leadership` or `root`.
    pub node_kind: String,
    pub release: ReleaseView,
}

/// Every release of every closed round, org-wide (hr), by cursor. Releases the
/// caller may not read (a node that held their own invitation in a round that
/// opened before they were given hr) are skipped, so a page may hold fewer than
/// `limit` rows; the last page is the one without `next_cursor`.
///
/// **Formats.** JSON by default, with every figure at full double precision.
/// `Accept: text/csv` or `?format=csv` gives the same page as CSV (UTF-8, comma
/// separated, a header row), and the XLSX media type or `?format=xlsx` as a workbook:
/// one row per release and dimension (one row without figures for a hidden release),
/// columns `release_id, round_id, survey_id, period_key, closed_at, node_id, team_id,
/// node_name, node_kind, status, detail, respondents, rounded_to, dimension, mean,
/// ci_low, ci_high, ci_sd_source, favourable_percent, sd, agreement_rwg`. Numbers are
/// rounded: means, interval bounds, `sd`, `agreement_rwg` and `rounded_to` to 2
/// decimals, `favourable_percent` to 1; a figure the release does not have is an
/// empty cell. Per-item figures, distributions and comments are in the JSON only.
/// The next page of a download is in the `Link` header (`rel="next"`). Text
/// beginning with `=`, `+`, `-` or `@` is prefixed with `'` in CSV, so a
/// spreadsheet does not run it. Any other `Accept` is `406` (`not_acceptable`).
#[utoipa::path(
    get, path = "/api/v1/releases", tag = "reports", security(("bearer" = [])), params(ReleaseQuery),
    responses(
        (status = 200, description = "A page of releases",
         content((Page<ReleaseRow> = "application/json"),
                 (String = "text/csv"),
                 (inline(XlsxWorkbook) = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
         headers(("Link" = String, description = "For CSV and XLSX: the next page, `rel=\"next\"`"))),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 406, body = Problem, description = "`Accept` names no type this operation writes (`not_acceptable`)"))
)]
#[get("/api/v1/releases")]
pub async fn list_releases(
    caller: Caller,
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<ReleaseQuery>,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.connection();
    let reader = Reader::resolve(&caller, db).await?;
    if !reader.is_hr() {
        return Err(ApiError::Forbidden);
    }
    let mut query = query.into_inner();
    let format = ExportFormat::negotiate(query.format.take(), accept_of(&request))?;
    let page = build_release_page(&state, &reader, query).await?;
    let items = page.items;
    audit::record_committed(
        &state.store,
        state.clock.now(),
        AuditEvent {
            actor: &reader.subject,
            action: "report.exported",
            team_id: None,
            target: None,
            details: serde_json::json!({
                "releases": items.iter().map(|row| row.id).collect::<Vec<_>>(),
                "format": format_name(format),
            }),
        },
    )
    .await?;
    if format == ExportFormat::Json {
        return Ok(HttpResponse::Ok().json(Page {
            items,
            next_cursor: page.next_cursor,
        }));
    }
    let mut response = release_table(&items).download(format, "releases")?;
    if let Some(cursor) = page.next_cursor {
        let link = format!("<{}>; rel=\"next\"", next_page_path(&request, cursor));
        if let Ok(value) = header::HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// The request's `Accept` header, when it is readable text.
pub fn accept_of(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
}

/// How the audit log names a format.
pub fn format_name(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Json => "json",
        ExportFormat::Csv => "csv",
        ExportFormat::Xlsx => "xlsx",
    }
}

/// This request's path and query with `cursor` set to the next page's.
fn next_page_path(request: &HttpRequest, cursor: Uuid) -> String {
    let kept: Vec<&str> = request
        .query_string()
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("cursor="))
        .collect();
    let mut query = kept.join("&");
    if !query.is_empty() {
        query.push('&');
    }
    format!("{}?{query}cursor={cursor}", request.path())
}

/// The HR export's rows as a table: one row per release and dimension, figures
/// taken from the release exactly as the JSON shows it (a hidden release has none).
pub fn release_table(rows: &[ReleaseRow]) -> Table {
    let header = RELEASE_COLUMNS.map(str::to_owned).to_vec();
    let mut lines = Vec::new();
    for row in rows {
        let identity = |status: &str, detail, respondents, step| {
            identity_cells(row, status, detail, respondents, step)
        };
        match &row.release {
            ReleaseView::Released { detail, figures } => {
                for dimension in &figures.dimensions {
                    let (low, high, source) = interval_cells(&dimension.confidence_interval);
                    let mut line =
                        identity("released", Some(*detail), Some(figures.respondents), None);
                    line.extend([
                        Cell::text(dimension.dimension.as_str()),
                        Cell::number(Some(dimension.mean), 2),
                        low,
                        high,
                        source,
                        Cell::number(Some(dimension.favourability_percent), 1),
                        Cell::number(dimension.detail.as_ref().map(|detail| detail.sd), 2),
                        Cell::number(dimension.detail.as_ref().map(|detail| detail.rwg), 2),
                    ]);
                    lines.push(line);
                }
            }
            ReleaseView::Rounded { figures, .. } => {
                for dimension in &figures.dimensions {
                    let mut line = identity(
                        "rounded",
                        Some(false),
                        Some(figures.respondents),
                        Some(figures.step),
                    );
                    line.extend([
                        Cell::text(dimension.dimension.as_str()),
                        Cell::number(Some(dimension.mean), 2),
                    ]);
                    line.extend(std::iter::repeat_n(Cell::Empty, 6));
                    lines.push(line);
                }
            }
            ReleaseView::Suppressed { .. } => {
                let mut line = identity("suppressed", None, None, None);
                line.extend(std::iter::repeat_n(Cell::Empty, 8));
                lines.push(line);
            }
        }
    }
    Table {
        sheet_name: "Releases",
        header,
        rows: lines,
    }
}

/// The columns of the release download: who and when, then the figures.
const RELEASE_COLUMNS: [&str; 21] = [
    "release_id",
    "round_id",
    "survey_id",
    "period_key",
    "closed_at",
    "node_id",
    "team_id",
    "node_name",
    "node_kind",
    "status",
    "detail",
    "respondents",
    "rounded_to",
    "dimension",
    "mean",
    "ci_low",
    "ci_high",
    "ci_sd_source",
    "favourable_percent",
    "sd",
    "agreement_rwg",
];

/// The first 13 cells of a release line: the release, its round and node, and
/// how it was released.
fn identity_cells(
    row: &ReleaseRow,
    status: &str,
    detail: Option<bool>,
    respondents: Option<u32>,
    step: Option<f64>,
) -> Vec<Cell> {
    vec![
        Cell::text(row.id.to_string()),
        Cell::text(row.round_id.to_string()),
        Cell::text(row.survey_id.to_string()),
        Cell::text(row.period_key.clone()),
        row.closed_at
            .map_or(Cell::Empty, |at| Cell::text(at.to_rfc3339())),
        Cell::text(row.node_id.to_string()),
        row.team_id
            .map_or(Cell::Empty, |id| Cell::text(id.to_string())),
        Cell::text(row.node_name.clone()),
        Cell::text(row.node_kind.clone()),
        Cell::text(status),
        detail.map_or(Cell::Empty, |detail| Cell::text(detail.to_string())),
        respondents.map_or(Cell::Empty, |n| Cell::Integer(i64::from(n))),
        Cell::number(step, 2),
    ]
}

/// A confidence interval's bounds and the SD it used, as cells.
fn interval_cells(interval: &safepulse_anonymizer::ConfidenceInterval) -> (Cell, Cell, Cell) {
    use safepulse_anonymizer::ConfidenceInterval;
    match *interval {
        ConfidenceInterval::Team { low, high } => (
            Cell::number(Some(low), 2),
            Cell::number(Some(high), 2),
            Cell::text("team"),
        ),
        ConfidenceInterval::OrgLevel { low, high } => (
            Cell::number(Some(low), 2),
            Cell::number(Some(high), 2),
            Cell::text("org_level"),
        ),
        ConfidenceInterval::NoBand => (Cell::Empty, Cell::Empty, Cell::text("no_band")),
    }
}

/// One page of the HR export (what `GET /api/v1/releases` answers, without the
/// hr check and the audit entry): the releases this reader may read.
pub async fn build_release_page(
    state: &AppState,
    reader: &Reader,
    query: ReleaseQuery,
) -> Result<Page<ReleaseRow>, ApiError> {
    let limit = PageQuery {
        cursor: query.cursor,
        limit: query.limit,
    }
    .limit()?;
    let filter = ReleaseFilter {
        round_id: query.round_id,
        period_key: query.period_key.map(parse_period_key).transpose()?,
        node_id: query.team_id,
    };
    let page = visible_releases(
        state.store.connection(),
        reader.releases(),
        ReleaseSelection::Page {
            filter: &filter,
            after: query.cursor,
            limit,
        },
    )
    .await?;
    let zones = LabelZones::load(state).await?;
    Ok(Page {
        items: page
            .releases
            .iter()
            .map(|visible| release_row(visible, &zones))
            .collect(),
        next_cursor: page.next,
    })
}

/// A period key as rounds have them (`2026-W48`, `2026-11`, `manual-…`): 1–40
/// letters, digits, `-`, `:` and `.`, as the document's pattern says. Anything else
/// (a NUL byte, which PostgreSQL cannot compare with text) names no round.
fn parse_period_key(raw: String) -> Result<String, ApiError> {
    let valid = (1..=40).contains(&raw.len())
        && raw
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-:.".contains(&byte));
    if valid {
        Ok(raw)
    } else {
        Err(ApiError::validation(
            "period_key",
            "a period key such as 2026-W48, 2026-11 or manual-2026-11-30T09:00:00.000Z",
        ))
    }
}

fn release_row(
    VisibleRelease {
        round,
        node,
        release,
    }: &VisibleRelease,
    zones: &LabelZones,
) -> ReleaseRow {
    ReleaseRow {
        id: release.id,
        round_id: round.id,
        survey_id: round.survey_id,
        label: zones.label(round.opened_at, node.team_id),
        period_key: round.period_key.clone(),
        closed_at: round.closed_at,
        node_id: release.node_id,
        team_id: node.team_id,
        node_name: node.name.clone(),
        node_kind: node.kind.clone(),
        release: ReleaseView::of(release),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// The last `id` of the previous page.
    pub after: Option<i64>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryDto {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<TeamId>,
    pub target: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntryDto>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// The audit log (admin): organisation changes and every report view.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "reports", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 401, body = Problem), (status = 403, body = Problem))
)]
#[get("/api/v1/audit")]
pub async fn list_audit(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let limit = PageQuery {
        cursor: None,
        limit: query.limit,
    }
    .limit()?;
    let (entries, next_after) = audit::list(state.store.connection(), query.after, limit).await?;
    Ok(HttpResponse::Ok().json(AuditPage {
        items: entries
            .into_iter()
            .map(|entry| AuditEntryDto {
                id: entry.id,
                at: entry.at,
                actor: entry.actor,
                action: entry.action,
                team_id: entry.team_id,
                target: entry.target,
                details: entry.details,
            })
            .collect(),
        next_after,
    }))
}
