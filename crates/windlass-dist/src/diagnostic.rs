//! What each error of this crate means to the process that ends with it
//! (see [`windlass_diagnostic::Diagnostic`]): input the user can fix, and
//! I/O on the user's own files, exit 2; a backend that misbehaved or an
//! interpreter that cannot be asked, 1.

use windlass_diagnostic::{Diagnostic, ExitStatus};

use crate::build::BuildError;
use crate::check::CheckError;
use crate::name::WheelFilenameError;
use crate::native::WriteError;
use crate::pep517::Pep517Error;
use crate::plan::PlanError;
use crate::pyproject::ReadError;
use crate::read::MetadataError;

impl Diagnostic for BuildError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Pep517(e) => e.exit_status(),
            // A build requirement that cannot be installed is almost always
            // misspelt or unpublished; the output directory and the archives
            // written into it are the user's files.
            Self::Read(_)
            | Self::Plan(_)
            | Self::NativeUnsupported(_)
            | Self::Write(_)
            | Self::OutDir { .. } => ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        BuildError::hint(self)
    }
}

impl Diagnostic for Pep517Error {
    fn exit_status(&self) -> ExitStatus {
        match self {
            // Unusable requirements, a failing hook (the project's code) and
            // an unreadable `pyproject.toml` are the project's to fix.
            Self::Environment { .. } | Self::Hook { .. } | Self::Project(_) => ExitStatus::Usage,
            Self::BadAnswer { .. }
            | Self::Io { .. }
            | Self::Interpreter { .. }
            | Self::InterpreterAnswer { .. } => ExitStatus::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        Pep517Error::hint(self)
    }
}

impl Diagnostic for ReadError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        ReadError::hint(self).map(str::to_owned)
    }
}

impl Diagnostic for PlanError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        PlanError::hint(self)
    }
}

impl Diagnostic for WriteError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }
}

impl Diagnostic for CheckError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        CheckError::hint(self).map(str::to_owned)
    }
}

impl Diagnostic for MetadataError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }
}

impl Diagnostic for WheelFilenameError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }
}

/// The error types of this crate, for a binary's classifier.
pub fn classifier(classifier: windlass_diagnostic::Classifier) -> windlass_diagnostic::Classifier {
    classifier
        .with::<BuildError>()
        .with::<Pep517Error>()
        .with::<ReadError>()
        .with::<PlanError>()
        .with::<WriteError>()
        .with::<CheckError>()
        .with::<MetadataError>()
        .with::<WheelFilenameError>()
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::path::{Path, PathBuf};

    use windlass_diagnostic::{Classifier, Diagnostic, ExitStatus};

    use crate::build::BuildError;
    use crate::native::WriteError;

    fn denied() -> io::Error {
        io::Error::from(io::ErrorKind::PermissionDenied)
    }

    /// I/O on the user's own files (the project, the output directory, the
    /// archives named on the command line) is the user's to fix: exit 2.
    #[test]
    fn io_on_the_users_files_is_a_usage_error() {
        let out = PathBuf::from("dist");
        let cases: Vec<(&str, Box<dyn Diagnostic>)> = vec![
            (
                "output directory",
                Box::new(BuildError::OutDir {
                    path: out.clone(),
                    source: denied(),
                }),
            ),
            (
                "archive written",
                Box::new(BuildError::Write(WriteError::Io {
                    path: out.join("a-1.0-py3-none-any.whl"),
                    source: denied(),
                })),
            ),
            (
                "archive checked",
                Box::new(
                    crate::check_file(Path::new("no/such/a-1.0-py3-none-any.whl")).unwrap_err(),
                ),
            ),
            (
                "archive read",
                Box::new(crate::read_metadata(Path::new("no/such/a-1.0.tar.gz")).unwrap_err()),
            ),
            (
                "pyproject.toml",
                Box::new(BuildError::Read(
                    crate::pyproject::PyProject::read(Path::new("no/such/project")).unwrap_err(),
                )),
            ),
        ];
        for (name, error) in cases {
            assert_eq!(error.exit_status(), ExitStatus::Usage, "{name}");
        }
    }

    /// The binary finds them under its own context, through the classifier.
    #[test]
    fn the_classifier_finds_them_in_a_chain() {
        let error = anyhow::Error::new(BuildError::OutDir {
            path: PathBuf::from("dist"),
            source: denied(),
        })
        .context("cannot build `.`");
        let classification = super::classifier(Classifier::new()).classify(&error);
        assert_eq!(classification.status, ExitStatus::Usage);
        // Without the crate's types, nobody classifies it: a bug.
        assert_eq!(Classifier::new().classify(&error).status, ExitStatus::Bug);
    }
}
