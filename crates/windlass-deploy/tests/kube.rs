//! The Kubernetes layer against the real test API server (v1.20.2 with a
//! fake kubelet, from `scripts/services.sh`): connecting by kubeconfig and
//! context, the per-environment lease, the ledger and rollout waiting.
//! Every test works in a namespace of its own.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns panic on purpose: a broken harness must fail the test"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use windlass_config::Environment;
use windlass_deploy::BundleId;
use windlass_deploy::kube::lease::{EnvLock, LeaseError};
use windlass_deploy::kube::ledger::{Event, Ledger, LedgerError, NewEntry};
use windlass_deploy::kube::{Cluster, KubeError, Target, rollout};
use windlass_diagnostic::{Diagnostic, ExitStatus};
use windlass_testkit::{Kube, Services, assert_no_leak, canary};

fn kube() -> Kube {
    Services::load().kube()
}

fn target(kube: &Kube, namespace: &str) -> Target {
    Target {
        kubeconfig: Some(kube.kubeconfig.clone()),
        context: Some(kube.context.clone()),
        namespace: Some(namespace.to_owned()),
    }
}

async fn connect(kube: &Kube, namespace: &str) -> Cluster {
    Cluster::connect(&target(kube, namespace), &Environment::default())
        .await
        .unwrap_or_else(|e| panic!("connect: {e}: {:?}", std::error::Error::source(&e)))
}

/// The error, its causes and its hint, as a user would see them.
fn rendered(error: &(dyn std::error::Error + 'static), hint: Option<String>) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str("\ncaused by: ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if let Some(hint) = hint {
        text.push_str("\nhint: ");
        text.push_str(&hint);
    }
    text
}

/// A copy of the test kubeconfig with `server` and `token` replaced.
fn kubeconfig_variant(kube: &Kube, dir: &Path, server: &str, token: &str) -> PathBuf {
    let text = fs::read_to_string(&kube.kubeconfig).unwrap();
    let text = text
        .replace(&kube.server, server)
        .replace(kube.token.expose(), token);
    let path = dir.join("kubeconfig");
    fs::write(&path, text).unwrap();
    path
}

fn bundle_id(n: u8) -> BundleId {
    serde_json::from_value(serde_json::json!(format!(
        "sha256:{}",
        format!("{n:02x}").repeat(32)
    )))
    .unwrap()
}

// ------------------------------------------------------------- connect --

#[tokio::test]
async fn connects_with_the_kubeconfig_and_a_named_context() {
    let kube = kube();
    let cluster = connect(&kube, "windlass-any").await;
    assert_eq!(cluster.context(), kube.context);
    assert_eq!(cluster.server(), kube.server);
    assert_eq!(cluster.namespace(), "windlass-any");
    assert_eq!(cluster.server_version(), "v1.20.2");
    // Debug shows where, never the credentials.
    let debug = format!("{cluster:?}");
    assert!(debug.contains(&kube.context), "{debug}");
    assert_no_leak(debug.as_bytes(), kube.token.expose());
}

#[tokio::test]
async fn kubeconfig_from_the_environment_and_the_contexts_namespace() {
    let kube = kube();
    let env = Environment::from_vars([(
        "KUBECONFIG",
        format!("/nonexistent/kubeconfig:{}", kube.kubeconfig.display()),
    )]);
    let cluster = Cluster::connect(&Target::default(), &env).await.unwrap();
    assert_eq!(cluster.context(), kube.context, "the current context");
    assert_eq!(cluster.namespace(), "default", "the context's namespace");
    assert_eq!(cluster.kubeconfig(), std::slice::from_ref(&kube.kubeconfig));
}

#[tokio::test]
async fn a_wrong_context_is_a_usage_error_naming_file_and_context() {
    let kube = kube();
    let target = Target {
        context: Some("no-such-context".into()),
        ..target(&kube, "default")
    };
    let error = Cluster::connect(&target, &Environment::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, KubeError::NoSuchContext { .. }),
        "{error:?}"
    );
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    let text = rendered(&error, error.hint());
    assert!(text.contains("no-such-context"), "{text}");
    assert!(
        text.contains(&kube.kubeconfig.display().to_string()),
        "{text}"
    );
    assert!(
        text.contains(&kube.context),
        "the hint lists the contexts: {text}"
    );
}

