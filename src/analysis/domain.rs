//! Per-field atoms and exhaustive three-valued enumeration over the decided fragment.
//!
//! A [`Universe`] is built from a few optimized conditions. Each field they read is split into
//! *atoms*: the coarsest partition of everything the field can read as (null, each mentioned
//! string, every other string, the elementary intervals between numeric or temporal bounds,
//! `true`, `false`, lists, objects) on which every predicate of those conditions is constant.
//! Each atom has one concrete representative (a JSON value). Leaves outside the fragment are
//! *opaque*: free three-valued variables. Enumerating every combination of atoms and opaque values
//! covers every record (each record falls into one combination), so a universal statement that
//! holds for every combination holds for every record; an existential one gives a candidate
//! witness, which the caller confirms with the reference interpreter.

use crate::ast::TestOp;
use crate::ir::{FieldId, FieldKind, FieldTable, Node, NodeKind, read_json};
use crate::opt::pred::{Bound, Instant, IntervalSet, Num, Pred};
use crate::schema::{FieldType, Schema};
use crate::value::{Truth, Value};
use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

/// The largest number of combinations a universe enumerates; past it, the analysis says nothing.
pub const MAX_COMBINATIONS: u64 = 1 << 16;

/// A condition compiled against a universe: leaves are tables indexed by atom.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A constant truth.
    Const(Truth),
    /// A field leaf: the truth for each atom of field `field` (universe index).
    Leaf(usize, Vec<Truth>),
    /// An opaque leaf (universe index).
    Opaque(usize),
    /// Kleene `not`.
    Not(Box<Expr>),
    /// Kleene `and`.
    And(Vec<Expr>),
    /// Kleene `or`.
    Or(Vec<Expr>),
}

impl Expr {
    /// Evaluates under a combination: the atom of each field, the value of each opaque leaf.
    pub fn eval(&self, atoms: &[usize], opaque: &[Truth]) -> Truth {
        match self {
            Expr::Const(t) => *t,
            Expr::Leaf(f, table) => {
                let a = atoms.get(*f).copied().unwrap_or(0);
                table.get(a).copied().unwrap_or(Truth::Unknown)
            }
            Expr::Opaque(i) => opaque.get(*i).copied().unwrap_or(Truth::Unknown),
            Expr::Not(x) => x.eval(atoms, opaque).not(),
            Expr::And(xs) => {
                let mut acc = Truth::True;
                for x in xs {
                    acc = acc.and(x.eval(atoms, opaque));
                    if acc == Truth::False {
                        break;
                    }
                }
                acc
            }
            Expr::Or(xs) => {
                let mut acc = Truth::False;
                for x in xs {
                    acc = acc.or(x.eval(atoms, opaque));
                    if acc == Truth::True {
                        break;
                    }
                }
                acc
            }
        }
    }
}

/// One atom of a field: its representative JSON (`None`: the key is missing) and what it reads as.
#[derive(Debug, Clone)]
pub struct Atom {
    /// The JSON to put in a witness record (`None` leaves the field out).
    pub json: Option<serde_json::Value>,
    /// The value the field reads as.
    pub value: Value,
}

/// The fields and opaque leaves of some conditions, with their atoms.
#[derive(Debug, Clone)]
pub struct Universe {
    /// The fields, in universe order.
    pub fields: Vec<FieldId>,
    /// The atoms of each field (shared with the [`AtomCache`] they came from).
    pub atoms: Vec<Rc<[Atom]>>,
    /// The number of opaque leaves.
    pub n_opaque: usize,
    /// The conditions, compiled.
    pub exprs: Vec<Expr>,
    /// The paths of the fields (for witness records).
    paths: Vec<crate::ir::FieldPath>,
}

/// What the conditions say about one field.
#[derive(Debug, Default, Clone, PartialEq)]
struct Mentions {
    strings: Vec<String>,
    nums: Vec<Num>,
    times: Vec<Instant>,
    empty_tested: bool,
    /// Lists worth trying (from `contains` and friends in opaque leaves).
    lists: Vec<Vec<String>>,
}

impl Mentions {
    /// Sorted and deduplicated: equal mentions give equal atoms.
    fn normalize(&mut self) {
        self.strings.sort();
        self.strings.dedup();
        self.nums.sort();
        self.nums.dedup();
        self.times.sort();
        self.times.dedup();
        self.lists.sort();
        self.lists.dedup();
    }

    /// Adds another condition's mentions of the same field (normalize afterwards).
    fn extend(&mut self, other: &Mentions) {
        self.strings.extend(other.strings.iter().cloned());
        self.nums.extend_from_slice(&other.nums);
        self.times.extend_from_slice(&other.times);
        self.empty_tested |= other.empty_tested;
        self.lists.extend(other.lists.iter().cloned());
    }
}

/// The atoms built for some mentions of a field (`None`: the field has an atom Herald cannot
/// represent).
type Built = (Mentions, Option<Rc<[Atom]>>);

/// Atoms already built, by field and mentions. A portal's questions build several universes
/// over mostly the same fields with the same mentions; building a field's atoms (each with a
/// JSON representative, read back exactly) costs far more than finding them here.
#[derive(Debug, Default)]
pub struct AtomCache {
    built: RefCell<rustc_hash::FxHashMap<FieldId, Vec<Built>>>,
}

impl AtomCache {
    /// The atoms of field `id` for normalized mentions `m`.
    fn atoms(
        &self,
        id: FieldId,
        m: &Mentions,
        info: &crate::ir::FieldInfo,
        schemas: &[Schema],
    ) -> Option<Rc<[Atom]>> {
        if let Ok(built) = self.built.try_borrow() {
            if let Some((_, atoms)) = built.get(&id).and_then(|v| v.iter().find(|(k, _)| k == m)) {
                return atoms.clone();
            }
        }
        let atoms: Option<Rc<[Atom]>> =
            field_atoms(info, m.clone(), picklist_of(info, schemas)).map(Rc::from);
        if let Ok(mut built) = self.built.try_borrow_mut() {
            built
                .entry(id)
                .or_default()
                .push((m.clone(), atoms.clone()));
        }
        atoms
    }
}

/// What one condition says about the fields and opaque leaves it reads. A universe of several
/// conditions merges their summaries ([`Universe::of_summaries`]), so a condition asked about in
/// several questions is walked once.
#[derive(Debug)]
pub struct Summary<'n> {
    /// The fields, in order of first appearance.
    fields: Vec<FieldId>,
    /// What the condition mentions of each field, normalized.
    mentions: Vec<Mentions>,
    /// The atoms of each field for these mentions alone, once looked up.
    atoms: Vec<OnceCell<Option<Rc<[Atom]>>>>,
    /// The distinct opaque leaves, in order of first appearance.
    opaque: Vec<OpaqueLeaf<'n>>,
}

