//! SQL export of conditions and portals (SQLite and PostgreSQL): one SELECT per portal that
//! returns, for each row of a table of records, the language the portal would invite it in.
//!
//! The translation works on the typed IR, node by node, and is exact: Herald's three-valued logic
//! is SQL's (a condition is 1, 0 or NULL in SQLite, TRUE, FALSE or NULL in PostgreSQL), and every
//! operator is written so that it is NULL exactly when Herald's is unknown. What has no exact SQL
//! counterpart (`matches`, `lower`, `upper`, fields without a schema type) is refused with a
//! [`Refusal`] naming it. Sub-expressions that read no field (literals, `today()`, `now()`) are
//! evaluated here by the reference interpreter with the pinned clock and written as literals.
//!
//! The column encoding contract (docs/interop.md): one column per schema field, named by its path
//! (`address.city` for nested fields); text as text; integers and decimals as numbers (decimal
//! columns NUMERIC, not REAL, in SQLite); booleans 0/1 in SQLite, `boolean` in PostgreSQL; dates
//! as `YYYY-MM-DD` text; date-times as ISO-8601 text with an offset (at most millisecond
//! precision in SQLite); multi-selects as JSON array text; NULL for missing values. Text never
//! contains U+0000 and uses the default (binary) collation in SQLite.

use super::{Refusal, Result};
use crate::ast::TestOp;
use crate::interp::{self, Env};
use crate::ir::{CmpOp, FieldInfo, FieldKind, FieldTable, Func, Node, NodeKind, Ty};
use crate::rules::RuleSet;
use crate::value::Value;
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use std::fmt::Write;
use std::sync::atomic::{AtomicU32, Ordering};

/// The SQL dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.38 or later (JSON functions built in).
    Sqlite,
    /// PostgreSQL 12 or later.
    Postgres,
}

impl Dialect {
    /// Parses `sqlite` or `postgres` (also `postgresql`).
    pub fn parse(s: &str) -> Option<Dialect> {
        match s {
            "sqlite" => Some(Dialect::Sqlite),
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            _ => None,
        }
    }

    /// The dialect's name.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// How to export.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The dialect.
    pub dialect: Dialect,
    /// The instant behind `today()` and `now()`, written into the SQL as literals.
    pub now: DateTime<Utc>,
}

/// The characters Rust's `str::trim` removes (Unicode `White_Space`).
const WHITE_SPACE: [u32; 25] = [
    0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
    0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
];

/// A double-quoted SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table name, quoting each dot-separated part (`analytics.contacts` names a table in a
/// PostgreSQL schema).
pub fn quote_table(name: &str) -> String {
    name.split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".")
}

/// The column that holds a field: its path joined with dots.
pub fn column_name(info: &FieldInfo) -> String {
    info.display()
}

/// A single-quoted SQL string literal.
fn quote_str(s: &str) -> Result<String> {
    if s.contains('\0') {
        return Err(Refusal::new(
            "the NUL character",
            "a string containing the NUL character (U+0000) cannot be written in SQL",
        ));
    }
    Ok(format!("'{}'", s.replace('\'', "''")))
}

/// The exact decimal value of a finite double (every double is a finite binary fraction), with a
/// `.`: `0.1` is `0.1000000000000000055511151231257827021181583404541015625`.
pub fn exact_decimal(f: f64) -> String {
    // 1074 fractional digits hold the smallest subnormal exactly; the trailing zeros go.
    let s = format!("{f:.1074}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

/// True when the condition reads `today()` or `now()`.
pub fn uses_clock(node: &Node) -> bool {
    any_node(node, &|n| {
        matches!(n.kind, NodeKind::Call(Func::Today | Func::Now, _))
    })
}

fn has_field(node: &Node) -> bool {
    any_node(node, &|n| {
        matches!(n.kind, NodeKind::Field(_) | NodeKind::FieldPred(..))
    })
}

/// The children of a node, in order.
fn children(node: &Node) -> Vec<&Node> {
    match &node.kind {
        NodeKind::Const(_) | NodeKind::Field(_) | NodeKind::FieldPred(..) => Vec::new(),
        NodeKind::Not(x)
        | NodeKind::Test(_, x)
        | NodeKind::Offset(x, _)
        | NodeKind::Matches(x, _) => {
            vec![x]
        }
        NodeKind::And(xs) | NodeKind::Or(xs) | NodeKind::Coalesce(xs) | NodeKind::Call(_, xs) => {
            xs.iter().collect()
        }
        NodeKind::Cmp(_, a, b)
        | NodeKind::Contains(a, b)
        | NodeKind::ContainsAny(a, b)
        | NodeKind::ContainsAll(a, b)
        | NodeKind::StartsWith(a, b)
        | NodeKind::EndsWith(a, b) => vec![a, b],
        NodeKind::In { lhs, list, .. } => vec![lhs, list],
    }
}

/// True when some node of the tree satisfies `pred` (iterative: trees are up to 256 deep).
fn any_node(node: &Node, pred: &dyn Fn(&Node) -> bool) -> bool {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if pred(n) {
            return true;
        }
        stack.extend(children(n));
    }
    false
}

/// The nesting depth of a tree (iterative).
pub(crate) fn depth(node: &Node) -> usize {
    let mut max = 0;
    let mut stack = vec![(node, 1usize)];
    while let Some((n, d)) = stack.pop() {
        max = max.max(d);
        stack.extend(children(n).into_iter().map(|c| (c, d + 1)));
    }
    max
}

/// How a SQL expression represents a Herald value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repr {
    /// The NULL literal.
    Null,
    /// A condition or boolean: 1/0/NULL (SQLite) or boolean (PostgreSQL).
    Bool,
    /// An integer or decimal.
    Num,
    /// Text.
    Text,
    /// A date: `YYYY-MM-DD` text (SQLite) or `date` (PostgreSQL).
    Date,
    /// A date-time: UTC text `YYYY-MM-DD HH:MM:SS.SSS` (SQLite) or `timestamptz` (PostgreSQL).
    DateTime,
    /// A list of strings: JSON array text (SQLite) or `jsonb` (PostgreSQL).
    List,
}

