//! Type checking of conditions: resolves field paths against the schema, checks operand types,
//! picklist values, lists, regexes and functions, and lowers the AST to the typed IR.

use crate::ast::{self, BinOp, ExprKind, Literal};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{CmpOp, FieldKind, FieldTable, Func, Node, NodeKind, Ty};
use crate::schema::{self, FieldType, Schema};
use crate::span::Span;
use crate::value::Value;

/// Largest compiled size of one `matches` pattern, in bytes.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

thread_local! {
    /// Regexes compiled on this thread, by pattern: rule sets repeat patterns across portals,
    /// files and reloads, and compiling one costs far more than looking it up. Cleared when
    /// it holds [`REGEX_CACHE_SIZE`] patterns.
    static REGEX_CACHE: std::cell::RefCell<std::collections::HashMap<String, regex::Regex>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// How many patterns [`REGEX_CACHE`] holds at most.
const REGEX_CACHE_SIZE: usize = 1024;

/// Compiles a `matches` pattern with Herald's size limits, through the per-thread cache.
fn build_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    let cached = REGEX_CACHE.with(|c| c.try_borrow().ok()?.get(pattern).cloned());
    if let Some(re) = cached {
        return Ok(re);
    }
    let re = regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()?;
    REGEX_CACHE.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            if c.len() >= REGEX_CACHE_SIZE {
                c.clear();
            }
            c.insert(pattern.to_string(), re.clone());
        }
    });
    Ok(re)
}

/// Checks conditions against one optional schema, interning fields into a shared table.
pub struct ExprChecker<'a> {
    /// The schema and its index in the rule set.
    pub schema: Option<(usize, &'a Schema)>,
    /// Where resolved fields go.
    pub fields: &'a mut FieldTable,
    /// What was found.
    pub diags: Vec<Diagnostic>,
}

fn field_ty(ty: &FieldType) -> (Ty, FieldKind) {
    match ty {
        FieldType::Text | FieldType::Email | FieldType::Phone | FieldType::Picklist(_) => {
            (Ty::Str, FieldKind::Text)
        }
        FieldType::Integer => (Ty::Int, FieldKind::Integer),
        FieldType::Decimal | FieldType::Currency => (Ty::Dec, FieldKind::Decimal),
        FieldType::Boolean => (Ty::Bool, FieldKind::Boolean),
        FieldType::Date => (Ty::Date, FieldKind::Date),
        FieldType::DateTime => (Ty::DateTime, FieldKind::DateTime),
        FieldType::Multiselect(_) => (Ty::List(Box::new(Ty::Str)), FieldKind::Multiselect),
        FieldType::Object(_) => (Ty::Object, FieldKind::Object),
    }
}

/// The Herald function for a name other languages use (Excel, SQL, JavaScript, CRM formula
/// languages), for the did-you-mean of an unknown function.
fn function_synonym(name: &str) -> Option<&'static str> {
    let key: String = name
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_lowercase();
    Some(match key.as_str() {
        "lowercase" | "tolower" | "tolowercase" | "lcase" | "downcase" => "lower",
        "uppercase" | "toupper" | "touppercase" | "ucase" | "upcase" => "upper",
        "strip" | "trimspaces" => "trim",
        "length" | "size" | "count" | "strlen" | "charlength" => "len",
        "date" | "currentdate" | "curdate" => "today",
        "currenttimestamp" | "datetime" | "timestamp" | "currenttime" => "now",
        _ => return None,
    })
}

/// Static compatibility for `==`, `in` and friends: same class, or numeric with numeric, or
/// unknown on either side.
fn compatible(a: &Ty, b: &Ty) -> bool {
    match (a, b) {
        (Ty::Any, _) | (_, Ty::Any) | (Ty::Null, _) | (_, Ty::Null) => true,
        (x, y) if x.is_numeric() && y.is_numeric() => true,
        (x, y) if x.is_temporal() && y.is_temporal() => true,
        (Ty::List(x), Ty::List(y)) => compatible(x, y),
        (x, y) => x == y,
    }
}

fn ordered(t: &Ty) -> bool {
    matches!(
        t,
        Ty::Any | Ty::Null | Ty::Int | Ty::Dec | Ty::Str | Ty::Date | Ty::DateTime
    )
}