impl<'n> Summary<'n> {
    /// The summary of one optimized condition.
    pub fn of(cond: &'n Node, table: &FieldTable) -> Summary<'n> {
        let mut c = Collect {
            fields: Vec::new(),
            mentions: Vec::new(),
            opaque: Vec::new(),
            table,
        };
        c.walk(cond);
        for m in &mut c.mentions {
            m.normalize();
        }
        Summary {
            atoms: c.fields.iter().map(|_| OnceCell::new()).collect(),
            fields: c.fields,
            mentions: c.mentions,
            opaque: c.opaque,
        }
    }
}

/// An opaque leaf: its structural hash and the node (leaves that are the same share a variable).
type OpaqueLeaf<'n> = (u64, &'n Node);

struct Collect<'a, 'n> {
    fields: Vec<FieldId>,
    mentions: Vec<Mentions>,
    opaque: Vec<OpaqueLeaf<'n>>,
    table: &'a FieldTable,
}

impl<'n> Collect<'_, 'n> {
    fn field(&mut self, id: FieldId) -> usize {
        if let Some(i) = self.fields.iter().position(|f| *f == id) {
            return i;
        }
        self.fields.push(id);
        self.mentions.push(Mentions::default());
        self.fields.len() - 1
    }

    fn walk(&mut self, n: &'n Node) {
        match &n.kind {
            NodeKind::Const(_) => {}
            NodeKind::Not(x) => self.walk(x),
            NodeKind::And(xs) | NodeKind::Or(xs) => xs.iter().for_each(|x| self.walk(x)),
            NodeKind::FieldPred(id, p) => {
                let i = self.field(*id);
                if let Some(m) = self.mentions.get_mut(i) {
                    match p {
                        Pred::Str(s) => m.strings.extend(s.set.iter().map(|x| x.to_string())),
                        // A predicate with no bound (the full or the empty domain) still
                        // makes the class matter: give it one point so atoms of the class exist.
                        Pred::Num(r) => {
                            let b = bounds(r);
                            if b.is_empty() {
                                m.nums.push(Num::Int(0));
                            }
                            m.nums.extend(b);
                        }
                        Pred::Time(r) => {
                            let b = bounds(r);
                            if b.is_empty() {
                                m.times.push(0);
                            }
                            m.times.extend(b);
                        }
                        Pred::Bool { .. } => {}
                    }
                }
            }
            NodeKind::Coalesce(_)
                if coalesce_default(n).is_some_and(|(id, _)| self.table.get(id).is_some()) =>
            {
                if let Some((id, _)) = coalesce_default(n) {
                    self.field(id);
                }
            }
            NodeKind::Test(op, x) => match &x.kind {
                NodeKind::Field(id) if self.table.get(*id).is_some() => {
                    let i = self.field(*id);
                    if matches!(op, TestOp::IsEmpty | TestOp::IsNotEmpty) {
                        if let Some(m) = self.mentions.get_mut(i) {
                            m.empty_tested = true;
                        }
                    }
                }
                _ => self.opaque(n),
            },
            _ => self.opaque(n),
        }
    }

    fn opaque(&mut self, n: &'n Node) {
        let h = crate::opt::shash(n);
        if !self
            .opaque
            .iter()
            .any(|(oh, o)| *oh == h && crate::opt::same(o, n))
        {
            self.opaque.push((h, n));
            self.hints(n);
        }
    }

    /// Values that may make an opaque leaf true, added as extra representatives of its field.
    /// Extra representatives never make a claim wrong: every atom keeps one, and each
    /// representative is evaluated exactly.
    fn hints(&mut self, n: &Node) {
        let field_of = |x: &Node| match &x.kind {
            NodeKind::Field(id) => Some(*id),
            NodeKind::Call(_, args) => match args.as_slice() {
                [
                    Node {
                        kind: NodeKind::Field(id),
                        ..
                    },
                ] => Some(*id),
                _ => None,
            },
            _ => None,
        };
        let strs = |c: &Node| -> Vec<String> {
            match &c.kind {
                NodeKind::Const(Value::Str(s)) => vec![s.to_string()],
                NodeKind::Const(Value::List(items)) => items
                    .iter()
                    .filter_map(|v| match v {
                        Value::Str(s) => Some(s.to_string()),
                        _ => None,
                    })
                    .take(8)
                    .collect(),
                _ => Vec::new(),
            }
        };
        let (id, values, as_list) = match &n.kind {
            NodeKind::StartsWith(a, b) | NodeKind::EndsWith(a, b) | NodeKind::Contains(a, b) => (
                field_of(a),
                strs(b),
                matches!(n.kind, NodeKind::Contains(..)),
            ),
            NodeKind::ContainsAny(a, b) | NodeKind::ContainsAll(a, b) => {
                (field_of(a), strs(b), true)
            }
            NodeKind::Cmp(_, a, b)
            | NodeKind::In {
                lhs: a, list: b, ..
            } => (field_of(a), strs(b), false),
            _ => (None, Vec::new(), false),
        };
        let Some(id) = id else { return };
        if values.is_empty() || self.table.get(id).is_none() {
            return;
        }
        let i = self.field(id);
        if let Some(m) = self.mentions.get_mut(i) {
            if as_list {
                for v in &values {
                    m.lists.push(vec![v.clone()]);
                }
                if values.len() > 1 {
                    m.lists.push(values.clone());
                }
            }
            m.strings.extend(values);
        }
    }
}

/// `field ?? constant`: the field and the constant.
fn coalesce_default(n: &Node) -> Option<(FieldId, Value)> {
    match &n.kind {
        NodeKind::Coalesce(xs) => match xs.as_slice() {
            [
                Node {
                    kind: NodeKind::Field(id),
                    ..
                },
                Node {
                    kind: NodeKind::Const(c),
                    ..
                },
            ] => Some((*id, c.clone())),
            _ => None,
        },
        _ => None,
    }
}

fn bounds<T: Copy>(r: &IntervalSet<T>) -> Vec<T> {
    let mut out = Vec::new();
    for (lo, hi) in &r.ranges {
        for b in [lo, hi] {
            if let Bound::Included(x) | Bound::Excluded(x) = b {
                out.push(*x);
            }
        }
    }
    out
}

