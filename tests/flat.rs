//! The flat program (`compile::Flat`): `and`/`or`/`not` trees compiled to leaves with true,
//! false and unknown jump targets. Generated trees of boolean leaves and constants (nested
//! `not`, empty junctions, unknown operands before and after a decisive one) are run on every
//! assignment of true/false/null to their fields, against a direct Kleene evaluation and the
//! operation tree; the size limit falls back to the tree. The numeric fast path
//! (`compile::NumSet`) is checked against the exact interval set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::compile::{END_FALSE, END_TRUE, END_UNKNOWN, Flat, Leaf, NumSet, Op};
use herald::condition::Condition;
use herald::eval::{Ctx, op};
use herald::ir::{CmpOp, FieldKind};
use herald::opt::pred::{Bound, IntervalSet, Num};
use herald::record::{Access, FieldMeta, JsonRecord, Val};
use herald::value::Truth;
use proptest::prelude::*;

const SLOTS: usize = 4;

/// A record of booleans and nulls.
struct Bools([Option<bool>; SLOTS]);

impl Access for Bools {
    fn load(&self, slot: usize, _field: &FieldMeta) -> Val<'_> {
        match self.0.get(slot).copied().flatten() {
            Some(b) => Val::Bool(b),
            None => Val::Null,
        }
    }
}

fn metas() -> Vec<FieldMeta> {
    (0..SLOTS)
        .map(|i| {
            FieldMeta::new(
                vec![format!("f{i}").into_boxed_str()].into(),
                FieldKind::Dynamic,
            )
        })
        .collect()
}

/// Every assignment of true, false and null to the slots.
fn assignments() -> Vec<Bools> {
    let mut out = Vec::new();
    for mut k in 0..3usize.pow(SLOTS as u32) {
        let mut a = [None; SLOTS];
        for v in &mut a {
            *v = match k % 3 {
                0 => Some(true),
                1 => Some(false),
                _ => None,
            };
            k /= 3;
        }
        out.push(Bools(a));
    }
    out
}

/// Kleene logic, written independently of the evaluator.
fn kleene(o: &Op, r: &Bools) -> Truth {
    match o {
        Op::Const(Some(b)) => Truth::from_bool(*b),
        Op::Const(None) => Truth::Unknown,
        Op::Bool { slot, t, f } => match r.0[*slot] {
            Some(true) => Truth::from_bool(*t),
            Some(false) => Truth::from_bool(*f),
            None => Truth::Unknown,
        },
        Op::Not(x) => kleene(x, r).not(),
        Op::And(xs) => xs.iter().fold(Truth::True, |acc, x| acc.and(kleene(x, r))),
        Op::Or(xs) => xs.iter().fold(Truth::False, |acc, x| acc.or(kleene(x, r))),
        other => panic!("not generated: {other:?}"),
    }
}

fn leaf() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..SLOTS, any::<bool>(), any::<bool>()).prop_map(|(slot, t, f)| Op::Bool { slot, t, f }),
        1 => prop::sample::select(vec![Some(true), Some(false), None]).prop_map(Op::Const),
    ]
}

fn tree() -> impl Strategy<Value = Op> {
    leaf().prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|x| Op::Not(Box::new(x))),
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| Op::And(v.into())),
            prop::collection::vec(inner, 0..5).prop_map(|v| Op::Or(v.into())),
        ]
    })
}

fn depth(o: &Op) -> usize {
    match o {
        Op::And(xs) | Op::Or(xs) => 1 + xs.iter().map(depth).max().unwrap_or(0),
        Op::Not(x) => 1 + depth(x),
        _ => 0,
    }
}

/// Checks the program's invariants: every target is a step or an end.
fn check_targets(f: &Flat) {
    let ok =
        |t: u32| (t as usize) < f.steps.len() || [END_TRUE, END_FALSE, END_UNKNOWN].contains(&t);
    assert!(ok(f.entry), "entry {}", f.entry);
    for s in f.steps.iter() {
        assert!(s.next.iter().all(|&t| ok(t)), "{s:?}");
        let junction = |o: &Op| {
            matches!(
                o,
                Op::And(_) | Op::Or(_) | Op::Not(_) | Op::Const(_) | Op::Flat(_)
            )
        };
        assert!(!matches!(&s.leaf, Leaf::Op(o) if junction(o)), "{s:?}");
    }
}

