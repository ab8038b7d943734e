//! The answer path: finding an invitation by its link, and the submit transaction
//! of DESIGN §2, step by step.
//!
//! What this code must never do, and why:
//! - lock, update or reference the invitation row while storing an answer: on
//!   PostgreSQL a row lock writes the submitter's transaction id into the
//!   invitation's `xmax`, which the answer's `xmin` would then match;
//! - store anything about the answer but round, snapshot node, ballot and the
//!   answers sealed under the round key (plaintext would show, in the table's
//!   physical order, what was answered when);
//! - let a uniqueness violation reach a log: a second answer is `ON CONFLICT DO
//!   NOTHING` and reported as [`SubmitOutcome::AlreadyAnswered`].

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;
use safepulse_domain::keys::{LinkToken, RoundKey};
use safepulse_domain::{ItemId, NodeId};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryTrait, Set, Statement,
};
use uuid::Uuid;

use crate::entities::{invitation, open_comment, open_response, round};
use crate::keyring::KeyChain;
use crate::{Store, StoreError};

/// What a link leads to, read without touching anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedInvitation {
    pub round_id: Uuid,
    pub node_id: Uuid,
}

/// Finds the invitation of a link token by its lookup hash. Read only. `None` for a
/// token that never existed and for one whose round has closed (lookups are nulled
/// at close): callers answer both the same way.
pub async fn find_invitation(
    db: &impl ConnectionTrait,
    token: &LinkToken,
) -> Result<Option<LinkedInvitation>, StoreError> {
    let lookup = token.lookup();
    Ok(invitation::Entity::find()
        .filter(invitation::Column::Lookup.eq(lookup.0.to_vec()))
        .one(db)
        .await?
        .map(|row| LinkedInvitation {
            round_id: row.round_id,
            node_id: row.node_id,
        }))
}

/// What the answer page shows for a link of an open round: the survey, the
/// thresholds it promises, when it closes, the snapshot node the answer will count
/// in, and the round's items in order. Nothing about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerPageRound {
    pub round_id: Uuid,
    pub survey_name: String,
    pub k: u32,
    pub k_detail: u32,
    /// `suppressed` or `rounded`: what a group's results become when comparing them
    /// with an earlier round could single someone out (shown to respondents).
    pub restricted_release: String,
    pub closes_at: DateTime<Utc>,
    pub node_name: String,
    /// `team`, `leadership` or `root` (`round_nodes.kind`).
    pub node_kind: String,
    /// People invited directly into the node ("sent to N people in ⟨team⟩").
    pub node_invited: u32,
    /// Item ids in the round's order: the order of the stored answers.
    pub item_ids: Vec<ItemId>,
}

/// The round behind a link, if the link is known and its round is open. Read only,
/// so a mail scanner opening the link changes nothing. `None` for an unknown token
/// and for a closed round alike (the page must not tell them apart). One statement
/// (a row per item), because every POST asks before it submits.
pub async fn answer_page_round(
    db: &impl ConnectionTrait,
    token: &LinkToken,
) -> Result<Option<AnswerPageRound>, StoreError> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            "SELECT i.round_id, r.k, r.k_detail, r.restricted_release, r.closes_at, \
                    s.name AS survey_name, \
                    n.name AS node_name, n.kind AS node_kind, n.invited AS node_invited, \
                    ri.item_id \
             FROM invitations i \
             JOIN rounds r ON r.id = i.round_id \
             JOIN surveys s ON s.id = r.survey_id \
             JOIN round_nodes n ON n.round_id = i.round_id AND n.node_id = i.node_id \
             JOIN round_items ri ON ri.round_id = i.round_id \
             WHERE i.lookup = $1 AND r.status = 'open' \
             ORDER BY ri.position",
            [token.lookup().0.to_vec().into()],
        ))
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let count = |column: &str| -> Result<u32, StoreError> {
        let value: i32 = row.try_get("", column)?;
        Ok(u32::try_from(value).unwrap_or(0))
    };
    Ok(Some(AnswerPageRound {
        round_id: row.try_get("", "round_id")?,
        survey_name: row.try_get("", "survey_name")?,
        k: count("k")?,
        k_detail: count("k_detail")?,
        restricted_release: row.try_get("", "restricted_release")?,
        closes_at: row.try_get("", "closes_at")?,
        node_name: row.try_get("", "node_name")?,
        node_kind: row.try_get("", "node_kind")?,
        node_invited: count("node_invited")?,
        item_ids: rows
            .iter()
            .map(|item| item.try_get("", "item_id").map(ItemId))
            .collect::<Result<_, _>>()?,
    }))
}

