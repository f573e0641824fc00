//! Properties of the condition language:
//! (a) the canonical printer and the parser agree: `parse(print(ast)) == ast` for generated ASTs
//!     of every kind, with tricky literals (quotes, backslashes, control characters, Unicode,
//!     negative numbers, decimals, dates, date-times with offsets, durations) and tricky paths
//!     (back-quoted labels, reserved and contextual words as segments);
//! (b) compiling never panics, on well-formed conditions, on mangled ones and on arbitrary text,
//!     and evaluating never panics, on generated JSON records (nested objects, nulls, arrays,
//!     huge numbers, u64 beyond i64, floats, odd Unicode); the compiled program and the
//!     reference interpreter agree.
//!
//! Case counts keep the file under 20 s in a debug build.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use herald::ast::{
    BinOp, Duration, DurationUnit, Expr, ExprKind, Ident, Literal, OffsetTerm, Path, Segment,
    TestOp,
};
use herald::condition::Condition;
use herald::schema::{Field, FieldType, Schema};
use herald::span::Span;
use herald::value::{FixedClock, Truth};
use proptest::prelude::*;
use serde_json::Value;

fn e(kind: ExprKind) -> Expr {
    Expr::new(kind, Span::default())
}

// ---------------------------------------------------------------------------------------------
// (a) Generated ASTs
// ---------------------------------------------------------------------------------------------

/// Text with the characters that are hard to print: quotes, backslashes, escapes' look-alikes,
/// control characters, comment and bracket characters, and Unicode beyond the BMP.
fn tricky_string() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "\"",
        "\\",
        "\\n",
        "\\u{41}",
        "'",
        "`",
        "#",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "\n",
        "\r",
        "\t",
        "\u{0}",
        "\u{7}",
        "\u{1b}",
        "\u{7f}",
        "\u{85}",
        "\u{a0}",
        "\u{200b}",
        "\u{2028}",
        "\u{feff}",
        "é",
        "e\u{301}",
        "ß",
        "İ",
        "日本",
        "😀",
        "\u{10ffff}",
        "a",
        "FR",
        " ",
        "and",
        "or",
        "not",
        "==",
        "&&",
        "||",
        "!",
    ]);
    prop_oneof![
        prop::collection::vec(pieces, 0..6).prop_map(|v| v.concat()),
        any::<String>(),
    ]
}

/// A path segment the grammar can express: anything non-empty without a back quote or a line
/// break (bare when it is an identifier that is not a reserved word, back-quoted otherwise).
fn segment_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "Email", "Mailing_Country", "_x", "a1", "Opted_Out", "and", "or", "not", "in",
            "contains", "starts", "ends", "matches", "is", "null", "true", "false", "any", "all",
            "with", "empty", "today", "now", "lower", "when", "Mailing Country", "a.b", "1st",
            "é", "日本", "x y", "#tag", "\"q\"", "it's", "a\\b", "(", "d", "h", "30d",
        ])
        .prop_map(str::to_string),
        1 => "[^`\n\r\u{0}]{1,8}",
    ]
}

fn path() -> impl Strategy<Value = Path> {
    prop::collection::vec(segment_name(), 1..4).prop_map(|names| Path {
        segments: names
            .into_iter()
            .map(|name| Segment {
                name: name.into(),
                span: Span::default(),
            })
            .collect(),
    })
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (0i32..=9999, 1u32..=12, 1u32..=31).prop_filter_map("a day of the calendar", |(y, m, d)| {
        NaiveDate::from_ymd_opt(y, m, d)
    })
}

