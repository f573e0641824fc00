//! Import of Zoho CRM search criteria (`((Mailing_Country:equals:France)and(Subscription:equals:paid))`)
//! into Herald condition source.
//!
//! Syntax: a condition is `(field:comparator:value)`; groups `(A)and(B)`, `(A)or(B)` are wrapped in
//! parentheses and nest; `and`/`or` are case-insensitive and may be surrounded by spaces, but one
//! group does not mix them (Zoho gives no precedence; parentheses say which is meant). In a value,
//! `\(`, `\)`, `\,` and `\\` stand for `(`, `)`, `,` and `\`; an unescaped `,` separates the
//! values of `in` and `between` and is an error elsewhere. Values are taken exactly (spaces kept).
//!
//! Comparators: `equals`, `not_equal`, `starts_with`, `ends_with`, `contains`, `not_contains`,
//! `in`, `between` (inclusive), `greater_than`, `greater_equal`, `less_than`, `less_equal`.
//! With a schema, values are read as the field's type (integer, decimal, boolean, date, RFC 3339
//! date-time) and comparators are checked against it; without one, every value is text and the
//! orderings (`greater_than`, ..., `between`) are refused, since they need to know whether
//! `100` is a number, a date or a text.
//!
//! Meaning: a record whose field is empty matches no comparator (`not_equal` and `not_contains`
//! included) — Herald's three-valued logic, and what Zoho's search returns for empty fields.

use super::build;
use super::{Refusal, Result};
use crate::ast::{BinOp, Expr, Literal};
use crate::schema::{FieldType, Schema};
use crate::span::Span;

/// The comparators, in the order documented.
pub const COMPARATORS: [&str; 12] = [
    "equals",
    "not_equal",
    "starts_with",
    "ends_with",
    "contains",
    "not_contains",
    "in",
    "between",
    "greater_than",
    "greater_equal",
    "less_than",
    "less_equal",
];

/// Translates Zoho CRM search criteria into Herald condition source, checked against `schema`
/// when one is given.
pub fn import(criteria: &str, schema: Option<&Schema>) -> Result<String> {
    let mut p = Parser {
        text: criteria,
        pos: 0,
        schema,
    };
    p.ws();
    let expr = p.sequence(true)?;
    p.ws();
    if p.pos < criteria.len() {
        return Err(p.error(p.pos, criteria.len(), "unexpected text after the criteria"));
    }
    let source = crate::print::expr(&expr);
    if let Err(e) = crate::condition::Condition::compile(&source, schema) {
        return Err(Refusal::new("the translation", format!("`{source}` does not check: {e}"))
            .with_help("a value may not be allowed for its field (a picklist value, say); see the message above"));
    }
    Ok(source)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    schema: Option<&'a Schema>,
}