/// How the invited person reads: their locale and time zone (their own, else their
/// team's). Only the form (GET) asks, to speak the person's language; the submit
/// path never reads the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespondentLanguage {
    pub locale: String,
    pub time_zone: String,
}

pub async fn respondent_language(
    db: &impl ConnectionTrait,
    token: &LinkToken,
) -> Result<Option<RespondentLanguage>, StoreError> {
    let backend = db.get_database_backend();
    let Some(row) = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "SELECT p.locale, COALESCE(p.time_zone, t.time_zone) AS time_zone \
             FROM invitations i \
             JOIN people p ON p.id = i.person_id \
             JOIN teams t ON t.id = p.team_id \
             WHERE i.lookup = $1",
            [token.lookup().0.to_vec().into()],
        ))
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(RespondentLanguage {
        locale: row.try_get("", "locale")?,
        time_zone: row.try_get("", "time_zone")?,
    }))
}

/// How a submit ended. None of these is an error for the respondent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitOutcome {
    Accepted,
    AlreadyAnswered,
    /// The round closed (or the link is unknown): late answers are refused.
    NotOpen,
}

/// A validated answer, ready to store: recoding and validation happened at the edge.
#[derive(Clone)]
pub struct ValidAnswer {
    /// The answers in the round's item order, one byte each (scales run 0–10).
    pub values: Vec<u8>,
    pub comment: Option<String>,
}

impl std::fmt::Debug for ValidAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print an answer, even in a debug log.
        f.write_str("ValidAnswer(..)")
    }
}

/// One answer to store: the link it came through and what was answered.
#[derive(Clone)]
pub struct Submission {
    pub token: LinkToken,
    pub answer: ValidAnswer,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a link or an answer.
        f.write_str("Submission(..)")
    }
}

/// Stores one answer: [`submit_batch`] with a batch of one.
pub async fn submit(
    store: &Store,
    keys: &KeyChain,
    token: &LinkToken,
    answer: ValidAnswer,
) -> Result<SubmitOutcome, StoreError> {
    let batch = vec![Submission {
        token: token.clone(),
        answer,
    }];
    let mut outcomes = submit_batch(store, keys, batch).await?;
    outcomes.pop().expect("one outcome per submission")
}

