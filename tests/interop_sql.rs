//! Differential tests of the SQL export: generated conditions and records, evaluated by Herald and
//! by SQLite (in memory) running the exported SQL, must agree on every row — as three-valued
//! results for single conditions, and as the chosen language for whole portals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::condition::Condition;
use herald::interop::sql::{self, Dialect, Options};
use herald::ir::{FieldInfo, FieldKind, read_field};
use herald::schema::{Field, FieldType, Schema};
use herald::value::{FixedClock, Truth, Value};
use proptest::prelude::*;
use rusqlite::types::Value as SqlValue;
use std::collections::BTreeMap;

/// The instant `today()` and `now()` read (a whole millisecond: the SQLite contract).
const NOW: &str = "2026-01-31T09:30:00.250Z";

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Strings chosen for the corners of text comparison: empty, case, accents, characters outside
/// the BMP and above U+E000 (where UTF-16 order differs from code point order), SQL wildcards and
/// quotes, white space.
const STRINGS: &[&str] = &[
    "",
    "a",
    "A",
    "ab",
    "abc",
    "b",
    "é",
    "É",
    "ß",
    "😀",
    "\u{E000}",
    "\u{FFFF}",
    "a b",
    "'",
    "%",
    "_",
    "a%",
    " a ",
    "\t",
    "x",
    "\u{3000}a\u{85}",
    "\u{2028}",
    "Straße",
];

/// The values of the multi-select fields.
const TAGS: &[&str] = &["x", "y", "z", "é", "a b", "😀"];

