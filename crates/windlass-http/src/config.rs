use std::path::PathBuf;
use std::time::Duration;

use crate::retry::RetryObserver;

/// The configuration key that lists hosts allowed over plain `http://`,
/// named in the hint of an [`ErrorKind::InsecureScheme`](crate::ErrorKind)
/// error.
pub const INSECURE_HOSTS_KEY: &str = "http.insecure-hosts";

/// The configuration key that names an extra CA file, named in the hint of
/// an [`ErrorKind::Tls`](crate::ErrorKind) error.
pub const EXTRA_CA_FILE_KEY: &str = "http.ca-file";

/// The configuration key of the retry time budget, named in the hint of an
/// error whose retries the budget ended.
pub const RETRY_BUDGET_KEY: &str = "http.retry-budget";

/// The environment variable of [`RETRY_BUDGET_KEY`].
pub const RETRY_BUDGET_ENV: &str = "WINDLASS_HTTP_RETRY_BUDGET";

/// How Windlass talks HTTP: plain data, filled from `windlass.toml`, the
/// environment and flags by the caller.
///
/// Proxies are not configured here: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`
/// and `NO_PROXY` (in either case) are read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Total time for one attempt, from connecting until the response body
    /// has been read. A request may override it with
    /// [`RequestBuilder::timeout`](reqwest::RequestBuilder::timeout), as large
    /// uploads should.
    pub timeout: Duration,
    /// Time to establish a TCP connection.
    pub connect_timeout: Duration,
    /// Retries after the first attempt; `0` disables retrying.
    pub max_retries: u32,
    /// How long an origin may keep failing before no more retries are
    /// scheduled for it: the clock starts at its first failure since its
    /// last success, and a retry whose wait would end later is not made.
    /// Shared by every request of a client and its clones.
    pub retry_budget: Duration,
    /// The backoff before the first retry; it doubles with every retry.
    pub backoff_base: Duration,
    /// The largest backoff between two attempts.
    pub backoff_max: Duration,
    /// The longest `Retry-After` a server may ask for; longer values are cut
    /// to this.
    pub retry_after_max: Duration,
    /// Whether `500 Internal Server Error` is retried like `502`/`503`/`504`.
    pub retry_on_500: bool,
    /// A PEM file with one or more CA certificates trusted in addition to the
    /// system roots (e.g. for a registry with a self-signed certificate).
    pub extra_ca_file: Option<PathBuf>,
    /// Hosts (`host` or `host:port`) that may be reached over plain `http://`.
    /// Loopback hosts (`127.0.0.0/8`, `::1`, `localhost`) always may.
    pub insecure_hosts: Vec<String>,
    /// Appended to the `windlass/<version>` user agent, after a space.
    pub user_agent_suffix: Option<String>,
    /// Told about every retry before its wait (see
    /// [`RetryObserver::new`]).
    pub retry_observer: Option<RetryObserver>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            retry_budget: Duration::from_secs(20),
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(20),
            retry_after_max: Duration::from_secs(60),
            retry_on_500: false,
            extra_ca_file: None,
            insecure_hosts: Vec::new(),
            user_agent_suffix: None,
            retry_observer: None,
        }
    }
}

impl HttpConfig {
    /// The `User-Agent` header value: `windlass/<version>` and the suffix.
    pub fn user_agent(&self) -> String {
        let base = concat!("windlass/", env!("CARGO_PKG_VERSION"));
        match self.user_agent_suffix.as_deref().map(str::trim) {
            Some(suffix) if !suffix.is_empty() => format!("{base} {suffix}"),
            _ => base.to_owned(),
        }
    }
}

impl HttpConfig {
    /// The same settings, with every retry reported to `observer`.
    #[must_use]
    pub fn with_retry_observer(mut self, observer: RetryObserver) -> Self {
        self.retry_observer = Some(observer);
        self
    }

    /// The client settings that `[http]` in `windlass.toml` (and its
    /// `WINDLASS_HTTP_*` variables) chose; everything else at its default.
    pub fn from_settings(settings: &windlass_config::HttpSettings) -> Self {
        Self {
            timeout: settings.timeout,
            connect_timeout: settings.connect_timeout,
            max_retries: settings.retries,
            retry_budget: settings.retry_budget,
            extra_ca_file: settings.ca_file.clone(),
            insecure_hosts: settings.insecure_hosts.clone(),
            ..Self::default()
        }
    }
}
