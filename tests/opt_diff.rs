//! Differential tests of the optimizer and the compiled evaluator against the reference
//! interpreter: on generated conditions (every operator, nesting, nulls, mixed types) and
//! generated records, the optimized compiled program gives the interpreter's three-valued result
//! on all three record kinds (serde_json, compact records parsed from bytes, host structs), the
//! optimized IR gives it under the interpreter too, and the optimizer is idempotent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::condition::Condition;
use herald::interp::{self, Env};
use herald::opt;
use herald::record::{Getter, HostRecord, JsonRecord, Val, json_dynamic};
use herald::schema::{Field, FieldType, Schema};
use herald::value::{FixedClock, Truth};
use proptest::prelude::*;

const FIELDS: &[&str] = &["a", "s", "n", "d", "l", "b", "o.x"];

fn field() -> impl Strategy<Value = String> {
    prop::sample::select(FIELDS).prop_map(|f| f.to_string())
}

fn constant() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "\"FR\"",
        "\"BE\"",
        "\"\"",
        "\"fr\"",
        "\"vip\"",
        "\"2026-01-01\"",
        // Around the 8-byte inline key of string constants (`compile::StrConst`).
        "\"FRANCE12\"",
        "\"FRANCE123\"",
        "1",
        "2",
        "3.5",
        "-1",
        "0",
        "2.0",
        "true",
        "false",
        "@2026-01-01",
        "@2026-01-01T10:00:00Z",
        "@2025-12-31T23:00:00-02:00",
        "null",
    ])
    .prop_map(str::to_string)
}

fn list() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "[\"FR\", \"BE\"]", "[\"fr\"]", "[1, 2, 3]", "[2.0, 7]", "[@2026-01-01, @2026-02-01]", "[true]",
        "[\"vip\", \"beta\"]", "[]", "[\"FR\", \"BE\", \"CH\", \"LU\", \"MC\", \"DE\", \"AT\", \"ES\", \"IT\", \"PT\", \"GB\", \"IE\"]",
        // Sets past the scanned sizes (`compile::WordSet`, `compile::StrSet`): nine or more
        // words (perfect-hashed), and nine or more strings some of them longer than 8 bytes
        // (hashed), each holding values the records take.
        "[\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"vip\", \"fr\", \"FR\"]",
        "[\"FRANCE12\", \"FRANCE123\", \"0123456789abcdef\", \"x1\", \"x2\", \"x3\", \"x4\", \"x5\", \"x6\", \"BE\"]",
        "[\"ééééééééé\", \"0123456789abcdefg\", \"y1\", \"y2\", \"y3\", \"y4\", \"y5\", \"y6\", \"y7\", \"FRANCE\", 2]",
    ])
    .prop_map(str::to_string)
}

fn leaf() -> impl Strategy<Value = String> {
    let cmp = prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]);
    prop_oneof![
        (field(), cmp.clone(), constant()).prop_map(|(f, o, c)| format!("{f} {o} {c}")),
        (constant(), cmp, field()).prop_map(|(c, o, f)| format!("{c} {o} {f}")),
        (field(), list()).prop_map(|(f, l)| format!("{f} in {l}")),
        (field(), list()).prop_map(|(f, l)| format!("{f} not in {l}")),
        (
            field(),
            prop::sample::select(vec!["is null", "is not null", "is empty", "is not empty"])
        )
            .prop_map(|(f, t)| format!("{f} {t}")),
        (field(), constant()).prop_map(|(f, c)| format!("{f} contains {c}")),
        (field(), list()).prop_map(|(f, l)| format!("{f} contains any {l}")),
        (field(), list()).prop_map(|(f, l)| format!("{f} contains all {l}")),
        (
            field(),
            prop::sample::select(vec!["\"F\"", "\"R\"", "\"\""])
        )
            .prop_map(|(f, c)| format!("{f} starts with {c}")),
        (field(), prop::sample::select(vec!["\"R\"", "\"E\""]))
            .prop_map(|(f, c)| format!("{f} ends with {c}")),
        field().prop_map(|f| format!("{f} matches \"^[A-Z]+$\"")),
        field().prop_map(|f| format!("lower({f}) == \"fr\"")),
        field().prop_map(|f| format!("upper(trim({f})) in [\"FR\", \"BE\"]")),
        field().prop_map(|f| format!("len({f}) >= 2")),
        (field(), constant(), constant()).prop_map(|(f, c, k)| format!("({f} ?? {c}) == {k}")),
        field().prop_map(|f| format!("{f} + 1d > @2026-01-01")),
        field().prop_map(|f| format!("{f} - 12h <= now()")),
        field().prop_map(|f| format!("{f} >= today() - 2w")),
        (field(), field()).prop_map(|(f, g)| format!("{f} == {g}")),
        field(),
        prop::sample::select(vec!["true", "false", "null"]).prop_map(str::to_string),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    leaf().prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("not ({e})")),
            prop::collection::vec(inner.clone(), 2..5)
                .prop_map(|v| format!("({})", v.join(" and "))),
            prop::collection::vec(inner.clone(), 2..5)
                .prop_map(|v| format!("({})", v.join(" or "))),
            (inner.clone(), inner).prop_map(|(a, b)| format!("(({a}) ?? false) or not ({b})")),
        ]
    })
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    prop::sample::select(json_values())
}

