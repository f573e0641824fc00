//! Static analysis of a checked rule set: conditions that are never true or always true,
//! language branches that never fire or overlap, an `otherwise` that is never used, and portals
//! that invite the same record — each with a witness record where one exists.
//!
//! The analysis is exact for the decided fragment (per-field predicates of the optimizer, null
//! and empty tests on fields, `and`/`or`/`not`, constants) and treats every other leaf as an
//! opaque three-valued variable: a universal claim (never true, always true, covered) is made only
//! when it holds for every value of every opaque leaf, and an existential one (overlap) only when
//! the reference interpreter confirms its witness record. See `docs/analysis.md`.

pub mod domain;

use crate::diagnostics::{Code, Diagnostic, Severity};
use crate::interp::{self, Env};
use crate::ir::{Node, NodeKind, Ty};
use crate::rules::{Cond, Portal, RuleSet};
use crate::span::{SourceId, Span};
use crate::value::{Truth, Value};
use domain::{Summary, Universe};

/// The analysis lints, in the order they are documented.
pub const LINTS: [Code; 6] = [
    Code::AlwaysFalse,
    Code::AlwaysTrue,
    Code::UnreachableBranch,
    Code::OverlappingBranches,
    Code::OtherwiseUnreachable,
    Code::PortalOverlap,
];

/// How many candidate witnesses are kept per question for confirmation by the interpreter.
const CANDIDATES: usize = 4;

/// What the analysis runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LintOptions {
    /// Report `portal-overlap` (info; off by default).
    pub portal_overlap: bool,
}

/// Lints a rule set with the options its files ask for: `portal-overlap` is on when some rule
/// file has a line `# herald: enable(portal-overlap)`.
pub fn lint_rule_set(set: &RuleSet) -> Vec<Diagnostic> {
    let portal_overlap = set.sources.iter().any(|(_, f)| {
        f.text.lines().any(|l| {
            pragma(l, "enable")
                .iter()
                .any(|c| c == Code::PortalOverlap.as_str())
        })
    });
    lint_rule_set_with(set, LintOptions { portal_overlap })
}

/// Lints a rule set with explicit options (the file pragma still turns `portal-overlap` on).
pub fn lint_rule_set_with(set: &RuleSet, options: LintOptions) -> Vec<Diagnostic> {
    let now = chrono::Utc::now();
    let cx = Cx {
        set,
        now,
        budget: std::cell::Cell::new(0),
        atoms: domain::AtomCache::default(),
    };
    let analysed: Vec<Analysed> = set
        .portals
        .iter()
        .enumerate()
        .map(|(i, p)| Analysed::of(p, set.compiled.portals.get(i)))
        .collect();
    let mut out = Vec::new();
    for (p, a) in set.portals.iter().zip(&analysed) {
        cx.budget.set(PORTAL_BUDGET);
        for d in cx.portal(p, a) {
            if !cx.allowed(p, &d) {
                out.push(d.in_source(p.source));
            }
        }
    }
    if options.portal_overlap {
        cx.budget.set(OVERLAP_BUDGET);
        for (j, (q, aq)) in set.portals.iter().zip(&analysed).enumerate() {
            for (p, ap) in set.portals.iter().zip(&analysed).take(j) {
                if let Some(d) = cx.portal_overlap(p, ap, q, aq) {
                    if !cx.allowed_on_portal(q, d.code) && !cx.allowed_on_portal(p, d.code) {
                        out.push(d);
                    }
                }
            }
        }
    }
    out
}

