//! Comparison bench (issue #5): the three conditions of `benches/eval.rs` over the same 200,000
//! generated CRM records, evaluated by Herald (serde_json records, compact records, host
//! structs), by two hand-written closures (serde_json values, a typed struct) and by four other
//! Rust rule engines, each through its fastest documented API: cel-rust (both its last release
//! as `cel-interpreter` and its current one as `cel`), datalogic-rs, zen-expression and evalexpr.
//!
//! Run: `cargo bench -p bench-compare` (see README.md). Each measurement evaluates all records
//! once: time per record = reported time / 200,000 (criterion's "thrpt" line gives elements/s).
//!
//! Rules of the comparison:
//! - Every engine compiles its expression once, outside the timed loop, and reuses whatever its
//!   docs say to reuse (contexts, arenas, isolates).
//! - Every record is converted into each engine's own value format BEFORE timing: that is what a
//!   host built on that engine would hold. Only evaluation is timed, never conversion.
//! - Same meaning everywhere: a record matches only when the condition is true, and a missing or
//!   null field never matches (Herald's three-valued logic). Where an engine's semantics differ
//!   (truthiness of null, `null != ""` being true, no short-circuit, errors on null operands),
//!   its expression carries explicit guards, commented at the expression.
//! - An evaluation error counts as "no match" (a host must map it to something, and for Herald
//!   null/unknown is no match), but the guards are meant to leave no error on this data: the
//!   checks before timing assert zero errors and equal match counts for every engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use herald::condition::Condition;
use herald::record::{CompactRecord, JsonRecord};
use herald::value::Truth;
use serde_json::Value;
use std::hint::black_box;
use std::sync::Arc;

const N: usize = 200_000;

// ---------------------------------------------------------------------------------------------
// The conditions, once per engine. Herald's text is the reference (the same as benches/eval.rs).
// ---------------------------------------------------------------------------------------------

const C1: &str = r#"country == "FR" and subscription == "paid""#;
const C2: &str = r#"subscription == "paid" and (country in ["FR","BE","CH","LU","MC"] or language == "fr") and not opted_out and age >= 18"#;
const C3: &str = r#"(country == "FR" or country == "BE" or country == "CH" or country == "LU" or country == "MC" or country == "DE" or country == "AT" or country == "ES" or country == "IT" or country == "PT" or country == "GB" or country == "IE") and lifetime_value > 1000.5 and tags contains "vip" and address.city != """#;

const C3_COUNTRIES: [&str; 12] = [
    "FR", "BE", "CH", "LU", "MC", "DE", "AT", "ES", "IT", "PT", "GB", "IE",
];

