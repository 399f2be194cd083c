//! Credentials that CI systems and tools put in the environment, and the
//! variables a configuration names as holding secrets.
//!
//! Windlass did not resolve these, but they are secrets all the same: a
//! build backend that prints its environment, or an error that echoes a
//! variable, must not show them. Every binary registers the well-known ones
//! at start-up ([`AMBIENT_SECRET_VARS`]); the tools declare the ones their
//! configuration reads through `env://` references as soon as it is loaded
//! ([`declare_secret_var`]). Children that are not meant to hold
//! credentials (build backends, installers) get none of [`secret_vars`].

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use crate::Redactor;

/// Environment variables whose values are credentials wherever they appear.
pub const AMBIENT_SECRET_VARS: &[&str] = &[
    // Secret stores.
    "VAULT_TOKEN",
    "BAO_TOKEN",
    // GitHub Actions: the OIDC request token and the job tokens.
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    // GitLab CI: the job token and what is derived from it, the retired
    // predefined JWTs, and the `id_tokens:` names documented for Vault,
    // PyPI trusted publishing and Sigstore.
    "CI_JOB_TOKEN",
    "CI_JOB_JWT",
    "CI_JOB_JWT_V1",
    "CI_JOB_JWT_V2",
    "CI_REGISTRY_PASSWORD",
    "CI_DEPENDENCY_PROXY_PASSWORD",
    "CI_DEPLOY_PASSWORD",
    "VAULT_ID_TOKEN",
    "PYPI_ID_TOKEN",
    "SIGSTORE_ID_TOKEN",
    // CircleCI: OIDC tokens in every job.
    "CIRCLE_OIDC_TOKEN",
    "CIRCLE_OIDC_TOKEN_V2",
    // Buildkite: the agent's session token, which requests OIDC tokens.
    "BUILDKITE_AGENT_ACCESS_TOKEN",
    // Bitbucket Pipelines: the step's OIDC token.
    "BITBUCKET_STEP_OIDC_TOKEN",
    // Azure Pipelines: the job access token, when mapped.
    "SYSTEM_ACCESSTOKEN",
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

/// Variables declared at run time with [`declare_secret_var`].
static DECLARED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Declares that the environment variable `name` holds a secret in this run
/// (the configuration reads it through an `env://` reference): its value,
/// when set, is registered with the process-wide redactor, and the name joins
/// [`secret_vars`], which children that must not hold credentials do not
/// inherit.
pub fn declare_secret_var(name: &str, value: Option<&str>) {
    if let Some(value) = value {
        crate::global().register(value);
    }
    if name.is_empty() {
        return;
    }
    DECLARED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(name.to_owned());
}

/// Every environment variable that holds a credential in this run:
/// [`AMBIENT_SECRET_VARS`] and the variables declared with
/// [`declare_secret_var`], sorted, each once.
pub fn secret_vars() -> Vec<String> {
    let declared = DECLARED.lock().unwrap_or_else(PoisonError::into_inner);
    let mut names: BTreeSet<String> = AMBIENT_SECRET_VARS
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    names.extend(declared.iter().cloned());
    names.into_iter().collect()
}

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

    /// The identity tokens CI systems put in a job's environment are masked
    /// (each variable gets a value of its own; what is left unmasked is the
    /// answer).
    #[test]
    fn ci_identity_tokens_are_masked() {
        let names = [
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "CI_JOB_JWT",
            "CI_JOB_JWT_V1",
            "CI_JOB_JWT_V2",
            "VAULT_ID_TOKEN",
            "PYPI_ID_TOKEN",
            "SIGSTORE_ID_TOKEN",
            "CIRCLE_OIDC_TOKEN",
            "CIRCLE_OIDC_TOKEN_V2",
            "BUILDKITE_AGENT_ACCESS_TOKEN",
            "BITBUCKET_STEP_OIDC_TOKEN",
            "CI_REGISTRY_PASSWORD",
        ];
        let value = |name: &str| format!("eyJ-{}-jwt", name.to_ascii_lowercase());
        let r = Redactor::new();
        r.register_ambient(|name| Some(value(name)));
        let text: Vec<String> = names
            .iter()
            .map(|name| format!("{name}={}", value(name)))
            .collect();
        insta::assert_snapshot!(r.redact(&text.join("\n")), @r"
        ACTIONS_ID_TOKEN_REQUEST_TOKEN=****
        CI_JOB_JWT=****
        CI_JOB_JWT_V1=****
        CI_JOB_JWT_V2=****
        VAULT_ID_TOKEN=****
        PYPI_ID_TOKEN=****
        SIGSTORE_ID_TOKEN=****
        CIRCLE_OIDC_TOKEN=****
        CIRCLE_OIDC_TOKEN_V2=****
        BUILDKITE_AGENT_ACCESS_TOKEN=****
        BITBUCKET_STEP_OIDC_TOKEN=****
        CI_REGISTRY_PASSWORD=****
        ");
    }

    /// A declared variable is masked by the process-wide redactor and
    /// listed with the ambient ones.
    #[test]
    fn declared_variables_join_the_secret_vars() {
        assert!(!super::secret_vars().contains(&"WL_DEPLOY_KEY_TEST".to_owned()));
        super::declare_secret_var("WL_DEPLOY_KEY_TEST", Some("declared-deploy-key-value"));
        super::declare_secret_var("WL_UNSET_TEST", None);
        let vars = super::secret_vars();
        for name in [
            "WL_DEPLOY_KEY_TEST",
            "WL_UNSET_TEST",
            "VAULT_TOKEN",
            "PYPI_ID_TOKEN",
        ] {
            assert!(vars.contains(&name.to_owned()), "{name} missing: {vars:?}");
        }
        assert_eq!(
            crate::global().redact("key=declared-deploy-key-value"),
            "key=****"
        );
    }
}
