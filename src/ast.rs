//! The spanned, untyped syntax tree of conditions and rule files. Equality ignores spans.

use crate::span::Span;
use chrono::{DateTime, FixedOffset, NaiveDate};

/// A condition expression with its span.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

impl PartialEq for Expr {
    /// Structural equality: spans and parentheses are presentation, not meaning.
    fn eq(&self, other: &Expr) -> bool {
        self.unparen().kind == other.unparen().kind
    }
}

impl Expr {
    /// An expression at a span.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// The expression inside any number of parentheses.
    pub fn unparen(&self) -> &Expr {
        let mut e = self;
        while let ExprKind::Paren(inner) = &e.kind {
            e = inner;
        }
        e
    }
}

/// The kinds of condition expressions. Equality ignores spans, the operator span of
/// [`ExprKind::Binary`] included (see the `PartialEq` impl below).
#[derive(Debug, Clone)]
pub enum ExprKind {
    /// A literal value.
    Literal(Literal),
    /// `[a, b, c]`
    List(Vec<Expr>),
    /// `Email`, `address.city`
    Path(Path),
    /// `lower(x)`
    Call {
        /// The function name as written.
        name: Ident,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// `( e )`, kept so that the printer reproduces the author's parentheses.
    Paren(Box<Expr>),
    /// `not e`
    Not(Box<Expr>),
    /// `a and b and ...` (two or more operands)
    And(Vec<Expr>),
    /// `a or b or ...` (two or more operands)
    Or(Vec<Expr>),
    /// `a OP b` for every binary comparison.
    Binary {
        /// The operator.
        op: BinOp,
        /// Its span.
        op_span: Span,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `e is null`, `e is not empty`, ...
    Test {
        /// Which test.
        test: TestOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `a ?? b ?? c` (two or more operands)
    Coalesce(Vec<Expr>),
    /// `base + 30d - 2h`
    Offset {
        /// The date or date-time.
        base: Box<Expr>,
        /// The signed durations, in order.
        terms: Vec<OffsetTerm>,
    },
}

impl PartialEq for ExprKind {
    /// Structural equality. Written out rather than derived so that the `op_span` of a
    /// comparison is ignored like every other span (a derived impl compared it, so that a
    /// condition and the same condition printed and parsed again were not equal).
    fn eq(&self, other: &ExprKind) -> bool {
        use ExprKind as K;
        match (self, other) {
            (K::Literal(a), K::Literal(b)) => a == b,
            (K::List(a), K::List(b)) => a == b,
            (K::Path(a), K::Path(b)) => a == b,
            (K::Call { name: n1, args: a1 }, K::Call { name: n2, args: a2 }) => {
                n1 == n2 && a1 == a2
            }
            (K::Paren(a), K::Paren(b)) | (K::Not(a), K::Not(b)) => a == b,
            (K::And(a), K::And(b)) | (K::Or(a), K::Or(b)) | (K::Coalesce(a), K::Coalesce(b)) => {
                a == b
            }
            (
                K::Binary {
                    op: o1,
                    lhs: l1,
                    rhs: r1,
                    ..
                },
                K::Binary {
                    op: o2,
                    lhs: l2,
                    rhs: r2,
                    ..
                },
            ) => o1 == o2 && l1 == l2 && r1 == r2,
            (
                K::Test {
                    test: t1,
                    operand: x1,
                },
                K::Test {
                    test: t2,
                    operand: x2,
                },
            ) => t1 == t2 && x1 == x2,
            (
                K::Offset {
                    base: b1,
                    terms: t1,
                },
                K::Offset {
                    base: b2,
                    terms: t2,
                },
            ) => b1 == b2 && t1 == t2,
            _ => false,
        }
    }
}

/// One `+ 30d` or `- 2h` after a date.
#[derive(Debug, Clone)]
pub struct OffsetTerm {
    /// True for `-`.
    pub minus: bool,
    /// The duration.
    pub duration: Duration,
    /// Span of the duration literal.
    pub span: Span,
}

impl PartialEq for OffsetTerm {
    fn eq(&self, other: &OffsetTerm) -> bool {
        self.minus == other.minus && self.duration == other.duration
    }
}

/// Binary comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`
    In,
    /// `not in`
    NotIn,
    /// `contains`
    Contains,
    /// `contains any`
    ContainsAny,
    /// `contains all`
    ContainsAll,
    /// `starts with`
    StartsWith,
    /// `ends with`
    EndsWith,
    /// `matches`
    Matches,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::NotIn => "not in",
            BinOp::Contains => "contains",
            BinOp::ContainsAny => "contains any",
            BinOp::ContainsAll => "contains all",
            BinOp::StartsWith => "starts with",
            BinOp::EndsWith => "ends with",
            BinOp::Matches => "matches",
        }
    }

    /// Every operator.
    pub const ALL: [BinOp; 14] = [
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::In,
        BinOp::NotIn,
        BinOp::Contains,
        BinOp::ContainsAny,
        BinOp::ContainsAll,
        BinOp::StartsWith,
        BinOp::EndsWith,
        BinOp::Matches,
    ];
}

