//! `[check]` in `windlass.toml`: how many checks run at once, the index the
//! tools come from, which checks run, the tools' versions, and one table per
//! check that changes a built-in check or adds one.
//!
//! ```toml
//! [check]
//! jobs = 4                          # default: the number of cores
//! index-url = "https://pypi.internal.example/simple/"
//! skip = ["mypy"]                   # or only = ["ruff", "pytest"]
//!
//! [check.tools]
//! ruff = "0.17.6"                   # the pinned versions, changed
//!
//! [check.pytest]
//! env = { API_TOKEN = "vault://secret/ci/api#token", MODE = "test" }
//!
//! [check.docs-links]                # a check of our own
//! command = ["python3", "scripts/check_links.py"]
//! files = ["docs/**/*.md"]
//! pass-files = true
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

/// The keys of `[check]` that are not check names.
pub const RESERVED: &[&str] = &["jobs", "index-url", "installer", "only", "skip", "tools"];

/// `[check]`.
#[derive(Debug, Clone, Default)]
pub struct CheckSection {
    /// How many checks run at once (default: the number of cores).
    pub jobs: Option<usize>,
    /// The package index the Python tools are installed from (default: pip's
    /// own, `PIP_INDEX_URL`).
    pub index_url: Option<String>,
    /// What builds the tool and project environments (default: uv when
    /// there is one, else pip).
    pub installer: crate::tools::InstallerChoice,
    /// Run only these checks.
    pub only: Vec<String>,
    /// Never run these checks.
    pub skip: Vec<String>,
    /// Tool versions instead of the pinned ones: `ruff = "0.17.6"`.
    pub tools: BTreeMap<String, String>,
    /// `[check.NAME]`: a built-in check changed, or a check of the project's.
    pub checks: BTreeMap<String, CheckSpec>,
}

/// `[check.NAME]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CheckSpec {
    /// The command (argv, no shell); for a built-in check it replaces the
    /// tool's own command line.
    pub command: Option<Vec<String>>,
    /// Globs of the files the check concerns (relative to the project).
    pub files: Option<Vec<String>>,
    /// Append the matched files to the command.
    pub pass_files: Option<bool>,
    /// Environment variables of the command: a value, or a secret
    /// reference resolved just before the run.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `false` turns the check off.
    pub enabled: Option<bool>,
    /// How the command's results are read.
    pub format: Option<OutputFormat>,
}

/// How a command's results are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// The exit code says it all; the output is shown when it fails.
    #[default]
    Text,
    /// The command writes JUnit XML to the path given as `{junit}` in its
    /// arguments (and in `WINDLASS_CHECK_JUNIT`).
    Junit,
}

impl<'de> Deserialize<'de> for CheckSection {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SectionVisitor;

        impl<'de> Visitor<'de> for SectionVisitor {
            type Value = CheckSection;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CheckSection, A::Error> {
                let mut section = CheckSection::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "jobs" => section.jobs = Some(map.next_value()?),
                        "index-url" => section.index_url = Some(map.next_value()?),
                        "installer" => section.installer = map.next_value()?,
                        "only" => section.only = map.next_value()?,
                        "skip" => section.skip = map.next_value()?,
                        "tools" => section.tools = map.next_value()?,
                        _ => {
                            let spec: CheckSpec = map.next_value()?;
                            section.checks.insert(key, spec);
                        }
                    }
                }
                Ok(section)
            }
        }

        deserializer.deserialize_map(SectionVisitor)
    }
}

#[cfg(test)]
mod tests {
    use windlass_testkit::serde_fields;

    /// Every field of `[check]` and `[check.NAME]` has a row in the
    /// registry the reference docs are generated from, and every row is a
    /// field.
    #[test]
    fn every_field_is_documented() {
        let mut section: Vec<&str> = super::RESERVED.to_vec();
        section.push("NAME");
        let tables: [(&str, &[&str]); 2] = [
            ("check", &section),
            ("check.NAME", serde_fields::<super::CheckSpec>()),
        ];
        let mut fields = windlass_testkit::section_keys(&tables);
        fields.push("check.tools.NAME".to_owned());
        fields.push("check.NAME.env.NAME".to_owned());
        fields.sort();
        let mut documented: Vec<String> = windlass_config::TOOL_KEYS
            .iter()
            .map(|key| key.key.to_owned())
            .filter(|key| key.starts_with("check."))
            .collect();
        documented.sort();
        assert_eq!(fields, documented);
    }

    /// A whole example parses, check tables beside the section's keys.
    #[test]
    fn example_parses() {
        let section: super::CheckSection = toml::from_str(
            r#"
            jobs = 4
            skip = ["mypy"]
            installer = "uv"
            [tools]
            ruff = "0.17.6"
            [pytest]
            env = { API_TOKEN = "env://API_TOKEN" }
            [docs-links]
            command = ["python3", "check.py"]
            files = ["docs/**/*.md"]
            pass-files = true
            format = "junit"
            "#,
        )
        .unwrap();
        assert_eq!(section.jobs, Some(4));
        assert_eq!(section.installer, crate::tools::InstallerChoice::Uv);
        assert_eq!(section.tools["ruff"], "0.17.6");
        assert_eq!(section.checks["pytest"].env["API_TOKEN"], "env://API_TOKEN");
        assert_eq!(
            section.checks["docs-links"].format,
            Some(super::OutputFormat::Junit)
        );
        let error = toml::from_str::<super::CheckSection>("[ruff]\ncomand = []\n").unwrap_err();
        assert!(error.to_string().contains("comand"), "{error}");
        let error = toml::from_str::<super::CheckSection>("installer = \"conda\"\n").unwrap_err();
        assert!(error.to_string().contains("`conda`"), "{error}");
        assert!(error.to_string().contains("`uv`"), "{error}");
        let default: super::CheckSection = toml::from_str("").unwrap();
        assert_eq!(default.installer, crate::tools::InstallerChoice::Auto);
    }
}
