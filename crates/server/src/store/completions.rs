//! Outstanding call-completion requests (DESIGN §5): each is written before the API answers
//! its acceptance, rewritten when its state changes, and deleted when it ends. At start the
//! server reads them back in queue order and hands them to the engine.
//!
//! The store does not interpret a request: `data` is the engine's own JSON of it (deadlines,
//! condition, queue place), next to a few columns kept for people reading the file and for
//! the index by callee.

use rusqlite::{params, Connection, Row};

use super::{Store, StoreError};

/// One stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCompletion {
    /// The completion id (never 0).
    pub completion_id: u32,
    /// The caller's line.
    pub line: String,
    /// The callee's line.
    pub target: String,
    /// The mode (`callback`, `campon`, `message`).
    pub mode: String,
    /// The state when written (`queued`, `ready`, …).
    pub state: String,
    /// The queue place: requests are reloaded in ascending `seq`.
    pub seq: u64,
    /// The engine's JSON of the request.
    pub data: String,
}

impl Store {
    /// Writes the request, replacing the row with the same id, and moves the id high-water
    /// mark past it (in the same savepoint).
    pub async fn upsert_completion(&self, row: StoredCompletion) -> Result<(), StoreError> {
        self.execute(move |conn| upsert(conn, &row)).await
    }

    /// Queues the write of [`Store::upsert_completion`]; the future gives its result after the
    /// commit (see [`Store::enqueue`]).
    pub(crate) async fn queue_upsert_completion(
        &self,
        row: StoredCompletion,
    ) -> Result<impl std::future::Future<Output = Result<(), StoreError>> + Send, StoreError> {
        self.enqueue(move |conn| upsert(conn, &row)).await
    }

    /// Queues the delete of [`Store::delete_completion`].
    pub(crate) async fn queue_delete_completion(
        &self,
        completion_id: u32,
    ) -> Result<impl std::future::Future<Output = Result<bool, StoreError>> + Send, StoreError>
    {
        self.enqueue(move |conn| delete(conn, completion_id)).await
    }

    /// The first completion id never issued: past every id ever written, even of requests
    /// long ended (DESIGN §2: ids do not repeat across restarts).
    pub async fn next_completion_id(&self) -> Result<u32, StoreError> {
        self.execute(|conn| {
            let next: i64 = conn.query_row(
                "SELECT value FROM store_meta WHERE key = 'next_completion_id'",
                [],
                |r| r.get(0),
            )?;
            // Past u32::MAX the ids wrap to 1 (the allocator skips outstanding ones).
            Ok(u32::try_from(next).ok().filter(|n| *n > 0).unwrap_or(1))
        })
        .await
    }

    /// Deletes request `completion_id`; returns whether it was stored.
    pub async fn delete_completion(&self, completion_id: u32) -> Result<bool, StoreError> {
        self.execute(move |conn| delete(conn, completion_id)).await
    }

    /// Every stored request, in queue order (ascending `seq`).
    pub async fn all_completions(&self) -> Result<Vec<StoredCompletion>, StoreError> {
        self.execute(|conn| {
            let mut stmt = conn.prepare(
                "SELECT completion_id, line, target, mode, state, seq, data \
                 FROM completion_requests ORDER BY seq, completion_id",
            )?;
            let rows = stmt.query_map([], row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

fn delete(conn: &Connection, completion_id: u32) -> Result<bool, StoreError> {
    let n = conn.execute(
        "DELETE FROM completion_requests WHERE completion_id = ?1",
        params![completion_id],
    )?;
    Ok(n > 0)
}

fn upsert(conn: &Connection, r: &StoredCompletion) -> Result<(), StoreError> {
    let seq = i64::try_from(r.seq).unwrap_or(i64::MAX);
    conn.execute(
        "INSERT INTO completion_requests (completion_id, line, target, mode, state, seq, data) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (completion_id) DO UPDATE SET line = ?2, target = ?3, mode = ?4, \
         state = ?5, seq = ?6, data = ?7",
        params![
            r.completion_id,
            r.line,
            r.target,
            r.mode,
            r.state,
            seq,
            r.data
        ],
    )?;
    conn.execute(
        "UPDATE store_meta SET value = max(value, ?1) WHERE key = 'next_completion_id'",
        params![i64::from(r.completion_id) + 1],
    )?;
    Ok(())
}

fn row(r: &Row<'_>) -> rusqlite::Result<StoredCompletion> {
    let seq: i64 = r.get(5)?;
    Ok(StoredCompletion {
        completion_id: r.get(0)?,
        line: r.get(1)?,
        target: r.get(2)?,
        mode: r.get(3)?,
        state: r.get(4)?,
        seq: u64::try_from(seq).unwrap_or(0),
        data: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row_of(id: u32, seq: u64) -> StoredCompletion {
        StoredCompletion {
            completion_id: id,
            line: "alice".into(),
            target: "bob".into(),
            mode: "callback".into(),
            state: "queued".into(),
            seq,
            data: format!("{{\"id\":{id}}}"),
        }
    }

    #[tokio::test]
    async fn upsert_replace_delete_and_queue_order() {
        let store = Store::open_in_memory().await.unwrap();
        store.upsert_completion(row_of(7, 2)).await.unwrap();
        store.upsert_completion(row_of(3, 1)).await.unwrap();
        let mut ready = row_of(7, 2);
        ready.state = "ready".into();
        store.upsert_completion(ready.clone()).await.unwrap();
        let all = store.all_completions().await.unwrap();
        assert_eq!(all, vec![row_of(3, 1), ready]);
        assert!(store.delete_completion(3).await.unwrap());
        assert!(!store.delete_completion(3).await.unwrap());
        assert_eq!(store.all_completions().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_next_id_stays_past_every_id_written_even_after_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let store = Store::open(&path).await.unwrap();
        assert_eq!(store.next_completion_id().await.unwrap(), 1);
        store.upsert_completion(row_of(7, 1)).await.unwrap();
        store.upsert_completion(row_of(3, 2)).await.unwrap();
        store.delete_completion(7).await.unwrap();
        store.delete_completion(3).await.unwrap();
        store.close().await.unwrap();
        let store = Store::open(&path).await.unwrap();
        assert!(store.all_completions().await.unwrap().is_empty());
        assert_eq!(store.next_completion_id().await.unwrap(), 8);
    }

    #[tokio::test]
    async fn id_zero_is_refused_by_the_schema() {
        let store = Store::open_in_memory().await.unwrap();
        assert!(store.upsert_completion(row_of(0, 1)).await.is_err());
    }
}
