//! Compilation: optimized IR → a flat program over field slots. Field paths are resolved to
//! slots, string sets are built into the structure their size calls for, regexes are compiled
//! once; the evaluator ([`crate::eval`]) then does no lookup by name and no allocation for the
//! fused predicates.

use crate::ast::TestOp;
use crate::ir::{FieldTable, Node, NodeKind};
use crate::opt::pred::{Bound, Instant, IntervalSet, Num, Pred, above, below};
use crate::phf::PerfectWords;
use crate::record::{FieldMeta, field_metas};
use crate::value::Value;
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

/// A string constant prepared for equality tests. Strings of up to 8 bytes (country codes,
/// most picklist values) compare as their length and a 64-bit key of their bytes, a few
/// instructions inline, instead of a call to `memcmp`.
#[derive(Debug, Clone)]
pub struct StrConst {
    /// The string: inline when it has a key (no allocation), else shared by the copies of a
    /// leaf that a flat program tests at several steps (and by clones of the program), so
    /// copying it is a reference count, not an allocation.
    s: ConstRepr,
    /// [`short_key`] of `s` when it is at most 8 bytes long.
    key: Option<u64>,
}

#[derive(Debug, Clone)]
enum ConstRepr {
    Short(arrayvec::ArrayString<8>),
    Shared(std::sync::Arc<str>),
}

impl StrConst {
    /// Prepares a constant.
    pub fn new(s: &str) -> StrConst {
        match arrayvec::ArrayString::from(s) {
            Ok(short) => StrConst {
                s: ConstRepr::Short(short),
                key: Some(short_key(s.as_bytes())),
            },
            Err(_) => StrConst {
                s: ConstRepr::Shared(s.into()),
                key: None,
            },
        }
    }

    /// The string.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.s {
            ConstRepr::Short(a) => a.as_str(),
            ConstRepr::Shared(s) => s,
        }
    }

    /// The string as a shared `Arc<str>` (allocated here when it was inline).
    fn shared(self) -> std::sync::Arc<str> {
        match self.s {
            ConstRepr::Short(a) => a.as_str().into(),
            ConstRepr::Shared(s) => s,
        }
    }

    /// True when `v` is this string.
    #[inline(always)]
    pub fn is(&self, v: &str) -> bool {
        let (a, b) = (v.as_bytes(), self.as_str().as_bytes());
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

/// Longest string, in bytes, that has a [`word`].
pub const WORD_MAX: usize = 7;

/// What [`word`] gives for a string longer than [`WORD_MAX`]: no word of a string is this value
/// (a word's top byte is a length of at most 7).
pub const NO_WORD: u64 = u64::MAX;

/// A string of up to 7 bytes as one 64-bit word: its bytes little-endian, zero-padded, and its
/// length in the top byte, so that two such strings are equal exactly when their words are
/// ([`NO_WORD`] for longer strings). The bytes are read as at most two overlapping 4-byte
/// loads (or two 2-byte loads, or one byte), with no loop and no call.
#[inline(always)]
pub fn word(b: &[u8]) -> u64 {
    let n = b.len();
    let bytes = if n >= 4 {
        if n > WORD_MAX {
            return NO_WORD;
        }
        let lo = b.first_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c));
        let hi = b.last_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c));
        // The overlapping bytes of the two loads land on the same positions with the same
        // values.
        u64::from(lo) | (u64::from(hi) << (8 * (n - 4)))
    } else if n >= 2 {
        // The same with two 2-byte loads.
        let lo = b.first_chunk::<2>().map_or(0, |c| u16::from_le_bytes(*c));
        let hi = b.last_chunk::<2>().map_or(0, |c| u16::from_le_bytes(*c));
        u64::from(lo) | (u64::from(hi) << (8 * (n - 2)))
    } else {
        b.first().map_or(0, |&c| u64::from(c))
    };
    bytes | ((n as u64) << 56)
}

