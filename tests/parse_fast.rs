//! The parser's fast path against pest alone (`herald::syntax::reference`).
//!
//! `parse_condition` and `parse_rule_file` read the common, error-free subset of the language
//! with a hand-written reader and leave everything else to pest, which defines the language and
//! words every diagnostic. These tests hold the two to the same result, spans and diagnostics
//! included (compared by their `Debug` text, since the AST's `PartialEq` ignores spans), on
//! generated valid files and conditions, on the same with tokens deleted, doubled, swapped or
//! replaced by slips, and on every fixture and example with byte-level mutations. They also
//! check that the fast path does read what it is meant to read: every generated valid file and
//! every valid example (otherwise the speed would be lost without a failure).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::syntax::{parse_condition, parse_rule_file, reference};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

#[path = "support/rulegen.rs"]
mod rulegen;
use rulegen::{SEPARATORS, block, condition, join_with};

fn same_file(src: &str) -> Result<(), String> {
    let fast = format!("{:?}", parse_rule_file(src));
    let pest = format!("{:?}", reference::parse_rule_file(src));
    if fast == pest {
        Ok(())
    } else {
        Err(format!(
            "rule file parsed differently\n--- source ---\n{src}\n--- parse_rule_file ---\n{fast}\n--- pest alone ---\n{pest}"
        ))
    }
}

fn same_condition(src: &str) -> Result<(), String> {
    let fast = format!("{:?}", parse_condition(src));
    let pest = format!("{:?}", reference::parse_condition(src));
    if fast == pest {
        Ok(())
    } else {
        Err(format!(
            "condition parsed differently\n--- source ---\n{src}\n--- parse_condition ---\n{fast}\n--- pest alone ---\n{pest}"
        ))
    }
}

/// Tokens a mutation may put in: slips from other languages, words of the grammar in the wrong
/// place, malformed literals, stray brackets, comments and line breaks.
const SLIPS: &[&str] = &[
    "&&",
    "||",
    "=",
    "<>",
    "!",
    "!=",
    "==",
    "<",
    ">=",
    "'x'",
    "\"open",
    "\"\\q\"",
    "\"\\u{zz}\"",
    "\"\\u{1F600}\"",
    "1e5",
    "5.",
    ".5",
    "1.5.3",
    "-",
    "+",
    "??",
    "?",
    "30d",
    "-30d",
    "1.5d",
    "99999999999999999999",
    "9223372036854775807",
    "1_000_",
    "@2026-02-30",
    "@today",
    "@2026-01-31T09:30:00",
    "@",
    "(",
    ")",
    "[",
    "]",
    ",",
    "{",
    "}",
    ".",
    "a.",
    ".b",
    "a.in",
    "a . b",
    "`",
    "``",
    "`x`",
    "is",
    "is not",
    "null",
    "empty",
    "not",
    "not in",
    "in",
    "and",
    "or",
    "matches",
    "contains",
    "any",
    "all",
    "with",
    "starts",
    "ends",
    "true",
    "false",
    "f()",
    "in(1)",
    "lower(",
    "x,",
    "#",
    "# c\n",
    "\n",
    "\\",
    "invite",
    "when",
    "otherwise",
    "require",
    "records",
    "identity",
    "from",
    "group",
    "status",
    "on",
    "schema",
    "portal",
    "test",
    "record",
    "event",
    "now",
    "expect",
    "invites",
    "does",
    "because",
    "fails",
    "picklist",
    "multiselect",
    "object",
    "text",
    "X",
    "unknown_key",
    "\"s\"",
    "7",
    "-7",
    "{\"a\": [1, {\"b\": \"]\"}]}",
    "{ \"x\": ] }",
    "é",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Double(usize),
    Swap(usize),
    Replace(usize, usize),
    Insert(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Double),
        any::<usize>().prop_map(Mutation::Swap),
        (any::<usize>(), 0..SLIPS.len()).prop_map(|(i, s)| Mutation::Replace(i, s)),
        (any::<usize>(), 0..SLIPS.len()).prop_map(|(i, s)| Mutation::Insert(i, s)),
    ]
}

