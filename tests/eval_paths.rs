//! The fast paths of the compiled evaluator against their plain definitions: string constants
//! compared through an 8-byte key (`compile::StrConst`, `compile::StrSet`), compact strings
//! stored inline up to 16 bytes (`record::CompactStr`), and compact records holding strings on
//! both sides of that boundary, evaluated like the same record as a serde_json value.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::compile::{StrConst, StrSet, word};
use herald::condition::Condition;
use herald::record::{CVal, CompactRecord, CompactStr, INLINE_STR_BYTES, JsonRecord};
use proptest::prelude::*;

/// Short strings over a small alphabet (so that equal strings are frequent), with multi-byte
/// characters.
fn short() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!['a', 'b', 'é', '\u{10348}', 'Z']),
        0..12,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

#[test]
fn str_const_edges() {
    for (a, b) in [
        ("", ""),
        ("", "a"),
        ("FR", "FR"),
        ("FR", "RF"),
        ("FRA", "FRB"),
        ("FRA", "FBA"),
        ("ABCD", "ABCD"),
        ("ABCDE", "ABCDF"),
        ("ABCDEFGH", "ABCDEFGH"),
        ("ABCDEFGH", "ABCDXFGH"),
        ("ABCDEFGHI", "ABCDEFGHI"),
        ("ABCDEFGHI", "ABCDEFGHJ"),
        ("é", "é"),
        ("é", "e\u{301}"),
    ] {
        assert_eq!(StrConst::new(a).is(b), a == b, "{a:?} vs {b:?}");
        assert_eq!(StrConst::new(b).is(a), a == b, "{b:?} vs {a:?}");
    }
}

#[test]
fn compact_str_boundary() {
    for s in [
        "",
        "FR",
        "0123456789abcdef",
        "0123456789abcdefg",
        "éééééééé",
        "ééééééééé",
    ] {
        let c = CompactStr::new(s);
        assert_eq!(c.as_str(), s);
        assert_eq!(c.is_inline(), s.len() <= INLINE_STR_BYTES, "{s:?}");
        assert_eq!(CompactStr::from(s.to_string()), c);
        assert_eq!(&*c, s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn str_const_is_equality(a in short(), b in short()) {
        prop_assert_eq!(StrConst::new(&a).is(&b), a == b);
        prop_assert!(StrConst::new(&a).is(&a));
    }

    #[test]
    fn str_set_is_membership(items in prop::collection::btree_set(short(), 0..80), x in short()) {
        let items: Vec<String> = items.into_iter().collect();
        let set = StrSet::new(&items);
        prop_assert_eq!(set.contains(&x), items.contains(&x));
        for i in &items {
            prop_assert!(set.contains(i));
        }
    }

    /// Sets of 9 to 80 short strings, hashed, and their word sets (perfect-hashed past 8
    /// words): both are membership.
    #[test]
    fn short_str_set_and_its_words_are_membership(
        items in prop::collection::btree_set("[a-cé]{0,4}", 9..80),
        x in "[a-cé]{0,5}",
    ) {
        let items: Vec<String> = items.into_iter().collect();
        let set = StrSet::new(&items);
        prop_assert_eq!(set.contains(&x), items.contains(&x));
        for i in &items {
            prop_assert!(set.contains(i));
        }
        // Words exist when every string is at most 7 bytes ("éééé" is 8).
        let short = items.iter().all(|i| i.len() <= 7);
        let words = set.words();
        prop_assert_eq!(words.is_some(), short);
        if let Some(words) = words {
            prop_assert_eq!(words.contains(word(x.as_bytes())), items.contains(&x));
            for i in &items {
                prop_assert!(words.contains(word(i.as_bytes())));
            }
        }
    }

    #[test]
    fn compact_str_round_trip(s in ".{0,24}") {
        let c = CompactStr::new(&s);
        prop_assert_eq!(c.as_str(), s.as_str());
        prop_assert_eq!(c.is_inline(), s.len() <= INLINE_STR_BYTES);
        prop_assert_eq!(CompactStr::from(s.clone()), c);
    }

    /// Compact records (built from a value and parsed from bytes) with strings on both sides of
    /// the inline boundary evaluate like the serde_json record.
    #[test]
    fn compact_records_agree(
        a in "[a-zé\u{10348}0-9 ]{0,20}",
        b in short(),
        tags in prop::collection::vec("[a-zé\u{10348}0-9 ]{0,20}", 0..4),
        k in short(),
    ) {
        let rec = serde_json::json!({ "a": a, "b": b, "tags": tags });
        let now = chrono::Utc::now();
        let conds = [
            format!("a == {}", serde_json::to_string(&k).unwrap()),
            format!("a != {} or b == {}", serde_json::to_string(&b).unwrap(), serde_json::to_string(&k).unwrap()),
            format!("b in [{}, \"ab\", \"é\", \"aaaaaaaaa\"]", serde_json::to_string(&k).unwrap()),
            format!("tags contains {}", serde_json::to_string(&k).unwrap()),
            format!("a starts with {} and len(a) > 3", serde_json::to_string(&k).unwrap()),
            format!("a == {}", serde_json::to_string(&a).unwrap()),
        ];
        for src in &conds {
            let cond = Condition::compile(src, None).unwrap();
            let expected = cond.eval_record(&JsonRecord(&rec), now);
            let from_json = CompactRecord::from_json(&rec, cond.fields());
            prop_assert_eq!(cond.eval_record(&from_json, now), expected, "from_json: {}", src);
            let parsed = cond.parse_record(&serde_json::to_vec(&rec).unwrap()).unwrap();
            prop_assert_eq!(cond.eval_record(&parsed, now), expected, "parsed: {}", src);
            prop_assert_eq!(&parsed, &from_json);
        }
        let cond = Condition::compile("a == \"x\"", None).unwrap();
        let parsed = cond.parse_record(&serde_json::to_vec(&rec).unwrap()).unwrap();
        match parsed.get(0) {
            CVal::Str(s) => {
                prop_assert_eq!(s.as_str(), a.as_str());
                prop_assert_eq!(s.is_inline(), a.len() <= INLINE_STR_BYTES);
            }
            other => prop_assert!(false, "expected a string, got {:?}", other),
        }
    }
}
