//! The TextMate grammar `editors/herald.tmLanguage.json`, run by a real engine on the examples.
//!
//! The engine is syntect with Oniguruma (the regex library of TextMate and VS Code). syntect reads
//! Sublime Text's `.sublime-syntax` format, a superset of the TextMate model, so the grammar is
//! translated first, rule for rule:
//! - the top-level `patterns` become the `main` context, each `repository` entry a context;
//!   `include: "#name"` includes that context and `$self` / `$base` include `main`;
//! - a `match` rule becomes a match with its `name` as scope and its `captures`;
//! - a `begin`/`end` rule becomes a match on `begin` (with `beginCaptures`, or `captures`) that
//!   pushes a new context whose `meta_scope` is the rule's `name` and `meta_content_scope` its
//!   `contentName`, holding first a match on `end` that pops (with `endCaptures`, or `captures`),
//!   then the rule's `patterns`. Listing `end` first gives TextMate's priority: at one position
//!   the end pattern wins (the grammar sets no `applyEndPatternLast`).
//!
//! Both engines take, at each position, the leftmost match of the context's patterns and, at
//! equal positions, the first one listed, so the translation keeps the grammar's meaning. The
//! translation refuses what it does not handle (`while`, capture `patterns`, `injections`,
//! `applyEndPatternLast`), so the grammar cannot drift into features this test does not check.
//!
//! The YAML handed to syntect is written in flow style: JSON text (YAML 1.2 reads JSON) with
//! unquoted integer keys for captures, as syntect wants.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use syntect::parsing::{
    ParseState, Scope, ScopeStack, SyntaxDefinition, SyntaxSet, SyntaxSetBuilder,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn grammar_json() -> Value {
    let text = std::fs::read_to_string(root().join("editors/herald.tmLanguage.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

// ---------------------------------------------------------------------------------------------
// tmLanguage -> sublime-syntax
// ---------------------------------------------------------------------------------------------

struct Translator {
    contexts: Map<String, Value>,
    n_anonymous: usize,
}

const KNOWN_RULE_KEYS: &[&str] = &[
    "comment",
    "name",
    "contentName",
    "match",
    "begin",
    "end",
    "captures",
    "beginCaptures",
    "endCaptures",
    "patterns",
    "include",
];

impl Translator {
    fn captures(c: Option<&Value>) -> Option<Value> {
        let c = c?.as_object().unwrap();
        let mut out = Map::new();
        for (k, v) in c {
            assert!(k.parse::<u32>().is_ok(), "capture key `{k}`");
            let v = v.as_object().unwrap();
            for key in v.keys() {
                assert_eq!(key, "name", "captures with `{key}` are not translated");
            }
            out.insert(k.clone(), v["name"].clone());
        }
        Some(Value::Object(out))
    }

    fn include(name: &str) -> Value {
        let target = match name {
            "$self" | "$base" => "main".to_string(),
            n => n
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("external include `{n}`"))
                .to_string(),
        };
        serde_json::json!({ "include": target })
    }

    /// The context items of one rule.
    fn rule(&mut self, rule: &Value) -> Value {
        let r = rule.as_object().unwrap();
        for k in r.keys() {
            assert!(
                KNOWN_RULE_KEYS.contains(&k.as_str()),
                "rule key `{k}` is not translated"
            );
        }
        if let Some(inc) = r.get("include") {
            return Self::include(inc.as_str().unwrap());
        }
        if let Some(m) = r.get("match") {
            let mut item = Map::new();
            item.insert("match".into(), m.clone());
            if let Some(n) = r.get("name") {
                item.insert("scope".into(), n.clone());
            }
            if let Some(c) = Self::captures(r.get("captures")) {
                item.insert("captures".into(), c);
            }
            return Value::Object(item);
        }
        if let Some(begin) = r.get("begin") {
            let end = r.get("end").expect("`begin` without `end`");
            self.n_anonymous += 1;
            let ctx_name = format!("begin-end-{}", self.n_anonymous);
            let mut items = Vec::new();
            if let Some(n) = r.get("name") {
                items.push(serde_json::json!({ "meta_scope": n }));
            }
            if let Some(n) = r.get("contentName") {
                items.push(serde_json::json!({ "meta_content_scope": n }));
            }
            let mut pop = Map::new();
            pop.insert("match".into(), end.clone());
            if let Some(c) = Self::captures(r.get("endCaptures").or(r.get("captures"))) {
                pop.insert("captures".into(), c);
            }
            pop.insert("pop".into(), Value::Bool(true));
            items.push(Value::Object(pop));
            for p in r
                .get("patterns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                items.push(self.rule(p));
            }
            self.contexts.insert(ctx_name.clone(), Value::Array(items));
            let mut push = Map::new();
            push.insert("match".into(), begin.clone());
            if let Some(c) = Self::captures(r.get("beginCaptures").or(r.get("captures"))) {
                push.insert("captures".into(), c);
            }
            push.insert("push".into(), Value::String(ctx_name));
            return Value::Object(push);
        }
        // A group of patterns.
        self.n_anonymous += 1;
        let ctx_name = format!("group-{}", self.n_anonymous);
        let items = self.patterns(
            r.get("patterns")
                .expect("a rule without match, begin or patterns"),
        );
        self.contexts.insert(ctx_name.clone(), items);
        Self::include(&format!("#{ctx_name}"))
    }

    fn patterns(&mut self, list: &Value) -> Value {
        Value::Array(
            list.as_array()
                .unwrap()
                .iter()
                .map(|p| self.rule(p))
                .collect(),
        )
    }
}

/// Flow-style YAML: JSON, with integer keys unquoted.
fn yaml(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if k.parse::<u32>().is_ok() {
                    out.push_str(k);
                } else {
                    out.push_str(&serde_json::to_string(k).unwrap());
                }
                out.push_str(": ");
                yaml(v, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                yaml(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap()),
    }
}

fn sublime_syntax(g: &Value) -> String {
    let g = g.as_object().unwrap();
    for k in g.keys() {
        assert!(
            [
                "$schema",
                "name",
                "scopeName",
                "fileTypes",
                "patterns",
                "repository"
            ]
            .contains(&k.as_str()),
            "grammar key `{k}` is not translated"
        );
    }
    let mut t = Translator {
        contexts: Map::new(),
        n_anonymous: 0,
    };
    let main = t.patterns(&g["patterns"]);
    t.contexts.insert("main".into(), main);
    for (name, rule) in g["repository"].as_object().unwrap() {
        let r = rule.as_object().unwrap();
        let items =
            if r.contains_key("match") || r.contains_key("begin") || r.contains_key("include") {
                Value::Array(vec![t.rule(rule)])
            } else {
                t.patterns(&r["patterns"])
            };
        t.contexts.insert(name.clone(), items);
    }
    let doc = serde_json::json!({
        "name": g["name"],
        "scope": g["scopeName"],
        "file_extensions": g["fileTypes"],
        "contexts": Value::Object(t.contexts),
    });
    let mut out = String::from("%YAML 1.2\n---\n");
    yaml(&doc, &mut out);
    out.push('\n');
    out
}

fn syntax_set() -> SyntaxSet {
    let yaml = sublime_syntax(&grammar_json());
    let def = SyntaxDefinition::load_from_str(&yaml, false, None).unwrap();
    let mut builder = SyntaxSetBuilder::new();
    builder.add(def);
    builder.build()
}

// ---------------------------------------------------------------------------------------------
// Tokenizing
// ---------------------------------------------------------------------------------------------

/// One line: its text and the scope stack of each byte (space-separated scope names).
struct Line {
    text: String,
    scopes: Vec<String>,
}

fn tokenize(ss: &SyntaxSet, text: &str) -> Vec<Line> {
    let syntax = ss
        .find_syntax_by_scope(Scope::new("source.herald").unwrap())
        .unwrap();
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut lines = Vec::new();
    for raw in text.lines() {
        let line = format!("{raw}\n");
        let ops = state.parse_line(&line, ss).unwrap();
        let mut scopes = Vec::with_capacity(line.len());
        let mut at = 0;
        let show = |s: &ScopeStack| {
            s.as_slice()
                .iter()
                .map(|sc| sc.build_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        for (pos, op) in ops {
            while at < pos {
                scopes.push(show(&stack));
                at += 1;
            }
            stack.apply(&op).unwrap();
        }
        while at < line.len() {
            scopes.push(show(&stack));
            at += 1;
        }
        lines.push(Line {
            text: raw.to_string(),
            scopes,
        });
    }
    lines
}

fn tokenize_file(ss: &SyntaxSet, path: &Path) -> Vec<Line> {
    let text = std::fs::read_to_string(path).unwrap();
    tokenize(ss, text.trim_start_matches('\u{feff}'))
}

/// Asserts that every byte of `token`, at its first place on the first line containing `line`,
/// has a scope starting with `scope`.
fn assert_scope(lines: &[Line], line: &str, token: &str, scope: &str) {
    let l = lines
        .iter()
        .find(|l| l.text.contains(line))
        .unwrap_or_else(|| panic!("no line contains {line:?}"));
    let start = l.text.find(line).unwrap()
        + line
            .find(token)
            .unwrap_or_else(|| panic!("{token:?} not in {line:?}"));
    for i in start..start + token.len() {
        let stack = &l.scopes[i];
        assert!(
            stack.split(' ').any(|s| s.starts_with(scope)),
            "{token:?} in {:?}: byte {} has `{stack}`, expected `{scope}`",
            l.text,
            i - start
        );
    }
}

fn assert_no_scope(lines: &[Line], line: &str, token: &str, scope: &str) {
    let l = lines.iter().find(|l| l.text.contains(line)).unwrap();
    let start = l.text.find(line).unwrap() + line.find(token).unwrap();
    for i in start..start + token.len() {
        assert!(
            !l.scopes[i].contains(scope),
            "{token:?} in {:?} has `{}`",
            l.text,
            l.scopes[i]
        );
    }
}

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

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn every_regex_compiles_with_oniguruma() {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if matches!(k.as_str(), "match" | "begin" | "end") {
                        out.push(v.as_str().unwrap().to_string());
                    } else {
                        walk(v, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut regexes = Vec::new();
    walk(&grammar_json(), &mut regexes);
    assert!(regexes.len() > 40, "{}", regexes.len());
    for r in regexes {
        if let Some(e) = syntect::parsing::Regex::try_compile(&r) {
            panic!("`{r}` does not compile: {e}");
        }
    }
}

#[test]
fn grammar_metadata() {
    let g = grammar_json();
    assert_eq!(g["scopeName"], "source.herald");
    assert_eq!(g["fileTypes"], serde_json::json!(["herald"]));
    // The VS Code manifest points at the grammar with the same scope.
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("editors/vscode/package.json")).unwrap(),
    )
    .unwrap();
    let grammar = &manifest["contributes"]["grammars"][0];
    assert_eq!(grammar["scopeName"], "source.herald");
    assert_eq!(grammar["language"], "herald");
    let path = root()
        .join("editors/vscode")
        .join(grammar["path"].as_str().unwrap());
    assert_eq!(
        std::fs::canonicalize(path).unwrap(),
        std::fs::canonicalize(root().join("editors/herald.tmLanguage.json")).unwrap()
    );
    assert_eq!(
        manifest["contributes"]["languages"][0]["extensions"],
        serde_json::json!([".herald"])
    );
}

#[test]
fn the_examples_get_the_expected_scopes() {
    let ss = syntax_set();
    let portals = tokenize_file(&ss, &root().join("examples/monprofil/rules/portals.herald"));
    let l = &portals;
    assert_scope(
        l,
        "# MonProfil customer-portal",
        "# MonProfil customer-portal",
        "comment.line.number-sign.herald",
    );
    assert_scope(
        l,
        "portal \"MonProfil Clients\" {",
        "portal",
        "keyword.control.portal.herald",
    );
    assert_scope(
        l,
        "portal \"MonProfil Clients\" {",
        "\"MonProfil Clients\"",
        "string.quoted.double.herald",
    );
    assert_scope(
        l,
        "portal \"MonProfil Clients\" {",
        "{",
        "punctuation.section.block.begin.herald",
    );
    assert_scope(
        l,
        "  records  Contacts",
        "records",
        "keyword.other.key.herald",
    );
    assert_scope(
        l,
        "  records  Contacts",
        "Contacts",
        "entity.name.type.schema.herald",
    );
    assert_scope(
        l,
        "identity id, Full_Name, Email",
        "identity",
        "keyword.other.key.herald",
    );
    assert_scope(
        l,
        "identity id, Full_Name, Email",
        "Full_Name",
        "variable.other.field.herald",
    );
    assert_scope(
        l,
        "identity id, Full_Name, Email",
        ",",
        "punctuation.separator.comma.herald",
    );
    assert_scope(
        l,
        "Email  # record id",
        "# record id",
        "comment.line.number-sign.herald",
    );
    assert_scope(
        l,
        "from     group \"Service Client\"",
        "from",
        "keyword.other.key.herald",
    );
    assert_scope(
        l,
        "from     group \"Service Client\"",
        "group",
        "keyword.other.key.herald",
    );
    assert_scope(
        l,
        "status   active",
        "active",
        "constant.language.status.herald",
    );
    assert_scope(
        l,
        "on       create, update",
        "create",
        "constant.language.event.herald",
    );
    assert_scope(
        l,
        "update        # an update",
        "# an update",
        "comment.line.number-sign.herald",
    );
    assert_scope(
        l,
        "require  Subscription == \"paid\" and not (Opted_Out ?? false)",
        "require",
        "keyword.other.key.herald",
    );
    assert_scope(
        l,
        "Subscription == \"paid\" and not (",
        "==",
        "keyword.operator.comparison.herald",
    );
    assert_scope(
        l,
        "Subscription == \"paid\" and not (",
        "\"paid\"",
        "string.quoted.double.herald",
    );
    assert_scope(
        l,
        "Subscription == \"paid\" and not (",
        "and",
        "keyword.operator.logical.herald",
    );
    assert_scope(
        l,
        "Subscription == \"paid\" and not (",
        "not",
        "keyword.operator.logical.herald",
    );
    assert_scope(
        l,
        "(Opted_Out ?? false)",
        "??",
        "keyword.operator.coalesce.herald",
    );
    assert_scope(
        l,
        "(Opted_Out ?? false)",
        "false",
        "constant.language.boolean.herald",
    );
    assert_scope(
        l,
        "(Opted_Out ?? false)",
        "(",
        "punctuation.section.parens.begin.herald",
    );
    assert_scope(
        l,
        "invite \"fr\" when Mailing_Country in",
        "invite",
        "keyword.other.key.herald",
    );
    assert_scope(
        l,
        "invite \"fr\" when Mailing_Country in",
        "\"fr\"",
        "string.quoted.double.language.herald",
    );
    assert_scope(
        l,
        "invite \"fr\" when Mailing_Country in",
        "when",
        "keyword.control.conditional.herald",
    );
    assert_scope(
        l,
        "invite \"fr\" when Mailing_Country in",
        "Mailing_Country",
        "variable.other.field.herald",
    );
    assert_scope(
        l,
        " in [\"FR\", \"BE\"",
        "in",
        "keyword.operator.word.herald",
    );
    assert_scope(
        l,
        "[\"FR\", \"BE\", \"LU\", \"MC\"]",
        "[",
        "punctuation.section.brackets.begin.herald",
    );
    assert_scope(
        l,
        "invite \"en\" otherwise",
        "otherwise",
        "keyword.control.conditional.herald",
    );
    assert_scope(
        l,
        "invite \"en\" otherwise",
        "\"en\"",
        "string.quoted.double.language.herald",
    );
    assert_scope(
        l,
        "Tags contains \"recruiter\"",
        "contains",
        "keyword.operator.word.herald",
    );
    assert_scope(
        l,
        "Signup_Date >= @2025-01-01",
        "@2025-01-01",
        "constant.other.date.herald",
    );
    assert_scope(
        l,
        "Mailing_City is not empty",
        "is not empty",
        "keyword.operator.word.herald",
    );
    assert_scope(
        l,
        "Phone starts with \"+33\"",
        "starts with",
        "keyword.operator.word.herald",
    );
    assert_scope(
        l,
        "lower(Email ?? \"\") ends with",
        "lower",
        "support.function.builtin.herald",
    );
    assert_scope(
        l,
        "lower(Email ?? \"\") ends with",
        "ends with",
        "keyword.operator.word.herald",
    );

    let tests = tokenize_file(&ss, &root().join("examples/monprofil/rules/tests.herald"));
    let l = &tests;
    assert_scope(
        l,
        "test \"a paying French customer",
        "test",
        "keyword.control.test.herald",
    );
    assert_scope(
        l,
        "record { \"id\": \"c000101\"",
        "record",
        "keyword.other.key.herald",
    );
    assert_scope(
        l,
        "record { \"id\": \"c000101\"",
        "\"id\"",
        "support.type.property-name.json.herald",
    );
    assert_scope(
        l,
        "record { \"id\": \"c000101\"",
        "\"c000101\"",
        "string.quoted.double.json.herald",
    );
    // The record's continuation lines are still JSON.
    assert_scope(
        l,
        "\"Opted_Out\": false, \"Email_Verified\": true, \"Tags\": [] }",
        "false",
        "constant.language.json.herald",
    );
    assert_scope(
        l,
        "\"Opted_Out\": false, \"Email_Verified\": true, \"Tags\": [] }",
        "\"Tags\"",
        "meta.record.herald",
    );
    assert_scope(
        l,
        "expect \"MonProfil Clients\" invites \"fr\"",
        "expect",
        "keyword.other.key.herald",
    );
    assert_scope(
        l,
        "expect \"MonProfil Clients\" invites \"fr\"",
        "invites",
        "keyword.other.expectation.herald",
    );
    assert_scope(
        l,
        "expect \"MonProfil Clients\" invites \"fr\"",
        "\"fr\"",
        "string.quoted.double.language.herald",
    );
    assert_scope(
        l,
        "expect \"MonProfil Clients\" invites \"fr\"",
        "\"MonProfil Clients\"",
        "string.quoted.double.herald",
    );
    assert_scope(
        l,
        "does not invite because common-condition-not-met",
        "does not invite",
        "keyword.other.expectation.herald",
    );
    assert_scope(
        l,
        "does not invite because common-condition-not-met",
        "common-condition-not-met",
        "support.constant.reason.herald",
    );
    assert_scope(
        l,
        "fails missing-email",
        "missing-email",
        "support.constant.reason.herald",
    );
    assert_scope(
        l,
        "event update",
        "update",
        "constant.language.event.herald",
    );
    assert_scope(
        l,
        "now @2026-01-31T09:30:00Z",
        "now",
        "keyword.other.key.herald",
    );
    assert_scope(
        l,
        "now @2026-01-31T09:30:00Z",
        "@2026-01-31T09:30:00Z",
        "constant.other.datetime.herald",
    );

    let schema = tokenize_file(&ss, &root().join("examples/monprofil/rules/schema.herald"));
    assert_scope(
        &schema,
        "schema Contacts from",
        "schema",
        "keyword.control.schema.herald",
    );
    assert_scope(
        &schema,
        "schema Contacts from",
        "Contacts",
        "entity.name.type.schema.herald",
    );
    assert_scope(
        &schema,
        "schema Contacts from",
        "from",
        "keyword.other.key.herald",
    );
}

#[test]
fn schemas_durations_and_labels() {
    let ss = syntax_set();
    let l = &tokenize_file(
        &ss,
        &root().join("tests/fixtures/fmt/tests_and_schema.out.herald"),
    );
    assert_scope(
        l,
        "  id                 text",
        "id",
        "entity.name.variable.field.herald",
    );
    assert_scope(
        l,
        "  id                 text",
        "text",
        "support.type.herald",
    );
    assert_scope(
        l,
        "`Mailing Country`  picklist",
        "`Mailing Country`",
        "entity.name.variable.field.herald",
    );
    assert_scope(
        l,
        "`Mailing Country`  picklist",
        "picklist",
        "storage.type.herald",
    );
    assert_scope(
        l,
        "Tags               multiselect",
        "multiselect",
        "storage.type.herald",
    );
    assert_scope(
        l,
        "Address            object {",
        "object",
        "storage.type.herald",
    );
    assert_scope(
        l,
        "      lat            decimal",
        "lat",
        "entity.name.variable.field.herald",
    );

    let l = &tokenize_file(&ss, &root().join("tests/fixtures/fmt/spacing.out.herald"));
    assert_scope(
        l,
        "@2025-01-01 - 30d",
        "30",
        "constant.numeric.duration.herald",
    );
    assert_scope(l, "@2025-01-01 - 30d", "d", "keyword.other.unit.herald");
    assert_scope(l, "01 - 30d", "-", "keyword.operator.arithmetic.herald");
    assert_scope(
        l,
        "Age >= 1_000 and Score < 1000.50",
        "1_000",
        "constant.numeric.herald",
    );
    assert_scope(
        l,
        "Age >= 1_000 and Score < 1000.50",
        "1000.50",
        "constant.numeric.herald",
    );
    assert_scope(
        l,
        "`Mailing Country` is not null",
        "`Mailing Country`",
        "variable.other.field.quoted.herald",
    );
    assert_scope(
        l,
        "`Mailing Country` is not null",
        "`",
        "punctuation.definition.label.begin.herald",
    );
    assert_scope(
        l,
        "`Mailing Country` is not null",
        "is not null",
        "keyword.operator.word.herald",
    );
    assert_no_scope(
        l,
        "`Mailing Country` is not null",
        "null",
        "constant.language.null",
    );
    assert_scope(
        l,
        "and address.city is empty",
        "address",
        "variable.other.field.herald",
    );
    assert_scope(
        l,
        "and address.city is empty",
        ".",
        "punctuation.accessor.herald",
    );
    assert_scope(
        l,
        "invite \"pt-BR\" when",
        "\"pt-BR\"",
        "string.quoted.double.language.herald",
    );
    assert_scope(
        l,
        "Tags contains any [",
        "contains any",
        "keyword.operator.word.herald",
    );
    assert_scope(
        l,
        "or Tags contains all",
        "contains all",
        "keyword.operator.word.herald",
    );
    assert_scope(
        l,
        "or Name matches",
        "matches",
        "keyword.operator.word.herald",
    );

    // `#` inside a JSON record is text, inside a string too.
    let l = &tokenize_file(&ss, &root().join("tests/fixtures/fmt/comments.out.herald"));
    assert_scope(
        l,
        "\"paid\",   # a hash inside JSON",
        "# a hash inside JSON",
        "meta.record.herald",
    );
    assert_no_scope(
        l,
        "\"paid\",   # a hash inside JSON",
        "# a hash inside JSON",
        "comment",
    );
    assert_scope(
        l,
        "\"Country\": \"FR\" }  # after the record",
        "# after the record",
        "comment.line.number-sign.herald",
    );
    assert_no_scope(
        l,
        "\"Country\": \"FR\" }  # after the record",
        "# after the record",
        "meta.record",
    );
}

#[test]
fn strings_escapes_and_slips() {
    let ss = syntax_set();
    let src = "portal \"P\" {\n  require a == \"x \\\" \\u{1F600} \\q # not a comment\" && b = 'c' || !d <> e\n  invite \"fr\" when f != null and g == lower(\"A\") and h == frobnicate(1)\n}\n";
    let l = &tokenize(&ss, src);
    let line = "a == \"x \\\" \\u{1F600} \\q # not a comment\"";
    assert_scope(l, line, "\\\"", "constant.character.escape.herald");
    assert_scope(l, line, "\\u{1F600}", "constant.character.escape.herald");
    assert_scope(l, line, "\\q", "invalid.illegal.escape.herald");
    assert_scope(l, line, "# not a comment", "string.quoted.double.herald");
    assert_no_scope(l, line, "# not a comment", "comment");
    let slips = "&& b = 'c' || !d <> e";
    assert_scope(l, slips, "&&", "invalid.illegal.operator.herald");
    assert_scope(l, slips, "=", "invalid.illegal.operator.herald");
    assert_scope(l, slips, "'c'", "invalid.illegal.string.herald");
    assert_scope(l, slips, "||", "invalid.illegal.operator.herald");
    assert_scope(l, slips, "!", "invalid.illegal.operator.herald");
    assert_scope(l, slips, "<>", "invalid.illegal.operator.herald");
    let ok = "f != null and g == lower(\"A\") and h == frobnicate(1)";
    assert_scope(l, ok, "!=", "keyword.operator.comparison.herald");
    assert_scope(l, ok, "null", "constant.language.null.herald");
    assert_scope(l, ok, "frobnicate", "variable.function.herald");
    assert_scope(l, ok, "1", "constant.numeric.herald");

    // A condition on a field named like a type is not a field declaration.
    let l = &tokenize(
        &ss,
        "portal \"P\" {\n  require  date >= @2025-01-01\n  invite \"fr\"\n}\n",
    );
    assert_scope(l, "require  date", "require", "keyword.other.key.herald");
    assert_scope(l, "require  date", "date", "variable.other.field.herald");

    // An unterminated string ends with its line.
    let l = &tokenize(
        &ss,
        "portal \"P\" {\n  require a == \"open\n  invite \"fr\"\n}\n",
    );
    assert_scope(l, "  invite \"fr\"", "invite", "keyword.other.key.herald");
}

#[test]
fn valid_rule_files_have_no_invalid_scope_and_every_character_is_scoped() {
    let ss = syntax_set();
    let mut files = herald_files(&root().join("examples"));
    files.extend(
        herald_files(&root().join("tests/fixtures/fmt"))
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".out.herald")),
    );
    files.extend(herald_files(&root().join("tests/fixtures/route")));
    assert!(files.len() >= 8);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let lines = tokenize(&ss, &text);
        let in_record = |l: &Line, i: usize| l.scopes[i].contains("meta.record.herald");
        for l in &lines {
            for (i, c) in l.text.char_indices() {
                let stack = &l.scopes[i];
                assert!(
                    !stack.contains("invalid"),
                    "{}: {:?} byte {i}: `{stack}`",
                    f.display(),
                    l.text
                );
                if !c.is_whitespace() && !in_record(l, i) {
                    assert!(
                        stack.contains(' '),
                        "{}: {:?} byte {i} ({c:?}) has no scope",
                        f.display(),
                        l.text
                    );
                }
            }
        }
    }
}
