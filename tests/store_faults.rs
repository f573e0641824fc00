//! Store faults through the `herald route` binary (issue #8): a read-only database, a full disk,
//! a database locked by another writer and a corrupt file. Each gives a clear error on stderr
//! and exit code 2, and every decision printed on stdout is in the log (and the log holds
//! nothing of the run that was not printed).
//!
//! How each fault is made:
//! - read-only: a read-only bind mount of the database's directory (`mount --bind` then
//!   `mount -o remount,bind,ro`, as root); always also an SQLite URI `file:...?mode=ro`
//!   passed as `--db`, which needs no privilege;
//! - full disk: a 256 KiB tmpfs (`mount -t tmpfs -o size=256k`); where mounting is not
//!   permitted, the same path through the library with `StoreOptions::max_page_count`;
//! - locked: another connection holds `BEGIN EXCLUSIVE` on the database; `herald route` waits
//!   its 5 s busy timeout, then fails;
//! - corrupt: a file that is not a database, a database with damaged pages, and a truncated one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::engine::{Engine, EngineError};
use herald::route::{Event, Outcome};
use herald::store::{SqliteStore, StoreError, StoreOptions};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/route/reasons/portals.herald")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Event `i`: paying customers in three countries, some tagged vip, every seventh without an
/// email, so that the rules invite, fail and skip.
fn event(i: usize) -> String {
    let country = ["FR", "DE", "US"][i % 3];
    let email = if i % 7 == 0 {
        "null".to_string()
    } else {
        format!("\"e{i}@example.com\"")
    };
    let tags = if i % 4 == 0 { "[\"vip\"]" } else { "[]" };
    format!(
        r#"{{"event":"create","record":{{"id":"e{i}","Full_Name":"Name {i}","Email":{email},"Plan":"paid","Country":"{country}","Tags":{tags}}}}}"#
    )
}

fn events(range: std::ops::Range<usize>) -> String {
    range.map(|i| event(i) + "\n").collect()
}

/// One logged or printed decision: (portal, record id, `invited` or the failure reason).
type Key = (String, String, String);

