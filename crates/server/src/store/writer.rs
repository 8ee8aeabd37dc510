//! The writer thread: the only owner of the connection, running queued commands in batches.
//!
//! Each wake-up takes every command already waiting (up to [`MAX_BATCH`]) and runs them in one
//! `BEGIN IMMEDIATE` transaction, each inside a savepoint so a failing command is undone alone.
//! Replies are sent only after `COMMIT` returned, so a reply means "on disk". If the commit
//! itself fails, every command of the batch gets the error and nothing of the batch is stored.

use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::health::StoreHealth;
use super::StoreError;

/// The most commands run in one transaction; bounds the latency a long queue adds to the first.
pub(crate) const MAX_BATCH: usize = 256;

/// What the handles send to the writer thread.
pub(crate) enum Message {
    /// Run a command in the next batch.
    Job(Box<dyn Job>),
    /// Run what is queued, close the connection, stop, then reply with the close result.
    Close(oneshot::Sender<Result<(), StoreError>>),
}

/// A type-erased command: runs against the connection, then delivers its result.
pub(crate) trait Job: Send {
    /// Runs the command inside the batch transaction; returns whether it succeeded (a failed
    /// command's savepoint is rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Sends the result to the caller once the batch's fate is known: `batch` is `Err` when
    /// the transaction did not commit.
    fn finish(self: Box<Self>, batch: Result<(), StoreError>);
}

/// Counters of one writer's life, logged when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WriterStats {
    /// Transactions run.
    pub(crate) batches: u64,
    /// Commands run.
    pub(crate) commands: u64,
}

/// Wraps `work` as a job; the receiver yields its result after the commit.
pub(crate) fn job<T, F>(work: F) -> (Box<dyn Job>, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, receiver) = oneshot::channel();
    let job = Call {
        work: Some(work),
        outcome: None,
        reply,
    };
    (Box::new(job), receiver)
}

/// Runs commands until every handle is gone or a [`Message::Close`] arrives, then closes the
/// connection. Commands queued before the stop are all run.
pub(crate) fn run(
    mut conn: Connection,
    mut receiver: mpsc::Receiver<Message>,
    health: &StoreHealth,
) -> WriterStats {
    let mut stats = WriterStats::default();
    let mut messages = Vec::with_capacity(MAX_BATCH);
    let mut close_reply = None;
    loop {
        messages.clear();
        if receiver.blocking_recv_many(&mut messages, MAX_BATCH) == 0 {
            break; // every handle dropped and the queue is empty
        }
        let mut jobs = Vec::with_capacity(messages.len());
        for message in messages.drain(..) {
            match message {
                Message::Job(job) => jobs.push(job),
                Message::Close(reply) => {
                    // Refuse new commands but still run the ones already queued.
                    receiver.close();
                    close_reply = Some(reply);
                }
            }
        }
        if !jobs.is_empty() {
            stats.batches += 1;
            stats.commands += jobs.len() as u64;
            run_batch(&mut conn, jobs, health);
        }
    }
    let closed = conn
        .close()
        .map_err(|(_, e)| StoreError::Sqlite(Arc::new(e)));
    if let Err(e) = &closed {
        tracing::error!(error = %e, "closing the store database failed");
    }
    if let Some(reply) = close_reply {
        let _ = reply.send(closed);
    }
    stats
}

/// Runs `jobs` in one transaction and delivers every result after the commit. When the file
/// at the path is no longer the one open (deleted, replaced), nothing runs: every job gets
/// [`StoreError::Unavailable`], since a commit into a lost file would be a lie.
fn run_batch(conn: &mut Connection, mut jobs: Vec<Box<dyn Job>>, health: &StoreHealth) {
    if let Some(reason) = health.check_file() {
        let refused = Err(StoreError::Unavailable { reason });
        for job in jobs {
            job.finish(refused.clone());
        }
        return;
    }
    let outcome = run_in_transaction(conn, &mut jobs);
    if let Err(e) = &outcome {
        tracing::error!(error = %e, commands = jobs.len(), "store batch did not commit");
    }
    health.record_commit(outcome.as_ref().map(|_| ()).map_err(ToString::to_string));
    for job in jobs {
        job.finish(outcome.clone());
    }
}

fn run_in_transaction(conn: &mut Connection, jobs: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    let commit_err = |e| StoreError::Commit(Arc::new(e));
    // On any early return `tx` is dropped, which rolls the whole batch back.
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(commit_err)?;
    for job in jobs.iter_mut() {
        let mut savepoint = tx.savepoint().map_err(commit_err)?;
        if job.run(&savepoint) {
            savepoint.commit().map_err(commit_err)?;
        } else {
            savepoint.rollback().map_err(commit_err)?;
            savepoint.finish().map_err(commit_err)?;
        }
    }
    tx.commit().map_err(commit_err)
}

