//! Per-field predicate domains: sets of strings, unions of numeric and time intervals, boolean
//! sets. A [`Pred`] over a field is unknown when the field is null or not of the predicate's
//! class, and otherwise true exactly for the values in the domain — which is the three-valued
//! meaning of any `and`/`or` of comparisons of one field with constants of one class. So merging
//! them is exact under SQL's logic.

use crate::record::CompactStr;
use crate::value::{self, Truth, Value};
use chrono::{DateTime, FixedOffset};
use std::cmp::Ordering;

/// A number with exact integer/decimal ordering.
#[derive(Debug, Clone, Copy)]
pub enum Num {
    /// An integer.
    Int(i64),
    /// A decimal (never NaN).
    Dec(f64),
}

impl Num {
    /// The number of a value, if it is one.
    pub fn of(v: &Value) -> Option<Num> {
        match v {
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Dec(f) if !f.is_nan() => Some(Num::Dec(*f)),
            _ => None,
        }
    }

    /// As a value.
    pub fn to_value(self) -> Value {
        match self {
            Num::Int(i) => Value::Int(i),
            Num::Dec(f) => Value::Dec(f),
        }
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Num) -> Ordering {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a.cmp(b),
            // Not total_cmp: -0.0 and 0.0 must be equal, as they are to the integer 0.
            (Num::Dec(a), Num::Dec(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (Num::Int(a), Num::Dec(b)) => value::cmp_int_dec(*a, *b).unwrap_or(Ordering::Equal),
            (Num::Dec(a), Num::Int(b)) => {
                value::cmp_int_dec(*b, *a).map_or(Ordering::Equal, Ordering::reverse)
            }
        }
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Num) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Num {
    fn eq(&self, other: &Num) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Num {}

/// An instant in nanoseconds since the Unix epoch (dates are their 00:00 UTC).
pub type Instant = i128;

/// The instant of a date-time.
pub fn instant(t: &DateTime<FixedOffset>) -> Instant {
    i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
}

/// The instant of a temporal value, parsing strings as dates or date-times.
pub fn instant_of(v: &Value) -> Option<Instant> {
    match v {
        Value::Date(d) => Some(instant(&value::date_start(*d))),
        Value::DateTime(t) => Some(instant(t)),
        Value::Str(s) => instant_of(&value::coerce_temporal(s)?),
        _ => None,
    }
}

/// One end of an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound<T> {
    /// No bound.
    Unbounded,
    /// The value belongs to the interval.
    Included(T),
    /// The value does not belong to the interval.
    Excluded(T),
}

/// A union of disjoint, sorted, non-empty intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalSet<T> {
    /// The intervals, sorted and disjoint.
    pub ranges: Vec<(Bound<T>, Bound<T>)>,
}

impl<T: Ord + Copy> IntervalSet<T> {
    /// The empty set.
    pub fn empty() -> Self {
        IntervalSet { ranges: Vec::new() }
    }

    /// Every value.
    pub fn full() -> Self {
        IntervalSet {
            ranges: vec![(Bound::Unbounded, Bound::Unbounded)],
        }
    }

    /// One point.
    pub fn point(x: T) -> Self {
        IntervalSet {
            ranges: vec![(Bound::Included(x), Bound::Included(x))],
        }
    }

    /// A set of points (`x in [1, 2, 3]`), normalized once: building it by repeated
    /// [`IntervalSet::union`] would be quadratic in the number of points.
    pub fn points(xs: impl IntoIterator<Item = T>) -> Self {
        normalize(
            xs.into_iter()
                .map(|x| (Bound::Included(x), Bound::Included(x)))
                .collect(),
        )
    }

