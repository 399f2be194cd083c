//! The upload engine: look the file up, stream it as multipart, and after
//! any failure look again before retrying, so that a retry never uploads
//! twice and never fails on its own earlier success.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncReadExt as _;
use tokio::sync::OnceCell;
use windlass_http::multipart::{Form, Part};
use windlass_http::{Body, HttpClient, HttpError, Method, Policy, Retries, StatusCode};
use windlass_output::{ExitStatus, Printer, Progress};

use crate::dist::Distribution;
use crate::form::form_fields;
use crate::oidc::{OidcError, TrustedPublisher};
use crate::report::{FileError, FileReport, FileStatus};
use crate::repository::{Auth, Credentials, Target};
use crate::simple::{self, Existing, LookupError, ProjectFiles};

/// Bytes read from disk per chunk of the streamed body.
const CHUNK: usize = 256 * 1024;

/// Uploads to one target.
#[derive(Debug)]
pub struct Uploader<'a> {
    pub client: HttpClient,
    pub target: &'a Target,
    pub trusted: Option<TrustedPublisher>,
    pub printer: &'a Printer,
    pub skip_existing: bool,
    /// Set once the index refused the credentials (401 or 403): no
    /// further file is started.
    pub refused: Mutex<Option<String>>,
    /// What the index has of each project, looked up once per run.
    pub projects: Projects,
}

/// A project's look-up, shared by all its files.
type Listing = Result<Arc<ProjectFiles>, Arc<LookupError>>;

/// The look-ups of one run, one per project: the first file of a project
/// (or [`Uploader::prefetch`]) asks the index, the others await that one
/// answer. Only the look-ups before an upload are shared: the one after a
/// failed attempt always asks again.
#[derive(Debug, Default)]
pub struct Projects(Mutex<HashMap<String, Arc<OnceCell<Listing>>>>);

impl Projects {
    fn cell(&self, normalized_name: &str) -> Arc<OnceCell<Listing>> {
        let mut cells = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(cells.entry(normalized_name.to_owned()).or_default())
    }
}

enum AttemptError {
    Http(HttpError),
    Oidc(OidcError),
}

