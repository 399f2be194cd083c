//! Blob uploads, as the distribution spec describes them and as real
//! registries answer.
//!
//! `HEAD` first: a blob the repository has is never sent. A blob on the
//! same registry is mounted (`POST ?mount=&from=`); a `202` answer means
//! the registry could not, and the session it opened takes the data. Data
//! goes in one `PUT ?digest=` (monolithic), or in `PATCH` chunks and a
//! final `PUT` when the blob is larger than the registry's chunk size.
//! `?digest=` is appended to the absolute `Location`, which carries the
//! registry's `_state`.
//!
//! A request that fails is never repeated blindly (distribution 2.8
//! ignores `Content-Range` and would append the same bytes twice): the blob
//! is looked up (the failed request may have completed), then the session
//! is asked for its `Range` and the upload resumes after the last byte it
//! holds; a session the registry dropped or refuses to resume is replaced
//! by a new one from byte 0. The client's retry policy (attempts, backoff,
//! time budget) bounds the whole.

use std::path::{Path, PathBuf};

use windlass_http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use windlass_http::{Body, HttpError, Method, Policy, Response, StatusCode};
use windlass_redact::RedactedUrl;

use crate::digest::Digest;
use crate::layout::Layout;
use crate::registry::auth::Scope;
use crate::registry::{RegistryError, Repo, SendError, check_answered_digest, transfer_timeout};

/// Bytes read from disk per piece of a streamed body.
const PIECE: usize = 256 * 1024;

/// How a blob got to the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploaded {
    /// It was there already.
    Existed,
    /// Mounted from another repository of the registry.
    Mounted,
    /// Sent; `bytes` counts every byte sent (resends included).
    Sent { bytes: u64, resumed: u32 },
}

/// Where a blob's bytes come from when they must be sent.
#[derive(Debug)]
pub enum BlobData<'a> {
    /// A file (a layout's blob).
    File(PathBuf),
    /// Another repository, downloaded into `staging` first (when a mount
    /// is not possible or not answered).
    Fetch { from: &'a Repo, staging: &'a Layout },
}

impl BlobData<'_> {
    async fn path(&self, digest: &Digest, size: u64) -> Result<PathBuf, RegistryError> {
        match self {
            Self::File(path) => Ok(path.clone()),
            Self::Fetch { from, staging } => {
                if !staging.has_blob(digest) {
                    let writer = staging.blob_writer()?;
                    let writer = from.download_blob(digest, size, writer).await?;
                    writer.commit()?;
                }
                Ok(staging.blob_path(digest))
            }
        }
    }
}

/// Puts the blob `digest` (`size` bytes) into `repo`: skipped when there,
/// mounted from `mount_from` when that is on the same registry, else sent
/// from `data`.
pub async fn upload_blob(
    repo: &Repo,
    digest: &Digest,
    size: u64,
    data: &BlobData<'_>,
    mount_from: Option<&Repo>,
) -> Result<Uploaded, RegistryError> {
    if repo.head_blob(digest).await?.is_some() {
        return Ok(Uploaded::Existed);
    }
    let mount_from = mount_from.filter(|from| from.same_registry(repo));
    let mut session = match start(repo, digest, mount_from).await? {
        Start::Mounted => return Ok(Uploaded::Mounted),
        Start::Session(url) => url,
    };
    let path = data.path(digest, size).await?;
    let what = || {
        format!(
            "cannot upload blob {digest} to {}/{}",
            repo.registry(),
            repo.repository()
        )
    };
    let mut retrier = repo.host.http.retrier();
    let mut offset = 0u64;
    let mut sent = 0u64;
    let mut resumed = 0u32;
    loop {
        let error = match send_from(repo, &session, &path, digest, size, offset, &mut sent).await {
            Ok(()) => {
                return Ok(Uploaded::Sent {
                    bytes: sent,
                    resumed,
                });
            }
            Err(Step::Failed(error, at)) => {
                session = at;
                error
            }
            Err(Step::Final(error)) => return Err(error),
        };
        if !retrier.retry(&error).await {
            return Err(RegistryError::http(what(), retrier.give_up(error)));
        }
        // The failed request may have finished on the registry's side.
        if repo.head_blob(digest).await?.is_some() {
            return Ok(Uploaded::Sent {
                bytes: sent,
                resumed,
            });
        }
        resumed += 1;
        match status(repo, &session).await {
            Some((url, received)) if received <= size => {
                tracing::debug!(%digest, received, "resuming the upload where the registry stands");
                session = url;
                offset = received;
            }
            _ => {
                tracing::debug!(%digest, "the upload session is gone: starting again");
                session = match start(repo, digest, None).await? {
                    Start::Mounted => return Ok(Uploaded::Mounted),
                    Start::Session(url) => url,
                };
                offset = 0;
            }
        }
    }
}

