//! The engine a host embeds (RULES.md "Routing one event", "The log", "Managing
//! configurations"): reasons and their order, decision details, idempotency within a batch and
//! across a reopen, delivery failures, events that cannot be routed, a failing log, reloads,
//! the clock, and 8 threads routing while another reloads the rule set 100 times.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::engine::{DeliveryFailure, Engine, EngineError};
use herald::route::{Decision, Event, EventError, Outcome, Reason};
use herald::rules::RuleSet;
use herald::store::{
    Failure, FailureQuery, Invitation, InvitationQuery, LogEntry, MemoryStore, SqliteStore, Store,
    StoreError,
};
use herald::value::{Clock, FixedClock};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/route")
        .join(path)
}

fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-01-31T09:30:00Z".parse().unwrap()
}

fn load(path: &Path) -> RuleSet {
    let loaded = herald::load::load(path).unwrap();
    match loaded.rule_set {
        Some(set) => set,
        None => panic!("{:?}", loaded.diagnostics),
    }
}

/// A rule set from one rule file's text, through a temporary directory.
fn rules_from(text: &str) -> RuleSet {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.herald"), text).unwrap();
    load(dir.path())
}

fn engine_on(store: Box<dyn Store>) -> Engine {
    Engine::new(load(&fixture("reasons")), store)
        .unwrap()
        .with_clock(Box::new(FixedClock(now())))
}

fn engine() -> Engine {
    engine_on(Box::new(MemoryStore::new()))
}

fn event(kind: &str, record: Value) -> Event {
    serde_json::from_value(json!({"event": kind, "record": record})).unwrap()
}

/// A paying French customer of the `reasons` fixture.
fn customer(id: &str, email: Option<&str>) -> Value {
    let mut r =
        json!({"id": id, "Full_Name": format!("Name {id}"), "Plan": "paid", "Country": "FR"});
    if let Some(e) = email {
        r["Email"] = json!(e);
    }
    r
}

/// (portal, outcome, language, reason) of each decision.
fn summary(ds: &[Decision]) -> Vec<(String, Outcome, Option<String>, Option<Reason>)> {
    ds.iter()
        .map(|d| (d.portal.clone(), d.outcome, d.language.clone(), d.reason))
        .collect()
}

fn customers(ds: &[Decision]) -> &Decision {
    ds.iter().find(|d| d.portal == "Customers").unwrap()
}

fn all_invitations(e: &Engine) -> Vec<Invitation> {
    e.invitations(&InvitationQuery::default()).unwrap()
}

fn all_failures(e: &Engine) -> Vec<Failure> {
    e.failures(&FailureQuery::default()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Reasons, order and details
// ---------------------------------------------------------------------------------------------

#[test]
fn every_reason_through_the_library_in_routing_order() {
    let e = engine();
    let text = std::fs::read_to_string(fixture("reasons/events.jsonl")).unwrap();
    let mut got = Vec::new();
    for line in text.lines() {
        let ev: Event = serde_json::from_str(line).unwrap();
        got.push(summary(&e.route(&ev).unwrap()));
    }
    use Outcome::*;
    use Reason::*;
    let s = |p: &str, o, l: Option<&str>, r| (p.to_string(), o, l.map(String::from), r);
    let paused = s("Beta", Skipped, None, Some(Paused));
    let vip_ccnm = s("VIP", Skipped, None, Some(CommonConditionNotMet));
    let vip_ens = s("VIP", Skipped, None, Some(EventNotSelected));
    let want = vec![
        vec![
            s("Customers", Invited, Some("fr"), None),
            vip_ccnm.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Invited, Some("de"), None),
            s("VIP", Invited, Some("en"), None),
            paused.clone(),
        ],
        vec![
            s("Customers", Skipped, None, Some(CommonConditionNotMet)),
            vip_ccnm.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Skipped, None, Some(NoLanguageMatched)),
            vip_ccnm.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Skipped, None, Some(NoLanguageMatched)),
            vip_ccnm.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Failed, Some("fr"), Some(MissingEmail)),
            vip_ccnm.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Failed, Some("fr"), Some(MissingEmail)),
            vip_ccnm.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Failed, Some("fr"), Some(InvalidEmail)),
            vip_ccnm.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Skipped, Some("fr"), Some(AlreadyInvited)),
            vip_ens.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Skipped, None, Some(CommonConditionNotMet)),
            vip_ens.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Skipped, None, Some(CommonConditionNotMet)),
            vip_ccnm.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Invited, Some("fr"), None),
            vip_ccnm.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Invited, Some("fr"), None),
            vip_ens.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Skipped, Some("fr"), Some(AlreadyInvited)),
            vip_ens.clone(),
            paused.clone(),
        ],
        vec![
            s("Customers", Skipped, None, Some(CommonConditionNotMet)),
            s("VIP", Failed, Some("fr"), Some(MissingEmail)),
            paused,
        ],
    ];
    assert_eq!(got, want);
}

