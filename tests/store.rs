//! The log store: one behavioural suite run against every implementation, plus SQLite specifics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use herald::event::EventKind;
use herald::store::{
    Failure, FailureQuery, Invitation, InvitationQuery, LogEntry, MemoryStore, SqliteStore, Store,
    StoreError, StoreOptions,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Helpers

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + secs, 0).unwrap()
}

fn inv(portal: &str, record: &str, secs: i64) -> Invitation {
    Invitation {
        portal: portal.to_string(),
        record_id: record.to_string(),
        record_name: Some(format!("Name of {record}")),
        language: "fr".to_string(),
        sender_group: Some("Customer Success".to_string()),
        email: format!("{record}@example.fr"),
        event: EventKind::Create,
        time: at(secs),
        rule_set_version: "v1".to_string(),
    }
}

fn fail(portal: &str, record: &str, reason: &str, secs: i64) -> Failure {
    Failure {
        portal: portal.to_string(),
        record_id: record.to_string(),
        record_name: None,
        email: Some(format!("{record}@example.fr")),
        language: Some("de".to_string()),
        reason: reason.to_string(),
        message: format!("{reason} for {record}"),
        time: at(secs),
        rule_set_version: Some("v1".to_string()),
    }
}

fn key(portal: &str, record: &str) -> (String, String) {
    (portal.to_string(), record.to_string())
}

fn all_failures(store: &mut dyn Store) -> Vec<Failure> {
    store.failures(&FailureQuery::default()).unwrap()
}

fn all_invitations(store: &mut dyn Store) -> Vec<Invitation> {
    store.invitations(&InvitationQuery::default()).unwrap()
}

fn ids(failures: &[Failure]) -> Vec<&str> {
    failures.iter().map(|f| f.record_id.as_str()).collect()
}