#[tokio::test]
async fn a_missing_kubeconfig_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let env = Environment::from_vars([("HOME", dir.path().as_os_str())]);
    let error = Cluster::connect(&Target::default(), &env)
        .await
        .unwrap_err();
    assert!(matches!(error, KubeError::NoKubeconfig { .. }), "{error:?}");
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    assert!(
        error.to_string().contains(".kube/config"),
        "names where it looked: {error}"
    );

    let target = Target {
        kubeconfig: Some(dir.path().join("absent")),
        ..Target::default()
    };
    let error = Cluster::connect(&target, &env).await.unwrap_err();
    assert!(
        matches!(error, KubeError::ReadKubeconfig { .. }),
        "{error:?}"
    );
    assert_eq!(error.exit_status(), ExitStatus::Usage);
}

#[tokio::test]
async fn an_unreachable_server_is_a_remote_error_without_the_token() {
    let kube = kube();
    let dir = tempfile::tempdir().unwrap();
    let token = canary("kube-token");
    // Nothing listens on port 1.
    let path = kubeconfig_variant(&kube, dir.path(), "https://127.0.0.1:1", &token);
    let target = Target {
        kubeconfig: Some(path),
        ..target(&kube, "default")
    };
    let error = Cluster::connect(&target, &Environment::default())
        .await
        .unwrap_err();
    assert!(matches!(error, KubeError::Unreachable { .. }), "{error:?}");
    assert_eq!(error.exit_status(), ExitStatus::Remote);
    let text = rendered(&error, error.hint());
    assert!(text.contains("https://127.0.0.1:1"), "{text}");
    assert_no_leak(text.as_bytes(), &token);
    assert_no_leak(format!("{error:?}").as_bytes(), &token);
}

#[tokio::test]
async fn a_refused_token_is_a_remote_error_that_does_not_show_it() {
    let kube = kube();
    let dir = tempfile::tempdir().unwrap();
    let token = canary("kube-token");
    let path = kubeconfig_variant(&kube, dir.path(), &kube.server, &token);
    let target = Target {
        kubeconfig: Some(path),
        ..target(&kube, "default")
    };
    assert_refused(&target, &token).await;
    // Loading the kubeconfig registered the token with the redactor.
    assert_eq!(
        windlass_redact::global().redact(&format!("x {token} y")),
        "x **** y"
    );
}

/// Connecting to `target` is refused by the server (401, a remote error)
/// and neither the message nor the error's debug form shows `secret`;
/// the message with its causes and hint.
async fn assert_refused(target: &Target, secret: &str) -> String {
    let error = Cluster::connect(target, &Environment::default())
        .await
        .unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Remote, "{error:?}");
    let text = rendered(&error, error.hint());
    assert!(text.contains("401"), "{text}");
    assert_no_leak(text.as_bytes(), secret);
    assert_no_leak(format!("{error:?}").as_bytes(), secret);
    text
}

/// A copy of the test kubeconfig whose user has `user` (YAML lines at the
/// user's indentation) instead of the token.
fn kubeconfig_user(kube: &Kube, dir: &Path, user: &[String]) -> PathBuf {
    let text = fs::read_to_string(&kube.kubeconfig).unwrap();
    let replaced: Vec<String> = text
        .lines()
        .flat_map(|line| {
            if line.trim_start().starts_with("token:") {
                user.iter().map(|l| format!("    {l}")).collect()
            } else {
                vec![line.to_owned()]
            }
        })
        .collect();
    assert_ne!(
        replaced.join("\n"),
        text,
        "the kubeconfig has no token line"
    );
    let path = dir.join("kubeconfig");
    fs::write(&path, replaced.join("\n")).unwrap();
    path
}