/// One condition in every engine's language. Each engine keeps the shape of Herald's source
/// (`in` where Herald has `in`, an `or` chain where Herald has one).
struct Case {
    name: &'static str,
    herald: &'static str,
    /// CEL for cel-interpreter (cel 0.15 has `cel_vars`). The record is bound as the map variable `r`.
    /// - `!r.opted_out` is true for a null `opted_out` in cel-interpreter (its `!` takes the
    ///   truthiness of the operand) and an error in cel 0.15, so `not opted_out` is written
    ///   `r.opted_out == false`, after testing the key (`'opted_out' in r`: selecting an absent
    ///   key is an error in both).
    /// - `r.age >= 18` on null is an error in both ("not comparable" / "no such overload"):
    ///   `r.age != null &&` first.
    /// - `r.address.city != ""` is an error when `address` is absent: `'address' in r &&` first
    ///   (`address`, when present, always holds a string `city` in this data).
    cel: &'static str,
    /// CEL for cel 0.15, whose fastest binding is a `VariableResolver`: the record's top-level
    /// fields are the variables (`country`, not `r.country`), a declared field that the record
    /// lacks resolves to null. Same guards as `cel`, with `!= null` for the presence tests
    /// (`not opted_out` as `opted_out == false`: `!null` is an error in cel 0.15).
    cel_vars: &'static str,
    /// JSONLogic (datalogic-rs). Strict `===`/`!==` (Herald's `==` does not coerce types).
    /// - `{"!": {"var": "opted_out"}}` is true for a missing/null field (truthiness), so
    ///   `not opted_out` is `opted_out === false`.
    /// - `{"var": "address.city"}` of a missing address is null and `null !== ""` is true, so
    ///   the city is also required to be `!== null`; likewise `age !== null` before `>=`
    ///   (null compares as 0: `null >= 0` is true).
    datalogic: &'static str,
    /// ZEN expression language.
    /// - `not opted_out` and `age >= 18` are errors on null ("unsupported type"), so
    ///   `not opted_out` is written `opted_out == false` (false on null) and `age != null and`
    ///   comes before `age >= 18`.
    /// - `address.city != ""` is true when address is missing (null != ""), so
    ///   `address.city != null and` first.
    zen: &'static str,
    /// evalexpr: no maps, so the record is flat variables (`address.city` is one identifier),
    /// every read field bound, `()` (Value::Empty) for a missing or null one.
    /// - evalexpr evaluates every operand (no short-circuit), so a guard cannot protect a
    ///   comparison that errors: `age >= 18` on `()` is a type error. The null case is folded in
    ///   the operand instead: `if(typeof(age) == "empty", 0, age) >= 18` (0 fails `>= 18`).
    /// - `!opted_out` is an error on `()`, `opted_out == false` is false; `address.city != ""`
    ///   is true for `()`, hence `typeof(address.city) == "string" &&`.
    evalexpr: &'static str,
    by_json: fn(&Value) -> bool,
    by_type: fn(&Contact) -> bool,
}

const CASES: [Case; 3] = [
    Case {
        name: "C1",
        herald: C1,
        cel: r#"r.country == "FR" && r.subscription == "paid""#,
        cel_vars: r#"country == "FR" && subscription == "paid""#,
        datalogic: r#"{"and": [{"===": [{"var": "country"}, "FR"]}, {"===": [{"var": "subscription"}, "paid"]}]}"#,
        zen: r#"country == "FR" and subscription == "paid""#,
        evalexpr: r#"country == "FR" && subscription == "paid""#,
        by_json: c1_json,
        by_type: c1_typed,
    },
    Case {
        name: "C2",
        herald: C2,
        cel: r#"r.subscription == "paid" && (r.country in ["FR", "BE", "CH", "LU", "MC"] || r.language == "fr") && 'opted_out' in r && r.opted_out == false && r.age != null && r.age >= 18"#,
        cel_vars: r#"subscription == "paid" && (country in ["FR", "BE", "CH", "LU", "MC"] || language == "fr") && opted_out == false && age != null && age >= 18"#,
        datalogic: r#"{"and": [
            {"===": [{"var": "subscription"}, "paid"]},
            {"or": [{"in": [{"var": "country"}, ["FR", "BE", "CH", "LU", "MC"]]}, {"===": [{"var": "language"}, "fr"]}]},
            {"===": [{"var": "opted_out"}, false]},
            {"!==": [{"var": "age"}, null]},
            {">=": [{"var": "age"}, 18]}
        ]}"#,
        zen: r#"subscription == "paid" and (country in ["FR", "BE", "CH", "LU", "MC"] or language == "fr") and opted_out == false and age != null and age >= 18"#,
        evalexpr: r#"subscription == "paid" && (contains(("FR", "BE", "CH", "LU", "MC"), country) || language == "fr") && opted_out == false && if(typeof(age) == "empty", 0, age) >= 18"#,
        by_json: c2_json,
        by_type: c2_typed,
    },
    Case {
        name: "C3",
        herald: C3,
        cel: r#"(r.country == "FR" || r.country == "BE" || r.country == "CH" || r.country == "LU" || r.country == "MC" || r.country == "DE" || r.country == "AT" || r.country == "ES" || r.country == "IT" || r.country == "PT" || r.country == "GB" || r.country == "IE") && r.lifetime_value > 1000.5 && "vip" in r.tags && 'address' in r && r.address.city != """#,
        cel_vars: r#"(country == "FR" || country == "BE" || country == "CH" || country == "LU" || country == "MC" || country == "DE" || country == "AT" || country == "ES" || country == "IT" || country == "PT" || country == "GB" || country == "IE") && lifetime_value > 1000.5 && "vip" in tags && address != null && address.city != """#,
        datalogic: r#"{"and": [
            {"or": [
                {"===": [{"var": "country"}, "FR"]}, {"===": [{"var": "country"}, "BE"]},
                {"===": [{"var": "country"}, "CH"]}, {"===": [{"var": "country"}, "LU"]},
                {"===": [{"var": "country"}, "MC"]}, {"===": [{"var": "country"}, "DE"]},
                {"===": [{"var": "country"}, "AT"]}, {"===": [{"var": "country"}, "ES"]},
                {"===": [{"var": "country"}, "IT"]}, {"===": [{"var": "country"}, "PT"]},
                {"===": [{"var": "country"}, "GB"]}, {"===": [{"var": "country"}, "IE"]}
            ]},
            {">": [{"var": "lifetime_value"}, 1000.5]},
            {"in": ["vip", {"var": "tags"}]},
            {"!==": [{"var": "address.city"}, null]},
            {"!==": [{"var": "address.city"}, ""]}
        ]}"#,
        zen: r#"(country == "FR" or country == "BE" or country == "CH" or country == "LU" or country == "MC" or country == "DE" or country == "AT" or country == "ES" or country == "IT" or country == "PT" or country == "GB" or country == "IE") and lifetime_value > 1000.5 and "vip" in tags and address.city != null and address.city != """#,
        evalexpr: r#"(country == "FR" || country == "BE" || country == "CH" || country == "LU" || country == "MC" || country == "DE" || country == "AT" || country == "ES" || country == "IT" || country == "PT" || country == "GB" || country == "IE") && lifetime_value > 1000.5 && contains(tags, "vip") && typeof(address.city) == "string" && address.city != """#,
        by_json: c3_json,
        by_type: c3_typed,
    },
];