/// A set of strings, stored by size: a scan when few, hashed (FxHash) otherwise. `cargo bench
/// --bench sets` (docs/performance.md, session 10) places the threshold, and found a binary
/// search (over the strings, or over short strings' integer keys) slower than hashing at every
/// size. Sets of strings of up to 7 bytes are [`WordSet`]s in flat programs.
#[derive(Debug, Clone)]
pub enum StrSet {
    /// Up to [`STRS_SCANNED`] strings.
    Few(Box<[Box<str>]>),
    /// More.
    Hashed(FxHashSet<Box<str>>),
}

/// Most strings a [`StrSet`] scans.
pub const STRS_SCANNED: usize = 4;

/// Most words a [`WordSet`] scans; larger sets are perfect-hashed. `cargo bench --bench sets`
/// (docs/performance.md, session 10) places the threshold: beyond 8 words, a scan costs more
/// than the perfect hash, whose cost does not grow with the set.
pub const WORDS_SCANNED: usize = 8;

/// A set of [`word`]s (strings of up to [`WORD_MAX`] bytes), stored by size.
#[derive(Debug, Clone)]
pub enum WordSet {
    /// Up to [`WORDS_SCANNED`] words, sorted, held inline (no second pointer to follow): a scan.
    Few(arrayvec::ArrayVec<u64, WORDS_SCANNED>),
    /// More: one hash, one slot, one comparison ([`crate::phf`]).
    Perfect(PerfectWords),
    /// More, sorted, when no perfect hash was found (building one is bounded; for distinct
    /// words it is found in practice): a binary search.
    Sorted(Box<[u64]>),
}

impl WordSet {
    /// The set of these words (repeated words count once).
    pub fn new(mut words: Vec<u64>) -> WordSet {
        words.sort_unstable();
        words.dedup();
        if let Ok(few) = arrayvec::ArrayVec::try_from(words.as_slice()) {
            return WordSet::Few(few);
        }
        match PerfectWords::new(&words) {
            Some(p) => WordSet::Perfect(p),
            None => WordSet::Sorted(words.into()),
        }
    }

    /// The words of the set, in no particular order.
    pub fn members(&self) -> Vec<u64> {
        match self {
            WordSet::Few(v) => v.to_vec(),
            WordSet::Perfect(p) => p.members().collect(),
            WordSet::Sorted(v) => v.to_vec(),
        }
    }

    /// Membership of a word.
    #[inline(always)]
    pub fn contains(&self, w: u64) -> bool {
        match self {
            WordSet::Few(v) => v.contains(&w),
            WordSet::Perfect(p) => p.contains(w),
            WordSet::Sorted(v) => v.binary_search(&w).is_ok(),
        }
    }
}

impl StrSet {
    /// Builds a set from sorted, deduplicated strings.
    pub fn new<S: AsRef<str>>(items: &[S]) -> StrSet {
        let items = items.iter().map(|s| Box::from(s.as_ref()));
        if items.len() <= STRS_SCANNED {
            StrSet::Few(items.collect())
        } else {
            StrSet::Hashed(items.collect())
        }
    }

    /// The set of the [`word`]s of the set's strings, when every one is at most [`WORD_MAX`]
    /// bytes long.
    pub fn words(&self) -> Option<Arc<WordSet>> {
        let words: Vec<u64> = match self {
            StrSet::Few(v) => v.iter().map(|x| word(x.as_bytes())).collect(),
            StrSet::Hashed(h) => h.iter().map(|x| word(x.as_bytes())).collect(),
        };
        if words.contains(&NO_WORD) {
            return None;
        }
        Some(Arc::new(WordSet::new(words)))
    }

    /// Membership.
    #[inline(always)]
    pub fn contains(&self, s: &str) -> bool {
        match self {
            StrSet::Few(v) => v.iter().any(|x| **x == *s),
            StrSet::Hashed(h) => h.contains(s),
        }
    }
}

