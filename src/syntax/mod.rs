//! Parsing: the pest grammar in `grammar/herald.pest`, lowered into the spanned AST.
//! This is the only module that imports pest.

mod fast;
mod lower;
pub(crate) use lower::skip_trivia;
pub mod prescan;

use crate::ast::{Expr, RuleFile};
use crate::diagnostics::{Code, Diagnostic};
use crate::span::Span;
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/herald.pest"]
struct HeraldParser;

/// Sources nested at most this deep are parsed on the caller's thread.
const INLINE_DEPTH: usize = 16;

/// Stack size of the helper thread that parses (and compiles) deeper sources. pest's generated
/// parser and our lowering both recurse once per grammar rule; with the nested precedence
/// rules that was about ten rules per nesting level, and unoptimized (debug) builds needed about
/// 22 KiB per level for each: 256 levels of parentheses, calls or `??` needed 5.4 MiB
/// (measured); release builds a fraction of that. The flat expression rule recurses through
/// three rules per level (`expr`, `operand`, `paren`), so that figure is now an upper bound. The
/// pre-scan caps nesting at [`prescan::MAX_DEPTH`], so this bound, six times the need, holds
/// every accepted input. The memory is reserved, not committed: pages the work does not touch
/// cost nothing.
const DEEP_STACK_BYTES: usize = 32 << 20;