/// Client certificates go through the same HTTP/2 transport as tokens:
/// from files and from inline data, for every request of a promotion's
/// kind (a lease, ledger records), and the key never shows.
#[tokio::test]
async fn connects_with_a_client_certificate_from_files_or_inline_data() {
    use base64::Engine as _;
    let kube = kube();
    let namespace = kube.fresh_namespace("client-cert");
    let dir = tempfile::tempdir().unwrap();
    let b64 =
        |path: &Path| base64::engine::general_purpose::STANDARD.encode(fs::read(path).unwrap());
    let key_pem = fs::read_to_string(&kube.client_key).unwrap();
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .take(2)
        .collect();
    let variants = [
        vec![
            format!("client-certificate: {}", kube.client_cert.display()),
            format!("client-key: {}", kube.client_key.display()),
        ],
        vec![
            format!("client-certificate-data: {}", b64(&kube.client_cert)),
            format!("client-key-data: {}", b64(&kube.client_key)),
        ],
    ];
    for (n, user) in variants.iter().enumerate() {
        let sub = dir.path().join(n.to_string());
        fs::create_dir(&sub).unwrap();
        let target = Target {
            kubeconfig: Some(kubeconfig_user(&kube, &sub, user)),
            ..target(&kube, &namespace)
        };
        let cluster = Cluster::connect(&target, &Environment::default())
            .await
            .unwrap_or_else(|e| panic!("variant {n}: {}", rendered(&e, e.hint())));
        assert_eq!(cluster.server_version(), "v1.20.2");
        let env = format!("cert{n}");
        let lock = EnvLock::acquire(&cluster, &env, "tester", Duration::from_secs(30))
            .await
            .unwrap();
        let ledger = Ledger::new(&cluster, &env);
        let entry = ledger
            .append(NewEntry {
                actor: "tester".into(),
                promotion: None,
                bundle: bundle_id(1),
                event: gate(1),
            })
            .await
            .unwrap();
        assert_eq!(entry.seq, 1);
        assert_eq!(ledger.entries().await.unwrap(), vec![entry]);
        lock.release().await.unwrap();
        let debug = format!("{cluster:?}");
        assert!(!debug.contains(&key_body), "{debug}");
        assert!(!debug.contains(&b64(&kube.client_key)), "{debug}");
    }
}

/// A certificate the server's client CA did not sign: 401, named as the
/// server's refusal, and its key (inline) never shown.
#[tokio::test]
async fn a_client_certificate_the_server_does_not_trust_is_refused() {
    use base64::Engine as _;
    let kube = kube();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("other.crt"), dir.path().join("other.key"));
    let made = windlass_testkit::cli::Cli::new("openssl", dir.path())
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/O=system:masters/CN=intruder"])
        .args([
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ])
        .run();
    assert_eq!(made.code, 0, "{}", made.stderr);
    let key_data = base64::engine::general_purpose::STANDARD.encode(fs::read(&key).unwrap());
    let user = [
        format!("client-certificate: {}", cert.display()),
        format!("client-key-data: {key_data}"),
    ];
    let target = Target {
        kubeconfig: Some(kubeconfig_user(&kube, dir.path(), &user)),
        ..target(&kube, "default")
    };
    let text = assert_refused(&target, &key_data).await;
    assert!(text.contains(&kube.context), "{text}");
}

