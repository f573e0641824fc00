//! The fast path of parsing: a hand-written recursive-descent reader of the grammar's common,
//! error-free subset that builds the AST directly, without pest's per-rule bookkeeping.
//!
//! The pest grammar (`grammar/herald.pest`) stays the definition of the language and the only
//! source of diagnostics. This reader either returns exactly the AST that pest and lowering
//! build for the same text, spans included, or gives up (`None`) and the text is parsed by pest.
//! It gives up on every error, on every construct lowering would report (slips such as `&&`,
//! unknown escapes, invalid dates, out-of-range numbers, chained comparisons) and on rare
//! constructs it does not read (list elements that are not plain strings or numbers, portal
//! lines with unknown keys). Giving up is always safe; accepting is allowed only where pest
//! would accept with the same result. `tests/parse_fast.rs` and the `parse_fast` fuzz target
//! compare the two on generated and mutated inputs.
//!
//! Where the grammar is greedy (an expression at the end of a `require` line continues onto the
//! next line if that line starts with `and`, an operator or `??`), this reader takes the same
//! choice or gives up; it never stops where pest would go on.
//!
//! The caller runs the pre-scan first, so nesting is bounded and recursion here is as deep as
//! in lowering.

use super::lower::{MAX_LIST_LEN, at_literal_value, duration_value, number_value, unescape};
use crate::ast::*;
use crate::span::Span;

/// A condition on its own, or `None` to parse it with pest.
pub(crate) fn condition(src: &str) -> Option<Expr> {
    let mut r = Reader::new(src);
    r.trivia();
    let e = r.expr()?;
    r.trivia();
    r.at_end().then_some(e)
}

/// A whole rule file, or `None` to parse it with pest.
pub(crate) fn rule_file(src: &str) -> Option<RuleFile> {
    let mut r = Reader::new(src);
    let mut file = RuleFile::default();
    loop {
        r.trivia();
        if r.at_end() {
            return Some(file);
        }
        let item = if r.eat_kw(b"schema") {
            Item::Schema(r.schema_block()?)
        } else if r.eat_kw(b"portal") {
            Item::Portal(r.portal_block()?)
        } else if r.eat_kw(b"test") {
            Item::Test(r.test_block()?)
        } else {
            return None;
        };
        file.items.push(item);
    }
}

/// `ASCII_ALPHANUMERIC | "_"`: a byte that continues an identifier.
fn ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The reserved words of the grammar's `reserved` rule.
fn is_reserved(word: &[u8]) -> bool {
    matches!(
        word,
        b"and"
            | b"or"
            | b"not"
            | b"in"
            | b"contains"
            | b"starts"
            | b"ends"
            | b"matches"
            | b"is"
            | b"null"
            | b"true"
            | b"false"
    )
}

/// What a comparison tail starts with.
enum Tail {
    Op(BinOp, usize),
    Test(TestOp),
}

struct Reader<'s> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    /// The end of the last token read: where a span that pest trims of trailing whitespace and
    /// comments ends.
    last: usize,
}

impl<'s> Reader<'s> {
    fn new(src: &'s str) -> Reader<'s> {
        Reader {
            src,
            b: src.as_bytes(),
            pos: 0,
            last: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.pos + k).copied()
    }

    fn text(&self, start: usize, end: usize) -> &'s str {
        self.src.get(start..end).unwrap_or("")
    }

    /// Whitespace and `#` comments, as the grammar's implicit `WHITESPACE` and `COMMENT`.
    fn trivia(&mut self) {
        self.pos = super::lower::skip_trivia(self.src, self.pos);
    }

    /// Moves past `n` bytes of one token.
    fn bump(&mut self, n: usize) {
        self.pos += n;
        self.last = self.pos;
    }