/// Every value a generated record's field may hold.
fn json_values() -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        json!(null),
        json!("FR"),
        json!("BE"),
        json!(""),
        json!("fr"),
        json!(" fr "),
        json!("vip"),
        json!("FRANCE"),
        json!("2026-01-01"),
        json!("2026-01-01T10:00:00+02:00"),
        json!("not a date"),
        // Around the 8-byte constant key and the 16-byte inline compact strings
        // (`record::CompactStr`), with multi-byte characters across the boundary.
        json!("FRANCE12"),
        json!("FRANCE123"),
        json!("FRANCE1é"),
        json!("éééééééé"),
        json!("ééééééééé"),
        json!("0123456789abcdef"),
        json!("0123456789abcdefg"),
        json!(["FRANCE12", "éééééééé", "0123456789abcdefg"]),
        json!(1),
        json!(2),
        json!(2.0),
        json!(3.5),
        json!(-1),
        json!(9007199254740993i64),
        json!(18446744073709551615u64),
        json!(true),
        json!(false),
        json!([]),
        json!(["FR", "vip"]),
        json!(["beta"]),
        json!([1, "FR"]),
        json!([null, "fr"]),
        json!({"x": "FR"}),
        json!({"x": 2}),
    ]
}

fn record() -> impl Strategy<Value = serde_json::Value> {
    prop::collection::vec(prop::option::weighted(0.85, json_value()), FIELDS.len()).prop_map(
        |vals| {
            let mut m = serde_json::Map::new();
            for (name, v) in FIELDS.iter().zip(vals) {
                let Some(v) = v else { continue };
                if let Some(inner) = name.strip_prefix("o.") {
                    let mut o = serde_json::Map::new();
                    o.insert(inner.to_string(), v);
                    m.insert("o".into(), serde_json::Value::Object(o));
                } else {
                    m.insert((*name).to_string(), v);
                }
            }
            serde_json::Value::Object(m)
        },
    )
}

/// A host struct exposing the test fields, backed by JSON so every generated record has one.
struct Host(serde_json::Value);

impl HostRecord for Host {
    const FIELDS: &'static [&'static str] = FIELDS;
    fn get(&self, index: usize) -> Val<'_> {
        let Some(name) = FIELDS.get(index) else {
            return Val::Null;
        };
        let v = match name.strip_prefix("o.") {
            Some(inner) => self.0.get("o").and_then(|o| o.get(inner)),
            None => self.0.get(*name),
        };
        v.map_or(Val::Null, json_dynamic)
    }
}

/// A host struct with typed fields and getters ([`herald::host_record!`]), built from a generated
/// record: each field keeps the record's value when it has the field's Rust type.
#[derive(Debug, Default)]
struct Typed {
    a: Option<String>,
    s: Option<String>,
    n: Option<f64>,
    d: Option<String>,
    l: Option<Vec<String>>,
    b: Option<bool>,
    x: Option<i64>,
}

herald::host_record!(Typed {
    "a" => Str(|t| t.a.as_deref()),
    "s" => Str(|t| t.s.as_deref()),
    "n" => Dec(|t| t.n),
    "d" => Str(|t| t.d.as_deref()),
    "l" => Strings(|t| t.l.as_deref()),
    "b" => Bool(|t| t.b),
    "o.x" => Int(|t| t.x),
});

