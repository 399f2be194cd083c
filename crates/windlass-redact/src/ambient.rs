//! Credentials that CI systems and tools put in the environment.
//!
//! Windlass did not resolve these, but they are secrets all the same: a
//! build backend that prints its environment, or an error that echoes a
//! variable, must not show them. Every binary registers them at start-up.

use crate::Redactor;

/// Environment variables whose values are credentials wherever they appear.
pub const AMBIENT_SECRET_VARS: &[&str] = &[
    // Secret stores.
    "VAULT_TOKEN",
    "BAO_TOKEN",
    // CI systems.
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "CI_JOB_TOKEN",
    "CI_JOB_JWT",
    "CI_JOB_JWT_V2",
    // Package indexes.
    "TWINE_PASSWORD",
    "PYPI_TOKEN",
    "PYPI_API_TOKEN",
    "UV_PUBLISH_TOKEN",
    "UV_PUBLISH_PASSWORD",
    // Registries and clouds.
    "REGISTRY_PASSWORD",
    "DOCKER_PASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "AZURE_CLIENT_SECRET",
];

impl Redactor {
    /// Registers the value of every variable in [`AMBIENT_SECRET_VARS`] that
    /// `lookup` finds.
    pub fn register_ambient(&self, lookup: impl Fn(&str) -> Option<String>) {
        for name in AMBIENT_SECRET_VARS {
            if let Some(value) = lookup(name) {
                self.register(&value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Redactor;

    #[test]
    fn ambient_credentials_are_masked() {
        let r = Redactor::new();
        r.register_ambient(|name| match name {
            "VAULT_TOKEN" => Some("s.ambient-vault-token".to_owned()),
            "TWINE_PASSWORD" => Some("pypi-ambient-password".to_owned()),
            _ => None,
        });
        assert_eq!(
            r.redact("token s.ambient-vault-token and pypi-ambient-password, HOME=/root"),
            "token **** and ****, HOME=/root"
        );
    }
}
