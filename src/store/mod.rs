//! The invitation and failure log: what Herald decided, kept so no contact is invited twice.
//!
//! Two implementations share the [`Store`] trait and the same semantics:
//! [`SqliteStore`] (the default: one SQLite file, WAL, `synchronous=FULL`) and
//! [`MemoryStore`] (for tests and `herald test`). A host can implement [`Store`] on its own
//! database. See `docs/store.md` for the schema, durability guarantees and error mapping.

mod memory;
mod sqlite;

use std::time::Duration;

use chrono::{DateTime, Datelike, SubsecRound, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::event::EventKind;

pub use memory::MemoryStore;
pub use sqlite::{SqliteStore, StoreOptions};

/// Why the log could not be read or written.
///
/// Messages are meant for the person running Herald: they name the database and say what
/// happened, never a Rust type.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file (or the directory holding it) cannot be written (`SQLITE_READONLY`).
    #[error("the log database `{path}` is read-only")]
    ReadOnly {
        /// The database path as given to [`SqliteStore::open`].
        path: String,
    },
    /// Another connection held the write lock for longer than the busy timeout
    /// (`SQLITE_BUSY`, `SQLITE_LOCKED`).
    #[error(
        "the log database `{path}` is locked by another writer (waited {})",
        format_duration(*waited)
    )]
    Locked {
        /// The database path.
        path: String,
        /// The busy timeout that elapsed.
        waited: Duration,
    },
    /// The file is damaged or is not an SQLite database at all
    /// (`SQLITE_CORRUPT`, `SQLITE_NOTADB`, or a row Herald cannot read back).
    #[error("the log database `{path}` is corrupt: {detail}")]
    Corrupt {
        /// The database path.
        path: String,
        /// What SQLite (or Herald) found wrong.
        detail: String,
    },
    /// The disk (or the configured page limit) is full (`SQLITE_FULL`). Nothing of the batch
    /// being appended was written.
    #[error("disk full while writing the log database `{path}`")]
    Full {
        /// The database path.
        path: String,
    },
    /// The file was created by a newer Herald whose schema this version does not know.
    #[error(
        "the log database `{path}` was written by a newer version of Herald \
         (schema version {found}; this version understands up to {supported}); \
         upgrade Herald to use it"
    )]
    TooNew {
        /// The database path.
        path: String,
        /// The `user_version` found in the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// The file could not be opened or created (missing directory, permissions, ...).
    #[error("cannot open the log database `{path}`: {detail}")]
    CannotOpen {
        /// The database path.
        path: String,
        /// What SQLite reported.
        detail: String,
    },
    /// A time outside the years 0000–9999 cannot be stored with a fixed-width timestamp.
    #[error(
        "the time {time} cannot be stored in the log: only the years 0000 to 9999 are supported"
    )]
    TimeOutOfRange {
        /// The offending time.
        time: DateTime<Utc>,
    },
    /// Any other SQLite error.
    #[error("error in the log database `{path}`: {cause}")]
    Sqlite {
        /// The database path.
        path: String,
        /// The underlying SQLite error.
        cause: rusqlite::Error,
    },
    /// [`Store::append_to_batch`] was called with no batch open (a caller error); nothing
    /// was logged.
    #[error("no batch is open on the log database `{path}`")]
    NoBatch {
        /// The database path.
        path: String,
    },
}

/// Formats a wait as `5s`, `1.5s` or `200ms` for error messages.
fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 && ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else if ms >= 1000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{ms}ms")
    }
}

/// One invitation Herald sent (or asked the host to send).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    /// The portal name, as written in the rule set.
    pub portal: String,
    /// The record's id.
    pub record_id: String,
    /// The record's display name, if it has one.
    pub record_name: Option<String>,
    /// The BCP 47 language tag of the invitation.
    pub language: String,
    /// The user group the invitation is sent from.
    pub sender_group: Option<String>,
    /// The address the invitation went to.
    pub email: String,
    /// The event that triggered it.
    pub event: EventKind,
    /// When it was decided (stored at microsecond precision).
    pub time: DateTime<Utc>,
    /// The version (hash) of the rule set that decided it.
    pub rule_set_version: String,
}

