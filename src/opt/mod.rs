//! The optimizer: IR → IR passes, each exact under three-valued logic — the result of every
//! condition is identical (true, false *and* unknown) for every record, which the differential
//! tests check against the reference interpreter.
//!
//! Passes, run to a fixpoint: constant folding; flattening of `and`/`or` chains; negation pushed
//! to the leaves (De Morgan holds in Kleene logic) and double negation removed in boolean
//! positions; comparisons of a field with constants turned into per-field predicates
//! ([`pred::Pred`]) and merged per field and class — which gives set membership for
//! `x == a or x == b`, contradictions (`x == "FR" and x == "DE"`: unknown when `x` is null,
//! false otherwise), subsumption (`x > 5 and x > 3` is `x > 5`) and tautologies that stay
//! unknown on null (`x == 1 or x != 1`); idempotence and absorption; and ordering of
//! `and`/`or` operands by cost and estimated selectivity.

pub mod pred;

use crate::ast::TestOp;
use crate::interp::{self, Env};
use crate::ir::{CmpOp, FieldTable, Func, Node, NodeKind, Ty};
use crate::value::Value;
use pred::{Num, Pred};
use std::fmt::Write;

/// Optimizes a condition (a node in boolean position).
pub fn optimize(node: &Node) -> Node {
    let mut cur = rewrite(node, true);
    if settled(&cur, true) {
        // Another round would rebuild the same tree, spans included.
        return cur;
    }
    for _ in 0..16 {
        let next = rewrite(&cur, true);
        if same(&next, &cur) {
            return next;
        }
        cur = next;
    }
    cur
}

/// True when `n`, an output of [`rewrite`], is one that `rewrite` returns unchanged (spans
/// included), so that the fixpoint round that would confirm it can be skipped: `root` a
/// constant, or `and`/`or` trees over leaves that `rewrite` only copies (per-field predicates,
/// tests and string operators on a field). Such a tree came out of [`junction`], so every
/// junction in it already has at least two operands, none of its own kind, no constant, one
/// predicate per field and class, no duplicate, nothing absorbed, in order; rewriting its
/// operands changes none of them, so it rebuilds the same junction.
fn settled(n: &Node, root: bool) -> bool {
    let field = |x: &Node| matches!(x.kind, NodeKind::Field(_));
    let text = |x: &Node| matches!(x.kind, NodeKind::Const(Value::Str(_) | Value::List(_)));
    match &n.kind {
        NodeKind::Const(_) => root,
        NodeKind::FieldPred(..) => true,
        NodeKind::Test(_, x) => field(x),
        NodeKind::Contains(a, b)
        | NodeKind::ContainsAny(a, b)
        | NodeKind::ContainsAll(a, b)
        | NodeKind::StartsWith(a, b)
        | NodeKind::EndsWith(a, b) => field(a) && text(b),
        NodeKind::And(xs) => {
            xs.len() >= 2
                && xs
                    .iter()
                    .all(|x| !matches!(x.kind, NodeKind::And(_)) && settled(x, false))
        }
        NodeKind::Or(xs) => {
            xs.len() >= 2
                && xs
                    .iter()
                    .all(|x| !matches!(x.kind, NodeKind::Or(_)) && settled(x, false))
        }
        _ => false,
    }
}

fn mk(kind: NodeKind, ty: Ty, span: crate::span::Span) -> Node {
    Node { kind, ty, span }
}

fn konst(v: Value, like: &Node) -> Node {
    let ty = match &v {
        Value::Bool(_) => Ty::Bool,
        Value::Null if like.ty == Ty::Bool => Ty::Bool,
        _ => like.ty.clone(),
    };
    mk(NodeKind::Const(v), ty, like.span)
}

fn is_const(n: &Node) -> Option<&Value> {
    match &n.kind {
        NodeKind::Const(v) => Some(v),
        _ => None,
    }
}

