//! Helpers of the `herald` binary: one module per command that needs more than a few lines.

pub mod explain;
pub mod fmt;
pub mod interop;
pub mod route;
pub mod test;

use chrono::{DateTime, Utc};
use herald::store::Failure;
use std::io::Write;

/// Writes to standard output, ignoring errors: output piped into `head` that closes early must
/// not make `herald` panic (as `print!` does).
pub fn out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Parses `--since`: an RFC 3339 time, or a duration ago such as `7d`, `12h`, `30m`, `2w`.
pub fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let bad = || {
        format!(
            "--since `{s}` is neither an RFC 3339 time nor a duration such as 7d, 12h, 30m or 2w"
        )
    };
    let (digits, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit {
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    let delta = n
        .checked_mul(secs)
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(bad)?;
    Utc::now().checked_sub_signed(delta).ok_or_else(bad)
}

/// The failures as a text table: record name, email, failure date, reason.
pub fn failure_table(rows: &[Failure]) -> String {
    let header = ["RECORD NAME", "EMAIL", "FAILURE DATE", "REASON"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|f| {
            [
                f.record_name
                    .clone()
                    .unwrap_or_else(|| format!("({})", f.record_id)),
                f.email
                    .clone()
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| String::from("-")),
                f.time.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                f.reason.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count()).min(48);
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &[String]| {
        let mut parts = Vec::new();
        for (i, c) in row.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let shown: String = if c.chars().count() > w {
                c.chars().take(w.saturating_sub(1)).chain(['…']).collect()
            } else {
                c.clone()
            };
            if i + 1 == row.len() {
                parts.push(shown);
            } else {
                let pad = w.saturating_sub(shown.chars().count());
                parts.push(format!("{shown}{}", " ".repeat(pad)));
            }
        }
        out.push_str(&parts.join("  "));
        out.push('\n');
    };
    line(&mut out, &header.map(String::from));
    for row in &cells {
        line(&mut out, row);
    }
    if rows.is_empty() {
        out.push_str("(no failures)\n");
    }
    out
}
