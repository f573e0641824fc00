//! `herald fmt`: golden layouts, idempotence, meaning and comments kept, on fixtures and on
//! generated rule files.
//!
//! Goldens are `tests/fixtures/fmt/<case>.in.herald` (input) and `<case>.out.herald` (the
//! expected output). `UPDATE_FMT=1 cargo test --test fmt` rewrites the outputs from the inputs;
//! review the diff.
//!
//! "Same meaning" compares the ASTs that `herald::syntax::parse_rule_file` returns, spans aside.
//! The AST's derived `PartialEq` still compares the spans of blocks, lines and comparison
//! operators, so the comparison here is on the `Debug` text of the ASTs with every span removed
//! (stricter than `==` in one way: parentheses must be kept too), with JSON records compared
//! without the whitespace between their tokens (fmt re-indents a record's continuation lines).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::ast::{Item, PortalItem, RuleFile, TestItem};
use herald::fmt::format_source;
use herald::syntax::parse_rule_file;
use proptest::prelude::*;

#[path = "support/rulegen.rs"]
mod rulegen;
use rulegen::{SEPARATORS, block, condition, join_with, toks};
use std::path::{Path, PathBuf};

const GOLDEN: &str = "tests/fixtures/fmt";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fmt(src: &str) -> String {
    match format_source(src) {
        Ok(out) => out,
        Err(diags) => panic!(
            "format failed: {}\n--- source ---\n{src}",
            diags
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// Every `.herald` file under `dir`, sorted.
fn herald_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "herald") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The rule files of the repository that parse (decoded as `herald` decodes them).
fn parseable_fixtures() -> Vec<(PathBuf, String)> {
    let mut files = herald_files(&root().join("examples"));
    files.extend(herald_files(&root().join("tests/fixtures")));
    let mut out = Vec::new();
    for f in files {
        let (text, problem) = herald::load::decode(&std::fs::read(&f).unwrap());
        if problem.is_some() {
            continue;
        }
        let (ast, diags) = parse_rule_file(&text);
        if ast.is_some() && !diags.iter().any(|d| d.is_error()) {
            out.push((f, text));
        }
    }
    assert!(
        out.len() >= 20,
        "expected the repository's rule files, found {}",
        out.len()
    );
    out
}

// ---------------------------------------------------------------------------------------------
// Oracles
// ---------------------------------------------------------------------------------------------

/// The AST of `src` as text without spans, JSON records without whitespace between tokens.
fn meaning(src: &str) -> String {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let (ast, diags) = parse_rule_file(src);
    let mut ast: RuleFile = match ast {
        Some(a) if !diags.iter().any(|d| d.is_error()) => a,
        _ => panic!("does not parse: {diags:?}\n--- source ---\n{src}"),
    };
    for item in &mut ast.items {
        if let Item::Test(t) = item {
            for ti in &mut t.items {
                if let TestItem::Record(text, _) = ti {
                    *text = strip_json_whitespace(text);
                }
            }
        }
    }
    let debug = format!("{ast:#?}");
    debug
        .lines()
        .filter(|l| {
            let t = l.trim();
            !((t.starts_with("start: ") || t.starts_with("end: "))
                && t.trim_end_matches(',')
                    .rsplit(' ')
                    .next()
                    .is_some_and(|n| n.parse::<usize>().is_ok()))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn strip_json_whitespace(text: &str) -> String {
    let mut out = String::new();
    let (mut in_str, mut esc) = (false, false);
    for c in text.chars() {
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The comments of `src`, sorted (a multiset), each without trailing whitespace. A comment is
/// `#` to the end of the line outside strings, back-quoted labels, JSON records and the rest of
/// an unknown portal line (found through the AST).
fn comments(src: &str) -> Vec<String> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let (ast, _) = parse_rule_file(src);
    let mut skip: Vec<(usize, usize)> = Vec::new();
    for item in ast.map(|a| a.items).unwrap_or_default() {
        match item {
            Item::Test(t) => {
                for ti in t.items {
                    if let TestItem::Record(_, s) = ti {
                        skip.push((s.start, s.end));
                    }
                }
            }
            Item::Portal(p) => {
                for pi in p.items {
                    if let PortalItem::Unknown(k, s) = pi {
                        skip.push((k.span.start, s.end));
                    }
                }
            }
            Item::Schema(_) => {}
        }
    }
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if let Some(&(_, end)) = skip.iter().find(|(s, e)| *s <= pos && pos < *e) {
            while i < chars.len() && chars[i].0 < end {
                i += 1;
            }
            continue;
        }
        match c {
            '"' | '`' => {
                i += 1;
                while i < chars.len() && !matches!(chars[i].1, '\n' | '\r') {
                    let d = chars[i].1;
                    i += 1;
                    if d == c {
                        break;
                    }
                    if d == '\\' && c == '"' {
                        i += 1;
                    }
                }
            }
            '#' => {
                let start = i;
                while i < chars.len() && !matches!(chars[i].1, '\n' | '\r') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().map(|(_, c)| *c).collect();
                out.push(text.trim_end().to_string());
            }
            _ => i += 1,
        }
    }
    out.sort();
    out
}

/// Everything `fmt` promises about one source: same meaning, same comments, idempotent, and an
/// output in canonical form (no trailing whitespace, no tab, `\n` line endings, one final newline).
fn assert_fmt_laws(name: &str, src: &str) -> String {
    let once = fmt(src);
    assert_eq!(
        meaning(&once),
        meaning(src),
        "{name}: fmt changed the meaning\n{once}"
    );
    assert_eq!(
        comments(&once),
        comments(src),
        "{name}: fmt lost or changed a comment\n{once}"
    );
    let twice = fmt(&once);
    assert_eq!(twice, once, "{name}: fmt is not idempotent");
    assert!(!once.contains('\r'), "{name}: a carriage return is left");
    assert!(
        !once.starts_with('\u{feff}'),
        "{name}: the byte-order mark is left"
    );
    for (n, line) in once.lines().enumerate() {
        assert_eq!(
            line,
            line.trim_end(),
            "{name}: trailing whitespace on line {}",
            n + 1
        );
        assert!(
            !line.starts_with('\t'),
            "{name}: tab indentation on line {}",
            n + 1
        );
    }
    assert!(
        once.is_empty() || (once.ends_with('\n') && !once.ends_with("\n\n")),
        "{name}: ending"
    );
    once
}

// ---------------------------------------------------------------------------------------------
// Goldens and fixtures
// ---------------------------------------------------------------------------------------------

#[test]
fn golden_layouts() {
    let dir = root().join(GOLDEN);
    let update = std::env::var_os("UPDATE_FMT").is_some();
    let mut n = 0;
    for input in herald_files(&dir) {
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        let Some(case) = name.strip_suffix(".in.herald") else {
            continue;
        };
        n += 1;
        let src = std::fs::read_to_string(&input).unwrap();
        let got = assert_fmt_laws(case, &src);
        let expected_path = dir.join(format!("{case}.out.herald"));
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!("missing {}; run with UPDATE_FMT=1", expected_path.display())
        });
        assert_eq!(
            got, expected,
            "golden `{case}` differs (UPDATE_FMT=1 rewrites it)"
        );
        // The expected layout is a fixed point.
        assert_eq!(
            fmt(&expected),
            expected,
            "golden `{case}`: the output is not canonical"
        );
    }
    assert!(
        n >= 5,
        "expected the golden cases under {GOLDEN}, found {n}"
    );
}

#[test]
fn every_fixture_keeps_meaning_and_comments_and_is_idempotent() {
    for (path, text) in parseable_fixtures() {
        assert_fmt_laws(&path.display().to_string(), &text);
    }
}

#[test]
fn shipped_examples_are_formatted() {
    for path in herald_files(&root().join("examples")) {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            fmt(&text),
            text,
            "{} is not formatted; run `herald fmt examples/`",
            path.display()
        );
    }
}

#[test]
fn long_conditions_are_broken_within_the_width() {
    let out =
        std::fs::read_to_string(root().join(GOLDEN).join("long_conditions.out.herald")).unwrap();
    for line in out.lines() {
        assert!(
            line.chars().count() <= herald::fmt::MAX_WIDTH,
            "line over {} columns: {line}",
            herald::fmt::MAX_WIDTH
        );
    }
    // Continuation lines start with the operator, under the condition's first column.
    assert!(
        out.contains(
            "  require  Subscription in [\"paid\", \"trial\"]\n           and Signup_Date"
        )
    );
}

#[test]
fn the_before_and_after_of_docs_fmt_md_is_true() {
    let doc = std::fs::read_to_string(root().join("docs/fmt.md")).unwrap();
    let block_after = |marker: &str| -> String {
        let rest = &doc[doc.find(marker).unwrap_or_else(|| panic!("no {marker:?}"))..];
        let start = rest.find("```\n").unwrap() + 4;
        let len = rest[start..].find("```\n").unwrap();
        rest[start..start + len].to_string()
    };
    let before = block_after("Before:\n");
    let after = block_after("After `herald fmt`:\n");
    assert_eq!(assert_fmt_laws("docs/fmt.md", &before), after);
}

// ---------------------------------------------------------------------------------------------
// Edge cases
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("  \n\n\t\n"), "");
    assert_eq!(
        fmt("\n\n# only a comment   \n\n\n# and another\n"),
        "# only a comment\n\n# and another\n"
    );
}