fn date_time() -> impl Strategy<Value = DateTime<FixedOffset>> {
    (
        date(),
        0u32..24,
        0u32..60,
        0u32..60,
        prop_oneof![Just(0u32), 0u32..1_000_000_000, Just(500_000_000)],
        prop_oneof![Just(0i32), -1439i32..=1439, Just(60), Just(-300), Just(330)],
    )
        .prop_filter_map("a representable instant", |(d, h, mi, s, nano, off_min)| {
            let offset = FixedOffset::east_opt(off_min * 60)?;
            let naive = d.and_hms_nano_opt(h, mi, s, nano)?;
            let dt = offset.from_local_datetime(&naive).single()?;
            // RFC 3339 has four-digit years: stay inside them in UTC too.
            let year = dt.naive_utc().date().format("%Y").to_string();
            (year.len() == 4 && !year.starts_with(['-', '+'])).then_some(dt)
        })
}

fn duration() -> impl Strategy<Value = Duration> {
    let unit = prop::sample::select(vec![
        DurationUnit::Minutes,
        DurationUnit::Hours,
        DurationUnit::Days,
        DurationUnit::Weeks,
    ]);
    (unit, prop_oneof![0i64..1000, any::<i64>()]).prop_map(|(unit, n)| {
        let per = Duration { amount: 1, unit }.seconds().unwrap();
        Duration {
            amount: n.rem_euclid(i64::MAX / per),
            unit,
        }
    })
}

fn decimal() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        prop::sample::select(vec![
            0.0,
            -0.0,
            0.1,
            -1.5,
            1e-300,
            5e-324,
            1e300,
            f64::MAX,
            f64::MIN,
            1000.5
        ]),
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        tricky_string().prop_map(|s| Literal::Str(s.into())),
        any::<i64>().prop_map(Literal::Int),
        prop::sample::select(vec![i64::MIN, -1, 0, 1, i64::MAX]).prop_map(Literal::Int),
        decimal().prop_map(Literal::Dec),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
        date().prop_map(Literal::Date),
        date_time().prop_map(Literal::DateTime),
        duration().prop_map(Literal::Duration),
    ]
}

fn func_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "lower", "upper", "trim", "len", "today", "now", "frob", "Max_2", "empty", "with",
    ])
    .prop_map(str::to_string)
}

