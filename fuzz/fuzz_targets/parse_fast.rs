//! Fuzz target: the parser's fast path against pest alone.
//!
//! Arbitrary bytes (decoded as `herald check` decodes a file) are parsed as a rule file and as a
//! condition, by `herald::syntax::parse_rule_file` / `parse_condition` (the hand-written fast
//! path, pest where it gives up) and by `herald::syntax::reference` (pest alone). The results,
//! spans and diagnostics included, must be the same; nothing may panic.

#![no_main]

use herald::syntax::{parse_condition, parse_rule_file, reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let (text, _) = herald::load::decode(data);
    let fast = format!("{:?}", parse_rule_file(&text));
    let pest = format!("{:?}", reference::parse_rule_file(&text));
    assert_eq!(fast, pest, "rule file parsed differently: {text:?}");
    let fast = format!("{:?}", parse_condition(&text));
    let pest = format!("{:?}", reference::parse_condition(&text));
    assert_eq!(fast, pest, "condition parsed differently: {text:?}");
}