/// Folds a node whose children are all constants and that does not read the clock.
fn fold(n: Node) -> Node {
    let children_const = match &n.kind {
        NodeKind::Const(_) | NodeKind::Field(_) | NodeKind::FieldPred(..) => return n,
        NodeKind::Call(Func::Today | Func::Now, _) => return n,
        NodeKind::Not(x)
        | NodeKind::Test(_, x)
        | NodeKind::Offset(x, _)
        | NodeKind::Matches(x, _) => is_const(x).is_some(),
        NodeKind::And(xs) | NodeKind::Or(xs) | NodeKind::Coalesce(xs) | NodeKind::Call(_, xs) => {
            xs.iter().all(|x| is_const(x).is_some())
        }
        NodeKind::Cmp(_, a, b)
        | NodeKind::Contains(a, b)
        | NodeKind::ContainsAny(a, b)
        | NodeKind::ContainsAll(a, b)
        | NodeKind::StartsWith(a, b)
        | NodeKind::EndsWith(a, b)
        | NodeKind::In {
            lhs: a, list: b, ..
        } => is_const(a).is_some() && is_const(b).is_some(),
    };
    if !children_const {
        return n;
    }
    let record = serde_json::Value::Null;
    let fields = FieldTable::default();
    let env = Env {
        record: &record,
        fields: &fields,
        now: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
    };
    let v = interp::eval(&n, &env);
    konst(v, &n)
}

fn negate_cmp(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Ge => CmpOp::Lt,
        CmpOp::Gt => CmpOp::Le,
        CmpOp::Le => CmpOp::Gt,
    }
}

fn flip_cmp(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Ge => CmpOp::Le,
        o => o,
    }
}

/// The predicate of `field OP constant`, when the constant has a class.
fn cmp_pred(op: CmpOp, c: &Value) -> Option<Pred> {
    match c {
        Value::Str(s) => match op {
            CmpOp::Eq => Some(Pred::str_in(false, vec![s.clone()])),
            CmpOp::Ne => Some(Pred::str_in(true, vec![s.clone()])),
            _ => None,
        },
        Value::Int(_) | Value::Dec(_) => Some(Pred::Num(pred::IntervalSet::cmp(op, Num::of(c)?))),
        Value::Date(_) | Value::DateTime(_) => {
            Some(Pred::Time(pred::IntervalSet::cmp(op, pred::instant_of(c)?)))
        }
        Value::Bool(b) => match op {
            CmpOp::Eq => Some(Pred::Bool { t: *b, f: !*b }),
            CmpOp::Ne => Some(Pred::Bool { t: !*b, f: *b }),
            _ => None,
        },
        _ => None,
    }
}

/// The predicate of `a OP b` when one side is a field and the other a constant with a class.
fn field_cmp_pred(op: CmpOp, a: &Node, b: &Node) -> Option<(crate::ir::FieldId, Pred)> {
    match (&a.kind, &b.kind) {
        (NodeKind::Field(id), NodeKind::Const(c)) => cmp_pred(op, c).map(|p| (*id, p)),
        (NodeKind::Const(c), NodeKind::Field(id)) => cmp_pred(flip_cmp(op), c).map(|p| (*id, p)),
        _ => None,
    }
}

/// The predicate of `field in [constants]`.
fn in_pred(items: &[Value]) -> Option<Pred> {
    let first = items.first()?;
    match first {
        Value::Str(_) => {
            let mut set = Vec::with_capacity(items.len());
            for i in items {
                match i {
                    Value::Str(s) => set.push(s.clone()),
                    _ => return None,
                }
            }
            Some(Pred::str_in(false, set))
        }
        Value::Int(_) | Value::Dec(_) => {
            let points = items.iter().map(Num::of).collect::<Option<Vec<_>>>()?;
            Some(Pred::Num(pred::IntervalSet::points(points)))
        }
        Value::Date(_) | Value::DateTime(_) => {
            let mut points = Vec::with_capacity(items.len());
            for i in items {
                if !matches!(i, Value::Date(_) | Value::DateTime(_)) {
                    return None;
                }
                points.push(pred::instant_of(i)?);
            }
            Some(Pred::Time(pred::IntervalSet::points(points)))
        }
        Value::Bool(_) => {
            let (mut t, mut f) = (false, false);
            for i in items {
                match i {
                    Value::Bool(true) => t = true,
                    Value::Bool(false) => f = true,
                    _ => return None,
                }
            }
            Some(Pred::Bool { t, f })
        }
        _ => None,
    }
}

