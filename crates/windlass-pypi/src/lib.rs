//! Publishing wheels and sdists to PyPI-compatible indexes (PyPI, TestPyPI,
//! devpi, pypiserver, and any index speaking the legacy upload API).
//!
//! [`publish`] is `windlass wheel publish`: it takes a [`PublishRequest`]
//! (what to publish, where, and how) and a [`PublishContext`] (the
//! environment, windlass.toml's repositories, secrets and HTTP settings),
//! both built by the wheel tool from its flags and configuration. It reads
//! and validates every distribution (and runs the caller's own check,
//! [`publish_checked`]) while it chooses the repository and its
//! credentials ([`repository`]) and looks each project up in the index's
//! simple API; only once every file has passed (nothing partial is ever
//! uploaded) does it upload the missing files in parallel as
//! multipart streamed from disk. An identical file already on the index is
//! skipped; a different file under the same name stops with both hashes.
//! After a failed or timed-out upload the file is looked up again before
//! any retry, so a retry never uploads twice nor fails on its own earlier
//! success. Index answers are never parsed for meaning: status codes only
//! trigger a look-up, and hashes decide.
//!
//! Credentials exist only as [`Secret`](windlass_redact::Secret)s registered
//! with the redactor: secret references (`vault://`, `env://`, ...) in flags
//! and `[wheel.repositories]`, twine's `TWINE_*` variables and
//! `~/.pypirc`, or a short-lived token from trusted publishing ([`oidc`]).
//! With none of them, a token is asked for at a terminal
//! ([`TokenPrompt`]); elsewhere the run stops before sending anything,
//! unless `--no-credentials` says the index needs none. Once the index
//! refuses the credentials (401 or 403), no further file is started.
//!
//! This crate never prints except through `windlass-output`, never builds an
//! HTTP client except through `windlass-http`, never reads windlass.toml
//! itself (its caller does, through `windlass-config`), and never holds a
//! whole distribution in memory. It knows no command line: the wheel tool
//! owns the flags and turns them into a [`PublishRequest`].

pub mod config;
pub mod dist;
pub mod form;
pub mod local;
pub mod oidc;
pub mod publish;
pub mod report;
pub mod repository;
pub mod simple;
pub mod upload;

pub use crate::config::{Pypirc, RepositorySection};
pub use crate::dist::{DistError, DistKind, Distribution};
pub use crate::local::{LocalIndex, LocalIndexError};
pub use crate::publish::{
    PublishContext, PublishRequest, TokenPrompt, classifier, dist_paths, publish, publish_checked,
};
pub use crate::report::{FileReport, FileStatus, PublishReport};
pub use crate::repository::{
    Credentials, Target, TargetError, TargetRequest, TargetSources, TrustedPublishingMode,
};
