//! Tests of the static analysis (`herald::analysis`): each lint positive and negative, the null
//! traps, witnesses checked with the reference interpreter, and property tests that compare every
//! claim with exhaustive evaluation over a grid of records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::analysis::{self, LintOptions};
use herald::diagnostics::{Code, Diagnostic, Severity};
use herald::interp::{self, Env};
use herald::rules::{Cond, Portal, RuleSet};
use herald::value::Truth;
use proptest::prelude::*;
use serde_json::{Value as Json, json};

const SCHEMA: &str = r#"
schema C {
  id        text
  Full_Name text
  Email     email
  Country   picklist ["FR", "BE", "CH", "DE", "AT", "US"]
  Sub       picklist ["paid", "trial", "free"]
  Name      text
  Age       integer
  Score     decimal
  Created   date
  Seen      datetime
  Opted     boolean
  Tags      multiselect ["vip", "beta"]
}
"#;

fn load(text: &str) -> (RuleSet, Vec<Diagnostic>) {
    let mut resolve =
        |_: &str, _: &str| -> Result<(String, String), String> { Err("no schema files".into()) };
    let loaded = herald::load::check_texts(
        vec![("t.herald".into(), text.to_string(), None)],
        &mut resolve,
    );
    let errors: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    let set = loaded
        .rule_set
        .unwrap_or_else(|| panic!("rule set has errors: {errors:?}\n{text}"));
    let lints = loaded
        .diagnostics
        .into_iter()
        .filter(|d| analysis::LINTS.contains(&d.code))
        .collect();
    (set, lints)
}

/// A portal over the schema `C` with an optional `require`, `when` branches and an optional
/// `otherwise`; returns the rule set and the analysis findings.
fn portal(require: Option<&str>, branches: &[&str], otherwise: bool) -> (RuleSet, Vec<Diagnostic>) {
    let mut t = format!("{SCHEMA}\nportal \"P\" {{\n  records C\n");
    if let Some(r) = require {
        t.push_str(&format!("  require {r}\n"));
    }
    let langs = ["fr", "de", "it", "es", "nl", "pt", "pl", "sv"];
    for (b, l) in branches.iter().zip(langs) {
        if b.is_empty() {
            t.push_str(&format!("  invite \"{l}\"\n"));
        } else {
            t.push_str(&format!("  invite \"{l}\" when {b}\n"));
        }
    }
    if otherwise {
        t.push_str("  invite \"en\" otherwise\n");
    }
    t.push_str("}\n");
    let (set, lints) = load(&t);
    check_witnesses(&set, &lints);
    (set, lints)
}

fn codes(lints: &[Diagnostic]) -> Vec<&'static str> {
    lints.iter().map(|d| d.code.as_str()).collect()
}

fn truth(set: &RuleSet, c: Option<&Cond>, rec: &Json) -> Truth {
    let env = Env {
        record: rec,
        fields: &set.fields,
        now: chrono::Utc::now(),
    };
    c.map_or(Truth::True, |c| interp::truth(&c.node, &env))
}

fn branch_at(p: &Portal, span: herald::span::Span) -> Option<usize> {
    p.branches.iter().position(|b| b.span == span)
}

/// Every witness behaves as its finding claims, under the reference interpreter.
fn check_witnesses(set: &RuleSet, lints: &[Diagnostic]) {
    for d in lints {
        let Some(w) = &d.witness else { continue };
        assert!(
            d.help.as_deref().unwrap_or("").contains(&w.to_string()),
            "the help line shows the witness: {d}"
        );
        let p = set
            .portals
            .iter()
            .find(|p| {
                p.source == d.source && p.span.start <= d.span.start && d.span.end <= p.span.end
            })
            .expect("finding inside a portal");
        let req = truth(set, p.require.as_ref(), w);
        let b = |k: usize| truth(set, p.branches.get(k).and_then(|b| b.when.as_ref()), w);
        match d.code {
            Code::OverlappingBranches => {
                let j = branch_at(p, d.span).expect("on a branch");
                let i = branch_at(p, d.secondary.first().unwrap().span).expect("label on a branch");
                assert!(i < j);
                assert_eq!(
                    (req, b(i), b(j)),
                    (Truth::True, Truth::True, Truth::True),
                    "{d}"
                );
            }
            Code::UnreachableBranch => {
                let k = branch_at(p, d.span).expect("on a branch");
                assert_eq!((req, b(k)), (Truth::True, Truth::True), "{d}");
                assert!((0..k).any(|i| b(i) == Truth::True), "{d}");
            }
            Code::PortalOverlap => {}
            other => panic!("unexpected witness on {other}: {d}"),
        }
    }
}

