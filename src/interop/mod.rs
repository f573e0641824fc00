//! Interoperability with other tools: SQL export for backfills ([`sql`]), JsonLogic import and
//! export ([`jsonlogic`]) and Zoho CRM search-criteria import ([`zoho`]).
//!
//! Every translation is exact or refused: where a construct has no faithful counterpart on the
//! other side, the translation stops with a [`Refusal`] that names the construct, never with a
//! translation that means something else. `docs/interop.md` lists what each direction accepts.

pub mod jsonlogic;
pub mod sql;
pub mod zoho;

use crate::ast;
use crate::span::{SourceId, Span};

/// Why a translation was refused: the construct that has no exact counterpart, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The construct, as its users write it (`` `matches` ``, `` `lower(...)` ``, `` `==` ``).
    pub construct: String,
    /// What is wrong, in one sentence (lowercase, no final period).
    pub message: String,
    /// What to do instead, when there is something to say.
    pub help: Option<String>,
    /// Where the construct is, for Herald sources.
    pub span: Option<Span>,
    /// The source file the span points into (rule sets).
    pub source: Option<SourceId>,
}

impl Refusal {
    /// A refusal of `construct`, with a message.
    pub fn new(construct: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal {
            construct: construct.into(),
            message: message.into(),
            help: None,
            span: None,
            source: None,
        }
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Refusal {
        self.help = Some(help.into());
        self
    }

    /// Points at a span of a Herald source (kept when one is already set: the innermost wins).
    pub fn at(mut self, span: Span) -> Refusal {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }

    /// Names the source file of the span.
    pub fn in_source(mut self, source: SourceId) -> Refusal {
        if self.source.is_none() {
            self.source = Some(source);
        }
        self
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refusal {}

/// A translation result.
pub type Result<T> = std::result::Result<T, Refusal>;

/// Helpers to build Herald ASTs that the canonical printer turns into source. Imports build
/// ASTs rather than text so that precedence and escaping are the printer's business.
pub(crate) mod build {
    use super::ast::{self, BinOp, Expr, ExprKind, Literal, TestOp};
    use crate::span::Span;

    fn e(kind: ExprKind) -> Expr {
        Expr::new(kind, Span::default())
    }

    /// A field path from its segments.
    pub fn path(segments: &[String]) -> Expr {
        e(ExprKind::Path(ast::Path {
            segments: segments
                .iter()
                .map(|s| ast::Segment {
                    name: s.as_str().into(),
                    span: Span::default(),
                })
                .collect(),
        }))
    }

    /// A literal.
    pub fn lit(l: Literal) -> Expr {
        e(ExprKind::Literal(l))
    }

    /// A string literal.
    pub fn str(s: &str) -> Expr {
        lit(Literal::Str(s.into()))
    }

    /// `true` or `false`.
    pub fn bool(b: bool) -> Expr {
        lit(Literal::Bool(b))
    }

    /// A list literal.
    pub fn list(items: Vec<Expr>) -> Expr {
        e(ExprKind::List(items))
    }

    /// `lhs OP rhs`.
    pub fn bin(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
        e(ExprKind::Binary {
            op,
            op_span: Span::default(),
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        })
    }

    /// `x is null` and the other tests.
    pub fn test(test: TestOp, x: Expr) -> Expr {
        e(ExprKind::Test {
            test,
            operand: Box::new(x),
        })
    }

    /// `( x )`, kept by the printer.
    pub fn paren(x: Expr) -> Expr {
        e(ExprKind::Paren(Box::new(x)))
    }

    /// `( x )` when `x` is an `and`: inside an `or`, for the reader (the printer needs none).
    pub fn paren_if_junction(x: Expr) -> Expr {
        match x.kind {
            ExprKind::And(_) => paren(x),
            _ => x,
        }
    }

    /// `not x`.
    pub fn not(x: Expr) -> Expr {
        e(ExprKind::Not(Box::new(x)))
    }

    /// `a ?? b`.
    pub fn coalesce(items: Vec<Expr>) -> Expr {
        e(ExprKind::Coalesce(items))
    }

    /// `a and b and ...`, flattened; one operand stands alone, none is `true`.
    pub fn and(items: Vec<Expr>) -> Expr {
        junction(items, true)
    }

    /// `a or b or ...`, flattened; one operand stands alone, none is `false`.
    pub fn or(items: Vec<Expr>) -> Expr {
        junction(items, false)
    }

    fn junction(items: Vec<Expr>, is_and: bool) -> Expr {
        let mut flat = Vec::with_capacity(items.len());
        for item in items {
            match (item.kind, is_and) {
                (ExprKind::And(inner), true) | (ExprKind::Or(inner), false) => flat.extend(inner),
                (kind, _) => flat.push(e(kind)),
            }
        }
        match flat.len() {
            0 => bool(is_and),
            1 => flat.pop().unwrap_or_else(|| bool(is_and)),
            _ if is_and => e(ExprKind::And(flat)),
            _ => e(ExprKind::Or(flat)),
        }
    }
}
