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
    /// Never sent: the index had refused the credentials for another file,
    /// or the run was interrupted before this file started.
    NotStarted,
    /// In flight when the run was interrupted: it may or may not be on the
    /// index (publishing again skips it if it is).
    Interrupted,
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
            Self::Interrupted => "interrupted",
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
            (FileStatus::Interrupted, _) => ExitStatus::Interrupted,
            (FileStatus::Failed | FileStatus::Conflict | FileStatus::NotStarted, Some(e)) => {
                e.exit_status
            }
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
    /// Files never sent because the index refused the credentials or the
    /// run was interrupted first.
    pub not_started: usize,
    /// Whether SIGINT or SIGTERM stopped the run (exit 130).
    pub interrupted: bool,
    /// Files whose upload was cut by the interruption: each may or may not
    /// be on the index.
    pub in_flight: usize,
    pub files: Vec<FileReport>,
    /// The credentials as references (see
    /// [`crate::repository::Target::credential_reference`]); not output.
    #[serde(skip)]
    #[schemars(skip)]
    pub credential_reference: Option<crate::repository::CredentialReference>,
}

/// Why a file in flight when the run was interrupted has no clear status
/// (shown after its status, `interrupted`).
pub(crate) const IN_FLIGHT_REASON: &str =
    "may or may not be on the index; run publish again (it skips files already there)";

/// Why a file was not started when the run was interrupted.
pub(crate) const NOT_STARTED_REASON: &str = "interrupted before it started";

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
        self.in_flight = self
            .files
            .iter()
            .filter(|f| f.status == FileStatus::Interrupted)
            .count();
        self.failed =
            self.files.len() - self.uploaded - self.skipped - self.not_started - self.in_flight;
    }

    /// The counts, as in `1 uploaded, 1 skipped`: every count when the run
    /// was interrupted, else those that are not zero (uploads always).
    fn counts_text(&self) -> String {
        let (uploaded, skipped) = if self.dry_run {
            ("would upload", "would skip")
        } else {
            ("uploaded", "skipped")
        };
        let all = self.interrupted;
        let parts = [
            (self.uploaded, uploaded, true),
            (self.skipped, skipped, all),
            (self.failed, "failed", false),
            (self.not_started, "not started", all),
            (self.in_flight, "interrupted (in flight)", all),
        ];
        parts
            .iter()
            .filter(|(n, _, always)| *always || *n > 0)
            .map(|(n, what, _)| format!("{n} {what}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The last line for people: what was done, to where.
    pub fn summary(&self) -> String {
        let files = windlass_output::plural(self.files.len(), "file", "files");
        let done = self.uploaded + self.skipped;
        let counts = self.counts_text();
        let target = &self.upload_url;
        if self.interrupted {
            format!("Interrupted after publishing {done} of {files} to {target} ({counts})")
        } else if self.dry_run {
            format!("Planned {files} for {target} ({counts})")
        } else if done < self.files.len() {
            format!("Published {done} of {files} to {target} ({counts})")
        } else {
            format!("Published {files} to {target} ({counts})")
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
                windlass_output::human_size(f.size),
                f.sha256,
                md(&details),
                f.url
            );
        }
        let _ = writeln!(out, "\n{}", self.summary());
        out
    }
}

fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl Outcome for PublishReport {
    fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
        self.render_human_at(out, 0)
    }

    /// By default one line per file that needs attention (a plan, a
    /// failure, a file cut short) and the summary; the status lines on
    /// stderr already named each file as it was done. At `-v`, every file
    /// with its hashes, URLs, attempts and the index's words.
    fn render_human_at(&self, out: &mut dyn Write, verbose: u8) -> io::Result<()> {
        for f in &self.files {
            if verbose > 0 {
                render_file_details(out, f, self.dry_run)?;
            } else if self.dry_run
                || matches!(
                    f.status,
                    FileStatus::Failed
                        | FileStatus::Conflict
                        | FileStatus::Interrupted
                        | FileStatus::NotStarted
                )
            {
                render_file_line(out, f)?;
            }
        }
        let unplanned = self
            .files
            .iter()
            .filter(|f| f.status == FileStatus::Failed)
            .count();
        if self.dry_run && unplanned > 0 && !self.interrupted {
            // Nothing is known about a file the index could not be asked
            // about: no count of what "would" happen.
            return writeln!(
                out,
                "no plan: {unplanned} of {} could not be looked up ({})",
                windlass_output::plural(self.files.len(), "file", "files"),
                self.upload_url
            );
        }
        writeln!(out, "{}", self.summary())
    }

    /// 130 when interrupted, 3 when the index or network failed, 1 on a
    /// conflict, 2 on bad input, else 0.
    fn exit_status(&self) -> ExitStatus {
        if self.interrupted {
            return ExitStatus::Interrupted;
        }
        let statuses: Vec<ExitStatus> = self.files.iter().map(FileReport::exit_status).collect();
        [ExitStatus::Remote, ExitStatus::Usage, ExitStatus::Failure]
            .into_iter()
            .find(|s| statuses.contains(s))
            .unwrap_or(ExitStatus::Success)
    }
}