/// Rewrites a node bottom-up. `boolean` says the node's value is only used through its truth
/// (the root, and operands of `and`, `or`, `not`), where a value of the wrong type and null are
/// the same unknown.
fn rewrite(n: &Node, boolean: bool) -> Node {
    let Node { kind, ty, span } = n;
    let span = *span;
    let v = |x: &Node| Box::new(rewrite(x, false));
    let kind = match kind {
        NodeKind::Not(x) => return negate(rewrite(x, true), boolean, span),
        NodeKind::And(xs) => return junction(Operands::Borrowed(xs), true, boolean, span),
        NodeKind::Or(xs) => return junction(Operands::Borrowed(xs), false, boolean, span),
        NodeKind::Field(id) if boolean && matches!(ty, Ty::Bool | Ty::Any) => {
            // `x` alone: true when x is true, unknown when null or not a boolean.
            NodeKind::FieldPred(*id, Pred::Bool { t: true, f: false })
        }
        NodeKind::Cmp(op, a, b) => {
            let op = *op;
            // A field and a constant rewrite to copies of themselves: their predicate is built
            // from the originals, without copying the constant first.
            if let Some((id, p)) = field_cmp_pred(op, a, b) {
                return mk(NodeKind::FieldPred(id, p), ty.clone(), span);
            }
            // Other operands may fold to a constant.
            let (a, b) = (v(a), v(b));
            match field_cmp_pred(op, &a, &b) {
                Some((id, p)) => NodeKind::FieldPred(id, p),
                None => NodeKind::Cmp(op, a, b),
            }
        }
        NodeKind::In { negated, lhs, list } => {
            let negated = *negated;
            if let (NodeKind::Field(id), NodeKind::Const(Value::List(items))) =
                (&lhs.kind, &list.kind)
            {
                if let Some(p) = in_pred(items) {
                    let p = if negated { p.not() } else { p };
                    return mk(NodeKind::FieldPred(*id, p), ty.clone(), span);
                }
            }
            let (lhs, list) = (v(lhs), v(list));
            let p = match (&lhs.kind, &list.kind) {
                (NodeKind::Field(id), NodeKind::Const(Value::List(items))) => {
                    in_pred(items).map(|p| (*id, p))
                }
                _ => None,
            };
            match p {
                Some((id, p)) => NodeKind::FieldPred(id, if negated { p.not() } else { p }),
                None => NodeKind::In { negated, lhs, list },
            }
        }
        NodeKind::Contains(a, b) => NodeKind::Contains(v(a), v(b)),
        NodeKind::ContainsAny(a, b) => NodeKind::ContainsAny(v(a), v(b)),
        NodeKind::ContainsAll(a, b) => NodeKind::ContainsAll(v(a), v(b)),
        NodeKind::StartsWith(a, b) => NodeKind::StartsWith(v(a), v(b)),
        NodeKind::EndsWith(a, b) => NodeKind::EndsWith(v(a), v(b)),
        NodeKind::Matches(a, re) => NodeKind::Matches(v(a), re.clone()),
        NodeKind::Test(t, x) => NodeKind::Test(*t, v(x)),
        NodeKind::Offset(x, secs) => NodeKind::Offset(v(x), *secs),
        NodeKind::Coalesce(xs) => {
            NodeKind::Coalesce(xs.iter().map(|x| rewrite(x, false)).collect())
        }
        NodeKind::Call(f, xs) => NodeKind::Call(*f, xs.iter().map(|x| rewrite(x, false)).collect()),
        // Leaves: nothing to rewrite, and nothing to fold.
        NodeKind::Const(_) | NodeKind::Field(_) | NodeKind::FieldPred(..) => return n.clone(),
    };
    fold(mk(kind, ty.clone(), span))
}

