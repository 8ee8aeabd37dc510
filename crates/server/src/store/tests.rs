//! Store-level tests: open and migrate real files, durability across reopen, bindings,
//! concurrency through the writer thread.

use std::path::PathBuf;

use rusqlite::Connection;

use super::*;

fn binding(aor: &str, contact: &str, expires_at_ms: u64) -> Binding {
    Binding {
        aor: aor.into(),
        contact_uri: contact.into(),
        expires_at_ms,
        q: 1000,
        call_id: format!("cid-{contact}"),
        cseq: 1,
        received: "192.0.2.10:5060".into(),
        transport: "UDP".into(),
        user_agent: "test-phone/1.0".into(),
        instance: None,
        updated_at_ms: 1_000,
    }
}

const ALICE: &str = "sip:alice@example.com";
const BOB: &str = "sip:bob@example.com";

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("callcomp.db")
}

#[tokio::test]
async fn open_creates_file_at_latest_schema_with_pragmas() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    assert!(!path.exists());
    let store = Store::open(&path).await.unwrap();
    assert!(path.exists());
    let status = store.status().await.unwrap();
    assert_eq!(
        status,
        StoreStatus {
            schema_version: latest_version(),
            journal_mode: "wal".into(),
            synchronous: 2, // FULL
            foreign_keys: true,
            busy_timeout_ms: BUSY_TIMEOUT_MS,
        }
    );
    store.close().await.unwrap();

    // WAL is recorded in the file itself; a fresh connection sees it and the schema.
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'bindings'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1);
}

#[tokio::test]
async fn reopen_is_idempotent_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = Store::open(&path).await.unwrap();
    store
        .upsert_binding(binding(ALICE, "sip:alice@192.0.2.10", 60_000))
        .await
        .unwrap();
    store.close().await.unwrap();

    for _ in 0..2 {
        let store = Store::open(&path).await.unwrap();
        assert_eq!(
            store.status().await.unwrap().schema_version,
            latest_version()
        );
        assert_eq!(store.bindings(ALICE).await.unwrap().len(), 1);
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn newer_schema_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let newer = i64::from(latest_version()) + 6;
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", newer).unwrap();
    }
    let err = Store::open(&path).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found, known, .. } if found == newer && known == latest_version())
    );
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains(&format!(
            "database schema version {newer} is newer than this callcomp (knows {})",
            latest_version()
        )),
        "{message}"
    );
    // The file was left as it was.
    let conn = Connection::open(&path).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, newer);
    assert_untouched(&path, "delete");
}

/// The journal mode of the file and that SQLite left no write-ahead log beside it.
fn assert_untouched(path: &std::path::Path, mode: &str) {
    let conn = Connection::open(path).unwrap();
    let found: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(found, mode, "journal mode changed");
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(!wal.exists(), "a WAL file was created");
}

#[tokio::test]
async fn a_database_of_another_application_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER);")
            .unwrap();
    }
    let err = Store::open(&path).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::ForeignTables { tables, .. } if tables == &["invoices"]),
        "{err:?}"
    );
    assert!(err.to_string().contains("invoices"), "{err}");
    assert_untouched(&path, "delete");
    let conn = Connection::open(&path).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, 0, "no migration ran");
}

/// The file deleted, then replaced, under an open store: every write is refused with the
/// reason (nothing is committed into the lost file), and the health says so.
#[tokio::test]
async fn a_deleted_or_replaced_file_refuses_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = Store::open(&path).await.unwrap();
    store
        .upsert_binding(binding(ALICE, "sip:alice@192.0.2.10", 60_000))
        .await
        .unwrap();
    assert_eq!(store.health().check(), None);

    std::fs::remove_file(&path).unwrap();
    let err = store
        .upsert_binding(binding(BOB, "sip:bob@192.0.2.11", 60_000))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable { reason } if reason.contains("was deleted")),
        "{err:?}"
    );
    assert!(store.health().problem().unwrap().contains("was deleted"));

    // Another file at the path is not ours either.
    {
        let other = Connection::open(&path).unwrap();
        other.execute_batch("CREATE TABLE x (y);").unwrap();
    }
    let err = store.remove_aor(ALICE).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable { reason } if reason.contains("replaced")),
        "{err:?}"
    );
    assert!(store.health().check().unwrap().contains("replaced"));
}

