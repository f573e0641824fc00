//! `herald route` through the binary (CLI.md, RULES.md "Routing one event"): every outcome and
//! reason, what reaches the log, idempotency across two runs on one database, malformed lines,
//! standard input and streaming, exit codes, and a differential check of the binary's compact
//! record parser against the library's serde_json path.
//!
//! The rule sets and events are in `tests/fixtures/route/`; every run pins `--now` and puts its
//! database in a temporary directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::engine::Engine;
use herald::route::Event;
use herald::store::{FailureQuery, InvitationQuery, MemoryStore, SqliteStore, Store};
use herald::value::FixedClock;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const NOW: &str = "2026-01-31T09:30:00Z";

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/route")
        .join(path)
}

fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/monprofil")
        .join(path)
}

fn herald(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herald"));
    c.args(args);
    c
}

fn p(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Runs `herald route --rules RULES --events EVENTS --db DB --now NOW` plus `extra`.
fn route(rules: &Path, events: &Path, db: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "route",
        "--rules",
        p(rules),
        "--events",
        p(events),
        "--db",
        p(db),
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    herald(&args).output().expect("run herald route")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("an exit code, not a signal")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// The decisions printed on stdout, each parsed.
fn decisions(o: &Output) -> Vec<Value> {
    let text = String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// A decision in the compact form used by the expectations below.
fn row(
    line: u64,
    id: &str,
    portal: &str,
    outcome: &str,
    language: Option<&str>,
    reason: Option<&str>,
) -> Value {
    json!({"line": line, "record_id": id, "portal": portal, "outcome": outcome,
           "language": language, "reason": reason})
}

fn invited(line: u64, id: &str, portal: &str, language: &str) -> Value {
    row(line, id, portal, "invited", Some(language), None)
}

fn failed(line: u64, id: &str, portal: &str, language: &str, reason: &str) -> Value {
    row(line, id, portal, "failed", Some(language), Some(reason))
}

fn skipped(line: u64, id: &str, portal: &str, reason: &str) -> Value {
    row(line, id, portal, "skipped", None, Some(reason))
}

/// What `tests/fixtures/route/reasons/events.jsonl` must give on a fresh database, with
/// `--all`, in order. Each line is commented with what it demonstrates.
fn expected_reasons() -> Vec<Value> {
    let (c, v, b) = ("Customers", "VIP", "Beta");
    vec![
        // 1. A paying French customer: invited in French; not vip; Beta is paused.
        invited(1, "c1", c, "fr"),
        skipped(1, "c1", v, "common-condition-not-met"),
        skipped(1, "c1", b, "paused"),
        // 2. A paying German vip: invited to two portals, the second through `otherwise`.
        invited(2, "c2", c, "de"),
        invited(2, "c2", v, "en"),
        skipped(2, "c2", b, "paused"),
        // 3. A trial without email: the common condition comes before the email check.
        skipped(3, "c3", c, "common-condition-not-met"),
        skipped(3, "c3", v, "common-condition-not-met"),
        skipped(3, "c3", b, "paused"),
        // 4. A paying US customer: no `invite` line matches and there is no `otherwise`.
        skipped(4, "c4", c, "no-language-matched"),
        skipped(4, "c4", v, "common-condition-not-met"),
        skipped(4, "c4", b, "paused"),
        // 5. The same without email: no-language-matched comes before missing-email.
        skipped(5, "c5", c, "no-language-matched"),
        skipped(5, "c5", v, "common-condition-not-met"),
        skipped(5, "c5", b, "paused"),
        // 6. No Email key at all: a failure, with the language that was chosen.
        failed(6, "c6", c, "fr", "missing-email"),
        skipped(6, "c6", v, "common-condition-not-met"),
        skipped(6, "c6", b, "paused"),
        // 7. An email of blanks is missing too.
        failed(7, "c7", c, "fr", "missing-email"),
        skipped(7, "c7", v, "common-condition-not-met"),
        skipped(7, "c7", b, "paused"),
        // 8. A mistyped email.
        failed(8, "c8", c, "fr", "invalid-email"),
        skipped(8, "c8", v, "common-condition-not-met"),
        skipped(8, "c8", b, "paused"),
        // 9. c1 again, now without email: already-invited comes before missing-email (and keeps
        //    the language the rules chose); VIP only listens to creations.
        row(9, "c1", c, "skipped", Some("fr"), Some("already-invited")),
        skipped(9, "c1", v, "event-not-selected"),
        skipped(9, "c1", b, "paused"),
        // 10. c2 downgraded: the common condition comes before already-invited, and
        //     event-not-selected before the common condition.
        skipped(10, "c2", c, "common-condition-not-met"),
        skipped(10, "c2", v, "event-not-selected"),
        skipped(10, "c2", b, "paused"),
        // 11. Opted out.
        skipped(11, "c9", c, "common-condition-not-met"),
        skipped(11, "c9", v, "common-condition-not-met"),
        skipped(11, "c9", b, "paused"),
        // 12. No display name, a null opt-out box, an email with blanks around it: invited.
        invited(12, "c10", c, "fr"),
        skipped(12, "c10", v, "common-condition-not-met"),
        skipped(12, "c10", b, "paused"),
        // 13. c6 corrected its email: a failure never marks a record invited, so it is invited.
        invited(13, "c6", c, "fr"),
        skipped(13, "c6", v, "event-not-selected"),
        skipped(13, "c6", b, "paused"),
        // 14. ... once.
        row(14, "c6", c, "skipped", Some("fr"), Some("already-invited")),
        skipped(14, "c6", v, "event-not-selected"),
        skipped(14, "c6", b, "paused"),
        // 15. A free vip with a null email: VIP fails, Customers skips.
        skipped(15, "c11", c, "common-condition-not-met"),
        failed(15, "c11", v, "fr", "missing-email"),
        skipped(15, "c11", b, "paused"),
    ]
}

fn assert_rows(got: &[Value], want: &[Value]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "decision #{i} differs");
    }
    assert_eq!(got.len(), want.len(), "number of decisions");
}

#[test]
fn every_outcome_and_reason_in_routing_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let o = route(
        &fixture("reasons"),
        &fixture("reasons/events.jsonl"),
        &db,
        &["--all"],
    );
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_rows(&decisions(&o), &expected_reasons());
}

