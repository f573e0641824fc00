//! Data-driven tests of the rule-set checker (`herald check`, issue #3).
//!
//! Every directory under `tests/fixtures/check/` is one rule set (the `.herald` files directly
//! in it, plus the JSON schema files they name). The harness loads each with
//! [`herald::load::load`] and asserts, per case:
//! - the diagnostics listed in the case's `expect.json`, in order: code, severity, file, the
//!   underlined text (the source sliced at the primary span) and the help line;
//! - a snapshot of the rendered human output (`tests/snapshots/check_fixtures__<case>.snap`),
//!   which is where the messages themselves are reviewed.
//!
//! `UPDATE_EXPECT=1 cargo test --test check_fixtures` rewrites the `expect.json` files from the
//! current diagnostics (review the diff!); `INSTA_UPDATE=always` does the same for snapshots.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::diagnostics::{Code, Diagnostic, render};
use herald::load::{self, Loaded};
use herald::span::Sources;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const FIXTURES: &str = "tests/fixtures/check";

/// One expected diagnostic, as written in `expect.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    /// The kebab-case code.
    code: String,
    /// `error` (default) or `warning`.
    #[serde(default = "error", skip_serializing_if = "is_error")]
    severity: String,
    /// The file name (last path component) of the primary span.
    file: String,
    /// The underlined text: the source sliced at the primary span.
    text: String,
    /// The help line, `null` when there is none.
    help: Option<String>,
}

fn error() -> String {
    String::from("error")
}

fn is_error(s: &String) -> bool {
    s == "error"
}

fn file_name(name: &str) -> String {
    Path::new(name)
        .file_name()
        .map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned())
}

fn actual(d: &Diagnostic, sources: &Sources) -> Expected {
    let file = sources.get(d.source).expect("diagnostic in a known source");
    Expected {
        code: d.code.as_str().to_string(),
        severity: d.severity.as_str().to_string(),
        file: file_name(&file.name),
        text: file.slice(d.span).to_string(),
        help: d.help.clone(),
    }
}

fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("fixtures directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no fixtures under {FIXTURES}");
    dirs
}

fn case_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