/// The fields of [`Typed`], implemented by hand with getters and no `each` of its own: its
/// batches read the fields through the trait's default `each`, not the macro's.
struct Manual(Typed);

impl HostRecord for Manual {
    const FIELDS: &'static [&'static str] = <Typed as HostRecord>::FIELDS;
    fn get(&self, index: usize) -> Val<'_> {
        Self::getter(index).map_or(Val::Null, |g| g.read(self))
    }
    fn getter(index: usize) -> Option<Getter<Self>> {
        Some(match index {
            0 => Getter::Str(|m| m.0.a.as_deref()),
            1 => Getter::Str(|m| m.0.s.as_deref()),
            2 => Getter::Dec(|m| m.0.n),
            3 => Getter::Str(|m| m.0.d.as_deref()),
            4 => Getter::Strings(|m| m.0.l.as_deref()),
            5 => Getter::Bool(|m| m.0.b),
            6 => Getter::Int(|m| m.0.x),
            _ => return None,
        })
    }
}

impl Typed {
    /// The typed struct of a record, and the record holding exactly what the struct holds.
    fn of(rec: &serde_json::Value) -> (Typed, serde_json::Value) {
        let get = |name: &str| match name.strip_prefix("o.") {
            Some(inner) => rec.get("o").and_then(|o| o.get(inner)),
            None => rec.get(name),
        };
        let text = |name: &str| get(name).and_then(|v| v.as_str()).map(str::to_string);
        let t = Typed {
            a: text("a"),
            s: text("s"),
            n: get("n").and_then(serde_json::Value::as_f64),
            d: text("d"),
            l: get("l").and_then(|v| {
                v.as_array()?
                    .iter()
                    .map(|e| e.as_str().map(str::to_string))
                    .collect()
            }),
            b: get("b").and_then(serde_json::Value::as_bool),
            x: get("o.x").and_then(serde_json::Value::as_i64),
        };
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Option<serde_json::Value>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        put("a", t.a.clone().map(Into::into));
        put("s", t.s.clone().map(Into::into));
        put("n", t.n.map(Into::into));
        put("d", t.d.clone().map(Into::into));
        put("l", t.l.clone().map(Into::into));
        put("b", t.b.map(Into::into));
        put("o", t.x.map(|x| serde_json::json!({ "x": x })));
        (t, serde_json::Value::Object(m))
    }
}

fn schema() -> Schema {
    Schema::new(
        "T",
        vec![
            Field {
                name: "a".into(),
                ty: FieldType::Picklist(vec![
                    "FR".into(),
                    "BE".into(),
                    "fr".into(),
                    "".into(),
                    "vip".into(),
                    "2026-01-01".into(),
                ]),
            },
            Field {
                name: "s".into(),
                ty: FieldType::Text,
            },
            Field {
                name: "n".into(),
                ty: FieldType::Decimal,
            },
            Field {
                name: "d".into(),
                ty: FieldType::DateTime,
            },
            Field {
                name: "l".into(),
                ty: FieldType::Multiselect(vec![
                    "FR".into(),
                    "BE".into(),
                    "vip".into(),
                    "beta".into(),
                    "fr".into(),
                ]),
            },
            Field {
                name: "b".into(),
                ty: FieldType::Boolean,
            },
            Field {
                name: "o".into(),
                ty: FieldType::Object(vec![Field {
                    name: "x".into(),
                    ty: FieldType::Integer,
                }]),
            },
        ],
    )
}