fn mutate(tokens: &mut Vec<String>, m: &Mutation) {
    let n = tokens.len();
    match *m {
        _ if n == 0 => tokens.push(SLIPS[0].to_string()),
        Mutation::Delete(i) => {
            tokens.remove(i % n);
        }
        Mutation::Double(i) => {
            let t = tokens[i % n].clone();
            tokens.insert(i % n, t);
        }
        Mutation::Swap(i) if n >= 2 => tokens.swap(i % (n - 1), i % (n - 1) + 1),
        Mutation::Swap(_) => {}
        Mutation::Replace(i, s) => tokens[i % n] = SLIPS[s].to_string(),
        Mutation::Insert(i, s) => tokens.insert(i % (n + 1), SLIPS[s].to_string()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Valid generated files: the fast path reads every one, with pest's result.
    #[test]
    fn generated_files_are_read_by_the_fast_path_as_pest_reads_them(
        blocks in prop::collection::vec(block(), 0..4),
        seps in prop::collection::vec(0..SEPARATORS.len(), 1..64),
    ) {
        let tokens: Vec<String> = blocks.into_iter().flatten().collect();
        let src = join_with(&tokens, &seps);
        same_file(&src).map_err(TestCaseError::fail)?;
        prop_assert!(reference::fast_path_reads_rule_file(&src), "the fast path gave up on a valid file:\n{src}");
    }

    /// The same files with one to three tokens deleted, doubled, swapped or replaced.
    #[test]
    fn mutated_files_parse_as_pest_parses_them(
        blocks in prop::collection::vec(block(), 1..4),
        seps in prop::collection::vec(0..SEPARATORS.len(), 1..64),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut tokens: Vec<String> = blocks.into_iter().flatten().collect();
        for m in &mutations {
            mutate(&mut tokens, m);
        }
        same_file(&join_with(&tokens, &seps)).map_err(TestCaseError::fail)?;
    }

    /// Valid generated conditions on their own: read by the fast path, as pest reads them.
    #[test]
    fn generated_conditions_are_read_by_the_fast_path_as_pest_reads_them(
        cond in condition(),
        seps in prop::collection::vec(0..SEPARATORS.len(), 1..32),
    ) {
        let src = join_with(&cond, &seps);
        same_condition(&src).map_err(TestCaseError::fail)?;
        prop_assert!(reference::fast_path_reads_condition(&src), "the fast path gave up on a valid condition:\n{src}");
    }

    /// Conditions with one to three tokens mutated, alone and as a `require` line followed by
    /// other portal lines (where an expression's end is decided by what follows it).
    #[test]
    fn mutated_conditions_parse_as_pest_parses_them(
        cond in condition(),
        seps in prop::collection::vec(0..SEPARATORS.len(), 1..32),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut tokens = cond;
        for m in &mutations {
            mutate(&mut tokens, m);
        }
        let src = join_with(&tokens, &seps);
        same_condition(&src).map_err(TestCaseError::fail)?;
        let file = format!("portal \"P\" {{\n  require {src}\n  invite \"fr\" when {src}\n  invite \"en\" otherwise\n}}\n");
        same_file(&file).map_err(TestCaseError::fail)?;
    }

    /// Random token soup: mostly errors, which the fast path must leave to pest.
    #[test]
    fn token_soup_parses_as_pest_parses_it(
        picks in prop::collection::vec(0..SLIPS.len(), 0..24),
        seps in prop::collection::vec(0..SEPARATORS.len(), 1..24),
    ) {
        let tokens: Vec<String> = picks.iter().map(|&i| SLIPS[i].to_string()).collect();
        let src = join_with(&tokens, &seps);
        same_condition(&src).map_err(TestCaseError::fail)?;
        same_file(&src).map_err(TestCaseError::fail)?;
    }
}

fn herald_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            herald_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "herald") {
            out.push(p);
        }
    }
}

fn corpus() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    herald_files(&root.join("examples"), &mut files);
    herald_files(&root.join("tests/fixtures"), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|s| (p, s)))
        .collect()
}

/// Every example and fixture: the same result, and the valid ones read by the fast path.
#[test]
fn fixtures_and_examples_parse_as_pest_parses_them() {
    let files = corpus();
    assert!(files.len() > 50, "fixtures not found");
    let mut read_fast = 0;
    for (path, src) in &files {
        same_file(src).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (ast, diags) = reference::parse_rule_file(src);
        let unknown_key = ast.as_ref().is_some_and(|f| {
            f.items.iter().any(|i| match i {
                herald::ast::Item::Portal(p) => p
                    .items
                    .iter()
                    .any(|it| matches!(it, herald::ast::PortalItem::Unknown(..))),
                _ => false,
            })
        });
        if ast.is_some() && diags.is_empty() && !unknown_key {
            assert!(
                reference::fast_path_reads_rule_file(src),
                "{}: the fast path gave up on a valid file",
                path.display()
            );
        }
        if reference::fast_path_reads_rule_file(src) {
            read_fast += 1;
        }
    }
    assert!(
        read_fast > 20,
        "only {read_fast} files read by the fast path"
    );
}

