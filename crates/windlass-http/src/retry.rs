use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use windlass_redact::RedactedUrl;

use crate::client::HttpClient;
use crate::config::HttpConfig;
use crate::error::{ErrorKind, HttpError};

/// Whether a request may be sent again after it may have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Idempotency {
    /// Sending it twice does no harm: retried on connection errors, timeouts,
    /// broken connections and retryable statuses.
    #[default]
    Idempotent,
    /// Sending it twice may do harm (an upload, a `POST` that creates):
    /// retried only when no connection was made, so the server never saw it.
    NonIdempotent,
}

/// The retry rules taken from [`HttpConfig`].
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) budget: Duration,
    backoff_base: Duration,
    backoff_max: Duration,
    retry_after_max: Duration,
    retry_on_500: bool,
}

impl RetryPolicy {
    pub(crate) fn new(config: &HttpConfig) -> Self {
        Self {
            max_retries: config.max_retries,
            budget: config.retry_budget,
            backoff_base: config.backoff_base,
            backoff_max: config.backoff_max,
            retry_after_max: config.retry_after_max,
            retry_on_500: config.retry_on_500,
        }
    }

    pub(crate) fn is_retryable_status(&self, status: StatusCode) -> bool {
        matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
        ) || (self.retry_on_500 && status == StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The wait before retry number `retry` (1-based) after a response with
    /// `status` and `headers`: the server's `Retry-After` on 429/503 (capped),
    /// else the backoff.
    #[cfg(test)]
    pub(crate) fn delay_after_status(
        &self,
        retry: u32,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Duration {
        match retry_after(status, headers) {
            Some(wait) => wait.min(self.retry_after_max),
            None => self.backoff(retry),
        }
    }

    /// The wait before retry number `retry` after `error`: the server's
    /// `Retry-After` (capped) where it sent one on a 429 or 503, else the
    /// backoff.
    pub(crate) fn delay_after(&self, retry: u32, error: &HttpError) -> Duration {
        match error.retry_after() {
            Some(wait) => wait.min(self.retry_after_max),
            None => self.backoff(retry),
        }
    }

    /// Exponential backoff with full jitter: uniformly random between zero
    /// and the ceiling for retry number `retry`.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=millis))
    }

    /// `base * 2^(retry - 1)`, at most `backoff_max`.
    fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 2_u32.saturating_pow(retry.saturating_sub(1));
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// The `Retry-After` of a 429 or 503 answer, if it has a usable one.
pub(crate) fn retry_after(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    let honours_retry_after =
        status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE;
    honours_retry_after
        .then(|| headers.get(RETRY_AFTER)?.to_str().ok())
        .flatten()
        .and_then(|value| parse_retry_after(value, SystemTime::now()))
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date (a date in
/// the past means no wait).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Where retries happen for a request: in [`HttpClient::send_with`], or in
/// a loop of the caller's around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Retries {
    /// The client retries as the [`Idempotency`] allows.
    #[default]
    Here,
    /// One attempt: the caller's own loop retries, with a [`Retrier`] from
    /// [`HttpClient::retrier`], so that exactly one layer retries.
    ByCaller,
}

/// The retry time budget of each origin, shared by the clones of a client.
///
/// The clock of an origin starts at its first failure since its last
/// success; a success stops it. A retry is only scheduled if its wait ends
/// within the budget of that start, so an origin that is down costs about
/// one budget, whatever the number of requests.
#[derive(Debug, Default)]
pub(crate) struct Budgets {
    failing_since: Mutex<HashMap<String, Instant>>,
}

impl Budgets {
    /// The origin answered: its clock stops.
    pub(crate) fn success(&self, url: &RedactedUrl) {
        self.map().remove(&origin_key(url));
    }

    /// The origin failed: its clock starts unless it runs.
    pub(crate) fn failure(&self, url: &RedactedUrl) {
        self.map()
            .entry(origin_key(url))
            .or_insert_with(Instant::now);
    }

    /// When the origin's current run of failures began.
    fn failing_since(&self, url: &RedactedUrl) -> Option<Instant> {
        self.map().get(&origin_key(url)).copied()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.failing_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn origin_key(url: &RedactedUrl) -> String {
    url.expose().origin().ascii_serialization()
}

/// Why a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryReason {
    /// The server answered with this status.
    Status(StatusCode),
    /// No usable answer: a connection error, a timeout, a broken connection.
    Error(ErrorKind),
}

impl fmt::Display for RetryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => {
                write!(f, "{}", status.as_u16())?;
                if let Some(reason) = status.canonical_reason() {
                    write!(f, " {reason}")?;
                }
                Ok(())
            }
            Self::Error(kind) => write!(f, "{kind} error"),
        }
    }
}

/// A retry about to happen, for a [`RetryObserver`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryNotice {
    pub method: Method,
    /// The request's URL, redacted when shown.
    pub url: RedactedUrl,
    pub reason: RetryReason,
    /// The attempt about to be made: 2 for the first retry.
    pub attempt: u32,
    /// The most attempts `http.retries` allows (the budget may end sooner).
    pub max_attempts: u32,
    /// The wait before that attempt.
    pub wait: Duration,
}