/// The element type of a list type (`Any` for `Any`), or `None` for non-lists.
fn elem(t: &Ty) -> Option<Ty> {
    match t {
        Ty::List(e) => Some((**e).clone()),
        Ty::Any => Some(Ty::Any),
        Ty::Null => Some(Ty::Any),
        _ => None,
    }
}

/// A type with its article, for sentences: "an integer", "a list of string", "of unknown type".
fn a_ty(t: &Ty) -> String {
    let name = t.name();
    match t {
        Ty::Any => String::from("of unknown type"),
        Ty::Null => name,
        Ty::Int | Ty::Object => format!("an {name}"),
        _ => format!("a {name}"),
    }
}

fn describe(e: &ast::Expr) -> String {
    match &e.kind {
        ExprKind::Path(p) => format!("`{}`", p.display()),
        ExprKind::Literal(_) | ExprKind::List(_) => format!("`{}`", crate::print::expr(e)),
        _ => String::from("this expression"),
    }
}

impl<'a> ExprChecker<'a> {
    /// A checker for conditions over `schema` (or none).
    pub fn new(schema: Option<(usize, &'a Schema)>, fields: &'a mut FieldTable) -> ExprChecker<'a> {
        ExprChecker {
            schema,
            fields,
            diags: Vec::new(),
        }
    }

    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Checks a whole condition: it must be boolean.
    pub fn condition(&mut self, e: &ast::Expr) -> Option<Node> {
        let node = self.expr(e)?;
        self.expect_bool(e, &node);
        Some(node)
    }

