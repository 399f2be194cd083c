use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use windlass_testkit::{bind_socket, mkfifo, within};

use super::*;

/// How a read ended, as one line: `ok: N bytes` or the error, its cause
/// and its hint.
fn outcome<T>(result: &Result<T, ReadError>, len: impl Fn(&T) -> usize, tmp: &Path) -> String {
    let text = match result {
        Ok(value) => format!("ok: {} bytes", len(value)),
        Err(e) => {
            let mut text = format!("error: {e}");
            if let Some(source) = std::error::Error::source(e) {
                let _ = write!(text, "; caused by: {source}");
            }
            if let Some(hint) = e.hint() {
                let _ = write!(text, "; hint: {hint}");
            }
            text
        }
    };
    text.replace(&tmp.display().to_string(), "[TMP]")
}

/// A read through a thread with a deadline: a fifo must fail, not hang.
fn read_within(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let path = path.to_owned();
    within(Duration::from_secs(10), "a bounded read", move || {
        read(&path, limit)
    })
}

#[test]
fn reads_refuse_special_files_and_stop_at_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("small"), "hello\n").unwrap();
    std::fs::write(dir.join("empty"), "").unwrap();
    std::fs::write(dir.join("sixteen"), [b'x'; 16]).unwrap();
    std::fs::write(dir.join("seventeen"), [b'x'; 17]).unwrap();
    std::fs::create_dir(dir.join("dir")).unwrap();
    mkfifo(&dir.join("fifo"));
    let _socket = bind_socket(&dir.join("socket"));
    std::os::unix::fs::symlink(dir.join("small"), dir.join("link-to-small")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("link-to-zero")).unwrap();
    std::os::unix::fs::symlink(dir.join("fifo"), dir.join("link-to-fifo")).unwrap();

    let cases: &[(&str, &Path, u64)] = &[
        ("a small file", &dir.join("small"), 16),
        ("an empty file", &dir.join("empty"), 16),
        ("exactly the limit", &dir.join("sixteen"), 16),
        ("one byte over the limit", &dir.join("seventeen"), 16),
        (
            "a file the kernel sizes as 0",
            Path::new("/proc/self/status"),
            16,
        ),
        ("a missing file", &dir.join("missing"), 16),
        ("a directory", &dir.join("dir"), 16),
        ("a fifo", &dir.join("fifo"), 16),
        ("a socket", &dir.join("socket"), 16),
        ("/dev/null", Path::new("/dev/null"), 16),
        ("/dev/zero", Path::new("/dev/zero"), 16),
        ("a symlink to a small file", &dir.join("link-to-small"), 16),
        ("a symlink to /dev/zero", &dir.join("link-to-zero"), 16),
        ("a symlink to a fifo", &dir.join("link-to-fifo"), 16),
    ];
    let mut table = String::new();
    for (label, path, limit) in cases {
        let result = read_within(path, *limit);
        let _ = writeln!(table, "{label}: {}", outcome(&result, Vec::len, dir));
    }
    insta::assert_snapshot!(table);
}

#[test]
fn text_must_be_utf8() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[u8])] = &[("utf-8", "héllo".as_bytes()), ("latin-1", b"h\xe9llo")];
    let mut table = String::new();
    for (label, bytes) in cases {
        let path = tmp.path().join(label);
        std::fs::write(&path, bytes).unwrap();
        let result = read_to_string(&path, MIB);
        let _ = writeln!(
            table,
            "{label}: {}",
            outcome(&result, String::len, tmp.path())
        );
    }
    insta::assert_snapshot!(table, @r"
    utf-8: ok: 6 bytes
    latin-1: error: `[TMP]/latin-1` is not valid UTF-8; hint: save the file as UTF-8 text
    ");
}

#[test]
fn streaming_has_no_limit_but_the_same_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big");
    std::fs::write(&big, vec![7u8; 3 * 1024 * 1024]).unwrap();
    let mut file = open(&big).unwrap();
    assert_eq!(file.len(), 3 * 1024 * 1024);
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes.len(), 3 * 1024 * 1024);

    let fifo = tmp.path().join("fifo");
    mkfifo(&fifo);
    let opened = within(Duration::from_secs(10), "opening a fifo", move || {
        open(&fifo).map(|_| ())
    });
    assert!(
        matches!(
            opened,
            Err(ReadError::NotRegular {
                kind: FileKind::Fifo,
                ..
            })
        ),
        "{opened:?}"
    );
    let zero = open(Path::new("/dev/zero")).unwrap_err();
    assert!(!zero.is_not_found());
    assert_eq!(zero.path(), Path::new("/dev/zero"));
}

#[test]
fn sizes_read_like_limits() {
    let cases = [0, 1, 16, 1536, KIB, MIB, 4 * MIB, 16 * MIB, GIB, MIB + 1];
    let shown: Vec<String> = cases.iter().map(|n| ByteSize(*n).to_string()).collect();
    insta::assert_snapshot!(shown.join("\n"), @r"
    0 bytes
    1 byte
    16 bytes
    1536 bytes
    1 KiB
    1 MiB
    4 MiB
    16 MiB
    1 GiB
    1048577 bytes
    ");
}