impl fmt::Display for RetryNotice {
    /// `POST http://host/ (503 Service Unavailable, attempt 2 of 4, next in 1.2 s)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({}, attempt {} of {}, next in {})",
            self.method,
            self.url,
            self.reason,
            self.attempt,
            self.max_attempts,
            seconds(self.wait)
        )
    }
}

/// Called before each wait for a retry (see [`HttpClient::with_retry_observer`]).
#[derive(Clone)]
pub struct RetryObserver(Arc<dyn Fn(&RetryNotice) + Send + Sync>);

impl RetryObserver {
    /// Calls `observe` before each wait. The CLIs show each retry on the
    /// printer's transient status line (`Retrying POST http://host/ (503
    /// Service Unavailable, attempt 2 of 4, next in 1.2 s)`) with
    /// `RetryObserver::new(printer.status_line().shows("Retrying"))`; this
    /// crate knows nothing of terminals.
    pub fn new(observe: impl Fn(&RetryNotice) + Send + Sync + 'static) -> Self {
        Self(Arc::new(observe))
    }

    fn notify(&self, notice: &RetryNotice) {
        (self.0)(notice);
    }
}

impl fmt::Debug for RetryObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RetryObserver")
    }
}

impl PartialEq for RetryObserver {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for RetryObserver {}

/// The retry decisions of one request, or of a caller's loop around
/// requests sent with [`Retries::ByCaller`]: the client's one policy
/// (`http.retries` attempts, backoff with jitter, `Retry-After`, the
/// origin's time budget, loopback refusals final).
///
/// ```no_run
/// # async fn run(client: windlass_http::HttpClient, url: windlass_redact::RedactedUrl) -> Result<(), windlass_http::HttpError> {
/// use windlass_http::{Method, Policy};
///
/// let mut retrier = client.retrier();
/// loop {
///     let policy = Policy::NON_IDEMPOTENT.retried_by_caller();
///     match client.send_with(Method::POST, &url, policy, |r| r).await {
///         Ok(_) => return Ok(()),
///         // (check here that repeating the request is safe)
///         Err(error) => match retrier.schedule(&error) {
///             Some(wait) => tokio::time::sleep(wait).await,
///             None => return Err(retrier.give_up(error)),
///         },
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Retrier {
    client: HttpClient,
    idempotency: Idempotency,
    retries: Retries,
    attempts: u32,
    started: Instant,
    budget_ended: bool,
}

impl Retrier {
    pub(crate) fn new(client: HttpClient, idempotency: Idempotency, retries: Retries) -> Self {
        Self {
            client,
            idempotency,
            retries,
            attempts: 0,
            started: Instant::now(),
            budget_ended: false,
        }
    }

