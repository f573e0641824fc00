//! Fuzz target: a condition and records; the compiled, optimized program must give exactly the
//! reference interpreter's three-valued result.
//!
//! Inputs come in two shapes. `Structured` builds the condition from a small grammar over seven
//! fields (every operator, functions, `??`, offsets, nesting) and records from typed values, so
//! most inputs compile; `Raw` takes any condition text and any record bytes. For each compiled
//! condition and each record that is JSON, these must all agree with
//! `Condition::eval_reference` (the interpreter on the unoptimized IR): the interpreter on the
//! optimized IR, the compiled program on a serde_json record (three times, so that the key
//! hints of `src/jsonmap.rs` are learned and then used, across the records of an input), on a
//! compact record parsed from the record's bytes, and on a compact record built from the
//! serde_json value. The printer must
//! round-trip: `parse(print(ast)) == ast`.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use chrono::{DateTime, Utc};
use herald::condition::Condition;
use herald::interp::{self, Env};
use herald::record::{CompactRecord, JsonRecord};
use herald::schema::{Field, FieldType, Schema};
use herald::value::FixedClock;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const FIELDS: &[&str] = &["a", "s", "n", "d", "l", "b", "o.x", "`Mailing Country`"];
const STRINGS: &[&str] = &[
    "FR",
    "BE",
    "",
    "fr",
    "vip",
    "beta",
    "2026-01-01",
    "2026-01-05T12:00:00Z",
    " fr ",
    "É",
    "ß",
    "İ",
    "a\"b",
    "\\",
    "FRANCE",
    "x@y.fr",
];
const DATES: &[&str] = &[
    "2026-01-01",
    "2025-12-31",
    "2026-01-05",
    "0001-01-01",
    "9999-12-31",
];
const DATETIMES: &[&str] = &[
    "2026-01-01T10:00:00Z",
    "2025-12-31T23:00:00-02:00",
    "2026-01-05T12:00:00Z",
    "2026-01-05T12:00:00.5+14:00",
];
const REGEXES: &[&str] = &["^[A-Z]+$", "fr", "(?i)^f", "^$", ".*", "\\d{2}", "é|ß"];

#[derive(Debug, Arbitrary)]
enum Input {
    Structured {
        cond: Cond,
        records: Vec<Vec<Option<RecVal>>>,
        with_schema: bool,
    },
    Raw {
        cond: String,
        record: Vec<u8>,
        with_schema: bool,
    },
}

#[derive(Debug, Arbitrary)]
enum Cond {
    Leaf(Leaf),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Paren(Box<Cond>),
    CoalesceFalse(Box<Cond>),
}