impl Universe {
    /// The universe of some optimized conditions, or `None` when it has more than
    /// [`MAX_COMBINATIONS`] combinations or an atom has no representative Herald can build.
    pub fn new(conds: &[&Node], table: &FieldTable, schemas: &[Schema]) -> Option<Universe> {
        Universe::with_cache(conds, table, schemas, &AtomCache::default())
    }

    /// [`Universe::new`], taking and leaving field atoms in `cache`.
    pub fn with_cache(
        conds: &[&Node],
        table: &FieldTable,
        schemas: &[Schema],
        cache: &AtomCache,
    ) -> Option<Universe> {
        let sums: Vec<Summary<'_>> = conds.iter().map(|n| Summary::of(n, table)).collect();
        let sums: Vec<&Summary<'_>> = sums.iter().collect();
        Universe::of_summaries(conds, &sums, table, schemas, cache, MAX_COMBINATIONS)
    }

    /// [`Universe::with_cache`] from the conditions' summaries (`sums[i]` is the summary of
    /// `conds[i]`), or `None` as well when it has more than `max` combinations.
    ///
    /// The universe is the one of the conditions walked one after the other: fields and opaque
    /// leaves in order of first appearance, each field's mentions the union of the conditions'.
    pub fn of_summaries(
        conds: &[&Node],
        sums: &[&Summary<'_>],
        table: &FieldTable,
        schemas: &[Schema],
        cache: &AtomCache,
        max: u64,
    ) -> Option<Universe> {
        // Each field, with the (summary, field index) pairs that mention it.
        let mut fields: Vec<FieldId> = Vec::new();
        let mut parts: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut opaque: Vec<OpaqueLeaf<'_>> = Vec::new();
        for (si, s) in sums.iter().enumerate() {
            for (fi, id) in s.fields.iter().enumerate() {
                match fields.iter().position(|f| f == id) {
                    Some(i) => {
                        if let Some(p) = parts.get_mut(i) {
                            p.push((si, fi));
                        }
                    }
                    None => {
                        fields.push(*id);
                        parts.push(vec![(si, fi)]);
                    }
                }
            }
            for &(h, n) in &s.opaque {
                if !opaque
                    .iter()
                    .any(|(oh, o)| *oh == h && crate::opt::same(o, n))
                {
                    opaque.push((h, n));
                }
            }
        }
        let mentions = |&(si, fi): &(usize, usize)| -> Option<&Mentions> {
            sums.get(si).and_then(|s| s.mentions.get(fi))
        };
        let mut atoms = Vec::with_capacity(fields.len());
        let mut total: u64 = 1;
        for (id, ps) in fields.iter().zip(&parts) {
            let info = table.get(*id)?;
            let &first = ps.first()?;
            let m0 = mentions(&first)?;
            let a = if ps.iter().all(|p| mentions(p) == Some(m0)) {
                // One condition's mentions (or equal ones): that summary's atoms.
                let (si, fi) = first;
                sums.get(si).and_then(|s| s.atoms.get(fi)).map_or_else(
                    || cache.atoms(*id, m0, info, schemas),
                    |cell| {
                        cell.get_or_init(|| cache.atoms(*id, m0, info, schemas))
                            .clone()
                    },
                )?
            } else {
                let mut m = Mentions::default();
                for p in ps {
                    if let Some(x) = mentions(p) {
                        m.extend(x);
                    }
                }
                m.normalize();
                cache.atoms(*id, &m, info, schemas)?
            };
            total = total.checked_mul(a.len() as u64)?;
            if total > MAX_COMBINATIONS {
                return None;
            }
            atoms.push(a);
        }
        for _ in &opaque {
            total = total.checked_mul(3)?;
            if total > MAX_COMBINATIONS {
                return None;
            }
        }
        if total > max {
            return None;
        }
        let paths = fields
            .iter()
            .map(|id| table.get(*id).map(|info| info.path.clone()))
            .collect::<Option<Vec<_>>>()?;
        let mut u = Universe {
            fields,
            atoms,
            n_opaque: opaque.len(),
            exprs: Vec::new(),
            paths,
        };
        let exprs = conds.iter().map(|n| u.compile(n, &opaque)).collect();
        u.exprs = exprs;
        Some(u)
    }

    fn compile(&self, n: &Node, opaque: &[OpaqueLeaf<'_>]) -> Expr {
        let leaf = |id: &FieldId, f: &dyn Fn(&Value) -> Truth| -> Option<Expr> {
            let i = self.fields.iter().position(|x| x == id)?;
            let table = self.atoms.get(i)?.iter().map(|a| f(&a.value)).collect();
            Some(Expr::Leaf(i, table))
        };
        let opq = || {
            let h = crate::opt::shash(n);
            opaque
                .iter()
                .position(|(oh, o)| *oh == h && crate::opt::same(o, n))
                .map_or(Expr::Const(Truth::Unknown), Expr::Opaque)
        };
        match &n.kind {
            NodeKind::Const(v) => Expr::Const(v.truth()),
            NodeKind::Not(x) => Expr::Not(Box::new(self.compile(x, opaque))),
            NodeKind::And(xs) => Expr::And(xs.iter().map(|x| self.compile(x, opaque)).collect()),
            NodeKind::Or(xs) => Expr::Or(xs.iter().map(|x| self.compile(x, opaque)).collect()),
            NodeKind::FieldPred(id, p) => leaf(id, &|v| p.test(v)).unwrap_or_else(opq),
            NodeKind::Coalesce(_) => match coalesce_default(n) {
                // `x ?? c` in a boolean position: x's truth, or c's when x is null.
                Some((id, c)) => leaf(&id, &|v| if v.is_null() { c.truth() } else { v.truth() })
                    .unwrap_or_else(opq),
                None => opq(),
            },
            NodeKind::Test(op, x) => match &x.kind {
                NodeKind::Field(id) => {
                    let op = *op;
                    leaf(id, &move |v| {
                        Truth::from_bool(match op {
                            TestOp::IsNull => v.is_null(),
                            TestOp::IsNotNull => !v.is_null(),
                            TestOp::IsEmpty => v.is_empty(),
                            TestOp::IsNotEmpty => !v.is_empty(),
                        })
                    })
                    .unwrap_or_else(opq)
                }
                _ => opq(),
            },
            _ => opq(),
        }
    }

    /// The number of combinations.
    pub fn size(&self) -> u64 {
        let mut total: u64 = 1;
        for a in &self.atoms {
            total = total.saturating_mul(a.len() as u64);
        }
        for _ in 0..self.n_opaque {
            total = total.saturating_mul(3);
        }
        total
    }

    /// Calls `f` with every combination (atom per field, truth per opaque leaf) and the truth
    /// of every condition, until it returns false.
    pub fn for_each(&self, mut f: impl FnMut(&[usize], &[Truth], &[Truth]) -> bool) {
        let mut atoms = vec![0usize; self.atoms.len()];
        let mut opaque = vec![Truth::False; self.n_opaque];
        let mut truths = vec![Truth::Unknown; self.exprs.len()];
        const ORDER: [Truth; 3] = [Truth::False, Truth::True, Truth::Unknown];
        let mut oidx = vec![0usize; self.n_opaque];
        loop {
            for (t, e) in truths.iter_mut().zip(&self.exprs) {
                *t = e.eval(&atoms, &opaque);
            }
            if !f(&atoms, &opaque, &truths) {
                return;
            }
            // Next combination: mixed-radix increment, opaque leaves first.
            let mut carry = true;
            for (i, o) in oidx.iter_mut().enumerate() {
                *o += 1;
                if *o < 3 {
                    if let Some(slot) = opaque.get_mut(i) {
                        *slot = ORDER.get(*o).copied().unwrap_or(Truth::Unknown);
                    }
                    carry = false;
                    break;
                }
                *o = 0;
                if let Some(slot) = opaque.get_mut(i) {
                    *slot = Truth::False;
                }
            }
            if carry {
                for (a, n) in atoms.iter_mut().zip(&self.atoms) {
                    *a += 1;
                    if *a < n.len() {
                        carry = false;
                        break;
                    }
                    *a = 0;
                }
            }
            if carry {
                return;
            }
        }
    }

    /// The dimensions of the combination index, least significant first: each opaque leaf
    /// (3 values), then each field (its atoms). Combination `i` is the mixed-radix number whose
    /// digits are those values, the order of [`Universe::for_each`].
    fn radices(&self) -> impl Iterator<Item = u64> + '_ {
        std::iter::repeat_n(3u64, self.n_opaque).chain(self.atoms.iter().map(|a| a.len() as u64))
    }

    /// The truth of every condition over every combination at once, 64 combinations a word:
    /// what [`Universe::for_each`] computes one combination at a time, in a few word operations
    /// per condition node.
    pub fn masks(&self) -> Vec<Masks> {
        let strides = self.strides();
        let cx = self.mask_cx(&strides);
        self.exprs.iter().map(|e| cx.eval(e)).collect()
    }

    /// Where every condition is true: the `t` of [`Universe::masks`], without building the
    /// false sets that no `not` asks for.
    pub fn truths(&self) -> Vec<Bits> {
        let strides = self.strides();
        let cx = self.mask_cx(&strides);
        self.exprs.iter().map(|e| cx.bits(e, Truth::True)).collect()
    }

    /// The stride of each dimension, in the order of [`Universe::radices`].
    fn strides(&self) -> Vec<u64> {
        self.radices()
            .scan(1u64, |s, r| {
                let here = *s;
                *s = s.saturating_mul(r);
                Some(here)
            })
            .collect()
    }

    fn mask_cx<'s>(&self, strides: &'s [u64]) -> MaskCx<'s> {
        let n_bits = self.size();
        MaskCx {
            n_bits,
            words: usize::try_from(n_bits.div_ceil(64)).unwrap_or(0),
            strides,
            n_opaque: self.n_opaque,
        }
    }

    /// Combination number `index`: the atom of each field and the truth of each opaque leaf.
    pub fn combo(&self, index: u64) -> (Vec<usize>, Vec<Truth>) {
        const ORDER: [Truth; 3] = [Truth::False, Truth::True, Truth::Unknown];
        let mut rest = index;
        let mut digit = |r: u64| {
            let d = rest.checked_rem(r).unwrap_or(0);
            rest = rest.checked_div(r).unwrap_or(0);
            usize::try_from(d).unwrap_or(0)
        };
        let opaque = (0..self.n_opaque)
            .map(|_| ORDER.get(digit(3)).copied().unwrap_or(Truth::Unknown))
            .collect();
        let atoms = self.atoms.iter().map(|a| digit(a.len() as u64)).collect();
        (atoms, opaque)
    }

    /// The witness record of a combination: each field's representative (null fields left out).
    pub fn record(&self, atoms: &[usize]) -> serde_json::Value {
        let mut rec = serde_json::Value::Object(serde_json::Map::new());
        for ((path, field_atoms), a) in self.paths.iter().zip(&self.atoms).zip(atoms) {
            if let Some(Atom { json: Some(j), .. }) = field_atoms.get(*a) {
                set_path(&mut rec, path, j.clone());
            }
        }
        rec
    }
}

