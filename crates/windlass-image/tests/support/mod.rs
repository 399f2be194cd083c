//! What the image tool's tests share: the binary run in a test's
//! directory, OCI layouts written by hand (configs, manifests, indexes,
//! tags), the example project's wheel, a repository name of the test run's
//! own, and the container tools run with the services' configuration.

#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "shared by several test binaries, each using a part; a broken fixture should panic"
)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use windlass_image::Layout;
use windlass_image::digest::Digest;
use windlass_testkit::cli::{Cli, Run};
use windlass_testkit::{Registries, Services};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_windlass-image");

pub(crate) const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// The `SOURCE_DATE_EPOCH` of the builds whose digests are compared.
pub(crate) const EPOCH: &str = "1700000000";

/// podman's global flags on this machine: runc, without systemd.
pub(crate) const PODMAN_FLAGS: [&str; 4] = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"];

/// `windlass-image` run in the test's `dir` (its home, config and cache
/// there); arguments and variables to add.
pub(crate) fn image(dir: &Path) -> Cli {
    Cli::new(BIN, dir)
}

/// `windlass-image build` run from `cwd`; arguments and variables to add.
pub(crate) fn image_build(dir: &Path, cwd: &Path) -> Cli {
    image(dir).current_dir(cwd).arg("build")
}

/// Runs `cli` off the async runtime (a test serving requests meanwhile).
pub(crate) async fn run_blocking(cli: Cli) -> Run {
    tokio::task::spawn_blocking(move || cli.run())
        .await
        .unwrap()
}

/// A container tool of the services (skopeo, podman) run in `dir`, with
/// the services' containers configuration; arguments to add.
pub(crate) fn container_tool(dir: &Path, program: &Path) -> Cli {
    let tools = Services::load().tools();
    Cli::new(program, dir)
        .env("CONTAINERS_CONF", &tools.containers_conf)
        .env("CONTAINERS_STORAGE_CONF", &tools.containers_storage_conf)
}

/// A project directory `dir/project` whose `windlass.toml` logs in to
/// the basic-auth registry as the services' user, with the password of the
/// variable `REG_PASSWORD` (a secret reference).
pub(crate) fn auth_registry_project(dir: &Path, registries: &Registries) -> PathBuf {
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("windlass.toml"),
        format!(
            "[image.registries.\"{}\"]\nusername = \"{}\"\npassword = \"env://REG_PASSWORD\"\n",
            registries.auth, registries.user
        ),
    )
    .unwrap();
    project
}

/// A repository name no other test run uses: `wltest/NAME-<nanos>`.
pub(crate) fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("wltest/{name}-{nanos:x}")
}

/// A JSON blob (manifest, index, config) of the layout at `layout`.
pub(crate) fn read_json(layout: &Path, digest: &str) -> Value {
    let hex = digest.strip_prefix("sha256:").unwrap();
    serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()).unwrap()
}

/// A descriptor as the JSON of a manifest or index holds it.
pub(crate) fn descriptor(media_type: &str, digest: &Digest, size: u64) -> Value {
    json!({
        "mediaType": media_type,
        "digest": digest.to_string(),
        "size": size,
    })
}

/// An image manifest written into a layout.
pub(crate) struct Written {
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    pub(crate) config: Digest,
}

/// Writes `config` and an image manifest over `layers` (descriptors) into
/// `layout`.
pub(crate) fn write_image(layout: &Layout, config: &Value, layers: &[Value]) -> Written {
    let (config_digest, config_size) = layout
        .write_blob(&serde_json::to_vec(config).unwrap())
        .unwrap();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": descriptor(CONFIG, &config_digest, config_size),
        "layers": layers,
    });
    let (digest, size) = layout
        .write_blob(&serde_json::to_vec(&manifest).unwrap())
        .unwrap();
    Written {
        digest,
        size,
        config: config_digest,
    }
}

/// Writes an image index over `manifests` (descriptors) into `layout`.
pub(crate) fn write_index(layout: &Layout, manifests: &[Value]) -> (Digest, u64) {
    let index = json!({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": manifests,
    });
    layout
        .write_blob(&serde_json::to_vec(&index).unwrap())
        .unwrap()
}

/// Points `tag` of `layout` at a manifest or index.
pub(crate) fn set_tag(layout: &Layout, media_type: &str, digest: &Digest, size: u64, tag: &str) {
    let descriptor = oci_spec::image::Descriptor::new(
        oci_spec::image::MediaType::from(media_type),
        size,
        oci_spec::image::Digest::from(digest),
    );
    layout.set_tag(descriptor, Some(tag)).unwrap();
}

/// The example project's wheel (`sentiment-lab`), built natively into
/// `out`.
pub(crate) async fn sentiment_wheel(out: &Path) -> PathBuf {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-project");
    let built = windlass_dist::build(&windlass_dist::BuildRequest {
        project_dir: project.canonicalize().unwrap(),
        out_dir: out.to_owned(),
        wheel: true,
        sdist: false,
        backend: windlass_dist::BackendChoice::Native,
        timestamp: windlass_dist::archive::Timestamp::DEFAULT,
        pep517: windlass_dist::pep517::Pep517Options::from_env(windlass_testkit::var_os),
    })
    .await
    .unwrap();
    built.artifacts[0].path.clone()
}
