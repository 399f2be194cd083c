//! `windlass release`: one release from commit to production. `release
//! plan` shows everything a release would do before anything is published;
//! `release run` does it in dependency order (wheels to an index, images to
//! a registry, the bundle to the first environment), records what it made
//! in one content-addressed [`manifest`], and `windlass verify` walks every
//! link of a manifest again.
//!
//! Modules:
//!
//! - [`manifest`]: the release manifest: what a release made and where it
//!   went, with its content address.
//! - [`verify`]: `windlass verify MANIFEST`, every link of a manifest
//!   checked again (index, registry or layout, environment).
//! - [`attach`]: the manifest attached to an image as an OCI referrer.
//! - [`summary`]: the manifest as step-summary Markdown.
//!
//! This crate never prints except through `windlass-output`, never builds
//! an HTTP client except through `windlass-http`, and never modifies a
//! manifest it verifies.

pub mod attach;
mod credentials;
pub mod manifest;
pub mod summary;
pub mod verify;