fn set_path(rec: &mut serde_json::Value, path: &[Box<str>], v: serde_json::Value) {
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut cur = rec;
    for seg in init {
        if !cur.is_object() {
            *cur = serde_json::Value::Object(serde_json::Map::new());
        }
        let Some(map) = cur.as_object_mut() else {
            return;
        };
        cur = map
            .entry(seg.to_string())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    }
    if !cur.is_object() {
        *cur = serde_json::Value::Object(serde_json::Map::new());
    }
    if let Some(map) = cur.as_object_mut() {
        map.insert(last.to_string(), v);
    }
}

/// The picklist (or multiselect) values the schema declares for a field, if any.
fn picklist_of<'s>(info: &crate::ir::FieldInfo, schemas: &'s [Schema]) -> &'s [String] {
    let field = info
        .schema
        .and_then(|i| schemas.get(i))
        .and_then(|s| s.lookup(&info.path));
    match field.map(|f| &f.ty) {
        Some(FieldType::Picklist(v) | FieldType::Multiselect(v)) => v,
        _ => &[],
    }
}

/// What the field reads as when its JSON is `json`.
fn read(info: &crate::ir::FieldInfo, json: &serde_json::Value) -> Value {
    read_json(Some(json), info).value
}

fn dedup_nums(mut v: Vec<Num>) -> Vec<Num> {
    v.sort();
    v.dedup();
    v
}

/// Elementary intervals between sorted, distinct points: (-inf,p1), [p1], (p1,p2), ..., (pm,+inf).
fn elementary<T: Copy>(points: &[T]) -> Vec<(Bound<T>, Bound<T>)> {
    let mut out = Vec::with_capacity(points.len() * 2 + 1);
    let mut lo = Bound::Unbounded;
    for p in points {
        out.push((lo, Bound::Excluded(*p)));
        out.push((Bound::Included(*p), Bound::Included(*p)));
        lo = Bound::Excluded(*p);
    }
    out.push((lo, Bound::Unbounded));
    out
}

