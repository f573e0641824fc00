//! A linear pre-scan run before the parser: source size, NUL bytes, bracket balance and nesting
//! depth. It guarantees that the recursive parser and every later recursive pass see at most
//! [`MAX_DEPTH`] levels, so no input can overflow the stack.

use crate::diagnostics::{Code, Diagnostic};
use crate::span::Span;

/// Deepest nesting of brackets and `not`s accepted (LANGUAGE.md, "Limits").
pub const MAX_DEPTH: usize = 256;
/// Largest source text accepted, in bytes (LANGUAGE.md, "Limits").
pub const MAX_SOURCE_BYTES: usize = 1 << 20;

struct Level {
    open: u8,
    at: usize,
    pending_nots: usize,
}

/// What the pre-scan found: the problems, and the deepest nesting seen.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Every problem found; empty means the parser may run.
    pub diags: Vec<Diagnostic>,
    /// The deepest nesting of brackets and `not`s seen (up to where the scan stopped).
    pub max_depth: usize,
}

/// Checks size, NUL bytes, bracket balance and nesting depth. Returns every problem found; an
/// empty vector means the parser may run.
pub fn prescan(src: &str) -> Vec<Diagnostic> {
    scan(src).diags
}

/// Like [`prescan`], also returning the deepest nesting, which tells the parser how much stack
/// it needs (see `syntax::on_parse_stack`).
pub fn scan(src: &str) -> Scan {
    let (diags, max_depth) = scan_inner(src);
    Scan { diags, max_depth }
}

fn scan_inner(src: &str) -> (Vec<Diagnostic>, usize) {
    let mut max_depth = 0usize;
    let mut diags = Vec::new();
    if src.len() > MAX_SOURCE_BYTES {
        // The span is the first character past the limit rather than everything after it: a
        // renderer prints every line a span covers, and that could be a megabyte.
        let mut start = MAX_SOURCE_BYTES;
        while !src.is_char_boundary(start) {
            start -= 1;
        }
        let end = start
            + src
                .get(start..)
                .and_then(|t| t.chars().next())
                .map_or(1, char::len_utf8);
        diags.push(
            Diagnostic::error(
                Code::SourceTooLarge,
                Span::new(start, end),
                format!(
                    "the source is {} bytes, over the limit of {} bytes (1 MiB)",
                    src.len(),
                    MAX_SOURCE_BYTES
                ),
            )
            .with_label("the limit is reached here")
            .with_help("split the rules into several files"),
        );
        return (diags, max_depth);
    }
    if let Some(pos) = memchr::memchr(0, src.as_bytes()) {
        diags.push(
            Diagnostic::error(
                Code::Syntax,
                Span::new(pos, pos + 1),
                format!("NUL byte at byte offset {pos}"),
            )
            .with_label("NUL byte")
            .with_help("rule files are text; remove the NUL byte (was a binary file given?)"),
        );
        return (diags, max_depth);
    }
    let bytes = src.as_bytes();
    let mut stack: Vec<Level> = Vec::new();
    let mut top_nots = 0usize;
    // The sum of `pending_nots` over `stack`, kept up to date so that the depth is O(1).
    let mut nested_nots = 0usize;
    let mut depth_reported = false;
    let mut prev_word: &str = "";
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
            }
            b'#' => {
                // As the grammar's `comment_text`: to a line feed or a carriage return.
                i = memchr::memchr2(b'\n', b'\r', &bytes[i..]).map_or(bytes.len(), |n| i + n);
            }
            b'"' | b'\'' | b'`' => {
                // A string or label: skip to its closing quote or the end of the line. The
                // parser reports an unterminated one; here it only must not hide brackets.
                let quote = b;
                i += 1;
                loop {
                    // The next quote, line end (`\n` or `\r`, as in the grammar) or, in a
                    // double-quoted string, backslash.
                    let rest = bytes.get(i..).unwrap_or(&[]);
                    let found = rest.iter().position(|&c| {
                        c == quote || c == b'\n' || c == b'\r' || (c == b'\\' && quote == b'"')
                    });
                    match found {
                        Some(n) if rest[n] == b'\\' => i += n + 2,
                        Some(n) => {
                            i += n;
                            break;
                        }
                        None => {
                            i = bytes.len();
                            break;
                        }
                    }
                }
                i += 1;
                reset_nots(&mut stack, &mut top_nots, &mut nested_nots);
                prev_word = "";
            }
            b'(' | b'[' | b'{' => {
                stack.push(Level {
                    open: b,
                    at: i,
                    pending_nots: 0,
                });
                let depth = current_depth(&stack, top_nots, nested_nots);
                max_depth = max_depth.max(depth);
                if depth > MAX_DEPTH && !depth_reported {
                    depth_reported = true;
                    diags.push(too_deep(i, i + 1));
                }
                i += 1;
                prev_word = "";
            }
            b')' | b']' | b'}' => {
                let want = match b {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                match stack.last() {
                    Some(level) if level.open == want => {
                        if let Some(closed) = stack.pop() {
                            nested_nots -= closed.pending_nots;
                        }
                    }
                    Some(level) => {
                        let open = level.open as char;
                        let at = level.at;
                        diags.push(
                            Diagnostic::error(
                                Code::Syntax,
                                Span::new(i, i + 1),
                                format!("`{}` does not close `{}`", b as char, open),
                            )
                            .with_label("unbalanced bracket")
                            .with_secondary(Span::new(at, at + 1), format!("`{open}` opened here"))
                            .with_help(format!(
                                "close `{open}` with `{}` first",
                                closer_of(level.open)
                            )),
                        );
                        return (diags, max_depth);
                    }
                    None => {
                        diags.push(
                            Diagnostic::error(
                                Code::Syntax,
                                Span::new(i, i + 1),
                                format!("unbalanced `{}`: nothing to close", b as char),
                            )
                            .with_label("no matching opening bracket")
                            .with_help(format!(
                                "remove this `{}` or add a matching `{}` before it",
                                b as char, want as char
                            )),
                        );
                        return (diags, max_depth);
                    }
                }
                reset_nots(&mut stack, &mut top_nots, &mut nested_nots);
                i += 1;
                prev_word = "";
            }
            b'!' if bytes.get(i + 1) != Some(&b'=') => {
                bump_not(&mut stack, &mut top_nots, &mut nested_nots);
                let depth = current_depth(&stack, top_nots, nested_nots);
                max_depth = max_depth.max(depth);
                if depth > MAX_DEPTH && !depth_reported {
                    depth_reported = true;
                    diags.push(too_deep(i, i + 1));
                }
                i += 1;
                prev_word = "";
            }
            _ if b.is_ascii_alphanumeric() || b == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = src.get(start..i).unwrap_or("");
                if word == "not" && prev_word != "is" && next_word(bytes, i) != "in" {
                    bump_not(&mut stack, &mut top_nots, &mut nested_nots);
                    let depth = current_depth(&stack, top_nots, nested_nots);
                    max_depth = max_depth.max(depth);
                    if depth > MAX_DEPTH && !depth_reported {
                        depth_reported = true;
                        diags.push(too_deep(start, i));
                    }
                } else {
                    reset_nots(&mut stack, &mut top_nots, &mut nested_nots);
                }
                prev_word = word;
            }
            _ => {
                // Any other character: operators, digits' signs, multi-byte UTF-8.
                reset_nots(&mut stack, &mut top_nots, &mut nested_nots);
                let len = src
                    .get(i..)
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                i += len;
                prev_word = "";
            }
        }
    }
    if let Some(level) = stack.last() {
        let open = level.open as char;
        diags.push(
            Diagnostic::error(
                Code::Syntax,
                Span::new(level.at, level.at + 1),
                format!("unclosed `{open}`"),
            )
            .with_label("opened here and never closed")
            .with_help(format!(
                "add `{}` to close it, or remove it",
                closer_of(level.open)
            )),
        );
    }
    (diags, max_depth)
}

