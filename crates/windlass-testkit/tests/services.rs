//! Smoke tests: every test service answers an independent client.
//!
//! These prove the harness (`scripts/services.sh`) before any Windlass code
//! relies on it. They fail, never skip, when a service is down.
#![allow(
    clippy::disallowed_methods,
    reason = "tests drive independent clients (curl, bao, twine, skopeo, podman) directly"
)]
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns panic on purpose: a broken harness must fail the test"
)]

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use windlass_testkit::{Services, TokenRequest};

// ------------------------------------------------------------------ helpers --

/// Runs `command` with `stdin`, panicking with its output unless it succeeds.
fn run(command: &mut Command, stdin: &[u8]) -> Output {
    let output = run_status(command, stdin);
    assert!(
        output.status.success(),
        "{command:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn run_status(command: &mut Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// An HTTP request with curl; headers go through a private file (never argv)
/// and the body through stdin. Returns the status and the parsed JSON body.
fn http(
    dir: &Path,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, Value) {
    let header_file = dir.join(format!("headers-{}", unique()));
    let mut lines = String::new();
    for (name, value) in headers {
        writeln!(lines, "{name}: {value}").unwrap();
    }
    fs::write(&header_file, lines).unwrap();
    let mut command = Command::new("curl");
    command
        .args([
            "-sS",
            "--max-time",
            "30",
            "-X",
            method,
            "-w",
            "\n%{http_code}",
            "-H",
        ])
        .arg(format!("@{}", header_file.display()));
    let stdin = body.map(Value::to_string).unwrap_or_default();
    if body.is_some() {
        command.args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
        ]);
    }
    command.arg(url);
    let output = run(&mut command, stdin.as_bytes());
    fs::remove_file(&header_file).unwrap();
    let text = stdout(&output);
    let (body, code) = text.rsplit_once('\n').unwrap();
    let value = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()))
    };
    (code.parse().unwrap(), value)
}

/// A value unique to this test run (for versions, tags, file names).
fn unique() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}{}{}",
        nanos % 1_000_000_000_000,
        std::process::id() % 1000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Builds `windlass_smoke-VERSION-py3-none-any.whl` with `python -m build`
/// (hatchling, no isolation: nothing is fetched) and returns its path.
fn build_wheel(services: &Services, dir: &Path, name: &str) -> (PathBuf, String) {
    let tools = services.tools();
    let version = format!("0.{}", unique());
    let project = dir.join("project");
    let module = name.replace('-', "_");
    fs::create_dir_all(project.join(&module)).unwrap();
    fs::write(project.join(&module).join("__init__.py"), "VALUE = 1\n").unwrap();
    fs::write(
        project.join("README.md"),
        "# smoke\n\nA wheel for the harness smoke tests.\n",
    )
    .unwrap();
    fs::write(
        project.join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
             [project]\nname = \"{name}\"\nversion = \"{version}\"\ndescription = \"windlass smoke test\"\n\
             requires-python = \">=3.8\"\nreadme = \"README.md\"\n"
        ),
    )
    .unwrap();
    let dist = dir.join("dist");
    run(
        Command::new(&tools.python)
            .args(["-m", "build", "--wheel", "--no-isolation", "--outdir"])
            .arg(&dist)
            .arg(&project),
        b"",
    );
    let wheel = dist.join(format!("{module}-{version}-py3-none-any.whl"));
    assert!(wheel.is_file(), "{} was not built", wheel.display());
    run(
        Command::new(&tools.twine)
            .args(["check", "--strict"])
            .arg(&wheel),
        b"",
    );
    (wheel, version)
}

fn pip_download(services: &Services, dir: &Path, simple_url: &str, name: &str, version: &str) {
    let dest = dir.join("download");
    run(
        Command::new(services.tools().python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-cache-dir",
                "--disable-pip-version-check",
            ])
            .args(["--index-url", simple_url, "--dest"])
            .arg(&dest)
            .arg(format!("{name}=={version}")),
        b"",
    );
    let module = name.replace('-', "_");
    assert!(
        dest.join(format!("{module}-{version}-py3-none-any.whl"))
            .is_file()
    );
}

