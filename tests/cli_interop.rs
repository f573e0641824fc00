//! `herald export sql|jsonlogic` and `herald import jsonlogic|zoho-criteria` through the binary:
//! outputs, exit codes (0 success, 1 input errors or refused constructs, 2 usage or unreadable
//! input) and a backfill run end to end in SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/interop")
}

/// Runs `herald ARGS` with `stdin`; returns (exit code, stdout, stderr).
fn herald(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const RULES: &str = "tests/fixtures/interop/rules";
const NOW: &str = "2026-01-31T09:30:00Z";

#[test]
fn export_sql_prints_the_golden_select() {
    for (portal, slug) in [
        ("MonProfil Customers", "monprofil_customers"),
        ("Recent signups", "recent_signups"),
    ] {
        for dialect in ["sqlite", "postgres"] {
            let (code, out, err) = herald(
                &[
                    "export",
                    "sql",
                    "--rules",
                    RULES,
                    "--portal",
                    portal,
                    "--dialect",
                    dialect,
                    "--now",
                    NOW,
                ],
                "",
            );
            assert_eq!(code, 0, "{err}");
            let want =
                std::fs::read_to_string(fixtures().join(format!("{slug}.{dialect}.sql"))).unwrap();
            assert_eq!(out, want);
        }
    }
    let (code, out, _) = herald(
        &[
            "export",
            "sql",
            "--rules",
            RULES,
            "--portal",
            "Partners",
            "--table",
            "crm.contacts",
            "--now",
            NOW,
        ],
        "",
    );
    assert_eq!(code, 0);
    assert!(out.contains("FROM \"crm\".\"contacts\""), "{out}");
}

#[test]
fn export_sql_errors_and_exit_codes() {
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["export", "sql", "--rules", RULES],
            2,
            "choose one with --portal",
        ),
        (
            &["export", "sql", "--rules", RULES, "--portal", "Partner"],
            2,
            "did you mean \"Partners\"?",
        ),
        (
            &[
                "export",
                "sql",
                "--rules",
                RULES,
                "--portal",
                "Partners",
                "--dialect",
                "mysql",
            ],
            2,
            "sqlite or postgres",
        ),
        (
            &[
                "export",
                "sql",
                "--rules",
                RULES,
                "--portal",
                "Partners",
                "--now",
                "yesterday",
            ],
            2,
            "RFC 3339",
        ),
        (
            &["export", "sql", "--rules", "tests/fixtures/interop/nope"],
            2,
            "cannot read",
        ),
        (
            &["export", "sql", "--rules", RULES, "--portal", "Regex"],
            1,
            "`matches`",
        ),
        (&["export", "sql"], 2, "--rules"),
    ];
    for (args, want, needle) in cases {
        let (code, _, err) = herald(args, "");
        assert_eq!(code, *want, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // A refusal points at the construct in its rule file.
    let (_, _, err) = herald(
        &["export", "sql", "--rules", RULES, "--portal", "Regex"],
        "",
    );
    assert!(err.contains("contacts.herald:47:20"), "{err}");
}

/// The worked example of docs/interop.md: the exported SELECT run over a SQLite table of
/// contacts returns the ids and languages the router chooses.
#[test]
fn a_backfill_in_sqlite() {
    let (code, select, err) = herald(
        &[
            "export",
            "sql",
            "--rules",
            RULES,
            "--portal",
            "MonProfil Customers",
            "--now",
            NOW,
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(
        "CREATE TABLE \"Contacts\" (id TEXT PRIMARY KEY, Full_Name TEXT, Email TEXT, Mailing_Country TEXT,
           Preferred_Language TEXT, Subscription TEXT, Age INTEGER, Lifetime_Value NUMERIC,
           Opted_Out INTEGER, Tags TEXT, Signup_Date TEXT, Created_Time TEXT);
         INSERT INTO \"Contacts\" (id, Mailing_Country, Preferred_Language, Subscription, Opted_Out) VALUES
           ('c1', 'FR', NULL, 'paid', 0),
           ('c2', 'CH', 'fr', 'paid', NULL),
           ('c3', 'CH', 'de', 'paid', 0),
           ('c4', 'DE', NULL, 'paid', 1),
           ('c5', 'AT', NULL, 'trial', 0),
           ('c6', NULL, NULL, 'paid', 0),
           ('c7', 'US', NULL, NULL, 0);",
    )
    .unwrap();
    let mut stmt = db.prepare(&select).unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want = [("c1", "fr"), ("c2", "fr"), ("c3", "en"), ("c6", "en")];
    assert_eq!(rows, want.map(|(a, b)| (a.to_string(), b.to_string())));
}

#[test]
fn import_jsonlogic_from_stdin_and_files() {
    let rule =
        r#"{"and": [{"==": [{"var": "Mailing_Country"}, "FR"]}, {">=": [{"var": "Age"}, "18"]}]}"#;
    let (code, out, err) = herald(&["import", "jsonlogic", "--rules", RULES], rule);
    assert_eq!(
        (code, out.as_str()),
        (0, "Mailing_Country == \"FR\" and Age >= 18\n"),
        "{err}"
    );
    let (code, out, _) = herald(
        &["import", "jsonlogic", "-"],
        r#"{"===": [{"var": "Mailing_Country"}, "FR"]}"#,
    );
    assert_eq!((code, out.as_str()), (0, "Mailing_Country == \"FR\"\n"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rule.json");
    std::fs::write(&file, r#"{"in": [{"var": "Tags"}, ["vip"]]}"#).unwrap();
    let (code, _, err) = herald(
        &[
            "import",
            "jsonlogic",
            file.to_str().unwrap(),
            "--rules",
            RULES,
        ],
        "",
    );
    assert_eq!(
        code, 1,
        "a multi-select is never strictly equal to a list element: {err}"
    );
    assert!(err.contains("`in`"), "{err}");
    let cases: &[(&[&str], &str, i32, &str)] = &[
        (&["import", "jsonlogic"], "{not json", 1, "not valid JSON"),
        (
            &["import", "jsonlogic"],
            r#"{"cat": ["a", "b"]}"#,
            1,
            "`cat`",
        ),
        (
            &["import", "jsonlogic"],
            r#"{"==": [{"var": "Age"}, 18]}"#,
            1,
            "use `===`",
        ),
        (
            &["import", "jsonlogic", "tests/fixtures/interop/nope.json"],
            "",
            2,
            "cannot read",
        ),
        (
            &["import", "jsonlogic", "--schema", "Contacts"],
            "{}",
            2,
            "needs --rules",
        ),
        (
            &[
                "import",
                "jsonlogic",
                "--rules",
                RULES,
                "--schema",
                "Contact",
            ],
            "{}",
            2,
            "did you mean `Contacts`?",
        ),
        (
            &["import", "jsonlogic", "--rules", RULES],
            r#"{"==": [{"var": "Agee"}, 18]}"#,
            1,
            "did you mean `Age`?",
        ),
    ];
    for (args, stdin, want, needle) in cases {
        let (code, _, err) = herald(args, stdin);
        assert_eq!(code, *want, "{args:?} {stdin}: {err}");
        assert!(err.contains(needle), "{args:?} {stdin}: {err}");
    }
}

#[test]
fn export_jsonlogic_prints_a_rule() {
    let (code, out, err) = herald(
        &[
            "export",
            "jsonlogic",
            "--rules",
            RULES,
            "Mailing_Country in [\"FR\", \"BE\"] and Tags contains \"vip\"",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let rule: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        rule,
        serde_json::json!({"and": [{"in": [{"var": "Mailing_Country"}, ["FR", "BE"]]}, {"in": ["vip", {"var": "Tags"}]}]})
    );
    let (code, out, _) = herald(&["export", "jsonlogic", "-"], "Mailing_Country == \"FR\"\n");
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!({"===": [{"var": "Mailing_Country"}, "FR"]})
    );
    let (code, _, err) = herald(
        &[
            "export",
            "jsonlogic",
            "--rules",
            RULES,
            "Mailing_Countr == \"FR\"",
        ],
        "",
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("unknown-field") || err.contains("unknown field"),
        "{err}"
    );
    let (code, _, err) = herald(
        &[
            "export",
            "jsonlogic",
            "--rules",
            RULES,
            "Signup_Date > today() - 30d",
        ],
        "",
    );
    assert_eq!(code, 1);
    assert!(err.contains("no clock") && err.contains('^'), "{err}");
}

#[test]
fn import_zoho_criteria() {
    let (code, out, _) = herald(
        &[
            "import",
            "zoho-criteria",
            "((Mailing_Country:equals:France)and(Subscription:equals:paid))",
        ],
        "",
    );
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "Mailing_Country == \"France\" and Subscription == \"paid\"\n"
        )
    );
    let (code, out, err) = herald(
        &[
            "import",
            "zoho-criteria",
            "--rules",
            RULES,
            r"((Full_Name:equals:Burns\,B)and(Age:between:18,65))",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "Full_Name == \"Burns,B\" and Age >= 18 and Age <= 65\n"
    );
    let (code, _, err) = herald(&["import", "zoho-criteria", "(Age:greater_than:18)"], "");
    assert_eq!(code, 1);
    assert!(err.contains("no schema") && err.contains('^'), "{err}");
}
