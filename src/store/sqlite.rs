//! The default log store: one SQLite file in WAL mode with `synchronous=FULL`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, Row, ToSql, TransactionBehavior, params};

use super::{
    Failure, FailureQuery, Invitation, InvitationQuery, LogEntry, Store, StoreError, TIME_WIDTH,
    check_times, format_time, storable_time,
};
use crate::event::EventKind;

/// The schema, one step per version. Step `i` takes the database from `user_version = i` to
/// `user_version = i + 1`. Never edit a released step: append a new one.
const MIGRATIONS: &[&str] = &[
    // Version 1: the initial schema.
    "CREATE TABLE invitations (
        id               INTEGER PRIMARY KEY,
        portal           TEXT NOT NULL,
        record_id        TEXT NOT NULL,
        record_name      TEXT,
        language         TEXT NOT NULL,
        sender_group     TEXT,
        email            TEXT NOT NULL,
        event            TEXT NOT NULL,
        time             TEXT NOT NULL,
        rule_set_version TEXT NOT NULL,
        active           INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX invitations_active_key ON invitations (portal, record_id) WHERE active = 1;
    CREATE TABLE failures (
        id               INTEGER PRIMARY KEY,
        portal           TEXT NOT NULL,
        record_id        TEXT NOT NULL,
        record_name      TEXT,
        email            TEXT,
        language         TEXT,
        reason           TEXT NOT NULL,
        message          TEXT NOT NULL,
        time             TEXT NOT NULL,
        rule_set_version TEXT
    );
    CREATE INDEX failures_time ON failures (time);
    CREATE INDEX failures_portal_time ON failures (portal, time);",
    // Version 2: the index of active invitations leads with the record id. Its B-tree is
    // searched on every invitation logged; with the portal first, most comparisons on the way
    // down found equal portals and went on to the record id through SQLite's general record
    // comparison (6.5% of `herald route`'s instructions).
    "DROP INDEX invitations_active_key;
    CREATE INDEX invitations_active_id ON invitations (record_id, portal) WHERE active = 1;",
];

/// Page size for new files (SQLite's default is 4096): larger pages mean fewer B-tree page
/// splits and less per-page work when appending at high rates (about 12% less CPU measured).
const PAGE_SIZE: i64 = 16384;

/// The page cache per connection; negative means KiB, so 32 MiB (SQLite's default is about
/// 2 MiB): big enough that appending keeps the hot B-tree pages in memory instead of
/// re-reading them from the WAL and the database file.
const CACHE_SIZE_KIB: i64 = -32768;

/// Checkpoint the WAL into the database file every this many pages (SQLite's default is
/// 1000). Fewer, larger checkpoints mean fewer `fsync`s of the database file at high append
/// rates; the WAL file grows to about this many pages (32 MiB with 16 KiB pages) between
/// checkpoints.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 2048;

/// The newest schema version this build knows.
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const INSERT_INVITATION: &str = "INSERT INTO invitations
    (portal, record_id, record_name, language, sender_group, email, event, time,
     rule_set_version, active)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)";

/// Invitations inserted by one execution of [`insert_invitations_sql`]: one statement per row
/// costs SQLite a cursor setup, a program start and a reset each time; `herald route` logs
/// about one invitation per two events.
const ROWS_PER_INSERT: usize = 16;

/// Parameters per invitation row in [`INSERT_INVITATION`] and [`insert_invitations_sql`].
const INVITATION_PARAMS: usize = 9;

