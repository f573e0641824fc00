//! JsonLogic import (a JsonLogic rule to Herald condition source) and export (a checked Herald
//! condition to a JsonLogic rule), following the reference implementation `json-logic-js` 2.x.
//!
//! JsonLogic evaluates with JavaScript's loose semantics (`"1" == 1`, `null < 5`, truthy
//! strings); Herald has types and three-valued logic. A translation is only produced where it is
//! faithful, and refused (naming the construct) where it is not:
//!
//! * import: the Herald condition is true for exactly the records on which the rule returns
//!   `true`. Only rules that return booleans (or, for a boolean field read alone, null) can be
//!   conditions. Without a schema, a field may hold any JSON value, so only constructs whose
//!   meaning does not depend on the field's type are accepted (`===`, `!==`, `in` with a list,
//!   `!`, `!!`, `missing`, ...); with a schema, records are taken to follow it (every field
//!   absent, null or of its type), as everywhere in Herald, and loose comparisons are decided by
//!   the field's type.
//! * export: the rule returns `true` exactly when the Herald condition is true, and `false`
//!   otherwise (unknown included). `not` is translated exactly by exporting, for every
//!   sub-condition, both when it is true and when it is false.
//!
//! `startsWith` and `endsWith` are not standard JsonLogic; they are read and written with the
//! definitions react-querybuilder registers (`jsonLogicAdditionalOperators`): true when the first
//! operand is a string that starts (ends) with the second.

use super::build;
use super::{Refusal, Result};
use crate::ast::{BinOp, Expr, Literal, TestOp};
use crate::ir::{CmpOp, FieldKind, FieldTable, Func, Node, NodeKind, Ty};
use crate::schema::{FieldType, Schema};
use crate::value::Value;
use serde_json::{Value as J, json};

// ---------------------------------------------------------------------------------------------
// JavaScript semantics of constants
// ---------------------------------------------------------------------------------------------

/// JavaScript's view of the JSON constants of a rule (and of the values JsonLogic computes from
/// them). Arrays and objects written in a rule are distinct objects: never `===` to anything.
pub(crate) mod js {
    /// A JavaScript value that a JSON constant can be.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Js {
        /// `null`.
        Null,
        /// A boolean.
        Bool(bool),
        /// A number (a double).
        Num(f64),
        /// A string.
        Str(String),
        /// An array.
        Arr(Vec<Js>),
        /// An object that is not a rule (zero or several keys).
        Obj,
    }

    impl Js {
        /// From JSON (numbers become doubles, as `JSON.parse` makes them).
        pub fn from_json(v: &serde_json::Value) -> Js {
            match v {
                serde_json::Value::Null => Js::Null,
                serde_json::Value::Bool(b) => Js::Bool(*b),
                serde_json::Value::Number(n) => Js::Num(n.as_f64().unwrap_or(f64::NAN)),
                serde_json::Value::String(s) => Js::Str(s.clone()),
                serde_json::Value::Array(items) => {
                    Js::Arr(items.iter().map(Js::from_json).collect())
                }
                serde_json::Value::Object(_) => Js::Obj,
            }
        }

        /// The JSON text of the value, for messages.
        pub fn show(&self) -> String {
            match self {
                Js::Null => "null".into(),
                Js::Bool(b) => b.to_string(),
                Js::Num(n) => number_to_string(*n),
                Js::Str(s) => serde_json::Value::String(s.clone()).to_string(),
                Js::Arr(items) => format!(
                    "[{}]",
                    items.iter().map(Js::show).collect::<Vec<_>>().join(", ")
                ),
                Js::Obj => "{...}".into(),
            }
        }
    }

    /// JsonLogic's truthiness: JavaScript's, except that `[]` is false.
    pub fn truthy(v: &Js) -> bool {
        match v {
            Js::Null => false,
            Js::Bool(b) => *b,
            Js::Num(n) => *n != 0.0 && !n.is_nan(),
            Js::Str(s) => !s.is_empty(),
            Js::Arr(items) => !items.is_empty(),
            Js::Obj => true,
        }
    }

    /// `Number::toString` (shortest round-trip digits, JavaScript's exponent rules).
    pub fn number_to_string(f: f64) -> String {
        if f.is_nan() {
            return "NaN".into();
        }
        if f.is_infinite() {
            return if f > 0.0 {
                "Infinity".into()
            } else {
                "-Infinity".into()
            };
        }
        if f == 0.0 {
            return "0".into();
        }
        if f < 0.0 {
            return format!("-{}", number_to_string(-f));
        }
        let sci = format!("{f:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let k = digits.len() as i64;
        let n = exp.parse::<i64>().unwrap_or(0) + 1;
        let zeros = |c: i64| "0".repeat(usize::try_from(c).unwrap_or(0));
        if k <= n && n <= 21 {
            format!("{digits}{}", zeros(n - k))
        } else if 0 < n && n <= 21 {
            let (a, b) = digits.split_at(usize::try_from(n).unwrap_or(0));
            format!("{a}.{b}")
        } else if -6 < n && n <= 0 {
            format!("0.{}{digits}", zeros(-n))
        } else {
            let e = n - 1;
            let sign = if e >= 0 { '+' } else { '-' };
            let (first, rest) = digits.split_at(1);
            if rest.is_empty() {
                format!("{first}e{sign}{}", e.abs())
            } else {
                format!("{first}.{rest}e{sign}{}", e.abs())
            }
        }
    }

    /// JavaScript's white space and line terminators (what `Number("...")` trims).
    fn js_space(c: char) -> bool {
        matches!(
            c,
            '\u{9}'
                | '\u{A}'
                | '\u{B}'
                | '\u{C}'
                | '\u{D}'
                | ' '
                | '\u{A0}'
                | '\u{1680}'
                | '\u{2000}'
                ..='\u{200A}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{202F}'
                    | '\u{205F}'
                    | '\u{3000}'
                    | '\u{FEFF}'
        )
    }

    /// `Number(string)`.
    pub fn string_to_number(s: &str) -> f64 {
        let t = s.trim_matches(js_space);
        if t.is_empty() {
            return 0.0;
        }
        match t {
            "Infinity" | "+Infinity" => return f64::INFINITY,
            "-Infinity" => return f64::NEG_INFINITY,
            _ => {}
        }
        let radix = match t.get(..2) {
            Some("0x" | "0X") => Some(16),
            Some("0o" | "0O") => Some(8),
            Some("0b" | "0B") => Some(2),
            _ => None,
        };
        if let Some(radix) = radix {
            let body = t.get(2..).unwrap_or("");
            if body.is_empty() {
                return f64::NAN;
            }
            let mut v = 0.0f64;
            for c in body.chars() {
                match c.to_digit(radix) {
                    Some(d) => v = v * f64::from(radix) + f64::from(d),
                    None => return f64::NAN,
                }
            }
            return v;
        }
        // StrDecimalLiteral: [+-] (digits [. digits] | . digits) [e [+-] digits]
        let b = t.as_bytes();
        let mut i = 0;
        if matches!(b.first(), Some(b'+' | b'-')) {
            i += 1;
        }
        let int_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let mut digits = i - int_start;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let frac_start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            digits += i - frac_start;
        }
        if digits == 0 {
            return f64::NAN;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let exp_start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == exp_start {
                return f64::NAN;
            }
        }
        if i != b.len() {
            return f64::NAN;
        }
        t.parse::<f64>().unwrap_or(f64::NAN)
    }

    /// `String(v)`.
    pub fn to_string(v: &Js) -> String {
        match v {
            Js::Null => "null".into(),
            Js::Bool(b) => b.to_string(),
            Js::Num(n) => number_to_string(*n),
            Js::Str(s) => s.clone(),
            Js::Arr(items) => items
                .iter()
                .map(|i| match i {
                    Js::Null => String::new(),
                    other => to_string(other),
                })
                .collect::<Vec<_>>()
                .join(","),
            Js::Obj => "[object Object]".into(),
        }
    }

    /// `ToPrimitive`: arrays and objects become their strings.
    pub fn to_primitive(v: &Js) -> Js {
        match v {
            Js::Arr(_) | Js::Obj => Js::Str(to_string(v)),
            other => other.clone(),
        }
    }

    /// `ToNumber`.
    pub fn to_number(v: &Js) -> f64 {
        match v {
            Js::Null => 0.0,
            Js::Bool(b) => f64::from(u8::from(*b)),
            Js::Num(n) => *n,
            Js::Str(s) => string_to_number(s),
            Js::Arr(_) | Js::Obj => to_number(&to_primitive(v)),
        }
    }

    /// `a === b`.
    pub fn strict_eq(a: &Js, b: &Js) -> bool {
        match (a, b) {
            (Js::Null, Js::Null) => true,
            (Js::Bool(x), Js::Bool(y)) => x == y,
            (Js::Num(x), Js::Num(y)) => x == y,
            (Js::Str(x), Js::Str(y)) => x == y,
            _ => false,
        }
    }

    /// `a == b`.
    pub fn loose_eq(a: &Js, b: &Js) -> bool {
        match (a, b) {
            (Js::Null, Js::Null) => true,
            (Js::Null, _) | (_, Js::Null) => false,
            (Js::Arr(_) | Js::Obj, Js::Arr(_) | Js::Obj) => false,
            (Js::Bool(_), _) => loose_eq(&Js::Num(to_number(a)), b),
            (_, Js::Bool(_)) => loose_eq(a, &Js::Num(to_number(b))),
            (Js::Num(x), Js::Str(_)) => *x == to_number(b),
            (Js::Str(_), Js::Num(y)) => to_number(a) == *y,
            (Js::Arr(_) | Js::Obj, _) => loose_eq(&to_primitive(a), b),
            (_, Js::Arr(_) | Js::Obj) => loose_eq(a, &to_primitive(b)),
            _ => strict_eq(a, b),
        }
    }

    /// The abstract relational comparison `a < b`: `None` when a NaN makes it undefined.
    pub fn less(a: &Js, b: &Js) -> Option<bool> {
        let (pa, pb) = (to_primitive(a), to_primitive(b));
        if let (Js::Str(x), Js::Str(y)) = (&pa, &pb) {
            return Some(x.encode_utf16().lt(y.encode_utf16()));
        }
        let (x, y) = (to_number(&pa), to_number(&pb));
        if x.is_nan() || y.is_nan() {
            return None;
        }
        Some(x < y)
    }

    /// `a OP b` for the six comparison operators of JsonLogic (`==` `===` `!=` `!==` and the
    /// four orderings).
    pub fn compare(op: &str, a: &Js, b: &Js) -> bool {
        match op {
            "==" => loose_eq(a, b),
            "===" => strict_eq(a, b),
            "!=" => !loose_eq(a, b),
            "!==" => !strict_eq(a, b),
            "<" => less(a, b) == Some(true),
            ">" => less(b, a) == Some(true),
            "<=" => less(b, a) == Some(false),
            ">=" => less(a, b) == Some(false),
            _ => false,
        }
    }
}

