//! Golden tests of `herald check` through the binary (CLI.md): output formats, the summary line,
//! `--deny-warnings` and exit codes. The rule files are the checker fixtures under
//! `tests/fixtures/check/` (see `tests/check_fixtures.rs`); the binary runs from the crate root
//! so that the file names it prints are stable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

const FIXTURES: &str = "tests/fixtures/check";

fn herald_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .current_dir(dir)
        // Colour only goes to terminals, but make sure no environment turns it on.
        .env_remove("CLICOLOR_FORCE")
        .env_remove("FORCE_COLOR")
        .output()
        .expect("run herald")
}

fn herald(args: &[&str]) -> Output {
    herald_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn fixture(case: &str) -> String {
    format!("{FIXTURES}/{case}")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code, not a signal")
}

// ---------------------------------------------------------------------------------------------
// human
// ---------------------------------------------------------------------------------------------

#[test]
fn human_reports_go_to_stderr_and_end_with_the_summary() {
    let o = herald(&["check", &fixture("unknown_schema")]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "");
    let want = "\
[unknown-schema] Error: there is no schema named `Contact`
    ╭─[ tests/fixtures/check/unknown_schema/rules.herald:14:11 ]
    │
 14 │   records Contact
    │           ───┬───  
    │              ╰───── unknown schema
    │ 
    │ Help: did you mean `Contacts`?
────╯
[unknown-schema] Error: there is no schema named `Leads`
    ╭─[ tests/fixtures/check/unknown_schema/rules.herald:19:11 ]
    │
 19 │   records Leads
    │           ──┬──  
    │             ╰──── unknown schema
    │ 
    │ Help: the schemas are `Contacts`, `Accounts`
────╯
2 errors, 0 warnings in 1 file
";
    assert_eq!(stderr(&o), want);
}

#[test]
fn human_summary_counts_every_rule_set_and_file() {
    // Two rule sets (two directories): 2 errors in 1 file, 2 warnings in 2 files.
    let o = herald(&[
        "check",
        &fixture("unknown_schema"),
        &fixture("null_comparison"),
    ]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.ends_with("\n2 errors, 2 warnings in 3 files\n"),
        "{err}"
    );
    assert_eq!(err.matches("[unknown-schema] Error:").count(), 2);
    assert_eq!(err.matches("[null-comparison] Warning:").count(), 2);
}

#[test]
fn all_errors_of_all_files_in_one_run() {
    let o = herald(&["check", &fixture("many_errors_many_files")]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    for (code, file) in [
        ("unknown-picklist-value", "2-customers.herald:3:27"),
        ("unknown-field", "2-customers.herald:4:20"),
        ("duplicate-language", "2-customers.herald:5:10"),
        ("type-mismatch", "2-customers.herald:5:20"),
        ("syntax", "3-partners.herald:4:1"),
        ("invalid-test", "4-tests.herald:5:10"),
    ] {
        assert!(
            err.contains(&format!("[{code}] Error:")),
            "{code} missing:\n{err}"
        );
        assert!(err.contains(file), "{file} missing:\n{err}");
    }
    assert!(
        err.ends_with("\n6 errors, 0 warnings in 4 files\n"),
        "{err}"
    );
}

#[test]
fn a_clean_rule_set_prints_only_the_summary() {
    let o = herald(&["check", &fixture("valid_multi_file")]);
    assert_eq!(code(&o), 0);
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o), "0 errors, 0 warnings in 3 files\n");
}

// ---------------------------------------------------------------------------------------------
// json
// ---------------------------------------------------------------------------------------------

fn json(o: &Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(&stdout(o)).expect("stdout is one JSON value");
    v.as_array().expect("a JSON array").clone()
}

#[test]
fn json_is_one_array_on_stdout_with_one_based_positions() {
    let o = herald(&[
        "check",
        "--format",
        "json",
        &fixture("many_errors_many_files"),
    ]);
    assert_eq!(code(&o), 1);
    assert_eq!(stderr(&o), "", "nothing but JSON is printed");
    let items = json(&o);
    assert_eq!(items.len(), 6);
    for item in &items {
        let mut keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "code",
                "column",
                "end_column",
                "end_line",
                "file",
                "help",
                "line",
                "message",
                "severity"
            ]
        );
    }
    assert_eq!(
        items[0],
        serde_json::json!({
            "file": "tests/fixtures/check/many_errors_many_files/2-customers.herald",
            "line": 3, "column": 27, "end_line": 3, "end_column": 33,
            "severity": "error",
            "code": "unknown-picklist-value",
            "message": "\"Paid\" is not a value of `Subscription`",
            "help": "values are case-sensitive: write \"paid\"",
        })
    );
    // A span over several lines: the `(` opened on line 3 and the `}` on line 4 (the primary
    // span is the `}`).
    assert_eq!(
        items[4],
        serde_json::json!({
            "file": "tests/fixtures/check/many_errors_many_files/3-partners.herald",
            "line": 4, "column": 1, "end_line": 4, "end_column": 2,
            "severity": "error",
            "code": "syntax",
            "message": "`}` does not close `(`",
            "help": "close `(` with `)` first",
        })
    );
    let codes: Vec<&str> = items.iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "unknown-picklist-value",
            "unknown-field",
            "duplicate-language",
            "type-mismatch",
            "syntax",
            "invalid-test"
        ]
    );
}