#[test]
fn a_decision_names_everything_the_invitation_needs() {
    let e = engine();
    let version = e.version().unwrap();
    let ds = e
        .route(&event("create", customer("x1", Some("  X1@Example.fr "))))
        .unwrap();
    let d = customers(&ds);
    assert_eq!(d.outcome, Outcome::Invited);
    assert_eq!(d.record_id, "x1");
    assert_eq!(d.record_name.as_deref(), Some("Name x1"));
    assert_eq!(
        d.email.as_deref(),
        Some("X1@Example.fr"),
        "trimmed, case kept"
    );
    assert_eq!(d.language.as_deref(), Some("fr"));
    assert_eq!(d.sender_group.as_deref(), Some("Support"));
    assert_eq!(d.event, herald::event::EventKind::Create);
    assert_eq!(d.time, now());
    assert_eq!(d.rule_set_version, version);
    assert_eq!(d.reason, None);
    assert_eq!(d.message, None);

    let ds = e
        .route(&event("create", customer("x2", Some("x2@@example.fr"))))
        .unwrap();
    let d = customers(&ds);
    assert_eq!(
        (d.outcome, d.reason),
        (Outcome::Failed, Some(Reason::InvalidEmail))
    );
    assert_eq!(d.email.as_deref(), Some("x2@@example.fr"));
    assert!(
        d.message.as_deref().is_some_and(|m| m.contains('@')),
        "{:?}",
        d.message
    );

    let ds = e
        .route(&event("create", customer("x3", Some(" \t "))))
        .unwrap();
    let d = customers(&ds);
    assert_eq!(
        (d.outcome, d.reason),
        (Outcome::Failed, Some(Reason::MissingEmail))
    );
    assert_eq!(d.email, None, "blanks are no address");

    // What was returned is what the log holds.
    let inv = all_invitations(&e);
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0].email, "X1@Example.fr");
    assert_eq!(inv[0].rule_set_version, version);
    let f = all_failures(&e);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].reason, "missing-email");
    assert_eq!(f[0].email, None);
    assert_eq!(f[1].reason, "invalid-email");
    assert_eq!(f[1].language.as_deref(), Some("fr"));
    assert_eq!(f[1].record_name.as_deref(), Some("Name x2"));
}

#[test]
fn skipped_decisions_are_not_logged() {
    let e = engine();
    let ds = e
        .route(&event(
            "create",
            json!({"id": "s1", "Plan": "trial", "Email": "s1@example.fr"}),
        ))
        .unwrap();
    assert!(ds.iter().all(|d| d.outcome == Outcome::Skipped));
    assert!(all_invitations(&e).is_empty());
    assert!(all_failures(&e).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------------

#[test]
fn two_events_of_one_record_in_one_batch_invite_it_once() {
    let e = engine();
    let batch = vec![
        event("create", customer("b1", Some("b1@example.fr"))),
        event("update", customer("b1", Some("b1@example.fr"))),
        event("create", customer("b1", None)),
    ];
    let results = e.route_batch(&batch).unwrap();
    let got: Vec<_> = results
        .iter()
        .map(|r| customers(r.as_ref().unwrap()).reason)
        .collect();
    assert_eq!(
        got,
        vec![
            None,
            Some(Reason::AlreadyInvited),
            Some(Reason::AlreadyInvited)
        ]
    );
    assert_eq!(all_invitations(&e).len(), 1);
    assert!(all_failures(&e).is_empty());
}

#[test]
fn a_failure_then_a_corrected_email_in_one_batch_invites() {
    let e = engine();
    let batch = vec![
        event("create", customer("b2", None)),
        event("update", customer("b2", Some("b2@example.fr"))),
        event("update", customer("b2", Some("b2@example.fr"))),
    ];
    let results = e.route_batch(&batch).unwrap();
    let got: Vec<_> = results
        .iter()
        .map(|r| {
            let d = customers(r.as_ref().unwrap());
            (d.outcome, d.reason)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Outcome::Failed, Some(Reason::MissingEmail)),
            (Outcome::Invited, None),
            (Outcome::Skipped, Some(Reason::AlreadyInvited)),
        ]
    );
}

#[test]
fn invitations_survive_a_reopen_of_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    {
        let e = engine_on(Box::new(SqliteStore::open(&db).unwrap()));
        let ds = e
            .route(&event("create", customer("r1", Some("r1@example.fr"))))
            .unwrap();
        assert_eq!(customers(&ds).outcome, Outcome::Invited);
        let ds = e.route(&event("create", customer("r2", None))).unwrap();
        assert_eq!(customers(&ds).outcome, Outcome::Failed);
    }
    let e = engine_on(Box::new(SqliteStore::open(&db).unwrap()));
    let ds = e
        .route(&event("update", customer("r1", Some("r1@example.fr"))))
        .unwrap();
    assert_eq!(customers(&ds).reason, Some(Reason::AlreadyInvited));
    let ds = e
        .route(&event("update", customer("r2", Some("r2@example.fr"))))
        .unwrap();
    assert_eq!(
        customers(&ds).outcome,
        Outcome::Invited,
        "a failure does not mark a record invited"
    );
    assert_eq!(all_invitations(&e).len(), 2);
    assert_eq!(all_failures(&e).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Delivery failures reported by the host
// ---------------------------------------------------------------------------------------------

#[test]
fn a_delivery_failure_is_logged_and_the_record_is_tried_again() {
    let e = engine();
    let version = e.version().unwrap();
    e.route(&event("create", customer("d1", Some("d1@example.fr"))))
        .unwrap();
    e.report_delivery_failure("Customers", "d1", DeliveryFailure::Bounce)
        .unwrap();

    let f = all_failures(&e);
    assert_eq!(f.len(), 1);
    let f = &f[0];
    assert_eq!(
        (f.portal.as_str(), f.record_id.as_str()),
        ("Customers", "d1")
    );
    assert_eq!(f.reason, "bounce");
    assert_eq!(f.message, "the invitation email bounced");
    // The details come from the invitation that bounced.
    assert_eq!(f.record_name.as_deref(), Some("Name d1"));
    assert_eq!(f.email.as_deref(), Some("d1@example.fr"));
    assert_eq!(f.language.as_deref(), Some("fr"));
    assert_eq!(f.rule_set_version.as_deref(), Some(version.as_str()));
    assert_eq!(f.time, now());
    assert!(
        all_invitations(&e).is_empty(),
        "the invitation is no longer active"
    );

    // A later update tries again, and is idempotent again.
    let ds = e
        .route(&event("update", customer("d1", Some("d1.new@example.fr"))))
        .unwrap();
    assert_eq!(customers(&ds).outcome, Outcome::Invited);
    let ds = e
        .route(&event("update", customer("d1", Some("d1.new@example.fr"))))
        .unwrap();
    assert_eq!(customers(&ds).reason, Some(Reason::AlreadyInvited));
    let inv = all_invitations(&e);
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0].email, "d1.new@example.fr");
}

