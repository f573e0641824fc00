//! `herald fmt`: the one canonical layout of a rule file, keeping every comment where it was.
//!
//! The layout rules are in `docs/fmt.md`. In short: blocks are separated by one blank line and
//! indented by two spaces; portal keys are padded to one column; schema fields are aligned in two
//! columns; conditions use the spacing of [`crate::print`] and, past [`MAX_WIDTH`] columns, are
//! broken before every top-level `and` / `or`; JSON records keep the author's text. Literals,
//! field paths and names are kept as written (`1_000`, `` `Email` ``): only spacing, line breaks
//! and indentation change, so the parsed AST of the output equals the AST of the input.
//!
//! Comments are not in the AST (the grammar's `COMMENT` is silent). They are found by a small
//! scanner over the source that skips strings, back-quoted labels, JSON records and unknown
//! portal lines, and attached by byte position: a comment on a line of its own goes before the
//! next line of code, at that line's indentation; a comment after code stays at the end of that
//! line; a comment inside a line of code (a condition the author broke over several lines) keeps
//! that line broken where the author broke it.
//!
//! Every result is checked before it is returned: the output must parse to the same AST (JSON
//! records compared without the whitespace between their tokens) with the same comments in the
//! same order. A file that fails this check is reported as an error rather than rewritten.

use crate::ast::{
    ExpectedOutcome, Expr, ExprKind, FieldDecl, InviteWhen, Item, PortalDecl, PortalItem, RuleFile,
    SchemaBody, SchemaDecl, StrLit, TestDecl, TestItem, TypeExpr,
};
use crate::diagnostics::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax;

/// Lines of code longer than this many columns are broken where the layout allows: conditions
/// before their top-level `and` / `or`, list literals and picklist values between elements.
pub const MAX_WIDTH: usize = 100;

/// One level of indentation.
const INDENT: usize = 2;

/// Portal keys are padded to this width: `identity`, the longest key, and one space.
const KEY_WIDTH: usize = 9;

/// Formats a rule file. Returns the formatted text, or the diagnostics of a file that does not
/// parse (such a file is never reformatted).
///
/// A leading byte-order mark is dropped and line endings become `\n` (CRLF and lone CR
/// included); the output ends with exactly one newline (an empty file stays empty). Spans of the
/// returned diagnostics are byte offsets in `src` without its byte-order mark.
pub fn format_source(src: &str) -> Result<String, Vec<Diagnostic>> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let (ast, diags) = syntax::parse_rule_file(src);
    let ast = match ast {
        Some(ast) if !diags.iter().any(Diagnostic::is_error) => ast,
        _ => return Err(diags),
    };
    let (text, ast) = if src.contains('\r') {
        // Carriage returns are whitespace to the grammar and end comments, as newlines do, so
        // the text with `\n` line endings has the same meaning.
        let text = src.replace("\r\n", "\n").replace('\r', "\n");
        match syntax::parse_rule_file(&text) {
            (Some(ast), d) if !d.iter().any(Diagnostic::is_error) => (text, ast),
            _ => {
                return Err(vec![not_kept(
                    "the file does not parse once its line endings are `\\n`",
                )]);
            }
        }
    } else {
        (src.to_string(), ast)
    };
    let depth = syntax::nesting_depth(&text);
    let out = syntax::on_deep_stack(depth, || Formatter::new(&text, &ast).file(&ast))?;
    verify(&text, &ast, &out)?;
    Ok(out)
}

/// The diagnostic for a formatter result that would not keep the file's meaning or comments. It
/// points at the start of the file, which is left as it is.
fn not_kept(why: &str) -> Diagnostic {
    Diagnostic::error(
        Code::Syntax,
        Span::new(0, 0),
        format!("`herald fmt` cannot format this file safely: {why}"),
    )
    .with_help("the file was left unchanged; please report this as a bug of `herald fmt`")
}

/// Checks that `out` parses to the AST of `src` with the same comments in the same order.
fn verify(src: &str, ast: &RuleFile, out: &str) -> Result<(), Vec<Diagnostic>> {
    let (after, diags) = syntax::parse_rule_file(out);
    let after = match after {
        Some(a) if !diags.iter().any(Diagnostic::is_error) => a,
        _ => return Err(vec![not_kept("the formatted text does not parse")]),
    };
    if normalized(ast) != normalized(&after) {
        return Err(vec![not_kept("the formatted text does not mean the same")]);
    }
    let texts = |s: &str, a: &RuleFile| -> Vec<String> {
        scan_comments(s, &opaque_spans(a))
            .into_iter()
            .map(|c| c.text)
            .collect()
    };
    if texts(src, ast) != texts(out, &after) {
        return Err(vec![not_kept(
            "the formatted text does not keep every comment",
        )]);
    }
    Ok(())
}