impl Uploader<'_> {
    /// Where people can see the file.
    pub fn project_url(&self, dist: &Distribution) -> String {
        let upload = self.target.upload_url.expose();
        match upload.host_str() {
            Some("upload.pypi.org") => {
                format!(
                    "https://pypi.org/project/{}/{}/",
                    dist.normalized_name(),
                    dist.version
                )
            }
            Some("test.pypi.org") => format!(
                "https://test.pypi.org/project/{}/{}/",
                dist.normalized_name(),
                dist.version
            ),
            _ => simple::project_url(&self.target.simple_url, &dist.normalized_name()).to_string(),
        }
    }

    pub(crate) fn report(&self, dist: &Distribution) -> FileReport {
        FileReport::new(
            dist,
            &self.target.upload_url.to_string(),
            &self.project_url(dist),
        )
    }

    /// Credentials for look-ups: only to the upload host, never a
    /// trusted-publishing token.
    fn lookup_auth(&self) -> Option<&Auth> {
        let Credentials::Basic(auth) = &self.target.credentials else {
            return None;
        };
        let upload = self.target.upload_url.expose();
        let simple = self.target.simple_url.expose();
        (upload.host_str() == simple.host_str()
            && upload.port_or_known_default() == simple.port_or_known_default())
        .then_some(auth)
    }

    /// What the index has of a project: asked once per run (with its own
    /// retries), whatever the number of its files.
    async fn listing(&self, normalized_name: &str) -> Listing {
        let cell = self.projects.cell(normalized_name);
        cell.get_or_init(|| async {
            let page = simple::project_url(&self.target.simple_url, normalized_name);
            let files = simple::lookup(&self.client, &page, self.lookup_auth(), Retries::Here)
                .await
                .map_err(Arc::new)?;
            if let Some(elsewhere) = &files.elsewhere {
                // Said once per project, at `-v`.
                self.printer.status_line().set(
                    "Looked up",
                    &format!(
                        "`{normalized_name}`: not on this index (it redirects the look-up to {elsewhere}, another origin, which is not asked)"
                    ),
                );
            }
            Ok(Arc::new(files))
        })
        .await
        .clone()
    }

    /// Looks a project up ahead of its files, so that its uploads need not
    /// wait for the index's answer. Does nothing once the credentials were
    /// refused.
    pub async fn prefetch(&self, normalized_name: &str) {
        if self.refusal().is_none() {
            let _ = self.listing(normalized_name).await;
        }
    }

    /// What the index has under the file's name, from its project's shared
    /// look-up.
    async fn existing(&self, dist: &Distribution) -> Result<Existing, Arc<LookupError>> {
        let files = self.listing(&dist.normalized_name()).await?;
        Ok(files.compare(&dist.filename, &dist.sha256))
    }

    /// Looks the file up afresh, in one attempt: inside the upload's retry
    /// loop, after a failed attempt.
    async fn lookup_again(&self, dist: &Distribution) -> Result<Existing, LookupError> {
        let page = simple::project_url(&self.target.simple_url, &dist.normalized_name());
        let files =
            simple::lookup(&self.client, &page, self.lookup_auth(), Retries::ByCaller).await?;
        Ok(files.compare(&dist.filename, &dist.sha256))
    }

    /// The dry-run plan for a file: only looks it up.
    pub async fn plan(&self, dist: &Distribution) -> FileReport {
        let report = self.report(dist);
        match self.existing(dist).await {
            Ok(Existing::Absent) => report.with(
                FileStatus::WouldUpload,
                "not on the index yet".to_owned(),
            ),
            Ok(Existing::Same) => report.with(
                FileStatus::WouldSkip,
                "already on the index with the same sha256".to_owned(),
            ),
            Ok(Existing::Unknown) if self.skip_existing => report.with(
                FileStatus::WouldSkip,
                "a file of this name is on the index (which publishes no hash to compare)"
                    .to_owned(),
            ),
            Ok(Existing::Unknown) => report.with(
                FileStatus::WouldUpload,
                "a file of this name is on the index, which publishes no hash; the index will decide"
                    .to_owned(),
            ),
            Ok(Existing::Different { sha256 }) => report.conflict(sha256),
            // Without the index's answer there is no plan: never claim
            // one.
            Err(error) => {
                let error = &*error;
                let unreachable = matches!(error, LookupError::Http(e) if e.status().is_none());
                let (message, hint) = if unreachable {
                    (
                        format!("cannot reach the index to plan this file: {}", windlass_output::error_line(error)),
                        "check the repository url, the network and the proxy settings; nothing is known about this file until the index answers",
                    )
                } else {
                    (
                        format!("cannot look this file up to plan it: {}", windlass_output::error_line(error)),
                        "check the simple url (`--simple-url`) and the credentials for reading it",
                    )
                };
                report.failed(FileError {
                    message,
                    server_message: None,
                    http_status: match error {
                        LookupError::Http(e) => e.status().map(|s| s.as_u16()),
                        LookupError::Json { .. } => None,
                    },
                    index_sha256: None,
                    hint: Some(hint.to_owned()),
                    exit_status: ExitStatus::Remote,
                })
            }
        }
    }

    /// After a 401 or 403, no other file is started.
    fn note_refusal(&self, status: Option<StatusCode>, dist: &Distribution) {
        if !matches!(
            status,
            Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
        ) {
            return;
        }
        let reason = format!(
            "the index refused the credentials (from {}) for `{}`",
            self.target.credential_source, dist.filename
        );
        let mut refused = self
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        refused.get_or_insert(reason);
    }

    /// Why the index refused the credentials, once it did.
    fn refusal(&self) -> Option<String> {
        self.refused
            .lock()
            .map_or_else(|poisoned| poisoned.into_inner().clone(), |r| r.clone())
    }

    /// The file's report as not started, once the index refused the
    /// credentials.
    pub fn not_started(&self, dist: &Distribution) -> Option<FileReport> {
        let refusal = self.refusal()?;
        self.printer.status("Not started", &dist.filename);
        Some(self.report(dist).with(FileStatus::NotStarted, refusal))
    }

    /// Decides from the project's look-up whether the file is to be
    /// uploaded: `None` when it is, else its final report (skipped,
    /// conflict), its status line printed.
    pub async fn check(&self, dist: &Distribution) -> Option<FileReport> {
        let report = self.settled_by_lookup(dist).await?;
        self.printer
            .status(status_verb(report.status), &status_line(&report));
        Some(report)
    }

    /// Uploads one file that [`Uploader::check`] said to upload.
    pub async fn upload(&self, dist: &Distribution) -> FileReport {
        let progress = self.printer.bytes_progress(dist.size, &dist.filename);
        let report = self.upload_inner(dist, &progress).await;
        progress.finish();
        self.printer
            .status(status_verb(report.status), &status_line(&report));
        report
    }

    async fn settled_by_lookup(&self, dist: &Distribution) -> Option<FileReport> {
        let report = self.report(dist);
        match self.existing(dist).await {
            Ok(Existing::Same) => {
                // Without --skip-existing, the run ends with one warning
                // for all such files (see `publish::publish_with`).
                Some(report.with(
                    FileStatus::Skipped,
                    "already on the index with the same sha256".to_owned(),
                ))
            }
            Ok(Existing::Different { sha256 }) => Some(report.conflict(sha256)),
            Ok(Existing::Unknown) if self.skip_existing => Some(
                report.with(
                    FileStatus::Skipped,
                    "a file of this name is on the index (which publishes no hash to compare)"
                        .to_owned(),
                ),
            ),
            Ok(Existing::Unknown | Existing::Absent) => None,
            // The upload that follows fails the same way if the index is
            // down, and says so once.
            Err(error) => {
                tracing::debug!(
                    file = %dist.filename,
                    error = %windlass_output::error_line(&*error),
                    "cannot look the file up before uploading; uploading anyway"
                );
                None
            }
        }
    }

    async fn upload_inner(&self, dist: &Distribution, progress: &Progress) -> FileReport {
        let report = self.report(dist);
        // One retry layer: windlass-http's policy (attempts, backoff,
        // Retry-After, the index's time budget) decides; the upload and the
        // look-ups inside this loop make one attempt each.
        let mut retrier = self.client.retrier();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            progress.set_position(0);
            let error = match self.attempt(dist, progress).await {
                Ok(()) => {
                    let mut done = report.with(FileStatus::Uploaded, None);
                    done.attempts = attempt;
                    return done;
                }
                Err(AttemptError::Oidc(error)) => {
                    let mut failed = report.failed(FileError {
                        message: windlass_output::error_line(&error),
                        server_message: None,
                        http_status: None,
                        index_sha256: None,
                        hint: windlass_output::Diagnostic::hint(&error),
                        exit_status: ExitStatus::Remote,
                    });
                    failed.attempts = attempt;
                    return failed;
                }
                Err(AttemptError::Http(error)) => error,
            };
            let (transient, snippet, settled) = self.after_failure(dist, &error, attempt).await;
            if let Some(mut settled) = settled {
                settled.attempts = attempt;
                return settled;
            }
            let status = error.status();
            // The look-up made a retry safe: the file is not on the index.
            let error = if transient {
                match retrier.schedule(&error) {
                    Some(wait) => {
                        drop(error);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    None => retrier.give_up(error),
                }
            } else {
                error
            };
            self.note_refusal(status, dist);
            let hint = match error.retry_budget_ended() {
                // Names `http.retry-budget`.
                Some(_) => error.hint(),
                None => hint_for(status, snippet.as_deref(), &self.target.credential_source),
            };
            let exit_status = match windlass_output::Diagnostic::exit_status(&error) {
                ExitStatus::Usage => ExitStatus::Usage,
                _ => ExitStatus::Remote,
            };
            let mut failed = report.failed(FileError {
                message: windlass_output::error_line(&error),
                server_message: snippet,
                http_status: status.map(|s| s.as_u16()),
                index_sha256: None,
                hint,
                exit_status,
            });
            failed.attempts = attempt;
            return failed;
        }
    }

    /// After a failed attempt: reads the server's words, and when the
    /// failure may hide a success or a duplicate, looks the file up.
    /// Returns whether the failure is transient, the snippet, and the final
    /// report when the look-up settles the file.
    async fn after_failure(
        &self,
        dist: &Distribution,
        error: &HttpError,
        attempt: u32,
    ) -> (bool, Option<String>, Option<FileReport>) {
        let report = self.report(dist);
        let status = error.status();
        let transient = match status {
            None => error.is_remote_failure(),
            Some(s) => {
                s.is_server_error()
                    || s == StatusCode::TOO_MANY_REQUESTS
                    || s == StatusCode::REQUEST_TIMEOUT
            }
        };
        let lookup_worthy = transient
            || matches!(
                status,
                Some(StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::CONFLICT)
            );
        // The server's words are read before anything else happens to
        // the response, but never parsed: only hashes decide.
        let snippet = error.body_snippet().await.map(|s| tidy_snippet(&s));
        if lookup_worthy {
            match self.lookup_again(dist).await {
                Ok(Existing::Same) => {
                    let (status_kind, reason) = if attempt > 1 || transient {
                        (
                            FileStatus::Uploaded,
                            "the index has this file: an attempt whose answer was lost succeeded",
                        )
                    } else {
                        (
                            FileStatus::Skipped,
                            "already on the index with the same sha256",
                        )
                    };
                    return (
                        transient,
                        snippet,
                        Some(report.with(status_kind, reason.to_owned())),
                    );
                }
                Ok(Existing::Different { sha256 }) => {
                    return (transient, snippet, Some(report.conflict(sha256)));
                }
                Ok(Existing::Unknown | Existing::Absent) | Err(_) => {}
            }
        }
        (transient, snippet, None)
    }

    async fn attempt(&self, dist: &Distribution, progress: &Progress) -> Result<(), AttemptError> {
        let auth = match &self.target.credentials {
            Credentials::None => None,
            Credentials::Basic(auth) => Some(auth.clone()),
            Credentials::TrustedPublishing => {
                let trusted = self
                    .trusted
                    .as_ref()
                    .ok_or(AttemptError::Oidc(OidcError::NoIdentity))?;
                let token = trusted
                    .token(self.printer)
                    .await
                    .map_err(AttemptError::Oidc)?;
                Some(Auth::token(token))
            }
        };
        let fields = form_fields(dist);
        let timeout = upload_timeout(dist.size);
        let response = self
            .client
            .send_with(
                Method::POST,
                &self.target.upload_url,
                Policy::NON_IDEMPOTENT.retried_by_caller(),
                |request| {
                    let mut form = Form::new();
                    for (name, value) in &fields {
                        form = form.text(*name, value.clone());
                    }
                    form = form.part("content", file_part(dist, progress));
                    let request = request.multipart(form).timeout(timeout);
                    match &auth {
                        Some(auth) => auth.apply(request),
                        None => request,
                    }
                },
            )
            .await
            .map_err(AttemptError::Http)?;
        // Drain the answer (a page of text at most) so the connection can be
        // reused.
        let _ = windlass_http::read_bytes(
            &Method::POST,
            &self.target.upload_url,
            response,
            1024 * 1024,
        )
        .await;
        Ok(())
    }
}

