//! The official JsonLogic test suite (tests/conformance/jsonlogic/tests.json, MIT, see SOURCE.md
//! and LICENSE there) against `herald import jsonlogic`: every case is either refused with a
//! clear error, or the imported Herald condition, evaluated on the case's data, gives the case's
//! expected result (`true` matches; `false` does not match). A rule whose expected result is not
//! a boolean can only be refused: Herald conditions are booleans.
//!
//! The suite also checks the test-side JsonLogic evaluator (tests/support/jsonlogic_js.rs) that
//! the import and export property tests use as their oracle: it must reproduce every case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/jsonlogic_js.rs"]
mod jsjs;

use herald::condition::Condition;
use herald::interop::jsonlogic;
use herald::value::{FixedClock, Truth};
use std::collections::BTreeMap;

fn cases() -> Vec<(serde_json::Value, serde_json::Value, serde_json::Value)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance/jsonlogic/tests.json");
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all.into_iter()
        .filter_map(|c| match c {
            serde_json::Value::Array(mut v) if v.len() == 3 => {
                let expected = v.pop().unwrap();
                let data = v.pop().unwrap();
                let rule = v.pop().unwrap();
                Some((rule, data, expected))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_oracle_reproduces_the_official_suite() {
    let cases = cases();
    assert_eq!(cases.len(), 277, "the suite has 277 cases");
    let mut wrong = Vec::new();
    for (rule, data, expected) in &cases {
        match jsjs::apply(rule, &jsjs::V::from_json(data)) {
            Ok(v) if v.equals_json(expected) => {}
            other => wrong.push(format!("{rule} on {data}: got {other:?}, want {expected}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cases differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_case_is_refused_or_agrees() {
    let clock = FixedClock(chrono::DateTime::UNIX_EPOCH);
    let (mut agreed, mut refused, mut disagreed) = (0, 0, 0);
    let mut constructs: BTreeMap<String, usize> = BTreeMap::new();
    let mut disagreements = Vec::new();
    // HERALD_VERBOSE=1 prints every case's outcome.
    let verbose = std::env::var_os("HERALD_VERBOSE").is_some();
    for (rule, data, expected) in cases() {
        let source = match jsonlogic::import(&rule, None) {
            Err(e) => {
                if verbose {
                    println!("refused  {rule}: {e}");
                }
                assert!(
                    !e.message.is_empty() && !e.construct.is_empty(),
                    "refusals name the construct: {rule}"
                );
                refused += 1;
                *constructs.entry(e.construct.clone()).or_default() += 1;
                continue;
            }
            Ok(s) => s,
        };
        let cond = Condition::compile(&source, None)
            .unwrap_or_else(|e| panic!("`{source}` (from {rule}) does not compile: {e}"));
        let truth = cond.eval(&data, &clock);
        let ok = match expected {
            serde_json::Value::Bool(true) => truth == Truth::True,
            serde_json::Value::Bool(false) => truth != Truth::True,
            // A non-boolean result cannot be a condition: the import must have refused it.
            _ => false,
        };
        if verbose {
            println!("imported {rule} -> `{source}` on {data}: {truth} (expected {expected})");
        }
        if ok {
            agreed += 1;
        } else {
            disagreed += 1;
            disagreements.push(format!(
                "{rule} on {data}: expected {expected}, `{source}` is {truth}"
            ));
        }
    }
    println!("JsonLogic conformance: {agreed} agreed, {refused} refused, {disagreed} disagreed");
    println!("refused constructs:");
    for (c, n) in &constructs {
        println!("  {n:4}  {c}");
    }
    assert_eq!(agreed + refused + disagreed, 277);
    assert_eq!(disagreed, 0, "disagreements:\n{}", disagreements.join("\n"));
}
