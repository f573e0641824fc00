//! `herald route`: JSON Lines in, decisions out, every printed decision logged first.

use herald::engine::Engine;
use herald::event::EventKind;
use herald::record::CompactRecord;
use herald::route::{Decision, Outcome};
use serde::Serialize;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};

/// Longest input line accepted, in bytes.
pub const MAX_LINE: usize = 1 << 20;
/// Most events routed (and logged) in one transaction.
const BATCH: usize = 4096;

#[derive(Serialize)]
struct OutLine<'a> {
    line: usize,
    record_id: &'a str,
    portal: &'a str,
    outcome: Outcome,
    language: Option<&'a str>,
    reason: Option<&'a str>,
}

/// Reads one line of at most `cap` bytes into `buf` (without the newline). Returns `None` at
/// the end of the input, or `Some(total)` with the line's full length, which is over `cap` when
/// the rest was skipped.
fn read_capped_line<R: Read>(input: &mut BufReader<R>, buf: &mut Vec<u8>, cap: usize) -> std::io::Result<Option<usize>> {
    let mut total = 0usize;
    let mut any = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(if any { Some(total) } else { None });
        }
        any = true;
        let (part, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if total < cap {
            let room = cap - total;
            buf.extend_from_slice(chunk.get(..part.min(room)).unwrap_or(&[]));
        }
        total += part;
        input.consume(if done { part + 1 } else { part });
        if done {
            return Ok(Some(total));
        }
    }
}

struct Run<'a, W: Write> {
    engine: &'a Engine,
    set: std::sync::Arc<herald::rules::RuleSet>,
    lines: Vec<usize>,
    out: W,
    all: bool,
    malformed: usize,
    routed: usize,
}

impl<W: Write> Run<'_, W> {
    /// Routes a batch; decisions are printed only after the log has them.
    fn flush(&mut self, batch: &mut Vec<(EventKind, CompactRecord)>) -> Result<(), String> {
        if batch.is_empty() {
            return Ok(());
        }
        let results = self.engine.route_parsed(&self.set, batch).map_err(|e| e.to_string())?;
        let lines = std::mem::take(&mut self.lines);
        for (line, result) in lines.iter().zip(results) {
            match result {
                Ok(decisions) => {
                    for d in &decisions {
                        self.print(*line, d)?;
                    }
                    self.routed += 1;
                }
                Err(e) => {
                    self.malformed += 1;
                    eprintln!("line {line}: {e}");
                }
            }
        }
        self.out.flush().map_err(|e| format!("cannot write the output: {e}"))?;
        batch.clear();
        self.lines = lines;
        self.lines.clear();
        Ok(())
    }

    fn print(&mut self, line: usize, d: &Decision) -> Result<(), String> {
        if d.outcome == Outcome::Skipped && !self.all {
            return Ok(());
        }
        let o = OutLine {
            line,
            record_id: &d.record_id,
            portal: &d.portal,
            outcome: d.outcome,
            language: d.language.as_deref(),
            reason: d.reason.map(|r| r.as_str()),
        };
        let text = serde_json::to_string(&o).map_err(|e| e.to_string())?;
        writeln!(self.out, "{text}").map_err(|e| format!("cannot write the output: {e}"))
    }
}

/// Routes every line of `input`; returns the exit code.
pub fn run<R: Read>(engine: &Engine, mut input: BufReader<R>, all: bool) -> u8 {
    let stdout = std::io::stdout();
    let set = match engine.rules() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut run = Run {
        engine,
        set,
        lines: Vec::with_capacity(BATCH),
        out: std::io::BufWriter::with_capacity(1 << 16, stdout.lock()),
        all,
        malformed: 0,
        routed: 0,
    };
    let progress = std::io::stderr().is_terminal();
    let mut batch: Vec<(EventKind, CompactRecord)> = Vec::with_capacity(BATCH);
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let len = match read_capped_line(&mut input, &mut buf, MAX_LINE) {
            Ok(Some(len)) => len,
            Ok(None) => break,
            Err(e) => {
                eprintln!("error: cannot read the events: {e}");
                if let Err(e) = run.flush(&mut batch) {
                    eprintln!("error: {e}");
                }
                return 2;
            }
        };
        line_no += 1;
        if len > MAX_LINE {
            run.malformed += 1;
            eprintln!("line {line_no}: the line is {len} bytes, over the limit of {MAX_LINE} bytes; skipped");
        } else {
            let mut bytes = buf.as_slice();
            if line_no == 1 {
                bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            }
            let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            if !bytes.iter().all(u8::is_ascii_whitespace) {
                match herald::route::parse_event_line(bytes, &run.set.compiled.projection) {
                    Ok(ev) => {
                        batch.push(ev);
                        run.lines.push(line_no);
                    }
                    Err(msg) => {
                        run.malformed += 1;
                        eprintln!("line {line_no}: {msg}; skipped");
                    }
                }
            }
        }
        if batch.len() >= BATCH || (input.buffer().is_empty() && !batch.is_empty()) {
            if let Err(e) = run.flush(&mut batch) {
                eprintln!("error: {e}");
                eprintln!("error: stopped at line {line_no}; decisions printed above are logged, the rest were not routed");
                return 2;
            }
            if progress && line_no % 100_000 < BATCH {
                eprint!("\rrouted {} events", run.routed);
            }
        }
    }
    if let Err(e) = run.flush(&mut batch) {
        eprintln!("error: {e}");
        return 2;
    }
    if progress && run.routed >= 100_000 {
        eprintln!("\rrouted {} events", run.routed);
    }
    if run.malformed > 0 {
        eprintln!("{} malformed line{} skipped", run.malformed, if run.malformed == 1 { "" } else { "s" });
        return 1;
    }
    0
}