thread_local! {
    /// True on a helper thread started by [`on_deep_stack`], so that nested calls run inline.
    static ON_DEEP_STACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work` on a stack that can hold `depth` levels of nesting (see [`DEEP_STACK_BYTES`]).
///
/// The spec allows 256 levels (LANGUAGE.md, "Limits"), and a host may call us from a thread
/// with a small stack (test threads and many async runtimes use 2 MiB). Rather than lowering
/// the limit, or making every caller size its stack for the parser, work on a source nested
/// deeper than [`INLINE_DEPTH`] runs on a scoped helper thread with [`DEEP_STACK_BYTES`] of
/// stack; the common, shallow source pays nothing. `Condition::compile` runs parsing, checking,
/// optimizing and compiling this way; the evaluators then walk a tree at most
/// [`prescan::MAX_DEPTH`] deep on the caller's stack.
///
/// When no thread can be spawned (a platform without threads, a resource limit), `work` runs on
/// the caller's thread, which must then have the stack for the nesting the pre-scan allowed.
/// (pest is built without `std`, so without its per-rule stack probe, which cost a third of
/// the parse time: the pre-scan's depth bound is what keeps recursion in check.)
/// A panic in the helper is re-raised on the caller's thread, as if `work` had run inline.
pub(crate) fn on_deep_stack<T: Send>(depth: usize, work: impl FnOnce() -> T + Send) -> T {
    if depth <= INLINE_DEPTH || ON_DEEP_STACK.with(std::cell::Cell::get) {
        return work();
    }
    // `work` moves into the helper only if it starts; otherwise it is still in the slot.
    let slot = std::sync::Mutex::new(Some(work));
    let take = || slot.lock().ok().and_then(|mut guard| guard.take());
    let from_helper = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name(String::from("herald-deep-stack"))
            .stack_size(DEEP_STACK_BYTES)
            .spawn_scoped(scope, || {
                ON_DEEP_STACK.with(|on| on.set(true));
                take().map(|work| work())
            });
        match spawned {
            Ok(handle) => match handle.join() {
                Ok(result) => result,
                Err(payload) => std::panic::resume_unwind(payload),
            },
            Err(_) => None,
        }
    });
    match from_helper {
        Some(result) => result,
        None => match take() {
            Some(work) => work(),
            // Unreachable: `work` either ran on the helper or is still in the slot.
            None => std::panic::resume_unwind(Box::new("herald: deep-stack work did not run")),
        },
    }
}

/// The deepest nesting of brackets and `not`s in `src`, as the pre-scan counts it.
pub(crate) fn nesting_depth(src: &str) -> usize {
    prescan::scan(src).max_depth
}

/// Parses a condition on its own. Returns the AST, or every syntax diagnostic found.
///
/// The common, error-free subset of the language is read by a hand-written fast path
/// (`syntax::fast`); anything else, and every error, by pest, which defines the language. Both
/// give the same AST ([`reference::parse_condition`] is the pest path alone).
pub fn parse_condition(src: &str) -> Result<Expr, Vec<Diagnostic>> {
    parse_condition_scanned(src, prescan::scan(src))
}

/// [`parse_condition`] when the caller has already run the pre-scan of `src`.
pub(crate) fn parse_condition_scanned(
    src: &str,
    scan: prescan::Scan,
) -> Result<Expr, Vec<Diagnostic>> {
    if !scan.diags.is_empty() {
        return Err(scan.diags);
    }
    on_deep_stack(scan.max_depth, || match fast::condition(src) {
        Some(e) => Ok(e),
        None => pest_condition(src),
    })
}

/// Parses a rule file. Returns the AST (possibly partial) and every diagnostic found; the AST is
/// `None` when the file does not follow the grammar at all. Like [`parse_condition`], a file in
/// the common, error-free subset is read by the fast path, anything else by pest.
pub fn parse_rule_file(src: &str) -> (Option<RuleFile>, Vec<Diagnostic>) {
    let scan = prescan::scan(src);
    if !scan.diags.is_empty() {
        return (None, scan.diags);
    }
    on_deep_stack(scan.max_depth, || match fast::rule_file(src) {
        Some(file) => (Some(file), Vec::new()),
        None => pest_rule_file(src),
    })
}

/// The grammar read by pest alone, without the fast path: the reference the fast path must
/// agree with (tests and the `parse_fast` fuzz target compare the two). Same results as
/// [`parse_condition`] and [`parse_rule_file`], only slower.
pub mod reference {
    use super::*;

    /// [`super::parse_condition`] through pest only.
    pub fn parse_condition(src: &str) -> Result<Expr, Vec<Diagnostic>> {
        let scan = prescan::scan(src);
        if !scan.diags.is_empty() {
            return Err(scan.diags);
        }
        on_deep_stack(scan.max_depth, || pest_condition(src))
    }

    /// [`super::parse_rule_file`] through pest only.
    pub fn parse_rule_file(src: &str) -> (Option<RuleFile>, Vec<Diagnostic>) {
        let scan = prescan::scan(src);
        if !scan.diags.is_empty() {
            return (None, scan.diags);
        }
        on_deep_stack(scan.max_depth, || pest_rule_file(src))
    }

    /// Whether the fast path reads `src` as a condition on its own (it gives up on errors and on
    /// rare constructs, which pest then reads). For tests and benchmarks of the fast path.
    pub fn fast_path_reads_condition(src: &str) -> bool {
        let scan = prescan::scan(src);
        scan.diags.is_empty() && on_deep_stack(scan.max_depth, || fast::condition(src).is_some())
    }

    /// Whether the fast path reads `src` as a rule file.
    pub fn fast_path_reads_rule_file(src: &str) -> bool {
        let scan = prescan::scan(src);
        scan.diags.is_empty() && on_deep_stack(scan.max_depth, || fast::rule_file(src).is_some())
    }
}

/// A condition through pest and lowering (the pre-scan has passed).
fn pest_condition(src: &str) -> Result<Expr, Vec<Diagnostic>> {
    let pairs = HeraldParser::parse(Rule::condition, src).map_err(|e| vec![pest_error(src, &e)])?;
    let mut lowerer = lower::Lowerer::new(src);
    let expr = lowerer.condition(pairs);
    match expr {
        Some(e) if lowerer.diags.is_empty() => Ok(e),
        _ => Err(lowerer.diags),
    }
}

/// A rule file through pest and lowering (the pre-scan has passed).
fn pest_rule_file(src: &str) -> (Option<RuleFile>, Vec<Diagnostic>) {
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
        R::expr | R::operand | R::condition => "a condition",
        R::paren
        | R::list
        | R::call
        | R::call_name
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
        | R::cmp_start
        | R::is_test
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
        // Left out of "expected ..." lists, where it read as "`+` or `-` or the end of the
        // input"; a duration after a date gets its own help.
        R::add_op => return None,
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
        | R::unknown_item => {
            "a portal line (`records`, `identity`, `from group`, `status`, `on`, `require`, `invite`)"
        }
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
        R::value_list => "a list of values `[\"a\", \"b\"]`",
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

/// The token at `pos`, for "found ..." in messages: a word or a number, a quoted string (to its
/// closing quote or the end of the line), a date literal, a two-character operator, or one
/// character.
fn token_at(src: &str, pos: usize) -> (String, Span) {
    let rest = src.get(pos..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return (String::from("the end of the input"), Span::new(pos, pos));
    };
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let len = if first.is_ascii_digit() {
        rest.find(|c: char| !(word_char(c) || c == '.'))
            .unwrap_or(rest.len())
    } else if word_char(first) {
        rest.find(|c: char| !word_char(c)).unwrap_or(rest.len())
    } else if first == '"' || first == '\'' || first == '`' {
        let body = rest.get(1..).unwrap_or("");
        let mut end = body.find(['\n', '\r']).unwrap_or(body.len());
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            if i >= end {
                break;
            }
            if escaped {
                escaped = false;
            } else if c == '\\' && first == '"' {
                escaped = true;
            } else if c == first {
                end = i + 1;
                break;
            }
        }
        1 + end
    } else if first == '@' {
        1 + rest
            .get(1..)
            .unwrap_or("")
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '+')))
            .unwrap_or(rest.len() - 1)
    } else {
        let two = rest.get(..2).unwrap_or("");
        if matches!(two, "&&" | "||" | "==" | "!=" | "<=" | ">=" | "??" | "<>") {
            2
        } else {
            first.len_utf8()
        }
    };
    let text = rest.get(..len).unwrap_or("");
    let shown = if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    };
    (shown, Span::new(pos, pos + len))
}