use js::Js;

// ---------------------------------------------------------------------------------------------
// Import: JsonLogic -> Herald
// ---------------------------------------------------------------------------------------------

/// Names of `Object.prototype` members: a missing key with one of these names is not `undefined`
/// in JavaScript, so `var` would not return its default.
const OBJECT_MEMBERS: &[&str] = &[
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
    "__proto__",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

/// Members of strings and arrays: through a value that may be a string or an array (no schema),
/// `a.length` or `a.0` reads them in JavaScript, where Herald paths only name object keys.
const STRING_ARRAY_MEMBERS: &[&str] = &[
    "length",
    "at",
    "charAt",
    "charCodeAt",
    "codePointAt",
    "concat",
    "endsWith",
    "includes",
    "indexOf",
    "lastIndexOf",
    "localeCompare",
    "match",
    "matchAll",
    "normalize",
    "padEnd",
    "padStart",
    "repeat",
    "replace",
    "replaceAll",
    "search",
    "slice",
    "split",
    "startsWith",
    "substring",
    "substr",
    "toLowerCase",
    "toUpperCase",
    "toLocaleLowerCase",
    "toLocaleUpperCase",
    "trim",
    "trimStart",
    "trimEnd",
    "trimLeft",
    "trimRight",
    "anchor",
    "big",
    "blink",
    "bold",
    "fixed",
    "fontcolor",
    "fontsize",
    "italics",
    "link",
    "small",
    "strike",
    "sub",
    "sup",
    "isWellFormed",
    "toWellFormed",
    "copyWithin",
    "entries",
    "every",
    "fill",
    "filter",
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
    "flat",
    "flatMap",
    "forEach",
    "join",
    "keys",
    "map",
    "pop",
    "push",
    "reduce",
    "reduceRight",
    "reverse",
    "shift",
    "some",
    "sort",
    "splice",
    "toReversed",
    "toSorted",
    "toSpliced",
    "unshift",
    "values",
    "with",
];

/// What the import knows of a field's JavaScript value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FTy {
    /// No schema: any JSON value.
    Any,
    /// A string (text, email, phone, picklist).
    Text,
    /// A number.
    Num,
    /// A boolean.
    Bool,
    /// An array of strings (multi-select).
    List,
    /// A `YYYY-MM-DD` string.
    Date,
    /// An RFC 3339 string.
    DateTime,
    /// An object.
    Object,
}

impl FTy {
    fn name(self) -> &'static str {
        match self {
            FTy::Any => "of unknown type",
            FTy::Text => "a text field",
            FTy::Num => "a number field",
            FTy::Bool => "a boolean field",
            FTy::List => "a multi-select field",
            FTy::Date => "a date field",
            FTy::DateTime => "a date-time field",
            FTy::Object => "an object field",
        }
    }
}

#[derive(Debug, Clone)]
struct FieldRef {
    path: Vec<String>,
    ty: FTy,
}

impl FieldRef {
    fn expr(&self) -> Expr {
        build::path(&self.path)
    }

    fn show(&self) -> String {
        format!("`{}`", self.path.join("."))
    }
}

/// A boolean-valued translation. INVARIANT: the Herald condition is true exactly when the
/// JsonLogic value is `true`; when `total`, it is never unknown (so false exactly when the value
/// is not `true`).
#[derive(Debug, Clone)]
struct Cond {
    expr: Expr,
    total: bool,
    /// The JsonLogic value is `true` or `false`, never null (false for a boolean field read).
    strict: bool,
    /// Unknown only for records where this field is null, two-valued otherwise.
    on: Option<Vec<String>>,
    /// `expr` is `x is null or rest`, with `rest` two-valued where `x` has a value.
    null_or: Option<(Vec<String>, Expr)>,
}

impl Cond {
    fn lit(b: bool) -> Cond {
        Cond::total(build::bool(b))
    }

    fn partial(expr: Expr) -> Cond {
        Cond {
            expr,
            total: false,
            strict: true,
            on: None,
            null_or: None,
        }
    }

    fn total(expr: Expr) -> Cond {
        Cond {
            expr,
            total: true,
            strict: true,
            on: None,
            null_or: None,
        }
    }

    /// A condition on field `path` that is unknown only when the field is null.
    fn on_field(expr: Expr, path: &[String]) -> Cond {
        Cond {
            on: Some(path.to_vec()),
            ..Cond::partial(expr)
        }
    }

    /// `x is null or rest`.
    fn null_or(path: &[String], rest: Expr) -> Cond {
        Cond {
            null_or: Some((path.to_vec(), rest.clone())),
            ..Cond::total(build::or(vec![
                build::test(TestOp::IsNull, build::path(path)),
                rest,
            ]))
        }
    }

    /// The condition as a never-unknown one: `(c) ?? false` unless it already is.
    fn totalized(&self) -> Expr {
        if self.total {
            self.expr.clone()
        } else {
            build::coalesce(vec![self.expr.clone(), build::bool(false)])
        }
    }

    /// True exactly when this one is not true.
    fn negated(&self) -> Cond {
        match (&self.null_or, &self.on) {
            // not (x is null or rest): x has a value and rest is false.
            (Some((path, rest)), _) => Cond::on_field(invert(rest.clone()), path),
            (None, Some(path)) if !self.total => Cond::null_or(path, invert(self.expr.clone())),
            _ if self.total => Cond::total(invert(self.expr.clone())),
            // `not ((c) ?? false)`: parenthesized for the reader (`??` binds tighter than `not`).
            _ => Cond::total(build::not(build::paren(self.totalized()))),
        }
    }
}

/// The negation of a two-valued expression, written with the opposite operator where there is
/// one (`<` for `>=`, `not in` for `in`).
fn invert(e: Expr) -> Expr {
    use crate::ast::ExprKind;
    let span = e.span;
    match e.kind {
        ExprKind::Binary {
            op,
            op_span,
            lhs,
            rhs,
        } => {
            let inverse = match op {
                BinOp::Eq => Some(BinOp::Ne),
                BinOp::Ne => Some(BinOp::Eq),
                BinOp::Lt => Some(BinOp::Ge),
                BinOp::Le => Some(BinOp::Gt),
                BinOp::Gt => Some(BinOp::Le),
                BinOp::Ge => Some(BinOp::Lt),
                BinOp::In => Some(BinOp::NotIn),
                BinOp::NotIn => Some(BinOp::In),
                _ => None,
            };
            let kind = ExprKind::Binary {
                op: inverse.unwrap_or(op),
                op_span,
                lhs,
                rhs,
            };
            match inverse {
                Some(_) => Expr::new(kind, span),
                // `not (x contains "a")`, parenthesized for the reader.
                None => build::not(Expr::new(
                    ExprKind::Paren(Box::new(Expr::new(kind, span))),
                    span,
                )),
            }
        }
        ExprKind::Test { test, operand } => {
            let test = match test {
                TestOp::IsNull => TestOp::IsNotNull,
                TestOp::IsNotNull => TestOp::IsNull,
                TestOp::IsEmpty => TestOp::IsNotEmpty,
                TestOp::IsNotEmpty => TestOp::IsEmpty,
            };
            build::test(test, *operand)
        }
        ExprKind::Not(inner) => *inner,
        ExprKind::Literal(Literal::Bool(b)) => build::bool(!b),
        kind => build::not(Expr::new(kind, span)),
    }
}

/// The field every partial item is unknown on, when they share one. (For a conjunction, enough
/// for the conjunction not to be true when that field is null; see `or_c` for disjunctions.)
fn common_on(items: &[Cond]) -> Option<Vec<String>> {
    let mut on: Option<&Vec<String>> = None;
    for c in items.iter().filter(|c| !c.total) {
        match (&c.on, on) {
            (Some(p), None) => on = Some(p),
            (Some(p), Some(q)) if p == q => {}
            _ => return None,
        }
    }
    on.cloned()
}

fn and_c(items: Vec<Cond>) -> Cond {
    // Where a conjunct is unknown when `x` is null, the conjunction is never true then, so
    // another conjunct's `x is null or ...` needs no `x is null`.
    let partial_on: Vec<Vec<String>> = items
        .iter()
        .filter(|c| !c.total)
        .filter_map(|c| c.on.clone())
        .collect();
    let items: Vec<Cond> = items
        .into_iter()
        .map(|c| match &c.null_or {
            Some((p, rest)) if partial_on.contains(p) => Cond::on_field(rest.clone(), p),
            _ => c,
        })
        .collect();
    let total = items.iter().all(|c| c.total);
    let strict = items.iter().all(|c| c.strict);
    let on = if total { None } else { common_on(&items) };
    Cond {
        expr: build::and(items.into_iter().map(|c| c.expr).collect()),
        total,
        strict,
        on,
        null_or: None,
    }
}

fn or_c(items: Vec<Cond>) -> Cond {
    let total = items.iter().all(|c| c.total);
    let strict = items.iter().all(|c| c.strict);
    // A disjunction is not true when `x` is null only if every disjunct is unknown then.
    let on = if items.iter().any(|c| c.total) {
        None
    } else {
        common_on(&items)
    };
    Cond {
        expr: build::or(items.into_iter().map(|c| c.expr).collect()),
        total,
        strict,
        on,
        null_or: None,
    }
}

/// What a JsonLogic sub-rule computes, as far as the translation knows it.
#[derive(Debug, Clone)]
enum Val {
    /// A constant.
    Const(Js),
    /// A field read (`var`).
    Field(FieldRef),
    /// A boolean-valued rule.
    Cond(Cond),
    /// A non-boolean value whose truthiness is known (`missing`, `missing_some`).
    Truthy(Cond, &'static str),
}

/// Reads a JsonLogic rule (JSON text) and returns the Herald condition source it translates to.
pub fn import_str(text: &str, schema: Option<&Schema>) -> Result<String> {
    let rule: J = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| Refusal::new("JSON", format!("the rule is not valid JSON: {e}")))?;
    import(&rule, schema)
}

