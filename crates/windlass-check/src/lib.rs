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
//! - [`parse`]: the tools' machine-readable output (ruff, mypy,
//!   shellcheck, cargo, JUnit XML, libtest, `helm lint`) into that shape.
//! - [`report`]: that shape out again: GitHub annotations, the step
//!   summary, merged JUnit XML and SARIF 2.1.0.
//! - [`tools`]: the Python tools at pinned versions, installed into
//!   virtual environments in a shared cache and verified by hash, and the
//!   project's own environment for pytest.

pub mod cache;
pub mod changed;
pub mod cli;
pub mod config;
pub mod files;
pub mod model;
pub mod parse;
pub mod plan;
pub mod report;
pub mod run;
pub mod tools;