/// A token only an exec plugin knows (nothing in the kubeconfig names it)
/// is registered with the redactor as the request carrying it leaves: the
/// server refusing it cannot make Windlass print it.
#[tokio::test]
async fn an_exec_plugins_token_is_masked_though_only_the_plugin_knows_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let kube = kube();
    let dir = tempfile::tempdir().unwrap();
    let token = canary("exec-plugin-token");
    let plugin = dir.path().join("credential-plugin");
    fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nprintf '%s' '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\"}}}}'\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&plugin, fs::Permissions::from_mode(0o755)).unwrap();
    // The test kubeconfig with its user's token replaced by the plugin.
    let text = fs::read_to_string(&kube.kubeconfig).unwrap();
    let exec = format!(
        "exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n      interactiveMode: Never",
        plugin.display()
    );
    let replaced: String = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("token:") {
                format!("    {exec}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(replaced.contains("credential-plugin"), "{text}");
    let path = dir.path().join("kubeconfig");
    fs::write(&path, replaced).unwrap();
    assert_eq!(
        windlass_redact::global().redact(&format!("x {token} y")),
        format!("x {token} y"),
        "not known before the request"
    );
    let error = Cluster::connect(
        &Target {
            kubeconfig: Some(path),
            ..target(&kube, "default")
        },
        &Environment::default(),
    )
    .await
    .unwrap_err();
    let text = rendered(&error, error.hint());
    assert!(text.contains("401"), "{text}");
    assert_no_leak(text.as_bytes(), &token);
    assert_eq!(
        windlass_redact::global().redact(&format!("x {token} y")),
        "x **** y"
    );
}

#[tokio::test]
async fn one_connection_carries_the_concurrent_requests() {
    // HTTP/2 through ALPN: after connecting, requests in flight together
    // share the connection instead of opening one each (as HTTP/1.1
    // would). Counted by a proxy in front of the API server; TLS passes
    // through it (the server's certificate names 127.0.0.1).
    let kube = kube();
    let namespace = kube.fresh_namespace("h2");
    let netem = windlass_testkit::netem::Netem::start(
        "127.0.0.1:0".parse().unwrap(),
        kube.server.trim_start_matches("https://"),
        windlass_testkit::netem::NetemConfig {
            delay: Duration::from_millis(20),
            rate: None,
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = format!("https://{}", netem.addr());
    let path = kubeconfig_variant(&kube, dir.path(), &server, kube.token.expose());
    let target = Target {
        kubeconfig: Some(path),
        ..target(&kube, &namespace)
    };
    let cluster = Cluster::connect(&target, &Environment::default())
        .await
        .unwrap();
    assert_eq!(cluster.server_version(), "v1.20.2");
    let ledger = Ledger::new(&cluster, "dev");
    let (lock, entries, rollout, version) = tokio::join!(
        EnvLock::acquire(&cluster, "dev", "run-a", Duration::from_secs(30)),
        ledger.entries(),
        rollout::wait(&cluster, "app", Duration::from_secs(5)),
        cluster.client().apiserver_version(),
    );
    assert!(entries.unwrap().is_empty());
    assert!(
        rollout.unwrap().complete,
        "no workloads: nothing to wait for"
    );
    assert_eq!(version.unwrap().git_version, "v1.20.2");
    lock.unwrap().release().await.unwrap();
    assert_eq!(netem.stats().connections, 1, "{:?}", netem.stats());
}

#[tokio::test]
async fn opening_does_not_wait_and_reachable_tells_what_connect_would() {
    let kube = kube();
    let dir = tempfile::tempdir().unwrap();
    let token = canary("kube-token");
    // Nothing listens on port 1: opening succeeds, the answer is an error.
    let path = kubeconfig_variant(&kube, dir.path(), "https://127.0.0.1:1", &token);
    let nowhere = Target {
        kubeconfig: Some(path),
        ..target(&kube, "default")
    };
    let cluster = Cluster::open(&nowhere, &Environment::default())
        .await
        .unwrap();
    let error = cluster.reachable().await.unwrap_err();
    assert!(matches!(error, KubeError::Unreachable { .. }), "{error:?}");
    assert_eq!(error.exit_status(), ExitStatus::Remote);
    // Asked again (the second awaiting caller), the same answer.
    let again = cluster.reachable().await.unwrap_err();
    assert_eq!(again.to_string(), error.to_string());
    assert_no_leak(rendered(&error, error.hint()).as_bytes(), &token);

    let cluster = Cluster::open(&target(&kube, "default"), &Environment::default())
        .await
        .unwrap();
    cluster.reachable().await.unwrap();
    assert_eq!(cluster.server_version(), "v1.20.2");
}

// --------------------------------------------------------------- lease --

#[tokio::test]
async fn two_racing_takers_exactly_one_wins() {
    let kube = kube();
    let namespace = kube.fresh_namespace("lease-race");
    let cluster = connect(&kube, &namespace).await;
    for round in 0..5 {
        let environment = format!("prod{round}");
        let (a, b) = tokio::join!(
            EnvLock::acquire(&cluster, &environment, "run-a", Duration::from_secs(30)),
            EnvLock::acquire(&cluster, &environment, "run-b", Duration::from_secs(30)),
        );
        let (winner, loser) = match (a, b) {
            (Ok(lock), Err(error)) | (Err(error), Ok(lock)) => (lock, error),
            (Ok(_), Ok(_)) => panic!("round {round}: both took the lock"),
            (Err(a), Err(b)) => panic!("round {round}: neither took the lock: {a}; {b}"),
        };
        let LeaseError::Held {
            holder, expires_in, ..
        } = &loser
        else {
            panic!("round {round}: {loser:?}");
        };
        assert_eq!(holder, winner.holder());
        assert!(*expires_in <= Duration::from_secs(30));
        assert_eq!(loser.exit_status(), ExitStatus::Failure);
        assert!(loser.to_string().contains(winner.holder()), "{loser}");
        assert!(winner.takeover().is_none());
        let stored = kube.kubectl(&[
            "get",
            "lease",
            &format!("windlass-deploy.{environment}"),
            "-n",
            &namespace,
            "-o",
            "jsonpath={.spec.holderIdentity} {.spec.leaseDurationSeconds}",
        ]);
        assert_eq!(stored, format!("{} 30", winner.holder()));
        winner.release().await.unwrap();
    }
}

#[tokio::test]
async fn a_stale_lease_is_taken_over_and_a_renewed_one_is_not() {
    let kube = kube();
    let namespace = kube.fresh_namespace("lease-stale");
    let cluster = connect(&kube, &namespace).await;
    let ttl = Duration::from_secs(2);

    // A live holder renews: after twice its duration it still holds.
    let live = EnvLock::acquire(&cluster, "staging", "live-run", ttl)
        .await
        .unwrap();
    tokio::time::sleep(ttl * 2).await;
    live.check().unwrap();
    let error = EnvLock::acquire(&cluster, "staging", "other-run", ttl)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LeaseError::Held { holder, .. } if holder == "live-run"),
        "{error:?}"
    );

    // Killed: no more renewals (dropping the lock stops them, as a dead
    // process would). The lease stays until it expires, then is taken over.
    drop(live);
    let error = EnvLock::acquire(&cluster, "staging", "next-run", ttl)
        .await
        .unwrap_err();
    assert!(matches!(error, LeaseError::Held { .. }), "{error:?}");
    tokio::time::sleep(ttl + Duration::from_secs(1)).await;
    let next = EnvLock::acquire(&cluster, "staging", "next-run", ttl)
        .await
        .unwrap();
    let takeover = next.takeover().expect("the takeover is reported");
    assert_eq!(takeover.previous_holder, "live-run");
    let transitions = kube.kubectl(&[
        "get",
        "lease",
        "windlass-deploy.staging",
        "-n",
        &namespace,
        "-o",
        "jsonpath={.spec.holderIdentity} {.spec.leaseTransitions}",
    ]);
    assert_eq!(transitions, "next-run 1");

    // Release deletes it; the next taker starts fresh.
    next.release().await.unwrap();
    let gone = kube.kubectl_output(
        &["get", "lease", "windlass-deploy.staging", "-n", &namespace],
        None,
    );
    assert!(!gone.status.success(), "the lease is deleted on release");
    let fresh = EnvLock::acquire(&cluster, "staging", "third-run", ttl)
        .await
        .unwrap();
    assert!(fresh.takeover().is_none());
    fresh.release().await.unwrap();
}

#[tokio::test]
async fn a_lock_taken_over_is_lost_and_release_leaves_the_new_holders_lease() {
    let kube = kube();
    let namespace = kube.fresh_namespace("lease-lost");
    let cluster = connect(&kube, &namespace).await;
    let ttl = Duration::from_secs(3);
    let first = EnvLock::acquire(&cluster, "dev", "first", ttl)
        .await
        .unwrap();
    // Someone else overwrites the lease (as a takeover after a long stall
    // would): the renewal notices, release must not delete their lease.
    kube.kubectl(&[
        "patch",
        "lease",
        "windlass-deploy.dev",
        "-n",
        &namespace,
        "--type=merge",
        "-p",
        r#"{"spec":{"holderIdentity":"intruder"}}"#,
    ]);
    tokio::time::sleep(ttl).await;
    let error = first.check().unwrap_err();
    assert!(matches!(error, LeaseError::Lost { .. }), "{error:?}");
    first.release().await.unwrap();
    let holder = kube.kubectl(&[
        "get",
        "lease",
        "windlass-deploy.dev",
        "-n",
        &namespace,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert_eq!(holder, "intruder");
}

// -------------------------------------------------------------- ledger --

fn gate(n: u32) -> Event {
    Event::Gate {
        gate: format!("check-{n}"),
        passed: true,
        detail: String::new(),
    }
}

#[tokio::test]
async fn concurrent_appends_get_distinct_gap_free_seqs_in_order() {
    let kube = kube();
    let namespace = kube.fresh_namespace("ledger-race");
    let cluster = connect(&kube, &namespace).await;
    let ledger = Ledger::new(&cluster, "prod");
    assert!(ledger.entries().await.unwrap().is_empty());

    let writer = |name: &'static str| {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..6 {
                let entry = ledger
                    .append(NewEntry {
                        actor: name.to_owned(),
                        promotion: None,
                        bundle: bundle_id(1),
                        event: gate(n),
                    })
                    .await
                    .unwrap();
                seqs.push(entry.seq);
            }
            seqs
        })
    };
    let (a, b) = tokio::join!(writer("writer-a"), writer("writer-b"));
    let mut seqs: Vec<u64> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=12).collect::<Vec<u64>>(),
        "distinct and gap-free"
    );

    let entries = ledger.entries().await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<u64>>()
    );
    for entry in &entries {
        assert_eq!(entry.environment, "prod");
        assert_eq!(
            entry.promotion, entry.seq,
            "a record that starts a promotion names itself"
        );
        assert!(entry.time.ends_with('Z'), "{}", entry.time);
    }
    // Each writer's own records are in its order.
    for actor in ["writer-a", "writer-b"] {
        let gates: Vec<String> = entries
            .iter()
            .filter(|e| e.actor == actor)
            .map(|e| match &e.event {
                Event::Gate { gate, .. } => gate.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            gates,
            (0..6).map(|n| format!("check-{n}")).collect::<Vec<_>>()
        );
    }

    // A follow-up record keeps its promotion; the record is what is stored.
    let next = ledger
        .append(NewEntry {
            actor: "writer-a".into(),
            promotion: Some(3),
            bundle: bundle_id(2),
            event: Event::Upgraded { revision: 4 },
        })
        .await
        .unwrap();
    assert_eq!((next.seq, next.promotion), (13, 3));
    let stored = kube.kubectl(&[
        "get",
        "secret",
        "windlass.ledger.prod.v13",
        "-n",
        &namespace,
        "-o",
        "json",
    ]);
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_str(&stored).unwrap();
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["type"], "windlass.dev/ledger.v1");
    assert_eq!(stored["immutable"], true);
    assert_eq!(stored["metadata"]["labels"]["owner"], "windlass");
    assert_eq!(
        stored["metadata"]["labels"]["windlass.dev/environment"],
        "prod"
    );
    assert_eq!(stored["metadata"]["labels"]["windlass.dev/seq"], "13");
    let body = &secret.data.unwrap()["entry.json"].0;
    let body: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["event"]["kind"], "upgraded");
    assert_eq!(body["seq"], 13);

    // Another environment's ledger in the same namespace is separate.
    assert!(
        Ledger::new(&cluster, "staging")
            .entries()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_append_after_a_stale_read_is_refused_and_writes_nothing() {
    // What a promotion's `Started` record relies on: appended right after
    // the last record it read, it is refused when another process wrote
    // since, and nothing of it is stored.
    let kube = kube();
    let namespace = kube.fresh_namespace("ledger-after");
    let cluster = connect(&kube, &namespace).await;
    let reader = Ledger::new(&cluster, "prod");
    let other = Ledger::new(&cluster, "prod");
    let last = reader.entries().await.unwrap().len() as u64;
    assert_eq!(last, 0);
    let new = |n| NewEntry {
        actor: "reader".into(),
        promotion: None,
        bundle: bundle_id(1),
        event: gate(n),
    };
    let written = other
        .append(NewEntry {
            actor: "other".into(),
            ..new(0)
        })
        .await
        .unwrap();
    assert_eq!(written.seq, 1);
    assert_eq!(reader.append_after(last, new(1)).await.unwrap(), None);
    let entries = reader.entries().await.unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.seq, e.actor.as_str()))
            .collect::<Vec<_>>(),
        [(1, "other")]
    );
    let appended = reader.append_after(1, new(2)).await.unwrap().unwrap();
    assert_eq!((appended.seq, appended.promotion), (2, 2));
    assert_eq!(reader.entries().await.unwrap().len(), 2);
}

