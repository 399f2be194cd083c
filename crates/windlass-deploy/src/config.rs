//! `[deploy]` in `windlass.toml`: the chart, the images the chart runs,
//! the application values, and one table per environment.
//!
//! ```toml
//! [deploy]
//! chart = "charts/ml-job"            # a local chart directory or .tgz,
//!                                    # `oci://REGISTRY/REPO/NAME`, or a
//!                                    # chart name in `repository`
//! # repository = "https://charts.example.com"
//! version = "0.3.1"                  # required for a repository or oci chart
//! release = "ml-job"                 # the Helm release name
//! values = ["deploy/values.yaml"]    # application values, part of the bundle
//! set = { "replicaCount" = 2 }       # inline application values
//!
//! [deploy.images.job]                # one per image the chart runs
//! repository = "registry.example.com/ml-job"
//! values-key = "image"               # sets image.repository, image.digest,
//!                                    # image.tag and image.reference
//!
//! [deploy.environments.dev]
//! context = "kind-dev"               # kubeconfig context (kubectl's rules)
//! namespace = "ml-dev"
//!
//! [deploy.environments.staging]
//! from = "dev"                       # promoted from dev
//! kubeconfig = "~/.kube/staging"
//! namespace = "ml-staging"
//! values = ["deploy/staging.yaml"]   # the environment's own values
//! secret-values = { "db.password" = "vault://secret/ml/staging#db" }
//! gates = { soak = "30m", verify = [{ http = "https://ml.staging.example.com/healthz" }] }
//!
//! [deploy.environments.prod]
//! from = "staging"
//! gates = { approval = true, window = "Mon-Fri 09:00-16:00 Europe/Paris" }
//! strategy = { kind = "canary", steps = [10, 50], pause = "5m" }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use windlass_config::RelativePath;

/// `[deploy]`: the chart, its images, the application values and the
/// environments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeploySection {
    /// The chart: a local directory or `.tgz`, `oci://REGISTRY/REPO/NAME`,
    /// or a chart name in [`Self::repository`].
    pub chart: Option<String>,
    /// A classic chart repository (`https://...`, an `index.yaml` server)
    /// holding [`Self::chart`].
    pub repository: Option<String>,
    /// The user name for [`Self::repository`], when it wants one.
    pub repository_username: Option<String>,
    /// A secret reference to the password for [`Self::repository`]
    /// (`vault://...`, `env://...`): handed to `helm repo add
    /// --password-stdin`, never on argv.
    pub repository_password: Option<String>,
    /// The chart version (required for a repository or `oci://` chart; a
    /// local chart's own `Chart.yaml` version otherwise).
    pub version: Option<String>,
    /// The Helm release name (default: the chart's name).
    pub release: Option<String>,
    /// Application values files, in order; part of the bundle.
    #[serde(default)]
    pub values: Vec<RelativePath>,
    /// Inline application values (`"a.b" = value`, dotted keys as Helm's
    /// `--set` reads them), applied after [`Self::values`]; part of the
    /// bundle.
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
    /// `[deploy.images.NAME]`: the images the chart runs.
    #[serde(default)]
    pub images: BTreeMap<String, ImageSpec>,
    /// Helm's `--timeout` for each upgrade and rollback (`5m`, `90s`).
    pub timeout: Option<String>,
    /// Where the ledger and leases live when an environment does not say:
    /// the environment's namespace (default).
    #[serde(default)]
    pub environments: BTreeMap<String, EnvironmentSpec>,
}

/// `[deploy.images.NAME]`: an image the chart runs, set into the values by
/// digest.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ImageSpec {
    /// `REGISTRY/REPOSITORY` (no tag, no digest: those come from the build).
    pub repository: String,
    /// The values key the image is written under: `KEY.repository`,
    /// `KEY.digest`, `KEY.tag` and `KEY.reference` (`REPO@sha256:...`).
    /// Default: `images.NAME`.
    pub values_key: Option<String>,
}

