//! `windlass image`: build OCI images without a daemon, push, copy, tag and
//! inspect them by digest.
//!
//! The clap definition ([`cli::ImageCli`]) lives here so that the umbrella
//! binary (`windlass image ...`) and the focused one (`windlass-image ...`)
//! share it. Modules:
//!
//! - [`digest`], [`reference`]: validated `sha256:` digests, image
//!   references and locations (`REGISTRY/REPO[:TAG][@DIGEST]`,
//!   `oci:DIR[:TAG]`).
//! - [`layout`]: OCI layout directories, written blob by blob with renames
//!   so nothing is ever half-written.
//! - [`config`]: `[image]` in `windlass.toml`.
//! - [`artifact`]: artifacts (an SBOM, a release manifest) attached to an
//!   image as referrers, in a layout or on a registry.
//! - [`build`]: `image build` (layers, config, manifest; Containerfile
//!   subset; Python installed natively).
//! - [`python`]: the base image's Python read from its layers, wheels
//!   fetched for it with pip and installed natively into a staging tree,
//!   and the CycloneDX SBOM of what was installed.
//! - [`push`], [`copy`], [`tag`], [`inspect`]: the commands that talk to
//!   registries, over [`registry`] (the distribution protocol on
//!   `windlass-http`).
//!
//! This crate never prints except through `windlass-output`, never builds an
//! HTTP client except through `windlass-http`, and never spawns a process
//! except through `windlass-process`.

pub mod artifact;
pub mod build;
pub mod cache;
pub mod cli;
pub mod config;
pub mod copy;
pub mod digest;
pub mod inspect;
pub mod layout;
pub mod push;
pub mod python;
pub mod reference;
pub mod registry;
pub mod tag;

pub use crate::digest::Digest;
pub use crate::layout::Layout;
pub use crate::reference::{Location, Reference};
