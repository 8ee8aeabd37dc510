//! Versioned schema migrations, kept in SQLite's `PRAGMA user_version`.
//!
//! [`MIGRATIONS`] is an append-only list: version `n` is entry `n - 1`. A shipped entry is never
//! edited, because files in the field already carry its result; a schema change is a new
//! entry at the end. Each pending migration runs in its own transaction together with the
//! version bump, so the file is always at a whole version.

use std::path::Path;
use std::sync::Arc;

use rusqlite::Connection;

use super::StoreError;

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// The version the file has once this step ran; the first is 1, then consecutive.
    pub(crate) version: u32,
    /// A short name for logs and errors.
    pub(crate) name: &'static str,
    /// The statements of the step.
    pub(crate) sql: &'static str,
}

/// Every migration this build knows, oldest first. Append; never edit a shipped entry.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "registrar bindings",
        // q is in thousandths (q=0.5 is 500); times are ms since the UNIX epoch; `received` is the
        // source address:port the REGISTER came from; `instance` is the +sip.instance, if any.
        sql: "
        CREATE TABLE bindings (
            aor           TEXT    NOT NULL,
            contact_uri   TEXT    NOT NULL,
            expires_at_ms INTEGER NOT NULL,
            q             INTEGER NOT NULL CHECK (q BETWEEN 0 AND 1000),
            call_id       TEXT    NOT NULL,
            cseq          INTEGER NOT NULL CHECK (cseq >= 0),
            received      TEXT    NOT NULL,
            transport     TEXT    NOT NULL,
            user_agent    TEXT    NOT NULL,
            instance      TEXT,
            updated_at_ms INTEGER NOT NULL,
            PRIMARY KEY (aor, contact_uri)
        ) WITHOUT ROWID;
        CREATE INDEX bindings_by_expiry ON bindings (expires_at_ms);
    ",
    },
    Migration {
        version: 2,
        name: "completion requests",
        // One row per outstanding request (undelivered messages included: they are requests
        // of mode `message` still outstanding). `seq` is the queue place (acceptance order);
        // `data` is the engine's JSON of the request, with its deadlines.
        sql: "
        CREATE TABLE completion_requests (
            completion_id INTEGER PRIMARY KEY CHECK (completion_id > 0),
            line          TEXT    NOT NULL,
            target        TEXT    NOT NULL,
            mode          TEXT    NOT NULL,
            state         TEXT    NOT NULL,
            seq           INTEGER NOT NULL,
            data          TEXT    NOT NULL
        );
        CREATE INDEX completion_requests_by_target ON completion_requests (target, seq);
    ",
    },
    Migration {
        version: 3,
        name: "store metadata",
        // Counters that outlive the rows they count. `next_completion_id` is the high-water
        // mark of completion ids, so an id is never issued twice, across restarts included;
        // it starts past every id already stored. `opens` counts the server starts (the write
        // that proves the file writable at open).
        sql: "
        CREATE TABLE store_meta (
            key   TEXT    PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO store_meta (key, value)
            SELECT 'next_completion_id', coalesce(max(completion_id), 0) + 1 FROM completion_requests;
    ",
    },
];

/// The newest schema version this build can create or use.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The schema version recorded in the file.
pub(crate) fn current_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Refuses, without writing anything, a file that is not a callcomp store this build may
/// write: a negative or newer `user_version`, or tables that the migrations up to the file's
/// version do not create.
pub(crate) fn check_foreign(
    conn: &Connection,
    path: &Path,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.to_path_buf(),
        source: Arc::new(source),
    };
    let known = migrations.last().map_or(0, |m| m.version);
    let found = current_version(conn).map_err(open_err)?;
    if found < 0 {
        return Err(StoreError::ForeignSchema {
            path: path.to_path_buf(),
            found,
        });
    }
    if found > i64::from(known) {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    let expected = tables_at(migrations, found).map_err(open_err)?;
    let foreign: Vec<String> = tables(conn)
        .map_err(open_err)?
        .into_iter()
        .filter(|t| !expected.contains(t))
        .collect();
    if !foreign.is_empty() {
        return Err(StoreError::ForeignTables {
            path: path.to_path_buf(),
            tables: foreign,
        });
    }
    Ok(())
}

/// The tables (SQLite's own left out) of `conn`.
fn tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )?;
    let names = stmt.query_map([], |r| r.get(0))?;
    names.collect()
}

/// The tables a file at `version` has: the migrations up to it, run on a scratch database.
fn tables_at(migrations: &[Migration], version: i64) -> rusqlite::Result<Vec<String>> {
    let scratch = Connection::open_in_memory()?;
    for step in migrations
        .iter()
        .filter(|m| i64::from(m.version) <= version)
    {
        scratch.execute_batch(step.sql)?;
    }
    tables(&scratch)
}

/// Brings the file at `path` up to the last version of `migrations`; returns how many steps
/// ran. Refuses a file that is newer than `migrations` knows. `migrations` is a parameter so
/// tests can exercise upgrades with lists of their own.
pub(crate) fn migrate(
    conn: &mut Connection,
    path: &Path,
    migrations: &[Migration],
) -> Result<usize, StoreError> {
    let known = migrations.last().map_or(0, |m| m.version);
    let found = current_version(conn).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source: Arc::new(source),
    })?;
    if found < 0 {
        return Err(StoreError::ForeignSchema {
            path: path.to_path_buf(),
            found,
        });
    }
    if found > i64::from(known) {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    let mut applied = 0;
    for step in migrations.iter().filter(|m| i64::from(m.version) > found) {
        apply(conn, step).map_err(|source| StoreError::Migration {
            path: path.to_path_buf(),
            version: step.version,
            name: step.name,
            source: Arc::new(source),
        })?;
        tracing::info!(
            version = step.version,
            name = step.name,
            "store schema migrated"
        );
        applied += 1;
    }
    Ok(applied)
}