/// `not x`, with `x` already rewritten: negation pushed into the leaves.
fn negate(x: Node, boolean: bool, span: crate::span::Span) -> Node {
    let not = |x: Node| mk(NodeKind::Not(Box::new(x)), Ty::Bool, span);
    let Node {
        kind,
        ty: xty,
        span: xspan,
    } = x;
    match kind {
        NodeKind::Const(c) => fold(not(mk(NodeKind::Const(c), xty, xspan))),
        // not not y == y where only the truth is used, or y is a boolean.
        NodeKind::Not(y) if boolean || y.ty == Ty::Bool => *y,
        // De Morgan holds in Kleene logic.
        NodeKind::And(ys) => junction(
            Operands::Owned(ys.into_iter().map(not).collect()),
            false,
            boolean,
            span,
        ),
        NodeKind::Or(ys) => junction(
            Operands::Owned(ys.into_iter().map(not).collect()),
            true,
            boolean,
            span,
        ),
        NodeKind::FieldPred(id, p) => mk(NodeKind::FieldPred(id, p.not()), Ty::Bool, span),
        NodeKind::Cmp(op, a, b) => mk(NodeKind::Cmp(negate_cmp(op), a, b), Ty::Bool, span),
        NodeKind::In { negated, lhs, list } => mk(
            NodeKind::In {
                negated: !negated,
                lhs,
                list,
            },
            Ty::Bool,
            span,
        ),
        NodeKind::Test(t, y) => {
            let t = match t {
                TestOp::IsNull => TestOp::IsNotNull,
                TestOp::IsNotNull => TestOp::IsNull,
                TestOp::IsEmpty => TestOp::IsNotEmpty,
                TestOp::IsNotEmpty => TestOp::IsEmpty,
            };
            mk(NodeKind::Test(t, y), Ty::Bool, span)
        }
        other => not(mk(other, xty, xspan)),
    }
}

/// Rough evaluation cost of a node.
fn cost(n: &Node) -> u32 {
    match &n.kind {
        NodeKind::Const(_) => 0,
        NodeKind::FieldPred(_, Pred::Bool { .. }) => 1,
        NodeKind::FieldPred(_, Pred::Str(p)) => 2 + (p.set.len() as u32).clamp(1, 64).ilog2(),
        NodeKind::FieldPred(_, Pred::Num(r)) => 2 + (r.ranges.len() as u32).min(8),
        NodeKind::FieldPred(_, Pred::Time(r)) => 4 + (r.ranges.len() as u32).min(8),
        NodeKind::Test(_, x) => 1 + cost(x),
        NodeKind::Field(_) => 1,
        NodeKind::Matches(x, _) => 30 + cost(x),
        NodeKind::Not(x) => 1 + cost(x),
        NodeKind::And(xs) | NodeKind::Or(xs) | NodeKind::Coalesce(xs) | NodeKind::Call(_, xs) => {
            2 + xs.iter().map(cost).sum::<u32>()
        }
        NodeKind::Cmp(_, a, b)
        | NodeKind::Contains(a, b)
        | NodeKind::ContainsAny(a, b)
        | NodeKind::ContainsAll(a, b)
        | NodeKind::StartsWith(a, b)
        | NodeKind::EndsWith(a, b)
        | NodeKind::In {
            lhs: a, list: b, ..
        } => 3 + cost(a) + cost(b),
        NodeKind::Offset(x, _) => 2 + cost(x),
    }
}

