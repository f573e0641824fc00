//! Limits on hostile input, each with a clear diagnostic or line error (issue #8): nesting depth,
//! source size and list size in rule files (through `herald check`), the number of rule files
//! (`MAX_FILES`), and on the `herald route` input path the depth and size of a record and a
//! huge line. Condition-level limits on their own are in `tests/language_limits.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

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

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `herald check --format json` on one rule file: exit code and the diagnostics.
fn check_file(dir: &Path, text: &str) -> (i32, Vec<Value>) {
    let file = dir.join("rules.herald");
    std::fs::write(&file, text).unwrap();
    let o = herald(&["check", "--format", "json", p(&file)]);
    let diags: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "json on stdout ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    });
    (code(&o), diags)
}

fn codes(diags: &[Value]) -> Vec<&str> {
    diags.iter().map(|d| d["code"].as_str().unwrap()).collect()
}

/// A portal whose `require` is `cond`, with the schema-less identity defaults.
fn portal(cond: &str) -> String {
    format!("portal \"P\" {{\n  require {cond}\n  invite \"fr\"\n}}\n")
}

// ---------------------------------------------------------------------------------------------
// Rule files
// ---------------------------------------------------------------------------------------------

#[test]
fn a_rule_file_nested_deeper_than_256_levels_gets_nesting_too_deep_on_its_line() {
    // The portal block's `{` is the first level: its condition may nest 255 more.
    let dir = tempfile::tempdir().unwrap();
    for n in [256usize, 100_000] {
        let cond = format!("{}x == 1{}", "(".repeat(n), ")".repeat(n));
        let (code, diags) = check_file(dir.path(), &portal(&cond));
        assert_eq!(code, 1, "{diags:?}");
        assert_eq!(codes(&diags), ["nesting-too-deep"], "{n} levels");
        let d = &diags[0];
        assert_eq!(d["line"], 2);
        // The 256th `(` is the 257th level: `  require ` is 10 columns.
        assert_eq!(d["column"], 10 + 256);
        assert!(d["message"].as_str().unwrap().contains("256"), "{d}");
    }
    let cond = format!("{}x == 1{}", "(".repeat(255), ")".repeat(255));
    let (code, diags) = check_file(dir.path(), &portal(&cond));
    assert_eq!((code, diags.len()), (0, 0), "{diags:?}");
}

#[test]
fn a_rule_file_with_100_000_chained_nots_is_too_deep_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let cond = format!("{}x", "not ".repeat(100_000));
    let (code, diags) = check_file(dir.path(), &portal(&cond));
    assert_eq!(code, 1);
    assert_eq!(codes(&diags), ["nesting-too-deep"]);
}

#[test]
fn a_rule_file_over_1_mib_gets_source_too_large_and_1_mib_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let head = portal("x == 1");
    let limit = 1 << 20;
    // Padding made of comment lines, up to exactly 1 MiB.
    let pad = |total: usize| {
        let mut s = head.clone();
        while s.len() + 81 <= total {
            s.push_str(&format!("#{}\n", "-".repeat(79)));
        }
        let rest = total - s.len();
        if rest > 0 {
            s.push('#');
            s.push_str(&"-".repeat(rest - 1));
        }
        assert_eq!(s.len(), total);
        s
    };
    let (code, diags) = check_file(dir.path(), &pad(limit));
    assert_eq!((code, diags.len()), (0, 0), "{diags:?}");
    let (code, diags) = check_file(dir.path(), &pad(limit + 1));
    assert_eq!(code, 1);
    assert_eq!(codes(&diags), ["source-too-large"]);
    let message = diags[0]["message"].as_str().unwrap();
    assert!(
        message.contains("1048577") && message.contains("1048576"),
        "{message}"
    );
}

#[test]
fn a_list_over_100_000_elements_gets_list_too_large_and_100_000_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let list = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let (code, diags) = check_file(dir.path(), &portal(&format!("x in [{}]", list(100_000))));
    assert_eq!((code, diags.len()), (0, 0), "{diags:?}");
    let (code, diags) = check_file(dir.path(), &portal(&format!("x in [{}]", list(100_001))));
    assert_eq!(code, 1);
    assert_eq!(codes(&diags), ["list-too-large"]);
    assert_eq!(diags[0]["line"], 2);
    // The span is the first element over the limit: after `  require x in [`, 100,000
    // elements and a comma.
    assert_eq!(diags[0]["column"], 16 + list(100_000).len() + 2);
}

