//! Block evaluation of flat programs over many records (`eval_batch`, `count_matches` and
//! their host-struct and single-thread forms).
//!
//! One record at a time, each step's outcome picks the next step: a jump on data, mispredicted
//! about as often as the outcome is uncertain, and each misprediction throws away the work
//! already begun on the following records, their memory loads included. Over a slice, the
//! records are taken in blocks of [`BLOCK`] and the program step by step instead: every record
//! of the block that reaches a step is tested there in one tight loop (one leaf, so one piece of
//! code and no jump on outcomes), and the outcomes send the records to the lists of their next
//! steps. The steps are visited in a topological order, so a step is visited once per block,
//! after every step that can lead to it.
//!
//! Invariant: each record gets the truth that evaluating it alone gives. Only the order of tests
//! across records changes, not which tests a record goes through (tests/opt_diff.rs,
//! `batches_equal_one_by_one`, compares them on generated conditions and records of every
//! kind).

use super::host::{HostFlat, HostLeaf};
use super::{Ctx, dec_truth, is_word, leaf, list_has_str, tv};
use crate::compile::{END_FALSE, END_TRUE, Flat, Leaf, Op, Program, Target, word};
use crate::record::{Access, GetterRead, HostAccess, HostMap, HostRecord, ListView};
use crate::value::Truth;
use chrono::{DateTime, Utc};

/// Records per block: the block's lists of record indices and outcomes stay in the first-level
/// cache, and a tight loop over a step's records has many records' loads in flight.
pub const BLOCK: usize = 256;

/// The order of a flat program's steps for block evaluation.
#[derive(Debug)]
pub struct Schedule {
    /// The steps reachable from the entry, in a topological order.
    order: Box<[u32]>,
    /// For each step, the list each outcome sends a record to (true, false, unknown): a step's
    /// own index, or `steps`, `steps + 1`, `steps + 2` for the ends.
    next: Box<[[u32; 3]]>,
    /// The list of the entry.
    entry: u32,
    /// The number of steps.
    steps: usize,
}

impl Schedule {
    /// The schedule of a program of `steps` steps whose step `i` goes to `next(i)`; `None` when
    /// the steps have a cycle (no compiled program has one; it would never end).
    pub fn new(
        entry: Target,
        steps: usize,
        next: impl Fn(usize) -> [Target; 3],
    ) -> Option<Schedule> {
        let n = u32::try_from(steps).ok()?;
        let list = |t: Target| -> u32 {
            if t < n {
                t
            } else if t == END_TRUE {
                n
            } else if t == END_FALSE {
                n + 1
            } else {
                // END_UNKNOWN, or a target past the steps, which `run` reads as unknown.
                n + 2
            }
        };
        let lists: Box<[[u32; 3]]> = (0..steps).map(|i| next(i).map(list)).collect();
        // The steps reachable from the entry, and how many edges lead to each.
        let mut indegree = vec![0u32; steps];
        let mut seen = vec![false; steps];
        let mut stack = Vec::new();
        let entry = list(entry);
        if entry < n {
            seen[entry as usize] = true;
            stack.push(entry);
        }
        let mut reachable = 0usize;
        while let Some(s) = stack.pop() {
            reachable += 1;
            for &t in lists.get(s as usize)? {
                if let Some(d) = indegree.get_mut(t as usize) {
                    *d += 1;
                    if !seen[t as usize] {
                        seen[t as usize] = true;
                        stack.push(t);
                    }
                }
            }
        }
        // Kahn's algorithm from the entry. An edge into the entry closes a cycle.
        let mut order = Vec::with_capacity(reachable);
        if entry < n {
            if indegree.get(entry as usize) != Some(&0) {
                return None;
            }
            stack.push(entry);
        }
        while let Some(s) = stack.pop() {
            order.push(s);
            for &t in lists.get(s as usize)? {
                if let Some(d) = indegree.get_mut(t as usize) {
                    // Each edge is counted once and taken once: never below zero.
                    *d = d.checked_sub(1)?;
                    if *d == 0 {
                        stack.push(t);
                    }
                }
            }
        }
        (order.len() == reachable).then(|| Schedule {
            order: order.into(),
            next: lists,
            entry,
            steps,
        })
    }

