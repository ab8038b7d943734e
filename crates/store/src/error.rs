use sea_orm::{DbErr, SqlErr};

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
            _ => StoreError::Database(error),
        }
    }
}