fn interval<T: Ord + Copy>(lo: Bound<T>, hi: Bound<T>) -> IntervalSet<T> {
    // Built through intersections so that an empty interval normalizes to the empty set.
    let lo_set = match lo {
        Bound::Unbounded => IntervalSet::full(),
        Bound::Included(x) => IntervalSet::cmp(crate::ir::CmpOp::Ge, x),
        Bound::Excluded(x) => IntervalSet::cmp(crate::ir::CmpOp::Gt, x),
    };
    let hi_set = match hi {
        Bound::Unbounded => IntervalSet::full(),
        Bound::Included(x) => IntervalSet::cmp(crate::ir::CmpOp::Le, x),
        Bound::Excluded(x) => IntervalSet::cmp(crate::ir::CmpOp::Lt, x),
    };
    lo_set.intersect(&hi_set)
}

/// Candidate numbers inside an elementary interval, most readable first.
fn num_candidates(lo: Bound<Num>, hi: Bound<Num>) -> Vec<serde_json::Value> {
    let as_f = |n: Num| match n {
        Num::Int(i) => i as f64,
        Num::Dec(f) => f,
    };
    let mut out: Vec<serde_json::Value> = Vec::new();
    let push_int = |out: &mut Vec<serde_json::Value>, f: f64| {
        if f.is_finite() && f.abs() < 9.0e15 {
            out.push(serde_json::Value::from(f as i64));
        }
    };
    let push_f = |out: &mut Vec<serde_json::Value>, f: f64| {
        if let Some(n) = serde_json::Number::from_f64(f) {
            out.push(serde_json::Value::Number(n));
        }
    };
    match (lo, hi) {
        (Bound::Included(p), Bound::Included(_)) => match p {
            Num::Int(i) => out.push(serde_json::Value::from(i)),
            Num::Dec(f) => push_f(&mut out, f),
        },
        (Bound::Unbounded, Bound::Unbounded) => out.push(serde_json::Value::from(0)),
        (Bound::Unbounded, Bound::Excluded(p) | Bound::Included(p)) => {
            let f = as_f(p);
            push_int(&mut out, f.ceil() - 1.0);
            push_f(&mut out, f - 1.0);
            push_f(&mut out, f - f.abs().max(1.0));
        }
        (Bound::Excluded(p) | Bound::Included(p), Bound::Unbounded) => {
            let f = as_f(p);
            push_int(&mut out, f.floor() + 1.0);
            push_f(&mut out, f + 1.0);
            push_f(&mut out, f + f.abs().max(1.0));
        }
        (Bound::Excluded(a) | Bound::Included(a), Bound::Excluded(b) | Bound::Included(b)) => {
            let (fa, fb) = (as_f(a), as_f(b));
            push_int(&mut out, fa.floor() + 1.0);
            push_f(&mut out, fa / 2.0 + fb / 2.0);
            push_f(&mut out, (fa.floor() + 0.5).max(fa / 2.0 + fb / 2.0));
        }
    }
    out
}

const NS_PER_DAY: i128 = 86_400_000_000_000;

fn to_datetime(i: Instant) -> Option<chrono::DateTime<chrono::Utc>> {
    let secs = i64::try_from(i.div_euclid(1_000_000_000)).ok()?;
    let nanos = u32::try_from(i.rem_euclid(1_000_000_000)).ok()?;
    chrono::DateTime::from_timestamp(secs, nanos)
}

/// How an instant is written in a witness.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TimeText {
    /// A date when it is a midnight, else RFC 3339.
    Auto,
    /// `YYYY-MM-DD` (the day of the instant).
    Date,
    /// RFC 3339 in UTC.
    DateTime,
}

