//! `image build` end to end: a busybox base made here, images built by the
//! real binary, then read by tools Windlass did not write (umoci, skopeo,
//! podman).

#![allow(clippy::unwrap_used, reason = "tests panic on unexpected failures")]

use std::collections::BTreeMap;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use windlass_image::Layout;
use windlass_image::build::layer::{Attrs, Compression, LayerBuilder, LayerOptions};
use windlass_testkit::Services;
use windlass_testkit::cli::{Cli, Run};

mod support;
use support::{INDEX, MANIFEST, PODMAN_FLAGS, descriptor, read_json};

/// A busybox base in `dir` tagged `busybox`: `/bin/busybox`, `/bin/sh` and
/// friends as links, `PATH` set, `CMD ["sh"]`; one manifest per platform
/// (an index when several).
fn busybox_base(dir: &Path, platforms: &[(&str, &str)]) -> PathBuf {
    let busybox = Services::load().tools().busybox;
    let root = dir.join("base");
    let layout = Layout::open_or_create(&root).unwrap();
    let mut builder = LayerBuilder::new(LayerOptions {
        mtime: 0,
        compression: Compression::Gzip,
    });
    builder
        .add_file("/bin/busybox", &busybox, Attrs::default())
        .unwrap();
    for applet in ["sh", "cat", "ls", "echo", "id", "stat", "env"] {
        builder
            .add_symlink(&format!("/bin/{applet}"), "busybox", Attrs::default())
            .unwrap();
    }
    builder.add_dir("/tmp", Attrs::default()).unwrap();
    let layer = builder.write(&layout).unwrap();
    let layers = [descriptor(layer.media_type, &layer.digest, layer.size)];
    let mut images = Vec::new();
    let mut manifests = Vec::new();
    for (os, arch) in platforms {
        let config = json!({
            "architecture": arch,
            "os": os,
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Labels": {"base": "busybox"}},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.to_string()]},
            "history": [{"created_by": "busybox"}],
        });
        let image = support::write_image(&layout, &config, &layers);
        let mut entry = descriptor(MANIFEST, &image.digest, image.size);
        entry["platform"] = json!({"os": os, "architecture": arch});
        manifests.push(entry);
        images.push(image);
    }
    if let [image] = &images[..] {
        support::set_tag(&layout, MANIFEST, &image.digest, image.size, "busybox");
    } else {
        let (digest, size) = support::write_index(&layout, &manifests);
        support::set_tag(&layout, INDEX, &digest, size, "busybox");
    }
    root
}

/// A project directory with an app to copy in.
fn project(dir: &Path) -> PathBuf {
    let project = dir.join("project");
    std::fs::create_dir_all(project.join("app/data")).unwrap();
    std::fs::write(
        project.join("app/run.sh"),
        "#!/bin/sh\necho \"hello from $GREETING in $(pwd) as $(id -u)\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        project.join("app/run.sh"),
        std::fs::Permissions::from_mode(0o775),
    )
    .unwrap();
    std::fs::write(project.join("app/data/input.csv"), "a,b\n1,2\n").unwrap();
    std::fs::set_permissions(
        project.join("app/data/input.csv"),
        std::fs::Permissions::from_mode(0o664),
    )
    .unwrap();
    std::fs::write(project.join("app/notes.pyc"), "ignored").unwrap();
    // Larger than one gzip member.
    let big: Vec<u8> = (0..6_000_000u32)
        .map(|i| u8::try_from((i * 31 + i / 4099) % 253).unwrap())
        .collect();
    std::fs::write(project.join("app/data/big.bin"), big).unwrap();
    // Longer than a tar header holds: a long-name extension.
    let long = project.join("app/data").join("n".repeat(150));
    std::fs::create_dir_all(&long).unwrap();
    std::fs::write(long.join("deep.txt"), "deep").unwrap();
    std::fs::write(project.join(".containerignore"), "**/*.pyc\n").unwrap();
    project
}

