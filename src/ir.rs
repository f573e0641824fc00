//! The typed, resolved IR that the checker produces and every later stage consumes: field paths
//! are resolved to [`FieldId`]s, literals are values, regexes are compiled.

use crate::ast::TestOp;
use crate::span::Span;
use crate::value::{self, Value};

/// A resolved field: an index into the rule set's [`FieldTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub u32);

/// How a field's JSON value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// No schema: JSON values as they are.
    Dynamic,
    /// A string (text, email, phone, picklist).
    Text,
    /// An integer.
    Integer,
    /// A decimal (integers are accepted too).
    Decimal,
    /// A boolean.
    Boolean,
    /// A `YYYY-MM-DD` string.
    Date,
    /// An RFC 3339 string.
    DateTime,
    /// An array of strings.
    Multiselect,
    /// A nested object.
    Object,
}

impl FieldKind {
    /// The expected JSON shape, for messages.
    pub fn expected(self) -> &'static str {
        match self {
            FieldKind::Dynamic => "any value",
            FieldKind::Text => "a string",
            FieldKind::Integer => "an integer",
            FieldKind::Decimal => "a number",
            FieldKind::Boolean => "a boolean",
            FieldKind::Date => "a date string `YYYY-MM-DD`",
            FieldKind::DateTime => "an RFC 3339 date-time string",
            FieldKind::Multiselect => "an array of strings",
            FieldKind::Object => "an object",
        }
    }
}

/// What the rule set knows about one field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInfo {
    /// The path, outermost segment first (shared with the compiled program's field metadata).
    pub path: FieldPath,
    /// How its value is read.
    pub kind: FieldKind,
    /// The schema it belongs to, if any.
    pub schema: Option<usize>,
}

/// A field path, outermost segment first. Shared: the compiled program's field metadata and the
/// rule set's tables hold the same allocation.
pub type FieldPath = std::sync::Arc<[Box<str>]>;

impl FieldInfo {
    /// The path joined with dots.
    pub fn display(&self) -> String {
        self.path.join(".")
    }
}

/// Every field a rule set reads, interned by (schema, path).
#[derive(Debug, Clone, Default)]
pub struct FieldTable {
    fields: Vec<FieldInfo>,
    /// Fields by the Fx hash of (schema, path): the first field with each hash.
    index: rustc_hash::FxHashMap<u64, FieldId>,
    /// Fields whose hash an earlier, different field already had (searched one by one).
    spill: Vec<FieldId>,
}

/// Below this many fields, [`FieldTable`] finds fields by a scan and keeps no index.
const INDEXED_FROM: usize = 16;

/// The hash [`FieldTable`] indexes a (schema, path) by.
fn field_key<'s>(schema: Option<usize>, path: impl ExactSizeIterator<Item = &'s str>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    schema.hash(&mut h);
    path.len().hash(&mut h);
    for seg in path {
        seg.hash(&mut h);
    }
    h.finish()
}

impl FieldTable {
    /// The id of a field, adding it when new.
    pub fn intern(&mut self, schema: Option<usize>, path: Vec<String>, kind: FieldKind) -> FieldId {
        let segs = path.iter().map(String::as_str);
        let (id, new) = self.find_or_reserve(schema, segs);
        if new {
            let path = path.into_iter().map(String::into_boxed_str).collect();
            self.fields.push(FieldInfo { path, kind, schema });
        }
        id
    }

    /// [`FieldTable::intern`] of a path given as segments: the path is only copied when the
    /// field is new.
    pub fn intern_path<'s, I>(&mut self, schema: Option<usize>, path: I, kind: FieldKind) -> FieldId
    where
        I: ExactSizeIterator<Item = &'s str> + Clone,
    {
        let (id, new) = self.find_or_reserve(schema, path.clone());
        if new {
            let path = path.map(Box::from).collect();
            self.fields.push(FieldInfo { path, kind, schema });
        }
        id
    }

    /// The id of a field when known (`false`); else the id the caller must push it at next,
    /// already indexed (`true`).
    fn find_or_reserve<'s, I>(&mut self, schema: Option<usize>, path: I) -> (FieldId, bool)
    where
        I: ExactSizeIterator<Item = &'s str> + Clone,
    {
        let is_path = |f: &FieldInfo| {
            f.schema == schema
                && f.path.len() == path.len()
                && f.path.iter().map(|s| &**s).eq(path.clone())
        };
        if self.fields.len() < INDEXED_FROM {
            // Few fields: a scan, no hashing. The index is built when the table grows past.
            let id = FieldId(u32::try_from(self.fields.len()).unwrap_or(u32::MAX));
            return match self.fields.iter().position(is_path) {
                Some(i) => (FieldId(u32::try_from(i).unwrap_or(u32::MAX)), false),
                None => {
                    if self.fields.len() + 1 == INDEXED_FROM {
                        self.build_index(field_key(schema, path));
                    }
                    (id, true)
                }
            };
        }
        let key = field_key(schema, path.clone());
        let is = |id: &FieldId| {
            self.get(*id).is_some_and(|f| {
                f.schema == schema
                    && f.path.len() == path.len()
                    && f.path.iter().map(|s| &**s).eq(path.clone())
            })
        };
        let first = self.index.get(&key).copied();
        if let Some(id) = first.filter(is) {
            return (id, false);
        }
        if first.is_some() {
            if let Some(id) = self.spill.iter().copied().find(is) {
                return (id, false);
            }
        }
        let id = FieldId(u32::try_from(self.fields.len()).unwrap_or(u32::MAX));
        if first.is_some() {
            self.spill.push(id);
        } else {
            self.index.insert(key, id);
        }
        (id, true)
    }