#[test]
fn delivery_failure_codes_and_messages() {
    let e = engine();
    for (i, (failure, code, message)) in [
        (
            DeliveryFailure::Bounce,
            "bounce",
            "the invitation email bounced",
        ),
        (
            DeliveryFailure::PortalUserLimit,
            "portal-user-limit",
            "the portal has reached its user limit",
        ),
        (
            DeliveryFailure::ContactDisabled,
            "contact-disabled",
            "the contact is disabled in the CRM",
        ),
        (
            DeliveryFailure::Other(String::from("mailbox full")),
            "other",
            "mailbox full",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("dc{i}");
        e.route(&event("create", customer(&id, Some("dc@example.fr"))))
            .unwrap();
        assert_eq!(failure.code(), code);
        e.report_delivery_failure("Customers", &id, failure)
            .unwrap();
        let f = e
            .failures(&FailureQuery {
                reason: Some(code.to_string()),
                ..FailureQuery::default()
            })
            .unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].record_id.as_str(), f[0].message.as_str()),
            (id.as_str(), message)
        );
    }
}

#[test]
fn a_delivery_failure_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    {
        let e = engine_on(Box::new(SqliteStore::open(&db).unwrap()));
        e.route(&event("create", customer("d2", Some("d2@example.fr"))))
            .unwrap();
        e.report_delivery_failure("Customers", "d2", DeliveryFailure::PortalUserLimit)
            .unwrap();
    }
    let e = engine_on(Box::new(SqliteStore::open(&db).unwrap()));
    let ds = e
        .route(&event("update", customer("d2", Some("d2@example.fr"))))
        .unwrap();
    assert_eq!(customers(&ds).outcome, Outcome::Invited);
}

#[test]
fn a_delivery_failure_for_a_record_never_invited_is_still_logged() {
    let e = engine();
    e.report_delivery_failure("Customers", "ghost", DeliveryFailure::ContactDisabled)
        .unwrap();
    let f = all_failures(&e);
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].record_id.as_str(), f[0].reason.as_str()),
        ("ghost", "contact-disabled")
    );
    assert_eq!(
        (f[0].email.as_deref(), f[0].language.as_deref()),
        (None, None)
    );
    assert_eq!(f[0].rule_set_version, None);
}

// ---------------------------------------------------------------------------------------------
// Events that cannot be routed, and a log that fails
// ---------------------------------------------------------------------------------------------

