//! The library against the real OpenBao and OIDC issuer started by
//! `scripts/services.sh start`.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::type_complexity,
    clippy::format_push_string,
    reason = "test helpers: a failed fixture step should panic loudly"
)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use windlass_config::Environment;
use windlass_http::{HttpClient, HttpConfig, Method};
use windlass_output::Diagnostic;
use windlass_redact::{RedactedUrl, Secret};
use windlass_secrets::config::{AppRoleSection, AuthMethod, GithubActionsSection, GitlabSection};
use windlass_secrets::{ResolveError, Resolver, SecretRef, VaultError, VaultSection};
use windlass_testkit::{Bao, Services, TokenRequest};

use crate::support::{Api, OwnBao, OwnMode};

fn bao() -> Bao {
    Services::load().bao()
}

fn vault_section(bao: &Bao) -> VaultSection {
    VaultSection {
        address: Some(bao.addr.clone()),
        ..VaultSection::default()
    }
}

fn env(vars: &[(&str, &str)]) -> Environment {
    Environment::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn resolver(bao: &Bao, vars: &[(&str, &str)], section: VaultSection) -> Resolver {
    let _ = bao;
    Resolver::new(env(vars), std::env::temp_dir(), section)
}

fn vault_ref(s: &str) -> SecretRef {
    SecretRef::parse(s).unwrap()
}

/// A root-token API call, for fixtures and for checking tokens.
async fn root_call(
    bao: &Bao,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    Api {
        addr: &bao.addr,
        ca_file: None,
        token: bao.root_token.expose(),
    }
    .call(method, path, body, headers)
    .await
}

fn expect_vault_err(result: Result<Secret<String>, ResolveError>) -> ResolveError {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn summary(e: &ResolveError) -> String {
    format!(
        "{e}\nexit: {}\nstatus: {}\nhint: {}",
        e.exit_status().code(),
        e.status().as_str(),
        e.hint().unwrap_or_default()
    )
}

#[tokio::test]
async fn kv2_and_kv1_are_detected_and_registered() {
    let bao = bao();
    let r = resolver(
        &bao,
        &[("VAULT_TOKEN", bao.read_token.expose())],
        vault_section(&bao),
    );
    let v2 = r.resolve(&vault_ref(&bao.kv2.reference())).await.unwrap();
    assert_eq!(v2.expose(), bao.kv2.value.expose());
    let v1 = r.resolve(&vault_ref(&bao.kv1.reference())).await.unwrap();
    assert_eq!(v1.expose(), bao.kv1.value.expose());
    let pinned = r
        .resolve(&vault_ref(&format!(
            "vault://{}/{}?kv=1#{}",
            bao.kv1.mount, bao.kv1.path, bao.kv1.key
        )))
        .await
        .unwrap();
    assert_eq!(pinned.expose(), bao.kv1.value.expose());
    // Registered: the redactor masks them from now on.
    let text = format!("a {} b {}", v2.expose(), v1.expose());
    assert_eq!(windlass_redact::global().redact(&text), "a **** b ****");
    // A token the user supplied is never revoked.
    r.close().await;
    let again = resolver(
        &bao,
        &[("VAULT_TOKEN", bao.read_token.expose())],
        vault_section(&bao),
    );
    again
        .resolve(&vault_ref(&bao.kv2.reference()))
        .await
        .unwrap();
}

#[tokio::test]
async fn namespace_reads_its_own_mount() {
    let bao = bao();
    let section = VaultSection {
        namespace: Some(bao.namespace.clone()),
        ..vault_section(&bao)
    };
    let r = resolver(&bao, &[("VAULT_TOKEN", bao.root_token.expose())], section);
    let v = r
        .resolve(&vault_ref("vault://secret/ci/pypi#token"))
        .await
        .unwrap();
    assert_eq!(v.expose(), bao.namespace_kv2.value.expose());
    // VAULT_NAMESPACE works the same.
    let r = resolver(
        &bao,
        &[
            ("VAULT_TOKEN", bao.root_token.expose()),
            ("VAULT_NAMESPACE", &bao.namespace),
        ],
        vault_section(&bao),
    );
    let v = r
        .resolve(&vault_ref("vault://secret/ci/pypi#token"))
        .await
        .unwrap();
    assert_eq!(v.expose(), bao.namespace_kv2.value.expose());
}

#[tokio::test]
async fn vault_addr_and_home_token_file() {
    let bao = bao();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".vault-token"),
        format!("{}\n", bao.read_token.expose()),
    )
    .unwrap();
    let r = Resolver::new(
        env(&[
            ("VAULT_ADDR", &bao.addr),
            ("HOME", home.path().to_str().unwrap()),
        ]),
        home.path(),
        VaultSection::default(),
    );
    let v = r
        .resolve(&vault_ref("vault://secret/ci/pypi#token"))
        .await
        .unwrap();
    assert_eq!(v.expose(), bao.kv2.value.expose());
}