    /// Indexes every field, and `next_key`, the key of the field about to be pushed.
    fn build_index(&mut self, next_key: u64) {
        let keys: Vec<u64> = self
            .fields
            .iter()
            .map(|f| field_key(f.schema, f.path.iter().map(|s| &**s)))
            .chain(std::iter::once(next_key))
            .collect();
        for (i, key) in keys.into_iter().enumerate() {
            let id = FieldId(u32::try_from(i).unwrap_or(u32::MAX));
            match self.index.entry(key) {
                std::collections::hash_map::Entry::Occupied(_) => self.spill.push(id),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(id);
                }
            }
        }
    }

    /// The field with this id.
    pub fn get(&self, id: FieldId) -> Option<&FieldInfo> {
        self.fields.get(id.0 as usize)
    }

    /// All fields in id order.
    pub fn iter(&self) -> impl Iterator<Item = (FieldId, &FieldInfo)> {
        self.fields
            .iter()
            .enumerate()
            .map(|(i, f)| (FieldId(i as u32), f))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when no field is read.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Static types of IR nodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ty {
    /// Not known statically (no schema).
    Any,
    /// The `null` literal.
    Null,
    /// Boolean (conditions).
    Bool,
    /// Integer.
    Int,
    /// Decimal.
    Dec,
    /// String.
    Str,
    /// Date.
    Date,
    /// Date-time.
    DateTime,
    /// Duration.
    Duration,
    /// A list of elements of one type.
    List(Box<Ty>),
    /// A nested object.
    Object,
}

impl Ty {
    /// The type name used in messages.
    pub fn name(&self) -> String {
        match self {
            Ty::Any => "any".into(),
            Ty::Null => "null".into(),
            Ty::Bool => "boolean".into(),
            Ty::Int => "integer".into(),
            Ty::Dec => "decimal".into(),
            Ty::Str => "string".into(),
            Ty::Date => "date".into(),
            Ty::DateTime => "date-time".into(),
            Ty::Duration => "duration".into(),
            Ty::List(t) => format!("list of {}", t.name()),
            Ty::Object => "object".into(),
        }
    }

    /// Integer or decimal.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Dec)
    }

    /// Date or date-time.
    pub fn is_temporal(&self) -> bool {
        matches!(self, Ty::Date | Ty::DateTime)
    }
}

/// Comparison operators of the IR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// Built-in functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// `lower(s)`
    Lower,
    /// `upper(s)`
    Upper,
    /// `trim(s)`
    Trim,
    /// `len(s_or_list)`
    Len,
    /// `today()`
    Today,
    /// `now()`
    Now,
}

impl Func {
    /// Every function with its name and arity.
    pub const ALL: [(Func, &'static str, usize); 6] = [
        (Func::Lower, "lower", 1),
        (Func::Upper, "upper", 1),
        (Func::Trim, "trim", 1),
        (Func::Len, "len", 1),
        (Func::Today, "today", 0),
        (Func::Now, "now", 0),
    ];

    /// The function's name.
    pub fn name(self) -> &'static str {
        Func::ALL
            .iter()
            .find(|(f, _, _)| *f == self)
            .map_or("?", |(_, n, _)| n)
    }
}

/// A typed IR node.
#[derive(Debug, Clone)]
pub struct Node {
    /// What it computes.
    pub kind: NodeKind,
    /// Its static type.
    pub ty: Ty,
    /// The source it came from.
    pub span: Span,
}

/// IR node kinds.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// A constant (literals and list literals).
    Const(Value),
    /// A field of the record.
    Field(FieldId),
    /// Kleene `not`.
    Not(Box<Node>),
    /// Kleene `and` (two or more operands).
    And(Vec<Node>),
    /// Kleene `or` (two or more operands).
    Or(Vec<Node>),
    /// `==`, `!=`, `<`, `<=`, `>`, `>=`.
    Cmp(CmpOp, Box<Node>, Box<Node>),
    /// `x in L` / `x not in L`.
    In {
        /// `not in`
        negated: bool,
        /// The value.
        lhs: Box<Node>,
        /// The list.
        list: Box<Node>,
    },
    /// `L contains x` or `S contains s`.
    Contains(Box<Node>, Box<Node>),
    /// `L contains any L2`.
    ContainsAny(Box<Node>, Box<Node>),
    /// `L contains all L2`.
    ContainsAll(Box<Node>, Box<Node>),
    /// `s starts with p`.
    StartsWith(Box<Node>, Box<Node>),
    /// `s ends with p`.
    EndsWith(Box<Node>, Box<Node>),
    /// `s matches "re"`.
    Matches(Box<Node>, regex::Regex),
    /// `is null`, `is empty`, ...
    Test(TestOp, Box<Node>),
    /// `a ?? b ?? c`.
    Coalesce(Vec<Node>),
    /// `date + 30d - 2h`: the signed total in seconds.
    Offset(Box<Node>, i64),
    /// A function call.
    Call(Func, Vec<Node>),
    /// Produced by the optimizer: a merged predicate on one field (see [`crate::opt::pred`]);
    /// unknown when the field is null or not of the predicate's class.
    FieldPred(FieldId, crate::opt::pred::Pred),
}

