//! Fuzz target: arbitrary bytes as one event line, read by `herald route`'s parser
//! (`parse_event_line_into`: the fast path of `src/jsonline.rs`, serde_json when it gives up)
//! and by serde_json alone (`parse_event_line_reference`).
//!
//! The first byte picks the projection: every field kind with nested objects, or the
//! MonProfil example's. Checked: nothing panics, and both give the same event kind and the same
//! record (compared by their `Debug` text, which tells `-0.0` from `0.0`), or the same error;
//! and the same bytes read as a record alone (`CompactRecord::parse_into`, which tries the same
//! fast path first) give what serde_json alone gives.

#![no_main]

use herald::ir::{FieldKind as K, FieldTable};
use herald::record::{CompactRecord, Projection};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn projections() -> &'static [Projection; 2] {
    static P: OnceLock<[Projection; 2]> = OnceLock::new();
    P.get_or_init(|| {
        let mut all = FieldTable::default();
        for (path, kind) in [
            ("a", K::Text),
            ("b", K::Integer),
            ("c", K::Decimal),
            ("d", K::Boolean),
            ("e", K::Date),
            ("f", K::DateTime),
            ("g", K::Multiselect),
            ("h", K::Dynamic),
            ("o", K::Object),
            ("o.a", K::Text),
            ("o.b.h", K::Dynamic),
            ("p.b", K::Integer),
        ] {
            all.intern(None, path.split('.').map(String::from).collect(), kind);
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/monprofil/rules");
        let example = match herald::load::load(&dir).ok().and_then(|l| l.rule_set) {
            Some(set) => herald::route::routing_projection(&set),
            None => panic!("the example rule set does not load"),
        };
        [Projection::of(&all), example]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, line)) = data.split_first() else {
        return;
    };
    let projection = &projections()[usize::from(pick & 1)];
    // The same bytes as a record alone (`CompactRecord::parse_into`, fast path first).
    let read = |reference: bool| {
        let mut record = CompactRecord::default();
        let parsed = if reference {
            record.parse_into_reference(line, projection)
        } else {
            record.parse_into(line, projection)
        };
        parsed.map(|()| format!("{record:?}")).map_err(|e| e.to_string())
    };
    assert_eq!(read(false), read(true), "record: {line:?}");
    let mut record = CompactRecord::default();
    let routed = herald::route::parse_event_line_into(line, projection, &mut record)
        .map(|k| format!("{k:?} {record:?}"));
    let Ok(text) = std::str::from_utf8(line) else {
        assert!(routed.is_err(), "invalid UTF-8 accepted");
        return;
    };
    if routed.as_ref().is_err_and(|e| e.contains("nested deeper")) {
        return;
    }
    let mut reference = CompactRecord::default();
    let expected = herald::route::parse_event_line_reference(text, projection, &mut reference)
        .map(|k| format!("{k:?} {reference:?}"));
    assert_eq!(routed, expected, "line: {text:?}");
});