/// A copy of `file` without the spans that the AST's equality compares (those of blocks and
/// lines; expressions, names and strings already compare without them), and whose JSON records
/// have no whitespace between their tokens: what formatting must keep.
fn normalized(file: &RuleFile) -> RuleFile {
    let none = Span::default();
    let mut file = file.clone();
    for item in &mut file.items {
        match item {
            Item::Schema(s) => {
                s.span = none;
                if let SchemaBody::Fields(fields) = &mut s.body {
                    erase_field_spans(fields);
                }
            }
            Item::Portal(p) => {
                p.span = none;
                for pi in &mut p.items {
                    match pi {
                        PortalItem::Records(_, s)
                        | PortalItem::Identity(_, s)
                        | PortalItem::FromGroup(_, s)
                        | PortalItem::Status(_, s)
                        | PortalItem::On(_, s)
                        | PortalItem::Unknown(_, s) => *s = none,
                        PortalItem::Require(e, s) => {
                            erase_op_spans(e);
                            *s = none;
                        }
                        PortalItem::Invite(inv) => {
                            inv.span = none;
                            match &mut inv.when {
                                InviteWhen::Otherwise(s) => *s = none,
                                InviteWhen::When(e) => erase_op_spans(e),
                                InviteWhen::Always => {}
                            }
                        }
                    }
                }
            }
            Item::Test(t) => {
                t.span = none;
                for ti in &mut t.items {
                    match ti {
                        TestItem::Record(text, s) => {
                            *text = json_without_whitespace(text);
                            *s = none;
                        }
                        TestItem::Event(_, s) | TestItem::Now(_, s) | TestItem::Expect(_, s) => {
                            *s = none;
                        }
                    }
                }
            }
        }
    }
    file
}

/// Erases the operator spans of a condition (the rest of an expression compares without
/// spans).
fn erase_op_spans(e: &mut Expr) {
    match &mut e.kind {
        ExprKind::Binary {
            op_span, lhs, rhs, ..
        } => {
            *op_span = Span::default();
            erase_op_spans(lhs);
            erase_op_spans(rhs);
        }
        ExprKind::List(items)
        | ExprKind::And(items)
        | ExprKind::Or(items)
        | ExprKind::Coalesce(items)
        | ExprKind::Call { args: items, .. } => items.iter_mut().for_each(erase_op_spans),
        ExprKind::Paren(inner) | ExprKind::Not(inner) => erase_op_spans(inner),
        ExprKind::Test { operand, .. } => erase_op_spans(operand),
        ExprKind::Offset { base, .. } => erase_op_spans(base),
        ExprKind::Literal(_) | ExprKind::Path(_) => {}
    }
}

fn erase_field_spans(fields: &mut [FieldDecl]) {
    for f in fields {
        f.span = Span::default();
        match &mut f.ty {
            TypeExpr::Picklist(_, s) | TypeExpr::Multiselect(_, s) => *s = Span::default(),
            TypeExpr::Object(inner) => erase_field_spans(inner),
            TypeExpr::Named(_) => {}
        }
    }
}

/// JSON text without the whitespace outside its strings.
fn json_without_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_str = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Comments
// ---------------------------------------------------------------------------------------------

/// A `#` comment: its byte range and its text (without trailing whitespace).
#[derive(Debug, Clone)]
struct Comment {
    start: usize,
    end: usize,
    text: String,
}

/// The spans a comment scanner must not look into: JSON records (where `#` is text) and lines
/// with an unknown portal key (kept as written, up to their trailing comment).
fn opaque_spans(file: &RuleFile) -> Vec<Span> {
    let mut spans = Vec::new();
    for item in &file.items {
        match item {
            Item::Test(t) => {
                for ti in &t.items {
                    if let TestItem::Record(_, span) = ti {
                        spans.push(*span);
                    }
                }
            }
            Item::Portal(p) => {
                for pi in &p.items {
                    if let PortalItem::Unknown(key, span) = pi {
                        spans.push(Span::new(key.span.start, span.end));
                    }
                }
            }
            Item::Schema(_) => {}
        }
    }
    spans.sort();
    spans
}

/// Every comment of `src`, in order. Strings and back-quoted labels end at their closing quote
/// or at the end of the line (the grammar does not let them span lines); `opaque` spans are
/// skipped whole.
fn scan_comments(src: &str, opaque: &[Span]) -> Vec<Comment> {
    let b = src.as_bytes();
    let mut comments = Vec::new();
    let mut pos = 0;
    let mut k = 0;
    while let Some(&c) = b.get(pos) {
        if let Some(o) = opaque.get(k) {
            if pos >= o.start {
                pos = pos.max(o.end);
                k += 1;
                continue;
            }
        }
        match c {
            b'"' | b'`' => {
                pos += 1;
                while let Some(&d) = b.get(pos) {
                    if d == b'\n' || d == b'\r' {
                        break;
                    }
                    pos += 1;
                    if d == c {
                        break;
                    }
                    if d == b'\\' && c == b'"' {
                        pos += 1;
                    }
                }
            }
            b'#' => {
                let start = pos;
                while b.get(pos).is_some_and(|&d| d != b'\n' && d != b'\r') {
                    pos += 1;
                }
                let text = src.get(start..pos).unwrap_or("").trim_end().to_string();
                comments.push(Comment {
                    start,
                    end: pos,
                    text,
                });
            }
            _ => pos += 1,
        }
    }
    comments
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

/// One token of the output and where it is in the source.
#[derive(Debug, Clone)]
struct Tok {
    /// The text printed: as written for names and literals, canonical for keywords.
    text: String,
    /// Byte range in the source.
    start: usize,
    end: usize,
    /// Spaces before it when it follows another token on the same line.
    space: usize,
    /// For a JSON record: the column of its `{` and the indentation of its line, in the source
    /// (its other lines move with one or the other).
    json_at: Option<(usize, usize)>,
}

/// Produces the tokens of AST nodes in source order. In scanning mode it finds each keyword and
/// punctuation token in the source after the previous token (only whitespace and comments lie
/// between two tokens), so that comments and the author's line breaks can be placed between
/// tokens. Without scanning it only produces text, to print a sub-condition on one line.
struct Toks<'s> {
    src: &'s str,
    scan: bool,
    /// End of the last token, in the source.
    cursor: usize,
    out: Vec<Tok>,
    /// False once a token was not where the AST says it is (a bug; the file is then not
    /// formatted).
    ok: bool,
}

