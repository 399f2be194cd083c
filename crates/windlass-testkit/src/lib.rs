//! Test support for Windlass: where the real test services are, canary
//! secrets, and a scanner that proves a secret did not leak.
//!
//! [`Services::load`] reads the env file written by `scripts/services.sh
//! start` and hands out typed descriptions of the running OpenBao, OIDC
//! issuer, pypiserver, devpi and registry instances, the Kubernetes test
//! cluster ([`Kube`]) and of the client tools.
//! A test that needs a service gets it or panics with the command that starts
//! it: this crate never skips a test silently. [`canary`] makes a unique,
//! recognisable fake secret and [`assert_no_leak`] searches output for it in
//! every encoding a careless program could use. [`mkfifo`], [`bind_socket`]
//! and [`within`] let a test prove that a read refuses what is not a regular
//! file instead of hanging on it. [`proptest_config`] is the one
//! configuration of every property test. [`serde_fields`] lists a serde
//! struct's fields, so a test can check that the docs name them all;
//! [`assert_generated`] keeps a checked-in generated file current.
//! [`actions`] runs a composite GitHub Action's steps as the runner does.
//! [`cli`] is the one harness of the CLI tests (run a binary hermetically,
//! or start it and signal it, the snapshot format, the insta filters);
//! [`Bao`] has the Vault fixture steps (`kv_put`, `create_token`,
//! `accessor_valid`, `write`, `approle_ids`).
//! [`SlowProxy`] holds or delays the requests a test picks on their way
//! to a real server (and records the Vault logins' token accessors).
//! [`netem`] is a TCP proxy that adds delay and caps bandwidth, so that
//! tests and benchmarks see a network instead of loopback (the
//! `windlass-netem` binary runs it for the benchmark scripts).
//!
//! It holds what the tests of several crates use; a fixture of one crate's
//! tests lives in that crate's `tests/support/`.
//!
//! This crate is for tests only: it never starts or stops the shared services
//! (a test may start a [`StockPypiserver`] of its own) and
//! never talks HTTP as a client (reachability is a TCP connect; the proxies
//! move bytes).

#![allow(
    clippy::disallowed_methods,
    reason = "test support: reads the test environment and runs service tools"
)]

/// A variable of the test process's environment, for library calls that
/// take an environment lookup (`Pep517Options::from_env`).
pub fn var_os(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name)
}

pub mod actions;
pub mod cli;
mod fields;
mod generated;
mod kube;
mod leak;
pub mod netem;
mod props;
mod services;
mod slow_proxy;
mod special;
mod stock;
mod vault;

pub use crate::fields::{section_keys, serde_fields};
pub use crate::generated::{UPDATE_VAR, assert_generated};
pub use crate::leak::{
    Leak, LeakForm, assert_no_leak, assert_no_leak_in_dir, canary, canary_with_specials, find_leak,
};
pub use crate::props::{DEFAULT_PROPTEST_CASES, proptest_config};
pub use crate::services::{
    AppRole, Bao, Devpi, ENV_FILE_VAR, Kube, KvFixture, Oidc, PypiServer, PythonBase, Registries,
    START_HINT, Services, TokenRequest, Tools, state_dir, test_cache,
};
pub use crate::slow_proxy::{Slow, SlowProxy};
pub use crate::special::{bind_socket, mkfifo, within};
pub use crate::stock::StockPypiserver;
