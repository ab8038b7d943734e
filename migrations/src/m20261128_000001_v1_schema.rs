//! v1: the whole product's schema.
//!
//! Read the comments on the answer tables before adding a column anywhere near them.

use sea_orm_migration::prelude::*;

use crate::dialect::execute_script;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        // SQLite runs DDL transactionally too: a failed migration leaves nothing behind.
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_script(manager, SCHEMA).await
    }
}

// No semicolons inside comments: the script is split on them.
const SCHEMA: &str = r#"
-- The organisation ------------------------------------------------------------

CREATE TABLE teams (
    id          {uuid} PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_id   {uuid} NULL REFERENCES teams (id),
    time_zone   TEXT NOT NULL,
    created_at  {ts} NOT NULL,
    updated_at  {ts} NOT NULL
);
CREATE INDEX teams_by_parent ON teams (parent_id);

CREATE TABLE people (
    id             {uuid} PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    team_id        {uuid} NOT NULL REFERENCES teams (id),
    locale         TEXT NOT NULL,
    time_zone      TEXT NULL,
    active         {bool} NOT NULL,
    undeliverable  {bool} NOT NULL,
    created_at     {ts} NOT NULL,
    updated_at     {ts} NOT NULL
);
CREATE INDEX people_by_team ON people (team_id);

CREATE TABLE team_leaders (
    team_id    {uuid} NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    person_id  {uuid} NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, person_id)
);
CREATE INDEX team_leaders_by_person ON team_leaders (person_id);

-- Who holds hr or admin. Managers are whoever leads a team.
CREATE TABLE role_grants (
    person_id   {uuid} NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'hr')),
    granted_at  {ts} NOT NULL,
    PRIMARY KEY (person_id, role)
);

-- Surveys ---------------------------------------------------------------------

CREATE TABLE surveys (
    id                {uuid} PRIMARY KEY,
    name              TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active', 'paused', 'archived')),
    include_subteams  {bool} NOT NULL,
    settings          {json} NOT NULL,
    k                 INTEGER NOT NULL CHECK (k >= 4),
    k_detail          INTEGER NOT NULL CHECK (k_detail >= 7 AND k_detail >= k),
    privacy_locked    {bool} NOT NULL,
    created_at        {ts} NOT NULL,
    updated_at        {ts} NOT NULL
);

CREATE TABLE survey_teams (
    survey_id  {uuid} NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    team_id    {uuid} NOT NULL REFERENCES teams (id),
    PRIMARY KEY (survey_id, team_id)
);

-- Rounds ----------------------------------------------------------------------

-- salt is nulled when the round closes: without it the round key, every link
-- token and every ballot of the round can never be recomputed.
CREATE TABLE rounds (
    id              {uuid} PRIMARY KEY,
    survey_id       {uuid} NOT NULL REFERENCES surveys (id),
    period_key      TEXT NOT NULL,
    round_index     INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    key_id          TEXT NOT NULL,
    salt            {bytes} NULL,
    k               INTEGER NOT NULL,
    k_detail        INTEGER NOT NULL,
    opened_at       {ts} NOT NULL,
    closes_at       {ts} NOT NULL,
    closed_at       {ts} NULL,
    invited_count   INTEGER NOT NULL,
    bounce_count    INTEGER NOT NULL DEFAULT 0,
    org_figures     {json} NULL,
    UNIQUE (survey_id, period_key)
);
CREATE INDEX rounds_by_status ON rounds (status, closes_at);

CREATE TABLE round_items (
    round_id  {uuid} NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    item_id   TEXT NOT NULL,
    PRIMARY KEY (round_id, position)
);

-- The hierarchy as it was when the round opened, including the synthetic
-- Leadership node (and a synthetic root over several top teams).
-- invited: people invited directly into the node.
-- viewers: v, invited people in the node's subtree who may read the node.
CREATE TABLE round_nodes (
    round_id        {uuid} NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    node_id         {uuid} NOT NULL,
    parent_node_id  {uuid} NULL,
    team_id         {uuid} NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('team', 'leadership', 'root')),
    name            TEXT NOT NULL,
    invited         INTEGER NOT NULL,
    viewers         INTEGER NOT NULL,
    PRIMARY KEY (round_id, node_id)
);
CREATE INDEX round_nodes_by_team ON round_nodes (team_id, round_id);

-- The readers counted in a node's v. A reader invited inside a node's subtree
-- but not counted here may not read that node's release for the round.
CREATE TABLE round_viewers (
    round_id   {uuid} NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    node_id    {uuid} NOT NULL,
    person_id  {uuid} NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (round_id, node_id, person_id)
);

-- One per person and round. lookup = SHA-256("lookup" || token), nulled at
-- close. No time column: the round says when everyone was invited.
CREATE TABLE invitations (
    id         {uuid} PRIMARY KEY,
    round_id   {uuid} NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    person_id  {uuid} NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    node_id    {uuid} NOT NULL,
    lookup     {bytes} NULL UNIQUE,
    UNIQUE (round_id, person_id)
);

CREATE TABLE round_reminders (
    round_id        {uuid} NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    reminder_index  INTEGER NOT NULL,
    queued_at       {ts} NOT NULL,
    PRIMARY KEY (round_id, reminder_index)
);

-- Participation while open, rounded down to a multiple of k, refreshed at most daily.
CREATE TABLE round_participation (
    round_id     {uuid} NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    node_id      {uuid} NOT NULL,
    respondents  INTEGER NOT NULL,
    computed_at  {ts} NOT NULL,
    PRIMARY KEY (round_id, node_id)
);

