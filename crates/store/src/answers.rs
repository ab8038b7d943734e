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
use safepulse_domain::{ItemId, NodeId, RoundId};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryTrait, Set, Statement,
};
use uuid::Uuid;

use crate::entities::{invitation, open_comment, open_response, round};
use crate::keyring::KeyChain;
use crate::{Store, StoreError};

/// What a link leads to, read without touching anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedInvitation {
    pub round_id: RoundId,
    pub node_id: NodeId,
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
    pub round_id: RoundId,
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
/// (a row per item), because every POST asks before it submits; it never reads the
/// person invited.
pub async fn answer_page_round(
    db: &impl ConnectionTrait,
    token: &LinkToken,
) -> Result<Option<AnswerPageRound>, StoreError> {
    let rows = read_answer_page(db, token, "", "").await?;
    rows.first().map(|row| page_round(row, &rows)).transpose()
}

/// How the invited person reads: their locale and time zone (their own, else their
/// team's). Only the form (GET) asks, to speak the person's language; the submit
/// path never reads the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespondentLanguage {
    pub locale: String,
    /// `None` for a person with neither a time zone nor a team.
    pub time_zone: Option<String>,
}

/// What the form (GET) shows: [`answer_page_round`] and the invited person's
/// language, in the same one statement.
pub async fn answer_form_round(
    db: &impl ConnectionTrait,
    token: &LinkToken,
) -> Result<Option<(AnswerPageRound, RespondentLanguage)>, StoreError> {
    let rows = read_answer_page(
        db,
        token,
        ", p.locale, COALESCE(p.time_zone, t.time_zone) AS time_zone",
        "JOIN people p ON p.id = i.person_id LEFT JOIN teams t ON t.id = p.team_id",
    )
    .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let language = RespondentLanguage {
        locale: row.try_get("", "locale")?,
        time_zone: row.try_get("", "time_zone")?,
    };
    Ok(Some((page_round(row, &rows)?, language)))
}

/// The answer page's statement, with `more_columns` and `more_joins` for the form.
async fn read_answer_page(
    db: &impl ConnectionTrait,
    token: &LinkToken,
    more_columns: &str,
    more_joins: &str,
) -> Result<Vec<sea_orm::QueryResult>, StoreError> {
    let backend = db.get_database_backend();
    Ok(db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT i.round_id, r.k, r.k_detail, r.restricted_release, r.closes_at, \
                        s.name AS survey_name, \
                        n.name AS node_name, n.kind AS node_kind, n.invited AS node_invited, \
                        ri.item_id{more_columns} \
                 FROM invitations i \
                 JOIN rounds r ON r.id = i.round_id \
                 JOIN surveys s ON s.id = r.survey_id \
                 JOIN round_nodes n ON n.round_id = i.round_id AND n.node_id = i.node_id \
                 JOIN round_items ri ON ri.round_id = i.round_id \
                 {more_joins} \
                 WHERE i.lookup = $1 AND r.status = 'open' \
                 ORDER BY ri.position"
            ),
            [token.lookup().0.to_vec().into()],
        ))
        .await?)
}