/// Estimated probability that a condition is true, in percent.
fn p_true(n: &Node) -> u32 {
    match &n.kind {
        NodeKind::Const(Value::Bool(true)) => 100,
        NodeKind::Const(_) => 0,
        NodeKind::FieldPred(_, Pred::Str(p)) if !p.negated => {
            (10 * p.set.len() as u32).clamp(1, 90)
        }
        NodeKind::FieldPred(_, Pred::Str(_)) => 90,
        NodeKind::Test(TestOp::IsNull | TestOp::IsEmpty, _) => 10,
        NodeKind::Test(_, _) => 90,
        NodeKind::And(xs) => xs.iter().map(p_true).fold(100, |acc, p| acc * p / 100),
        NodeKind::Or(xs) => {
            100 - xs
                .iter()
                .map(|x| 100 - p_true(x))
                .fold(100, |acc, q| acc * q / 100)
        }
        NodeKind::Not(x) => 100 - p_true(x),
        _ => 50,
    }
}

/// The operands of an `and`/`or` before rewriting: the checker's (borrowed) or built by
/// [`negate`] (owned).
enum Operands<'a> {
    Borrowed(&'a [Node]),
    Owned(Vec<Node>),
}

/// An operand of a junction being built, with its structural hash ([`shash`]) and, once
/// known, its ordering score.
struct Item {
    node: Node,
    hash: u64,
    score: u64,
    absorbed: bool,
}

/// Appends a rewritten operand, flattening nested junctions of the same kind (whose operands
/// are rewritten again, in order).
fn flatten_into(x: Node, is_and: bool, out: &mut Vec<Item>) {
    let Node { kind, ty, span } = x;
    match kind {
        NodeKind::And(ys) if is_and => {
            for y in &ys {
                flatten_into(rewrite(y, true), is_and, out);
            }
        }
        NodeKind::Or(ys) if !is_and => {
            for y in &ys {
                flatten_into(rewrite(y, true), is_and, out);
            }
        }
        kind => out.push(Item {
            node: mk(kind, ty, span),
            hash: 0,
            score: 0,
            absorbed: false,
        }),
    }
}