/// The codes a comment line names in `# herald: <verb>(code, ...)`.
fn pragma(line: &str, verb: &str) -> Vec<String> {
    let Some(i) = line.find('#') else {
        return Vec::new();
    };
    let rest = line.get(i + 1..).unwrap_or("").trim_start();
    let Some(rest) = rest.strip_prefix("herald:") else {
        return Vec::new();
    };
    let rest = rest.trim_start();
    let Some(rest) = rest.strip_prefix(verb) else {
        return Vec::new();
    };
    let rest = rest.trim_start();
    let Some(rest) = rest.strip_prefix('(') else {
        return Vec::new();
    };
    let Some(end) = rest.find(')') else {
        return Vec::new();
    };
    rest.get(..end)
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A portal's conditions, optimized.
struct Analysed {
    require: Option<Node>,
    /// One per branch; a branch without condition is the constant `true`.
    branches: Vec<Node>,
}

fn konst(b: bool, span: Span) -> Node {
    Node {
        kind: NodeKind::Const(Value::Bool(b)),
        ty: Ty::Bool,
        span,
    }
}

impl Analysed {
    /// The optimized conditions of portal `p`: those the rule set compiled, when it has them.
    fn of(p: &Portal, compiled: Option<&crate::rules::PortalProgram>) -> Analysed {
        let optimized = |c: &Cond, done: Option<&Node>| {
            done.cloned()
                .unwrap_or_else(|| crate::opt::optimize(&c.node))
        };
        Analysed {
            require: p
                .require
                .as_ref()
                .map(|c| optimized(c, compiled.and_then(|cp| cp.optimized_require.as_ref()))),
            branches: p
                .branches
                .iter()
                .enumerate()
                .map(|(k, b)| {
                    b.when.as_ref().map_or_else(
                        || konst(true, b.span),
                        |c| {
                            let done = compiled
                                .and_then(|cp| cp.optimized_branches.get(k))
                                .and_then(Option::as_ref);
                            optimized(c, done)
                        },
                    )
                })
                .collect(),
        }
    }

    /// The condition under which the portal invites (some branch or `otherwise`).
    fn invites(&self, p: &Portal) -> Node {
        let any_branch = if p.otherwise.is_some() {
            konst(true, p.span)
        } else if self.branches.len() == 1 {
            self.branches
                .first()
                .cloned()
                .unwrap_or_else(|| konst(false, p.span))
        } else {
            Node {
                kind: NodeKind::Or(self.branches.clone()),
                ty: Ty::Bool,
                span: p.span,
            }
        };
        match &self.require {
            Some(r) => Node {
                kind: NodeKind::And(vec![r.clone(), any_branch]),
                ty: Ty::Bool,
                span: p.span,
            },
            None => any_branch,
        }
    }
}

type Combo = (Vec<usize>, Vec<Truth>);

/// Facts about `require` (condition 0) and branches (conditions 1..) of one universe.
struct Facts {
    req_sat: bool,
    req_all: bool,
    /// Some record meets `require` and branch k.
    sat: Vec<bool>,
    /// Every record that meets `require` meets branch k.
    always: Vec<bool>,
    /// Some record meets `require` and branch k and no earlier branch.
    reach: Vec<bool>,
    /// covers[k][j]: earlier branch j is true for some record that meets `require` and branch k.
    covers: Vec<Vec<bool>>,
    /// Candidates for "meets branch k and an earlier branch" (only for a branch not reached).
    cover_wit: Vec<Vec<Combo>>,
    /// overlap[j][i] (i < j): candidates meeting `require`, branch i and branch j.
    overlap: Vec<Vec<Vec<Combo>>>,
    /// Some record meets `require` and no branch.
    rest: bool,
    /// Where each condition is true over the universe.
    truths: Vec<domain::Bits>,
}

impl Facts {
    /// The facts, from the truth of every condition over every combination at once (bit sets,
    /// see [`Universe::masks`]); candidates are the first combinations in enumeration order.
    fn of(u: &Universe, n: usize) -> Facts {
        let truths = u.truths();
        let n_bits = u.size();
        let words = usize::try_from(n_bits.div_ceil(64)).unwrap_or(0);
        let zeros = vec![0u64; words];
        let req = truths.first().map_or(zeros.as_slice(), Vec::as_slice);
        let branch = |k: usize| truths.get(k + 1).map_or(zeros.as_slice(), Vec::as_slice);
        let cands = |bits: &[u64]| -> Vec<Combo> {
            domain::first_ones(bits, CANDIDATES)
                .into_iter()
                .map(|i| u.combo(i))
                .collect()
        };
        let count: u64 = req.iter().map(|w| u64::from(w.count_ones())).sum();
        let mut f = Facts {
            req_sat: count > 0,
            req_all: count == n_bits,
            sat: vec![false; n],
            always: vec![true; n],
            reach: vec![false; n],
            covers: vec![vec![false; n]; n],
            cover_wit: vec![Vec::new(); n],
            overlap: (0..n).map(|j| vec![Vec::new(); j]).collect(),
            rest: false,
            truths: Vec::new(),
        };
        // Combinations that meet `require` and some branch before the current one.
        let mut earlier = zeros.clone();
        let mut both = zeros.clone();
        for k in 0..n {
            let b = branch(k);
            let (mut sat, mut always, mut reach) = (false, true, false);
            for ((r, x), e) in req.iter().zip(b).zip(&earlier) {
                sat |= r & x != 0;
                always &= r & !x == 0;
                reach |= r & x & !e != 0;
            }
            f.sat[k] = sat;
            f.always[k] = always;
            f.reach[k] = reach;
            // Only an unreachable branch asks for records that an earlier branch takes.
            if !reach {
                for ((o, (r, x)), e) in both.iter_mut().zip(req.iter().zip(b)).zip(&earlier) {
                    *o = r & x & e;
                }
                f.cover_wit[k] = cands(&both);
            }
            for i in 0..k {
                let bi = branch(i);
                for (o, ((r, x), y)) in both.iter_mut().zip(req.iter().zip(b).zip(bi)) {
                    *o = r & x & y;
                }
                if domain::any(&both) {
                    f.covers[k][i] = true;
                    f.overlap[k][i] = cands(&both);
                }
            }
            for (e, (r, x)) in earlier.iter_mut().zip(req.iter().zip(b)) {
                *e |= r & x;
            }
        }
        f.rest = req.iter().zip(&earlier).any(|(r, e)| r & !e != 0);
        f.truths = truths;
        f
    }

    /// True when condition `k` (0: `require`, then the branches) is true for some combination.
    fn ever_true(&self, k: usize) -> bool {
        self.truths.get(k).is_some_and(|t| domain::any(t))
    }
}

struct Cx<'a> {
    set: &'a RuleSet,
    now: chrono::DateTime<chrono::Utc>,
    /// Combinations left to enumerate for the current portal (or the portal pairs): past it,
    /// the analysis says nothing more, which is always sound.
    budget: std::cell::Cell<u64>,
    /// Field atoms shared by every universe of the rule set's analysis.
    atoms: domain::AtomCache,
}

