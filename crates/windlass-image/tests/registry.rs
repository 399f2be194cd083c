//! `image push`, `copy`, `tag` and `inspect` against the harness's real
//! registries (open, basic auth, TLS with basic auth), checked with skopeo
//! as an independent client; a fault proxy that cuts an upload mid-blob;
//! an interrupted push; and a canary credential from each source
//! (config.json, a secret reference, a credential helper) searched for in
//! all output.

#![allow(clippy::unwrap_used, reason = "tests panic on unexpected failures")]
#![allow(
    clippy::disallowed_methods,
    reason = "skopeo and curl are the independent clients the results are checked with"
)]

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use base64::Engine as _;
use serde_json::{Value, json};
use windlass_image::Layout;
use windlass_image::digest::Digest;
use windlass_testkit::cli::{Cli, Run};
use windlass_testkit::{Services, canary};

mod support;
use support::{INDEX, MANIFEST, descriptor, run_blocking, unique};

/// Deterministic incompressible bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[3]
        })
        .collect()
}

/// Writes an image of `layers` random layers into a new layout at `dir`,
/// tagged `tag`; returns the manifest digest and every blob digest.
fn make_layout(dir: &Path, tag: &str, layers: &[usize], seed: u64) -> (Digest, Vec<Digest>) {
    let layout = Layout::open_or_create(dir).unwrap();
    let mut blobs = Vec::new();
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, &len) in layers.iter().enumerate() {
        // gzip, as skopeo would otherwise compress the layers it copies.
        let raw = noise(seed + i as u64, len);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let bytes = gz.finish().unwrap();
        let (digest, size) = layout.write_blob(&bytes).unwrap();
        descriptors.push(descriptor(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &digest,
            size,
        ));
        diff_ids.push(Digest::of(&raw).to_string());
        blobs.push(digest);
    }
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/true"], "Labels": {"seed": seed.to_string()}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let image = support::write_image(&layout, &config, &descriptors);
    blobs.push(image.config);
    support::set_tag(&layout, MANIFEST, &image.digest, image.size, tag);
    (image.digest, blobs)
}

fn cli(dir: &Path) -> Cli {
    support::image(dir).timeout(std::time::Duration::from_secs(300))
}

