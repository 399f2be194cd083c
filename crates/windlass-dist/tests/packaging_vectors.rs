//! The `packaging` project's own test vectors (extracted by
//! `scripts/extract-packaging-vectors.py`, source named in the fixture)
//! against our name normalisation, wheel file names and PEP 440 parsing.
//! Disagreements are snapshotted, so a change in either side is reviewed.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use windlass_dist::name::{WheelFilename, normalize};

fn vectors() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/packaging-vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn versions_names_and_wheel_filenames_agree_with_packaging() {
    let v = vectors();
    let mut disagreements = Vec::new();
    for s in strings(&v["valid_versions"]) {
        if s.parse::<pep440_rs::Version>().is_err() {
            disagreements.push(format!("valid version rejected: {s:?}"));
        }
    }
    for s in strings(&v["invalid_versions"]) {
        if s.parse::<pep440_rs::Version>().is_ok() {
            disagreements.push(format!("invalid version accepted: {s:?}"));
        }
    }
    for pair in v["normalized_versions"].as_array().unwrap() {
        let (raw, want) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        let got = raw.parse::<pep440_rs::Version>().map(|v| v.to_string());
        if got.as_deref() != Ok(want) {
            disagreements.push(format!(
                "normalise {raw:?}: packaging {want:?}, ours {got:?}"
            ));
        }
    }
    for pair in v["canonical_names"].as_array().unwrap() {
        let (raw, want) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        if normalize(raw) != want {
            disagreements.push(format!(
                "name {raw:?}: packaging {want:?}, ours {:?}",
                normalize(raw)
            ));
        }
    }
    for s in strings(&v["wheel_filenames"]) {
        if let Err(e) = WheelFilename::parse(&s) {
            disagreements.push(format!("valid wheel file name rejected: {e}"));
        }
    }
    for s in strings(&v["invalid_wheel_filenames"]) {
        if WheelFilename::parse(&s).is_ok() {
            disagreements.push(format!("invalid wheel file name accepted: {s:?}"));
        }
    }
    let counts = [
        "valid_versions",
        "invalid_versions",
        "normalized_versions",
        "canonical_names",
        "wheel_filenames",
        "invalid_wheel_filenames",
    ]
    .iter()
    .map(|k| format!("{k}: {}", v[k].as_array().unwrap().len()))
    .collect::<Vec<_>>()
    .join(", ");
    insta::assert_snapshot!(format!("{counts}\n{}", disagreements.join("\n")));
}