/// `[deploy.environments.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct EnvironmentSpec {
    /// The environment this one is promoted from (`deploy promote FROM
    /// NAME`); none for the first environment.
    pub from: Option<String>,
    /// A kubeconfig file (default: `KUBECONFIG`, then `~/.kube/config`, as
    /// kubectl reads them).
    pub kubeconfig: Option<RelativePath>,
    /// A kubeconfig context (default: the current context).
    pub context: Option<String>,
    /// The namespace of the release, its ledger and its lease (default: the
    /// context's namespace, else `default`).
    pub namespace: Option<String>,
    /// The environment's own values files (not part of the bundle).
    #[serde(default)]
    pub values: Vec<RelativePath>,
    /// The environment's own inline values.
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
    /// Values from secret references (`"db.password" = "vault://..."`),
    /// resolved at deploy time, passed to Helm in a private file, never
    /// recorded.
    #[serde(default)]
    pub secret_values: BTreeMap<String, String>,
    /// The release name here, when it differs from `[deploy] release`.
    pub release: Option<String>,
    /// Helm's `--timeout` here.
    pub timeout: Option<String>,
    /// Gates checked before and after each upgrade.
    #[serde(default)]
    pub gates: GatesSpec,
    /// How the new version replaces the old.
    #[serde(default)]
    pub strategy: StrategySpec,
}

/// `gates = { ... }` of an environment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GatesSpec {
    /// A person must approve the bundle for this environment first:
    /// `true` for `deploy approve ENV BUNDLE` (a ledger record),
    /// `"github-environment"` to also accept, inside GitHub Actions, the
    /// protection rules of the job's `environment` (the job only runs once
    /// its reviewers approved).
    #[serde(default)]
    pub approval: Approval,
    /// How long the bundle must have run in the `from` environment (`30m`,
    /// `2h`, `1d`).
    pub soak: Option<String>,
    /// When deploys are allowed: `DAYS HH:MM-HH:MM [ZONE]`, e.g. `Mon-Fri
    /// 09:00-16:00 UTC`. Several windows may be given as a list.
    #[serde(default, deserialize_with = "one_or_many")]
    pub window: Vec<String>,
    /// Checks after the upgrade; a failure rolls back.
    #[serde(default)]
    pub verify: Vec<VerifySpec>,
    /// Wait for every Deployment, StatefulSet and DaemonSet of the release
    /// to finish rolling out (default true).
    pub rollout: Option<bool>,
}

/// A string, or a list of them.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Raw::deserialize(deserializer)? {
        Raw::One(one) => vec![one],
        Raw::Many(many) => many,
    })
}

/// `gates.approval`: `false` (default), `true` or `"github-environment"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Approval {
    /// No approval needed.
    #[default]
    None,
    /// An `Approved` ledger record for the bundle (`deploy approve`).
    Ledger,
    /// A ledger record, or, inside GitHub Actions, the job's environment
    /// protection rules (the run's reviewers are recorded).
    GithubEnvironment,
}

impl Approval {
    /// Whether a person must approve.
    pub fn required(self) -> bool {
        self != Self::None
    }
}

impl<'de> Deserialize<'de> for Approval {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bool(false) => Ok(Self::None),
            Raw::Bool(true) => Ok(Self::Ledger),
            Raw::Text(text) if text == "github-environment" => Ok(Self::GithubEnvironment),
            Raw::Text(text) => Err(serde::de::Error::custom(format!(
                "`approval` is `true`, `false` or `\"github-environment\"`, not `{text}`"
            ))),
        }
    }
}

/// One verification after an upgrade.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VerifySpec {
    /// An HTTP(S) URL that must answer `expect-status` (default: any 2xx).
    pub http: Option<String>,
    /// A command (argv, no shell) that must exit 0; `env` may hold secret
    /// references.
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub expect_status: Option<u16>,
    /// How long to keep trying before the check fails (default `60s`).
    pub timeout: Option<String>,
    /// A name for reports (default: the URL or the command).
    pub name: Option<String>,
}