/// A typed command and the channel its caller waits on.
struct Call<T, F> {
    /// Taken when run.
    work: Option<F>,
    /// Set when run.
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Call<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let outcome = work(conn);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, batch: Result<(), StoreError>) {
        let result = match (batch, self.outcome) {
            // The command's own error is the more precise one, committed or not.
            (_, Some(Err(own))) => Err(own),
            (Ok(()), Some(Ok(value))) => Ok(value),
            (Err(batch), _) => Err(batch),
            // Unreachable: a committed batch has run every job. Report it as lost, not Ok.
            (Ok(()), None) => Err(StoreError::Closed),
        };
        // The caller may have stopped waiting; its command still ran.
        let _ = self.reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);")
            .unwrap();
        conn
    }

    fn insert(id: i64) -> impl FnOnce(&Connection) -> Result<i64, StoreError> + Send + 'static {
        move |c: &Connection| {
            c.execute("INSERT INTO t (id, v) VALUES (?1, 'x')", [id])?;
            Ok(id)
        }
    }

    /// Queues `n` messages before the writer starts, so they are all waiting at its first
    /// wake-up, then runs the writer to the end on this thread.
    #[test]
    fn queued_commands_share_one_transaction() {
        let (sender, receiver) = mpsc::channel(16);
        let mut replies = Vec::new();
        for id in 1..=5 {
            let (job, reply) = job(insert(id));
            sender
                .try_send(Message::Job(job))
                .unwrap_or_else(|_| panic!("queue full"));
            replies.push(reply);
        }
        drop(sender);
        let stats = run(conn(), receiver, &StoreHealth::in_memory());
        assert_eq!(
            stats,
            WriterStats {
                batches: 1,
                commands: 5
            }
        );
        for (id, mut reply) in (1..=5).zip(replies) {
            assert_eq!(reply.try_recv().unwrap().unwrap(), id);
        }
    }

    #[test]
    fn a_failing_command_is_undone_alone() {
        let (sender, receiver) = mpsc::channel(16);
        let (a, mut ra) = job(insert(1));
        // Inserts a row, then fails on a duplicate key: its own insert must be undone.
        let (b, mut rb) = job(|c: &Connection| -> Result<(), StoreError> {
            c.execute("INSERT INTO t (id, v) VALUES (2, 'b')", [])?;
            c.execute("INSERT INTO t (id, v) VALUES (1, 'dup')", [])?;
            Ok(())
        });
        let (c, mut rc) = job(insert(3));
        let (count, mut rcount) = job(|c: &Connection| {
            Ok(c.query_row(
                "SELECT group_concat(id) FROM (SELECT id FROM t ORDER BY id)",
                [],
                |r| r.get::<_, String>(0),
            )?)
        });
        for j in [a, b, c, count] {
            sender
                .try_send(Message::Job(j))
                .unwrap_or_else(|_| panic!("queue full"));
        }
        drop(sender);
        let stats = run(conn(), receiver, &StoreHealth::in_memory());
        assert_eq!(stats.batches, 1);
        assert_eq!(ra.try_recv().unwrap().unwrap(), 1);
        assert!(matches!(rb.try_recv().unwrap(), Err(StoreError::Sqlite(_))));
        assert_eq!(rc.try_recv().unwrap().unwrap(), 3);
        assert_eq!(rcount.try_recv().unwrap().unwrap(), "1,3");
    }

    #[test]
    fn a_batch_that_cannot_commit_fails_every_command_in_it() {
        let (sender, receiver) = mpsc::channel(16);
        let (a, mut ra) = job(insert(1));
        // Ends the batch transaction behind the writer's back, so releasing its savepoint and
        // committing fail: nobody in the batch may be told "stored".
        let (b, mut rb) = job(|c: &Connection| -> Result<(), StoreError> {
            c.execute_batch("ROLLBACK")?;
            Ok(())
        });
        for j in [a, b] {
            sender
                .try_send(Message::Job(j))
                .unwrap_or_else(|_| panic!("queue full"));
        }
        drop(sender);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let file = Connection::open(&path).unwrap();
        file.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);")
            .unwrap();
        let stats = run(file, receiver, &StoreHealth::in_memory());
        assert_eq!(stats.batches, 1);
        assert!(matches!(ra.try_recv().unwrap(), Err(StoreError::Commit(_))));
        assert!(matches!(rb.try_recv().unwrap(), Err(StoreError::Commit(_))));
        let reread = Connection::open(&path).unwrap();
        let rows: i64 = reread
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0, "nothing of a failed batch is stored");
    }

    #[test]
    fn close_runs_what_was_queued_before_it_and_refuses_the_rest() {
        let (sender, receiver) = mpsc::channel(16);
        let (a, mut ra) = job(insert(1));
        let (close, mut closed) = oneshot::channel();
        sender
            .try_send(Message::Job(a))
            .unwrap_or_else(|_| panic!("queue full"));
        sender
            .try_send(Message::Close(close))
            .unwrap_or_else(|_| panic!("queue full"));
        let (late, _late_reply) = job(insert(2));
        sender
            .try_send(Message::Job(late))
            .unwrap_or_else(|_| panic!("queue full"));
        let handle = std::thread::spawn(move || run(conn(), receiver, &StoreHealth::in_memory()));
        let stats = handle.join().unwrap();
        // The late job was already queued when Close was read, so it ran too.
        assert_eq!(stats.commands, 2);
        assert_eq!(ra.try_recv().unwrap().unwrap(), 1);
        assert!(closed.try_recv().unwrap().is_ok());
        // The queue is closed: nothing more can be sent.
        let (after, _) = job(insert(3));
        assert!(sender.try_send(Message::Job(after)).is_err());
    }
}
