use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use windlass_redact::RedactedUrl;

use crate::config::{EXTRA_CA_FILE_KEY, INSECURE_HOSTS_KEY, RETRY_BUDGET_ENV, RETRY_BUDGET_KEY};
use crate::retry::seconds;

/// How many bytes of an error response [`HttpError::body_snippet`] reads.
pub const SNIPPET_MAX_BYTES: usize = 2048;

/// Why building an [`HttpClient`](crate::HttpClient) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("cannot read the extra ca file {}", path.display())]
    ReadCaFile {
        path: PathBuf,
        #[source]
        source: windlass_fs::ReadError,
    },
    #[error("the extra ca file {} holds no pem certificate", path.display())]
    NoCertificate { path: PathBuf },
    #[error("the extra ca file {} holds an invalid certificate", path.display())]
    InvalidCertificate {
        path: PathBuf,
        #[source]
        source: reqwest::Error,
    },
    #[error("the user agent suffix is not a valid header value")]
    UserAgent,
    #[error("cannot set up the http client")]
    Client {
        #[source]
        source: reqwest::Error,
    },
}

/// What went wrong with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No connection could be made (refused, DNS, unreachable, proxy).
    Connect,
    /// The connect timeout or the total timeout ran out.
    Timeout,
    /// The TLS handshake failed, e.g. an untrusted certificate.
    Tls,
    /// The connection broke after the request was (perhaps) sent.
    Interrupted,
    /// The server answered with an error status (`>= 400`).
    Status,
    /// Reading the response body failed.
    Body,
    /// The response body could not be decoded (charset, JSON).
    Decode,
    /// Too many redirects.
    Redirect,
    /// A redirect to another origin that the request may not follow: it
    /// carries credentials, or its body would have to be resent.
    CrossOriginRedirect,
    /// The response body is larger than the caller's limit.
    TooLarge,
    /// The URL is not an `http`/`https` URL with a host.
    InvalidUrl,
    /// Plain `http://` to a host that is neither loopback nor allowed.
    InsecureScheme,
    /// The request could not be built (e.g. an invalid header value).
    InvalidRequest,
}

impl ErrorKind {
    /// A short lowercase name, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Tls => "tls",
            Self::Interrupted => "interrupted",
            Self::Status => "status",
            Self::Body => "body",
            Self::Decode => "decode",
            Self::Redirect => "redirect",
            Self::CrossOriginRedirect => "cross-origin redirect",
            Self::TooLarge => "too large",
            Self::InvalidUrl => "invalid url",
            Self::InsecureScheme => "insecure scheme",
            Self::InvalidRequest => "invalid request",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose fault an error is, for choosing an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The request was wrong before it left: a bad URL or configuration
    /// (exit code 2).
    Usage,
    /// The network or the server failed: connection, timeout, TLS, `5xx`,
    /// `429`, a broken body (exit code 3; CI may retry).
    Remote,
    /// The server refused the request with a `4xx` status (auth, not found,
    /// conflict); the caller knows best what that means.
    Client,
}

/// A failed request.
///
/// It carries the method, the [`RedactedUrl`], the status where there is one
/// and the [`ErrorKind`]; it never carries a response body, and its source is
/// a `reqwest::Error` stripped of its URL. The error response itself is kept
/// (out of `Debug`) for [`HttpError::body_snippet`] and
/// [`HttpError::take_response`].
pub struct HttpError {
    // Boxed: errors travel through `Result`s and should stay small.
    inner: Box<Inner>,
}

struct Inner {
    method: Method,
    url: RedactedUrl,
    kind: ErrorKind,
    status: Option<StatusCode>,
    attempts: u32,
    /// How long the attempts took, once retrying ended.
    elapsed: Option<Duration>,
    /// The time budget that ended the retries, if it did.
    budget: Option<Duration>,
    /// The wait a 429 or 503 answer asked for.
    retry_after: Option<Duration>,
    /// Whether no connection was made: the server never saw the request.
    never_sent: bool,
    /// Where a refused redirect pointed.
    redirect: Option<RedactedUrl>,
    /// The size limit a [`ErrorKind::TooLarge`] body exceeded.
    limit: Option<u64>,
    source: Option<reqwest::Error>,
    response: Mutex<Option<Response>>,
}