// ---------------------------------------------------------------- always-false

#[test]
fn contradictory_range_is_always_false() {
    let (_, l) = portal(None, &["Age > 10 and Age < 5"], true);
    assert_eq!(codes(&l), ["always-false"]);
    assert_eq!(l[0].severity, Severity::Warning);
}

#[test]
fn not_x_and_x_is_always_false() {
    let (_, l) = portal(Some("not (Age > 3) and Age > 3"), &[""], false);
    assert_eq!(codes(&l), ["always-false"]);
    assert!(l[0].message.contains("require"));
}

#[test]
fn two_countries_at_once_is_always_false() {
    let (_, l) = portal(None, &["Country == \"FR\" and Country == \"DE\""], true);
    assert_eq!(codes(&l), ["always-false"]);
}

#[test]
fn date_ranges() {
    // No date lies strictly between two consecutive days.
    let (_, l) = portal(
        None,
        &["Created > @2024-01-01 and Created < @2024-01-02"],
        true,
    );
    assert_eq!(codes(&l), ["always-false"]);
    // But a date-time does.
    let (_, l) = portal(
        None,
        &["Seen > @2024-01-01T00:00:00Z and Seen < @2024-01-02T00:00:00Z"],
        true,
    );
    assert!(codes(&l).is_empty(), "{l:?}");
    // A one-day window holds a date.
    let (_, l) = portal(
        None,
        &["Created >= @2024-01-01 and Created < @2024-01-02"],
        true,
    );
    assert!(codes(&l).is_empty(), "{l:?}");
    let (_, l) = portal(
        None,
        &["Created >= @2024-06-01 and Created <= @2024-01-31"],
        true,
    );
    assert_eq!(codes(&l), ["always-false"]);
}

#[test]
fn branch_never_true_under_require() {
    let (_, l) = portal(Some("Age >= 18"), &["Age < 18"], true);
    assert_eq!(codes(&l), ["always-false"]);
    assert!(l[0].message.contains("meets `require`"), "{}", l[0].message);
    assert_eq!(l[0].secondary.len(), 1);
}

#[test]
fn satisfiable_conditions_are_not_always_false() {
    for c in [
        "Age > 10 and Age < 12",
        "Score > 1.5 and Score < 1.6",
        "Country != \"FR\"",
        "Age is null",
        "not Opted",
        "Name is empty",
        "Name matches \"^a\" and Name == \"zzz\"",
    ] {
        let (_, l) = portal(None, &[c], true);
        assert!(!codes(&l).contains(&"always-false"), "{c}: {l:?}");
    }
}

#[test]
fn opaque_leaves_block_claims_unless_they_cannot_matter() {
    // `false` whatever the regex says: still reported.
    let (_, l) = portal(None, &["Name matches \"^a\" and Age > 3 and Age < 2"], true);
    assert_eq!(codes(&l), ["always-false"]);
    // The function could be anything: no claim.
    let (_, l) = portal(None, &["lower(Name) == \"a\" and Name == \"B\""], true);
    assert!(codes(&l).is_empty(), "{l:?}");
}

// ---------------------------------------------------------------- always-true

#[test]
fn null_trap_is_not_always_true() {
    let (_, l) = portal(
        Some("Country != \"FR\" or Country == \"FR\""),
        &["Age > 1"],
        true,
    );
    assert!(codes(&l).is_empty(), "{l:?}");
}