#[test]
fn bom_is_dropped_and_crlf_becomes_lf() {
    let src = "\u{feff}portal \"P\" {\r\n  invite \"fr\"   # French\r\n}\r\n";
    assert_eq!(fmt(src), "portal \"P\" {\n  invite \"fr\"  # French\n}\n");
    let crlf_condition =
        "portal \"P\" {\r\n  require a == 1 # c\r\n    and b == 2\r\n  invite \"fr\"\r\n}\r\n";
    assert_eq!(
        assert_fmt_laws("crlf", crlf_condition),
        "portal \"P\" {\n  require  a == 1  # c\n           and b == 2\n  invite \"fr\"\n}\n"
    );
}

#[test]
fn literals_and_labels_are_kept_as_written() {
    let src = "portal \"P\" { require n == 1_000 and d < 1000.50 and `Email` == \"caf\\u{E9} # x\" \
               and t >= @2026-01-31T09:30:00+00:00 invite \"fr\" }\n";
    let out = assert_fmt_laws("literals", src);
    assert_eq!(
        out,
        "portal \"P\" {\n  require  n == 1_000\n           and d < 1000.50\n           \
         and `Email` == \"caf\\u{E9} # x\"\n           and t >= @2026-01-31T09:30:00+00:00\n  \
         invite \"fr\"\n}\n"
    );
}

