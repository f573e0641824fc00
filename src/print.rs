//! The canonical printer: AST back to source, with `parse(print(ast)) == ast`.

use crate::ast::{Expr, ExprKind, Literal};
use std::fmt::Write;

/// Binding strength, loosest first.
fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Or(_) => 1,
        ExprKind::And(_) => 2,
        ExprKind::Not(_) => 3,
        ExprKind::Binary { .. } | ExprKind::Test { .. } => 4,
        ExprKind::Coalesce(_) => 5,
        ExprKind::Offset { .. } => 6,
        _ => 7,
    }
}

/// Prints an expression on one line.
pub fn expr(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e);
    out
}

/// Writes `e`, in parentheses when it binds looser than `min`.
fn write_operand(out: &mut String, e: &Expr, min: u8) {
    if prec(e) < min {
        out.push('(');
        write_expr(out, e);
        out.push(')');
    } else {
        write_expr(out, e);
    }
}

fn write_expr(out: &mut String, e: &Expr) {
    match &e.kind {
        ExprKind::Literal(l) => out.push_str(&literal(l)),
        ExprKind::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, item);
            }
            out.push(']');
        }
        ExprKind::Path(p) => out.push_str(&p.display()),
        ExprKind::Call { name, args } => {
            out.push_str(&name.name);
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, a);
            }
            out.push(')');
        }
        ExprKind::Paren(inner) => {
            out.push('(');
            write_expr(out, inner);
            out.push(')');
        }
        ExprKind::Not(inner) => {
            out.push_str("not ");
            write_operand(out, inner, 3);
        }
        ExprKind::And(items) | ExprKind::Or(items) => {
            let (word, p) = if matches!(e.kind, ExprKind::And(_)) {
                (" and ", 3)
            } else {
                (" or ", 2)
            };
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(word);
                }
                write_operand(out, item, p);
            }
        }
        ExprKind::Binary { op, lhs, rhs, .. } => {
            write_operand(out, lhs, 5);
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            write_operand(out, rhs, 5);
        }
        ExprKind::Test { test, operand } => {
            write_operand(out, operand, 5);
            out.push(' ');
            out.push_str(test.as_str());
        }
        ExprKind::Coalesce(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(" ?? ");
                }
                write_operand(out, item, 6);
            }
        }
        ExprKind::Offset { base, terms } => {
            write_operand(out, base, 7);
            for t in terms {
                out.push_str(if t.minus { " - " } else { " + " });
                let _ = write!(out, "{}{}", t.duration.amount, t.duration.unit.suffix());
            }
        }
    }
}

/// A string literal with escapes.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:X}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A decimal that reads back as the same f64 and always has a `.`.
pub fn decimal(f: f64) -> String {
    let s = format!("{f}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// A literal as source.
pub fn literal(l: &Literal) -> String {
    match l {
        Literal::Str(s) => string(s),
        Literal::Int(i) => i.to_string(),
        Literal::Dec(f) => decimal(*f),
        Literal::Bool(b) => b.to_string(),
        Literal::Null => "null".to_string(),
        Literal::Date(d) => format!("@{}", d.format("%Y-%m-%d")),
        Literal::DateTime(d) => format!(
            "@{}",
            d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        ),
        Literal::Duration(d) => format!("{}{}", d.amount, d.unit.suffix()),
    }
}