#[test]
fn null_or_not_null_is_always_true() {
    let (_, l) = portal(
        Some("Country is null or Country is not null"),
        &["Age > 1"],
        true,
    );
    assert_eq!(codes(&l), ["always-true"]);
    let (_, l) = portal(
        Some("Age is null or Age < 3 or Age >= 3"),
        &["Age > 1"],
        true,
    );
    assert_eq!(codes(&l), ["always-true"]);
}

#[test]
fn branch_always_true_under_require_when_not_last() {
    let (_, l) = portal(Some("Age > 18"), &["Age > 10", "Country == \"FR\""], false);
    let c = codes(&l);
    assert!(c.contains(&"always-true"), "{l:?}");
    assert!(c.contains(&"unreachable-branch"), "{l:?}");
    // Last branch and no otherwise: nothing comes after it, no finding.
    let (_, l) = portal(Some("Age > 18"), &["Age > 10"], false);
    assert!(codes(&l).is_empty(), "{l:?}");
}

// ---------------------------------------------------------------- unreachable-branch

#[test]
fn shadowed_branch_is_unreachable_with_covering_labels() {
    let (set, l) = portal(
        None,
        &[
            "Country in [\"FR\", \"BE\"]",
            "Country == \"DE\" or Age > 30",
            "Country == \"BE\"",
        ],
        true,
    );
    // "de" also overlaps "fr" (a French record over 30): a true finding.
    assert_eq!(codes(&l), ["overlapping-branches", "unreachable-branch"]);
    let d = &l[1];
    let p = &set.portals[0];
    assert_eq!(d.span, p.branches[2].span);
    // Both earlier branches take some of its records ("de" takes the Belgians over 30).
    assert_eq!(d.secondary.len(), 2);
    assert_eq!(d.secondary[0].span, p.branches[0].span);
    assert!(d.witness.is_some());
}

#[test]
fn union_of_earlier_branches_covers() {
    let (_, l) = portal(
        None,
        &["Age < 10", "Age >= 10 and Age < 20", "Age > 5 and Age < 15"],
        true,
    );
    let d: Vec<_> = l
        .iter()
        .filter(|d| d.code == Code::UnreachableBranch)
        .collect();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].secondary.len(), 2);
}

#[test]
fn partly_covered_branch_is_reachable() {
    let (_, l) = portal(
        None,
        &["Country == \"FR\"", "Country in [\"FR\", \"BE\"]"],
        true,
    );
    assert_eq!(codes(&l), ["overlapping-branches"]);
}

#[test]
fn unreachable_under_require() {
    let (_, l) = portal(
        Some("Country in [\"FR\", \"BE\"]"),
        &["Country == \"FR\"", "Country != \"FR\"", "Age > 3"],
        false,
    );
    assert!(codes(&l).contains(&"unreachable-branch"), "{l:?}");
}

// ---------------------------------------------------------------- overlapping-branches

#[test]
fn overlap_has_a_witness_matching_both() {
    let (set, l) = portal(
        Some("Sub == \"paid\""),
        &["Country == \"FR\"", "Age > 30"],
        true,
    );
    assert_eq!(codes(&l), ["overlapping-branches"]);
    let w = l[0].witness.clone().unwrap();
    assert_eq!(w["Country"], json!("FR"));
    assert_eq!(w["Sub"], json!("paid"));
    assert!(w["Age"].as_i64().unwrap() > 30);
    assert!(l[0].help.as_ref().unwrap().contains("for example {"));
    let _ = set;
}

#[test]
fn disjoint_branches_do_not_overlap() {
    let (_, l) = portal(
        None,
        &[
            "Country in [\"FR\", \"BE\"]",
            "Country in [\"DE\", \"AT\"]",
            "Age < 18 and Country == \"US\"",
            "Age >= 18 and Country == \"US\"",
        ],
        true,
    );
    assert!(codes(&l).is_empty(), "{l:?}");
    let (_, l) = portal(
        None,
        &["Created < @2024-01-01", "Created >= @2024-01-01"],
        true,
    );
    assert!(codes(&l).is_empty(), "{l:?}");
}

