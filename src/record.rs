//! Record access for the compiled evaluator: a borrowed value view ([`Val`]) and the [`Access`]
//! trait with three implementations — serde_json values ([`JsonRecord`]), Herald's compact
//! records parsed from JSON bytes keeping only the fields a program reads ([`CompactRecord`]),
//! and plain host structs ([`HostRecord`]).

use crate::ir::{FieldKind, FieldTable};
use crate::jsonline::{Bail, Fast};
use crate::value::{self, Value};
use arrayvec::ArrayString;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A borrowed view of a value. Strings borrow from the record whenever they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    /// Missing, null, or unknown.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A decimal.
    Dec(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// A date.
    Date(NaiveDate),
    /// A date-time.
    DateTime(DateTime<FixedOffset>),
    /// A list.
    List(ListView<'a>),
    /// An object (comparable with nothing).
    Object,
}

/// A list inside a record or a constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ListView<'a> {
    /// JSON array elements, read without a declared type.
    Json(&'a [serde_json::Value]),
    /// JSON array elements that are all strings (a multiselect).
    JsonStrings(&'a [serde_json::Value]),
    /// Owned values (constants).
    Values(&'a [Value]),
    /// Compact-record values.
    Compact(&'a [CVal]),
    /// Host strings (a multiselect field of a host struct).
    Strings(&'a [String]),
}

impl<'a> ListView<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            ListView::Json(v) | ListView::JsonStrings(v) => v.len(),
            ListView::Values(v) => v.len(),
            ListView::Compact(v) => v.len(),
            ListView::Strings(v) => v.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element at `i` as a view.
    pub fn get(&self, i: usize) -> Val<'a> {
        match *self {
            ListView::Json(v) | ListView::JsonStrings(v) => {
                v.get(i).map_or(Val::Null, json_dynamic)
            }
            ListView::Values(v) => v.get(i).map_or(Val::Null, Val::from_value),
            ListView::Compact(v) => v.get(i).map_or(Val::Null, CVal::view),
            ListView::Strings(v) => v.get(i).map_or(Val::Null, |s| Val::Str(Cow::Borrowed(s))),
        }
    }

    /// The elements as views.
    pub fn iter(&self) -> impl Iterator<Item = Val<'a>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// The element at `i` when it is a string.
    pub fn str_at(&self, i: usize) -> Option<&'a str> {
        match *self {
            ListView::Json(v) | ListView::JsonStrings(v) => v.get(i).and_then(|x| x.as_str()),
            ListView::Values(v) => match v.get(i) {
                Some(Value::Str(s)) => Some(s.as_str()),
                _ => None,
            },
            ListView::Compact(v) => match v.get(i) {
                Some(CVal::Str(s)) => Some(s.as_str()),
                _ => None,
            },
            ListView::Strings(v) => v.get(i).map(String::as_str),
        }
    }
}

impl<'a> Val<'a> {
    /// A view of an owned value.
    pub fn from_value(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Int(i) => Val::Int(*i),
            Value::Dec(f) => Val::Dec(*f),
            Value::Str(s) => Val::Str(Cow::Borrowed(s)),
            Value::Date(d) => Val::Date(*d),
            Value::DateTime(d) => Val::DateTime(*d),
            Value::List(l) => Val::List(ListView::Values(l)),
            Value::Object => Val::Object,
        }
    }

    /// An owned copy (used by the reference paths and tests).
    pub fn to_value(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::Int(*i),
            Val::Dec(f) => Value::Dec(*f),
            Val::Str(s) => Value::Str(s.as_ref().into()),
            Val::Date(d) => Value::Date(*d),
            Val::DateTime(d) => Value::DateTime(*d),
            Val::List(l) => Value::List(l.iter().map(|v| v.to_value()).collect()),
            Val::Object => Value::Object,
        }
    }

    /// True for null.
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }
}

/// A JSON value read without a declared type.
#[inline]
pub fn json_dynamic(v: &serde_json::Value) -> Val<'_> {
    match v {
        serde_json::Value::Null => Val::Null,
        serde_json::Value::Bool(b) => Val::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Val::Int(i),
            None => n.as_f64().map_or(Val::Null, Val::Dec),
        },
        serde_json::Value::String(s) => Val::Str(Cow::Borrowed(s)),
        serde_json::Value::Array(a) => Val::List(ListView::Json(a)),
        serde_json::Value::Object(_) => Val::Object,
    }
}

/// Applies a field's declared kind to a dynamically read value, exactly as
/// [`crate::ir::read_field`] does: values of the wrong type read as null, date strings are parsed.
#[inline]
pub fn typed(kind: FieldKind, v: Val<'_>) -> Val<'_> {
    match (kind, v) {
        (FieldKind::Dynamic, v) => v,
        (_, Val::Null) => Val::Null,
        (FieldKind::Text, v @ Val::Str(_)) => v,
        (FieldKind::Integer | FieldKind::Decimal, v @ (Val::Int(_) | Val::Dec(_))) => v,
        (FieldKind::Boolean, v @ Val::Bool(_)) => v,
        (FieldKind::Date, Val::Str(s)) => value::parse_date(&s).map_or(Val::Null, Val::Date),
        (FieldKind::Date, v @ Val::Date(_)) => v,
        (FieldKind::DateTime, Val::Str(s)) => {
            value::parse_datetime(&s).map_or(Val::Null, Val::DateTime)
        }
        (FieldKind::DateTime, v @ Val::DateTime(_)) => v,
        (FieldKind::Multiselect, Val::List(l)) => match l {
            ListView::Json(items) => {
                if items.iter().all(serde_json::Value::is_string) {
                    Val::List(ListView::JsonStrings(items))
                } else {
                    Val::Null
                }
            }
            other => {
                if (0..other.len()).all(|i| other.str_at(i).is_some()) {
                    Val::List(other)
                } else {
                    Val::Null
                }
            }
        },
        (FieldKind::Object, Val::Object) => Val::Object,
        _ => Val::Null,
    }
}

/// A string field read without building a [`Val`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrRef<'a> {
    /// The field holds this string (after applying its declared kind).
    Str(&'a str),
    /// The field holds no string (null, missing, or another type).
    Other,
    /// This record cannot tell cheaply: use [`Access::load`].
    Slow,
}

/// How the compiled evaluator reads a record's fields.
pub trait Access {
    /// The value of field `slot` (an index into the program's field table), read with the
    /// field's declared kind.
    fn load(&self, slot: usize, field: &FieldMeta) -> Val<'_>;

    /// The field as a string, when that is cheaper than [`Access::load`]: the fast path of
    /// string comparisons. Must agree with `load`: `Str(s)` exactly when `load` gives
    /// `Val::Str(s)`.
    #[inline]
    fn load_str(&self, _slot: usize, _field: &FieldMeta) -> StrRef<'_> {
        StrRef::Slow
    }

    /// The field read as a record identity: like [`Access::load`], except that an integer under
    /// a `text` field reads as the integer (whose decimal text is the identity) instead of null.
    #[inline]
    fn load_id(&self, slot: usize, field: &FieldMeta) -> Val<'_> {
        self.load(slot, field)
    }

    /// [`Access::load`] of field `slot` of a program's field table (null past its end). Records
    /// that do not need the field's metadata to find it override this to skip the lookup.
    #[inline(always)]
    fn load_at(&self, slot: usize, fields: &[FieldMeta]) -> Val<'_> {
        match fields.get(slot) {
            Some(meta) => self.load(slot, meta),
            None => Val::Null,
        }
    }

    /// [`Access::load_str`] of field `slot` of a program's field table, as [`Access::load_at`].
    #[inline(always)]
    fn str_at(&self, slot: usize, fields: &[FieldMeta]) -> StrRef<'_> {
        match fields.get(slot) {
            Some(meta) => self.load_str(slot, meta),
            None => StrRef::Other,
        }
    }
}