/// Stores answers that arrived together in **one** write transaction (group commit:
/// one fsync for all of them), following DESIGN §2 "Submit" for each:
/// 1. find the invitations by lookup — read only, one statement;
/// 2. read each round concerned under a shared lock (`FOR SHARE` on PostgreSQL;
///    SQLite's `BEGIN IMMEDIATE` already excludes the closing transaction) and
///    check it is open;
/// 3. compute each ballot in memory (the round key comes from the keyring, never
///    from the database), seal the answers, and insert them all in one statement
///    `ON CONFLICT (ballot) DO NOTHING`, **in random order**, so that neither row
///    order nor row ids show who answered before whom within the batch;
/// 4. seal and insert the comments of the accepted answers, commit.
///
/// Returns one outcome per submission, in the order given, only after the commit:
/// `Accepted` always means durable. A submission whose round key cannot be had
/// gets its own error and stores nothing; a database error fails the whole batch
/// (nothing of it is stored), and the caller decides whether to retry.
pub async fn submit_batch(
    store: &Store,
    keys: &KeyChain,
    batch: Vec<Submission>,
) -> Result<Vec<Result<SubmitOutcome, StoreError>>, StoreError> {
    let mut outcomes: Vec<Option<Result<SubmitOutcome, StoreError>>> =
        (0..batch.len()).map(|_| None).collect();
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.shuffle(&mut rand::rng());

    let transaction = store.begin_write().await?;
    let invitations = find_invitations(
        &transaction,
        batch.iter().map(|submission| &submission.token),
    )
    .await?;
    let Sealed { responses, pending } = seal_answers(
        &transaction,
        keys,
        &batch,
        order,
        &invitations,
        &mut outcomes,
    )
    .await?;

    let inserted = insert_new_responses(&transaction, responses).await?;
    let mut comments = Vec::new();
    for (id, (index, comment)) in pending {
        if inserted.contains(&id) {
            outcomes[index] = Some(Ok(SubmitOutcome::Accepted));
            comments.extend(comment);
        } else {
            outcomes[index] = Some(Ok(SubmitOutcome::AlreadyAnswered));
        }
    }
    if !comments.is_empty() {
        open_comment::Entity::insert_many(comments)
            .exec_without_returning(&transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(outcomes
        .into_iter()
        .map(|outcome| outcome.expect("every submission has an outcome"))
        .collect())
}

/// A batch's answers sealed and ready to insert, before the insert decides which
/// are new.
struct Sealed {
    responses: Vec<open_response::ActiveModel>,
    /// Row id of each answer → (submission, its comment row if any).
    pending: HashMap<Uuid, (usize, Option<open_comment::ActiveModel>)>,
}

/// Steps 2 and 3 for each submission, in `order` (random): its round open (read
/// once per round), its ballot computed and its answers sealed in memory. A
/// submission settled here (unknown link, closed round, missing key, the same
/// link twice) gets its outcome in `outcomes` and no row.
async fn seal_answers(
    transaction: &impl ConnectionTrait,
    keys: &KeyChain,
    batch: &[Submission],
    order: Vec<usize>,
    invitations: &HashMap<Vec<u8>, LinkedInvitation>,
    outcomes: &mut [Option<Result<SubmitOutcome, StoreError>>],
) -> Result<Sealed, StoreError> {
    let mut round_keys: HashMap<Uuid, Option<RoundKey>> = HashMap::new();
    let mut ballots_seen: HashSet<Vec<u8>> = HashSet::new();
    let mut responses = Vec::with_capacity(batch.len());
    let mut pending: HashMap<Uuid, (usize, Option<open_comment::ActiveModel>)> = HashMap::new();
    for index in order {
        let Submission { token, answer } = &batch[index];
        let Some(invitation) = invitations.get(token.lookup().0.as_slice()) else {
            outcomes[index] = Some(Ok(SubmitOutcome::NotOpen));
            continue;
        };
        let round_key = match round_keys.get(&invitation.round_id) {
            Some(known) => known.clone(),
            None => {
                let key = match open_round_key_id(transaction, invitation.round_id).await? {
                    Some(key_id) => match keys.round_key(invitation.round_id, &key_id) {
                        Ok(key) => Some(key),
                        Err(error) => {
                            outcomes[index] = Some(Err(error.into()));
                            continue;
                        }
                    },
                    None => None,
                };
                round_keys.insert(invitation.round_id, key.clone());
                key
            }
        };
        let Some(round_key) = round_key else {
            outcomes[index] = Some(Ok(SubmitOutcome::NotOpen));
            continue;
        };
        let ballot = round_key.ballot(token).0.to_vec();
        // The same link twice in one batch: the first (in random order) counts.
        if !ballots_seen.insert(ballot.clone()) {
            outcomes[index] = Some(Ok(SubmitOutcome::AlreadyAnswered));
            continue;
        }
        let seal = round_key.answer_seal();
        let node = NodeId(invitation.node_id);
        let id = Uuid::new_v4();
        responses.push(open_response::ActiveModel {
            id: Set(id),
            round_id: Set(invitation.round_id),
            node_id: Set(invitation.node_id),
            ballot: Set(ballot),
            sealed: Set(seal.seal_answers(node, &answer.values)),
        });
        let comment = answer
            .comment
            .as_ref()
            .map(|comment| open_comment::ActiveModel {
                id: Set(Uuid::new_v4()),
                round_id: Set(invitation.round_id),
                node_id: Set(invitation.node_id),
                sealed: Set(seal.seal_comment(node, comment)),
            });
        pending.insert(id, (index, comment));
    }
    Ok(Sealed { responses, pending })
}

/// The invitations behind a batch of links, by lookup hash, in one statement.
async fn find_invitations<'a>(
    db: &impl ConnectionTrait,
    tokens: impl Iterator<Item = &'a LinkToken>,
) -> Result<HashMap<Vec<u8>, LinkedInvitation>, StoreError> {
    let lookups: Vec<Vec<u8>> = tokens.map(|token| token.lookup().0.to_vec()).collect();
    Ok(invitation::Entity::find()
        .filter(invitation::Column::Lookup.is_in(lookups))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|row| {
            let lookup = row.lookup?;
            Some((
                lookup,
                LinkedInvitation {
                    round_id: row.round_id,
                    node_id: row.node_id,
                },
            ))
        })
        .collect())
}