#[test]
fn the_output_line_format_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let o = route(
        &fixture("reasons"),
        &fixture("reasons/events.jsonl"),
        &dir.path().join("log.db"),
        &["--all"],
    );
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            r#"{"line":1,"record_id":"c1","portal":"Customers","outcome":"invited","language":"fr","reason":null}"#
        )
    );
    assert_eq!(
        lines.next(),
        Some(
            r#"{"line":1,"record_id":"c1","portal":"VIP","outcome":"skipped","language":null,"reason":"common-condition-not-met"}"#
        )
    );
    assert!(text.ends_with('\n'));
}

#[test]
fn without_all_only_invitations_and_failures_are_printed() {
    let dir = tempfile::tempdir().unwrap();
    let o = route(
        &fixture("reasons"),
        &fixture("reasons/events.jsonl"),
        &dir.path().join("log.db"),
        &[],
    );
    assert_eq!(code(&o), 0);
    let want: Vec<Value> = expected_reasons()
        .into_iter()
        .filter(|d| d["outcome"] != "skipped")
        .collect();
    assert_eq!(want.len(), 9);
    assert_rows(&decisions(&o), &want);
}

#[test]
fn every_printed_decision_is_in_the_log_with_its_details() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let o = route(
        &fixture("reasons"),
        &fixture("reasons/events.jsonl"),
        &db,
        &[],
    );
    assert_eq!(code(&o), 0);
    let version = herald::load::load(&fixture("reasons"))
        .unwrap()
        .rule_set
        .unwrap()
        .version;
    let now: chrono::DateTime<chrono::Utc> = NOW.parse().unwrap();

    let mut store = SqliteStore::open(&db).unwrap();
    let mut invitations = store.invitations(&InvitationQuery::default()).unwrap();
    invitations.sort_by(|a, b| (&a.portal, &a.record_id).cmp(&(&b.portal, &b.record_id)));
    let got: Vec<_> = invitations
        .iter()
        .map(|i| {
            (
                i.portal.as_str(),
                i.record_id.as_str(),
                i.record_name.as_deref(),
                i.language.as_str(),
                i.sender_group.as_deref(),
                i.email.as_str(),
                i.event.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "Customers",
                "c1",
                Some("Anne Martin"),
                "fr",
                Some("Support"),
                "anne@example.fr",
                "create"
            ),
            (
                "Customers",
                "c10",
                None,
                "fr",
                Some("Support"),
                "Paul@Example.FR",
                "create"
            ),
            (
                "Customers",
                "c2",
                Some("Jonas Meier"),
                "de",
                Some("Support"),
                "jonas@example.de",
                "create"
            ),
            (
                "Customers",
                "c6",
                Some("Louis Moreau"),
                "fr",
                Some("Support"),
                "louis@example.fr",
                "update"
            ),
            (
                "VIP",
                "c2",
                Some("Jonas Meier"),
                "en",
                Some("Sales"),
                "jonas@example.de",
                "create"
            ),
        ]
    );
    assert!(
        invitations
            .iter()
            .all(|i| i.time == now && i.rule_set_version == version)
    );

    let failures = store.failures(&FailureQuery::default()).unwrap();
    let mut got: Vec<_> = failures
        .iter()
        .map(|f| {
            (
                f.portal.as_str(),
                f.record_id.as_str(),
                f.record_name.as_deref(),
                f.email.as_deref(),
                f.language.as_deref(),
                f.reason.as_str(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "Customers",
                "c6",
                Some("Louis Moreau"),
                None,
                Some("fr"),
                "missing-email"
            ),
            (
                "Customers",
                "c7",
                Some("Chloé Petit"),
                None,
                Some("fr"),
                "missing-email"
            ),
            (
                "Customers",
                "c8",
                Some("Marie Laurent"),
                Some("marie@@example.fr"),
                Some("fr"),
                "invalid-email"
            ),
            (
                "VIP",
                "c11",
                Some("Sophie Durand"),
                None,
                Some("fr"),
                "missing-email"
            ),
        ]
    );
    for f in &failures {
        assert_eq!(f.time, now);
        assert_eq!(f.rule_set_version.as_deref(), Some(version.as_str()));
        assert!(!f.message.is_empty(), "{f:?}");
    }
}

