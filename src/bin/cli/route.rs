//! `herald route`: JSON Lines in, decisions out, every printed decision logged first.
//!
//! A reader thread splits the input into lines and hands them over in groups; the routing
//! thread parses each line into one reused record and decides it at once, while the record is
//! in the CPU's cache. Every [`CHUNK`] events, their decisions are checked against the
//! already-invited set and added to an open log transaction (an [`Batch`]), and their output
//! lines are written to a buffer; the decisions' memory is then reused for the next events.
//! Every [`BATCH`] events the transaction is committed (one `fsync`), and only then is the
//! buffer printed. A batch is also committed as soon as no more input is ready, so a host that
//! pipes one event at a time gets each decision without closing its end, while a file or a
//! fast pipe fills whole batches.

use herald::engine::{Batch, Engine};
use herald::record::CompactRecord;
use herald::route::{Decision, Outcome};
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};

/// Longest input line accepted, in bytes.
pub const MAX_LINE: usize = 1 << 20;
/// Most events routed (and logged) in one transaction.
const BATCH: usize = 4096;
/// Events decided before they are added to the open batch: the decisions of so many events
/// are all that is kept in memory (those of a whole batch did not fit in the CPU's caches).
const CHUNK: usize = 256;
/// Most lines the reader hands over at once.
const GROUP_LINES: usize = 1024;
/// Groups the reader may run ahead of routing.
const GROUPS_AHEAD: usize = 4;

/// An output line, as serde_json serializes it: the reference [`write_out_line`] is tested
/// against.
#[cfg(test)]
#[derive(serde::Serialize)]
struct OutLine<'a> {
    line: usize,
    record_id: &'a str,
    portal: &'a str,
    outcome: Outcome,
    language: Option<&'a str>,
    reason: Option<&'a str>,
}

/// Lines read together: their bytes back to back, and for each the end offset in `data` and
/// the line's full length (over [`MAX_LINE`] when the rest of the line was skipped).
#[derive(Default)]
struct Group {
    data: Vec<u8>,
    ends: Vec<(usize, usize)>,
}

/// Reads one line of at most `cap` bytes, appended to `buf` without its newline. Returns `None`
/// at the end of the input, or `Some(total)` with the line's full length, which is over `cap`
/// when the rest was skipped (then `buf` holds a prefix that is never parsed).
fn read_capped_line<R: BufRead>(
    input: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Option<usize>> {
    // The newline is found with the `memchr` crate's vectorized search: `read_until` uses
    // the standard library's word-at-a-time one (3% of `herald route`'s instructions).
    let mut total = 0usize;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            // The end: the last line had no newline, or there is no line.
            return Ok((total > 0).then_some(total));
        }
        // Only the first `cap + 1` bytes of a line are kept: enough to tell it is too long.
        let room = (cap + 1).saturating_sub(total);
        match memchr::memchr(b'\n', chunk) {
            Some(i) => {
                buf.extend_from_slice(chunk.get(..i.min(room)).unwrap_or_default());
                input.consume(i + 1);
                return Ok(Some(total + i));
            }
            None => {
                let len = chunk.len();
                buf.extend_from_slice(chunk.get(..len.min(room)).unwrap_or_default());
                total += len;
                input.consume(len);
            }
        }
    }
}

/// The reader thread: reads lines into groups and sends them; a group goes out when it is full
/// or when the next read would wait for the producer. Stops at the end of the input, on a read
/// error (sent on), or when routing hung up.
fn read_groups<R: Read>(
    input: R,
    tx: &SyncSender<std::io::Result<Group>>,
    recycled: &Receiver<Group>,
) {
    let mut input = BufReader::with_capacity(1 << 20, input);
    let mut group = Group::default();
    loop {
        let end = match read_capped_line(&mut input, &mut group.data, MAX_LINE) {
            Ok(Some(len)) => {
                group.ends.push((group.data.len(), len));
                false
            }
            Ok(None) => true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.send(Ok(std::mem::take(&mut group)));
                let _ = tx.send(Err(e));
                return;
            }
        };
        if end || group.ends.len() >= GROUP_LINES || input.buffer().is_empty() {
            if !group.ends.is_empty() {
                let next = recycled.try_recv().unwrap_or_default();
                if tx.send(Ok(std::mem::replace(&mut group, next))).is_err() {
                    return;
                }
                group.data.clear();
                group.ends.clear();
            }
            if end {
                return;
            }
        }
    }
}

