//! The env file written by `scripts/services.sh` and typed views of it.

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use windlass_redact::Secret;

/// The environment variable naming the services env file.
pub const ENV_FILE_VAR: &str = "WINDLASS_SERVICES_ENV";

/// What to run when a service is missing, printed by every panic here.
pub const START_HINT: &str = "scripts/services.sh install && scripts/services.sh start";

/// The test services of one run, read from `services.env`.
///
/// Every accessor checks that its service answers on its TCP port and panics
/// with the command that starts it when it does not.
#[derive(Clone)]
pub struct Services {
    path: PathBuf,
    vars: BTreeMap<String, String>,
}

/// Names the keys, never the values: the file holds fixture credentials.
impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("path", &self.path)
            .field("keys", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A KV fixture secret: `mount`/`path` holds `key` = `value`.
#[derive(Debug, Clone)]
pub struct KvFixture {
    pub mount: String,
    pub path: String,
    pub key: String,
    pub value: Secret<String>,
}

impl KvFixture {
    /// The secret reference that reads it: `vault://MOUNT/PATH#KEY`.
    pub fn reference(&self) -> String {
        format!("vault://{}/{}#{}", self.mount, self.path, self.key)
    }
}

/// The AppRole auth method and its `release` role.
#[derive(Debug, Clone)]
pub struct AppRole {
    pub mount: String,
    pub role: String,
    pub role_id: String,
    /// A file holding a reusable secret ID (mode 600).
    pub secret_id_file: PathBuf,
}

impl AppRole {
    /// The `[vault]` section of a `windlass.toml` that logs in with this
    /// role: the role ID from `$ROLE_ID`, the secret ID from its file.
    pub fn vault_toml(&self) -> String {
        format!(
            "[vault]\nauth = \"approle\"\n\n[vault.approle]\nmount = \"{}\"\nrole-id = \"env://ROLE_ID\"\nsecret-id = \"file://{}\"\n",
            self.mount,
            self.secret_id_file.display()
        )
    }

    /// The secret ID read from [`AppRole::secret_id_file`].
    pub fn secret_id(&self) -> Secret<String> {
        let text = fs::read_to_string(&self.secret_id_file).unwrap_or_else(|err| {
            panic!(
                "windlass-testkit: cannot read the AppRole secret ID file {}: {err}\n\nhint: {START_HINT}",
                self.secret_id_file.display()
            )
        });
        Secret::new(text.trim().to_owned())
    }
}

/// The OpenBao dev server and its seeded fixtures.
#[derive(Debug, Clone)]
pub struct Bao {
    /// `http://127.0.0.1:PORT`
    pub addr: String,
    pub root_token: Secret<String>,
    /// A token with the `ci-read` policy.
    pub read_token: Secret<String>,
    /// A token with the deny-ish `ci-deny` policy.
    pub deny_token: Secret<String>,
    pub read_policy: String,
    pub deny_policy: String,
    /// KV v2 at `secret/`.
    pub kv2: KvFixture,
    /// KV v1 at `kv1/`.
    pub kv1: KvFixture,
    /// The namespace holding its own KV v2 `secret/` mount.
    pub namespace: String,
    /// The same path as [`Bao::kv2`] inside [`Bao::namespace`], another value.
    pub namespace_kv2: KvFixture,
    pub approle: AppRole,
    pub jwt_mount: String,
    /// A role bound to the [`Oidc`] issuer's default claims and audience.
    pub jwt_role: String,
    /// The `bao` CLI.
    pub bin: PathBuf,
}

/// The local GitHub-Actions-like OIDC issuer.
#[derive(Debug, Clone)]
pub struct Oidc {
    /// The `iss` of its tokens and the base of its discovery document.
    pub issuer: String,
    /// Like `ACTIONS_ID_TOKEN_REQUEST_URL` (already carries a query).
    pub request_url: String,
    /// Like `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub request_token: Secret<String>,
    /// The audience OpenBao's `gha-release` role accepts.
    pub audience: String,
    pub repository: String,
    pub git_ref: String,
    pub environment: String,
}

/// Claims for a token minted by the local issuer; `None` keeps its default.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub audience: Option<String>,
    pub repository: Option<String>,
    pub git_ref: Option<String>,
    pub environment: Option<String>,
    pub sub: Option<String>,
    pub iss: Option<String>,
    /// Seconds from now to `exp` (default 300; negative = already expired).
    pub exp_offset: Option<i64>,
    /// Seconds from now to `nbf` (default -5).
    pub nbf_offset: Option<i64>,
}

