//! The one registry of `WINDLASS_*` environment variables and config keys.

use std::fmt::Write as _;

/// The type of a setting: how it is written in TOML, in the environment and
/// in the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A non-negative integer that fits in a `u32`.
    Integer,
    /// A duration: whole seconds as an integer, or a string such as `"30s"`,
    /// `"2m"` or `"1m30s"` (units `ms`, `s`, `m`, `h`).
    Duration,
    /// A file path; relative paths are resolved against the directory of the
    /// file that set them (or the working directory for env vars and flags).
    Path,
    /// `true` or `false` (in the environment also `1`/`0`, `yes`/`no`).
    Bool,
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
    /// A list of strings; comma-separated in the environment.
    StringList,
    /// Free text, taken as written.
    Text,
}

impl Kind {
    /// What a value of this kind is, for error messages: `"an integer"`.
    pub fn expected(self) -> String {
        match self {
            Kind::Integer => "an integer".to_owned(),
            Kind::Duration => "a duration".to_owned(),
            Kind::Path => "a path".to_owned(),
            Kind::Bool => "a boolean".to_owned(),
            Kind::Choice(choices) => format!("one of {}", quoted_list(choices)),
            Kind::StringList => "a list of strings".to_owned(),
            Kind::Text => "a string".to_owned(),
        }
    }

    /// An example value written as TOML, for hints.
    pub fn example_toml(self) -> String {
        match self {
            Kind::Integer => "3".to_owned(),
            Kind::Duration => "\"30s\"".to_owned(),
            Kind::Path => "\"certs/ca.pem\"".to_owned(),
            Kind::Bool => "true".to_owned(),
            Kind::Choice(choices) => format!("\"{}\"", choices.first().copied().unwrap_or("")),
            Kind::StringList => "[\"registry.internal\"]".to_owned(),
            Kind::Text => "\"text\"".to_owned(),
        }
    }

    /// An example value written as an environment variable or flag value.
    pub fn example_text(self) -> String {
        match self {
            Kind::Integer => "3".to_owned(),
            Kind::Duration => "30s".to_owned(),
            Kind::Path => "certs/ca.pem".to_owned(),
            Kind::Bool => "true".to_owned(),
            Kind::Choice(choices) => choices.first().copied().unwrap_or("").to_owned(),
            Kind::StringList => "registry.internal,mirror.internal".to_owned(),
            Kind::Text => "text".to_owned(),
        }
    }

    /// The type column of the generated docs.
    fn doc_type(self) -> String {
        match self {
            Kind::Integer => "integer".to_owned(),
            Kind::Duration => "duration (seconds, or `30s`, `2m`, `1m30s`)".to_owned(),
            Kind::Path => "path".to_owned(),
            Kind::Bool => "boolean".to_owned(),
            Kind::Choice(choices) => choices
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(" \\| "),
            Kind::StringList => "list of strings (comma-separated in the environment)".to_owned(),
            Kind::Text => "string".to_owned(),
        }
    }
}

/// One `WINDLASS_*` environment variable.
///
/// A variable either overrides a config key (`key` is `Some`), in which case
/// the row is also the schema entry of that key, or it steers loading itself
/// (`WINDLASS_CONFIG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable name, `WINDLASS_HTTP_TIMEOUT`.
    pub name: &'static str,
    /// The dotted config key it overrides, `http.timeout`.
    pub key: Option<&'static str>,
    /// The value type.
    pub kind: Kind,
    /// One sentence for the docs, starting with a capital letter.
    pub description: &'static str,
}

/// Every `WINDLASS_*` environment variable, and through the rows with a key,
/// every config key. Adding a setting means adding a row here and a field to
/// the matching struct in [`crate::Settings`]; a test checks they agree.
pub const ENV_VARS: &[EnvVar] = &[
    EnvVar {
        name: "WINDLASS_CONFIG",
        key: None,
        kind: Kind::Path,
        description: "Use this project config file instead of searching for `windlass.toml` (same as `--config`; the flag wins).",
    },
    EnvVar {
        name: "WINDLASS_CONFIG_HOME",
        key: None,
        kind: Kind::Path,
        description: "Directory holding the user config `windlass.toml`, instead of `$XDG_CONFIG_HOME/windlass` or `~/.config/windlass`.",
    },
    EnvVar {
        name: "WINDLASS_CACHE_DIR",
        key: None,
        kind: Kind::Path,
        description: "Directory of Windlass's caches (isolated build environments), instead of `$XDG_CACHE_HOME/windlass` or `~/.cache/windlass`.",
    },
    EnvVar {
        name: "WINDLASS_PYTHON",
        key: None,
        kind: Kind::Path,
        description: "The Python interpreter that PEP 517 builds run with and that `windlass check` builds its tool and project environments with (a name looked up on `PATH`, or a path); `python3` by default.",
    },
    EnvVar {
        name: "WINDLASS_UV",
        key: None,
        kind: Kind::Path,
        description: "The `uv` that `windlass check` installs its tools and the project's environment with (a name looked up on `PATH`, or a path), instead of `uv` on `PATH`.",
    },
    EnvVar {
        name: "WINDLASS_HELM",
        key: None,
        kind: Kind::Path,
        description: "The `helm` binary `windlass deploy` and `windlass check` run (Helm v4, or v3.13 and later), instead of `helm` on `PATH`.",
    },
    EnvVar {
        name: "WINDLASS_CHECK_JUNIT",
        key: None,
        kind: Kind::Path,
        description: "Not read but set: `windlass check` gives each command it runs the path where a `[check.NAME]` with `format = \"junit\"` writes its JUnit XML (the same path as `{junit}` in its arguments).",
    },
    EnvVar {
        name: "WINDLASS_LOG",
        key: None,
        kind: Kind::Text,
        description: "A tracing filter for log lines on stderr, overriding `-v`/`-q` (`windlass_pypi=trace,info`); logs pass through the redactor like everything else.",
    },
    EnvVar {
        name: "WINDLASS_HTTP_TIMEOUT",
        key: Some("http.timeout"),
        kind: Kind::Duration,
        description: "Total time allowed for one HTTP request, including reading the response.",
    },
    EnvVar {
        name: "WINDLASS_HTTP_CONNECT_TIMEOUT",
        key: Some("http.connect-timeout"),
        kind: Kind::Duration,
        description: "Time allowed to establish a connection.",
    },
    EnvVar {
        name: "WINDLASS_HTTP_RETRIES",
        key: Some("http.retries"),
        kind: Kind::Integer,
        description: "How many times a failed request (connection error, 429, 5xx) is retried, at most.",
    },
    EnvVar {
        name: "WINDLASS_HTTP_RETRY_BUDGET",
        key: Some("http.retry-budget"),
        kind: Kind::Duration,
        description: "How long a server may keep failing before retries to it stop: the clock starts at its first failure since its last success, and a retry whose wait would end later is not made.",
    },
    EnvVar {
        name: "WINDLASS_HTTP_CA_FILE",
        key: Some("http.ca-file"),
        kind: Kind::Path,
        description: "PEM file of extra certificate authorities to trust.",
    },
    EnvVar {
        name: "WINDLASS_HTTP_INSECURE_HOSTS",
        key: Some("http.insecure-hosts"),
        kind: Kind::StringList,
        description: "Host names that may be reached over plain `http://`.",
    },
];