/// `skopeo inspect --raw`: the digest of the manifest bytes the registry
/// serves.
fn skopeo_digest(args: &[&str], image: &str) -> Digest {
    let tools = Services::load().tools();
    let output = Command::new(&tools.skopeo)
        .arg("inspect")
        .arg("--raw")
        .args(args)
        .arg(format!("docker://{image}"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "skopeo inspect {image}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // skopeo ends the raw bytes with a newline of its own.
    let raw = output.stdout.strip_suffix(b"\n").unwrap_or(&output.stdout);
    Digest::of(raw)
}

fn skopeo_copy_to_layout(args: &[&str], image: &str, dir: &Path) {
    let tools = Services::load().tools();
    let output = Command::new(&tools.skopeo)
        .arg("copy")
        .args(args)
        .arg(format!("docker://{image}"))
        .arg(format!("oci:{}:back", dir.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "skopeo copy {image}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn json_ok(run: &Run) -> Value {
    assert_eq!(run.code, 0, "{run}");
    run.json()["data"].clone()
}

#[test]
fn push_to_the_open_registry_then_skopeo_reads_and_copies_it_back() {
    let registries = Services::load().registries();
    let tmp = tempfile::tempdir().unwrap();
    let (digest, blobs) = make_layout(&tmp.path().join("img"), "v1", &[200_000, 150_000, 1], 1);
    let image = format!("{}/{}:v1", registries.open, unique("push"));
    let run = cli(tmp.path())
        .args(["--json", "push", "oci:img:v1", &image])
        .run();
    let data = json_ok(&run);
    assert_eq!(data["digest"], digest.to_string());
    assert_eq!(data["blobs_sent"], blobs.len());
    assert_eq!(data["tag"], "v1");
    // skopeo sees the same bytes at the tag and copies them back unchanged.
    let tls = ["--tls-verify=false"];
    assert_eq!(skopeo_digest(&tls, &image), digest);
    let back = tmp.path().join("back");
    skopeo_copy_to_layout(&tls, &image, &back);
    let back = Layout::open(&back).unwrap();
    let root = back.resolve(Some("back")).unwrap();
    assert_eq!(root.digest().to_string(), digest.to_string());
    for blob in &blobs {
        assert!(back.has_blob(blob), "{blob}");
    }
    // A second push sends nothing: every blob is there.
    let again = json_ok(
        &cli(tmp.path())
            .args(["--json", "push", "oci:img:v1", &image])
            .run(),
    );
    assert_eq!(again["blobs_sent"], 0);
    assert_eq!(again["blobs_existing"], blobs.len());
    assert_eq!(again["bytes_sent"], 0);
}

#[test]
fn copy_within_a_registry_mounts_and_across_registries_sends() {
    let services = Services::load();
    let registries = services.registries();
    let tmp = tempfile::tempdir().unwrap();
    let (digest, blobs) = make_layout(&tmp.path().join("img"), "v1", &[100_000, 100_000], 2);
    let first = format!("{}/{}:v1", registries.open, unique("copy-a"));
    json_ok(
        &cli(tmp.path())
            .args(["--json", "push", "oci:img:v1", &first])
            .run(),
    );
    let second = format!("{}/{}:v2", registries.open, unique("copy-b"));
    let data = json_ok(
        &cli(tmp.path())
            .args(["--json", "copy", &first, &second])
            .run(),
    );
    assert_eq!(data["digest"], digest.to_string());
    assert_eq!(data["blobs_mounted"], blobs.len());
    assert_eq!(data["blobs_sent"], 0);
    // To the basic-auth registry (another host): sent, from the staging copy.
    let auth_dir = tmp.path().join("auth");
    std::fs::create_dir_all(&auth_dir).unwrap();
    std::fs::write(
        auth_dir.join("config.json"),
        docker_config(
            &registries.auth,
            &registries.user,
            registries.password.expose(),
        ),
    )
    .unwrap();
    let third = format!("{}/{}:v3", registries.auth, unique("copy-c"));
    let data = json_ok(
        &cli(tmp.path())
            .env("DOCKER_CONFIG", &auth_dir)
            .args(["--json", "copy", &second, &third])
            .run(),
    );
    assert_eq!(data["blobs_sent"], blobs.len());
    let creds = format!(
        "--creds={}:{}",
        registries.user,
        registries.password.expose()
    );
    assert_eq!(
        skopeo_digest(&["--tls-verify=false", &creds], &third),
        digest
    );
    // Back into a layout, byte for byte.
    let data = json_ok(
        &cli(tmp.path())
            .args(["--json", "copy", &second, "oci:pulled:x"])
            .run(),
    );
    assert_eq!(data["digest"], digest.to_string());
    let pulled = Layout::open(&tmp.path().join("pulled")).unwrap();
    assert_eq!(
        pulled.resolve(Some("x")).unwrap().digest().to_string(),
        digest.to_string()
    );
    for blob in &blobs {
        pulled.read_blob(blob, 1 << 20).unwrap();
    }
    // Untagged into a layout: the image is listed in its index.
    json_ok(
        &cli(tmp.path())
            .args(["--json", "copy", &second, "oci:untagged"])
            .run(),
    );
    let untagged = Layout::open(&tmp.path().join("untagged")).unwrap();
    assert_eq!(
        untagged.resolve(None).unwrap().digest().to_string(),
        digest.to_string()
    );
}

#[test]
fn tag_writes_the_manifest_only_and_inspect_reports_it() {
    let registries = Services::load().registries();
    let tmp = tempfile::tempdir().unwrap();
    let (digest, blobs) = make_layout(&tmp.path().join("img"), "v1", &[50_000], 3);
    let repo = format!("{}/{}", registries.open, unique("tag"));
    json_ok(
        &cli(tmp.path())
            .args(["--json", "push", "oci:img:v1", &format!("{repo}:v1")])
            .run(),
    );
    let data = json_ok(
        &cli(tmp.path())
            .args(["--json", "tag", &format!("{repo}:v1"), "stable", "2026.11"])
            .run(),
    );
    assert_eq!(data["digest"], digest.to_string());
    assert_eq!(data["tagged"].as_array().unwrap().len(), 2);
    assert_eq!(
        skopeo_digest(&["--tls-verify=false"], &format!("{repo}:stable")),
        digest
    );
    let data = json_ok(
        &cli(tmp.path())
            .args(["--json", "inspect", &format!("{repo}:2026.11")])
            .run(),
    );
    assert_eq!(data["digest"], digest.to_string());
    let image = &data["image_manifest"];
    assert_eq!(image["config"]["os"], "linux");
    assert_eq!(image["config"]["cmd"], json!(["/bin/true"]));
    assert_eq!(image["layers"].as_array().unwrap().len(), blobs.len() - 1);
    assert!(image["layers"][0]["size"].as_u64().unwrap() > 50_000);
    // A bad tag is a usage error.
    let run = cli(tmp.path())
        .args(["tag", &format!("{repo}:v1"), "no/slash"])
        .run();
    assert_eq!(run.code, 2, "{run}");
}

fn docker_config(registry: &str, user: &str, password: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    json!({"auths": {registry: {"auth": auth}}}).to_string()
}

/// Each credential source works with the right password, and a canary
/// password from it is refused (exit 3) without showing up anywhere.
#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one story: three sources, right and canary"
)]
fn credentials_from_config_json_secret_reference_and_helper() {
    let registries = Services::load().registries();
    let tmp = tempfile::tempdir().unwrap();
    make_layout(&tmp.path().join("img"), "v1", &[10_000], 4);
    let image = format!("{}/{}:v1", registries.auth, unique("creds"));
    let password = registries.password.expose().clone();

    // config.json (DOCKER_CONFIG).
    let config_dir = tmp.path().join("docker");
    std::fs::create_dir_all(&config_dir).unwrap();
    let write = |pw: &str| {
        std::fs::write(
            config_dir.join("config.json"),
            docker_config(&registries.auth, &registries.user, pw),
        )
        .unwrap();
    };
    write(&password);
    let run = cli(tmp.path())
        .env("DOCKER_CONFIG", &config_dir)
        .args(["push", "-v", "oci:img:v1", &image])
        .run();
    assert_eq!(run.code, 0, "{run}");
    let secret = canary("registry-config-json");
    write(&secret);
    let run = cli(tmp.path())
        .env("DOCKER_CONFIG", &config_dir)
        .args(["push", "-v", "oci:img:v1", &image])
        .run();
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stderr.contains("refused our credentials"), "{run}");
    run.assert_no_leak(&secret);
    let run = cli(tmp.path())
        .env("DOCKER_CONFIG", &config_dir)
        .args(["--json", "-vv", "inspect", &image])
        .run();
    assert_eq!(run.code, 3, "{run}");
    run.assert_no_leak(&secret);

    // A secret reference in windlass.toml (wins over the file).
    let project = support::auth_registry_project(tmp.path(), &registries);
    let layout_dir = tmp.path().join("img");
    let source = format!("oci:{}:v1", layout_dir.display());
    let run = cli(&project)
        .env("DOCKER_CONFIG", &config_dir)
        .env("REG_PASSWORD", &password)
        .args(["inspect", &image])
        .run();
    assert_eq!(run.code, 0, "{run}");
    let secret = canary("registry-secret-ref");
    let run = cli(&project)
        .env("REG_PASSWORD", &secret)
        .args(["--json", "push", &source, &image])
        .run();
    assert_eq!(run.code, 3, "{run}");
    run.assert_no_leak(&secret);
    // A plain value there is refused before anything is sent.
    std::fs::write(
        project.join("windlass.toml"),
        format!(
            "[image.registries.\"{}\"]\nusername = \"u\"\npassword = \"{secret}\"\n",
            registries.auth
        ),
    )
    .unwrap();
    let run = cli(&project).args(["inspect", &image]).run();
    assert_eq!(run.code, 2, "{run}");
    run.assert_no_leak(&secret);

    // A credential helper (credsStore), the host on its stdin.
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper_dir = tmp.path().join("helper-config");
    std::fs::create_dir_all(&helper_dir).unwrap();
    std::fs::write(helper_dir.join("config.json"), r#"{"credsStore":"wltest"}"#).unwrap();
    let write_helper = |pw: &str| {
        let script = bin.join("docker-credential-wltest");
        let mut file = std::fs::File::create(&script).unwrap();
        writeln!(
            file,
            "#!/bin/sh\nread host\n[ \"$1\" = get ] || exit 1\n[ \"$host\" = \"{}\" ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\nprintf '%s' '{{\"ServerURL\":\"'\"$host\"'\",\"Username\":\"{}\",\"Secret\":\"{pw}\"}}'",
            registries.auth, registries.user
        )
        .unwrap();
        drop(file);
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    };
    #[allow(clippy::disallowed_methods, reason = "the test hands its PATH on")]
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    write_helper(&password);
    let run = cli(tmp.path())
        .env("DOCKER_CONFIG", &helper_dir)
        .env("PATH", &path)
        .args(["inspect", &image])
        .run();
    assert_eq!(run.code, 0, "{run}");
    let secret = canary("registry-helper");
    write_helper(&secret);
    let run = cli(tmp.path())
        .env("DOCKER_CONFIG", &helper_dir)
        .env("PATH", &path)
        .args(["-v", "tag", &image, "v2"])
        .run();
    assert_eq!(run.code, 3, "{run}");
    run.assert_no_leak(&secret);
    let run = cli(tmp.path())
        .env("DOCKER_CONFIG", &helper_dir)
        .env("PATH", &path)
        .args([
            "--json",
            "copy",
            &image,
            &format!("{}/{}:x", registries.auth, unique("helper")),
        ])
        .run();
    assert_eq!(run.code, 3, "{run}");
    run.assert_no_leak(&secret);
}

#[test]
fn tls_registry_with_its_ca_file() {
    let registries = Services::load().registries();
    let ca = std::fs::read_to_string(&registries.ca_file).unwrap();
    let served = std::fs::read_to_string(
        registries
            .ca_file
            .parent()
            .unwrap()
            .join("../registry-tls/registry.crt"),
    )
    .unwrap_or_default();
    assert!(
        ca.trim() != served.trim(),
        "the TLS registry serves its CA certificate as its own, which rustls refuses \
         (CaUsedAsEndEntity): remove the registry-ca and registry-tls fixtures and restart \
         the services (scripts/services.sh stop && scripts/services.sh start) to make a CA \
         and a server certificate"
    );
    let tmp = tempfile::tempdir().unwrap();
    // Large enough to go in chunks of the configured size.
    let (digest, _) = make_layout(&tmp.path().join("img"), "v1", &[700_000, 5], 5);
    std::fs::write(
        tmp.path().join("windlass.toml"),
        format!(
            "[image.registries.\"{}\"]\nusername = \"{}\"\npassword = \"env://REG_PASSWORD\"\nca-file = \"{}\"\nchunk-size = 262144\n",
            registries.tls,
            registries.user,
            registries.ca_file.display()
        ),
    )
    .unwrap();
    let image = format!("{}/{}:v1", registries.tls, unique("tls"));
    let run = cli(tmp.path())
        .env("REG_PASSWORD", registries.password.expose())
        .args(["--json", "push", "oci:img:v1", &image])
        .run();
    let data = json_ok(&run);
    assert_eq!(data["digest"], digest.to_string());
    let creds = format!(
        "--creds={}:{}",
        registries.user,
        registries.password.expose()
    );
    let cert_dir = format!("--cert-dir={}", registries.cert_dir.display());
    assert_eq!(skopeo_digest(&[&creds, &cert_dir], &image), digest);
    // Without the CA file, the certificate is refused: a usage-class error
    // with a hint, not a retry storm.
    let other = tempfile::tempdir().unwrap();
    let run = cli(other.path()).args(["inspect", &image]).run();
    assert_ne!(run.code, 0, "{run}");
    assert!(run.stderr.contains("hint:"), "{run}");
}

/// A TCP proxy to `upstream` that cuts the first connection on which the
/// client has sent more than `cut_after` bytes (once).
struct FaultProxy {
    addr: std::net::SocketAddr,
    cuts: Arc<AtomicU64>,
    _task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    async fn start(upstream: String, cut_after: u64) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let armed = Arc::new(AtomicBool::new(true));
        let cuts = Arc::new(AtomicU64::new(0));
        let shared = Arc::clone(&cuts);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                let armed = Arc::clone(&armed);
                let cuts = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    relay(client, server, cut_after, &armed, &cuts).await;
                });
            }
        });
        Self {
            addr,
            cuts,
            _task: task,
        }
    }
}

