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

pub mod manifest;