#[tokio::test]
async fn appends_of_two_processes_skip_each_others_numbers() {
    // Each `Ledger::new` is another process: it guesses the next number
    // from what it read or wrote itself, and a guess the other one took
    // is a conflict that makes it read again.
    let kube = kube();
    let namespace = kube.fresh_namespace("ledger-two");
    let cluster = connect(&kube, &namespace).await;
    let a = Ledger::new(&cluster, "prod");
    let b = Ledger::new(&cluster, "prod");
    let append = |ledger: &Ledger, actor: &str, n: u32| {
        let ledger = ledger.clone();
        let actor = actor.to_owned();
        async move {
            ledger
                .append(NewEntry {
                    actor,
                    promotion: None,
                    bundle: bundle_id(1),
                    event: gate(n),
                })
                .await
                .unwrap()
                .seq
        }
    };
    assert_eq!(append(&a, "a", 0).await, 1);
    assert_eq!(append(&a, "a", 1).await, 2);
    assert_eq!(append(&b, "b", 0).await, 3);
    assert_eq!(append(&b, "b", 1).await, 4);
    // `a` last wrote 2: its guess 3 is taken, it reads again and takes 5.
    assert_eq!(append(&a, "a", 2).await, 5);
    assert_eq!(append(&b, "b", 2).await, 6);
    let entries = a.entries().await.unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.seq, e.actor.as_str()))
            .collect::<Vec<_>>(),
        [(1, "a"), (2, "a"), (3, "b"), (4, "b"), (5, "a"), (6, "b")]
    );
}