/// Inserts answers `ON CONFLICT (ballot) DO NOTHING` in one statement, in the
/// order given; returns the ids of the rows actually inserted (the others were
/// answered before).
async fn insert_new_responses(
    db: &impl ConnectionTrait,
    responses: Vec<open_response::ActiveModel>,
) -> Result<HashSet<Uuid>, StoreError> {
    if responses.is_empty() {
        return Ok(HashSet::new());
    }
    let mut insert = open_response::Entity::insert_many(responses)
        .on_conflict_do_nothing_on([open_response::Column::Ballot])
        .into_query();
    insert.returning_col(open_response::Column::Id);
    let statement = db.get_database_backend().build(&insert);
    db.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id").map_err(StoreError::from))
        .collect()
}

/// The master key id of a round that is open, read under a shared row lock on
/// PostgreSQL so that closing waits for this transaction (and this one for closing).
async fn open_round_key_id(
    db: &impl ConnectionTrait,
    round_id: Uuid,
) -> Result<Option<String>, StoreError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT status, key_id FROM rounds WHERE id = $1 FOR SHARE",
        _ => "SELECT status, key_id FROM rounds WHERE id = ?",
    };
    let Some(row) = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [round_id.into()],
        ))
        .await?
    else {
        return Ok(None);
    };
    let status: String = row.try_get("", "status")?;
    if status == "open" {
        Ok(Some(row.try_get("", "key_id")?))
    } else {
        Ok(None)
    }
}

/// The open answers and comments of a round, for closing it.
pub async fn open_rows(
    db: &impl ConnectionTrait,
    round_id: Uuid,
) -> Result<(Vec<open_response::Model>, Vec<open_comment::Model>), StoreError> {
    let responses = open_response::Entity::find()
        .filter(open_response::Column::RoundId.eq(round_id))
        .all(db)
        .await?;
    let comments = open_comment::Entity::find()
        .filter(open_comment::Column::RoundId.eq(round_id))
        .all(db)
        .await?;
    Ok((responses, comments))
}

/// Every ballot of a round's open answers (non-responder reminders, erasure).
pub async fn open_ballots(
    db: &impl ConnectionTrait,
    round_id: Uuid,
) -> Result<Vec<Vec<u8>>, StoreError> {
    Ok(open_response::Entity::find()
        .filter(open_response::Column::RoundId.eq(round_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.ballot)
        .collect())
}

/// Deletes one open answer by ballot (erasure while a round is open).
pub async fn delete_open_answer(
    db: &impl ConnectionTrait,
    ballot: &[u8],
) -> Result<bool, StoreError> {
    let result = open_response::Entity::delete_many()
        .filter(open_response::Column::Ballot.eq(ballot.to_vec()))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Deletes a round's open answers and comments (at close).
pub async fn delete_open_rows(db: &impl ConnectionTrait, round_id: Uuid) -> Result<(), StoreError> {
    open_response::Entity::delete_many()
        .filter(open_response::Column::RoundId.eq(round_id))
        .exec(db)
        .await?;
    open_comment::Entity::delete_many()
        .filter(open_comment::Column::RoundId.eq(round_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Raw retention: deletes retained answers and comments of rounds that closed
/// before `closed_before`. Returns how many rows went.
pub async fn purge_retained(
    db: &impl ConnectionTrait,
    closed_before: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StoreError> {
    use crate::entities::{retained_comment, retained_response};
    let rounds: Vec<Uuid> = round::Entity::find()
        .filter(round::Column::ClosedAt.lt(closed_before))
        .all(db)
        .await?
        .into_iter()
        .map(|round| round.id)
        .collect();
    if rounds.is_empty() {
        return Ok(0);
    }
    let responses = retained_response::Entity::delete_many()
        .filter(retained_response::Column::RoundId.is_in(rounds.iter().copied()))
        .exec(db)
        .await?;
    let comments = retained_comment::Entity::delete_many()
        .filter(retained_comment::Column::RoundId.is_in(rounds))
        .exec(db)
        .await?;
    Ok(responses.rows_affected + comments.rows_affected)
}