#[test]
fn opaque_leaves_get_witnesses_from_their_constants() {
    // Covered whatever `starts with` says; the witness needs a `Name` starting with "a".
    let (_, l) = portal(
        None,
        &[
            "Country == \"FR\"",
            "Country == \"FR\" and Name starts with \"a\"",
        ],
        true,
    );
    assert_eq!(codes(&l), ["unreachable-branch"]);
    assert_eq!(l[0].witness.as_ref().unwrap()["Name"], json!("a"));
    let (_, l) = portal(None, &["Tags contains \"vip\"", "Country == \"FR\""], true);
    assert_eq!(codes(&l), ["overlapping-branches"]);
    assert_eq!(l[0].witness.as_ref().unwrap()["Tags"], json!(["vip"]));
    // A regex gives no hint: the overlap cannot be confirmed, so it is not reported.
    let (_, l) = portal(
        None,
        &["Name matches \"^[0-9]+$\"", "Country == \"FR\""],
        true,
    );
    assert!(l.is_empty(), "{l:?}");
}

// ---------------------------------------------------------------- otherwise-unreachable

#[test]
fn otherwise_unreachable_when_branches_cover_nulls_too() {
    let (_, l) = portal(None, &["Opted", "not Opted", "Opted is null"], true);
    assert_eq!(codes(&l), ["otherwise-unreachable"]);
}

#[test]
fn otherwise_reachable_through_null() {
    // `Opted` null takes neither branch: `otherwise` is used.
    let (_, l) = portal(None, &["Opted", "not Opted"], true);
    assert!(codes(&l).is_empty(), "{l:?}");
    // Every picklist value but another string or null still falls through.
    let (_, l) = portal(
        None,
        &[
            "Country in [\"FR\", \"BE\", \"CH\"]",
            "Country in [\"DE\", \"AT\", \"US\"]",
        ],
        true,
    );
    assert!(codes(&l).is_empty(), "{l:?}");
}

#[test]
fn otherwise_unreachable_under_require() {
    let (_, l) = portal(Some("Age is not null"), &["Age < 18", "Age >= 18"], true);
    assert_eq!(codes(&l), ["otherwise-unreachable"]);
}

// ---------------------------------------------------------------- allow pragmas

#[test]
fn allow_pragma_on_branch_and_portal() {
    let base = |pragma_branch: &str, pragma_portal: &str| {
        format!(
            "{SCHEMA}\n{pragma_portal}\nportal \"P\" {{\n  records C\n  invite \"fr\" when Country == \"FR\"\n{pragma_branch}\n  invite \"de\" when Age > 30\n  invite \"en\" otherwise\n}}\n"
        )
    };
    let (_, l) = load(&base("", ""));
    assert_eq!(codes(&l), ["overlapping-branches"]);
    let (_, l) = load(&base("  # herald: allow(overlapping-branches)", ""));
    assert!(l.is_empty(), "{l:?}");
    let (_, l) = load(&base(
        "",
        "# herald: allow(overlapping-branches, always-false)",
    ));
    assert!(l.is_empty(), "{l:?}");
    // Another code does not allow it.
    let (_, l) = load(&base("  # herald: allow(always-false)", ""));
    assert_eq!(codes(&l), ["overlapping-branches"]);
    // A trailing pragma on the line itself.
    let t = base("", "").replace(
        "when Age > 30",
        "when Age > 30  # herald: allow(overlapping-branches)",
    );
    let (_, l) = load(&t);
    assert!(l.is_empty(), "{l:?}");
}

// ---------------------------------------------------------------- portal-overlap

