//! A JsonLogic evaluator with the semantics of the reference implementation, json-logic-js 2.x
//! (JavaScript values, loose equality, truthiness, `var` paths), written independently of
//! `herald::interop::jsonlogic` so that it can be the oracle of the import and export tests. It
//! reproduces every case of the official test suite (tests/jsonlogic_conformance.rs checks it).
//! Where JavaScript would reach something this model does not have (a prototype method through a
//! `var` path, a thrown TypeError), evaluation returns an error and the caller skips the case.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value as J;
use std::rc::Rc;

/// A JavaScript value. Arrays and objects are shared, so that `===` can compare identities.
#[derive(Debug, Clone)]
pub enum V {
    Undef,
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Rc<Vec<V>>),
    Obj(Rc<Vec<(String, V)>>),
}

pub type R = Result<V, String>;

impl V {
    pub fn from_json(v: &J) -> V {
        match v {
            J::Null => V::Null,
            J::Bool(b) => V::Bool(*b),
            J::Number(n) => V::Num(n.as_f64().unwrap()),
            J::String(s) => V::Str(s.clone()),
            J::Array(items) => V::Arr(Rc::new(items.iter().map(V::from_json).collect())),
            J::Object(m) => V::Obj(Rc::new(
                m.iter()
                    .map(|(k, v)| (k.clone(), V::from_json(v)))
                    .collect(),
            )),
        }
    }

    /// Deep equality with an expected JSON result (numbers compared as doubles).
    pub fn equals_json(&self, want: &J) -> bool {
        match (self, want) {
            (V::Undef | V::Null, J::Null) => true,
            (V::Bool(a), J::Bool(b)) => a == b,
            (V::Num(a), J::Number(b)) => *a == b.as_f64().unwrap(),
            (V::Str(a), J::String(b)) => a == b,
            (V::Arr(a), J::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equals_json(y))
            }
            (V::Obj(a), J::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.get(k).is_some_and(|w| v.equals_json(w)))
            }
            _ => false,
        }
    }
}

pub fn truthy(v: &V) -> bool {
    match v {
        V::Undef | V::Null => false,
        V::Bool(b) => *b,
        V::Num(n) => *n != 0.0 && !n.is_nan(),
        V::Str(s) => !s.is_empty(),
        V::Arr(a) => !a.is_empty(),
        V::Obj(_) => true,
    }
}

/// `Number::prototype.toString()`.
pub fn num_str(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if f == 0.0 {
        return "0".into();
    }
    if f < 0.0 {
        return format!("-{}", num_str(-f));
    }
    let sci = format!("{f:e}");
    let (m, e) = sci.split_once('e').unwrap();
    let digits: String = m.chars().filter(|c| c.is_ascii_digit()).collect();
    let k = digits.len() as i64;
    let n = e.parse::<i64>().unwrap() + 1;
    if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e >= 0 { "+" } else { "-" };
        if k == 1 {
            format!("{digits}e{sign}{}", e.abs())
        } else {
            format!("{}.{}e{sign}{}", &digits[..1], &digits[1..], e.abs())
        }
    }
}

pub fn to_string(v: &V) -> String {
    match v {
        V::Undef => "undefined".into(),
        V::Null => "null".into(),
        V::Bool(b) => b.to_string(),
        V::Num(n) => num_str(*n),
        V::Str(s) => s.clone(),
        V::Arr(a) => a
            .iter()
            .map(|x| match x {
                V::Undef | V::Null => String::new(),
                other => to_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        V::Obj(_) => "[object Object]".into(),
    }
}

fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{B}' | '\u{C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// `Number(string)`.
pub fn str_num(s: &str) -> f64 {
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return 0.0;
    }
    if t == "Infinity" || t == "+Infinity" {
        return f64::INFINITY;
    }
    if t == "-Infinity" {
        return f64::NEG_INFINITY;
    }
    for (p, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(body) = t.strip_prefix(p) {
            if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
                return f64::NAN;
            }
            return body.chars().fold(0.0, |acc, c| {
                acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap())
            });
        }
    }
    let re_ok = {
        let b = t.strip_prefix(['+', '-']).unwrap_or(t);
        let (mant, exp) = match b.find(['e', 'E']) {
            Some(i) => (&b[..i], Some(&b[i + 1..])),
            None => (b, None),
        };
        let mant_ok = {
            let (i, f) = mant.split_once('.').unwrap_or((mant, ""));
            let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit());
            digits(i)
                && digits(f)
                && (!i.is_empty() || !f.is_empty())
                && (mant.matches('.').count() <= 1)
        };
        let exp_ok = exp.is_none_or(|e| {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
        });
        mant_ok && exp_ok
    };
    if re_ok {
        t.parse().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    }
}