/// `and` (`is_and`) or `or` of operands not yet rewritten: flattening, constant folding,
/// per-field predicate merging, idempotence, absorption and ordering.
///
/// Every step works in place on one vector of operands.
fn junction(xs: Operands<'_>, is_and: bool, boolean: bool, span: crate::span::Span) -> Node {
    let mut items: Vec<Item> = match &xs {
        Operands::Borrowed(xs) => Vec::with_capacity(xs.len()),
        Operands::Owned(xs) => Vec::with_capacity(xs.len()),
    };
    match xs {
        Operands::Borrowed(xs) => {
            for x in xs {
                flatten_into(rewrite(x, true), is_and, &mut items);
            }
        }
        Operands::Owned(xs) => {
            for x in &xs {
                flatten_into(rewrite(x, true), is_and, &mut items);
            }
        }
    }
    // Constants: `false` decides an `and`, `true` an `or`; the neutral one disappears.
    let (decisive, neutral) = if is_and { (false, true) } else { (true, false) };
    if let Some(x) = items
        .iter()
        .find(|x| matches!(x.node.kind, NodeKind::Const(Value::Bool(b)) if b == decisive))
    {
        return konst(Value::Bool(decisive), &x.node);
    }
    items.retain(|x| !matches!(x.node.kind, NodeKind::Const(Value::Bool(b)) if b == neutral));
    // Merge predicates of the same field and class, each into the first one it can join.
    let mut kept = 0;
    for i in 0..items.len() {
        let (head, tail) = items.split_at_mut(i);
        let merged = match (tail.first_mut(), head.get_mut(..kept)) {
            (Some(x), Some(head)) => merge_into(head, &mut x.node, is_and),
            _ => false,
        };
        if !merged {
            items.swap(kept, i);
            kept += 1;
        }
    }
    items.truncate(kept);
    // Idempotence: `a and a` is `a` (structural hashes find candidates, equality decides).
    for x in &mut items {
        x.hash = shash(&x.node);
    }
    let mut kept = 0;
    for i in 0..items.len() {
        let (head, tail) = items.split_at(i);
        let dup = match (tail.first(), head.get(..kept)) {
            (Some(x), Some(head)) => head
                .iter()
                .any(|y| y.hash == x.hash && same(&y.node, &x.node)),
            _ => false,
        };
        if !dup {
            items.swap(kept, i);
            kept += 1;
        }
    }
    items.truncate(kept);
    // Absorption: `a and (a or b)` is `a`; `a or (a and b)` is `a`.
    let mut any_absorbed = false;
    for i in 0..items.len() {
        let gone = items.get(i).is_some_and(|x| match (&x.node.kind, is_and) {
            (NodeKind::Or(ys), true) | (NodeKind::And(ys), false) => ys.iter().any(|y| {
                let hy = shash(y);
                items
                    .iter()
                    .any(|z| z.hash == hy && z.hash != x.hash && same(&z.node, y))
            }),
            _ => false,
        });
        if let Some(x) = items.get_mut(i) {
            x.absorbed = gone;
        }
        any_absorbed |= gone;
    }
    if any_absorbed {
        items.retain(|x| !x.absorbed);
    }
    // Order: cheap and decisive first. Ties keep the author's order (a stable sort): without
    // data, the order the condition was written in is the best guess left (`country == "FR"
    // and subscription == "paid"` is usually written most selective first). The result is a
    // fixpoint: a second pass computes the same scores over an already sorted list.
    for x in &mut items {
        let p = p_true(&x.node).clamp(1, 99);
        let decisive = if is_and { 100 - p } else { p };
        x.score = u64::from(cost(&x.node) + 1) * 10_000 / u64::from(decisive);
    }
    items.sort_by_key(|x| x.score);
    match items.len() {
        0 => konst(
            Value::Bool(neutral),
            &mk(NodeKind::Const(Value::Null), Ty::Bool, span),
        ),
        1 if boolean || items.first().is_some_and(|x| x.node.ty == Ty::Bool) => {
            items.pop().map_or_else(
                || {
                    konst(
                        Value::Null,
                        &mk(NodeKind::Const(Value::Null), Ty::Bool, span),
                    )
                },
                |x| x.node,
            )
        }
        _ => {
            let items: Vec<Node> = items.into_iter().map(|x| x.node).collect();
            let kind = if is_and {
                NodeKind::And(items)
            } else {
                NodeKind::Or(items)
            };
            mk(kind, Ty::Bool, span)
        }
    }
}

/// Merges the predicate `x` (when it is one) into the first predicate of `merged` on the same
/// field and of the same class; false when it is not merged. A merged `x` is left without its
/// strings (the caller drops it).
fn merge_into(merged: &mut [Item], x: &mut Node, is_and: bool) -> bool {
    let NodeKind::FieldPred(id, p) = &mut x.kind else {
        return false;
    };
    let slot = merged.iter_mut().find(|m| {
        matches!(&m.node.kind, NodeKind::FieldPred(mid, mp) if mid == id && mp.class() == p.class())
    });
    let Some(m) = slot else {
        return false;
    };
    let NodeKind::FieldPred(_, mp) = &mut m.node.kind else {
        return false;
    };
    let combined = match (&mut *mp, &mut *p) {
        // Two string sets: merged without copying their strings.
        (Pred::Str(a), Pred::Str(b)) => {
            let (a, b) = (std::mem::take(a), std::mem::take(b));
            Some(Pred::Str(a.merge(b, is_and)))
        }
        (mp, p) if is_and => mp.and(p),
        (mp, p) => mp.or(p),
    };
    match combined {
        Some(c) => {
            m.node.kind = NodeKind::FieldPred(*id, c);
            m.node.span = m.node.span.to(x.span);
            true
        }
        None => false,
    }
}