#[test]
fn an_event_that_cannot_be_routed_gets_its_error_in_place() {
    let e = engine();
    let batch = vec![
        event("create", customer("e1", Some("e1@example.fr"))),
        event("create", json!(["not", "an", "object"])),
        event(
            "create",
            json!({"Full_Name": "No Id", "Plan": "paid", "Country": "FR"}),
        ),
        event("create", json!({"id": "   ", "Plan": "paid"})),
        event("create", customer("e2", Some("e2@example.fr"))),
    ];
    let results = e.route_batch(&batch).unwrap();
    assert!(results[0].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err(), &EventError::NotAnObject);
    assert!(
        matches!(&results[2], Err(EventError::MissingRecordId { portal, field }) if portal == "Customers" && field == "id")
    );
    assert!(matches!(
        &results[3],
        Err(EventError::MissingRecordId { .. })
    ));
    assert!(results[4].is_ok());
    assert_eq!(all_invitations(&e).len(), 2);

    match e.route(&batch[1]) {
        Err(EngineError::Event(EventError::NotAnObject)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        EventError::MissingRecordId {
            portal: "P".into(),
            field: "id".into()
        }
        .to_string(),
        "the record has no id: field `id` (identity of portal \"P\") is missing or empty"
    );
}

#[test]
fn an_integer_id_under_a_text_schema_is_its_decimal_text() {
    // The `reasons` schema declares `id text`; an integer id is the record's identity all the
    // same, through serde_json records and through the compact records of `herald route`.
    let mut record = customer("x", Some("int@example.fr"));
    record["id"] = json!(4217);
    let e = engine();
    let ds = e.route(&event("create", record.clone())).unwrap();
    let d = customers(&ds);
    assert_eq!(d.record_id, "4217");
    assert_eq!(d.outcome, Outcome::Invited);
    // Routed again, now as a compact record: already invited under the same id.
    let set = e.rules().unwrap();
    let line = json!({"event": "update", "record": record}).to_string();
    let parsed =
        herald::route::parse_event_line(line.as_bytes(), &set.compiled.projection).unwrap();
    let results = e.route_parsed(&set, &[parsed]).unwrap();
    let ds = results[0].as_ref().unwrap();
    let d = customers(ds);
    assert_eq!(d.record_id, "4217");
    assert_eq!(d.reason, Some(Reason::AlreadyInvited));
    // A text field holding an integer still reads as null elsewhere (`Full_Name` is no display
    // name), and a decimal id is still no id under `id text`.
    let mut other = customer("y", Some("y@example.fr"));
    other["Full_Name"] = json!(7);
    let ds = e.route(&event("create", other)).unwrap();
    assert_eq!(customers(&ds).record_name, None);
    let mut dec = customer("z", None);
    dec["id"] = json!(1.5);
    assert!(matches!(
        e.route(&event("create", dec)),
        Err(EngineError::Event(EventError::MissingRecordId { .. }))
    ));
}

/// A store whose appends fail while `broken` is set: a host's database going away.
struct Flaky {
    inner: MemoryStore,
    broken: Arc<AtomicBool>,
    appends: Arc<AtomicUsize>,
}

impl Store for Flaky {
    fn invited_keys(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.invited_keys()
    }
    fn append(&mut self, entries: &[LogEntry]) -> Result<(), StoreError> {
        self.appends.fetch_add(1, Ordering::SeqCst);
        if self.broken.load(Ordering::SeqCst) {
            return Err(StoreError::Full {
                path: String::from("host"),
            });
        }
        self.inner.append(entries)
    }
    fn failures(&mut self, q: &FailureQuery) -> Result<Vec<Failure>, StoreError> {
        self.inner.failures(q)
    }
    fn invitations(&mut self, q: &InvitationQuery) -> Result<Vec<Invitation>, StoreError> {
        self.inner.invitations(q)
    }
}

#[test]
fn a_decision_is_never_returned_when_the_log_failed() {
    let broken = Arc::new(AtomicBool::new(true));
    let appends = Arc::new(AtomicUsize::new(0));
    let e = engine_on(Box::new(Flaky {
        inner: MemoryStore::new(),
        broken: Arc::clone(&broken),
        appends: Arc::clone(&appends),
    }));
    let ev = event("create", customer("f1", Some("f1@example.fr")));
    match e.route(&ev) {
        Err(EngineError::Store(StoreError::Full { .. })) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        e.route_batch(&[ev.clone(), ev.clone()]),
        Err(EngineError::Store(_))
    ));
    // Nothing counts as invited: once the log works again, the record is invited, once.
    broken.store(false, Ordering::SeqCst);
    let results = e.route_batch(&[ev.clone(), ev.clone()]).unwrap();
    assert_eq!(
        customers(results[0].as_ref().unwrap()).outcome,
        Outcome::Invited
    );
    assert_eq!(
        customers(results[1].as_ref().unwrap()).reason,
        Some(Reason::AlreadyInvited)
    );

    // A batch of skips only does not touch the log.
    let before = appends.load(Ordering::SeqCst);
    e.route(&event("create", json!({"id": "f2", "Plan": "free"})))
        .unwrap();
    assert_eq!(appends.load(Ordering::SeqCst), before);

    // A failed delivery report leaves the record invited.
    broken.store(true, Ordering::SeqCst);
    assert!(
        e.report_delivery_failure("Customers", "f1", DeliveryFailure::Bounce)
            .is_err()
    );
    broken.store(false, Ordering::SeqCst);
    assert_eq!(
        customers(&e.route(&ev).unwrap()).reason,
        Some(Reason::AlreadyInvited)
    );
}

// ---------------------------------------------------------------------------------------------
// Reloads and the clock
// ---------------------------------------------------------------------------------------------

const V1: &str = r#"portal "P" {
  from group "v1"
  require Plan == "paid"
  invite "fr"
}
"#;

const V2: &str = r#"portal "P" {
  from group "v2"
  require Plan == "paid"
  invite "de"
}
"#;

#[test]
fn reload_swaps_the_rule_set_and_refuses_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.herald");
    std::fs::write(&file, V1).unwrap();
    let e = Engine::open(dir.path(), Box::new(MemoryStore::new())).unwrap();
    let v1 = e.version().unwrap();
    let rec = |id: &str| {
        event(
            "create",
            json!({"id": id, "Full_Name": id, "Email": "a@example.fr", "Plan": "paid"}),
        )
    };
    assert_eq!(
        e.route(&rec("a")).unwrap()[0].language.as_deref(),
        Some("fr")
    );

    std::fs::write(&file, V2).unwrap();
    let v2 = e.reload().unwrap();
    assert_ne!(v1, v2);
    assert_eq!(e.version().unwrap(), v2);
    let d = &e.route(&rec("b")).unwrap()[0];
    assert_eq!(
        (d.language.as_deref(), d.rule_set_version.as_str()),
        (Some("de"), v2.as_str())
    );
    // The invited set is kept across reloads.
    assert_eq!(
        e.route(&rec("a")).unwrap()[0].reason,
        Some(Reason::AlreadyInvited)
    );

    std::fs::write(
        &file,
        "portal \"P\" {\n  invite \"fr\" when Plan = \"paid\"\n}\n",
    )
    .unwrap();
    match e.reload() {
        Err(EngineError::Rules(loaded)) => assert!(loaded.diagnostics.iter().any(|d| d.is_error())),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.version().unwrap(), v2, "the old rule set keeps running");
    assert_eq!(
        e.route(&rec("c")).unwrap()[0].language.as_deref(),
        Some("de")
    );

    std::fs::remove_file(&file).unwrap();
    assert!(matches!(e.reload(), Err(EngineError::Load(_))));
    assert_eq!(e.version().unwrap(), v2);

    assert_eq!(e.reload_from(rules_from(V1)).unwrap(), v1);
    assert_eq!(e.version().unwrap(), v1);
}

