//! The steps of a release, as `plan` shows them and `run` reports them.

use serde::Serialize;

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// Build a project's wheel and sdist.
    Build,
    /// Publish a wheel or sdist to the index.
    Publish,
    /// Build an image.
    Image,
    /// Point a tag at the image built.
    Push,
    /// Make the bundle (chart and images by digest).
    Bundle,
    /// Deploy the bundle to an environment (or render it into a GitOps
    /// directory with `--local`).
    Deploy,
    /// Attach the manifest to an image.
    Attach,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Build => "build",
            Self::Publish => "publish",
            Self::Image => "image",
            Self::Push => "push",
            Self::Bundle => "bundle",
            Self::Deploy => "deploy",
            Self::Attach => "attach",
        }
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Plan: it will run.
    WillRun,
    /// Already done (same file, digest or bundle): skipped.
    Skip,
    /// Plan: it cannot run (`why` says what is missing).
    Blocked,
    /// Run: done.
    Done,
    /// Run: it failed; nothing after it ran.
    Failed,
    /// Run: not started because a step before it failed.
    NotStarted,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::WillRun => "will run",
            Self::Skip => "skip",
            Self::Blocked => "blocked",
            Self::Done => "done",
            Self::Failed => "FAILED",
            Self::NotStarted => "not started",
        }
    }
}

/// One step.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Step {
    pub kind: StepKind,
    /// What: a file name, an image name, a tag, an environment.
    pub name: String,
    /// Where it goes: the index (without credentials), `REPOSITORY:TAG`, a
    /// layout or directory, the environment's namespace.
    pub target: String,
    pub status: Status,
    /// Why it is skipped or blocked, or how it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// More about it: credentials (as references, never values), the base
    /// image, the chart, hashes and digests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl Step {
    pub fn new(kind: StepKind, name: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            target: target.into(),
            status: Status::WillRun,
            why: None,
            details: Vec::new(),
        }
    }

    #[must_use]
    pub fn status(mut self, status: Status, why: impl Into<Option<String>>) -> Self {
        self.status = status;
        self.why = why.into();
        self
    }

    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.details.push(detail.into());
        self
    }

    /// `build   sentiment_lab-0.4.0.tar.gz -> ...   will run`
    pub fn line(&self) -> String {
        let mut line = format!(
            "{:8} {} -> {}: {}",
            self.kind.as_str(),
            self.name,
            self.target,
            self.status.as_str()
        );
        if let Some(why) = &self.why {
            line.push_str(": ");
            line.push_str(why);
        }
        line
    }
}

/// Renders steps one line each, details indented at `-v`.
pub fn render(steps: &[Step], out: &mut dyn std::io::Write, verbose: u8) -> std::io::Result<()> {
    for step in steps {
        writeln!(out, "{}", step.line())?;
        if verbose > 0 {
            for detail in &step.details {
                writeln!(out, "           {detail}")?;
            }
        }
    }
    Ok(())
}
