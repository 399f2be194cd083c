//! The environment snapshot every command reads its variables from.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};

/// A snapshot of the process's environment variables and its home
/// directory, for everything a command reads from the environment beyond
/// the `WINDLASS_*` settings: the variables of the tools Windlass stands in
/// for (`TWINE_*`, `VAULT_*`), CI identity (`ACTIONS_ID_TOKEN_*`,
/// `GITHUB_ACTIONS`), what `env://` references name, and `HOME`. Taken
/// once by the binary; tests build their own instead of changing the
/// process environment.
///
/// `Debug` prints the variable names only: their values may be secrets.
#[derive(Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, OsString>,
    home: Option<PathBuf>,
}

impl Environment {
    /// The environment of this process.
    pub fn from_process() -> Self {
        let vars: BTreeMap<String, OsString> = std::env::vars_os()
            .filter_map(|(k, v)| k.into_string().ok().map(|k| (k, v)))
            .collect();
        let home = vars
            .get("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        Self { vars, home }
    }

    /// An environment made of these variables; `HOME` sets the home
    /// directory.
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<OsString>,
    {
        let vars: BTreeMap<String, OsString> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let home = vars
            .get("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        Self { vars, home }
    }

    pub fn get(&self, name: &str) -> Option<&OsStr> {
        self.vars.get(name).map(OsString::as_os_str)
    }

    /// A variable that is set, non-empty and UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name)
            .and_then(OsStr::to_str)
            .filter(|v| !v.is_empty())
    }

    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// Whether this runs inside GitHub Actions.
    pub fn is_github_actions(&self) -> bool {
        self.get_str("GITHUB_ACTIONS") == Some("true")
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("home", &self.home)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Environment;

    #[test]
    fn environment_debug_shows_names_only() {
        let env = Environment::from_vars([("TOKEN", "hunter2-canary"), ("HOME", "/home/u")]);
        let shown = format!("{env:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("TOKEN"));
    }

    #[test]
    fn home_is_set_only_by_a_non_empty_home() {
        let home = |vars: &[(&str, &str)]| {
            Environment::from_vars(vars.iter().copied())
                .home()
                .map(|h| h.display().to_string())
        };
        assert_eq!(home(&[("HOME", "/home/u")]), Some("/home/u".to_owned()));
        assert_eq!(home(&[("HOME", "")]), None);
        assert_eq!(home(&[]), None);
    }
}