impl<'s> Toks<'s> {
    fn push(&mut self, text: &str, start: usize, end: usize, space: usize) {
        self.out.push(Tok {
            text: text.to_string(),
            start,
            end,
            space,
            json_at: None,
        });
    }

    /// A keyword or punctuation token: the next token in the source, which must be `word`.
    fn word(&mut self, word: &str, space: usize) {
        if !self.scan {
            self.push(word, 0, 0, space);
            return;
        }
        let start = syntax::skip_trivia(self.src, self.cursor);
        let end = start + word.len();
        if self.src.get(start..end) != Some(word) {
            self.ok = false;
        }
        self.cursor = end;
        self.push(word, start, end, space);
    }

    /// The token `text` at byte `pos` (a bracket whose place the AST gives).
    fn at(&mut self, pos: usize, text: &str, space: usize) {
        let end = pos + text.len();
        if self.scan && (pos < self.cursor || self.src.get(pos..end) != Some(text)) {
            self.ok = false;
        }
        self.cursor = self.cursor.max(end);
        self.push(text, pos, end, space);
    }

    /// A token printed as written: a name, a literal, a path.
    fn span(&mut self, span: Span, space: usize) {
        let text = self.src.get(span.start..span.end).unwrap_or("");
        if text.is_empty() || (self.scan && span.start < self.cursor) {
            self.ok = false;
        }
        self.cursor = self.cursor.max(span.end);
        let text = text.to_string();
        self.push(&text, span.start, span.end, space);
    }

    /// A JSON record: one token, possibly over several lines.
    fn json(&mut self, span: Span, space: usize) {
        let line_start = self
            .src
            .get(..span.start)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |i| i + 1);
        let before = self.src.get(line_start..span.start).unwrap_or("");
        let col = width(before);
        let line_indent = width(before) - width(before.trim_start_matches([' ', '\t']));
        self.span(span, space);
        if let Some(t) = self.out.last_mut() {
            t.json_at = Some((col, line_indent));
        }
    }

    /// The tokens of a condition, with the spacing of [`crate::print`].
    fn expr(&mut self, e: &Expr, space: usize) {
        match &e.kind {
            ExprKind::Literal(_) | ExprKind::Path(_) => self.span(e.span, space),
            ExprKind::List(items) => {
                self.at(e.span.start, "[", space);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.word(",", 0);
                    }
                    self.expr(item, usize::from(i > 0));
                }
                // A trailing comma is dropped.
                self.at(e.span.end.saturating_sub(1), "]", 0);
            }
            ExprKind::Call { name, args } => {
                self.span(name.span, space);
                self.word("(", 0);
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        self.word(",", 0);
                    }
                    self.expr(a, usize::from(i > 0));
                }
                self.at(e.span.end.saturating_sub(1), ")", 0);
            }
            ExprKind::Paren(inner) => {
                self.at(e.span.start, "(", space);
                self.expr(inner, 0);
                self.at(e.span.end.saturating_sub(1), ")", 0);
            }
            ExprKind::Not(inner) => {
                self.word("not", space);
                self.expr(inner, 1);
            }
            ExprKind::And(items) | ExprKind::Or(items) => {
                let op = if matches!(e.kind, ExprKind::And(_)) {
                    "and"
                } else {
                    "or"
                };
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.word(op, 1);
                    }
                    self.expr(item, if i == 0 { space } else { 1 });
                }
            }
            ExprKind::Binary { op, lhs, rhs, .. } => {
                self.expr(lhs, space);
                for w in op.as_str().split(' ') {
                    self.word(w, 1);
                }
                self.expr(rhs, 1);
            }
            ExprKind::Test { test, operand } => {
                self.expr(operand, space);
                for w in test.as_str().split(' ') {
                    self.word(w, 1);
                }
            }
            ExprKind::Coalesce(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.word("??", 1);
                    }
                    self.expr(item, if i == 0 { space } else { 1 });
                }
            }
            ExprKind::Offset { base, terms } => {
                self.expr(base, space);
                for t in terms {
                    self.word(if t.minus { "-" } else { "+" }, 1);
                    self.span(t.span, 1);
                }
            }
        }
    }
}

/// Tokens on one line.
fn join(toks: &[Tok]) -> String {
    let mut out = String::new();
    for (i, t) in toks.iter().enumerate() {
        if i > 0 {
            push_spaces(&mut out, t.space);
        }
        out.push_str(&t.text);
    }
    out
}

/// Width in columns (characters).
fn width(s: &str) -> usize {
    s.chars().count()
}

fn push_spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn spaces(n: usize) -> String {
    " ".repeat(n)
}

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

/// One output line: code (with its indentation) and an optional trailing comment.
#[derive(Debug, Clone)]
struct Line {
    code: String,
    comment: Option<String>,
    /// True for a comment on a line of its own (then `code` holds it).
    own_comment: bool,
}