impl HttpError {
    pub(crate) fn new(method: Method, url: &RedactedUrl, kind: ErrorKind) -> Self {
        Self {
            inner: Box::new(Inner {
                method,
                url: url.clone(),
                kind,
                status: None,
                attempts: 1,
                elapsed: None,
                budget: None,
                retry_after: None,
                never_sent: false,
                redirect: None,
                limit: None,
                source: None,
                response: Mutex::new(None),
            }),
        }
    }

    /// An error for a response with an error status; the response is kept
    /// for [`HttpError::body_snippet`].
    pub fn from_response(method: Method, url: &RedactedUrl, response: Response) -> Self {
        let mut error = Self::new(method, url, ErrorKind::Status);
        error.inner.status = Some(response.status());
        error.inner.retry_after = crate::retry::retry_after(response.status(), response.headers());
        error.inner.response = Mutex::new(Some(response));
        error
    }

    /// Maps an error from reqwest (e.g. from `Response::json` or
    /// `Response::bytes`) into one that is safe to print: the URL is dropped
    /// from it and replaced by the redacted one.
    pub fn from_reqwest(method: Method, url: &RedactedUrl, error: reqwest::Error) -> Self {
        let kind = classify(&error);
        let mut mapped = Self::new(method, url, kind);
        mapped.inner.never_sent = error.is_connect();
        mapped.inner.status = error.status();
        mapped.inner.source = Some(error.without_url());
        mapped
    }

    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.inner.status = Some(status);
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = attempts;
        self
    }

    pub(crate) fn with_retry_summary(
        mut self,
        elapsed: Duration,
        budget: Option<Duration>,
    ) -> Self {
        self.inner.elapsed = Some(elapsed);
        self.inner.budget = budget;
        self
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    #[cfg(test)]
    pub(crate) fn with_never_sent(mut self) -> Self {
        self.inner.never_sent = true;
        self
    }

    pub(crate) fn never_sent(&self) -> bool {
        self.inner.never_sent
    }

    /// Whether the time budget (`http.retry-budget`) ended the retries.
    pub fn retry_budget_ended(&self) -> Option<Duration> {
        self.inner.budget
    }

    /// Whether a loopback host refused the connection: nothing listens
    /// there, and trying again will not change that. Read from the error's
    /// source chain (`ECONNREFUSED`), never from its text.
    pub fn is_loopback_refusal(&self) -> bool {
        let loopback = self
            .inner
            .url
            .expose()
            .host()
            .as_ref()
            .is_some_and(crate::scheme::is_loopback);
        loopback
            && self.inner.kind == ErrorKind::Connect
            && self.inner.source.as_ref().is_some_and(|source| {
                io_errors(source).any(|e| e.kind() == io::ErrorKind::ConnectionRefused)
            })
    }

    pub(crate) fn with_redirect(mut self, target: &RedactedUrl) -> Self {
        self.inner.redirect = Some(target.clone());
        self
    }

    pub(crate) fn with_limit(mut self, limit: u64) -> Self {
        self.inner.limit = Some(limit);
        self
    }

    /// Where the server tried to redirect the request, for a refused
    /// redirect.
    pub fn redirect_target(&self) -> Option<&RedactedUrl> {
        self.inner.redirect.as_ref()
    }

    pub fn method(&self) -> &Method {
        &self.inner.method
    }

    pub fn url(&self) -> &RedactedUrl {
        &self.inner.url
    }

    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    pub fn status(&self) -> Option<StatusCode> {
        self.inner.status
    }

    /// How many attempts were made before giving up.
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// Whose fault the error is.
    pub fn class(&self) -> ErrorClass {
        match self.inner.kind {
            ErrorKind::InvalidUrl | ErrorKind::InsecureScheme | ErrorKind::InvalidRequest => {
                ErrorClass::Usage
            }
            ErrorKind::Status => match self.inner.status {
                Some(status)
                    if status.is_client_error()
                        && status != StatusCode::TOO_MANY_REQUESTS
                        && status != StatusCode::REQUEST_TIMEOUT =>
                {
                    ErrorClass::Client
                }
                _ => ErrorClass::Remote,
            },
            ErrorKind::Connect
            | ErrorKind::Timeout
            | ErrorKind::Tls
            | ErrorKind::Interrupted
            | ErrorKind::Body
            | ErrorKind::Decode
            | ErrorKind::Redirect
            | ErrorKind::CrossOriginRedirect
            | ErrorKind::TooLarge => ErrorClass::Remote,
        }
    }

    /// Whether the network or the server failed (exit code 3).
    pub fn is_remote_failure(&self) -> bool {
        self.class() == ErrorClass::Remote
    }

    /// Whether a failed TLS handshake met a server that speaks plain HTTP:
    /// its answer to our hello was not a TLS record.
    pub fn answers_plain_http(&self) -> bool {
        self.inner.kind == ErrorKind::Tls
            && self.inner.source.as_ref().is_some_and(|source| {
                chain_find::<rustls::Error>(source).is_some_and(|error| {
                    matches!(
                        error,
                        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
                    )
                })
            })
    }

    /// What the user can do about it, where we know.
    pub fn hint(&self) -> Option<String> {
        if let Some(budget) = self.inner.budget {
            return Some(format!(
                "the server kept failing for the whole {} retry budget; to wait longer, raise `{RETRY_BUDGET_KEY}` (or {RETRY_BUDGET_ENV})",
                seconds(budget)
            ));
        }
        if self.answers_plain_http() {
            let origin = self
                .inner
                .url
                .to_display_url()
                .origin()
                .ascii_serialization();
            return Some(format!(
                "the server at {origin} answers plain http: use http:// (loopback only) or enable TLS on it"
            ));
        }
        match self.inner.kind {
            ErrorKind::InsecureScheme => {
                let target = self.inner.redirect.as_ref().unwrap_or(&self.inner.url);
                let host = target.expose().host_str().unwrap_or_default();
                Some(format!(
                    "use https, or allow plain http to this host with `{INSECURE_HOSTS_KEY} = [\"{host}\"]`"
                ))
            }
            ErrorKind::Tls => Some(format!(
                "if the server's certificate comes from a private ca, name the ca's pem file in `{EXTRA_CA_FILE_KEY}`"
            )),
            ErrorKind::CrossOriginRedirect => Some(
                "credentials are only sent to the origin they were configured for; if the server has moved, configure its new address"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// The error response, taken out of the error (once).
    pub fn take_response(&self) -> Option<Response> {
        self.inner
            .response
            .lock()
            .ok()
            .and_then(|mut guard| guard.take())
    }

    /// A redacted, size-capped snippet of the error response's body, for
    /// showing a server's message; `None` without a response or body. Takes
    /// the response out of the error.
    pub async fn body_snippet(&self) -> Option<String> {
        let response = self.take_response()?;
        read_snippet(response, SNIPPET_MAX_BYTES).await
    }

    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Inner { method, url, .. } = &*self.inner;
        match self.inner.kind {
            ErrorKind::Connect => write!(f, "cannot connect for {method} {url}")?,
            ErrorKind::Timeout => write!(f, "{method} {url} timed out")?,
            ErrorKind::Tls => write!(f, "tls handshake failed for {method} {url}")?,
            ErrorKind::Interrupted => write!(f, "the connection broke during {method} {url}")?,
            ErrorKind::Status => {
                write!(f, "{method} {url} returned")?;
                if let Some(status) = self.inner.status {
                    write!(f, " {}", status.as_u16())?;
                    if let Some(reason) = status.canonical_reason() {
                        write!(f, " {}", reason.to_ascii_lowercase())?;
                    }
                }
            }
            ErrorKind::Body => write!(f, "cannot read the response to {method} {url}")?,
            ErrorKind::Decode => write!(f, "cannot decode the response to {method} {url}")?,
            ErrorKind::Redirect => write!(f, "too many redirects for {method} {url}")?,
            ErrorKind::CrossOriginRedirect => {
                write!(f, "refusing to follow a redirect of {method} {url}")?;
                if let Some(status) = self.inner.status {
                    write!(f, " ({})", status.as_u16())?;
                }
                let from = url.expose().origin().ascii_serialization();
                match &self.inner.redirect {
                    Some(to) => {
                        let to = to.to_display_url().origin().ascii_serialization();
                        write!(f, " from {from} to another origin, {to}")?;
                    }
                    None => write!(f, " from {from} to another origin")?,
                }
            }
            ErrorKind::TooLarge => {
                write!(f, "the response to {method} {url} is larger than")?;
                match self.inner.limit {
                    Some(limit) => write!(f, " {}", human_bytes(limit))?,
                    None => write!(f, " its limit")?,
                }
            }
            ErrorKind::InvalidUrl => write!(f, "{url} is not an http or https url with a host")?,
            ErrorKind::InsecureScheme => match &self.inner.redirect {
                Some(to) => write!(
                    f,
                    "refusing a redirect of {method} {url} to plain http ({to})"
                )?,
                None => write!(f, "refusing plain http for {method} {url}")?,
            },
            ErrorKind::InvalidRequest => write!(f, "cannot build the request {method} {url}")?,
        }
        let attempts = self.inner.attempts;
        let tried = match self.inner.elapsed {
            Some(elapsed) => format!("after {attempts} attempts in {}", seconds(elapsed)),
            None => format!("after {attempts} attempts"),
        };
        match self.inner.budget {
            Some(budget) if attempts > 1 => write!(
                f,
                " ({tried}, gave up after the {} retry budget)",
                seconds(budget)
            )?,
            Some(budget) => write!(
                f,
                " (not retried: the {} retry budget for this server is spent)",
                seconds(budget)
            )?,
            None if attempts > 1 => write!(f, " ({tried})")?,
            None => {}
        }
        Ok(())
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f)
    }
}

impl StdError for HttpError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The response is left out: its `Debug` prints the unredacted URL.
        f.debug_struct("HttpError")
            .field("method", &self.inner.method)
            .field("url", &self.inner.url)
            .field("kind", &self.inner.kind)
            .field("status", &self.inner.status)
            .field("attempts", &self.inner.attempts)
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

/// How much more than a snippet's size [`read_snippet`] reads before
/// redacting, so that a secret cut by the snippet's end is still recognised
/// whole and masked before the cut.
const SNIPPET_LOOKAHEAD: usize = 64 * 1024;

/// Reads a response body as lossy UTF-8, passes it through the global
/// redactor, trims it and cuts it to at most `max_bytes` (at a character
/// boundary, `…` marking the cut). Redacting comes first: a secret that
/// straddles the cut is masked, not half shown. `None` when the body is
/// empty or cannot be read.
pub async fn read_snippet(mut response: Response, max_bytes: usize) -> Option<String> {
    let budget = max_bytes.saturating_add(SNIPPET_LOOKAHEAD);
    let mut bytes = Vec::new();
    let mut more = false;
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = budget.saturating_sub(bytes.len());
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            more = true;
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&bytes);
    let redacted = windlass_redact::global().redact(&text);
    let text = redacted.trim();
    if text.is_empty() {
        return None;
    }
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut snippet = text[..end].trim_end().to_owned();
    if more || end < text.len() {
        snippet.push('…');
    }
    Some(snippet)
}

