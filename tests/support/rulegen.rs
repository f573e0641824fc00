//! Generators of valid rule files and conditions, as token lists, for property tests
//! (`tests/fmt.rs`, `tests/parse_fast.rs`). Every generated file parses without an error.

#![allow(dead_code)]

use proptest::prelude::*;

pub fn toks(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_string()).collect()
}

pub fn path() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "Email",
        "address.city",
        "`Mailing Country`",
        "`in`",
        "Tags",
        "_x1",
    ])
    .prop_map(str::to_string)
}

pub fn scalar() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "\"paid\"",
        "\"a \\\"quoted\\\" # not a comment\"",
        "\"\\u{1F600}`\"",
        "\"\"",
        "1_000",
        "-3",
        "1000.50",
        "true",
        "false",
        "@2025-01-01",
        "@2026-01-31T09:30:00+02:00",
    ])
    .prop_map(str::to_string)
}

pub fn list() -> impl Strategy<Value = Vec<String>> {
    (prop::collection::vec(scalar(), 0..4), any::<bool>()).prop_map(|(items, trailing)| {
        let mut v = vec!["[".to_string()];
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                v.push(",".into());
            }
            v.push(it.clone());
        }
        if trailing && !items.is_empty() {
            v.push(",".into());
        }
        v.push("]".into());
        v
    })
}

pub fn leaf() -> impl Strategy<Value = Vec<String>> {
    let cmp = prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]);
    let list_op = prop::sample::select(vec!["in", "not in", "contains any", "contains all"]);
    let str_op = prop::sample::select(vec!["contains", "starts with", "ends with", "matches"]);
    let test = prop::sample::select(vec!["is null", "is not null", "is empty", "is not empty"]);
    let split = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    prop_oneof![
        (path(), cmp, scalar()).prop_map(|(p, op, l)| vec![p, op.to_string(), l]),
        (path(), list_op, list()).prop_map(move |(p, op, l)| {
            let mut v = vec![p];
            v.extend(split(op));
            v.extend(l);
            v
        }),
        (path(), str_op).prop_map(move |(p, op)| {
            let mut v = vec![p];
            v.extend(split(op));
            v.push("\"^a#b\"".into());
            v
        }),
        (path(), test).prop_map(move |(p, t)| {
            let mut v = vec![p];
            v.extend(split(t));
            v
        }),
        path().prop_map(|p| vec![p]),
        Just(toks(&["lower", "(", "Email", ")", "==", "\"x\""])),
        Just(toks(&["len", "(", "Tags", ")", ">", "2"])),
        Just(toks(&["(", "Opted_Out", "??", "false", ")"])),
        Just(toks(&[
            "Signup",
            ">=",
            "@2025-01-01",
            "-",
            "30d",
            "+",
            "12h"
        ])),
        Just(toks(&["today", "(", ")", "-", "2w", "<", "Created"])),
        Just(toks(&["Email", "??", "\"\"", "==", "\"\""])),
    ]
}

pub fn condition() -> impl Strategy<Value = Vec<String>> {
    leaf().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["and", "or"]),
                inner.clone()
            )
                .prop_map(|(mut a, op, b)| {
                    a.push(op.to_string());
                    a.extend(b);
                    a
                }),
            inner.clone().prop_map(|a| {
                let mut v = toks(&["not", "("]);
                v.extend(a);
                v.push(")".into());
                v
            }),
            inner.clone().prop_map(|a| {
                let mut v = vec!["not".to_string()];
                v.extend(a);
                v
            }),
            inner.prop_map(|a| {
                let mut v = vec!["(".to_string()];
                v.extend(a);
                v.push(")".into());
                v
            }),
        ]
    })
}

pub fn portal_item() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        Just(toks(&["records", "Contacts"])),
        Just(toks(&["identity", "id", ",", "Full_Name", ",", "`E mail`"])),
        Just(toks(&["from", "group", "\"Customer # Success\""])),
        Just(toks(&["status", "paused"])),
        Just(toks(&["on", "create", ",", "update"])),
        condition().prop_map(|c| {
            let mut v = vec!["require".to_string()];
            v.extend(c);
            v
        }),
        (
            prop::sample::select(vec!["\"fr\"", "\"pt-BR\""]),
            condition()
        )
            .prop_map(|(lang, c)| {
                let mut v = vec!["invite".to_string(), lang.to_string(), "when".into()];
                v.extend(c);
                v
            }),
        Just(toks(&["invite", "\"en\"", "otherwise"])),
        Just(toks(&["invite", "\"de\""])),
    ]
}