pub fn to_prim(v: &V) -> V {
    match v {
        V::Arr(_) | V::Obj(_) => V::Str(to_string(v)),
        other => other.clone(),
    }
}

pub fn to_num(v: &V) -> f64 {
    match v {
        V::Undef => f64::NAN,
        V::Null => 0.0,
        V::Bool(b) => f64::from(u8::from(*b)),
        V::Num(n) => *n,
        V::Str(s) => str_num(s),
        V::Arr(_) | V::Obj(_) => to_num(&to_prim(v)),
    }
}

/// `parseFloat`: the longest prefix that is a decimal number.
pub fn parse_float(v: &V) -> f64 {
    let s = to_string(v);
    let t = s.trim_start_matches(is_js_space);
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let neg = t.starts_with('-');
    if body.starts_with("Infinity") {
        return if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i;
    if i < b.len() && b[i] == b'.' {
        let mut j = i + 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > i + 1 || int_digits > 0 {
            i = j;
        }
    }
    if i == 0 || (int_digits == 0 && i == 1) {
        return f64::NAN;
    }
    let mut end = i;
    if end < b.len() && (b[end] == b'e' || b[end] == b'E') {
        let mut j = end + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > start {
            end = j;
        }
    }
    let n: f64 = body[..end].parse().unwrap();
    if neg { -n } else { n }
}

pub fn strict_eq(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Undef, V::Undef) | (V::Null, V::Null) => true,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Num(x), V::Num(y)) => x == y,
        (V::Str(x), V::Str(y)) => x == y,
        (V::Arr(x), V::Arr(y)) => Rc::ptr_eq(x, y),
        (V::Obj(x), V::Obj(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

pub fn loose_eq(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Undef | V::Null, V::Undef | V::Null) => true,
        (V::Undef | V::Null, _) | (_, V::Undef | V::Null) => false,
        (V::Arr(_) | V::Obj(_), V::Arr(_) | V::Obj(_)) => strict_eq(a, b),
        (V::Num(_), V::Str(_)) | (V::Str(_), V::Num(_)) => to_num(a) == to_num(b),
        (V::Bool(_), _) => loose_eq(&V::Num(to_num(a)), b),
        (_, V::Bool(_)) => loose_eq(a, &V::Num(to_num(b))),
        (V::Arr(_) | V::Obj(_), _) => loose_eq(&to_prim(a), b),
        (_, V::Arr(_) | V::Obj(_)) => loose_eq(a, &to_prim(b)),
        _ => strict_eq(a, b),
    }
}

/// `a < b`, `None` when undefined (NaN).
pub fn lt(a: &V, b: &V) -> Option<bool> {
    let (pa, pb) = (to_prim(a), to_prim(b));
    if let (V::Str(x), V::Str(y)) = (&pa, &pb) {
        return Some(x.encode_utf16().lt(y.encode_utf16()));
    }
    let (x, y) = (to_num(&pa), to_num(&pb));
    if x.is_nan() || y.is_nan() {
        None
    } else {
        Some(x < y)
    }
}

fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn from_utf16(u: &[u16]) -> Result<String, String> {
    String::from_utf16(u).map_err(|_| String::from("a lone surrogate"))
}

/// `String.prototype.substr(start, length)`.
fn substr(s: &[u16], start: f64, len: Option<f64>) -> Vec<u16> {
    let size = s.len() as f64;
    let int = |x: f64| if x.is_nan() { 0.0 } else { x.trunc() };
    let mut st = int(start);
    if st < 0.0 {
        st = (size + st).max(0.0);
    }
    st = st.min(size);
    let l = match len {
        None => size - st,
        Some(l) => int(l).clamp(0.0, size - st),
    };
    s[st as usize..(st + l) as usize].to_vec()
}

