//! What `publish` returns: per file uploaded, skipped or failed, with
//! hashes and where the file lives; rendered for people, as JSON and as a
//! GitHub step summary.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;

use serde::Serialize;
use windlass_output::{ExitStatus, Outcome};

use crate::dist::{DistKind, Distribution};

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "PublishFileStatus")]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    /// Sent and accepted (or found on the index after an attempt whose
    /// answer was lost).
    Uploaded,
    /// Already on the index with the same SHA-256.
    Skipped,
    /// Another file with this name is on the index.
    Conflict,
    /// The upload failed.
    Failed,
    /// Dry run: would be uploaded.
    WouldUpload,
    /// Dry run: would be skipped.
    WouldSkip,
    /// Never sent: the index had refused the credentials for another file.
    NotStarted,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploaded => "uploaded",
            Self::Skipped => "skipped",
            Self::Conflict => "conflict",
            Self::Failed => "failed",
            Self::WouldUpload => "would upload",
            Self::WouldSkip => "would skip",
            Self::NotStarted => "not started",
        }
    }
}

/// Why a file failed.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "PublishFileError")]
pub struct FileError {
    pub message: String,
    /// The index's answer (redacted, size-capped), when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// For a conflict: the SHA-256 of the file the index has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip)]
    pub exit_status: ExitStatus,
}

/// One file's result.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "PublishFileReport")]
pub struct FileReport {
    pub file: String,
    pub path: PathBuf,
    pub kind: DistKind,
    pub name: String,
    pub version: String,
    pub size: u64,
    pub sha256: String,
    pub blake2_256: String,
    pub status: FileStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The upload URL.
    pub target: String,
    /// Where the file can be seen: the project page of PyPI, else the
    /// project's simple page.
    pub url: String,
    /// Upload attempts made.
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FileError>,
}

impl FileReport {
    pub(crate) fn new(dist: &Distribution, target: &str, url: &str) -> Self {
        Self {
            file: dist.filename.clone(),
            path: dist.path.clone(),
            kind: dist.kind,
            name: dist.name.clone(),
            version: dist.version.clone(),
            size: dist.size,
            sha256: dist.sha256.clone(),
            blake2_256: dist.blake2_256.clone(),
            status: FileStatus::WouldUpload,
            reason: None,
            target: target.to_owned(),
            url: url.to_owned(),
            attempts: 0,
            error: None,
        }
    }

    pub(crate) fn with(mut self, status: FileStatus, reason: impl Into<Option<String>>) -> Self {
        self.status = status;
        self.reason = reason.into();
        self
    }

    pub(crate) fn conflict(mut self, index_sha256: String) -> Self {
        self.status = FileStatus::Conflict;
        self.error = Some(FileError {
            message: format!(
                "the index already has a different `{}` (index sha256 {index_sha256}, this file sha256 {})",
                self.file, self.sha256
            ),
            server_message: None,
            http_status: None,
            index_sha256: Some(index_sha256),
            hint: Some(
                "a published file can never be replaced: bump the version, or rebuild reproducibly from the commit that produced the published file".to_owned(),
            ),
            exit_status: ExitStatus::Failure,
        });
        self
    }

    pub(crate) fn failed(mut self, error: FileError) -> Self {
        self.status = FileStatus::Failed;
        self.error = Some(error);
        self
    }

    fn exit_status(&self) -> ExitStatus {
        match (&self.status, &self.error) {
            (FileStatus::Failed | FileStatus::Conflict, Some(e)) => e.exit_status,
            (FileStatus::Failed, None) | (FileStatus::NotStarted, _) => ExitStatus::Remote,
            (FileStatus::Conflict, None) => ExitStatus::Failure,
            _ => ExitStatus::Success,
        }
    }
}

/// The result of `publish` (the JSON `data`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PublishReport {
    /// The repository name, or its URL when given as one.
    pub repository: String,
    pub upload_url: String,
    pub simple_url: String,
    /// Where the credentials came from (never a value).
    pub credentials: String,
    pub dry_run: bool,
    pub uploaded: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Files never sent because the index refused the credentials.
    pub not_started: usize,
    pub files: Vec<FileReport>,
}