// ---------------------------------------------------------------------------------------------
// The records: copied from benches/eval.rs (same generator, same seed, so the same counts).
// ---------------------------------------------------------------------------------------------

/// A small deterministic generator (SplitMix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

/// The typed struct of the hand-written baseline (and Herald's host-struct path).
#[derive(Clone)]
struct Contact {
    country: String,
    subscription: String,
    language: String,
    opted_out: Option<bool>,
    age: Option<i64>,
    lifetime_value: Option<f64>,
    tags: Vec<String>,
    city: Option<String>,
}

herald::host_record!(Contact {
    "country" => Str(|c| Some(&c.country)),
    "subscription" => Str(|c| Some(&c.subscription)),
    "language" => Str(|c| Some(&c.language)),
    "opted_out" => Bool(|c| c.opted_out),
    "age" => Int(|c| c.age),
    "lifetime_value" => Dec(|c| c.lifetime_value),
    "tags" => Strings(|c| Some(&c.tags)),
    "address.city" => Str(|c| c.city.as_deref()),
});

fn generate() -> (Vec<Value>, Vec<Contact>, Vec<Vec<u8>>) {
    let mut rng = Rng(42);
    let countries = [
        "FR", "FR", "FR", "BE", "CH", "DE", "ES", "IT", "GB", "US", "CA", "LU", "MC", "AT", "PT",
        "IE",
    ];
    let subs = ["paid", "paid", "trial", "free"];
    let langs = ["fr", "de", "en", "es", "it"];
    let tag_pool = ["vip", "beta", "partner", "student", "recruiter"];
    let cities = ["Paris", "Lyon", "Bruxelles", "Genève", "", "Berlin"];
    let mut json = Vec::with_capacity(N);
    let mut typed = Vec::with_capacity(N);
    let mut bytes = Vec::with_capacity(N);
    for i in 0..N {
        let c = Contact {
            country: rng.pick(&countries).to_string(),
            subscription: rng.pick(&subs).to_string(),
            language: rng.pick(&langs).to_string(),
            opted_out: if rng.chance(5) {
                None
            } else {
                Some(rng.chance(10))
            },
            age: if rng.chance(5) {
                None
            } else {
                Some(16 + (rng.next() % 60) as i64)
            },
            lifetime_value: Some((rng.next() % 300_000) as f64 / 100.0),
            tags: (0..rng.next() % 3)
                .map(|_| rng.pick(&tag_pool).to_string())
                .collect(),
            city: if rng.chance(5) {
                None
            } else {
                Some(rng.pick(&cities).to_string())
            },
        };
        let mut v = serde_json::json!({
            "id": format!("c{i:07}"),
            "full_name": "Camille Martin",
            "email": format!("camille{i}@example.fr"),
            "country": c.country,
            "subscription": c.subscription,
            "language": c.language,
            "age": c.age,
            "lifetime_value": c.lifetime_value,
            "tags": c.tags,
            "phone": "+33 6 12 34 56 78",
            "created_time": "2025-03-14T09:30:00+01:00",
            "lead_source": "Web",
            "notes": "Interested in the premium CV templates; called twice in March.",
        });
        if let Some(o) = c.opted_out {
            v["opted_out"] = Value::Bool(o);
        }
        if let Some(city) = &c.city {
            v["address"] =
                serde_json::json!({ "city": city, "street": "12 rue de la Paix", "zip": "75002" });
        }
        bytes.push(serde_json::to_vec(&v).unwrap());
        json.push(v);
        typed.push(c);
    }
    (json, typed, bytes)
}

