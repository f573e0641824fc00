//! Loading rule sets from disk: finding `.herald` files, decoding them (UTF-8, BOM, CRLF),
//! parsing and checking. The only module of the compiler pipeline that reads files.

use crate::check::rules;
use crate::diagnostics::{Code, Diagnostic};
use crate::rules::RuleSet;
use crate::span::{SourceId, Sources, Span};
use std::path::{Path, PathBuf};

/// Most `.herald` files one rule set may have.
pub const MAX_FILES: usize = 10_000;

/// The outcome of loading one rule set.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Every source read (rule files and schema files).
    pub sources: Sources,
    /// The rule set, when there is no error.
    pub rule_set: Option<RuleSet>,
    /// Every error and warning.
    pub diagnostics: Vec<Diagnostic>,
    /// Number of rule files.
    pub n_files: usize,
}

/// A path that cannot be used at all (not found, unreadable directory).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The path does not exist or cannot be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The directory holds no rule file.
    #[error("no `.herald` files in `{0}`")]
    NoRuleFiles(String),
    /// Too many files.
    #[error("`{0}` holds more than {MAX_FILES} `.herald` files")]
    TooManyFiles(String),
}

/// Decodes file bytes: strips a UTF-8 BOM; invalid UTF-8 gives an `unreadable-file` diagnostic
/// at the byte offset (and the text decoded lossily so the rest can still be shown), and so
/// does a NUL byte. Both messages give the offset in the file, BOM included.
pub fn decode(bytes: &[u8]) -> (String, Option<Diagnostic>) {
    let bom = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let bytes = bytes.get(bom..).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            // The parser's pre-scan refuses NUL bytes too, but only knows offsets in the text
            // without the BOM.
            let nul = s.bytes().position(|b| b == 0).map(|at| {
                Diagnostic::error(
                    Code::UnreadableFile,
                    Span::new(at, at + 1),
                    format!("NUL byte at byte offset {}", at + bom),
                )
                .with_label("NUL byte")
                .with_help("rule files are text; remove the NUL byte (was a binary file given?)")
            });
            (s.to_string(), nul)
        }
        Err(e) => {
            // The span is in the decoded text (without the BOM); the message gives the offset
            // in the file, as a hex editor shows it.
            let at = e.valid_up_to();
            let d = Diagnostic::error(
                Code::UnreadableFile,
                Span::new(at, at),
                format!("invalid UTF-8 at byte offset {}", at + bom),
            )
            .with_label("not UTF-8")
            .with_help("save the file as UTF-8 (a Latin-1 or Windows-1252 editor setting is the usual cause)");
            (String::from_utf8_lossy(bytes).into_owned(), Some(d))
        }
    }
}

/// The `.herald` files of a rule set: the file itself, or the files directly in a directory,
/// sorted by name.
pub fn rule_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |source| LoadError::Io {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if p.extension().is_some_and(|e| e == "herald") && p.is_file() {
            files.push(p);
            if files.len() > MAX_FILES {
                return Err(LoadError::TooManyFiles(path.display().to_string()));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Every rule set under `paths`: each directory that directly holds `.herald` files is one rule
/// set; a file given by name is a rule set of its own. Sorted by directory.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<Vec<PathBuf>>, LoadError> {
    let mut sets = Vec::new();
    for path in paths {
        let before = sets.len();
        let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if meta.is_file() {
            sets.push(vec![path.clone()]);
            continue;
        }
        let mut dirs = vec![path.clone()];
        while let Some(dir) = dirs.pop() {
            let files = rule_files(&dir)?;
            if !files.is_empty() {
                sets.push(files);
            }
            let mut subdirs = Vec::new();
            let entries = std::fs::read_dir(&dir).map_err(|source| LoadError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            for entry in entries.flatten() {
                let p = entry.path();
                let hidden = p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.') || n == "target");
                if p.is_dir() && !hidden && !entry.file_type().is_ok_and(|t| t.is_symlink()) {
                    subdirs.push(p);
                }
            }
            subdirs.sort();
            subdirs.reverse();
            dirs.extend(subdirs);
        }
        // A directory with no rule file at all is most likely a wrong path: say so rather than
        // report "0 errors".
        if sets.len() == before {
            return Err(LoadError::NoRuleFiles(path.display().to_string()));
        }
    }
    sets.sort();
    Ok(sets)
}

/// Loads and checks the rule set at `path` (a directory or one file).
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let files = rule_files(path)?;
    if files.is_empty() {
        return Err(LoadError::NoRuleFiles(path.display().to_string()));
    }
    Ok(load_files(&files))
}

/// Loads and checks the given rule files as one rule set.
pub fn load_files(files: &[PathBuf]) -> Loaded {
    let mut texts = Vec::new();
    let mut early = Vec::new();
    for f in files {
        match std::fs::read(f) {
            Ok(bytes) => {
                let (text, diag) = decode(&bytes);
                texts.push((f.display().to_string(), text, diag));
            }
            Err(e) => early.push((f.display().to_string(), e.to_string())),
        }
    }
    let mut resolver = |from: &str, rel: &str| -> Result<(String, String), String> {
        let base = Path::new(from).parent().unwrap_or(Path::new("."));
        let path = base.join(rel);
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("there is no file `{}`", path.display()),
            _ => format!("{e} (`{}`)", path.display()),
        })?;
        let (text, diag) = decode(&bytes);
        if let Some(d) = diag {
            return Err(d.message);
        }
        Ok((path.display().to_string(), text))
    };
    let mut loaded = check_texts(texts, &mut resolver);
    for (name, message) in early {
        let id = loaded.sources.add(name, "");
        loaded.diagnostics.push(
            Diagnostic::error(
                Code::UnreadableFile,
                Span::default(),
                format!("cannot read the file: {message}"),
            )
            .in_source(id),
        );
        loaded.rule_set = None;
    }
    loaded
}

