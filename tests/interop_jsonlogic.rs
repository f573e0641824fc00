//! JsonLogic import and export against an independent JsonLogic evaluator (the json-logic-js
//! semantics of tests/support/jsonlogic_js.rs, itself checked against the official suite):
//!
//! * import: for generated rules (loose and strict comparisons against tricky JavaScript values,
//!   `in`, `!`, `!!`, `and`, `or`, `if`, `missing`, ...), whenever the import succeeds, the Herald
//!   condition is true exactly on the records where the rule returns `true` — with a schema (on
//!   records that follow it) and without (on any JSON values);
//! * export: for generated Herald conditions, the exported rule returns a boolean, `true` exactly
//!   when the condition is true; and importing it back gives a condition that matches the same
//!   records (round trip).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/jsonlogic_js.rs"]
mod jsjs;

use herald::condition::Condition;
use herald::interop::jsonlogic;
use herald::schema::{Field, FieldType, Schema};
use herald::value::{FixedClock, Truth};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value as J, json};

fn clock() -> FixedClock {
    FixedClock(chrono::DateTime::UNIX_EPOCH)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const COUNTRIES: &[&str] = &[
    "FR",
    "BE",
    "DE",
    "fr",
    "",
    "0",
    "18",
    "a,b",
    "😀",
    "\u{E000}",
    "2026-01-31",
];
const TAGS: &[&str] = &["vip", "beta", "", "a,b"];

fn schema() -> Schema {
    let f = |name: &str, ty: FieldType| Field {
        name: name.to_string(),
        ty,
    };
    Schema::new(
        "Contacts",
        vec![
            f("name", FieldType::Text),
            f("country", FieldType::Picklist(strings(COUNTRIES))),
            f("age", FieldType::Integer),
            f("score", FieldType::Decimal),
            f("vip", FieldType::Boolean),
            f("signup", FieldType::Date),
            f("created", FieldType::DateTime),
            f("tags", FieldType::Multiselect(strings(TAGS))),
            f("addr", FieldType::Object(vec![f("city", FieldType::Text)])),
        ],
    )
}

/// The oracle's answer: `Some(true)` / `Some(false)`, `None` for null; an error for anything
/// else (a non-boolean result, or a case the oracle cannot model).
fn oracle(rule: &J, record: &J) -> Result<Option<bool>, String> {
    match jsjs::apply(rule, &jsjs::V::from_json(record))? {
        jsjs::V::Bool(b) => Ok(Some(b)),
        jsjs::V::Null => Ok(None),
        other => Err(format!("non-boolean result {other:?}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Generators: records
// ---------------------------------------------------------------------------------------------

fn text_values() -> BoxedStrategy<J> {
    prop::sample::select(vec![
        "",
        "FR",
        "fr",
        "BE",
        "0",
        "18",
        " 18 ",
        "abc",
        "a,b",
        "😀",
        "\u{E000}",
        "2026-01-31",
        "null",
    ])
    .prop_map(|s| json!(s))
    .boxed()
}

/// A value that follows the schema's type for the field (or is absent / null).
fn conforming(name: &'static str) -> BoxedStrategy<Option<J>> {
    let typed: BoxedStrategy<J> = match name {
        "name" => text_values(),
        "country" => prop::sample::select(COUNTRIES)
            .prop_map(|s| json!(s))
            .boxed(),
        "age" => prop::sample::select(vec![
            json!(0),
            json!(1),
            json!(-1),
            json!(18),
            json!(17),
            json!(19),
            json!(42),
            json!(10),
        ])
        .boxed(),
        "score" => prop::sample::select(vec![
            json!(0.0),
            json!(18.5),
            json!(-1.5),
            json!(18),
            json!(1e21),
            json!(0.1),
        ])
        .boxed(),
        "vip" => prop::sample::select(vec![json!(true), json!(false)]).boxed(),
        "signup" => {
            prop::sample::select(vec!["2026-01-31", "2026-01-30", "2025-12-31", "2026-02-01"])
                .prop_map(|s| json!(s))
                .boxed()
        }
        "created" => {
            prop::sample::select(vec!["2026-01-31T09:30:00Z", "2026-01-31T11:30:00+02:00"])
                .prop_map(|s| json!(s))
                .boxed()
        }
        "tags" => prop::collection::vec(prop::sample::select(TAGS), 0..3)
            .prop_map(|v| json!(v))
            .boxed(),
        _ => prop::option::of(text_values())
            .prop_map(|c| match c {
                Some(c) => json!({ "city": c }),
                None => json!({}),
            })
            .boxed(),
    };
    prop_oneof![5 => typed.prop_map(Some), 1 => Just(None), 1 => Just(Some(J::Null))].boxed()
}

/// Any JSON value (no schema): numbers, numeric strings, arrays, objects, ...
fn anything() -> BoxedStrategy<Option<J>> {
    let leaf = prop_oneof![
        text_values(),
        prop::sample::select(vec![
            json!(0),
            json!(1),
            json!(18),
            json!(-0.0),
            json!(18.5),
            json!(true),
            json!(false),
            json!(null)
        ]),
    ];
    let v = leaf.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(J::Array),
            inner.prop_map(|c| json!({ "city": c })),
            Just(json!({})),
        ]
    });
    prop_oneof![6 => v.prop_map(Some), 1 => Just(None)].boxed()
}

const FIELDS: &[&str] = &[
    "name", "country", "age", "score", "vip", "signup", "created", "tags", "addr",
];

fn record(schema_mode: bool) -> impl Strategy<Value = J> {
    let fields: Vec<BoxedStrategy<Option<J>>> = FIELDS
        .iter()
        .map(|f| {
            if schema_mode {
                conforming(f)
            } else {
                anything()
            }
        })
        .collect();
    fields.prop_map(|values| {
        let mut obj = serde_json::Map::new();
        for (name, v) in FIELDS.iter().zip(values) {
            if let Some(v) = v {
                obj.insert(name.to_string(), v);
            }
        }
        J::Object(obj)
    })
}

fn records(schema_mode: bool) -> impl Strategy<Value = Vec<J>> {
    prop::collection::vec(record(schema_mode), 1..16)
}

// ---------------------------------------------------------------------------------------------
// Generators: JsonLogic rules
// ---------------------------------------------------------------------------------------------

fn constant() -> BoxedStrategy<J> {
    prop::sample::select(vec![
        json!(""),
        json!("FR"),
        json!("fr"),
        json!("0"),
        json!("1"),
        json!("18"),
        json!(" 18 "),
        json!("1e1"),
        json!("0x12"),
        json!("abc"),
        json!("a,b"),
        json!("2026-01-31"),
        json!("2026-1-31"),
        json!("\u{E000}"),
        json!("😀"),
        json!("vip"),
        json!(0),
        json!(1),
        json!(-1),
        json!(18),
        json!(18.5),
        json!(1e21),
        json!(null),
        json!(true),
        json!(false),
        json!([]),
        json!(["FR"]),
        json!(["FR", "BE"]),
        json!([1, "1", 18]),
        json!([null, "FR"]),
        json!(["vip", "beta"]),
        json!({}),
    ])
    .boxed()
}

fn var() -> BoxedStrategy<J> {
    prop_oneof![
        8 => prop::sample::select(vec!["name", "country", "age", "score", "vip", "signup", "created", "tags", "addr.city", "addr"]).prop_map(|f| json!({ "var": f })),
        1 => prop::sample::select(vec![json!({"var": ["age"]}), json!({"var": ["age", null]}), json!({"var": ["age", 1]}), json!({"var": "nope"}), json!({"var": ""}), json!({"var": "name.length"}), json!({"var": "toString"})]),
    ]
    .boxed()
}

fn operand() -> BoxedStrategy<J> {
    prop_oneof![3 => var(), 2 => constant()].boxed()
}

/// Constants drawn from the values a field's records take (and their JavaScript look-alikes), so
/// that comparisons hit equality and the boundaries.
fn field_and_constant() -> BoxedStrategy<(J, J)> {
    let text = vec![
        json!(""),
        json!("FR"),
        json!("fr"),
        json!("18"),
        json!("0"),
        json!("a,b"),
        json!("abc"),
        json!("😀"),
        json!("\u{E000}"),
        json!(["FR"]),
        json!([]),
        json!(null),
    ];
    let pools: Vec<(&str, Vec<J>)> = vec![
        ("name", text.clone()),
        ("addr.city", text.clone()),
        ("country", text),
        (
            "age",
            vec![
                json!(0),
                json!(1),
                json!(-1),
                json!(18),
                json!("18"),
                json!(" 18 "),
                json!("0x12"),
                json!("1e1"),
                json!(17),
                json!(10),
                json!(null),
                json!(""),
            ],
        ),
        (
            "score",
            vec![
                json!(0),
                json!(18.5),
                json!(-1.5),
                json!("18.5"),
                json!(18),
                json!(0.1),
                json!(null),
            ],
        ),
        (
            "vip",
            vec![
                json!(true),
                json!(false),
                json!(null),
                json!(1),
                json!("true"),
            ],
        ),
        (
            "signup",
            vec![
                json!("2026-01-31"),
                json!("2025-12-31"),
                json!("2026-1-31"),
                json!(null),
            ],
        ),
        (
            "tags",
            vec![
                json!("vip"),
                json!("beta"),
                json!(""),
                json!(["vip"]),
                json!(null),
            ],
        ),
    ];
    prop::sample::select(pools)
        .prop_flat_map(|(f, pool)| (Just(json!({ "var": f })), prop::sample::select(pool)))
        .boxed()
}

fn leaf_rule() -> BoxedStrategy<J> {
    let cmp = || prop::sample::select(vec!["==", "===", "!=", "!==", "<", "<=", ">", ">="]);
    prop_oneof![
        6 => (cmp(), field_and_constant(), any::<bool>()).prop_map(|(op, (f, c), swap)| if swap { json!({ op: [c, f] }) } else { json!({ op: [f, c] }) }),
        2 => (field_and_constant(), any::<bool>()).prop_map(|((f, c), swap)| if swap { json!({ "in": [c, f] }) } else { json!({ "in": [f, [c, "FR", 18]] }) }),
        2 => (cmp(), operand(), operand()).prop_map(|(op, a, b)| json!({ op: [a, b] })),
        1 => (prop::sample::select(vec!["<", "<="]), constant(), var(), constant()).prop_map(|(op, a, b, c)| json!({ op: [a, b, c] })),
        2 => (var(), constant()).prop_map(|(a, b)| json!({ "in": [a, b] })),
        2 => (constant(), var()).prop_map(|(a, b)| json!({ "in": [a, b] })),
        2 => (prop::sample::select(vec!["!", "!!"]), operand()).prop_map(|(op, a)| json!({ op: [a] })),
        1 => prop::collection::vec(prop::sample::select(vec!["name", "age", "vip", "tags", "signup", "addr.city"]), 0..3).prop_map(|k| json!({ "!": { "missing": k } })),
        1 => (0i32..4, prop::collection::vec(prop::sample::select(vec!["name", "age", "vip", "tags"]), 0..4)).prop_map(|(n, k)| json!({ "!!": { "missing_some": [n, k] } })),
        1 => (prop::sample::select(vec!["startsWith", "endsWith"]), operand(), constant()).prop_map(|(op, a, b)| json!({ op: [a, b] })),
        1 => operand(),
    ]
    .boxed()
}

fn rule() -> impl Strategy<Value = J> {
    leaf_rule().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            2 => (prop::sample::select(vec!["and", "or"]), prop::collection::vec(inner.clone(), 1..4)).prop_map(|(op, v)| json!({ op: v })),
            1 => inner.clone().prop_map(|r| json!({ "!": r })),
            1 => (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, a, b)| json!({ "if": [c, a, b] })),
            1 => (inner.clone(), inner.clone()).prop_map(|(c, a)| json!({ "if": [c, a] })),
            1 => (inner.clone(), prop::sample::select(vec![json!(true), json!(false)])).prop_map(|(c, b)| json!({ "==": [c, b] })),
        ]
    })
}

