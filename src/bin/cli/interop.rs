//! `herald export sql|jsonlogic` and `herald import jsonlogic|zoho-criteria`: the command-line
//! side of `herald::interop` (argument handling, input, error display, exit codes).

use clap::Subcommand;
use herald::condition::Condition;
use herald::interop::{Refusal, jsonlogic, sql, zoho};
use herald::rules::RuleSet;
use herald::schema::Schema;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

/// `herald export ...`
#[derive(Subcommand)]
pub enum Export {
    /// Print, for one portal, the SQL SELECT that returns `id` and `language` for every row of a
    /// table of records that the portal's conditions invite (a backfill).
    Sql {
        /// The rule set directory (or one rule file).
        #[arg(long)]
        rules: PathBuf,
        /// The portal (needed when the rule set has several).
        #[arg(long)]
        portal: Option<String>,
        /// The SQL dialect: sqlite or postgres.
        #[arg(long, default_value = "sqlite")]
        dialect: String,
        /// The table (default: the portal's schema name); `schema.table` is quoted part by part.
        #[arg(long)]
        table: Option<String>,
        /// The instant `today()` and `now()` are pinned to (RFC 3339); default: now, to the second.
        #[arg(long)]
        now: Option<String>,
    },
    /// Print a condition as a JsonLogic rule that is true exactly when the condition is true.
    Jsonlogic {
        /// The condition's source text (`-`: read it from standard input).
        condition: String,
        /// A rule set whose schema types the condition's fields.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// The schema to use (needed when the rule set has several).
        #[arg(long)]
        schema: Option<String>,
    },
}

/// `herald import ...`
#[derive(Subcommand)]
pub enum Import {
    /// Print the Herald condition for a JsonLogic rule (a JSON file, or `-` for standard input).
    Jsonlogic {
        /// The JSON file; standard input when absent or `-`.
        file: Option<PathBuf>,
        /// A rule set whose schema types the rule's fields.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// The schema to use (needed when the rule set has several).
        #[arg(long)]
        schema: Option<String>,
    },
    /// Print the Herald condition for Zoho CRM search criteria.
    ZohoCriteria {
        /// The criteria, e.g. `((Mailing_Country:equals:France)and(Subscription:equals:paid))`.
        criteria: String,
        /// A rule set whose schema types the fields (numbers, dates, booleans).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// The schema to use (needed when the rule set has several).
        #[arg(long)]
        schema: Option<String>,
    },
}

/// Runs `herald export`; returns the exit code.
pub fn export(cmd: Export) -> u8 {
    match cmd {
        Export::Sql {
            rules,
            portal,
            dialect,
            table,
            now,
        } => export_sql(
            &rules,
            portal.as_deref(),
            &dialect,
            table.as_deref(),
            now.as_deref(),
        ),
        Export::Jsonlogic {
            condition,
            rules,
            schema,
        } => export_jsonlogic(&condition, rules.as_deref(), schema.as_deref()),
    }
}

/// Runs `herald import`; returns the exit code.
pub fn import(cmd: Import) -> u8 {
    match cmd {
        Import::Jsonlogic {
            file,
            rules,
            schema,
        } => import_jsonlogic(file.as_deref(), rules.as_deref(), schema.as_deref()),
        Import::ZohoCriteria {
            criteria,
            rules,
            schema,
        } => import_zoho(&criteria, rules.as_deref(), schema.as_deref()),
    }
}

/// `error: <what>: <message>`, the location in a rule file when known, and the help line.
fn report(what: &str, r: &Refusal, set: Option<&RuleSet>) {
    eprintln!("error: {what}: {}", r.message);
    if let (Some(set), Some(src), Some(span)) = (set, r.source, r.span) {
        if let Some(file) = set.sources.get(src) {
            let lc = file.line_col(span.start);
            eprintln!("  --> {}:{}:{}", file.name, lc.line, lc.column);
            let snippet = file.slice(span);
            if !snippet.is_empty() && !snippet.contains('\n') {
                eprintln!("   | {snippet}");
            }
        }
    }
    if let Some(h) = &r.help {
        eprintln!("  help: {h}");
    }
}

/// Reads a text argument that may be `-` (standard input).
fn text_arg(arg: &str, what: &str) -> Result<String, u8> {
    if arg != "-" {
        return Ok(arg.to_string());
    }
    let mut s = String::new();
    match std::io::stdin().read_to_string(&mut s) {
        Ok(_) => Ok(s),
        Err(e) => {
            eprintln!("error: cannot read {what} from standard input: {e}");
            Err(2)
        }
    }
}

