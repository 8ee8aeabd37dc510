//! Whether the store can keep its promise (DESIGN §5): the file the server opened is still the
//! file at the configured path, and the last write committed.
//!
//! SQLite keeps writing to a database file that was deleted or replaced under it: the writes
//! succeed, into an inode nobody will ever open again, and everything is gone at the next start.
//! So the store records the file's identity (device and inode) at open and compares it with
//! the path before every batch and at every health check; a mismatch makes the store
//! unavailable, and every write is refused until the file is back. A batch that fails to commit
//! (read-only file, I/O error, disk full) also marks the store unavailable, until a later batch
//! commits.
//!
//! The state is shared between the writer thread and the handles (the API's `/healthz`), so it
//! lives behind a mutex of its own; it changes rarely and is read once per batch.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use crate::api::metrics as m;

/// What is wrong with the store; `None` while it is healthy.
#[derive(Debug, Default)]
struct State {
    /// The database file at the path is gone or another file.
    file: Option<String>,
    /// The last batch did not commit.
    write: Option<String>,
}

/// The shared health of one store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StoreHealth {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The database file; `None` for an in-memory store, which has no file to lose.
    path: Option<PathBuf>,
    /// (device, inode) of the file at open.
    identity: Option<(u64, u64)>,
    state: Mutex<State>,
}

impl StoreHealth {
    /// The health of the file at `path`, whose identity is recorded now.
    pub(crate) fn of_file(path: PathBuf) -> Result<StoreHealth, std::io::Error> {
        let identity = identity(&path)?;
        let health = StoreHealth {
            inner: Arc::new(Inner {
                path: Some(path),
                identity: Some(identity),
                state: Mutex::new(State::default()),
            }),
        };
        health.publish(None);
        Ok(health)
    }

    /// The health of an in-memory store: only failed commits count.
    pub(crate) fn in_memory() -> StoreHealth {
        StoreHealth {
            inner: Arc::new(Inner {
                path: None,
                identity: None,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Looks at the file now; returns why the store cannot be written, or `None` when it can.
    pub fn check(&self) -> Option<String> {
        self.check_file();
        self.problem()
    }

    /// Looks at the file now; returns why it is not the file the store opened, if it is not.
    pub(crate) fn check_file(&self) -> Option<String> {
        let file = self.file_problem();
        let mut state = self.lock();
        let before = problem(&state);
        state.file = file.clone();
        let after = problem(&state);
        drop(state);
        self.transition(before.as_deref(), after.as_deref());
        file
    }

    /// Why the store cannot be written, as last seen, or `None` when it is healthy.
    pub fn problem(&self) -> Option<String> {
        problem(&self.lock())
    }

    /// Records the outcome of a batch's commit.
    pub(crate) fn record_commit(&self, outcome: Result<(), String>) {
        if outcome.is_err() {
            ::metrics::counter!(m::STORE_WRITE_FAILURES).increment(1);
        }
        let mut state = self.lock();
        let before = problem(&state);
        state.write = outcome.err().map(|e| format!("writes fail: {e}"));
        let after = problem(&state);
        drop(state);
        self.transition(before.as_deref(), after.as_deref());
    }

    fn file_problem(&self) -> Option<String> {
        let (path, expected) = (self.inner.path.as_ref()?, self.inner.identity?);
        match identity(path) {
            Ok(found) if found == expected => None,
            Ok(_) => Some(format!(
                "the database file {} was replaced by another file",
                path.display()
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Some(format!("the database file {} was deleted", path.display()))
            }
            Err(e) => Some(format!(
                "the database file {} cannot be checked: {e}",
                path.display()
            )),
        }
    }

    /// Logs and publishes a change of health.
    fn transition(&self, before: Option<&str>, after: Option<&str>) {
        if before == after {
            return;
        }
        match after {
            Some(reason) => tracing::error!(
                reason,
                "store unavailable: acknowledgements are refused until it is fixed"
            ),
            None => tracing::info!("store available again"),
        }
        self.publish(after);
    }

    fn publish(&self, problem: Option<&str>) {
        ::metrics::gauge!(m::STORE_UP).set(if problem.is_none() { 1.0 } else { 0.0 });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one still holds a valid state.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn problem(state: &State) -> Option<String> {
    state.file.clone().or_else(|| state.write.clone())
}

#[cfg(unix)]
fn identity(path: &std::path::Path) -> Result<(u64, u64), std::io::Error> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// Without inode numbers only the file's existence is checked.
#[cfg(not(unix))]
fn identity(path: &std::path::Path) -> Result<(u64, u64), std::io::Error> {
    std::fs::metadata(path).map(|_| (0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_or_replaced_file_is_a_problem_until_it_is_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        std::fs::write(&path, b"x").unwrap();
        let health = StoreHealth::of_file(path.clone()).unwrap();
        assert_eq!(health.check(), None);

        let aside = dir.path().join("aside");
        std::fs::rename(&path, &aside).unwrap();
        let gone = health.check().unwrap();
        assert!(gone.contains("was deleted"), "{gone}");
        assert_eq!(health.problem(), Some(gone));

        std::fs::write(&path, b"x").unwrap();
        let other = health.check().unwrap();
        assert!(other.contains("replaced"), "{other}");

        std::fs::remove_file(&path).unwrap();
        std::fs::rename(&aside, &path).unwrap();
        assert_eq!(health.check(), None, "the same file is back");
    }

    #[test]
    fn a_failed_commit_is_a_problem_until_one_commits() {
        let health = StoreHealth::in_memory();
        health.record_commit(Err("disk I/O error".into()));
        assert_eq!(
            health.problem().as_deref(),
            Some("writes fail: disk I/O error")
        );
        assert!(health.check().is_some(), "a check of the file keeps it");
        health.record_commit(Ok(()));
        assert_eq!(health.problem(), None);
    }
}