/// A set of numbers for a numeric leaf: the exact interval set, and when it is one interval
/// (`age >= 18`, `x > 1000.5`, `1 <= n < 10`), its bounds precomputed for each kind of number,
/// so that the test of a record's number is two comparisons instead of a search over generic
/// [`Num`] bounds.
#[derive(Debug, Clone)]
pub struct NumSet {
    /// The exact set (every other case goes through it).
    ranges: IntervalSet<Num>,
    /// For one interval: the integers it holds are exactly `lo..=hi` (none when `lo > hi`).
    ints: Option<(i64, i64)>,
    /// For one interval whose bounds are exact as `f64`: the decimals it holds.
    decs: Option<DecRange>,
}

/// An interval of `f64` (bounds never NaN; infinite when unbounded).
#[derive(Debug, Clone, Copy)]
struct DecRange {
    lo: f64,
    lo_in: bool,
    hi: f64,
    hi_in: bool,
}

impl NumSet {
    /// For one interval: the integers it holds are exactly `lo..=hi` (none when `lo > hi`);
    /// `None` when the set is tested through its interval set.
    pub fn int_bounds(&self) -> Option<(i64, i64)> {
        self.ints
    }

    /// For one interval with exact `f64` bounds: `(lo, lo included, hi, hi included)`;
    /// `None` when the set is tested through its interval set.
    pub fn dec_bounds(&self) -> Option<(f64, bool, f64, bool)> {
        self.decs.map(|d| (d.lo, d.lo_in, d.hi, d.hi_in))
    }

    /// Prepares an interval set.
    pub fn new(ranges: &IntervalSet<Num>) -> NumSet {
        let (ints, decs) = match ranges.ranges.as_slice() {
            [(lo, hi)] => (Some(int_range(lo, hi)), dec_range(lo, hi)),
            _ => (None, None),
        };
        NumSet {
            ranges: ranges.clone(),
            ints,
            decs,
        }
    }

    /// The exact set.
    pub fn ranges(&self) -> &IntervalSet<Num> {
        &self.ranges
    }

    /// Membership of an integer.
    #[inline(always)]
    pub fn has_int(&self, i: i64) -> bool {
        match self.ints {
            Some((lo, hi)) => lo <= i && i <= hi,
            None => self.ranges.contains(&Num::Int(i)),
        }
    }

    /// Membership of a decimal (not NaN).
    #[inline(always)]
    pub fn has_dec(&self, f: f64) -> bool {
        match self.decs {
            Some(r) => (f > r.lo || (r.lo_in && f == r.lo)) && (f < r.hi || (r.hi_in && f == r.hi)),
            None => self.ranges.contains(&Num::Dec(f)),
        }
    }
}

/// The integers of one interval, as inclusive bounds found by a binary search with the exact
/// bound tests (which are monotone in the integer): right by construction, whatever the mix of
/// integer and decimal bounds. `(1, 0)` when it holds no integer.
fn int_range(lo: &Bound<Num>, hi: &Bound<Num>) -> (i64, i64) {
    // Integer and absent bounds (the common case) give the searches' answers directly.
    // The first integer at or above `lo`.
    let first = match lo {
        Bound::Unbounded => Some(i64::MIN),
        Bound::Included(Num::Int(a)) => Some(*a),
        Bound::Excluded(Num::Int(a)) => a.checked_add(1),
        _ => first_true(|x| above(lo, &Num::Int(x))),
    };
    // The first integer above `hi`, minus one.
    let past = match hi {
        Bound::Unbounded => None,
        Bound::Included(Num::Int(b)) => b.checked_add(1),
        Bound::Excluded(Num::Int(b)) => Some(*b),
        _ => first_true(|x| !below(hi, &Num::Int(x))),
    };
    match (first, past) {
        (None, _) => (1, 0),
        (Some(a), None) => (a, i64::MAX),
        (Some(a), Some(b)) => match b.checked_sub(1) {
            Some(b) => (a, b),
            None => (1, 0),
        },
    }
}

