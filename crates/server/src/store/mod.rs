//! The durable store of the server: SQLite through one writer thread.
//!
//! DESIGN.md §5 promises that a registration, a completion request and an undelivered message
//! are on disk before they are acknowledged. This module keeps that promise:
//!
//! - **One connection, one thread.** [`Store::open`] starts a writer thread that owns the only
//!   connection to the database. A [`Store`] is a cheap handle (`Clone`, `Send + Sync`); each of
//!   its async methods sends a command to the thread and awaits a reply that is sent only after
//!   the transaction holding the command has committed. Because the connection runs with
//!   `synchronous=FULL`, "committed" means "fsynced to the write-ahead log", so the caller may
//!   acknowledge to the network as soon as the method returns `Ok`.
//! - **Group commit.** Commands that are queued together (many REGISTERs arriving at once) are
//!   run in one transaction, each inside its own savepoint: a failing command is rolled back
//!   alone and gets its own error, the others still commit, and one fsync covers the whole
//!   batch. Every caller's reply still waits for that commit.
//! - **Reads use the same thread.** The server's read traffic is small (a registrar lookup per
//!   call, a full load at start), so reads are commands too. That keeps one connection, gives
//!   reads a consistent view that includes every earlier acknowledged write, and avoids a reader
//!   pool. If reads ever dominate, WAL mode allows a separate read-only connection to be added
//!   without changing this API.
//! - **No clock.** Every time is an explicit input in milliseconds since the UNIX epoch, so
//!   expiry is testable without sleeping.
//!
//! - **Health.** A store whose file was deleted or replaced under the server, or whose last
//!   batch did not commit, is unavailable ([`StoreHealth`]): the writer refuses every command
//!   with [`StoreError::Unavailable`] while the file is not the one it opened, `/healthz` says
//!   why, and the core refuses to acknowledge anything.
//!
//! At open, a file callcomp refuses (a newer schema, a negative version, tables of another
//! application) is refused before anything is written to it: the journal mode is switched to
//! WAL only afterwards. A file that cannot be written (read-only, in a read-only directory) is
//! an open error too, found by a write at open, not by the first REGISTER.
//!
//! Pragmas set at open: `journal_mode=WAL`, `synchronous=FULL`, `foreign_keys=ON` and a busy
//! timeout of [`BUSY_TIMEOUT_MS`]. [`Store::status`] reports what SQLite actually applied.
//!
//! # Schema and migrations
//!
//! The schema version lives in SQLite's `PRAGMA user_version`. At open, every migration newer
//! than the file is applied in order, each in its own transaction together with the version
//! bump, so a crash leaves the file at a whole version. A file whose version is newer than the
//! last migration this build knows is refused with [`StoreError::NewerSchema`] rather than
//! written by code that does not understand it.
//!
//! Version 1 holds the registrar bindings (see [`Binding`]); version 2 the outstanding
//! call-completion requests (see [`StoredCompletion`]). A schema change appends one entry to
//! the list in `migrations.rs`, never editing an entry that has shipped:
//!
//! ```text
//! pub(crate) const MIGRATIONS: &[Migration] = &[
//!     Migration { version: 1, name: "registrar bindings", sql: "CREATE TABLE bindings (..);" },
//!     Migration {
//!         version: 2,
//!         name: "completion requests",
//!         sql: "CREATE TABLE completion_requests (line TEXT NOT NULL, completion_id INTEGER NOT NULL, ..,
//!               PRIMARY KEY (line, completion_id));",
//!     },
//! ];
//! ```
//!
//! and then a `completions.rs` beside `bindings.rs` with the row type and its `impl Store`
//! methods, each built on the crate-private `Store::execute`.

mod bindings;
mod completions;
mod health;
mod migrations;
mod writer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

pub use bindings::{Binding, MAX_Q};
pub use completions::StoredCompletion;
pub use health::StoreHealth;
pub use migrations::latest_version;

use writer::Message;