fn file_part(dist: &Distribution, progress: &Progress) -> Part {
    let make = || {
        Part::stream_with_length(file_body(dist.path.clone(), progress.clone()), dist.size)
            .file_name(dist.filename.clone())
    };
    make()
        .mime_str("application/octet-stream")
        .unwrap_or_else(|_| make())
}

/// The file as a body streamed from disk in chunks, counting progress.
fn file_body(path: PathBuf, progress: Progress) -> Body {
    let stream = futures_util::stream::try_unfold(
        (path, None::<tokio::fs::File>, progress),
        |(path, file, progress)| async move {
            let mut file = match file {
                Some(file) => file,
                None => open_dist(path.clone()).await?,
            };
            let mut buf = BytesMut::with_capacity(CHUNK);
            let n = file.read_buf(&mut buf).await?;
            if n == 0 {
                return Ok::<_, io::Error>(None);
            }
            progress.inc(n as u64);
            Ok(Some((buf.freeze(), (path, Some(file), progress))))
        },
    );
    Body::wrap_stream(stream)
}

/// Opens a distribution to send it, refusing anything but a regular file
/// (a fifo put in its place since it was inspected would block forever),
/// off the async threads.
async fn open_dist(path: PathBuf) -> io::Result<tokio::fs::File> {
    let file = tokio::task::spawn_blocking(move || windlass_fs::open(&path))
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)?;
    Ok(tokio::fs::File::from_std(file.into_file()))
}