/// The smallest `i64` for which a monotone (false…true) predicate holds.
fn first_true(p: impl Fn(i64) -> bool) -> Option<i64> {
    if !p(i64::MAX) {
        return None;
    }
    // Invariant: p(hi) holds; p is false below lo.
    let (mut lo, mut hi) = (i128::from(i64::MIN), i128::from(i64::MAX));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let m = i64::try_from(mid).ok()?;
        if p(m) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    i64::try_from(lo).ok()
}

/// Largest magnitude up to which every integer is exact as an `f64`.
const F64_EXACT_INT: i64 = 1 << 53;

/// The decimals of one interval, when both bounds are exact as `f64` (decimals, and integers
/// of magnitude at most 2^53); `None` otherwise.
fn dec_range(lo: &Bound<Num>, hi: &Bound<Num>) -> Option<DecRange> {
    fn bound(b: &Bound<Num>, inf: f64) -> Option<(f64, bool)> {
        match *b {
            Bound::Unbounded => Some((inf, true)),
            Bound::Included(n) => exact(n).map(|f| (f, true)),
            Bound::Excluded(n) => exact(n).map(|f| (f, false)),
        }
    }
    fn exact(n: Num) -> Option<f64> {
        match n {
            Num::Dec(f) if !f.is_nan() => Some(f),
            Num::Int(i) if (-F64_EXACT_INT..=F64_EXACT_INT).contains(&i) => Some(i as f64),
            _ => None,
        }
    }
    let (lo, lo_in) = bound(lo, f64::NEG_INFINITY)?;
    let (hi, hi_in) = bound(hi, f64::INFINITY)?;
    Some(DecRange {
        lo,
        lo_in,
        hi,
        hi_in,
    })
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
        set: NumSet,
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
        s: StrConst,
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
    /// An `and`/`or`/`not` tree compiled to a flat program (see [`Flat`]).
    Flat(Box<Flat>),
}

/// Where a step of a [`Flat`] program goes next: the index of a step, or one of the three
/// ends ([`END_TRUE`], [`END_FALSE`], [`END_UNKNOWN`]), which are past every step.
pub type Target = u32;

/// The end of a flat program whose result is true.
pub const END_TRUE: Target = u32::MAX - 2;
/// The end of a flat program whose result is false.
pub const END_FALSE: Target = u32::MAX - 1;
/// The end of a flat program whose result is unknown.
pub const END_UNKNOWN: Target = u32::MAX;

/// One step of a flat program: a leaf test and where to go for each of its outcomes.
#[derive(Debug, Clone)]
pub struct Step {
    /// The leaf.
    pub leaf: Leaf,
    /// The next step for each outcome, indexed by `Truth as usize` (true, false, unknown).
    pub next: [Target; 3],
}

impl Step {
    /// Sets the step's leaf from a leaf operation. A negated string test is stored as the
    /// test itself with the true and false targets swapped (unknown stays unknown: a
    /// negation in three-valued logic).
    pub fn set_leaf(&mut self, op: Op) {
        let (leaf, negated) = Leaf::of(op);
        self.put(leaf, negated);
    }

    /// Sets the step's leaf from its flat form ([`Leaf::of`]).
    fn put(&mut self, leaf: Leaf, negated: bool) {
        if negated {
            self.next.swap(0, 1);
        }
        self.leaf = leaf;
    }
}

