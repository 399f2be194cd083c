//! `[wheel]` in `windlass.toml`.
//!
//! ```toml
//! [wheel]
//! backend = "auto"          # auto | native | pep517
//! out = "dist"              # relative to this file's directory
//! repository = "internal"   # where a bare `publish` uploads
//!
//! [wheel.repositories.internal]
//! url = "https://pypi.internal.example/legacy/"
//! token = "vault://secret/ci/pypi#token"
//! ```

use indexmap::IndexMap;
use serde::Deserialize;
use windlass_config::Environment;
use windlass_config::{EffectiveConfig, Entry, RelativePath, Source};
use windlass_pypi::{Pypirc, RepositorySection};

use crate::Backend;

/// `[wheel]`: defaults for `build`, `check` and `publish`, and the
/// repositories `publish` knows by name. Flags win over it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WheelSection {
    /// The default of `build --backend`.
    pub backend: Option<Backend>,
    /// The default of `build --out`, relative to the file that set it; also
    /// where `check` and `publish` find the files when given none.
    pub out: Option<RelativePath>,
    /// The default of `publish --repository`: a name from `repositories`
    /// or `.pypirc`, or an upload URL. `TWINE_REPOSITORY_URL` and
    /// `TWINE_REPOSITORY` win over it.
    pub repository: Option<String>,
    /// Upload targets for `publish --repository NAME`.
    #[serde(default)]
    pub repositories: IndexMap<String, RepositorySection>,
}

/// The `TWINE_*` variables `publish` reads, with the key each one shows as
/// in `config show`. `TWINE_REPOSITORY_URL` wins over `TWINE_REPOSITORY`,
/// and both over `[wheel] repository`; `TWINE_USERNAME` and
/// `TWINE_PASSWORD` (always masked) apply to whichever repository is
/// chosen.
pub const TWINE_ENV_VARS: &[(&str, &str)] = &[
    ("TWINE_REPOSITORY_URL", "wheel.repository"),
    ("TWINE_REPOSITORY", "wheel.repository"),
    ("TWINE_USERNAME", "wheel.username"),
    ("TWINE_PASSWORD", "wheel.password"),
];

/// What `config show` lists beside the file for `[wheel]`: the `TWINE_*`
/// variables that are set (see [`TWINE_ENV_VARS`]; the password as `****`)
/// and every repository of `.pypirc` that `windlass.toml` does not define
/// as `wheel.repositories.NAME.url`/`username`/`password` with the file and
/// line (the password as `****`, never its value nor its length). Feed them
/// to [`EffectiveConfig::add_tool_entries`].
pub fn tool_entries(config: &EffectiveConfig, env: &Environment, pypirc: &Pypirc) -> Vec<Entry> {
    let from_env = |name: &str| Source::ToolEnv {
        name: name.to_owned(),
    };
    let mut entries = Vec::new();
    let repository = ["TWINE_REPOSITORY_URL", "TWINE_REPOSITORY"]
        .into_iter()
        .find_map(|name| env.get_str(name).map(|value| (name, value)));
    if let Some((name, value)) = repository {
        entries.push(Entry::string("wheel.repository", value, from_env(name)));
    }
    if let Some(username) = env.get_str("TWINE_USERNAME") {
        entries.push(Entry::string(
            "wheel.username",
            username,
            from_env("TWINE_USERNAME"),
        ));
    }
    if env.get_str("TWINE_PASSWORD").is_some() {
        entries.push(Entry::masked("wheel.password", from_env("TWINE_PASSWORD")));
    }
    let Some(path) = &pypirc.path else {
        return entries;
    };
    for name in pypirc.names() {
        let prefix = format!("wheel.repositories.{name}.");
        if config.entries.iter().any(|e| e.key.starts_with(&prefix)) {
            // windlass.toml's table wins over `.pypirc` for the same name.
            continue;
        }
        let Some(repository) = pypirc.repository(&name) else {
            continue;
        };
        let at = |key: &str| Source::Pypirc {
            path: path.clone(),
            line: pypirc.line(&name, key).unwrap_or(0),
        };
        if let Some(url) = &repository.repository {
            entries.push(Entry::string(format!("{prefix}url"), url, at("repository")));
        }
        if let Some(username) = &repository.username {
            entries.push(Entry::string(
                format!("{prefix}username"),
                username,
                at("username"),
            ));
        }
        if repository.password.is_some() {
            entries.push(Entry::masked(format!("{prefix}password"), at("password")));
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use windlass_testkit::serde_fields;

    /// Every field of `[wheel]` and `[wheel.repositories.NAME]` has a row
    /// in the registry the reference docs are generated from, and every
    /// row is a field.
    #[test]
    fn every_field_is_documented() {
        let tables: [(&str, &[&str]); 2] = [
            ("wheel", serde_fields::<super::WheelSection>()),
            (
                "wheel.repositories.NAME",
                serde_fields::<super::RepositorySection>(),
            ),
        ];
        let fields = windlass_testkit::section_keys(&tables);
        let mut documented: Vec<String> = windlass_config::TOOL_KEYS
            .iter()
            .map(|key| key.key.to_owned())
            .filter(|key| key.starts_with("wheel."))
            .collect();
        documented.sort();
        assert_eq!(fields, documented);
        // The variables `config show` lists are those the docs name.
        for (name, key) in super::TWINE_ENV_VARS {
            let documented = windlass_config::TOOL_KEYS
                .iter()
                .any(|row| row.env.contains(name));
            assert!(documented, "{name} ({key}) is not in the reference");
        }
    }
}