/// What the evaluator knows about a field: its path and declared kind.
#[derive(Clone)]
pub struct FieldMeta {
    /// The path, outermost first.
    pub path: crate::ir::FieldPath,
    /// The declared kind.
    pub kind: FieldKind,
    /// Where each of the path's first segments was last found in a serde_json map
    /// ([`crate::jsonmap`]), shared by every evaluation of the program; deeper segments are
    /// looked up with `Map::get` alone. Inline: no allocation per field.
    hints: [crate::jsonmap::KeyHint; HINTED_SEGMENTS],
}

/// Segments of a field path with a key hint.
const HINTED_SEGMENTS: usize = 4;

impl FieldMeta {
    /// The metadata of a field with this path and declared kind.
    pub fn new(path: crate::ir::FieldPath, kind: FieldKind) -> FieldMeta {
        FieldMeta {
            path,
            kind,
            hints: Default::default(),
        }
    }
}

/// The path and kind: the lookup hints are a cache, which depends on what was evaluated.
impl fmt::Debug for FieldMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldMeta")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Equal when the paths and kinds are: the lookup hints are a cache.
impl PartialEq for FieldMeta {
    fn eq(&self, other: &FieldMeta) -> bool {
        self.path == other.path && self.kind == other.kind
    }
}

/// The field metadata of a field table, indexed by field id.
pub fn field_metas(fields: &FieldTable) -> Vec<FieldMeta> {
    fields
        .iter()
        .map(|(_, f)| FieldMeta::new(f.path.clone(), f.kind))
        .collect()
}

/// A serde_json record, for hosts that already hold one.
#[derive(Debug, Clone, Copy)]
pub struct JsonRecord<'a>(pub &'a serde_json::Value);

impl JsonRecord<'_> {
    /// The field's value. Most fields are top-level: one lookup, inlined into the leaf that
    /// reads it (a call per lookup, with its saved registers, was a tenth of the instructions
    /// per record on C1); nested paths take the loop, out of line. Each key is looked up
    /// where it was found in earlier records first ([`crate::jsonmap`]).
    #[inline(always)]
    fn find(&self, field: &FieldMeta) -> Option<&serde_json::Value> {
        if let ([seg], [hint, ..]) = (&*field.path, &field.hints) {
            return match self.0 {
                serde_json::Value::Object(m) => crate::jsonmap::find(m, seg, hint),
                _ => None,
            };
        }
        self.find_nested(field)
    }

    #[inline(never)]
    fn find_nested(&self, field: &FieldMeta) -> Option<&serde_json::Value> {
        let mut cur = self.0;
        for (i, seg) in field.path.iter().enumerate() {
            match cur {
                serde_json::Value::Object(m) => {
                    cur = match field.hints.get(i) {
                        Some(hint) => crate::jsonmap::find(m, seg, hint)?,
                        None => m.get(&**seg)?,
                    }
                }
                _ => return None,
            }
        }
        Some(cur)
    }
}

impl Access for JsonRecord<'_> {
    #[inline(always)]
    fn load(&self, _slot: usize, field: &FieldMeta) -> Val<'_> {
        match self.find(field) {
            None => Val::Null,
            Some(v) if field.kind == FieldKind::Dynamic => json_dynamic(v),
            Some(v) => typed_inline(field.kind, json_dynamic(v)),
        }
    }

    #[inline]
    fn load_str(&self, _slot: usize, field: &FieldMeta) -> StrRef<'_> {
        match self.find(field) {
            Some(serde_json::Value::String(s))
                if matches!(field.kind, FieldKind::Dynamic | FieldKind::Text) =>
            {
                StrRef::Str(s)
            }
            _ => StrRef::Other,
        }
    }

    #[inline]
    fn load_id(&self, slot: usize, field: &FieldMeta) -> Val<'_> {
        match self.find(field) {
            Some(v @ serde_json::Value::Number(n))
                if field.kind == FieldKind::Text && n.as_i64().is_some() =>
            {
                json_dynamic(v)
            }
            _ => self.load(slot, field),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compact records
// ---------------------------------------------------------------------------------------------

/// An owned value in a compact record, already read with its field's declared kind.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum CVal {
    /// Missing, null or of the wrong type.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A decimal.
    Dec(f64),
    /// A string: inline when short (see [`CompactStr`]).
    Str(CompactStr),
    /// A date.
    Date(NaiveDate),
    /// A date-time.
    DateTime(DateTime<FixedOffset>),
    /// A list.
    List(Box<[CVal]>),
    /// An object.
    Object,
}

/// Longest string (in bytes) a [`CompactStr`] holds inline.
pub const INLINE_STR_BYTES: usize = 16;

/// A string value of a compact record. Strings of up to [`INLINE_STR_BYTES`] bytes (country
/// codes, picklist values, most tags) are stored inside the value itself, so reading one touches
/// no memory beyond the record's slots; longer strings are boxed. Parsing a short string
/// allocates nothing.
#[derive(Clone)]
pub struct CompactStr(StrRepr);

#[derive(Clone)]
enum StrRepr {
    Inline(ArrayString<INLINE_STR_BYTES>),
    Heap(Box<str>),
}

impl CompactStr {
    /// A compact string holding `s`.
    #[inline]
    pub fn new(s: &str) -> CompactStr {
        match ArrayString::from(s) {
            Ok(a) => CompactStr(StrRepr::Inline(a)),
            Err(_) => CompactStr(StrRepr::Heap(s.into())),
        }
    }

    /// The string.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            StrRepr::Inline(a) => a.as_str(),
            StrRepr::Heap(b) => b,
        }
    }

    /// True when the string is stored inline.
    pub fn is_inline(&self) -> bool {
        matches!(self.0, StrRepr::Inline(_))
    }
}

impl std::ops::Deref for CompactStr {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for CompactStr {
    fn eq(&self, other: &CompactStr) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for CompactStr {}

impl PartialEq<str> for CompactStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CompactStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for CompactStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialOrd for CompactStr {
    fn partial_cmp(&self, other: &CompactStr) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

// Ordered as its `str`, like `String`.
impl Ord for CompactStr {
    fn cmp(&self, other: &CompactStr) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl AsRef<str> for CompactStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for CompactStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for CompactStr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl From<CompactStr> for String {
    fn from(s: CompactStr) -> String {
        s.as_str().to_string()
    }
}

impl From<CompactStr> for Box<str> {
    fn from(s: CompactStr) -> Box<str> {
        match s.0 {
            StrRepr::Inline(a) => a.as_str().into(),
            StrRepr::Heap(b) => b,
        }
    }
}

// Hashed as its `str`, so that a set of compact strings is searched by `&str` (`Borrow`).
impl std::hash::Hash for CompactStr {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl std::borrow::Borrow<str> for CompactStr {
    #[inline]
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for CompactStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for CompactStr {
    fn from(s: &str) -> CompactStr {
        CompactStr::new(s)
    }
}

impl From<String> for CompactStr {
    fn from(s: String) -> CompactStr {
        if s.len() <= INLINE_STR_BYTES {
            CompactStr::new(&s)
        } else {
            CompactStr(StrRepr::Heap(s.into_boxed_str()))
        }
    }
}

impl From<Cow<'_, str>> for CompactStr {
    fn from(s: Cow<'_, str>) -> CompactStr {
        match s {
            Cow::Borrowed(b) => CompactStr::new(b),
            Cow::Owned(o) => CompactStr::from(o),
        }
    }
}

impl CVal {
    /// A view.
    pub fn view(&self) -> Val<'_> {
        match self {
            CVal::Null => Val::Null,
            CVal::Bool(b) => Val::Bool(*b),
            CVal::Int(i) => Val::Int(*i),
            CVal::Dec(f) => Val::Dec(*f),
            CVal::Str(s) => Val::Str(Cow::Borrowed(s.as_str())),
            CVal::Date(d) => Val::Date(*d),
            CVal::DateTime(d) => Val::DateTime(*d),
            CVal::List(l) => Val::List(ListView::Compact(l)),
            CVal::Object => Val::Object,
        }
    }

