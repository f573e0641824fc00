//! The compiled evaluator: runs a [`Program`] over any [`Access`] record with three-valued
//! logic, short-circuiting `and`/`or`. Fused leaves read one slot and allocate nothing; the
//! general path allocates only when `lower()`/`upper()` must change a string's case.

use crate::ast::TestOp;
use crate::compile::{
    END_FALSE, END_TRUE, Flat, Leaf, NumSet, Op, Program, StrConst, Target, word,
};
use crate::ir::{CmpOp, Func, Node, NodeKind};
use crate::opt::pred::instant_of_val;
use crate::record::{Access, CVal, FieldMeta, ListView, StrRef, Val, json_dynamic};
use crate::value::{self, Truth};
use chrono::{DateTime, Duration, Utc};
use std::borrow::Cow;
use std::cmp::Ordering;

pub mod batch;
pub mod host;

/// What one evaluation reads.
pub struct Ctx<'a, R: ?Sized> {
    /// The record.
    pub record: &'a R,
    /// Field metadata by slot.
    pub fields: &'a [FieldMeta],
    /// The clock's instant.
    pub now: DateTime<Utc>,
}

impl<'a, R: Access + ?Sized> Ctx<'a, R> {
    #[inline(always)]
    fn load(&self, slot: usize) -> Val<'a> {
        self.record.load_at(slot, self.fields)
    }

    /// Applies `f` to the slot's string (`None` when it holds no string), on the fast path
    /// when the record has one. Inlined into each leaf: a call per leaf was a large share of
    /// the instructions per record on host structs and compact records.
    #[inline(always)]
    fn with_str(&self, slot: usize, f: impl FnOnce(&str) -> Truth) -> Truth {
        // One call of `f`, so that it is inlined (with a call on each path, the test of a set
        // of strings was left out of line).
        let s: Cow<'a, str> = match self.record.str_at(slot, self.fields) {
            StrRef::Str(s) => Cow::Borrowed(s),
            StrRef::Other => return Truth::Unknown,
            StrRef::Slow => match self.record.load_at(slot, self.fields) {
                Val::Str(s) => s,
                _ => return Truth::Unknown,
            },
        };
        f(&s)
    }
}

impl Program {
    /// Evaluates the program on a record.
    #[inline(always)]
    pub fn eval<R: Access + ?Sized>(&self, record: &R, now: DateTime<Utc>) -> Truth {
        let ctx = Ctx {
            record,
            fields: &self.fields,
            now,
        };
        match &self.root {
            // Straight into the loop: `op` is a large function whose entry and exit (saving and
            // restoring registers) were a tenth of the instructions per record.
            Op::Flat(f) => run(f, &ctx),
            root => op(root, &ctx),
        }
    }
}

#[inline]
fn tv(b: bool) -> Truth {
    if b { Truth::True } else { Truth::False }
}

/// Evaluates one operation.
pub fn op<'a, R: Access + ?Sized>(o: &'a Op, c: &Ctx<'a, R>) -> Truth {
    match o {
        Op::And(xs) => {
            let mut unknown = false;
            for x in xs.iter() {
                match child(x, c) {
                    Truth::False => return Truth::False,
                    Truth::Unknown => unknown = true,
                    Truth::True => {}
                }
            }
            if unknown { Truth::Unknown } else { Truth::True }
        }
        Op::Or(xs) => {
            let mut unknown = false;
            for x in xs.iter() {
                match child(x, c) {
                    Truth::True => return Truth::True,
                    Truth::Unknown => unknown = true,
                    Truth::False => {}
                }
            }
            if unknown {
                Truth::Unknown
            } else {
                Truth::False
            }
        }
        Op::Not(x) => child(x, c).not(),
        Op::General(n) => general(n, c).truth(),
        Op::Flat(f) => run(f, c),
        leaf => leaf_op(leaf, c),
    }
}

/// Runs a flat program: one leaf test per step, then a jump on its outcome. A target past the
/// last step is an end, so the bounds check of the step is also the loop's exit test.
#[inline(always)]
fn run<'a, R: Access + ?Sized>(f: &'a Flat, c: &Ctx<'a, R>) -> Truth {
    let mut at = f.entry;
    while let Some(step) = f.steps.get(at as usize) {
        at = step.next[leaf(&step.leaf, c) as usize];
    }
    end_truth(at)
}