#[test]
fn json_warnings_have_severity_warning() {
    let o = herald(&["check", "--format", "json", &fixture("null_comparison")]);
    assert_eq!(code(&o), 0, "warnings alone do not fail the check");
    let items = json(&o);
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0],
        serde_json::json!({
            "file": "tests/fixtures/check/null_comparison/rules.herald",
            "line": 3, "column": 20, "end_line": 3, "end_column": 24,
            "severity": "warning",
            "code": "null-comparison",
            "message": "`!=` with `null` is always unknown, so it never matches",
            "help": "write `Email is not null`",
        })
    );
}

#[test]
fn json_of_a_clean_rule_set_is_an_empty_array() {
    let o = herald(&["check", "--format", "json", "examples/"]);
    assert_eq!(code(&o), 0);
    assert_eq!(json(&o), Vec::<serde_json::Value>::new());
}

#[test]
fn json_keeps_zero_width_spans() {
    // The unreadable file: a zero-width span at the first invalid byte.
    let o = herald(&["check", "--format", "json", &fixture("invalid_utf8")]);
    assert_eq!(code(&o), 1);
    let items = json(&o);
    assert_eq!(items.len(), 1);
    let d = &items[0];
    assert_eq!(d["code"], "unreadable-file");
    assert_eq!(d["message"], "invalid UTF-8 at byte offset 54");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(2), Some(36))
    );
    assert_eq!(
        (d["end_line"].as_u64(), d["end_column"].as_u64()),
        (Some(2), Some(36))
    );
}

#[test]
fn json_lines_and_columns_survive_crlf_bom_and_non_ascii() {
    let dir = tempfile::tempdir().unwrap();
    // A BOM, CRLF line endings and accented letters before the error on line 3: the column
    // counts characters, the BOM is not one.
    let text = "\u{FEFF}# Règles\r\nportal \"Clients\" {\r\n  invite \"fr\" when Prénom_ok == \"é\" and Âge > \"18\"\r\n}\r\n";
    // `Prénom_ok` is not an identifier (non-ASCII), so this is a syntax error at `é` of
    // `Prénom_ok`: column 22 in characters, 23 in bytes.
    std::fs::write(dir.path().join("rules.herald"), text).unwrap();
    let o = herald(&["check", "--format", "json", dir.path().to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let items = json(&o);
    assert_eq!(items.len(), 1, "{items:?}");
    let d = &items[0];
    assert_eq!(d["code"], "syntax");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(3), Some(22))
    );
    assert!(d["file"].as_str().unwrap().ends_with("rules.herald"));
}

// ---------------------------------------------------------------------------------------------
// github
// ---------------------------------------------------------------------------------------------

#[test]
fn github_prints_one_workflow_command_per_diagnostic() {
    let o = herald(&[
        "check",
        "--format",
        "github",
        &fixture("null_comparison"),
        &fixture("unknown_schema"),
    ]);
    assert_eq!(code(&o), 1);
    assert_eq!(stderr(&o), "");
    let want = "\
::warning file=tests/fixtures/check/null_comparison/rules.herald,line=3,col=20,endLine=3,endColumn=24::null-comparison: `!=` with `null` is always unknown, so it never matches%0Ahelp: write `Email is not null`
::warning file=tests/fixtures/check/null_comparison/rules.herald,line=4,col=39,endLine=4,endColumn=43::null-comparison: `==` with `null` is always unknown, so it never matches%0Ahelp: write `Mailing_Country is null`
::error file=tests/fixtures/check/unknown_schema/rules.herald,line=14,col=11,endLine=14,endColumn=18::unknown-schema: there is no schema named `Contact`%0Ahelp: did you mean `Contacts`?
::error file=tests/fixtures/check/unknown_schema/rules.herald,line=19,col=11,endLine=19,endColumn=16::unknown-schema: there is no schema named `Leads`%0Ahelp: the schemas are `Contacts`, `Accounts`
";
    assert_eq!(stdout(&o), want);
    for line in stdout(&o).lines() {
        assert!(
            line.starts_with("::error file=") || line.starts_with("::warning file="),
            "{line}"
        );
    }
}

