//! The `herald` command line (CLI.md): check, fmt, test, route, explain, failures.

use clap::{Parser, Subcommand, ValueEnum};
use herald::diagnostics::{Severity, render, summary};
use herald::engine::Engine;
use herald::store::{FailureQuery, SqliteStore};
use herald::value::{Clock, FixedClock, SystemClock};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod cli;

/// mimalloc instead of the system allocator: `herald route` allocates and frees small values
/// for every event, and glibc's allocator was about a third of its CPU time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "herald",
    version,
    about = "Route CRM record events to customer-portal invitations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Github,
}

#[derive(Subcommand)]
enum Command {
    /// Parse, type-check and lint every `.herald` file under the paths.
    Check {
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Treat warnings as errors (exit 1).
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Rewrite the `.herald` files under the paths in the canonical layout.
    Fmt {
        /// Only list the files that would change (exit 1 if any); write nothing.
        #[arg(long)]
        check: bool,
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
    },
    /// Run the `test` blocks of the rule files under the paths.
    Test {
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
    },
    /// Route record events (JSON Lines) to invitations; the main job.
    Route {
        /// The rule set directory (or one rule file).
        #[arg(long)]
        rules: PathBuf,
        /// The events file (JSON Lines); standard input when absent.
        #[arg(long)]
        events: Option<PathBuf>,
        /// The log database.
        #[arg(long, default_value = "herald.db")]
        db: PathBuf,
        /// Also print skipped decisions.
        #[arg(long)]
        all: bool,
        /// Pin the clock (RFC 3339), for `today()`, `now()` and decision times.
        #[arg(long)]
        now: Option<String>,
    },
    /// Show, per portal, the decision for one record and why.
    Explain {
        /// The rule set directory (or one rule file).
        #[arg(long)]
        rules: PathBuf,
        /// The event kind.
        #[arg(long, default_value = "create")]
        event: String,
        /// Pin the clock (RFC 3339).
        #[arg(long)]
        now: Option<String>,
        /// The record, a JSON file (`-` for standard input).
        record: PathBuf,
    },
    /// Show the failed-invitation log, newest first.
    Failures {
        /// The log database.
        #[arg(long, default_value = "herald.db")]
        db: PathBuf,
        /// Only this portal.
        #[arg(long)]
        portal: Option<String>,
        /// Only this reason code.
        #[arg(long)]
        reason: Option<String>,
        /// Only failures since an RFC 3339 time or a duration ago (`7d`, `12h`, `30m`, `2w`).
        #[arg(long)]
        since: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Export conditions to other tools: `sql` (backfills), `jsonlogic`.
    #[command(subcommand)]
    Export(cli::interop::Export),
    /// Import conditions from other tools: `jsonlogic`, `zoho-criteria`.
    #[command(subcommand)]
    Import(cli::interop::Import),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    let code = match cli.command {
        Command::Export(what) => cli::interop::export(what),
        Command::Import(what) => cli::interop::import(what),
        Command::Check {
            paths,
            format,
            deny_warnings,
        } => check(&paths, format, deny_warnings),
        Command::Fmt { check, paths } => cli::fmt::run(&default_paths(paths), check),
        Command::Test { paths } => cli::test::run(&default_paths(paths)),
        Command::Route {
            rules,
            events,
            db,
            all,
            now,
        } => route(&rules, events.as_deref(), &db, all, now.as_deref()),
        Command::Explain {
            rules,
            event,
            now,
            record,
        } => cli::explain::run(&rules, &event, now.as_deref(), &record),
        Command::Failures {
            db,
            portal,
            reason,
            since,
            json,
        } => failures(&db, portal, reason, since.as_deref(), json),
    };
    ExitCode::from(code)
}

fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    }
}

