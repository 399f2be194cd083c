//! The one place `image build` asks for Python packages: the native
//! installer (`crate::python`) reads the base image's interpreter, fetches
//! wheels for its platform and installs them into a staging tree laid out
//! as the image's root. Until that installer is part of this crate, a build
//! that asks for packages stops here with a clear error; every other build
//! never calls it.

use std::path::{Path, PathBuf};

use super::BuildError;
use super::base::{BaseImage, BaseManifest};

/// Whether the native installer is part of this build of Windlass; a
/// build that needs it and finds it missing stops before writing anything.
pub const AVAILABLE: bool = false;

/// What to install into one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PythonRequest {
    /// Requirement files on this machine (`-r`).
    pub requirements: Vec<PathBuf>,
    /// Wheel files on this machine.
    pub wheels: Vec<PathBuf>,
    /// Requirement specifiers (`numpy==2.1.0`).
    pub pins: Vec<String>,
}

impl PythonRequest {
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty() && self.wheels.is_empty() && self.pins.is_empty()
    }
}

/// Installs `request` for `image`'s interpreter into `staging` (the
/// image's root).
pub fn install(
    request: &PythonRequest,
    base: &BaseImage,
    image: &BaseManifest,
    staging: &Path,
) -> Result<(), BuildError> {
    let _ = (base, image, staging);
    Err(unavailable(request))
}

/// The error of a build that needs the installer while it is missing.
pub fn unavailable(request: &PythonRequest) -> BuildError {
    BuildError::NeedsPythonInstaller {
        what: describe(request),
    }
}

fn describe(request: &PythonRequest) -> String {
    let mut parts = Vec::new();
    parts.extend(
        request
            .requirements
            .iter()
            .map(|p| format!("-r {}", p.display())),
    );
    parts.extend(request.wheels.iter().map(|p| p.display().to_string()));
    parts.extend(request.pins.iter().cloned());
    parts.join(" ")
}
