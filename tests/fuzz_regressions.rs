//! Replays every input under `tests/fixtures/fuzz/` through the checks of the fuzz target it
//! belongs to (`fuzz/fuzz_targets/*.rs`), so an input that once crashed or failed a target stays
//! fixed without cargo-fuzz:
//!
//! - `rule_set/*`: raw bytes, split into rule files at `\n%%%%\n`; decoded, parsed, checked and
//!   rendered; a rule set that checks routes and explains its own tests.
//! - `route_stream/*`: raw bytes, the first picking the rule set (0: the MonProfil example,
//!   1: the reasons fixture, 2: the dynamic fixture); the rest routed line by line as
//!   `herald route` does, compact path against serde_json path, the log against the decisions.
//! - `condition_record/*.txt`: line 1 `schema` or `no-schema`, line 2 the condition, then one
//!   JSON record per line; the compiled program must equal the reference interpreter on each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use herald::condition::Condition;
use herald::engine::Engine;
use herald::interp::{self, Env};
use herald::record::{CompactRecord, JsonRecord};
use herald::route::{Decision, Event, Outcome};
use herald::rules::RuleSet;
use herald::schema::{Field, FieldType, Schema};
use herald::store::{FailureQuery, InvitationQuery, MemoryStore};
use herald::value::FixedClock;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cases(target: &str) -> Vec<PathBuf> {
    let dir = root().join("tests/fixtures/fuzz").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

// ---------------------------------------------------------------------------------------------
// rule_set
// ---------------------------------------------------------------------------------------------

fn split(data: &[u8]) -> Vec<&[u8]> {
    const SEP: &[u8] = b"\n%%%%\n";
    let mut parts = Vec::new();
    let mut rest = data;
    while parts.len() < 3 {
        match rest.windows(SEP.len()).position(|w| w == SEP) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + SEP.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    parts
}

fn replay_rule_set(data: &[u8]) {
    use herald::diagnostics::render;
    let parts = split(data);
    let schema_json = parts
        .last()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let texts = parts
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let (text, diag) = herald::load::decode(bytes);
            (format!("f{i}.herald"), text, diag)
        })
        .collect();
    let mut resolver = |_from: &str, rel: &str| -> Result<(String, String), String> {
        match &schema_json {
            Some(json) if rel.ends_with(".json") => Ok((rel.to_string(), json.clone())),
            _ => Err(format!("there is no file `{rel}`")),
        }
    };
    let loaded = herald::load::check_texts(texts, &mut resolver);
    let _ = render::human(&loaded.diagnostics, &loaded.sources, true);
    let _ = render::github(&loaded.diagnostics, &loaded.sources);
    let _ = render::json(&loaded.diagnostics, &loaded.sources);
    let Some(set) = loaded.rule_set else { return };
    assert!(
        !loaded.diagnostics.iter().any(|d| d.is_error()),
        "a rule set despite errors"
    );
    for test in &set.tests {
        let event = Event {
            kind: test.event,
            record: test.record.clone(),
        };
        let at = test.now.unwrap_or_else(now);
        let _ = herald::route::decide(&set, &event, at);
        let _ = herald::explain::render(&herald::explain::explain_event(&set, &event, at));
    }
}

#[test]
fn rule_set_inputs_replay_cleanly() {
    let files = cases("rule_set");
    assert!(!files.is_empty());
    for f in files {
        // Deep inputs need the stack `cargo fuzz` runs them with.
        let data = std::fs::read(&f).unwrap();
        let name = f.display().to_string();
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || replay_rule_set(&data))
            .unwrap()
            .join()
            .unwrap_or_else(|_| panic!("{name}"));
    }
}

// ---------------------------------------------------------------------------------------------
// route_stream
// ---------------------------------------------------------------------------------------------

fn rule_sets() -> Vec<RuleSet> {
    [
        "examples/monprofil/rules",
        "tests/fixtures/route/reasons",
        "tests/fixtures/route/dynamic",
    ]
    .iter()
    .map(|dir| {
        herald::load::load(&root().join(dir))
            .unwrap()
            .rule_set
            .expect("checks")
    })
    .collect()
}

fn same(a: &[Decision], b: &[Decision]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            (
                &x.portal,
                &x.record_id,
                x.outcome,
                &x.language,
                x.reason,
                &x.email,
                &x.record_name,
            ) == (
                &y.portal,
                &y.record_id,
                y.outcome,
                &y.language,
                y.reason,
                &y.email,
                &y.record_name,
            )
        })
}