/// A top-level section whose schema belongs to a tool, not to this crate.
///
/// Its content is kept as written, with the file and line of every value,
/// merged across the user and project files, listed by `windlass config
/// show`, and typed by the tool through
/// [`EffectiveConfig::section`](crate::EffectiveConfig::section), which turns
/// the tool's serde errors into the same located errors as any other key.
///
/// Merging: tables merge key by key, so a project-file value replaces the
/// user-file value with the same dotted key and leaves its siblings alone;
/// any other value, a list included, is replaced whole. A key matching one
/// of `replaced_whole` is replaced whole even when it is a table.
///
/// To add a section: add a row here (the name is then accepted in every
/// `windlass.toml`), define its serde types in the tool's crate with
/// `#[serde(rename_all = "kebab-case", deny_unknown_fields)]`, read it with
/// `EffectiveConfig::section::<T>("name")`, use [`crate::RelativePath`] for
/// paths, list every field that holds a credential in `credentials`, and
/// describe it in `docs/configuration.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolSection {
    /// The top-level table name, `secrets`.
    pub name: &'static str,
    /// The crate that defines and reads it, `windlass-secrets`.
    pub owner: &'static str,
    /// Dotted key patterns (`*` is one key) whose values are replaced as a
    /// whole, tables included: `secrets.*` makes each secret one entry.
    pub replaced_whole: &'static [&'static str],
    /// Dotted key patterns (`*` is one key) of the credential fields, each
    /// with an example reference for the hint: their values must be secret
    /// references (`env://`, `vault://`, `keyring://`, `file://`). A plain
    /// value there is refused when the file is loaded, and `config show`
    /// prints `****` for anything but a reference.
    pub credentials: &'static [(&'static str, &'static str)],
    /// One sentence for the docs.
    pub description: &'static str,
}

impl ToolSection {
    /// Whether the value at the dotted `key` (which starts with this
    /// section's name) is replaced whole rather than merged key by key.
    pub fn replaced_whole(&self, key: &str) -> bool {
        self.replaced_whole
            .iter()
            .any(|pattern| key_matches(pattern, key))
    }

    /// The example reference of the credential field at the dotted `key`,
    /// when it is one.
    pub fn credential(&self, key: &str) -> Option<&'static str> {
        self.credentials
            .iter()
            .find(|(pattern, _)| key_matches(pattern, key))
            .map(|(_, example)| *example)
    }

    /// Whether a credential field at `key` may be a table whose own keys
    /// are credential fields (`secrets.NAME = { ref = "..." }`).
    pub fn credential_table(&self, key: &str) -> bool {
        let depth = key.split('.').count();
        self.credentials.iter().any(|(pattern, _)| {
            let parts: Vec<&str> = pattern.split('.').collect();
            parts.len() > depth && key_matches(&parts[..depth].join("."), key)
        })
    }

    /// Whether the leaf at `key` is a credential field or lies inside one
    /// (`password = { x = "..." }` puts `password.x` inside `password`).
    pub fn holds_credential(&self, key: &str) -> bool {
        let parts: Vec<&str> = key.split('.').collect();
        (1..=parts.len()).any(|len| {
            let prefix = parts[..len].join(".");
            self.credential(&prefix).is_some()
                && (len == parts.len() || !self.credential_table(&prefix))
        })
    }
}

/// Whether the dotted `key` matches `pattern`, where `*` is any one key and
/// a final `**` is one key or more. Keys are split on dots, so a quoted key
/// holding a dot counts as several (`**` takes them all: the dotted values
/// paths of `deploy.environments.*.secret-values`).
pub(crate) fn key_matches(pattern: &str, key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    let pattern: Vec<&str> = pattern.split('.').collect();
    let (pattern, rest) = match pattern.split_last() {
        Some((&"**", init)) => (init, true),
        _ => (&pattern[..], false),
    };
    let length = if rest {
        parts.len() > pattern.len()
    } else {
        parts.len() == pattern.len()
    };
    length
        && pattern
            .iter()
            .zip(&parts)
            .all(|(want, part)| *want == "*" || want == part)
}

/// The schemes of a secret reference: `env://NAME`, `vault://MOUNT/PATH#KEY`,
/// `keyring://SERVICE/USER`, `file://PATH`.
pub const REFERENCE_SCHEMES: &[&str] = &["env", "vault", "keyring", "file"];

/// Whether `value` is written as a secret reference: one of
/// [`REFERENCE_SCHEMES`] and a colon. The rest is checked by the tool that
/// resolves it, which points at a typo such as `vault:secret/x`.
pub fn is_reference(value: &str) -> bool {
    REFERENCE_SCHEMES.iter().any(|scheme| {
        value
            .strip_prefix(scheme)
            .is_some_and(|rest| rest.starts_with(':'))
    })
}

