//! Lowering: from pest pairs to the AST, one function per grammar rule, except expressions: the
//! grammar reads them flat (`expr`, `operand`) and a climber here groups their pairs by
//! precedence. Error productions of the grammar become diagnostics here; lowering goes on so
//! that one run reports every slip.

use super::Rule;
use crate::ast::*;
use crate::diagnostics::{Code, Diagnostic};
use crate::span::Span;
use chrono::DateTime;
use pest::iterators::{Pair, Pairs};
use std::iter::Peekable;

/// Largest list literal accepted (LANGUAGE.md, "Limits").
pub const MAX_LIST_LEN: usize = 100_000;

pub(crate) struct Lowerer<'s> {
    src: &'s str,
    /// The byte offsets of every `#` in `src`, in order: a span without one cannot end in a
    /// comment, so [`Lowerer::line_span`] trims it without scanning it.
    hashes: Vec<usize>,
    pub(crate) diags: Vec<Diagnostic>,
}

fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

/// The pairs of an `operand`, read one at a time by the precedence climber.
type Flat<'i> = Peekable<Pairs<'i, Rule>>;

/// A pair that starts a comparison tail inside an `operand`.
fn is_tail(rule: Rule) -> bool {
    matches!(rule, Rule::cmp_op | Rule::kw_matches | Rule::is_test)
}

/// A pair of an `operand` that is an operand itself: not an operator and not a tail.
fn is_primary(rule: Rule) -> bool {
    !is_tail(rule) && rule != Rule::add_op && rule != Rule::not_op
}

/// The end of the right operand of a comparison tail whose pairs start `pairs`: the end of the
/// last primary before the next tail.
fn operand_group_end(mut pairs: Flat<'_>) -> Option<usize> {
    let mut end = None;
    while let Some(p) = pairs.next_if(|p| !is_tail(p.as_rule())) {
        end = Some(p.as_span().end());
    }
    end
}

/// The offset of the first token at or after `pos`: past whitespace and `#` comments, as pest's
/// implicit whitespace skips them (the formatter uses it too).
pub(crate) fn skip_trivia(src: &str, mut pos: usize) -> usize {
    let bytes = src.as_bytes();
    while let Some(&b) = bytes.get(pos) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => pos += 1,
            b'#' => {
                while bytes.get(pos).is_some_and(|&c| c != b'\n' && c != b'\r') {
                    pos += 1;
                }
            }
            _ => break,
        }
    }
    pos
}

/// The operands of one `and` or `or` run: no allocation for a run of one (the common case).
#[derive(Default)]
struct Operands {
    first: Option<Expr>,
    more: Vec<Expr>,
    count: usize,
    failed: bool,
    start: usize,
    end: usize,
}

impl Operands {
    fn push(&mut self, e: Option<Expr>, start: usize, end: usize) {
        if self.count == 0 {
            self.start = start;
        }
        self.count += 1;
        self.end = end;
        match e {
            Some(e) if self.first.is_none() && self.count == 1 => self.first = Some(e),
            Some(e) => self.more.push(e),
            None => self.failed = true,
        }
    }

    /// The run as one expression: its only operand, or an n-ary node spanning the run.
    fn finish(self, lowerer: &Lowerer<'_>, make: fn(Vec<Expr>) -> ExprKind) -> Option<Expr> {
        if self.failed || self.count == 0 {
            return None;
        }
        if self.count == 1 {
            return self.first;
        }
        let mut operands = Vec::with_capacity(self.count);
        operands.extend(self.first);
        operands.extend(self.more);
        Some(Expr::new(
            make(operands),
            lowerer.trimmed_span(self.start, self.end),
        ))
    }
}

/// `text` without trailing whitespace and `#` comments. A `#` inside a quoted string (double or,
/// by mistake, single quotes) or a back-quoted label does not start a comment.
pub(super) fn trim_trivia_end(text: &str) -> &str {
    let mut text = text.trim_end();
    loop {
        // A comment ends at a line feed or a carriage return (the grammar's `comment_text`).
        let line_start = text.rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let line = text.get(line_start..).unwrap_or("");
        if !line.contains('#') {
            // No comment on the last line (the common case): a byte search, no scan.
            return text;
        }
        let mut quote: Option<char> = None;
        let mut escaped = false;
        let mut comment = None;
        for (i, c) in line.char_indices() {
            match quote {
                Some(q) => {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' && q == '"' {
                        escaped = true;
                    } else if c == q {
                        quote = None;
                    }
                }
                None if c == '"' || c == '`' || c == '\'' => quote = Some(c),
                None if c == '#' => {
                    comment = Some(i);
                    break;
                }
                None => {}
            }
        }
        match comment {
            Some(i) => text = text.get(..line_start + i).unwrap_or(text).trim_end(),
            None => return text,
        }
    }
}