/// Combinations one portal may enumerate in all its questions.
const PORTAL_BUDGET: u64 = 1 << 17;
/// Combinations all `portal-overlap` questions together may enumerate.
const OVERLAP_BUDGET: u64 = 1 << 20;

/// What one portal's analysis found, before it becomes diagnostics.
#[derive(Default)]
struct Findings {
    require_false: bool,
    require_true: bool,
    /// Per branch: never true alone / never true under `require`.
    never: Vec<Option<bool>>,
    always: Vec<bool>,
    /// Per branch: the earlier branches that cover it, and a witness.
    unreachable: Vec<Option<(Vec<usize>, Option<serde_json::Value>)>>,
    /// (i, j, witness).
    overlaps: Vec<(usize, usize, serde_json::Value)>,
    otherwise_unreachable: bool,
}

impl Cx<'_> {
    fn env<'r>(&'r self, record: &'r serde_json::Value) -> Env<'r> {
        Env {
            record,
            fields: &self.set.fields,
            now: self.now,
        }
    }

    fn truth(&self, c: Option<&Cond>, record: &serde_json::Value) -> Truth {
        c.map_or(Truth::True, |c| interp::truth(&c.node, &self.env(record)))
    }

    /// The first candidate whose record the reference interpreter confirms.
    fn confirm(
        &self,
        u: &Universe,
        cands: &[Combo],
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        cands
            .iter()
            .map(|(atoms, _)| u.record(atoms))
            .find(|r| ok(r))
    }

    /// The universe of `conds` (their summaries: `sums`), when the budget allows it.
    fn universe(&self, conds: &[&Node], sums: &[&Summary<'_>]) -> Option<Universe> {
        let left = self.budget.get();
        // Enumerations may repeat for the "alone" check: count each universe twice. A universe
        // past the budget is not compiled.
        let u = Universe::of_summaries(
            conds,
            sums,
            &self.set.fields,
            &self.set.schemas,
            &self.atoms,
            left / 2,
        )?;
        let cost = u.size().saturating_mul(2);
        if cost > left {
            return None;
        }
        self.budget.set(left - cost);
        Some(u)
    }

    fn findings(&self, p: &Portal, a: &Analysed) -> Findings {
        let n = a.branches.len();
        let truth_node = konst(true, p.span);
        let req = a.require.as_ref().unwrap_or(&truth_node);
        let mut f = Findings {
            never: vec![None; n],
            always: vec![false; n],
            unreachable: vec![None; n],
            ..Findings::default()
        };
        // Every branch with `require`: one universe when small enough, else prefixes and pairs.
        let mut all: Vec<&Node> = vec![req];
        all.extend(a.branches.iter());
        // Each condition is walked once; every universe below merges their summaries.
        let sums: Vec<Summary<'_>> = all
            .iter()
            .map(|n| Summary::of(n, &self.set.fields))
            .collect();
        // The universe of the conditions at these indices of `all`.
        let universe_of = |ix: &[usize]| {
            let conds: Vec<&Node> = ix.iter().filter_map(|i| all.get(*i).copied()).collect();
            let ss: Vec<&Summary<'_>> = ix.iter().filter_map(|i| sums.get(*i)).collect();
            self.universe(&conds, &ss)
        };
        let every: Vec<usize> = (0..all.len()).collect();
        let whole = universe_of(&every);
        let whole_facts = whole.as_ref().map(|u| Facts::of(u, n));
        // `require` alone: the whole universe answers it too (its atoms refine those of
        // `require`, and every record still falls in one combination).
        let req_facts = match &whole_facts {
            Some(facts) => Some((facts.req_sat, facts.req_all)),
            None => universe_of(&[0]).map(|u| {
                let facts = Facts::of(&u, 0);
                (facts.req_sat, facts.req_all)
            }),
        };
        if let (Some((sat, all)), true) = (req_facts, p.require.is_some()) {
            f.require_false = !sat;
            f.require_true = all;
        }
        if f.require_false {
            return f;
        }
        let req_of = |r: &serde_json::Value| self.truth(p.require.as_ref(), r) == Truth::True;
        let branch_of = |k: usize, r: &serde_json::Value| {
            p.branches
                .get(k)
                .is_some_and(|b| self.truth(b.when.as_ref(), r) == Truth::True)
        };
        let mut done_pairs = whole.is_some();
        if let (Some(u), Some(facts)) = (&whole, &whole_facts) {
            f.otherwise_unreachable = p.otherwise.is_some() && !facts.rest;
            self.branch_findings(p, &mut f, u, facts, 0..n, &req_of, &branch_of);
        } else {
            // A longer prefix has every field and mention of a shorter one, so once a prefix's
            // universe is too large, every longer one is too.
            let mut prefixes = true;
            for k in 0..n {
                let u = if prefixes {
                    universe_of(every.get(..k + 2).unwrap_or(&every))
                } else {
                    None
                };
                prefixes &= u.is_some();
                if let Some(u) = u {
                    let facts = Facts::of(&u, k + 1);
                    self.branch_findings(p, &mut f, &u, &facts, k..k + 1, &req_of, &branch_of);
                } else {
                    done_pairs = false;
                    if a.branches.get(k).is_none() {
                        continue;
                    }
                    if let Some(u) = universe_of(&[0, k + 1]) {
                        let facts = Facts::of(&u, 1);
                        if !facts.sat.first().copied().unwrap_or(true) {
                            f.never[k] = Some(universe_of(&[k + 1]).is_some_and(|u| {
                                !u.truths().first().is_some_and(|t| domain::any(t))
                            }));
                        } else if facts.always.first().copied().unwrap_or(false)
                            && (k + 1 < n || p.otherwise.is_some())
                        {
                            f.always[k] = true;
                        }
                    }
                }
            }
        }
        if !done_pairs {
            // Overlaps pair by pair for the branches no prefix universe covered.
            for j in 0..n {
                if f.overlaps.iter().any(|(_, jj, _)| *jj == j)
                    || f.unreachable[j].is_some()
                    || f.never[j].is_some()
                {
                    continue;
                }
                for i in 0..j {
                    if f.never[i].is_some() {
                        continue;
                    }
                    if a.branches.get(i).is_none() || a.branches.get(j).is_none() {
                        continue;
                    }
                    let Some(u) = universe_of(&[0, i + 1, j + 1]) else {
                        continue;
                    };
                    let facts = Facts::of(&u, 2);
                    let cands = facts
                        .overlap
                        .get(1)
                        .and_then(|o| o.first())
                        .cloned()
                        .unwrap_or_default();
                    if let Some(w) = self.confirm(&u, &cands, |r| {
                        req_of(r) && branch_of(i, r) && branch_of(j, r)
                    }) {
                        f.overlaps.push((i, j, w));
                    }
                }
            }
        }
        f
    }

    #[allow(clippy::too_many_arguments)]
    fn branch_findings(
        &self,
        p: &Portal,
        f: &mut Findings,
        u: &Universe,
        facts: &Facts,
        ks: std::ops::Range<usize>,
        req_of: &dyn Fn(&serde_json::Value) -> bool,
        branch_of: &dyn Fn(usize, &serde_json::Value) -> bool,
    ) {
        let n = p.branches.len();
        for k in ks {
            let is_const_true = p.branches.get(k).is_some_and(|b| b.when.is_none());
            if !facts.sat.get(k).copied().unwrap_or(true) {
                let alone = u.exprs.get(k + 1).is_some() && !facts.ever_true(k + 1);
                f.never[k] = Some(alone);
                continue;
            }
            if !is_const_true
                && facts.always.get(k).copied().unwrap_or(false)
                && (k + 1 < n || p.otherwise.is_some())
            {
                f.always[k] = true;
            }
            if !facts.reach.get(k).copied().unwrap_or(true) {
                let covers: Vec<usize> = facts
                    .covers
                    .get(k)
                    .map(|c| {
                        c.iter()
                            .enumerate()
                            .filter(|(_, b)| **b)
                            .map(|(i, _)| i)
                            .collect()
                    })
                    .unwrap_or_default();
                let cands = facts.cover_wit.get(k).cloned().unwrap_or_default();
                let w = self.confirm(u, &cands, |r| {
                    req_of(r) && branch_of(k, r) && (0..k).any(|i| branch_of(i, r))
                });
                f.unreachable[k] = Some((covers, w));
                continue;
            }
            if is_const_true {
                continue;
            }
            for i in 0..k {
                if f.never.get(i).copied().flatten().is_some() {
                    continue;
                }
                let cands = facts
                    .overlap
                    .get(k)
                    .and_then(|o| o.get(i))
                    .cloned()
                    .unwrap_or_default();
                if let Some(w) = self.confirm(u, &cands, |r| {
                    req_of(r) && branch_of(i, r) && branch_of(k, r)
                }) {
                    f.overlaps.push((i, k, w));
                }
            }
        }
    }

    fn portal(&self, p: &Portal, a: &Analysed) -> Vec<Diagnostic> {
        let f = self.findings(p, a);
        let mut out = Vec::new();
        let name = &p.name;
        let req_span = p
            .require
            .as_ref()
            .map(|c| trimmed(self.set, p.source, c.node.span));
        if let Some(rs) = req_span {
            if f.require_false {
                out.push(
                    Diagnostic::warning(Code::AlwaysFalse, rs, format!("the `require` condition of `{name}` is never true"))
                        .with_label("no record meets this condition")
                        .with_help("this portal never invites anyone: check the condition (a field that is null makes a comparison unknown, not true)"),
                );
                return out;
            }
            if f.require_true {
                out.push(
                    Diagnostic::warning(
                        Code::AlwaysTrue,
                        rs,
                        format!("the `require` condition of `{name}` is true for every record"),
                    )
                    .with_label("filters nothing")
                    .with_help(
                        "remove the `require` line, or write the condition it was meant to be",
                    ),
                );
            }
        }
        for (k, b) in p.branches.iter().enumerate() {
            let lang = &b.language;
            if let Some(alone) = f.never.get(k).copied().flatten() {
                let mut d = Diagnostic::warning(
                    Code::AlwaysFalse,
                    b.span,
                    if alone {
                        format!("the condition of `invite \"{lang}\"` is never true")
                    } else {
                        format!("the condition of `invite \"{lang}\"` is never true for a record that meets `require`")
                    },
                )
                .with_label("this branch never fires")
                .with_help("no record takes this branch: check the condition");
                if let (false, Some(rs)) = (alone, req_span) {
                    d = d.with_secondary(rs, "no record meets both this and the branch");
                }
                out.push(d);
            }
            if f.always.get(k).copied().unwrap_or(false) {
                out.push(
                    Diagnostic::warning(
                        Code::AlwaysTrue,
                        b.span,
                        format!("the condition of `invite \"{lang}\"` is true for every record that meets `require`"),
                    )
                    .with_label("takes every record")
                    .with_help("the lines after it are never used: give it a narrower condition, or write it last as `otherwise`"),
                );
            }
            if let Some(Some((covers, w))) = f.unreachable.get(k) {
                let msg = if b.when.is_none() {
                    format!(
                        "`invite \"{lang}\"` is never used: the branches above take every record"
                    )
                } else {
                    format!(
                        "`invite \"{lang}\"` is never used: the branches above take every record it matches"
                    )
                };
                let mut d = Diagnostic::warning(Code::UnreachableBranch, b.span, msg)
                    .with_label("never fires");
                for i in covers {
                    if let Some(bi) = p.branches.get(*i) {
                        d = d.with_secondary(bi.span, "takes those records first");
                    }
                }
                d = match w {
                    Some(w) => {
                        let first = (0..k)
                            .find(|i| {
                                p.branches.get(*i).is_some_and(|bi| {
                                    self.truth(bi.when.as_ref(), w) == Truth::True
                                })
                            })
                            .and_then(|i| p.branches.get(i))
                            .map_or_else(String::new, |bi| {
                                format!(" but goes to \"{}\"", bi.language)
                            });
                        d.with_help(format!("for example {w} matches it{first}; remove the branch or narrow the branches above"))
                    }
                    None => d.with_help("remove the branch or narrow the branches above"),
                };
                d.witness = w.clone();
                out.push(d);
            }
        }
        // One finding per later branch: every earlier branch it overlaps, the first one's witness.
        for (j, bj) in p.branches.iter().enumerate() {
            let mine: Vec<&(usize, usize, serde_json::Value)> =
                f.overlaps.iter().filter(|o| o.1 == j).collect();
            let Some((i0, _, w)) = mine.first().copied() else {
                continue;
            };
            let Some(b0) = p.branches.get(*i0) else {
                continue;
            };
            let mut d = Diagnostic::warning(
                Code::OverlappingBranches,
                bj.span,
                format!(
                    "`invite \"{}\"` overlaps `invite \"{}\"` above it",
                    bj.language, b0.language
                ),
            )
            .with_label("some records match both");
            for (i, _, _) in &mine {
                if let Some(bi) = p.branches.get(*i) {
                    d = d.with_secondary(
                        bi.span,
                        "also matches some of its records, and is taken first",
                    );
                }
            }
            d = d.with_help(format!(
                "for example {w} matches both; only the first, \"{}\", is used. Make the conditions exclusive, or write `# herald: allow(overlapping-branches)` above the line if the order is intended",
                b0.language
            ));
            d.witness = Some(w.clone());
            out.push(d);
        }
        if f.otherwise_unreachable {
            let span = otherwise_span(self.set, p);
            let mut d = Diagnostic::warning(
                Code::OtherwiseUnreachable,
                span,
                "`otherwise` is never used: the branches above take every record that meets `require`",
            )
            .with_label("never used")
            .with_help("remove the `otherwise` line, or check the branches above");
            for b in &p.branches {
                d = d.with_secondary(b.span, "covers part of the records");
            }
            out.push(d);
        }
        out
    }

    fn portal_overlap(
        &self,
        p: &Portal,
        ap: &Analysed,
        q: &Portal,
        aq: &Analysed,
    ) -> Option<Diagnostic> {
        if p.schema != q.schema
            || p.status != crate::rules::Status::Active
            || q.status != crate::rules::Status::Active
            || !((p.on_create && q.on_create) || (p.on_update && q.on_update))
        {
            return None;
        }
        let (ip, iq) = (ap.invites(p), aq.invites(q));
        let (sp, sq) = (
            Summary::of(&ip, &self.set.fields),
            Summary::of(&iq, &self.set.fields),
        );
        let u = self.universe(&[&ip, &iq], &[&sp, &sq])?;
        let truths = u.truths();
        let mut all = truths.first().cloned().unwrap_or_default();
        for t in truths.iter().skip(1) {
            for (a, b) in all.iter_mut().zip(t) {
                *a &= b;
            }
        }
        let cands: Vec<Combo> = domain::first_ones(&all, CANDIDATES)
            .into_iter()
            .map(|i| u.combo(i))
            .collect();
        let invited = |portal: &Portal, r: &serde_json::Value| {
            self.truth(portal.require.as_ref(), r) == Truth::True
                && (portal.otherwise.is_some()
                    || portal
                        .branches
                        .iter()
                        .any(|b| self.truth(b.when.as_ref(), r) == Truth::True))
        };
        let w = self.confirm(&u, &cands, |r| invited(p, r) && invited(q, r))?;
        let mut d = Diagnostic::warning(
            Code::PortalOverlap,
            name_span(self.set, q),
            format!(
                "portals `{}` and `{}` can invite the same record",
                p.name, q.name
            ),
        )
        .with_label("this portal")
        .with_help(format!("for example {w} gets an invitation from both"));
        d.severity = Severity::Info;
        d.secondary.push(crate::diagnostics::Label {
            source: p.source,
            span: name_span(self.set, p),
            message: "and this one".into(),
        });
        d.witness = Some(w);
        let mut d = d.in_source(q.source);
        // `in_source` moved the label of `p` too when both portals share a file; keep it right.
        if let Some(l) = d.secondary.last_mut() {
            l.source = p.source;
        }
        Some(d)
    }

    /// True when a pragma above the portal allows this code.
    fn allowed_on_portal(&self, p: &Portal, code: Code) -> bool {
        self.set.sources.get(p.source).is_some_and(|f| {
            pragmas_before(&f.text, p.span.start)
                .iter()
                .any(|c| c == code.as_str() || c == "all")
        })
    }

    /// True when a pragma allows this finding: on the lines just above the item it points at
    /// (or at the end of its line), or just above the portal.
    fn allowed(&self, p: &Portal, d: &Diagnostic) -> bool {
        let code = d.code.as_str();
        let hit = |src: SourceId, offset: usize| -> bool {
            self.set.sources.get(src).is_some_and(|f| {
                pragmas_before(&f.text, offset)
                    .iter()
                    .any(|c| c == code || c == "all")
            })
        };
        hit(p.source, d.span.start) || hit(p.source, p.span.start)
    }
}

