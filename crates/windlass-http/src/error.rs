use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;

use reqwest::{Method, Response, StatusCode};
use windlass_redact::RedactedUrl;

use crate::config::{EXTRA_CA_FILE_KEY, INSECURE_HOSTS_KEY};

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
        source: io::Error,
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
        error.inner.response = Mutex::new(Some(response));
        error
    }

    /// Maps an error from reqwest (e.g. from `Response::json` or
    /// `Response::bytes`) into one that is safe to print: the URL is dropped
    /// from it and replaced by the redacted one.
    pub fn from_reqwest(method: Method, url: &RedactedUrl, error: reqwest::Error) -> Self {
        let kind = classify(&error);
        let mut mapped = Self::new(method, url, kind);
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
            | ErrorKind::Redirect => ErrorClass::Remote,
        }
    }

    /// Whether the network or the server failed (exit code 3).
    pub fn is_remote_failure(&self) -> bool {
        self.class() == ErrorClass::Remote
    }

    /// What the user can do about it, where we know.
    pub fn hint(&self) -> Option<String> {
        match self.inner.kind {
            ErrorKind::InsecureScheme => {
                let host = self.inner.url.expose().host_str().unwrap_or_default();
                Some(format!(
                    "use https, or allow plain http to this host with `{INSECURE_HOSTS_KEY} = [\"{host}\"]`"
                ))
            }
            ErrorKind::Tls => Some(format!(
                "if the server's certificate comes from a private ca, name the ca's pem file in `{EXTRA_CA_FILE_KEY}`"
            )),
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
            ErrorKind::InvalidUrl => write!(f, "{url} is not an http or https url with a host")?,
            ErrorKind::InsecureScheme => write!(f, "refusing plain http for {method} {url}")?,
            ErrorKind::InvalidRequest => write!(f, "cannot build the request {method} {url}")?,
        }
        if self.inner.attempts > 1 {
            write!(f, " (after {} attempts)", self.inner.attempts)?;
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

/// Reads at most `max_bytes` of a response body as lossy UTF-8, trimmed and
/// passed through the global redactor; `…` marks a cut. `None` when the
/// body is empty or cannot be read.
pub async fn read_snippet(mut response: Response, max_bytes: usize) -> Option<String> {
    let mut bytes = Vec::new();
    let mut cut = false;
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = max_bytes.saturating_sub(bytes.len());
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            cut = true;
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut snippet = windlass_redact::global().redact(text).into_owned();
    if cut {
        snippet.push('…');
    }
    Some(snippet)
}

/// A redirect to plain http that the configuration does not allow; carries
/// no URL.
#[derive(Debug, thiserror::Error)]
#[error("refusing a redirect to plain http")]
pub(crate) struct InsecureRedirect;

/// A redirect to a URL that is not http or https.
#[derive(Debug, thiserror::Error)]
#[error("refusing a redirect to a url that is not http or https")]
pub(crate) struct InvalidRedirect;

fn classify(error: &reqwest::Error) -> ErrorKind {
    if chain_has::<InsecureRedirect>(error) {
        ErrorKind::InsecureScheme
    } else if chain_has::<InvalidRedirect>(error) {
        ErrorKind::InvalidUrl
    } else if chain_has::<rustls::Error>(error) {
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

/// Whether `T` is somewhere in the source chain, also inside `io::Error`s
/// (whose `source` skips the error they wrap).
fn chain_has<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(current) = next {
        if current.is::<T>() {
            return true;
        }
        if let Some(inner) = current
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
            && (inner.is::<T>() || chain_has::<T>(inner))
        {
            return true;
        }
        next = current.source();
    }
    false
}

impl windlass_output::Diagnostic for HttpError {
    /// A refused URL is the user's to fix (2); anything the server or the
    /// network said, including 4xx answers such as a rejected token, is a
    /// remote failure (3).
    fn exit_status(&self) -> windlass_output::ExitStatus {
        match self.class() {
            ErrorClass::Usage => windlass_output::ExitStatus::Usage,
            ErrorClass::Remote | ErrorClass::Client => windlass_output::ExitStatus::Remote,
        }
    }

    fn hint(&self) -> Option<String> {
        HttpError::hint(self)
    }
}

impl windlass_output::Diagnostic for BuildError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        windlass_output::ExitStatus::Usage
    }
}