/// Inserts the entries, in order, inside the transaction open on `conn`.
fn insert_entries(
    conn: &Connection,
    name: &str,
    waited: Duration,
    entries: &[LogEntry],
) -> Result<(), StoreError> {
    let map = |e| map_error(name, waited, e);
    {
        let mut insert_invitation = conn.prepare_cached(INSERT_INVITATION).map_err(map)?;
        let mut insert_invitations = conn.prepare_cached(insert_invitations_sql()).map_err(map)?;
        let mut insert_failure = conn.prepare_cached(INSERT_FAILURE).map_err(map)?;
        let mut deactivate = conn.prepare_cached(DEACTIVATE).map_err(map)?;
        // Parameters are bound by index, and those a batch's entries usually share (portal,
        // group, event, time, rule-set version) only when they differ from the previous
        // row's: SQLite keeps a statement's bindings across executions, and binding text
        // copies it.
        // Invitations wait in `pending` until there are enough for one multi-row insert;
        // the rest go one by one at the end. Each row position keeps its own shared values.
        let mut inv = SharedParams::default();
        let mut inv_rows: [SharedParams; ROWS_PER_INSERT] = Default::default();
        let mut pending: Vec<&Invitation> = Vec::with_capacity(ROWS_PER_INSERT);
        let mut fail = SharedParams::default();
        for entry in entries {
            match entry {
                LogEntry::Invited(i) => {
                    pending.push(i);
                    if pending.len() == ROWS_PER_INSERT {
                        let s = &mut insert_invitations;
                        for (row, (i, shared)) in pending.iter().zip(&mut inv_rows).enumerate() {
                            bind_invitation(s, row * INVITATION_PARAMS, shared, i)?.map_err(map)?;
                        }
                        s.raw_execute().map_err(map)?;
                        pending.clear();
                    }
                }
                LogEntry::Failed(f) | LogEntry::DeliveryFailed(f) => {
                    let s = &mut insert_failure;
                    bind_changed(s, 1, &mut fail.portal, Some(f.portal.as_str())).map_err(map)?;
                    s.raw_bind_parameter(2, &f.record_id).map_err(map)?;
                    s.raw_bind_parameter(3, &f.record_name).map_err(map)?;
                    s.raw_bind_parameter(4, &f.email).map_err(map)?;
                    s.raw_bind_parameter(5, &f.language).map_err(map)?;
                    s.raw_bind_parameter(6, &f.reason).map_err(map)?;
                    s.raw_bind_parameter(7, &f.message).map_err(map)?;
                    fail.time(s, 8, f.time)?.map_err(map)?;
                    bind_changed(s, 9, &mut fail.version, f.rule_set_version.as_deref())
                        .map_err(map)?;
                    s.raw_execute().map_err(map)?;
                    if matches!(entry, LogEntry::DeliveryFailed(_)) {
                        // The invitations before it are in the log first.
                        for i in pending.drain(..) {
                            bind_invitation(&mut insert_invitation, 0, &mut inv, i)?
                                .map_err(map)?;
                            insert_invitation.raw_execute().map_err(map)?;
                        }
                        deactivate
                            .execute(params![f.portal, f.record_id])
                            .map_err(map)?;
                    }
                }
            }
        }
        for i in pending {
            bind_invitation(&mut insert_invitation, 0, &mut inv, i)?.map_err(map)?;
            insert_invitation.raw_execute().map_err(map)?;
        }
    }
    Ok(())
}

/// `INSERT_INVITATION` for [`ROWS_PER_INSERT`] rows: row `r` takes parameters
/// `9r + 1 ..= 9r + 9`, in the order of `INSERT_INVITATION`.
///
/// `OR FAIL`: with the default `ABORT`, SQLite undoes a failed statement's earlier rows, so a
/// statement that writes several rows first copies every page it touches to a statement
/// journal, a temporary file (measured: 8 times as many `pwrite` calls for `herald route`).
/// `FAIL` keeps them instead, and that is enough here: any error drops the whole transaction.
fn insert_invitations_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let mut sql = String::from(
            "INSERT OR FAIL INTO invitations
    (portal, record_id, record_name, language, sender_group, email, event, time,
     rule_set_version, active)
    VALUES ",
        );
        for row in 0..ROWS_PER_INSERT {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for p in 1..=INVITATION_PARAMS {
                let _ = write!(sql, "?{}, ", row * INVITATION_PARAMS + p);
            }
            sql.push_str("1)");
        }
        sql
    })
}

const INSERT_FAILURE: &str = "INSERT INTO failures
    (portal, record_id, record_name, email, language, reason, message, time, rule_set_version)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