    /// Counts the failed attempt that gave `error` and decides whether to
    /// try again: `Some(wait)` when so (the observer and a `debug` event are
    /// told first), `None` when retrying is over (then call
    /// [`Retrier::give_up`]).
    pub fn schedule(&mut self, error: &HttpError) -> Option<Duration> {
        self.attempts = self.attempts.saturating_add(1);
        let policy = self.client.retry_policy();
        let max_attempts = policy.max_retries.saturating_add(1);
        if self.retries == Retries::ByCaller
            || !self.is_retryable(error)
            || error.is_loopback_refusal()
            || self.attempts >= max_attempts
        {
            return None;
        }
        let wait = policy.delay_after(self.attempts, error);
        let since = self
            .client
            .budgets()
            .failing_since(error.url())
            .unwrap_or(self.started);
        if Instant::now() + wait > since + policy.budget {
            self.budget_ended = true;
            return None;
        }
        let notice = RetryNotice {
            method: error.method().clone(),
            url: error.url().clone(),
            reason: error
                .status()
                .map_or(RetryReason::Error(error.kind()), RetryReason::Status),
            attempt: self.attempts + 1,
            max_attempts,
            wait,
        };
        tracing::debug!(
            method = %notice.method,
            url = %notice.url,
            reason = %notice.reason,
            attempt = notice.attempt,
            max_attempts,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "retrying http request"
        );
        if let Some(observer) = self.client.retry_observer() {
            observer.notify(&notice);
        }
        Some(wait)
    }

    /// [`Retrier::schedule`] and the wait: whether to try again.
    pub async fn retry(&mut self, error: &HttpError) -> bool {
        match self.schedule(error) {
            Some(wait) => {
                tokio::time::sleep(wait).await;
                true
            }
            None => false,
        }
    }

    /// The final error, saying how many attempts were made in how long and
    /// whether the time budget ended them.
    pub fn give_up(&self, error: HttpError) -> HttpError {
        let budget = self.budget_ended.then(|| self.client.retry_policy().budget);
        error
            .with_attempts(self.attempts.max(1))
            .with_retry_summary(self.started.elapsed(), budget)
    }

    /// How many attempts failed so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    fn is_retryable(&self, error: &HttpError) -> bool {
        let transient = matches!(
            error.kind(),
            ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Interrupted | ErrorKind::Body
        );
        match (self.idempotency, error.status()) {
            (Idempotency::Idempotent, Some(status)) => {
                error.kind() == ErrorKind::Status
                    && self.client.retry_policy().is_retryable_status(status)
            }
            (Idempotency::Idempotent, None) => transient,
            (Idempotency::NonIdempotent, _) => error.never_sent() && transient,
        }
    }
}

