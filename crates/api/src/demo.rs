//! `safepulse demo`: a demo organisation with a year of pulse history, made through
//! the real path — rounds opened by the round opener, answers stored by the submit
//! transaction with real link tokens, rounds closed by the close transaction and
//! released by the anonymizer — so the dashboard a newcomer sees is exactly what
//! the product would show.
//!
//! The organisation: 25 teams on 4 levels in four time zones, about 200 people, one
//! survey every two weeks, 12 closed rounds. The synthetic climate has stories: a
//! struggling team (Payments, falling), a recovering one (Reliability, rising), a
//! steady majority, and a team of three (Recruiting) that is always hidden. Each
//! team is stronger on some dimensions and weaker on others (about a third of the
//! heatmap's cells sit below the organisation), and a few leaders commit to an
//! action after a pulse ([`PLANS`], through the store's own action plan
//! functions): the dimension they chose improves over the pulses after it, so the
//! chart's marker has a story to tell.

use std::collections::HashMap;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use safepulse_domain::{
    CommitmentId, Dimension, Email, ItemId, Locale, Name, PersonId, RoundId, TeamId, TimeZone,
};
use safepulse_rounds::rounds::{self, OpenOutcome, OpenRequest};
use safepulse_rounds::survey::SurveySettings;
use safepulse_store::answers::{self, ValidAnswer};
use safepulse_store::commitments::{self, CommitmentChange, CommitmentFields};
use safepulse_store::entities::outbox::OutboxKind;
use safepulse_store::entities::{invitation, outbox, person, round, round_item};
use safepulse_store::org::{self, NewPerson, NewTeam};
use safepulse_store::surveys::{self, NewSurvey};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::state::AppState;

const ROUNDS: i64 = 12;
const DAYS_BETWEEN_ROUNDS: i64 = 14;
/// The team whose leader `safepulse demo` prints as the manager to sign in as.
const MANAGER_TEAM: &str = "Payments";

/// One team of the demo organisation: name, parent (index), time zone, members.
struct DemoTeam {
    name: &'static str,
    parent: Option<usize>,
    time_zone: &'static str,
    members: usize,
    /// The team's climate: baseline on the 1–7 scale and change per round.
    baseline: f64,
    drift_per_round: f64,
}

const fn team(
    name: &'static str,
    parent: Option<usize>,
    time_zone: &'static str,
    members: usize,
    baseline: f64,
    drift_per_round: f64,
) -> DemoTeam {
    DemoTeam {
        name,
        parent,
        time_zone,
        members,
        baseline,
        drift_per_round,
    }
}

const BERLIN: &str = "Europe/Berlin";
const NEW_YORK: &str = "America/New_York";
const LOS_ANGELES: &str = "America/Los_Angeles";
const SYDNEY: &str = "Australia/Sydney";

/// Index order matters: parents come before children.
const TEAMS: [DemoTeam; 25] = [
    team("Acme", None, BERLIN, 2, 5.2, 0.0),
    team("Engineering", Some(0), BERLIN, 2, 5.3, 0.0),
    team("Go-to-market", Some(0), NEW_YORK, 2, 5.0, 0.0),
    team("Operations", Some(0), BERLIN, 2, 5.1, 0.0),
    team("Platform", Some(1), BERLIN, 2, 5.3, 0.0),
    team("Product", Some(1), BERLIN, 2, 5.2, 0.0),
    team("Data", Some(1), SYDNEY, 2, 5.4, 0.0),
    team("Sales EMEA", Some(2), BERLIN, 2, 4.9, 0.0),
    team("Sales Americas", Some(2), NEW_YORK, 2, 5.0, 0.0),
    team("Marketing", Some(2), NEW_YORK, 8, 5.1, 0.0),
    team("People", Some(3), BERLIN, 6, 5.5, 0.0),
    team("Finance", Some(3), BERLIN, 8, 5.0, 0.02),
    team("Infrastructure", Some(4), BERLIN, 11, 5.4, 0.0),
    team("Reliability", Some(4), BERLIN, 10, 4.3, 0.09),
    team("Developer Tools", Some(4), BERLIN, 9, 5.6, 0.0),
    team("Web", Some(5), BERLIN, 12, 5.3, 0.01),
    team("Mobile", Some(5), BERLIN, 11, 5.1, 0.0),
    team("Payments", Some(5), BERLIN, 12, 5.5, -0.12),
    team("Analytics", Some(6), SYDNEY, 9, 5.4, 0.0),
    team("Machine Learning", Some(6), SYDNEY, 8, 5.6, -0.02),
    team("DACH", Some(7), BERLIN, 10, 4.9, 0.03),
    team("Nordics", Some(7), BERLIN, 9, 5.2, 0.0),
    team("East", Some(8), NEW_YORK, 11, 4.8, 0.0),
    team("West", Some(8), LOS_ANGELES, 10, 5.0, 0.04),
    team("Recruiting", Some(10), BERLIN, 3, 5.0, 0.0),
];