const DEACTIVATE: &str =
    "UPDATE invitations SET active = 0 WHERE portal = ?1 AND record_id = ?2 AND active = 1";

/// How to open a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a write waits for another connection's lock before failing with
    /// [`StoreError::Locked`]. Default: 5 seconds.
    pub busy_timeout: Duration,
    /// Caps the database size in pages (`PRAGMA max_page_count`); `None` leaves SQLite's
    /// default. Mainly for tests of the disk-full path.
    pub max_page_count: Option<u32>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            busy_timeout: Duration::from_secs(5),
            max_page_count: None,
        }
    }
}

/// The log in an SQLite database.
///
/// Every [`Store::append`] is one transaction, committed with `synchronous=FULL` in WAL mode,
/// so a batch that was acknowledged survives a crash or power loss.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    /// The path as given, for error messages.
    name: String,
    busy_timeout: Duration,
}

impl SqliteStore {
    /// Opens (creating if needed) the log at `path` with the default [`StoreOptions`].
    ///
    /// As with SQLite itself, a path starting with `file:` is read as an SQLite URI
    /// (for example `file:herald.db?mode=ro` opens it read-only).
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, StoreOptions::default())
    }

    /// Opens (creating if needed) the log at `path`: sets WAL mode, `synchronous=FULL` and the
    /// busy timeout, then brings the schema up to date. A database written by a newer Herald
    /// is refused with [`StoreError::TooNew`].
    pub fn open_with(path: &Path, options: StoreOptions) -> Result<SqliteStore, StoreError> {
        let name = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| open_error(&name, e))?;
        SqliteStore::setup(conn, name, options)
    }

    /// A private in-memory SQLite log (lost when dropped). Same SQL as the file store.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let name = ":memory:".to_string();
        let conn = Connection::open_in_memory().map_err(|e| open_error(&name, e))?;
        SqliteStore::setup(conn, name, StoreOptions::default())
    }

    /// The schema version the database is at after opening (its `PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// The newest schema version this build of Herald knows.
    pub fn latest_schema_version() -> i64 {
        SCHEMA_VERSION
    }

    fn setup(
        conn: Connection,
        name: String,
        options: StoreOptions,
    ) -> Result<SqliteStore, StoreError> {
        let mut store = SqliteStore {
            conn,
            name,
            busy_timeout: options.busy_timeout,
        };
        store
            .conn
            .busy_timeout(options.busy_timeout)
            .map_err(|e| store.err(e))?;
        store.conn.set_prepared_statement_cache_capacity(64);
        // Reading the version first also detects a file that is not a database.
        let found = store.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: store.name,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        // Only takes effect on a new, empty file; must come before switching to WAL.
        store
            .conn
            .pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(|e| store.err(e))?;
        // WAL is persistent in the file; on a read-only connection to a WAL file this is a
        // no-op. An in-memory database answers `memory`, which is fine.
        let _mode: String = store
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| store.err(e))?;
        store
            .conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(|e| store.err(e))?;
        store
            .conn
            .pragma_update(None, "cache_size", CACHE_SIZE_KIB)
            .map_err(|e| store.err(e))?;
        store
            .conn
            .pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
            .map_err(|e| store.err(e))?;
        if let Some(pages) = options.max_page_count {
            let _now: i64 = store
                .conn
                .pragma_update_and_check(None, "max_page_count", pages, |r| r.get(0))
                .map_err(|e| store.err(e))?;
        }
        if found < SCHEMA_VERSION {
            store.migrate()?;
        }
        Ok(store)
    }

    /// Applies the missing migration steps in one write transaction. The version is read
    /// again inside the transaction, so two processes opening a new file at once are safe.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let name = self.name.clone();
        let waited = self.busy_timeout;
        let map = |e| map_error(&name, waited, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map)?;
        let current: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(map)?;
        if current > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: name,
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        let start = usize::try_from(current).unwrap_or(0);
        for step in MIGRATIONS.iter().skip(start) {
            tx.execute_batch(step).map_err(map)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(map)?;
        tx.commit().map_err(map)
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        map_error(&self.name, self.busy_timeout, e)
    }
}