struct Run<'a, W: Write> {
    engine: &'a Engine,
    set: std::sync::Arc<herald::rules::RuleSet>,
    /// `herald::route::routing_projection(&set)`: without the fields only paused portals read.
    projection: herald::record::Projection,
    /// The record every line is parsed into.
    record: CompactRecord,
    /// The open log batch: the events of the lines since the last commit.
    batch: Option<Batch<'a>>,
    /// Events in the open batch (logged or waiting in `results`), and the first and last line
    /// numbers of the batch.
    batched: usize,
    first_line: usize,
    last_line: usize,
    /// The decided events waiting to be logged are `results[..filled]`, and `lines` their line
    /// numbers. The decisions beyond are kept to be decided into again (see
    /// `herald::route::decide_into`).
    results: Vec<Result<Vec<Decision>, herald::route::EventError>>,
    filled: usize,
    lines: Vec<usize>,
    /// The time the batch's events are decided at: the clock when its first event came.
    now: chrono::DateTime<chrono::Utc>,
    /// Problems with lines not yet reported, reported in line order when the batch is routed.
    notes: Vec<(usize, String)>,
    out: W,
    all: bool,
    /// The output lines of the open batch, printed once it is committed.
    pending_out: Vec<u8>,
    /// Events of the open batch that were routed (decided without an error).
    pending_routed: usize,
    malformed: usize,
    routed: usize,
}

impl<'a, W: Write> Run<'a, W> {
    /// Parses one input line (number `line_no`, full length `len`) into the batch, or notes
    /// what is wrong with it.
    fn push_line(&mut self, line_no: usize, bytes: &[u8], len: usize) -> Result<(), String> {
        if len > MAX_LINE {
            self.note(
                line_no,
                format!("the line is {len} bytes, over the limit of {MAX_LINE} bytes"),
            );
            return Ok(());
        }
        let mut bytes = bytes;
        if line_no == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let kind =
            match herald::route::parse_event_line_into(bytes, &self.projection, &mut self.record) {
                Ok(kind) => kind,
                Err(msg) => {
                    self.note(line_no, msg);
                    return Ok(());
                }
            };
        if self.batched == 0 && self.filled == 0 {
            self.now = self.engine.now();
            self.first_line = line_no;
        }
        self.last_line = line_no;
        if self.filled == self.results.len() {
            self.results.push(Ok(Vec::new()));
        }
        let Some(result) = self.results.get_mut(self.filled) else {
            return Ok(());
        };
        herald::route::decide_result_into(&self.set, kind, &self.record, self.now, result);
        self.filled += 1;
        self.lines.push(line_no);
        if self.filled >= CHUNK {
            self.log_chunk()?;
        }
        Ok(())
    }

    /// Events decided and not yet committed.
    fn pending(&self) -> usize {
        self.batched + self.filled
    }

    fn note(&mut self, line_no: usize, msg: String) {
        self.malformed += 1;
        self.notes.push((line_no, msg));
    }

    /// Reports the noted problems in line order.
    fn report_notes(&mut self) {
        if self.notes.is_empty() {
            return;
        }
        self.notes.sort_by_key(|(line, _)| *line);
        let stderr = std::io::stderr();
        let mut err = stderr.lock();
        for (line, msg) in self.notes.drain(..) {
            let _ = writeln!(err, "line {line}: {msg}; skipped");
        }
    }

    /// The message for a log error: nothing of the open batch was logged.
    fn stopped(&mut self, e: &herald::engine::EngineError) -> String {
        self.report_notes();
        format!(
            "{e}\nerror: stopped at line {}: the decisions printed above are logged; this line \
             and the ones after it were not routed",
            self.first_line
        )
    }

    /// Adds the decided events to the open batch (opening one if needed) and writes their
    /// output lines, to be printed once the batch is committed.
    fn log_chunk(&mut self) -> Result<(), String> {
        if self.filled == 0 {
            return Ok(());
        }
        let batch = match self.batch.as_mut() {
            Some(b) => b,
            None => match self.engine.batch() {
                Ok(b) => self.batch.insert(b),
                Err(e) => return Err(self.stopped(&e)),
            },
        };
        let decided = self.results.get_mut(..self.filled).unwrap_or(&mut []);
        if let Err(e) = batch.log(decided) {
            self.batch = None;
            return Err(self.stopped(&e));
        }
        let lines = std::mem::take(&mut self.lines);
        for (line, result) in lines.iter().zip(&self.results) {
            match result {
                Err(e) => {
                    self.malformed += 1;
                    self.notes.push((*line, e.to_string()));
                }
                Ok(decisions) => {
                    self.pending_routed += 1;
                    for d in decisions {
                        if d.outcome != Outcome::Skipped || self.all {
                            write_out_line(&mut self.pending_out, *line, d);
                        }
                    }
                }
            }
        }
        self.lines = lines;
        self.lines.clear();
        self.batched += self.filled;
        self.filled = 0;
        Ok(())
    }