/// Runs `herald route` on `input` (given on standard input in chunks of `chunk` lines with a
/// pause between them, so that routing commits small batches).
fn route(db: &str, input: &str, chunk: usize) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "route",
            "--rules",
            p(&rules()),
            "--db",
            db,
            "--now",
            "2026-01-05T12:00:00Z",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run herald");
    let mut stdin = child.stdin.take().unwrap();
    let lines: Vec<String> = input.lines().map(|l| l.to_string() + "\n").collect();
    let writer = std::thread::spawn(move || {
        for part in lines.chunks(chunk.max(1)) {
            // herald route may stop reading after a store error: ignore broken pipes.
            if stdin.write_all(part.concat().as_bytes()).is_err() || stdin.flush().is_err() {
                return;
            }
            if chunk < usize::MAX {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code (no signal)")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The invitations and failures printed, counted.
fn printed(o: &Output) -> BTreeMap<Key, usize> {
    let mut out = BTreeMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let what = match v["outcome"].as_str().unwrap() {
            "invited" => "invited".to_string(),
            "failed" => v["reason"].as_str().unwrap().to_string(),
            other => panic!("unexpected outcome {other}"),
        };
        let key = (
            v["portal"].as_str().unwrap().to_string(),
            v["record_id"].as_str().unwrap().to_string(),
            what,
        );
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

/// Everything in the log, counted, read with a read-only connection.
fn logged(db: &Path) -> BTreeMap<Key, usize> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut out = BTreeMap::new();
    for sql in [
        "SELECT portal, record_id, 'invited' FROM invitations",
        "SELECT portal, record_id, reason FROM failures",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        for row in rows {
            *out.entry(row.unwrap()).or_insert(0) += 1;
        }
    }
    out
}

/// `after` minus `before`: what a run added to the log.
fn added(before: &BTreeMap<Key, usize>, after: &BTreeMap<Key, usize>) -> BTreeMap<Key, usize> {
    let mut out = BTreeMap::new();
    for (k, n) in after {
        let was = before.get(k).copied().unwrap_or(0);
        assert!(*n >= was, "the log lost {k:?}");
        if *n > was {
            out.insert(k.clone(), n - was);
        }
    }
    for k in before.keys() {
        assert!(after.contains_key(k), "the log lost {k:?}");
    }
    out
}

/// The checks every fault shares: exit 2, the message, and printed == what the run logged.
fn assert_failed_cleanly(o: &Output, message: &str, before: &BTreeMap<Key, usize>, db: &Path) {
    let err = stderr(o);
    assert_eq!(code(o), 2, "stderr: {err}");
    assert!(
        err.contains(message),
        "expected `{message}` in stderr: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        printed(o),
        added(before, &logged(db)),
        "printed vs logged; stderr: {err}"
    );
}

/// A mount made for a test, undone when dropped.
struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&str]) -> bool {
        Command::new("mount")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// A read-only bind mount of `src` at `dst`, or `None` when mounting is not permitted.
    fn read_only(src: &Path, dst: &Path) -> Option<Mount> {
        std::fs::create_dir_all(dst).unwrap();
        if !Mount::run(&["--bind", p(src), p(dst)]) {
            return None;
        }
        let m = Mount(dst.to_path_buf());
        Mount::run(&["-o", "remount,bind,ro", p(dst)]).then_some(m)
    }

    /// A tmpfs of `size` at `dst`, or `None` when mounting is not permitted.
    fn tmpfs(dst: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(dst).unwrap();
        Mount::run(&[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
            p(dst),
        ])
        .then(|| Mount(dst.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A log with the decisions of events 0..n, closed cleanly (WAL checkpointed).
fn seeded(dir: &Path, n: usize) -> (PathBuf, BTreeMap<Key, usize>) {
    let db = dir.join("herald.db");
    let o = route(p(&db), &events(0..n), usize::MAX);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let log = logged(&db);
    assert_eq!(printed(&o), log);
    assert!(!log.is_empty());
    (db, log)
}

#[test]
fn a_read_only_database_fails_with_exit_2_and_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let (db, before) = seeded(&data, 30);

    // An SQLite URI opening the file read-only: works without privileges.
    let uri = format!("file:{}?mode=ro", p(&db));
    let o = route(&uri, &events(30..60), usize::MAX);
    assert_failed_cleanly(&o, "is read-only", &before, &db);
    assert!(String::from_utf8_lossy(&o.stdout).is_empty());

    // A read-only file system under the database.
    match Mount::read_only(&data, &dir.path().join("ro")) {
        Some(m) => {
            let ro_db = m.0.join("herald.db");
            let o = route(p(&ro_db), &events(30..60), usize::MAX);
            assert_failed_cleanly(&o, "is read-only", &before, &db);
            assert!(String::from_utf8_lossy(&o.stdout).is_empty());
        }
        None => {
            eprintln!("note: mounting is not permitted here; only the `mode=ro` URI was tested")
        }
    }

    // The same events route once the database is writable again: nothing was lost.
    let o = route(p(&db), &events(30..60), usize::MAX);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(printed(&o), added(&before, &logged(&db)));
}

#[test]
fn a_full_disk_fails_with_exit_2_and_every_printed_decision_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let Some(m) = Mount::tmpfs(&dir.path().join("small"), "256k") else {
        eprintln!(
            "note: mounting is not permitted here; the full disk is tested through the library"
        );
        full_log_through_the_library();
        return;
    };
    let db = m.0.join("herald.db");
    // Small batches (10 lines, then a pause) until the disk is full.
    let o = route(p(&db), &events(0..20_000), 10);
    let before = BTreeMap::new();
    assert_failed_cleanly(&o, "disk full while writing the log database", &before, &db);
    let n_printed: usize = printed(&o).values().sum();
    assert!(n_printed > 0, "some batches fit before the disk was full");
    assert!(
        stderr(&o).contains("the decisions printed above are logged"),
        "{}",
        stderr(&o)
    );
    full_log_through_the_library();
}

/// The full-disk path without privileges: a page limit, through the engine.
fn full_log_through_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("herald.db");
    let store = SqliteStore::open_with(
        &db,
        StoreOptions {
            max_page_count: Some(12),
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let set = herald::load::load(&rules()).unwrap().rule_set.unwrap();
    let engine = Engine::new(set, Box::new(store)).unwrap();
    let mut returned = BTreeMap::new();
    let mut full = false;
    for chunk in (0..20_000).collect::<Vec<_>>().chunks(10) {
        let batch: Vec<Event> = chunk
            .iter()
            .map(|i| serde_json::from_str(&event(*i)).unwrap())
            .collect();
        match engine.route_batch(&batch) {
            Ok(results) => {
                for d in results.into_iter().flatten().flatten() {
                    let what = match d.outcome {
                        Outcome::Invited => "invited".to_string(),
                        Outcome::Failed => d.reason.unwrap().as_str().to_string(),
                        Outcome::Skipped => continue,
                    };
                    *returned.entry((d.portal, d.record_id, what)).or_insert(0) += 1;
                }
            }
            Err(EngineError::Store(StoreError::Full { .. })) => {
                full = true;
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(full, "the page limit was reached");
    assert!(!returned.is_empty());
    drop(engine);
    assert_eq!(returned, logged(&db));
}

#[test]
fn a_locked_database_waits_the_busy_timeout_then_fails_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (db, before) = seeded(dir.path(), 30);
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let start = Instant::now();
    let o = route(p(&db), &events(30..60), usize::MAX);
    let waited = start.elapsed();
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    assert_failed_cleanly(&o, "is locked by another writer (waited 5s)", &before, &db);
    assert!(String::from_utf8_lossy(&o.stdout).is_empty());
    assert!(waited >= Duration::from_secs(5), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(60), "waited {waited:?}");
    // Once the other writer is gone, the same events route and nothing was lost.
    let o = route(p(&db), &events(30..60), usize::MAX);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(printed(&o), added(&before, &logged(&db)));
}

#[test]
fn a_file_that_is_not_a_database_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("herald.db");
    let junk: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for bytes in [&b"this is a text file, not a database\n"[..], &junk[..]] {
        std::fs::write(&db, bytes).unwrap();
        let o = route(p(&db), &events(0..10), usize::MAX);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stderr(&o).contains("is corrupt"), "{}", stderr(&o));
        assert!(o.stdout.is_empty());
        assert_eq!(
            std::fs::read(&db).unwrap(),
            bytes,
            "the file was not touched"
        );
    }
}

#[test]
fn a_database_with_damaged_pages_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = seeded(dir.path(), 3_000);
    let good = std::fs::read(&db).unwrap();
    assert!(good.len() > 4 * 16_384, "several pages");
    // Garbage over everything after the first page (the header and the schema stay).
    let mut damaged = good.clone();
    for (i, b) in damaged.iter_mut().enumerate().skip(16_384) {
        *b = (i % 251) as u8;
    }
    // The file cut in the middle.
    let truncated = good.get(..good.len() / 2).unwrap().to_vec();
    for (name, bytes) in [("damaged", damaged), ("truncated", truncated)] {
        std::fs::write(&db, &bytes).unwrap();
        let o = route(p(&db), &events(3_000..3_010), usize::MAX);
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains("is corrupt"), "{name}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{name}: {}", stderr(&o));
        assert!(
            o.stdout.is_empty(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
}
