//! Text encodings (issue #8): a UTF-8 BOM and CRLF line endings just work in rule files (`check`,
//! `test`, `route`, `explain`) and in the route input and explain's record; invalid UTF-8 and
//! NUL bytes give a diagnostic with the byte offset in the file (rule files) or a line error
//! (route input), and the rest of the input is still read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BOM: &str = "\u{feff}";

const RULES: &str = "# Customers in French or German.
schema Contacts {
  id        text
  Full_Name text
  Email     email
  Country   picklist [\"FR\", \"DE\", \"CH\"]
  Plan      picklist [\"paid\", \"free\"]
}

portal \"Customers\" {
  records  Contacts
  require  Plan == \"paid\"   # a comment
  invite \"fr\" when Country in [\"FR\", \"CH\"]
  invite \"de\" when Country == \"DE\"
}

test \"a paying French customer\" {
  record { \"id\": \"t1\", \"Full_Name\": \"Zoé\", \"Email\": \"zoe@example.fr\",
           \"Plan\": \"paid\", \"Country\": \"FR\" }
  expect \"Customers\" invites \"fr\"
}
";

fn herald(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run herald")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code (no signal)")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

/// The rule file in every combination of BOM and line endings.
fn variants() -> Vec<(&'static str, String)> {
    vec![
        ("plain", RULES.to_string()),
        ("bom", format!("{BOM}{RULES}")),
        ("crlf", crlf(RULES)),
        ("bom+crlf", format!("{BOM}{}", crlf(RULES))),
    ]
}

fn event(id: &str, country: &str) -> String {
    format!(
        r#"{{"event":"create","record":{{"id":"{id}","Full_Name":"N {id}","Email":"{id}@example.com","Plan":"paid","Country":"{country}"}}}}"#
    )
}

fn decisions(o: &Output) -> Vec<(u64, String, String)> {
    out(o)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["line"].as_u64().unwrap(),
                v["record_id"].as_str().unwrap().to_string(),
                v["language"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn bom_and_crlf_rule_files_check_test_route_and_explain_like_plain_ones() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        format!("{}\n{}\n", event("a", "FR"), event("b", "DE")),
    )
    .unwrap();
    let record = dir.path().join("record.json");
    std::fs::write(
        &record,
        r#"{"id": "r", "Email": "r@example.fr", "Plan": "paid", "Country": "CH"}"#,
    )
    .unwrap();
    let mut explained = Vec::new();
    for (name, text) in variants() {
        let rules = dir.path().join(name);
        std::fs::create_dir(&rules).unwrap();
        std::fs::write(rules.join("rules.herald"), &text).unwrap();

        let o = herald(&["check", "--format", "json", p(&rules)]);
        assert_eq!((code(&o), out(&o).trim()), (0, "[]"), "{name}: {}", err(&o));

        let o = herald(&["test", p(&rules)]);
        assert_eq!(code(&o), 0, "{name}: {}{}", out(&o), err(&o));
        assert!(
            out(&o).contains("1 passed, 0 failed"),
            "{name}: {}",
            out(&o)
        );

        let db = dir.path().join(format!("{name}.db"));
        let o = herald(&[
            "route",
            "--rules",
            p(&rules),
            "--events",
            p(&events),
            "--db",
            p(&db),
        ]);
        assert_eq!(code(&o), 0, "{name}: {}", err(&o));
        assert_eq!(
            decisions(&o),
            [(1, "a".into(), "fr".into()), (2, "b".into(), "de".into())],
            "{name}"
        );

        let o = herald(&["explain", "--rules", p(&rules), p(&record)]);
        assert_eq!(code(&o), 0, "{name}: {}", err(&o));
        assert!(
            !out(&o).contains('\r'),
            "{name}: a CR leaked into the explanation"
        );
        assert!(
            !out(&o).contains(BOM),
            "{name}: the BOM leaked into the explanation"
        );
        explained.push(out(&o));
    }
    assert!(
        explained[0].contains("invite in \"fr\""),
        "{}",
        explained[0]
    );
    assert!(
        explained.iter().all(|e| *e == explained[0]),
        "{explained:#?}"
    );
}

#[test]
fn diagnostics_of_a_bom_crlf_file_point_at_the_right_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = RULES.replace("Country == \"DE\"", "Countryy == \"DE\"");
    for (name, text) in [
        ("plain", text.clone()),
        ("bom+crlf", format!("{BOM}{}", crlf(&text))),
    ] {
        let file = dir.path().join(format!("{name}.herald"));
        std::fs::write(&file, text).unwrap();
        let o = herald(&["check", "--format", "json", p(&file)]);
        assert_eq!(code(&o), 1);
        let diags: Vec<Value> = serde_json::from_str(&out(&o)).unwrap();
        assert_eq!(diags.len(), 1, "{name}: {diags:?}");
        let d = &diags[0];
        assert_eq!(
            (d["code"].as_str(), d["line"].as_u64(), d["column"].as_u64()),
            (Some("unknown-field"), Some(14), Some(20)),
            "{name}"
        );
        assert_eq!(
            d["end_column"].as_u64(),
            Some(28),
            "{name}: the span ends before the CR"
        );
    }
}