fn ast() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        3 => literal().prop_map(|l| e(ExprKind::Literal(l))),
        3 => path().prop_map(|p| e(ExprKind::Path(p))),
        1 => func_name().prop_map(|name| e(ExprKind::Call {
            name: Ident { name, span: Span::default() },
            args: vec![],
        })),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        let two_plus = prop::collection::vec(inner.clone(), 2..4);
        let binop = prop::sample::select(BinOp::ALL.to_vec());
        let test = prop::sample::select(vec![
            TestOp::IsNull,
            TestOp::IsNotNull,
            TestOp::IsEmpty,
            TestOp::IsNotEmpty,
        ]);
        let term = (any::<bool>(), duration()).prop_map(|(minus, duration)| OffsetTerm {
            minus,
            duration,
            span: Span::default(),
        });
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| e(ExprKind::List(v))),
            (func_name(), prop::collection::vec(inner.clone(), 0..3)).prop_map(|(name, args)| {
                e(ExprKind::Call {
                    name: Ident {
                        name,
                        span: Span::default(),
                    },
                    args,
                })
            }),
            inner.clone().prop_map(|x| e(ExprKind::Paren(Box::new(x)))),
            inner.clone().prop_map(|x| e(ExprKind::Not(Box::new(x)))),
            two_plus.clone().prop_map(|v| e(ExprKind::And(v))),
            two_plus.clone().prop_map(|v| e(ExprKind::Or(v))),
            (binop, inner.clone(), inner.clone()).prop_map(|(op, l, r)| e(ExprKind::Binary {
                op,
                op_span: Span::default(),
                lhs: Box::new(l),
                rhs: Box::new(r),
            })),
            (test, inner.clone()).prop_map(|(test, x)| e(ExprKind::Test {
                test,
                operand: Box::new(x),
            })),
            two_plus.prop_map(|v| e(ExprKind::Coalesce(v))),
            (inner, prop::collection::vec(term, 1..3)).prop_map(|(base, terms)| e(
                ExprKind::Offset {
                    base: Box::new(base),
                    terms,
                }
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_is_the_identity(tree in ast()) {
        let printed = herald::print::expr(&tree);
        let parsed = herald::syntax::parse_condition(&printed);
        let listing = |d: &Vec<herald::diagnostics::Diagnostic>| {
            d.iter().map(|d| format!("{d} at {}", d.span)).collect::<Vec<_>>().join("\n")
        };
        match parsed {
            Ok(back) => prop_assert_eq!(&back, &tree, "printed as {}", printed),
            Err(d) => prop_assert!(false, "`{}` does not parse:\n{}", printed, listing(&d)),
        }
    }

    #[test]
    fn printing_is_canonical(tree in ast()) {
        let once = herald::print::expr(&tree);
        let back = herald::syntax::parse_condition(&once).unwrap();
        prop_assert_eq!(herald::print::expr(&back), once);
    }
}

/// Hand-picked cases the generator might take long to find.
#[test]
fn print_then_parse_corner_cases() {
    let seg = |name: &str| Segment {
        name: name.into(),
        span: Span::default(),
    };
    let path = |names: &[&str]| {
        e(ExprKind::Path(Path {
            segments: names.iter().map(|n| seg(n)).collect(),
        }))
    };
    let bin = |op, l, r| {
        e(ExprKind::Binary {
            op,
            op_span: Span::default(),
            lhs: Box::new(l),
            rhs: Box::new(r),
        })
    };
    let lit = |l| e(ExprKind::Literal(l));
    let cases = vec![
        // `any` and `all` right after `contains` would read as `contains any`.
        bin(BinOp::Contains, path(&["Tags"]), path(&["any"])),
        bin(BinOp::Contains, path(&["Tags"]), path(&["all", "x"])),
        bin(BinOp::Contains, path(&["Tags"]), path(&["any_x"])),
        bin(BinOp::StartsWith, path(&["with"]), path(&["with"])),
        bin(BinOp::Eq, path(&["in"]), path(&["not"])),
        e(ExprKind::Not(Box::new(path(&["in"])))),
        e(ExprKind::Test {
            test: TestOp::IsEmpty,
            operand: Box::new(path(&["empty"])),
        }),
        bin(
            BinOp::Eq,
            lit(Literal::Int(i64::MIN)),
            lit(Literal::Dec(-0.0)),
        ),
        bin(
            BinOp::Eq,
            lit(Literal::Dec(5e-324)),
            lit(Literal::Dec(f64::MAX)),
        ),
        e(ExprKind::Coalesce(vec![
            path(&["x"]),
            lit(Literal::Int(-3)),
        ])),
        e(ExprKind::Offset {
            base: Box::new(lit(Literal::Int(-3))),
            terms: vec![OffsetTerm {
                minus: true,
                duration: Duration {
                    amount: 0,
                    unit: DurationUnit::Days,
                },
                span: Span::default(),
            }],
        }),
        lit(Literal::Str("\u{0}\"\\\n\r\t\u{1b}\u{85}😀#".into())),
        lit(Literal::Date(NaiveDate::from_ymd_opt(0, 1, 1).unwrap())),
        lit(Literal::DateTime(
            FixedOffset::east_opt(-(23 * 3600 + 59 * 60))
                .unwrap()
                .with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
                .unwrap(),
        )),
    ];
    // Why the printer back-quotes `any` and `all`: bare, they are read as the operator.
    assert!(herald::syntax::parse_condition("Tags contains any").is_err());
    assert!(herald::syntax::parse_condition("Tags contains `any`").is_ok());
    for tree in cases {
        let printed = herald::print::expr(&tree);
        let back = herald::syntax::parse_condition(&printed)
            .unwrap_or_else(|d| panic!("`{printed}`: {d:?}"));
        assert_eq!(back, tree, "printed as {printed}");
    }
}

// ---------------------------------------------------------------------------------------------
// (b) Compile and evaluate never panic
// ---------------------------------------------------------------------------------------------

/// Fields the generated conditions read and the generated records hold.
const FIELDS: &[&str] = &["x", "y", "s", "L", "d", "b", "a.b", "`Mailing Country`"];
const KEYS: &[&str] = &[
    "x",
    "y",
    "s",
    "L",
    "d",
    "b",
    "a",
    "Mailing Country",
    "é",
    "",
];

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![u64::MAX, i64::MAX as u64 + 1, 1 << 53, (1 << 53) + 1])
            .prop_map(Value::from),
        decimal().prop_map(Value::from),
        prop::sample::select(vec![
            "",
            " ",
            "FR",
            "fr",
            "vip",
            "2026-01-31",
            "2026-01-31T09:30:00Z",
            "2026-02-30",
            "2026-01-31T09:30:00",
            "+262143-12-31",
            "9999-12-31T23:59:59-23:59",
            "0000-01-01",
            "true",
            "1",
            "-0",
            "NaN",
            "é",
            "e\u{301}",
            "\u{0}",
            "😀",
            "\u{10ffff}",
            "ß",
        ])
        .prop_map(Value::from),
        tricky_string().prop_map(Value::from),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// A record of arbitrary JSON under the keys the conditions read.
