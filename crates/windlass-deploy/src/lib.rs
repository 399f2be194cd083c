//! `windlass deploy`: promote an exact set of artifacts (a chart version,
//! image digests, application values) through environments with Helm,
//! behind gates, with a ledger in the cluster, rollback and strategies.
//!
//! The clap definition ([`cli::DeployCli`]) lives here so that the umbrella
//! binary (`windlass deploy ...`) and the focused one (`windlass-deploy ...`)
//! share it. Modules:
//!
//! - [`config`]: `[deploy]` and `[deploy.environments.NAME]` in
//!   `windlass.toml`.
//! - [`bundle`]: what gets promoted: chart, images by digest, application
//!   values and source commit, with a content-addressed id.
//! - [`make`]: making a bundle (values merged, images pinned, the source
//!   from git) and the values documents an environment hands to Helm.
//! - [`helm`]: the real `helm` binary, run through `windlass-process`;
//!   values reach it as private files, never on argv.
//! - [`kube`]: the Kubernetes API through kube-rs: the per-environment
//!   lease, the ledger, rollout status.
//! - [`gates`]: approval, soak time, change window and verification,
//!   checked before and after an upgrade.
//! - [`strategy`]: recreate, rolling, blue/green and canary on plain Helm
//!   charts.
//! - [`metrics`]: the four DORA measures from the ledgers and git, and the
//!   self-contained HTML status board.
//! - [`gitops`]: `deploy render`, an environment's manifests as files for a
//!   GitOps tree (`helm template`, no cluster).
//! - the commands: [`up`], [`promote`], [`approve`], [`status`],
//!   [`history`], [`diff`], [`rollback`].
//!
//! This crate never prints except through `windlass-output`, never builds an
//! HTTP client except through `windlass-http` (kube-rs builds the one that
//! talks to the Kubernetes API), and never spawns a process except through
//! `windlass-process`.

pub mod bundle;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diff;
pub mod gates;
pub mod gitops;
pub mod helm;
pub mod kube;
pub mod make;
pub mod promotion;
pub mod stage;
pub mod strategy;
pub mod summary;

pub use crate::bundle::{Bundle, BundleId};
pub mod metrics;