#[test]
fn portal_overlap_is_off_by_default_and_info_when_on() {
    let t = format!(
        "{SCHEMA}\nportal \"A\" {{\n  records C\n  invite \"fr\" when Country == \"FR\"\n}}\nportal \"B\" {{\n  records C\n  invite \"fr\" when Age > 3\n}}\nportal \"Z\" {{\n  records C\n  invite \"fr\" when Country == \"DE\"\n}}\n"
    );
    let (set, l) = load(&t);
    assert!(l.is_empty(), "{l:?}");
    let on = analysis::lint_rule_set_with(
        &set,
        LintOptions {
            portal_overlap: true,
        },
    );
    let po: Vec<_> = on
        .iter()
        .filter(|d| d.code == Code::PortalOverlap)
        .collect();
    // A and B overlap; B and Z overlap; A and Z do not.
    assert_eq!(po.len(), 2, "{po:?}");
    for d in &po {
        assert_eq!(d.severity, Severity::Info);
        let w = d.witness.as_ref().unwrap();
        let invited = |name: &str| {
            let p = set.portals.iter().find(|p| p.name == name).unwrap();
            truth(&set, p.require.as_ref(), w) == Truth::True
                && p.branches
                    .iter()
                    .any(|b| truth(&set, b.when.as_ref(), w) == Truth::True)
        };
        let names: Vec<&str> = ["A", "B", "Z"].into_iter().filter(|n| invited(n)).collect();
        assert!(names.len() >= 2, "{w}");
    }
    let (_, l) = load(&format!("# herald: enable(portal-overlap)\n{t}"));
    assert_eq!(codes(&l), ["portal-overlap", "portal-overlap"]);
}

// ---------------------------------------------------------------- examples

#[test]
fn examples_check_clean() {
    let loaded = herald::load::load(std::path::Path::new("examples/monprofil/rules")).unwrap();
    let lints: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| analysis::LINTS.contains(&d.code))
        .collect();
    assert!(lints.is_empty(), "{lints:?}");
}

// ---------------------------------------------------------------- property tests

/// Leaves over the fields S (text), N (integer), D (date), B (boolean); some opaque.
fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["a", "b", "c"]).prop_map(|s| format!("S == \"{s}\"")),
        prop::sample::select(vec!["a", "b"]).prop_map(|s| format!("S != \"{s}\"")),
        Just("S in [\"a\", \"b\"]".to_string()),
        Just("S is null".to_string()),
        Just("S is empty".to_string()),
        (
            prop::sample::select(vec!["<", "<=", ">", ">=", "==", "!="]),
            2i64..6
        )
            .prop_map(|(o, k)| format!("N {o} {k}")),
        Just("N > 3.5".to_string()),
        Just("N is not null".to_string()),
        (
            prop::sample::select(vec!["<", ">=", ">", "<="]),
            prop::sample::select(vec!["2024-01-01", "2024-02-01"])
        )
            .prop_map(|(o, d)| format!("D {o} @{d}")),
        Just("D is null".to_string()),
        Just("B".to_string()),
        Just("not B".to_string()),
        Just("B is null".to_string()),
        Just("(B ?? false)".to_string()),
        Just("(B ?? true)".to_string()),
        Just("S starts with \"a\"".to_string()),
        Just("len(S) > 1".to_string()),
        Just("true".to_string()),
    ]
}

fn cond() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

const SMALL_SCHEMA: &str = "schema T {\n  id text\n  Full_Name text\n  Email email\n  S text\n  N integer\n  D date\n  B boolean\n}\n";