/// Structural equality, ignoring spans.
pub fn same(a: &Node, b: &Node) -> bool {
    use NodeKind as K;
    let all = |xs: &[Node], ys: &[Node]| {
        xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
    };
    match (&a.kind, &b.kind) {
        (K::Const(x), K::Const(y)) => const_eq(x, y),
        (K::Field(x), K::Field(y)) => x == y,
        (K::FieldPred(f, p), K::FieldPred(g, q)) => f == g && p == q,
        (K::Not(x), K::Not(y)) => same(x, y),
        (K::And(xs), K::And(ys)) | (K::Or(xs), K::Or(ys)) | (K::Coalesce(xs), K::Coalesce(ys)) => {
            all(xs, ys)
        }
        (K::Call(f, xs), K::Call(g, ys)) => f == g && all(xs, ys),
        (K::Cmp(o, a1, b1), K::Cmp(p, a2, b2)) => o == p && same(a1, a2) && same(b1, b2),
        (
            K::In {
                negated: n1,
                lhs: a1,
                list: b1,
            },
            K::In {
                negated: n2,
                lhs: a2,
                list: b2,
            },
        ) => n1 == n2 && same(a1, a2) && same(b1, b2),
        (K::Contains(a1, b1), K::Contains(a2, b2))
        | (K::ContainsAny(a1, b1), K::ContainsAny(a2, b2))
        | (K::ContainsAll(a1, b1), K::ContainsAll(a2, b2))
        | (K::StartsWith(a1, b1), K::StartsWith(a2, b2))
        | (K::EndsWith(a1, b1), K::EndsWith(a2, b2)) => same(a1, a2) && same(b1, b2),
        (K::Matches(x, r1), K::Matches(y, r2)) => r1.as_str() == r2.as_str() && same(x, y),
        (K::Test(t, x), K::Test(u, y)) => t == u && same(x, y),
        (K::Offset(x, s1), K::Offset(y, s2)) => s1 == s2 && same(x, y),
        _ => false,
    }
}

/// Constant equality that tells `1` from `1.0` and `-0.0` from `0.0` (they print differently).
fn const_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Dec(x), Value::Dec(y)) => x.to_bits() == y.to_bits(),
        (Value::List(xs), Value::List(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| const_eq(x, y))
        }
        (Value::DateTime(x), Value::DateTime(y)) => x == y && x.offset() == y.offset(),
        _ => std::mem::discriminant(a) == std::mem::discriminant(b) && a == b,
    }
}

/// A structural hash, consistent with [`same`].
pub fn shash(n: &Node) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    hash_node(n, &mut h);
    fn hash_value(v: &Value, h: &mut rustc_hash::FxHasher) {
        std::mem::discriminant(v).hash(h);
        match v {
            Value::Bool(b) => b.hash(h),
            Value::Int(i) => i.hash(h),
            Value::Dec(f) => f.to_bits().hash(h),
            Value::Str(s) => s.hash(h),
            Value::Date(d) => d.hash(h),
            Value::DateTime(t) => t.timestamp_nanos_opt().hash(h),
            Value::List(l) => {
                l.len().hash(h);
                for x in l {
                    hash_value(x, h);
                }
            }
            Value::Null | Value::Object => {}
        }
    }
    fn hash_node(n: &Node, h: &mut rustc_hash::FxHasher) {
        std::mem::discriminant(&n.kind).hash(h);
        match &n.kind {
            NodeKind::Const(v) => hash_value(v, h),
            NodeKind::Field(id) => id.hash(h),
            NodeKind::FieldPred(id, p) => {
                id.hash(h);
                p.class().hash(h);
                if let Pred::Str(sp) = p {
                    sp.negated.hash(h);
                    sp.set.hash(h);
                }
            }
            NodeKind::Not(x)
            | NodeKind::Test(_, x)
            | NodeKind::Offset(x, _)
            | NodeKind::Matches(x, _) => {
                match &n.kind {
                    NodeKind::Test(t, _) => (*t as u8).hash(h),
                    NodeKind::Offset(_, s) => s.hash(h),
                    NodeKind::Matches(_, re) => re.as_str().hash(h),
                    _ => {}
                }
                hash_node(x, h);
            }
            NodeKind::And(xs)
            | NodeKind::Or(xs)
            | NodeKind::Coalesce(xs)
            | NodeKind::Call(_, xs) => {
                if let NodeKind::Call(f, _) = &n.kind {
                    (*f as u8).hash(h);
                }
                for x in xs {
                    hash_node(x, h);
                }
            }
            NodeKind::Cmp(_, a, b)
            | NodeKind::Contains(a, b)
            | NodeKind::ContainsAny(a, b)
            | NodeKind::ContainsAll(a, b)
            | NodeKind::StartsWith(a, b)
            | NodeKind::EndsWith(a, b)
            | NodeKind::In {
                lhs: a, list: b, ..
            } => {
                match &n.kind {
                    NodeKind::Cmp(o, _, _) => (*o as u8).hash(h),
                    NodeKind::In { negated, .. } => negated.hash(h),
                    _ => {}
                }
                hash_node(a, h);
                hash_node(b, h);
            }
        }
    }
    h.finish()
}

