//! Fuzz target: arbitrary bytes as `herald route` input, through the same path as the binary.
//!
//! The first byte picks one of three real rule sets (the MonProfil example, the reasons
//! fixture, the schema-less dynamic fixture); the rest is split into lines like
//! `src/bin/cli/route.rs` does (1 MiB cap, BOM on line 1, CRLF), each line parsed with
//! `herald::route::parse_event_line` and the rule set's projection, and the events routed in
//! small batches by `Engine::route_parsed` on a `MemoryStore`. Checked: nothing panics; a line
//! that serde_json reads as an event object routes exactly like the library's serde_json path
//! (`route::decide`); every invitation and failure returned is in the log, nothing else is,
//! and nobody is invited twice to a portal.

#![no_main]

use chrono::{DateTime, Utc};
use herald::engine::Engine;
use herald::event::EventKind;
use herald::record::CompactRecord;
use herald::route::{Decision, Event, Outcome};
use herald::rules::RuleSet;
use herald::store::{FailureQuery, InvitationQuery, MemoryStore};
use herald::value::FixedClock;
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use std::sync::OnceLock;

/// The binary's line cap (`src/bin/cli/route.rs`).
const MAX_LINE: usize = 1 << 20;
const BATCH: usize = 4;

fn load(files: &[(&str, &str)], schema_json: &str) -> RuleSet {
    let texts = files
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string(), None))
        .collect();
    let mut resolver = |_from: &str, rel: &str| Ok((rel.to_string(), schema_json.to_string()));
    match herald::load::check_texts(texts, &mut resolver).rule_set {
        Some(set) => set,
        None => panic!("a fuzz rule set does not check"),
    }
}

fn rule_sets() -> &'static [RuleSet] {
    static SETS: OnceLock<Vec<RuleSet>> = OnceLock::new();
    SETS.get_or_init(|| {
        vec![
            load(
                &[
                    (
                        "portals.herald",
                        include_str!("../../examples/monprofil/rules/portals.herald"),
                    ),
                    (
                        "schema.herald",
                        include_str!("../../examples/monprofil/rules/schema.herald"),
                    ),
                ],
                include_str!("../../examples/monprofil/schema/contacts.fields.json"),
            ),
            load(
                &[(
                    "portals.herald",
                    include_str!("../../tests/fixtures/route/reasons/portals.herald"),
                )],
                "",
            ),
            load(
                &[(
                    "portals.herald",
                    include_str!("../../tests/fixtures/route/dynamic/portals.herald"),
                )],
                "",
            ),
        ]
    })
}

fn now() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + chrono::Duration::seconds(1_767_614_400)
}

/// Splits like the binary: at `\n`, capped lines marked by their full length.
fn lines(data: &[u8]) -> Vec<(&[u8], usize)> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        out.push((line, line.len()));
        rest = next;
    }
    out
}

/// The library's serde_json path for a line, when serde_json reads it as an event object with
/// no duplicate keys at the top level or in the record (the two paths may differ on duplicate
/// keys, which JSON leaves undefined).
fn library_event(bytes: &[u8]) -> Option<Event> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let ev: Event = serde_json::from_value(v).ok()?;
    Some(ev)
}

fn same_decisions(a: &[Decision], b: &[Decision]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.portal == y.portal
                && x.record_id == y.record_id
                && x.outcome == y.outcome
                && x.language == y.language
                && x.reason == y.reason
                && x.email == y.email
                && x.record_name == y.record_name
        })
}

fn run(data: &[u8]) {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let sets = rule_sets();
    let set = &sets[usize::from(pick) % sets.len()];
    let engine = match Engine::new(set.clone(), Box::new(MemoryStore::new())) {
        Ok(e) => e.with_clock(Box::new(FixedClock(now()))),
        Err(e) => panic!("engine: {e}"),
    };
    let mut batch: Vec<(EventKind, CompactRecord)> = Vec::new();
    let mut returned: Vec<Decision> = Vec::new();
    let mut flush = |batch: &mut Vec<(EventKind, CompactRecord)>| {
        if batch.is_empty() {
            return;
        }
        let results = match engine.route_parsed(set, batch) {
            Ok(r) => r,
            Err(e) => panic!("a memory store cannot fail: {e}"),
        };
        for ds in results.into_iter().flatten() {
            returned.extend(ds);
        }
        batch.clear();
    };
    for (i, (line, len)) in lines(data).into_iter().enumerate() {
        if len > MAX_LINE {
            continue;
        }
        let mut bytes = line;
        if i == 0 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = herald::route::parse_event_line(bytes, &set.compiled.projection);
        if let (Ok((kind, record)), Some(ev)) = (&parsed, library_event(bytes)) {
            assert_eq!(
                *kind,
                ev.kind,
                "event kind of {}",
                String::from_utf8_lossy(bytes)
            );
            let compact = herald::route::decide_with(set, *kind, record, now());
            let library = herald::route::decide(set, &ev, now());
            match (&compact, &library) {
                (Ok(a), Ok(b)) => assert!(
                    same_decisions(a, b),
                    "compact and serde_json paths differ on {}:\n{a:?}\n{b:?}",
                    String::from_utf8_lossy(bytes)
                ),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                _ => panic!(
                    "compact and serde_json paths differ on {}:\n{compact:?}\n{library:?}",
                    String::from_utf8_lossy(bytes)
                ),
            }
        }
        if let Ok(ev) = parsed {
            batch.push(ev);
            if batch.len() >= BATCH {
                flush(&mut batch);
            }
        }
    }
    flush(&mut batch);
    // The log holds exactly the invitations and failures returned, and nobody twice.
    let invitations = match engine.invitations(&InvitationQuery::default()) {
        Ok(i) => i,
        Err(e) => panic!("{e}"),
    };
    let failures = match engine.failures(&FailureQuery::default()) {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    };
    let invited: Vec<(&str, &str)> = returned
        .iter()
        .filter(|d| d.outcome == Outcome::Invited)
        .map(|d| (d.portal.as_str(), d.record_id.as_str()))
        .collect();
    let unique: HashSet<&(&str, &str)> = invited.iter().collect();
    assert_eq!(
        unique.len(),
        invited.len(),
        "someone was invited twice: {invited:?}"
    );
    assert_eq!(
        invitations.len(),
        invited.len(),
        "invitations returned vs logged"
    );
    for inv in &invitations {
        assert!(
            unique.contains(&(inv.portal.as_str(), inv.record_id.as_str())),
            "logged but not returned: {inv:?}"
        );
    }
    let n_failed = returned
        .iter()
        .filter(|d| d.outcome == Outcome::Failed)
        .count();
    assert_eq!(failures.len(), n_failed, "failures returned vs logged");
}

fuzz_target!(|data: &[u8]| run(data));
