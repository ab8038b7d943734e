//! The people import applied, a part of a file at a time, with a fixed number of
//! statements per few hundred rows rather than several per row.
//!
//! An import must not hold SQLite's write lock for long, since every submitted
//! answer waits for it: [`apply`] reads the teams, the people its rows name and
//! their leaderships first, decides in memory what changes, and then writes only
//! the changes, in batches. The caller keeps each transaction to a bounded number of
//! rows.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use safepulse_domain::{Email, Locale, Name, PersonId, TeamId, TimeZone};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter, Set};

use crate::entities::{audit_entry, person, team, team_leader};
use crate::{Conflict, StoreError};

/// Rows per statement: people have 10 columns, and SQLite takes at most 32,766
/// parameters a statement.
const BATCH: usize = 500;

/// One person as a file names them: their team is a path from the top
/// (`Engineering/Platform`), created as needed.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedPerson {
    pub email: Email,
    pub name: Name,
    pub team_path: Vec<Name>,
    pub leads: bool,
    pub time_zone: TimeZone,
    pub locale: Locale,
}

/// What an import did, row by row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub created: usize,
    pub updated: usize,
    /// Rows that already matched the organisation: nothing was written for them.
    pub unchanged: usize,
    /// What happened to each row, in the order of `people` (the console's preview
    /// applies a file in a transaction it rolls back, and shows these).
    pub rows: Vec<RowChange>,
}

/// What [`apply`] did with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowChange {
    Created,
    Updated,
    Unchanged,
}