    fn from_view(v: Val<'_>) -> CVal {
        match v {
            Val::Null => CVal::Null,
            Val::Bool(b) => CVal::Bool(b),
            Val::Int(i) => CVal::Int(i),
            Val::Dec(f) => CVal::Dec(f),
            Val::Str(s) => CVal::Str(CompactStr::from(s)),
            Val::Date(d) => CVal::Date(d),
            Val::DateTime(d) => CVal::DateTime(d),
            Val::List(l) => CVal::List(l.iter().map(CVal::from_view).collect()),
            Val::Object => CVal::Object,
        }
    }
}

/// Which fields to keep when parsing JSON bytes, as a tree of keys.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    root: ProjNode,
    n_slots: usize,
}

/// One key of a projection level: the key, the slot and kind when a field ends here, and the
/// keys below it.
type ProjEntry = (Box<str>, Option<(usize, FieldKind)>, ProjNode);

#[derive(Debug, Clone)]
struct ProjNode {
    keys: Vec<ProjEntry>,
    /// For each [`key_hash`] value: 0 when no key has it, `1 + i` when `keys[i]` is the only
    /// key with it, [`MANY`] when several have it (then the keys are searched in order). A
    /// record's key is then found with one table load and one compare, instead of a compare
    /// per projected key (most keys of a record are not projected, and each missed them all).
    table: [u8; KEY_TABLE],
}

/// Size of a projection level's key table (a power of two).
const KEY_TABLE: usize = 64;
/// A key-table entry shared by several keys.
const MANY: u8 = u8::MAX;

/// A cheap hash of an object key for [`ProjNode::table`]: its length, first and last bytes.
#[inline]
fn key_hash(key: &[u8]) -> usize {
    let (first, last) = match (key.first(), key.last()) {
        (Some(&f), Some(&l)) => (usize::from(f), usize::from(l)),
        _ => (0, 0),
    };
    (key.len().wrapping_mul(7) ^ first.wrapping_mul(5) ^ last.wrapping_mul(3)) & (KEY_TABLE - 1)
}

impl Default for ProjNode {
    fn default() -> ProjNode {
        ProjNode {
            keys: Vec::new(),
            table: [0; KEY_TABLE],
        }
    }
}

impl ProjNode {
    #[inline]
    fn find(&self, key: &str) -> Option<&ProjEntry> {
        match self
            .table
            .get(key_hash(key.as_bytes()))
            .copied()
            .unwrap_or(MANY)
        {
            0 => None,
            MANY => self.keys.iter().find(|(k, _, _)| &**k == key),
            i => self
                .keys
                .get(usize::from(i - 1))
                .filter(|(k, _, _)| &**k == key),
        }
    }

    /// Fills the key tables of this level and the levels below, once the keys are final.
    fn index(&mut self) {
        self.table = [0; KEY_TABLE];
        for (i, (k, _, children)) in self.keys.iter_mut().enumerate() {
            children.index();
            if let Some(cell) = self.table.get_mut(key_hash(k.as_bytes())) {
                *cell = match (*cell, u8::try_from(i + 1)) {
                    (0, Ok(n)) if n != MANY => n,
                    _ => MANY,
                };
            }
        }
    }
}

impl Projection {
    /// The projection that keeps exactly the fields of a field table.
    pub fn of(fields: &FieldTable) -> Projection {
        Projection::of_kept(fields, |_| true)
    }

    /// The projection that keeps the fields of a field table for which `keep(slot)` is true,
    /// and every field below a kept one (so that a kept object field is read the same way as
    /// with [`Projection::of`]). The other slots of a parsed record are always null.
    pub fn of_kept(fields: &FieldTable, keep: impl Fn(usize) -> bool) -> Projection {
        let kept: Vec<&[Box<str>]> = fields
            .iter()
            .filter(|(id, _)| keep(id.0 as usize))
            .map(|(_, f)| &*f.path)
            .collect();
        let mut root = ProjNode::default();
        for (id, f) in fields.iter() {
            if !keep(id.0 as usize) && !kept.iter().any(|k| f.path.starts_with(k)) {
                continue;
            }
            let mut node = &mut root;
            let n = f.path.len();
            for (i, seg) in f.path.iter().enumerate() {
                let pos = match node.keys.iter().position(|(k, _, _)| **k == **seg) {
                    Some(p) => p,
                    None => {
                        node.keys.push((seg.clone(), None, ProjNode::default()));
                        node.keys.len() - 1
                    }
                };
                let Some(entry) = node.keys.get_mut(pos) else {
                    break;
                };
                if i + 1 == n {
                    entry.1 = Some((id.0 as usize, f.kind));
                }
                node = &mut entry.2;
            }
        }
        root.index();
        Projection {
            root,
            n_slots: fields.len(),
        }
    }

    /// Number of slots (fields) a compact record built with it has.
    pub fn n_slots(&self) -> usize {
        self.n_slots
    }
}

/// A record that holds only the fields a rule set reads, typed and indexed by slot.
///
/// Up to [`INLINE_VALS`] values are stored in the record itself (128 bytes in all),
/// more on the heap. A condition reads a few fields, so a slice of its records is usually one
/// contiguous array, read front to back: with a heap block per record, scattered wherever the
/// allocator found room, each record cost a cache miss, and that miss was most of the time of
/// an evaluation (docs/performance.md, session 8).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompactRecord {
    vals: smallvec::SmallVec<[CVal; INLINE_VALS]>,
}

/// The number of values a [`CompactRecord`] holds without a heap allocation.
pub const INLINE_VALS: usize = 5;

impl CompactRecord {
    /// Parses a JSON object from bytes, keeping only the projected fields. Fails on invalid
    /// JSON or when the bytes are not an object ("expected a record object").
    pub fn parse(
        bytes: &[u8],
        projection: &Projection,
    ) -> Result<CompactRecord, serde_json::Error> {
        let mut rec = CompactRecord::default();
        rec.parse_into(bytes, projection)?;
        Ok(rec)
    }