    /// Commits the open batch, then reports its problems and prints its decisions: nothing is
    /// printed before the log has it.
    fn flush(&mut self) -> Result<(), String> {
        self.log_chunk()?;
        if let Some(batch) = self.batch.take() {
            if let Err(e) = batch.commit() {
                return Err(self.stopped(&e));
            }
        }
        self.report_notes();
        self.routed += std::mem::take(&mut self.pending_routed);
        self.batched = 0;
        let written = self
            .out
            .write_all(&self.pending_out)
            .and_then(|()| self.out.flush());
        self.pending_out.clear();
        written.map_err(|e| {
            format!(
                "cannot write the output: {e}\nerror: the events up to line {} were routed and \
                 logged; the rest were not routed",
                self.last_line
            )
        })
    }
}

/// Writes a decision's output line, newline included: exactly what serde_json writes for an
/// [`OutLine`], without its escaping pass over strings that need no escape (most of them).
fn write_out_line(buf: &mut Vec<u8>, line: usize, d: &Decision) {
    buf.extend_from_slice(b"{\"line\":");
    push_decimal(buf, line);
    buf.extend_from_slice(b",\"record_id\":");
    push_json_str(buf, &d.record_id);
    buf.extend_from_slice(b",\"portal\":");
    push_json_str(buf, &d.portal);
    buf.extend_from_slice(match d.outcome {
        Outcome::Invited => b",\"outcome\":\"invited\",\"language\":".as_slice(),
        Outcome::Failed => b",\"outcome\":\"failed\",\"language\":",
        Outcome::Skipped => b",\"outcome\":\"skipped\",\"language\":",
    });
    match &d.language {
        Some(l) => push_json_str(buf, l),
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(b",\"reason\":");
    match d.reason {
        Some(r) => push_json_str(buf, r.as_str()),
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(b"}\n");
}

/// Appends `n` in decimal.
fn push_decimal(buf: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.extend_from_slice(digits.get(i..).unwrap_or(&[]));
}

/// Appends `s` as a JSON string. serde_json escapes exactly `"`, the backslash and the control
/// characters below U+0020; a string without them is written as it is, any other by serde_json.
fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Writing to a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *buf, s);
    } else {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    }
}