fn image_build(dir: &Path, cwd: &Path, args: &[&str]) -> Run {
    support::image_build(dir, cwd)
        .env("SOURCE_DATE_EPOCH", support::EPOCH)
        .args(args)
        .run()
}

fn tool(dir: &Path, program: &Path, args: &[&str]) -> Run {
    support::container_tool(dir, program).args(args).run()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
#[allow(clippy::too_many_lines, reason = "one scenario, told in order")]
fn builds_from_flags_and_others_read_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = busybox_base(dir, &[("linux", "amd64")]);
    let project = project(dir);
    let out = dir.join("out");
    let base_arg = format!("oci:{}:busybox", base.display());
    let out_arg = format!("oci:{}:app", out.display());
    let args = [
        "--base",
        &base_arg,
        "--copy",
        "app:/srv/app/",
        "--env",
        "GREETING=windlass",
        "--workdir",
        "/srv/app",
        "--user",
        "1000",
        "--entrypoint",
        r#"["/srv/app/run.sh"]"#,
        "--expose",
        "8080",
        "--label",
        "team=ml",
        "--output",
        &out_arg,
    ];
    let run = image_build(dir, &project, &args);
    assert_eq!(run.code, 0, "{run}");
    let digest = run.stdout.trim().to_owned();
    assert!(digest.starts_with("sha256:"), "{run}");

    // The same inputs give the same digest; another time does not.
    let again = image_build(dir, &project, &args);
    assert_eq!(again.stdout.trim(), digest, "{again}");
    let later = support::image_build(dir, &project)
        .env("SOURCE_DATE_EPOCH", "1700000001")
        .args(args)
        .run();
    assert_eq!(later.code, 0, "{later}");
    assert_ne!(later.stdout.trim(), digest);
    // Back to the first: the tag points at the first digest again.
    assert_eq!(image_build(dir, &project, &args).stdout.trim(), digest);

    // Config and manifest.
    let manifest = read_json(&out, &digest);
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 2);
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );
    assert!(
        manifest["annotations"]["org.opencontainers.image.base.digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let config = read_json(&out, manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(
        config["config"],
        json!({
            "Env": ["PATH=/bin", "GREETING=windlass"],
            "Entrypoint": ["/srv/app/run.sh"],
            "WorkingDir": "/srv/app",
            "User": "1000",
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": {"base": "busybox", "team": "ml"},
        }),
        "the entrypoint clears the base's CMD"
    );
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(config["history"].as_array().unwrap().len(), 2);
    assert_eq!(config["history"][1]["created_by"], "COPY app /srv/app/");

    // skopeo reads it.
    let tools = Services::load().tools();
    let inspect = tool(dir, &tools.skopeo, &["inspect", &out_arg]);
    assert_eq!(inspect.code, 0, "{inspect}");
    let inspected: Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(inspected["Digest"], digest.as_str());
    assert_eq!(inspected["Architecture"], "amd64");

    // umoci unpacks it: files, modes, the ignored file missing.
    let bundle = dir.join("bundle");
    let unpack = tool(
        dir,
        &tools.umoci,
        &[
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:app", out.display()),
            bundle.to_str().unwrap(),
        ],
    );
    assert_eq!(unpack.code, 0, "{unpack}");
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        std::fs::read_to_string(rootfs.join("srv/app/data/input.csv")).unwrap(),
        "a,b\n1,2\n"
    );
    assert_eq!(mode(&rootfs.join("srv/app/run.sh")), 0o755);
    assert_eq!(mode(&rootfs.join("srv/app/data/input.csv")), 0o644);
    assert_eq!(mode(&rootfs.join("srv/app/data")), 0o755);
    assert!(!rootfs.join("srv/app/notes.pyc").exists());
    assert_eq!(
        std::fs::read(rootfs.join("srv/app/data/big.bin")).unwrap(),
        std::fs::read(project.join("app/data/big.bin")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(
            rootfs
                .join("srv/app/data")
                .join("n".repeat(150))
                .join("deep.txt")
        )
        .unwrap(),
        "deep"
    );
    assert!(rootfs.join("bin/busybox").is_file());
    assert_eq!(
        std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
}

#[test]
fn podman_runs_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = busybox_base(dir, &[("linux", "amd64")]);
    let project = project(dir);
    std::fs::write(
        project.join("Containerfile"),
        "\
ARG GREETING=nobody
FROM busybox
ARG GREETING
ENV GREETING=${GREETING}
RUN mkdir -p /job/out && ln -s /job/run.sh /bin/job
COPY --chmod=0755 app/run.sh /job/
WORKDIR /job
ENTRYPOINT [\"job\"]
",
    )
    .unwrap();
    let out = dir.join("out");
    let out_arg = format!("oci:{}:job", out.display());
    let run = image_build(
        dir,
        &project,
        &[
            "-f",
            "Containerfile",
            "--base",
            &format!("oci:{}:busybox", base.display()),
            "--build-arg",
            "GREETING=podman",
            "--compression",
            "zstd",
            "-o",
            &out_arg,
        ],
    );
    assert_eq!(run.code, 0, "{run}");
    // Config-only instructions are history entries without a layer.
    let manifest = read_json(&out, run.stdout.trim());
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 3);
    let config = read_json(&out, manifest["config"]["digest"].as_str().unwrap());
    let history: Vec<String> = config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| format!("{} {}", h["created_by"].as_str().unwrap(), h["empty_layer"]))
        .collect();
    assert_eq!(
        history,
        [
            "busybox null",
            "ENV GREETING=${GREETING} true",
            "RUN mkdir -p /job/out && ln -s /job/run.sh /bin/job null",
            "COPY --chmod=0755 app/run.sh /job/ null",
            "WORKDIR /job true",
            "ENTRYPOINT [\"job\"] true",
        ]
    );
    let tools = Services::load().tools();
    // Into podman's storage under a name (a layout path may not be one).
    let name = format!("localhost/windlass-build-test:{}", std::process::id());
    let copy = tool(
        dir,
        &tools.skopeo,
        &["copy", &out_arg, &format!("containers-storage:{name}")],
    );
    assert_eq!(copy.code, 0, "{copy}");
    let podman = tool(
        dir,
        &tools.podman,
        &[
            &PODMAN_FLAGS[..],
            &["run", "--rm", "--network", "none", &name],
        ]
        .concat(),
    );
    let _ = tool(dir, &tools.podman, &["rmi", "-f", &name]);
    assert_eq!(podman.code, 0, "{podman}");
    assert_eq!(
        podman.stdout, "hello from podman in /job as 0\n",
        "{podman}"
    );
}

