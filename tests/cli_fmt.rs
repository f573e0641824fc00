//! `herald fmt [--check] [PATH...]` through the binary (CLI.md): the file list on stdout, exit
//! codes, rewriting in place only when needed, and files that do not parse or cannot be read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

const MESSY: &str = "portal \"A\" {\n    require Age>=18   # adults\n  invite \"fr\"\n}\n";
const TIDY: &str = "portal \"A\" {\n  require  Age >= 18  # adults\n  invite \"fr\"\n}\n";
const BROKEN: &str = "portal \"B\" {\n  require Age = 18\n  invite \"fr\"\n}\n";

fn herald_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .current_dir(dir)
        .env_remove("CLICOLOR_FORCE")
        .env_remove("FORCE_COLOR")
        .output()
        .expect("run herald")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

#[test]
fn check_lists_the_files_that_would_change_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "rules/a.herald", MESSY);
    write(dir, "rules/b.herald", TIDY);
    write(dir, "rules/sub/c.herald", MESSY);
    let out = herald_in(dir, &["fmt", "--check", "rules"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "rules/a.herald\nrules/sub/c.herald\n");
    assert!(
        stderr(&out).contains("2 files would be reformatted"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(dir, "rules/a.herald"), MESSY);
    assert_eq!(read(dir, "rules/sub/c.herald"), MESSY);

    // Nothing to do: exit 0, no output.
    let out = herald_in(dir, &["fmt", "--check", "rules/b.herald"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
}

#[test]
fn fmt_rewrites_changed_files_in_place_and_leaves_the_others_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "a.herald", MESSY);
    write(dir, "b.herald", TIDY);
    write(dir, "sub/c.herald", MESSY);
    std::fs::set_permissions(dir.join("a.herald"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let b_inode = std::fs::metadata(dir.join("b.herald")).unwrap().ino();

    // No path: the current directory.
    let out = herald_in(dir, &["fmt"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "./a.herald\n./sub/c.herald\n");
    assert_eq!(read(dir, "a.herald"), TIDY);
    assert_eq!(read(dir, "sub/c.herald"), TIDY);
    assert_eq!(read(dir, "b.herald"), TIDY);
    // An unchanged file is not rewritten; a rewritten one keeps its permissions.
    assert_eq!(
        std::fs::metadata(dir.join("b.herald")).unwrap().ino(),
        b_inode
    );
    let mode = std::fs::metadata(dir.join("a.herald"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");

    let out = herald_in(dir, &["fmt", "--check"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
}

#[test]
fn files_that_do_not_parse_are_reported_and_left_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "a.herald", MESSY);
    write(dir, "bad.herald", BROKEN);
    for args in [&["fmt", "--check", "."][..], &["fmt", "."][..]] {
        let out = herald_in(dir, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("`=` is not a Herald operator"), "{err}");
        assert!(err.contains("bad.herald"), "{err}");
        assert!(err.contains("not formatted"), "{err}");
        assert_eq!(read(dir, "bad.herald"), BROKEN);
    }
    // The file that parses was formatted all the same.
    assert_eq!(read(dir, "a.herald"), TIDY);
}

#[test]
fn unreadable_paths_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = herald_in(tmp.path(), &["fmt", "--check", "no-such-dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no-such-dir"), "{}", stderr(&out));
    // A directory without rule files is most likely a wrong path, as for `herald check`.
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    let out = herald_in(tmp.path(), &["fmt", "empty"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn invalid_utf8_is_reported_not_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let latin1 = b"portal \"Caf\xe9\" {\n  invite \"fr\"\n}\n";
    std::fs::write(tmp.path().join("latin1.herald"), latin1).unwrap();
    let out = herald_in(tmp.path(), &["fmt", "latin1.herald"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid UTF-8"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(tmp.path().join("latin1.herald")).unwrap(),
        latin1
    );
}

#[test]
fn crlf_and_byte_order_mark_are_normalized() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let windows =
        "\u{feff}portal \"A\" {\r\n  require  Age >= 18  # adults\r\n  invite \"fr\"\r\n}\r\n";
    write(dir, "w.herald", windows);
    let out = herald_in(dir, &["fmt", "--check", "w.herald"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "w.herald\n");
    let out = herald_in(dir, &["fmt", "w.herald"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(read(dir, "w.herald"), TIDY);
}

#[test]
fn the_shipped_examples_are_formatted() {
    let out = herald_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["fmt", "--check", "examples/"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
}