#[tokio::test]
async fn a_broken_record_is_reported_by_name() {
    let kube = kube();
    let namespace = kube.fresh_namespace("ledger-broken");
    let cluster = connect(&kube, &namespace).await;
    let ledger = Ledger::new(&cluster, "prod");
    ledger
        .append(NewEntry {
            actor: "someone".into(),
            promotion: None,
            bundle: bundle_id(1),
            event: Event::Approved {
                by: "someone".into(),
                reason: None,
                run_url: None,
            },
        })
        .await
        .unwrap();
    kube.apply(
        &namespace,
        r#"
apiVersion: v1
kind: Secret
metadata:
  name: windlass.ledger.prod.v2
  labels: {owner: windlass, windlass.dev/environment: prod, windlass.dev/seq: "2"}
type: windlass.dev/ledger.v1
stringData:
  entry.json: '{"seq": 2, "not": "a record"}'
"#,
    );
    let error = ledger.entries().await.unwrap_err();
    assert!(
        matches!(error, LedgerError::BrokenRecord { .. }),
        "{error:?}"
    );
    let text = rendered(&error, error.hint());
    assert!(text.contains("windlass.ledger.prod.v2"), "{text}");
    assert!(text.contains(&namespace), "{text}");
    // Appending still takes the next number after it.
    let next = ledger
        .append(NewEntry {
            actor: "someone".into(),
            promotion: None,
            bundle: bundle_id(1),
            event: gate(0),
        })
        .await
        .unwrap();
    assert_eq!(next.seq, 3);
}