/// Applies `people` (distinct emails) inside the caller's transaction: creates
/// missing teams (with the time zone of the first row that names them), creates or
/// updates people, makes each the leader of their team or not, and writes the
/// audit entries of joins and moves. An existing person's `active` flag, roles and
/// other leaderships are left alone.
pub async fn apply(
    db: &impl ConnectionTrait,
    people: &[ImportedPerson],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ImportCounts, StoreError> {
    let mut teams = TeamPaths::load(db).await?;
    let existing = existing_people(db, people).await?;
    let leaderships = leaderships_of(db, existing.values().map(|person| person.id)).await?;

    let changes = decide(people, &mut teams, &existing, &leaderships, now)?;
    write(db, &teams.created, changes, actor, now).await
}

/// What an import changes, decided in memory before anything is written.
struct Changes {
    counts: ImportCounts,
    inserts: Vec<person::ActiveModel>,
    updates: Vec<person::ActiveModel>,
    new_leaders: Vec<team_leader::ActiveModel>,
    former_leaders: Vec<(TeamId, PersonId)>,
    /// (action, team, person) of each membership change.
    audit: Vec<(&'static str, TeamId, PersonId)>,
}

/// Each row against the people and leaderships read: created, updated or
/// unchanged, and the teams its path adds.
fn decide(
    people: &[ImportedPerson],
    teams: &mut TeamPaths,
    existing: &HashMap<String, person::Model>,
    leaderships: &HashSet<(TeamId, PersonId)>,
    now: DateTime<Utc>,
) -> Result<Changes, StoreError> {
    let mut counts = ImportCounts::default();
    let mut inserts = Vec::new();
    let mut updates = Vec::new();
    let mut new_leaders = Vec::new();
    let mut former_leaders = Vec::new();
    let mut audit = Vec::new();
    let joined = |team_id: TeamId, person_id: PersonId| ("membership.joined", team_id, person_id);
    for row in people {
        let team_id = teams.resolve(&row.team_path, row.time_zone, now)?;
        let time_zone = Some(row.time_zone.name().to_owned());
        let (person_id, leads_now) = match existing.get(row.email.as_str()) {
            Some(current) => {
                let changed = current.name != row.name.as_str()
                    || current.team_id != Some(team_id)
                    || current.locale != row.locale.as_str()
                    || current.time_zone != time_zone;
                let leads_now = leaderships.contains(&(team_id, current.id));
                if changed {
                    let mut model: person::ActiveModel = current.clone().into();
                    model.name = Set(row.name.as_str().to_owned());
                    model.team_id = Set(Some(team_id));
                    model.locale = Set(row.locale.as_str().to_owned());
                    model.time_zone = Set(time_zone);
                    model.updated_at = Set(now);
                    updates.push(model);
                    if current.team_id != Some(team_id) {
                        if let Some(former) = current.team_id {
                            audit.push(("membership.left", former, current.id));
                        }
                        audit.push(joined(team_id, current.id));
                    }
                }
                if changed || leads_now != row.leads {
                    counts.updated += 1;
                    counts.rows.push(RowChange::Updated);
                } else {
                    counts.unchanged += 1;
                    counts.rows.push(RowChange::Unchanged);
                }
                (current.id, leads_now)
            }
            None => {
                let id = PersonId::random();
                inserts.push(person::ActiveModel {
                    id: Set(id),
                    email: Set(row.email.as_str().to_owned()),
                    name: Set(row.name.as_str().to_owned()),
                    team_id: Set(Some(team_id)),
                    locale: Set(row.locale.as_str().to_owned()),
                    time_zone: Set(time_zone),
                    active: Set(true),
                    undeliverable: Set(false),
                    created_at: Set(now),
                    updated_at: Set(now),
                });
                audit.push(joined(team_id, id));
                counts.created += 1;
                counts.rows.push(RowChange::Created);
                (id, false)
            }
        };
        match (leads_now, row.leads) {
            (false, true) => new_leaders.push(team_leader::ActiveModel {
                team_id: Set(team_id),
                person_id: Set(person_id),
            }),
            (true, false) => former_leaders.push((team_id, person_id)),
            _ => {}
        }
    }
    Ok(Changes {
        counts,
        inserts,
        updates,
        new_leaders,
        former_leaders,
        audit,
    })
}

/// The changes written in batches: new teams, new and changed people, leaderships
/// and the audit entries.
async fn write(
    db: &impl ConnectionTrait,
    created_teams: &[team::ActiveModel],
    changes: Changes,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ImportCounts, StoreError> {
    let Changes {
        counts,
        inserts,
        updates,
        new_leaders,
        former_leaders,
        audit,
    } = changes;
    for batch in created_teams.chunks(BATCH) {
        team::Entity::insert_many(batch.iter().cloned())
            .exec_without_returning(db)
            .await?;
    }
    for batch in inserts.chunks(BATCH) {
        person::Entity::insert_many(batch.iter().cloned())
            .exec_without_returning(db)
            .await?;
    }
    // An update is an upsert of the whole row on its email, so a batch of them is one
    // statement; every row in it exists.
    for batch in updates.chunks(BATCH) {
        person::Entity::insert_many(batch.iter().cloned())
            .on_conflict(
                OnConflict::column(person::Column::Email)
                    .update_columns([
                        person::Column::Name,
                        person::Column::TeamId,
                        person::Column::Locale,
                        person::Column::TimeZone,
                        person::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    for batch in new_leaders.chunks(BATCH) {
        team_leader::Entity::insert_many(batch.iter().cloned())
            .on_conflict(
                OnConflict::columns([team_leader::Column::TeamId, team_leader::Column::PersonId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    for (team_id, person_id) in former_leaders {
        team_leader::Entity::delete_by_id((team_id, person_id))
            .exec(db)
            .await?;
    }
    let entries: Vec<audit_entry::ActiveModel> = audit
        .into_iter()
        .map(|(action, team_id, person_id)| audit_entry::ActiveModel {
            id: NotSet,
            at: Set(now),
            actor: Set(actor.to_owned()),
            action: Set(action.to_owned()),
            team_id: Set(Some(team_id)),
            target: Set(Some(person_id.to_string())),
            details: Set(serde_json::json!({ "source": "import" })),
        })
        .collect();
    for batch in entries.chunks(BATCH) {
        audit_entry::Entity::insert_many(batch.iter().cloned())
            .exec_without_returning(db)
            .await?;
    }
    Ok(counts)
}

/// The team tree by (parent, name), with the teams this import adds.
struct TeamPaths {
    by_parent_and_name: HashMap<(Option<TeamId>, String), TeamId>,
    created: Vec<team::ActiveModel>,
}

impl TeamPaths {
    async fn load(db: &impl ConnectionTrait) -> Result<TeamPaths, StoreError> {
        let by_parent_and_name = team::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|team| ((team.parent_id, team.name), team.id))
            .collect();
        Ok(TeamPaths {
            by_parent_and_name,
            created: Vec::new(),
        })
    }

    /// The team at `path`, created (in memory, parents first) when missing.
    fn resolve(
        &mut self,
        path: &[Name],
        time_zone: TimeZone,
        now: DateTime<Utc>,
    ) -> Result<TeamId, StoreError> {
        let mut parent = None;
        for name in path {
            let key = (parent, name.as_str().to_owned());
            let id = match self.by_parent_and_name.get(&key) {
                Some(&id) => id,
                None => {
                    let id = TeamId::random();
                    self.created.push(team::ActiveModel {
                        id: Set(id),
                        name: Set(name.as_str().to_owned()),
                        parent_id: Set(parent),
                        time_zone: Set(time_zone.name().to_owned()),
                        created_at: Set(now),
                        updated_at: Set(now),
                    });
                    self.by_parent_and_name.insert(key, id);
                    id
                }
            };
            parent = Some(id);
        }
        parent.ok_or(StoreError::Conflict(Conflict::EmptyTeamPath))
    }
}

async fn existing_people(
    db: &impl ConnectionTrait,
    people: &[ImportedPerson],
) -> Result<HashMap<String, person::Model>, StoreError> {
    let mut existing = HashMap::new();
    for batch in people.chunks(BATCH) {
        let emails = batch.iter().map(|row| row.email.as_str().to_owned());
        for person in person::Entity::find()
            .filter(person::Column::Email.is_in(emails))
            .all(db)
            .await?
        {
            existing.insert(person.email.clone(), person);
        }
    }
    Ok(existing)
}

async fn leaderships_of(
    db: &impl ConnectionTrait,
    people: impl Iterator<Item = PersonId>,
) -> Result<HashSet<(TeamId, PersonId)>, StoreError> {
    let ids: Vec<PersonId> = people.collect();
    let mut leaderships = HashSet::new();
    for batch in ids.chunks(BATCH) {
        for row in team_leader::Entity::find()
            .filter(team_leader::Column::PersonId.is_in(batch.iter().copied()))
            .all(db)
            .await?
        {
            leaderships.insert((row.team_id, row.person_id));
        }
    }
    Ok(leaderships)
}
