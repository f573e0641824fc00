//! `herald fmt [--check]`: rewrites rule files in the canonical layout, or lists those that would
//! change.
//!
//! Output contract (CLI.md): stdout lists the files that were (or, with `--check`, would be)
//! reformatted, one path a line; diagnostics of files that do not parse go to stderr. Exit 0 when
//! nothing is left to do, 1 when `--check` found a file to reformat or a file does not parse,
//! 2 when a path or a file cannot be read or written.

use herald::diagnostics::{Diagnostic, render};
use herald::span::Sources;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// What happened to one file.
enum Outcome {
    /// Already formatted.
    Same,
    /// Reformatted (or, with `--check`, would be).
    Changed,
    /// Not formatted: it does not parse (diagnostics printed).
    Invalid,
    /// Cannot be read or written (message printed).
    Unreadable,
}

/// Formats every `.herald` file under `paths`; returns the exit code.
pub fn run(paths: &[PathBuf], check: bool) -> u8 {
    let sets = match herald::load::discover(paths) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut code = 0;
    let mut n_changed = 0usize;
    for file in sets.iter().flatten() {
        match one(file, check) {
            Outcome::Same => {}
            Outcome::Changed => {
                // A closed pipe (`herald fmt --check | head -1`) must not make `println!` panic.
                let _ = writeln!(std::io::stdout().lock(), "{}", file.display());
                n_changed += 1;
                if check {
                    code = code.max(1);
                }
            }
            Outcome::Invalid => code = code.max(1),
            Outcome::Unreadable => code = 2,
        }
    }
    if check && n_changed > 0 {
        let s = if n_changed == 1 { "" } else { "s" };
        eprintln!("{n_changed} file{s} would be reformatted; run `herald fmt` to do it");
    }
    code
}

fn one(path: &Path, check: bool) -> Outcome {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", path.display());
            return Outcome::Unreadable;
        }
    };
    let (text, decode_problem) = herald::load::decode(&bytes);
    if let Some(d) = decode_problem {
        report(path, &text, vec![d]);
        return Outcome::Invalid;
    }
    let formatted = match herald::fmt::format_source(&text) {
        Ok(f) => f,
        Err(diags) => {
            report(path, &text, diags);
            return Outcome::Invalid;
        }
    };
    if formatted.as_bytes() == bytes.as_slice() {
        return Outcome::Same;
    }
    if !check {
        if let Err(e) = write_replacing(path, &formatted) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return Outcome::Unreadable;
        }
    }
    Outcome::Changed
}

/// Prints a file's diagnostics to stderr.
fn report(path: &Path, text: &str, diags: Vec<Diagnostic>) {
    let mut sources = Sources::new();
    let id = sources.add(path.display().to_string(), text);
    let diags: Vec<Diagnostic> = diags.into_iter().map(|d| d.in_source(id)).collect();
    let color = std::io::stderr().is_terminal();
    eprint!("{}", render::human(&diags, &sources, color));
    eprintln!("{}: not formatted (it does not parse)", path.display());
}

/// Replaces the file's content through a temporary file in the same directory, so that an
/// interrupted run leaves either the old or the new text, never half of it.
fn write_replacing(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.herald-fmt-{}", std::process::id()));
    let result = std::fs::write(&tmp, text)
        .and_then(|()| {
            if let Ok(meta) = std::fs::metadata(path) {
                std::fs::set_permissions(&tmp, meta.permissions())?;
            }
            Ok(())
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