// ------------------------------------------------------------- rollout --

fn deployment(name: &str, release: &str, image: &str, replicas: u32) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  annotations: {{meta.helm.sh/release-name: {release}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: app, image: "{image}"}}]
"#
    )
}

#[tokio::test]
async fn rollout_wait_passes_when_the_release_is_ready() {
    let kube = kube();
    let namespace = kube.fresh_namespace("rollout-ok");
    let cluster = connect(&kube, &namespace).await;
    kube.apply(
        &namespace,
        &deployment("web", "shop", "example.invalid/web:1", 2),
    );
    kube.apply(
        &namespace,
        &deployment("worker", "shop", "example.invalid/worker:1", 1),
    );
    // Not part of the release: a stuck workload of another one is ignored.
    kube.apply(
        &namespace,
        &deployment("other", "other", "example.invalid/x:broken", 1),
    );
    let report = rollout::wait(&cluster, "shop", Duration::from_secs(120))
        .await
        .unwrap();
    assert!(report.complete, "{}", report.summary());
    let names: Vec<String> = report
        .workloads
        .iter()
        .map(rollout::WorkloadStatus::id)
        .collect();
    assert_eq!(names, ["Deployment/web", "Deployment/worker"]);
    assert_eq!(report.workloads[0].ready_replicas, 2);
}