/// One line: the status, the file, its size, and why or what went wrong
/// (with the hint on the next line).
fn render_file_line(out: &mut dyn Write, f: &FileReport) -> io::Result<()> {
    let why = f
        .error
        .as_ref()
        .map(|e| e.message.as_str())
        .or(f.reason.as_deref());
    let size = windlass_output::human_size(f.size);
    match why {
        Some(why) => writeln!(out, "{:>12} {} ({size}): {why}", f.status.as_str(), f.file)?,
        None => writeln!(out, "{:>12} {} ({size})", f.status.as_str(), f.file)?,
    }
    if let Some(hint) = f.error.as_ref().and_then(|e| e.hint.as_deref()) {
        writeln!(out, "{:>12} {hint}", "hint:")?;
    }
    Ok(())
}

/// A file with everything known about it (`-v`).
fn render_file_details(out: &mut dyn Write, f: &FileReport, dry_run: bool) -> io::Result<()> {
    writeln!(
        out,
        "{:<12} {} ({})",
        f.status.as_str(),
        f.file,
        windlass_output::human_size(f.size)
    )?;
    writeln!(
        out,
        "    path        {}",
        windlass_output::display_path(&f.path)
    )?;
    writeln!(out, "    sha256      {}", f.sha256)?;
    writeln!(out, "    blake2b-256 {}", f.blake2_256)?;
    if dry_run {
        writeln!(out, "    target      {}", f.target)?;
    }
    writeln!(out, "    url         {}", f.url)?;
    if f.attempts > 0 {
        writeln!(out, "    attempts    {}", f.attempts)?;
    }
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use windlass_output::Outcome as _;

    use super::{FileReport, FileStatus, PublishReport};
    use crate::dist::DistKind;

    fn file(name: &str, status: FileStatus, reason: Option<&str>) -> FileReport {
        FileReport {
            file: name.to_owned(),
            path: format!("dist/{name}").into(),
            kind: DistKind::Wheel,
            name: "foo".to_owned(),
            version: "1.0".to_owned(),
            size: 12_595,
            sha256: "ab".repeat(32),
            blake2_256: "cd".repeat(32),
            status,
            reason: reason.map(str::to_owned),
            target: "https://upload.example/".to_owned(),
            url: "https://index.example/simple/foo/".to_owned(),
            attempts: u32::from(status == FileStatus::Uploaded),
            error: None,
        }
    }

    fn report(dry_run: bool, interrupted: bool, files: Vec<FileReport>) -> PublishReport {
        let mut report = PublishReport {
            repository: "example".to_owned(),
            upload_url: "https://upload.example/".to_owned(),
            simple_url: "https://index.example/simple/".to_owned(),
            credentials: "--token".to_owned(),
            dry_run,
            uploaded: 0,
            skipped: 0,
            failed: 0,
            not_started: 0,
            interrupted,
            in_flight: 0,
            files,
            credential_reference: None,
        };
        report.count();
        report
    }

    /// The summary and per-file lines in the right number, for each way a
    /// run ends, with the exit code.
    #[test]
    fn summaries() {
        let up = |n| file(&format!("foo-{n}.whl"), FileStatus::Uploaded, None);
        let skip = || {
            file(
                "foo.tar.gz",
                FileStatus::Skipped,
                Some("already on the index with the same sha256"),
            )
        };
        let cases = [
            ("one uploaded", report(false, false, vec![up(1)])),
            (
                "two, one skipped",
                report(false, false, vec![up(1), skip()]),
            ),
            (
                "dry run",
                report(
                    true,
                    false,
                    vec![file(
                        "foo.whl",
                        FileStatus::WouldUpload,
                        Some("not on the index yet"),
                    )],
                ),
            ),
            (
                "interrupted",
                report(
                    false,
                    true,
                    vec![
                        up(1),
                        skip(),
                        file(
                            "foo-2.whl",
                            FileStatus::Interrupted,
                            Some(super::IN_FLIGHT_REASON),
                        ),
                        file(
                            "foo-3.whl",
                            FileStatus::NotStarted,
                            Some(super::NOT_STARTED_REASON),
                        ),
                    ],
                ),
            ),
        ];
        let mut out = String::new();
        for (name, report) in cases {
            let mut text = Vec::new();
            report.render_human_at(&mut text, 0).unwrap();
            writeln!(
                out,
                "--- {name}: exit {}\n{}",
                report.exit_status().code(),
                String::from_utf8(text).unwrap()
            )
            .unwrap();
        }
        insta::assert_snapshot!(out, @r"
        --- one uploaded: exit 0
        Published 1 file to https://upload.example/ (1 uploaded)

        --- two, one skipped: exit 0
        Published 2 files to https://upload.example/ (1 uploaded, 1 skipped)

        --- dry run: exit 0
        would upload foo.whl (12.3 KiB): not on the index yet
        Planned 1 file for https://upload.example/ (1 would upload)

        --- interrupted: exit 130
         interrupted foo-2.whl (12.3 KiB): may or may not be on the index; run publish again (it skips files already there)
         not started foo-3.whl (12.3 KiB): interrupted before it started
        Interrupted after publishing 2 of 4 files to https://upload.example/ (1 uploaded, 1 skipped, 1 not started, 1 interrupted (in flight))
        ");
    }
}