/// The leaf of a flat program's step: the common tests in a small, flat form (a one-byte tag,
/// the slot and the constant inline), everything else as the operation it was compiled to.
/// Negation is not here: it is in the step's targets ([`Step::set_leaf`]).
#[derive(Debug, Clone)]
pub enum Leaf {
    /// The slot holds a string whose [`word`] is this (a string of at most 7 bytes).
    Word {
        /// The slot.
        slot: u32,
        /// The constant's word.
        word: u64,
    },
    /// The slot holds a string whose [`word`] is one of these (every constant of the set is at
    /// most 7 bytes long).
    Words {
        /// The slot.
        slot: u32,
        /// The constants' words.
        words: Arc<WordSet>,
    },
    /// The slot holds this (longer) string.
    Str {
        /// The slot.
        slot: u32,
        /// The constant (shared by the steps that test it).
        s: Arc<str>,
    },
    /// The slot holds a boolean that matches.
    Bool {
        /// The slot.
        slot: u32,
        /// `true` matches.
        t: bool,
        /// `false` matches.
        f: bool,
    },
    /// The slot holds a number in the set.
    Num {
        /// The slot.
        slot: u32,
        /// The set.
        set: Arc<NumSet>,
    },
    /// Any other leaf operation (never `Const`, `And`, `Or`, `Not` or `Flat`).
    Op(Arc<Op>),
}

impl Leaf {
    /// What a step holds until its leaf is set.
    const PLACEHOLDER: Leaf = Leaf::Bool {
        slot: 0,
        t: false,
        f: false,
    };

    /// The flat form of a leaf operation, and whether it is negated (see [`Step::set_leaf`]).
    pub fn of(op: Op) -> (Leaf, bool) {
        let slot32 = |slot: usize| u32::try_from(slot).ok();
        match op {
            Op::StrEq { slot, s, negated } => match slot32(slot) {
                Some(slot) if s.as_str().len() <= WORD_MAX => (
                    Leaf::Word {
                        slot,
                        word: word(s.as_str().as_bytes()),
                    },
                    negated,
                ),
                Some(slot) => (
                    Leaf::Str {
                        slot,
                        s: s.shared(),
                    },
                    negated,
                ),
                None => (Leaf::Op(Arc::new(Op::StrEq { slot, s, negated })), false),
            },
            Op::StrIn { slot, set, negated } => match (slot32(slot), set.words()) {
                (Some(slot), Some(words)) => (Leaf::Words { slot, words }, negated),
                _ => (Leaf::Op(Arc::new(Op::StrIn { slot, set, negated })), false),
            },
            Op::Bool { slot, t, f } => match slot32(slot) {
                Some(slot) => (Leaf::Bool { slot, t, f }, false),
                None => (Leaf::Op(Arc::new(Op::Bool { slot, t, f })), false),
            },
            Op::Num { slot, set } => match slot32(slot) {
                Some(slot) => (
                    Leaf::Num {
                        slot,
                        set: Arc::new(set),
                    },
                    false,
                ),
                None => (Leaf::Op(Arc::new(Op::Num { slot, set })), false),
            },
            other => (Leaf::Op(Arc::new(other)), false),
        }
    }
}

/// An `and`/`or`/`not` tree compiled to a branch program: each step tests one leaf and jumps
/// on its outcome, so evaluation is a loop over leaves with no recursion, no accumulator and
/// no per-junction bookkeeping.
///
/// Kleene logic needs to remember whether an operand of an `and` (or `or`) was unknown: that
/// is encoded in the position, not in a register. The operands after an unknown one are
/// compiled a second time with "true" (for `and`; "false" for `or`) leading to unknown instead.
/// A sub-program is compiled at most once per distinct triple of targets (memoized), and the
/// program is given up (the tree is kept) past [`Flat::MAX_STEPS_PER_LEAF`] steps per leaf,
/// since the number of copies can double with each level of nesting.
///
/// Invariants: every `next` is either an index into `steps` or one of the three ends;
/// `entry` too (a constant program has no step); steps are laid out roughly in evaluation
/// order; the result is the tree's truth for every record (tests/opt_diff.rs, tests/flat.rs).
#[derive(Debug, Clone)]
pub struct Flat {
    /// The first step (or an end).
    pub entry: Target,
    /// The steps.
    pub steps: Box<[Step]>,
}