// Hand-written closures (copied from benches/eval.rs).
fn c1_json(v: &Value) -> bool {
    v.get("country").and_then(Value::as_str) == Some("FR")
        && v.get("subscription").and_then(Value::as_str) == Some("paid")
}
fn c2_json(v: &Value) -> bool {
    v.get("subscription").and_then(Value::as_str) == Some("paid")
        && (matches!(
            v.get("country").and_then(Value::as_str),
            Some("FR" | "BE" | "CH" | "LU" | "MC")
        ) || v.get("language").and_then(Value::as_str) == Some("fr"))
        && v.get("opted_out").and_then(Value::as_bool) == Some(false)
        && v.get("age")
            .and_then(Value::as_f64)
            .is_some_and(|a| a >= 18.0)
}
fn c3_json(v: &Value) -> bool {
    v.get("country")
        .and_then(Value::as_str)
        .is_some_and(|c| C3_COUNTRIES.contains(&c))
        && v.get("lifetime_value")
            .and_then(Value::as_f64)
            .is_some_and(|x| x > 1000.5)
        && v.get("tags")
            .and_then(Value::as_array)
            .is_some_and(|t| t.iter().any(|x| x.as_str() == Some("vip")))
        && v.get("address")
            .and_then(|a| a.get("city"))
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty())
}
fn c1_typed(c: &Contact) -> bool {
    c.country == "FR" && c.subscription == "paid"
}
fn c2_typed(c: &Contact) -> bool {
    c.subscription == "paid"
        && (matches!(c.country.as_str(), "FR" | "BE" | "CH" | "LU" | "MC") || c.language == "fr")
        && c.opted_out == Some(false)
        && c.age.is_some_and(|a| a >= 18)
}
fn c3_typed(c: &Contact) -> bool {
    C3_COUNTRIES.contains(&c.country.as_str())
        && c.lifetime_value.is_some_and(|x| x > 1000.5)
        && c.tags.iter().any(|t| t == "vip")
        && c.city.as_deref().is_some_and(|x| !x.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Each engine: its records (converted before timing) and its evaluation loop. Every loop returns
// (matches, errors); the same function is checked before timing and then timed.
// ---------------------------------------------------------------------------------------------

/// cel-interpreter 0.10 (cel-rust's last release under that name). Documented API: `Program::
/// compile` once, `Program::execute(&Context)`; variables are bound on a `Context` with
/// `add_variable_from_value`. One root context is reused: binding `r` replaces the previous
/// record (its values are `Arc`-shared, so the clone is a reference count).
mod cel10 {
    use cel_interpreter::{Context, Program, Value};

    pub fn records(json: &[serde_json::Value]) -> Vec<Value> {
        json.iter()
            .map(|v| cel_interpreter::to_value(v).unwrap())
            .collect()
    }

    pub fn count(program: &Program, records: &[Value], ctx: &mut Context<'_>) -> (usize, usize) {
        let (mut matches, mut errors) = (0, 0);
        for r in records {
            ctx.add_variable_from_value("r", r.clone());
            match program.execute(ctx) {
                Ok(Value::Bool(true)) => matches += 1,
                Ok(_) => {}
                Err(_) => errors += 1,
            }
        }
        (matches, errors)
    }
}

/// cel 0.15 (cel-rust's current crate). Documented fastest binding: a `VariableResolver` set on
/// a reused context, handing out borrowed values (`CowVal::Borrowed`), so binding a record
/// copies nothing. Each record is pre-converted into cel's own values (`Box<dyn Val>`:
/// `CelString`, `CelInt`, `CelList`, a `CelMap` for `address`, ...), one per top-level field,
/// and its fields are the variables. (Binding the whole record as one map variable `r`, as for
/// cel-interpreter, measured slower: every `r.x` first tries the qualified name `r.x`.)
mod cel15 {
    use cel::common::types::CelNull;
    use cel::common::value::{CowVal, Val};
    use cel::context::VariableResolver;
    use cel::{Context, Program, Value};

    /// The record's fields, as the host declares them to CEL: a declared field that the record
    /// lacks is null (as a CEL host declaring variables would bind it).
    const DECLARED: [&str; 8] = [
        "country",
        "subscription",
        "language",
        "opted_out",
        "age",
        "lifetime_value",
        "tags",
        "address",
    ];
    static NULL: CelNull = CelNull;

    pub struct Record(Vec<(String, Box<dyn Val>)>);

    impl VariableResolver for Record {
        fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
            match self.0.iter().find(|(name, _)| name == variable) {
                Some((_, v)) => Some(CowVal::Borrowed(v.as_ref())),
                None => DECLARED
                    .contains(&variable)
                    .then_some(CowVal::Borrowed(&NULL)),
            }
        }
    }

    pub fn records(json: &[serde_json::Value]) -> Vec<Record> {
        json.iter()
            .map(|v| {
                let fields = v.as_object().unwrap().iter();
                Record(
                    fields
                        .map(|(k, x)| {
                            (
                                k.clone(),
                                Box::<dyn Val>::try_from(cel::to_value(x).unwrap()).unwrap(),
                            )
                        })
                        .collect(),
                )
            })
            .collect()
    }

    pub fn count<'v>(
        program: &Program,
        records: &'v [Record],
        ctx: &mut Context<'_, 'v>,
    ) -> (usize, usize) {
        let (mut matches, mut errors) = (0, 0);
        for r in records {
            ctx.set_variable_resolver(r);
            match program.execute(ctx) {
                Ok(Value::Bool(true)) => matches += 1,
                Ok(_) => {}
                Err(_) => errors += 1,
            }
        }
        (matches, errors)
    }
}