#[test]
fn a_second_run_on_the_same_database_invites_nobody_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let first = route(
        &fixture("reasons"),
        &fixture("reasons/events.jsonl"),
        &db,
        &["--all"],
    );
    assert_eq!(code(&first), 0);
    let second = route(
        &fixture("reasons"),
        &fixture("reasons/events.jsonl"),
        &db,
        &["--all"],
    );
    assert_eq!(code(&second), 0);
    let second = decisions(&second);

    // Every invitation of the first run is now `already-invited`, with its language; nothing
    // else changes (failures are decided again: a failure never marks a record invited).
    let want: Vec<Value> = expected_reasons()
        .into_iter()
        .map(|mut d| {
            if d["outcome"] == "invited" {
                d["outcome"] = json!("skipped");
                d["reason"] = json!("already-invited");
            }
            // c6 was invited at line 13 of the first run, so line 6 finds it invited too.
            if d["line"] == 6 && d["portal"] == "Customers" {
                d = row(
                    6,
                    "c6",
                    "Customers",
                    "skipped",
                    Some("fr"),
                    Some("already-invited"),
                );
            }
            d
        })
        .collect();
    assert_rows(&second, &want);

    let mut store = SqliteStore::open(&db).unwrap();
    assert_eq!(
        store
            .invitations(&InvitationQuery::default())
            .unwrap()
            .len(),
        5
    );
    let mut keys = store.invited_keys().unwrap();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n);
}

#[test]
fn the_same_record_twice_in_one_input_is_invited_once() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let line = r#"{"event":"create","record":{"id":"d1","Full_Name":"Dup","Email":"dup@example.fr","Plan":"paid","Country":"FR"}}"#;
    std::fs::write(&events, format!("{line}\n{line}\n{line}\n")).unwrap();
    let o = route(
        &fixture("reasons"),
        &events,
        &dir.path().join("log.db"),
        &[],
    );
    assert_eq!(code(&o), 0);
    assert_rows(&decisions(&o), &[invited(1, "d1", "Customers", "fr")]);
}