/// Parses `--now`.
pub(crate) fn clock(now: Option<&str>) -> Result<Box<dyn Clock>, String> {
    match now {
        None => Ok(Box::new(SystemClock)),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Box::new(FixedClock(t.with_timezone(&chrono::Utc))) as Box<dyn Clock>)
            .map_err(|e| format!("--now `{s}` is not an RFC 3339 date-time ({e}); write e.g. 2026-01-31T09:30:00Z")),
    }
}

fn check(paths: &[PathBuf], format: Format, deny_warnings: bool) -> u8 {
    let paths = default_paths(paths.to_vec());
    let sets = match herald::load::discover(&paths) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut n_files = 0;
    let mut all = Vec::new();
    let mut json_items = Vec::new();
    let mut out = String::new();
    let color = std::io::stderr().is_terminal();
    for files in &sets {
        let loaded = herald::load::load_files(files);
        n_files += loaded.n_files;
        match format {
            Format::Human => {
                out.push_str(&render::human(&loaded.diagnostics, &loaded.sources, color))
            }
            Format::Json => json_items.extend(
                loaded
                    .diagnostics
                    .iter()
                    .map(|d| render::to_json(d, &loaded.sources)),
            ),
            Format::Github => out.push_str(&render::github(&loaded.diagnostics, &loaded.sources)),
        }
        all.extend(loaded.diagnostics);
    }
    match format {
        Format::Human => {
            eprint!("{out}");
            eprintln!("{}", summary(&all, n_files));
        }
        Format::Json => {
            cli::out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&json_items).unwrap_or_else(|_| "[]".into())
            ));
        }
        Format::Github => cli::out(&out),
    }
    let errors = all.iter().any(|d| d.severity == Severity::Error);
    let warnings = all.iter().any(|d| d.severity == Severity::Warning);
    if errors || (deny_warnings && warnings) {
        1
    } else {
        0
    }
}

/// Prints a rule set's diagnostics to stderr.
pub(crate) fn report_rules(loaded: &herald::load::Loaded) {
    let color = std::io::stderr().is_terminal();
    eprint!(
        "{}",
        render::human(&loaded.diagnostics, &loaded.sources, color)
    );
    eprintln!("{}", summary(&loaded.diagnostics, loaded.n_files));
}

/// Loads a rule set for `route` / `explain`; prints problems and gives the exit code on failure.
pub(crate) fn load_rules(path: &Path) -> Result<herald::rules::RuleSet, u8> {
    match herald::load::load(path) {
        Err(e) => {
            eprintln!("error: {e}");
            Err(2)
        }
        Ok(loaded) => match loaded.rule_set.clone() {
            Some(set) => {
                if !loaded.diagnostics.is_empty() {
                    report_rules(&loaded);
                }
                Ok(set)
            }
            None => {
                report_rules(&loaded);
                Err(1)
            }
        },
    }
}

fn route(rules: &Path, events: Option<&Path>, db: &Path, all: bool, now: Option<&str>) -> u8 {
    let clock = match clock(now) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let set = match load_rules(rules) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let input: Box<dyn Read + Send> = match events {
        None => Box::new(std::io::stdin()),
        Some(p) => match std::fs::File::open(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", p.display());
                return 2;
            }
        },
    };
    let store = match SqliteStore::open(db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let engine = match Engine::new(set, Box::new(store)) {
        Ok(e) => e.with_clock(clock),
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    cli::route::run(&engine, input, all)
}

fn failures(
    db: &Path,
    portal: Option<String>,
    reason: Option<String>,
    since: Option<&str>,
    json: bool,
) -> u8 {
    if !db.exists() {
        eprintln!(
            "error: no log database at `{}` (run `herald route` first, or pass --db)",
            db.display()
        );
        return 2;
    }
    let since = match since.map(cli::parse_since).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut store = match SqliteStore::open(db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let query = FailureQuery {
        portal,
        reason,
        since,
        until: None,
        limit: None,
    };
    let rows = match herald::store::Store::failures(&mut store, &query) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into())
        );
    } else {
        let _ = write!(out, "{}", cli::failure_table(&rows));
    }
    let _ = out.flush();
    0
}