/// Imports `rule`; when it is accepted, every record must agree with the oracle.
fn check_import(rule: &J, recs: &[J], schema: Option<&Schema>) -> Result<bool, String> {
    let Ok(source) = jsonlogic::import(rule, schema) else {
        return Ok(false);
    };
    let cond = Condition::compile(&source, schema)
        .map_err(|e| format!("`{source}` does not compile: {e}"))?;
    for r in recs {
        let want = match oracle(rule, r) {
            Ok(v) => v,
            // The oracle cannot model this record (a prototype member): skip it.
            Err(e) if !e.starts_with("non-boolean") => continue,
            Err(e) => {
                return Err(format!(
                    "{rule} was imported as `{source}` but returns a {e} on {r}"
                ));
            }
        };
        let got = cond.eval(r, &clock());
        if (want == Some(true)) != (got == Truth::True) {
            return Err(format!(
                "rule {rule}\nimported as `{source}`\nrecord {r}\njsonlogic: {want:?}, herald: {got}"
            ));
        }
    }
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn imported_rules_agree_with_jsonlogic_with_a_schema(rule in rule(), recs in records(true)) {
        let schema = schema();
        if let Err(e) = check_import(&rule, &recs, Some(&schema)) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn imported_rules_agree_with_jsonlogic_without_a_schema(rule in rule(), recs in records(false)) {
        if let Err(e) = check_import(&rule, &recs, None) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Enough generated rules are accepted for the property to mean something.
#[test]
fn the_rule_generator_exercises_the_import() {
    let schema = schema();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut with, mut without, n) = (0, 0, 2000);
    for _ in 0..n {
        let r = rule().new_tree(&mut runner).unwrap().current();
        with += usize::from(jsonlogic::import(&r, Some(&schema)).is_ok());
        without += usize::from(jsonlogic::import(&r, None).is_ok());
    }
    println!("accepted with a schema: {with}/{n}, without: {without}/{n}");
    assert!(
        with > n / 5 && without > n / 10,
        "with {with}, without {without}"
    );
}

// ---------------------------------------------------------------------------------------------
// Export and round trip
// ---------------------------------------------------------------------------------------------

fn pick(items: &'static [&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(items).prop_map(str::to_string).boxed()
}

fn herald_leaf() -> BoxedStrategy<String> {
    let ops = || pick(&["==", "!=", "<", "<=", ">", ">="]);
    prop_oneof![
        2 => (pick(&["name", "country"]), pick(&["==", "!="]), pick(&["\"FR\"", "\"\"", "\"a,b\"", "\"😀\"", "\"\\u{E000}\"", "\"0\""])).prop_map(|(f, o, v)| format!("{f} {o} {v}")),
        2 => (pick(&["name", "country"]), pick(&["<", "<=", ">", ">="]), pick(&["\"FR\"", "\"\"", "\"a,b\"", "\"0\"", "\"fr\""])).prop_map(|(f, o, v)| format!("{f} {o} {v}")),
        3 => (pick(&["age", "score"]), ops(), pick(&["0", "18", "-1", "18.5", "0.1"])).prop_map(|(f, o, v)| format!("{f} {o} {v}")),
        1 => (pick(&["age", "score"]), ops(), pick(&["age", "score"])).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        2 => (pick(&["signup"]), ops(), pick(&["@2026-01-31", "@2025-12-31"])).prop_map(|(f, o, v)| format!("{f} {o} {v}")),
        2 => pick(&["vip", "vip == true", "vip != false", "(vip ?? false)", "not (vip ?? true)"]),
        2 => (pick(&["name", "country"]), pick(&["in", "not in"]), pick(&["[\"FR\", \"BE\"]", "[]", "[\"\"]"])).prop_map(|(f, o, l)| format!("{f} {o} {l}")),
        1 => (pick(&["age"]), pick(&["in", "not in"]), pick(&["[18, 19]", "[0]", "[18.5]"])).prop_map(|(f, o, l)| format!("{f} {o} {l}")),
        2 => (pick(&["tags"]), pick(&["contains \"vip\"", "contains \"\"", "contains any [\"vip\", \"beta\"]", "contains all [\"vip\", \"beta\"]", "contains any []", "contains all []"])).prop_map(|(f, t)| format!("{f} {t}")),
        1 => pick(&["\"vip\" in tags", "\"beta\" not in tags", "[\"FR\", \"BE\"] contains country"]),
        2 => (pick(&["name", "addr.city"]), pick(&["contains", "starts with", "ends with"]), pick(&["\"FR\"", "\"\"", "\"a\"", "\"😀\""])).prop_map(|(f, o, v)| format!("{f} {o} {v}")),
        2 => (pick(&["name", "age", "vip", "tags", "signup", "created", "addr", "addr.city"]), pick(&["is null", "is not null", "is empty", "is not empty"])).prop_map(|(f, t)| format!("{f} {t}")),
        1 => pick(&["(name ?? \"FR\") == \"FR\"", "(age ?? score ?? 0) > 1", "(name ?? country) != \"fr\""]),
    ]
    .boxed()
}

fn herald_condition() -> impl Strategy<Value = String> {
    herald_leaf().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            2 => inner.clone().prop_map(|c| format!("not ({c})")),
            2 => prop::collection::vec(inner.clone(), 2..4).prop_map(|v| format!("({})", v.join(") and ("))),
            2 => prop::collection::vec(inner.clone(), 2..4).prop_map(|v| format!("({})", v.join(") or ("))),
            1 => (inner.clone(), pick(&["true", "false"])).prop_map(|(c, d)| format!("({c}) ?? {d}")),
            1 => (inner, pick(&["is null", "is not null"])).prop_map(|(c, t)| format!("({c}) {t}")),
        ]
    })
}