/// Every tool-owned top-level section.
pub const TOOL_SECTIONS: &[ToolSection] = &[
    ToolSection {
        name: "secrets",
        owner: "windlass-secrets",
        replaced_whole: &["secrets.*"],
        credentials: &[
            ("secrets.*", "\"env://PYPI_TOKEN\""),
            ("secrets.*.ref", "\"env://PYPI_TOKEN\""),
        ],
        description: "Named secret references: `NAME = \"vault://secret/ci/pypi#token\"` or `NAME = { ref = \"...\", secret = false }`.",
    },
    ToolSection {
        name: "vault",
        owner: "windlass-secrets",
        replaced_whole: &[],
        credentials: &[
            ("vault.approle.role-id", "\"env://VAULT_ROLE_ID\""),
            ("vault.approle.secret-id", "\"env://VAULT_SECRET_ID\""),
        ],
        description: "Where Vault/OpenBao is and how to log in (`address`, `namespace`, `ca-file`, `auth` and one table per login method).",
    },
    ToolSection {
        name: "wheel",
        owner: "windlass-wheel",
        replaced_whole: &["wheel.repositories.*"],
        credentials: &[
            ("wheel.repositories.*.token", "\"env://PYPI_TOKEN\""),
            ("wheel.repositories.*.password", "\"env://PYPI_PASSWORD\""),
        ],
        description: "Wheel building and the package repositories to publish to (`[wheel.repositories.NAME]`).",
    },
    ToolSection {
        name: "image",
        owner: "windlass-image",
        replaced_whole: &["image.env", "image.labels", "image.registries.*"],
        credentials: &[
            ("image.index.password", "\"env://INDEX_PASSWORD\""),
            ("image.registries.*.password", "\"env://REGISTRY_PASSWORD\""),
        ],
        description: "What `image build` builds (base, Containerfile, files, Python requirements and wheels, runtime config, platforms, output) and the container registries images go to (`[image.registries.\"HOST\"]`).",
    },
    ToolSection {
        name: "deploy",
        owner: "windlass-deploy",
        replaced_whole: &[
            "deploy.set",
            "deploy.environments.*.set",
            "deploy.environments.*.secret-values",
        ],
        credentials: &[
            ("deploy.repository-password", "\"env://CHARTS_PASSWORD\""),
            (
                "deploy.environments.*.secret-values.**",
                "\"vault://secret/ml/prod#db-password\"",
            ),
            (
                "deploy.environments.*.gates.verify.env.*",
                "\"env://SMOKE_TOKEN\"",
            ),
        ],
        description: "What `deploy` promotes (the chart, its images, the application values) and the environments it goes through (`[deploy.environments.NAME]`: cluster, namespace, values, secret values, gates, strategy).",
    },
    ToolSection {
        name: "check",
        owner: "windlass-check",
        replaced_whole: &["check.*.command", "check.*.files"],
        credentials: &[],
        description: "What `check` runs (`only`, `skip`), how many at once, the tools' index and versions, and `[check.NAME]` tables that change a built-in check or add one (command, files, environment with secret references).",
    },
    ToolSection {
        name: "release",
        owner: "windlass-release",
        replaced_whole: &["release.wheels", "release.images.*.tags"],
        credentials: &[],
        description: "What `release` builds and publishes (`wheels`, `repository`, `[release.images.NAME]`), the environment the bundle goes to first and where `--local` writes.",
    },
];

/// The tool-owned section called `name`.
pub fn tool_section(name: &str) -> Option<&'static ToolSection> {
    TOOL_SECTIONS.iter().find(|section| section.name == name)
}

/// Renders the tool-owned sections as the Markdown table in
/// `docs/configuration.md`.
pub fn tool_sections_markdown() -> String {
    let mut out = String::from("| Section | Read by | Replaced whole | Description |\n");
    out.push_str("| --- | --- | --- | --- |\n");
    for section in TOOL_SECTIONS {
        let whole = if section.replaced_whole.is_empty() {
            "—".to_owned()
        } else {
            section
                .replaced_whole
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "| `[{}]` | `{}` | {whole} | {} |",
            section.name, section.owner, section.description
        );
    }
    out
}

/// One key of a tool-owned section, for the reference docs. `NAME` in a
/// key stands for any name (`wheel.repositories.NAME.url`). A key whose
/// value is a table of further keys is listed when the table itself has a
/// meaning (`vault.approle`); its keys follow it.
///
/// Each tool has a test that every field of its section types has a row
/// here and every row here is a field, so the docs follow the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolKey {
    /// The dotted key, `vault.approle.role-id`.
    pub key: &'static str,
    /// The type column of the docs.
    pub kind: &'static str,
    /// The default, as TOML, when the key has one.
    pub default: Option<&'static str>,
    /// The environment variables the tool reads instead, winning over the
    /// file, in the order they win.
    pub env: &'static [&'static str],
    /// One sentence for the docs.
    pub description: &'static str,
}

impl ToolKey {
    /// Whether the key is a credential field of its section: its value
    /// must be a secret reference (see [`ToolSection::credentials`]).
    pub fn credential(&self) -> bool {
        let section = self.key.split('.').next().unwrap_or_default();
        let key = self.key.replace("NAME", "*").replace("KEY", "*");
        tool_section(section).is_some_and(|s| s.credential(&key).is_some())
    }
}

/// The type of a secret reference in the docs.
const REFERENCE: &str = "secret reference (`env://`, `vault://`, `keyring://`, `file://`)";