#[tokio::test]
async fn open_error_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("callcomp.db");
    let err = Store::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    std::fs::write(
        &path,
        b"this is a text file, not SQLite, and it is long enough to matter",
    )
    .unwrap();
    let err = Store::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
}

#[tokio::test]
async fn bindings_round_trip_every_field() {
    let store = Store::open_in_memory().await.unwrap();
    let mut a1 = binding(ALICE, "sip:alice@192.0.2.10:5062;transport=tcp", 3_600_000);
    a1.q = 500;
    a1.cseq = u32::MAX;
    a1.instance = Some("<urn:uuid:00000000-0000-1000-8000-000a95a0e128>".into());
    a1.user_agent = String::new();
    a1.transport = "TCP".into();
    a1.received = "[2001:db8::1]:5062".into();
    a1.updated_at_ms = 1_700_000_000_123;
    let mut a2 = binding(ALICE, "sip:alice@198.51.100.7", 7_200_000);
    a2.q = 1000;
    let b1 = binding(BOB, "sip:bob@192.0.2.20", 60_000);
    for b in [a1.clone(), a2.clone(), b1.clone()] {
        store.upsert_binding(b).await.unwrap();
    }
    // Highest q first.
    assert_eq!(
        store.bindings(ALICE).await.unwrap(),
        vec![a2.clone(), a1.clone()]
    );
    assert_eq!(store.bindings(BOB).await.unwrap(), vec![b1.clone()]);
    assert_eq!(
        store.bindings("sip:carol@example.com").await.unwrap(),
        vec![]
    );
    assert_eq!(
        store.all_bindings().await.unwrap(),
        vec![a2.clone(), a1.clone(), b1.clone()]
    );

    // Upsert overwrites the row with the same key.
    let mut refreshed = a1.clone();
    refreshed.expires_at_ms = 9_999_999;
    refreshed.cseq = 2;
    refreshed.instance = None;
    store.upsert_binding(refreshed.clone()).await.unwrap();
    assert_eq!(
        store.bindings(ALICE).await.unwrap(),
        vec![a2.clone(), refreshed]
    );

    assert!(store.remove_binding(ALICE, &a2.contact_uri).await.unwrap());
    assert!(!store.remove_binding(ALICE, &a2.contact_uri).await.unwrap());
    assert_eq!(store.bindings(ALICE).await.unwrap().len(), 1);
    assert_eq!(store.remove_aor(ALICE).await.unwrap(), 1);
    assert_eq!(store.remove_aor(ALICE).await.unwrap(), 0);
    assert_eq!(store.all_bindings().await.unwrap(), vec![b1]);
}

#[tokio::test]
async fn invalid_q_is_refused_before_writing() {
    let store = Store::open_in_memory().await.unwrap();
    let mut b = binding(ALICE, "sip:alice@192.0.2.10", 60_000);
    b.q = 1001;
    let err = store.upsert_binding(b.clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidQ { q: 1001, .. }));
    let err = store.replace_bindings(ALICE, vec![b]).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidQ { q: 1001, .. }));
    assert!(store.all_bindings().await.unwrap().is_empty());
}

#[tokio::test]
async fn replace_swaps_the_whole_set_of_one_aor() {
    let store = Store::open_in_memory().await.unwrap();
    let old1 = binding(ALICE, "sip:alice@192.0.2.10", 60_000);
    let old2 = binding(ALICE, "sip:alice@192.0.2.11", 60_000);
    let bob = binding(BOB, "sip:bob@192.0.2.20", 60_000);
    for b in [old1.clone(), old2, bob.clone()] {
        store.upsert_binding(b).await.unwrap();
    }
    let mut kept = old1.clone();
    kept.cseq = 2;
    let new = binding(ALICE, "sip:alice@192.0.2.12", 120_000);
    store
        .replace_bindings(ALICE, vec![kept.clone(), new.clone()])
        .await
        .unwrap();
    assert_eq!(store.bindings(ALICE).await.unwrap(), vec![kept, new]);
    assert_eq!(store.bindings(BOB).await.unwrap(), vec![bob.clone()]);

    // An empty set removes the AOR's bindings (REGISTER with Expires: 0 for all).
    store.replace_bindings(ALICE, Vec::new()).await.unwrap();
    assert!(store.bindings(ALICE).await.unwrap().is_empty());
    assert_eq!(store.bindings(BOB).await.unwrap(), vec![bob]);
}

