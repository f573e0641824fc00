//! Renderers: ariadne reports for people, JSON and GitHub annotations for machines (CLI.md).
//! This is the only module that imports ariadne.

use super::{Diagnostic, Severity};
use crate::span::{SourceId, Sources};
use serde::Serialize;

/// The JSON shape of one diagnostic, as `herald check --format json` prints it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JsonDiagnostic {
    /// The file name.
    pub file: String,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column of the start.
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based column of the end (exclusive).
    pub end_column: usize,
    /// `error`, `warning` or `info`.
    pub severity: Severity,
    /// The stable code.
    pub code: String,
    /// The message.
    pub message: String,
    /// The help line, if any.
    pub help: Option<String>,
    /// A record that shows the finding, for static-analysis lints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<serde_json::Value>,
}

/// Converts a diagnostic to its JSON shape.
pub fn to_json(d: &Diagnostic, sources: &Sources) -> JsonDiagnostic {
    let (file, start, end) = match sources.get(d.source) {
        Some(f) => (
            f.name.clone(),
            f.line_col(d.span.start),
            f.line_col(d.span.end),
        ),
        None => {
            let lc = crate::span::LineCol { line: 1, column: 1 };
            (String::from("<unknown>"), lc, lc)
        }
    };
    JsonDiagnostic {
        file,
        line: start.line,
        column: start.column,
        end_line: end.line,
        end_column: end.column,
        severity: d.severity,
        code: d.code.as_str().to_string(),
        message: d.message.clone(),
        help: d.help.clone(),
        witness: d.witness.clone(),
    }
}

/// All diagnostics as one pretty JSON array.
pub fn json(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let items: Vec<JsonDiagnostic> = diagnostics.iter().map(|d| to_json(d, sources)).collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| String::from("[]"))
}

/// Escapes a value for a GitHub workflow command (data part).
fn gh_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a value for a GitHub workflow command property.
fn gh_escape_prop(s: &str) -> String {
    gh_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One `::error file=...,line=...,col=...::code: message` line per diagnostic.
pub fn github(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let j = to_json(d, sources);
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut text = format!("{}: {}", j.code, j.message);
        if let Some(help) = &j.help {
            text.push_str("\nhelp: ");
            text.push_str(help);
        }
        out.push_str(&format!(
            "::{level} file={},line={},col={},endLine={},endColumn={}::{}\n",
            gh_escape_prop(&j.file),
            j.line,
            j.column,
            j.end_line,
            j.end_column,
            gh_escape_data(&text)
        ));
    }
    out
}

/// Renders diagnostics as ariadne reports (file, line, underline, help), without colour when
/// `color` is false (tests and pipes).
pub fn human(diagnostics: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let mut out = Vec::new();
    for d in diagnostics {
        render_one(d, sources, color, &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Cache<'a> {
    sources: &'a Sources,
    cached: Vec<(SourceId, ariadne::Source<String>)>,
}

impl<'a> Cache<'a> {
    fn new(sources: &'a Sources) -> Cache<'a> {
        Cache {
            sources,
            cached: Vec::new(),
        }
    }
}

impl ariadne::Cache<SourceId> for Cache<'_> {
    type Storage = String;

    fn fetch(&mut self, id: &SourceId) -> Result<&ariadne::Source<String>, impl std::fmt::Debug> {
        let pos = match self.cached.iter().position(|(i, _)| i == id) {
            Some(p) => p,
            None => {
                let text = self
                    .sources
                    .get(*id)
                    .map(|f| f.text.clone())
                    .unwrap_or_default();
                self.cached.push((*id, ariadne::Source::from(text)));
                self.cached.len() - 1
            }
        };
        match self.cached.get(pos) {
            Some((_, s)) => Ok(s),
            None => Err(String::from("source not found")),
        }
    }

    fn display<'b>(&self, id: &'b SourceId) -> Option<impl std::fmt::Display + 'b> {
        self.sources.get(*id).map(|f| f.name.clone())
    }
}

/// Converts a byte span to the character span ariadne expects.
fn char_range(sources: &Sources, id: SourceId, span: crate::span::Span) -> std::ops::Range<usize> {
    match sources.get(id) {
        Some(f) => {
            let to_chars = |b: usize| {
                let b = b.min(f.text.len());
                f.text.get(..b).map(|s| s.chars().count()).unwrap_or(b)
            };
            to_chars(span.start)..to_chars(span.end)
        }
        None => span.start..span.end,
    }
}

fn render_one(d: &Diagnostic, sources: &Sources, color: bool, out: &mut Vec<u8>) {
    use ariadne::{Color, Config, Label, Report, ReportKind};
    let kind = match d.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
        Severity::Info => ReportKind::Advice,
    };
    let primary_color = match d.severity {
        Severity::Error => Color::Red,
        Severity::Warning => Color::Yellow,
        Severity::Info => Color::Cyan,
    };
    let range = char_range(sources, d.source, d.span);
    let mut report = Report::build(kind, (d.source, range.clone()))
        .with_config(Config::default().with_color(color))
        .with_code(d.code.as_str())
        .with_message(&d.message)
        .with_label(
            Label::new((d.source, range))
                .with_message(d.label.clone().unwrap_or_else(|| d.message.clone()))
                .with_color(primary_color),
        );
    for l in &d.secondary {
        report = report.with_label(
            Label::new((l.source, char_range(sources, l.source, l.span)))
                .with_message(&l.message)
                .with_color(Color::Blue),
        );
    }
    if let Some(help) = &d.help {
        report = report.with_help(help);
    }
    if let Some(w) = &d.witness {
        report = report.with_note(format!("for example: {w}"));
    }
    let mut cache = Cache::new(sources);
    if report.finish().write(&mut cache, &mut *out).is_err() {
        // Fall back to one plain line; rendering must never lose a diagnostic.
        out.extend_from_slice(format!("{d}\n").as_bytes());
    }
}