/// Maps an error from opening the connection.
fn open_error(name: &str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::CannotOpen) | Some(ErrorCode::PermissionDenied) => StoreError::CannotOpen {
            path: name.to_string(),
            detail: e.to_string(),
        },
        _ => map_error(name, Duration::ZERO, e),
    }
}

/// Maps an SQLite error to the [`StoreError`] a user can act on.
fn map_error(name: &str, waited: Duration, e: rusqlite::Error) -> StoreError {
    let path = name.to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path },
        Some(ErrorCode::DiskFull) => StoreError::Full { path },
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            StoreError::Locked { path, waited }
        }
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => StoreError::Corrupt {
            path,
            detail: e.to_string(),
        },
        Some(ErrorCode::CannotOpen) => StoreError::CannotOpen {
            path,
            detail: e.to_string(),
        },
        _ => StoreError::Sqlite { path, cause: e },
    }
}

impl Store for SqliteStore {
    fn invited_keys(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT record_id, portal FROM invitations WHERE active = 1
                 ORDER BY record_id, portal",
            )
            .map_err(|e| map_error(&self.name, self.busy_timeout, e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(1)?, r.get(0)?)))
            .map_err(|e| map_error(&self.name, self.busy_timeout, e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| map_error(&self.name, self.busy_timeout, e))
    }

    fn append(&mut self, entries: &[LogEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        check_times(entries)?;
        let name = self.name.clone();
        let waited = self.busy_timeout;
        let map = |e| map_error(&name, waited, e);
        // IMMEDIATE takes the write lock up front, so a busy database fails (after the busy
        // timeout) before any work, and the whole batch is one atomic commit. Dropping the
        // transaction on any error rolls it back.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map)?;
        insert_entries(&tx, &name, waited, entries)?;
        tx.commit().map_err(map)
    }

    fn begin_batch(&mut self) -> Result<bool, StoreError> {
        // A batch left open by an earlier failure is dropped first.
        self.abort_batch();
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| map_error(&self.name, self.busy_timeout, e))?;
        Ok(true)
    }

    fn append_to_batch(&mut self, entries: &[LogEntry]) -> Result<(), StoreError> {
        if self.conn.is_autocommit() {
            // No batch is open (a caller error): log nothing rather than autocommit rows.
            return Err(StoreError::NoBatch {
                path: self.name.clone(),
            });
        }
        let added = check_times(entries)
            .and_then(|()| insert_entries(&self.conn, &self.name, self.busy_timeout, entries));
        if added.is_err() {
            self.abort_batch();
        }
        added
    }

    fn commit_batch(&mut self) -> Result<(), StoreError> {
        let committed = self
            .conn
            .execute_batch("COMMIT")
            .map_err(|e| map_error(&self.name, self.busy_timeout, e));
        if committed.is_err() {
            // A failed COMMIT (busy, disk full) can leave the transaction open.
            self.abort_batch();
        }
        committed
    }

    fn abort_batch(&mut self) {
        if !self.conn.is_autocommit() {
            // Nothing more can be done if the rollback fails: the connection then rolls back
            // when it is closed, and no commit follows.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn failures(&mut self, query: &FailureQuery) -> Result<Vec<Failure>, StoreError> {
        let since = query.since.map(clamp_time);
        let until = query.until.map(clamp_time);
        let mut sql = String::from(
            "SELECT portal, record_id, record_name, email, language, reason, message, time,
                    rule_set_version
             FROM failures WHERE 1 = 1",
        );
        let mut args: Vec<&dyn ToSql> = Vec::new();
        push_filter(&mut sql, &mut args, "portal =", query.portal.as_ref());
        push_filter(&mut sql, &mut args, "reason =", query.reason.as_ref());
        push_filter(&mut sql, &mut args, "time >=", since.as_ref());
        push_filter(&mut sql, &mut args, "time <", until.as_ref());
        let limit = sql_limit(query.limit);
        let _ = write!(
            sql,
            " ORDER BY time DESC, id DESC LIMIT ?{}",
            args.len() + 1
        );
        args.push(&limit);

        let name = self.name.clone();
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(args.as_slice(), |r| {
                Ok(RawFailure {
                    portal: r.get(0)?,
                    record_id: r.get(1)?,
                    record_name: r.get(2)?,
                    email: r.get(3)?,
                    language: r.get(4)?,
                    reason: r.get(5)?,
                    message: r.get(6)?,
                    time: r.get(7)?,
                    rule_set_version: r.get(8)?,
                })
            })
            .map_err(|e| map_error(&name, self.busy_timeout, e))?;
        let mut out = Vec::new();
        for row in rows {
            let raw = row.map_err(|e| map_error(&name, self.busy_timeout, e))?;
            out.push(Failure {
                portal: raw.portal,
                record_id: raw.record_id,
                record_name: raw.record_name,
                email: raw.email,
                language: raw.language,
                reason: raw.reason,
                message: raw.message,
                time: parse_time(&name, &raw.time)?,
                rule_set_version: raw.rule_set_version,
            });
        }
        Ok(out)
    }

    fn invitations(&mut self, query: &InvitationQuery) -> Result<Vec<Invitation>, StoreError> {
        let since = query.since.map(clamp_time);
        let mut sql = String::from(
            "SELECT portal, record_id, record_name, language, sender_group, email, event, time,
                    rule_set_version
             FROM invitations WHERE active = 1",
        );
        let mut args: Vec<&dyn ToSql> = Vec::new();
        push_filter(&mut sql, &mut args, "portal =", query.portal.as_ref());
        push_filter(&mut sql, &mut args, "record_id =", query.record_id.as_ref());
        push_filter(&mut sql, &mut args, "time >=", since.as_ref());
        let limit = sql_limit(query.limit);
        let _ = write!(
            sql,
            " ORDER BY time DESC, id DESC LIMIT ?{}",
            args.len() + 1
        );
        args.push(&limit);

        let name = self.name.clone();
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(args.as_slice(), raw_invitation)
            .map_err(|e| map_error(&name, self.busy_timeout, e))?;
        let mut out = Vec::new();
        for row in rows {
            let raw = row.map_err(|e| map_error(&name, self.busy_timeout, e))?;
            let event = EventKind::parse(&raw.event).ok_or_else(|| StoreError::Corrupt {
                path: name.clone(),
                detail: format!(
                    "unknown event kind `{}` in the invitations table",
                    raw.event
                ),
            })?;
            out.push(Invitation {
                portal: raw.portal,
                record_id: raw.record_id,
                record_name: raw.record_name,
                language: raw.language,
                sender_group: raw.sender_group,
                email: raw.email,
                event,
                time: parse_time(&name, &raw.time)?,
                rule_set_version: raw.rule_set_version,
            });
        }
        Ok(out)
    }
}

