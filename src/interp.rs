//! The reference interpreter: the three-valued semantics of LANGUAGE.md, written to be obviously
//! right rather than fast. It is the oracle of the optimizer, the compiled evaluator and the SQL
//! export, and it produces `herald explain` trees. Evaluation is total: it never fails.

use crate::ast::TestOp;
use crate::ir::{Absence, CmpOp, FieldTable, Func, Node, NodeKind, read_field};
use crate::value::{self, Truth, Value};
use chrono::{DateTime, Duration, Utc};

/// What an evaluation reads: the record, the rule set's fields and the clock's instant.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The record (a JSON object).
    pub record: &'a serde_json::Value,
    /// The fields the IR refers to.
    pub fields: &'a FieldTable,
    /// The instant behind `today()` and `now()`.
    pub now: DateTime<Utc>,
}

/// Evaluates a node to a value (unknown conditions are null).
pub fn eval(node: &Node, env: &Env<'_>) -> Value {
    step(node, env, &mut |child| eval(child, env))
}

/// Evaluates a condition to its truth.
pub fn truth(node: &Node, env: &Env<'_>) -> Truth {
    eval(node, env).truth()
}

/// One node of an explanation tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    /// The value the node took.
    pub value: Value,
    /// For a field read: the field's path.
    pub field: Option<String>,
    /// For a field read that gave null: the field and why.
    pub absence: Option<(String, Absence)>,
    /// The span of the node in its source.
    pub span: crate::span::Span,
    /// True for conditions (boolean-valued nodes).
    pub is_condition: bool,
    /// The explained children, in order.
    pub children: Vec<Explained>,
}

/// Evaluates a node and records every sub-node's value and why each unknown is unknown.
pub fn explain(node: &Node, env: &Env<'_>) -> Explained {
    let mut children = Vec::new();
    let value = step(node, env, &mut |child| {
        let e = explain(child, env);
        let v = e.value.clone();
        children.push(e);
        v
    });
    let absence = match &node.kind {
        NodeKind::Field(id) => env.fields.get(*id).and_then(|info| {
            read_field(env.record, info)
                .absence
                .map(|a| (info.display(), a))
        }),
        _ => None,
    };
    let field = match &node.kind {
        NodeKind::Field(id) => env.fields.get(*id).map(|info| info.display()),
        _ => None,
    };
    Explained {
        value,
        field,
        absence,
        span: node.span,
        is_condition: node.ty == crate::ir::Ty::Bool,
        children,
    }
}

fn kleene_any(items: impl IntoIterator<Item = Truth>) -> Truth {
    items.into_iter().fold(Truth::False, Truth::or)
}

fn kleene_all(items: impl IntoIterator<Item = Truth>) -> Truth {
    items.into_iter().fold(Truth::True, Truth::and)
}

/// Three-valued equality of two values.
pub fn eq3(a: &Value, b: &Value) -> Truth {
    if a.is_null() || b.is_null() {
        return Truth::Unknown;
    }
    value::equals(a, b).map_or(Truth::Unknown, Truth::from_bool)
}

/// `list contains x`: some element equals x.
fn member(list: &[Value], x: &Value) -> Truth {
    kleene_any(list.iter().map(|e| eq3(e, x)))
}

/// `hay contains needle` for a string or a list.
fn contains(hay: &Value, needle: &Value) -> Truth {
    match (hay, needle) {
        (Value::Null, _) | (_, Value::Null) => Truth::Unknown,
        (Value::Str(h), Value::Str(n)) => Truth::from_bool(h.contains(n.as_str())),
        (Value::List(items), x) => member(items, x),
        _ => Truth::Unknown,
    }
}

