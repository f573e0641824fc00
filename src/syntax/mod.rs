//! Parsing: the pest grammar in `grammar/herald.pest`, lowered into the spanned AST.
//! This is the only module that imports pest.

mod lower;
pub mod prescan;

use crate::ast::{Expr, RuleFile};
use crate::diagnostics::{Code, Diagnostic};
use crate::span::Span;
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/herald.pest"]
struct HeraldParser;

/// Parses a condition on its own. Returns the AST, or every syntax diagnostic found.
pub fn parse_condition(src: &str) -> Result<Expr, Vec<Diagnostic>> {
    let diags = prescan::prescan(src);
    if !diags.is_empty() {
        return Err(diags);
    }
    let pairs = HeraldParser::parse(Rule::condition, src).map_err(|e| vec![pest_error(src, &e)])?;
    let mut lowerer = lower::Lowerer::new(src);
    let expr = lowerer.condition(pairs);
    match expr {
        Some(e) if lowerer.diags.is_empty() => Ok(e),
        _ => Err(lowerer.diags),
    }
}

/// Parses a rule file. Returns the AST (possibly partial) and every diagnostic found; the AST is
/// `None` when the file does not follow the grammar at all.
pub fn parse_rule_file(src: &str) -> (Option<RuleFile>, Vec<Diagnostic>) {
    let diags = prescan::prescan(src);
    if !diags.is_empty() {
        return (None, diags);
    }
    match HeraldParser::parse(Rule::rule_file, src) {
        Ok(pairs) => {
            let mut lowerer = lower::Lowerer::new(src);
            let file = lowerer.rule_file(pairs);
            (Some(file), lowerer.diags)
        }
        Err(e) => (None, vec![pest_error(src, &e)]),
    }
}

/// A human name for what a grammar rule stands for, or `None` to leave it out of messages.
fn rule_name(rule: Rule) -> Option<&'static str> {
    use Rule as R;
    Some(match rule {
        R::EOI => "the end of the input",
        R::expr | R::or_expr | R::and_expr | R::not_expr | R::cmp_expr | R::condition => {
            "a condition"
        }
        R::coalesce
        | R::additive
        | R::paren
        | R::list
        | R::call
        | R::path
        | R::bare_segment
        | R::quoted_segment
        | R::string
        | R::number
        | R::duration
        | R::at_literal
        | R::kw_true
        | R::kw_false
        | R::kw_null
        | R::bad_single_quoted
        | R::unterminated_string => "a value or a field",
        R::or_op | R::kw_or | R::bad_or => "`or`",
        R::and_op | R::kw_and | R::bad_and => "`and`",
        R::not_op | R::kw_not | R::bad_not => "`not`",
        R::cmp_op
        | R::binary_tail
        | R::is_test
        | R::matches_tail
        | R::op_eq
        | R::op_ne
        | R::op_lt
        | R::op_le
        | R::op_gt
        | R::op_ge
        | R::op_in
        | R::op_not_in
        | R::op_contains
        | R::op_contains_any
        | R::op_contains_all
        | R::op_starts_with
        | R::op_ends_with
        | R::bad_eq
        | R::bad_ne => "a comparison operator",
        R::add_op => "`+` or `-`",
        R::schema_block | R::rk_schema => "`schema`",
        R::portal_block | R::rk_portal => "`portal`",
        R::test_block | R::rk_test => "`test`",
        R::records_item
        | R::identity_item
        | R::from_item
        | R::status_item
        | R::on_item
        | R::require_item
        | R::invite_item
        | R::unknown_item => "a portal line (`records`, `identity`, `from group`, `status`, `on`, `require`, `invite`)",
        R::invite_when | R::rk_when => "`when`",
        R::invite_otherwise | R::rk_otherwise => "`otherwise`",
        R::record_item | R::event_item | R::now_item | R::expect_item => {
            "a test line (`record`, `event`, `now`, `expect`)"
        }
        R::expect_invites | R::expect_not_invite | R::expect_fails => {
            "`invites`, `does not invite` or `fails`"
        }
        R::json_object => "a JSON object `{ ... }`",
        R::reason => "a reason code such as `missing-email`",
        R::field_decl | R::field_name => "a field declaration",
        R::field_type | R::type_name | R::picklist_type | R::multiselect_type | R::object_type => {
            "a field type"
        }
        R::schema_from | R::rk_from => "`from`",
        R::schema_body => "`{`",
        R::ident => "a name",
        R::rk_group => "`group`",
        _ => return None,
    })
}

