//! How errors carry an exit status and a hint to the top of the binary.
//!
//! Libraries stay free of `anyhow`: their `thiserror` enums implement
//! [`Diagnostic`]. The binary lists those types once in a [`Classifier`],
//! which finds them anywhere in an `anyhow` chain by downcasting. Where the
//! binary itself knows better (a flag combination, a missing file it asked
//! for), it wraps the error with [`ResultExt::with_exit_status`] or
//! [`ResultExt::with_hint`], which add a transparent [`Classified`] layer.
//!
//! Walking the chain from the outermost error inwards, the first layer that
//! states an exit status decides it, and the first that offers a hint gives
//! it, and the first that knows a [`SourceLocation`] gives it. An error
//! nobody classified is a bug: it exits with [`ExitStatus::Bug`] (101), as a
//! panic does, so that every failure a user can meet gets its type a
//! [`Diagnostic`] implementation.

use std::error::Error;
use std::fmt;
use std::path::PathBuf;

use crate::ExitStatus;

/// What an error type tells the top of the binary: how to exit and, when we
/// know the fix, a hint.
///
/// ```
/// use windlass_diagnostic::{Diagnostic, ExitStatus};
///
/// #[derive(Debug, thiserror::Error)]
/// enum PublishError {
///     #[error("registry refused the upload (status {status})")]
///     Refused { status: u16 },
///     #[error("no wheel found in `dist`")]
///     NoWheel,
/// }
///
/// impl Diagnostic for PublishError {
///     fn exit_status(&self) -> ExitStatus {
///         match self {
///             Self::Refused { .. } => ExitStatus::Remote,
///             Self::NoWheel => ExitStatus::Usage,
///         }
///     }
///
///     fn hint(&self) -> Option<String> {
///         matches!(self, Self::NoWheel).then(|| "run `windlass wheel build` first".to_owned())
///     }
/// }
/// ```
pub trait Diagnostic {
    /// How the process should exit when this error ends it.
    fn exit_status(&self) -> ExitStatus;

    /// A suggestion for the user, printed after the error as `hint: ...`.
    fn hint(&self) -> Option<String> {
        None
    }

    /// Where in a file the problem is (a configuration error's file, line
    /// and column), for the `file`, `line` and `column` of the JSON `error`
    /// object. The human rendering shows it in the message already.
    fn location(&self) -> Option<SourceLocation> {
        None
    }
}

/// A place in a file that an error points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// The exit status, hint and location found for an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub status: ExitStatus,
    pub hint: Option<String>,
    pub location: Option<SourceLocation>,
}

type Probe = for<'a> fn(&'a (dyn Error + 'static)) -> Option<&'a dyn Diagnostic>;

/// The error types the binary knows to implement [`Diagnostic`], found by
/// downcasting each layer of an `anyhow` chain.
///
/// [`Classifier::new`] already knows [`Interrupted`].
#[derive(Clone)]
pub struct Classifier {
    probes: Vec<Probe>,
}

impl Classifier {
    /// A classifier that knows [`Interrupted`].
    pub fn new() -> Self {
        Self { probes: Vec::new() }.with::<Interrupted>()
    }

    /// Adds an error type that implements [`Diagnostic`].
    #[must_use]
    pub fn with<E: Error + Diagnostic + 'static>(mut self) -> Self {
        self.probes.push(probe::<E>);
        self
    }

    /// Finds the exit status and hint of an error (see the module docs for
    /// the precedence).
    pub fn classify(&self, error: &anyhow::Error) -> Classification {
        let mut found = Found::default();
        self.walk(error.as_ref(), &mut found);
        Classification {
            status: found.status.unwrap_or(ExitStatus::Bug),
            hint: found.hint,
            location: found.location,
        }
    }

    fn walk(&self, error: &(dyn Error + 'static), found: &mut Found) {
        let mut current = Some(error);
        while let Some(layer) = current {
            if let Some(classified) = layer.downcast_ref::<Classified>() {
                found.offer(classified.status, classified.hint.clone());
                // The wrapped error's own top layer is hidden from `source()`
                // (the wrapper shows its message): walk it from the top.
                self.walk(classified.error.as_ref(), found);
                return;
            }
            if let Some(diagnostic) = self.probes.iter().find_map(|probe| probe(layer)) {
                found.offer(Some(diagnostic.exit_status()), diagnostic.hint());
                if found.location.is_none() {
                    found.location = diagnostic.location();
                }
            }
            current = layer.source();
        }
    }
}

impl Default for Classifier {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classifier")
            .field("types", &self.probes.len())
            .finish()
    }
}