    /// Whether the keyword `kw` (followed by a byte that cannot continue an identifier) is next.
    fn at_kw(&self, kw: &[u8]) -> bool {
        self.b
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(kw))
            && !self.peek_at(kw.len()).is_some_and(ident_char)
    }

    fn eat_kw(&mut self, kw: &[u8]) -> bool {
        let at = self.at_kw(kw);
        if at {
            self.bump(kw.len());
        }
        at
    }

    /// A plain string of the grammar (`"invites"`), not bounded by a non-identifier byte.
    fn eat_lit(&mut self, lit: &[u8]) -> bool {
        let at = self
            .b
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(lit));
        if at {
            self.bump(lit.len());
        }
        at
    }

    fn eat_byte(&mut self, c: u8) -> bool {
        let at = self.peek() == Some(c);
        if at {
            self.bump(1);
        }
        at
    }

    /// The length of the identifier at the current position (`(ASCII_ALPHA | "_") ~
    /// ident_char*`), 0 if there is none.
    fn ident_len(&self) -> usize {
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                1 + self.b[self.pos + 1..]
                    .iter()
                    .take_while(|&&c| ident_char(c))
                    .count()
            }
            _ => 0,
        }
    }

    fn ident(&mut self) -> Option<Ident> {
        let n = self.ident_len();
        if n == 0 {
            return None;
        }
        let start = self.pos;
        self.bump(n);
        Some(Ident {
            name: self.text(start, self.pos).to_string(),
            span: Span::new(start, self.pos),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Conditions
    // -----------------------------------------------------------------------------------------

    /// `expr`: operands joined by `and` / `or`; `and` runs become `And`, `or` runs `Or`, each
    /// spanning from its first operand to the last token of its last one.
    fn expr(&mut self) -> Option<Expr> {
        let start = self.pos;
        let mut ors: Vec<Expr> = Vec::new();
        loop {
            let and_start = self.pos;
            let first = self.operand()?;
            self.trivia();
            let run = if self.at_kw(b"and") {
                // Room for a typical run: `vec![first]` had to grow at the second operand.
                let mut ands = Vec::with_capacity(4);
                ands.push(first);
                while self.eat_kw(b"and") {
                    self.trivia();
                    ands.push(self.operand()?);
                    self.trivia();
                }
                Expr::new(ExprKind::And(ands), Span::new(and_start, self.last))
            } else {
                first
            };
            if matches!(self.peek(), Some(b'&' | b'|')) {
                return None;
            }
            if !self.eat_kw(b"or") {
                if ors.is_empty() {
                    return Some(run);
                }
                ors.push(run);
                return Some(Expr::new(ExprKind::Or(ors), Span::new(start, self.last)));
            }
            ors.push(run);
            self.trivia();
        }
    }

    /// `operand`: `not`s, then a value chain and at most one comparison tail.
    fn operand(&mut self) -> Option<Expr> {
        // The positions of the `not`s: a few inline, any more on the heap.
        let mut nots: arrayvec::ArrayVec<usize, 4> = arrayvec::ArrayVec::new();
        let mut more_nots: Vec<usize> = Vec::new();
        loop {
            if self.at_kw(b"not") {
                if let Err(full) = nots.try_push(self.pos) {
                    more_nots.push(full.element());
                }
                self.bump(3);
                self.trivia();
            } else if self.peek() == Some(b'!') {
                return None;
            } else {
                break;
            }
        }
        let start = self.pos;
        let lhs = self.value()?;
        self.trivia();
        let mut e = match self.tail()? {
            None => lhs,
            Some(Tail::Test(test)) => {
                let e = Expr::new(
                    ExprKind::Test {
                        test,
                        operand: Box::new(lhs),
                    },
                    Span::new(start, self.last),
                );
                self.trivia();
                e
            }
            Some(Tail::Op(op, op_start)) => {
                let op_span = Span::new(op_start, self.last);
                self.trivia();
                let rhs = self.value()?;
                self.trivia();
                Expr::new(
                    ExprKind::Binary {
                        op,
                        op_span,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    },
                    Span::new(start, self.last),
                )
            }
        };
        if !matches!(e.kind, ExprKind::Binary { .. } | ExprKind::Test { .. }) {
            // No tail: nothing more to check.
        } else if self.tail_starts() {
            // A chained comparison: pest reads it and lowering reports it.
            return None;
        }
        for at in nots.into_iter().chain(more_nots).rev() {
            let span = Span::new(at, e.span.end);
            e = Expr::new(ExprKind::Not(Box::new(e)), span);
        }
        Some(e)
    }

    /// Whether a comparison operator or an `is` test could start here (conservatively: also
    /// `not` without `in`, and every slip).
    fn tail_starts(&self) -> bool {
        match self.peek() {
            Some(b'=' | b'!' | b'<' | b'>') => true,
            Some(b'i' | b'm' | b'n' | b'c' | b's' | b'e') => [
                &b"in"[..],
                b"is",
                b"not",
                b"matches",
                b"contains",
                b"starts",
                b"ends",
            ]
            .iter()
            .any(|kw| self.at_kw(kw)),
            _ => false,
        }
    }

    /// A comparison tail at the current position: `Some(None)` when none starts here (the
    /// operand ends), `None` to give up.
    fn tail(&mut self) -> Option<Option<Tail>> {
        let start = self.pos;
        let two = (self.peek(), self.peek_at(1));
        let op = match two {
            (Some(b'='), Some(b'=')) => Some((BinOp::Eq, 2)),
            (Some(b'!'), Some(b'=')) => Some((BinOp::Ne, 2)),
            (Some(b'<'), Some(b'=')) => Some((BinOp::Le, 2)),
            (Some(b'>'), Some(b'=')) => Some((BinOp::Ge, 2)),
            // `<>`, `=` and `!` are slips that lowering reports.
            (Some(b'<'), Some(b'>')) | (Some(b'=' | b'!'), _) => return None,
            (Some(b'<'), _) => Some((BinOp::Lt, 1)),
            (Some(b'>'), _) => Some((BinOp::Gt, 1)),
            _ => None,
        };
        if let Some((op, n)) = op {
            self.bump(n);
            return Some(Some(Tail::Op(op, start)));
        }
        let op = if self.eat_kw(b"in") {
            BinOp::In
        } else if self.eat_kw(b"matches") {
            BinOp::Matches
        } else if self.eat_kw(b"contains") {
            let after = (self.pos, self.last);
            self.trivia();
            if self.eat_kw(b"any") {
                BinOp::ContainsAny
            } else if self.eat_kw(b"all") {
                BinOp::ContainsAll
            } else {
                (self.pos, self.last) = after;
                BinOp::Contains
            }
        } else if self.eat_kw(b"not") {
            self.trivia();
            if !self.eat_kw(b"in") {
                return None;
            }
            BinOp::NotIn
        } else if self.eat_kw(b"starts") {
            self.trivia();
            if !self.eat_kw(b"with") {
                return None;
            }
            BinOp::StartsWith
        } else if self.eat_kw(b"ends") {
            self.trivia();
            if !self.eat_kw(b"with") {
                return None;
            }
            BinOp::EndsWith
        } else if self.eat_kw(b"is") {
            self.trivia();
            let negated = self.eat_kw(b"not");
            if negated {
                self.trivia();
            }
            let test = if self.eat_kw(b"null") {
                if negated {
                    TestOp::IsNotNull
                } else {
                    TestOp::IsNull
                }
            } else if self.eat_kw(b"empty") {
                if negated {
                    TestOp::IsNotEmpty
                } else {
                    TestOp::IsEmpty
                }
            } else {
                return None;
            };
            return Some(Some(Tail::Test(test)));
        } else {
            return Some(None);
        };
        Some(Some(Tail::Op(op, start)))
    }

    /// A value chain: primaries joined by `+`/`-` durations (`Offset`) and `??` (`Coalesce`).
    fn value(&mut self) -> Option<Expr> {
        let start = self.pos;
        let first = self.additive()?;
        if !self.at_coalesce() {
            return Some(first);
        }
        let mut operands = vec![first];
        while self.at_coalesce() {
            self.pos += 2;
            self.trivia();
            operands.push(self.additive()?);
        }
        Some(Expr::new(
            ExprKind::Coalesce(operands),
            Span::new(start, self.last),
        ))
    }

    /// Whether `??` comes next, after trivia (which is skipped either way).
    fn at_coalesce(&mut self) -> bool {
        self.trivia();
        self.peek() == Some(b'?') && self.peek_at(1) == Some(b'?')
    }

    /// A primary, then `+`/`-` and durations.
    fn additive(&mut self) -> Option<Expr> {
        let start = self.pos;
        let base = self.primary()?;
        let mut terms = Vec::new();
        loop {
            self.trivia();
            let minus = match self.peek() {
                Some(b'+') => false,
                Some(b'-') => true,
                Some(b'?') if self.peek_at(1) != Some(b'?') => return None,
                _ => break,
            };
            self.bump(1);
            self.trivia();
            let term = self.primary()?;
            match term.kind {
                ExprKind::Literal(Literal::Duration(duration)) => terms.push(OffsetTerm {
                    minus,
                    duration,
                    span: term.span,
                }),
                // Lowering reports anything else after `+` / `-`.
                _ => return None,
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
            Span::new(start, self.last),
        ))
    }

    fn primary(&mut self) -> Option<Expr> {
        let start = self.pos;
        let kind = match self.peek()? {
            b'(' => {
                self.bump(1);
                self.trivia();
                let inner = self.expr()?;
                self.trivia();
                if !self.eat_byte(b')') {
                    return None;
                }
                ExprKind::Paren(Box::new(inner))
            }
            b'[' => self.list()?,
            b'"' => ExprKind::Literal(Literal::Str(self.string_value()?.into())),
            b'@' => {
                let n = self.at_literal_len();
                let value = at_literal_value(self.text(self.pos, self.pos + n))?;
                self.bump(n);
                ExprKind::Literal(value)
            }
            b'0'..=b'9' | b'-' => ExprKind::Literal(self.number_or_duration()?),
            b'`' => ExprKind::Path(self.path()?),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                if self.eat_kw(b"true") {
                    ExprKind::Literal(Literal::Bool(true))
                } else if self.eat_kw(b"false") {
                    ExprKind::Literal(Literal::Bool(false))
                } else if self.eat_kw(b"null") {
                    ExprKind::Literal(Literal::Null)
                } else {
                    let n = self.ident_len();
                    let word = &self.b[self.pos..self.pos + n];
                    if is_reserved(word) {
                        return None;
                    }
                    let after_name = super::lower::skip_trivia(self.src, self.pos + n);
                    if self.b.get(after_name) == Some(&b'(') {
                        self.call()?
                    } else {
                        ExprKind::Path(self.path()?)
                    }
                }
            }
            _ => return None,
        };
        Some(Expr::new(kind, Span::new(start, self.last)))
    }

    /// `name(args)`: the caller checked that a `(` follows the name.
    fn call(&mut self) -> Option<ExprKind> {
        let name = self.ident()?;
        self.trivia();
        if !self.eat_byte(b'(') {
            return None;
        }
        self.trivia();
        let mut args = Vec::new();
        if !self.eat_byte(b')') {
            loop {
                args.push(self.expr()?);
                self.trivia();
                if self.eat_byte(b',') {
                    self.trivia();
                    continue;
                }
                if self.eat_byte(b')') {
                    break;
                }
                return None;
            }
        }
        Some(ExprKind::Call { name, args })
    }

    /// A field path (`path = ${ segment ~ ("." ~ segment)* }`: no whitespace inside).
    fn path(&mut self) -> Option<Path> {
        let mut segments = vec![self.segment()?];
        while self.peek() == Some(b'.') {
            self.pos += 1;
            segments.push(self.segment()?);
        }
        Some(Path { segments })
    }

    /// A bare identifier that is not a reserved word, or a non-empty back-quoted label.
    fn segment(&mut self) -> Option<Segment> {
        let start = self.pos;
        if self.peek() == Some(b'`') {
            let n = self.b[self.pos + 1..]
                .iter()
                .take_while(|&&c| !matches!(c, b'`' | b'\n' | b'\r'))
                .count();
            if n == 0 || self.peek_at(n + 1) != Some(b'`') {
                return None;
            }
            self.bump(n + 2);
            return Some(Segment {
                name: self.text(start + 1, start + 1 + n).into(),
                span: Span::new(start, self.pos),
            });
        }
        let n = self.ident_len();
        if n == 0 || is_reserved(&self.b[self.pos..self.pos + n]) {
            return None;
        }
        self.bump(n);
        Some(Segment {
            name: self.text(start, self.pos).into(),
            span: Span::new(start, self.pos),
        })
    }

    /// `[a, b]` (a trailing comma allowed). Pest reads a plain string or number followed by `,`
    /// or `]` as itself and anything else as an expression; both come out as what [`Self::expr`]
    /// reads, with the same spans.
    fn list(&mut self) -> Option<ExprKind> {
        self.bump(1);
        self.trivia();
        // Room for a typical list (country codes, picklist values) without growing.
        let mut items = Vec::with_capacity(8);
        while !self.eat_byte(b']') {
            items.push(self.expr()?);
            if items.len() > MAX_LIST_LEN {
                return None;
            }
            self.trivia();
            if self.eat_byte(b',') {
                self.trivia();
            } else if self.peek() != Some(b']') {
                return None;
            }
        }
        Some(ExprKind::List(items))
    }

    /// The length of a `number` token at the current position (`-`? digits, `_`, an optional
    /// fraction, then no identifier byte), or `None`.
    fn number_len(&self) -> Option<usize> {
        let b = self.b.get(self.pos..)?;
        let mut i = usize::from(b.first() == Some(&b'-'));
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let digits = |i: usize| {
            i + b[i..]
                .iter()
                .take_while(|c| c.is_ascii_digit() || **c == b'_')
                .count()
        };
        i = digits(i + 1);
        if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i = digits(i + 2);
        }
        if b.get(i).copied().is_some_and(ident_char) {
            return None;
        }
        Some(i)
    }

    /// The length of the `at_literal` (`@` and date characters) at the current `@`.
    fn at_literal_len(&self) -> usize {
        1 + self.b[self.pos + 1..]
            .iter()
            .take_while(|&&c| c.is_ascii_alphanumeric() || b"-:.+".contains(&c))
            .count()
    }

    /// A `duration` (tried first, as in the grammar's `literal`) or a `number`.
    fn number_or_duration(&mut self) -> Option<Literal> {
        let b = &self.b[self.pos..];
        if b.first().is_some_and(u8::is_ascii_digit) {
            let digits = b
                .iter()
                .take_while(|c| c.is_ascii_digit() || **c == b'_')
                .count();
            if matches!(b.get(digits), Some(b'd' | b'h' | b'm' | b'w'))
                && !b.get(digits + 1).copied().is_some_and(ident_char)
            {
                let value = duration_value(self.text(self.pos, self.pos + digits + 1))?;
                self.bump(digits + 1);
                return Some(value);
            }
        }
        let n = self.number_len()?;
        let value = number_value(self.text(self.pos, self.pos + n))?;
        self.bump(n);
        Some(value)
    }

    /// A double-quoted string, which must come next.
    fn quoted(&mut self) -> Option<StrLit> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.string()
    }

    /// A double-quoted string whose escapes decode without a diagnostic.
    fn string(&mut self) -> Option<StrLit> {
        let start = self.pos;
        let value = self.string_value()?.into_owned();
        Some(StrLit {
            value,
            span: Span::new(start, self.pos),
        })
    }

    /// The decoded text of the string literal at the cursor, borrowed from the source when it
    /// has no escape (a condition's literal is then stored without a copy on the heap).
    fn string_value(&mut self) -> Option<std::borrow::Cow<'s, str>> {
        let start = self.pos;
        let body_start = start + 1;
        let mut i = body_start;
        let mut escaped = false;
        loop {
            match self.b.get(i)? {
                b'"' => break,
                b'\n' | b'\r' => return None,
                b'\\' => {
                    escaped = true;
                    if matches!(self.b.get(i + 1), None | Some(b'\n' | b'\r')) {
                        return None;
                    }
                    // The escaped character may be multi-byte: step over it whole.
                    let ch_len = self.text(i + 1, self.b.len()).chars().next()?.len_utf8();
                    i += 1 + ch_len;
                }
                _ => i += 1,
            }
        }
        let body = self.text(body_start, i);
        let value = if escaped {
            let mut diags = Vec::new();
            let v = unescape(body, body_start, &mut diags);
            if !diags.is_empty() {
                return None;
            }
            std::borrow::Cow::Owned(v)
        } else {
            std::borrow::Cow::Borrowed(body)
        };
        self.bump(i + 1 - start);
        Some(value)
    }

    // -----------------------------------------------------------------------------------------
    // Rule files
    // -----------------------------------------------------------------------------------------

    /// After `schema`: a name, then `from "file"` or a body of fields.
    fn schema_block(&mut self) -> Option<SchemaDecl> {
        let start = self.last - b"schema".len();
        self.trivia();
        let name = self.ident()?;
        self.trivia();
        let body = if self.eat_kw(b"from") {
            self.trivia();
            SchemaBody::File(self.quoted()?)
        } else if self.peek() == Some(b'{') {
            SchemaBody::Fields(self.schema_body()?)
        } else {
            return None;
        };
        Some(SchemaDecl {
            name,
            body,
            span: Span::new(start, self.last),
        })
    }

    /// `{ field type ... }`
    fn schema_body(&mut self) -> Option<Vec<FieldDecl>> {
        self.bump(1);
        let mut fields = Vec::new();
        loop {
            self.trivia();
            if self.eat_byte(b'}') {
                return Some(fields);
            }
            fields.push(self.field_decl()?);
        }
    }

    fn field_decl(&mut self) -> Option<FieldDecl> {
        let start = self.pos;
        let name = if self.peek() == Some(b'`') {
            let n = self.b[self.pos + 1..]
                .iter()
                .take_while(|&&c| !matches!(c, b'`' | b'\n' | b'\r'))
                .count();
            if self.peek_at(n + 1) != Some(b'`') {
                return None;
            }
            self.bump(n + 2);
            self.text(start + 1, start + 1 + n).to_string()
        } else {
            self.ident()?.name
        };
        let name = Segment {
            name: name.into(),
            span: Span::new(start, self.last),
        };
        self.trivia();
        let ty_start = self.pos;
        let ty = if self.at_kw(b"picklist") || self.at_kw(b"multiselect") {
            let pick = self.eat_kw(b"picklist");
            if !pick {
                self.bump(b"multiselect".len());
            }
            self.trivia();
            let values = self.value_list()?;
            let span = Span::new(ty_start, self.last);
            if pick {
                TypeExpr::Picklist(values, span)
            } else {
                TypeExpr::Multiselect(values, span)
            }
        } else if self.eat_kw(b"object") {
            self.trivia();
            if self.peek() != Some(b'{') {
                return None;
            }
            TypeExpr::Object(self.schema_body()?)
        } else {
            TypeExpr::Named(self.ident()?)
        };
        Some(FieldDecl {
            name,
            ty,
            span: Span::new(start, self.last),
        })
    }

    /// `["a", "b"]` of plain strings (anything else is left to pest).
    fn value_list(&mut self) -> Option<Vec<StrLit>> {
        if !self.eat_byte(b'[') {
            return None;
        }
        self.trivia();
        let mut values = Vec::new();
        while !self.eat_byte(b']') {
            values.push(self.quoted()?);
            self.trivia();
            if self.eat_byte(b',') {
                self.trivia();
            } else if self.peek() != Some(b']') {
                return None;
            }
        }
        Some(values)
    }

    /// After `portal`: a name and a block of portal lines.
    fn portal_block(&mut self) -> Option<PortalDecl> {
        let (name, items, span) = self.named_block(b"portal", Self::portal_item)?;
        Some(PortalDecl { name, items, span })
    }

    /// After a block keyword (`portal`, `test`): a quoted name, then `{`, items and `}`. The
    /// span runs from the keyword to the closing brace.
    fn named_block<T>(
        &mut self,
        keyword: &[u8],
        item: fn(&mut Self) -> Option<T>,
    ) -> Option<(StrLit, Vec<T>, Span)> {
        let start = self.last - keyword.len();
        self.trivia();
        let name = self.quoted()?;
        self.trivia();
        if !self.eat_byte(b'{') {
            return None;
        }
        let mut items = Vec::new();
        loop {
            self.trivia();
            if self.eat_byte(b'}') {
                return Some((name, items, Span::new(start, self.last)));
            }
            items.push(item(self)?);
        }
    }

    fn portal_item(&mut self) -> Option<PortalItem> {
        let start = self.pos;
        let span = |r: &Reader<'_>| Span::new(start, r.last);
        Some(if self.eat_kw(b"records") {
            self.trivia();
            let name = self.ident()?;
            PortalItem::Records(name, span(self))
        } else if self.eat_kw(b"identity") {
            let mut paths = Vec::new();
            loop {
                self.trivia();
                paths.push(self.path()?);
                self.trivia();
                if !self.eat_byte(b',') {
                    break;
                }
            }
            PortalItem::Identity(paths, span(self))
        } else if self.eat_kw(b"from") {
            self.trivia();
            if !self.eat_kw(b"group") {
                return None;
            }
            self.trivia();
            let group = self.quoted()?;
            PortalItem::FromGroup(group, span(self))
        } else if self.eat_kw(b"status") {
            self.trivia();
            let status = self.ident()?;
            PortalItem::Status(status, span(self))
        } else if self.eat_kw(b"on") {
            let mut events = Vec::new();
            loop {
                self.trivia();
                events.push(self.ident()?);
                self.trivia();
                if !self.eat_byte(b',') {
                    break;
                }
            }
            PortalItem::On(events, span(self))
        } else if self.eat_kw(b"require") {
            self.trivia();
            let e = self.expr()?;
            PortalItem::Require(e, span(self))
        } else if self.eat_kw(b"invite") {
            self.trivia();
            let language = self.quoted()?;
            self.trivia();
            let when = if self.eat_kw(b"when") {
                self.trivia();
                InviteWhen::When(self.expr()?)
            } else if self.at_kw(b"otherwise") {
                let at = self.pos;
                self.bump(b"otherwise".len());
                InviteWhen::Otherwise(Span::new(at, self.pos))
            } else {
                InviteWhen::Always
            };
            PortalItem::Invite(InviteDecl {
                language,
                when,
                span: span(self),
            })
        } else {
            // An unknown key (reported by the checker from pest's `unknown_item`) or an error.
            return None;
        })
    }

    /// After `test`: a name and a block of test lines.
    fn test_block(&mut self) -> Option<TestDecl> {
        let (name, items, span) = self.named_block(b"test", Self::test_item)?;
        Some(TestDecl { name, items, span })
    }

    fn test_item(&mut self) -> Option<TestItem> {
        let start = self.pos;
        Some(if self.eat_kw(b"record") {
            self.trivia();
            let obj_start = self.pos;
            let n = json_object_len(&self.b[self.pos..])?;
            self.bump(n);
            TestItem::Record(
                self.text(obj_start, self.pos).to_string(),
                Span::new(obj_start, self.pos),
            )
        } else if self.eat_kw(b"event") {
            self.trivia();
            let kind = self.ident()?;
            TestItem::Event(kind, Span::new(start, self.last))
        } else if self.eat_kw(b"now") {
            self.trivia();
            let at = self.pos;
            if self.peek() != Some(b'@') {
                return None;
            }
            let n = self.at_literal_len();
            self.bump(n);
            TestItem::Now(self.text(at, self.pos).to_string(), Span::new(at, self.pos))
        } else if self.eat_kw(b"expect") {
            self.trivia();
            let portal = self.quoted()?;
            self.trivia();
            let outcome = if self.eat_lit(b"invites") {
                self.trivia();
                ExpectedOutcome::Invites(self.quoted()?)
            } else if self.eat_lit(b"does") {
                self.trivia();
                if !self.eat_kw(b"not") {
                    return None;
                }
                self.trivia();
                if !self.eat_lit(b"invite") {
                    return None;
                }
                let after = (self.pos, self.last);
                self.trivia();
                if self.eat_lit(b"because") {
                    self.trivia();
                    Some(ExpectedOutcome::DoesNotInvite(Some(self.reason()?)))
                } else {
                    (self.pos, self.last) = after;
                    Some(ExpectedOutcome::DoesNotInvite(None))
                }?
            } else if self.eat_lit(b"fails") {
                self.trivia();
                ExpectedOutcome::Fails(self.reason()?)
            } else {
                return None;
            };
            TestItem::Expect(Expectation { portal, outcome }, Span::new(start, self.last))
        } else {
            return None;
        })
    }

    /// `reason = @{ ASCII_ALPHA ~ (ASCII_ALPHANUMERIC | "-")* }`
    fn reason(&mut self) -> Option<Ident> {
        if !self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        let start = self.pos;
        let n = 1 + self.b[self.pos + 1..]
            .iter()
            .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'-')
            .count();
        self.bump(n);
        Some(Ident {
            name: self.text(start, self.pos).to_string(),
            span: Span::new(start, self.pos),
        })
    }
}

/// The length of the grammar's `json_object` at the start of `b`: brackets matched, strings
/// (with backslash escapes of any byte) skipped. `None` if it is not one.
fn json_object_len(b: &[u8]) -> Option<usize> {
    if b.first() != Some(&b'{') {
        return None;
    }
    let mut stack: Vec<u8> = vec![b'}'];
    let mut i = 1;
    while let Some(&c) = b.get(i) {
        i += 1;
        match c {
            b'{' => stack.push(b'}'),
            b'[' => stack.push(b']'),
            b'}' | b']' => {
                if stack.pop() != Some(c) {
                    return None;
                }
                if stack.is_empty() {
                    return Some(i);
                }
            }
            b'"' => loop {
                match b.get(i)? {
                    b'"' => {
                        i += 1;
                        break;
                    }
                    b'\\' => {
                        // `"\\" ~ ANY`: the next character, whatever it is.
                        b.get(i + 1)?;
                        i += 2;
                    }
                    _ => i += 1,
                }
            },
            _ => {}
        }
    }
    None
}
