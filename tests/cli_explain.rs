//! `herald explain` through the binary (CLI.md): for each portal, the decision and a tree of
//! every sub-condition with its value and why an unknown is unknown; comments are not part of a
//! condition's text; the log is not consulted; exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const NOW: &str = "2026-01-31T09:30:00Z";

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/route")
        .join(path)
}

fn herald(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run herald")
}

/// Writes `record` to a file in `dir` and runs `herald explain --rules RULES` plus `extra` on
/// it, in `dir`, with `--now NOW` unless `extra` has its own.
fn explain(dir: &Path, rules: &str, record: &str, extra: &[&str]) -> Output {
    let file = dir.join("record.json");
    std::fs::write(&file, record).unwrap();
    let rules = fixture(rules);
    let mut args = vec!["explain", "--rules", rules.to_str().unwrap()];
    if !extra.contains(&"--now") {
        args.extend_from_slice(&["--now", NOW]);
    }
    args.extend_from_slice(extra);
    args.push(file.to_str().unwrap());
    herald(&args, dir)
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

#[test]
fn the_tree_shows_every_sub_condition_with_its_value_and_why_it_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let record = r##"{"id": "e1", "Full_Name": "Eve", "Email": "eve@example.fr", "Plan": "paid",
        "Code": "#1", "Opted_Out": "no", "Signed_Up": "last week", "Address": {"City": "Paris"}}"##;
    let o = explain(dir.path(), "explain", record, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    // The comments inside and after the `require` condition are not part of its text; the `#`
    // inside a string is.
    let want = r##"portal "Members": invite in "de" to eve@example.fr
  require Plan == "paid" and Code != "#0" and not (Opted_Out ?? false)  -> true
    true    Plan == "paid" and Code != "#0" and not (Opted_Out ?? false)
    true      Plan == "paid"    (`Plan` = "paid")
    true      Code != "#0"    (`Code` = "#1")
    true      not (Opted_Out ?? false)
    false       (Opted_Out ?? false)
    unknown       Opted_Out    (`Opted_Out` is a string, expected a boolean)
    false         false
  invite "fr" when Signed_Up >= today() - 30d  -> unknown
    unknown Signed_Up >= today() - 30d    (`Signed_Up` is "last week", not a date `YYYY-MM-DD`)
  invite "de" when Address.City == "Paris"  -> true
    true    Address.City == "Paris"    (`Address.City` = "Paris")
"##;
    assert_eq!(stdout(&o), want);
}