/// `twine upload` with credentials in the environment (never argv).
fn twine_upload(
    services: &Services,
    repository_url: &str,
    user: &str,
    password: &str,
    wheel: &Path,
) {
    run(
        Command::new(services.tools().twine)
            .args([
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
            ])
            .arg(repository_url)
            .arg(wheel)
            .env("TWINE_USERNAME", user)
            .env("TWINE_PASSWORD", password),
        b"",
    );
}

/// An OCI layout `DIR/oci:base` holding busybox-static as `/bin/busybox`.
fn tiny_image(services: &Services, dir: &Path) -> String {
    let tools = services.tools();
    let layout = dir.join("oci");
    let rootfs = dir.join("rootfs");
    fs::create_dir_all(rootfs.join("bin")).unwrap();
    fs::copy(&tools.busybox, rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    let umoci = |args: &[&OsStr]| run(Command::new(&tools.umoci).args(args), b"");
    let image = format!("{}:base", layout.display());
    umoci(&["init".as_ref(), "--layout".as_ref(), layout.as_os_str()]);
    umoci(&["new".as_ref(), "--image".as_ref(), image.as_ref()]);
    umoci(&[
        "insert".as_ref(),
        "--image".as_ref(),
        image.as_ref(),
        rootfs.as_os_str(),
        "/".as_ref(),
    ]);
    umoci(&[
        "config".as_ref(),
        "--image".as_ref(),
        image.as_ref(),
        "--config.cmd".as_ref(),
        "/bin/sh".as_ref(),
    ]);
    format!("oci:{image}")
}

/// A containers auth file for `registry` (skopeo/podman `--authfile`).
fn auth_file(dir: &Path, registries: &[&str], user: &str, password: &str) -> PathBuf {
    let auth = STANDARD.encode(format!("{user}:{password}"));
    let auths: serde_json::Map<String, Value> = registries
        .iter()
        .map(|r| ((*r).to_owned(), json!({ "auth": auth })))
        .collect();
    let path = dir.join("auth.json");
    fs::write(&path, json!({ "auths": auths }).to_string()).unwrap();
    path
}

// ----------------------------------------------------------------- OpenBao --

#[test]
fn openbao_kv_fixtures_read_with_curl_and_bao() {
    let services = Services::load();
    let bao = services.bao();
    let dir = tempfile::tempdir().unwrap();

    let url = format!("{}/v1/{}/data/{}", bao.addr, bao.kv2.mount, bao.kv2.path);
    let (code, body) = http(
        dir.path(),
        "GET",
        &url,
        &[("X-Vault-Token", bao.read_token.expose())],
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["data"]["data"][&bao.kv2.key],
        bao.kv2.value.expose().as_str()
    );

    // KV v1 through the real bao CLI; the token goes by environment.
    let output = run(
        Command::new(&bao.bin)
            .args([
                "kv",
                "get",
                &format!("-mount={}", bao.kv1.mount),
                &format!("-field={}", bao.kv1.key),
                &bao.kv1.path,
            ])
            .env("BAO_ADDR", &bao.addr)
            .env("BAO_TOKEN", bao.read_token.expose())
            .env("HOME", dir.path()),
        b"",
    );
    assert_eq!(stdout(&output).trim(), bao.kv1.value.expose());

    // The namespace holds the same path with another value.
    let output = run(
        Command::new(&bao.bin)
            .args([
                "kv",
                "get",
                &format!("-mount={}", bao.kv2.mount),
                &format!("-field={}", bao.kv2.key),
                &bao.kv2.path,
            ])
            .env("BAO_ADDR", &bao.addr)
            .env("BAO_TOKEN", bao.root_token.expose())
            .env("BAO_NAMESPACE", &bao.namespace)
            .env("HOME", dir.path()),
        b"",
    );
    assert_eq!(stdout(&output).trim(), bao.namespace_kv2.value.expose());
    assert_ne!(bao.namespace_kv2.value.expose(), bao.kv2.value.expose());

    // The deny-ish policy is refused the fixture.
    let (code, _) = http(
        dir.path(),
        "GET",
        &url,
        &[("X-Vault-Token", bao.deny_token.expose())],
        None,
    );
    assert_eq!(code, 403);
}

#[test]
fn openbao_fixture_steps_write_secrets_and_make_tokens() {
    let services = Services::load();
    let bao = services.bao();
    let dir = tempfile::tempdir().unwrap();
    let root = [("X-Vault-Token", bao.root_token.expose().as_str())];
    let path = format!("testkit/{}", unique());

    bao.kv_put(
        &bao.kv2.mount,
        &path,
        &[("password", "v2-value"), ("user", "ci")],
    );
    let url = format!("{}/v1/{}/data/{path}", bao.addr, bao.kv2.mount);
    let (code, body) = http(dir.path(), "GET", &url, &root, None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["data"]["data"],
        json!({"password": "v2-value", "user": "ci"})
    );

    bao.kv_put(&bao.kv1.mount, &path, &[("password", "v1-value")]);
    let url = format!("{}/v1/{}/{path}", bao.addr, bao.kv1.mount);
    let (code, body) = http(dir.path(), "GET", &url, &root, None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["password"], "v1-value");

    let (token, accessor) = bao.create_token(&[&bao.read_policy], "5m");
    let url = format!("{}/v1/auth/token/lookup-self", bao.addr);
    let (code, body) = http(
        dir.path(),
        "GET",
        &url,
        &[("X-Vault-Token", token.expose())],
        None,
    );
    assert_eq!(code, 200);
    let policies = body["data"]["policies"].as_array().unwrap();
    assert!(
        policies.iter().any(|p| p == bao.read_policy.as_str()),
        "{policies:?}"
    );
    assert!(bao.accessor_valid(&accessor));
    let url = format!("{}/v1/auth/token/revoke-accessor", bao.addr);
    let body = json!({ "accessor": accessor });
    let (code, _) = http(dir.path(), "POST", &url, &root, Some(&body));
    assert_eq!(code, 204);
    assert!(!bao.accessor_valid(&accessor));

    let role = format!("testkit-{}", unique());
    let role_path = format!("auth/{}/role/{role}", bao.approle.mount);
    bao.write(
        &role_path,
        &[("token_policies", &bao.read_policy), ("token_ttl", "1m")],
    );
    let (role_id, secret_id) = bao.approle_ids(&bao.approle.mount, &role);
    assert_ne!(role_id, bao.approle.role_id);
    let login = format!("{}/v1/auth/{}/login", bao.addr, bao.approle.mount);
    let body = json!({ "role_id": role_id, "secret_id": secret_id.expose() });
    let (code, answer) = http(dir.path(), "POST", &login, &[], Some(&body));
    assert_eq!(code, 200, "{answer}");
    let ttl = answer["auth"]["lease_duration"].as_u64().unwrap();
    assert_eq!(ttl, 60, "{answer}");
}

#[test]
fn openbao_approle_login_reads_the_fixture() {
    let services = Services::load();
    let bao = services.bao();
    let dir = tempfile::tempdir().unwrap();
    let login = format!("{}/v1/auth/{}/login", bao.addr, bao.approle.mount);
    let body =
        json!({ "role_id": bao.approle.role_id, "secret_id": bao.approle.secret_id().expose() });
    let (code, answer) = http(dir.path(), "POST", &login, &[], Some(&body));
    assert_eq!(code, 200, "{answer}");
    let policies = answer["auth"]["policies"].as_array().unwrap();
    assert!(
        policies.iter().any(|p| p == bao.read_policy.as_str()),
        "{policies:?}"
    );
    let token = answer["auth"]["client_token"].as_str().unwrap();
    let url = format!("{}/v1/{}/data/{}", bao.addr, bao.kv2.mount, bao.kv2.path);
    let (code, secret) = http(dir.path(), "GET", &url, &[("X-Vault-Token", token)], None);
    assert_eq!(code, 200);
    assert_eq!(
        secret["data"]["data"][&bao.kv2.key],
        bao.kv2.value.expose().as_str()
    );

    let wrong = json!({ "role_id": bao.approle.role_id, "secret_id": "not-the-secret-id" });
    let (code, _) = http(dir.path(), "POST", &login, &[], Some(&wrong));
    assert_eq!(code, 400);
}

#[test]
fn openbao_jwt_login_with_a_token_from_the_local_issuer() {
    let services = Services::load();
    let bao = services.bao();
    let oidc = services.oidc();
    let dir = tempfile::tempdir().unwrap();
    let bearer = format!("bearer {}", oidc.request_token.expose());
    let mint = |request: &TokenRequest| {
        let (code, answer) = http(
            dir.path(),
            "GET",
            &oidc.token_url(request),
            &[("Authorization", &bearer)],
            None,
        );
        assert_eq!(code, 200, "{answer}");
        answer["value"].as_str().unwrap().to_owned()
    };
    let login = format!("{}/v1/auth/{}/login", bao.addr, bao.jwt_mount);
    let try_login = |jwt: &str| {
        let body = json!({ "role": bao.jwt_role, "jwt": jwt });
        http(dir.path(), "POST", &login, &[], Some(&body))
    };

    let (code, answer) = try_login(&mint(&TokenRequest::default()));
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        answer["auth"]["metadata"]["repository"],
        oidc.repository.as_str()
    );
    let token = answer["auth"]["client_token"].as_str().unwrap();
    let url = format!("{}/v1/{}/data/{}", bao.addr, bao.kv2.mount, bao.kv2.path);
    let (code, secret) = http(dir.path(), "GET", &url, &[("X-Vault-Token", token)], None);
    assert_eq!(code, 200);
    assert_eq!(
        secret["data"]["data"][&bao.kv2.key],
        bao.kv2.value.expose().as_str()
    );

    // A tag matches the glob; a branch, another repository, audience or an
    // expired token do not.
    let tag = TokenRequest {
        git_ref: Some("refs/tags/v1.2.3".into()),
        ..TokenRequest::default()
    };
    assert_eq!(try_login(&mint(&tag)).0, 200);
    let refused = [
        TokenRequest {
            git_ref: Some("refs/heads/feature".into()),
            ..TokenRequest::default()
        },
        TokenRequest {
            repository: Some("evil/release-tool".into()),
            ..TokenRequest::default()
        },
        TokenRequest {
            environment: Some("staging".into()),
            ..TokenRequest::default()
        },
        TokenRequest {
            audience: Some("https://github.com/other".into()),
            ..TokenRequest::default()
        },
        TokenRequest {
            exp_offset: Some(-120),
            ..TokenRequest::default()
        },
    ];
    for request in refused {
        let (code, answer) = try_login(&mint(&request));
        assert_eq!(code, 400, "{request:?} was accepted: {answer}");
    }

    // The issuer insists on the request token, like GitHub's.
    let (code, _) = http(
        dir.path(),
        "GET",
        &oidc.token_url(&TokenRequest::default()),
        &[("Authorization", "bearer wrong")],
        None,
    );
    assert_eq!(code, 401);
}