/// Two minutes plus the time to send the file at 256 KiB/s.
fn upload_timeout(size: u64) -> Duration {
    Duration::from_secs(120 + size / (256 * 1024))
}

/// The verb of a file's status line.
fn status_verb(status: FileStatus) -> &'static str {
    match status {
        FileStatus::Uploaded => "Uploaded",
        FileStatus::Skipped => "Skipped",
        FileStatus::Conflict => "Conflict",
        FileStatus::NotStarted => "Not started",
        _ => "Failed",
    }
}

/// A file's status line: `foo-1.0-py3-none-any.whl (12.3 KiB)`, with the
/// reason for a skip and the error for a failure.
fn status_line(report: &FileReport) -> String {
    let why = match report.status {
        FileStatus::Uploaded => None,
        FileStatus::Skipped => report.reason.as_deref(),
        _ => report
            .error
            .as_ref()
            .map(|e| e.message.as_str())
            .or(report.reason.as_deref()),
    };
    match why {
        Some(why) => format!("{} ({why})", report.file),
        None => format!(
            "{} ({})",
            report.file,
            windlass_output::human_size(report.size)
        ),
    }
}

/// An index's error page made readable: HTML tags dropped, whitespace
/// collapsed, at most 600 characters.
fn tidy_snippet(text: &str) -> String {
    let looks_html = text.trim_start().starts_with('<');
    let mut plain = String::with_capacity(text.len());
    if looks_html {
        let mut in_tag = false;
        let mut skip_until: Option<&str> = None;
        let lower = text.to_ascii_lowercase();
        let mut i = 0;
        while i < text.len() {
            if let Some(end) = skip_until {
                match lower[i..].find(end) {
                    Some(pos) => {
                        i += pos + end.len();
                        skip_until = None;
                        continue;
                    }
                    None => break,
                }
            }
            if lower[i..].starts_with("<style") {
                skip_until = Some("</style>");
                continue;
            }
            let c = text[i..].chars().next().unwrap_or(' ');
            match c {
                '<' => in_tag = true,
                '>' if in_tag => {
                    in_tag = false;
                    plain.push(' ');
                }
                _ if !in_tag => plain.push(c),
                _ => {}
            }
            i += c.len_utf8();
        }
        plain = plain
            .replace("&#039;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
    } else {
        plain.push_str(text);
    }
    let collapsed = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    match collapsed.char_indices().nth(600) {
        Some((cut, _)) => format!("{}…", &collapsed[..cut]),
        None => collapsed,
    }
}

/// Metadata fields an index may name when it refuses an upload.
const FIELD_NAMES: &[&str] = &[
    "classifiers",
    "classifier",
    "description_content_type",
    "description",
    "license_expression",
    "license_file",
    "license",
    "requires_dist",
    "requires_python",
    "project_urls",
    "project_url",
    "provides_extra",
    "dynamic",
    "summary",
    "keywords",
    "author_email",
    "maintainer_email",
    "home_page",
    "download_url",
    "metadata_version",
    "version",
    "name",
    "platform",
];

/// What the user can do about a refused upload.
fn hint_for(status: Option<StatusCode>, snippet: Option<&str>, source: &str) -> Option<String> {
    let status = status?;
    Some(match status.as_u16() {
        401 => format!(
            "check the credentials (from {source}); an API token is sent with the username `__token__`"
        ),
        403 => format!(
            "the index refused these credentials (from {source}) for this upload: check the password or token, the token's scope (a project-scoped token only uploads to its project), and that the project name is yours"
        ),
        400 | 422 => {
            let lower = snippet.unwrap_or_default().to_ascii_lowercase().replace(['-', ' '], "_");
            match FIELD_NAMES.iter().find(|field| lower.contains(*field)) {
                Some(field) => format!(
                    "the index refused the metadata field `{field}`; fix it in the project metadata and rebuild"
                ),
                None => "the index refused the upload; its message is shown above".to_owned(),
            }
        }
        404 | 405 => "this url does not take uploads; check `--repository` (PyPI: https://upload.pypi.org/legacy/)".to_owned(),
        413 => "the file is larger than the index allows".to_owned(),
        _ if status.is_server_error() => "the index failed; run the same command again (files already uploaded are skipped)".to_owned(),
        _ => return None,
    })
}