    /// `x < k` (and friends) as an interval set.
    pub fn cmp(op: crate::ir::CmpOp, k: T) -> Self {
        use crate::ir::CmpOp as C;
        let r = match op {
            C::Lt => (Bound::Unbounded, Bound::Excluded(k)),
            C::Le => (Bound::Unbounded, Bound::Included(k)),
            C::Gt => (Bound::Excluded(k), Bound::Unbounded),
            C::Ge => (Bound::Included(k), Bound::Unbounded),
            C::Eq => (Bound::Included(k), Bound::Included(k)),
            C::Ne => return IntervalSet::point(k).complement(),
        };
        IntervalSet { ranges: vec![r] }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// True when it holds every value.
    pub fn is_full(&self) -> bool {
        matches!(
            self.ranges.as_slice(),
            [(Bound::Unbounded, Bound::Unbounded)]
        )
    }

    /// Membership: a binary search, as the intervals are sorted and disjoint.
    pub fn contains(&self, x: &T) -> bool {
        // The first interval that does not end below `x` is the only one that can hold it.
        let i = self.ranges.partition_point(|(_, hi)| !below(hi, x));
        self.ranges.get(i).is_some_and(|(lo, _)| above(lo, x))
    }

    /// The complement.
    pub fn complement(&self) -> Self {
        let mut out = Vec::new();
        let mut lo: Bound<T> = Bound::Unbounded;
        for (a, b) in &self.ranges {
            let hi = match a {
                Bound::Unbounded => None,
                Bound::Included(x) => Some(Bound::Excluded(*x)),
                Bound::Excluded(x) => Some(Bound::Included(*x)),
            };
            if let Some(hi) = hi {
                out.push((lo, hi));
            }
            lo = match b {
                Bound::Unbounded => return normalize(out),
                Bound::Included(x) => Bound::Excluded(*x),
                Bound::Excluded(x) => Bound::Included(*x),
            };
        }
        out.push((lo, Bound::Unbounded));
        normalize(out)
    }

    /// The intersection: one merge pass over both sorted lists (pairing every interval with
    /// every other would be quadratic, and two lists of 100,000 points would not fit in memory).
    pub fn intersect(&self, other: &Self) -> Self {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while let (Some((a1, b1)), Some((a2, b2))) = (self.ranges.get(i), other.ranges.get(j)) {
            out.push((max_lo(*a1, *a2), min_hi(*b1, *b2)));
            // The interval that ends first cannot meet anything after the other one.
            if cmp_hi(b1, b2) == Ordering::Less {
                i += 1;
            } else {
                j += 1;
            }
        }
        normalize(out)
    }

    /// The union.
    pub fn union(&self, other: &Self) -> Self {
        let mut all = self.ranges.clone();
        all.extend(other.ranges.iter().copied());
        normalize(all)
    }
}

/// True when `x` is at or above the lower bound `lo`.
pub(crate) fn above<T: Ord>(lo: &Bound<T>, x: &T) -> bool {
    match lo {
        Bound::Unbounded => true,
        Bound::Included(a) => x >= a,
        Bound::Excluded(a) => x > a,
    }
}

/// True when `x` is at or below the upper bound `hi`.
pub(crate) fn below<T: Ord>(hi: &Bound<T>, x: &T) -> bool {
    match hi {
        Bound::Unbounded => true,
        Bound::Included(b) => x <= b,
        Bound::Excluded(b) => x < b,
    }
}

/// Orders lower bounds: smaller first; at the same value, Included before Excluded.
fn cmp_lo<T: Ord>(a: &Bound<T>, b: &Bound<T>) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Less,
        (_, Bound::Unbounded) => Ordering::Greater,
        (Bound::Included(x), Bound::Included(y)) | (Bound::Excluded(x), Bound::Excluded(y)) => {
            x.cmp(y)
        }
        (Bound::Included(x), Bound::Excluded(y)) => x.cmp(y).then(Ordering::Less),
        (Bound::Excluded(x), Bound::Included(y)) => x.cmp(y).then(Ordering::Greater),
    }
}

/// Orders upper bounds: smaller first; at the same value, Excluded before Included.
fn cmp_hi<T: Ord>(a: &Bound<T>, b: &Bound<T>) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Greater,
        (_, Bound::Unbounded) => Ordering::Less,
        (Bound::Included(x), Bound::Included(y)) | (Bound::Excluded(x), Bound::Excluded(y)) => {
            x.cmp(y)
        }
        (Bound::Included(x), Bound::Excluded(y)) => x.cmp(y).then(Ordering::Greater),
        (Bound::Excluded(x), Bound::Included(y)) => x.cmp(y).then(Ordering::Less),
    }
}

fn max_lo<T: Ord + Copy>(a: Bound<T>, b: Bound<T>) -> Bound<T> {
    if cmp_lo(&a, &b) == Ordering::Less {
        b
    } else {
        a
    }
}

fn min_hi<T: Ord + Copy>(a: Bound<T>, b: Bound<T>) -> Bound<T> {
    if cmp_hi(&a, &b) == Ordering::Greater {
        b
    } else {
        a
    }
}

/// True when the interval holds no value.
fn is_void<T: Ord>(lo: &Bound<T>, hi: &Bound<T>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b))
        | (Bound::Excluded(a), Bound::Excluded(b)) => a >= b,
        _ => false,
    }
}

