//! Making a bundle from the configuration and the images just built.

#![allow(
    clippy::unused_async,
    reason = "async like the implementation it stands in for"
)]

use std::collections::BTreeMap;
use std::path::Path;

use windlass_redact::Secret;

use crate::bundle::{Bundle, ChartRef};
use crate::config::{DeploySection, EnvironmentSpec};

/// `--image NAME=REF`.
#[derive(Debug, Clone)]
pub struct ImageInput {
    pub name: String,
    pub reference: String,
}

/// What a bundle is made from.
#[derive(Debug)]
pub struct MakeRequest<'a> {
    pub deploy: &'a DeploySection,
    pub project_dir: &'a Path,
    pub chart: ChartRef,
    pub images: Vec<ImageInput>,
}

/// Resolves image tags once.
#[derive(Debug, Default)]
pub struct ImageResolver;

/// A bundle that cannot be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot make the bundle: {message}")]
pub struct MakeError {
    pub message: String,
}

impl windlass_diagnostic::Diagnostic for MakeError {
    fn exit_status(&self) -> windlass_diagnostic::ExitStatus {
        windlass_diagnostic::ExitStatus::Usage
    }
}

pub async fn make_bundle(
    request: &MakeRequest<'_>,
    resolver: &ImageResolver,
) -> Result<Bundle, MakeError> {
    let _ = resolver;
    Ok(Bundle {
        chart: request.chart.clone(),
        images: BTreeMap::new(),
        values: serde_json::Value::Object(serde_json::Map::new()),
        source: None,
    })
}

/// The values documents handed to Helm, in order.
pub fn environment_values(
    spec: &EnvironmentSpec,
    bundle: &Bundle,
    secrets: &BTreeMap<String, Secret<String>>,
) -> Result<Vec<serde_json::Value>, MakeError> {
    let _ = (spec, secrets);
    Ok(vec![bundle.values.clone()])
}