#[test]
fn long_lists_on_one_field_are_merged_in_n_log_n_not_quadratic_time() {
    // Found while testing the limits: the optimizer built `x in [...]` by repeated unions and
    // intersected two lists pair by pair, so 100,000 elements took hours (and two long lists
    // on one field would not fit in memory). Each of these takes well under a second in a
    // release build; quadratic work would not finish.
    let ints = |n: usize, step: usize| {
        (0..n)
            .map(|i| (i * step).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let strs = |n: usize, step: usize| {
        (0..n)
            .map(|i| format!("\"{}\"", i * step))
            .collect::<Vec<_>>()
            .join(",")
    };
    let dates = |n: usize| {
        (0..n)
            .map(|i| format!("@{}-01-01", 1000 + i))
            .collect::<Vec<_>>()
            .join(",")
    };
    let conds = [
        format!("x in [{}] and x in [{}]", ints(70_000, 1), ints(70_000, 2)),
        format!(
            "x in [{}] or x not in [{}]",
            ints(70_000, 3),
            ints(70_000, 2)
        ),
        format!("s in [{}] and s in [{}]", strs(50_000, 1), strs(50_000, 2)),
        format!("d in [{}] and not (d in [{}])", dates(8_000), dates(4_000)),
    ];
    let clock = herald::value::FixedClock(chrono::DateTime::UNIX_EPOCH);
    for src in &conds {
        assert!(src.len() < 1 << 20);
        let c = herald::condition::Condition::compile(src, None).expect("compiles");
        let rec = serde_json::json!({"x": 4, "s": "4", "d": "1002-01-01"});
        assert_eq!(
            c.eval(&rec, &clock),
            c.eval_reference(&rec, &clock),
            "{}",
            &src[..40]
        );
    }
}

#[test]
fn more_than_max_files_rule_files_is_refused_with_exit_2() {
    assert_eq!(herald::load::MAX_FILES, 10_000);
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    for i in 0..herald::load::MAX_FILES {
        std::fs::write(rules.join(format!("r{i:05}.herald")), "# nothing\n").unwrap();
    }
    // Exactly MAX_FILES: accepted.
    let files = herald::load::rule_files(&rules).unwrap();
    assert_eq!(files.len(), herald::load::MAX_FILES);
    // One more: refused by the library, `check`, `test`, `route` and `explain`.
    std::fs::write(rules.join("r99999.herald"), "# one too many\n").unwrap();
    let err = herald::load::rule_files(&rules).unwrap_err();
    assert!(
        matches!(err, herald::load::LoadError::TooManyFiles(_)),
        "{err}"
    );
    let record = dir.path().join("record.json");
    std::fs::write(&record, "{\"id\": \"1\"}").unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let db = dir.path().join("herald.db");
    for args in [
        vec!["check", p(&rules)],
        vec!["test", p(&rules)],
        vec![
            "route",
            "--rules",
            p(&rules),
            "--events",
            p(&events),
            "--db",
            p(&db),
        ],
        vec!["explain", "--rules", p(&rules), p(&record)],
    ] {
        let o = herald(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("more than 10000 `.herald` files"),
            "{args:?}: {err}"
        );
    }
    assert!(
        !db.exists(),
        "no log is created when the rules cannot be read"
    );
}

// ---------------------------------------------------------------------------------------------
// The route input
// ---------------------------------------------------------------------------------------------

const RULES: &str = r#"
portal "P" {
  identity id, name, email
  require  level >= 2
  invite "fr" when deep.x == 1
  invite "en" otherwise
}
"#;

struct Routed {
    code: i32,
    stdout: Vec<Value>,
    stderr: String,
}

fn route(events: &[u8]) -> Routed {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.herald");
    std::fs::write(&rules, RULES).unwrap();
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, events).unwrap();
    let db = dir.path().join("herald.db");
    let o = herald(&[
        "route",
        "--rules",
        p(&rules),
        "--events",
        p(&file),
        "--db",
        p(&db),
    ]);
    Routed {
        code: code(&o),
        stdout: String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        stderr: stderr(&o),
    }
}

fn event(id: &str, extra: &str) -> String {
    format!(
        r#"{{"event":"create","record":{{"id":"{id}","email":"{id}@example.com","level":3{extra}}}}}"#
    )
}

fn invited_lines(r: &Routed) -> Vec<u64> {
    r.stdout
        .iter()
        .map(|d| d["line"].as_u64().unwrap())
        .collect()
}

fn nested(n: usize) -> String {
    format!("{}1{}", "[".repeat(n), "]".repeat(n))
}

#[test]
fn a_record_nested_10_000_deep_is_a_malformed_line_and_the_rest_is_routed() {
    // Deep in a field no rule reads, and deep in a field a rule reads: both are malformed.
    let lines = [
        event("a", ""),
        event("b", &format!(",\"unread\":{}", nested(10_000))),
        event("c", &format!(",\"deep\":{{\"x\":{}}}", nested(10_000))),
        format!(
            "{{\"event\":\"create\",\"record\":{}}}",
            "{\"a\":".repeat(10_000) + &"}".repeat(10_000)
        ),
        event("d", ""),
    ];
    let r = route(lines.join("\n").as_bytes());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(invited_lines(&r), [1, 5]);
    for line in [2, 3, 4] {
        assert!(
            r.stderr.contains(&format!(
                "line {line}: the line is nested deeper than 127 levels"
            )),
            "line {line}: {}",
            r.stderr
        );
    }
    assert!(
        r.stderr.contains("3 malformed lines skipped"),
        "{}",
        r.stderr
    );
}

#[test]
fn records_nested_up_to_the_limit_route() {
    // The line itself is one level, the record a second: 125 more levels fit in 127, as
    // serde_json allows (`herald explain` reads records with it).
    let ok = event("a", &format!(",\"unread\":{}", nested(125)));
    let too_deep = event("b", &format!(",\"unread\":{}", nested(126)));
    let r = route(format!("{ok}\n{too_deep}\n").as_bytes());
    assert_eq!(invited_lines(&r), [1], "{}", r.stderr);
    assert!(
        r.stderr
            .contains("line 2: the line is nested deeper than 127 levels"),
        "{}",
        r.stderr
    );
    // The same limit in a field a rule reads, which serde_json itself parses: 127 levels route.
    let read_ok = event("c", &format!(",\"deep\":{{\"x\":{}}}", nested(124)));
    let read_deep = event("d", &format!(",\"deep\":{{\"x\":{}}}", nested(125)));
    let r = route(format!("{read_ok}\n{read_deep}\n").as_bytes());
    assert_eq!(invited_lines(&r), [1], "{}", r.stderr);
    assert!(
        r.stderr
            .contains("line 2: the line is nested deeper than 127 levels"),
        "{}",
        r.stderr
    );
    // Brackets inside strings do not count.
    let strings = event("c", &format!(",\"s\":\"{}\"", "[{".repeat(5_000)));
    let r = route(strings.as_bytes());
    assert_eq!((r.code, invited_lines(&r)), (0, vec![1]), "{}", r.stderr);
}

#[test]
fn a_line_over_1_mib_is_a_line_error_and_the_rest_is_routed() {
    let max = 1 << 20;
    // A record padded to exactly 1 MiB routes; one byte more is a line error.
    let fit = |total: usize, id: &str| {
        let base = event(id, ",\"pad\":\"\"");
        let pad = "x".repeat(total - base.len());
        let line = event(id, &format!(",\"pad\":\"{pad}\""));
        assert_eq!(line.len(), total);
        line
    };
    let huge = "y".repeat(50 << 20); // 50 MiB, not even JSON
    let input = [fit(max, "a"), fit(max + 1, "b"), huge, event("c", "")].join("\n");
    let r = route(input.as_bytes());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(invited_lines(&r), [1, 4]);
    assert!(
        r.stderr.contains(
            "line 2: the line is 1048577 bytes, over the limit of 1048576 bytes; skipped"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("line 3: the line is {} bytes", 50 << 20)),
        "{}",
        r.stderr
    );
}

#[test]
fn a_huge_line_without_newline_at_the_end_of_the_input_is_a_line_error() {
    let input = format!("{}\n{}", event("a", ""), "z".repeat(3 << 20));
    let r = route(input.as_bytes());
    assert_eq!(r.code, 1);
    assert_eq!(invited_lines(&r), [1]);
    assert!(
        r.stderr
            .contains(&format!("line 2: the line is {} bytes", 3 << 20)),
        "{}",
        r.stderr
    );
}

#[test]
fn a_record_with_a_huge_list_and_many_keys_routes_within_the_line_cap() {
    // 100,000 list elements and 20,000 keys in one record: within 1 MiB, routed.
    let list = vec!["1"; 100_000].join(",");
    let keys: String = (0..20_000).map(|i| format!(",\"k{i}\":{i}")).collect();
    let input = [
        event("a", &format!(",\"deep\":{{\"x\":[{list}]}}{keys}")),
        event("b", ""),
    ]
    .join("\n");
    assert!(input.len() < 1 << 20);
    let r = route(input.as_bytes());
    assert_eq!((r.code, invited_lines(&r)), (0, vec![1, 2]), "{}", r.stderr);
}

#[test]
fn the_library_line_parser_refuses_deep_lines_too() {
    let set = herald::load::check_texts(
        vec![("rules.herald".into(), RULES.into(), None)],
        &mut |_: &str, _: &str| Err(String::new()),
    )
    .rule_set
    .expect("the rules check");
    let line = event("a", &format!(",\"unread\":{}", nested(10_000)));
    let err =
        herald::route::parse_event_line(line.as_bytes(), &set.compiled.projection).unwrap_err();
    assert_eq!(err, "the line is nested deeper than 127 levels");
    let ok = event("a", "");
    assert!(herald::route::parse_event_line(ok.as_bytes(), &set.compiled.projection).is_ok());
}

/// `contains any` / `contains all` between two record lists of 100,000 strings each: the
/// compiled evaluator, the compact record and the reference interpreter (what `herald explain`
/// runs) all answer (a scan per element would take 10^10 comparisons), and they agree, including
/// the unknown that a number among the wanted values gives.
#[test]
fn contains_any_between_two_huge_lists_is_linear_and_exact() {
    use herald::condition::Condition;
    use herald::value::{SystemClock, Truth};
    let n = 100_000;
    let hay: Vec<Value> = (0..n).map(|i| Value::from(format!("a{i}"))).collect();
    let disjoint: Vec<Value> = (0..n).map(|i| Value::from(format!("b{i}"))).collect();
    let mut one_common = disjoint.clone();
    one_common[n - 1] = Value::from("a77");
    let mut with_number = disjoint.clone();
    with_number[n / 2] = Value::from(7);
    let all_of_hay = hay.iter().rev().cloned().collect::<Vec<_>>();
    let any = Condition::compile("tags contains any wanted", None).unwrap();
    let all = Condition::compile("tags contains all wanted", None).unwrap();
    let cases = [
        (&any, &disjoint, Truth::False),
        (&any, &one_common, Truth::True),
        (&any, &with_number, Truth::Unknown),
        (&all, &all_of_hay, Truth::True),
        (&all, &one_common, Truth::False),
        (&all, &with_number, Truth::False),
    ];
    for (k, (cond, wanted, expected)) in cases.into_iter().enumerate() {
        let record = serde_json::json!({ "tags": hay, "wanted": wanted });
        assert_eq!(
            cond.eval(&record, &SystemClock),
            expected,
            "case {k}: compiled"
        );
        assert_eq!(
            cond.eval_reference(&record, &SystemClock),
            expected,
            "case {k}: reference interpreter"
        );
        let compact = cond
            .parse_record(serde_json::to_string(&record).unwrap().as_bytes())
            .unwrap();
        assert_eq!(
            cond.eval_record(&compact, chrono::Utc::now()),
            expected,
            "case {k}: compact record"
        );
    }
}