/// Members of strings, arrays, numbers and booleans that JavaScript would find through a path;
/// this model has no functions, so reaching one is an error (the case is skipped).
const MEMBERS: &[&str] = &[
    "at",
    "charAt",
    "charCodeAt",
    "codePointAt",
    "concat",
    "endsWith",
    "includes",
    "indexOf",
    "lastIndexOf",
    "localeCompare",
    "match",
    "matchAll",
    "normalize",
    "padEnd",
    "padStart",
    "repeat",
    "replace",
    "replaceAll",
    "search",
    "slice",
    "split",
    "startsWith",
    "substring",
    "substr",
    "toLowerCase",
    "toUpperCase",
    "toLocaleLowerCase",
    "toLocaleUpperCase",
    "trim",
    "trimStart",
    "trimEnd",
    "trimLeft",
    "trimRight",
    "anchor",
    "big",
    "blink",
    "bold",
    "fixed",
    "fontcolor",
    "fontsize",
    "italics",
    "link",
    "small",
    "strike",
    "sub",
    "sup",
    "isWellFormed",
    "toWellFormed",
    "copyWithin",
    "entries",
    "every",
    "fill",
    "filter",
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
    "flat",
    "flatMap",
    "forEach",
    "join",
    "keys",
    "map",
    "pop",
    "push",
    "reduce",
    "reduceRight",
    "reverse",
    "shift",
    "some",
    "sort",
    "splice",
    "toReversed",
    "toSorted",
    "toSpliced",
    "unshift",
    "values",
    "with",
    "toFixed",
    "toExponential",
    "toPrecision",
    "constructor",
    "toString",
    "valueOf",
    "hasOwnProperty",
    "__proto__",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
];

/// Property access `data[key]` as JavaScript does it, for the values this model has.
fn get(data: &V, key: &str) -> R {
    const PROTO: &[&str] = &[
        "constructor",
        "toString",
        "valueOf",
        "hasOwnProperty",
        "__proto__",
        "isPrototypeOf",
        "propertyIsEnumerable",
        "toLocaleString",
    ];
    match data {
        V::Obj(m) => match m.iter().find(|(k, _)| k == key) {
            Some((_, v)) => Ok(v.clone()),
            None if PROTO.contains(&key) => Err(format!("Object.prototype.{key}")),
            None => Ok(V::Undef),
        },
        V::Arr(a) => {
            if key == "length" {
                return Ok(V::Num(a.len() as f64));
            }
            if let Ok(i) = key.parse::<usize>() {
                if i.to_string() == key {
                    return Ok(a.get(i).cloned().unwrap_or(V::Undef));
                }
            }
            if MEMBERS.contains(&key) {
                return Err(format!("Array.prototype.{key}"));
            }
            Ok(V::Undef)
        }
        V::Str(s) => {
            let u = utf16(s);
            if key == "length" {
                return Ok(V::Num(u.len() as f64));
            }
            if let Ok(i) = key.parse::<usize>() {
                if i.to_string() == key {
                    return match u.get(i) {
                        Some(c) => from_utf16(&[*c]).map(V::Str),
                        None => Ok(V::Undef),
                    };
                }
            }
            if MEMBERS.contains(&key) {
                return Err(format!("String.prototype.{key}"));
            }
            Ok(V::Undef)
        }
        V::Num(_) | V::Bool(_) => {
            if MEMBERS.contains(&key) {
                return Err(format!("a prototype member {key}"));
            }
            Ok(V::Undef)
        }
        V::Null | V::Undef => Err(String::from("TypeError: property of null")),
    }
}

fn var(data: &V, a: &V, b: Option<&V>) -> R {
    let not_found = match b {
        None | Some(V::Undef) => V::Null,
        Some(x) => x.clone(),
    };
    match a {
        V::Undef | V::Null => return Ok(data.clone()),
        V::Str(s) if s.is_empty() => return Ok(data.clone()),
        _ => {}
    }
    let path = to_string(a);
    let mut cur = data.clone();
    for seg in path.split('.') {
        if matches!(cur, V::Null | V::Undef) {
            return Ok(not_found);
        }
        cur = get(&cur, seg)?;
        if matches!(cur, V::Undef) {
            return Ok(not_found);
        }
    }
    Ok(cur)
}

fn is_logic(rule: &J) -> bool {
    matches!(rule, J::Object(m) if m.len() == 1)
}

