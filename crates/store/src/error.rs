use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// Every [`StoreError::Database`] and [`StoreError::Unavailable`] this process has made, whoever asked: the API,
/// the scheduler or the outbox worker.
static DATABASE_ERRORS: AtomicU64 = AtomicU64::new(0);

/// How many database failures (not conflicts) this process has seen since it
/// started, for `/metrics`.
pub fn database_errors_seen() -> u64 {
    DATABASE_ERRORS.load(Ordering::Relaxed)
}

/// What can go wrong below the API. The API maps each variant to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database URL must start with sqlite:// or postgres://")]
    UnsupportedUrl,
    #[error("not found")]
    NotFound,
    /// The stored data refuses the change: a rule of the schema (uniqueness, a
    /// foreign key) or of the store (a team below itself, a round still open).
    #[error("conflict: {}", .0.code())]
    Conflict(Conflict),
    /// The database cannot be used right now, and nothing was stored: it does not
    /// answer (no connection within the pool's acquire timeout, a connection
    /// refused or cut), it is locked by another writer for longer than the busy
    /// timeout, or it cannot write (disk full, I/O error, read-only). Trying
    /// again later may succeed, so callers answer "try again" (HTTP 503), never
    /// "done".
    #[error("the database is unavailable")]
    Unavailable(#[source] DbErr),
    #[error("database error")]
    Database(#[source] DbErr),
    /// A round's key cannot be had: the answer cannot be sealed or checked.
    #[error(transparent)]
    Keyring(#[from] crate::keyring::KeyringError),
}

/// Why the stored data refuses a change. Each conflict has a stable code, which the
/// API answers with (problem+json `code`), so a typo in a code does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// A uniqueness rule of the schema.
    AlreadyExists,
    /// A foreign-key rule of the schema.
    StillReferenced,
    TeamNameTaken,
    ParentNotFound,
    /// A team moved below itself or one of its sub-teams.
    TeamCycle,
    TeamNotEmpty,
    TeamInSurvey,
    TeamHasRounds,
    TeamNotFound,
    PersonNotFound,
    /// A people import row whose team path names no team.
    EmptyTeamPath,
    SurveyNotDraft,
    SurveyIsDraft,
    SurveyArchived,
    RoundNotFound,
    RoundNotClosed,
    TeamNotInRound,
    CommitmentLimitReached,
}

impl Conflict {
    /// Every conflict, for checks that each has its words.
    pub const ALL: [Conflict; 18] = [
        Conflict::AlreadyExists,
        Conflict::StillReferenced,
        Conflict::TeamNameTaken,
        Conflict::ParentNotFound,
        Conflict::TeamCycle,
        Conflict::TeamNotEmpty,
        Conflict::TeamInSurvey,
        Conflict::TeamHasRounds,
        Conflict::TeamNotFound,
        Conflict::PersonNotFound,
        Conflict::EmptyTeamPath,
        Conflict::SurveyNotDraft,
        Conflict::SurveyIsDraft,
        Conflict::SurveyArchived,
        Conflict::RoundNotFound,
        Conflict::RoundNotClosed,
        Conflict::TeamNotInRound,
        Conflict::CommitmentLimitReached,
    ];

    /// The stable code clients see; never change one.
    pub fn code(self) -> &'static str {
        match self {
            Conflict::AlreadyExists => "already_exists",
            Conflict::StillReferenced => "still_referenced",
            Conflict::TeamNameTaken => "team_name_taken",
            Conflict::ParentNotFound => "parent_not_found",
            Conflict::TeamCycle => "team_cycle",
            Conflict::TeamNotEmpty => "team_not_empty",
            Conflict::TeamInSurvey => "team_in_survey",
            Conflict::TeamHasRounds => "team_has_rounds",
            Conflict::TeamNotFound => "team_not_found",
            Conflict::PersonNotFound => "person_not_found",
            Conflict::EmptyTeamPath => "empty_team_path",
            Conflict::SurveyNotDraft => "survey_not_draft",
            Conflict::SurveyIsDraft => "survey_is_draft",
            Conflict::SurveyArchived => "survey_archived",
            Conflict::RoundNotFound => "round_not_found",
            Conflict::RoundNotClosed => "round_not_closed",
            Conflict::TeamNotInRound => "team_not_in_round",
            Conflict::CommitmentLimitReached => "commitment_limit_reached",
        }
    }
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                StoreError::Conflict(Conflict::AlreadyExists)
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                StoreError::Conflict(Conflict::StillReferenced)
            }
            _ if is_unavailable(&error) => {
                DATABASE_ERRORS.fetch_add(1, Ordering::Relaxed);
                StoreError::Unavailable(error)
            }
            _ => {
                DATABASE_ERRORS.fetch_add(1, Ordering::Relaxed);
                StoreError::Database(error)
            }
        }
    }
}