fn offset(v: &Value, secs: i64) -> Value {
    let delta = Duration::try_seconds(secs);
    match (v, delta) {
        (Value::Date(d), Some(delta)) if secs % 86_400 == 0 => {
            d.checked_add_signed(delta).map_or(Value::Null, Value::Date)
        }
        (Value::Date(d), Some(delta)) => value::date_start(*d)
            .checked_add_signed(delta)
            .map_or(Value::Null, Value::DateTime),
        (Value::DateTime(t), Some(delta)) => t
            .checked_add_signed(delta)
            .map_or(Value::Null, Value::DateTime),
        (Value::Str(s), Some(_)) => match value::coerce_temporal(s) {
            Some(t) => offset(&t, secs),
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

/// How the evaluation of one node evaluates a child.
type Child<'c> = &'c mut dyn FnMut(&Node) -> Value;

/// The semantics of one node, given a way to evaluate its children. Every child is evaluated
/// exactly once, in order (the explanation tree relies on it).
///
/// Evaluation recurses once per nesting level (up to `prescan::MAX_DEPTH`) on the caller's
/// stack, so this function only dispatches and each kind has its own function: an unoptimized
/// build reserves one frame for the locals of every arm of a `match`, which made this frame
/// 3 KiB when everything was inline.
fn step(node: &Node, env: &Env<'_>, child: Child<'_>) -> Value {
    match &node.kind {
        NodeKind::Const(v) => v.clone(),
        NodeKind::Field(id) => env
            .fields
            .get(*id)
            .map_or(Value::Null, |info| read_field(env.record, info).value),
        NodeKind::Not(x) => Value::from_truth(child(x).truth().not()),
        NodeKind::And(xs) => junction(xs, true, child),
        NodeKind::Or(xs) => junction(xs, false, child),
        NodeKind::Cmp(op, a, b) => cmp(*op, a, b, child),
        NodeKind::In { negated, lhs, list } => in_list(*negated, lhs, list, child),
        NodeKind::Contains(a, b) => contains_node(a, b, child),
        NodeKind::ContainsAny(a, b) => contains_some(a, b, true, child),
        NodeKind::ContainsAll(a, b) => contains_some(a, b, false, child),
        NodeKind::StartsWith(a, b) => affix(a, b, false, child),
        NodeKind::EndsWith(a, b) => affix(a, b, true, child),
        NodeKind::Matches(a, re) => matches(a, re, child),
        NodeKind::Test(t, x) => test(*t, x, child),
        NodeKind::Coalesce(xs) => coalesce(xs, child),
        NodeKind::FieldPred(id, pred) => field_pred(*id, pred, env),
        NodeKind::Offset(base, secs) => offset(&child(base), *secs),
        NodeKind::Call(func, args) => call(*func, args, env, child),
    }
}

/// Evaluates every child in order. (A loop rather than `map(..).collect()`: the iterator
/// adapters would add a dozen frames per nesting level in an unoptimized build.)
fn children(xs: &[Node], child: Child<'_>) -> Vec<Value> {
    let mut out = Vec::with_capacity(xs.len());
    for x in xs {
        out.push(child(x));
    }
    out
}

/// `and` (`is_and`) or `or`: Kleene logic over every operand.
fn junction(xs: &[Node], is_and: bool, child: Child<'_>) -> Value {
    let values = children(xs, child);
    let ts = values.iter().map(Value::truth);
    Value::from_truth(if is_and {
        kleene_all(ts)
    } else {
        kleene_any(ts)
    })
}

fn contains_node(a: &Node, b: &Node, child: Child<'_>) -> Value {
    let (va, vb) = (child(a), child(b));
    Value::from_truth(contains(&va, &vb))
}

fn matches(a: &Node, re: &regex::Regex, child: Child<'_>) -> Value {
    match child(a) {
        Value::Str(s) => Value::Bool(re.is_match(&s)),
        _ => Value::Null,
    }
}

fn test(test: TestOp, x: &Node, child: Child<'_>) -> Value {
    let v = child(x);
    Value::Bool(match test {
        TestOp::IsNull => v.is_null(),
        TestOp::IsNotNull => !v.is_null(),
        TestOp::IsEmpty => v.is_empty(),
        TestOp::IsNotEmpty => !v.is_empty(),
    })
}

fn field_pred(id: crate::ir::FieldId, pred: &crate::opt::pred::Pred, env: &Env<'_>) -> Value {
    let v = env
        .fields
        .get(id)
        .map_or(Value::Null, |info| read_field(env.record, info).value);
    Value::from_truth(pred.test(&v))
}

fn cmp(op: CmpOp, a: &Node, b: &Node, child: Child<'_>) -> Value {
    let (va, vb) = (child(a), child(b));
    if va.is_null() || vb.is_null() {
        return Value::Null;
    }
    let t = match op {
        CmpOp::Eq => eq3(&va, &vb),
        CmpOp::Ne => eq3(&va, &vb).not(),
        _ => match value::compare(&va, &vb) {
            None => Truth::Unknown,
            Some(o) => Truth::from_bool(match op {
                CmpOp::Lt => o.is_lt(),
                CmpOp::Le => o.is_le(),
                CmpOp::Gt => o.is_gt(),
                _ => o.is_ge(),
            }),
        },
    };
    Value::from_truth(t)
}

fn in_list(negated: bool, lhs: &Node, list: &Node, child: Child<'_>) -> Value {
    let (v, l) = (child(lhs), child(list));
    let t = match (&v, &l) {
        (Value::Null, _) | (_, Value::Null) => Truth::Unknown,
        (_, Value::List(items)) => member(items, &v),
        _ => Truth::Unknown,
    };
    Value::from_truth(if negated { t.not() } else { t })
}

/// `contains any` (`any`) or `contains all`.
fn contains_some(a: &Node, b: &Node, any: bool, child: Child<'_>) -> Value {
    let (va, vb) = (child(a), child(b));
    let t = match (&va, &vb) {
        (Value::List(items), Value::List(wanted)) => {
            // Two long lists of strings: one hash set instead of a scan per wanted element
            // (the same truth; see `eval::contains_some`), so that `herald explain` on a
            // hostile record stays linear.
            let set: Option<std::collections::HashSet<&str>> =
                if items.len().saturating_mul(wanted.len()) > 256 {
                    items
                        .iter()
                        .map(|v| match v {
                            Value::Str(s) => Some(s.as_str()),
                            _ => None,
                        })
                        .collect()
                } else {
                    None
                };
            let each = wanted.iter().map(|w| match (&set, w) {
                (Some(set), Value::Str(s)) => Truth::from_bool(set.contains(s.as_str())),
                (Some(_), Value::Date(_) | Value::DateTime(_)) | (None, _) => contains(&va, w),
                // A number, boolean, list, object or null against non-empty strings.
                (Some(_), _) => Truth::Unknown,
            });
            if any {
                kleene_any(each)
            } else {
                kleene_all(each)
            }
        }
        _ => Truth::Unknown,
    };
    Value::from_truth(t)
}

/// `starts with`, or `ends with` (`suffix`).
fn affix(a: &Node, b: &Node, suffix: bool, child: Child<'_>) -> Value {
    let (va, vb) = (child(a), child(b));
    let t = match (&va, &vb) {
        (Value::Str(s), Value::Str(p)) => Truth::from_bool(if suffix {
            s.ends_with(p.as_str())
        } else {
            s.starts_with(p.as_str())
        }),
        _ => Truth::Unknown,
    };
    Value::from_truth(t)
}

fn coalesce(xs: &[Node], child: Child<'_>) -> Value {
    // Every operand is evaluated (evaluation is pure); the first non-null wins.
    children(xs, child)
        .into_iter()
        .find(|v| !v.is_null())
        .unwrap_or(Value::Null)
}

fn call(func: Func, args: &[Node], env: &Env<'_>, child: Child<'_>) -> Value {
    let vals = children(args, child);
    let arg = vals.first().cloned().unwrap_or(Value::Null);
    match (func, arg) {
        (Func::Lower, Value::Str(s)) => Value::Str(s.to_lowercase().into()),
        (Func::Upper, Value::Str(s)) => Value::Str(s.to_uppercase().into()),
        (Func::Trim, Value::Str(s)) => Value::Str(s.trim().into()),
        (Func::Len, Value::Str(s)) => Value::Int(s.chars().count() as i64),
        (Func::Len, Value::List(l)) => Value::Int(l.len() as i64),
        (Func::Today, _) => Value::Date(env.now.date_naive()),
        (Func::Now, _) => Value::DateTime(env.now.fixed_offset()),
        _ => Value::Null,
    }
}