-- Answers while a round is open ---------------------------------------------
-- NEVER add a column that refers to a person, an invitation, a time or a locale.
-- ballot = HMAC(round key, "ballot" || token): unique per invitation, useless
-- without the round key, and the round key dies with the salt at close.

CREATE TABLE open_responses (
    id        {uuid} PRIMARY KEY,
    round_id  {uuid} NOT NULL REFERENCES rounds (id),
    node_id   {uuid} NOT NULL,
    ballot    {bytes} NOT NULL UNIQUE,
    answers   TEXT NOT NULL
) {without_rowid};
CREATE INDEX open_responses_by_round ON open_responses (round_id);

CREATE TABLE open_comments (
    id        {uuid} PRIMARY KEY,
    round_id  {uuid} NOT NULL REFERENCES rounds (id),
    node_id   {uuid} NOT NULL,
    body      TEXT NOT NULL
) {without_rowid};
CREATE INDEX open_comments_by_round ON open_comments (round_id);

-- Raw answers kept after close, only when raw retention is configured: the
-- atom instead of the team, no ballot, new random ids, inserted in random order.

CREATE TABLE responses (
    id        {uuid} PRIMARY KEY,
    round_id  {uuid} NOT NULL REFERENCES rounds (id),
    atom_id   {uuid} NOT NULL,
    answers   TEXT NOT NULL
) {without_rowid};
CREATE INDEX responses_by_round ON responses (round_id);

CREATE TABLE comments (
    id        {uuid} PRIMARY KEY,
    round_id  {uuid} NOT NULL REFERENCES rounds (id),
    atom_id   {uuid} NOT NULL,
    body      TEXT NOT NULL
) {without_rowid};
CREATE INDEX comments_by_round ON comments (round_id);

-- What the anonymizer released at close: frozen, never recomputed ----------

-- figures is NULL exactly when the release is suppressed.
CREATE TABLE releases (
    id        {uuid} PRIMARY KEY,
    round_id  {uuid} NOT NULL REFERENCES rounds (id),
    node_id   {uuid} NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('released', 'suppressed')),
    detail    {bool} NOT NULL,
    figures   {json} NULL,
    CHECK ((status = 'released' AND figures IS NOT NULL) OR (status = 'suppressed' AND figures IS NULL)),
    UNIQUE (round_id, node_id)
);
-- A node's trend reads its releases by node: the cost stays flat however many rounds
-- other nodes have.
CREATE INDEX releases_by_node ON releases (node_id, round_id);

-- Rule A: which atoms each release covers, per family (scores, detail).
CREATE TABLE release_ledger (
    round_id  {uuid} NOT NULL REFERENCES rounds (id),
    node_id   {uuid} NOT NULL,
    family    TEXT NOT NULL CHECK (family IN ('scores', 'detail')),
    atom_id   {uuid} NOT NULL,
    PRIMARY KEY (round_id, node_id, family, atom_id)
);

-- Sufficient statistics per atom (sums, sums of squares, histograms). Never served.
CREATE TABLE atom_statistics (
    round_id    {uuid} NOT NULL REFERENCES rounds (id),
    family      TEXT NOT NULL CHECK (family IN ('scores', 'detail')),
    atom_id     {uuid} NOT NULL,
    people      INTEGER NOT NULL,
    statistics  {json} NOT NULL,
    PRIMARY KEY (round_id, family, atom_id)
);

-- Comments released per detail atom, in shuffled order, without dates.
CREATE TABLE released_comments (
    id        {uuid} PRIMARY KEY,
    round_id  {uuid} NOT NULL REFERENCES rounds (id),
    atom_id   {uuid} NOT NULL,
    position  INTEGER NOT NULL,
    body      TEXT NOT NULL,
    UNIQUE (round_id, atom_id, position)
);

-- Email -------------------------------------------------------------------------

-- Link tokens are never stored: the worker derives them from the round key when
-- it sends, which also makes a resent email carry the same link.
CREATE TABLE outbox (
    id             {uuid} PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('invitation', 'reminder', 'digest', 'sign_in')),
    recipient      TEXT NOT NULL,
    person_id      {uuid} NULL REFERENCES people (id) ON DELETE CASCADE,
    invitation_id  {uuid} NULL REFERENCES invitations (id) ON DELETE CASCADE,
    round_id       {uuid} NULL REFERENCES rounds (id) ON DELETE CASCADE,
    payload        {json} NOT NULL,
    message_id     TEXT NOT NULL UNIQUE,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'failed')),
    attempts       INTEGER NOT NULL,
    not_before     {ts} NOT NULL,
    claimed_until  {ts} NULL,
    last_error     TEXT NULL,
    created_at     {ts} NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, not_before);

-- Sign-in and tokens --------------------------------------------------------------

CREATE TABLE magic_links (
    id          {uuid} PRIMARY KEY,
    email       TEXT NOT NULL,
    expires_at  {ts} NOT NULL,
    used_at     {ts} NULL
);

CREATE TABLE issued_tokens (
    jti         {uuid} PRIMARY KEY,
    subject     TEXT NOT NULL,
    role        TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    issued_at   {ts} NOT NULL,
    expires_at  {ts} NOT NULL,
    revoked_at  {ts} NULL
);

-- Audit ---------------------------------------------------------------------------

CREATE TABLE audit_log (
    id       {serial_pk},
    at       {ts} NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    team_id  {uuid} NULL,
    target   TEXT NULL,
    details  {json} NOT NULL
);
CREATE INDEX audit_log_by_team ON audit_log (team_id, at);
"#;