fn probe<'a, E: Error + Diagnostic + 'static>(
    error: &'a (dyn Error + 'static),
) -> Option<&'a dyn Diagnostic> {
    error.downcast_ref::<E>().map(|e| e as &dyn Diagnostic)
}

#[derive(Default)]
struct Found {
    status: Option<ExitStatus>,
    hint: Option<String>,
    location: Option<SourceLocation>,
}

impl Found {
    fn offer(&mut self, status: Option<ExitStatus>, hint: Option<String>) {
        if self.status.is_none() {
            self.status = status;
        }
        if self.hint.is_none() {
            self.hint = hint;
        }
    }
}

/// An error with an exit status and/or hint attached by the binary.
///
/// It is transparent: it displays the wrapped error's message and continues
/// the chain with the wrapped error's causes, so rendering shows no extra
/// layer. Build it with [`ResultExt`].
pub struct Classified {
    status: Option<ExitStatus>,
    hint: Option<String>,
    error: anyhow::Error,
}

impl Classified {
    /// Wraps an error without classifying it yet.
    pub fn new(error: impl Into<anyhow::Error>) -> Self {
        Self {
            status: None,
            hint: None,
            error: error.into(),
        }
    }

    /// Sets the exit status.
    #[must_use]
    pub fn with_status(mut self, status: ExitStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl fmt::Debug for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classified")
            .field("status", &self.status)
            .field("hint", &self.hint)
            .field("error", &format_args!("{}", self.error))
            .finish()
    }
}

impl Error for Classified {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.error.source()
    }
}

/// Attaching an exit status or hint to any error on its way up.
///
/// ```
/// use windlass_diagnostic::{Classifier, ExitStatus, ResultExt};
///
/// let result: anyhow::Result<()> = Err(anyhow::anyhow!("`--repository` and `--index` conflict"))
///     .with_exit_status(ExitStatus::Usage)
///     .with_hint("pass only one of them");
/// let classification = Classifier::new().classify(&result.unwrap_err());
/// assert_eq!(classification.status, ExitStatus::Usage);
/// assert_eq!(classification.hint.as_deref(), Some("pass only one of them"));
/// ```
pub trait ResultExt<T> {
    /// Sets the exit status, overriding what inner errors say.
    fn with_exit_status(self, status: ExitStatus) -> anyhow::Result<T>;

    /// Sets the hint, overriding what inner errors say.
    fn with_hint(self, hint: impl Into<String>) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> ResultExt<T> for Result<T, E> {
    fn with_exit_status(self, status: ExitStatus) -> anyhow::Result<T> {
        self.map_err(|e| Classified::new(e).with_status(status).into())
    }

    fn with_hint(self, hint: impl Into<String>) -> anyhow::Result<T> {
        self.map_err(|e| Classified::new(e).with_hint(hint).into())
    }
}

/// The one line an interrupted command prints, and its JSON error message.
pub const INTERRUPTED: &str = "interrupted";

/// A command stopped by SIGINT or SIGTERM: exit 130
/// ([`ExitStatus::Interrupted`]), rendered as the one line `interrupted`
/// (no `error:` prefix, no hint).
///
/// Return it (or any error classified [`ExitStatus::Interrupted`]) when
/// there is nothing to report; a command that can tell what it did before
/// it stopped returns its partial outcome instead (`windlass_output::Outcome`),
/// with [`ExitStatus::Interrupted`] as its exit status.
///
/// ```
/// use windlass_diagnostic::{Classifier, ExitStatus, Interrupted};
///
/// let error = anyhow::Error::new(Interrupted);
/// assert_eq!(Classifier::new().classify(&error).status, ExitStatus::Interrupted);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(INTERRUPTED)
    }
}

impl Error for Interrupted {}

impl Diagnostic for Interrupted {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Interrupted
    }
}