/// `strategy = { kind = "...", ... }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StrategySpec {
    #[serde(default)]
    pub kind: StrategyKind,
    /// Canary: the traffic percentages to pass through, in order.
    #[serde(default)]
    pub steps: Vec<u8>,
    /// Canary and blue/green: how long to wait (and verify) at each step.
    pub pause: Option<String>,
    /// Canary: the values key holding the canary release's replica count
    /// (default `replicaCount`, dotted for a nested key).
    pub values_key: Option<String>,
    /// Blue/green and canary: the Service Windlass owns and points at the
    /// live pods (default: the release name for blue/green,
    /// `RELEASE-traffic` for canary).
    pub service: Option<String>,
    /// The port that Service listens on (default 80).
    pub service_port: Option<u16>,
    /// The pods' port it sends to: a number or a port name (default
    /// `http`).
    pub target_port: Option<String>,
    /// The pod label the Service selects on (default
    /// `app.kubernetes.io/instance` for blue/green, whose value is
    /// `RELEASE-COLOUR`; `app.kubernetes.io/name` for canary, whose value
    /// both releases share).
    pub selector_label: Option<String>,
    /// Blue/green: scale the old colour to zero once the new one is live
    /// and verified (default: keep it running for an instant switch back).
    #[serde(default)]
    pub scale_down_old: bool,
    /// A/B and shadow: the controller the promotion is handed to
    /// (default `auto`: whichever of Flagger and Argo Rollouts the cluster
    /// has).
    #[serde(default)]
    pub provider: Provider,
    /// A/B: the requests the new version gets (any one of them matching).
    #[serde(default, rename = "match")]
    pub matches: Vec<MatchSpec>,
    /// A/B and shadow: how many analysis rounds the controller runs
    /// (default 10).
    pub iterations: Option<u32>,
    /// A/B and shadow: how long each round lasts (default `1m`); the test
    /// lasts `iterations` times `interval`.
    pub interval: Option<String>,
    /// A/B and shadow, Flagger: how many failed checks abort the analysis
    /// (default 1).
    pub threshold: Option<u32>,
    /// Shadow: the percentage of requests copied to the new version
    /// (default: all; Flagger's `mirrorWeight`, Argo Rollouts'
    /// `percentage`).
    pub mirror_percent: Option<u8>,
    /// A/B and shadow: the Deployment of the chart the controller takes
    /// over (default: the release name).
    pub target: Option<String>,
    /// A/B and shadow, Argo Rollouts: how the controller routes requests
    /// (required there).
    pub traffic_routing: Option<TrafficRoutingSpec>,
    /// A/B and shadow, Argo Rollouts: the `AnalysisTemplate` run after the
    /// pause.
    pub analysis_template: Option<String>,
    /// A/B and shadow: also run the environment's `gates.verify` checks
    /// once the controller has promoted the new version (a failure rolls
    /// back).
    #[serde(default)]
    pub verify: bool,
}

/// The controller an A/B test or shadow traffic is handed to.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// Whichever the cluster has; both: refused, the user chooses.
    #[default]
    Auto,
    /// Flagger (`Canary` objects of `flagger.app/v1beta1`).
    Flagger,
    /// Argo Rollouts (`Rollout` objects of `argoproj.io/v1alpha1`).
    ArgoRollouts,
}

impl Provider {
    /// The `provider` as configured.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Flagger => "flagger",
            Self::ArgoRollouts => "argo-rollouts",
        }
    }
}

/// One request match of an A/B test: a header or a cookie, with its value
/// exact or as a regular expression.
///
/// ```toml
/// match = [{ header = "x-canary", exact = "insider" }, { cookie = "canary", exact = "always" }]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MatchSpec {
    /// A request header's name.
    pub header: Option<String>,
    /// A cookie's name (matched in the `cookie` header).
    pub cookie: Option<String>,
    /// The value, exactly.
    pub exact: Option<String>,
    /// The value, as a regular expression (headers only).
    pub regex: Option<String>,
}

/// `traffic-routing` of Argo Rollouts: the one router it drives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrafficRoutingSpec {
    /// The NGINX ingress controller: the stable Ingress's name.
    pub nginx: Option<String>,
    /// Istio: the VirtualService's name.
    pub istio: Option<String>,
    /// The Service selecting the stable pods (default `TARGET-stable`);
    /// the chart defines it, Argo Rollouts sets its selector.
    pub stable_service: Option<String>,
    /// The Service selecting the new pods (default `TARGET-canary`).
    pub canary_service: Option<String>,
}