/// True when an interval ending at `hi` and one starting at `lo` touch or overlap, so that
/// their union is one interval.
fn touches<T: Ord>(hi: &Bound<T>, lo: &Bound<T>) -> bool {
    match (hi, lo) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Included(a), Bound::Included(b)) => b <= a,
        (Bound::Included(a), Bound::Excluded(b)) | (Bound::Excluded(a), Bound::Included(b)) => {
            b <= a
        }
        (Bound::Excluded(a), Bound::Excluded(b)) => b < a,
    }
}

fn normalize<T: Ord + Copy>(mut v: Vec<(Bound<T>, Bound<T>)>) -> IntervalSet<T> {
    v.retain(|(a, b)| !is_void(a, b));
    v.sort_by(|x, y| cmp_lo(&x.0, &y.0));
    let mut out: Vec<(Bound<T>, Bound<T>)> = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if touches(&last.1, &lo) => {
                if cmp_hi(&hi, &last.1) == Ordering::Greater {
                    last.1 = hi;
                }
            }
            _ => out.push((lo, hi)),
        }
    }
    IntervalSet { ranges: out }
}

/// A set of strings, or its complement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrPred {
    /// True for "not in".
    pub negated: bool,
    /// Sorted, deduplicated.
    pub set: Vec<CompactStr>,
}

impl StrPred {
    fn new(negated: bool, mut set: Vec<CompactStr>) -> StrPred {
        set.sort();
        set.dedup();
        StrPred { negated, set }
    }

    fn contains(&self, s: &str) -> bool {
        self.set.binary_search_by(|x| x.as_str().cmp(s)).is_ok() != self.negated
    }

    fn and(&self, o: &StrPred) -> StrPred {
        // Both sets are sorted: binary searches keep this O(n log n) for long lists.
        let has = |b: &[CompactStr], x: &CompactStr| b.binary_search(x).is_ok();
        let inter =
            |a: &[CompactStr], b: &[CompactStr]| a.iter().filter(|x| has(b, x)).cloned().collect();
        let minus =
            |a: &[CompactStr], b: &[CompactStr]| a.iter().filter(|x| !has(b, x)).cloned().collect();
        match (self.negated, o.negated) {
            (false, false) => StrPred::new(false, inter(&self.set, &o.set)),
            (false, true) => StrPred::new(false, minus(&self.set, &o.set)),
            (true, false) => StrPred::new(false, minus(&o.set, &self.set)),
            (true, true) => StrPred::new(true, [self.set.clone(), o.set.clone()].concat()),
        }
    }

    fn not(&self) -> StrPred {
        StrPred::new(!self.negated, self.set.clone())
    }

    /// [`StrPred::and`] (`is_and`) or [`StrPred::or`] of two predicates the caller no longer
    /// needs: a union of the sets (`in` or `in`, `not in` and `not in`) reuses the first set
    /// and moves the strings of the second, instead of copying both (merging `x == "a" or x ==
    /// "b" or ...` one operand at a time copied every string once per operand after it).
    pub(crate) fn merge(self, o: StrPred, is_and: bool) -> StrPred {
        if self.negated == o.negated && self.negated == is_and {
            let mut set = self.set;
            set.extend(o.set);
            return StrPred::new(self.negated, set);
        }
        if is_and { self.and(&o) } else { self.or(&o) }
    }

    /// Disjunction: the same set as `not(not(self) and not(o))`, without the three copies.
    fn or(&self, o: &StrPred) -> StrPred {
        let has = |b: &[CompactStr], x: &CompactStr| b.binary_search(x).is_ok();
        let inter =
            |a: &[CompactStr], b: &[CompactStr]| a.iter().filter(|x| has(b, x)).cloned().collect();
        let minus =
            |a: &[CompactStr], b: &[CompactStr]| a.iter().filter(|x| !has(b, x)).cloned().collect();
        match (self.negated, o.negated) {
            (false, false) => StrPred::new(false, [self.set.as_slice(), &o.set].concat()),
            (false, true) => StrPred::new(true, minus(&o.set, &self.set)),
            (true, false) => StrPred::new(true, minus(&self.set, &o.set)),
            (true, true) => StrPred::new(true, inter(&self.set, &o.set)),
        }
    }
}

/// A predicate on one field's value, by class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pred {
    /// Strings: `==`, `!=`, `in`, `not in`.
    Str(StrPred),
    /// Numbers (integers and decimals): comparisons, `in`.
    Num(IntervalSet<Num>),
    /// Dates and date-times as instants: comparisons, `in`.
    Time(IntervalSet<Instant>),
    /// Booleans: which of true / false match.
    Bool {
        /// `true` matches.
        t: bool,
        /// `false` matches.
        f: bool,
    },
}