/// Parses and checks rule texts (name, text, decoding problem) as one rule set. Hosts that keep
/// rules elsewhere than on disk call this with their own schema resolver.
pub fn check_texts(
    texts: Vec<(String, String, Option<Diagnostic>)>,
    resolve: &mut rules::SchemaResolver<'_>,
) -> Loaded {
    let mut sources = Sources::new();
    let mut diagnostics = Vec::new();
    let mut parsed = Vec::new();
    let mut partial = rules::Partial::default();
    let n_files = texts.len();
    for (name, text, decode_diag) in texts {
        let (ast, diags) = if decode_diag.is_some() {
            (None, Vec::new())
        } else {
            crate::syntax::parse_rule_file(&text)
        };
        if ast.is_none() {
            // The file does not parse at all: its schemas and portals are still declared, so
            // other files naming them must not get "unknown" errors too.
            let (schemas, portals) = declared_names(&text);
            partial.schemas.extend(schemas);
            partial.portals.extend(portals);
        }
        let id: SourceId = sources.add(name, text);
        if let Some(d) = decode_diag {
            diagnostics.push(d.in_source(id));
        }
        let has_errors = diags.iter().any(Diagnostic::is_error);
        diagnostics.extend(diags.into_iter().map(|d| d.in_source(id)));
        if let Some(ast) = ast {
            // Lowering goes on after an error, so a file with errors still has an AST (lacking
            // the lines that failed): check it too, so that one run reports every error.
            if has_errors {
                partial.incomplete.push(id);
            }
            parsed.push((id, ast));
        }
    }
    let syntax_failed = diagnostics.iter().any(Diagnostic::is_error);
    let (rule_set, check_diags, sources) =
        rules::check_partial(sources, &parsed, &partial, resolve);
    // In a file with syntax errors, a checker finding that overlaps one of them is a consequence
    // of it (`a == b == c` is reported as chained, not also as comparing a boolean with `c`).
    let syntax_spans: Vec<(SourceId, Span)> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| (d.source, d.span))
        .collect();
    diagnostics.extend(check_diags.into_iter().filter(|d| {
        !partial.incomplete.contains(&d.source)
            || !syntax_spans
                .iter()
                .any(|(src, s)| *src == d.source && s.start < d.span.end && d.span.start < s.end)
    }));
    sort_diagnostics(&mut diagnostics);
    Loaded {
        rule_set: if syntax_failed { None } else { rule_set },
        sources,
        diagnostics,
        n_files,
    }
}

/// The schema and portal names a rule file declares, found line by line without the parser
/// (for files with a syntax error): `schema Name` and `portal "Name"` at the start of a line.
fn declared_names(text: &str) -> (Vec<String>, Vec<String>) {
    let mut schemas = Vec::new();
    let mut portals = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if let Some(rest) = line.strip_prefix("schema") {
            if rest.starts_with([' ', '\t']) {
                let name: String = rest
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    schemas.push(name);
                }
            }
        } else if let Some(rest) = line.strip_prefix("portal") {
            if let Some(quoted) = rest.trim_start().strip_prefix('"') {
                if let Some(end) = quoted.find('"') {
                    portals.push(quoted.get(..end).unwrap_or("").to_string());
                }
            }
        }
    }
    (schemas, portals)
}

/// Orders diagnostics by file, then position.
pub fn sort_diagnostics(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| (d.source, d.span.start, d.span.end));
}