fn load_case(dir: &Path) -> Loaded {
    load::load(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// Runs every case; collects all mismatches so one run shows every broken case.
#[test]
fn fixtures() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for dir in cases() {
        let name = case_name(&dir);
        let loaded = load_case(&dir);
        let got: Vec<Expected> = loaded
            .diagnostics
            .iter()
            .map(|d| actual(d, &loaded.sources))
            .collect();
        let expect_path = dir.join("expect.json");
        if update {
            let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
            std::fs::write(&expect_path, text).unwrap();
        } else {
            let text = std::fs::read_to_string(&expect_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expect_path.display()));
            let want: Vec<Expected> = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", expect_path.display()));
            if want != got {
                failures.push(format!(
                    "== {name}\nexpected:\n{}\nactual:\n{}",
                    serde_json::to_string_pretty(&want).unwrap(),
                    serde_json::to_string_pretty(&got).unwrap()
                ));
            }
        }
        // A rule set is usable exactly when it has no error.
        let has_errors = loaded.diagnostics.iter().any(Diagnostic::is_error);
        if has_errors == loaded.rule_set.is_some() {
            failures.push(format!(
                "== {name}: has errors = {has_errors} but rule set present = {}",
                loaded.rule_set.is_some()
            ));
        }
        // Every diagnostic follows the message style: lowercase start, no final period, a help
        // line for every error.
        for d in &loaded.diagnostics {
            let first = d.message.chars().next().unwrap_or(' ');
            if first.is_uppercase() || d.message.ends_with('.') {
                failures.push(format!("== {name}: message style: {:?}", d.message));
            }
            if d.help.is_none() {
                failures.push(format!(
                    "== {name}: no help for {}: {:?}",
                    d.code, d.message
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The rendered human output of every case, as `herald check` prints it (without colour).
#[test]
fn rendered() {
    for dir in cases() {
        let name = case_name(&dir);
        let loaded = load_case(&dir);
        let rendered = render::human(&loaded.diagnostics, &loaded.sources, false);
        let summary = herald::diagnostics::summary(&loaded.diagnostics, loaded.n_files);
        insta::with_settings!({ omit_expression => true }, {
            insta::assert_snapshot!(name.as_str(), format!("{rendered}{summary}\n"));
        });
    }
}

/// Every fixture directory has an `expect.json`, holds at least one rule file, and every
/// snapshot belongs to a fixture (no stale snapshots).
#[test]
fn fixture_tree_is_consistent() {
    let names: Vec<String> = cases().iter().map(|d| case_name(d)).collect();
    for dir in cases() {
        assert!(
            dir.join("expect.json").is_file(),
            "{}: no expect.json",
            dir.display()
        );
        let files = load::rule_files(&dir).unwrap();
        assert!(!files.is_empty(), "{}: no .herald file", dir.display());
    }
    for entry in std::fs::read_dir("tests/snapshots").unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(case) = file
            .strip_prefix("check_fixtures__")
            .and_then(|f| f.strip_suffix(".snap"))
        {
            assert!(names.iter().any(|n| n == case), "stale snapshot {file}");
        }
    }
}

/// Codes not implemented yet (none: the static-analysis lints have the `analysis_lints`
/// fixture).
const PLANNED: &[Code] = &[];

/// Codes whose trigger is too large for a fixture file; a test below builds it in memory.
const GENERATED: &[Code] = &[Code::SourceTooLarge, Code::ListTooLarge];

/// Show the trigger: every implemented code is produced by at least one fixture.
#[test]
fn every_implemented_code_has_a_fixture() {
    let mut seen = std::collections::BTreeSet::new();
    for dir in cases() {
        for d in load_case(&dir).diagnostics {
            seen.insert(d.code);
        }
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !PLANNED.contains(c) && !GENERATED.contains(c) && !seen.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
    let planned_seen: Vec<&str> = PLANNED
        .iter()
        .filter(|c| seen.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(
        planned_seen.is_empty(),
        "now implemented, move out of PLANNED and document: {planned_seen:?}"
    );
}

/// Every code in `Code::ALL` has a heading in docs/diagnostics.md.
#[test]
fn every_code_is_documented() {
    let doc = std::fs::read_to_string("docs/diagnostics.md").expect("docs/diagnostics.md");
    let headings: Vec<&str> = doc
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !headings.contains(&format!("`{c}`").as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a `### `code`` heading: {missing:?}"
    );
}

fn no_schema_files(_: &str, rel: &str) -> Result<(String, String), String> {
    Err(format!("no schema file `{rel}` in this test"))
}

fn check_one(name: &str, text: String) -> Loaded {
    load::check_texts(vec![(name.to_string(), text, None)], &mut no_schema_files)
}

/// `source-too-large`: a rule file over 1 MiB.
#[test]
fn source_too_large() {
    let mut text = String::from("portal \"P\" {\n  invite \"fr\"\n}\n");
    while text.len() <= (1 << 20) {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let loaded = check_one("big.herald", text);
    let codes: Vec<Code> = loaded.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::SourceTooLarge]);
    assert!(loaded.rule_set.is_none());
    let d = &loaded.diagnostics[0];
    assert!(
        d.message
            .contains("over the limit of 1048576 bytes (1 MiB)"),
        "{}",
        d.message
    );
    assert_eq!(
        d.help.as_deref(),
        Some("split the rules into several files")
    );
}

/// `list-too-large`: a list literal of 100,001 elements.
#[test]
fn list_too_large() {
    let items: Vec<String> = (0..100_001).map(|i| i.to_string()).collect();
    let text = format!(
        "portal \"P\" {{\n  invite \"fr\" when Age in [{}]\n}}\n",
        items.join(",")
    );
    let loaded = check_one("big-list.herald", text);
    let codes: Vec<Code> = loaded.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::ListTooLarge]);
    let d = &loaded.diagnostics[0];
    assert_eq!(d.message, "this list has more than 100000 elements");
    assert_eq!(
        d.help.as_deref(),
        Some("split the list, or keep the values in a field of the record")
    );
    // The primary span is the first element over the limit.
    let src = loaded.sources.get(d.source).unwrap();
    assert_eq!(src.slice(d.span), "100000");
}

/// `check_texts` on the same texts gives the same diagnostics and the same version hash: the
/// checker is deterministic.
#[test]
fn checking_is_deterministic() {
    let dir = Path::new(FIXTURES).join("valid_multi_file");
    let a = load_case(&dir);
    let b = load_case(&dir);
    let (a, b) = (a.rule_set.unwrap(), b.rule_set.unwrap());
    assert_eq!(a.version, b.version);
    assert_eq!(a.version.len(), 16);
}

/// What the valid fixtures hold, beyond "no diagnostics": defaults and resolved schemas.
#[test]
fn valid_inline_schema_with_nested_object() {
    let set = load_case(&Path::new(FIXTURES).join("valid_inline_schema"))
        .rule_set
        .unwrap();
    let schema = &set.schemas[0];
    assert_eq!(schema.name, "Contacts");
    let city = schema
        .lookup(&["Address".to_string(), "City".to_string()])
        .expect("nested field");
    assert_eq!(city.ty, herald::schema::FieldType::Text);
    let portal = &set.portals[0];
    // Defaults: both events, active, no otherwise.
    assert!(portal.on_create && portal.on_update);
    assert_eq!(portal.status, herald::rules::Status::Active);
    assert_eq!(portal.branches.len(), 2);
    assert_eq!(portal.otherwise.as_deref(), Some("en"));
}

#[test]
fn valid_json_schema() {
    let loaded = load_case(&Path::new(FIXTURES).join("valid_json_schema"));
    let set = loaded.rule_set.unwrap();
    let schema = &set.schemas[0];
    use herald::schema::FieldType;
    let ty = |n: &str| schema.lookup(&[n.to_string()]).map(|f| f.ty.clone());
    assert_eq!(ty("Customer_Number"), Some(FieldType::Text));
    assert_eq!(ty("Score"), Some(FieldType::Decimal));
    assert_eq!(ty("Visits"), Some(FieldType::Integer));
    assert_eq!(
        ty("Subscription"),
        Some(FieldType::Picklist(vec![
            "paid".into(),
            "trial".into(),
            "free".into()
        ]))
    );
    assert_eq!(
        ty("Tags"),
        Some(FieldType::Multiselect(vec!["vip".into(), "beta".into()]))
    );
    let street = schema.lookup(&["Address".to_string(), "Street".to_string()]);
    assert_eq!(street.map(|f| f.ty.clone()), Some(FieldType::Text));
    // The schema file is one of the sources (it is part of the version hash).
    assert!(
        loaded
            .sources
            .iter()
            .any(|(_, f)| f.name.ends_with("contacts.fields.json"))
    );
    assert_eq!(loaded.n_files, 1);
}

#[test]
fn valid_multi_file() {
    let loaded = load_case(&Path::new(FIXTURES).join("valid_multi_file"));
    assert_eq!(loaded.n_files, 3);
    let set = loaded.rule_set.unwrap();
    // Rule-set order: files by name, then source order.
    let names: Vec<&str> = set.portals.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Customers", "Recruiters"]);
    let recruiters = &set.portals[1];
    assert!(recruiters.on_create && !recruiters.on_update);
    assert_eq!(recruiters.status, herald::rules::Status::Paused);
    assert_eq!(set.tests.len(), 2);
}

#[test]
fn crlf_and_bom_just_work() {
    let dir = Path::new(FIXTURES).join("valid_crlf_bom");
    let raw = std::fs::read(dir.join("rules.herald")).unwrap();
    assert!(
        raw.starts_with(b"\xEF\xBB\xBF"),
        "the fixture must keep its BOM"
    );
    assert!(
        raw.windows(2).any(|w| w == b"\r\n"),
        "the fixture must keep its CRLFs"
    );
    let set = load_case(&dir).rule_set.unwrap();
    assert_eq!(set.portals.len(), 1);
    assert_eq!(set.tests.len(), 1);
}