#[test]
fn multi_platform_builds_an_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = busybox_base(dir, &[("linux", "amd64"), ("linux", "arm64")]);
    let project = project(dir);
    let out = dir.join("out");
    let out_arg = format!("oci:{}:multi", out.display());
    let base_arg = format!("oci:{}:busybox", base.display());
    let run = image_build(
        dir,
        &project,
        &[
            "--base",
            &base_arg,
            "--copy",
            "app/run.sh:/run.sh",
            "--platform",
            "linux/amd64,linux/arm64",
            "-o",
            &out_arg,
            "--json",
        ],
    );
    assert_eq!(run.code, 0, "{run}");
    let report = run.json();
    let digest = report["data"]["digest"].as_str().unwrap().to_owned();
    let index = read_json(&out, &digest);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!("{}/{}", m["platform"]["os"], m["platform"]["architecture"]).replace('"', "")
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    // Each manifest builds on its own platform's base manifest; the new
    // layer is shared.
    let bases: Vec<Value> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| read_json(&out, m["digest"].as_str().unwrap()))
        .collect();
    assert_ne!(
        bases[0]["annotations"]["org.opencontainers.image.base.digest"],
        bases[1]["annotations"]["org.opencontainers.image.base.digest"]
    );
    assert_eq!(bases[0]["layers"][1], bases[1]["layers"][1]);
    let tools = Services::load().tools();
    let raw = tool(dir, &tools.skopeo, &["inspect", "--raw", &out_arg]);
    assert_eq!(raw.code, 0, "{raw}");
    for arch in ["amd64", "arm64"] {
        let inspect = tool(
            dir,
            &tools.skopeo,
            &["--override-arch", arch, "inspect", &out_arg],
        );
        assert_eq!(inspect.code, 0, "{inspect}");
        assert!(
            inspect
                .stdout
                .contains(&format!("\"Architecture\": \"{arch}\"")),
            "{inspect}"
        );
    }

    // A platform the base does not offer.
    let missing = image_build(
        dir,
        &project,
        &[
            "--base",
            &base_arg,
            "--platform",
            "linux/s390x",
            "-o",
            &out_arg,
        ],
    );
    assert_eq!(missing.code, 2, "{missing}");
    assert!(
        missing
            .stderr
            .contains("has no image for linux/s390x (it has linux/amd64, linux/arm64)"),
        "{missing}"
    );
}