#[test]
fn evaluation_stops_where_routing_stops() {
    let dir = tempfile::tempdir().unwrap();
    // `require` is unknown (a null Code): no `invite` line is shown.
    let record = r#"{"id": "e2", "Full_Name": null, "Plan": "paid", "Code": null, "Signed_Up": "2026-01-20"}"#;
    let o = explain(dir.path(), "explain", record, &[]);
    let want = r##"portal "Members": skip: common-condition-not-met
  require Plan == "paid" and Code != "#0" and not (Opted_Out ?? false)  -> unknown
    unknown Plan == "paid" and Code != "#0" and not (Opted_Out ?? false)
    true      Plan == "paid"    (`Plan` = "paid")
    unknown   Code != "#0"    (`Code` is null)
    true      not (Opted_Out ?? false)
    false       (Opted_Out ?? false)
    unknown       Opted_Out    (`Opted_Out` is missing)
    false         false
"##;
    assert_eq!(stdout(&o), want);

    // The first true `invite` line is the last one shown; the clock is `--now`.
    let record = r#"{"id": "e3", "Plan": "paid", "Code": "A", "Signed_Up": "2026-01-20", "Email": "e3@example.fr"}"#;
    let o = explain(dir.path(), "explain", record, &[]);
    let out = stdout(&o);
    assert!(
        out.starts_with("portal \"Members\": invite in \"fr\" to e3@example.fr\n"),
        "{out}"
    );
    assert!(out.ends_with("  invite \"fr\" when Signed_Up >= today() - 30d  -> true\n    true    Signed_Up >= today() - 30d    (`Signed_Up` = @2026-01-20)\n"), "{out}");
    let o = explain(
        dir.path(),
        "explain",
        record,
        &["--now", "2026-06-01T00:00:00Z"],
    );
    assert!(
        stdout(&o).starts_with("portal \"Members\": invite in \"en\" to e3@example.fr\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn every_kind_of_decision() {
    let dir = tempfile::tempdir().unwrap();
    let record =
        r#"{"id": "v1", "Plan": "trial", "Tags": ["vip"], "Country": "US", "Email": "x@@y"}"#;
    let o = explain(dir.path(), "reasons", record, &[]);
    let want = r#"portal "Customers": skip: common-condition-not-met
  require Plan == "paid" and not (Opted_Out ?? false)  -> false
    false   Plan == "paid" and not (Opted_Out ?? false)
    false     Plan == "paid"    (`Plan` = "trial")
    true      not (Opted_Out ?? false)
    false       (Opted_Out ?? false)
    unknown       Opted_Out    (`Opted_Out` is missing)
    false         false
portal "VIP": fail: invalid-email (the email address has 2 `@` signs; it must have exactly one)
  require Tags contains "vip"  -> true
    true    Tags contains "vip"    (`Tags` = ["vip"])
  invite "fr" when Country == "FR"  -> false
    false   Country == "FR"    (`Country` = "US")
portal "Beta": skip: paused
"#;
    assert_eq!(stdout(&o), want);

    // An update: VIP only listens to creations, so nothing of it is evaluated.
    let o = explain(dir.path(), "reasons", record, &["--event", "update"]);
    assert!(
        stdout(&o).contains("portal \"VIP\": skip: event-not-selected\nportal \"Beta\""),
        "{}",
        stdout(&o)
    );

    let record = r#"{"id": "v2", "Plan": "paid", "Country": "US", "Email": "v2@example.com"}"#;
    let o = explain(dir.path(), "reasons", record, &[]);
    assert!(
        stdout(&o).starts_with("portal \"Customers\": skip: no-language-matched\n"),
        "{}",
        stdout(&o)
    );

    let record = r#"{"id": "v3", "Plan": "paid", "Country": "BE"}"#;
    let o = explain(dir.path(), "reasons", record, &[]);
    assert!(
        stdout(&o).starts_with(
            "portal \"Customers\": fail: missing-email (the record has no email address)\n"
        ),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_record_without_id_cannot_be_routed() {
    let dir = tempfile::tempdir().unwrap();
    let o = explain(dir.path(), "reasons", r#"{"Plan": "paid"}"#, &[]);
    assert_eq!(code(&o), 0);
    let msg = "cannot route: the record has no id: field `id` (identity of portal \"Customers\") is missing or empty";
    for portal in ["Customers", "VIP", "Beta"] {
        assert!(
            stdout(&o).contains(&format!("portal \"{portal}\": {msg}\n")),
            "{}",
            stdout(&o)
        );
    }
}

#[test]
fn explain_agrees_with_route_on_a_fresh_log() {
    // Lines of events.jsonl whose record is seen for the first time (no already-invited).
    let events = std::fs::read_to_string(fixture("reasons/events.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["route", "--all", "--now", NOW, "--rules"])
        .arg(fixture("reasons"))
        .arg("--events")
        .arg(fixture("reasons/events.jsonl"))
        .arg("--db")
        .arg(dir.path().join("log.db"))
        .output()
        .unwrap();
    let routed: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for n in [1usize, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15] {
        let line: serde_json::Value =
            serde_json::from_str(events.lines().nth(n - 1).unwrap()).unwrap();
        let kind = line["event"].as_str().unwrap();
        let o = explain(
            dir.path(),
            "reasons",
            &line["record"].to_string(),
            &["--event", kind],
        );
        let out = stdout(&o);
        let headers: Vec<&str> = out.lines().filter(|l| l.starts_with("portal ")).collect();
        let decisions: Vec<&serde_json::Value> = routed.iter().filter(|d| d["line"] == n).collect();
        assert_eq!(headers.len(), decisions.len());
        for (h, d) in headers.iter().zip(decisions) {
            let want = match (d["outcome"].as_str().unwrap(), d["reason"].as_str()) {
                ("invited", _) => format!("invite in \"{}\" to ", d["language"].as_str().unwrap()),
                ("failed", Some(r)) => format!("fail: {r} ("),
                (_, Some(r)) => format!("skip: {r}"),
                other => panic!("{other:?}"),
            };
            let prefix = format!("portal \"{}\": {want}", d["portal"].as_str().unwrap());
            assert!(h.starts_with(&prefix), "line {n}: {h} vs {prefix}");
        }
    }
}

#[test]
fn the_record_can_come_from_standard_input_and_no_log_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["explain", "--now", NOW, "--rules"])
        .arg(fixture("reasons"))
        .arg("-")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("\u{feff}{\"id\": \"s1\", \"Plan\": \"paid\", \"Country\": \"FR\", \"Email\": \"s1@example.fr\"}".as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0);
    assert!(
        stdout(&o).starts_with("portal \"Customers\": invite in \"fr\" to s1@example.fr\n"),
        "{}",
        stdout(&o)
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "no herald.db created"
    );
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let o = explain(dir.path(), "reasons", "[1]", &[]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).ends_with("must hold one JSON object (the record)\n"),
        "{}",
        stderr(&o)
    );

    let o = explain(dir.path(), "reasons", "{", &[]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("is not valid JSON"), "{}", stderr(&o));

    let o = explain(dir.path(), "reasons", "{}", &["--event", "delete"]);
    assert_eq!(code(&o), 2);
    assert_eq!(
        stderr(&o),
        "error: --event `delete` is not an event kind; write create or update\n"
    );

    let o = explain(dir.path(), "reasons", "{}", &["--now", "soon"]);
    assert_eq!(code(&o), 2);

    let rules = fixture("reasons");
    let o = herald(
        &[
            "explain",
            "--rules",
            rules.to_str().unwrap(),
            "missing.json",
        ],
        dir.path(),
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).starts_with("error: cannot read `missing.json`"),
        "{}",
        stderr(&o)
    );

    let o = herald(
        &["explain", "--rules", "no-such-dir", "missing.json"],
        dir.path(),
    );
    assert_eq!(code(&o), 2);

    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(
        broken.join("rules.herald"),
        "portal \"P\" {\n  invite \"fr\" when a && b\n}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("r.json"), "{}").unwrap();
    let o = herald(&["explain", "--rules", "broken", "r.json"], dir.path());
    assert_eq!(code(&o), 1, "a rule set with errors");
    assert!(stdout(&o).is_empty());
}
