//! `herald explain`: per portal, the decision for one record and the value of every
//! sub-condition.

use herald::event::EventKind;
use herald::route::Event;
use std::io::Read;
use std::path::Path;

/// Runs `herald explain`; returns the exit code.
pub fn run(rules: &Path, event: &str, now: Option<&str>, record: &Path) -> u8 {
    let Some(kind) = EventKind::parse(event) else {
        eprintln!("error: --event `{event}` is not an event kind; write create or update");
        return 2;
    };
    let clock = match crate::clock(now) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let text = if record == Path::new("-") {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            eprintln!("error: cannot read the record from standard input: {e}");
            return 2;
        }
        s
    } else {
        match std::fs::read_to_string(record) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", record.display());
                return 2;
            }
        }
    };
    let value: serde_json::Value = match serde_json::from_str(text.trim_start_matches('\u{feff}')) {
        Ok(serde_json::Value::Object(o)) => serde_json::Value::Object(o),
        Ok(_) => {
            eprintln!(
                "error: `{}` must hold one JSON object (the record)",
                record.display()
            );
            return 1;
        }
        Err(e) => {
            eprintln!("error: `{}` is not valid JSON: {e}", record.display());
            return 1;
        }
    };
    let set = match crate::load_rules(rules) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let event = Event {
        kind,
        record: value,
    };
    let explanations = herald::explain::explain_event(&set, &event, clock.now());
    crate::cli::out(&herald::explain::render(&explanations));
    0
}
