//! A single compiled condition: the library entry point for hosts that evaluate one condition
//! outside a rule set.

use crate::compile::Program;
use crate::diagnostics::{Diagnostic, render};
use crate::interp::{self, Env};
use crate::ir::{FieldTable, Node};
use crate::record::{
    Access, CompactRecord, HostAccess, HostMap, HostRecord, JsonRecord, Projection,
};
use crate::schema::Schema;
use crate::span::{SourceId, Sources};
use crate::value::{Clock, Truth};

/// A checked condition, ready to evaluate.
#[derive(Clone)]
pub struct Condition {
    node: Node,
    optimized: Node,
    program: Program,
    /// Built on first use ([`Condition::projection`], [`Condition::parse_record`]): most hosts
    /// evaluate JSON values or their own structs and never need it, and building it was about a
    /// tenth of the allocations of a compilation.
    projection: std::sync::OnceLock<Projection>,
    fields: FieldTable,
    source: String,
    /// Distinct for each compilation (shared by clones): what a [`HostMap`] is bound to.
    id: u64,
    /// [`Condition::fingerprint`], computed on first use.
    fingerprint: std::sync::OnceLock<u64>,
}

/// Records per task of the parallel batch functions.
const PAR_CHUNK: usize = 4096;

/// What the batch functions are written with: `each(records, done)` calls
/// `done(start, indices, truth)` for the records of a slice, as
/// [`crate::compile::Program::each_truth`].
type Done<'d> = &'d mut dyn FnMut(usize, &[u32], Truth);

