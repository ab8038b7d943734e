//! Persistence for safepulse: the sea-orm [`entities`], connection setup for SQLite
//! and PostgreSQL ([`Store::connect`]), and the queries more than one crate needs
//! ([`org`] for teams and people, [`bulk`] for the close's multi-row inserts,
//! [`people_import`] for the CSV import's rows, [`rounds`] for the steps of opening
//! and closing a round, [`audit`], [`tokens`] for issued tokens, [`commitments`] for
//! action plans, [`scim`] for what SCIM provisioning keeps beside people and teams,
//! [`webhook_endpoints`] for webhook endpoints, and
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
//!
//! Failures are kept honest: a connection whose transaction did not end cleanly
//! (a COMMIT or ROLLBACK that failed, as on a full disk) is closed, never handed
//! out again ([`Store::connect`]); a database that does not answer, is locked or
//! cannot write is [`StoreError::Unavailable`] within seconds ([`ACQUIRE_TIMEOUT`],
//! [`SQLITE_BUSY_TIMEOUT`]); and [`Store::check_writable`] tells whether a write
//! would be stored now.

pub mod answers;
pub mod audit;
pub mod bulk;
pub mod commitments;
pub mod entities;
mod error;
pub mod hygiene;
pub mod keyring;
pub mod operations;
pub mod org;
pub mod participation;
pub mod people_import;
pub mod releases;
pub mod reports;
pub mod rounds;
pub mod scim;
pub mod surveys;
pub mod tokens;
pub mod webhook_endpoints;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use safepulse_migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::Connection as _;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    IsolationLevel, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

pub use error::{Conflict, StoreError, database_errors_seen};
pub use safepulse_migration::SchemaStatus;

/// Why `safepulse backup` wrote no copy.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists already; a backup goes into a new file")]
    Exists(PathBuf),
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("copying the database failed")]
    Database(#[source] StoreError),
    #[error(
        "the database is PostgreSQL: back it up with pg_dump, or base backups with WAL \
         archiving (docs/operations.md, section 5)"
    )]
    NotSqlite,
}

/// Whether [`Store::checkpoint`] folded the whole WAL into the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Checkpoint {
    Complete,
    /// Another connection's read kept it from finishing.
    Incomplete,
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How long a request waits for a pooled connection before the database counts as
/// unavailable. Short on purpose: while the database is down, a request should fail
/// within seconds with "try again" rather than hang.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a SQLite write waits for another writer (another connection or process)
/// to release the lock. Long enough for the longest transaction of the service
/// (closing a large round), short enough that a database locked for good fails
/// fast with "try again".
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a successful [`Store::check_writable`] is trusted: the check is an
/// fsync'd commit on SQLite, and `/readyz` is not authenticated.
const WRITABLE_CHECK_REUSE: Duration = Duration::from_secs(1);

/// A connection pool to the safepulse database.
#[derive(Debug, Clone)]
pub struct Store {
    connection: DatabaseConnection,
    backend: Backend,
    /// When [`Store::check_writable`] last succeeded.
    last_writable: Arc<Mutex<Option<Instant>>>,
}