/// Every key of the tool-owned sections ([`TOOL_SECTIONS`]), in the
/// order of the docs.
pub const TOOL_KEYS: &[ToolKey] = &[
    ToolKey {
        key: "secrets.NAME",
        kind: "secret reference, or a table `{ ref, secret }`",
        default: None,
        env: &[],
        description: "A named secret, usually the environment variable a child sees: where it lives, never its value.",
    },
    ToolKey {
        key: "secrets.NAME.ref",
        kind: REFERENCE,
        default: None,
        env: &[],
        description: "The reference, in the table form.",
    },
    ToolKey {
        key: "secrets.NAME.secret",
        kind: "boolean",
        default: Some("true"),
        env: &[],
        description: "`false` for a value that is not secret (a user name): it is neither registered with the redactor nor masked.",
    },
    ToolKey {
        key: "vault.address",
        kind: "URL",
        default: None,
        env: &["VAULT_ADDR"],
        description: "The Vault or OpenBao server.",
    },
    ToolKey {
        key: "vault.namespace",
        kind: "string",
        default: None,
        env: &["VAULT_NAMESPACE"],
        description: "The namespace every request is made in.",
    },
    ToolKey {
        key: "vault.ca-file",
        kind: "path",
        default: None,
        env: &["VAULT_CACERT"],
        description: "PEM file of the certificate authority that signed the server certificate; relative to the file that sets it.",
    },
    ToolKey {
        key: "vault.auth",
        kind: "`token` \\| `approle` \\| `github-actions` \\| `gitlab` \\| `kubernetes`",
        default: Some("\"token\""),
        env: &[],
        description: "How to log in; every method but `token` takes its parameters from the table of the same name. `token` reads `VAULT_TOKEN`, else `~/.vault-token`.",
    },
    ToolKey {
        key: "vault.approle",
        kind: "table",
        default: None,
        env: &[],
        description: "AppRole login (`auth = \"approle\"`).",
    },
    ToolKey {
        key: "vault.approle.mount",
        kind: "string",
        default: Some("\"approle\""),
        env: &[],
        description: "The auth mount.",
    },
    ToolKey {
        key: "vault.approle.role-id",
        kind: REFERENCE,
        default: None,
        env: &[],
        description: "Where the role id is.",
    },
    ToolKey {
        key: "vault.approle.secret-id",
        kind: REFERENCE,
        default: None,
        env: &[],
        description: "Where the secret id is.",
    },
    ToolKey {
        key: "vault.approle.wrapped",
        kind: "boolean",
        default: Some("false"),
        env: &[],
        description: "The secret id is a response-wrapping token, unwrapped first.",
    },
    ToolKey {
        key: "vault.github-actions",
        kind: "table",
        default: None,
        env: &[],
        description: "Login with the GitHub Actions OIDC token at a JWT auth mount (`auth = \"github-actions\"`).",
    },
    ToolKey {
        key: "vault.github-actions.mount",
        kind: "string",
        default: Some("\"jwt\""),
        env: &[],
        description: "The JWT auth mount.",
    },
    ToolKey {
        key: "vault.github-actions.role",
        kind: "string",
        default: None,
        env: &[],
        description: "The role to log in as.",
    },
    ToolKey {
        key: "vault.github-actions.audience",
        kind: "string",
        default: None,
        env: &[],
        description: "The `aud` to request; GitHub's default audience when unset.",
    },
    ToolKey {
        key: "vault.gitlab",
        kind: "table",
        default: None,
        env: &[],
        description: "Login with a GitLab CI ID token at a JWT auth mount (`auth = \"gitlab\"`).",
    },
    ToolKey {
        key: "vault.gitlab.mount",
        kind: "string",
        default: Some("\"jwt\""),
        env: &[],
        description: "The JWT auth mount.",
    },
    ToolKey {
        key: "vault.gitlab.role",
        kind: "string",
        default: None,
        env: &[],
        description: "The role to log in as.",
    },
    ToolKey {
        key: "vault.gitlab.token-env",
        kind: "string",
        default: Some("\"VAULT_ID_TOKEN\""),
        env: &[],
        description: "The variable named in the job's `id_tokens:`.",
    },
    ToolKey {
        key: "vault.kubernetes",
        kind: "table",
        default: None,
        env: &[],
        description: "Login with the pod's service-account token (`auth = \"kubernetes\"`).",
    },
    ToolKey {
        key: "vault.kubernetes.mount",
        kind: "string",
        default: Some("\"kubernetes\""),
        env: &[],
        description: "The auth mount.",
    },
    ToolKey {
        key: "vault.kubernetes.role",
        kind: "string",
        default: None,
        env: &[],
        description: "The role to log in as.",
    },
    ToolKey {
        key: "vault.kubernetes.token-file",
        kind: "path",
        default: Some("\"/var/run/secrets/kubernetes.io/serviceaccount/token\""),
        env: &[],
        description: "The service-account token file; relative to the project directory.",
    },
    ToolKey {
        key: "wheel.backend",
        kind: "`auto` \\| `native` \\| `pep517`",
        default: Some("\"auto\""),
        env: &[],
        description: "The default of `wheel build --backend`.",
    },
    ToolKey {
        key: "wheel.out",
        kind: "path",
        default: None,
        env: &[],
        description: "The default of `wheel build --out` (else `dist/` of the project), and where `check` and `publish` find files when given none; relative to the file that sets it.",
    },
    ToolKey {
        key: "wheel.repository",
        kind: "string",
        default: Some("\"pypi\""),
        env: &["TWINE_REPOSITORY_URL", "TWINE_REPOSITORY"],
        description: "The default of `wheel publish --repository`: a name from `[wheel.repositories]` or `.pypirc`, or an upload URL.",
    },
    ToolKey {
        key: "wheel.repositories",
        kind: "table",
        default: None,
        env: &[],
        description: "Upload targets by name, each replaced whole by a later file; a name here wins over the same name in `.pypirc`.",
    },
    ToolKey {
        key: "wheel.repositories.NAME.url",
        kind: "URL",
        default: None,
        env: &[],
        description: "The upload URL (legacy upload API), or `file:///DIR/simple/`: a static index directory that pip installs from (no credentials).",
    },
    ToolKey {
        key: "wheel.repositories.NAME.simple-url",
        kind: "URL",
        default: None,
        env: &[],
        description: "The simple API root; derived from `url` for PyPI, devpi and pypiserver layouts when unset.",
    },
    ToolKey {
        key: "wheel.repositories.NAME.token",
        kind: REFERENCE,
        default: None,
        env: &[],
        description: "An API token, sent with the user name `__token__`.",
    },
    ToolKey {
        key: "wheel.repositories.NAME.username",
        kind: "string",
        default: None,
        env: &["TWINE_USERNAME"],
        description: "The user name for `password` (not secret).",
    },
    ToolKey {
        key: "wheel.repositories.NAME.password",
        kind: REFERENCE,
        default: None,
        env: &["TWINE_PASSWORD"],
        description: "The password.",
    },
    ToolKey {
        key: "wheel.repositories.NAME.trusted-publishing-url",
        kind: "URL",
        default: None,
        env: &[],
        description: "Where to exchange a CI identity token for an upload token; derived from `url` when unset.",
    },
    ToolKey {
        key: "image.base",
        kind: "image reference or `oci:DIR[:TAG]`",
        default: None,
        env: &[],
        description: "The base image; replaces the Containerfile's `FROM`; `scratch` for none.",
    },
    ToolKey {
        key: "image.containerfile",
        kind: "path",
        default: None,
        env: &[],
        description: "A Containerfile to build (the common subset); relative to the file that sets it.",
    },
    ToolKey {
        key: "image.context",
        kind: "path",
        default: None,
        env: &[],
        description: "The build context: `COPY` and `files` sources are relative to it; the project directory when unset.",
    },
    ToolKey {
        key: "image.files",
        kind: "array of `{ src, dest }`",
        default: Some("[]"),
        env: &[],
        description: "Files and directories copied into the image; a `dest` ending in `/` is a directory.",
    },
    ToolKey {
        key: "image.requirements",
        kind: "array of paths",
        default: Some("[]"),
        env: &[],
        description: "Requirement files whose packages are installed natively.",
    },
    ToolKey {
        key: "image.lock",
        kind: "path",
        default: None,
        env: &[],
        description: "A PEP 751 lock file (`pylock.toml`): exactly its wheels for the image's Python are installed natively, each checked against its sha256; no resolution.",
    },
    ToolKey {
        key: "image.compile",
        kind: "boolean",
        default: None,
        env: &[],
        description: "Byte-compile the installed Python modules for the image's Python (`--compile`/`--no-compile`), with a host CPython of the image's version; unset, only a Containerfile's `RUN pip install` is compiled (unless it says `--no-compile`), as pip does.",
    },
    ToolKey {
        key: "image.wheels",
        kind: "array of paths",
        default: Some("[]"),
        env: &[],
        description: "Wheels installed natively, such as the project's; a pattern in the file name (`dist/*.whl`) takes every match.",
    },
    ToolKey {
        key: "image.entrypoint",
        kind: "array of strings",
        default: None,
        env: &[],
        description: "The container's entrypoint.",
    },
    ToolKey {
        key: "image.cmd",
        kind: "array of strings",
        default: None,
        env: &[],
        description: "The container's default arguments.",
    },
    ToolKey {
        key: "image.env",
        kind: "table of strings",
        default: Some("{}"),
        env: &[],
        description: "Environment variables set in the image.",
    },
    ToolKey {
        key: "image.workdir",
        kind: "string",
        default: None,
        env: &[],
        description: "The container's working directory.",
    },
    ToolKey {
        key: "image.user",
        kind: "string",
        default: None,
        env: &[],
        description: "The user the container runs as.",
    },
    ToolKey {
        key: "image.expose",
        kind: "array of strings",
        default: Some("[]"),
        env: &[],
        description: "Ports the container listens on (`8080`, `53/udp`).",
    },
    ToolKey {
        key: "image.labels",
        kind: "table of strings",
        default: Some("{}"),
        env: &[],
        description: "Labels of the image config.",
    },
    ToolKey {
        key: "image.platforms",
        kind: "array of strings",
        default: Some("[]"),
        env: &[],
        description: "Platforms to build (`linux/amd64`); several make an index. Empty: the base's, or this machine's.",
    },
    ToolKey {
        key: "image.compression",
        kind: "`gzip` \\| `zstd`",
        default: Some("\"gzip\""),
        env: &[],
        description: "How new layers are compressed.",
    },
    ToolKey {
        key: "image.owner",
        kind: "string",
        default: Some("\"0:0\""),
        env: &[],
        description: "`UID:GID` owning the files copied by `files`.",
    },
    ToolKey {
        key: "image.output",
        kind: "`oci:DIR[:TAG]`",
        default: Some("\"oci:dist/image:latest\""),
        env: &[],
        description: "Where the image is written; relative to the file that sets it.",
    },
    ToolKey {
        key: "image.index",
        kind: "table",
        default: None,
        env: &[],
        description: "The package index of the Python packages installed into images; without it, pip's own configuration (`PIP_INDEX_URL`, `pip.conf`).",
    },
    ToolKey {
        key: "image.index.url",
        kind: "URL",
        default: None,
        env: &[],
        description: "The simple index, `https://host/simple/`.",
    },
    ToolKey {
        key: "image.index.username",
        kind: "string",
        default: None,
        env: &[],
        description: "The user name at the index (not secret).",
    },
    ToolKey {
        key: "image.index.password",
        kind: REFERENCE,
        default: None,
        env: &[],
        description: "The password or token for `username`; it reaches pip only in its environment.",
    },
    ToolKey {
        key: "image.registries",
        kind: "table of tables, keyed by `host[:port]`",
        default: None,
        env: &[],
        description: "How to reach and log in to each registry, as image references name it.",
    },
    ToolKey {
        key: "image.registries.NAME.username",
        kind: "string",
        default: None,
        env: &[],
        description: "The user name at the registry `NAME` (`host[:port]`); wins over Docker's and podman's credential files.",
    },
    ToolKey {
        key: "image.registries.NAME.password",
        kind: REFERENCE,
        default: None,
        env: &[],
        description: "The password or token for `username`.",
    },
    ToolKey {
        key: "image.registries.NAME.ca-file",
        kind: "path",
        default: None,
        env: &[],
        description: "A PEM file of CA certificates trusted for this registry, in addition to the system roots.",
    },
    ToolKey {
        key: "image.registries.NAME.plain-http",
        kind: "boolean",
        default: Some("false"),
        env: &[],
        description: "Talk plain `http://` to this registry (loopback registries that answer plain HTTP are detected without it).",
    },
    ToolKey {
        key: "image.registries.NAME.chunk-size",
        kind: "integer (bytes)",
        default: None,
        env: &[],
        description: "Upload blobs larger than this in chunks of this size; without it, each blob is sent in one request.",
    },
    ToolKey {
        key: "deploy.chart",
        kind: "string",
        default: None,
        env: &[],
        description: "The chart: a local chart directory or `.tgz` (relative to this file's project), `oci://REGISTRY/REPO/NAME`, or a chart name in `repository`.",
    },
    ToolKey {
        key: "deploy.repository",
        kind: "URL",
        default: None,
        env: &[],
        description: "A classic chart repository (an `index.yaml` server) holding `chart`. No credentials in the URL: use `repository-username` and `repository-password`.",
    },
    ToolKey {
        key: "deploy.repository-username",
        kind: "string",
        default: None,
        env: &[],
        description: "The user name for `repository`, when it wants one.",
    },
    ToolKey {
        key: "deploy.repository-password",
        kind: "secret reference",
        default: None,
        env: &[],
        description: "The password for `repository` (`vault://...`, `env://...`): handed to Helm on stdin, never on its command line.",
    },
    ToolKey {
        key: "deploy.version",
        kind: "string",
        default: None,
        env: &[],
        description: "The chart version; required for a repository or `oci://` chart (a local chart's `Chart.yaml` version otherwise).",
    },
    ToolKey {
        key: "deploy.release",
        kind: "string",
        default: None,
        env: &[],
        description: "The Helm release name (default: the chart's name).",
    },
    ToolKey {
        key: "deploy.values",
        kind: "list of paths",
        default: Some("[]"),
        env: &[],
        description: "Application values files (YAML), merged in order as Helm merges `-f` files; part of the bundle.",
    },
    ToolKey {
        key: "deploy.set",
        kind: "table of dotted keys (`\"a.b\" = value`, `\\.` for a dot in a key)",
        default: Some("{}"),
        env: &[],
        description: "Inline application values, applied after `values`; part of the bundle.",
    },
    ToolKey {
        key: "deploy.images",
        kind: "table of tables, keyed by image name",
        default: Some("{}"),
        env: &[],
        description: "The images the chart runs; each must get a digest when a bundle is made (`--image NAME=REF`).",
    },
    ToolKey {
        key: "deploy.images.NAME.repository",
        kind: "string (`REGISTRY/REPOSITORY`)",
        default: None,
        env: &[],
        description: "Where the image `NAME` is pulled from (no tag, no digest); the repository of an image given as `oci:DIR[:TAG]`.",
    },
    ToolKey {
        key: "deploy.images.NAME.values-key",
        kind: "dotted key",
        default: Some("\"images.NAME\""),
        env: &[],
        description: "Where the image is written into the values: `KEY.repository`, `KEY.digest`, `KEY.tag` (when known) and `KEY.reference` (`REPO@sha256:...`).",
    },
    ToolKey {
        key: "deploy.timeout",
        kind: "duration (`90s`, `5m`)",
        default: Some("\"5m\""),
        env: &[],
        description: "Helm's `--timeout` for each upgrade and rollback.",
    },
    ToolKey {
        key: "deploy.environments",
        kind: "table of tables, keyed by environment name",
        default: Some("{}"),
        env: &[],
        description: "The environments a bundle goes through.",
    },
    ToolKey {
        key: "deploy.environments.NAME.from",
        kind: "environment name",
        default: None,
        env: &[],
        description: "The environment this one is promoted from (`deploy promote FROM NAME`); none for the first.",
    },
    ToolKey {
        key: "deploy.environments.NAME.kubeconfig",
        kind: "path",
        default: None,
        env: &["KUBECONFIG"],
        description: "A kubeconfig file (default: `KUBECONFIG`, then `~/.kube/config`, as kubectl reads them).",
    },
    ToolKey {
        key: "deploy.environments.NAME.context",
        kind: "string",
        default: None,
        env: &[],
        description: "A kubeconfig context (default: the current context).",
    },
    ToolKey {
        key: "deploy.environments.NAME.namespace",
        kind: "string",
        default: None,
        env: &[],
        description: "The namespace of the release, its ledger and its lease (default: the context's namespace, else `default`).",
    },
    ToolKey {
        key: "deploy.environments.NAME.values",
        kind: "list of paths",
        default: Some("[]"),
        env: &[],
        description: "The environment's own values files, after the bundle's values; not part of the bundle.",
    },
    ToolKey {
        key: "deploy.environments.NAME.set",
        kind: "table of dotted keys",
        default: Some("{}"),
        env: &[],
        description: "The environment's own inline values, after its `values`.",
    },
    ToolKey {
        key: "deploy.environments.NAME.secret-values",
        kind: "table of dotted keys to secret references",
        default: Some("{}"),
        env: &[],
        description: "Values from secrets, resolved at deploy time and handed to Helm last, in a private file; never recorded in a bundle or the ledger.",
    },
    ToolKey {
        key: "deploy.environments.NAME.secret-values.KEY",
        kind: REFERENCE,
        default: None,
        env: &[],
        description: "The secret written at the dotted values path `KEY` (`db.password`).",
    },
    ToolKey {
        key: "deploy.environments.NAME.release",
        kind: "string",
        default: None,
        env: &[],
        description: "The release name here, when it differs from `deploy.release`.",
    },
    ToolKey {
        key: "deploy.environments.NAME.timeout",
        kind: "duration (`90s`, `5m`)",
        default: None,
        env: &[],
        description: "Helm's `--timeout` here (default: `deploy.timeout`).",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates",
        kind: "table",
        default: Some("{}"),
        env: &[],
        description: "What must hold before (approval, soak, window) and after (rollout, verify) each upgrade.",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates.approval",
        kind: "`true`, `false` or `\"github-environment\"`",
        default: Some("false"),
        env: &[],
        description: "A person approves the bundle first: `true` asks for `deploy approve NAME BUNDLE`; `\"github-environment\"` also accepts, inside GitHub Actions, the job's environment protection rules (the run and its actors are recorded).",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates.soak",
        kind: "duration (`30m`, `2h`, `1d`, `1w`)",
        default: None,
        env: &[],
        description: "How long the bundle must have run in the `from` environment since it succeeded there (a bundle rolled back there never passes).",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates.window",
        kind: "`DAYS HH:MM-HH:MM [ZONE]`, or a list of them",
        default: Some("[]"),
        env: &[],
        description: "When deploys are allowed: any one window (`Mon-Fri 09:00-16:00 Europe/Paris`; days `Mon`..`Sun`, ranges, lists or `*`; an IANA zone, default UTC; an end before the start crosses midnight).",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates.rollout",
        kind: "boolean",
        default: Some("true"),
        env: &[],
        description: "Wait for every Deployment, StatefulSet and DaemonSet of the release to finish rolling out.",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates.verify",
        kind: "list of tables",
        default: Some("[]"),
        env: &[],
        description: "Checks after the upgrade, each with `http` or `command`; a failure rolls back.",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates.verify.http",
        kind: "URL",
        default: None,
        env: &[],
        description: "A URL that must answer `expect-status` (default: any 2xx), retried until `timeout`; shown without user info or query.",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates.verify.command",
        kind: "list of strings (argv, no shell)",
        default: None,
        env: &[],
        description: "A command that must exit 0, run in the project directory; its output is redacted and its last lines reported when it fails.",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates.verify.env",
        kind: "table of environment variable names to secret references",
        default: Some("{}"),
        env: &[],
        description: "Secrets the command gets in its environment.",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates.verify.env.NAME",
        kind: REFERENCE,
        default: None,
        env: &[],
        description: "The secret the command sees as the variable `NAME`.",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates.verify.expect-status",
        kind: "integer",
        default: None,
        env: &[],
        description: "The HTTP status the check expects (default: any 2xx).",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates.verify.timeout",
        kind: "duration (`30s`, `2m`)",
        default: Some("\"60s\""),
        env: &[],
        description: "How long the check keeps trying (HTTP) or may run (command).",
    },
    ToolKey {
        key: "deploy.environments.NAME.gates.verify.name",
        kind: "string",
        default: None,
        env: &[],
        description: "The check's name in reports (default: the URL or the command).",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy",
        kind: "table",
        default: Some("{}"),
        env: &[],
        description: "How the new version replaces the old.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.kind",
        kind: "`rolling`, `recreate`, `blue-green`, `canary`, `ab` or `shadow`",
        default: Some("\"rolling\""),
        env: &[],
        description: "The deployment strategy (see \"Strategies\" in docs/deploy.md).",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.steps",
        kind: "list of percentages",
        default: Some("[]"),
        env: &[],
        description: "Canary: the shares of traffic to pass through, in order.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.pause",
        kind: "duration",
        default: None,
        env: &[],
        description: "Canary and blue/green: how long to wait (and verify) at each step.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.values-key",
        kind: "dotted key",
        default: None,
        env: &[],
        description: "Canary: the values key of the canary release's replica count (default `replicaCount`).",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.service",
        kind: "string",
        default: None,
        env: &[],
        description: "Blue/green and canary: the Service Windlass owns and points at the live pods (default: the release name for blue/green, `RELEASE-traffic` for canary).",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.service-port",
        kind: "port number",
        default: Some("80"),
        env: &[],
        description: "Blue/green and canary: the port of that Service.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.target-port",
        kind: "port number or name",
        default: Some("\"http\""),
        env: &[],
        description: "Blue/green and canary: the pods' port the Service sends to.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.selector-label",
        kind: "label key",
        default: None,
        env: &[],
        description: "Blue/green and canary: the pod label the Service selects on (default `app.kubernetes.io/instance` for blue/green, `app.kubernetes.io/name` for canary).",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.scale-down-old",
        kind: "bool",
        default: Some("false"),
        env: &[],
        description: "Blue/green: scale the old colour to zero once the new one is live and verified.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.provider",
        kind: "`auto`, `flagger` or `argo-rollouts`",
        default: Some("\"auto\""),
        env: &[],
        description: "A/B and shadow: the controller the promotion is handed to; `auto` takes whichever the cluster has (both: refused, choose one).",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.match",
        kind: "list of tables",
        default: Some("[]"),
        env: &[],
        description: "A/B: the requests the new version gets (any one matching).",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.match.header",
        kind: "string",
        default: None,
        env: &[],
        description: "A/B: a request header's name.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.match.cookie",
        kind: "string",
        default: None,
        env: &[],
        description: "A/B: a cookie's name (matched in the `cookie` header).",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.match.exact",
        kind: "string",
        default: None,
        env: &[],
        description: "A/B: the header's or cookie's value, exactly.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.match.regex",
        kind: "regular expression",
        default: None,
        env: &[],
        description: "A/B: the header's value, as a regular expression.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.iterations",
        kind: "integer",
        default: Some("10"),
        env: &[],
        description: "A/B and shadow: how many analysis rounds the controller runs.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.interval",
        kind: "duration",
        default: Some("\"1m\""),
        env: &[],
        description: "A/B and shadow: how long each analysis round lasts.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.threshold",
        kind: "integer",
        default: Some("1"),
        env: &[],
        description: "A/B and shadow, Flagger: how many failed checks abort the analysis.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.mirror-percent",
        kind: "percentage",
        default: None,
        env: &[],
        description: "Shadow: the share of requests copied to the new version (default: all).",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.target",
        kind: "string",
        default: None,
        env: &[],
        description: "A/B and shadow: the chart's Deployment the controller takes over (default: the release name).",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.traffic-routing",
        kind: "table",
        default: None,
        env: &[],
        description: "A/B and shadow, Argo Rollouts (required there): the router it drives.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.traffic-routing.nginx",
        kind: "string",
        default: None,
        env: &[],
        description: "Argo Rollouts: the stable Ingress of the NGINX ingress controller.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.traffic-routing.istio",
        kind: "string",
        default: None,
        env: &[],
        description: "Argo Rollouts: the Istio VirtualService.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.traffic-routing.stable-service",
        kind: "string",
        default: None,
        env: &[],
        description: "Argo Rollouts: the chart's Service for the stable pods (default `TARGET-stable`).",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.traffic-routing.canary-service",
        kind: "string",
        default: None,
        env: &[],
        description: "Argo Rollouts: the chart's Service for the new pods (default `TARGET-canary`).",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.analysis-template",
        kind: "string",
        default: None,
        env: &[],
        description: "A/B and shadow, Argo Rollouts: an AnalysisTemplate run after the pause.",
    },
    ToolKey {
        key: "deploy.environments.NAME.strategy.verify",
        kind: "bool",
        default: Some("false"),
        env: &[],
        description: "A/B and shadow: also run `gates.verify` once the controller promoted the new version.",
    },
    ToolKey {
        key: "check.jobs",
        kind: "integer",
        default: None,
        env: &[],
        description: "How many checks run at once (default: the number of cores; `--jobs` wins).",
    },
    ToolKey {
        key: "check.index-url",
        kind: "URL",
        default: None,
        env: &["PIP_INDEX_URL"],
        description: "The package index the Python tools (ruff, mypy, pytest) are installed from; credentials in it are never printed.",
    },
    ToolKey {
        key: "check.installer",
        kind: "`auto`, `uv` or `pip`",
        default: Some("\"auto\""),
        env: &[],
        description: "What installs the Python tools and the project's environment: `auto` takes uv when it finds one (`WINDLASS_UV`, else `uv` on `PATH`; 0.8 or later), else pip; `uv` without a usable uv is an error.",
    },
    ToolKey {
        key: "check.only",
        kind: "list of check names",
        default: Some("[]"),
        env: &[],
        description: "Run only these checks (`--only` wins).",
    },
    ToolKey {
        key: "check.skip",
        kind: "list of check names",
        default: Some("[]"),
        env: &[],
        description: "Never run these checks (added to `--skip`).",
    },
    ToolKey {
        key: "check.tools",
        kind: "table of versions, keyed by tool name",
        default: Some("{}"),
        env: &[],
        description: "Tool versions instead of the pinned ones (`ruff = \"0.17.6\"`).",
    },
    ToolKey {
        key: "check.tools.NAME",
        kind: "string (a version)",
        default: None,
        env: &[],
        description: "The version of the tool `NAME` (`ruff`, `mypy`, `pytest`) to install.",
    },
    ToolKey {
        key: "check.NAME",
        kind: "table",
        default: None,
        env: &[],
        description: "A built-in check changed (`ruff`, `ruff-format`, `mypy`, `pytest`, `cargo-fmt`, `clippy`, `cargo-test`, `shellcheck`, `helm-lint`, `containerfile`), or a check of the project's (then `command` is required).",
    },
    ToolKey {
        key: "check.NAME.command",
        kind: "list of strings (argv, no shell)",
        default: None,
        env: &[],
        description: "The command; for a built-in check it replaces the tool's command line (its results are then read as `format` says).",
    },
    ToolKey {
        key: "check.NAME.files",
        kind: "list of globs",
        default: None,
        env: &[],
        description: "The files the check concerns, relative to the project (`.gitignore` honoured): its cache inputs, and its arguments with `pass-files`.",
    },
    ToolKey {
        key: "check.NAME.pass-files",
        kind: "boolean",
        default: Some("false"),
        env: &[],
        description: "Append the matched files to the command (only the changed ones with `--changed`).",
    },
    ToolKey {
        key: "check.NAME.env",
        kind: "table of strings",
        default: Some("{}"),
        env: &[],
        description: "Environment variables of the command.",
    },
    ToolKey {
        key: "check.NAME.env.NAME",
        kind: "string, or a secret reference",
        default: None,
        env: &[],
        description: "A value, or a secret reference (`vault://`, `env://`, ...) resolved just before the command runs, given to it only in its environment and masked in everything printed.",
    },
    ToolKey {
        key: "check.NAME.enabled",
        kind: "boolean",
        default: Some("true"),
        env: &[],
        description: "`false` turns the check off.",
    },
    ToolKey {
        key: "check.NAME.format",
        kind: "`text` \\| `junit`",
        default: Some("\"text\""),
        env: &[],
        description: "How its results are read: `text`, the exit code (the output is shown on failure); `junit`, JUnit XML the command writes to the path that `{junit}` in its arguments and `WINDLASS_CHECK_JUNIT` name.",
    },
    ToolKey {
        key: "release.wheels",
        kind: "list of paths",
        default: Some("[\".\"]"),
        env: &[],
        description: "The Python projects whose wheels and sdists the release builds and publishes, relative to the file (default: the project itself when it has `pyproject.toml`).",
    },
    ToolKey {
        key: "release.repository",
        kind: "string",
        default: None,
        env: &[],
        description: "Where the wheels go: a name of `[wheel.repositories]` or an upload URL (default: `[wheel] repository` of each project). `--local` replaces it by a static index directory.",
    },
    ToolKey {
        key: "release.environment",
        kind: "string",
        default: None,
        env: &[],
        description: "The environment the bundle is deployed to first (default: the `[deploy]` environment with no `from`); `\"none\"` deploys nothing.",
    },
    ToolKey {
        key: "release.local-dir",
        kind: "path",
        default: Some("\"dist/release/local\""),
        env: &[],
        description: "Where `release run --local` writes the static index (`index/simple/`), the OCI layouts (`images/NAME`) and the GitOps tree (`gitops/ENV/`); relative to the file that sets it.",
    },
    ToolKey {
        key: "release.images",
        kind: "table",
        default: None,
        env: &[],
        description: "The images the release builds, one `[release.images.NAME]` per key of `[deploy.images]`, pushed to that image's `repository`.",
    },
    ToolKey {
        key: "release.images.NAME.containerfile",
        kind: "path",
        default: Some("\"Containerfile\""),
        env: &[],
        description: "The Containerfile the image is built from, relative to the file.",
    },
    ToolKey {
        key: "release.images.NAME.context",
        kind: "path",
        default: Some("\".\""),
        env: &[],
        description: "The build context, relative to the file.",
    },
    ToolKey {
        key: "release.images.NAME.tags",
        kind: "list of strings",
        default: Some("[\"{version}\"]"),
        env: &[],
        description: "The tags pushed; `{version}` is the release's version.",
    },
];

