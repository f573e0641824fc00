//! Diagnostics as data: codes, severities, labels and help; rendered at the edge by [`render`].

pub mod render;

use crate::span::{SourceId, Span};
use serde::Serialize;
use std::fmt;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational; never fails a check.
    Info,
    /// A likely mistake; fails `herald check --deny-warnings`.
    Warning,
    /// The rule set cannot be used.
    Error,
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// A stable, kebab-case diagnostic code. `docs/diagnostics.md` lists each with an example.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The kebab-case name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// The code with this kebab-case name.
            pub fn from_name(name: &str) -> Option<Code> {
                match name {
                    $($name => Some(Code::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    /// The text does not follow the grammar.
    Syntax = "syntax",
    /// Parentheses, brackets, braces or `not`s nested deeper than 256 levels.
    NestingTooDeep = "nesting-too-deep",
    /// A source text over 1 MiB.
    SourceTooLarge = "source-too-large",
    /// A list literal with more than 100,000 elements.
    ListTooLarge = "list-too-large",
    /// A literal that cannot be represented: integer out of range, invalid date, bad escape.
    InvalidLiteral = "invalid-literal",
    /// A call of a function Herald does not know.
    UnknownFunction = "unknown-function",
    /// A function called with the wrong number of arguments.
    WrongArgumentCount = "wrong-argument-count",
    /// A field path that the schema does not declare.
    UnknownField = "unknown-field",
    /// An operator applied to operands of types it does not accept.
    TypeMismatch = "type-mismatch",
    /// A picklist or multiselect value that the schema does not allow.
    UnknownPicklistValue = "unknown-picklist-value",
    /// A comparison with `null` (`x == null`), which is always unknown.
    NullComparison = "null-comparison",
    /// A `matches` pattern that is not a valid regular expression.
    InvalidRegex = "invalid-regex",
    /// A list literal that mixes types or contains `null`.
    InvalidList = "invalid-list",
    /// A language tag that is not well-formed BCP 47.
    InvalidLanguageTag = "invalid-language-tag",
    /// The same language twice in one portal.
    DuplicateLanguage = "duplicate-language",
    /// Two schemas, portals or tests with the same name in one rule set.
    DuplicateName = "duplicate-name",
    /// `records` names a schema that does not exist.
    UnknownSchema = "unknown-schema",
    /// A field type that does not exist.
    UnknownType = "unknown-type",
    /// A schema loaded from JSON field metadata that cannot be read or understood.
    InvalidSchemaFile = "invalid-schema-file",
    /// A schema field declared twice.
    DuplicateField = "duplicate-field",
    /// Identity fields missing from the schema or of the wrong type.
    InvalidIdentity = "invalid-identity",
    /// An `invite ... otherwise` line that is not the last `invite` line.
    OtherwiseNotLast = "otherwise-not-last",
    /// A portal with no `invite` line.
    NoInvite = "no-invite",
    /// A line in a portal block that starts with an unknown key.
    UnknownKey = "unknown-key",
    /// A portal key given twice (`require`, `status`, ...).
    DuplicateKey = "duplicate-key",
    /// A value that a portal key does not accept (`status sleeping`, `on delete`).
    InvalidValue = "invalid-value",
    /// A `test` block that cannot run: no record, bad JSON, unknown portal, unknown reason.
    InvalidTest = "invalid-test",
    /// A rule file that cannot be read (not UTF-8, contains NUL bytes, I/O error).
    UnreadableFile = "unreadable-file",
    /// A condition that no record can make true.
    AlwaysFalse = "always-false",
    /// A condition that every record makes true.
    AlwaysTrue = "always-true",
    /// A language branch that earlier branches always take first.
    UnreachableBranch = "unreachable-branch",
    /// Two language branches that some record satisfies both.
    OverlappingBranches = "overlapping-branches",
    /// An `otherwise` line that earlier branches always take first.
    OtherwiseUnreachable = "otherwise-unreachable",
    /// Two portals that invite the same record.
    PortalOverlap = "portal-overlap",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secondary location with a short note.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// The file.
    pub source: SourceId,
    /// The place.
    pub span: Span,
    /// The note shown under it.
    pub message: String,
}

/// One error, warning or note about a source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Stable code.
    pub code: Code,
    /// How serious it is.
    pub severity: Severity,
    /// One lowercase line, user text in backticks, no final period.
    pub message: String,
    /// The file of the primary span.
    pub source: SourceId,
    /// The primary span.
    pub span: Span,
    /// A note under the primary span (defaults to the message when empty).
    pub label: Option<String>,
    /// Other places that explain it.
    pub secondary: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
    /// A concrete record that shows the finding (static analysis).
    pub witness: Option<serde_json::Value>,
}

impl Diagnostic {
    /// An error with a code, a span and a message.
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            source: SourceId::default(),
            span,
            label: None,
            secondary: Vec::new(),
            help: None,
            witness: None,
        }
    }

    /// A warning with a code, a span and a message.
    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    /// Adds the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Sets the note under the primary span.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Adds a secondary label in the same file.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            source: self.source,
            span,
            message: message.into(),
        });
        self
    }

    /// Moves the diagnostic (and its secondary labels in the same file) to a file.
    pub fn in_source(mut self, source: SourceId) -> Diagnostic {
        let old = self.source;
        self.source = source;
        for label in &mut self.secondary {
            if label.source == old {
                label.source = source;
            }
        }
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}]: {}",
            self.severity.as_str(),
            self.code,
            self.message
        )?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// Counts errors and warnings for the summary line.
pub fn summary(diagnostics: &[Diagnostic], n_files: usize) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    format!(
        "{}, {} in {}",
        plural(errors, "error"),
        plural(warnings, "warning"),
        plural(n_files, "file")
    )
}