/// datalogic-rs 5.4. Documented fastest path ("Tier 3", zero-copy input): `Engine::compile`
/// once, records pre-parsed into the engine's own arena values (`&DataValue`, "genuinely
/// allocation-free" input), `Engine::evaluate(&Logic, &DataValue, &Bump)` with one evaluation
/// arena reused and `reset()` between evaluations as the docs recommend.
mod datalogic {
    use datalogic_rs::bumpalo::Bump;
    use datalogic_rs::{DataValue, Engine, Logic};

    pub fn records<'a>(bytes: &'a [Vec<u8>], arena: &'a Bump) -> Vec<&'a DataValue<'a>> {
        bytes
            .iter()
            .map(|b| {
                &*arena.alloc(DataValue::from_str(std::str::from_utf8(b).unwrap(), arena).unwrap())
            })
            .collect()
    }

    pub fn count(
        engine: &Engine,
        logic: &Logic,
        records: &[&DataValue<'_>],
        arena: &mut Bump,
    ) -> (usize, usize) {
        let (mut matches, mut errors) = (0, 0);
        for &r in records {
            match engine.evaluate(logic, r, arena) {
                Ok(v) => matches += usize::from(v.as_bool() == Some(true)),
                Err(_) => errors += 1,
            }
            arena.reset();
        }
        (matches, errors)
    }
}