/// Routes every line of `input`; returns the exit code.
pub fn run<R: Read + Send + 'static>(engine: &Engine, input: R, all: bool) -> u8 {
    let set = match engine.rules() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let stdout = std::io::stdout();
    let mut run = Run {
        engine,
        projection: herald::route::routing_projection(&set),
        set,
        record: CompactRecord::default(),
        batch: None,
        batched: 0,
        first_line: 0,
        last_line: 0,
        results: Vec::with_capacity(CHUNK),
        filled: 0,
        lines: Vec::with_capacity(CHUNK),
        now: engine.now(),
        notes: Vec::new(),
        out: std::io::BufWriter::with_capacity(1 << 16, stdout.lock()),
        all,
        pending_out: Vec::with_capacity(1 << 20),
        pending_routed: 0,
        malformed: 0,
        routed: 0,
    };
    let (tx, groups) = mpsc::sync_channel(GROUPS_AHEAD);
    let (give_back, recycled) = mpsc::channel::<Group>();
    // The reader thread ends at the end of the input or when `groups` is dropped; it is not
    // joined, so a producer that never closes its end cannot keep `herald route` alive after
    // an error.
    let _reader = std::thread::spawn(move || read_groups(input, &tx, &recycled));
    let progress = std::io::stderr().is_terminal();
    let mut line_no = 0usize;
    let mut next_progress = 100_000;
    let mut read_error = None;
    loop {
        // Route what is gathered when the batch is full, or when no more input is ready yet.
        let group = match groups.try_recv() {
            Ok(g) => Some(g),
            Err(TryRecvError::Empty) => {
                if let Err(e) = run.flush() {
                    eprintln!("error: {e}");
                    return 2;
                }
                groups.recv().ok()
            }
            Err(TryRecvError::Disconnected) => None,
        };
        let group = match group {
            None => break,
            Some(Err(e)) => {
                read_error = Some(e);
                break;
            }
            Some(Ok(g)) => g,
        };
        let mut start = 0;
        for &(end, len) in &group.ends {
            line_no += 1;
            let pushed = run.push_line(line_no, group.data.get(start..end).unwrap_or(&[]), len);
            start = end;
            if let Err(e) = pushed {
                eprintln!("error: {e}");
                return 2;
            }
            if run.pending() >= BATCH {
                if let Err(e) = run.flush() {
                    eprintln!("error: {e}");
                    return 2;
                }
            }
        }
        let _ = give_back.send(group);
        if progress && run.routed >= next_progress {
            eprint!("\rrouted {} events", run.routed);
            next_progress = run.routed + 100_000;
        }
    }
    if let Err(e) = run.flush() {
        eprintln!("error: {e}");
        return 2;
    }
    if let Some(e) = read_error {
        eprintln!("error: cannot read the events after line {line_no}: {e}");
        return 2;
    }
    if progress && run.routed >= 100_000 {
        eprintln!("\rrouted {} events", run.routed);
    }
    if run.malformed > 0 {
        eprintln!(
            "{} malformed line{} skipped",
            run.malformed,
            if run.malformed == 1 { "" } else { "s" }
        );
        return 1;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line `read_capped_line` gives for `input`, read through a buffer of `capacity`
    /// bytes: (kept bytes, full length).
    fn capped_lines(input: &[u8], capacity: usize, cap: usize) -> Vec<(Vec<u8>, usize)> {
        let mut reader = std::io::BufReader::with_capacity(capacity, input);
        let mut lines = Vec::new();
        loop {
            let mut buf = Vec::new();
            match read_capped_line(&mut reader, &mut buf, cap) {
                Ok(Some(len)) => lines.push((buf, len)),
                Ok(None) => return lines,
                Err(e) => unreachable!("reading a slice cannot fail: {e}"),
            }
        }
    }

    #[test]
    fn capped_lines_split_at_newlines_and_keep_a_prefix_of_long_lines() {
        let input = b"ab\n\nabcdef\nabcd\nlast";
        for capacity in [1, 2, 3, 5, 64] {
            assert_eq!(
                capped_lines(input, capacity, 4),
                vec![
                    (b"ab".to_vec(), 2),
                    (Vec::new(), 0),
                    (b"abcde".to_vec(), 6),
                    (b"abcd".to_vec(), 4),
                    (b"last".to_vec(), 4),
                ],
                "buffer of {capacity} bytes"
            );
        }
        assert_eq!(capped_lines(b"", 8, 4), vec![]);
        assert_eq!(capped_lines(b"\n", 8, 4), vec![(Vec::new(), 0)]);
        assert_eq!(
            capped_lines(b"abcdefgh", 3, 4),
            vec![(b"abcde".to_vec(), 8)]
        );
    }
    use herald::route::Reason;

    #[test]
    fn output_lines_are_what_serde_json_writes() {
        let ids = [
            "c000001",
            "q\"uote\\back\u{1}ctl",
            "tab\there",
            "é\u{2028}x",
            "ü/</script>",
            "",
        ];
        let reasons = [None, Some(Reason::Paused), Some(Reason::InvalidEmail)];
        let mut buf = Vec::new();
        for (n, id) in ids.iter().enumerate() {
            for outcome in [Outcome::Invited, Outcome::Failed, Outcome::Skipped] {
                for reason in reasons {
                    for language in [None, Some(String::from("fr")), Some(String::from("x\"y"))] {
                        let d = Decision {
                            portal: format!("Portal {id}"),
                            record_id: (*id).to_string(),
                            record_name: None,
                            email: None,
                            outcome,
                            language: language.clone(),
                            reason,
                            message: None,
                            sender_group: None,
                            event: herald::event::EventKind::Create,
                            time: chrono::DateTime::UNIX_EPOCH,
                            rule_set_version: String::new(),
                        };
                        let line = [0, 9, 10, n * 1_234_567, usize::MAX][n % 5];
                        let o = OutLine {
                            line,
                            record_id: &d.record_id,
                            portal: &d.portal,
                            outcome: d.outcome,
                            language: d.language.as_deref(),
                            reason: d.reason.map(|r| r.as_str()),
                        };
                        let mut expected = serde_json::to_vec(&o).unwrap_or_default();
                        expected.push(b'\n');
                        buf.clear();
                        write_out_line(&mut buf, line, &d);
                        assert_eq!(
                            String::from_utf8_lossy(&buf),
                            String::from_utf8_lossy(&expected)
                        );
                    }
                }
            }
        }
    }
}
