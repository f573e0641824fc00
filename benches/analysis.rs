//! How long the static analysis (`herald::analysis::lint_rule_set`) takes on a rule set of 100
//! portals of 10 `invite` branches each, with realistic conditions: a `require` of three clauses
//! (picklist, `??` default, age), branches over country lists, language preferences, value and
//! age ranges, creation dates, multiselect tags and the odd regex. The rule set is checked once,
//! outside the measurement; only the analysis is timed.
//!
//! Run with `cargo bench --bench analysis`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::fmt::Write as _;
use std::hint::black_box;

const COUNTRIES: [&str; 12] = [
    "FR", "BE", "CH", "LU", "MC", "DE", "AT", "ES", "IT", "PT", "GB", "US",
];
const LANGS: [&str; 10] = ["fr", "de", "es", "it", "pt", "nl", "pl", "sv", "da", "fi"];

fn rule_set_text(n_portals: usize) -> String {
    let mut s = String::new();
    s.push_str("schema Contacts {\n  id text\n  Full_Name text\n  Email email\n");
    let countries: Vec<String> = COUNTRIES.iter().map(|c| format!("\"{c}\"")).collect();
    let _ = writeln!(s, "  Mailing_Country picklist [{}]", countries.join(", "));
    s.push_str("  Preferred_Language picklist [\"fr\", \"de\", \"it\", \"en\"]\n");
    s.push_str("  Subscription picklist [\"paid\", \"trial\", \"free\"]\n");
    s.push_str("  Age integer\n  Lifetime_Value decimal\n  Opted_Out boolean\n");
    s.push_str("  Tags multiselect [\"vip\", \"beta\", \"partner\", \"recruiter\"]\n");
    s.push_str("  Created_Time datetime\n  Birth_Date date\n}\n\n");
    for p in 0..n_portals {
        let _ = writeln!(s, "portal \"Portal {p}\" {{\n  records Contacts");
        let _ = writeln!(
            s,
            "  require Subscription in [\"paid\", \"trial\"] and not (Opted_Out ?? false) and Age >= {}",
            16 + p % 5
        );
        for b in 0..10 {
            let c1 = COUNTRIES[(p + b) % 12];
            let c2 = COUNTRIES[(p + 2 * b + 1) % 12];
            let lang = LANGS[b];
            let cond = match b % 5 {
                0 => format!("Mailing_Country in [\"{c1}\", \"{c2}\"]"),
                1 => format!("Mailing_Country == \"{c1}\" and Preferred_Language == \"fr\""),
                2 => format!(
                    "Lifetime_Value >= {}.50 and Lifetime_Value < {} and Mailing_Country != \"{c2}\"",
                    100 * b,
                    100 * b + 250
                ),
                3 => format!(
                    "Created_Time >= @2025-0{}-01T00:00:00Z and (Tags contains \"vip\" or Age > {})",
                    1 + b % 9,
                    30 + b
                ),
                _ => format!(
                    "Birth_Date < @19{}-01-01 and Mailing_Country in [\"{c1}\"] or Email matches \"@example\\\\.{}$\"",
                    70 + b,
                    lang
                ),
            };
            let _ = writeln!(s, "  invite \"{lang}\" when {cond}");
        }
        s.push_str("  invite \"en\" otherwise\n}\n\n");
    }
    s
}

fn bench(c: &mut Criterion) {
    let text = rule_set_text(100);
    let mut resolve = |_: &str, _: &str| -> Result<(String, String), String> { Err("none".into()) };
    let loaded = herald::load::check_texts(vec![("bench.herald".into(), text, None)], &mut resolve);
    let set = loaded.rule_set.expect("the generated rule set checks");
    let findings = herald::analysis::lint_rule_set(&set).len();
    eprintln!("analysis: {findings} findings on 100 portals x 10 branches");
    let mut g = c.benchmark_group("analysis");
    g.sample_size(10);
    g.bench_function("100 portals x 10 branches", |b| {
        b.iter(|| black_box(herald::analysis::lint_rule_set(black_box(&set))))
    });
    g.bench_function("100 portals x 10 branches, portal-overlap on", |b| {
        b.iter(|| {
            black_box(herald::analysis::lint_rule_set_with(
                black_box(&set),
                herald::analysis::LintOptions {
                    portal_overlap: true,
                },
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