/// What is wrong with a token that starts like a number but is not one (`1e5`, `1mo`, `.5`,
/// `5.`), as a message and a help line.
fn malformed_number(word: &str, before: &str, after: &str) -> Option<(String, String)> {
    if word == "." && after.starts_with(|c: char| c.is_ascii_digit()) {
        return Some((
            String::from("a decimal needs a digit before the point"),
            format!(
                "write `0.{}`",
                after
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap_or("")
            ),
        ));
    }
    if word == "." && before.ends_with(|c: char| c.is_ascii_digit()) {
        return Some((
            String::from("a decimal needs a digit after the point"),
            String::from("write `5.0` rather than `5.`"),
        ));
    }
    if !word.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let digits = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == '_' || c == '.');
    // A number, or a well-formed duration in the wrong place: another message fits better.
    if digits.is_empty() || (matches!(digits, "m" | "h" | "d" | "w") && !word.contains('.')) {
        return None;
    }
    if (digits.starts_with(['e', 'E']))
        && digits[1..]
            .trim_start_matches(['-', '+'])
            .chars()
            .all(|c| c.is_ascii_digit())
    {
        return Some((
            format!("`{word}` is not a number Herald can read"),
            String::from(
                "write the number in full, such as `100000` or `0.001`: Herald has no exponents",
            ),
        ));
    }
    Some((
        format!("`{word}` is not a number or a duration"),
        String::from(
            "a duration is a whole number and a unit: `15m` (minutes), `12h`, `30d` or `2w`; \
             for months or years, count days or weeks (`30d`, `52w`)",
        ),
    ))
}

/// The word or operator at the end of `before` (which ends at the error, without trailing
/// whitespace and comments).
fn token_before(before: &str) -> &str {
    let end = before.len();
    let start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    if start < end {
        return before.get(start..end).unwrap_or("");
    }
    for op in [
        "==", "!=", "<=", ">=", "??", "<", ">", "+", "-", "(", ",", "[",
    ] {
        if before.ends_with(op) {
            return op;
        }
    }
    ""
}