fn join_names(names: &[&str]) -> String {
    match names {
        [] => String::from("something else"),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// The token at `pos`, for "found ..." in messages.
fn token_at(src: &str, pos: usize) -> (String, Span) {
    let rest = src.get(pos..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return (String::from("the end of the input"), Span::new(pos, pos));
    };
    let len = if first.is_ascii_alphanumeric() || first == '_' {
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len())
    } else {
        let two = rest.get(..2).unwrap_or("");
        if matches!(two, "&&" | "||" | "==" | "!=" | "<=" | ">=" | "??" | "<>") {
            2
        } else {
            first.len_utf8()
        }
    };
    let text = rest.get(..len).unwrap_or("");
    (format!("`{text}`"), Span::new(pos, pos + len))
}

/// The word or operator just before `pos`, skipping whitespace and comments is not attempted.
fn token_before(src: &str, pos: usize) -> &str {
    let before = src.get(..pos).unwrap_or("").trim_end();
    let end = before.len();
    let start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    if start < end {
        return before.get(start..end).unwrap_or("");
    }
    for op in ["==", "!=", "<=", ">=", "??", "<", ">", "+", "-", "(", ",", "["] {
        if before.ends_with(op) {
            return op;
        }
    }
    ""
}

const OPERATOR_WORDS: &[&str] = &[
    "and", "or", "not", "in", "contains", "any", "all", "with", "matches", "==", "!=", "<=", ">=",
    "<", ">", "??", "+", "-", "when", "require",
];

/// Converts a pest error into a `syntax` diagnostic with a human message and help.
fn pest_error(src: &str, e: &pest::error::Error<Rule>) -> Diagnostic {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let (found, span) = token_at(src, pos);
    let mut names: Vec<&str> = Vec::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &e.variant {
        for r in positives {
            if let Some(n) = rule_name(*r) {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
    }
    // "the end of the input" reads best last.
    if let Some(i) = names.iter().position(|n| *n == "the end of the input") {
        let eoi = names.remove(i);
        names.push(eoi);
    }
    let prev = token_before(src, pos);
    let expects_operand = names.contains(&"a value or a field") || names.contains(&"a condition");
    if expects_operand && OPERATOR_WORDS.contains(&prev) {
        let span = if span.is_empty() {
            let s = pos.saturating_sub(prev.len());
            Span::new(s, pos)
        } else {
            span
        };
        return Diagnostic::error(
            Code::Syntax,
            span,
            format!("missing operand after `{prev}`, found {found}"),
        )
        .with_label("a value or a field is missing here")
        .with_help(format!(
            "write a value or a field after `{prev}`, or remove `{prev}`"
        ));
    }
    let message = format!("expected {}, found {found}", join_names(&names));
    let mut d = Diagnostic::error(Code::Syntax, span, message).with_label("unexpected here");
    let word = found.trim_matches('`');
    if names.iter().any(|n| n.contains("`and`")) && word.chars().all(|c| c.is_alphanumeric() || c == '_') && !word.is_empty() && found != "the end of the input" {
        d = d.with_help("two conditions must be joined with `and` or `or`");
    } else if crate::ast::RESERVED.contains(&word) && names.contains(&"a value or a field") {
        d = d.with_help(format!(
            "`{word}` is a reserved word; back-quote a field with this name: `` `{word}` ``"
        ));
    }
    d
}
