//! Compilation: optimized IR → a flat program over field slots. Field paths are resolved to
//! slots, string sets are built into the structure their size calls for, regexes are compiled
//! once; the evaluator ([`crate::eval`]) then does no lookup by name and no allocation for the
//! fused predicates.

use crate::ast::TestOp;
use crate::ir::{FieldTable, Node, NodeKind};
use crate::opt::pred::{Instant, IntervalSet, Num, Pred};
use crate::record::{FieldMeta, field_metas};
use crate::value::Value;
use rustc_hash::FxHashSet;

/// A string constant prepared for equality tests. Strings of up to 8 bytes (country codes,
/// most picklist values) compare as their length and a 64-bit key of their bytes, a few
/// instructions inline, instead of a call to `memcmp`.
#[derive(Debug, Clone)]
pub struct StrConst {
    s: Box<str>,
    /// [`short_key`] of `s` when it is at most 8 bytes long.
    key: Option<u64>,
}

impl StrConst {
    /// Prepares a constant.
    pub fn new(s: &str) -> StrConst {
        StrConst {
            s: s.into(),
            key: (s.len() <= 8).then(|| short_key(s.as_bytes())),
        }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.s
    }

    /// True when `v` is this string.
    #[inline(always)]
    pub fn is(&self, v: &str) -> bool {
        let (a, b) = (v.as_bytes(), self.s.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        match self.key {
            Some(k) => short_key(a) == k,
            None => a == b,
        }
    }
}

/// A 64-bit key of a string of at most 8 bytes that, between two strings of the same length,
/// is equal exactly when their bytes are: lengths 1–3 take the first, middle and last byte, 4–8
/// the first and the last four bytes (overlapping), so every byte is covered.
#[inline(always)]
pub fn short_key(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = b.first_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c));
        let hi = b.last_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c));
        u64::from(lo) | (u64::from(hi) << 32)
    } else if n > 0 {
        let at = |i: usize| u64::from(b.get(i).copied().unwrap_or(0));
        at(0) | (at(n / 2) << 8) | (at(n - 1) << 16)
    } else {
        0
    }
}

/// A set of strings, stored by size: linear scan when tiny, binary search when small, hashed
/// when large.
#[derive(Debug, Clone)]
pub enum StrSet {
    /// Up to 8 strings.
    Few(Box<[StrConst]>),
    /// Up to 64 strings of at most 8 bytes each, as (length, [`short_key`]) pairs, sorted:
    /// a binary search over integers (twelve country codes, most picklists).
    ShortSorted(Box<[(usize, u64)]>),
    /// Up to 64 strings, sorted.
    Sorted(Box<[Box<str>]>),
    /// More.
    Hashed(FxHashSet<Box<str>>),
}

impl StrSet {
    /// Builds a set from sorted, deduplicated strings.
    pub fn new(items: &[String]) -> StrSet {
        match items.len() {
            0..=8 => StrSet::Few(items.iter().map(|s| StrConst::new(s)).collect()),
            9..=64 if items.iter().all(|s| s.len() <= 8) => {
                let mut keys: Vec<(usize, u64)> = items
                    .iter()
                    .map(|s| (s.len(), short_key(s.as_bytes())))
                    .collect();
                keys.sort_unstable();
                keys.dedup();
                StrSet::ShortSorted(keys.into_boxed_slice())
            }
            9..=64 => StrSet::Sorted(items.iter().map(|s| s.clone().into_boxed_str()).collect()),
            _ => StrSet::Hashed(items.iter().map(|s| s.clone().into_boxed_str()).collect()),
        }
    }

    /// Membership.
    #[inline(always)]
    pub fn contains(&self, s: &str) -> bool {
        match self {
            StrSet::Few(v) => {
                if s.len() <= 8 {
                    // One key for the record's string, then a length and a key per element.
                    let k = short_key(s.as_bytes());
                    v.iter().any(|x| x.key == Some(k) && x.s.len() == s.len())
                } else {
                    v.iter().any(|x| *x.s == *s)
                }
            }
            StrSet::ShortSorted(keys) => {
                s.len() <= 8
                    && keys
                        .binary_search(&(s.len(), short_key(s.as_bytes())))
                        .is_ok()
            }
            StrSet::Sorted(v) => v.binary_search_by(|x| (**x).cmp(s)).is_ok(),
            StrSet::Hashed(h) => h.contains(s),
        }
    }
}

/// One operation of a compiled condition. Leaves read one slot; `General` evaluates an IR
/// subtree with the compiled value semantics.
#[derive(Debug, Clone)]
pub enum Op {
    /// A constant truth (`None` is unknown).
    Const(Option<bool>),
    /// Kleene `and`, stops at the first false.
    And(Box<[Op]>),
    /// Kleene `or`, stops at the first true.
    Or(Box<[Op]>),
    /// Kleene `not`.
    Not(Box<Op>),
    /// A string in (or not in) a set; unknown unless the slot holds a string.
    StrIn {
        /// The slot.
        slot: usize,
        /// The set.
        set: StrSet,
        /// `not in`.
        negated: bool,
    },
    /// `slot == "s"` (the most common leaf); unknown unless a string.
    StrEq {
        /// The slot.
        slot: usize,
        /// The string.
        s: StrConst,
        /// `!=`.
        negated: bool,
    },
    /// A number in a union of intervals; unknown unless a number.
    Num {
        /// The slot.
        slot: usize,
        /// The intervals.
        ranges: IntervalSet<Num>,
    },
    /// An instant in a union of intervals; unknown unless a date, date-time or (without a
    /// schema) a string that parses as one.
    Time {
        /// The slot.
        slot: usize,
        /// The intervals.
        ranges: IntervalSet<Instant>,
    },
    /// A boolean; unknown unless a boolean.
    Bool {
        /// The slot.
        slot: usize,
        /// `true` matches.
        t: bool,
        /// `false` matches.
        f: bool,
    },
    /// `is null` / `is empty` and negations on a slot; never unknown.
    Test {
        /// The slot.
        slot: usize,
        /// Which test.
        test: TestOp,
    },
    /// `slot contains "s"` on a list (multiselect) or a string (substring).
    ContainsStr {
        /// The slot.
        slot: usize,
        /// The needle.
        s: Box<str>,
    },
    /// `slot starts with "s"` / `ends with`.
    Affix {
        /// The slot.
        slot: usize,
        /// The affix.
        s: Box<str>,
        /// True for `ends with`.
        suffix: bool,
    },
    /// `slot matches re`.
    Regex {
        /// The slot.
        slot: usize,
        /// The compiled regex.
        re: regex::Regex,
    },
    /// Anything else, evaluated over values.
    General(Box<Node>),
}