/// Every field: missing, null, each constant, neighbours, another string, a wrong type.
fn grid() -> Vec<Json> {
    let s = [
        None,
        Some(json!(null)),
        Some(json!("a")),
        Some(json!("b")),
        Some(json!("c")),
        Some(json!("")),
        Some(json!("zz")),
        Some(json!(1)),
    ];
    let n = [
        None,
        Some(json!(1)),
        Some(json!(2)),
        Some(json!(3)),
        Some(json!(3.5)),
        Some(json!(4)),
        Some(json!(5)),
        Some(json!(6)),
        Some(json!(2.5)),
        Some(json!("x")),
    ];
    let d = [
        None,
        Some(json!("2023-12-31")),
        Some(json!("2024-01-01")),
        Some(json!("2024-01-15")),
        Some(json!("2024-02-01")),
        Some(json!("2024-03-01")),
        Some(json!("nope")),
    ];
    let b = [
        None,
        Some(json!(true)),
        Some(json!(false)),
        Some(json!("x")),
    ];
    let mut out = Vec::new();
    for vs in &s {
        for vn in &n {
            for vd in &d {
                for vb in &b {
                    let mut m = serde_json::Map::new();
                    for (k, v) in [("S", vs), ("N", vn), ("D", vd), ("B", vb)] {
                        if let Some(v) = v {
                            m.insert(k.into(), v.clone());
                        }
                    }
                    out.push(Json::Object(m));
                }
            }
        }
    }
    out
}