#[test]
fn trailing_commas_are_dropped() {
    let out = assert_fmt_laws(
        "commas",
        "schema S { c picklist [\"a\", \"b\",] }\nportal \"P\" { invite \"fr\" when c in [\"a\",] }\n",
    );
    assert_eq!(
        out,
        "schema S {\n  c  picklist [\"a\", \"b\"]\n}\n\nportal \"P\" {\n  invite \"fr\" when c in [\"a\"]\n}\n"
    );
}

#[test]
fn files_with_syntax_errors_are_not_formatted() {
    let diags = format_source("portal \"P\" {\n  require a = 1\n  invite \"fr\"\n}\n").unwrap_err();
    assert!(
        diags
            .iter()
            .any(|d| d.is_error() && d.code.as_str() == "syntax"),
        "{diags:?}"
    );
    let diags =
        format_source("portal \"P\" {\n  invite \"fr\" when a == \"\\q\"\n}\n").unwrap_err();
    assert!(!diags.is_empty());
    let diags = format_source("portal {").unwrap_err();
    assert!(!diags.is_empty());
}

#[test]
fn deep_nesting_is_formatted_without_overflow() {
    // The grammar's limit is 256 levels; run on a thread with a small stack, as hosts may.
    let depth = 250;
    let cond = format!("{}a == 1{}", "(".repeat(depth), ")".repeat(depth));
    let src = format!("portal \"P\" {{\n  require {cond}\n  invite \"fr\"\n}}\n");
    let out = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || format_source(&src).map(|o| (o, src)))
        .unwrap()
        .join()
        .unwrap();
    let (out, src) = out.unwrap();
    assert_eq!(meaning(&out), meaning(&src));
    assert_eq!(fmt(&out), out);
}

#[test]
fn unknown_portal_keys_are_kept_as_written() {
    let src = "portal \"P\" {\n    sender  \"x  #  y\"   'z'   # a comment\n  invite \"fr\"\n}\n";
    let out = assert_fmt_laws("unknown", src);
    assert_eq!(
        out,
        "portal \"P\" {\n  sender   \"x  #  y\"   'z'  # a comment\n  invite \"fr\"\n}\n"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn generated_files_keep_meaning_and_comments_and_are_idempotent(
        blocks in prop::collection::vec(block(), 0..4),
        seps in prop::collection::vec(0..SEPARATORS.len(), 1..64),
        bom in any::<bool>(),
    ) {
        let tokens: Vec<String> = blocks.into_iter().flatten().collect();
        let mut src = join_with(&tokens, &seps);
        if bom {
            src.insert(0, '\u{feff}');
        }
        // The generator only writes valid files.
        let (ast, diags) = parse_rule_file(src.trim_start_matches('\u{feff}'));
        prop_assert!(ast.is_some() && !diags.iter().any(|d| d.is_error()), "generated an invalid file: {diags:?}\n{src}");
        let once = assert_fmt_laws("generated", &src);
        // Long lines are broken where the layout allows; nothing here is long enough to need
        // anything but the condition and list breaks.
        prop_assert!(once.lines().all(|l| !l.ends_with(' ')));
    }

    #[test]
    fn generated_conditions_alone_keep_meaning(cond in condition(), seps in prop::collection::vec(0..SEPARATORS.len(), 1..32)) {
        let mut tokens = toks(&["portal", "\"P\"", "{", "require"]);
        tokens.extend(cond);
        tokens.extend(toks(&["invite", "\"fr\"", "}"]));
        let src = join_with(&tokens, &seps);
        assert_fmt_laws("condition", &src);
    }
}
