//! `windlass check`: lint and test a project in one command (ruff, a type
//! checker, pytest, cargo fmt/clippy/test, shellcheck, `helm lint`,
//! Containerfiles and any command from `[check.NAME]`), in parallel, with
//! cached results, GitHub annotations, a step summary, merged JUnit XML and
//! SARIF 2.1.0.
//!
//! Modules:
//!
//! - [`model`]: what a check produced: findings (a problem at a file and
//!   line), test cases, a status; the one shape every parser fills and
//!   every report reads.
//! - [`tools`]: the Python tools at pinned versions, installed into
//!   virtual environments in a shared cache and verified by hash, and the
//!   project's own environment for pytest.

pub mod model;
pub mod tools;