#[test]
fn bom_and_crlf_route_input_just_works() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.herald");
    std::fs::write(&rules, RULES).unwrap();
    let input = format!(
        "{BOM}{}\r\n{}\r\n\r\n{}\r\n",
        event("a", "FR"),
        event("b", "DE"),
        event("c", "CH")
    );
    // From a file and from standard input.
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, &input).unwrap();
    let o = herald(&[
        "route",
        "--rules",
        p(&rules),
        "--events",
        p(&events),
        "--db",
        p(&dir.path().join("1.db")),
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let want = vec![
        (1, "a".to_string(), "fr".to_string()),
        (2, "b".into(), "de".into()),
        (4, "c".into(), "fr".into()),
    ];
    assert_eq!(decisions(&o), want);
    assert_eq!(err(&o), "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "route",
            "--rules",
            p(&rules),
            "--db",
            p(&dir.path().join("2.db")),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(decisions(&o), want);
}

#[test]
fn a_bom_after_the_first_line_of_the_route_input_is_a_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.herald");
    std::fs::write(&rules, RULES).unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        format!(
            "{}\n{BOM}{}\n{}\n",
            event("a", "FR"),
            event("b", "FR"),
            event("c", "FR")
        ),
    )
    .unwrap();
    let o = herald(&[
        "route",
        "--rules",
        p(&rules),
        "--events",
        p(&events),
        "--db",
        p(&dir.path().join("h.db")),
    ]);
    assert_eq!(code(&o), 1);
    let ids: Vec<String> = decisions(&o).into_iter().map(|d| d.1).collect();
    assert_eq!(ids, ["a", "c"]);
    assert!(err(&o).contains("line 2: invalid JSON"), "{}", err(&o));
}

/// `herald check --format json` on a file made of `bytes`.
fn check_bytes(dir: &Path, name: &str, bytes: &[u8]) -> (i32, Vec<Value>) {
    let file = dir.join(name);
    std::fs::write(&file, bytes).unwrap();
    let o = herald(&["check", "--format", "json", p(&file)]);
    (code(&o), serde_json::from_str(&out(&o)).unwrap())
}

#[test]
fn invalid_utf8_in_a_rule_file_names_the_byte_offset_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // "Zoé" in Latin-1 at line 18: the é is byte 0xE9.
    let latin1: Vec<u8> = RULES
        .replace('é', "\u{1}")
        .bytes()
        .map(|b| if b == 1 { 0xE9 } else { b })
        .collect();
    let at = latin1.iter().position(|b| *b == 0xE9).unwrap();
    for (name, bom) in [
        ("plain.herald", &b""[..]),
        ("bom.herald", &b"\xEF\xBB\xBF"[..]),
    ] {
        let bytes = [bom, &latin1].concat();
        let (code, diags) = check_bytes(dir.path(), name, &bytes);
        assert_eq!(code, 1, "{name}");
        assert_eq!(diags.len(), 1, "{name}: {diags:?}");
        let d = &diags[0];
        assert_eq!(d["code"], "unreadable-file");
        let want = format!("invalid UTF-8 at byte offset {}", at + bom.len());
        assert_eq!(d["message"].as_str(), Some(want.as_str()), "{name}");
        assert_eq!(
            (d["line"].as_u64(), d["column"].as_u64()),
            (Some(18), Some(40)),
            "{name}"
        );
    }
}

#[test]
fn a_nul_byte_in_a_rule_file_names_the_byte_offset_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let at = RULES.find("Plan ==").unwrap();
    let mut bytes = RULES.as_bytes().to_vec();
    bytes.insert(at, 0);
    for (name, bom) in [
        ("plain.herald", &b""[..]),
        ("bom.herald", &b"\xEF\xBB\xBF"[..]),
    ] {
        let (code, diags) = check_bytes(dir.path(), name, &[bom, &bytes].concat());
        assert_eq!(code, 1, "{name}");
        assert_eq!(diags.len(), 1, "{name}: {diags:?}");
        let d = &diags[0];
        let want = format!("NUL byte at byte offset {}", at + bom.len());
        assert_eq!(
            (d["code"].as_str(), d["message"].as_str()),
            (Some("unreadable-file"), Some(want.as_str())),
            "{name}"
        );
        assert_eq!(
            (d["line"].as_u64(), d["column"].as_u64()),
            (Some(12), Some(12)),
            "{name}"
        );
    }
}

