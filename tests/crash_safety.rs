//! Crash safety of `herald route` (issue #4): `kill -9` in the middle of a large input, run it
//! again on the same database, and check that nobody is invited twice, that every decision that
//! was printed is in the log, and that the interrupted runs plus the rerun end with exactly the
//! invitations of one uninterrupted run.
//!
//! The input is generated here (deterministic, MonProfil-like, with updates of earlier
//! records, missing and invalid emails) and routed with the example rule set.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::store::{FailureQuery, InvitationQuery, SqliteStore, Store};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const NOW: &str = "2026-01-31T09:30:00Z";
/// Events in the input: about ten batches of the binary's 4096, a few seconds in a debug build.
const EVENTS: usize = 40_000;

fn rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/monprofil/rules")
}

/// A deterministic stream of MonProfil events: a fifth update an earlier contact.
fn generate(n: usize) -> String {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move |m: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % m
    };
    let countries = [
        "FR", "FR", "FR", "BE", "CH", "DE", "AT", "ES", "IT", "GB", "US",
    ];
    let plans = ["paid", "paid", "paid", "trial", "free"];
    let mut out = String::with_capacity(n * 220);
    let mut created = 0u64;
    for _ in 0..n {
        let update = created > 0 && next(5) == 0;
        let id = if update {
            1 + next(created)
        } else {
            created += 1;
            created
        };
        let email = match next(40) {
            0 => String::from("null"),
            1 => String::from("\"nobody@@example.fr\""),
            2 => String::from("\"  \""),
            _ => format!("\"contact{id}@example.fr\""),
        };
        let country = countries[next(countries.len() as u64) as usize];
        let plan = plans[next(plans.len() as u64) as usize];
        let tags = if next(20) == 0 {
            r#"["recruiter"]"#
        } else {
            "[]"
        };
        out.push_str(&format!(
            r#"{{"event":"{}","record":{{"id":"c{id:06}","Full_Name":"Contact {id}","Email":{email},"Email_Verified":true,"Mailing_Country":"{country}","Preferred_Language":"fr","Subscription":"{plan}","Opted_Out":false,"Tags":{tags}}}}}"#,
            if update { "update" } else { "create" }
        ));
        out.push('\n');
    }
    out
}

fn route_cmd(events: &Path, db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herald"));
    c.args(["route", "--rules"])
        .arg(rules())
        .arg("--events")
        .arg(events)
        .arg("--db")
        .arg(db)
        .args(["--now", NOW]);
    c
}

/// A printed decision: (portal, record id, outcome, reason).
type Printed = (String, String, String, Option<String>);

fn parse(line: &str) -> Printed {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    let s = |k: &str| v[k].as_str().map(String::from);
    (
        s("portal").unwrap(),
        s("record_id").unwrap(),
        s("outcome").unwrap(),
        s("reason"),
    )
}

/// Starts `herald route`, reads its output until at least `lines` decisions were printed,
/// kills it with SIGKILL, and returns every complete line it had printed.
fn run_and_kill(events: &Path, db: &Path, lines: usize) -> Vec<Printed> {
    let mut child = route_cmd(events, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    while bytes.iter().filter(|b| **b == b'\n').count() < lines {
        let n = stdout.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "herald route ended before printing {lines} decisions: make the input larger"
        );
        bytes.extend_from_slice(&buf[..n]);
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed in the middle, not finished");
    // Whatever it had written before dying was printed too.
    stdout.read_to_end(&mut bytes).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete.lines().map(parse).collect()
}

fn run_to_end(events: &Path, db: &Path) -> Vec<Printed> {
    let o = route_cmd(events, db).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(parse)
        .collect()
}

/// The log's active invitations as (portal, record id), asserting nobody is in it twice.
fn invited(db: &Path) -> BTreeSet<(String, String)> {
    let mut store = SqliteStore::open(db).unwrap();
    let mut keys = BTreeSet::new();
    for i in store.invitations(&InvitationQuery::default()).unwrap() {
        let key = (i.portal.clone(), i.record_id.clone());
        assert!(
            keys.insert(key),
            "{} invited twice to {}",
            i.record_id,
            i.portal
        );
    }
    keys
}

/// How many failures the log holds per (portal, record id, reason).
fn failures(db: &Path) -> BTreeMap<(String, String, String), usize> {
    let mut store = SqliteStore::open(db).unwrap();
    let mut out = BTreeMap::new();
    for f in store.failures(&FailureQuery::default()).unwrap() {
        *out.entry((f.portal, f.record_id, f.reason)).or_default() += 1;
    }
    out
}

/// Every printed invitation and failure is in the log.
fn assert_printed_are_logged(
    printed: &[Printed],
    db: &Path,
    before: &BTreeMap<(String, String, String), usize>,
) {
    let inv = invited(db);
    let fails = failures(db);
    let mut printed_fails: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for (portal, id, outcome, reason) in printed {
        match outcome.as_str() {
            "invited" => assert!(
                inv.contains(&(portal.clone(), id.clone())),
                "printed invitation of {id} not logged"
            ),
            "failed" => {
                *printed_fails
                    .entry((portal.clone(), id.clone(), reason.clone().unwrap()))
                    .or_default() += 1;
            }
            other => panic!("unexpected outcome {other} without --all"),
        }
    }
    for (key, n) in printed_fails {
        let logged = fails.get(&key).copied().unwrap_or(0) - before.get(&key).copied().unwrap_or(0);
        assert!(
            logged >= n,
            "{key:?}: printed {n} times, logged {logged} times by this run"
        );
    }
}

#[test]
fn kill_9_in_the_middle_then_rerun_invites_nobody_twice_and_loses_nothing_printed() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, generate(EVENTS)).unwrap();
    let db = dir.path().join("log.db");

    // The reference: one uninterrupted run on its own database.
    let reference_db = dir.path().join("reference.db");
    let reference = run_to_end(&events, &reference_db);
    let want = invited(&reference_db);
    assert!(
        want.len() > 10_000,
        "the input invites many: {}",
        want.len()
    );
    assert!(reference.iter().any(|d| d.2 == "failed"));

    // Two runs killed at different points, each on the database the previous one left.
    let mut invited_before = BTreeSet::new();
    for lines in [300, 6_000] {
        let fails_before = failures(&db);
        let printed = run_and_kill(&events, &db, lines);
        assert!(printed.len() >= lines);
        assert_printed_are_logged(&printed, &db, &fails_before);
        // A run never invites someone an earlier run invited.
        for (portal, id, outcome, _) in &printed {
            if outcome == "invited" {
                assert!(
                    !invited_before.contains(&(portal.clone(), id.clone())),
                    "{id} invited again"
                );
            }
        }
        let now_invited = invited(&db);
        assert!(now_invited.is_superset(&invited_before));
        assert!(now_invited.len() < want.len(), "killed before the end");
        invited_before = now_invited;
    }

    // The rerun to the end.
    let fails_before = failures(&db);
    let printed = run_to_end(&events, &db);
    assert_printed_are_logged(&printed, &db, &fails_before);
    for (portal, id, outcome, _) in &printed {
        if outcome == "invited" {
            assert!(
                !invited_before.contains(&(portal.clone(), id.clone())),
                "{id} invited twice"
            );
        }
    }
    // Interrupted runs plus the rerun invite exactly whom one run invites.
    assert_eq!(invited(&db), want);
}