/// The text of an instant.
fn time_text(i: Instant, how: TimeText) -> Option<String> {
    let t = to_datetime(i)?;
    let date = match how {
        TimeText::Date => true,
        TimeText::Auto => i.rem_euclid(NS_PER_DAY) == 0,
        TimeText::DateTime => false,
    };
    if date {
        // `NaiveDate`'s `Display` is `YYYY-MM-DD`, without parsing a format string.
        Some(t.date_naive().to_string())
    } else {
        Some(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

/// Candidate instants inside an elementary interval, most readable first. `dates`: only
/// midnights (the values of a date field).
fn time_candidates(lo: Bound<Instant>, hi: Bound<Instant>, dates: bool) -> Vec<Instant> {
    let floor_day = |i: Instant| i.div_euclid(NS_PER_DAY) * NS_PER_DAY;
    let mut out = Vec::new();
    match (lo, hi) {
        (Bound::Included(p), Bound::Included(_)) => out.push(p),
        (Bound::Unbounded, Bound::Unbounded) => out.push(1_767_225_600 * 1_000_000_000), // 2026-01-01
        (Bound::Unbounded, Bound::Excluded(p) | Bound::Included(p)) => {
            out.push(floor_day(p) - NS_PER_DAY);
            out.push(floor_day(p));
        }
        (Bound::Excluded(p) | Bound::Included(p), Bound::Unbounded) => {
            out.push(floor_day(p) + NS_PER_DAY);
            out.push(floor_day(p) + 2 * NS_PER_DAY);
        }
        (Bound::Excluded(a) | Bound::Included(a), Bound::Excluded(b) | Bound::Included(b)) => {
            out.push(floor_day(a) + NS_PER_DAY);
            out.push(floor_day(a) + 2 * NS_PER_DAY);
            if !dates {
                out.push(a + (b - a) / 2);
                out.push(a + 1);
            }
        }
    }
    out
}

/// The atoms of one field.
fn field_atoms(
    info: &crate::ir::FieldInfo,
    mut m: Mentions,
    picklist: &[String],
) -> Option<Vec<Atom>> {
    let kind = info.kind;
    let strings = matches!(kind, FieldKind::Text | FieldKind::Dynamic);
    let numbers = matches!(
        kind,
        FieldKind::Integer | FieldKind::Decimal | FieldKind::Dynamic
    );
    let booleans = matches!(kind, FieldKind::Boolean | FieldKind::Dynamic);
    let temporal = matches!(kind, FieldKind::Date | FieldKind::DateTime);
    let lists = matches!(kind, FieldKind::Multiselect | FieldKind::Dynamic);
    let objects = matches!(kind, FieldKind::Object | FieldKind::Dynamic);
    let mut out = vec![Atom {
        json: None,
        value: Value::Null,
    }];
    let mut push = |json: serde_json::Value| {
        let value = read(info, &json);
        out.push(Atom {
            json: Some(json),
            value,
        });
    };
    // Elementary time intervals (shared by temporal fields and date strings).
    m.times.sort();
    m.times.dedup();
    let time_atoms = elementary(&m.times);
    if strings {
        if m.empty_tested {
            m.strings.push(String::new());
        }
        m.strings.sort();
        m.strings.dedup();
        for s in &m.strings {
            push(serde_json::Value::String(s.clone()));
        }
        // Sorted and deduplicated above.
        let mentioned = |s: &str| m.strings.binary_search_by(|x| x.as_str().cmp(s)).is_ok();
        let with_times = !m.times.is_empty();
        // Strings that read as instants, one per time atom.
        if with_times {
            for (lo, hi) in &time_atoms {
                let set = interval(*lo, *hi);
                let mut found = false;
                for cand in time_candidates(*lo, *hi, false) {
                    if !set.contains(&cand) {
                        continue;
                    }
                    for how in [TimeText::Auto, TimeText::DateTime] {
                        let Some(text) = time_text(cand, how) else {
                            continue;
                        };
                        let ok = crate::opt::pred::instant_of(&Value::Str(text.as_str().into()))
                            .is_some_and(|i| set.contains(&i));
                        if ok && !mentioned(&text) {
                            push(serde_json::Value::String(text));
                            found = true;
                            break;
                        }
                    }
                    if found {
                        break;
                    }
                }
                if !found && !set.is_empty() {
                    return None;
                }
            }
        }
        // Every other string: one that is not mentioned (and is not a date when dates matter).
        let usable = |s: &str| {
            let is_date = with_times && crate::value::coerce_temporal(s).is_some();
            !(mentioned(s) || s.is_empty() || is_date)
        };
        let fresh = picklist
            .iter()
            .map(String::as_str)
            .chain(["other", "other value", "x"])
            .find(|s| usable(s))
            .map(str::to_string)
            .or_else(|| (0..8).map(|i| format!("other {i}")).find(|s| usable(s)))?;
        push(serde_json::Value::String(fresh));
    }
    if numbers {
        let points = dedup_nums(m.nums);
        for (lo, hi) in elementary(&points) {
            let set = interval(lo, hi);
            let rep = num_candidates(lo, hi).into_iter().find(|j| {
                let v = read(info, j);
                Num::of(&v).is_some_and(|n| set.contains(&n))
            });
            match rep {
                Some(j) => push(j),
                None if set.is_empty() => {}
                None => return None,
            }
        }
    }
    if booleans {
        push(serde_json::Value::Bool(true));
        push(serde_json::Value::Bool(false));
    }
    if temporal {
        let dates = kind == FieldKind::Date;
        for (lo, hi) in &time_atoms {
            let set = interval(*lo, *hi);
            let rep = time_candidates(*lo, *hi, dates)
                .into_iter()
                .find_map(|cand| {
                    let text = time_text(
                        cand,
                        if dates {
                            TimeText::Date
                        } else {
                            TimeText::DateTime
                        },
                    )?;
                    let json = serde_json::Value::String(text);
                    let v = read(info, &json);
                    let i = crate::opt::pred::instant_of(&v)?;
                    set.contains(&i).then_some(json)
                });
            match rep {
                Some(j) => push(j),
                None if set.is_empty() => {}
                None if dates => {
                    // A date field holds midnights only: an interval between two consecutive
                    // midnights (or narrower) holds no date.
                    if date_free(*lo, *hi) {
                        continue;
                    }
                    return None;
                }
                None => return None,
            }
        }
    }
    if lists {
        push(serde_json::Value::Array(Vec::new()));
        let item = picklist.first().cloned().unwrap_or_else(|| "x".to_string());
        push(serde_json::Value::Array(vec![serde_json::Value::String(
            item,
        )]));
        m.lists.sort();
        m.lists.dedup();
        for l in &m.lists {
            push(serde_json::Value::Array(
                l.iter().cloned().map(serde_json::Value::String).collect(),
            ));
        }
    }
    if objects {
        push(serde_json::Value::Object(serde_json::Map::new()));
    }
    Some(out)
}

/// True when no midnight lies in the interval.
fn date_free(lo: Bound<Instant>, hi: Bound<Instant>) -> bool {
    let (Bound::Included(a) | Bound::Excluded(a)) = lo else {
        return false;
    };
    let (Bound::Included(b) | Bound::Excluded(b)) = hi else {
        return false;
    };
    // The first midnight at or after a.
    let first = a.div_euclid(NS_PER_DAY) * NS_PER_DAY
        + if a.rem_euclid(NS_PER_DAY) == 0 {
            0
        } else {
            NS_PER_DAY
        };
    let first = if matches!(lo, Bound::Excluded(_)) && first == a {
        first + NS_PER_DAY
    } else {
        first
    };
    match hi {
        Bound::Included(_) => first > b,
        _ => first >= b,
    }
}

/// The atoms of a field, by universe order, printable (for tests and debugging).
pub fn describe(u: &Universe) -> BTreeMap<u32, Vec<Option<serde_json::Value>>> {
    u.fields
        .iter()
        .zip(&u.atoms)
        .map(|(f, a)| (f.0, a.iter().map(|x| x.json.clone()).collect()))
        .collect()
}

/// A set of combinations of a universe, 64 to a word (bit `i % 64` of word `i / 64` is
/// combination `i`); bits past the universe's size are always clear.
pub type Bits = Vec<u64>;

/// The truth of one condition over every combination: `t` where it is true, `f` where it is
/// false; where neither bit is set it is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masks {
    /// The combinations where the condition is true.
    pub t: Bits,
    /// The combinations where the condition is false.
    pub f: Bits,
}

/// True when some bit is set.
pub fn any(bits: &[u64]) -> bool {
    bits.iter().any(|w| *w != 0)
}

/// The indices of the first `k` set bits, in increasing order.
pub fn first_ones(bits: &[u64], k: usize) -> Vec<u64> {
    let mut out = Vec::new();
    for (w, word) in bits.iter().enumerate() {
        let mut x = *word;
        while x != 0 && out.len() < k {
            out.push(w as u64 * 64 + u64::from(x.trailing_zeros()));
            x &= x - 1;
        }
        if out.len() >= k {
            break;
        }
    }
    out
}

/// What evaluating conditions over bit sets needs to know of the universe.
struct MaskCx<'a> {
    n_bits: u64,
    words: usize,
    /// The stride of each dimension (opaque leaves first, then fields).
    strides: &'a [u64],
    n_opaque: usize,
}

impl MaskCx<'_> {
    fn zeros(&self) -> Bits {
        vec![0; self.words]
    }

    fn full(&self) -> Bits {
        let mut b = vec![u64::MAX; self.words];
        clear_tail(&mut b, self.n_bits);
        b
    }

    fn eval(&self, e: &Expr) -> Masks {
        Masks {
            t: self.bits(e, Truth::True),
            f: self.bits(e, Truth::False),
        }
    }

    /// The combinations where `e` has the truth `want` (true or false; never unknown). Bits
    /// past the universe's size are clear.
    fn bits(&self, e: &Expr, want: Truth) -> Bits {
        match e {
            Expr::Const(t) => {
                if *t == want {
                    self.full()
                } else {
                    self.zeros()
                }
            }
            Expr::Not(x) => self.bits(x, want.not()),
            Expr::And(xs) | Expr::Or(xs) => {
                let fold = junction_fold(e, want);
                let mut acc = match fold {
                    Fold::Meet => self.full(),
                    Fold::Join => self.zeros(),
                };
                for x in xs {
                    self.fold_into(&mut acc, x, want, fold);
                }
                clear_tail(&mut acc, self.n_bits);
                acc
            }
            Expr::Leaf(..) | Expr::Opaque(_) => {
                let mut acc = self.full();
                self.fold_into(&mut acc, e, want, Fold::Meet);
                acc
            }
        }
    }

    /// Folds where `e` has the truth `want` into `acc`. Leaves are folded in straight from
    /// their periodic pattern, and a junction whose fold is the same as `acc`'s operand by
    /// operand, without building their bit sets first. Bits past the universe's size may be
    /// set by [`Fold::Join`]: the caller clears them.
    fn fold_into(&self, acc: &mut [u64], e: &Expr, want: Truth, fold: Fold) {
        match e {
            Expr::Leaf(field, table) => {
                self.fold_leaf(acc, self.n_opaque + field, table, want, fold)
            }
            Expr::Opaque(i) => self.fold_leaf(acc, *i, &OPAQUE, want, fold),
            Expr::Not(x) => self.fold_into(acc, x, want.not(), fold),
            Expr::And(xs) | Expr::Or(xs) if junction_fold(e, want) == fold => {
                for x in xs {
                    self.fold_into(acc, x, want, fold);
                }
            }
            _ => {
                let b = self.bits(e, want);
                match fold {
                    Fold::Meet => acc.iter_mut().zip(&b).for_each(|(a, b)| *a &= b),
                    Fold::Join => acc.iter_mut().zip(&b).for_each(|(a, b)| *a |= b),
                }
            }
        }
    }

    /// Folds a leaf whose truth depends on one dimension, `table[digit]`, into `acc`. The
    /// pattern of digits is periodic (period `stride * radix` bits): when a period of whole
    /// words (`lcm(period, 64)` bits) is shorter than the universe, it is built run by run once
    /// and folded word by word; otherwise the runs are folded straight into `acc`. A leaf without
    /// a pattern (an empty table or universe) is unknown everywhere.
    fn fold_leaf(&self, acc: &mut [u64], dim: usize, table: &[Truth], want: Truth, fold: Fold) {
        let stride = self.strides.get(dim).copied().unwrap_or(0);
        let radix = table.len() as u64;
        if radix == 0 || stride == 0 || self.words == 0 {
            if fold == Fold::Meet {
                acc.fill(0);
            }
            return;
        }
        let hit = |run: u64| table.get(usize::try_from(run % radix).unwrap_or(0)) == Some(&want);
        let period = stride.saturating_mul(radix);
        let period_words = period / gcd(period, 64);
        let pat_words = usize::try_from(period_words).unwrap_or(usize::MAX);
        if pat_words < self.words {
            let mut pattern = vec![0u64; pat_words];
            let pat_bits = pat_words as u64 * 64;
            let (mut start, mut run) = (0u64, 0u64);
            while start < pat_bits {
                let end = start.saturating_add(stride).min(pat_bits);
                if hit(run) {
                    set_range(&mut pattern, start, end);
                }
                start = end;
                run += 1;
            }
            // A short period is repeated to a few words, so each fold step covers more.
            while pattern.len() < 16 && pattern.len() + pat_words <= self.words {
                pattern.extend_from_within(..pat_words);
            }
            match fold {
                Fold::Meet => fold_periodic(acc, &pattern, |a, b| a & b),
                Fold::Join => fold_periodic(acc, &pattern, |a, b| a | b),
            }
        } else {
            let (mut start, mut run) = (0u64, 0u64);
            while start < self.n_bits {
                let end = start.saturating_add(stride).min(self.n_bits);
                match (fold, hit(run)) {
                    (Fold::Meet, false) => clear_range(acc, start, end),
                    (Fold::Join, true) => set_range(acc, start, end),
                    _ => {}
                }
                start = end;
                run += 1;
            }
        }
    }
}

