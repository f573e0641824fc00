//! Fuzz target: arbitrary bytes as rule files, through decoding, parsing, checking and rendering.
//!
//! The input is split into up to four files at each `\n%%%%\n`; a `schema X from "..."` line
//! gets the last part as its JSON field metadata. When the rule set checks, each of its `test`
//! records is routed and explained too. Nothing may panic, overflow the stack or hang.

#![no_main]

use chrono::{DateTime, Utc};
use herald::diagnostics::render;
use herald::route::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
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
    // Every renderer must cope with every span the checker produced.
    let _ = render::human(&loaded.diagnostics, &loaded.sources, false);
    let _ = render::human(&loaded.diagnostics, &loaded.sources, true);
    let _ = render::github(&loaded.diagnostics, &loaded.sources);
    let _ = render::json(&loaded.diagnostics, &loaded.sources);
    let _ = herald::diagnostics::summary(&loaded.diagnostics, loaded.n_files);
    let Some(set) = loaded.rule_set else { return };
    if loaded.diagnostics.iter().any(|d| d.is_error()) {
        panic!(
            "a rule set was produced despite errors: {:?}",
            loaded.diagnostics
        );
    }
    let now: DateTime<Utc> = DateTime::UNIX_EPOCH + chrono::Duration::days(20_458);
    for test in &set.tests {
        let event = Event {
            kind: test.event,
            record: test.record.clone(),
        };
        let at = test.now.unwrap_or(now);
        let _ = herald::route::decide(&set, &event, at);
        let explained = herald::explain::explain_event(&set, &event, at);
        let _ = herald::explain::render(&explained);
    }
}

/// Splits at every `\n%%%%\n`, keeping at most four parts.
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