    /// The schedule of a flat program.
    pub fn of(flat: &Flat) -> Option<Schedule> {
        Schedule::new(flat.entry, flat.steps.len(), |i| flat.steps[i].next)
    }

    /// The schedule of a bound host program.
    pub(crate) fn of_host<T: ?Sized>(flat: &HostFlat<T>) -> Option<Schedule> {
        Schedule::new(flat.entry, flat.steps.len(), |i| flat.steps[i].next)
    }

    /// Runs the schedule over `records`, block by block. `test(step, block, records, parts)`
    /// tests the step's leaf on the listed records of the block and sorts them by outcome
    /// into `parts` ([`scan`]); `done(start, records, truth)` receives, for each block
    /// (starting at `start` in `records`), the records (indices in the block) that ended with
    /// each truth.
    fn run<Rec>(
        &self,
        records: &[Rec],
        mut test: impl FnMut(usize, &[Rec], &[u32], &mut Parts) -> [usize; 3],
        mut done: impl FnMut(usize, &[u32], Truth),
    ) {
        let n = self.steps;
        let mut lists: Vec<Vec<u32>> = (0..n + 3).map(|_| Vec::new()).collect();
        let mut parts = Box::new(Parts([[0; BLOCK]; 3]));
        for (b, block) in records.chunks(BLOCK).enumerate() {
            // A block has at most BLOCK (256) records: its indices fit in u32.
            let len = block.len() as u32;
            if let Some(entry) = lists.get_mut(self.entry as usize) {
                entry.extend(0..len);
            }
            for &step in self.order.iter() {
                let step = step as usize;
                let (Some(recs), Some(next)) = (lists.get_mut(step), self.next.get(step)) else {
                    continue;
                };
                let mut recs = std::mem::take(recs);
                if !recs.is_empty() {
                    let counts = test(step, block, &recs, &mut parts);
                    for ((part, count), to) in parts.0.iter().zip(counts).zip(next) {
                        if let (Some(to), Some(part)) =
                            (lists.get_mut(*to as usize), part.get(..count))
                        {
                            to.extend_from_slice(part);
                        }
                    }
                }
                recs.clear();
                if let Some(list) = lists.get_mut(step) {
                    *list = recs;
                }
            }
            let start = b * BLOCK;
            for (k, truth) in [Truth::True, Truth::False, Truth::Unknown]
                .into_iter()
                .enumerate()
            {
                if let Some(end) = lists.get_mut(n + k) {
                    done(start, end, truth);
                    end.clear();
                }
            }
        }
    }
}

/// The records of a block that one step sends to each outcome (true, false, unknown).
pub struct Parts([[u32; BLOCK]; 3]);

/// Applies the test `f` to each listed record of the block and sorts the records by outcome
/// into `parts` ([`Sort`]). Returns the three counts. Out of line: one small function per kind
/// of leaf, whose loop keeps everything in registers.
#[inline(never)]
fn scan<'b, Rec>(
    block: &'b [Rec],
    recs: &[u32],
    parts: &mut Parts,
    mut f: impl FnMut(&'b Rec) -> Truth,
) -> [usize; 3] {
    let mut sort = Sort::new(parts);
    for &r in recs {
        // Every index is the block's.
        let Some(rec) = block.get(r as usize) else {
            continue;
        };
        sort.put(r, f(rec));
    }
    sort.counts()
}

/// The sorting of a step's records by outcome, with no jump on the outcome: each record is
/// written to all three lists and counted in one.
struct Sort<'p> {
    lists: &'p mut [[u32; BLOCK]; 3],
    counts: [usize; 3],
}

impl<'p> Sort<'p> {
    #[inline(always)]
    fn new(parts: &'p mut Parts) -> Self {
        Sort {
            lists: &mut parts.0,
            counts: [0; 3],
        }
    }