fn replay_route_stream(sets: &[RuleSet], data: &[u8]) {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let set = &sets[usize::from(pick) % sets.len()];
    let engine = Engine::new(set.clone(), Box::new(MemoryStore::new()))
        .unwrap()
        .with_clock(Box::new(FixedClock(now())));
    let mut returned = Vec::new();
    let mut batch = Vec::new();
    for (i, line) in data.split(|b| *b == b'\n').enumerate() {
        if line.len() > 1 << 20 {
            continue;
        }
        let line = if i == 0 {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
        } else {
            line
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = herald::route::parse_event_line(line, &set.compiled.projection);
        let library = serde_json::from_slice::<serde_json::Value>(line)
            .ok()
            .and_then(|v| serde_json::from_value::<Event>(v).ok());
        if let (Ok((kind, record)), Some(ev)) = (&parsed, library) {
            assert_eq!(*kind, ev.kind);
            let a = herald::route::decide_with(set, *kind, record, now());
            let b = herald::route::decide(set, &ev, now());
            match (&a, &b) {
                (Ok(x), Ok(y)) => assert!(
                    same(x, y),
                    "{}:\n{x:?}\n{y:?}",
                    String::from_utf8_lossy(line)
                ),
                (Err(x), Err(y)) => assert_eq!(x, y),
                _ => panic!("{}:\n{a:?}\n{b:?}", String::from_utf8_lossy(line)),
            }
        }
        if let Ok(ev) = parsed {
            batch.push(ev);
            if batch.len() >= 4 {
                returned.extend(
                    engine
                        .route_parsed(set, &batch)
                        .unwrap()
                        .into_iter()
                        .flatten()
                        .flatten(),
                );
                batch.clear();
            }
        }
    }
    returned.extend(
        engine
            .route_parsed(set, &batch)
            .unwrap()
            .into_iter()
            .flatten()
            .flatten(),
    );
    let invited: Vec<(String, String)> = returned
        .iter()
        .filter(|d| d.outcome == Outcome::Invited)
        .map(|d| (d.portal.clone(), d.record_id.clone()))
        .collect();
    let unique: HashSet<&(String, String)> = invited.iter().collect();
    assert_eq!(unique.len(), invited.len(), "invited twice");
    let logged = engine.invitations(&InvitationQuery::default()).unwrap();
    assert_eq!(logged.len(), invited.len());
    let failures = engine.failures(&FailureQuery::default()).unwrap();
    assert_eq!(
        failures.len(),
        returned
            .iter()
            .filter(|d| d.outcome == Outcome::Failed)
            .count()
    );
}

#[test]
fn route_stream_inputs_replay_cleanly() {
    let files = cases("route_stream");
    assert!(!files.is_empty());
    let sets = rule_sets();
    for f in files {
        let data = std::fs::read(&f).unwrap();
        replay_route_stream(&sets, &data);
    }
}

// ---------------------------------------------------------------------------------------------
// condition_record
// ---------------------------------------------------------------------------------------------

/// The schema of the `condition_record` target.
fn schema() -> Schema {
    const STRINGS: &[&str] = &[
        "FR",
        "BE",
        "",
        "fr",
        "vip",
        "beta",
        "2026-01-01",
        "2026-01-05T12:00:00Z",
        " fr ",
        "É",
        "ß",
        "İ",
        "a\"b",
        "\\",
        "FRANCE",
        "x@y.fr",
    ];
    let strings = || STRINGS.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let field = |name: &str, ty: FieldType| Field {
        name: name.into(),
        ty,
    };
    Schema::new(
        "T",
        vec![
            field("a", FieldType::Picklist(strings())),
            field("s", FieldType::Text),
            field("n", FieldType::Decimal),
            field("d", FieldType::DateTime),
            field("l", FieldType::Multiselect(strings())),
            field("b", FieldType::Boolean),
            field("o", FieldType::Object(vec![field("x", FieldType::Integer)])),
            field("Mailing Country", FieldType::Text),
        ],
    )
}

fn replay_condition(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let with_schema = match lines.next() {
        Some("schema") => true,
        Some("no-schema") => false,
        other => panic!(
            "{}: the first line must be `schema` or `no-schema`, not {other:?}",
            path.display()
        ),
    };
    let src = lines.next().expect("a condition");
    if let Ok(ast) = herald::syntax::parse_condition(src) {
        let printed = herald::print::expr(&ast);
        assert_eq!(
            herald::syntax::parse_condition(&printed).ok(),
            Some(ast),
            "{printed}"
        );
    }
    let schema = schema();
    let Ok(cond) = Condition::compile(src, with_schema.then_some(&schema)) else {
        return;
    };
    let clock = FixedClock(now());
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        let expected = cond.eval_reference(&rec, &clock);
        let env = Env {
            record: &rec,
            fields: cond.fields(),
            now: now(),
        };
        assert_eq!(
            interp::truth(cond.optimized(), &env),
            expected,
            "optimized IR: {src} on {rec}"
        );
        assert_eq!(
            cond.eval_record(&JsonRecord(&rec), now()),
            expected,
            "json: {src} on {rec}"
        );
        let from_json = CompactRecord::from_json(&rec, cond.fields());
        assert_eq!(
            cond.eval_record(&from_json, now()),
            expected,
            "compact: {src} on {rec}"
        );
        let parsed = cond.parse_record(line.as_bytes()).unwrap();
        assert_eq!(
            cond.eval_record(&parsed, now()),
            expected,
            "compact from bytes: {src} on {line}"
        );
    }
}

#[test]
fn condition_record_inputs_agree_with_the_reference_interpreter() {
    let files = cases("condition_record");
    assert!(!files.is_empty());
    for f in files {
        replay_condition(&f);
    }
}