/// Reads a whole response body, refusing one larger than `limit` bytes
/// (by its `Content-Length` before reading, or as it arrives). For every
/// body Windlass parses: a hostile or broken server cannot exhaust memory.
pub async fn read_bytes(
    method: &Method,
    url: &RedactedUrl,
    mut response: Response,
    limit: u64,
) -> Result<Vec<u8>, HttpError> {
    let too_large = || HttpError::new(method.clone(), url, ErrorKind::TooLarge).with_limit(limit);
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| HttpError::from_reqwest(method.clone(), url, error))?
    {
        if (bytes.len() as u64).saturating_add(chunk.len() as u64) > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Reads a JSON response body of at most `limit` bytes; a body that is not
/// the expected JSON is an [`ErrorKind::Decode`] error (its text is never
/// shown: it may hold a secret).
pub async fn read_json<T: serde::de::DeserializeOwned>(
    method: &Method,
    url: &RedactedUrl,
    response: Response,
    limit: u64,
) -> Result<T, HttpError> {
    let bytes = read_bytes(method, url, response, limit).await?;
    serde_json::from_slice(&bytes)
        .map_err(|_| HttpError::new(method.clone(), url, ErrorKind::Decode))
}

/// A byte count in binary units, as limits are set.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    #[allow(
        clippy::cast_precision_loss,
        reason = "shown with one decimal: the lost bits do not show"
    )]
    let mut value = bytes as f64;
    let mut unit = "bytes";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