#[derive(Debug, Arbitrary)]
enum Leaf {
    Cmp(Operand, Cmp, Operand),
    In(Operand, bool, ListLit),
    Test(Operand, Test),
    Contains(Operand, Operand),
    ContainsAny(Operand, ListLit),
    ContainsAll(Operand, ListLit),
    StartsWith(Operand, u8),
    EndsWith(Operand, u8),
    Matches(Operand, u8),
    Bare(Operand),
    Const(Option<bool>),
    Text(String),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Test {
    IsNull,
    IsNotNull,
    IsEmpty,
    IsNotEmpty,
}

#[derive(Debug, Arbitrary)]
enum Operand {
    Field(u8),
    Lit(Lit),
    Lower(Box<Operand>),
    Upper(Box<Operand>),
    Trim(Box<Operand>),
    Len(Box<Operand>),
    Coalesce(Box<Operand>, Box<Operand>),
    Offset(Box<Operand>, i16, Unit),
    Today,
    Now,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Unit {
    D,
    H,
    M,
    W,
}

#[derive(Debug, Arbitrary)]
enum Lit {
    Str(u8),
    Int(i64),
    SmallInt(i8),
    Dec(i16, u8),
    Bool(bool),
    Null,
    Date(u8),
    DateTime(u8),
}

#[derive(Debug, Arbitrary)]
struct ListLit(Vec<Lit>);

#[derive(Debug, Arbitrary)]
enum RecVal {
    Null,
    Bool(bool),
    Int(i64),
    SmallInt(i8),
    Dec(f64),
    Str(u8),
    Date(u8),
    DateTime(u8),
    Text(String),
    List(Vec<Scalar>),
    Object(Vec<(u8, Scalar)>),
}

#[derive(Debug, Arbitrary)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i8),
    Str(u8),
    Date(u8),
}

fn pick<'a>(table: &[&'a str], i: u8) -> &'a str {
    table[usize::from(i) % table.len()]
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:X}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Cond {
    fn print(&self, out: &mut String) {
        match self {
            Cond::Leaf(l) => l.print(out),
            Cond::Not(c) => {
                out.push_str("not (");
                c.print(out);
                out.push(')');
            }
            Cond::And(a, b) | Cond::Or(a, b) => {
                out.push('(');
                a.print(out);
                out.push_str(if matches!(self, Cond::And(..)) {
                    ") and ("
                } else {
                    ") or ("
                });
                b.print(out);
                out.push(')');
            }
            Cond::Paren(c) => {
                out.push('(');
                c.print(out);
                out.push(')');
            }
            Cond::CoalesceFalse(c) => {
                out.push_str("((");
                c.print(out);
                out.push_str(") ?? false)");
            }
        }
    }
}

impl Leaf {
    fn print(&self, out: &mut String) {
        match self {
            Leaf::Cmp(a, op, b) => {
                a.print(out);
                out.push_str(match op {
                    Cmp::Eq => " == ",
                    Cmp::Ne => " != ",
                    Cmp::Lt => " < ",
                    Cmp::Le => " <= ",
                    Cmp::Gt => " > ",
                    Cmp::Ge => " >= ",
                });
                b.print(out);
            }
            Leaf::In(a, negated, l) => {
                a.print(out);
                out.push_str(if *negated { " not in " } else { " in " });
                l.print(out);
            }
            Leaf::Test(a, t) => {
                a.print(out);
                out.push_str(match t {
                    Test::IsNull => " is null",
                    Test::IsNotNull => " is not null",
                    Test::IsEmpty => " is empty",
                    Test::IsNotEmpty => " is not empty",
                });
            }
            Leaf::Contains(a, b) => {
                a.print(out);
                out.push_str(" contains ");
                b.print(out);
            }
            Leaf::ContainsAny(a, l) | Leaf::ContainsAll(a, l) => {
                a.print(out);
                out.push_str(if matches!(self, Leaf::ContainsAny(..)) {
                    " contains any "
                } else {
                    " contains all "
                });
                l.print(out);
            }
            Leaf::StartsWith(a, s) | Leaf::EndsWith(a, s) => {
                a.print(out);
                out.push_str(if matches!(self, Leaf::StartsWith(..)) {
                    " starts with "
                } else {
                    " ends with "
                });
                out.push_str(&quote(pick(STRINGS, *s)));
            }
            Leaf::Matches(a, r) => {
                a.print(out);
                out.push_str(" matches ");
                out.push_str(&quote(pick(REGEXES, *r)));
            }
            Leaf::Bare(a) => a.print(out),
            Leaf::Const(c) => out.push_str(match c {
                Some(true) => "true",
                Some(false) => "false",
                None => "null",
            }),
            Leaf::Text(s) => out.push_str(s),
        }
    }
}