    fn expect_bool(&mut self, e: &ast::Expr, node: &Node) {
        match &node.ty {
            Ty::Bool | Ty::Any | Ty::Null => {}
            other => {
                let help = match other {
                    Ty::Str => format!(
                        "compare it, e.g. `{} == \"...\"` or `{} is not empty`",
                        crate::print::expr(e),
                        crate::print::expr(e)
                    ),
                    Ty::List(_) => {
                        format!("test it, e.g. `{} contains \"...\"`", crate::print::expr(e))
                    }
                    _ => String::from("compare it with a value to make a condition"),
                };
                self.err(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        e.span,
                        format!("{} is {}, not a condition", describe(e), a_ty(other)),
                    )
                    .with_label(format!("{} value", other.name()))
                    .with_help(help),
                );
            }
        }
    }

    fn node(kind: NodeKind, ty: Ty, span: Span) -> Node {
        Node { kind, ty, span }
    }

    /// Checks any expression.
    ///
    /// This function recurses once per nesting level (up to `prescan::MAX_DEPTH` levels) on the
    /// caller's stack, so it only dispatches: each kind is checked in its own function, whose
    /// locals are on the stack only while that kind is checked. (An unoptimized build reserves
    /// a frame for the locals of every arm of a `match`; with everything inline the frame was
    /// 5.5 KiB and 256 levels overflowed a 2 MiB thread.)
    pub fn expr(&mut self, e: &ast::Expr) -> Option<Node> {
        let span = e.span;
        match &e.kind {
            ExprKind::Literal(lit) => self.literal(lit, span),
            ExprKind::List(items) => self.list(items, span),
            ExprKind::Path(p) => self.path(p, span),
            ExprKind::Call { name, args } => self.call(name, args, span),
            ExprKind::Paren(inner) => self.paren(inner, span),
            ExprKind::Not(inner) => self.not(inner, span),
            ExprKind::And(items) => self.junction(items, true, span),
            ExprKind::Or(items) => self.junction(items, false, span),
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => self.binary(*op, *op_span, lhs, rhs, span),
            ExprKind::Test { test, operand } => self.test(*test, operand, span),
            ExprKind::Coalesce(items) => self.coalesce(items, span),
            ExprKind::Offset { base, terms } => self.offset(base, terms, span),
        }
    }

    fn paren(&mut self, inner: &ast::Expr, span: Span) -> Option<Node> {
        let mut n = self.expr(inner)?;
        n.span = span;
        Some(n)
    }

    fn not(&mut self, inner: &ast::Expr, span: Span) -> Option<Node> {
        let n = self.expr(inner)?;
        self.expect_bool(inner, &n);
        Some(Self::node(NodeKind::Not(Box::new(n)), Ty::Bool, span))
    }

    /// `and` (`is_and`) or `or`.
    fn junction(&mut self, items: &[ast::Expr], is_and: bool, span: Span) -> Option<Node> {
        let mut nodes = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.expr(item) {
                Some(n) => {
                    self.expect_bool(item, &n);
                    nodes.push(n);
                }
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let kind = if is_and {
            NodeKind::And(nodes)
        } else {
            NodeKind::Or(nodes)
        };
        Some(Self::node(kind, Ty::Bool, span))
    }

    fn test(&mut self, test: ast::TestOp, operand: &ast::Expr, span: Span) -> Option<Node> {
        let n = self.expr(operand)?;
        Some(Self::node(
            NodeKind::Test(test, Box::new(n)),
            Ty::Bool,
            span,
        ))
    }

    fn coalesce(&mut self, items: &[ast::Expr], span: Span) -> Option<Node> {
        let mut nodes = Vec::with_capacity(items.len());
        for item in items {
            nodes.push(self.expr(item)?);
        }
        let mut ty = Ty::Null;
        for (n, item) in nodes.iter().zip(items) {
            if ty == Ty::Null {
                ty = n.ty.clone();
            } else if !compatible(&ty, &n.ty) {
                self.err(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        item.span,
                        format!(
                            "the default of `??` is {}, but the value before it is {}",
                            n.ty.name(),
                            ty.name()
                        ),
                    )
                    .with_label(format!("{} value", n.ty.name()))
                    .with_help("give a default of the same type as the value"),
                );
                return None;
            }
        }
        if ty == Ty::Dec || nodes.iter().any(|n| n.ty == Ty::Dec) && ty.is_numeric() {
            ty = Ty::Dec;
        }
        Some(Self::node(NodeKind::Coalesce(nodes), ty, span))
    }

    fn offset(&mut self, base: &ast::Expr, terms: &[ast::OffsetTerm], span: Span) -> Option<Node> {
        let b = self.expr(base)?;
        let mut total: i64 = 0;
        for t in terms {
            let Some(secs) = t.duration.seconds() else {
                self.err(Diagnostic::error(
                    Code::InvalidLiteral,
                    t.span,
                    "the duration is too large",
                ));
                return None;
            };
            let signed = if t.minus {
                secs.checked_neg()
            } else {
                Some(secs)
            };
            match signed.and_then(|s| total.checked_add(s)) {
                Some(v) => total = v,
                None => {
                    self.err(Diagnostic::error(
                        Code::InvalidLiteral,
                        t.span,
                        "the durations add up to more than Herald can represent",
                    ));
                    return None;
                }
            }
        }
        // The durations are summed first; a date stays a date when the sum is whole days (the
        // interpreter decides on the same sum).
        let whole_days = total % 86_400 == 0;
        let ty = match &b.ty {
            Ty::Date if whole_days => Ty::Date,
            Ty::Date | Ty::DateTime => Ty::DateTime,
            Ty::Any | Ty::Null => Ty::Any,
            Ty::Str => Ty::Any,
            other => {
                self.err(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        base.span,
                        "a duration can only be added to a date or a date-time",
                    )
                    .with_label(format!("{} is {}", describe(base), a_ty(other)))
                    .with_help("use a date field, a date literal such as `@2026-01-31`, `today()` or `now()`"),
                );
                return None;
            }
        };
        Some(Self::node(NodeKind::Offset(Box::new(b), total), ty, span))
    }

    fn literal(&mut self, lit: &Literal, span: Span) -> Option<Node> {
        let (value, ty) = match lit {
            Literal::Str(s) => (Value::Str(s.clone()), Ty::Str),
            Literal::Int(i) => (Value::Int(*i), Ty::Int),
            Literal::Dec(f) => (Value::Dec(*f), Ty::Dec),
            Literal::Bool(b) => (Value::Bool(*b), Ty::Bool),
            Literal::Null => (Value::Null, Ty::Null),
            Literal::Date(d) => (Value::Date(*d), Ty::Date),
            Literal::DateTime(d) => (Value::DateTime(*d), Ty::DateTime),
            Literal::Duration(_) => {
                self.err(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        span,
                        "a duration can only follow `+` or `-` after a date",
                    )
                    .with_label("a duration on its own")
                    .with_help("write e.g. `Signup_Date > today() - 30d`"),
                );
                return None;
            }
        };
        Some(Self::node(NodeKind::Const(value), ty, span))
    }

    fn list(&mut self, items: &[ast::Expr], span: Span) -> Option<Node> {
        let mut values = Vec::with_capacity(items.len());
        let mut ty: Option<Ty> = None;
        for item in items {
            let inner = match &item.kind {
                ExprKind::Literal(Literal::Duration(_)) | ExprKind::List(_) => None,
                ExprKind::Literal(l) => Some(l),
                _ => None,
            };
            let Some(lit) = inner else {
                self.err(
                    Diagnostic::error(Code::InvalidList, item.span, "list elements must be literal values")
                        .with_label("not a literal")
                        .with_help("write values such as \"FR\", 42 or @2026-01-31; to compare with a field use `or`"),
                );
                return None;
            };
            if matches!(lit, Literal::Null) {
                self.err(
                    Diagnostic::error(Code::InvalidList, item.span, "lists cannot contain `null`")
                        .with_label("`null` in a list")
                        .with_help("test for null separately: `x is null or x in [...]`"),
                );
                return None;
            }
            let n = self.literal(lit, item.span)?;
            match &ty {
                None => ty = Some(n.ty.clone()),
                Some(t) if compatible(t, &n.ty) && !(t.is_temporal() && n.ty != *t) => {
                    if n.ty == Ty::Dec {
                        ty = Some(Ty::Dec);
                    }
                }
                Some(t) => {
                    self.err(
                        Diagnostic::error(
                            Code::InvalidList,
                            item.span,
                            format!("this list mixes {} and {}", t.name(), n.ty.name()),
                        )
                        .with_label(format!("{} here", n.ty.name()))
                        .with_help("all elements of a list must have the same type"),
                    );
                    return None;
                }
            }
            if let NodeKind::Const(v) = n.kind {
                values.push(v);
            }
        }
        let ty = Ty::List(Box::new(ty.unwrap_or(Ty::Any)));
        Some(Self::node(NodeKind::Const(Value::List(values)), ty, span))
    }

    fn path(&mut self, p: &ast::Path, span: Span) -> Option<Node> {
        let Some((schema_idx, schema)) = self.schema else {
            let segs = p.segments.iter().map(|s| s.name.as_str());
            let id = self.fields.intern_path(None, segs, FieldKind::Dynamic);
            return Some(Self::node(NodeKind::Field(id), Ty::Any, span));
        };
        let names: Vec<String> = p.segments.iter().map(|s| s.name.to_string()).collect();
        match schema.lookup(&names) {
            Some(field) => {
                let (ty, kind) = field_ty(&field.ty);
                let id = self.fields.intern(Some(schema_idx), names, kind);
                Some(Self::node(NodeKind::Field(id), ty, span))
            }
            None => {
                self.unknown_field(schema, p);
                None
            }
        }
    }

    fn unknown_field(&mut self, schema: &Schema, p: &ast::Path) {
        // Find the first segment that does not resolve.
        let names: Vec<String> = p.segments.iter().map(|s| s.name.to_string()).collect();
        for (i, seg) in p.segments.iter().enumerate() {
            let prefix = names.get(..i).unwrap_or(&[]);
            let Some(level) = schema.fields_at(prefix) else {
                let parent = prefix.join(".");
                let parent_ty = schema.lookup(prefix).map_or("a value", |f| f.ty.name());
                self.err(
                    Diagnostic::error(
                        Code::UnknownField,
                        seg.span,
                        format!("`{parent}` has no field `{}`", seg.name),
                    )
                    .with_label(format!("`{parent}` is declared {parent_ty}, not object"))
                    .with_help(format!(
                        "only object fields have sub-fields; use `{parent}` alone"
                    )),
                );
                return;
            };
            if level.iter().any(|f| f.name == *seg.name) {
                continue;
            }
            let what = if prefix.is_empty() {
                format!("schema `{}`", schema.name)
            } else {
                format!("`{}`", prefix.join("."))
            };
            let mut d = Diagnostic::error(
                Code::UnknownField,
                seg.span,
                format!("unknown field `{}` in {what}", seg.name),
            )
            .with_label("not in the schema");
            if let Some(s) = schema::did_you_mean(&seg.name, level.iter().map(|f| f.name.as_str()))
            {
                d = d.with_help(format!("did you mean `{s}`?"));
            } else {
                let mut names: Vec<&str> = level.iter().map(|f| f.name.as_str()).collect();
                names.truncate(12);
                d = d.with_help(format!("the fields are: {}", names.join(", ")));
            }
            self.err(d);
            return;
        }
    }

    fn call(&mut self, name: &ast::Ident, args: &[ast::Expr], span: Span) -> Option<Node> {
        let Some(&(func, _, arity)) = Func::ALL.iter().find(|(_, n, _)| *n == name.name) else {
            let known: Vec<&str> = Func::ALL.iter().map(|(_, n, _)| *n).collect();
            let mut d = Diagnostic::error(
                Code::UnknownFunction,
                name.span,
                format!("unknown function `{}`", name.name),
            )
            .with_label("not a Herald function");
            let suggestion = schema::did_you_mean(&name.name, known.iter().copied())
                .or_else(|| function_synonym(&name.name));
            d = match suggestion {
                Some(s) => d.with_help(format!(
                    "did you mean `{s}`? the functions are {}",
                    known.join(", ")
                )),
                None => d.with_help(format!("the functions are {}", known.join(", "))),
            };
            self.err(d);
            return None;
        };
        if args.len() != arity {
            self.err(
                Diagnostic::error(
                    Code::WrongArgumentCount,
                    span,
                    format!(
                        "`{}` takes {arity} argument{}, but {} {} given",
                        name.name,
                        if arity == 1 { "" } else { "s" },
                        args.len(),
                        if args.len() == 1 { "was" } else { "were" }
                    ),
                )
                .with_label(format!(
                    "{} argument{}",
                    args.len(),
                    if args.len() == 1 { "" } else { "s" }
                ))
                .with_help(match func {
                    Func::Today | Func::Now => format!("write `{}()`", name.name),
                    _ => format!("write `{}(Field)`", name.name),
                }),
            );
            return None;
        }
        let mut nodes = Vec::with_capacity(args.len());
        for a in args {
            nodes.push(self.expr(a)?);
        }
        let ty = match func {
            Func::Today => Ty::Date,
            Func::Now => Ty::DateTime,
            Func::Lower | Func::Upper | Func::Trim => {
                let t = nodes.first().map(|n| n.ty.clone()).unwrap_or(Ty::Any);
                if !matches!(t, Ty::Str | Ty::Any | Ty::Null) {
                    self.err(self.arg_mismatch(name, args, &t, "a string"));
                    return None;
                }
                Ty::Str
            }
            Func::Len => {
                let t = nodes.first().map(|n| n.ty.clone()).unwrap_or(Ty::Any);
                if !matches!(t, Ty::Str | Ty::Any | Ty::Null | Ty::List(_)) {
                    self.err(self.arg_mismatch(name, args, &t, "a string or a list"));
                    return None;
                }
                Ty::Int
            }
        };
        Some(Self::node(NodeKind::Call(func, nodes), ty, span))
    }

    fn arg_mismatch(
        &self,
        name: &ast::Ident,
        args: &[ast::Expr],
        t: &Ty,
        want: &str,
    ) -> Diagnostic {
        let span = args.first().map_or(name.span, |a| a.span);
        let what = args
            .first()
            .map_or_else(|| String::from("the argument"), describe);
        Diagnostic::error(
            Code::TypeMismatch,
            span,
            format!("`{}` takes {want}, but {what} is {}", name.name, a_ty(t)),
        )
        .with_label(format!("{} value", t.name()))
        .with_help(match name.name.as_str() {
            "len" => {
                String::from("`len` counts the characters of a text or the elements of a list")
            }
            other => format!("`{other}` changes text; apply it to a text field"),
        })
    }

    fn binary(
        &mut self,
        op: BinOp,
        op_span: Span,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        span: Span,
    ) -> Option<Node> {
        let l = self.expr(lhs);
        if op == BinOp::Matches {
            let l = l?;
            return self.matches(l, rhs, span);
        }
        let r = self.expr(rhs);
        let (l, r) = (l?, r?);
        let null_side = if l.ty == Ty::Null {
            Some(lhs)
        } else if r.ty == Ty::Null {
            Some(rhs)
        } else {
            None
        };
        if let Some(side) = null_side {
            let other = if std::ptr::eq(side, lhs) { rhs } else { lhs };
            let fix = match op {
                BinOp::Ne => format!("write `{} is not null`", crate::print::expr(other)),
                _ => format!("write `{} is null`", crate::print::expr(other)),
            };
            self.err(
                Diagnostic::warning(
                    Code::NullComparison,
                    side.span,
                    format!(
                        "`{}` with `null` is always unknown, so it never matches",
                        op.as_str()
                    ),
                )
                .with_label("always unknown")
                .with_help(fix),
            );
        }
        let ok = match op {
            BinOp::Eq | BinOp::Ne => {
                compatible(&l.ty, &r.ty)
                    && !matches!(l.ty, Ty::List(_) | Ty::Object)
                    && !matches!(r.ty, Ty::List(_) | Ty::Object)
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                compatible(&l.ty, &r.ty) && ordered(&l.ty) && ordered(&r.ty)
            }
            BinOp::In | BinOp::NotIn => match elem(&r.ty) {
                Some(e) => compatible(&l.ty, &e) && !matches!(l.ty, Ty::List(_) | Ty::Object),
                None => {
                    self.err(self.not_a_list(op, rhs, &r.ty));
                    return None;
                }
            },
            BinOp::Contains => match &l.ty {
                Ty::Str => matches!(r.ty, Ty::Str | Ty::Any | Ty::Null),
                Ty::List(e) => compatible(e, &r.ty) && !matches!(r.ty, Ty::List(_)),
                Ty::Any | Ty::Null => true,
                _ => false,
            },
            BinOp::ContainsAny | BinOp::ContainsAll => {
                let (Some(le), Some(re)) = (elem(&l.ty), elem(&r.ty)) else {
                    let (side, t) = if elem(&l.ty).is_none() {
                        (lhs, &l.ty)
                    } else {
                        (rhs, &r.ty)
                    };
                    self.err(self.not_a_list(op, side, t));
                    return None;
                };
                compatible(&le, &re)
            }
            BinOp::StartsWith | BinOp::EndsWith => {
                matches!(l.ty, Ty::Str | Ty::Any | Ty::Null)
                    && matches!(r.ty, Ty::Str | Ty::Any | Ty::Null)
            }
            BinOp::Matches => true,
        };
        if !ok {
            self.err(self.mismatch(op, op_span, lhs, &l.ty, rhs, &r.ty));
            return None;
        }
        self.check_picklist(&l, &r, rhs);
        self.check_picklist(&r, &l, lhs);
        let (l, r) = (Box::new(l), Box::new(r));
        let kind = match op {
            BinOp::Eq => NodeKind::Cmp(CmpOp::Eq, l, r),
            BinOp::Ne => NodeKind::Cmp(CmpOp::Ne, l, r),
            BinOp::Lt => NodeKind::Cmp(CmpOp::Lt, l, r),
            BinOp::Le => NodeKind::Cmp(CmpOp::Le, l, r),
            BinOp::Gt => NodeKind::Cmp(CmpOp::Gt, l, r),
            BinOp::Ge => NodeKind::Cmp(CmpOp::Ge, l, r),
            BinOp::In => NodeKind::In {
                negated: false,
                lhs: l,
                list: r,
            },
            BinOp::NotIn => NodeKind::In {
                negated: true,
                lhs: l,
                list: r,
            },
            BinOp::Contains => NodeKind::Contains(l, r),
            BinOp::ContainsAny => NodeKind::ContainsAny(l, r),
            BinOp::ContainsAll => NodeKind::ContainsAll(l, r),
            BinOp::StartsWith => NodeKind::StartsWith(l, r),
            BinOp::EndsWith => NodeKind::EndsWith(l, r),
            BinOp::Matches => return None,
        };
        Some(Self::node(kind, Ty::Bool, span))
    }

    fn not_a_list(&self, op: BinOp, e: &ast::Expr, t: &Ty) -> Diagnostic {
        Diagnostic::error(
            Code::TypeMismatch,
            e.span,
            format!("`{}` needs a list, but {} is {}", op.as_str(), describe(e), a_ty(t)),
        )
        .with_label(format!("{} value", t.name()))
        .with_help(match op {
            BinOp::In | BinOp::NotIn => "write a list such as `[\"FR\", \"BE\"]`, or use `==`".to_string(),
            _ => "`contains any` and `contains all` compare a multiselect field with a list such as `[\"vip\", \"beta\"]`".to_string(),
        })
    }

    fn mismatch(
        &self,
        op: BinOp,
        op_span: Span,
        lhs: &ast::Expr,
        lt: &Ty,
        rhs: &ast::Expr,
        rt: &Ty,
    ) -> Diagnostic {
        let field_note = |e: &ast::Expr, t: &Ty| -> String {
            match (&e.kind, self.schema) {
                (ExprKind::Path(p), Some((_, s))) => {
                    let names: Vec<String> =
                        p.segments.iter().map(|x| x.name.to_string()).collect();
                    match s.lookup(&names) {
                        Some(f) => format!("`{}` is declared {}", p.display(), f.ty.name()),
                        None => format!("{} is {}", describe(e), a_ty(t)),
                    }
                }
                _ => format!("{} is {}", describe(e), a_ty(t)),
            }
        };
        // The text operators on something that is not text (or, for `contains`, not a list): the
        // left operand is the mistake, whatever the right one is.
        let text_op = matches!(op, BinOp::Contains | BinOp::StartsWith | BinOp::EndsWith);
        let lhs_wrong = match op {
            BinOp::Contains => !matches!(lt, Ty::Str | Ty::List(_) | Ty::Any | Ty::Null),
            BinOp::StartsWith | BinOp::EndsWith => !matches!(lt, Ty::Str | Ty::Any | Ty::Null),
            _ => false,
        };
        if text_op && lhs_wrong {
            let works_on = if op == BinOp::Contains {
                "text and lists"
            } else {
                "text"
            };
            return Diagnostic::error(
                Code::TypeMismatch,
                lhs.span,
                format!(
                    "`{}` works on {works_on}, but {}",
                    op.as_str(),
                    field_note(lhs, lt)
                ),
            )
            .with_label(format!("{} value", lt.name()))
            .with_help(match op {
                BinOp::Contains if lt.is_numeric() => String::from(
                    "compare numbers with `==`, `<` or `>`, or test several values with `in [...]`",
                ),
                _ if lt.is_numeric() || lt.is_temporal() => {
                    String::from("compare it with `==`, `<`, `>`, or use `in [...]`")
                }
                _ => format!("apply `{}` to a text field", op.as_str()),
            });
        }
        let whole = op_span.to(rhs.span).to(lhs.span);
        // Lists are not values that `==` compares (LANGUAGE.md leaves it open; we decided): say so
        // rather than "cannot compare list of string with list of string".
        if matches!(op, BinOp::Eq | BinOp::Ne)
            && (matches!(lt, Ty::List(_)) || matches!(rt, Ty::List(_)))
        {
            return Diagnostic::error(
                Code::TypeMismatch,
                whole,
                format!("`{}` does not compare lists", op.as_str()),
            )
            .with_label(format!("{}; {}", field_note(lhs, lt), field_note(rhs, rt)))
            .with_help(
                "test a list with `contains`, `contains any [...]` or `contains all [...]`, \
                     and a value against a list with `in [...]`",
            );
        }
        // Booleans, lists and objects compare with `==` at most; they have no order.
        let ordering = matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge);
        if ordering && compatible(lt, rt) && (!ordered(lt) || !ordered(rt)) {
            let unordered = if ordered(lt) { rt } else { lt };
            let (what, help) = match unordered {
                Ty::Bool => (
                    "booleans",
                    "compare a boolean with `==` or `!=`, or use it alone: `Opted_Out`, `not Opted_Out`",
                ),
                Ty::List(_) => ("lists", "compare the number of elements with `len(...)`"),
                _ => (
                    "objects",
                    "compare one of its fields, such as `address.city`",
                ),
            };
            return Diagnostic::error(
                Code::TypeMismatch,
                whole,
                format!("`{}` does not order {what}", op.as_str()),
            )
            .with_label(format!("{}; {}", field_note(lhs, lt), field_note(rhs, rt)))
            .with_help(help);
        }
        let message = format!(
            "`{}` cannot compare {} with {}",
            op.as_str(),
            lt.name(),
            rt.name()
        );
        let mut d = Diagnostic::error(Code::TypeMismatch, whole, message).with_label(format!(
            "{}; {}",
            field_note(lhs, lt),
            field_note(rhs, rt)
        ));
        // Targeted help for the common slips.
        let help = match (&rhs.kind, lt) {
            (ExprKind::Literal(Literal::Str(s)), t)
                if t.is_numeric() && s.trim().parse::<f64>().is_ok() =>
            {
                Some(format!("remove the quotes: `{}`", s.trim()))
            }
            (ExprKind::Literal(Literal::Str(s)), Ty::Bool) if s == "true" || s == "false" => {
                Some(format!("remove the quotes: `{s}`"))
            }
            (ExprKind::Literal(Literal::Str(s)), t)
                if t.is_temporal() && crate::value::coerce_temporal(s).is_some() =>
            {
                Some(format!("write a date literal: `@{s}`"))
            }
            _ => match op {
                BinOp::Contains if lt.is_numeric() || *lt == Ty::Bool => {
                    Some(String::from("`contains` works on text and lists"))
                }
                BinOp::StartsWith | BinOp::EndsWith => {
                    Some(format!("`{}` works on text", op.as_str()))
                }
                _ => Some(String::from(
                    "compare values of the same type (integers and decimals compare with each other)",
                )),
            },
        };
        if let Some(h) = help {
            d = d.with_help(h);
        }
        d
    }

    fn matches(&mut self, l: Node, rhs: &ast::Expr, span: Span) -> Option<Node> {
        let ExprKind::Literal(Literal::Str(pattern)) = &rhs.kind else {
            self.err(
                Diagnostic::error(Code::TypeMismatch, rhs.span, "the pattern of `matches` must be a string literal")
                    .with_label("not a string literal")
                    .with_help("write the regular expression in double quotes: `Email matches \"@example\\\\.fr$\"`"),
            );
            return None;
        };
        if !matches!(l.ty, Ty::Str | Ty::Any | Ty::Null) {
            self.err(
                Diagnostic::error(
                    Code::TypeMismatch,
                    l.span,
                    format!("`matches` works on text, but this is {}", a_ty(&l.ty)),
                )
                .with_help("apply `matches` to a text field"),
            );
            return None;
        }
        match build_regex(pattern) {
            Ok(re) => Some(Self::node(
                NodeKind::Matches(Box::new(l), re),
                Ty::Bool,
                span,
            )),
            Err(e) => {
                let detail = match &e {
                    regex::Error::Syntax(s) => s
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .trim_start_matches("error: ")
                        .to_string(),
                    regex::Error::CompiledTooBig(_) => {
                        String::from("the pattern is too large once compiled")
                    }
                    _ => e.to_string(),
                };
                self.err(
                    Diagnostic::error(Code::InvalidRegex, rhs.span, format!("invalid regular expression: {detail}"))
                        .with_label("this pattern")
                        .with_help("Herald uses the syntax of the Rust `regex` crate; escape a literal `.` as `\\\\.`"),
                );
                None
            }
        }
    }

    /// When `field` is a picklist or multiselect field and `other` a string or list literal,
    /// checks that every literal value is allowed.
    fn check_picklist(&mut self, field: &Node, other: &Node, other_expr: &ast::Expr) {
        let (NodeKind::Field(id), Some((_, schema))) = (&field.kind, self.schema) else {
            return;
        };
        let Some(info) = self.fields.get(*id) else {
            return;
        };
        let Some(f) = schema.lookup(&info.path) else {
            return;
        };
        // Borrowed from the schema: nothing is copied unless a value is not in the picklist.
        let allowed: &[String] = match &f.ty {
            FieldType::Picklist(v) | FieldType::Multiselect(v) => v,
            _ => return,
        };
        let values: Vec<(&str, Span)> = match (&other.kind, &other_expr.kind) {
            (NodeKind::Const(Value::Str(s)), _) => vec![(s.as_str(), other.span)],
            (NodeKind::Const(Value::List(_)), ExprKind::List(items)) => items
                .iter()
                .filter_map(|i| match &i.kind {
                    ExprKind::Literal(Literal::Str(s)) => Some((s.as_str(), i.span)),
                    _ => None,
                })
                .collect(),
            _ => return,
        };
        for (v, span) in values {
            if allowed.iter().any(|a| a == v) {
                continue;
            }
            let field_name = self
                .fields
                .get(*id)
                .map(|i| i.display())
                .unwrap_or_default();
            let mut d = Diagnostic::error(
                Code::UnknownPicklistValue,
                span,
                format!("\"{v}\" is not a value of `{field_name}`"),
            )
            .with_label("not in the picklist");
            if let Some(same) = allowed
                .iter()
                .find(|a| a.to_lowercase() == v.to_lowercase())
            {
                d = d.with_help(format!("values are case-sensitive: write \"{same}\""));
            } else if let Some(s) = schema::did_you_mean(v, allowed.iter().map(String::as_str)) {
                d = d.with_help(format!("did you mean \"{s}\"?"));
            } else {
                let mut shown: Vec<String> = allowed
                    .iter()
                    .take(15)
                    .map(|a| format!("\"{a}\""))
                    .collect();
                if allowed.len() > 15 {
                    shown.push(String::from("..."));
                }
                d = d.with_help(format!(
                    "the values of `{field_name}` are {}",
                    shown.join(", ")
                ));
            }
            self.err(d);
        }
    }
}