#[tokio::test]
async fn rollout_wait_names_a_stuck_workload() {
    let kube = kube();
    let namespace = kube.fresh_namespace("rollout-stuck");
    let cluster = connect(&kube, &namespace).await;
    kube.apply(
        &namespace,
        &deployment("web", "shop", "example.invalid/web:1", 1),
    );
    let ready = rollout::wait(&cluster, "shop", Duration::from_secs(120))
        .await
        .unwrap();
    assert!(ready.complete, "{}", ready.summary());
    kube.apply(
        &namespace,
        &deployment("api", "shop", "example.invalid/api:broken", 2),
    );
    let report = rollout::wait(&cluster, "shop", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(!report.complete);
    let stuck: Vec<String> = report.stuck().map(rollout::WorkloadStatus::id).collect();
    assert_eq!(stuck, ["Deployment/api"], "{}", report.summary());
    let summary = report.summary();
    assert!(summary.contains("Deployment/api"), "{summary}");
    assert!(summary.contains("0 ready"), "{summary}");
    assert!(summary.contains(&namespace), "{summary}");
    assert!(
        summary.contains("Available=False"),
        "the conditions' messages: {summary}"
    );
}

#[tokio::test]
async fn an_environment_name_that_cannot_name_objects_is_a_usage_error() {
    let kube = kube();
    let cluster = connect(&kube, "default").await;
    let error = EnvLock::acquire(&cluster, "Prod_EU", "run", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(error, LeaseError::InvalidEnvironment(_)),
        "{error:?}"
    );
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    assert!(error.to_string().contains("Prod_EU"), "{error}");
    let error = Ledger::new(&cluster, "Prod_EU")
        .entries()
        .await
        .unwrap_err();
    assert!(
        matches!(error, LedgerError::InvalidEnvironment(_)),
        "{error:?}"
    );
    assert_eq!(error.exit_status(), ExitStatus::Usage);
}

#[tokio::test]
async fn a_kubeconfig_that_does_not_parse_does_not_show_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = canary("kube-token");
    let path = dir.path().join("kubeconfig");
    fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {{token: {token}, [\ncontexts: []\n"
        ),
    )
    .unwrap();
    let target = Target {
        kubeconfig: Some(path.clone()),
        ..Target::default()
    };
    let error = Cluster::connect(&target, &Environment::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, KubeError::ReadKubeconfig { .. }),
        "{error:?}"
    );
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    let text = rendered(&error, error.hint());
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("line 5"), "says where: {text}");
    assert_no_leak(text.as_bytes(), &token);
    assert_no_leak(format!("{error:?}").as_bytes(), &token);
}