    /// Like [`CompactRecord::parse`], reusing this record's storage.
    ///
    /// The bytes are read by the fast path `herald route` uses for event lines
    /// (`src/jsonline.rs`) when they are UTF-8 in the shape it handles; otherwise, or when
    /// it gives up, by serde_json, which then builds the same record or words the error.
    pub fn parse_into(
        &mut self,
        bytes: &[u8],
        projection: &Projection,
    ) -> Result<(), serde_json::Error> {
        if let Ok(text) = std::str::from_utf8(bytes) {
            let mut de = Fast::new(text);
            if self
                .parse_fast(&mut de, projection)
                .and_then(|()| de.end())
                .is_ok()
            {
                return Ok(());
            }
        }
        self.parse_into_reference(bytes, projection)
    }

    /// [`CompactRecord::parse_into`] with serde_json alone: the reference the fast path is
    /// tested against, and the path that words every error.
    #[doc(hidden)]
    pub fn parse_into_reference(
        &mut self,
        bytes: &[u8],
        projection: &Projection,
    ) -> Result<(), serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        self.deserialize_object(&mut de, projection)?;
        de.end()
    }

    /// Parses the record out of a deserializer positioned at a JSON object (used to parse the
    /// `record` of an event line without building the rest). A value that is not an object
    /// reads as a record with no fields; [`CompactRecord::deserialize_object`] refuses it.
    pub fn deserialize_from<'de, D: de::Deserializer<'de>>(
        &mut self,
        deserializer: D,
        projection: &Projection,
    ) -> Result<(), D::Error> {
        self.reset(projection);
        ObjectSeed {
            node: &projection.root,
            vals: &mut self.vals,
        }
        .deserialize(deserializer)
    }

    /// Like [`CompactRecord::deserialize_from`], but the value must be a JSON object (the error
    /// says "expected a record object" otherwise).
    pub fn deserialize_object<'de, D: de::Deserializer<'de>>(
        &mut self,
        deserializer: D,
        projection: &Projection,
    ) -> Result<(), D::Error> {
        self.reset(projection);
        deserializer.deserialize_map(StrictObject(ObjectSeed {
            node: &projection.root,
            vals: &mut self.vals,
        }))
    }

    fn reset(&mut self, projection: &Projection) {
        if self.vals.len() == projection.n_slots {
            // One pass over a reused record (`clear` then `resize` is two).
            self.vals.fill(CVal::Null);
        } else {
            self.vals.clear();
            self.vals.resize(projection.n_slots, CVal::Null);
        }
    }

    /// Builds a compact record from a serde_json value (for tests and hosts mixing both).
    pub fn from_json(value: &serde_json::Value, fields: &FieldTable) -> CompactRecord {
        let metas = field_metas(fields);
        let rec = JsonRecord(value);
        CompactRecord {
            vals: metas
                .iter()
                .enumerate()
                .map(|(i, m)| CVal::from_view(rec.load_id(i, m)))
                .collect(),
        }
    }

    /// The value of a slot, as stored: an integer under a `text` field is kept for
    /// [`Access::load_id`] (and reads as null through [`Access::load`]).
    pub fn get(&self, slot: usize) -> &CVal {
        self.vals.get(slot).unwrap_or(&CVal::Null)
    }
}

impl Access for CompactRecord {
    #[inline(always)]
    fn load(&self, slot: usize, field: &FieldMeta) -> Val<'_> {
        match self.vals.get(slot) {
            // Kept for the identity only (see `retype`): a text field holding an integer is null.
            Some(CVal::Int(_)) if field.kind == FieldKind::Text => Val::Null,
            Some(v) => v.view(),
            None => Val::Null,
        }
    }

    #[inline(always)]
    fn load_id(&self, slot: usize, _field: &FieldMeta) -> Val<'_> {
        match self.vals.get(slot) {
            Some(v) => v.view(),
            None => Val::Null,
        }
    }

    #[inline(always)]
    fn load_str(&self, slot: usize, _field: &FieldMeta) -> StrRef<'_> {
        // Compact values are already typed: a string slot holds a string.
        match self.vals.get(slot) {
            Some(CVal::Str(s)) => StrRef::Str(s.as_str()),
            _ => StrRef::Other,
        }
    }

    #[inline(always)]
    fn load_at(&self, slot: usize, fields: &[FieldMeta]) -> Val<'_> {
        match self.vals.get(slot) {
            // Only this case reads the field's kind (see `load`).
            Some(CVal::Int(_)) => fields.get(slot).map_or(Val::Null, |m| self.load(slot, m)),
            Some(v) => v.view(),
            None => Val::Null,
        }
    }

    #[inline(always)]
    fn str_at(&self, slot: usize, _fields: &[FieldMeta]) -> StrRef<'_> {
        match self.vals.get(slot) {
            Some(CVal::Str(s)) => StrRef::Str(s.as_str()),
            _ => StrRef::Other,
        }
    }
}

/// Deserializes an object, storing projected fields into their slots.
struct ObjectSeed<'p, 'v> {
    node: &'p ProjNode,
    vals: &'v mut [CVal],
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // `KeySeed` borrows the key from the input when it has no escapes (`Cow<str>` itself
        // always copies it).
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match self.node.find(&key) {
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some((_, leaf, children)) => {
                    let slot = leaf.map(|(s, k)| (s, k));
                    map.next_value_seed(ValueSeed {
                        leaf: slot,
                        children,
                        vals: &mut *self.vals,
                    })?;
                }
            }
        }
        Ok(())
    }

    // A record that is not an object holds no field; other JSON types are accepted here and
    // rejected by the caller where an object is required.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s))
    }
}

/// An [`ObjectSeed`] that accepts only objects.
struct StrictObject<'p, 'v>(ObjectSeed<'p, 'v>);

impl<'de> Visitor<'de> for StrictObject<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.0.visit_map(map)
    }
}