/// The truth of a flat program's leaf.
#[inline(always)]
fn leaf<'a, R: Access + ?Sized>(l: &'a Leaf, c: &Ctx<'a, R>) -> Truth {
    match l {
        Leaf::Word { slot, word: w } => c.with_str(*slot as usize, |s| tv(is_word(s, *w))),
        Leaf::Words { slot, words } => {
            c.with_str(*slot as usize, |s| tv(words.contains(word(s.as_bytes()))))
        }
        Leaf::Str { slot, s } => c.with_str(*slot as usize, |v| tv(v == &**s)),
        Leaf::Bool { slot, t, f } => match c.load(*slot as usize) {
            Val::Bool(b) => tv(if b { *t } else { *f }),
            _ => Truth::Unknown,
        },
        Leaf::Num { slot, set } => match c.load(*slot as usize) {
            Val::Int(i) => tv(set.has_int(i)),
            Val::Dec(f) => dec_truth(set, f),
            _ => Truth::Unknown,
        },
        Leaf::Op(o) => child(o, c),
    }
}

/// True when the string's [`word`] is `w` (whose top byte is the length). No test of the
/// length first: with strings of several lengths (`"paid"`, `"trial"`), that branch was
/// mispredicted where the word's own branches, on classes of lengths, are not.
#[inline(always)]
fn is_word(s: &str, w: u64) -> bool {
    word(s.as_bytes()) == w
}

/// The truth of a number set's test on a decimal: a NaN decimal is unknown, as it is to the
/// reference interpreter, where every comparison with it is undefined.
#[inline(always)]
fn dec_truth(set: &NumSet, x: f64) -> Truth {
    if x.is_nan() {
        Truth::Unknown
    } else {
        tv(set.has_dec(x))
    }
}

#[inline(always)]
fn end_truth(t: Target) -> Truth {
    match t {
        END_TRUE => Truth::True,
        END_FALSE => Truth::False,
        _ => Truth::Unknown,
    }
}

/// An operand of `and`/`or`/`not`, or the leaf of a flat program's step: the common leaves are
/// evaluated in the caller's loop, with no call per leaf; junctions and general nodes recurse.
#[inline(always)]
fn child<'a, R: Access + ?Sized>(o: &'a Op, c: &Ctx<'a, R>) -> Truth {
    match o {
        Op::StrEq { slot, s, negated } => c.with_str(*slot, |v| tv(s.is(v) != *negated)),
        Op::StrIn { slot, set, negated } => c.with_str(*slot, |v| tv(set.contains(v) != *negated)),
        Op::Bool { slot, t, f } => match c.load(*slot) {
            Val::Bool(b) => tv(if b { *t } else { *f }),
            _ => Truth::Unknown,
        },
        Op::Num { slot, set } => match c.load(*slot) {
            Val::Int(i) => tv(set.has_int(i)),
            Val::Dec(f) => dec_truth(set, f),
            _ => Truth::Unknown,
        },
        Op::ContainsStr { slot, s } => match c.load(*slot) {
            Val::Str(h) => tv(h.contains(s.as_str())),
            Val::List(l) => list_has_str(&l, s),
            _ => Truth::Unknown,
        },
        _ => op(o, c),
    }
}

/// A leaf operation.
#[inline]
fn leaf_op<'a, R: Access + ?Sized>(o: &'a Op, c: &Ctx<'a, R>) -> Truth {
    match o {
        Op::Const(Some(b)) => tv(*b),
        Op::Const(None) => Truth::Unknown,
        Op::StrEq { slot, s, negated } => c.with_str(*slot, |v| tv(s.is(v) != *negated)),
        Op::StrIn { slot, set, negated } => c.with_str(*slot, |v| tv(set.contains(v) != *negated)),
        Op::Num { slot, set } => match c.load(*slot) {
            Val::Int(i) => tv(set.has_int(i)),
            Val::Dec(f) => dec_truth(set, f),
            _ => Truth::Unknown,
        },
        Op::Time { slot, ranges } => match instant_of_val(&c.load(*slot)) {
            Some(i) => tv(ranges.contains(&i)),
            None => Truth::Unknown,
        },
        Op::Bool { slot, t, f } => match c.load(*slot) {
            Val::Bool(b) => tv(if b { *t } else { *f }),
            _ => Truth::Unknown,
        },
        Op::Test { slot, test } => {
            let v = c.load(*slot);
            tv(match test {
                TestOp::IsNull => v.is_null(),
                TestOp::IsNotNull => !v.is_null(),
                TestOp::IsEmpty => is_empty(&v),
                TestOp::IsNotEmpty => !is_empty(&v),
            })
        }
        Op::ContainsStr { slot, s } => match c.load(*slot) {
            Val::Str(h) => tv(h.contains(s.as_str())),
            Val::List(l) => list_has_str(&l, s),
            _ => Truth::Unknown,
        },
        Op::Affix { slot, s, suffix } => c.with_str(*slot, |h| {
            tv(if *suffix {
                h.ends_with(&**s)
            } else {
                h.starts_with(&**s)
            })
        }),
        Op::Regex { slot, re } => c.with_str(*slot, |h| tv(re.is_match(h))),
        Op::And(_) | Op::Or(_) | Op::Not(_) | Op::General(_) | Op::Flat(_) => op(o, c),
    }
}