#[test]
fn an_engine_built_from_a_rule_set_has_no_path_to_reload() {
    let e = Engine::new(rules_from(V1), Box::new(MemoryStore::new())).unwrap();
    assert!(matches!(e.reload(), Err(EngineError::NoPath)));
}

#[test]
fn the_clock_drives_today_now_and_decision_times() {
    let set = rules_from(
        r#"portal "Recent" {
  require Signed_Up >= today() - 7d
  invite "fr"
}
"#,
    );
    let at = |t: &str| {
        Engine::new(set.clone(), Box::new(MemoryStore::new()))
            .unwrap()
            .with_clock(Box::new(FixedClock(t.parse().unwrap())))
    };
    let ev = event(
        "create",
        json!({"id": "t1", "Full_Name": "T", "Email": "t@example.fr", "Signed_Up": "2026-01-28"}),
    );
    let d = &at("2026-01-31T09:30:00Z").route(&ev).unwrap()[0];
    assert_eq!(d.outcome, Outcome::Invited);
    assert_eq!(d.time, now());
    let d = &at("2026-03-01T00:00:00Z").route(&ev).unwrap()[0];
    assert_eq!(d.reason, Some(Reason::CommonConditionNotMet));

    // Any `Clock` works; this one moves.
    struct Ticking(Mutex<chrono::DateTime<chrono::Utc>>);
    impl Clock for Ticking {
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            let mut t = self.0.lock().unwrap();
            *t += chrono::Duration::seconds(1);
            *t
        }
    }
    let e = Engine::new(set, Box::new(MemoryStore::new()))
        .unwrap()
        .with_clock(Box::new(Ticking(Mutex::new(now()))));
    let t1 = e.route(&ev).unwrap()[0].time;
    let ev2 = event(
        "create",
        json!({"id": "t2", "Full_Name": "T", "Email": "t@example.fr", "Signed_Up": "2026-01-28"}),
    );
    let t2 = e.route(&ev2).unwrap()[0].time;
    assert!(t2 > t1);
}

