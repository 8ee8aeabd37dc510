//! Registrar bindings (RFC 3261 §10.3): which contacts an address-of-record is reachable at,
//! until when. The registrar decides; this file only stores its decisions durably.
//!
//! Addresses-of-record and contact URIs are stored as the registrar gives them; it is the
//! registrar's job to put them in a canonical form first, so equal ones compare equal here.

use rusqlite::{params, Connection, Row};

use super::{Store, StoreError};

/// The largest q-value in thousandths (q=1.0).
pub const MAX_Q: u16 = 1_000;

/// One contact of an address-of-record, as accepted from a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The address-of-record, e.g. `sip:alice@example.com`.
    pub aor: String,
    /// The contact URI the AOR is reachable at (its wire form).
    pub contact_uri: String,
    /// When the binding lapses, in ms since the UNIX epoch.
    pub expires_at_ms: u64,
    /// The contact's q-value in thousandths, 0..=[`MAX_Q`] (q=0.5 is 500).
    pub q: u16,
    /// The Call-ID of the REGISTER that made or refreshed the binding.
    pub call_id: String,
    /// That REGISTER's CSeq number, to order refreshes within the Call-ID (RFC 3261 §10.3 step 7).
    pub cseq: u32,
    /// The source `address:port` the REGISTER came from.
    pub received: String,
    /// The transport it came over (`UDP`, `TCP`, ...).
    pub transport: String,
    /// The User-Agent header, empty when the phone sent none.
    pub user_agent: String,
    /// The `+sip.instance` of the contact (RFC 5626), when given.
    pub instance: Option<String>,
    /// When the binding was last written, in ms since the UNIX epoch.
    pub updated_at_ms: u64,
}

impl Store {
    /// Adds the binding, or overwrites the one with the same AOR and contact URI.
    pub async fn upsert_binding(&self, binding: Binding) -> Result<(), StoreError> {
        check_q(&binding)?;
        self.execute(move |conn| upsert(conn, &binding)).await
    }

    /// Removes one binding; returns whether it existed.
    pub async fn remove_binding(
        &self,
        aor: impl Into<String>,
        contact_uri: impl Into<String>,
    ) -> Result<bool, StoreError> {
        let (aor, contact_uri) = (aor.into(), contact_uri.into());
        self.execute(move |conn| {
            let n = conn.execute(
                "DELETE FROM bindings WHERE aor = ?1 AND contact_uri = ?2",
                params![aor, contact_uri],
            )?;
            Ok(n > 0)
        })
        .await
    }

    /// Removes every binding of `aor` (a `Contact: *` REGISTER); returns how many there were.
    pub async fn remove_aor(&self, aor: impl Into<String>) -> Result<usize, StoreError> {
        let aor = aor.into();
        self.execute(move |conn| Ok(delete_aor(conn, &aor)?)).await
    }

    /// Makes `bindings` the complete set of `aor`'s bindings, atomically: either all of the old
    /// set is replaced or, on any error, none of it is. This is the outcome of one REGISTER.
    /// Every binding must belong to `aor`; of two with the same contact URI the later wins.
    pub async fn replace_bindings(
        &self,
        aor: impl Into<String>,
        bindings: Vec<Binding>,
    ) -> Result<(), StoreError> {
        let aor = aor.into();
        check_set(&aor, &bindings)?;
        // The writer runs this in its own savepoint, so an error undoes the delete too.
        self.execute(move |conn| write_set(conn, &aor, &bindings))
            .await
    }

    /// Queues the write of [`Store::replace_bindings`]; the future gives its result after the
    /// commit (see [`Store::enqueue`]).
    pub(crate) async fn queue_replace_bindings(
        &self,
        aor: String,
        bindings: Vec<Binding>,
    ) -> Result<impl std::future::Future<Output = Result<(), StoreError>> + Send, StoreError> {
        check_set(&aor, &bindings)?;
        self.enqueue(move |conn| write_set(conn, &aor, &bindings))
            .await
    }