/// zen-expression 2.1. Documented fastest path: one `Isolate` reused for every evaluation (its
/// arena and VM are reused), the expression compiled once (`compile_standard`) and run with
/// `run_compiled`; records pre-converted into zen's `Variable` (reference-counted, so setting
/// the environment is a pointer copy).
mod zen {
    use zen_expression::variable::Variable;
    use zen_expression::{Expression, Isolate, expression::Standard};

    pub fn records(json: &[serde_json::Value]) -> Vec<Variable> {
        json.iter().map(|v| Variable::from(v.clone())).collect()
    }

    pub fn count(
        isolate: &mut Isolate,
        expr: &Expression<Standard>,
        records: &[Variable],
    ) -> (usize, usize) {
        let (mut matches, mut errors) = (0, 0);
        for r in records {
            isolate.set_environment(r.clone());
            match isolate.run_compiled(expr.bytecode()) {
                Ok(v) => matches += usize::from(v.as_bool() == Some(true)),
                Err(_) => errors += 1,
            }
        }
        (matches, errors)
    }
}

/// evalexpr 13.1. Documented fastest path: the precompiled operator tree (`build_operator_tree`)
/// evaluated with a context. Records are pre-converted into one `HashMapContext` each (the
/// engine's own variable store): objects flattened to dotted names, arrays to tuples, and every
/// field a condition reads bound, `()` when missing or null (evalexpr has no null, and reading
/// an unbound variable is an error).
mod ee {
    use evalexpr::{
        ContextWithMutableVariables, DefaultNumericTypes, HashMapContext, Node, Value as EValue,
    };

    type Ctx = HashMapContext<DefaultNumericTypes>;

    const READ: [&str; 8] = [
        "country",
        "subscription",
        "language",
        "opted_out",
        "age",
        "lifetime_value",
        "tags",
        "address.city",
    ];

    fn value(v: &serde_json::Value) -> EValue<DefaultNumericTypes> {
        match v {
            serde_json::Value::Null => EValue::Empty,
            serde_json::Value::Bool(b) => EValue::Boolean(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => EValue::Int(i),
                None => EValue::Float(n.as_f64().unwrap()),
            },
            serde_json::Value::String(s) => EValue::String(s.clone()),
            serde_json::Value::Array(a) => EValue::Tuple(a.iter().map(value).collect()),
            serde_json::Value::Object(_) => EValue::Empty,
        }
    }

    fn flatten(prefix: &str, v: &serde_json::Value, ctx: &mut Ctx) {
        if let serde_json::Value::Object(map) = v {
            for (k, x) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, x, ctx);
            }
        } else {
            ctx.set_value(prefix.to_string(), value(v)).unwrap();
        }
    }

    pub fn records(json: &[serde_json::Value]) -> Vec<Ctx> {
        json.iter()
            .map(|v| {
                let mut ctx = Ctx::new();
                flatten("", v, &mut ctx);
                for name in READ {
                    if evalexpr::Context::get_value(&ctx, name).is_none() {
                        ctx.set_value(name.to_string(), EValue::Empty).unwrap();
                    }
                }
                ctx
            })
            .collect()
    }

    pub fn count(node: &Node<DefaultNumericTypes>, records: &[Ctx]) -> (usize, usize) {
        let (mut matches, mut errors) = (0, 0);
        for r in records {
            match node.eval_boolean_with_context(r) {
                Ok(b) => matches += usize::from(b),
                Err(_) => errors += 1,
            }
        }
        (matches, errors)
    }
}