impl Oidc {
    /// The URL that mints a token shaped by `request` (GET it with
    /// `Authorization: bearer REQUEST_TOKEN`; the answer is `{"value": JWT}`).
    pub fn token_url(&self, request: &TokenRequest) -> String {
        let mut url = self.request_url.clone();
        let mut add = |name: &str, value: &str| {
            url.push('&');
            url.push_str(name);
            url.push('=');
            url.extend(utf8_percent_encode(value, NON_ALPHANUMERIC));
        };
        add(
            "audience",
            request.audience.as_deref().unwrap_or(&self.audience),
        );
        let claims = [
            ("repository", &request.repository),
            ("ref", &request.git_ref),
            ("environment", &request.environment),
            ("sub", &request.sub),
            ("iss", &request.iss),
        ];
        for (name, value) in claims {
            if let Some(value) = value {
                add(name, value);
            }
        }
        for (name, value) in [
            ("exp_offset", request.exp_offset),
            ("nbf_offset", request.nbf_offset),
        ] {
            if let Some(value) = value {
                add(name, &value.to_string());
            }
        }
        url
    }
}

/// One pypiserver instance; `user`/`password` are set when uploads need auth.
#[derive(Debug, Clone)]
pub struct PypiServer {
    /// `http://127.0.0.1:PORT` (uploads go to `URL/`).
    pub url: String,
    pub auth: Option<(String, Secret<String>)>,
}

impl PypiServer {
    /// The upload endpoint (legacy PyPI upload API).
    pub fn upload_url(&self) -> String {
        format!("{}/", self.url)
    }

    /// The PEP 503 simple index.
    pub fn simple_url(&self) -> String {
        format!("{}/simple/", self.url)
    }
}

/// devpi-server with a user and a non-volatile index.
#[derive(Debug, Clone)]
pub struct Devpi {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub user: String,
    pub password: Secret<String>,
    /// `USER/dev`
    pub index: String,
    /// The `devpi` client.
    pub bin: PathBuf,
}

impl Devpi {
    /// Where uploads to the index go.
    pub fn upload_url(&self) -> String {
        format!("{}/{}/", self.url, self.index)
    }

    /// The index's simple API.
    pub fn simple_url(&self) -> String {
        format!("{}/{}/+simple/", self.url, self.index)
    }
}

/// The three distribution registries (`host:port`, no scheme).
#[derive(Debug, Clone)]
pub struct Registries {
    /// Plain HTTP, no auth.
    pub open: String,
    /// Plain HTTP, basic auth.
    pub auth: String,
    /// HTTPS with a self-signed certificate, basic auth.
    pub tls: String,
    pub user: String,
    pub password: Secret<String>,
    /// The PEM certificate (self-signed, `IP:127.0.0.1`) that TLS clients trust.
    pub ca_file: PathBuf,
    /// A directory holding `ca.crt`, as `skopeo --cert-dir` wants.
    pub cert_dir: PathBuf,
}

/// The Python base image that `scripts/services.sh install` builds from
/// Debian packages (python3, pip, `python` -> `python3`) and `start` pushes
/// to the open registry.
#[derive(Debug, Clone)]
pub struct PythonBase {
    /// The OCI layout directory holding the image (`oci:LAYOUT:TAG`).
    pub layout: PathBuf,
    /// Its tag in the layout and in the registry (`3.11-bookworm`).
    pub tag: String,
    /// `HOST:PORT/python:TAG` in the open registry.
    pub registry_ref: String,
}

/// Client tools installed by `scripts/services.sh install`.
#[derive(Debug, Clone)]
pub struct Tools {
    /// Python of the peers venv (twine, uv, build, hatchling, ...).
    pub python: PathBuf,
    pub twine: PathBuf,
    pub uv: PathBuf,
    pub skopeo: PathBuf,
    pub umoci: PathBuf,
    pub podman: PathBuf,
    /// A static busybox to build tiny rootfs images from.
    pub busybox: PathBuf,
    /// For `CONTAINERS_CONF` (runc, cgroupfs, no ulimits).
    pub containers_conf: PathBuf,
    /// For `CONTAINERS_STORAGE_CONF` (storage under the state dir).
    pub containers_storage_conf: PathBuf,
    pub helm: PathBuf,
    pub kubectl: PathBuf,
}

