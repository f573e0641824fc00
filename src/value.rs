//! Runtime values, three-valued truth, and reading typed values out of JSON records.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use std::cmp::Ordering;
use std::fmt;

/// The result of a condition: SQL's three-valued logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Truth {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Data was missing, null or of an unexpected type.
    Unknown,
}

impl Truth {
    /// `true`, `false` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Truth::True => "true",
            Truth::False => "false",
            Truth::Unknown => "unknown",
        }
    }

    /// From a boolean.
    pub fn from_bool(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }

    /// Kleene negation (also available as the `!` operator).
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }

    /// Kleene conjunction.
    pub fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (Truth::True, Truth::True) => Truth::True,
            _ => Truth::Unknown,
        }
    }

    /// Kleene disjunction.
    pub fn or(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::True, _) | (_, Truth::True) => Truth::True,
            (Truth::False, Truth::False) => Truth::False,
            _ => Truth::Unknown,
        }
    }
}

impl std::ops::Not for Truth {
    type Output = Truth;
    fn not(self) -> Truth {
        Truth::not(self)
    }
}

impl fmt::Display for Truth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A runtime value. Unknown booleans are [`Value::Null`], as in SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Missing, null, or unknown.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Dec(f64),
    /// A string.
    Str(crate::record::CompactStr),
    /// A calendar date.
    Date(NaiveDate),
    /// An instant with the offset it was written with.
    DateTime(DateTime<FixedOffset>),
    /// A list.
    List(Vec<Value>),
    /// A JSON object: present (not null) but comparable with nothing.
    Object,
}

impl Value {
    /// The truth of a value in a boolean position.
    pub fn truth(&self) -> Truth {
        match self {
            Value::Bool(b) => Truth::from_bool(*b),
            _ => Truth::Unknown,
        }
    }

    /// A value from a truth: unknown becomes null.
    pub fn from_truth(t: Truth) -> Value {
        match t {
            Truth::True => Value::Bool(true),
            Truth::False => Value::Bool(false),
            Truth::Unknown => Value::Null,
        }
    }

    /// The type name used in messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Dec(_) => "decimal",
            Value::Str(_) => "string",
            Value::Date(_) => "date",
            Value::DateTime(_) => "date-time",
            Value::List(_) => "list",
            Value::Object => "object",
        }
    }

    /// True for null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Null, `""` and `[]` are empty.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Str(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            _ => false,
        }
    }

    /// Converts a JSON value without a declared type.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => number(n),
            serde_json::Value::String(s) => Value::Str(s.as_str().into()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(_) => Value::Object,
        }
    }

    /// The value as JSON (dates as ISO-8601 strings).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Object => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Dec(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Date(d) => serde_json::Value::String(d.format("%Y-%m-%d").to_string()),
            Value::DateTime(d) => serde_json::Value::String(d.to_rfc3339()),
            Value::List(l) => serde_json::Value::Array(l.iter().map(Value::to_json).collect()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Dec(x) => {
                let s = format!("{x}");
                if s.contains('.') {
                    f.write_str(&s)
                } else {
                    write!(f, "{s}.0")
                }
            }
            Value::Str(s) => write!(f, "{}", serde_json::Value::String(s.to_string())),
            Value::Date(d) => write!(f, "@{}", d.format("%Y-%m-%d")),
            Value::DateTime(d) => write!(f, "@{}", d.to_rfc3339()),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Object => f.write_str("{...}"),
        }
    }
}

/// A JSON number as an integer when it fits in i64, else as a decimal.
pub fn number(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else {
        n.as_f64().map_or(Value::Null, Value::Dec)
    }
}

/// True when `s` has the shape `YYYY-MM-DD` (four, two and two ASCII digits), valid or not.
pub fn has_date_shape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// Parses `YYYY-MM-DD`: exactly that shape (no sign, no five-digit year, no single-digit month)
/// and a day that exists.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    if !has_date_shape(s) {
        return None;
    }
    // The shape is checked: read the digits directly (chrono's `parse_from_str` would parse the
    // format string on every call), and let chrono check that the day exists.
    let num = |r: std::ops::Range<usize>| {
        s.as_bytes()
            .get(r)?
            .iter()
            .try_fold(0u32, |n, c| Some(n * 10 + u32::from(c.checked_sub(b'0')?)))
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)
}

/// Parses an RFC 3339 date-time (offset required).
pub fn parse_datetime(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// A date as the instant at 00:00 UTC.
pub fn date_start(d: NaiveDate) -> DateTime<FixedOffset> {
    let naive = d.and_time(NaiveTime::MIN);
    Utc.from_utc_datetime(&naive).fixed_offset()
}

/// Exact comparison of an integer with a float.
pub fn cmp_int_dec(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // i64 -> f64 can round; compare in f64 first and break ties exactly.
    let fi = i as f64;
    match fi.partial_cmp(&f)? {
        Ordering::Equal => {
            // f is integral and within [-2^63, 2^63]; compare exactly in i128.
            if f >= 9_223_372_036_854_775_808.0 {
                return Some(Ordering::Less);
            }
            if f < -9_223_372_036_854_775_808.0 {
                return Some(Ordering::Greater);
            }
            Some((i as i128).cmp(&(f as i128)))
        }
        o => Some(o),
    }
}

/// Compares two non-null values of comparable types. `None` when the types do not compare
/// (a type mismatch, which evaluates to unknown). Strings compare with dates by parsing.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    use Value as V;
    match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
        (V::Dec(x), V::Dec(y)) => x.partial_cmp(y),
        (V::Int(x), V::Dec(y)) => cmp_int_dec(*x, *y),
        (V::Dec(x), V::Int(y)) => cmp_int_dec(*y, *x).map(Ordering::reverse),
        (V::Str(x), V::Str(y)) => Some(x.as_str().cmp(y.as_str())),
        (V::Date(x), V::Date(y)) => Some(x.cmp(y)),
        (V::DateTime(x), V::DateTime(y)) => Some(x.cmp(y)),
        (V::Date(x), V::DateTime(y)) => Some(date_start(*x).cmp(y)),
        (V::DateTime(x), V::Date(y)) => Some(x.cmp(&date_start(*y))),
        (V::Str(s), V::Date(_) | V::DateTime(_)) => compare(&coerce_temporal(s)?, b),
        (V::Date(_) | V::DateTime(_), V::Str(s)) => compare(a, &coerce_temporal(s)?),
        _ => None,
    }
}

/// Equality of two non-null values: `None` on a type mismatch. Lists, booleans and everything
/// else follow [`compare`]; booleans compare only with booleans.
pub fn equals(a: &Value, b: &Value) -> Option<bool> {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => Some(x == y),
        (Value::List(_), _) | (_, Value::List(_)) | (Value::Object, _) | (_, Value::Object) => None,
        _ => compare(a, b).map(|o| o == Ordering::Equal),
    }
}

/// A string read as a date (`YYYY-MM-DD`) or an RFC 3339 date-time.
pub fn coerce_temporal(s: &str) -> Option<Value> {
    parse_date(s)
        .map(Value::Date)
        .or_else(|| parse_datetime(s).map(Value::DateTime))
}

/// The evaluation clock behind `today()` and `now()`; hosts inject it and tests pin it.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock pinned to one instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}