fn check_export(src: &str, recs: &[J]) -> Result<(), String> {
    let schema = schema();
    let cond = Condition::compile(src, Some(&schema)).map_err(|e| format!("`{src}`: {e}"))?;
    let rule = jsonlogic::export_condition(&cond).map_err(|e| format!("`{src}` refused: {e}"))?;
    let back_src = jsonlogic::import(&rule, Some(&schema))
        .map_err(|e| format!("`{src}` exported as {rule} does not import back: {e}"))?;
    let back = Condition::compile(&back_src, Some(&schema)).unwrap();
    for r in recs {
        let herald = cond.eval(r, &clock());
        let jl = jsjs::apply(&rule, &jsjs::V::from_json(r)).map_err(|e| format!("{rule}: {e}"))?;
        let jsjs::V::Bool(jl) = jl else {
            return Err(format!("`{src}` exported as {rule} returns {jl:?} on {r}"));
        };
        if jl != (herald == Truth::True) {
            return Err(format!(
                "condition `{src}`\nexported {rule}\nrecord {r}\nherald: {herald}, jsonlogic: {jl}"
            ));
        }
        let round = back.eval(r, &clock());
        if (round == Truth::True) != (herald == Truth::True) {
            return Err(format!(
                "condition `{src}`\nround trip `{back_src}`\nrecord {r}\nherald: {herald}, round trip: {round}"
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 800, ..ProptestConfig::default() })]

    #[test]
    fn exported_rules_agree_with_herald_and_import_back(src in herald_condition(), recs in records(true)) {
        if let Err(e) = check_export(&src, &recs) {
            prop_assert!(false, "{}", e);
        }
    }
}

#[test]
fn export_examples() {
    let schema = schema();
    let ex = |src: &str| {
        let cond = Condition::compile(src, Some(&schema)).unwrap();
        jsonlogic::export_condition(&cond)
            .map(|j| j.to_string())
            .map_err(|e| e.construct)
    };
    assert_eq!(
        ex("country == \"FR\" and age >= 18").unwrap(),
        r#"{"and":[{"==":[{"var":"country"},"FR"]},{"!=":[{"var":"age"},null]},{">=":[{"var":"age"},18]}]}"#
    );
    assert_eq!(
        ex("not (country == \"FR\")").unwrap(),
        r#"{"and":[{"!=":[{"var":"country"},null]},{"!=":[{"var":"country"},"FR"]}]}"#
    );
    assert_eq!(
        ex("tags contains \"vip\"").unwrap(),
        r#"{"in":["vip",{"var":"tags"}]}"#
    );
    assert_eq!(
        ex("name starts with \"Dr\"").unwrap(),
        r#"{"startsWith":[{"var":"name"},"Dr"]}"#
    );
    for (src, construct) in [
        ("name matches \"a\"", "`matches`"),
        ("signup > today()", "dates and durations"),
        ("lower(name) == \"a\"", "`lower(...)`"),
        ("created > @2026-01-01T00:00:00Z", "a date-time"),
        ("created == created", "`==` on date-times"),
        ("name > \"\\u{E000}\"", "`>` on text"),
        ("age == 9007199254740993", "a large integer"),
    ] {
        assert_eq!(ex(src).unwrap_err(), construct, "{src}");
    }
    // Without a schema, only what does not depend on types.
    let cond = Condition::compile("country == \"FR\"", None).unwrap();
    assert_eq!(
        jsonlogic::export_condition(&cond).unwrap().to_string(),
        r#"{"===":[{"var":"country"},"FR"]}"#
    );
    let cond = Condition::compile("country != \"FR\"", None).unwrap();
    assert!(jsonlogic::export_condition(&cond).is_err());
}

#[test]
fn import_examples() {
    let schema = schema();
    let im = |rule: J, schema: Option<&Schema>| jsonlogic::import(&rule, schema);
    // react-querybuilder's output for a typical query.
    let rqb = json!({"and": [
        {"==": [{"var": "country"}, "FR"]},
        {">=": [{"var": "age"}, "18"]},
        {"in": [{"var": "name"}, ["Ann", "Bob"]]},
        {"!": {"in": ["beta", {"var": "tags"}]}},
        {"startsWith": [{"var": "name"}, "A"]},
        {"<=": [1, {"var": "score"}, 10]},
        {"!=": [{"var": "vip"}, null]},
    ]});
    assert_eq!(
        im(rqb, Some(&schema)).unwrap(),
        "country == \"FR\" and age >= 18 and name in [\"Ann\", \"Bob\"] and (tags is null or not (tags contains \"beta\")) and name starts with \"A\" and score >= 1 and score <= 10 and vip is not null"
    );
    // JavaScript's null < 5: a record without a value is less than 5.
    assert_eq!(
        im(json!({"<": [{"var": "age"}, 5]}), Some(&schema)).unwrap(),
        "age is null or age < 5"
    );
    assert_eq!(
        im(json!({"!=": [{"var": "name"}, "x"]}), Some(&schema)).unwrap(),
        "name is null or name != \"x\""
    );
    // Without a schema: strict equality only.
    assert_eq!(
        im(json!({"===": [{"var": "name"}, "x"]}), None).unwrap(),
        "name == \"x\""
    );
    assert_eq!(
        im(json!({"!==": [{"var": "name"}, "x"]}), None).unwrap(),
        "not ((name == \"x\") ?? false)"
    );
    for (rule, construct) in [
        (json!({"==": [{"var": "name"}, "x"]}), "`==`"),
        (json!({"<": [{"var": "age"}, 5]}), "`<`"),
        (json!({"var": ["age", 1]}), "`var`"),
        (json!({"cat": ["a", "b"]}), "`cat`"),
        (
            json!({"some": [{"var": "tags"}, {"==": [{"var": ""}, "x"]}]}),
            "`some`",
        ),
        (json!({"regex": [{"var": "name"}, "^a"]}), "`regex`"),
        (json!({"var": "name"}), "a non-boolean rule"),
        (json!("FR"), "a non-boolean rule"),
    ] {
        assert_eq!(
            im(rule.clone(), None).unwrap_err().construct,
            construct,
            "{rule}"
        );
    }
    assert_eq!(
        im(
            json!({"==": [{"var": "created"}, "2026-01-31T09:30:00Z"]}),
            Some(&schema)
        )
        .unwrap_err()
        .construct,
        "`==`"
    );
    assert!(
        im(json!({"==": [{"var": "nmae"}, "x"]}), Some(&schema))
            .unwrap_err()
            .help
            .unwrap()
            .contains("`name`")
    );
}

/// Every comparison of a field with a constant (both orders, and negated), on every value the
/// field's records take: the corners (`""` in a text, `null < 5`, UTF-16 order, numeric
/// strings) are all met, with and without a schema.
#[test]
fn every_leaf_agrees_on_every_value() {
    let schema = schema();
    let text = || {
        vec![
            json!(""),
            json!("FR"),
            json!("fr"),
            json!("18"),
            json!(" 18 "),
            json!("0"),
            json!("a,b"),
            json!("abc"),
            json!("😀"),
            json!("\u{E000}"),
            json!("\u{FFFF}"),
            json!("2026-01-31"),
            json!("null"),
        ]
    };
    let fields: Vec<(&str, Vec<J>, Vec<J>)> = vec![
        // (field, values its records take, extra constants)
        (
            "name",
            text(),
            vec![json!(["FR"]), json!([]), json!(18), json!(0)],
        ),
        (
            "age",
            vec![
                json!(0),
                json!(1),
                json!(-1),
                json!(18),
                json!(17),
                json!(19),
            ],
            vec![
                json!("18"),
                json!(" 18 "),
                json!("0x12"),
                json!("1e1"),
                json!(""),
                json!("abc"),
                json!(18.5),
                json!(true),
            ],
        ),
        (
            "score",
            vec![json!(0.0), json!(18.5), json!(-1.5), json!(18)],
            vec![json!("18.5"), json!(0.1)],
        ),
        (
            "vip",
            vec![json!(true), json!(false)],
            vec![json!(1), json!(0), json!("true")],
        ),
        (
            "signup",
            vec![
                json!("2026-01-31"),
                json!("2025-12-31"),
                json!("2026-02-01"),
            ],
            vec![json!("2026-1-31"), json!("2026")],
        ),
        (
            "tags",
            vec![
                json!([]),
                json!(["vip"]),
                json!(["vip", "beta"]),
                json!([""]),
            ],
            vec![json!("vip"), json!(""), json!(["vip"])],
        ),
    ];
    let ops = ["==", "===", "!=", "!==", "<", "<=", ">", ">="];
    let (mut imported, mut checked) = (0, 0);
    for (field, values, extra) in &fields {
        let var = json!({ "var": field });
        let mut constants: Vec<J> = values.clone();
        constants.extend(extra.iter().cloned());
        constants.push(J::Null);
        let mut rules = Vec::new();
        for c in &constants {
            for op in ops {
                rules.push(json!({ op: [var, c] }));
                rules.push(json!({ op: [c, var] }));
            }
            rules.push(json!({ "in": [c, var] }));
            rules.push(json!({ "in": [var, [c]] }));
            rules.push(json!({ "in": [var, [c, "FR"]] }));
            rules.push(json!({ "startsWith": [var, c] }));
            rules.push(json!({ "endsWith": [var, c] }));
        }
        rules.push(json!({ "!!": var }));
        rules.push(json!({ "!": { "missing": [field] } }));
        rules.push(json!({ "==": [var, { "var": field }] }));
        rules.push(json!({ "<=": [var, { "var": field }] }));
        let mut records: Vec<J> = values.iter().map(|v| json!({ *field: v })).collect();
        records.push(json!({}));
        records.push(json!({ *field: null }));
        // Without a schema, the field may hold any of the other fields' values too.
        let mut any_records = records.clone();
        for (_, vs, _) in &fields {
            any_records.extend(vs.iter().map(|v| json!({ *field: v })));
        }
        for rule in rules {
            for negate in [false, true] {
                let rule = if negate {
                    json!({ "!": rule.clone() })
                } else {
                    rule.clone()
                };
                for (schema, recs) in [(Some(&schema), &records), (None, &any_records)] {
                    imported += usize::from(
                        check_import(&rule, recs, schema).unwrap_or_else(|e| panic!("{e}")),
                    );
                    checked += 1;
                }
            }
        }
    }
    println!("leaves: {imported} of {checked} imported and checked");
    assert!(imported > checked / 4);
}
