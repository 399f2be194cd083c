//! The process's own streams and environment variables, which this crate
//! owns: `clippy.toml` bans `std::io::stdout`, `std::io::stderr` and
//! `std::env::var`/`var_os` in other crates, which write through the
//! [`Printer`](crate::Printer) and read their settings through
//! `windlass-config`. The allows below are the one place they are used here.

use std::ffi::OsString;
use std::io;

/// Our standard output, unredacted: callers wrap it in the redactor.
#[allow(
    clippy::disallowed_methods,
    reason = "windlass-output owns the process's stdout"
)]
pub(crate) fn stdout() -> io::Stdout {
    io::stdout()
}

/// Our standard error, unredacted: callers wrap it in the redactor.
#[allow(
    clippy::disallowed_methods,
    reason = "windlass-output owns the process's stderr"
)]
pub(crate) fn stderr() -> io::Stderr {
    io::stderr()
}

/// An environment variable that decides how we print (`NO_COLOR`,
/// `WINDLASS_LOG`, the GitHub Actions files, ambient credentials to mask).
#[allow(
    clippy::disallowed_methods,
    reason = "windlass-output owns the variables that shape its output"
)]
pub(crate) fn var_os(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// [`var_os`], as UTF-8 (`None` when unset or not UTF-8).
pub(crate) fn var(name: &str) -> Option<String> {
    var_os(name).and_then(|value| value.into_string().ok())
}