fn bench_conditions(cr: &mut Criterion) {
    let (json, typed, bytes) = generate();
    let now = chrono::Utc::now();

    // Conversion into each engine's own values, once, before anything is timed.
    let cel10_records = cel10::records(&json);
    let cel15_records = cel15::records(&json);
    let dl_arena = datalogic_rs::bumpalo::Bump::new();
    let dl_records = datalogic::records(&bytes, &dl_arena);
    let zen_records = zen::records(&json);
    let ee_records = ee::records(&json);

    let dl_engine = datalogic_rs::Engine::new();
    let cel15_env = Arc::new(cel::Env::stdlib());

    println!(
        "\nmatch counts over {N} records (errors in parentheses; all must agree with Herald, with no error):"
    );
    for case in &CASES {
        let name = case.name;
        // Herald.
        let cond = Condition::compile(case.herald, None).unwrap();
        let compact: Vec<CompactRecord> = json
            .iter()
            .map(|v| CompactRecord::from_json(v, cond.fields()))
            .collect();
        let map = cond.host_map::<Contact>();
        // The other engines, compiled once.
        let cel10_program = cel_interpreter::Program::compile(case.cel).unwrap();
        let mut cel10_ctx = cel_interpreter::Context::default();
        let cel15_program = cel15_env.compile(case.cel_vars).unwrap();
        let mut cel15_ctx = cel::Context::with_env(Arc::clone(&cel15_env));
        let dl_logic = dl_engine.compile(case.datalogic).unwrap();
        let mut dl_eval_arena = datalogic_rs::bumpalo::Bump::new();
        let mut zen_isolate = zen_expression::Isolate::new();
        let zen_expr = zen_isolate.compile_standard(case.zen).unwrap();
        let ee_node =
            evalexpr::build_operator_tree::<evalexpr::DefaultNumericTypes>(case.evalexpr).unwrap();

        // Everyone agrees on the matches before anything is timed.
        let herald = json
            .iter()
            .filter(|v| cond.eval_record(&JsonRecord(v), now) == Truth::True)
            .count();
        let counts: Vec<(&str, usize, usize)> = vec![
            (
                "handwritten serde_json",
                json.iter().filter(|v| (case.by_json)(v)).count(),
                0,
            ),
            (
                "handwritten typed struct",
                typed.iter().filter(|c| (case.by_type)(c)).count(),
                0,
            ),
            (
                "herald compact record",
                compact
                    .iter()
                    .filter(|r| cond.eval_record(*r, now) == Truth::True)
                    .count(),
                0,
            ),
            (
                "herald host struct",
                typed
                    .iter()
                    .filter(|c| cond.eval_host(*c, &map, now) == Truth::True)
                    .count(),
                0,
            ),
            (
                "herald host struct batch",
                cond.count_host_matches_seq(&typed, &map, now),
                0,
            ),
            {
                let (m, e) = cel10::count(&cel10_program, &cel10_records, &mut cel10_ctx);
                ("cel-interpreter", m, e)
            },
            {
                let (m, e) = cel15::count(&cel15_program, &cel15_records, &mut cel15_ctx);
                ("cel", m, e)
            },
            {
                let (m, e) =
                    datalogic::count(&dl_engine, &dl_logic, &dl_records, &mut dl_eval_arena);
                ("datalogic-rs", m, e)
            },
            {
                let (m, e) = zen::count(&mut zen_isolate, &zen_expr, &zen_records);
                ("zen-expression", m, e)
            },
            {
                let (m, e) = ee::count(&ee_node, &ee_records);
                ("evalexpr", m, e)
            },
        ];
        print!("  {name}: herald serde_json {herald}");
        for (who, m, e) in &counts {
            print!(", {who} {m} ({e})");
        }
        println!();
        for (who, m, e) in &counts {
            assert_eq!(
                (*m, *e),
                (herald, 0),
                "{name}: {who} disagrees with Herald (matches, errors)"
            );
        }

        let mut g = cr.benchmark_group(format!("engines_{name}"));
        g.throughput(Throughput::Elements(N as u64));
        g.sample_size(10);
        g.bench_function("handwritten serde_json", |b| {
            b.iter(|| json.iter().filter(|v| (case.by_json)(black_box(v))).count())
        });
        g.bench_function("handwritten typed struct", |b| {
            b.iter(|| {
                typed
                    .iter()
                    .filter(|c| (case.by_type)(black_box(c)))
                    .count()
            })
        });
        g.bench_function("herald serde_json", |b| {
            b.iter(|| {
                json.iter()
                    .filter(|v| cond.eval_record(&JsonRecord(black_box(v)), now) == Truth::True)
                    .count()
            })
        });
        g.bench_function("herald compact record", |b| {
            b.iter(|| {
                compact
                    .iter()
                    .filter(|r| cond.eval_record(black_box(*r), now) == Truth::True)
                    .count()
            })
        });
        g.bench_function("herald host struct", |b| {
            b.iter(|| {
                typed
                    .iter()
                    .filter(|c| cond.eval_host(black_box(*c), &map, now) == Truth::True)
                    .count()
            })
        });
        // The batch API on one thread (blocks of 256 records, step by step, read ahead).
        g.bench_function("herald host struct batch", |b| {
            b.iter(|| cond.count_host_matches_seq(black_box(&typed), &map, now))
        });
        g.bench_function("cel-interpreter", |b| {
            b.iter(|| cel10::count(&cel10_program, black_box(&cel10_records), &mut cel10_ctx))
        });
        g.bench_function("cel", |b| {
            b.iter(|| cel15::count(&cel15_program, black_box(&cel15_records), &mut cel15_ctx))
        });
        g.bench_function("datalogic-rs", |b| {
            b.iter(|| {
                datalogic::count(
                    &dl_engine,
                    &dl_logic,
                    black_box(&dl_records),
                    &mut dl_eval_arena,
                )
            })
        });
        g.bench_function("zen-expression", |b| {
            b.iter(|| zen::count(&mut zen_isolate, &zen_expr, black_box(&zen_records)))
        });
        g.bench_function("evalexpr", |b| {
            b.iter(|| ee::count(&ee_node, black_box(&ee_records)))
        });
        g.finish();
    }
}