enum Start {
    Mounted,
    Session(RedactedUrl),
}

/// `POST /blobs/uploads/` (with `?mount=&from=`): `201` is a mount, `202`
/// a session at `Location`.
async fn start(
    repo: &Repo,
    digest: &Digest,
    mount_from: Option<&Repo>,
) -> Result<Start, RegistryError> {
    let mut url = repo.url("blobs/uploads/").into_exposed();
    let scope = match mount_from {
        Some(from) => {
            url.query_pairs_mut()
                .append_pair("mount", &digest.to_string())
                .append_pair("from", from.repository());
            Scope::mount(repo.repository(), from.repository())
        }
        None => Scope::push(repo.repository()),
    };
    let url = RedactedUrl::new(url);
    let what = format!(
        "cannot start an upload to {}/{}",
        repo.registry(),
        repo.repository()
    );
    let response = repo
        .host
        .send(Method::POST, &url, &scope, Policy::default(), |b| {
            b.header(CONTENT_LENGTH, 0)
        })
        .await
        .map_err(|e| into_error(e, &what))?;
    if response.status() == StatusCode::CREATED {
        check_answered_digest(&response, digest, what)?;
        return Ok(Start::Mounted);
    }
    location(&response, &url)
        .map(Start::Session)
        .ok_or_else(|| RegistryError::bad(what, "the answer has no usable `Location`"))
}

/// How a data step failed: retried after a status look-up, or final.
enum Step {
    Failed(HttpError, RedactedUrl),
    Final(RegistryError),
}

impl Step {
    /// The answer to a data request on `session`, or how it failed.
    fn of(answer: Result<Response, SendError>, session: &RedactedUrl) -> Result<Response, Self> {
        match answer {
            Ok(response) => Ok(response),
            Err(SendError::Http(error)) => Err(Self::Failed(error, session.clone())),
            Err(SendError::Registry(error)) => Err(Self::Final(error)),
        }
    }
}

/// Sends the blob from `offset`: one `PUT` with everything when starting
/// at 0 and no chunk size applies, else `PATCH` chunks and a closing
/// `PUT`. On failure returns the session URL last known.
async fn send_from(
    repo: &Repo,
    session: &RedactedUrl,
    path: &Path,
    digest: &Digest,
    size: u64,
    offset: u64,
    sent: &mut u64,
) -> Result<(), Step> {
    let scope = Scope::push(repo.repository());
    let chunk = repo.chunk_size().unwrap_or(u64::MAX);
    let mut session = session.clone();
    let mut offset = offset;
    let monolithic = offset == 0 && size <= chunk;
    if !monolithic {
        while offset < size {
            let len = chunk.min(size - offset);
            let url = session.clone();
            let answer = repo
                .host
                .send(
                    Method::PATCH,
                    &url,
                    &scope,
                    Policy::NON_IDEMPOTENT.retried_by_caller(),
                    |b| {
                        b.header(CONTENT_TYPE, "application/octet-stream")
                            .header(CONTENT_LENGTH, len)
                            .header("content-range", format!("{}-{}", offset, offset + len - 1))
                            .timeout(transfer_timeout(len))
                            .body(file_body(path.to_owned(), offset, len))
                    },
                )
                .await;
            *sent += len;
            let response = Step::of(answer, &session)?;
            if let Some(next) = location(&response, &url) {
                session = next;
            }
            offset = match range_end(&response) {
                Some(received) => received,
                None => offset + len,
            };
        }
    }
    let mut url = session.clone().into_exposed();
    url.query_pairs_mut()
        .append_pair("digest", &digest.to_string());
    let url = RedactedUrl::new(url);
    let body_len = if monolithic { size } else { 0 };
    let answer = repo
        .host
        .send(
            Method::PUT,
            &url,
            &scope,
            Policy::NON_IDEMPOTENT.retried_by_caller(),
            |b| {
                let b = b
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_LENGTH, body_len)
                    .timeout(transfer_timeout(body_len));
                if monolithic {
                    b.body(file_body(path.to_owned(), 0, size))
                } else {
                    b
                }
            },
        )
        .await;
    *sent += body_len;
    let response = Step::of(answer, &session)?;
    let what = format!("blob upload to {}/{}", repo.registry(), repo.repository());
    check_answered_digest(&response, digest, what).map_err(Step::Final)
}

