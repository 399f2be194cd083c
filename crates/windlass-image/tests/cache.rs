//! `image cache prune`: two bases really pulled from the open registry
//! into a cache directory by `image build`; one is aged (its last-use
//! record set back), pruned with its blobs, and skopeo still reads the
//! other from the cache, which still builds. `image build` prunes on its
//! own once a day; a prune waits for a build holding the cache; registry
//! passwords of `windlass.toml` appear nowhere.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "tests panic on unexpected failures"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "skopeo is the independent client the cache is checked with"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use windlass_testkit::cli::{Cli, Run};
use windlass_testkit::{Services, assert_no_leak_in_dir, canary};

const BIN: &str = env!("CARGO_BIN_EXE_windlass-image");
/// A fixed last use, 2020-09-13.
const LONG_AGO: u64 = 1_600_000_000;

fn cli(dir: &Path, project: &Path, password: &str) -> Cli {
    Cli::new(BIN, dir)
        .current_dir(project)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("WINDLASS_CACHE_DIR", dir.join("cache"))
        .env("REG_PASSWORD", password)
}

fn build_on(dir: &Path, project: &Path, base: &str, out: &str) -> Run {
    cli(dir, project, "unused")
        .args(["build", "--base", base, "--copy", "hello.txt:/hello.txt"])
        .args(["-o", &format!("oci:{out}:x")])
        .run()
}

fn prune(dir: &Path, project: &Path, password: &str, args: &[&str]) -> Run {
    cli(dir, project, password)
        .args(["cache", "prune"])
        .args(args)
        .run()
}

fn bases(dir: &Path) -> PathBuf {
    dir.join("cache/image-bases")
}

fn index_digests(dir: &Path) -> Vec<String> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(bases(dir).join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect()
}

fn record(dir: &Path, digest: &str) -> PathBuf {
    dir.join("cache/image-bases-used")
        .join(format!("{}.json", digest.strip_prefix("sha256:").unwrap()))
}

/// Sets the recorded last use of `digest` back to [`LONG_AGO`].
fn age(dir: &Path, digest: &str) {
    let path = record(dir, digest);
    let mut value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    value["last_used"] = LONG_AGO.into();
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
}