/// A compiled condition: its operations and the fields it reads.
#[derive(Debug, Clone)]
pub struct Program {
    /// The root operation.
    pub root: Op,
    /// Field metadata by slot.
    pub fields: Vec<FieldMeta>,
    /// True when the condition reads the clock (`today()`, `now()`).
    pub uses_clock: bool,
}

impl Program {
    /// Compiles an (optimized) condition over a field table.
    pub fn new(node: &Node, fields: &FieldTable) -> Program {
        Program {
            root: compile(node),
            fields: field_metas(fields),
            uses_clock: uses_clock(node),
        }
    }
}

/// True when the condition reads the clock (`today()`, `now()`).
pub(crate) fn uses_clock(n: &Node) -> bool {
    match &n.kind {
        NodeKind::Call(crate::ir::Func::Today | crate::ir::Func::Now, _) => true,
        NodeKind::Const(_) | NodeKind::Field(_) | NodeKind::FieldPred(..) => false,
        NodeKind::Not(x)
        | NodeKind::Test(_, x)
        | NodeKind::Offset(x, _)
        | NodeKind::Matches(x, _) => uses_clock(x),
        NodeKind::And(xs) | NodeKind::Or(xs) | NodeKind::Coalesce(xs) | NodeKind::Call(_, xs) => {
            xs.iter().any(uses_clock)
        }
        NodeKind::Cmp(_, a, b)
        | NodeKind::Contains(a, b)
        | NodeKind::ContainsAny(a, b)
        | NodeKind::ContainsAll(a, b)
        | NodeKind::StartsWith(a, b)
        | NodeKind::EndsWith(a, b)
        | NodeKind::In {
            lhs: a, list: b, ..
        } => uses_clock(a) || uses_clock(b),
    }
}

fn slot_of(n: &Node) -> Option<usize> {
    match n.kind {
        NodeKind::Field(id) => Some(id.0 as usize),
        _ => None,
    }
}

fn const_str(n: &Node) -> Option<Box<str>> {
    match &n.kind {
        NodeKind::Const(Value::Str(s)) => Some(s.clone().into_boxed_str()),
        _ => None,
    }
}

/// Compiles one node in boolean position.
pub fn compile(n: &Node) -> Op {
    match &n.kind {
        NodeKind::Const(Value::Bool(b)) => Op::Const(Some(*b)),
        NodeKind::Const(_) => Op::Const(None),
        NodeKind::And(xs) => Op::And(xs.iter().map(compile).collect()),
        NodeKind::Or(xs) => Op::Or(xs.iter().map(compile).collect()),
        NodeKind::Not(x) => Op::Not(Box::new(compile(x))),
        NodeKind::FieldPred(id, p) => {
            let slot = id.0 as usize;
            match p {
                Pred::Str(sp) => match sp.set.as_slice() {
                    [one] => Op::StrEq {
                        slot,
                        s: StrConst::new(one),
                        negated: sp.negated,
                    },
                    items => Op::StrIn {
                        slot,
                        set: StrSet::new(items),
                        negated: sp.negated,
                    },
                },
                Pred::Num(r) => Op::Num {
                    slot,
                    ranges: r.clone(),
                },
                Pred::Time(r) => Op::Time {
                    slot,
                    ranges: r.clone(),
                },
                Pred::Bool { t, f } => Op::Bool { slot, t: *t, f: *f },
            }
        }
        NodeKind::Test(test, x) => match slot_of(x) {
            Some(slot) => Op::Test { slot, test: *test },
            None => Op::General(Box::new(n.clone())),
        },
        NodeKind::Contains(a, b) => match (slot_of(a), const_str(b)) {
            (Some(slot), Some(s)) => Op::ContainsStr { slot, s },
            _ => Op::General(Box::new(n.clone())),
        },
        NodeKind::StartsWith(a, b) | NodeKind::EndsWith(a, b) => match (slot_of(a), const_str(b)) {
            (Some(slot), Some(s)) => Op::Affix {
                slot,
                s,
                suffix: matches!(n.kind, NodeKind::EndsWith(..)),
            },
            _ => Op::General(Box::new(n.clone())),
        },
        NodeKind::Matches(a, re) => match slot_of(a) {
            Some(slot) => Op::Regex {
                slot,
                re: re.clone(),
            },
            None => Op::General(Box::new(n.clone())),
        },
        _ => Op::General(Box::new(n.clone())),
    }
}
