use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{DbErr, SqlErr};

/// Every [`StoreError::Database`] this process has made, whoever asked: the API,
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
    /// A uniqueness or foreign-key rule of the schema refused the change.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("database error")]
    Database(#[source] DbErr),
    /// A round's key cannot be had: the answer cannot be sealed or checked.
    #[error(transparent)]
    Keyring(#[from] crate::keyring::KeyringError),
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict("already_exists"),
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                StoreError::Conflict("still_referenced")
            }
            _ => {
                DATABASE_ERRORS.fetch_add(1, Ordering::Relaxed);
                StoreError::Database(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_failures_are_counted() {
        let before = database_errors_seen();
        let error = StoreError::from(DbErr::Custom("the connection was reset".into()));
        assert!(matches!(error, StoreError::Database(_)));
        assert!(database_errors_seen() > before);
    }
}