impl Operand {
    fn print(&self, out: &mut String) {
        match self {
            Operand::Field(i) => out.push_str(pick(FIELDS, *i)),
            Operand::Lit(l) => l.print(out),
            Operand::Lower(x) | Operand::Upper(x) | Operand::Trim(x) | Operand::Len(x) => {
                out.push_str(match self {
                    Operand::Lower(_) => "lower(",
                    Operand::Upper(_) => "upper(",
                    Operand::Trim(_) => "trim(",
                    _ => "len(",
                });
                x.print(out);
                out.push(')');
            }
            Operand::Coalesce(a, b) => {
                out.push('(');
                a.print(out);
                out.push_str(" ?? ");
                b.print(out);
                out.push(')');
            }
            Operand::Offset(x, n, unit) => {
                out.push('(');
                x.print(out);
                out.push_str(if *n < 0 { " - " } else { " + " });
                out.push_str(&n.unsigned_abs().to_string());
                out.push(match unit {
                    Unit::D => 'd',
                    Unit::H => 'h',
                    Unit::M => 'm',
                    Unit::W => 'w',
                });
                out.push(')');
            }
            Operand::Today => out.push_str("today()"),
            Operand::Now => out.push_str("now()"),
        }
    }
}

impl Lit {
    fn print(&self, out: &mut String) {
        match self {
            Lit::Str(i) => out.push_str(&quote(pick(STRINGS, *i))),
            Lit::Int(i) => out.push_str(&i.to_string()),
            Lit::SmallInt(i) => out.push_str(&i.to_string()),
            Lit::Dec(i, f) => out.push_str(&format!("{i}.{f}")),
            Lit::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Lit::Null => out.push_str("null"),
            Lit::Date(i) => {
                out.push('@');
                out.push_str(pick(DATES, *i));
            }
            Lit::DateTime(i) => {
                out.push('@');
                out.push_str(pick(DATETIMES, *i));
            }
        }
    }
}

impl ListLit {
    fn print(&self, out: &mut String) {
        out.push('[');
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            l.print(out);
        }
        out.push(']');
    }
}

impl Scalar {
    fn json(&self) -> Value {
        match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => json!(b),
            Scalar::Int(i) => json!(i),
            Scalar::Str(i) => json!(pick(STRINGS, *i)),
            Scalar::Date(i) => json!(pick(DATES, *i)),
        }
    }
}

impl RecVal {
    fn json(&self) -> Value {
        match self {
            RecVal::Null => Value::Null,
            RecVal::Bool(b) => json!(b),
            RecVal::Int(i) => json!(i),
            RecVal::SmallInt(i) => json!(i),
            RecVal::Dec(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            RecVal::Str(i) => json!(pick(STRINGS, *i)),
            RecVal::Date(i) => json!(pick(DATES, *i)),
            RecVal::DateTime(i) => json!(pick(DATETIMES, *i)),
            RecVal::Text(s) => json!(s),
            RecVal::List(items) => Value::Array(items.iter().map(Scalar::json).collect()),
            RecVal::Object(items) => {
                let mut m = serde_json::Map::new();
                for (k, v) in items {
                    m.insert(if k % 2 == 0 { "x" } else { "y" }.to_string(), v.json());
                }
                Value::Object(m)
            }
        }
    }
}

fn record_of(vals: &[Option<RecVal>]) -> Value {
    let mut m = serde_json::Map::new();
    for (name, v) in FIELDS.iter().zip(vals) {
        let Some(v) = v else { continue };
        if let Some(inner) = name.strip_prefix("o.") {
            let mut o = serde_json::Map::new();
            o.insert(inner.to_string(), v.json());
            m.insert("o".into(), Value::Object(o));
        } else {
            m.insert(name.trim_matches('`').to_string(), v.json());
        }
    }
    Value::Object(m)
}

fn schema() -> Schema {
    let text = |name: &str| Field {
        name: name.into(),
        ty: FieldType::Text,
    };
    Schema::new(
        "T",
        vec![
            Field {
                name: "a".into(),
                ty: FieldType::Picklist(STRINGS.iter().map(|s| s.to_string()).collect()),
            },
            text("s"),
            Field {
                name: "n".into(),
                ty: FieldType::Decimal,
            },
            Field {
                name: "d".into(),
                ty: FieldType::DateTime,
            },
            Field {
                name: "l".into(),
                ty: FieldType::Multiselect(STRINGS.iter().map(|s| s.to_string()).collect()),
            },
            Field {
                name: "b".into(),
                ty: FieldType::Boolean,
            },
            Field {
                name: "o".into(),
                ty: FieldType::Object(vec![Field {
                    name: "x".into(),
                    ty: FieldType::Integer,
                }]),
            },
            text("Mailing Country"),
        ],
    )
}

fn now() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + chrono::Duration::seconds(1_767_614_400) // 2026-01-05T12:00:00Z
}

