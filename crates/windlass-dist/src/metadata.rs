//! The core metadata model (`METADATA` in wheels, `PKG-INFO` in sdists),
//! its writer, and a lenient parser for checking archives built by others.
//!
//! We write the lowest `Metadata-Version` the fields need: 2.1 for
//! everything PEP 621 static metadata can say, 2.2 once `Dynamic` appears,
//! 2.4 once `License-Expression` or `License-File` appear.

use std::fmt::Write as _;

/// Core metadata of one distribution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreMetadata {
    pub name: String,
    pub version: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub description_content_type: Option<String>,
    pub keywords: Vec<String>,
    pub home_page: Option<String>,
    pub author: Option<String>,
    pub author_email: Option<String>,
    pub maintainer: Option<String>,
    pub maintainer_email: Option<String>,
    /// Legacy free-text `License` (from a `license = { text = ... }` table).
    pub license: Option<String>,
    pub license_expression: Option<String>,
    pub license_files: Vec<String>,
    pub classifiers: Vec<String>,
    pub requires_dist: Vec<String>,
    pub requires_python: Option<String>,
    pub project_urls: Vec<(String, String)>,
    pub provides_extra: Vec<String>,
    pub dynamic: Vec<String>,
}

impl CoreMetadata {
    /// The lowest metadata version that can carry the fields that are set.
    pub fn metadata_version(&self) -> &'static str {
        if self.license_expression.is_some() || !self.license_files.is_empty() {
            "2.4"
        } else if !self.dynamic.is_empty() {
            "2.2"
        } else {
            "2.1"
        }
    }

    /// Renders the metadata file (RFC 822 style headers, description as body).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut field = |name: &str, value: &str| {
            // Continuation lines keep multi-line values (e.g. a legacy licence
            // text) inside their header.
            let value = value.replace('\n', "\n        ");
            let _ = writeln!(out, "{name}: {value}");
        };
        field("Metadata-Version", self.metadata_version());
        field("Name", &self.name);
        field("Version", &self.version);
        for d in &self.dynamic {
            field("Dynamic", d);
        }
        if let Some(v) = &self.summary {
            field("Summary", v);
        }
        if let Some(v) = &self.home_page {
            field("Home-page", v);
        }
        for (label, url) in &self.project_urls {
            field("Project-URL", &format!("{label}, {url}"));
        }
        if let Some(v) = &self.author {
            field("Author", v);
        }
        if let Some(v) = &self.author_email {
            field("Author-email", v);
        }
        if let Some(v) = &self.maintainer {
            field("Maintainer", v);
        }
        if let Some(v) = &self.maintainer_email {
            field("Maintainer-email", v);
        }
        if let Some(v) = &self.license {
            field("License", v);
        }
        if let Some(v) = &self.license_expression {
            field("License-Expression", v);
        }
        for f in &self.license_files {
            field("License-File", f);
        }
        if !self.keywords.is_empty() {
            field("Keywords", &self.keywords.join(","));
        }
        for c in &self.classifiers {
            field("Classifier", c);
        }
        if let Some(v) = &self.requires_python {
            field("Requires-Python", v);
        }
        for r in &self.requires_dist {
            field("Requires-Dist", r);
        }
        for e in &self.provides_extra {
            field("Provides-Extra", e);
        }
        if let Some(v) = &self.description_content_type {
            field("Description-Content-Type", v);
        }
        if let Some(body) = &self.description {
            out.push('\n');
            out.push_str(body);
            if !body.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

/// A metadata file split into header fields (in order) and body.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ParsedMetadata {
    pub fields: Vec<(String, String)>,
    pub body: Option<String>,
}

impl ParsedMetadata {
    /// Parses a `METADATA`/`PKG-INFO` file the way `email.parser` does for
    /// well-formed input: headers until the first blank line, continuation
    /// lines start with whitespace, the rest is the body.
    pub fn parse(text: &str) -> Self {
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut rest = text;
        loop {
            let (line, next) = match rest.find('\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                rest = next;
                break;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = fields.last_mut() {
                    value.push('\n');
                    value.push_str(line.trim_start());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                fields.push((name.trim().to_owned(), value.trim().to_owned()));
            } else {
                fields.push((line.to_owned(), String::new()));
            }
            rest = next;
            if rest.is_empty() {
                break;
            }
        }
        let body = (!rest.is_empty()).then(|| rest.to_owned());
        Self { fields, body }
    }

    /// The first value of a field (names compare case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a multiple-use field.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The description: the body, or the legacy `Description` header.
    pub fn description(&self) -> Option<&str> {
        self.body.as_deref().or_else(|| self.get("Description"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_and_parse_round_trip() {
        let metadata = CoreMetadata {
            name: "demo-pkg".into(),
            version: "1.0".into(),
            summary: Some("A demo".into()),
            description: Some("# Demo\n\nText.\n".into()),
            description_content_type: Some("text/markdown".into()),
            keywords: vec!["a".into(), "b".into()],
            author_email: Some("Ann <ann@example.org>".into()),
            license_expression: Some("MIT".into()),
            license_files: vec!["LICENSE".into()],
            requires_dist: vec!["requests>=2".into(), "pytest; extra == \"test\"".into()],
            provides_extra: vec!["test".into()],
            requires_python: Some(">=3.9".into()),
            project_urls: vec![("Homepage".into(), "https://example.org".into())],
            ..CoreMetadata::default()
        };
        let text = metadata.render();
        let parsed = ParsedMetadata::parse(&text);
        insta::assert_snapshot!(text);
        assert_eq!(parsed.get("name"), Some("demo-pkg"));
        assert_eq!(parsed.description(), Some("# Demo\n\nText.\n"));
        assert_eq!(parsed.get_all("Requires-Dist").count(), 2);
    }

    #[test]
    fn metadata_versions() {
        let base = CoreMetadata::default();
        let dynamic = CoreMetadata {
            dynamic: vec!["Version".into()],
            ..CoreMetadata::default()
        };
        let expr = CoreMetadata {
            license_expression: Some("MIT".into()),
            ..CoreMetadata::default()
        };
        let table = [
            ("base", &base),
            ("dynamic", &dynamic),
            ("license expression", &expr),
        ];
        let out: Vec<String> = table
            .iter()
            .map(|(n, m)| format!("{n}: {}", m.metadata_version()))
            .collect();
        insta::assert_snapshot!(out.join("\n"), @r"
        base: 2.1
        dynamic: 2.2
        license expression: 2.4
        ");
    }
}