/// A canonical, span-free description of a node: equal fingerprints mean equal nodes.
pub fn fingerprint(n: &Node) -> String {
    let mut s = String::new();
    fp(n, &mut s);
    s
}

fn fp(n: &Node, out: &mut String) {
    match &n.kind {
        NodeKind::Const(v) => {
            let _ = write!(out, "c{v:?}");
        }
        NodeKind::Field(id) => {
            let _ = write!(out, "f{}", id.0);
        }
        NodeKind::Not(x) => {
            out.push_str("!(");
            fp(x, out);
            out.push(')');
        }
        NodeKind::And(xs) | NodeKind::Or(xs) | NodeKind::Coalesce(xs) => {
            out.push_str(match &n.kind {
                NodeKind::And(_) => "&(",
                NodeKind::Or(_) => "|(",
                _ => "?(",
            });
            for x in xs {
                fp(x, out);
                out.push(',');
            }
            out.push(')');
        }
        NodeKind::Cmp(op, a, b) => {
            let _ = write!(out, "{}(", op.as_str());
            fp(a, out);
            out.push(',');
            fp(b, out);
            out.push(')');
        }
        NodeKind::In { negated, lhs, list } => {
            out.push_str(if *negated { "nin(" } else { "in(" });
            fp(lhs, out);
            out.push(',');
            fp(list, out);
            out.push(')');
        }
        NodeKind::Contains(a, b)
        | NodeKind::ContainsAny(a, b)
        | NodeKind::ContainsAll(a, b)
        | NodeKind::StartsWith(a, b)
        | NodeKind::EndsWith(a, b) => {
            out.push_str(match &n.kind {
                NodeKind::Contains(..) => "has(",
                NodeKind::ContainsAny(..) => "any(",
                NodeKind::ContainsAll(..) => "all(",
                NodeKind::StartsWith(..) => "sw(",
                _ => "ew(",
            });
            fp(a, out);
            out.push(',');
            fp(b, out);
            out.push(')');
        }
        NodeKind::Matches(a, re) => {
            out.push_str("m(");
            fp(a, out);
            let _ = write!(out, ",{:?})", re.as_str());
        }
        NodeKind::Test(t, x) => {
            let _ = write!(out, "{}(", t.as_str());
            fp(x, out);
            out.push(')');
        }
        NodeKind::Offset(x, secs) => {
            out.push_str("off(");
            fp(x, out);
            let _ = write!(out, ",{secs})");
        }
        NodeKind::Call(f, xs) => {
            let _ = write!(out, "{}(", f.name());
            for x in xs {
                fp(x, out);
                out.push(',');
            }
            out.push(')');
        }
        NodeKind::FieldPred(id, p) => {
            let _ = write!(out, "p{}:{p:?}", id.0);
        }
    }
}