#[test]
fn refusals_name_the_line_or_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = busybox_base(dir, &[("linux", "amd64")]);
    let project = project(dir);
    let base_arg = format!("oci:{}:busybox", base.display());
    let out_arg = format!("oci:{}:x", dir.join("out").display());
    let cases: &[(&str, &str, &str)] = &[
        (
            "FROM busybox\nCOPY app /app\n\nRUN apt-get install -y curl\n",
            "Containerfile:4: `RUN apt-get` needs a container runtime",
            "hint: `windlass image build` runs no container",
        ),
        (
            "FROM busybox\nCOPY leak /leak\n",
            "Containerfile:2: `COPY leak /leak` failed",
            "is a symlink to",
        ),
        (
            "FROM busybox\nCOPY fifo /fifo\n",
            "Containerfile:2: `COPY fifo /fifo` failed",
            "is a fifo, not a regular file",
        ),
        (
            "FROM busybox\nCOPY . /ctx\n",
            "Containerfile:2: `COPY . /ctx` failed",
            "is a fifo, not a regular file",
        ),
        (
            "FROM busybox\nCOPY ../outside.txt /x\n",
            "Containerfile:2: `COPY ../outside.txt /x` failed",
            "is outside the build context",
        ),
        (
            "FROM busybox\nCOPY app/notes.pyc /x\n",
            "Containerfile:2: `COPY app/notes.pyc /x` failed",
            "is excluded by `.containerignore`",
        ),
        (
            "FROM busybox\nCOPY requirements.txt /job/\nRUN pip install -r /job/requirements.txt\n",
            "the base image has no Python interpreter",
            "hint: use a base image with CPython",
        ),
        (
            "FROM busybox\nRUN pip install -r /nowhere.txt\n",
            "Containerfile:2: `RUN pip install -r /nowhere.txt` failed",
            "`/nowhere.txt` is not a file this build copied into the image",
        ),
    ];
    std::fs::write(dir.join("outside.txt"), "secret").unwrap();
    symlink(dir.join("outside.txt"), project.join("leak")).unwrap();
    windlass_testkit::mkfifo(&project.join("fifo"));
    std::fs::write(project.join("requirements.txt"), "numpy==2.1.0\n").unwrap();
    for (text, first, second) in cases {
        std::fs::write(project.join("Containerfile"), text).unwrap();
        let run = image_build(
            dir,
            &project,
            &["-f", "Containerfile", "--base", &base_arg, "-o", &out_arg],
        );
        assert_eq!(run.code, 2, "{text}\n{run}");
        assert!(run.stderr.contains(first), "{text}\n{run}");
        assert!(run.stderr.contains(second), "{text}\n{run}");
        assert!(run.stdout.is_empty(), "{run}");
    }
    // The JSON error carries the line.
    std::fs::write(project.join("Containerfile"), "FROM busybox\nRUN make\n").unwrap();
    let run = image_build(
        dir,
        &project,
        &[
            "-f",
            "Containerfile",
            "--base",
            &base_arg,
            "-o",
            &out_arg,
            "--json",
        ],
    );
    assert_eq!(run.code, 2, "{run}");
    assert_eq!(run.json()["error"]["line"], 2, "{run}");
    // A registry base that is not there: pulled, not found, exit 2.
    let run = image_build(
        dir,
        &project,
        &["--base", "127.0.0.1:5000/busybox:1", "-o", &out_arg],
    );
    assert_eq!(run.code, 2, "{run}");
    assert!(
        run.stderr
            .contains("manifest 127.0.0.1:5000/busybox:1 not found"),
        "{run}"
    );
}

