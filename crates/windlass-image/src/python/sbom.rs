//! A CycloneDX 1.5 JSON SBOM of the Python packages installed into an
//! image: one `library` component per distribution with its purl
//! (`pkg:pypi/NAME@VERSION`) and the sha256 of the wheel it came from.
//! The same report and options give the same bytes (the serial number is
//! derived from the content; the timestamp is the caller's, from
//! `SOURCE_DATE_EPOCH`, or absent).

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::InstallReport;

/// What the SBOM says about itself.
#[derive(Debug, Clone, Default)]
pub struct SbomOptions {
    /// The image the packages are in (`metadata.component.name`).
    pub subject: Option<String>,
    /// RFC 3339 (`metadata.timestamp`), omitted when `None`.
    pub timestamp: Option<String>,
}

/// The SBOM's media type, for referrers and annotations.
pub const SBOM_MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";

/// The CycloneDX 1.5 JSON document (pretty-printed, ending in a newline).
pub fn sbom(report: &InstallReport, options: &SbomOptions) -> Vec<u8> {
    let mut packages: Vec<_> = report.packages.iter().collect();
    packages
        .sort_by(|a, b| (purl_name(&a.name), &a.version).cmp(&(purl_name(&b.name), &b.version)));
    let components: Vec<Component<'_>> = packages
        .into_iter()
        .map(|p| {
            let purl = purl(&p.name, &p.version);
            Component {
                kind: "library",
                bom_ref: purl.clone(),
                name: &p.name,
                version: &p.version,
                purl,
                hashes: vec![Hash {
                    alg: "SHA-256",
                    content: &p.wheel_sha256,
                }],
                properties: vec![Property {
                    name: "windlass:python:wheel",
                    value: &p.wheel,
                }],
            }
        })
        .collect();
    let mut bom = Bom {
        bom_format: "CycloneDX",
        spec_version: "1.5",
        serial_number: String::new(),
        version: 1,
        metadata: Metadata {
            timestamp: options.timestamp.as_deref(),
            tools: Tools {
                components: vec![Tool {
                    kind: "application",
                    name: "windlass",
                    version: env!("CARGO_PKG_VERSION"),
                }],
            },
            component: options.subject.as_deref().map(|name| Subject {
                kind: "container",
                name,
            }),
        },
        components,
    };
    // A serial number derived from the content (not the tool's version):
    // stable across builds and releases.
    let digest = Sha256::digest(
        serde_json::to_vec(&(&bom.components, &options.subject, &options.timestamp))
            .unwrap_or_default(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50; // a name-based UUID (version 5 layout)
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    bom.serial_number = format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    let mut out = serde_json::to_vec_pretty(&bom).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The purl of a PyPI package: the name lower-cased with `_` as `-`
/// (the purl spec's pypi rule), the version percent-encoded.
pub fn purl(name: &str, version: &str) -> String {
    const VERSION: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'.')
        .remove(b'-')
        .remove(b'_')
        .remove(b'~')
        .remove(b'!');
    format!(
        "pkg:pypi/{}@{}",
        purl_name(name),
        percent_encoding::utf8_percent_encode(version, VERSION)
    )
}

fn purl_name(name: &str) -> String {
    windlass_dist::name::normalize(name)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::struct_field_names, reason = "CycloneDX's own field names")]
struct Bom<'a> {
    bom_format: &'static str,
    spec_version: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    serial_number: String,
    version: u32,
    metadata: Metadata<'a>,
    components: Vec<Component<'a>>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    tools: Tools,
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<Subject<'a>>,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<Tool>,
}

#[derive(Serialize)]
struct Tool {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Subject<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
struct Component<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    name: &'a str,
    version: &'a str,
    purl: String,
    hashes: Vec<Hash<'a>>,
    properties: Vec<Property<'a>>,
}

#[derive(Serialize)]
struct Hash<'a> {
    alg: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct Property<'a> {
    name: &'static str,
    value: &'a str,
}

#[cfg(test)]
mod tests {
    use super::super::InstalledPackage;
    use super::*;

    #[test]
    fn cyclonedx() {
        let report = InstallReport {
            packages: vec![
                InstalledPackage {
                    name: "Sentiment_Lab".into(),
                    version: "0.4.0+local".into(),
                    wheel_sha256: "ab".repeat(32),
                    wheel: "sentiment_lab-0.4.0+local-py3-none-any.whl".into(),
                    requested: true,
                    files: 3,
                    record: String::new(),
                },
                InstalledPackage {
                    name: "certifi".into(),
                    version: "2026.10.18".into(),
                    wheel_sha256: "cd".repeat(32),
                    wheel: "certifi-2026.10.18-py3-none-any.whl".into(),
                    requested: false,
                    files: 9,
                    record: String::new(),
                },
            ],
        };
        let options = SbomOptions {
            subject: Some("127.0.0.1:5000/ml-job".into()),
            timestamp: Some("2026-01-01T00:00:00Z".into()),
        };
        let first = sbom(&report, &options);
        assert_eq!(first, sbom(&report, &options), "deterministic");
        let value: serde_json::Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(
            value["components"][1]["purl"],
            "pkg:pypi/sentiment-lab@0.4.0%2Blocal"
        );
        insta::assert_snapshot!(
            String::from_utf8(first)
                .unwrap()
                .replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
        );
    }
}