// ------------------------------------------------------------------- PyPI --

#[test]
fn pypiserver_without_auth_accepts_twine_and_serves_pip() {
    let services = Services::load();
    let server = services.pypiserver();
    let dir = tempfile::tempdir().unwrap();
    let (wheel, version) = build_wheel(&services, dir.path(), "windlass-smoke-open");
    twine_upload(
        &services,
        &server.upload_url(),
        "anyone",
        "anything",
        &wheel,
    );
    pip_download(
        &services,
        dir.path(),
        &server.simple_url(),
        "windlass-smoke-open",
        &version,
    );
}

#[test]
fn pypiserver_with_auth_requires_the_password() {
    let services = Services::load();
    let server = services.pypiserver_auth();
    let (user, password) = server.auth.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (wheel, version) = build_wheel(&services, dir.path(), "windlass-smoke-auth");

    let refused = run_status(
        Command::new(services.tools().twine)
            .args([
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
            ])
            .arg(server.upload_url())
            .arg(&wheel)
            .env("TWINE_USERNAME", &user)
            .env("TWINE_PASSWORD", "wrong-password"),
        b"",
    );
    assert!(
        !refused.status.success(),
        "upload with a wrong password succeeded"
    );

    twine_upload(
        &services,
        &server.upload_url(),
        &user,
        password.expose(),
        &wheel,
    );
    pip_download(
        &services,
        dir.path(),
        &server.simple_url(),
        "windlass-smoke-auth",
        &version,
    );
}