/// A leader's commitment in the demo: the team, the pulse (0-based) after which it
/// was made, the dimension, the words, and whether it was done two pulses later.
struct DemoPlan {
    team: &'static str,
    after_round: i64,
    dimension: Dimension,
    action: &'static str,
    done: bool,
}

// Teams whose results were released at the pulse of the commitment and at
// several after it, so the effect can be seen.
const PLANS: [DemoPlan; 5] = [
    DemoPlan {
        team: "Infrastructure",
        after_round: 2,
        dimension: Dimension::PsychologicalSafety,
        action: "Blameless review after every incident, led by someone other than me",
        done: true,
    },
    DemoPlan {
        team: "DACH",
        after_round: 4,
        dimension: Dimension::Clarity,
        action: "Write every decision down in the team channel on the day it is made",
        done: true,
    },
    DemoPlan {
        team: "Analytics",
        after_round: 5,
        dimension: Dimension::Feedback,
        action: "A 30-minute retro every second Friday",
        done: true,
    },
    DemoPlan {
        team: MANAGER_TEAM,
        after_round: 6,
        dimension: Dimension::Wellbeing,
        action: "No meetings on Wednesday afternoons",
        done: true,
    },
    DemoPlan {
        team: MANAGER_TEAM,
        after_round: ROUNDS - 1,
        dimension: Dimension::Trust,
        action: "Weekly 1:1s with everyone, 30 minutes, their agenda first",
        done: false,
    },
];

/// How much a dimension a leader committed to improves per pulse after the
/// commitment, and for how many pulses.
const PLAN_GAIN_PER_ROUND: f64 = 0.25;
const PLAN_GAIN_ROUNDS: i64 = 4;
/// How far a team's dimension strays from the team's own climate, either way.
const DIMENSION_SPREAD: f64 = 0.7;

const COMMENTS: [&str; 10] = [
    "Planning meetings run long and the decisions get lost afterwards.",
    "I appreciate that mistakes are discussed without blame.",
    "Too many priorities at once this sprint; hard to say no.",
    "Our retro actually changed something this time, thank you.",
    "I would like more honest feedback on my work, not just praise.",
    "The on-call weeks are draining and nobody talks about it.",
    "It feels safer to ask questions in the team chat than in meetings.",
    "Good collaboration with the other teams lately.",
    "Not always clear who decides what.",
    "The team lunches help a lot with getting to know each other.",
];

/// What `safepulse demo` prints when it is done.
#[derive(Debug)]
pub struct DemoSummary {
    pub teams: usize,
    pub people: usize,
    pub rounds: usize,
    pub answers: usize,
    pub hr_email: String,
    pub manager_email: String,
}