/// Runs one step and records its version, atomically.
fn apply(conn: &mut Connection, step: &Migration) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(step.sql)?;
    tx.pragma_update(None, "user_version", step.version)?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_GOOD: Migration = Migration {
        version: 2,
        name: "test table",
        sql: "CREATE TABLE extra (id INTEGER PRIMARY KEY);",
    };

    /// Creates a table, then fails: the table must not survive.
    const V2_BROKEN: Migration = Migration {
        version: 2,
        name: "broken",
        sql: "CREATE TABLE half (id INTEGER); THIS IS NOT SQL;",
    };

    fn table_exists(conn: &Connection, name: &str) -> bool {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
            == 1
    }

    #[test]
    fn versions_start_at_one_and_are_consecutive() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "migration {}", m.name);
        }
        assert_eq!(latest_version(), MIGRATIONS.len() as u32);
    }

    #[test]
    fn from_empty_applies_every_step_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        let path = Path::new(":memory:");
        assert_eq!(current_version(&conn).unwrap(), 0);
        assert_eq!(
            migrate(&mut conn, path, MIGRATIONS).unwrap(),
            MIGRATIONS.len()
        );
        assert_eq!(current_version(&conn).unwrap(), i64::from(latest_version()));
        assert!(table_exists(&conn, "bindings"));
        assert!(table_exists(&conn, "completion_requests"));
        assert!(table_exists(&conn, "store_meta"));
        // Running again is a no-op.
        assert_eq!(migrate(&mut conn, path, MIGRATIONS).unwrap(), 0);
    }

    #[test]
    fn upgrade_runs_only_the_new_step() {
        let mut conn = Connection::open_in_memory().unwrap();
        let path = Path::new(":memory:");
        migrate(&mut conn, path, &MIGRATIONS[..1]).unwrap();
        let v2 = [MIGRATIONS[0], V2_GOOD];
        assert_eq!(migrate(&mut conn, path, &v2).unwrap(), 1);
        assert_eq!(current_version(&conn).unwrap(), 2);
        assert!(table_exists(&conn, "extra"));
    }

    #[test]
    fn failed_step_leaves_previous_version_and_no_trace() {
        let mut conn = Connection::open_in_memory().unwrap();
        let path = Path::new("test.db");
        let list = [MIGRATIONS[0], V2_BROKEN];
        let err = migrate(&mut conn, path, &list).unwrap_err();
        match &err {
            StoreError::Migration { version, name, .. } => {
                assert_eq!((*version, *name), (2, "broken"));
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(err.to_string().contains("test.db"), "{err}");
        // Step 1 committed on its own; step 2 left nothing behind.
        assert_eq!(current_version(&conn).unwrap(), 1);
        assert!(table_exists(&conn, "bindings"));
        assert!(!table_exists(&conn, "half"));
    }

    #[test]
    fn newer_file_is_refused_with_both_versions() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 7).unwrap();
        // Only the first step, so the message stays stable as migrations are appended.
        let err = migrate(&mut conn, Path::new("/srv/callcomp.db"), &MIGRATIONS[..1]).unwrap_err();
        assert!(matches!(
            err,
            StoreError::NewerSchema {
                found: 7,
                known: 1,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "/srv/callcomp.db: database schema version 7 is newer than this callcomp (knows 1)"
        );
        // Nothing was touched.
        assert_eq!(current_version(&conn).unwrap(), 7);
        assert!(!table_exists(&conn, "bindings"));
    }

    #[test]
    fn tables_of_another_application_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY);")
            .unwrap();
        let err = check_foreign(&conn, &path, MIGRATIONS).unwrap_err();
        assert!(
            matches!(&err, StoreError::ForeignTables { tables, .. } if tables == &["invoices"]),
            "{err:?}"
        );
        // A callcomp file at version 1 with the version-2 table is fine only from version 2 on.
        let ours = Connection::open_in_memory().unwrap();
        ours.execute_batch(MIGRATIONS[0].sql).unwrap();
        ours.pragma_update(None, "user_version", 1).unwrap();
        check_foreign(&ours, Path::new("x.db"), MIGRATIONS).unwrap();
        ours.execute_batch(MIGRATIONS[1].sql).unwrap();
        assert!(matches!(
            check_foreign(&ours, Path::new("x.db"), MIGRATIONS),
            Err(StoreError::ForeignTables { .. })
        ));
    }

    #[test]
    fn the_id_high_water_mark_starts_past_the_stored_ids() {
        let mut conn = Connection::open_in_memory().unwrap();
        let path = Path::new(":memory:");
        migrate(&mut conn, path, &MIGRATIONS[..2]).unwrap();
        conn.execute_batch(
            "INSERT INTO completion_requests VALUES (41, 'a', 'b', 'callback', 'queued', 1, '{}');",
        )
        .unwrap();
        migrate(&mut conn, path, MIGRATIONS).unwrap();
        let next: i64 = conn
            .query_row(
                "SELECT value FROM store_meta WHERE key = 'next_completion_id'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(next, 42);
    }

    #[test]
    fn negative_version_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", -3).unwrap();
        let err = migrate(&mut conn, Path::new("x.db"), MIGRATIONS).unwrap_err();
        assert!(matches!(err, StoreError::ForeignSchema { found: -3, .. }));
    }
}