/// `list contains "s"`: true when an element is `s`; unknown when none is and some element is
/// not a string (null or another type), as element-wise equality says. One loop per kind of
/// list, comparing strings through the constant's key.
#[inline]
fn list_has_str(l: &ListView<'_>, s: &StrConst) -> Truth {
    match *l {
        ListView::Strings(v) => tv(v.iter().any(|e| s.is(e))),
        ListView::Compact(v) => scan_strs(
            v.iter().map(|e| match e {
                CVal::Str(x) => Ok(x.as_str()),
                other => Err(other),
            }),
            CVal::view,
            s,
        ),
        ListView::Json(v) | ListView::JsonStrings(v) => scan_strs(
            v.iter().map(|e| match e {
                serde_json::Value::String(x) => Ok(x.as_str()),
                other => Err(other),
            }),
            json_dynamic,
            s,
        ),
        ListView::Values(v) => scan_strs(
            v.iter().map(|e| match e {
                value::Value::Str(x) => Ok(x.as_str()),
                other => Err(other),
            }),
            Val::from_value,
            s,
        ),
    }
}

/// The loop of [`list_has_str`]: string elements compare through the key; any other element
/// (`Err`) is viewed and compared with [`eq3`] (a date element equals a string that parses as
/// that date; null and other types are unknown).
#[inline(always)]
fn scan_strs<'a, E: 'a>(
    items: impl Iterator<Item = Result<&'a str, &'a E>>,
    view: impl Fn(&'a E) -> Val<'a>,
    s: &StrConst,
) -> Truth {
    let mut unknown = false;
    for e in items {
        match e {
            Ok(x) => {
                if s.is(x) {
                    return Truth::True;
                }
            }
            Err(other) => match eq3(&view(other), &Val::Str(Cow::Borrowed(s.as_str()))) {
                Truth::True => return Truth::True,
                Truth::Unknown => unknown = true,
                Truth::False => {}
            },
        }
    }
    if unknown {
        Truth::Unknown
    } else {
        Truth::False
    }
}

fn is_empty(v: &Val<'_>) -> bool {
    match v {
        Val::Null => true,
        Val::Str(s) => s.is_empty(),
        Val::List(l) => l.is_empty(),
        _ => false,
    }
}

impl Val<'_> {
    /// The truth of a value in a boolean position.
    #[inline]
    pub fn truth(&self) -> Truth {
        match self {
            Val::Bool(b) => tv(*b),
            _ => Truth::Unknown,
        }
    }
}

fn from_truth<'a>(t: Truth) -> Val<'a> {
    match t {
        Truth::True => Val::Bool(true),
        Truth::False => Val::Bool(false),
        Truth::Unknown => Val::Null,
    }
}

fn temporal<'a>(s: &str) -> Option<Val<'a>> {
    value::parse_date(s)
        .map(Val::Date)
        .or_else(|| value::parse_datetime(s).map(Val::DateTime))
}

/// [`value::compare`] on views.
pub fn compare(a: &Val<'_>, b: &Val<'_>) -> Option<Ordering> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(y)),
        (Val::Dec(x), Val::Dec(y)) => x.partial_cmp(y),
        (Val::Int(x), Val::Dec(y)) => value::cmp_int_dec(*x, *y),
        (Val::Dec(x), Val::Int(y)) => value::cmp_int_dec(*y, *x).map(Ordering::reverse),
        (Val::Str(x), Val::Str(y)) => Some((**x).cmp(&**y)),
        (Val::Date(x), Val::Date(y)) => Some(x.cmp(y)),
        (Val::DateTime(x), Val::DateTime(y)) => Some(x.cmp(y)),
        (Val::Date(x), Val::DateTime(y)) => Some(value::date_start(*x).cmp(y)),
        (Val::DateTime(x), Val::Date(y)) => Some(x.cmp(&value::date_start(*y))),
        (Val::Str(s), Val::Date(_) | Val::DateTime(_)) => compare(&temporal(s)?, b),
        (Val::Date(_) | Val::DateTime(_), Val::Str(s)) => compare(a, &temporal(s)?),
        _ => None,
    }
}