impl PublishReport {
    pub(crate) fn count(&mut self) {
        self.uploaded = self
            .files
            .iter()
            .filter(|f| matches!(f.status, FileStatus::Uploaded | FileStatus::WouldUpload))
            .count();
        self.skipped = self
            .files
            .iter()
            .filter(|f| matches!(f.status, FileStatus::Skipped | FileStatus::WouldSkip))
            .count();
        self.not_started = self
            .files
            .iter()
            .filter(|f| f.status == FileStatus::NotStarted)
            .count();
        self.failed = self.files.len() - self.uploaded - self.skipped - self.not_started;
    }

    fn not_started_text(&self) -> String {
        if self.not_started == 0 {
            String::new()
        } else {
            format!(", {} not started", self.not_started)
        }
    }

    /// The job summary table.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let title = if self.dry_run {
            "Publish plan"
        } else {
            "Published"
        };
        let _ = write!(
            out,
            "### {title} to {}\n\n| File | Status | Size | SHA-256 | Details |\n| --- | --- | ---: | --- | --- |\n",
            md(&self.repository)
        );
        for f in &self.files {
            let details = match (&f.error, &f.reason) {
                (Some(e), _) => e.message.clone(),
                (None, Some(r)) => r.clone(),
                (None, None) => String::new(),
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | `{}` | {} [index]({}) |",
                md(&f.file),
                f.status.as_str(),
                human_size(f.size),
                f.sha256,
                md(&details),
                f.url
            );
        }
        let _ = writeln!(
            out,
            "\n{} uploaded, {} skipped, {} failed{}",
            self.uploaded,
            self.skipped,
            self.failed,
            self.not_started_text()
        );
        out
    }
}

fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `1.2 KiB`-style sizes.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    #[allow(
        clippy::cast_precision_loss,
        reason = "a size shown to one decimal place"
    )]
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl Outcome for PublishReport {
    fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
        for f in &self.files {
            writeln!(
                out,
                "{:<12} {} ({})",
                f.status.as_str(),
                f.file,
                human_size(f.size)
            )?;
            writeln!(out, "    sha256      {}", f.sha256)?;
            writeln!(out, "    blake2b-256 {}", f.blake2_256)?;
            if self.dry_run {
                writeln!(out, "    target      {}", f.target)?;
            }
            writeln!(out, "    url         {}", f.url)?;
            if let Some(reason) = &f.reason {
                writeln!(out, "    reason      {reason}")?;
            }
            if let Some(error) = &f.error {
                writeln!(out, "    error       {}", error.message)?;
                if let Some(server) = &error.server_message {
                    writeln!(
                        out,
                        "    index said  {}",
                        server.replace('\n', "\n                ")
                    )?;
                }
                if let Some(hint) = &error.hint {
                    writeln!(out, "    hint        {hint}")?;
                }
            }
        }
        let unplanned = self
            .files
            .iter()
            .filter(|f| f.status == FileStatus::Failed)
            .count();
        if self.dry_run && unplanned > 0 {
            // Nothing is known about a file the index could not be asked
            // about: no count of what "would" happen.
            return writeln!(
                out,
                "no plan: {unplanned} of {} file(s) could not be looked up ({})",
                self.files.len(),
                self.upload_url
            );
        }
        let verb = if self.dry_run {
            "would upload"
        } else {
            "uploaded"
        };
        writeln!(
            out,
            "{} {verb}, {} skipped, {} failed{} ({})",
            self.uploaded,
            self.skipped,
            self.failed,
            self.not_started_text(),
            self.upload_url
        )
    }

    /// 3 when the index or network failed, 1 on a conflict, 2 on bad
    /// input, else 0.
    fn exit_status(&self) -> ExitStatus {
        let statuses: Vec<ExitStatus> = self.files.iter().map(FileReport::exit_status).collect();
        [ExitStatus::Remote, ExitStatus::Usage, ExitStatus::Failure]
            .into_iter()
            .find(|s| statuses.contains(s))
            .unwrap_or(ExitStatus::Success)
    }
}
