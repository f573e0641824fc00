//! How long `herald check` takes on 1,000 rule files of realistic size: parse + check through
//! [`herald::load::check_texts`], the function `herald check` runs per rule set once the files
//! are read.
//!
//! Each generated file holds a schema of 40 fields (text, email, phone, picklists of 12 values,
//! multiselects, numbers, dates, a nested object) and 5 portals of 4 `invite` branches each
//! (a `require` of 4 clauses; `in` lists, comparisons, `contains`, `matches`, `??`, dates),
//! plus 2 test blocks: about 6 KB, 150 lines.
//!
//! Two shapes, both 1,000 files:
//! - `1000 rule sets of 1 file`: what `herald check` does on 1,000 directories of one file each
//!   (or 1,000 files named on the command line): 1,000 calls of `check_texts`;
//! - `1 rule set of 1000 files`: one directory of 1,000 files (names made unique per file):
//!   one call of `check_texts`.
//!
//! A third measurement, `parse only`, runs just `herald::syntax::parse_rule_file` on the same
//! 1,000 files: the share of parsing in the totals.
//!
//! The bench uses the `herald` binary's global allocator (mimalloc), so that it measures what
//! `herald check` does. With the system allocator (glibc) the same work took 1.28 s instead of
//! about 0.8 s for one rule set of 1,000 files on 2026-11-28 (`docs/performance.md`).
//!
//! Run with `cargo bench --bench check`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, criterion_group, criterion_main};

/// As in `src/bin/herald.rs`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::fmt::Write as _;
use std::hint::black_box;

const N_FILES: usize = 1_000;

const COUNTRIES: [&str; 12] = [
    "FR", "BE", "CH", "LU", "MC", "DE", "AT", "ES", "IT", "PT", "GB", "US",
];
const LANGS: [&str; 5] = ["fr", "de", "es", "it", "pt"];