#[test]
fn github_of_a_clean_rule_set_prints_nothing() {
    let o = herald(&["check", "--format", "github", "examples/"]);
    assert_eq!(code(&o), 0);
    assert_eq!(stdout(&o), "");
}

// ---------------------------------------------------------------------------------------------
// --deny-warnings and exit codes
// ---------------------------------------------------------------------------------------------

#[test]
fn deny_warnings_fails_on_a_warning_only_rule_set() {
    let case = fixture("null_comparison");
    let o = herald(&["check", &case]);
    assert_eq!(code(&o), 0);
    assert!(stderr(&o).ends_with("0 errors, 2 warnings in 2 files\n"));
    let o = herald(&["check", "--deny-warnings", &case]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).ends_with("0 errors, 2 warnings in 2 files\n"));
    for format in ["json", "github"] {
        let o = herald(&["check", "--deny-warnings", "--format", format, &case]);
        assert_eq!(code(&o), 1, "--format {format}");
    }
}

#[test]
fn deny_warnings_passes_a_clean_rule_set() {
    let o = herald(&["check", "--deny-warnings", "examples/"]);
    assert_eq!(code(&o), 0);
}

#[test]
fn examples_check_clean() {
    let o = herald(&["check", "examples/"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stderr(&o), "0 errors, 0 warnings in 3 files\n");
}

#[test]
fn the_default_path_is_the_current_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/monprofil/rules");
    let o = herald_in(&dir, &["check"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stderr(&o), "0 errors, 0 warnings in 3 files\n");
}

#[test]
fn a_missing_path_exits_2() {
    let o = herald(&["check", "does/not/exist"]);
    assert_eq!(code(&o), 2);
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(
        err.starts_with("error: cannot read `does/not/exist`: "),
        "{err}"
    );
}

#[test]
fn a_directory_without_rule_files_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a rule file").unwrap();
    let path = dir.path().to_str().unwrap();
    let o = herald(&["check", path]);
    assert_eq!(code(&o), 2);
    assert_eq!(
        stderr(&o),
        format!("error: no `.herald` files in `{path}`\n")
    );
}

#[test]
fn a_usage_error_exits_2() {
    let o = herald(&["check", "--format", "xml", "examples/"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("xml"));
}

// ---------------------------------------------------------------------------------------------
// rule sets
// ---------------------------------------------------------------------------------------------

#[test]
fn each_directory_is_one_rule_set_and_each_named_file_its_own() {
    // As a directory, the two files are one rule set: their names collide.
    let o = herald(&["check", &fixture("duplicate_names")]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).ends_with("3 errors, 0 warnings in 2 files\n"));
    // Named one by one, each file is a rule set of its own: nothing collides.
    let a = format!("{}/a.herald", fixture("duplicate_names"));
    let b = format!("{}/b.herald", fixture("duplicate_names"));
    let o = herald(&["check", &a, &b]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stderr(&o), "0 errors, 0 warnings in 2 files\n");
}

#[test]
fn the_whole_fixture_tree_agrees_with_the_library() {
    // `herald check DIR` walks every directory under DIR; each is checked as `load` checks it.
    let mut errors = 0;
    let mut warnings = 0;
    let mut all = 0;
    let mut files = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let loaded = herald::load::load(&dir).unwrap();
        files += loaded.n_files;
        all += loaded.diagnostics.len();
        errors += loaded.diagnostics.iter().filter(|d| d.is_error()).count();
        warnings += loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == herald::diagnostics::Severity::Warning)
            .count();
    }
    let o = herald(&["check", FIXTURES]);
    assert_eq!(code(&o), 1);
    // The summary counts errors and warnings (not informational findings).
    let summary = format!("{errors} errors, {warnings} warnings in {files} files\n");
    assert!(stderr(&o).ends_with(&summary), "want {summary}");
    // The JSON has one entry per diagnostic, and `--format github` one line, infos included.
    let o = herald(&["check", "--format", "json", FIXTURES]);
    assert_eq!(json(&o).len(), all);
    let o = herald(&["check", "--format", "github", FIXTURES]);
    assert_eq!(stdout(&o).lines().count(), all);
    for line in stdout(&o).lines() {
        assert!(
            ["::error ", "::warning ", "::notice "]
                .iter()
                .any(|p| line.starts_with(p)),
            "{line}"
        );
    }
}