fn classify(error: &reqwest::Error) -> ErrorKind {
    if chain_has::<rustls::Error>(error) {
        ErrorKind::Tls
    } else if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_connect() {
        ErrorKind::Connect
    } else if error.is_redirect() {
        ErrorKind::Redirect
    } else if error.is_builder() {
        ErrorKind::InvalidRequest
    } else if error.is_decode() {
        ErrorKind::Decode
    } else if error.is_body() {
        ErrorKind::Body
    } else if error.is_status() {
        ErrorKind::Status
    } else {
        ErrorKind::Interrupted
    }
}

/// Every `io::Error` in the source chain, also those wrapped in another
/// `io::Error`.
fn io_errors<'a>(error: &'a (dyn StdError + 'static)) -> impl Iterator<Item = &'a io::Error> {
    let mut found = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(io) = current.downcast_ref::<io::Error>() {
            found.push(io);
            if let Some(inner) = io.get_ref() {
                found.extend(io_errors(inner));
            }
        }
        next = current.source();
    }
    found.into_iter()
}

/// Whether `T` is somewhere in the source chain.
fn chain_has<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    chain_find::<T>(error).is_some()
}

/// The first `T` in the source chain, also inside `io::Error`s (whose
/// `source` skips the error they wrap).
fn chain_find<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(inner) = current
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
            && let Some(found) = chain_find::<T>(inner)
        {
            return Some(found);
        }
        next = current.source();
    }
    None
}

impl windlass_diagnostic::Diagnostic for HttpError {
    /// A refused URL is the user's to fix (2); anything the server or the
    /// network said, including 4xx answers such as a rejected token, is a
    /// remote failure (3).
    fn exit_status(&self) -> windlass_diagnostic::ExitStatus {
        match self.class() {
            ErrorClass::Usage => windlass_diagnostic::ExitStatus::Usage,
            ErrorClass::Remote | ErrorClass::Client => windlass_diagnostic::ExitStatus::Remote,
        }
    }

    fn hint(&self) -> Option<String> {
        HttpError::hint(self)
    }
}

impl windlass_diagnostic::Diagnostic for BuildError {
    fn exit_status(&self) -> windlass_diagnostic::ExitStatus {
        windlass_diagnostic::ExitStatus::Usage
    }
}
