//! Readers of the tools' machine-readable output (placeholder signatures
//! until the parsers land).

use std::path::Path;

use crate::model::{Finding, TestCase};

/// Output a parser could not read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

pub fn ruff_check(_output: &[u8], _root: &Path) -> Result<Vec<Finding>, ParseError> {
    Ok(Vec::new())
}

pub fn ruff_format(_output: &[u8], _root: &Path) -> Result<Vec<Finding>, ParseError> {
    Ok(Vec::new())
}

pub fn mypy(_output: &[u8], _root: &Path) -> Result<Vec<Finding>, ParseError> {
    Ok(Vec::new())
}

pub fn shellcheck(_output: &[u8], _root: &Path) -> Result<Vec<Finding>, ParseError> {
    Ok(Vec::new())
}

pub fn cargo_messages(_output: &[u8], _root: &Path) -> Result<Vec<Finding>, ParseError> {
    Ok(Vec::new())
}

pub fn junit(_xml: &[u8], _root: &Path) -> Result<Vec<TestCase>, ParseError> {
    Ok(Vec::new())
}

pub fn libtest(_stdout: &[u8]) -> Vec<TestCase> {
    Vec::new()
}

pub fn helm_lint(_output: &[u8], _chart_dir: &Path) -> Vec<Finding> {
    Vec::new()
}