fn random_record() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(KEYS), json()), 0..7)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

/// A record that mostly follows [`schema`], with a wrong value or a null here and there.
fn typed_record() -> impl Strategy<Value = Value> {
    let or_odd = |s: BoxedStrategy<Value>| prop_oneof![6 => s, 1 => json_leaf()].boxed();
    (
        or_odd(prop_oneof![any::<i64>().prop_map(Value::from), (-5i64..5).prop_map(Value::from), decimal().prop_map(Value::from)].boxed()),
        or_odd(prop_oneof![decimal().prop_map(Value::from), (-3i64..3).prop_map(Value::from)].boxed()),
        or_odd(prop::sample::select(vec!["FR", "BE", "DE", "", " FR"]).prop_map(Value::from).boxed()),
        or_odd(prop::collection::vec(prop::sample::select(vec!["vip", "beta", "VIP"]), 0..3).prop_map(Value::from).boxed()),
        or_odd(date().prop_map(|d| Value::from(d.format("%Y-%m-%d").to_string())).boxed()),
        or_odd(any::<bool>().prop_map(Value::from).boxed()),
        or_odd(date_time().prop_map(|t| serde_json::json!({"b": t.to_rfc3339()})).boxed()),
        or_odd(tricky_string().prop_map(Value::from).boxed()),
    )
        .prop_map(|(x, y, s, l, d, b, a, mc)| {
            serde_json::json!({"x": x, "y": y, "s": s, "L": l, "d": d, "b": b, "a": a, "Mailing Country": mc})
        })
}

fn record() -> impl Strategy<Value = Value> {
    prop_oneof![random_record(), typed_record()]
}

/// Source text that is mostly a condition: operands and operators in a plausible order.
fn operand() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(FIELDS).prop_map(str::to_string),
        prop::sample::select(vec![
            "1",
            "-2",
            "1.5",
            "0",
            "9223372036854775807",
            "1e5",
            "\"FR\"",
            "\"\"",
            "\"2026-01-31\"",
            "true",
            "false",
            "null",
            "@2026-01-31",
            "@2026-01-31T09:30:00+01:00",
            "today()",
            "now()",
            "today() - 30d",
            "now() + 12h",
            "[\"FR\", \"BE\"]",
            "[1, 2.5]",
            "[]",
            "[@2026-01-01]",
            "lower(s)",
            "len(L)",
            "trim(s)",
            "upper(x)",
            "(x ?? 0)",
            "30d",
        ])
        .prop_map(str::to_string),
        literal().prop_map(|l| herald::print::literal(&l)),
    ]
}

