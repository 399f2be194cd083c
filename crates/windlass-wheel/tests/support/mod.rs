//! What the wheel tests share: the fixture projects and the
//! `windlass-wheel` binary run through the test kit's harness with what a
//! PEP 517 build's installer needs from the machine.

#![allow(
    dead_code,
    reason = "shared by several test binaries, each using a part"
)]

use std::path::{Path, PathBuf};

use windlass_testkit::cli::Cli;

/// The fixture project `name` (shared with the builder library's tests).
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../windlass-dist/tests/fixtures")
        .join(name)
}

/// The variables an installer (pip, uv) reads for its configuration,
/// index, proxy and certificates; `HOME` holds its configuration files.
const INSTALLER_VARS: &[&str] = &[
    "HOME",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// `windlass-wheel` in `cwd` with the test kit's clean environment, except
/// that a PEP 517 build may install its requirements as on this machine:
/// the real `HOME`, the `PIP_*` and `UV_*` settings, the proxy and
/// certificate variables.
pub(crate) fn wheel(cwd: &Path) -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_windlass-wheel"), cwd)
        .pass_env(INSTALLER_VARS)
        .pass_env_prefix("PIP_")
        .pass_env_prefix("UV_")
}