async fn relay(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    cut_after: u64,
    armed: &AtomicBool,
    cuts: &AtomicU64,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async {
        let mut sent = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            sent += n as u64;
            if sent > cut_after && armed.swap(false, Ordering::SeqCst) {
                cuts.fetch_add(1, Ordering::SeqCst);
                return;
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    };
    // Either side ending ends the connection (both halves dropped).
    tokio::select! {
        () = up => {},
        () = down => {},
    }
}

/// The connection drops in the middle of a blob, monolithic and chunked:
/// the upload is looked up and resumed (or restarted when the registry
/// will not resume it), never resent blindly, and ends with the right
/// digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_mid_blob_resumes_to_the_right_digest() {
    let registries = Services::load().registries();
    for chunked in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let (digest, blobs) = make_layout(
            &tmp.path().join("img"),
            "v1",
            &[3_000_000],
            6 + u64::from(chunked),
        );
        let proxy = FaultProxy::start(registries.open.clone(), 1_500_000).await;
        let host = proxy.addr.to_string();
        if chunked {
            std::fs::write(
                tmp.path().join("windlass.toml"),
                format!("[image.registries.\"{host}\"]\nchunk-size = 1048576\n"),
            )
            .unwrap();
        }
        let repo = unique(if chunked {
            "fault-chunked"
        } else {
            "fault-mono"
        });
        let image = format!("{host}/{repo}:v1");
        let run = run_blocking(
            cli(tmp.path())
                .env("WINDLASS_HTTP_RETRY_BUDGET", "60s")
                .args(["--json", "push", "oci:img:v1", &image]),
        )
        .await;
        let data = json_ok(&run);
        assert_eq!(proxy.cuts.load(Ordering::SeqCst), 1, "the proxy cut once");
        assert!(data["uploads_resumed"].as_u64().unwrap() >= 1, "{data}");
        assert_eq!(data["digest"], digest.to_string());
        // Read directly from the registry: every blob whole.
        let direct = format!("{}/{repo}:v1", registries.open);
        let back = tmp.path().join("back");
        skopeo_copy_to_layout(&["--tls-verify=false"], &direct, &back);
        let back = Layout::open(&back).unwrap();
        for blob in &blobs {
            back.read_blob(blob, 16 << 20).unwrap();
        }
    }
}