fn check_claims(
    schema: bool,
    require: Option<String>,
    branches: Vec<String>,
) -> Result<(), TestCaseError> {
    let mut t = String::new();
    if schema {
        t.push_str(SMALL_SCHEMA);
    }
    t.push_str("portal \"P\" {\n");
    if schema {
        t.push_str("  records T\n");
    }
    if let Some(r) = &require {
        t.push_str(&format!("  require {r}\n"));
    }
    for (b, l) in branches.iter().zip(["fr", "de", "it"]) {
        t.push_str(&format!("  invite \"{l}\" when {b}\n"));
    }
    t.push_str("  invite \"en\" otherwise\n}\n");
    let mut resolve = |_: &str, _: &str| -> Result<(String, String), String> { Err("none".into()) };
    let loaded =
        herald::load::check_texts(vec![("p.herald".into(), t.clone(), None)], &mut resolve);
    let Some(set) = loaded.rule_set else {
        return Ok(()); // a type error in a generated condition: nothing to check
    };
    let lints: Vec<Diagnostic> = loaded
        .diagnostics
        .into_iter()
        .filter(|d| analysis::LINTS.contains(&d.code))
        .collect();
    check_witnesses(&set, &lints);
    let p = &set.portals[0];
    if std::env::var_os("ANALYSIS_STATS").is_some() {
        eprintln!("STATS {:?}", codes(&lints));
    }
    let grid = grid();
    let req = |r: &Json| truth(&set, p.require.as_ref(), r) == Truth::True;
    let br = |k: usize, r: &Json| truth(&set, p.branches[k].when.as_ref(), r) == Truth::True;
    for d in &lints {
        let on_require = p
            .require
            .as_ref()
            .is_some_and(|c| c.node.span.start == d.span.start);
        let k = branch_at(p, d.span);
        match (d.code, on_require, k) {
            (Code::AlwaysFalse, true, _) => {
                prop_assert!(!grid.iter().any(req), "{t}\n{d}");
            }
            (Code::AlwaysFalse, false, Some(k)) => {
                prop_assert!(!grid.iter().any(|r| req(r) && br(k, r)), "{t}\n{d}");
            }
            (Code::AlwaysTrue, true, _) => {
                prop_assert!(grid.iter().all(req), "{t}\n{d}");
            }
            (Code::AlwaysTrue, false, Some(k)) => {
                prop_assert!(grid.iter().filter(|r| req(r)).all(|r| br(k, r)), "{t}\n{d}");
            }
            (Code::UnreachableBranch, _, Some(k)) => {
                prop_assert!(
                    grid.iter()
                        .filter(|r| req(r) && br(k, r))
                        .all(|r| (0..k).any(|i| br(i, r))),
                    "{t}\n{d}"
                );
            }
            (Code::OtherwiseUnreachable, _, _) => {
                prop_assert!(
                    grid.iter()
                        .filter(|r| req(r))
                        .all(|r| (0..p.branches.len()).any(|i| br(i, r))),
                    "{t}\n{d}"
                );
            }
            (Code::OverlappingBranches, _, Some(_)) => {
                prop_assert!(d.witness.is_some());
            }
            _ => prop_assert!(false, "unexpected finding {d}\n{t}"),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn claims_hold_on_every_record_with_schema(
        require in prop::option::of(cond()),
        branches in prop::collection::vec(cond(), 1..4),
    ) {
        check_claims(true, require, branches)?;
    }

    #[test]
    fn claims_hold_on_every_record_without_schema(
        require in prop::option::of(cond()),
        branches in prop::collection::vec(cond(), 1..4),
    ) {
        check_claims(false, require, branches)?;
    }
}

// ---------------------------------------------------------------- the command line

const CLI_RULES: &str = r#"
schema C {
  id        text
  Full_Name text
  Email     email
  Country   picklist ["FR", "BE", "DE"]
  Age       integer
}
portal "P" {
  records C
  invite "fr" when Country == "FR"
  invite "de" when Age > 30
  invite "en" otherwise
}
"#;

fn cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run herald")
}

#[test]
fn check_prints_warnings_and_deny_warnings_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.herald"), CLI_RULES).unwrap();
    let o = cli(dir.path(), &["check", "."]);
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("overlapping-branches"), "{out}");
    assert!(out.contains("for example {"), "{out}");
    let o = cli(dir.path(), &["check", "--deny-warnings", "."]);
    assert_eq!(o.status.code(), Some(1));
    let o = cli(dir.path(), &["check", "--format", "json", "."]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("\"witness\""), "{text}");
    // Allowed: clean, also with --deny-warnings.
    let allowed = CLI_RULES.replace(
        "  invite \"de\"",
        "  # herald: allow(overlapping-branches)\n  invite \"de\"",
    );
    std::fs::write(dir.path().join("r.herald"), allowed).unwrap();
    let o = cli(dir.path(), &["check", "--deny-warnings", "."]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn route_still_works_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.herald"), CLI_RULES).unwrap();
    let events = r#"{"event":"create","record":{"id":"c1","Full_Name":"A","Email":"a@example.fr","Country":"FR","Age":40}}"#;
    std::fs::write(dir.path().join("e.jsonl"), format!("{events}\n")).unwrap();
    let o = cli(
        dir.path(),
        &[
            "route",
            "--rules",
            "r.herald",
            "--events",
            "e.jsonl",
            "--db",
            "h.db",
            "--now",
            "2026-01-01T00:00:00Z",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("\"fr\""), "{out}");
}

#[test]
fn coalesce_defaults_are_decided() {
    // `Opted ?? false` is never unknown: with its negation, the branches cover every record.
    let (_, l) = portal(None, &["Opted ?? false", "not (Opted ?? false)"], true);
    assert_eq!(codes(&l), ["otherwise-unreachable"]);
    let (_, l) = portal(
        Some("(Opted ?? false) or not (Opted ?? false)"),
        &["Age > 3"],
        false,
    );
    assert_eq!(codes(&l), ["always-true"]);
    let (_, l) = portal(
        Some("not (Opted ?? false) and (Opted ?? false)"),
        &["Age > 3"],
        false,
    );
    assert_eq!(codes(&l), ["always-false"]);
    let (_, l) = portal(Some("not (Opted ?? false)"), &["Age > 3"], false);
    assert!(l.is_empty(), "{l:?}");
}

#[test]
fn datetime_fields_against_midnights() {
    let (_, l) = portal(
        None,
        &[
            "Seen >= @2025-01-01T00:00:00Z",
            "Seen >= @2025-02-01T00:00:00Z",
        ],
        true,
    );
    assert_eq!(codes(&l), ["unreachable-branch"]);
    let w = l[0].witness.as_ref().unwrap();
    assert!(w["Seen"].as_str().unwrap().contains('T'), "{w}");
    let (_, l) = portal(None, &["Seen < @2025-01-01", "Seen == @2025-01-01"], true);
    assert!(l.is_empty(), "{l:?}");
    let (_, l) = portal(None, &["Seen < @2025-01-01", "Seen >= @2025-01-01"], true);
    assert!(l.is_empty(), "{l:?}");
}