/// Postfix tests that are never unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestOp {
    /// `is null`
    IsNull,
    /// `is not null`
    IsNotNull,
    /// `is empty`
    IsEmpty,
    /// `is not empty`
    IsNotEmpty,
}

impl TestOp {
    /// The test as written.
    pub fn as_str(self) -> &'static str {
        match self {
            TestOp::IsNull => "is null",
            TestOp::IsNotNull => "is not null",
            TestOp::IsEmpty => "is empty",
            TestOp::IsNotEmpty => "is not empty",
        }
    }
}

/// A literal value.
#[derive(Debug, Clone)]
pub enum Literal {
    /// `"text"` (escapes decoded)
    Str(crate::record::CompactStr),
    /// `42`
    Int(i64),
    /// `1000.50`
    Dec(f64),
    /// `true` / `false`
    Bool(bool),
    /// `null`
    Null,
    /// `@2026-01-31`
    Date(NaiveDate),
    /// `@2026-01-31T09:30:00Z`
    DateTime(DateTime<FixedOffset>),
    /// `30d`
    Duration(Duration),
}

impl PartialEq for Literal {
    fn eq(&self, other: &Literal) -> bool {
        match (self, other) {
            (Literal::Str(a), Literal::Str(b)) => a == b,
            (Literal::Int(a), Literal::Int(b)) => a == b,
            (Literal::Dec(a), Literal::Dec(b)) => a.to_bits() == b.to_bits(),
            (Literal::Bool(a), Literal::Bool(b)) => a == b,
            (Literal::Null, Literal::Null) => true,
            (Literal::Date(a), Literal::Date(b)) => a == b,
            // The same instant written with the same offset.
            (Literal::DateTime(a), Literal::DateTime(b)) => {
                a == b && a.offset().local_minus_utc() == b.offset().local_minus_utc()
            }
            (Literal::Duration(a), Literal::Duration(b)) => a == b,
            _ => false,
        }
    }
}

/// A duration literal: an amount and a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Duration {
    /// How many units (non-negative as written).
    pub amount: i64,
    /// The unit.
    pub unit: DurationUnit,
}

impl Duration {
    /// The duration in seconds, or `None` on overflow.
    pub fn seconds(self) -> Option<i64> {
        let per = match self.unit {
            DurationUnit::Minutes => 60,
            DurationUnit::Hours => 3_600,
            DurationUnit::Days => 86_400,
            DurationUnit::Weeks => 604_800,
        };
        self.amount.checked_mul(per)
    }
}

/// Units of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationUnit {
    /// `m`
    Minutes,
    /// `h`
    Hours,
    /// `d`
    Days,
    /// `w`
    Weeks,
}

impl DurationUnit {
    /// The suffix letter.
    pub fn suffix(self) -> char {
        match self {
            DurationUnit::Minutes => 'm',
            DurationUnit::Hours => 'h',
            DurationUnit::Days => 'd',
            DurationUnit::Weeks => 'w',
        }
    }
}

/// An identifier with its span.
#[derive(Debug, Clone)]
pub struct Ident {
    /// The text.
    pub name: String,
    /// Where it is.
    pub span: Span,
}

impl PartialEq for Ident {
    fn eq(&self, other: &Ident) -> bool {
        self.name == other.name
    }
}

/// A field path: one or more segments.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The segments, outermost first.
    pub segments: Vec<Segment>,
}

impl Path {
    /// The segments joined with dots, back-quoting where needed.
    pub fn display(&self) -> String {
        self.segments
            .iter()
            .map(Segment::display)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The span from the first to the last segment.
    pub fn span(&self) -> Span {
        match (self.segments.first(), self.segments.last()) {
            (Some(a), Some(b)) => a.span.to(b.span),
            _ => Span::default(),
        }
    }
}

/// One segment of a path.
#[derive(Debug, Clone)]
pub struct Segment {
    /// The field name (without back quotes).
    pub name: crate::record::CompactStr,
    /// Where it is.
    pub span: Span,
}

impl PartialEq for Segment {
    fn eq(&self, other: &Segment) -> bool {
        self.name == other.name
    }
}

impl Segment {
    /// The name, back-quoted unless it is a plain identifier that is neither a reserved word nor
    /// one of [`CONTEXTUAL_KEYWORDS`] (so that the printed path reads back as the same path in
    /// any position).
    pub fn display(&self) -> String {
        if is_bare_ident(&self.name) && !CONTEXTUAL_KEYWORDS.contains(&self.name.as_str()) {
            self.name.to_string()
        } else {
            format!("`{}`", self.name)
        }
    }
}

/// Words that cannot be bare field names.
pub const RESERVED: &[&str] = &[
    "and", "or", "not", "in", "contains", "starts", "ends", "matches", "is", "null", "true",
    "false",
];

/// Words that are keywords only after another keyword, and may otherwise be bare field names:
/// `any` and `all` after `contains`. `Tags contains any` reads `contains any` as the operator, so
/// a field named `any` right after `contains` must be back-quoted; the printer always does.
pub const CONTEXTUAL_KEYWORDS: &[&str] = &["any", "all"];

/// True when `s` can be written as a bare path segment.
pub fn is_bare_ident(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !RESERVED.contains(&s)
}

// ---------------------------------------------------------------------------------------------
// Rule files
// ---------------------------------------------------------------------------------------------

/// A parsed `.herald` file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleFile {
    /// Blocks in source order.
    pub items: Vec<Item>,
}