impl Flat {
    /// Size limit, in steps per leaf of the tree (plus a constant).
    pub const MAX_STEPS_PER_LEAF: usize = 8;

    /// Compiles an operation tree (`None` when the program would be too large).
    pub fn new(tree: &Op) -> Option<Flat> {
        let (entry, emitted) = emit_tree(tree)?;
        Some(Flat::finish(
            entry,
            emitted.iter().map(|&(leaf, next)| (leaf.clone(), next)),
        ))
    }

    /// [`Flat::new`], moving the leaves out of the tree (left with constants in their place)
    /// when it succeeds, instead of copying them: each leaf is copied only for its second and
    /// later steps.
    fn take(tree: &mut Op) -> Option<Flat> {
        let (entry, emitted) = emit_tree(tree)?;
        // The leaf of each emitted step by address, so that the tree can be borrowed mutably
        // (collected in place: the two element types have the same layout).
        let emitted: Vec<(usize, [Target; 3])> = emitted
            .into_iter()
            .map(|(leaf, next)| (std::ptr::from_ref::<Op>(leaf) as usize, next))
            .collect();
        let mut flat = Flat::finish(
            entry,
            emitted.iter().map(|&(_, next)| (Op::Const(None), next)),
        );
        let uses = Uses::new(&emitted);
        fill_leaves(tree, &uses, &mut flat.steps);
        Some(flat)
    }

    /// Lays out emitted steps (continuation first, given in emission order) in run order.
    fn finish(
        entry: Target,
        emitted: impl DoubleEndedIterator<Item = (Op, [Target; 3])> + ExactSizeIterator,
    ) -> Flat {
        // Steps were emitted continuation first; reversed, they run mostly forward.
        let n = emitted.len();
        let remap = |t: Target| -> Target {
            if (t as usize) < n {
                // `n - 1 - t` is below `n`, which is at most `END_TRUE`.
                (n - 1 - t as usize) as Target
            } else {
                t
            }
        };
        // Built at its final size: one allocation, and no copy to shrink it.
        let mut steps = Vec::with_capacity(n);
        for (leaf, next) in emitted.rev() {
            let mut step = Step {
                leaf: Leaf::PLACEHOLDER,
                next: next.map(remap),
            };
            // `Flat::take` passes constants here, and sets the leaves with `fill_leaves`.
            if !matches!(leaf, Op::Const(_)) {
                step.set_leaf(leaf);
            }
            steps.push(step);
        }
        Flat {
            entry: remap(entry),
            steps: steps.into_boxed_slice(),
        }
    }
}

/// An emitted step: the leaf it tests and its targets.
type Emitted<'t> = (&'t Op, [Target; 3]);

/// Emits a tree: its entry, and the leaf and targets of each step, in emission order
/// (continuation first; [`Flat::finish`] lays them out).
fn emit_tree(tree: &Op) -> Option<(Target, Vec<Emitted<'_>>)> {
    let leaves = count_leaves(tree);
    // Sized for a tree with a few unknown-path copies (most conditions have about two steps
    // per leaf): growing the vector step by step cost more than the rest.
    let cap = leaves.saturating_mul(3).min(1 << 12);
    let mut b = FlatBuilder {
        steps: Vec::with_capacity(cap),
        memo: Memo {
            few: arrayvec::ArrayVec::new(),
            many: FxHashMap::default(),
            many_cap: leaves.saturating_mul(4).min(1 << 14),
        },
        limit: leaves
            .saturating_mul(Flat::MAX_STEPS_PER_LEAF)
            .saturating_add(16)
            .min(END_TRUE as usize),
    };
    let entry = b.emit(tree, [END_TRUE, END_FALSE, END_UNKNOWN])?;
    Some((entry, b.steps))
}

/// Up to this many emitted steps, the steps of a leaf are found by a scan of the emitted
/// steps; past it, by a binary search of sorted (leaf address, step) pairs.
const SCAN_USES_UP_TO: usize = 64;