/// A comparison that type-checks against [`schema`] (and so without a schema too).
fn typed_comparison() -> impl Strategy<Value = String> {
    let ord = || prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]);
    let num = prop::sample::select(vec![
        "x",
        "y",
        "len(s)",
        "len(L)",
        "(x ?? 0)",
        "(y ?? x ?? 1.5)",
    ]);
    let num_lit = prop::sample::select(vec![
        "0",
        "1",
        "-2",
        "2.5",
        "9223372036854775807",
        "1e3",
        "-0.0",
    ]);
    let text = prop::sample::select(vec![
        "s",
        "`Mailing Country`",
        "lower(s)",
        "trim(`Mailing Country`)",
        "(s ?? \"FR\")",
    ]);
    let text_lit = prop::sample::select(vec!["\"FR\"", "\"BE\""]);
    let text_op = prop::sample::select(vec![
        "contains \"F\"",
        "starts with \"B\"",
        "ends with \"R\"",
        "matches \"^[A-Z]{2}$\"",
        "in [\"FR\", \"BE\"]",
        "not in [\"BE\"]",
    ]);
    let list_op = prop::sample::select(vec![
        "contains \"vip\"",
        "contains any [\"vip\", \"beta\"]",
        "contains all [\"vip\"]",
        "contains all []",
        "is empty",
    ]);
    let date = prop::sample::select(vec!["d", "d + 1d", "d - 2w", "(d ?? today())"]);
    let date_lit = prop::sample::select(vec![
        "@2026-01-31",
        "today()",
        "today() - 30d",
        "@2026-01-31T12:00:00+01:00",
        "now()",
    ]);
    let instant = prop::sample::select(vec!["a.b", "a.b + 12h", "a.b - 90m"]);
    let boolean = prop::sample::select(vec![
        "b",
        "not b",
        "b == true",
        "b != false",
        "not (b ?? false)",
        "(b ?? true)",
    ]);
    let any_field = prop::sample::select(vec![
        "x",
        "y",
        "s",
        "L",
        "d",
        "b",
        "a.b",
        "a",
        "`Mailing Country`",
    ]);
    let test = prop::sample::select(vec!["is null", "is not null", "is empty", "is not empty"]);
    prop_oneof![
        (num.clone(), ord(), num_lit.clone()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        (num_lit, ord(), num).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        (text.clone(), ord(), text_lit).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        (text, text_op).prop_map(|(a, o)| format!("{a} {o}")),
        list_op.prop_map(|o| format!("L {o}")),
        Just(String::from("\"vip\" in L")),
        (date, ord(), date_lit.clone()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        (instant, ord(), date_lit).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        boolean.prop_map(str::to_string),
        (any_field, test).prop_map(|(f, t)| format!("{f} {t}")),
    ]
}

/// Any operand, any operator, any operand: mostly type errors, some surprises.
fn untyped_comparison() -> impl Strategy<Value = String> {
    let op = prop::sample::select(vec![
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "in",
        "not in",
        "contains",
        "contains any",
        "contains all",
        "starts with",
        "ends with",
        "matches",
        "??",
        "+",
        "-",
    ]);
    prop_oneof![
        (operand(), op, operand()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        (
            operand(),
            prop::sample::select(vec!["is null", "is not null", "is empty", "is not empty"])
        )
            .prop_map(|(a, t)| format!("{a} {t}")),
        prop::sample::select(FIELDS).prop_map(|f| format!("not {f}")),
        operand(),
    ]
}

fn comparison() -> impl Strategy<Value = String> {
    prop_oneof![3 => typed_comparison(), 1 => untyped_comparison()]
}

fn well_formed_ish() -> impl Strategy<Value = String> {
    comparison().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["and", "or"]),
                inner.clone()
            )
                .prop_map(|(a, j, b)| format!("{a} {j} {b}")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

/// A well-formed-ish condition with a slip: a token dropped, doubled or replaced.
fn mangled() -> impl Strategy<Value = String> {
    let slip = prop::sample::select(vec![
        "&&",
        "||",
        "!",
        "=",
        "<>",
        "'",
        "\"",
        "(",
        ")",
        "[",
        "]",
        ",",
        "`",
        "@",
        "\\",
        "#",
        "not",
        "is",
        "and",
        "==",
        "",
        "\n",
        "?",
        "??",
        "-",
        "1_",
        "@2026-13-01",
        "\"\\q\"",
        "\"\\u{110000}\"",
    ]);
    (well_formed_ish(), any::<prop::sample::Index>(), slip).prop_map(|(src, at, slip)| {
        let cuts: Vec<usize> = (0..=src.len())
            .filter(|i| src.is_char_boundary(*i))
            .collect();
        let i = cuts[at.index(cuts.len())];
        format!("{}{slip}{}", &src[..i], &src[i..])
    })
}

fn any_source() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => well_formed_ish(),
        2 => mangled(),
        1 => ast().prop_map(|t| herald::print::expr(&t)),
        1 => any::<String>(),
        1 => "[a-zA-Z0-9_ .()\\[\\]\"'`@:+\\-=<>!?&|#,\\\\]{0,40}",
    ]
}