impl<'s> Lowerer<'s> {
    pub(crate) fn new(src: &'s str) -> Lowerer<'s> {
        Lowerer {
            src,
            hashes: src.match_indices('#').map(|(i, _)| i).collect(),
            diags: Vec::new(),
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Reports a pair the grammar produced where lowering did not expect it. The grammar and this
    /// file are written together, so this only fires on an internal inconsistency.
    fn unexpected(&mut self, pair: &Pair<'_, Rule>) {
        self.error(Diagnostic::error(
            Code::Syntax,
            span_of(pair),
            format!("unexpected `{}`", pair.as_str()),
        ));
    }

    // -----------------------------------------------------------------------------------------
    // Conditions
    // -----------------------------------------------------------------------------------------

    pub(crate) fn condition(&mut self, mut pairs: Pairs<'_, Rule>) -> Option<Expr> {
        let cond = pairs.next()?;
        let expr = cond.into_inner().find(|p| p.as_rule() == Rule::expr)?;
        self.expr(expr)
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Option<Expr> {
        match pair.as_rule() {
            Rule::expr => self.or_and(pair),
            _ => self.primary(pair),
        }
    }

    /// An `expr` pair: operands joined by `and` / `or`, in one flat sequence. `and` binds
    /// tighter: each run of operands joined by `and` becomes one n-ary `And`, and the runs joined
    /// by `or` one n-ary `Or`. Operands and operators are lowered in source order, so diagnostics
    /// come in the order of the text; an operand that fails does not stop the others from being
    /// lowered (one run reports every slip).
    fn or_and(&mut self, pair: Pair<'_, Rule>) -> Option<Expr> {
        let mut pairs = pair.into_inner().peekable();
        let mut ors = Operands::default();
        while pairs.peek().is_some() {
            let mut ands = Operands::default();
            while let Some(operand) = pairs.next() {
                let (start, end) = (operand.as_span().start(), operand.as_span().end());
                let e = self.operand(operand);
                ands.push(e, start, end);
                match pairs.next_if(|p| p.as_rule() == Rule::and_op) {
                    Some(op) => self.check_bad_op(op),
                    None => break,
                }
            }
            let (start, end) = (ands.start, ands.end);
            let and = ands.finish(self, ExprKind::And);
            ors.push(and, start, end);
            match pairs.next_if(|p| p.as_rule() == Rule::or_op) {
                Some(op) => self.check_bad_op(op),
                None => break,
            }
        }
        ors.finish(self, ExprKind::Or)
    }

    /// Reports `||`, `&&`, `!`, `=` and `<>` with the right spelling.
    fn check_bad_op(&mut self, op: Pair<'_, Rule>) {
        let span = span_of(&op);
        for p in op.into_inner() {
            let (wrong, right) = match p.as_rule() {
                Rule::bad_or => ("||", "or"),
                Rule::bad_and => ("&&", "and"),
                Rule::bad_not => ("!", "not"),
                Rule::bad_eq => ("=", "=="),
                Rule::bad_ne => ("<>", "!="),
                _ => continue,
            };
            self.error(
                Diagnostic::error(
                    Code::Syntax,
                    span,
                    format!("`{wrong}` is not a Herald operator"),
                )
                .with_label(format!("write `{right}` here"))
                .with_help(format!("write `{right}` instead of `{wrong}`")),
            );
        }
    }

    /// An `operand` pair: `not`s, then a comparison (or a tighter expression on its own).
    fn operand(&mut self, pair: Pair<'_, Rule>) -> Option<Expr> {
        let end = pair.as_span().end();
        let mut pairs = pair.into_inner().peekable();
        let mut nots: Vec<Span> = Vec::new();
        while let Some(p) = pairs.next_if(|p| p.as_rule() == Rule::not_op) {
            nots.push(span_of(&p));
            self.check_bad_op(p);
        }
        let mut e = self.comparison(&mut pairs, end)?;
        // INVARIANT: the pre-scan bounds the number of `not`s, so this nesting is shallow.
        for not_span in nots.into_iter().rev() {
            let span = not_span.to(e.span);
            e = Expr::new(ExprKind::Not(Box::new(e)), span);
        }
        Some(e)
    }

    /// A comparison: an operand of `??` / `+` / `-`, then comparison tails (an operator pair
    /// and its right operand, or an `is` test). Comparisons are non-associative: a second tail
    /// is reported as a chained comparison. `end` is the end of the enclosing operand.
    fn comparison(&mut self, pairs: &mut Flat<'_>, end: usize) -> Option<Expr> {
        let start = pairs.peek()?.as_span().start();
        let mut lhs = self.coalesce(pairs)?;
        let mut n_tails = 0;
        while let Some(tail) = pairs.next() {
            n_tails += 1;
            if n_tails >= 2 {
                let has_rhs = tail.as_rule() != Rule::is_test;
                if n_tails == 2 {
                    let tail_end = if has_rhs {
                        operand_group_end(pairs.clone()).unwrap_or(tail.as_span().end())
                    } else {
                        tail.as_span().end()
                    };
                    self.error(
                        Diagnostic::error(
                            Code::Syntax,
                            self.trimmed_span(tail.as_span().start(), tail_end),
                            "comparisons cannot be chained",
                        )
                        .with_label("a second comparison")
                        .with_help("compare twice and join with `and`: `a < b and b < c`"),
                    );
                }
                // Lower the operand for its own diagnostics, but build no node: a chain of N
                // comparisons would nest N levels deep, past what the pre-scan bounds, and
                // every later recursive pass (even dropping the tree) would overflow the stack.
                if has_rhs {
                    let _ = self.coalesce(pairs);
                    // What a failed operand left unread.
                    while pairs.next_if(|p| !is_tail(p.as_rule())).is_some() {}
                }
                continue;
            }
            // The span of the first comparison is set below, once its end is known.
            let whole = lhs.span;
            match tail.as_rule() {
                Rule::is_test => {
                    let mut negated = false;
                    let mut empty = false;
                    for p in tail.into_inner() {
                        match p.as_rule() {
                            Rule::kw_not => negated = true,
                            Rule::kw_empty => empty = true,
                            _ => {}
                        }
                    }
                    let test = match (negated, empty) {
                        (false, false) => TestOp::IsNull,
                        (true, false) => TestOp::IsNotNull,
                        (false, true) => TestOp::IsEmpty,
                        (true, true) => TestOp::IsNotEmpty,
                    };
                    lhs = Expr::new(
                        ExprKind::Test {
                            test,
                            operand: Box::new(lhs),
                        },
                        whole,
                    );
                }
                Rule::kw_matches => {
                    let op_span = span_of(&tail);
                    let rhs = self.coalesce(pairs)?;
                    lhs = Expr::new(
                        ExprKind::Binary {
                            op: BinOp::Matches,
                            op_span,
                            lhs: Box::new(lhs),
                            rhs: Box::new(rhs),
                        },
                        whole,
                    );
                }
                Rule::cmp_op => {
                    let op_span = span_of(&tail);
                    let op = self.cmp_op(tail)?;
                    let rhs = self.coalesce(pairs)?;
                    lhs = Expr::new(
                        ExprKind::Binary {
                            op,
                            op_span,
                            lhs: Box::new(lhs),
                            rhs: Box::new(rhs),
                        },
                        whole,
                    );
                }
                _ => {
                    self.unexpected(&tail);
                    return None;
                }
            }
        }
        if n_tails == 0 {
            return Some(lhs);
        }
        if n_tails >= 2 {
            return None;
        }
        lhs.span = self.trimmed_span(start, end);
        Some(lhs)
    }

    fn cmp_op(&mut self, pair: Pair<'_, Rule>) -> Option<BinOp> {
        let span = span_of(&pair);
        let inner = pair.into_inner().next()?;
        Some(match inner.as_rule() {
            Rule::op_eq => BinOp::Eq,
            Rule::op_ne => BinOp::Ne,
            Rule::op_lt => BinOp::Lt,
            Rule::op_le => BinOp::Le,
            Rule::op_gt => BinOp::Gt,
            Rule::op_ge => BinOp::Ge,
            Rule::op_in => BinOp::In,
            Rule::op_not_in => BinOp::NotIn,
            Rule::op_contains => BinOp::Contains,
            Rule::op_contains_any => BinOp::ContainsAny,
            Rule::op_contains_all => BinOp::ContainsAll,
            Rule::op_starts_with => BinOp::StartsWith,
            Rule::op_ends_with => BinOp::EndsWith,
            Rule::bad_eq | Rule::bad_ne => {
                let (wrong, right, op) = if inner.as_rule() == Rule::bad_eq {
                    ("=", "==", BinOp::Eq)
                } else {
                    ("<>", "!=", BinOp::Ne)
                };
                self.error(
                    Diagnostic::error(
                        Code::Syntax,
                        span,
                        format!("`{wrong}` is not a Herald operator"),
                    )
                    .with_label(format!("write `{right}` here"))
                    .with_help(format!("to compare, write `{right}` instead of `{wrong}`")),
                );
                op
            }
            _ => {
                self.unexpected(&inner);
                return None;
            }
        })
    }

    /// `a ?? b ?? c`: operands of `+` / `-` in a row (two operands in a row were joined by
    /// `??`, the only operator without a pair), up to a comparison tail or the end.
    fn coalesce(&mut self, pairs: &mut Flat<'_>) -> Option<Expr> {
        let start = pairs.peek()?.as_span().start();
        let mut end = start;
        let first = self.additive(pairs, &mut end)?;
        if !pairs.peek().is_some_and(|p| is_primary(p.as_rule())) {
            return Some(first);
        }
        let mut operands = vec![first];
        while pairs.peek().is_some_and(|p| is_primary(p.as_rule())) {
            operands.push(self.additive(pairs, &mut end)?);
        }
        Some(Expr::new(
            ExprKind::Coalesce(operands),
            self.trimmed_span(start, end),
        ))
    }

    /// `date + 30d - 12h`: a primary, then `+` / `-` and primaries. `end` is set to the end of
    /// the last primary read.
    fn additive(&mut self, pairs: &mut Flat<'_>, end: &mut usize) -> Option<Expr> {
        let first = pairs.next()?;
        let start = first.as_span().start();
        *end = first.as_span().end();
        let base = self.primary(first)?;
        let mut terms = Vec::new();
        while let Some(op) = pairs.next_if(|p| p.as_rule() == Rule::add_op) {
            let minus = op.as_str() == "-";
            let p = pairs.next()?;
            *end = p.as_span().end();
            let operand = self.primary(p)?;
            match operand.kind {
                ExprKind::Literal(Literal::Duration(d)) => terms.push(OffsetTerm {
                    minus,
                    duration: d,
                    span: operand.span,
                }),
                _ => {
                    self.error(
                        Diagnostic::error(
                            Code::TypeMismatch,
                            operand.span,
                            format!(
                                "only a duration can be {} a date",
                                if minus { "subtracted from" } else { "added to" }
                            ),
                        )
                        .with_label("not a duration")
                        .with_help(
                            "write a duration such as `30d`, `12h`, `15m` or `2w`; Herald has no \
                             arithmetic on numbers",
                        ),
                    );
                }
            }
        }
        if terms.is_empty() {
            return Some(base);
        }
        Some(Expr::new(
            ExprKind::Offset {
                base: Box::new(base),
                terms,
            },
            self.trimmed_span(start, *end),
        ))
    }

    fn primary(&mut self, pair: Pair<'_, Rule>) -> Option<Expr> {
        let span = span_of(&pair);
        let kind = match pair.as_rule() {
            Rule::paren => {
                let inner = pair.into_inner().next()?;
                ExprKind::Paren(Box::new(self.expr(inner)?))
            }
            Rule::list => {
                let mut items = Vec::new();
                let mut ok = true;
                let mut count = 0usize;
                for p in pair.into_inner() {
                    count += 1;
                    if count == MAX_LIST_LEN + 1 {
                        // The primary span is the first element over the limit, not the whole
                        // list: a renderer prints every line a span covers.
                        self.error(
                            Diagnostic::error(
                                Code::ListTooLarge,
                                self.item_span(&p),
                                format!("this list has more than {MAX_LIST_LEN} elements"),
                            )
                            .with_label(format!("element {} is over the limit", MAX_LIST_LEN + 1))
                            .with_secondary(
                                Span::new(span.start, span.start + 1),
                                "the list starts here",
                            )
                            .with_help(
                                "split the list, or keep the values in a field of the record",
                            ),
                        );
                        ok = false;
                    }
                    if count > MAX_LIST_LEN {
                        continue;
                    }
                    let item = match p.as_rule() {
                        Rule::expr => self.expr(p),
                        // The fast path of `list_item`: a string or number on its own.
                        _ => self.primary(p),
                    };
                    match item {
                        Some(e) => items.push(e),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                ExprKind::List(items)
            }
            Rule::call => {
                let mut inner = pair.into_inner();
                let name_pair = inner.next()?;
                let name = Ident {
                    name: name_pair.as_str().to_string(),
                    span: span_of(&name_pair),
                };
                let mut args = Vec::new();
                for p in inner {
                    args.push(self.expr(p)?);
                }
                ExprKind::Call { name, args }
            }
            Rule::path => ExprKind::Path(self.path(pair)?),
            _ => ExprKind::Literal(self.literal(pair)?),
        };
        Some(Expr::new(kind, span))
    }

    fn path(&mut self, pair: Pair<'_, Rule>) -> Option<Path> {
        let mut segments = Vec::new();
        for p in pair.into_inner() {
            segments.push(self.segment(p)?);
        }
        Some(Path { segments })
    }

    fn segment(&mut self, p: Pair<'_, Rule>) -> Option<Segment> {
        let span = span_of(&p);
        let text = p.as_str();
        let name = match p.as_rule() {
            Rule::quoted_segment => {
                let inner = text
                    .strip_prefix('`')
                    .and_then(|t| t.strip_suffix('`'))
                    .unwrap_or(text);
                if inner.is_empty() {
                    self.error(
                        Diagnostic::error(Code::Syntax, span, "empty field label")
                            .with_label("nothing between the back quotes")
                            .with_help("write the field name between the back quotes"),
                    );
                    return None;
                }
                inner.to_string()
            }
            _ => text.to_string(),
        };
        Some(Segment {
            name: name.into(),
            span,
        })
    }

    fn literal(&mut self, pair: Pair<'_, Rule>) -> Option<Literal> {
        let span = span_of(&pair);
        let text = pair.as_str();
        Some(match pair.as_rule() {
            Rule::string => Literal::Str(self.string(pair).into()),
            Rule::bad_single_quoted => {
                let inner = text.trim_start_matches('\'').trim_end_matches('\'');
                self.error(
                    Diagnostic::error(Code::Syntax, span, "strings are written in double quotes")
                        .with_label("single quotes")
                        .with_help(format!(
                            "write \"{}\"",
                            inner.replace('\\', "\\\\").replace('"', "\\\"")
                        )),
                );
                Literal::Str(inner.into())
            }
            Rule::unterminated_string => {
                self.error(
                    Diagnostic::error(Code::Syntax, span, "unterminated string")
                        .with_label("this string has no closing quote")
                        .with_help("add a closing `\"` before the end of the line"),
                );
                Literal::Str("".into())
            }
            Rule::number => self.number(text, span)?,
            Rule::duration => match duration_value(text) {
                Some(d) => d,
                None => {
                    self.error(
                        Diagnostic::error(
                            Code::InvalidLiteral,
                            span,
                            format!("the duration `{text}` is too large"),
                        )
                        .with_label("too large")
                        .with_help("durations must fit in 64-bit seconds"),
                    );
                    return None;
                }
            },
            Rule::at_literal => self.at_literal(text, span)?,
            Rule::kw_true => Literal::Bool(true),
            Rule::kw_false => Literal::Bool(false),
            Rule::kw_null => Literal::Null,
            _ => {
                self.unexpected(&pair);
                return None;
            }
        })
    }

    fn number(&mut self, text: &str, span: Span) -> Option<Literal> {
        if let Some(value) = number_value(text) {
            return Some(value);
        }
        let d = if text.contains('.') {
            Diagnostic::error(
                Code::InvalidLiteral,
                span,
                format!("the decimal `{text}` is out of range"),
            )
            .with_label("too large")
            .with_help("decimals are 64-bit floating point numbers")
        } else {
            Diagnostic::error(
                Code::InvalidLiteral,
                span,
                format!("the integer `{text}` is out of range"),
            )
            .with_label("does not fit in 64 bits")
            .with_help(
                "integers range from -9223372036854775808 to 9223372036854775807; \
                 write a larger number as a decimal, such as `10000000000000000000.0`",
            )
        };
        self.error(d);
        None
    }

    fn at_literal(&mut self, text: &str, span: Span) -> Option<Literal> {
        if let Some(value) = at_literal_value(text) {
            return Some(value);
        }
        let body = text.trim_start_matches('@');
        if !body.starts_with(|c: char| c.is_ascii_digit()) {
            // `@today`, `@now`, `@`: not a date at all.
            let help = match body.to_ascii_lowercase().as_str() {
                "today" => String::from("for the current date write `today()`"),
                "now" => String::from("for the current date and time write `now()`"),
                _ => String::from(
                    "write a date as `@2026-01-31` or a date-time as `@2026-01-31T09:30:00Z`",
                ),
            };
            self.error(
                Diagnostic::error(
                    Code::InvalidLiteral,
                    span,
                    format!("`{text}` is not a date or a date-time"),
                )
                .with_label("`@` starts a date")
                .with_help(help),
            );
            return None;
        }
        if body.contains('T') || body.contains('t') {
            match DateTime::parse_from_rfc3339(body) {
                Ok(dt) => Some(Literal::DateTime(dt)),
                Err(_) => {
                    let no_offset =
                        chrono::NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S").is_ok()
                            || chrono::NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S%.f")
                                .is_ok();
                    let (label, help) = if no_offset {
                        (
                            String::from("no offset"),
                            format!("a date-time needs an offset: write `@{body}Z` for UTC"),
                        )
                    } else {
                        (
                            String::from("not an RFC 3339 date-time"),
                            String::from(
                                "write a date-time as RFC 3339 with an offset, such as \
                                 `@2026-01-31T09:30:00Z` or `@2026-01-31T09:30:00+01:00`",
                            ),
                        )
                    };
                    self.error(
                        Diagnostic::error(
                            Code::InvalidLiteral,
                            span,
                            format!("`{text}` is not a valid date-time"),
                        )
                        .with_label(label)
                        .with_help(help),
                    );
                    None
                }
            }
        } else {
            match crate::value::parse_date(body) {
                Some(d) => Some(Literal::Date(d)),
                None => {
                    let label = if crate::value::has_date_shape(body) {
                        "no such day in the calendar"
                    } else {
                        "not `@YYYY-MM-DD`"
                    };
                    self.error(
                        Diagnostic::error(
                            Code::InvalidLiteral,
                            span,
                            format!("`{text}` is not a valid date"),
                        )
                        .with_label(label)
                        .with_help("write a date as `@YYYY-MM-DD`, such as `@2026-01-31`"),
                    );
                    None
                }
            }
        }
    }

    /// Decodes a string literal's escapes, reporting unknown ones with their span.
    fn string(&mut self, pair: Pair<'_, Rule>) -> String {
        let span = span_of(&pair);
        let body = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
        // The body starts one byte after the opening quote.
        unescape(body, span.start + 1, &mut self.diags)
    }

    fn str_lit(&mut self, pair: Pair<'_, Rule>) -> StrLit {
        let span = span_of(&pair);
        StrLit {
            value: self.string(pair),
            span,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Rule files
    // -----------------------------------------------------------------------------------------

    pub(crate) fn rule_file(&mut self, mut pairs: Pairs<'_, Rule>) -> RuleFile {
        let mut file = RuleFile::default();
        let Some(root) = pairs.next() else {
            return file;
        };
        for p in root.into_inner() {
            let item = match p.as_rule() {
                Rule::schema_block => self.schema_block(p).map(Item::Schema),
                Rule::portal_block => self.portal_block(p).map(Item::Portal),
                Rule::test_block => self.test_block(p).map(Item::Test),
                _ => None,
            };
            if let Some(item) = item {
                file.items.push(item);
            }
        }
        file
    }

    fn schema_block(&mut self, pair: Pair<'_, Rule>) -> Option<SchemaDecl> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner().filter(|p| p.as_rule() != Rule::rk_schema);
        let name_pair = inner.next()?;
        let name = Ident {
            name: name_pair.as_str().to_string(),
            span: span_of(&name_pair),
        };
        let body_pair = inner.next()?;
        let body = match body_pair.as_rule() {
            Rule::schema_from => {
                let s = body_pair
                    .into_inner()
                    .find(|p| p.as_rule() == Rule::string)?;
                SchemaBody::File(self.str_lit(s))
            }
            _ => SchemaBody::Fields(self.schema_body(body_pair)),
        };
        Some(SchemaDecl { name, body, span })
    }

    fn schema_body(&mut self, pair: Pair<'_, Rule>) -> Vec<FieldDecl> {
        let mut fields = Vec::new();
        for p in pair.into_inner() {
            if let Some(f) = self.field_decl(p) {
                fields.push(f);
            }
        }
        fields
    }

    fn field_decl(&mut self, pair: Pair<'_, Rule>) -> Option<FieldDecl> {
        let span = self.line_span(&pair);
        let mut inner = pair.into_inner();
        let name_pair = inner.next()?;
        let name_span = span_of(&name_pair);
        let raw = name_pair.as_str();
        let name = raw
            .strip_prefix('`')
            .and_then(|r| r.strip_suffix('`'))
            .unwrap_or(raw)
            .to_string();
        let ty_pair = inner.next()?.into_inner().next()?;
        let ty = match ty_pair.as_rule() {
            Rule::picklist_type | Rule::multiselect_type => {
                let tspan = span_of(&ty_pair);
                let is_pick = ty_pair.as_rule() == Rule::picklist_type;
                let list = ty_pair
                    .into_inner()
                    .find(|p| p.as_rule() == Rule::value_list)?;
                let values = self.string_list(list);
                if is_pick {
                    TypeExpr::Picklist(values, tspan)
                } else {
                    TypeExpr::Multiselect(values, tspan)
                }
            }
            Rule::object_type => {
                let body = ty_pair
                    .into_inner()
                    .find(|p| p.as_rule() == Rule::schema_body)?;
                TypeExpr::Object(self.schema_body(body))
            }
            _ => TypeExpr::Named(Ident {
                name: ty_pair.as_str().to_string(),
                span: span_of(&ty_pair),
            }),
        };
        Some(FieldDecl {
            name: Segment {
                name: name.into(),
                span: name_span,
            },
            ty,
            span,
        })
    }

    /// The span of a list element or a picklist value as messages have always shown it: for an
    /// expression, what the nested precedence rules of the grammar used to cover. Those
    /// included the whitespace and comments after the expression unless its last part ended
    /// inside a repetition at every level (`a or b and c is null`), a quirk of pest's implicit
    /// whitespace that the snapshots of list diagnostics record.
    fn item_span(&self, pair: &Pair<'_, Rule>) -> Span {
        let span = span_of(pair);
        if pair.as_rule() != Rule::expr {
            return span;
        }
        let mut any_or = false;
        let mut ands_in_last_run = 0usize;
        let mut last_operand = None;
        for p in pair.clone().into_inner() {
            match p.as_rule() {
                Rule::or_op => {
                    any_or = true;
                    ands_in_last_run = 0;
                }
                Rule::and_op => ands_in_last_run += 1,
                _ => last_operand = Some(p),
            }
        }
        let Some(operand) = last_operand else {
            return span;
        };
        let mut last_end = span.end;
        let mut tails = 0usize;
        let mut last_tail_is_test = false;
        let mut coalesced = 0usize;
        let mut adds = 0usize;
        let mut after_primary = false;
        for p in operand.into_inner() {
            last_end = p.as_span().end();
            let rule = p.as_rule();
            match rule {
                Rule::is_test | Rule::cmp_op | Rule::kw_matches => {
                    tails += 1;
                    last_tail_is_test = rule == Rule::is_test;
                    coalesced = 0;
                    adds = 0;
                }
                Rule::add_op => adds += 1,
                Rule::not_op => {}
                _ => {
                    if after_primary {
                        coalesced += 1;
                        adds = 0;
                    }
                }
            }
            after_primary = is_primary(rule);
        }
        let ends_in_repetitions = any_or
            && ands_in_last_run > 0
            && tails > 0
            && (last_tail_is_test || (coalesced > 0 && adds > 0));
        if ends_in_repetitions {
            Span::new(span.start, last_end)
        } else {
            Span::new(span.start, skip_trivia(self.src, last_end))
        }
    }

    /// A list whose elements must be string literals (picklist values).
    fn string_list(&mut self, list: Pair<'_, Rule>) -> Vec<StrLit> {
        let mut values = Vec::new();
        for p in list.into_inner() {
            let span = self.item_span(&p);
            match self.expr(p) {
                Some(Expr {
                    kind: ExprKind::Literal(Literal::Str(value)),
                    ..
                }) => values.push(StrLit {
                    value: value.into(),
                    span,
                }),
                Some(_) => self.error(
                    Diagnostic::error(Code::InvalidList, span, "picklist values must be strings")
                        .with_help("write each value in double quotes"),
                ),
                None => {}
            }
        }
        values
    }

    fn ident(pair: &Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: span_of(pair),
        }
    }

    fn portal_block(&mut self, pair: Pair<'_, Rule>) -> Option<PortalDecl> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner().filter(|p| p.as_rule() != Rule::rk_portal);
        let name = self.str_lit(inner.next()?);
        let mut items = Vec::new();
        for p in inner {
            if let Some(item) = self.portal_item(p) {
                items.push(item);
            }
        }
        Some(PortalDecl { name, items, span })
    }

    /// The span of a rule-file line without the whitespace and comments that pest's implicit
    /// `WHITESPACE`/`COMMENT` leave at the end of a rule ending in `?` or `*`: a diagnostic
    /// pointing at the line then ends on that line. Expressions whose rule ends in `*` (`a or b`,
    /// comparisons, `??`, `+`/`-`) use it too, so that a diagnostic underlines `a or b` and not
    /// the comment and line break after it.
    fn line_span(&self, pair: &Pair<'_, Rule>) -> Span {
        let span = pair.as_span();
        self.trimmed_span(span.start(), span.end())
    }

    /// The span from `start` to `end` without the whitespace and comments at its end (see
    /// [`Lowerer::line_span`]).
    fn trimmed_span(&self, start: usize, end: usize) -> Span {
        let text = self.src.get(start..end).unwrap_or("");
        let first_hash = self.hashes.partition_point(|&h| h < start);
        let trimmed = match self.hashes.get(first_hash) {
            Some(&h) if h < end => trim_trivia_end(text),
            _ => text.trim_end(),
        };
        Span::new(start, start + trimmed.len())
    }

    fn portal_item(&mut self, pair: Pair<'_, Rule>) -> Option<PortalItem> {
        let span = self.line_span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner().filter(|p| {
            !matches!(
                p.as_rule(),
                Rule::rk_records
                    | Rule::rk_identity
                    | Rule::rk_from
                    | Rule::rk_group
                    | Rule::rk_status
                    | Rule::rk_on
                    | Rule::rk_require
                    | Rule::rk_invite
            )
        });
        Some(match rule {
            Rule::records_item => PortalItem::Records(Self::ident(&inner.next()?), span),
            Rule::identity_item => {
                let mut paths = Vec::new();
                for p in inner {
                    paths.push(self.path(p)?);
                }
                PortalItem::Identity(paths, span)
            }
            Rule::from_item => PortalItem::FromGroup(self.str_lit(inner.next()?), span),
            Rule::status_item => PortalItem::Status(Self::ident(&inner.next()?), span),
            Rule::on_item => PortalItem::On(inner.map(|p| Self::ident(&p)).collect(), span),
            Rule::require_item => PortalItem::Require(self.expr(inner.next()?)?, span),
            Rule::invite_item => {
                let language = self.str_lit(inner.next()?);
                let when = match inner.next() {
                    None => InviteWhen::Always,
                    Some(p) if p.as_rule() == Rule::invite_otherwise => {
                        InviteWhen::Otherwise(span_of(&p))
                    }
                    Some(p) => {
                        let e = p.into_inner().find(|q| q.as_rule() == Rule::expr)?;
                        InviteWhen::When(self.expr(e)?)
                    }
                };
                PortalItem::Invite(InviteDecl {
                    language,
                    when,
                    span,
                })
            }
            Rule::unknown_item => {
                let key = inner.next()?;
                PortalItem::Unknown(Self::ident(&key), span)
            }
            _ => return None,
        })
    }

    fn test_block(&mut self, pair: Pair<'_, Rule>) -> Option<TestDecl> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner().filter(|p| p.as_rule() != Rule::rk_test);
        let name = self.str_lit(inner.next()?);
        let mut items = Vec::new();
        for p in inner {
            let item_span = self.line_span(&p);
            let rule = p.as_rule();
            let mut parts = p.into_inner().filter(|q| {
                !matches!(
                    q.as_rule(),
                    Rule::rk_record | Rule::rk_event | Rule::rk_now | Rule::rk_expect
                )
            });
            let item = match rule {
                Rule::record_item => {
                    let obj = parts.next()?;
                    TestItem::Record(obj.as_str().to_string(), span_of(&obj))
                }
                Rule::event_item => TestItem::Event(Self::ident(&parts.next()?), item_span),
                Rule::now_item => {
                    let at = parts.next()?;
                    TestItem::Now(at.as_str().to_string(), span_of(&at))
                }
                Rule::expect_item => {
                    let portal = self.str_lit(parts.next()?);
                    let exp = parts.next()?;
                    let outcome = match exp.as_rule() {
                        Rule::expect_invites => {
                            let s = exp.into_inner().find(|q| q.as_rule() == Rule::string)?;
                            ExpectedOutcome::Invites(self.str_lit(s))
                        }
                        Rule::expect_not_invite => ExpectedOutcome::DoesNotInvite(
                            exp.into_inner()
                                .find(|q| q.as_rule() == Rule::reason)
                                .map(|q| Self::ident(&q)),
                        ),
                        _ => {
                            let r = exp.into_inner().find(|q| q.as_rule() == Rule::reason)?;
                            ExpectedOutcome::Fails(Self::ident(&r))
                        }
                    };
                    TestItem::Expect(Expectation { portal, outcome }, item_span)
                }
                _ => continue,
            };
            items.push(item);
        }
        Some(TestDecl { name, items, span })
    }
}

/// Decodes a string literal's escapes; `base` is the offset of `body` in the source. Unknown
/// escapes are reported into `diags` with their span (and left out of the value).
pub(super) fn unescape(body: &str, base: usize, diags: &mut Vec<Diagnostic>) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else {
            break;
        };
        match e {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                // \u{1F600}
                let rest = body.get(i + 2..).unwrap_or("");
                let decoded = rest
                    .strip_prefix('{')
                    .and_then(|r| r.find('}').map(|end| (r, end)))
                    .and_then(|(r, end)| {
                        let hex = r.get(..end)?;
                        // Hex digits only (`from_str_radix` would also take a sign).
                        if hex.is_empty()
                            || hex.len() > 6
                            || !hex.bytes().all(|b| b.is_ascii_hexdigit())
                        {
                            return None;
                        }
                        let v = u32::from_str_radix(hex, 16).ok()?;
                        Some((char::from_u32(v)?, end + 2))
                    });
                match decoded {
                    Some((ch, consumed)) => {
                        out.push(ch);
                        for _ in 0..consumed {
                            chars.next();
                        }
                    }
                    None => {
                        let end = rest.find('}').map_or(i + 2, |e| i + 2 + e + 1);
                        diags.push(
                            Diagnostic::error(
                                Code::Syntax,
                                Span::new(base + i, base + end.min(body.len())),
                                "invalid unicode escape",
                            )
                            .with_label("not a character code")
                            .with_help(
                                "write a unicode escape as `\\u{` hex digits `}`, such as \
                                 `\\u{1F600}`",
                            ),
                        );
                    }
                }
            }
            other => {
                let end = i + 1 + other.len_utf8();
                diags.push(
                    Diagnostic::error(
                        Code::Syntax,
                        Span::new(base + i, base + end),
                        format!("unknown escape `\\{other}`"),
                    )
                    .with_label("unknown escape")
                    .with_help(
                        "the escapes are `\\\"`, `\\\\`, `\\n`, `\\r`, `\\t` and `\\u{...}`; \
                         write `\\\\` for a backslash",
                    ),
                );
            }
        }
    }
    out
}

/// The value of a `number` token (underscores dropped): an integer, or a decimal when it has a
/// point. `None` when it is out of range (lowering reports that).
pub(super) fn number_value(text: &str) -> Option<Literal> {
    let clean: std::borrow::Cow<'_, str> = if text.contains('_') {
        text.chars()
            .filter(|c| *c != '_')
            .collect::<String>()
            .into()
    } else {
        text.into()
    };
    if clean.contains('.') {
        match clean.parse::<f64>() {
            Ok(f) if f.is_finite() => Some(Literal::Dec(f)),
            _ => None,
        }
    } else {
        clean.parse::<i64>().ok().map(Literal::Int)
    }
}

/// The value of a `duration` token (`30d`): `None` when it does not fit in 64-bit seconds.
pub(super) fn duration_value(text: &str) -> Option<Literal> {
    let (digits, unit) = text.split_at(text.len().saturating_sub(1));
    let unit = match unit {
        "m" => DurationUnit::Minutes,
        "h" => DurationUnit::Hours,
        "d" => DurationUnit::Days,
        _ => DurationUnit::Weeks,
    };
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    match digits.parse::<i64>() {
        Ok(amount) if (Duration { amount, unit }).seconds().is_some() => {
            Some(Literal::Duration(Duration { amount, unit }))
        }
        _ => None,
    }
}

/// The value of an `at_literal` token (`@2026-01-31`, `@2026-01-31T09:30:00Z`): `None` when it
/// is not a valid date or RFC 3339 date-time (lowering says why).
pub(super) fn at_literal_value(text: &str) -> Option<Literal> {
    let body = text.trim_start_matches('@');
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if body.contains('T') || body.contains('t') {
        DateTime::parse_from_rfc3339(body)
            .ok()
            .map(Literal::DateTime)
    } else {
        crate::value::parse_date(body).map(Literal::Date)
    }
}