#[test]
fn config_file_drives_the_build() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = busybox_base(dir, &[("linux", "amd64")]);
    let project = project(dir);
    std::fs::write(
        project.join("windlass.toml"),
        format!(
            "[image]\nbase = \"oci:{}:busybox\"\nfiles = [{{ src = \"app\", dest = \"/app/\" }}]\n\
             entrypoint = [\"/app/run.sh\"]\nenv = {{ GREETING = \"config\" }}\n\
             owner = \"1000:1000\"\noutput = \"oci:image:cfg\"\n",
            base.display()
        ),
    )
    .unwrap();
    let run = image_build(dir, &project, &["--json"]);
    assert_eq!(run.code, 0, "{run}");
    let data = &run.json()["data"];
    assert!(
        data["output"]
            .as_str()
            .unwrap()
            .ends_with("project/image:cfg"),
        "{run}"
    );
    let layout = project.join("image");
    let manifest = read_json(&layout, data["digest"].as_str().unwrap());
    let config = read_json(&layout, manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(
        config["config"]["Env"],
        json!(["PATH=/bin", "GREETING=config"])
    );
    // An unknown key is an error with the file and line.
    std::fs::write(project.join("windlass.toml"), "[image]\nbsae = \"x\"\n").unwrap();
    let run = image_build(dir, &project, &[]);
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains("windlass.toml:2"), "{run}");
    assert!(run.stderr.contains("base"), "{run}");
}

#[test]
fn a_canary_in_the_environment_never_reaches_the_image() {
    let canary = windlass_testkit::canary("image-build");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = busybox_base(dir, &[("linux", "amd64")]);
    let project = project(dir);
    std::fs::write(
        project.join("Containerfile"),
        "FROM busybox\nARG TOKEN\nCOPY app /app\nENTRYPOINT [\"/app/run.sh\"]\n",
    )
    .unwrap();
    let out = dir.join("out");
    let mut vars = BTreeMap::new();
    vars.insert("TOKEN", canary.as_str());
    vars.insert("PYPI_TOKEN", canary.as_str());
    vars.insert("GITHUB_TOKEN", canary.as_str());
    let run = support::image(dir)
        .current_dir(&project)
        .envs(vars)
        .args([
            "build",
            "-f",
            "Containerfile",
            "--base",
            &format!("oci:{}:busybox", base.display()),
            "-o",
            &format!("oci:{}:canary", out.display()),
            "-v",
        ])
        .run();
    assert_eq!(run.code, 0, "{run}");
    run.assert_no_leak(&canary);
    windlass_testkit::assert_no_leak_in_dir(&out, &canary);
    // Nor does any path of this machine: history names context paths only.
    let layout = std::fs::read_dir(out.join("blobs/sha256")).unwrap();
    for blob in layout {
        let bytes = std::fs::read(blob.unwrap().path()).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            assert!(!text.contains(dir.to_str().unwrap()), "{text}");
        }
    }
}