pub async fn build_demo(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<DemoSummary> {
    // The organisation and the survey in one transaction: committed, or not there.
    let transaction = state.store.begin_write().await?;
    let db = &transaction;
    if !org::all_teams(db).await?.is_empty() {
        bail!(
            "the database already holds an organisation; run the demo on an empty data directory (--data-dir)"
        );
    }
    let mut rng = StdRng::seed_from_u64(2026);
    let first_opening = now - Duration::days(ROUNDS * DAYS_BETWEEN_ROUNDS);
    let mut organisation = create_teams_and_people(db, &mut rng, first_opening).await?;
    add_hr(db, &mut organisation, first_opening).await?;
    let dimension_offsets = dimension_offsets();
    let survey = create_survey(db, first_opening, organisation.team_ids[0]).await?;
    transaction.commit().await?;

    let climate = Climate {
        person_offset: &organisation.person_offset,
        team_of_person: &organisation.team_of_person,
        dimension_offsets: &dimension_offsets,
    };
    let answers_stored = run_rounds(
        state,
        survey,
        &organisation.team_ids,
        &mut rng,
        climate,
        first_opening,
    )
    .await?;
    // The history is synthetic: nobody should get a year of digests at once.
    outbox::Entity::delete_many()
        .filter(outbox::Column::Kind.eq(OutboxKind::Digest))
        .exec(state.store.connection())
        .await?;

    Ok(DemoSummary {
        teams: TEAMS.len(),
        people: organisation.people,
        rounds: ROUNDS as usize,
        answers: answers_stored,
        hr_email: "hr@demo.example".into(),
        manager_email: format!("lead.{}@demo.example", MANAGER_TEAM.to_lowercase()),
    })
}

/// The demo organisation as created: its teams, and each person's part in the
/// climate the answers are drawn from.
struct DemoOrganisation {
    team_ids: Vec<TeamId>,
    person_offset: HashMap<PersonId, f64>,
    team_of_person: HashMap<PersonId, usize>,
    people: usize,
}

/// Every team of `TEAMS` with its members and its leader.
async fn create_teams_and_people(
    db: &impl ConnectionTrait,
    rng: &mut StdRng,
    first_opening: DateTime<Utc>,
) -> anyhow::Result<DemoOrganisation> {
    let mut team_ids: Vec<TeamId> = Vec::with_capacity(TEAMS.len());
    let mut person_offset: HashMap<PersonId, f64> = HashMap::new();
    let mut team_of_person: HashMap<PersonId, usize> = HashMap::new();
    let mut people = 0;
    for (index, demo) in TEAMS.iter().enumerate() {
        let team = org::create_team(
            db,
            NewTeam {
                name: Name::parse(demo.name)?,
                parent_id: demo.parent.map(|parent| team_ids[parent]),
                time_zone: TimeZone::parse(demo.time_zone).map_err(anyhow::Error::msg)?,
            },
            first_opening,
        )
        .await?;
        team_ids.push(team.id);
        let slug = demo.name.to_lowercase().replace(' ', "-");
        for member in 0..=demo.members {
            let is_leader = member == demo.members;
            let email = if is_leader {
                format!("lead.{slug}@demo.example")
            } else {
                format!("{slug}.{}@demo.example", member + 1)
            };
            let person = org::create_person(
                db,
                NewPerson {
                    email: Email::parse(&email).map_err(anyhow::Error::msg)?,
                    name: Name::parse(&if is_leader {
                        format!("Lead of {}", demo.name)
                    } else {
                        format!("{} member {}", demo.name, member + 1)
                    })?,
                    team_id: Some(team.id),
                    locale: if demo.time_zone == BERLIN && member % 3 == 0 {
                        Locale::De
                    } else {
                        Locale::En
                    },
                    time_zone: None,
                },
                first_opening,
            )
            .await?;
            if is_leader {
                org::add_leader(db, team.id, person.id).await?;
            }
            person_offset.insert(person.id, rng.random_range(-0.6..0.6));
            team_of_person.insert(person.id, index);
            people += 1;
        }
    }
    Ok(DemoOrganisation {
        team_ids,
        person_offset,
        team_of_person,
        people,
    })
}

/// The hr person, in the People team.
async fn add_hr(
    db: &impl ConnectionTrait,
    organisation: &mut DemoOrganisation,
    first_opening: DateTime<Utc>,
) -> anyhow::Result<()> {
    let people_team = organisation.team_ids[10];
    let hr = org::create_person(
        db,
        NewPerson {
            email: Email::parse("hr@demo.example").map_err(anyhow::Error::msg)?,
            name: Name::parse("People partner")?,
            team_id: Some(people_team),
            locale: Locale::En,
            time_zone: None,
        },
        first_opening,
    )
    .await?;
    org::grant_role(db, hr.id, "hr", first_opening).await?;
    organisation.person_offset.insert(hr.id, 0.3);
    organisation.team_of_person.insert(hr.id, 10);
    organisation.people += 1;
    Ok(())
}

/// Each team's offset per dimension.
fn dimension_offsets() -> Vec<HashMap<Dimension, f64>> {
    // Strong and weak spots: a fixed draw per team and dimension from a generator
    // of its own, so the answers' generator draws exactly as before.
    let mut spots = StdRng::seed_from_u64(13);
    TEAMS
        .iter()
        .map(|_| {
            Dimension::ALL
                .into_iter()
                .map(|dimension| {
                    (
                        dimension,
                        spots.random_range(-DIMENSION_SPREAD..DIMENSION_SPREAD),
                    )
                })
                .collect()
        })
        .collect()
}

/// The demo's one survey, over the whole organisation.
async fn create_survey(
    db: &impl ConnectionTrait,
    first_opening: DateTime<Utc>,
    root: TeamId,
) -> anyhow::Result<surveys::SurveyWithTeams> {
    let settings = SurveySettings::starting_on(first_opening.date_naive());
    let survey = surveys::create_survey(
        db,
        NewSurvey {
            name: Name::parse("Acme team pulse")?,
            team_ids: vec![root],
            include_subteams: true,
            settings: serde_json::to_value(&settings)?,
            k: 5,
            k_detail: 10,
            restricted_release: "suppressed".into(),
            draft: false,
        },
        first_opening,
    )
    .await?;
    Ok(survey)
}

/// Every round of the year, opened, answered and closed through the real path,
/// with the leaders' plans after each. Returns the answers stored.
async fn run_rounds(
    state: &AppState,
    survey: surveys::SurveyWithTeams,
    team_ids: &[TeamId],
    rng: &mut StdRng,
    climate: Climate<'_>,
    first_opening: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut answers_stored = 0;
    let mut plan_ids: HashMap<usize, CommitmentId> = HashMap::new();
    let host = state.config.mail_host();
    for round_index in 0..ROUNDS {
        let opened_at = first_opening + Duration::days(round_index * DAYS_BETWEEN_ROUNDS);
        let outcome = rounds::open_round(
            &state.store,
            &state.bank,
            &state.keys,
            survey.survey.id,
            OpenRequest::Now,
            opened_at,
            &host,
            state.recording_check(),
        )
        .await
        .context("opening a demo round")?;
        let (OpenOutcome::Opened(round) | OpenOutcome::AlreadyOpened(round)) = outcome;
        answers_stored += answer_round(state, &round, rng, climate, round_index).await?;
        let closed_at = opened_at + Duration::days(4);
        rounds::close_round(
            &state.store,
            &state.bank,
            &state.keys,
            rounds::CloseRequest {
                round_id: round.id,
                now: closed_at,
                retention: state.config.raw_retention(),
                report_base_url: state.config.public_url_trimmed(),
                mail_host: &host,
            },
        )
        .await
        .context("closing a demo round")?;
        record_plans(
            state,
            team_ids,
            &mut plan_ids,
            round.id,
            round_index,
            closed_at,
        )
        .await?;
    }
    Ok(answers_stored)
}

/// The leaders' commitments after the pulse `round_index` closed, and the ones two
/// pulses old marked done, through the store functions the dashboard and the API
/// use (audited as the leader).
async fn record_plans(
    state: &AppState,
    team_ids: &[TeamId],
    plan_ids: &mut HashMap<usize, CommitmentId>,
    round_id: RoundId,
    round_index: i64,
    closed_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let leader_of = |team: &str| {
        format!(
            "lead.{}@demo.example",
            team.to_lowercase().replace(' ', "-")
        )
    };
    for (number, plan) in PLANS
        .iter()
        .enumerate()
        .filter(|(_, plan)| plan.after_round == round_index)
    {
        let index = TEAMS
            .iter()
            .position(|team| team.name == plan.team)
            .context("a demo plan names a demo team")?;
        let created = commitments::create(
            &state.store,
            &leader_of(plan.team),
            team_ids[index],
            round_id,
            CommitmentFields {
                dimension: plan.dimension.as_str().to_owned(),
                action: plan.action.to_owned(),
                due_on: (closed_at + Duration::days(28)).date_naive(),
            },
            closed_at,
        )
        .await?;
        plan_ids.insert(number, created.id);
    }
    for (number, plan) in PLANS.iter().enumerate() {
        if let Some(id) = plan_ids.get(&number)
            && plan.done
            && plan.after_round + 2 == round_index
        {
            commitments::update(
                &state.store,
                &leader_of(plan.team),
                *id,
                CommitmentChange {
                    fields: None,
                    done: Some(true),
                },
                closed_at,
            )
            .await?;
        }
    }
    Ok(())
}

/// What a person's answers lean to, besides chance.
#[derive(Clone, Copy)]
struct Climate<'a> {
    person_offset: &'a HashMap<PersonId, f64>,
    team_of_person: &'a HashMap<PersonId, usize>,
    /// Per team: each dimension's distance from the team's own climate.
    dimension_offsets: &'a [HashMap<Dimension, f64>],
}