    /// Queues the delete of [`Store::purge_expired`].
    pub(crate) async fn queue_purge_expired(
        &self,
        now_ms: u64,
    ) -> Result<impl std::future::Future<Output = Result<usize, StoreError>> + Send, StoreError>
    {
        self.enqueue(move |conn| {
            Ok(conn.execute("DELETE FROM bindings WHERE expires_at_ms <= ?1", [now_ms])?)
        })
        .await
    }

    /// The bindings of `aor`, highest q first, then by contact URI. Expired ones are included
    /// until [`Store::purge_expired`] removes them; the caller compares with its own `now`.
    pub async fn bindings(&self, aor: impl Into<String>) -> Result<Vec<Binding>, StoreError> {
        let aor = aor.into();
        self.execute(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM bindings WHERE aor = ?1 ORDER BY q DESC, contact_uri"
            ))?;
            let rows = stmt.query_map([aor], from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Every stored binding, by AOR, then as [`Store::bindings`] orders them; for loading the
    /// registrar at start.
    pub async fn all_bindings(&self) -> Result<Vec<Binding>, StoreError> {
        self.execute(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM bindings ORDER BY aor, q DESC, contact_uri"
            ))?;
            let rows = stmt.query_map([], from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Removes every binding that has lapsed at `now_ms`, that is whose `expires_at_ms` is at or
    /// before it; returns how many were removed.
    pub async fn purge_expired(&self, now_ms: u64) -> Result<usize, StoreError> {
        self.execute(move |conn| {
            Ok(conn.execute("DELETE FROM bindings WHERE expires_at_ms <= ?1", [now_ms])?)
        })
        .await
    }
}

/// The columns in the order [`from_row`] reads them.
const COLUMNS: &str = "aor, contact_uri, expires_at_ms, q, call_id, cseq, received, transport, \
                       user_agent, instance, updated_at_ms";

fn check_q(b: &Binding) -> Result<(), StoreError> {
    if b.q > MAX_Q {
        return Err(StoreError::InvalidQ {
            contact_uri: b.contact_uri.clone(),
            q: b.q,
        });
    }
    Ok(())
}

fn upsert(conn: &Connection, b: &Binding) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO bindings ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (aor, contact_uri) DO UPDATE SET
             expires_at_ms = excluded.expires_at_ms, q = excluded.q,
             call_id = excluded.call_id, cseq = excluded.cseq,
             received = excluded.received, transport = excluded.transport,
             user_agent = excluded.user_agent, instance = excluded.instance,
             updated_at_ms = excluded.updated_at_ms"
    ))?;
    stmt.execute(params![
        b.aor,
        b.contact_uri,
        b.expires_at_ms,
        b.q,
        b.call_id,
        b.cseq,
        b.received,
        b.transport,
        b.user_agent,
        b.instance,
        b.updated_at_ms,
    ])?;
    Ok(())
}

fn delete_aor(conn: &Connection, aor: &str) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM bindings WHERE aor = ?1", [aor])
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Binding> {
    Ok(Binding {
        aor: row.get(0)?,
        contact_uri: row.get(1)?,
        expires_at_ms: row.get(2)?,
        q: row.get(3)?,
        call_id: row.get(4)?,
        cseq: row.get(5)?,
        received: row.get(6)?,
        transport: row.get(7)?,
        user_agent: row.get(8)?,
        instance: row.get(9)?,
        updated_at_ms: row.get(10)?,
    })
}

/// Checks a binding set before it is written: every binding of `aor`, each `q` in range.
fn check_set(aor: &str, bindings: &[Binding]) -> Result<(), StoreError> {
    for b in bindings {
        if b.aor != aor {
            return Err(StoreError::AorMismatch {
                aor: aor.to_owned(),
                found: b.aor.clone(),
            });
        }
        check_q(b)?;
    }
    Ok(())
}

/// Replaces the bindings of `aor` by `bindings` (inside the writer's savepoint, so an error
/// undoes the delete too).
fn write_set(
    conn: &rusqlite::Connection,
    aor: &str,
    bindings: &[Binding],
) -> Result<(), StoreError> {
    delete_aor(conn, aor)?;
    for b in bindings {
        upsert(conn, b)?;
    }
    Ok(())
}