/// The steps that test each leaf of a tree, from the emitted steps' (leaf address, targets).
enum Uses<'e> {
    /// Few steps: scanned.
    Scan(&'e [(usize, [Target; 3])]),
    /// (leaf address, step in run order) pairs, sorted.
    Sorted(Vec<(usize, usize)>),
}

impl<'e> Uses<'e> {
    fn new(emitted: &'e [(usize, [Target; 3])]) -> Uses<'e> {
        let n = emitted.len();
        if n <= SCAN_USES_UP_TO {
            return Uses::Scan(emitted);
        }
        let mut uses: Vec<(usize, usize)> = emitted
            .iter()
            .enumerate()
            .map(|(i, &(at, _))| (at, n - 1 - i))
            .collect();
        uses.sort_unstable();
        Uses::Sorted(uses)
    }

    /// Calls `f` with each step (in run order) that tests the leaf at address `at`.
    fn each(&self, at: usize, mut f: impl FnMut(usize)) {
        match self {
            Uses::Scan(emitted) => {
                let n = emitted.len();
                for (i, &(a, _)) in emitted.iter().enumerate() {
                    if a == at {
                        f(n - 1 - i);
                    }
                }
            }
            Uses::Sorted(uses) => {
                let from = uses.partition_point(|&(a, _)| a < at);
                for &(_, i) in uses
                    .get(from..)
                    .unwrap_or(&[])
                    .iter()
                    .take_while(|&&(a, _)| a == at)
                {
                    f(i);
                }
            }
        }
    }
}

/// Moves each leaf of `o` into the steps that test it, copying it for all but one.
fn fill_leaves(o: &mut Op, uses: &Uses<'_>, steps: &mut [Step]) {
    match o {
        Op::And(xs) | Op::Or(xs) => {
            for x in xs.iter_mut() {
                fill_leaves(x, uses, steps);
            }
        }
        Op::Not(x) => fill_leaves(x, uses, steps),
        Op::Const(_) | Op::Flat(_) => {}
        leaf => {
            let at = std::ptr::from_ref::<Op>(leaf) as usize;
            // Converted once; a leaf's copies share its constants (a reference count each).
            let (flat, negated) = Leaf::of(std::mem::replace(leaf, Op::Const(None)));
            uses.each(at, |i| {
                if let Some(s) = steps.get_mut(i) {
                    s.put(flat.clone(), negated);
                }
            });
        }
    }
}

fn count_leaves(o: &Op) -> usize {
    match o {
        Op::And(xs) | Op::Or(xs) => xs.iter().map(count_leaves).sum(),
        Op::Not(x) => count_leaves(x),
        _ => 1,
    }
}

/// A memo key: an operation's address and the targets it was emitted with.
type MemoKey = (usize, [Target; 3]);

/// Entries a [`Memo`] holds before it switches to a hash map.
const MEMO_FEW: usize = 32;

/// The memo of a [`FlatBuilder`]: searched linearly while it holds few entries (no
/// allocation for the common, small condition), hashed past that.
struct Memo {
    few: arrayvec::ArrayVec<(MemoKey, Target), MEMO_FEW>,
    many: FxHashMap<MemoKey, Target>,
    /// The capacity to give `many` when it is first needed.
    many_cap: usize,
}

impl Memo {
    fn get(&self, key: &MemoKey) -> Option<Target> {
        if self.many.is_empty() {
            self.few.iter().find(|(k, _)| k == key).map(|&(_, e)| e)
        } else {
            self.many.get(key).copied()
        }
    }