#[test]
fn devpi_accepts_twine_and_lists_the_file() {
    let services = Services::load();
    let devpi = services.devpi();
    let dir = tempfile::tempdir().unwrap();
    let (wheel, version) = build_wheel(&services, dir.path(), "windlass-smoke-devpi");
    twine_upload(
        &services,
        &devpi.upload_url(),
        &devpi.user,
        devpi.password.expose(),
        &wheel,
    );

    let output = run(
        Command::new("curl")
            .args(["-fsS", "--max-time", "30"])
            .arg(format!("{}windlass-smoke-devpi/", devpi.simple_url())),
        b"",
    );
    let page = stdout(&output);
    let file = format!("windlass_smoke_devpi-{version}-py3-none-any.whl");
    assert!(
        page.contains(&file),
        "{file} not in the simple page:\n{page}"
    );
    assert!(page.contains("#sha256="), "{page}");
    pip_download(
        &services,
        dir.path(),
        &devpi.simple_url(),
        "windlass-smoke-devpi",
        &version,
    );
}

// --------------------------------------------------------------- registry --

#[test]
fn registries_take_a_skopeo_copy_and_inspect_it() {
    let services = Services::load();
    let registries = services.registries();
    let skopeo = services.tools().skopeo;
    let dir = tempfile::tempdir().unwrap();
    let source = tiny_image(&services, dir.path());
    let authfile = auth_file(
        dir.path(),
        &[&registries.auth, &registries.tls],
        &registries.user,
        registries.password.expose(),
    );
    let authfile = authfile.to_str().unwrap();
    let cert_dir = registries.cert_dir.to_str().unwrap();
    let tag = unique();
    let reference = |registry: &str| format!("docker://{registry}/smoke/busybox:{tag}");
    let skopeo_ok = |args: &[&str]| run(Command::new(&skopeo).args(args), b"");
    let skopeo_fails = |args: &[&str], why: &str| {
        let output = run_status(Command::new(&skopeo).args(args), b"");
        assert!(!output.status.success(), "{why}: skopeo {args:?} succeeded");
    };

    // (destination, flags for copy, flags for inspect). TLS is verified
    // against the exported CA, never switched off.
    let open = reference(&registries.open);
    let auth = reference(&registries.auth);
    let tls = reference(&registries.tls);
    let cases: [(&str, Vec<&str>, Vec<&str>); 3] = [
        (
            &open,
            vec!["--dest-tls-verify=false"],
            vec!["--tls-verify=false"],
        ),
        (
            &auth,
            vec!["--dest-tls-verify=false", "--dest-authfile", authfile],
            vec!["--tls-verify=false", "--authfile", authfile],
        ),
        (
            &tls,
            vec!["--dest-cert-dir", cert_dir, "--dest-authfile", authfile],
            vec!["--cert-dir", cert_dir, "--authfile", authfile],
        ),
    ];
    let mut digests = Vec::new();
    for (destination, copy_flags, inspect_flags) in &cases {
        let mut copy = vec!["copy", "--quiet"];
        copy.extend(copy_flags);
        copy.extend([source.as_str(), destination]);
        skopeo_ok(&copy);
        let mut inspect = vec!["inspect"];
        inspect.extend(inspect_flags);
        inspect.push(destination);
        let info: Value = serde_json::from_slice(&skopeo_ok(&inspect).stdout).unwrap();
        assert_eq!(info["Architecture"], "amd64", "{info}");
        digests.push(info["Digest"].as_str().unwrap().to_owned());
    }
    assert!(digests.iter().all(|d| d == &digests[0]), "{digests:?}");

    let anonymous = [
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--dest-no-creds",
    ];
    skopeo_fails(
        &[&anonymous[..], &[source.as_str(), &auth]].concat(),
        "anonymous push to the auth registry",
    );
    skopeo_fails(
        &["inspect", "--authfile", authfile, &tls],
        "the TLS registry trusted without its CA",
    );
}