/// SIGINT in the middle of a push (slowed down by a shaped link): the tag
/// is either absent or points at a manifest whose blobs are all there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_push_never_leaves_a_tag_on_missing_content() {
    let registries = Services::load().registries();
    let tmp = tempfile::tempdir().unwrap();
    make_layout(&tmp.path().join("img"), "v1", &[2_000_000; 5], 8);
    let netem = windlass_testkit::netem::Netem::start(
        "127.0.0.1:0".parse().unwrap(),
        &registries.open,
        windlass_testkit::netem::NetemConfig {
            delay: std::time::Duration::from_millis(5),
            rate: Some(40_000_000),
        },
    )
    .await
    .unwrap();
    let repo = unique("interrupted");
    let image = format!("{}/{repo}:v1", netem.addr());
    let child = cli(tmp.path()).args(["push", "oci:img:v1", &image]).spawn();
    // Wait until some bytes went up, then interrupt.
    while netem.stats().bytes_up < 1_000_000 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.interrupt();
    let run = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap();
    assert_eq!(run.code, 130, "the push ends like SIGINT: {run}");
    let tools = Services::load().tools();
    let inspect = Command::new(&tools.skopeo)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/{repo}:v1", registries.open))
        .output()
        .unwrap();
    if inspect.status.success() {
        let manifest: Value = serde_json::from_slice(&inspect.stdout).unwrap();
        let client = blob_exists(&registries.open, &repo);
        for layer in manifest["layers"].as_array().unwrap() {
            assert!(client(layer["digest"].as_str().unwrap()), "missing {layer}");
        }
    }
}