/// `jsonLogic.apply(rule, data)`.
pub fn apply(rule: &J, data: &V) -> R {
    if let J::Array(items) = rule {
        let vals = items
            .iter()
            .map(|r| apply(r, data))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(V::Arr(Rc::new(vals)));
    }
    if !is_logic(rule) {
        return Ok(V::from_json(rule));
    }
    let J::Object(m) = rule else { unreachable!() };
    let (op, raw) = m.iter().next().unwrap();
    let values: Vec<J> = match raw {
        J::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let arg = |i: usize| values.get(i).cloned().unwrap_or(J::Null);
    match op.as_str() {
        "if" | "?:" => {
            let mut i = 0;
            while i + 1 < values.len() {
                if truthy(&apply(&values[i], data)?) {
                    return apply(&values[i + 1], data);
                }
                i += 2;
            }
            if values.len() == i + 1 {
                return apply(&values[i], data);
            }
            return Ok(V::Null);
        }
        "and" | "or" => {
            let want = op == "or";
            let mut current = V::Undef;
            for v in &values {
                current = apply(v, data)?;
                if truthy(&current) == want {
                    return Ok(current);
                }
            }
            return Ok(current);
        }
        "filter" | "map" | "all" | "none" | "some" | "reduce" => {
            let scoped = apply(&arg(0), data)?;
            let logic = arg(1);
            let items: Vec<V> = match &scoped {
                V::Arr(a) => a.as_ref().clone(),
                _ => {
                    return match op.as_str() {
                        "filter" | "map" => Ok(V::Arr(Rc::new(vec![]))),
                        "reduce" => apply(&arg(2), data)
                            .map(|v| if matches!(v, V::Undef) { V::Null } else { v }),
                        "none" => Ok(V::Bool(true)),
                        "some" => Ok(V::Bool(false)),
                        _ => match scoped {
                            V::Null | V::Undef => Err(String::from("TypeError: length of null")),
                            V::Str(s) if !s.is_empty() => Err(String::from("all over a string")),
                            _ => Ok(V::Bool(false)),
                        },
                    };
                }
            };
            return match op.as_str() {
                "filter" | "none" | "some" => {
                    let mut kept = Vec::new();
                    for it in &items {
                        if truthy(&apply(&logic, it)?) {
                            kept.push(it.clone());
                        }
                    }
                    Ok(match op.as_str() {
                        "filter" => V::Arr(Rc::new(kept)),
                        "none" => V::Bool(kept.is_empty()),
                        _ => V::Bool(!kept.is_empty()),
                    })
                }
                "map" => Ok(V::Arr(Rc::new(
                    items
                        .iter()
                        .map(|it| apply(&logic, it))
                        .collect::<Result<_, _>>()?,
                ))),
                "all" => {
                    if items.is_empty() {
                        return Ok(V::Bool(false));
                    }
                    for it in &items {
                        if !truthy(&apply(&logic, it)?) {
                            return Ok(V::Bool(false));
                        }
                    }
                    Ok(V::Bool(true))
                }
                _ => {
                    let mut acc = match values.get(2) {
                        Some(init) => apply(init, data)?,
                        None => V::Null,
                    };
                    for it in &items {
                        let ctx = V::Obj(Rc::new(vec![
                            ("current".into(), it.clone()),
                            ("accumulator".into(), acc.clone()),
                        ]));
                        acc = apply(&logic, &ctx)?;
                    }
                    Ok(acc)
                }
            };
        }
        _ => {}
    }
    let vals = values
        .iter()
        .map(|v| apply(v, data))
        .collect::<Result<Vec<_>, _>>()?;
    let a = vals.first().cloned().unwrap_or(V::Undef);
    let b = vals.get(1).cloned().unwrap_or(V::Undef);
    let c = vals.get(2).cloned().unwrap_or(V::Undef);
    Ok(match op.as_str() {
        "==" => V::Bool(loose_eq(&a, &b)),
        "===" => V::Bool(strict_eq(&a, &b)),
        "!=" => V::Bool(!loose_eq(&a, &b)),
        "!==" => V::Bool(!strict_eq(&a, &b)),
        ">" => V::Bool(lt(&b, &a) == Some(true)),
        ">=" => V::Bool(lt(&a, &b) == Some(false)),
        "<" | "<=" => {
            let one = |x: &V, y: &V| {
                if op == "<" {
                    lt(x, y) == Some(true)
                } else {
                    lt(y, x) == Some(false)
                }
            };
            if matches!(c, V::Undef) {
                V::Bool(one(&a, &b))
            } else {
                V::Bool(one(&a, &b) && one(&b, &c))
            }
        }
        "!!" => V::Bool(truthy(&a)),
        "!" => V::Bool(!truthy(&a)),
        "%" => V::Num(to_num(&a) % to_num(&b)),
        "log" => a,
        "in" => match &b {
            _ if !truthy_js(&b) => V::Bool(false),
            V::Str(s) => {
                let needle = utf16(&to_string(&a));
                let hay = utf16(s);
                V::Bool(
                    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle.as_slice()),
                )
            }
            V::Arr(items) => V::Bool(items.iter().any(|x| strict_eq(x, &a))),
            _ => V::Bool(false),
        },
        "cat" => V::Str(
            vals.iter()
                .map(|v| match v {
                    V::Undef | V::Null => String::new(),
                    other => to_string(other),
                })
                .collect(),
        ),
        "substr" => {
            let s = utf16(&to_string(&a));
            let start = to_num(&b);
            let end = if matches!(c, V::Undef) {
                None
            } else {
                Some(to_num(&c))
            };
            match end {
                Some(e) if e < 0.0 => {
                    let temp = substr(&s, start, None);
                    let keep = temp.len() as f64 + e;
                    V::Str(from_utf16(&substr(&temp, 0.0, Some(keep)))?)
                }
                _ => V::Str(from_utf16(&substr(&s, start, end))?),
            }
        }
        "+" => V::Num(vals.iter().fold(0.0, |acc, v| acc + parse_float(v))),
        "*" => {
            if vals.is_empty() {
                return Err(String::from("TypeError: reduce of empty array"));
            }
            if vals.len() == 1 {
                return Ok(vals[0].clone());
            }
            V::Num(
                vals.iter()
                    .skip(1)
                    .fold(parse_float(&vals[0]), |acc, v| acc * parse_float(v)),
            )
        }
        "-" => {
            if matches!(b, V::Undef) {
                V::Num(-to_num(&a))
            } else {
                V::Num(to_num(&a) - to_num(&b))
            }
        }
        "/" => V::Num(to_num(&a) / to_num(&b)),
        "min" | "max" => {
            let nums: Vec<f64> = vals.iter().map(to_num).collect();
            if nums.iter().any(|n| n.is_nan()) {
                V::Num(f64::NAN)
            } else if op == "min" {
                V::Num(nums.iter().copied().fold(f64::INFINITY, f64::min))
            } else {
                V::Num(nums.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            }
        }
        "merge" => {
            let mut out = Vec::new();
            for v in &vals {
                match v {
                    V::Arr(items) => out.extend(items.iter().cloned()),
                    other => out.push(other.clone()),
                }
            }
            V::Arr(Rc::new(out))
        }
        "var" => var(data, &a, vals.get(1))?,
        "missing" => missing(&vals, data)?,
        "missing_some" => {
            let need = to_num(&a);
            let V::Arr(options) = &b else {
                return Err(String::from("missing_some without a list"));
            };
            let are_missing = missing(std::slice::from_ref(&b), data)?;
            let V::Arr(m) = &are_missing else {
                unreachable!()
            };
            if (options.len() - m.len()) as f64 >= need {
                V::Arr(Rc::new(vec![]))
            } else {
                are_missing
            }
        }
        // react-querybuilder's additional operations.
        "startsWith" | "endsWith" => match (&a, &b) {
            (V::Str(s), _) => {
                let p = utf16(&to_string(&b));
                let s = utf16(s);
                V::Bool(if op == "startsWith" {
                    s.starts_with(&p)
                } else {
                    s.ends_with(&p)
                })
            }
            _ => V::Bool(false),
        },
        other => return Err(format!("Unrecognized operation {other}")),
    })
}

/// JavaScript's own truthiness (`!b` in `in`): arrays are truthy even when empty.
fn truthy_js(v: &V) -> bool {
    match v {
        V::Arr(_) => true,
        other => truthy(other),
    }
}

fn missing(vals: &[V], data: &V) -> R {
    let keys: Vec<V> = match vals.first() {
        Some(V::Arr(items)) => items.as_ref().clone(),
        _ => vals.to_vec(),
    };
    let mut out = Vec::new();
    for k in keys {
        let v = var(data, &k, None)?;
        if matches!(v, V::Null) || matches!(&v, V::Str(s) if s.is_empty()) {
            out.push(k);
        }
    }
    Ok(V::Arr(Rc::new(out)))
}