/// Whether `error` says the database cannot be used *now* (rather than that a
/// statement is wrong): a failed or timed-out connection, a lock held too long, or
/// a database that cannot write.
fn is_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            match &**error {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(error) => {
                    let code = error.code().unwrap_or_default();
                    if error
                        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                        .is_some()
                    {
                        sqlite_code_is_unavailable(&code)
                    } else {
                        postgres_state_is_unavailable(&code)
                    }
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// SQLite's extended result code (as sqlx reports it, in decimal) by its primary
/// code: BUSY (5) and LOCKED (6) after the busy timeout, READONLY (8), IOERR (10),
/// FULL (13) and CANTOPEN (14).
fn sqlite_code_is_unavailable(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
}

/// PostgreSQL's SQLSTATE: connection exceptions (class 08), insufficient resources
/// such as a full disk (53), the server shutting down or starting (57P01–57P03),
/// system and I/O errors (58), and a read-only transaction (25006, a standby or
/// `default_transaction_read_only`).
fn postgres_state_is_unavailable(state: &str) -> bool {
    state.starts_with("08")
        || state.starts_with("53")
        || state.starts_with("58")
        || matches!(state, "57P01" | "57P02" | "57P03" | "25006")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_conflict_has_its_own_code() {
        let codes: std::collections::HashSet<_> = Conflict::ALL.map(Conflict::code).into();
        assert_eq!(codes.len(), Conflict::ALL.len());
        let conflict = StoreError::Conflict(Conflict::TeamCycle);
        assert_eq!(conflict.to_string(), "conflict: team_cycle");
    }

    #[test]
    fn database_failures_are_counted() {
        let before = database_errors_seen();
        let error = StoreError::from(DbErr::Custom("the connection was reset".into()));
        assert!(matches!(error, StoreError::Database(_)));
        assert!(database_errors_seen() > before);
    }

    #[test]
    fn sqlite_codes_that_mean_try_again_later_are_told_apart_from_mistakes() {
        for unavailable in ["5", "517", "6", "8", "10", "778", "13", "14"] {
            assert!(sqlite_code_is_unavailable(unavailable), "{unavailable}");
        }
        // SQLITE_ERROR, CONSTRAINT_UNIQUE, CORRUPT, MISMATCH.
        for mistake in ["1", "2067", "11", "20", ""] {
            assert!(!sqlite_code_is_unavailable(mistake), "{mistake}");
        }
    }

    #[test]
    fn postgres_states_that_mean_try_again_later_are_told_apart_from_mistakes() {
        for unavailable in [
            "08006", "08001", "53100", "57P01", "57P03", "58030", "25006",
        ] {
            assert!(postgres_state_is_unavailable(unavailable), "{unavailable}");
        }
        // unique_violation, syntax_error, serialization_failure, query_canceled.
        for mistake in ["23505", "42601", "40001", "57014", ""] {
            assert!(!postgres_state_is_unavailable(mistake), "{mistake}");
        }
    }

    #[test]
    fn a_pool_timeout_and_a_cut_connection_are_unavailable() {
        let timeout = DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout);
        assert!(matches!(
            StoreError::from(timeout),
            StoreError::Unavailable(_)
        ));
        let cut = DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(sqlx::Error::Io(
            std::io::ErrorKind::UnexpectedEof.into(),
        ))));
        assert!(matches!(StoreError::from(cut), StoreError::Unavailable(_)));
        let mistake = DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(
            sqlx::Error::RowNotFound,
        )));
        assert!(matches!(StoreError::from(mistake), StoreError::Database(_)));
    }
}