impl Pred {
    /// The class name, for grouping and messages.
    pub fn class(&self) -> u8 {
        match self {
            Pred::Str(_) => 0,
            Pred::Num(_) => 1,
            Pred::Time(_) => 2,
            Pred::Bool { .. } => 3,
        }
    }

    /// `x in set` over strings.
    pub fn str_in(negated: bool, set: Vec<CompactStr>) -> Pred {
        Pred::Str(StrPred::new(negated, set))
    }

    /// The three-valued test of a value.
    pub fn test(&self, v: &Value) -> Truth {
        match (self, v) {
            (_, Value::Null) => Truth::Unknown,
            (Pred::Str(p), Value::Str(s)) => Truth::from_bool(p.contains(s)),
            (Pred::Num(r), v) => {
                Num::of(v).map_or(Truth::Unknown, |n| Truth::from_bool(r.contains(&n)))
            }
            (Pred::Time(r), v) => {
                instant_of(v).map_or(Truth::Unknown, |i| Truth::from_bool(r.contains(&i)))
            }
            (Pred::Bool { t, f }, Value::Bool(b)) => Truth::from_bool(if *b { *t } else { *f }),
            _ => Truth::Unknown,
        }
    }

    /// Conjunction with a predicate of the same class (`None` across classes).
    pub fn and(&self, o: &Pred) -> Option<Pred> {
        Some(match (self, o) {
            (Pred::Str(a), Pred::Str(b)) => Pred::Str(a.and(b)),
            (Pred::Num(a), Pred::Num(b)) => Pred::Num(a.intersect(b)),
            (Pred::Time(a), Pred::Time(b)) => Pred::Time(a.intersect(b)),
            (Pred::Bool { t: t1, f: f1 }, Pred::Bool { t: t2, f: f2 }) => Pred::Bool {
                t: *t1 && *t2,
                f: *f1 && *f2,
            },
            _ => return None,
        })
    }

    /// Disjunction with a predicate of the same class.
    pub fn or(&self, o: &Pred) -> Option<Pred> {
        if let (Pred::Str(a), Pred::Str(b)) = (self, o) {
            return Some(Pred::Str(a.or(b)));
        }
        Some(self.not().and(&o.not())?.not())
    }

    /// The complement within the class.
    pub fn not(&self) -> Pred {
        match self {
            Pred::Str(a) => Pred::Str(a.not()),
            Pred::Num(a) => Pred::Num(a.complement()),
            Pred::Time(a) => Pred::Time(a.complement()),
            Pred::Bool { t, f } => Pred::Bool { t: !t, f: !f },
        }
    }

    /// True when no value of the class matches.
    pub fn is_empty(&self) -> bool {
        match self {
            Pred::Str(p) => !p.negated && p.set.is_empty(),
            Pred::Num(r) => r.is_empty(),
            Pred::Time(r) => r.is_empty(),
            Pred::Bool { t, f } => !t && !f,
        }
    }

    /// True when every value of the class matches.
    pub fn is_full(&self) -> bool {
        match self {
            Pred::Str(p) => p.negated && p.set.is_empty(),
            Pred::Num(r) => r.is_full(),
            Pred::Time(r) => r.is_full(),
            Pred::Bool { t, f } => *t && *f,
        }
    }
}

impl Pred {
    /// [`Pred::test`] on a borrowed view, without allocating.
    pub fn test_val(&self, v: &crate::record::Val<'_>) -> Truth {
        use crate::record::Val;
        match (self, v) {
            (_, Val::Null) => Truth::Unknown,
            (Pred::Str(p), Val::Str(s)) => Truth::from_bool(p.contains(s)),
            (Pred::Num(r), Val::Int(i)) => Truth::from_bool(r.contains(&Num::Int(*i))),
            (Pred::Num(r), Val::Dec(f)) if !f.is_nan() => {
                Truth::from_bool(r.contains(&Num::Dec(*f)))
            }
            (Pred::Time(r), v) => {
                instant_of_val(v).map_or(Truth::Unknown, |i| Truth::from_bool(r.contains(&i)))
            }
            (Pred::Bool { t, f }, Val::Bool(b)) => Truth::from_bool(if *b { *t } else { *f }),
            _ => Truth::Unknown,
        }
    }
}

/// The instant of a temporal view, parsing strings as dates or date-times.
pub fn instant_of_val(v: &crate::record::Val<'_>) -> Option<Instant> {
    use crate::record::Val;
    match v {
        Val::Date(d) => Some(instant(&value::date_start(*d))),
        Val::DateTime(t) => Some(instant(t)),
        Val::Str(s) => instant_of(&value::coerce_temporal(s)?),
        _ => None,
    }
}