/// `1.2 s` under ten seconds, `19 s` from there.
pub(crate) fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.1} s")
    } else {
        format!("{secs:.0} s")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    use super::{RetryPolicy, parse_retry_after};
    use crate::HttpConfig;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(&HttpConfig {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            retry_after_max: Duration::from_secs(30),
            ..HttpConfig::default()
        })
    }

    #[test]
    fn retry_after_values() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let cases = [
            "1",
            " 120 ",
            "0",
            "Wed, 21 Oct 2015 07:28:30 GMT",
            "Wed, 21 Oct 2015 07:27:00 GMT",
            "Wednesday, 21-Oct-15 07:29:00 GMT",
            "-1",
            "1.5",
            "soon",
            "",
            "99999999999999999999999",
        ];
        let rendered: Vec<String> = cases
            .iter()
            .map(|case| format!("{case:?} -> {:?}", parse_retry_after(case, now)))
            .collect();
        insta::assert_debug_snapshot!(rendered);
    }

    #[test]
    fn backoff_ceilings() {
        let policy = policy();
        let rendered: Vec<String> = [1, 2, 3, 4, 5, 6, 40, u32::MAX]
            .iter()
            .map(|retry| format!("retry {retry} -> {:?}", policy.backoff_ceiling(*retry)))
            .collect();
        insta::assert_debug_snapshot!(rendered);
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        let policy = policy();
        for retry in 1..10 {
            for _ in 0..50 {
                assert!(policy.backoff(retry) <= policy.backoff_ceiling(retry));
            }
        }
    }

    #[test]
    fn delays_after_statuses() {
        let policy = policy();
        let cases = [
            (StatusCode::TOO_MANY_REQUESTS, Some("3")),
            (StatusCode::SERVICE_UNAVAILABLE, Some("7")),
            (StatusCode::SERVICE_UNAVAILABLE, Some("3600")),
            (StatusCode::BAD_GATEWAY, Some("3")),
            (StatusCode::TOO_MANY_REQUESTS, Some("garbage")),
        ];
        let rendered: Vec<String> = cases
            .iter()
            .map(|(status, retry_after)| {
                let mut headers = HeaderMap::new();
                if let Some(value) = retry_after {
                    headers.insert(RETRY_AFTER, HeaderValue::from_static(value));
                }
                let delay = policy.delay_after_status(1, *status, &headers);
                let shown = if delay <= Duration::from_millis(100) {
                    "backoff".to_owned()
                } else {
                    format!("{delay:?}")
                };
                format!("{} {retry_after:?} -> {shown}", status.as_u16())
            })
            .collect();
        insta::assert_debug_snapshot!(rendered);
    }

    #[test]
    fn retryable_statuses() {
        let strict = policy();
        let lenient = RetryPolicy::new(&HttpConfig {
            retry_on_500: true,
            ..HttpConfig::default()
        });
        let rendered: Vec<String> = [200, 400, 401, 404, 408, 429, 500, 501, 502, 503, 504]
            .iter()
            .map(|code| {
                let status = StatusCode::from_u16(*code).unwrap();
                format!(
                    "{code}: {} / with retry_on_500: {}",
                    strict.is_retryable_status(status),
                    lenient.is_retryable_status(status)
                )
            })
            .collect();
        insta::assert_debug_snapshot!(rendered);
    }

    /// Which failures the policy retries, by idempotency: a request that
    /// may have reached the server is repeated only when idempotent, one
    /// that never left always; `Retries::ByCaller` never retries.
    #[test]
    fn what_is_retried() {
        use reqwest::Method;
        use windlass_redact::RedactedUrl;

        use super::{Idempotency, Retrier, Retries};
        use crate::{ErrorKind, HttpClient, HttpError};

        let client = HttpClient::new(&HttpConfig {
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(1),
            ..HttpConfig::default()
        })
        .unwrap();
        let url = RedactedUrl::parse("https://index.example/upload").unwrap();
        let failures = [
            (
                "503",
                HttpError::new(Method::POST, &url, ErrorKind::Status)
                    .with_status(StatusCode::SERVICE_UNAVAILABLE),
            ),
            (
                "500",
                HttpError::new(Method::POST, &url, ErrorKind::Status)
                    .with_status(StatusCode::INTERNAL_SERVER_ERROR),
            ),
            (
                "404",
                HttpError::new(Method::POST, &url, ErrorKind::Status)
                    .with_status(StatusCode::NOT_FOUND),
            ),
            (
                "connect, never sent",
                HttpError::new(Method::POST, &url, ErrorKind::Connect).with_never_sent(),
            ),
            (
                "timeout, maybe sent",
                HttpError::new(Method::POST, &url, ErrorKind::Timeout),
            ),
            (
                "interrupted",
                HttpError::new(Method::POST, &url, ErrorKind::Interrupted),
            ),
            ("tls", HttpError::new(Method::POST, &url, ErrorKind::Tls)),
        ];
        let mut rendered = Vec::new();
        for (name, error) in &failures {
            let decisions: Vec<String> = [
                ("idempotent", Idempotency::Idempotent, Retries::Here),
                ("non-idempotent", Idempotency::NonIdempotent, Retries::Here),
                ("by caller", Idempotency::Idempotent, Retries::ByCaller),
            ]
            .into_iter()
            .map(|(label, idempotency, retries)| {
                let mut retrier = Retrier::new(client.clone(), idempotency, retries);
                let again = retrier.schedule(error).is_some();
                format!("{label}: {}", if again { "retry" } else { "final" })
            })
            .collect();
            rendered.push(format!("{name:<20} {}", decisions.join(", ")));
        }
        insta::assert_snapshot!(rendered.join("\n"), @r"
        503                  idempotent: retry, non-idempotent: final, by caller: final
        500                  idempotent: final, non-idempotent: final, by caller: final
        404                  idempotent: final, non-idempotent: final, by caller: final
        connect, never sent  idempotent: retry, non-idempotent: retry, by caller: final
        timeout, maybe sent  idempotent: retry, non-idempotent: final, by caller: final
        interrupted          idempotent: retry, non-idempotent: final, by caller: final
        tls                  idempotent: final, non-idempotent: final, by caller: final
        ");
    }
}