/// Three-valued equality on views ([`value::equals`] plus null).
pub fn eq3(a: &Val<'_>, b: &Val<'_>) -> Truth {
    match (a, b) {
        (Val::Null, _) | (_, Val::Null) => Truth::Unknown,
        (Val::Bool(x), Val::Bool(y)) => tv(x == y),
        (Val::List(_), _) | (_, Val::List(_)) | (Val::Object, _) | (_, Val::Object) => {
            Truth::Unknown
        }
        _ => compare(a, b).map_or(Truth::Unknown, |o| tv(o == Ordering::Equal)),
    }
}

fn member(l: &ListView<'_>, x: &Val<'_>) -> Truth {
    let mut acc = Truth::False;
    for e in l.iter() {
        acc = acc.or(eq3(&e, x));
        if acc == Truth::True {
            return acc;
        }
    }
    acc
}

/// Past this many element comparisons, `contains any`/`all` between two lists of strings goes
/// through a hash set of the first list.
const CONTAINS_SET_THRESHOLD: usize = 256;

/// `hay contains any` (or `all`) `wanted`, both lists. When both are long and `hay` holds only
/// strings, the test is a hash-set lookup per wanted element instead of a scan: a record with
/// two lists of 100,000 elements costs 200,000 steps, not 10^10. Same truth either way: a
/// string equals a string only when they are the same text, and a number, boolean, list or
/// object compared with a string is unknown.
fn contains_some(hay: &ListView<'_>, hay_val: &Val<'_>, wanted: &ListView<'_>, any: bool) -> Truth {
    let set: Option<rustc_hash::FxHashSet<&str>> =
        if hay.len().saturating_mul(wanted.len()) > CONTAINS_SET_THRESHOLD {
            (0..hay.len()).map(|i| hay.str_at(i)).collect()
        } else {
            None
        };
    let mut acc = if any { Truth::False } else { Truth::True };
    for w in wanted.iter() {
        let t = match (&set, &w) {
            (Some(set), Val::Str(s)) => tv(set.contains(&**s)),
            (Some(_), Val::Null) => Truth::Unknown,
            (Some(set), Val::Bool(_) | Val::Int(_) | Val::Dec(_) | Val::List(_) | Val::Object) => {
                if set.is_empty() && hay.is_empty() {
                    Truth::False
                } else {
                    Truth::Unknown
                }
            }
            // Dates compare with strings that read as dates: scan.
            _ => contains(hay_val, &w),
        };
        acc = if any { acc.or(t) } else { acc.and(t) };
        if acc == if any { Truth::True } else { Truth::False } {
            break;
        }
    }
    acc
}

fn contains(hay: &Val<'_>, needle: &Val<'_>) -> Truth {
    match (hay, needle) {
        (Val::Null, _) | (_, Val::Null) => Truth::Unknown,
        (Val::Str(h), Val::Str(n)) => tv(h.contains(&**n)),
        (Val::List(l), x) => member(l, x),
        _ => Truth::Unknown,
    }
}

fn offset<'a>(v: Val<'a>, secs: i64) -> Val<'a> {
    let Some(delta) = Duration::try_seconds(secs) else {
        return Val::Null;
    };
    match v {
        Val::Date(d) if secs % 86_400 == 0 => {
            d.checked_add_signed(delta).map_or(Val::Null, Val::Date)
        }
        Val::Date(d) => value::date_start(d)
            .checked_add_signed(delta)
            .map_or(Val::Null, Val::DateTime),
        Val::DateTime(t) => t.checked_add_signed(delta).map_or(Val::Null, Val::DateTime),
        Val::Str(s) => match temporal(&s) {
            Some(t) => offset(t, secs),
            None => Val::Null,
        },
        _ => Val::Null,
    }
}

fn map_str<'a>(s: Cow<'a, str>, f: impl Fn(&str) -> Cow<'_, str>) -> Cow<'a, str> {
    match s {
        Cow::Borrowed(b) => f(b),
        Cow::Owned(o) => Cow::Owned(f(&o).into_owned()),
    }
}