fn skopeo_digest(tools: &windlass_testkit::Tools, location: &str) -> String {
    let out = Command::new(&tools.skopeo)
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(location)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn unused_bases_are_pruned_with_their_blobs() {
    let services = Services::load();
    let registries = services.registries();
    let tools = services.tools();
    let python = services.python_base();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    // A registry password in the configuration: prune never shows it.
    std::fs::write(
        project.join("windlass.toml"),
        format!(
            "[image.registries.\"{}\"]\nusername = \"{}\"\npassword = \"env://REG_PASSWORD\"\n",
            registries.auth, registries.user
        ),
    )
    .unwrap();
    std::fs::write(project.join("hello.txt"), "hello\n").unwrap();
    std::fs::write(project.join("small.txt"), "a small base\n").unwrap();

    // The second base: a small image of its own, pushed to the open registry.
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let small = format!("{}/wltest/cache-small-{nanos:x}:1", registries.open);
    let run = cli(dir, &project, "unused")
        .args([
            "build",
            "--base",
            "scratch",
            "--copy",
            "small.txt:/small.txt",
        ])
        .args(["-o", &format!("docker://{small}")])
        .run();
    assert_eq!(run.code, 0, "{run}");
    let small_digest = run.stdout.lines().next().unwrap().to_owned();

    // Both pulled into the cache by builds on them.
    let built = build_on(dir, &project, &python.registry_ref, "out-python");
    assert_eq!(built.code, 0, "{built}");
    let python_image = built.stdout.trim().to_owned();
    let run = build_on(dir, &project, &small, "out-small");
    assert_eq!(run.code, 0, "{run}");
    let python_digest = skopeo_digest(&tools, &format!("docker://{}", python.registry_ref));
    let mut cached = index_digests(dir);
    cached.sort();
    let mut want = vec![python_digest.clone(), small_digest.clone()];
    want.sort();
    assert_eq!(cached, want);
    let recorded: Value =
        serde_json::from_slice(&std::fs::read(record(dir, &small_digest)).unwrap()).unwrap();
    assert_eq!(recorded["name"], small.as_str(), "{recorded}");
    let small_manifest: Value = serde_json::from_slice(
        &std::fs::read(
            bases(dir)
                .join("blobs/sha256")
                .join(small_digest.strip_prefix("sha256:").unwrap()),
        )
        .unwrap(),
    )
    .unwrap();
    let small_layer = small_manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();

    // Nothing is old yet.
    let run = prune(dir, &project, registries.password.expose(), &["--json"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        run.json()["data"]["removed"],
        serde_json::json!([]),
        "{run}"
    );
    assert_eq!(run.json()["data"]["kept"], 2, "{run}");

    // The small base, unused since long ago, goes with its blobs.
    age(dir, &small_digest);
    let password = registries.password.expose();
    let run = prune(dir, &project, password, &["--json"]);
    assert_eq!(run.code, 0, "{run}");
    run.assert_no_leak(password);
    let report = run.json()["data"].clone();
    assert!(report["bytes_freed"].as_u64().unwrap() > 0, "{report}");
    let shown = run
        .replace(dir, "[DIR]")
        .stdout
        .replace(&small, "[SMALL]")
        .replace(&small_digest, "[SMALL_DIGEST]");
    insta::with_settings!({filters => windlass_testkit::cli::filters()}, {
        insta::assert_snapshot!("prune_json", shown);
    });
    assert_eq!(index_digests(dir), std::slice::from_ref(&python_digest));
    let blobs = bases(dir).join("blobs/sha256");
    for gone in [&small_digest, &small_layer] {
        assert!(
            !blobs.join(gone.strip_prefix("sha256:").unwrap()).exists(),
            "{gone}"
        );
    }
    assert!(!record(dir, &small_digest).exists());
    // skopeo reads the rest, every blob of it.
    let layout = format!("oci:{}", bases(dir).display());
    assert_eq!(skopeo_digest(&tools, &layout), python_digest);
    let copy = Command::new(&tools.skopeo)
        .args(["copy", "--quiet", &layout])
        .arg(format!("oci:{}:check", dir.join("check").display()))
        .output()
        .unwrap();
    assert!(copy.status.success(), "{copy:?}");
    // The other base still builds, to the same image.
    let again = build_on(dir, &project, &python.registry_ref, "out-python-2");
    assert_eq!(again.code, 0, "{again}");
    assert_eq!(again.stdout.trim(), python_image);

    // `image build` prunes on its own once a day: the stamp a day old,
    // the small base pulled again and aged, then a build on the other.
    let run = build_on(dir, &project, &small, "out-small-2");
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(index_digests(dir).len(), 2);
    age(dir, &small_digest);
    let stamp = std::fs::File::options()
        .write(true)
        .open(dir.join("cache/image-bases.pruned"))
        .unwrap();
    stamp
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 86_400))
        .unwrap();
    drop(stamp);
    let run = build_on(dir, &project, &python.registry_ref, "out-python-3");
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stderr.contains("Pruned"), "{run}");
    assert_eq!(index_digests(dir), std::slice::from_ref(&python_digest));
    // ... and not again the same day.
    let run = build_on(dir, &project, &small, "out-small-3");
    assert_eq!(run.code, 0, "{run}");
    age(dir, &small_digest);
    let run = build_on(dir, &project, &python.registry_ref, "out-python-4");
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(index_digests(dir).len(), 2, "{run}");

    // `--all` empties the cache.
    let run = prune(dir, &project, password, &["--all", "--json"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.json()["data"]["kept"], 0, "{run}");
    assert_eq!(index_digests(dir), Vec::<String>::new());
    assert_eq!(std::fs::read_dir(&blobs).unwrap().count(), 0);
    // The layout stays valid: skopeo can write into it.
    let copy = Command::new(&tools.skopeo)
        .args(["copy", "--quiet"])
        .arg(format!("oci:{}:check", dir.join("check").display()))
        .arg(format!("{layout}:again"))
        .output()
        .unwrap();
    assert!(copy.status.success(), "{copy:?}");
    assert_no_leak_in_dir(dir, password);
}

#[test]
fn a_prune_waits_for_builds_holding_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cache = dir.join("cache");
    // A build's share of the cache, taken here.
    let lock = windlass_image::cache::lock_shared(&cache).unwrap();
    let mut running = cli(dir, dir, "unused")
        .args(["cache", "prune", "--all"])
        .spawn();
    assert!(
        running.wait_for_stderr_line(
            "     Waiting for the image builds using the base cache",
            Duration::from_secs(60)
        ),
        "the prune did not wait"
    );
    assert!(
        !running.has_ended(),
        "the prune ran while a build held the cache"
    );
    drop(lock);
    let run = running.wait();
    assert_eq!(run.code, 0, "{run}");
}

#[test]
fn prune_refusals_and_canary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let password = canary("image-cache-prune");
    std::fs::write(
        dir.join("windlass.toml"),
        "[image.registries.\"registry.example:5000\"]\nusername = \"ci\"\npassword = \"env://REG_PASSWORD\"\n",
    )
    .unwrap();
    for args in [
        &["--older-than", "3x"][..],
        &["--older-than", "1d", "--all"][..],
    ] {
        let run = prune(dir, dir, &password, args);
        assert_eq!(run.code, 2, "{run}");
        run.assert_no_leak(&password);
    }
    // An empty cache: nothing to do.
    let run = prune(dir, dir, &password, &["-v"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stdout, "0 bases removed, 0 kept; 0 B freed\n", "{run}");
    run.assert_no_leak(&password);
    assert_no_leak_in_dir(dir, &password);
}