/// One failed invitation: refused by Herald (`missing-email`, `invalid-email`) or reported
/// back by the host after sending (`bounce`, `portal-user-limit`, `contact-disabled`, `other`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The portal name.
    pub portal: String,
    /// The record's id.
    pub record_id: String,
    /// The record's display name, if known.
    pub record_name: Option<String>,
    /// The address involved, if there was one.
    pub email: Option<String>,
    /// The language the invitation was (or would have been) in.
    pub language: Option<String>,
    /// Kebab-case reason code: `missing-email`, `invalid-email`, `bounce`,
    /// `portal-user-limit`, `contact-disabled`, `other`.
    pub reason: String,
    /// A human-readable explanation.
    pub message: String,
    /// When the failure happened (stored at microsecond precision).
    pub time: DateTime<Utc>,
    /// The rule set version that decided it, when known.
    pub rule_set_version: Option<String>,
}

/// One entry appended to the log.
#[derive(Debug, Clone, PartialEq)]
pub enum LogEntry {
    /// An invitation: (portal, record_id) now counts as invited.
    Invited(Invitation),
    /// A failure decided by Herald; nothing is marked invited.
    Failed(Failure),
    /// Reported by the host after the invitation was sent: logged as a failure AND the
    /// (portal, record_id) is no longer counted as invited, so a later update tries again.
    DeliveryFailed(Failure),
}

/// Which failures to return. Every filter left `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct FailureQuery {
    /// Only this portal (exact match).
    pub portal: Option<String>,
    /// Only this reason code (exact match).
    pub reason: Option<String>,
    /// Only failures at or after this time (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Only failures strictly before this time (exclusive).
    pub until: Option<DateTime<Utc>>,
    /// At most this many, the newest ones.
    pub limit: Option<usize>,
}

/// Which invitations to return. Every filter left `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct InvitationQuery {
    /// Only this portal (exact match).
    pub portal: Option<String>,
    /// Only this record id (exact match).
    pub record_id: Option<String>,
    /// Only invitations at or after this time (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// At most this many, the newest ones.
    pub limit: Option<usize>,
}

/// The log's storage. Implementations must keep the semantics described on each method;
/// the shared behavioural suite in `tests/store.rs` checks them.
pub trait Store: Send {
    /// Every (portal, record_id) currently invited (invited and not since failed delivery),
    /// each once, sorted by record id, then portal. Loaded once at start so the
    /// already-invited check stays in memory.
    fn invited_keys(&mut self) -> Result<Vec<(String, String)>, StoreError>;

    /// Appends the entries, in order, in ONE atomic transaction: either all are logged or
    /// none is. When it returns `Ok` they are durable on disk (for SQLite: committed, WAL,
    /// `synchronous=FULL`).
    fn append(&mut self, entries: &[LogEntry]) -> Result<(), StoreError>;