fn schema() -> Schema {
    let f = |name: &str, ty: FieldType| Field {
        name: name.to_string(),
        ty,
    };
    Schema::new(
        "S",
        vec![
            f("x", FieldType::Integer),
            f("y", FieldType::Decimal),
            f("s", FieldType::Picklist(vec!["FR".into(), "BE".into()])),
            f(
                "L",
                FieldType::Multiselect(vec!["vip".into(), "beta".into()]),
            ),
            f("d", FieldType::Date),
            f("b", FieldType::Boolean),
            f("a", FieldType::Object(vec![f("b", FieldType::DateTime)])),
            f("Mailing Country", FieldType::Text),
        ],
    )
}

fn clock() -> FixedClock {
    FixedClock(Utc.with_ymd_and_hms(2026, 1, 31, 9, 30, 0).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Compiling never panics (with and without a schema), and every diagnostic has a span inside
    /// the source, on character boundaries, and renders.
    #[test]
    fn compile_never_panics(src in any_source()) {
        let schema = schema();
        for s in [None, Some(&schema)] {
            if let Err(err) = Condition::compile(&src, s) {
                prop_assert!(!err.diagnostics.is_empty());
                for d in &err.diagnostics {
                    prop_assert!(d.span.end <= src.len(), "{} out of range in {:?}", d.span, src);
                    prop_assert!(src.is_char_boundary(d.span.start) && src.is_char_boundary(d.span.end),
                        "{} not on char boundaries in {:?}", d.span, src);
                }
                prop_assert!(!err.render().is_empty());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Evaluating never panics, and the compiled program agrees with the reference interpreter.
    #[test]
    fn eval_never_panics(src in any_source(), records in prop::collection::vec(record(), 1..6)) {
        let schema = schema();
        for s in [None, Some(&schema)] {
            let Ok(c) = Condition::compile(&src, s) else { continue };
            for r in &records {
                let fast = c.eval(r, &clock());
                let reference = c.eval_reference(r, &clock());
                prop_assert_eq!(fast, reference, "`{}` on {} (schema: {})", src, r, s.is_some());
                prop_assert_eq!(c.matches(r, &clock()), fast == Truth::True);
                // Not a JSON object at all.
                for odd in [Value::Null, Value::from(1), Value::from("x"), Value::Array(vec![r.clone()])] {
                    let _ = c.eval(&odd, &clock());
                    let _ = c.eval_reference(&odd, &clock());
                }
            }
        }
    }
}

/// The generators are worth something: a good share of the generated sources compile, so the
/// evaluation property evaluates real conditions.
#[test]
fn generated_sources_often_compile() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = any_source();
    let schema = schema();
    let (mut plain, mut typed, n) = (0, 0, 500);
    for _ in 0..n {
        let src = strategy.new_tree(&mut runner).unwrap().current();
        plain += usize::from(Condition::compile(&src, None).is_ok());
        typed += usize::from(Condition::compile(&src, Some(&schema)).is_ok());
    }
    eprintln!("compiled: {plain}/{n} without a schema, {typed}/{n} with one");
    assert!(plain * 4 > n, "only {plain}/{n} compile without a schema");
    assert!(typed * 10 > n, "only {typed}/{n} compile with a schema");
}