impl Line {
    /// A line of code, or a blank line when `code` is empty.
    fn code(code: String) -> Line {
        Line {
            code,
            comment: None,
            own_comment: false,
        }
    }

    /// A comment on a line of its own, indented.
    fn comment(indent: usize, text: &str) -> Line {
        Line {
            code: format!("{}{text}", spaces(indent)),
            comment: None,
            own_comment: true,
        }
    }

    /// True for a line that holds code (and perhaps a trailing comment).
    fn is_code(&self) -> bool {
        !self.own_comment && !self.code.is_empty()
    }
}

/// Whether a blank line goes before the next line of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// Never (the first line of a block, a closing brace).
    Never,
    /// When the source has one (at most one is kept).
    Keep,
    /// Always (between top-level blocks).
    Always,
}

/// How a line of code is laid out when it holds no comment.
#[derive(Debug, Clone, Copy)]
enum Shape<'a> {
    /// All tokens on one line (a JSON record keeps its lines).
    Flat,
    /// The tokens before index `at` on one line, then the condition from token `at` on,
    /// broken past [`MAX_WIDTH`].
    Cond(usize, &'a Expr),
    /// The tokens before index `at` on one line, then the picklist values from token `at` on,
    /// filled up to [`MAX_WIDTH`].
    Values(usize, &'a [StrLit]),
}

struct Formatter<'s> {
    src: &'s str,
    comments: Vec<Comment>,
    /// The first comment not yet printed.
    next: usize,
    toks: Toks<'s>,
    lines: Vec<Line>,
    /// Source end of the last thing printed (token or comment): blank lines are counted from it.
    last_end: usize,
    /// Source end of the last token printed.
    last_tok_end: usize,
    /// True while the last output line is code that a comment on the same source line may
    /// follow.
    trail_ok: bool,
}