#[test]
fn podman_runs_the_pushed_busybox_image_with_runc() {
    let services = Services::load();
    let registries = services.registries();
    let tools = services.tools();
    let dir = tempfile::tempdir().unwrap();
    let source = tiny_image(&services, dir.path());
    let tag = unique();
    let image = format!("{}/smoke/podman:{tag}", registries.open);
    run(
        Command::new(&tools.skopeo)
            .args(["copy", "--quiet", "--dest-tls-verify=false", &source])
            .arg(format!("docker://{image}")),
        b"",
    );
    let podman = || {
        let mut command = Command::new(&tools.podman);
        command
            .env("CONTAINERS_CONF", &tools.containers_conf)
            .env("CONTAINERS_STORAGE_CONF", &tools.containers_storage_conf);
        command
    };
    let marker = format!("hello-from-{tag}");
    let output = run(
        podman()
            .args([
                "--runtime",
                "runc",
                "run",
                "--rm",
                "--network",
                "none",
                "--tls-verify=false",
                "--quiet",
            ])
            .arg(&image)
            .args(["/bin/busybox", "echo", &marker]),
        b"",
    );
    assert_eq!(stdout(&output).trim(), marker);
    run(podman().args(["rmi", "--force"]).arg(&image), b"");
}

// ------------------------------------------------------------- helm/kube --