#[test]
fn a_single_condition_compiles_and_evaluates_on_its_own() {
    use herald::condition::Condition;
    use herald::value::Truth;
    let c = Condition::compile(r#"Plan == "paid" and not (Opted_Out ?? false)"#, None).unwrap();
    let clock = FixedClock(now());
    assert!(c.matches(&json!({"Plan": "paid"}), &clock));
    assert_eq!(
        c.eval(&json!({"Plan": "paid", "Opted_Out": true}), &clock),
        Truth::False
    );
    assert_eq!(c.eval(&json!({}), &clock), Truth::Unknown);
    let err = Condition::compile("Plan = \"paid\"", None).unwrap_err();
    assert!(err.to_string().contains("=="), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Concurrency: 8 threads route while another reloads the rule set 100 times
// ---------------------------------------------------------------------------------------------

const THREADS: usize = 8;
const RELOADS: usize = 100;

/// Rule set number `k`: its sender group names it, and its language depends on its parity, so
/// a decision shows which rule set made it.
fn generation(k: usize) -> RuleSet {
    let language = if k % 2 == 0 { "fr" } else { "de" };
    rules_from(&format!(
        r#"portal "Main" {{
  from group "g{k}"
  require Plan == "paid"
  invite "{language}"
}}

portal "Second" {{
  from group "g{k}"
  on create
  invite "en" when Country == "US"
}}
"#
    ))
}

#[test]
fn eight_threads_route_while_another_reloads_100_times() {
    let sets: Vec<RuleSet> = (0..=RELOADS).map(generation).collect();
    let versions: Vec<String> = sets.iter().map(|s| s.version.clone()).collect();
    assert_eq!(
        versions.iter().collect::<HashSet<_>>().len(),
        RELOADS + 1,
        "distinct versions"
    );
    let by_version: HashMap<&str, usize> = versions
        .iter()
        .enumerate()
        .map(|(k, v)| (v.as_str(), k))
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let engine = Engine::new(sets[0].clone(), Box::new(SqliteStore::open(&db).unwrap())).unwrap();
    // `live` = how many reloads have returned; rule set `live` (or `live + 1`, being swapped in)
    // is the one in force.
    let live = AtomicUsize::new(0);
    let done = AtomicBool::new(false);

    let (returned, rounds) = std::thread::scope(|s| {
        let routers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (engine, live, done, by_version) = (&engine, &live, &done, &by_version);
                s.spawn(move || {
                    let mut returned: Vec<Decision> = Vec::new();
                    let mut round = 0usize;
                    // Route until the reloads are over, and at least 20 batches.
                    while round < 20 || !done.load(Ordering::SeqCst) {
                        let mut batch = Vec::new();
                        for j in 0..8 {
                            let email = if j == 7 { Value::Null } else { json!(format!("t{t}r{round}j{j}@example.com")) };
                            let country = if j % 2 == 0 { "US" } else { "FR" };
                            batch.push(event(
                                if j % 3 == 0 { "update" } else { "create" },
                                json!({"id": format!("t{t}-{round}-{j}"), "Full_Name": "N", "Email": email,
                                       "Plan": "paid", "Country": country}),
                            ));
                        }
                        // A record every thread routes in the same round: invited once overall.
                        batch.push(event("create", json!({"id": format!("shared-{round}"), "Full_Name": "S",
                            "Email": "shared@example.com", "Plan": "paid", "Country": "FR"})));
                        let before = live.load(Ordering::SeqCst);
                        let results = engine.route_batch(&batch).unwrap();
                        let after = live.load(Ordering::SeqCst);
                        // One snapshot per batch: every decision of it has the same version, one
                        // that was live while the call ran.
                        let mut ks = HashSet::new();
                        for r in &results {
                            for d in r.as_ref().unwrap() {
                                let k = by_version[d.rule_set_version.as_str()];
                                ks.insert(k);
                                assert!(k >= before && k <= after + 1, "version {k} not live in {before}..={after}");
                                // Entirely that rule set, never a mix.
                                assert_eq!(d.sender_group.as_deref(), Some(format!("g{k}").as_str()));
                                if d.portal == "Main" && d.outcome != Outcome::Skipped {
                                    let want = if k % 2 == 0 { "fr" } else { "de" };
                                    assert_eq!(d.language.as_deref(), Some(want));
                                }
                            }
                        }
                        assert_eq!(ks.len(), 1);
                        returned.extend(results.into_iter().flat_map(|r| r.unwrap()));
                        round += 1;
                    }
                    (returned, round)
                })
            })
            .collect();
        let reloader = s.spawn(|| {
            for (k, set) in sets.iter().enumerate().skip(1) {
                let v = engine.reload_from(set.clone()).unwrap();
                assert_eq!(v, versions[k]);
                live.store(k, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            done.store(true, Ordering::SeqCst);
        });
        reloader.join().unwrap();
        let mut all = Vec::new();
        let mut rounds = Vec::new();
        for r in routers {
            let (d, n) = r.join().expect("no panic in a routing thread");
            all.extend(d);
            rounds.push(n);
        }
        (all, rounds)
    });
    assert_eq!(engine.version().unwrap(), versions[RELOADS]);

    // No lost log row: every invitation and failure returned is in the log, and nothing else.
    let mut store = SqliteStore::open(&db).unwrap();
    let logged_inv = store.invitations(&InvitationQuery::default()).unwrap();
    let logged_fail = store.failures(&FailureQuery::default()).unwrap();
    let key = |p: &str, r: &str, v: &str| (p.to_string(), r.to_string(), v.to_string());
    let mut want_inv: Vec<_> = returned
        .iter()
        .filter(|d| d.outcome == Outcome::Invited)
        .map(|d| key(&d.portal, &d.record_id, &d.rule_set_version))
        .collect();
    let mut got_inv: Vec<_> = logged_inv
        .iter()
        .map(|i| key(&i.portal, &i.record_id, &i.rule_set_version))
        .collect();
    want_inv.sort();
    got_inv.sort();
    assert_eq!(got_inv, want_inv);
    let mut want_fail: Vec<_> = returned
        .iter()
        .filter(|d| d.outcome == Outcome::Failed)
        .map(|d| key(&d.portal, &d.record_id, &d.rule_set_version))
        .collect();
    let mut got_fail: Vec<_> = logged_fail
        .iter()
        .map(|f| {
            key(
                &f.portal,
                &f.record_id,
                f.rule_set_version.as_deref().unwrap_or(""),
            )
        })
        .collect();
    want_fail.sort();
    got_fail.sort();
    assert_eq!(got_fail, want_fail);

    // Nobody invited twice, and each shared record invited exactly once.
    let mut seen = HashSet::new();
    for i in &logged_inv {
        assert!(
            seen.insert((i.portal.clone(), i.record_id.clone())),
            "{} invited twice",
            i.record_id
        );
    }
    let min_rounds = *rounds.iter().min().unwrap();
    for r in 0..min_rounds {
        let n = logged_inv
            .iter()
            .filter(|i| i.record_id == format!("shared-{r}") && i.portal == "Main")
            .count();
        assert_eq!(n, 1, "shared-{r}");
    }
    assert!(returned.len() >= THREADS * 20 * 9 * 2);
    // The routing really overlapped the reloads.
    let seen: HashSet<&str> = returned
        .iter()
        .map(|d| d.rule_set_version.as_str())
        .collect();
    assert!(
        seen.len() >= 3,
        "only {} rule set versions routed",
        seen.len()
    );
}

#[test]
fn routing_into_reused_decisions_gives_what_route_parsed_gives() {
    // `herald route` routes batch after batch into the same decisions; batches of other sizes,
    // unroutable events and every outcome must leave nothing of the previous batch behind.
    let fresh = engine();
    let reused = engine();
    // And as `herald route` does now: each event decided as it is parsed, into one reused
    // record, the batch logged with `commit_decided`.
    let decided = engine();
    let set = fresh.rules().unwrap();
    let mut name_less = customer("n", Some("n@example.fr"));
    name_less.as_object_mut().unwrap().remove("Full_Name");
    let mut int_id = customer("x", Some("int@example.fr"));
    int_id["id"] = json!(4217);
    let records = [
        customer("a", Some("a@example.fr")),
        customer("b", None),
        customer("c", Some("not an address")),
        json!({"Full_Name": "no id"}),
        customer("a", Some("a@example.fr")),
        customer("d", Some("  d@example.fr ")),
        name_less,
        int_id,
        customer("e", Some("")),
        json!({"id": "f", "Plan": "free", "Email": "f@example.fr"}),
    ];
    let lines: Vec<String> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let kind = if i % 3 == 0 { "update" } else { "create" };
            json!({"event": kind, "record": r}).to_string()
        })
        .collect();
    let parsed: Vec<_> = lines
        .iter()
        .map(|l| herald::route::parse_event_line(l.as_bytes(), &set.compiled.projection).unwrap())
        .collect();
    let mut results = Vec::new();
    let mut one_by_one = Vec::new();
    let mut record = herald::record::CompactRecord::default();
    for (start, len) in [(0, 3), (3, 1), (4, 6), (0, 10), (2, 0), (5, 5), (1, 2)] {
        let batch = &parsed[start..start + len];
        let want = fresh.route_parsed(&set, batch).unwrap();
        reused.route_parsed_into(&set, batch, &mut results).unwrap();
        assert_eq!(results, want, "batch {start}..{}", start + len);
        let now = decided.now();
        for (i, line) in lines[start..start + len].iter().enumerate() {
            let kind = herald::route::parse_event_line_into(
                line.as_bytes(),
                &set.compiled.projection,
                &mut record,
            )
            .unwrap();
            if one_by_one.len() == i {
                one_by_one.push(Ok(Vec::new()));
            }
            herald::route::decide_result_into(&set, kind, &record, now, &mut one_by_one[i]);
        }
        decided.commit_decided(&mut one_by_one[..len]).unwrap();
        assert_eq!(
            &one_by_one[..len],
            &want[..],
            "batch {start}..{} decided one by one",
            start + len
        );
    }
    assert_eq!(all_invitations(&reused), all_invitations(&fresh));
    assert_eq!(all_invitations(&decided), all_invitations(&fresh));
}