/// Renders every key of the tool-owned sections as the Markdown table in
/// `docs/configuration.md`.
pub fn tool_keys_markdown() -> String {
    let mut out =
        String::from("| Key | Type | Default | Environment | Credential | Description |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for key in TOOL_KEYS {
        let env = if key.env.is_empty() {
            "—".to_owned()
        } else {
            key.env
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {env} | {} | {} |",
            key.key,
            key.kind,
            key.default
                .map_or_else(|| "unset".to_owned(), |d| format!("`{d}`")),
            if key.credential() { "yes" } else { "no" },
            key.description
        );
    }
    out
}

/// The registry row of a config key, `http.timeout`.
pub fn setting(key: &str) -> Option<&'static EnvVar> {
    ENV_VARS.iter().find(|var| var.key == Some(key))
}

/// The registry row of an environment variable name.
pub fn env_var(name: &str) -> Option<&'static EnvVar> {
    ENV_VARS.iter().find(|var| var.name == name)
}

/// Every config key in registry order.
pub fn keys() -> impl Iterator<Item = &'static str> {
    ENV_VARS.iter().filter_map(|var| var.key)
}

/// Renders the registry as the Markdown table in `docs/environment.md`.
pub fn env_vars_markdown() -> String {
    let mut out = String::from("| Variable | Config key | Type | Description |\n");
    out.push_str("| --- | --- | --- | --- |\n");
    for var in ENV_VARS {
        let key = var.key.map_or_else(|| "—".to_owned(), |k| format!("`{k}`"));
        let _ = writeln!(
            out,
            "| `{}` | {key} | {} | {} |",
            var.name,
            var.kind.doc_type(),
            var.description
        );
    }
    out
}

/// Renders every config key as the Markdown table in `docs/configuration.md`.
pub fn config_keys_markdown() -> String {
    let defaults = toml::Value::try_from(crate::Settings::default()).ok();
    let default_of = |key: &str| {
        let value = key
            .split('.')
            .try_fold(defaults.as_ref()?, |value, part| value.get(part))?;
        Some(format!("`{value}`"))
    };
    let mut out = String::from("| Key | Type | Default | Environment variable | Description |\n");
    out.push_str("| --- | --- | --- | --- | --- |\n");
    for var in ENV_VARS {
        if let Some(key) = var.key {
            let _ = writeln!(
                out,
                "| `{key}` | {} | {} | `{}` | {} |",
                var.kind.doc_type(),
                default_of(key).unwrap_or_else(|| "unset".to_owned()),
                var.name,
                var.description
            );
        }
    }
    out
}

/// `"a", "b" or "c"` style list used in messages.
pub(crate) fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("\"{item}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