impl<'s> Formatter<'s> {
    fn new(src: &'s str, file: &RuleFile) -> Formatter<'s> {
        Formatter {
            src,
            comments: scan_comments(src, &opaque_spans(file)),
            next: 0,
            toks: Toks {
                src,
                scan: true,
                cursor: 0,
                out: Vec::new(),
                ok: true,
            },
            lines: Vec::new(),
            last_end: 0,
            last_tok_end: 0,
            trail_ok: false,
        }
    }

    fn file(mut self, file: &RuleFile) -> Result<String, Vec<Diagnostic>> {
        for item in &file.items {
            match item {
                Item::Schema(s) => self.schema(s),
                Item::Portal(p) => self.portal(p),
                Item::Test(t) => self.test(t),
            }
        }
        // Comments after the last block.
        self.leading(usize::MAX, 0, Sep::Keep);
        if !self.toks.ok || self.next != self.comments.len() {
            return Err(vec![not_kept("a token is not where the syntax tree says")]);
        }
        Ok(render_lines(&self.lines))
    }

    // -----------------------------------------------------------------------------------------
    // Blocks
    // -----------------------------------------------------------------------------------------

    fn schema(&mut self, s: &SchemaDecl) {
        self.toks.word("schema", 0);
        self.toks.span(s.name.span, 1);
        match &s.body {
            SchemaBody::File(path) => {
                self.toks.word("from", 1);
                self.toks.span(path.span, 1);
                self.unit(0, INDENT, Sep::Always, Shape::Flat);
            }
            SchemaBody::Fields(fields) => {
                self.toks.word("{", 1);
                self.unit(0, INDENT, Sep::Always, Shape::Flat);
                let type_col = self.type_col(fields, INDENT);
                let sep = self.fields(fields, INDENT, type_col);
                self.close(s.span.end.saturating_sub(1), 0, sep);
            }
        }
    }

    /// The column where the types of `fields` (declared at `indent`) and of their nested objects
    /// start: two columns after the longest name, nested names counted with their indentation.
    fn type_col(&self, fields: &[FieldDecl], indent: usize) -> usize {
        fields
            .iter()
            .map(|f| {
                let name = self
                    .src
                    .get(f.name.span.start..f.name.span.end)
                    .unwrap_or("");
                let own = indent + width(name) + 2;
                match &f.ty {
                    TypeExpr::Object(inner) => own.max(self.type_col(inner, indent + INDENT)),
                    _ => own,
                }
            })
            .max()
            .unwrap_or(0)
    }

    /// Field declarations in two columns, names padded so that types start at `type_col` (one
    /// column for a schema and its nested objects). Returns the separator for what follows the
    /// last field.
    fn fields(&mut self, fields: &[FieldDecl], indent: usize, type_col: usize) -> Sep {
        let mut sep = Sep::Never;
        for f in fields {
            self.toks.span(f.name.span, 0);
            let name = self
                .src
                .get(f.name.span.start..f.name.span.end)
                .unwrap_or("");
            let pad = type_col.saturating_sub(indent + width(name)).max(2);
            let cont = indent + width(name) + pad;
            match &f.ty {
                TypeExpr::Named(ty) => {
                    self.toks.span(ty.span, pad);
                    self.unit(indent, cont, sep, Shape::Flat);
                }
                TypeExpr::Picklist(values, span) | TypeExpr::Multiselect(values, span) => {
                    let word = if matches!(f.ty, TypeExpr::Picklist(..)) {
                        "picklist"
                    } else {
                        "multiselect"
                    };
                    self.toks.word(word, pad);
                    let at = self.toks.out.len();
                    self.toks.word("[", 1);
                    for (i, v) in values.iter().enumerate() {
                        if i > 0 {
                            self.toks.word(",", 0);
                        }
                        self.toks.span(v.span, usize::from(i > 0));
                    }
                    self.toks.at(span.end.saturating_sub(1), "]", 0);
                    self.unit(indent, cont, sep, Shape::Values(at, values));
                }
                TypeExpr::Object(inner) => {
                    self.toks.word("object", pad);
                    self.toks.word("{", 1);
                    self.unit(indent, cont, sep, Shape::Flat);
                    let inner_sep = self.fields(inner, indent + INDENT, type_col);
                    self.close(f.span.end.saturating_sub(1), indent, inner_sep);
                }
            }
            sep = Sep::Keep;
        }
        sep
    }

    fn portal(&mut self, p: &PortalDecl) {
        self.toks.word("portal", 0);
        self.toks.span(p.name.span, 1);
        self.toks.word("{", 1);
        self.unit(0, INDENT, Sep::Always, Shape::Flat);
        let mut sep = Sep::Never;
        for item in &p.items {
            self.portal_item(item, INDENT, sep);
            sep = Sep::Keep;
        }
        self.close(p.span.end.saturating_sub(1), 0, sep);
    }

    fn portal_item(&mut self, item: &PortalItem, indent: usize, sep: Sep) {
        let pad = |key: &str| KEY_WIDTH.saturating_sub(key.len()).max(1);
        let value_col = indent + KEY_WIDTH;
        match item {
            PortalItem::Records(name, _) => {
                self.toks.word("records", 0);
                self.toks.span(name.span, pad("records"));
                self.unit(indent, value_col, sep, Shape::Flat);
            }
            PortalItem::Identity(paths, _) => {
                self.toks.word("identity", 0);
                for (i, p) in paths.iter().enumerate() {
                    if i > 0 {
                        self.toks.word(",", 0);
                    }
                    self.toks
                        .span(p.span(), if i == 0 { pad("identity") } else { 1 });
                }
                self.unit(indent, value_col, sep, Shape::Flat);
            }
            PortalItem::FromGroup(group, _) => {
                self.toks.word("from", 0);
                self.toks.word("group", pad("from"));
                self.toks.span(group.span, 1);
                self.unit(indent, value_col, sep, Shape::Flat);
            }
            PortalItem::Status(status, _) => {
                self.toks.word("status", 0);
                self.toks.span(status.span, pad("status"));
                self.unit(indent, value_col, sep, Shape::Flat);
            }
            PortalItem::On(events, _) => {
                self.toks.word("on", 0);
                for (i, e) in events.iter().enumerate() {
                    if i > 0 {
                        self.toks.word(",", 0);
                    }
                    self.toks.span(e.span, if i == 0 { pad("on") } else { 1 });
                }
                self.unit(indent, value_col, sep, Shape::Flat);
            }
            PortalItem::Require(cond, _) => {
                self.toks.word("require", 0);
                let at = self.toks.out.len();
                self.toks.expr(cond, pad("require"));
                self.cond_unit(indent, sep, at, cond);
            }
            PortalItem::Invite(invite) => {
                self.toks.word("invite", 0);
                self.toks.span(invite.language.span, 1);
                match &invite.when {
                    InviteWhen::Always => self.unit(indent, value_col, sep, Shape::Flat),
                    InviteWhen::Otherwise(span) => {
                        self.toks.span(*span, 1);
                        self.unit(indent, value_col, sep, Shape::Flat);
                    }
                    InviteWhen::When(cond) => {
                        self.toks.word("when", 1);
                        let at = self.toks.out.len();
                        self.toks.expr(cond, 1);
                        self.cond_unit(indent, sep, at, cond);
                    }
                }
            }
            PortalItem::Unknown(key, span) => {
                // Kept as written: the checker reports it (`unknown-key`).
                self.toks.span(key.span, 0);
                let rest = self.src.get(key.span.end..span.end).unwrap_or("");
                let trimmed = rest.trim();
                if !trimmed.is_empty() {
                    let start = key.span.end + (rest.len() - rest.trim_start().len());
                    let end = start + trimmed.len();
                    let text = trimmed.to_string();
                    self.toks.push(&text, start, end, pad(&key.name));
                    self.toks.cursor = end;
                }
                self.unit(indent, value_col, sep, Shape::Flat);
            }
        }
    }

    /// A line whose tokens from `at` on are a condition, which continues under its start.
    fn cond_unit(&mut self, indent: usize, sep: Sep, at: usize, cond: &Expr) {
        let cont = indent
            + width(&join(self.toks.out.get(..at).unwrap_or(&[])))
            + self.toks.out.get(at).map_or(1, |t| t.space);
        self.unit(indent, cont, sep, Shape::Cond(at, cond));
    }

    fn test(&mut self, t: &TestDecl) {
        self.toks.word("test", 0);
        self.toks.span(t.name.span, 1);
        self.toks.word("{", 1);
        self.unit(0, INDENT, Sep::Always, Shape::Flat);
        let indent = INDENT;
        let mut sep = Sep::Never;
        for item in &t.items {
            match item {
                TestItem::Record(_, span) => {
                    self.toks.word("record", 0);
                    self.toks.json(*span, 1);
                    self.unit(indent, indent + "record ".len(), sep, Shape::Flat);
                }
                TestItem::Event(kind, _) => {
                    self.toks.word("event", 0);
                    self.toks.span(kind.span, 1);
                    self.unit(indent, indent + "event ".len(), sep, Shape::Flat);
                }
                TestItem::Now(_, span) => {
                    self.toks.word("now", 0);
                    self.toks.span(*span, 1);
                    self.unit(indent, indent + "now ".len(), sep, Shape::Flat);
                }
                TestItem::Expect(exp, _) => {
                    self.toks.word("expect", 0);
                    self.toks.span(exp.portal.span, 1);
                    match &exp.outcome {
                        ExpectedOutcome::Invites(lang) => {
                            self.toks.word("invites", 1);
                            self.toks.span(lang.span, 1);
                        }
                        ExpectedOutcome::DoesNotInvite(reason) => {
                            for w in ["does", "not", "invite"] {
                                self.toks.word(w, 1);
                            }
                            if let Some(r) = reason {
                                self.toks.word("because", 1);
                                self.toks.span(r.span, 1);
                            }
                        }
                        ExpectedOutcome::Fails(r) => {
                            self.toks.word("fails", 1);
                            self.toks.span(r.span, 1);
                        }
                    }
                    self.unit(indent, indent + "expect ".len(), sep, Shape::Flat);
                }
            }
            sep = Sep::Keep;
        }
        self.close(t.span.end.saturating_sub(1), 0, sep);
    }

    /// The `}` at `pos` closing a block indented by `indent`; comments before it are indented
    /// like the block's lines.
    fn close(&mut self, pos: usize, indent: usize, sep: Sep) {
        self.toks.at(pos, "}", 0);
        self.leading(pos, indent + INDENT, sep);
        self.unit(indent, indent, Sep::Never, Shape::Flat);
    }

    // -----------------------------------------------------------------------------------------
    // Lines
    // -----------------------------------------------------------------------------------------

    /// Prints the comments that come before byte `before`: the first one, when it is on the
    /// same source line as the last token printed, at the end of that line; the others on lines
    /// of their own at `indent`. Returns the separator for the next line.
    fn leading(&mut self, before: usize, indent: usize, mut sep: Sep) -> Sep {
        while let Some(c) = self
            .comments
            .get(self.next)
            .filter(|c| c.start < before)
            .cloned()
        {
            self.next += 1;
            let same_line = self.trail_ok
                && !self
                    .src
                    .get(self.last_tok_end..c.start)
                    .unwrap_or("\n")
                    .contains('\n');
            self.trail_ok = false;
            if same_line {
                if let Some(line) = self.lines.last_mut().filter(|l| l.comment.is_none()) {
                    line.comment = Some(c.text);
                    self.last_end = c.end;
                    continue;
                }
            }
            self.blank(c.start, sep);
            self.lines.push(Line::comment(indent, &c.text));
            self.last_end = c.end;
            sep = Sep::Keep;
        }
        sep
    }

    /// A blank line before the thing at `start`, as `sep` says.
    fn blank(&mut self, start: usize, sep: Sep) {
        if self.lines.is_empty() {
            return;
        }
        let blank = match sep {
            Sep::Never => false,
            Sep::Always => true,
            Sep::Keep => {
                self.src
                    .get(self.last_end..start)
                    .unwrap_or("")
                    .matches('\n')
                    .count()
                    >= 2
            }
        };
        if blank {
            self.lines.push(Line::code(String::new()));
        }
    }

    /// Prints the tokens collected since the last line of code as one line of code (or more, for
    /// a long condition, a JSON record or a line with comments inside), with the comments before
    /// it. `cont` is the column of continuation lines.
    fn unit(&mut self, indent: usize, cont: usize, sep: Sep, shape: Shape<'_>) {
        let toks = std::mem::take(&mut self.toks.out);
        let (Some(first), Some(last)) = (toks.first(), toks.last()) else {
            return;
        };
        let (start, end) = (first.start, last.end);
        let sep = self.leading(start, indent, sep);
        self.blank(start, sep);
        let mut inside = Vec::new();
        while let Some(c) = self.comments.get(self.next).filter(|c| c.start < end) {
            inside.push(c.clone());
            self.next += 1;
        }
        let lines = if inside.is_empty() {
            self.canonical(&toks, indent, cont, shape)
        } else {
            self.as_broken(&toks, indent, cont, &inside, true)
        };
        self.lines.extend(lines);
        self.last_end = end;
        self.last_tok_end = end;
        self.trail_ok = true;
    }

    /// The canonical lines of a line of code without comments.
    fn canonical(&self, toks: &[Tok], indent: usize, cont: usize, shape: Shape<'_>) -> Vec<Line> {
        let at = match shape {
            Shape::Flat => return self.as_broken(toks, indent, cont, &[], false),
            Shape::Cond(at, _) | Shape::Values(at, _) => at,
        };
        let head = join(toks.get(..at).unwrap_or(&[]));
        let space = toks.get(at).map_or(1, |t| t.space);
        let col = indent + width(&head) + space;
        let body = match shape {
            Shape::Values(_, values) => {
                let items = values
                    .iter()
                    .map(|v| {
                        self.src
                            .get(v.span.start..v.span.end)
                            .unwrap_or("")
                            .to_string()
                    })
                    .collect::<Vec<_>>();
                fill_list("", &items, col, 0)
            }
            Shape::Cond(_, cond) => self.layout(cond, col, 0),
            Shape::Flat => Vec::new(),
        };
        let mut lines = Vec::with_capacity(body.len());
        for (i, l) in body.into_iter().enumerate() {
            if i == 0 {
                lines.push(Line::code(format!(
                    "{}{head}{}{l}",
                    spaces(indent),
                    spaces(space)
                )));
            } else {
                lines.push(Line::code(l));
            }
        }
        lines
    }

    /// Tokens laid out as in the source: with `breaks`, a line break wherever the source has one
    /// between two tokens (and after every comment), continuation lines at `cont` or under the
    /// innermost open bracket; without, on one line. Comments go where they are in the source.
    fn as_broken(
        &self,
        toks: &[Tok],
        indent: usize,
        cont: usize,
        comments: &[Comment],
        breaks: bool,
    ) -> Vec<Line> {
        let mut lines = Vec::new();
        let mut cur: Option<String> = None;
        let mut col = 0;
        // The indentation of the current line.
        let mut cur_indent = indent;
        let mut opens: Vec<Open> = Vec::new();
        let mut ci = 0;
        for (i, t) in toks.iter().enumerate() {
            let closer = t.text == ")" || t.text == "]";
            let prev = i.checked_sub(1).and_then(|p| toks.get(p));
            let prev_end = prev.map_or(0, |p| p.end);
            let newline = i > 0
                && ((breaks && self.has_newline(prev_end, t.start))
                    || comments.get(ci).is_some_and(|c| c.start < t.start));
            if newline && prev.is_some_and(|p| p.text == "(" || p.text == "[") {
                // The bracket ends its line: its contents hang one level in.
                if let Some(open) = opens.last_mut() {
                    open.hanging = true;
                }
            }
            let line_indent = match opens.last() {
                _ if i == 0 => indent,
                None => cont,
                Some(o) if o.hanging => o.base + if closer { 0 } else { INDENT },
                Some(o) => o.col + usize::from(!closer),
            };
            while let Some(c) = comments.get(ci).filter(|c| c.start < t.start) {
                ci += 1;
                let same_line = !self.has_newline(prev_end, c.start);
                match cur.take() {
                    Some(code) if same_line => lines.push(Line {
                        code,
                        comment: Some(c.text.clone()),
                        own_comment: false,
                    }),
                    other => {
                        lines.extend(other.map(Line::code));
                        lines.push(Line::comment(line_indent, &c.text));
                    }
                }
            }
            if newline {
                lines.extend(cur.take().map(Line::code));
            }
            match cur.as_mut() {
                Some(line) => {
                    push_spaces(line, t.space);
                    col += t.space;
                }
                None => {
                    col = line_indent;
                    cur_indent = line_indent;
                    cur = Some(spaces(line_indent));
                }
            }
            let line = cur.get_or_insert_with(String::new);
            match t.json_at {
                Some((src_col, src_indent)) => {
                    let moves = Moves {
                        brace: col as isize - src_col as isize,
                        line: cur_indent as isize - src_indent as isize,
                        src_col,
                    };
                    let mut json = reindent_json(&t.text, moves).into_iter();
                    if let Some(first) = json.next() {
                        line.push_str(&first);
                    }
                    for next in json {
                        lines.extend(cur.take().map(Line::code));
                        cur = Some(next);
                    }
                    col = cur.as_deref().map_or(0, width);
                }
                None => {
                    line.push_str(&t.text);
                    col += width(&t.text);
                }
            }
            if t.text == "(" || t.text == "[" {
                opens.push(Open {
                    col: col.saturating_sub(1),
                    base: cur_indent,
                    hanging: false,
                });
            } else if closer {
                opens.pop();
            }
        }
        lines.extend(cur.map(Line::code));
        // INVARIANT: comments are between tokens, so none is left; keep any all the same.
        for c in comments.get(ci..).unwrap_or(&[]) {
            lines.push(Line::comment(cont, &c.text));
        }
        lines
    }

    fn has_newline(&self, from: usize, to: usize) -> bool {
        from < to && self.src.get(from..to).is_some_and(|s| s.contains('\n'))
    }

    /// A condition laid out from column `col`: on one line when it fits in [`MAX_WIDTH`] with
    /// `trail` more columns after it; otherwise broken before every `and` / `or` of its top level
    /// (each continuation line starts with the operator, under the condition's first column),
    /// inside parentheses and `not` in the same way, and a long list after a comparison operator
    /// filled line by line. The first line has no indentation; the others carry theirs.
    fn layout(&self, e: &Expr, col: usize, trail: usize) -> Vec<String> {
        let flat = self.flat(e);
        if col + width(&flat) + trail <= MAX_WIDTH {
            return vec![flat];
        }
        match &e.kind {
            ExprKind::And(items) | ExprKind::Or(items) => {
                let op = if matches!(e.kind, ExprKind::And(_)) {
                    "and"
                } else {
                    "or"
                };
                let mut lines = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let t = if i + 1 == items.len() { trail } else { 0 };
                    if i == 0 {
                        lines.extend(self.layout(item, col, t));
                        continue;
                    }
                    let mut sub = self.layout(item, col + op.len() + 1, t).into_iter();
                    if let Some(first) = sub.next() {
                        lines.push(format!("{}{op} {first}", spaces(col)));
                    }
                    lines.extend(sub);
                }
                lines
            }
            ExprKind::Paren(inner) => {
                let mut lines = self.layout(inner, col + 1, trail + 1);
                if let Some(first) = lines.first_mut() {
                    first.insert(0, '(');
                }
                if let Some(last) = lines.last_mut() {
                    last.push(')');
                }
                lines
            }
            ExprKind::Not(inner) => {
                let mut lines = self.layout(inner, col + 4, trail);
                if let Some(first) = lines.first_mut() {
                    first.insert_str(0, "not ");
                }
                lines
            }
            ExprKind::Binary { op, lhs, rhs, .. } => match &rhs.kind {
                ExprKind::List(items) if items.len() > 1 => {
                    let head = format!("{} {} ", self.flat(lhs), op.as_str());
                    let items: Vec<String> = items.iter().map(|i| self.flat(i)).collect();
                    fill_list(&head, &items, col + width(&head), trail)
                }
                _ => vec![flat],
            },
            _ => vec![flat],
        }
    }