/// Every example and fixture with byte ranges deleted or doubled and slips inserted at
/// pseudo-random places (a fixed seed, so a failure reproduces).
#[test]
fn mutated_fixtures_parse_as_pest_parses_them() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound.max(1) as u64) as usize
    };
    for (path, src) in corpus() {
        for _ in 0..12 {
            let mut text = src.clone();
            for _ in 0..1 + next(3) {
                let mut at = next(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                match next(3) {
                    0 => {
                        let mut end = (at + 1 + next(12)).min(text.len());
                        while !text.is_char_boundary(end) {
                            end -= 1;
                        }
                        text.replace_range(at..end, "");
                    }
                    1 => {
                        let mut end = (at + 1 + next(12)).min(text.len());
                        while !text.is_char_boundary(end) {
                            end -= 1;
                        }
                        let piece = text[at..end].to_string();
                        text.insert_str(at, &piece);
                    }
                    _ => text.insert_str(at, SLIPS[next(SLIPS.len())]),
                }
            }
            same_file(&text).unwrap_or_else(|e| panic!("{} mutated: {e}", path.display()));
        }
    }
}

/// Fixed cases at the edges of the fast path: each is compared with pest, and whether the fast
/// path reads it is stated.
#[test]
fn edge_cases() {
    let conditions: &[(&str, bool)] = &[
        ("a == 1", true),
        ("not not a", true),
        ("a.b.`c d` in [1, -2, 3.5, \"x\",]", true),
        ("a contains any [\"x\"] or b starts with \"y\"", true),
        ("tags contains any_thing", true),
        ("tags contains all", false),
        ("a is not null", true),
        ("a is null is null", false),
        ("a == b == c", false),
        ("a ?? b ?? c == 1", true),
        ("d + 30d - 12h > @2026-01-01", true),
        ("d + 3 > @2026-01-01", false),
        ("d - -5 > 1", false),
        ("f(a, b) and g()", true),
        ("f(a,)", false),
        ("in(1)", false),
        ("not_x and x_not and index", true),
        ("a.in", false),
        ("x == \"a\\u{1F600}\\n\"", true),
        ("x == \"\\q\"", false),
        ("x == 'a'", false),
        ("x && y", false),
        ("x = 1", false),
        ("x <> 1", false),
        ("!x", false),
        ("x == 1.", false),
        ("x == 1_000_", true),
        ("x == 1e5", false),
        ("x == @2026-02-30", false),
        ("x == 99999999999999999999", false),
        ("x == 9223372036854775807", true),
        ("x in [30d]", true),
        ("x in [a or b]", true),
        ("x == `` ", false),
        ("(a or b) and (c or d)", true),
        ("a # comment\n and b", true),
        ("", false),
        ("a b", false),
        ("a matches \"^x\"", true),
        ("a not in [1]", true),
        ("a not b", false),
    ];
    for (src, fast) in conditions {
        same_condition(src).unwrap();
        assert_eq!(
            reference::fast_path_reads_condition(src),
            *fast,
            "fast path on {src:?}"
        );
    }
    let files: &[(&str, bool)] = &[
        ("", true),
        ("# only a comment\n", true),
        (
            "portal \"P\" {\n  records C\n  require a == 1\n  or b\n  invite \"fr\"\n}",
            true,
        ),
        ("portal \"P\" {\n  require a ==\n  invite \"fr\"\n}", false),
        ("portal \"P\" {\n  colour blue\n}", false),
        ("portal \"P\" {\n  invite \"fr\" when\n}", false),
        (
            "test \"t\" {\n  record { \"a\": \"}\" }\n  expect \"P\" does not invite because x-y\n}",
            true,
        ),
        (
            "test \"t\" {\n  expect \"P\" does not invites \"fr\"\n}",
            false,
        ),
        ("test \"t\" {\n  expect \"P\" invites\"fr\"\n}", true),
        (
            "schema S { a picklist [\"x\", \"y\",] b object { c text } }",
            true,
        ),
        ("schema S { a picklist }", false),
        ("schema S { a picklist [1] }", false),
        ("schema S from \"s.json\"", true),
        ("schema S { `` text }", true),
        // A comment ends at a lone carriage return too: the field's span ends at its type,
        // not at the comment before it (found by the `parse_fast` fuzz target).
        ("schema S {\n  te # comment\r\r  Zip\n}\n", true),
        (
            "portal \"P\" {\r  require a # c\r  == 1\r  invite \"fr\"\r}",
            true,
        ),
    ];
    for (src, fast) in files {
        same_file(src).unwrap();
        assert_eq!(
            reference::fast_path_reads_rule_file(src),
            *fast,
            "fast path on {src:?}"
        );
    }
}

/// Inputs the `parse_fast` fuzz target found (`tests/fixtures/fuzz/parse_fast/`), decoded as the
/// target decodes them.
#[test]
fn fuzz_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/parse_fast");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        let (text, _) = herald::load::decode(&bytes);
        same_file(&text).unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
        same_condition(&text).unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
        n += 1;
    }
    assert!(n > 0, "no regression inputs in {}", dir.display());
}