    /// Opens a batch that the store logs itself: the entries of every
    /// [`Store::append_to_batch`] until [`Store::commit_batch`] form ONE atomic transaction,
    /// durable when `commit_batch` returns `Ok`; [`Store::abort_batch`] drops them all, and
    /// so does an error from `append_to_batch` or `commit_batch`. Returns `false` when the
    /// store does not log batches itself (the default): the engine then gathers the batch's
    /// entries and gives them to [`Store::append`] at once, and the other batch methods are
    /// not called.
    fn begin_batch(&mut self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Adds entries, in order, to the batch opened by [`Store::begin_batch`]. Nothing is
    /// durable before [`Store::commit_batch`]. On error the whole batch is dropped.
    fn append_to_batch(&mut self, entries: &[LogEntry]) -> Result<(), StoreError> {
        self.append(entries)
    }

    /// Makes the open batch durable. On error nothing of the batch is logged.
    fn commit_batch(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Drops the open batch: nothing of it is logged.
    fn abort_batch(&mut self) {}

    /// Failures matching the query, newest first (ties: latest appended first).
    fn failures(&mut self, query: &FailureQuery) -> Result<Vec<Failure>, StoreError>;

    /// Invitations matching the query that are still active (not followed by a delivery
    /// failure for the same portal and record), newest first (ties: latest appended first).
    fn invitations(&mut self, query: &InvitationQuery) -> Result<Vec<Invitation>, StoreError>;
}

/// Width of every stored timestamp, e.g. `2026-11-27T17:16:04.123456Z`.
pub(crate) const TIME_WIDTH: usize = 27;

/// Checks that a time fits the fixed-width format and truncates it to microseconds, the
/// precision the log keeps. Both stores apply it so they behave identically.
pub(crate) fn storable_time(time: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
    if (0..=9999).contains(&time.year()) {
        Ok(time.trunc_subsecs(6))
    } else {
        Err(StoreError::TimeOutOfRange { time })
    }
}

/// Formats a (storable) time as fixed-width RFC 3339 UTC with microseconds, so that text
/// order equals time order.
/// Written by hand because it runs once per logged decision: this is several times faster
/// than `format("%Y-%m-%dT%H:%M:%S%.6fZ")`, which it matches exactly (tested).
pub(crate) fn format_time(time: DateTime<Utc>) -> String {
    // Accessors on the naive value avoid a time-zone conversion per field.
    let time = time.naive_utc();
    let mut second = time.second();
    let mut nanos = time.nanosecond();
    if nanos >= 1_000_000_000 {
        // chrono's representation of a leap second.
        second += 1;
        nanos -= 1_000_000_000;
    }
    let mut s = String::with_capacity(TIME_WIDTH);
    push_digits(&mut s, u32::try_from(time.year()).unwrap_or(0), 4);
    s.push('-');
    push_digits(&mut s, time.month(), 2);
    s.push('-');
    push_digits(&mut s, time.day(), 2);
    s.push('T');
    push_digits(&mut s, time.hour(), 2);
    s.push(':');
    push_digits(&mut s, time.minute(), 2);
    s.push(':');
    push_digits(&mut s, second, 2);
    s.push('.');
    push_digits(&mut s, nanos / 1000, 6);
    s.push('Z');
    s
}

/// Appends `value` as exactly `width` decimal digits (zero-padded, high digits dropped).
fn push_digits(s: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        s.push(char::from(b'0' + digit as u8));
    }
}

/// Checks every time in a batch before anything is written.
pub(crate) fn check_times(entries: &[LogEntry]) -> Result<(), StoreError> {
    for entry in entries {
        let time = match entry {
            LogEntry::Invited(i) => i.time,
            LogEntry::Failed(f) | LogEntry::DeliveryFailed(f) => f.time,
        };
        storable_time(time)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn time_format_is_fixed_width() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single();
        assert!(t.is_some());
        if let Some(t) = t {
            let s = format_time(t);
            assert_eq!(s, "2026-01-02T03:04:05.000000Z");
            assert_eq!(s.len(), TIME_WIDTH);
        }
    }

    #[test]
    fn hand_written_format_matches_chrono() {
        let times = [
            Utc.timestamp_opt(0, 0).single(),
            Utc.timestamp_opt(1_795_000_564, 123_456_789).single(),
            Utc.timestamp_opt(-62_167_219_200, 1_000).single(), // 0000-01-01
            Utc.timestamp_opt(253_402_300_799, 999_999_999).single(), // 9999-12-31
            Utc.timestamp_opt(1_483_228_799, 1_500_000_000).single(), // a leap second
        ];
        for t in times {
            assert!(t.is_some());
            if let Some(t) = t {
                let expected = t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
                assert_eq!(format_time(t), expected);
            }
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(200)), "200ms");
    }
}