#[test]
fn git_gives_source_revision_and_version_without_credentials() {
    let canary = windlass_testkit::canary("git-remote");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = busybox_base(dir, &[("linux", "amd64")]);
    let project = project(dir);
    let git = |args: &[&str]| {
        let run = Cli::new("git", dir)
            .current_dir(&project)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org")
            .args(args)
            .run();
        assert_eq!(run.code, 0, "{run}");
        run.stdout.trim().to_owned()
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "job"]);
    git(&["tag", "v1.2.3"]);
    git(&[
        "remote",
        "add",
        "origin",
        &format!("https://x-access-token:{canary}@git.example.org/acme/job.git"),
    ]);
    let head = git(&["rev-parse", "HEAD"]);
    let out = dir.join("out");
    let run = image_build(
        dir,
        &project,
        &[
            "--base",
            &format!("oci:{}:busybox", base.display()),
            "--copy",
            "app/run.sh:/run.sh",
            "-o",
            &format!("oci:{}:git", out.display()),
            "--json",
        ],
    );
    assert_eq!(run.code, 0, "{run}");
    run.assert_no_leak(&canary);
    windlass_testkit::assert_no_leak_in_dir(&out, &canary);
    let manifest = read_json(&out, run.json()["data"]["digest"].as_str().unwrap());
    let annotations = &manifest["annotations"];
    assert_eq!(
        annotations["org.opencontainers.image.source"],
        "https://git.example.org/acme/job.git"
    );
    assert_eq!(
        annotations["org.opencontainers.image.revision"],
        head.as_str()
    );
    assert_eq!(annotations["org.opencontainers.image.version"], "1.2.3");
}

/// The lecture's Containerfile, unchanged: every step maps to a native one
/// (the `pip install` to the Python installer, with the file it copied).
#[test]
fn the_lecture_containerfile_plans_natively() {
    use windlass_image::build::BuildArgs;
    use windlass_image::build::image::StepKind;
    use windlass_image::build::plan;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = busybox_base(dir, &[("linux", "amd64")]);
    let project = dir.join("lecture");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("requirements.txt"), "numpy==2.1.0\n").unwrap();
    std::fs::write(project.join("train.py"), "print('training')\n").unwrap();
    std::fs::write(
        project.join("Containerfile"),
        "\
FROM python:3.11-slim
RUN mkdir /job/
COPY requirements.txt /job/requirements.txt
RUN pip install --no-cache-dir -r /job/requirements.txt
COPY train.py /job/train.py
WORKDIR /job
ENTRYPOINT [\"python\", \"train.py\"]
",
    )
    .unwrap();
    let args = BuildArgs {
        containerfile: Some("Containerfile".into()),
        base: Some(format!("oci:{}:busybox", base.display())),
        ..BuildArgs::default()
    };
    let request = plan::Request::from_args(
        &args,
        &windlass_image::config::ImageSection::default(),
        &project,
        &project,
    )
    .unwrap();
    let prepared = plan::prepare(&request, 0).unwrap();
    let steps: Vec<String> = prepared
        .steps
        .iter()
        .map(|s| match &s.kind {
            StepKind::Files(_) => format!("files: {}", s.created_by),
            StepKind::Config => format!("config: {}", s.created_by),
            StepKind::Python(r) => format!(
                "python: {} <- {:?}",
                s.created_by,
                r.requirements
                    .iter()
                    .map(|p| p.strip_prefix(&project).unwrap().display().to_string())
                    .collect::<Vec<_>>()
            ),
        })
        .collect();
    assert_eq!(
        steps,
        [
            "files: RUN mkdir /job/",
            "files: COPY requirements.txt /job/requirements.txt",
            "python: RUN pip install --no-cache-dir -r /job/requirements.txt <- [\"requirements.txt\"]",
            "files: COPY train.py /job/train.py",
            "config: WORKDIR /job",
            "config: ENTRYPOINT [\"python\", \"train.py\"]",
        ]
    );
    assert_eq!(prepared.edits.workdir.as_deref(), Some("/job"));
    assert_eq!(
        prepared.edits.entrypoint,
        Some(vec!["python".to_owned(), "train.py".to_owned()])
    );
    // busybox has no Python to install for: the build stops there, exit 2,
    // before writing anything.
    let run = image_build(
        dir,
        &project,
        &[
            "-f",
            "Containerfile",
            "--base",
            &format!("oci:{}:busybox", base.display()),
        ],
    );
    assert_eq!(run.code, 2, "{run}");
    assert!(
        run.stderr
            .contains("the base image has no Python interpreter"),
        "{run}"
    );
    assert!(run.stdout.is_empty(), "{run}");
}