    /// Records a key not yet recorded ([`FlatBuilder::emit`] looks a key up before emitting
    /// it, and an operation is never below itself).
    fn insert(&mut self, key: MemoKey, entry: Target) {
        if self.many.is_empty() {
            let Err(full) = self.few.try_push((key, entry)) else {
                return;
            };
            self.many.reserve(self.many_cap.max(2 * MEMO_FEW));
            self.many.extend(self.few.drain(..));
            let (key, entry) = full.element();
            self.many.insert(key, entry);
            return;
        }
        self.many.insert(key, entry);
    }
}

struct FlatBuilder<'t> {
    /// The leaf and targets of each step, in emission order.
    steps: Vec<Emitted<'t>>,
    /// (operation's address, targets) → entry.
    memo: Memo,
    limit: usize,
}

impl<'t> FlatBuilder<'t> {
    /// Emits `o` with its three outcomes going to `t` (true, false, unknown); returns its entry.
    fn emit(&mut self, o: &'t Op, t: [Target; 3]) -> Option<Target> {
        let [tt, tf, tu] = t;
        let key = (std::ptr::from_ref(o) as usize, t);
        if let Some(e) = self.memo.get(&key) {
            return Some(e);
        }
        let entry = match o {
            Op::Const(Some(true)) => tt,
            Op::Const(Some(false)) => tf,
            Op::Const(None) => tu,
            Op::Not(x) => self.emit(x, [tf, tt, tu])?,
            Op::And(xs) => {
                // From the last operand back: `cont` runs the operands from here on when none
                // before was unknown, `cont_u` when one was (true then means unknown).
                let (mut cont, mut cont_u) = (tt, tu);
                for (i, x) in xs.iter().enumerate().rev() {
                    let next = self.emit(x, [cont, tf, cont_u])?;
                    // The first operand is never reached after an unknown one.
                    if i > 0 {
                        cont_u = self.emit(x, [cont_u, tf, cont_u])?;
                    }
                    cont = next;
                }
                cont
            }
            Op::Or(xs) => {
                let (mut cont, mut cont_u) = (tf, tu);
                for (i, x) in xs.iter().enumerate().rev() {
                    let next = self.emit(x, [tt, cont, cont_u])?;
                    if i > 0 {
                        cont_u = self.emit(x, [tt, cont_u, cont_u])?;
                    }
                    cont = next;
                }
                cont
            }
            // Not produced by `compile_tree`.
            Op::Flat(_) => return None,
            leaf => {
                if self.steps.len() >= self.limit {
                    return None;
                }
                let at = Target::try_from(self.steps.len()).ok()?;
                self.steps.push((leaf, t));
                at
            }
        };
        self.memo.insert(key, entry);
        Some(entry)
    }
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
        NodeKind::Const(Value::Str(s)) => Some(s.as_str().into()),
        _ => None,
    }
}

/// Compiles one node in boolean position: an operation tree, then, unless it is a constant, a
/// flat program ([`Flat`]) when that is not too large (else the tree). A lone leaf becomes a
/// one-step program, which runs the leaf's flat form ([`Leaf`]).
pub fn compile(n: &Node) -> Op {
    let mut tree = compile_tree(n);
    match tree {
        Op::Const(_) | Op::Flat(_) => tree,
        _ => match Flat::take(&mut tree) {
            Some(flat) => Op::Flat(Box::new(flat)),
            None => tree,
        },
    }
}

/// Compiles one node in boolean position to an operation tree (never [`Op::Flat`]).
pub fn compile_tree(n: &Node) -> Op {
    match &n.kind {
        NodeKind::Const(Value::Bool(b)) => Op::Const(Some(*b)),
        NodeKind::Const(_) => Op::Const(None),
        NodeKind::And(xs) => Op::And(xs.iter().map(compile_tree).collect()),
        NodeKind::Or(xs) => Op::Or(xs.iter().map(compile_tree).collect()),
        NodeKind::Not(x) => Op::Not(Box::new(compile_tree(x))),
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
                    set: NumSet::new(r),
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
            (Some(slot), Some(s)) => Op::ContainsStr {
                slot,
                s: StrConst::new(&s),
            },
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