#[tokio::test]
async fn approle_login_is_revoked_on_close() {
    let bao = bao();
    let section = VaultSection {
        auth: Some(AuthMethod::Approle),
        approle: Some(AppRoleSection {
            mount: bao.approle.mount.clone(),
            role_id: "env://ROLE_ID".into(),
            secret_id: format!("file://{}", bao.approle.secret_id_file.display()),
            wrapped: false,
        }),
        ..vault_section(&bao)
    };
    let r = resolver(&bao, &[("ROLE_ID", &bao.approle.role_id)], section);
    let v = r
        .resolve(&vault_ref("vault://secret/ci/pypi#token"))
        .await
        .unwrap();
    assert_eq!(v.expose(), bao.kv2.value.expose());
    let accessor = r.vault_token_accessor().unwrap();
    assert!(bao.accessor_valid(&accessor));
    r.close().await;
    assert!(
        !bao.accessor_valid(&accessor),
        "the approle token must be revoked"
    );
}

#[tokio::test]
async fn approle_wrapped_secret_id_is_unwrapped_once() {
    let bao = bao();
    let path = format!(
        "auth/{}/role/{}/secret-id",
        bao.approle.mount, bao.approle.role
    );
    let (status, answer) = root_call(
        &bao,
        Method::POST,
        &path,
        Some(json!({})),
        &[("X-Vault-Wrap-TTL", "60s")],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let wrapping = answer["wrap_info"]["token"].as_str().unwrap().to_owned();
    let section = VaultSection {
        auth: Some(AuthMethod::Approle),
        approle: Some(AppRoleSection {
            mount: bao.approle.mount.clone(),
            role_id: "env://ROLE_ID".into(),
            secret_id: "env://WRAPPED".into(),
            wrapped: true,
        }),
        ..vault_section(&bao)
    };
    let vars = [
        ("ROLE_ID", bao.approle.role_id.as_str()),
        ("WRAPPED", wrapping.as_str()),
    ];
    let r = resolver(&bao, &vars, section.clone());
    let v = r
        .resolve(&vault_ref("vault://secret/ci/pypi#token"))
        .await
        .unwrap();
    assert_eq!(v.expose(), bao.kv2.value.expose());
    r.close().await;
    let again = resolver(&bao, &vars, section);
    let e = expect_vault_err(
        again
            .resolve(&vault_ref("vault://secret/ci/pypi#token"))
            .await,
    );
    assert!(
        matches!(&e, ResolveError::Vault(v) if matches!(**v, VaultError::Unwrap { .. })),
        "{e}"
    );
    assert_eq!(e.exit_status().code(), 3);
}

#[tokio::test]
async fn token_is_renewed_during_long_runs() {
    let bao = bao();
    let role = "windlass-short-ttl";
    bao.write(
        &format!("auth/{}/role/{role}", bao.approle.mount),
        &[
            ("token_policies", "ci-read"),
            ("token_ttl", "3s"),
            ("token_max_ttl", "120s"),
            ("secret_id_num_uses", "0"),
        ],
    );
    let (role_id, secret_id) = bao.approle_ids(&bao.approle.mount, role);
    let section = VaultSection {
        auth: Some(AuthMethod::Approle),
        approle: Some(AppRoleSection {
            mount: bao.approle.mount.clone(),
            role_id: "env://ROLE_ID".into(),
            secret_id: "env://SECRET_ID".into(),
            wrapped: false,
        }),
        ..vault_section(&bao)
    };
    let r = resolver(
        &bao,
        &[("ROLE_ID", &role_id), ("SECRET_ID", secret_id.expose())],
        section,
    );
    r.resolve(&vault_ref("vault://secret/ci/pypi#token"))
        .await
        .unwrap();
    let accessor = r.vault_token_accessor().unwrap();
    tokio::time::sleep(Duration::from_millis(5500)).await;
    assert!(
        bao.accessor_valid(&accessor),
        "a 3 s token must still live after 5.5 s: renewed"
    );
    r.close().await;
    assert!(!bao.accessor_valid(&accessor));
}

fn github_section(bao: &Bao, audience: Option<String>) -> VaultSection {
    VaultSection {
        auth: Some(AuthMethod::GithubActions),
        github_actions: Some(GithubActionsSection {
            mount: bao.jwt_mount.clone(),
            role: bao.jwt_role.clone(),
            audience,
        }),
        ..vault_section(bao)
    }
}

#[tokio::test]
async fn github_actions_oidc_login() {
    let services = Services::load();
    let (bao, oidc) = (services.bao(), services.oidc());
    let vars = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", oidc.request_url.as_str()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            oidc.request_token.expose().as_str(),
        ),
    ];
    let r = resolver(
        &bao,
        &vars,
        github_section(&bao, Some(oidc.audience.clone())),
    );
    let v = r
        .resolve(&vault_ref("vault://secret/ci/pypi#token"))
        .await
        .unwrap();
    assert_eq!(v.expose(), bao.kv2.value.expose());
    let accessor = r.vault_token_accessor().unwrap();
    r.close().await;
    assert!(!bao.accessor_valid(&accessor));
}