#[test]
fn one_unreadable_file_does_not_hide_the_errors_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("a.herald"), b"# binary\n\x00\x01\x02").unwrap();
    std::fs::write(
        rules.join("b.herald"),
        b"portal \"P\" { invite \"fr\" when x == }\n",
    )
    .unwrap();
    let o = herald(&["check", "--format", "json", p(&rules)]);
    assert_eq!(code(&o), 1);
    let diags: Vec<Value> = serde_json::from_str(&out(&o)).unwrap();
    let got: Vec<(&str, &str)> = diags
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap().rsplit('/').next().unwrap(),
                d["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("a.herald", "unreadable-file"), ("b.herald", "syntax")]
    );
    // `test` and `route` refuse the rule set with exit 1, naming the file.
    let o = herald(&["test", p(&rules)]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    let events = dir.path().join("e.jsonl");
    std::fs::write(&events, "").unwrap();
    let o = herald(&[
        "route",
        "--rules",
        p(&rules),
        "--events",
        p(&events),
        "--db",
        p(&dir.path().join("h.db")),
    ]);
    assert_eq!(code(&o), 1);
    assert!(err(&o).contains("NUL byte at byte offset 9"), "{}", err(&o));
}

#[test]
fn invalid_utf8_and_nul_bytes_in_the_route_input_are_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.herald");
    std::fs::write(&rules, RULES).unwrap();
    let mut input = Vec::new();
    input.extend_from_slice(event("a", "FR").as_bytes());
    input.push(b'\n');
    // Line 2: a Latin-1 é inside a string.
    input.extend_from_slice(event("b", "FR").replace("N b", "N \u{1}").as_bytes());
    let e = input.iter().position(|b| *b == 1).unwrap();
    input[e] = 0xE9;
    let offset = e - (event("a", "FR").len() + 1);
    input.push(b'\n');
    // Line 3: a NUL byte inside a string; line 4: a NUL byte between tokens; line 5: only NULs.
    input.extend_from_slice(event("c", "FR").replace("N c", "N \u{0}").as_bytes());
    input.push(b'\n');
    input.extend_from_slice(event("d", "FR").replacen(',', ",\u{0}", 1).as_bytes());
    input.extend_from_slice(b"\n\x00\x00\x00\n");
    input.extend_from_slice(event("f", "DE").as_bytes());
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, &input).unwrap();
    let o = herald(&[
        "route",
        "--rules",
        p(&rules),
        "--events",
        p(&events),
        "--db",
        p(&dir.path().join("h.db")),
    ]);
    assert_eq!(code(&o), 1);
    let ids: Vec<String> = decisions(&o).into_iter().map(|d| d.1).collect();
    assert_eq!(ids, ["a", "f"]);
    let stderr = err(&o);
    assert!(
        stderr.contains(&format!(
            "line 2: invalid UTF-8 at byte offset {offset}; skipped"
        )),
        "{stderr}"
    );
    for line in 3..=5 {
        assert!(
            stderr.contains(&format!("line {line}: invalid JSON")),
            "line {line}: {stderr}"
        );
    }
    assert!(stderr.contains("4 malformed lines skipped"), "{stderr}");
}

#[test]
fn explain_reads_a_record_file_with_a_bom_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.herald");
    std::fs::write(&rules, RULES).unwrap();
    let record = dir.path().join("record.json");
    std::fs::write(&record, format!("{BOM}{{\r\n  \"id\": \"r\",\r\n  \"Email\": \"r@example.fr\",\r\n  \"Plan\": \"paid\",\r\n  \"Country\": \"DE\"\r\n}}\r\n")).unwrap();
    let o = herald(&["explain", "--rules", p(&rules), p(&record)]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("invite in \"de\""), "{}", out(&o));
    // A record file that is not UTF-8 is refused with exit 2, not a panic.
    std::fs::write(&record, b"{\"id\": \"\xE9\"}").unwrap();
    let o = herald(&["explain", "--rules", p(&rules), p(&record)]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(err(&o).contains("cannot read"), "{}", err(&o));
}