/// The deployment strategy.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// The chart's own rollout (a Deployment's rolling update).
    #[default]
    Rolling,
    /// Scale the old version to zero, then start the new one.
    Recreate,
    /// Start the new version beside the old, verify it, then switch the
    /// Service.
    BlueGreen,
    /// Send a growing share of traffic to the new version, verifying at each
    /// step.
    Canary,
    /// A/B test: the new version for chosen requests (a header, a cookie).
    /// Handed to Flagger or Argo Rollouts (routing by request attributes);
    /// refused when the cluster has neither.
    Ab,
    /// Shadow traffic: a copy of the requests to the new version, its
    /// answers dropped. Handed to Flagger or Argo Rollouts (request
    /// mirroring); refused when the cluster has neither.
    Shadow,
}

impl StrategyKind {
    /// The `kind` as configured (`blue-green`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rolling => "rolling",
            Self::Recreate => "recreate",
            Self::BlueGreen => "blue-green",
            Self::Canary => "canary",
            Self::Ab => "ab",
            Self::Shadow => "shadow",
        }
    }
}

#[cfg(test)]
mod tests {
    use windlass_testkit::serde_fields;

    /// Every field of `[deploy]` and its tables has a row in the registry
    /// the reference docs are generated from, and every row is a field
    /// (besides the rows of the credential leaves, which are references).
    #[test]
    fn every_field_is_documented() {
        let tables: [(&str, &[&str]); 8] = [
            ("deploy", serde_fields::<super::DeploySection>()),
            ("deploy.images.NAME", serde_fields::<super::ImageSpec>()),
            (
                "deploy.environments.NAME",
                serde_fields::<super::EnvironmentSpec>(),
            ),
            (
                "deploy.environments.NAME.gates",
                serde_fields::<super::GatesSpec>(),
            ),
            (
                "deploy.environments.NAME.gates.verify",
                serde_fields::<super::VerifySpec>(),
            ),
            (
                "deploy.environments.NAME.strategy",
                serde_fields::<super::StrategySpec>(),
            ),
            (
                "deploy.environments.NAME.strategy.match",
                serde_fields::<super::MatchSpec>(),
            ),
            (
                "deploy.environments.NAME.strategy.traffic-routing",
                serde_fields::<super::TrafficRoutingSpec>(),
            ),
        ];
        let fields = windlass_testkit::section_keys(&tables);
        let deploy_keys = || {
            windlass_config::TOOL_KEYS
                .iter()
                .filter(|key| key.key.starts_with("deploy."))
        };
        // The entries of a table of secret references are not fields; a
        // field holding one reference (`repository-password`) is.
        let mut documented: Vec<String> = deploy_keys()
            .filter(|key| {
                let entry = matches!(key.key.rsplit('.').next(), Some("KEY" | "NAME"));
                !(key.credential() && entry)
            })
            .map(|key| key.key.to_owned())
            .collect();
        documented.sort();
        assert_eq!(fields, documented);
        let credentials: Vec<&str> = deploy_keys()
            .filter(|key| key.credential())
            .map(|key| key.key)
            .collect();
        assert_eq!(
            credentials,
            [
                "deploy.repository-password",
                "deploy.environments.NAME.secret-values.KEY",
                "deploy.environments.NAME.gates.verify.env.NAME"
            ]
        );
    }

    /// A whole example parses.
    #[test]
    fn example_parses() {
        let section: super::DeploySection = toml::from_str(
            r#"
            chart = "charts/ml-job"
            version = "0.3.1"
            values = ["deploy/values.yaml"]
            set = { "replicaCount" = 2 }

            [images.job]
            repository = "registry.example.com/ml-job"
            values-key = "image"

            [environments.staging]
            from = "dev"
            secret-values = { "db.password" = "vault://secret/ml/staging#db" }
            gates = { soak = "30m", verify = [{ http = "https://ml.example.com/healthz" }] }

            [environments.prod]
            from = "staging"
            gates = { approval = "github-environment", window = "Mon-Fri 09:00-16:00 Europe/Paris" }
            strategy = { kind = "canary", steps = [10, 50], pause = "5m" }
            "#,
        )
        .unwrap();
        let prod = &section.environments["prod"];
        assert_eq!(prod.gates.approval, super::Approval::GithubEnvironment);
        assert_eq!(prod.strategy.kind, super::StrategyKind::Canary);
        assert_eq!(prod.gates.window, ["Mon-Fri 09:00-16:00 Europe/Paris"]);
    }
}