pub fn field(depth: u32) -> BoxedStrategy<Vec<String>> {
    let name = prop::sample::select(vec!["id", "Full_Name", "`Mailing Country`", "a"]);
    let simple = (
        name.clone(),
        prop::sample::select(vec!["text", "integer", "datetime"]),
    )
        .prop_map(|(n, t)| toks(&[n, t]));
    let pick = (
        name.clone(),
        prop::sample::select(vec!["picklist", "multiselect"]),
        list_of_strings(),
    )
        .prop_map(|(n, k, l)| {
            let mut v = toks(&[n, k]);
            v.extend(l);
            v
        });
    if depth == 0 {
        return prop_oneof![simple, pick].boxed();
    }
    let object = (name, prop::collection::vec(field(depth - 1), 0..3)).prop_map(|(n, fields)| {
        let mut v = toks(&[n, "object", "{"]);
        v.extend(fields.into_iter().flatten());
        v.push("}".into());
        v
    });
    prop_oneof![simple, pick, object].boxed()
}

pub fn list_of_strings() -> impl Strategy<Value = Vec<String>> {
    (1..5usize).prop_map(|n| {
        let mut v = vec!["[".to_string()];
        for i in 0..n {
            if i > 0 {
                v.push(",".into());
            }
            v.push(format!("\"v{i}\""));
        }
        v.push("]".into());
        v
    })
}

pub fn json_record() -> impl Strategy<Value = String> {
    (0..12usize, prop::sample::select(vec![0usize, 1, 2])).prop_map(|(indent, shape)| {
        let pad = " ".repeat(indent);
        match shape {
            0 => "{ \"id\": \"c1\", \"n\": 1 }".to_string(),
            1 => format!("{{ \"id\": \"c1\",\n{pad}\"tags\": [\"a\", \"b\"],   \n{pad}\"o\": {{ \"k\": \"v # text\" }} }}"),
            _ => format!("{{\n{pad}  \"a\": 1\n{pad}}}"),
        }
    })
}

pub fn test_item() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        json_record().prop_map(|j| vec!["record".to_string(), j]),
        Just(toks(&["event", "update"])),
        Just(toks(&["now", "@2026-01-31T09:30:00Z"])),
        Just(toks(&["expect", "\"P\"", "invites", "\"fr\""])),
        Just(toks(&["expect", "\"P\"", "does", "not", "invite"])),
        Just(toks(&[
            "expect", "\"P\"", "does", "not", "invite", "because", "paused"
        ])),
        Just(toks(&["expect", "\"P\"", "fails", "missing-email"])),
    ]
}

pub fn block() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        prop::collection::vec(portal_item(), 0..6).prop_map(|items| {
            let mut v = toks(&["portal", "\"P # 1\"", "{"]);
            v.extend(items.into_iter().flatten());
            v.push("}".into());
            v
        }),
        prop::collection::vec(field(2), 0..4).prop_map(|fields| {
            let mut v = toks(&["schema", "Contacts", "{"]);
            v.extend(fields.into_iter().flatten());
            v.push("}".into());
            v
        }),
        Just(toks(&["schema", "Leads", "from", "\"leads.json\""])),
        prop::collection::vec(test_item(), 0..4).prop_map(|items| {
            let mut v = toks(&["test", "\"t\"", "{"]);
            v.extend(items.into_iter().flatten());
            v.push("}".into());
            v
        }),
    ]
}

/// What may separate two tokens: whitespace, newlines, comments (always ending a line).
pub const SEPARATORS: &[&str] = &[
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    " # c1\n",
    "\n    # own-line comment\n  ",
    "   # with \"quote\" and `tick` #2   \n",
    "",
    "\r\n",
    "\n\n\n  ",
    "\n#c3\n\n",
];

/// Tokens that may touch their neighbour without a space.
pub fn may_touch(t: &str) -> bool {
    matches!(t, "(" | ")" | "[" | "]" | ",")
}

pub fn join_with(tokens: &[String], seps: &[usize]) -> String {
    let sep = |i: usize| SEPARATORS[seps[i % seps.len()] % SEPARATORS.len()];
    let mut out = String::new();
    out.push_str(sep(0).trim_start_matches(' '));
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            let mut s = sep(i + 1);
            if s.is_empty() && !(may_touch(t) || may_touch(&tokens[i - 1])) {
                s = " ";
            }
            out.push_str(s);
        }
        out.push_str(t);
    }
    out.push_str(sep(tokens.len() + 1));
    out
}