/// The table of an opaque leaf: its digits are false, true, unknown.
const OPAQUE: [Truth; 3] = [Truth::False, Truth::True, Truth::Unknown];

/// How a junction's operands combine into the combinations where it has some truth: where all
/// of them have it (`and` for true, `or` for false) or where some has it (`and` for false, `or`
/// for true).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    Meet,
    Join,
}

fn junction_fold(e: &Expr, want: Truth) -> Fold {
    match (e, want) {
        (Expr::And(_), Truth::True) | (Expr::Or(_), Truth::False) => Fold::Meet,
        _ => Fold::Join,
    }
}

/// `acc[w] = op(acc[w], pattern[w % pattern.len()])` for every word of `acc`.
fn fold_periodic(acc: &mut [u64], pattern: &[u64], op: impl Fn(u64, u64) -> u64) {
    if pattern.is_empty() {
        return;
    }
    for chunk in acc.chunks_mut(pattern.len()) {
        for (a, b) in chunk.iter_mut().zip(pattern) {
            *a = op(*a, *b);
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// Sets bits `start..end`.
fn set_range(bits: &mut [u64], start: u64, end: u64) {
    for_range_words(bits, start, end, |word, mask| *word |= mask);
}

/// Clears bits `start..end`.
fn clear_range(bits: &mut [u64], start: u64, end: u64) {
    for_range_words(bits, start, end, |word, mask| *word &= !mask);
}

/// Calls `f` with each word of `bits` that bits `start..end` touch and the mask of those bits
/// in it.
fn for_range_words(bits: &mut [u64], start: u64, end: u64, f: impl Fn(&mut u64, u64)) {
    let mut i = start;
    while i < end {
        let w = usize::try_from(i / 64).unwrap_or(usize::MAX);
        let lo = i % 64;
        let hi = (end - i + lo).min(64);
        let mask = if hi - lo == 64 {
            u64::MAX
        } else {
            ((1u64 << (hi - lo)) - 1) << lo
        };
        if let Some(word) = bits.get_mut(w) {
            f(word, mask);
        }
        i += hi - lo;
    }
}

/// Clears the bits from `n_bits` on.
fn clear_tail(bits: &mut [u64], n_bits: u64) {
    let used = n_bits % 64;
    let full = usize::try_from(n_bits / 64).unwrap_or(usize::MAX);
    if used != 0 {
        if let Some(w) = bits.get_mut(full) {
            *w &= (1u64 << used) - 1;
        }
    }
    for w in bits.iter_mut().skip(full + usize::from(used != 0)) {
        *w = 0;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn truth() -> impl Strategy<Value = Truth> {
        prop_oneof![Just(Truth::True), Just(Truth::False), Just(Truth::Unknown)]
    }

    /// Random expressions over `n_fields` fields of the given radices and `n_opaque` opaque leaves.
    fn expr(radices: Vec<usize>, n_opaque: usize) -> impl Strategy<Value = Expr> {
        let n_fields = radices.len();
        let leaf = {
            let radices = radices.clone();
            (0..radices.len().max(1), 0..n_opaque.max(1), 0..3u8).prop_flat_map(
                move |(f, o, kind)| {
                    let r = radices.get(f).copied().unwrap_or(1);
                    (proptest::collection::vec(truth(), r), truth()).prop_map(move |(table, c)| {
                        match kind {
                            0 if f < n_fields => Expr::Leaf(f, table),
                            1 if n_opaque > 0 => Expr::Opaque(o),
                            _ => Expr::Const(c),
                        }
                    })
                },
            )
        };
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(|x| Expr::Not(Box::new(x))),
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Expr::And),
                proptest::collection::vec(inner, 0..4).prop_map(Expr::Or),
            ]
        })
    }

    fn universe() -> impl Strategy<Value = Universe> {
        (proptest::collection::vec(1usize..7, 0..5), 0usize..4).prop_flat_map(
            |(radices, n_opaque)| {
                proptest::collection::vec(expr(radices.clone(), n_opaque), 1..4).prop_map(
                    move |exprs| Universe {
                        fields: (0..radices.len()).map(|i| FieldId(i as u32)).collect(),
                        atoms: radices
                            .iter()
                            .map(|r| {
                                (0..*r)
                                    .map(|_| Atom {
                                        json: None,
                                        value: Value::Null,
                                    })
                                    .collect::<Vec<_>>()
                                    .into()
                            })
                            .collect(),
                        n_opaque,
                        exprs,
                        paths: vec![crate::ir::FieldPath::from([]); radices.len()],
                    },
                )
            },
        )
    }

    proptest! {
        /// The bit-parallel truth of every condition is the one-combination-at-a-time truth,
        /// combination by combination, and `combo` decodes the enumeration order.
        #[test]
        fn masks_agree_with_enumeration(u in universe()) {
            let masks = u.masks();
            let mut index = 0u64;
            u.for_each(|atoms, opaque, truths| {
                let (a, o) = u.combo(index);
                assert_eq!((a.as_slice(), o.as_slice()), (atoms, opaque));
                for (m, t) in masks.iter().zip(truths) {
                    let w = usize::try_from(index / 64).unwrap();
                    let bit = 1u64 << (index % 64);
                    let got = match (m.t[w] & bit != 0, m.f[w] & bit != 0) {
                        (true, false) => Truth::True,
                        (false, true) => Truth::False,
                        (false, false) => Truth::Unknown,
                        (true, true) => panic!("combination {index} both true and false"),
                    };
                    assert_eq!(got, *t, "combination {index}");
                }
                index += 1;
                true
            });
            prop_assert_eq!(index, u.size());
            let truths: Vec<Bits> = masks.iter().map(|m| m.t.clone()).collect();
            prop_assert_eq!(u.truths(), truths);
            for m in &masks {
                let ones: u64 = m.t.iter().chain(&m.f).map(|w| u64::from(w.count_ones())).sum();
                prop_assert!(ones <= u.size(), "bits set past the universe");
            }
        }
    }

    #[test]
    fn a_leaf_with_an_empty_table_is_unknown_under_and_and_or() {
        let strides = [1u64, 3];
        let cx = MaskCx {
            n_bits: 100,
            words: 2,
            strides: &strides,
            n_opaque: 0,
        };
        let empty = Expr::Leaf(0, Vec::new());
        let always = Expr::Leaf(1, vec![Truth::True; 3]);
        let unknown = Masks {
            t: vec![0, 0],
            f: vec![0, 0],
        };
        assert_eq!(cx.eval(&empty), unknown);
        assert_eq!(
            cx.eval(&Expr::And(vec![empty.clone(), always.clone()])),
            unknown
        );
        assert_eq!(cx.eval(&Expr::Or(vec![empty.clone()])), unknown);
        assert_eq!(
            cx.eval(&Expr::Or(vec![Expr::Not(Box::new(empty)), always])),
            Masks {
                t: cx.full(),
                f: vec![0, 0],
            }
        );
    }

    #[test]
    fn long_strides_and_periods() {
        // Radices whose strides straddle words: 3 * 5 * 7 * 11 combinations.
        let radices = [3usize, 5, 7, 11];
        let u = Universe {
            fields: (0..4).map(FieldId).collect(),
            atoms: radices
                .iter()
                .map(|r| {
                    (0..*r)
                        .map(|_| Atom {
                            json: None,
                            value: Value::Null,
                        })
                        .collect::<Vec<_>>()
                        .into()
                })
                .collect(),
            n_opaque: 0,
            exprs: (0..4)
                .map(|f| {
                    Expr::Leaf(
                        f,
                        (0..radices[f])
                            .map(|d| {
                                if d % 2 == 0 {
                                    Truth::True
                                } else {
                                    Truth::False
                                }
                            })
                            .collect(),
                    )
                })
                .collect(),
            paths: vec![crate::ir::FieldPath::from([]); 4],
        };
        let masks = u.masks();
        let mut index = 0u64;
        u.for_each(|atoms, _, truths| {
            for (f, (m, t)) in masks.iter().zip(truths).enumerate() {
                let on = m.t[usize::try_from(index / 64).unwrap()] >> (index % 64) & 1 == 1;
                assert_eq!(on, *t == Truth::True, "field {f} combination {index}");
                assert_eq!(atoms[f] % 2 == 0, on);
            }
            index += 1;
            true
        });
        assert_eq!(index, 3 * 5 * 7 * 11);
    }
}