/// Whether a blob exists, asked with curl (an independent client).
fn blob_exists(registry: &str, repo: &str) -> impl Fn(&str) -> bool {
    let registry = registry.to_owned();
    let repo = repo.to_owned();
    move |digest: &str| {
        let output = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "-I"])
            .arg(format!("http://{registry}/v2/{repo}/blobs/{digest}"))
            .status()
            .unwrap();
        output.success()
    }
}

/// An SBOM attached as a referrer shows in `inspect` and goes with `copy`
/// (the fallback tag kept at both ends: this registry has no referrers API).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_are_attached_inspected_and_copied() {
    let registries = Services::load().registries();
    let tmp = tempfile::tempdir().unwrap();
    let (digest, _) = make_layout(&tmp.path().join("img"), "v1", &[1000], 9);
    let repo = unique("referrers");
    let image = format!("{}/{repo}:v1", registries.open);
    json_ok(&run_blocking(cli(tmp.path()).args(["--json", "push", "oci:img:v1", &image])).await);
    let client = windlass_image::registry::Client::new(windlass_image::registry::ClientConfig {
        http: windlass_http::HttpConfig::default(),
        hosts: std::collections::BTreeMap::default(),
        files: windlass_image::registry::credentials::CredentialFiles::new(Vec::new(), tmp.path()),
        jobs: 2,
    });
    let reference: windlass_image::Reference = image.parse().unwrap();
    let repo_handle = client.repo(&reference).await.unwrap();
    let subject = repo_handle.head_manifest("v1").await.unwrap().unwrap();
    let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}"#;
    let attached = windlass_image::registry::attach_referrer(
        &client,
        &reference,
        &subject,
        "application/vnd.cyclonedx+json",
        sbom,
    )
    .await
    .unwrap();
    // Attaching twice keeps one entry in the fallback index.
    windlass_image::registry::attach_referrer(
        &client,
        &reference,
        &subject,
        "application/vnd.cyclonedx+json",
        sbom,
    )
    .await
    .unwrap();
    let referrers = repo_handle.referrers(&digest).await.unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0].digest(), attached.digest());
    let data = json_ok(&run_blocking(cli(tmp.path()).args(["--json", "inspect", &image])).await);
    assert_eq!(
        data["referrers"][0]["artifact_type"],
        "application/vnd.cyclonedx+json"
    );
    let copy = format!("{}/{}:v1", registries.open, unique("referrers-copy"));
    let data =
        json_ok(&run_blocking(cli(tmp.path()).args(["--json", "copy", &image, &copy])).await);
    assert_eq!(data["referrers"], 1);
    let copied: windlass_image::Reference = copy.parse().unwrap();
    let copied_repo = client.repo(&copied).await.unwrap();
    let referrers = copied_repo.referrers(&digest).await.unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0].digest(), attached.digest());
    // skopeo reads the fallback tag as an ordinary index.
    skopeo_digest(
        &["--tls-verify=false"],
        &format!(
            "{}/{}:{}",
            registries.open,
            copied.repository,
            digest.referrers_tag()
        ),
    );
}