#[tokio::test]
async fn github_actions_bound_claim_rejected() {
    let services = Services::load();
    let (bao, oidc) = (services.bao(), services.oidc());
    let url = oidc.token_url(&TokenRequest {
        git_ref: Some("refs/heads/evil".into()),
        ..TokenRequest::default()
    });
    let vars = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            oidc.request_token.expose().as_str(),
        ),
    ];
    let r = resolver(&bao, &vars, github_section(&bao, None));
    let e = expect_vault_err(r.resolve(&vault_ref("vault://secret/ci/pypi#token")).await);
    insta::assert_snapshot!(summary(&e));
}

#[tokio::test]
async fn github_actions_expired_jwt_rejected() {
    let services = Services::load();
    let (bao, oidc) = (services.bao(), services.oidc());
    let url = oidc.token_url(&TokenRequest {
        exp_offset: Some(-600),
        nbf_offset: Some(-900),
        ..TokenRequest::default()
    });
    let vars = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            oidc.request_token.expose().as_str(),
        ),
    ];
    let r = resolver(&bao, &vars, github_section(&bao, None));
    let e = expect_vault_err(r.resolve(&vault_ref("vault://secret/ci/pypi#token")).await);
    assert_eq!(e.exit_status().code(), 3, "{}", summary(&e));
    assert!(
        matches!(&e, ResolveError::Vault(v) if matches!(&**v, VaultError::LoginRejected { claim: Some(c), .. } if c == "exp")),
        "{}",
        summary(&e)
    );
}

#[tokio::test]
async fn github_actions_without_oidc_variables() {
    let bao = bao();
    let r = resolver(&bao, &[], github_section(&bao, None));
    let e = expect_vault_err(r.resolve(&vault_ref("vault://secret/ci/pypi#token")).await);
    insta::assert_snapshot!(summary(&e));
}