// ---------------------------------------------------------------------------------------------
// Batches logged part by part (`Engine::batch`, as `herald route` logs)
// ---------------------------------------------------------------------------------------------

/// A store that logs batches itself, through SQLite, and fails the step it is told to.
struct FlakyBatches {
    inner: SqliteStore,
    /// Fail the `append_to_batch` call with this number (counted from 1), or the commit.
    fail_append: Option<usize>,
    fail_commit: bool,
    appends: usize,
}

impl Store for FlakyBatches {
    fn invited_keys(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.invited_keys()
    }
    fn append(&mut self, entries: &[LogEntry]) -> Result<(), StoreError> {
        self.inner.append(entries)
    }
    fn begin_batch(&mut self) -> Result<bool, StoreError> {
        self.appends = 0;
        self.inner.begin_batch()
    }
    fn append_to_batch(&mut self, entries: &[LogEntry]) -> Result<(), StoreError> {
        self.appends += 1;
        if self.fail_append == Some(self.appends) {
            // As the SQLite store does on an error: the whole batch is dropped.
            self.inner.abort_batch();
            return Err(StoreError::Full {
                path: String::from("host"),
            });
        }
        self.inner.append_to_batch(entries)
    }
    fn commit_batch(&mut self) -> Result<(), StoreError> {
        if self.fail_commit {
            self.inner.abort_batch();
            return Err(StoreError::Full {
                path: String::from("host"),
            });
        }
        self.inner.commit_batch()
    }
    fn abort_batch(&mut self) {
        self.inner.abort_batch();
    }
    fn failures(&mut self, q: &FailureQuery) -> Result<Vec<Failure>, StoreError> {
        self.inner.failures(q)
    }
    fn invitations(&mut self, q: &InvitationQuery) -> Result<Vec<Invitation>, StoreError> {
        self.inner.invitations(q)
    }
}

/// Event lines with every outcome, a record invited twice, and an event that cannot be routed.
fn batch_lines() -> Vec<String> {
    let records = [
        customer("a", Some("a@example.fr")),
        customer("b", None),
        customer("c", Some("not an address")),
        json!({"Full_Name": "no id"}),
        customer("a", Some("a@example.fr")),
        customer("d", Some("d@example.fr")),
        customer("b", Some("b@example.fr")),
        json!({"id": "f", "Plan": "free", "Email": "f@example.fr"}),
        customer("d", Some("d@example.fr")),
        customer("g", Some("g@example.fr")),
    ];
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let kind = if i % 3 == 0 { "update" } else { "create" };
            json!({"event": kind, "record": r}).to_string()
        })
        .collect()
}

