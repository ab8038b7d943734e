//! Persistence for safepulse: the sea-orm [`entities`], connection setup for SQLite
//! and PostgreSQL ([`Store::connect`]), and the queries more than one crate needs
//! ([`org`] for teams and people, [`people_import`] for the CSV import's rows,
//! [`audit`], [`tokens`] for issued tokens, and
//! [`releases`], the release gate: the only way to read a release, always for a
//! given reader).
//!
//! The embedded default is one SQLite file in WAL mode with `synchronous=FULL`
//! (an accepted answer survives power loss), foreign keys on, `secure_delete` on
//! (deleted answers are overwritten, not left in free pages) and write transactions
//! begun `IMMEDIATE` ([`Store::begin_write`]) so a read-then-write transaction never
//! fails to upgrade its lock. PostgreSQL is the production database.
//!
//! Statement logging is off on both: a logged statement is a place where survey
//! data could leak.

pub mod answers;
pub mod audit;
pub mod entities;
mod error;
pub mod hygiene;
pub mod keyring;
pub mod org;
pub mod participation;
pub mod people_import;
pub mod releases;
pub mod reports;
pub mod surveys;
pub mod tokens;

use std::path::Path;
use std::time::Duration;

use safepulse_migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    IsolationLevel, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

pub use error::StoreError;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool to the safepulse database.
#[derive(Debug, Clone)]
pub struct Store {
    connection: DatabaseConnection,
    backend: Backend,
}

impl Store {
    /// The default database URL for a data directory.
    pub fn sqlite_url_for_data_dir(data_dir: &Path) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("safepulse.db").display()
        )
    }

    /// Connects to `sqlite://…` or `postgres://…`. Does not migrate.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));
        match backend {
            Backend::Sqlite => {
                // WAL lets readers run beside the one writer, so a few connections help.
                options.max_connections(4).min_connections(1);
                options.map_sqlx_sqlite_opts(|sqlite| {
                    sqlite
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Full)
                        .foreign_keys(true)
                        .busy_timeout(Duration::from_secs(30))
                        .pragma("secure_delete", "ON")
                });
            }
            Backend::Postgres => {
                options.max_connections(16).min_connections(1);
            }
        }
        let connection = sea_orm::Database::connect(options).await?;
        Ok(Store {
            connection,
            backend,
        })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.connection, None).await?;
        Ok(())
    }

    /// Number of migrations not yet applied (0 means ready).
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        Ok(Migrator::get_pending_migrations(&self.connection)
            .await?
            .len())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.connection.ping().await?;
        Ok(())
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// On a graceful stop (SQLite): folds the WAL into the database file and
    /// empties it, so that the `.db` file alone holds every committed answer and
    /// the WAL holds no page of deleted rows. Nothing to do on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            self.connection
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction: `BEGIN IMMEDIATE` on SQLite, READ COMMITTED on PostgreSQL.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        let options = match self.backend {
            Backend::Sqlite => TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            },
            Backend::Postgres => TransactionOptions {
                isolation_level: Some(IsolationLevel::ReadCommitted),
                ..TransactionOptions::default()
            },
        };
        Ok(self.connection.begin_with_options(options).await?)
    }

    /// Name of the sea-orm backend, for raw statements that differ per database.
    pub fn db_backend(&self) -> DbBackend {
        self.connection.get_database_backend()
    }
}