/// Writes an index over two images (amd64 and arm64) into `dir`, tagged
/// `tag`; returns the index digest and each platform's layer digest.
fn make_index(dir: &Path, tag: &str) -> (Digest, Vec<(String, Digest)>) {
    let (amd64, amd64_blobs) = make_layout(&dir.join("amd64"), "x", &[30_000], 20);
    let (arm64, arm64_blobs) = make_layout(&dir.join("arm64"), "x", &[30_000], 21);
    let layout = Layout::open_or_create(&dir.join("index")).unwrap();
    let mut manifests = Vec::new();
    for (arch, sub, digest) in [("amd64", "amd64", &amd64), ("arm64", "arm64", &arm64)] {
        let from = Layout::open(&dir.join(sub)).unwrap();
        for entry in std::fs::read_dir(dir.join(sub).join("blobs/sha256")).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            layout.write_blob(&bytes).unwrap();
        }
        let size = from.read_blob(digest, 1 << 20).unwrap().len();
        let mut entry = descriptor(MANIFEST, digest, size as u64);
        entry["platform"] = json!({"os": "linux", "architecture": arch});
        manifests.push(entry);
    }
    let (digest, size) = support::write_index(&layout, &manifests);
    support::set_tag(&layout, INDEX, &digest, size, tag);
    (
        digest,
        vec![
            ("amd64".to_owned(), amd64_blobs[0].clone()),
            ("arm64".to_owned(), arm64_blobs[0].clone()),
        ],
    )
}