/// The events of `lines`, decided by `engine` as `herald route` decides them.
fn decided(engine: &Engine, lines: &[String]) -> Vec<Result<Vec<Decision>, EventError>> {
    let set = engine.rules().unwrap();
    let now = engine.now();
    lines
        .iter()
        .map(|line| {
            let (kind, record) =
                herald::route::parse_event_line(line.as_bytes(), &set.compiled.projection).unwrap();
            let mut result = Ok(Vec::new());
            herald::route::decide_result_into(&set, kind, &record, now, &mut result);
            result
        })
        .collect()
}

/// Logs `lines` through one batch of `engine`, in parts of the given sizes; returns the
/// decisions.
fn log_in_parts(
    engine: &Engine,
    lines: &[String],
    parts: &[usize],
) -> Result<Vec<Result<Vec<Decision>, EventError>>, EngineError> {
    let mut batch = engine.batch()?;
    let mut all = Vec::new();
    let mut start = 0;
    for &n in parts {
        let mut part = decided(engine, &lines[start..start + n]);
        batch.log(&mut part)?;
        all.extend(part);
        start += n;
    }
    batch.commit()?;
    Ok(all)
}

#[test]
fn a_batch_logged_in_parts_gives_what_one_commit_gives() {
    let lines = batch_lines();
    let one = engine();
    let mut want = decided(&one, &lines);
    one.commit_decided(&mut want).unwrap();
    // A store that logs batches itself (SQLite) and one that does not (the memory store: the
    // engine gathers the entries).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    let stores: [Box<dyn Store>; 2] = [
        Box::new(SqliteStore::open(&path).unwrap()),
        Box::new(MemoryStore::new()),
    ];
    for (i, store) in stores.into_iter().enumerate() {
        let parts = engine_on(store);
        let got = log_in_parts(&parts, &lines, &[1, 3, 0, 2, 4]).unwrap();
        assert_eq!(got, want, "store {i}");
        assert_eq!(all_invitations(&parts), all_invitations(&one), "store {i}");
        assert_eq!(all_failures(&parts), all_failures(&one), "store {i}");
        // The next batch sees the invitations of this one.
        let again = log_in_parts(&parts, &lines, &[10]).unwrap();
        for result in again.iter().flatten() {
            assert!(
                result.iter().all(|d| d.outcome != Outcome::Invited),
                "store {i}"
            );
        }
    }
}

#[test]
fn a_batch_is_durable_at_its_commit_and_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    let e = engine_on(Box::new(SqliteStore::open(&path).unwrap()));
    let lines = batch_lines();
    let mut batch = e.batch().unwrap();
    let mut part = decided(&e, &lines);
    batch.log(&mut part).unwrap();
    // Another connection sees nothing of the logged parts until the commit.
    let mut other = SqliteStore::open(&path).unwrap();
    assert!(
        other
            .invitations(&InvitationQuery::default())
            .unwrap()
            .is_empty()
    );
    assert!(other.failures(&FailureQuery::default()).unwrap().is_empty());
    batch.commit().unwrap();
    assert_eq!(
        other
            .invitations(&InvitationQuery::default())
            .unwrap()
            .len(),
        4
    );
    assert_eq!(other.failures(&FailureQuery::default()).unwrap().len(), 2);
}

#[test]
fn a_batch_dropped_or_failed_logs_nothing_and_forgets_its_invitations() {
    let lines = batch_lines();
    let dir = tempfile::tempdir().unwrap();
    for (case, fail_append, fail_commit) in [
        ("dropped", None, false),
        ("second part fails", Some(2), false),
        ("commit fails", None, true),
    ] {
        let path = dir.path().join(format!("{case}.db"));
        let e = engine_on(Box::new(FlakyBatches {
            inner: SqliteStore::open(&path).unwrap(),
            fail_append,
            fail_commit,
            appends: 0,
        }));
        let mut batch = e.batch().unwrap();
        let mut first = decided(&e, &lines[..5]);
        batch.log(&mut first).unwrap();
        assert_eq!(
            customers(first[0].as_ref().unwrap()).outcome,
            Outcome::Invited
        );
        let mut second = decided(&e, &lines[5..]);
        match (fail_append, batch.log(&mut second)) {
            (Some(_), Err(EngineError::Store(StoreError::Full { .. }))) => {
                // Every later step of the failed batch fails too.
                let mut third = decided(&e, &lines[..1]);
                assert!(matches!(
                    batch.log(&mut third),
                    Err(EngineError::BatchAborted)
                ));
                assert!(matches!(batch.commit(), Err(EngineError::BatchAborted)));
            }
            (None, Ok(())) if fail_commit => {
                assert!(matches!(
                    batch.commit(),
                    Err(EngineError::Store(StoreError::Full { .. }))
                ));
            }
            (None, Ok(())) => drop(batch),
            (_, other) => panic!("{case}: {other:?}"),
        }
        assert!(all_invitations(&e).is_empty(), "{case}");
        assert!(all_failures(&e).is_empty(), "{case}");
        // Nobody counts as invited: the same events invite again, once.
        let again = e
            .route_batch(&[
                event("create", customer("a", Some("a@example.fr"))),
                event("create", customer("a", Some("a@example.fr"))),
            ])
            .unwrap();
        assert_eq!(
            customers(again[0].as_ref().unwrap()).outcome,
            Outcome::Invited
        );
        assert_eq!(
            customers(again[1].as_ref().unwrap()).reason,
            Some(Reason::AlreadyInvited)
        );
        assert_eq!(all_invitations(&e).len(), 1, "{case}");
    }
}