impl Climate<'_> {
    /// The climate of `person` on `dimension` in pulse `round_index`: their team's
    /// baseline and drift, their own leaning, the dimension's strong or weak spot,
    /// and what a commitment on it has done since.
    fn of(&self, person: PersonId, dimension: Dimension, round_index: i64) -> f64 {
        let index = self.team_of_person[&person];
        let team = &TEAMS[index];
        let gain: f64 = PLANS
            .iter()
            .filter(|plan| plan.team == team.name && plan.dimension == dimension)
            .map(|plan| {
                (round_index - plan.after_round).clamp(0, PLAN_GAIN_ROUNDS) as f64
                    * PLAN_GAIN_PER_ROUND
            })
            .sum();
        team.baseline
            + team.drift_per_round * round_index as f64
            + self.person_offset[&person]
            + self.dimension_offsets[index][&dimension]
            + gain
    }
}

/// Everyone answers with probability 0.7–0.95, through the real submit path.
async fn answer_round(
    state: &AppState,
    round: &round::Model,
    rng: &mut StdRng,
    climate: Climate<'_>,
    round_index: i64,
) -> anyhow::Result<usize> {
    let db = state.store.connection();
    let items: Vec<ItemId> = round_item::Entity::find()
        .filter(round_item::Column::RoundId.eq(round.id))
        .order_by_asc(round_item::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|row| ItemId(row.item_id))
        .collect();
    let round_key = state.keys.round_key(round.id, &round.key_id)?;
    let mut invitations = invitation::Entity::find()
        .filter(invitation::Column::RoundId.eq(round.id))
        .all(db)
        .await?;
    // By email, so the seeded generator gives every run the same answers: ids are
    // random, and the database returns rows in id order.
    let emails: HashMap<PersonId, String> = person::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|person| (person.id, person.email))
        .collect();
    invitations.sort_by(|a, b| emails[&a.person_id].cmp(&emails[&b.person_id]));
    let participation = rng.random_range(0.7..0.95);
    let mut stored = 0;
    for invitation in invitations {
        let team = &TEAMS[climate.team_of_person[&invitation.person_id]];
        // The team the demo's manager leads answers in full every round: a team
        // whose count changes from round to round can have its results withheld
        // (Rule D), and the demo is there to show a manager their results.
        if team.name != MANAGER_TEAM && !rng.random_bool(participation) {
            continue;
        }
        let mut values = Vec::with_capacity(items.len());
        for item in &items {
            let meta = state
                .bank
                .meta(item)
                .context("round items come from the bank")?;
            let leaning = climate.of(invitation.person_id, meta.dimension, round_index);
            let noise: f64 = rng.random_range(-1.0..1.0);
            let value = if meta.dimension == Dimension::Recommendation {
                ((leaning - 1.0) / 6.0 * 10.0 + noise * 1.5)
                    .round()
                    .clamp(0.0, 10.0)
            } else {
                let agreement = (leaning + noise).round().clamp(1.0, 7.0);
                if meta.reverse_keyed {
                    8.0 - agreement
                } else {
                    agreement
                }
            };
            values.push(value as u8);
        }
        let comment = rng
            .random_bool(0.15)
            .then(|| COMMENTS[rng.random_range(0..COMMENTS.len())].to_owned());
        let token = round_key.link_token(invitation.id);
        answers::submit(
            &state.store,
            &state.keys,
            &token,
            ValidAnswer { values, comment },
        )
        .await?;
        stored += 1;
    }
    Ok(stored)
}
