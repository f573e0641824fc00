//! Flat programs bound to a host type's getters.
//!
//! A host struct read through a [`HostMap`] costs, per leaf, a lookup of the slot's entry, a
//! decoding of how it is read and a conversion to a [`Val`](crate::record::Val). Bound once per condition and
//! type ([`crate::condition::Condition::host_map`]), each step of the program holds the typed
//! getter of its field instead of a slot: evaluating a leaf is a call of that getter and a
//! comparison. A leaf whose field has no fitting getter keeps its general form, read through
//! the map.
//!
//! Invariant: a bound program has the same steps and targets as the program it was bound from,
//! and every bound leaf gives the truth the general leaf gives on the same record
//! (tests/opt_diff.rs compares host structs against the reference interpreter).

use super::{Ctx, dec_truth, end_truth, is_word, leaf, list_has_str, tv};
use crate::compile::{Flat, Leaf, NumSet, Op, Program, StrConst, Target, WordSet, word};
use crate::record::{Getter, GetterRead, HostAccess, HostMap, HostRecord, ListView};
use crate::value::Truth;
use chrono::{DateTime, Utc};
use std::fmt;
use std::sync::Arc;

/// A string getter.
type StrGet<T> = for<'a> fn(&'a T) -> Option<&'a str>;

/// A flat program whose leaves read a host type through its getters.
pub struct HostFlat<T: ?Sized> {
    pub(super) entry: Target,
    pub(super) steps: Box<[HostStep<T>]>,
}

pub(super) struct HostStep<T: ?Sized> {
    pub(super) leaf: HostLeaf<T>,
    pub(super) next: [Target; 3],
}

/// A leaf of a bound program: the leaf of [`Leaf`] with the getter of its field in place of
/// the slot, when the getter gives what the leaf tests. `repr(u8)`: the variant is a tag byte
/// (with `Other`'s [`Leaf`] as a niche, the dispatch decoded it first).
#[repr(u8)]
pub(super) enum HostLeaf<T: ?Sized> {
    Word {
        get: StrGet<T>,
        at: usize,
        word: u64,
    },
    Words {
        get: StrGet<T>,
        at: usize,
        words: Arc<WordSet>,
    },
    Str {
        get: StrGet<T>,
        at: usize,
        s: Arc<str>,
    },
    Bool {
        get: fn(&T) -> Option<bool>,
        at: usize,
        t: bool,
        f: bool,
    },
    Int {
        get: fn(&T) -> Option<i64>,
        at: usize,
        set: Arc<NumSet>,
    },
    Dec {
        get: fn(&T) -> Option<f64>,
        at: usize,
        set: Arc<NumSet>,
    },
    /// `contains` on a list of strings.
    Has {
        get: for<'a> fn(&'a T) -> Option<&'a [String]>,
        at: usize,
        s: StrConst,
    },
    /// Read through the map.
    Other(Leaf),
}

impl<T: ?Sized> Clone for HostLeaf<T> {
    fn clone(&self) -> Self {
        match self {
            HostLeaf::Word { get, at, word } => HostLeaf::Word {
                get: *get,
                at: *at,
                word: *word,
            },
            HostLeaf::Words { get, at, words } => HostLeaf::Words {
                get: *get,
                at: *at,
                words: words.clone(),
            },
            HostLeaf::Str { get, at, s } => HostLeaf::Str {
                get: *get,
                at: *at,
                s: s.clone(),
            },
            HostLeaf::Bool { get, at, t, f } => HostLeaf::Bool {
                get: *get,
                at: *at,
                t: *t,
                f: *f,
            },
            HostLeaf::Int { get, at, set } => HostLeaf::Int {
                get: *get,
                at: *at,
                set: set.clone(),
            },
            HostLeaf::Dec { get, at, set } => HostLeaf::Dec {
                get: *get,
                at: *at,
                set: set.clone(),
            },
            HostLeaf::Has { get, at, s } => HostLeaf::Has {
                get: *get,
                at: *at,
                s: s.clone(),
            },
            HostLeaf::Other(l) => HostLeaf::Other(l.clone()),
        }
    }
}