/// Why a field read produced null.
#[derive(Debug, Clone, PartialEq)]
pub enum Absence {
    /// The key is not in the record.
    Missing,
    /// The value is JSON `null`.
    Null,
    /// The value is not of the field's declared type.
    Mismatch {
        /// What the schema declares.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A date or date-time string that does not parse.
    Unparsable {
        /// What the schema declares.
        expected: &'static str,
        /// The text found.
        raw: String,
    },
}

/// The result of reading one field out of a JSON record.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    /// The value (null when absent).
    pub value: Value,
    /// Why it is null, when it is.
    pub absence: Option<Absence>,
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The JSON value at a path, walking nested objects.
pub fn lookup_json<'a>(
    record: &'a serde_json::Value,
    path: &[impl AsRef<str>],
) -> Option<&'a serde_json::Value> {
    let mut cur = record;
    for seg in path {
        cur = cur.as_object()?.get(seg.as_ref())?;
    }
    Some(cur)
}

/// Reads a field out of a JSON record with its declared kind. Values that disagree with the
/// declared kind read as null, and the returned absence says why.
pub fn read_field(record: &serde_json::Value, info: &FieldInfo) -> Read {
    read_json(lookup_json(record, &info.path), info)
}

/// What a field reads as when the JSON at its path is `raw` (`None`: the key is missing).
pub fn read_json(raw: Option<&serde_json::Value>, info: &FieldInfo) -> Read {
    let Some(raw) = raw else {
        return absent(Absence::Missing);
    };
    if raw.is_null() {
        return absent(Absence::Null);
    }
    let mismatch = || {
        absent(Absence::Mismatch {
            expected: info.kind.expected(),
            found: json_type(raw),
        })
    };
    let value = match (info.kind, raw) {
        (FieldKind::Dynamic, v) => Value::from_json(v),
        (FieldKind::Text, serde_json::Value::String(s)) => Value::Str(s.as_str().into()),
        (FieldKind::Integer | FieldKind::Decimal, serde_json::Value::Number(n)) => value::number(n),
        (FieldKind::Boolean, serde_json::Value::Bool(b)) => Value::Bool(*b),
        (FieldKind::Date, serde_json::Value::String(s)) => match value::parse_date(s) {
            Some(d) => Value::Date(d),
            None => {
                return absent(Absence::Unparsable {
                    expected: "a date `YYYY-MM-DD`",
                    raw: s.clone(),
                });
            }
        },
        (FieldKind::DateTime, serde_json::Value::String(s)) => match value::parse_datetime(s) {
            Some(d) => Value::DateTime(d),
            None => {
                return absent(Absence::Unparsable {
                    expected: "an RFC 3339 date-time",
                    raw: s.clone(),
                });
            }
        },
        (FieldKind::Multiselect, serde_json::Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    serde_json::Value::String(s) => out.push(Value::Str(s.as_str().into())),
                    _ => return mismatch(),
                }
            }
            Value::List(out)
        }
        (FieldKind::Object, serde_json::Value::Object(_)) => Value::Object,
        _ => return mismatch(),
    };
    Read {
        value,
        absence: None,
    }
}

fn absent(a: Absence) -> Read {
    Read {
        value: Value::Null,
        absence: Some(a),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(String::from).collect()
    }

    #[test]
    fn intern_gives_one_id_per_schema_and_path() {
        let mut t = FieldTable::default();
        let mut ids = Vec::new();
        // Many fields, so that the index (not a short list) answers.
        for schema in [None, Some(0), Some(1)] {
            for i in 0..500 {
                let p = path(&format!("f{i}.x"));
                ids.push((schema, p.clone(), t.intern(schema, p, FieldKind::Text)));
            }
        }
        assert_eq!(t.len(), 1500);
        for (schema, p, id) in &ids {
            assert_eq!(t.intern(*schema, p.clone(), FieldKind::Text), *id);
            let info = t.get(*id).unwrap();
            assert_eq!(&info.schema, schema);
            assert!(
                info.path
                    .iter()
                    .map(|s| &**s)
                    .eq(p.iter().map(String::as_str))
            );
        }
        assert_eq!(t.len(), 1500, "interning again added nothing");
        // A path that is a prefix or an extension of another is another field.
        let a = t.intern(None, path("f1"), FieldKind::Text);
        let b = t.intern(None, path("f1.x.y"), FieldKind::Text);
        assert_ne!(a, b);
        assert_eq!(t.len(), 1502);
    }
}