/// Words and operators that need an operand after them.
const OPERATOR_WORDS: &[&str] = &[
    "and", "or", "not", "in", "contains", "any", "all", "with", "matches", "==", "!=", "<=", ">=",
    "<", ">", "??", "+", "-", "when", "require",
];

/// Operators that need an operand before them (the words are reserved, so they cannot be a field
/// either).
const INFIX_OPERATORS: &[&str] = &[
    "and", "or", "in", "contains", "starts", "ends", "matches", "is", "==", "!=", "<=", ">=", "<",
    ">", "??", "&&", "||", "<>",
];

/// `is` or `is not` at the end of `before`, if that is how it ends.
fn trailing_is(before: &str) -> Option<&'static str> {
    let ends_with_word = |text: &str, word: &str| {
        text.strip_suffix(word)
            .is_some_and(|head| !head.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
    };
    if ends_with_word(before, "is") {
        return Some("is");
    }
    let head = before.strip_suffix("not")?;
    if ends_with_word(before, "not") && ends_with_word(head.trim_end(), "is") {
        return Some("is not");
    }
    None
}

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
    let before = lower::trim_trivia_end(src.get(..pos).unwrap_or(""));
    let prev = token_before(before);
    let at_end = span.is_empty();
    let word = found.trim_matches('`');
    let expects_operand = names.contains(&"a value or a field") || names.contains(&"a condition");
    if names.contains(&"a condition") && before.is_empty() && at_end {
        return Diagnostic::error(Code::Syntax, span, "the condition is empty")
            .with_label("a condition is expected here")
            .with_help("write a condition, such as `Subscription == \"paid\"`");
    }
    if let Some(is) = trailing_is(before) {
        return Diagnostic::error(
            Code::Syntax,
            span,
            format!("expected `null` or `empty` after `{is}`, found {found}"),
        )
        .with_label("unexpected here")
        .with_help("write `is null`, `is not null`, `is empty` or `is not empty`");
    }
    let after = src.get(span.end..).unwrap_or("");
    if let Some((message, help)) = malformed_number(word, before, after) {
        return Diagnostic::error(Code::Syntax, span, message)
            .with_label("not a value")
            .with_help(help);
    }
    if expects_operand && OPERATOR_WORDS.contains(&prev) {
        // At the end of the input, underline the operator itself (before any comment after it).
        let span = if span.is_empty() {
            Span::new(before.len().saturating_sub(prev.len()), before.len())
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
    if expects_operand && INFIX_OPERATORS.contains(&word) && matches!(prev, "" | "(" | "[" | ",") {
        let mut help = format!("write a value or a field before `{word}`, or remove `{word}`");
        if crate::ast::RESERVED.contains(&word) {
            help.push_str(&format!(
                "; a field named `{word}` must be back-quoted: `` `{word}` ``"
            ));
        }
        return Diagnostic::error(
            Code::Syntax,
            span,
            format!("missing operand before `{word}`"),
        )
        .with_label("nothing on its left")
        .with_help(help);
    }
    let message = format!("expected {}, found {found}", join_names(&names));
    let mut d = Diagnostic::error(Code::Syntax, span, message).with_label("unexpected here");
    let after_value = names.iter().any(|n| n.contains("`and`"));
    let is_word =
        !word.is_empty() && !at_end && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let starts_literal =
        word.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '"' | '@' | '\'' | '-'));
    if after_value && !at_end && starts_literal {
        let is_duration =
            word.starts_with(|c: char| c.is_ascii_digit()) && word.ends_with(['d', 'h', 'm', 'w']);
        d = d.with_help(if is_duration {
            String::from("a duration is added to or subtracted from a date: `today() - 30d`")
        } else {
            String::from("a comparison operator is missing, such as `==`, `<` or `in`")
        });
    } else if after_value && is_word {
        d = d.with_help("two conditions must be joined with `and` or `or`");
    } else if crate::ast::RESERVED.contains(&word) && expects_operand {
        d = d.with_help(format!(
            "`{word}` is a reserved word; back-quote a field with this name: `` `{word}` ``"
        ));
    }
    d
}
