//! The one place Windlass builds HTTP clients.
//!
//! [`HttpClient`] wraps `reqwest` with rustls (the `ring` provider, system
//! roots plus an optional extra CA file), proxies from the environment, a
//! `windlass/<version>` user agent, timeouts, and retries with exponential
//! backoff and full jitter that honour `Retry-After`.
//!
//! Retries have one policy, here: `http.retries` caps the attempts, and a
//! time budget per origin (`http.retry-budget`, shared by a client's clones)
//! stops them once an origin has kept failing that long, so that a server
//! that is down costs about one budget in all. A connection refused by a
//! loopback host is final at once. A caller that must retry a whole
//! operation (an upload that is looked up after each failure) sends its
//! requests with [`Retries::ByCaller`] and decides with a [`Retrier`], so
//! that exactly one layer retries. Retries are reported to a
//! [`RetryObserver`] (a transient status line in the CLIs) and logged at
//! `debug` level only. Plain `http://` is
//! refused except to loopback hosts and hosts the configuration allows, and
//! never goes through a proxy; neither does a request to a loopback host.
//!
//! Credentials never cross an origin: redirects are followed here, hop by
//! hop, and a request's [`Policy`] decides what a redirect to another origin
//! gets: an error that names both origins ([`Redirects::SameOrigin`], the
//! default, for everything that carries a credential) or a bare `GET` with
//! none of the caller's headers or body ([`Redirects::WithoutCredentials`],
//! for downloads from a CDN). Every body is read with a size cap
//! ([`read_bytes`], [`read_json`]); `clippy.toml` bans reqwest's uncapped
//! readers elsewhere.
//! [`HttpError`] carries the method, the redacted URL, the status and the
//! kind of failure, and classifies itself for exit codes.
//!
//! This crate never links OpenSSL, never prints or logs a URL except through
//! [`RedactedUrl`](windlass_redact::RedactedUrl), and never puts a response
//! body or a raw `reqwest` error (whose text holds the full URL) into an
//! error; a server's message is only shown through the size-capped, redacted
//! [`HttpError::body_snippet`].

mod client;
mod config;
mod error;
mod retry;
mod scheme;

pub use crate::client::{HttpClient, Policy, Redirects};
pub use crate::config::{
    EXTRA_CA_FILE_KEY, HttpConfig, INSECURE_HOSTS_KEY, RETRY_BUDGET_ENV, RETRY_BUDGET_KEY,
};
pub use crate::error::{
    BuildError, ErrorClass, ErrorKind, HttpError, SNIPPET_MAX_BYTES, read_bytes, read_json,
    read_snippet,
};
pub use crate::retry::{Idempotency, Retrier, Retries, RetryNotice, RetryObserver, RetryReason};
pub use reqwest::{Body, Method, RequestBuilder, Response, StatusCode, header, multipart};