/// The printer round trip: a condition that parses prints to text that parses to the same AST.
fn round_trip(src: &str) {
    let Ok(ast) = herald::syntax::parse_condition(src) else {
        return;
    };
    let printed = herald::print::expr(&ast);
    match herald::syntax::parse_condition(&printed) {
        Ok(again) => assert!(
            again == ast,
            "parse(print(ast)) != ast\nsource:  {src}\nprinted: {printed}\nast:   {ast:?}\nagain: {again:?}"
        ),
        Err(d) => panic!(
            "the printed condition does not parse\nsource:  {src}\nprinted: {printed}\n{d:?}"
        ),
    }
}

/// Compares every evaluation path with the reference interpreter on one record.
fn check(cond: &Condition, src: &str, rec: &Value, bytes: &[u8]) {
    let now = now();
    let clock = FixedClock(now);
    let expected = cond.eval_reference(rec, &clock);
    let env = Env {
        record: rec,
        fields: cond.fields(),
        now,
    };
    let optimized = interp::truth(cond.optimized(), &env);
    assert_eq!(
        optimized, expected,
        "optimized IR under the interpreter: {src} on {rec}"
    );
    assert_eq!(
        cond.eval(rec, &clock),
        expected,
        "compiled, eval(): {src} on {rec}"
    );
    let json = cond.eval_record(&JsonRecord(rec), now);
    assert_eq!(
        json, expected,
        "compiled, serde_json record: {src} on {rec}"
    );
    // The key hints were noted at the first lookup and learned at the second: the third
    // looks where they point.
    assert_eq!(
        cond.eval(rec, &clock),
        expected,
        "compiled, eval() with learned key hints: {src} on {rec}"
    );
    let from_json = CompactRecord::from_json(rec, cond.fields());
    assert_eq!(
        cond.eval_record(&from_json, now),
        expected,
        "compiled, compact record from serde_json: {src} on {rec}"
    );
    match cond.parse_record(bytes) {
        Ok(_) if !rec.is_object() => panic!(
            "a JSON value that is not an object was read as a record: {}",
            String::from_utf8_lossy(bytes)
        ),
        Ok(compact) => assert_eq!(
            cond.eval_record(&compact, now),
            expected,
            "compiled, compact record parsed from bytes: {src} on {}",
            String::from_utf8_lossy(bytes)
        ),
        // Refused as documented: a record is an object.
        Err(_) if !rec.is_object() => {}
        Err(e) => panic!(
            "serde_json parsed the record but the compact parser did not ({e}): {}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

fn run(input: Input) {
    let schema = schema();
    match input {
        Input::Structured {
            cond,
            records,
            with_schema,
        } => {
            let mut src = String::new();
            cond.print(&mut src);
            round_trip(&src);
            let Ok(c) = Condition::compile(&src, with_schema.then_some(&schema)) else {
                return;
            };
            for vals in records.iter().take(8) {
                let rec = record_of(vals);
                let bytes = serde_json::to_vec(&rec).unwrap_or_default();
                check(&c, &src, &rec, &bytes);
            }
        }
        Input::Raw {
            cond,
            record,
            with_schema,
        } => {
            round_trip(&cond);
            let Ok(c) = Condition::compile(&cond, with_schema.then_some(&schema)) else {
                return;
            };
            let Ok(rec) = serde_json::from_slice::<Value>(&record) else {
                // Not JSON: the compact parser must refuse it too, or at least not crash.
                let _ = c.parse_record(&record);
                return;
            };
            check(&c, &cond, &rec, &record);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        run(input);
    }
});