impl Store {
    /// The default database URL for a data directory.
    pub fn sqlite_url_for_data_dir(data_dir: &Path) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("safepulse.db").display()
        )
    }

    /// Connects to `sqlite://…` or `postgres://…`, creating a missing SQLite file.
    /// Does not migrate.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_creating(url, true).await
    }

    /// Connects to a database that must exist already (a missing SQLite file is
    /// an error, never created): for commands that only read, such as a backup.
    pub async fn connect_existing(url: &str) -> Result<Store, StoreError> {
        Store::connect_creating(url, false).await
    }

    async fn connect_creating(url: &str, create_if_missing: bool) -> Result<Store, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let mut options = ConnectOptions::new(url.to_owned());
        // sea-orm hands both timeouts to the pool's acquire timeout, which also
        // bounds opening a connection.
        options.sqlx_logging(false).acquire_timeout(ACQUIRE_TIMEOUT);
        // A connection comes back to the pool still inside a transaction when its
        // COMMIT or ROLLBACK failed: sqlx lowers its transaction depth only on
        // success. On SQLite a failed COMMIT (full disk, I/O error) has already
        // rolled the transaction back, so the ROLLBACK sea-orm sends on drop fails
        // too, and the next `begin` on that connection would become a SAVEPOINT
        // whose RELEASE commits nothing: answers acknowledged and never stored, and
        // the write lock held for good. Such a connection is closed, never reused.
        match backend {
            Backend::Sqlite => {
                // WAL lets readers run beside the one writer, so a few connections help.
                options.max_connections(4).min_connections(1);
                options.map_sqlx_sqlite_opts(move |sqlite| {
                    sqlite
                        .create_if_missing(create_if_missing)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Full)
                        .foreign_keys(true)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                        .pragma("secure_delete", "ON")
                });
                options.map_sqlx_sqlite_pool_opts(|pool| {
                    pool.after_release(|connection, _| {
                        Box::pin(async move {
                            // A dropped transaction queues its ROLLBACK on the
                            // connection's worker; a ping runs after it, so the
                            // depth read next is the outcome of that ROLLBACK.
                            connection.ping().await?;
                            Ok(keep_released_connection(connection.is_in_transaction()))
                        })
                    })
                });
            }
            Backend::Postgres => {
                options.max_connections(16).min_connections(1);
                options.map_sqlx_postgres_pool_opts(|pool| {
                    // A dropped transaction's ROLLBACK is queued and the depth
                    // lowered at once; the pool's own ping on release sends it.
                    pool.after_release(|connection, _| {
                        Box::pin(async move {
                            Ok(keep_released_connection(connection.is_in_transaction()))
                        })
                    })
                });
            }
        }
        let connection = sea_orm::Database::connect(options).await?;
        Ok(Store {
            connection,
            backend,
            last_writable: Arc::new(Mutex::new(None)),
        })
    }

    /// Applies the migrations of this version that are pending, and returns the
    /// status it leaves: `Current`, or, for a schema a newer version migrated,
    /// `NewerCompatible` or `NewerIncompatible`, which it leaves alone (whether to
    /// run against it is the caller's decision).
    pub async fn migrate(&self) -> Result<SchemaStatus, StoreError> {
        match self.schema_status().await? {
            SchemaStatus::New | SchemaStatus::Pending(_) => {
                Migrator::up(&self.connection, None).await?;
                Ok(SchemaStatus::Current)
            }
            status => Ok(status),
        }
    }

    /// Where the schema stands against this version's migrations; changes nothing.
    pub async fn schema_status(&self) -> Result<SchemaStatus, StoreError> {
        Ok(safepulse_migration::schema_status(&self.connection).await?)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.connection.ping().await?;
        Ok(())
    }

    /// Checks that a write would be stored now; [`StoreError::Unavailable`] if not.
    ///
    /// On SQLite it commits a 64 KiB write (a table created, filled and dropped in
    /// one transaction, so nothing stays): a full disk, an I/O error, a read-only
    /// file, a page limit or a lock held by another process all fail it, as they
    /// would fail an answer. On PostgreSQL, which stops by itself when its disk is
    /// full, it checks that a write transaction is not read-only (a standby, or
    /// `default_transaction_read_only` as some hosted services set on a full disk).
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        let recently = self
            .last_writable
            .lock()
            .expect("the last write check")
            .is_some_and(|at| at.elapsed() < WRITABLE_CHECK_REUSE);
        if recently {
            return Ok(());
        }
        let transaction = self.begin_write().await?;
        match self.backend {
            Backend::Sqlite => {
                for statement in [
                    "CREATE TABLE safepulse_write_check (filler BLOB)",
                    "INSERT INTO safepulse_write_check VALUES (zeroblob(65536))",
                    "DROP TABLE safepulse_write_check",
                ] {
                    transaction.execute_unprepared(statement).await?;
                }
                transaction.commit().await?;
            }
            Backend::Postgres => {
                let read_only = transaction
                    .query_one_raw(Statement::from_string(
                        DbBackend::Postgres,
                        "SELECT current_setting('transaction_read_only') = 'on' AS read_only",
                    ))
                    .await?
                    .map(|row| row.try_get::<bool>("", "read_only"))
                    .transpose()?
                    .unwrap_or(true);
                transaction.rollback().await?;
                if read_only {
                    return Err(StoreError::Unavailable(DbErr::Custom(
                        "PostgreSQL accepts no writes: transaction_read_only is on".into(),
                    )));
                }
            }
        }
        *self.last_writable.lock().expect("the last write check") = Some(Instant::now());
        Ok(())
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// On a graceful stop (SQLite): folds the WAL into the database file and
    /// empties it, so that the `.db` file alone holds every committed answer and
    /// the WAL holds no page of deleted rows. Nothing to do on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        if self.backend == Backend::Sqlite {
            let row = self
                .connection
                .query_one_raw(sea_orm::Statement::from_string(
                    DbBackend::Sqlite,
                    "PRAGMA wal_checkpoint(TRUNCATE)",
                ))
                .await?;
            // The first column, `busy`, is 1 when the checkpoint could not finish.
            let busy: i32 = match row {
                Some(row) => row.try_get_by_index(0)?,
                None => 0,
            };
            if busy != 0 {
                return Ok(Checkpoint::Incomplete);
            }
        }
        Ok(Checkpoint::Complete)
    }

    /// Closes every connection of the pool (this and every clone of the store),
    /// waiting for those in use to be given back. Anything that asks for a
    /// connection afterwards gets an error.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.connection.close_by_ref().await?;
        Ok(())
    }

    /// Writes a consistent copy of the whole SQLite database into a new file at
    /// `target` while the database is in use: `VACUUM INTO` copies what is
    /// committed, the WAL's part included, and no free page (so no deleted row).
    /// The file is created here, private (0600), and refused if it exists.
    pub async fn backup_into(&self, target: &Path) -> Result<(), BackupError> {
        if self.backend != Backend::Sqlite {
            return Err(BackupError::NotSqlite);
        }
        let io = |source| BackupError::Io {
            path: target.to_owned(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(target) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(BackupError::Exists(target.to_owned()));
            }
            Err(error) => return Err(io(error)),
        }
        let copied = async {
            // VACUUM INTO accepts the empty file it is given and fills it.
            self.connection
                .execute_raw(sea_orm::Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "VACUUM INTO ?",
                    [target.to_string_lossy().into_owned().into()],
                ))
                .await
                .map_err(|error| BackupError::Database(error.into()))?;
            // SQLite leaves the copy to the operating system's cache: make it durable.
            std::fs::File::open(target)
                .and_then(|file| file.sync_all())
                .map_err(io)
        }
        .await;
        if copied.is_err() {
            let _ = std::fs::remove_file(target);
        }
        copied
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

/// Whether a connection released to the pool may serve again: not while it is
/// still inside a transaction (see [`Store::connect`]).
fn keep_released_connection(in_transaction: bool) -> bool {
    if in_transaction {
        tracing::warn!(
            "a database connection whose transaction did not end cleanly was closed instead \
             of being reused"
        );
    }
    !in_transaction
}