/// A field's type, as far as the values' reading goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Decimal,
    Boolean,
    Date,
    DateTime,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn error(&self, start: usize, end: usize, message: impl Into<String>) -> Refusal {
        let message = message.into();
        let shown = self.text.get(start..end).unwrap_or("");
        let at = if shown.is_empty() {
            format!(" (at offset {start})")
        } else {
            format!(" (at `{shown}`, offset {start})")
        };
        Refusal::new("criteria", format!("{message}{at}")).at(Span::new(start, end))
    }

    fn expect_char(&mut self, c: char, what: &str) -> Result<()> {
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            let end = self.pos + self.peek().map_or(0, char::len_utf8);
            Err(self.error(self.pos, end, format!("expected `{c}` {what}")))
        }
    }

    /// `group (op group)*`; at the top level, a single condition needs no parentheses of its own
    /// beyond its group.
    fn sequence(&mut self, top: bool) -> Result<Expr> {
        let mut items = vec![self.group()?];
        let mut op: Option<(bool, usize)> = None;
        loop {
            self.ws();
            let start = self.pos;
            let rest = self.text.get(self.pos..).unwrap_or("");
            let lower: String = rest
                .chars()
                .take(3)
                .collect::<String>()
                .to_ascii_lowercase();
            let is_and = if lower.starts_with("and") {
                true
            } else if lower.starts_with("or") {
                false
            } else {
                break;
            };
            self.pos += if is_and { 3 } else { 2 };
            match op {
                Some((prev, _)) if prev != is_and => {
                    return Err(self
                        .error(start, self.pos, "this group mixes `and` and `or`")
                        .with_help("Zoho gives them no precedence: put parentheses around the part meant first, e.g. ((A)and(B))or(C)"));
                }
                _ => op = Some((is_and, start)),
            }
            self.ws();
            items.push(self.group()?);
        }
        let _ = top;
        Ok(match op {
            Some((true, _)) => build::and(items),
            Some((false, _)) => {
                build::or(items.into_iter().map(build::paren_if_junction).collect())
            }
            None => items.pop().unwrap_or_else(|| build::bool(true)),
        })
    }

    /// `( condition )` or `( sequence )`.
    fn group(&mut self) -> Result<Expr> {
        self.ws();
        self.expect_char('(', "to open a criterion")?;
        self.ws();
        let e = if self.peek() == Some('(') {
            self.sequence(false)?
        } else {
            self.condition()?
        };
        self.ws();
        self.expect_char(')', "to close the criterion")?;
        Ok(e)
    }

    /// `field:comparator:value`.
    fn condition(&mut self) -> Result<Expr> {
        let field_start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c != ':' && c != '(' && c != ')')
        {
            self.bump();
        }
        let field = self
            .text
            .get(field_start..self.pos)
            .unwrap_or("")
            .trim()
            .to_string();
        if field.is_empty() {
            return Err(self
                .error(
                    field_start,
                    self.pos,
                    "a criterion starts with a field name",
                )
                .with_help("write (Field:comparator:value)"));
        }
        self.expect_char(':', "after the field name (field:comparator:value)")?;
        let cmp_start = self.pos;
        while self.peek().is_some_and(|c| c != ':' && c != ')') {
            self.bump();
        }
        let comparator = self
            .text
            .get(cmp_start..self.pos)
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let cmp_end = self.pos;
        if !COMPARATORS.contains(&comparator.as_str()) {
            let mut r = self.error(
                cmp_start,
                cmp_end,
                format!("unknown comparator `{comparator}`"),
            );
            r.construct = format!("`{comparator}`");
            let help = match crate::schema::did_you_mean(&comparator, COMPARATORS) {
                Some(s) => format!(
                    "did you mean `{s}`? the comparators are {}",
                    COMPARATORS.join(", ")
                ),
                None => format!("the comparators are {}", COMPARATORS.join(", ")),
            };
            return Err(r.with_help(help));
        }
        self.expect_char(':', "after the comparator (field:comparator:value)")?;
        let value_start = self.pos;
        let values = self.values()?;
        let value_end = self.pos;
        self.translate(
            &field,
            (field_start, cmp_start),
            &comparator,
            values,
            (value_start, value_end),
        )
    }

    /// The value(s) up to the closing `)`: escapes decoded, split at unescaped commas.
    fn values(&mut self) -> Result<Vec<String>> {
        let mut out = vec![String::new()];
        loop {
            match self.peek() {
                None => {
                    return Err(self.error(
                        self.pos,
                        self.pos,
                        "the criterion is not closed with `)`",
                    ));
                }
                Some(')') => return Ok(out),
                Some('(') => {
                    return Err(self
                        .error(self.pos, self.pos + 1, "an unescaped `(` in a value")
                        .with_help("escape it as \\("));
                }
                Some('\\') => {
                    self.bump();
                    match self.peek() {
                        Some(c @ ('(' | ')' | ',' | '\\')) => {
                            self.bump();
                            if let Some(last) = out.last_mut() {
                                last.push(c);
                            }
                        }
                        _ => {
                            if let Some(last) = out.last_mut() {
                                last.push('\\');
                            }
                        }
                    }
                }
                Some(',') => {
                    self.bump();
                    out.push(String::new());
                }
                Some(c) => {
                    self.bump();
                    if let Some(last) = out.last_mut() {
                        last.push(c);
                    }
                }
            }
        }
    }

    fn kind_of(&self, path: &[String], span: (usize, usize)) -> Result<Kind> {
        let Some(schema) = self.schema else {
            return Ok(Kind::Text);
        };
        let Some(field) = schema.lookup(path) else {
            let name = path.join(".");
            let mut r = self.error(
                span.0,
                span.1,
                format!("`{name}` is not a field of schema `{}`", schema.name),
            );
            let level = schema.fields_at(path.get(..path.len().saturating_sub(1)).unwrap_or(&[]));
            if let (Some(level), Some(last)) = (level, path.last()) {
                if let Some(s) =
                    crate::schema::did_you_mean(last, level.iter().map(|f| f.name.as_str()))
                {
                    r = r.with_help(format!("did you mean `{s}`?"));
                }
            }
            return Err(r);
        };
        Ok(match &field.ty {
            FieldType::Text | FieldType::Email | FieldType::Phone | FieldType::Picklist(_) => {
                Kind::Text
            }
            FieldType::Integer => Kind::Integer,
            FieldType::Decimal | FieldType::Currency => Kind::Decimal,
            FieldType::Boolean => Kind::Boolean,
            FieldType::Date => Kind::Date,
            FieldType::DateTime => Kind::DateTime,
            FieldType::Multiselect(_) | FieldType::Object(_) => {
                return Err(self
                    .error(span.0, span.1, format!("`{}` is a {} field", path.join("."), field.ty.name()))
                    .with_help("Zoho's criteria on multi-select and nested fields have no exact Herald reading; write the condition in Herald (`Tags contains \"vip\"`)"));
            }
        })
    }

    /// One value as a Herald literal of the field's kind.
    fn literal(&self, kind: Kind, v: &str, span: (usize, usize)) -> Result<Expr> {
        let bad = |what: &str, example: &str| {
            self.error(span.0, span.1, format!("`{v}` is not {what}"))
                .with_help(format!("write e.g. {example}"))
        };
        Ok(match kind {
            Kind::Text => build::str(v),
            Kind::Integer => match v.parse::<i64>() {
                Ok(i) => build::lit(Literal::Int(i)),
                Err(_) => return Err(bad("an integer", "42")),
            },
            Kind::Decimal => {
                let plain = !v.is_empty()
                    && v.trim_start_matches('-')
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == '.')
                    && v.matches('.').count() <= 1
                    && v.trim_start_matches('-')
                        .chars()
                        .any(|c| c.is_ascii_digit());
                match (plain, v.contains('.'), v.parse::<f64>()) {
                    (true, false, _) => match v.parse::<i64>() {
                        Ok(i) => build::lit(Literal::Int(i)),
                        Err(_) => return Err(bad("a number Herald holds exactly", "1000.50")),
                    },
                    (true, true, Ok(f)) if f.is_finite() => build::lit(Literal::Dec(f)),
                    _ => return Err(bad("a decimal number", "1000.50")),
                }
            }
            Kind::Boolean => match v {
                "true" => build::bool(true),
                "false" => build::bool(false),
                _ => return Err(bad("a boolean", "true or false")),
            },
            Kind::Date => match crate::value::parse_date(v) {
                Some(d) => build::lit(Literal::Date(d)),
                None => return Err(bad("a date", "2026-01-31")),
            },
            Kind::DateTime => match crate::value::parse_datetime(v) {
                Some(t) => build::lit(Literal::DateTime(t)),
                None => return Err(bad("an RFC 3339 date-time", "2026-01-31T09:30:00+05:30")),
            },
        })
    }

    fn translate(
        &self,
        field: &str,
        (field_start, cmp_start): (usize, usize),
        comparator: &str,
        values: Vec<String>,
        value_span: (usize, usize),
    ) -> Result<Expr> {
        let path: Vec<String> = field.split('.').map(|s| s.trim().to_string()).collect();
        if path
            .iter()
            .any(|s| s.is_empty() || s.contains(['`', '\n', '\r']))
        {
            return Err(self.error(
                field_start,
                cmp_start,
                format!("`{field}` is not a field name Herald can write"),
            ));
        }
        let field_span = (field_start, cmp_start.saturating_sub(1));
        let kind = self.kind_of(&path, field_span)?;
        let x = build::path(&path);
        let many = matches!(comparator, "in" | "between");
        if !many && values.len() > 1 {
            return Err(self
                .error(
                    value_span.0,
                    value_span.1,
                    format!("an unescaped `,` in the value of `{comparator}`"),
                )
                .with_help("escape a comma that belongs to the value as \\,"));
        }
        let text_only = matches!(
            comparator,
            "starts_with" | "ends_with" | "contains" | "not_contains"
        );
        let ordering = matches!(
            comparator,
            "between" | "greater_than" | "greater_equal" | "less_than" | "less_equal"
        );
        let cmp_err = |msg: String, help: &str| {
            let mut r = self.error(cmp_start, value_span.0.saturating_sub(1), msg);
            r.construct = format!("`{comparator}`");
            r.with_help(help.to_string())
        };
        if text_only && kind != Kind::Text {
            return Err(cmp_err(
                format!("`{comparator}` works on text, and `{field}` is not text"),
                "compare numbers and dates with equals, greater_than, ...",
            ));
        }
        if ordering && kind == Kind::Text {
            return Err(cmp_err(
                if self.schema.is_none() {
                    format!(
                        "`{comparator}` needs to know whether `{field}` holds numbers, dates or text, and there is no schema"
                    )
                } else {
                    format!("`{comparator}` orders values, and `{field}` is text")
                },
                if self.schema.is_none() {
                    "import with --rules DIR (and --schema NAME) so that each field's type is known"
                } else {
                    "Zoho compares text fields with equals, contains, starts_with, ..."
                },
            ));
        }
        if kind == Kind::Boolean && !matches!(comparator, "equals" | "not_equal") {
            return Err(cmp_err(
                format!("`{comparator}` on the boolean field `{field}`"),
                "use equals or not_equal with true or false",
            ));
        }
        let lits = values
            .iter()
            .map(|v| self.literal(kind, v, value_span))
            .collect::<Result<Vec<_>>>()?;
        let one = || lits.first().cloned().unwrap_or_else(|| build::str(""));
        Ok(match comparator {
            "equals" => build::bin(BinOp::Eq, x, one()),
            "not_equal" => build::bin(BinOp::Ne, x, one()),
            "starts_with" => build::bin(BinOp::StartsWith, x, one()),
            "ends_with" => build::bin(BinOp::EndsWith, x, one()),
            "contains" => build::bin(BinOp::Contains, x, one()),
            "not_contains" => build::not(build::paren(build::bin(BinOp::Contains, x, one()))),
            "in" => build::bin(BinOp::In, x, build::list(lits)),
            "greater_than" => build::bin(BinOp::Gt, x, one()),
            "greater_equal" => build::bin(BinOp::Ge, x, one()),
            "less_than" => build::bin(BinOp::Lt, x, one()),
            "less_equal" => build::bin(BinOp::Le, x, one()),
            // "between": inclusive at both ends.
            _ => {
                let [lo, hi] = lits.as_slice() else {
                    return Err(self
                        .error(
                            value_span.0,
                            value_span.1,
                            format!("`between` takes two values, here {}", lits.len()),
                        )
                        .with_help("write (Field:between:low,high)"));
                };
                build::and(vec![
                    build::bin(BinOp::Ge, x.clone(), lo.clone()),
                    build::bin(BinOp::Le, x, hi.clone()),
                ])
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_example() {
        assert_eq!(
            import(
                "((Mailing_Country:equals:France)and(Subscription:equals:paid))",
                None
            ),
            Ok("Mailing_Country == \"France\" and Subscription == \"paid\"".to_string())
        );
    }
}