    /// A condition on one line.
    fn flat(&self, e: &Expr) -> String {
        let mut t = Toks {
            src: self.src,
            scan: false,
            cursor: 0,
            out: Vec::new(),
            ok: true,
        };
        t.expr(e, 0);
        join(&t.out)
    }
}

/// An open bracket in a line laid out as the author broke it.
struct Open {
    /// Its column.
    col: usize,
    /// The indentation of its line.
    base: usize,
    /// True when it ends its line: its contents are then indented one level from `base`, and
    /// its closing bracket is at `base`; otherwise they are aligned after it.
    hanging: bool,
}

/// `head` then a list `[a, b, ...]` whose `[` is at column `col`, filled: as many elements per
/// line as fit in [`MAX_WIDTH`], continuation lines under the first element. The first line has
/// no indentation.
fn fill_list(head: &str, items: &[String], col: usize, trail: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = format!("{head}[");
    let mut at = col + 1;
    for (i, item) in items.iter().enumerate() {
        let last = i + 1 == items.len();
        let piece = format!("{item}{}", if last { "]" } else { "," });
        let need = width(&piece) + if last { trail } else { 0 };
        if i == 0 {
            cur.push_str(&piece);
            at += width(&piece);
        } else if at + 1 + need <= MAX_WIDTH {
            cur.push(' ');
            cur.push_str(&piece);
            at += 1 + width(&piece);
        } else {
            lines.push(std::mem::replace(
                &mut cur,
                format!("{}{piece}", spaces(col + 1)),
            ));
            at = col + 1 + width(&piece);
        }
    }
    if items.is_empty() {
        cur.push(']');
    }
    lines.push(cur);
    lines
}