/// The schema named by `--rules` / `--schema`: none without `--rules`; the only one, or the one
/// named, with it.
fn schema_of(rules: Option<&Path>, name: Option<&str>) -> Result<Option<Schema>, u8> {
    let Some(rules) = rules else {
        if let Some(n) = name {
            eprintln!("error: --schema {n} needs --rules DIR, the rule set that declares it");
            return Err(2);
        }
        return Ok(None);
    };
    let set = crate::load_rules(rules)?;
    let names: Vec<&str> = set.schemas.iter().map(|s| s.name.as_str()).collect();
    match name {
        Some(n) => match set.schemas.iter().find(|s| s.name == n) {
            Some(s) => Ok(Some(s.clone())),
            None => {
                let hint = herald::schema::did_you_mean(n, names.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                eprintln!(
                    "error: the rule set has no schema `{n}`{hint}; its schemas: {}",
                    names.join(", ")
                );
                Err(2)
            }
        },
        None => match set.schemas.as_slice() {
            [] => Ok(None),
            [only] => Ok(Some(only.clone())),
            _ => {
                eprintln!(
                    "error: the rule set has several schemas; choose one with --schema ({})",
                    names.join(", ")
                );
                Err(2)
            }
        },
    }
}

fn export_sql(
    rules: &Path,
    portal: Option<&str>,
    dialect: &str,
    table: Option<&str>,
    now: Option<&str>,
) -> u8 {
    let Some(dialect) = sql::Dialect::parse(dialect) else {
        eprintln!(
            "error: --dialect `{dialect}` is not a SQL dialect Herald writes; write sqlite or postgres"
        );
        return 2;
    };
    let now = match now {
        Some(s) => match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(t) => t.with_timezone(&chrono::Utc),
            Err(e) => {
                eprintln!(
                    "error: --now `{s}` is not an RFC 3339 date-time ({e}); write e.g. 2026-01-31T09:30:00Z"
                );
                return 2;
            }
        },
        None => {
            let t = chrono::Utc::now();
            t - chrono::Duration::nanoseconds(i64::from(chrono::Timelike::nanosecond(&t)))
        }
    };
    let set = match crate::load_rules(rules) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let names: Vec<&str> = set.portals.iter().map(|p| p.name.as_str()).collect();
    let idx = match portal {
        Some(p) => match set.portals.iter().position(|x| x.name == p) {
            Some(i) => i,
            None => {
                let hint = herald::schema::did_you_mean(p, names.iter().copied())
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_default();
                eprintln!(
                    "error: the rule set has no portal \"{p}\"{hint}; its portals: {}",
                    quoted(&names)
                );
                return 2;
            }
        },
        None => match names.len() {
            1 => 0,
            0 => {
                eprintln!("error: the rule set has no portal to export");
                return 1;
            }
            _ => {
                eprintln!(
                    "error: the rule set has {} portals; choose one with --portal: {}",
                    names.len(),
                    quoted(&names)
                );
                return 2;
            }
        },
    };
    let opts = sql::Options { dialect, now };
    match sql::portal(&set, idx, table, &opts) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(r) => {
            let name = names.get(idx).copied().unwrap_or("");
            report(
                &format!("portal \"{name}\" cannot be exported to SQL"),
                &r,
                Some(&set),
            );
            1
        }
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn export_jsonlogic(condition: &str, rules: Option<&Path>, schema: Option<&str>) -> u8 {
    let source = match text_arg(condition, "the condition") {
        Ok(s) => s,
        Err(code) => return code,
    };
    let schema = match schema_of(rules, schema) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let cond = match Condition::compile(source.trim_end(), schema.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{}", e.render());
            return 1;
        }
    };
    match jsonlogic::export_condition(&cond) {
        Ok(rule) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&rule).unwrap_or_else(|_| rule.to_string())
            );
            0
        }
        Err(r) => {
            report("the condition cannot be exported to JsonLogic", &r, None);
            if let Some(span) = r.span {
                caret(cond.source(), span);
            }
            1
        }
    }
}

/// The source line under a span, with carets (single-line inputs: conditions, criteria).
fn caret(text: &str, span: herald::span::Span) {
    if text.contains('\n') {
        return;
    }
    let start = text.get(..span.start).map_or(0, |s| s.chars().count());
    let len = text
        .get(span.start..span.end)
        .map_or(1, |s| s.chars().count().max(1));
    eprintln!("   | {text}");
    eprintln!("   | {}{}", " ".repeat(start), "^".repeat(len));
}

fn import_jsonlogic(file: Option<&Path>, rules: Option<&Path>, schema: Option<&str>) -> u8 {
    if file.is_none() && std::io::stdin().is_terminal() {
        eprintln!("error: no rule: pass a JSON file, or pipe the rule into standard input (`-`)");
        return 2;
    }
    let text = match file {
        None => text_arg("-", "the rule"),
        Some(p) if p == Path::new("-") => text_arg("-", "the rule"),
        Some(p) => match std::fs::read_to_string(p) {
            Ok(s) => Ok(s),
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", p.display());
                Err(2)
            }
        },
    };
    let text = match text {
        Ok(t) => t,
        Err(code) => return code,
    };
    let schema = match schema_of(rules, schema) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match jsonlogic::import_str(&text, schema.as_ref()) {
        Ok(source) => {
            println!("{source}");
            0
        }
        Err(r) => {
            report("the rule cannot be imported", &r, None);
            1
        }
    }
}

fn import_zoho(criteria: &str, rules: Option<&Path>, schema: Option<&str>) -> u8 {
    let schema = match schema_of(rules, schema) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match zoho::import(criteria, schema.as_ref()) {
        Ok(source) => {
            println!("{source}");
            0
        }
        Err(r) => {
            report("the criteria cannot be imported", &r, None);
            if let Some(span) = r.span {
                caret(criteria, span);
            }
            1
        }
    }
}