/// The test Kubernetes cluster: kube-apiserver, controller-manager and
/// scheduler v1.20.2 on loopback, with a fake kubelet whose one node makes
/// every pod Running and Ready (except images containing `broken`, which
/// never become ready). See [`Kube::fresh_namespace`] and [`Kube::kubectl`].
///
/// Never ask the API server for pretty-printed JSON (`?pretty=true`, or a
/// `curl/*` user agent) or YAML: its vendored JSON encoder crashes it.
#[derive(Debug, Clone)]
pub struct Kube {
    /// A kubeconfig (mode 600) whose context [`Kube::context`] reaches the
    /// cluster as an admin, verifying the server's certificate.
    pub kubeconfig: PathBuf,
    /// The context's name (also the current context); its namespace is
    /// `default`.
    pub context: String,
    /// `https://127.0.0.1:PORT`
    pub server: String,
    /// The CA certificate the server's certificate is signed with.
    pub ca_file: PathBuf,
    /// The admin's bearer token (in the kubeconfig): must never appear in
    /// Windlass output.
    pub token: Secret<String>,
    /// A client certificate the server accepts as an admin's, and its key
    /// (mode 600; not in the kubeconfig).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub helm: PathBuf,
    pub kubectl: PathBuf,
}

impl Services {
    /// Reads the env file named by `WINDLASS_SERVICES_ENV`, or the default
    /// `$WINDLASS_STATE_DIR/run/services.env`.
    ///
    /// # Panics
    ///
    /// When the file is missing or unreadable, with the command to run.
    pub fn load() -> Self {
        let path = default_env_path();
        let text = fs::read_to_string(&path).unwrap_or_else(|err| {
            panic!(
                "windlass-testkit: cannot read the test services env file {}: {err}\n\
                 these tests need the real services (OpenBao, pypiserver, devpi, registries)\n\n\
                 hint: run `{START_HINT}` from the repository root (or set {ENV_FILE_VAR})",
                path.display()
            )
        });
        Self::parse(path, &text)
    }