/// An index goes up with every platform, digests unchanged; a pull for
/// one platform (the build's base image) fetches only that platform's
/// blobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_is_pushed_whole_and_pulled_per_platform() {
    let registries = Services::load().registries();
    let tmp = tempfile::tempdir().unwrap();
    let (digest, layers) = make_index(tmp.path(), "multi");
    let image = format!("{}/{}:multi", registries.open, unique("index"));
    let source = format!("oci:{}:multi", tmp.path().join("index").display());
    let data =
        json_ok(&run_blocking(cli(tmp.path()).args(["--json", "push", &source, &image])).await);
    assert_eq!(data["digest"], digest.to_string());
    assert_eq!(data["manifests"], 3);
    assert_eq!(skopeo_digest(&["--tls-verify=false"], &image), digest);
    let data = json_ok(&run_blocking(cli(tmp.path()).args(["--json", "inspect", &image])).await);
    let platforms: Vec<&str> = data["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);

    let client = windlass_image::registry::Client::new(windlass_image::registry::ClientConfig {
        http: windlass_http::HttpConfig::default(),
        hosts: std::collections::BTreeMap::default(),
        files: windlass_image::registry::credentials::CredentialFiles::new(Vec::new(), tmp.path()),
        jobs: 2,
    });
    let pulled = Layout::open_or_create(&tmp.path().join("pulled")).unwrap();
    let platform = oci_spec::image::PlatformBuilder::default()
        .os(oci_spec::image::Os::Linux)
        .architecture(oci_spec::image::Arch::Amd64)
        .build()
        .unwrap();
    let reference: windlass_image::Reference = image.parse().unwrap();
    let root =
        windlass_image::registry::pull_into_layout(&client, &reference, &[platform], &pulled)
            .await
            .unwrap();
    assert_eq!(root.digest().to_string(), digest.to_string());
    assert!(pulled.has_blob(&layers[0].1), "the amd64 layer is there");
    assert!(!pulled.has_blob(&layers[1].1), "the arm64 layer is not");
}