fn picklist(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

fn schema() -> Schema {
    let f = |name: &str, ty: FieldType| Field {
        name: name.to_string(),
        ty,
    };
    Schema::new(
        "T",
        vec![
            f("id", FieldType::Integer),
            f("s", FieldType::Text),
            f("e", FieldType::Email),
            f("p", FieldType::Picklist(picklist(STRINGS))),
            f("n", FieldType::Integer),
            f("d", FieldType::Decimal),
            f("b", FieldType::Boolean),
            f("dt", FieldType::Date),
            f("ts", FieldType::DateTime),
            f("tags", FieldType::Multiselect(picklist(TAGS))),
            f("tags2", FieldType::Multiselect(picklist(TAGS))),
        ],
    )
}

/// The same schema as rule-file text.
fn schema_text() -> String {
    let list = |v: &[&str]| {
        v.iter()
            .map(|s| herald::print::string(s))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "schema T {{\n  id integer\n  s text\n  e email\n  p picklist [{}]\n  n integer\n  d decimal\n  b boolean\n  dt date\n  ts datetime\n  tags multiselect [{}]\n  tags2 multiselect [{}]\n}}\n",
        list(STRINGS),
        list(TAGS),
        list(TAGS)
    )
}

/// The columns, in table order, with their SQLite types (the column encoding contract).
const COLUMNS: &[(&str, FieldKind, &str)] = &[
    ("s", FieldKind::Text, "TEXT"),
    ("e", FieldKind::Text, "TEXT"),
    ("p", FieldKind::Text, "TEXT"),
    ("n", FieldKind::Integer, "INTEGER"),
    ("d", FieldKind::Decimal, "NUMERIC"),
    ("b", FieldKind::Boolean, "INTEGER"),
    ("dt", FieldKind::Date, "TEXT"),
    ("ts", FieldKind::DateTime, "TEXT"),
    ("tags", FieldKind::Multiselect, "TEXT"),
    ("tags2", FieldKind::Multiselect, "TEXT"),
];

/// One record's value for a column, as the column encoding contract stores it: what Herald reads
/// (a value of another type than the schema's is NULL), dates as `YYYY-MM-DD`, date-times as
/// they were written, multi-selects as JSON arrays, booleans as 0/1.
fn encode(record: &serde_json::Value, name: &str, kind: FieldKind) -> SqlValue {
    let info = FieldInfo {
        path: vec![Box::from(name)].into(),
        kind,
        schema: Some(0),
    };
    match read_field(record, &info).value {
        Value::Null => SqlValue::Null,
        Value::Str(s) => SqlValue::Text(s.into()),
        Value::Int(i) => SqlValue::Integer(i),
        Value::Dec(f) => SqlValue::Real(f),
        Value::Bool(b) => SqlValue::Integer(i64::from(b)),
        Value::Date(d) => SqlValue::Text(d.format("%Y-%m-%d").to_string()),
        Value::DateTime(_) => SqlValue::Text(record[name].as_str().unwrap().to_string()),
        Value::List(items) => SqlValue::Text(
            serde_json::Value::Array(items.iter().map(Value::to_json).collect()).to_string(),
        ),
        Value::Object => panic!("no object fields here"),
    }
}

/// An in-memory SQLite table `T` holding the records (the record's index is its `id`).
fn load(records: &[serde_json::Value]) -> rusqlite::Connection {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    let cols: Vec<String> = COLUMNS
        .iter()
        .map(|(n, _, t)| format!("\"{n}\" {t}"))
        .collect();
    db.execute(
        &format!(
            "CREATE TABLE \"T\" (\"id\" INTEGER PRIMARY KEY, {})",
            cols.join(", ")
        ),
        [],
    )
    .unwrap();
    let placeholders: Vec<String> = (0..=COLUMNS.len()).map(|i| format!("?{}", i + 1)).collect();
    let mut insert = db
        .prepare(&format!(
            "INSERT INTO \"T\" VALUES ({})",
            placeholders.join(", ")
        ))
        .unwrap();
    for (i, r) in records.iter().enumerate() {
        let mut row = vec![SqlValue::Integer(i as i64)];
        row.extend(COLUMNS.iter().map(|(n, k, _)| encode(r, n, *k)));
        insert.execute(rusqlite::params_from_iter(row)).unwrap();
    }
    drop(insert);
    db
}

fn truth_of(v: SqlValue) -> Result<Truth, String> {
    match v {
        SqlValue::Null => Ok(Truth::Unknown),
        SqlValue::Integer(1) => Ok(Truth::True),
        SqlValue::Integer(0) => Ok(Truth::False),
        other => Err(format!("not a truth value: {other:?}")),
    }
}

/// Runs one condition over the records through SQLite and Herald; returns the first row where
/// they differ.
fn check_condition(src: &str, records: &[serde_json::Value]) -> Result<(), String> {
    let schema = schema();
    let cond = Condition::compile(src, Some(&schema))
        .map_err(|e| format!("`{src}` does not compile: {e}"))?;
    let opts = Options {
        dialect: Dialect::Sqlite,
        now: now(),
    };
    let expr = sql::condition(cond.ir(), cond.fields(), &opts)
        .map_err(|e| format!("`{src}` refused: {e}"))?;
    let db = load(records);
    let query = format!("SELECT \"id\", ({expr}) FROM \"T\" ORDER BY \"id\"");
    let mut stmt = db.prepare(&query).map_err(|e| format!("{e}\n{query}"))?;
    let rows: Vec<(i64, SqlValue)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| format!("{e}\n{query}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{e}\n{query}"))?;
    let clock = FixedClock(now());
    for (id, v) in rows {
        let record = &records[id as usize];
        let sql_truth = truth_of(v)?;
        let herald = cond.eval(record, &clock);
        if sql_truth != herald {
            return Err(format!(
                "condition `{src}`\nrecord {record}\nherald: {herald}, sqlite: {sql_truth}\nsql: {expr}"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

fn pick(items: &'static [&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(items).prop_map(str::to_string).boxed()
}

fn str_lit() -> BoxedStrategy<String> {
    prop::sample::select(STRINGS)
        .prop_map(herald::print::string)
        .boxed()
}

fn tag_lit() -> BoxedStrategy<String> {
    prop::sample::select(TAGS)
        .prop_map(herald::print::string)
        .boxed()
}

fn list_of(item: BoxedStrategy<String>, min: usize) -> BoxedStrategy<String> {
    prop::collection::vec(item, min..4)
        .prop_map(|v| format!("[{}]", v.join(", ")))
        .boxed()
}

/// Text-valued expressions over fields that accept any string literal.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => pick(&["s", "e", "p"]),
        2 => str_lit(),
        1 => pick(&["trim(s)", "trim(p)"]),
        1 => str_lit().prop_map(|l| format!("(s ?? {l})")),
        1 => pick(&["(s ?? p)", "(p ?? e ?? \"\")"]),
    ]
    .boxed()
}

fn int_lit() -> BoxedStrategy<String> {
    prop_oneof![
        pick(&[
            "0",
            "1",
            "-1",
            "42",
            "9007199254740993",
            "9223372036854775807",
            "-9223372036854775807"
        ]),
        (-50i64..50).prop_map(|i| i.to_string()),
    ]
    .boxed()
}

fn dec_lit() -> BoxedStrategy<String> {
    prop_oneof![
        pick(&[
            "0.0",
            "0.5",
            "-1.5",
            "0.1",
            "42.0",
            "9007199254740992.0",
            "100000000000000000000.0",
            "1000.5"
        ]),
        (-1000i32..1000).prop_map(|i| format!("{}.25", i)),
    ]
    .boxed()
}

fn num() -> BoxedStrategy<String> {
    prop_oneof![
        4 => pick(&["n", "d"]),
        2 => int_lit(),
        2 => dec_lit(),
        1 => pick(&["len(s)", "len(tags)", "len(trim(s))", "(n ?? 0)", "(d ?? n)", "(n ?? d ?? 1.5)"]),
    ]
    .boxed()
}

fn date() -> BoxedStrategy<String> {
    prop_oneof![
        3 => Just("dt".to_string()),
        2 => pick(&["@2026-01-31", "@2026-01-30", "@2025-12-31", "@2026-03-01", "@2024-02-29"]),
        1 => pick(&["today()", "today() - 30d", "today() + 1d", "dt + 3d", "dt - 1w", "dt + 1w - 2d", "(dt ?? today())", "(dt ?? @2026-01-01) + 31d"]),
    ]
    .boxed()
}

fn datetime() -> BoxedStrategy<String> {
    prop_oneof![
        3 => Just("ts".to_string()),
        2 => pick(&[
            "@2026-01-31T09:30:00Z",
            "@2026-01-31T09:30:00.250Z",
            "@2026-01-31T11:30:00.250+02:00",
            "@2026-01-30T23:59:59.999-05:00",
            "@2026-01-31T00:00:00Z",
        ]),
        1 => pick(&["now()", "now() - 12h", "ts - 2h", "ts + 90m", "dt + 12h", "dt - 1m", "(ts ?? now())", "(dt ?? now())", "(ts ?? dt)"]),
    ]
    .boxed()
}

fn temporal() -> BoxedStrategy<String> {
    prop_oneof![date(), datetime()].boxed()
}

fn tags() -> BoxedStrategy<String> {
    prop_oneof![
        4 => pick(&["tags", "tags2"]),
        1 => list_of(tag_lit(), 0).prop_map(|l| format!("(tags ?? {l})")),
    ]
    .boxed()
}

fn cmp_op() -> BoxedStrategy<String> {
    pick(&["==", "!=", "<", "<=", ">", ">="])
}

fn leaf() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (text(), cmp_op(), text()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        3 => (num(), cmp_op(), num()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        3 => (temporal(), cmp_op(), temporal()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        2 => pick(&["b", "b == true", "b != false", "(b ?? false)", "b == (n > 0)"]),
        2 => (text(), pick(&["in", "not in"]), list_of(str_lit(), 0)).prop_map(|(a, o, l)| format!("{a} {o} {l}")),
        1 => (num(), pick(&["in", "not in"]), list_of(int_lit(), 1)).prop_map(|(a, o, l)| format!("{a} {o} {l}")),
        1 => (num(), pick(&["in", "not in"]), list_of(dec_lit(), 1)).prop_map(|(a, o, l)| format!("{a} {o} {l}")),
        1 => (date(), pick(&["in", "not in"]), pick(&["[@2026-01-31, @2026-01-30]", "[@2026-01-31T00:00:00Z]"])).prop_map(|(a, o, l)| format!("{a} {o} {l}")),
        1 => (datetime(), pick(&["in", "not in"]), pick(&["[@2026-01-31T09:30:00.250Z, @2026-01-31T00:00:00Z]", "[@2026-01-31]"])).prop_map(|(a, o, l)| format!("{a} {o} {l}")),
        2 => (tag_lit(), pick(&["in", "not in"]), tags()).prop_map(|(a, o, l)| format!("{a} {o} {l}")),
        2 => (tags(), tag_lit()).prop_map(|(l, x)| format!("{l} contains {x}")),
        1 => (pick(&["s", "p"]), pick(&["in", "not in"]), tags()).prop_map(|(a, o, l)| format!("{a} {o} {l}")),
        2 => (text(), text()).prop_map(|(a, b)| format!("{a} contains {b}")),
        2 => (tags(), pick(&["contains any", "contains all"]), list_of(tag_lit(), 0)).prop_map(|(a, o, l)| format!("{a} {o} {l}")),
        1 => (list_of(tag_lit(), 0), pick(&["contains any", "contains all"]), tags()).prop_map(|(a, o, l)| format!("{a} {o} {l}")),
        1 => (tags(), pick(&["contains any", "contains all"]), tags()).prop_map(|(a, o, l)| format!("{a} {o} {l}")),
        2 => (text(), pick(&["starts with", "ends with"]), text()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        2 => (prop_oneof![text(), num(), temporal(), tags(), Just("b".to_string())], pick(&["is null", "is not null", "is empty", "is not empty"])).prop_map(|(a, t)| format!("{a} {t}")),
    ]
    .boxed()
}

fn condition() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            2 => inner.clone().prop_map(|c| format!("not ({c})")),
            3 => prop::collection::vec(inner.clone(), 2..4).prop_map(|v| format!("({})", v.join(") and ("))),
            3 => prop::collection::vec(inner.clone(), 2..4).prop_map(|v| format!("({})", v.join(") or ("))),
            1 => (inner.clone(), pick(&["true", "false"])).prop_map(|(c, d)| format!("({c}) ?? {d}")),
            1 => (inner.clone(), pick(&["==", "!="]), inner.clone()).prop_map(|(a, o, b)| format!("({a}) {o} ({b})")),
            1 => (inner, pick(&["is null", "is not null"])).prop_map(|(c, t)| format!("({c}) {t}")),
        ]
    })
}

fn json_str() -> BoxedStrategy<serde_json::Value> {
    prop::sample::select(STRINGS)
        .prop_map(|s| serde_json::Value::String(s.to_string()))
        .boxed()
}

/// A field value: absent (`None`), null, a value of the field's type, or one of another type.
fn value_of(kind: FieldKind) -> BoxedStrategy<Option<serde_json::Value>> {
    use serde_json::json;
    let typed: BoxedStrategy<serde_json::Value> = match kind {
        FieldKind::Text => json_str(),
        FieldKind::Integer => prop_oneof![
            prop::sample::select(vec![json!(0), json!(1), json!(-1), json!(42), json!(9007199254740993i64), json!(i64::MAX), json!(i64::MIN), json!(-9223372036854775807i64), json!(1.5), json!(5.0)]),
            (-60i64..60).prop_map(|i| json!(i)),
        ]
        .boxed(),
        FieldKind::Decimal => prop_oneof![
            prop::sample::select(vec![json!(0.0), json!(-0.0), json!(0.5), json!(0.1), json!(-1.5), json!(42), json!(1000.5), json!(9007199254740992.0), json!(9007199254740993i64), json!(1e20), json!(i64::MAX)]),
            (-1000i32..1000).prop_map(|i| json!(f64::from(i) + 0.25)),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ]
        .boxed(),
        FieldKind::Boolean => prop::sample::select(vec![json!(true), json!(false)]).boxed(),
        FieldKind::Date => prop_oneof![
            1 => prop::sample::select(vec!["2026-01-31", "2026-01-30", "2025-12-31", "2026-03-01", "2024-02-29", "2026-01-01", "2026-02-30", "", "2026-1-5"]).prop_map(|s| json!(s)),
            1 => (2020i32..2030, 1u32..13, 1u32..29).prop_map(|(y, m, d)| json!(format!("{y:04}-{m:02}-{d:02}"))),
            // Most dates within a few weeks of the pinned clock, where `today() - 30d` and
            // `dt + 3d` change answers.
            3 => (-70i64..70).prop_map(|days| {
                let d = now().date_naive() + chrono::Duration::days(days);
                json!(d.format("%Y-%m-%d").to_string())
            }),
        ]
        .boxed(),
        FieldKind::DateTime => prop_oneof![
            1 => prop::sample::select(vec![
                "2026-01-31T09:30:00.250Z",
                "2026-01-31T11:30:00.250+02:00",
                "2026-01-31T09:30:00Z",
                "2026-01-31T00:00:00Z",
                "2026-01-30T21:30:00.25-12:00",
                "2026-01-31T12:00:00.1+02:30",
                "not a date",
                "2026-01-31",
            ])
            .prop_map(|s| json!(s)),
            1 => (2025i32..2027, 1u32..13, 1u32..29, 0u32..24, 0u32..60, 0u32..1000, prop::sample::select(vec!["Z", "+02:00", "-05:30", "+14:00"]))
                .prop_map(|(y, mo, d, h, mi, ms, off)| json!(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:07.{ms:03}{off}"))),
            // On and next to the instants the generated conditions name (the clock, the literals,
            // their offsets): where a wrong offset or rounding changes an answer.
            3 => (
                prop::sample::select(vec![0i64, 2 * 3600, 12 * 3600, -12 * 3600, 90 * 60, -(90 * 60), 60, 3600, -(9 * 3600 + 30 * 60), 14 * 3600 + 30 * 60]),
                prop::sample::select(vec![0i64, 0, -250, 250, -1, 1, -1000, 1000, -86_400_000]),
                prop::sample::select(vec![0i32, 7200, -19800, 50400]),
            )
                .prop_map(|(secs, ms, off)| {
                    let t = now() + chrono::Duration::seconds(secs) + chrono::Duration::milliseconds(ms);
                    let offset = chrono::FixedOffset::east_opt(off).unwrap();
                    json!(t.with_timezone(&offset).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                }),
        ]
        .boxed(),
        FieldKind::Multiselect => prop::collection::vec(prop::sample::select(TAGS), 0..4)
            .prop_map(|v| json!(v))
            .boxed(),
        _ => Just(json!(null)).boxed(),
    };
    let other = prop::sample::select(vec![
        json!(5),
        json!("5"),
        json!([1]),
        json!({"a": 1}),
        json!(true),
    ]);
    prop_oneof![
        6 => typed.prop_map(Some),
        1 => Just(None),
        1 => Just(Some(serde_json::Value::Null)),
        1 => other.prop_map(Some),
    ]
    .boxed()
}

fn record() -> impl Strategy<Value = serde_json::Value> {
    let fields: Vec<BoxedStrategy<Option<serde_json::Value>>> =
        COLUMNS.iter().map(|(_, k, _)| value_of(*k)).collect();
    fields.prop_map(|values| {
        let mut obj = serde_json::Map::new();
        for ((name, _, _), v) in COLUMNS.iter().zip(values) {
            if let Some(v) = v {
                obj.insert(name.to_string(), v);
            }
        }
        serde_json::Value::Object(obj)
    })
}

fn records() -> impl Strategy<Value = Vec<serde_json::Value>> {
    prop::collection::vec(record(), 1..24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_agrees_with_herald_on_every_row(src in condition(), records in records()) {
        if let Err(e) = check_condition(&src, &records) {
            prop_assert!(false, "{}", e);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Whole portals: `herald export sql` against the router's language choice
// ---------------------------------------------------------------------------------------------

/// A portal's rule text: `require`, `invite` lines and maybe `otherwise`.
fn portal_text(
    require: Option<&str>,
    branches: &[(String, Option<String>)],
    otherwise: Option<&str>,
) -> String {
    let mut p = String::from("portal \"P\" {\n  records T\n  identity id, s, e\n");
    if let Some(r) = require {
        p.push_str(&format!("  require {r}\n"));
    }
    for (lang, cond) in branches {
        match cond {
            Some(c) => p.push_str(&format!("  invite \"{lang}\" when {c}\n")),
            None => p.push_str(&format!("  invite \"{lang}\"\n")),
        }
    }
    if let Some(o) = otherwise {
        p.push_str(&format!("  invite \"{o}\" otherwise\n"));
    }
    p.push_str("}\n");
    p
}

/// Exports the portal, runs it over the records and compares with the router, row by row.
fn check_portal(rules: &str, records: &[serde_json::Value]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.herald"),
        format!("{}\n{rules}", schema_text()),
    )
    .unwrap();
    let loaded = herald::load::load(dir.path()).unwrap();
    let Some(set) = loaded.rule_set else {
        return Err(format!(
            "rules do not load: {:?}\n{rules}",
            loaded.diagnostics
        ));
    };
    let opts = Options {
        dialect: Dialect::Sqlite,
        now: now(),
    };
    let query = sql::portal(&set, 0, None, &opts).map_err(|e| format!("refused: {e}\n{rules}"))?;
    let db = load(records);
    let mut stmt = db.prepare(&query).map_err(|e| format!("{e}\n{query}"))?;
    let got: BTreeMap<i64, String> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| format!("{e}\n{query}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{e}\n{query}"))?;
    for (i, r) in records.iter().enumerate() {
        let mut record = r.clone();
        record["id"] = serde_json::json!(i);
        let want = herald::route::choose_language(
            &set,
            0,
            herald::event::EventKind::Create,
            &herald::record::JsonRecord(&record),
            now(),
        )
        .ok();
        let have = got.get(&(i as i64)).cloned();
        if want != have {
            return Err(format!(
                "record {record}\nrouter: {want:?}, sqlite: {have:?}\n{rules}\n{query}"
            ));
        }
    }
    Ok(())
}

fn portal_rules() -> impl Strategy<Value = String> {
    const LANGUAGES: [&str; 4] = ["fr", "de", "es", "it"];
    (
        prop::option::weighted(0.7, condition()),
        prop::collection::vec(condition(), 0..4),
        // The end of the list: `otherwise`, a last line without condition, or nothing.
        prop::sample::select(vec![Some("en"), Some("pt-BR"), Some(""), None]),
    )
        .prop_filter("a portal needs an invite line", |(_, b, o)| {
            !b.is_empty() || o.is_some()
        })
        .prop_map(|(r, b, end)| {
            let mut branches: Vec<(String, Option<String>)> = b
                .into_iter()
                .zip(LANGUAGES)
                .map(|(c, l)| (l.to_string(), Some(c)))
                .collect();
            let otherwise = match end {
                Some("") => {
                    branches.push(("nl".to_string(), None));
                    None
                }
                other => other,
            };
            portal_text(r.as_deref(), &branches, otherwise)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn exported_portals_choose_the_routers_language(rules in portal_rules(), records in records()) {
        if let Err(e) = check_portal(&rules, &records) {
            prop_assert!(false, "{}", e);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed cases: the corners named in the issue, and what is refused
// ---------------------------------------------------------------------------------------------

/// Records and conditions at the corners named in the issue.
fn corner_records() -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        json!({}),
        json!({"s": "abc", "tags": ["x", "y"], "n": 3, "d": 2.5, "b": true, "dt": "2026-01-31", "ts": "2026-01-31T11:30:00.250+02:00"}),
        json!({"s": "", "tags": [], "n": 0, "d": -0.0, "b": false, "dt": "2026-02-30", "ts": "nope"}),
        json!({"s": "a%", "p": "_", "tags": ["😀"], "n": 9007199254740993i64, "d": 9007199254740992.0}),
        json!({"s": "\u{E000}", "p": "😀", "e": "\u{FFFF}", "tags": null, "n": "5", "d": [1]}),
        json!({"s": "B", "p": "a", "e": "É", "n": 1, "d": 0.1}),
    ]
}

const CORNER_CONDITIONS: &[&str] = &[
    "s contains \"a\"",
    "tags contains \"x\"",
    "not (tags contains \"x\")",
    "s starts with \"a%\"",
    "s ends with \"%\"",
    "s < p",
    "p > e",
    "s < \"a\"",
    "e > \"e\"",
    "s in []",
    "s not in []",
    "\"x\" in tags",
    "tags contains any []",
    "tags contains all []",
    "[\"x\"] contains all tags",
    "[] contains all tags",
    "tags contains all tags2",
    "tags contains any tags2",
    "n == d",
    "n < 9007199254740992.0",
    "d > n",
    "d == 0.1",
    "d < 0.1",
    "s is empty",
    "tags is empty",
    "tags is not empty",
    "len(tags) == 0",
    "len(s) > 2",
    "trim(s) == \"\"",
    "dt == today()",
    "ts <= now()",
    "ts == now()",
    "dt < ts",
    "dt + 12h > ts",
    "(dt ?? now()) < ts",
    "not b",
    "not (b ?? false)",
    "(s == \"x\") ?? true",
    "(s == \"x\") == (n > 1)",
    "b is null",
    "(n > 1) is null",
    "s ends with \"\"",
    "s starts with s",
    "s ends with p",
    "s contains \"\"",
];

#[test]
fn corner_cases_agree() {
    let records = corner_records();
    for src in CORNER_CONDITIONS {
        check_condition(src, &records).unwrap();
    }
}

#[test]
fn refused_constructs_name_themselves() {
    let schema = schema();
    let opts = Options {
        dialect: Dialect::Sqlite,
        now: now(),
    };
    for (src, construct) in [
        ("s matches \"^a\"", "`matches`"),
        ("lower(s) == \"a\"", "`lower(...)`"),
        ("upper(s) == \"A\"", "`upper(...)`"),
        ("s == \"\\u{0}\"", "the NUL character"),
        ("dt < @10000-01-01", "a date"),
    ] {
        let Ok(cond) = Condition::compile(src, Some(&schema)) else {
            continue;
        };
        let err = sql::condition(cond.ir(), cond.fields(), &opts).unwrap_err();
        assert_eq!(err.construct, construct, "{src}: {err}");
        assert!(
            err.span.is_some(),
            "{src}: the refusal points at the construct"
        );
    }
    // Without a schema there is no column type.
    let cond = Condition::compile("x == 1", None).unwrap();
    let err = sql::condition(cond.ir(), cond.fields(), &opts).unwrap_err();
    assert!(err.message.contains("no schema type"), "{err}");
    // Literal-only sub-expressions are folded: `lower` of a literal is fine.
    let cond = Condition::compile("s == lower(\"ÉCOLE\")", Some(&schema)).unwrap();
    let sql = sql::condition(cond.ir(), cond.fields(), &opts).unwrap();
    assert_eq!(sql, "\"s\" = 'école'");
}

#[test]
fn postgres_golden_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/interop");
    let set = herald::load::load(&dir.join("rules"))
        .unwrap()
        .rule_set
        .expect("the fixture rules load");
    let opts = |dialect| Options {
        dialect,
        now: chrono::DateTime::parse_from_rfc3339("2026-01-31T09:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    };
    for (i, portal) in set.portals.iter().enumerate() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let got = match sql::portal(&set, i, None, &opts(dialect)) {
                Ok(s) => s,
                Err(e) => format!("-- refused: {}: {}\n", e.construct, e.message),
            };
            let slug: String = portal
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let path = dir.join(format!("{slug}.{}.sql", dialect.name()));
            if std::env::var_os("HERALD_BLESS").is_some() {
                std::fs::write(&path, &got).unwrap();
            }
            let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
                panic!(
                    "missing golden file {} (run with HERALD_BLESS=1)",
                    path.display()
                )
            });
            assert_eq!(
                got,
                want,
                "{} differs (run with HERALD_BLESS=1 to update)",
                path.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL, when a server is at hand: HERALD_POSTGRES=<libpq connection string> runs the same
// differential through `psql` (a UTF-8 database; any default collation). Without it, the
// PostgreSQL dialect is covered by the golden files above.
// ---------------------------------------------------------------------------------------------

fn postgres() -> Option<String> {
    std::env::var("HERALD_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

/// The PostgreSQL column types of the contract (numbers as exact `numeric`).
const PG_TYPES: &[&str] = &[
    "text", "text", "text", "numeric", "numeric", "boolean", "text", "text", "text", "text",
];

fn pg_literal(v: &SqlValue, ty: &str) -> String {
    match (v, ty) {
        (SqlValue::Null, _) => "NULL".into(),
        (SqlValue::Integer(i), "boolean") => (if *i == 1 { "TRUE" } else { "FALSE" }).into(),
        (SqlValue::Integer(i), _) => i.to_string(),
        (SqlValue::Real(f), _) => sql::exact_decimal(*f),
        (SqlValue::Text(s), _) => format!("'{}'", s.replace('\'', "''")),
        (SqlValue::Blob(_), _) => panic!("no blobs"),
    }
}

/// A psql script that loads the records into a temporary table `T`, then runs `query`.
fn pg_script(records: &[serde_json::Value], query: &str) -> String {
    let cols: Vec<String> = COLUMNS
        .iter()
        .zip(PG_TYPES)
        .map(|((n, _, _), t)| format!("\"{n}\" {t}"))
        .collect();
    let mut script = format!(
        "CREATE TEMP TABLE \"T\" (\"id\" bigint PRIMARY KEY, {});\n",
        cols.join(", ")
    );
    for (i, r) in records.iter().enumerate() {
        let vals: Vec<String> = COLUMNS
            .iter()
            .zip(PG_TYPES)
            .map(|((n, k, _), t)| pg_literal(&encode(r, n, *k), t))
            .collect();
        script.push_str(&format!(
            "INSERT INTO \"T\" VALUES ({i}, {});\n",
            vals.join(", ")
        ));
    }
    script.push_str(query);
    script.push('\n');
    script
}

/// Runs a script through psql; the rows of its last query as `|`-separated fields.
fn psql(conninfo: &str, script: &str) -> Result<Vec<Vec<String>>, String> {
    use std::io::Write;
    let mut child = std::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-F",
            "|",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            conninfo,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        return Err(format!(
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect())
}

fn check_condition_pg(
    conninfo: &str,
    src: &str,
    records: &[serde_json::Value],
) -> Result<(), String> {
    let schema = schema();
    let cond = Condition::compile(src, Some(&schema))
        .map_err(|e| format!("`{src}` does not compile: {e}"))?;
    let opts = Options {
        dialect: Dialect::Postgres,
        now: now(),
    };
    let expr = sql::condition(cond.ir(), cond.fields(), &opts)
        .map_err(|e| format!("`{src}` refused: {e}"))?;
    let query = format!("SELECT \"id\", CAST(({expr}) AS int) FROM \"T\" ORDER BY \"id\";");
    let rows = psql(conninfo, &pg_script(records, &query)).map_err(|e| format!("{e}\n{query}"))?;
    let clock = FixedClock(now());
    for row in rows {
        let id: usize = row[0].parse().unwrap();
        let pg = match row.get(1).map(String::as_str) {
            Some("1") => Truth::True,
            Some("0") => Truth::False,
            _ => Truth::Unknown,
        };
        let record = &records[id];
        let herald = cond.eval(record, &clock);
        if pg != herald {
            return Err(format!(
                "condition `{src}`\nrecord {record}\nherald: {herald}, postgres: {pg}\nsql: {expr}"
            ));
        }
    }
    Ok(())
}

fn check_portal_pg(
    conninfo: &str,
    rules: &str,
    records: &[serde_json::Value],
) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.herald"),
        format!("{}\n{rules}", schema_text()),
    )
    .unwrap();
    let set = herald::load::load(dir.path())
        .unwrap()
        .rule_set
        .ok_or("rules do not load")?;
    let opts = Options {
        dialect: Dialect::Postgres,
        now: now(),
    };
    let query = sql::portal(&set, 0, None, &opts).map_err(|e| format!("refused: {e}"))?;
    let rows = psql(conninfo, &pg_script(records, &query)).map_err(|e| format!("{e}\n{query}"))?;
    let got: BTreeMap<usize, String> = rows
        .into_iter()
        .map(|r| (r[0].parse().unwrap(), r[1].clone()))
        .collect();
    for (i, r) in records.iter().enumerate() {
        let mut record = r.clone();
        record["id"] = serde_json::json!(i);
        let want = herald::route::choose_language(
            &set,
            0,
            herald::event::EventKind::Create,
            &herald::record::JsonRecord(&record),
            now(),
        )
        .ok();
        if want.as_ref() != got.get(&i) {
            return Err(format!(
                "record {record}\nrouter: {want:?}, postgres: {:?}\n{rules}\n{query}",
                got.get(&i)
            ));
        }
    }
    Ok(())
}

#[test]
fn postgres_corner_cases_agree() {
    let Some(conninfo) = postgres() else { return };
    for src in CORNER_CONDITIONS {
        check_condition_pg(&conninfo, src, &corner_records()).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn postgres_agrees_with_herald_on_every_row(src in condition(), records in records()) {
        let Some(conninfo) = postgres() else { return Ok(()) };
        if let Err(e) = check_condition_pg(&conninfo, &src, &records) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn postgres_portals_choose_the_routers_language(rules in portal_rules(), records in records()) {
        let Some(conninfo) = postgres() else { return Ok(()) };
        if let Err(e) = check_portal_pg(&conninfo, &rules, &records) {
            prop_assert!(false, "{}", e);
        }
    }
}