/// The paths of the tar entries of the last `count` layers of `digest`.
fn new_entries(layout: &Path, digest: &str, count: usize) -> Vec<Vec<String>> {
    use std::io::Read as _;
    let manifest = read_json(layout, digest);
    let layers = manifest["layers"].as_array().unwrap();
    layers[layers.len() - count..]
        .iter()
        .map(|layer| {
            let hex = layer["digest"]
                .as_str()
                .unwrap()
                .strip_prefix("sha256:")
                .unwrap();
            let file = std::fs::File::open(layout.join("blobs/sha256").join(hex)).unwrap();
            let mut tar = Vec::new();
            flate2::read::MultiGzDecoder::new(file)
                .read_to_end(&mut tar)
                .unwrap();
            tar::Archive::new(&tar[..])
                .entries()
                .unwrap()
                .map(|e| e.unwrap().path().unwrap().display().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn copy_follows_dockers_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = busybox_base(dir, &[("linux", "amd64")]);
    let project = dir.join("ctx");
    std::fs::create_dir_all(project.join("src/pkg/__pycache__")).unwrap();
    for file in [
        "a.py",
        "b.py",
        "c.txt",
        "src/pkg/m.py",
        "src/pkg/__pycache__/m.pyc",
        "src/keep.log",
        "src/drop.log",
    ] {
        std::fs::write(project.join(file), file).unwrap();
    }
    // `.dockerignore` when there is no `.containerignore`; `!` re-includes.
    std::fs::write(
        project.join(".dockerignore"),
        "# caches\n**/__pycache__\n*.log\n!src/keep.log\nsrc/*.log\n!src/keep.log\n",
    )
    .unwrap();
    std::fs::write(
        project.join("Containerfile"),
        "\
FROM busybox
RUN mkdir /job
COPY *.py /job
COPY c.txt /job/renamed.txt
COPY src /job/src
COPY [\"c.txt\", \"/opt/\"]
",
    )
    .unwrap();
    let out = dir.join("out");
    let run = image_build(
        dir,
        &project,
        &[
            "-f",
            "Containerfile",
            "--base",
            &format!("oci:{}:busybox", base.display()),
            "-o",
            &format!("oci:{}:rules", out.display()),
        ],
    );
    assert_eq!(run.code, 0, "{run}");
    let layers = new_entries(&out, run.stdout.trim(), 5);
    assert_eq!(
        layers,
        [
            vec!["job/"],
            vec!["job/", "job/a.py", "job/b.py"],
            vec!["job/", "job/renamed.txt"],
            vec![
                "job/",
                "job/src/",
                "job/src/keep.log",
                "job/src/pkg/",
                "job/src/pkg/m.py"
            ],
            vec!["opt/", "opt/c.txt"],
        ]
    );
}

#[test]
fn an_unsupported_run_reads_like_this() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let project = dir.join("ctx");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("Containerfile"),
        "FROM scratch\n# set up\nRUN mkdir -p /job && \\\n    apt-get install -y curl\n",
    )
    .unwrap();
    let run = image_build(dir, &project, &["-f", "Containerfile"]).replace(dir, "[DIR]");
    insta::with_settings!({filters => windlass_testkit::cli::filters()}, {
        insta::assert_snapshot!(run);
    });
}