    #[inline(always)]
    fn put(&mut self, r: u32, t: Truth) {
        let [p0, p1, p2] = &mut *self.lists;
        let [c0, c1, c2] = &mut self.counts;
        // The counts are below the number of records seen, so below BLOCK: `% BLOCK` only
        // spares the bounds checks.
        p0[*c0 % BLOCK] = r;
        p1[*c1 % BLOCK] = r;
        p2[*c2 % BLOCK] = r;
        *c0 += usize::from(t == Truth::True);
        *c1 += usize::from(t == Truth::False);
        *c2 += usize::from(t == Truth::Unknown);
    }

    #[inline(always)]
    fn counts(&self) -> [usize; 3] {
        self.counts
    }
}

/// [`scan`] for a leaf bound to a host type's field `at`: the field is read through
/// [`HostRecord::each`], whose loop has the getter's code inlined; `f` tests a value that is
/// not null.
#[inline(never)]
fn scan_field<'b, T: HostRecord, V: GetterRead<'b, T>>(
    block: &'b [T],
    recs: &[u32],
    parts: &mut Parts,
    at: usize,
    f: impl Fn(V) -> Truth,
) -> [usize; 3] {
    let mut sort = Sort::new(parts);
    T::each(block, recs, at, |r, v: Option<V>| {
        sort.put(r, v.map_or(Truth::Unknown, &f));
    });
    sort.counts()
}

/// Tests a flat program's step on the listed records of a block: one loop per kind of leaf.
fn test_step<'b, R: Access>(
    l: &'b Leaf,
    fields: &'b [crate::record::FieldMeta],
    now: DateTime<Utc>,
    block: &'b [R],
    recs: &[u32],
    parts: &mut Parts,
) -> [usize; 3] {
    let ctx = |record: &'b R| Ctx {
        record,
        fields,
        now,
    };
    match l {
        Leaf::Word { slot, word: w } => scan(block, recs, parts, |r| {
            ctx(r).with_str(*slot as usize, |s| tv(is_word(s, *w)))
        }),
        Leaf::Words { slot, words } => scan(block, recs, parts, |r| {
            ctx(r).with_str(*slot as usize, |s| tv(words.contains(word(s.as_bytes()))))
        }),
        _ => scan(block, recs, parts, |r| leaf(l, &ctx(r))),
    }
}

/// Tests a bound host program's step on the listed records of a block.
#[allow(clippy::too_many_arguments)]
fn test_host_step<T: HostRecord>(
    l: &HostLeaf<T>,
    program: &Program,
    map: &HostMap<T>,
    now: DateTime<Utc>,
    block: &[T],
    recs: &[u32],
    parts: &mut Parts,
) -> [usize; 3] {
    l.touch(block, recs);
    match l {
        HostLeaf::Word { at, word: w, .. } => {
            scan_field(block, recs, parts, *at, |s: &str| tv(is_word(s, *w)))
        }
        HostLeaf::Words { at, words, .. } => scan_field(block, recs, parts, *at, |s: &str| {
            tv(words.contains(word(s.as_bytes())))
        }),
        HostLeaf::Str { at, s, .. } => scan_field(block, recs, parts, *at, |v: &str| tv(v == &**s)),
        HostLeaf::Bool { at, t, f, .. } => scan_field(block, recs, parts, *at, |b: bool| {
            tv(if b { *t } else { *f })
        }),
        HostLeaf::Int { at, set, .. } => {
            scan_field(block, recs, parts, *at, |i: i64| tv(set.has_int(i)))
        }
        HostLeaf::Dec { at, set, .. } => {
            scan_field(block, recs, parts, *at, |x: f64| dec_truth(set, x))
        }
        HostLeaf::Has { at, s, .. } => scan_field(block, recs, parts, *at, |l: &[String]| {
            list_has_str(&ListView::Strings(l), s)
        }),
        HostLeaf::Other(l) => scan(block, recs, parts, |record| {
            let access = HostAccess { record, map };
            leaf(
                l,
                &Ctx {
                    record: &access,
                    fields: &program.fields,
                    now,
                },
            )
        }),
    }
}