fn bench_compile(cr: &mut Criterion) {
    let dl_engine = datalogic_rs::Engine::new();
    let cel15_env = Arc::new(cel::Env::stdlib());
    let mut zen_isolate = zen_expression::Isolate::new();
    let mut g = cr.benchmark_group("engines_compile");
    g.sample_size(20);
    for case in &CASES {
        let name = case.name;
        g.bench_with_input(BenchmarkId::new("herald", name), case.herald, |b, src| {
            b.iter(|| Condition::compile(black_box(src), None).unwrap())
        });
        g.bench_with_input(
            BenchmarkId::new("cel-interpreter", name),
            case.cel,
            |b, src| b.iter(|| cel_interpreter::Program::compile(black_box(src)).unwrap()),
        );
        g.bench_with_input(BenchmarkId::new("cel", name), case.cel_vars, |b, src| {
            b.iter(|| cel15_env.compile(black_box(src)).unwrap())
        });
        g.bench_with_input(
            BenchmarkId::new("datalogic-rs", name),
            case.datalogic,
            |b, src| b.iter(|| dl_engine.compile(black_box(src)).unwrap()),
        );
        g.bench_with_input(
            BenchmarkId::new("zen-expression", name),
            case.zen,
            |b, src| b.iter(|| zen_isolate.compile_standard(black_box(src)).unwrap()),
        );
        g.bench_with_input(
            BenchmarkId::new("evalexpr", name),
            case.evalexpr,
            |b, src| {
                b.iter(|| {
                    evalexpr::build_operator_tree::<evalexpr::DefaultNumericTypes>(black_box(src))
                        .unwrap()
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench_conditions, bench_compile);
criterion_main!(benches);
