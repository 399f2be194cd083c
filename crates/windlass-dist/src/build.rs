//! Building: pick the native builder or PEP 517, write archives atomically.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::archive::Timestamp;
use crate::native::{self, WriteError};
use crate::pep517::{self, Pep517Error, Pep517Options, Targets};
use crate::plan::{self, PlanError, Unsupported};
use crate::pyproject::{PyProject, ReadError};

/// Which builder to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// Native when it reproduces the declared backend, PEP 517 otherwise.
    #[default]
    Auto,
    /// Native only: fail when the project needs the real backend.
    Native,
    /// Always run the declared backend.
    Pep517,
}

/// What to build and where.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub project_dir: PathBuf,
    pub out_dir: PathBuf,
    pub wheel: bool,
    pub sdist: bool,
    pub backend: BackendChoice,
    pub timestamp: Timestamp,
    pub pep517: Pep517Options,
}

/// The kind of an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    Wheel,
    Sdist,
}

/// One archive written.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Artifact {
    pub kind: ArtifactKind,
    pub path: PathBuf,
    /// `native` or `pep517`.
    pub builder: &'static str,
}

/// The result of a build.
#[derive(Debug, Clone, Serialize)]
pub struct Built {
    pub artifacts: Vec<Artifact>,
    /// Why the native builder was not used, when `auto` fell back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallback_reasons: Vec<String>,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the native builder cannot build this project: {0}")]
    NativeUnsupported(Unsupported),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Pep517(#[from] Pep517Error),
    #[error("cannot create the output directory `{}`", path.display())]
    OutDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl BuildError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Read(e) => e.hint().map(str::to_owned),
            Self::Plan(e) => e.hint(),
            Self::NativeUnsupported(_) => Some(
                "use `--backend auto` or `--backend pep517` to run the declared backend".into(),
            ),
            Self::Pep517(e) => e.hint(),
            Self::Write(_) | Self::OutDir { .. } => None,
        }
    }

    /// Whether the project (input) is at fault rather than the machine.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::Read(_) | Self::Plan(_) | Self::NativeUnsupported(_)
        )
    }
}

/// Builds the requested archives.
pub async fn build(req: &BuildRequest) -> Result<Built, BuildError> {
    let (wheel, sdist) = if !req.wheel && !req.sdist {
        (true, true)
    } else {
        (req.wheel, req.sdist)
    };
    let pyproject = PyProject::read(&req.project_dir)?;
    std::fs::create_dir_all(&req.out_dir).map_err(|source| BuildError::OutDir {
        path: req.out_dir.clone(),
        source,
    })?;

    if req.backend == BackendChoice::Pep517 {
        plan::check_version(&req.project_dir, &pyproject)?;
        return pep517_all(req, wheel, sdist, Vec::new()).await;
    }
    let plan = plan::plan(&req.project_dir, &pyproject)?;
    let plan = match (plan, req.backend) {
        (Ok(plan), _) => plan,
        (Err(unsupported), BackendChoice::Native) => {
            return Err(BuildError::NativeUnsupported(unsupported));
        }
        (Err(unsupported), _) => {
            tracing::info!("building with the declared backend (PEP 517): {unsupported}");
            return pep517_all(req, wheel, sdist, unsupported.reasons).await;
        }
    };
    tracing::info!("building natively, reproducing {}", plan.backend);
    let mut artifacts = Vec::new();
    let mut fallback_reasons = Vec::new();
    // Write both or neither: remove what we wrote if the second one fails.
    let result: Result<(), BuildError> = async {
        if sdist {
            match (&plan.sdist_differs, req.backend) {
                (Some(reason), BackendChoice::Auto) => {
                    tracing::info!(
                        "building the sdist with the declared backend (PEP 517): {reason}"
                    );
                    fallback_reasons.push(reason.clone());
                    let paths = pep517::build(
                        &req.project_dir,
                        &req.out_dir,
                        Targets {
                            wheel: false,
                            sdist: true,
                        },
                        &req.pep517,
                    )
                    .await?;
                    artifacts.extend(paths.into_iter().map(|path| Artifact {
                        kind: ArtifactKind::Sdist,
                        path,
                        builder: "pep517",
                    }));
                }
                _ => {
                    let path = native::write_sdist(&plan, &req.out_dir, req.timestamp)?;
                    artifacts.push(Artifact {
                        kind: ArtifactKind::Sdist,
                        path,
                        builder: "native",
                    });
                }
            }
        }
        if wheel {
            let path = native::write_wheel(&plan, &req.out_dir, req.timestamp)?;
            artifacts.push(Artifact {
                kind: ArtifactKind::Wheel,
                path,
                builder: "native",
            });
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        for a in &artifacts {
            let _ = std::fs::remove_file(&a.path);
        }
        return Err(e);
    }
    Ok(Built {
        artifacts,
        fallback_reasons,
    })
}

async fn pep517_all(
    req: &BuildRequest,
    wheel: bool,
    sdist: bool,
    fallback_reasons: Vec<String>,
) -> Result<Built, BuildError> {
    let paths = pep517::build(
        &req.project_dir,
        &req.out_dir,
        Targets { wheel, sdist },
        &req.pep517,
    )
    .await?;
    let artifacts = paths
        .into_iter()
        .map(|path| Artifact {
            kind: kind_of(&path),
            path,
            builder: "pep517",
        })
        .collect();
    Ok(Built {
        artifacts,
        fallback_reasons,
    })
}

fn kind_of(path: &Path) -> ArtifactKind {
    if path.extension().is_some_and(|e| e == "whl") {
        ArtifactKind::Wheel
    } else {
        ArtifactKind::Sdist
    }
}