/// Deserializes the value of a projected key: stores it when a field ends here, and descends
/// into its children when it is an object.
struct ValueSeed<'p, 'v> {
    leaf: Option<(usize, FieldKind)>,
    children: &'p ProjNode,
    vals: &'v mut [CVal],
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.children.keys.is_empty() {
            // A leaf: read the whole value, typed by the field's kind.
            let v = deserializer.deserialize_any(LeafVisitor)?;
            if let Some((slot, kind)) = self.leaf {
                if let Some(cell) = self.vals.get_mut(slot) {
                    *cell = retype(kind, v);
                }
            }
            return Ok(());
        }
        deserializer.deserialize_any(ObjectSeed {
            node: self.children,
            vals: self.vals,
        })?;
        if let Some((slot, kind)) = self.leaf {
            // A field that is also a prefix of other fields: it is an object (or not).
            if let Some(cell) = self.vals.get_mut(slot) {
                *cell = if kind == FieldKind::Object || kind == FieldKind::Dynamic {
                    CVal::Object
                } else {
                    CVal::Null
                };
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The fast path of event lines (see `jsonline`)
// ---------------------------------------------------------------------------------------------

impl CompactRecord {
    /// Parses the record object at `de`'s position, keeping the projected fields: the record
    /// [`CompactRecord::deserialize_object`] builds from the same input through `de`, or
    /// [`Bail`] (the caller then parses the line again with serde_json). The common shapes
    /// (strings, literals, integers, lists of them, nested objects of projected fields) are
    /// read here without serde's visitor calls; other values go through the same visitors as
    /// `deserialize_object`.
    pub(crate) fn parse_fast(&mut self, de: &mut Fast<'_>, projection: &Projection) -> R<()> {
        self.reset(projection);
        if de.ws() != Some(b'{') {
            return Err(Bail);
        }
        fast_object(&projection.root, &mut self.vals, de)
    }
}

/// The fast path's result type.
type R<T> = Result<T, Bail>;

/// [`ObjectSeed::visit_map`] on the fast path, at the object's `{`.
fn fast_object(node: &ProjNode, vals: &mut [CVal], de: &mut Fast<'_>) -> R<()> {
    de.open()?;
    let mut first = true;
    while de.next_item(b'}', &mut first)? {
        let key = de.string()?;
        de.colon()?;
        let Some((_, leaf, children)) = node.find(key) else {
            de.skip()?;
            continue;
        };
        if !children.keys.is_empty() {
            // A prefix of other fields (see `ValueSeed`).
            if de.ws() != Some(b'{') {
                ValueSeed {
                    leaf: *leaf,
                    children,
                    vals: &mut *vals,
                }
                .deserialize(&mut *de)?;
                continue;
            }
            fast_object(children, vals, de)?;
            if let Some((slot, kind)) = *leaf {
                if let Some(cell) = vals.get_mut(slot) {
                    *cell = if kind == FieldKind::Object || kind == FieldKind::Dynamic {
                        CVal::Object
                    } else {
                        CVal::Null
                    };
                }
            }
            continue;
        }
        let v = fast_leaf(de)?;
        if let Some((slot, kind)) = *leaf {
            if let Some(cell) = vals.get_mut(slot) {
                *cell = retype(kind, v);
            }
        }
    }
    de.close(b'}')
}

/// [`LeafVisitor`] on the fast path: any JSON value as a dynamic compact value.
fn fast_leaf(de: &mut Fast<'_>) -> R<CVal> {
    match de.ws() {
        Some(b'"') => Ok(CVal::Str(CompactStr::new(de.string()?))),
        Some(b'n') => de.literal(b"ull").map(|()| CVal::Null),
        Some(b't') => de.literal(b"rue").map(|()| CVal::Bool(true)),
        Some(b'f') => de.literal(b"alse").map(|()| CVal::Bool(false)),
        Some(b'-' | b'0'..=b'9') => {
            let token = de.number()?;
            if let Some(i) = small_integer(token) {
                return Ok(CVal::Int(i));
            }
            // Anything else is read by serde_json itself, as `Fast` does.
            let mut json = serde_json::Deserializer::from_str(token);
            let v = de::Deserializer::deserialize_any(&mut json, LeafVisitor).map_err(|_| Bail)?;
            json.end().map_err(|_| Bail)?;
            Ok(v)
        }
        Some(b'[') => {
            de.open()?;
            let mut items = Vec::new();
            let mut first = true;
            while de.next_item(b']', &mut first)? {
                items.push(fast_leaf(de)?);
            }
            de.close(b']')?;
            Ok(CVal::List(items.into_boxed_slice()))
        }
        Some(b'{') => de.skip().map(|()| CVal::Object),
        _ => Err(Bail),
    }
}

/// The value of a number token (already checked against JSON's grammar) that is an integer of
/// at most 18 digits, other than `-0`: what serde_json reads it as (`visit_u64` or
/// `visit_i64`, both [`CVal::Int`] here). `None` for any other number (serde_json reads `-0`
/// as a float).
#[inline]
fn small_integer(token: &str) -> Option<i64> {
    let (negative, digits) = match token.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    match (negative, n) {
        (false, n) => Some(n),
        (true, 0) => None,
        (true, n) => Some(-n),
    }
}

/// Applies a field's declared kind to a dynamically parsed compact value (see [`typed`]).
fn retype(kind: FieldKind, v: CVal) -> CVal {
    match (kind, v) {
        (FieldKind::Dynamic, v) => v,
        (_, CVal::Null) => CVal::Null,
        (FieldKind::Text, v @ CVal::Str(_)) => v,
        // Kept for a record identity (`Access::load_id`); `load` reads it as null.
        (FieldKind::Text, v @ CVal::Int(_)) => v,
        (FieldKind::Integer | FieldKind::Decimal, v @ (CVal::Int(_) | CVal::Dec(_))) => v,
        (FieldKind::Boolean, v @ CVal::Bool(_)) => v,
        (FieldKind::Date, CVal::Str(s)) => value::parse_date(&s).map_or(CVal::Null, CVal::Date),
        (FieldKind::DateTime, CVal::Str(s)) => {
            value::parse_datetime(&s).map_or(CVal::Null, CVal::DateTime)
        }
        (FieldKind::Multiselect, CVal::List(items)) => {
            if items.iter().all(|i| matches!(i, CVal::Str(_))) {
                CVal::List(items)
            } else {
                CVal::Null
            }
        }
        (FieldKind::Object, CVal::Object) => CVal::Object,
        _ => CVal::Null,
    }
}

/// Reads any JSON value as a dynamic compact value.
struct LeafVisitor;

impl<'de> Visitor<'de> for LeafVisitor {
    type Value = CVal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<CVal, E> {
        Ok(CVal::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<CVal, E> {
        Ok(CVal::Int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<CVal, E> {
        Ok(i64::try_from(u).map_or(CVal::Dec(u as f64), CVal::Int))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<CVal, E> {
        Ok(CVal::Dec(f))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<CVal, E> {
        Ok(CVal::Str(CompactStr::new(s)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<CVal, E> {
        Ok(CVal::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<CVal, E> {
        Ok(CVal::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CVal, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(LeafSeed)? {
            items.push(v);
        }
        Ok(CVal::List(items.into_boxed_slice()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CVal, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(CVal::Object)
    }
}

struct LeafSeed;

impl<'de> DeserializeSeed<'de> for LeafSeed {
    type Value = CVal;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<CVal, D::Error> {
        deserializer.deserialize_any(LeafVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Host structs
// ---------------------------------------------------------------------------------------------

/// A host struct the evaluator can read without converting it. The quickest way is the
/// [`host_record!`](crate::host_record) macro, which gives each field a typed [`Getter`]:
///
/// ```
/// struct Contact { country: String, city: Option<String>, age: Option<i64>, tags: Vec<String> }
/// herald::host_record!(Contact {
///     "country" => Str(|c| Some(&c.country)),
///     "address.city" => Str(|c| c.city.as_deref()),
///     "age" => Int(|c| c.age),
///     "tags" => Strings(|c| Some(&c.tags)),
/// });
/// ```
///
/// It can also be implemented by hand: list the field paths it exposes and return each as a
/// [`Val`] (see `docs/embedding.md`). Without [`HostRecord::getter`], every read goes through
/// [`HostRecord::get`] and a [`Val`]; with it, a read is one call of a typed function.
///
/// ```
/// use herald::record::{HostRecord, Val};
/// use std::borrow::Cow;
/// struct Contact { country: String, subscription: String, age: Option<i64> }
/// impl HostRecord for Contact {
///     const FIELDS: &'static [&'static str] = &["country", "subscription", "age"];
///     fn get(&self, index: usize) -> Val<'_> {
///         match index {
///             0 => Val::Str(Cow::Borrowed(&self.country)),
///             1 => Val::Str(Cow::Borrowed(&self.subscription)),
///             2 => self.age.map_or(Val::Null, Val::Int),
///             _ => Val::Null,
///         }
///     }
/// }
/// ```
pub trait HostRecord {
    /// The field paths the struct exposes, dot-separated (`"address.city"`).
    const FIELDS: &'static [&'static str];
    /// The value of `FIELDS[index]`.
    fn get(&self, index: usize) -> Val<'_>;
    /// A typed function reading `FIELDS[index]`, when the type has one (the fast path). It
    /// must agree with [`HostRecord::get`], and be a plain read: a batch may call it more
    /// than once per record (it reads the field ahead, then tests it).
    fn getter(_index: usize) -> Option<Getter<Self>> {
        None
    }
    /// Calls `f(r, value)` for each listed record `block[r]`, in order, with the value of
    /// `FIELDS[index]` as its getter reads it (`None`: null, or no getter of the kind `V`).
    ///
    /// This is how a batch reads a field of a block's records ([`crate::eval::batch`]). The
    /// default calls the getter through its function pointer for each record.
    /// [`host_record!`](crate::host_record) gives each type a loop per field instead, with
    /// the getter's own code inlined: the loop is picked once per call, not per record. A
    /// hand-written implementation may do the same. It must read what
    /// [`HostRecord::getter`] reads, and call `f` exactly once for each `r` of `recs` that is
    /// an index in `block`, in the order of `recs`, skipping the others: the batch sorts
    /// records by the calls it receives.
    #[inline(always)]
    fn each<'b, V: GetterRead<'b, Self>>(
        block: &'b [Self],
        recs: &[u32],
        index: usize,
        f: impl FnMut(u32, Option<V>),
    ) where
        Self: Sized,
    {
        each_read(Self::getter(index), block, recs, f);
    }
}

/// The loop of [`HostRecord::each`]: `f(r, value)` for each listed record `block[r]`, in
/// order, with what `g` reads on it (`None` for every record when there is no getter). The
/// default `each` passes the getter it looks up; [`host_record!`](crate::host_record)'s passes
/// each field's getter as a constant, so that inlined, the loop calls the getter's own code.
#[inline(always)]
pub fn each_read<'b, T, V: GetterRead<'b, T>>(
    g: Option<Getter<T>>,
    block: &'b [T],
    recs: &[u32],
    mut f: impl FnMut(u32, Option<V>),
) {
    for &r in recs {
        if let Some(x) = block.get(r as usize) {
            f(r, g.and_then(|g| V::read(g, x)));
        }
    }
}

/// A kind of value a [`Getter`] reads: `&str`, `bool`, `i64`, `f64` or `&[String]`
/// ([`HostRecord::each`]). Sealed: these five are all there is.
pub trait GetterRead<'a, T: ?Sized>: Sized + sealed::Sealed {
    /// What `g` reads on `record`, when `g` is a getter of this kind (`None` otherwise, or for
    /// null).
    fn read(g: Getter<T>, record: &'a T) -> Option<Self>;
}

mod sealed {
    /// Only the five kinds of [`super::GetterRead`] implement it.
    pub trait Sealed {}
    impl Sealed for &str {}
    impl Sealed for bool {}
    impl Sealed for i64 {}
    impl Sealed for f64 {}
    impl Sealed for &[String] {}
}

impl<'a, T: ?Sized> GetterRead<'a, T> for &'a str {
    #[inline(always)]
    fn read(g: Getter<T>, record: &'a T) -> Option<Self> {
        match g {
            Getter::Str(f) => f(record),
            _ => None,
        }
    }
}

impl<'a, T: ?Sized> GetterRead<'a, T> for bool {
    #[inline(always)]
    fn read(g: Getter<T>, record: &'a T) -> Option<Self> {
        match g {
            Getter::Bool(f) => f(record),
            _ => None,
        }
    }
}

impl<'a, T: ?Sized> GetterRead<'a, T> for i64 {
    #[inline(always)]
    fn read(g: Getter<T>, record: &'a T) -> Option<Self> {
        match g {
            Getter::Int(f) => f(record),
            _ => None,
        }
    }
}

impl<'a, T: ?Sized> GetterRead<'a, T> for f64 {
    #[inline(always)]
    fn read(g: Getter<T>, record: &'a T) -> Option<Self> {
        match g {
            Getter::Dec(f) => f(record),
            _ => None,
        }
    }
}

impl<'a, T: ?Sized> GetterRead<'a, T> for &'a [String] {
    #[inline(always)]
    fn read(g: Getter<T>, record: &'a T) -> Option<Self> {
        match g {
            Getter::Strings(f) => f(record),
            _ => None,
        }
    }
}

/// A typed function reading one field of a host struct (see [`HostRecord::getter`]).
pub enum Getter<T: ?Sized> {
    /// A string (`None`: null).
    Str(for<'a> fn(&'a T) -> Option<&'a str>),
    /// A boolean (`None`: null).
    Bool(fn(&T) -> Option<bool>),
    /// An integer (`None`: null).
    Int(fn(&T) -> Option<i64>),
    /// A decimal (`None`: null).
    Dec(fn(&T) -> Option<f64>),
    /// A list of strings (a multiselect; `None`: null).
    Strings(for<'a> fn(&'a T) -> Option<&'a [String]>),
    /// Any other value.
    Val(for<'a> fn(&'a T) -> Val<'a>),
}

impl<T: ?Sized> Clone for Getter<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Getter<T> {}

impl<T: ?Sized> Getter<T> {
    /// Reads the field as a value.
    #[inline(always)]
    pub fn read<'a>(&self, record: &'a T) -> Val<'a> {
        match *self {
            Getter::Str(f) => f(record).map_or(Val::Null, |s| Val::Str(Cow::Borrowed(s))),
            Getter::Bool(f) => f(record).map_or(Val::Null, Val::Bool),
            Getter::Int(f) => f(record).map_or(Val::Null, Val::Int),
            Getter::Dec(f) => f(record).map_or(Val::Null, Val::Dec),
            Getter::Strings(f) => f(record).map_or(Val::Null, |l| Val::List(ListView::Strings(l))),
            Getter::Val(f) => f(record),
        }
    }

    /// True when what the getter returns is already what a field of `kind` reads as (no
    /// conversion: [`typed`] would keep it as is).
    fn fits(&self, kind: FieldKind) -> bool {
        match self {
            Getter::Val(_) => false,
            _ if kind == FieldKind::Dynamic => true,
            Getter::Str(_) => kind == FieldKind::Text,
            Getter::Bool(_) => kind == FieldKind::Boolean,
            Getter::Int(_) | Getter::Dec(_) => {
                matches!(kind, FieldKind::Integer | FieldKind::Decimal)
            }
            Getter::Strings(_) => kind == FieldKind::Multiselect,
        }
    }
}

/// Implements [`HostRecord`] for a struct from its field paths and typed getters
/// ([`Getter`]'s variants: `Str`, `Bool`, `Int`, `Dec`, `Strings`, `Val`). The type must be
/// sized (the evaluator reads slices of it).
///
/// ```
/// struct Contact { subscription: String, opted_out: Option<bool>, ltv: f64 }
/// herald::host_record!(Contact {
///     "subscription" => Str(|c| Some(&c.subscription)),
///     "opted_out" => Bool(|c| c.opted_out),
///     "lifetime_value" => Dec(|c| Some(c.ltv)),
/// });
/// ```
#[macro_export]
macro_rules! host_record {
    ($ty:ty { $($path:literal => $kind:ident($get:expr)),* $(,)? }) => {
        impl $crate::record::HostRecord for $ty {
            const FIELDS: &'static [&'static str] = &[$($path),*];
            fn get(&self, index: usize) -> $crate::record::Val<'_> {
                match <Self as $crate::record::HostRecord>::getter(index) {
                    Some(g) => g.read(self),
                    None => $crate::record::Val::Null,
                }
            }
            fn getter(index: usize) -> Option<$crate::record::Getter<Self>> {
                const GETTERS: &[$crate::record::Getter<$ty>] =
                    &[$($crate::record::Getter::$kind($get)),*];
                GETTERS.get(index).copied()
            }
            // One loop per field, each with its getter's code inlined (a chain of index
            // tests, which the compiler turns into one jump before the loops).
            #[inline(always)]
            fn each<'b, V: $crate::record::GetterRead<'b, Self>>(
                block: &'b [Self],
                recs: &[u32],
                index: usize,
                f: impl FnMut(u32, Option<V>),
            ) {
                let i = 0usize;
                $(
                    if index == i {
                        let g = $crate::record::Getter::<$ty>::$kind($get);
                        return $crate::record::each_read(Some(g), block, recs, f);
                    }
                    let i = i + 1;
                )*
                let _ = i;
                // No such field: null.
                $crate::record::each_read(None, block, recs, f)
            }
        }
    };
}

/// How one program reads a host type: for each slot of the program's field table, how the type
/// gives that field and the field's declared kind. Built once per condition or rule set
/// ([`crate::condition::Condition::host_map`], [`host_map`]).
pub struct HostMap<T: ?Sized> {
    slots: Box<[HostSlot<T>]>,
    /// The condition's flat program bound to the type's getters, with the identity of the
    /// condition it was bound from ([`crate::condition::Condition::host_map`]): a map passed
    /// with another condition is read slot by slot, never runs its own program.
    bound: Option<(u64, crate::eval::host::HostFlat<T>)>,
    /// The condition whose field table the slots follow ([`HostMap::built_for`]).
    of: Option<u64>,
}

/// How one slot of a [`HostMap`] is read.
enum HostRead<T: ?Sized> {
    /// The type has no such field: null.
    Absent,
    /// Through [`HostRecord::get`] and [`typed`].
    Index(usize),
    /// Through a getter whose values need no conversion for the field's kind.
    Getter(Getter<T>),
}

impl<T: ?Sized> Clone for HostRead<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for HostRead<T> {}

struct HostSlot<T: ?Sized> {
    read: HostRead<T>,
    kind: FieldKind,
    /// The index in `T::FIELDS`.
    index: Option<usize>,
}

impl<T: ?Sized> Clone for HostSlot<T> {
    fn clone(&self) -> Self {
        HostSlot {
            read: self.read,
            kind: self.kind,
            index: self.index,
        }
    }
}

impl<T: ?Sized> HostMap<T> {
    /// For each slot, the index in `T::FIELDS` (`None` when the type has no such field).
    pub fn indices(&self) -> Vec<Option<usize>> {
        self.slots.iter().map(|s| s.index).collect()
    }

    /// The getter that reads the slot with no conversion, when there is one, with the
    /// field's index in `T::FIELDS`.
    fn getter_of(&self, slot: u32) -> Option<(usize, Getter<T>)> {
        let s = self.slots.get(usize::try_from(slot).ok()?)?;
        match (s.read, s.index) {
            (HostRead::Getter(g), Some(i)) => Some((i, g)),
            _ => None,
        }
    }

    /// The map with a flat program bound to the type's getters, for the condition `id`.
    pub(crate) fn bind(mut self, id: u64, flat: &crate::compile::Flat) -> Self {
        let bound = crate::eval::host::HostFlat::bind(flat, |slot| self.getter_of(slot));
        self.bound = Some((id, bound));
        self
    }

    /// The map follows the field table of the condition `id` (built by its
    /// [`crate::condition::Condition::host_map`]).
    pub(crate) fn with_fields_of(mut self, id: u64) -> Self {
        self.of = Some(id);
        self
    }

    /// True when the map's slots are those of the condition `id`.
    #[inline(always)]
    pub(crate) fn built_for(&self, id: u64) -> bool {
        self.of == Some(id)
    }

    /// The program bound for the condition `id`, if any.
    #[inline(always)]
    pub(crate) fn bound(&self, id: u64) -> Option<&crate::eval::host::HostFlat<T>> {
        match &self.bound {
            Some((of, flat)) if *of == id => Some(flat),
            _ => None,
        }
    }
}

impl<T: ?Sized> Clone for HostMap<T> {
    fn clone(&self) -> Self {
        HostMap {
            slots: self.slots.clone(),
            bound: self.bound.clone(),
            of: self.of,
        }
    }
}

impl<T: ?Sized> fmt::Debug for HostMap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.slots.iter().map(|s| {
                let how = match s.read {
                    HostRead::Absent => "absent",
                    HostRead::Index(_) => "get",
                    HostRead::Getter(_) => "getter",
                };
                (s.index, s.kind, how)
            }))
            .finish()
    }
}

/// A host record together with the [`HostMap`] of one program.
#[derive(Debug)]
pub struct HostAccess<'a, T> {
    /// The record.
    pub record: &'a T,
    /// The slot mapping.
    pub map: &'a HostMap<T>,
}

/// [`typed`], with the cases that keep the value as it is decided inline: no call for the
/// common reads (any value without a declared kind, a string under `text`, a number under a
/// numeric kind, a boolean under `boolean`, null).
#[inline(always)]
pub fn typed_inline(kind: FieldKind, v: Val<'_>) -> Val<'_> {
    match (kind, &v) {
        (FieldKind::Dynamic, _)
        | (_, Val::Null)
        | (FieldKind::Text, Val::Str(_))
        | (FieldKind::Integer | FieldKind::Decimal, Val::Int(_) | Val::Dec(_))
        | (FieldKind::Boolean, Val::Bool(_)) => v,
        _ => typed(kind, v),
    }
}

impl<T: HostRecord> HostAccess<'_, T> {
    #[inline(always)]
    fn read(&self, slot: usize) -> Val<'_> {
        match self.map.slots.get(slot) {
            Some(HostSlot {
                read: HostRead::Getter(g),
                ..
            }) => g.read(self.record),
            Some(HostSlot {
                read: HostRead::Index(i),
                kind,
                ..
            }) => typed_inline(*kind, self.record.get(*i)),
            _ => Val::Null,
        }
    }

    #[inline(always)]
    fn read_str(&self, slot: usize) -> StrRef<'_> {
        match self.map.slots.get(slot) {
            Some(HostSlot {
                read: HostRead::Getter(g),
                ..
            }) => match g {
                Getter::Str(f) => f(self.record).map_or(StrRef::Other, StrRef::Str),
                // Kept as they are for this kind (`fits`): not strings.
                Getter::Bool(_) | Getter::Int(_) | Getter::Dec(_) | Getter::Strings(_) => {
                    StrRef::Other
                }
                Getter::Val(_) => StrRef::Slow,
            },
            Some(HostSlot {
                read: HostRead::Index(i),
                kind,
                ..
            }) => {
                let text = matches!(kind, FieldKind::Dynamic | FieldKind::Text);
                match self.record.get(*i) {
                    Val::Str(Cow::Borrowed(s)) if text => StrRef::Str(s),
                    Val::Str(_) => StrRef::Slow,
                    _ if text => StrRef::Other,
                    _ => StrRef::Slow,
                }
            }
            _ => StrRef::Other,
        }
    }
}

impl<T: HostRecord> Access for HostAccess<'_, T> {
    #[inline(always)]
    fn load(&self, slot: usize, _field: &FieldMeta) -> Val<'_> {
        self.read(slot)
    }

    #[inline(always)]
    fn load_str(&self, slot: usize, _field: &FieldMeta) -> StrRef<'_> {
        self.read_str(slot)
    }

    #[inline(always)]
    fn load_id(&self, slot: usize, _field: &FieldMeta) -> Val<'_> {
        match self.map.slots.get(slot) {
            Some(HostSlot {
                index: Some(i),
                kind,
                ..
            }) => match self.record.get(*i) {
                v @ Val::Int(_) if *kind == FieldKind::Text => v,
                v => typed_inline(*kind, v),
            },
            _ => Val::Null,
        }
    }

    #[inline(always)]
    fn load_at(&self, slot: usize, _fields: &[FieldMeta]) -> Val<'_> {
        self.read(slot)
    }

    #[inline(always)]
    fn str_at(&self, slot: usize, _fields: &[FieldMeta]) -> StrRef<'_> {
        self.read_str(slot)
    }
}

/// The [`HostMap`] of a host type for a field table.
pub fn host_map<T: HostRecord>(fields: &FieldTable) -> HostMap<T> {
    let slots = fields
        .iter()
        .map(|(_, f)| {
            let index = T::FIELDS.iter().position(|n| path_is(&f.path, n));
            let read = match index {
                None => HostRead::Absent,
                Some(i) => match T::getter(i) {
                    Some(g) if g.fits(f.kind) => HostRead::Getter(g),
                    _ => HostRead::Index(i),
                },
            };
            HostSlot {
                read,
                kind: f.kind,
                index,
            }
        })
        .collect();
    HostMap {
        slots,
        bound: None,
        of: None,
    }
}

/// True when a dot-separated name is this path: the path's segments joined by dots (without
/// building the joined string).
fn path_is(path: &[Box<str>], dotted: &str) -> bool {
    let mut rest = dotted;
    for (i, seg) in path.iter().enumerate() {
        if i > 0 {
            match rest.strip_prefix('.') {
                Some(r) => rest = r,
                None => return false,
            }
        }
        match rest.strip_prefix(&**seg) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record with `n` text fields `k0`..`k{n-1}` plus the nested `o.k0`, as JSON.
    fn wide(n: usize) -> (FieldTable, serde_json::Value) {
        let mut fields = FieldTable::default();
        let mut obj = serde_json::Map::new();
        for i in 0..n {
            fields.intern(None, vec![format!("k{i}")], FieldKind::Text);
            obj.insert(format!("k{i}"), serde_json::Value::from(format!("v{i}")));
            // Keys no field reads, with the same lengths and first and last bytes.
            obj.insert(format!("x{i}"), serde_json::Value::from(i));
            obj.insert(format!("k{i}x"), serde_json::Value::from(i));
        }
        fields.intern(None, vec!["o".into(), "k0".into()], FieldKind::Text);
        obj.insert(
            "o".into(),
            serde_json::json!({"k0": "nested", "k1": "no field"}),
        );
        (fields, serde_json::Value::Object(obj))
    }

    #[test]
    fn a_few_values_are_held_in_the_record_and_more_on_the_heap() {
        // Five values inline: a slice of records is one array of 128-byte records.
        assert_eq!(std::mem::size_of::<CompactRecord>(), 128);
        // A record reused across projections of every size, growing past what it holds
        // inline and shrinking back, reads what the last parse stored.
        let mut rec = CompactRecord::default();
        for n in [2, INLINE_VALS - 1, INLINE_VALS, 9, 3, 40, INLINE_VALS] {
            let (fields, json) = wide(n);
            let Ok(bytes) = serde_json::to_vec(&json) else {
                unreachable!("a JSON value serializes")
            };
            let projection = Projection::of(&fields);
            assert!(rec.parse_into(&bytes, &projection).is_ok(), "{n}");
            assert_eq!(rec, CompactRecord::from_json(&json, &fields), "{n}");
            assert_eq!(rec.vals.len(), n + 1, "{n}");
            // A new record spills only past the inline values (a reused one keeps its
            // storage, as a vector keeps its capacity).
            let new = CompactRecord::parse(&bytes, &projection);
            assert_eq!(
                new.map(|r| r.vals.spilled()).ok(),
                Some(n + 1 > INLINE_VALS),
                "{n}"
            );
            let last = format!("v{}", n - 1);
            assert!(
                matches!(rec.get(n - 1), CVal::Str(s) if s == last.as_str()),
                "{n}"
            );
        }
    }

    #[test]
    fn records_nested_as_deep_as_serde_json_allows_and_no_deeper() {
        // A projected field holding `arrays` nested arrays: the object and the arrays are
        // `arrays + 1` containers; serde_json reads 127 and refuses 128.
        let (fields, _) = wide(2);
        let projection = Projection::of(&fields);
        for arrays in 120..=130 {
            let bytes = format!("{{\"k0\":{}{}}}", "[".repeat(arrays), "]".repeat(arrays));
            let read = |reference: bool| {
                let mut record = CompactRecord::default();
                let parsed = if reference {
                    record.parse_into_reference(bytes.as_bytes(), &projection)
                } else {
                    record.parse_into(bytes.as_bytes(), &projection)
                };
                parsed
                    .map(|()| format!("{record:?}"))
                    .map_err(|e| e.to_string())
            };
            assert_eq!(read(false), read(true), "{arrays}");
            assert_eq!(read(false).is_ok(), arrays < 127, "{arrays}");
        }
    }

    #[test]
    fn bytes_that_are_not_an_object_are_refused() {
        let (fields, _) = wide(2);
        let projection = Projection::of(&fields);
        for bytes in [&b"[1]"[..], b"\"k0\"", b"7", b"null", b" true "] {
            let Err(e) = CompactRecord::parse(bytes, &projection) else {
                unreachable!("{bytes:?} was read as a record")
            };
            assert!(e.to_string().contains("expected a record object"), "{e}");
        }
        assert!(CompactRecord::parse(b" {} ", &projection).is_ok());
    }

    #[test]
    fn projected_keys_are_found_whatever_their_number_and_hashes() {
        // One key, a few (some sharing a table entry), and more than a table entry can number.
        for n in [1, 5, 64, 300] {
            let (fields, json) = wide(n);
            let projection = Projection::of(&fields);
            let Ok(bytes) = serde_json::to_vec(&json) else {
                unreachable!("a JSON value serializes")
            };
            let parsed = CompactRecord::parse(&bytes, &projection);
            assert_eq!(
                parsed.ok(),
                Some(CompactRecord::from_json(&json, &fields)),
                "{n}"
            );
            let Ok(text) = std::str::from_utf8(&bytes) else {
                unreachable!("serde_json writes UTF-8")
            };
            let mut fast = CompactRecord::default();
            let mut de = Fast::new(text);
            assert_eq!(fast.parse_fast(&mut de, &projection), Ok(()), "{n}");
            assert_eq!(fast, CompactRecord::from_json(&json, &fields), "{n}");
            // Every field has its own value: none was read from another key.
            let kept = (0..fields.len())
                .filter(|&slot| matches!(fast.get(slot), CVal::Str(_)))
                .count();
            assert_eq!(kept, n + 1, "{n}");
        }
    }
}