    /// Parses `KEY=VALUE` lines (blank lines and `#` comments ignored).
    pub fn parse(path: PathBuf, text: &str) -> Self {
        let vars = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.trim().to_owned(), value.to_owned()))
            .collect();
        Self { path, vars }
    }

    /// The env file these values came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A raw value.
    ///
    /// # Panics
    ///
    /// When the key is absent (the env file is from an older or failed start).
    pub fn var(&self, key: &str) -> &str {
        self.vars.get(key).map_or_else(
            || {
                panic!(
                    "windlass-testkit: {key} is missing from {}; the services were not \
                     (fully) started\n\nhint: run `{START_HINT}`",
                    self.path.display()
                )
            },
            String::as_str,
        )
    }

    fn secret(&self, key: &str) -> Secret<String> {
        Secret::new(self.var(key).to_owned())
    }

    fn kv(&self, prefix: &str, value_key: &str) -> KvFixture {
        KvFixture {
            mount: self.var(&format!("{prefix}_MOUNT")).to_owned(),
            path: self.var(&format!("{prefix}_PATH")).to_owned(),
            key: self.var(&format!("{prefix}_KEY")).to_owned(),
            value: self.secret(value_key),
        }
    }

    /// The OpenBao dev server (requires it and the OIDC issuer to be up).
    pub fn bao(&self) -> Bao {
        let addr = self.var("WINDLASS_TEST_BAO_ADDR").to_owned();
        self.require_up("OpenBao", &addr);
        let kv2 = self.kv("WINDLASS_TEST_BAO_KV2", "WINDLASS_TEST_BAO_KV2_VALUE");
        let namespace_kv2 = KvFixture {
            value: self.secret("WINDLASS_TEST_BAO_NAMESPACE_KV2_VALUE"),
            ..kv2.clone()
        };
        Bao {
            addr,
            root_token: self.secret("WINDLASS_TEST_BAO_TOKEN"),
            read_token: self.secret("WINDLASS_TEST_BAO_READ_TOKEN"),
            deny_token: self.secret("WINDLASS_TEST_BAO_DENY_TOKEN"),
            read_policy: self.var("WINDLASS_TEST_BAO_READ_POLICY").to_owned(),
            deny_policy: self.var("WINDLASS_TEST_BAO_DENY_POLICY").to_owned(),
            kv2,
            kv1: self.kv("WINDLASS_TEST_BAO_KV1", "WINDLASS_TEST_BAO_KV1_VALUE"),
            namespace: self.var("WINDLASS_TEST_BAO_NAMESPACE").to_owned(),
            namespace_kv2,
            approle: AppRole {
                mount: self.var("WINDLASS_TEST_APPROLE_MOUNT").to_owned(),
                role: self.var("WINDLASS_TEST_APPROLE_ROLE").to_owned(),
                role_id: self.var("WINDLASS_TEST_APPROLE_ROLE_ID").to_owned(),
                secret_id_file: self.var("WINDLASS_TEST_APPROLE_SECRET_ID_FILE").into(),
            },
            jwt_mount: self.var("WINDLASS_TEST_JWT_MOUNT").to_owned(),
            jwt_role: self.var("WINDLASS_TEST_JWT_ROLE").to_owned(),
            bin: self.tool("WINDLASS_TEST_BAO_BIN"),
        }
    }

    /// The local OIDC issuer.
    pub fn oidc(&self) -> Oidc {
        let issuer = self.var("WINDLASS_TEST_OIDC_ISSUER").to_owned();
        self.require_up("the OIDC issuer", &issuer);
        Oidc {
            issuer,
            request_url: self.var("WINDLASS_TEST_OIDC_REQUEST_URL").to_owned(),
            request_token: self.secret("WINDLASS_TEST_OIDC_REQUEST_TOKEN"),
            audience: self.var("WINDLASS_TEST_OIDC_AUDIENCE").to_owned(),
            repository: self.var("WINDLASS_TEST_OIDC_REPOSITORY").to_owned(),
            git_ref: self.var("WINDLASS_TEST_OIDC_REF").to_owned(),
            environment: self.var("WINDLASS_TEST_OIDC_ENVIRONMENT").to_owned(),
        }
    }

    /// pypiserver without auth.
    pub fn pypiserver(&self) -> PypiServer {
        let url = self.var("WINDLASS_TEST_PYPISERVER_URL").to_owned();
        self.require_up("pypiserver", &url);
        PypiServer { url, auth: None }
    }

    /// pypiserver requiring basic auth for uploads.
    pub fn pypiserver_auth(&self) -> PypiServer {
        let url = self.var("WINDLASS_TEST_PYPISERVER_AUTH_URL").to_owned();
        self.require_up("pypiserver (auth)", &url);
        let user = self.var("WINDLASS_TEST_PYPISERVER_AUTH_USER").to_owned();
        PypiServer {
            url,
            auth: Some((user, self.secret("WINDLASS_TEST_PYPISERVER_AUTH_PASSWORD"))),
        }
    }

    /// devpi-server.
    pub fn devpi(&self) -> Devpi {
        let url = self.var("WINDLASS_TEST_DEVPI_URL").to_owned();
        self.require_up("devpi-server", &url);
        Devpi {
            url,
            user: self.var("WINDLASS_TEST_DEVPI_USER").to_owned(),
            password: self.secret("WINDLASS_TEST_DEVPI_PASSWORD"),
            index: self.var("WINDLASS_TEST_DEVPI_INDEX").to_owned(),
            bin: self.tool("WINDLASS_TEST_DEVPI_BIN"),
        }
    }

    /// The three registries (all must be up).
    pub fn registries(&self) -> Registries {
        let open = self.var("WINDLASS_TEST_REGISTRY_OPEN").to_owned();
        let auth = self.var("WINDLASS_TEST_REGISTRY_AUTH").to_owned();
        let tls = self.var("WINDLASS_TEST_REGISTRY_TLS").to_owned();
        self.require_up("the open registry", &open);
        self.require_up("the auth registry", &auth);
        self.require_up("the TLS registry", &tls);
        Registries {
            open,
            auth,
            tls,
            user: self.var("WINDLASS_TEST_REGISTRY_USER").to_owned(),
            password: self.secret("WINDLASS_TEST_REGISTRY_PASSWORD"),
            ca_file: self.existing("WINDLASS_TEST_REGISTRY_CA_FILE"),
            cert_dir: self.existing("WINDLASS_TEST_REGISTRY_CERT_DIR"),
        }
    }

    /// The Python base image (its layout must exist; `registry_ref` is only
    /// checked by the tests that pull it).
    pub fn python_base(&self) -> PythonBase {
        PythonBase {
            layout: self.existing("WINDLASS_TEST_PYTHON_BASE_LAYOUT"),
            tag: self.var("WINDLASS_TEST_PYTHON_BASE_TAG").to_owned(),
            registry_ref: self.var("WINDLASS_TEST_PYTHON_BASE_REF").to_owned(),
        }
    }

    /// The client tools (all must exist).
    pub fn tools(&self) -> Tools {
        Tools {
            python: self.tool("WINDLASS_TEST_PYTHON"),
            twine: self.tool("WINDLASS_TEST_TWINE"),
            uv: self.tool("WINDLASS_TEST_UV"),
            skopeo: self.tool("WINDLASS_TEST_SKOPEO"),
            umoci: self.tool("WINDLASS_TEST_UMOCI"),
            podman: self.tool("WINDLASS_TEST_PODMAN"),
            busybox: self.tool("WINDLASS_TEST_BUSYBOX"),
            containers_conf: self.existing("WINDLASS_TEST_CONTAINERS_CONF"),
            containers_storage_conf: self.existing("WINDLASS_TEST_CONTAINERS_STORAGE_CONF"),
            helm: self.tool("WINDLASS_TEST_HELM"),
            kubectl: self.tool("WINDLASS_TEST_KUBECTL"),
        }
    }

    /// The test Kubernetes cluster (its API server must answer).
    pub fn kube(&self) -> Kube {
        let server = self.var("WINDLASS_TEST_KUBE_SERVER").to_owned();
        self.require_up("the Kubernetes API server", &server);
        Kube {
            kubeconfig: self.existing("WINDLASS_TEST_KUBECONFIG"),
            context: self.var("WINDLASS_TEST_KUBE_CONTEXT").to_owned(),
            server,
            ca_file: self.existing("WINDLASS_TEST_KUBE_CA_FILE"),
            token: self.secret("WINDLASS_TEST_KUBE_TOKEN"),
            client_cert: self.existing("WINDLASS_TEST_KUBE_CLIENT_CERT"),
            client_key: self.existing("WINDLASS_TEST_KUBE_CLIENT_KEY"),
            helm: self.tool("WINDLASS_TEST_HELM"),
            kubectl: self.tool("WINDLASS_TEST_KUBECTL"),
        }
    }

    fn tool(&self, key: &str) -> PathBuf {
        self.existing(key)
    }

    fn existing(&self, key: &str) -> PathBuf {
        let path = PathBuf::from(self.var(key));
        assert!(
            path.exists(),
            "windlass-testkit: {key}={} does not exist (from {})\n\nhint: run `{START_HINT}`",
            path.display(),
            self.path.display()
        );
        path
    }

    /// Panics unless something accepts TCP connections at `address`
    /// (`host:port` or a URL).
    fn require_up(&self, what: &str, address: &str) {
        let authority = host_port(address);
        let addrs: Vec<SocketAddr> = authority
            .to_socket_addrs()
            .map(Iterator::collect)
            .unwrap_or_default();
        let up = addrs
            .iter()
            .any(|addr| TcpStream::connect_timeout(addr, Duration::from_secs(2)).is_ok());
        assert!(
            up,
            "windlass-testkit: {what} is not running at {authority} (from {})\n\
             tests that need it fail rather than skip\n\nhint: run `{START_HINT}`, \
             then `scripts/services.sh status`",
            self.path.display()
        );
    }
}