/// Busy timeout set on the connection, in milliseconds. The store is the only writer, so this
/// only matters if an operator opens the file with another tool while the server runs.
pub const BUSY_TIMEOUT_MS: u32 = 5_000;

/// How many commands may wait for the writer thread before senders are made to wait.
const QUEUE_CAPACITY: usize = 1_024;

/// Errors of the store. Each says what failed; errors at open name the database file.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or configured (bad path, not a database, a
    /// pragma refused).
    #[error("cannot open the store database {path}: {source}")]
    Open {
        /// The database file (`:memory:` for an in-memory store).
        path: PathBuf,
        /// What SQLite reported.
        #[source]
        source: Arc<rusqlite::Error>,
    },
    /// SQLite did not switch the file to write-ahead logging.
    #[error("store database {path}: journal_mode is {mode}, but the store needs WAL")]
    NotWal {
        /// The database file.
        path: PathBuf,
        /// The journal mode SQLite reported instead.
        mode: String,
    },
    /// The file was written by a newer callcomp whose schema this build does not know.
    #[error("{path}: database schema version {found} is newer than this callcomp (knows {known})")]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The version found in the file.
        found: i64,
        /// The newest version this build can migrate to.
        known: u32,
    },
    /// The file carries a negative `user_version`, so it is not a callcomp database.
    #[error("{path}: database schema version {found} is not one callcomp writes; is this a callcomp store?")]
    ForeignSchema {
        /// The database file.
        path: PathBuf,
        /// The version found in the file.
        found: i64,
    },
    /// A schema migration failed; the file stays at the version before it.
    #[error("{path}: schema migration to version {version} ({name}) failed: {source}")]
    Migration {
        /// The database file.
        path: PathBuf,
        /// The version the migration would have produced.
        version: u32,
        /// The migration's name.
        name: &'static str,
        /// What SQLite reported.
        #[source]
        source: Arc<rusqlite::Error>,
    },
    /// The file already holds tables callcomp did not create, so it belongs to something else.
    #[error("{path}: the database holds tables callcomp does not know ({tables}); is this a callcomp store?", tables = tables.join(", "))]
    ForeignTables {
        /// The database file.
        path: PathBuf,
        /// The unknown tables.
        tables: Vec<String>,
    },
    /// The file can be read but not written (a read-only file or directory, a full disk).
    #[error("the store database {path} cannot be written: {source}")]
    Unwritable {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported for the test write at open.
        #[source]
        source: Arc<rusqlite::Error>,
    },
    /// The store cannot keep what it is given (its file was deleted or replaced); nothing of the
    /// command ran.
    #[error("the store is unavailable: {reason}")]
    Unavailable {
        /// Why, as `/healthz` shows it.
        reason: String,
    },
    /// The file's identity (device, inode) could not be read at open.
    #[error("cannot read the identity of the store database {path}: {source}")]
    FileIdentity {
        /// The database file.
        path: PathBuf,
        /// What the file system reported.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The writer thread could not be started.
    #[error("cannot start the store writer thread: {0}")]
    Spawn(#[source] Arc<std::io::Error>),
    /// A statement failed.
    #[error("store statement failed: {0}")]
    Sqlite(#[source] Arc<rusqlite::Error>),
    /// The transaction holding the command did not commit, so nothing of it is stored.
    #[error("store transaction did not commit: {0}")]
    Commit(#[source] Arc<rusqlite::Error>),
    /// The store was closed (or its writer thread stopped); nothing more can be done with it.
    #[error("the store is closed")]
    Closed,
    /// A binding's q-value is above 1.000 (it is kept in thousandths, 0..=1000).
    #[error("binding {contact_uri}: q-value {q} thousandths is above {max}", max = MAX_Q)]
    InvalidQ {
        /// The binding's contact.
        contact_uri: String,
        /// The rejected value.
        q: u16,
    },
    /// `replace_bindings` was given a binding of another address-of-record.
    #[error("replacing the bindings of {aor}: a binding belongs to {found}")]
    AorMismatch {
        /// The address-of-record being replaced.
        aor: String,
        /// The address-of-record of the stray binding.
        found: String,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(Arc::new(e))
    }
}

/// What SQLite reports about the store's connection; for logs, health checks and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStatus {
    /// The schema version of the file (`PRAGMA user_version`).
    pub schema_version: u32,
    /// The journal mode in force: `wal` for a file, `memory` for an in-memory store.
    pub journal_mode: String,
    /// `PRAGMA synchronous` as SQLite numbers it: 0 off, 1 normal, 2 full, 3 extra.
    pub synchronous: u8,
    /// Whether foreign-key constraints are enforced.
    pub foreign_keys: bool,
    /// The busy timeout in milliseconds.
    pub busy_timeout_ms: u32,
}

/// A handle to the store. Clones share one writer thread; the thread stops when the last
/// handle is dropped (after running every queued command) or at [`Store::close`].
///
/// If the future of a method is dropped after the command was queued, the command may still
/// run and commit; only its reply is lost.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Owned by all clones; its `Drop` closes the queue and joins the writer thread.
struct Inner {
    sender: Option<mpsc::Sender<Message>>,
    thread: Option<JoinHandle<()>>,
    health: StoreHealth,
}

/// Where the connection comes from.
enum Target {
    File(PathBuf),
    Memory,
}

impl Store {
    /// Opens (creating if needed) the database file at `path`, sets the pragmas, applies any
    /// pending migrations and starts the writer thread.
    pub async fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::start(Target::File(path.as_ref().to_path_buf())).await
    }

    /// Opens a private in-memory database with the current schema; for tests. Its contents
    /// vanish with the store.
    pub async fn open_in_memory() -> Result<Store, StoreError> {
        Store::start(Target::Memory).await
    }

    /// Runs every command already queued, closes the database and stops the writer thread.
    /// Other clones of this handle get [`StoreError::Closed`] afterwards. Dropping the last
    /// handle does the same, but blocks the dropping thread while the queue drains; `close`
    /// waits asynchronously and reports an error from closing the connection.
    pub async fn close(self) -> Result<(), StoreError> {
        let sender = self.inner.sender.as_ref().ok_or(StoreError::Closed)?;
        let (reply, done) = oneshot::channel();
        sender
            .send(Message::Close(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        let result = done.await.map_err(|_| StoreError::Closed)?;
        // Dropping `self` joins the thread if this was the last handle; it has already
        // finished its work, so the join does not wait for I/O.
        drop(self);
        result
    }

    /// The store's health, shared with the writer thread.
    pub fn health(&self) -> StoreHealth {
        self.inner.health.clone()
    }

    /// Reports the schema version and the pragmas in force on the store's connection.
    pub async fn status(&self) -> Result<StoreStatus, StoreError> {
        self.execute(|conn| {
            let schema_version = migrations::current_version(conn)?;
            let journal_mode: String =
                conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
            let synchronous: u8 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
            let foreign_keys: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
            let busy_timeout_ms: u32 =
                conn.pragma_query_value(None, "busy_timeout", |r| r.get(0))?;
            Ok(StoreStatus {
                // current_version only returns non-negative versions the build knows.
                schema_version: u32::try_from(schema_version).unwrap_or(0),
                journal_mode,
                synchronous,
                foreign_keys,
                busy_timeout_ms,
            })
        })
        .await
    }

    /// Runs `work` on the writer thread inside the current batch transaction and returns its
    /// result once that transaction has committed. An `Err` from `work` rolls back only what
    /// `work` did. This is the building block of every table's methods.
    pub(crate) async fn execute<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.enqueue(work).await?.await
    }

    /// Queues `work` like [`Store::execute`], but returns as soon as it is queued: the returned
    /// future gives its result after the commit. A caller that queues several commands before
    /// awaiting any lets them share one group commit, still run in the order queued.
    pub(crate) async fn enqueue<T, F>(
        &self,
        work: F,
    ) -> Result<impl std::future::Future<Output = Result<T, StoreError>> + Send, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let sender = self.inner.sender.as_ref().ok_or(StoreError::Closed)?;
        let (job, reply) = writer::job(work);
        sender
            .send(Message::Job(job))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(async move { reply.await.map_err(|_| StoreError::Closed)? })
    }

    async fn start(target: Target) -> Result<Store, StoreError> {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let (ready_tx, ready_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("callcomp-store".into())
            .spawn(move || {
                let (conn, health) = match open_connection(&target) {
                    Ok(opened) => {
                        let _ = ready_tx.send(Ok(opened.1.clone()));
                        opened
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let stats = writer::run(conn, receiver, &health);
                tracing::debug!(
                    batches = stats.batches,
                    commands = stats.commands,
                    "store writer stopped"
                );
            })
            .map_err(|e| StoreError::Spawn(Arc::new(e)))?;
        let mut inner = Inner {
            sender: Some(sender),
            thread: Some(thread),
            health: StoreHealth::in_memory(),
        };
        match ready_rx.await {
            Ok(Ok(health)) => inner.health = health,
            // `inner` is dropped here, which joins the (already finished) thread.
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(StoreError::Closed),
        }
        Ok(Store {
            inner: Arc::new(inner),
        })
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue lets the writer drain what is left and stop.
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("store writer thread panicked");
            }
        }
    }
}

/// Opens the connection, refuses a file that is not ours (before writing anything to it), sets
/// the pragmas, migrates the schema and proves the file can be written.
fn open_connection(target: &Target) -> Result<(Connection, StoreHealth), StoreError> {
    let (conn, path) = match target {
        Target::File(path) => (Connection::open(path), path.clone()),
        Target::Memory => (Connection::open_in_memory(), PathBuf::from(":memory:")),
    };
    let open_err = |source| StoreError::Open {
        path: path.clone(),
        source: Arc::new(source),
    };
    let conn = conn.map_err(open_err)?;
    conn.busy_timeout(std::time::Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)))
        .map_err(open_err)?;
    // Read-only checks first: a refused file must come out as it went in.
    migrations::check_foreign(&conn, &path, migrations::MIGRATIONS)?;
    // SQLite quietly opens a write-protected file read-only; say so before anything fails.
    if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
        return Err(read_only(path));
    }
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(|e| unwritable(&conn, &path, e))?;
    if matches!(target, Target::File(_)) && !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NotWal { path, mode });
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    let mut conn = conn;
    migrations::migrate(&mut conn, &path, migrations::MIGRATIONS)?;
    // A write now, so that a file SQLite opened read-only (or in a read-only directory, or on a
    // full disk) is a start-up error rather than a 500 to every REGISTER.
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         INSERT INTO store_meta (key, value) VALUES ('opens', 1)
             ON CONFLICT (key) DO UPDATE SET value = value + 1;
         COMMIT;",
    )
    .map_err(|e| unwritable(&conn, &path, e))?;
    let health = match target {
        Target::File(path) => {
            StoreHealth::of_file(path.clone()).map_err(|e| StoreError::FileIdentity {
                path: path.clone(),
                source: Arc::new(e),
            })?
        }
        Target::Memory => StoreHealth::in_memory(),
    };
    Ok((conn, health))
}

/// The error for a file SQLite opened read-only.
fn read_only(path: PathBuf) -> StoreError {
    StoreError::Unwritable {
        path,
        source: Arc::new(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
            Some("the file is read-only for this process (check its owner and mode)".to_owned()),
        )),
    }
}

/// The error for a failed write at open; the transaction, if any, is rolled back.
fn unwritable(conn: &Connection, path: &Path, e: rusqlite::Error) -> StoreError {
    let _ = conn.execute_batch("ROLLBACK");
    StoreError::Unwritable {
        path: path.to_path_buf(),
        source: Arc::new(e),
    }
}
