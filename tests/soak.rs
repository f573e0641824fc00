//! Soak test (issue #8): route many generated events through the `Engine` on an SQLite log, with
//! rule set reloads between batches (two versions, alternating), delivery failures reported
//! back, and a restart of the engine half-way; then check the log against an independent
//! recomputation with the reference interpreter (`interp::truth` on each portal's unoptimized
//! IR, the routing steps of RULES.md written out again here): every expected invitation and
//! failure is in the log exactly once, in order, nothing else is, and each records the rule set
//! version that was live for its event.
//!
//! 20,000 events by default; `HERALD_SOAK_EVENTS=1000000 cargo test --release --test soak` for
//! the large run. Batches alternate between the serde_json path (`Engine::route_batch`) and the
//! `herald route` path (`parse_event_line` into compact records, `Engine::route_parsed`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use herald::engine::{DeliveryFailure, Engine};
use herald::event::EventKind;
use herald::interp::{self, Env};
use herald::route::{Event, Outcome};
use herald::rules::{RuleSet, Status};
use herald::store::SqliteStore;
use herald::value::{FixedClock, Truth};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

const SCHEMA: &str = r#"
schema Contacts {
  id             text
  Full_Name      text
  Email          email
  Country        picklist ["FR", "BE", "DE", "AT", "CH", "US", "ES"]
  Plan           picklist ["paid", "trial", "free"]
  Lang           text
  Opted_Out      boolean
  Age            integer
  Score          decimal
  Tags           multiselect ["vip", "beta", "partner"]
  Signup         date
  Last_Login     datetime
}
"#;

const VERSION_A: &str = r#"
portal "Customers" {
  records  Contacts
  from     group "Support"
  require  Plan == "paid" and not (Opted_Out ?? false)
  invite "fr" when Country in ["FR", "BE"] or (Country == "CH" and Lang == "fr")
  invite "de" when Country in ["DE", "AT", "CH"]
  invite "en" otherwise
}

portal "VIP" {
  records  Contacts
  from     group "Sales"
  on       create
  require  Tags contains "vip" and (Score ?? 0) > 50.5
  invite "fr" when lower(trim(Lang ?? "")) == "fr"
  invite "en" otherwise
}

portal "Seniors" {
  records  Contacts
  on       update
  require  Age >= 60 and Signup < @2024-01-01
  invite "de" when Country in ["DE", "AT"]
  invite "es" when Country == "ES" and Last_Login >= today() - 30d
}
"#;

const VERSION_B: &str = r#"
portal "Customers" {
  records  Contacts
  from     group "Support"
  require  Plan in ["paid", "trial"] and Opted_Out == false
  invite "fr" when Country == "FR" or lower(Lang ?? "") starts with "fr"
  invite "de" when Country == "DE"
}

portal "VIP" {
  records  Contacts
  from     group "Sales"
  status   paused
  require  Tags contains "vip"
  invite "en"
}

portal "Partners" {
  records  Contacts
  from     group "Partnerships"
  require  Tags contains any ["partner", "beta"] and Email ends with ".com"
  invite "en" when len(Full_Name ?? "") > 6
  invite "es" otherwise
}

portal "Seniors" {
  records  Contacts
  require  Age >= 65 or Last_Login < @2025-06-01T00:00:00Z
  invite "de"
}
"#;