/// The round of the answer page from its statement's rows (`row` is the first).
fn page_round(
    row: &sea_orm::QueryResult,
    rows: &[sea_orm::QueryResult],
) -> Result<AnswerPageRound, StoreError> {
    let count = |column: &str| -> Result<u32, StoreError> {
        let value: i32 = row.try_get("", column)?;
        Ok(u32::try_from(value).unwrap_or(0))
    };
    Ok(AnswerPageRound {
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
    })
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

/// Stores answers that arrived together with **one** durable commit (group commit:
/// one fsync for all of them), following DESIGN §2 "Submit" for each:
/// 1. find each link's invitation and open round by lookup — one statement that
///    locks nothing;
/// 2. compute each ballot in memory (the round key comes from the keyring, never
///    from the database) and seal the answers and comments, **in random order**, so
///    that neither row order nor row ids show who answered before whom within the
///    batch;
/// 3. write, in one transaction in which each round is open and each invitation
///    exists (its person may have been erased meanwhile): the answers `ON CONFLICT
///    (ballot) DO NOTHING`, then the comments of the answers accepted. On
///    PostgreSQL the write is one statement that checks both again, reading the
///    rounds `FOR SHARE` so that closing waits for this write and this write for
///    closing ([`write_in_one_statement`]: one round trip). On SQLite the links are
///    found inside the `BEGIN IMMEDIATE` transaction, which already excludes the
///    closing one ([`write_in_transaction`]).
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
    let tokens = || batch.iter().map(|submission| &submission.token);
    match store.backend() {
        crate::Backend::Postgres => {
            let links = find_links(store.connection(), tokens()).await?;
            let sealed = SealedBatch::seal(keys, &batch, &links);
            let written = if sealed.answers.is_empty() {
                Written::default()
            } else {
                write_in_one_statement(store.connection(), &sealed.answers).await?
            };
            Ok(sealed.outcomes(&written))
        }
        crate::Backend::Sqlite => {
            // One connection for the whole batch: with a small pool full of readers,
            // a writer that queued twice (read, then write) would wait twice.
            let transaction = store.begin_write().await?;
            let links = find_links(&transaction, tokens()).await?;
            let sealed = SealedBatch::seal(keys, &batch, &links);
            let written = write_in_transaction(&transaction, &sealed.answers).await?;
            transaction.commit().await?;
            Ok(sealed.outcomes(&written))
        }
    }
}

/// The open round and snapshot node behind a link, and the master key id of its
/// round key.
struct LinkedRound {
    round_id: RoundId,
    node_id: NodeId,
    key_id: String,
}

/// The invitations of a batch of links whose round is open, by lookup hash, in one
/// statement. Read only: no row is locked.
async fn find_links<'a>(
    db: &impl ConnectionTrait,
    tokens: impl Iterator<Item = &'a LinkToken>,
) -> Result<HashMap<Vec<u8>, LinkedRound>, StoreError> {
    let lookups: Vec<Vec<u8>> = tokens.map(|token| token.lookup().0.to_vec()).collect();
    let backend = db.get_database_backend();
    let placeholders = placeholders(backend, 1, lookups.len());
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT i.lookup, i.round_id, i.node_id, r.key_id \
                 FROM invitations i JOIN rounds r ON r.id = i.round_id \
                 WHERE i.lookup IN ({placeholders}) AND r.status = 'open'"
            ),
            lookups.into_iter().map(sea_orm::Value::from),
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("", "lookup")?,
                LinkedRound {
                    round_id: row.try_get("", "round_id")?,
                    node_id: row.try_get("", "node_id")?,
                    key_id: row.try_get("", "key_id")?,
                },
            ))
        })
        .collect()
}