/// The parameters of one insert statement that the rows of a batch usually share, as last
/// bound (`None`: not bound yet in this batch). A cached statement comes back from the cache
/// with its bindings cleared, so a new batch starts unbound.
#[derive(Default)]
struct SharedParams<'e> {
    portal: Option<Option<&'e str>>,
    group: Option<Option<&'e str>>,
    version: Option<Option<&'e str>>,
    event: Option<&'static str>,
    time: Option<DateTime<Utc>>,
}

impl SharedParams<'_> {
    /// Binds the stored text of `time` when it differs from the last one bound. The outer
    /// error is a time that cannot be stored, the inner one SQLite's.
    fn time(
        &mut self,
        stmt: &mut rusqlite::Statement<'_>,
        index: usize,
        time: DateTime<Utc>,
    ) -> Result<rusqlite::Result<()>, StoreError> {
        if self.time == Some(time) {
            return Ok(Ok(()));
        }
        let text = format_time(storable_time(time)?);
        let bound = stmt.raw_bind_parameter(index, &text);
        if bound.is_ok() {
            self.time = Some(time);
        }
        Ok(bound)
    }
}

/// Binds one invitation's values at parameters `base + 1 ..= base + 9` (in the order of
/// [`INSERT_INVITATION`]), the shared ones only when they differ from what `shared` says is
/// bound there. The outer error is a time that cannot be stored, the inner one SQLite's.
fn bind_invitation<'e>(
    s: &mut rusqlite::Statement<'_>,
    base: usize,
    shared: &mut SharedParams<'e>,
    i: &'e Invitation,
) -> Result<rusqlite::Result<()>, StoreError> {
    let bound = shared.time(s, base + 8, i.time)?;
    Ok(bound.and_then(|()| {
        bind_changed(s, base + 1, &mut shared.portal, Some(i.portal.as_str()))?;
        s.raw_bind_parameter(base + 2, &i.record_id)?;
        s.raw_bind_parameter(base + 3, &i.record_name)?;
        s.raw_bind_parameter(base + 4, &i.language)?;
        bind_changed(s, base + 5, &mut shared.group, i.sender_group.as_deref())?;
        s.raw_bind_parameter(base + 6, &i.email)?;
        bind_changed(s, base + 7, &mut shared.event, i.event.as_str())?;
        bind_changed(
            s,
            base + 9,
            &mut shared.version,
            Some(i.rule_set_version.as_str()),
        )
    }))
}