/// Translates a JsonLogic rule into Herald condition source, checked against `schema` when one is
/// given (field types decide loose comparisons; records are taken to follow the schema).
pub fn import(rule: &J, schema: Option<&Schema>) -> Result<String> {
    let im = Importer { schema };
    let v = im.value(rule, "rule")?;
    let c = im.condition(v, "rule", "the rule")?;
    let source = crate::print::expr(&c.expr);
    // The translation must be a valid condition; a failure here is a bug in this module.
    if let Err(e) = crate::condition::Condition::compile(&source, schema) {
        return Err(Refusal::new(
            "the translation",
            format!("the translation `{source}` does not compile: {e}"),
        ));
    }
    Ok(source)
}

struct Importer<'a> {
    schema: Option<&'a Schema>,
}

fn at(loc: &str) -> String {
    format!(" (at `{loc}`)")
}

fn refuse(construct: &str, message: String, loc: &str) -> Refusal {
    Refusal::new(format!("`{construct}`"), format!("{message}{}", at(loc)))
}

/// The operands of an operation: JsonLogic allows a single operand without the array.
fn operands(v: &J) -> Vec<&J> {
    match v {
        J::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// A Herald literal for a JavaScript number.
fn num_lit(n: f64, loc: &str) -> Result<Expr> {
    if !n.is_finite() {
        return Err(refuse(
            "number",
            format!("{} is not a finite number", js::number_to_string(n)),
            loc,
        ));
    }
    // Integral values that fit are integers (so that `Age == 30` reads naturally).
    if n.fract() == 0.0 && n.abs() < 9.2e18 {
        return Ok(build::lit(Literal::Int(n as i64)));
    }
    Ok(build::lit(Literal::Dec(n)))
}

/// A canonical `YYYY-MM-DD` date, as a date literal.
fn date_lit(s: &str) -> Option<Expr> {
    let d = crate::value::parse_date(s)?;
    (d.format("%Y-%m-%d").to_string() == s).then(|| build::lit(Literal::Date(d)))
}

fn flip(op: &str) -> &str {
    match op {
        "<" => ">",
        ">" => "<",
        "<=" => ">=",
        ">=" => "<=",
        other => other,
    }
}

fn binop(op: &str) -> BinOp {
    match op {
        "!=" | "!==" => BinOp::Ne,
        "<" => BinOp::Lt,
        "<=" => BinOp::Le,
        ">" => BinOp::Gt,
        ">=" => BinOp::Ge,
        _ => BinOp::Eq,
    }
}

impl Importer<'_> {
    /// A boolean-valued translation of a value in a condition position.
    fn condition(&self, v: Val, loc: &str, what: &str) -> Result<Cond> {
        match v {
            Val::Cond(c) => Ok(c),
            Val::Const(Js::Bool(b)) => Ok(Cond::lit(b)),
            Val::Field(f) if f.ty == FTy::Bool => Ok(Cond {
                strict: false,
                ..Cond::on_field(f.expr(), &f.path)
            }),
            Val::Const(c) => Err(Refusal::new(
                "a non-boolean rule",
                format!("{what} returns {}, not a boolean: only rules that return true or false can be conditions{}", c.show(), at(loc)),
            )),
            Val::Field(f) => Err(Refusal::new(
                "a non-boolean rule",
                format!("{what} returns the value of {} ({}), not a boolean: only rules that return true or false can be conditions{}", f.show(), f.ty.name(), at(loc)),
            )
            .with_help("compare the field with a value, or test it with `!!`")),
            Val::Truthy(_, op) => Err(Refusal::new(
                "a non-boolean rule",
                format!("{what} returns the array of `{op}`, not a boolean{}", at(loc)),
            )
            .with_help(format!("wrap it in `!` or `!!`: {{\"!\": {{\"{op}\": ...}}}}"))),
        }
    }

    /// `truthy(v)` as a condition.
    fn truthy(&self, v: &Val) -> Result<Cond> {
        Ok(match v {
            Val::Const(c) => Cond::lit(js::truthy(c)),
            Val::Cond(c) | Val::Truthy(c, _) => c.clone(),
            Val::Field(f) => {
                let x = f.expr();
                match f.ty {
                    FTy::Text | FTy::List => Cond::total(build::test(TestOp::IsNotEmpty, x)),
                    FTy::Num => Cond::on_field(
                        build::bin(BinOp::Ne, x, build::lit(Literal::Int(0))),
                        &f.path,
                    ),
                    FTy::Bool => Cond::on_field(x, &f.path),
                    FTy::Date | FTy::DateTime | FTy::Object => {
                        Cond::total(build::test(TestOp::IsNotNull, x))
                    }
                    FTy::Any => self.falsy_any(f).negated(),
                }
            }
        })
    }

    /// `!truthy(v)` as a condition (never unknown).
    fn falsy(&self, v: &Val) -> Result<Cond> {
        Ok(match v {
            Val::Field(f) => match f.ty {
                FTy::Num => Cond::null_or(
                    &f.path,
                    build::bin(BinOp::Eq, f.expr(), build::lit(Literal::Int(0))),
                ),
                FTy::Any => self.falsy_any(f),
                _ => self.truthy(v)?.negated(),
            },
            other => self.truthy(other)?.negated(),
        })
    }

    /// Falsy values of any type: null, `false`, `0`, `""` and `[]`.
    fn falsy_any(&self, f: &FieldRef) -> Cond {
        let x = f.expr();
        let eq_total = |lit: Literal| {
            build::coalesce(vec![
                build::bin(BinOp::Eq, x.clone(), build::lit(lit)),
                build::bool(false),
            ])
        };
        Cond::total(build::or(vec![
            build::test(TestOp::IsEmpty, x.clone()),
            eq_total(Literal::Bool(false)),
            eq_total(Literal::Int(0)),
        ]))
    }

    /// Resolves a `var` path to a field.
    fn field(&self, key: &Js, loc: &str) -> Result<FieldRef> {
        let name = match key {
            Js::Str(s) => s.clone(),
            Js::Num(n) => js::number_to_string(*n),
            _ => {
                return Err(refuse(
                    "var",
                    format!("the field name {} is not a string", key.show()),
                    loc,
                ));
            }
        };
        if name.is_empty() {
            return Err(refuse(
                "var",
                String::from("`{\"var\": \"\"}` reads the whole record, which is not a field"),
                loc,
            ));
        }
        let path: Vec<String> = name.split('.').map(str::to_string).collect();
        for (i, seg) in path.iter().enumerate() {
            if seg.is_empty() || seg.contains(['`', '\n', '\r']) {
                return Err(refuse(
                    "var",
                    format!("the field path \"{name}\" has a segment Herald cannot name"),
                    loc,
                ));
            }
            if OBJECT_MEMBERS.contains(&&**seg) {
                return Err(refuse(
                    "var",
                    format!(
                        "\"{seg}\" names a member of every JavaScript object, so a record without that key does not read as missing"
                    ),
                    loc,
                ));
            }
            let numeric = seg.chars().all(|c| c.is_ascii_digit());
            if self.schema.is_none() && i > 0 && (numeric || STRING_ARRAY_MEMBERS.contains(&&**seg))
            {
                return Err(refuse(
                    "var",
                    format!("in \"{name}\", \"{seg}\" could index an array or read a member of a string in JavaScript, where Herald paths only name object keys"),
                    loc,
                )
                .with_help("import with a schema (--rules) so that the type of each field is known"));
            }
        }
        let Some(schema) = self.schema else {
            return Ok(FieldRef { path, ty: FTy::Any });
        };
        let Some(field) = schema.lookup(&path) else {
            let mut r = refuse(
                "var",
                format!("`{name}` is not a field of schema `{}`", schema.name),
                loc,
            );
            let level = schema.fields_at(path.get(..path.len().saturating_sub(1)).unwrap_or(&[]));
            if let (Some(level), Some(last)) = (level, path.last()) {
                if let Some(s) =
                    crate::schema::did_you_mean(last, level.iter().map(|f| f.name.as_str()))
                {
                    r = r.with_help(format!("did you mean `{s}`?"));
                }
            }
            return Err(r);
        };
        let ty = match &field.ty {
            FieldType::Text | FieldType::Email | FieldType::Phone | FieldType::Picklist(_) => {
                FTy::Text
            }
            FieldType::Integer | FieldType::Decimal | FieldType::Currency => FTy::Num,
            FieldType::Boolean => FTy::Bool,
            FieldType::Date => FTy::Date,
            FieldType::DateTime => FTy::DateTime,
            FieldType::Multiselect(_) => FTy::List,
            FieldType::Object(_) => FTy::Object,
        };
        Ok(FieldRef { path, ty })
    }

    /// Translates any sub-rule.
    fn value(&self, rule: &J, loc: &str) -> Result<Val> {
        match rule {
            J::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match self.value(item, &format!("{loc}[{i}]"))? {
                        Val::Const(c) => out.push(c),
                        _ => {
                            return Err(refuse(
                                "array",
                                String::from(
                                    "an array whose elements are rules computes a list, which Herald conditions cannot use",
                                ),
                                loc,
                            ));
                        }
                    }
                }
                Ok(Val::Const(Js::Arr(out)))
            }
            J::Object(map) if map.len() == 1 => {
                let Some((op, args)) = map.iter().next() else {
                    return Ok(Val::Const(Js::Obj));
                };
                let here = format!("{loc}.{op}");
                self.operation(op, args, &here)
            }
            other => Ok(Val::Const(Js::from_json(other))),
        }
    }

    fn operation(&self, op: &str, args: &J, loc: &str) -> Result<Val> {
        let ops = operands(args);
        match op {
            "var" => self.var(&ops, loc),
            "==" | "===" | "!=" | "!==" | ">" | ">=" => {
                let [a, b] = ops.as_slice() else {
                    return Err(refuse(op, format!("`{op}` takes two operands, here {}", ops.len()), loc));
                };
                let (a, b) = (self.value(a, &format!("{loc}[0]"))?, self.value(b, &format!("{loc}[1]"))?);
                self.compare(op, a, b, loc).map(Val::Cond)
            }
            "<" | "<=" => match ops.as_slice() {
                [a, b] => {
                    let (a, b) = (self.value(a, &format!("{loc}[0]"))?, self.value(b, &format!("{loc}[1]"))?);
                    self.compare(op, a, b, loc).map(Val::Cond)
                }
                // `a < b < c`: `(a < b) && (b < c)`, two booleans.
                [a, b, c] => {
                    let a = self.value(a, &format!("{loc}[0]"))?;
                    let b = self.value(b, &format!("{loc}[1]"))?;
                    let c = self.value(c, &format!("{loc}[2]"))?;
                    let first = self.compare(op, a, b.clone(), loc)?;
                    let second = self.compare(op, b, c, loc)?;
                    Ok(Val::Cond(and_c(vec![first, second])))
                }
                _ => Err(refuse(op, format!("`{op}` takes two or three operands, here {}", ops.len()), loc)),
            },
            "!" | "!!" => {
                let [a] = ops.as_slice() else {
                    return Err(refuse(op, format!("`{op}` takes one operand, here {}", ops.len()), loc));
                };
                let a = self.value(a, &format!("{loc}[0]"))?;
                if let Val::Const(c) = &a {
                    return Ok(Val::Const(Js::Bool(js::truthy(c) == (op == "!!"))));
                }
                Ok(Val::Cond(if op == "!" { self.falsy(&a)? } else { self.truthy(&a)? }))
            }
            "and" | "or" => self.junction(op, &ops, loc),
            "if" | "?:" => self.if_(&ops, loc),
            "in" => {
                let [a, b] = ops.as_slice() else {
                    return Err(refuse(op, format!("`in` takes two operands, here {}", ops.len()), loc));
                };
                let (a, b) = (self.value(a, &format!("{loc}[0]"))?, self.value(b, &format!("{loc}[1]"))?);
                self.in_(a, b, loc)
            }
            "missing" => {
                let mut keys = Vec::new();
                for (i, o) in ops.iter().enumerate() {
                    match self.value(o, &format!("{loc}[{i}]"))? {
                        // One array argument is the list of keys.
                        Val::Const(Js::Arr(items)) if i == 0 => {
                            keys = items;
                            break;
                        }
                        Val::Const(k) => keys.push(k),
                        _ => return Err(refuse("missing", String::from("the keys of `missing` must be written out"), loc)),
                    }
                }
                let conds = keys.iter().map(|k| self.missing_one(k, loc)).collect::<Result<Vec<_>>>()?;
                Ok(Val::Truthy(or_c(conds), "missing"))
            }
            "missing_some" => self.missing_some(&ops, loc),
            "startsWith" | "endsWith" => {
                let [a, b] = ops.as_slice() else {
                    return Err(refuse(op, format!("`{op}` takes two operands, here {}", ops.len()), loc));
                };
                let (a, b) = (self.value(a, &format!("{loc}[0]"))?, self.value(b, &format!("{loc}[1]"))?);
                self.affix(op, a, b, loc).map(Val::Cond)
            }
            "+" | "-" | "*" | "/" | "%" | "min" | "max" => Err(refuse(
                op,
                format!("`{op}` is arithmetic, and Herald conditions compare fields with values but do not compute numbers"),
                loc,
            )),
            "cat" | "substr" => Err(refuse(
                op,
                format!("`{op}` builds text, and Herald conditions compare fields with values but do not build text"),
                loc,
            )
            .with_help("for a prefix or suffix test, use react-querybuilder's `startsWith` / `endsWith`")),
            "merge" | "map" | "filter" | "reduce" | "all" | "some" | "none" => Err(refuse(
                op,
                format!("`{op}` computes over arrays element by element, which Herald conditions do not"),
                loc,
            )
            .with_help("for a multi-select field, Herald has `contains`, `contains any` and `contains all`")),
            "log" | "method" => Err(refuse(op, format!("`{op}` has no place in a condition"), loc)),
            other => Err(refuse(
                other,
                format!("`{other}` is not a JsonLogic operation Herald knows (a custom operation's meaning is the host's)"),
                loc,
            )),
        }
    }

    fn var(&self, ops: &[&J], loc: &str) -> Result<Val> {
        let key = match ops.first() {
            None => {
                return Err(refuse(
                    "var",
                    String::from("`{\"var\": []}` reads the whole record, which is not a field"),
                    loc,
                ));
            }
            Some(k) => match self.value(k, &format!("{loc}[0]"))? {
                Val::Const(Js::Null) => {
                    return Err(refuse(
                        "var",
                        String::from(
                            "`{\"var\": null}` reads the whole record, which is not a field",
                        ),
                        loc,
                    ));
                }
                Val::Const(k) => k,
                _ => {
                    return Err(refuse(
                        "var",
                        String::from("a field name computed by a rule cannot be translated"),
                        loc,
                    ));
                }
            },
        };
        if ops.len() > 2 {
            return Err(refuse(
                "var",
                String::from("`var` takes a name and a default"),
                loc,
            ));
        }
        match ops.get(1) {
            None | Some(J::Null) => {}
            Some(d) => {
                return Err(refuse(
                    "var",
                    format!(
                        "the default {d} of `var` is used only when the key is absent, not when it is null, and Herald's `??` replaces both"
                    ),
                    loc,
                )
                .with_help("drop the default and write the comparison for the missing case with `missing` or `== null`"));
            }
        }
        self.field(&key, loc).map(Val::Field)
    }

    fn junction(&self, op: &str, ops: &[&J], loc: &str) -> Result<Val> {
        if ops.is_empty() {
            return Err(refuse(
                op,
                format!("`{op}` without operands returns undefined"),
                loc,
            ));
        }
        let vals = ops
            .iter()
            .enumerate()
            .map(|(i, o)| self.value(o, &format!("{loc}[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        // All constant: JavaScript's answer (the first falsy / truthy operand, or the last).
        if let Some(consts) = vals
            .iter()
            .map(|v| match v {
                Val::Const(c) => Some(c.clone()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
        {
            let want = op == "or";
            let pick = consts
                .iter()
                .find(|c| js::truthy(c) == want)
                .or(consts.last())
                .cloned()
                .unwrap_or(Js::Null);
            return Ok(Val::Const(pick));
        }
        if vals.len() == 1 {
            return Ok(vals.into_iter().next().unwrap_or(Val::Const(Js::Null)));
        }
        let what = format!("an operand of `{op}` (which returns one of its operands)");
        let conds = vals
            .into_iter()
            .enumerate()
            .map(|(i, v)| self.condition(v, &format!("{loc}[{i}]"), &what))
            .collect::<Result<Vec<_>>>()?;
        Ok(Val::Cond(if op == "and" {
            and_c(conds)
        } else {
            or_c(conds)
        }))
    }

    fn if_(&self, ops: &[&J], loc: &str) -> Result<Val> {
        // Pairs (condition, result) and an optional last result; the first truthy condition
        // chooses. Constant conditions are decided here.
        let mut pieces: Vec<Cond> = Vec::new();
        let mut earlier_false: Vec<Cond> = Vec::new();
        let mut i = 0;
        let what = "a branch of `if`";
        while i + 1 < ops.len() {
            let (c, r) = (ops.get(i), ops.get(i + 1));
            let (Some(c), Some(r)) = (c, r) else { break };
            let c = self.value(c, &format!("{loc}[{i}]"))?;
            if let Val::Const(k) = &c {
                if js::truthy(k) {
                    let r = self.value(r, &format!("{loc}[{}]", i + 1))?;
                    if pieces.is_empty() {
                        return Ok(r);
                    }
                    let r = self.condition(r, &format!("{loc}[{}]", i + 1), what)?;
                    pieces.push(and_c(earlier_false.iter().cloned().chain([r]).collect()));
                    return Ok(Val::Cond(or_c(pieces)));
                }
                i += 2;
                continue;
            }
            let r = self.value(r, &format!("{loc}[{}]", i + 1))?;
            let r = self.condition(r, &format!("{loc}[{}]", i + 1), what)?;
            let t = self.truthy(&c)?;
            let f = self.falsy(&c)?;
            pieces.push(and_c(earlier_false.iter().cloned().chain([t, r]).collect()));
            earlier_false.push(f);
            i += 2;
        }
        match ops.get(i) {
            Some(last) => {
                let v = self.value(last, &format!("{loc}[{i}]"))?;
                if pieces.is_empty() {
                    return Ok(v);
                }
                let r = self.condition(v, &format!("{loc}[{i}]"), what)?;
                pieces.push(and_c(earlier_false.into_iter().chain([r]).collect()));
            }
            // No else: null, which is not true.
            None if pieces.is_empty() => return Ok(Val::Const(Js::Null)),
            None => {
                let mut c = or_c(pieces);
                c.strict = false;
                return Ok(Val::Cond(c));
            }
        }
        Ok(Val::Cond(or_c(pieces)))
    }

    /// A field is missing for JsonLogic when it reads as null or `""`.
    fn missing_one(&self, key: &Js, loc: &str) -> Result<Cond> {
        let f = self.field(key, loc)?;
        let x = f.expr();
        Ok(Cond::total(match f.ty {
            FTy::Text => build::test(TestOp::IsEmpty, x),
            FTy::Any => build::or(vec![
                build::test(TestOp::IsNull, x.clone()),
                build::coalesce(vec![
                    build::bin(BinOp::Eq, x, build::str("")),
                    build::bool(false),
                ]),
            ]),
            _ => build::test(TestOp::IsNull, x),
        }))
    }

    fn missing_some(&self, ops: &[&J], loc: &str) -> Result<Val> {
        let [need, keys] = ops else {
            return Err(refuse(
                "missing_some",
                String::from("`missing_some` takes a count and a list of keys"),
                loc,
            ));
        };
        let (need, keys) = (
            self.value(need, &format!("{loc}[0]"))?,
            self.value(keys, &format!("{loc}[1]"))?,
        );
        let (Val::Const(Js::Num(need)), Val::Const(Js::Arr(keys))) = (need, keys) else {
            return Err(refuse(
                "missing_some",
                String::from("the count and the keys of `missing_some` must be written out"),
                loc,
            ));
        };
        let missing = keys
            .iter()
            .map(|k| self.missing_one(k, loc))
            .collect::<Result<Vec<_>>>()?;
        // Truthy (a non-empty array) exactly when fewer than min(need, n) keys are present.
        let n = missing.len();
        let m = if need.is_nan() {
            0
        } else {
            need.ceil().clamp(0.0, n as f64) as usize
        };
        if m == 0 {
            return Ok(Val::Truthy(Cond::lit(false), "missing_some"));
        }
        let subsets = binomial(n, m);
        if subsets > 64 {
            return Err(refuse(
                "missing_some",
                format!("`missing_some` of {m} among {n} keys would need {subsets} alternatives"),
                loc,
            ));
        }
        let present: Vec<Expr> = missing.iter().map(|c| c.negated().expr).collect();
        let mut alternatives = Vec::new();
        for combo in combinations(n, m) {
            alternatives.push(build::and(
                combo
                    .iter()
                    .filter_map(|&i| present.get(i).cloned())
                    .collect(),
            ));
        }
        let enough = build::or(alternatives);
        Ok(Val::Truthy(Cond::total(build::not(enough)), "missing_some"))
    }

    fn compare(&self, op: &str, a: Val, b: Val, loc: &str) -> Result<Cond> {
        match (a, b) {
            (Val::Const(x), Val::Const(y)) => Ok(Cond::lit(js::compare(op, &x, &y))),
            (Val::Field(f), Val::Const(c)) => self.field_cmp(op, &f, &c, loc),
            (Val::Const(c), Val::Field(f)) => self.field_cmp(flip(op), &f, &c, loc),
            (Val::Cond(c), Val::Const(Js::Bool(b))) | (Val::Const(Js::Bool(b)), Val::Cond(c))
                if c.strict && matches!(op, "==" | "===" | "!=" | "!==") =>
            {
                let positive = matches!(op, "==" | "===") == b;
                Ok(if positive { c } else { c.negated() })
            }
            (Val::Field(a), Val::Field(b)) => self.fields_cmp(op, &a, &b, loc),
            _ => Err(refuse(
                op,
                format!("`{op}` between these operands has no faithful Herald translation"),
                loc,
            )),
        }
    }

    /// `a OP b` between two fields of the same type (a schema is needed to know it).
    fn fields_cmp(&self, op: &str, a: &FieldRef, b: &FieldRef, loc: &str) -> Result<Cond> {
        let (x, y) = (a.expr(), b.expr());
        let eq_op = matches!(op, "==" | "===" | "!=" | "!==");
        let ok = a.ty == b.ty
            && match a.ty {
                FTy::Num | FTy::Date => true,
                FTy::Text | FTy::Bool => eq_op,
                _ => false,
            };
        if !ok {
            return Err(refuse(
                op,
                format!(
                    "`{op}` between {} ({}) and {} ({}) depends on how JavaScript converts the two values",
                    a.show(),
                    a.ty.name(),
                    b.show(),
                    b.ty.name()
                ),
                loc,
            )
            .with_help(if a.ty == FTy::Any { "import with a schema (--rules) so that field types are known" } else { "compare a field with a value" }));
        }
        let both_null = || {
            build::and(vec![
                build::test(TestOp::IsNull, x.clone()),
                build::test(TestOp::IsNull, y.clone()),
            ])
        };
        let h = build::bin(binop(op), x.clone(), y.clone());
        if a.ty == FTy::Num && !eq_op {
            // Orderings read null as 0.
            let zero = || build::lit(Literal::Int(0));
            return Ok(Cond::total(build::bin(
                binop(op),
                build::coalesce(vec![x.clone(), zero()]),
                build::coalesce(vec![y.clone(), zero()]),
            )));
        }
        // Two nulls are equal (and `<=` each other: null is 0 for both); one null is unequal.
        let positive = match op {
            "==" | "===" => Cond::partial(build::or(vec![
                both_null(),
                build::bin(BinOp::Eq, x.clone(), y.clone()),
            ])),
            "!=" | "!==" => return Ok(self.fields_cmp("==", a, b, loc)?.negated()),
            "<=" | ">=" => Cond::partial(build::or(vec![both_null(), h])),
            _ => Cond::partial(h),
        };
        Ok(positive)
    }

    /// `f OP c`: a field against a constant.
    fn field_cmp(&self, op: &str, f: &FieldRef, c: &Js, loc: &str) -> Result<Cond> {
        let x = f.expr();
        let strict_op = matches!(op, "===" | "!==");
        let eq_op = matches!(op, "==" | "===" | "!=" | "!==");
        let positive = matches!(op, "==" | "===");
        // Null (and a missing key, which `var` reads as null) against null.
        if *c == Js::Null && eq_op {
            return Ok(Cond::total(build::test(
                if positive {
                    TestOp::IsNull
                } else {
                    TestOp::IsNotNull
                },
                x,
            )));
        }
        let mismatch = |why: &str| {
            refuse(
                op,
                format!(
                    "`{op}` compares {} ({}) with {}: {why}",
                    f.show(),
                    f.ty.name(),
                    c.show()
                ),
                loc,
            )
        };
        if f.ty == FTy::Any {
            if !matches!(c, Js::Str(_) | Js::Num(_) | Js::Bool(_)) || !strict_op {
                return Err(mismatch(
                    "without a schema the field's type is unknown, and JavaScript converts between types before comparing",
                )
                .with_help("use `===` / `!==`, or import with a schema (--rules) so that field types are known"));
            }
            let lit = self.js_literal(c, loc)?;
            let eq = Cond::partial(build::bin(BinOp::Eq, x, lit));
            return Ok(if positive { eq } else { eq.negated() });
        }
        // The right-hand Herald literal, by the field's type.
        let lit: Expr = match (f.ty, c) {
            (FTy::Text, Js::Str(s)) => {
                if !eq_op && s.chars().any(|ch| ch > '\u{D7FF}') {
                    return Err(mismatch(
                        "JavaScript orders text by UTF-16 code units and Herald by code points, which differ for characters above U+D7FF",
                    ));
                }
                build::str(s)
            }
            (FTy::Text, Js::Arr(items))
                if !strict_op
                    && eq_op
                    && items.iter().all(|i| !matches!(i, Js::Arr(_) | Js::Obj)) =>
            {
                // A text compared loosely with an array compares with the array's text.
                build::str(&js::to_string(c))
            }
            (FTy::Num, Js::Num(n)) => num_lit(*n, loc)?,
            (FTy::Num, Js::Str(s)) if !strict_op => {
                let n = js::string_to_number(s);
                if n.is_nan() {
                    return Err(mismatch(
                        "the text is not a number in JavaScript, so the comparison is always false",
                    ));
                }
                num_lit(n, loc)?
            }
            (FTy::Bool, Js::Bool(b)) if eq_op => build::bool(*b),
            (FTy::Date, Js::Str(s)) => match date_lit(s) {
                Some(d) => d,
                None => {
                    return Err(mismatch(
                        "the value is not a `YYYY-MM-DD` date, so it never equals nor orders like one",
                    ));
                }
            },
            (FTy::DateTime, _) => {
                return Err(mismatch(
                    "JsonLogic compares date-times as text, where the same instant has many spellings (offsets), and Herald as instants",
                ));
            }
            _ => {
                return Err(mismatch(if strict_op {
                    "the types differ, so `===` is always false"
                } else {
                    "JavaScript would convert between the types before comparing"
                }));
            }
        };
        let h = build::bin(binop(op), x.clone(), lit);
        // The record without a value: `var` reads null, and JavaScript compares null as 0 in
        // orderings and as unequal to everything but null.
        let null_result = js::compare(
            op,
            &Js::Null,
            &match (f.ty, c) {
                (FTy::Num, Js::Str(s)) => Js::Num(js::string_to_number(s)),
                _ => c.clone(),
            },
        );
        Ok(if null_result {
            Cond::null_or(&f.path, h)
        } else {
            Cond::on_field(h, &f.path)
        })
    }

    /// A Herald literal for a JavaScript constant (strings, numbers, booleans).
    fn js_literal(&self, c: &Js, loc: &str) -> Result<Expr> {
        match c {
            Js::Str(s) => Ok(build::str(s)),
            Js::Num(n) => num_lit(*n, loc),
            Js::Bool(b) => Ok(build::bool(*b)),
            other => Err(refuse(
                "literal",
                format!("{} has no Herald literal here", other.show()),
                loc,
            )),
        }
    }

    fn in_(&self, a: Val, b: Val, loc: &str) -> Result<Val> {
        match (a, b) {
            (Val::Const(x), Val::Const(y)) => {
                let r = match &y {
                    Js::Arr(items) => items.iter().any(|i| js::strict_eq(i, &x)),
                    Js::Str(s) if !s.is_empty() => s.contains(js::to_string(&x).as_str()),
                    _ => false,
                };
                Ok(Val::Const(Js::Bool(r)))
            }
            // A field in a list: `indexOf`, strict equality.
            (Val::Field(f), Val::Const(Js::Arr(items))) => {
                self.member(&f, &items, loc).map(Val::Cond)
            }
            // A value in a field: substring of a text, or element of an array.
            (Val::Const(Js::Str(s)), Val::Field(f)) => {
                let x = f.expr();
                let contains = build::bin(BinOp::Contains, x.clone(), build::str(&s));
                Ok(Val::Cond(match (f.ty, s.is_empty()) {
                    // `!b` makes the empty text false; "" is in every other text.
                    (FTy::Text, true) => Cond::total(build::test(TestOp::IsNotEmpty, x)),
                    (FTy::Text | FTy::List, false) | (FTy::List, true) => {
                        Cond::on_field(contains, &f.path)
                    }
                    (FTy::Any, false) => Cond::partial(contains),
                    (FTy::Any, true) => Cond::partial(build::and(vec![
                        contains,
                        build::test(TestOp::IsNotEmpty, x),
                    ])),
                    (ty, _) => {
                        return Err(refuse(
                            "in",
                            format!(
                                "`in` looks for {} in {} ({}): {}",
                                Js::Str(s.clone()).show(),
                                f.show(),
                                ty.name(),
                                match ty {
                                    FTy::Date | FTy::DateTime =>
                                        "Herald reads dates as dates, not as text",
                                    _ =>
                                        "the field is never a text or an array, so this is always false",
                                }
                            ),
                            loc,
                        ));
                    }
                }))
            }
            (Val::Const(c), Val::Field(f)) => Err(refuse(
                "in",
                format!(
                    "`in` looks for {} in {}: only text is looked for in fields",
                    c.show(),
                    f.show()
                ),
                loc,
            )),
            _ => Err(refuse(
                "in",
                String::from("`in` between these operands has no faithful Herald translation"),
                loc,
            )),
        }
    }

    /// `f` is strictly equal to an element of `items`.
    fn member(&self, f: &FieldRef, items: &[Js], loc: &str) -> Result<Cond> {
        let x = f.expr();
        let has_null = items.contains(&Js::Null);
        let strs: Vec<&str> = items
            .iter()
            .filter_map(|i| match i {
                Js::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        let nums: Vec<f64> = items
            .iter()
            .filter_map(|i| match i {
                Js::Num(n) if !n.is_nan() => Some(*n),
                _ => None,
            })
            .collect();
        let bools: Vec<bool> = items
            .iter()
            .filter_map(|i| match i {
                Js::Bool(b) => Some(*b),
                _ => None,
            })
            .collect();
        let in_list = |lits: Vec<Expr>| build::bin(BinOp::In, x.clone(), build::list(lits));
        let mut alternatives: Vec<Expr> = Vec::new();
        // INVARIANT: when there is a null, `x is null` is the first alternative.
        if has_null {
            alternatives.push(build::test(TestOp::IsNull, x.clone()));
        }
        let str_lits = || strs.iter().map(|s| build::str(s)).collect::<Vec<_>>();
        let num_lits = || {
            nums.iter()
                .map(|n| num_lit(*n, loc))
                .collect::<Result<Vec<_>>>()
        };
        match f.ty {
            FTy::Text if !strs.is_empty() => alternatives.push(in_list(str_lits())),
            FTy::Num if !nums.is_empty() => alternatives.push(in_list(num_lits()?)),
            FTy::Bool if !bools.is_empty() => {
                alternatives.push(in_list(bools.iter().map(|b| build::bool(*b)).collect()))
            }
            FTy::Date => {
                let dates: Vec<Expr> = strs.iter().filter_map(|s| date_lit(s)).collect();
                if !dates.is_empty() {
                    alternatives.push(in_list(dates));
                }
            }
            FTy::Any => {
                if !strs.is_empty() {
                    alternatives.push(in_list(str_lits()));
                }
                if !nums.is_empty() {
                    alternatives.push(in_list(num_lits()?));
                }
                if !bools.is_empty() {
                    alternatives.push(in_list(bools.iter().map(|b| build::bool(*b)).collect()));
                }
            }
            FTy::DateTime | FTy::List | FTy::Object => {
                return Err(refuse(
                    "in",
                    format!(
                        "`in` looks for {} ({}) in a list: {}",
                        f.show(),
                        f.ty.name(),
                        match f.ty {
                            FTy::DateTime =>
                                "JsonLogic compares date-times as text and Herald as instants",
                            _ => "arrays and objects are never strictly equal to a list's elements",
                        }
                    ),
                    loc,
                ));
            }
            _ => {}
        }
        if alternatives.is_empty() {
            return Ok(Cond::lit(false));
        }
        if f.ty == FTy::Any {
            let total = alternatives.len() == 1 && has_null;
            return Ok(if total {
                Cond::total(build::or(alternatives))
            } else {
                Cond::partial(build::or(alternatives))
            });
        }
        // Typed: `x is null or x in [...]`, or `x in [...]` (unknown only for null).
        Ok(match (has_null, alternatives.len()) {
            (true, 1) => Cond::total(build::or(alternatives)),
            (true, _) => Cond::null_or(
                &f.path,
                alternatives.pop().unwrap_or_else(|| build::bool(false)),
            ),
            (false, _) => Cond::on_field(build::or(alternatives), &f.path),
        })
    }

    /// react-querybuilder's `startsWith` / `endsWith`.
    fn affix(&self, op: &str, a: Val, b: Val, loc: &str) -> Result<Cond> {
        let bin = if op == "startsWith" {
            BinOp::StartsWith
        } else {
            BinOp::EndsWith
        };
        match (a, b) {
            // The second operand is converted to a string (`String([])` is "").
            (Val::Const(Js::Str(s)), Val::Const(p)) => {
                let p = js::to_string(&p);
                Ok(Cond::lit(if op == "startsWith" {
                    s.starts_with(p.as_str())
                } else {
                    s.ends_with(p.as_str())
                }))
            }
            (Val::Const(_), Val::Const(_)) => Ok(Cond::lit(false)),
            (Val::Field(f), Val::Const(p)) if f.ty == FTy::Text && p != Js::Obj => {
                Ok(Cond::on_field(
                    build::bin(bin, f.expr(), build::str(&js::to_string(&p))),
                    &f.path,
                ))
            }
            (Val::Field(f), Val::Const(p)) if f.ty == FTy::Any && p != Js::Obj => Ok(
                Cond::partial(build::bin(bin, f.expr(), build::str(&js::to_string(&p)))),
            ),
            (Val::Field(f), Val::Const(c)) => Err(refuse(
                op,
                format!(
                    "`{op}` of {} ({}) with {}: only a text field with a text value translates",
                    f.show(),
                    f.ty.name(),
                    c.show()
                ),
                loc,
            )),
            _ => Err(refuse(
                op,
                format!("`{op}` between these operands has no faithful Herald translation"),
                loc,
            )),
        }
    }
}

fn binomial(n: usize, k: usize) -> usize {
    let mut r: usize = 1;
    for i in 0..k {
        r = r.saturating_mul(n - i) / (i + 1);
    }
    r
}

/// Every subset of size `k` of `0..n`, in lexicographic order.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut cur: Vec<usize> = (0..k).collect();
    if k > n {
        return out;
    }
    loop {
        out.push(cur.clone());
        // The rightmost index that can still move right.
        let Some(i) = (0..k)
            .rev()
            .find(|&i| cur.get(i).is_some_and(|&c| c < n - k + i))
        else {
            return out;
        };
        if let Some(c) = cur.get_mut(i) {
            *c += 1;
        }
        let base = cur.get(i).copied().unwrap_or(0);
        for (j, slot) in cur.iter_mut().enumerate().skip(i + 1) {
            *slot = base + (j - i);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Export: Herald -> JsonLogic
// ---------------------------------------------------------------------------------------------

/// Translates a checked condition (its typed IR and field table) into a JsonLogic rule that
/// returns `true` exactly when the condition is true, and `false` otherwise.
pub fn export(node: &Node, fields: &FieldTable) -> Result<J> {
    let ex = Exporter { fields };
    crate::syntax::on_deep_stack(super::sql::depth(node) * 2, || ex.when_true(node))
}

/// Exports a compiled condition.
pub fn export_condition(cond: &crate::condition::Condition) -> Result<J> {
    export(cond.ir(), cond.fields())
}

struct Exporter<'a> {
    fields: &'a FieldTable,
}

/// What an exported value is, in JavaScript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VKind {
    Null,
    Text,
    Num,
    Bool,
    /// A `YYYY-MM-DD` string.
    Date,
    /// An array of strings.
    List,
    /// No schema: any JSON value.
    Any,
    /// A date-time or an object: only tested for null.
    Opaque,
}

#[derive(Debug, Clone)]
struct JVal {
    json: J,
    kind: VKind,
    /// False for literals.
    nullable: bool,
}

fn j_and(items: Vec<J>) -> J {
    let mut flat = Vec::new();
    for i in items {
        match i {
            J::Bool(true) => {}
            J::Object(m) if m.len() == 1 && m.contains_key("and") => {
                if let Some(J::Array(inner)) = m.get("and") {
                    flat.extend(inner.iter().cloned());
                }
            }
            other if flat.contains(&other) => {}
            other => flat.push(other),
        }
    }
    if flat.contains(&J::Bool(false)) {
        return J::Bool(false);
    }
    match flat.len() {
        0 => J::Bool(true),
        1 => flat.pop().unwrap_or(J::Bool(true)),
        _ => json!({ "and": flat }),
    }
}

fn j_or(items: Vec<J>) -> J {
    let mut flat = Vec::new();
    for i in items {
        match i {
            J::Bool(false) => {}
            J::Object(m) if m.len() == 1 && m.contains_key("or") => {
                if let Some(J::Array(inner)) = m.get("or") {
                    flat.extend(inner.iter().cloned());
                }
            }
            other => flat.push(other),
        }
    }
    if flat.contains(&J::Bool(true)) {
        return J::Bool(true);
    }
    match flat.len() {
        0 => J::Bool(false),
        1 => flat.pop().unwrap_or(J::Bool(false)),
        _ => json!({ "or": flat }),
    }
}

fn j_not(x: J) -> J {
    match x {
        J::Bool(b) => J::Bool(!b),
        other => json!({ "!": other }),
    }
}

fn nonnull(v: &JVal) -> J {
    json!({ "!=": [v.json, null] })
}

fn no(node: &Node, construct: impl Into<String>, message: impl Into<String>) -> Refusal {
    Refusal::new(construct, message).at(node.span)
}

/// Largest integer a JavaScript number holds exactly.
const JS_SAFE: i64 = 9_007_199_254_740_991;

impl Exporter<'_> {
    /// A rule that is `true` exactly when the node is true.
    fn when_true(&self, node: &Node) -> Result<J> {
        self.truth(node, true)
    }

    /// A rule that is `true` exactly when the node is false.
    fn when_false(&self, node: &Node) -> Result<J> {
        self.truth(node, false)
    }

    /// `when_true` (`want`) or `when_false`.
    fn truth(&self, node: &Node, want: bool) -> Result<J> {
        if let Some(r) = self.distribute(node, want) {
            return r;
        }
        let r = match &node.kind {
            NodeKind::Const(Value::Bool(b)) => Ok(J::Bool(*b == want)),
            NodeKind::Const(Value::Null) => Ok(J::Bool(false)),
            NodeKind::Field(_) => {
                let v = self.value(node)?;
                Ok(json!({ "===": [v.json, want] }))
            }
            NodeKind::Not(x) => self.truth(x, !want),
            NodeKind::And(xs) | NodeKind::Or(xs) => {
                let parts = xs
                    .iter()
                    .map(|x| self.truth(x, want))
                    .collect::<Result<Vec<_>>>()?;
                // true of `and` is every part true; false of `and` is some part false.
                let conj = matches!(node.kind, NodeKind::And(_)) == want;
                Ok(if conj { j_and(parts) } else { j_or(parts) })
            }
            NodeKind::Cmp(op, a, b) => self.cmp(*op, a, b, want),
            NodeKind::In { negated, lhs, list } => self.member(list, lhs, want != *negated),
            NodeKind::Contains(a, b) => self.member(a, b, want),
            NodeKind::ContainsAny(a, b) => self.contains_some(a, b, true, want),
            NodeKind::ContainsAll(a, b) => self.contains_some(a, b, false, want),
            NodeKind::StartsWith(a, b) | NodeKind::EndsWith(a, b) => {
                let op = if matches!(node.kind, NodeKind::StartsWith(..)) {
                    "startsWith"
                } else {
                    "endsWith"
                };
                let s = self.value(a)?;
                let NodeKind::Const(Value::Str(p)) = &b.kind else {
                    return Err(no(
                        b,
                        format!(
                            "`{}`",
                            if op == "startsWith" {
                                "starts with"
                            } else {
                                "ends with"
                            }
                        ),
                        "only a literal prefix or suffix is exported",
                    ));
                };
                if !matches!(s.kind, VKind::Text | VKind::Any) {
                    return Err(no(a, "`starts with`", "only text is exported"));
                }
                let t = json!({ op: [s.json, p] });
                if want {
                    Ok(t)
                } else {
                    self.guarded(&[&s], j_not(t), node)
                }
            }
            NodeKind::Matches(..) => Err(no(
                node,
                "`matches`",
                "JsonLogic has no regular expressions",
            )),
            NodeKind::Test(t, x) => self.test(*t, x, want),
            NodeKind::Coalesce(xs) => self.coalesce_truth(xs, want),
            NodeKind::Offset(..) | NodeKind::Call(..) => Err(self.refuse_value(node)),
            NodeKind::FieldPred(..) => Err(no(
                node,
                "an optimized predicate",
                "export the checked condition, not the optimized one",
            )),
            NodeKind::Const(_) => Err(no(node, "a value", "this value is not a condition")),
        };
        r.map_err(|e| e.at(node.span))
    }

    /// A test on `a ?? b ?? ...` (a value, not a condition) is the test on the first operand that
    /// is not null: `T(f(a ?? b)) = (a != null and T(f(a))) or (a == null and T(f(b)))`. Written
    /// this way, the rule only has boolean sub-rules, which import reads back.
    fn distribute(&self, node: &Node, want: bool) -> Option<Result<J>> {
        let is_coalesce = |n: &Node| matches!(n.kind, NodeKind::Coalesce(_)) && n.ty != Ty::Bool;
        let slots: Vec<&Node> = match &node.kind {
            NodeKind::Cmp(_, a, b)
            | NodeKind::Contains(a, b)
            | NodeKind::ContainsAny(a, b)
            | NodeKind::ContainsAll(a, b)
            | NodeKind::StartsWith(a, b)
            | NodeKind::EndsWith(a, b) => vec![a, b],
            NodeKind::In { lhs, list, .. } => vec![lhs, list],
            NodeKind::Test(_, x) => vec![x],
            _ => return None,
        };
        let which = slots.iter().position(|n| is_coalesce(n))?;
        let NodeKind::Coalesce(items) = &slots.get(which)?.kind else {
            return None;
        };
        // The node with the coalesce replaced by `item`.
        let with = |item: &Node| -> Node {
            let mut n = node.clone();
            let b = |x: &Node| Box::new(x.clone());
            n.kind = match (&node.kind, which) {
                (NodeKind::Cmp(op, _, r), 0) => NodeKind::Cmp(*op, b(item), r.clone()),
                (NodeKind::Cmp(op, l, _), _) => NodeKind::Cmp(*op, l.clone(), b(item)),
                (NodeKind::Contains(_, r), 0) => NodeKind::Contains(b(item), r.clone()),
                (NodeKind::Contains(l, _), _) => NodeKind::Contains(l.clone(), b(item)),
                (NodeKind::ContainsAny(_, r), 0) => NodeKind::ContainsAny(b(item), r.clone()),
                (NodeKind::ContainsAny(l, _), _) => NodeKind::ContainsAny(l.clone(), b(item)),
                (NodeKind::ContainsAll(_, r), 0) => NodeKind::ContainsAll(b(item), r.clone()),
                (NodeKind::ContainsAll(l, _), _) => NodeKind::ContainsAll(l.clone(), b(item)),
                (NodeKind::StartsWith(_, r), 0) => NodeKind::StartsWith(b(item), r.clone()),
                (NodeKind::StartsWith(l, _), _) => NodeKind::StartsWith(l.clone(), b(item)),
                (NodeKind::EndsWith(_, r), 0) => NodeKind::EndsWith(b(item), r.clone()),
                (NodeKind::EndsWith(l, _), _) => NodeKind::EndsWith(l.clone(), b(item)),
                (NodeKind::In { negated, list, .. }, 0) => NodeKind::In {
                    negated: *negated,
                    lhs: b(item),
                    list: list.clone(),
                },
                (NodeKind::In { negated, lhs, .. }, _) => NodeKind::In {
                    negated: *negated,
                    lhs: lhs.clone(),
                    list: b(item),
                },
                (NodeKind::Test(t, _), _) => NodeKind::Test(*t, b(item)),
                (other, _) => other.clone(),
            };
            n
        };
        let mut alternatives = Vec::new();
        let mut earlier_null: Vec<J> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let last = i + 1 == items.len();
            let v = match self.value(item) {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            let t = match self.truth(&with(item), want) {
                Ok(t) => t,
                Err(e) => return Some(Err(e)),
            };
            let here = if last || !v.nullable {
                J::Bool(true)
            } else {
                nonnull(&v)
            };
            alternatives.push(j_and(
                earlier_null.iter().cloned().chain([here, t]).collect(),
            ));
            if !v.nullable {
                break;
            }
            if last {
                break;
            }
            earlier_null.push(json!({ "==": [v.json, null] }));
        }
        Some(Ok(j_or(alternatives)))
    }

    fn refuse_value(&self, node: &Node) -> Refusal {
        match &node.kind {
            NodeKind::Call(Func::Today | Func::Now, _) | NodeKind::Offset(..) => no(
                node,
                "dates and durations",
                "JsonLogic has no clock and no date arithmetic (`today()`, `now()`, `+ 30d`)",
            ),
            NodeKind::Call(f, _) => no(
                node,
                format!("`{}(...)`", f.name()),
                format!("JsonLogic has no standard `{}`", f.name()),
            ),
            _ => no(node, "a value", "this value has no JsonLogic translation"),
        }
    }

    /// `rule` for records where every nullable operand has a value; false otherwise.
    fn guarded(&self, operands: &[&JVal], rule: J, node: &Node) -> Result<J> {
        let mut parts = Vec::new();
        for v in operands {
            if v.nullable {
                if v.kind == VKind::Any {
                    return Err(no(
                        node,
                        "a negation without a schema",
                        "without a schema, Herald's false excludes values of another type, which JsonLogic cannot test for",
                    )
                    .with_help("export with --rules (a schema), so that each field's type is known"));
                }
                parts.push(nonnull(v));
            }
        }
        parts.push(rule);
        Ok(j_and(parts))
    }

    /// A value: a field, a literal or `??` of values.
    fn value(&self, node: &Node) -> Result<JVal> {
        match &node.kind {
            NodeKind::Field(id) => {
                let info = self
                    .fields
                    .get(*id)
                    .ok_or_else(|| no(node, "a field", "unknown field"))?;
                let dynamic = info.kind == FieldKind::Dynamic;
                for (i, seg) in info.path.iter().enumerate() {
                    let bad = seg.is_empty()
                        || seg.contains('.')
                        || OBJECT_MEMBERS.contains(&&**seg)
                        || (dynamic
                            && i > 0
                            && (seg.chars().all(|c| c.is_ascii_digit())
                                || STRING_ARRAY_MEMBERS.contains(&&**seg)));
                    if bad {
                        return Err(no(
                            node,
                            format!("`{}`", info.display()),
                            format!(
                                "the field name `{seg}` cannot be written as a JsonLogic `var` path with the same meaning"
                            ),
                        ));
                    }
                }
                let kind = match info.kind {
                    FieldKind::Dynamic => VKind::Any,
                    FieldKind::Text => VKind::Text,
                    FieldKind::Integer | FieldKind::Decimal => VKind::Num,
                    FieldKind::Boolean => VKind::Bool,
                    FieldKind::Date => VKind::Date,
                    FieldKind::Multiselect => VKind::List,
                    // Only tested for null (see `cmp` and `member`).
                    FieldKind::DateTime | FieldKind::Object => VKind::Opaque,
                };
                Ok(JVal {
                    json: json!({ "var": info.path.join(".") }),
                    kind,
                    nullable: true,
                })
            }
            NodeKind::Const(v) => self.literal(v, node),
            NodeKind::Coalesce(_) => Err(no(
                node,
                "`??`",
                "`??` is only exported inside a comparison or a test",
            )),
            _ if node.ty == Ty::Bool => Err(no(
                node,
                "a condition used as a value",
                "conditions compared with other conditions are not exported",
            )),
            _ => Err(self.refuse_value(node)),
        }
    }

    fn literal(&self, v: &Value, node: &Node) -> Result<JVal> {
        let (json, kind) = match v {
            Value::Null => (J::Null, VKind::Null),
            Value::Bool(b) => (J::Bool(*b), VKind::Bool),
            Value::Int(i) => {
                if i.unsigned_abs() > JS_SAFE as u64 {
                    return Err(no(
                        node,
                        "a large integer",
                        format!(
                            "{i} is beyond the integers a JavaScript number holds exactly (2^53)"
                        ),
                    ));
                }
                (json!(i), VKind::Num)
            }
            Value::Dec(f) => (
                serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
                VKind::Num,
            ),
            Value::Str(s) => (J::String(s.to_string()), VKind::Text),
            Value::Date(d) => {
                use chrono::Datelike;
                if !(0..=9999).contains(&d.year()) {
                    return Err(no(
                        node,
                        "a date",
                        "only dates of the years 0000 to 9999 compare as `YYYY-MM-DD` text",
                    ));
                }
                (J::String(d.format("%Y-%m-%d").to_string()), VKind::Date)
            }
            Value::DateTime(_) => {
                return Err(no(
                    node,
                    "a date-time",
                    "date-times compare as instants in Herald and as text in JsonLogic",
                ));
            }
            Value::List(_) | Value::Object => {
                return Err(no(
                    node,
                    "a list",
                    "a list is only exported as the right side of `in` or `contains`",
                ));
            }
        };
        Ok(JVal {
            json,
            kind,
            nullable: v.is_null(),
        })
    }

    fn cmp(&self, op: CmpOp, a: &Node, b: &Node, want: bool) -> Result<J> {
        let (va, vb) = (self.value(a)?, self.value(b)?);
        if va.kind == VKind::Null || vb.kind == VKind::Null {
            return Ok(J::Bool(false));
        }
        let node = a;
        let any = va.kind == VKind::Any || vb.kind == VKind::Any;
        if any {
            // Without a schema, only `==` against a literal: `===` is then exact.
            let lit_other = (va.kind == VKind::Any
                && !vb.nullable
                && matches!(vb.kind, VKind::Text | VKind::Num | VKind::Bool))
                || (vb.kind == VKind::Any
                    && !va.nullable
                    && matches!(va.kind, VKind::Text | VKind::Num | VKind::Bool));
            return match (op, want, lit_other) {
                (CmpOp::Eq, true, true) => Ok(json!({ "===": [va.json, vb.json] })),
                _ => Err(no(
                    node,
                    format!("`{}` without a schema", op.as_str()),
                    "without a schema, the field may hold any JSON value, and JsonLogic's comparisons convert between types",
                )
                .with_help("export with --rules (a schema), so that each field's type is known")),
            };
        }
        if va.kind == VKind::Opaque || vb.kind == VKind::Opaque {
            return Err(no(
                node,
                format!("`{}` on date-times", op.as_str()),
                "date-times compare as instants in Herald and as text in JsonLogic (the same instant has many spellings)",
            ));
        }
        if va.kind != vb.kind {
            return Err(no(
                node,
                format!("`{}`", op.as_str()),
                "these values compare differently in JavaScript",
            ));
        }
        let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
        if ordering && va.kind == VKind::Text {
            // UTF-16 order equals code point order unless a character above U+D7FF decides.
            let safe = |v: &JVal| {
                !v.nullable
                    && v.json
                        .as_str()
                        .is_some_and(|s| s.chars().all(|c| c <= '\u{D7FF}'))
            };
            if !(safe(&va) || safe(&vb)) {
                return Err(no(
                    node,
                    format!("`{}` on text", op.as_str()),
                    "JavaScript orders text by UTF-16 code units and Herald by code points; they differ for characters above U+D7FF",
                ));
            }
        }
        if ordering && !matches!(va.kind, VKind::Text | VKind::Num | VKind::Date) {
            return Err(no(
                node,
                format!("`{}`", op.as_str()),
                "this ordering has no JsonLogic translation",
            ));
        }
        // The operator whose truth is the wanted one.
        let op = if want {
            op
        } else {
            match op {
                CmpOp::Eq => CmpOp::Ne,
                CmpOp::Ne => CmpOp::Eq,
                CmpOp::Lt => CmpOp::Ge,
                CmpOp::Le => CmpOp::Gt,
                CmpOp::Gt => CmpOp::Le,
                CmpOp::Ge => CmpOp::Lt,
            }
        };
        let rule = json!({ op.as_str(): [va.json, vb.json] });
        // `null == x` is false unless x is null: no guard needed when one side is a literal.
        if op == CmpOp::Eq && (!va.nullable || !vb.nullable) {
            return Ok(rule);
        }
        self.guarded(&[&va, &vb], rule, node)
    }

    /// `hay contains needle` (and `needle in hay`).
    fn member(&self, hay: &Node, needle: &Node, want: bool) -> Result<J> {
        let x = self.value(needle)?;
        if x.kind == VKind::Null {
            return Ok(J::Bool(false));
        }
        match &hay.kind {
            NodeKind::Const(Value::List(items)) => {
                let list = items
                    .iter()
                    .map(|i| self.literal(i, hay).map(|v| v.json))
                    .collect::<Result<Vec<_>>>()?;
                if items.is_empty() {
                    return if want {
                        Ok(J::Bool(false))
                    } else {
                        self.guarded(&[&x], J::Bool(true), needle)
                    };
                }
                let t = json!({ "in": [x.json, list] });
                if want {
                    Ok(t)
                } else {
                    self.guarded(&[&x], j_not(t), needle)
                }
            }
            _ => {
                let h = self.value(hay)?;
                match (h.kind, x.kind) {
                    (VKind::List, VKind::Text) => {
                        let t = json!({ "in": [x.json, h.json] });
                        if want {
                            Ok(t)
                        } else {
                            self.guarded(&[&h, &x], j_not(t), needle)
                        }
                    }
                    (VKind::Text | VKind::Any, VKind::Text) if !x.nullable => {
                        let s = x.json.as_str().unwrap_or("");
                        if s.is_empty() {
                            // "" is in every text; JsonLogic's `in` says no for the empty text.
                            if h.kind == VKind::Any {
                                return Err(no(
                                    hay,
                                    "`contains \"\"` without a schema",
                                    "the empty text is in every text but `in` treats the empty text as false",
                                ));
                            }
                            return if want {
                                Ok(nonnull(&h))
                            } else {
                                Ok(J::Bool(false))
                            };
                        }
                        let t = json!({ "in": [x.json, h.json] });
                        if want {
                            Ok(t)
                        } else {
                            self.guarded(&[&h], j_not(t), hay)
                        }
                    }
                    _ => Err(no(
                        hay,
                        "`contains`",
                        "only text in a text or a multi-select, or a value in a literal list, is exported",
                    )),
                }
            }
        }
    }

    fn contains_some(&self, a: &Node, b: &Node, any: bool, want: bool) -> Result<J> {
        let op = if any {
            "`contains any`"
        } else {
            "`contains all`"
        };
        let l = self.value(a)?;
        if l.kind != VKind::List {
            return Err(no(
                a,
                op,
                "only a multi-select field against a literal list is exported",
            ));
        }
        let NodeKind::Const(Value::List(items)) = &b.kind else {
            return Err(no(
                b,
                op,
                "only a multi-select field against a literal list is exported",
            ));
        };
        let parts: Vec<J> = items
            .iter()
            .map(|i| {
                self.literal(i, b)
                    .map(|v| json!({ "in": [v.json, l.json] }))
            })
            .collect::<Result<Vec<_>>>()?;
        // true of `any` is some element in; false of `any` is a list with none in.
        let t = match (any, want) {
            (true, true) => j_or(parts),
            (true, false) => {
                self.guarded(&[&l], j_and(parts.into_iter().map(j_not).collect()), a)?
            }
            (false, true) => self.guarded(&[&l], j_and(parts), a)?,
            (false, false) => {
                self.guarded(&[&l], j_or(parts.into_iter().map(j_not).collect()), a)?
            }
        };
        Ok(t)
    }

    fn test(&self, t: TestOp, x: &Node, want: bool) -> Result<J> {
        let positive = matches!(t, TestOp::IsNull | TestOp::IsEmpty) == want;
        let empty_test = matches!(t, TestOp::IsEmpty | TestOp::IsNotEmpty);
        // A condition: null means unknown.
        let is_value =
            matches!(x.kind, NodeKind::Field(_) | NodeKind::Const(_)) || x.ty != Ty::Bool;
        if !is_value {
            let (tr, fa) = (self.when_true(x)?, self.when_false(x)?);
            let unknown = j_and(vec![j_not(tr.clone()), j_not(fa.clone())]);
            return Ok(if positive {
                unknown
            } else {
                j_or(vec![tr, fa])
            });
        }
        let v = self.value(x)?;
        let null = json!({ "==": [v.json, null] });
        let not_null = json!({ "!=": [v.json, null] });
        if !empty_test {
            return Ok(if positive { null } else { not_null });
        }
        Ok(match v.kind {
            VKind::Text | VKind::List => {
                if positive {
                    json!({ "!": v.json })
                } else {
                    json!({ "!!": v.json })
                }
            }
            // Null, "" and [] are empty; `!` also takes false and 0.
            VKind::Any => {
                if positive {
                    j_and(vec![
                        json!({ "!": v.json }),
                        json!({ "!==": [v.json, false] }),
                        json!({ "!==": [v.json, 0] }),
                    ])
                } else {
                    j_or(vec![
                        json!({ "!!": v.json }),
                        json!({ "===": [v.json, false] }),
                        json!({ "===": [v.json, 0] }),
                    ])
                }
            }
            _ => {
                if positive {
                    null
                } else {
                    not_null
                }
            }
        })
    }

    /// `a ?? b ?? ...` of conditions: the first that is not unknown.
    fn coalesce_truth(&self, xs: &[Node], want: bool) -> Result<J> {
        let Some((first, rest)) = xs.split_first() else {
            return Ok(J::Bool(false));
        };
        if rest.is_empty() {
            return self.truth(first, want);
        }
        let (t, f) = (self.when_true(first)?, self.when_false(first)?);
        // A boolean field of a schema is unknown exactly when it is null.
        let typed_field = match &first.kind {
            NodeKind::Field(_) => self.value(first).ok().filter(|v| v.kind == VKind::Bool),
            _ => None,
        };
        let unknown = match typed_field {
            Some(v) => json!({ "==": [v.json, null] }),
            None => j_and(vec![j_not(t.clone()), j_not(f.clone())]),
        };
        let rest_rule = self.coalesce_truth(rest, want)?;
        let here = if want { t } else { f };
        Ok(j_or(vec![here, j_and(vec![unknown, rest_rule])]))
    }
}

#[cfg(test)]
mod tests {
    use super::js::*;

    #[test]
    fn javascript_numbers() {
        for (f, s) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (2.75, "2.75"),
        ] {
            assert_eq!(number_to_string(f), s, "{f}");
        }
        for (s, n) in [
            ("", 0.0),
            ("  12  ", 12.0),
            ("0x1F", 31.0),
            ("1e3", 1000.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("+1", 1.0),
            ("-Infinity", f64::NEG_INFINITY),
        ] {
            assert_eq!(string_to_number(s), n, "{s:?}");
        }
        for s in [
            "abc", "1_000", "0x", "--1", "1e", "inf", "NaN", "-0x1", "1 2",
        ] {
            assert!(string_to_number(s).is_nan(), "{s:?}");
        }
        assert!(loose_eq(&Js::Num(1.0), &Js::Str("1".into())));
        assert!(loose_eq(&Js::Str("".into()), &Js::Arr(vec![])));
        assert!(!loose_eq(&Js::Null, &Js::Num(0.0)));
        assert!(compare("<", &Js::Null, &Js::Num(5.0)));
        assert!(!compare("<", &Js::Null, &Js::Str("abc".into())));
        assert!(compare(
            ">",
            &Js::Str("\u{E000}".into()),
            &Js::Str("😀".into())
        ));
    }
}
