//! Set membership by size (issue #5: "set membership, hashed, sorted or perfect-hashed by
//! size"): the representations that `compile::WordSet` (strings of up to seven bytes) and
//! `compile::StrSet` (longer strings) choose between, on the same keys and the same lookups
//! (half of them members), to place the thresholds. Run: `cargo bench --bench sets`. Each measurement is 1,024 lookups.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use herald::compile::word;
use herald::phf::PerfectWords;
use rustc_hash::FxHashSet;
use std::hint::black_box;

const LOOKUPS: usize = 1024;

mod common;
use common::Rng;

/// `n` distinct strings of `lo..=hi` letters, and `LOOKUPS` queries, half of them members.
fn keys(n: usize, lo: u64, hi: u64, rng: &mut Rng) -> (Vec<String>, Vec<String>) {
    let mut seen = FxHashSet::default();
    let mut gen_one = |rng: &mut Rng| loop {
        let len = lo + rng.next() % (hi - lo + 1);
        let s: String = (0..len)
            .map(|_| char::from(b'a' + (rng.next() % 26) as u8))
            .collect();
        if seen.insert(s.clone()) {
            return s;
        }
    };
    let set: Vec<String> = (0..n).map(|_| gen_one(rng)).collect();
    let queries = (0..LOOKUPS)
        .map(|i| {
            if i % 2 == 0 {
                set[(rng.next() % n as u64) as usize].clone()
            } else {
                gen_one(rng)
            }
        })
        .collect();
    (set, queries)
}

fn bench_words(cr: &mut Criterion) {
    let mut rng = Rng(7);
    for n in [4usize, 8, 12, 16, 32, 64, 256, 4096] {
        let (set, queries) = keys(n, 2, 7, &mut rng);
        let mut sorted: Vec<u64> = set.iter().map(|s| word(s.as_bytes())).collect();
        sorted.sort_unstable();
        let perfect = PerfectWords::new(&sorted).expect("a layout");
        let qs: Vec<u64> = queries.iter().map(|s| word(s.as_bytes())).collect();
        // Every representation finds the same members before any is timed.
        let members = qs.iter().filter(|&&w| sorted.contains(&w)).count();
        assert_eq!(qs.iter().filter(|&&w| perfect.contains(w)).count(), members);
        assert_eq!(
            qs.iter()
                .filter(|&&w| sorted.binary_search(&w).is_ok())
                .count(),
            members
        );
        let mut g = cr.benchmark_group("word_sets");
        g.throughput(Throughput::Elements(LOOKUPS as u64));
        if n <= 64 {
            g.bench_with_input(BenchmarkId::new("scan", n), &qs, |b, qs| {
                b.iter(|| {
                    qs.iter()
                        .filter(|&&w| black_box(&sorted).contains(&w))
                        .count()
                })
            });
        }
        g.bench_with_input(BenchmarkId::new("binary search", n), &qs, |b, qs| {
            b.iter(|| {
                qs.iter()
                    .filter(|&&w| black_box(&sorted).binary_search(&w).is_ok())
                    .count()
            })
        });
        g.bench_with_input(BenchmarkId::new("perfect hash", n), &qs, |b, qs| {
            b.iter(|| {
                qs.iter()
                    .filter(|&&w| black_box(&perfect).contains(w))
                    .count()
            })
        });
        g.finish();
    }
}

fn bench_strs(cr: &mut Criterion) {
    let mut rng = Rng(11);
    for n in [4usize, 8, 16, 64, 4096] {
        let (mut set, queries) = keys(n, 8, 24, &mut rng);
        set.sort_unstable();
        let hashed: FxHashSet<Box<str>> = set.iter().map(|s| Box::from(s.as_str())).collect();
        let members = queries.iter().filter(|q| set.contains(q)).count();
        assert_eq!(
            queries
                .iter()
                .filter(|q| hashed.contains(q.as_str()))
                .count(),
            members
        );
        assert_eq!(
            queries
                .iter()
                .filter(|q| set.binary_search(q).is_ok())
                .count(),
            members
        );
        let mut g = cr.benchmark_group("string_sets");
        g.throughput(Throughput::Elements(LOOKUPS as u64));
        if n <= 16 {
            g.bench_with_input(BenchmarkId::new("scan", n), &queries, |b, qs| {
                b.iter(|| qs.iter().filter(|q| black_box(&set).contains(q)).count())
            });
        }
        if n <= 64 {
            g.bench_with_input(BenchmarkId::new("binary search", n), &queries, |b, qs| {
                b.iter(|| {
                    qs.iter()
                        .filter(|q| black_box(&set).binary_search(q).is_ok())
                        .count()
                })
            });
        }
        g.bench_with_input(BenchmarkId::new("fxhash set", n), &queries, |b, qs| {
            b.iter(|| {
                qs.iter()
                    .filter(|q| black_box(&hashed).contains(q.as_str()))
                    .count()
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench_words, bench_strs);
criterion_main!(benches);