/// Binds `value` at `index` unless it is the value `last` bound there.
fn bind_changed<T: PartialEq + Copy + ToSql>(
    stmt: &mut rusqlite::Statement<'_>,
    index: usize,
    last: &mut Option<T>,
    value: T,
) -> rusqlite::Result<()> {
    if *last != Some(value) {
        stmt.raw_bind_parameter(index, value)?;
        *last = Some(value);
    }
    Ok(())
}

struct RawFailure {
    portal: String,
    record_id: String,
    record_name: Option<String>,
    email: Option<String>,
    language: Option<String>,
    reason: String,
    message: String,
    time: String,
    rule_set_version: Option<String>,
}

struct RawInvitation {
    portal: String,
    record_id: String,
    record_name: Option<String>,
    language: String,
    sender_group: Option<String>,
    email: String,
    event: String,
    time: String,
    rule_set_version: String,
}

fn raw_invitation(r: &Row<'_>) -> rusqlite::Result<RawInvitation> {
    Ok(RawInvitation {
        portal: r.get(0)?,
        record_id: r.get(1)?,
        record_name: r.get(2)?,
        language: r.get(3)?,
        sender_group: r.get(4)?,
        email: r.get(5)?,
        event: r.get(6)?,
        time: r.get(7)?,
        rule_set_version: r.get(8)?,
    })
}

/// Adds `AND <column_op> ?N` when the filter is set.
fn push_filter<'a, T: ToSql>(
    sql: &mut String,
    args: &mut Vec<&'a dyn ToSql>,
    column_op: &str,
    value: Option<&'a T>,
) {
    if let Some(v) = value {
        args.push(v);
        let _ = write!(sql, " AND {column_op} ?{}", args.len());
    }
}

/// `LIMIT -1` means no limit in SQLite.
fn sql_limit(limit: Option<usize>) -> i64 {
    limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// A query bound as fixed-width text. Bounds outside the storable years are clamped so the
/// comparison stays meaningful (every stored time lies within years 0000–9999).
fn clamp_time(t: DateTime<Utc>) -> String {
    match storable_time(t) {
        Ok(t) => format_time(t),
        Err(_) if t.timestamp() < 0 => "0000-01-01T00:00:00.000000Z".to_string(),
        Err(_) => "9999-12-31T23:59:59.999999Z~".to_string(),
    }
}

fn parse_time(name: &str, text: &str) -> Result<DateTime<Utc>, StoreError> {
    let bad = || StoreError::Corrupt {
        path: name.to_string(),
        detail: format!("unreadable time `{text}` in the log"),
    };
    if text.len() != TIME_WIDTH {
        return Err(bad());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad())
}