/// The lines of `malformed.jsonl`, plus two the fixture cannot hold as text: invalid UTF-8 and a
/// line over the 1 MiB limit.
fn malformed_input(dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(fixture("reasons/malformed.jsonl")).unwrap();
    bytes.extend_from_slice(
        b"\n{\"event\": \"create\", \"record\": {\"id\": \"bad\xff\xfeutf8\"}}\n",
    );
    bytes.extend_from_slice(br#"{"event": "create", "record": {"id": "huge", "pad": ""#);
    bytes.extend(std::iter::repeat_n(b'x', 1 << 20));
    bytes.extend_from_slice(b"\"}}\n");
    bytes.extend_from_slice(
        br#"{"event": "create", "record": {"id": "m6", "Full_Name": "After Huge", "Email": "m6@example.fr", "Plan": "paid", "Country": "FR"}}"#,
    );
    bytes.push(b'\n');
    let path = dir.join("malformed.jsonl");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn malformed_lines_are_reported_with_their_line_number_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let events = malformed_input(dir.path());
    let o = route(
        &fixture("reasons"),
        &events,
        &dir.path().join("log.db"),
        &[],
    );
    assert_eq!(code(&o), 1, "exit 1 at the end when a line was malformed");

    // The good lines are routed, with their physical line numbers (blank lines count, the BOM on
    // line 1 and the CRLF on line 9 are accepted).
    assert_rows(
        &decisions(&o),
        &[
            invited(1, "m1", "Customers", "fr"),
            invited(9, "m2", "Customers", "de"),
            invited(14, "m3", "Customers", "fr"),
            invited(18, "m5", "Customers", "fr"),
            invited(21, "m6", "Customers", "fr"),
        ],
    );

    let err = stderr(&o);
    let want = [
        "line 3: invalid JSON: expected ident at line 1 column 2; skipped",
        "line 4: expected a JSON object {\"event\": ..., \"record\": {...}}; skipped",
        "line 5: missing `event` (\"create\" or \"update\"); skipped",
        "line 6: unknown event kind `delete`; expected \"create\" or \"update\"; skipped",
        "line 7: `record` must be a JSON object; skipped",
        "line 8: missing `record`; skipped",
        "line 10: the record has no id: field `id` (identity of portal \"Customers\") is missing or empty; skipped",
        "line 11: `event` must be the string \"create\" or \"update\"; skipped",
        "line 12: invalid JSON: EOF while parsing an object at line 1 column 41; skipped",
        "line 15: invalid JSON: trailing characters at line 1 column 61; skipped",
        "line 16: the record has no id: field `id` (identity of portal \"Customers\") is missing or empty; skipped",
        "line 17: the record has no id: field `id` (identity of portal \"Customers\") is missing or empty; skipped",
        "line 19: invalid UTF-8 at byte offset 41; skipped",
        "line 20: the line is 1048632 bytes, over the limit of 1048576 bytes; skipped",
        "14 malformed lines skipped",
    ];
    assert_eq!(err.lines().collect::<Vec<_>>(), want, "stderr:\n{err}");
}

#[test]
fn a_malformed_line_in_a_later_batch_does_not_stop_the_run() {
    // More events than one batch (4096), with a bad line in the middle of the second one.
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let mut text = String::new();
    for i in 1..=6000 {
        if i == 5000 {
            text.push_str("{oops\n");
        } else {
            text.push_str(&format!(
                "{{\"event\":\"create\",\"record\":{{\"id\":\"b{i}\",\"Email\":\"b{i}@example.fr\",\"Plan\":\"paid\",\"Country\":\"FR\"}}}}\n"
            ));
        }
    }
    std::fs::write(&events, text).unwrap();
    let o = route(
        &fixture("reasons"),
        &events,
        &dir.path().join("log.db"),
        &[],
    );
    assert_eq!(code(&o), 1);
    let got = decisions(&o);
    assert_eq!(got.len(), 5999);
    assert_eq!(got.last().unwrap()["line"], 6000);
    assert!(got.iter().all(|d| d["line"] != 5000));
    let err = stderr(&o);
    assert!(err.starts_with("line 5000: invalid JSON"), "{err}");
    assert!(err.ends_with("1 malformed line skipped\n"), "{err}");
}

#[test]
fn events_are_read_from_standard_input_when_no_file_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let mut child = herald(&[
        "route",
        "--rules",
        p(&fixture("reasons")),
        "--db",
        p(&db),
        "--now",
        NOW,
        "--all",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let events = std::fs::read(fixture("reasons/events.jsonl")).unwrap();
    child.stdin.take().unwrap().write_all(&events).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_rows(&decisions(&o), &expected_reasons());
}

#[test]
fn decisions_stream_out_while_standard_input_stays_open() {
    // A host piping events one at a time gets each decision without closing its end.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let mut child = herald(&[
        "route",
        "--rules",
        p(&fixture("reasons")),
        "--db",
        p(&db),
        "--now",
        NOW,
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    for i in 1..=3 {
        writeln!(
            stdin,
            r#"{{"event":"create","record":{{"id":"s{i}","Email":"s{i}@example.fr","Plan":"paid","Country":"FR"}}}}"#
        )
        .unwrap();
        stdin.flush().unwrap();
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a decision before end of input");
        let d: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(d, invited(i, &format!("s{i}"), "Customers", "fr"));
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
}

#[test]
fn usage_and_input_errors_exit_2_and_rule_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let rules = fixture("reasons");
    let events = fixture("reasons/events.jsonl");

    let o = herald(&["route", "--events", p(&events)]).output().unwrap();
    assert_eq!(code(&o), 2, "--rules is required");

    let o = route(&rules, &dir.path().join("missing.jsonl"), &db, &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));

    let o = route(&dir.path().join("no-rules"), &events, &db, &[]);
    assert_eq!(code(&o), 2);

    let o = herald(&[
        "route",
        "--rules",
        p(&rules),
        "--events",
        p(&events),
        "--db",
        p(&db),
        "--now",
        "yesterday",
    ])
    .output()
    .unwrap();
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--now `yesterday` is not an RFC 3339 date-time"),
        "{}",
        stderr(&o)
    );

    let o = route(&rules, &events, &dir.path().join("no/such/dir/log.db"), &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));

    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(
        broken.join("rules.herald"),
        "portal \"P\" {\n  invite \"fr\" when Plan = \"paid\"\n}\n",
    )
    .unwrap();
    let o = route(&broken, &events, &db, &[]);
    assert_eq!(code(&o), 1, "a rule set with errors is refused");
    assert!(o.stdout.is_empty());
    assert!(!db.exists(), "nothing is routed, so no log is created");
}