fn rule_set(portals: &str) -> RuleSet {
    let loaded = herald::load::check_texts(
        vec![
            ("schema.herald".into(), SCHEMA.into(), None),
            ("portals.herald".into(), portals.into(), None),
        ],
        &mut |_: &str, _: &str| Err(String::new()),
    );
    match loaded.rule_set {
        Some(set) => set,
        None => panic!("{:?}", loaded.diagnostics),
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One generated event: records come from a pool, so most are seen several times (creates and
/// updates), with fields missing, null, of the wrong type or unparsable now and then.
fn generate(rng: &mut Rng, pool: u64) -> Event {
    let id = rng.below(pool);
    let mut r = serde_json::Map::new();
    match rng.below(200) {
        0 => {}                                      // no id: the event cannot be routed
        1 => drop(r.insert("id".into(), json!(""))), // empty id: likewise
        2 => drop(r.insert("id".into(), json!(id))), // an integer id: its decimal text
        _ => drop(r.insert("id".into(), json!(format!("c{id}")))),
    }
    if rng.below(10) > 0 {
        r.insert(
            "Full_Name".into(),
            json!(format!(
                "{} {id}",
                rng.pick(&["Zoé", "Jonas", "Lucía", "Li"])
            )),
        );
    }
    let email = match rng.below(20) {
        0 => None,
        1 => Some(json!(null)),
        2 => Some(json!("")),
        3 => Some(json!("broken@@example.com")),
        4 => Some(json!(" spaced@example.fr ")),
        5 => Some(json!(42)),
        _ => Some(json!(format!(
            "c{id}@example.{}",
            rng.pick(&["com", "fr", "de"])
        ))),
    };
    if let Some(e) = email {
        r.insert("Email".into(), e);
    }
    let mut maybe = |rng: &mut Rng, key: &str, v: Value| {
        if rng.below(8) > 0 {
            r.insert(key.into(), v);
        }
    };
    let country = json!(rng.pick(&["FR", "BE", "DE", "AT", "CH", "US", "ES", "fr"]));
    maybe(rng, "Country", country);
    let plan = json!(rng.pick(&["paid", "paid", "trial", "free"]));
    maybe(rng, "Plan", plan);
    let lang = json!(rng.pick(&["fr", " FR ", "de", "fr-CH", "en"]));
    maybe(rng, "Lang", lang);
    let opted = match rng.below(5) {
        0 => json!(true),
        1 => json!(null),
        2 => json!("no"),
        _ => json!(false),
    };
    maybe(rng, "Opted_Out", opted);
    let age = match rng.below(6) {
        0 => json!(64.5),
        1 => json!("70"),
        _ => json!(rng.below(90)),
    };
    maybe(rng, "Age", age);
    let score = match rng.below(4) {
        0 => json!(rng.below(100)),
        1 => json!(null),
        _ => json!(rng.below(1000) as f64 / 10.0),
    };
    maybe(rng, "Score", score);
    let tags: Vec<&str> = ["vip", "beta", "partner"]
        .into_iter()
        .filter(|_| rng.below(3) == 0)
        .collect();
    let tags = if rng.below(15) == 0 {
        json!(["vip", 3])
    } else {
        json!(tags)
    };
    maybe(rng, "Tags", tags);
    let signup = json!(rng.pick(&[
        "2020-02-29",
        "2023-12-31",
        "2024-01-01",
        "2025-07-14",
        "not a date"
    ]));
    maybe(rng, "Signup", signup);
    let login = json!(rng.pick(&[
        "2025-12-20T08:00:00Z",
        "2025-05-31T23:59:59-02:00",
        "2026-01-05T11:00:00+01:00",
        "2024-01-01",
        "yesterday",
    ]));
    maybe(rng, "Last_Login", login);
    let kind = if rng.below(3) == 0 {
        EventKind::Update
    } else {
        EventKind::Create
    };
    Event {
        kind,
        record: Value::Object(r),
    }
}

/// What the log should get from one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    portal: String,
    record_id: String,
    /// `invited`, or the failure reason.
    what: String,
    language: Option<String>,
    version: Option<String>,
}

/// The independent recomputation: RULES.md "Routing one event" with the reference interpreter.
struct Oracle {
    invited: HashSet<(String, String)>,
}

impl Oracle {
    fn route(&mut self, set: &RuleSet, event: &Event, now: DateTime<Utc>) -> Vec<Entry> {
        // Identity: `id`, `Full_Name`, `Email` (the default) in every portal of both versions.
        // The schema types `id` as text; an integer id is its decimal text, any other number
        // reads as null, so the event has no id.
        let id = match event.record.get("id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::Number(n)) if n.is_i64() => n.to_string(),
            _ => return Vec::new(), // not routable: nothing logged
        };
        let env = Env {
            record: &event.record,
            fields: &set.fields,
            now,
        };
        let holds = |c: &herald::rules::Cond| interp::truth(&c.node, &env) == Truth::True;
        let mut out = Vec::new();
        for portal in &set.portals {
            if portal.status == Status::Paused || !portal.triggered_by(event.kind) {
                continue;
            }
            if portal.require.as_ref().is_some_and(|c| !holds(c)) {
                continue;
            }
            let language = portal
                .branches
                .iter()
                .find(|b| b.when.as_ref().is_none_or(holds))
                .map(|b| b.language.clone())
                .or_else(|| portal.otherwise.clone());
            let Some(language) = language else { continue };
            let key = (portal.name.clone(), id.clone());
            if self.invited.contains(&key) {
                continue;
            }
            // The schema types Email as text: a number reads as null (missing).
            let email = match event.record.get("Email") {
                Some(Value::String(s)) => Some(s.as_str()),
                _ => None,
            };
            let what = match email.map(herald::email::check) {
                None => "missing-email".to_string(),
                Some(Ok(_)) => {
                    self.invited.insert(key);
                    "invited".to_string()
                }
                Some(Err(e)) => e.reason().to_string(),
            };
            out.push(Entry {
                portal: portal.name.clone(),
                record_id: id.clone(),
                what,
                language: Some(language),
                version: Some(set.version.clone()),
            });
        }
        out
    }
}

/// Reads the log rows appended since the last call.
struct LogReader {
    conn: rusqlite::Connection,
    last_invitation: i64,
    last_failure: i64,
}

impl LogReader {
    fn new(db: &Path) -> LogReader {
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        LogReader {
            conn,
            last_invitation: 0,
            last_failure: 0,
        }
    }

    /// New invitations and failures, each in append order.
    fn new_rows(&mut self) -> (Vec<Entry>, Vec<Entry>) {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, portal, record_id, language, rule_set_version FROM invitations WHERE id > ?1 ORDER BY id",
            )
            .unwrap();
        let mut invitations = Vec::new();
        let rows = stmt
            .query_map([self.last_invitation], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    Entry {
                        portal: r.get(1)?,
                        record_id: r.get(2)?,
                        what: "invited".into(),
                        language: r.get(3)?,
                        version: r.get(4)?,
                    },
                ))
            })
            .unwrap();
        for row in rows {
            let (id, e) = row.unwrap();
            self.last_invitation = id;
            invitations.push(e);
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, portal, record_id, reason, language, rule_set_version FROM failures WHERE id > ?1 ORDER BY id",
            )
            .unwrap();
        let mut failures = Vec::new();
        let rows = stmt
            .query_map([self.last_failure], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    Entry {
                        portal: r.get(1)?,
                        record_id: r.get(2)?,
                        what: r.get(3)?,
                        language: r.get(4)?,
                        version: r.get(5)?,
                    },
                ))
            })
            .unwrap();
        for row in rows {
            let (id, e) = row.unwrap();
            self.last_failure = id;
            failures.push(e);
        }
        (invitations, failures)
    }
}

