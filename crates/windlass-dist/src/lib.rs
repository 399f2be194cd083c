//! Build and check Python wheels and sdists.
//!
//! The native builder reads `pyproject.toml` (PEP 621 metadata, the
//! `[build-system]` table and the discovery options of hatchling, flit_core,
//! setuptools and uv_build), finds the same files the declared backend would,
//! and writes byte-reproducible wheels and sdists, deflating on all cores.
//! When it cannot be sure to match the backend (dynamic metadata, hooks,
//! plugins, unusual options) the PEP 517 front end runs the real backend in
//! an isolated environment instead. [`check`] validates any wheel or sdist in
//! one pass, the way twine, check-wheel-contents and installers would.
//!
//! This crate never opens a network connection and never depends on an HTTP
//! client: the PEP 517 path runs pip or uv as children through
//! `windlass-process`, which does the talking.

// Wheel and sdist extensions are case-sensitive by specification.
#![allow(clippy::case_sensitive_file_extension_comparisons)]
// A `match` with a side-effecting fallback arm reads better than `if let ... else` here.
#![allow(clippy::single_match_else)]
// Discovery and checking follow the specifications step by step; splitting
// them would scatter one rule over several functions.
#![allow(clippy::too_many_lines)]

pub mod archive;
pub mod build;
pub mod check;
mod diagnostic;
pub mod metadata;
pub mod name;
pub mod native;
pub mod pep517;
pub mod plan;
pub mod pyproject;
pub mod read;

pub use crate::build::{
    Artifact, ArtifactKind, BackendChoice, BuildError, BuildRequest, Built, build,
};
pub use crate::check::{
    CheckError, CheckLimits, Problem, ProblemCode, check_file, check_file_with,
};
pub use crate::diagnostic::classifier;
pub use crate::read::{DistMetadata, MetadataError, read_metadata};