#[tokio::test]
async fn gitlab_id_token_login() {
    let services = Services::load();
    let (bao, oidc) = (services.bao(), services.oidc());
    // Mint the ID token GitLab would put in the job's variable.
    let client = HttpClient::new(&HttpConfig::default()).unwrap();
    let url = RedactedUrl::parse(&oidc.request_url).unwrap();
    let response = client
        .send(Method::GET, &url, |r| {
            r.header(
                "Authorization",
                format!("bearer {}", oidc.request_token.expose()),
            )
        })
        .await
        .unwrap();
    #[allow(
        clippy::disallowed_methods,
        reason = "a test reads a local server's answer whole"
    )]
    let jwt = response.json::<Value>().await.unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let section = VaultSection {
        auth: Some(AuthMethod::Gitlab),
        gitlab: Some(GitlabSection {
            mount: bao.jwt_mount.clone(),
            role: bao.jwt_role.clone(),
            token_env: "VAULT_ID_TOKEN".into(),
        }),
        ..vault_section(&bao)
    };
    let r = resolver(&bao, &[("VAULT_ID_TOKEN", &jwt)], section.clone());
    let v = r
        .resolve(&vault_ref("vault://secret/ci/pypi#token"))
        .await
        .unwrap();
    assert_eq!(v.expose(), bao.kv2.value.expose());
    r.close().await;
    let r = resolver(&bao, &[], section);
    let e = expect_vault_err(r.resolve(&vault_ref("vault://secret/ci/pypi#token")).await);
    insta::assert_snapshot!(summary(&e));
}

#[tokio::test]
async fn denying_policy_names_path_and_policies() {
    let bao = bao();
    let r = resolver(
        &bao,
        &[("VAULT_TOKEN", bao.deny_token.expose())],
        vault_section(&bao),
    );
    let e = expect_vault_err(r.resolve(&vault_ref("vault://secret/ci/pypi#token")).await);
    insta::assert_snapshot!(summary(&e));
}

#[tokio::test]
async fn invalid_token() {
    let bao = bao();
    let r = resolver(
        &bao,
        &[("VAULT_TOKEN", "s.not-a-real-token-000000")],
        vault_section(&bao),
    );
    let e = expect_vault_err(r.resolve(&vault_ref("vault://secret/ci/pypi#token")).await);
    insta::assert_snapshot!(summary(&e));
}

#[tokio::test]
async fn missing_key_lists_names_never_values() {
    let bao = bao();
    let r = resolver(
        &bao,
        &[("VAULT_TOKEN", bao.read_token.expose())],
        vault_section(&bao),
    );
    let e = expect_vault_err(r.resolve(&vault_ref("vault://secret/ci/pypi#passwd")).await);
    let text = summary(&e);
    assert!(!text.contains(bao.kv2.value.expose()));
    insta::assert_snapshot!(text);
    let e = expect_vault_err(
        r.resolve(&vault_ref("vault://secret/ci/nothing-here#token"))
            .await,
    );
    insta::assert_snapshot!("missing_path", summary(&e));
}

#[tokio::test]
async fn unreachable_vault() {
    let r = Resolver::new(
        env(&[("VAULT_ADDR", "http://127.0.0.1:9"), ("VAULT_TOKEN", "s.x")]),
        std::env::temp_dir(),
        VaultSection::default(),
    );
    let e = expect_vault_err(r.resolve(&vault_ref("vault://secret/ci/pypi#token")).await);
    assert_eq!(e.exit_status().code(), 3);
    assert_eq!(e.status().as_str(), "unreachable");
    assert!(
        e.to_string()
            .contains("cannot reach vault at http://127.0.0.1:9/"),
        "{e}"
    );
}

#[tokio::test]
async fn sealed_vault() {
    // A server of our own, sealed on purpose (the shared one stays up).
    let own = OwnBao::start(OwnMode::Http).await;
    let (status, _) = own.call(Method::PUT, "sys/seal", None, None).await;
    assert_eq!(status, 204);
    let r = Resolver::new(
        env(&[("VAULT_ADDR", &own.addr), ("VAULT_TOKEN", &own.root)]),
        std::env::temp_dir(),
        VaultSection::default(),
    );
    let e = expect_vault_err(r.resolve(&vault_ref("vault://secret/ci/pypi#token")).await);
    let port = own.addr.rsplit(':').next().unwrap().to_owned();
    drop(own);
    insta::assert_snapshot!(summary(&e).replace(&port, "PORT"));
}