/// Counts the records that `each` finds true.
fn count_by<Rec>(records: &[Rec], each: impl Fn(&[Rec], Done<'_>)) -> usize {
    let mut n = 0;
    each(records, &mut |_, rs, t| n += count_true(rs, t));
    n
}

/// [`count_by`] on tasks of [`PAR_CHUNK`] records, in parallel.
fn par_count_by<Rec: Sync>(records: &[Rec], each: impl Fn(&[Rec], Done<'_>) + Sync) -> usize {
    use rayon::prelude::*;
    records
        .par_chunks(PAR_CHUNK)
        .map(|chunk| count_by(chunk, &each))
        .sum()
}

/// The truth `each` gives every record, in order.
fn eval_by<Rec>(records: &[Rec], each: impl Fn(&[Rec], Done<'_>)) -> Vec<Truth> {
    let mut out = vec![Truth::Unknown; records.len()];
    each(records, &mut |start, rs, t| {
        write_truths(&mut out, start, rs, t)
    });
    out
}

/// [`eval_by`] on tasks of [`PAR_CHUNK`] records, in parallel.
fn par_eval_by<Rec: Sync>(records: &[Rec], each: impl Fn(&[Rec], Done<'_>) + Sync) -> Vec<Truth> {
    use rayon::prelude::*;
    let mut out = vec![Truth::Unknown; records.len()];
    out.par_chunks_mut(PAR_CHUNK)
        .zip(records.par_chunks(PAR_CHUNK))
        .for_each(|(out, chunk)| each(chunk, &mut |start, rs, t| write_truths(out, start, rs, t)));
    out
}

/// How many of a block's records that ended with `t` match.
#[inline(always)]
fn count_true(records: &[u32], t: Truth) -> usize {
    if t == Truth::True { records.len() } else { 0 }
}

/// Writes `t` for a block's records (indices from `start`).
#[inline(always)]
fn write_truths(out: &mut [Truth], start: usize, records: &[u32], t: Truth) {
    for &i in records {
        if let Some(o) = out.get_mut(start + i as usize) {
            *o = t;
        }
    }
}

/// The identity of the next compiled condition.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl std::fmt::Debug for Condition {
    /// As the derived impl printed it when the projection was built eagerly.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("node", &self.node)
            .field("optimized", &self.optimized)
            .field("program", &self.program)
            .field("projection", self.projection())
            .field("fields", &self.fields)
            .field("source", &self.source)
            .finish()
    }
}

/// Why a condition did not compile: its diagnostics and the source they point into.
#[derive(Debug, Clone)]
pub struct CompileError {
    /// Every error and warning found.
    pub diagnostics: Vec<Diagnostic>,
    /// The source, for rendering.
    pub sources: Sources,
}

impl CompileError {
    /// Renders the diagnostics for people (no colour).
    pub fn render(&self) -> String {
        render::human(&self.diagnostics, &self.sources, false)
    }
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CompileError {}

impl Condition {
    /// Parses and checks a condition, against a schema when one is given. Warnings do not stop
    /// compilation; [`Condition::compile_with_warnings`] returns them.
    pub fn compile(src: &str, schema: Option<&Schema>) -> Result<Condition, CompileError> {
        Condition::compile_with_warnings(src, schema).map(|(c, _)| c)
    }

    /// Like [`Condition::compile`], also returning the warnings.
    pub fn compile_with_warnings(
        src: &str,
        schema: Option<&Schema>,
    ) -> Result<(Condition, Vec<Diagnostic>), CompileError> {
        // Parsing, checking, optimizing and compiling all recurse once per nesting level; a
        // deeply nested source runs them on a helper thread with a large stack, so that the
        // 256 levels the language allows never overflow the caller's stack.
        // The pre-scan that measures the depth is also the parser's first step: done once.
        let scan = crate::syntax::prescan::scan(src);
        crate::syntax::on_deep_stack(scan.max_depth, || {
            Condition::compile_here(src, schema, scan)
        })
    }

    fn compile_here(
        src: &str,
        schema: Option<&Schema>,
        scan: crate::syntax::prescan::Scan,
    ) -> Result<(Condition, Vec<Diagnostic>), CompileError> {
        // The source set is only needed to render errors: built when compilation fails. Its
        // one file is the first, whose id is 0.
        let id = SourceId(0);
        let fail = |diagnostics: Vec<Diagnostic>| {
            let mut sources = Sources::new();
            let added = sources.add("<condition>", src);
            debug_assert_eq!(added, id);
            CompileError {
                diagnostics: diagnostics.into_iter().map(|d| d.in_source(id)).collect(),
                sources,
            }
        };
        let ast = match crate::syntax::parse_condition_scanned(src, scan) {
            Ok(ast) => ast,
            Err(diags) => return Err(fail(diags)),
        };
        let mut fields = FieldTable::default();
        let mut checker = crate::check::expr::ExprChecker::new(schema.map(|s| (0, s)), &mut fields);
        let node = checker.condition(&ast);
        let diags = std::mem::take(&mut checker.diags);
        match node {
            Some(node) if !diags.iter().any(Diagnostic::is_error) => Ok((
                Condition::from_ir(node, fields, src.to_string()),
                diags.into_iter().map(|d| d.in_source(id)).collect(),
            )),
            _ => Err(fail(diags)),
        }
    }

    fn from_ir(node: Node, fields: FieldTable, source: String) -> Condition {
        let optimized = crate::opt::optimize(&node);
        let program = Program::new(&optimized, &fields);
        Condition {
            node,
            optimized,
            program,
            projection: std::sync::OnceLock::new(),
            fields,
            source,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            fingerprint: std::sync::OnceLock::new(),
        }
    }

    /// True when the condition's fingerprint has been computed ([`Condition::fingerprint`])
    /// and is this one: the check of a function generated by [`crate::codegen::host_fn`],
    /// which runs its own code only on a condition with the fingerprint it was generated from
    /// (and calls the interpreter, which computes it, otherwise).
    ///
    /// The fingerprint is what the compiled program depends on, hashed: the version of
    /// Herald, the source and each field's path and declared kind. Two conditions with the
    /// same fingerprint have the same program (compilation is deterministic). FNV-1a, the
    /// same on every platform.
    #[inline(always)]
    pub fn fingerprint_is(&self, fingerprint: u64) -> bool {
        self.fingerprint.get() == Some(&fingerprint)
    }

    /// What the compiled program depends on, hashed (see [`Condition::fingerprint_is`]).
    pub fn fingerprint(&self) -> u64 {
        *self.fingerprint.get_or_init(|| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            let mut eat = |bytes: &[u8]| {
                for &b in bytes {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0000_0100_0000_01b3);
                }
                // A separator no UTF-8 text contains.
                h ^= 0xff;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            };
            eat(env!("CARGO_PKG_VERSION").as_bytes());
            eat(self.source.as_bytes());
            for f in &self.program.fields {
                for seg in f.path.iter() {
                    eat(seg.as_bytes());
                }
                eat(format!("{:?}", f.kind).as_bytes());
            }
            h
        })
    }

    /// Evaluates the condition on a JSON record: true, false or unknown. Never fails.
    pub fn eval(&self, record: &serde_json::Value, clock: &dyn Clock) -> Truth {
        let now = if self.program.uses_clock {
            clock.now()
        } else {
            chrono::DateTime::<chrono::Utc>::UNIX_EPOCH
        };
        self.program.eval(&JsonRecord(record), now)
    }

    /// Evaluates the condition on any record the evaluator can read (a [`JsonRecord`], a
    /// [`CompactRecord`] built with [`Condition::projection`], or a host struct through
    /// [`Condition::host_map`]).
    pub fn eval_record<R: Access + ?Sized>(
        &self,
        record: &R,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Truth {
        self.program.eval(record, now)
    }

    /// Evaluates with the reference interpreter on the unoptimized IR (the test oracle).
    pub fn eval_reference(&self, record: &serde_json::Value, clock: &dyn Clock) -> Truth {
        let env = Env {
            record,
            fields: &self.fields,
            now: clock.now(),
        };
        interp::truth(&self.node, &env)
    }

    /// Evaluates a host struct.
    ///
    /// Inlined, with the general path out of line: the bound program's loop alone is small
    /// enough to go into the caller's loop, where a call per record saved and restored six
    /// registers and a large frame.
    #[inline(always)]
    pub fn eval_host<T: HostRecord>(
        &self,
        record: &T,
        map: &HostMap<T>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Truth {
        match map.bound(self.id) {
            Some(flat) => crate::eval::host::run(flat, &self.program, record, map, now),
            None => self.eval_host_general(record, map, now),
        }
    }

    /// [`Condition::eval_host`] through the map, for a map not bound to this condition.
    #[inline(never)]
    #[cold]
    fn eval_host_general<T: HostRecord>(
        &self,
        record: &T,
        map: &HostMap<T>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Truth {
        let map = self.own_map(map);
        match map.bound(self.id) {
            Some(flat) => crate::eval::host::run(flat, &self.program, record, &map, now),
            None => self.program.eval(&HostAccess { record, map: &map }, now),
        }
    }

    /// `map` when its slots are this condition's; otherwise this condition's own map, built
    /// now (a map built for another condition reads other fields at the same slots).
    fn own_map<'m, T: HostRecord>(&self, map: &'m HostMap<T>) -> std::borrow::Cow<'m, HostMap<T>> {
        if map.built_for(self.id) {
            std::borrow::Cow::Borrowed(map)
        } else {
            std::borrow::Cow::Owned(self.host_map())
        }
    }

    /// How a host struct type is read by this condition, computed once per condition: the
    /// getter of each field and, for a flat program, the program bound to the getters (see
    /// `docs/ARCHITECTURE.md`).
    pub fn host_map<T: HostRecord>(&self) -> HostMap<T> {
        let map = crate::record::host_map::<T>(&self.fields).with_fields_of(self.id);
        match &self.program.root {
            crate::compile::Op::Flat(flat) => map.bind(self.id, flat),
            _ => map,
        }
    }

    /// Parses a record from JSON bytes, keeping only the fields this condition reads. Fails on
    /// invalid JSON, or on JSON that is not an object ([`CompactRecord::parse`]).
    pub fn parse_record(&self, bytes: &[u8]) -> Result<CompactRecord, serde_json::Error> {
        CompactRecord::parse(bytes, self.projection())
    }

    /// The projection of the fields this condition reads.
    pub fn projection(&self) -> &Projection {
        self.projection.get_or_init(|| Projection::of(&self.fields))
    }

    /// Counts the records of a batch that match, in parallel on all cores (backfills). Each
    /// thread evaluates its records by blocks (see [`Condition::count_matches_seq`]).
    pub fn count_matches<R: Access + Sync>(
        &self,
        records: &[R],
        now: chrono::DateTime<chrono::Utc>,
    ) -> usize {
        let schedule = self.program.schedule();
        par_count_by(records, |rs, done| {
            self.program.each_truth(schedule.as_ref(), rs, now, done)
        })
    }

    /// Counts the records that match, on the calling thread. A flat program (the common case)
    /// evaluates the records by blocks of 256, step by step, which avoids a mispredicted jump
    /// per uncertain outcome (`docs/performance.md`); each record's truth is the one
    /// [`Condition::eval_record`] gives.
    pub fn count_matches_seq<R: Access>(
        &self,
        records: &[R],
        now: chrono::DateTime<chrono::Utc>,
    ) -> usize {
        let schedule = self.program.schedule();
        count_by(records, |rs, done| {
            self.program.each_truth(schedule.as_ref(), rs, now, done)
        })
    }

    /// The truth of every record of a batch, in parallel, in order.
    pub fn eval_batch<R: Access + Sync>(
        &self,
        records: &[R],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<Truth> {
        let schedule = self.program.schedule();
        par_eval_by(records, |rs, done| {
            self.program.each_truth(schedule.as_ref(), rs, now, done)
        })
    }

    /// The truth of every record, in order, on the calling thread (by blocks, as
    /// [`Condition::count_matches_seq`]).
    pub fn eval_batch_seq<R: Access>(
        &self,
        records: &[R],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<Truth> {
        let schedule = self.program.schedule();
        eval_by(records, |rs, done| {
            self.program.each_truth(schedule.as_ref(), rs, now, done)
        })
    }

    /// [`Condition::count_matches`] for host structs.
    pub fn count_host_matches<T: HostRecord + Sync>(
        &self,
        records: &[T],
        map: &HostMap<T>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> usize {
        let map = &*self.own_map(map);
        let bound = self.host_schedule(map);
        par_count_by(records, |rs, done| {
            self.each_host(bound.as_ref(), map, rs, now, done)
        })
    }

    /// [`Condition::count_matches_seq`] for host structs.
    pub fn count_host_matches_seq<T: HostRecord>(
        &self,
        records: &[T],
        map: &HostMap<T>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> usize {
        let map = &*self.own_map(map);
        let bound = self.host_schedule(map);
        count_by(records, |rs, done| {
            self.each_host(bound.as_ref(), map, rs, now, done)
        })
    }

    /// [`Condition::eval_batch`] for host structs.
    pub fn eval_host_batch<T: HostRecord + Sync>(
        &self,
        records: &[T],
        map: &HostMap<T>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<Truth> {
        let map = &*self.own_map(map);
        let bound = self.host_schedule(map);
        par_eval_by(records, |rs, done| {
            self.each_host(bound.as_ref(), map, rs, now, done)
        })
    }

    /// [`Condition::eval_batch_seq`] for host structs.
    pub fn eval_host_batch_seq<T: HostRecord>(
        &self,
        records: &[T],
        map: &HostMap<T>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<Truth> {
        let map = &*self.own_map(map);
        let bound = self.host_schedule(map);
        eval_by(records, |rs, done| {
            self.each_host(bound.as_ref(), map, rs, now, done)
        })
    }

    /// The truths of host structs, by blocks when the map holds this condition's program.
    fn each_host<T: HostRecord>(
        &self,
        bound: Option<&(
            &crate::eval::host::HostFlat<T>,
            crate::eval::batch::Schedule,
        )>,
        map: &HostMap<T>,
        records: &[T],
        now: chrono::DateTime<chrono::Utc>,
        done: &mut dyn FnMut(usize, &[u32], Truth),
    ) {
        crate::eval::batch::each_host_truth(
            &self.program,
            bound.map(|(f, s)| (*f, s)),
            map,
            records,
            now,
            done,
        )
    }

    /// The program bound in the map for this condition, with its block schedule.
    fn host_schedule<'m, T: HostRecord>(
        &self,
        map: &'m HostMap<T>,
    ) -> Option<(
        &'m crate::eval::host::HostFlat<T>,
        crate::eval::batch::Schedule,
    )> {
        let flat = map.bound(self.id)?;
        Some((flat, crate::eval::batch::Schedule::of_host(flat)?))
    }

    /// The optimized IR.
    pub fn optimized(&self) -> &Node {
        &self.optimized
    }

    /// The compiled program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// True when the condition is true for the record (unknown does not match).
    pub fn matches(&self, record: &serde_json::Value, clock: &dyn Clock) -> bool {
        self.eval(record, clock) == Truth::True
    }

    /// The source text it was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The typed IR.
    pub fn ir(&self) -> &Node {
        &self.node
    }

    /// The fields it reads.
    pub fn fields(&self) -> &FieldTable {
        &self.fields
    }
}