/// `host:port` from `scheme://host:port/path` or `host:port`.
fn host_port(address: &str) -> &str {
    let rest = address.split_once("://").map_or(address, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

fn default_env_path() -> PathBuf {
    if let Some(path) = env::var_os(ENV_FILE_VAR).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    state_dir().join("run").join("services.env")
}

/// The state directory of `scripts/services.sh` (`WINDLASS_STATE_DIR`,
/// else `$XDG_CACHE_HOME/windlass-dev`, else `~/.cache/windlass-dev`):
/// outside the checkout, so what is kept there survives a clean one.
pub fn state_dir() -> PathBuf {
    env::var_os("WINDLASS_STATE_DIR")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env::var_os("XDG_CACHE_HOME")
                .filter(|p| !p.is_empty())
                .map(|p| PathBuf::from(p).join("windlass-dev"))
        })
        .or_else(|| {
            env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("windlass-dev"))
        })
        .unwrap_or_else(|| {
            panic!(
                "windlass-testkit: neither {ENV_FILE_VAR}, WINDLASS_STATE_DIR, XDG_CACHE_HOME \
                 nor HOME is set\n\nhint: run `{START_HINT}` and set {ENV_FILE_VAR}"
            )
        })
}

/// A cache directory the tests keep between runs and checkouts (slow
/// installs: tool environments, package downloads), `NAME` under
/// [`state_dir`]`/test-cache`, created.
pub fn test_cache(name: &str) -> PathBuf {
    let dir = state_dir().join("test-cache").join(name);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("windlass-testkit: cannot create {}: {e}", dir.display()));
    dir
}