fn check_one(
    src: &str,
    rec: &serde_json::Value,
    schema: Option<&Schema>,
) -> Result<(), TestCaseError> {
    let Ok(cond) = Condition::compile(src, schema) else {
        // Type errors are the checker's business; only compiled conditions are compared.
        return Ok(());
    };
    let now = chrono::DateTime::parse_from_rfc3339("2026-01-05T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = FixedClock(now);
    let expected = cond.eval_reference(rec, &clock);
    // The optimized IR under the interpreter.
    let env = Env {
        record: rec,
        fields: cond.fields(),
        now,
    };
    let opt_ref = interp::truth(cond.optimized(), &env);
    prop_assert_eq!(
        opt_ref,
        expected,
        "optimized IR under the interpreter: {} on {}",
        src,
        rec
    );
    // The compiled program on the three record kinds.
    let json = cond.eval_record(&JsonRecord(rec), now);
    prop_assert_eq!(
        json,
        expected,
        "compiled, serde_json record: {} on {}",
        src,
        rec
    );
    let bytes = serde_json::to_vec(rec).unwrap();
    let compact = cond.parse_record(&bytes).unwrap();
    prop_assert_eq!(
        cond.eval_record(&compact, now),
        expected,
        "compiled, compact record: {} on {}",
        src,
        rec
    );
    let map = cond.host_map::<Host>();
    let host = Host(rec.clone());
    prop_assert_eq!(
        cond.eval_host(&host, &map, now),
        expected,
        "compiled, host struct: {} on {}",
        src,
        rec
    );
    // A host struct read through typed getters, against the record holding what it holds.
    let (typed, same) = Typed::of(rec);
    prop_assert_eq!(
        cond.eval_host(&typed, &cond.host_map::<Typed>(), now),
        cond.eval_reference(&same, &clock),
        "compiled, host struct with getters: {} on {}",
        src,
        same
    );
    // Idempotence.
    let again = opt::optimize(cond.optimized());
    prop_assert_eq!(
        opt::fingerprint(&again),
        opt::fingerprint(cond.optimized()),
        "optimizer not idempotent on {}",
        src
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn compiled_equals_reference_without_schema(src in condition(), recs in prop::collection::vec(record(), 4)) {
        for rec in &recs {
            check_one(&src, rec, None)?;
        }
    }

    #[test]
    fn compiled_equals_reference_with_schema(src in condition(), recs in prop::collection::vec(record(), 4)) {
        let s = schema();
        for rec in &recs {
            check_one(&src, rec, Some(&s))?;
        }
    }
}

/// A record with some of the keys `_0`–`_9` (sorted before the test fields), `m0`–`m9` (among
/// them) and `z0`–`z9` (after them) added, so that the test fields' positions in the map move
/// from record to record.
fn shifted_record() -> impl Strategy<Value = serde_json::Value> {
    (record(), prop::collection::vec(any::<bool>(), 30)).prop_map(|(mut rec, extra)| {
        if let serde_json::Value::Object(m) = &mut rec {
            for (i, add) in extra.into_iter().enumerate() {
                if add {
                    let prefix = ["_", "m", "z"][i / 10];
                    m.insert(format!("{prefix}{}", i % 10), serde_json::Value::from(i));
                }
            }
        }
        rec
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// One condition over many serde_json records of moving shapes, as a host evaluates them:
    /// the key hints (`src/jsonmap.rs`) are learned, found near, missed, put on probation and
    /// retired along the way, and every answer is the reference interpreter's (which reads
    /// the records with `Value::get`).
    #[test]
    fn learned_key_hints_never_change_an_answer(
        src in condition(),
        recs in prop::collection::vec(shifted_record(), 1..60),
        with_schema: bool,
    ) {
        let s = schema();
        let Ok(cond) = Condition::compile(&src, with_schema.then_some(&s)) else {
            return Ok(());
        };
        let clock = FixedClock(chrono::Utc::now());
        for rec in recs.iter().chain(recs.iter().rev()) {
            prop_assert_eq!(
                cond.eval(rec, &clock),
                cond.eval_reference(rec, &clock),
                "{} on {}",
                &src,
                rec
            );
        }
    }
}

/// The batch functions (by blocks, on one thread and in parallel) against one-by-one
/// evaluation, on every record kind. More than a block (256 records) so that the schedule
/// runs over several blocks and a partial last one.
fn check_batch(
    src: &str,
    recs: &[serde_json::Value],
    schema: Option<&Schema>,
) -> Result<(), TestCaseError> {
    let Ok(cond) = Condition::compile(src, schema) else {
        return Ok(());
    };
    let now = chrono::Utc::now();
    let json: Vec<JsonRecord> = recs.iter().map(JsonRecord).collect();
    let one: Vec<Truth> = json.iter().map(|r| cond.eval_record(r, now)).collect();
    let matches = one.iter().filter(|t| **t == Truth::True).count();
    prop_assert_eq!(
        &cond.eval_batch_seq(&json, now),
        &one,
        "serde_json, one thread: {}",
        src
    );
    prop_assert_eq!(
        &cond.eval_batch(&json, now),
        &one,
        "serde_json, parallel: {}",
        src
    );
    prop_assert_eq!(
        cond.count_matches_seq(&json, now),
        matches,
        "count: {}",
        src
    );
    prop_assert_eq!(
        cond.count_matches(&json, now),
        matches,
        "parallel count: {}",
        src
    );
    let compact: Vec<_> = recs
        .iter()
        .map(|r| cond.parse_record(&serde_json::to_vec(r).unwrap()).unwrap())
        .collect();
    prop_assert_eq!(
        &cond.eval_batch_seq(&compact, now),
        &one,
        "compact: {}",
        src
    );
    prop_assert_eq!(
        cond.count_matches_seq(&compact, now),
        matches,
        "compact count: {}",
        src
    );
    let hosts: Vec<Host> = recs.iter().cloned().map(Host).collect();
    let map = cond.host_map::<Host>();
    prop_assert_eq!(
        &cond.eval_host_batch_seq(&hosts, &map, now),
        &one,
        "host: {}",
        src
    );
    prop_assert_eq!(
        &cond.eval_host_batch(&hosts, &map, now),
        &one,
        "host, parallel: {}",
        src
    );
    prop_assert_eq!(
        cond.count_host_matches_seq(&hosts, &map, now),
        matches,
        "host count: {}",
        src
    );
    prop_assert_eq!(
        cond.count_host_matches(&hosts, &map, now),
        matches,
        "host parallel count: {}",
        src
    );
    let typed: Vec<Typed> = recs.iter().map(|r| Typed::of(r).0).collect();
    let tmap = cond.host_map::<Typed>();
    let typed_one: Vec<Truth> = typed
        .iter()
        .map(|t| cond.eval_host(t, &tmap, now))
        .collect();
    prop_assert_eq!(
        &cond.eval_host_batch_seq(&typed, &tmap, now),
        &typed_one,
        "typed getters: {}",
        src
    );
    prop_assert_eq!(
        cond.count_host_matches(&typed, &tmap, now),
        typed_one.iter().filter(|t| **t == Truth::True).count(),
        "typed getters, parallel count: {}",
        src
    );
    let manual: Vec<Manual> = typed.into_iter().map(Manual).collect();
    let mmap = cond.host_map::<Manual>();
    prop_assert_eq!(
        &cond.eval_host_batch_seq(&manual, &mmap, now),
        &typed_one,
        "hand-written getters: {}",
        src
    );
    prop_assert_eq!(
        cond.count_host_matches_seq(&manual, &mmap, now),
        typed_one.iter().filter(|t| **t == Truth::True).count(),
        "hand-written getters, count: {}",
        src
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn batches_equal_one_by_one(src in condition(), recs in prop::collection::vec(record(), 0..700), with_schema: bool) {
        let s = schema();
        check_batch(&src, &recs, with_schema.then_some(&s))?;
    }
}

/// A map built for one condition, passed with another, is read slot by slot: it never runs
/// the program bound in it.
#[test]
fn a_host_map_of_another_condition_is_not_run_as_its_program() {
    let now = chrono::Utc::now();
    let a = Condition::compile(r#"a == "x" and b"#, None).unwrap();
    let b = Condition::compile(r#"a == "y" or not b"#, None).unwrap();
    let rec = Typed {
        a: Some("y".into()),
        b: Some(true),
        ..Typed::default()
    };
    let map_a = a.host_map::<Typed>();
    assert_eq!(a.eval_host(&rec, &map_a, now), Truth::False);
    // Same slots (a, b in the same order): b read through a's map is b's answer.
    assert_eq!(b.eval_host(&rec, &map_a, now), Truth::True);
    assert_eq!(
        b.eval_host_batch_seq(std::slice::from_ref(&rec), &map_a, now),
        vec![Truth::True]
    );
    // Other slots (b's map reads b then a; c reads only a): each condition still gives its
    // own answer, one by one and by batch.
    let c = Condition::compile(r#"b and a == "y""#, None).unwrap();
    let map_c = c.host_map::<Typed>();
    let only_a = Condition::compile(r#"a == "y""#, None).unwrap();
    for (cond, other) in [(&a, &map_c), (&only_a, &map_c), (&c, &map_a)] {
        let own = cond.host_map::<Typed>();
        let want = cond.eval_host(&rec, &own, now);
        assert_eq!(cond.eval_host(&rec, other, now), want, "{}", cond.source());
        assert_eq!(
            cond.eval_host_batch_seq(std::slice::from_ref(&rec), other, now),
            vec![want]
        );
        assert_eq!(
            cond.count_host_matches(std::slice::from_ref(&rec), other, now),
            usize::from(want == Truth::True)
        );
    }
    assert_eq!(only_a.eval_host(&rec, &map_c, now), Truth::True);
    // A clone of a condition shares its identity: its map is the bound one.
    let a2 = a.clone();
    assert_eq!(
        a2.eval_host(
            &Typed {
                a: Some("x".into()),
                b: Some(true),
                ..Typed::default()
            },
            &map_a,
            now
        ),
        Truth::True
    );
}

/// `each` calls its function once for each listed index that is in the block, in order, both
/// the macro's loops (a field of the type and an index past its fields) and the default.
#[test]
fn each_visits_the_listed_records_of_the_block_in_order() {
    let block = [
        Typed {
            a: Some("x".into()),
            ..Typed::default()
        },
        Typed::default(),
    ];
    let recs = [1, 0, 7, 1];
    let mut seen: Vec<(u32, Option<String>)> = Vec::new();
    Typed::each(&block, &recs, 0, |r, v: Option<&str>| {
        seen.push((r, v.map(str::to_string)));
    });
    assert_eq!(seen, vec![(1, None), (0, Some("x".into())), (1, None)]);
    let mut past = Vec::new();
    Typed::each(&block, &recs, 99, |r, v: Option<&str>| {
        past.push((r, v.is_some()))
    });
    assert_eq!(past, vec![(1, false), (0, false), (1, false)]);
    let manual = block.map(Manual);
    let mut by_default = Vec::new();
    Manual::each(&manual, &recs, 0, |r, v: Option<&str>| {
        by_default.push((r, v.map(str::to_string)));
    });
    assert_eq!(by_default, seen);
    // A type with no fields: every listed record in the block reads null.
    struct Nothing;
    herald::host_record!(Nothing {});
    let mut none = Vec::new();
    Nothing::each(&[Nothing, Nothing], &[1, 5, 0], 0, |r, v: Option<bool>| {
        none.push((r, v));
    });
    assert_eq!(none, vec![(1, None), (0, None)]);
}

/// A NaN decimal read by a getter is unknown to every test, in a batch as alone.
#[test]
fn a_nan_decimal_is_unknown_in_batches_too() {
    let now = chrono::Utc::now();
    let recs: Vec<Typed> = [f64::NAN, 2.0, f64::NAN]
        .into_iter()
        .map(|n| Typed {
            n: Some(n),
            ..Typed::default()
        })
        .collect();
    for src in ["n > 1", "n <= 1 or n > 1", "not (n == 2)"] {
        let cond = Condition::compile(src, None).unwrap();
        let map = cond.host_map::<Typed>();
        let one: Vec<Truth> = recs.iter().map(|r| cond.eval_host(r, &map, now)).collect();
        assert_eq!(one[0], Truth::Unknown, "{src}");
        assert_eq!(cond.eval_host_batch_seq(&recs, &map, now), one, "{src}");
    }
}

/// Sets past the scanned sizes, on every value a record may hold: `in` and `not in` lists of
/// 10 and 12 words (perfect-hashed), of 70 words (hashed by `StrSet`, then perfect-hashed as
/// words), of 10 strings some longer than 8 bytes (hashed), each holding some of the values.
#[test]
fn large_sets_answer_every_value_as_the_reference() {
    let mut seventy: Vec<String> = (0..66).map(|i| format!("\"w{i}\"")).collect();
    seventy.extend(["\"FR\"", "\"vip\"", "\"\"", "\"FRANCE\""].map(String::from));
    let lists = [
        "[\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"vip\", \"fr\", \"FR\"]".to_string(),
        "[\"FR\", \"BE\", \"CH\", \"LU\", \"MC\", \"DE\", \"AT\", \"ES\", \"IT\", \"PT\", \"GB\", \"IE\"]".to_string(),
        format!("[{}]", seventy.join(", ")),
        "[\"FRANCE12\", \"FRANCE123\", \"0123456789abcdef\", \"x1\", \"x2\", \"x3\", \"x4\", \"x5\", \"x6\", \"BE\"]".to_string(),
    ];
    for list in &lists {
        for src in [format!("a in {list}"), format!("a not in {list}")] {
            for v in json_values() {
                check_one(&src, &serde_json::json!({ "a": v }), None).unwrap();
            }
            check_one(&src, &serde_json::json!({}), None).unwrap();
        }
    }
}

#[test]
fn null_traps_stay_unknown() {
    let clock = FixedClock(chrono::Utc::now());
    let null = serde_json::json!({"x": null});
    for src in [
        "x == 1 or x != 1",
        "x == \"FR\" and x == \"DE\"",
        "not (x > 3) and x > 3",
        "x > 5 or x <= 5",
    ] {
        let c = Condition::compile(src, None).unwrap();
        assert_eq!(c.eval(&null, &clock), Truth::Unknown, "{src}");
        assert_eq!(c.eval_reference(&null, &clock), Truth::Unknown, "{src}");
    }
    let one = serde_json::json!({"x": 1});
    assert_eq!(
        Condition::compile("x == 1 or x != 1", None)
            .unwrap()
            .eval(&one, &clock),
        Truth::True
    );
    let fr = serde_json::json!({"x": "FR"});
    assert_eq!(
        Condition::compile("x == \"FR\" and x == \"DE\"", None)
            .unwrap()
            .eval(&fr, &clock),
        Truth::False
    );
}

#[test]
fn optimizer_merges_per_field() {
    let shape = |src: &str| opt::fingerprint(Condition::compile(src, None).unwrap().optimized());
    // Twelve ORed equalities become one set membership.
    let ors = (0..12)
        .map(|i| format!("c == \"K{i}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    assert!(shape(&ors).starts_with("p0:Str"), "{}", shape(&ors));
    // Subsumption.
    assert_eq!(shape("x > 5 and x > 3"), shape("x > 5"));
    // Contradiction: one predicate with an empty domain.
    assert!(shape("x == \"FR\" and x == \"DE\"").contains("set: []"));
    // Double negation and De Morgan.
    assert_eq!(shape("not not (x == 1)"), shape("x == 1"));
    assert_eq!(shape("not (x == 1 and y == 2)"), shape("x != 1 or y != 2"));
    // Idempotence and absorption.
    assert_eq!(shape("a == 1 and a == 1"), shape("a == 1"));
    assert_eq!(
        shape("s == \"x\" and (s == \"x\" or t == 2)"),
        shape("s == \"x\"")
    );
}

#[test]
fn operands_are_ordered_by_cost_and_ties_keep_the_written_order() {
    let shape = |src: &str| opt::fingerprint(Condition::compile(src, None).unwrap().optimized());
    // Equal estimates: the author's order stays (field ids number fields by first mention, so
    // `p0` first means the first written operand is tested first).
    for src in [
        r#"country == "FR" and subscription == "paid""#,
        r#"subscription == "paid" and country == "FR""#,
        r#"a == "x" or b == "y" or c == "z""#,
    ] {
        let s = shape(src);
        let at: Vec<_> = (0..src.matches("==").count())
            .map(|i| s.find(&format!("p{i}:")))
            .collect();
        assert!(at.iter().all(Option::is_some), "{src}: {s}");
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{src}: {s}");
    }
    // A cheaper, more decisive operand moves ahead of a costly one.
    let s = shape(r#"(a == "x" or b == "y" or c == "z") and d == "w""#);
    assert!(s.find("p3:") < s.find("p0:"), "{s}");
    // A second pass changes nothing.
    let once = Condition::compile(r#"b == "y" and a == "x" and (c == 1 or d == 2)"#, None).unwrap();
    let twice = opt::optimize(once.optimized());
    assert_eq!(opt::fingerprint(&twice), opt::fingerprint(once.optimized()));
}