/// A SQL expression and what it represents.
#[derive(Debug, Clone)]
struct Sql {
    text: String,
    repr: Repr,
    /// True when the text can be an operand without parentheses.
    atomic: bool,
    /// False for literals that are not NULL.
    nullable: bool,
}

impl Sql {
    fn atom(text: impl Into<String>, repr: Repr) -> Sql {
        Sql {
            text: text.into(),
            repr,
            atomic: true,
            nullable: true,
        }
    }

    fn compound(text: impl Into<String>, repr: Repr) -> Sql {
        Sql {
            text: text.into(),
            repr,
            atomic: false,
            nullable: true,
        }
    }

    /// Marks a literal that is not NULL.
    fn not_null(mut self) -> Sql {
        self.nullable = false;
        self
    }

    /// The text as an operand: parenthesized unless atomic.
    fn op(&self) -> String {
        if self.atomic {
            self.text.clone()
        } else {
            format!("({})", self.text)
        }
    }
}

/// Translates one condition into a SQL boolean expression over the columns of its fields.
pub fn condition(node: &Node, fields: &FieldTable, opts: &Options) -> Result<String> {
    let tr = Tr::new(fields, opts);
    let sql = crate::syntax::on_deep_stack(depth(node), || tr.expr(node))?;
    match sql.repr {
        Repr::Bool | Repr::Null => Ok(sql.text),
        _ => Err(Refusal::new("a value", "the expression is not a condition").at(node.span)),
    }
}

/// The SELECT of one portal: `id` and `language` for each row of `table` (default: the portal's
/// schema name) that the portal's conditions invite: `require`, then the `invite` lines in
/// order, then `otherwise`. Status and event triggers are not part of it.
pub fn portal(
    set: &RuleSet,
    portal_idx: usize,
    table: Option<&str>,
    opts: &Options,
) -> Result<String> {
    let Some(portal) = set.portals.get(portal_idx) else {
        return Err(Refusal::new("portal", "there is no such portal"));
    };
    let Some(schema) = portal.schema.and_then(|i| set.schemas.get(i)) else {
        return Err(Refusal::new(
            "a portal without a schema",
            format!("portal \"{}\" has no `records` schema, and SQL export needs the type of every field", portal.name),
        )
        .at(portal.span)
        .in_source(portal.source)
        .with_help("add `records <Schema>` to the portal (and declare the schema), so that each column's type is known"));
    };
    let tr = Tr::new(&set.fields, opts);
    let cond = |c: &crate::rules::Cond| -> Result<String> {
        let sql = crate::syntax::on_deep_stack(depth(&c.node), || tr.expr(&c.node))
            .map_err(|r| r.in_source(c.source))?;
        Ok(sql.text)
    };
    let id_info = set
        .fields
        .get(portal.identity.id)
        .ok_or_else(|| Refusal::new("identity", "the portal's id field is unknown"))?;
    let id_col = quote_ident(&column_name(id_info));
    let table = quote_table(table.unwrap_or(&schema.name));

    // The language: the first true branch, else `otherwise`. A branch with no condition ends the
    // list (later lines are unreachable).
    let mut whens: Vec<(String, String)> = Vec::new();
    let mut fallback: Option<&str> = portal.otherwise.as_deref();
    for b in &portal.branches {
        match &b.when {
            Some(c) => whens.push((cond(c)?, b.language.clone())),
            None => {
                fallback = Some(&b.language);
                break;
            }
        }
    }
    let mut language = String::new();
    if whens.is_empty() {
        match fallback {
            Some(l) => language.push_str(&quote_str(l)?),
            None => language.push_str("NULL"),
        }
    } else {
        language.push_str("CASE\n");
        for (c, l) in &whens {
            let _ = writeln!(language, "         WHEN {c} THEN {}", quote_str(l)?);
        }
        if let Some(l) = fallback {
            let _ = writeln!(language, "         ELSE {}", quote_str(l)?);
        }
        language.push_str("       END");
    }
    let mut inner = format!("SELECT {id_col} AS id,\n       {language} AS language\nFROM {table}");
    if let Some(req) = &portal.require {
        let _ = write!(inner, "\nWHERE {}", cond(req)?);
    }

    let mut out = String::new();
    let comment = |s: &str| s.replace(['\n', '\r'], " ");
    let _ = writeln!(
        out,
        "-- herald export sql: portal \"{}\", dialect {}, rule set version {}",
        comment(&portal.name),
        opts.dialect.name(),
        set.version
    );
    let conds = portal
        .require
        .iter()
        .chain(portal.branches.iter().filter_map(|b| b.when.as_ref()));
    if conds.clone().any(|c| uses_clock(&c.node)) {
        let _ = writeln!(
            out,
            "-- today() and now() are pinned to {} (UTC)",
            opts.now
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        );
    }
    if fallback.is_some() {
        out.push_str(&inner);
    } else {
        // Rows that no line invites have a NULL language: filter them out.
        let indented = inner.replace('\n', "\n  ");
        let _ = write!(
            out,
            "SELECT id, language FROM (\n  {indented}\n) AS invited\nWHERE language IS NOT NULL"
        );
    }
    out.push_str(";\n");
    Ok(out)
}