/// `count` placeholders from number `first` on, comma-separated, in the backend's
/// syntax.
fn placeholders(backend: DbBackend, first: usize, count: usize) -> String {
    (first..first + count)
        .map(|number| match backend {
            DbBackend::Postgres => format!("${number}"),
            _ => "?".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One answer ready to write: its ballot computed, answers and comment sealed.
struct SealedAnswer {
    /// The submission it came from (its position in the batch).
    index: usize,
    id: Uuid,
    lookup: Vec<u8>,
    round_id: RoundId,
    node_id: NodeId,
    ballot: Vec<u8>,
    sealed: Vec<u8>,
    /// The sealed comment and its row id.
    comment: Option<(Uuid, Vec<u8>)>,
}

/// A batch after step 2: the answers to write, in random order, and the outcomes
/// already known without writing (unknown link, closed round, key lost, the same
/// link twice in one batch).
struct SealedBatch {
    answers: Vec<SealedAnswer>,
    known: Vec<Option<Result<SubmitOutcome, StoreError>>>,
}

impl SealedBatch {
    fn seal(keys: &KeyChain, batch: &[Submission], links: &HashMap<Vec<u8>, LinkedRound>) -> Self {
        let mut known: Vec<Option<Result<SubmitOutcome, StoreError>>> =
            (0..batch.len()).map(|_| None).collect();
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.shuffle(&mut rand::rng());
        let mut round_keys: HashMap<RoundId, RoundKey> = HashMap::new();
        let mut ballots_seen: HashSet<Vec<u8>> = HashSet::new();
        let mut answers = Vec::with_capacity(batch.len());
        for index in order {
            let Submission { token, answer } = &batch[index];
            let lookup = token.lookup().0.to_vec();
            let Some(link) = links.get(&lookup) else {
                known[index] = Some(Ok(SubmitOutcome::NotOpen));
                continue;
            };
            let round_key = match round_keys.get(&link.round_id) {
                Some(key) => key.clone(),
                None => match keys.round_key(link.round_id, &link.key_id) {
                    Ok(key) => round_keys.entry(link.round_id).or_insert(key).clone(),
                    Err(error) => {
                        known[index] = Some(Err(error.into()));
                        continue;
                    }
                },
            };
            let ballot = round_key.ballot(token).0.to_vec();
            // The same link twice in one batch: the first (in random order) counts.
            if !ballots_seen.insert(ballot.clone()) {
                known[index] = Some(Ok(SubmitOutcome::AlreadyAnswered));
                continue;
            }
            let seal = round_key.answer_seal();
            let node = link.node_id;
            answers.push(SealedAnswer {
                index,
                id: Uuid::new_v4(),
                lookup,
                round_id: link.round_id,
                node_id: link.node_id,
                ballot,
                sealed: seal.seal_answers(node, &answer.values),
                comment: answer
                    .comment
                    .as_ref()
                    .map(|comment| (Uuid::new_v4(), seal.seal_comment(node, comment))),
            });
        }
        SealedBatch { answers, known }
    }

    /// Every submission's outcome once the write committed.
    fn outcomes(self, written: &Written) -> Vec<Result<SubmitOutcome, StoreError>> {
        let mut outcomes = self.known;
        for answer in &self.answers {
            let still_open = written.open_rounds.contains(&answer.round_id)
                && written.invited.contains(&answer.lookup);
            outcomes[answer.index] = Some(Ok(if !still_open {
                SubmitOutcome::NotOpen
            } else if written.accepted.contains(&answer.id) {
                SubmitOutcome::Accepted
            } else {
                SubmitOutcome::AlreadyAnswered
            }));
        }
        outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every submission has an outcome"))
            .collect()
    }
}

/// What the write found and did: the batch's rounds still open, its links whose
/// invitation still exists, and the answers inserted (the others were answered
/// before).
#[derive(Default)]
struct Written {
    open_rounds: HashSet<RoundId>,
    invited: HashSet<Vec<u8>>,
    accepted: HashSet<Uuid>,
}

/// PostgreSQL: the whole write as one statement in its own (implicit) transaction,
/// committed durably when the statement ends — one round trip for the batch. The
/// rounds are read `FOR SHARE`; the invitations are only read (never locked, see
/// the module's rules); the answers and the comments of the accepted ones are
/// inserted in the batch's random order.
async fn write_in_one_statement(
    db: &impl ConnectionTrait,
    answers: &[SealedAnswer],
) -> Result<Written, StoreError> {
    let (sql, values) = one_statement(answers);
    let mut written = Written::default();
    for row in db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?
    {
        let what: String = row.try_get("", "what")?;
        match what.as_str() {
            "open" => written.open_rounds.insert(row.try_get("", "id")?),
            "invited" => written.invited.insert(row.try_get("", "lookup")?),
            _ => written.accepted.insert(row.try_get("", "id")?),
        };
    }
    Ok(written)
}

/// The statement of [`write_in_one_statement`] and its values: the batch as a
/// `VALUES` list in its random order (positions are our own numbers, written into
/// the text; everything else is bound).
fn one_statement(answers: &[SealedAnswer]) -> (String, Vec<sea_orm::Value>) {
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(answers.len() * 8);
    let mut rows = Vec::with_capacity(answers.len());
    let mut comment_rows = Vec::new();
    for (position, answer) in answers.iter().enumerate() {
        let first = values.len() + 1;
        rows.push(format!(
            "(${first}::uuid, ${}::bytea, ${}::uuid, ${}::uuid, ${}::bytea, ${}::bytea, {position})",
            first + 1,
            first + 2,
            first + 3,
            first + 4,
            first + 5,
        ));
        values.extend([
            answer.id.into(),
            answer.lookup.clone().into(),
            answer.round_id.into(),
            answer.node_id.into(),
            answer.ballot.clone().into(),
            answer.sealed.clone().into(),
        ]);
        if let Some((comment_id, sealed)) = &answer.comment {
            let first = values.len() + 1;
            comment_rows.push(format!(
                "(${first}::uuid, ${}::uuid, ${}::bytea, {position})",
                first + 1,
                first + 2
            ));
            values.extend([
                answer.id.into(),
                (*comment_id).into(),
                sealed.clone().into(),
            ]);
        }
    }
    let comments = if comment_rows.is_empty() {
        String::new()
    } else {
        format!(
            ", stored_comments AS ( \
               INSERT INTO open_comments (id, round_id, node_id, sealed) \
               SELECT c.id, s.round_id, s.node_id, c.sealed \
               FROM (VALUES {}) AS c (response_id, id, sealed, position) \
               JOIN submitted s ON s.id = c.response_id \
               WHERE c.response_id IN (SELECT id FROM accepted) \
               ORDER BY c.position)",
            comment_rows.join(", ")
        )
    };
    let sql = format!(
        "WITH submitted (id, lookup, round_id, node_id, ballot, sealed, position) AS ( \
           VALUES {} ), \
         open_rounds AS ( \
           SELECT id FROM rounds \
           WHERE status = 'open' AND id IN (SELECT round_id FROM submitted) \
           FOR SHARE ), \
         invited AS ( \
           SELECT lookup FROM invitations WHERE lookup IN (SELECT lookup FROM submitted) ), \
         accepted AS ( \
           INSERT INTO open_responses (id, round_id, node_id, ballot, sealed) \
           SELECT id, round_id, node_id, ballot, sealed FROM submitted \
           WHERE round_id IN (SELECT id FROM open_rounds) \
             AND lookup IN (SELECT lookup FROM invited) \
           ORDER BY position \
           ON CONFLICT (ballot) DO NOTHING \
           RETURNING id ){comments} \
         SELECT 'open' AS what, id, NULL::bytea AS lookup FROM open_rounds \
         UNION ALL SELECT 'invited', NULL::uuid, lookup FROM invited \
         UNION ALL SELECT 'accepted', id, NULL::bytea FROM accepted",
        rows.join(", ")
    );
    (sql, values)
}

/// SQLite, inside the batch's `BEGIN IMMEDIATE` transaction, which already excludes
/// the closing one and in which the links were found: every round found is still
/// open and every invitation still there; the answers, then the comments of the
/// accepted ones.
async fn write_in_transaction(
    transaction: &DatabaseTransaction,
    answers: &[SealedAnswer],
) -> Result<Written, StoreError> {
    let accepted = insert_new_responses(
        transaction,
        answers
            .iter()
            .map(|answer| open_response::ActiveModel {
                id: Set(answer.id),
                round_id: Set(answer.round_id),
                node_id: Set(answer.node_id),
                ballot: Set(answer.ballot.clone()),
                sealed: Set(answer.sealed.clone()),
            })
            .collect(),
    )
    .await?;
    let comments: Vec<open_comment::ActiveModel> = answers
        .iter()
        .filter(|answer| accepted.contains(&answer.id))
        .filter_map(|answer| {
            let (id, sealed) = answer.comment.clone()?;
            Some(open_comment::ActiveModel {
                id: Set(id),
                round_id: Set(answer.round_id),
                node_id: Set(answer.node_id),
                sealed: Set(sealed),
            })
        })
        .collect();
    if !comments.is_empty() {
        open_comment::Entity::insert_many(comments)
            .exec_without_returning(transaction)
            .await?;
    }
    Ok(Written {
        open_rounds: answers.iter().map(|answer| answer.round_id).collect(),
        invited: answers.iter().map(|answer| answer.lookup.clone()).collect(),
        accepted,
    })
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

/// The open answers and comments of a round, for closing it.
pub async fn open_rows(
    db: &impl ConnectionTrait,
    round_id: RoundId,
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
    round_id: RoundId,
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
pub async fn delete_open_rows(
    db: &impl ConnectionTrait,
    round_id: RoundId,
) -> Result<(), StoreError> {
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
    let rounds: Vec<RoundId> = round::Entity::find()
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
