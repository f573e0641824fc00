//! Set membership by size (issue #5: "set membership, hashed, sorted or perfect-hashed by
//! size"): Herald's own sets (`compile::WordSet` for strings of up to seven bytes,
//! `compile::StrSet` for the others) beside the representations they choose between, on the
//! same keys and the same lookups (members and non-members in random order), to place the
//! thresholds. Run: `cargo bench --bench sets`. Each measurement is 1,024 lookups.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use herald::compile::{StrSet, WordSet, word};
use herald::phf::PerfectWords;
use rustc_hash::FxHashSet;
use std::hint::black_box;
use std::sync::Arc;

const LOOKUPS: usize = 1024;

mod common;
use common::Rng;

/// `n` distinct strings of `lo..=hi` letters, and `LOOKUPS` queries, about half of them
/// members, in random order.
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
    let mut set: Vec<String> = (0..n).map(|_| gen_one(rng)).collect();
    set.sort_unstable();
    let queries = (0..LOOKUPS)
        .map(|_| {
            if rng.next() % 2 == 0 {
                set[(rng.next() % n as u64) as usize].clone()
            } else {
                gen_one(rng)
            }
        })
        .collect();
    (set, queries)
}

/// Times `contains` over the queries under `name`, after checking it finds `members`.
fn row<Q>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    n: usize,
    qs: &[Q],
    members: usize,
    contains: impl Fn(&Q) -> bool,
) {
    assert_eq!(qs.iter().filter(|q| contains(q)).count(), members, "{name}");
    g.bench_with_input(BenchmarkId::new(name, n), qs, |b, qs| {
        b.iter(|| qs.iter().filter(|q| contains(black_box(q))).count())
    });
}

fn bench_words(cr: &mut Criterion) {
    let mut rng = Rng(7);
    for n in [4usize, 8, 12, 16, 32, 64, 256, 4096] {
        let (set, queries) = keys(n, 2, 7, &mut rng);
        let mut sorted: Vec<u64> = set.iter().map(|s| word(s.as_bytes())).collect();
        sorted.sort_unstable();
        let herald = Arc::new(WordSet::new(sorted.clone()));
        let perfect = PerfectWords::new(&sorted).expect("a layout");
        let qs: Vec<u64> = queries.iter().map(|s| word(s.as_bytes())).collect();
        let members = qs.iter().filter(|&&w| sorted.contains(&w)).count();
        let mut g = cr.benchmark_group("word_sets");
        g.throughput(Throughput::Elements(LOOKUPS as u64));
        row(&mut g, "WordSet", n, &qs, members, |&w| {
            black_box(&herald).contains(w)
        });
        if n <= 64 {
            row(&mut g, "scan", n, &qs, members, |w| {
                black_box(&sorted).contains(w)
            });
        }
        row(&mut g, "binary search", n, &qs, members, |w| {
            black_box(&sorted).binary_search(w).is_ok()
        });
        row(&mut g, "perfect hash", n, &qs, members, |&w| {
            black_box(&perfect).contains(w)
        });
        g.finish();
    }
}

fn bench_strs(cr: &mut Criterion) {
    let mut rng = Rng(11);
    // `StrSet` on strings of 8–24 bytes, of exactly 8 bytes (no word either) and of 2–7 bytes
    // (the tree evaluator's sets; flat programs make those `WordSet`s).
    for (group, lo, hi, sizes) in [
        ("string_sets", 8, 24, &[2usize, 3, 4, 8, 16, 64, 4096][..]),
        ("eight_byte_string_sets", 8, 8, &[16, 64][..]),
        ("short_string_sets", 2, 7, &[2, 3, 4, 8, 16, 64][..]),
    ] {
        for &n in sizes {
            let (set, queries) = keys(n, lo, hi, &mut rng);
            let herald = Arc::new(StrSet::new(&set));
            let hashed: FxHashSet<Box<str>> = set.iter().map(|s| Box::from(s.as_str())).collect();
            let members = queries.iter().filter(|q| set.contains(q)).count();
            let mut g = cr.benchmark_group(group);
            g.throughput(Throughput::Elements(LOOKUPS as u64));
            row(&mut g, "StrSet", n, &queries, members, |q| {
                black_box(&herald).contains(q)
            });
            if n <= 16 {
                row(&mut g, "scan", n, &queries, members, |q| {
                    black_box(&set).contains(q)
                });
            }
            if n <= 64 {
                row(&mut g, "binary search", n, &queries, members, |q| {
                    black_box(&set).binary_search(q).is_ok()
                });
            }
            row(&mut g, "fxhash set", n, &queries, members, |q| {
                black_box(&hashed).contains(q.as_str())
            });
            g.finish();
        }
    }
}

criterion_group!(benches, bench_words, bench_strs);
criterion_main!(benches);