impl Program {
    /// The schedule of the program's block evaluation (`None`: not a flat program).
    pub fn schedule(&self) -> Option<Schedule> {
        match &self.root {
            Op::Flat(flat) => Schedule::of(flat),
            _ => None,
        }
    }

    /// Evaluates every record on the calling thread, by blocks when the program is flat
    /// (`schedule` is [`Program::schedule`]); `done(start, indices, truth)` as in the schedule's
    /// run. Records of a non-flat program are evaluated one by one.
    pub(crate) fn each_truth<R: Access>(
        &self,
        schedule: Option<&Schedule>,
        records: &[R],
        now: DateTime<Utc>,
        mut done: impl FnMut(usize, &[u32], Truth),
    ) {
        match (&self.root, schedule) {
            (Op::Flat(flat), Some(s)) => s.run(
                records,
                |step, block, recs, parts| match flat.steps.get(step) {
                    Some(st) => test_step(&st.leaf, &self.fields, now, block, recs, parts),
                    None => [0; 3],
                },
                done,
            ),
            _ => {
                for (i, r) in records.iter().enumerate() {
                    // One record, index 0 of a block starting at i.
                    done(i, &[0], self.eval(r, now));
                }
            }
        }
    }
}

/// [`Program::each_truth`] for host structs, with the program bound to their getters when
/// `flat` is given (its schedule is `schedule`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn each_host_truth<T: HostRecord>(
    program: &Program,
    flat: Option<(&HostFlat<T>, &Schedule)>,
    map: &HostMap<T>,
    records: &[T],
    now: DateTime<Utc>,
    mut done: impl FnMut(usize, &[u32], Truth),
) {
    match flat {
        Some((flat, s)) => s.run(
            records,
            |step, block, recs, parts| match flat.steps.get(step) {
                Some(st) => test_host_step(&st.leaf, program, map, now, block, recs, parts),
                None => [0; 3],
            },
            done,
        ),
        None => {
            for (i, record) in records.iter().enumerate() {
                done(i, &[0], program.eval(&HostAccess { record, map }, now));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::END_UNKNOWN;

    #[test]
    fn steps_are_ordered_after_every_step_that_leads_to_them() {
        // 0 → 1 → 2 and 0 → 2; step 3 is unreachable.
        let next = [
            [1, 2, END_UNKNOWN],
            [2, END_FALSE, END_UNKNOWN],
            [END_TRUE, END_FALSE, END_UNKNOWN],
            [0, 0, 0],
        ];
        let s = Schedule::new(0, 4, |i| next[i]);
        assert_eq!(s.map(|s| s.order.to_vec()), Some(vec![0, 1, 2]));
    }

    #[test]
    fn a_cycle_has_no_schedule() {
        // Through the entry, and below it.
        let next = [[1, END_FALSE, END_UNKNOWN], [0, END_FALSE, END_UNKNOWN]];
        assert!(Schedule::new(0, 2, |i| next[i]).is_none());
        let next = [
            [1, END_FALSE, END_UNKNOWN],
            [2, 2, 2],
            [1, END_TRUE, END_TRUE],
        ];
        assert!(Schedule::new(0, 3, |i| next[i]).is_none());
    }

    #[test]
    fn a_constant_program_ends_every_record_at_once() {
        let s = Schedule::new(END_TRUE, 0, |_| [END_UNKNOWN; 3]);
        let mut seen = Vec::new();
        if let Some(s) = s {
            s.run(
                &[(); 300],
                |_, _, _, _| [0; 3],
                |start, rs, t| seen.push((start, rs.len(), t)),
            );
        }
        assert_eq!(seen.len(), 6);
        assert!(seen.contains(&(0, 256, Truth::True)));
        assert!(seen.contains(&(256, 44, Truth::True)));
    }
}