fn closer_of(open: u8) -> char {
    match open {
        b'(' => ')',
        b'[' => ']',
        _ => '}',
    }
}

fn too_deep(start: usize, end: usize) -> Diagnostic {
    Diagnostic::error(
        Code::NestingTooDeep,
        Span::new(start, end),
        format!("nesting is deeper than {MAX_DEPTH} levels"),
    )
    .with_label("this level is too deep")
    .with_help("remove redundant parentheses or `not`s, or split the condition")
}

fn current_depth(stack: &[Level], top_nots: usize, nested_nots: usize) -> usize {
    stack.len() + top_nots + nested_nots
}

fn bump_not(stack: &mut [Level], top_nots: &mut usize, nested_nots: &mut usize) {
    match stack.last_mut() {
        Some(level) => {
            level.pending_nots += 1;
            *nested_nots += 1;
        }
        None => *top_nots += 1,
    }
}

fn reset_nots(stack: &mut [Level], top_nots: &mut usize, nested_nots: &mut usize) {
    match stack.last_mut() {
        Some(level) => {
            *nested_nots -= level.pending_nots;
            level.pending_nots = 0;
        }
        None => *top_nots = 0,
    }
}

/// The next identifier-like word after `i`, skipping whitespace (not comments).
fn next_word(bytes: &[u8], mut i: usize) -> &str {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    let start = i;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    std::str::from_utf8(bytes.get(start..i).unwrap_or(&[])).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balanced(src: &str) -> bool {
        scan(src).diags.is_empty()
    }

    #[test]
    fn brackets_inside_strings_labels_and_comments_are_not_counted() {
        assert!(balanced(r#"a == "(" and b == "\")" and `[x` == 1 # ( [ {"#));
        assert!(balanced("a == 'x)' and b\n# ]\n"));
        // An unterminated string ends at its line: the bracket on the next line counts.
        assert!(!balanced("a == \"x\n)"));
        assert!(!balanced("a == \"x\r)"));
        // A comment ends at a line feed or a lone carriage return, as in the grammar.
        assert!(!balanced("a # (\r)"));
        assert!(balanced("(a # )\r)"));
        // A backslash escapes the next byte, even a line break or the closing quote.
        assert!(balanced("a == \"x\\\n)\""));
        assert!(balanced("a == \"x\\\""));
        assert!(balanced("a == \"x\\"));
        // Only double-quoted strings have escapes.
        assert!(!balanced("a == 'x\\' )"));
    }

    #[test]
    fn nul_bytes_and_depth() {
        assert!(!balanced("a == \"\0\""));
        let deep = format!(
            "{}a{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(!balanced(&deep));
        let ok = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(balanced(&ok));
        assert_eq!(scan(&ok).max_depth, MAX_DEPTH);
    }
}
