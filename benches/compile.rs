//! Compile time per condition (issue #5: "compile C2 in under 10 µs") with the `herald`
//! binary's global allocator (mimalloc), beside `benches/eval.rs`'s `compile` group, which runs
//! the same compilations on the system allocator (glibc `malloc`). A compilation makes about a
//! hundred small allocations and frees them when the condition is dropped, so the allocator is
//! a third of the time: both figures are reported in `docs/performance.md`.
//! Run: `cargo bench --bench compile`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use herald::condition::Condition;
use std::hint::black_box;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const C1: &str = r#"country == "FR" and subscription == "paid""#;
const C2: &str = r#"subscription == "paid" and (country in ["FR","BE","CH","LU","MC"] or language == "fr") and not opted_out and age >= 18"#;
const C3: &str = r#"(country == "FR" or country == "BE" or country == "CH" or country == "LU" or country == "MC" or country == "DE" or country == "AT" or country == "ES" or country == "IT" or country == "PT" or country == "GB" or country == "IE") and lifetime_value > 1000.5 and tags contains "vip" and address.city != """#;

fn bench_compile(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("compile_mimalloc");
    for (name, src) in [("C1", C1), ("C2", C2), ("C3", C3)] {
        g.bench_with_input(BenchmarkId::from_parameter(name), src, |b, src| {
            b.iter(|| Condition::compile(black_box(src), None).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench_compile);
criterion_main!(benches);