impl<T: ?Sized> Clone for HostFlat<T> {
    fn clone(&self) -> Self {
        HostFlat {
            entry: self.entry,
            steps: self
                .steps
                .iter()
                .map(|s| HostStep {
                    leaf: s.leaf.clone(),
                    next: s.next,
                })
                .collect(),
        }
    }
}

impl<T: ?Sized> fmt::Debug for HostFlat<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = |l: &HostLeaf<T>| match l {
            HostLeaf::Word { .. } => "word",
            HostLeaf::Words { .. } => "words",
            HostLeaf::Str { .. } => "str",
            HostLeaf::Bool { .. } => "bool",
            HostLeaf::Int { .. } => "int",
            HostLeaf::Dec { .. } => "dec",
            HostLeaf::Has { .. } => "has",
            HostLeaf::Other(_) => "other",
        };
        f.debug_struct("HostFlat")
            .field("entry", &self.entry)
            .field(
                "steps",
                &self
                    .steps
                    .iter()
                    .map(|s| (kind(&s.leaf), s.next))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<T: ?Sized> HostFlat<T> {
    /// Binds a flat program to a host type: `getter(slot)` is the index in `T::FIELDS` and the
    /// getter of the field that reads the slot with no conversion for its kind, when there is
    /// one.
    pub(crate) fn bind(
        flat: &Flat,
        getter: impl Fn(u32) -> Option<(usize, Getter<T>)>,
    ) -> HostFlat<T> {
        let steps = flat
            .steps
            .iter()
            .map(|s| HostStep {
                leaf: bind_leaf(&s.leaf, &getter),
                next: s.next,
            })
            .collect();
        HostFlat {
            entry: flat.entry,
            steps,
        }
    }
}

impl<T: HostRecord> HostLeaf<T> {
    /// Reads what the leaf tests (for a string, its first byte) on each listed record of a
    /// block, before the step tests them ([`super::batch`]).
    ///
    /// A host struct's strings are on the heap, wherever the host allocated them, and its
    /// other fields are wherever the struct is: reading one is a cache miss, and that miss
    /// was most of the time of a record. A loop that only reads has many records' misses in
    /// flight at once, where the loop of the step's test (the read, the test and the sorting
    /// of the record by outcome) had few. Only the records that reach the step are read.
    /// Measured in docs/performance.md (session 8).
    pub(super) fn touch(&self, block: &[T], recs: &[u32]) {
        match *self {
            HostLeaf::Word { at, .. } | HostLeaf::Words { at, .. } | HostLeaf::Str { at, .. } => {
                touch::<T, &str>(block, recs, at, |s| s.as_bytes().first().copied())
            }
            HostLeaf::Bool { at, .. } => touch::<T, bool>(block, recs, at, |b| Some(u8::from(b))),
            HostLeaf::Int { at, .. } => touch::<T, i64>(block, recs, at, |i| Some(i as u8)),
            HostLeaf::Dec { at, .. } => {
                touch::<T, f64>(block, recs, at, |x| Some(x.to_bits() as u8))
            }
            HostLeaf::Has { at, .. } => touch::<T, &[String]>(block, recs, at, |l| {
                l.first().and_then(|s| s.as_bytes().first().copied())
            }),
            // Read through the map, at the cost of a conversion: not worth reading twice.
            HostLeaf::Other(_) => {}
        }
    }
}

/// Reads the field `at` of each listed record of the block and applies `byte` to it, in a
/// loop that does nothing else ([`HostLeaf::touch`]).
#[inline(never)]
fn touch<'b, T: HostRecord, V: GetterRead<'b, T>>(
    block: &'b [T],
    recs: &[u32],
    at: usize,
    byte: impl Fn(V) -> Option<u8>,
) {
    let mut seen = 0u8;
    T::each(block, recs, at, |_, v: Option<V>| {
        seen ^= v.and_then(&byte).unwrap_or(0);
    });
    // The values were read for their cache lines: the sum only keeps the loop.
    std::hint::black_box(seen);
}

fn bind_leaf<T: ?Sized>(
    l: &Leaf,
    getter: impl Fn(u32) -> Option<(usize, Getter<T>)>,
) -> HostLeaf<T> {
    let slot = match l {
        Leaf::Word { slot, .. }
        | Leaf::Words { slot, .. }
        | Leaf::Str { slot, .. }
        | Leaf::Bool { slot, .. }
        | Leaf::Num { slot, .. } => Some(*slot),
        Leaf::Op(o) => match &**o {
            Op::ContainsStr { slot, .. } => u32::try_from(*slot).ok(),
            _ => None,
        },
    };
    let other = || HostLeaf::Other(l.clone());
    let Some((at, g)) = slot.and_then(getter) else {
        return other();
    };
    match (l, g) {
        (Leaf::Word { word, .. }, Getter::Str(get)) => HostLeaf::Word {
            get,
            at,
            word: *word,
        },
        (Leaf::Words { words, .. }, Getter::Str(get)) => HostLeaf::Words {
            get,
            at,
            words: words.clone(),
        },
        (Leaf::Str { s, .. }, Getter::Str(get)) => HostLeaf::Str {
            get,
            at,
            s: s.clone(),
        },
        (Leaf::Bool { t, f, .. }, Getter::Bool(get)) => HostLeaf::Bool {
            get,
            at,
            t: *t,
            f: *f,
        },
        (Leaf::Num { set, .. }, Getter::Int(get)) => HostLeaf::Int {
            get,
            at,
            set: set.clone(),
        },
        (Leaf::Num { set, .. }, Getter::Dec(get)) => HostLeaf::Dec {
            get,
            at,
            set: set.clone(),
        },
        (Leaf::Op(o), Getter::Strings(get)) => match &**o {
            Op::ContainsStr { s, .. } => HostLeaf::Has {
                get,
                at,
                s: s.clone(),
            },
            _ => other(),
        },
        _ => other(),
    }
}

/// Runs a bound program on a host struct. The context of the leaves left in their general
/// form is built only when one is reached: built for every record, it was stored to the stack
/// each time.
#[inline(always)]
pub(crate) fn run<T: HostRecord>(
    f: &HostFlat<T>,
    program: &Program,
    r: &T,
    map: &HostMap<T>,
    now: DateTime<Utc>,
) -> Truth {
    let mut at = f.entry;
    while let Some(step) = f.steps.get(at as usize) {
        at = step.next[test(&step.leaf, program, r, map, now) as usize];
    }
    end_truth(at)
}

/// The truth of a bound leaf on a host struct.
#[inline(always)]
pub(super) fn test<T: HostRecord>(
    l: &HostLeaf<T>,
    program: &Program,
    r: &T,
    map: &HostMap<T>,
    now: DateTime<Utc>,
) -> Truth {
    match l {
        HostLeaf::Word { get, word: w, .. } => {
            get(r).map_or(Truth::Unknown, |s| tv(is_word(s, *w)))
        }
        HostLeaf::Words { get, words, .. } => {
            get(r).map_or(Truth::Unknown, |s| tv(words.contains(word(s.as_bytes()))))
        }
        HostLeaf::Str { get, s, .. } => get(r).map_or(Truth::Unknown, |v| tv(v == &**s)),
        HostLeaf::Bool { get, t, f, .. } => {
            get(r).map_or(Truth::Unknown, |b| tv(if b { *t } else { *f }))
        }
        HostLeaf::Int { get, set, .. } => get(r).map_or(Truth::Unknown, |i| tv(set.has_int(i))),
        HostLeaf::Dec { get, set, .. } => match get(r) {
            Some(x) => dec_truth(set, x),
            None => Truth::Unknown,
        },
        HostLeaf::Has { get, s, .. } => {
            get(r).map_or(Truth::Unknown, |l| list_has_str(&ListView::Strings(l), s))
        }
        HostLeaf::Other(l) => other(l, program, r, map, now),
    }
}

/// A leaf left in its general form, read through the map; out of line: inlined, its paths made
/// the loop too large to be inlined into the caller's, and spilled its registers.
#[inline(never)]
fn other<T: HostRecord>(
    l: &Leaf,
    program: &Program,
    record: &T,
    map: &HostMap<T>,
    now: DateTime<Utc>,
) -> Truth {
    let access = HostAccess { record, map };
    let ctx = Ctx {
        record: &access,
        fields: &program.fields,
        now,
    };
    leaf(l, &ctx)
}
