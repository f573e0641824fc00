//! `herald failures` through the binary (CLI.md): the failed-invitation log newest first, as a
//! table or JSON, filtered by portal, reason and time (`--since` RFC 3339 or `7d`/`12h`/...),
//! including delivery failures reported by a host through the library; exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use herald::engine::{DeliveryFailure, Engine};
use herald::store::SqliteStore;
use herald::value::FixedClock;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/route")
        .join(path)
}

fn herald(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .output()
        .expect("run herald")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Routes `events` (JSON Lines text) with the `reasons` rule set at time `now`.
fn route_at(db: &Path, events: &str, now: &str) {
    let dir = db.parent().unwrap();
    let file = dir.join(format!("events-{}.jsonl", now.replace(':', "-")));
    std::fs::write(&file, events).unwrap();
    let o = herald(&[
        "route",
        "--rules",
        p(&fixture("reasons")),
        "--events",
        p(&file),
        "--db",
        p(db),
        "--now",
        now,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

const FIRST: &str = r#"{"event": "create", "record": {"id": "f1", "Full_Name": "Anne Martin", "Plan": "paid", "Country": "FR"}}
{"event": "create", "record": {"id": "f2", "Full_Name": "Marie Laurent", "Email": "marie@@example.fr", "Plan": "paid", "Country": "BE"}}
{"event": "create", "record": {"id": "f3", "Full_Name": "Jonas Meier", "Email": "jonas@example.de", "Plan": "paid", "Country": "DE"}}
"#;

const SECOND: &str = r#"{"event": "create", "record": {"id": "f4", "Email": "  ", "Plan": "free", "Country": "FR", "Tags": ["vip"]}}
{"event": "create", "record": {"id": "f5", "Full_Name": "A Very Long Display Name That Goes On And On Beyond Forty Eight", "Email": "f5@example", "Plan": "paid", "Country": "FR"}}
"#;

/// A log with failures at three times: two from routing on Jan 10, two on Jan 20, and a bounce
/// reported by a host on Jan 25 for f3, invited on Jan 10.
fn populated() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    route_at(&db, FIRST, "2026-01-10T08:00:00Z");
    route_at(&db, SECOND, "2026-01-20T08:00:00Z");
    let engine = Engine::open(
        &fixture("reasons"),
        Box::new(SqliteStore::open(&db).unwrap()),
    )
    .unwrap()
    .with_clock(Box::new(FixedClock(
        "2026-01-25T12:00:00Z".parse().unwrap(),
    )));
    engine
        .report_delivery_failure("Customers", "f3", DeliveryFailure::Bounce)
        .unwrap();
    (dir, db)
}

#[test]
fn the_table_lists_failures_newest_first() {
    let (_dir, db) = populated();
    let o = herald(&["failures", "--db", p(&db)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let want = "\
RECORD NAME                                       EMAIL              FAILURE DATE             REASON
Jonas Meier                                       jonas@example.de   2026-01-25 12:00:00 UTC  bounce
A Very Long Display Name That Goes On And On Be…  f5@example         2026-01-20 08:00:00 UTC  invalid-email
(f4)                                              -                  2026-01-20 08:00:00 UTC  missing-email
Marie Laurent                                     marie@@example.fr  2026-01-10 08:00:00 UTC  invalid-email
Anne Martin                                       -                  2026-01-10 08:00:00 UTC  missing-email
";
    assert_eq!(stdout(&o), want);
}

#[test]
fn json_has_every_field() {
    let (_dir, db) = populated();
    let o = herald(&["failures", "--db", p(&db), "--json"]);
    assert_eq!(code(&o), 0);
    let rows: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(rows.len(), 5);
    let version = herald::load::load(&fixture("reasons"))
        .unwrap()
        .rule_set
        .unwrap()
        .version;
    assert_eq!(
        rows[0],
        serde_json::json!({
            "portal": "Customers", "record_id": "f3", "record_name": "Jonas Meier",
            "email": "jonas@example.de", "language": "de", "reason": "bounce",
            "message": "the invitation email bounced", "time": "2026-01-25T12:00:00Z",
            "rule_set_version": version,
        })
    );
    assert_eq!(rows[2]["portal"], "VIP");
    assert_eq!(rows[2]["record_name"], Value::Null);
    assert_eq!(rows[2]["email"], Value::Null, "blanks are no address");
    assert_eq!(rows[2]["reason"], "missing-email");
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["record_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["f3", "f5", "f4", "f2", "f1"]);
    for r in &rows {
        for key in [
            "portal",
            "record_id",
            "record_name",
            "email",
            "language",
            "reason",
            "message",
            "time",
            "rule_set_version",
        ] {
            assert!(r.get(key).is_some(), "{key} in {r}");
        }
    }
}

fn ids(o: &Output) -> Vec<String> {
    assert_eq!(code(o), 0, "{}", stderr(o));
    let rows: Vec<Value> = serde_json::from_str(&stdout(o)).unwrap();
    rows.iter()
        .map(|r| r["record_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn filters_by_portal_reason_and_time() {
    let (_dir, db) = populated();
    let q = |extra: &[&str]| {
        let mut args = vec!["failures", "--db", p(&db), "--json"];
        args.extend_from_slice(extra);
        ids(&herald(&args))
    };
    assert_eq!(q(&["--portal", "VIP"]), ["f4"]);
    assert_eq!(q(&["--portal", "Customers"]), ["f3", "f5", "f2", "f1"]);
    assert_eq!(
        q(&["--portal", "customers"]),
        Vec::<String>::new(),
        "exact match"
    );
    assert_eq!(q(&["--reason", "invalid-email"]), ["f5", "f2"]);
    assert_eq!(q(&["--reason", "bounce"]), ["f3"]);
    assert_eq!(
        q(&["--portal", "Customers", "--reason", "missing-email"]),
        ["f1"]
    );
    // `--since` is inclusive, and any offset works.
    assert_eq!(q(&["--since", "2026-01-20T08:00:00Z"]), ["f3", "f5", "f4"]);
    assert_eq!(
        q(&["--since", "2026-01-20T09:00:00+01:00"]),
        ["f3", "f5", "f4"]
    );
    assert_eq!(q(&["--since", "2026-01-20T08:00:01Z"]), ["f3"]);
    assert_eq!(
        q(&[
            "--since",
            "2026-01-10T00:00:00Z",
            "--reason",
            "missing-email"
        ]),
        ["f4", "f1"]
    );
    assert_eq!(
        q(&["--since", "2030-01-01T00:00:00Z"]),
        Vec::<String>::new()
    );
}

#[test]
fn since_accepts_a_duration_ago() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let now = Utc::now();
    let at = |ago: Duration| rfc3339(now - ago);
    // One failure 20 days ago, 10 days ago, 2 days ago, 3 hours ago and 5 minutes ago.
    for (id, ago) in [
        ("a20d", Duration::days(20)),
        ("a10d", Duration::days(10)),
        ("a2d", Duration::days(2)),
        ("a3h", Duration::hours(3)),
        ("a5m", Duration::minutes(5)),
    ] {
        let line = format!(
            r#"{{"event": "create", "record": {{"id": "{id}", "Plan": "paid", "Country": "FR"}}}}"#
        );
        route_at(&db, &format!("{line}\n"), &at(ago));
    }
    let q = |since: &str| {
        ids(&herald(&[
            "failures",
            "--db",
            p(&db),
            "--json",
            "--since",
            since,
        ]))
    };
    assert_eq!(q("2w"), ["a5m", "a3h", "a2d", "a10d"]);
    assert_eq!(q("7d"), ["a5m", "a3h", "a2d"]);
    assert_eq!(q("12h"), ["a5m", "a3h"]);
    assert_eq!(q("30m"), ["a5m"]);
    assert_eq!(q("0d"), Vec::<String>::new());
}

#[test]
fn an_empty_log_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    route_at(
        &db,
        "{\"event\": \"create\", \"record\": {\"id\": \"ok\", \"Email\": \"ok@example.fr\", \"Plan\": \"paid\", \"Country\": \"FR\"}}\n",
        "2026-01-10T08:00:00Z",
    );
    let o = herald(&["failures", "--db", p(&db)]);
    assert_eq!(code(&o), 0);
    assert_eq!(
        stdout(&o),
        "RECORD NAME  EMAIL  FAILURE DATE  REASON\n(no failures)\n"
    );
    let o = herald(&["failures", "--db", p(&db), "--json"]);
    assert_eq!(stdout(&o).trim(), "[]");
}

#[test]
fn errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    let o = herald(&["failures", "--db", p(&missing)]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).starts_with("error: no log database at"),
        "{}",
        stderr(&o)
    );
    assert!(!missing.exists(), "a missing log is not created");

    let (_d, db) = populated();
    for since in ["3x", "yesterday", "7", "d", "-", "99999999999999999d"] {
        let o = herald(&["failures", "--db", p(&db), "--since", since]);
        assert_eq!(code(&o), 2, "--since {since}");
        assert!(
            stderr(&o).contains(&format!("--since `{since}`")),
            "{}",
            stderr(&o)
        );
    }

    let not_a_db = dir.path().join("notes.txt");
    std::fs::write(
        &not_a_db,
        "these are not the failures you are looking for\n".repeat(100),
    )
    .unwrap();
    let o = herald(&["failures", "--db", p(&not_a_db)]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));

    let o = herald(&["failures", "--db", p(&db), "--bogus"]);
    assert_eq!(code(&o), 2);
}
