//! `windlass release`: one release from commit to production. `release
//! plan` shows everything a release would do before anything is published;
//! `release run` does it in dependency order (wheels to an index, images to
//! a registry, the bundle to the first environment), records what it made
//! in one content-addressed [`manifest`], and `windlass verify` walks every
//! link of a manifest again.
//!
//! Modules:
//!
//! - [`config`]: `[release]` in `windlass.toml`.
//! - [`release`]: what a release is about, read before anything is done
//!   (version, source, wheel projects, images, first environment).
//! - [`pipeline`]: `plan` and `run`, step by step.
//! - [`steps`]: the steps as plan and run report them.
//! - [`manifest`]: the release manifest: what a release made and where it
//!   went, with its content address.
//! - [`verify`]: `windlass verify MANIFEST`, every link of a manifest
//!   checked again (index, registry or layout, environment).
//! - [`attach`]: the manifest attached to an image as an OCI referrer.
//! - [`summary`]: the manifest as step-summary Markdown.
//! - [`cli`]: the command line both binaries share.
//!
//! It never prints a secret: credentials appear as references, and every
//! byte written goes through the redactor. It never prints except through
//! `windlass-output`, never builds an HTTP client except through
//! `windlass-http`, and never modifies a manifest it verifies.

pub mod attach;
pub mod cli;
pub mod config;
mod credentials;
pub mod manifest;
pub mod pipeline;
pub mod release;
pub mod steps;
pub mod summary;
pub mod verify;
