//! Evaluation benchmarks (issue: "as fast as hand-written Rust"): three conditions over 200,000
//! generated CRM records, each beside hand-written closures over the same serde_json values and
//! over a typed struct, in the same run; compile time per condition; and JSON bytes → decision.
//! Run: `cargo bench --bench eval`. Each measurement evaluates all records once, so the time per
//! record is the reported time divided by 200,000 (criterion's "thrpt" line gives elements/s).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use herald::condition::Condition;
use herald::record::JsonRecord;
use herald::value::Truth;
use serde_json::Value;
use std::hint::black_box;

const N: usize = 200_000;

#[path = "common/conditions.rs"]
mod conditions;
use conditions::{C1, C2, C3};

const C3_COUNTRIES: [&str; 12] = [
    "FR", "BE", "CH", "LU", "MC", "DE", "AT", "ES", "IT", "PT", "GB", "IE",
];

mod common;
use common::Rng;

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

/// C1–C3 generated as Rust for `Contact` by `herald::codegen::host_fn` (checked in;
/// `tests/codegen.rs` checks that it is what the generator gives now).
mod generated {
    use super::Contact;
    include!("generated/eval.rs");
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

// Hand-written closures: what a developer would write for each condition, with the same
// meaning (a record matches when the condition is true).
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

/// A condition's name, source and hand-written baselines.
type Case = (
    &'static str,
    &'static str,
    fn(&Value) -> bool,
    fn(&Contact) -> bool,
    Generated,
);

/// A condition generated as Rust (`herald::codegen::host_fn`).
type Generated = fn(
    &Contact,
    &Condition,
    &herald::record::HostMap<Contact>,
    chrono::DateTime<chrono::Utc>,
) -> Truth;

fn bench_conditions(cr: &mut Criterion) {
    let (json, typed, _) = generate();
    let now = chrono::Utc::now();
    let cases: [Case; 3] = [
        ("C1", C1, c1_json, c1_typed, generated::c1),
        ("C2", C2, c2_json, c2_typed, generated::c2),
        ("C3", C3, c3_json, c3_typed, generated::c3),
    ];
    for (name, src, by_json, by_type, by_code) in cases {
        let cond = Condition::compile(src, None).unwrap();
        let compact: Vec<_> = json
            .iter()
            .map(|v| herald::record::CompactRecord::from_json(v, cond.fields()))
            .collect();
        let map = cond.host_map::<Contact>();
        let json_records: Vec<JsonRecord> = json.iter().map(JsonRecord).collect();
        // Everyone agrees on the matches before anything is timed.
        let expected = json.iter().filter(|v| by_json(v)).count();
        assert_eq!(
            typed.iter().filter(|c| by_type(c)).count(),
            expected,
            "{name}: typed baseline"
        );
        assert_eq!(
            json.iter()
                .filter(|v| cond.eval_record(&JsonRecord(v), now) == Truth::True)
                .count(),
            expected,
            "{name}: herald json"
        );
        assert_eq!(
            compact
                .iter()
                .filter(|r| cond.eval_record(*r, now) == Truth::True)
                .count(),
            expected,
            "{name}: herald compact"
        );
        assert_eq!(
            typed
                .iter()
                .filter(|c| cond.eval_host(*c, &map, now) == Truth::True)
                .count(),
            expected,
            "{name}: herald host"
        );
        assert_eq!(
            typed
                .iter()
                .filter(|c| by_code(c, &cond, &map, now) == Truth::True)
                .count(),
            expected,
            "{name}: herald generated code"
        );
        assert_eq!(
            cond.count_matches_seq(&json_records, now),
            expected,
            "{name}: json batch"
        );
        assert_eq!(
            cond.count_matches_seq(&compact, now),
            expected,
            "{name}: compact batch"
        );
        assert_eq!(
            cond.count_host_matches_seq(&typed, &map, now),
            expected,
            "{name}: host batch"
        );

        let mut g = cr.benchmark_group(name);
        g.throughput(Throughput::Elements(N as u64));
        g.sample_size(20);
        g.bench_function("handwritten serde_json", |b| {
            b.iter(|| json.iter().filter(|v| by_json(black_box(v))).count())
        });
        g.bench_function("herald serde_json", |b| {
            b.iter(|| {
                json.iter()
                    .filter(|v| cond.eval_record(&JsonRecord(black_box(v)), now) == Truth::True)
                    .count()
            })
        });
        g.bench_function("handwritten typed struct", |b| {
            b.iter(|| typed.iter().filter(|c| by_type(black_box(c))).count())
        });
        g.bench_function("herald host struct", |b| {
            b.iter(|| {
                typed
                    .iter()
                    .filter(|c| cond.eval_host(black_box(*c), &map, now) == Truth::True)
                    .count()
            })
        });
        // The condition generated as Rust at build time (`herald::codegen`), one by one.
        g.bench_function("herald generated code, host struct", |b| {
            b.iter(|| {
                typed
                    .iter()
                    .filter(|c| by_code(black_box(*c), &cond, &map, now) == Truth::True)
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
        // The batch API on one thread (blocks of 256 records, step by step).
        g.bench_function("herald serde_json batch", |b| {
            b.iter(|| cond.count_matches_seq(black_box(&json_records), now))
        });
        g.bench_function("herald host struct batch", |b| {
            b.iter(|| cond.count_host_matches_seq(black_box(&typed), &map, now))
        });
        g.bench_function("herald compact record batch", |b| {
            b.iter(|| cond.count_matches_seq(black_box(&compact), now))
        });
        g.finish();
    }
}

fn bench_compile(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("compile");
    for (name, src) in [("C1", C1), ("C2", C2), ("C3", C3)] {
        g.bench_with_input(BenchmarkId::from_parameter(name), src, |b, src| {
            b.iter(|| Condition::compile(black_box(src), None).unwrap())
        });
    }
    g.finish();
}

fn bench_bytes(cr: &mut Criterion) {
    let (_, _, bytes) = generate();
    let now = chrono::Utc::now();
    let cond = Condition::compile(C2, None).unwrap();
    let expected = bytes
        .iter()
        .filter(|b| c2_json(&serde_json::from_slice::<Value>(b).unwrap()))
        .count();
    assert_eq!(
        bytes
            .iter()
            .filter(|b| cond.eval_record(&cond.parse_record(b).unwrap(), now) == Truth::True)
            .count(),
        expected
    );
    let mut g = cr.benchmark_group("bytes_to_decision_C2");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("serde_json::from_slice::<Value> + handwritten", |b| {
        b.iter(|| {
            bytes
                .iter()
                .filter(|b| c2_json(&serde_json::from_slice::<Value>(black_box(b)).unwrap()))
                .count()
        })
    });
    g.bench_function("herald compact parse + eval", |b| {
        let mut rec = herald::record::CompactRecord::default();
        b.iter(|| {
            bytes
                .iter()
                .filter(|b| {
                    rec.parse_into(black_box(b), cond.projection()).unwrap();
                    cond.eval_record(&rec, now) == Truth::True
                })
                .count()
        })
    });
    g.finish();
}

/// `blocks` blocks of eight rounds of three arithmetic instructions on `x` (rotate, xor, add,
/// each with its own constants, so that none folds into another: 24 instructions per block,
/// and the loop's own two or three where the compiler does not unroll it): work with no memory
/// access and no branch on data, to add to each record of a loop ([`bench_window`]).
#[inline(always)]
fn busy(mut x: u64, blocks: u64) -> u64 {
    for _ in 0..blocks {
        macro_rules! rounds {
            ($($k:literal)*) => {$(
                x = (x.rotate_left(3) ^ (0x9E37_79B9_u64 * $k)).wrapping_add($k);
            )*};
        }
        rounds!(1 2 3 4 5 6 7 8);
    }
    x
}

/// Why one record at a time costs what it costs on host structs: the typed closure of C2 with
/// `n` blocks of [`busy`] added to each record (24 instructions each), over the 200,000
/// records, and over the first 2,000 records 100 times (in cache: what the added
/// instructions cost by themselves). In this data each record's strings are on their own
/// page, so a record is a cache miss of its own, and the processor overlaps the misses of as
/// many records as its instruction window holds: more instructions per record, fewer records
/// in flight (docs/performance.md, session 11).
fn bench_window(cr: &mut Criterion) {
    let (_, typed, _) = generate();
    let hot: Vec<Contact> = typed.iter().take(N / 100).cloned().collect();
    let mut g = cr.benchmark_group("window_C2");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    let count = |records: &[Contact], blocks: u64| {
        records
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                black_box(busy(*i as u64, blocks));
                c2_typed(black_box(c))
            })
            .count()
    };
    macro_rules! padded {
        ($($n:literal),*) => {$(
            g.bench_function(concat!("handwritten typed struct + ", $n, " blocks"), |b| {
                b.iter(|| count(&typed, $n))
            });
            g.bench_function(concat!("in cache: handwritten typed struct + ", $n, " blocks"), |b| {
                b.iter(|| (0..100).map(|_| count(&hot, $n)).sum::<usize>())
            });
        )*};
    }
    padded!(0, 1, 2, 4);
    g.finish();
}

/// serde_json records of irregular shapes: each of C2's records with about half of 26 extra
/// keys, one per initial letter, so that the position of every key C2 reads moves by several
/// entries from record to record. Herald's key hints (`src/jsonmap.rs`) miss and retire, and
/// lookups are `Map::get` alone, as the hand-written closure's are: this measures what the
/// hints cost when records do not share a shape.
fn bench_shapes(cr: &mut Criterion) {
    let (mut json, _, _) = generate();
    let mut rng = Rng(7);
    for v in &mut json {
        if let Value::Object(m) = v {
            for letter in b'a'..=b'z' {
                if rng.chance(50) {
                    m.insert(format!("{}_extra", letter as char), Value::from(1));
                }
            }
        }
    }
    let now = chrono::Utc::now();
    let cond = Condition::compile(C2, None).unwrap();
    let expected = json.iter().filter(|v| c2_json(v)).count();
    assert_eq!(
        json.iter()
            .filter(|v| cond.eval_record(&JsonRecord(v), now) == Truth::True)
            .count(),
        expected,
        "herald json, irregular shapes"
    );
    let mut g = cr.benchmark_group("json_shapes_C2");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    g.bench_function("handwritten serde_json", |b| {
        b.iter(|| json.iter().filter(|v| c2_json(black_box(v))).count())
    });
    g.bench_function("herald serde_json", |b| {
        b.iter(|| {
            json.iter()
                .filter(|v| cond.eval_record(&JsonRecord(black_box(v)), now) == Truth::True)
                .count()
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_conditions,
    bench_compile,
    bench_bytes,
    bench_window,
    bench_shapes
);
criterion_main!(benches);