/// A top-level block.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `schema Name { ... }`
    Schema(SchemaDecl),
    /// `portal "Name" { ... }`
    Portal(PortalDecl),
    /// `test "name" { ... }`
    Test(TestDecl),
}

/// A string with its span (the span covers the quotes).
#[derive(Debug, Clone)]
pub struct StrLit {
    /// The decoded text.
    pub value: String,
    /// Where it is.
    pub span: Span,
}

impl PartialEq for StrLit {
    fn eq(&self, other: &StrLit) -> bool {
        self.value == other.value
    }
}

/// `schema Name { ... }` or `schema Name from "file.json"`.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaDecl {
    /// The schema name.
    pub name: Ident,
    /// Where its fields come from.
    pub body: SchemaBody,
    /// The whole block.
    pub span: Span,
}

/// The fields of a schema.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaBody {
    /// Declared in the rule file.
    Fields(Vec<FieldDecl>),
    /// Loaded from CRM field metadata (JSON), relative to the rule file.
    File(StrLit),
}

/// `Name type`
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDecl {
    /// The field name.
    pub name: Segment,
    /// Its type.
    pub ty: TypeExpr,
    /// The whole declaration.
    pub span: Span,
}

/// A field type as written.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeExpr {
    /// `text`, `integer`, ...
    Named(Ident),
    /// `picklist ["a", "b"]`
    Picklist(Vec<StrLit>, Span),
    /// `multiselect ["a", "b"]`
    Multiselect(Vec<StrLit>, Span),
    /// `object { ... }`
    Object(Vec<FieldDecl>),
}

/// `portal "Name" { ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct PortalDecl {
    /// The portal name.
    pub name: StrLit,
    /// Lines in source order.
    pub items: Vec<PortalItem>,
    /// The whole block.
    pub span: Span,
}

/// One line of a portal block.
#[derive(Debug, Clone, PartialEq)]
pub enum PortalItem {
    /// `records Contacts`
    Records(Ident, Span),
    /// `identity id, Full_Name, Email`
    Identity(Vec<Path>, Span),
    /// `from group "..."`
    FromGroup(StrLit, Span),
    /// `status active`
    Status(Ident, Span),
    /// `on create, update`
    On(Vec<Ident>, Span),
    /// `require CONDITION`
    Require(Expr, Span),
    /// `invite "fr" when ...` / `otherwise` / nothing
    Invite(InviteDecl),
    /// A line with an unknown key.
    Unknown(Ident, Span),
}

impl PortalItem {
    /// The span of the whole line.
    pub fn span(&self) -> Span {
        match self {
            PortalItem::Records(_, s)
            | PortalItem::Identity(_, s)
            | PortalItem::FromGroup(_, s)
            | PortalItem::Status(_, s)
            | PortalItem::On(_, s)
            | PortalItem::Require(_, s)
            | PortalItem::Unknown(_, s) => *s,
            PortalItem::Invite(i) => i.span,
        }
    }
}

/// `invite "fr" when ...`
#[derive(Debug, Clone, PartialEq)]
pub struct InviteDecl {
    /// The language tag.
    pub language: StrLit,
    /// When it applies.
    pub when: InviteWhen,
    /// The whole line.
    pub span: Span,
}

/// The condition part of an `invite` line.
#[derive(Debug, Clone, PartialEq)]
pub enum InviteWhen {
    /// `invite "fr"`: everyone who meets `require`.
    Always,
    /// `when CONDITION`
    When(Expr),
    /// `otherwise`
    Otherwise(Span),
}

/// `test "name" { ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct TestDecl {
    /// The test name.
    pub name: StrLit,
    /// Lines in source order.
    pub items: Vec<TestItem>,
    /// The whole block.
    pub span: Span,
}

/// One line of a test block.
#[derive(Debug, Clone, PartialEq)]
pub enum TestItem {
    /// `record { ... }`: the JSON text and its span.
    Record(String, Span),
    /// `event update`
    Event(Ident, Span),
    /// `now @...`
    Now(String, Span),
    /// `expect "Portal" ...`
    Expect(Expectation, Span),
}

/// What a test expects of one portal.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// The portal name.
    pub portal: StrLit,
    /// The outcome.
    pub outcome: ExpectedOutcome,
}

/// Expected outcomes.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectedOutcome {
    /// `invites "fr"`
    Invites(StrLit),
    /// `does not invite [because REASON]`
    DoesNotInvite(Option<Ident>),
    /// `fails REASON`
    Fails(Ident),
}