fn check_tree(t: &Op) -> Result<(), TestCaseError> {
    let fields = metas();
    let now = chrono::Utc::now();
    let flat = Flat::new(t);
    if depth(t) <= 3 {
        prop_assert!(flat.is_some(), "not flattened: {:?}", t);
    }
    let Some(flat) = flat else { return Ok(()) };
    check_targets(&flat);
    let flat = Op::Flat(Box::new(flat));
    for r in assignments() {
        let ctx = Ctx {
            record: &r,
            fields: &fields,
            now,
        };
        let expected = kleene(t, &r);
        prop_assert_eq!(op(t, &ctx), expected, "tree {:?} on {:?}", t, r.0);
        prop_assert_eq!(op(&flat, &ctx), expected, "flat {:?} on {:?}", flat, r.0);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn flat_equals_kleene(t in tree()) {
        check_tree(&t)?;
    }
}

fn b(slot: usize) -> Op {
    Op::Bool {
        slot,
        t: true,
        f: false,
    }
}

/// The shapes named in the design: an unknown operand before and after a decisive one, nested
/// `not`, and an unknown that must survive a later true operand.
#[test]
fn named_shapes() {
    let shapes = vec![
        Op::And(vec![b(0), b(1), b(2)].into()),
        Op::Or(vec![b(0), b(1), b(2)].into()),
        Op::Not(Box::new(Op::And(
            vec![b(0), Op::Not(Box::new(Op::Or(vec![b(1), b(2)].into())))].into(),
        ))),
        Op::Not(Box::new(Op::Not(Box::new(Op::Not(Box::new(b(0))))))),
        Op::Or(
            vec![
                Op::And(vec![b(0), b(1)].into()),
                Op::And(vec![b(2), b(3)].into()),
            ]
            .into(),
        ),
        Op::And(
            vec![
                Op::Or(vec![b(0), b(1)].into()),
                Op::Not(Box::new(b(2))),
                b(3),
            ]
            .into(),
        ),
        Op::And(vec![Op::Const(None), b(0)].into()),
        Op::Or(vec![b(0), Op::Const(None), b(1)].into()),
        Op::And(vec![].into()),
        Op::Or(vec![].into()),
        Op::Not(Box::new(Op::And(vec![].into()))),
    ];
    for s in &shapes {
        check_tree(s).unwrap();
    }
    // `a and b and c`: `b` and `c` twice (after a true `a`, and after an unknown one).
    let f = Flat::new(&shapes[0]).unwrap();
    assert_eq!(f.steps.len(), 5, "{f:?}");
    assert_eq!(f.entry, 0);
}

/// Past the size limit the program is not flattened, and `compile` keeps the tree, with the
/// same results.
#[test]
fn size_limit_keeps_the_tree() {
    // `f0 and (f1 or (f2 and ...) or f1) and f0` nested 40 deep: an operand between two others
    // is compiled once per way of reaching it (after an unknown operand or not), which doubles
    // at each level. (A first operand is compiled once, a last one has only the three ends.)
    let mut t = b(3);
    for i in 0..40 {
        let x = b(i % SLOTS);
        t = if i % 2 == 0 {
            Op::And(vec![x.clone(), t, x].into())
        } else {
            Op::Or(vec![x.clone(), t, x].into())
        };
    }
    assert!(Flat::new(&t).is_none());
    // The same shape 4 levels deep is flattened.
    let mut small = b(3);
    for i in 0..2 {
        let x = b(i % SLOTS);
        small = Op::And(
            vec![
                x.clone(),
                Op::Or(vec![x.clone(), small, x.clone()].into()),
                x,
            ]
            .into(),
        );
    }
    check_tree(&small).unwrap();
    assert!(Flat::new(&small).is_some());
    let fields = metas();
    let now = chrono::Utc::now();
    for r in assignments() {
        let ctx = Ctx {
            record: &r,
            fields: &fields,
            now,
        };
        assert_eq!(op(&t, &ctx), kleene(&t, &r));
    }
    // Through the compiler: a deep source still evaluates like the reference.
    let mut src = "a".to_string();
    for i in 0..40 {
        let x = ["a", "b", "c", "d"][i % 4];
        src = if i % 2 == 0 {
            format!("({src}) and {x} == 1 and {x} != 2")
        } else {
            format!("({src}) or {x} == 3 or {x} != 4")
        };
    }
    let cond = Condition::compile(&src, None).unwrap();
    let clock = herald::value::FixedClock(chrono::Utc::now());
    for rec in [
        serde_json::json!({}),
        serde_json::json!({"a": true, "b": 1, "c": 3, "d": 2}),
        serde_json::json!({"a": null, "b": 4, "c": "x", "d": 1}),
        serde_json::json!({"a": false, "b": 2, "c": 3}),
    ] {
        assert_eq!(
            cond.eval(&rec, &clock),
            cond.eval_reference(&rec, &clock),
            "{rec}"
        );
        assert_eq!(
            cond.eval_record(&JsonRecord(&rec), clock.0),
            cond.eval_reference(&rec, &clock)
        );
    }
}

/// The bench conditions compile to flat programs.
#[test]
fn bench_conditions_are_flat() {
    for src in [
        r#"country == "FR" and subscription == "paid""#,
        r#"subscription == "paid" and (country in ["FR","BE","CH","LU","MC"] or language == "fr") and not opted_out and age >= 18"#,
    ] {
        let c = Condition::compile(src, None).unwrap();
        assert!(matches!(c.program().root, Op::Flat(_)), "{src}");
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

const P53: i64 = 1 << 53;

fn ints() -> Vec<i64> {
    vec![
        i64::MIN,
        i64::MIN + 1,
        -P53 - 1,
        -P53,
        -P53 + 1,
        -1000,
        -1,
        0,
        1,
        17,
        18,
        19,
        1000,
        1001,
        P53 - 1,
        P53,
        P53 + 1,
        i64::MAX - 1,
        i64::MAX,
    ]
}

fn decs() -> Vec<f64> {
    vec![
        f64::NEG_INFINITY,
        -1e300,
        -9_223_372_036_854_775_808.0,
        -9_007_199_254_740_993.0,
        -9_007_199_254_740_992.0,
        -1000.5,
        -0.5,
        -0.0,
        0.0,
        0.5,
        17.5,
        17.999_999_999,
        18.0,
        18.000_000_001,
        1000.5,
        9_007_199_254_740_992.0,
        9_007_199_254_740_994.0,
        9_223_372_036_854_775_808.0,
        1e300,
        f64::INFINITY,
    ]
}

fn num() -> impl Strategy<Value = Num> {
    prop_oneof![
        prop::sample::select(ints()).prop_map(Num::Int),
        prop::sample::select(decs()).prop_map(Num::Dec),
        any::<i64>().prop_map(Num::Int),
        (-1e6f64..1e6).prop_map(Num::Dec),
    ]
}

fn bound() -> impl Strategy<Value = Bound<Num>> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        3 => num().prop_map(Bound::Included),
        3 => num().prop_map(Bound::Excluded),
    ]
}

fn probes(n: Num) -> (Vec<i64>, Vec<f64>) {
    let mut is = ints();
    let mut fs = decs();
    match n {
        Num::Int(i) => {
            is.extend([i.saturating_sub(1), i, i.saturating_add(1)]);
            fs.extend([i as f64, i as f64 - 0.5, i as f64 + 0.5]);
        }
        Num::Dec(f) => {
            let t = f as i64;
            is.extend([t.saturating_sub(1), t, t.saturating_add(1)]);
            fs.push(f);
        }
    }
    (is, fs)
}

fn check_numset(set: &IntervalSet<Num>) -> Result<(), TestCaseError> {
    let n = NumSet::new(set);
    let mut is = ints();
    let mut fs = decs();
    for (lo, hi) in &set.ranges {
        for b in [lo, hi] {
            if let Bound::Included(x) | Bound::Excluded(x) = b {
                let (a, c) = probes(*x);
                is.extend(a);
                fs.extend(c);
            }
        }
    }
    for i in is {
        prop_assert_eq!(
            n.has_int(i),
            set.contains(&Num::Int(i)),
            "{} in {:?}",
            i,
            set
        );
    }
    for f in fs {
        prop_assert_eq!(
            n.has_dec(f),
            set.contains(&Num::Dec(f)),
            "{} in {:?}",
            f,
            set
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn numset_equals_interval_set(lo in bound(), hi in bound()) {
        // One interval, as the optimizer builds them (empty ones normalized away).
        let set = IntervalSet::full()
            .intersect(&match lo {
                Bound::Unbounded => IntervalSet::full(),
                Bound::Included(x) => IntervalSet::cmp(CmpOp::Ge, x),
                Bound::Excluded(x) => IntervalSet::cmp(CmpOp::Gt, x),
            })
            .intersect(&match hi {
                Bound::Unbounded => IntervalSet::full(),
                Bound::Included(x) => IntervalSet::cmp(CmpOp::Le, x),
                Bound::Excluded(x) => IntervalSet::cmp(CmpOp::Lt, x),
            });
        check_numset(&set)?;
        // And two intervals (the generic path).
        check_numset(&set.union(&IntervalSet::point(Num::Int(1000))))?;
        check_numset(&set.complement())?;
    }
}