/// Rule file number `n`. With `unique`, schema, portal and test names carry the number so that
/// 1,000 files can form one rule set.
fn rule_file(n: usize, unique: bool) -> String {
    let mut s = String::with_capacity(8 * 1024);
    let (schema, suffix) = if unique {
        (format!("Contacts_{n}"), format!(" {n}"))
    } else {
        (String::from("Contacts"), String::new())
    };
    let _ = writeln!(
        s,
        "# Generated rule file #{n}: portals of one CRM organisation."
    );
    let _ = writeln!(s, "schema {schema} {{");
    let _ = writeln!(s, "  id                 text");
    let _ = writeln!(s, "  Full_Name          text");
    let _ = writeln!(s, "  Email              email");
    let _ = writeln!(s, "  Phone              phone");
    let list = |values: &[&str]| {
        values
            .iter()
            .map(|v| format!("\"{v}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(s, "  Mailing_Country    picklist [{}]", list(&COUNTRIES));
    let _ = writeln!(
        s,
        "  Preferred_Language picklist [\"fr\", \"de\", \"es\", \"it\", \"pt\", \"en\"]"
    );
    let _ = writeln!(
        s,
        "  Subscription       picklist [\"paid\", \"trial\", \"free\", \"cancelled\"]"
    );
    let _ = writeln!(
        s,
        "  Tags               multiselect [\"vip\", \"beta\", \"partner\", \"student\", \"recruiter\"]"
    );
    let _ = writeln!(s, "  Age                integer");
    let _ = writeln!(s, "  Lifetime_Value     currency");
    let _ = writeln!(s, "  Score              decimal");
    let _ = writeln!(s, "  Opted_Out          boolean");
    let _ = writeln!(s, "  Email_Verified     boolean");
    let _ = writeln!(s, "  Signup_Date        date");
    let _ = writeln!(s, "  Last_Login         datetime");
    let _ = writeln!(s, "  Address            object {{");
    let _ = writeln!(s, "    Street           text");
    let _ = writeln!(s, "    City             text");
    let _ = writeln!(s, "    Zip              text");
    let _ = writeln!(s, "  }}");
    // 40 fields in all: 16 above (the object counts as one), 24 generic ones.
    for i in 0..24 {
        let ty = match i % 6 {
            0 => String::from("text"),
            1 => String::from("integer"),
            2 => String::from("decimal"),
            3 => String::from("boolean"),
            4 => String::from("date"),
            _ => format!("picklist [{}]", list(&["a", "b", "c", "d", "e", "f"])),
        };
        let _ = writeln!(s, "  Custom_Field_{i:02}    {ty}");
    }
    let _ = writeln!(s, "}}\n");
    for p in 0..5 {
        let _ = writeln!(s, "portal \"Portal {p}{suffix}\" {{");
        let _ = writeln!(s, "  records  {schema}");
        let _ = writeln!(s, "  identity id, Full_Name, Email");
        let _ = writeln!(s, "  from     group \"Team {p}\"");
        let _ = writeln!(s, "  status   {}", if p == 4 { "paused" } else { "active" });
        let _ = writeln!(s, "  on       create, update");
        let _ = writeln!(
            s,
            "  require  Subscription in [\"paid\", \"trial\"] and not (Opted_Out ?? false)\n           and Signup_Date >= @2024-01-01 and Custom_Field_{:02} > {}",
            (p * 6 + 1) % 24,
            p * 10
        );
        for b in 0..4 {
            let lang = LANGS[(p + b) % LANGS.len()];
            let c1 = COUNTRIES[(p + b) % COUNTRIES.len()];
            let c2 = COUNTRIES[(p + b + 3) % COUNTRIES.len()];
            let cond = match b {
                0 => format!(
                    "Mailing_Country in [\"{c1}\", \"{c2}\"] or (Mailing_Country == \"CH\" and Preferred_Language == \"{lang}\")"
                ),
                1 => format!(
                    "Mailing_Country == \"{c1}\" and Tags contains any [\"vip\", \"partner\"] and Lifetime_Value >= 1000.50"
                ),
                2 => format!(
                    "Address.City starts with \"Pa\" and lower(Email) ends with \".{}\" and Last_Login > now() - 30d",
                    c1.to_lowercase()
                ),
                _ => String::from(
                    "Email matches \"^[a-z.]+@example\\\\.(fr|de)$\" and Age >= 18 and Custom_Field_05 == \"c\"",
                ),
            };
            let _ = writeln!(s, "  invite \"{lang}\" when {cond}");
        }
        let _ = writeln!(s, "}}\n");
    }
    for t in 0..2 {
        let _ = writeln!(s, "test \"a paying customer #{t}{suffix}\" {{");
        let _ = writeln!(
            s,
            "  record {{ \"id\": \"c{t}\", \"Full_Name\": \"Anne Martin\", \"Email\": \"anne@example.fr\",\n           \"Subscription\": \"paid\", \"Mailing_Country\": \"FR\", \"Tags\": [\"vip\"] }}"
        );
        let _ = writeln!(s, "  event update");
        let _ = writeln!(s, "  expect \"Portal 0{suffix}\" invites \"fr\"");
        let _ = writeln!(
            s,
            "  expect \"Portal 4{suffix}\" does not invite because paused"
        );
        let _ = writeln!(s, "}}\n");
    }
    s
}

fn no_schema_files(_: &str, rel: &str) -> Result<(String, String), String> {
    Err(format!("no schema file `{rel}` in the benchmark"))
}

fn files(unique_names: bool) -> Vec<(String, String)> {
    (0..N_FILES)
        .map(|n| (format!("rules/r{n:04}.herald"), rule_file(n, unique_names)))
        .collect()
}

fn bench_check(c: &mut Criterion) {
    let separate = files(false);
    let together = files(true);
    // `HERALD_CHECK_BENCH_DUMP=DIR cargo bench --bench check` writes the 1,000 files of the
    // one-rule-set shape into DIR and stops: to profile `herald check DIR` itself.
    if let Some(dir) = std::env::var_os("HERALD_CHECK_BENCH_DUMP") {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in &together {
            let file = std::path::Path::new(name).file_name().unwrap();
            std::fs::write(std::path::Path::new(&dir).join(file), text).unwrap();
        }
        eprintln!(
            "wrote {} files into {}",
            together.len(),
            dir.to_string_lossy()
        );
        return;
    }
    let bytes: usize = separate.iter().map(|(_, t)| t.len()).sum();
    let lines: usize = separate.iter().map(|(_, t)| t.lines().count()).sum();
    eprintln!(
        "check bench: {N_FILES} files, {:.1} MB, {lines} lines",
        bytes as f64 / 1e6
    );

    // Sanity: the generated rules are valid, so the benchmark measures the full pipeline.
    let one = herald::load::check_texts(
        vec![(separate[0].0.clone(), separate[0].1.clone(), None)],
        &mut no_schema_files,
    );
    assert!(one.diagnostics.is_empty(), "{:?}", one.diagnostics);
    assert!(one.rule_set.is_some());
    let all = herald::load::check_texts(
        together
            .iter()
            .map(|(n, t)| (n.clone(), t.clone(), None))
            .collect(),
        &mut no_schema_files,
    );
    assert!(all.diagnostics.is_empty(), "{:?}", all.diagnostics.first());
    assert_eq!(
        all.rule_set.as_ref().map(|s| s.portals.len()),
        Some(5 * N_FILES)
    );

    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    group.bench_function("1000 rule sets of 1 file", |b| {
        b.iter(|| {
            let mut n_diags = 0;
            for (name, text) in &separate {
                let loaded = herald::load::check_texts(
                    vec![(name.clone(), text.clone(), None)],
                    &mut no_schema_files,
                );
                n_diags += loaded.diagnostics.len();
                black_box(&loaded);
            }
            n_diags
        });
    });
    group.bench_function("1 rule set of 1000 files", |b| {
        b.iter(|| {
            let texts = together
                .iter()
                .map(|(n, t)| (n.clone(), t.clone(), None))
                .collect();
            black_box(herald::load::check_texts(texts, &mut no_schema_files))
        });
    });
    // The share of parsing (pest + lowering to the AST) in the above.
    group.bench_function("parse only, 1000 files", |b| {
        b.iter(|| {
            for (_, text) in &separate {
                black_box(herald::syntax::parse_rule_file(black_box(text)));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