/// How far a JSON record moves: its `{` by `brace` columns (from column `src_col`), the start of
/// its line by `line` columns.
#[derive(Debug, Clone, Copy)]
struct Moves {
    brace: isize,
    line: isize,
    src_col: usize,
}

/// The lines of a JSON record, its continuation lines re-indented: when they all start at or
/// right of the `{` (aligned under the record), they move with the `{`; otherwise (indented from
/// the line, as pretty-printed JSON is) they move with the start of the line. A line that starts
/// inside a string is kept as it is, and trailing whitespace is dropped outside strings.
fn reindent_json(text: &str, moves: Moves) -> Vec<String> {
    struct Part<'t> {
        body: &'t str,
        in_str: bool,
    }
    let mut parts = Vec::new();
    let mut in_str = false;
    let mut escaped = false;
    for line in text.split('\n') {
        let starts_in_str = in_str;
        for c in line.chars() {
            if in_str {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_str = false;
                }
            } else if c == '"' {
                in_str = true;
            }
        }
        parts.push(Part {
            body: if in_str { line } else { line.trim_end() },
            in_str: starts_in_str,
        });
    }
    let indent_of = |body: &str| width(body) - width(body.trim_start_matches([' ', '\t']));
    let aligned = parts
        .iter()
        .skip(1)
        .filter(|p| !p.in_str && !p.body.trim().is_empty())
        .all(|p| indent_of(p.body) >= moves.src_col);
    let delta = if aligned { moves.brace } else { moves.line };
    let mut out = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        if i == 0 || p.in_str {
            out.push(p.body.to_string());
            continue;
        }
        let content = p.body.trim_start_matches([' ', '\t']);
        if content.is_empty() {
            out.push(String::new());
            continue;
        }
        let new = (indent_of(p.body) as isize + delta).max(0) as usize;
        out.push(format!("{}{content}", spaces(new)));
    }
    out
}

/// The text of the lines. Trailing comments are aligned per paragraph (lines of code not
/// separated by a blank line or a comment line): two columns after the longest code among the
/// paragraph's lines that have one.
fn render_lines(lines: &[Line]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(line) = lines.get(i) {
        if !line.is_code() {
            out.push_str(&line.code);
            out.push('\n');
            i += 1;
            continue;
        }
        let paragraph = lines
            .get(i..)
            .unwrap_or(&[])
            .iter()
            .take_while(|l| l.is_code())
            .collect::<Vec<_>>();
        let col = paragraph
            .iter()
            .filter(|l| l.comment.is_some())
            .map(|l| width(&l.code))
            .max()
            .unwrap_or(0)
            + 2;
        for l in &paragraph {
            out.push_str(&l.code);
            if let Some(comment) = &l.comment {
                push_spaces(&mut out, col.saturating_sub(width(&l.code)));
                out.push_str(comment);
            }
            out.push('\n');
        }
        i += paragraph.len();
    }
    out
}