#[cfg(test)]
mod tests {
    use super::{Oidc, Secret, Services, TokenRequest, host_port};
    use std::path::PathBuf;

    #[test]
    fn host_port_from_urls() {
        assert_eq!(host_port("http://127.0.0.1:8200"), "127.0.0.1:8200");
        assert_eq!(
            host_port("http://127.0.0.1:8210/token?x=1"),
            "127.0.0.1:8210"
        );
        assert_eq!(host_port("127.0.0.1:5000"), "127.0.0.1:5000");
    }

    #[test]
    fn debug_shows_no_values() {
        let services = Services::parse(PathBuf::from("x.env"), "A_PASSWORD=hunter2-canary\n");
        let debug = format!("{services:?}");
        assert!(
            debug.contains("A_PASSWORD") && !debug.contains("hunter2"),
            "{debug}"
        );
    }

    #[test]
    fn parses_env_lines() {
        let services = Services::parse(PathBuf::from("x.env"), "# c\n\nA=1\nB=x=y\n");
        assert_eq!(services.var("A"), "1");
        assert_eq!(services.var("B"), "x=y");
    }

    #[test]
    #[should_panic(expected = "scripts/services.sh start")]
    fn missing_key_names_the_fix() {
        let services = Services::parse(PathBuf::from("x.env"), "");
        let _ = services.var("WINDLASS_TEST_BAO_ADDR");
    }

    #[test]
    #[should_panic(expected = "is not running at 127.0.0.1:9")]
    fn down_service_panics_with_the_fix() {
        let services = Services::parse(
            PathBuf::from("x.env"),
            "WINDLASS_TEST_PYPISERVER_URL=http://127.0.0.1:9",
        );
        let _ = services.pypiserver();
    }

    #[test]
    #[should_panic(expected = "the Kubernetes API server is not running at 127.0.0.1:9")]
    fn down_cluster_panics_with_the_fix() {
        let services = Services::parse(
            PathBuf::from("x.env"),
            "WINDLASS_TEST_KUBE_SERVER=https://127.0.0.1:9",
        );
        let _ = services.kube();
    }

    #[test]
    fn token_url_encodes_claims() {
        let oidc = Oidc {
            issuer: "http://127.0.0.1:1".into(),
            request_url: "http://127.0.0.1:1/token?api-version=2.0".into(),
            request_token: Secret::new("t".into()),
            audience: "https://github.com/acme".into(),
            repository: "acme/release-tool".into(),
            git_ref: "refs/heads/main".into(),
            environment: "release".into(),
        };
        let url = oidc.token_url(&TokenRequest {
            git_ref: Some("refs/tags/v1".into()),
            exp_offset: Some(-60),
            ..TokenRequest::default()
        });
        assert_eq!(
            url,
            "http://127.0.0.1:1/token?api-version=2.0&audience=https%3A%2F%2Fgithub%2Ecom%2Facme\
             &ref=refs%2Ftags%2Fv1&exp_offset=%2D60"
        );
    }
}