fn lower(s: &str) -> Cow<'_, str> {
    if s.chars()
        .any(|c| c.to_lowercase().next() != Some(c) || c.to_lowercase().nth(1).is_some())
    {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

fn upper(s: &str) -> Cow<'_, str> {
    if s.chars()
        .any(|c| c.to_uppercase().next() != Some(c) || c.to_uppercase().nth(1).is_some())
    {
        Cow::Owned(s.to_uppercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Evaluates an IR node to a view, with the reference semantics.
pub fn general<'a, R: Access + ?Sized>(n: &'a Node, c: &Ctx<'a, R>) -> Val<'a> {
    match &n.kind {
        NodeKind::Const(v) => Val::from_value(v),
        NodeKind::Field(id) => c.load(id.0 as usize),
        NodeKind::FieldPred(id, p) => from_truth(p.test_val(&c.load(id.0 as usize))),
        NodeKind::Not(x) => from_truth(general(x, c).truth().not()),
        NodeKind::And(xs) => {
            let mut acc = Truth::True;
            for x in xs {
                acc = acc.and(general(x, c).truth());
                if acc == Truth::False {
                    break;
                }
            }
            from_truth(acc)
        }
        NodeKind::Or(xs) => {
            let mut acc = Truth::False;
            for x in xs {
                acc = acc.or(general(x, c).truth());
                if acc == Truth::True {
                    break;
                }
            }
            from_truth(acc)
        }
        NodeKind::Cmp(cop, a, b) => {
            let (va, vb) = (general(a, c), general(b, c));
            if va.is_null() || vb.is_null() {
                return Val::Null;
            }
            from_truth(match cop {
                CmpOp::Eq => eq3(&va, &vb),
                CmpOp::Ne => eq3(&va, &vb).not(),
                _ => match compare(&va, &vb) {
                    None => Truth::Unknown,
                    Some(o) => tv(match cop {
                        CmpOp::Lt => o.is_lt(),
                        CmpOp::Le => o.is_le(),
                        CmpOp::Gt => o.is_gt(),
                        _ => o.is_ge(),
                    }),
                },
            })
        }
        NodeKind::In { negated, lhs, list } => {
            let (v, l) = (general(lhs, c), general(list, c));
            let t = match (&v, &l) {
                (Val::Null, _) | (_, Val::Null) => Truth::Unknown,
                (_, Val::List(items)) => member(items, &v),
                _ => Truth::Unknown,
            };
            from_truth(if *negated { t.not() } else { t })
        }
        NodeKind::Contains(a, b) => from_truth(contains(&general(a, c), &general(b, c))),
        NodeKind::ContainsAny(a, b) | NodeKind::ContainsAll(a, b) => {
            let (va, vb) = (general(a, c), general(b, c));
            let t = match (&va, &vb) {
                (Val::List(hay), Val::List(wanted)) => contains_some(
                    hay,
                    &va,
                    wanted,
                    matches!(n.kind, NodeKind::ContainsAny(..)),
                ),
                _ => Truth::Unknown,
            };
            from_truth(t)
        }
        NodeKind::StartsWith(a, b) | NodeKind::EndsWith(a, b) => {
            let (va, vb) = (general(a, c), general(b, c));
            from_truth(match (&va, &vb) {
                (Val::Str(s), Val::Str(p)) => tv(if matches!(n.kind, NodeKind::StartsWith(..)) {
                    s.starts_with(&**p)
                } else {
                    s.ends_with(&**p)
                }),
                _ => Truth::Unknown,
            })
        }
        NodeKind::Matches(a, re) => match general(a, c) {
            Val::Str(s) => Val::Bool(re.is_match(&s)),
            _ => Val::Null,
        },
        NodeKind::Test(t, x) => {
            let v = general(x, c);
            Val::Bool(match t {
                TestOp::IsNull => v.is_null(),
                TestOp::IsNotNull => !v.is_null(),
                TestOp::IsEmpty => is_empty(&v),
                TestOp::IsNotEmpty => !is_empty(&v),
            })
        }
        NodeKind::Coalesce(xs) => {
            for x in xs {
                let v = general(x, c);
                if !v.is_null() {
                    return v;
                }
            }
            Val::Null
        }
        NodeKind::Offset(x, secs) => offset(general(x, c), *secs),
        NodeKind::Call(f, args) => {
            let arg = args.first().map_or(Val::Null, |a| general(a, c));
            match (f, arg) {
                (Func::Lower, Val::Str(s)) => Val::Str(map_str(s, lower)),
                (Func::Upper, Val::Str(s)) => Val::Str(map_str(s, upper)),
                (Func::Trim, Val::Str(s)) => Val::Str(map_str(s, |x| Cow::Borrowed(x.trim()))),
                (Func::Len, Val::Str(s)) => Val::Int(s.chars().count() as i64),
                (Func::Len, Val::List(l)) => Val::Int(l.len() as i64),
                (Func::Today, _) => Val::Date(c.now.date_naive()),
                (Func::Now, _) => Val::DateTime(c.now.fixed_offset()),
                _ => Val::Null,
            }
        }
    }
}