/// The translator of one rule set's (or one condition's) nodes.
struct Tr<'a> {
    fields: &'a FieldTable,
    opts: &'a Options,
    /// A counter for unique table aliases in sub-queries.
    alias: AtomicU32,
}

fn refuse_at(node: &Node, construct: &str, message: impl Into<String>) -> Refusal {
    Refusal::new(construct, message).at(node.span)
}

impl<'a> Tr<'a> {
    fn new(fields: &'a FieldTable, opts: &'a Options) -> Tr<'a> {
        Tr {
            fields,
            opts,
            alias: AtomicU32::new(0),
        }
    }

    fn pg(&self) -> bool {
        self.opts.dialect == Dialect::Postgres
    }

    fn fresh(&self) -> String {
        let n = self.alias.fetch_add(1, Ordering::Relaxed) + 1;
        format!("j{n}")
    }

    fn truth(&self, b: bool) -> &'static str {
        match (self.pg(), b) {
            (true, true) => "TRUE",
            (true, false) => "FALSE",
            (false, true) => "1",
            (false, false) => "0",
        }
    }

    /// `CASE WHEN <any null> THEN NULL ELSE <rest> END`: unknown when an operand is null.
    fn unless_null(&self, operands: &[&Sql], rest: &str) -> Sql {
        let nulls: Vec<String> = operands
            .iter()
            .filter(|s| s.nullable)
            .map(|s| format!("{} IS NULL", s.op()))
            .collect();
        if nulls.is_empty() {
            return Sql::compound(rest, Repr::Bool);
        }
        Sql::compound(
            format!("CASE WHEN {} THEN NULL ELSE {rest} END", nulls.join(" OR ")),
            Repr::Bool,
        )
    }

    /// Translates a node to a SQL expression.
    fn expr(&self, node: &Node) -> Result<Sql> {
        if !has_field(node) {
            return self.fold(node);
        }
        let sql = match &node.kind {
            NodeKind::Const(v) => self.literal(v),
            NodeKind::Field(id) => self.field(*id),
            NodeKind::FieldPred(..) => Err(Refusal::new(
                "an optimized predicate",
                "optimized predicates are not exported; export the checked condition",
            )),
            NodeKind::Not(x) => {
                let x = self.expr(x)?;
                Ok(Sql::compound(format!("NOT {}", x.op()), Repr::Bool))
            }
            NodeKind::And(xs) | NodeKind::Or(xs) => {
                let word = if matches!(node.kind, NodeKind::And(_)) { " AND " } else { " OR " };
                let parts = xs
                    .iter()
                    .map(|x| self.expr(x).map(|s| s.op()))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Sql::compound(parts.join(word), Repr::Bool))
            }
            NodeKind::Cmp(op, a, b) => {
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                self.compare(*op, a, b)
            }
            NodeKind::In { negated, lhs, list } => {
                let t = self.contains(list, lhs)?;
                Ok(if *negated {
                    Sql::compound(format!("NOT {}", t.op()), Repr::Bool)
                } else {
                    t
                })
            }
            NodeKind::Contains(a, b) => self.contains(a, b),
            NodeKind::ContainsAny(a, b) => self.contains_some(a, b, true),
            NodeKind::ContainsAll(a, b) => self.contains_some(a, b, false),
            NodeKind::StartsWith(a, b) => self.affix(a, b, false),
            NodeKind::EndsWith(a, b) => self.affix(a, b, true),
            NodeKind::Matches(..) => Err(Refusal::new(
                "`matches`",
                format!(
                    "`matches` (regular expressions of the Rust `regex` crate) has no exact equivalent in {}",
                    match self.opts.dialect {
                        Dialect::Sqlite => "SQLite, which has no built-in regular expressions",
                        Dialect::Postgres => "PostgreSQL, whose `~` uses another regular-expression syntax",
                    }
                ),
            )
            .with_help("route these records with `herald route` instead, or rewrite the condition with `starts with`, `ends with` or `contains`")),
            NodeKind::Test(t, x) => self.test(*t, x),
            NodeKind::Coalesce(xs) => self.coalesce(xs),
            NodeKind::Offset(base, secs) => self.offset(base, *secs),
            NodeKind::Call(func, args) => self.call(*func, args),
        };
        sql.map_err(|r| r.at(node.span))
    }

    /// A sub-expression that reads no field: evaluated here, written as a literal.
    fn fold(&self, node: &Node) -> Result<Sql> {
        let empty = serde_json::Value::Object(serde_json::Map::new());
        let env = Env {
            record: &empty,
            fields: self.fields,
            now: self.opts.now,
        };
        let v = interp::eval(node, &env);
        let sql = match (&v, &node.ty) {
            (Value::Null, Ty::Bool) => Ok(Sql::atom("NULL", Repr::Bool)),
            _ => self.literal(&v),
        };
        sql.map_err(|r| r.at(node.span))
    }

    fn literal(&self, v: &Value) -> Result<Sql> {
        let sql = self.literal_inner(v)?;
        Ok(if v.is_null() { sql } else { sql.not_null() })
    }

    fn literal_inner(&self, v: &Value) -> Result<Sql> {
        Ok(match v {
            Value::Null => Sql::atom("NULL", Repr::Null),
            Value::Bool(b) => Sql::atom(self.truth(*b), Repr::Bool),
            Value::Int(i) => {
                if *i == i64::MIN {
                    Sql::compound("-9223372036854775807 - 1", Repr::Num)
                } else if *i < 0 {
                    Sql::compound(i.to_string(), Repr::Num)
                } else {
                    Sql::atom(i.to_string(), Repr::Num)
                }
            }
            Value::Dec(f) => {
                if !f.is_finite() {
                    return Err(Refusal::new(
                        "a number",
                        "a number that is not finite cannot be written in SQL",
                    ));
                }
                let text = if self.pg() {
                    // PostgreSQL reads a decimal literal as an exact `numeric`: write the double's
                    // exact value, so that it compares with `numeric` and `double precision`
                    // columns as Herald compares it.
                    exact_decimal(*f)
                } else {
                    // Shortest round-trip digits, always with a `.` or an exponent so that
                    // SQLite reads a REAL; an exponent when the plain form would be long.
                    let plain = crate::print::decimal(*f);
                    if plain.len() <= 24 {
                        plain
                    } else {
                        format!("{f:e}")
                    }
                };
                if *f < 0.0 || text.starts_with('-') {
                    Sql::compound(text, Repr::Num)
                } else {
                    Sql::atom(text, Repr::Num)
                }
            }
            Value::Str(s) => Sql::atom(quote_str(s)?, Repr::Text),
            Value::Date(d) => self.date_literal(*d)?,
            Value::DateTime(t) => self.datetime_literal(t.with_timezone(&Utc))?,
            Value::List(items) => {
                let mut strings = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::Str(s) => strings.push(serde_json::Value::String(s.to_string())),
                        _ => {
                            return Err(Refusal::new(
                                "a list value",
                                "only lists of text can be used as values in SQL (they are JSON arrays of strings)",
                            ));
                        }
                    }
                }
                let json = serde_json::Value::Array(strings).to_string();
                if self.pg() {
                    Sql::atom(format!("CAST({} AS jsonb)", quote_str(&json)?), Repr::List)
                } else {
                    Sql::atom(quote_str(&json)?, Repr::List)
                }
            }
            Value::Object => return Err(Refusal::new("an object", "objects have no SQL value")),
        })
    }

    fn date_literal(&self, d: NaiveDate) -> Result<Sql> {
        if !(0..=9999).contains(&d.year()) {
            return Err(Refusal::new(
                "a date",
                format!(
                    "the date {d} is outside the years 0000 to 9999 that SQL date functions handle"
                ),
            ));
        }
        let text = d.format("%Y-%m-%d").to_string();
        Ok(if self.pg() {
            Sql::atom(format!("DATE '{text}'"), Repr::Date)
        } else {
            Sql::atom(format!("'{text}'"), Repr::Date)
        })
    }

    fn datetime_literal(&self, t: DateTime<Utc>) -> Result<Sql> {
        if !(0..=9999).contains(&t.year()) {
            return Err(Refusal::new(
                "a date-time",
                "the date-time is outside the years 0000 to 9999 that SQL date functions handle",
            ));
        }
        let nanos = t.nanosecond();
        if nanos >= 1_000_000_000 {
            return Err(Refusal::new(
                "a leap second",
                "a date-time with a leap second cannot be written in SQL",
            ));
        }
        if self.pg() {
            if nanos % 1_000 != 0 {
                return Err(Refusal::new(
                    "a date-time",
                    "PostgreSQL keeps microseconds: a date-time with a finer precision cannot be compared exactly",
                ));
            }
            Ok(Sql::atom(
                format!("TIMESTAMPTZ '{}+00'", t.format("%Y-%m-%d %H:%M:%S%.6f")),
                Repr::DateTime,
            ))
        } else {
            if nanos % 1_000_000 != 0 {
                return Err(Refusal::new(
                    "a date-time",
                    "SQLite's date functions keep milliseconds: a date-time with a finer precision cannot be compared exactly",
                )
                .with_help("pin the clock (--now) to a whole millisecond"));
            }
            Ok(Sql::atom(
                format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.3f")),
                Repr::DateTime,
            ))
        }
    }

    fn field(&self, id: crate::ir::FieldId) -> Result<Sql> {
        let Some(info) = self.fields.get(id) else {
            return Err(Refusal::new("a field", "unknown field"));
        };
        let col = quote_ident(&column_name(info));
        let pg = self.pg();
        Ok(match info.kind {
            FieldKind::Dynamic => {
                return Err(Refusal::new(
                    format!("`{}`", info.display()),
                    format!("the field `{}` has no schema type, and SQL export needs one", info.display()),
                )
                .with_help("export a portal with `records <Schema>`: without a schema, a value's type is only known record by record"));
            }
            FieldKind::Object => {
                return Err(Refusal::new(
                    format!("`{}`", info.display()),
                    format!(
                        "`{}` is an object field, which has no column",
                        info.display()
                    ),
                ));
            }
            FieldKind::Text => Sql::atom(col, Repr::Text),
            FieldKind::Integer | FieldKind::Decimal => Sql::atom(col, Repr::Num),
            FieldKind::Boolean => Sql::atom(col, Repr::Bool),
            FieldKind::Date if pg => Sql::atom(format!("CAST({col} AS date)"), Repr::Date),
            FieldKind::Date => Sql::atom(col, Repr::Date),
            FieldKind::DateTime if pg => {
                Sql::atom(format!("CAST({col} AS timestamptz)"), Repr::DateTime)
            }
            FieldKind::DateTime => Sql::atom(
                format!("strftime('%Y-%m-%d %H:%M:%f', {col})"),
                Repr::DateTime,
            ),
            FieldKind::Multiselect if pg => Sql::atom(format!("CAST({col} AS jsonb)"), Repr::List),
            FieldKind::Multiselect => Sql::atom(col, Repr::List),
        })
    }

    /// A date as a date-time at 00:00 UTC.
    fn to_datetime(&self, s: Sql) -> Sql {
        match s.repr {
            Repr::Date if self.pg() => Sql::compound(
                format!("CAST({} AS timestamp) AT TIME ZONE 'UTC'", s.op()),
                Repr::DateTime,
            ),
            Repr::Date => Sql::compound(format!("{} || ' 00:00:00.000'", s.op()), Repr::DateTime),
            _ => s,
        }
    }

    /// Brings two operands to one representation (a date next to a date-time becomes one).
    fn unify(&self, a: Sql, b: Sql) -> (Sql, Sql) {
        match (a.repr, b.repr) {
            (Repr::Date, Repr::DateTime) => (self.to_datetime(a), b),
            (Repr::DateTime, Repr::Date) => (a, self.to_datetime(b)),
            _ => (a, b),
        }
    }

    fn compare(&self, op: CmpOp, a: Sql, b: Sql) -> Result<Sql> {
        if a.repr == Repr::Null || b.repr == Repr::Null {
            return Ok(Sql::atom("NULL", Repr::Bool));
        }
        let (a, b) = self.unify(a, b);
        let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
        let ok = match (a.repr, b.repr) {
            (Repr::Num, Repr::Num) | (Repr::Text, Repr::Text) => true,
            (Repr::Date, Repr::Date) | (Repr::DateTime, Repr::DateTime) => true,
            (Repr::Bool, Repr::Bool) => !ordering,
            _ => false,
        };
        if !ok {
            return Err(Refusal::new(
                format!("`{}`", op.as_str()),
                format!(
                    "`{}` between these values has no SQL translation",
                    op.as_str()
                ),
            ));
        }
        let sym = match op {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        };
        // PostgreSQL orders text by the database collation; "C" orders by bytes, which for
        // UTF-8 is code point order, as Herald does. SQLite's default BINARY collation already
        // compares bytes.
        let collate = if self.pg() && ordering && a.repr == Repr::Text {
            " COLLATE \"C\""
        } else {
            ""
        };
        Ok(Sql::compound(
            format!("{} {sym} {}{collate}", a.op(), b.op()),
            Repr::Bool,
        ))
    }

    /// `hay contains needle` (also `needle in hay`): substring, or list membership.
    fn contains(&self, hay: &Node, needle: &Node) -> Result<Sql> {
        // A literal list: SQL `IN`, whose three-valued logic is Herald's membership.
        if let (NodeKind::Const(Value::List(items)), false) = (&hay.kind, has_field(hay)) {
            let x = self.expr(needle)?;
            return self.in_list(x, items);
        }
        let h = self.expr(hay)?;
        let n = self.expr(needle)?;
        if h.repr == Repr::Null || n.repr == Repr::Null {
            return Ok(Sql::atom("NULL", Repr::Bool));
        }
        match (h.repr, n.repr) {
            (Repr::Text, Repr::Text) => {
                let f = if self.pg() { "strpos" } else { "instr" };
                Ok(Sql::compound(
                    format!("{f}({}, {}) > 0", h.text, n.text),
                    Repr::Bool,
                ))
            }
            (Repr::List, Repr::Text) => Ok(self.member(&h, &n)),
            _ => Err(Refusal::new(
                "`contains`",
                "`contains` between these values has no SQL translation",
            )),
        }
    }

    /// `x IN (literals)`, with the empty list unknown for a null `x` and false otherwise.
    fn in_list(&self, x: Sql, items: &[Value]) -> Result<Sql> {
        if x.repr == Repr::Null {
            return Ok(Sql::atom("NULL", Repr::Bool));
        }
        if items.is_empty() {
            return Ok(self.unless_null(&[&x], self.truth(false)));
        }
        let mut lits = items
            .iter()
            .map(|v| self.literal(v))
            .collect::<Result<Vec<_>>>()?;
        let mut x = x;
        // Dates next to date-times compare as date-times.
        let any_dt = lits.iter().any(|l| l.repr == Repr::DateTime);
        if x.repr == Repr::Date && any_dt {
            x = self.to_datetime(x);
        }
        if x.repr == Repr::DateTime {
            lits = lits.into_iter().map(|l| self.to_datetime(l)).collect();
        }
        for l in &lits {
            let ok = l.repr == x.repr || (x.repr == Repr::Bool && l.repr == Repr::Bool);
            if !ok {
                return Err(Refusal::new(
                    "`in`",
                    "`in` between these values has no SQL translation",
                ));
            }
        }
        let list: Vec<String> = lits.iter().map(|l| l.text.clone()).collect();
        Ok(Sql::compound(
            format!("{} IN ({})", x.op(), list.join(", ")),
            Repr::Bool,
        ))
    }

    /// `x` is an element of the JSON array `list`.
    fn member(&self, list: &Sql, x: &Sql) -> Sql {
        if self.pg() {
            return Sql::compound(format!("{} ? {}", list.op(), x.op()), Repr::Bool);
        }
        let a = self.fresh();
        self.unless_null(
            &[list, x],
            &format!(
                "EXISTS (SELECT 1 FROM json_each({}) AS {a} WHERE {a}.value = {})",
                list.text,
                x.op()
            ),
        )
    }

    /// `a contains any b` (`any`) or `a contains all b`.
    fn contains_some(&self, a: &Node, b: &Node, any: bool) -> Result<Sql> {
        let const_list = |n: &Node| match (&n.kind, has_field(n)) {
            (NodeKind::Const(Value::List(items)), false) => Some(items.clone()),
            _ => None,
        };
        let pg = self.pg();
        match (const_list(a), const_list(b)) {
            // A list expression against literal values.
            (None, Some(wanted)) => {
                let l = self.expr(a)?;
                self.expect_list(&l, "contains any")?;
                let lits = self.text_literals(&wanted)?;
                if pg {
                    let arr = format!("ARRAY[{}]::text[]", lits.join(", "));
                    let op = if any { "?|" } else { "?&" };
                    return Ok(Sql::compound(format!("{} {op} {arr}", l.op()), Repr::Bool));
                }
                let rest = if lits.is_empty() {
                    self.truth(!any).to_string()
                } else if any {
                    let j = self.fresh();
                    format!(
                        "EXISTS (SELECT 1 FROM json_each({}) AS {j} WHERE {j}.value IN ({}))",
                        l.text,
                        lits.join(", ")
                    )
                } else {
                    let parts: Vec<String> = lits
                        .iter()
                        .map(|w| {
                            let j = self.fresh();
                            format!(
                                "EXISTS (SELECT 1 FROM json_each({}) AS {j} WHERE {j}.value = {w})",
                                l.text
                            )
                        })
                        .collect();
                    parts.join(" AND ")
                };
                Ok(self.unless_null(&[&l], &rest))
            }
            // Literal values against a list expression: each element of `b` is looked up in `a`.
            (Some(have), None) => {
                let l = self.expr(b)?;
                self.expect_list(&l, "contains any")?;
                let lits = self.text_literals(&have)?;
                let j = self.fresh();
                if pg {
                    let json = serde_json::Value::Array(
                        have.iter()
                            .filter_map(|v| match v {
                                Value::Str(s) => Some(serde_json::Value::String(s.to_string())),
                                _ => None,
                            })
                            .collect(),
                    )
                    .to_string();
                    return Ok(if any {
                        Sql::compound(
                            format!("{} ?| ARRAY[{}]::text[]", l.op(), lits.join(", ")),
                            Repr::Bool,
                        )
                    } else {
                        Sql::compound(
                            format!("CAST({} AS jsonb) @> {}", quote_str(&json)?, l.op()),
                            Repr::Bool,
                        )
                    });
                }
                let rest = match (any, lits.is_empty()) {
                    (true, true) => self.truth(false).to_string(),
                    (true, false) => format!(
                        "EXISTS (SELECT 1 FROM json_each({}) AS {j} WHERE {j}.value IN ({}))",
                        l.text,
                        lits.join(", ")
                    ),
                    (false, true) => {
                        format!("NOT EXISTS (SELECT 1 FROM json_each({}) AS {j})", l.text)
                    }
                    (false, false) => format!(
                        "NOT EXISTS (SELECT 1 FROM json_each({}) AS {j} WHERE {j}.value NOT IN ({}))",
                        l.text,
                        lits.join(", ")
                    ),
                };
                Ok(self.unless_null(&[&l], &rest))
            }
            // Two list expressions.
            (None, None) => {
                let (la, lb) = (self.expr(a)?, self.expr(b)?);
                self.expect_list(&la, "contains any")?;
                self.expect_list(&lb, "contains any")?;
                if pg {
                    return Ok(if any {
                        let j = self.fresh();
                        self.unless_null(
                            &[&la, &lb],
                            &format!(
                                "EXISTS (SELECT 1 FROM jsonb_array_elements_text({}) AS {j}(v) WHERE {} ? {j}.v)",
                                lb.text,
                                la.op()
                            ),
                        )
                    } else {
                        Sql::compound(format!("{} @> {}", la.op(), lb.op()), Repr::Bool)
                    });
                }
                let (x, y) = (self.fresh(), self.fresh());
                let rest = if any {
                    format!(
                        "EXISTS (SELECT 1 FROM json_each({}) AS {x}, json_each({}) AS {y} WHERE {x}.value = {y}.value)",
                        la.text, lb.text
                    )
                } else {
                    format!(
                        "NOT EXISTS (SELECT 1 FROM json_each({}) AS {y} WHERE NOT EXISTS (SELECT 1 FROM json_each({}) AS {x} WHERE {x}.value = {y}.value))",
                        lb.text, la.text
                    )
                };
                Ok(self.unless_null(&[&la, &lb], &rest))
            }
            // Both literal: the node reads no field and was folded before reaching here.
            (Some(_), Some(_)) => Err(refuse_at(a, "`contains`", "unexpected literal operands")),
        }
    }

    fn expect_list(&self, s: &Sql, op: &str) -> Result<()> {
        match s.repr {
            Repr::List => Ok(()),
            _ => Err(Refusal::new(
                format!("`{op}`"),
                format!("`{op}` needs a list of text in SQL"),
            )),
        }
    }

    fn text_literals(&self, items: &[Value]) -> Result<Vec<String>> {
        items
            .iter()
            .map(|v| match v {
                Value::Str(s) => quote_str(s),
                _ => Err(Refusal::new(
                    "a list",
                    "only lists of text can be compared with a multi-select in SQL",
                )),
            })
            .collect()
    }

    /// `starts with` or `ends with` (`suffix`), by characters, never with `LIKE` wildcards.
    fn affix(&self, a: &Node, b: &Node, suffix: bool) -> Result<Sql> {
        let (s, p) = (self.expr(a)?, self.expr(b)?);
        if s.repr == Repr::Null || p.repr == Repr::Null {
            return Ok(Sql::atom("NULL", Repr::Bool));
        }
        if s.repr != Repr::Text || p.repr != Repr::Text {
            let op = if suffix { "ends with" } else { "starts with" };
            return Err(Refusal::new(
                format!("`{op}`"),
                format!("`{op}` needs text"),
            ));
        }
        // The length of a literal prefix is known here.
        let len = match &b.kind {
            NodeKind::Const(Value::Str(lit)) => lit.chars().count().to_string(),
            _ if self.pg() => format!("char_length({})", p.text),
            _ => format!("length({})", p.text),
        };
        let text = match (self.pg(), suffix) {
            (true, false) => format!("left({}, {len}) = {}", s.text, p.op()),
            (true, true) => format!("right({}, {len}) = {}", s.text, p.op()),
            (false, false) => format!("substr({}, 1, {len}) = {}", s.text, p.op()),
            // `substr` with a start before the first character would count from the end, so the
            // length is checked first (both sides are NULL when `s` is).
            (false, true) => format!(
                "length({s}) >= {len} AND substr({s}, length({s}) - {len} + 1) = {p}",
                s = s.text,
                p = p.op()
            ),
        };
        Ok(Sql::compound(text, Repr::Bool))
    }

    fn test(&self, t: TestOp, x: &Node) -> Result<Sql> {
        let s = self.expr(x)?;
        let len = if self.pg() {
            "jsonb_array_length"
        } else {
            "json_array_length"
        };
        // Null, `""` and `[]` are empty; the tests are never unknown.
        let (empty, not_empty) = match s.repr {
            Repr::Text => (
                format!("COALESCE({}, '') = ''", s.text),
                format!("COALESCE({}, '') <> ''", s.text),
            ),
            Repr::List => (
                format!("COALESCE({len}({}), 0) = 0", s.text),
                format!("COALESCE({len}({}), 0) <> 0", s.text),
            ),
            _ => (
                format!("{} IS NULL", s.op()),
                format!("{} IS NOT NULL", s.op()),
            ),
        };
        Ok(match t {
            TestOp::IsNull => Sql::compound(format!("{} IS NULL", s.op()), Repr::Bool),
            TestOp::IsNotNull => Sql::compound(format!("{} IS NOT NULL", s.op()), Repr::Bool),
            TestOp::IsEmpty => Sql::compound(empty, Repr::Bool),
            TestOp::IsNotEmpty => Sql::compound(not_empty, Repr::Bool),
        })
    }

    fn coalesce(&self, xs: &[Node]) -> Result<Sql> {
        let mut parts = xs
            .iter()
            .map(|x| self.expr(x))
            .collect::<Result<Vec<_>>>()?;
        // Dates and date-times mixed: all as date-times (Herald compares them that way).
        let has_date = parts.iter().any(|p| p.repr == Repr::Date);
        let has_dt = parts.iter().any(|p| p.repr == Repr::DateTime);
        if has_date && has_dt {
            parts = parts.into_iter().map(|p| self.to_datetime(p)).collect();
        }
        let repr = parts
            .iter()
            .map(|p| p.repr)
            .find(|r| *r != Repr::Null)
            .unwrap_or(Repr::Null);
        if parts.iter().any(|p| p.repr != Repr::Null && p.repr != repr) {
            return Err(Refusal::new(
                "`??`",
                "`??` between these values has no SQL translation",
            ));
        }
        let texts: Vec<String> = parts.iter().map(|p| p.text.clone()).collect();
        Ok(Sql::atom(format!("COALESCE({})", texts.join(", ")), repr))
    }

    fn offset(&self, base: &Node, secs: i64) -> Result<Sql> {
        let b = self.expr(base)?;
        let pg = self.pg();
        Ok(match b.repr {
            Repr::Null => Sql::atom("NULL", Repr::Null),
            Repr::Date if secs % 86_400 == 0 => {
                let days = secs / 86_400;
                if pg {
                    Sql::compound(format!("{} + {days}", b.op()), Repr::Date)
                } else {
                    Sql::atom(format!("date({}, '{days:+} days')", b.text), Repr::Date)
                }
            }
            Repr::Date | Repr::DateTime => {
                if pg {
                    let base = self.to_datetime(b);
                    Sql::compound(
                        format!("{} + {secs} * INTERVAL '1 second'", base.op()),
                        Repr::DateTime,
                    )
                } else {
                    Sql::atom(
                        format!(
                            "strftime('%Y-%m-%d %H:%M:%f', {}, '{secs:+} seconds')",
                            b.text
                        ),
                        Repr::DateTime,
                    )
                }
            }
            _ => {
                return Err(Refusal::new(
                    "`+`/`-` a duration",
                    "a duration can only be added to a date or a date-time",
                ));
            }
        })
    }

    fn call(&self, func: Func, args: &[Node]) -> Result<Sql> {
        let Some(arg) = args.first() else {
            return Err(Refusal::new(
                format!("`{}()`", func.name()),
                "a function without its argument",
            ));
        };
        let a = self.expr(arg)?;
        let pg = self.pg();
        match (func, a.repr) {
            (_, Repr::Null) => Ok(Sql::atom("NULL", Repr::Null)),
            (Func::Lower | Func::Upper, _) => Err(Refusal::new(
                format!("`{}(...)`", func.name()),
                format!(
                    "`{}` changes the case of every Unicode letter, but {}",
                    func.name(),
                    if pg {
                        "PostgreSQL's `lower`/`upper` follow the database's locale"
                    } else {
                        "SQLite's `lower`/`upper` only change ASCII letters"
                    }
                ),
            )
            .with_help("route these records with `herald route` instead, or compare with the exact spellings (`x in [\"FR\", \"fr\"]`)")),
            (Func::Trim, Repr::Text) => {
                let set = if pg {
                    let chars: String = WHITE_SPACE.iter().map(|c| format!("\\u{c:04X}")).collect();
                    format!("E'{chars}'")
                } else {
                    let codes: Vec<String> = WHITE_SPACE.iter().map(u32::to_string).collect();
                    format!("char({})", codes.join(", "))
                };
                let f = if pg { "btrim" } else { "trim" };
                Ok(Sql::atom(format!("{f}({}, {set})", a.text), Repr::Text))
            }
            (Func::Len, Repr::Text) => {
                let f = if pg { "char_length" } else { "length" };
                Ok(Sql::atom(format!("{f}({})", a.text), Repr::Num))
            }
            (Func::Len, Repr::List) => {
                let f = if pg { "jsonb_array_length" } else { "json_array_length" };
                Ok(Sql::atom(format!("{f}({})", a.text), Repr::Num))
            }
            _ => Err(Refusal::new(
                format!("`{}(...)`", func.name()),
                format!("`{}` of this value has no SQL translation", func.name()),
            )),
        }
    }
}