fn open_engine(db: &Path, set: &Arc<RuleSet>, now: DateTime<Utc>) -> Engine {
    let store = SqliteStore::open(db).unwrap();
    Engine::new((**set).clone(), Box::new(store))
        .unwrap()
        .with_clock(Box::new(FixedClock(now)))
}

#[test]
fn soak_routes_with_reloads_and_the_log_matches_the_reference_recomputation() {
    let n: usize = std::env::var("HERALD_SOAK_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let started = std::time::Instant::now();
    let now = DateTime::parse_from_rfc3339("2026-01-05T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let versions = [Arc::new(rule_set(VERSION_A)), Arc::new(rule_set(VERSION_B))];
    assert_ne!(versions[0].version, versions[1].version);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("herald.db");
    let mut engine = open_engine(&db, &versions[0], now);
    let mut live = 0usize;
    let mut reader = LogReader::new(&db);
    let mut oracle = Oracle {
        invited: HashSet::new(),
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let pool = (n as u64 / 3).max(10);
    let (mut routed, mut batches, mut reloads, mut bounces) = (0usize, 0usize, 0usize, 0usize);
    let (mut n_invited, mut n_failed, mut unroutable) = (0usize, 0usize, 0usize);
    while routed < n {
        let size = (1 + rng.below(400) as usize).min(n - routed);
        let events: Vec<Event> = (0..size).map(|_| generate(&mut rng, pool)).collect();
        let set = Arc::clone(&versions[live]);
        assert_eq!(engine.version().unwrap(), set.version);
        // Route, alternating the serde_json and the compact paths.
        let results = if batches % 2 == 0 {
            engine.route_batch(&events).unwrap()
        } else {
            let parsed: Vec<(EventKind, herald::record::CompactRecord)> = events
                .iter()
                .map(|e| {
                    let line = serde_json::to_vec(e).unwrap();
                    herald::route::parse_event_line(&line, &set.compiled.projection).unwrap()
                })
                .collect();
            engine.route_parsed(&set, &parsed).unwrap()
        };
        // The oracle, on the same events with the same version.
        let mut expected_inv = Vec::new();
        let mut expected_fail = Vec::new();
        for (event, result) in events.iter().zip(&results) {
            let expected = oracle.route(&set, event, now);
            match result {
                Err(_) => {
                    assert!(
                        expected.is_empty(),
                        "the engine refused an event the oracle routes: {event:?}"
                    );
                    unroutable += 1;
                }
                Ok(decisions) => {
                    let got: Vec<Entry> = decisions
                        .iter()
                        .filter(|d| d.outcome != Outcome::Skipped)
                        .map(|d| Entry {
                            portal: d.portal.clone(),
                            record_id: d.record_id.clone(),
                            what: match d.outcome {
                                Outcome::Invited => "invited".into(),
                                _ => d.reason.unwrap().as_str().into(),
                            },
                            language: d.language.clone(),
                            version: Some(d.rule_set_version.clone()),
                        })
                        .collect();
                    assert_eq!(got, expected, "decisions for {event:?} with version {live}");
                }
            }
            for e in expected {
                if e.what == "invited" {
                    expected_inv.push(e);
                } else {
                    expected_fail.push(e);
                }
            }
        }
        // Now and then, the host reports a bounce for one of the batch's invitations.
        if let Some(bounced) =
            expected_inv.get(rng.below(expected_inv.len() as u64 * 4 + 1) as usize)
        {
            engine
                .report_delivery_failure(
                    &bounced.portal,
                    &bounced.record_id,
                    DeliveryFailure::Bounce,
                )
                .unwrap();
            oracle
                .invited
                .remove(&(bounced.portal.clone(), bounced.record_id.clone()));
            expected_fail.push(Entry {
                what: "bounce".into(),
                ..bounced.clone()
            });
            bounces += 1;
        }
        // The log got exactly this batch's entries, in order.
        let (inv, fail) = reader.new_rows();
        assert_eq!(inv, expected_inv, "invitations logged for batch {batches}");
        assert_eq!(fail, expected_fail, "failures logged for batch {batches}");
        n_invited += inv.len();
        n_failed += fail.len();
        routed += size;
        batches += 1;
        // Reload the other version every few batches; restart the engine once, half-way.
        if rng.below(3) == 0 {
            live = 1 - live;
            engine.reload_from((*versions[live]).clone()).unwrap();
            reloads += 1;
        }
        if routed >= n / 2 && routed - size < n / 2 {
            drop(engine);
            engine = open_engine(&db, &versions[live], now);
        }
    }
    drop(engine);
    // Whole-log checks: one active invitation per (portal, record) at most, and the oracle's
    // invited set is exactly the active one.
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let dup: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM (SELECT 1 FROM invitations WHERE active = 1 GROUP BY portal, record_id HAVING COUNT(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dup, 0);
    let active: HashSet<(String, String)> = conn
        .prepare("SELECT portal, record_id FROM invitations WHERE active = 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(active, oracle.invited);
    let total: i64 = conn
        .query_row("SELECT COUNT(*) FROM invitations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total as usize, n_invited);
    assert!(
        n_invited > n / 20 && n_failed > n / 100 && reloads > 10 && bounces > 0,
        "the mix is varied"
    );
    eprintln!(
        "soak: {n} events in {batches} batches, {reloads} reloads, 1 restart: {n_invited} invitations, \
         {n_failed} failures ({bounces} bounces), {unroutable} unroutable events; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