/// `GET` the session: its fresh URL and how many bytes it holds, or
/// `None` when the registry no longer has it (or will not resume it).
async fn status(repo: &Repo, session: &RedactedUrl) -> Option<(RedactedUrl, u64)> {
    let response = repo
        .host
        .send(
            Method::GET,
            session,
            &Scope::push(repo.repository()),
            Policy::default(),
            |b| b,
        )
        .await
        .ok()?;
    if response.status() != StatusCode::NO_CONTENT {
        return None;
    }
    let received = range_end(&response)?;
    let url = location(&response, session).unwrap_or_else(|| session.clone());
    Some((url, received))
}

/// The number of bytes a `Range: 0-N` header says the session holds
/// (`N + 1`; distribution answers `0-0` for an empty session too, read as
/// empty: a stray byte then fails the digest check and the upload starts
/// again).
fn range_end(response: &Response) -> Option<u64> {
    let value = response.headers().get("range")?.to_str().ok()?;
    let (start, end) = value.trim().trim_start_matches("bytes=").split_once('-')?;
    if start != "0" {
        return None;
    }
    let end: u64 = end.parse().ok()?;
    Some(if end == 0 { 0 } else { end + 1 })
}

/// The absolute `Location` of an answer (relative ones resolved against
/// the request).
fn location(response: &Response, request: &RedactedUrl) -> Option<RedactedUrl> {
    let value = response.headers().get(LOCATION)?.to_str().ok()?;
    let url = request.expose().join(value).ok()?;
    Some(RedactedUrl::new(url))
}

fn into_error(error: SendError, what: &str) -> RegistryError {
    match error {
        SendError::Http(error) => RegistryError::http(what, error),
        SendError::Registry(error) => error,
    }
}

/// `len` bytes of the file from `offset`, streamed from disk.
fn file_body(path: PathBuf, offset: u64, len: u64) -> Body {
    use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
    let stream = futures_util::stream::try_unfold(
        (path, None::<tokio::fs::File>, len),
        move |(path, file, left)| async move {
            if left == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            let mut file = if let Some(file) = file {
                file
            } else {
                let opened = tokio::task::spawn_blocking({
                    let path = path.clone();
                    move || windlass_fs::open(&path)
                })
                .await
                .map_err(std::io::Error::other)?
                .map_err(std::io::Error::other)?;
                let mut file = tokio::fs::File::from_std(opened.into_file());
                file.seek(std::io::SeekFrom::Start(offset)).await?;
                file
            };
            let want = usize::try_from(left.min(PIECE as u64)).unwrap_or(PIECE);
            let mut buf = bytes::BytesMut::with_capacity(want);
            while buf.len() < want {
                let n = (&mut file)
                    .take((want - buf.len()) as u64)
                    .read_buf(&mut buf)
                    .await?;
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the blob file is shorter than its descriptor",
                    ));
                }
            }
            let n = buf.len() as u64;
            Ok(Some((buf.freeze(), (path, Some(file), left - n))))
        },
    );
    Body::wrap_stream(stream)
}
