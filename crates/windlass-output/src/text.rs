//! Text for people: counts, sizes and paths. Escaping text from outside
//! (archive member names, file names, metadata values) is
//! [`escape_controls`](crate::escape_controls), from `windlass-redact`.

use windlass_redact::escape_controls;

/// `count` and the noun in the right number: `1 file`, `2 files`,
/// `0 secrets`.
///
/// ```
/// assert_eq!(windlass_output::plural(1, "file", "files"), "1 file");
/// assert_eq!(windlass_output::plural(2, "secret", "secrets"), "2 secrets");
/// ```
pub fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// A size for people, in binary units with one decimal: `512 B`,
/// `12.3 KiB`, `4.0 MiB`, `1.5 GiB`, `2.0 TiB`.
///
/// ```
/// assert_eq!(windlass_output::human_size(12_595), "12.3 KiB");
/// ```
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    #[allow(
        clippy::cast_precision_loss,
        reason = "a size shown to one decimal place"
    )]
    let mut value = bytes as f64;
    let mut unit = 0;
    // Compared as shown (one decimal), so that 1048575 B is `1.0 MiB`, not
    // `1024.0 KiB`.
    while (value * 10.0).round() >= 10240.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A path as shown to people: `.` components dropped lexically
/// (`dist/./foo.whl` and `./dist/foo.whl` show as `dist/foo.whl`; `..` is
/// kept, as only the file system knows where it leads), control
/// characters escaped ([`escape_controls`]).
///
/// ```
/// use std::path::Path;
///
/// assert_eq!(windlass_output::display_path(Path::new("./dist/./x.whl")), "dist/x.whl");
/// ```
pub fn display_path(path: &std::path::Path) -> String {
    let clean = clean_path(path);
    escape_controls(&clean.to_string_lossy()).into_owned()
}

/// `path` without its `.` components (lexically; `..` is kept); `.` when
/// nothing else is left.
pub fn clean_path(path: &std::path::Path) -> std::path::PathBuf {
    let clean: std::path::PathBuf = path
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    if clean.as_os_str().is_empty() {
        std::path::PathBuf::from(".")
    } else {
        clean
    }
}

/// An error and its causes on one line, `: `-separated, a cause left out
/// when the text already holds it (many errors repeat their source's
/// message), redacted: for a report's field or a table cell, where the
/// multi-line rendering of [`crate::Report`] does not fit.
pub fn error_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    windlass_redact::global().redact(&text).into_owned()
}