#[tokio::test]
async fn replace_that_fails_midway_changes_nothing() {
    let store = Store::open_in_memory().await.unwrap();
    let old1 = binding(ALICE, "sip:alice@192.0.2.10", 60_000);
    let old2 = binding(ALICE, "sip:alice@192.0.2.11", 60_000);
    store.upsert_binding(old1.clone()).await.unwrap();
    store.upsert_binding(old2.clone()).await.unwrap();

    // The second binding cannot be stored (SQLite integers stop at i64::MAX), so the failure
    // comes after the delete and the first insert have run.
    let good = binding(ALICE, "sip:alice@192.0.2.12", 60_000);
    let bad = binding(ALICE, "sip:alice@192.0.2.13", u64::MAX);
    let err = store
        .replace_bindings(ALICE, vec![good, bad])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
    assert_eq!(store.bindings(ALICE).await.unwrap(), vec![old1, old2]);

    // A binding of another AOR is refused up front.
    let err = store
        .replace_bindings(ALICE, vec![binding(BOB, "sip:bob@192.0.2.20", 1)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AorMismatch { .. }));
    assert_eq!(store.bindings(ALICE).await.unwrap().len(), 2);
}

#[tokio::test]
async fn purge_removes_bindings_at_exactly_their_expiry() {
    let store = Store::open_in_memory().await.unwrap();
    let early = binding(ALICE, "sip:alice@192.0.2.10", 10_000);
    let late = binding(ALICE, "sip:alice@192.0.2.11", 10_001);
    let bob = binding(BOB, "sip:bob@192.0.2.20", 20_000);
    for b in [early.clone(), late.clone(), bob.clone()] {
        store.upsert_binding(b).await.unwrap();
    }
    // (now, removed by this purge, what remains)
    let table: [(u64, usize, Vec<&Binding>); 5] = [
        (9_999, 0, vec![&early, &late, &bob]),
        (10_000, 1, vec![&late, &bob]),
        (10_000, 0, vec![&late, &bob]),
        (10_001, 1, vec![&bob]),
        (20_000, 1, vec![]),
    ];
    for (now, removed, remaining) in table {
        assert_eq!(
            store.purge_expired(now).await.unwrap(),
            removed,
            "now = {now}"
        );
        let want: Vec<Binding> = remaining.into_iter().cloned().collect();
        assert_eq!(store.all_bindings().await.unwrap(), want, "now = {now}");
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_drop_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let b = binding(ALICE, "sip:alice@192.0.2.10", 60_000);
    {
        let store = Store::open(&path).await.unwrap();
        store.upsert_binding(b.clone()).await.unwrap();
        // Dropped, not closed.
        drop(store);
    }
    let store = Store::open(&path).await.unwrap();
    assert_eq!(store.all_bindings().await.unwrap(), vec![b]);
}

#[tokio::test]
async fn a_write_is_on_disk_when_its_call_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = Store::open(&path).await.unwrap();
    store
        .upsert_binding(binding(ALICE, "sip:alice@192.0.2.10", 60_000))
        .await
        .unwrap();
    // The store is still open: another connection must already see the committed row.
    let conn = Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM bindings WHERE aor = ?1",
            [ALICE],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_writes_are_all_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = Store::open(&path).await.unwrap();
    const N: usize = 300;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        let store = store.clone();
        tasks.spawn(async move {
            let aor = format!("sip:user{}@example.com", i % 7);
            let contact = format!("sip:phone{i}@192.0.2.1");
            store.upsert_binding(binding(&aor, &contact, 60_000)).await
        });
    }
    let mut ok = 0;
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
        ok += 1;
    }
    assert_eq!(ok, N);
    assert_eq!(store.all_bindings().await.unwrap().len(), N);
    store.close().await.unwrap();

    // And on disk, read by a connection of our own.
    let conn = Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM bindings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, N as i64);
}

#[tokio::test]
async fn close_stops_every_clone() {
    let store = Store::open_in_memory().await.unwrap();
    let other = store.clone();
    store.close().await.unwrap();
    assert!(matches!(
        other.all_bindings().await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(
        other.clone().close().await,
        Err(StoreError::Closed)
    ));
}

#[tokio::test]
async fn in_memory_store_has_the_schema() {
    let store = Store::open_in_memory().await.unwrap();
    let status = store.status().await.unwrap();
    assert_eq!(status.schema_version, latest_version());
    assert_eq!(status.journal_mode, "memory");
    assert_eq!(status.synchronous, 2);
}