/// Runs one behaviour against the memory store, an in-memory SQLite store and a SQLite file.
fn each_store(behaviour: fn(&mut dyn Store)) {
    behaviour(&mut MemoryStore::new());
    behaviour(&mut SqliteStore::open_in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    behaviour(&mut SqliteStore::open(&dir.path().join("herald.db")).unwrap());
}

// ---------------------------------------------------------------------------------------------
// The shared behavioural suite

fn round_trip(store: &mut dyn Store) {
    let mut i1 = inv("Customers", "c1", 10);
    i1.record_name = None;
    i1.sender_group = None;
    i1.event = EventKind::Update;
    let i2 = inv("Partners", "c2", 20);
    let mut f1 = fail("Customers", "c3", "invalid-email", 15);
    f1.email = None;
    f1.language = None;
    f1.rule_set_version = None;
    f1.record_name = Some("Zoë «Ünïcode» 例え".to_string());
    store
        .append(&[
            LogEntry::Invited(i1.clone()),
            LogEntry::Failed(f1.clone()),
            LogEntry::Invited(i2.clone()),
        ])
        .unwrap();
    assert_eq!(all_invitations(store), vec![i2, i1]);
    assert_eq!(all_failures(store), vec![f1]);
    assert_eq!(
        store.invited_keys().unwrap(),
        vec![key("Customers", "c1"), key("Partners", "c2")]
    );
}

#[test]
fn append_and_query_round_trip() {
    each_store(round_trip);
}

fn microsecond_precision(store: &mut dyn Store) {
    let mut i = inv("P", "r", 0);
    i.time = Utc.timestamp_opt(1_790_000_000, 123_456_789).unwrap();
    store.append(&[LogEntry::Invited(i.clone())]).unwrap();
    let back = all_invitations(store);
    assert_eq!(
        back[0].time,
        Utc.timestamp_opt(1_790_000_000, 123_456_000).unwrap()
    );
}

#[test]
fn times_are_kept_at_microsecond_precision() {
    each_store(microsecond_precision);
}

fn newest_first(store: &mut dyn Store) {
    store
        .append(&[
            LogEntry::Failed(fail("P", "old", "bounce", 1)),
            LogEntry::Failed(fail("P", "newest", "bounce", 30)),
            LogEntry::Failed(fail("P", "tie-first", "bounce", 20)),
        ])
        .unwrap();
    store
        .append(&[LogEntry::Failed(fail("P", "tie-second", "bounce", 20))])
        .unwrap();
    assert_eq!(
        ids(&all_failures(store)),
        vec!["newest", "tie-second", "tie-first", "old"]
    );
    store
        .append(&[
            LogEntry::Invited(inv("P", "a", 5)),
            LogEntry::Invited(inv("P", "b", 7)),
            LogEntry::Invited(inv("Q", "c", 5)),
        ])
        .unwrap();
    let got: Vec<_> = all_invitations(store)
        .into_iter()
        .map(|i| i.record_id)
        .collect();
    assert_eq!(got, vec!["b", "c", "a"]);
}

#[test]
fn results_are_newest_first_with_ties_latest_appended_first() {
    each_store(newest_first);
}

fn failure_filters(store: &mut dyn Store) {
    store
        .append(&[
            LogEntry::Failed(fail("A", "a1", "bounce", 10)),
            LogEntry::Failed(fail("A", "a2", "invalid-email", 20)),
            LogEntry::Failed(fail("B", "b1", "bounce", 30)),
            LogEntry::DeliveryFailed(fail("B", "b2", "portal-user-limit", 40)),
            LogEntry::Failed(fail("A", "a3", "missing-email", 50)),
        ])
        .unwrap();
    let by_portal = store
        .failures(&FailureQuery {
            portal: Some("A".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&by_portal), vec!["a3", "a2", "a1"]);
    let by_reason = store
        .failures(&FailureQuery {
            reason: Some("bounce".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&by_reason), vec!["b1", "a1"]);
    let both = store
        .failures(&FailureQuery {
            portal: Some("B".into()),
            reason: Some("bounce".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&both), vec!["b1"]);
    // since is inclusive, until exclusive.
    let range = store
        .failures(&FailureQuery {
            since: Some(at(20)),
            until: Some(at(40)),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&range), vec!["b1", "a2"]);
    let since = store
        .failures(&FailureQuery {
            since: Some(at(40)),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&since), vec!["a3", "b2"]);
    let until = store
        .failures(&FailureQuery {
            until: Some(at(11)),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&until), vec!["a1"]);
    let limited = store
        .failures(&FailureQuery {
            limit: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&limited), vec!["a3", "b2"]);
    let all_filters = store
        .failures(&FailureQuery {
            portal: Some("A".into()),
            reason: None,
            since: Some(at(10)),
            until: Some(at(50)),
            limit: Some(1),
        })
        .unwrap();
    assert_eq!(ids(&all_filters), vec!["a2"]);
    let zero = store
        .failures(&FailureQuery {
            limit: Some(0),
            ..Default::default()
        })
        .unwrap();
    assert!(zero.is_empty());
    let none = store
        .failures(&FailureQuery {
            portal: Some("Nope".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(none.is_empty());
    // Bounds far outside the storable years still compare sensibly.
    let far_past = DateTime::<Utc>::MIN_UTC;
    let far_future = DateTime::<Utc>::MAX_UTC;
    let everything = store
        .failures(&FailureQuery {
            since: Some(far_past),
            until: Some(far_future),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(everything.len(), 5);
    let nothing = store
        .failures(&FailureQuery {
            since: Some(far_future),
            ..Default::default()
        })
        .unwrap();
    assert!(nothing.is_empty());
}

#[test]
fn failures_filter_by_portal_reason_time_and_limit() {
    each_store(failure_filters);
}

fn invitation_filters(store: &mut dyn Store) {
    store
        .append(&[
            LogEntry::Invited(inv("A", "r1", 10)),
            LogEntry::Invited(inv("B", "r1", 20)),
            LogEntry::Invited(inv("A", "r2", 30)),
        ])
        .unwrap();
    let rec = |v: Vec<Invitation>| {
        v.into_iter()
            .map(|i| format!("{}/{}", i.portal, i.record_id))
            .collect::<Vec<_>>()
    };
    let by_portal = store
        .invitations(&InvitationQuery {
            portal: Some("A".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rec(by_portal), vec!["A/r2", "A/r1"]);
    let by_record = store
        .invitations(&InvitationQuery {
            record_id: Some("r1".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rec(by_record), vec!["B/r1", "A/r1"]);
    let exact = store
        .invitations(&InvitationQuery {
            portal: Some("B".into()),
            record_id: Some("r1".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rec(exact), vec!["B/r1"]);
    let since = store
        .invitations(&InvitationQuery {
            since: Some(at(20)),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rec(since), vec!["A/r2", "B/r1"]);
    let limited = store
        .invitations(&InvitationQuery {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rec(limited), vec!["A/r2"]);
}

#[test]
fn invitations_filter_by_portal_record_time_and_limit() {
    each_store(invitation_filters);
}

fn delivery_failure(store: &mut dyn Store) {
    store
        .append(&[
            LogEntry::Invited(inv("P", "r1", 1)),
            LogEntry::Invited(inv("P", "r2", 2)),
            LogEntry::Invited(inv("Q", "r1", 3)),
        ])
        .unwrap();
    let bounce = fail("P", "r1", "bounce", 4);
    store
        .append(&[LogEntry::DeliveryFailed(bounce.clone())])
        .unwrap();
    assert_eq!(
        store.invited_keys().unwrap(),
        vec![key("Q", "r1"), key("P", "r2")]
    );
    assert_eq!(all_failures(store), vec![bounce]);
    let active: Vec<_> = all_invitations(store)
        .into_iter()
        .map(|i| (i.portal, i.record_id))
        .collect();
    assert_eq!(active, vec![key("Q", "r1"), key("P", "r2")]);
    // A plain failure does not touch what is invited.
    store
        .append(&[LogEntry::Failed(fail("P", "r2", "other", 5))])
        .unwrap();
    assert_eq!(
        store.invited_keys().unwrap(),
        vec![key("Q", "r1"), key("P", "r2")]
    );
    // A delivery failure for something never invited is just logged.
    store
        .append(&[LogEntry::DeliveryFailed(fail("Z", "z", "bounce", 6))])
        .unwrap();
    assert_eq!(all_failures(store).len(), 3);
}

#[test]
fn delivery_failure_uninvites_and_is_logged_as_a_failure() {
    each_store(delivery_failure);
}

fn reinvite(store: &mut dyn Store) {
    store
        .append(&[LogEntry::Invited(inv("P", "r", 1))])
        .unwrap();
    store
        .append(&[LogEntry::DeliveryFailed(fail("P", "r", "bounce", 2))])
        .unwrap();
    assert!(store.invited_keys().unwrap().is_empty());
    let mut again = inv("P", "r", 3);
    again.email = "corrected@example.fr".to_string();
    again.event = EventKind::Update;
    store.append(&[LogEntry::Invited(again.clone())]).unwrap();
    assert_eq!(store.invited_keys().unwrap(), vec![key("P", "r")]);
    assert_eq!(all_invitations(store), vec![again]);
    // A second bounce uninvites the new invitation too.
    store
        .append(&[LogEntry::DeliveryFailed(fail("P", "r", "bounce", 4))])
        .unwrap();
    assert!(store.invited_keys().unwrap().is_empty());
    assert!(all_invitations(store).is_empty());
    assert_eq!(all_failures(store).len(), 2);
}

#[test]
fn reinvitation_after_delivery_failure_counts_as_invited_again() {
    each_store(reinvite);
}

fn batch_order(store: &mut dyn Store) {
    store
        .append(&[
            LogEntry::Invited(inv("P", "gone", 1)),
            LogEntry::DeliveryFailed(fail("P", "gone", "bounce", 1)),
            LogEntry::DeliveryFailed(fail("P", "back", "bounce", 1)),
            LogEntry::Invited(inv("P", "back", 1)),
        ])
        .unwrap();
    assert_eq!(store.invited_keys().unwrap(), vec![key("P", "back")]);
}

#[test]
fn entries_in_one_batch_apply_in_order() {
    each_store(batch_order);
}

fn keys_distinct_sorted(store: &mut dyn Store) {
    store
        .append(&[
            LogEntry::Invited(inv("b", "2", 1)),
            LogEntry::Invited(inv("a", "9", 1)),
            LogEntry::Invited(inv("b", "2", 2)),
            LogEntry::Invited(inv("a", "1", 3)),
            LogEntry::Invited(inv("c", "2", 3)),
        ])
        .unwrap();
    // By record id, then portal.
    assert_eq!(
        store.invited_keys().unwrap(),
        vec![key("a", "1"), key("b", "2"), key("c", "2"), key("a", "9")]
    );
}

#[test]
fn invited_keys_are_distinct_and_sorted() {
    each_store(keys_distinct_sorted);
}

fn empty(store: &mut dyn Store) {
    store.append(&[]).unwrap();
    assert!(store.invited_keys().unwrap().is_empty());
    assert!(all_failures(store).is_empty());
    assert!(all_invitations(store).is_empty());
}

#[test]
fn empty_store_and_empty_batch() {
    each_store(empty);
}

fn unstorable_time_is_atomic(store: &mut dyn Store) {
    let mut bad = fail("P", "late", "other", 0);
    bad.time = Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap();
    let err = store
        .append(&[LogEntry::Invited(inv("P", "ok", 1)), LogEntry::Failed(bad)])
        .unwrap_err();
    assert!(matches!(err, StoreError::TimeOutOfRange { .. }), "{err}");
    assert!(err.to_string().contains("0000 to 9999"), "{err}");
    assert!(store.invited_keys().unwrap().is_empty());
    assert!(all_failures(store).is_empty());
}

#[test]
fn a_batch_with_an_unstorable_time_writes_nothing() {
    each_store(unstorable_time_is_atomic);
}

// ---------------------------------------------------------------------------------------------
// Both implementations agree on random operation sequences.

#[derive(Debug, Clone)]
enum Op {
    Invite(u8, u8, i64),
    Fail(u8, u8, u8, i64),
    Bounce(u8, u8, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3, 0u8..4, 0i64..20).prop_map(|(p, r, t)| Op::Invite(p, r, t)),
        (0u8..3, 0u8..4, 0u8..3, 0i64..20).prop_map(|(p, r, c, t)| Op::Fail(p, r, c, t)),
        (0u8..3, 0u8..4, 0i64..20).prop_map(|(p, r, t)| Op::Bounce(p, r, t)),
    ]
}

fn entry(op: &Op) -> LogEntry {
    let reasons = ["bounce", "invalid-email", "other"];
    match *op {
        Op::Invite(p, r, t) => LogEntry::Invited(inv(&format!("p{p}"), &format!("r{r}"), t)),
        Op::Fail(p, r, c, t) => LogEntry::Failed(fail(
            &format!("p{p}"),
            &format!("r{r}"),
            reasons[usize::from(c)],
            t,
        )),
        Op::Bounce(p, r, t) => {
            LogEntry::DeliveryFailed(fail(&format!("p{p}"), &format!("r{r}"), "bounce", t))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn memory_and_sqlite_agree(
        batches in prop::collection::vec(prop::collection::vec(op(), 0..6), 0..6),
        portal in prop::option::of(0u8..3),
        since in prop::option::of(0i64..20),
        until in prop::option::of(0i64..20),
        limit in prop::option::of(0usize..8),
    ) {
        let mut memory = MemoryStore::new();
        let mut sqlite = SqliteStore::open_in_memory().unwrap();
        for batch in &batches {
            let entries: Vec<LogEntry> = batch.iter().map(entry).collect();
            memory.append(&entries).unwrap();
            sqlite.append(&entries).unwrap();
        }
        prop_assert_eq!(memory.invited_keys().unwrap(), sqlite.invited_keys().unwrap());
        let fq = FailureQuery {
            portal: portal.map(|p| format!("p{p}")),
            reason: None,
            since: since.map(at),
            until: until.map(at),
            limit,
        };
        prop_assert_eq!(memory.failures(&fq).unwrap(), sqlite.failures(&fq).unwrap());
        let iq = InvitationQuery {
            portal: portal.map(|p| format!("p{p}")),
            record_id: None,
            since: since.map(at),
            limit,
        };
        prop_assert_eq!(memory.invitations(&iq).unwrap(), sqlite.invitations(&iq).unwrap());
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite specifics

fn user_version(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[test]
fn reopening_a_file_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let invitation = inv("P", "kept", 1);
    let bounced = inv("P", "bounced", 2);
    let failure = fail("P", "bounced", "bounce", 3);
    {
        let mut store = SqliteStore::open(&path).unwrap();
        store
            .append(&[
                LogEntry::Invited(invitation.clone()),
                LogEntry::Invited(bounced),
            ])
            .unwrap();
        store
            .append(&[LogEntry::DeliveryFailed(failure.clone())])
            .unwrap();
    }
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.invited_keys().unwrap(), vec![key("P", "kept")]);
    assert_eq!(all_invitations(&mut store), vec![invitation]);
    assert_eq!(all_failures(&mut store), vec![failure]);
}

#[test]
fn migrations_set_user_version_and_wal_and_opening_twice_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let first = SqliteStore::open(&path).unwrap();
    assert_eq!(
        first.schema_version().unwrap(),
        SqliteStore::latest_schema_version()
    );
    // A second connection to the same, already migrated file.
    let mut second = SqliteStore::open(&path).unwrap();
    second
        .append(&[LogEntry::Invited(inv("P", "r", 1))])
        .unwrap();
    drop(first);
    drop(second);
    let mut third = SqliteStore::open(&path).unwrap();
    assert_eq!(third.invited_keys().unwrap(), vec![key("P", "r")]);
    assert_eq!(user_version(&path), SqliteStore::latest_schema_version());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, vec!["failures", "invitations"]);
}

#[test]
fn a_database_from_a_newer_herald_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = SqliteStore::open(&path).unwrap_err();
    match &err {
        StoreError::TooNew {
            found, supported, ..
        } => {
            assert_eq!(*found, 99);
            assert_eq!(*supported, SqliteStore::latest_schema_version());
        }
        other => unreachable!("expected TooNew, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("newer version of Herald"), "{msg}");
    assert!(msg.contains("future.db"), "{msg}");
    // Refusing did not touch the file.
    assert_eq!(user_version(&path), 99);
}

#[test]
fn a_file_that_is_not_a_database_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&path, garbage).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("is corrupt"), "{msg}");
    assert!(msg.contains("not a database"), "{msg}");
    assert!(msg.contains("garbage.db"), "{msg}");
}

#[test]
fn a_locked_database_fails_after_the_busy_timeout_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let mut store = SqliteStore::open_with(
        &path,
        StoreOptions {
            busy_timeout: Duration::from_millis(100),
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let err = store
        .append(&[LogEntry::Invited(inv("P", "r", 1))])
        .unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the log database `{}` is locked by another writer (waited 100ms)",
            path.display()
        )
    );
    other.execute_batch("ROLLBACK").unwrap();
    // Once the other writer is gone the same store works again.
    store
        .append(&[LogEntry::Invited(inv("P", "r", 1))])
        .unwrap();
    assert_eq!(store.invited_keys().unwrap(), vec![key("P", "r")]);
}

#[test]
fn a_full_disk_is_reported_and_the_batch_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let mut store = SqliteStore::open_with(
        &path,
        StoreOptions {
            max_page_count: Some(16),
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let first: Vec<LogEntry> = (0..3)
        .map(|i| LogEntry::Invited(inv("P", &format!("first-{i}"), i)))
        .collect();
    store.append(&first).unwrap();
    let big: Vec<LogEntry> = (0..5000)
        .map(|i| {
            if i % 2 == 0 {
                LogEntry::Invited(inv("P", &format!("big-{i}"), i))
            } else {
                LogEntry::Failed(fail("P", &format!("big-{i}"), "other", i))
            }
        })
        .collect();
    let err = store.append(&big).unwrap_err();
    assert!(matches!(err, StoreError::Full { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "disk full while writing the log database `{}`",
            path.display()
        )
    );
    // Nothing of the failed batch is there, before and after reopening.
    assert_eq!(store.invited_keys().unwrap().len(), 3);
    assert!(all_failures(&mut store).is_empty());
    drop(store);
    let mut reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.invited_keys().unwrap().len(), 3);
    assert!(all_failures(&mut reopened).is_empty());
}

#[test]
fn a_read_only_database_is_reported_as_read_only() {
    // Tests may run as root, which ignores file permissions, so open through SQLite's
    // read-only URI mode instead of chmod.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        store
            .append(&[LogEntry::Invited(inv("P", "r", 1))])
            .unwrap();
    }
    let uri = format!("file:{}?mode=ro", path.display());
    let mut store = SqliteStore::open(Path::new(&uri)).unwrap();
    assert_eq!(store.invited_keys().unwrap(), vec![key("P", "r")]);
    let err = store
        .append(&[LogEntry::Invited(inv("P", "s", 2))])
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("the log database `{uri}` is read-only")
    );
}

#[test]
fn a_missing_directory_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("herald.db");
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::CannotOpen { .. }), "{err:?}");
    assert!(err.to_string().starts_with("cannot open the log database"));
}

#[test]
fn stored_times_are_fixed_width_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let mut i = inv("P", "r", 0);
    i.time = Utc.timestamp_opt(1_795_000_564, 123_456_000).unwrap();
    store.append(&[LogEntry::Invited(i)]).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let text: String = conn
        .query_row("SELECT time FROM invitations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(text, "2026-11-18T11:16:04.123456Z");
}

#[test]
fn large_batches_with_varied_invitations_log_what_the_memory_store_logs() {
    // SQLite inserts invitations 16 rows per statement, each row position rebinding only the
    // values that changed; the memory store is the reference.
    let batch = |round: i64| -> Vec<LogEntry> {
        let mut entries = Vec::new();
        for n in 0..45i64 {
            let mut i = inv(
                ["Customers", "Partners", "Beta"][(n % 3) as usize],
                &format!("r{round}-{n}"),
                round * 100 + n % 2,
            );
            if n % 4 == 0 {
                i.sender_group = None;
            }
            if n % 5 == 0 {
                i.record_name = None;
                i.event = EventKind::Update;
            }
            if n % 6 == 0 {
                i.rule_set_version = format!("v{round}");
            }
            i.language = ["fr", "de", "en-GB"][(n % 3) as usize].to_string();
            entries.push(LogEntry::Invited(i));
            if n % 7 == 3 {
                entries.push(LogEntry::Failed(fail(
                    "Customers",
                    &format!("f{round}-{n}"),
                    "invalid-email",
                    round * 100,
                )));
            }
            if n == 40 {
                // The invitation of record n = 39 (Customers) is still waiting for a full
                // multi-row insert when its delivery fails.
                entries.push(LogEntry::DeliveryFailed(fail(
                    "Customers",
                    &format!("r{round}-39"),
                    "bounce",
                    round * 100 + 1,
                )));
            }
        }
        entries
    };
    let mut memory = MemoryStore::new();
    let dir = tempfile::tempdir().unwrap();
    let mut file = SqliteStore::open(&dir.path().join("herald.db")).unwrap();
    for round in 0..2 {
        let entries = batch(round);
        memory.append(&entries).unwrap();
        file.append(&entries).unwrap();
    }
    // The query lists the invitations still standing: two were undone by their bounce.
    assert_eq!(all_invitations(&mut file), all_invitations(&mut memory));
    assert_eq!(all_invitations(&mut file).len(), 88);
    assert_eq!(all_failures(&mut file), all_failures(&mut memory));
    let keys = file.invited_keys().unwrap();
    assert_eq!(keys.len(), 88);
    assert!(!keys.contains(&key("Customers", "r1-39")));
    assert_eq!(keys, memory.invited_keys().unwrap());
}

#[test]
fn sqlite_batches_are_one_transaction_and_need_to_be_open() {
    let mut s = SqliteStore::open_in_memory().unwrap();
    let a = LogEntry::Invited(inv("P", "a", 1));
    let b = LogEntry::Failed(fail("P", "b", "missing-email", 2));
    // Without `begin_batch`, nothing is logged.
    assert!(matches!(
        s.append_to_batch(std::slice::from_ref(&a)),
        Err(StoreError::NoBatch { .. })
    ));
    assert!(all_invitations(&mut s).is_empty());
    // Aborted: nothing of either part.
    assert!(s.begin_batch().unwrap());
    s.append_to_batch(std::slice::from_ref(&a)).unwrap();
    s.append_to_batch(std::slice::from_ref(&b)).unwrap();
    s.abort_batch();
    assert!(all_invitations(&mut s).is_empty());
    assert!(all_failures(&mut s).is_empty());
    // Committed: both parts, in order, as one `append` of both logs them.
    assert!(s.begin_batch().unwrap());
    s.append_to_batch(std::slice::from_ref(&a)).unwrap();
    s.append_to_batch(std::slice::from_ref(&b)).unwrap();
    s.commit_batch().unwrap();
    let mut one = MemoryStore::new();
    one.append(&[a, b]).unwrap();
    assert_eq!(all_invitations(&mut s), all_invitations(&mut one));
    assert_eq!(all_failures(&mut s), all_failures(&mut one));
    // A time out of range refuses the part and drops the batch.
    assert!(s.begin_batch().unwrap());
    s.append_to_batch(&[LogEntry::Invited(inv("P", "c", 3))])
        .unwrap();
    let mut late = inv("P", "d", 0);
    late.time = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
    assert!(matches!(
        s.append_to_batch(&[LogEntry::Invited(late)]),
        Err(StoreError::TimeOutOfRange { .. })
    ));
    assert_eq!(all_invitations(&mut s).len(), 1);
}

/// The schema of version 1, as released (a copy: the released step must never change).
const SCHEMA_V1: &str = "CREATE TABLE invitations (
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
    CREATE INDEX failures_portal_time ON failures (portal, time);
    PRAGMA user_version = 1;";

#[test]
fn a_version_1_log_is_migrated_with_its_invitations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.execute_batch(
            "INSERT INTO invitations (portal, record_id, language, email, event, time,
                                      rule_set_version, active)
             VALUES ('P', 'b', 'fr', 'b@x.fr', 'create', '2026-01-01T00:00:00.000000Z', 'v', 1),
                    ('Q', 'a', 'fr', 'a@x.fr', 'create', '2026-01-01T00:00:00.000000Z', 'v', 1),
                    ('P', 'gone', 'fr', 'g@x.fr', 'create', '2026-01-01T00:00:00.000000Z', 'v', 0);",
        )
        .unwrap();
    }
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), 2);
    assert_eq!(SqliteStore::latest_schema_version(), 2);
    assert_eq!(
        store.invited_keys().unwrap(),
        vec![key("Q", "a"), key("P", "b")]
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        indexes,
        vec![
            "failures_portal_time",
            "failures_time",
            "invitations_active_id"
        ]
    );
    // The already-invited set and a delivery failure's update read the new index.
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN UPDATE invitations SET active = 0
             WHERE portal = 'P' AND record_id = 'b' AND active = 1",
        )
        .unwrap()
        .query_map([], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter().any(|p| p.contains("invitations_active_id")),
        "{plan:?}"
    );
    // And the log goes on as before.
    store
        .append(&[LogEntry::DeliveryFailed(fail("P", "b", "bounce", 1))])
        .unwrap();
    assert_eq!(store.invited_keys().unwrap(), vec![key("Q", "a")]);
}