/// The codes of `# herald: allow(...)` pragmas at the end of the line of `offset` and on the
/// comment lines directly above it.
fn pragmas_before(text: &str, offset: usize) -> Vec<String> {
    let offset = offset.min(text.len());
    let line_start = text
        .get(..offset)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line_end = text
        .get(offset..)
        .and_then(|t| t.find('\n'))
        .map_or(text.len(), |i| offset + i);
    let mut out = pragma(text.get(line_start..line_end).unwrap_or(""), "allow");
    let before = text.get(..line_start).unwrap_or("");
    for line in before.lines().rev() {
        let t = line.trim();
        if !t.starts_with('#') {
            break;
        }
        out.extend(pragma(t, "allow"));
    }
    out
}

/// The span of a portal's name (its first line), for portal-level findings.
fn name_span(set: &RuleSet, p: &Portal) -> Span {
    let text = set.sources.get(p.source).map_or("", |f| f.slice(p.span));
    let end = text.find('\n').map_or(p.span.end, |i| p.span.start + i);
    Span::new(p.span.start, end.max(p.span.start))
}

/// The span of the `invite "xx" otherwise` line (the portal's first line when not found).
fn otherwise_span(set: &RuleSet, p: &Portal) -> Span {
    let text = set.sources.get(p.source).map_or("", |f| f.slice(p.span));
    let after = p.branches.last().map_or(p.span.start, |b| b.span.end);
    let from = after.saturating_sub(p.span.start).min(text.len());
    let rest = text.get(from..).unwrap_or("");
    for (i, line) in line_offsets(rest) {
        let code = line.split('#').next().unwrap_or("");
        if code.contains("otherwise") && code.contains("invite") {
            let start = p.span.start + from + i + (line.len() - line.trim_start().len());
            return Span::new(start, p.span.start + from + i + line.trim_end().len());
        }
    }
    name_span(set, p)
}

fn line_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut pos = 0;
    text.split('\n').map(move |l| {
        let at = pos;
        pos += l.len() + 1;
        (at, l)
    })
}

/// A span without its trailing whitespace.
fn trimmed(set: &RuleSet, src: SourceId, span: Span) -> Span {
    let text = set.sources.get(src).map_or("", |f| f.slice(span));
    Span::new(span.start, span.start + text.trim_end().len())
}