#[test]
fn helm_and_kubectl_clients_run() {
    let services = Services::load();
    let tools = services.tools();
    let dir = tempfile::tempdir().unwrap();
    let helm = run(
        Command::new(&tools.helm)
            .args(["version", "--short"])
            .env("HELM_CONFIG_HOME", dir.path())
            .env("HELM_CACHE_HOME", dir.path()),
        b"",
    );
    assert!(stdout(&helm).starts_with("v4."), "{}", stdout(&helm));
    let kubectl = run(
        Command::new(&tools.kubectl).args(["version", "--client"]),
        b"",
    );
    assert!(
        stdout(&kubectl).contains("Client Version: v1.35"),
        "{}",
        stdout(&kubectl)
    );
}

#[test]
fn kubernetes_answers_and_a_deployment_becomes_ready() {
    let services = Services::load();
    let kube = services.kube();
    let version: Value = serde_json::from_str(&kube.kubectl(&["version", "-o", "json"])).unwrap();
    assert_eq!(
        version["serverVersion"]["gitVersion"], "v1.20.2",
        "{version}"
    );
    let node = kube.kubectl(&[
        "get",
        "node",
        "fake-node",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
    ]);
    assert_eq!(node, "True");

    let namespace = kube.fresh_namespace("testkit");
    let other = kube.fresh_namespace("testkit");
    assert_ne!(namespace, other, "fresh namespaces are never reused");
    kube.apply(
        &namespace,
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "example.invalid/web:1"}]
"#,
    );
    kube.kubectl(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        &namespace,
        "--timeout=120s",
    ]);
    let ready = kube.kubectl(&[
        "get",
        "deployment",
        "web",
        "-n",
        &namespace,
        "-o",
        "jsonpath={.status.readyReplicas}",
    ]);
    assert_eq!(ready, "2");
}

#[test]
fn kubernetes_leaves_a_broken_image_unready() {
    let services = Services::load();
    let kube = services.kube();
    let namespace = kube.fresh_namespace("testkit-broken");
    kube.apply(
        &namespace,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: broken}
spec:
  containers: [{name: app, image: "example.invalid/app:broken"}]
"#,
    );
    let output = kube.kubectl_output(
        &[
            "wait",
            "pod/broken",
            "-n",
            &namespace,
            "--for=condition=Ready",
            "--timeout=5s",
        ],
        None,
    );
    assert!(!output.status.success(), "a broken image became ready");
    let scheduled = kube.kubectl(&[
        "get",
        "pod",
        "broken",
        "-n",
        &namespace,
        "-o",
        "jsonpath={.spec.nodeName}",
    ]);
    assert_eq!(scheduled, "fake-node");
}
