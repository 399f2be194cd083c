use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::config::HttpConfig;

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
    backoff_base: Duration,
    backoff_max: Duration,
    retry_after_max: Duration,
    retry_on_500: bool,
}

impl RetryPolicy {
    pub(crate) fn new(config: &HttpConfig) -> Self {
        Self {
            max_retries: config.max_retries,
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
    pub(crate) fn delay_after_status(
        &self,
        retry: u32,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Duration {
        let honours_retry_after =
            status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE;
        let retry_after = honours_retry_after
            .then(|| headers.get(RETRY_AFTER)?.to_str().ok())
            .flatten()
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        match retry_after {
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
}