/// Inside GitHub Actions `push` and `copy` set the step outputs `digest`
/// and `reference` (pinned) in `$GITHUB_OUTPUT`, as heredoc entries.
#[test]
fn push_and_copy_set_step_outputs_in_github_actions() {
    let services = Services::load();
    let registries = services.registries();
    let tmp = tempfile::tempdir().unwrap();
    let (digest, _) = make_layout(&tmp.path().join("img"), "v1", &[10_000], 7);
    let outputs = tmp.path().join("github_output");
    let repo = format!("{}/{}", registries.open, unique("outputs"));
    let pushed = format!("{repo}:v1");
    let copied = format!("{repo}:v2");
    for args in [
        ["push", "oci:img:v1", pushed.as_str()],
        ["copy", pushed.as_str(), copied.as_str()],
    ] {
        std::fs::write(&outputs, "").unwrap();
        let run = cli(tmp.path())
            .args(args)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &outputs)
            .run();
        assert_eq!(run.code, 0, "{run}");
        let text = std::fs::read_to_string(&outputs).unwrap();
        assert!(text.starts_with("digest<<ghadelimiter_"), "{text}");
        let entries =
            windlass_testkit::actions::parse_file_command(&text, "GITHUB_OUTPUT").unwrap();
        assert_eq!(entries["digest"], digest.to_string(), "{args:?}");
        assert_eq!(entries["reference"], format!("{repo}@{digest}"), "{args:?}");
    }
}

/// Where a registry's credential comes from, as `release plan` names it
/// (never the credential): none asked for by an open registry, none found
/// for one that asks, a Docker auth file, and `[image.registries]`, which
/// wins over the file.
#[tokio::test]
async fn a_registrys_credential_source_is_named_never_shown() {
    let registries = Services::load().registries();
    let tmp = tempfile::tempdir().unwrap();
    let password = registries.password.expose().clone();
    let config_dir = tmp.path().join("docker");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.json"),
        docker_config(&registries.auth, &registries.user, &password),
    )
    .unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let project = support::auth_registry_project(tmp.path(), &registries);
    let printer = windlass_output::Printer::new(&windlass_output::OutputArgs::default(), "test");

    let source = |registry: String, docker_config: &Path, with_project: bool| {
        let loaded = windlass_secrets::ToolConfig::load(
            with_project
                .then(|| project.join("windlass.toml"))
                .as_deref(),
            None,
        )
        .unwrap();
        let ctx = windlass_image::cli::Context {
            image: loaded.config.section("image").unwrap(),
            config: loaded.config,
            env: windlass_config::Environment::from_vars([
                ("DOCKER_CONFIG", docker_config.as_os_str()),
                ("REG_PASSWORD", std::ffi::OsStr::new(&password)),
                ("HOME", empty.as_os_str()),
            ]),
            cwd: tmp.path().to_path_buf(),
        };
        let printer = &printer;
        async move {
            let reference: windlass_image::Reference =
                format!("{registry}/{}:v1", unique("source"))
                    .parse()
                    .unwrap();
            let client = windlass_image::registry::open_client(
                &ctx,
                &windlass_image::registry::TransferArgs { jobs: 1 },
                printer,
                &[reference.registry.as_str()],
            )
            .await
            .unwrap();
            client.repo(&reference).await.unwrap().credential_source()
        }
    };
    assert_eq!(
        source(registries.open.clone(), &empty, false).await,
        "none (the registry asks for none)"
    );
    assert!(
        source(registries.auth.clone(), &empty, false)
            .await
            .starts_with("none found"),
    );
    assert_eq!(
        source(registries.auth.clone(), &config_dir, false).await,
        config_dir.join("config.json").display().to_string()
    );
    let configured = source(registries.auth.clone(), &config_dir, true).await;
    assert_eq!(configured, "`[image.registries]` in windlass.toml");
    assert!(!configured.contains(&password));
}