#[test]
fn the_default_database_is_herald_db_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let o = herald(&[
        "route",
        "--rules",
        p(&fixture("reasons")),
        "--events",
        p(&fixture("reasons/events.jsonl")),
        "--now",
        NOW,
    ])
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert_eq!(code(&o), 0);
    assert!(dir.path().join("herald.db").exists());
}

/// Routes `events` with the library (serde_json records, in-memory log) as `herald route --all`
/// would print them.
fn library_decisions(rules: &Path, events: &Path) -> (Vec<Value>, Vec<u64>) {
    let set = herald::load::load(rules).unwrap().rule_set.unwrap();
    let engine = Engine::new(set, Box::new(MemoryStore::new()))
        .unwrap()
        .with_clock(Box::new(FixedClock(NOW.parse().unwrap())));
    let text = std::fs::read_to_string(events).unwrap();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        let event: Event = serde_json::from_str(line).unwrap();
        match engine.route(&event) {
            Ok(ds) => out.extend(ds.iter().map(|d| {
                json!({"line": n, "record_id": d.record_id, "portal": d.portal,
                       "outcome": d.outcome, "language": d.language,
                       "reason": d.reason.map(|r| r.as_str())})
            })),
            Err(_) => errors.push(n),
        }
    }
    (out, errors)
}

fn assert_same_as_library(rules: &Path, events: &Path) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let o = route(rules, events, &dir.path().join("log.db"), &["--all"]);
    let (want, errors) = library_decisions(rules, events);
    assert_rows(&decisions(&o), &want);
    let reported: Vec<u64> = stderr(&o)
        .lines()
        .filter_map(|l| l.strip_prefix("line ")?.split(':').next()?.parse().ok())
        .collect();
    assert_eq!(reported, errors, "the same events cannot be routed");
    assert_eq!(code(&o), if errors.is_empty() { 0 } else { 1 });
    want.len()
}

#[test]
fn the_binary_routes_the_example_events_exactly_like_the_library() {
    let n = assert_same_as_library(&example("rules"), &example("events.jsonl"));
    assert_eq!(n, 3000, "1,000 events, three portals");
}

#[test]
fn the_binary_routes_messy_records_exactly_like_the_library() {
    let n = assert_same_as_library(&fixture("dynamic"), &fixture("dynamic/messy.jsonl"));
    assert_eq!(n, 36);
}

#[test]
fn messy_records_route_as_documented() {
    // Spot checks of the differential fixture, so that both paths being wrong the same way
    // would show.
    let dir = tempfile::tempdir().unwrap();
    let o = route(
        &fixture("dynamic"),
        &fixture("dynamic/messy.jsonl"),
        &dir.path().join("log.db"),
        &[],
    );
    let got = decisions(&o);
    let find = |line: u64, portal: &str| {
        got.iter()
            .find(|d| d["line"] == line && d["portal"] == portal)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // An integer id (no schema) is read as text.
    assert_eq!(find(1, "Members"), invited(1, "1", "Members", "fr"));
    // JSON escapes in values; `lower()` of "Be".
    assert_eq!(find(2, "Members"), invited(2, "2", "Members", "fr"));
    // A duplicate key: the last one wins (level 5, not 1).
    assert_eq!(find(3, "Members"), invited(3, "3", "Members", "de"));
    // An email that is not an object path: missing.
    assert_eq!(
        find(6, "Members"),
        failed(6, "6", "Members", "fr", "missing-email")
    );
    // Keys in any order, email trimmed.
    assert_eq!(find(13, "Members"), invited(13, "12", "Members", "fr"));
    // An escaped key name is the key.
    assert_eq!(
        find(16, "Newsletter"),
        invited(16, "15", "Newsletter", "fr")
    );
    // A decimal id cannot be routed.
    assert!(stderr(&o).contains(
        "line 18: the record id field `id` must be a string or an integer, found a decimal number"
    ));
}
